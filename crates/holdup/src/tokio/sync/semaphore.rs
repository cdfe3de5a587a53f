use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use ::tokio::sync as tokio_sync;
pub use ::tokio::sync::{AcquireError, TryAcquireError};

use super::super::wait::{Waited, What};
use holdup_core::{Kind, Site};
use std::future::Future;

/// A counting semaphore, a drop-in replacement for [`tokio::sync::Semaphore`] whose waits for
/// permits feed the block profile (`kind=semaphore`) and show in dumps; it wraps tokio's (FIFO
/// fairness and cancel safety are tokio's).
///
/// An `acquire().await` that does not complete at once is a wait, timed from its first
/// `Pending` to its completion, on the stack of the poll that completes it. A cancelled
/// `acquire` records nothing and leaves no wait.
///
/// ```
/// use holdup::tokio::sync::Semaphore;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let sem = Semaphore::new(2);
/// let a = sem.acquire().await.unwrap();
/// let b = sem.acquire().await.unwrap();
/// assert_eq!(sem.available_permits(), 0);
/// drop((a, b));
/// assert_eq!(sem.available_permits(), 2);
/// # });
/// ```
pub struct Semaphore {
    site: Site,
    inner: tokio_sync::Semaphore,
}

/// Permits from a [`Semaphore`], returned when dropped. Mirrors
/// [`tokio::sync::SemaphorePermit`].
#[must_use]
#[clippy::has_significant_drop]
pub struct SemaphorePermit<'a> {
    inner: tokio_sync::SemaphorePermit<'a>,
    sem: &'a Semaphore,
}

/// Permits from a [`Semaphore`] in an `Arc`, returned when dropped. Mirrors
/// [`tokio::sync::OwnedSemaphorePermit`].
#[must_use]
#[clippy::has_significant_drop]
pub struct OwnedSemaphorePermit {
    /// Borrows from `sem`, which this permit keeps alive; declared first, so dropped first.
    inner: tokio_sync::SemaphorePermit<'static>,
    sem: Arc<Semaphore>,
}

/// What tokio's acquisitions give.
type Acquired<'a> = Result<tokio_sync::SemaphorePermit<'a>, AcquireError>;

impl Semaphore {
    /// The most permits a semaphore can hold (tokio's).
    pub const MAX_PERMITS: usize = tokio_sync::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits; the caller's location names it in profiles.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            site: Location::caller(),
            inner: tokio_sync::Semaphore::new(permits),
        }
    }

    /// As [`new`](Semaphore::new), in a `const` context.
    #[track_caller]
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            site: Location::caller(),
            inner: tokio_sync::Semaphore::const_new(permits),
        }
    }

    /// The permits available now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits (at most [`MAX_PERMITS`](Semaphore::MAX_PERMITS) in all).
    ///
    /// # Panics
    ///
    /// As tokio's: if the total would exceed `MAX_PERMITS`.
    pub fn add_permits(&self, n: usize) {
        holdup_core::hook::wake(self.site, Kind::Semaphore);
        self.inner.add_permits(n);
    }

    /// Removes up to `n` available permits; returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    /// Acquires a permit, waiting (asynchronously) while none is available. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    #[track_caller]
    pub fn acquire<'a>(
        &'a self,
    ) -> impl Future<Output = Result<SemaphorePermit<'a>, AcquireError>> {
        Acquire(Waited::new(
            self.waits(),
            self.inner.acquire(),
            |r: Acquired<'a>| r.map(|p| self.permit(p)),
        ))
    }

    /// Acquires `n` permits at once. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    #[track_caller]
    pub fn acquire_many<'a>(
        &'a self,
        n: u32,
    ) -> impl Future<Output = Result<SemaphorePermit<'a>, AcquireError>> {
        Waited::new(
            self.waits(),
            self.inner.acquire_many(n),
            |r: Acquired<'a>| r.map(|p| self.permit(p)),
        )
    }

    /// What an acquisition waits for.
    fn waits(&self) -> What<'static> {
        What::Other(self.site, Kind::Semaphore)
    }

    /// Acquires a permit without waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError`] if none is available or the semaphore was closed.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire().map(|p| self.permit(p))
    }

    /// Acquires `n` permits without waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError`] if they are not available or the semaphore was closed.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire_many(n).map(|p| self.permit(p))
    }

    /// Acquires a permit from synchronous code, blocking the thread.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.blocking(1).map(|p| self.permit(p))
    }

    /// Acquires `n` permits from synchronous code, blocking the thread.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.blocking(n).map(|p| self.permit(p))
    }

    fn blocking(&self, n: u32) -> Result<tokio_sync::SemaphorePermit<'_>, AcquireError> {
        match self.inner.try_acquire_many(n) {
            Ok(p) => Ok(p),
            Err(TryAcquireError::Closed) => self.inner.blocking_acquire_many(n),
            Err(TryAcquireError::NoPermits) => {
                let wait = holdup_core::hook::blocking(self.site, Kind::Semaphore);
                let r = self.inner.blocking_acquire_many(n);
                holdup_core::hook::woken(wait);
                r
            }
        }
    }

    /// Closes the semaphore: waiters and later acquisitions fail.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn permit<'a>(&'a self, inner: tokio_sync::SemaphorePermit<'a>) -> SemaphorePermit<'a> {
        SemaphorePermit { inner, sem: self }
    }

    /// Acquires a permit of a semaphore in an `Arc`; the permit keeps it alive. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    #[track_caller]
    pub fn acquire_owned(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_many_owned(1)
    }

    /// Acquires `n` permits of a semaphore in an `Arc`. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let at = Location::caller();
        Acquire(async move {
            let acquire = self.inner.acquire_many(n);
            let p = Waited::new_at(self.waits(), at, acquire, |r| r).await?;
            // SAFETY: the permit borrows the semaphore inside `self`, an `Arc` that the owned
            // permit keeps (and drops after the permit).
            let p = unsafe { extend(p) };
            Ok(OwnedSemaphorePermit {
                inner: p,
                sem: self,
            })
        })
    }

    /// Acquires a permit of a semaphore in an `Arc` without waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError`] if none is available or the semaphore was closed.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Acquires `n` permits of a semaphore in an `Arc` without waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError`] if they are not available or the semaphore was closed.
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let p = self.inner.try_acquire_many(n)?;
        // SAFETY: as in `acquire_many_owned`.
        let p = unsafe { extend(p) };
        Ok(OwnedSemaphorePermit {
            inner: p,
            sem: self,
        })
    }

    /// Acquires a permit of a semaphore in an `Arc` from synchronous code.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.blocking_acquire_many_owned(1)
    }

    /// Acquires `n` permits of a semaphore in an `Arc` from synchronous code.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        let p = self.blocking(n)?;
        // SAFETY: as in `acquire_many_owned`.
        let p = unsafe { extend(p) };
        Ok(OwnedSemaphorePermit {
            inner: p,
            sem: self,
        })
    }
}

super::super::wait::named_future!(
    /// The future of [`Semaphore::acquire`] and its variants.
    Acquire
);

/// A permit's lifetime made `'static`, for an owned permit that keeps its semaphore alive.
///
/// # Safety
///
/// The caller keeps the semaphore alive, and in place, until the returned permit is dropped.
unsafe fn extend(p: tokio_sync::SemaphorePermit<'_>) -> tokio_sync::SemaphorePermit<'static> {
    // SAFETY: the two types differ only in a lifetime; the caller upholds the borrow.
    unsafe { std::mem::transmute(p) }
}

impl<'a> SemaphorePermit<'a> {
    /// Forgets the permits: they are not returned to the semaphore.
    pub fn forget(mut self) {
        take_all(&mut self.inner).forget();
    }

    /// Adds the permits of `other` to this one.
    ///
    /// # Panics
    ///
    /// If the two come from different semaphores.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        self.inner.merge(take_all(&mut other.inner));
    }

    /// Splits `n` permits off into a new permit; `None` if it holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let inner = self.inner.split(n)?;
        Some(SemaphorePermit {
            inner,
            sem: self.sem,
        })
    }

    /// The semaphore the permits come from.
    pub fn semaphore(&self) -> &'a Semaphore {
        self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }
}

impl OwnedSemaphorePermit {
    /// Forgets the permits: they are not returned to the semaphore.
    pub fn forget(mut self) {
        take_all(&mut self.inner).forget();
    }

    /// Adds the permits of `other` to this one.
    ///
    /// # Panics
    ///
    /// If the two come from different semaphores.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        self.inner.merge(take_all(&mut other.inner));
    }

    /// Splits `n` permits off into a new permit; `None` if it holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let inner = self.inner.split(n)?;
        Some(OwnedSemaphorePermit {
            inner,
            sem: Arc::clone(&self.sem),
        })
    }

    /// The semaphore the permits come from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.num_permits())
            .finish_non_exhaustive()
    }
}

/// The permits of `p`, moved out (leaving it none), so that a permit that gives its permits
/// away does not count as returning them.
fn take_all<'a>(p: &mut tokio_sync::SemaphorePermit<'a>) -> tokio_sync::SemaphorePermit<'a> {
    p.split(p.num_permits())
        .expect("a permit can split off all it holds")
}

// Returning permits wakes the semaphore's waiters: the execution trace draws an arrow from
// here (before the permits go back) to the waits it ends.
impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.inner.num_permits() > 0 {
            holdup_core::hook::wake(self.sem.site, Kind::Semaphore);
        }
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.inner.num_permits() > 0 {
            holdup_core::hook::wake(self.sem.site, Kind::Semaphore);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.num_permits())
            .finish_non_exhaustive()
    }
}
