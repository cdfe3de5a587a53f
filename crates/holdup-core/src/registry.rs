//! The registry: which threads and tasks exist in holdup's view, what each waits for right now,
//! and who holds the lock it waits for. Also counts every thread ever spawned, per spawn site
//! (the `threadcreate` profile).
//!
//! A wait belongs to its waiter's record, not to the thread that happens to run it: the
//! [`Published`] handle a wait gets ends that record's wait wherever it is dropped, so a task
//! that starts waiting on one worker thread and resumes on another ends its own wait. Records
//! are owned by an [`Owner`]: a thread (by token) or a task (by id).
//!
//! Three kinds of records:
//! - threads started through `holdup::thread` register when they start (name,
//!   spawn site, parent, the spawner's stack) and leave when their closure returns;
//! - any other thread (`main`, `std::thread::spawn`, a runtime's workers) registers the first
//!   time it blocks in a holdup primitive (one allocation, on a path that is about to block
//!   anyway) and leaves when it exits (a thread-local destructor);
//! - tasks of an async runtime register through [`register_task`] when spawned and leave when
//!   the returned [`TaskRegistration`] is dropped.
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

use crate::kind::{Kind, Site};
use crate::owner::Owner;
use crate::state::WaitPin;

pub use crate::owner::token;

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

/// A registered thread or task: what is fixed at start, and its published wait state.
#[derive(Debug)]
pub struct Record {
    /// Rust's id of the thread (for a task, of the thread that registered it).
    id: ThreadId,
    name: Option<String>,
    /// The OS thread id; 0 for a task.
    os_tid: i64,
    started: SystemTime,
    owner: Owner,
    /// `None` for threads registered on their first wait.
    spawn: Option<Spawn>,
    /// The wait (0 when running; otherwise `Kind as u8 + 1`), pinned by readers that look at
    /// the lock it points to (see `state::WaitPin`).
    wait: WaitPin,
    site: AtomicPtr<Location<'static>>,
    since_ns: AtomicU64,
    /// While waiting for a lock: the lock's holder word (see `LockMeta`), else null.
    holder: AtomicPtr<AtomicUsize>,
    /// While waiting for a thread or task (join): its owner word (`Owner::to_word`), else 0.
    target: AtomicUsize,
}

impl Record {
    fn new(name: Option<String>, spawn: Option<Spawn>) -> Record {
        Record::owned_by(Owner::current_thread(), os_tid(), name, spawn)
    }

    fn owned_by(owner: Owner, os_tid: i64, name: Option<String>, spawn: Option<Spawn>) -> Record {
        Record {
            id: std::thread::current().id(),
            name,
            os_tid,
            started: SystemTime::now(),
            owner,
            spawn,
            wait: WaitPin::new(),
            site: AtomicPtr::new(std::ptr::null_mut()),
            since_ns: AtomicU64::new(0),
            holder: AtomicPtr::new(std::ptr::null_mut()),
            target: AtomicUsize::new(0),
        }
    }

    /// The owner word (`Owner::to_word`) of what this record waits for (the holder of the
    /// lock, or the thread being joined), 0 if none or unknown, read now.
    ///
    /// The holder word lives in the lock, which may be freed once the wait ends, so it is read
    /// under the wait's pin (`state::WaitPin`, model-checked): `running` does not return while
    /// a reader is inside.
    fn holder_word(&self) -> usize {
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
    /// A thread or task (a join), by owner; `None` if it has not started yet.
    Owner(Option<Owner>),
}

/// Publishes that the calling thread starts waiting, in its own record (a thread not
/// registered yet is registered now); `None` if it could not (during thread exit, or while the
/// registry's thread-local is in use).
pub fn waiting(kind: Kind, site: Site, target: Target<'_>) -> Option<Published> {
    CURRENT
        .try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return None;
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
            Some(Published::begin(r.clone(), kind, site, target))
        })
        .ok()
        .flatten()
}

/// A wait in progress, published in its waiter's record (a thread's or a task's); dropping it
/// ends that record's wait, on whatever thread it is dropped, and returns once no reader looks
/// at the lock it waited for.
#[derive(Debug)]
#[must_use = "the wait ends when this is dropped"]
pub struct Published {
    record: Arc<Record>,
}

impl Published {
    fn begin(record: Arc<Record>, kind: Kind, site: Site, target: Target<'_>) -> Published {
        let r = &record;
        r.since_ns.store(crate::clock::now_ns(), Ordering::Relaxed);
        r.site.store(
            (site as *const Location<'static>).cast_mut(),
            Ordering::Relaxed,
        );
        let (holder, owner) = match target {
            Target::None => (std::ptr::null_mut(), 0),
            Target::Lock(h) => ((h as *const AtomicUsize).cast_mut(), 0),
            Target::Owner(o) => (std::ptr::null_mut(), o.map_or(0, Owner::to_word)),
        };
        r.holder.store(holder, Ordering::Relaxed);
        r.target.store(owner, Ordering::Relaxed);
        r.wait.begin(kind as u8 + 1);
        Published { record }
    }

    /// Whose wait this is.
    pub fn owner(&self) -> Owner {
        self.record.owner
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        self.record.wait.end();
    }
}

/// A task's record, for async runtimes: registered by [`register_task`], removed when dropped.
/// Its waits are published with [`TaskRegistration::waiting`] from whichever thread polls the
/// task.
#[derive(Debug)]
pub struct TaskRegistration {
    record: Arc<Record>,
}

/// Registers a task with the runtime's id for it (below 2^63), its name and where it was
/// spawned; it shows as [`Owner::Task`] until the returned registration is dropped.
pub fn register_task(id: u64, name: Option<String>, site: Site) -> TaskRegistration {
    let parent = (os_tid(), std::thread::current().name().map(str::to_owned));
    let spawn = Spawn {
        site,
        parent,
        stack: Box::default(),
        token: Arc::new(AtomicUsize::new(Owner::Task(id).to_word())),
        scope: current_scope(),
        registered: true,
    };
    let record = Arc::new(Record::owned_by(Owner::Task(id), 0, name, Some(spawn)));
    TASKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(record.clone());
    TaskRegistration { record }
}

impl TaskRegistration {
    /// Publishes that the task starts waiting; the wait ends when the returned value is
    /// dropped, on any thread.
    pub fn waiting(&self, kind: Kind, site: Site, target: Target<'_>) -> Published {
        Published::begin(self.record.clone(), kind, site, target)
    }

    /// The task's owner.
    pub fn owner(&self) -> Owner {
        self.record.owner
    }
}

impl Drop for TaskRegistration {
    fn drop(&mut self) {
        let mut tasks = TASKS.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !Arc::ptr_eq(t, &self.record));
    }
}

/// Registered tasks.
static TASKS: Mutex<Vec<Arc<Record>>> = Mutex::new(Vec::new());

/// A registered thread or task as read now, for dumps.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: ThreadId,
    pub name: Option<String>,
    /// The OS thread id; 0 for a task.
    pub os_tid: i64,
    pub owner: Owner,
    pub started: SystemTime,
    /// Site, parent and the spawner's stack, for threads started through `holdup::thread`.
    pub spawn: Option<SpawnEntry>,
    /// The leak-check scope it was spawned in (0 for threads holdup did not spawn).
    pub scope: u64,
    pub wait: Option<WaitState>,
}

/// Where a thread started through `holdup::thread` was spawned: the site, the parent (OS id
/// and name) and the spawner's stack.
pub type SpawnEntry = (
    &'static Location<'static>,
    (i64, Option<String>),
    Box<[usize]>,
);

/// A wait in progress, as read now: the raw state readers resolve (holders as owners).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitState {
    pub kind: Kind,
    pub site: &'static Location<'static>,
    /// When the wait began (`clock::now_ns`): identifies this wait.
    pub since_ns: u64,
    /// How long it has waited, as of the read.
    pub waited: Duration,
    /// Who is waited for (a lock's exclusive holder, a joined thread or task), if known.
    pub holder: Option<Owner>,
}

/// Every registered thread now, in registration order, with its wait state.
pub fn entries() -> Vec<Entry> {
    read(&THREADS)
}

/// Every registered task now, in registration order, with its wait state.
pub fn tasks() -> Vec<Entry> {
    read(&TASKS)
}

fn read(records: &Mutex<Vec<Arc<Record>>>) -> Vec<Entry> {
    let records = records.lock().unwrap_or_else(|e| e.into_inner());
    let now = crate::clock::now_ns();
    records
        .iter()
        .map(|r| Entry {
            id: r.id,
            name: r.name.clone(),
            os_tid: r.os_tid,
            owner: r.owner,
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

/// The wait state of `owner`, if registered, read now.
pub fn wait_of_owner(owner: Owner) -> Option<WaitState> {
    let records = match owner {
        Owner::Thread(_) => &THREADS,
        Owner::Task(_) => &TASKS,
    };
    let records = records.lock().unwrap_or_else(|e| e.into_inner());
    let now = crate::clock::now_ns();
    records
        .iter()
        .find(|r| r.owner == owner)
        .and_then(|r| wait_of(r, now))
}

fn wait_of(r: &Record, now: u64) -> Option<WaitState> {
    let kind = r.wait.current();
    let site = r.site.load(Ordering::Relaxed);
    if kind == 0 || site.is_null() {
        return None;
    }
    let since_ns = r.since_ns.load(Ordering::Relaxed);
    let holder = Owner::from_word(r.holder_word());
    // SAFETY: `site` was stored from a `&'static Location` by `waiting`.
    let site: &'static Location<'static> = unsafe { &*site };
    Some(WaitState {
        kind: Kind::from_u8(kind - 1)?,
        site,
        since_ns,
        waited: Duration::from_nanos(now.saturating_sub(since_ns)),
        holder,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> Site {
        Location::caller()
    }

    fn wait_of_task(owner: Owner) -> Option<WaitState> {
        tasks()
            .into_iter()
            .find(|e| e.owner == owner)
            .and_then(|e| e.wait)
    }

    #[test]
    fn a_task_ends_its_own_wait_on_another_thread() {
        let site = here();
        let task = register_task(41, Some("worker-task".into()), site);
        assert_eq!(task.owner(), Owner::Task(41));
        let holder = AtomicUsize::new(Owner::Task(7).to_word());
        let wait = task.waiting(Kind::Mutex, site, Target::Lock(&holder));
        let seen = wait_of_task(Owner::Task(41)).expect("the task's wait is published");
        assert_eq!(
            (seen.kind, seen.holder),
            (Kind::Mutex, Some(Owner::Task(7)))
        );
        // The thread that polled the task when the wait began shows nothing.
        assert!(
            entries()
                .iter()
                .filter(|e| e.os_tid == os_tid())
                .all(|e| e.wait.is_none())
        );
        // The task resumes on another worker: dropping its wait there ends the task's wait.
        std::thread::spawn(move || drop(wait)).join().unwrap();
        assert_eq!(wait_of_task(Owner::Task(41)), None);
        drop(task);
        assert!(tasks().iter().all(|e| e.owner != Owner::Task(41)));
    }

    #[test]
    fn a_thread_wait_ended_elsewhere_ends_the_waiters_record() {
        let site = here();
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let waiter = std::thread::spawn(move || {
            let wait = waiting(Kind::Condvar, site, Target::None).expect("published");
            tx.send((wait, Owner::current_thread())).unwrap();
            done_rx.recv().unwrap();
        });
        let (wait, owner) = rx.recv().unwrap();
        assert_eq!(wait.owner(), owner);
        assert_eq!(wait_of_owner(owner).map(|w| w.kind), Some(Kind::Condvar));
        drop(wait); // ended on this thread, for the waiter's record
        assert_eq!(wait_of_owner(owner), None);
        done_tx.send(()).unwrap();
        waiter.join().unwrap();
    }
}
