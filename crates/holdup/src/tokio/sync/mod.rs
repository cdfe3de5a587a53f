//! Async synchronization primitives: a mirror of [`tokio::sync`] whose waits feed the profiles
//! and whose holders show in dumps.
//!
//! Migrating is a `use` swap: `use tokio::sync::Mutex` becomes `use holdup::tokio::sync::Mutex`.
//! Each type wraps tokio's own (fairness, cancel safety and the coop budget are tokio's) and
//! records its creation site (`#[track_caller]` constructors) as the `lock` label.

mod mutex;

pub use mutex::{
    MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard, TryLockError,
};
mod semaphore;

pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
