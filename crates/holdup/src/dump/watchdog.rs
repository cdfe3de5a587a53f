//! [`Watchdog`]: a thread that checks the registry periodically and reports deadlocks and waits
//! longer than a threshold, with a full dump attached.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Deadlock, Detail, Options, ThreadDump, ThreadRef, Wait};
use crate::registry;
use holdup_core::Owner;

/// Something the [`Watchdog`] found, with the dump taken when it found it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Incident {
    /// Threads wait for each other.
    #[non_exhaustive]
    Deadlock {
        /// The cycle.
        cycle: Deadlock,
        /// The dump that confirmed it.
        dump: ThreadDump,
        /// Where the flight recorder's window was saved, if the watchdog saves it
        /// ([`WatchdogBuilder::save_flight_recorder`]).
        flight_trace: Option<PathBuf>,
    },
    /// A thread has waited in a holdup primitive longer than the threshold.
    #[non_exhaustive]
    LongWait {
        /// The waiting thread.
        thread: ThreadRef,
        /// Its wait (kind, lock, how long, holder).
        wait: Wait,
        /// The dump taken then.
        dump: ThreadDump,
        /// Where the flight recorder's window was saved, if the watchdog saves it.
        flight_trace: Option<PathBuf>,
    },
}

impl Incident {
    /// The dump taken when the incident was found.
    pub fn dump(&self) -> &ThreadDump {
        match self {
            Incident::Deadlock { dump, .. } | Incident::LongWait { dump, .. } => dump,
        }
    }

    /// Where the flight recorder's window (the last seconds before the incident) was saved,
    /// if the watchdog saves it ([`WatchdogBuilder::save_flight_recorder`]) and could.
    pub fn flight_trace(&self) -> Option<&Path> {
        match self {
            Incident::Deadlock { flight_trace, .. } | Incident::LongWait { flight_trace, .. } => {
                flight_trace.as_deref()
            }
        }
    }

    /// One line describing the incident.
    pub fn summary(&self) -> String {
        let line = match self {
            Incident::Deadlock { cycle, .. } => {
                format!("holdup watchdog: deadlock: {}", cycle.summary())
            }
            Incident::LongWait { thread, wait, .. } => {
                let t = self.dump().thread(thread.tid);
                let status = t.map_or_else(String::new, |t| t.status());
                format!(
                    "holdup watchdog: {thread} has waited {} [{status}]",
                    super::human(wait.waited)
                )
            }
        };
        match self.flight_trace() {
            Some(p) => format!("{line} (the last seconds before it: {})", p.display()),
            None => line,
        }
    }
}

impl fmt::Display for Incident {
    /// The summary, then the full dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        let mut text = Vec::new();
        self.dump()
            .write_text(&mut text, Detail::Full)
            .map_err(|_| fmt::Error)?;
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

type Callback = Box<dyn Fn(&Incident) + Send + Sync>;

/// Configures a [`Watchdog`].
#[must_use = "call start() to run the watchdog"]
pub struct WatchdogBuilder {
    interval: Duration,
    threshold: Duration,
    options: Options,
    callback: Option<Callback>,
    flight: Option<(Arc<crate::trace::FlightRecorder>, PathBuf)>,
}

impl fmt::Debug for WatchdogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchdogBuilder")
            .field("interval", &self.interval)
            .field("threshold", &self.threshold)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl WatchdogBuilder {
    /// How often the registry is checked (default 1 s). A check reads the published waits only;
    /// a dump is taken when something is found.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a wait may last before it is reported (default 10 s).
    pub fn threshold(mut self, threshold: Duration) -> Self {
        self.threshold = threshold;
        self
    }

    /// How dumps are taken.
    pub fn dump_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Saves `recorder`'s window (the last seconds before the incident, see
    /// [`FlightRecorder`](crate::trace::FlightRecorder)) to a new file in `dir` at each
    /// incident, `holdup-<pid>-<n>.pftrace`, before reporting it: on disk without anyone
    /// watching. [`Incident::flight_trace`] gives the file; a recorder that is off, or a file
    /// that cannot be written, is said on standard error and the incident still reported.
    pub fn save_flight_recorder(
        mut self,
        recorder: Arc<crate::trace::FlightRecorder>,
        dir: impl Into<PathBuf>,
    ) -> Self {
        self.flight = Some((recorder, dir.into()));
        self
    }

    /// Called on the watchdog's thread for each incident, once per deadlock and once per long
    /// wait. Without it, incidents are written to standard error with the full dump.
    pub fn on_incident(mut self, f: impl Fn(&Incident) + Send + Sync + 'static) -> Self {
        self.callback = Some(Box::new(f));
        self
    }

    /// Starts the watchdog's thread (`holdup-watchdog`); it runs until the [`Watchdog`] is
    /// dropped.
    ///
    /// # Errors
    ///
    /// The OS error if the thread cannot be created.
    pub fn start(self) -> io::Result<Watchdog> {
        holdup_core::collector::warm_up();
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("holdup-watchdog".to_owned())
            .spawn(move || {
                crate::registry::mark_own_thread();
                run(self, &stop2)
            })?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }
}

/// Checks periodically for deadlocks and waits longer than a threshold, and reports each with a
/// thread dump. Opt-in; stops when dropped.
///
/// ```
/// use std::time::Duration;
///
/// let watchdog = holdup::dump::Watchdog::builder()
///     .interval(Duration::from_millis(100))
///     .threshold(Duration::from_secs(10))
///     .on_incident(|incident| eprintln!("{incident}"))
///     .start()?;
/// // ... the program runs ...
/// drop(watchdog);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// A builder with the defaults: check every second, report waits over 10 s, log to stderr.
    pub fn builder() -> WatchdogBuilder {
        WatchdogBuilder {
            interval: Duration::from_secs(1),
            threshold: Duration::from_secs(10),
            options: Options::new(),
            callback: None,
            flight: None,
        }
    }

    /// Starts a watchdog with the defaults.
    ///
    /// # Errors
    ///
    /// The OS error if the thread cannot be created.
    pub fn start() -> io::Result<Watchdog> {
        Watchdog::builder().start()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(cfg: WatchdogBuilder, stop: &(Mutex<bool>, Condvar)) {
    let report = |i: &Incident| match &cfg.callback {
        Some(f) => f(i),
        None => eprintln!("{i}"),
    };
    let mut saved = 0u64;
    let mut save_flight = || {
        let (recorder, dir) = cfg.flight.as_ref()?;
        saved += 1;
        let path = dir.join(format!("holdup-{}-{saved}.pftrace", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::File::create(&path))
            .and_then(|f| recorder.write_to(io::BufWriter::new(f)));
        match written {
            Ok(_) => Some(path),
            Err(e) => {
                eprintln!(
                    "holdup watchdog: cannot save the flight recorder to {}: {e}",
                    path.display()
                );
                None
            }
        }
    };
    // What was reported already: long waits by (thread, wait start), cycles by their waits.
    let mut seen_waits: HashSet<(i64, u64)> = HashSet::new();
    let mut seen_cycles: HashSet<Vec<(i64, u64)>> = HashSet::new();
    loop {
        {
            let (lock, cv) = stop;
            let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (stopped, _) = cv
                .wait_timeout_while(stopped, cfg.interval, |s| !*s)
                .unwrap_or_else(|e| e.into_inner());
            if *stopped {
                return;
            }
        }
        let entries = registry::entries();
        let long: Vec<(i64, u64)> = entries
            .iter()
            .filter_map(|e| Some((e.os_tid, e.wait?)))
            .filter(|(_, w)| w.waited >= cfg.threshold)
            .map(|(tid, w)| (tid, w.since_ns))
            .filter(|k| !seen_waits.contains(k))
            .collect();
        if long.is_empty() && !has_cycle(&entries) {
            seen_waits.retain(|k| {
                entries
                    .iter()
                    .any(|e| e.os_tid == k.0 && e.wait.is_some_and(|w| w.since_ns == k.1))
            });
            continue;
        }
        let dump = super::threads_with(&cfg.options);
        let since: HashMap<i64, u64> = entries
            .iter()
            .filter_map(|e| Some((e.os_tid, e.wait?.since_ns)))
            .collect();
        for cycle in dump.deadlocks() {
            let mut key: Vec<(i64, u64)> = cycle
                .links
                .iter()
                .map(|l| (l.thread.tid, since.get(&l.thread.tid).copied().unwrap_or(0)))
                .collect();
            key.sort_unstable();
            if seen_cycles.insert(key) {
                report(&Incident::Deadlock {
                    cycle: cycle.clone(),
                    dump: dump.clone(),
                    flight_trace: save_flight(),
                });
            }
        }
        for (tid, since_ns) in long {
            seen_waits.insert((tid, since_ns));
            let Some(t) = dump.thread(tid) else { continue };
            let Some(wait) = t.wait.clone() else { continue };
            report(&Incident::LongWait {
                thread: t.thread.clone(),
                wait,
                dump: dump.clone(),
                flight_trace: save_flight(),
            });
        }
    }
}

/// Whether the registry's waits form a cycle (threads waiting for each other's locks).
fn has_cycle(entries: &[registry::Entry]) -> bool {
    let tid_of: HashMap<Owner, i64> = entries.iter().map(|e| (e.owner, e.os_tid)).collect();
    let next: HashMap<i64, i64> = entries
        .iter()
        .filter_map(|e| Some((e.os_tid, *tid_of.get(&e.wait?.holder?)?)))
        .filter(|(waiter, holder)| waiter != holder) // as the dump's deadlocks
        .collect();
    !super::cycles(&next).is_empty()
}
