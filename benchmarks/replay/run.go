package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/owinvoker/owinvoker/benchmarks/workload"
)

// Annotations owinvoker adds to activation records (invoker/harvesting.go).
const (
	annPeakMemMB      = "harvest.peakMemMB"
	annPeakCPUMillis  = "harvest.peakCpuMillis"
	annAllocCPUMillis = "harvest.allocCpuMillis"
	annLentMemMB      = "harvest.lentMemMB"
	annBorrowedMemMB  = "harvest.borrowedMemMB"
	annLentCPUMillis  = "harvest.lentCpuMillis"
	annBorrowedCPU    = "harvest.borrowedCpuMillis"
	annInvoker        = "harvest.invoker"
	annCPUMs          = "harvest.cpuMs"
)

// Config says where and how to replay.
type Config struct {
	APIHost   string // e.g. http://127.0.0.1:3233
	Auth      string // uuid:key
	Namespace string // default "_"
	// MaxInFlight bounds the invocations waiting for an answer (default 1024).
	// An invocation due while the bound is reached is not sent: its row says so.
	MaxInFlight int
	// ResultWait bounds how long an invocation is followed, polling included
	// (default: the action timeout plus 2 minutes).
	ResultWait time.Duration
	// Progress, when set, gets a live progress line every half second.
	Progress io.Writer
}

// Replayer sends one plan.
type Replayer struct {
	cfg  Config
	c    *client
	plan *workload.Plan
}

// New checks cfg and returns a Replayer for plan.
func New(cfg Config, plan *workload.Plan) (*Replayer, error) {
	if plan == nil || len(plan.Functions) == 0 {
		return nil, errors.New("replay: empty plan")
	}
	c, err := newClient(cfg.APIHost, cfg.Auth, cfg.Namespace)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1024
	}
	if cfg.ResultWait <= 0 {
		cfg.ResultWait = time.Duration(plan.TimeoutMS)*time.Millisecond + 2*time.Minute
	}
	return &Replayer{cfg: cfg, c: c, plan: plan}, nil
}

// Deploy creates (or replaces) every action of the plan.
func (r *Replayer) Deploy(ctx context.Context) error {
	for _, f := range r.plan.Functions {
		if err := r.c.putAction(ctx, f.Name, r.plan.Kind, workload.ActionCode, f.DeclaredMB, r.plan.TimeoutMS); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	}
	return nil
}

// WaitInvokers waits until the controller reports at least n healthy invokers.
func (r *Replayer) WaitInvokers(ctx context.Context, n int) error {
	for {
		got, err := r.c.healthyInvokers(ctx)
		if err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replay: waiting for %d healthy invokers (last: %d, %v): %w", n, got, err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Clean deletes the plan's actions.
func (r *Replayer) Clean(ctx context.Context) error {
	var errs []error
	for _, f := range r.plan.Functions {
		errs = append(errs, r.c.deleteAction(ctx, f.Name))
	}
	return errors.Join(errs...)
}

// Run sends every invocation at its time and waits for all of them. It returns
// one row per invocation, in plan order, and the wall-clock time the replay
// started (row times are relative to it). When ctx ends, invocations not yet
// sent are not sent and those in flight are abandoned; their rows say so.
func (r *Replayer) Run(ctx context.Context) ([]Row, time.Time, error) {
	p := r.plan
	rows := make([]Row, len(p.Invocations))
	for i, inv := range p.Invocations {
		f := p.Functions[inv.Function]
		rows[i] = Row{Seq: inv.Seq, Function: f.Name, Class: f.Class.String(), DeclaredMB: f.DeclaredMB,
			CPU: inv.CPU, RunMS: inv.RunMS, MB: inv.MB, ScheduledMS: ms(inv.At)}
	}
	var st progress
	st.total = len(rows)
	stopProgress := r.startProgress(&st)
	defer stopProgress()

	start := time.Now()
	slots := make(chan struct{}, r.cfg.MaxInFlight)
	var wg sync.WaitGroup
	for i, inv := range p.Invocations {
		if d := time.Until(start.Add(inv.At)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		row := &rows[i]
		if ctx.Err() != nil {
			row.Status, row.Error = StatusClientError, "not sent: replay cancelled"
			st.finished(row)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			row.Status, row.Error = StatusClientError, fmt.Sprintf("not sent: %d invocations in flight", r.cfg.MaxInFlight)
			st.finished(row)
			continue
		}
		st.sent.Add(1)
		st.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.one(ctx, start, p.Functions[inv.Function].Name, inv, row)
			st.inFlight.Add(-1)
			st.finished(row)
		}()
	}
	wg.Wait()
	return rows, start, nil
}

// one sends an invocation and fills its row.
func (r *Replayer) one(ctx context.Context, start time.Time, name string, inv workload.Invocation, row *Row) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ResultWait)
	defer cancel()
	since := func() float64 { return ms(time.Since(start)) }
	row.SubmitMS = since()
	code, body, err := r.c.invoke(ctx, name, inv.Params())
	row.ResponseMS = since()
	row.LatencyMS = row.ResponseMS - row.SubmitMS
	row.HTTPStatus = code
	if err != nil {
		row.Status, row.Error = StatusClientError, err.Error()
		return
	}
	var act activation
	switch {
	case code == http.StatusAccepted:
		var ans struct {
			ActivationID string `json:"activationId"`
		}
		if json.Unmarshal(body, &ans) != nil || ans.ActivationID == "" {
			row.Status, row.Error = StatusClientError, "202 without an activation id: "+clip(body)
			return
		}
		row.ActivationID = ans.ActivationID
		for {
			a, found, err := r.c.activation(ctx, ans.ActivationID)
			if err == nil && found {
				act = *a
				break
			}
			select {
			case <-ctx.Done():
				row.Status, row.Error = StatusClientError, "no record for "+ans.ActivationID+": "+ctx.Err().Error()
				return
			case <-time.After(pollInterval):
			}
		}
		row.ResponseMS = since()
		row.LatencyMS = row.ResponseMS - row.SubmitMS
	case json.Unmarshal(body, &act) == nil && act.ActivationID != "":
	default:
		row.Status, row.Error = StatusClientError, fmt.Sprintf("%d %s", code, clip(body))
		return
	}
	fill(row, &act, start)
}

// fill copies what an activation record says into row.
func fill(row *Row, a *activation, start time.Time) {
	row.ActivationID = a.ActivationID
	row.Status = a.Response.Status
	base := start.UnixMilli()
	if a.Start > 0 {
		row.StartMS = float64(a.Start - base)
	}
	if a.End > 0 {
		row.EndMS = float64(a.End - base)
	}
	if a.Duration != nil {
		row.DurationMS = *a.Duration
	}
	row.WaitMS, _ = a.intAnnotation("waitTime")
	row.InitMS, row.Cold = a.intAnnotation("initTime")
	if raw, ok := a.annotation("timeout"); ok && string(raw) == "true" {
		row.Timeout = true
	}
	row.Invoker = a.stringAnnotation(annInvoker)
	get := func(key string) int { v, _ := a.intAnnotation(key); return int(v) }
	row.PeakMemMB, row.PeakCPUMillis, row.AllocCPUMillis = get(annPeakMemMB), get(annPeakCPUMillis), get(annAllocCPUMillis)
	row.LentMemMB, row.BorrowedMemMB = get(annLentMemMB), get(annBorrowedMemMB)
	row.LentCPUMillis, row.BorrowedCPU = get(annLentCPUMillis), get(annBorrowedCPU)

	var res struct {
		CPUMs float64 `json:"cpuMs"`
		Error any     `json:"error"`
	}
	if json.Unmarshal(a.Response.Result, &res) == nil {
		row.CPUMs = int64(res.CPUMs)
		if res.Error != nil {
			s, ok := res.Error.(string)
			if !ok {
				b, _ := json.Marshal(res.Error)
				s = string(b)
			}
			row.Error = s
			row.OOM = row.Status != "success" && strings.Contains(s, "exhausted its memory")
		}
	}
	if row.CPUMs == 0 {
		// The action did not answer (killed, timed out): the invoker's profile says.
		row.CPUMs = int64(get(annCPUMs))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// progress counts a run for the progress line.
type progress struct {
	total                   int
	sent, inFlight, done    atomic.Int64
	failed, oom, cold, tout atomic.Int64
}

func (p *progress) finished(row *Row) {
	p.done.Add(1)
	switch {
	case row.OOM:
		p.oom.Add(1)
		p.failed.Add(1)
	case row.Timeout:
		p.tout.Add(1)
		p.failed.Add(1)
	case row.Status != "success":
		p.failed.Add(1)
	}
	if row.Cold {
		p.cold.Add(1)
	}
}

func (p *progress) line() string {
	const width = 30
	done := int(p.done.Load())
	fill := 0
	if p.total > 0 {
		fill = done * width / p.total
	}
	sent := p.sent.Load()
	return fmt.Sprintf("[%s%s] %d/%d sent, %d done, %d in flight, %d cold, %d failed (%d OOM, %d timeouts)",
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), sent, p.total, done,
		p.inFlight.Load(), p.cold.Load(), p.failed.Load(), p.oom.Load(), p.tout.Load())
}

func (r *Replayer) startProgress(p *progress) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(r.cfg.Progress, "\r%s\n", p.line())
				return
			case <-t.C:
				fmt.Fprintf(r.cfg.Progress, "\r%s", p.line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
