//! The profiles' settings, one function each, under Go's names where Go has them. They are
//! process-wide and take effect immediately.

use crate::collector::{self, COLLECTOR};
use crate::stack::{self, Unwinder};

/// Sets the fraction of contended releases recorded in the mutex profile (Go's
/// `runtime.SetMutexProfileFraction`): 1 in `rate` on average, `0` off, negative only reads.
/// Returns the previous rate.
pub fn set_mutex_profile_fraction(rate: i64) -> i64 {
    if rate > 0 {
        collector::warm_up();
    }
    COLLECTOR.settings.set_mutex_fraction(rate)
}

/// Sets the block profile rate in nanoseconds (Go's `runtime.SetBlockProfileRate`): waits of at
/// least `rate_ns` are always recorded, shorter ones with probability `d / rate_ns`; `0` or
/// less turns the profile off.
pub fn set_block_profile_rate(rate_ns: i64) {
    if rate_ns > 0 {
        collector::warm_up();
    }
    COLLECTOR.settings.set_block_rate(rate_ns);
}

/// The current mutex profile fraction (0 when off).
pub fn mutex_profile_fraction() -> i64 {
    COLLECTOR.settings.mutex_fraction()
}

/// The current block profile rate in nanoseconds (0 when off).
pub fn block_profile_rate() -> i64 {
    COLLECTOR.settings.block_rate()
}

/// Sets how many frames a recorded stack keeps (default 128, Go's `profstackdepth`; clamped to
/// 1..=1024) and returns the previous depth.
pub fn set_stack_depth(depth: usize) -> usize {
    COLLECTOR.settings.set_depth(depth)
}

/// How many frames a recorded stack keeps.
pub fn stack_depth() -> usize {
    COLLECTOR.settings.depth()
}

/// Sets the most buckets each profile keeps (default 8192) and returns the previous bound;
/// events past it go to a per-lock overflow bucket.
pub fn set_max_buckets(n: usize) -> usize {
    COLLECTOR.settings.set_max_buckets(n)
}

/// Chooses how stacks are captured; see [`Unwinder`].
pub fn set_unwinder(unwinder: Unwinder) {
    stack::set_unwinder(unwinder);
}

/// The unwinder in use; [`Unwinder::Auto`] until the first capture has decided.
pub fn unwinder() -> Unwinder {
    stack::current_unwinder()
}
