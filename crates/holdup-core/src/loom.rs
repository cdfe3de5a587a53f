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

/// One step of a wait for another thread to leave a short critical section: spin a little,
/// then yield (under loom, always yield, so that the model explores the other thread).
#[inline]
pub(crate) fn spin_wait(spins: u32) {
    #[cfg(holdup_loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(holdup_loom))]
    if spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
