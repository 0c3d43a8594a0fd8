package proxy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the action: the proxy starts it through a "#!<test binary>"
// script, and TestMain sees roleVar set in the environment the proxy passed down.
const roleVar = "OWPROXY_TEST_ROLE"

func TestMain(m *testing.M) {
	if os.Getenv(roleVar) == "launcher" {
		os.Exit(launcher())
	}
	os.Exit(m.Run())
}

// launcher speaks the actionloop protocol: an optional ack on fd 3 (shaped by env ACK), then
// one request line on stdin → one result line on fd 3. The request's value.op picks the
// behaviour.
func launcher() int {
	out := os.NewFile(3, "results")
	if os.Getenv("__OW_WAIT_FOR_ACK") != "" {
		switch os.Getenv("ACK") {
		case "error":
			fmt.Fprintln(out, `{"error":"cannot load the action: boom"}`)
			return 1
		case "exit":
			return 2
		default:
			fmt.Fprintln(out, `{"ok":true}`)
		}
	}
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if err != nil {
			return 0
		}
		var req map[string]any
		if err := json.Unmarshal(line, &req); err != nil {
			fmt.Fprintf(out, "{\"error\":%q}\n", err.Error())
			continue
		}
		value, _ := req["value"].(map[string]any)
		op, _ := value["op"].(string)
		switch op {
		case "scalar":
			fmt.Fprintln(out, `42`)
		case "array":
			fmt.Fprintln(out, `[1,2,3]`)
		case "garbage":
			fmt.Fprintln(out, `{not json`)
		case "exit":
			fmt.Println("exiting now")
			return 3
		case "sleep":
			time.Sleep(time.Duration(value["ms"].(float64)) * time.Millisecond)
			fmt.Fprintln(out, `{"slept":true}`)
		case "print":
			fmt.Println("to stdout")
			fmt.Fprintln(os.Stderr, "to stderr")
			fmt.Fprintln(out, `{"printed":true}`)
		case "big":
			fmt.Fprintf(out, "{\"big\":%q}\n", strings.Repeat("x", int(value["n"].(float64))))
		default:
			ctx := map[string]any{}
			for k, v := range req {
				if k != "value" {
					ctx[k] = v
				}
			}
			env := map[string]string{}
			for _, k := range []string{"SECRET", "__OW_NAMESPACE", "__OW_WAIT_FOR_ACK", "BASE", "OW_COMPILER"} {
				if v, ok := os.LookupEnv(k); ok {
					env[k] = v
				}
			}
			wd, _ := os.Getwd()
			res, _ := json.Marshal(map[string]any{"value": value, "context": ctx, "env": env, "cwd": wd})
			fmt.Fprintf(out, "%s\n", res)
		}
	}
}
