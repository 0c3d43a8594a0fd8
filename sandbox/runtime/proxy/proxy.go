// Package proxy is the action proxy that runs inside every runtime image: an HTTP server on
// port 8080 speaking OpenWhisk's action container protocol (POST /init, POST /run) in the
// actionloop style.
//
// On /init the proxy stores the action's code in a fresh directory under Config.Dir:
// plain text code and non-zip binaries become src/exec; a base64 zip is extracted into src/.
// If src/exec is already an executable (an ELF binary or a #! script) it becomes bin/exec;
// otherwise Config.Compiler is run as `<compiler> <main> <srcdir> <bindir>` and must produce
// bin/exec. bin/exec is then started once and lives as long as the container: each /run writes
// the request body as one JSON line on its stdin and reads one JSON line back from file
// descriptor 3. With Config.WaitForAck the child must first write {"ok":true} (or
// {"error":…}) on fd 3 before /init answers.
//
// The child's stdout and stderr are the container's, so what the action prints lands in
// `docker logs`; after every /run the proxy writes the sentinel line
// XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX on both.
//
// Replies (status, body):
//
//	/init ok                       200 {"ok":true}
//	/init twice                    403 {"error":"Cannot initialize the action more than once."}
//	/init without code             403 {"error":"Missing main/no code to execute."}
//	/init bad body                 400 {"error":…}
//	/init compile or start failure 502 {"error":…}
//	/run before /init              500 {"error":"no action defined yet"}
//	/run result object or array    200 <result>
//	/run other result              502 {"error":"The action did not return a dictionary or array."}
//	/run child exits meanwhile     400 {"error":"command exited"}
//	/run after the child exited    500 {"error":"command exited"}
package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"go.uber.org/zap"
)

// Sentinel is the line written to stdout and stderr after every activation.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Texts of the error bodies the proxy answers with.
const (
	MsgInitTwice   = "Cannot initialize the action more than once."
	MsgNoCode      = "Missing main/no code to execute."
	MsgNotInit     = "no action defined yet"
	MsgNotDict     = "The action did not return a dictionary or array."
	MsgExited      = "command exited"
	MsgStartFailed = "Cannot start action. Check logs for details."
)

// Config configures a Server. The zero value of every field but Stdout and Stderr is usable.
type Config struct {
	// Dir is where actions are stored, one numbered directory per /init attempt.
	// Default "/action".
	Dir string
	// Compiler, when set, turns a src directory that holds no executable into bin/exec;
	// it is called as `<Compiler> <main> <srcdir> <bindir>` (the OW_COMPILER contract).
	Compiler string
	// WaitForAck makes /init wait for the child's first fd-3 line ({"ok":true} or
	// {"error":…}) before answering; the child sees __OW_WAIT_FOR_ACK=1.
	WaitForAck bool
	// Env is the base environment of the child ("KEY=VALUE"), usually the container's;
	// the /init env is laid over it. Nil means an empty base.
	Env []string
	// Stdout and Stderr are the container's streams. The child writes to them directly, so
	// its lines always precede the sentinels written after its result. Required.
	Stdout, Stderr *os.File
	// MaxRequestBytes bounds /init and /run bodies. Default 128 MiB.
	MaxRequestBytes int64
	// MaxResultBytes bounds one result line from the child. Default 64 MiB.
	MaxResultBytes int64
	// MaxUnzipBytes bounds the extracted size of a zipped action. Default 1 GiB.
	MaxUnzipBytes int64
	// Concurrent lets /run requests reach the child at once, tagged (see router); for
	// containers started with __OW_ALLOW_CONCURRENT=true whose launcher supports it.
	Concurrent bool
	// Log receives the proxy's own diagnostics (never parameters, results or code).
	// Nil means no logging: the proxy's stderr is the user's log.
	Log *zap.Logger
}

func (c *Config) validate() error {
	if c.Dir == "" {
		c.Dir = "/action"
	}
	if c.Stdout == nil || c.Stderr == nil {
		return errors.New("proxy: stdout and stderr are required")
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 128 << 20
	}
	if c.MaxResultBytes <= 0 {
		c.MaxResultBytes = 64 << 20
	}
	if c.MaxUnzipBytes <= 0 {
		c.MaxUnzipBytes = 1 << 30
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return nil
}

// Server is the proxy's state: at most one initialized action and its child process.
// It is an http.Handler; use it with an http.Server on :8080.
type Server struct {
	cfg Config
	log *zap.Logger

	mu       sync.Mutex // guards the fields below
	attempts int        // /init attempts so far, names the action directories
	initing  bool
	child    *child  // nil until an /init succeeded
	router   *router // concurrent mode only

	runSlot chan struct{} // one /run at a time talks to the child
}

var _ http.Handler = (*Server)(nil)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	slots := 1
	if cfg.Concurrent {
		slots = 1024
	}
	return &Server{cfg: cfg, log: cfg.Log.Named("proxy"), runSlot: make(chan struct{}, slots)}, nil
}

// ServeHTTP routes POST /init and POST /run.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/init", "/run":
	default:
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if r.URL.Path == "/init" {
		s.handleInit(w, r)
		return
	}
	s.handleRun(w, r)
}

// Close kills the child, if any. The Server answers /run with an error afterwards.
func (s *Server) Close() error {
	s.mu.Lock()
	c := s.child
	s.mu.Unlock()
	if c != nil {
		c.kill()
		<-c.exited
	}
	return nil
}

// initRequest is the /init body.
type initRequest struct {
	Value *initValue `json:"value"`
}

type initValue struct {
	Name   string                     `json:"name"`
	Main   string                     `json:"main"`
	Binary bool                       `json:"binary"`
	Code   *string                    `json:"code"`
	Env    map[string]json.RawMessage `json:"env"`
}

func (s *Server) handleInit(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.cfg.MaxRequestBytes)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("cannot read the request: %v", err))
		return
	}
	var req initRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Value == nil {
		if err == nil {
			err = errors.New(`missing "value"`)
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid /init request: %v", err))
		return
	}

	s.mu.Lock()
	if s.child != nil || s.initing {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, MsgInitTwice)
		return
	}
	s.initing = true
	s.attempts++
	dir := filepath.Join(s.cfg.Dir, strconv.Itoa(s.attempts))
	s.mu.Unlock()

	c, status, msg := s.initAction(r.Context(), dir, req.Value)

	s.mu.Lock()
	s.initing = false
	if c != nil {
		s.child = c
	}
	s.mu.Unlock()
	if c == nil {
		s.log.Info("init failed", zap.Int("status", status))
		writeError(w, status, msg)
		return
	}
	s.log.Info("init done", zap.String("dir", dir))
	writeJSON(w, http.StatusOK, []byte(`{"ok":true}`))
}

// initAction stores the code in dir, compiles it if needed and starts the child.
// It returns the child, or an HTTP status and error text.
func (s *Server) initAction(ctx context.Context, dir string, v *initValue) (*child, int, string) {
	src, bin := filepath.Join(dir, "src"), filepath.Join(dir, "bin")
	for _, d := range []string{src, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, http.StatusInternalServerError, fmt.Sprintf("cannot create %s: %v", d, err)
		}
	}
	main := v.Main
	if main == "" {
		main = "main"
	}

	switch {
	case v.Code != nil && *v.Code != "":
		if err := s.storeCode(src, *v.Code, v.Binary); err != nil {
			return nil, http.StatusBadGateway, err.Error()
		}
	default:
		// A blackbox image may bring its own /action/exec.
		img := filepath.Join(s.cfg.Dir, "exec")
		if !isFile(img) {
			return nil, http.StatusForbidden, MsgNoCode
		}
		if err := copyFile(img, filepath.Join(src, "exec"), 0o755); err != nil {
			return nil, http.StatusBadGateway, err.Error()
		}
	}

	execPath := filepath.Join(bin, "exec")
	srcExec := filepath.Join(src, "exec")
	switch {
	case isFile(srcExec) && isExecutable(srcExec):
		if err := os.Rename(srcExec, execPath); err != nil {
			return nil, http.StatusBadGateway, fmt.Sprintf("cannot install the executable: %v", err)
		}
		if err := os.Chmod(execPath, 0o755); err != nil {
			return nil, http.StatusBadGateway, fmt.Sprintf("cannot install the executable: %v", err)
		}
	case s.cfg.Compiler != "":
		if msg, err := compile(ctx, s.cfg.Compiler, main, src, bin, s.childEnv(v.Env)); err != nil {
			s.log.Info("compile failed", zap.Error(err))
			return nil, http.StatusBadGateway, msg
		}
		if !isFile(execPath) {
			return nil, http.StatusBadGateway, "the compiler did not produce an executable"
		}
	case isFile(srcExec):
		return nil, http.StatusBadGateway, "the action is not an executable (no ELF header or #! line) and this runtime has no compiler"
	default:
		return nil, http.StatusBadGateway, "the action has no file named exec and this runtime has no compiler"
	}

	env := s.childEnv(v.Env)
	if s.cfg.WaitForAck {
		env = append(env, "__OW_WAIT_FOR_ACK=1")
	}
	c, err := startChild(execPath, src, env, s.cfg.Stdout, s.cfg.Stderr, s.cfg.MaxResultBytes)
	if err != nil {
		return nil, http.StatusBadGateway, fmt.Sprintf("cannot start the action: %v", err)
	}
	if !s.cfg.WaitForAck {
		return c, 0, ""
	}
	line, err := c.next(ctx)
	if err != nil {
		c.kill()
		<-c.exited
		if errors.Is(err, errExited) {
			return nil, http.StatusBadGateway, MsgStartFailed
		}
		return nil, http.StatusBadGateway, fmt.Sprintf("waiting for the action to start: %v", err)
	}
	var ack struct {
		OK    bool            `json:"ok"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(line, &ack); err != nil || !ack.OK {
		c.kill()
		<-c.exited
		if len(ack.Error) > 0 {
			var text string
			if json.Unmarshal(ack.Error, &text) == nil {
				return nil, http.StatusBadGateway, text
			}
			return nil, http.StatusBadGateway, string(ack.Error)
		}
		return nil, http.StatusBadGateway, "the action did not acknowledge its start"
	}
	return c, 0, ""
}

// storeCode writes inline code to src/exec, or decodes base64 code and either extracts it
// (zip) or writes it to src/exec.
func (s *Server) storeCode(src, code string, binary bool) error {
	data := []byte(code)
	if binary {
		dec, err := base64.StdEncoding.DecodeString(code)
		if err != nil {
			return fmt.Errorf("cannot decode the binary action (base64): %w", err)
		}
		data = dec
		if isZip(data) {
			if err := unzip(data, src, s.cfg.MaxUnzipBytes); err != nil {
				return fmt.Errorf("cannot extract the zipped action: %w", err)
			}
			return nil
		}
	}
	if err := os.WriteFile(filepath.Join(src, "exec"), data, 0o755); err != nil {
		return fmt.Errorf("cannot write the action: %w", err)
	}
	return nil
}

// childEnv is the base environment with the /init env laid over it.
func (s *Server) childEnv(initEnv map[string]json.RawMessage) []string {
	env := make([]string, 0, len(s.cfg.Env)+len(initEnv))
	for _, kv := range s.cfg.Env {
		k, _, _ := cutEnv(kv)
		if _, over := initEnv[k]; over {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range initEnv {
		env = append(env, k+"="+envText(v))
	}
	return env
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// envText renders a JSON value as an environment string: strings as they are, null as "",
// anything else as compact JSON.
func envText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.cfg.MaxRequestBytes)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("cannot read the request: %v", err))
		return
	}
	var line bytes.Buffer
	if err := json.Compact(&line, body); err != nil || !isObject(line.Bytes()) {
		writeError(w, http.StatusBadRequest, "invalid /run request: the body must be a JSON object")
		return
	}

	s.mu.Lock()
	c, rt := s.child, s.router
	if c != nil && s.cfg.Concurrent && rt == nil {
		rt = newRouter(c)
		s.router = rt
	}
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusInternalServerError, MsgNotInit)
		return
	}

	select {
	case s.runSlot <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-s.runSlot }()

	if !c.usable() {
		writeError(w, http.StatusInternalServerError, MsgExited)
		s.writeSentinels()
		return
	}
	line.WriteByte('\n')
	var result []byte
	if rt != nil {
		result, err = rt.call(r.Context(), line.Bytes())
	} else {
		result, err = c.call(r.Context(), line.Bytes())
	}
	s.writeSentinels()
	switch {
	case errors.Is(err, errExited):
		writeError(w, http.StatusBadRequest, MsgExited)
	case err != nil:
		// The caller went away (deadline) or the result was unreadable; the child's state is
		// unknown, so it was killed and later runs fail.
		s.log.Info("run aborted", zap.Error(err))
		writeError(w, http.StatusBadGateway, fmt.Sprintf("the action was aborted: %v", err))
	case !isObject(result) && !isArray(result):
		writeError(w, http.StatusBadGateway, MsgNotDict)
	default:
		writeJSON(w, http.StatusOK, result)
	}
}

func (s *Server) writeSentinels() {
	_, _ = io.WriteString(s.cfg.Stdout, Sentinel+"\n")
	_, _ = io.WriteString(s.cfg.Stderr, Sentinel+"\n")
}

func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, max))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	writeJSON(w, status, body)
}

// isObject reports whether compact or trimmed JSON text starts an object.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

func isArray(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '[' && json.Valid(b)
}
