package balancer

import (
	"errors"
	"fmt"
	"math"
	mrand "math/rand"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"testing/quick"
	"unicode/utf16"
)

// refBalancer is a deliberately simple version of OpenWhisk's sharding placement, to
// check Balancer against: it recomputes everything on every call and transcribes
// upstream's recursive probe of n+1 steps.
type refBalancer struct {
	managedFraction, blackboxFraction float64
	rnd                               *rand.Rand

	invokers []refInvoker
	inflight map[string]refEntry
}

type refInvoker struct {
	healthy  bool
	capacity int
	single   int            // memory held by activations of concurrency-1 actions
	running  map[string]int // in-flight count per concurrent action (name@version)
}

type refEntry struct {
	invoker int
	act     refAction
}

func refJavaHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = h*31 + int32(u)
	}
	return h
}

func refSteps(x int) []int {
	var primes []int
	for cur := 1; cur <= x; cur++ {
		ok := gcd(cur, x) == 1
		for _, p := range primes {
			ok = ok && gcd(p, cur) == 1
		}
		if ok {
			primes = append(primes, cur)
		}
	}
	return primes
}

// used is the memory an invoker's activations hold: concurrent actions count
// ceil(in flight / c) containers.
func (r *refBalancer) used(i int, acts map[string]refAction) int {
	inv := r.invokers[i]
	u := inv.single
	for k, n := range inv.running {
		a := acts[k]
		u += (n + a.c - 1) / a.c * a.mem
	}
	return u
}

func (r *refBalancer) fits(i int, a refAction, acts map[string]refAction) bool {
	if a.c > 1 && r.invokers[i].running[a.key()]%a.c != 0 {
		return true // a counted container has a free slot
	}
	return r.invokers[i].capacity-r.used(i, acts) >= a.mem
}

func (r *refBalancer) take(i int, a refAction) {
	if a.c > 1 {
		r.invokers[i].running[a.key()]++
	} else {
		r.invokers[i].single += a.mem
	}
}

func (r *refBalancer) schedule(id string, a refAction, acts map[string]refAction) (int, bool, error) {
	n := len(r.invokers)
	managed := int(math.Max(1, math.Ceil(float64(n)*r.managedFraction)))
	blackbox := int(math.Max(1, math.Floor(float64(n)*r.blackboxFraction)))
	var pool []int
	for i := range n {
		if (!a.blackbox && i < managed) || (a.blackbox && i >= n-blackbox) {
			pool = append(pool, i)
		}
	}
	if len(pool) == 0 {
		return 0, false, ErrNoInvokers
	}
	var steps []int
	if a.blackbox {
		steps = refSteps(min(blackbox, n))
	} else {
		steps = refSteps(min(managed, n))
	}
	x := int64(refJavaHash(a.ns) ^ refJavaHash(a.name))
	if x < 0 {
		x = -x
	}
	hash := int(x)
	var probe func(index, stepsDone int) (int, bool, error)
	probe = func(index, stepsDone int) (int, bool, error) {
		inv := pool[index]
		if r.invokers[inv].healthy && r.fits(inv, a, acts) {
			r.take(inv, a)
			return inv, false, nil
		}
		if stepsDone == len(pool)+1 {
			var healthy []int
			for _, i := range pool {
				if r.invokers[i].healthy {
					healthy = append(healthy, i)
				}
			}
			if len(healthy) == 0 {
				return 0, false, ErrNoInvokers
			}
			inv := healthy[r.rnd.IntN(len(healthy))]
			r.take(inv, a)
			return inv, true, nil
		}
		return probe((index+steps[hash%len(steps)])%len(pool), stepsDone+1)
	}
	inv, forced, err := probe(hash%len(pool), 0)
	if err == nil {
		r.inflight[id] = refEntry{inv, a}
	}
	return inv, forced, err
}

func (r *refBalancer) release(id string) {
	e := r.inflight[id]
	delete(r.inflight, id)
	if e.act.c > 1 {
		r.invokers[e.invoker].running[e.act.key()]--
	} else {
		r.invokers[e.invoker].single -= e.act.mem
	}
}

type refAction struct {
	ns, name, version string
	mem, c            int
	blackbox          bool
}

func (a refAction) key() string { return a.name + "@" + a.version }

// scenario is a random cluster and a random sequence of operations on it.
type scenario struct {
	Seed             uint64
	ManagedFraction  float64
	BlackboxFraction float64
	Invokers         []Invoker
	Actions          []refAction
	Ops              []scenarioOp
}

type scenarioOp struct {
	Kind   int // 0 schedule, 1 release, 2 flip health, 3 add an invoker
	Action int
	Pick   int
}

func (scenario) Generate(r *mrand.Rand, size int) reflect.Value {
	mems := []int{128, 256, 512, 1024}
	s := scenario{
		Seed:             r.Uint64(),
		ManagedFraction:  []float64{0.9, 0.5, 1, 0.75}[r.Intn(4)],
		BlackboxFraction: []float64{0.1, 0.3, 0.5}[r.Intn(3)],
	}
	for i := range 1 + r.Intn(8) {
		s.Invokers = append(s.Invokers, Invoker{ID: i, UserMemoryMB: mems[r.Intn(len(mems))], Healthy: r.Intn(5) > 0})
	}
	names := []string{"guest", "alice", "bob/pkg", "whisk.system", "ünï", "😀"}
	for i := range 1 + r.Intn(6) {
		ns := names[r.Intn(len(names))]
		s.Actions = append(s.Actions, refAction{
			ns:       ns,
			name:     fmt.Sprintf("%s/act%d", ns, i),
			version:  fmt.Sprintf("0.0.%d", r.Intn(2)),
			mem:      mems[r.Intn(3)],
			c:        []int{1, 1, 2, 3, 4}[r.Intn(5)],
			blackbox: r.Intn(5) == 0,
		})
	}
	for range 20 + r.Intn(5*size+1) {
		o := scenarioOp{Action: r.Intn(len(s.Actions)), Pick: r.Intn(1000)}
		switch x := r.Intn(20); {
		case x < 11:
			o.Kind = 0
		case x < 17:
			o.Kind = 1
		case x < 19:
			o.Kind = 2
		default:
			o.Kind = 3
		}
		s.Ops = append(s.Ops, o)
	}
	return reflect.ValueOf(s)
}

// check runs the scenario on Balancer and on the reference and reports the first
// difference.
func (s scenario) check(policy Policy) error {
	b, err := New(Config{
		ManagedFraction:  s.ManagedFraction,
		BlackboxFraction: s.BlackboxFraction,
		Policy:           policy,
		Rand:             rand.New(rand.NewPCG(s.Seed, 1)),
	})
	if err != nil {
		return err
	}
	mf := max(0, min(1, s.ManagedFraction))
	ref := &refBalancer{
		managedFraction:  mf,
		blackboxFraction: max(1-mf, min(1, s.BlackboxFraction)),
		rnd:              rand.New(rand.NewPCG(s.Seed, 1)),
		inflight:         map[string]refEntry{},
	}
	acts := map[string]refAction{}
	for _, a := range s.Actions {
		acts[a.key()] = a
	}
	invokers := append([]Invoker(nil), s.Invokers...)
	sync := func() error {
		for len(ref.invokers) < len(invokers) {
			ref.invokers = append(ref.invokers, refInvoker{capacity: invokers[len(ref.invokers)].UserMemoryMB, running: map[string]int{}})
		}
		for i, inv := range invokers {
			ref.invokers[i].healthy = inv.Healthy
		}
		return b.UpdateInvokers(invokers)
	}
	if err := sync(); err != nil {
		return err
	}

	next := 0
	for step, o := range s.Ops {
		a := s.Actions[o.Action]
		switch o.Kind {
		case 0:
			id := fmt.Sprint(next)
			next++
			p, err := b.Schedule(t0, Request{ActivationID: id, Namespace: a.ns, Action: a.name, Version: a.version,
				MemoryMB: a.mem, MaxConcurrent: a.c, Blackbox: a.blackbox})
			inv, forced, refErr := ref.schedule(id, a, acts)
			if !errors.Is(err, refErr) || (refErr == nil && p != (Placement{inv, forced})) {
				return fmt.Errorf("step %d: schedule %+v: got %+v, %v; reference %d forced=%v, %v", step, a, p, err, inv, forced, refErr)
			}
		case 1:
			if len(ref.inflight) == 0 {
				continue
			}
			ids := make([]string, 0, len(ref.inflight))
			for id := range ref.inflight {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			id := ids[o.Pick%len(ids)]
			ref.release(id)
			if _, ok := b.Release(id); !ok {
				return fmt.Errorf("step %d: Release(%s) = false", step, id)
			}
		case 2:
			i := o.Pick % len(invokers)
			invokers[i].Healthy = !invokers[i].Healthy
			if err := sync(); err != nil {
				return err
			}
		case 3:
			invokers = append(invokers, Invoker{ID: len(invokers), UserMemoryMB: 128 << (o.Pick % 4), Healthy: true})
			if err := sync(); err != nil {
				return err
			}
		}
		for i, st := range b.Invokers() {
			if want := ref.invokers[i].capacity - ref.used(i, acts); st.FreeMB != want {
				return fmt.Errorf("step %d: invoker %d has %d MB free, reference %d", step, i, st.FreeMB, want)
			}
		}
		if b.Active() != len(ref.inflight) {
			return fmt.Errorf("step %d: %d in flight, reference %d", step, b.Active(), len(ref.inflight))
		}
	}
	return nil
}

// TestQuickSharding checks Balancer with the Sharding policy against the reference
// version on random clusters and operation sequences.
func TestQuickSharding(t *testing.T) {
	f := func(s scenario) bool {
		if err := s.check(Sharding{}); err != nil {
			t.Log(err)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 500}); err != nil {
		t.Error(err)
	}
}

// TestQuickHarvestWithoutDemand checks that the Harvest policy places activations
// without predicted extra demand exactly as OpenWhisk does.
func TestQuickHarvestWithoutDemand(t *testing.T) {
	f := func(s scenario) bool {
		if err := s.check(Harvest{}); err != nil {
			t.Log(err)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 200}); err != nil {
		t.Error(err)
	}
}
