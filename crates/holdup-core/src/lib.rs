//! The recording core of [holdup](https://docs.rs/holdup): what every front end records
//! through. Applications use the `holdup` crate; this one is for code that makes primitives.
//!
//! A lock of any kind (a `lock_api::RawMutex`, another runtime's primitive) records into the same
//! mutex and block profiles, the same thread registry and the same dumps as `holdup::sync` by
//! embedding a [`LockMeta`] and calling the hooks around its slow paths:
//!
//! | hook                                  | called when                                         |
//! |---------------------------------------|-----------------------------------------------------|
//! | [`hook::spin`]                        | a lock's fast path failed: spin for it first        |
//! | [`hook::contended`]                   | spinning did not get it either, before blocking     |
//! | [`hook::acquired`]                    | the lock waited for is now held                     |
//! | [`LockMeta::set_holder`]              | an exclusive guard is made                          |
//! | [`hook::release`]                     | a guard is dropped (wrapping the unlock)            |
//! | [`hook::blocking`] / [`hook::woken`]  | around any other wait (condvar, channel, join, ...) |
//! | [`hook::wake`]                        | a send or notify, which ends such waits (the trace)  |
//!
//! ```
//! use holdup_core::{hook, Kind, LockMeta};
//!
//! /// A spin lock that shows up in holdup's profiles and dumps.
//! struct SpinLock {
//!     locked: std::sync::atomic::AtomicBool,
//!     meta: LockMeta,
//! }
//!
//! impl SpinLock {
//!     #[track_caller]
//!     const fn new() -> Self {
//!         SpinLock { locked: std::sync::atomic::AtomicBool::new(false), meta: LockMeta::new() }
//!     }
//!
//!     fn try_lock(&self) -> bool {
//!         use std::sync::atomic::Ordering;
//!         self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
//!     }
//!
//!     fn with<R>(&self, f: impl FnOnce() -> R) -> R {
//!         // A lock won while spinning was not waited for (Go's rule): only a lock that
//!         // spinning does not get is a wait, timed and profiled.
//!         if !self.try_lock() && hook::spin(&self.meta, || self.try_lock().then_some(())).is_none() {
//!             let wait = hook::contended(&self.meta, Kind::Mutex);
//!             while !self.try_lock() {
//!                 std::thread::yield_now();
//!             }
//!             hook::acquired(wait);
//!         }
//!         self.meta.set_holder();
//!         let r = f();
//!         hook::release(&self.meta, Kind::Mutex, hook::Access::Exclusive { written: false }, || {
//!             self.locked.store(false, std::sync::atomic::Ordering::Release)
//!         });
//!         r
//!     }
//! }
//!
//! static LOCK: SpinLock = SpinLock::new();
//! assert_eq!(LOCK.with(|| 1 + 1), 2);
//! ```
//!
//! # One core per process
//!
//! The profiles, their settings, the registry of threads and tasks and the dump's signal
//! handler are global state, and they live only here: two versions of the `holdup` facade in
//! one program share one set of profiles as long as they share this crate (the pattern of `log`
//! and `tracing-core`).
//!
//! # The facade's interface
//!
//! The modules hidden from these docs (`registry`, `collector`, `table`, `stack`, `capture`,
//! ...) are the interface between this crate and `holdup`: public because `holdup` is another
//! crate, not meant for other users, and free to change with `holdup`.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod loom;
mod state;

// Under loom (`--cfg holdup_loom`) only the lock-free state and its models are built. The
// modules are declared one by one, not through a macro, so that rustfmt sees them.
#[cfg(all(target_os = "linux", target_arch = "x86_64", not(holdup_loom)))]
#[doc(hidden)]
pub mod capture;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod clock;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod collector;
#[cfg(not(holdup_loom))]
mod contended;
#[cfg(all(target_os = "linux", target_arch = "x86_64", not(holdup_loom)))]
#[doc(hidden)]
pub mod cpu;
#[cfg(not(holdup_loom))]
pub mod hook;
#[cfg(not(holdup_loom))]
mod kind;
#[cfg(not(holdup_loom))]
mod meta;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod modules;
#[cfg(not(holdup_loom))]
mod owner;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod registry;
#[cfg(not(holdup_loom))]
mod settings;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod stack;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod table;
#[cfg(not(holdup_loom))]
#[doc(hidden)]
pub mod trace;

#[cfg(not(holdup_loom))]
pub use kind::{Kind, Labels, Site};
#[cfg(not(holdup_loom))]
pub use meta::LockMeta;
#[cfg(not(holdup_loom))]
pub use owner::Owner;
#[cfg(not(holdup_loom))]
pub use settings::{
    block_profile_rate, mutex_profile_fraction, set_block_profile_rate, set_max_buckets,
    set_mutex_profile_fraction, set_stack_depth, set_unwinder, stack_depth, unwinder,
};
#[cfg(not(holdup_loom))]
pub use stack::Unwinder;
