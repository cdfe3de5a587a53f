//! Async synchronization primitives: a mirror of [`tokio::sync`] whose waits feed the profiles
//! and whose holders show in dumps.
//!
//! Migrating is a `use` swap: `use tokio::sync::Mutex` becomes `use holdup::tokio::sync::Mutex`.
//! Each type wraps tokio's own (fairness, cancel safety and the coop budget are tokio's) and
//! records its creation site (`#[track_caller]` constructors) as the `lock` label.

/// Deref, Debug and Display of a guard, as tokio's guards.
macro_rules! guard_read {
    ($guard:ident < $($lt:lifetime,)? $($p:ident),+ >, $target:ident) => {
        impl<$($lt,)? $($p: ?Sized),+> std::ops::Deref for $guard<$($lt,)? $($p),+> {
            type Target = $target;

            #[inline]
            fn deref(&self) -> &$target {
                &self.inner
            }
        }

        impl<$($lt,)? $($p: ?Sized),+> std::fmt::Debug for $guard<$($lt,)? $($p),+>
        where
            $target: std::fmt::Debug,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($lt,)? $($p: ?Sized),+> std::fmt::Display for $guard<$($lt,)? $($p),+>
        where
            $target: std::fmt::Display,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}

/// As `guard_read!`, plus DerefMut, which marks the guard written through (the `mutated`
/// label).
macro_rules! guard_access {
    ($guard:ident < $($lt:lifetime,)? $($p:ident),+ >, $target:ident) => {
        super::guard_read!($guard<$($lt,)? $($p),+>, $target);

        impl<$($lt,)? $($p: ?Sized),+> std::ops::DerefMut for $guard<$($lt,)? $($p),+> {
            #[inline]
            fn deref_mut(&mut self) -> &mut $target {
                self.written = true;
                &mut self.inner
            }
        }
    };
}

use guard_read;

/// Clone of channel handles that carry their channel's creation site, as tokio's: the inner
/// handle cloned, the site copied.
macro_rules! clone_with_site {
    ($($name:ident),*) => {$(
        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name {
                    site: self.site,
                    inner: self.inner.clone(),
                }
            }
        }
    )*};
}

/// Debug as tokio's: the inner handle's (`T: Debug` where tokio requires it).
macro_rules! debug_as_tokio {
    ($($name:ident),*) => {$(
        impl<T> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.inner, f)
            }
        }
    )*};
    (T: Debug; $($name:ident),*) => {$(
        impl<T: std::fmt::Debug> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.inner, f)
            }
        }
    )*};
}

mod barrier;
pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod rwlock;
pub mod watch;

pub use mutex::{
    MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard, TryLockError,
};
mod semaphore;

pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

pub use barrier::{Barrier, BarrierWaitResult};
pub use notify::{Notified, Notify, OwnedNotified};
pub use rwlock::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard,
};
