//! Per-primitive contention accounting: how many threads wait, and how much waiting accrued
//! since the last contended release.
//!
//! Go charges a contended release with the waiting that accrued among the waiters during the
//! critical section that just ended, so that the sum over all releases equals the total time
//! waiters spent waiting (go-semantics §1.3). Go approximates that sum from the head and tail of
//! its wait queue; holdup has no queue of its own (it wraps std's locks), so it keeps the exact
//! integral instead: the number of registered waiters integrated over time, reset at each charge.
//!
//! | field           | written by                       | read by                         |
//! |-----------------|----------------------------------|---------------------------------|
//! | `waiters`       | `enter`/`leave` (under `busy`)   | every release (relaxed load)    |
//! | `busy`          | a one-bit spin lock over `acct`  |                                 |
//! | `acct.pending`  | waiting accrued since last charge, in waiter-nanoseconds           |
//! | `acct.last`     | when `pending` was last brought up to date                        |
//! | `acct.released` | when the last contended release happened (the waiters' wake time) |
//!
//! A waiter that registers just after a release looked at `waiters` is charged to the next
//! contended release instead; when the last waiter leaves, the remainder (the hand-off latency
//! after the final release, which Go does not count either) is dropped.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use crate::loom::{spin_loop, yield_now};

#[derive(Debug)]
pub(crate) struct Contention {
    waiters: AtomicU32,
    busy: AtomicBool,
    acct: UnsafeCell<Accounting>,
}

#[derive(Debug, Clone, Copy)]
struct Accounting {
    pending: u64,
    last: u64,
    released: u64,
}

// SAFETY: `acct` is only accessed while `busy` is held (see `with_acct`), which serializes all
// access across threads; the other fields are atomics.
unsafe impl Sync for Contention {}
// SAFETY: `Contention` owns plain data; moving it between threads is sound.
unsafe impl Send for Contention {}

const ACCOUNTING_INIT: Accounting = Accounting {
    pending: 0,
    last: 0,
    released: 0,
};

impl Contention {
    #[cfg(not(holdup_loom))]
    pub(crate) const fn new() -> Self {
        Contention {
            waiters: AtomicU32::new(0),
            busy: AtomicBool::new(false),
            acct: UnsafeCell::new(ACCOUNTING_INIT),
        }
    }

    #[cfg(holdup_loom)]
    pub(crate) fn new() -> Self {
        Contention {
            waiters: AtomicU32::new(0),
            busy: AtomicBool::new(false),
            acct: UnsafeCell::new(ACCOUNTING_INIT),
        }
    }

    /// Whether any waiter is registered: the one relaxed load a release pays.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) != 0
    }

    /// A thread starts waiting at `now`.
    pub(crate) fn enter(&self, now: u64) {
        self.with_acct(|acct, n| {
            acct.accrue(now, n);
            self.waiters.store(n.saturating_add(1), Ordering::Relaxed);
        });
    }

    /// A registered thread stops waiting at `now` (it acquired the primitive). Returns the time
    /// of the last contended release, which is when this waiter was woken if it is at least the
    /// time the waiter entered.
    pub(crate) fn leave(&self, now: u64) -> u64 {
        self.with_acct(|acct, n| {
            acct.accrue(now, n);
            let n = n.saturating_sub(1);
            if n == 0 {
                acct.pending = 0;
            }
            self.waiters.store(n, Ordering::Relaxed);
            acct.released
        })
    }

    /// A contended release at `now`: returns the waiting that accrued since the previous charge
    /// (in nanoseconds summed over waiters) and starts a new interval.
    pub(crate) fn charge(&self, now: u64) -> u64 {
        self.with_acct(|acct, n| {
            acct.accrue(now, n);
            acct.released = acct.released.max(now);
            std::mem::take(&mut acct.pending)
        })
    }

    fn with_acct<R>(&self, f: impl FnOnce(&mut Accounting, u32) -> R) -> R {
        let mut spins = 0u32;
        while self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                spin_loop();
            } else {
                // The holder may have been preempted; let it run.
                yield_now();
            }
        }
        let n = self.waiters.load(Ordering::Relaxed);
        // SAFETY: `busy` is held, so no other thread accesses `acct` until it is released below.
        let r = self.acct.with_mut(|acct| f(unsafe { &mut *acct }, n));
        self.busy.store(false, Ordering::Release);
        r
    }
}

impl Accounting {
    fn accrue(&mut self, now: u64, waiters: u32) {
        if now > self.last {
            if waiters > 0 {
                self.pending = self
                    .pending
                    .saturating_add(u64::from(waiters) * (now - self.last));
            }
            self.last = now;
        }
    }
}

#[cfg(all(test, not(holdup_loom)))]
mod tests {
    use super::Contention;

    #[test]
    fn charges_the_waiting_accrued_during_each_critical_section() {
        let c = Contention::new();
        assert!(!c.has_waiters());
        c.enter(100);
        c.enter(110);
        assert!(c.has_waiters());
        // Two waiters from 100/110 until 200: 100 + 90.
        assert_eq!(c.charge(200), 190);
        // One waiter wakes at 205 (woken by the release at 200).
        assert_eq!(c.leave(205), 200);
        // The other keeps waiting through the next critical section; the woken waiter's
        // hand-off (200..205) counts too, as both were still registered.
        assert_eq!(c.charge(300), 2 * 5 + 95);
        assert_eq!(c.leave(310), 300);
        assert!(!c.has_waiters());
        // The hand-off remainder after the last release was dropped.
        c.enter(400);
        assert_eq!(c.charge(450), 50);
    }

    #[test]
    fn out_of_order_times_never_underflow() {
        let c = Contention::new();
        c.enter(100);
        assert_eq!(c.charge(90), 0);
        assert_eq!(c.charge(150), 50);
    }
}

#[cfg(all(test, holdup_loom))]
mod loom_tests {
    use super::Contention;
    use loom::sync::Arc;

    /// Whatever the interleaving of a waiter with a releasing holder, the waiter's registration
    /// is undone, a second waiter keeps the count above zero until it leaves, and the charges
    /// never exceed the waiters' count times the time span. (Times are read before the spin lock
    /// is taken, so an operation may carry an earlier time than one ordered before it; the
    /// accounting must stay bounded, not exact, then.)
    #[test]
    fn waiters_balance_and_charges_are_bounded() {
        let mut model = loom::model::Builder::new();
        // The spin lock makes the state space large; three preemptions cover a charge between
        // enter and leave and a leave racing a charge.
        model.preemption_bound = Some(3);
        model.check(|| {
            let c = Arc::new(Contention::new());
            c.enter(5);
            let waiter = {
                let c = c.clone();
                loom::thread::spawn(move || {
                    c.enter(10);
                    c.leave(30)
                })
            };
            let charged = c.charge(20) + c.charge(35);
            let woken = waiter.join().unwrap();
            assert!(c.has_waiters(), "the first waiter is still registered");
            assert!(woken == 0 || woken == 20 || woken == 35, "woken at {woken}");
            c.leave(40);
            assert!(!c.has_waiters());
            assert!(charged <= 2 * (35 - 5), "charged {charged}");
        });
    }
}
