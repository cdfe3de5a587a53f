//! [`Profile`]: a snapshot of the mutex or block profile, and everything that reads it
//! (symbolized samples, pprof, Go's legacy text, deltas).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use holdup_pprof::legacy::{self, ContentionKind, TextFrame, TextRecord};
use holdup_pprof::{LineInfo, MappingInfo, ProfileBuilder};

use super::{Kind, profiler_scope};
use crate::symbols::{
    self as symbolize, Frame, SymFrame, is_glue, is_internal, is_task_root, is_thread_start,
    text_pc,
};
use holdup_core::table::{NO_STACK, OVERFLOW, Record};

mod encode;
pub(crate) use encode::{Shape, encode};
mod trim;

use trim::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Mutex,
    Block,
}

/// A snapshot of the mutex or block profile, taken by [`mutex`](crate::profile::mutex) or
/// [`block`](crate::profile::block).
///
/// Taking a snapshot copies raw stacks and values; nothing is resolved until the profile is
/// written or iterated, when addresses are symbolized (with a cache shared by all snapshots).
///
/// ```
/// use holdup::sync::Mutex;
/// use std::sync::Arc;
///
/// holdup::set_mutex_profile_fraction(1);
/// let before = holdup::profile::mutex();
/// let m = Arc::new(Mutex::new(0u64));
/// let guard = m.lock().unwrap();
/// let waiter = {
///     let m = m.clone();
///     holdup::thread::spawn(move || *m.lock().unwrap() += 1)
/// };
/// std::thread::sleep(std::time::Duration::from_millis(20));
/// drop(guard); // a contended release: recorded on this stack
/// waiter.join().unwrap();
///
/// let delta = holdup::profile::mutex().delta(&before);
/// let mine: Vec<_> = delta.samples().filter(|s| s.label("kind") == Some("mutex")).collect();
/// assert!(mine.iter().any(|s| s.delay_ns > 0));
///
/// let mut pprof = Vec::new();
/// delta.write_pprof(&mut pprof)?; // gzip'd profile.proto for `go tool pprof`
/// let mut text = Vec::new();
/// delta.write_text(&mut text)?; // Go's legacy `debug=1` text
/// assert!(String::from_utf8(text).unwrap().starts_with("--- mutex:"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Profile {
    which: Which,
    time: SystemTime,
    duration: Option<Duration>,
    period: i64,
    records: Vec<Record>,
    overflowed: u64,
}

/// One sample of a profile: a stack and its values, with holdup's labels.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// The stack, innermost (leaf) frame first, inlined calls expanded. For the mutex profile the
    /// leaf is the unlock (e.g. `MutexGuard::drop`); for the block profile it is the waiting
    /// call (e.g. `Mutex::lock`).
    pub frames: Vec<Frame>,
    /// Number of events (scaled by the sampling rate).
    pub count: i64,
    /// Total delay in nanoseconds (scaled by the sampling rate).
    pub delay_ns: i64,
    /// Labels: `lock` (the primitive's creation site, `file:line`), `kind` (see
    /// [`Kind`]), and on mutex-profile samples of `mutex` and `rwlock-write`, `mutated`
    /// (`yes` for critical sections that took `&mut` through their guard, `no` for the others,
    /// which may still have written through `&`: interior mutability is not seen; one stack can
    /// thus have a `yes` and a `no` sample).
    pub labels: BTreeMap<String, String>,
}

impl Sample {
    #[doc(hidden)]
    #[deprecated(note = "read the field `frames`: records expose their fields, without getters")]
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    #[doc(hidden)]
    #[deprecated(note = "read the field `count`: records expose their fields, without getters")]
    pub fn count(&self) -> i64 {
        self.count
    }

    #[doc(hidden)]
    #[deprecated(note = "read the field `delay_ns`: records expose their fields, without getters")]
    pub fn delay_ns(&self) -> i64 {
        self.delay_ns
    }

    #[doc(hidden)]
    #[deprecated(note = "read the field `labels`: records expose their fields, without getters")]
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The value of label `key`, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Whether any frame's function name contains `needle`.
    pub fn has_function(&self, needle: &str) -> bool {
        self.frames.iter().any(|f| f.function.contains(needle))
    }
}

/// A stack location after symbolization and trimming: one code address, several lines when
/// calls were inlined (innermost first).
///
/// The lines are the symbol cache's, shared; trimming only narrows which of them are kept:
/// `kept` minus `dropped` (trimming keeps the public API frame at the leaf and drops any drop
/// glue between it and the caller, which can leave one gap inside an address's lines).
#[derive(Debug, Clone)]
struct Loc {
    /// The return address (0 for holdup's synthetic frames).
    ret: usize,
    frames: Arc<[SymFrame]>,
    kept: Range<usize>,
    dropped: Range<usize>,
    offset: u64,
}

impl Loc {
    fn new(ret: usize, frames: Arc<[SymFrame]>, offset: u64) -> Self {
        Loc {
            ret,
            kept: 0..frames.len(),
            dropped: 0..0,
            frames,
            offset,
        }
    }

    /// Indexes into `frames` of the kept lines, innermost first.
    fn kept_indexes(&self) -> impl Iterator<Item = usize> + Clone {
        let dropped = self.dropped.clone();
        self.kept.clone().filter(move |j| !dropped.contains(j))
    }

    /// The kept lines, innermost first.
    fn lines(&self) -> impl Iterator<Item = &SymFrame> + Clone {
        self.kept_indexes().map(|j| &self.frames[j])
    }

    fn line_count(&self) -> usize {
        self.kept.len() - self.dropped.len()
    }
}

#[derive(Debug)]
pub(super) struct Resolved {
    locs: Vec<Loc>,
    pub(super) count: i64,
    pub(super) delay: i64,
    pub(super) labels: Vec<(&'static str, String)>,
}

impl Resolved {
    /// The sample's frames, innermost first, inlined calls expanded.
    pub(super) fn frames(&self) -> Vec<Frame> {
        self.locs
            .iter()
            .flat_map(|loc| {
                let last = loc.line_count().saturating_sub(1);
                loc.lines().enumerate().map(move |(i, l)| Frame {
                    function: l.function.to_string(),
                    file: l.file.to_string(),
                    line: l.line,
                    address: loc.ret.saturating_sub(1),
                    inlined: i < last,
                })
            })
            .collect()
    }
}

/// A sample before symbolization: its stack (return addresses, innermost first, or the bucket
/// table's markers), its two values and its labels.
pub(super) struct Unresolved<'a> {
    pub(super) stack: &'a [usize],
    pub(super) count: i64,
    pub(super) value: i64,
    pub(super) labels: Vec<(&'static str, String)>,
}

/// Symbolizes the samples' stacks, trims holdup's own frames (and, on a stack a signal took
/// inside a wait, std's and libc's frames above holdup's public call), and orders the samples:
/// largest value first, ties broken by count, stack and labels, so that output is
/// deterministic.
pub(super) fn resolve_samples(items: Vec<Unresolved<'_>>) -> Vec<Resolved> {
    profiler_scope(|| {
        let depth = holdup_core::stack_depth();
        let mut addrs: Vec<usize> = items
            .iter()
            .flat_map(|r| r.stack.iter())
            .filter(|&&pc| pc > NO_STACK)
            .map(|&pc| pc - 1)
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        let syms = symbolize::resolve(&addrs);
        let out: Vec<Resolved> = items
            .into_iter()
            .map(|r| {
                let mut locs: Vec<Loc> = r
                    .stack
                    .iter()
                    .map(|&pc| match pc {
                        OVERFLOW => synthetic("holdup::overflow"),
                        NO_STACK => synthetic("holdup::unknown_stack"),
                        _ => {
                            let s = &syms[&(pc - 1)];
                            Loc::new(pc, s.frames.clone(), s.offset)
                        }
                    })
                    .collect();
                trim_internal(&mut locs);
                locs.truncate(depth);
                Resolved {
                    locs,
                    count: r.count,
                    delay: r.value,
                    labels: r.labels,
                }
            })
            .collect();
        // Sort a permutation with each sample's stack key computed once (comparing keys
        // built per comparison dominated writing large profiles).
        let keys: Vec<_> = out.iter().map(stack_names).collect();
        let mut order: Vec<usize> = (0..out.len()).collect();
        order.sort_by(|&i, &j| {
            let (a, b) = (&out[i], &out[j]);
            b.delay
                .cmp(&a.delay)
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| keys[i].cmp(&keys[j]))
                .then_with(|| a.labels.cmp(&b.labels))
        });
        drop(keys);
        let mut slots: Vec<Option<Resolved>> = out.into_iter().map(Some).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    })
}

impl Profile {
    pub(crate) fn new(which: Which, records: Vec<Record>, overflowed: u64, period: i64) -> Self {
        Profile {
            which,
            time: SystemTime::now(),
            duration: None,
            period,
            records,
            overflowed,
        }
    }

    /// `mutex` or `block`.
    pub fn name(&self) -> &'static str {
        match self.which {
            Which::Mutex => "mutex",
            Which::Block => "block",
        }
    }

    /// When the snapshot was taken.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// For a [`delta`](Profile::delta), the time between the two snapshots.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Events that found the bucket table full and went to an overflow bucket (shown as the
    /// frame `holdup::overflow`) since the process started; see
    /// [`set_max_buckets`](crate::profile::set_max_buckets).
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Whether the profile has no samples.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The number of samples (Go's `Profile.Count()`).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Total number of events, summed over samples (as exported, i.e. truncated per sample).
    pub fn total_count(&self) -> i64 {
        self.records.iter().map(|r| export_count(r.count)).sum()
    }

    /// Total delay in nanoseconds, summed over samples.
    pub fn total_delay_ns(&self) -> i64 {
        self.records
            .iter()
            .fold(0i64, |t, r| t.saturating_add(r.delay))
    }

    /// The samples, symbolized, largest delay first.
    pub fn samples(&self) -> std::vec::IntoIter<Sample> {
        self.resolve()
            .into_iter()
            .map(|r| Sample {
                frames: r.frames(),
                count: r.count,
                delay_ns: r.delay,
                labels: r
                    .labels
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            })
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[doc(hidden)]
    #[deprecated(note = "use `samples()`, or iterate `&profile`")]
    pub fn iter(&self) -> std::vec::IntoIter<Sample> {
        self.samples()
    }

    /// The samples that accrued since `earlier` (a snapshot of the same profile), like Go's
    /// `?seconds=N` delta profiles: values are subtracted per stack and labels, samples whose
    /// values are all zero are dropped, and the result's [`duration`](Profile::duration) is the
    /// time between the snapshots.
    pub fn delta(&self, earlier: &Profile) -> Profile {
        let mut before: HashMap<RecordKey<'_>, (f64, i64)> = HashMap::new();
        for r in &earlier.records {
            let e = before.entry(record_key(r)).or_default();
            e.0 += r.count;
            e.1 = e.1.saturating_add(r.delay);
        }
        let mut records = Vec::new();
        for r in &self.records {
            let (count, delay) = before.remove(&record_key(r)).unwrap_or_default();
            let d = Record {
                count: r.count - count,
                delay: r.delay.saturating_sub(delay),
                ..r.clone()
            };
            if d.count.abs() >= 0.5 || d.delay != 0 {
                records.push(d);
            }
        }
        for r in &earlier.records {
            if let Some((count, delay)) = before.remove(&record_key(r))
                && (count.abs() >= 0.5 || delay != 0)
            {
                records.push(Record {
                    count: -count,
                    delay: delay.saturating_neg(),
                    ..r.clone()
                });
            }
        }
        Profile {
            which: self.which,
            time: self.time,
            duration: Some(self.time.duration_since(earlier.time).unwrap_or_default()),
            period: self.period,
            records,
            overflowed: self.overflowed.saturating_sub(earlier.overflowed),
        }
    }

    /// Symbolizes, trims holdup's own frames, and orders the samples (largest delay first, ties
    /// broken by count, stack and labels so that output is deterministic).
    fn resolve(&self) -> Vec<Resolved> {
        resolve_samples(
            self.records
                .iter()
                .map(|r| Unresolved {
                    stack: &r.stack,
                    count: export_count(r.count),
                    value: r.delay,
                    labels: self.labels(r),
                })
                .collect(),
        )
    }

    fn labels(&self, r: &Record) -> Vec<(&'static str, String)> {
        let site = r.labels.site;
        let mut labels = vec![
            ("lock", format!("{}:{}", site.file(), site.line())),
            ("kind", r.labels.kind.as_str().to_owned()),
        ];
        if self.which == Which::Mutex
            && let Some(m) = r.labels.mutated
        {
            labels.push(("mutated", if m { "yes" } else { "no" }.to_owned()));
        }
        if self.which == Which::Mutex
            && let Some(h) = r.labels.held_suspended
        {
            labels.push(("held", if h { "suspended" } else { "running" }.to_owned()));
        }
        labels
    }
}

impl IntoIterator for &Profile {
    type Item = Sample;
    type IntoIter = std::vec::IntoIter<Sample>;

    fn into_iter(self) -> Self::IntoIter {
        self.samples()
    }
}

type RecordKey<'a> = (&'a [usize], usize, Kind, Option<bool>, Option<bool>);

fn record_key(r: &Record) -> RecordKey<'_> {
    (
        &r.stack,
        r.labels.site as *const _ as usize,
        r.labels.kind,
        r.labels.mutated,
        r.labels.held_suspended,
    )
}

/// Go's export rule: the (possibly fractional, for weighted block events) count truncated,
/// and never 0 for a sample that exists.
fn export_count(count: f64) -> i64 {
    let c = count as i64;
    if c == 0 {
        if count < 0.0 { -1 } else { 1 }
    } else {
        c
    }
}

/// The stack as comparable keys (function, file, line), then the addresses, for ordering
/// samples deterministically.
fn stack_names(r: &Resolved) -> (Vec<(Name<'_>, Name<'_>, u32)>, Vec<usize>) {
    let lines = r
        .locs
        .iter()
        .flat_map(|l| {
            l.lines()
                .map(|f| (Name(&f.function), Name(&f.file), f.line))
        })
        .collect();
    (lines, r.locs.iter().map(|l| l.ret).collect())
}

/// A name from the symbol cache, where equal names are usually the same interned string:
/// compares the pointers first, then the text.
#[derive(Debug, Clone, Copy)]
struct Name<'a>(&'a str);

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}

impl Eq for Name<'_> {}

impl PartialOrd for Name<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if std::ptr::eq(self.0, other.0) {
            std::cmp::Ordering::Equal
        } else {
            self.0.cmp(other.0)
        }
    }
}
