// The Go side of `holdup-bench compare`: the workloads of the Rust rows
// (src/compare/workloads.rs), written the same way, with Go's own mutex and block profilers at
// the same settings.
//
//	main cycle WORKLOAD THREADS PERIOD_MS CYCLES F:R[:T],F:R[:T],...
//
// starts WORKLOAD on THREADS goroutines (as the Rust side counts them) and measures CYCLES
// cycles of periods of PERIOD_MS milliseconds, one period per setting (mutex profile fraction
// F, block profile rate R in ns, applied with runtime.SetMutexProfileFraction and
// runtime.SetBlockProfileRate at the start of the period; T 1 runs the execution tracer into
// io.Discard, T 2 the flight recorder at its defaults, T 3 the CPU profile at 100 Hz into
// io.Discard), in the given order on even cycles and
// reversed on odd ones. It prints a line per period: the setting's index and the operations per
// second.
//
//	main handoff DIR FRACTION RATE_NS
//
// runs the ground-truth workload, prints "WAITS WAITED_NS" (what the waiters measured
// themselves) and writes the mutex and block profiles to DIR/mutex.pb.gz and DIR/block.pb.gz.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The seed demo's cache: 4096 keys of 512-byte values.
const (
	keys         = 4096
	valueBytes   = 512
	shortKeys    = 1000
	channelBound = 64
	queueBound   = 64
	phaseWork    = 2000
	itemWork     = 512
	produceWork  = 64
)

// FNV-1a, as the Rust rows compute it.
func checksum(b []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	return h
}

// work is `units` rounds of arithmetic, as in the Rust rows.
func work(x uint64, units int) uint64 {
	for i := 0; i < units; i++ {
		x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9
	}
	return x
}

func nextKey(key *uint64) uint64 {
	*key = *key*6364136223846793005 + 1442695040888963407
	return *key >> 33
}

var sink atomic.Uint64

func main() {
	if len(os.Args) == 5 && os.Args[1] == "handoff" {
		runtime.SetMutexProfileFraction(num(os.Args[3]))
		runtime.SetBlockProfileRate(num(os.Args[4]))
		handoff(os.Args[2])
		return
	}
	if len(os.Args) != 7 || os.Args[1] != "cycle" {
		fmt.Fprintln(os.Stderr, "usage: main cycle WORKLOAD THREADS PERIOD_MS CYCLES F:R,... | main handoff DIR FRACTION RATE_NS")
		os.Exit(2)
	}
	workload := os.Args[2]
	threads, period, cycles := max(num(os.Args[3]), 1), num(os.Args[4]), num(os.Args[5])
	var settings [][3]int
	for _, s := range strings.Split(os.Args[6], ",") {
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 {
			fmt.Fprintf(os.Stderr, "main: setting %q is not F:R[:T]\n", s)
			os.Exit(2)
		}
		setting := [3]int{num(parts[0]), num(parts[1]), 0}
		if len(parts) == 3 {
			setting[2] = num(parts[2])
		}
		settings = append(settings, setting)
	}
	var w *running
	switch workload {
	case "seed", "seed-read":
		w = seed(threads, workload == "seed-read")
	case "short":
		w = short(threads)
	case "uncontended":
		w = uncontended(threads)
	case "compute":
		w = compute(threads)
	case "channel":
		w = pipeline(max(threads, 2))
	case "condvar":
		w = queue(threads)
	case "barrier":
		w = phases(threads)
	default:
		fmt.Fprintf(os.Stderr, "main: unknown workload %q\n", workload)
		os.Exit(2)
	}
	order := make([]int, 0, cycles*len(settings))
	for c := 0; c < cycles; c++ {
		for i := range settings {
			if c%2 == 0 {
				order = append(order, i)
			} else {
				order = append(order, len(settings)-1-i)
			}
		}
	}
	var tracing tracer
	rates := w.measure(len(order), time.Duration(period)*time.Millisecond, func(k int) {
		runtime.SetMutexProfileFraction(settings[order[k]][0])
		runtime.SetBlockProfileRate(settings[order[k]][1])
		tracing.set(settings[order[k]][2])
	})
	tracing.set(0)
	for k, r := range rates {
		fmt.Printf("%d %.0f\n", order[k], r)
	}
}

// tracer switches the execution tracer: 0 off, 1 a trace into io.Discard, 2 the flight
// recorder at its defaults; and 3, the CPU profile at 100 Hz into io.Discard.
type tracer struct {
	mode   int
	flight *trace.FlightRecorder
}

func (t *tracer) set(mode int) {
	if mode == t.mode {
		return
	}
	switch t.mode {
	case 1:
		trace.Stop()
	case 2:
		t.flight.Stop()
		t.flight = nil
	case 3:
		pprof.StopCPUProfile()
	}
	switch mode {
	case 1:
		if err := trace.Start(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "main:", err)
			os.Exit(1)
		}
	case 2:
		t.flight = trace.NewFlightRecorder(trace.FlightRecorderConfig{})
		if err := t.flight.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "main:", err)
			os.Exit(1)
		}
	case 3:
		if err := pprof.StartCPUProfile(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "main:", err)
			os.Exit(1)
		}
	}
	t.mode = mode
}

// counter is one goroutine's count of operations, alone on its cache lines.
type counter struct {
	n atomic.Uint64
	_ [120]byte
}

// running is a started workload: its goroutines wait for start, count their operations in
// counters, and end when stop is called.
type running struct {
	start    sync.WaitGroup
	done     sync.WaitGroup
	counters []counter
	stop     func()
}

func newRunning(counting int) *running {
	w := &running{counters: make([]counter, counting)}
	w.start.Add(1)
	return w
}

func (w *running) total() uint64 {
	t := uint64(0)
	for i := range w.counters {
		t += w.counters[i].n.Load()
	}
	return t
}

// measure lets the goroutines go, measures `periods` periods of length `p` (before(k) runs at
// the start of period k), then stops them; the operations per second of each period.
func (w *running) measure(periods int, p time.Duration, before func(k int)) []float64 {
	rates := make([]float64, 0, periods)
	w.start.Done()
	at, done := time.Now(), w.total()
	for k := 0; k < periods; k++ {
		before(k)
		time.Sleep(p)
		now, total := time.Now(), w.total()
		rates = append(rates, float64(total-done)/now.Sub(at).Seconds())
		at, done = now, total
	}
	w.stop()
	w.done.Wait()
	return rates
}

// workers runs op on `threads` goroutines until stopped.
func workers(threads int, makeOp func(i int) func()) *running {
	w := newRunning(threads)
	var stop atomic.Bool
	w.stop = func() { stop.Store(true) }
	for i := 0; i < threads; i++ {
		op, c := makeOp(i), &w.counters[i]
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			n := uint64(0)
			w.start.Wait()
			for !stop.Load() {
				op()
				n++
				c.n.Store(n)
			}
		}()
	}
	return w
}

func seed(threads int, read bool) *running {
	var mu sync.RWMutex
	m := make(map[uint64][]byte, keys)
	for k := uint64(0); k < keys; k++ {
		v := make([]byte, valueBytes)
		for i := range v {
			v[i] = byte(k % 251)
		}
		m[k] = v
	}
	return workers(threads, func(i int) func() {
		key := uint64(i) + 1
		return func() {
			k := nextKey(&key) % keys
			if read {
				mu.RLock()
				sink.Add(checksum(m[k]))
				mu.RUnlock()
			} else {
				// Every lookup under the write lock: the seed demo's bug.
				mu.Lock()
				v := checksum(m[k])
				mu.Unlock()
				sink.Add(v)
			}
		}
	})
}

func short(threads int) *running {
	var mu sync.Mutex
	m := make(map[uint64]uint64, shortKeys)
	for k := uint64(0); k < shortKeys; k++ {
		m[k] = k * 7
	}
	return workers(threads, func(i int) func() {
		key := uint64(i) + 1
		return func() {
			k := nextKey(&key) % shortKeys
			mu.Lock()
			v := m[k]
			mu.Unlock()
			sink.Add(v)
		}
	})
}

// computeWork is the work units per operation of the CPU-bound workload.
const computeWork = 4096

func compute(threads int) *running {
	return workers(threads, func(i int) func() {
		x := uint64(i + 1)
		// x lives in the closure: each result is stored, so the work cannot be removed.
		return func() { x = work(x, computeWork) }
	})
}

func uncontended(threads int) *running {
	// Each on its own cache lines, so that the workers share nothing.
	type padded struct {
		mu sync.Mutex
		v  uint64
		_  [128]byte
	}
	return workers(threads, func(i int) func() {
		p := new(padded)
		return func() {
			p.mu.Lock()
			p.v++
			p.mu.Unlock()
		}
	})
}

// pipeline: the first stage produces until stopped, each next one receives, works and
// forwards; the last counts. Closing cascades.
func pipeline(stages int) *running {
	w := newRunning(1)
	var stop atomic.Bool
	w.stop = func() { stop.Store(true) }
	chans := make([]chan uint64, stages-1)
	for i := range chans {
		chans[i] = make(chan uint64, channelBound)
	}
	for s := 0; s < stages; s++ {
		w.done.Add(1)
		go func(s int) {
			defer w.done.Done()
			w.start.Wait()
			switch {
			case s == 0:
				x := uint64(1)
				for !stop.Load() {
					x++
					chans[0] <- work(x, itemWork)
				}
				close(chans[0])
			case s < stages-1:
				for x := range chans[s-1] {
					chans[s] <- work(x, itemWork)
				}
				close(chans[s])
			default:
				n := uint64(0)
				for x := range chans[s-1] {
					sink.Add(work(x, itemWork))
					n++
					w.counters[0].n.Store(n)
				}
			}
		}(s)
	}
	return w
}

// queue: producers push jobs into a bounded queue, consumers pop them; each side waits on its
// own condition variable and wakes the other.
func queue(threads int) *running {
	producers := max(threads/2, 1)
	consumers := max(threads-producers, 1)
	w := newRunning(consumers)
	var mu sync.Mutex
	notEmpty, notFull := sync.NewCond(&mu), sync.NewCond(&mu)
	var ring [queueBound]uint64
	head, count := 0, 0
	closed := false
	w.stop = func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		notEmpty.Broadcast()
		notFull.Broadcast()
	}
	for i := 0; i < producers+consumers; i++ {
		w.done.Add(1)
		go func(i int) {
			defer w.done.Done()
			w.start.Wait()
			if i < producers {
				x := uint64(i)
				for {
					x = work(x, produceWork)
					mu.Lock()
					for count >= queueBound && !closed {
						notFull.Wait()
					}
					if closed {
						mu.Unlock()
						return
					}
					ring[(head+count)%queueBound] = x
					count++
					mu.Unlock()
					notEmpty.Signal()
				}
			}
			n, c := uint64(0), &w.counters[i-producers]
			for {
				mu.Lock()
				for count == 0 && !closed {
					notEmpty.Wait()
				}
				if count == 0 {
					mu.Unlock()
					return
				}
				job := ring[head]
				head = (head + 1) % queueBound
				count--
				mu.Unlock()
				notFull.Signal()
				sink.Add(work(job, itemWork))
				n++
				c.n.Store(n)
			}
		}(i)
	}
	return w
}

// barrier is a cyclic barrier as Rust's std::sync::Barrier is made: a mutex, a condition
// variable and a generation (Go has none of its own).
type barrier struct {
	mu         sync.Mutex
	cond       *sync.Cond
	n, count   int
	generation uint64
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	gen := b.generation
	b.count++
	if b.count < b.n {
		for gen == b.generation {
			b.cond.Wait()
		}
	} else {
		b.count = 0
		b.generation++
		b.cond.Broadcast()
	}
	b.mu.Unlock()
}

// phases: uneven work per phase, then the barrier; goroutine 0 sets the last phase before it
// arrives, every goroutine reads it after the barrier.
func phases(threads int) *running {
	w := newRunning(1)
	b := newBarrier(threads)
	var stop atomic.Bool
	w.stop = func() { stop.Store(true) }
	var last atomic.Uint64
	last.Store(^uint64(0))
	for i := 0; i < threads; i++ {
		w.done.Add(1)
		go func(i int) {
			defer w.done.Done()
			w.start.Wait()
			x := uint64(i) + 1
			for phase := uint64(0); ; phase++ {
				units := phaseWork * (1 + (uint64(i)+phase)&1)
				for u := uint64(0); u < units; u++ {
					x = (x ^ (x << 13)) ^ ((x ^ (x << 13)) >> 7)
				}
				sink.Add(x)
				if i == 0 && stop.Load() && last.Load() == ^uint64(0) {
					last.Store(phase)
				}
				b.wait()
				if i == 0 {
					w.counters[0].n.Store(phase + 1)
				}
				if last.Load() <= phase {
					return
				}
			}
		}(i)
	}
	return w
}

// The ground truth: in each of handoffRounds rounds a holder takes the mutex, lets
// handoffWaiters goroutines start waiting for it, holds it handoffHold, and releases it; each
// waiter then holds it handoffEach in turn. Every waiter times its own wait, from just before
// Lock to the release that let it in, which each holder stamps just before it unlocks (the end
// both profiles give a wait).
const (
	handoffRounds  = 10
	handoffWaiters = 3
	handoffHold    = 4 * time.Millisecond
	handoffEach    = 1 * time.Millisecond
)

func handoff(dir string) {
	var mu sync.Mutex
	var released time.Time // guarded by mu
	var waits, waited atomic.Int64
	for r := 0; r < handoffRounds; r++ {
		mu.Lock()
		var started, done sync.WaitGroup
		for w := 0; w < handoffWaiters; w++ {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				started.Done()
				t0 := time.Now()
				mu.Lock()
				waited.Add(int64(max(released.Sub(t0), 0)))
				waits.Add(1)
				time.Sleep(handoffEach)
				released = time.Now()
				mu.Unlock()
			}()
		}
		started.Wait()
		time.Sleep(handoffHold)
		released = time.Now()
		mu.Unlock()
		done.Wait()
	}
	fmt.Printf("%d %d\n", waits.Load(), waited.Load())
	for _, name := range []string{"mutex", "block"} {
		f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		f.Close()
	}
}

func num(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "main: %q is not a number\n", s)
		os.Exit(2)
	}
	return n
}
