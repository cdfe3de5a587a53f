//! Any [`lock_api`] lock, profiled: [`Profiled<R>`] wraps a raw lock `R` and
//! implements the same raw traits, so that `lock_api::Mutex<Profiled<R>, T>` (and `RwLock`,
//! `ReentrantMutex`) feed the mutex and block profiles, show their holders in dumps, take part
//! in deadlock detection and appear in the execution trace, with all of `lock_api`'s API
//! (guards, mapped guards, `arc_lock`, fair unlocks, timed locks, upgradable reads).
//!
//! ```
//! use holdup::lock_api::Profiled;
//! use lock_api::RawMutex as _;
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! /// A hand-written spin lock.
//! struct RawSpinLock(AtomicBool);
//!
//! unsafe impl lock_api::RawMutex for RawSpinLock {
//!     const INIT: RawSpinLock = RawSpinLock(AtomicBool::new(false));
//!     type GuardMarker = lock_api::GuardSend;
//!     fn lock(&self) {
//!         while !self.try_lock() {
//!             std::hint::spin_loop();
//!         }
//!     }
//!     fn try_lock(&self) -> bool {
//!         self.0
//!             .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
//!             .is_ok()
//!     }
//!     unsafe fn unlock(&self) {
//!         self.0.store(false, Ordering::Release);
//!     }
//! }
//!
//! type SpinMutex<T> = lock_api::Mutex<Profiled<RawSpinLock>, T>;
//!
//! // `from_raw` with `Profiled::new` names the lock by this line in profiles.
//! let m: SpinMutex<u64> = lock_api::Mutex::from_raw(Profiled::new(RawSpinLock::INIT), 0);
//! *m.lock() += 1;
//! assert_eq!(*m.lock(), 1);
//! ```
//!
//! # What a raw lock can and cannot know
//!
//! - **The creation site.** `lock_api::Mutex::new` makes its raw lock from the constant
//!   `R::INIT`, where no caller exists: every lock made that way (`Mutex::new`, `const`
//!   statics, `Default`) is labelled with one line of this file ([`Profiled::INIT_SITE`]).
//!   Make the lock with `lock_api::Mutex::from_raw(Profiled::new(R::INIT), value)` (`const`,
//!   `#[track_caller]`) to get the line that makes it. The stacks of the events say where the
//!   lock was taken and released either way.
//! - **Whether the holder wrote.** `lock_api`'s guards give `&mut` without telling the raw
//!   lock, so mutex-profile events of a `Profiled` lock carry no `mutated` label.
//! - **Who holds it.** Exclusive holders (a mutex, a write lock, an upgradable read) are
//!   recorded as with std's mirror; shared readers are not.
//!
//! A timed lock that gives up (`try_lock_for`) blocked all the same: its wait is a block event
//! with the lock's kind, like an acquisition's, and the execution trace shows it `cancelled`.

use std::fmt;
use std::num::NonZeroUsize;
use std::panic::Location;

use ::lock_api::{
    GetThreadId, RawMutex, RawMutexFair, RawMutexTimed, RawRwLock, RawRwLockDowngrade,
    RawRwLockFair, RawRwLockRecursive, RawRwLockRecursiveTimed, RawRwLockTimed, RawRwLockUpgrade,
    RawRwLockUpgradeDowngrade, RawRwLockUpgradeFair, RawRwLockUpgradeTimed,
};
use holdup_core::{Kind, Site};

use crate::hook::{self, Access, LockMeta};

/// A raw lock `R`, profiled: implements each of `lock_api`'s raw lock traits that `R` does.
/// See the [module docs](self).
pub struct Profiled<R> {
    meta: LockMeta,
    raw: R,
}

impl<R> Profiled<R> {
    /// `raw`, profiled; the caller's location names the lock in profiles (the `lock` label).
    #[track_caller]
    #[inline]
    pub const fn new(raw: R) -> Profiled<R> {
        Profiled {
            meta: LockMeta::new(),
            raw,
        }
    }

    /// The raw lock underneath. Locking or unlocking it directly bypasses the profiles.
    pub fn inner(&self) -> &R {
        &self.raw
    }

    /// Records the calling thread as the lock's exclusive holder (after a downgrade to an
    /// upgradable hold, which a release cleared).
    pub(crate) fn set_holder(&self) {
        self.meta.set_holder();
    }

    /// Whether profiled waiters wait for the lock now.
    pub(crate) fn has_profiled_waiters(&self) -> bool {
        self.meta.has_waiters()
    }

    /// Where the lock was created (for a lock made from `INIT`, [`INIT_SITE`](Self::INIT_SITE)).
    pub fn site(&self) -> Site {
        self.meta.site()
    }

    /// The creation site of every lock made from `INIT` (`lock_api::Mutex::new`): a line of
    /// holdup's, since a constant has no caller.
    pub const INIT_SITE: Site = Location::caller();

    /// Waits for the lock after its fast path failed: spins (see [`spin`](Self::spin)), then
    /// blocks in `lock`, timed and published as a wait of `kind`.
    #[cold]
    #[inline(never)]
    fn wait(&self, kind: Kind, attempt: impl Fn(&R) -> bool, lock: impl FnOnce(&R)) {
        if Self::spin(|| attempt(&self.raw)) {
            return;
        }
        let wait = hook::contended(&self.meta, kind);
        lock(&self.raw);
        hook::acquired(wait);
    }

    /// Tries `attempt` after each of 10 spins of 2, 4, 8, 16, 32, then 64 pauses (about 380 in
    /// all, a few microseconds); true once it succeeds. An acquisition won here was not waited
    /// for (Go's rule, as in std's mirror), so it is neither published nor timed. Trying only
    /// between spins, rather than watching the holder word as std's mirror does, leaves the
    /// lock's cache line to its holder: with std's mirror's spin (100 pauses watching the holder
    /// word), 2 threads taking a parking_lot mutex for tens of nanoseconds ran at 0.54 of
    /// parking_lot's throughput; with this one, at 0.92–1.01 (`holdup-bench parking-lot`).
    /// parking_lot's own `SpinWait` yields the thread after its first three spins; this does
    /// not, so that a loaded machine cannot stretch the part of a wait that is not counted.
    fn spin(attempt: impl Fn() -> bool) -> bool {
        for round in 0..10u32 {
            for _ in 0..(2u32 << round.min(5)) {
                std::hint::spin_loop();
            }
            if attempt() {
                return true;
            }
        }
        false
    }

    /// A timed attempt after the fast path failed: a wait of `kind` that may give up.
    #[cold]
    #[inline(never)]
    fn wait_timed(&self, kind: Kind, lock: impl FnOnce(&R) -> bool) -> bool {
        let wait = hook::contended(&self.meta, kind);
        let acquired = lock(&self.raw);
        if acquired {
            hook::acquired(wait);
        } else {
            hook::gave_up(wait);
        }
        acquired
    }

    /// Acquires as exclusive holder: `attempt` first, then `lock` as a wait.
    #[inline]
    fn exclusive(&self, kind: Kind, attempt: impl Fn(&R) -> bool, lock: impl FnOnce(&R)) {
        self.shared(kind, attempt, lock);
        self.meta.set_holder();
    }

    /// A timed exclusive acquisition.
    #[inline]
    fn exclusive_timed(
        &self,
        kind: Kind,
        attempt: impl Fn(&R) -> bool,
        lock: impl FnOnce(&R) -> bool,
    ) -> bool {
        let acquired = attempt(&self.raw) || self.wait_timed(kind, lock);
        if acquired {
            self.meta.set_holder();
        }
        acquired
    }

    /// An exclusive try: the holder is recorded if it succeeds.
    #[inline]
    fn try_exclusive(&self, attempt: impl FnOnce(&R) -> bool) -> bool {
        let acquired = attempt(&self.raw);
        if acquired {
            self.meta.set_holder();
        }
        acquired
    }

    /// A shared acquisition (no holder recorded): `attempt` first, then `lock` as a wait.
    #[inline]
    fn shared(&self, kind: Kind, attempt: impl Fn(&R) -> bool, lock: impl FnOnce(&R)) {
        if !attempt(&self.raw) {
            self.wait(kind, attempt, lock);
        }
    }

    /// Releases through the profiles' release hook (`access` says how it was held).
    #[inline(always)]
    pub(crate) fn release(&self, kind: Kind, access: Access, unlock: impl FnOnce(&R)) {
        hook::release(&self.meta, kind, access, || unlock(&self.raw));
    }

    /// Lets waiters in and takes the lock back (a `bump`): through the release and acquisition
    /// hooks when profiled waiters wait, else `R`'s own (which is cheap when nobody waits).
    #[inline]
    pub(crate) fn bump_with(
        &self,
        unlock_fair: impl FnOnce(&Self),
        lock: impl FnOnce(&Self),
        bump: impl FnOnce(&R),
    ) {
        if self.meta.has_waiters() {
            unlock_fair(self);
            lock(self);
        } else {
            bump(&self.raw);
        }
    }
}

impl<R> fmt::Debug for Profiled<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiled")
            .field("site", &self.meta.site())
            .finish_non_exhaustive()
    }
}

// SAFETY: every method delegates to `R`'s (only adding profiling around it), so `Profiled<R>`
// excludes exactly as `R` does.
unsafe impl<R: RawMutex> RawMutex for Profiled<R> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Profiled<R> = Profiled {
        meta: LockMeta::new_at(Profiled::<R>::INIT_SITE),
        raw: R::INIT,
    };

    type GuardMarker = R::GuardMarker;

    #[inline]
    fn lock(&self) {
        self.exclusive(Kind::Mutex, R::try_lock, R::lock);
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.try_exclusive(R::try_lock)
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (this method's contract), as `R::unlock` requires.
        self.release(Kind::Mutex, Access::Unmarked, |r| unsafe { r.unlock() });
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawMutexFair> RawMutexFair for Profiled<R> {
    #[inline]
    unsafe fn unlock_fair(&self) {
        // SAFETY: the caller holds the lock.
        self.release(Kind::Mutex, Access::Unmarked, |r| unsafe {
            r.unlock_fair()
        });
    }

    #[inline]
    unsafe fn bump(&self) {
        self.bump_with(
            // SAFETY: the caller holds the lock.
            |p| unsafe { p.unlock_fair() },
            |p| p.lock(),
            // SAFETY: the caller holds the lock.
            |r| unsafe { r.bump() },
        );
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawMutexTimed> RawMutexTimed for Profiled<R> {
    type Duration = R::Duration;
    type Instant = R::Instant;

    fn try_lock_for(&self, timeout: R::Duration) -> bool {
        self.exclusive_timed(Kind::Mutex, R::try_lock, |r| r.try_lock_for(timeout))
    }

    fn try_lock_until(&self, timeout: R::Instant) -> bool {
        self.exclusive_timed(Kind::Mutex, R::try_lock, |r| r.try_lock_until(timeout))
    }
}

// SAFETY: a thread id source only: `Profiled<G>` gives `G`'s ids unchanged.
unsafe impl<G: GetThreadId> GetThreadId for Profiled<G> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Profiled<G> = Profiled {
        meta: LockMeta::new_at(Profiled::<G>::INIT_SITE),
        raw: G::INIT,
    };

    fn nonzero_thread_id(&self) -> NonZeroUsize {
        self.raw.nonzero_thread_id()
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLock> RawRwLock for Profiled<R> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Profiled<R> = Profiled {
        meta: LockMeta::new_at(Profiled::<R>::INIT_SITE),
        raw: R::INIT,
    };

    type GuardMarker = R::GuardMarker;

    #[inline]
    fn lock_shared(&self) {
        self.shared(Kind::RwLockRead, R::try_lock_shared, R::lock_shared);
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.raw.try_lock_shared()
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: the caller holds a shared lock.
        self.release(Kind::RwLockRead, Access::Shared, |r| unsafe {
            r.unlock_shared()
        });
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.exclusive(Kind::RwLockWrite, R::try_lock_exclusive, R::lock_exclusive);
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.try_exclusive(R::try_lock_exclusive)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // SAFETY: the caller holds the exclusive lock.
        self.release(Kind::RwLockWrite, Access::Unmarked, |r| unsafe {
            r.unlock_exclusive()
        });
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockFair> RawRwLockFair for Profiled<R> {
    #[inline]
    unsafe fn unlock_shared_fair(&self) {
        // SAFETY: the caller holds a shared lock.
        self.release(Kind::RwLockRead, Access::Shared, |r| unsafe {
            r.unlock_shared_fair()
        });
    }

    #[inline]
    unsafe fn unlock_exclusive_fair(&self) {
        // SAFETY: the caller holds the exclusive lock.
        self.release(Kind::RwLockWrite, Access::Unmarked, |r| unsafe {
            r.unlock_exclusive_fair()
        });
    }

    #[inline]
    unsafe fn bump_shared(&self) {
        self.bump_with(
            // SAFETY: the caller holds a shared lock.
            |p| unsafe { p.unlock_shared_fair() },
            |p| p.lock_shared(),
            // SAFETY: the caller holds a shared lock.
            |r| unsafe { r.bump_shared() },
        );
    }

    #[inline]
    unsafe fn bump_exclusive(&self) {
        self.bump_with(
            // SAFETY: the caller holds the exclusive lock.
            |p| unsafe { p.unlock_exclusive_fair() },
            |p| p.lock_exclusive(),
            // SAFETY: the caller holds the exclusive lock.
            |r| unsafe { r.bump_exclusive() },
        );
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockDowngrade> RawRwLockDowngrade for Profiled<R> {
    #[inline]
    unsafe fn downgrade(&self) {
        // Readers may come in: the exclusive part of the hold ends here.
        // SAFETY: the caller holds the exclusive lock.
        self.release(Kind::RwLockWrite, Access::Unmarked, |r| unsafe {
            r.downgrade()
        });
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockTimed> RawRwLockTimed for Profiled<R> {
    type Duration = R::Duration;
    type Instant = R::Instant;

    fn try_lock_shared_for(&self, timeout: R::Duration) -> bool {
        self.raw.try_lock_shared()
            || self.wait_timed(Kind::RwLockRead, |r| r.try_lock_shared_for(timeout))
    }

    fn try_lock_shared_until(&self, timeout: R::Instant) -> bool {
        self.raw.try_lock_shared()
            || self.wait_timed(Kind::RwLockRead, |r| r.try_lock_shared_until(timeout))
    }

    fn try_lock_exclusive_for(&self, timeout: R::Duration) -> bool {
        self.exclusive_timed(Kind::RwLockWrite, R::try_lock_exclusive, |r| {
            r.try_lock_exclusive_for(timeout)
        })
    }

    fn try_lock_exclusive_until(&self, timeout: R::Instant) -> bool {
        self.exclusive_timed(Kind::RwLockWrite, R::try_lock_exclusive, |r| {
            r.try_lock_exclusive_until(timeout)
        })
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockRecursive> RawRwLockRecursive for Profiled<R> {
    #[inline]
    fn lock_shared_recursive(&self) {
        self.shared(
            Kind::RwLockRead,
            R::try_lock_shared_recursive,
            R::lock_shared_recursive,
        );
    }

    #[inline]
    fn try_lock_shared_recursive(&self) -> bool {
        self.raw.try_lock_shared_recursive()
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockRecursiveTimed> RawRwLockRecursiveTimed for Profiled<R> {
    fn try_lock_shared_recursive_for(&self, timeout: R::Duration) -> bool {
        self.raw.try_lock_shared_recursive()
            || self.wait_timed(Kind::RwLockRead, |r| {
                r.try_lock_shared_recursive_for(timeout)
            })
    }

    fn try_lock_shared_recursive_until(&self, timeout: R::Instant) -> bool {
        self.raw.try_lock_shared_recursive()
            || self.wait_timed(Kind::RwLockRead, |r| {
                r.try_lock_shared_recursive_until(timeout)
            })
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockUpgrade> RawRwLockUpgrade for Profiled<R> {
    #[inline]
    fn lock_upgradable(&self) {
        self.exclusive(
            Kind::RwLockUpgradable,
            R::try_lock_upgradable,
            R::lock_upgradable,
        );
    }

    #[inline]
    fn try_lock_upgradable(&self) -> bool {
        self.try_exclusive(R::try_lock_upgradable)
    }

    #[inline]
    unsafe fn unlock_upgradable(&self) {
        // SAFETY: the caller holds the upgradable lock.
        self.release(Kind::RwLockUpgradable, Access::Unmarked, |r| unsafe {
            r.unlock_upgradable()
        });
    }

    #[inline]
    unsafe fn upgrade(&self) {
        // SAFETY: the caller holds the upgradable lock.
        if !unsafe { self.raw.try_upgrade() } {
            self.upgrade_wait();
        }
    }

    #[inline]
    unsafe fn try_upgrade(&self) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        unsafe { self.raw.try_upgrade() }
    }
}

impl<R: RawRwLockUpgrade> Profiled<R> {
    /// An upgrade waits for the readers to leave, not for a holder: the holder word is cleared
    /// meanwhile, so that a dump does not see this thread wait for itself.
    #[cold]
    #[inline(never)]
    fn upgrade_wait(&self) {
        self.meta.clear_holder();
        let wait = hook::contended(&self.meta, Kind::RwLockWrite);
        // SAFETY: the caller of `upgrade` holds the upgradable lock.
        unsafe { self.raw.upgrade() };
        hook::acquired(wait);
        self.meta.set_holder();
    }

    /// As `upgrade_wait`, with a timeout.
    #[cold]
    #[inline(never)]
    fn upgrade_wait_timed(&self, upgrade: impl FnOnce(&R) -> bool) -> bool {
        self.meta.clear_holder();
        let upgraded = self.wait_timed(Kind::RwLockWrite, upgrade);
        self.meta.set_holder();
        upgraded
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockUpgradeFair> RawRwLockUpgradeFair for Profiled<R> {
    #[inline]
    unsafe fn unlock_upgradable_fair(&self) {
        // SAFETY: the caller holds the upgradable lock.
        self.release(Kind::RwLockUpgradable, Access::Unmarked, |r| unsafe {
            r.unlock_upgradable_fair()
        });
    }

    #[inline]
    unsafe fn bump_upgradable(&self) {
        self.bump_with(
            // SAFETY: the caller holds the upgradable lock.
            |p| unsafe { p.unlock_upgradable_fair() },
            |p| p.lock_upgradable(),
            // SAFETY: the caller holds the upgradable lock.
            |r| unsafe { r.bump_upgradable() },
        );
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockUpgradeDowngrade> RawRwLockUpgradeDowngrade for Profiled<R> {
    #[inline]
    unsafe fn downgrade_upgradable(&self) {
        // SAFETY: the caller holds the upgradable lock.
        self.release(Kind::RwLockUpgradable, Access::Unmarked, |r| unsafe {
            r.downgrade_upgradable()
        });
    }

    #[inline]
    unsafe fn downgrade_to_upgradable(&self) {
        // Readers may come in; this thread stays the (upgradable) holder.
        // SAFETY: the caller holds the exclusive lock.
        self.release(Kind::RwLockWrite, Access::Unmarked, |r| unsafe {
            r.downgrade_to_upgradable()
        });
        self.meta.set_holder();
    }
}

// SAFETY: as for `RawMutex`.
unsafe impl<R: RawRwLockUpgradeTimed> RawRwLockUpgradeTimed for Profiled<R> {
    fn try_lock_upgradable_for(&self, timeout: R::Duration) -> bool {
        self.exclusive_timed(Kind::RwLockUpgradable, R::try_lock_upgradable, |r| {
            r.try_lock_upgradable_for(timeout)
        })
    }

    fn try_lock_upgradable_until(&self, timeout: R::Instant) -> bool {
        self.exclusive_timed(Kind::RwLockUpgradable, R::try_lock_upgradable, |r| {
            r.try_lock_upgradable_until(timeout)
        })
    }

    unsafe fn try_upgrade_for(&self, timeout: R::Duration) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        let upgraded = unsafe { self.raw.try_upgrade() };
        // SAFETY: as above.
        upgraded || self.upgrade_wait_timed(|r| unsafe { r.try_upgrade_for(timeout) })
    }

    unsafe fn try_upgrade_until(&self, timeout: R::Instant) -> bool {
        // SAFETY: the caller holds the upgradable lock.
        let upgraded = unsafe { self.raw.try_upgrade() };
        // SAFETY: as above.
        upgraded || self.upgrade_wait_timed(|r| unsafe { r.try_upgrade_until(timeout) })
    }
}
