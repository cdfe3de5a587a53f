//! The CPU profile: where threads spend their CPU time, sampled as Go samples it (100 times per
//! second of each thread's CPU time by default), in Go's pprof shape.

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

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

/// A CPU profile being taken; [`stop`](CpuProfiler::stop) ends it.
#[derive(Debug)]
pub struct CpuProfiler {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    inner: holdup_core::cpu::Profiler,
    started: SystemTime,
}

/// Starts a CPU profile of every thread of the process, sampled `hz` times per second of each
/// thread's CPU time ([`DEFAULT_HZ`] is Go's).
///
/// # Errors
///
/// [`CpuError::InUse`] while another runs; [`CpuError::SignalTaken`] if the program has its own
/// `SIGPROF` handler.
pub fn start_cpu(hz: u32) -> Result<CpuProfiler, CpuError> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let inner = holdup_core::cpu::start(hz).map_err(CpuError::from)?;
        Ok(CpuProfiler {
            inner,
            started: SystemTime::now(),
        })
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        let _ = hz;
        Err(CpuError::Unsupported)
    }
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
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            let c = self.inner.stop();
            let samples = c
                .samples
                .into_iter()
                .map(|((tid, pcs), count)| RawSample {
                    thread: c.threads.get(&tid).cloned().unwrap_or_default(),
                    pcs,
                    count,
                })
                .collect();
            CpuProfile {
                time: self.started,
                duration: c.duration,
                period: c.period,
                samples,
                dropped: c.dropped,
                handler: c.handler,
                collector_cpu: c.collector_cpu,
            }
        }
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        {
            CpuProfile {
                time: self.started,
                duration: Duration::ZERO,
                period: Duration::from_millis(10),
                samples: Vec::new(),
                dropped: 0,
                handler: (Duration::ZERO, 0),
                collector_cpu: Duration::ZERO,
            }
        }
    }
}

#[derive(Debug, Clone)]
struct RawSample {
    thread: String,
    pcs: Vec<usize>,
    count: u64,
}

/// A CPU profile: stacks with the samples that hit them, per thread.
#[derive(Debug, Clone)]
pub struct CpuProfile {
    time: SystemTime,
    duration: Duration,
    period: Duration,
    samples: Vec<RawSample>,
    dropped: u64,
    handler: (Duration, u64),
    collector_cpu: Duration,
}

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
        self.duration
    }

    /// The CPU time one sample stands for.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Samples taken.
    pub fn total_samples(&self) -> u64 {
        self.samples.iter().map(|s| s.count).sum()
    }

    /// Samples lost because the sampler's buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The mean time the sampler's signal handler took per sample (copying the registers and
    /// the top of the stack): what each sample costs the sampled thread.
    pub fn handler_time_per_sample(&self) -> Duration {
        let (total, n) = self.handler;
        if n == 0 {
            Duration::ZERO
        } else {
            total / n.min(u64::from(u32::MAX)) as u32
        }
    }

    /// CPU time the sampler's own thread used (arming timers, draining the buffer, unwinding).
    pub fn sampler_cpu(&self) -> Duration {
        self.collector_cpu
    }

    /// The samples, symbolized and trimmed like the other profiles' (holdup's own frames to
    /// its public call, the thread start-up frames), most samples first.
    pub fn samples(&self) -> Vec<CpuSample> {
        self.resolve()
            .into_iter()
            .map(|r| CpuSample {
                frames: r.frames(),
                count: r.count as u64,
                thread: r
                    .labels
                    .iter()
                    .find(|(k, _)| *k == "thread")
                    .map(|(_, v)| v.clone())
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
        holdup_pprof::write_encoded(&self.to_proto(), w)
    }

    fn to_proto(&self) -> holdup_pprof::proto::Profile {
        encode(
            &self.resolve(),
            &Shape {
                types: &[("samples", "count"), ("cpu", "nanoseconds")],
                period_type: ("cpu", "nanoseconds"),
                period: self.period.as_nanos() as i64,
                time: self.time,
                duration: Some(self.duration),
            },
        )
    }

    fn resolve(&self) -> Vec<Resolved> {
        let period = self.period.as_nanos() as i64;
        resolve_samples(
            self.samples
                .iter()
                .map(|s| {
                    let count = s.count as i64;
                    Unresolved {
                        stack: &s.pcs,
                        count,
                        value: count.saturating_mul(period),
                        labels: if s.thread.is_empty() {
                            Vec::new()
                        } else {
                            vec![("thread", s.thread.clone())]
                        },
                    }
                })
                .collect(),
        )
    }
}
