//! `holdup::lock_api::Profiled<R>`: any `lock_api` lock, profiled. A hand-written spin lock and
//! parking_lot's raw locks under `lock_api`'s types record contention with known ground truth,
//! name their holders in dumps, and say how timed-out waits and upgradable reads are shown.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{delay, describe, samples_for, within};
use holdup::lock_api::Profiled;
use lock_api::{RawMutex as _, RawRwLock as _};
use parking_lot::{RawMutex, RawRwLock};

/// A hand-written spin lock: nothing of it parks, so every wait is in its `lock` loop.
struct RawSpinLock(AtomicBool);

// SAFETY: `try_lock`'s compare-exchange lets one holder in at a time; `unlock` (called only by
// the holder) lets the next in, with release ordering for what it wrote.
unsafe impl lock_api::RawMutex for RawSpinLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawSpinLock = RawSpinLock(AtomicBool::new(false));
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        while !self.try_lock() {
            std::thread::yield_now();
        }
    }

    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

type SpinMutex<T> = lock_api::Mutex<Profiled<RawSpinLock>, T>;
type PlMutex<T> = lock_api::Mutex<Profiled<parking_lot::RawMutex>, T>;
type PlRwLock<T> = lock_api::RwLock<Profiled<parking_lot::RawRwLock>, T>;

fn record_everything() {
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);
}

/// One holder keeps the lock `hold` while `waiters` threads wait for it: returns the waits
/// the waiters measured themselves.
fn contend<L: Send + Sync + 'static>(
    lock: Arc<L>,
    hold: Duration,
    waiters: usize,
    take: fn(&L),
    hold_it: fn(&L, Duration, &Barrier),
) -> Duration {
    let start = Arc::new(Barrier::new(waiters + 1));
    let holder = {
        let (lock, start) = (lock.clone(), start.clone());
        std::thread::spawn(move || hold_it(&lock, hold, &start))
    };
    let waiting: Vec<_> = (0..waiters)
        .map(|_| {
            let (lock, start) = (lock.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let t = Instant::now();
                take(&lock);
                t.elapsed()
            })
        })
        .collect();
    holder.join().unwrap();
    waiting.into_iter().map(|w| w.join().unwrap()).sum()
}

#[test]
fn a_profiled_spin_lock_records_its_contention() {
    record_everything();
    let (raw, site) = (Profiled::new(RawSpinLock::INIT), here!());
    let lock = Arc::new(SpinMutex::from_raw(raw, 0u64));
    let before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    let waited = contend(
        lock,
        Duration::from_millis(150),
        2,
        |l| *l.lock() += 1,
        |l, hold, start| {
            let g = l.lock();
            start.wait();
            std::thread::sleep(hold);
            drop(g);
        },
    );
    let mutex = samples_for(&holdup::profile::mutex().delta(&before), &site);
    let total = delay(&mutex) as f64;
    assert!(
        within(total, waited.as_nanos() as f64, 0.15),
        "mutex delay {total} ns vs {waited:?} measured\n{}",
        describe(&mutex)
    );
    assert!(mutex.iter().all(|s| s.label("kind") == Some("mutex")));
    // lock_api's guards do not tell the raw lock whether they were written through.
    assert!(mutex.iter().all(|s| s.label("mutated").is_none()));
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
    assert!(
        within(delay(&block) as f64, waited.as_nanos() as f64, 0.15),
        "block delay vs {waited:?}\n{}",
        describe(&block)
    );
}

#[inline(never)]
fn hold_long(m: &PlMutex<u64>, start: &Barrier) {
    let mut g = m.lock();
    start.wait();
    std::thread::sleep(Duration::from_millis(150));
    *g += 1;
}

#[inline(never)]
fn hold_short(m: &PlMutex<u64>, start: &Barrier) {
    let mut g = m.lock();
    start.wait();
    std::thread::sleep(Duration::from_millis(50));
    *g += 1;
}

/// parking_lot's raw mutex under `lock_api`: critical sections held 150 ms and 50 ms while the
/// same two threads wait split the mutex delay 3:1, and the total is the waiters' wait.
#[test]
fn parking_lots_mutex_under_lock_api_splits_delay_three_to_one() {
    record_everything();
    let (raw, site) = (Profiled::new(RawMutex::INIT), here!());
    let m = Arc::new(PlMutex::from_raw(raw, 0u64));
    let before = holdup::profile::mutex();
    let mut waited = Duration::ZERO;
    for round in 0..4 {
        let start = Arc::new(Barrier::new(3));
        let waiters: Vec<_> = (0..2)
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
        if round % 2 == 0 {
            hold_long(&m, &start);
        } else {
            hold_short(&m, &start);
        }
        waited += waiters
            .into_iter()
            .map(|w| w.join().unwrap())
            .sum::<Duration>();
    }
    let samples = samples_for(&holdup::profile::mutex().delta(&before), &site);
    let part = |f: &str| -> i64 {
        samples
            .iter()
            .filter(|s| s.has_function(f))
            .map(|s| s.delay_ns)
            .sum()
    };
    let ratio = part("hold_long") as f64 / part("hold_short") as f64;
    assert!(
        within(ratio, 3.0, 0.2),
        "ratio {ratio}\n{}",
        describe(&samples)
    );
    let total = delay(&samples) as f64;
    assert!(
        within(total, waited.as_nanos() as f64, 0.15),
        "mutex delay {total} ns vs {waited:?} measured\n{}",
        describe(&samples)
    );
    assert_eq!(*m.lock(), 12);
}

#[test]
fn a_timed_out_lock_is_a_block_event_that_did_not_acquire() {
    record_everything();
    let (raw, site) = (Profiled::new(RawMutex::INIT), here!());
    let lock = Arc::new(PlMutex::from_raw(raw, 0u64));
    let block_before = holdup::profile::block();
    let g = lock.lock();
    let waiter = {
        let lock = lock.clone();
        std::thread::spawn(move || lock.try_lock_for(Duration::from_millis(80)).is_none())
    };
    assert!(
        waiter.join().unwrap(),
        "the lock is held: the timed lock gives up"
    );
    drop(g);
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
    let d = delay(&block);
    assert!(
        (70_000_000..1_000_000_000).contains(&d),
        "{d} ns\n{}",
        describe(&block)
    );
    assert!(block.iter().all(|s| s.label("kind") == Some("mutex")));
}

#[test]
fn upgradable_reads_and_writes_have_their_kinds() {
    record_everything();
    let (raw, site) = (Profiled::new(RawRwLock::INIT), here!());
    let lock = Arc::new(PlRwLock::from_raw(raw, 0u64));
    let block_before = holdup::profile::block();
    let up = lock.upgradable_read();
    let (started, waiting) = std::sync::mpsc::channel();
    let upgrader = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            started.send(()).unwrap();
            let g = lock.upgradable_read();
            let mut w = lock_api::RwLockUpgradableReadGuard::upgrade(g);
            *w += 1;
        })
    };
    waiting.recv().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    // A reader alongside the upgradable holder: readers are not excluded by it.
    assert_eq!(*lock.read(), 0);
    let mut w = lock_api::RwLockUpgradableReadGuard::upgrade(up);
    *w += 1;
    drop(w);
    upgrader.join().unwrap();
    assert_eq!(*lock.read(), 2);
    let block = samples_for(&holdup::profile::block().delta(&block_before), &site);
    assert!(
        block
            .iter()
            .any(|s| s.label("kind") == Some("rwlock-upgradable") && s.delay_ns >= 40_000_000),
        "{}",
        describe(&block)
    );
}

#[test]
fn a_lock_made_by_init_is_labelled_with_profileds_line() {
    let lock: PlMutex<u64> = PlMutex::new(0);
    // SAFETY: only read.
    let site = unsafe { lock_api::Mutex::raw(&lock) }.site();
    assert_eq!(site, Profiled::<parking_lot::RawMutex>::INIT_SITE);
    assert!(site.file().ends_with("lock_api.rs"), "{site}");
    let named = PlMutex::from_raw(Profiled::new(parking_lot::RawMutex::INIT), 0u64);
    // SAFETY: only read.
    let named_site = unsafe { lock_api::Mutex::raw(&named) }.site();
    assert_eq!(named_site.line(), line!() - 3);
}

/// A thread waiting for a `Profiled` lock shows in a dump waiting for it, with its holder.
#[test]
fn holders_show_in_dumps() {
    let (raw, site) = (Profiled::new(RawMutex::INIT), here!());
    let lock = Arc::new(PlMutex::from_raw(raw, 0u64));
    let g = lock.lock();
    let waiter = {
        let lock = lock.clone();
        holdup::thread::Builder::new()
            .name("pl-waiter".into())
            .spawn(move || *lock.lock() += 1)
            .unwrap()
    };
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::syscall(libc::SYS_gettid) } as i64;
    let start = Instant::now();
    let wait = loop {
        let dump = holdup::dump::threads();
        let found = dump
            .threads()
            .iter()
            .find(|t| t.name() == Some("pl-waiter"))
            .and_then(|t| t.wait.clone());
        if let Some(w) = found {
            break w;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the waiter never waited"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(format!("{}:{}", wait.lock.file(), wait.lock.line()), site);
    assert_eq!(wait.kind, holdup::profile::Kind::Mutex);
    match &wait.holder {
        holdup::dump::Holder::Thread(t) => assert_eq!(t.tid, me, "{wait:?}"),
        other => panic!("holder {other:?}"),
    }
    drop(g);
    waiter.join().unwrap();
    assert_eq!(*lock.lock(), 1);
}
