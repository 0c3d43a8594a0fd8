package message

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestDecodeActivationMessageInvalidUTF8 checks that malformed UTF-8 in a message becomes
// U+FFFD, as the Scala invoker's reading of records as UTF-8 text makes it, in the content
// handed to the action as well as in the names.
func TestDecodeActivationMessageInvalidUTF8(t *testing.T) {
	good := readTestdata(t, "activation_message.json")
	bad := edit(t, good, func(m map[string]any) { m["content"] = map[string]any{"name": "PLACEHOLDER"} })
	bad = bytes.Replace(bad, []byte("PLACEHOLDER"), []byte("a\xffb\xc3(c\xed\xa0\x80d"), 1)
	m, err := DecodeActivationMessage(bad)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var content struct{ Name string }
	if err := json.Unmarshal(m.Content, &content); err != nil {
		t.Fatalf("content %q: %v", m.Content, err)
	}
	if want := "a\uFFFDb\uFFFD(c\uFFFDd"; content.Name != want {
		t.Errorf("content name %q, want %q", content.Name, want)
	}
	if !json.Valid(m.Content) || !bytes.Equal(m.Content, bytes.ToValidUTF8(m.Content, nil)) {
		t.Errorf("content %q is not valid UTF-8 JSON", m.Content)
	}
}
