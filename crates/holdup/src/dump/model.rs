//! The dump's model: threads, their waits and holders, deadlocks, and the dump itself.

use super::*;

/// Where a thread started through [`holdup::thread`](crate::thread) was spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Spawn {
    /// The `spawn` call.
    pub site: &'static Location<'static>,
    /// The function that called `spawn`, when the spawner's stack was captured (stack capture
    /// is set up by the first dump, watchdog or enabled profile).
    pub function: Option<String>,
    /// The thread that spawned it.
    pub parent: ThreadRef,
}

/// A lock a thread holds exclusively while other threads of the dump wait for it.
///
/// Locks are known to be held from their waiters: each waiter reads the lock's exclusive holder
/// (see [`Holder`]). Locks nobody waits for, and locks held for reading (read locks are not
/// tracked), are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Held {
    /// [`Kind::Mutex`], or [`Kind::RwLockWrite`] for a `RwLock` held for writing.
    pub kind: Kind,
    /// Where the lock was created.
    pub lock: &'static Location<'static>,
    /// How many threads of the dump wait for it.
    pub waiters: usize,
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}",
            self.kind.as_str(),
            self.lock.file(),
            self.lock.line()
        )
    }
}

/// Whether a thread's stack was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackStatus {
    /// The frames are the thread's stack.
    Captured,
    /// No stack: why.
    Unavailable(String),
}

/// One thread of a [`ThreadDump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Thread {
    /// The thread, by OS id and name.
    pub thread: ThreadRef,
    /// The kernel's state letter (`R` running, `S` sleeping, `D` uninterruptible, ...), if read.
    pub kernel_state: Option<char>,
    /// Its stack, innermost first (holdup's own frames trimmed to the public call, as in
    /// profiles); empty when unavailable.
    pub frames: Vec<Frame>,
    /// Whether the stack was taken, or why not.
    pub stack: StackStatus,
    /// What it waits for in a holdup primitive, if anything.
    pub wait: Option<Wait>,
    /// The locks it holds exclusively that other threads wait for (see [`Held`]), in the order
    /// of their creation sites.
    pub holding: Vec<Held>,
    /// Where it was spawned, for threads started through `holdup::thread`.
    pub spawn: Option<Spawn>,
    /// The task this thread is polling, if it is a runtime's worker running a task holdup
    /// tracks.
    pub polling: Option<TaskRef>,
    /// Whether this is the thread that took the dump.
    pub current: bool,
    /// How long its signal handler ran (the time it was interrupted, minus signal delivery).
    pub interrupted_for: Option<Duration>,
    pub(super) text: Vec<(u64, u64)>,
}

impl Thread {
    /// The OS thread id.
    pub fn tid(&self) -> i64 {
        self.thread.tid
    }

    /// The thread's name, if any.
    pub fn name(&self) -> Option<&str> {
        self.thread.name.as_deref()
    }

    /// Whether any frame's function name contains `needle`.
    pub fn has_function(&self, needle: &str) -> bool {
        self.frames.iter().any(|f| f.function.contains(needle))
    }

    /// The bracketed status of a full entry: `mutex wait, 5.2s, lock src/cache.rs:12 held by
    /// thread 4120 "worker-1"`, followed by the locks it holds that others wait for (`; holding
    /// mutex src/pool.rs:30 (3 waiting)`).
    pub fn status(&self) -> String {
        with_holding(self.activity(), &self.holding)
    }

    /// What the thread is doing: its wait, or its kernel state.
    fn activity(&self) -> String {
        if let Some(w) = &self.wait {
            return wait_text(w);
        }
        if let Some(task) = &self.polling {
            return format!("running {task}");
        }
        if self.current {
            return "running, taking this dump".to_owned();
        }
        match self.kernel_state {
            Some('R') => "running".to_owned(),
            Some(c) => format!(
                "{}, not in a holdup primitive (wait unknown to holdup)",
                state_name(c)
            ),
            None => "not in a holdup primitive (wait unknown to holdup)".to_owned(),
        }
    }
}

/// A status followed by the locks held that others wait for (`; holding mutex src/pool.rs:30
/// (3 waiting)`).
fn with_holding(mut s: String, holding: &[Held]) -> String {
    for (i, h) in holding.iter().enumerate() {
        s.push_str(if i == 0 { "; holding " } else { ", " });
        let _ = write!(s, "{h} ({} waiting)", h.waiters);
    }
    s
}

/// A wait as a status says it: `mutex wait, 5.2s, lock src/cache.rs:12 held by thread 4120
/// "worker-1"`.
fn wait_text(w: &Wait) -> String {
    let mut s = format!("{} wait, {}, ", w.kind.as_str(), human(w.waited));
    let site = format!("{}:{}", w.lock.file(), w.lock.line());
    match w.kind {
        Kind::Mutex | Kind::RwLockRead | Kind::RwLockWrite => {
            let _ = write!(s, "lock {site}");
            match &w.holder {
                Holder::Thread(t) => {
                    let _ = write!(s, " held by {t}");
                }
                Holder::Task(t) => {
                    let _ = write!(s, " held by {t}");
                }
                Holder::Readers => s.push_str(" held for reading"),
                Holder::Unidentified => s.push_str(" held by a thread not in this dump"),
                Holder::None => {}
            }
        }
        Kind::Join => {
            let _ = write!(s, "thread spawned at {site}");
            if let Some(who) = w.holder.who() {
                let _ = write!(s, " ({who})");
            }
        }
        Kind::ChanRecv | Kind::ChanSend => {
            let _ = write!(s, "channel {site}");
        }
        _ => {
            let _ = write!(s, "{} {site}", w.kind.as_str());
        }
    }
    if let Some(at) = w.at {
        let _ = write!(s, ", at {}:{}", at.file(), at.line());
    }
    s
}

/// Where a task holdup tracks was spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskSpawn {
    /// The `spawn` call.
    pub site: &'static Location<'static>,
    /// The task or thread that spawned it.
    pub parent: Who,
}

/// One task of a [`ThreadDump`]: a task holdup tracks (spawned through `holdup::tokio`), or one
/// it sees because it waits in a holdup primitive.
///
/// Reading tasks never polls, pauses or signals them: a task's stack is the one its wait kept
/// when it began (its chain of async calls down to the `.await`); a task that is not waiting
/// shows which thread polls it, or that it is idle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Task {
    /// The task, by id and name.
    pub task: TaskRef,
    /// The worker thread polling it at the dump, if any.
    pub running_on: Option<ThreadRef>,
    /// Its stack where its wait began, innermost first; empty when it is not waiting (or the
    /// wait began before stack capture was set up by the first dump, watchdog or profile).
    /// Shared by the tasks waiting with the same stack.
    pub frames: Arc<[Frame]>,
    /// What it waits for in a holdup primitive, if anything.
    pub wait: Option<Wait>,
    /// The locks it holds exclusively that others of the dump wait for.
    pub holding: Vec<Held>,
    /// Where it was spawned (unknown for a task holdup did not spawn).
    pub spawn: Option<TaskSpawn>,
    pub(super) text: Arc<[(u64, u64)]>,
}

impl Task {
    /// The runtime's id of the task.
    pub fn id(&self) -> u64 {
        self.task.id
    }

    /// The task's name, if any.
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// Whether any frame's function name contains `needle`.
    pub fn has_function(&self, needle: &str) -> bool {
        self.frames.iter().any(|f| f.function.contains(needle))
    }

    /// The bracketed status of a full entry: its wait (`semaphore wait, 2.1s, semaphore
    /// src/pool.rs:9`), `running on thread 12 "tokio-runtime-worker"` or `idle`, then the locks
    /// it holds that others wait for.
    pub fn status(&self) -> String {
        let activity = match (&self.wait, &self.running_on) {
            (Some(w), _) => wait_text(w),
            (None, Some(t)) => format!("running on {t}"),
            (None, None) => "idle".to_owned(),
        };
        with_holding(activity, &self.holding)
    }
}

/// A wait-for cycle: each thread waits for what the next one holds, the last for the first's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Deadlock {
    /// The threads of the cycle, in wait-for order.
    pub links: Vec<DeadlockLink>,
}

/// One thread or task of a [`Deadlock`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadlockLink {
    /// The waiting thread or task.
    pub waiter: Who,
    /// The waiting thread (for a task: id 0, and the task as its name; see `waiter`).
    pub thread: ThreadRef,
    /// What it waits for.
    pub kind: Kind,
    /// The primitive's creation site.
    pub lock: &'static Location<'static>,
    /// How long it has waited.
    pub waited: Duration,
    /// The thread or task holding it (the next link's waiter).
    pub holder: Who,
    /// The thread holding it (for a task: id 0, and the task as its name; see `holder`).
    pub held_by: ThreadRef,
    /// The waiter's stack (a task's: where its wait began).
    pub frames: Vec<Frame>,
}

impl Deadlock {
    /// The locks of the cycle, `file:line`, in wait-for order.
    pub fn locks(&self) -> Vec<String> {
        self.links
            .iter()
            .map(|l| format!("{}:{}", l.lock.file(), l.lock.line()))
            .collect()
    }

    /// One line: `thread 1 "a" waits for mutex a.rs:3 held by thread 2 "b"; thread 2 ...`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} waits for {} {}:{} held by {}",
                    l.waiter,
                    l.kind.as_str(),
                    l.lock.file(),
                    l.lock.line(),
                    l.holder
                )
            })
            .collect();
        parts.join("; ")
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks = self
            .links
            .iter()
            .filter(|l| matches!(l.waiter, Who::Task(_)))
            .count();
        let who = match (tasks, self.links.len() - tasks) {
            (0, _) => "threads",
            (_, 0) => "tasks",
            _ => "threads and tasks",
        };
        writeln!(
            f,
            "deadlock: {} {who} wait for each other",
            self.links.len()
        )?;
        for l in &self.links {
            writeln!(
                f,
                "  {} waits {} for {} {}:{}, held by {}:",
                l.waiter,
                human(l.waited),
                l.kind.as_str(),
                l.lock.file(),
                l.lock.line(),
                l.holder
            )?;
            write_frames(f, &l.frames, "    ")?;
        }
        Ok(())
    }
}

/// Every thread of the process at one moment, with what each waits for. See the
/// [module docs](crate::dump).
#[derive(Debug, Clone)]
pub struct ThreadDump {
    pub(super) time: SystemTime,
    pub(super) elapsed: Duration,
    pub(super) threads: Vec<Thread>,
    pub(super) tasks: Vec<Task>,
    pub(super) deadlocks: Vec<Deadlock>,
    pub(super) source: &'static str,
}

impl ThreadDump {
    /// When the dump was taken.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// How long taking the dump took (listing, signalling, copying, unwinding, symbolizing).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The longest time any thread spent in its dump signal handler.
    pub fn longest_interruption(&self) -> Duration {
        self.threads
            .iter()
            .filter_map(|t| t.interrupted_for)
            .max()
            .unwrap_or_default()
    }

    /// The threads: the one that took the dump first, then by OS thread id.
    pub fn threads(&self) -> &[Thread] {
        &self.threads
    }

    /// The number of threads.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether no thread was found (never the case on Linux: the dumping thread is listed).
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// The thread with this OS id.
    pub fn thread(&self, tid: i64) -> Option<&Thread> {
        self.threads.iter().find(|t| t.thread.tid == tid)
    }

    /// The tasks: those holdup tracks (spawned through `holdup::tokio`), and others while they
    /// wait in a holdup primitive; by id.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The task with this id.
    pub fn task(&self, id: u64) -> Option<&Task> {
        self.tasks.iter().find(|t| t.task.id == id)
    }

    /// The wait-for cycles found (see the [module docs](crate::dump#deadlocks)).
    pub fn deadlocks(&self) -> &[Deadlock] {
        &self.deadlocks
    }
}
