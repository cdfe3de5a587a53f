//! The door from primitives into recording: the few functions every primitive calls.
//!
//! | hook                      | called when                                   | fast-path cost      |
//! |---------------------------|-----------------------------------------------|---------------------|
//! | [`contended`]             | a lock's `try_lock` failed, before blocking   | (slow path only)    |
//! | [`acquired`]              | the lock was then acquired                    | one branch          |
//! | [`releasing`]             | a guard is dropped, before the unlock         | one relaxed load    |
//! | [`released`]              | after the unlock, if `releasing` sampled      | (sampled only)      |
//! | [`blocking`] / [`woken`]  | around any other wait (condvar, channel, ...) | one relaxed load    |
//!
//! The decision to record lives here, not in the primitives: a primitive is glue around std's
//! type plus these calls. Semantics follow Go (go-semantics §1–§2): mutex events are sampled
//! with probability 1/fraction per contended release, charged with the waiting that accrued
//! during the critical section, recorded on the releasing thread's stack and scaled at record
//! time; block events are timed from the start of a wait to its end, kept if at least `rate`
//! nanoseconds long or else with probability `d/rate`, and weighted to stay unbiased.

use std::cell::Cell;
use std::panic::Location;

use crate::clock::now_ns;
use crate::profile::{self, COLLECTOR, Kind, Labels};
use crate::state::Contention;

/// A primitive's creation site (from `#[track_caller]` constructors).
pub(crate) type Site = &'static Location<'static>;

/// A wait in progress; created by [`contended`] or [`blocking`], consumed when it ends.
#[derive(Debug)]
#[must_use]
pub(crate) struct Wait {
    /// When the wait started; 0 when it is not timed.
    start: u64,
    /// Whether the waiter is counted in the primitive's [`Contention`].
    registered: bool,
}

const UNTIMED: Wait = Wait { start: 0, registered: false };

/// A lock's fast path failed: the thread is about to block. Registers it as a waiter (so that
/// the holder's release is charged) when a profile is on.
#[cold]
#[inline(never)]
pub(crate) fn contended(c: &Contention) -> Wait {
    if !COLLECTOR.settings.any_on() || profile::in_profiler() {
        return UNTIMED;
    }
    let now = now_ns();
    c.enter(now);
    Wait { start: now, registered: true }
}

/// The lock waited for after [`contended`] is now held.
#[inline]
pub(crate) fn acquired(c: &Contention, wait: Wait, site: Site, kind: Kind) {
    if wait.registered {
        acquired_slow(c, wait, site, kind);
        keep_caller_frame(site);
    }
}

#[cold]
#[inline(never)]
fn acquired_slow(c: &Contention, wait: Wait, site: Site, kind: Kind) {
    let now = now_ns();
    let released = c.leave(now);
    // The wait ended when a holder released the lock (Go stamps the wake-up time at the
    // release); if no contended release happened since the wait began, it ended now.
    let end = if released >= wait.start { released.min(now) } else { now };
    block_event(end - wait.start, Labels { site, kind, mutated: None });
}

/// A wait that is not a lock acquisition (condvar, channel, barrier, join, once) starts.
#[inline]
pub(crate) fn blocking() -> Wait {
    if COLLECTOR.settings.block_rate() <= 0 { UNTIMED } else { blocking_slow() }
}

#[cold]
#[inline(never)]
fn blocking_slow() -> Wait {
    if profile::in_profiler() {
        return UNTIMED;
    }
    Wait { start: now_ns(), registered: false }
}

/// The wait started by [`blocking`] ended (the thread was woken, or the operation completed).
#[inline]
pub(crate) fn woken(wait: Wait, site: Site, kind: Kind) {
    if wait.start != 0 {
        woken_slow(wait, site, kind);
        keep_caller_frame(site);
    }
}

#[cold]
#[inline(never)]
fn woken_slow(wait: Wait, site: Site, kind: Kind) {
    let d = now_ns().saturating_sub(wait.start);
    block_event(d, Labels { site, kind, mutated: None });
}

/// Code after a recording call, so that the compiler cannot turn it into a tail call: a tail
/// call would remove the caller (the program's function that locked or waited) from the
/// recorded stack.
#[inline(always)]
fn keep_caller_frame(site: Site) {
    std::hint::black_box(site);
}

/// Go's block-profile rule (`blocksampled` + `saveBlockEventStack`, go-semantics §2.2).
fn block_event(d: u64, labels: Labels) {
    let rate = COLLECTOR.settings.block_rate();
    if rate <= 0 {
        return;
    }
    let d = (d.min(i64::MAX as u64) as i64).max(1);
    if d < rate && (cheap_rand() % rate as u64) as i64 > d {
        return;
    }
    let (count, delay) = if d < rate { (rate as f64 / d as f64, rate) } else { (1.0, d) };
    profile::record_block(labels, count, delay);
}

/// A mutex-profile event to record after the unlock.
#[derive(Debug)]
#[must_use]
pub(crate) struct Release {
    delay: u64,
    fraction: i64,
}

/// A guard is about to unlock. When threads wait, charges the waiting that accrued during this
/// critical section and decides (1 in `fraction`) whether to record it.
#[inline]
pub(crate) fn releasing(c: &Contention) -> Option<Release> {
    if c.has_waiters() { releasing_slow(c) } else { None }
}

#[cold]
#[inline(never)]
fn releasing_slow(c: &Contention) -> Option<Release> {
    let delay = c.charge(now_ns());
    let fraction = COLLECTOR.settings.mutex_fraction();
    if fraction <= 0 || profile::in_profiler() {
        return None;
    }
    if fraction > 1 && !cheap_rand().is_multiple_of(fraction as u64) {
        return None;
    }
    Some(Release { delay, fraction })
}

/// The unlock sampled by [`releasing`] happened; records it on this thread's stack, scaled by
/// the fraction (Go 1.20+ scales at record time).
#[inline(always)]
pub(crate) fn released(r: Release, site: Site, kind: Kind, mutated: Option<bool>) {
    released_slow(r, site, kind, mutated);
    keep_caller_frame(site);
}

#[cold]
#[inline(never)]
fn released_slow(r: Release, site: Site, kind: Kind, mutated: Option<bool>) {
    let delay = (r.delay.min(i64::MAX as u64) as i64).saturating_mul(r.fraction);
    profile::record_mutex(Labels { site, kind, mutated }, r.fraction as f64, delay);
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A fast per-thread pseudo-random number (wyrand), for sampling decisions only.
fn cheap_rand() -> u64 {
    RNG.try_with(|state| {
        let mut s = state.get();
        if s == 0 {
            // Seed from the clock and this thread's TLS address, so threads differ.
            s = now_ns() ^ (state as *const _ as u64).rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
        }
        s = s.wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) ^ t) as u64
    })
    .unwrap_or_else(|_| now_ns())
}
