//! The one place that names atomics: std's in normal builds, loom's under
//! `--cfg holdup_loom`, so the lock-free state machines in `state/` can be model-checked.

#[cfg(not(holdup_loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::atomic;
}

#[cfg(holdup_loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::atomic;
}
