package invoker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/owinvoker/owinvoker/sandbox"
)

// scratchCollector publishes the sandbox's scratch ledger at scrape time: bytes reserved
// and used per tenant, containers on memory and on disk, disk fall-backs and ENOSPC events.
type scratchCollector struct {
	sb                                      *sandbox.Sandbox
	reserved, used, budget, memory, disk    *prometheus.Desc
	fallbacks, enospc                       *prometheus.Desc
	hostBudget, hostReserved, hostFallbacks *prometheus.Desc
}

func newScratchCollector(sb *sandbox.Sandbox) *scratchCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("owinvoker_scratch_"+name, help, labels, nil)
	}
	return &scratchCollector{sb: sb,
		reserved:      d("reserved_bytes", "In-memory scratch reserved, by tenant.", "tenant"),
		used:          d("used_bytes", "In-memory scratch in use, by tenant.", "tenant"),
		budget:        d("budget_bytes", "Scratch budget, by tenant.", "tenant"),
		memory:        d("memory_containers", "Containers with in-memory scratch, by tenant.", "tenant"),
		disk:          d("disk_containers", "Containers with disk scratch, by tenant.", "tenant"),
		fallbacks:     d("disk_fallbacks_total", "Containers given disk scratch because memory was short, by tenant.", "tenant"),
		enospc:        d("enospc_total", "Full-scratch (ENOSPC) events, by tenant.", "tenant"),
		hostBudget:    d("host_budget_bytes", "The host's in-memory scratch budget."),
		hostReserved:  d("host_reserved_bytes", "In-memory scratch reserved on the host."),
		hostFallbacks: d("host_disk_fallbacks_total", "Disk fall-backs on the host."),
	}
}

func (c *scratchCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.reserved, c.used, c.budget, c.memory, c.disk, c.fallbacks, c.enospc,
		c.hostBudget, c.hostReserved, c.hostFallbacks} {
		ch <- d
	}
}

func (c *scratchCollector) Collect(ch chan<- prometheus.Metric) {
	snap, ok := c.sb.ScratchSnapshot()
	if !ok {
		return
	}
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	n := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	g(c.hostBudget, float64(snap.BudgetBytes))
	g(c.hostReserved, float64(snap.ReservedBytes))
	n(c.hostFallbacks, float64(snap.DiskFallbacks))
	for _, t := range snap.Tenants {
		g(c.reserved, float64(t.ReservedBytes), t.Tenant)
		g(c.used, float64(t.UsedBytes), t.Tenant)
		g(c.budget, float64(t.BudgetBytes), t.Tenant)
		g(c.memory, float64(t.MemoryContainers), t.Tenant)
		g(c.disk, float64(t.DiskContainers), t.Tenant)
		n(c.fallbacks, float64(t.DiskFallbacks), t.Tenant)
		n(c.enospc, float64(t.ENOSPC), t.Tenant)
	}
}
