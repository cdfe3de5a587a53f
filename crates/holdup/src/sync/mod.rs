//! Synchronization primitives: a mirror of [`std::sync`] whose waits feed the profiles.
//!
//! Migrating is a `use` swap: `use std::sync::{Arc, Mutex}` becomes
//! `use holdup::sync::{Arc, Mutex}`. Every type here has std's API, poisoning and auto traits;
//! the ones that can make a thread wait ([`Mutex`], [`RwLock`], [`Condvar`], [`Barrier`],
//! [`OnceLock`], [`LazyLock`], [`Once`], [`mpsc`]) are holdup's own wrappers, the rest
//! ([`Arc`], [`Weak`], [`atomic`], the result and error types) are std's, re-exported.
//!
//! Each wrapper records its creation site (`#[track_caller]` constructors, including `const fn
//! new` in a `static`, which gets the site at compile time) and reports it as the `lock` label.

mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod rwlock;

pub use barrier::Barrier;
pub use condvar::Condvar;
pub use mutex::{Mutex, MutexGuard};
pub use once::{LazyLock, Once, OnceLock};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use std::sync::{
    Arc, BarrierWaitResult, LockResult, OnceState, PoisonError, TryLockError, TryLockResult,
    WaitTimeoutResult, Weak, atomic,
};
