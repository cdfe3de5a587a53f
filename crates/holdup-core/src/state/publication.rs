//! A value published to signal handlers, and taken back safely.
//!
//! A thread dump publishes a table that every thread's signal handler writes its stack into.
//! A handler can run late (a signal delivered after the dump gave up on it), so the table must
//! not be freed while a handler might still reach it. The handshake keeps a "published" bit and
//! the number of handlers inside in one word; the pointer sits beside it:
//!
//! | who     | does                                                                        |
//! |---------|-----------------------------------------------------------------------------|
//! | dumper  | `publish`: store the pointer, then set the bit (release)                     |
//! | handler | `with`: count itself in (acquire); only if the bit was set, load the pointer and use it; count itself out (release) |
//! | dumper  | `unpublish`: clear the bit, then wait until no handler is counted (acquire); then free |
//!
//! All updates are read-modify-writes of one word, so they are totally ordered: a handler
//! either comes after the bit was cleared and touches nothing, or is counted before, and the
//! dumper waits for its count-out, whose release orders its use of the table before the free.
//! Everything is a plain lock-free atomic operation, as a signal handler requires; loom checks
//! it (see [`WaitPin`](super::WaitPin) for why not two words).

use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The "published" bit; the rest of the word counts handlers inside `with`.
const ON: usize = 1 << (usize::BITS - 1);

#[derive(Debug)]
pub(crate) struct Publication<T> {
    ptr: AtomicPtr<T>,
    /// `ON` while published, plus the handlers inside `with`.
    word: AtomicUsize,
}

macro_rules! publication_init {
    () => {
        Publication {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
            word: AtomicUsize::new(0),
        }
    };
}

impl<T> Publication<T> {
    #[cfg(not(holdup_loom))]
    pub(crate) const fn new() -> Self {
        publication_init!()
    }

    #[cfg(holdup_loom)]
    pub(crate) fn new() -> Self {
        publication_init!()
    }

    /// Publishes `value` (nothing is published now), which must stay valid until
    /// [`unpublish`](Self::unpublish) returns.
    pub(crate) fn publish(&self, value: *mut T) {
        self.ptr.store(value, Ordering::Relaxed);
        self.word.fetch_or(ON, Ordering::Release);
    }

    /// Takes the value back; returns once no [`with`](Self::with) can be using it, so that
    /// the caller may free it.
    pub(crate) fn unpublish(&self) {
        self.word.fetch_and(!ON, Ordering::Relaxed);
        let mut spins = 0u32;
        while self.word.load(Ordering::Acquire) & !ON != 0 {
            spins += 1;
            crate::loom::spin_wait(spins);
        }
        self.ptr.store(std::ptr::null_mut(), Ordering::Relaxed);
    }

    /// Runs `f` on the published value, if any. Async-signal-safe (atomics only), for handlers.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let word = self.word.fetch_add(1, Ordering::Acquire);
        let r = if word & ON != 0 {
            // Set after the pointer was stored (release, read here through the RMW chain).
            let ptr = self.ptr.load(Ordering::Relaxed);
            // SAFETY: published and not freed before `unpublish` returns, which waits for this
            // handler (counted above, while the bit was set) to count itself out.
            (!ptr.is_null()).then(|| f(unsafe { &*ptr }))
        } else {
            None
        };
        self.word.fetch_sub(1, Ordering::Release);
        r
    }
}

#[cfg(all(test, holdup_loom))]
mod loom_tests {
    use super::Publication;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    struct Table {
        alive: UnsafeCell<bool>,
    }

    #[test]
    fn a_late_handler_never_uses_a_freed_table() {
        loom::model(|| {
            let p = Arc::new(Publication::<Table>::new());
            let table = Box::into_raw(Box::new(Table {
                alive: UnsafeCell::new(true),
            }));
            p.publish(table);
            let handlers: Vec<_> = (0..2)
                .map(|_| {
                    let p = p.clone();
                    loom::thread::spawn(move || {
                        // SAFETY (model): the publication orders this read before the free.
                        p.with(|t| t.alive.with(|a| assert!(unsafe { *a })));
                    })
                })
                .collect();
            p.unpublish();
            // SAFETY: created by Box::into_raw above; no handler can reach it after unpublish.
            let table = unsafe { Box::from_raw(table) };
            // SAFETY (model): the "free": ordered after every handler's use.
            table.alive.with_mut(|a| unsafe { *a = false });
            drop(table);
            for h in handlers {
                h.join().unwrap();
            }
        });
    }
}
