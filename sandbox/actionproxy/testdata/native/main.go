// Command native is a blackbox action for the conformance tests: a static binary that speaks
// the actionloop protocol itself (a JSON line on stdin in, a JSON line on fd 3 out).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	out := os.NewFile(3, "results")
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		var req struct {
			Value        map[string]any `json:"value"`
			ActivationID string         `json:"activation_id"`
		}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintf(out, "{\"error\":%q}\n", err.Error())
			continue
		}
		fmt.Println("native stdout")
		fmt.Fprintln(os.Stderr, "native stderr")
		res, _ := json.Marshal(map[string]any{
			"native":        true,
			"greeting":      fmt.Sprintf("Hello, %v", req.Value["name"]),
			"activation_id": req.ActivationID,
			"env_namespace": os.Getenv("__OW_NAMESPACE"),
		})
		fmt.Fprintf(out, "%s\n", res)
	}
}
