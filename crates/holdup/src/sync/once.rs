use std::cell::Cell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::sync::{self as std_sync, OnceState};

use crate::hook;
use holdup_core::Kind;
use holdup_core::Site;

/// A cell written once, a drop-in replacement for [`std::sync::OnceLock`] that feeds the block
/// profile.
///
/// A thread that finds the cell being initialized by another thread waits for it; that wait is
/// a block event (`kind=once`). Reading an initialized cell costs what std's does.
///
/// # Differences from `std::sync::OnceLock`
///
/// The creation site names the cell in profiles; the unstable methods are not mirrored.
///
/// ```
/// use holdup::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let v = CONFIG.get_or_init(|| "ready".to_owned());
/// assert_eq!(v, "ready");
/// assert_eq!(CONFIG.get().map(String::as_str), Some("ready"));
/// ```
pub struct OnceLock<T> {
    site: Site,
    inner: std_sync::OnceLock<T>,
}

impl<T> OnceLock<T> {
    /// Creates an empty cell; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            site: Location::caller(),
            inner: std_sync::OnceLock::new(),
        }
    }

    /// The value, if initialized, as [`std::sync::OnceLock::get`]. Never blocks.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        self.inner.get()
    }

    /// A mutable reference to the value, if initialized, as [`std::sync::OnceLock::get_mut`].
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.get_mut()
    }

    /// Blocks until the cell is initialized, as [`std::sync::OnceLock::wait`].
    pub fn wait(&self) -> &T {
        if let Some(v) = self.inner.get() {
            return v;
        }
        let wait = hook::blocking(self.site, Kind::Once);
        let v = self.inner.wait();
        hook::woken(wait);
        v
    }

    /// Initializes the cell with `value` unless it already was, as
    /// [`std::sync::OnceLock::set`].
    ///
    /// # Errors
    ///
    /// Gives `value` back if the cell was already initialized (possibly after waiting for
    /// another thread's initialization).
    pub fn set(&self, value: T) -> Result<(), T> {
        if self.inner.get().is_some() {
            return Err(value);
        }
        let wait = hook::blocking(self.site, Kind::Once);
        let r = self.inner.set(value);
        if r.is_err() {
            // Another thread initialized it, possibly while this one waited.
            hook::woken(wait);
        }
        r
    }

    /// The value, initializing it with `f` if needed, as
    /// [`std::sync::OnceLock::get_or_init`]. Waiting for another thread's `f` is a block event.
    #[inline]
    pub fn get_or_init<F>(&self, f: F) -> &T
    where
        F: FnOnce() -> T,
    {
        match self.inner.get() {
            Some(v) => v,
            None => self.initialize(f),
        }
    }

    #[cold]
    fn initialize<F: FnOnce() -> T>(&self, f: F) -> &T {
        let mut wait = OnceWait::begin(self.site);
        let v = self.inner.get_or_init(|| {
            wait.running();
            f()
        });
        wait.end();
        v
    }

    /// Consumes the cell, returning the value if initialized.
    #[inline]
    pub fn into_inner(self) -> Option<T> {
        self.inner.into_inner()
    }

    /// Takes the value out, leaving the cell empty, as [`std::sync::OnceLock::take`].
    #[inline]
    pub fn take(&mut self) -> Option<T> {
        self.inner.take()
    }
}

impl<T> Default for OnceLock<T> {
    #[track_caller]
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    #[track_caller]
    fn clone(&self) -> OnceLock<T> {
        OnceLock {
            site: self.site,
            inner: self.inner.clone(),
        }
    }
}

impl<T> From<T> for OnceLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        OnceLock {
            site: Location::caller(),
            inner: std_sync::OnceLock::from(value),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.inner == other.inner
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

/// A value initialized on first access, a drop-in replacement for [`std::sync::LazyLock`] that
/// feeds the block profile: a thread that finds another one running the initializer waits, and
/// that wait is a block event (`kind=once`).
///
/// Like std's, if the initializer panics the lock is poisoned and every later access panics.
///
/// ```
/// use holdup::sync::LazyLock;
/// use std::collections::HashMap;
///
/// static TABLE: LazyLock<HashMap<u32, &str>> = LazyLock::new(|| HashMap::from([(1, "one")]));
/// assert_eq!(TABLE.get(&1), Some(&"one"));
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    once: OnceLock<T>,
    init: Cell<Option<F>>,
}

// SAFETY: `init` is only accessed inside `OnceLock::get_or_init`'s closure, which std runs on
// at most one thread at a time, or through `&mut self`; the value is shared only after
// initialization completed, as with std's `LazyLock` (same bounds).
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}

impl<T: UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> where OnceLock<T>: RefUnwindSafe {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// Creates a lazy value with initializer `f`; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            once: OnceLock::new(),
            init: Cell::new(Some(f)),
        }
    }

    /// Forces initialization and returns the value, as [`std::sync::LazyLock::force`].
    ///
    /// # Panics
    ///
    /// If the initializer panicked, now or in an earlier access.
    #[inline]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.once.get_or_init(|| match this.init.take() {
            Some(f) => f(),
            None => panic!("LazyLock instance has previously been poisoned"),
        })
    }

    /// Forces initialization and returns a mutable reference, as
    /// [`std::sync::LazyLock::force_mut`].
    ///
    /// # Panics
    ///
    /// If the initializer panicked, now or in an earlier access.
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        if this.once.get().is_none() {
            let f = this
                .init
                .get_mut()
                .take()
                .expect("LazyLock instance has previously been poisoned");
            let _ = this.once.set(f());
        }
        this.once.get_mut().expect("initialized above")
    }

    /// The value if initialized, without forcing it, as [`std::sync::LazyLock::get`].
    #[inline]
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        this.once.get()
    }

    /// A mutable reference to the value if initialized, as [`std::sync::LazyLock::get_mut`].
    #[inline]
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.once.get_mut()
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    #[track_caller]
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.once.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

/// A one-time initialization guard, a drop-in replacement for [`std::sync::Once`] that feeds
/// the block profile: waiting for another thread's `call_once` is a block event (`kind=once`).
///
/// ```
/// use holdup::sync::Once;
///
/// static INIT: Once = Once::new();
/// INIT.call_once(|| println!("once"));
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    site: Site,
    inner: std_sync::Once,
}

// std's `Once` has no `Default`; neither has this mirror.
#[allow(clippy::new_without_default)]
impl Once {
    /// Creates a new `Once`; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new() -> Once {
        Once {
            site: Location::caller(),
            inner: std_sync::Once::new(),
        }
    }

    /// Runs `f` if no call has completed yet, waiting for a call in progress, as
    /// [`std::sync::Once::call_once`].
    #[inline]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.inner.is_completed() {
            return;
        }
        let mut wait = OnceWait::begin(self.site);
        self.inner.call_once(|| {
            wait.running();
            f();
        });
        wait.end();
    }

    /// As [`call_once`](Once::call_once), but also runs after a poisoning panic, as
    /// [`std::sync::Once::call_once_force`].
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.inner.is_completed() {
            return;
        }
        let mut wait = OnceWait::begin(self.site);
        self.inner.call_once_force(|state| {
            wait.running();
            f(state);
        });
        wait.end();
    }

    /// Whether a call completed, as [`std::sync::Once::is_completed`].
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.inner.is_completed()
    }

    /// Blocks until a call completed, as [`std::sync::Once::wait`].
    ///
    /// # Panics
    ///
    /// If the `Once` was poisoned.
    pub fn wait(&self) {
        if self.inner.is_completed() {
            return;
        }
        let wait = hook::blocking(self.site, Kind::Once);
        self.inner.wait();
        hook::woken(wait);
    }

    /// Blocks until a call completed, ignoring poisoning, as [`std::sync::Once::wait_force`].
    pub fn wait_force(&self) {
        if self.inner.is_completed() {
            return;
        }
        let wait = hook::blocking(self.site, Kind::Once);
        self.inner.wait_force();
        hook::woken(wait);
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// A call into a one-time initializer: a wait for the thread running it, unless this thread
/// turns out to run it (then it waited for nothing). Shared by std's and parking_lot's mirrors.
pub(crate) struct OnceWait {
    wait: hook::Wait<'static>,
    ran: bool,
}

impl OnceWait {
    /// Before the call: the thread may block in it.
    pub(crate) fn begin(site: Site) -> OnceWait {
        OnceWait {
            wait: hook::blocking(site, Kind::Once),
            ran: false,
        }
    }

    /// Inside the initializer: this thread runs it, so it does not wait.
    pub(crate) fn running(&mut self) {
        self.ran = true;
        self.wait.cancel();
    }

    /// After the call: if another thread ran the initializer, this one waited for it.
    pub(crate) fn end(self) {
        if !self.ran {
            hook::woken(self.wait);
        }
    }
}
