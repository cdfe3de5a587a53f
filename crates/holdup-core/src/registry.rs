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
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
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
    /// Who spawned it: the task being polled when it was spawned, else the spawning thread.
    pub parent_owner: Owner,
    /// The spawner's stack (return addresses, innermost first), when stack capture was ready.
    pub stack: Box<[usize]>,
    /// The child thread's token once it runs (0 before): what a `join` on it waits for. `None`
    /// for a task (its owner is its id).
    pub token: Option<Arc<AtomicUsize>>,
    /// The spawner's leak-check scope, which the child inherits.
    pub scope: u64,
    /// The scope's count of spawns not registered yet.
    pending: &'static AtomicI64,
    /// Whether the child registered; until then the spawn counts as pending in its scope.
    registered: AtomicBool,
}

impl Drop for Spawn {
    fn drop(&mut self) {
        // The thread never ran its closure (the OS refused it), or the task ended without being
        // listed: no longer pending.
        if !*self.registered.get_mut() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Spawn {
    /// Marks the child registered (listed): no longer pending in its scope.
    fn mark_registered(&self) {
        if !self.registered.swap(true, Ordering::Relaxed) {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Spawns not registered yet, per scope: a thread between `spawn` and its first instruction (a
/// task before its first poll) is already the scope's (a leak check must not miss it). One
/// counter per scope that ever spawned, never freed (scopes are leak-check guards and thread
/// roots: few), so that a spawn and its registration are an atomic add each, the counter
/// found through the spawning thread's cache and kept by the spawn.
static PENDING: Mutex<Vec<(u64, &'static AtomicI64)>> = Mutex::new(Vec::new());

thread_local! {
    /// The calling thread's last scope and its pending counter.
    static PENDING_CACHE: Cell<(u64, Option<&'static AtomicI64>)> = const { Cell::new((0, None)) };
}

/// The pending counter of `scope`.
fn pending_counter(scope: u64) -> &'static AtomicI64 {
    let lookup = || {
        let mut p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        match p.iter().find(|(s, _)| *s == scope) {
            Some(&(_, c)) => c,
            None => {
                let c: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(0)));
                p.push((scope, c));
                c
            }
        }
    };
    PENDING_CACHE
        .try_with(|cache| match cache.get() {
            (s, Some(c)) if s == scope => c,
            _ => {
                let c = lookup();
                cache.set((scope, Some(c)));
                c
            }
        })
        .unwrap_or_else(|_| lookup())
}

/// The number of threads (and tasks) spawned in `scope` that have not started running yet.
pub fn pending_in(scope: u64) -> usize {
    let p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    p.iter()
        .find(|(s, _)| *s == scope)
        .map_or(0, |(_, c)| c.load(Ordering::Relaxed).max(0) as usize)
}

impl Spawn {
    /// What a task's spawner knows, for [`register_task`] (no stack: tasks are many and cheap;
    /// their spawn site says where). Until the task registers (its first poll), it counts as
    /// pending in the spawner's scope, as a thread does until it starts.
    pub fn task(site: &'static Location<'static>) -> Spawn {
        TaskSpawn::here(site).into_spawn()
    }

    /// Called in the spawning thread.
    pub fn here(site: &'static Location<'static>) -> Spawn {
        let parent = (os_tid(), std::thread::current().name().map(str::to_owned));
        let scope = current_scope();
        let pending = pending_counter(scope);
        pending.fetch_add(1, Ordering::Relaxed);
        Spawn {
            site,
            parent,
            parent_owner: current_owner(),
            stack: crate::collector::spawn_stack(),
            token: Some(Arc::new(AtomicUsize::new(0))),
            scope,
            pending,
            registered: AtomicBool::new(false),
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
    /// When it was registered, by the coarse clock (`clock::coarse_ns`: cheap to read, which a
    /// task's spawn needs).
    started: u64,
    owner: Owner,
    /// `None` for threads registered on their first wait.
    spawn: Option<Spawn>,
    /// The wait (0 when running; otherwise `Kind as u8 + 1`), pinned by readers that look at
    /// the lock it points to (see `state::WaitPin`).
    wait: WaitPin,
    site: AtomicPtr<Location<'static>>,
    /// Where the waiting code awaits (an async wait's `.await`, from `#[track_caller]`), null
    /// if unknown.
    at: AtomicPtr<Location<'static>>,
    since_ns: AtomicU64,
    /// While waiting for a lock: the lock's holder word (see `LockMeta`), else null.
    holder: AtomicPtr<AtomicUsize>,
    /// While waiting for a thread or task (join): its owner word (`Owner::to_word`), else 0.
    target: AtomicUsize,
    /// For a task: the OS id of the thread polling it now, 0 when it is not being polled.
    running_on: AtomicI64,
    /// For a task: how many times it was suspended (a poll returned `Pending`). Written only
    /// by the thread polling it; guards compare it (see [`Stamp`]).
    suspensions: AtomicU64,
    /// For a task: its stack where its current (or last) wait began, taken by the waiting
    /// primitive (the task is not running then, so a dump cannot take it), and its hash; `None`
    /// if not taken. Shared with readers without a copy.
    stack: Mutex<Option<(Arc<[usize]>, u64)>>,
    /// Whether `stack` may hold one (written only by the waiter): a wait that keeps none, as
    /// all do until stack capture is set up, then clears it without taking the lock.
    stack_kept: AtomicBool,
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
            started: crate::clock::coarse_ns(),
            owner,
            spawn,
            wait: WaitPin::new(),
            site: AtomicPtr::new(std::ptr::null_mut()),
            at: AtomicPtr::new(std::ptr::null_mut()),
            since_ns: AtomicU64::new(0),
            holder: AtomicPtr::new(std::ptr::null_mut()),
            target: AtomicUsize::new(0),
            running_on: AtomicI64::new(0),
            suspensions: AtomicU64::new(0),
            stack: Mutex::new(None),
            stack_kept: AtomicBool::new(false),
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
pub fn register(name: Option<String>, spawn: Spawn) -> Registration {
    if let Some(t) = &spawn.token {
        t.store(token(), Ordering::Release);
    }
    set_scope(spawn.scope);
    spawn.registered.store(true, Ordering::Relaxed);
    let (site, pending) = (spawn.site, spawn.pending);
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
    // Listed first, then no longer pending: a leak check never misses it in between.
    pending.fetch_sub(1, Ordering::Relaxed);
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
///
/// While a task is entered on this thread ([`TaskRegistration::enter`]), the wait is the
/// task's: it is published in the task's record, not the thread's.
pub fn waiting(kind: Kind, site: Site, target: Target<'_>) -> Option<Published> {
    if let Some(task) = entered_task() {
        return Some(Published::begin(task, kind, site, target));
    }
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
        r.since_ns.store(wait_clock(), Ordering::Relaxed);
        r.site.store(
            (site as *const Location<'static>).cast_mut(),
            Ordering::Relaxed,
        );
        r.at.store(std::ptr::null_mut(), Ordering::Relaxed);
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

    /// Records where the waiting code awaits (an async wait's `.await`, which the primitive's
    /// `#[track_caller]` method saw), for dumps.
    pub fn set_at(&self, at: Site) {
        self.record.at.store(
            (at as *const Location<'static>).cast_mut(),
            Ordering::Relaxed,
        );
    }

    /// Keeps `stack` (return addresses, innermost first, and their hash) as the waiter's stack
    /// at this wait, for dumps: a task's, taken by the primitive when the wait began, since a
    /// suspended task has no stack a dump could take.
    pub fn set_stack(&self, stack: Option<(Arc<[usize]>, u64)>) {
        let r = &self.record;
        let keeps = stack.is_some();
        if !keeps && !r.stack_kept.load(Ordering::Relaxed) {
            return;
        }
        *r.stack.lock().unwrap_or_else(|e| e.into_inner()) = stack;
        r.stack_kept.store(keeps, Ordering::Relaxed);
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        self.record.wait.end();
    }
}

/// A task's record, for async runtimes: registered by [`register_task`], removed when dropped.
/// Its waits are published with [`TaskRegistration::waiting`] from whichever thread polls the
/// task, or by any hook while the task is [entered](TaskRegistration::enter) on the thread
/// that polls it.
#[derive(Debug)]
pub struct TaskRegistration {
    record: Arc<Record>,
    /// Where the record is in [`TASKS`] (shard and slot), once listed.
    slot: Option<(usize, usize)>,
}

/// Registers a task with the runtime's id for it (below 2^63), its name and what its spawner
/// knew ([`Spawn::task`], taken where it was spawned; `None` for a task holdup did not spawn,
/// seen only while it waits); it shows as [`Owner::Task`] until the returned registration is
/// dropped.
///
/// Registering and leaving take one short lock of one of several shards, so that a runtime
/// spawning from every worker does not serialize on the registry.
pub fn register_task(id: u64, name: Option<String>, spawn: Option<Spawn>) -> TaskRegistration {
    let mut task = unlisted_task(id, name, spawn);
    task.list();
    task
}

/// As [`register_task`], without listing the task yet ([`TaskRegistration::list`]): a task
/// that ends in its first poll never needs to be, and costs no lock of the registry. Until it
/// is listed, readers do not see it, and it counts as pending in its spawner's scope.
fn unlisted_task(id: u64, name: Option<String>, spawn: Option<Spawn>) -> TaskRegistration {
    TaskRegistration {
        record: Arc::new(Record::owned_by(Owner::Task(id), 0, name, spawn)),
        slot: None,
    }
}

impl TaskRegistration {
    /// Lists the task, for readers (dumps, leak checks); idempotent.
    pub fn list(&mut self) {
        if self.slot.is_some() {
            return;
        }
        let Owner::Task(id) = self.record.owner else {
            return;
        };
        let shard = (id as usize) % TASK_SHARDS;
        let mut tasks = TASKS[shard].lock().unwrap_or_else(|e| e.into_inner());
        let slot = match tasks.free.pop() {
            Some(slot) => {
                tasks.slots[slot] = Some(self.record.clone());
                slot
            }
            None => {
                tasks.slots.push(Some(self.record.clone()));
                tasks.slots.len() - 1
            }
        };
        drop(tasks);
        self.slot = Some((shard, slot));
        // Listed first, then no longer pending: a leak check never misses it in between.
        if let Some(spawn) = &self.record.spawn {
            spawn.mark_registered();
        }
    }

    /// Publishes that the task starts waiting; the wait ends when the returned value is
    /// dropped, on any thread.
    pub fn waiting(&self, kind: Kind, site: Site, target: Target<'_>) -> Published {
        Published::begin(self.record.clone(), kind, site, target)
    }

    /// The task's owner.
    pub fn owner(&self) -> Owner {
        self.record.owner
    }

    /// The task's poll returned `Pending`: it is suspended (at an `.await`) until polled again.
    /// Called by the runtime glue after each such poll, on the polling thread.
    #[inline]
    pub fn suspended(&self) {
        // One writer (the polling thread), so no read-modify-write is needed.
        let n = self.record.suspensions.load(Ordering::Relaxed);
        self.record.suspensions.store(n + 1, Ordering::Relaxed);
    }

    /// The task's leak-check scope (the scope it was spawned in; 0 if its spawn is unknown).
    pub fn scope(&self) -> u64 {
        self.record.spawn.as_ref().map_or(0, |s| s.scope)
    }

    /// Makes the task the calling thread's current task until the returned value is dropped
    /// (a runtime's poll of it): hooks publish their waits in the task's record,
    /// [`current_owner`] is the task, and what it spawns inherits its leak-check scope.
    /// Entering nests (the previous task is restored).
    #[inline]
    pub fn enter(&self) -> Entered<'_> {
        let previous = ENTERED
            .try_with(|t| t.replace(Arc::as_ptr(&self.record)))
            .unwrap_or(std::ptr::null());
        let scope = self.record.spawn.as_ref().map(|s| set_scope(s.scope));
        self.record
            .running_on
            .store(cached_os_tid(), Ordering::Relaxed);
        Entered {
            task: &self.record,
            previous,
            scope,
        }
    }
}

impl Drop for TaskRegistration {
    fn drop(&mut self) {
        let Some((shard, slot)) = self.slot else {
            return;
        };
        let mut tasks = TASKS[shard].lock().unwrap_or_else(|e| e.into_inner());
        if tasks
            .slots
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|r| Arc::ptr_eq(r, &self.record))
        {
            tasks.slots[slot] = None;
            tasks.free.push(slot);
        }
    }
}

/// A task entered on the calling thread (see [`TaskRegistration::enter`]); leaving restores the
/// previous one. Not `Send`: it is the calling thread's state.
#[derive(Debug)]
#[must_use = "the task is current until this is dropped"]
pub struct Entered<'a> {
    task: &'a Record,
    previous: *const Record,
    /// The thread's scope before entering, if the task has one to pass on.
    scope: Option<u64>,
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        self.task.running_on.store(0, Ordering::Relaxed);
        let _ = ENTERED.try_with(|t| t.set(self.previous));
        if let Some(scope) = self.scope {
            set_scope(scope);
        }
    }
}

thread_local! {
    /// The task entered on this thread (a `TaskRegistration`'s record), null if none.
    static ENTERED: Cell<*const Record> = const { Cell::new(std::ptr::null()) };
    /// This thread's OS id, once asked for (0 before).
    static OS_TID: Cell<i64> = const { Cell::new(0) };
}

/// The calling thread's OS id, without a system call after the first.
#[inline]
fn cached_os_tid() -> i64 {
    OS_TID
        .try_with(|t| {
            if t.get() == 0 {
                t.set(os_tid());
            }
            t.get()
        })
        .unwrap_or(0)
}

/// The record of the task entered on the calling thread, if any.
fn entered_task() -> Option<Arc<Record>> {
    let mut ptr = ENTERED.try_with(Cell::get).ok()?;
    if ptr.is_null() {
        // A task in its first poll has no record until it needs one: now.
        ptr = materialize_lazy()?;
    }
    // SAFETY: a non-null pointer was set by `TaskRegistration::enter` from the `Arc` of a
    // registration that the live `Entered` guard borrows (it resets the pointer when dropped),
    // so the `Arc` has a strong count of at least one: taking one more is sound.
    unsafe { Arc::increment_strong_count(ptr) };
    // SAFETY: `ptr` came from `Arc::as_ptr`, and the count taken above is this `Arc`'s.
    Some(unsafe { Arc::from_raw(ptr) })
}

/// Where a guard was made, in its task's life: compared when the guard is released, it tells
/// whether the task was suspended (at an `.await`) while it held the lock. Two words; taking
/// one is a thread-local read and a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The task's owner word (`Owner::to_word`), 0 outside a task holdup tracks.
    task: usize,
    suspensions: u64,
}

impl Stamp {
    /// Now, in the task entered on the calling thread.
    #[inline]
    pub fn now() -> Stamp {
        let ptr = ENTERED.try_with(Cell::get).unwrap_or(std::ptr::null());
        if ptr.is_null() {
            // A task in its first poll has not been suspended yet.
            return Stamp {
                task: lazy_owner().map_or(0, Owner::to_word),
                suspensions: 0,
            };
        }
        // SAFETY: a non-null pointer is to a record kept alive by the registration the live
        // `Entered` guard borrows (see `entered_task`).
        let record = unsafe { &*ptr };
        Stamp {
            task: record.owner.to_word(),
            suspensions: record.suspensions.load(Ordering::Relaxed),
        }
    }

    /// The task the stamp was taken in, if any.
    #[inline]
    pub fn task(&self) -> Option<Owner> {
        Owner::from_word(self.task)
    }

    /// Whether the task was suspended since this stamp was taken; `None` outside a task holdup
    /// tracks, or if the guard moved to another task (it cannot tell).
    #[inline]
    pub fn suspended_since(&self) -> Option<bool> {
        let now = Stamp::now();
        (self.task != 0 && now.task == self.task).then_some(now.suspensions != self.suspensions)
    }
}

/// The task entered on the calling thread, if any (see [`TaskRegistration::enter`]).
#[inline]
pub fn current_task() -> Option<Owner> {
    let ptr = ENTERED.try_with(Cell::get).ok()?;
    if ptr.is_null() {
        return lazy_owner();
    }
    // SAFETY: as in `entered_task`, a non-null pointer is to a record kept alive by the
    // registration the live `Entered` guard borrows.
    Some(unsafe { (*ptr).owner })
}

/// Who is running here: the task entered on the calling thread, else the thread.
#[inline]
pub fn current_owner() -> Owner {
    current_task().unwrap_or_else(Owner::current_thread)
}

thread_local! {
    /// A task in its first poll that has no record yet (see [`LazyTask`]), null if none.
    static LAZY: Cell<*const LazyTask> = const { Cell::new(std::ptr::null()) };
}

/// The owner of the task in its first poll on this thread, without making its record.
fn lazy_owner() -> Option<Owner> {
    let lazy = LAZY.try_with(Cell::get).ok()?;
    // SAFETY: a non-null `LAZY` was set by `LazyTask::enter` from a `&LazyTask` that the live
    // `LazyEntered` guard borrows (it resets the pointer when dropped); `id` is only written by
    // `enter`, before the pointer is published.
    (!lazy.is_null()).then(|| Owner::Task(unsafe { (*lazy).id.get() }))
}

/// Makes the record of the task in its first poll on this thread, enters it, and returns it.
fn materialize_lazy() -> Option<*const Record> {
    let lazy = LAZY.try_with(Cell::get).ok()?;
    if lazy.is_null() {
        return None;
    }
    // SAFETY: as in `lazy_owner`: the `LazyTask` outlives the pointer, and only this thread,
    // which is polling the task, uses it while the pointer is set.
    let lazy = unsafe { &*lazy };
    let record = lazy.materialize();
    let _ = LAZY.try_with(|l| l.set(std::ptr::null()));
    let _ = ENTERED.try_with(|e| e.set(record));
    // SAFETY: `record` is the `Arc` the `LazyTask` now keeps.
    unsafe {
        (*record)
            .running_on
            .store(cached_os_tid(), Ordering::Relaxed)
    };
    Some(record)
}

/// What a task's spawner knows, compact: the spawn site, the spawner (task or thread), the
/// leak-check scope, and the scope's pending count (the spawn counts as pending until the task
/// is listed, or gone).
#[derive(Debug)]
pub struct TaskSpawn {
    site: Site,
    parent_owner: Owner,
    scope: u64,
    pending: Option<&'static AtomicI64>,
}

impl TaskSpawn {
    /// Called where the task is spawned.
    #[inline]
    pub fn here(site: Site) -> TaskSpawn {
        let scope = current_scope();
        let pending = pending_counter(scope);
        pending.fetch_add(1, Ordering::Relaxed);
        TaskSpawn {
            site,
            parent_owner: current_owner(),
            scope,
            pending: Some(pending),
        }
    }

    /// The registry's `Spawn` for it (which takes over the pending count).
    fn into_spawn(mut self) -> Spawn {
        let pending = self.pending.take().expect("a task spawn is converted once");
        Spawn {
            site: self.site,
            parent: (0, None),
            parent_owner: self.parent_owner,
            stack: Box::default(),
            token: None,
            scope: self.scope,
            pending,
            registered: AtomicBool::new(false),
        }
    }
}

impl Drop for TaskSpawn {
    fn drop(&mut self) {
        // The task ended before it needed a record: no longer pending.
        if let Some(p) = self.pending {
            p.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A task's registration, made only when needed: a task that ends in its first poll without
/// waiting in a holdup primitive or spawning costs no record and no lock of the registry. The
/// runtime glue keeps one per task ([`new`](LazyTask::new) where it is spawned) and
/// [enters](LazyTask::enter) it around every poll; the record is made when the task first
/// needs one (a wait to publish) or first suspends ([`suspended`](LazyTask::suspended), which
/// also lists it for readers).
#[derive(Debug)]
pub struct LazyTask {
    /// The runtime's id, known from the first poll (0 before).
    id: Cell<u64>,
    /// Until the record is made: its name and spawn.
    pending: std::cell::UnsafeCell<Option<(Option<String>, TaskSpawn)>>,
    registration: std::cell::UnsafeCell<Option<TaskRegistration>>,
}

// SAFETY: the cells are used only by the thread polling the task (in `enter`, `suspended` and,
// through the `LAZY` pointer, while a poll runs), and a runtime polls a task from one thread at
// a time; between polls the task moves between threads as a whole, like any `Send` future.
unsafe impl Send for LazyTask {}

impl LazyTask {
    /// A task to be, named `name`, spawned as `spawn` says.
    pub fn new(name: Option<String>, spawn: TaskSpawn) -> LazyTask {
        LazyTask {
            id: Cell::new(0),
            pending: std::cell::UnsafeCell::new(Some((name, spawn))),
            registration: std::cell::UnsafeCell::new(None),
        }
    }

    /// Enters the task for a poll on the calling thread (see [`TaskRegistration::enter`]);
    /// `id` gives the runtime's id at the first poll.
    #[inline]
    pub fn enter(&self, id: impl FnOnce() -> u64) -> LazyEntered<'_> {
        let first = self.id.get() == 0;
        if first {
            self.id.set(id());
        }
        if crate::trace::on() {
            self.trace_poll(first);
        }
        // SAFETY: only the polling thread uses the cells (see `Send`), and no reference into
        // them is alive here.
        if let Some(reg) = unsafe { &*self.registration.get() } {
            return LazyEntered::Task(reg.enter());
        }
        // SAFETY: as above.
        let scope = unsafe { &*self.pending.get() }
            .as_ref()
            .map(|(_, s)| set_scope(s.scope));
        let previous = LAZY
            .try_with(|l| l.replace(self))
            .unwrap_or(std::ptr::null());
        LazyEntered::Lazy {
            task: std::marker::PhantomData,
            id: self.id.get(),
            previous,
            entered: ENTERED.try_with(Cell::get).unwrap_or(std::ptr::null()),
            scope,
        }
    }

    /// Records the poll's beginning in the execution trace, after the task's identity if this
    /// is its first poll.
    #[cold]
    fn trace_poll(&self, first: bool) {
        let id = self.id.get();
        if first {
            // SAFETY: only the polling thread uses the cells, and no reference into them is
            // alive across this call.
            let (name, spawn) = match unsafe { &*self.pending.get() } {
                Some((name, spawn)) => (name.as_deref(), Some(spawn)),
                None => (None, None),
            };
            crate::trace::emit(
                crate::trace::Tag::TaskNew,
                0,
                &[
                    id,
                    spawn.map_or(0, |s| s.parent_owner.to_word() as u64),
                    spawn.map_or(0, |s| s.site as *const Location<'static> as u64),
                    name.map_or(0, crate::trace::intern),
                ],
            );
        }
        crate::trace::emit(crate::trace::Tag::PollBegin, 0, &[id]);
    }

    /// Makes the record if not yet, listed for readers; returns it.
    fn materialize(&self) -> *const Record {
        // SAFETY: only the polling thread uses the cells, and no reference into them is alive
        // across this call.
        let registration = unsafe { &mut *self.registration.get() };
        if registration.is_none() {
            // SAFETY: as above.
            let (name, spawn) = unsafe { &mut *self.pending.get() }
                .take()
                .expect("a lazy task has its spawn until its record is made");
            // Made because the task waits or suspends: readers must see it from now on.
            *registration = Some(register_task(self.id.get(), name, Some(spawn.into_spawn())));
        }
        Arc::as_ptr(&registration.as_ref().expect("made above").record)
    }

    /// The task's poll returned `Pending`: it now has a record, listed for readers, and its
    /// suspensions count one more (see [`TaskRegistration::suspended`]).
    pub fn suspended(&mut self) {
        self.materialize();
        if let Some(reg) = self.registration.get_mut() {
            reg.suspended();
        }
    }
}

impl Drop for LazyTask {
    fn drop(&mut self) {
        let id = self.id.get();
        if id != 0 && crate::trace::on() {
            crate::trace::emit(crate::trace::Tag::TaskEnd, 0, &[id]);
        }
    }
}

/// A [`LazyTask`] entered on the calling thread; leaving restores the previous task.
#[derive(Debug)]
#[must_use = "the task is current until this is dropped"]
pub enum LazyEntered<'a> {
    /// The task has a record: entered as any task.
    Task(Entered<'a>),
    /// The task has no record yet; one is made if something needs it during the poll.
    Lazy {
        task: std::marker::PhantomData<&'a LazyTask>,
        /// The task's id.
        id: u64,
        previous: *const LazyTask,
        entered: *const Record,
        scope: Option<u64>,
    },
}

impl Drop for LazyEntered<'_> {
    #[inline]
    fn drop(&mut self) {
        if crate::trace::on() {
            let id = match self {
                LazyEntered::Task(entered) => match entered.task.owner {
                    Owner::Task(id) => id,
                    Owner::Thread(_) => 0,
                },
                LazyEntered::Lazy { id, .. } => *id,
            };
            crate::trace::emit(crate::trace::Tag::PollEnd, 0, &[id]);
        }
        if let LazyEntered::Lazy {
            previous,
            entered,
            scope,
            ..
        } = *self
        {
            // A record made during the poll was entered in place: leave it.
            let now = ENTERED.try_with(Cell::get).unwrap_or(std::ptr::null());
            if now != entered && !now.is_null() {
                // SAFETY: `now` is the record `task` keeps (made by `materialize_lazy`).
                unsafe { (*now).running_on.store(0, Ordering::Relaxed) };
                let _ = ENTERED.try_with(|e| e.set(entered));
            }
            let _ = LAZY.try_with(|l| l.set(previous));
            if let Some(scope) = scope {
                set_scope(scope);
            }
        }
    }
}

/// Shards of [`TASKS`].
const TASK_SHARDS: usize = 16;

/// One shard of the registered tasks: slots, and the free ones (O(1) to register and leave).
struct TaskShard {
    slots: Vec<Option<Arc<Record>>>,
    free: Vec<usize>,
}

/// Registered tasks, sharded by id.
static TASKS: [Mutex<TaskShard>; TASK_SHARDS] = [const {
    Mutex::new(TaskShard {
        slots: Vec::new(),
        free: Vec::new(),
    })
}; TASK_SHARDS];

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
    /// Who spawned it (a task or a thread), when its spawn is known.
    pub parent: Option<Owner>,
    /// For a task: the OS id of the thread polling it at the read, if any.
    pub running_on: Option<i64>,
    /// For a task: its stack where its current wait began (see [`Published::set_stack`]) and
    /// the stack's hash (tasks waiting at the same place have the same), if taken and waiting.
    pub stack: Option<(Arc<[usize]>, u64)>,
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
    /// When the wait began, on the waits' clock (clock ticks, tagged with their kind):
    /// identifies this wait.
    pub since_ns: u64,
    /// How long it has waited, as of the read.
    pub waited: Duration,
    /// Who is waited for (a lock's exclusive holder, a joined thread or task), if known.
    pub holder: Option<Owner>,
    /// Where the waiting code awaits (an async wait's `.await`), if known.
    pub at: Option<&'static Location<'static>>,
}

/// Every registered thread now, in registration order, with its wait state.
pub fn entries() -> Vec<Entry> {
    let records = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let now = wait_clock();
    records.iter().map(|r| entry(r, now)).collect()
}

/// Every registered task now, by id (runtimes number tasks in spawn order), with its wait
/// state. Each shard is locked in turn, briefly: tasks keep registering and leaving.
pub fn tasks() -> Vec<Entry> {
    let now = wait_clock();
    let mut out = Vec::new();
    for shard in &TASKS {
        let records: Vec<Arc<Record>> = {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.slots.iter().flatten().cloned().collect()
        };
        out.extend(records.iter().map(|r| entry(r, now)));
    }
    out.sort_by_key(|e| e.owner);
    out
}

fn entry(r: &Record, now: u64) -> Entry {
    let wait = wait_of(r, now);
    Entry {
        id: r.id,
        name: r.name.clone(),
        os_tid: r.os_tid,
        owner: r.owner,
        started: started_at(r.started),
        spawn: r
            .spawn
            .as_ref()
            .map(|s| (s.site, s.parent.clone(), s.stack.clone())),
        scope: r.spawn.as_ref().map_or(0, |s| s.scope),
        parent: r.spawn.as_ref().map(|s| s.parent_owner),
        running_on: Some(r.running_on.load(Ordering::Relaxed)).filter(|&t| t != 0),
        stack: match wait {
            Some(_) if matches!(r.owner, Owner::Task(_)) => {
                r.stack.lock().unwrap_or_else(|e| e.into_inner()).clone()
            }
            _ => None,
        },
        wait,
    }
}

/// A thread or task waiting in a holdup primitive, as the wall-clock profile's periodic pass
/// reads it: cheaper than [`entries`] (no names, no holder).
#[derive(Debug, Clone)]
pub struct Waiter {
    pub owner: Owner,
    /// The OS thread id; 0 for a task.
    pub os_tid: i64,
    /// For a task: the OS id of the thread polling it, if it is being polled (a blocking wait
    /// inside a poll, on that thread's stack).
    pub running_on: Option<i64>,
    pub kind: Kind,
    pub site: Site,
    /// When the wait began, on the waits' clock: identifies the wait.
    pub since_ns: u64,
    /// For a task: its stack where the wait began, if kept.
    pub stack: Option<(Arc<[usize]>, u64)>,
}

/// Every registered thread and task that waits now. Only waiting records are copied; each task
/// shard is locked in turn, briefly.
pub fn waiters() -> Vec<Waiter> {
    fn waiter(r: &Record) -> Option<Waiter> {
        let kind = r.wait.current();
        let site = r.site.load(Ordering::Relaxed);
        if kind == 0 || site.is_null() {
            return None;
        }
        let task = matches!(r.owner, Owner::Task(_));
        Some(Waiter {
            owner: r.owner,
            os_tid: r.os_tid,
            running_on: Some(r.running_on.load(Ordering::Relaxed)).filter(|&t| t != 0),
            kind: Kind::from_u8(kind - 1)?,
            // SAFETY: `site` was stored from a `&'static Location` by `waiting`.
            site: unsafe { &*site },
            since_ns: r.since_ns.load(Ordering::Relaxed),
            stack: if task && r.stack_kept.load(Ordering::Relaxed) {
                r.stack.lock().unwrap_or_else(|e| e.into_inner()).clone()
            } else {
                None
            },
        })
    }
    let mut out: Vec<Waiter> = {
        let records = THREADS.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().filter_map(|r| waiter(r)).collect()
    };
    for shard in &TASKS {
        let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        out.extend(shard.slots.iter().flatten().filter_map(|r| waiter(r)));
    }
    out
}

/// The wait state of `owner`, if registered, read now.
pub fn wait_of_owner(owner: Owner) -> Option<WaitState> {
    let now = wait_clock();
    let find = |records: &[Arc<Record>]| {
        records
            .iter()
            .find(|r| r.owner == owner)
            .and_then(|r| wait_of(r, now))
    };
    match owner {
        Owner::Thread(_) => find(&THREADS.lock().unwrap_or_else(|e| e.into_inner())),
        Owner::Task(id) => {
            let shard = TASKS[(id as usize) % TASK_SHARDS]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            shard
                .slots
                .iter()
                .flatten()
                .find(|r| r.owner == owner)
                .and_then(|r| wait_of(r, now))
        }
    }
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
    let at = r.at.load(Ordering::Relaxed);
    // SAFETY: a non-null `at` was stored from a `&'static Location` by `set_at`.
    let at = (!at.is_null()).then(|| unsafe { &*at });
    Some(WaitState {
        kind: Kind::from_u8(kind - 1)?,
        site,
        since_ns,
        waited: waited(since_ns, now),
        holder,
        at,
    })
}

/// The wall-clock time of a record's start, from the coarse clock.
fn started_at(coarse: u64) -> SystemTime {
    let ago = crate::clock::coarse_ns().saturating_sub(coarse);
    SystemTime::now() - Duration::from_nanos(ago)
}

/// The waits' clock: `clock::now` (the TSC once a profile is on: a cheap read on the path
/// that starts every wait), with bit 63 saying whether the ticks are TSC ticks, so that a wait
/// begun before the clock switched is not measured in the wrong unit.
fn wait_clock() -> u64 {
    let ticks = crate::clock::now() & !(1 << 63);
    ticks | (u64::from(crate::clock::ticks_are_tsc()) << 63)
}

/// How long ago `since` was, both on the waits' clock; zero if the clock switched between.
fn waited(since: u64, now: u64) -> Duration {
    if (since ^ now) >> 63 != 0 {
        return Duration::ZERO;
    }
    let mask = !(1u64 << 63);
    Duration::from_nanos(crate::clock::to_ns(
        (now & mask).saturating_sub(since & mask),
    ))
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
        let task = register_task(41, Some("worker-task".into()), Some(Spawn::task(site)));
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
    fn an_entered_task_owns_the_waits_and_the_spawns_of_its_thread() {
        let site = here();
        let thread = Owner::current_thread();
        let task = register_task(42, None, Some(Spawn::task(site)));
        assert_eq!(current_owner(), thread);
        {
            let _in = task.enter();
            assert_eq!(current_owner(), Owner::Task(42));
            let scope = current_scope();
            assert_eq!(
                scope,
                task.scope(),
                "the task's scope is the thread's while entered"
            );
            // A hook's wait is the task's, not the thread's.
            let wait = waiting(Kind::Semaphore, site, Target::None).expect("published");
            assert_eq!(wait.owner(), Owner::Task(42));
            assert_eq!(
                wait_of_owner(Owner::Task(42)).map(|w| w.kind),
                Some(Kind::Semaphore)
            );
            assert_eq!(wait_of_owner(thread), None);
            // What it spawns is its child.
            let child = register_task(43, None, Some(Spawn::task(site)));
            let entry = tasks().into_iter().find(|e| e.owner == Owner::Task(43));
            assert_eq!(entry.and_then(|e| e.parent), Some(Owner::Task(42)));
            {
                let _nested = child.enter();
                assert_eq!(current_owner(), Owner::Task(43));
            }
            assert_eq!(
                current_owner(),
                Owner::Task(42),
                "leaving restores the outer task"
            );
            drop(wait);
        }
        assert_eq!(current_owner(), thread);
        assert_eq!(wait_of_owner(Owner::Task(42)), None);
        drop(task);
        assert!(tasks().iter().all(|e| e.owner != Owner::Task(42)));
    }

    #[test]
    fn a_lazy_task_gets_a_record_only_when_it_waits_or_suspends() {
        let site = here();
        let scope = new_scope();
        let previous = set_scope(scope);
        let listed = |id| tasks().iter().any(|e| e.owner == Owner::Task(id));

        // Ends in its first poll without waiting: never listed, and no longer pending.
        let quick = LazyTask::new(Some("quick".into()), TaskSpawn::here(site));
        assert_eq!(pending_in(scope), 1, "spawned, not running yet");
        {
            let _in = quick.enter(|| 501);
            assert_eq!(current_owner(), Owner::Task(501), "known without a record");
            assert_eq!(Stamp::now().suspended_since(), Some(false));
        }
        assert!(!listed(501));
        drop(quick);
        assert_eq!(pending_in(scope), 0);

        // Waits in its first poll: listed at once, with the wait.
        let waits = LazyTask::new(Some("waits".into()), TaskSpawn::here(site));
        {
            let _in = waits.enter(|| 502);
            let stamp = Stamp::now();
            let wait = waiting(Kind::Mutex, site, Target::None).expect("published");
            assert_eq!(wait.owner(), Owner::Task(502));
            assert!(listed(502));
            assert_eq!(pending_in(scope), 0, "listed, so no longer pending");
            assert_eq!(
                wait_of_owner(Owner::Task(502)).map(|w| w.kind),
                Some(Kind::Mutex)
            );
            assert_eq!(
                stamp.suspended_since(),
                Some(false),
                "the same task, not suspended"
            );
            drop(wait);
        }
        assert_eq!(current_task(), None, "left");

        // Suspends: listed, its suspensions counted.
        let mut suspends = LazyTask::new(None, TaskSpawn::here(site));
        let stamp = {
            let _in = suspends.enter(|| 503);
            Stamp::now()
        };
        suspends.suspended();
        assert!(listed(503));
        {
            let _in = suspends.enter(|| unreachable!("the id is known"));
            assert_eq!(stamp.suspended_since(), Some(true));
        }
        drop((waits, suspends));
        assert!(!listed(502) && !listed(503));
        set_scope(previous);
    }

    #[test]
    fn tasks_register_and_leave_in_any_order() {
        let site = here();
        let ids: Vec<u64> = (1000..1200).collect();
        let mut regs: Vec<_> = ids
            .iter()
            .map(|&id| register_task(id, None, Some(Spawn::task(site))))
            .collect();
        // Leave every other one, then register new ones into the freed slots.
        let mut kept = Vec::new();
        for (i, r) in regs.drain(..).enumerate() {
            if i % 2 == 0 {
                kept.push(r);
            }
        }
        kept.extend((2000..2050).map(|id| register_task(id, None, None)));
        let mine: Vec<Owner> = tasks()
            .into_iter()
            .map(|e| e.owner)
            .filter(|o| matches!(o, Owner::Task(1000..1200 | 2000..2050)))
            .collect();
        let mut expected: Vec<Owner> = kept.iter().map(TaskRegistration::owner).collect();
        expected.sort();
        assert_eq!(mine, expected);
        drop(kept);
        assert!(
            tasks()
                .iter()
                .all(|e| !matches!(e.owner, Owner::Task(1000..1200 | 2000..2050)))
        );
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
