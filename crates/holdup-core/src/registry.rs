//! The thread registry: which threads exist in holdup's view, what each waits for right now,
//! and who holds the lock it waits for. Also counts every thread ever spawned, per spawn site
//! (the `threadcreate` profile).
//!
//! Two kinds of records:
//! - threads started through `holdup::thread` register when they start (name,
//!   spawn site, parent, the spawner's stack) and leave when their closure returns;
//! - any other thread (`main`, `std::thread::spawn`, a runtime's workers) registers the first
//!   time it blocks in a holdup primitive (one allocation, on a path that is about to block
//!   anyway) and leaves when it exits (a thread-local destructor).
//!
//! Hooks publish a registered thread's wait state on their slow paths: a thread-local lookup and
//! a few relaxed stores, only when the thread is about to block. A lock wait also publishes
//! where the lock keeps its holder, so that readers find the holder at read time. Readers never
//! stop anyone: they pin a record while they read the holder (see `Record::holder_token`).
//! Nothing here is on a primitive's fast path.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime};

use crate::kind::Kind;
use crate::state::WaitPin;

/// A thread started through `holdup::thread`, as seen by
/// `holdup::thread::registered`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// Rust's id of the thread.
    pub id: ThreadId,
    /// The name given to the `holdup::thread::Builder`, if any.
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

/// A number that identifies a running thread and costs one instruction to read: the thread
/// pointer on Linux x86_64 (the address of the thread's TCB, which the x86-64 TLS ABI stores
/// at `fs:0`), the address of a thread-local elsewhere. Locks store their holder's token; a
/// signal handler can read it too. Never 0, and a multiple of 8.
#[inline(always)]
pub fn token() -> usize {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let t: usize;
        // SAFETY: reads the word at `fs:0`, which the x86-64 TLS ABI requires to hold the
        // thread pointer itself in every thread (glibc and musl both set it up before any Rust
        // code runs); no other memory is touched.
        unsafe {
            std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) t, options(nostack, readonly, preserves_flags, pure));
        }
        t
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        thread_local! {
            static MARK: u64 = const { 0 };
        }
        MARK.with(|m| m as *const u64 as usize)
    }
}

/// What the spawning thread knows about a thread it spawns through `holdup::thread`.
#[derive(Debug)]
pub struct Spawn {
    pub site: &'static Location<'static>,
    /// The spawning thread: OS id and name.
    pub parent: (i64, Option<String>),
    /// The spawner's stack (return addresses, innermost first), when stack capture was ready.
    pub stack: Box<[usize]>,
    /// The child's token once it runs (0 before): what a `join` on it waits for.
    pub token: Arc<AtomicUsize>,
    /// The spawner's leak-check scope, which the child inherits.
    pub scope: u64,
    /// Whether the child registered; until then the spawn counts as pending in its scope.
    registered: bool,
}

impl Drop for Spawn {
    fn drop(&mut self) {
        // The thread never ran its closure (the OS refused it): no longer pending.
        if !self.registered {
            pending(self.scope, -1);
        }
    }
}

/// Spawns not registered yet, per scope: a thread between `spawn` and its first instruction is
/// already the scope's (a leak check must not miss it).
static PENDING: Mutex<Vec<(u64, i64)>> = Mutex::new(Vec::new());

fn pending(scope: u64, delta: i64) {
    let mut p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    match p.iter_mut().find(|(s, _)| *s == scope) {
        Some((_, n)) => *n += delta,
        None => p.push((scope, delta)),
    }
    p.retain(|&(_, n)| n != 0);
}

/// The number of threads spawned in `scope` that have not started running yet.
pub fn pending_in(scope: u64) -> usize {
    let p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    p.iter()
        .find(|(s, _)| *s == scope)
        .map_or(0, |&(_, n)| n.max(0) as usize)
}

impl Spawn {
    /// Called in the spawning thread.
    pub fn here(site: &'static Location<'static>) -> Spawn {
        let parent = (os_tid(), std::thread::current().name().map(str::to_owned));
        let scope = current_scope();
        pending(scope, 1);
        Spawn {
            site,
            parent,
            stack: crate::collector::spawn_stack(),
            token: Arc::new(AtomicUsize::new(0)),
            scope,
            registered: false,
        }
    }
}

/// A registered thread: what is fixed at start, and its published wait state.
#[derive(Debug)]
struct Record {
    id: ThreadId,
    name: Option<String>,
    os_tid: i64,
    started: SystemTime,
    token: usize,
    /// `None` for threads registered on their first wait.
    spawn: Option<Spawn>,
    /// The wait (0 when running; otherwise `Kind as u8 + 1`), pinned by readers that look at
    /// the lock it points to (see `state::WaitPin`).
    wait: WaitPin,
    site: AtomicPtr<Location<'static>>,
    since_ns: AtomicU64,
    /// While waiting for a lock: the lock's holder word (see `LockMeta`), else null.
    holder: AtomicPtr<AtomicUsize>,
    /// While waiting for a thread (join): that thread's token, else 0.
    target: AtomicUsize,
}

impl Record {
    fn new(name: Option<String>, spawn: Option<Spawn>) -> Record {
        Record {
            id: std::thread::current().id(),
            name,
            os_tid: os_tid(),
            started: SystemTime::now(),
            token: token(),
            spawn,
            wait: WaitPin::new(),
            site: AtomicPtr::new(std::ptr::null_mut()),
            since_ns: AtomicU64::new(0),
            holder: AtomicPtr::new(std::ptr::null_mut()),
            target: AtomicUsize::new(0),
        }
    }

    /// The token of the thread this one waits for (the holder of the lock, or the thread being
    /// joined), 0 if none or unknown, read now.
    ///
    /// The holder word lives in the lock, which may be freed once the wait ends, so it is read
    /// under the wait's pin (`state::WaitPin`, model-checked): `running` does not return while
    /// a reader is inside.
    fn holder_token(&self) -> usize {
        self.wait
            .read(|| {
                let holder = self.holder.load(Ordering::Acquire);
                if holder.is_null() {
                    self.target.load(Ordering::Relaxed)
                } else {
                    // SAFETY: the wait is on and pinned, so the waiting thread is inside the
                    // lock's method and the lock is alive until this closure returns.
                    unsafe { (*holder).load(Ordering::Relaxed) }
                }
            })
            .unwrap_or(0)
    }
}

static THREADS: Mutex<Vec<Arc<Record>>> = Mutex::new(Vec::new());

/// Threads ever spawned, per spawn site (compared by identity: one `Location` per call site).
static CREATED: Mutex<Vec<(&'static Location<'static>, u64)>> = Mutex::new(Vec::new());

/// The calling thread's record; a thread registered on its first wait leaves the registry when
/// this is destroyed (at thread exit).
struct Current {
    record: Arc<Record>,
    lazy: bool,
}

impl Drop for Current {
    fn drop(&mut self) {
        if self.lazy {
            remove(&self.record);
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
    /// The leak-check scope threads spawned from this thread inherit; 0 until first needed.
    static SCOPE: Cell<u64> = const { Cell::new(0) };
}

/// A fresh scope id (never 0).
pub fn new_scope() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The calling thread's scope: the one it inherited or was given, else a fresh one (a thread
/// holdup did not spawn is the root of its own scope).
pub fn current_scope() -> u64 {
    SCOPE
        .try_with(|s| {
            if s.get() == 0 {
                s.set(new_scope());
            }
            s.get()
        })
        .unwrap_or(0)
}

/// Makes `scope` the calling thread's scope; returns the previous one.
pub fn set_scope(scope: u64) -> u64 {
    SCOPE.try_with(|s| s.replace(scope)).unwrap_or(0)
}

fn remove(record: &Arc<Record>) {
    let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads.retain(|t| !Arc::ptr_eq(t, record));
}

/// Registers the calling thread, started through `holdup::thread`, until the returned value is
/// dropped (also on panic).
pub fn register(name: Option<String>, mut spawn: Spawn) -> Registration {
    spawn.token.store(token(), Ordering::Release);
    set_scope(spawn.scope);
    spawn.registered = true;
    let (site, scope) = (spawn.site, spawn.scope);
    let record = Arc::new(Record::new(name, Some(spawn)));
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            *c = Some(Current {
                record: record.clone(),
                lazy: false,
            });
        }
    });
    THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(record.clone());
    pending(scope, -1);
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    match created.iter_mut().find(|(s, _)| std::ptr::eq(*s, site)) {
        Some((_, n)) => *n += 1,
        None => created.push((site, 1)),
    }
    Registration { record }
}

/// Removes the thread from the registry when dropped.
#[derive(Debug)]
pub struct Registration {
    record: Arc<Record>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c.take();
            }
        });
        remove(&self.record);
    }
}

/// What a wait waits for, beyond its kind and site.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing another thread holds (a channel, a condvar, a barrier).
    None,
    /// A lock: its holder word.
    Lock(&'a AtomicUsize),
    /// A thread, by token (0 if it has not started yet).
    Thread(usize),
}

/// Publishes that the calling thread starts waiting; returns whether it did (and so must call
/// [`running`] when the wait ends). A thread not registered yet is registered now.
pub fn waiting(kind: Kind, site: &'static Location<'static>, target: Target<'_>) -> bool {
    CURRENT
        .try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return false;
            };
            let r = &c
                .get_or_insert_with(|| {
                    let name = std::thread::current().name().map(str::to_owned);
                    let record = Arc::new(Record::new(name, None));
                    THREADS
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(record.clone());
                    Current { record, lazy: true }
                })
                .record;
            r.since_ns.store(crate::clock::now_ns(), Ordering::Relaxed);
            r.site.store(
                (site as *const Location<'static>).cast_mut(),
                Ordering::Relaxed,
            );
            let (holder, thread) = match target {
                Target::None => (std::ptr::null_mut(), 0),
                Target::Lock(h) => ((h as *const AtomicUsize).cast_mut(), 0),
                Target::Thread(t) => (std::ptr::null_mut(), t),
            };
            r.holder.store(holder, Ordering::Relaxed);
            r.target.store(thread, Ordering::Relaxed);
            r.wait.begin(kind as u8 + 1);
            true
        })
        .unwrap_or(false)
}

/// Publishes that the calling thread's wait ended; returns once no reader looks at the lock the
/// thread waited for.
pub fn running() {
    let _ = CURRENT.try_with(|c| {
        if let Ok(c) = c.try_borrow()
            && let Some(c) = c.as_ref()
        {
            c.record.wait.end();
        }
    });
}

/// A registered thread as read now, for dumps.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: ThreadId,
    pub name: Option<String>,
    pub os_tid: i64,
    pub token: usize,
    pub started: SystemTime,
    /// Site, parent and the spawner's stack, for threads started through `holdup::thread`.
    pub spawn: Option<SpawnEntry>,
    /// The leak-check scope it was spawned in (0 for threads holdup did not spawn).
    pub scope: u64,
    pub wait: Option<EntryWait>,
}

/// Where a thread started through `holdup::thread` was spawned: the site, the parent (OS id
/// and name) and the spawner's stack.
pub type SpawnEntry = (
    &'static Location<'static>,
    (i64, Option<String>),
    Box<[usize]>,
);

/// A wait in progress, as read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryWait {
    pub kind: Kind,
    pub site: &'static Location<'static>,
    /// When the wait began (`clock::now_ns`): identifies this wait.
    pub since_ns: u64,
    pub for_: Duration,
    /// The token of the thread waited for (a lock's exclusive holder, a joined thread), or 0.
    pub holder: usize,
}

/// Every registered thread now, in registration order, with its wait state.
pub fn entries() -> Vec<Entry> {
    let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let now = crate::clock::now_ns();
    threads
        .iter()
        .map(|r| Entry {
            id: r.id,
            name: r.name.clone(),
            os_tid: r.os_tid,
            token: r.token,
            started: r.started,
            spawn: r
                .spawn
                .as_ref()
                .map(|s| (s.site, s.parent.clone(), s.stack.clone())),
            scope: r.spawn.as_ref().map_or(0, |s| s.scope),
            wait: wait_of(r, now),
        })
        .collect()
}

/// The wait state of the thread with token `token`, if registered, read now.
pub fn wait_of_token(token: usize) -> Option<EntryWait> {
    let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let now = crate::clock::now_ns();
    threads
        .iter()
        .find(|r| r.token == token)
        .and_then(|r| wait_of(r, now))
}

fn wait_of(r: &Record, now: u64) -> Option<EntryWait> {
    let kind = r.wait.current();
    let site = r.site.load(Ordering::Relaxed);
    if kind == 0 || site.is_null() {
        return None;
    }
    let since_ns = r.since_ns.load(Ordering::Relaxed);
    let holder = r.holder_token();
    // SAFETY: `site` was stored from a `&'static Location` by `waiting`.
    let site: &'static Location<'static> = unsafe { &*site };
    Some(EntryWait {
        kind: Kind::from_u8(kind - 1)?,
        site,
        since_ns,
        for_: Duration::from_nanos(now.saturating_sub(since_ns)),
        holder,
    })
}

/// The threads started through `holdup::thread` that run now, in start order, with their wait
/// state.
pub fn snapshot() -> Vec<ThreadInfo> {
    entries()
        .into_iter()
        .filter_map(|e| {
            let (spawn_site, _, _) = e.spawn?;
            Some(ThreadInfo {
                id: e.id,
                name: e.name,
                spawn_site,
                os_tid: e.os_tid,
                started: e.started,
                waiting: e.wait.map(|w| Waiting {
                    kind: w.kind,
                    lock: w.site,
                    for_: w.for_,
                }),
            })
        })
        .collect()
}

/// Threads ever spawned through `holdup::thread`, per spawn site, in a stable order.
pub fn created() -> Vec<(&'static Location<'static>, u64)> {
    let mut out = CREATED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    out.sort_by(|a, b| {
        (a.0.file(), a.0.line(), a.0.column()).cmp(&(b.0.file(), b.0.line(), b.0.column()))
    });
    out
}

/// OS ids of holdup's own threads alive now (the HTTP server's, the watchdog's): leak checks
/// never report them.
static OWN: Mutex<Vec<i64>> = Mutex::new(Vec::new());

/// Removes the thread from [`OWN`] when it exits.
struct OwnMark(i64);

impl Drop for OwnMark {
    fn drop(&mut self) {
        let mut own = OWN.lock().unwrap_or_else(|e| e.into_inner());
        own.retain(|&t| t != self.0);
    }
}

thread_local! {
    static OWN_MARK: RefCell<Option<OwnMark>> = const { RefCell::new(None) };
}

/// Marks the calling thread as holdup's own until it exits. Called first thing by every thread
/// holdup starts for itself.
pub fn mark_own_thread() {
    let tid = os_tid();
    let _ = OWN_MARK.try_with(|m| {
        let mut m = m.borrow_mut();
        if m.is_none() {
            OWN.lock().unwrap_or_else(|e| e.into_inner()).push(tid);
            *m = Some(OwnMark(tid));
        }
    });
}

/// The OS ids of holdup's own threads alive now.
pub fn own_threads() -> Vec<i64> {
    OWN.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The calling thread's OS id (Linux `gettid`), or 0 elsewhere.
#[cfg(target_os = "linux")]
pub fn os_tid() -> i64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    i64::from(unsafe { libc::gettid() })
}

/// The calling thread's OS id (Linux `gettid`), or 0 elsewhere.
#[cfg(not(target_os = "linux"))]
pub fn os_tid() -> i64 {
    0
}
