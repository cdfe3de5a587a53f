//! A wait as readers show it: what a thread waits for, since when, and who holds it. One type
//! for dumps and for [`thread::registered`](crate::thread::registered); the registry keeps the
//! raw state (`registry::WaitState`, holders as `Owner`s) that this resolves.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::registry::WaitState;
use holdup_core::{Kind, Owner};

/// A thread, as named in a dump.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ThreadRef {
    /// The OS thread id (Linux `gettid`), or 0 where unknown.
    pub tid: i64,
    /// The thread's name, if it has one.
    pub name: Option<String>,
}

impl fmt::Display for ThreadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {}", self.tid)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        Ok(())
    }
}

/// A task of an async runtime, as named in a dump: its runtime's id (tokio's `task::Id`) and
/// the name it was spawned with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct TaskRef {
    /// The runtime's id for the task (for tokio, what `task::Id` displays).
    pub id: u64,
    /// The name given at spawn (`holdup::tokio::task::Builder::name`), if any.
    pub name: Option<String>,
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        Ok(())
    }
}

/// A thread or a task: who waits, holds or spawned, as named in a dump.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    /// An OS thread.
    Thread(ThreadRef),
    /// A task of an async runtime.
    Task(TaskRef),
}

impl Who {
    /// The name of the thread or task, if it has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Who::Thread(t) => t.name.as_deref(),
            Who::Task(t) => t.name.as_deref(),
        }
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Thread(t) => t.fmt(f),
            Who::Task(t) => t.fmt(f),
        }
    }
}

/// Who a waiting thread waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// Nothing another thread holds (channels, condvars, barriers, once-cells), or the lock was
    /// being handed over when the dump read it.
    None,
    /// This thread holds the lock exclusively (or is the thread being joined).
    Thread(ThreadRef),
    /// This task holds the lock exclusively (or is the task being joined).
    Task(TaskRef),
    /// A `RwLock` held for reading (readers are not tracked).
    Readers,
    /// A thread holds the lock but is not among the dumped threads (it may have just exited).
    Unidentified,
}

/// A wait in progress in a holdup primitive, as dumps ([`dump::Thread::wait`](crate::dump::Thread))
/// and [`thread::registered`](crate::thread::registered) show it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Wait {
    /// The operation.
    pub kind: Kind,
    /// Where the primitive was created (for a join, where the joined thread was spawned).
    pub lock: &'static Location<'static>,
    /// How long the thread has been waiting.
    pub waited: Duration,
    /// Who holds what the thread waits for.
    pub holder: Holder,
    /// Where the waiting code awaits (a task's `.await`: the call of the primitive's method),
    /// if known.
    pub at: Option<&'static Location<'static>>,
}

impl Holder {
    /// The holding thread or task, if known.
    pub fn who(&self) -> Option<Who> {
        match self {
            Holder::Thread(t) => Some(Who::Thread(t.clone())),
            Holder::Task(t) => Some(Who::Task(t.clone())),
            _ => None,
        }
    }
}

impl Wait {
    /// The wait `state` with its holder resolved: `by_owner` maps the threads readers know to
    /// OS thread ids, `thread_ref` names them, `task_ref` names tasks (any task id is a task,
    /// registered or not).
    pub(crate) fn resolve(
        state: &WaitState,
        by_owner: &HashMap<Owner, i64>,
        thread_ref: &impl Fn(i64) -> ThreadRef,
        task_ref: &impl Fn(u64) -> TaskRef,
    ) -> Wait {
        let holder = match (state.holder, state.kind) {
            (None, Kind::RwLockWrite) => Holder::Readers,
            (None, _) => Holder::None,
            (Some(Owner::Task(id)), _) => Holder::Task(task_ref(id)),
            (Some(owner), _) => by_owner
                .get(&owner)
                .map_or(Holder::Unidentified, |&tid| Holder::Thread(thread_ref(tid))),
        };
        Wait {
            kind: state.kind,
            lock: state.site,
            waited: state.waited,
            holder,
            at: state.at,
        }
    }
}
