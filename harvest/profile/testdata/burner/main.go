// Command burner is the workload of the profile package's Docker tests: it burns a given
// amount of CPU, allocates and holds memory after a delay, and makes short memory spikes, all
// chosen by flags. It is built static and run as the only file of a FROM-scratch image.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	cores := flag.Float64("cpu", 0, "cores to keep busy (1.5 = one busy thread and one at 50 %)")
	mem := flag.Int("mem", 0, "MiB to allocate, touch and hold")
	memAfter := flag.Duration("mem-after", 0, "wait this long before allocating -mem")
	memOnUSR1 := flag.Int("mem-on-usr1", 0, "MiB to allocate, touch and hold on every SIGUSR1")
	spike := flag.Int("spike", 0, "MiB to map, touch and unmap repeatedly")
	spikeEvery := flag.Duration("spike-every", 300*time.Millisecond, "time between spikes")
	spikeFor := flag.Duration("spike-for", 20*time.Millisecond, "how long a spike is held")
	flag.Parse()

	for left := *cores; left > 0; left-- {
		go burn(min(left, 1))
	}
	if *mem > 0 {
		go func() {
			time.Sleep(*memAfter)
			touch(*mem) // never unmapped: held until the container stops
			fmt.Println("holding", *mem, "MiB")
		}()
	}
	if *memOnUSR1 > 0 {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		go func() {
			for range sig {
				touch(*memOnUSR1)
				fmt.Println("allocated", *memOnUSR1, "MiB more")
			}
		}()
	}
	if *spike > 0 {
		go func() {
			for {
				b := touch(*spike)
				time.Sleep(*spikeFor)
				_ = syscall.Munmap(b)
				time.Sleep(*spikeEvery - *spikeFor)
			}
		}()
	}
	for {
		time.Sleep(time.Hour) // select{} alone would be a deadlock when idle
	}
}

// burn keeps one thread busy for the given fraction of every 10 ms.
func burn(frac float64) {
	runtime.LockOSThread()
	const period = 10 * time.Millisecond
	busy := time.Duration(frac * float64(period))
	x := uint64(1)
	for {
		start := time.Now()
		for time.Since(start) < busy {
			for range 1000 {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}
		if busy < period {
			time.Sleep(period - time.Since(start))
		}
		if x == 0 {
			fmt.Println(x)
		}
	}
}

// touch maps MiB of anonymous memory and touches every page, so all of it is charged.
func touch(mib int) []byte {
	b, err := syscall.Mmap(-1, 0, mib<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		os.Exit(1)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}
