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

pub(crate) fn events(opts: &Options) {
    let (iters, rounds) = if opts.quick {
        (20_000, 3)
    } else {
        (200_000, 7)
    };
    println!(
        "\n== one sampled event: stack capture + bucket insert (median of {rounds} rounds of {iters}) =="
    );
    holdup::set_block_profile_rate(1);
    let unwinders = [
        holdup::profile::Unwinder::Dwarf,
        holdup::profile::Unwinder::FramePointers,
    ];
    // Does this build have frame pointers? Auto decides on the first capture.
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::__bench::record_sampled_event();
    let has_fp = holdup::profile::unwinder() == holdup::profile::Unwinder::FramePointers;
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
        for unwinder in unwinders {
            if unwinder == holdup::profile::Unwinder::FramePointers && !has_fp {
                continue;
            }
            holdup::profile::set_unwinder(unwinder);
            // The same stack again and again (a hot lock: the walk is replayed from the
            // thread's memo), and a stack the thread did not capture among its last few (each
            // event at another depth out of more than the memos hold: a walk each time, less
            // the cost of recursing there, measured alone).
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
            println!(
                "{depth:>14} {:<16} {:>16.0} {:>16.0}",
                format!("{unwinder:?}"),
                median(same),
                median(new)
            );
        }
    }
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::set_block_profile_rate(0);
}
