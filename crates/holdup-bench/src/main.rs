//! holdup's side-by-side benchmark harness: every variant runs in this one process, interleaved
//! round-robin, and the tables print ratios against std (and parking_lot), so that the noise of
//! a shared machine hits all variants alike.
//!
//! ```text
//! cargo run --release -p holdup-bench                 # everything (about a minute)
//! cargo run --release -p holdup-bench -- --quick      # shorter runs, for CI smoke checks
//! cargo run --release -p holdup-bench -- uncontended | contended | events | callgrind | http | cli | dump | leak
//! cargo run --release -p holdup-bench -- contended --settings 100:0,0:10000   # more rows
//! RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=target/fp \
//!     cargo run --release -p holdup-bench -- events   # frame-pointer unwinding too
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Profiling settings: (mutex fraction, block rate in ns).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Setting(i64, i64);

const OFF: Setting = Setting(0, 0);
const PRODUCTION: Setting = Setting(100, 10_000);
const EVERYTHING: Setting = Setting(1, 1);

impl Setting {
    fn apply(self) {
        holdup::set_mutex_profile_fraction(self.0);
        holdup::set_block_profile_rate(self.1);
    }

    fn describe(self) -> String {
        match self {
            OFF => "profiling off".into(),
            Setting(f, r) => format!(
                "fraction {f}, rate {}",
                if r >= 1000 {
                    format!("{}us", r / 1000)
                } else {
                    r.to_string()
                }
            ),
        }
    }

    /// Parses `F:R` (mutex fraction : block rate in ns).
    fn parse(s: &str) -> Result<Setting, String> {
        let (f, r) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: want FRACTION:RATE_NS"))?;
        let num = |v: &str| v.parse::<i64>().map_err(|e| format!("{s:?}: {e}"));
        Ok(Setting(num(f)?, num(r)?))
    }
}

struct Options {
    quick: bool,
    /// Extra holdup settings for the contended benchmark (`--settings 100:0,0:10000`).
    extra: Vec<Setting>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("spin") {
        // Internal: the target of `callgrind`.
        spin(&args[1], args[2].parse().expect("iterations"));
        return;
    }
    let mut opts = Options {
        quick: false,
        extra: Vec::new(),
    };
    let mut what: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => opts.quick = true,
            "-h" | "--help" => {
                println!(
                    "usage: holdup-bench [sizes] [uncontended] [contended] [events] [callgrind] [http] [cli] [dump] [leak] [--quick] [--settings F:R,...]\n\
                     \n\
                     Runs the named parts (all by default), each variant side by side in this process.\n\
                     --quick        shorter runs (for smoke checks)\n\
                     --settings     extra holdup rows for `contended`: mutex fraction : block rate in ns"
                );
                return;
            }
            "--settings" => {
                let list = it.next().map(String::as_str).unwrap_or("");
                match list.split(',').map(Setting::parse).collect() {
                    Ok(v) => opts.extra = v,
                    Err(e) => {
                        eprintln!("holdup-bench: --settings {e}");
                        std::process::exit(2);
                    }
                }
            }
            other if other.starts_with("--") => {
                eprintln!(
                    "holdup-bench: unknown option {other} (known: --quick, --settings F:R,...)"
                );
                std::process::exit(2);
            }
            other => what.push(other),
        }
    }
    let all = what.is_empty();
    let known = [
        "sizes",
        "uncontended",
        "contended",
        "events",
        "callgrind",
        "http",
        "cli",
        "dump",
        "leak",
    ];
    if let Some(bad) = what.iter().find(|w| !known.contains(w)) {
        eprintln!("holdup-bench: unknown benchmark {bad:?}; choose from {known:?} (and --quick)");
        std::process::exit(2);
    }
    println!(
        "holdup-bench: {} cores, {} build",
        cores(),
        if cfg!(debug_assertions) {
            "DEBUG (numbers are meaningless)"
        } else {
            "release"
        }
    );
    if all || what.contains(&"sizes") {
        sizes();
    }
    if all || what.contains(&"uncontended") {
        uncontended(&opts);
    }
    if all || what.contains(&"contended") {
        contended(&opts);
    }
    if all || what.contains(&"events") {
        events(&opts);
    }
    if all || what.contains(&"callgrind") {
        callgrind(&opts);
    }
    if all || what.contains(&"http") {
        http(&opts);
    }
    if all || what.contains(&"cli") {
        cli(&opts);
    }
    if all || what.contains(&"dump") {
        dump(&opts);
    }
    if all || what.contains(&"leak") {
        leak(&opts);
    }
}

/// The bytes a profiled primitive takes, against std's and parking_lot's: what a struct of many
/// locks grows by when a program adopts holdup.
fn sizes() {
    use std::mem::size_of;
    println!("\n== size of a primitive (bytes) ==");
    println!(
        "{:<18} {:>5} {:>12} {:>7}",
        "", "std", "parking_lot", "holdup"
    );
    let rows = [
        (
            "Mutex<u64>",
            size_of::<std::sync::Mutex<u64>>(),
            size_of::<parking_lot::Mutex<u64>>(),
            size_of::<holdup::sync::Mutex<u64>>(),
        ),
        (
            "RwLock<u64>",
            size_of::<std::sync::RwLock<u64>>(),
            size_of::<parking_lot::RwLock<u64>>(),
            size_of::<holdup::sync::RwLock<u64>>(),
        ),
        (
            "Condvar",
            size_of::<std::sync::Condvar>(),
            size_of::<parking_lot::Condvar>(),
            size_of::<holdup::sync::Condvar>(),
        ),
        (
            "MutexGuard<u64>",
            size_of::<std::sync::MutexGuard<'static, u64>>(),
            size_of::<parking_lot::MutexGuard<'static, u64>>(),
            size_of::<holdup::sync::MutexGuard<'static, u64>>(),
        ),
    ];
    for (what, std, pl, h) in rows {
        println!("{what:<18} {std:>5} {pl:>12} {h:>7}");
    }
}

/// Blocks until `park`'s flag is set and its condvar notified.
fn park_until_done(park: &(std::sync::Mutex<bool>, std::sync::Condvar)) {
    let (m, cv) = park;
    let mut done = m.lock().unwrap();
    while !*done {
        done = cv.wait(done).unwrap();
    }
}

/// Time of a clean leak check (`holdup::leak::find`, and a `Guard` created and dropped) while
/// 10 or 1,000 unrelated threads are alive: half started through `holdup::thread` by another
/// thread (another scope), half plain std threads started before the guard, all of them the
/// baseline of `find` (`Options::ignore_current`, taken before the timing).
fn leak(opts: &Options) {
    let reps = if opts.quick { 20 } else { 200 };
    println!("\n== clean leak check (holdup::leak), median of {reps} ==");
    println!(
        "{:>9} {:>14} {:>20}",
        "threads", "find() us", "Guard new+drop us"
    );
    let sizes: &[usize] = if opts.quick { &[10, 100] } else { &[10, 1000] };
    for &n in sizes {
        let park = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let mut threads = Vec::new();
        // Another scope's holdup threads: started from a std thread.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawner = {
            let park = park.clone();
            std::thread::spawn(move || {
                let handles: Vec<_> = (0..n / 2)
                    .map(|_| {
                        let park = park.clone();
                        holdup::thread::Builder::new()
                            .stack_size(64 * 1024)
                            .spawn(move || park_until_done(&park))
                            .expect("spawn")
                    })
                    .collect();
                ready_tx.send(()).unwrap();
                for h in handles {
                    h.join().unwrap();
                }
            })
        };
        ready_rx.recv().unwrap();
        for _ in 0..n - n / 2 {
            let park = park.clone();
            threads.push(
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || park_until_done(&park))
                    .expect("spawn"),
            );
        }
        // The threads alive now are the baseline (without one, a plain binary's check reports
        // every thread alive besides the caller, as goleak's VerifyNone does).
        let baseline = holdup::leak::Options::new().ignore_current();
        let mut find_us = Vec::new();
        let mut guard_us = Vec::new();
        for _ in 0..reps {
            let opts = baseline.clone();
            let t = Instant::now();
            holdup::leak::find(opts).expect("a clean check");
            find_us.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            holdup::leak::Guard::new().check().expect("a clean guard");
            guard_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        println!(
            "{n:>9} {:>14.0} {:>20.0}",
            median(find_us),
            median(guard_us)
        );
        *park.0.lock().unwrap() = true;
        park.1.notify_all();
        for t in threads {
            t.join().unwrap();
        }
        spawner.join().unwrap();
    }
}

/// Recurses `depth` frames, then blocks: half the threads on a held holdup `Mutex`, half on a
/// std `Condvar`, like the feasibility prototype's `dump` scenario.
#[inline(never)]
fn dump_recurse(
    depth: u32,
    i: usize,
    lock: &holdup::sync::Mutex<()>,
    park: &(std::sync::Mutex<bool>, std::sync::Condvar),
) {
    if depth > 0 {
        dump_recurse(depth - 1, i, lock, park);
        black_box(depth);
        return;
    }
    if i.is_multiple_of(2) {
        drop(black_box(lock.lock()));
    } else {
        park_until_done(park);
    }
}

/// Wall time of a full thread dump at 10, 100 and 1,000 blocked threads, and the longest time
/// any thread spent interrupted (in its signal handler).
fn dump(opts: &Options) {
    let reps = if opts.quick { 3 } else { 15 };
    println!(
        "\n== thread dump (holdup::dump::threads): median of {reps} dumps after one cold dump =="
    );
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>14} {:>10}",
        "threads", "cold ms", "median ms", "max ms", "longest stop", "stacks"
    );
    let sizes: &[usize] = if opts.quick {
        &[10, 100]
    } else {
        &[10, 100, 1000]
    };
    for &n in sizes {
        let lock = Arc::new(holdup::sync::Mutex::new(()));
        let park = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let guard = lock.lock().unwrap();
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (lock, park) = (lock.clone(), park.clone());
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn(move || dump_recurse(9, i, &lock, &park))
                    .expect("spawn")
            })
            .collect();
        // Until every thread is blocked (its kernel state leaves R).
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let d = holdup::dump::threads();
            let blocked = d
                .threads()
                .iter()
                .filter(|t| t.kernel_state == Some('S'))
                .count();
            if blocked >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let started = Instant::now();
        let cold = holdup::dump::threads();
        let cold_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::new();
        let mut longest = Duration::ZERO;
        let mut with_stacks = 0;
        for _ in 0..reps {
            let started = Instant::now();
            let d = holdup::dump::threads();
            times.push(started.elapsed().as_secs_f64() * 1e3);
            longest = longest.max(d.longest_interruption());
            if std::env::var_os("HOLDUP_BENCH_DUMP_DETAIL").is_some() {
                let mut h: Vec<u128> = d
                    .threads()
                    .iter()
                    .filter_map(|t| t.interrupted_for)
                    .map(|x| x.as_nanos())
                    .collect();
                h.sort_unstable();
                eprintln!(
                    "handler ns p50 {} p90 {} p99 {} max {}",
                    h[h.len() / 2],
                    h[h.len() * 9 / 10],
                    h[h.len() * 99 / 100],
                    h[h.len() - 1]
                );
            }
            with_stacks = d
                .threads()
                .iter()
                .filter(|t| t.frames.iter().any(|f| f.function.contains("dump_recurse")))
                .count();
        }
        black_box(cold);
        let max = times.iter().copied().fold(0.0, f64::max);
        println!(
            "{n:>8} {cold_ms:>10.1} {:>12.2} {max:>12.2} {:>11.1} us {:>10}",
            median(times),
            longest.as_secs_f64() * 1e6,
            format!("{with_stacks}/{n}")
        );
        drop(guard);
        *park.0.lock().unwrap() = true;
        park.1.notify_all();
        for t in threads {
            t.join().unwrap();
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Nanoseconds per call of `f`, over `iters` calls.
fn ns_per_op(iters: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

type Bench = (&'static str, Setting, Box<dyn FnMut()>);

/// Runs each benchmark `rounds` times, round-robin, and returns the median ns/op of each.
fn interleaved(benches: &mut [Bench], iters: u64, rounds: usize) -> Vec<f64> {
    let mut samples = vec![Vec::new(); benches.len()];
    for (_, setting, f) in benches.iter_mut() {
        setting.apply();
        ns_per_op(iters / 10, f); // warm up
    }
    for _ in 0..rounds {
        for (i, (_, setting, f)) in benches.iter_mut().enumerate() {
            setting.apply();
            samples[i].push(ns_per_op(iters, &mut *f));
        }
    }
    OFF.apply();
    samples.into_iter().map(median).collect()
}

fn uncontended(opts: &Options) {
    let (iters, rounds) = if opts.quick {
        (1_000_000, 3)
    } else {
        (5_000_000, 9)
    };
    println!(
        "\n== uncontended lock + unlock (median of {rounds} interleaved rounds of {iters}) =="
    );
    let std_m = Arc::new(std::sync::Mutex::new(0u64));
    let pl_m = Arc::new(parking_lot::Mutex::new(0u64));
    let h_m = Arc::new(holdup::sync::Mutex::new(0u64));
    let std_rw = Arc::new(std::sync::RwLock::new(0u64));
    let h_rw = Arc::new(holdup::sync::RwLock::new(0u64));
    let mutex = |m: &Arc<holdup::sync::Mutex<u64>>| {
        let m = m.clone();
        Box::new(move || *black_box(&m).lock().unwrap() += 1) as Box<dyn FnMut()>
    };
    let mut benches: Vec<Bench> = vec![
        ("std::sync::Mutex", OFF, {
            let m = std_m.clone();
            Box::new(move || *black_box(&m).lock().unwrap() += 1)
        }),
        ("parking_lot::Mutex", OFF, {
            let m = pl_m.clone();
            Box::new(move || *black_box(&m).lock() += 1)
        }),
        ("holdup Mutex", OFF, mutex(&h_m)),
        ("holdup Mutex", PRODUCTION, mutex(&h_m)),
        ("holdup Mutex", EVERYTHING, mutex(&h_m)),
        ("std::sync::RwLock read", OFF, {
            let l = std_rw.clone();
            Box::new(move || {
                black_box(*black_box(&l).read().unwrap());
            })
        }),
        ("holdup RwLock read", OFF, {
            let l = h_rw.clone();
            Box::new(move || {
                black_box(*black_box(&l).read().unwrap());
            })
        }),
        ("holdup RwLock read", EVERYTHING, {
            let l = h_rw.clone();
            Box::new(move || {
                black_box(*black_box(&l).read().unwrap());
            })
        }),
        ("std::sync::RwLock write", OFF, {
            let l = std_rw.clone();
            Box::new(move || *black_box(&l).write().unwrap() += 1)
        }),
        ("holdup RwLock write", OFF, {
            let l = h_rw.clone();
            Box::new(move || *black_box(&l).write().unwrap() += 1)
        }),
        ("holdup RwLock write", EVERYTHING, {
            let l = h_rw.clone();
            Box::new(move || *black_box(&l).write().unwrap() += 1)
        }),
    ];
    let ns = interleaved(&mut benches, iters, rounds);
    let baseline: HashMap<&str, f64> = [("Mutex", ns[0]), ("read", ns[5]), ("write", ns[8])]
        .into_iter()
        .collect();
    println!(
        "{:<26} {:<26} {:>8} {:>9}",
        "primitive", "settings", "ns/op", "vs std"
    );
    for ((name, setting, _), ns) in benches.iter().zip(&ns) {
        let key = if name.ends_with("read") {
            "read"
        } else if name.ends_with("write") {
            "write"
        } else {
            "Mutex"
        };
        println!(
            "{name:<26} {:<26} {ns:>8.1} {:>9.3}",
            setting.describe(),
            ns / baseline[key]
        );
    }
}

/// The seed workload: a read-mostly cache whose `get` takes the write lock.
struct Cache<L> {
    map: L,
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The seed demo's cache (`examples/contended_cache.rs`): 4096 keys of 512-byte values.
const KEYS: u64 = 4096;
const VALUE_BYTES: usize = 512;

fn entries() -> HashMap<u64, Vec<u8>> {
    (0..KEYS)
        .map(|k| (k, vec![(k % 251) as u8; VALUE_BYTES]))
        .collect()
}

/// A cache lookup, shared by the worker threads.
type Lookup = Arc<dyn Fn(u64) -> u64 + Send + Sync>;

/// Lookups per second with `threads` workers for `dur`.
fn throughput(threads: usize, dur: Duration, get: Lookup) -> f64 {
    let start = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (start, stop, total, get) =
                (start.clone(), stop.clone(), total.clone(), get.clone());
            std::thread::spawn(move || {
                let mut key = i as u64 + 1;
                let mut n = 0u64;
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    key = key
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    black_box(get((key >> 33) % KEYS));
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    total.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64()
}

fn contended(opts: &Options) {
    let (dur, rounds) = if opts.quick {
        (Duration::from_millis(300), 3)
    } else {
        (Duration::from_millis(1000), 5)
    };
    println!(
        "\n== contended seed workload: Cache::get under the write lock (median of {rounds} interleaved runs of {dur:?}) =="
    );
    let std_cache = Arc::new(Cache {
        map: std::sync::RwLock::new(entries()),
    });
    let h_cache = Arc::new(Cache {
        map: holdup::sync::RwLock::new(entries()),
    });
    println!(
        "{:>7} {:<26} {:<26} {:>12} {:>9} {:>9}",
        "threads", "lock", "settings", "lookups/s", "vs off", "vs std"
    );
    for threads in [2, 4] {
        let mut variants: Vec<(&str, Setting, Lookup)> = vec![
            ("std::sync::RwLock", OFF, {
                let c = std_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
            ("holdup RwLock", OFF, {
                let c = h_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
            ("holdup RwLock", PRODUCTION, {
                let c = h_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
            ("holdup RwLock", EVERYTHING, {
                let c = h_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
        ];
        for &setting in &opts.extra {
            let c = h_cache.clone();
            variants.push((
                "holdup RwLock",
                setting,
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v))),
            ));
        }
        let mut results = vec![Vec::new(); variants.len()];
        for _ in 0..rounds {
            for (i, (_, setting, get)) in variants.iter().enumerate() {
                setting.apply();
                results[i].push(throughput(threads, dur, get.clone()));
            }
        }
        OFF.apply();
        let medians: Vec<f64> = results.into_iter().map(median).collect();
        for ((name, setting, _), m) in variants.iter().zip(&medians) {
            println!(
                "{threads:>7} {name:<26} {:<26} {:>12.0} {:>9.3} {:>9.3}",
                setting.describe(),
                m,
                m / medians[1],
                m / medians[0]
            );
        }
    }
}

/// Recurses `depth` frames, then runs `f` there.
#[inline(never)]
fn at_depth<R>(depth: usize, f: &mut dyn FnMut() -> R) -> R {
    if depth == 0 {
        return f();
    }
    let r = at_depth(depth - 1, f);
    black_box(depth);
    r
}

fn events(opts: &Options) {
    let (iters, rounds) = if opts.quick {
        (20_000, 3)
    } else {
        (200_000, 7)
    };
    println!(
        "\n== one sampled event: stack capture + bucket insert (median of {rounds} rounds of {iters}) =="
    );
    holdup::set_block_profile_rate(1);
    let unwinders = [
        holdup::profile::Unwinder::Dwarf,
        holdup::profile::Unwinder::FramePointers,
    ];
    // Does this build have frame pointers? Auto decides on the first capture.
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::__bench::record_sampled_event();
    let has_fp = holdup::profile::unwinder() == holdup::profile::Unwinder::FramePointers;
    println!(
        "frame pointers in this build: {}",
        if has_fp {
            "yes"
        } else {
            "no (rebuild with RUSTFLAGS=\"-C force-frame-pointers=yes\" to measure that unwinder)"
        }
    );
    println!(
        "{:>14} {:<16} {:>10}",
        "user frames", "unwinder", "ns/event"
    );
    for depth in [16, 64] {
        for unwinder in unwinders {
            if unwinder == holdup::profile::Unwinder::FramePointers && !has_fp {
                continue;
            }
            holdup::profile::set_unwinder(unwinder);
            let mut samples = Vec::new();
            for _ in 0..rounds {
                samples.push(at_depth(depth, &mut || {
                    ns_per_op(iters, holdup::__bench::record_sampled_event)
                }));
            }
            println!(
                "{depth:>14} {:<16} {:>10.0}",
                format!("{unwinder:?}"),
                median(samples)
            );
        }
    }
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::set_block_profile_rate(0);
}

/// The body `callgrind` counts: `iters` uncontended lock + unlock of one variant.
fn spin(variant: &str, iters: u64) {
    let std_m = std::sync::Mutex::new(0u64);
    let pl_m = parking_lot::Mutex::new(0u64);
    let h_m = holdup::sync::Mutex::new(0u64);
    match variant {
        "std" => (0..iters).for_each(|_| *black_box(&std_m).lock().unwrap() += 1),
        "parking_lot" => (0..iters).for_each(|_| *black_box(&pl_m).lock() += 1),
        "holdup-off" => (0..iters).for_each(|_| *black_box(&h_m).lock().unwrap() += 1),
        "holdup-on" => {
            EVERYTHING.apply();
            (0..iters).for_each(|_| *black_box(&h_m).lock().unwrap() += 1);
        }
        other => panic!("unknown variant {other}"),
    }
}

/// Instructions (callgrind's `Ir`) executed by `spin variant iters`.
fn instructions(variant: &str, iters: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&exe)
        .args(["spin", variant, &iters.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("valgrind failed: {stderr}"));
    }
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().parse::<u64>())
        })
        .ok_or_else(|| format!("no 'Collected' line in valgrind's output:\n{stderr}"))?
        .map_err(|e| e.to_string())
}

fn callgrind(opts: &Options) {
    let n: u64 = if opts.quick { 100_000 } else { 1_000_000 };
    println!(
        "\n== instructions per uncontended lock + unlock (callgrind: Ir({}) - Ir({n}), / {n}) ==",
        2 * n
    );
    let mut per_op = Vec::new();
    for variant in ["std", "parking_lot", "holdup-off", "holdup-on"] {
        let r = instructions(variant, n)
            .and_then(|a| instructions(variant, 2 * n).map(|b| (b - a) as f64 / n as f64));
        match r {
            Ok(ir) => per_op.push((variant, ir)),
            Err(e) => {
                println!("{variant}: {e}");
                return;
            }
        }
    }
    println!("{:<14} {:>8} {:>9}", "variant", "Ir/op", "vs std");
    for (variant, ir) in &per_op {
        println!("{variant:<14} {ir:>8.1} {:>9.3}", ir / per_op[0].1);
    }
}

/// Two distinct frames for [`distinct_stack`] to choose between at each level.
#[inline(never)]
fn path_a(bits: u32, level: u32) {
    distinct_stack(bits, level);
    black_box(level);
}

#[inline(never)]
fn path_b(bits: u32, level: u32) {
    distinct_stack(bits, level);
    black_box(level);
}

/// Records one mutex event on a stack that spells `bits` (14 levels of `path_a`/`path_b`), so
/// that every value of `bits` below 2^14 gives a different stack.
#[inline(never)]
fn distinct_stack(bits: u32, level: u32) {
    if level == 14 {
        holdup::__bench::record_sampled_mutex_event();
    } else if bits >> level & 1 == 0 {
        path_a(bits, level + 1);
    } else {
        path_b(bits, level + 1);
    }
}

/// The distinct stacks in the mutex profile now.
fn mutex_stacks() -> usize {
    holdup::profile::mutex().len()
}

/// Fills the mutex profile up to `n` distinct stacks.
fn fill_mutex_profile(n: u32) {
    for bits in 0..n {
        distinct_stack(bits, 0);
    }
}

/// GETs `url` and returns the body's length (panics on failure: a benchmark must not report
/// numbers for errors).
fn fetch(agent: &ureq::Agent, url: &str) -> usize {
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    r.body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .len()
}

fn http(opts: &Options) {
    let quick = opts.quick;
    println!("\n== /debug/pprof/ over HTTP (loopback, one keep-alive client) ==");
    let server = holdup::http::serve("127.0.0.1:0").expect("serve /debug/pprof/");
    let base = format!("http://{}/debug/pprof", server.local_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    holdup::profile::set_max_buckets(20_000);

    // Requests per second for the mutex profile with 1,000 distinct stacks.
    fill_mutex_profile(1_000);
    let stacks = mutex_stacks();
    let started = Instant::now();
    let cold = fetch(&agent, &format!("{base}/mutex"));
    let cold_ms = started.elapsed().as_secs_f64() * 1e3;
    let window = Duration::from_millis(if quick { 500 } else { 3_000 });
    let started = Instant::now();
    let mut requests = 0u64;
    while started.elapsed() < window {
        black_box(fetch(&agent, &format!("{base}/mutex")));
        requests += 1;
    }
    let per_second = requests as f64 / started.elapsed().as_secs_f64();
    println!(
        "mutex profile, {stacks} stacks ({cold} bytes): first request {cold_ms:.1} ms (symbolizes); then {per_second:.0} requests/s ({:.2} ms each)",
        1e3 / per_second
    );

    // The seed workload's throughput while a scraper fetches mutex, block and goroutine every
    // second (as Alloy and Parca do, at a 15 s and 10 s interval), against no scraper.
    // Pairs of runs, alternating which goes first (drift on a shared machine then cancels),
    // reported as the median of the pairs' ratios.
    let (dur, pairs) = if quick {
        (Duration::from_millis(1_200), 2)
    } else {
        (Duration::from_secs(2), 12)
    };
    let cache = Arc::new(Cache {
        map: holdup::sync::RwLock::new(entries()),
    });
    let lookup: Lookup = {
        let c = cache.clone();
        Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
    };
    let scraped_run = |lookup: Lookup| {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let scraper = {
            let (agent, base) = (agent.clone(), base.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                loop {
                    let tick = Instant::now();
                    for p in ["mutex", "block", "goroutine"] {
                        black_box(fetch(&agent, &format!("{base}/{p}")));
                    }
                    n += 1;
                    let rest = Duration::from_secs(1).saturating_sub(tick.elapsed());
                    if stopped.recv_timeout(rest) != Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    {
                        return n;
                    }
                }
            })
        };
        let r = throughput(2, dur, lookup);
        drop(stop);
        (r, scraper.join().unwrap())
    };
    PRODUCTION.apply();
    let (mut plain, mut scraped, mut ratios, mut scrapes) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for i in 0..pairs {
        let (p, (s, n)) = if i % 2 == 0 {
            let p = throughput(2, dur, lookup.clone());
            (p, scraped_run(lookup.clone()))
        } else {
            let s = scraped_run(lookup.clone());
            (throughput(2, dur, lookup.clone()), s)
        };
        plain.push(p);
        scraped.push(s);
        ratios.push(s / p);
        scrapes += n;
    }
    OFF.apply();
    println!(
        "seed workload, 2 threads, fraction 100 / rate 10us: {:.0} lookups/s unscraped, {:.0} scraped every second ({scrapes} scrapes of mutex+block+goroutine); median ratio of {pairs} pairs: {:.3} of unscraped",
        median(plain),
        median(scraped),
        median(ratios)
    );

    // Time to serve a 10,000-stack profile.
    fill_mutex_profile(10_000);
    let stacks = mutex_stacks();
    let mut times = Vec::new();
    let mut bytes = 0;
    let started = Instant::now();
    bytes = bytes.max(fetch(&agent, &format!("{base}/mutex")));
    let cold_ms = started.elapsed().as_secs_f64() * 1e3;
    for _ in 0..if quick { 3 } else { 9 } {
        let started = Instant::now();
        bytes = bytes.max(fetch(&agent, &format!("{base}/mutex")));
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let started = Instant::now();
    let text = fetch(&agent, &format!("{base}/mutex?debug=1"));
    let text_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "mutex profile, {stacks} stacks ({bytes} bytes): {:.1} ms to serve (median; first request {cold_ms:.1} ms); debug=1 text ({text} bytes) {text_ms:.1} ms",
        median(times)
    );
    server.shutdown();
}

/// A profile of `samples` samples over 2,000 functions (stacks 20 to 60 deep, two labels), the
/// shape of a large service's contention profile, as gzip'd profile.proto; and its raw size.
fn big_profile(samples: usize) -> (Vec<u8>, usize) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut b =
        holdup_pprof::ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period_type("contentions", "count", 1);
    let functions: Vec<String> = (0..2_000)
        .map(|i| format!("service::module_{}::function_{i}", i % 50))
        .collect();
    let locations: Vec<u64> = (0..20_000u64)
        .map(|i| {
            let f = &functions[(i % 2_000) as usize];
            let line = holdup_pprof::LineInfo {
                function: f.clone(),
                system_name: f.clone(),
                file: format!("src/module_{}.rs", i % 50),
                line: (i % 500) as i64 + 1,
            };
            b.location(0, 0x10_0000 + i * 16, &[line])
        })
        .collect();
    let sites: Vec<String> = (0..500)
        .map(|i| format!("src/module_{}.rs:{}", i % 50, i))
        .collect();
    let mut stack = Vec::new();
    for _ in 0..samples {
        stack.clear();
        let depth = 20 + next(41) as usize;
        // Callers near the root are shared, leaves vary: like real stacks.
        for d in 0..depth {
            let spread = if d < depth / 2 { 200 } else { 20_000 };
            stack.push(locations[next(spread) as usize]);
        }
        stack.reverse();
        let site = &sites[next(500) as usize];
        let kind = ["mutex", "rwlock-write", "chan-recv"][next(3) as usize];
        b.sample(
            &stack,
            &[1 + next(100) as i64, 1 + next(10_000_000) as i64],
            &[("lock", site), ("kind", kind)],
        );
    }
    let p = b.build();
    let raw = holdup_pprof::proto_len(&p);
    (holdup_pprof::encode(&p), raw)
}

/// Runs `cmd` to completion and returns (wall time, peak resident memory in bytes, stdout).
fn measure(cmd: &mut Command) -> Result<(Duration, u64, Vec<u8>), String> {
    use std::io::Read as _;
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child.id()` is our own child, not yet waited for; both pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let wall = started.elapsed();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("exited with status {status}"));
    }
    Ok((wall, usage.ru_maxrss as u64 * 1024, out))
}

fn cli(opts: &Options) {
    let samples = if opts.quick { 50_000 } else { 1_000_000 };
    println!("\n== `holdup top` vs `go tool pprof -top` on a profile of {samples} samples ==");
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
    let holdup = exe_dir.map(|d| d.join("holdup")).filter(|p| p.exists());
    let Some(holdup) = holdup else {
        println!(
            "(skipped: no holdup binary next to this one; run `cargo build --release -p holdup-cli` first)"
        );
        return;
    };
    let go = std::env::var_os("HOLDUP_GO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(".venv-go/bin/go"));
    let started = Instant::now();
    let (bytes, raw) = big_profile(samples);
    // HOLDUP_BENCH_KEEP=PATH keeps the profile there (to time other tools on it).
    let keep = std::env::var_os("HOLDUP_BENCH_KEEP").map(std::path::PathBuf::from);
    let file = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("holdup-bench-big-{}.pb.gz", std::process::id()))
    });
    std::fs::write(&file, &bytes).expect("write the profile");
    println!(
        "profile: {samples} samples, {:.1} MB of profile.proto ({:.1} MB gzip'd), made in {:.1?}",
        raw as f64 / 1e6,
        bytes.len() as f64 / 1e6,
        started.elapsed()
    );
    let rounds = if opts.quick { 1 } else { 3 };
    /// (tool, (wall, peak RSS) per run, its summary line)
    type Runs<'n> = (&'n str, Vec<(Duration, u64)>, String);
    let mut results: Vec<Runs<'_>> = Vec::new();
    let mut ours = Command::new(&holdup);
    ours.args(["top", "-n", "10"]).arg(&file);
    let mut theirs = Command::new(&go);
    theirs
        .args(["tool", "pprof", "-top", "-nodecount=10"])
        .arg(&file)
        .env("PPROF_BINARY_PATH", "/nonexistent");
    // Go compiles pprof on first use; warm it up so that its run is not timed with the build.
    if go.exists() {
        let _ = Command::new(&go).args(["tool", "pprof", "-h"]).output();
    }
    for (name, cmd) in [
        ("holdup top", &mut ours),
        ("go tool pprof -top", &mut theirs),
    ] {
        let mut runs = Vec::new();
        let mut first = String::new();
        for _ in 0..rounds {
            match measure(cmd) {
                Ok((wall, rss, out)) => {
                    runs.push((wall, rss));
                    first = String::from_utf8_lossy(&out)
                        .lines()
                        .find(|l| l.starts_with("Showing nodes"))
                        .unwrap_or("")
                        .to_owned();
                }
                Err(e) => {
                    println!("{name}: {e}");
                    break;
                }
            }
        }
        results.push((name, runs, first));
    }
    if keep.is_none() {
        let _ = std::fs::remove_file(&file);
    }
    println!(
        "{:<20} {:>10} {:>12}  summary line",
        "tool", "wall", "peak RSS"
    );
    for (name, runs, line) in &results {
        if runs.is_empty() {
            continue;
        }
        let wall = median(runs.iter().map(|r| r.0.as_secs_f64()).collect());
        let rss = median(runs.iter().map(|r| r.1 as f64).collect());
        println!("{name:<20} {:>9.2}s {:>9.0} MB  {line}", wall, rss / 1e6);
    }
    if let [(_, ours, _), (_, theirs, _)] = &results[..]
        && !ours.is_empty()
        && !theirs.is_empty()
    {
        let med = |r: &Vec<(Duration, u64)>, f: fn(&(Duration, u64)) -> f64| {
            median(r.iter().map(f).collect())
        };
        println!(
            "holdup vs go: {:.2}x the time, {:.2}x the memory (median of {rounds})",
            med(ours, |r| r.0.as_secs_f64()) / med(theirs, |r| r.0.as_secs_f64()),
            med(ours, |r| r.1 as f64) / med(theirs, |r| r.1 as f64)
        );
    }
}
