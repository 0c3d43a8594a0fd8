package predict_test

import (
	"fmt"

	"github.com/owinvoker/owinvoker/harvest/predict"
)

func Example() {
	p, err := predict.New(predict.Config{}) // p95, 5 samples before any cut, 10 % / 50 m / 16 MB head-room
	if err != nil {
		panic(err)
	}
	k := predict.Key{Namespace: "guest", Action: "thumbnail", Revision: "3-9f2c"}
	for _, mem := range []int{90, 110, 100, 95, 105} {
		fmt.Println(p.Predict(k, 2048).OK) // no prediction yet: run at the allocation
		p.Observe(k, predict.Sample{InputBytes: 2048, CPUMillis: 400, MemoryMB: mem})
	}
	pr := p.Predict(k, 2048)
	fmt.Printf("cpu %dm, memory %d MB (peaks %dm, %d MB, %d samples)\n",
		pr.CPUMillis, pr.MemoryMB, pr.PeakCPUMillis, pr.PeakMemoryMB, pr.Samples)
	// Output:
	// false
	// false
	// false
	// false
	// false
	// cpu 450m, memory 126 MB (peaks 400m, 110 MB, 5 samples)
}
