package supervisor_test

import (
	"fmt"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/supervisor"
)

func Example() {
	s, err := supervisor.New(supervisor.Config{})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	show := func(r supervisor.Ready) {
		for _, c := range r.Changes {
			fmt.Printf("invoker%d %s -> %s\n", c.Invoker, c.From, c.To)
		}
		for _, id := range r.Tests {
			fmt.Printf("send a health test action to invoker%d\n", id)
		}
	}

	r, _ := s.Ping(start, 0, true) // first ping: registered, Unhealthy
	show(r)
	show(s.Ack(start.Add(2*time.Second), 0, supervisor.Success)) // the test action succeeded
	show(s.Tick(start.Add(12 * time.Second)))                    // no ping for 10 s
	fmt.Println(s.Status())
	// Output:
	// invoker0 down -> unhealthy
	// send a health test action to invoker0
	// invoker0 unhealthy -> up
	// send a health test action to invoker0
	// invoker0 up -> down
	// [down]
}
