package balancer

import (
	"fmt"
	"testing"
)

// BenchmarkSchedule measures one Schedule and its Release on pools of n invokers that
// are half full, so the walk probes several invokers.
func BenchmarkSchedule(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, policy := range []Policy{Sharding{}, Harvest{}} {
			b.Run(fmt.Sprintf("n=%d/%T", n, policy), func(b *testing.B) {
				bal, err := New(Config{ManagedFraction: 1, Policy: policy})
				if err != nil {
					b.Fatal(err)
				}
				list := healthy(n, 1024)
				for i := range list {
					list[i].LendableCPUMillis = 100 * (i % 11)
				}
				if err := bal.UpdateInvokers(list); err != nil {
					b.Fatal(err)
				}
				for i := range n * 2 {
					if _, err := bal.Schedule(t0, Request{ActivationID: fmt.Sprint("fill", i), Namespace: "guest", Action: "guest/fill", MemoryMB: 256}); err != nil {
						b.Fatal(err)
					}
				}
				req := Request{ActivationID: "x", Namespace: "guest", Action: "guest/fill", MemoryMB: 256, ExtraCPUMillis: 900}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := bal.Schedule(t0, req); err != nil {
						b.Fatal(err)
					}
					bal.Release("x")
				}
			})
		}
	}
}
