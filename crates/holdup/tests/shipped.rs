//! Stacks as users ship them: a plain binary (`harness = false`), built for `.ci/run` with
//! `cargo test --release` (the workspace's release profile: `debug = "limited"`), whose worker
//! loops are `spawn` closures with the lock inline, the shape of a real thread pool:
//!
//! ```text
//! spawn(move || loop { let job = rx.lock().unwrap().recv(); ... })
//! ```
//!
//! The optimizer inlines such a closure, with its `lock()`, `recv()` and the guard's drop, into
//! std's thread start marker; every front end must still name it. Each check asserts the frames
//! from the wait (or the unlock) up to the closure, by name and in order: the mutex profile, the
//! block profile, a thread dump and a leak report. It also checks that a plain `leak::find` in a
//! binary reports `std::thread` workers.
//!
//! `.ci/run` runs it three ways: as built (DWARF unwinding), and built with
//! `-C force-frame-pointers=yes` under both unwinders (`HOLDUP_UNWINDER=frame-pointers`, `dwarf`),
//! with `HOLDUP_EXPECT_RELEASE=1` so that a debug build cannot pass for a release one. Under
//! `cargo test` (debug) it runs as well: unoptimized closures are called through
//! `FnOnce::call_once`, the only frame the checks allow between the closure and the root.

use std::sync::Arc;
use std::time::{Duration, Instant};

use holdup::dump::{self, Detail, Holder};
use holdup::leak::{self, Options};
use holdup::profile::{self, Unwinder};
use holdup::sync::{Mutex, mpsc};

type Job = Box<dyn FnOnce() + Send>;

const MUTEX_DROP: &str = "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop";
const MUTEX_LOCK: &str = "holdup::sync::mutex::Mutex<T>::lock";
const RECV: &str = "holdup::sync::mpsc::Receiver<T>::recv";
const STD_CLOSURE: &str = "shipped::std_pool::{{closure}}::{{closure}}";
const HOLDUP_CLOSURE: &str = "shipped::holdup_pool::{{closure}}::{{closure}}";

fn main() {
    let unwinder = match std::env::var("HOLDUP_UNWINDER").as_deref() {
        Ok("frame-pointers") => Unwinder::FramePointers,
        Ok("auto") => Unwinder::Auto,
        Ok("dwarf") | Err(_) => Unwinder::Dwarf,
        Ok(other) => panic!("HOLDUP_UNWINDER={other}: want dwarf, frame-pointers or auto"),
    };
    let release = !cfg!(debug_assertions);
    if std::env::var_os("HOLDUP_EXPECT_RELEASE").is_some() {
        assert!(
            release,
            "HOLDUP_EXPECT_RELEASE is set but this is a debug build (run cargo test --release)"
        );
    }
    println!(
        "shipped: {} build, unwinder {unwinder:?}",
        if release { "release" } else { "debug" }
    );
    profile::set_unwinder(unwinder);
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);

    run(
        "a std::thread pool: mutex profile, block profile, dump",
        std_pool_case,
    );
    run(
        "a holdup::thread pool: leak report with the spawn site",
        holdup_pool_case,
    );
    run(
        "leak::find in a plain binary reports std::thread workers",
        plain_find_case,
    );
}

fn run(what: &str, case: fn()) {
    let start = Instant::now();
    case();
    println!("ok: {what} ({} ms)", start.elapsed().as_millis());
}

/// A pool of `n` workers started with `std::thread`, written as real pools are: one closure
/// that locks the shared receiver inline.
fn std_pool(
    n: usize,
) -> (
    mpsc::Sender<Job>,
    Vec<std::thread::JoinHandle<()>>,
    String,
    String,
) {
    let (tx, rx) = mpsc::channel::<Job>();
    let chan = format!("{}:{}", file!(), line!() - 1);
    let rx = Arc::new(Mutex::new(rx));
    let lock = format!("{}:{}", file!(), line!() - 1);
    let workers = (0..n)
        .map(|i| {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("shipped-std-worker-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    (tx, workers, lock, chan)
}

/// The same pool, started with `holdup::thread` (whose spawn trampoline sits between std's
/// marker and the closure).
fn holdup_pool(
    n: usize,
) -> (
    mpsc::Sender<Job>,
    Vec<holdup::thread::JoinHandle<()>>,
    String,
    String,
) {
    let (tx, rx) = mpsc::channel::<Job>();
    let chan = format!("{}:{}", file!(), line!() - 1);
    let rx = Arc::new(Mutex::new(rx));
    let lock = format!("{}:{}", file!(), line!() - 1);
    let workers = (0..n)
        .map(|i| {
            let rx = Arc::clone(&rx);
            holdup::thread::Builder::new()
                .name(format!("shipped-holdup-worker-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    (tx, workers, lock, chan)
}

/// Feeds jobs one at a time, so that each arrives while the other workers queue on the lock:
/// every job ends a contended critical section (recorded in the mutex profile) and ends waits
/// (block profile).
fn feed(tx: &mpsc::Sender<Job>, jobs: usize) {
    for _ in 0..jobs {
        tx.send(Box::new(|| {
            std::hint::black_box((0..1000u64).sum::<u64>());
        }))
        .unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The names of `frames`, leaf first, without the `FnOnce::call_once` frames that unoptimized
/// builds put between a closure and its caller.
fn names<'a>(frames: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    frames
        .into_iter()
        .filter(|f| !f.starts_with("core::ops::function::FnOnce::call_once"))
        .collect()
}

fn std_pool_case() {
    const WORKERS: usize = 4;
    let (tx, workers, lock, chan) = std_pool(WORKERS);
    feed(&tx, 100);

    // The mutex profile: the unlock, then the worker loop that held the lock.
    let mutex = profile::mutex();
    let samples: Vec<_> = mutex
        .samples()
        .filter(|s| s.label("lock") == Some(&lock))
        .collect();
    assert!(!samples.is_empty(), "no mutex-profile sample for {lock}");
    for s in &samples {
        let got = names(s.frames.iter().map(|f| f.function.as_str()));
        assert_eq!(
            got,
            [MUTEX_DROP, STD_CLOSURE],
            "mutex profile, lock {lock}, {s:?}"
        );
    }

    // The block profile: the lock wait and the channel wait, each in the worker loop. A wait is
    // recorded when it ends: on a loaded machine the last releases (in the mutex profile
    // already) may have let in waiters that have not recorded yet, so look again for a while.
    for (site, leaf) in [(&lock, MUTEX_LOCK), (&chan, RECV)] {
        let deadline = Instant::now() + Duration::from_secs(10);
        let samples: Vec<_> = loop {
            let samples: Vec<_> = profile::block()
                .samples()
                .filter(|s| s.label("lock") == Some(site))
                .collect();
            if !samples.is_empty() || Instant::now() > deadline {
                break samples;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(!samples.is_empty(), "no block-profile sample for {site}");
        for s in &samples {
            let got = names(s.frames.iter().map(|f| f.function.as_str()));
            assert_eq!(got, [leaf, STD_CLOSURE], "block profile, {site}, {s:?}");
        }
    }

    // The idle pool, dumped: one worker waits in `recv` holding the lock, the others wait for
    // the lock; every frame from the wait up to the closure, and the holder named both ways.
    let dump = idle_dump(&lock, &chan, WORKERS - 1);
    let text = dump_text(&dump, Detail::Full);
    let holder = dump
        .threads()
        .iter()
        .find(|t| t.wait.as_ref().is_some_and(|w| site(w.lock) == chan))
        .unwrap();
    assert_eq!(
        names(holder.frames.iter().map(|f| f.function.as_str())),
        [RECV, STD_CLOSURE],
        "{text}"
    );
    assert_eq!(holder.holding.len(), 1, "{text}");
    assert!(
        holder
            .status()
            .contains(&format!("holding mutex {lock} ({} waiting)", WORKERS - 1)),
        "{text}"
    );
    assert!(
        holder
            .name()
            .is_some_and(|n| n.starts_with("shipped-std-worker-")),
        "the full name, not the kernel's 15 bytes:\n{text}"
    );
    for t in dump
        .threads()
        .iter()
        .filter(|t| t.wait.as_ref().is_some_and(|w| site(w.lock) == lock))
    {
        assert_eq!(
            names(t.frames.iter().map(|f| f.function.as_str())),
            [MUTEX_LOCK, STD_CLOSURE],
            "{text}"
        );
        let held_by = &t.wait.as_ref().unwrap().holder;
        assert!(
            matches!(held_by, Holder::Thread(h) if h.tid == holder.tid()),
            "{text}"
        );
    }
    let grouped = dump_text(&dump, Detail::Grouped);
    assert!(
        grouped.contains(&format!("\"tid\":\"{}\"", holder.tid())),
        "the holder's group shows its id:\n{grouped}"
    );
    assert!(
        grouped.contains(&format!("\"holding\":\"mutex {lock}\"")),
        "{grouped}"
    );

    drop(tx);
    for w in workers {
        w.join().unwrap();
    }
}

fn holdup_pool_case() {
    const WORKERS: usize = 3;
    let guard = leak::Guard::with(Options::new().retries(0));
    let (tx, workers, lock, chan) = holdup_pool(WORKERS);
    feed(&tx, 20);
    let mutex = profile::mutex();
    let samples: Vec<_> = mutex
        .samples()
        .filter(|s| s.label("lock") == Some(&lock))
        .collect();
    assert!(!samples.is_empty(), "no mutex-profile sample for {lock}");
    for s in &samples {
        let got = names(s.frames.iter().map(|f| f.function.as_str()));
        assert_eq!(
            got,
            [MUTEX_DROP, HOLDUP_CLOSURE],
            "mutex profile, lock {lock}, {s:?}"
        );
    }

    // The leak report: each worker's stack ends in the closure, and names the function that
    // spawned it.
    idle_dump(&lock, &chan, WORKERS - 1);
    let leaks = guard.check().expect_err("the pool was not shut down");
    let report = leaks.to_string();
    assert_eq!(leaks.len(), WORKERS, "{report}");
    for l in leaks.threads() {
        let got = names(l.thread.frames.iter().map(|f| f.function.as_str()));
        let leaf = if l.thread.holding.is_empty() {
            MUTEX_LOCK
        } else {
            RECV
        };
        assert_eq!(got, [leaf, HOLDUP_CLOSURE], "{report}");
        let spawn = l
            .thread
            .spawn
            .as_ref()
            .expect("spawned through holdup::thread");
        // The spawn call is in the `map` closure of `holdup_pool`.
        assert_eq!(
            spawn.function.as_deref(),
            Some("shipped::holdup_pool::{{closure}}"),
            "{report}"
        );
        assert_eq!(spawn.parent.name.as_deref(), Some("main"), "{report}");
    }
    assert!(
        report.contains(&format!(
            "spawned by shipped::holdup_pool::{{{{closure}}}} at {}:",
            file!()
        )),
        "{report}"
    );
    assert!(
        !report.contains("were not checked"),
        "a plain binary is not a parallel test run:\n{report}"
    );

    drop(tx);
    for w in workers {
        w.join().unwrap();
    }
}

fn plain_find_case() {
    // holdup's own threads are never leaks: the watchdog's, the server's and its worker's
    // (started by a request, idle for seconds after it).
    let _watchdog = dump::Watchdog::start().unwrap();
    #[cfg(feature = "http")]
    let _server = {
        use std::io::{Read, Write};
        let server = holdup::http::serve("127.0.0.1:0").unwrap();
        let mut conn = std::net::TcpStream::connect(server.local_addr()).unwrap();
        conn.write_all(
            b"GET /debug/pprof/goroutine?debug=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        server
    };
    leak::find(Options::new())
        .expect("nothing runs before the workers start but holdup's own threads");
    let (stop, parked) = mpsc::channel::<()>();
    let parked = Arc::new(Mutex::new(parked));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let parked = Arc::clone(&parked);
            std::thread::spawn(move || {
                let _ = parked.lock().unwrap().recv();
            })
        })
        .collect();
    let leaks = leak::find(Options::new().retries(2)).expect_err("8 workers are alive");
    let report = leaks.to_string();
    assert_eq!(leaks.len(), 8, "{report}");
    let mut tids: Vec<i64> = leaks.threads().iter().map(|l| l.thread.tid()).collect();
    tids.sort_unstable();
    tids.dedup();
    assert_eq!(tids.len(), 8, "{report}");
    assert!(
        !tids.contains(&i64::from(std::process::id())),
        "the main thread is the baseline:\n{report}"
    );
    drop(stop);
    for w in workers {
        w.join().unwrap();
    }
    leak::find(Options::new()).expect("the workers exited");
}

/// Dumps until the pool is idle: `waiters` threads wait for `lock`, one waits on `chan`.
fn idle_dump(lock: &str, chan: &str, waiters: usize) -> dump::ThreadDump {
    let on = |d: &dump::ThreadDump, at: &str| {
        d.threads()
            .iter()
            .filter(|t| t.wait.as_ref().is_some_and(|w| site(w.lock) == at))
            .count()
    };
    let start = Instant::now();
    loop {
        let d = dump::threads();
        if on(&d, lock) == waiters && on(&d, chan) == 1 {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the pool never went idle:\n{}",
            dump_text(&d, Detail::Full)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn site(l: &std::panic::Location<'_>) -> String {
    format!("{}:{}", l.file(), l.line())
}

fn dump_text(dump: &dump::ThreadDump, detail: Detail) -> String {
    let mut out = Vec::new();
    dump.write_text(&mut out, detail).unwrap();
    String::from_utf8(out).unwrap()
}
