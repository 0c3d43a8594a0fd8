package reliability

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// UniqueMarker returns a random marker ("zq" and 16 hex digits) to plant in secrets and
// search for in logs.
func UniqueMarker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "zq" + hex.EncodeToString(b)
}

// SecretForms lists the strings no log line may contain: the marker itself, and the auth key
// "uuid:key" as such, its key part and its HTTP Basic encoding.
func SecretForms(marker, authKey string) []string {
	_, key, _ := strings.Cut(authKey, ":")
	return []string{marker, authKey, key, base64.StdEncoding.EncodeToString([]byte(authKey))}
}
