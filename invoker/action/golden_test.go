package action

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func checkGolden(t *testing.T, name string, out []byte) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got := string(out) + "\n"; got != string(want) {
		t.Errorf("encoding differs from %s\n got %s\nwant %s", golden, got, want)
	}
}

// TestGoldenDocuments decodes every action document of testdata, encodes
// it again and requires the same JSON values, the golden bytes and a stable
// second round trip.
func TestGoldenDocuments(t *testing.T) {
	files, _ := filepath.Glob("testdata/*action*.json")
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			in := readTestdata(t, filepath.Base(file))
			a, err := Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, in, out) {
				t.Errorf("round trip changed the document\n in: %s\nout: %s", compact(t, in), out)
			}
			a2, err := Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, a2) {
				t.Errorf("decode(encode(a)) != a\n got %+v\nwant %+v", a2, a)
			}
			out, _ = marshal(a)
			checkGolden(t, name, out)
		})
	}
}

// specContext is the activation context of the §8.2 and §8.3 examples.
func specContext() Context {
	return Context{
		APIKey:        map[string]json.RawMessage{"api_key": json.RawMessage(`"23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"`)},
		Namespace:     "guest",
		ActionName:    "/guest/hello",
		ActionVersion: "0.0.2",
		ActivationID:  "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f",
		TransactionID: "sNBSwqwXNYeHCbZl1WUdtgQBjAUHVHBg",
		Deadline:      1717000060312,
	}
}

// TestGoldenInit builds the §8.2 /init body from the §7.2 document: the
// mem: attachment decodes to the example's code. (The spec's example sends
// __OW_API_KEY although the §7.2 document says provide-api-key false; the
// key is passed here as if the annotation were absent.)
func TestGoldenInit(t *testing.T) {
	a, err := Decode(readTestdata(t, "action.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ProvideAPIKey() {
		t.Error("provide-api-key false not honoured")
	}
	code, err := a.Exec.Code.Attachment.InlineBytes()
	if err != nil {
		t.Fatal(err)
	}
	content := json.RawMessage(`{"name":"World","greeting":"Hello","SECRET":"s3cr3t"}`)
	initArgs, run, err := SplitArgs(content, []string{"SECRET"})
	if err != nil {
		t.Fatal(err)
	}
	value, err := InitValue(a, code, InitEnv(initArgs, specContext()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := marshal(map[string]json.RawMessage{"value": value})
	if want := readTestdata(t, "init.json"); !sameJSON(t, body, want) {
		t.Errorf("got  %s\nwant %s", body, compact(t, want))
	}
	checkGolden(t, "init", body)

	runBody, err := RunBody(run, specContext())
	if err != nil {
		t.Fatal(err)
	}
	if want := readTestdata(t, "run.json"); !sameJSON(t, runBody, want) {
		t.Errorf("got  %s\nwant %s", runBody, compact(t, want))
	}
	checkGolden(t, "run", runBody)
}
