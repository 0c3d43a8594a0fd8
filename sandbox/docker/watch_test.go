package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/sandbox/docker"
)

// TestWatchReportsRemovedContainers removes a watched container behind the client's back
// and expects its id; a container with another label value is not reported.
func TestWatchReportsRemovedContainers(t *testing.T) {
	img := testboxImage(t)
	c := newClient(t)
	value := testenv.UniqueName("watch")
	ctx, cancel := context.WithCancel(t.Context())
	ids, errc := c.Watch(ctx, testLabel, value)

	start := func(v string) docker.Container {
		ctr, err := c.Run(t.Context(), docker.Spec{Name: testenv.UniqueName("owtest_watch_"), Image: img, MemoryMB: 64,
			Labels: map[string]string{testLabel: v}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Remove(context.Background(), ctr.ID) })
		return ctr
	}
	other := start(value + "-other")
	watched := start(value)
	for _, ctr := range []docker.Container{other, watched} {
		if err := c.Remove(t.Context(), ctr.ID); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	timeout := time.After(30 * time.Second)
	for got[watched.ID] < 2 { // die, then destroy
		select {
		case id := <-ids:
			got[id]++
		case <-timeout:
			t.Fatalf("events %v in 30 s, want die and destroy of %s", got, watched.ID)
		}
	}
	if got[other.ID] != 0 {
		t.Errorf("a container with another label value was reported")
	}
	cancel()
	for range ids {
	}
	if err := <-errc; err != nil {
		t.Errorf("Watch ended by its context with %v, want nil", err)
	}
}
