//! The threads holdup spawned: name, spawn site, OS thread id and start time, registered when
//! they start and removed when they end. Readers (dumps, leak checks) take snapshots; nothing
//! here is on a primitive's path.

use std::panic::Location;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::SystemTime;

/// A thread started through [`holdup::thread`](crate::thread), as seen by
/// [`registered`](crate::thread::registered).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// Rust's id of the thread.
    pub id: ThreadId,
    /// The name given to the [`Builder`](crate::thread::Builder), if any.
    pub name: Option<String>,
    /// Where the thread was spawned (`file:line:column` of the `spawn` call).
    pub spawn_site: &'static Location<'static>,
    /// The OS thread id (Linux `gettid`), or 0 where unknown.
    pub os_tid: i64,
    /// When the thread started running.
    pub started: SystemTime,
}

static THREADS: Mutex<Vec<ThreadInfo>> = Mutex::new(Vec::new());

/// Registers the calling thread until the returned value is dropped (also on panic).
pub(crate) fn register(name: Option<String>, spawn_site: &'static Location<'static>) -> Registration {
    let info = ThreadInfo {
        id: std::thread::current().id(),
        name,
        spawn_site,
        os_tid: os_tid(),
        started: SystemTime::now(),
    };
    let id = info.id;
    THREADS.lock().unwrap_or_else(|e| e.into_inner()).push(info);
    Registration { id }
}

/// Removes the thread from the registry when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    id: ThreadId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|t| t.id != self.id);
    }
}

/// The threads registered now, in start order.
pub(crate) fn snapshot() -> Vec<ThreadInfo> {
    THREADS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[cfg(target_os = "linux")]
fn os_tid() -> i64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    i64::from(unsafe { libc::gettid() })
}

#[cfg(not(target_os = "linux"))]
fn os_tid() -> i64 {
    0
}
