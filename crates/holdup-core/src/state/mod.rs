#![cfg_attr(holdup_loom, allow(dead_code, unused_imports))]

//! The lock-free state machines of holdup, kept apart so that loom can check them
//! (`RUSTFLAGS="--cfg holdup_loom" cargo test -p holdup-core --release --lib state`).
//! Everything here takes its atomics from `crate::loom` and its time as an argument.

mod budget;
mod contention;
mod pin;
mod publication;
mod settings;

pub(crate) use budget::Budget;
pub(crate) use contention::Contention;
pub(crate) use pin::WaitPin;
pub(crate) use publication::Publication;
pub(crate) use settings::{MAX_DEPTH, Settings};
