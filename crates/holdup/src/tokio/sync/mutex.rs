use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::Arc;

use ::tokio::sync as tokio_sync;
pub use ::tokio::sync::TryLockError;

use super::super::wait::{self, Waited, What};
use holdup_core::Kind;
use holdup_core::hook::{self, Access, LockMeta};
use holdup_core::registry::Stamp;
use std::future::Future;

/// An async mutex, a drop-in replacement for [`tokio::sync::Mutex`] that feeds the mutex and
/// block profiles, names its holder in dumps, and keeps tokio's behaviour: it wraps tokio's
/// mutex (FIFO fairness, cancel safety, the coop budget are tokio's).
///
/// A `lock().await` that does not complete at once is a wait, timed from its first `Pending`
/// to the release that let it in, and recorded in the block profile (`kind=mutex`) on the stack
/// of the poll that completes it: the task's async call chain down to the `.await`. Dropping
/// a guard while tasks (or threads) wait for the lock records the critical section in the
/// mutex profile, as the std mirror does. A cancelled `lock()` future (dropped by `select!` or
/// a timeout) leaves no wait behind and records nothing.
///
/// # Differences from `tokio::sync::Mutex`
///
/// - The creation site (`#[track_caller]` on [`new`](Mutex::new) and
///   [`const_new`](Mutex::const_new)) names the lock in profiles (the `lock` label).
/// - Owned guards ([`lock_owned`](Mutex::lock_owned) and friends) need `T: 'static`.
/// - The holder is recorded: a task (tokio's id) or, for `blocking_lock`, the thread.
///
/// ```
/// use holdup::tokio::sync::Mutex;
/// use std::sync::Arc;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let count = Arc::new(Mutex::new(0));
/// let tasks: Vec<_> = (0..4)
///     .map(|_| {
///         let count = Arc::clone(&count);
///         holdup::tokio::spawn(async move { *count.lock().await += 1 })
///     })
///     .collect();
/// for t in tasks {
///     t.await.unwrap();
/// }
/// assert_eq!(*count.lock().await, 4);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    meta: LockMeta,
    inner: tokio_sync::Mutex<T>,
}

/// A guard for a [`Mutex`]: the lock is released when it is dropped. Mirrors
/// [`tokio::sync::MutexGuard`].
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MutexGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tokio_sync::MutexGuard<'a, T>>,
    lock: &'a Mutex<T>,
    /// Whether `&mut` was taken through this guard (the `mutated` label).
    written: bool,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
}

/// An owned guard for a [`Mutex`] in an `Arc`, from [`Mutex::lock_owned`]. Mirrors
/// [`tokio::sync::OwnedMutexGuard`].
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedMutexGuard<T: ?Sized + 'static> {
    /// Borrows from `lock`, which this guard keeps alive: dropped first (in `drop`).
    inner: ManuallyDrop<tokio_sync::MutexGuard<'static, T>>,
    lock: Arc<Mutex<T>>,
    written: bool,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
}

/// A guard for part of a locked [`Mutex`], from [`MutexGuard::map`]. Mirrors
/// [`tokio::sync::MappedMutexGuard`].
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tokio_sync::MappedMutexGuard<'a, T>>,
    meta: &'a LockMeta,
    written: bool,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
}

/// An owned guard for part of a locked [`Mutex`], from [`OwnedMutexGuard::map`]. Mirrors
/// [`tokio::sync::OwnedMappedMutexGuard`].
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedMappedMutexGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    /// Borrows from `lock`, which this guard keeps alive: dropped first (in `drop`).
    inner: ManuallyDrop<tokio_sync::MappedMutexGuard<'static, U>>,
    lock: Arc<Mutex<T>>,
    written: bool,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
    /// tokio's auto traits (below), not the fields'.
    _not_auto: PhantomData<*const ()>,
}

// SAFETY: tokio's bounds for its `OwnedMappedMutexGuard`. The guard gives `&U`/`&mut U` to its
// holder and drops an `Arc<Mutex<T>>`: sending it needs `T: Send` and `U: Send`, sharing it
// `T: Send + Sync` and `U: Send + Sync` (stricter than what the fields would need).
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T> Mutex<T> {
    /// Creates a new unlocked mutex; the caller's location names it in profiles.
    #[track_caller]
    pub fn new(t: T) -> Mutex<T> {
        Mutex {
            meta: LockMeta::new(),
            inner: tokio_sync::Mutex::new(t),
        }
    }

    /// Creates a new unlocked mutex in a `const` context (a `static`), as
    /// [`tokio::sync::Mutex::const_new`].
    #[track_caller]
    pub const fn const_new(t: T) -> Mutex<T> {
        Mutex {
            meta: LockMeta::new(),
            inner: tokio_sync::Mutex::const_new(t),
        }
    }

    /// Consumes the mutex and returns the data.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting (asynchronously) while it is held, as
    /// [`tokio::sync::Mutex::lock`]. Cancel safe: dropping the future gives up the place in
    /// the queue, records nothing and leaves no wait.
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> {
        Lock(Waited::new(
            What::Lock(&self.meta, Kind::Mutex),
            self.inner.lock(),
            |g| self.guard(g),
        ))
    }

    /// Locks the mutex from synchronous code, blocking the thread, as
    /// [`tokio::sync::Mutex::blocking_lock`] (which panics inside an async context).
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        let g = match self.inner.try_lock() {
            Ok(g) => g,
            Err(_) => {
                let wait = hook::contended(&self.meta, Kind::Mutex);
                let g = self.inner.blocking_lock();
                hook::acquired(wait);
                g
            }
        };
        self.guard(g)
    }

    /// Tries to lock the mutex without waiting, as [`tokio::sync::Mutex::try_lock`]. A failed
    /// attempt is not contention and records nothing.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the mutex is held.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.inner.try_lock().map(|g| self.guard(g))
    }

    /// A mutable reference to the data (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    #[inline]
    fn guard<'a>(&'a self, g: tokio_sync::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let (holder, stamp) = wait::holder();
        self.meta.set_holder_owner(holder);
        MutexGuard {
            inner: ManuallyDrop::new(g),
            lock: self,
            written: false,
            stamp,
        }
    }
}

impl<T: ?Sized + 'static> Mutex<T> {
    /// Locks the mutex in an `Arc`, as [`tokio::sync::Mutex::lock_owned`]: the guard keeps the
    /// mutex alive. Cancel safe, as [`lock`](Mutex::lock).
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedMutexGuard<T>> {
        let at = Location::caller();
        Lock(async move {
            let what = What::Lock(&self.meta, Kind::Mutex);
            let g = Waited::new_at(what, at, self.inner.lock(), |g| g).await;
            // SAFETY: the guard borrows the mutex inside `self`, an `Arc` that the owned guard
            // keeps (and drops after the guard): the borrow outlives nothing it points to.
            let g = unsafe { extend(g) };
            Mutex::owned_guard(self, g)
        })
    }

    /// Locks the mutex in an `Arc` from synchronous code, blocking the thread, as
    /// [`tokio::sync::Mutex::blocking_lock_owned`].
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        let g = self.blocking_lock();
        let mut g = ManuallyDrop::new(g);
        // SAFETY: `g` is never dropped, so its tokio guard is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut g.inner) };
        // SAFETY: as in `lock_owned`: `self` is kept by the owned guard.
        let inner = unsafe { extend(inner) };
        OwnedMutexGuard {
            inner: ManuallyDrop::new(inner),
            lock: self,
            written: false,
            stamp: Stamp::now(),
        }
    }

    /// Tries to lock the mutex in an `Arc` without waiting, as
    /// [`tokio::sync::Mutex::try_lock_owned`].
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the mutex is held.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        let g = self.inner.try_lock()?;
        // SAFETY: as in `lock_owned`: `self` is kept by the owned guard.
        let g = unsafe { extend(g) };
        Ok(Mutex::owned_guard(self, g))
    }

    fn owned_guard(this: Arc<Self>, g: tokio_sync::MutexGuard<'static, T>) -> OwnedMutexGuard<T> {
        let (holder, stamp) = wait::holder();
        this.meta.set_holder_owner(holder);
        OwnedMutexGuard {
            inner: ManuallyDrop::new(g),
            lock: this,
            written: false,
            stamp,
        }
    }
}

wait::named_future!(
    /// The future of [`Mutex::lock`] and [`Mutex::lock_owned`].
    Lock
);

/// A guard's lifetime made `'static`, for an owned guard that keeps the lock alive.
///
/// # Safety
///
/// The caller keeps the lock the guard borrows alive, and in place, until the returned guard is
/// dropped.
unsafe fn extend<T: ?Sized>(
    g: tokio_sync::MutexGuard<'_, T>,
) -> tokio_sync::MutexGuard<'static, T> {
    // SAFETY: the two types differ only in a lifetime; the caller upholds the borrow.
    unsafe { std::mem::transmute(g) }
}

/// Releases a guard's lock through the release hook (see `hook::release`): the unlock is
/// dropping tokio's guard.
#[inline(always)]
fn release<G>(meta: &LockMeta, written: bool, stamp: Stamp, inner: &mut ManuallyDrop<G>) {
    // SAFETY: called once, from the guard's `drop`; the guard is not used afterwards.
    let inner = unsafe { ManuallyDrop::take(inner) };
    let access = Access::Exclusive { written };
    let held = move || stamp.suspended_since();
    hook::release_held(meta, Kind::Mutex, access, held, move || drop(inner));
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Splits the guard into its parts without releasing the lock.
    fn into_parts(self) -> (tokio_sync::MutexGuard<'a, T>, &'a Mutex<T>, bool, Stamp) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        (inner, this.lock, this.written, this.stamp)
    }

    /// A guard for a part of the locked data, as [`tokio::sync::MutexGuard::map`]. The
    /// critical section counts as written through (`f` gets `&mut T`).
    pub fn map<U, F>(this: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (inner, lock, _, stamp) = this.into_parts();
        MappedMutexGuard {
            inner: ManuallyDrop::new(tokio_sync::MutexGuard::map(inner, f)),
            meta: &lock.meta,
            written: true,
            stamp,
        }
    }

    /// As [`map`](MutexGuard::map), when `f` may decline (then the guard comes back), as
    /// [`tokio::sync::MutexGuard::try_map`].
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<U, F>(this: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (inner, lock, written, stamp) = this.into_parts();
        match tokio_sync::MutexGuard::try_map(inner, f) {
            Ok(mapped) => Ok(MappedMutexGuard {
                inner: ManuallyDrop::new(mapped),
                meta: &lock.meta,
                written: true,
                stamp,
            }),
            Err(inner) => Err(MutexGuard {
                inner: ManuallyDrop::new(inner),
                lock,
                written,
                stamp,
            }),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    fn into_parts(
        self,
    ) -> (
        tokio_sync::MutexGuard<'static, T>,
        Arc<Mutex<T>>,
        bool,
        Stamp,
    ) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        // SAFETY: as `inner`: the `Arc` is moved out once and `this` never drops its copy.
        let lock = unsafe { std::ptr::read(&this.lock) };
        (inner, lock, this.written, this.stamp)
    }

    /// A guard for a part of the locked data, as [`tokio::sync::OwnedMutexGuard::map`].
    pub fn map<U, F>(this: Self, f: F) -> OwnedMappedMutexGuard<T, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (inner, lock, _, stamp) = this.into_parts();
        OwnedMappedMutexGuard {
            inner: ManuallyDrop::new(tokio_sync::MutexGuard::map(inner, f)),
            lock,
            written: true,
            stamp,
            _not_auto: PhantomData,
        }
    }

    /// As [`map`](OwnedMutexGuard::map), when `f` may decline, as
    /// [`tokio::sync::OwnedMutexGuard::try_map`].
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<U, F>(this: Self, f: F) -> Result<OwnedMappedMutexGuard<T, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (inner, lock, written, stamp) = this.into_parts();
        match tokio_sync::MutexGuard::try_map(inner, f) {
            Ok(mapped) => Ok(OwnedMappedMutexGuard {
                inner: ManuallyDrop::new(mapped),
                lock,
                written: true,
                stamp,
                _not_auto: PhantomData,
            }),
            Err(inner) => Err(OwnedMutexGuard {
                inner: ManuallyDrop::new(inner),
                lock,
                written,
                stamp,
            }),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }
}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// A guard for a part of this part, as [`tokio::sync::MappedMutexGuard::map`].
    pub fn map<U, F>(this: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        MappedMutexGuard {
            inner: ManuallyDrop::new(tokio_sync::MappedMutexGuard::map(inner, f)),
            meta: this.meta,
            written: true,
            stamp: this.stamp,
        }
    }

    /// As [`map`](MappedMutexGuard::map), when `f` may decline, as
    /// [`tokio::sync::MappedMutexGuard::try_map`].
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<U, F>(this: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        match tokio_sync::MappedMutexGuard::try_map(inner, f) {
            Ok(mapped) => Ok(MappedMutexGuard {
                inner: ManuallyDrop::new(mapped),
                meta: this.meta,
                written: true,
                stamp: this.stamp,
            }),
            Err(inner) => Err(MappedMutexGuard {
                inner: ManuallyDrop::new(inner),
                meta: this.meta,
                written: this.written,
                stamp: this.stamp,
            }),
        }
    }
}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    fn into_parts(
        self,
    ) -> (
        tokio_sync::MappedMutexGuard<'static, U>,
        Arc<Mutex<T>>,
        bool,
        Stamp,
    ) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        // SAFETY: as `inner`: the `Arc` is moved out once and `this` never drops its copy.
        let lock = unsafe { std::ptr::read(&this.lock) };
        (inner, lock, this.written, this.stamp)
    }

    /// A guard for a part of this part, as [`tokio::sync::OwnedMappedMutexGuard::map`].
    pub fn map<S, F>(this: Self, f: F) -> OwnedMappedMutexGuard<T, S>
    where
        F: FnOnce(&mut U) -> &mut S,
    {
        let (inner, lock, _, stamp) = this.into_parts();
        OwnedMappedMutexGuard {
            inner: ManuallyDrop::new(tokio_sync::MappedMutexGuard::map(inner, f)),
            lock,
            written: true,
            stamp,
            _not_auto: PhantomData,
        }
    }

    /// As [`map`](OwnedMappedMutexGuard::map), when `f` may decline, as
    /// [`tokio::sync::OwnedMappedMutexGuard::try_map`].
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<S, F>(this: Self, f: F) -> Result<OwnedMappedMutexGuard<T, S>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut S>,
    {
        let (inner, lock, written, stamp) = this.into_parts();
        match tokio_sync::MappedMutexGuard::try_map(inner, f) {
            Ok(mapped) => Ok(OwnedMappedMutexGuard {
                inner: ManuallyDrop::new(mapped),
                lock,
                written: true,
                stamp,
                _not_auto: PhantomData,
            }),
            Err(inner) => Err(OwnedMappedMutexGuard {
                inner: ManuallyDrop::new(inner),
                lock,
                written,
                stamp,
                _not_auto: PhantomData,
            }),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        release(&self.lock.meta, self.written, self.stamp, &mut self.inner);
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    #[inline(always)]
    fn drop(&mut self) {
        // The tokio guard goes first; `lock` (the `Arc` it borrows from) after this returns.
        release(&self.lock.meta, self.written, self.stamp, &mut self.inner);
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        release(self.meta, self.written, self.stamp, &mut self.inner);
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedMutexGuard<T, U> {
    #[inline(always)]
    fn drop(&mut self) {
        release(&self.lock.meta, self.written, self.stamp, &mut self.inner);
    }
}

guard_access!(MutexGuard<'a, T>, T);
guard_access!(OwnedMutexGuard<T>, T);
guard_access!(MappedMutexGuard<'a, T>, T);
guard_access!(OwnedMappedMutexGuard<T, U>, U);

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio's Debug only try_locks: it never waits and never records.
        fmt::Debug::fmt(&self.inner, f)
    }
}
