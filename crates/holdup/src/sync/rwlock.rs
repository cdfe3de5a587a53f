use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::{self as std_sync, LockResult, PoisonError, TryLockError, TryLockResult};

use crate::hook::{self, Access, LockMeta};
use holdup_core::Kind;

/// A reader-writer lock, a drop-in replacement for [`std::sync::RwLock`] that feeds the mutex
/// and block profiles.
///
/// Waits for the read lock are recorded as `rwlock-read`, for the write lock as `rwlock-write`.
/// In the mutex profile, each contended release is charged with the waiting that accrued during
/// its critical section: readers kept waiting by a writer are charged to the write guard's drop,
/// and a writer kept waiting by readers to the read guards' drops (as Go does for `RWMutex`).
/// Readers that queue behind a *waiting* writer (std's lock prefers writers) are charged to the
/// critical sections they wait through, readers' or writer's.
///
/// # Differences from `std::sync::RwLock`
///
/// - The creation site (`#[track_caller]` on [`new`](RwLock::new)) names the lock in profiles.
/// - A contended `read` or `write` spins first, as [`Mutex::lock`](crate::sync::Mutex) does:
///   what the spin ends is not a wait.
/// - When a writer waits for several readers, Go charges the whole wait to the last reader to
///   leave; holdup charges each reader's drop with the waiting that accrued since the previous
///   one left, so the total is the same and overlapping readers share the blame.
/// - Write guards remember whether `&mut` was taken through them (`DerefMut`): mutex-profile
///   samples of `rwlock-write` carry `mutated=no` when it was not, the bug the seed demo
///   (`examples/contended_cache.rs`) is about: such a section can take `read()` (`RwLock<T>`
///   is shared only for `T: Sync`, so everything it does through `&T` works through a read
///   guard), unless it must be alone while it writes through `&` (to atomics, say).
/// - Each lock is two words larger (creation site and writer; waiters' accounting lives in a
///   table while there are waiters), read guards one word and write guards two words larger;
///   the unstable mapped guards are not mirrored.
///
/// ```
/// use holdup::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    meta: LockMeta,
    inner: std_sync::RwLock<T>,
}

/// Shared read access to an [`RwLock`]; mirrors [`std::sync::RwLockReadGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    inner: ManuallyDrop<std_sync::RwLockReadGuard<'a, T>>,
    meta: &'a LockMeta,
}

/// Exclusive write access to an [`RwLock`]; mirrors [`std::sync::RwLockWriteGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    inner: ManuallyDrop<std_sync::RwLockWriteGuard<'a, T>>,
    meta: &'a LockMeta,
    /// Whether `&mut` was taken through this guard (the `mutated` label).
    written: bool,
}

impl<T> RwLock<T> {
    /// Creates a new unlocked lock; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(t: T) -> RwLock<T> {
        RwLock {
            meta: LockMeta::new(),
            inner: std_sync::RwLock::new(t),
        }
    }

    /// Consumes the lock and returns the data, as [`std::sync::RwLock::into_inner`].
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for shared reading, blocking while a writer holds or waits for the lock, as
    /// [`std::sync::RwLock::read`].
    ///
    /// # Errors
    ///
    /// If a writer panicked, the lock is poisoned and the guard comes in the error.
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        // Both paths yield std's result and the guard is wrapped once, after they join, so that
        // the compiler keeps the guard in registers on the fast path.
        let r = match self.inner.try_read() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(e)) => Err(e),
            Err(TryLockError::WouldBlock) => self.read_contended(),
        };
        match r {
            Ok(g) => Ok(self.read_guard(g)),
            Err(e) => Err(PoisonError::new(self.read_guard(e.into_inner()))),
        }
    }

    #[cold]
    #[inline(never)]
    fn read_contended(&self) -> LockResult<std_sync::RwLockReadGuard<'_, T>> {
        if let Some(r) = hook::spin(&self.meta, || super::taken(self.inner.try_read())) {
            return r;
        }
        let wait = hook::contended(&self.meta, Kind::RwLockRead);
        let r = self.inner.read();
        hook::acquired(wait);
        r
    }

    /// Locks for exclusive writing, blocking until no reader or writer holds the lock, as
    /// [`std::sync::RwLock::write`].
    ///
    /// # Errors
    ///
    /// If a writer panicked, the lock is poisoned and the guard comes in the error.
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        // Both paths yield std's result and the guard is wrapped once, after they join, so that
        // the compiler keeps the guard in registers on the fast path.
        let r = match self.inner.try_write() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(e)) => Err(e),
            Err(TryLockError::WouldBlock) => self.write_contended(),
        };
        match r {
            Ok(g) => Ok(self.write_guard(g)),
            Err(e) => Err(PoisonError::new(self.write_guard(e.into_inner()))),
        }
    }

    #[cold]
    #[inline(never)]
    fn write_contended(&self) -> LockResult<std_sync::RwLockWriteGuard<'_, T>> {
        if let Some(r) = hook::spin(&self.meta, || super::taken(self.inner.try_write())) {
            return r;
        }
        let wait = hook::contended(&self.meta, Kind::RwLockWrite);
        let r = self.inner.write();
        hook::acquired(wait);
        r
    }

    /// Attempts shared read access without blocking, as [`std::sync::RwLock::try_read`].
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if a writer holds the lock, [`TryLockError::Poisoned`] (with
    /// the guard) if it is poisoned.
    #[inline]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        match self.inner.try_read() {
            Ok(g) => Ok(self.read_guard(g)),
            Err(TryLockError::Poisoned(e)) => Err(TryLockError::Poisoned(PoisonError::new(
                self.read_guard(e.into_inner()),
            ))),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        }
    }

    /// Attempts exclusive write access without blocking, as [`std::sync::RwLock::try_write`].
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the lock is held, [`TryLockError::Poisoned`] (with the
    /// guard) if it is poisoned.
    #[inline]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        match self.inner.try_write() {
            Ok(g) => Ok(self.write_guard(g)),
            Err(TryLockError::Poisoned(e)) => Err(TryLockError::Poisoned(PoisonError::new(
                self.write_guard(e.into_inner()),
            ))),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether the lock is poisoned, as [`std::sync::RwLock::is_poisoned`].
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poisoned state, as [`std::sync::RwLock::clear_poison`].
    #[inline]
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// A mutable reference to the data, as [`std::sync::RwLock::get_mut`] (no locking needed).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    #[inline]
    fn read_guard<'a>(&'a self, g: std_sync::RwLockReadGuard<'a, T>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            inner: ManuallyDrop::new(g),
            meta: &self.meta,
        }
    }

    #[inline]
    fn write_guard<'a>(&'a self, g: std_sync::RwLockWriteGuard<'a, T>) -> RwLockWriteGuard<'a, T> {
        self.meta.set_holder();
        RwLockWriteGuard {
            inner: ManuallyDrop::new(g),
            meta: &self.meta,
            written: false,
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> RwLock<T> {
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
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns write access into read access without letting another writer in between, as
    /// [`std::sync::RwLockWriteGuard::downgrade`]. Readers waiting for the writer are charged to
    /// this call in the mutex profile.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let mut this = ManuallyDrop::new(s);
        let meta = this.meta;
        let mut read = None;
        let access = Access::Exclusive {
            written: this.written,
        };
        hook::release(meta, Kind::RwLockWrite, access, || {
            // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
            let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
            read = Some(std_sync::RwLockWriteGuard::downgrade(inner));
        });
        let read = read.expect("downgraded above");
        RwLockReadGuard {
            inner: ManuallyDrop::new(read),
            meta,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        &mut self.inner
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `inner` is taken exactly once, here; the guard is not used afterwards.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        // Moved into the unlock, so that the guard stays in registers (see `MutexGuard`).
        hook::release(self.meta, Kind::RwLockRead, Access::Shared, move || {
            drop(inner)
        });
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        let access = Access::Exclusive {
            written: self.written,
        };
        // SAFETY: `inner` is taken exactly once, here; the guard is not used afterwards.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        // Moved into the unlock, so that the guard stays in registers (see `MutexGuard`).
        hook::release(self.meta, Kind::RwLockWrite, access, move || drop(inner));
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
