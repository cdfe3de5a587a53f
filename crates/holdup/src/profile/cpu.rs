//! The CPU profile: where threads spend their CPU time, sampled as Go samples it (100 times per
//! second of each thread's CPU time by default), in Go's pprof shape.

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use super::Kind;
use super::snapshot::{Resolved, Shape, Unresolved, encode, resolve_samples};
use crate::symbols::Frame;

/// Go's CPU sampling rate.
pub const DEFAULT_HZ: u32 = 100;

/// Why a CPU profile could not be taken.
#[derive(Debug)]
#[non_exhaustive]
pub enum CpuError {
    /// Another CPU profile is running (Go: "cpu profiling already in use").
    InUse,
    /// The program has its own `SIGPROF` handler (another profiler): holdup leaves it alone.
    SignalTaken,
    /// Not available on this platform (Linux x86_64 only).
    Unsupported,
    /// The OS refused.
    Os(io::Error),
}

impl fmt::Display for CpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuError::InUse => f.write_str("cpu profiling already in use"),
            CpuError::SignalTaken => f.write_str(
                "SIGPROF has another handler (the program profiles itself): holdup leaves it alone",
            ),
            CpuError::Unsupported => f.write_str("CPU profiling is available on Linux x86_64 only"),
            CpuError::Os(e) => write!(f, "CPU profiling could not start: {e}"),
        }
    }
}

impl std::error::Error for CpuError {}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
impl From<holdup_core::cpu::StartError> for CpuError {
    fn from(e: holdup_core::cpu::StartError) -> Self {
        use holdup_core::cpu::StartError;
        match e {
            StartError::InUse => CpuError::InUse,
            StartError::SignalTaken => CpuError::SignalTaken,
            StartError::Os(e) => CpuError::Os(e),
        }
    }
}

/// The sampler under both the CPU profile and the wall-clock view (`holdup_core::cpu`), and
/// when it started. None exists where there is no sampler: starting one fails.
#[derive(Debug)]
pub(super) struct Sampler {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    inner: holdup_core::cpu::Profiler,
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    started: SystemTime,
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    never: std::convert::Infallible,
}

impl Sampler {
    /// Samples every thread `hz` times per second of its CPU time, and with `wall`, every
    /// thread and task waiting in a holdup primitive each period.
    pub(super) fn start(hz: u32, wall: bool) -> Result<Sampler, CpuError> {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            let inner = holdup_core::cpu::start_with(holdup_core::cpu::Options { hz, wall })?;
            Ok(Sampler {
                inner,
                started: SystemTime::now(),
            })
        }
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        {
            let _ = (hz, wall);
            Err(CpuError::Unsupported)
        }
    }

    /// Stops sampling; what was sampled, each stack under its thread's name.
    pub(super) fn stop(self) -> Sampled {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            let c = self.inner.stop();
            let name = |tid: i32| c.threads.get(&tid).cloned().unwrap_or_default();
            let running = c.samples.iter().map(|((tid, pcs), &periods)| RawSample {
                pcs: pcs.clone(),
                periods,
                thread: name(*tid),
                waiting: None,
            });
            let waiting = c.waits.iter().map(|(k, &periods)| RawSample {
                pcs: k.stack.clone(),
                periods,
                // Tasks (0) are not told apart.
                thread: if k.tid == 0 {
                    String::new()
                } else {
                    name(k.tid)
                },
                waiting: Some((k.kind, format!("{}:{}", k.site.file(), k.site.line()))),
            });
            Sampled {
                time: self.started,
                duration: c.duration,
                period: c.period,
                samples: running.chain(waiting).collect(),
                dropped: c.dropped,
                missed: c.waits_missed,
                handler: c.handler,
                sampler_cpu: c.collector_cpu,
            }
        }
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        match self.never {}
    }
}

/// What the sampler collected, raw; symbolized when read.
#[derive(Debug, Clone)]
pub(super) struct Sampled {
    time: SystemTime,
    pub(super) duration: Duration,
    pub(super) period: Duration,
    samples: Vec<RawSample>,
    /// CPU samples lost to a full buffer.
    pub(super) dropped: u64,
    /// Periods of waiting counted without a stack.
    pub(super) missed: u64,
    /// The handler's time, all samples together, and the samples.
    handler: (Duration, u64),
    sampler_cpu: Duration,
}

#[derive(Debug, Clone)]
struct RawSample {
    pcs: Vec<usize>,
    periods: u64,
    thread: String,
    /// `None` for running; the primitive's kind and creation site for waiting.
    waiting: Option<(Kind, String)>,
}

impl Sampled {
    /// The time sampled running (`waiting` false) or waiting, all threads and tasks together.
    pub(super) fn total(&self, waiting: bool) -> Duration {
        let periods: u64 = self
            .samples
            .iter()
            .filter(|s| s.waiting.is_some() == waiting)
            .map(|s| s.periods)
            .sum();
        self.period
            .saturating_mul(periods.min(u64::from(u32::MAX)) as u32)
    }

    /// Symbolized and trimmed like the other profiles' (holdup's own frames to its public
    /// call, the thread start-up frames), largest first; labelled `thread`, and with `state`
    /// (and `kind`, `lock` for waits) when `states`.
    pub(super) fn resolve(&self, states: bool) -> Vec<Resolved> {
        let period = self.period.as_nanos() as i64;
        resolve_samples(
            self.samples
                .iter()
                .map(|s| {
                    let mut labels = Vec::with_capacity(4);
                    match &s.waiting {
                        _ if !states => {}
                        None => labels.push(("state", "running".to_owned())),
                        Some((kind, site)) => {
                            labels.push(("state", "waiting".to_owned()));
                            labels.push(("kind", kind.as_str().to_owned()));
                            labels.push(("lock", site.clone()));
                        }
                    }
                    if !s.thread.is_empty() {
                        labels.push(("thread", s.thread.clone()));
                    }
                    let count = s.periods as i64;
                    Unresolved {
                        stack: &s.pcs,
                        count,
                        value: count.saturating_mul(period),
                        labels,
                    }
                })
                .collect(),
        )
    }

    /// Writes gzip'd profile.proto with sample types `types` (the second is the time), the
    /// period in that type's unit, `duration_nanos`, and the labels of [`resolve`](Self::resolve).
    pub(super) fn write_pprof(
        &self,
        types: &'static [(&'static str, &'static str)],
        states: bool,
        w: impl Write,
    ) -> io::Result<()> {
        let profile = encode(
            &self.resolve(states),
            &Shape {
                types,
                period_type: types[1],
                period: self.period.as_nanos() as i64,
                time: self.time,
                duration: Some(self.duration),
            },
        );
        holdup_pprof::write_encoded(&profile, w)
    }
}

/// A CPU profile being taken; [`stop`](CpuProfiler::stop) ends it.
#[derive(Debug)]
pub struct CpuProfiler {
    sampler: Sampler,
}

/// Starts a CPU profile of every thread of the process, sampled `hz` times per second of each
/// thread's CPU time ([`DEFAULT_HZ`] is Go's).
///
/// # Errors
///
/// [`CpuError::InUse`] while another runs; [`CpuError::SignalTaken`] if the program has its own
/// `SIGPROF` handler.
pub fn start_cpu(hz: u32) -> Result<CpuProfiler, CpuError> {
    Sampler::start(hz, false).map(|sampler| CpuProfiler { sampler })
}

/// A CPU profile of `duration` at Go's rate, as `/debug/pprof/profile?seconds=N` takes it.
///
/// ```no_run
/// let prof = holdup::profile::cpu(std::time::Duration::from_secs(10))?;
/// prof.write_pprof(std::fs::File::create("cpu.pb.gz")?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`start_cpu`].
pub fn cpu(duration: Duration) -> Result<CpuProfile, CpuError> {
    let p = start_cpu(DEFAULT_HZ)?;
    std::thread::sleep(duration);
    Ok(p.stop())
}

impl CpuProfiler {
    /// Stops sampling; the profile of what was sampled.
    pub fn stop(self) -> CpuProfile {
        CpuProfile(self.sampler.stop())
    }
}

/// A CPU profile: stacks with the samples that hit them, per thread.
#[derive(Debug, Clone)]
pub struct CpuProfile(Sampled);

/// One stack of a [`CpuProfile`], symbolized.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CpuSample {
    /// Innermost first, inlined calls expanded.
    pub frames: Vec<Frame>,
    /// Samples (each one period of CPU time).
    pub count: u64,
    /// The thread's name (the `thread` label).
    pub thread: String,
}

impl CpuSample {
    /// Whether a frame's function contains `needle`.
    pub fn has_function(&self, needle: &str) -> bool {
        self.frames.iter().any(|f| f.function.contains(needle))
    }
}

impl CpuProfile {
    /// How long the profile ran.
    pub fn duration(&self) -> Duration {
        self.0.duration
    }

    /// The CPU time one sample stands for.
    pub fn period(&self) -> Duration {
        self.0.period
    }

    /// Samples taken.
    pub fn total_samples(&self) -> u64 {
        self.0.samples.iter().map(|s| s.periods).sum()
    }

    /// Samples lost because the sampler's buffer was full.
    pub fn dropped(&self) -> u64 {
        self.0.dropped
    }

    /// The mean time the sampler's signal handler took per sample (copying the registers and
    /// the top of the stack): what each sample costs the sampled thread.
    pub fn handler_time_per_sample(&self) -> Duration {
        let (total, n) = self.0.handler;
        if n == 0 {
            Duration::ZERO
        } else {
            total / n.min(u64::from(u32::MAX)) as u32
        }
    }

    /// CPU time the sampler's own thread used (arming timers, draining the buffer, unwinding).
    pub fn sampler_cpu(&self) -> Duration {
        self.0.sampler_cpu
    }

    /// The samples, symbolized and trimmed like the other profiles' (holdup's own frames to
    /// its public call, the thread start-up frames), most samples first.
    pub fn samples(&self) -> Vec<CpuSample> {
        self.0
            .resolve(false)
            .into_iter()
            .map(|r| CpuSample {
                frames: r.frames(),
                count: r.count as u64,
                thread: r
                    .labels
                    .into_iter()
                    .find(|(k, _)| *k == "thread")
                    .map(|(_, v)| v)
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Writes the profile as gzip'd profile.proto in Go's CPU shape: sample types
    /// `samples/count` and `cpu/nanoseconds`, period type `cpu/nanoseconds` with the sampling
    /// period (10,000,000 at 100 Hz), `duration_nanos`, and the thread's name as the `thread`
    /// label.
    ///
    /// # Errors
    ///
    /// What writing to `w` returns.
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        self.0
            .write_pprof(&[("samples", "count"), ("cpu", "nanoseconds")], false, w)
    }
}
