//! Tests that change the process-wide settings (rates, bounds, depth, unwinder). They hold one
//! lock so that they never run at the same time, even under `cargo test`'s threads.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use common::{count, delay, describe, samples_for, within};
use holdup::sync::{Arc, Mutex};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn fraction_follows_go_semantics() {
    let _s = serial();
    let old = holdup::set_mutex_profile_fraction(0);
    assert_eq!(
        holdup::set_mutex_profile_fraction(-1),
        0,
        "negative only reads"
    );
    assert_eq!(
        holdup::set_mutex_profile_fraction(7),
        0,
        "returns the previous value"
    );
    assert_eq!(holdup::set_mutex_profile_fraction(-5), 7);
    assert_eq!(holdup::set_mutex_profile_fraction(old), 7);
    holdup::set_block_profile_rate(-3);
    assert_eq!(
        holdup::block_profile_rate(),
        0,
        "non-positive rates turn the block profile off"
    );
    holdup::set_block_profile_rate(10_000);
    assert_eq!(holdup::block_profile_rate(), 10_000);
    holdup::set_block_profile_rate(0);
}

#[cfg(target_os = "linux")]
#[test]
fn profiles_are_off_by_default_and_when_turned_off() {
    let _s = serial();
    holdup::set_mutex_profile_fraction(0);
    holdup::set_block_profile_rate(0);
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    ping_pong(&m, 20);
    assert!(samples_for(&holdup::profile::mutex().delta(&mutex_before), &site).is_empty());
    assert!(samples_for(&holdup::profile::block().delta(&block_before), &site).is_empty());
}

/// Hands a held lock to a thread that is known to be blocked on it, `rounds` times: exactly
/// `rounds` contended releases, each ending exactly one wait.
#[cfg(target_os = "linux")]
fn ping_pong(m: &Arc<Mutex<u64>>, rounds: usize) {
    let about_to_lock = Arc::new(AtomicBool::new(false));
    let (go_tx, go_rx) = std_mpsc::channel::<bool>();
    let (done_tx, done_rx) = std_mpsc::channel::<()>();
    let (tid_tx, tid_rx) = std_mpsc::channel::<i64>();
    let waiter = {
        let (m, about_to_lock) = (m.clone(), about_to_lock.clone());
        holdup::thread::spawn(move || {
            tid_tx
                .send(
                    holdup::thread::registered()
                        .iter()
                        .find(|t| t.id == std::thread::current().id())
                        .unwrap()
                        .os_tid,
                )
                .unwrap();
            while go_rx.recv().unwrap() {
                about_to_lock.store(true, Ordering::SeqCst);
                *m.lock().unwrap() += 1;
                done_tx.send(()).unwrap();
            }
        })
    };
    let tid = tid_rx.recv().unwrap();
    for _ in 0..rounds {
        let mut g = m.lock().unwrap();
        about_to_lock.store(false, Ordering::SeqCst);
        go_tx.send(true).unwrap();
        while !about_to_lock.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // After the flag, the waiter's next sleep is in the lock (it registers before sleeping).
        common::wait_until_sleeping(tid);
        *g += 1;
        drop(g);
        done_rx.recv().unwrap();
    }
    go_tx.send(false).unwrap();
    waiter.join().unwrap();
}

/// Fraction 10 over 3,000 contended releases: the scaled count estimates the true number.
/// (Binomial with p = 0.1: one standard deviation is 5.5%; the tolerance is 25%.)
#[cfg(target_os = "linux")]
#[test]
fn mutex_sampling_scales_counts_to_the_truth() {
    let _s = serial();
    const ROUNDS: usize = 3_000;
    holdup::set_block_profile_rate(1);
    holdup::set_mutex_profile_fraction(10);
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    ping_pong(&m, ROUNDS);
    holdup::set_mutex_profile_fraction(0);
    holdup::set_block_profile_rate(0);

    let mutex = samples_for(&holdup::profile::mutex().delta(&mutex_before), &site);
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
    // Every release was contended and every wait is recorded at rate 1: the block profile
    // counts the truth exactly.
    assert_eq!(count(&block), ROUNDS as i64, "{}", describe(&block));
    let estimate = count(&mutex) as f64;
    assert!(
        within(estimate, ROUNDS as f64, 0.25),
        "estimated {estimate} of {ROUNDS}\n{}",
        describe(&mutex)
    );
    assert!(
        mutex.iter().all(|s| s.count % 10 == 0),
        "counts are scaled by the fraction"
    );
    // Delays are scaled the same way; their estimate is unbiased but, with waits as uneven as
    // a loaded machine makes them (one preempted holder can outweigh hundreds of hand-offs),
    // too noisy for a tight bound: only check that it is there.
    assert!(delay(&mutex) > 0 && delay(&block) > 0);
}

/// Block rate 10 ms over 2,000 waits of about 1 ms: the weighted totals estimate the truth, as
/// Go's rule promises (`blocksampled` in Go's `runtime/mprof.go`). (About 1 in 10 waits is kept: one standard deviation
/// is 7%; the tolerance is 25%.)
#[test]
fn block_sampling_estimates_short_waits_without_bias() {
    let _s = serial();
    const WAITS: usize = 2_000;
    holdup::set_mutex_profile_fraction(0);
    holdup::set_block_profile_rate(10_000_000);
    let ((tx, rx), site) = (holdup::sync::mpsc::channel::<u32>(), here!());
    let before = holdup::profile::block();
    let sender = std::thread::spawn(move || {
        for i in 0..WAITS as u32 {
            std::thread::sleep(Duration::from_millis(1));
            tx.send(i).unwrap();
        }
    });
    let mut truth = Duration::ZERO;
    let mut waits = 0;
    for _ in 0..WAITS {
        // Waits that find a message already queued are not blocked waits.
        let t0 = Instant::now();
        rx.recv().unwrap();
        let d = t0.elapsed();
        if d > Duration::from_micros(100) {
            truth += d;
            waits += 1;
        }
    }
    sender.join().unwrap();
    holdup::set_block_profile_rate(0);
    let samples = samples_for(&holdup::profile::block().delta(&before), &site);
    let (c, d) = (count(&samples) as f64, delay(&samples) as f64);
    assert!(waits > WAITS / 2, "most receives waited ({waits})");
    assert!(
        within(c, waits as f64, 0.25),
        "count {c} vs {waits} waits\n{}",
        describe(&samples)
    );
    assert!(
        within(d, truth.as_nanos() as f64, 0.25),
        "delay {d} vs {truth:?}"
    );
}

#[inline(never)]
fn join_from_a(h: holdup::thread::JoinHandle<()>) {
    h.join().unwrap();
    std::hint::black_box(1);
}

#[inline(never)]
fn join_from_b(h: holdup::thread::JoinHandle<()>) {
    h.join().unwrap();
    std::hint::black_box(2);
}

#[inline(never)]
fn join_from_c(h: holdup::thread::JoinHandle<()>) {
    h.join().unwrap();
    std::hint::black_box(3);
}

/// Past the bucket bound, events land in an overflow bucket shown as `holdup::overflow`, are
/// counted, and none is lost.
#[test]
fn bucket_overflow_is_counted_and_kept() {
    let _s = serial();
    holdup::set_block_profile_rate(1);
    holdup::set_mutex_profile_fraction(0);
    let bound_before = holdup::profile::set_max_buckets(1);
    let before = holdup::profile::block();
    // Joins from three different functions: three stacks, at most one of which can get the
    // table's one bucket, whatever ran before.
    join_from_a(holdup::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(5))
    }));
    join_from_b(holdup::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(5))
    }));
    join_from_c(holdup::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(5))
    }));
    let after = holdup::profile::block();
    holdup::profile::set_max_buckets(bound_before);
    holdup::set_block_profile_rate(0);
    let delta = after.delta(&before);
    assert!(delta.overflowed() > 0, "events overflowed");
    let overflow: Vec<_> = delta
        .samples()
        .filter(|s| s.frames.iter().any(|f| f.function == "holdup::overflow"))
        .collect();
    assert!(!overflow.is_empty(), "overflow bucket present");
    assert!(
        overflow
            .iter()
            .all(|s| s.frames.len() == 1 && s.label("kind").is_some() && s.label("lock").is_some())
    );
}

#[inline(never)]
fn recurse_then_lock(depth: usize, m: &Mutex<u64>) -> u64 {
    if depth == 0 {
        let mut g = m.lock().unwrap();
        *g += 1;
        return *g;
    }
    std::hint::black_box(recurse_then_lock(depth - 1, m)) + 1
}

#[test]
fn stack_depth_limits_frames() {
    let _s = serial();
    holdup::set_block_profile_rate(1);
    let previous = holdup::profile::set_stack_depth(4);
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let before = holdup::profile::block();
    let g = m.lock().unwrap();
    let waiter = {
        let m = m.clone();
        holdup::thread::spawn(move || recurse_then_lock(20, &m))
    };
    std::thread::sleep(Duration::from_millis(20));
    drop(g);
    waiter.join().unwrap();
    holdup::profile::set_stack_depth(previous);
    holdup::set_block_profile_rate(0);
    let samples = samples_for(&holdup::profile::block().delta(&before), &site);
    assert!(!samples.is_empty());
    for s in &samples {
        let locations: std::collections::BTreeSet<usize> =
            s.frames.iter().map(|f| f.address).collect();
        assert!(locations.len() <= 4, "{}", describe(&samples));
        assert!(s.frames[0].function.ends_with("Mutex<T>::lock"));
    }
}

#[test]
fn unwinders_agree_on_the_callers() {
    let _s = serial();
    holdup::set_block_profile_rate(1);
    let mut stacks = Vec::new();
    for unwinder in [
        holdup::profile::Unwinder::Dwarf,
        holdup::profile::Unwinder::Auto,
    ] {
        holdup::profile::set_unwinder(unwinder);
        let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
        let before = holdup::profile::block();
        let g = m.lock().unwrap();
        let waiter = {
            let m = m.clone();
            holdup::thread::spawn(move || recurse_then_lock(3, &m))
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(g);
        waiter.join().unwrap();
        let samples = samples_for(&holdup::profile::block().delta(&before), &site);
        let functions: Vec<String> = samples[0]
            .frames
            .iter()
            .map(|f| f.function.clone())
            .collect();
        assert_eq!(
            functions
                .iter()
                .filter(|f| f.ends_with("recurse_then_lock"))
                .count(),
            4,
            "{functions:?}"
        );
        stacks.push(functions);
    }
    assert_ne!(
        holdup::profile::unwinder(),
        holdup::profile::Unwinder::Auto,
        "Auto resolves on first capture"
    );
    assert_eq!(stacks[0], stacks[1]);
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::set_block_profile_rate(0);
}
