//! The seed demo: a worker pool whose throughput plateaus because of one lock, found by the
//! mutex profile in one run.
//!
//! `Cache::get` only reads, but takes the *write* lock of its `RwLock`, so every lookup
//! serializes the workers. The demo runs the pool with holdup's profiles on (at the recommended
//! production settings), prints the throughput and the top of the mutex and block profiles —
//! which name `Cache::get` and its lock — then runs the fixed version (`read()`) and prints the
//! throughput again. It writes `mutex.pb.gz` and `block.pb.gz` for `go tool pprof`, and serves
//! `/debug/pprof/` while it runs (`--linger S` keeps serving afterwards, for curl and pprof).
//!
//! ```text
//! cargo run --release -p holdup --features http --example contended_cache [-- --workers 4 --seconds 2 --out DIR
//!                                                            --http 127.0.0.1:6060|off --linger S]
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use holdup::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use holdup::sync::{Arc, Barrier, RwLock};
use holdup_pprof::{ProfileView, TopOptions};

#[path = "report/mod.rs"]
mod report;
use report::print_top;

const KEYS: u64 = 4096;
const VALUE_BYTES: usize = 512;

/// A read-mostly cache, as found in many services.
struct Cache {
    entries: RwLock<HashMap<u64, Vec<u8>>>,
    fixed: bool,
}

impl Cache {
    fn new(fixed: bool) -> Self {
        let entries = (0..KEYS)
            .map(|k| (k, vec![(k % 251) as u8; VALUE_BYTES]))
            .collect();
        Cache {
            entries: RwLock::new(entries),
            fixed,
        }
    }

    /// Looks a key up and returns a checksum of its value.
    fn get(&self, key: u64) -> Option<u64> {
        if self.fixed {
            return self.get_fixed(key);
        }
        // The bug: an exclusive lock for a read. Every worker waits for every other one.
        let entries = self.entries.write().unwrap();
        entries.get(&key).map(|v| checksum(v))
    }

    /// The fix: a shared lock, so lookups run in parallel.
    fn get_fixed(&self, key: u64) -> Option<u64> {
        let entries = self.entries.read().unwrap();
        entries.get(&key).map(|v| checksum(v))
    }
}

/// Stands for the work a real lookup does on the value (decoding, copying).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// One worker: looks up keys until told to stop; returns how many it did.
fn worker(cache: &Cache, start: &Barrier, stop: &AtomicBool, seed: u64) -> u64 {
    let mut key = seed;
    let mut done = 0;
    start.wait();
    while !stop.load(Ordering::Relaxed) {
        key = key
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        black_box(cache.get((key >> 33) % KEYS));
        done += 1;
    }
    done
}

/// Runs `workers` threads against `cache` for `seconds`; returns lookups per second, and a
/// thread dump taken halfway through if `dump` is set.
fn run(
    cache: Arc<Cache>,
    workers: usize,
    seconds: f64,
    dump: bool,
) -> (f64, Option<holdup::dump::ThreadDump>) {
    let start = Arc::new(Barrier::new(workers + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let (cache, start, stop, total) =
                (cache.clone(), start.clone(), stop.clone(), total.clone());
            holdup::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let n = worker(&cache, &start, &stop, i as u64 + 1);
                    total.fetch_add(n, Ordering::Relaxed);
                })
                .expect("spawn worker")
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds / 2.0));
    let snapshot = dump.then(holdup::dump::threads);
    std::thread::sleep(Duration::from_secs_f64(seconds).saturating_sub(began.elapsed()));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("worker panicked");
    }
    (
        total.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64(),
        snapshot,
    )
}

/// One line per kind of wait in `dump`: how many threads, on which lock, in which function, and
/// who held it.
fn print_dump_summary(dump: &holdup::dump::ThreadDump) {
    println!(
        "\n-- thread dump halfway through run 1 ({} threads, taken in {:.1} ms; `holdup dump` shows it live) --",
        dump.len(),
        dump.elapsed().as_secs_f64() * 1e3
    );
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in dump.threads() {
        let caller = t
            .frames
            .iter()
            .map(|f| f.function.as_str())
            .find(|f| {
                f.contains("::")
                    && !f.starts_with("holdup::")
                    && !f.starts_with('<')
                    && !f.starts_with("std::")
                    && !f.starts_with("core::")
                    && !f.starts_with("alloc::")
            })
            .unwrap_or("?");
        let what = match &t.wait {
            Some(w) => format!(
                "{} wait on {}:{} in {caller}",
                w.kind.as_str(),
                w.lock.file(),
                w.lock.line()
            ),
            None if t.current => "taking this dump".to_owned(),
            None if t.kernel_state == Some('R') => format!("running {caller}"),
            None => format!(
                "{} in {caller}, not in a holdup primitive",
                t.name().unwrap_or("a thread")
            ),
        };
        let holder = match t.wait.as_ref().map(|w| &w.holder) {
            Some(holdup::dump::Holder::Thread(h)) => {
                h.name.clone().unwrap_or_else(|| h.tid.to_string())
            }
            _ => String::new(),
        };
        match groups.iter_mut().find(|(w, _)| *w == what) {
            Some((_, holders)) => holders.push(holder),
            None => groups.push((what, vec![holder])),
        }
    }
    groups.sort_by_key(|(_, h)| std::cmp::Reverse(h.len()));
    for (what, holders) in groups {
        let mut named: Vec<String> = holders.iter().filter(|h| !h.is_empty()).cloned().collect();
        named.sort();
        named.dedup();
        let held = if named.is_empty() {
            String::new()
        } else {
            format!(", held by {}", named.join(", "))
        };
        println!(
            "{:>3} thread{} {what}{held}",
            holders.len(),
            if holders.len() == 1 { " " } else { "s" }
        );
    }
}

struct Args {
    workers: usize,
    seconds: f64,
    out: PathBuf,
    /// Where to serve `/debug/pprof/`; `None` for `--http off`.
    http: Option<String>,
    linger: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workers: 4,
        seconds: 2.0,
        out: PathBuf::from("."),
        http: Some("127.0.0.1:6060".into()),
        linger: 0.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--workers" => {
                args.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?;
                if args.workers == 0 {
                    return Err("--workers must be at least 1".into());
                }
            }
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?;
                if !(args.seconds > 0.0 && args.seconds <= 60.0) {
                    return Err("--seconds must be in (0, 60]".into());
                }
            }
            "--out" => args.out = PathBuf::from(value()?),
            "--http" => {
                let addr = value()?;
                args.http = (addr != "off").then_some(addr);
            }
            "--linger" => {
                args.linger = value()?.parse().map_err(|e| format!("--linger: {e}"))?;
                if !(0.0..=3600.0).contains(&args.linger) {
                    return Err("--linger must be in [0, 3600]".into());
                }
            }
            "-h" | "--help" => {
                return Err(
                    "usage: contended_cache [--workers N] [--seconds S] [--out DIR] \
                            [--http ADDR|off] [--linger S]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("contended_cache: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = demo(&args) {
        eprintln!("contended_cache: {e}");
        std::process::exit(1);
    }
}

fn demo(args: &Args) -> std::io::Result<()> {
    // The recommended production settings: 1 in 100 contended releases, waits from 10 µs.
    holdup::set_mutex_profile_fraction(100);
    holdup::set_block_profile_rate(10_000);

    println!(
        "holdup seed demo: {} workers look up {KEYS} keys in a cache for {}s each run",
        args.workers, args.seconds
    );
    let server = args.http.as_deref().and_then(start_server);
    println!("\n== run 1: Cache::get takes the write lock ==");
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    let (buggy, dump) = run(
        Arc::new(Cache::new(false)),
        args.workers,
        args.seconds,
        true,
    );
    println!("throughput: {}", ops(buggy));
    let mutex = holdup::profile::mutex().delta(&mutex_before);
    let block = holdup::profile::block().delta(&block_before);

    let mut mutex_pb = Vec::new();
    mutex.write_pprof(&mut mutex_pb)?;
    let mut block_pb = Vec::new();
    block.write_pprof(&mut block_pb)?;
    print_top(
        "mutex profile (who held the lock others waited for)",
        &mutex_pb,
    );
    print_top("block profile (where threads waited)", &block_pb);
    if let Some(dump) = &dump {
        print_dump_summary(dump);
    }
    print_hint(&mutex);

    std::fs::create_dir_all(&args.out)?;
    let mutex_path = args.out.join("mutex.pb.gz");
    let block_path = args.out.join("block.pb.gz");
    std::fs::write(&mutex_path, &mutex_pb)?;
    std::fs::write(&block_path, &block_pb)?;

    println!("\n== run 2: Cache::get takes the read lock ==");
    let (fixed, _) = run(
        Arc::new(Cache::new(true)),
        args.workers,
        args.seconds,
        false,
    );
    println!("throughput: {} ({:.1}x run 1)", ops(fixed), fixed / buggy);

    println!("\nprofiles written; open them with Go's pprof or the holdup CLI:");
    println!("  go tool pprof -top {}", mutex_path.display());
    println!(
        "  go tool pprof -top -tagfocus kind=rwlock-write {}",
        block_path.display()
    );
    println!(
        "  cargo run -q -p holdup-cli -- top {}",
        mutex_path.display()
    );

    if let Some(server) = server {
        fetch_over_http(&server);
        if args.linger > 0.0 {
            println!(
                "\nserving http://{}/debug/pprof/ for {}s more (Ctrl-C to stop)",
                server.local_addr(),
                args.linger
            );
            std::thread::sleep(Duration::from_secs_f64(args.linger));
        }
        server.shutdown();
    }
    Ok(())
}

/// Serves `/debug/pprof/` on `addr`, or on a free port if that one is taken.
fn start_server(addr: &str) -> Option<holdup::http::Server> {
    let server = match holdup::http::serve(addr) {
        Ok(s) => s,
        Err(e) if e.kind() == holdup::http::ErrorKind::Bind => {
            println!("({addr} is taken: {e}; serving on a free port instead)");
            match holdup::http::serve("127.0.0.1:0") {
                Ok(s) => s,
                Err(e) => {
                    println!("(not serving /debug/pprof/: {e})");
                    return None;
                }
            }
        }
        Err(e) => {
            println!("(not serving /debug/pprof/: {e})");
            return None;
        }
    };
    let base = format!("http://{}/debug/pprof", server.local_addr());
    println!("serving {base}/ while the demo runs:");
    println!("  go tool pprof -top {base}/mutex");
    println!("  curl '{base}/goroutine?debug=1'");
    println!("  curl -o block.pb.gz '{base}/block?seconds=1'");
    Some(server)
}

/// Reads the mutex profile back over HTTP, as a scraper would, and names its top function.
fn fetch_over_http(server: &holdup::http::Server) {
    let url = format!("http://{}/debug/pprof/mutex", server.local_addr());
    let fetched = ureq::get(&url)
        .call()
        .map_err(|e| e.to_string())
        .and_then(|mut r| r.body_mut().read_to_vec().map_err(|e| e.to_string()));
    let top = fetched.as_deref().map_err(Clone::clone).and_then(|bytes| {
        let profile = holdup_pprof::decode(bytes).map_err(|e| e.to_string())?;
        let view = ProfileView::new(&profile).map_err(|e| e.to_string())?;
        let opts = TopOptions {
            node_count: 0,
            profile_labels: false,
            sort: holdup_pprof::TopSort::Cum,
            ..TopOptions::default()
        };
        let report = holdup_pprof::top(&view, &opts);
        // The first row of ours below the unlock, by cumulative delay.
        let row = report
            .rows
            .iter()
            .find(|r| r.name.starts_with("contended_cache::") && r.name != "contended_cache::main");
        Ok(row.map(|r| r.name.clone()))
    });
    match (fetched, top) {
        (Ok(bytes), Ok(top)) => println!(
            "\nGET {url}: {} bytes of profile; ours at the top: {}",
            bytes.len(),
            top.as_deref().unwrap_or("(none)")
        ),
        (Err(e), _) | (_, Err(e)) => println!("\nGET {url} failed: {e}"),
    }
}

fn ops(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2}M lookups/s", per_second / 1e6)
    } else {
        format!("{:.0}k lookups/s", per_second / 1e3)
    }
}

/// The seed's bug, found from the profile: write-lock critical sections that never wrote.
fn print_hint(mutex: &holdup::profile::Profile) {
    let total: i64 = mutex.samples().map(|s| s.delay_ns).sum();
    let mut read_only: HashMap<(String, String), i64> = HashMap::new();
    for s in mutex.samples() {
        if s.label("kind") == Some("rwlock-write") && s.label("mutated") == Some("no") {
            // The critical section is the first frame below the unlock.
            let holder = s
                .frames
                .get(1)
                .map_or("?", |f| f.function.as_str())
                .to_owned();
            let lock = s.label("lock").unwrap_or("?").to_owned();
            *read_only.entry((holder, lock)).or_default() += s.delay_ns;
        }
    }
    let Some(((holder, lock), delay)) = read_only.into_iter().max_by_key(|(_, d)| *d) else {
        return;
    };
    if total > 0 {
        println!(
            "\nhint: {:.0}% of the lock delay comes from {holder}, which holds the write lock of the \
             RwLock created at {lock} but takes no `&mut` through it: use read().",
            100.0 * delay as f64 / total as f64
        );
    }
}
