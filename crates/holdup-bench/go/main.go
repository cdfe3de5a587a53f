// The Go side of `holdup-bench compare`: the workloads of the Rust rows, written the same way,
// with Go's own mutex and block profilers at the same settings.
//
//	compare WORKLOAD THREADS MILLIS FRACTION RATE_NS
//
// runs WORKLOAD (seed, short) on THREADS goroutines for MILLIS milliseconds after
// runtime.SetMutexProfileFraction(FRACTION) and runtime.SetBlockProfileRate(RATE_NS), and prints
// one line: operations per second.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The seed demo's cache: 4096 keys of 512-byte values.
const (
	keys       = 4096
	valueBytes = 512
	shortKeys  = 1000
)

// FNV-1a, as the Rust rows compute it.
func checksum(b []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	return h
}

var sink atomic.Uint64

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: compare WORKLOAD THREADS MILLIS FRACTION RATE_NS")
		os.Exit(2)
	}
	workload := os.Args[1]
	threads, millis, fraction, rate := num(os.Args[2]), num(os.Args[3]), num(os.Args[4]), num(os.Args[5])
	runtime.SetMutexProfileFraction(fraction)
	runtime.SetBlockProfileRate(rate)

	var get func(k uint64) uint64
	switch workload {
	case "seed":
		// Every lookup under the write lock: the seed demo's bug.
		var mu sync.RWMutex
		m := make(map[uint64][]byte, keys)
		for k := uint64(0); k < keys; k++ {
			v := make([]byte, valueBytes)
			for i := range v {
				v[i] = byte(k % 251)
			}
			m[k] = v
		}
		get = func(k uint64) uint64 {
			mu.Lock()
			v := checksum(m[k])
			mu.Unlock()
			return v
		}
	case "short":
		// A critical section of tens of nanoseconds: a small map lookup under a mutex.
		var mu sync.Mutex
		m := make(map[uint64]uint64, shortKeys)
		for k := uint64(0); k < shortKeys; k++ {
			m[k] = k * 7
		}
		get = func(k uint64) uint64 {
			mu.Lock()
			v := m[k%shortKeys]
			mu.Unlock()
			return v
		}
	default:
		fmt.Fprintf(os.Stderr, "compare: unknown workload %q (seed, short)\n", workload)
		os.Exit(2)
	}

	var stop atomic.Bool
	var total atomic.Uint64
	var start, done sync.WaitGroup
	start.Add(1)
	for i := 0; i < threads; i++ {
		done.Add(1)
		go func(i int) {
			defer done.Done()
			key, n, s := uint64(i)+1, uint64(0), uint64(0)
			start.Wait()
			for !stop.Load() {
				key = key*6364136223846793005 + 1442695040888963407
				s += get((key >> 33) % keys)
				n++
			}
			sink.Add(s)
			total.Add(n)
		}(i)
	}
	began := time.Now()
	start.Done()
	time.Sleep(time.Duration(millis) * time.Millisecond)
	stop.Store(true)
	done.Wait()
	fmt.Printf("%.0f\n", float64(total.Load())/time.Since(began).Seconds())
}

func num(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %q is not a number\n", s)
		os.Exit(2)
	}
	return n
}
