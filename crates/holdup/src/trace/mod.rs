//! The execution trace: what every thread and task did over time, which lock or channel made it
//! wait, who released it and woke it, in Perfetto's format (ui.perfetto.dev opens it). Go's
//! `runtime/trace` for holdup's primitives, with its flight recorder.
//!
//! While a trace is on, holdup records:
//!
//! - every wait in a holdup primitive that does not complete at once (a lock that spinning did
//!   not get, a condvar, a channel, a join, an async `.await` that returned `Pending`), from its
//!   beginning to its end, with the waiter's stack, the kind and the lock's creation site;
//! - every release of a lock that has waiters, and which waiter it let in (an arrow from the
//!   release to the woken waiter);
//! - the polls of tasks spawned through `holdup::tokio`;
//! - your [regions](region), [tasks](Task) and [log messages](log).
//!
//! Uncontended operations record nothing, as in Go's tracer (an uncontended lock costs what it
//! did). Each event costs a few stores in the recording thread's own buffer plus a clock read;
//! memory is bounded ([`Options::max_bytes`], [`FlightConfig::max_bytes`]): past it, a window
//! drops new events and counts them ([`Trace::dropped`]), a flight recorder forgets its oldest.
//!
//! ```
//! # let _serial = holdup_core::trace::test_lock();
//! holdup::trace::start()?;
//! let m = holdup::sync::Mutex::new(0);
//! holdup::trace::region("load config", || *m.lock().unwrap() += 1);
//! holdup::trace::log("cache", "miss");
//! let trace = holdup::trace::stop()?;
//! let mut file = Vec::new(); // or std::fs::File::create("app.pftrace")?
//! trace.write_perfetto(&mut file)?;
//! assert!(!file.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reading a trace
//!
//! Open the file at <https://ui.perfetto.dev> ("Open trace file"). The process has a track per
//! thread (waits, regions, the polls of tasks, each named after the task), a track per task
//! (its waits between polls), a track per lock that made anyone wait (who held it after a wait,
//! and a `waiters` counter), and a track per user task. Click a wait to see its kind, lock site
//! and stack; arrows run from each contended unlock to the waiter it let in.

mod export;

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use holdup_core::trace as rec;

/// Why a trace could not start or stop (Go's texts where Go has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `start` while a trace window is already recorded.
    AlreadyEnabled,
    /// `stop` without a window being recorded.
    NotEnabled,
    /// `FlightRecorder::start` on a recorder already started.
    FlightEnabled,
    /// `FlightRecorder::start` while another flight recorder is on.
    FlightOtherEnabled,
    /// `FlightRecorder::write_to` on a recorder that is not started.
    FlightDisabled,
    /// `FlightRecorder::write_to` while another `write_to` of it runs.
    FlightWriteInProgress,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::AlreadyEnabled => "tracing is already enabled",
            Error::NotEnabled => "tracing is not enabled",
            Error::FlightEnabled => "cannot enable a enabled flight recorder",
            Error::FlightOtherEnabled => "flight recorder already enabled",
            Error::FlightDisabled => "cannot snapshot a disabled flight recorder",
            Error::FlightWriteInProgress => {
                "call to WriteTo for trace.FlightRecorder already in progress"
            }
        })
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::other(e)
    }
}

/// How a trace window records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The most memory the window's events may take (64 MiB by default); past it, new events
    /// are dropped and counted.
    pub max_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bytes: 64 << 20,
        }
    }
}

/// Starts recording a trace window, with the default [`Options`].
///
/// # Errors
///
/// [`Error::AlreadyEnabled`] if a window is being recorded.
pub fn start() -> Result<(), Error> {
    start_with(Options::default())
}

/// Starts recording a trace window.
///
/// # Errors
///
/// [`Error::AlreadyEnabled`] if a window is being recorded.
pub fn start_with(options: Options) -> Result<(), Error> {
    rec::start_window(options.max_bytes.max(rec::CHUNK_BYTES)).map_err(|_| Error::AlreadyEnabled)
}

/// Stops the window and returns what it recorded.
///
/// # Errors
///
/// [`Error::NotEnabled`] if no window was being recorded.
pub fn stop() -> Result<Trace, Error> {
    rec::stop_window()
        .map(|snapshot| Trace { snapshot })
        .ok_or(Error::NotEnabled)
}

/// Whether a trace window is being recorded.
pub fn is_enabled() -> bool {
    rec::window_active()
}

/// A recorded trace.
#[derive(Debug, Clone)]
pub struct Trace {
    snapshot: rec::Snapshot,
}

impl Trace {
    /// Writes the trace in Perfetto's protobuf format (`.pftrace`, opened by
    /// ui.perfetto.dev).
    ///
    /// # Errors
    ///
    /// What writing to `w` returns.
    pub fn write_perfetto<W: Write>(&self, w: W) -> io::Result<()> {
        export::perfetto(&self.snapshot, w).map(|_| ())
    }

    /// Events lost because the trace's memory was full (or a thread could not record, during
    /// its exit).
    pub fn dropped(&self) -> u64 {
        self.snapshot.dropped
    }

    /// How long the trace covers.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(
            self.snapshot
                .end
                .monotonic_ns
                .saturating_sub(self.snapshot.start.monotonic_ns),
        )
    }
}

/// Runs `f` as a region named `name` of the calling thread's timeline (Go's
/// `trace.WithRegion`): a slice on the thread's track from its start to its end, also if `f`
/// panics.
pub fn region<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let _region = Region::start(name, 0);
    f()
}

/// A region started by [`start_region`] or [`Task::start_region`], ended when dropped (on the
/// thread that started it).
#[derive(Debug)]
#[must_use = "the region ends when this is dropped"]
pub struct Region {
    name: u64,
    task: u64,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Region {
    fn start(name: &str, task: u64) -> Region {
        let name = if rec::on() { rec::intern(name) } else { 0 };
        if name != 0 {
            rec::emit(rec::Tag::RegionBegin, 0, &[name, task]);
        }
        Region {
            name,
            task,
            _not_send: std::marker::PhantomData,
        }
    }

    /// Ends the region.
    pub fn end(self) {}
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.name != 0 {
            rec::emit(rec::Tag::RegionEnd, 0, &[self.name, self.task]);
        }
    }
}

/// Starts a region named `name` on the calling thread (Go's `trace.StartRegion`).
pub fn start_region(name: &str) -> Region {
    Region::start(name, 0)
}

/// Logs `message` under `category` at this moment of the calling thread's timeline (Go's
/// `trace.Log`): an instant on the thread's track.
pub fn log(category: &str, message: &str) {
    log_in(0, category, message);
}

/// Longest logged message kept, in bytes (the rest is cut).
const MAX_LOG: usize = 400;

fn log_in(task: u64, category: &str, message: &str) {
    if !rec::on() {
        return;
    }
    let mut end = message.len().min(MAX_LOG);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let text = &message.as_bytes()[..end];
    rec::emit_at(
        holdup_core::clock::now(),
        rec::Tag::Log,
        text.len() as u64,
        &[rec::intern(category), task],
        text,
    );
}

/// A user task (Go's `trace.NewTask`): a logical operation (a request) that may span threads
/// and async tasks, shown as its own track from creation to [`end`](Task::end) (or drop), with
/// the regions and logs made through it.
#[derive(Debug)]
pub struct Task {
    id: u64,
}

impl Task {
    /// Starts a task named `name`.
    pub fn new(name: &str) -> Task {
        Task::with_parent(name, 0)
    }

    /// Starts a subtask of this one.
    pub fn child(&self, name: &str) -> Task {
        Task::with_parent(name, self.id)
    }

    fn with_parent(name: &str, parent: u64) -> Task {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        if rec::on() {
            rec::emit(rec::Tag::UserTaskBegin, 0, &[id, parent, rec::intern(name)]);
        }
        Task { id }
    }

    /// Runs `f` as a region of this task (on the calling thread's track, linked to the task).
    pub fn region<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        let _region = Region::start(name, self.id);
        f()
    }

    /// Starts a region of this task on the calling thread.
    pub fn start_region(&self, name: &str) -> Region {
        Region::start(name, self.id)
    }

    /// Logs a message in this task.
    pub fn log(&self, category: &str, message: &str) {
        log_in(self.id, category, message);
    }

    /// Ends the task (as dropping it does).
    pub fn end(self) {}
}

impl Drop for Task {
    fn drop(&mut self) {
        if rec::on() {
            rec::emit(rec::Tag::UserTaskEnd, 0, &[self.id]);
        }
    }
}

/// How much a [`FlightRecorder`] keeps (Go's `FlightRecorderConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlightConfig {
    /// Keep at least the last this long (10 s by default, like Go), as far as `max_bytes`
    /// allows.
    pub min_age: Duration,
    /// The most memory the recorder takes (10 MiB by default, like Go); it takes precedence.
    pub max_bytes: usize,
}

impl Default for FlightConfig {
    fn default() -> Self {
        FlightConfig {
            min_age: Duration::from_secs(10),
            max_bytes: 10 << 20,
        }
    }
}

/// The flight recorder (Go's `trace.FlightRecorder`): keeps the last seconds of the trace in
/// memory, so that they can be written *after* something went wrong. One may be on at a time,
/// beside one trace window.
///
/// ```
/// # let _serial = holdup_core::trace::test_lock();
/// use holdup::trace::{FlightConfig, FlightRecorder};
///
/// let fr = FlightRecorder::new(FlightConfig::default());
/// fr.start()?;
/// // ... later, when something went wrong:
/// let mut out = Vec::new(); // or a File
/// fr.write_to(&mut out)?;
/// fr.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FlightRecorder {
    config: FlightConfig,
    /// Whether this recorder is the one on.
    state: Mutex<bool>,
    /// Held by the one `write_to` in progress.
    writing: Mutex<()>,
}

impl FlightRecorder {
    /// A recorder that is not started.
    pub fn new(config: FlightConfig) -> FlightRecorder {
        FlightRecorder {
            config,
            state: Mutex::new(false),
            writing: Mutex::new(()),
        }
    }

    /// Starts recording.
    ///
    /// # Errors
    ///
    /// [`Error::FlightEnabled`] if this recorder is on, [`Error::FlightOtherEnabled`] if
    /// another one is.
    pub fn start(&self) -> Result<(), Error> {
        let mut on = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *on {
            return Err(Error::FlightEnabled);
        }
        let min_age = self.config.min_age.as_nanos().min(u128::from(u64::MAX)) as u64;
        rec::start_flight(min_age, self.config.max_bytes.max(rec::CHUNK_BYTES))
            .map_err(|_| Error::FlightOtherEnabled)?;
        *on = true;
        Ok(())
    }

    /// Stops recording and frees the recorder's memory; waits for a `write_to` in progress.
    pub fn stop(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mut on = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if std::mem::take(&mut *on) {
            rec::stop_flight();
        }
    }

    /// Whether the recorder is on.
    pub fn enabled(&self) -> bool {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the recorder's window (the last [`FlightConfig::min_age`], as far as the bytes
    /// allowed) in Perfetto's format; recording goes on. Returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`Error::FlightDisabled`] if the recorder is not on, [`Error::FlightWriteInProgress`]
    /// if another `write_to` runs, or what writing to `w` returns.
    pub fn write_to<W: Write>(&self, w: W) -> io::Result<u64> {
        let _writing = match self.writing.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(Error::FlightWriteInProgress.into());
            }
        };
        if !self.enabled() {
            return Err(Error::FlightDisabled.into());
        }
        let snapshot = rec::flight_snapshot().ok_or(Error::FlightDisabled)?;
        export::perfetto(&snapshot, w)
    }
}

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}
