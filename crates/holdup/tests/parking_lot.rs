//! holdup's `parking_lot` mirror against known ground truth: the mutex delay is the waiters'
//! total wait and blames the holder's unlock (with the `mutated` label and the creation
//! site), critical sections held 3:1 get 3:1 of the delay, each kind is labelled as std's
//! mirror labels it, and dumps find holders and deadlock cycles through parking_lot's locks.

mod common;

use std::sync::Arc;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{delay, describe, samples_for, within};
use holdup::parking_lot::{Condvar, Mutex, RwLock, RwLockUpgradableReadGuard};

fn record_everything() {
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);
}

#[inline(never)]
fn hold_for(m: &Mutex<u64>, d: Duration, start: &Barrier) {
    let mut g = m.lock();
    start.wait();
    std::thread::sleep(d);
    *g += 1;
}

#[test]
fn mutex_delay_is_the_waiters_total_wait_and_blames_the_holder() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    let start = Arc::new(Barrier::new(4));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (m, start) = (m.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let t = Instant::now();
                *m.lock() += 1;
                t.elapsed()
            })
        })
        .collect();
    hold_for(&m, Duration::from_millis(200), &start);
    let waited: Duration = waiters.into_iter().map(|w| w.join().unwrap()).sum();

    let mutex = samples_for(&holdup::profile::mutex().delta(&mutex_before), &site);
    let total = delay(&mutex) as f64;
    let truth = waited.as_nanos() as f64;
    assert!(
        within(total, truth, 0.15),
        "mutex delay {total} vs measured waits {truth}\n{}",
        describe(&mutex)
    );
    let held: Vec<_> = mutex
        .iter()
        .filter(|s| s.has_function("hold_for"))
        .cloned()
        .collect();
    assert!(
        delay(&held) as f64 >= 0.85 * total,
        "the holder is blamed\n{}",
        describe(&mutex)
    );
    assert_eq!(held[0].label("kind"), Some("mutex"));
    assert_eq!(held[0].label("mutated"), Some("yes"));
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
    assert!(
        within(delay(&block) as f64, truth, 0.15),
        "block delay vs {truth}\n{}",
        describe(&block)
    );
    assert!(block.iter().all(|s| s.label("kind") == Some("mutex")));
    assert_eq!(*m.lock(), 4);
}

#[inline(never)]
fn hold_long(m: &Mutex<u64>, start: &Barrier) {
    let g = m.lock();
    start.wait();
    std::thread::sleep(Duration::from_millis(150));
    // Read only: `mutated=no`.
    assert!(*g < 100);
}

#[inline(never)]
fn hold_short(m: &Mutex<u64>, start: &Barrier) {
    let g = m.lock();
    start.wait();
    std::thread::sleep(Duration::from_millis(50));
    assert!(*g < 100);
}

#[test]
fn critical_sections_held_three_to_one_get_three_to_one_delay() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let before = holdup::profile::mutex();
    for round in 0..4 {
        let start = Arc::new(Barrier::new(3));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (m, start) = (m.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    *m.lock() += 1;
                })
            })
            .collect();
        if round % 2 == 0 {
            hold_long(&m, &start);
        } else {
            hold_short(&m, &start);
        }
        for w in waiters {
            w.join().unwrap();
        }
    }
    let samples = samples_for(&holdup::profile::mutex().delta(&before), &site);
    let part = |f: &str| -> Vec<_> {
        samples
            .iter()
            .filter(|s| s.has_function(f))
            .cloned()
            .collect()
    };
    let (long, short) = (part("hold_long"), part("hold_short"));
    let ratio = delay(&long) as f64 / delay(&short) as f64;
    assert!(
        within(ratio, 3.0, 0.2),
        "ratio {ratio}\n{}",
        describe(&samples)
    );
    assert!(long.iter().all(|s| s.label("mutated") == Some("no")));
}

#[test]
fn rwlock_waits_have_their_kinds() {
    record_everything();
    let (l, site) = (Arc::new(RwLock::new(0u64)), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    let w = l.write();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let (l, tx) = (l.clone(), tx.clone());
        std::thread::spawn(move || {
            tx.send(()).unwrap();
            *l.read()
        })
    };
    let upgradable = {
        let (l, tx) = (l.clone(), tx.clone());
        std::thread::spawn(move || {
            tx.send(()).unwrap();
            let up = l.upgradable_read();
            *RwLockUpgradableReadGuard::upgrade(up) += 1;
        })
    };
    rx.recv().unwrap();
    rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(80));
    drop(w);
    reader.join().unwrap();
    upgradable.join().unwrap();
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
    let kind = |k: &str| -> i64 {
        block
            .iter()
            .filter(|s| s.label("kind") == Some(k))
            .map(|s| s.delay_ns)
            .sum()
    };
    assert!(kind("rwlock-read") >= 50_000_000, "{}", describe(&block));
    assert!(
        kind("rwlock-upgradable") >= 50_000_000,
        "{}",
        describe(&block)
    );
    let mutex = samples_for(&holdup::profile::mutex().delta(&mutex_before), &site);
    assert!(
        mutex
            .iter()
            .any(|s| s.label("kind") == Some("rwlock-write") && s.label("mutated") == Some("no")),
        "{}",
        describe(&mutex)
    );
}

#[test]
fn condvar_waits_are_block_events_on_the_waiter() {
    record_everything();
    let (pair, site) = (Arc::new((Mutex::new(false), Condvar::new())), here!());
    let before = holdup::profile::block();
    let waiter = {
        let pair = pair.clone();
        std::thread::spawn(move || {
            let (m, cv) = &*pair;
            let mut ready = m.lock();
            let t = Instant::now();
            while !*ready {
                cv.wait(&mut ready);
            }
            t.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    *pair.0.lock() = true;
    pair.1.notify_one();
    let waited = waiter.join().unwrap();
    // The condvar's site is the `Condvar::new` on the line above's tuple: the same line.
    let block = samples_for(&holdup::profile::block().delta(&before), &site);
    let cv: Vec<_> = block
        .iter()
        .filter(|s| s.label("kind") == Some("condvar"))
        .cloned()
        .collect();
    assert!(
        within(delay(&cv) as f64, waited.as_nanos() as f64, 0.15),
        "{waited:?}\n{}",
        describe(&block)
    );
}

#[test]
fn a_two_lock_deadlock_through_parking_lot_mutexes_is_found() {
    let (a, a_site) = (Arc::new(Mutex::new(())), here!());
    let (b, b_site) = (Arc::new(Mutex::new(())), here!());
    let start = Arc::new(Barrier::new(2));
    for (name, first, second) in [("pl-left", &a, &b), ("pl-right", &b, &a)] {
        let (first, second, start) = (first.clone(), second.clone(), start.clone());
        holdup::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _g = first.lock();
                start.wait();
                // Never returns: the two threads stay blocked until the test process exits.
                let _h = second.lock();
            })
            .unwrap();
    }
    let started = Instant::now();
    let cycle = loop {
        let dump = holdup::dump::threads();
        let found = dump
            .deadlocks()
            .iter()
            .find(|d| {
                d.links
                    .iter()
                    .any(|l| l.thread.name.as_deref() == Some("pl-left"))
            })
            .cloned();
        if let Some(c) = found {
            break c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no cycle found: {:#?}",
            dump.deadlocks()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut locks = cycle.locks();
    locks.sort();
    let mut want = vec![a_site, b_site];
    want.sort();
    assert_eq!(locks, want);
}

/// The execution trace shows a parking_lot mirror lock's wait, and the arrow from the holder's
/// unlock to the waiter's acquisition.
#[test]
fn the_trace_shows_a_parking_lot_wait_and_its_hand_over() {
    holdup::trace::start().unwrap();
    let m = Arc::new(Mutex::new(0u64));
    let g = m.lock();
    let waiter = {
        let m = m.clone();
        std::thread::Builder::new()
            .name("pl-traced".into())
            .spawn(move || *m.lock() += 1)
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(50));
    drop(g);
    waiter.join().unwrap();
    let t = holdup::trace::stop().unwrap();
    let mut bytes = Vec::new();
    t.write_perfetto(&mut bytes).unwrap();
    let view = holdup_pprof::perfetto::TraceView::decode(&bytes).expect("a valid trace");
    let slices = view.slices();
    // Other tests of this binary run meanwhile: look only at the waiter's thread.
    let waiter_tracks: Vec<u64> = view
        .tracks
        .iter()
        .filter(|t| t.name.contains("pl-traced") && t.thread.is_some())
        .map(|t| t.uuid)
        .collect();
    let wait = slices
        .iter()
        .find(|s| s.name == "mutex wait" && s.dur >= 30_000_000 && waiter_tracks.contains(&s.track))
        .expect("the waiter's wait");
    let acquired = slices
        .iter()
        .find(|s| s.name == "acquired" && s.track == wait.track)
        .expect("its acquisition");
    assert_eq!(acquired.flows_in.len(), 1, "{acquired:?}");
    assert!(
        slices
            .iter()
            .any(|s| s.name == "unlock" && s.flows_out == acquired.flows_in),
        "no unlock starts the arrow to {acquired:?}"
    );
}
