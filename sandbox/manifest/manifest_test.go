package manifest_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

func mustParse(t *testing.T, path string) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return m
}

func TestResolve(t *testing.T) {
	tests := []struct {
		file, kind string
		wantImage  string
		wantKind   string
		wantErr    error
	}{
		{"testdata/upstream.json", "nodejs:20", "openwhisk/action-nodejs-v20:nightly", "nodejs:20", nil},
		{"testdata/upstream.json", "nodejs:default", "openwhisk/action-nodejs-v20:nightly", "nodejs:20", nil},
		{"testdata/upstream.json", "nodejs:18", "openwhisk/action-nodejs-v18:nightly", "nodejs:18", nil},
		{"testdata/upstream.json", "python:default", "openwhisk/action-python-v3.10:nightly", "python:3.10", nil},
		{"testdata/upstream.json", "java:default", "openwhisk/java8action:nightly", "java:8", nil},
		{"testdata/upstream.json", "nodejs:6", "", "", manifest.ErrUnknownKind},
		{"testdata/upstream.json", "cobol:default", "", "", manifest.ErrUnknownKind},
		{"testdata/upstream.json", "blackbox", "", "", manifest.ErrUnknownKind},
		{"../../deploy/runtimes.json", "nodejs:default", "openwhisk/action-nodejs-v20:nightly", "nodejs:20", nil},
		{"../../deploy/runtimes.json", "python:default", "openwhisk/action-python-v3.11:nightly", "python:3", nil},
		{"../../deploy/runtimes.json", "python:3.11", "openwhisk/action-python-v3.11:nightly", "python:3.11", nil},
	}
	for _, tt := range tests {
		m := mustParse(t, tt.file)
		rt, err := m.Resolve(tt.kind)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Resolve(%q) error %v, want %v", tt.file, tt.kind, err, tt.wantErr)
			continue
		}
		if err == nil && (rt.Image.String() != tt.wantImage || rt.Kind != tt.wantKind) {
			t.Errorf("%s: Resolve(%q) = %s %s, want %s %s", tt.file, tt.kind, rt.Kind, rt.Image, tt.wantKind, tt.wantImage)
		}
	}
}

func TestUpstreamManifest(t *testing.T) {
	m := mustParse(t, "testdata/upstream.json")
	if got, want := m.Families(), []string{"dotnet", "go", "java", "nodejs", "php", "python", "ruby", "rust", "swift"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Families() = %v, want %v", got, want)
	}
	java, _ := m.Resolve("java:8")
	if !java.RequireMain || !java.SentinelledLogs || !java.Default || java.Attached == nil {
		t.Errorf("java:8 = %+v, want requireMain, sentinelled logs, default, attached", java)
	}
	want := []manifest.Prewarm{{
		Kind:  "nodejs:20",
		Image: manifest.Image{Prefix: "openwhisk", Name: "action-nodejs-v20", Tag: "nightly"},
		StemCell: manifest.StemCell{InitialCount: 2, Memory: 256 * manifest.MB, Reactive: &manifest.Reactive{
			MinCount: 1, MaxCount: 4, TTL: 2 * time.Minute, Threshold: 1, Increment: 1}},
	}}
	if got := m.StemCells(); !reflect.DeepEqual(got, want) {
		t.Errorf("StemCells() = %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		ref  string
		want bool
	}{
		{"openwhisk/dockerskeleton:nightly", true},
		{"openwhisk/dockerskeleton", false},
		{"openwhisk/action-nodejs-v20:nightly", false},
		{"someone/else:1", false},
	} {
		if got := m.IsBlackbox(tt.ref); got != tt.want {
			t.Errorf("IsBlackbox(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
	if n := len(m.Images()); n != 14 {
		t.Errorf("Images() has %d images, want 14 (13 kinds + 1 blackbox)", n)
	}
}

func TestOurManifest(t *testing.T) {
	m := mustParse(t, "../../deploy/runtimes.json")
	var got []string
	for _, p := range m.StemCells() {
		got = append(got, p.Kind+" "+p.Image.String()+" "+p.Memory.String())
	}
	want := []string{
		"nodejs:20 openwhisk/action-nodejs-v20:nightly 256 MB",
		"python:3 openwhisk/action-python-v3.11:nightly 256 MB",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stem cells %q, want %q", got, want)
	}
	if !m.IsBlackbox("openwhisk/dockerskeleton:nightly") {
		t.Errorf("openwhisk/dockerskeleton:nightly is not a blackbox")
	}
}

func TestImageRef(t *testing.T) {
	tests := []struct {
		img      manifest.Image
		registry string
		want     string
	}{
		{manifest.Image{Name: "x"}, "", "x"},
		{manifest.Image{Prefix: "p", Name: "x", Tag: "t"}, "", "p/x:t"},
		{manifest.Image{Prefix: "p", Name: "x", Tag: "t"}, "reg.io:5000", "reg.io:5000/p/x:t"},
		{manifest.Image{Prefix: "p", Name: "x"}, "reg.io/", "reg.io/p/x"},
		{manifest.Image{Registry: "own.io", Name: "x"}, "reg.io", "own.io/x"},
	}
	for _, tt := range tests {
		if got := tt.img.Ref(tt.registry); got != tt.want {
			t.Errorf("%+v.Ref(%q) = %q, want %q", tt.img, tt.registry, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	kind := func(fields string) string {
		return `{"runtimes":{"nodejs":[{"kind":"nodejs:20","image":{"name":"n"}` + fields + `}]}}`
	}
	tests := []struct {
		name, doc string
		wantErrs  []string // each must appear in the error text
	}{
		{"not json", `{`, []string{"unexpected EOF"}},
		{"trailing data", `{"runtimes":{}} {}`, []string{"data after the JSON document"}},
		{"no runtimes", `{}`, []string{`"runtimes" is missing`}},
		{"runtimes wrong type", `{"runtimes":[]}`, []string{"cannot unmarshal array"}},
		{"empty family", `{"runtimes":{"nodejs":[]}}`, []string{`family "nodejs": no kinds`}},
		{"no kind", `{"runtimes":{"nodejs":[{"image":{"name":"n"}}]}}`, []string{"entry 0: kind is missing"}},
		{"no image", `{"runtimes":{"nodejs":[{"kind":"nodejs:20"}]}}`, []string{`kind "nodejs:20": image name is missing`}},
		{"reserved kind", `{"runtimes":{"nodejs":[{"kind":"nodejs:default","image":{"name":"n"}}]}}`, []string{"reserved"}},
		{"duplicate kind", `{"runtimes":{"a":[{"kind":"k","image":{"name":"n"}}],"b":[{"kind":"k","image":{"name":"n"}}]}}`,
			[]string{`kind "k" is listed twice`}},
		{"two defaults", `{"runtimes":{"n":[{"kind":"n:1","default":true,"image":{"name":"a"}},{"kind":"n:2","default":true,"image":{"name":"b"}}]}}`,
			[]string{"more than one default kind (n:1, n:2)"}},
		{"no default", `{"runtimes":{"n":[{"kind":"n:1","image":{"name":"a"}},{"kind":"n:2","image":{"name":"b"}}]}}`,
			[]string{"2 kinds and none is marked default"}},
		{"stem cell count", kind(`,"stemCells":[{"initialCount":0,"memory":"256 MB"}]`), []string{"stemCells[0]: initialCount must be > 0"}},
		{"stem cell no count", kind(`,"stemCells":[{"memory":"256 MB"}]`), []string{"initialCount is missing"}},
		{"stem cell memory", kind(`,"stemCells":[{"initialCount":1,"memory":"256 parsecs"}]`), []string{"unit must be B, KB, MB or GB"}},
		{"stem cell no memory", kind(`,"stemCells":[{"initialCount":1}]`), []string{"memory is missing"}},
		{"reactive", kind(`,"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"minCount":-1,"maxCount":0,"ttl":"soon","threshold":0,"increment":0}}]`),
			[]string{"minCount must be >= 0", "maxCount must be > 0", "threshold must be > 0", "increment must be in 1..maxCount", `ttl: duration "soon"`}},
		{"reactive missing", kind(`,"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"ttl":"2 minutes"}}]`),
			[]string{"minCount is missing", "maxCount is missing", "threshold is missing", "increment is missing"}},
		{"reactive min > max", kind(`,"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"minCount":5,"maxCount":4,"ttl":"2 minutes","threshold":1,"increment":1}}]`),
			[]string{"minCount 5 exceeds maxCount 4"}},
		{"blackbox", `{"runtimes":{},"blackboxes":[{"prefix":"p"}]}`, []string{"blackboxes[0]: image name is missing"}},
		{"all reported", `{"runtimes":{"n":[{"kind":"n:1"},{"image":{"name":"x"}}]},"blackboxes":[{}]}`,
			[]string{`kind "n:1": image name is missing`, "entry 1: kind is missing", "blackboxes[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Parse([]byte(tt.doc))
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Fatalf("Parse(%s) error %v, want one wrapping ErrInvalid", tt.doc, err)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Parse(%s) error\n%v\nwant it to mention %q", tt.doc, err, want)
				}
			}
		})
	}
}

func TestLegacyCountAndDefaults(t *testing.T) {
	m, err := manifest.Parse([]byte(`{"runtimes":{"n":[{"kind":"n:1","image":{"name":"a"},"sentinelledLogs":false,
		"stemCells":[{"count":3,"memory":"1 GB"}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := m.Resolve("n:default")
	if !rt.Default || rt.SentinelledLogs || rt.StemCells[0].InitialCount != 3 || rt.StemCells[0].Memory != manifest.GB {
		t.Errorf("n:1 = %+v, want the implicit default, unsentinelled, 3 × 1 GB", rt)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    manifest.ByteSize
		wantStr string
		wantErr bool
	}{
		{"256 MB", 256 * manifest.MB, "256 MB", false},
		{"256MB", 256 * manifest.MB, "256 MB", false},
		{" 2147483648 B", 2 * manifest.GB, "2 GB", false},
		{"1536 b", 1536, "1536 B", false},
		{"1536 kb", 1536 * manifest.KB, "1536 KB", false},
		{"2g", 2 * manifest.GB, "2 GB", false},
		{"0 MB", 0, "0 B", false},
		{"MB", 0, "", true},
		{"1.5 GB", 0, "", true},
		{"-1 MB", 0, "", true},
		{"10 TB", 0, "", true},
		{"99999999999999999999 B", 0, "", true},
		{"9999999999999 GB", 0, "", true},
	}
	for _, tt := range tests {
		got, err := manifest.ParseByteSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			continue
		}
		if err == nil && got.String() != tt.wantStr {
			t.Errorf("ParseByteSize(%q).String() = %q, want %q", tt.in, got.String(), tt.wantStr)
		}
	}
	var v struct{ M manifest.ByteSize }
	if err := json.Unmarshal([]byte(`{"M":"128 MB"}`), &v); err != nil || v.M != 128*manifest.MB {
		t.Errorf("unmarshal 128 MB: %v %v", v.M, err)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"2 minutes", 2 * time.Minute, false},
		{"2minutes", 2 * time.Minute, false},
		{"1 minute", time.Minute, false},
		{"10 s", 10 * time.Second, false},
		{"10 secs", 10 * time.Second, false},
		{"100 ms", 100 * time.Millisecond, false},
		{"1.5 hours", 90 * time.Minute, false},
		{"2 days", 48 * time.Hour, false},
		{"5m", 5 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"soon", 0, true},
		{"2 fortnights", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := manifest.ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			back, err := manifest.ParseDuration(manifest.FormatDuration(got))
			if err != nil || back != got {
				t.Errorf("ParseDuration(FormatDuration(%v) = %q) = %v, %v", got, manifest.FormatDuration(got), back, err)
			}
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, file := range []string{"testdata/upstream.json", "../../deploy/runtimes.json"} {
		m := mustParse(t, file)
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := manifest.Parse(data)
		if err != nil {
			t.Fatalf("%s: re-parse: %v\n%s", file, err, data)
		}
		if !reflect.DeepEqual(back.Runtimes(), m.Runtimes()) || !reflect.DeepEqual(back.Blackboxes(), m.Blackboxes()) {
			t.Errorf("%s: round trip changed the manifest:\n%s", file, data)
		}
		if !strings.Contains(string(data), `"description"`) {
			t.Errorf("%s: round trip dropped the description", file)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/upstream.json", "../../deploy/runtimes.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"runtimes":{"n":[{"kind":"n:1","image":{"name":"a"},"stemCells":[{"count":1,"memory":"1 g","reactive":{"minCount":0,"maxCount":1,"ttl":"1 d","threshold":1,"increment":1}}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse(data)
		if err != nil {
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal a parsed manifest: %v", err)
		}
		back, err := manifest.Parse(out)
		if err != nil {
			t.Fatalf("re-parse %s: %v", out, err)
		}
		if !reflect.DeepEqual(back.Runtimes(), m.Runtimes()) {
			t.Fatalf("round trip changed the runtimes:\n%s", out)
		}
		for _, rt := range m.Runtimes() {
			if _, err := m.Resolve(rt.Kind); err != nil {
				t.Fatalf("Resolve(%q) of a listed kind: %v", rt.Kind, err)
			}
		}
		for _, fam := range m.Families() {
			if _, err := m.Resolve(fam + ":default"); err != nil {
				t.Fatalf("Resolve(%q): %v", fam+":default", err)
			}
		}
	})
}
