//! `holdup::leak`: leaks found with their details, retries, ignores, parallel tests, panics.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier as StdBarrier};
use std::time::{Duration, Instant};

use holdup::leak::{self, Guard, Options, OtherThreads};
use holdup::sync::{Mutex, mpsc};

#[inline(never)]
fn wait_for_work(jobs: &mpsc::Receiver<u32>) {
    while jobs.recv().is_ok() {}
}

#[test]
fn a_thread_blocked_on_a_channel_nobody_closes_is_found_with_its_details() {
    let guard = Guard::new();
    let (jobs, queue) = mpsc::channel::<u32>();
    let builder = holdup::thread::Builder::new().name("leaky-worker".into());
    let site = format!("{}:{}", file!(), line!() + 1);
    let worker = builder.spawn(move || wait_for_work(&queue)).unwrap();
    let start = Instant::now();
    let leaks = guard.check().expect_err("the worker is still running");
    let took = start.elapsed();
    let report = leaks.to_string();
    assert!(report.starts_with("found 1 leaked thread:\n"), "{report}");
    assert!(
        report.contains("\"leaky-worker\" [chan-recv wait, "),
        "{report}"
    );
    assert!(report.contains(&format!("spawned by leak::a_thread_blocked_on_a_channel_nobody_closes_is_found_with_its_details at {site}")), "{report}");
    assert!(report.contains("leak::wait_for_work"), "{report}");
    assert_eq!(leaks.len(), 1);
    assert!(!leaks.threads()[0].unattributed);
    // Found after the whole retry budget (about 430 ms), not more.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(jobs);
    worker.join().unwrap();
}

#[test]
fn a_thread_exiting_50ms_after_the_test_is_not_a_leak() {
    let guard = Guard::new();
    let t = holdup::thread::spawn(|| std::thread::sleep(Duration::from_millis(50)));
    let start = Instant::now();
    guard.check().expect("the retry schedule waits for it");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(30), "{took:?}");
    assert!(
        took < Duration::from_millis(400),
        "it passed as soon as the thread was gone: {took:?}"
    );
    t.join().unwrap();
}

#[test]
fn a_clean_check_returns_at_once() {
    let start = Instant::now();
    for _ in 0..100 {
        let _guard = Guard::new();
    }
    leak::verify_none(Options::new());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// Other tests' threads, in this process: a thread outside any guard keeps starting holdup
/// threads (another scope) while the clean test runs.
fn noise(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let workers: Vec<_> = (0..3)
                .map(|_| holdup::thread::spawn(|| std::thread::sleep(Duration::from_millis(2))))
                .collect();
            for w in workers {
                w.join().unwrap();
            }
        }
    })
}

#[test]
fn no_false_positive_over_200_clean_multithreaded_runs_beside_other_threads() {
    let stop = Arc::new(AtomicBool::new(false));
    let noise = noise(stop.clone());
    for round in 0..200 {
        let _guard = Guard::new();
        let counter = Arc::new(Mutex::new(0u64));
        let (tx, rx) = mpsc::sync_channel::<u64>(2);
        let consumer = holdup::thread::spawn(move || rx.iter().sum::<u64>());
        let producers: Vec<_> = (0..3)
            .map(|i| {
                let (counter, tx) = (counter.clone(), tx.clone());
                holdup::thread::spawn(move || {
                    for n in 0..20 {
                        *counter.lock().unwrap() += 1;
                        tx.send(i * 100 + n).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.join().unwrap();
        }
        assert!(consumer.join().unwrap() > 0, "round {round}");
        assert_eq!(*counter.lock().unwrap(), 60);
    }
    stop.store(true, Ordering::Relaxed);
    noise.join().unwrap();
}

#[test]
fn other_tests_run_meanwhile() {
    // Runs beside the tests above under `cargo test`: std and holdup threads come and go.
    let stop = Instant::now() + Duration::from_secs(2);
    while Instant::now() < stop {
        let t = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(5)));
        let h = holdup::thread::spawn(|| std::thread::sleep(Duration::from_millis(5)));
        t.join().unwrap();
        h.join().unwrap();
    }
}

#[inline(never)]
fn park_a(rx: &mpsc::Receiver<()>) {
    let _ = rx.recv();
}

#[inline(never)]
fn park_b(rx: &mpsc::Receiver<()>) {
    let _ = rx.recv();
}

#[inline(never)]
fn outer_b(rx: &mpsc::Receiver<()>) {
    park_b(rx);
    std::hint::black_box(());
}

fn leaked_names(r: Result<(), leak::Leaks>) -> Vec<String> {
    match r {
        Ok(()) => Vec::new(),
        Err(l) => {
            let mut names: Vec<String> = l
                .threads()
                .iter()
                .filter_map(|t| t.thread.name().map(str::to_owned))
                .collect();
            names.sort();
            names
        }
    }
}

#[test]
fn each_ignore_option_suppresses_exactly_what_it_names() {
    let guard = Guard::new();
    let (stop_a, rx_a) = mpsc::channel::<()>();
    let (stop_b, rx_b) = mpsc::channel::<()>();
    let a = holdup::thread::Builder::new()
        .name("keep-a".into())
        .spawn(move || park_a(&rx_a))
        .unwrap();
    let b = holdup::thread::Builder::new()
        .name("keep-b".into())
        .spawn(move || outer_b(&rx_b))
        .unwrap();
    let quick = || Options::new().retries(2);
    // Both waiting, so that their stacks are where the test says.
    let until = Instant::now() + Duration::from_secs(20);
    while holdup::thread::registered()
        .iter()
        .filter(|t| {
            t.name.as_deref().is_some_and(|n| n.starts_with("keep-")) && t.waiting.is_some()
        })
        .count()
        < 2
    {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(leaked_names(leak::find(quick())), ["keep-a", "keep-b"]);
    assert_eq!(
        leaked_names(leak::find(quick().ignore_thread_name("keep-a"))),
        ["keep-b"]
    );
    assert_eq!(
        leaked_names(leak::find(quick().ignore_thread_name("keep"))),
        ["keep-a", "keep-b"],
        "names match exactly"
    );
    assert_eq!(
        leaked_names(leak::find(quick().ignore_top_function("leak::park_a"))),
        ["keep-b"]
    );
    assert_eq!(
        leaked_names(leak::find(
            quick().ignore_top_function("holdup::sync::mpsc::Receiver<T>::recv")
        )),
        Vec::<String>::new(),
        "both are blocked in recv"
    );
    assert_eq!(
        leaked_names(leak::find(quick().ignore_top_function("leak::outer_b"))),
        ["keep-a", "keep-b"],
        "not the top"
    );
    assert_eq!(
        leaked_names(leak::find(quick().ignore_any_function("leak::outer_b"))),
        ["keep-a"]
    );
    assert_eq!(
        leaked_names(leak::find(quick().ignore_current())),
        Vec::<String>::new()
    );
    drop((stop_a, stop_b));
    a.join().unwrap();
    b.join().unwrap();
    guard.check().expect("both ended");
}

#[test]
fn threads_started_by_a_guards_threads_belong_to_it() {
    let guard = Guard::new();
    let (stop, rx) = mpsc::channel::<()>();
    let outer = holdup::thread::spawn(move || {
        let inner = holdup::thread::Builder::new()
            .name("grandchild".into())
            .spawn(move || {
                let _ = rx.recv();
            });
        inner.unwrap()
    });
    let inner = outer.join().unwrap();
    let names = leaked_names(guard.check());
    assert_eq!(names, ["grandchild"]);
    drop(stop);
    inner.join().unwrap();
}

#[test]
fn std_threads_are_found_against_the_guards_baseline() {
    let guard = Guard::with(Options::new().other_threads(OtherThreads::Fail).retries(3));
    let ready = Arc::new(StdBarrier::new(2));
    let (stop, rx) = std::sync::mpsc::channel::<()>();
    let t = {
        let ready = ready.clone();
        std::thread::Builder::new()
            .name("std-leak".into())
            .spawn(move || {
                ready.wait();
                let _ = rx.recv();
            })
            .unwrap()
    };
    ready.wait();
    let leaks = guard.check().expect_err("a std thread is running");
    let ours = leaks
        .threads()
        .iter()
        .find(|l| l.thread.name() == Some("std-leak"))
        .expect("found by name");
    assert!(ours.unattributed);
    let report = leaks.to_string();
    assert!(
        report.contains("found by listing the process's threads"),
        "{report}"
    );
    drop(stop);
    t.join().unwrap();
}

#[test]
#[should_panic(expected = "the test's own failure")]
fn a_guard_in_a_failing_test_reports_without_aborting() {
    let _guard = Guard::with(Options::new().retries(1));
    let (_keep, rx) = mpsc::channel::<()>();
    // Leaked on purpose; it ends when the channel's sender is dropped during unwinding.
    holdup::thread::spawn(move || {
        let _ = rx.recv();
    });
    panic!("the test's own failure");
}

#[test]
fn verify_none_panics_with_the_report() {
    let (stop, rx) = mpsc::channel::<()>();
    let t = holdup::thread::Builder::new()
        .name("verify-leak".into())
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    // Running and waiting (a thread the OS has not started yet is reported without a name).
    while !holdup::thread::registered()
        .iter()
        .any(|t| t.name.as_deref() == Some("verify-leak") && t.waiting.is_some())
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = std::panic::catch_unwind(|| leak::verify_none(Options::new().retries(1)));
    let message = r.expect_err("a leak panics");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("\"verify-leak\""), "{text}");
    drop(stop);
    t.join().unwrap();
    leak::verify_none(Options::new());
}
