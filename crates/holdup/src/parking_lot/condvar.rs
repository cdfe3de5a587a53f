use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ::lock_api::RawMutex;
pub use ::parking_lot::WaitTimeoutResult;
use holdup_core::{Kind, Site};

use super::mutex::ProfiledMutexGuard;
use crate::hook;

/// A condition variable, a drop-in replacement for [`::parking_lot::Condvar`] that works with
/// holdup's [`Mutex`](super::Mutex) and [`FairMutex`](super::FairMutex) guards and feeds the
/// block profile (`kind=condvar`, on the waiter's stack).
///
/// parking_lot's condvar takes only parking_lot's own guard, so this one is built from a
/// parking_lot `Condvar` and `Mutex<()>` of its own: a waiter takes that inner mutex before it
/// lets the user's mutex go and sleeps on it, and a notifier takes it before it notifies, so no
/// notification between the two is lost. Notifying a condvar nobody waits on is one atomic
/// load. Going back into the user's mutex after a wake-up is an ordinary (profiled) lock,
/// where parking_lot's own condvar moves the waiter to the mutex's queue without waking it.
///
/// ```
/// use holdup::parking_lot::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// holdup::thread::spawn(move || {
///     *pair2.0.lock() = true;
///     pair2.1.notify_one();
/// });
/// let mut ready = pair.0.lock();
/// while !*ready {
///     pair.1.wait(&mut ready);
/// }
/// ```
pub struct Condvar {
    site: Site,
    /// Threads between taking `lock` to wait and waking up.
    waiters: AtomicUsize,
    lock: ::parking_lot::Mutex<()>,
    cv: ::parking_lot::Condvar,
}

impl Condvar {
    /// A new condvar; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new() -> Condvar {
        Condvar {
            site: Location::caller(),
            waiters: AtomicUsize::new(0),
            lock: ::parking_lot::Mutex::new(()),
            cv: ::parking_lot::Condvar::new(),
        }
    }

    /// Wakes one waiting thread; whether one was woken.
    #[inline]
    pub fn notify_one(&self) -> bool {
        hook::wake(self.site, Kind::Condvar);
        // SeqCst: a waiter counts itself before it lets the user's mutex go; a notifier that
        // took that mutex after it (or changed what the waiter checks under it) sees it.
        if self.waiters.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let _inner = self.lock.lock();
        self.cv.notify_one()
    }

    /// Wakes every waiting thread; how many were woken.
    #[inline]
    pub fn notify_all(&self) -> usize {
        hook::wake(self.site, Kind::Condvar);
        if self.waiters.load(Ordering::SeqCst) == 0 {
            return 0;
        }
        let _inner = self.lock.lock();
        self.cv.notify_all()
    }

    /// Unlocks the guard's mutex, sleeps until notified (or `sleep` returns), locks it again.
    fn park<R: RawMutex, T: ?Sized>(
        &self,
        guard: &mut ProfiledMutexGuard<'_, R, T>,
        sleep: impl FnOnce(
            &::parking_lot::Condvar,
            &mut ::parking_lot::MutexGuard<'_, ()>,
        ) -> WaitTimeoutResult,
    ) -> WaitTimeoutResult {
        let wait = hook::blocking(self.site, Kind::Condvar);
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut inner = self.lock.lock();
        guard.release_for_wait();
        let result = sleep(&self.cv, &mut inner);
        drop(inner);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        hook::woken(wait);
        guard.relock_after_wait();
        result
    }

    /// Blocks until notified, as [`::parking_lot::Condvar::wait`].
    pub fn wait<R: RawMutex, T: ?Sized>(&self, guard: &mut ProfiledMutexGuard<'_, R, T>) {
        self.park(guard, |cv, inner| {
            cv.wait(inner);
            NOT_TIMED_OUT.with(|r| *r)
        });
    }

    /// Blocks until notified or `timeout`, as [`::parking_lot::Condvar::wait_until`].
    pub fn wait_until<R: RawMutex, T: ?Sized>(
        &self,
        guard: &mut ProfiledMutexGuard<'_, R, T>,
        timeout: Instant,
    ) -> WaitTimeoutResult {
        self.park(guard, |cv, inner| cv.wait_until(inner, timeout))
    }

    /// Blocks until notified or for `timeout`, as [`::parking_lot::Condvar::wait_for`].
    pub fn wait_for<R: RawMutex, T: ?Sized>(
        &self,
        guard: &mut ProfiledMutexGuard<'_, R, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.park(guard, |cv, inner| cv.wait_for(inner, timeout))
    }

    /// Blocks while `condition` holds, as [`::parking_lot::Condvar::wait_while`].
    pub fn wait_while<R: RawMutex, T: ?Sized, F>(
        &self,
        guard: &mut ProfiledMutexGuard<'_, R, T>,
        mut condition: F,
    ) where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut **guard) {
            self.wait(guard);
        }
    }

    /// Blocks while `condition` holds, until `timeout` at most, as
    /// [`::parking_lot::Condvar::wait_while_until`].
    pub fn wait_while_until<R: RawMutex, T: ?Sized, F>(
        &self,
        guard: &mut ProfiledMutexGuard<'_, R, T>,
        mut condition: F,
        timeout: Instant,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        // parking_lot's loop: the condition is not asked again after a timeout.
        let mut result = NOT_TIMED_OUT.with(|r| *r);
        while !result.timed_out() && condition(&mut **guard) {
            result = self.wait_until(guard, timeout);
        }
        result
    }

    /// As [`wait_while_until`](Self::wait_while_until), for `timeout` at most.
    pub fn wait_while_for<R: RawMutex, T: ?Sized, F>(
        &self,
        guard: &mut ProfiledMutexGuard<'_, R, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_while_until(guard, condition, deadline),
            None => {
                self.wait_while(guard, condition);
                NOT_TIMED_OUT.with(|r| *r)
            }
        }
    }
}

thread_local! {
    /// A `WaitTimeoutResult` that did not time out: parking_lot has no constructor, so this is
    /// the answer of a wait that a notification ended, on a private condvar.
    static NOT_TIMED_OUT: WaitTimeoutResult = not_timed_out();
}

fn not_timed_out() -> WaitTimeoutResult {
    let m = ::parking_lot::Mutex::new(false);
    let cv = ::parking_lot::Condvar::new();
    let mut g = m.lock();
    // A condition that is false at once: parking_lot returns without waiting, not timed out.
    cv.wait_while_for(&mut g, |_| false, Duration::ZERO)
}

// Its inner mutex guards `()`: a panic leaves nothing half-changed (parking_lot's `Condvar`
// is unwind-safe too).
impl std::panic::UnwindSafe for Condvar {}
impl std::panic::RefUnwindSafe for Condvar {}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
