//! Tasks holdup tracks: spawned with their spawn site, parent and name, shown in dumps while
//! they live, their waits and held locks theirs rather than the worker thread's.
//!
//! [`spawn`], [`spawn_blocking`], [`spawn_local`] and [`Builder`] are tokio's, with the task
//! wrapped in a root future that registers it on its first poll (under tokio's `task::Id`) and
//! makes it the worker thread's current task while it is polled. Waits in holdup's primitives
//! (async or not) are then published in the task's record, locks it holds name it, and tasks it
//! spawns are its children and inherit its leak-check scope. A task spawned with plain
//! `tokio::spawn` is still seen while it waits in a holdup primitive (its wait knows tokio's id),
//! without a spawn site or a name.

use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

pub use ::tokio::task::{Id, JoinError};

use ::tokio::runtime::Handle;
use ::tokio::task::{AbortHandle, JoinHandle};

use super::wait::{Waited, What, named_future, task_number};
use holdup_core::Kind;
use holdup_core::registry::{self, LazyTask, Spawn, TaskSpawn};

/// A task's root future: enters the task around every poll, and gives it a record in the
/// registry when it first needs one (a wait to publish) or first suspends. Its `poll` is never
/// inlined: it bounds the task's stacks (the frames below it are the runtime's), as tokio's
/// task dumps bound theirs.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Root<F> {
    /// Dropped first: what the task holds is released while it is still registered.
    fut: F,
    task: LazyTask,
}

impl<F> Root<F> {
    fn new(fut: F, site: &'static Location<'static>, name: Option<String>) -> Root<F> {
        Root {
            fut,
            task: LazyTask::new(name, TaskSpawn::here(site)),
        }
    }
}

impl<F: Future> Future for Root<F> {
    type Output = F::Output;

    #[inline(never)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is pinned structurally (it is never moved out of `self`, and `Root`
        // implements neither `Unpin` by hand nor `Drop`); `task` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let entered = this.task.enter(own_or_tokio_id);
        // SAFETY: see above; `fut` stays where it is.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let r = fut.poll(cx);
        drop(entered);
        if r.is_pending() {
            // Suspended at an `.await`: listed for readers from now on, and guards it holds
            // now are held across it.
            this.task.suspended();
        }
        r
    }
}

/// tokio's id of the task being polled; outside a task (a `block_on` root), an id of holdup's
/// own, from 2^62 up (tokio counts from 1, so they do not meet).
fn own_or_tokio_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 62);
    match ::tokio::task::try_id() {
        Some(id) => task_number(id),
        None => NEXT.fetch_add(1, Ordering::Relaxed),
    }
}

/// Spawns a task as [`tokio::spawn`], tracked by holdup: its spawn site (the caller), its
/// parent (the task or thread spawning it) and, while it runs, its waits and the locks it holds.
///
/// # Panics
///
/// As `tokio::spawn`: outside a tokio runtime.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let answer = holdup::tokio::spawn(async { 6 * 7 }).await.unwrap();
/// assert_eq!(answer, 42);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    ::tokio::spawn(Root::new(future, Location::caller(), None))
}

/// Spawns a `!Send` task on the current [`LocalSet`](tokio::task::LocalSet), as
/// [`tokio::task::spawn_local`], tracked as [`spawn`]'s tasks are.
///
/// # Panics
///
/// As `tokio::task::spawn_local`: outside a `LocalSet`.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    ::tokio::task::spawn_local(Root::new(future, Location::caller(), None))
}

/// Runs a blocking closure on tokio's blocking pool, as [`tokio::task::spawn_blocking`],
/// tracked as a task: its waits in holdup's primitives are the task's.
///
/// # Panics
///
/// As `tokio::task::spawn_blocking`: outside a tokio runtime.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let spawn = Spawn::task(Location::caller());
    ::tokio::task::spawn_blocking(move || run_blocking(f, spawn, None))
}

fn run_blocking<F: FnOnce() -> R, R>(f: F, spawn: Spawn, name: Option<String>) -> R {
    let task = registry::register_task(own_or_tokio_id(), name, Some(spawn));
    let _entered = task.enter();
    f()
}

/// Tracks a future that is not a task, such as the one given to `Runtime::block_on`, as a task
/// of its own: its waits and held locks are its own, and what it spawns names it as parent.
/// Its id is tokio's when it runs inside a task, else one of holdup's from 2^62 up.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(holdup::tokio::instrument(async {
///     // the root of the program's async code
/// }));
/// ```
#[track_caller]
pub fn instrument<F: Future>(future: F) -> Root<F> {
    Root::new(future, Location::caller(), None)
}

/// A task factory with a name, like tokio's `task::Builder` (which needs `tokio_unstable`):
/// the name shows in dumps and leak reports.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let h = holdup::tokio::task::Builder::new()
///     .name("conn")
///     .spawn(async { 1 })
///     .unwrap();
/// assert_eq!(h.await.unwrap(), 1);
/// # });
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until it spawns"]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder for an unnamed task.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(self, name: &str) -> Builder {
        Builder {
            name: Some(name.to_owned()),
        }
    }

    /// Spawns the task on the current runtime, as [`spawn`].
    ///
    /// # Errors
    ///
    /// Never, today; the `Result` is tokio's `Builder::spawn`'s signature.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(::tokio::spawn(Root::new(
            future,
            Location::caller(),
            self.name,
        )))
    }

    /// Spawns the task on the runtime of `handle`.
    ///
    /// # Errors
    ///
    /// Never, today (tokio's signature).
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(handle.spawn(Root::new(future, Location::caller(), self.name)))
    }

    /// Spawns a `!Send` task on the current `LocalSet`, as [`spawn_local`].
    ///
    /// # Errors
    ///
    /// Never, today (tokio's signature).
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet`.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Ok(::tokio::task::spawn_local(Root::new(
            future,
            Location::caller(),
            self.name,
        )))
    }

    /// Runs a blocking closure on the blocking pool, as [`spawn_blocking`].
    ///
    /// # Errors
    ///
    /// Never, today (tokio's signature).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, f: F) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let spawn = Spawn::task(Location::caller());
        let name = self.name;
        Ok(::tokio::task::spawn_blocking(move || {
            run_blocking(f, spawn, name)
        }))
    }
}

/// A set of tasks that are awaited in the order they finish, as [`tokio::task::JoinSet`],
/// whose tasks holdup tracks (spawn sites, waits, held locks) and whose `join_next` waits feed
/// the block profile (`kind=join`, labelled with where the set was created). Dropping the set
/// aborts its tasks, as tokio's does.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let mut set = holdup::tokio::task::JoinSet::new();
/// for i in 0..4 {
///     set.spawn(async move { i * 2 });
/// }
/// let mut sum = 0;
/// while let Some(r) = set.join_next().await {
///     sum += r.unwrap();
/// }
/// assert_eq!(sum, 12);
/// # });
/// ```
pub struct JoinSet<T> {
    site: &'static Location<'static>,
    inner: ::tokio::task::JoinSet<T>,
}

impl<T> JoinSet<T> {
    /// An empty set; the caller's location names its joins in profiles.
    #[track_caller]
    pub fn new() -> JoinSet<T> {
        JoinSet {
            site: Location::caller(),
            inner: ::tokio::task::JoinSet::new(),
        }
    }

    /// Tasks in the set (finished ones not joined yet included).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the set has no task.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a task into the set, as [`spawn`] (tracked).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.inner.spawn(Root::new(task, Location::caller(), None))
    }

    /// Spawns a task into the set, on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.inner
            .spawn_on(Root::new(task, Location::caller(), None), handle)
    }

    /// Spawns a `!Send` task into the set, on the current `LocalSet`.
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet`.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.inner
            .spawn_local(Root::new(task, Location::caller(), None))
    }

    /// Runs a blocking closure on the blocking pool, as a task of the set (tracked).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        let spawn = Spawn::task(Location::caller());
        self.inner
            .spawn_blocking(move || run_blocking(f, spawn, None))
    }

    /// Waits for the next task to finish and returns its output (a wait, `kind=join`); `None`
    /// when the set is empty. Cancel safe.
    #[track_caller]
    pub fn join_next(
        &mut self,
    ) -> impl Future<Output = Option<Result<T, ::tokio::task::JoinError>>> + '_ {
        let what = What::Other(self.site, Kind::Join);
        Joining(Waited::new(what, self.inner.join_next(), |r| r))
    }

    /// As [`join_next`](JoinSet::join_next), with the task's id.
    #[track_caller]
    pub fn join_next_with_id(
        &mut self,
    ) -> impl Future<Output = Option<Result<(::tokio::task::Id, T), ::tokio::task::JoinError>>> + '_
    {
        let what = What::Other(self.site, Kind::Join);
        Joining(Waited::new(what, self.inner.join_next_with_id(), |r| r))
    }

    /// The output of a task that has finished, if any, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, ::tokio::task::JoinError>> {
        self.inner.try_join_next()
    }

    /// As [`try_join_next`](JoinSet::try_join_next), with the task's id.
    pub fn try_join_next_with_id(
        &mut self,
    ) -> Option<Result<(::tokio::task::Id, T), ::tokio::task::JoinError>> {
        self.inner.try_join_next_with_id()
    }

    /// Aborts every task and waits for them to finish (a wait, `kind=join`).
    #[track_caller]
    pub fn shutdown(&mut self) -> impl Future<Output = ()> + '_ {
        let what = What::Other(self.site, Kind::Join);
        Joining(Waited::new(what, self.inner.shutdown(), |r| r))
    }

    /// Waits for every task and returns their outputs in the order they finished.
    ///
    /// # Panics
    ///
    /// As tokio's: if a task panicked (the panic is resumed) or was aborted.
    #[track_caller]
    pub fn join_all(self) -> impl Future<Output = Vec<T>> {
        let what = What::Other(self.site, Kind::Join);
        Joining(Waited::new(what, self.inner.join_all(), |r| r))
    }

    /// Aborts every task (they are still in the set until joined).
    pub fn abort_all(&mut self) {
        self.inner.abort_all();
    }

    /// Lets every task run on, out of the set.
    pub fn detach_all(&mut self) {
        self.inner.detach_all();
    }

    /// Polls for the next finished task, as tokio's `poll_join_next`.
    pub fn poll_join_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T, ::tokio::task::JoinError>>> {
        self.inner.poll_join_next(cx)
    }

    /// As [`poll_join_next`](JoinSet::poll_join_next), with the task's id.
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(::tokio::task::Id, T), ::tokio::task::JoinError>>> {
        self.inner.poll_join_next_with_id(cx)
    }
}

named_future!(
    /// The future of a `JoinSet`'s joins.
    Joining
);

impl<T> Default for JoinSet<T> {
    #[track_caller]
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> std::fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for task in iter {
            self.spawn(task);
        }
    }
}
