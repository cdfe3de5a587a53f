//! The clock for wait times, read only on contended and sampled paths (never on a primitive's
//! fast path).
//!
//! Times are kept in *ticks*: the CPU's time-stamp counter where the kernel itself uses it as
//! its clock source (so it is constant-rate and synchronized across CPUs; about 10 ns to read
//! here against 25–40 ns for `clock_gettime`), nanoseconds of `CLOCK_MONOTONIC` otherwise. Ticks
//! are converted to nanoseconds when an event is recorded, with a rate calibrated once when
//! profiling is first enabled ([`init`], about 2 ms), like Go's `cputicks` and
//! `ticksPerSecond`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether [`now`] reads the time-stamp counter. Set once, by [`init`], before any profile is
/// turned on (the rates are published with release ordering after it).
static USE_TSC: AtomicBool = AtomicBool::new(false);

/// Nanoseconds per tick, once calibrated.
static NS_PER_TICK: OnceLock<f64> = OnceLock::new();

/// Chooses the clock and calibrates it; idempotent. Called when a profile is turned on.
pub fn init() {
    NS_PER_TICK.get_or_init(|| {
        if tsc::usable() {
            let ratio = tsc::calibrate();
            USE_TSC.store(true, Ordering::Release);
            ratio
        } else {
            1.0
        }
    });
}

/// The current time in ticks; never 0.
#[inline]
pub fn now() -> u64 {
    if USE_TSC.load(Ordering::Relaxed) {
        tsc::read().max(1)
    } else {
        now_ns()
    }
}

/// Nanoseconds of a clock that is cheap to read and only as fine as the kernel's tick (a few
/// milliseconds): for when something started, not for how long it waited.
#[cfg(target_os = "linux")]
#[inline]
pub fn coarse_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_MONOTONIC_COARSE exists on every
    // Linux std supports; clock_gettime only writes through the pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Nanoseconds of a clock that is cheap to read (see the Linux version).
#[cfg(not(target_os = "linux"))]
#[inline]
pub fn coarse_ns() -> u64 {
    now_ns()
}

/// Whether [`now`] reads the time-stamp counter (ticks are not nanoseconds).
#[inline]
pub fn ticks_are_tsc() -> bool {
    USE_TSC.load(Ordering::Relaxed)
}

/// Converts a tick count (a duration) to nanoseconds.
#[inline]
pub fn to_ns(ticks: u64) -> u64 {
    match NS_PER_TICK.get() {
        Some(&r) if r != 1.0 => (ticks as f64 * r) as u64,
        _ => ticks,
    }
}

/// Nanoseconds since an arbitrary fixed point; never 0, never decreasing.
#[cfg(unix)]
#[inline]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_MONOTONIC is always available on the
    // platforms std supports; clock_gettime only writes through the pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
        .max(1)
}

/// Nanoseconds since an arbitrary fixed point; never 0, never decreasing.
#[cfg(not(unix))]
#[inline]
pub fn now_ns() -> u64 {
    use std::time::Instant;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    (epoch.elapsed().as_nanos() as u64).saturating_add(1)
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod tsc {
    /// Reads the time-stamp counter.
    #[inline]
    pub(super) fn read() -> u64 {
        // SAFETY: rdtsc is available on every x86_64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    /// The kernel validates the TSC (constant rate, synchronized CPUs) before making it the
    /// clock source; trust it exactly when the kernel does.
    pub(super) fn usable() -> bool {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|s| s.trim() == "tsc")
    }

    /// Nanoseconds per tick, measured against `CLOCK_MONOTONIC` over about 2 ms.
    pub(super) fn calibrate() -> f64 {
        let (t0, n0) = (read(), super::now_ns());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let (t1, n1) = (read(), super::now_ns());
        let ticks = t1.wrapping_sub(t0);
        if ticks == 0 {
            1.0
        } else {
            n1.saturating_sub(n0) as f64 / ticks as f64
        }
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod tsc {
    pub(super) fn read() -> u64 {
        super::now_ns()
    }

    pub(super) fn usable() -> bool {
        false
    }

    pub(super) fn calibrate() -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_elapsed_nanoseconds() {
        init();
        let (t0, n0) = (now(), now_ns());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (t1, n1) = (now(), now_ns());
        let (measured, truth) = (to_ns(t1 - t0) as f64, (n1 - n0) as f64);
        assert!(
            (measured - truth).abs() < 0.01 * truth,
            "{measured} vs {truth}"
        );
    }
}
