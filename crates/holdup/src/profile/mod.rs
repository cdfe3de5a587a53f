//! Mutex and block profiles: recording sampled events and reading them back as [`Profile`]s.
//!
//! Recording (called only from `crate::hook`, on contended or sampled paths) captures the stack
//! as raw return addresses and adds the event to a bounded bucket table. Reading
//! ([`mutex`], [`block`]) takes a snapshot of the buckets; symbolization happens only when a
//! snapshot is written or iterated, so recording stays cheap.
//!
//! The settings here are process-wide and take effect immediately:
//! [`set_stack_depth`], [`set_max_buckets`], [`set_unwinder`]. The two rates are set with
//! [`crate::set_mutex_profile_fraction`] and [`crate::set_block_profile_rate`].

mod snapshot;
mod symbolize;
mod threads;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) use holdup_core::stack::{copy_cache, unwind_copy};
pub use holdup_core::{Kind, Unwinder};
pub use snapshot::{Frame, Profile, Sample};
pub(crate) use threads::CountFrame;
pub use threads::{CountProfile, goroutine, threadcreate};

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
    let resolved = profiler_scope(|| symbolize::resolve(&addrs));
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

/// One frame of a stack symbolized for a dump: the frame, its offset in its function, and the
/// code address Go's text formats list for it.
#[derive(Debug, Clone)]
pub(crate) struct DumpFrame {
    pub(crate) frame: Frame,
    pub(crate) offset: u64,
    pub(crate) text_pc: u64,
}

/// Symbolizes stacks of code addresses plus one (return addresses), expanding inlined calls,
/// innermost first; nothing is trimmed.
pub(crate) fn symbolize_stacks(stacks: &[&[usize]]) -> Vec<Vec<DumpFrame>> {
    profiler_scope(|| {
        let mut addrs: Vec<usize> = stacks
            .iter()
            .flat_map(|s| s.iter())
            .filter(|&&a| a > 1)
            .map(|&a| a - 1)
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        let syms = symbolize::resolve(&addrs);
        stacks
            .iter()
            .map(|stack| {
                let mut out = Vec::new();
                for &ret in stack.iter().filter(|&&a| a > 1) {
                    let Some(sym) = syms.get(&(ret - 1)) else {
                        continue;
                    };
                    if sym.frames.is_empty() {
                        out.push(DumpFrame {
                            frame: Frame {
                                function: String::new(),
                                file: String::new(),
                                line: 0,
                                address: ret - 1,
                                inlined: false,
                            },
                            offset: 0,
                            text_pc: (ret - 1) as u64,
                        });
                        continue;
                    }
                    let last = sym.frames.len() - 1;
                    for (i, f) in sym.frames.iter().enumerate() {
                        let inlined = i < last;
                        out.push(DumpFrame {
                            frame: Frame {
                                function: f.function.to_string(),
                                file: f.file.to_string(),
                                line: f.line,
                                address: ret - 1,
                                inlined,
                            },
                            offset: sym.offset + u64::from(inlined),
                            text_pc: snapshot::text_pc(ret, inlined),
                        });
                    }
                }
                out
            })
            .collect()
    })
}

pub(crate) use snapshot::{is_internal, is_thread_start};

/// Prepares stack capture ahead of the first event (called when a profile is turned on).
pub(crate) use holdup_core::collector::warm_up;

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
        COLLECTOR.settings.mutex_fraction(),
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
