package message_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
)

// An invoker decodes an activation, runs it, and acknowledges it on the
// controller's completed topic with the transid unchanged.
func Example() {
	record := []byte(`{"transid":["sid_invokerHealth",1716999000000],
		"action":{"path":"whisk.system","name":"invokerHealthTestAction0","version":"0.0.1"},
		"revision":null,
		"user":{"subject":"whisk.system","namespace":{"name":"whisk.system","uuid":"0a4f9c2e"},
			"authkey":{"api_key":"secret"},"rights":[],"limits":{}},
		"activationId":"9b1e3c5d7f9a4b2c8d0e1f2a3b4c5d6e",
		"rootControllerIndex":{"asString":"0","instanceType":"controller"},
		"blocking":false,"initArgs":[],"lockedArgs":{}}`)

	m, err := message.DecodeActivationMessage(record)
	if errors.Is(err, message.ErrFPCMessage) {
		return // not for a classic invoker: log and drop
	}
	if err != nil {
		fmt.Println("skip record:", err) // log with the offset, never the payload
		return
	}

	start := int64(1717000000312)
	act := message.WhiskActivation{
		Namespace:    m.User.Namespace.Name,
		Name:         m.Action.Name,
		Subject:      m.User.Subject,
		ActivationID: m.ActivationID,
		Start:        start,
		End:          start + 43,
		Response:     message.SuccessResponse([]byte(`{}`)),
		Version:      m.Action.Version,
		Annotations: message.Parameters{
			message.StringParam(message.AnnotationPath, m.Action.DocID()),
			message.StringParam(message.AnnotationKind, "nodejs:20"),
		},
		Duration: message.Millis(43 * time.Millisecond),
	}
	invoker := message.InvokerInstanceID{Instance: 0, UniqueName: "0", UserMemory: 2 * message.Gigabyte}

	var ack message.Ack = message.NewCombined(m.TransID, &act, invoker)
	if !m.Blocking {
		ack = ack.Shrink()
	}
	b, _ := message.Marshal(ack)
	fmt.Println(m.CompletedTopic(""))
	fmt.Println(string(b))
	// Output:
	// completed0
	// {"transid":["sid_invokerHealth",1716999000000],"response":"9b1e3c5d7f9a4b2c8d0e1f2a3b4c5d6e","isSystemError":false,"instance":{"instance":0,"userMemory":"2147483648 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[],"uniqueName":"0"}}
}
