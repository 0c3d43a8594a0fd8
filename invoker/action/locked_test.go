package action

import (
	"encoding/json"
	"strings"
	"testing"
)

// jceVectors are ciphertexts made by the JDK's AES/GCM (testdata/gen/Enc.java,
// written after OpenWhisk's format), so Unlock is checked against an
// independent implementation, including the 128-byte IV of aes-256.
type jceVectors struct {
	AES128Key string `json:"aes128Key"`
	AES256Key string `json:"aes256Key"`
	Vectors   []struct {
		Scheme string          `json:"scheme"`
		Plain  json.RawMessage `json:"plain"`
		Cipher string          `json:"cipher"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) (jceVectors, Keys) {
	t.Helper()
	var v jceVectors
	if err := json.Unmarshal(readTestdata(t, "locked_args_jce.json"), &v); err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeys(v.AES128Key, v.AES256Key)
	if err != nil {
		t.Fatal(err)
	}
	return v, keys
}

func TestUnlockJCEVectors(t *testing.T) {
	v, keys := loadVectors(t)
	if len(v.Vectors) != 6 {
		t.Fatalf("%d vectors", len(v.Vectors))
	}
	for i, vec := range v.Vectors {
		content, _ := json.Marshal(map[string]any{"secret": vec.Cipher, "plain": "keep"})
		out, err := Unlock(content, map[string]string{"secret": vec.Scheme}, keys)
		if err != nil {
			t.Errorf("vector %d (%s): %v", i, vec.Scheme, err)
			continue
		}
		want, _ := json.Marshal(map[string]json.RawMessage{"secret": compactRaw(vec.Plain), "plain": json.RawMessage(`"keep"`)})
		if !sameJSON(t, out, want) {
			t.Errorf("vector %d (%s): got %s, want %s", i, vec.Scheme, out, want)
		}
	}
}

func TestUnlockLeavesAlone(t *testing.T) {
	v, keys := loadVectors(t)
	c128 := v.Vectors[0].Cipher
	content, _ := json.Marshal(map[string]any{"s": c128, "n": 5})
	tests := []struct {
		name    string
		content json.RawMessage
		locked  map[string]string
		keys    Keys
	}{
		{"no locked args", content, nil, keys},
		{"noop scheme", content, map[string]string{"s": SchemeNoop}, keys},
		{"unknown scheme", content, map[string]string{"s": "rot13"}, keys},
		{"scheme not configured", content, map[string]string{"s": SchemeAES128}, Keys{AES256: keys.AES256}},
		{"not a string", content, map[string]string{"n": SchemeAES128}, keys},
		{"absent member", content, map[string]string{"x": SchemeAES128}, keys},
		{"array content", json.RawMessage(`["a"]`), map[string]string{"s": SchemeAES128}, keys},
		{"no content", nil, map[string]string{"s": SchemeAES128}, keys},
	}
	for _, tt := range tests {
		out, err := Unlock(tt.content, tt.locked, tt.keys)
		if err != nil || string(out) != string(tt.content) {
			t.Errorf("%s: got %s, %v; want the content unchanged", tt.name, out, err)
		}
	}
}

func TestUnlockErrors(t *testing.T) {
	v, keys := loadVectors(t)
	c128, c256 := v.Vectors[0].Cipher, v.Vectors[1].Cipher
	other, err := ParseKeys("AAAAAAAAAAAAAAAAAAAAAA==", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cipher string
		scheme string
		keys   Keys
		want   string
	}{
		{"wrong key", c128, SchemeAES128, other, "message authentication failed"},
		{"iv length of the other scheme", c256, SchemeAES128, Keys{AES128: keys.AES256}, "iv length 128, want 12"},
		{"not base64", "%%%", SchemeAES128, keys, "illegal base64"},
		{"too short", "AAAA", SchemeAES128, keys, "ciphertext too short"},
		{"truncated", c128[:24], SchemeAES128, keys, "ciphertext too short"},
	}
	for _, tt := range tests {
		content, _ := json.Marshal(map[string]string{"k": tt.cipher})
		_, err := Unlock(content, map[string]string{"k": tt.scheme}, tt.keys)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `locked argument "k"`) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := ParseKeys("not base64!", ""); err == nil {
		t.Error("bad base64 key accepted")
	}
	if _, err := ParseKeys("", "AAAA"); err == nil {
		t.Error("3-byte key accepted")
	}
}
