package action

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Encryption schemes of lockedArgs (§7.6).
const (
	SchemeAES128 = "aes-128"
	SchemeAES256 = "aes-256"
	SchemeNoop   = "noop"
)

// Keys are the parameter encryption keys (whisk.parameter-storage.aes-128
// and .aes-256). A nil key means the scheme is not configured, and values
// locked with it are passed on unchanged, as OpenWhisk does.
type Keys struct {
	AES128 []byte
	AES256 []byte
}

// ParseKeys decodes the base64 key strings of the configuration; empty
// strings leave a scheme unconfigured.
func ParseKeys(aes128, aes256 string) (Keys, error) {
	var k Keys
	for _, f := range []struct {
		name string
		in   string
		dst  *[]byte
	}{{SchemeAES128, aes128, &k.AES128}, {SchemeAES256, aes256, &k.AES256}} {
		if f.in == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(f.in)
		if err != nil {
			return Keys{}, fmt.Errorf("%s key: %w", f.name, err)
		}
		if _, err := aes.NewCipher(b); err != nil {
			return Keys{}, fmt.Errorf("%s key: %w", f.name, err)
		}
		*f.dst = b
	}
	return k, nil
}

// Unlock decrypts the members of content listed in locked (name →
// scheme) whose values are JSON strings, and returns the content with the
// decrypted values. Content that is not an object, members that are not
// strings, and schemes that are "noop", unknown or not configured are left
// as they are. A value that fails to decrypt is an error.
//
// The format is OpenWhisk's: base64 of a 4-byte big-endian IV length (12
// for aes-128, 128 for aes-256), the IV, and the AES-GCM ciphertext with its
// 128-bit tag; the plaintext is the JSON text of the original value.
func Unlock(content json.RawMessage, locked map[string]string, keys Keys) (json.RawMessage, error) {
	if len(locked) == 0 || jsonKind(content) != "object" {
		return content, nil
	}
	o, err := parseObject(content)
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	changed := false
	for name, scheme := range locked {
		raw, ok := o[name]
		if !ok || jsonKind(raw) != "string" {
			continue
		}
		var key []byte
		var ivLen int
		switch scheme {
		case SchemeAES128:
			key, ivLen = keys.AES128, 12
		case SchemeAES256:
			key, ivLen = keys.AES256, 128
		}
		if key == nil {
			continue
		}
		var s string
		if err := parseString(raw, &s); err != nil {
			return nil, fmt.Errorf("locked argument %q: %w", name, err)
		}
		plain, err := decrypt(s, key, ivLen)
		if err != nil {
			return nil, fmt.Errorf("locked argument %q: %w", name, err)
		}
		o[name] = plain
		changed = true
	}
	if !changed {
		return content, nil
	}
	return marshal(o)
}

func decrypt(s string, key []byte, ivLen int) (json.RawMessage, error) {
	msg, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(msg) < 4 {
		return nil, errors.New("ciphertext too short")
	}
	if n := binary.BigEndian.Uint32(msg); n != uint32(ivLen) {
		return nil, fmt.Errorf("iv length %d, want %d", n, ivLen)
	}
	msg = msg[4:]
	if len(msg) < ivLen+16 {
		return nil, errors.New("ciphertext too short")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, ivLen)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, msg[:ivLen], msg[ivLen:], nil)
	if err != nil {
		return nil, err
	}
	if !json.Valid(plain) {
		return nil, errors.New("decrypted value is not JSON")
	}
	return compactRaw(plain), nil
}
