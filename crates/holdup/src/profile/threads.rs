//! Count profiles of threads, in Go's `goroutine` and `threadcreate` formats.
//!
//! Until holdup dumps every thread's stack, a registered thread is described by where it was
//! spawned (one frame, `holdup::thread::spawn` at the spawn site) and labels: `thread` (its
//! name), `state` (`running`, or `waiting` with the `kind` and `lock` of the wait). The
//! `threadcreate` profile counts the threads ever spawned at each site.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::panic::Location;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use holdup_pprof::{LineInfo, MappingInfo, ProfileBuilder};

use crate::registry;

/// The function name of the one frame of a thread's sample.
const SPAWN_FRAME: &str = "holdup::thread::spawn";

/// A count profile: [`goroutine`] (the threads now, and what each waits for) or
/// [`threadcreate`] (the threads ever spawned), in Go's formats for those profiles.
///
/// ```
/// use holdup::sync::mpsc;
///
/// let (started, wait_started) = mpsc::channel();
/// let (stop, stopped) = mpsc::channel::<()>();
/// let worker = holdup::thread::spawn(move || {
///     started.send(()).unwrap();
///     let _ = stopped.recv(); // shows as `state: waiting`, `kind: chan-recv`
/// });
/// wait_started.recv().unwrap(); // a thread shows up once it runs
/// let now = holdup::profile::goroutine();
/// assert!(now.total() >= 1);
/// let mut text = Vec::new();
/// now.write_text(&mut text)?; // `goroutine profile: total N`, grouped by spawn site and state
/// assert!(String::from_utf8_lossy(&text).contains("holdup::thread::spawn"));
/// drop(stop);
/// worker.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CountProfile {
    name: &'static str,
    time: SystemTime,
    duration: Option<Duration>,
    /// (spawn site, labels) → count, in a stable order.
    counts: BTreeMap<Key, i64>,
}

type Key = (SiteKey, BTreeMap<String, String>);

/// A spawn site, ordered by file, line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SiteKey(&'static str, u32, u32);

impl SiteKey {
    fn of(site: &'static Location<'static>) -> Self {
        SiteKey(site.file(), site.line(), site.column())
    }
}

/// The threads started through [`holdup::thread`](crate::thread) that are running now, like
/// Go's `pprof.Lookup("goroutine")`: grouped by spawn site, with labels `thread` (the name),
/// `state` (`running`, or `waiting` with the `kind` of operation and the `lock` it waits on).
///
/// A thread appears once it has started running and disappears when its closure returns.
/// Each group has one frame, `holdup::thread::spawn` at the spawn site; stacks of every thread
/// are not captured yet.
pub fn goroutine() -> CountProfile {
    let mut counts: BTreeMap<Key, i64> = BTreeMap::new();
    for t in registry::snapshot() {
        let mut labels = BTreeMap::new();
        labels.insert("thread".to_owned(), t.name.clone().unwrap_or_default());
        match t.waiting {
            Some(w) => {
                labels.insert("state".to_owned(), "waiting".to_owned());
                labels.insert("kind".to_owned(), w.kind.as_str().to_owned());
                labels.insert("lock".to_owned(), format!("{}:{}", w.lock.file(), w.lock.line()));
            }
            None => {
                labels.insert("state".to_owned(), "running".to_owned());
            }
        }
        *counts.entry((SiteKey::of(t.spawn_site), labels)).or_default() += 1;
    }
    CountProfile { name: "goroutine", time: SystemTime::now(), duration: None, counts }
}

/// The threads ever spawned through [`holdup::thread`](crate::thread), per spawn site, like
/// Go's `pprof.Lookup("threadcreate")`.
pub fn threadcreate() -> CountProfile {
    let counts = registry::created()
        .into_iter()
        .map(|(site, n)| ((SiteKey::of(site), BTreeMap::new()), n as i64))
        .collect();
    CountProfile { name: "threadcreate", time: SystemTime::now(), duration: None, counts }
}

impl CountProfile {
    /// The profile's name: `goroutine` or `threadcreate`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The number of threads counted (Go's `Profile.Count()`).
    pub fn total(&self) -> i64 {
        self.counts.values().sum()
    }

    /// What changed since `earlier` (counts may be negative; zero counts are dropped).
    pub fn delta(&self, earlier: &CountProfile) -> CountProfile {
        let mut counts = self.counts.clone();
        for (k, n) in &earlier.counts {
            *counts.entry(k.clone()).or_default() -= n;
        }
        counts.retain(|_, n| *n != 0);
        CountProfile {
            name: self.name,
            time: self.time,
            duration: Some(self.time.duration_since(earlier.time).unwrap_or_default()),
            counts,
        }
    }

    /// Samples largest count first, then by key (Go's order).
    fn ordered(&self) -> Vec<(&Key, i64)> {
        let mut v: Vec<(&Key, i64)> = self.counts.iter().map(|(k, &n)| (k, n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// gzip'd profile.proto with sample type `<name>/count`.
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        let mut b = ProfileBuilder::new(&[(self.name, "count")]);
        b.period_type(self.name, "count", 1);
        b.time_nanos(self.time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64));
        if let Some(d) = self.duration {
            b.duration_nanos(d.as_nanos() as i64);
        }
        // The executable's mapping, marked symbolized, so that readers do not try to
        // symbolize the synthetic frames.
        let mapping = executable_mapping().map_or(0, |m| b.mapping(&m));
        for ((site, labels), n) in self.ordered() {
            let line = LineInfo {
                function: SPAWN_FRAME.to_owned(),
                system_name: String::new(),
                file: site.0.to_owned(),
                line: i64::from(site.1),
            };
            let loc = b.location(mapping, 0, &[line]);
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.sample(&[loc], &[n], &labels);
        }
        holdup_pprof::write_encoded(&b.build(), w)
    }

    /// Go's legacy text (`debug=1`): `<name> profile: total N`, then each group with its labels
    /// and frame.
    pub fn write_text(&self, mut w: impl Write) -> io::Result<()> {
        let mut text = format!("{} profile: total {}\n", self.name, self.total());
        for ((site, labels), n) in self.ordered() {
            let _ = writeln!(text, "{n} @");
            if !labels.is_empty() {
                let list: Vec<String> = labels.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
                let _ = writeln!(text, "# labels: {{{}}}", list.join(", "));
            }
            let _ = writeln!(text, "#\t0x0\t{SPAWN_FRAME}+0x0\t{}:{}\n", site.0, site.1);
        }
        w.write_all(holdup_pprof::legacy::align_columns(&text).as_bytes())
    }
}

#[cfg(target_os = "linux")]
fn executable_mapping() -> Option<MappingInfo> {
    let m = super::modules::executable_mappings().into_iter().next()?;
    Some(MappingInfo {
        memory_start: m.start,
        memory_limit: m.limit,
        file_offset: m.offset,
        filename: m.path,
        build_id: m.build_id,
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
        has_inline_frames: false,
    })
}

#[cfg(not(target_os = "linux"))]
fn executable_mapping() -> Option<MappingInfo> {
    None
}
