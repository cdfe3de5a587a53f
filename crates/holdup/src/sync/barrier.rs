use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    arrivals: Arrivals,
}

impl Barrier {
    /// Creates a barrier for `n` threads; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            site: Location::caller(),
            inner: std_sync::Barrier::new(n),
            arrivals: Arrivals::new(n),
        }
    }

    /// Blocks until `n` threads have called `wait`, as [`std::sync::Barrier::wait`].
    pub fn wait(&self) -> BarrierWaitResult {
        let wait = hook::blocking(self.site, Kind::Barrier);
        self.arrivals.arrive(self.site);
        let r = self.inner.wait();
        if !r.is_leader() {
            // The leader arrived last and did not wait.
            hook::woken(wait);
        }
        r
    }
}

/// Counts a barrier's arrivals, so that the last of each round, which releases the others,
/// is known before it enters the barrier: the execution trace draws its arrows from there.
/// Rounds cannot overlap (nobody arrives for the next before all of this one have arrived),
/// so every `n`th arrival is a round's last.
pub(crate) struct Arrivals {
    n: usize,
    count: AtomicUsize,
}

impl Arrivals {
    pub(crate) const fn new(n: usize) -> Arrivals {
        Arrivals {
            n,
            count: AtomicUsize::new(0),
        }
    }

    /// One arrival, after its wait began: the last of a round wakes the others (`hook::wake`).
    pub(crate) fn arrive(&self, site: Site) {
        if self.n > 1 && (self.count.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(self.n) {
            hook::wake(site, Kind::Barrier);
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
