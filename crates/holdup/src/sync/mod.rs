//! Synchronization primitives: a mirror of [`std::sync`] whose waits feed the profiles.
//!
//! Migrating is a `use` swap: `use std::sync::{Arc, Mutex}` becomes
//! `use holdup::sync::{Arc, Mutex}`. Every type here has std's API, poisoning and auto traits;
//! the ones that can make a thread wait ([`Mutex`], [`RwLock`], [`Condvar`], [`Barrier`],
//! [`OnceLock`], [`LazyLock`], [`Once`], [`mpsc`]) are holdup's own wrappers, the rest
//! ([`Arc`], [`Weak`], [`atomic`], the result and error types) are std's, re-exported.
//!
//! Each wrapper records its creation site (`#[track_caller]` constructors, including `const fn
//! new` in a `static`, which gets the site at compile time) and reports it as the `lock` label.

pub(crate) mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
pub(crate) mod once;
mod rwlock;

pub use barrier::Barrier;
pub use condvar::Condvar;
pub use mutex::{Mutex, MutexGuard};
pub use once::{LazyLock, Once, OnceLock};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use std::sync::{
    Arc, BarrierWaitResult, LockResult, OnceState, PoisonError, TryLockError, TryLockResult,
    WaitTimeoutResult, Weak, atomic,
};

/// What a lock attempt made while spinning gives: the guard (or the poisoned lock's guard),
/// or `None` while the lock is still held.
fn taken<G>(attempt: TryLockResult<G>) -> Option<LockResult<G>> {
    match attempt {
        Ok(g) => Some(Ok(g)),
        Err(TryLockError::Poisoned(e)) => Some(Err(e)),
        Err(TryLockError::WouldBlock) => None,
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use std::mem::size_of;

    /// A profiled lock must not change a program's cache behaviour much: two words over std's,
    /// whatever it guards (issue 11's goal: `Mutex<u64>` within 32 bytes).
    #[test]
    fn a_profiled_lock_is_two_words_larger_than_stds() {
        assert_eq!(size_of::<super::Mutex<u64>>(), 32);
        assert_eq!(
            size_of::<super::Mutex<[u8; 64]>>(),
            size_of::<std::sync::Mutex<[u8; 64]>>() + 16
        );
        assert_eq!(
            size_of::<super::RwLock<u64>>(),
            size_of::<std::sync::RwLock<u64>>() + 16
        );
        assert_eq!(size_of::<super::Condvar>(), 16);
    }
}
