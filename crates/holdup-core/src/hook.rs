//! The door from primitives into recording: the few functions every primitive calls.
//!
//! | hook                      | called when                                   | fast-path cost      |
//! |---------------------------|-----------------------------------------------|---------------------|
//! | [`contended`]             | a lock's `try_lock` failed, before blocking   | (slow path only)    |
//! | [`acquired`]              | the lock was then acquired                    | one branch          |
//! | [`release`]               | a guard is dropped (wraps std's unlock)       | one relaxed load    |
//! | [`blocking`] / [`woken`]  | around any other wait (condvar, channel, ...) | one relaxed load    |
//! | [`wake`]                  | a send, a notify: what ends such waits        | one relaxed load    |
//!
//! The decision to record lives here, not in the primitives: a primitive is glue around std's
//! type plus these calls. Semantics follow Go (`runtime/mprof.go` and `runtime/sema.go`): mutex events are sampled
//! with probability 1/fraction per contended release, charged with the waiting that accrued
//! during the critical section, recorded on the releasing thread's stack and scaled at record
//! time; block events are timed from the start of a wait to its end, kept if at least `rate`
//! nanoseconds long or else with probability `d/rate`, and weighted to stay unbiased.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use crate::clock::{self, now_ns};
use crate::collector::{self as profile, COLLECTOR};
use crate::contended;
use crate::kind::{Kind, Labels, Site};
pub use crate::meta::LockMeta;
use crate::owner::Owner;
use crate::registry::{self, Published, Target};
use crate::trace;

/// A wait in progress; created by [`contended`] or [`blocking`], consumed when it ends. While it
/// lasts, the waiter's registry record shows it as its wait state, and a lock waiter is counted
/// in the lock's contention state; both end with the wait, also if it unwinds, on whichever
/// thread it ends.
#[derive(Debug)]
#[must_use]
pub struct Wait<'a> {
    /// When the wait started, in clock ticks; 0 when it is not timed.
    start: u64,
    /// The lock whose profiled waiters count this thread (in the contention table), until it
    /// acquires it.
    registered: Option<&'a LockMeta>,
    /// The wait as published in its waiter's record (ended wherever this is dropped).
    published: Option<Published>,
    site: Site,
    kind: Kind,
    /// The waiter's stack taken when the wait began (an async wait's), for its block event.
    stack: Option<(std::sync::Arc<[usize]>, u64)>,
    /// The wait is in the execution trace: its end is too. What it waited for (a lock's
    /// address, or 0) and who waited (an owner word, or 0 for the thread).
    traced: Option<(usize, usize)>,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        // Only reached with a registration when the wait unwound (a panic in std's lock).
        if let Some(meta) = self.registered.take() {
            contended::leave(meta);
        }
        // Only reached while traced if the wait did not end (a cancelled async wait).
        self.end_trace(true);
    }
}

impl Wait<'_> {
    /// The wait as published in its waiter's record, if it could be.
    pub fn published(&self) -> Option<&Published> {
        self.published.as_ref()
    }

    /// Keeps `stack` (taken by [`collector::wait_stack`](crate::collector::wait_stack) when
    /// the wait began, with its hash) as the waiter's: published for dumps (a suspended task
    /// has no stack a dump could take), and the stack of the block event, if any, rather than
    /// that of whoever ends the wait (an async wait ends in the poll that resumes the same chain
    /// of calls, and the stack is paid for once).
    pub fn keep_stack(&mut self, stack: Option<(std::sync::Arc<[usize]>, u64)>) {
        if let Some(published) = &self.published {
            published.set_stack(stack.clone());
        }
        self.stack = stack;
    }

    /// The operation turned out not to wait: this thread runs the initializer of a once-cell
    /// it was about to wait for. Stops showing and timing the wait.
    pub fn cancel(&mut self) {
        self.start = 0;
        self.published = None;
        self.end_trace(true);
    }

    /// Records the end of a traced wait, once.
    fn end_trace(&mut self, cancelled: bool) {
        if let Some((object, waiter)) = self.traced.take() {
            if object == 0 {
                traced_waiters(self.site, self.kind).fetch_sub(1, Ordering::Relaxed);
            }
            trace::emit(
                trace::Tag::WaitEnd,
                u64::from(cancelled),
                &[object as u64, waiter as u64],
            );
        }
    }
}

/// Records the beginning of a wait in the execution trace, with the waiter's stack; returns
/// what the wait's end needs.
#[cold]
fn trace_wait(kind: Kind, site: Site, object: usize) -> Option<(usize, usize)> {
    let waiter = traced_owner();
    let stack = trace::capture_stack();
    if object == 0 {
        traced_waiters(site, kind).fetch_add(1, Ordering::Relaxed);
    }
    trace::emit(
        trace::Tag::WaitBegin,
        kind as u64,
        &[
            site as *const Location<'static> as u64,
            object as u64,
            waiter as u64,
            stack,
            0,
        ],
    );
    Some((object, waiter))
}

/// How long a lock's slow path spins before it counts as contended, in `spin_loop` pauses:
/// std's futex mutex spins 100 before it parks, Go's `sync.Mutex` 4 × 30.
const SPIN_PAUSES: u32 = 100;
/// While the holder is unknown (the readers of an `RwLock` record none), a spinner tries the
/// lock once in this many pauses, rather than at every pause.
const SPIN_RETRY: u32 = 16;

/// A lock's fast path failed: spin for it as std's and Go's mutexes do before they park, trying
/// `attempt` whenever the holder lets go; the first success is returned. A lock won while
/// spinning was not waited for: Go never parks, times or profiles such an acquisition
/// (`sync.Mutex.lockSlow`; only a waiter that reaches `semacquire1` gets an `acquiretime`),
/// and neither does holdup: the caller calls [`contended`] only when this returns `None`.
///
/// This is what keeps a short critical section cheap to profile: most of its contended
/// acquisitions are won within a few hundred nanoseconds, and publishing, timing and charging
/// each of them would cost more than the critical section itself.
///
/// The spinner watches the lock's holder word, which the holder clears just before it unlocks
/// (as std's spin watches its lock word): it reads a shared cache line while the lock is held
/// and tries to take it only when it is let go, so that it neither slows the holder down nor
/// reacts late. On a single CPU nobody can release the lock while this thread spins, so it does
/// not.
#[inline]
pub fn spin<R>(meta: &LockMeta, mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
    if !multicore() {
        return None;
    }
    // Pauses since the holder word was last seen set.
    let mut free = 0;
    for _ in 0..SPIN_PAUSES {
        std::hint::spin_loop();
        if meta.holder().is_some() {
            free = 0;
            continue;
        }
        // The holder clears its word just before it unlocks, so the first attempt may come a
        // moment early: try twice in a row, then now and then (for readers, who record no
        // holder).
        free += 1;
        if (free <= 2 || free % SPIN_RETRY == 0)
            && let Some(r) = attempt()
        {
            return Some(r);
        }
    }
    None
}

/// Whether this process may run on more than one CPU (read once).
#[inline]
fn multicore() -> bool {
    static CPUS: AtomicU8 = AtomicU8::new(0);
    match CPUS.load(Ordering::Relaxed) {
        0 => {
            let many = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
            CPUS.store(if many { 2 } else { 1 }, Ordering::Relaxed);
            many
        }
        n => n > 1,
    }
}

/// A lock's fast path failed: the thread is about to block. Publishes the wait for dumps and,
/// when a profile is on, registers the thread as a waiter (so that the holder's release is
/// charged).
#[cold]
#[inline(never)]
pub fn contended(meta: &LockMeta, kind: Kind) -> Wait<'_> {
    let site = meta.site();
    let published = registry::waiting(kind, site, Target::Lock(meta.holder_word()));
    let traced = if trace::on() {
        trace_wait(kind, site, meta as *const LockMeta as usize)
    } else {
        None
    };
    // Registered with the lock while profiles or the trace are on: its holder's release then
    // takes the contended path, which charges the wait and traces the release.
    if !(COLLECTOR.settings.any_on() || traced.is_some()) || profile::in_profiler() {
        return Wait {
            start: 0,
            registered: None,
            published,
            site,
            kind,
            stack: None,
            traced,
        };
    }
    let now = clock::now();
    contended::enter(meta, now);
    Wait {
        start: now,
        registered: Some(meta),
        published,
        site,
        kind,
        stack: None,
        traced,
    }
}

/// The lock waited for after [`contended`] is now held.
#[inline]
pub fn acquired(wait: Wait<'_>) {
    if wait.registered.is_some() || wait.traced.is_some() {
        acquired_slow(wait);
        keep_caller_frame(wait_site_marker());
    }
}

#[cold]
#[inline(never)]
fn acquired_slow(wait: Wait<'_>) {
    lock_wait_ended(wait, true);
}

/// A lock wait that [`contended`] began is over (`acquired`, or it timed out): traced, left,
/// and recorded as a block event. An acquisition ended when a holder released the lock (Go
/// stamps the wake-up time at the release), or now if no contended release happened since the
/// wait began; a wait that gave up ended now.
fn lock_wait_ended(mut wait: Wait<'_>, acquired: bool) {
    wait.end_trace(!acquired);
    let Some(meta) = wait.registered.take() else {
        return;
    };
    let released = contended::leave(meta);
    if COLLECTOR.settings.block_rate() <= 0 {
        return;
    }
    let end = if acquired && released >= wait.start {
        released
    } else {
        clock::now()
    };
    block_event(
        clock::to_ns(end - wait.start),
        Labels {
            site: wait.site,
            kind: wait.kind,
            mutated: None,
            held_suspended: None,
        },
        wait.stack.as_ref(),
    );
}

/// The lock waited for after [`contended`] was not acquired: the wait timed out (a timed
/// lock). The thread did block, so the wait is a block event like an acquisition's, ending
/// now; the execution trace shows it `cancelled`.
#[cold]
#[inline(never)]
pub fn gave_up(wait: Wait<'_>) {
    lock_wait_ended(wait, false);
}

/// A wait that is not a lock acquisition (condvar, channel, barrier, join, once) starts.
#[cold]
#[inline(never)]
pub fn blocking(site: Site, kind: Kind) -> Wait<'static> {
    blocking_for(site, kind, Target::None)
}

/// As [`blocking`], for a wait on something another thread will do (`target`).
#[cold]
#[inline(never)]
pub fn blocking_for(site: Site, kind: Kind, target: Target<'_>) -> Wait<'static> {
    let published = registry::waiting(kind, site, target);
    let timed = COLLECTOR.settings.block_rate() > 0 && !profile::in_profiler();
    Wait {
        start: if timed { clock::now() } else { 0 },
        registered: None,
        published,
        site,
        kind,
        stack: None,
        traced: if trace::on() {
            trace_wait(kind, site, 0)
        } else {
            None
        },
    }
}

/// The wait started by [`blocking`] ended (the thread was woken, or the operation completed).
#[inline]
pub fn woken(wait: Wait<'_>) {
    if wait.start != 0 || wait.traced.is_some() {
        woken_slow(wait);
        keep_caller_frame(wait_site_marker());
    }
}

#[cold]
#[inline(never)]
fn woken_slow(mut wait: Wait<'_>) {
    wait.end_trace(false);
    if wait.start == 0 {
        return;
    }
    let d = clock::now().saturating_sub(wait.start);
    block_event(
        clock::to_ns(d),
        Labels {
            site: wait.site,
            kind: wait.kind,
            mutated: None,
            held_suspended: None,
        },
        wait.stack.as_ref(),
    );
}

/// Something that may end waits of `kind` on the primitive created at `site` happens now (a
/// send, which wakes receivers; a notify, which wakes condvar waiters; a receive, which wakes
/// senders of a full channel): the execution trace draws an arrow from here to the waits it
/// ends. One relaxed load unless a trace records; call it before the operation, so that it
/// precedes what it wakes.
#[inline]
pub fn wake(site: Site, kind: Kind) {
    if trace::on() {
        wake_traced(site, kind);
    }
}

/// Traced waits (not on a lock) in progress, counted in slots by site and kind: a wake that
/// finds its slot at 0 ends no traced wait and records nothing (a send to a channel nobody
/// waits on, most sends). Two sites sharing a slot only cost an event that links to nothing.
static TRACED_WAITERS: [AtomicU32; 256] = [const { AtomicU32::new(0) }; 256];

fn traced_waiters(site: Site, kind: Kind) -> &'static AtomicU32 {
    let h =
        (site as *const Location<'static> as usize >> 3).wrapping_mul(0x9e37_79b9) ^ kind as usize;
    &TRACED_WAITERS[h % TRACED_WAITERS.len()]
}

#[cold]
#[inline(never)]
fn wake_traced(site: Site, kind: Kind) {
    if traced_waiters(site, kind).load(Ordering::Relaxed) != 0 {
        wake_slow(site, kind);
    }
}

#[cold]
#[inline(never)]
fn wake_slow(site: Site, kind: Kind) {
    let waker = traced_owner();
    trace::emit(
        trace::Tag::Wake,
        kind as u64,
        &[site as *const Location<'static> as u64, waker as u64],
    );
}

/// Who an event in the trace is by: the current task's owner word, or 0 for the recording
/// thread (the chunk's).
fn traced_owner() -> usize {
    registry::current_task().map_or(0, Owner::to_word)
}

/// Something for [`keep_caller_frame`] to keep alive after a recording call.
#[inline(always)]
fn wait_site_marker() -> Site {
    Location::caller()
}

/// Code after a recording call, so that the compiler cannot turn it into a tail call: a tail
/// call would remove the caller (the program's function that locked or waited) from the
/// recorded stack.
#[inline(always)]
fn keep_caller_frame(site: Site) {
    std::hint::black_box(site);
}

/// Go's block-profile rule (`blocksampled` and `saveBlockEventStack` in `runtime/mprof.go`).
fn block_event(d: u64, labels: Labels, stack: Option<&(std::sync::Arc<[usize]>, u64)>) {
    let rate = COLLECTOR.settings.block_rate();
    if rate <= 0 {
        return;
    }
    let d = (d.min(i64::MAX as u64) as i64).max(1);
    if d < rate && (cheap_rand() % rate as u64) as i64 > d {
        return;
    }
    let (count, delay) = if d < rate {
        (rate as f64 / d as f64, rate)
    } else {
        (1.0, d)
    };
    match stack {
        Some((pcs, hash)) => profile::record_block_on(labels, count, delay, pcs, *hash),
        None => profile::record_block(labels, count, delay),
    }
}

/// How a lock being released was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Shared (a read lock): no holder was recorded.
    Shared,
    /// Exclusive (a mutex, a write lock), and whether the guard was written through (`&mut`
    /// taken: the `mutated` label). The guard keeps that flag, usually in a register, so
    /// marking it costs nothing.
    Exclusive {
        /// Whether `&mut` was taken through the guard.
        written: bool,
    },
    /// Exclusive, by a guard that cannot say whether it was written through (a raw lock under
    /// `lock_api`'s guards): the holder is cleared, the event has no `mutated` label.
    Unmarked,
}

/// A lock is released by its holder: `unlock` runs std's unlock. When profiled threads wait,
/// the waiting that accrued during this critical section is charged before the unlock (while
/// the waiters it counts are still registered), and (1 in `fraction`) recorded after it on this
/// thread's stack, scaled by the fraction (Go 1.20+ scales at record time). Nothing of the lock
/// is read after `unlock`: a waiter may take it and free it at once. Exclusive releases clear
/// the holder and label the event with the guard's written flag.
///
/// The uncontended path is one relaxed load, a branch, and for exclusive releases one plain
/// store to the lock's own memory (the holder).
#[inline(always)]
pub fn release(meta: &LockMeta, kind: Kind, access: Access, unlock: impl FnOnce()) {
    release_held(meta, kind, access, || None, unlock);
}

/// As [`release`], for a lock a task may hold across a suspension: `held_suspended` (asked
/// only when the release is recorded) says whether it did, for the `held` label (see
/// [`registry::Stamp`]).
#[inline(always)]
pub fn release_held(
    meta: &LockMeta,
    kind: Kind,
    access: Access,
    held_suspended: impl FnOnce() -> Option<bool>,
    unlock: impl FnOnce(),
) {
    if meta.has_waiters() {
        release_contended(meta, kind, access, held_suspended, unlock);
        keep_caller_frame(wait_site_marker());
    } else {
        if access != Access::Shared {
            meta.clear_holder();
        }
        unlock();
    }
}

#[cold]
#[inline(never)]
fn release_contended(
    meta: &LockMeta,
    kind: Kind,
    access: Access,
    held_suspended: impl FnOnce() -> Option<bool>,
    unlock: impl FnOnce(),
) {
    let held_suspended = held_suspended();
    // Everything this needs of the lock is read before the unlock: once unlocked, a waiter may
    // take the lock, drop it and free its memory.
    let site = meta.site();
    // The waiting is charged before the unlock, while the waiters it counts are still
    // registered: once unlocked, they may acquire and leave before this thread charges.
    let exclusive = access != Access::Shared;
    let now = clock::now();
    let ticks = contended::charge(meta, now, exclusive);
    let lock = meta as *const LockMeta as u64;
    let written = match access {
        Access::Shared => None,
        Access::Exclusive { written } => {
            meta.clear_holder();
            Some(written)
        }
        Access::Unmarked => {
            meta.clear_holder();
            None
        }
    };
    unlock();
    if trace::on() {
        let releaser = traced_owner();
        // At the charge's time, before the unlock: the waiter it lets in acquires after it.
        trace::emit_at(
            now,
            trace::Tag::Release,
            kind as u64,
            &[lock, releaser as u64],
            &[],
        );
    }
    let fraction = COLLECTOR.settings.mutex_fraction();
    if fraction <= 0 || profile::in_profiler() {
        return;
    }
    if fraction > 1 && !cheap_rand().is_multiple_of(fraction as u64) {
        return;
    }
    let delay = clock::to_ns(ticks);
    let delay = (delay.min(i64::MAX as u64) as i64).saturating_mul(fraction);
    profile::record_mutex(
        Labels {
            site,
            kind,
            mutated: written,
            held_suspended,
        },
        fraction as f64,
        delay,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts `attempt`'s calls; it succeeds on call `success` (never if 0).
    fn attempts(meta: &LockMeta, success: usize) -> (Option<usize>, usize) {
        let mut calls = 0;
        let r = spin(meta, || {
            calls += 1;
            (calls == success).then_some(calls)
        });
        (r, calls)
    }

    #[test]
    fn a_held_lock_is_watched_not_tried() {
        if !multicore() {
            return;
        }
        let meta = LockMeta::new();
        meta.set_holder();
        // The holder never lets go: no attempt would succeed, none is made.
        assert_eq!(attempts(&meta, 1), (None, 0));
    }

    #[test]
    fn a_free_holder_word_is_tried_twice_then_now_and_then() {
        if !multicore() {
            return;
        }
        let meta = LockMeta::new();
        // Held without a recorded holder (readers): tries at the 1st, 2nd, then every
        // SPIN_RETRY-th pause.
        let expected = (1..=SPIN_PAUSES)
            .filter(|&free| free <= 2 || free % SPIN_RETRY == 0)
            .count();
        assert_eq!(attempts(&meta, 0), (None, expected));
        // The first success ends the spin with its value.
        assert_eq!(attempts(&meta, 3), (Some(3), 3));
    }

    #[test]
    fn the_holder_letting_go_is_seen() {
        if !multicore() {
            return;
        }
        let meta = LockMeta::new();
        meta.set_holder();
        let mut calls = 0;
        // Another thread's release, seen after a few pauses: the holder word is cleared.
        let clear = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_micros(1));
                meta.clear_holder();
            });
            // Spin until it is seen (each spin is bounded, so try a few times).
            (0..100_000).find_map(|_| {
                spin(&meta, || {
                    calls += 1;
                    Some(())
                })
            })
        });
        assert_eq!(clear, Some(()));
        assert_eq!(calls, 1, "one attempt, once the holder let go");
    }
}
