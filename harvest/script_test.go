package harvest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/harvest/predict"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the output the harvester gives")

// A script in testdata/ is a sequence of commands, each followed by "----", the output it must
// give, and a blank line. Lines starting with # are comments. Every command takes t=<duration
// since the script's epoch> (default: the time of the previous command).
//
//	config [key=value...]          a new Harvester: cpu=off mem=off mem-safeguard=<f>
//	                               cpu-safeguard=<f|off> headroom=<MB> min-mem=<MB> min-cpu=<m>
//	                               stale=<d> admit min-samples=<n> (only as the first command)
//	start id=<act> c=<container> mem=<MB> cpu=<m> [scratch=<MB>] [warm] [harvested=<MB>]
//	      [pred-mem=<MB> pred-cpu=<m> peak-mem=<MB> peak-cpu=<m>]
//	      [action=<name> rev=<rev> input=<bytes>]
//	                               with no pred-* the prediction comes from Harvester.Predict
//	sample c=<container> [cpu=<m>] [mem=<MB>] [peak=<MB>]
//	end id=<act> [cpu=<m> mem=<MB>]    a profile when cpu or mem is given
//	remove c=<container>
//	tick
//	fail c=<container> [older]     UpdateFailed for the container's last (or the one before)
//	                               Resize handed out
//	state                          the ledger, one line per container, then the pools
//	predict [action=<name>] [rev=<rev>] [input=<bytes>]
//
// Commands that change the ledger print the Ready they produced ("ok" when empty); start
// prints the size first, fail an error if any.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type scriptCase struct {
	pre  []string
	cmd  string
	line int
	want string
}

func parseScript(t *testing.T, file string) (cases []scriptCase, tail []string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		c := scriptCase{pre: pre, cmd: l, line: i + 1}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command %q is not followed by ----", file, i+1, l)
		}
		i += 2
		var out []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			out = append(out, lines[i])
		}
		c.want = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases, pre
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type driver struct {
	h    *Harvester
	now  time.Time
	last map[string][]Resize // Resizes handed out per container
}

func runScript(t *testing.T, file string) {
	cases, tail := parseScript(t, file)
	d := &driver{now: epoch, last: map[string][]Resize{}}
	var err error
	if d.h, err = New(Config{}); err != nil {
		t.Fatal(err)
	}
	var rewritten strings.Builder
	for i, c := range cases {
		got, err := d.run(c.cmd, i == 0)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, c.line, c.cmd, err)
		}
		if !*update && got != c.want {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", file, c.line, c.cmd, got, c.want)
		}
		for _, l := range c.pre {
			rewritten.WriteString(l + "\n")
		}
		fmt.Fprintf(&rewritten, "%s\n----\n%s\n\n", c.cmd, got)
	}
	for _, l := range tail {
		rewritten.WriteString(l + "\n")
	}
	if *update {
		out := strings.TrimRight(rewritten.String(), "\n") + "\n"
		if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type args map[string]string

func (a args) int(key string, def int) (int, error) {
	v, ok := a[key]
	if !ok {
		return def, nil
	}
	delete(a, key)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", key, v, err)
	}
	return n, nil
}

func (a args) str(key, def string) string {
	v, ok := a[key]
	if !ok {
		return def
	}
	delete(a, key)
	return v
}

func (a args) flag(key string) bool {
	_, ok := a[key]
	delete(a, key)
	return ok
}

func (a args) has(keys ...string) bool {
	for _, k := range keys {
		if _, ok := a[k]; ok {
			return true
		}
	}
	return false
}

func (d *driver) run(line string, first bool) (string, error) {
	fields := strings.Fields(line)
	cmd, a := fields[0], args{}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		a[k] = v
	}
	if v, ok := a["t"]; ok {
		dur, err := time.ParseDuration(v)
		if err != nil {
			return "", fmt.Errorf("t=%q: %w", v, err)
		}
		delete(a, "t")
		d.now = epoch.Add(dur)
	}
	var out []string
	var err error
	switch cmd {
	case "config":
		if !first {
			return "", fmt.Errorf("config must come first")
		}
		err = d.config(a)
	case "start":
		var s string
		s, err = d.start(a)
		out = append(out, s)
	case "sample":
		var cpu, mem, peak int
		if cpu, err = a.int("cpu", 0); err == nil {
			if mem, err = a.int("mem", 0); err == nil {
				peak, err = a.int("peak", 0)
			}
		}
		d.h.Sample(d.now, a.str("c", ""), cpu, mem, peak)
	case "end":
		var p Profile
		if a.has("cpu", "mem") {
			p.Samples = 1
		}
		if p.PeakCPUMillis, err = a.int("cpu", 0); err == nil {
			p.PeakMemoryMB, err = a.int("mem", 0)
		}
		var cpuTime, throttled, dur int
		if err == nil {
			cpuTime, err = a.int("cputime", 0)
		}
		if err == nil {
			throttled, err = a.int("throttled", 0)
		}
		if err == nil {
			dur, err = a.int("dur", 0)
		}
		ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
		p.CPUTime, p.Throttled, p.Duration = ms(cpuTime), ms(throttled), ms(dur)
		p.OOMKilled = a.flag("oom")
		if err == nil {
			if e := d.h.End(d.now, a.str("id", ""), p); e != nil {
				out = append(out, "error: "+e.Error())
			}
		}
	case "remove":
		if !d.h.Remove(d.now, a.str("c", "")) {
			out = append(out, "unknown container")
		}
	case "tick":
		d.h.Tick(d.now)
	case "fail":
		id, n := a.str("c", ""), 1
		if a.flag("older") {
			n = 2
		}
		rs := d.last[id]
		if len(rs) < n {
			return "", fmt.Errorf("no resize of %s handed out", id)
		}
		r := rs[len(rs)-n]
		if e := d.h.UpdateFailed(d.now, r); e != nil {
			out = append(out, "error: "+e.Error())
		}
	case "state":
		return d.state(), nil
	case "predict":
		var in int
		if in, err = a.int("input", -1); err == nil {
			p := d.h.Predict(predict.Key{Namespace: "guest", Action: a.str("action", "fn"), Revision: a.str("rev", "1-a")}, int64(in))
			out = append(out, fmt.Sprintf("%+v", p))
		}
	default:
		return "", fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		return "", err
	}
	if len(a) > 0 {
		return "", fmt.Errorf("unknown arguments %v", a)
	}
	out = append(out, d.ready()...)
	if len(out) == 0 {
		out = append(out, "ok")
	}
	return strings.Join(out, "\n"), nil
}

func (d *driver) config(a args) error {
	var cfg Config
	var err error
	cfg.DisableCPU = a.str("cpu", "on") == "off"
	cfg.DisableMemory = a.str("mem", "on") == "off"
	cfg.AdmitOnHarvest = a.flag("admit")
	if v := a.str("mem-safeguard", ""); v != "" {
		if cfg.MemorySafeguard, err = strconv.ParseFloat(v, 64); err != nil {
			return err
		}
	}
	switch v := a.str("cpu-safeguard", ""); v {
	case "":
	case "off":
		cfg.DisableCPUSafeguard = true
	default:
		if cfg.CPUSafeguard, err = strconv.ParseFloat(v, 64); err != nil {
			return err
		}
	}
	if cfg.HeadroomMB, err = a.int("headroom", 0); err != nil {
		return err
	}
	if cfg.MinMemoryMB, err = a.int("min-mem", 0); err != nil {
		return err
	}
	if cfg.MinCPUMillis, err = a.int("min-cpu", 0); err != nil {
		return err
	}
	if cfg.Predict.MinSamples, err = a.int("min-samples", 0); err != nil {
		return err
	}
	if v := a.str("stale", ""); v != "" {
		if cfg.StaleAfter, err = time.ParseDuration(v); err != nil {
			return err
		}
	}
	d.h, err = New(cfg)
	return err
}

func (d *driver) start(a args) (string, error) {
	var act Activation
	var err error
	act.ID, act.ContainerID, act.Warm = a.str("id", ""), a.str("c", ""), a.flag("warm")
	act.Key = predict.Key{Namespace: "guest", Action: a.str("action", "fn"), Revision: a.str("rev", "1-a")}
	var in int
	ints := []struct {
		key string
		dst *int
	}{{"mem", &act.AllocMemoryMB}, {"cpu", &act.AllocCPUMillis}, {"scratch", &act.ScratchMB},
		{"harvested", &act.HarvestedMB}, {"input", &in},
		{"pred-mem", &act.Prediction.MemoryMB}, {"pred-cpu", &act.Prediction.CPUMillis},
		{"peak-mem", &act.Prediction.PeakMemoryMB}, {"peak-cpu", &act.Prediction.PeakCPUMillis}}
	explicit := a.has("pred-mem", "pred-cpu", "peak-mem", "peak-cpu")
	for _, f := range ints {
		def := 0
		if f.key == "input" {
			def = -1
		}
		if *f.dst, err = a.int(f.key, def); err != nil {
			return "", err
		}
	}
	act.InputBytes = int64(in)
	if explicit {
		act.Prediction.OK = true
	} else {
		act.Prediction = d.h.Predict(act.Key, act.InputBytes)
	}
	size, err := d.h.Start(d.now, act)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	s := fmt.Sprintf("size cpu=%d mem=%d", size.CPUMillis, size.MemoryMB)
	if !explicit {
		if act.Prediction.OK {
			s += fmt.Sprintf(" (predicted cpu=%d mem=%d from %d samples)", act.Prediction.CPUMillis, act.Prediction.MemoryMB, act.Prediction.Samples)
		} else {
			s += " (no prediction)"
		}
	}
	return s, nil
}

func (d *driver) ready() []string {
	rd := d.h.Ready()
	var out []string
	for _, r := range rd.Resizes {
		d.last[r.ContainerID] = append(d.last[r.ContainerID], r)
		out = append(out, fmt.Sprintf("resize %s cpu %d→%d mem %d→%d (%s)", r.ContainerID,
			r.FromCPUMillis, r.CPUMillis, r.FromMemoryMB, r.MemoryMB, r.Reason))
	}
	for _, e := range rd.Events {
		who := e.ContainerID
		if e.ActivationID != "" {
			who += "/" + e.ActivationID
		}
		if who == "" {
			out = append(out, fmt.Sprintf("event %s %s %d", e.Kind, e.Resource, e.Amount))
			continue
		}
		out = append(out, fmt.Sprintf("event %s %s %s %d", e.Kind, who, e.Resource, e.Amount))
	}
	return out
}

func (d *driver) state() string {
	var out []string
	for _, c := range d.h.order {
		act := "idle"
		if c.act != nil {
			act = "running " + c.act.ID
		}
		use := "use ?"
		if c.sampled {
			use = fmt.Sprintf("use cpu=%d mem=%d", c.cpuMillis, c.usedMB)
		}
		extra := ""
		if c.scratch > 0 {
			extra += fmt.Sprintf(" scratch=%d", c.scratch)
		}
		if c.admitted > 0 {
			extra += fmt.Sprintf(" admitted=%d", c.admitted)
		}
		out = append(out, fmt.Sprintf("%s %s: cpu %d/%d mem %d/%d%s, %s", c.id, act,
			c.limit[CPU], c.alloc[CPU], c.limit[Memory], c.alloc[Memory], extra, use))
	}
	st := d.h.Stats()
	for _, p := range []struct {
		name string
		p    Pool
	}{{"cpu", st.CPU}, {"mem", st.Memory}} {
		out = append(out, fmt.Sprintf("%s: lent %d borrowed %d admitted %d free %d debt %d",
			p.name, p.p.Lent, p.p.Borrowed, p.p.Admitted, p.p.Free, p.p.Debt))
	}
	cpu, mem := d.h.Lendable()
	out = append(out, fmt.Sprintf("lendable cpu=%d mem=%d admissible(4096)=%d", cpu, mem, d.h.AdmissibleMB(4096)))
	return strings.Join(out, "\n")
}
