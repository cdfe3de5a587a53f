//! Mutex and block profiles against known ground truth, one test per primitive and kind, and
//! the pprof and text output.
//!
//! Every test turns both profiles on at full rate (fraction 1, rate 1: the same settings in every
//! test of this binary, so tests may run in parallel), works on its own primitives, and reads
//! only the samples labelled with their creation sites, from deltas.

#[path = "../common/mod.rs"]
mod common;

mod ground_truth;
mod kinds;
mod output;

/// Turns both profiles on, recording every event.
pub fn record_everything() {
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);
}
