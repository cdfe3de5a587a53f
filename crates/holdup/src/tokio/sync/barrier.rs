use std::fmt;
use std::future::Future;
use std::panic::Location;

use ::tokio::sync as tokio_sync;
pub use ::tokio::sync::BarrierWaitResult;

use super::super::wait::{Waited, What, named_future};
use crate::sync::barrier::Arrivals;
use holdup_core::{Kind, Site};

/// A barrier for tasks, a drop-in replacement for [`tokio::sync::Barrier`]: every task but the
/// last to arrive (the leader) waits, and those waits feed the block profile
/// (`kind=barrier`) and show in dumps.
///
/// ```
/// use holdup::tokio::sync::Barrier;
/// use std::sync::Arc;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let barrier = Arc::new(Barrier::new(3));
/// let tasks: Vec<_> = (0..3)
///     .map(|_| {
///         let b = Arc::clone(&barrier);
///         holdup::tokio::spawn(async move { b.wait().await.is_leader() })
///     })
///     .collect();
/// let mut leaders = 0;
/// for t in tasks {
///     leaders += usize::from(t.await.unwrap());
/// }
/// assert_eq!(leaders, 1);
/// # });
/// ```
pub struct Barrier {
    site: Site,
    inner: tokio_sync::Barrier,
    arrivals: Arrivals,
}

named_future!(
    /// The future of [`Barrier::wait`].
    Wait
);

impl Barrier {
    /// A barrier for `n` tasks; the caller's location names it in profiles.
    #[track_caller]
    pub fn new(n: usize) -> Barrier {
        Barrier {
            site: Location::caller(),
            inner: tokio_sync::Barrier::new(n),
            arrivals: Arrivals::new(n),
        }
    }

    /// Waits until `n` tasks have called `wait`, as [`tokio::sync::Barrier::wait`]. Not cancel
    /// safe, as tokio's.
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = BarrierWaitResult> {
        Wait(Waited::new(
            What::Other(self.site, Kind::Barrier),
            async move {
                // Tokio counts an arrival at the first poll, as this does.
                self.arrivals.arrive(self.site);
                self.inner.wait().await
            },
            |r| r,
        ))
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
