//! The threads holdup spawned: name, spawn site, OS thread id, start time and what each waits
//! for right now, registered when they start and removed when they end. Also counts every
//! thread ever spawned, per spawn site (the `threadcreate` profile).
//!
//! Hooks publish a registered thread's wait state on their slow paths (a thread-local lookup
//! and a few relaxed stores, only when the thread is about to block); readers take snapshots.
//! Nothing here is on a primitive's fast path.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime};

use crate::profile::Kind;

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
    /// What the thread is waiting for in a holdup primitive right now, if anything.
    pub waiting: Option<Waiting>,
}

/// A wait in progress in a holdup primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Waiting {
    /// The operation.
    pub kind: Kind,
    /// Where the primitive was created (for a join, where the thread was spawned).
    pub lock: &'static Location<'static>,
    /// How long the thread has been waiting.
    pub for_: Duration,
}

/// A registered thread: what is fixed at start, and its published wait state.
#[derive(Debug)]
struct Record {
    info: ThreadInfo,
    /// 0 when running; otherwise `Kind as u8 + 1`.
    kind: AtomicU8,
    site: AtomicPtr<Location<'static>>,
    since_ns: AtomicU64,
}

static THREADS: Mutex<Vec<Arc<Record>>> = Mutex::new(Vec::new());

/// Threads ever spawned, per spawn site (compared by identity: one `Location` per call site).
static CREATED: Mutex<Vec<(&'static Location<'static>, u64)>> = Mutex::new(Vec::new());

thread_local! {
    static CURRENT: RefCell<Option<Arc<Record>>> = const { RefCell::new(None) };
}

/// Registers the calling thread until the returned value is dropped (also on panic).
pub(crate) fn register(name: Option<String>, spawn_site: &'static Location<'static>) -> Registration {
    let info = ThreadInfo {
        id: std::thread::current().id(),
        name,
        spawn_site,
        os_tid: os_tid(),
        started: SystemTime::now(),
        waiting: None,
    };
    let id = info.id;
    let record = Arc::new(Record {
        info,
        kind: AtomicU8::new(0),
        site: AtomicPtr::new(std::ptr::null_mut()),
        since_ns: AtomicU64::new(0),
    });
    let _ = CURRENT.try_with(|c| *c.borrow_mut() = Some(record.clone()));
    THREADS.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    match created.iter_mut().find(|(site, _)| std::ptr::eq(*site, spawn_site)) {
        Some((_, n)) => *n += 1,
        None => created.push((spawn_site, 1)),
    }
    Registration { id }
}

/// Removes the thread from the registry when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    id: ThreadId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
        let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|t| t.info.id != self.id);
    }
}

/// Publishes that the calling thread starts waiting; returns whether it is registered (and so
/// must call [`running`] when the wait ends).
pub(crate) fn waiting(kind: Kind, site: &'static Location<'static>) -> bool {
    CURRENT
        .try_with(|c| {
            let Ok(c) = c.try_borrow() else { return false };
            let Some(r) = c.as_ref() else { return false };
            r.since_ns.store(crate::clock::now_ns(), Ordering::Relaxed);
            r.site.store((site as *const Location<'static>).cast_mut(), Ordering::Relaxed);
            r.kind.store(kind as u8 + 1, Ordering::Release);
            true
        })
        .unwrap_or(false)
}

/// Publishes that the calling thread's wait ended.
pub(crate) fn running() {
    let _ = CURRENT.try_with(|c| {
        if let Ok(c) = c.try_borrow()
            && let Some(r) = c.as_ref()
        {
            r.kind.store(0, Ordering::Release);
        }
    });
}

/// The threads registered now, in start order, with their wait state.
pub(crate) fn snapshot() -> Vec<ThreadInfo> {
    let now = crate::clock::now_ns();
    let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads
        .iter()
        .map(|r| {
            let mut info = r.info.clone();
            let kind = r.kind.load(Ordering::Acquire);
            let site = r.site.load(Ordering::Relaxed);
            if kind != 0 && !site.is_null() {
                // SAFETY: `site` was stored from a `&'static Location` by `waiting`.
                let lock: &'static Location<'static> = unsafe { &*site };
                info.waiting = Kind::from_u8(kind - 1).map(|kind| Waiting {
                    kind,
                    lock,
                    for_: Duration::from_nanos(now.saturating_sub(r.since_ns.load(Ordering::Relaxed))),
                });
            }
            info
        })
        .collect()
}

/// Threads ever spawned through `holdup::thread`, per spawn site, in a stable order.
pub(crate) fn created() -> Vec<(&'static Location<'static>, u64)> {
    let mut out = CREATED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    out.sort_by(|a, b| (a.0.file(), a.0.line(), a.0.column()).cmp(&(b.0.file(), b.0.line(), b.0.column())));
    out
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
