//! A multi-producer, multi-consumer channel where every receiver sees every value, a drop-in
//! replacement for [`tokio::sync::broadcast`] whose receives that wait (`kind=chan-recv`) feed
//! the block profile and show in dumps.
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let (tx, mut rx1) = holdup::tokio::sync::broadcast::channel(16);
//! let mut rx2 = tx.subscribe();
//! tx.send(10).unwrap();
//! assert_eq!(rx1.recv().await.unwrap(), 10);
//! assert_eq!(rx2.recv().await.unwrap(), 10);
//! # });
//! ```

use std::future::Future;
use std::panic::Location;

use ::tokio::sync::broadcast as tokio_broadcast;
pub use ::tokio::sync::broadcast::error;

use super::super::wait::{Waited, What, named_future};
use error::{RecvError, SendError, TryRecvError};
use holdup_core::{Kind, Site};

named_future!(
    /// The future of a receive (or of `Sender::closed`) that may wait.
    Broadcasting
);

/// The sending half. Mirrors [`tokio::sync::broadcast::Sender`].
pub struct Sender<T> {
    site: Site,
    inner: tokio_broadcast::Sender<T>,
}

/// A sender that does not keep the channel open. Mirrors
/// [`tokio::sync::broadcast::WeakSender`].
pub struct WeakSender<T> {
    site: Site,
    inner: tokio_broadcast::WeakSender<T>,
}

/// A receiving half. Mirrors [`tokio::sync::broadcast::Receiver`].
pub struct Receiver<T> {
    site: Site,
    inner: tokio_broadcast::Receiver<T>,
}

/// A broadcast channel keeping `capacity` values; the caller's location names it in profiles.
///
/// # Panics
///
/// As tokio's: if `capacity` is 0 or too large.
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let site = Location::caller();
    let (tx, rx) = tokio_broadcast::channel(capacity);
    (Sender { site, inner: tx }, Receiver { site, inner: rx })
}

impl<T> Sender<T> {
    /// A sender with no receiver; `subscribe` makes them.
    ///
    /// # Panics
    ///
    /// As tokio's: if `capacity` is 0 or too large.
    #[track_caller]
    pub fn new(capacity: usize) -> Sender<T> {
        Sender {
            site: Location::caller(),
            inner: tokio_broadcast::Sender::new(capacity),
        }
    }

    /// Sends a value to every receiver; returns how many there are.
    ///
    /// # Errors
    ///
    /// The value, if there is no receiver.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send(value)
    }

    /// A new receiver, which sees values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver {
            site: self.site,
            inner: self.inner.subscribe(),
        }
    }

    /// A sender that does not keep the channel open.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            site: self.site,
            inner: self.inner.downgrade(),
        }
    }

    /// Values queued for the slowest receiver.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no value is queued.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Receivers now.
    pub fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }

    /// Whether both send to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Waits until every receiver is gone (a wait, `kind=chan-send`).
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        let what = What::Other(self.site, Kind::ChanSend);
        Broadcasting(Waited::new(what, self.inner.closed(), |r| r))
    }

    /// Live senders.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Weak senders.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

impl<T> WeakSender<T> {
    /// A sender again, if the channel is still open.
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.inner.upgrade().map(|inner| Sender {
            site: self.site,
            inner,
        })
    }

    /// Live senders.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Weak senders.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

impl<T> Receiver<T> {
    /// Values queued for this receiver.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no value is queued for this receiver.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Whether both receive from the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Live senders.
    pub fn sender_strong_count(&self) -> usize {
        self.inner.sender_strong_count()
    }

    /// Weak senders.
    pub fn sender_weak_count(&self) -> usize {
        self.inner.sender_weak_count()
    }

    /// Whether every sender is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T: Clone> Receiver<T> {
    /// A new receiver of the same channel, which sees values sent from now on.
    pub fn resubscribe(&self) -> Self {
        Receiver {
            site: self.site,
            inner: self.inner.resubscribe(),
        }
    }

    /// Receives the next value, waiting while there is none (a wait, `kind=chan-recv`).
    /// Cancel safe.
    ///
    /// # Errors
    ///
    /// [`RecvError::Closed`], or [`RecvError::Lagged`] if values were missed.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        let what = What::Other(self.site, Kind::ChanRecv);
        Broadcasting(Waited::new(what, self.inner.recv(), |r| r))
    }

    /// Receives without waiting.
    ///
    /// # Errors
    ///
    /// Empty, closed, or lagged.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Receives from synchronous code, blocking the thread (a thread's wait).
    ///
    /// # Errors
    ///
    /// Closed, or lagged.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        match self.inner.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(_) => {
                let wait = holdup_core::hook::blocking(self.site, Kind::ChanRecv);
                let r = self.inner.blocking_recv();
                holdup_core::hook::woken(wait);
                r
            }
        }
    }
}

clone_with_site!(Sender, WeakSender);
debug_as_tokio!(Sender, WeakSender, Receiver);
