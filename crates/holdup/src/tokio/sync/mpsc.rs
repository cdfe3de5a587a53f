//! Multi-producer, single-consumer channels, a drop-in replacement for [`tokio::sync::mpsc`]
//! whose waits feed the block profile and show in dumps: a receive that finds the channel
//! empty (`kind=chan-recv`) and a send (or `reserve`) that finds a bounded channel full
//! (`kind=chan-send`), timed from the first `Pending` to completion. The `lock` label is where
//! the channel was created. A cancelled send or receive records nothing.
//!
//! ```
//! use holdup::tokio::sync::mpsc;
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let (tx, mut rx) = mpsc::channel(4);
//! holdup::tokio::spawn(async move {
//!     for i in 0..10 {
//!         tx.send(i).await.unwrap(); // waits while 4 are queued
//!     }
//! });
//! let mut sum = 0;
//! while let Some(i) = rx.recv().await {
//!     sum += i;
//! }
//! assert_eq!(sum, 45);
//! # });
//! ```

use std::future::Future;
use std::panic::Location;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::sync::mpsc as tokio_mpsc;
pub use ::tokio::sync::mpsc::{Permit, PermitIterator, error};

use super::super::wait::{Tracker, Waited, What, named_future};
use error::{SendError, SendTimeoutError, TryRecvError, TrySendError};
use holdup_core::{Kind, Site};

named_future!(
    /// The future of a send (or a reservation) that may wait for room.
    Sending
);
named_future!(
    /// The future of a receive that may wait for a message.
    Receiving
);

/// The sending half of a bounded channel. Mirrors [`tokio::sync::mpsc::Sender`].
pub struct Sender<T> {
    site: Site,
    inner: tokio_mpsc::Sender<T>,
}

/// A sender that does not keep the channel open. Mirrors [`tokio::sync::mpsc::WeakSender`].
pub struct WeakSender<T> {
    site: Site,
    inner: tokio_mpsc::WeakSender<T>,
}

/// A reserved slot owning its sender, from [`Sender::reserve_owned`]. Mirrors
/// [`tokio::sync::mpsc::OwnedPermit`].
pub struct OwnedPermit<T> {
    site: Site,
    inner: tokio_mpsc::OwnedPermit<T>,
}

/// The receiving half of a bounded channel. Mirrors [`tokio::sync::mpsc::Receiver`].
pub struct Receiver<T> {
    inner: tokio_mpsc::Receiver<T>,
    /// The wait of `poll_recv` callers (streams), across polls.
    polling: Tracker<'static>,
}

/// The sending half of an unbounded channel (sends never wait). Mirrors
/// [`tokio::sync::mpsc::UnboundedSender`].
pub struct UnboundedSender<T> {
    site: Site,
    inner: tokio_mpsc::UnboundedSender<T>,
}

/// A sender that does not keep an unbounded channel open. Mirrors
/// [`tokio::sync::mpsc::WeakUnboundedSender`].
pub struct WeakUnboundedSender<T> {
    site: Site,
    inner: tokio_mpsc::WeakUnboundedSender<T>,
}

/// The receiving half of an unbounded channel. Mirrors
/// [`tokio::sync::mpsc::UnboundedReceiver`].
pub struct UnboundedReceiver<T> {
    inner: tokio_mpsc::UnboundedReceiver<T>,
    polling: Tracker<'static>,
}

/// A bounded channel of `buffer` messages; the caller's location names it in profiles.
///
/// # Panics
///
/// As tokio's: if `buffer` is 0 or above `Semaphore::MAX_PERMITS`.
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    let site = Location::caller();
    let (tx, rx) = tokio_mpsc::channel(buffer);
    (Sender { site, inner: tx }, Receiver::wrap(site, rx))
}

/// An unbounded channel; the caller's location names it in profiles.
#[track_caller]
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let site = Location::caller();
    let (tx, rx) = tokio_mpsc::unbounded_channel();
    (
        UnboundedSender { site, inner: tx },
        UnboundedReceiver::wrap(site, rx),
    )
}

/// A send's or reservation's wait.
fn sends(site: Site) -> What<'static> {
    What::Other(site, Kind::ChanSend)
}

/// A receive's wait.
fn receives(site: Site) -> What<'static> {
    What::Other(site, Kind::ChanRecv)
}

/// Runs `blocking` (a blocking receive or send) as a thread's wait unless `ready` says it will
/// not wait.
fn blocking<R>(site: Site, kind: Kind, ready: bool, blocking: impl FnOnce() -> R) -> R {
    if ready {
        return blocking();
    }
    let wait = holdup_core::hook::blocking(site, kind);
    let r = blocking();
    holdup_core::hook::woken(wait);
    r
}

impl<T> Sender<T> {
    /// Sends a message, waiting while the channel is full. Not cancel safe about the place in
    /// the queue, as tokio's (the message is dropped if the future is).
    ///
    /// # Errors
    ///
    /// The message, if the receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        Sending(Waited::new(sends(self.site), self.inner.send(value), |r| r))
    }

    /// Waits until the receiver is gone (a wait, `kind=chan-send`).
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        Sending(Waited::new(sends(self.site), self.inner.closed(), |r| r))
    }

    /// Sends without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the message.
    pub fn try_send(&self, message: T) -> Result<(), TrySendError<T>> {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.try_send(message)
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError`] with the message.
    #[track_caller]
    pub fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + '_ {
        let fut = self.inner.send_timeout(value, timeout);
        Sending(Waited::new(sends(self.site), fut, |r| r))
    }

    /// Sends from synchronous code, blocking the thread while the channel is full.
    ///
    /// # Errors
    ///
    /// The message, if the receiver is gone.
    ///
    /// # Panics
    ///
    /// As tokio's: inside an async execution context.
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        let ready = self.inner.capacity() > 0 || self.inner.is_closed();
        blocking(self.site, Kind::ChanSend, ready, || {
            self.inner.blocking_send(value)
        })
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Reserves a slot, waiting while the channel is full.
    ///
    /// # Errors
    ///
    /// If the receiver is gone.
    #[track_caller]
    pub fn reserve(&self) -> impl Future<Output = Result<Permit<'_, T>, SendError<()>>> {
        Sending(Waited::new(sends(self.site), self.inner.reserve(), |r| r))
    }

    /// Reserves `n` slots, waiting while there is not room for all of them.
    ///
    /// # Errors
    ///
    /// If the receiver is gone, or `n` exceeds the channel's capacity.
    #[track_caller]
    pub fn reserve_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<PermitIterator<'_, T>, SendError<()>>> {
        Sending(Waited::new(
            sends(self.site),
            self.inner.reserve_many(n),
            |r| r,
        ))
    }

    /// Reserves a slot with a permit that owns the sender.
    ///
    /// # Errors
    ///
    /// If the receiver is gone.
    #[track_caller]
    pub fn reserve_owned(self) -> impl Future<Output = Result<OwnedPermit<T>, SendError<()>>> {
        let site = self.site;
        let fut = self.inner.reserve_owned();
        Sending(Waited::new(
            sends(site),
            fut,
            move |r: Result<_, SendError<()>>| r.map(|inner| OwnedPermit { site, inner }),
        ))
    }

    /// Reserves a slot without waiting.
    ///
    /// # Errors
    ///
    /// Full or closed.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.inner.try_reserve()
    }

    /// Reserves `n` slots without waiting.
    ///
    /// # Errors
    ///
    /// Full or closed.
    pub fn try_reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, TrySendError<()>> {
        self.inner.try_reserve_many(n)
    }

    /// Reserves a slot with a permit that owns the sender, without waiting.
    ///
    /// # Errors
    ///
    /// Full or closed, with the sender.
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        let site = self.site;
        let wrap = |inner| Sender { site, inner };
        match self.inner.try_reserve_owned() {
            Ok(inner) => Ok(OwnedPermit { site, inner }),
            Err(TrySendError::Full(s)) => Err(TrySendError::Full(wrap(s))),
            Err(TrySendError::Closed(s)) => Err(TrySendError::Closed(wrap(s))),
        }
    }

    /// Whether both senders send to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// A sender that does not keep the channel open.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            site: self.site,
            inner: self.inner.downgrade(),
        }
    }

    /// The channel's bound.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }

    /// Live senders of the channel.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Weak senders of the channel.
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

    /// Live senders of the channel.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Weak senders of the channel.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

impl<T> OwnedPermit<T> {
    /// Sends into the reserved slot; gives the sender back.
    pub fn send(self, value: T) -> Sender<T> {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        Sender {
            site: self.site,
            inner: self.inner.send(value),
        }
    }

    /// Gives the slot back unused; gives the sender back.
    pub fn release(self) -> Sender<T> {
        Sender {
            site: self.site,
            inner: self.inner.release(),
        }
    }

    /// Whether both permits are for the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Whether this permit is for `sender`'s channel.
    pub fn same_channel_as_sender(&self, sender: &Sender<T>) -> bool {
        self.inner.same_channel_as_sender(&sender.inner)
    }
}

impl<T> UnboundedSender<T> {
    /// Sends a message (never waits).
    ///
    /// # Errors
    ///
    /// The message, if the receiver is gone.
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send(message)
    }

    /// Waits until the receiver is gone (a wait, `kind=chan-send`).
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        Sending(Waited::new(sends(self.site), self.inner.closed(), |r| r))
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether both senders send to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// A sender that does not keep the channel open.
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            site: self.site,
            inner: self.inner.downgrade(),
        }
    }

    /// Live senders of the channel.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Weak senders of the channel.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

impl<T> WeakUnboundedSender<T> {
    /// A sender again, if the channel is still open.
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.inner.upgrade().map(|inner| UnboundedSender {
            site: self.site,
            inner,
        })
    }

    /// Live senders of the channel.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Weak senders of the channel.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

/// The receiving methods both receivers share (tokio's are the same for both).
macro_rules! receiver {
    ($name:ident, $tokio:ident) => {
        impl<T> $name<T> {
            fn wrap(site: Site, inner: tokio_mpsc::$tokio<T>) -> Self {
                $name {
                    inner,
                    polling: Tracker::new(receives(site), None),
                }
            }

            fn site(&self) -> Site {
                match self.polling.what() {
                    What::Other(site, _) => site,
                    What::Lock(..) => unreachable!("a receiver's wait is a channel's"),
                }
            }

            /// Receives the next message, waiting while the channel is empty; `None` once it
            /// is closed and drained. Cancel safe.
            #[track_caller]
            pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
                let site = self.site();
                // Taking a message makes room for a sender waiting on a full channel.
                holdup_core::hook::wake(site, Kind::ChanSend);
                Receiving(Waited::new(receives(site), self.inner.recv(), |r| r))
            }

            /// Receives up to `limit` messages into `buffer`, waiting while the channel is
            /// empty; 0 once it is closed and drained (or `limit` is 0). Cancel safe.
            #[track_caller]
            pub fn recv_many<'a>(
                &'a mut self,
                buffer: &'a mut Vec<T>,
                limit: usize,
            ) -> impl Future<Output = usize> + 'a {
                let site = self.site();
                Receiving(Waited::new(
                    receives(site),
                    self.inner.recv_many(buffer, limit),
                    |r| r,
                ))
            }

            /// Receives a message without waiting.
            ///
            /// # Errors
            ///
            /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
            pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
                self.inner.try_recv()
            }

            /// Receives from synchronous code, blocking the thread while the channel is empty.
            ///
            /// # Panics
            ///
            /// As tokio's: inside an async execution context.
            pub fn blocking_recv(&mut self) -> Option<T> {
                let ready = !self.inner.is_empty() || self.inner.is_closed();
                let site = self.site();
                blocking(site, Kind::ChanRecv, ready, || self.inner.blocking_recv())
            }

            /// As [`recv_many`](Self::recv_many), blocking the thread.
            ///
            /// # Panics
            ///
            /// As tokio's: inside an async execution context.
            pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
                let ready = !self.inner.is_empty() || self.inner.is_closed();
                let site = self.site();
                blocking(site, Kind::ChanRecv, ready, || {
                    self.inner.blocking_recv_many(buffer, limit)
                })
            }

            /// Closes the channel: senders fail; queued messages can still be received.
            pub fn close(&mut self) {
                self.inner.close();
            }

            /// Whether the channel is closed (every sender gone, or `close` called).
            pub fn is_closed(&self) -> bool {
                self.inner.is_closed()
            }

            /// Whether no message is queued.
            pub fn is_empty(&self) -> bool {
                self.inner.is_empty()
            }

            /// Messages queued.
            pub fn len(&self) -> usize {
                self.inner.len()
            }

            /// Polls for the next message, as tokio's `poll_recv` (for streams): a `Pending`
            /// starts a wait that the `Ready` ends.
            pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
                let r = self.inner.poll_recv(cx);
                self.polling.polled(r)
            }

            /// Polls for up to `limit` messages, as tokio's `poll_recv_many`.
            pub fn poll_recv_many(
                &mut self,
                cx: &mut Context<'_>,
                buffer: &mut Vec<T>,
                limit: usize,
            ) -> Poll<usize> {
                let r = self.inner.poll_recv_many(cx, buffer, limit);
                self.polling.polled(r)
            }

            /// Live senders of the channel.
            pub fn sender_strong_count(&self) -> usize {
                self.inner.sender_strong_count()
            }

            /// Weak senders of the channel.
            pub fn sender_weak_count(&self) -> usize {
                self.inner.sender_weak_count()
            }
        }
    };
}

receiver!(Receiver, Receiver);
receiver!(UnboundedReceiver, UnboundedReceiver);

impl<T> Receiver<T> {
    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The channel's bound.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }
}

clone_with_site!(Sender, WeakSender, UnboundedSender, WeakUnboundedSender);
debug_as_tokio!(
    Sender,
    WeakSender,
    UnboundedSender,
    WeakUnboundedSender,
    OwnedPermit,
    Receiver,
    UnboundedReceiver
);
