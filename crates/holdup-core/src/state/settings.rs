//! The profiler's run-time settings, with Go's semantics for the two rates.

use crate::loom::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Default stack depth, as Go's `profstackdepth`.
pub(crate) const DEFAULT_DEPTH: usize = 128;
/// Largest stack depth accepted, as Go's `maxProfStackDepth`.
pub(crate) const MAX_DEPTH: usize = 1024;
/// Default bound on profile buckets per profile.
pub(crate) const DEFAULT_MAX_BUCKETS: usize = 8192;

#[derive(Debug)]
pub(crate) struct Settings {
    mutex_fraction: AtomicI64,
    block_rate: AtomicI64,
    depth: AtomicUsize,
    max_buckets: AtomicUsize,
}

macro_rules! settings_init {
    () => {
        Settings {
            mutex_fraction: AtomicI64::new(0),
            block_rate: AtomicI64::new(0),
            depth: AtomicUsize::new(DEFAULT_DEPTH),
            max_buckets: AtomicUsize::new(DEFAULT_MAX_BUCKETS),
        }
    };
}

impl Settings {
    #[cfg(not(holdup_loom))]
    pub(crate) const fn new() -> Self {
        settings_init!()
    }

    #[cfg(holdup_loom)]
    pub(crate) fn new() -> Self {
        settings_init!()
    }

    /// Go's `SetMutexProfileFraction`: a negative rate only reads; otherwise stores it and
    /// returns the previous value.
    pub(crate) fn set_mutex_fraction(&self, rate: i64) -> i64 {
        if rate < 0 {
            self.mutex_fraction.load(Ordering::Acquire)
        } else {
            self.mutex_fraction.swap(rate, Ordering::AcqRel)
        }
    }

    /// Acquire: a rate seen on is published after the clock and unwinder it needs.
    #[inline]
    pub(crate) fn mutex_fraction(&self) -> i64 {
        self.mutex_fraction.load(Ordering::Acquire)
    }

    /// Go's `SetBlockProfileRate`: `<= 0` turns the profile off.
    pub(crate) fn set_block_rate(&self, rate_ns: i64) {
        self.block_rate.store(rate_ns.max(0), Ordering::Release);
    }

    /// Acquire: a rate seen on is published after the clock and unwinder it needs.
    #[inline]
    pub(crate) fn block_rate(&self) -> i64 {
        self.block_rate.load(Ordering::Acquire)
    }

    /// Whether either profile records; waits are only timed when one does.
    #[inline]
    pub(crate) fn any_on(&self) -> bool {
        self.mutex_fraction() > 0 || self.block_rate() > 0
    }

    pub(crate) fn set_depth(&self, depth: usize) -> usize {
        self.depth
            .swap(depth.clamp(1, MAX_DEPTH), Ordering::Relaxed)
    }

    pub(crate) fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    pub(crate) fn set_max_buckets(&self, n: usize) -> usize {
        self.max_buckets.swap(n.max(1), Ordering::Relaxed)
    }

    pub(crate) fn max_buckets(&self) -> usize {
        self.max_buckets.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, holdup_loom))]
mod loom_tests {
    use super::Settings;
    use loom::sync::Arc;

    /// Concurrent setters see each other's values as "previous": the returned values and the
    /// final value form one chain, as with Go's atomic store-and-return.
    #[test]
    fn fraction_swaps_form_a_chain() {
        loom::model(|| {
            let s = Arc::new(Settings::new());
            let a = {
                let s = s.clone();
                loom::thread::spawn(move || s.set_mutex_fraction(5))
            };
            let b = {
                let s = s.clone();
                loom::thread::spawn(move || s.set_mutex_fraction(7))
            };
            let (pa, pb) = (a.join().unwrap(), b.join().unwrap());
            let last = s.set_mutex_fraction(-1);
            let chain = [(pa, pb, last)];
            assert!(
                chain.contains(&(0, 5, 7)) || chain.contains(&(7, 0, 5)),
                "previous values {pa}, {pb}, final {last}"
            );
            assert_eq!(s.set_mutex_fraction(-3), last);
        });
    }
}
