//! The uncontended path of every primitive allocates nothing, with profiling off and on
//! (a counting global allocator; this binary has no other tests so that nothing else runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use holdup::sync::{Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock, mpsc};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: delegates to the system allocator; the bookkeeping touches only an atomic and a
// const-initialized thread-local without destructor, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn uncontended_operations_do_not_allocate() {
    let m = Mutex::new(0);
    let l = RwLock::new(0);
    let cv = Condvar::new();
    let cell = OnceLock::new();
    let lazy = LazyLock::new(|| 2);
    let once = Once::new();
    let barrier = Barrier::new(1);
    let (tx, rx) = mpsc::sync_channel(4);
    let run = || {
        for i in 0..1000 {
            *m.lock().unwrap() += 1;
            drop(m.try_lock().unwrap());
            *l.write().unwrap() += 1;
            let _ = *l.read().unwrap();
            drop(l.try_read().unwrap());
            cv.notify_one();
            cv.notify_all();
            assert_eq!(*cell.get_or_init(|| 1), 1);
            assert_eq!(*lazy, 2);
            once.call_once(|| ());
            assert!(barrier.wait().is_leader());
            tx.send(i).unwrap();
            assert_eq!(rx.recv().unwrap(), i);
            assert!(rx.try_recv().is_err());
        }
    };
    // Warm up (first uses initialize thread-locals and lazy values), then count.
    run();
    for (fraction, rate) in [(0, 0), (1, 1), (100, 10_000)] {
        holdup::set_mutex_profile_fraction(fraction);
        holdup::set_block_profile_rate(rate);
        assert_eq!(allocations(run), 0, "fraction {fraction}, rate {rate}");
    }
    #[cfg(feature = "parking_lot")]
    parking_lot_mirror();
    // The counter works: this allocates.
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 64]))) > 0);
}

/// The same for `holdup::parking_lot` (feature `parking_lot`), at the same settings.
#[cfg(feature = "parking_lot")]
fn parking_lot_mirror() {
    use holdup::parking_lot as pl;
    let m = pl::Mutex::new(0);
    let f = pl::FairMutex::new(0);
    let r = pl::reentrant_mutex(0);
    let l = pl::RwLock::new(0);
    let cv = pl::Condvar::new();
    let once = pl::Once::new();
    let run = || {
        for _ in 0..1000 {
            *m.lock() += 1;
            drop(m.try_lock().unwrap());
            drop(m.try_lock_for(std::time::Duration::from_millis(1)).unwrap());
            *f.lock() += 1;
            let a = r.lock();
            let b = r.lock();
            assert_eq!(*a, *b);
            drop((a, b));
            *l.write() += 1;
            let _ = *l.read();
            let up = l.upgradable_read();
            *pl::RwLockUpgradableReadGuard::upgrade(up) += 1;
            cv.notify_one();
            cv.notify_all();
            once.call_once(|| ());
        }
    };
    run();
    for (fraction, rate) in [(0, 0), (1, 1), (100, 10_000)] {
        holdup::set_mutex_profile_fraction(fraction);
        holdup::set_block_profile_rate(rate);
        assert_eq!(
            allocations(run),
            0,
            "parking_lot: fraction {fraction}, rate {rate}"
        );
    }
}
