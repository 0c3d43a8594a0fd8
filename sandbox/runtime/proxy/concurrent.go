package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"
)

// Concurrent mode: with Config.Concurrent (the container has __OW_ALLOW_CONCURRENT=true and
// its launcher supports it) several /run requests talk to the child at once. Each request
// line gets a sequence number in the member "__ow_seq"; the launcher answers each with
// {"__ow_seq": n, "result": <result>} in whatever order the activations finish, and a
// router hands every answer to the request waiting for it.
type router struct {
	c *child

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan lineOrErr
	done    chan struct{}
}

func newRouter(c *child) *router {
	r := &router{c: c, pending: map[uint64]chan lineOrErr{}, done: make(chan struct{})}
	go r.loop()
	return r
}

// loop reads every result line and routes it; when the child's results end, every waiting
// request fails with errExited.
func (r *router) loop() {
	defer close(r.done)
	for l := range r.c.lines {
		if l.err != nil {
			r.c.kill()
			break
		}
		var tagged struct {
			Seq    *uint64         `json:"__ow_seq"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(l.line, &tagged); err != nil || tagged.Seq == nil {
			// An answer nobody can claim: the launcher does not speak this mode.
			r.c.kill()
			break
		}
		r.mu.Lock()
		ch := r.pending[*tagged.Seq]
		delete(r.pending, *tagged.Seq)
		r.mu.Unlock()
		if ch != nil {
			ch <- lineOrErr{line: tagged.Result}
		}
	}
	r.c.broken.Store(true)
	r.mu.Lock()
	for seq, ch := range r.pending {
		ch <- lineOrErr{err: errExited}
		delete(r.pending, seq)
	}
	r.mu.Unlock()
}

// call sends one tagged request and waits for its answer. ctx ending kills the child (its
// state is unknown; the invoker destroys such a container).
func (r *router) call(ctx context.Context, line []byte) ([]byte, error) {
	ch := make(chan lineOrErr, 1)
	r.mu.Lock()
	select {
	case <-r.done:
		r.mu.Unlock()
		return nil, errExited
	default:
	}
	seq := r.next
	r.next++
	r.pending[seq] = ch
	_, err := r.c.stdin.Write(tag(line, seq))
	r.mu.Unlock()
	if err != nil {
		r.c.kill()
		return nil, errExited
	}
	select {
	case l := <-ch:
		return l.line, l.err
	case <-ctx.Done():
		r.c.kill()
		return nil, ctx.Err()
	}
}

// tag inserts "__ow_seq":seq as the first member of a compact JSON object line.
func tag(line []byte, seq uint64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"__ow_seq":`)
	b.WriteString(strconv.FormatUint(seq, 10))
	rest := bytes.TrimSpace(line)[1:]
	if len(bytes.TrimSpace(rest)) > 1 { // not "}"
		b.WriteByte(',')
	}
	b.Write(rest)
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	return b.Bytes()
}
