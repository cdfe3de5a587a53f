//! Count profiles of threads, in Go's `goroutine` and `threadcreate` formats.
//!
//! `goroutine` comes from a [thread dump](crate::dump): every thread of the process, grouped by
//! stack and labels (`wait`, `lock`, `held_by`, `stack`). `threadcreate` counts the threads ever
//! spawned through `holdup::thread` at each site (one frame, `holdup::thread::spawn` at the
//! spawn site).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use holdup_pprof::{LineInfo, MappingInfo, ProfileBuilder};

use crate::registry;

/// The function name of the one frame of a `threadcreate` sample.
const SPAWN_FRAME: &str = "holdup::thread::spawn";

/// A count profile: [`goroutine`](crate::profile::goroutine) (the threads now, and what each waits for) or
/// [`threadcreate`] (the threads ever spawned), in Go's formats for those profiles.
///
/// ```
/// use holdup::sync::mpsc;
///
/// let (started, wait_started) = mpsc::channel();
/// let (stop, stopped) = mpsc::channel::<()>();
/// let worker = holdup::thread::spawn(move || {
///     started.send(()).unwrap();
///     let _ = stopped.recv(); // shows with `wait: chan-recv`
/// });
/// wait_started.recv().unwrap();
/// let now = holdup::profile::goroutine();
/// assert!(now.total() >= 2);
/// let mut text = Vec::new();
/// now.write_text(&mut text)?; // `goroutine profile: total N`, grouped by stack and wait
/// assert!(String::from_utf8_lossy(&text).contains("goroutine profile: total"));
/// drop(stop);
/// worker.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CountProfile {
    name: &'static str,
    time: SystemTime,
    duration: Option<Duration>,
    /// (stack, labels) → count, in a stable order.
    counts: BTreeMap<Key, i64>,
}

type Key = (Vec<CountFrame>, BTreeMap<String, String>);

/// One frame of a count profile's stack, with what Go's text format prints for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CountFrame {
    /// The address listed (`#\t0x...`); 0 for synthetic frames.
    pub(crate) pc: u64,
    pub(crate) function: String,
    pub(crate) offset: u64,
    pub(crate) file: String,
    pub(crate) line: u32,
    /// Inlined into the next frame (same code address).
    pub(crate) inlined: bool,
}

/// The threads ever spawned through [`holdup::thread`](crate::thread), per spawn site, like
/// Go's `pprof.Lookup("threadcreate")`.
pub fn threadcreate() -> CountProfile {
    let counts = registry::created()
        .into_iter()
        .map(|(site, n)| {
            let frame = CountFrame {
                pc: 0,
                function: SPAWN_FRAME.to_owned(),
                offset: 0,
                file: site.file().to_owned(),
                line: site.line(),
                inlined: false,
            };
            ((vec![frame], BTreeMap::new()), n as i64)
        })
        .collect();
    CountProfile {
        name: "threadcreate",
        time: SystemTime::now(),
        duration: None,
        counts,
    }
}

impl CountProfile {
    /// Groups identical (stack, labels) pairs, counting one per item.
    pub(crate) fn from_groups(
        name: &'static str,
        time: SystemTime,
        items: impl Iterator<Item = ((Vec<CountFrame>, BTreeMap<String, String>), i64)>,
    ) -> CountProfile {
        let mut counts: BTreeMap<Key, i64> = BTreeMap::new();
        for (key, n) in items {
            *counts.entry(key).or_default() += n;
        }
        CountProfile {
            name,
            time,
            duration: None,
            counts,
        }
    }

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
        b.time_nanos(
            self.time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64),
        );
        if let Some(d) = self.duration {
            b.duration_nanos(d.as_nanos() as i64);
        }
        // The executable's mapping, marked symbolized, so that readers do not try to
        // symbolize the synthetic frames.
        let mapping = executable_mapping().map_or(0, |m| b.mapping(&m));
        // Locations by address; synthetic frames (address 0) by their one line.
        let mut locations: BTreeMap<(u64, &str, &str, u32), u64> = BTreeMap::new();
        for ((frames, labels), n) in self.ordered() {
            let mut locs = Vec::new();
            let mut i = 0;
            while i < frames.len() {
                // An address's inlined frames and the physical frame after them are one location.
                let j = (i..frames.len())
                    .find(|&j| !frames[j].inlined)
                    .unwrap_or(frames.len() - 1);
                let lines: Vec<LineInfo> = frames[i..=j]
                    .iter()
                    .map(|f| LineInfo {
                        function: f.function.clone(),
                        system_name: String::new(),
                        file: f.file.clone(),
                        line: i64::from(f.line),
                    })
                    .collect();
                let address = frames[j].pc;
                let key = match address {
                    0 => (
                        0,
                        frames[i].function.as_str(),
                        frames[i].file.as_str(),
                        frames[i].line,
                    ),
                    _ => (address, "", "", 0),
                };
                let id = *locations
                    .entry(key)
                    .or_insert_with(|| b.location(mapping, address, &lines));
                locs.push(id);
                i = j + 1;
            }
            let labels: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            b.sample(&locs, &[n], &labels);
        }
        holdup_pprof::write_encoded(&b.build(), w)
    }

    /// Go's legacy text (`debug=1`): `<name> profile: total N`, then each group with its labels
    /// and frame.
    pub fn write_text(&self, mut w: impl Write) -> io::Result<()> {
        let mut text = format!("{} profile: total {}\n", self.name, self.total());
        for ((frames, labels), n) in self.ordered() {
            let _ = write!(text, "{n} @");
            // Each frame's listed address plus one, as holdup's contention text does (an
            // inlined frame lists the return address, the physical frame the call address), so
            // that readers find every frame's line one byte before its `@` address.
            for f in frames.iter().filter(|f| f.pc != 0) {
                let _ = write!(text, " {:#x}", f.pc + 1);
            }
            text.push('\n');
            if !labels.is_empty() {
                let list: Vec<String> =
                    labels.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
                let _ = writeln!(text, "# labels: {{{}}}", list.join(", "));
            }
            for f in frames {
                let _ = writeln!(
                    text,
                    "#\t{:#x}\t{}+{:#x}\t{}:{}",
                    f.pc, f.function, f.offset, f.file, f.line
                );
            }
            text.push('\n');
        }
        w.write_all(holdup_pprof::legacy::align_columns(&text).as_bytes())
    }
}

#[cfg(target_os = "linux")]
fn executable_mapping() -> Option<MappingInfo> {
    let m = holdup_core::modules::executable_mappings()
        .into_iter()
        .next()?;
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
