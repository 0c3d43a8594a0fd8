package action

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Context is the activation context handed to the runtime (§8.2, §8.3):
// prefixed with __OW_ and upper-cased in the /init env, unprefixed in the
// /run body. It holds the API key: never log it.
type Context struct {
	// APIKey holds the members of the invoking identity's authkey
	// (normally api_key). Leave it nil when the action's ProvideAPIKey is
	// false.
	APIKey        map[string]json.RawMessage
	Namespace     string // the invoking namespace
	ActionName    string // "/" + action path + "/" + name, as in the message
	ActionVersion string // the message's action version; "" sends null
	ActivationID  string
	TransactionID string // the id string of the transid
	Deadline      int64  // epoch ms: now + the action's timeout
}

// fields returns the unprefixed context members: the authkey's members
// first, so that the context keys win on a clash, as in OpenWhisk.
func (c Context) fields() map[string]json.RawMessage {
	f := make(map[string]json.RawMessage, len(c.APIKey)+6)
	for k, v := range c.APIKey {
		f[k] = v
	}
	str := func(s string) json.RawMessage { b, _ := marshal(s); return b }
	f["namespace"] = str(c.Namespace)
	f["action_name"] = str(c.ActionName)
	f["action_version"] = json.RawMessage("null")
	if c.ActionVersion != "" {
		f["action_version"] = str(c.ActionVersion)
	}
	f["activation_id"] = str(c.ActivationID)
	f["transaction_id"] = str(c.TransactionID)
	f["deadline"] = str(strconv.FormatInt(c.Deadline, 10))
	return f
}

// InitEnv returns the env of the /init request: the init parameters
// (from SplitArgs) overlaid with the context as "__OW_<KEY>" entries.
// Values are still JSON; InitValue turns them into strings.
func InitEnv(initArgs map[string]json.RawMessage, c Context) map[string]json.RawMessage {
	env := make(map[string]json.RawMessage, len(initArgs)+8)
	for k, v := range initArgs {
		env[k] = v
	}
	for k, v := range c.fields() {
		env["__OW_"+strings.ToUpper(k)] = v
	}
	return env
}

// InitValue returns the "value" of the /init request body
// {"value": {name, main, binary, code, env}} (§8.2).
//
// code is the resolved code: the attachment's bytes (fetched, or
// InlineBytes for mem: names); pass nil for text code stored in the
// document, which is used as is, and for actions without code. Binary
// attachment bytes are sent as standard base64, text as a UTF-8 string;
// "code" is omitted when the action has none and "env" when env is empty.
// Env values are turned into strings as OpenWhisk does: strings as they
// are, null as "", numbers and booleans as their text, anything else as
// compact JSON.
func InitValue(a *Action, code []byte, env map[string]json.RawMessage) (json.RawMessage, error) {
	v := struct {
		Name   string            `json:"name"`
		Main   string            `json:"main"`
		Binary bool              `json:"binary"`
		Code   *string           `json:"code,omitempty"`
		Env    map[string]string `json:"env,omitempty"`
	}{Name: a.Name, Main: a.Exec.EntryPoint(), Binary: a.Exec.Binary}

	switch c := a.Exec.Code; {
	case c == nil:
		if code != nil {
			return nil, errors.New("init: code given for an action without code")
		}
	case c.Attachment == nil:
		if code != nil {
			return nil, errors.New("init: code given for an action with text code")
		}
		v.Code = &c.Text
	default:
		if code == nil {
			return nil, fmt.Errorf("init: attachment %q not resolved", c.Attachment.Name)
		}
		s := string(code)
		if a.Exec.Binary {
			s = base64.StdEncoding.EncodeToString(code)
		}
		v.Code = &s
	}
	if len(env) > 0 {
		v.Env = make(map[string]string, len(env))
		for k, raw := range env {
			s, err := envString(raw)
			if err != nil {
				return nil, fmt.Errorf("init: env %q: %w", k, err)
			}
			v.Env[k] = s
		}
	}
	return marshal(v)
}

// envString converts a JSON value to an environment string.
func envString(raw json.RawMessage) (string, error) {
	switch jsonKind(raw) {
	case "string":
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case "null", "nothing":
		return "", nil
	case "boolean", "number":
		if !json.Valid(raw) {
			return "", errors.New("invalid JSON")
		}
		return strings.TrimSpace(string(raw)), nil
	default:
		c := compactRaw(raw)
		if !json.Valid(c) {
			return "", errors.New("invalid JSON")
		}
		return string(c), nil
	}
}

// RunBody returns the body of a /run request (§8.3): {"value": value} plus
// the unprefixed context members. value is the run parameters from
// SplitArgs ({} or an array when the payload was one).
func RunBody(value json.RawMessage, c Context) ([]byte, error) {
	body := c.fields()
	if len(value) == 0 {
		value = json.RawMessage("{}")
	}
	body["value"] = value
	return marshal(body)
}

// SplitArgs splits a message's content (already unlocked, see Unlock)
// into the init parameters named by initArgs, which go into the /init env,
// and the value for /run (§8.3). Absent content runs with {}; an array
// payload is passed unchanged. Content that is neither object nor array
// is an error (OpenWhisk's controller never sends one).
func SplitArgs(content json.RawMessage, initArgs []string) (env map[string]json.RawMessage, run json.RawMessage, err error) {
	switch jsonKind(content) {
	case "nothing", "null":
		return nil, json.RawMessage("{}"), nil
	case "array":
		return nil, content, nil
	case "object":
	default:
		return nil, nil, fmt.Errorf("content is a %s, not an object or array", jsonKind(content))
	}
	if len(initArgs) == 0 {
		return nil, content, nil
	}
	o, err := parseObject(content)
	if err != nil {
		return nil, nil, fmt.Errorf("content: %w", err)
	}
	for _, k := range initArgs {
		if v, ok := o[k]; ok {
			if env == nil {
				env = make(map[string]json.RawMessage)
			}
			env[k] = v
			delete(o, k)
		}
	}
	run, err = marshal(o)
	return env, run, err
}
