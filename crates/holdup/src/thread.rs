//! Threads: a mirror of [`std::thread`] whose threads are registered and whose joins feed the
//! block profile.
//!
//! Threads started here are registered (name, spawn site, OS thread id) for as long as they run;
//! [`registered`] lists them. Waiting in [`JoinHandle::join`] or [`ScopedJoinHandle::join`] for
//! a thread that has not finished is a block event (`kind=join`, `lock` = the spawn site).
//! Everything else (`sleep`, `current`, `park`, ...) is std's, re-exported.
//!
//! ```
//! let handle = holdup::thread::Builder::new()
//!     .name("worker".into())
//!     .spawn(|| 6 * 7)
//!     .unwrap();
//! assert_eq!(handle.join().unwrap(), 42);
//!
//! let mut data = vec![1, 2, 3];
//! holdup::thread::scope(|s| {
//!     s.spawn(|| data.len());
//! });
//! data.push(4);
//! ```

use std::fmt;
use std::io;
use std::panic::Location;
use std::thread as std_thread;

pub use std::thread::{
    AccessError, LocalKey, Result, Thread, ThreadId, available_parallelism, current, panicking,
    park, park_timeout, sleep, yield_now,
};

use crate::hook;
use crate::registry::{self, Target};
/// A wait in progress, as [`registered`] shows it: the same type dumps show
/// ([`dump::Wait`](crate::dump::Wait)).
pub use crate::wait::Wait as Waiting;

/// A thread started through [`holdup::thread`](crate::thread), as seen by [`registered`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// Rust's id of the thread.
    pub id: std_thread::ThreadId,
    /// The name given to the [`Builder`], if any.
    pub name: Option<String>,
    /// Where the thread was spawned (`file:line:column` of the `spawn` call).
    pub spawn_site: &'static Location<'static>,
    /// The OS thread id (Linux `gettid`), or 0 where unknown.
    pub os_tid: i64,
    /// When the thread started running.
    pub started: std::time::SystemTime,
    /// What the thread is waiting for in a holdup primitive right now, if anything; its holder
    /// is named when the holder is a thread started through `holdup::thread` too.
    pub waiting: Option<Waiting>,
}
use holdup_core::Site;
use holdup_core::{Kind, Owner};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The threads started through this module that are running now, in start order.
pub fn registered() -> Vec<ThreadInfo> {
    let entries = registry::entries();
    let by_owner = entries.iter().map(|e| (e.owner, e.os_tid)).collect();
    let thread_ref = |tid: i64| crate::wait::ThreadRef {
        tid,
        name: entries
            .iter()
            .find(|e| e.os_tid == tid)
            .and_then(|e| e.name.clone()),
    };
    let tasks = registry::tasks();
    let task_ref = |id: u64| crate::wait::TaskRef {
        id,
        name: tasks
            .iter()
            .find(|t| t.owner == holdup_core::Owner::Task(id))
            .and_then(|t| t.name.clone()),
    };
    entries
        .iter()
        .filter_map(|e| {
            let (spawn_site, _, _) = e.spawn.as_ref()?;
            Some(ThreadInfo {
                id: e.id,
                name: e.name.clone(),
                spawn_site,
                os_tid: e.os_tid,
                started: e.started,
                waiting: e
                    .wait
                    .as_ref()
                    .map(|w| Waiting::resolve(w, &by_owner, &thread_ref, &task_ref)),
            })
        })
        .collect()
}

/// Spawns a thread, as [`std::thread::spawn`]; the call site is registered as its spawn site.
///
/// # Panics
///
/// If the OS fails to create a thread; use [`Builder::spawn`] to handle that.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// Creates a scope for threads that borrow from the caller, as [`std::thread::scope`]. Threads
/// still running when the scope ends are joined by std without a block event.
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    std_thread::scope(|s| f(Scope::from_std(s)))
}

/// Thread factory, as [`std::thread::Builder`].
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    inner: std_thread::Builder,
    name: Option<String>,
}

impl Builder {
    /// A builder with std's defaults.
    pub fn new() -> Builder {
        Builder {
            inner: std_thread::Builder::new(),
            name: None,
        }
    }

    /// Names the thread, as [`std::thread::Builder::name`].
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name.clone()),
            name: Some(name),
        }
    }

    /// Sets the stack size, as [`std::thread::Builder::stack_size`].
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
            name: self.name,
        }
    }

    /// Spawns the thread, as [`std::thread::Builder::spawn`].
    ///
    /// # Errors
    ///
    /// The OS error if the thread cannot be created.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = Location::caller();
        let name = self.name;
        let spawn = registry::Spawn::here(site);
        let target = spawn.token.clone().unwrap_or_default();
        let inner = self.inner.spawn(move || {
            let _registration = registry::register(name, spawn);
            let _ended = Ended(site);
            f()
        })?;
        Ok(JoinHandle {
            inner,
            site,
            target,
        })
    }

    /// Spawns a scoped thread, as [`std::thread::Builder::spawn_scoped`].
    ///
    /// # Errors
    ///
    /// The OS error if the thread cannot be created.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let site = Location::caller();
        let name = self.name;
        let spawn = registry::Spawn::here(site);
        let target = spawn.token.clone().unwrap_or_default();
        let inner = self.inner.spawn_scoped(&scope.inner, move || {
            let _registration = registry::register(name, spawn);
            let _ended = Ended(site);
            f()
        })?;
        Ok(ScopedJoinHandle {
            inner,
            site,
            target,
        })
    }

    /// Spawns a thread without `'static` bounds, as [`std::thread::Builder::spawn_unchecked`].
    ///
    /// # Safety
    ///
    /// As for std's: the caller must make sure the thread does not outlive what `f` borrows.
    ///
    /// # Errors
    ///
    /// The OS error if the thread cannot be created.
    #[track_caller]
    pub unsafe fn spawn_unchecked<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let site = Location::caller();
        let name = self.name;
        let spawn = registry::Spawn::here(site);
        let target = spawn.token.clone().unwrap_or_default();
        // SAFETY: forwarded from the caller; the wrapper adds no borrow of its own.
        let inner = unsafe {
            self.inner.spawn_unchecked(move || {
                let _registration = registry::register(name, spawn);
                let _ended = Ended(site);
                f()
            })
        }?;
        Ok(JoinHandle {
            inner,
            site,
            target,
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

/// An owned permission to join a thread, as [`std::thread::JoinHandle`].
pub struct JoinHandle<T> {
    inner: std_thread::JoinHandle<T>,
    site: Site,
    /// The thread's token once it runs: what a join waits for, in dumps.
    target: Arc<AtomicUsize>,
}

/// Dropped when a spawned thread's closure returns or unwinds: its end wakes the threads that
/// join it (an arrow in the execution trace, from here to their join).
struct Ended(Site);

impl Drop for Ended {
    fn drop(&mut self) {
        hook::wake(self.0, Kind::Join);
    }
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish, as [`std::thread::JoinHandle::join`]. Waiting for a
    /// thread that is still running is a block event (`kind=join`).
    ///
    /// # Errors
    ///
    /// The thread's panic payload, if it panicked.
    pub fn join(self) -> Result<T> {
        if self.inner.is_finished() {
            return self.inner.join();
        }
        let wait = hook::blocking_for(
            self.site,
            Kind::Join,
            Target::Owner(Owner::from_word(self.target.load(Ordering::Acquire))),
        );
        let r = self.inner.join();
        hook::woken(wait);
        r
    }

    /// The thread's handle, as [`std::thread::JoinHandle::thread`].
    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    /// Whether the thread has finished, as [`std::thread::JoinHandle::is_finished`].
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}

#[cfg(unix)]
impl<T> std::os::unix::thread::JoinHandleExt for JoinHandle<T> {
    fn as_pthread_t(&self) -> std::os::unix::thread::RawPthread {
        self.inner.as_pthread_t()
    }

    fn into_pthread_t(self) -> std::os::unix::thread::RawPthread {
        self.inner.into_pthread_t()
    }
}

/// A scope to spawn scoped threads in, as [`std::thread::Scope`].
#[repr(transparent)]
pub struct Scope<'scope, 'env: 'scope> {
    inner: std_thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    fn from_std<'a>(s: &'a std_thread::Scope<'scope, 'env>) -> &'a Scope<'scope, 'env> {
        // SAFETY: `Scope` is `repr(transparent)` over std's `Scope`, so the layouts are the
        // same and the reference's lifetime is unchanged.
        unsafe { &*(s as *const std_thread::Scope<'scope, 'env>).cast::<Scope<'scope, 'env>>() }
    }

    /// Spawns a scoped thread, as [`std::thread::Scope::spawn`].
    ///
    /// # Panics
    ///
    /// If the OS fails to create a thread; use [`Builder::spawn_scoped`] to handle that.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .expect("failed to spawn thread")
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// An owned permission to join a scoped thread, as [`std::thread::ScopedJoinHandle`].
pub struct ScopedJoinHandle<'scope, T> {
    inner: std_thread::ScopedJoinHandle<'scope, T>,
    site: Site,
    /// The thread's token once it runs: what a join waits for, in dumps.
    target: Arc<AtomicUsize>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish, as [`std::thread::ScopedJoinHandle::join`]. Waiting for
    /// a thread that is still running is a block event (`kind=join`).
    ///
    /// # Errors
    ///
    /// The thread's panic payload, if it panicked.
    pub fn join(self) -> Result<T> {
        if self.inner.is_finished() {
            return self.inner.join();
        }
        let wait = hook::blocking_for(
            self.site,
            Kind::Join,
            Target::Owner(Owner::from_word(self.target.load(Ordering::Acquire))),
        );
        let r = self.inner.join();
        hook::woken(wait);
        r
    }

    /// The thread's handle, as [`std::thread::ScopedJoinHandle::thread`].
    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    /// Whether the thread has finished, as [`std::thread::ScopedJoinHandle::is_finished`].
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}
