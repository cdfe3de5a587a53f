//! Mutex and block profiles: recording sampled events and reading them back as [`Profile`]s.
//!
//! Recording (called only from `crate::hook`, on contended or sampled paths) captures the stack
//! as raw return addresses and adds the event to a bounded bucket table. Reading
//! ([`mutex`], [`block`]) takes a snapshot of the buckets; symbolization happens only when a
//! snapshot is written or iterated, so recording stays cheap.
//!
//! Every setting is here, process-wide and in effect immediately: Go's two rates
//! ([`set_mutex_profile_fraction`], [`set_block_profile_rate`], also at the crate root under
//! the same names), [`set_stack_depth`], [`set_max_buckets`] and [`set_unwinder`].

mod cpu;
mod snapshot;
mod wall;

pub use crate::counts::{CountProfile, threadcreate};
pub use crate::symbols::Frame;
pub use cpu::{CpuError, CpuProfile, CpuProfiler, CpuSample, DEFAULT_HZ, cpu, start_cpu};
pub use holdup_core::{Kind, Unwinder};
pub use snapshot::{Profile, Sample};
pub use wall::{WallProfile, WallProfiler, WallSample, start_wall, wall};

use holdup_core::collector::{COLLECTOR, profiler_scope};

/// The function containing each code address of this process that resolves, as Go's
/// `runtime.FuncForPC(pc).Name()` gives it (the innermost inlined function), for
/// `/debug/pprof/symbol`.
#[cfg(feature = "http")]
pub(crate) fn function_names(pcs: &[u64]) -> Vec<(u64, String)> {
    let addrs: Vec<usize> = pcs
        .iter()
        .filter_map(|&pc| usize::try_from(pc).ok())
        .collect();
    let resolved = profiler_scope(|| crate::symbols::resolve(&addrs));
    addrs
        .iter()
        .filter_map(|a| {
            Some((
                *a as u64,
                resolved.get(a)?.frames.first()?.function.to_string(),
            ))
        })
        .collect()
}

/// Every thread of the process now and what each waits for, like Go's
/// `pprof.Lookup("goroutine")`: a [thread dump](crate::dump::threads) grouped by stack and
/// labels `wait` (the kind of holdup primitive, `running`, or `unknown`), `lock` (its creation
/// site) and `held_by` (the lock's holder).
pub fn goroutine() -> CountProfile {
    crate::dump::threads().to_count_profile()
}

/// A snapshot of the mutex profile: contended releases, on the stack of the thread that
/// released, with the waiting they ended.
///
/// Like Go's `pprof.Lookup("mutex")`: values are cumulative since the process started and are
/// already scaled by the sampling fraction in effect when each event was recorded.
pub fn mutex() -> Profile {
    let (records, overflowed) = COLLECTOR.mutex.snapshot();
    Profile::new(
        snapshot::Which::Mutex,
        records,
        overflowed,
        holdup_core::mutex_profile_fraction(),
    )
}

/// A snapshot of the block profile: waits, on the stack of the thread that waited.
///
/// Like Go's `pprof.Lookup("block")`: cumulative since the process started, weighted so that
/// sampled short waits add up to an unbiased estimate.
pub fn block() -> Profile {
    let (records, overflowed) = COLLECTOR.block.snapshot();
    Profile::new(snapshot::Which::Block, records, overflowed, 1)
}

/// Sets how many frames a recorded stack keeps (default 128, Go's `profstackdepth`; clamped to
/// 1..=1024) and returns the previous depth. Deeper stacks cost memory per bucket and time per
/// capture; the frames beyond the depth nearest the root are dropped.
pub fn set_stack_depth(depth: usize) -> usize {
    holdup_core::set_stack_depth(depth)
}

/// Sets the most buckets (distinct stack and label combinations) each profile keeps (default
/// 8192) and returns the previous bound. Events that would need a new bucket past the bound are
/// added to a per-lock overflow bucket shown as the frame `holdup::overflow`, and counted in
/// [`Profile::overflowed`]; nothing is dropped. Lowering the bound does not free buckets.
pub fn set_max_buckets(n: usize) -> usize {
    holdup_core::set_max_buckets(n)
}

/// Chooses how stacks are captured; see [`Unwinder`]. The default, [`Unwinder::Auto`], uses the
/// frame pointer walk when the first capture shows the program was built with frame pointers
/// (`-C force-frame-pointers=yes`), DWARF unwind tables otherwise.
pub fn set_unwinder(unwinder: Unwinder) {
    holdup_core::set_unwinder(unwinder);
}

/// The unwinder in use; [`Unwinder::Auto`] until the first capture has decided.
pub fn unwinder() -> Unwinder {
    holdup_core::unwinder()
}

/// Controls the fraction of contended releases recorded in the mutex profile, like Go's
/// `runtime.SetMutexProfileFraction`: on average 1 in `rate` is recorded. `0` turns the
/// profile off (the default), a negative value only reads the current rate. Returns the
/// previous rate.
///
/// Waits that started while the profile was off are not charged.
///
/// ```
/// let before = holdup::set_mutex_profile_fraction(100);
/// assert_eq!(holdup::set_mutex_profile_fraction(-1), 100);
/// holdup::set_mutex_profile_fraction(before);
/// ```
pub fn set_mutex_profile_fraction(rate: i64) -> i64 {
    holdup_core::set_mutex_profile_fraction(rate)
}

/// Controls the block profile, like Go's `runtime.SetBlockProfileRate`: waits of at least
/// `rate_ns` nanoseconds are always recorded, shorter ones with probability `d / rate_ns`
/// (weighted to stay unbiased). `1` records every wait; `0` or less turns the profile off (the
/// default).
pub fn set_block_profile_rate(rate_ns: i64) {
    holdup_core::set_block_profile_rate(rate_ns);
}

/// The current block profile rate in nanoseconds (0 when off). Go has no getter; this one is
/// for tests and reports.
pub fn block_profile_rate() -> i64 {
    holdup_core::block_profile_rate()
}
