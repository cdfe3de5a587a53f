//! The CPU profile: a thread spinning in a known function for 1 s of CPU at 100 Hz gets about
//! 100 samples with that function, and the real `go tool pprof -top` reads the file.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One CPU profile at a time in this process: the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// Spins until this thread has used `cpu` of CPU time.
fn spin_cpu(cpu: Duration) -> u64 {
    let used = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes only `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let start = used();
    let mut x = 1u64;
    while used() - start < cpu {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

#[test]
fn a_spinning_thread_gets_a_sample_per_10ms_of_cpu_and_go_reads_the_profile() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let profiler = holdup::profile::start_cpu(holdup::profile::DEFAULT_HZ).unwrap();
    assert!(matches!(
        holdup::profile::start_cpu(100),
        Err(holdup::profile::CpuError::InUse)
    ));
    assert_eq!(
        holdup::profile::start_cpu(100).unwrap_err().to_string(),
        "cpu profiling already in use"
    );
    let spinner = std::thread::Builder::new()
        .name("cpu-spinner".into())
        .spawn(|| spin_cpu(Duration::from_secs(1)))
        .unwrap();
    std::hint::black_box(spinner.join().unwrap());
    let prof = profiler.stop();
    assert_eq!(prof.period(), Duration::from_millis(10));
    let samples = prof.samples();
    let spinning: u64 = samples
        .iter()
        .filter(|s| s.thread == "cpu-spinner" && s.has_function("spin_cpu"))
        .map(|s| s.count)
        .sum();
    assert!(
        (80..=120).contains(&spinning),
        "{spinning} samples in spin_cpu for 1 s of CPU at 100 Hz"
    );

    let Some(text) = go_top("cpu", |w| prof.write_pprof(w), &[]) else {
        return;
    };
    assert!(text.contains("Type: cpu"), "{text}");
    assert!(text.contains("spin_cpu"), "{text}");
}

/// `go tool pprof -top` (plus `args`) of the profile `write` writes, if Go is there.
fn go_top(
    name: &str,
    write: impl FnOnce(std::fs::File) -> std::io::Result<()>,
    args: &[&str],
) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("holdup-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pb.gz"));
    write(std::fs::File::create(&path).unwrap()).unwrap();
    let go = common::go()?;
    let out = std::process::Command::new(go)
        .args(["tool", "pprof", "-top", "-nodecount=20"])
        .args(args)
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

/// The process's resident memory, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// 1,000 profiles in a row while two threads keep both cores busy: none fails, none hangs,
/// memory stays put (timers are deleted, the ring is allocated once).
#[test]
fn a_thousand_windows_in_a_row_under_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            });
        }
        // The first window allocates the ring and the symbolizer's tables.
        drop(holdup::profile::start_cpu(1000).unwrap().stop());
        let before = rss();
        let started = Instant::now();
        let mut samples = 0;
        for _ in 0..1000 {
            let p = holdup::profile::start_cpu(1000).unwrap();
            std::thread::sleep(Duration::from_millis(1));
            samples += p.stop().total_samples();
        }
        stop.store(true, Ordering::Relaxed);
        let grew = rss().saturating_sub(before);
        assert!(samples > 0);
        assert!(grew < 32 << 20, "resident memory grew by {grew} bytes");
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{:?} for 1,000 windows",
            started.elapsed()
        );
    });
}

/// The wall-clock view: one thread computing and one blocked on a holdup lock for the whole
/// window split the profile about evenly, the computing part in the computing function with
/// `state=running`, the waiting part on the lock call with `state=waiting` and `kind=mutex`.
#[test]
fn the_wall_view_splits_a_computing_and_a_blocked_thread_evenly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (lock, made_at) = (std::sync::Arc::new(holdup::sync::Mutex::new(0u64)), line!());
    let guard = lock.lock().unwrap();
    let waiter = {
        let lock = lock.clone();
        std::thread::Builder::new()
            .name("wall-waiter".into())
            .spawn(move || *lock.lock().unwrap() += 1)
            .unwrap()
    };
    let computer = std::thread::Builder::new()
        .name("wall-computer".into())
        .spawn(|| spin_cpu(Duration::from_millis(1600)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let profiler = holdup::profile::start_wall(holdup::profile::DEFAULT_HZ).unwrap();
    // One sampler: a CPU profile cannot start meanwhile.
    assert!(matches!(
        holdup::profile::start_cpu(100),
        Err(holdup::profile::CpuError::InUse)
    ));
    std::thread::sleep(Duration::from_secs(1));
    let prof = profiler.stop();
    drop(guard);
    waiter.join().unwrap();
    std::hint::black_box(computer.join().unwrap());

    let samples = prof.samples();
    let computing: i64 = samples
        .iter()
        .filter(|s| s.label("thread") == Some("wall-computer"))
        .inspect(|s| assert_eq!(s.label("state"), Some("running"), "{s:?}"))
        .filter(|s| s.has_function("spin_cpu"))
        .map(|s| s.wall_ns)
        .sum();
    let waiting: Vec<_> = samples
        .iter()
        .filter(|s| s.label("thread") == Some("wall-waiter"))
        .collect();
    assert!(!waiting.is_empty(), "{samples:#?}");
    for s in &waiting {
        assert!(s.is_waiting(), "{s:?}");
        assert_eq!(s.label("kind"), Some("mutex"));
        let site = format!("cpu.rs:{made_at}");
        assert!(s.label("lock").unwrap().ends_with(&site), "{s:?}");
        // Trimmed like the block profile: holdup's call is the leaf, the closure its caller.
        assert!(
            s.frames[0]
                .function
                .starts_with("holdup::sync::mutex::Mutex<"),
            "{:?}",
            s.frames
        );
        assert!(s.frames[1].function.contains("the_wall_view_splits"));
    }
    let waiting: i64 = waiting.iter().map(|s| s.wall_ns).sum();
    let share = computing as f64 / (computing + waiting) as f64;
    eprintln!(
        "DEBUG computing {computing} waiting {waiting} dur {:?}",
        prof.duration()
    );
    assert!(
        (0.4..=0.6).contains(&share),
        "computing {computing} ns, waiting {waiting} ns: {share:.2} computing"
    );
    // The waiting thread waited the whole window: about one second of it.
    let window = prof.duration().as_nanos() as f64;
    assert!(
        (0.8..=1.2).contains(&(waiting as f64 / window)),
        "waiting {waiting} ns in a {window} ns window"
    );
    assert_eq!(prof.missed_waits(), 0);

    let Some(text) = go_top(
        "wall",
        |w| prof.write_pprof(w),
        &["-tagfocus=state=waiting"],
    ) else {
        return;
    };
    assert!(text.contains("Type: wall"), "{text}");
    assert!(text.contains("holdup::sync::mutex::Mutex"), "{text}");
    assert!(!text.contains("spin_cpu"), "{text}");
}

/// CPU profiling, thread dumps and the flight recorder at the same time: they share signals
/// (SIGPROF for the sampler, a real-time signal for dumps) and buffers with none of each
/// other's, so each still does its whole job.
#[test]
fn cpu_profile_dumps_and_flight_recorder_run_together() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _trace = holdup_core::trace::test_lock();
    let recorder = holdup::trace::FlightRecorder::new(holdup::trace::FlightConfig::default());
    recorder.start().unwrap();
    let profiler = holdup::profile::start_cpu(holdup::profile::DEFAULT_HZ).unwrap();
    let lock = holdup::sync::Mutex::new(0u64);
    let stop = AtomicBool::new(false);
    /// Stops the workers also when an assertion fails (else the scope would wait forever).
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for name in ["coexist-a", "coexist-b"] {
            std::thread::Builder::new()
                .name(name.into())
                .spawn_scoped(s, || {
                    while !stop.load(Ordering::Relaxed) {
                        spin_cpu(Duration::from_millis(2));
                        let mut g = lock.lock().unwrap();
                        spin_cpu(Duration::from_millis(1));
                        *g += 1;
                    }
                })
                .unwrap();
        }
        // The threads name themselves when they start.
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..20 {
            let dump = holdup::dump::threads();
            for name in ["coexist-a", "coexist-b"] {
                let t = dump
                    .threads()
                    .iter()
                    .find(|t| t.name() == Some(name))
                    .expect("the thread is in the dump");
                assert_eq!(
                    t.stack,
                    holdup::dump::StackStatus::Captured,
                    "{name}: {t:?}"
                );
                assert!(!t.frames.is_empty());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    });
    let prof = profiler.stop();
    let spinning: u64 = prof
        .samples()
        .iter()
        .filter(|s| s.thread.starts_with("coexist-") && s.has_function("spin_cpu"))
        .map(|s| s.count)
        .sum();
    assert!(spinning >= 20, "{spinning} samples of two spinning threads");
    assert_eq!(prof.dropped(), 0);
    let mut trace = Vec::new();
    recorder.write_to(&mut trace).unwrap();
    recorder.stop();
    let view = holdup_pprof::perfetto::TraceView::decode(&trace).unwrap();
    assert!(
        view.slices().iter().any(|s| s.name == "mutex wait"),
        "the flight recorder kept the lock's waits"
    );
}

#[cfg(feature = "tokio")]
async fn wall_task_waits(lock: &holdup::tokio::sync::Mutex<u64>) {
    *lock.lock().await += 1;
}

/// A task suspended on a holdup lock for the whole window shows in the wall view as waiting,
/// on its own chain of async calls (the stack its lock kept when it began to wait).
#[cfg(feature = "tokio")]
#[test]
fn the_wall_view_shows_a_waiting_task_on_its_await() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let prof = rt.block_on(async {
        let lock = std::sync::Arc::new(holdup::tokio::sync::Mutex::new(0u64));
        let guard = lock.lock().await;
        let profiler = holdup::profile::start_wall(holdup::profile::DEFAULT_HZ).unwrap();
        let waiter = holdup::tokio::spawn({
            let lock = lock.clone();
            async move { wall_task_waits(&lock).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        let prof = profiler.stop();
        drop(guard);
        waiter.await.unwrap();
        prof
    });
    let waiting: i64 = prof
        .samples()
        .iter()
        .filter(|s| s.is_waiting() && s.has_function("wall_task_waits"))
        .inspect(|s| assert_eq!(s.label("kind"), Some("mutex"), "{s:?}"))
        .map(|s| s.wall_ns)
        .sum();
    let window = prof.duration().as_nanos() as f64;
    assert!(
        (0.8..=1.2).contains(&(waiting as f64 / window)),
        "the task waited {waiting} ns of a {window} ns window: {:#?}",
        prof.samples()
    );
}
