use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::Arc;

use ::tokio::sync as tokio_sync;
use ::tokio::sync::TryLockError;

use super::super::wait::{self, Waited, What, named_future};
use holdup_core::Kind;
use holdup_core::hook::{self, Access, LockMeta};
use holdup_core::registry::Stamp;

/// An async reader-writer lock, a drop-in replacement for [`tokio::sync::RwLock`] that feeds
/// the mutex and block profiles (`kind=rwlock-read`, `rwlock-write`) and names its writer in
/// dumps; it wraps tokio's (fair: a queued writer stops new readers; cancel safe).
///
/// Waits and releases are recorded as the [`Mutex`](super::Mutex)'s are: a `read().await` or
/// `write().await` that does not complete at once is a wait from its first `Pending`; a guard
/// dropped while others wait charges its critical section. Readers are not recorded as
/// holders (every reader would write to one cache line).
///
/// # Differences from `tokio::sync::RwLock`
///
/// - The creation site (`#[track_caller]` constructors) names the lock in profiles.
/// - Owned guards need `T: 'static` (and `U: 'static`).
///
/// ```
/// use holdup::tokio::sync::RwLock;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let lock = RwLock::new(5);
/// {
///     let (r1, r2) = (lock.read().await, lock.read().await);
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 6);
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    meta: LockMeta,
    inner: tokio_sync::RwLock<T>,
}

/// Shared access to a [`RwLock`]. Mirrors [`tokio::sync::RwLockReadGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tokio_sync::RwLockReadGuard<'a, T>>,
    meta: &'a LockMeta,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
}

/// Exclusive access to a [`RwLock`]. Mirrors [`tokio::sync::RwLockWriteGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tokio_sync::RwLockWriteGuard<'a, T>>,
    meta: &'a LockMeta,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
    written: bool,
}

/// Exclusive access to part of a [`RwLock`]'s data. Mirrors
/// [`tokio::sync::RwLockMappedWriteGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tokio_sync::RwLockMappedWriteGuard<'a, T>>,
    meta: &'a LockMeta,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
    written: bool,
}

/// Shared access to a [`RwLock`] in an `Arc`. Mirrors [`tokio::sync::OwnedRwLockReadGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockReadGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    /// Borrows from `lock`, which this guard keeps alive: released first (in `drop`).
    inner: ManuallyDrop<tokio_sync::RwLockReadGuard<'static, U>>,
    lock: Arc<RwLock<T>>,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
}

/// Exclusive access to a [`RwLock`] in an `Arc`. Mirrors
/// [`tokio::sync::OwnedRwLockWriteGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockWriteGuard<T: ?Sized + 'static> {
    /// Borrows from `lock`, which this guard keeps alive: released first (in `drop`).
    inner: ManuallyDrop<tokio_sync::RwLockWriteGuard<'static, T>>,
    lock: Arc<RwLock<T>>,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
    written: bool,
}

/// Exclusive access to part of a [`RwLock`]'s data, owning the lock. Mirrors
/// [`tokio::sync::OwnedRwLockMappedWriteGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockMappedWriteGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    /// Borrows from `lock`, which this guard keeps alive: released first (in `drop`).
    inner: ManuallyDrop<tokio_sync::RwLockMappedWriteGuard<'static, U>>,
    lock: Arc<RwLock<T>>,
    /// Where the guard was made in its task's life (the `held` label).
    stamp: Stamp,
    written: bool,
}

named_future!(
    /// The future of [`RwLock::read`] and [`RwLock::read_owned`].
    Read
);
named_future!(
    /// The future of [`RwLock::write`] and [`RwLock::write_owned`].
    Write
);

/// A borrowed guard's lifetime made `'static`, for an owned guard that keeps the lock alive.
///
/// # Safety
///
/// The caller keeps the lock the guard borrows alive, and in place, until the returned guard is
/// dropped; `G` and `S` are the same guard type with different lifetimes.
unsafe fn extend<G, S>(g: G) -> S {
    let g = ManuallyDrop::new(g);
    // SAFETY: `G` and `S` differ only in a lifetime (the caller's promise), so they have the
    // same layout; `g` is not dropped, so the guard is moved exactly once.
    unsafe { std::mem::transmute_copy::<G, S>(&g) }
}

impl<T> RwLock<T> {
    /// A new unlocked lock; the caller's location names it in profiles.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            meta: LockMeta::new(),
            inner: tokio_sync::RwLock::new(value),
        }
    }

    /// As [`new`](RwLock::new), with at most `max_reads` concurrent readers.
    ///
    /// # Panics
    ///
    /// As tokio's: if `max_reads` exceeds tokio's limit.
    #[track_caller]
    pub fn with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        RwLock {
            meta: LockMeta::new(),
            inner: tokio_sync::RwLock::with_max_readers(value, max_reads),
        }
    }

    /// As [`new`](RwLock::new), in a `const` context.
    #[track_caller]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
            meta: LockMeta::new(),
            inner: tokio_sync::RwLock::const_new(value),
        }
    }

    /// As [`with_max_readers`](RwLock::with_max_readers), in a `const` context.
    #[track_caller]
    pub const fn const_with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        RwLock {
            meta: LockMeta::new(),
            inner: tokio_sync::RwLock::const_with_max_readers(value, max_reads),
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting (asynchronously) while a writer holds or waits for the lock.
    /// Cancel safe.
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = RwLockReadGuard<'_, T>> {
        let what = What::Lock(&self.meta, Kind::RwLockRead);
        Read(Waited::new(what, self.inner.read(), |g| self.read_guard(g)))
    }

    /// Locks for writing, waiting (asynchronously) while anyone holds the lock. Cancel safe.
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = RwLockWriteGuard<'_, T>> {
        let what = What::Lock(&self.meta, Kind::RwLockWrite);
        Write(Waited::new(what, self.inner.write(), |g| {
            self.write_guard(g)
        }))
    }

    /// Locks for reading from synchronous code, blocking the thread.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        let g = match self.inner.try_read() {
            Ok(g) => g,
            Err(_) => {
                let wait = hook::contended(&self.meta, Kind::RwLockRead);
                let g = self.inner.blocking_read();
                hook::acquired(wait);
                g
            }
        };
        self.read_guard(g)
    }

    /// Locks for writing from synchronous code, blocking the thread.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        let g = match self.inner.try_write() {
            Ok(g) => g,
            Err(_) => {
                let wait = hook::contended(&self.meta, Kind::RwLockWrite);
                let g = self.inner.blocking_write();
                hook::acquired(wait);
                g
            }
        };
        self.write_guard(g)
    }

    /// Locks for reading without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if a writer holds the lock.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.inner.try_read().map(|g| self.read_guard(g))
    }

    /// Locks for writing without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if anyone holds the lock.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.inner.try_write().map(|g| self.write_guard(g))
    }

    /// A mutable reference to the data (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    fn read_guard<'a>(&'a self, g: tokio_sync::RwLockReadGuard<'a, T>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            inner: ManuallyDrop::new(g),
            meta: &self.meta,
            stamp: Stamp::now(),
        }
    }

    fn write_guard<'a>(
        &'a self,
        g: tokio_sync::RwLockWriteGuard<'a, T>,
    ) -> RwLockWriteGuard<'a, T> {
        let (holder, stamp) = wait::holder();
        self.meta.set_holder_owner(holder);
        RwLockWriteGuard {
            inner: ManuallyDrop::new(g),
            meta: &self.meta,
            stamp,
            written: false,
        }
    }
}

impl<T: ?Sized + 'static> RwLock<T> {
    /// Locks an `RwLock` in an `Arc` for reading; the guard keeps it alive. Cancel safe.
    #[track_caller]
    pub fn read_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockReadGuard<T>> {
        let at = Location::caller();
        Read(async move {
            let what = What::Lock(&self.meta, Kind::RwLockRead);
            let g = Waited::new_at(what, at, self.inner.read(), |g| g).await;
            // SAFETY: the guard borrows the lock inside `self`, which the owned guard keeps.
            let g = unsafe { extend(g) };
            RwLock::owned_read(self, g)
        })
    }

    /// Locks an `RwLock` in an `Arc` for writing; the guard keeps it alive. Cancel safe.
    #[track_caller]
    pub fn write_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockWriteGuard<T>> {
        let at = Location::caller();
        Write(async move {
            let what = What::Lock(&self.meta, Kind::RwLockWrite);
            let g = Waited::new_at(what, at, self.inner.write(), |g| g).await;
            // SAFETY: the guard borrows the lock inside `self`, which the owned guard keeps.
            let g = unsafe { extend(g) };
            RwLock::owned_write(self, g)
        })
    }

    /// Locks an `RwLock` in an `Arc` for reading without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if a writer holds the lock.
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        let g = self.inner.try_read()?;
        // SAFETY: the guard borrows the lock inside `self`, which the owned guard keeps.
        let g = unsafe { extend(g) };
        Ok(RwLock::owned_read(self, g))
    }

    /// Locks an `RwLock` in an `Arc` for writing without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if anyone holds the lock.
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        let g = self.inner.try_write()?;
        // SAFETY: the guard borrows the lock inside `self`, which the owned guard keeps.
        let g = unsafe { extend(g) };
        Ok(RwLock::owned_write(self, g))
    }

    fn owned_read(
        this: Arc<Self>,
        g: tokio_sync::RwLockReadGuard<'static, T>,
    ) -> OwnedRwLockReadGuard<T> {
        OwnedRwLockReadGuard {
            inner: ManuallyDrop::new(g),
            lock: this,
            stamp: Stamp::now(),
        }
    }

    fn owned_write(
        this: Arc<Self>,
        g: tokio_sync::RwLockWriteGuard<'static, T>,
    ) -> OwnedRwLockWriteGuard<T> {
        let (holder, stamp) = wait::holder();
        this.meta.set_holder_owner(holder);
        OwnedRwLockWriteGuard {
            inner: ManuallyDrop::new(g),
            lock: this,
            stamp,
            written: false,
        }
    }
}

/// Releases a guard's lock through the release hook: `unlock` consumes tokio's guard (dropping
/// it, or downgrading it) and its result is returned.
#[inline(always)]
fn release<G, R>(
    meta: &LockMeta,
    kind: Kind,
    access: Access,
    stamp: Stamp,
    inner: &mut ManuallyDrop<G>,
    unlock: impl FnOnce(G) -> R,
) -> R {
    // SAFETY: called once, as the guard is dropped or consumed; it is not used afterwards.
    let inner = unsafe { ManuallyDrop::take(inner) };
    let mut out = None;
    let held = move || stamp.suspended_since();
    hook::release_held(meta, kind, access, held, || out = Some(unlock(inner)));
    out.expect("the release hook runs the unlock")
}

/// Takes a guard apart without running its `Drop`: its tokio guard and the rest, by value.
macro_rules! into_parts {
    ($this:ident => $($field:ident),*) => {{
        let mut this = ManuallyDrop::new($this);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        let inner = unsafe { ManuallyDrop::take(&mut this.inner) };
        // SAFETY: each field is read once and `this` never drops its copy.
        (inner, $(unsafe { std::ptr::read(&this.$field) }),*)
    }};
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// A read guard for part of the data, as [`tokio::sync::RwLockReadGuard::map`].
    pub fn map<F, U: ?Sized>(this: Self, f: F) -> RwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let (inner, meta, stamp) = into_parts!(this => meta, stamp);
        RwLockReadGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockReadGuard::map(inner, f)),
            meta,
            stamp,
        }
    }

    /// As [`map`](RwLockReadGuard::map), when `f` may decline (the guard comes back).
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<F, U: ?Sized>(this: Self, f: F) -> Result<RwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let (inner, meta, stamp) = into_parts!(this => meta, stamp);
        match tokio_sync::RwLockReadGuard::try_map(inner, f) {
            Ok(g) => Ok(RwLockReadGuard {
                inner: ManuallyDrop::new(g),
                meta,
                stamp,
            }),
            Err(g) => Err(RwLockReadGuard {
                inner: ManuallyDrop::new(g),
                meta,
                stamp,
            }),
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// A write guard for part of the data, as [`tokio::sync::RwLockWriteGuard::map`].
    pub fn map<F, U: ?Sized>(this: Self, f: F) -> RwLockMappedWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (inner, meta, stamp) = into_parts!(this => meta, stamp);
        RwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockWriteGuard::map(inner, f)),
            meta,
            stamp,
            written: true,
        }
    }

    /// As [`map`](RwLockWriteGuard::map), when `f` may decline.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<F, U: ?Sized>(this: Self, f: F) -> Result<RwLockMappedWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (inner, meta, written, stamp) = into_parts!(this => meta, written, stamp);
        match tokio_sync::RwLockWriteGuard::try_map(inner, f) {
            Ok(g) => Ok(RwLockMappedWriteGuard {
                inner: ManuallyDrop::new(g),
                meta,
                stamp,
                written: true,
            }),
            Err(g) => Err(RwLockWriteGuard {
                inner: ManuallyDrop::new(g),
                meta,
                stamp,
                written,
            }),
        }
    }

    /// The guard as a mapped guard of the whole data.
    pub fn into_mapped(this: Self) -> RwLockMappedWriteGuard<'a, T> {
        let (inner, meta, written, stamp) = into_parts!(this => meta, written, stamp);
        RwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockWriteGuard::into_mapped(inner)),
            meta,
            stamp,
            written,
        }
    }

    /// Lets other readers in, keeping read access: the end of the exclusive critical section
    /// (recorded as a write release when others wait).
    pub fn downgrade(self) -> RwLockReadGuard<'a, T> {
        let mut this = ManuallyDrop::new(self);
        let (meta, written) = (this.meta, this.written);
        let access = Access::Exclusive { written };
        let g = release(
            meta,
            Kind::RwLockWrite,
            access,
            this.stamp,
            &mut this.inner,
            |g| g.downgrade(),
        );
        RwLockReadGuard {
            inner: ManuallyDrop::new(g),
            meta,
            stamp: this.stamp,
        }
    }

    /// Downgrades and maps, as [`tokio::sync::RwLockWriteGuard::downgrade_map`].
    pub fn downgrade_map<F, U: ?Sized>(this: Self, f: F) -> RwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        RwLockReadGuard::map(this.downgrade(), f)
    }

    /// As [`downgrade_map`](RwLockWriteGuard::downgrade_map), when `f` may decline (then the
    /// write guard comes back, not downgraded).
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_downgrade_map<F, U: ?Sized>(this: Self, f: F) -> Result<RwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let Some(data) = f(&*this).map(|u| u as *const U) else {
            return Err(this);
        };
        // SAFETY: `data` points into the locked value, which stays alive and is not written
        // while the lock is held for reading (the downgrade keeps it held): as tokio's own
        // `try_downgrade_map` keeps its data pointer.
        Ok(RwLockReadGuard::map(this.downgrade(), |_| unsafe {
            &*data
        }))
    }
}

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// A write guard for part of this part.
    pub fn map<F, U: ?Sized>(this: Self, f: F) -> RwLockMappedWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (inner, meta, stamp) = into_parts!(this => meta, stamp);
        RwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockMappedWriteGuard::map(inner, f)),
            meta,
            stamp,
            written: true,
        }
    }

    /// As [`map`](RwLockMappedWriteGuard::map), when `f` may decline.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<F, U: ?Sized>(this: Self, f: F) -> Result<RwLockMappedWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (inner, meta, written, stamp) = into_parts!(this => meta, written, stamp);
        match tokio_sync::RwLockMappedWriteGuard::try_map(inner, f) {
            Ok(g) => Ok(RwLockMappedWriteGuard {
                inner: ManuallyDrop::new(g),
                meta,
                stamp,
                written: true,
            }),
            Err(g) => Err(RwLockMappedWriteGuard {
                inner: ManuallyDrop::new(g),
                meta,
                stamp,
                written,
            }),
        }
    }
}

impl<T: ?Sized, U: ?Sized> OwnedRwLockReadGuard<T, U> {
    /// A read guard for part of the data.
    pub fn map<F, V: ?Sized>(this: Self, f: F) -> OwnedRwLockReadGuard<T, V>
    where
        F: FnOnce(&U) -> &V,
    {
        let (inner, lock, stamp) = into_parts!(this => lock, stamp);
        OwnedRwLockReadGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockReadGuard::map(inner, f)),
            lock,
            stamp,
        }
    }

    /// As [`map`](OwnedRwLockReadGuard::map), when `f` may decline.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<F, V: ?Sized>(this: Self, f: F) -> Result<OwnedRwLockReadGuard<T, V>, Self>
    where
        F: FnOnce(&U) -> Option<&V>,
    {
        let (inner, lock, stamp) = into_parts!(this => lock, stamp);
        match tokio_sync::RwLockReadGuard::try_map(inner, f) {
            Ok(g) => Ok(OwnedRwLockReadGuard {
                inner: ManuallyDrop::new(g),
                lock,
                stamp,
            }),
            Err(g) => Err(OwnedRwLockReadGuard {
                inner: ManuallyDrop::new(g),
                lock,
                stamp,
            }),
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// A write guard for part of the data.
    pub fn map<F, U: ?Sized>(this: Self, f: F) -> OwnedRwLockMappedWriteGuard<T, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (inner, lock, stamp) = into_parts!(this => lock, stamp);
        OwnedRwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockWriteGuard::map(inner, f)),
            lock,
            stamp,
            written: true,
        }
    }

    /// As [`map`](OwnedRwLockWriteGuard::map), when `f` may decline.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<F, U: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockMappedWriteGuard<T, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (inner, lock, written, stamp) = into_parts!(this => lock, written, stamp);
        match tokio_sync::RwLockWriteGuard::try_map(inner, f) {
            Ok(g) => Ok(OwnedRwLockMappedWriteGuard {
                inner: ManuallyDrop::new(g),
                lock,
                stamp,
                written: true,
            }),
            Err(g) => Err(OwnedRwLockWriteGuard {
                inner: ManuallyDrop::new(g),
                lock,
                stamp,
                written,
            }),
        }
    }

    /// The guard as a mapped guard of the whole data.
    pub fn into_mapped(this: Self) -> OwnedRwLockMappedWriteGuard<T> {
        let (inner, lock, written, stamp) = into_parts!(this => lock, written, stamp);
        OwnedRwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockWriteGuard::into_mapped(inner)),
            lock,
            stamp,
            written,
        }
    }

    /// Lets other readers in, keeping read access (see [`RwLockWriteGuard::downgrade`]).
    pub fn downgrade(self) -> OwnedRwLockReadGuard<T> {
        let mut this = ManuallyDrop::new(self);
        let access = Access::Exclusive {
            written: this.written,
        };
        // SAFETY: `this` is never dropped: the `Arc` is moved out once.
        let lock = unsafe { std::ptr::read(&this.lock) };
        let g = release(
            &lock.meta,
            Kind::RwLockWrite,
            access,
            this.stamp,
            &mut this.inner,
            |g| g.downgrade(),
        );
        OwnedRwLockReadGuard {
            inner: ManuallyDrop::new(g),
            lock,
            stamp: this.stamp,
        }
    }

    /// Downgrades and maps.
    pub fn downgrade_map<F, U: ?Sized>(this: Self, f: F) -> OwnedRwLockReadGuard<T, U>
    where
        F: FnOnce(&T) -> &U,
    {
        OwnedRwLockReadGuard::map(this.downgrade(), f)
    }

    /// As [`downgrade_map`](OwnedRwLockWriteGuard::downgrade_map), when `f` may decline (then
    /// the write guard comes back, not downgraded).
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_downgrade_map<F, U: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockReadGuard<T, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let Some(data) = f(&*this).map(|u| u as *const U) else {
            return Err(this);
        };
        // SAFETY: as in `RwLockWriteGuard::try_downgrade_map`.
        Ok(OwnedRwLockReadGuard::map(this.downgrade(), |_| unsafe {
            &*data
        }))
    }

    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized, U: ?Sized> OwnedRwLockMappedWriteGuard<T, U> {
    /// A write guard for part of this part.
    pub fn map<F, V: ?Sized>(this: Self, f: F) -> OwnedRwLockMappedWriteGuard<T, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let (inner, lock, stamp) = into_parts!(this => lock, stamp);
        OwnedRwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tokio_sync::RwLockMappedWriteGuard::map(inner, f)),
            lock,
            stamp,
            written: true,
        }
    }

    /// As [`map`](OwnedRwLockMappedWriteGuard::map), when `f` may decline.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returned `None`.
    pub fn try_map<F, V: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockMappedWriteGuard<T, V>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        let (inner, lock, written, stamp) = into_parts!(this => lock, written, stamp);
        match tokio_sync::RwLockMappedWriteGuard::try_map(inner, f) {
            Ok(g) => Ok(OwnedRwLockMappedWriteGuard {
                inner: ManuallyDrop::new(g),
                lock,
                stamp,
                written: true,
            }),
            Err(g) => Err(OwnedRwLockMappedWriteGuard {
                inner: ManuallyDrop::new(g),
                lock,
                stamp,
                written,
            }),
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        let stamp = self.stamp;
        release(
            self.meta,
            Kind::RwLockRead,
            Access::Shared,
            stamp,
            &mut self.inner,
            drop,
        );
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedRwLockReadGuard<T, U> {
    #[inline(always)]
    fn drop(&mut self) {
        // tokio's guard goes first; `lock` (the `Arc` it borrows from) after this returns.
        let stamp = self.stamp;
        release(
            &self.lock.meta,
            Kind::RwLockRead,
            Access::Shared,
            stamp,
            &mut self.inner,
            drop,
        );
    }
}

/// The `Drop` of a write guard: an exclusive release.
macro_rules! write_drop {
    ($guard:ident < $($lt:lifetime,)? $($p:ident),+ >, |$this:ident| $meta:expr) => {
        impl<$($lt,)? $($p: ?Sized),+> Drop for $guard<$($lt,)? $($p),+> {
            #[inline(always)]
            fn drop(&mut self) {
                let $this = &*self;
                let meta: *const LockMeta = $meta;
                let access = Access::Exclusive {
                    written: self.written,
                };
                // SAFETY: `meta` is the lock's, which outlives this call (borrowed, or kept by
                // the guard's `Arc`, dropped after this returns).
                let meta = unsafe { &*meta };
                let stamp = self.stamp;
                release(meta, Kind::RwLockWrite, access, stamp, &mut self.inner, drop);
            }
        }
    };
}

write_drop!(RwLockWriteGuard<'a, T>, |g| g.meta);
write_drop!(RwLockMappedWriteGuard<'a, T>, |g| g.meta);
write_drop!(OwnedRwLockWriteGuard<T>, |g| &g.lock.meta);
write_drop!(OwnedRwLockMappedWriteGuard<T, U>, |g| &g.lock.meta);

guard_read!(RwLockReadGuard<'a, T>, T);
guard_read!(OwnedRwLockReadGuard<T, U>, U);
guard_access!(RwLockWriteGuard<'a, T>, T);
guard_access!(RwLockMappedWriteGuard<'a, T>, T);
guard_access!(OwnedRwLockWriteGuard<T>, T);
guard_access!(OwnedRwLockMappedWriteGuard<T, U>, U);

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio's Debug only try_reads: it never waits and never records.
        fmt::Debug::fmt(&self.inner, f)
    }
}
