//! What a holdup trace says: who waited how long for what ([`Summary`]), and its waits as an
//! unsampled block profile ([`block_profile`], like `go tool trace -pprof=sync`).

use std::collections::HashMap;
use std::fmt;

use super::builder::Phase;
use super::view::{Slice, TraceView, Track};
use crate::builder::{LineInfo, ProfileBuilder};
use crate::proto::Profile;

/// The description holdup gives the extra tracks of a timeline whose slices overlap.
const OVERFLOW: &str = "overlapping slices";

/// The track whose timeline `uuid` is (an overflow track's parent).
fn owner(view: &TraceView, uuid: u64) -> Option<&Track> {
    let t = view.track(uuid)?;
    if t.description == OVERFLOW {
        return t.parent.and_then(|p| view.track(p));
    }
    Some(t)
}

/// Waits: slices of category `wait`.
fn waits(slices: &[Slice]) -> impl Iterator<Item = &Slice> {
    slices.iter().filter(|s| s.begin.category == "wait")
}

/// The trace's waits as a block profile: one sample per distinct stack and labels, with Go's
/// sample types (`contentions/count`, `delay/nanoseconds`), every wait counted (unsampled),
/// labelled with `kind` and `lock` (the lock or wait site) as holdup's profiles are.
pub fn block_profile(view: &TraceView) -> Profile {
    let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period_type("contentions", "count", 1);
    let slices = view.slices();
    let (first, last) = span(view);
    b.duration_nanos((last - first) as i64);
    let mut locations: HashMap<(String, String, u32), u64> = HashMap::new();
    let mut samples: HashMap<(Vec<u64>, String, String), (i64, i64)> = HashMap::new();
    for w in waits(&slices) {
        let stack: Vec<u64> = w
            .stack
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .rev()
            .map(|f| {
                let key = (f.function.clone(), f.file.clone(), f.line);
                let next = locations.len() as u64 + 1;
                *locations.entry(key).or_insert_with(|| {
                    b.location(
                        0,
                        next,
                        &[LineInfo {
                            function: f.function.clone(),
                            system_name: String::new(),
                            file: f.file.clone(),
                            line: i64::from(f.line),
                        }],
                    )
                })
            })
            .collect();
        let kind = w.arg("kind").unwrap_or("wait").to_owned();
        let site = w.arg("site").unwrap_or("").to_owned();
        let v = samples.entry((stack, kind, site)).or_default();
        v.0 += 1;
        v.1 += w.dur as i64;
    }
    let mut samples: Vec<_> = samples.into_iter().collect();
    samples.sort();
    for ((stack, kind, site), (count, delay)) in samples {
        let mut labels = vec![("kind", kind.as_str())];
        if !site.is_empty() {
            labels.push(("lock", site.as_str()));
        }
        b.sample(&stack, &[count, delay], &labels);
    }
    b.build()
}

/// The first and last event times.
fn span(view: &TraceView) -> (u64, u64) {
    let first = view.events.iter().map(|e| e.ts).min().unwrap_or(0);
    let last = view.events.iter().map(|e| e.ts).max().unwrap_or(first);
    (first, last)
}

/// One thread's or task's waiting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WhoRow {
    pub name: String,
    pub waits: u64,
    pub waited_ns: u64,
    /// Time polled (a task's, from the polls on the threads' tracks), if a task.
    pub polled_ns: Option<u64>,
    /// Waiting by kind, most first.
    pub by_kind: Vec<(String, u64)>,
}

/// One lock's (or wait site's) waiting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockRow {
    pub kind: String,
    pub site: String,
    pub waits: u64,
    pub waited_ns: u64,
    pub max_ns: u64,
}

/// A long wait, with its stack (innermost frame first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongWait {
    pub who: String,
    pub kind: String,
    pub site: String,
    pub dur_ns: u64,
    pub frames: Vec<String>,
}

/// What a trace says about waiting (`holdup trace summary`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub duration_ns: u64,
    pub threads: usize,
    pub tasks: usize,
    pub dropped: u64,
    /// Threads and tasks that waited, most waiting first.
    pub who: Vec<WhoRow>,
    /// Locks and wait sites, most waiting first.
    pub locks: Vec<LockRow>,
    /// The longest waits, longest first.
    pub longest: Vec<LongWait>,
}

/// Summarizes a trace; `top` bounds the longest waits listed.
pub fn summary(view: &TraceView, top: usize) -> Summary {
    let slices = view.slices();
    let (first, last) = span(view);
    let mut who: HashMap<u64, WhoRow> = HashMap::new();
    let mut kinds: HashMap<u64, HashMap<String, u64>> = HashMap::new();
    let mut locks: HashMap<(String, String), LockRow> = HashMap::new();
    for w in waits(&slices) {
        let Some(track) = owner(view, w.track) else {
            continue;
        };
        let row = who.entry(track.uuid).or_insert_with(|| WhoRow {
            name: display_name(track),
            ..WhoRow::default()
        });
        row.waits += 1;
        row.waited_ns += w.dur;
        let kind = w.arg("kind").unwrap_or("wait").to_owned();
        let site = w.arg("site").unwrap_or("").to_owned();
        *kinds
            .entry(track.uuid)
            .or_default()
            .entry(kind.clone())
            .or_default() += w.dur;
        let lock = locks
            .entry((kind.clone(), site.clone()))
            .or_insert_with(|| LockRow {
                kind,
                site,
                ..LockRow::default()
            });
        lock.waits += 1;
        lock.waited_ns += w.dur;
        lock.max_ns = lock.max_ns.max(w.dur);
    }
    // Tasks' polls: slices of category `poll` with the task's id.
    let mut polled: HashMap<i64, u64> = HashMap::new();
    for p in slices.iter().filter(|s| s.begin.category == "poll") {
        if let Some(id) = p.int_arg("task") {
            *polled.entry(id).or_default() += p.dur;
        }
    }
    let task_id = |t: &Track| {
        t.name
            .strip_prefix("task ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<i64>().ok())
    };
    for (uuid, row) in who.iter_mut() {
        if let Some(t) = view.track(*uuid)
            && t.thread.is_none()
            && let Some(id) = task_id(t)
        {
            row.polled_ns = Some(polled.get(&id).copied().unwrap_or(0));
        }
        let mut by_kind: Vec<(String, u64)> =
            kinds.remove(uuid).unwrap_or_default().into_iter().collect();
        by_kind.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        row.by_kind = by_kind;
    }
    let mut who: Vec<WhoRow> = who.into_values().collect();
    who.sort_by(|a, b| b.waited_ns.cmp(&a.waited_ns).then(a.name.cmp(&b.name)));
    let mut locks: Vec<LockRow> = locks.into_values().collect();
    locks.sort_by(|a, b| b.waited_ns.cmp(&a.waited_ns).then(a.site.cmp(&b.site)));
    let mut longest: Vec<&Slice> = waits(&slices).collect();
    longest.sort_by(|a, b| b.dur.cmp(&a.dur).then(a.begin.ts.cmp(&b.begin.ts)));
    let longest = longest
        .into_iter()
        .take(top)
        .map(|w| LongWait {
            who: owner(view, w.track).map(display_name).unwrap_or_default(),
            kind: w.arg("kind").unwrap_or("wait").to_owned(),
            site: w.arg("site").unwrap_or("").to_owned(),
            dur_ns: w.dur,
            frames: w
                .stack
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .rev()
                .map(|f| {
                    if f.file.is_empty() {
                        f.function.clone()
                    } else {
                        format!("{}\n        at {}:{}", f.function, f.file, f.line)
                    }
                })
                .collect(),
        })
        .collect();
    let dropped = view
        .events
        .iter()
        .filter(|e| e.name == "dropped events" && e.phase == Phase::Instant)
        .filter_map(|e| e.int_arg("dropped"))
        .sum::<i64>()
        .max(0) as u64;
    Summary {
        duration_ns: last - first,
        threads: view.tracks.iter().filter(|t| t.thread.is_some()).count(),
        tasks: view
            .tracks
            .iter()
            .filter(|t| t.thread.is_none() && t.description != OVERFLOW && task_id(t).is_some())
            .count(),
        dropped,
        who,
        locks,
        longest,
    }
}

fn display_name(t: &Track) -> String {
    match t.thread {
        Some((_, tid)) => format!("thread {tid} \"{}\"", t.name),
        None => t.name.clone(),
    }
}

/// A duration as pprof prints one (`1.50s`, `12.30ms`, `4.10us`, `120ns`).
fn duration(ns: u64) -> String {
    let ns = ns as f64;
    if ns >= 1e9 {
        format!("{:.2}s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2}ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2}us", ns / 1e3)
    } else {
        format!("{ns:.0}ns")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "trace: {}, {} threads, {} tasks, {} events dropped{}",
            duration(self.duration_ns),
            self.threads,
            self.tasks,
            self.dropped,
            if self.dropped > 0 {
                " (the trace's memory was full: raise its limit)"
            } else {
                ""
            }
        )?;
        if self.who.is_empty() {
            return writeln!(f, "\nno waits in holdup primitives were recorded");
        }
        let total = self.duration_ns.max(1) as f64;
        writeln!(
            f,
            "\n{:<40} {:>7} {:>10} {:>7} {:>10}  BY KIND",
            "WAITING (THREAD OR TASK)", "WAITS", "TIME", "OF RUN", "POLLED"
        )?;
        for r in &self.who {
            let kinds: Vec<String> = r
                .by_kind
                .iter()
                .map(|(k, ns)| format!("{k} {}", duration(*ns)))
                .collect();
            writeln!(
                f,
                "{:<40} {:>7} {:>10} {:>6.1}% {:>10}  {}",
                r.name,
                r.waits,
                duration(r.waited_ns),
                100.0 * r.waited_ns as f64 / total,
                r.polled_ns.map_or("-".to_owned(), duration),
                kinds.join(", ")
            )?;
        }
        writeln!(
            f,
            "\n{:<12} {:<40} {:>7} {:>10} {:>10}",
            "KIND", "LOCK OR WAIT SITE", "WAITS", "TIME", "LONGEST"
        )?;
        for l in &self.locks {
            writeln!(
                f,
                "{:<12} {:<40} {:>7} {:>10} {:>10}",
                l.kind,
                l.site,
                l.waits,
                duration(l.waited_ns),
                duration(l.max_ns)
            )?;
        }
        writeln!(f, "\nLONGEST WAITS")?;
        for w in &self.longest {
            writeln!(
                f,
                "{:>10}  {} wait by {} at {}",
                duration(w.dur_ns),
                w.kind,
                w.who,
                w.site
            )?;
            for frame in &w.frames {
                writeln!(f, "    {frame}")?;
            }
        }
        Ok(())
    }
}
