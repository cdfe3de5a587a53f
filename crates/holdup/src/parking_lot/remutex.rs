use crate::lock_api::Profiled;

/// A mutex the holding thread may lock again, a drop-in replacement for
/// [`::parking_lot::ReentrantMutex`]. Its raw mutex is [`Profiled`]: the first acquisition by a
/// thread is profiled like a [`Mutex`](super::Mutex)'s (the nested ones never wait), its
/// holder shows in dumps, and its events carry no `mutated` label (its guards give only `&T`).
///
/// Made with [`ReentrantMutex::new`] (lock_api's, from a constant), a lock is labelled with
/// [`Profiled::INIT_SITE`]; [`reentrant_mutex`] names it by the line that calls it.
pub type ReentrantMutex<T> =
    ::lock_api::ReentrantMutex<Profiled<::parking_lot::RawMutex>, ::parking_lot::RawThreadId, T>;
/// The guard of a [`ReentrantMutex`]. Mirrors [`::parking_lot::ReentrantMutexGuard`].
pub type ReentrantMutexGuard<'a, T> = ::lock_api::ReentrantMutexGuard<
    'a,
    Profiled<::parking_lot::RawMutex>,
    ::parking_lot::RawThreadId,
    T,
>;
/// A [`ReentrantMutexGuard`] mapped to part of the data. Mirrors
/// [`::parking_lot::MappedReentrantMutexGuard`].
pub type MappedReentrantMutexGuard<'a, T> = ::lock_api::MappedReentrantMutexGuard<
    'a,
    Profiled<::parking_lot::RawMutex>,
    ::parking_lot::RawThreadId,
    T,
>;

/// A guard that owns an `Arc` of its [`ReentrantMutex`] (from `lock_arc`). Mirrors
/// [`lock_api::ArcReentrantMutexGuard`] (parking_lot's `arc_lock` feature), with the same
/// parameters as parking_lot's name for it.
pub type ArcReentrantMutexGuard<R, G, T> = ::lock_api::ArcReentrantMutexGuard<Profiled<R>, G, T>;

/// A new [`ReentrantMutex`] named in profiles by the caller's location.
///
/// ```
/// let m = holdup::parking_lot::reentrant_mutex(1);
/// let a = m.lock();
/// let b = m.lock(); // the same thread: no wait
/// assert_eq!(*a + *b, 2);
/// ```
#[track_caller]
pub const fn reentrant_mutex<T>(val: T) -> ReentrantMutex<T> {
    ::lock_api::ReentrantMutex::from_raw(
        Profiled::new(<::parking_lot::RawMutex as ::lock_api::RawMutex>::INIT),
        <::parking_lot::RawThreadId as ::lock_api::GetThreadId>::INIT,
        val,
    )
}

/// As [`reentrant_mutex`], named like parking_lot's.
#[track_caller]
pub const fn const_reentrant_mutex<T>(val: T) -> ReentrantMutex<T> {
    reentrant_mutex(val)
}
