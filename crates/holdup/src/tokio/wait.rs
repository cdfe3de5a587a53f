//! What every async primitive shares: who is running (a task or a thread), and a wait timed from
//! a future's first `Pending` to its completion.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use holdup_core::hook::{self, LockMeta, Wait};
use holdup_core::registry::{self, TaskRegistration};
use holdup_core::{Kind, Owner, Site};

/// tokio's id of a task as a number (the one its `Display` prints).
///
/// `task::Id` keeps its number private; its `Hash` writes that number and nothing else, so a
/// hasher that keeps what it is given reads it without formatting (a test checks it against
/// `Display`).
pub(crate) fn task_number(id: ::tokio::task::Id) -> u64 {
    #[derive(Default)]
    struct Keep(u64);
    impl Hasher for Keep {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = (self.0 << 8) | u64::from(b);
            }
        }
        fn write_u64(&mut self, n: u64) {
            self.0 = n;
        }
    }
    let mut keep = Keep::default();
    id.hash(&mut keep);
    // Owners are tasks below 2^63 (`Owner::to_word`); tokio counts up from 1.
    keep.0 & (u64::MAX >> 1)
}

/// A guard's holder and stamp, in one look at the current task. The holder is who runs here:
/// the task holdup tracks on this thread, else tokio's current task (one spawned with plain
/// `tokio::spawn`), else the thread (`block_on`, `blocking_lock`).
#[inline]
pub(crate) fn holder() -> (Owner, registry::Stamp) {
    let stamp = registry::Stamp::now();
    let owner = match stamp.task() {
        Some(task) => task,
        None => match ::tokio::task::try_id() {
            Some(id) => Owner::Task(task_number(id)),
            None => Owner::current_thread(),
        },
    };
    (owner, stamp)
}

/// A task (or a thread driving a future) waiting in an async primitive, from the future's first
/// `Pending`: published in the task's record and timed like a thread's wait (see
/// `hook::contended` and `hook::blocking`). Dropping it before it ends (the future was
/// cancelled) leaves no wait and records nothing.
#[derive(Debug)]
pub(crate) struct AsyncWait<'a> {
    wait: Wait<'a>,
    /// A task holdup did not spawn has a record only while it waits, so that dumps see it
    /// (without a spawn site). Dropped after the wait (field order).
    _transient: Option<TaskRegistration>,
}

impl<'a> AsyncWait<'a> {
    /// The first `Pending` of a lock's acquisition: counted among the lock's waiters, so that
    /// the holder's release is charged.
    #[cold]
    #[inline(never)]
    pub(crate) fn lock(meta: &'a LockMeta, kind: Kind) -> AsyncWait<'a> {
        AsyncWait::begin(|| hook::contended(meta, kind))
    }

    /// The first `Pending` of any other wait (a semaphore's permits, a notification, a
    /// channel).
    #[cold]
    #[inline(never)]
    pub(crate) fn other(site: Site, kind: Kind) -> AsyncWait<'static> {
        AsyncWait::begin(|| hook::blocking(site, kind))
    }

    /// Starts the wait with `hook`, as the current task's: a task holdup does not track is
    /// registered for the wait's duration and entered while the hook publishes it.
    fn begin(hook: impl FnOnce() -> Wait<'a>) -> AsyncWait<'a> {
        let transient = transient();
        let entered = transient.as_ref().map(TaskRegistration::enter);
        let mut wait = hook();
        drop(entered);
        // The chain of async calls down to this `.await`: for dumps, and the block event's.
        wait.keep_stack(holdup_core::collector::wait_stack());
        AsyncWait {
            wait,
            _transient: transient,
        }
    }

    /// The lock waited for is now held: the block event, on the stack kept when the wait began
    /// (the task's async call chain at the `.await`).
    #[inline]
    pub(crate) fn acquired(self) {
        hook::acquired(self.wait);
    }

    /// The wait ended (a permit, a notification, a message).
    #[inline]
    pub(crate) fn woken(self) {
        hook::woken(self.wait);
    }
}

/// A registration for the current tokio task while it waits, if holdup does not track it.
fn transient() -> Option<TaskRegistration> {
    if registry::current_task().is_some() {
        return None;
    }
    let id = ::tokio::task::try_id()?;
    Some(registry::register_task(task_number(id), None, None))
}

/// Whether a `Pending` just returned by one of tokio's primitives means a wait, rather than
/// tokio's cooperative scheduling making the task yield (its budget spent): a primitive's
/// `Pending` gives its unit of budget back, so a task that must wait still has budget, and one
/// told to yield has none. A yield is not a wait (the lock may well be free) and is not
/// recorded; if the primitive is still unavailable at the next poll, the wait starts there.
#[inline]
fn waits() -> bool {
    ::tokio::task::coop::has_budget_remaining()
}

/// What a [`Waited`] future waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum What<'a> {
    /// A lock's acquisition (see [`AsyncWait::lock`]).
    Lock(&'a LockMeta, Kind),
    /// Any other wait (see [`AsyncWait::other`]).
    Other(Site, Kind),
}

/// The wait of a future that is polled: started at its first `Pending` (not counting a
/// cooperative yield, see [`waits`]), ended when it completes, dropped (recording nothing) if
/// the future is dropped before. Boxed when started: the uncontended path carries two words.
#[derive(Debug)]
pub(crate) struct Tracker<'a> {
    what: What<'a>,
    /// The `.await` (the call of the primitive's `#[track_caller]` method), if known.
    at: Option<Site>,
    wait: Option<Box<AsyncWait<'a>>>,
}

impl<'a> Tracker<'a> {
    pub(crate) fn new(what: What<'a>, at: Option<Site>) -> Tracker<'a> {
        Tracker {
            what,
            at,
            wait: None,
        }
    }

    /// What it waits for.
    pub(crate) fn what(&self) -> What<'a> {
        self.what
    }

    /// Records what the inner future's poll returned.
    #[inline]
    pub(crate) fn polled<R>(&mut self, r: Poll<R>) -> Poll<R> {
        match &r {
            Poll::Pending => {
                if self.wait.is_none() && waits() {
                    self.start();
                }
            }
            Poll::Ready(_) => {
                if self.wait.is_some() {
                    self.end();
                }
            }
        }
        r
    }

    #[cold]
    fn start(&mut self) {
        let wait = match self.what {
            What::Lock(meta, kind) => AsyncWait::lock(meta, kind),
            What::Other(site, kind) => AsyncWait::other(site, kind),
        };
        if let (Some(at), Some(published)) = (self.at, wait.wait.published()) {
            published.set_at(at);
        }
        self.wait = Some(Box::new(wait));
    }

    #[cold]
    fn end(&mut self) {
        if let Some(wait) = self.wait.take().map(|w| *w) {
            match self.what {
                What::Lock(..) => wait.acquired(),
                What::Other(..) => wait.woken(),
            }
        }
    }
}

/// One of tokio's futures, awaited as a wait (see [`Tracker`]). Its output goes through `map`
/// (which wraps tokio's guard or permit in holdup's).
///
/// A named future rather than an `async fn`: the uncontended path is tokio's poll, one branch
/// and `map`, so that the future is tokio's plus a few words.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Waited<'a, F, M> {
    fut: F,
    tracker: Tracker<'a>,
    map: Option<M>,
}

impl<'a, F, M> Waited<'a, F, M> {
    /// Waits for `fut`; the caller's location (propagated by `#[track_caller]` methods) is the
    /// `.await`.
    #[track_caller]
    pub(crate) fn new(what: What<'a>, fut: F, map: M) -> Self {
        Waited::new_at(what, Location::caller(), fut, map)
    }

    /// As [`new`](Waited::new), with the `.await`'s location given.
    pub(crate) fn new_at(what: What<'a>, at: Site, fut: F, map: M) -> Self {
        Waited {
            fut,
            tracker: Tracker::new(what, Some(at)),
            map: Some(map),
        }
    }

    /// The inner future, pinned (for methods tokio's future has, such as `Notified::enable`).
    pub(crate) fn inner(self: Pin<&mut Self>) -> Pin<&mut F> {
        // SAFETY: `fut` is pinned structurally: it is never moved out of `self`, and `Waited`
        // implements neither `Unpin` by hand nor `Drop`.
        unsafe { self.map_unchecked_mut(|w| &mut w.fut) }
    }
}

impl<'a, F: Future, M: FnOnce(F::Output) -> R, R> Future for Waited<'a, F, M> {
    type Output = R;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        // SAFETY: `fut` is pinned structurally (see `inner`); the other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        match this.tracker.polled(fut.poll(cx)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(out) => {
                let map = this.map.take().expect("`Waited` polled after completion");
                Poll::Ready(map(out))
            }
        }
    }
}

/// Defines `$name<F>`, a future that only polls `F`: the future a primitive's method returns,
/// so that the recorded stack's leaf names the primitive (`<...::mutex::Lock<F> as
/// Future>::poll`) rather than [`Waited`].
macro_rules! named_future {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        #[must_use = "futures do nothing unless polled"]
        pub(crate) struct $name<F>(F);

        impl<F: std::future::Future> std::future::Future for $name<F> {
            type Output = F::Output;

            #[inline]
            fn poll(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<F::Output> {
                // SAFETY: the one field is pinned structurally: never moved out, and the type
                // implements neither `Unpin` by hand nor `Drop`.
                unsafe { self.map_unchecked_mut(|f| &mut f.0) }.poll(cx)
            }
        }
    };
}
pub(crate) use named_future;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_numbers_are_tokios() {
        let rt = ::tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for _ in 0..3 {
            let h = rt.spawn(async { ::tokio::task::id() });
            let id = rt.block_on(h).unwrap();
            assert_eq!(task_number(id).to_string(), id.to_string());
        }
    }
}
