use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::lock_api::{
    RawRwLock as _, RawRwLockDowngrade as _, RawRwLockFair as _, RawRwLockRecursive as _,
    RawRwLockRecursiveTimed as _, RawRwLockTimed as _, RawRwLockUpgrade as _,
    RawRwLockUpgradeDowngrade as _, RawRwLockUpgradeFair as _, RawRwLockUpgradeTimed as _,
};
use holdup_core::Kind;

use super::OnDrop;
use crate::hook::Access;
use crate::lock_api::Profiled;

type Raw = Profiled<::parking_lot::RawRwLock>;
type Marker = <::parking_lot::RawRwLock as ::lock_api::RawRwLock>::GuardMarker;

/// A reader-writer lock, a drop-in replacement for [`parking_lot::RwLock`] that feeds the
/// mutex and block profiles; see the [module docs](super).
///
/// ```
/// use holdup::parking_lot::{RwLock, RwLockUpgradableReadGuard};
///
/// let lock = RwLock::new(5);
/// {
///     let (a, b) = (lock.read(), lock.read());
///     assert_eq!(*a + *b, 10);
/// }
/// let up = lock.upgradable_read();
/// let mut w = RwLockUpgradableReadGuard::upgrade(up);
/// *w += 1;
/// drop(w);
/// assert_eq!(*lock.read(), 6);
/// ```
#[repr(transparent)]
pub struct RwLock<T: ?Sized> {
    inner: ::lock_api::RwLock<Raw, T>,
}

/// A new [`RwLock`], in a `const` context (as [`parking_lot::const_rwlock`]).
#[track_caller]
pub const fn const_rwlock<T>(val: T) -> RwLock<T> {
    RwLock::new(val)
}

impl<T> RwLock<T> {
    /// A new unlocked lock; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(val: T) -> RwLock<T> {
        RwLock {
            inner: ::lock_api::RwLock::from_raw(
                Profiled::new(<::parking_lot::RawRwLock as ::lock_api::RawRwLock>::INIT),
                val,
            ),
        }
    }

    /// Consumes the lock and returns the data.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    #[inline]
    fn raw(&self) -> &Raw {
        // SAFETY: unsafe only because unlocking through it could break a guard's exclusivity;
        // holdup unlocks only what its guards hold.
        unsafe { self.inner.raw() }
    }

    #[inline]
    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            lock: self,
            marker: PhantomData,
        }
    }

    #[inline]
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            lock: self,
            written: false,
            marker: PhantomData,
        }
    }

    #[inline]
    fn upgradable_guard(&self) -> RwLockUpgradableReadGuard<'_, T> {
        RwLockUpgradableReadGuard {
            lock: self,
            marker: PhantomData,
        }
    }

    /// Locks for reading, blocking while a writer holds or waits for it.
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw().lock_shared();
        self.read_guard()
    }

    /// Locks for reading if that can be done at once.
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw().try_lock_shared().then(|| self.read_guard())
    }

    /// Locks for reading, waiting at most `timeout`.
    #[inline]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.raw()
            .try_lock_shared_for(timeout)
            .then(|| self.read_guard())
    }

    /// Locks for reading, waiting until `timeout` at most.
    #[inline]
    pub fn try_read_until(&self, timeout: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.raw()
            .try_lock_shared_until(timeout)
            .then(|| self.read_guard())
    }

    /// Locks for reading even if a writer waits (a thread that already reads may read again
    /// without deadlocking), as [`lock_api::RwLock::read_recursive`].
    #[inline]
    pub fn read_recursive(&self) -> RwLockReadGuard<'_, T> {
        self.raw().lock_shared_recursive();
        self.read_guard()
    }

    /// As [`read_recursive`](Self::read_recursive), if that can be done at once.
    #[inline]
    pub fn try_read_recursive(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw()
            .try_lock_shared_recursive()
            .then(|| self.read_guard())
    }

    /// As [`read_recursive`](Self::read_recursive), waiting at most `timeout`.
    #[inline]
    pub fn try_read_recursive_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.raw()
            .try_lock_shared_recursive_for(timeout)
            .then(|| self.read_guard())
    }

    /// As [`read_recursive`](Self::read_recursive), waiting until `timeout` at most.
    #[inline]
    pub fn try_read_recursive_until(&self, timeout: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.raw()
            .try_lock_shared_recursive_until(timeout)
            .then(|| self.read_guard())
    }

    /// Locks for writing, blocking while anyone else holds it.
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw().lock_exclusive();
        self.write_guard()
    }

    /// Locks for writing if that can be done at once.
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw().try_lock_exclusive().then(|| self.write_guard())
    }

    /// Locks for writing, waiting at most `timeout`.
    #[inline]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw()
            .try_lock_exclusive_for(timeout)
            .then(|| self.write_guard())
    }

    /// Locks for writing, waiting until `timeout` at most.
    #[inline]
    pub fn try_write_until(&self, timeout: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw()
            .try_lock_exclusive_until(timeout)
            .then(|| self.write_guard())
    }

    /// Locks for an upgradable read: shared with readers, exclusive of writers and other
    /// upgradable readers.
    #[inline]
    pub fn upgradable_read(&self) -> RwLockUpgradableReadGuard<'_, T> {
        self.raw().lock_upgradable();
        self.upgradable_guard()
    }

    /// As [`upgradable_read`](Self::upgradable_read), if that can be done at once.
    #[inline]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.raw()
            .try_lock_upgradable()
            .then(|| self.upgradable_guard())
    }

    /// As [`upgradable_read`](Self::upgradable_read), waiting at most `timeout`.
    #[inline]
    pub fn try_upgradable_read_for(
        &self,
        timeout: Duration,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.raw()
            .try_lock_upgradable_for(timeout)
            .then(|| self.upgradable_guard())
    }

    /// As [`upgradable_read`](Self::upgradable_read), waiting until `timeout` at most.
    #[inline]
    pub fn try_upgradable_read_until(
        &self,
        timeout: Instant,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.raw()
            .try_lock_upgradable_until(timeout)
            .then(|| self.upgradable_guard())
    }

    /// A mutable reference to the data (no locking needed).
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Whether anyone holds the lock now.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Whether a writer holds the lock now.
    #[inline]
    pub fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }

    /// A raw pointer to the data.
    #[inline]
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }

    /// A read guard for a lock the caller already holds for reading.
    ///
    /// # Safety
    ///
    /// The lock is held for reading by the caller, and that hold has no other guard.
    #[inline]
    pub unsafe fn make_read_guard_unchecked(&self) -> RwLockReadGuard<'_, T> {
        self.read_guard()
    }

    /// A write guard for a lock the caller already holds for writing.
    ///
    /// # Safety
    ///
    /// The lock is held for writing by the caller, and no guard for it exists.
    #[inline]
    pub unsafe fn make_write_guard_unchecked(&self) -> RwLockWriteGuard<'_, T> {
        self.write_guard()
    }

    /// An upgradable guard for a lock the caller already holds that way.
    ///
    /// # Safety
    ///
    /// The lock is held upgradably by the caller, and no guard for it exists.
    #[inline]
    pub unsafe fn make_upgradable_guard_unchecked(&self) -> RwLockUpgradableReadGuard<'_, T> {
        self.upgradable_guard()
    }

    /// Releases a read hold whose guard was forgotten.
    ///
    /// # Safety
    ///
    /// The lock is held for reading, by a forgotten guard.
    #[inline]
    pub unsafe fn force_unlock_read(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.raw().unlock_shared() };
    }

    /// Releases a write hold whose guard was forgotten.
    ///
    /// # Safety
    ///
    /// The lock is held for writing, by a forgotten guard.
    #[inline]
    pub unsafe fn force_unlock_write(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.raw().unlock_exclusive() };
    }

    /// As [`force_unlock_read`](Self::force_unlock_read), fairly.
    ///
    /// # Safety
    ///
    /// As `force_unlock_read`.
    #[inline]
    pub unsafe fn force_unlock_read_fair(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.raw().unlock_shared_fair() };
    }

    /// As [`force_unlock_write`](Self::force_unlock_write), fairly.
    ///
    /// # Safety
    ///
    /// As `force_unlock_write`.
    #[inline]
    pub unsafe fn force_unlock_write_fair(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.raw().unlock_exclusive_fair() };
    }

    /// The raw lock (holdup's [`Profiled`] around parking_lot's).
    ///
    /// # Safety
    ///
    /// Unlocking it while a guard exists breaks the guard's exclusivity.
    #[inline]
    pub unsafe fn raw_lock(&self) -> &Profiled<::parking_lot::RawRwLock> {
        self.raw()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // lock_api's only tries a read lock: it never blocks and records nothing.
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// A read hold of an [`RwLock`]. Mirrors [`parking_lot::RwLockReadGuard`].
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    marker: PhantomData<(&'a T, Marker)>,
}

// SAFETY: sharing a read guard shares `&T` (and the `Sync` raw lock), as lock_api's.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized + 'a> RwLockReadGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// A guard for part of the data.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        // The same path as `try_map_or_err`, with an error that cannot happen.
        match Self::try_map_or_err(s, |t| Ok::<_, std::convert::Infallible>(f(t))) {
            Ok(mapped) => mapped,
            Err((_, never)) => match never {},
        }
    }

    /// As [`map`](Self::map), or the guard back if `f` gives `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        Self::try_map_or_err(s, |t| f(t).ok_or(())).map_err(|(s, ())| s)
    }

    /// As [`map`](Self::map), or the guard back with `f`'s error.
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<MappedRwLockReadGuard<'a, U>, (Self, E)>
    where
        F: FnOnce(&T) -> Result<&U, E>,
    {
        let raw = s.lock.raw();
        // SAFETY: a read hold: shared access.
        let data: *const U = match f(unsafe { &*s.lock.data_ptr() }) {
            Ok(data) => data,
            Err(e) => return Err((s, e)),
        };
        std::mem::forget(s);
        Ok(MappedRwLockReadGuard {
            raw,
            data,
            marker: PhantomData,
        })
    }

    /// Runs `f` with the lock released, then reads again.
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        // SAFETY: the guard holds a read lock.
        unsafe { s.lock.raw().unlock_shared() };
        let _relock = OnDrop(|| s.lock.raw().lock_shared());
        f()
    }

    /// Releases fairly: a waiting thread gets the lock first.
    pub fn unlock_fair(s: Self) {
        // SAFETY: the guard holds a read lock.
        unsafe { s.lock.raw().unlock_shared_fair() };
        std::mem::forget(s);
    }

    /// As [`unlocked`](Self::unlocked), releasing fairly.
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        // SAFETY: the guard holds a read lock.
        unsafe { s.lock.raw().unlock_shared_fair() };
        let _relock = OnDrop(|| s.lock.raw().lock_shared());
        f()
    }

    /// Lets a waiting writer have the lock, if one waits, and reads again.
    pub fn bump(s: &mut Self) {
        // SAFETY: the guard holds a read lock.
        unsafe { s.lock.raw().bump_shared() };
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read hold: shared access.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds a read lock, and is not used after this.
        unsafe { self.lock.raw().unlock_shared() };
    }
}

/// A write hold of an [`RwLock`]. Mirrors [`parking_lot::RwLockWriteGuard`]; remembers
/// whether `&mut` was taken through it (the `mutated` label).
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    written: bool,
    marker: PhantomData<(&'a mut T, Marker)>,
}

// SAFETY: sharing a write guard shares `&T` (and the `Sync` raw lock), as lock_api's.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized + 'a> RwLockWriteGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    fn access(&self) -> Access {
        Access::Exclusive {
            written: self.written,
        }
    }

    /// A guard for part of the data.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        // The same path as `try_map_or_err`, with an error that cannot happen.
        match Self::try_map_or_err(s, |t| Ok::<_, std::convert::Infallible>(f(t))) {
            Ok(mapped) => mapped,
            Err((_, never)) => match never {},
        }
    }

    /// As [`map`](Self::map), or the guard back if `f` gives `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        Self::try_map_or_err(s, |t| f(t).ok_or(())).map_err(|(s, ())| s)
    }

    /// As [`map`](Self::map), or the guard back with `f`'s error.
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, (Self, E)>
    where
        F: FnOnce(&mut T) -> Result<&mut U, E>,
    {
        let (raw, written) = (s.lock.raw(), s.written);
        // SAFETY: a write hold: exclusive access.
        let data: *mut U = match f(unsafe { &mut *s.lock.data_ptr() }) {
            Ok(data) => data,
            Err(e) => return Err((s, e)),
        };
        std::mem::forget(s);
        Ok(MappedRwLockWriteGuard {
            raw,
            data,
            written,
            marker: PhantomData,
        })
    }

    /// Runs `f` with the lock released, then writes again.
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.unlock_exclusive() }
        });
        s.written = false;
        let lock = s.lock;
        let _relock = OnDrop(|| lock.raw().lock_exclusive());
        f()
    }

    /// Turns the write hold into a read hold, letting other readers in, without a moment
    /// unlocked.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let lock = s.lock;
        lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.downgrade() }
        });
        std::mem::forget(s);
        lock.read_guard()
    }

    /// Turns the write hold into an upgradable read hold.
    pub fn downgrade_to_upgradable(s: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let lock = s.lock;
        lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.downgrade_to_upgradable() }
        });
        std::mem::forget(s);
        // Still this thread's, upgradably: the holder the release cleared.
        lock.raw().set_holder();
        lock.upgradable_guard()
    }

    /// Releases fairly: a waiting thread gets the lock first.
    pub fn unlock_fair(s: Self) {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.unlock_exclusive_fair() }
        });
        std::mem::forget(s);
    }

    /// As [`unlocked`](Self::unlocked), releasing fairly.
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.unlock_exclusive_fair() }
        });
        s.written = false;
        let lock = s.lock;
        let _relock = OnDrop(|| lock.raw().lock_exclusive());
        f()
    }

    /// Lets a waiting thread have the lock, if one waits, and writes again.
    pub fn bump(s: &mut Self) {
        if s.lock.raw().has_profiled_waiters() {
            Self::unlocked_fair(s, || ());
        } else {
            // SAFETY: the guard holds the write lock.
            unsafe { s.lock.raw().inner().bump_exclusive() };
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a write hold: exclusive access.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        // SAFETY: a write hold, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock
            .raw()
            .release(Kind::RwLockWrite, self.access(), |r| {
                // SAFETY: the guard holds the write lock, and is not used after this.
                unsafe { r.unlock_exclusive() }
            });
    }
}

/// An upgradable read hold of an [`RwLock`]. Mirrors
/// [`parking_lot::RwLockUpgradableReadGuard`].
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    marker: PhantomData<(&'a T, Marker)>,
}

// SAFETY: sharing it shares `&T` (and the `Sync` raw lock), as lock_api's.
unsafe impl<T: ?Sized + Sync> Sync for RwLockUpgradableReadGuard<'_, T> {}

impl<'a, T: ?Sized + 'a> RwLockUpgradableReadGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Runs `f` with the lock released, then takes it upgradably again.
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().unlock_upgradable() };
        let _relock = OnDrop(|| s.lock.raw().lock_upgradable());
        f()
    }

    /// Upgrades to a write hold, waiting for the readers to leave (an `rwlock-write` wait).
    pub fn upgrade(s: Self) -> RwLockWriteGuard<'a, T> {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().upgrade() };
        let lock = s.lock;
        std::mem::forget(s);
        lock.write_guard()
    }

    /// Upgrades if no reader holds the lock, else gives the guard back.
    pub fn try_upgrade(s: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { s.lock.raw().try_upgrade() } {
            let lock = s.lock;
            std::mem::forget(s);
            Ok(lock.write_guard())
        } else {
            Err(s)
        }
    }

    /// Upgrades, waiting at most `timeout` for the readers to leave.
    pub fn try_upgrade_for(s: Self, timeout: Duration) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { s.lock.raw().try_upgrade_for(timeout) } {
            let lock = s.lock;
            std::mem::forget(s);
            Ok(lock.write_guard())
        } else {
            Err(s)
        }
    }

    /// Upgrades, waiting until `timeout` at most for the readers to leave.
    pub fn try_upgrade_until(s: Self, timeout: Instant) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { s.lock.raw().try_upgrade_until(timeout) } {
            let lock = s.lock;
            std::mem::forget(s);
            Ok(lock.write_guard())
        } else {
            Err(s)
        }
    }

    /// Turns the hold into a plain read hold.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().downgrade_upgradable() };
        let lock = s.lock;
        std::mem::forget(s);
        lock.read_guard()
    }

    /// Upgrades for the time of `f` (waiting for readers to leave), then back to upgradable.
    pub fn with_upgraded<Ret, F: FnOnce(&mut T) -> Ret>(&mut self, f: F) -> Ret {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { self.lock.raw().upgrade() };
        self.upgraded(f)
    }

    /// As [`with_upgraded`](Self::with_upgraded) if no reader holds the lock now.
    pub fn try_with_upgraded<Ret, F: FnOnce(&mut T) -> Ret>(&mut self, f: F) -> Option<Ret> {
        // SAFETY: the guard holds the upgradable lock.
        let upgraded = unsafe { self.lock.raw().try_upgrade() };
        upgraded.then(|| self.upgraded(f))
    }

    /// As [`try_with_upgraded`](Self::try_with_upgraded), waiting at most `timeout` for the
    /// readers to leave.
    pub fn try_with_upgraded_for<Ret, F: FnOnce(&mut T) -> Ret>(
        &mut self,
        timeout: Duration,
        f: F,
    ) -> Option<Ret> {
        // SAFETY: the guard holds the upgradable lock.
        let upgraded = unsafe { self.lock.raw().try_upgrade_for(timeout) };
        upgraded.then(|| self.upgraded(f))
    }

    /// As [`try_with_upgraded`](Self::try_with_upgraded), waiting until `timeout` at most.
    pub fn try_with_upgraded_until<Ret, F: FnOnce(&mut T) -> Ret>(
        &mut self,
        timeout: Instant,
        f: F,
    ) -> Option<Ret> {
        // SAFETY: the guard holds the upgradable lock.
        let upgraded = unsafe { self.lock.raw().try_upgrade_until(timeout) };
        upgraded.then(|| self.upgraded(f))
    }

    /// Runs `f` on the upgraded lock, then downgrades it back (also if `f` panics).
    fn upgraded<Ret, F: FnOnce(&mut T) -> Ret>(&mut self, f: F) -> Ret {
        let lock = self.lock;
        let _back = OnDrop(|| {
            // `f` had `&mut T`: a write.
            let access = Access::Exclusive { written: true };
            lock.raw().release(Kind::RwLockWrite, access, |r| {
                // SAFETY: upgraded by the caller: this thread holds the write lock.
                unsafe { r.downgrade_to_upgradable() }
            });
            lock.raw().set_holder();
        });
        // SAFETY: upgraded: exclusive access until `_back` downgrades.
        f(unsafe { &mut *lock.data_ptr() })
    }

    /// Releases fairly: a waiting thread gets the lock first.
    pub fn unlock_fair(s: Self) {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().unlock_upgradable_fair() };
        std::mem::forget(s);
    }

    /// As [`unlocked`](Self::unlocked), releasing fairly.
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().unlock_upgradable_fair() };
        let _relock = OnDrop(|| s.lock.raw().lock_upgradable());
        f()
    }

    /// Lets a waiting thread have the lock, if one waits, and takes it back.
    pub fn bump(s: &mut Self) {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().bump_upgradable() };
    }
}

impl<T: ?Sized> Deref for RwLockUpgradableReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: an upgradable hold: shared access.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockUpgradableReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the upgradable lock, and is not used after this.
        unsafe { self.lock.raw().unlock_upgradable() };
    }
}

/// A read guard mapped to part of the data. Mirrors [`parking_lot::MappedRwLockReadGuard`].
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct MappedRwLockReadGuard<'a, T: ?Sized> {
    raw: &'a Raw,
    data: *const T,
    marker: PhantomData<&'a T>,
}

// SAFETY: shares `&T` and the `Sync` raw lock, as lock_api's.
unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockReadGuard<'_, T> {}
// SAFETY: sends `&T` and the duty to unlock, which the raw lock's guard marker allows or not,
// as lock_api's.
unsafe impl<T: ?Sized + Sync> Send for MappedRwLockReadGuard<'_, T> where
    (Marker, PhantomData<fn(&T)>): Send
{
}

impl<'a, T: ?Sized + 'a> MappedRwLockReadGuard<'a, T> {
    /// A guard for part of this part.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        // The same path as `try_map_or_else`, with an error that cannot happen.
        match Self::try_map_or_else(s, |t| Ok::<_, std::convert::Infallible>(f(t))) {
            Ok(mapped) => mapped,
            Err((_, never)) => match never {},
        }
    }

    /// As [`map`](Self::map), or the guard back if `f` gives `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        Self::try_map_or_else(s, |t| f(t).ok_or(())).map_err(|(s, ())| s)
    }

    /// As [`map`](Self::map), or the guard back with `f`'s error (lock_api's name for it).
    pub fn try_map_or_else<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<MappedRwLockReadGuard<'a, U>, (Self, E)>
    where
        F: FnOnce(&T) -> Result<&U, E>,
    {
        let raw = s.raw;
        // SAFETY: a read hold: shared access.
        let data: *const U = match f(unsafe { &*s.data }) {
            Ok(data) => data,
            Err(e) => return Err((s, e)),
        };
        std::mem::forget(s);
        Ok(MappedRwLockReadGuard {
            raw,
            data,
            marker: PhantomData,
        })
    }

    /// Releases fairly.
    pub fn unlock_fair(s: Self) {
        // SAFETY: the guard holds a read lock.
        unsafe { s.raw.unlock_shared_fair() };
        std::mem::forget(s);
    }
}

impl<T: ?Sized> Deref for MappedRwLockReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read hold: shared access.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> Drop for MappedRwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds a read lock, and is not used after this.
        unsafe { self.raw.unlock_shared() };
    }
}

/// A write guard mapped to part of the data. Mirrors [`parking_lot::MappedRwLockWriteGuard`].
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct MappedRwLockWriteGuard<'a, T: ?Sized> {
    raw: &'a Raw,
    data: *mut T,
    written: bool,
    marker: PhantomData<&'a mut T>,
}

// SAFETY: shares `&T` and the `Sync` raw lock, as lock_api's.
unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockWriteGuard<'_, T> {}
// SAFETY: sends `&mut T` and the duty to unlock, which the raw lock's guard marker allows or
// not, as lock_api's.
unsafe impl<T: ?Sized + Send> Send for MappedRwLockWriteGuard<'_, T> where
    (Marker, PhantomData<fn(&T)>): Send
{
}

impl<'a, T: ?Sized + 'a> MappedRwLockWriteGuard<'a, T> {
    /// A guard for part of this part.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        // The same path as `try_map_or_err`, with an error that cannot happen.
        match Self::try_map_or_err(s, |t| Ok::<_, std::convert::Infallible>(f(t))) {
            Ok(mapped) => mapped,
            Err((_, never)) => match never {},
        }
    }

    /// As [`map`](Self::map), or the guard back if `f` gives `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        Self::try_map_or_err(s, |t| f(t).ok_or(())).map_err(|(s, ())| s)
    }

    /// As [`map`](Self::map), or the guard back with `f`'s error.
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, (Self, E)>
    where
        F: FnOnce(&mut T) -> Result<&mut U, E>,
    {
        let (raw, written) = (s.raw, s.written);
        // SAFETY: a write hold: exclusive access.
        let data: *mut U = match f(unsafe { &mut *s.data }) {
            Ok(data) => data,
            Err(e) => return Err((s, e)),
        };
        std::mem::forget(s);
        Ok(MappedRwLockWriteGuard {
            raw,
            data,
            written,
            marker: PhantomData,
        })
    }

    /// Releases fairly.
    pub fn unlock_fair(s: Self) {
        let access = Access::Exclusive { written: s.written };
        s.raw.release(Kind::RwLockWrite, access, |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.unlock_exclusive_fair() }
        });
        std::mem::forget(s);
    }
}

impl<T: ?Sized> Deref for MappedRwLockWriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a write hold: exclusive access.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        // SAFETY: a write hold, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let access = Access::Exclusive {
            written: self.written,
        };
        self.raw.release(Kind::RwLockWrite, access, |r| {
            // SAFETY: the guard holds the write lock, and is not used after this.
            unsafe { r.unlock_exclusive() }
        });
    }
}

macro_rules! show {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized + fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                (**self).fmt(f)
            }
        }
    )*};
}

show!(
    RwLockReadGuard,
    RwLockWriteGuard,
    RwLockUpgradableReadGuard,
    MappedRwLockReadGuard,
    MappedRwLockWriteGuard
);

impl<T: ?Sized> RwLock<T> {
    fn arc_read(self: &Arc<Self>) -> ArcRwLockReadGuard<::parking_lot::RawRwLock, T> {
        ArcRwLockReadGuard {
            lock: Arc::clone(self),
            marker: PhantomData,
        }
    }

    fn arc_write(self: &Arc<Self>) -> ArcRwLockWriteGuard<::parking_lot::RawRwLock, T> {
        ArcRwLockWriteGuard {
            lock: Arc::clone(self),
            written: false,
            marker: PhantomData,
        }
    }

    fn arc_upgradable(
        self: &Arc<Self>,
    ) -> ArcRwLockUpgradableReadGuard<::parking_lot::RawRwLock, T> {
        ArcRwLockUpgradableReadGuard {
            lock: Arc::clone(self),
            marker: PhantomData,
        }
    }

    /// As [`read`](Self::read), with a guard that keeps the lock alive (parking_lot's
    /// `arc_lock` feature).
    pub fn read_arc(self: &Arc<Self>) -> ArcRwLockReadGuard<::parking_lot::RawRwLock, T> {
        self.raw().lock_shared();
        self.arc_read()
    }

    /// As [`try_read`](Self::try_read), with a guard that keeps the lock alive.
    pub fn try_read_arc(
        self: &Arc<Self>,
    ) -> Option<ArcRwLockReadGuard<::parking_lot::RawRwLock, T>> {
        self.raw().try_lock_shared().then(|| self.arc_read())
    }

    /// As [`try_read_for`](Self::try_read_for), with a guard that keeps the lock alive.
    pub fn try_read_arc_for(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Option<ArcRwLockReadGuard<::parking_lot::RawRwLock, T>> {
        self.raw()
            .try_lock_shared_for(timeout)
            .then(|| self.arc_read())
    }

    /// As [`write`](Self::write), with a guard that keeps the lock alive.
    pub fn write_arc(self: &Arc<Self>) -> ArcRwLockWriteGuard<::parking_lot::RawRwLock, T> {
        self.raw().lock_exclusive();
        self.arc_write()
    }

    /// As [`try_write`](Self::try_write), with a guard that keeps the lock alive.
    pub fn try_write_arc(
        self: &Arc<Self>,
    ) -> Option<ArcRwLockWriteGuard<::parking_lot::RawRwLock, T>> {
        self.raw().try_lock_exclusive().then(|| self.arc_write())
    }

    /// As [`try_write_for`](Self::try_write_for), with a guard that keeps the lock alive.
    pub fn try_write_arc_for(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Option<ArcRwLockWriteGuard<::parking_lot::RawRwLock, T>> {
        self.raw()
            .try_lock_exclusive_for(timeout)
            .then(|| self.arc_write())
    }

    /// As [`upgradable_read`](Self::upgradable_read), with a guard that keeps the lock alive.
    pub fn upgradable_read_arc(
        self: &Arc<Self>,
    ) -> ArcRwLockUpgradableReadGuard<::parking_lot::RawRwLock, T> {
        self.raw().lock_upgradable();
        self.arc_upgradable()
    }

    /// As [`try_upgradable_read`](Self::try_upgradable_read), with a guard that keeps the lock
    /// alive.
    pub fn try_upgradable_read_arc(
        self: &Arc<Self>,
    ) -> Option<ArcRwLockUpgradableReadGuard<::parking_lot::RawRwLock, T>> {
        self.raw()
            .try_lock_upgradable()
            .then(|| self.arc_upgradable())
    }
}

/// A read hold that owns an `Arc` of its lock (from [`RwLock::read_arc`]). Mirrors
/// [`lock_api::ArcRwLockReadGuard`]; `R` is parking_lot's raw lock, as in parking_lot's name
/// for it.
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct ArcRwLockReadGuard<R, T: ?Sized> {
    lock: Arc<RwLock<T>>,
    marker: PhantomData<(fn() -> R, Marker)>,
}

/// A write hold that owns an `Arc` of its lock (from [`RwLock::write_arc`]). Mirrors
/// [`lock_api::ArcRwLockWriteGuard`]; remembers whether `&mut` was taken (the `mutated` label).
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct ArcRwLockWriteGuard<R, T: ?Sized> {
    lock: Arc<RwLock<T>>,
    written: bool,
    marker: PhantomData<(fn() -> R, Marker)>,
}

/// An upgradable read hold that owns an `Arc` of its lock (from
/// [`RwLock::upgradable_read_arc`]). Mirrors [`lock_api::ArcRwLockUpgradableReadGuard`].
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct ArcRwLockUpgradableReadGuard<R, T: ?Sized> {
    lock: Arc<RwLock<T>>,
    marker: PhantomData<(fn() -> R, Marker)>,
}

/// The `Arc` of a guard whose hold was released or handed on, without running its drop.
fn take_arc<G, T: ?Sized>(guard: G, lock: impl FnOnce(&G) -> &Arc<RwLock<T>>) -> Arc<RwLock<T>> {
    let guard = ManuallyDrop::new(guard);
    // SAFETY: `guard` is never dropped or used again, so the `Arc` is moved out exactly once.
    unsafe { std::ptr::read(lock(&guard)) }
}

impl<R, T: ?Sized> ArcRwLockReadGuard<R, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &Arc<RwLock<T>> {
        &s.lock
    }

    /// Runs `f` with the lock released, then reads again.
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        // SAFETY: the guard holds a read lock.
        unsafe { s.lock.raw().unlock_shared() };
        let lock = &s.lock;
        let _relock = OnDrop(|| lock.raw().lock_shared());
        f()
    }

    /// Releases fairly.
    pub fn unlock_fair(s: Self) {
        // SAFETY: the guard holds a read lock.
        unsafe { s.lock.raw().unlock_shared_fair() };
        drop(take_arc(s, |g| &g.lock));
    }
}

impl<R, T: ?Sized> ArcRwLockWriteGuard<R, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &Arc<RwLock<T>> {
        &s.lock
    }

    fn access(&self) -> Access {
        Access::Exclusive {
            written: self.written,
        }
    }

    /// Runs `f` with the lock released, then writes again.
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.unlock_exclusive() }
        });
        s.written = false;
        let lock = &s.lock;
        let _relock = OnDrop(|| lock.raw().lock_exclusive());
        f()
    }

    /// Turns the write hold into a read hold.
    pub fn downgrade(s: Self) -> ArcRwLockReadGuard<R, T> {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.downgrade() }
        });
        ArcRwLockReadGuard {
            lock: take_arc(s, |g| &g.lock),
            marker: PhantomData,
        }
    }

    /// Turns the write hold into an upgradable read hold.
    pub fn downgrade_to_upgradable(s: Self) -> ArcRwLockUpgradableReadGuard<R, T> {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.downgrade_to_upgradable() }
        });
        s.lock.raw().set_holder();
        ArcRwLockUpgradableReadGuard {
            lock: take_arc(s, |g| &g.lock),
            marker: PhantomData,
        }
    }

    /// Releases fairly.
    pub fn unlock_fair(s: Self) {
        s.lock.raw().release(Kind::RwLockWrite, s.access(), |r| {
            // SAFETY: the guard holds the write lock.
            unsafe { r.unlock_exclusive_fair() }
        });
        drop(take_arc(s, |g| &g.lock));
    }
}

impl<R, T: ?Sized> ArcRwLockUpgradableReadGuard<R, T> {
    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &Arc<RwLock<T>> {
        &s.lock
    }

    /// Upgrades to a write hold, waiting for the readers to leave (an `rwlock-write` wait).
    pub fn upgrade(s: Self) -> ArcRwLockWriteGuard<R, T> {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().upgrade() };
        ArcRwLockWriteGuard {
            lock: take_arc(s, |g| &g.lock),
            written: false,
            marker: PhantomData,
        }
    }

    /// Upgrades if no reader holds the lock, else gives the guard back.
    pub fn try_upgrade(s: Self) -> Result<ArcRwLockWriteGuard<R, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { s.lock.raw().try_upgrade() } {
            Ok(ArcRwLockWriteGuard {
                lock: take_arc(s, |g| &g.lock),
                written: false,
                marker: PhantomData,
            })
        } else {
            Err(s)
        }
    }

    /// Turns the hold into a plain read hold.
    pub fn downgrade(s: Self) -> ArcRwLockReadGuard<R, T> {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().downgrade_upgradable() };
        ArcRwLockReadGuard {
            lock: take_arc(s, |g| &g.lock),
            marker: PhantomData,
        }
    }

    /// Releases fairly.
    pub fn unlock_fair(s: Self) {
        // SAFETY: the guard holds the upgradable lock.
        unsafe { s.lock.raw().unlock_upgradable_fair() };
        drop(take_arc(s, |g| &g.lock));
    }
}

impl<R, T: ?Sized> Deref for ArcRwLockReadGuard<R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read hold: shared access.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<R, T: ?Sized> Deref for ArcRwLockWriteGuard<R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a write hold: exclusive access.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<R, T: ?Sized> DerefMut for ArcRwLockWriteGuard<R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        // SAFETY: a write hold, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<R, T: ?Sized> Deref for ArcRwLockUpgradableReadGuard<R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: an upgradable hold: shared access.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<R, T: ?Sized> Drop for ArcRwLockReadGuard<R, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds a read lock, and is not used after this.
        unsafe { self.lock.raw().unlock_shared() };
    }
}

impl<R, T: ?Sized> Drop for ArcRwLockWriteGuard<R, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock
            .raw()
            .release(Kind::RwLockWrite, self.access(), |r| {
                // SAFETY: the guard holds the write lock, and is not used after this.
                unsafe { r.unlock_exclusive() }
            });
    }
}

impl<R, T: ?Sized> Drop for ArcRwLockUpgradableReadGuard<R, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the upgradable lock, and is not used after this.
        unsafe { self.lock.raw().unlock_upgradable() };
    }
}

macro_rules! show_arc {
    ($($guard:ident),*) => {$(
        impl<R, T: ?Sized + fmt::Debug> fmt::Debug for $guard<R, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<R, T: ?Sized + fmt::Display> fmt::Display for $guard<R, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                (**self).fmt(f)
            }
        }
    )*};
}

show_arc!(
    ArcRwLockReadGuard,
    ArcRwLockWriteGuard,
    ArcRwLockUpgradableReadGuard
);
