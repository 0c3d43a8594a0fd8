package action

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
)

func FuzzDecodeAction(f *testing.F) {
	files, _ := filepath.Glob("testdata/*action*.json")
	for _, file := range files {
		f.Add(readTestdata(f, filepath.Base(file)))
	}
	for _, s := range []string{``, `{}`, `null`, `{"exec":{"kind":"blackbox"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			if a != nil {
				t.Fatal("non-nil action with an error")
			}
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("decoded action does not encode: %v", err)
		}
		a2, err := Decode(out)
		if err != nil {
			t.Fatalf("own encoding %s does not decode: %v", out, err)
		}
		out2, _ := json.Marshal(a2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable:\n%s\n%s", out, out2)
		}
		// The /init value can be built for every decoded action.
		var code []byte
		if a.Exec.Code.IsAttachment() {
			code = []byte("resolved")
		}
		if a.Exec.Kind != KindSequence {
			if _, err := InitValue(a, code, InitEnv(nil, Context{})); err != nil {
				t.Fatalf("InitValue: %v", err)
			}
		}
	})
}
