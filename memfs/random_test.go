package memfs

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var seeds = flag.Int("seeds", 40, "random runs of TestRandomInvariants")

// mount is a container's scratch as the edge set it up.
type mount struct {
	tenant    string
	backing   Backing
	size      int64 // tmpfs size
	used      int64 // bytes really in it (never above size: tmpfs says ENOSPC)
	reported  int64 // what Usage last said
	idle      bool
	idleSince time.Time
}

// TestRandomInvariants drives a Ledger with random reservations, writes, usage reports, idle and
// busy switches, releases and failed remounts, carries its decisions out on a model of the
// mounts, and checks after every step: no tenant over its budget, the host within its budget,
// the ledger equal to the mounts, other tenants untouched, and no disk fallback that a simple
// reference (free budget plus what idle reservations of the tenant could give) would have avoided.
func TestRandomInvariants(t *testing.T) {
	for seed := range uint64(*seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomRun(t, seed, 500) })
	}
}

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 11))
	tenants := []string{"t0", "t1", "t2", "t3"}
	cfg := Config{
		HostBytes:   int64(200+rng.IntN(800)) * MiB,
		TenantBytes: int64(rng.IntN(400)) * MiB,
		Tenants:     map[string]int64{"t3": int64(rng.IntN(2)) * 150 * MiB},
		IdleAfter:   time.Duration(rng.IntN(3)) * time.Second,
		NoShrink:    rng.IntN(5) == 0,
	}
	if cfg.TenantBytes == 0 {
		cfg.TenantBytes = 1 // 0 would mean the default
	}
	l := mustNew(t, cfg)
	cfg = l.Config()
	budget := func(tenant string) int64 {
		if b, ok := cfg.Tenants[tenant]; ok {
			return b
		}
		return cfg.TenantBytes
	}
	mounts := map[string]*mount{}
	now := time.Unix(0, 0)
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, config %+v, after:\n%s\n"+format, append([]any{seed, cfg, strings.Join(log, "\n")}, args...)...)
	}
	reserved := func(tenant string) (n int64) {
		for _, m := range mounts {
			if m.backing == Memory && (tenant == "" || m.tenant == tenant) {
				n += m.size
			}
		}
		return n
	}

	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(700)) * time.Millisecond)
		id := fmt.Sprint("c", rng.IntN(16))
		m := mounts[id]
		before := map[string]int64{}
		for _, tn := range tenants {
			before[tn] = reserved(tn)
		}
		var op, opTenant string
		switch k := rng.IntN(20); {
		case k < 5: // reserve
			req := Request{Tenant: tenants[rng.IntN(len(tenants))], ContainerID: id,
				ActionMemoryMB: []int{128, 256, 512, 1024}[rng.IntN(4)]}
			if rng.IntN(4) > 0 {
				req.PredictedHeapMB = 1 + rng.IntN(req.ActionMemoryMB)
			}
			op, opTenant = fmt.Sprintf("reserve %+v", req), req.Tenant
			// The reference, from the mounts: what is free, and what idle mounts of the tenant
			// could give.
			size := l.SizeFor(req)
			var give int64
			for _, o := range mounts {
				if !cfg.NoShrink && o.tenant == req.Tenant && o.backing == Memory && o.idle && now.Sub(o.idleSince) >= cfg.IdleAfter {
					give += max(o.size-min(max(o.reported+cfg.SlackBytes, cfg.MinBytes), o.size), 0)
				}
			}
			need := max(size-(budget(req.Tenant)-reserved(req.Tenant)), size-(cfg.HostBytes-reserved("")), 0)

			d, err := l.Reserve(now, req)
			if m != nil {
				if err == nil {
					fail("%s for a container that has a reservation: no error", op)
				}
				continue
			}
			if err != nil {
				fail("%s = %v", op, err)
			}
			log = append(log, fmt.Sprintf("%d: %s → %+v", step, op, d))
			switch {
			case size == 0 && (d.Backing != Disk || d.Reason != TooSmall):
				fail("too small for memory, got %+v", d)
			case d.Backing == Memory && d.SizeBytes != size:
				fail("memory decision of %d bytes, want exactly %d", d.SizeBytes, size)
			case d.Backing == Disk && size > 0 && need <= give:
				fail("disk fallback %+v although %d bytes were needed and idle reservations could give %d", d, need, give)
			case d.Backing == Memory && need > give:
				fail("memory decision %+v although %d bytes were needed and only %d could be given", d, need, give)
			}
			// Carry out the shrinks; the kernel refuses one below the data in the tmpfs.
			final := d
			for _, r := range d.Shrinks {
				o := mounts[r.ContainerID]
				if o == nil || o.tenant != req.Tenant {
					fail("shrink %+v of another tenant's or an unknown container", r)
				}
				if r.FromBytes != o.size || r.ToBytes >= r.FromBytes || r.ToBytes < cfg.MinBytes ||
					r.ToBytes < min(o.reported+cfg.SlackBytes, o.size) {
					fail("shrink %+v of a mount of %d bytes with %d reported used", r, o.size, o.reported)
				}
				if r.ToBytes < o.used || rng.IntN(20) == 0 {
					log = append(log, fmt.Sprintf("   shrink %+v failed (%d used)", r, o.used))
					if final, err = l.ShrinkFailed(now, id, r, o.used); err != nil {
						fail("ShrinkFailed = %v", err)
					}
					o.reported = o.used
					continue
				}
				o.size = r.ToBytes
			}
			if final.Backing == Memory && final.SizeBytes < cfg.MinBytes {
				fail("final decision %+v below the minimum", final)
			}
			mounts[id] = &mount{tenant: req.Tenant, backing: final.Backing, size: final.SizeBytes}
		case m == nil:
			continue
		case k < 9: // the action writes or deletes scratch files
			if m.backing == Memory {
				m.used = rng.Int64N(m.size + 1)
			}
			op, opTenant = fmt.Sprintf("write %s: %d used", id, m.used), m.tenant
		case k < 12:
			op, opTenant = fmt.Sprintf("usage %s %d", id, m.used), m.tenant
			if !l.Usage(id, m.used) {
				fail("%s: unknown", op)
			}
			m.reported = m.used
		case k < 16:
			idle := rng.IntN(2) == 0
			op, opTenant = fmt.Sprintf("set %s idle=%v", id, idle), m.tenant
			r, grew, err := l.SetIdle(now, id, idle)
			if err != nil {
				fail("%s = %v", op, err)
			}
			if idle && !m.idle {
				m.idleSince = now
			}
			m.idle = idle
			if grew {
				if idle || r.ContainerID != id || r.FromBytes != m.size || r.ToBytes <= r.FromBytes {
					fail("%s: grow %+v of a mount of %d bytes", op, r, m.size)
				}
				m.size = r.ToBytes
				log = append(log, fmt.Sprintf("   grew %+v", r))
			}
		case k < 17:
			op, opTenant = "enospc "+id, m.tenant
			l.RecordENOSPC(id)
		default:
			op, opTenant = "release "+id, m.tenant
			if !l.Release(id) {
				fail("%s: unknown", op)
			}
			delete(mounts, id)
		}
		if !strings.HasPrefix(op, "reserve") {
			log = append(log, fmt.Sprintf("%d: %s", step, op))
		}

		// Budgets, the ledger against the mounts, isolation.
		snap := l.Snapshot()
		if got := reserved(""); got > cfg.HostBytes || snap.ReservedBytes != got {
			fail("host: mounts reserve %d, ledger says %d, budget %d", got, snap.ReservedBytes, cfg.HostBytes)
		}
		byTenant := map[string]TenantSnapshot{}
		for _, ts := range snap.Tenants {
			byTenant[ts.Tenant] = ts
		}
		var memCount, diskCount int
		for _, tn := range tenants {
			got := reserved(tn)
			if got > budget(tn) || byTenant[tn].ReservedBytes != got {
				fail("tenant %s: mounts reserve %d, ledger says %d, budget %d", tn, got, byTenant[tn].ReservedBytes, budget(tn))
			}
			if tn != opTenant && got != before[tn] {
				fail("%s changed tenant %s's reservations from %d to %d", op, tn, before[tn], got)
			}
		}
		for cid, m := range mounts {
			b, size, ok := l.Reservation(cid)
			if !ok || b != m.backing || (b == Memory && size != m.size) {
				fail("ledger has %s as %v %d (%v), the mount is %v %d", cid, b, size, ok, m.backing, m.size)
			}
			if b == Memory {
				memCount++
				if size < cfg.MinBytes {
					fail("%s reserved %d, below the minimum", cid, size)
				}
			} else {
				diskCount++
			}
		}
		if snap.MemoryContainers != memCount || snap.DiskContainers != diskCount {
			fail("snapshot counts %d memory %d disk, mounts %d and %d", snap.MemoryContainers, snap.DiskContainers, memCount, diskCount)
		}
	}
}
