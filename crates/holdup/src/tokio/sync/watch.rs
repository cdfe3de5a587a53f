//! A single-producer, multi-consumer channel that keeps only the latest value, a drop-in
//! replacement for [`tokio::sync::watch`] whose waits for a change (`changed`, `wait_for`,
//! `Sender::closed`) feed the block profile (`kind=chan-recv`, `chan-send`) and show in dumps.
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let (tx, mut rx) = holdup::tokio::sync::watch::channel("hello");
//! holdup::tokio::spawn(async move { tx.send("world").unwrap() });
//! rx.changed().await.unwrap();
//! assert_eq!(*rx.borrow_and_update(), "world");
//! # });
//! ```

use std::future::Future;
use std::panic::Location;

use ::tokio::sync::watch as tokio_watch;
pub use ::tokio::sync::watch::{Ref, error};

use super::super::wait::{Waited, What, named_future};
use holdup_core::{Kind, Site};

named_future!(
    /// The future of a wait for a change, or for the receivers to be gone.
    Watching
);

/// The sending half. Mirrors [`tokio::sync::watch::Sender`].
pub struct Sender<T> {
    site: Site,
    inner: tokio_watch::Sender<T>,
}

/// A receiving half. Mirrors [`tokio::sync::watch::Receiver`].
pub struct Receiver<T> {
    site: Site,
    inner: tokio_watch::Receiver<T>,
}

/// A watch channel holding `init`; the caller's location names it in profiles.
#[track_caller]
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let site = Location::caller();
    let (tx, rx) = tokio_watch::channel(init);
    (Sender { site, inner: tx }, Receiver { site, inner: rx })
}

impl<T> Receiver<T> {
    /// The latest value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        self.inner.borrow()
    }

    /// The latest value, marked seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.inner.borrow_and_update()
    }

    /// Whether a value not seen yet was sent.
    ///
    /// # Errors
    ///
    /// If the sender is gone.
    pub fn has_changed(&self) -> Result<bool, error::RecvError> {
        self.inner.has_changed()
    }

    /// Whether the sender is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Marks the latest value not seen.
    pub fn mark_changed(&mut self) {
        self.inner.mark_changed();
    }

    /// Marks the latest value seen.
    pub fn mark_unchanged(&mut self) {
        self.inner.mark_unchanged();
    }

    /// Waits for a value not seen yet (a wait, `kind=chan-recv`). Cancel safe.
    ///
    /// # Errors
    ///
    /// If the sender is gone.
    #[track_caller]
    pub fn changed(&mut self) -> impl Future<Output = Result<(), error::RecvError>> + '_ {
        let what = What::Other(self.site, Kind::ChanRecv);
        Watching(Waited::new(what, self.inner.changed(), |r| r))
    }

    /// Waits until `f` accepts the latest value, and returns it (a wait, `kind=chan-recv`).
    ///
    /// # Errors
    ///
    /// If the sender is gone.
    #[track_caller]
    pub fn wait_for(
        &mut self,
        f: impl FnMut(&T) -> bool,
    ) -> impl Future<Output = Result<Ref<'_, T>, error::RecvError>> {
        let what = What::Other(self.site, Kind::ChanRecv);
        Watching(Waited::new(what, self.inner.wait_for(f), |r| r))
    }

    /// Whether both receive from the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T> Sender<T> {
    /// A sender with no receiver; `subscribe` makes them.
    #[track_caller]
    pub fn new(init: T) -> Sender<T> {
        Sender {
            site: Location::caller(),
            inner: tokio_watch::Sender::new(init),
        }
    }

    /// Sends a new value.
    ///
    /// # Errors
    ///
    /// The value, if every receiver is gone.
    pub fn send(&self, value: T) -> Result<(), error::SendError<T>> {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send(value)
    }

    /// Changes the value in place and notifies receivers.
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send_modify(modify);
    }

    /// Changes the value in place and notifies receivers if `modify` says it changed.
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send_if_modified(modify)
    }

    /// Replaces the value (even with no receiver) and returns the previous one.
    pub fn send_replace(&self, value: T) -> T {
        holdup_core::hook::wake(self.site, Kind::ChanRecv);
        self.inner.send_replace(value)
    }

    /// The latest value.
    pub fn borrow(&self) -> Ref<'_, T> {
        self.inner.borrow()
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Waits until every receiver is gone (a wait, `kind=chan-send`).
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        let what = What::Other(self.site, Kind::ChanSend);
        Watching(Waited::new(what, self.inner.closed(), |r| r))
    }

    /// A new receiver, which has seen the latest value.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver {
            site: self.site,
            inner: self.inner.subscribe(),
        }
    }

    /// Receivers now.
    pub fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }

    /// Senders now.
    pub fn sender_count(&self) -> usize {
        self.inner.sender_count()
    }

    /// Whether both send to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T: Default> Default for Sender<T> {
    #[track_caller]
    fn default() -> Self {
        Sender::new(T::default())
    }
}

clone_with_site!(Sender, Receiver);
debug_as_tokio!(T: Debug; Sender, Receiver);
