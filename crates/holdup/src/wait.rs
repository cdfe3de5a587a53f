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

/// Who a waiting thread waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// Nothing another thread holds (channels, condvars, barriers, once-cells), or the lock was
    /// being handed over when the dump read it.
    None,
    /// This thread holds the lock exclusively (or is the thread being joined).
    Thread(ThreadRef),
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
}

impl Wait {
    /// The wait `state` with its holder resolved: `by_owner` maps the owners readers know to OS
    /// thread ids, `thread_ref` names them.
    pub(crate) fn resolve(
        state: &WaitState,
        by_owner: &HashMap<Owner, i64>,
        thread_ref: &impl Fn(i64) -> ThreadRef,
    ) -> Wait {
        let holder = match (state.holder, state.kind) {
            (None, Kind::RwLockWrite) => Holder::Readers,
            (None, _) => Holder::None,
            (Some(owner), _) => by_owner
                .get(&owner)
                .map_or(Holder::Unidentified, |&tid| Holder::Thread(thread_ref(tid))),
        };
        Wait {
            kind: state.kind,
            lock: state.site,
            waited: state.waited,
            holder,
        }
    }
}
