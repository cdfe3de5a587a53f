//! parking_lot's locks, profiled: a mirror of [`parking_lot`]'s types whose waits feed the
//! mutex and block profiles, show in dumps and in the execution trace (feature `parking_lot`).
//!
//! Migrating is a `use` swap: `use ::parking_lot::{Mutex, RwLock, Condvar}` becomes
//! `use holdup::parking_lot::{Mutex, RwLock, Condvar}`. The types keep parking_lot's API (no
//! poisoning, `const fn new`, fair unlocks, timed locks, upgradable reads, mapped guards) and
//! its auto traits; underneath are parking_lot's own raw locks, each in holdup's
//! [`Profiled`](crate::lock_api::Profiled) (the raw lock beside its creation site and holder),
//! so a profiled `Mutex<u64>` is 32 bytes against parking_lot's 16.
//!
//! What each records, with std's mirror's semantics and labels:
//! - **Mutexes and write locks**: a contended acquisition spins as std's mirror does, then its
//!   wait is a block event on the waiter's stack (`kind=mutex`, `rwlock-write`); the critical
//!   section that made others wait is charged at its unlock on the holder's stack, with the
//!   `mutated` label (whether `&mut` was taken through the guard). Fair unlocks (`unlock_fair`,
//!   `bump`, every [`FairMutex`] unlock) are recorded like any other.
//! - **Read and upgradable locks**: waits are block events (`rwlock-read`,
//!   `rwlock-upgradable`); an upgradable holder is recorded as the holder (it excludes writers
//!   and other upgradable readers), readers are not; an `upgrade` that waits for readers to
//!   leave is an `rwlock-write` wait.
//! - **Timed locks** (`try_lock_for`, ...) that time out blocked all the same: their wait is a
//!   block event of the lock's kind, and the execution trace shows it `cancelled`.
//! - [`Condvar`] waits (`condvar`) and [`Once`] waits for another thread's closure (`once`).
//!
//! # Compared with parking_lot's `deadlock_detection`
//!
//! parking_lot's experimental `deadlock_detection` feature keeps, for every thread, the locks
//! it holds (a push and a pop per lock and unlock, on every lock in the program, always on) and
//! `check_deadlock()` locks every bucket of its parking table to build the wait-for graph: it
//! sees only threads parked inside parking_lot and ignores timed waits. holdup records only the
//! exclusive holder (one store into the lock) and finds cycles when a dump is taken
//! ([`dump::threads`](crate::dump::threads), the [`Watchdog`](crate::dump::Watchdog)), across
//! parking_lot's, std's and tokio's mirrors and tasks, naming each lock by its creation site;
//! it does not see readers (a cycle through a read lock shows its holders as `readers`).

mod condvar;
mod mutex;
mod once;
mod remutex;
mod rwlock;

pub use ::parking_lot::{RawFairMutex, RawMutex, RawRwLock, RawThreadId};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{
    ArcMutexGuard, FairMutex, FairMutexGuard, MappedFairMutexGuard, MappedMutexGuard, Mutex,
    MutexGuard, ProfiledMappedMutexGuard, ProfiledMutex, ProfiledMutexGuard, const_fair_mutex,
    const_mutex,
};
pub use once::{Once, OnceState};
pub use remutex::{
    ArcReentrantMutexGuard, MappedReentrantMutexGuard, ReentrantMutex, ReentrantMutexGuard,
    const_reentrant_mutex, reentrant_mutex,
};
pub use rwlock::{
    ArcRwLockReadGuard, ArcRwLockUpgradableReadGuard, ArcRwLockWriteGuard, MappedRwLockReadGuard,
    MappedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
    const_rwlock,
};

/// Runs its closure when dropped: a lock taken back after a guard's `unlocked`, also if the
/// caller's closure panics.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use std::mem::size_of;

    /// Two words over parking_lot's, like std's mirror over std's.
    #[test]
    fn a_profiled_lock_is_two_words_larger_than_parking_lots() {
        assert_eq!(size_of::<super::Mutex<u64>>(), 32);
        assert_eq!(size_of::<::parking_lot::Mutex<u64>>(), 16);
        assert_eq!(size_of::<super::FairMutex<u64>>(), 32);
        // parking_lot's raw lock is one byte: beside the two words, it is padded to a third.
        assert_eq!(size_of::<super::FairMutex<[u8; 64]>>(), 24 + 64);
        assert_eq!(size_of::<super::RwLock<u64>>(), 32);
        assert_eq!(size_of::<::parking_lot::RwLock<u64>>(), 16);
    }
}
