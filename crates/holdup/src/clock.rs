//! The monotonic clock for wait times: nanoseconds on `CLOCK_MONOTONIC`, read only on contended
//! and sampled paths (never on a primitive's fast path).

/// Nanoseconds since an arbitrary fixed point; never 0, never decreasing.
#[cfg(unix)]
#[inline]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_MONOTONIC is always available on the
    // platforms std supports; clock_gettime only writes through the pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64).max(1)
}

/// Nanoseconds since an arbitrary fixed point; never 0, never decreasing.
#[cfg(not(unix))]
#[inline]
pub(crate) fn now_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    (epoch.elapsed().as_nanos() as u64).saturating_add(1)
}
