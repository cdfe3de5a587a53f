use std::fmt;
use std::panic::Location;
use std::sync::{self as std_sync, BarrierWaitResult};

use crate::hook;
use holdup_core::Kind;
use holdup_core::Site;

/// A barrier, a drop-in replacement for [`std::sync::Barrier`] that feeds the block profile.
///
/// Every thread but the last to arrive (the leader) waits; those waits are block events
/// (`kind=barrier`) on the waiting thread's stack.
///
/// ```
/// use holdup::sync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let handles: Vec<_> = (0..3)
///     .map(|_| {
///         let b = Arc::clone(&barrier);
///         holdup::thread::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles.into_iter().filter(|_| true).map(|h| h.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    site: Site,
    inner: std_sync::Barrier,
}

impl Barrier {
    /// Creates a barrier for `n` threads; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            site: Location::caller(),
            inner: std_sync::Barrier::new(n),
        }
    }

    /// Blocks until `n` threads have called `wait`, as [`std::sync::Barrier::wait`].
    pub fn wait(&self) -> BarrierWaitResult {
        let wait = hook::blocking(self.site, Kind::Barrier);
        let r = self.inner.wait();
        if !r.is_leader() {
            // The leader arrived last and did not wait.
            hook::woken(wait);
        }
        r
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
