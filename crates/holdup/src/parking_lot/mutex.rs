use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::lock_api::{RawMutex, RawMutexFair, RawMutexTimed};
use holdup_core::Kind;

use super::OnDrop;
use crate::hook::Access;
use crate::lock_api::Profiled;

/// A mutex over parking_lot's raw mutex `R` ([`Mutex`] and [`FairMutex`] are this type), with
/// parking_lot's API; see the [module docs](super).
#[repr(transparent)]
pub struct ProfiledMutex<R, T: ?Sized> {
    inner: ::lock_api::Mutex<Profiled<R>, T>,
}

/// A mutual exclusion primitive, a drop-in replacement for [`::parking_lot::Mutex`] that feeds
/// the mutex and block profiles.
pub type Mutex<T> = ProfiledMutex<::parking_lot::RawMutex, T>;
/// A mutex whose unlocks are always fair, a drop-in replacement for
/// [`::parking_lot::FairMutex`].
pub type FairMutex<T> = ProfiledMutex<::parking_lot::RawFairMutex, T>;
/// The guard of a [`Mutex`]. Mirrors [`::parking_lot::MutexGuard`].
pub type MutexGuard<'a, T> = ProfiledMutexGuard<'a, ::parking_lot::RawMutex, T>;
/// The guard of a [`FairMutex`]. Mirrors [`::parking_lot::FairMutexGuard`].
pub type FairMutexGuard<'a, T> = ProfiledMutexGuard<'a, ::parking_lot::RawFairMutex, T>;
/// A [`MutexGuard`] mapped to part of the data. Mirrors [`::parking_lot::MappedMutexGuard`].
pub type MappedMutexGuard<'a, T> = ProfiledMappedMutexGuard<'a, ::parking_lot::RawMutex, T>;
/// A [`FairMutexGuard`] mapped to part of the data. Mirrors
/// [`::parking_lot::MappedFairMutexGuard`].
pub type MappedFairMutexGuard<'a, T> = ProfiledMappedMutexGuard<'a, ::parking_lot::RawFairMutex, T>;

/// A new [`Mutex`], in a `const` context (as [`::parking_lot::const_mutex`]).
#[track_caller]
pub const fn const_mutex<T>(val: T) -> Mutex<T> {
    ProfiledMutex::new(val)
}

/// A new [`FairMutex`], in a `const` context (as [`::parking_lot::const_fair_mutex`]).
#[track_caller]
pub const fn const_fair_mutex<T>(val: T) -> FairMutex<T> {
    ProfiledMutex::new(val)
}

impl<R: RawMutex, T> ProfiledMutex<R, T> {
    /// A new unlocked mutex; the caller's location names it in profiles.
    #[track_caller]
    #[inline]
    pub const fn new(val: T) -> ProfiledMutex<R, T> {
        ProfiledMutex {
            inner: ::lock_api::Mutex::from_raw(Profiled::new(R::INIT), val),
        }
    }

    /// Consumes the mutex and returns the data.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<R: RawMutex, T: ?Sized> ProfiledMutex<R, T> {
    #[inline]
    fn raw(&self) -> &Profiled<R> {
        // SAFETY: `raw` is unsafe only because unlocking through it could break a guard's
        // exclusivity; holdup unlocks only what its guards hold.
        unsafe { self.inner.raw() }
    }

    #[inline]
    fn guard(&self) -> ProfiledMutexGuard<'_, R, T> {
        ProfiledMutexGuard {
            mutex: self,
            written: false,
            marker: PhantomData,
        }
    }

    /// Acquires the mutex, blocking until it is available. A wait past the spin is a block
    /// event; the critical section that made it wait is charged at its unlock.
    #[inline]
    pub fn lock(&self) -> ProfiledMutexGuard<'_, R, T> {
        self.raw().lock();
        self.guard()
    }

    /// Acquires the mutex if it is free; a failed attempt records nothing.
    #[inline]
    pub fn try_lock(&self) -> Option<ProfiledMutexGuard<'_, R, T>> {
        self.raw().try_lock().then(|| self.guard())
    }

    /// A mutable reference to the data (no locking needed).
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Whether the mutex is locked now.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// A guard for a mutex the caller already holds (see
    /// [`lock_api::Mutex::make_guard_unchecked`]).
    ///
    /// # Safety
    ///
    /// The mutex is locked, by the caller, and no other guard for it exists.
    #[inline]
    pub unsafe fn make_guard_unchecked(&self) -> ProfiledMutexGuard<'_, R, T> {
        self.guard()
    }

    /// Unlocks a mutex whose guard was forgotten (see [`lock_api::Mutex::force_unlock`]).
    ///
    /// # Safety
    ///
    /// The mutex is locked, and no guard for it is alive.
    #[inline]
    pub unsafe fn force_unlock(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.raw().unlock() };
    }

    /// The raw lock (holdup's [`Profiled`] around parking_lot's).
    ///
    /// # Safety
    ///
    /// Unlocking it while a guard exists breaks the guard's exclusivity (see
    /// [`lock_api::Mutex::raw`]).
    #[inline]
    pub unsafe fn raw_lock(&self) -> &Profiled<R> {
        self.raw()
    }

    /// A raw pointer to the data.
    #[inline]
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }
}

impl<R: RawMutex, T: ?Sized> ProfiledMutex<R, T> {
    #[inline]
    fn arc_guard(self: &Arc<Self>) -> ArcMutexGuard<R, T> {
        ArcMutexGuard {
            mutex: Arc::clone(self),
            written: false,
            marker: PhantomData,
        }
    }

    /// As [`lock`](Self::lock), with a guard that keeps the mutex alive (parking_lot's
    /// `arc_lock` feature).
    #[inline]
    pub fn lock_arc(self: &Arc<Self>) -> ArcMutexGuard<R, T> {
        self.raw().lock();
        self.arc_guard()
    }

    /// As [`try_lock`](Self::try_lock), with a guard that keeps the mutex alive.
    #[inline]
    pub fn try_lock_arc(self: &Arc<Self>) -> Option<ArcMutexGuard<R, T>> {
        self.raw().try_lock().then(|| self.arc_guard())
    }
}

impl<R: RawMutexTimed<Duration = Duration, Instant = Instant>, T: ?Sized> ProfiledMutex<R, T> {
    /// As [`try_lock_for`](Self::try_lock_for), with a guard that keeps the mutex alive.
    #[inline]
    pub fn try_lock_arc_for(self: &Arc<Self>, timeout: Duration) -> Option<ArcMutexGuard<R, T>> {
        self.raw().try_lock_for(timeout).then(|| self.arc_guard())
    }

    /// As [`try_lock_until`](Self::try_lock_until), with a guard that keeps the mutex alive.
    #[inline]
    pub fn try_lock_arc_until(self: &Arc<Self>, timeout: Instant) -> Option<ArcMutexGuard<R, T>> {
        self.raw().try_lock_until(timeout).then(|| self.arc_guard())
    }
}

impl<R: RawMutexFair, T: ?Sized> ProfiledMutex<R, T> {
    /// As [`force_unlock`](Self::force_unlock), fairly.
    ///
    /// # Safety
    ///
    /// The mutex is locked, and no guard for it is alive.
    #[inline]
    pub unsafe fn force_unlock_fair(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.raw().unlock_fair() };
    }
}

impl<R: RawMutexTimed<Duration = Duration, Instant = Instant>, T: ?Sized> ProfiledMutex<R, T> {
    /// Acquires the mutex, waiting at most `timeout`. A wait that times out is a block event
    /// all the same.
    #[inline]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<ProfiledMutexGuard<'_, R, T>> {
        self.raw().try_lock_for(timeout).then(|| self.guard())
    }

    /// Acquires the mutex, waiting until `timeout` at most.
    #[inline]
    pub fn try_lock_until(&self, timeout: Instant) -> Option<ProfiledMutexGuard<'_, R, T>> {
        self.raw().try_lock_until(timeout).then(|| self.guard())
    }
}

impl<R: RawMutex, T: Default> Default for ProfiledMutex<R, T> {
    #[track_caller]
    fn default() -> Self {
        ProfiledMutex::new(T::default())
    }
}

impl<R: RawMutex, T> From<T> for ProfiledMutex<R, T> {
    #[track_caller]
    fn from(t: T) -> Self {
        ProfiledMutex::new(t)
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Debug> fmt::Debug for ProfiledMutex<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // lock_api's only tries the lock: it never blocks and records nothing.
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// The guard of a [`ProfiledMutex`]: the lock is released when it is dropped.
///
/// It remembers whether `&mut` was taken through it ([`DerefMut`]); mutex-profile samples carry
/// that as the `mutated` label, as std's mirror does.
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct ProfiledMutexGuard<'a, R: RawMutex, T: ?Sized> {
    mutex: &'a ProfiledMutex<R, T>,
    written: bool,
    marker: PhantomData<(&'a mut T, R::GuardMarker)>,
}

// SAFETY: sharing the guard shares only `&T` (and the raw lock, which is `Sync`), as
// lock_api's `MutexGuard`.
unsafe impl<'a, R: RawMutex + Sync + 'a, T: ?Sized + Sync + 'a> Sync
    for ProfiledMutexGuard<'a, R, T>
{
}

impl<'a, R: RawMutex + 'a, T: ?Sized + 'a> ProfiledMutexGuard<'a, R, T> {
    /// The mutex this guard holds.
    pub fn mutex(s: &Self) -> &'a ProfiledMutex<R, T> {
        s.mutex
    }

    /// A guard for part of the data (see [`lock_api::MutexGuard::map`]).
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> ProfiledMappedMutexGuard<'a, R, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        // The same path as `try_map_or_err`, with an error that cannot happen.
        match Self::try_map_or_err(s, |t| Ok::<_, std::convert::Infallible>(f(t))) {
            Ok(mapped) => mapped,
            Err((_, never)) => match never {},
        }
    }

    /// As [`map`](Self::map), or the guard back if `f` gives `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<ProfiledMappedMutexGuard<'a, R, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        Self::try_map_or_err(s, |t| f(t).ok_or(())).map_err(|(s, ())| s)
    }

    /// As [`map`](Self::map), or the guard back with `f`'s error.
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<ProfiledMappedMutexGuard<'a, R, U>, (Self, E)>
    where
        F: FnOnce(&mut T) -> Result<&mut U, E>,
    {
        let (raw, written) = (s.mutex.raw(), s.written);
        // SAFETY: as in `map`.
        let data = match f(unsafe { &mut *s.mutex.data_ptr() }) {
            Ok(data) => data,
            Err(e) => return Err((s, e)),
        };
        std::mem::forget(s);
        Ok(ProfiledMappedMutexGuard {
            raw,
            data,
            written,
            marker: PhantomData,
        })
    }

    /// Runs `f` with the mutex unlocked, then locks it again.
    pub fn unlocked<F, U>(s: &mut Self, f: F) -> U
    where
        F: FnOnce() -> U,
    {
        s.unlocked_with(
            |r| {
                // SAFETY: the guard holds the lock.
                unsafe { r.unlock() }
            },
            f,
        )
    }

    /// Releases with `unlock`, runs `f`, then locks again (also if `f` panics).
    fn unlocked_with<U>(&mut self, unlock: impl FnOnce(&R), f: impl FnOnce() -> U) -> U {
        self.release(unlock);
        self.written = false;
        let raw = self.mutex.raw();
        let _relock = OnDrop(|| raw.lock());
        f()
    }

    /// Leaks the guard: the mutex stays locked; the data is borrowed for `'a`.
    pub fn leak(s: Self) -> &'a mut T {
        // SAFETY: the lock stays held forever: the data is this borrow's alone.
        let data = unsafe { &mut *s.mutex.data_ptr() };
        std::mem::forget(s);
        data
    }

    /// A condvar wait lets the mutex go (through the profiles, as a drop does).
    pub(super) fn release_for_wait(&mut self) {
        self.release(|r| {
            // SAFETY: the guard holds the lock; `relock_after_wait` takes it back before the
            // guard is used again.
            unsafe { r.unlock() }
        });
    }

    /// A condvar wait is over: the mutex is taken again.
    pub(super) fn relock_after_wait(&mut self) {
        self.mutex.raw().lock();
        self.written = false;
    }

    /// Releases through the profiles with this guard's `mutated` flag; `unlock` unlocks the
    /// raw lock.
    #[inline(always)]
    fn release(&self, unlock: impl FnOnce(&R)) {
        let access = Access::Exclusive {
            written: self.written,
        };
        self.mutex.raw().release(Kind::Mutex, access, unlock);
    }
}

impl<'a, R: RawMutexFair + 'a, T: ?Sized + 'a> ProfiledMutexGuard<'a, R, T> {
    /// Unlocks fairly: a waiting thread gets the lock first.
    pub fn unlock_fair(s: Self) {
        s.release(|r| {
            // SAFETY: the guard holds the lock.
            unsafe { r.unlock_fair() }
        });
        std::mem::forget(s);
    }

    /// As [`unlocked`](Self::unlocked), unlocking fairly.
    pub fn unlocked_fair<F, U>(s: &mut Self, f: F) -> U
    where
        F: FnOnce() -> U,
    {
        s.unlocked_with(
            |r| {
                // SAFETY: the guard holds the lock.
                unsafe { r.unlock_fair() }
            },
            f,
        )
    }

    /// Lets a waiting thread have the lock, if any waits, and takes it back.
    pub fn bump(s: &mut Self) {
        if s.mutex.raw().has_profiled_waiters() {
            Self::unlocked_fair(s, || ());
        } else {
            // SAFETY: the guard holds the lock.
            unsafe { s.mutex.raw().inner().bump() };
        }
    }
}

impl<R: RawMutex, T: ?Sized> Deref for ProfiledMutexGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data_ptr() }
    }
}

impl<R: RawMutex, T: ?Sized> DerefMut for ProfiledMutexGuard<'_, R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        // SAFETY: the guard holds the lock, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.data_ptr() }
    }
}

impl<R: RawMutex, T: ?Sized> Drop for ProfiledMutexGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        self.release(|r| {
            // SAFETY: the guard holds the lock, and is not used after this.
            unsafe { r.unlock() }
        });
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Debug> fmt::Debug for ProfiledMutexGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Display> fmt::Display for ProfiledMutexGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A guard for part of a mutex's data, made by [`ProfiledMutexGuard::map`]. Mirrors
/// [`lock_api::MappedMutexGuard`] (no temporary unlocking).
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct ProfiledMappedMutexGuard<'a, R: RawMutex, T: ?Sized> {
    raw: &'a Profiled<R>,
    data: *mut T,
    written: bool,
    marker: PhantomData<&'a mut T>,
}

// SAFETY: sharing the guard shares only `&T` and the raw lock (`Sync`), as lock_api's.
unsafe impl<'a, R: RawMutex + Sync + 'a, T: ?Sized + Sync + 'a> Sync
    for ProfiledMappedMutexGuard<'a, R, T>
{
}
// SAFETY: sending the guard sends `&mut T` and the duty to unlock, which the raw lock's
// guard marker allows or not, as lock_api's.
unsafe impl<'a, R: RawMutex + 'a, T: ?Sized + Send + 'a> Send for ProfiledMappedMutexGuard<'a, R, T> where
    R::GuardMarker: Send
{
}

impl<'a, R: RawMutex + 'a, T: ?Sized + 'a> ProfiledMappedMutexGuard<'a, R, T> {
    /// A guard for part of this part of the data.
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> ProfiledMappedMutexGuard<'a, R, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        // The same path as `try_map_or_err`, with an error that cannot happen.
        match Self::try_map_or_err(s, |t| Ok::<_, std::convert::Infallible>(f(t))) {
            Ok(mapped) => mapped,
            Err((_, never)) => match never {},
        }
    }

    /// As [`map`](Self::map), or the guard back if `f` gives `None`.
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<ProfiledMappedMutexGuard<'a, R, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        Self::try_map_or_err(s, |t| f(t).ok_or(())).map_err(|(s, ())| s)
    }

    /// As [`map`](Self::map), or the guard back with `f`'s error.
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<ProfiledMappedMutexGuard<'a, R, U>, (Self, E)>
    where
        F: FnOnce(&mut T) -> Result<&mut U, E>,
    {
        let (raw, written) = (s.raw, s.written);
        // SAFETY: as in `map`.
        let data = match f(unsafe { &mut *s.data }) {
            Ok(data) => data,
            Err(e) => return Err((s, e)),
        };
        std::mem::forget(s);
        Ok(ProfiledMappedMutexGuard {
            raw,
            data,
            written,
            marker: PhantomData,
        })
    }
}

impl<'a, R: RawMutexFair + 'a, T: ?Sized + 'a> ProfiledMappedMutexGuard<'a, R, T> {
    /// Unlocks fairly: a waiting thread gets the lock first.
    pub fn unlock_fair(s: Self) {
        let access = Access::Exclusive { written: s.written };
        s.raw.release(Kind::Mutex, access, |r| {
            // SAFETY: the guard holds the lock.
            unsafe { r.unlock_fair() }
        });
        std::mem::forget(s);
    }
}

impl<R: RawMutex, T: ?Sized> Deref for ProfiledMappedMutexGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.data }
    }
}

impl<R: RawMutex, T: ?Sized> DerefMut for ProfiledMappedMutexGuard<'_, R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        // SAFETY: the guard holds the lock, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.data }
    }
}

impl<R: RawMutex, T: ?Sized> Drop for ProfiledMappedMutexGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        let access = Access::Exclusive {
            written: self.written,
        };
        self.raw.release(Kind::Mutex, access, |r| {
            // SAFETY: the guard holds the lock, and is not used after this.
            unsafe { r.unlock() }
        });
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Debug> fmt::Debug for ProfiledMappedMutexGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Display> fmt::Display for ProfiledMappedMutexGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A guard that owns an `Arc` of its mutex (from [`ProfiledMutex::lock_arc`]). Mirrors
/// [`lock_api::ArcMutexGuard`] (parking_lot's `arc_lock` feature); remembers whether `&mut`
/// was taken through it (the `mutated` label).
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct ArcMutexGuard<R: RawMutex, T: ?Sized> {
    mutex: Arc<ProfiledMutex<R, T>>,
    written: bool,
    marker: PhantomData<*const ()>,
}

// SAFETY: sending the guard sends the `Arc`, `&mut T` and the duty to unlock, which the raw
// lock's guard marker allows or not, as lock_api's.
unsafe impl<R: RawMutex + Send + Sync, T: Send + ?Sized> Send for ArcMutexGuard<R, T> where
    R::GuardMarker: Send
{
}
// SAFETY: sharing the guard shares `&T` and the `Sync` raw lock, as lock_api's.
unsafe impl<R: RawMutex + Sync, T: Sync + ?Sized> Sync for ArcMutexGuard<R, T> where
    R::GuardMarker: Sync
{
}

impl<R: RawMutex, T: ?Sized> ArcMutexGuard<R, T> {
    /// The mutex this guard holds.
    pub fn mutex(s: &Self) -> &Arc<ProfiledMutex<R, T>> {
        &s.mutex
    }

    fn release(&self, unlock: impl FnOnce(&R)) {
        let access = Access::Exclusive {
            written: self.written,
        };
        self.mutex.raw().release(Kind::Mutex, access, unlock);
    }

    /// Unlocks, giving the `Arc` back.
    pub fn into_arc(s: Self) -> Arc<ProfiledMutex<R, T>> {
        s.release(|r| {
            // SAFETY: the guard holds the lock.
            unsafe { r.unlock() }
        });
        Self::take_arc(s)
    }

    /// The guard's `Arc`, without running its drop (the lock is released already).
    fn take_arc(s: Self) -> Arc<ProfiledMutex<R, T>> {
        let s = ManuallyDrop::new(s);
        // SAFETY: `s` is never dropped or used again, so the `Arc` is moved out exactly once.
        unsafe { std::ptr::read(&s.mutex) }
    }

    /// Runs `f` with the mutex unlocked, then locks it again.
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.unlocked_with(
            |r| {
                // SAFETY: the guard holds the lock.
                unsafe { r.unlock() }
            },
            f,
        )
    }

    /// Releases with `unlock`, runs `f`, then locks again (also if `f` panics).
    fn unlocked_with<U>(&mut self, unlock: impl FnOnce(&R), f: impl FnOnce() -> U) -> U {
        self.release(unlock);
        self.written = false;
        let raw = self.mutex.raw();
        let _relock = OnDrop(|| raw.lock());
        f()
    }
}

impl<R: RawMutexFair, T: ?Sized> ArcMutexGuard<R, T> {
    /// Unlocks fairly.
    pub fn unlock_fair(s: Self) {
        drop(Self::into_arc_fair(s));
    }

    /// Unlocks fairly, giving the `Arc` back.
    pub fn into_arc_fair(s: Self) -> Arc<ProfiledMutex<R, T>> {
        s.release(|r| {
            // SAFETY: the guard holds the lock.
            unsafe { r.unlock_fair() }
        });
        Self::take_arc(s)
    }

    /// As [`unlocked`](Self::unlocked), unlocking fairly.
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.unlocked_with(
            |r| {
                // SAFETY: the guard holds the lock.
                unsafe { r.unlock_fair() }
            },
            f,
        )
    }

    /// Lets a waiting thread have the lock, if any waits, and takes it back.
    pub fn bump(s: &mut Self) {
        if s.mutex.raw().has_profiled_waiters() {
            Self::unlocked_fair(s, || ());
        } else {
            // SAFETY: the guard holds the lock.
            unsafe { s.mutex.raw().inner().bump() };
        }
    }
}

impl<R: RawMutex, T: ?Sized> Deref for ArcMutexGuard<R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data_ptr() }
    }
}

impl<R: RawMutex, T: ?Sized> DerefMut for ArcMutexGuard<R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.written = true;
        // SAFETY: the guard holds the lock, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.data_ptr() }
    }
}

impl<R: RawMutex, T: ?Sized> Drop for ArcMutexGuard<R, T> {
    #[inline]
    fn drop(&mut self) {
        self.release(|r| {
            // SAFETY: the guard holds the lock, and is not used after this.
            unsafe { r.unlock() }
        });
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Debug> fmt::Debug for ArcMutexGuard<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<R: RawMutex, T: ?Sized + fmt::Display> fmt::Display for ArcMutexGuard<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
