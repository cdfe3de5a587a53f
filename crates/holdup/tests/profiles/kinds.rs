//! Every waiting operation produces a block sample with the right `kind` and `lock` labels,
//! whose leaf is the public call and whose next frame is the code that called it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use holdup::profile::Sample;
use holdup::sync::{Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock, mpsc};

use crate::common::{describe, samples_for};
use crate::{here, record_everything};

const PAUSE: Duration = Duration::from_millis(30);

/// Runs `wait` (which must block about PAUSE because of `unblock`, run on another thread after
/// PAUSE) and returns the block samples labelled `site`.
///
/// Tests turn the profiles on (`record_everything`) first thing: in a fresh process (nextest)
/// the first call warms up stack capture, which can take longer than a PAUSE that a holder
/// thread has already started.
fn block_samples(
    site: &str,
    wait: impl FnOnce(),
    unblock: impl FnOnce() + Send + 'static,
) -> Vec<Sample> {
    record_everything();
    let before = holdup::profile::block();
    let other = holdup::thread::spawn(move || {
        std::thread::sleep(PAUSE);
        unblock();
    });
    wait();
    other.join().unwrap();
    samples_for(&holdup::profile::block().delta(&before), site)
}

/// The one sample of `kind`, with its leaf ending in `leaf` and the caller `caller`.
#[track_caller]
fn assert_sample(samples: &[Sample], kind: &str, leaf: &str, caller: &str) {
    let mine: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.label("kind") == Some(kind))
        .collect();
    assert!(
        !mine.is_empty(),
        "no {kind} sample in\n{}",
        describe(samples)
    );
    let s = mine
        .iter()
        .find(|s| s.has_function(caller))
        .unwrap_or_else(|| panic!("no {kind} sample from {caller}\n{}", describe(samples)));
    assert!(
        s.frames[0].function.ends_with(leaf),
        "leaf {:?}, want ..{leaf}\n{}",
        s.frames[0].function,
        describe(samples)
    );
    assert!(
        s.frames[1].function.ends_with(caller),
        "caller {:?}, want ..{caller}\n{}",
        s.frames[1].function,
        describe(samples)
    );
    // At least a millisecond: the waits last about PAUSE, but a loaded machine can shorten
    // them by delaying the waiter.
    assert!(
        s.delay_ns >= 1_000_000,
        "delay {}\n{}",
        s.delay_ns,
        describe(samples)
    );
    assert!(s.count >= 1);
}

#[inline(never)]
fn lock_mutex(m: &Mutex<u32>) {
    *m.lock().unwrap() += 1;
}

#[test]
fn mutex_lock() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0)), here!());
    let guard_holder = m.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _g = guard_holder.lock().unwrap();
        tx.send(()).unwrap();
        std::thread::sleep(PAUSE);
    });
    rx.recv().unwrap();
    let samples = block_samples(&site, || lock_mutex(&m), || ());
    holder.join().unwrap();
    assert_sample(&samples, "mutex", "Mutex<T>::lock", "kinds::lock_mutex");
}

#[inline(never)]
fn read_lock(l: &RwLock<u32>) -> u32 {
    *l.read().unwrap()
}

#[inline(never)]
fn write_lock(l: &RwLock<u32>) {
    *l.write().unwrap() += 1;
}

#[test]
fn rwlock_read_and_write() {
    record_everything();
    let (l, site) = (Arc::new(RwLock::new(0)), here!());
    for write in [false, true] {
        let holder_lock = l.clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _g = holder_lock.write().unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(PAUSE);
        });
        rx.recv().unwrap();
        let samples = block_samples(
            &site,
            || {
                if write {
                    write_lock(&l)
                } else {
                    read_lock(&l);
                }
            },
            || (),
        );
        holder.join().unwrap();
        if write {
            assert_sample(
                &samples,
                "rwlock-write",
                "RwLock<T>::write",
                "kinds::write_lock",
            );
        } else {
            assert_sample(
                &samples,
                "rwlock-read",
                "RwLock<T>::read",
                "kinds::read_lock",
            );
        }
    }
}

#[inline(never)]
fn wait_for_flag(m: &Mutex<bool>, cv: &Condvar) {
    let mut g = m.lock().unwrap();
    while !*g {
        g = cv.wait(g).unwrap();
    }
}

#[test]
fn condvar_wait() {
    record_everything();
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let site = format!("{}:{}", file!(), line!() - 1);
    let other = pair.clone();
    let samples = block_samples(
        &site,
        || wait_for_flag(&pair.0, &pair.1),
        move || {
            *other.0.lock().unwrap() = true;
            other.1.notify_all();
        },
    );
    assert_sample(&samples, "condvar", "Condvar::wait", "kinds::wait_for_flag");
}

#[inline(never)]
fn receive(rx: &mpsc::Receiver<u32>) -> u32 {
    rx.recv().unwrap()
}

#[inline(never)]
fn send_full(tx: &mpsc::SyncSender<u32>) {
    tx.send(2).unwrap();
}

#[test]
fn channel_receive_and_send() {
    record_everything();
    let ((tx, rx), site) = (mpsc::channel::<u32>(), here!());
    let samples = block_samples(
        &site,
        || assert_eq!(receive(&rx), 1),
        move || tx.send(1).unwrap(),
    );
    assert_sample(&samples, "chan-recv", "Receiver<T>::recv", "kinds::receive");

    let ((tx, rx), site) = (mpsc::sync_channel::<u32>(1), here!());
    tx.send(1).unwrap(); // now full
    let samples = block_samples(
        &site,
        || send_full(&tx),
        move || {
            assert_eq!(rx.recv().unwrap(), 1);
            assert_eq!(rx.recv().unwrap(), 2);
        },
    );
    assert_sample(
        &samples,
        "chan-send",
        "SyncSender<T>::send",
        "kinds::send_full",
    );
}

#[inline(never)]
fn meet(b: &Barrier) -> bool {
    // black_box keeps the call out of tail position, so this frame stays on the stack.
    std::hint::black_box(b.wait().is_leader())
}

#[test]
fn barrier_wait() {
    record_everything();
    let (b, site) = (Arc::new(Barrier::new(2)), here!());
    let other = b.clone();
    let samples = block_samples(
        &site,
        || assert!(!meet(&b)),
        move || {
            other.wait();
        },
    );
    assert_sample(&samples, "barrier", "Barrier::wait", "kinds::meet");
}

#[inline(never)]
fn join_worker(h: holdup::thread::JoinHandle<u32>) -> u32 {
    h.join().unwrap()
}

fn sleepy() -> u32 {
    std::thread::sleep(PAUSE);
    5
}

#[test]
fn thread_join() {
    record_everything();
    let before = holdup::profile::block();
    let (h, site) = (holdup::thread::spawn(sleepy), here!());
    assert_eq!(join_worker(h), 5);
    let samples = samples_for(&holdup::profile::block().delta(&before), &site);
    assert_sample(
        &samples,
        "join",
        "JoinHandle<T>::join",
        "kinds::join_worker",
    );
}

#[inline(never)]
fn get_config(cell: &OnceLock<u32>) -> u32 {
    *cell.get_or_init(|| 0)
}

#[test]
fn once_lock_waits_for_another_initializer() {
    record_everything();
    let (cell, site) = (Arc::new(OnceLock::new()), here!());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let init = {
        let cell = cell.clone();
        std::thread::spawn(move || {
            cell.get_or_init(|| {
                tx.send(()).unwrap();
                std::thread::sleep(PAUSE);
                9
            });
        })
    };
    rx.recv().unwrap();
    let samples = block_samples(&site, || assert_eq!(get_config(&cell), 9), || ());
    init.join().unwrap();
    assert_sample(
        &samples,
        "once",
        "OnceLock<T>::get_or_init",
        "kinds::get_config",
    );
}

static SLOW_ENTERED: AtomicBool = AtomicBool::new(false);
static SLOW: LazyLock<u32> = LazyLock::new(|| {
    SLOW_ENTERED.store(true, Ordering::SeqCst);
    std::thread::sleep(PAUSE);
    11
});
static SLOW_SITE: u32 = line!() - 5;

#[inline(never)]
fn read_lazy() -> u32 {
    *SLOW
}

#[test]
fn lazy_lock_waits_for_another_initializer() {
    record_everything();
    let site = format!("{}:{}", file!(), SLOW_SITE);
    record_everything();
    let before = holdup::profile::block();
    let first = std::thread::spawn(|| *SLOW);
    // Wait until the other thread runs the initializer, so that this one has to wait for it.
    while !SLOW_ENTERED.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    assert_eq!(read_lazy(), 11);
    first.join().unwrap();
    let samples = samples_for(&holdup::profile::block().delta(&before), &site);
    assert_sample(
        &samples,
        "once",
        "as core::ops::deref::Deref>::deref",
        "kinds::read_lazy",
    );
}

static INIT: Once = Once::new();
static INIT_SITE: u32 = line!() - 1;
static INIT_ENTERED: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn ensure_init() {
    INIT.call_once(|| ());
}

#[test]
fn once_call_once_waits_for_another_caller() {
    record_everything();
    let site = format!("{}:{}", file!(), INIT_SITE);
    record_everything();
    let before = holdup::profile::block();
    let first = std::thread::spawn(|| {
        INIT.call_once(|| {
            INIT_ENTERED.store(true, Ordering::SeqCst);
            std::thread::sleep(PAUSE);
        })
    });
    while !INIT_ENTERED.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    ensure_init();
    first.join().unwrap();
    let samples = samples_for(&holdup::profile::block().delta(&before), &site);
    assert_sample(&samples, "once", "Once::call_once", "kinds::ensure_init");
}
