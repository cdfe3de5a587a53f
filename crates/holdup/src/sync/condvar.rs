use std::fmt;
use std::panic::Location;
use std::sync::{self as std_sync, LockResult, PoisonError, WaitTimeoutResult};
use std::time::Duration;

use super::MutexGuard;
use crate::hook;
use holdup_core::Kind;
use holdup_core::Site;

/// A condition variable, a drop-in replacement for [`std::sync::Condvar`] that works with
/// holdup's [`MutexGuard`] and feeds the block profile.
///
/// Every wait is a block event (`kind=condvar`) on the waiting thread's stack, timed from the
/// call to its return. The wait unlocks the mutex: when threads were waiting for that mutex,
/// the critical section that ends there is charged to the wait in the mutex profile, as Go
/// charges `sync.Cond.Wait`.
///
/// # Differences from `std::sync::Condvar`
///
/// - The creation site names the condvar in block-profile samples (the `lock` label).
/// - The mutex is re-acquired inside std's wait; contention on that re-acquisition is part of
///   the wait's time and is not charged to the mutex's holder.
/// - The deprecated `wait_timeout_ms` is not mirrored.
///
/// ```
/// use holdup::sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// holdup::thread::spawn(move || {
///     let (lock, cvar) = &*pair2;
///     *lock.lock().unwrap() = true;
///     cvar.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let started = cvar.wait_while(lock.lock().unwrap(), |started| !*started).unwrap();
/// assert!(*started);
/// ```
pub struct Condvar {
    site: Site,
    inner: std_sync::Condvar,
}

impl Condvar {
    /// Creates a new condition variable; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new() -> Condvar {
        Condvar {
            site: Location::caller(),
            inner: std_sync::Condvar::new(),
        }
    }

    /// Blocks until notified, as [`std::sync::Condvar::wait`] (spurious wake-ups included).
    ///
    /// # Errors
    ///
    /// If the mutex was poisoned when re-acquired, the guard comes in the error.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let wait = hook::blocking(self.site, Kind::Condvar);
        let (inner, meta) = guard.into_std();
        let r = self.inner.wait(inner);
        hook::woken(wait);
        match r {
            Ok(g) => Ok(MutexGuard::from_std(g, meta)),
            Err(e) => Err(PoisonError::new(MutexGuard::from_std(e.into_inner(), meta))),
        }
    }

    /// Blocks while `condition` returns true, as [`std::sync::Condvar::wait_while`]. The guard
    /// counts as written through, since `condition` gets `&mut T`.
    ///
    /// # Errors
    ///
    /// If the mutex was poisoned when re-acquired, the guard comes in the error.
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Blocks until notified or `dur` elapsed, as [`std::sync::Condvar::wait_timeout`].
    ///
    /// # Errors
    ///
    /// If the mutex was poisoned when re-acquired, the guard comes in the error.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let wait = hook::blocking(self.site, Kind::Condvar);
        let (inner, meta) = guard.into_std();
        let r = self.inner.wait_timeout(inner, dur);
        hook::woken(wait);
        match r {
            Ok((g, t)) => Ok((MutexGuard::from_std(g, meta), t)),
            Err(e) => {
                let (g, t) = e.into_inner();
                Err(PoisonError::new((MutexGuard::from_std(g, meta), t)))
            }
        }
    }

    /// Blocks while `condition` returns true, for at most `dur` in total, as
    /// [`std::sync::Condvar::wait_timeout_while`].
    ///
    /// # Errors
    ///
    /// If the mutex was poisoned when re-acquired, the guard comes in the error.
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = std::time::Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, timeout_result(false)));
            }
            let Some(left) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, timeout_result(true)));
            };
            guard = self.wait_timeout(guard, left)?.0;
        }
    }

    /// Wakes one waiting thread, as [`std::sync::Condvar::notify_one`].
    #[inline]
    pub fn notify_one(&self) {
        hook::wake(self.site, Kind::Condvar);
        self.inner.notify_one();
    }

    /// Wakes all waiting threads, as [`std::sync::Condvar::notify_all`].
    #[inline]
    pub fn notify_all(&self) {
        hook::wake(self.site, Kind::Condvar);
        self.inner.notify_all();
    }
}

/// A `WaitTimeoutResult` with the given outcome. std has no constructor, so this asks std's own
/// `wait_timeout_while` on a private condvar, in the two cases where it returns at once.
fn timeout_result(timed_out: bool) -> WaitTimeoutResult {
    let m = std_sync::Mutex::new(());
    let cv = std_sync::Condvar::new();
    let guard = m.lock().unwrap_or_else(PoisonError::into_inner);
    let (dur, keep_waiting) = if timed_out {
        (Duration::ZERO, true)
    } else {
        (Duration::MAX, false)
    };
    cv.wait_timeout_while(guard, dur, |_| keep_waiting)
        .unwrap_or_else(PoisonError::into_inner)
        .1
}

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
