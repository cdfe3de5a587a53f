//! Per-primitive contention accounting: how many threads wait, since when, and how much waiting
//! a contended release ends.
//!
//! Go charges a contended release with the waiting that accrued among the waiters during the
//! critical section that just ended, so that the sum over all releases equals the total time
//! waiters spent waiting (Go's `semrelease` accounting in `runtime/sema.go`). Like Go's semaphore queue, this keeps the start
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
//! Everything is a plain atomic, so the state needs no lock of its own. It lives in an entry
//! of the contention table (`crate::contended`) while the lock has waiters: waiters enter and
//! leave under the table's shard lock, releases charge without it, before their unlock. The
//! orderings below keep it correct without any lock (the loom models check it alone). Races
//! between an arriving waiter and a release can misplace one waiter's start by the width of the
//! race (nanoseconds); they never corrupt the count, never charge an interval twice (concurrent
//! read unlocks swap the times), and never reach back into an earlier episode (a waiter's start
//! is published before its registration).
//!
//! | field      | written by                              | read by                          |
//! |------------|-----------------------------------------|----------------------------------|
//! | `waiters`  | `enter` (+1), `leave` (-1)              | `charge`, the table (`leave`)    |
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

    /// Back to no waiters and no times, for an entry given to another lock (under the table's
    /// shard lock, before the entry is published, so no waiter or release uses it).
    pub(crate) fn reset(&self) {
        self.waiters.store(0, Ordering::Relaxed);
        self.head.store(0, Ordering::Relaxed);
        self.tail.store(0, Ordering::Relaxed);
        self.released.store(0, Ordering::Relaxed);
    }

    /// Whether any waiter is registered.
    #[cfg(test)]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters() != 0
    }

    /// The number of registered waiters.
    #[inline]
    pub(crate) fn waiters(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// A thread starts waiting at `now`. Its start is stored before its registration is
    /// published (release), so a release that sees it waiting (acquire) also sees when it began
    /// and never charges from a previous episode's times.
    pub(crate) fn enter(&self, now: u64) {
        let mut n = self.waiters.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                self.head.store(now, Ordering::Relaxed);
            }
            self.tail.store(now, Ordering::Relaxed);
            match self
                .waiters
                .compare_exchange_weak(n, n + 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(current) => n = current,
            }
        }
    }

    /// A registered thread stops waiting (it acquired the primitive, or gave up because the
    /// wait unwound). Returns the time of the last contended release, which is when this waiter
    /// was woken if it is at least the time the waiter entered.
    pub(crate) fn leave(&self) -> u64 {
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        self.released.load(Ordering::Relaxed)
    }

    /// A contended release at `now`, before the unlock: the waiting that accrued since the
    /// previous charge (in nanoseconds, summed over waiters), Go's way. `exclusive` releases
    /// (mutex, write lock) never run concurrently with another release of the same lock.
    pub(crate) fn charge(&self, now: u64, exclusive: bool) -> u64 {
        let n = u64::from(self.waiters.load(Ordering::Acquire));
        self.released.store(now, Ordering::Relaxed);
        if n == 0 {
            return 0;
        }
        let (head, tail) = if exclusive {
            let times = (
                self.head.load(Ordering::Relaxed),
                self.tail.load(Ordering::Relaxed),
            );
            self.head.store(now, Ordering::Relaxed);
            self.tail.store(now, Ordering::Relaxed);
            times
        } else {
            // Releases of a read lock run concurrently: swap, so that each interval is charged
            // to one of them only.
            (
                self.head.swap(now, Ordering::Relaxed),
                self.tail.swap(now, Ordering::Relaxed),
            )
        };
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
        assert_eq!(c.charge(200, true), 195);
        // One waiter wakes; the release at 200 woke it.
        assert_eq!(c.leave(), 200);
        // The other waits through the next critical section, from the last release.
        assert_eq!(c.charge(300, true), 100);
        assert_eq!(c.leave(), 300);
        assert!(!c.has_waiters());
        // A release without waiters charges nothing; a new episode starts from its waiter.
        assert_eq!(c.charge(350, true), 0);
        c.enter(400);
        assert_eq!(c.charge(450, true), 50);
        assert_eq!(c.leave(), 450);
    }

    #[test]
    fn waiters_arriving_together_are_charged_exactly() {
        let c = Contention::new();
        for _ in 0..3 {
            c.enter(1_000);
        }
        assert_eq!(c.charge(201_000, true), 600_000);
    }

    #[test]
    fn out_of_order_times_never_underflow() {
        let c = Contention::new();
        c.enter(100);
        assert_eq!(c.charge(90, true), 0);
        assert_eq!(c.charge(150, true), 60);
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
            let charged = c.charge(20, true) + c.charge(35, true);
            let woken = waiter.join().unwrap();
            assert!(c.has_waiters(), "the first waiter is still registered");
            assert!([0, 20, 35].contains(&woken), "woken at {woken}");
            c.leave();
            assert!(!c.has_waiters());
            assert!(charged <= 2 * (35 - 5), "charged {charged}");
        });
    }

    /// A release racing with the first waiter of a new episode never charges from the times of
    /// an earlier episode (here, from time 0 or 100).
    #[test]
    fn a_new_episode_never_charges_old_times() {
        loom::model(|| {
            let c = Arc::new(Contention::new());
            // An earlier episode, long over.
            c.enter(100);
            assert_eq!(c.charge(110, true), 10);
            c.leave();
            let waiter = {
                let c = c.clone();
                loom::thread::spawn(move || c.enter(1_000))
            };
            let charged = c.charge(1_050, true);
            waiter.join().unwrap();
            assert!(charged <= 50, "charged {charged}");
        });
    }

    /// Concurrent releases (read locks) charge each interval once.
    #[test]
    fn concurrent_releases_charge_each_interval_once() {
        loom::model(|| {
            let c = Arc::new(Contention::new());
            c.enter(0);
            let other = {
                let c = c.clone();
                loom::thread::spawn(move || c.charge(100, false))
            };
            let mine = c.charge(100, false);
            let theirs = other.join().unwrap();
            assert_eq!(mine + theirs, 100);
        });
    }
}
