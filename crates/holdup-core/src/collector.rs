//! Everything the profiles keep, one value per process: the settings and the two bucket tables,
//! and the one function that records an event into them.
//!
//! Recording (called from [`hook`](crate::hook), on contended or sampled paths) captures the
//! stack as raw return addresses and adds the event to a bounded bucket table. Readers take a
//! snapshot of a table ([`Table::snapshot`]); symbolization is theirs.

use std::cell::Cell;

use crate::kind::Labels;
use crate::stack;
use crate::state::Settings;
use crate::table::Table;

/// The profiles' settings and tables.
#[derive(Debug)]
pub struct Collector {
    /// The rates, depth and bucket bound, read on every recording.
    pub(crate) settings: Settings,
    /// The mutex profile's buckets.
    pub mutex: Table,
    /// The block profile's buckets.
    pub block: Table,
}

/// The process's one collector.
pub static COLLECTOR: Collector = Collector {
    settings: Settings::new(),
    mutex: Table::new(1),
    block: Table::new(2),
};

thread_local! {
    /// Set while this thread runs profiler code, so that nothing the profiler does is profiled.
    static IN_PROFILER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is inside the profiler (hooks then record nothing).
#[inline]
pub fn in_profiler() -> bool {
    IN_PROFILER.try_with(Cell::get).unwrap_or(true)
}

/// Runs `f` with the calling thread marked as inside the profiler.
pub fn profiler_scope<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = IN_PROFILER.try_with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_PROFILER.try_with(|c| c.replace(true)).unwrap_or(true));
    f()
}

/// Adds a mutex-profile event (already scaled) on the calling thread's stack.
pub fn record_mutex(labels: Labels, count: f64, delay: i64) {
    record(&COLLECTOR.mutex, labels, count, delay);
}

/// Adds a block-profile event (already weighted) on the calling thread's stack.
pub fn record_block(labels: Labels, count: f64, delay: i64) {
    record(&COLLECTOR.block, labels, count, delay);
}

/// As [`record_block`], on a stack taken earlier by [`wait_stack`] (an async wait's, at its
/// first `Pending`: the same chain of calls as now, already paid for).
pub fn record_block_on(labels: Labels, count: f64, delay: i64, stack: &[usize], hash: u64) {
    let s = &COLLECTOR.settings;
    let depth = s.depth() + stack::SLACK;
    let (stack, hash) = match stack.get(..depth) {
        Some(cut) if cut.len() < stack.len() => (cut, stack::hash(cut)),
        _ => (stack, hash),
    };
    profiler_scope(|| {
        COLLECTOR
            .block
            .add(stack, hash, labels, count, delay, s.max_buckets())
    });
}

/// The name report-time trimming looks for: every frame inside it (and the hooks that called
/// it) is the profiler's own.
pub const RECORD_FN: &str = "holdup_core::collector::record";

/// Captures the stack and adds the event. Never inlined: report-time trimming finds holdup's
/// own frames by looking for this function ([`RECORD_FN`]).
#[inline(never)]
fn record(table: &Table, labels: Labels, count: f64, delay: i64) {
    let s = &COLLECTOR.settings;
    let (depth, max_buckets) = (s.depth(), s.max_buckets());
    profiler_scope(|| {
        stack::with_stack(depth + stack::SLACK, |pcs, hash| {
            table.add(pcs, hash, labels, count, delay, max_buckets)
        })
    });
}

/// The spawner's stack (return addresses, holdup's own frames included) for a thread started
/// through a front end's spawn, when stack capture is set up; empty otherwise, so that
/// spawning never pays for reading unwind tables. Dumps, watchdogs and profiles set capture up.
pub fn spawn_stack() -> Box<[usize]> {
    if !stack::ready() || in_profiler() {
        return Box::default();
    }
    profiler_scope(|| stack::with_stack(SPAWN_DEPTH, |pcs, _| pcs.into()))
}

/// Frames kept of a spawner's stack: enough for holdup's frames plus the spawner's callers.
const SPAWN_DEPTH: usize = 24;

/// The calling code's stack for a waiting task's record (see `registry::Published::set_stack`)
/// and for its block event, with its hash, once stack capture is set up (by the first dump,
/// watchdog or profile); `None` before, and inside the profiler. Trimming starts below
/// [`WAIT_STACK_FN`].
#[inline(never)]
pub fn wait_stack() -> Option<(std::sync::Arc<[usize]>, u64)> {
    if !stack::ready() || in_profiler() {
        return None;
    }
    profiler_scope(|| stack::with_stack(WAIT_DEPTH, |pcs, hash| Some((pcs.into(), hash))))
}

/// The function that captures a waiting task's stack: readers trim above it.
pub const WAIT_STACK_FN: &str = "holdup_core::collector::wait_stack";

/// Frames kept of a waiting task's stack: its async call chain and what polls it.
const WAIT_DEPTH: usize = 48;

/// Prepares the clock and stack capture ahead of the first event (called when a profile is
/// turned on, and before the first dump).
pub fn warm_up() {
    crate::clock::init();
    profiler_scope(stack::warm_up);
}
