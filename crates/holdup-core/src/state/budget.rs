//! A bounded counter: how many profile buckets exist, so memory stays bounded. Past the bound,
//! events go to an overflow bucket and are counted, never dropped silently.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
}

impl Budget {
    #[cfg(not(holdup_loom))]
    pub(crate) const fn new() -> Self {
        Budget {
            used: AtomicUsize::new(0),
        }
    }

    #[cfg(holdup_loom)]
    pub(crate) fn new() -> Self {
        Budget {
            used: AtomicUsize::new(0),
        }
    }

    /// Takes one unit if fewer than `max` are taken.
    pub(crate) fn try_take(&self, max: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, holdup_loom))]
mod loom_tests {
    use super::Budget;
    use loom::sync::Arc;

    #[test]
    fn never_exceeds_the_bound() {
        loom::model(|| {
            let b = Arc::new(Budget::new());
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let b = b.clone();
                    loom::thread::spawn(move || b.try_take(2) as usize)
                })
                .collect();
            let taken: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(taken, 2);
            assert_eq!(b.used(), 2);
        });
    }
}
