use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tokio::sync as tokio_sync;

use super::super::wait::{Waited, What};
use holdup_core::{Kind, Site};

/// A notification primitive, a drop-in replacement for [`tokio::sync::Notify`] whose waits feed
/// the block profile (`kind=notify`) and show in dumps. A `notified().await` that does not
/// complete at once is a wait, from its first `Pending` to the notification; a cancelled one
/// records nothing.
///
/// ```
/// use holdup::tokio::sync::Notify;
/// use std::sync::Arc;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let notify = Arc::new(Notify::new());
/// let n = Arc::clone(&notify);
/// let waiter = holdup::tokio::spawn(async move { n.notified().await });
/// notify.notify_one(); // stored as a permit if the waiter is not there yet
/// waiter.await.unwrap();
/// # });
/// ```
pub struct Notify {
    site: Site,
    inner: tokio_sync::Notify,
}

/// The future of [`Notify::notified`]. Mirrors [`tokio::sync::futures::Notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    inner: Waited<'a, tokio_sync::futures::Notified<'a>, fn(())>,
}

/// The future of [`Notify::notified_owned`]. Mirrors [`tokio::sync::futures::OwnedNotified`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedNotified {
    /// Borrows from `notify`, which this future keeps alive: declared first, so dropped first.
    inner: Waited<'static, tokio_sync::futures::Notified<'static>, fn(())>,
    notify: Arc<Notify>,
}

impl Notify {
    /// A new `Notify` with no stored permit; the caller's location names it in profiles.
    #[track_caller]
    pub fn new() -> Notify {
        Notify {
            site: Location::caller(),
            inner: tokio_sync::Notify::new(),
        }
    }

    /// As [`new`](Notify::new), in a `const` context.
    #[track_caller]
    pub const fn const_new() -> Notify {
        Notify {
            site: Location::caller(),
            inner: tokio_sync::Notify::const_new(),
        }
    }

    /// Waits for a notification, as [`tokio::sync::Notify::notified`].
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            inner: Waited::new(self.waits(), self.inner.notified(), drop),
        }
    }

    /// As [`notified`](Notify::notified), for a `Notify` in an `Arc` (the future keeps it).
    #[track_caller]
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        let notified = self.inner.notified();
        // SAFETY: the future borrows the `Notify` inside `self`, an `Arc` that `OwnedNotified`
        // keeps and drops after the future (field order); the `Notify` does not move.
        let notified = unsafe {
            std::mem::transmute::<
                tokio_sync::futures::Notified<'_>,
                tokio_sync::futures::Notified<'static>,
            >(notified)
        };
        OwnedNotified {
            inner: Waited::new(self.waits(), notified, drop),
            notify: self,
        }
    }

    fn waits(&self) -> What<'static> {
        What::Other(self.site, Kind::Notify)
    }

    /// Wakes one waiting task (the first to wait), or stores a permit for the next.
    pub fn notify_one(&self) {
        holdup_core::hook::wake(self.site, Kind::Notify);
        self.inner.notify_one();
    }

    /// Wakes one waiting task (the last to wait), or stores a permit for the next.
    pub fn notify_last(&self) {
        holdup_core::hook::wake(self.site, Kind::Notify);
        self.inner.notify_last();
    }

    /// Wakes every task waiting now (no permit is stored).
    pub fn notify_waiters(&self) {
        holdup_core::hook::wake(self.site, Kind::Notify);
        self.inner.notify_waiters();
    }
}

impl Notified<'_> {
    /// Registers the future as a waiter without waiting, as
    /// [`tokio::sync::futures::Notified::enable`]: `true` if a notification was already
    /// received.
    pub fn enable(self: Pin<&mut Self>) -> bool {
        // SAFETY: `inner` is pinned structurally (never moved out; no `Unpin` or `Drop` impl).
        let inner = unsafe { self.map_unchecked_mut(|n| &mut n.inner) };
        inner.inner().enable()
    }
}

impl OwnedNotified {
    /// As [`Notified::enable`].
    pub fn enable(self: Pin<&mut Self>) -> bool {
        // SAFETY: `inner` is pinned structurally (never moved out; no `Unpin` or `Drop` impl).
        let inner = unsafe { self.map_unchecked_mut(|n| &mut n.inner) };
        inner.inner().enable()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is pinned structurally (never moved out; no `Unpin` or `Drop` impl).
        unsafe { self.map_unchecked_mut(|n| &mut n.inner) }.poll(cx)
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is pinned structurally (never moved out; no `Unpin` or `Drop` impl).
        unsafe { self.map_unchecked_mut(|n| &mut n.inner) }.poll(cx)
    }
}

impl Default for Notify {
    #[track_caller]
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").finish_non_exhaustive()
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedNotified")
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}
