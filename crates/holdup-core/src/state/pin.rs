//! A published wait that readers may look through while it lasts.
//!
//! A thread about to block publishes what it waits for in its registry record, including a
//! pointer to the lock's holder word. That word lives in the lock, which may be freed as soon
//! as the wait ends; a dump reads it from another thread. The handshake that keeps the read
//! from outliving the lock lives in one word, the wait's value in its top byte and the number
//! of readers inside in the rest:
//!
//! | who    | does                                                                       |
//! |--------|----------------------------------------------------------------------------|
//! | waiter | `begin`: add the value (release: what it stored before is seen with it)     |
//! | reader | `read`: add a reader (acquire); only if the value it saw is non-zero, dereference; then remove the reader (release) |
//! | waiter | `end`: subtract the value, then wait until no reader is counted (acquire), then return (the lock may go) |
//!
//! All updates are read-modify-writes of one word, so they are totally ordered: a reader
//! either comes after `end`'s subtraction and sees no wait, or it is counted before it, and
//! `end` then waits for its removal, whose release orders the reader's dereference before
//! `end` returns. Two words (the value, the count) would need a sequentially consistent
//! store-then-load on each side (Dekker's pattern), which loom models only as acquire-release
//! and so cannot check; one word needs no such argument, and loom checks it.

use crate::loom::sync::atomic::{AtomicU32, Ordering};

/// The value's position: the top byte.
const VALUE_SHIFT: u32 = 24;
/// The reader count: the low 24 bits.
const READERS: u32 = (1 << VALUE_SHIFT) - 1;

#[derive(Debug)]
pub(crate) struct WaitPin {
    /// `value << 24 | readers`; value 0 while not waiting, else the wait's value (`Kind as u8
    /// + 1` in the registry).
    word: AtomicU32,
}

macro_rules! pin_init {
    () => {
        WaitPin {
            word: AtomicU32::new(0),
        }
    };
}

impl WaitPin {
    #[cfg(not(holdup_loom))]
    pub(crate) const fn new() -> Self {
        pin_init!()
    }

    #[cfg(holdup_loom)]
    pub(crate) fn new() -> Self {
        pin_init!()
    }

    /// Publishes a wait (`value` ≠ 0), replacing one in progress if any. Whatever the waiter
    /// stored before (relaxed) is seen by a reader that sees the wait on.
    pub(crate) fn begin(&self, value: u8) {
        debug_assert_ne!(value, 0);
        let _ = self
            .word
            .fetch_update(Ordering::Release, Ordering::Relaxed, |w| {
                Some(w & READERS | u32::from(value) << VALUE_SHIFT)
            });
    }

    /// Ends the wait; returns once no reader is inside [`read`](Self::read), so that what the
    /// wait pointed to may be freed.
    pub(crate) fn end(&self) {
        let word = self.word.load(Ordering::Relaxed);
        let value = word & !READERS;
        if value == 0 {
            return;
        }
        self.word.fetch_sub(value, Ordering::Relaxed);
        let mut spins = 0u32;
        while self.word.load(Ordering::Acquire) & READERS != 0 {
            // A reader holds the pin for a few loads; yield if it was preempted.
            spins += 1;
            crate::loom::spin_wait(spins);
        }
    }

    /// The wait's value now (0: not waiting), for readers that dereference nothing.
    pub(crate) fn current(&self) -> u8 {
        (self.word.load(Ordering::Acquire) >> VALUE_SHIFT) as u8
    }

    /// Runs `f` if the wait is on, pinned: until `f` returns, the waiter's `end` does not
    /// return, so `f` may dereference what the wait points to. `None` if the wait is off.
    pub(crate) fn read<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let word = self.word.fetch_add(1, Ordering::Acquire);
        let r = (word >> VALUE_SHIFT != 0).then(f);
        self.word.fetch_sub(1, Ordering::Release);
        r
    }
}

#[cfg(all(test, holdup_loom))]
mod loom_tests {
    use super::WaitPin;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    /// What a wait points to (the lock's holder word), with a flag that the waiter clears
    /// when it "frees" it after `end`; loom reports a race if a reader's access is not ordered
    /// before that write.
    struct Lock {
        alive: UnsafeCell<bool>,
    }

    #[test]
    fn a_reader_never_looks_at_a_freed_lock() {
        loom::model(|| {
            let pin = Arc::new(WaitPin::new());
            let lock = Arc::new(Lock {
                alive: UnsafeCell::new(true),
            });
            pin.begin(1);
            // One reader: each more multiplies the interleavings (two take 100 s, one 1 s) and
            // adds nothing the count's arithmetic does not already show.
            let readers: Vec<_> = (0..1)
                .map(|_| {
                    let (pin, lock) = (pin.clone(), lock.clone());
                    loom::thread::spawn(move || {
                        // SAFETY (model): the pin orders this read before the waiter's free.
                        pin.read(|| lock.alive.with(|a| assert!(unsafe { *a })))
                    })
                })
                .collect();
            pin.end();
            // SAFETY (model): no reader is inside `read` once `end` returned.
            lock.alive.with_mut(|a| unsafe { *a = false });
            for r in readers {
                r.join().unwrap();
            }
        });
    }

    #[test]
    fn a_read_after_the_end_sees_no_wait() {
        loom::model(|| {
            let pin = WaitPin::new();
            pin.begin(3);
            assert_eq!(pin.read(|| pin.current()), Some(3));
            pin.end();
            assert_eq!(pin.read(|| ()), None);
            assert_eq!(pin.current(), 0);
        });
    }
}
