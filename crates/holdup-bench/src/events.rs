//! The cost of one sampled event: stack capture and bucket insertion, per depth and unwinder.

use super::*;

/// Recurses `depth` frames, then runs `f` there.
#[inline(never)]
pub(crate) fn at_depth<R>(depth: usize, f: &mut dyn FnMut() -> R) -> R {
    if depth == 0 {
        return f();
    }
    let r = at_depth(depth - 1, f);
    black_box(depth);
    r
}

/// Whether this build has frame pointers (the `Auto` unwinder decides on a first capture).
pub(crate) fn has_frame_pointers() -> bool {
    holdup::set_block_profile_rate(1);
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::__bench::record_sampled_event();
    let fp = holdup::profile::unwinder() == holdup::profile::Unwinder::FramePointers;
    holdup::set_block_profile_rate(0);
    fp
}

/// Nanoseconds per sampled event `depth` frames down with `unwinder`, median of `rounds`: the
/// same stack again and again (a hot lock: the walk is replayed from the thread's memo), and a
/// stack the thread did not capture among its last few (each event at another depth out of
/// more than the memos hold: a walk each time, less the cost of recursing there, measured
/// alone).
pub(crate) fn event_cost(
    depth: usize,
    unwinder: holdup::profile::Unwinder,
    iters: u64,
    rounds: usize,
) -> (f64, f64) {
    holdup::set_block_profile_rate(1);
    holdup::profile::set_unwinder(unwinder);
    let (mut same, mut new) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        same.push(at_depth(depth, &mut || {
            ns_per_op(iters, holdup::__bench::record_sampled_event)
        }));
        let mut i = 0usize;
        let walked = ns_per_op(iters / 4, || {
            i += 1;
            at_depth(depth + i % 7, &mut holdup::__bench::record_sampled_event);
        });
        let mut i = 0usize;
        let recursed = ns_per_op(iters / 4, || {
            i += 1;
            at_depth(depth + i % 7, &mut || black_box(()));
        });
        new.push(walked - recursed);
    }
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::set_block_profile_rate(0);
    (median(same), median(new))
}

pub(crate) fn events(opts: &Options) {
    let (iters, rounds) = if opts.quick {
        (20_000, 3)
    } else {
        (200_000, 7)
    };
    println!(
        "\n== one sampled event: stack capture + bucket insert (median of {rounds} rounds of {iters}) =="
    );
    let has_fp = has_frame_pointers();
    println!(
        "frame pointers in this build: {}",
        if has_fp {
            "yes"
        } else {
            "no (rebuild with RUSTFLAGS=\"-C force-frame-pointers=yes\" to measure that unwinder)"
        }
    );
    println!(
        "{:>14} {:<16} {:>16} {:>16}",
        "user frames", "unwinder", "same stack ns", "new stack ns"
    );
    for depth in [16, 64] {
        for unwinder in [
            holdup::profile::Unwinder::Dwarf,
            holdup::profile::Unwinder::FramePointers,
        ] {
            if unwinder == holdup::profile::Unwinder::FramePointers && !has_fp {
                continue;
            }
            let (same, new) = event_cost(depth, unwinder, iters, rounds);
            println!(
                "{depth:>14} {:<16} {same:>16.0} {new:>16.0}",
                format!("{unwinder:?}"),
            );
        }
    }
}
