//! Thread dumps: what every thread of the process is doing right now, like Go's goroutine dump,
//! with who holds the lock each thread waits for and the deadlocks among them.
//!
//! ```
//! use holdup::sync::Mutex;
//! use std::sync::Arc;
//!
//! let lock = Arc::new(Mutex::new(()));
//! let guard = lock.lock().unwrap();
//! let waiter = {
//!     let lock = Arc::clone(&lock);
//!     holdup::thread::Builder::new().name("waiter".into()).spawn(move || drop(lock.lock())).unwrap()
//! };
//! # while !holdup::thread::registered().iter().any(|t| t.waiting.is_some()) { std::thread::yield_now() }
//! let dump = holdup::dump::threads();
//! let mut text = Vec::new();
//! dump.write_text(&mut text, holdup::dump::Detail::Full)?; // like goroutine?debug=2
//! let text = String::from_utf8(text).unwrap();
//! assert!(text.contains("\"waiter\" [mutex wait"));
//! assert!(text.contains("held by thread"));
//! for cycle in dump.deadlocks() {
//!     eprintln!("{cycle}");
//! }
//! drop(guard);
//! waiter.join().unwrap();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Where the information comes from
//!
//! - **Every OS thread** of the process (on Linux), including threads holdup did not start (the
//!   runtime's, libraries'): listed from `/proc/self/task`, with the kernel's name and state
//!   from `/proc/self/task/<tid>/stat`. Each thread's stack is taken by signalling it (a
//!   real-time signal from `SIGRTMIN+4` up, the first one with no handler installed) and
//!   copying its registers and live stack in an async-signal-safe handler; the copy is unwound
//!   afterwards with DWARF unwind tables. Threads are signalled in waves of a few per core, so
//!   each thread is interrupted only for its own copy (microseconds), and the process is never
//!   stopped as a whole. A thread that does not answer within [`Options::timeout`] (signals blocked, stuck in
//!   the kernel) is listed with "stack unavailable".
//! - **The registry**: a thread waiting in a holdup primitive publishes what it waits for (kind,
//!   the primitive's creation site, since when) and, for locks, where the lock keeps its
//!   exclusive holder, which the dump reads. Threads started through
//!   [`holdup::thread`](crate::thread) also know their spawn site, their parent and (once stack
//!   capture is set up by a dump, a watchdog or a profile) the function that spawned them.
//!
//! Threads blocked outside holdup's primitives (a `std::sync::Mutex`, I/O) show their stack and
//! kernel state; holdup does not know what they wait for, and the dump says so.
//!
//! # Tasks
//!
//! With the `tokio` feature, [`ThreadDump::tasks`] lists the tasks of async runtimes beside the
//! threads: those spawned through `holdup::tokio` (with their name, spawn site and parent) from
//! their first wait in a holdup primitive or first suspension (a task still in its first poll
//! is running on the thread that polls it, which the dump shows), and any other task while it
//! waits in a holdup primitive. Reading them never polls, pauses or
//! signals a task (tokio's own task dumps re-poll every task and can stall the runtime): a
//! waiting task's stack is the one its wait kept when it began, its chain of async calls down
//! to the `.await`; a task that is not waiting shows the worker thread polling it, or that it
//! is idle, and that worker's entry names the task ([`Thread::polling`]). Holders, deadlock
//! cycles and the grouped and `goroutine` forms treat tasks as they treat threads (a task's
//! group carries a `task` label with its name).
//!
//! # Holders
//!
//! A waiter names the thread that holds its lock (`held by thread 6085 "flusher"`), and that
//! thread's own entry says what it holds (`holding mutex src/cache.rs:12 (3 waiting)`, also in
//! [`Thread::holding`]); in the grouped form a holder is its own group, labelled `holding` and
//! `tid`. What a thread holds is learnt from the threads that wait for it: locks nobody waits
//! for are not listed, and read locks are not tracked at all (a `RwLock` held for reading shows
//! as `held for reading` on its waiters, without names).
//!
//! A thread is named the same way everywhere: the name holdup knows (std's, whole: the name a
//! `Builder` gave, `main` for the main thread), else the kernel's (cut to 15 bytes).
//!
//! The signal interrupts system calls that do not restart (`nanosleep` returns early,
//! `epoll_wait`, timed futex waits and `poll` return `EINTR`): std and tokio retry those, but
//! code that treats `EINTR` as an error may see one during a dump.
//!
//! Elsewhere than Linux on x86_64, dumps list the registry's threads only, without stacks.
//!
//! # Deadlocks
//!
//! The wait-for graph (thread or task → lock → exclusive holder, thread → joined thread) is
//! built at dump time; every cycle is reported by [`ThreadDump::deadlocks`], after a second look
//! confirms that each wait in it is still the same. Read locks are not tracked (every reader
//! would write the lock's cache line), so cycles through a lock held for reading are not found.
//! [`Watchdog`] checks periodically.

mod collect;
mod deadlock;
mod model;
mod proc;
mod text;
mod watchdog;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
use holdup_core::capture;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub(crate) use collect::is_program;
use collect::*;
use deadlock::*;
pub use model::*;
use proc::*;
pub(crate) use proc::{task_ids, task_name};
pub(crate) use text::{human, write_frames};
pub use watchdog::{Incident, Watchdog, WatchdogBuilder};

use crate::counts::{CountFrame, CountProfile};
use crate::registry::{self, Entry, WaitState};
use crate::symbols::{self, DumpFrame, Frame};
pub use crate::wait::{Holder, TaskRef, ThreadRef, Wait, Who};
use holdup_core::{Kind, Owner};

/// How a dump is taken.
#[derive(Debug, Clone)]
pub struct Options {
    timeout: Duration,
    stack_bytes: usize,
    depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// The defaults: threads get 250 ms to answer, 256 KiB of each stack is copied, 64 frames
    /// are kept.
    pub fn new() -> Options {
        Options {
            timeout: Duration::from_millis(250),
            stack_bytes: 256 * 1024,
            depth: 64,
        }
    }

    /// How long the dump waits for the threads' answers, in total (one deadline for every
    /// thread, though they are signalled in waves). A thread that does not answer in time is
    /// listed with "stack unavailable".
    pub fn timeout(mut self, timeout: Duration) -> Options {
        self.timeout = timeout;
        self
    }

    /// How many bytes of each thread's stack are copied (from its stack pointer up); frames
    /// beyond are cut. Rounded up to 4 KiB, at least 4 KiB.
    pub fn stack_bytes(mut self, bytes: usize) -> Options {
        self.stack_bytes = bytes.max(1).div_ceil(4096) * 4096;
        self
    }

    /// The most frames kept per stack (at least 1).
    pub fn depth(mut self, depth: usize) -> Options {
        self.depth = depth.max(1);
        self
    }
}

/// How much [`ThreadDump::write_text`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// Go's `goroutine?debug=1`: threads with the same stack and wait grouped, largest group
    /// first, with labels (`wait`, `lock`, `held_by`; `holding` and `tid` on a thread that holds
    /// a lock others wait for).
    Grouped,
    /// Go's `goroutine?debug=2`: every thread with its wait, how long, the lock's holder, its
    /// stack and where it was spawned; then the deadlocks.
    Full,
}

/// Dumps every thread with the default [`Options`].
pub fn threads() -> ThreadDump {
    threads_with(&Options::new())
}

/// Dumps every thread.
pub fn threads_with(options: &Options) -> ThreadDump {
    dump(options, None)
}

/// Dumps the threads with these OS ids (those still alive), and the tasks with these ids, for
/// the leak checker.
pub(crate) fn threads_only(
    options: &Options,
    tids: &HashSet<i64>,
    task_ids: &HashSet<u64>,
) -> ThreadDump {
    dump(options, Some((tids, task_ids)))
}

/// The real-time signal dumps take stacks with: the first from `SIGRTMIN + 4` up whose
/// disposition was the default when a dump needed one. `None` before the first dump, when the
/// signal was taken over by another handler since (the next dump moves to another free one and
/// never sends the old one again), and elsewhere than Linux on x86_64.
///
/// For programs that use real-time signals themselves: install yours before the first dump, or
/// leave this one alone.
pub fn signal() -> Option<i32> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return capture::current_signal();
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    return None;
}

/// The number of threads in the process now (cheap: no stacks), for index pages.
pub fn count() -> usize {
    #[cfg(target_os = "linux")]
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        return dir.count();
    }
    registry::entries().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(human(Duration::from_micros(850)), "850µs");
        assert_eq!(human(Duration::from_millis(12)), "12ms");
        assert_eq!(human(Duration::from_millis(5_240)), "5.2s");
        assert_eq!(human(Duration::from_secs(190)), "3 minutes");
        assert_eq!(human(Duration::from_secs(61)), "1 minute");
    }

    #[test]
    fn system_frames_are_libc_std_and_unknown() {
        use crate::symbols::is_system;
        assert!(is_system("syscall"));
        assert!(is_system(""));
        assert!(is_system("std::sys::pal::unix::futex::futex_wait"));
        assert!(is_system(
            "<std::sync::poison::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop"
        ));
        assert!(!is_system("app::worker"));
        assert!(!is_system("holdup::sync::mutex::Mutex<T>::lock"));
    }
}
