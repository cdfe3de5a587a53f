//! Go's mutex and block profiles for Rust: which lock, channel or condvar makes your threads
//! wait, and which critical section is to blame.
//!
//! Adopting holdup is a `use` swap — `std::sync::Mutex` becomes [`holdup::sync::Mutex`](sync::Mutex),
//! `std::thread::spawn` becomes [`holdup::thread::spawn`](thread::spawn) — and two calls that
//! Go users know:
//!
//! ```
//! use holdup::sync::{Arc, Mutex};
//!
//! holdup::set_mutex_profile_fraction(100); // like runtime.SetMutexProfileFraction(100)
//! holdup::set_block_profile_rate(10_000); // like runtime.SetBlockProfileRate(10_000): 10 µs
//!
//! let hits = Arc::new(Mutex::new(0u64));
//! let workers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let hits = Arc::clone(&hits);
//!         holdup::thread::spawn(move || {
//!             for _ in 0..1000 {
//!                 *hits.lock().unwrap() += 1;
//!             }
//!         })
//!     })
//!     .collect();
//! for w in workers {
//!     w.join().unwrap();
//! }
//!
//! let mut out = Vec::new();
//! holdup::profile::mutex().write_pprof(&mut out)?; // gzip'd profile.proto: `go tool pprof -top mutex.pb.gz`
//! holdup::profile::block().write_text(&mut out)?; // Go's legacy debug=1 text
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # The two profiles
//!
//! The **mutex profile** answers "which critical section makes others wait?". Each contended
//! release (a guard dropped while other threads wait for the lock) is sampled with probability
//! 1/fraction and recorded on the *releasing* thread's stack, with the waiting that accrued
//! among the waiters during the critical section that just ended. Values are scaled by the
//! fraction when recorded, so the profile estimates the total. Its leaf frame is the unlock
//! (`MutexGuard::drop`); the frame below is the code that held the lock.
//!
//! The **block profile** answers "where do my threads wait?". Every wait on a holdup primitive
//! (lock, read lock, condvar, barrier, a channel send or receive that had to wait, a join, a
//! `OnceLock` initialized by another thread) is timed from its start to the moment it ends and
//! recorded on the *waiting* thread's stack. As in Go, a lock first spins for a few
//! microseconds, and a lock won while spinning was not waited for: a lock wait is timed from the
//! end of the spin, and only such waits make a release contended. Waits of at least `rate` nanoseconds are always
//! kept; shorter ones with probability `d/rate`, weighted so that totals stay unbiased.
//!
//! Both are cumulative since the process started, like Go's; [`Profile::delta`](profile::Profile::delta)
//! gives what happened between two snapshots. The semantics are Go's (`runtime/mprof.go`), with
//! one addition Go lacks: every sample carries labels,
//!
//! - `lock`: where the primitive was created (`file:line`, from `#[track_caller]` constructors),
//! - `kind`: `mutex`, `rwlock-read`, `rwlock-write`, `condvar`, `chan-recv`, `chan-send`,
//!   `barrier`, `join` or `once`,
//! - `mutated` (mutex-profile samples of `mutex` and `rwlock-write`): `yes` if the critical
//!   section took `&mut` through its guard (`DerefMut`), `no` if it did not. `no` does not mean
//!   the value was left unchanged: writes through `&` (a channel's `recv`, `Cell`, atomics,
//!   any interior mutability) are not seen. A hot `RwLock` write lock with `mutated=no` can
//!   take `read()`; a `Mutex` with `mutated=no` may still need to be one,
//! - `held` (mutex-profile samples of the async locks in [`tokio`](mod@tokio), feature `tokio`):
//!   `suspended` if the task holding the lock was suspended at an `.await` while it held it,
//!   `running` if not,
//!
//! so that `go tool pprof -tagfocus lock=cache.rs` and Pyroscope can slice by lock.
//!
//! # Thread dumps
//!
//! [`dump::threads`] shows what every thread of the process is doing right now, like Go's
//! goroutine dump: each thread's stack, what it waits for in a holdup primitive and for how long,
//! who holds that lock, and the deadlocks among them ([`dump::Watchdog`] checks periodically).
//!
//! # Leak checks
//!
//! [`leak::Guard`] fails a test that leaves threads running, like Go's goleak, and works while
//! `cargo test` runs tests in parallel: threads started through [`thread`] belong to the guard
//! that was alive when they (or their parents) were spawned.
//!
//! # Over HTTP
//!
//! [`http::serve`] serves the profiles at Go's `/debug/pprof/` paths on a background thread, for
//! `go tool pprof http://127.0.0.1:6060/debug/pprof/mutex`, curl, Grafana Alloy and Parca
//! (loopback only unless opted in with a token; feature `http`, off by default).
//!
//! # Cost
//!
//! An uncontended lock and unlock does what std's does plus one relaxed load; nothing is timed,
//! allocated or recorded. Contended waits are timed only while a profile is on, and stacks are
//! captured only for sampled events: about 0.1 µs for a stack the thread captured recently (a
//! hot lock; walks are remembered and replayed), 0.7 µs for a new one with DWARF unwinding and
//! 0.1 µs with frame pointers, for 16 frames (see [`profile::set_unwinder`]). `holdup-bench`
//! measures all of it side by side with std, and `holdup-bench compare` against Go's own
//! profilers on the same workloads; the README lists the numbers and the recommended production
//! settings (fraction 100, rate 10 µs).
//!
//! # Symbols
//!
//! Stacks are symbolized when a profile is written, from the program's own debug information.
//! Release builds need debug information to name inlined functions (such as a small `get` that
//! takes a lock): set `debug = "limited"` in `[profile.release]`; it does not change the
//! generated code. With `"line-tables-only"` inlined functions appear without their module path;
//! without debug information they do not appear at all (their caller does).
//!
//! # Supported platforms
//!
//! Linux on x86_64 gets the fast in-process unwinders. Elsewhere holdup works with stacks from
//! the `backtrace` crate (several µs per sampled event).
//!
//! Rust 1.95 or newer (the `rust-version` CI builds and tests with).
//!
//! # Crate features
//!
//! None is on by default: a library that uses holdup's locks adds no HTTP stack and no runtime to
//! its users' builds. The application turns on what it serves:
//!
//! - `http`: [`http`](mod@http), the `/debug/pprof/` server on a thread of its own
//!   (`holdup = { version = "0.1", features = ["http"] }`). It brings hyper and a private
//!   current-thread tokio runtime; the application needs no runtime of its own. Without it,
//!   profiles, dumps and leak checks all work; write them yourself with
//!   [`profile::Profile::write_pprof`] and [`dump::ThreadDump::write_text`].
//! - `tokio`: [`tokio`](mod@tokio), tokio's primitives whose waits feed the profiles, and
//!   tasks holdup tracks (spawn sites, names, waits and held locks per task).
//! - `axum`: [`http::router()`](http) as well, the same endpoints as an axum `Router` for an
//!   application that already serves HTTP with axum.
//!
//! Sizes and rates are run-time settings, never features.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// The recording core, under the names the facade's modules use for it.
use holdup_core::{hook, registry};

mod counts;
pub mod dump;
pub mod leak;
pub mod profile;
mod symbols;
pub mod sync;
pub mod thread;
pub mod trace;
mod wait;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(feature = "lock_api")]
#[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
pub mod lock_api;

#[cfg(feature = "parking_lot")]
#[cfg_attr(docsrs, doc(cfg(feature = "parking_lot")))]
pub mod parking_lot;

/// Entry points for holdup's own benchmarks (`holdup-bench`); not part of the API.
#[doc(hidden)]
pub mod __bench {
    /// Records one block-profile event on the caller's stack exactly as a sampled wait does
    /// (stack capture and bucket insertion), so that its cost can be measured alone.
    #[inline(never)]
    #[track_caller]
    pub fn record_sampled_event() {
        holdup_core::collector::record_block(
            holdup_core::Labels {
                site: std::panic::Location::caller(),
                kind: holdup_core::Kind::Mutex,
                mutated: None,
                held_suspended: None,
            },
            1.0,
            1,
        );
        std::hint::black_box(());
    }

    /// Records one mutex-profile event (count 1, delay 1 µs) on the caller's stack, as a
    /// sampled contended release does; fills the profile with distinct stacks for the HTTP
    /// benchmark.
    #[inline(never)]
    #[track_caller]
    pub fn record_sampled_mutex_event() {
        holdup_core::collector::record_mutex(
            holdup_core::Labels {
                site: std::panic::Location::caller(),
                kind: holdup_core::Kind::Mutex,
                mutated: None,
                held_suspended: None,
            },
            1.0,
            1_000,
        );
        std::hint::black_box(());
    }
}

// Go's two settings at the root, where Go users look for them (`runtime.SetMutexProfileFraction`,
// `runtime.SetBlockProfileRate`); every setting is defined in `profile`.
pub use profile::{block_profile_rate, set_block_profile_rate, set_mutex_profile_fraction};
