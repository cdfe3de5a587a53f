//! holdup's side-by-side benchmark harness: every variant runs in this one process, interleaved
//! round-robin, and the tables print ratios against std (and parking_lot), so that the noise of
//! a shared machine hits all variants alike.
//!
//! ```text
//! cargo run --release -p holdup-bench                 # everything (about a minute)
//! cargo run --release -p holdup-bench -- --quick      # shorter runs, for CI smoke checks
//! cargo run --release -p holdup-bench -- sizes | uncontended | contended | events | callgrind | http | cli | dump | leak | cpu
//! cargo run --release -p holdup-bench -- contended --settings 100:0,0:10000   # more rows
//! cargo run --release -p holdup-bench -- compare --threads 2,4   # against Go (BENCHMARKS.md)
//! RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=target/fp \
//!     cargo run --release -p holdup-bench -- events   # frame-pointer unwinding too
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

mod callgrind;
mod cli;
mod compare;
mod contended;
mod cpu;
mod dump;
mod events;
mod http;
mod leak;
mod sizes;
mod tokio;
mod trace;
mod uncontended;

/// Profiling settings: (mutex fraction, block rate in ns, execution trace).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Setting(i64, i64, Tracing);

/// Whether the execution trace records.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tracing {
    Off,
    /// A trace window (`holdup::trace::start`, Go's `trace.Start`).
    Window,
    /// The flight recorder at its defaults (10 s / 10 MiB, as Go's).
    Flight,
    /// Not a trace: the CPU profile at 100 Hz (`holdup::profile::start_cpu`, Go's
    /// `pprof.StartCPUProfile`), its samples discarded.
    Cpu,
}

const OFF: Setting = Setting(0, 0, Tracing::Off);
const PRODUCTION: Setting = Setting(100, 10_000, Tracing::Off);
const EVERYTHING: Setting = Setting(1, 1, Tracing::Off);
/// Profiles off, a trace window recording.
const TRACE: Setting = Setting(0, 0, Tracing::Window);
/// Profiles off, the flight recorder on.
const FLIGHT: Setting = Setting(0, 0, Tracing::Flight);
/// Profiles off, the CPU profile on at 100 Hz.
const CPU: Setting = Setting(0, 0, Tracing::Cpu);

/// The flight recorder a [`Setting`] started.
static FLIGHT_RECORDER: std::sync::Mutex<Option<holdup::trace::FlightRecorder>> =
    std::sync::Mutex::new(None);
/// The CPU profile a [`Setting`] started.
static CPU_PROFILE: std::sync::Mutex<Option<holdup::profile::CpuProfiler>> =
    std::sync::Mutex::new(None);

impl Setting {
    fn apply(self) {
        holdup::set_mutex_profile_fraction(self.0);
        holdup::set_block_profile_rate(self.1);
        // The trace: what this setting wants, and nothing else (a window's events are
        // discarded when it stops, as Go's `trace.Start(io.Discard)` discards them).
        if self.2 != Tracing::Window && holdup::trace::is_enabled() {
            let _ = holdup::trace::stop();
        }
        let mut fr = FLIGHT_RECORDER.lock().unwrap_or_else(|e| e.into_inner());
        if self.2 != Tracing::Flight
            && let Some(fr) = fr.take()
        {
            fr.stop();
        }
        let mut cpu = CPU_PROFILE.lock().unwrap_or_else(|e| e.into_inner());
        if self.2 != Tracing::Cpu
            && let Some(p) = cpu.take()
        {
            drop(p.stop());
        }
        match self.2 {
            Tracing::Cpu if cpu.is_none() => {
                *cpu = Some(
                    holdup::profile::start_cpu(holdup::profile::DEFAULT_HZ)
                        .expect("no other CPU profile"),
                );
            }
            Tracing::Window if !holdup::trace::is_enabled() => {
                holdup::trace::start().expect("no other trace window");
            }
            Tracing::Flight if fr.is_none() => {
                let recorder =
                    holdup::trace::FlightRecorder::new(holdup::trace::FlightConfig::default());
                recorder.start().expect("no other flight recorder");
                *fr = Some(recorder);
            }
            _ => {}
        }
    }

    fn describe(self) -> String {
        match self {
            OFF => "profiling off".into(),
            TRACE => "tracing".into(),
            FLIGHT => "flight recorder".into(),
            CPU => "CPU profile".into(),
            Setting(f, r, t) => format!(
                "fraction {f}, rate {}{}",
                if r >= 1000 {
                    format!("{}us", r / 1000)
                } else {
                    r.to_string()
                },
                match t {
                    Tracing::Off => "",
                    Tracing::Window => ", tracing",
                    Tracing::Flight => ", flight recorder",
                    Tracing::Cpu => ", CPU profile",
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
        Ok(Setting(num(f)?, num(r)?, Tracing::Off))
    }
}

struct Options {
    quick: bool,
    /// Extra holdup settings for the contended benchmark (`--settings 100:0,0:10000`).
    extra: Vec<Setting>,
    /// Thread counts for `compare` (`--threads 1,2,4`); 2 when empty.
    threads: Vec<usize>,
    /// Only these workloads of `compare` (`--workloads seed,short`).
    workloads: Option<Vec<String>>,
    /// Only these rows of `compare` (`--rows holdup-off,holdup-full`).
    rows: Option<Vec<String>>,
    /// Rounds of `compare` (`--rounds 9`), instead of 5 (1 with `--quick`).
    rounds: Option<usize>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("spin") {
        // Internal: the target of `callgrind`.
        callgrind::spin(&args[1], args[2].parse().expect("iterations"));
        return;
    }
    let mut opts = Options {
        quick: false,
        extra: Vec::new(),
        threads: Vec::new(),
        workloads: None,
        rows: None,
        rounds: None,
    };
    let mut what: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => opts.quick = true,
            "-h" | "--help" => {
                println!(
                    "usage: holdup-bench [sizes] [uncontended] [contended] [tokio] [events] [callgrind] [http] [cli] [dump] [leak] [trace] [parking-lot] [cpu] [compare] [--quick] [--settings F:R,...] [--threads N,...] [--workloads W,...] [--rows R,...] [--rounds N]\n\
                     \n\
                     Runs the named parts (all but `compare` by default), each variant side by side in this process.\n\
                     compare        holdup against Go on the same workloads (builds go/ with the Go toolchain;\n\
                     \x20              writes BENCHMARKS.md and the README's table unless --quick or a subset)\n\
                     --quick        shorter runs (for smoke checks)\n\
                     --settings     extra holdup rows for `contended`: mutex fraction : block rate in ns\n\
                     --threads      thread counts for `compare` (default 2)\n\
                     --workloads    only these `compare` workloads (seed, seed-read, short, channel, condvar,\n\
                     \x20              barrier, uncontended, compute)\n\
                     --rounds       rounds of `compare` (default 5; 1 with --quick)\n\
                     --rows         only these `compare` rows (std, parking_lot, holdup-off, holdup-production,\n\
                     \x20              holdup-full, holdup-trace, holdup-flight, holdup-cpu, go-off, go-production,\n\
                     \x20              go-full, go-trace, go-flight, go-cpu)"
                );
                return;
            }
            "--threads" => {
                let list = it.next().map(String::as_str).unwrap_or("");
                match list.split(',').map(str::parse::<usize>).collect() {
                    Ok(v) if !list.is_empty() => opts.threads = v,
                    _ => {
                        eprintln!("holdup-bench: --threads wants a list of counts, like 1,2,4");
                        std::process::exit(2);
                    }
                }
            }
            "--workloads" | "--rows" => {
                let list: Vec<String> = it
                    .next()
                    .map(|l| {
                        l.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                if list.is_empty() {
                    eprintln!("holdup-bench: {a} wants a comma-separated list");
                    std::process::exit(2);
                }
                if a == "--rows" {
                    opts.rows = Some(list);
                } else {
                    opts.workloads = Some(list);
                }
            }
            "--rounds" => match it.next().map(|n| n.parse::<usize>()) {
                Some(Ok(n)) if n > 0 => opts.rounds = Some(n),
                _ => {
                    eprintln!("holdup-bench: --rounds wants a positive number");
                    std::process::exit(2);
                }
            },
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
                    "holdup-bench: unknown option {other} (known: --quick, --settings F:R,..., --threads N,..., --workloads W,..., --rows R,..., --rounds N)"
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
        "tokio",
        "events",
        "callgrind",
        "http",
        "cli",
        "dump",
        "leak",
        "trace",
        "parking-lot",
        "cpu",
        "compare",
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
        sizes::sizes();
    }
    if all || what.contains(&"uncontended") {
        uncontended::uncontended(&opts);
    }
    if all || what.contains(&"contended") {
        contended::contended(&opts);
    }
    if all || what.contains(&"tokio") {
        tokio::tokio(&opts);
    }
    if all || what.contains(&"events") {
        events::events(&opts);
    }
    if all || what.contains(&"callgrind") {
        callgrind::callgrind(&opts);
    }
    if all || what.contains(&"http") {
        http::http(&opts);
    }
    if all || what.contains(&"cli") {
        cli::cli(&opts);
    }
    if all || what.contains(&"dump") {
        dump::dump(&opts);
    }
    if all || what.contains(&"leak") {
        leak::leak(&opts);
    }
    if all || what.contains(&"trace") {
        trace::trace(&opts);
    }
    if all || what.contains(&"cpu") {
        cpu::cpu(&opts);
    }
    if all || what.contains(&"parking-lot") {
        compare::parking_lot(&opts);
    }
    // Not part of `all`: it takes minutes and needs the Go toolchain.
    if what.contains(&"compare") {
        compare::compare(&opts);
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
