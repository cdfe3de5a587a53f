//! The wall-clock view: where threads and tasks spend their time, running or waiting, in one
//! profile (what fgprof does for Go).
//!
//! Each function's value is its on-CPU time (the CPU profile's samples) plus the time threads
//! and tasks spent blocked in holdup primitives there, sampled consistently: each sampling
//! period, every thread and task waiting in a holdup primitive counts one period of waiting on
//! its stack, as each period of CPU time counts one period of running. A blocked thread's stack
//! is taken once per wait (by the dump's signal) and kept while the same wait lasts; a task's is
//! the one its waiting primitive kept.
//!
//! Labels say which part is which: `state` is `running` or `waiting`; a waiting sample has
//! `kind` (the primitive's kind, as in the mutex and block profiles) and `lock` (its creation
//! site); a thread's samples have `thread` (its name). Time a thread spends blocked elsewhere
//! (I/O, a `std` lock, a sleep) is in neither part.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use super::cpu::{CpuError, Sampled, Sampler};
use super::{DEFAULT_HZ, Frame};

/// A wall-clock profile being taken; [`stop`](WallProfiler::stop) ends it.
#[derive(Debug)]
pub struct WallProfiler {
    sampler: Sampler,
}

/// Starts a wall-clock profile of every thread and task, sampled `hz` times per second
/// ([`DEFAULT_HZ`] is Go's CPU rate). It uses the CPU profile's sampler, so it cannot run
/// while a CPU profile does (and the other way round).
///
/// # Errors
///
/// As [`start_cpu`](super::start_cpu).
pub fn start_wall(hz: u32) -> Result<WallProfiler, CpuError> {
    Sampler::start(hz, true).map(|sampler| WallProfiler { sampler })
}

/// A wall-clock profile of `duration` at [`DEFAULT_HZ`], as `/debug/holdup/wall?seconds=N`
/// takes it.
///
/// ```no_run
/// let prof = holdup::profile::wall(std::time::Duration::from_secs(10))?;
/// println!("running {:?}, waiting {:?}", prof.running(), prof.waiting());
/// prof.write_pprof(std::fs::File::create("wall.pb.gz")?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`start_cpu`](super::start_cpu).
pub fn wall(duration: Duration) -> Result<WallProfile, CpuError> {
    let p = start_wall(DEFAULT_HZ)?;
    std::thread::sleep(duration);
    Ok(p.stop())
}

impl WallProfiler {
    /// Stops sampling; the profile of what was sampled.
    pub fn stop(self) -> WallProfile {
        WallProfile(self.sampler.stop())
    }
}

/// A wall-clock profile: stacks with the time spent there running and waiting.
#[derive(Debug, Clone)]
pub struct WallProfile(Sampled);

/// One stack of a [`WallProfile`], symbolized and trimmed like the mutex and block profiles'
/// (a waiting stack ends at holdup's public call, such as `Mutex::lock`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WallSample {
    /// Innermost first, inlined calls expanded.
    pub frames: Vec<Frame>,
    /// Periods sampled here.
    pub count: i64,
    /// The time they stand for, in nanoseconds.
    pub wall_ns: i64,
    /// `state` (`running` or `waiting`), `kind` and `lock` (waiting), `thread`.
    pub labels: BTreeMap<String, String>,
}

impl WallSample {
    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Whether the sample is time spent waiting in a holdup primitive.
    pub fn is_waiting(&self) -> bool {
        self.label("state") == Some("waiting")
    }

    /// Whether a frame's function contains `needle`.
    pub fn has_function(&self, needle: &str) -> bool {
        self.frames.iter().any(|f| f.function.contains(needle))
    }
}

impl WallProfile {
    /// How long the profile ran.
    pub fn duration(&self) -> Duration {
        self.0.duration
    }

    /// The time one sample stands for.
    pub fn period(&self) -> Duration {
        self.0.period
    }

    /// Time sampled running (on a CPU), all threads together.
    pub fn running(&self) -> Duration {
        self.0.total(false)
    }

    /// Time sampled waiting in holdup primitives, all threads and tasks together.
    pub fn waiting(&self) -> Duration {
        self.0.total(true)
    }

    /// CPU samples lost because the sampler's buffer was full.
    pub fn dropped(&self) -> u64 {
        self.0.dropped
    }

    /// Periods of waiting counted without a stack, under the frame `holdup::unknown_stack`:
    /// the wait ended before its thread answered the signal that takes its stack, or the thread
    /// did not answer.
    pub fn missed_waits(&self) -> u64 {
        self.0.missed
    }

    /// The samples, symbolized, largest first.
    pub fn samples(&self) -> Vec<WallSample> {
        self.0
            .resolve(true)
            .into_iter()
            .map(|r| WallSample {
                frames: r.frames(),
                count: r.count,
                wall_ns: r.delay,
                labels: r
                    .labels
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            })
            .collect()
    }

    /// Writes the profile as gzip'd profile.proto: sample types `samples/count` and
    /// `wall/nanoseconds` (the default), period type `wall/nanoseconds` with the sampling
    /// period, `duration_nanos`, and the labels `state`, `kind`, `lock` and `thread`.
    ///
    /// # Errors
    ///
    /// What writing to `w` returns.
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        self.0
            .write_pprof(&[("samples", "count"), ("wall", "nanoseconds")], true, w)
    }
}
