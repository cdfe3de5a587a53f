//! Accuracy: delays match what the test itself measured, blame goes to the right critical
//! section, and the two profiles agree with each other.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use holdup::sync::{Arc, Barrier, Mutex, RwLock};

use crate::common::{delay, describe, samples_for, within};
use crate::{here, record_everything};

#[inline(never)]
fn hold_for(m: &Mutex<u64>, d: Duration, locked: &std_mpsc::Sender<()>) {
    let mut g = m.lock().unwrap();
    locked.send(()).unwrap();
    std::thread::sleep(d);
    *g += 1;
}

/// Locks `m`, returning how long the lock call took.
#[inline(never)]
fn timed_lock(m: &Mutex<u64>) -> Duration {
    let t0 = Instant::now();
    let mut g = m.lock().unwrap();
    let waited = t0.elapsed();
    *g += 1;
    waited
}

/// A holder keeps the lock 200 ms while three threads wait: the mutex profile charges the
/// holder's unlock with (about) the sum of the waits the waiters measured themselves, and the
/// block profile, which sees the same waits from the waiters' side, agrees.
#[test]
fn mutex_delay_is_the_waiters_total_wait_and_blames_the_holder() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();

    let (locked_tx, locked_rx) = std_mpsc::channel();
    let holder = {
        let m = m.clone();
        holdup::thread::spawn(move || hold_for(&m, Duration::from_millis(200), &locked_tx))
    };
    locked_rx.recv().unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            holdup::thread::spawn(move || timed_lock(&m))
        })
        .collect();
    holder.join().unwrap();
    let waited: Duration = waiters.into_iter().map(|w| w.join().unwrap()).sum();

    let mutex = samples_for(&holdup::profile::mutex().delta(&mutex_before), &site);
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
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
    let unlock = &held[0].frames;
    assert!(
        unlock[0].function.contains("MutexGuard") && unlock[0].function.ends_with("drop"),
        "{}",
        describe(&held)
    );
    assert!(
        unlock[1].function.ends_with("ground_truth::hold_for"),
        "{}",
        describe(&held)
    );
    assert_eq!(held[0].label("kind"), Some("mutex"));
    assert_eq!(held[0].label("mutated"), Some("yes"));

    let waits: Vec<_> = block
        .iter()
        .filter(|s| s.label("kind") == Some("mutex"))
        .cloned()
        .collect();
    let block_total = delay(&waits) as f64;
    assert!(
        within(block_total, total, 0.15),
        "block {block_total} vs mutex {total}\n{}",
        describe(&block)
    );
    assert!(
        waits
            .iter()
            .all(|s| s.frames[0].function.ends_with("Mutex<T>::lock")),
        "{}",
        describe(&waits)
    );
    assert!(
        waits.iter().all(|s| s.has_function("timed_lock")),
        "{}",
        describe(&waits)
    );
}

#[inline(never)]
fn hold_long(m: &Mutex<u64>, start: &Barrier) {
    let mut g = m.lock().unwrap();
    start.wait();
    std::thread::sleep(Duration::from_millis(150));
    *g += 1;
}

#[inline(never)]
fn hold_short(m: &Mutex<u64>, start: &Barrier) {
    let mut g = m.lock().unwrap();
    start.wait();
    std::thread::sleep(Duration::from_millis(50));
    *g += 1;
}

/// Two critical sections on one lock, held 150 ms and 50 ms while the same two threads wait:
/// the mutex profile splits the delay 3:1 between them.
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
                holdup::thread::spawn(move || {
                    start.wait();
                    timed_lock(&m)
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
    let long: Vec<_> = samples
        .iter()
        .filter(|s| s.has_function("hold_long"))
        .cloned()
        .collect();
    let short: Vec<_> = samples
        .iter()
        .filter(|s| s.has_function("hold_short"))
        .cloned()
        .collect();
    let ratio = delay(&long) as f64 / delay(&short) as f64;
    assert!(
        within(ratio, 3.0, 0.2),
        "ratio {ratio}\n{}",
        describe(&samples)
    );
}

#[inline(never)]
fn read_for(l: &RwLock<u64>, d: Duration, locked: &std_mpsc::Sender<()>) {
    let g = l.read().unwrap();
    locked.send(()).unwrap();
    std::thread::sleep(d);
    drop(g);
}

#[inline(never)]
fn write_for(l: &RwLock<u64>, d: Duration, locked: &std_mpsc::Sender<()>) {
    let mut g = l.write().unwrap();
    locked.send(()).unwrap();
    std::thread::sleep(d);
    *g += 1;
}

/// Go's RWMutex rules: a writer kept waiting by a reader is charged to the read unlock; readers
/// kept waiting by a writer are charged to the write unlock.
#[test]
fn rwlock_blames_readers_for_writers_and_writers_for_readers() {
    record_everything();
    let (l, site) = (Arc::new(RwLock::new(0u64)), here!());
    let before = holdup::profile::mutex();

    // A reader holds 100 ms; a writer waits (and measures its wait).
    let (tx, rx) = std_mpsc::channel();
    let reader = {
        let l = l.clone();
        holdup::thread::spawn(move || read_for(&l, Duration::from_millis(100), &tx))
    };
    rx.recv().unwrap();
    let writer = {
        let l = l.clone();
        holdup::thread::spawn(move || {
            let t0 = Instant::now();
            *l.write().unwrap() += 1;
            t0.elapsed()
        })
    };
    reader.join().unwrap();
    let writer_waited = writer.join().unwrap();

    // A writer holds 100 ms; two readers wait (and measure their waits).
    let (tx, rx) = std_mpsc::channel();
    let writer = {
        let l = l.clone();
        holdup::thread::spawn(move || write_for(&l, Duration::from_millis(100), &tx))
    };
    rx.recv().unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let l = l.clone();
            holdup::thread::spawn(move || {
                let t0 = Instant::now();
                let _ = *l.read().unwrap();
                t0.elapsed()
            })
        })
        .collect();
    writer.join().unwrap();
    let readers_waited: Duration = readers.into_iter().map(|r| r.join().unwrap()).sum();

    let samples = samples_for(&holdup::profile::mutex().delta(&before), &site);
    let by_reader: Vec<_> = samples
        .iter()
        .filter(|s| s.has_function("read_for"))
        .cloned()
        .collect();
    let by_writer: Vec<_> = samples
        .iter()
        .filter(|s| s.has_function("write_for"))
        .cloned()
        .collect();
    assert!(
        by_reader
            .iter()
            .all(|s| s.label("kind") == Some("rwlock-read")),
        "{}",
        describe(&samples)
    );
    assert!(
        by_writer
            .iter()
            .all(|s| s.label("kind") == Some("rwlock-write")),
        "{}",
        describe(&samples)
    );
    assert!(
        by_reader
            .iter()
            .all(|s| s.frames[0].function.contains("RwLockReadGuard")),
        "{}",
        describe(&by_reader)
    );
    assert!(
        by_writer
            .iter()
            .all(|s| s.frames[0].function.contains("RwLockWriteGuard")),
        "{}",
        describe(&by_writer)
    );
    // Each side is charged with what the other measured waiting for it.
    let (r, w) = (delay(&by_reader) as f64, delay(&by_writer) as f64);
    let (rt, wt) = (
        writer_waited.as_nanos() as f64,
        readers_waited.as_nanos() as f64,
    );
    assert!(
        within(r, rt, 0.2),
        "readers blamed for {r}ns, the writer waited {rt}ns\n{}",
        describe(&samples)
    );
    assert!(
        within(w, wt, 0.2),
        "writer blamed for {w}ns, the readers waited {wt}ns\n{}",
        describe(&samples)
    );
    assert_eq!(by_writer[0].label("mutated"), Some("yes"));
}

/// The seed's bug: a write lock taken only to read is labelled `mutated=no`.
#[test]
fn write_lock_that_never_writes_is_marked_unmutated() {
    record_everything();
    let (l, site) = (Arc::new(RwLock::new(7u64)), here!());
    let before = holdup::profile::mutex();
    let (tx, rx) = std_mpsc::channel();
    let holder = {
        let l = l.clone();
        holdup::thread::spawn(move || {
            let g = l.write().unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            *g // read through the write guard only
        })
    };
    rx.recv().unwrap();
    let waiter = {
        let l = l.clone();
        holdup::thread::spawn(move || *l.read().unwrap())
    };
    assert_eq!(holder.join().unwrap(), 7);
    waiter.join().unwrap();
    let samples = samples_for(&holdup::profile::mutex().delta(&before), &site);
    assert!(!samples.is_empty());
    assert!(
        samples.iter().all(|s| s.label("mutated") == Some("no")),
        "{}",
        describe(&samples)
    );
}

/// Nothing is recorded when nobody waits.
#[test]
fn uncontended_locking_records_nothing() {
    record_everything();
    let (m, m_site) = (Mutex::new(0u64), here!());
    let (l, l_site) = (RwLock::new(0u64), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    for _ in 0..10_000 {
        *m.lock().unwrap() += 1;
        *l.write().unwrap() += 1;
        let _ = *l.read().unwrap();
        drop(m.try_lock().unwrap());
    }
    let mutex = holdup::profile::mutex().delta(&mutex_before);
    let block = holdup::profile::block().delta(&block_before);
    for site in [&m_site, &l_site] {
        assert!(
            samples_for(&mutex, site).is_empty(),
            "{}",
            describe(&samples_for(&mutex, site))
        );
        assert!(
            samples_for(&block, site).is_empty(),
            "{}",
            describe(&samples_for(&block, site))
        );
    }
}
