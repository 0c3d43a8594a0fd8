package balancer_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/balancer"
)

func Example() {
	b, err := balancer.New(balancer.Config{
		Policy: balancer.Harvest{},
		Rand:   rand.New(rand.NewPCG(1, 1)), // forced placements become repeatable
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// The supervisor reports health; pings report lendable resources.
	_ = b.UpdateInvokers([]balancer.Invoker{
		{ID: 0, UserMemoryMB: 2048, Healthy: true, LendableCPUMillis: 1500, LendableMemoryMB: 512},
		{ID: 1, UserMemoryMB: 2048, Healthy: true},
		{ID: 2, UserMemoryMB: 2048},
	})

	// guest/hello's home is invoker 1, which has nothing to lend; invoker 0 does.
	p, err := b.Schedule(now, balancer.Request{
		ActivationID: "a1", Namespace: "guest", NamespaceUUID: "uuid-guest",
		Action: "guest/hello", Version: "0.0.1", MemoryMB: 256, TimeLimit: time.Minute,
		ExtraCPUMillis: 1000, // predicted to need a core more than its allocation
	})
	switch {
	case errors.Is(err, balancer.ErrNoInvokers):
		fmt.Println("503")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Printf("invoker %d, forced %v, in flight for guest: %d\n", p.Invoker, p.Forced, b.ActiveFor("uuid-guest"))
	}

	// A completion ack frees the slot; a missing one is expired after
	// max(1m, limit) × 2 + 1m.
	if r, ok := b.Release("a1"); ok {
		fmt.Printf("released %s on invoker %d\n", r.ActivationID, r.Invoker)
	}
	fmt.Println("expired:", len(b.Expire(now.Add(3*time.Minute))))
	// Output:
	// invoker 0, forced false, in flight for guest: 1
	// released a1 on invoker 0
	// expired: 0
}
