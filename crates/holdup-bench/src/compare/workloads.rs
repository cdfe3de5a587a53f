//! The workloads both languages run (`go/main.go` is their Go side, written the same way), each
//! generic over a lock [`Family`], and the one that has a known ground truth.

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::family::Family;
use crate::contended::{KEYS, checksum, entries};

/// One workload of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workload {
    Seed,
    SeedRead,
    Short,
    Channel,
    Condvar,
    Barrier,
    Uncontended,
    Compute,
}

impl Workload {
    pub(crate) const ALL: [Workload; 8] = [
        Workload::Seed,
        Workload::SeedRead,
        Workload::Short,
        Workload::Channel,
        Workload::Condvar,
        Workload::Barrier,
        Workload::Uncontended,
        Workload::Compute,
    ];

    /// The name on the command line, in the tables and for the Go program.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Seed => "seed",
            Workload::SeedRead => "seed-read",
            Workload::Short => "short",
            Workload::Channel => "channel",
            Workload::Condvar => "condvar",
            Workload::Barrier => "barrier",
            Workload::Uncontended => "uncontended",
            Workload::Compute => "compute",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// What it does with `threads` threads, and what one operation is.
    pub(crate) fn describe(self, threads: usize) -> String {
        match self {
            Workload::Seed => format!(
                "the seed demo's cache: {threads} workers, every lookup (a 512-byte checksum) under \
                 the write lock of an RwLock; op = a lookup"
            ),
            Workload::SeedRead => format!(
                "the seed's fix: the same {threads} workers under the read lock; op = a lookup"
            ),
            Workload::Short => format!(
                "a short critical section: {threads} workers, a lookup in a 1,000-entry map under a \
                 mutex (tens of ns); op = a lookup"
            ),
            Workload::Channel => format!(
                "a channel pipeline: {} stages joined by bounded channels (capacity {CHANNEL_BOUND}); \
                 op = an item through every stage",
                threads.max(2)
            ),
            Workload::Condvar => {
                let (p, c) = queue_sides(threads);
                format!(
                    "a condvar work queue: {p} producers, {c} consumers, a mutex-guarded queue of \
                     {QUEUE_BOUND} with a condvar per side; op = a job consumed"
                )
            }
            Workload::Barrier => format!(
                "a barrier-phased loop: {threads} threads, uneven work per phase, then a barrier; \
                 op = a phase"
            ),
            Workload::Uncontended => format!(
                "uncontended: {threads} workers, each locking its own mutex; op = a lock + unlock"
            ),
            Workload::Compute => format!(
                "CPU-bound: {threads} workers computing, no locks (what a CPU profile costs); op = \
                 {COMPUTE_WORK} work units (a few microseconds)"
            ),
        }
    }

    /// Whether the workload's locks are contended (the "profiling off costs nothing" goal is
    /// about these; the uncontended loop has its own).
    pub(crate) fn contended(self) -> bool {
        !matches!(self, Workload::Uncontended | Workload::Compute)
    }
}

/// The channel pipeline's bound (Go: `make(chan uint64, 64)`).
const CHANNEL_BOUND: usize = 64;
/// The condvar queue's bound.
const QUEUE_BOUND: usize = 64;
/// Keys of the `short` workload's map.
const SHORT_KEYS: u64 = 1000;
/// Work units per barrier phase for the lighter threads (the heavier ones do twice as much).
const PHASE_WORK: u64 = 2_000;
/// Work units per item in each pipeline stage, and per job for a queue's consumer: about a
/// microsecond, so that the workloads measure hand-offs between threads that do something,
/// rather than the scheduler alone.
const ITEM_WORK: u32 = 512;
/// Work units per operation of the CPU-bound workload.
const COMPUTE_WORK: u32 = 4096;
/// Work units to make a job.
const PRODUCE_WORK: u32 = 64;

/// Producers and consumers of the condvar queue for `threads` threads (at least one each).
fn queue_sides(threads: usize) -> (usize, usize) {
    let producers = (threads / 2).max(1);
    (producers, threads.saturating_sub(producers).max(1))
}

/// `units` rounds of arithmetic the optimizer cannot remove (the same in Go): a unit is a
/// nanosecond or two.
fn work(mut x: u64, units: u32) -> u64 {
    for _ in 0..units {
        x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    x
}

/// The next key of a worker's sequence (a 64-bit LCG, as in Go).
fn next_key(key: &mut u64) -> u64 {
    *key = key
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *key >> 33
}

/// Starts `workload` with the family `F` on `threads` threads; `None` if the family lacks a
/// primitive it needs. The threads wait for [`Running::measure`] to let them go.
pub(crate) fn start<F: Family>(workload: Workload, threads: usize) -> Option<Running> {
    let threads = threads.max(1);
    match workload {
        Workload::Seed | Workload::SeedRead => {
            let cache = Arc::new(F::rwlock(entries()));
            let read = workload == Workload::SeedRead;
            Some(workers(threads, move |i| {
                let cache = cache.clone();
                let mut key = i as u64 + 1;
                move || {
                    let k = next_key(&mut key) % KEYS;
                    let get = |m: &HashMap<u64, Vec<u8>>| m.get(&k).map_or(0, |v| checksum(v));
                    black_box(if read {
                        F::read(&cache, get)
                    } else {
                        F::write(&cache, get)
                    });
                }
            }))
        }
        Workload::Short => {
            let map: HashMap<u64, u64> = (0..SHORT_KEYS).map(|k| (k, k * 7)).collect();
            let map = Arc::new(F::mutex(map));
            Some(workers(threads, move |i| {
                let map = map.clone();
                let mut key = i as u64 + 1;
                move || {
                    let k = next_key(&mut key) % SHORT_KEYS;
                    black_box(F::lock(&map, |m| m[&k]));
                }
            }))
        }
        Workload::Uncontended => Some(workers(threads, |_| {
            // Each on its own cache lines, so that the workers share nothing.
            let m = Box::new(Padded(F::mutex(0u64)));
            move || F::lock(black_box(&m.0), |v| *v += 1)
        })),
        Workload::Compute => Some(workers(threads, |i| {
            let mut x = i as u64 + 1;
            move || x = black_box(work(x, COMPUTE_WORK))
        })),
        Workload::Channel => pipeline::<F>(threads.max(2)),
        Workload::Condvar => Some(queue::<F>(threads)),
        Workload::Barrier => phases::<F>(threads),
    }
}

/// Runs `workload` with `F` for `dur`: operations per second.
pub(crate) fn run<F: Family>(workload: Workload, threads: usize, dur: Duration) -> Option<f64> {
    let running = start::<F>(workload, threads)?;
    let periods = running.measure(&[dur], |_| {});
    Some(periods[0])
}

/// A value alone on its cache lines (two, for the adjacent-line prefetcher).
#[repr(align(128))]
struct Padded<T>(T);

/// Operations done so far, one counter per counting thread, each on its own cache lines: a
/// thread stores its own count (no read-modify-write), the measuring thread sums them.
struct Progress(Box<[Padded<AtomicU64>]>);

impl Progress {
    fn new(n: usize) -> Arc<Progress> {
        Arc::new(Progress(
            (0..n).map(|_| Padded(AtomicU64::new(0))).collect(),
        ))
    }

    fn set(&self, i: usize, n: u64) {
        self.0[i].0.store(n, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        self.0.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

/// A started workload: its threads wait at `start` until measured, count their operations in
/// `progress`, and end when `stop` is called.
pub(crate) struct Running {
    start: Arc<Barrier>,
    progress: Arc<Progress>,
    stop: Box<dyn FnOnce()>,
    handles: Vec<JoinHandle<()>>,
}

impl Running {
    /// Lets the threads go, then measures one period after the other: `before(k)` runs at the
    /// start of period `k` (to change the profile settings), and each period's operations per
    /// second are returned. Stops and joins the threads at the end.
    pub(crate) fn measure(self, periods: &[Duration], mut before: impl FnMut(usize)) -> Vec<f64> {
        self.start.wait();
        let mut rates = Vec::with_capacity(periods.len());
        let (mut at, mut done) = (Instant::now(), self.progress.total());
        for (k, &p) in periods.iter().enumerate() {
            before(k);
            std::thread::sleep(p);
            let (now, total) = (Instant::now(), self.progress.total());
            rates.push((total - done) as f64 / (now - at).as_secs_f64());
            (at, done) = (now, total);
        }
        (self.stop)();
        for h in self.handles {
            h.join().expect("a workload thread panicked");
        }
        rates
    }
}

/// `threads` workers, each repeating its `op` until stopped.
fn workers<Op: FnMut() + Send + 'static>(threads: usize, make: impl Fn(usize) -> Op) -> Running {
    let start = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Progress::new(threads);
    let handles = (0..threads)
        .map(|i| {
            let (start, stop, progress, mut op) =
                (start.clone(), stop.clone(), progress.clone(), make(i));
            std::thread::spawn(move || {
                let mut n = 0u64;
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    op();
                    n += 1;
                    progress.set(i, n);
                }
            })
        })
        .collect();
    Running {
        start,
        progress,
        stop: Box::new(move || stop.store(true, Ordering::Relaxed)),
        handles,
    }
}

/// A pipeline of `stages` threads: the first produces until stopped, each next one receives,
/// works and forwards; the last counts. Closing cascades: each stage drops its sender when its
/// input ends.
fn pipeline<F: Family>(stages: usize) -> Option<Running> {
    let mut channels = Vec::new();
    for _ in 1..stages {
        channels.push(F::channel::<u64>(CHANNEL_BOUND)?);
    }
    let start = Arc::new(Barrier::new(stages + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Progress::new(1);
    let mut inputs: Vec<Option<F::Receiver<u64>>> = vec![None];
    let mut outputs: Vec<Option<F::Sender<u64>>> = Vec::new();
    for (tx, rx) in channels {
        outputs.push(Some(tx));
        inputs.push(Some(rx));
    }
    outputs.push(None);
    let mut handles = Vec::new();
    for (input, output) in inputs.into_iter().zip(outputs) {
        let (start, stop, progress) = (start.clone(), stop.clone(), progress.clone());
        handles.push(std::thread::spawn(move || {
            start.wait();
            match (input, output) {
                (None, Some(tx)) => {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = x.wrapping_add(1);
                        if !F::send(&tx, work(x, ITEM_WORK)) {
                            break;
                        }
                    }
                }
                (Some(rx), Some(tx)) => {
                    while let Some(x) = F::recv(&rx) {
                        if !F::send(&tx, work(x, ITEM_WORK)) {
                            break;
                        }
                    }
                }
                (Some(rx), None) => {
                    let mut n = 0u64;
                    while let Some(x) = F::recv(&rx) {
                        black_box(work(x, ITEM_WORK));
                        n += 1;
                        progress.set(0, n);
                    }
                }
                (None, None) => unreachable!("a pipeline has at least two stages"),
            }
        }));
    }
    Some(Running {
        start,
        progress,
        stop: Box::new(move || stop.store(true, Ordering::Relaxed)),
        handles,
    })
}

/// The condvar work queue's shared state.
struct Queue {
    items: VecDeque<u64>,
    closed: bool,
}

/// Producers push jobs into a bounded queue, consumers pop them; each side waits on its own
/// condvar (full, empty) and wakes the other.
fn queue<F: Family>(threads: usize) -> Running {
    let (producers, consumers) = queue_sides(threads);
    let shared = Arc::new((
        F::mutex(Queue {
            items: VecDeque::with_capacity(QUEUE_BOUND),
            closed: false,
        }),
        F::condvar(),
        F::condvar(),
    ));
    let start = Arc::new(Barrier::new(producers + consumers + 1));
    let progress = Progress::new(consumers);
    let mut handles = Vec::new();
    for i in 0..producers + consumers {
        let (shared, start, progress) = (shared.clone(), start.clone(), progress.clone());
        handles.push(std::thread::spawn(move || {
            let (m, not_empty, not_full) = &*shared;
            start.wait();
            if i < producers {
                let mut x = i as u64;
                loop {
                    x = work(x, PRODUCE_WORK);
                    let pushed = F::wait_then(
                        m,
                        not_full,
                        |q| q.items.len() >= QUEUE_BOUND && !q.closed,
                        |q| {
                            if !q.closed {
                                q.items.push_back(x);
                            }
                            !q.closed
                        },
                    );
                    if !pushed {
                        break;
                    }
                    F::notify_one(not_empty);
                }
            } else {
                let mut n = 0u64;
                loop {
                    let job = F::wait_then(
                        m,
                        not_empty,
                        |q| q.items.is_empty() && !q.closed,
                        |q| q.items.pop_front(),
                    );
                    let Some(job) = job else { break };
                    F::notify_one(not_full);
                    black_box(work(job, ITEM_WORK));
                    n += 1;
                    progress.set(i - producers, n);
                }
            }
        }));
    }
    Running {
        start,
        progress,
        stop: Box::new(move || {
            let (m, not_empty, not_full) = &*shared;
            F::lock(m, |q| q.closed = true);
            F::notify_all(not_empty);
            F::notify_all(not_full);
        }),
        handles,
    }
}

/// `threads` threads do uneven work (half of them twice as much, alternating per phase), then
/// meet at a barrier. They agree on when to stop through the barrier: thread 0 sets the last
/// phase before it arrives, and every thread reads it after the barrier.
fn phases<F: Family>(threads: usize) -> Option<Running> {
    let barrier = Arc::new(F::barrier(threads)?);
    let start = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU64::new(u64::MAX));
    let progress = Progress::new(1);
    let handles = (0..threads)
        .map(|i| {
            let (barrier, start, stop, last, progress) = (
                barrier.clone(),
                start.clone(),
                stop.clone(),
                last.clone(),
                progress.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                let mut x = i as u64 + 1;
                let mut phase = 0u64;
                loop {
                    let units = PHASE_WORK * (1 + ((i as u64 + phase) & 1));
                    for _ in 0..units {
                        x = (x ^ (x << 13)) ^ ((x ^ (x << 13)) >> 7);
                    }
                    black_box(x);
                    if i == 0
                        && stop.load(Ordering::Relaxed)
                        && last.load(Ordering::Relaxed) == u64::MAX
                    {
                        last.store(phase, Ordering::Relaxed);
                    }
                    F::barrier_wait(&barrier);
                    if i == 0 {
                        progress.set(0, phase + 1);
                    }
                    if last.load(Ordering::Relaxed) <= phase {
                        return;
                    }
                    phase += 1;
                }
            })
        })
        .collect();
    Some(Running {
        start,
        progress,
        stop: Box::new(move || stop.store(true, Ordering::Relaxed)),
        handles,
    })
}
