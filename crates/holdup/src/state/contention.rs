//! Per-primitive contention accounting: how many threads wait, since when, and how much waiting
//! a contended release ends.
//!
//! Go charges a contended release with the waiting that accrued among the waiters during the
//! critical section that just ended, so that the sum over all releases equals the total time
//! waiters spent waiting (go-semantics §1.3). Like Go's semaphore queue, this keeps the start
//! times of the oldest (`head`) and newest (`tail`) waiter, and at each contended release
//! charges
//!
//! ```text
//! d_head + (d_head + d_tail) / 2 * (waiters - 1)      (d_x = now - x)
//! ```
//!
//! then moves `head` and `tail` to the release time, so that the next release does not count
//! the same interval again (Go resets the head and tail waiters' `acquiretime` the same way).
//! Waiters that arrive during a critical section are assumed spread evenly between the oldest
//! and newest one, which is exact for a single waiter and for waiters that arrived together.
//!
//! Everything is a plain atomic: no lock, so a release with waiters costs a clock read, three
//! loads and three stores, and a waiter a clock read and two read-modify-writes. Races between
//! an arriving waiter and a release can misplace one waiter's start by the width of the race
//! (nanoseconds); they never corrupt the count.
//!
//! | field      | written by                              | read by                          |
//! |------------|-----------------------------------------|----------------------------------|
//! | `waiters`  | `enter` (+1), `leave` (-1)              | every release (one relaxed load) |
//! | `head`     | `enter` of the first waiter, `charge`   | `charge`                         |
//! | `tail`     | `enter`, `charge`                       | `charge`                         |
//! | `released` | `charge` (the last contended release)   | `leave` (when a waiter woke)     |

use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct Contention {
    waiters: AtomicU32,
    head: AtomicU64,
    tail: AtomicU64,
    released: AtomicU64,
}

macro_rules! contention_init {
    () => {
        Contention {
            waiters: AtomicU32::new(0),
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            released: AtomicU64::new(0),
        }
    };
}

impl Contention {
    #[cfg(not(holdup_loom))]
    pub(crate) const fn new() -> Self {
        contention_init!()
    }

    #[cfg(holdup_loom)]
    pub(crate) fn new() -> Self {
        contention_init!()
    }

    /// Whether any waiter is registered: the one relaxed load a release pays.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters() != 0
    }

    /// The number of registered waiters.
    #[inline]
    pub(crate) fn waiters(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// A thread starts waiting at `now`.
    pub(crate) fn enter(&self, now: u64) {
        if self.waiters.fetch_add(1, Ordering::Relaxed) == 0 {
            self.head.store(now, Ordering::Relaxed);
        }
        self.tail.store(now, Ordering::Relaxed);
    }

    /// A registered thread stops waiting (it acquired the primitive). Returns the time of the
    /// last contended release, which is when this waiter was woken if it is at least the time
    /// the waiter entered.
    pub(crate) fn leave(&self) -> u64 {
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        self.released.load(Ordering::Relaxed)
    }

    /// A contended release at `now`, before the unlock: the waiting that accrued since the
    /// previous charge (in nanoseconds, summed over waiters), Go's way.
    pub(crate) fn charge(&self, now: u64) -> u64 {
        let n = u64::from(self.waiters());
        self.released.store(now, Ordering::Relaxed);
        if n == 0 {
            return 0;
        }
        // Loads and stores rather than swaps: a waiter arriving in between only moves its own
        // start to this release, and plain stores are cheaper than locked exchanges.
        let (head, tail) = (
            self.head.load(Ordering::Relaxed),
            self.tail.load(Ordering::Relaxed),
        );
        self.head.store(now, Ordering::Relaxed);
        self.tail.store(now, Ordering::Relaxed);
        // The newest waiter cannot have started before the oldest; a waiter whose start was
        // stored after a reset (a race) must not reach back before it.
        let tail = tail.max(head);
        let (d_head, d_tail) = (now.saturating_sub(head), now.saturating_sub(tail));
        d_head.saturating_add((d_head.saturating_add(d_tail) / 2).saturating_mul(n - 1))
    }
}

#[cfg(all(test, not(holdup_loom)))]
mod tests {
    use super::Contention;

    #[test]
    fn charges_the_waiting_of_each_critical_section() {
        let c = Contention::new();
        assert!(!c.has_waiters());
        c.enter(100);
        c.enter(110);
        assert!(c.has_waiters());
        // Two waiters from 100 and 110 until 200: 100 + (100 + 90) / 2.
        assert_eq!(c.charge(200), 195);
        // One waiter wakes; the release at 200 woke it.
        assert_eq!(c.leave(), 200);
        // The other waits through the next critical section, from the last release.
        assert_eq!(c.charge(300), 100);
        assert_eq!(c.leave(), 300);
        assert!(!c.has_waiters());
        // A release without waiters charges nothing; a new episode starts from its waiter.
        assert_eq!(c.charge(350), 0);
        c.enter(400);
        assert_eq!(c.charge(450), 50);
        assert_eq!(c.leave(), 450);
    }

    #[test]
    fn waiters_arriving_together_are_charged_exactly() {
        let c = Contention::new();
        for _ in 0..3 {
            c.enter(1_000);
        }
        assert_eq!(c.charge(201_000), 600_000);
    }

    #[test]
    fn out_of_order_times_never_underflow() {
        let c = Contention::new();
        c.enter(100);
        assert_eq!(c.charge(90), 0);
        assert_eq!(c.charge(150), 60);
        assert_eq!(c.leave(), 150);
        assert!(!c.has_waiters());
    }
}

#[cfg(all(test, holdup_loom))]
mod loom_tests {
    use super::Contention;
    use loom::sync::Arc;

    /// Whatever the interleaving of arriving waiters with a releasing holder, registrations
    /// balance, and no charge exceeds the waiters' count times the time span. (Times are read
    /// before the accounting runs, so an operation may carry an earlier time than one ordered
    /// before it; the accounting must stay bounded, not exact, then.)
    #[test]
    fn waiters_balance_and_charges_are_bounded() {
        loom::model(|| {
            let c = Arc::new(Contention::new());
            c.enter(5);
            let waiter = {
                let c = c.clone();
                loom::thread::spawn(move || {
                    c.enter(10);
                    c.leave()
                })
            };
            let charged = c.charge(20) + c.charge(35);
            let woken = waiter.join().unwrap();
            assert!(c.has_waiters(), "the first waiter is still registered");
            assert!([0, 20, 35].contains(&woken), "woken at {woken}");
            c.leave();
            assert!(!c.has_waiters());
            assert!(charged <= 2 * (35 - 5), "charged {charged}");
        });
    }
}
