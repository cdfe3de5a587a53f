#![cfg_attr(holdup_loom, allow(dead_code, unused_imports))]

//! The lock-free state machines of holdup, kept apart so that loom can check them
//! (`RUSTFLAGS="--cfg holdup_loom" cargo test -p holdup-core --release --lib state`).
//! Everything here takes its atomics from `crate::loom` and its time as an argument.

mod budget;
mod contention;
mod pin;
mod publication;
mod settings;

pub use budget::Budget;
pub use contention::Contention;
pub use pin::WaitPin;
pub use publication::Publication;
pub use settings::{MAX_DEPTH, Settings};
