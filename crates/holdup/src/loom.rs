//! The one place that names atomics and cells: std's in normal builds, loom's under
//! `--cfg holdup_loom`, so the lock-free state machines in `state/` can be model-checked.

#[cfg(not(holdup_loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::atomic;
}

#[cfg(holdup_loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::atomic;
}

#[cfg(not(holdup_loom))]
pub(crate) mod cell {
    /// `UnsafeCell` with loom's closure-based access API.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a mutable pointer to the value. The caller upholds exclusive access.
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(holdup_loom)]
pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

#[cfg(not(holdup_loom))]
pub(crate) use std::hint::spin_loop;
#[cfg(not(holdup_loom))]
pub(crate) use std::thread::yield_now;

/// Under loom, spinning must yield to the model's scheduler.
#[cfg(holdup_loom)]
pub(crate) use loom::thread::yield_now as spin_loop;
#[cfg(holdup_loom)]
pub(crate) use loom::thread::yield_now;
