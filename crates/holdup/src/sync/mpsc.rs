//! Multi-producer, single-consumer channels, a drop-in replacement for [`std::sync::mpsc`] that
//! feeds the block profile.
//!
//! A receive that finds the channel empty and waits is a block event (`kind=chan-recv`); a send
//! on a bounded channel that finds it full and waits is one too (`kind=chan-send`). Operations
//! that complete at once record nothing. The `lock` label of both is where the channel was
//! created.
//!
//! The error types are std's own, re-exported.
//!
//! ```
//! use holdup::sync::mpsc;
//!
//! let (tx, rx) = mpsc::sync_channel(1);
//! let producer = holdup::thread::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap();
//!     }
//! });
//! let got: Vec<i32> = rx.iter().collect();
//! producer.join().unwrap();
//! assert_eq!(got, [0, 1, 2]);
//! ```

use std::fmt;
use std::panic::Location;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::hook;
use holdup_core::Kind;
use holdup_core::Site;

/// The sending half of an unbounded [`channel`]; mirrors [`std::sync::mpsc::Sender`]. Sending
/// never blocks.
pub struct Sender<T> {
    inner: std_mpsc::Sender<T>,
    site: Site,
}

/// The sending half of a bounded [`sync_channel`]; mirrors [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    inner: std_mpsc::SyncSender<T>,
    site: Site,
}

/// The receiving half of a channel; mirrors [`std::sync::mpsc::Receiver`].
pub struct Receiver<T> {
    inner: std_mpsc::Receiver<T>,
    site: Site,
}

/// Creates an unbounded channel, as [`std::sync::mpsc::channel`]; the caller's location names it
/// in profiles.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let site = Location::caller();
    let (tx, rx) = std_mpsc::channel();
    (Sender { inner: tx, site }, Receiver { inner: rx, site })
}

/// Creates a channel holding at most `bound` messages (0 makes every send wait for a receive),
/// as [`std::sync::mpsc::sync_channel`]; the caller's location names it in profiles.
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let site = Location::caller();
    let (tx, rx) = std_mpsc::sync_channel(bound);
    (SyncSender { inner: tx, site }, Receiver { inner: rx, site })
}

impl<T> Sender<T> {
    /// Sends a value, as [`std::sync::mpsc::Sender::send`].
    ///
    /// # Errors
    ///
    /// Gives the value back if the receiver was dropped.
    #[inline]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        hook::wake(self.site, Kind::ChanRecv);
        self.inner.send(t)
    }
}

impl<T> SyncSender<T> {
    /// Sends a value, waiting while the channel is full, as
    /// [`std::sync::mpsc::SyncSender::send`].
    ///
    /// # Errors
    ///
    /// Gives the value back if the receiver was dropped.
    #[inline]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        hook::wake(self.site, Kind::ChanRecv);
        match self.inner.try_send(t) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(t)) => Err(SendError(t)),
            Err(TrySendError::Full(t)) => self.send_blocking(t),
        }
    }

    #[cold]
    #[inline(never)]
    fn send_blocking(&self, t: T) -> Result<(), SendError<T>> {
        let wait = hook::blocking(self.site, Kind::ChanSend);
        let r = self.inner.send(t);
        hook::woken(wait);
        r
    }

    /// Sends without waiting, as [`std::sync::mpsc::SyncSender::try_send`].
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the value.
    #[inline]
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        hook::wake(self.site, Kind::ChanRecv);
        self.inner.try_send(t)
    }
}

impl<T> Receiver<T> {
    /// Receives without waiting, as [`std::sync::mpsc::Receiver::try_recv`].
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        // Taking a message makes room for a sender waiting on a full channel.
        hook::wake(self.site, Kind::ChanSend);
        self.inner.try_recv()
    }

    /// Receives, waiting while the channel is empty, as [`std::sync::mpsc::Receiver::recv`].
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is empty and every sender is gone.
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        hook::wake(self.site, Kind::ChanSend);
        match self.inner.try_recv() {
            Ok(t) => Ok(t),
            Err(TryRecvError::Disconnected) => Err(RecvError),
            Err(TryRecvError::Empty) => self.recv_blocking(),
        }
    }

    #[cold]
    #[inline(never)]
    fn recv_blocking(&self) -> Result<T, RecvError> {
        let wait = hook::blocking(self.site, Kind::ChanRecv);
        let r = self.inner.recv();
        hook::woken(wait);
        r
    }

    /// Receives, waiting at most `timeout`, as [`std::sync::mpsc::Receiver::recv_timeout`].
    /// A wait that times out is a block event too.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match self.inner.try_recv() {
            Ok(t) => Ok(t),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {
                let wait = hook::blocking(self.site, Kind::ChanRecv);
                let r = self.inner.recv_timeout(timeout);
                hook::woken(wait);
                r
            }
        }
    }

    /// Receives, waiting until `deadline` at the latest (like the unstable
    /// `std::sync::mpsc::Receiver::recv_deadline`).
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    }

    /// An iterator that waits for each message until the channel is closed, as
    /// [`std::sync::mpsc::Receiver::iter`].
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages available now, as
    /// [`std::sync::mpsc::Receiver::try_iter`].
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender {
            inner: self.inner.clone(),
            site: self.site,
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> SyncSender<T> {
        SyncSender {
            inner: self.inner.clone(),
            site: self.site,
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// Waits for each message; see [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// Yields the messages available now; see [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// Owning iterator that waits for each message; see [`Receiver`]'s `IntoIterator`.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
