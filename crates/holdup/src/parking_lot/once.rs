use std::fmt;
use std::panic::Location;

pub use ::parking_lot::OnceState;
use holdup_core::Site;

use crate::sync::once::OnceWait;

/// A one-time initialization, a drop-in replacement for [`::parking_lot::Once`]: a thread that
/// finds another running the closure waits for it, and that wait is a block event
/// (`kind=once`) and shows in dumps.
///
/// ```
/// use holdup::parking_lot::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.state().done());
/// ```
pub struct Once {
    site: Site,
    inner: ::parking_lot::Once,
}

impl Once {
    /// A new `Once`; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new() -> Once {
        Once {
            site: Location::caller(),
            inner: ::parking_lot::Once::new(),
        }
    }

    /// Where it stands: not run, running, done or poisoned.
    #[inline]
    pub fn state(&self) -> OnceState {
        self.inner.state()
    }

    /// Runs `f` if no call has completed, as [`::parking_lot::Once::call_once`]; waits for a
    /// call in progress on another thread.
    ///
    /// # Panics
    ///
    /// As parking_lot's: if the `Once` is poisoned (an earlier closure panicked).
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.inner.state().done() {
            return;
        }
        let mut wait = OnceWait::begin(self.site);
        self.inner.call_once(|| {
            wait.running();
            f();
        });
        wait.end();
    }

    /// As [`call_once`](Self::call_once), but also runs after a poisoning panic, as
    /// [`::parking_lot::Once::call_once_force`].
    pub fn call_once_force<F: FnOnce(OnceState)>(&self, f: F) {
        if self.inner.state().done() {
            return;
        }
        let mut wait = OnceWait::begin(self.site);
        self.inner.call_once_force(|state| {
            wait.running();
            f(state);
        });
        wait.end();
    }
}

impl Default for Once {
    #[track_caller]
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("state", &self.state())
            .finish()
    }
}
