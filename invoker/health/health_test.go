package health_test

import (
	"encoding/json"
	"testing"

	"github.com/owinvoker/owinvoker/invoker/health"
	"github.com/owinvoker/owinvoker/invoker/message"
)

func TestEnableDisableAndDrain(t *testing.T) {
	h := health.New(message.InvokerInstanceID{Instance: 0, UniqueName: "0", UserMemory: 2048 * message.Megabyte})
	if _, send := h.Ping(0, 0); !send {
		t.Fatal("a new invoker must ping")
	}
	h.Started()
	if got := h.Enable(); got != "invoker0/0 is already enabled." {
		t.Errorf("Enable = %q", got)
	}
	reply, final := h.Disable()
	if reply != "invoker0/0 is now disabled." || final == nil || final.Enabled {
		t.Fatalf("Disable = %q, %+v; want the final isEnabled=false ping", reply, final)
	}
	b, err := json.Marshal(final)
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]any
	_ = json.Unmarshal(b, &wire)
	if wire["isEnabled"] != false {
		t.Errorf("final ping %s: want isEnabled false", b)
	}
	if _, send := h.Ping(0, 0); send {
		t.Error("a disabled invoker must not ping")
	}
	if reply, final := h.Disable(); reply != "invoker0/0 is already disabled." || final != nil {
		t.Errorf("second Disable = %q, %v", reply, final)
	}
	if h.State() != health.Draining {
		t.Errorf("state with one in flight = %v, want draining", h.State())
	}
	h.Finished()
	if h.State() != health.Drained {
		t.Errorf("state with none in flight = %v, want drained", h.State())
	}
	if got := h.Enable(); got != "invoker0/0 is now enabled." || h.State() != health.Enabled {
		t.Errorf("Enable = %q, state %v", got, h.State())
	}
	ping, send := h.Ping(1500, 384)
	if !send || ping.LendableCPUMillis != 1500 || ping.LendableMemoryMB != 384 || !ping.Enabled {
		t.Errorf("Ping = %+v, %v", ping, send)
	}
}
