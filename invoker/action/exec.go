package action

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/owinvoker/owinvoker/invoker/message"
	"mime"
	"regexp"
	"strings"
)

// The two kinds that are not runtimes of the manifest.
const (
	KindBlackbox = "blackbox" // a user docker image
	KindSequence = "sequence" // never executable by the invoker
)

// Exec is the "exec" member of an action document (§7.3).
type Exec struct {
	// Kind is trimmed and lower-cased as OpenWhisk reads it; "family:default"
	// stays until Resolve replaces it with the manifest's kind.
	Kind string
	// Code is nil when there is none (a blackbox without code, a sequence).
	Code *Code
	// Binary says the code is a base64 zip/jar (text code) or raw bytes
	// that must be base64-encoded for /init (attachment). For text code it
	// is derived from the code (IsBinaryCode), never read from the document.
	Binary     bool
	Main       string   // entry point; omitted when empty (see EntryPoint)
	Image      string   // docker image of a blackbox action
	Components []string // a sequence's actions, "/ns[/pkg]/name"
}

// EntryPoint returns Main, or "main" when it is empty, as sent to /init.
func (e Exec) EntryPoint() string {
	if e.Main == "" {
		return "main"
	}
	return e.Main
}

// Code is an action's code: text stored in the document, or an attachment
// whose bytes are stored elsewhere (§7.4). Exactly one is set.
type Code struct {
	Text       string
	Attachment *Attachment
}

// IsAttachment reports whether the code is an attachment to be resolved.
func (c *Code) IsAttachment() bool { return c != nil && c.Attachment != nil }

// Attachment schemes (§7.4).
const (
	// SchemeMem: the bytes are inlined in the attachment name as padded
	// base64url ("mem:<base64url>"); no CouchDB attachment exists.
	SchemeMem = "mem"
	// SchemeCouch: a CouchDB attachment of the same document, "couch:<name>".
	SchemeCouch = "couch"
)

// Attachment describes stored code: {attachmentName, attachmentType,
// length, digest}.
type Attachment struct {
	Name        string // a URI: mem:<base64url>, couch:<uuid>, or a legacy relative name
	ContentType string // "text/plain; charset=UTF-8" or "application/octet-stream"
	Length      *int64 // omitted when nil
	Digest      string // omitted when empty
}

var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// Scheme returns the URI scheme of Name in lower case, or "" for a relative
// (legacy) name such as "codefile".
func (a Attachment) Scheme() string {
	m := schemeRE.FindStringSubmatch(a.Name)
	if m == nil {
		return ""
	}
	return strings.ToLower(m[1])
}

// IsInline reports whether the code is inlined in the name (mem: scheme),
// so that no attachment needs to be fetched.
func (a Attachment) IsInline() bool { return a.Scheme() == SchemeMem }

// InlineBytes decodes the bytes of a mem: attachment.
func (a Attachment) InlineBytes() ([]byte, error) {
	if !a.IsInline() {
		return nil, fmt.Errorf("attachment %q is not inlined", a.Name)
	}
	s := a.Name[len(SchemeMem)+1:]
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		// Java's URL decoder also accepts unpadded input.
		if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return nil, fmt.Errorf("inline attachment: %w", err)
		}
	}
	return b, nil
}

// CouchName returns the name of the CouchDB attachment holding the code:
// the part after "couch:", or the whole name for a relative legacy name.
// It returns false for inline and external (s3:, az:, ...) attachments.
func (a Attachment) CouchName() (string, bool) {
	switch a.Scheme() {
	case SchemeCouch:
		return a.Name[len(SchemeCouch)+1:], true
	case "":
		return a.Name, a.Name != ""
	}
	return "", false
}

type attachmentWire struct {
	Name        string `json:"attachmentName"`
	ContentType string `json:"attachmentType"`
	Length      *int64 `json:"length,omitempty"`
	Digest      string `json:"digest,omitempty"`
}

func (a *Attachment) parse(raw json.RawMessage) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v Attachment
	err = first(
		o.req("attachmentName", strInto(&v.Name)),
		o.req("attachmentType", func(raw json.RawMessage) error {
			if err := parseString(raw, &v.ContentType); err != nil {
				return err
			}
			if _, _, err := mime.ParseMediaType(v.ContentType); err != nil {
				return fmt.Errorf("content type %q: %w", v.ContentType, err)
			}
			return nil
		}),
	)
	if err != nil {
		return err
	}
	var n int64
	if ok, err := o.opt("length", int64Into(&n)); err != nil {
		return err
	} else if ok {
		v.Length = &n
	}
	if _, err := o.opt("digest", strInto(&v.Digest)); err != nil {
		return err
	}
	*a = v
	return nil
}

var base64CodeRE = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

// IsBinaryCode applies OpenWhisk's heuristic for code given as a string:
// binary (a base64 zip or jar) when, trimmed, it is non-empty, a multiple of
// 4 long and in the padded base64 alphabet.
func IsBinaryCode(code string) bool {
	t := strings.TrimSpace(code)
	return len(t) > 0 && len(t)%4 == 0 && base64CodeRE.MatchString(t)
}

// imageRE is the docker reference grammar OpenWhisk validates blackbox
// images with: [domain/]path[:tag][@digest].
var imageRE = regexp.MustCompile(`^` +
	`(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*)*` +
	`(?::[\w][\w.-]{0,127})?` +
	`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

// ValidImage reports whether ref is a well-formed docker image reference.
func ValidImage(ref string) bool { return imageRE.MatchString(ref) }

// parse reads an exec object the way OpenWhisk's reader does before the
// runtimes manifest is consulted (Resolve does that).
func (e *Exec) parse(raw json.RawMessage) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v Exec
	if err := o.req("kind", strInto(&v.Kind)); err != nil {
		return err
	}
	v.Kind = strings.ToLower(strings.TrimSpace(v.Kind))
	if raw, ok := o["main"]; ok {
		if err := parseString(raw, &v.Main); err != nil {
			return fieldError("main", err)
		}
	}
	storedBinary := func() (bool, error) {
		raw, ok := o["binary"]
		if !ok {
			return false, nil
		}
		var b bool
		if err := parseBool(raw, &b); err != nil {
			return false, fieldError("binary", err)
		}
		return b, nil
	}
	readCode := func(raw json.RawMessage) error {
		c := &Code{}
		if jsonKind(raw) == "string" {
			if err := parseString(raw, &c.Text); err != nil {
				return err
			}
			v.Binary = IsBinaryCode(c.Text)
		} else {
			c.Attachment = &Attachment{}
			if err := c.Attachment.parse(raw); err != nil {
				return err
			}
			b, err := storedBinary()
			if err != nil {
				return err
			}
			v.Binary = b
		}
		v.Code = c
		return nil
	}

	switch v.Kind {
	case KindSequence:
		if err := o.req("components", func(raw json.RawMessage) error {
			elems, err := parseArray(raw)
			if err != nil {
				return err
			}
			v.Components = make([]string, len(elems))
			for i, el := range elems {
				c, err := parseComponent(el)
				if err != nil {
					return fmt.Errorf("element %d: %w", i, err)
				}
				v.Components[i] = c
			}
			return nil
		}); err != nil {
			return err
		}
	case KindBlackbox:
		if err := o.req("image", func(raw json.RawMessage) error {
			if err := parseString(raw, &v.Image); err != nil {
				return err
			}
			if !ValidImage(v.Image) {
				return fmt.Errorf("%q is not a docker image reference", v.Image)
			}
			return nil
		}); err != nil {
			return err
		}
		if raw, ok := o["code"]; ok {
			var s string
			if jsonKind(raw) == "string" && parseString(raw, &s) == nil && strings.TrimSpace(s) == "" {
				break // empty code means none
			}
			if err := readCode(raw); err != nil {
				return fieldError("code", err)
			}
		}
	default:
		name := "code"
		raw, ok := o["code"]
		if !ok {
			// Java actions once stored the attachment under "jar".
			name = "jar"
			raw, ok = o["jar"]
		}
		if !ok {
			return fieldError("code", errMissing)
		}
		if err := readCode(raw); err != nil {
			return fieldError(name, err)
		}
	}
	*e = v
	return nil
}

// parseComponent reads a sequence component: "/ns/pkg/name" or the object
// form {path, name}; it returns "/ns[/pkg]/name".
func parseComponent(raw json.RawMessage) (string, error) {
	var path, name string
	if jsonKind(raw) == "string" {
		var s string
		if err := parseString(raw, &s); err != nil {
			return "", err
		}
		p, err := message.NormalizePath(s)
		if err != nil {
			return "", err
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return "", fmt.Errorf("component %q is not fully qualified", s)
		}
		path, name = p[:i], p[i+1:]
	} else {
		o, err := parseObject(raw)
		if err != nil {
			return "", err
		}
		if err := first(o.req("path", strInto(&path)), o.req("name", strInto(&name))); err != nil {
			return "", err
		}
		if path, err = message.NormalizePath(path); err != nil {
			return "", err
		}
		if !message.ValidEntityName(name) {
			return "", fmt.Errorf("%q is not a legal entity name", name)
		}
	}
	return "/" + path + "/" + name, nil
}

type execWire struct {
	Kind       string    `json:"kind"`
	Image      string    `json:"image,omitempty"`
	Code       any       `json:"code,omitempty"`
	Components *[]string `json:"components,omitempty"`
	Binary     *bool     `json:"binary,omitempty"`
	Main       string    `json:"main,omitempty"`
}

func (e Exec) wire() (execWire, error) {
	w := execWire{Kind: e.Kind, Main: e.Main}
	if e.Kind == KindSequence {
		comps := e.Components
		if comps == nil {
			comps = []string{}
		}
		w.Components = &comps
		return w, nil
	}
	if e.Kind == KindBlackbox {
		w.Image = e.Image
	}
	binary := e.Binary
	switch {
	case e.Code == nil:
		if e.Kind != KindBlackbox {
			return execWire{}, errors.New("exec: code missing")
		}
	case e.Code.Attachment != nil:
		a := e.Code.Attachment
		w.Code = attachmentWire{a.Name, a.ContentType, a.Length, a.Digest}
	default:
		w.Code = e.Code.Text
		binary = IsBinaryCode(e.Code.Text)
	}
	w.Binary = &binary
	return w, nil
}
