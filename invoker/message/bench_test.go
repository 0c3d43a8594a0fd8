package message

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkDecodeActivationMessage decodes the spec's example with content
// of growing size, up to the 1 MiB payload limit.
func BenchmarkDecodeActivationMessage(b *testing.B) {
	doc := readTestdata(b, "activation_message.json")
	for _, size := range []int{0, 16 << 10, 1 << 20} {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			b.Fatal(err)
		}
		if size > 0 {
			m["content"] = map[string]any{"blob": strings.Repeat("x", size)}
		}
		in, _ := json.Marshal(m)
		b.Run(fmt.Sprintf("content=%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := DecodeActivationMessage(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeCombined encodes a combined ack with results of growing
// size.
func BenchmarkEncodeCombined(b *testing.B) {
	res, err := DecodeAck(readTestdata(b, "ack_result.json"))
	if err != nil {
		b.Fatal(err)
	}
	a := *res.(ResultMessage).Response.Activation
	for _, size := range []int{0, 16 << 10, 1 << 20} {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, `{"payload":%q}`, strings.Repeat("<", size))
		a.Response.Result = buf.Bytes()
		ack := NewCombined(res.Transaction(), &a, InvokerInstanceID{UserMemory: 2 * Gigabyte})
		b.Run(fmt.Sprintf("result=%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := Marshal(ack)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "bytes/ack")
		})
	}
}
