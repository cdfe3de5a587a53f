//! tokio, profiled: async primitives whose waits feed the profiles, and tasks holdup tracks
//! (feature `tokio`).
//!
//! Migrating is a `use` swap — `tokio::sync::Mutex` becomes [`holdup::tokio::sync::Mutex`](sync::Mutex),
//! `tokio::spawn` becomes [`holdup::tokio::spawn`](spawn) — on stable tokio (no
//! `tokio_unstable`).
//!
//! - A wait in an async primitive is timed from the future's first `Pending` to its
//!   completion and recorded (block profile) on the stack of the poll that completes it: the
//!   task's chain of async functions down to the `.await`, which profiles show like any call
//!   chain. Released locks that tasks waited for are recorded in the mutex profile, on the
//!   releasing task's stack. Go's rules and settings apply unchanged.
//! - A cancelled wait (its future dropped, by `select!` or a timeout) records nothing and
//!   leaves no wait behind.
//! - Tasks spawned through [`spawn`], [`task::Builder`], [`task::JoinSet`] and friends are
//!   registered with their spawn site, name and parent; tasks spawned with `tokio::spawn` are
//!   seen while they wait in a holdup primitive.
//! - [Dumps](crate::dump) list tasks beside threads (their waits, the holders of the locks they
//!   wait for, their stacks where their waits began), without polling or pausing them;
//!   deadlock cycles run through tasks and threads; [leak checks](crate::leak) report tasks
//!   left running.
//!
//! - A lock held by a task while it is suspended at an `.await` is told apart: mutex-profile
//!   samples carry `held=suspended` or `held=running`, and the `holdup` command's advice names
//!   the function that does it. (A blocking `holdup::sync` guard held across an `.await` is a
//!   bug clippy finds once told holdup's guard types: see the README.)
//!
//! The primitives: [`sync::Mutex`], [`sync::RwLock`], [`sync::Semaphore`], [`sync::Notify`],
//! [`sync::Barrier`], and the channels [`sync::mpsc`], [`sync::oneshot`], [`sync::watch`],
//! [`sync::broadcast`], each with tokio's API, errors and auto traits.
//!
//! ```
//! use holdup::tokio::sync::Mutex;
//! use std::sync::Arc;
//!
//! holdup::set_block_profile_rate(1);
//! let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
//! rt.block_on(async {
//!     let state = Arc::new(Mutex::new(0u64));
//!     let tasks: Vec<_> = (0..8)
//!         .map(|_| {
//!             let state = Arc::clone(&state);
//!             holdup::tokio::spawn(async move {
//!                 let mut s = state.lock().await;
//!                 tokio::task::yield_now().await; // held across an .await: others wait
//!                 *s += 1;
//!             })
//!         })
//!         .collect();
//!     for t in tasks {
//!         t.await.unwrap();
//!     }
//! });
//! let block = holdup::profile::block();
//! assert!(block.samples().any(|s| s.label("kind") == Some("mutex")));
//! ```

pub mod sync;
pub mod task;
mod wait;

pub use task::{instrument, spawn, spawn_blocking, spawn_local};
