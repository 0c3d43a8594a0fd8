package message

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// entityNameRE is OpenWhisk's entity name rule (§2.3): at most 256
// characters, word characters plus "@ . & -" and space inside, not ending in
// a space. \w is ASCII, as in Java's default regex flavour.
var entityNameRE = regexp.MustCompile(`^(?:\w|\w[\w@ .&-]{0,254}[\w@.&-])$`)

// ValidEntityName reports whether s is a legal entity name (one path
// segment: a namespace, package or action name).
func ValidEntityName(s string) bool { return entityNameRE.MatchString(s) }

// NormalizePath validates an entity path ("ns" or "ns/pkg") and returns it
// in OpenWhisk's normal form: empty segments are dropped, so "/guest/"
// becomes "guest".
func NormalizePath(p string) (string, error) {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if !ValidEntityName(s) {
			return "", fmt.Errorf("path %q: segment %q is not a legal name", p, s)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("path %q is empty", p)
	}
	return strings.Join(parts, "/"), nil
}

// NormalizeSemVer validates a semantic version as OpenWhisk reads it ("1",
// "1.2" and "1.2.3" with non-negative parts, not all zero) and returns the
// "major.minor.patch" form it writes back.
func NormalizeSemVer(v string) (string, error) {
	parts := strings.Split(v, ".")
	// Java's String.split drops trailing empty strings.
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	var n [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		x, err := strconv.ParseInt(parts[i], 10, 32)
		if err != nil || x < 0 {
			return "", fmt.Errorf("bad semantic version %q", v)
		}
		n[i] = int(x)
	}
	if n == [3]int{} {
		return "", fmt.Errorf("bad semantic version %q", v)
	}
	return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2]), nil
}

func pathInto(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var s string
		if err := parseString(raw, &s); err != nil {
			return err
		}
		p, err := NormalizePath(s)
		if err != nil {
			return err
		}
		*dst = p
		return nil
	}
}

func nameInto(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var s string
		if err := parseString(raw, &s); err != nil {
			return err
		}
		if !ValidEntityName(s) {
			return fmt.Errorf("%q is not a legal entity name", s)
		}
		*dst = s
		return nil
	}
}

func semverInto(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var s string
		if err := parseString(raw, &s); err != nil {
			return err
		}
		v, err := NormalizeSemVer(s)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// subjectInto reads a Subject: trimmed, at least 5 characters.
func subjectInto(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var s string
		if err := parseString(raw, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if len(s) < 5 {
			return fmt.Errorf("subject %q is shorter than 5 characters", s)
		}
		*dst = s
		return nil
	}
}

// FQN is a fully qualified entity name (§2.3): Path is "ns" or "ns/pkg",
// Version ("x.y.z") and Binding ("ns/pkg") are optional and omitted when
// empty.
type FQN struct {
	Path    string
	Name    string
	Version string
	Binding string
}

// DocID returns "path/name", the id of the entity's document.
func (f FQN) DocID() string { return f.Path + "/" + f.Name }

// QualifiedNameWithLeadingSlash returns "/path/name" (the action name the
// runtime sees as __OW_ACTION_NAME).
func (f FQN) QualifiedNameWithLeadingSlash() string { return "/" + f.DocID() }

// Namespace returns the first segment of Path.
func (f FQN) Namespace() string {
	ns, _, _ := strings.Cut(f.Path, "/")
	return ns
}

// String returns "path/name" plus "@version" when there is one.
func (f FQN) String() string {
	if f.Version != "" {
		return f.DocID() + "@" + f.Version
	}
	return f.DocID()
}

// MarshalJSON writes the object form.
func (f FQN) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		Path    string `json:"path"`
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		Binding string `json:"binding,omitempty"`
	}{f.Path, f.Name, f.Version, f.Binding})
}

// UnmarshalJSON reads the object form, or a string "ns[/pkg]/name" as the
// Scala reader also accepts. Path and binding are normalised and the
// version is rewritten as "x.y.z".
func (f *FQN) UnmarshalJSON(raw []byte) error {
	if jsonKind(raw) == "string" {
		var s string
		if err := pathInto(&s)(raw); err != nil {
			return err
		}
		i := strings.LastIndexByte(s, '/')
		if i < 0 {
			return fmt.Errorf("fully qualified name %q has no path", s)
		}
		*f = FQN{Path: s[:i], Name: s[i+1:]}
		return nil
	}
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v FQN
	if err := first(o.req("path", pathInto(&v.Path)), o.req("name", nameInto(&v.Name))); err != nil {
		return err
	}
	if _, err := o.opt("version", semverInto(&v.Version)); err != nil {
		return err
	}
	if _, err := o.opt("binding", pathInto(&v.Binding)); err != nil {
		return err
	}
	*f = v
	return nil
}
