// Package manifest reads OpenWhisk's runtimes manifest (ansible/files/runtimes.json, passed
// to invokers as RUNTIMES_MANIFEST): which kinds exist, which image runs each kind, the
// default kind of each family, the trusted blackbox images, and the stem cells to prewarm.
//
// Parse validates the whole document and reports every problem at once; a Manifest is
// read-only afterwards and safe for concurrent use.
//
//	m, err := manifest.Parse(data)
//	rt, err := m.Resolve("nodejs:default") // the family's default kind
//	ref := rt.Image.Ref("")                // "openwhisk/action-nodejs-v20:nightly"
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every validation error Parse returns.
var ErrInvalid = errors.New("invalid runtimes manifest")

// ErrUnknownKind is returned by Resolve for a kind the manifest does not list.
var ErrUnknownKind = errors.New("unknown action kind")

// Image names a container image: [registry/][prefix/]name[:tag].
type Image struct {
	Registry string `json:"registry,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Name     string `json:"name"`
	Tag      string `json:"tag,omitempty"`
}

// String is the image reference with the image's own registry, if any.
func (i Image) String() string { return i.Ref("") }

// Ref is the image reference, using registry when the image names none. A registry
// gets a trailing "/" if it lacks one.
func (i Image) Ref(registry string) string {
	var b strings.Builder
	reg := i.Registry
	if reg == "" {
		reg = registry
	}
	if reg != "" {
		b.WriteString(reg)
		if !strings.HasSuffix(reg, "/") {
			b.WriteByte('/')
		}
	}
	if i.Prefix != "" {
		b.WriteString(i.Prefix)
		b.WriteByte('/')
	}
	b.WriteString(i.Name)
	if i.Tag != "" {
		b.WriteByte(':')
		b.WriteString(i.Tag)
	}
	return b.String()
}

// Attached says that code of this kind is stored as an attachment; its values are legacy.
type Attached struct {
	AttachmentName string `json:"attachmentName"`
	AttachmentType string `json:"attachmentType"`
}

// Reactive sizes a stem-cell pool from recent cold starts.
type Reactive struct {
	MinCount  int
	MaxCount  int
	TTL       time.Duration // stem cells older than this are replaced
	Threshold int
	Increment int
}

// StemCell is one prewarm configuration of a kind.
type StemCell struct {
	InitialCount int
	Memory       ByteSize
	Reactive     *Reactive // nil: a fixed pool of InitialCount
}

// Runtime is one managed kind.
type Runtime struct {
	Family      string
	Kind        string
	Default     bool // the family's default (also true for the only kind of a family)
	Deprecated  bool
	Image       Image
	Attached    *Attached
	RequireMain bool
	// SentinelledLogs says whether the invoker waits for the log sentinels (default true).
	SentinelledLogs bool
	StemCells       []StemCell
}

// Prewarm is a stem-cell configuration together with the kind and image it runs.
type Prewarm struct {
	Kind  string
	Image Image
	StemCell
}

// Manifest is a parsed and validated runtimes manifest.
type Manifest struct {
	runtimes   []Runtime                  // by family, then in manifest order
	byKind     map[string]int             // kind → index in runtimes
	defaults   map[string]string          // family → default kind
	blackboxes []Image                    // trusted blackbox images
	extra      map[string]json.RawMessage // top-level fields other than runtimes/blackboxes
}

// Resolve returns the runtime of kind; "<family>:default" names the family's default kind.
// It returns an error wrapping ErrUnknownKind if there is none.
func (m *Manifest) Resolve(kind string) (Runtime, error) {
	if fam, ok := strings.CutSuffix(kind, ":default"); ok {
		if k, ok := m.defaults[fam]; ok {
			kind = k
		}
	}
	i, ok := m.byKind[kind]
	if !ok {
		return Runtime{}, fmt.Errorf("kind %q: %w", kind, ErrUnknownKind)
	}
	return m.runtimes[i], nil
}

// Default returns the default runtime of family.
func (m *Manifest) Default(family string) (Runtime, bool) {
	k, ok := m.defaults[family]
	if !ok {
		return Runtime{}, false
	}
	return m.runtimes[m.byKind[k]], true
}

// Families returns the family names, sorted.
func (m *Manifest) Families() []string {
	fams := make([]string, 0, len(m.defaults))
	for f := range m.defaults {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	return fams
}

// Runtimes returns every runtime, grouped by family (sorted) in manifest order.
func (m *Manifest) Runtimes() []Runtime { return slices.Clone(m.runtimes) }

// Blackboxes returns the trusted blackbox images.
func (m *Manifest) Blackboxes() []Image { return slices.Clone(m.blackboxes) }

// IsBlackbox reports whether ref (as in an action's exec.image) is a listed blackbox image.
// A reference without a tag matches a listed image tagged "latest" and vice versa.
func (m *Manifest) IsBlackbox(ref string) bool {
	norm := func(s string) string {
		if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
			return s
		}
		return s + ":latest"
	}
	want := norm(ref)
	for _, img := range m.blackboxes {
		if norm(img.String()) == want {
			return true
		}
	}
	return false
}

// Images returns the distinct images of managed kinds and blackboxes, sorted: what a host
// must have before it runs actions.
func (m *Manifest) Images() []Image {
	seen := map[string]Image{}
	for _, rt := range m.runtimes {
		seen[rt.Image.String()] = rt.Image
	}
	for _, img := range m.blackboxes {
		seen[img.String()] = img
	}
	out := make([]Image, 0, len(seen))
	for _, img := range seen {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// StemCells returns every stem-cell configuration with its kind and image, in runtime order.
func (m *Manifest) StemCells() []Prewarm {
	var out []Prewarm
	for _, rt := range m.runtimes {
		for _, sc := range rt.StemCells {
			if sc.Reactive != nil {
				r := *sc.Reactive
				sc.Reactive = &r
			}
			out = append(out, Prewarm{Kind: rt.Kind, Image: rt.Image, StemCell: sc})
		}
	}
	return out
}

// Wire form.

type wireManifest struct {
	Runtimes   map[string][]wireRuntime `json:"runtimes"`
	Blackboxes []Image                  `json:"blackboxes,omitempty"`
}

type wireRuntime struct {
	Kind            string         `json:"kind"`
	Default         *bool          `json:"default,omitempty"`
	Deprecated      *bool          `json:"deprecated,omitempty"`
	Image           *Image         `json:"image"`
	Attached        *Attached      `json:"attached,omitempty"`
	RequireMain     *bool          `json:"requireMain,omitempty"`
	SentinelledLogs *bool          `json:"sentinelledLogs,omitempty"`
	StemCells       []wireStemCell `json:"stemCells,omitempty"`
}

type wireStemCell struct {
	InitialCount *int          `json:"initialCount,omitempty"`
	Count        *int          `json:"count,omitempty"` // legacy name of initialCount
	Memory       *string       `json:"memory"`
	Reactive     *wireReactive `json:"reactive,omitempty"`
}

type wireReactive struct {
	MinCount  *int    `json:"minCount"`
	MaxCount  *int    `json:"maxCount"`
	TTL       *string `json:"ttl"`
	Threshold *int    `json:"threshold"`
	Increment *int    `json:"increment"`
}

// Parse decodes and validates a manifest. Every validation problem is reported, joined,
// each wrapping ErrInvalid.
func Parse(data []byte) (*Manifest, error) {
	var w wireManifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON document", ErrInvalid)
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(data, &extra); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	delete(extra, "runtimes")
	delete(extra, "blackboxes")
	if len(extra) == 0 {
		extra = nil
	}

	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if w.Runtimes == nil {
		bad(`"runtimes" is missing or null`)
	}

	m := &Manifest{byKind: map[string]int{}, defaults: map[string]string{}, extra: extra}
	families := make([]string, 0, len(w.Runtimes))
	for f := range w.Runtimes {
		families = append(families, f)
	}
	sort.Strings(families)
	for _, fam := range families {
		kinds := w.Runtimes[fam]
		where := fmt.Sprintf("family %q", fam)
		if fam == "" || strings.Contains(fam, ":") {
			bad("%s: a family name must be non-empty and contain no ':'", where)
		}
		if len(kinds) == 0 {
			bad("%s: no kinds", where)
			continue
		}
		var defaults []string
		for i, wr := range kinds {
			rt, ok := m.runtime(fam, i, wr, bad)
			if !ok {
				continue
			}
			if _, dup := m.byKind[rt.Kind]; dup {
				bad("%s: kind %q is listed twice", where, rt.Kind)
				continue
			}
			if rt.Default {
				defaults = append(defaults, rt.Kind)
			}
			m.byKind[rt.Kind] = len(m.runtimes)
			m.runtimes = append(m.runtimes, rt)
		}
		switch {
		case len(kinds) == 1 && len(defaults) <= 1:
			// The only kind of a family is its default.
			if i, ok := m.byKind[kinds[0].Kind]; ok && m.runtimes[i].Family == fam {
				m.runtimes[i].Default = true
				m.defaults[fam] = kinds[0].Kind
			}
		case len(defaults) == 1:
			m.defaults[fam] = defaults[0]
		case len(defaults) == 0:
			bad("%s: %d kinds and none is marked default", where, len(kinds))
		default:
			bad("%s: more than one default kind (%s)", where, strings.Join(defaults, ", "))
		}
	}
	for i, img := range w.Blackboxes {
		if img.Name == "" {
			bad("blackboxes[%d]: image name is missing", i)
			continue
		}
		m.blackboxes = append(m.blackboxes, img)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// runtime checks one kind entry and converts it.
func (m *Manifest) runtime(fam string, i int, w wireRuntime, bad func(string, ...any)) (Runtime, bool) {
	where := fmt.Sprintf("family %q, kind %q", fam, w.Kind)
	if w.Kind == "" {
		where = fmt.Sprintf("family %q, entry %d", fam, i)
	}
	ok := true
	switch {
	case w.Kind == "":
		bad("%s: kind is missing", where)
		ok = false
	case w.Kind == "blackbox" || strings.HasSuffix(w.Kind, ":default"):
		bad("%s: the kind name is reserved", where)
		ok = false
	}
	if w.Image == nil || w.Image.Name == "" {
		bad("%s: image name is missing", where)
		ok = false
	}
	rt := Runtime{
		Family:          fam,
		Kind:            w.Kind,
		Default:         deref(w.Default, false),
		Deprecated:      deref(w.Deprecated, false),
		Attached:        w.Attached,
		RequireMain:     deref(w.RequireMain, false),
		SentinelledLogs: deref(w.SentinelledLogs, true),
	}
	if w.Image != nil {
		rt.Image = *w.Image
	}
	for j, ws := range w.StemCells {
		sc, scOK := stemCell(ws, fmt.Sprintf("%s: stemCells[%d]", where, j), bad)
		ok = ok && scOK
		rt.StemCells = append(rt.StemCells, sc)
	}
	return rt, ok
}

func stemCell(w wireStemCell, where string, bad func(string, ...any)) (StemCell, bool) {
	ok := true
	count := w.InitialCount
	if count == nil {
		count = w.Count
	}
	var sc StemCell
	switch {
	case count == nil:
		bad("%s: initialCount is missing", where)
		ok = false
	case *count <= 0:
		bad("%s: initialCount must be > 0, not %d", where, *count)
		ok = false
	default:
		sc.InitialCount = *count
	}
	switch {
	case w.Memory == nil:
		bad("%s: memory is missing", where)
		ok = false
	default:
		mem, err := ParseByteSize(*w.Memory)
		switch {
		case err != nil:
			bad("%s: memory: %v", where, err)
			ok = false
		case mem <= 0:
			bad("%s: memory must be > 0", where)
			ok = false
		default:
			sc.Memory = mem
		}
	}
	if w.Reactive == nil {
		return sc, ok
	}
	r := w.Reactive
	where += ": reactive"
	for _, f := range []struct {
		name string
		v    *int
	}{{"minCount", r.MinCount}, {"maxCount", r.MaxCount}, {"threshold", r.Threshold}, {"increment", r.Increment}} {
		if f.v == nil {
			bad("%s: %s is missing", where, f.name)
			ok = false
		}
	}
	if r.TTL == nil {
		bad("%s: ttl is missing", where)
		return sc, false
	}
	if !ok {
		return sc, false
	}
	ttl, err := ParseDuration(*r.TTL)
	if err != nil {
		bad("%s: ttl: %v", where, err)
		ok = false
	}
	re := Reactive{MinCount: *r.MinCount, MaxCount: *r.MaxCount, TTL: ttl, Threshold: *r.Threshold, Increment: *r.Increment}
	if re.MinCount < 0 {
		bad("%s: minCount must be >= 0, not %d", where, re.MinCount)
		ok = false
	}
	if re.MaxCount <= 0 {
		bad("%s: maxCount must be > 0, not %d", where, re.MaxCount)
		ok = false
	}
	if re.MinCount > re.MaxCount && re.MaxCount > 0 {
		bad("%s: minCount %d exceeds maxCount %d", where, re.MinCount, re.MaxCount)
		ok = false
	}
	if re.Threshold <= 0 {
		bad("%s: threshold must be > 0, not %d", where, re.Threshold)
		ok = false
	}
	if re.Increment <= 0 || re.Increment > re.MaxCount {
		bad("%s: increment must be in 1..maxCount (%d), not %d", where, re.MaxCount, re.Increment)
		ok = false
	}
	if ttl <= 0 && err == nil {
		bad("%s: ttl must be > 0", where)
		ok = false
	}
	sc.Reactive = &re
	return sc, ok
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// MarshalJSON writes the manifest back in the runtimes.json structure (top-level fields
// other than runtimes and blackboxes are kept).
func (m *Manifest) MarshalJSON() ([]byte, error) {
	w := wireManifest{Runtimes: map[string][]wireRuntime{}, Blackboxes: m.blackboxes}
	for _, rt := range m.runtimes {
		img := rt.Image
		wr := wireRuntime{
			Kind:       rt.Kind,
			Default:    &rt.Default,
			Deprecated: &rt.Deprecated,
			Image:      &img,
			Attached:   rt.Attached,
		}
		if rt.RequireMain {
			wr.RequireMain = &rt.RequireMain
		}
		if !rt.SentinelledLogs {
			wr.SentinelledLogs = &rt.SentinelledLogs
		}
		for _, sc := range rt.StemCells {
			n, mem := sc.InitialCount, sc.Memory.String()
			ws := wireStemCell{InitialCount: &n, Memory: &mem}
			if r := sc.Reactive; r != nil {
				ttl := FormatDuration(r.TTL)
				r := *r
				ws.Reactive = &wireReactive{MinCount: &r.MinCount, MaxCount: &r.MaxCount, TTL: &ttl, Threshold: &r.Threshold, Increment: &r.Increment}
			}
			wr.StemCells = append(wr.StemCells, ws)
		}
		w.Runtimes[rt.Family] = append(w.Runtimes[rt.Family], wr)
	}
	body, err := json.Marshal(w)
	if err != nil || len(m.extra) == 0 {
		return body, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, err
	}
	for k, v := range m.extra {
		all[k] = v
	}
	return json.Marshal(all)
}
