package memfs_test

import (
	"fmt"
	"time"

	"github.com/owinvoker/owinvoker/memfs"
)

func Example() {
	l, err := memfs.New(memfs.Config{HostBytes: 1 << 30, TenantBytes: 200 * memfs.MiB})
	if err != nil {
		panic(err)
	}
	now := time.Unix(0, 0)
	show := func(d memfs.Decision) {
		fmt.Printf("%s: %s %d MiB (%s)", d.ContainerID, d.Backing, d.SizeBytes/memfs.MiB, d.Reason)
		for _, r := range d.Shrinks {
			fmt.Printf(", shrink %s to %d MiB", r.ContainerID, r.ToBytes/memfs.MiB)
		}
		fmt.Println()
	}
	// 256 MB action, 100 MB heap predicted: 256 − 100 − 32 head-room = 124 MiB of tmpfs.
	d, _ := l.Reserve(now, memfs.Request{Tenant: "guest", ContainerID: "c1", ActionMemoryMB: 256, PredictedHeapMB: 100})
	show(d)
	// c1 finishes; its scratch holds 20 MiB.
	l.Usage("c1", 20*memfs.MiB)
	_, _, _ = l.SetIdle(now, "c1", true)
	// A second container of the tenant: 76 MiB free, the idle c1 gives the rest.
	d, _ = l.Reserve(now, memfs.Request{Tenant: "guest", ContainerID: "c2", ActionMemoryMB: 256, PredictedHeapMB: 100})
	show(d)
	// Another tenant never takes guest's budget; a tiny action gets disk.
	d, _ = l.Reserve(now, memfs.Request{Tenant: "other", ContainerID: "c3", ActionMemoryMB: 64})
	show(d)
	// c1 is reused: it grows back as far as the budget allows.
	l.Release("c2")
	r, ok, _ := l.SetIdle(now, "c1", false)
	fmt.Println(ok, r.ToBytes/memfs.MiB)
	// Output:
	// c1: memory 124 MiB (fits)
	// c2: memory 124 MiB (shared), shrink c1 to 76 MiB
	// c3: disk 0 MiB (too-small)
	// true 124
}
