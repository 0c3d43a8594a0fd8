package message

import (
	"bytes"
	"path/filepath"
	"testing"
)

// seed adds every testdata example to the corpus.
func seed(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(readTestdata(f, filepath.Base(file)))
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"transid":[]}`, `{"response":"x"}`} {
		f.Add([]byte(s))
	}
}

// roundTrip checks the fuzz invariant shared by all decoders: whatever
// decodes also encodes, the encoding decodes again, and re-encoding it
// gives the same bytes.
func roundTrip(t *testing.T, v any, decode func([]byte) (any, error)) {
	t.Helper()
	out, err := Marshal(v)
	if err != nil {
		t.Fatalf("decoded value does not encode: %v", err)
	}
	v2, err := decode(out)
	if err != nil {
		t.Fatalf("own encoding %s does not decode: %v", out, err)
	}
	out2, err := Marshal(v2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("encoding not stable:\n%s\n%s", out, out2)
	}
}

func FuzzDecodeActivationMessage(f *testing.F) {
	seed(f)
	decode := func(b []byte) (any, error) { return DecodeActivationMessage(b) }
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeActivationMessage(data)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil message with an error")
			}
			return
		}
		roundTrip(t, m, decode)
	})
}

func FuzzDecodeAck(f *testing.F) {
	seed(f)
	decode := func(b []byte) (any, error) { return DecodeAck(b) }
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAck(data)
		if err != nil {
			return
		}
		roundTrip(t, a, decode)
		s := a.Shrink()
		if s.ID() != a.ID() || s.Kind() != a.Kind() {
			t.Fatalf("shrink changed the ack: %v -> %v", a, s)
		}
		if r, ok := s.Result(); ok && !r.Shrunk() {
			t.Fatal("shrunk ack still carries an activation")
		}
	})
}

func FuzzDecodePing(f *testing.F) {
	seed(f)
	decode := func(b []byte) (any, error) { return DecodePing(b) }
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePing(data)
		if err != nil {
			return
		}
		roundTrip(t, p, decode)
	})
}

func FuzzDecodeEvent(f *testing.F) {
	seed(f)
	decode := func(b []byte) (any, error) { return DecodeEvent(b) }
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvent(data)
		if err != nil {
			return
		}
		roundTrip(t, e, decode)
	})
}
