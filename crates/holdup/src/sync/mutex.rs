use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::{self as std_sync, LockResult, PoisonError, TryLockError, TryLockResult};

use crate::hook::{self, Access, LockMeta};
use holdup_core::Kind;

/// A mutual exclusion primitive, a drop-in replacement for [`std::sync::Mutex`] that feeds the
/// mutex and block profiles.
///
/// It wraps std's mutex and behaves exactly like it (same API, poisoning, auto traits). When
/// the lock is free, `lock` is std's `try_lock` and nothing else; when it is not, `lock` spins
/// for it first, as std's and Go's mutexes do, and a lock won there was not waited for. A wait
/// past the spin is timed, and dropping the guard that ends a contended critical section
/// records it in the mutex profile (on the unlocking thread's stack). See the [crate
/// docs](crate) for the profiles.
///
/// # Differences from `std::sync::Mutex`
///
/// - The creation site (`#[track_caller]` on [`new`](Mutex::new)) names the lock in profiles
///   (the `lock` label). A `static` gets the site of its `Mutex::new` call at compile time.
/// - Each mutex is two words larger (its creation site and its holder: a `Mutex<u64>` is 32
///   bytes against std's 16); while it has waiters, their accounting lives in a table keyed by
///   the lock's address. Guards are two words larger (the lock's metadata and the written
///   flag).
/// - A contended `lock` spins (up to 100 pauses, a few microseconds) watching the holder let
///   go before it blocks in std's `lock`, which spins again before it sleeps. Like Go, which
///   profiles only the waiters of a `sync.Mutex` that park, holdup counts as a wait only what
///   the spin did not end: short critical sections cost the profiles almost nothing, and a
///   waiter reacts to the release as fast as std's does.
/// - The unstable `MappedMutexGuard` and value accessors are not mirrored.
///
/// ```
/// use holdup::sync::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         holdup::thread::spawn(move || *counter.lock().unwrap() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    meta: LockMeta,
    inner: std_sync::Mutex<T>,
}

/// A guard for a [`Mutex`]: the lock is released when it is dropped. Mirrors
/// [`std::sync::MutexGuard`].
///
/// It remembers whether `&mut` was taken through it ([`DerefMut`]); mutex-profile samples carry
/// that as the `mutated` label. `mutated=no` does not mean the value was not changed: a
/// `Mutex<Receiver<_>>` or a `Mutex<Cell<_>>` is changed through `&`.
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    inner: ManuallyDrop<std_sync::MutexGuard<'a, T>>,
    meta: &'a LockMeta,
    /// Whether `&mut` was taken through this guard (the `mutated` label).
    written: bool,
}

impl<T> Mutex<T> {
    /// Creates a new unlocked mutex; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(t: T) -> Mutex<T> {
        Mutex {
            meta: LockMeta::new(),
            inner: std_sync::Mutex::new(t),
        }
    }

    /// Consumes the mutex and returns the data, as [`std::sync::Mutex::into_inner`].
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is available, as [`std::sync::Mutex::lock`].
    ///
    /// # Errors
    ///
    /// If another holder panicked, the lock is poisoned and the guard comes in the error.
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        // Both paths yield std's result and the guard is wrapped once, after they join, so that
        // the compiler keeps the guard in registers on the fast path.
        let r = match self.inner.try_lock() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(e)) => Err(e),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        };
        match r {
            Ok(g) => Ok(self.guard(g)),
            Err(e) => Err(PoisonError::new(self.guard(e.into_inner()))),
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> LockResult<std_sync::MutexGuard<'_, T>> {
        if let Some(r) = hook::spin(&self.meta, || super::taken(self.inner.try_lock())) {
            return r;
        }
        let wait = hook::contended(&self.meta, Kind::Mutex);
        let r = self.inner.lock();
        hook::acquired(wait);
        r
    }

    /// Attempts to acquire the mutex without blocking, as [`std::sync::Mutex::try_lock`].
    /// A failed attempt is not contention and records nothing.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the mutex is held, [`TryLockError::Poisoned`] (with the
    /// guard) if it is poisoned.
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        match self.inner.try_lock() {
            Ok(g) => Ok(self.guard(g)),
            Err(TryLockError::Poisoned(e)) => Err(TryLockError::Poisoned(PoisonError::new(
                self.guard(e.into_inner()),
            ))),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether the mutex is poisoned, as [`std::sync::Mutex::is_poisoned`].
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poisoned state, as [`std::sync::Mutex::clear_poison`].
    #[inline]
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// A mutable reference to the data, as [`std::sync::Mutex::get_mut`] (no locking needed).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    #[inline]
    fn guard<'a>(&'a self, g: std_sync::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.meta.set_holder();
        MutexGuard {
            inner: ManuallyDrop::new(g),
            meta: &self.meta,
            written: false,
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's Debug only try_locks: it never blocks and never records.
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Splits the guard for [`Condvar`](crate::sync::Condvar) waits: runs the release hooks
    /// (the wait unlocks the mutex) and hands out std's guard.
    pub(crate) fn into_std(self) -> (std_sync::MutexGuard<'a, T>, &'a LockMeta) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once. Taken first, so
        // that if a hook panicked, std's guard would unlock (and poison) as it unwinds.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        // The wait releases the mutex inside std: run the release hooks here, without
        // unlocking. (Unlike a guard's drop, a sampled event is thus recorded while the mutex is
        // still held.)
        let access = Access::Exclusive {
            written: this.written,
        };
        hook::release(this.meta, Kind::Mutex, access, || ());
        (inner, this.meta)
    }

    pub(crate) fn from_std(inner: std_sync::MutexGuard<'a, T>, meta: &'a LockMeta) -> Self {
        meta.set_holder();
        MutexGuard {
            inner: ManuallyDrop::new(inner),
            meta,
            written: false,
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        &mut self.inner
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        let access = Access::Exclusive {
            written: self.written,
        };
        // SAFETY: `inner` is taken exactly once, here; the guard is not used afterwards.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        // std's guard moves into the unlock: the contended path's cold call then takes it by
        // value, and the uncontended path keeps it in registers.
        hook::release(self.meta, Kind::Mutex, access, move || drop(inner));
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
