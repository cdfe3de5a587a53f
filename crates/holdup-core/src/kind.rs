//! The vocabulary every front end records with: what kind of operation waited, and the labels
//! of an event.

use std::fmt;
use std::panic::Location;

/// A primitive's creation site (from `#[track_caller]` constructors): the `lock` label.
pub type Site = &'static Location<'static>;

/// What kind of operation waited or was waited on; every sample carries it as the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// Mutex lock and unlock.
    Mutex,
    /// Reader-writer lock: read lock and read unlock.
    RwLockRead,
    /// Reader-writer lock: write lock and write unlock.
    RwLockWrite,
    /// Condition variable waits.
    Condvar,
    /// Channel receives that blocked.
    ChanRecv,
    /// Channel sends that blocked (bounded channels).
    ChanSend,
    /// Barrier waits.
    Barrier,
    /// Waiting for a thread (or task) to finish.
    Join,
    /// Waiting for another thread to run a one-time initializer (`OnceLock`, `LazyLock`,
    /// `Once`).
    Once,
    /// Waiting for permits of a semaphore (`tokio::sync::Semaphore`).
    Semaphore,
    /// Waiting for a notification (`tokio::sync::Notify`).
    Notify,
    /// Reader-writer lock: upgradable read lock and its unlock (parking_lot's, lock_api's).
    RwLockUpgradable,
}

impl Kind {
    const ALL: [Kind; 12] = [
        Kind::Mutex,
        Kind::RwLockRead,
        Kind::RwLockWrite,
        Kind::Condvar,
        Kind::ChanRecv,
        Kind::ChanSend,
        Kind::Barrier,
        Kind::Join,
        Kind::Once,
        Kind::Semaphore,
        Kind::Notify,
        Kind::RwLockUpgradable,
    ];

    /// The kind whose `as u8` is `n`.
    #[doc(hidden)]
    pub fn from_u8(n: u8) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| *k as u8 == n)
    }

    /// The label value: `mutex`, `rwlock-read`, `rwlock-write`, `condvar`, `chan-recv`,
    /// `chan-send`, `barrier`, `join`, `once`, `semaphore`, `notify` or `rwlock-upgradable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mutex => "mutex",
            Kind::RwLockRead => "rwlock-read",
            Kind::RwLockWrite => "rwlock-write",
            Kind::Condvar => "condvar",
            Kind::ChanRecv => "chan-recv",
            Kind::ChanSend => "chan-send",
            Kind::Barrier => "barrier",
            Kind::Join => "join",
            Kind::Once => "once",
            Kind::Semaphore => "semaphore",
            Kind::Notify => "notify",
            Kind::RwLockUpgradable => "rwlock-upgradable",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The labels of an event: which primitive (its creation site), what operation, and for mutex
/// events of exclusive locks whether the guard was written through.
#[derive(Debug, Clone, Copy)]
pub struct Labels {
    /// Where the primitive was created.
    pub site: Site,
    /// The operation.
    pub kind: Kind,
    /// For mutex-profile events of exclusive locks: whether `&mut` was taken through the guard.
    pub mutated: Option<bool>,
    /// For mutex-profile events of locks held by a task (async runtimes): whether the task was
    /// suspended (at an `.await`) at least once while it held the lock.
    pub held_suspended: Option<bool>,
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.site, other.site)
            && self.kind == other.kind
            && self.mutated == other.mutated
            && self.held_suspended == other.held_suspended
    }
}

impl Eq for Labels {}
