package message

import (
	"fmt"
)

// PingMessage is an invoker's heartbeat on the health topic (§4.1). The
// invoker is under the key "name".
//
// LendableCPUMillis and LendableMemoryMB are owinvoker's own additions: the
// CPU (millicores) and memory (MB) the invoker's harvester could lend right
// now. They are omitted when zero, and spray-json ignores unknown members,
// so the Scala controller reads these pings unchanged.
type PingMessage struct {
	Name InvokerInstanceID
	// Enabled is written as isEnabled; absent on read means true. Note that
	// the zero value is a disabled ping, which makes every controller mark
	// the invoker offline: set Enabled: true for the regular heartbeat.
	Enabled           bool
	LendableCPUMillis int
	LendableMemoryMB  int
}

// DecodePing decodes a record value from the health topic.
func DecodePing(data []byte) (*PingMessage, error) {
	var p PingMessage
	if err := p.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &p, nil
}

// MarshalJSON writes the ping. isEnabled is always written, as the classic
// invoker does.
func (p PingMessage) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		Name              InvokerInstanceID `json:"name"`
		IsEnabled         bool              `json:"isEnabled"`
		LendableCPUMillis int               `json:"lendableCpuMillis,omitempty"`
		LendableMemoryMB  int               `json:"lendableMemoryMB,omitempty"`
	}{p.Name, p.Enabled, p.LendableCPUMillis, p.LendableMemoryMB})
}

// UnmarshalJSON reads a ping; name is required, the rest optional. The
// lendable amounts must be non-negative.
func (p *PingMessage) UnmarshalJSON(data []byte) error {
	if err := p.parse(data); err != nil {
		return fmt.Errorf("ping message: %w", err)
	}
	return nil
}

func (p *PingMessage) parse(data []byte) error {
	o, err := parseObject(data)
	if err != nil {
		return err
	}
	v := PingMessage{Enabled: true}
	if err := o.req("name", unmarshalInto(&v.Name)); err != nil {
		return err
	}
	if _, err := o.opt("isEnabled", boolInto(&v.Enabled)); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"lendableCpuMillis", &v.LendableCPUMillis}, {"lendableMemoryMB", &v.LendableMemoryMB}} {
		if _, err := o.opt(f.name, intInto(f.dst)); err != nil {
			return err
		}
		if *f.dst < 0 {
			return fieldError(f.name, fmt.Errorf("negative value %d", *f.dst))
		}
	}
	*p = v
	return nil
}
