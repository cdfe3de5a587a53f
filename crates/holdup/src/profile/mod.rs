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

mod modules;
mod snapshot;
mod stack;
mod symbolize;
mod table;
mod threads;

use std::cell::Cell;
use std::fmt;
use std::panic::Location;

pub use snapshot::{Frame, Profile, Sample};
pub use stack::Unwinder;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) use stack::{copy_cache, unwind_copy};
pub(crate) use threads::CountFrame;
pub use threads::{CountProfile, goroutine, threadcreate};

use crate::state::Settings;
use table::Table;

/// What kind of operation waited or was waited on; every sample carries it as the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// [`Mutex`](crate::sync::Mutex) lock and unlock.
    Mutex,
    /// [`RwLock`](crate::sync::RwLock) read lock and read unlock.
    RwLockRead,
    /// [`RwLock`](crate::sync::RwLock) write lock and write unlock.
    RwLockWrite,
    /// [`Condvar`](crate::sync::Condvar) waits.
    Condvar,
    /// Channel receives that blocked.
    ChanRecv,
    /// Channel sends that blocked (bounded channels).
    ChanSend,
    /// [`Barrier`](crate::sync::Barrier) waits.
    Barrier,
    /// Waiting for a thread to finish ([`JoinHandle::join`](crate::thread::JoinHandle::join)).
    Join,
    /// Waiting for another thread to initialize a [`OnceLock`](crate::sync::OnceLock),
    /// [`LazyLock`](crate::sync::LazyLock) or [`Once`](crate::sync::Once).
    Once,
}

impl Kind {
    const ALL: [Kind; 9] = [
        Kind::Mutex,
        Kind::RwLockRead,
        Kind::RwLockWrite,
        Kind::Condvar,
        Kind::ChanRecv,
        Kind::ChanSend,
        Kind::Barrier,
        Kind::Join,
        Kind::Once,
    ];

    /// The kind whose `as u8` is `n`.
    pub(crate) fn from_u8(n: u8) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| *k as u8 == n)
    }

    /// The label value: `mutex`, `rwlock-read`, `rwlock-write`, `condvar`, `chan-recv`,
    /// `chan-send`, `barrier`, `join` or `once`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mutex => "mutex",
            Kind::RwLockRead => "rwlock-read",
            Kind::RwLockWrite => "rwlock-write",
            Kind::Condvar => "condvar",
            Kind::ChanRecv => "chan-recv",
            Kind::ChanSend => "chan-send",
            Kind::Barrier => "barrier",
            Kind::Join => "join",
            Kind::Once => "once",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The labels of an event: which primitive (its creation site), what operation, and for mutex
/// events of write locks whether the guard was written through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels {
    pub(crate) site: &'static Location<'static>,
    pub(crate) kind: Kind,
    pub(crate) mutated: Option<bool>,
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.site, other.site)
            && self.kind == other.kind
            && self.mutated == other.mutated
    }
}

impl Eq for Labels {}

/// Everything the profiler keeps: one value for the process.
#[derive(Debug)]
pub(crate) struct Collector {
    pub(crate) settings: Settings,
    mutex: Table,
    block: Table,
}

pub(crate) static COLLECTOR: Collector = Collector {
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
pub(crate) fn in_profiler() -> bool {
    IN_PROFILER.try_with(Cell::get).unwrap_or(true)
}

/// Runs `f` with the calling thread marked as inside the profiler.
pub(crate) fn profiler_scope<R>(f: impl FnOnce() -> R) -> R {
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
pub(crate) fn record_mutex(labels: Labels, count: f64, delay: i64) {
    record(&COLLECTOR.mutex, labels, count, delay);
}

/// Adds a block-profile event (already weighted) on the calling thread's stack.
pub(crate) fn record_block(labels: Labels, count: f64, delay: i64) {
    record(&COLLECTOR.block, labels, count, delay);
}

/// Captures the stack and adds the event. Never inlined: report-time trimming finds holdup's
/// own frames by looking for this function (`snapshot::RECORD_FN`).
#[inline(never)]
fn record(table: &Table, labels: Labels, count: f64, delay: i64) {
    let s = &COLLECTOR.settings;
    let (depth, max_buckets) = (s.depth(), s.max_buckets());
    profiler_scope(|| {
        stack::with_stack(depth + stack::SLACK, |pcs| {
            table.add(pcs, labels, count, delay, max_buckets)
        })
    });
}

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

/// The spawner's stack (return addresses, holdup's own frames included) for a thread started
/// through `holdup::thread`, when stack capture is set up; empty otherwise, so that spawning
/// never pays for reading unwind tables. Dumps, watchdogs and profiles set capture up.
pub(crate) fn spawn_stack() -> Box<[usize]> {
    if !stack::ready() || in_profiler() {
        return Box::default();
    }
    profiler_scope(|| stack::with_stack(SPAWN_DEPTH, |pcs| pcs.into()))
}

/// Frames kept of a spawner's stack: enough for holdup's frames plus the spawner's callers.
const SPAWN_DEPTH: usize = 24;

/// Prepares stack capture ahead of the first event (called when a profile is turned on).
pub(crate) fn warm_up() {
    crate::clock::init();
    profiler_scope(stack::warm_up);
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
    COLLECTOR.settings.set_depth(depth)
}

/// Sets the most buckets (distinct stack and label combinations) each profile keeps (default
/// 8192) and returns the previous bound. Events that would need a new bucket past the bound are
/// added to a per-lock overflow bucket shown as the frame `holdup::overflow`, and counted in
/// [`Profile::overflowed`]; nothing is dropped. Lowering the bound does not free buckets.
pub fn set_max_buckets(n: usize) -> usize {
    COLLECTOR.settings.set_max_buckets(n)
}

/// Chooses how stacks are captured; see [`Unwinder`]. The default, [`Unwinder::Auto`], uses the
/// frame pointer walk when the first capture shows the program was built with frame pointers
/// (`-C force-frame-pointers=yes`), DWARF unwind tables otherwise.
pub fn set_unwinder(unwinder: Unwinder) {
    stack::set_unwinder(unwinder);
}

/// The unwinder in use; [`Unwinder::Auto`] until the first capture has decided.
pub fn unwinder() -> Unwinder {
    stack::current_unwinder()
}
