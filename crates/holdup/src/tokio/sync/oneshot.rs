//! A one-shot channel, a drop-in replacement for [`tokio::sync::oneshot`] whose receives (and
//! `Sender::closed`) feed the block profile (`kind=chan-recv`, `chan-send`) and show in dumps.
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let (tx, rx) = holdup::tokio::sync::oneshot::channel();
//! holdup::tokio::spawn(async move { tx.send(42).unwrap() });
//! assert_eq!(rx.await, Ok(42));
//! # });
//! ```

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use ::tokio::sync::oneshot as tokio_oneshot;
pub use ::tokio::sync::oneshot::error;

use super::super::wait::{Tracker, Waited, What};
use holdup_core::{Kind, Site};

/// Sends the channel's one value. Mirrors [`tokio::sync::oneshot::Sender`].
pub struct Sender<T> {
    site: Site,
    inner: tokio_oneshot::Sender<T>,
}

/// Receives the channel's one value: a future. Mirrors [`tokio::sync::oneshot::Receiver`].
pub struct Receiver<T> {
    inner: tokio_oneshot::Receiver<T>,
    tracker: Tracker<'static>,
}

/// A one-shot channel; the caller's location names it in profiles.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let site = Location::caller();
    let (tx, rx) = tokio_oneshot::channel();
    (
        Sender { site, inner: tx },
        Receiver {
            inner: rx,
            tracker: Tracker::new(What::Other(site, Kind::ChanRecv), None),
        },
    )
}

impl<T> Sender<T> {
    /// Sends the value; gives it back if the receiver is gone.
    ///
    /// # Errors
    ///
    /// The value, if the receiver was dropped or closed.
    pub fn send(self, t: T) -> Result<(), T> {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send(t)
    }

    /// Waits until the receiver is dropped or closed (a wait, `kind=chan-send`).
    #[track_caller]
    pub fn closed(&mut self) -> impl Future<Output = ()> + '_ {
        let what = What::Other(self.site, Kind::ChanSend);
        Waited::new(what, self.inner.closed(), drop)
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Polls for the receiver to be gone, as [`tokio::sync::oneshot::Sender::poll_closed`].
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll_closed(cx)
    }
}

impl<T> Receiver<T> {
    /// Stops the channel: a later send fails (a value sent already can still be received).
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// Whether the value was received or the channel closed (polling again would panic).
    pub fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }

    /// Whether no value is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Receives the value if it was sent, without waiting.
    ///
    /// # Errors
    ///
    /// [`error::TryRecvError`]: empty, or closed.
    pub fn try_recv(&mut self) -> Result<T, error::TryRecvError> {
        self.inner.try_recv()
    }

    /// Receives from synchronous code, blocking the thread (a thread's wait).
    ///
    /// # Errors
    ///
    /// [`error::RecvError`] if the sender was dropped without sending.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_recv(self) -> Result<T, error::RecvError> {
        let Receiver { mut inner, tracker } = self;
        // Whether it has to wait: one poll, with a waker that does nothing (blocking_recv polls
        // again with its own).
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(r) = Pin::new(&mut inner).poll(&mut cx) {
            return r;
        }
        let What::Other(site, kind) = tracker.what() else {
            unreachable!("a receiver's wait is a channel's");
        };
        let wait = holdup_core::hook::blocking(site, kind);
        let r = inner.blocking_recv();
        holdup_core::hook::woken(wait);
        r
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, error::RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll(cx);
        this.tracker.polled(r)
    }
}

debug_as_tokio!(T: Debug; Sender, Receiver);
