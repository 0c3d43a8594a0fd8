package action_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/owinvoker/owinvoker/invoker/action"
)

// The invoker reads the action document, applies the manifest and the
// namespace's limits, and builds the /init value.
func Example() {
	doc := []byte(`{"_id":"guest/hello","_rev":"1-a","entityType":"action","namespace":"guest","name":"hello",
		"exec":{"kind":"nodejs:default","code":{"attachmentName":"mem:ZnVuY3Rpb24gbWFpbigpIHsgcmV0dXJuIHt9IH0=","attachmentType":"text/plain; charset=UTF-8"},"binary":false},
		"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},
		"version":"0.0.1","publish":false,"annotations":[],"updated":1716999990000}`)

	a, err := action.Decode(doc)
	if err == nil {
		err = a.Resolve(func(kind string) (action.Runtime, error) {
			if kind == "nodejs:default" || kind == "nodejs:20" {
				return action.Runtime{Kind: "nodejs:20", Attached: true}, nil
			}
			return action.Runtime{}, errors.New("unknown kind")
		})
	}
	if err == nil {
		err = a.Limits.Check(action.DefaultBounds())
	}
	if err == nil {
		err = a.Executable()
	}
	var limitErr *action.LimitError
	switch {
	case errors.As(err, &limitErr):
		fmt.Println("status 1:", limitErr.Message)
		return
	case err != nil:
		fmt.Println("status 3:", err)
		return
	}

	code, _ := a.Exec.Code.Attachment.InlineBytes() // a couch: attachment comes from the store instead
	ctx := action.Context{Namespace: "guest", ActionName: "/guest/hello", ActionVersion: a.Version,
		ActivationID: "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f", TransactionID: "tid", Deadline: 1717000060312}
	initArgs, _, _ := action.SplitArgs(json.RawMessage(`{"name":"World"}`), nil)
	value, _ := action.InitValue(a, code, action.InitEnv(initArgs, ctx))
	fmt.Println(a.Exec.Kind)
	fmt.Println(string(value))
	// Output:
	// nodejs:20
	// {"name":"hello","main":"main","binary":false,"code":"function main() { return {} }","env":{"__OW_ACTION_NAME":"/guest/hello","__OW_ACTION_VERSION":"0.0.1","__OW_ACTIVATION_ID":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","__OW_DEADLINE":"1717000060312","__OW_NAMESPACE":"guest","__OW_TRANSACTION_ID":"tid"}}
}
