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
        "{:>14} {:<16} {:>10}",
        "user frames", "unwinder", "ns/event"
    );
    for depth in [16, 64] {
        for unwinder in unwinders {
            if unwinder == holdup::profile::Unwinder::FramePointers && !has_fp {
                continue;
            }
            holdup::profile::set_unwinder(unwinder);
            let mut samples = Vec::new();
            for _ in 0..rounds {
                samples.push(at_depth(depth, &mut || {
                    ns_per_op(iters, holdup::__bench::record_sampled_event)
                }));
            }
            println!(
                "{depth:>14} {:<16} {:>10.0}",
                format!("{unwinder:?}"),
                median(samples)
            );
        }
    }
    holdup::profile::set_unwinder(holdup::profile::Unwinder::Auto);
    holdup::set_block_profile_rate(0);
}
