// `same_traits_of!` and its `probe_of` (for closures) have no use here: parking_lot's types
// take none.
#![allow(unused_macros, dead_code)]

use std::fmt::Debug;
use std::marker::PhantomPinned;
use std::rc::Rc;

include!("../common/probe.rs");

/// `Sync` but not `Send`.
type SyncNotSend = std::sync::MutexGuard<'static, u8>;
/// Neither `Send` nor `Sync`, but unwind-safe.
type RawPtr = PhantomData<*const u8>;
/// Everything but `UnwindSafe`.
type MutRef = &'static mut u8;

/// Every wrapper and guard of the mirror, for one payload type, against parking_lot's.
macro_rules! all_like_parking_lot {
    ($($t:ty),* $(,)?) => {{
        let mut n = 0;
        $(
            same_traits!(holdup::parking_lot::Mutex<$t>, parking_lot::Mutex<$t>);
            same_traits!(holdup::parking_lot::MutexGuard<'static, $t>, parking_lot::MutexGuard<'static, $t>);
            same_traits!(holdup::parking_lot::MappedMutexGuard<'static, $t>, parking_lot::MappedMutexGuard<'static, $t>);
            same_traits!(holdup::parking_lot::FairMutex<$t>, parking_lot::FairMutex<$t>);
            same_traits!(holdup::parking_lot::FairMutexGuard<'static, $t>, parking_lot::FairMutexGuard<'static, $t>);
            same_traits!(holdup::parking_lot::MappedFairMutexGuard<'static, $t>, parking_lot::MappedFairMutexGuard<'static, $t>);
            same_traits!(holdup::parking_lot::RwLock<$t>, parking_lot::RwLock<$t>);
            same_traits!(holdup::parking_lot::RwLockReadGuard<'static, $t>, parking_lot::RwLockReadGuard<'static, $t>);
            same_traits!(holdup::parking_lot::RwLockWriteGuard<'static, $t>, parking_lot::RwLockWriteGuard<'static, $t>);
            same_traits!(holdup::parking_lot::RwLockUpgradableReadGuard<'static, $t>, parking_lot::RwLockUpgradableReadGuard<'static, $t>);
            same_traits!(holdup::parking_lot::MappedRwLockReadGuard<'static, $t>, parking_lot::MappedRwLockReadGuard<'static, $t>);
            same_traits!(holdup::parking_lot::MappedRwLockWriteGuard<'static, $t>, parking_lot::MappedRwLockWriteGuard<'static, $t>);
            same_traits!(holdup::parking_lot::ReentrantMutex<$t>, parking_lot::ReentrantMutex<$t>);
            same_traits!(holdup::parking_lot::ReentrantMutexGuard<'static, $t>, parking_lot::ReentrantMutexGuard<'static, $t>);
            same_traits!(holdup::parking_lot::MappedReentrantMutexGuard<'static, $t>, parking_lot::MappedReentrantMutexGuard<'static, $t>);
            same_traits!(holdup::parking_lot::ArcMutexGuard<holdup::parking_lot::RawMutex, $t>, parking_lot::ArcMutexGuard<parking_lot::RawMutex, $t>);
            same_traits!(holdup::parking_lot::ArcRwLockReadGuard<holdup::parking_lot::RawRwLock, $t>, parking_lot::ArcRwLockReadGuard<parking_lot::RawRwLock, $t>);
            same_traits!(holdup::parking_lot::ArcRwLockWriteGuard<holdup::parking_lot::RawRwLock, $t>, parking_lot::ArcRwLockWriteGuard<parking_lot::RawRwLock, $t>);
            same_traits!(holdup::parking_lot::ArcRwLockUpgradableReadGuard<holdup::parking_lot::RawRwLock, $t>, parking_lot::ArcRwLockUpgradableReadGuard<parking_lot::RawRwLock, $t>);
            same_traits!(holdup::parking_lot::ArcReentrantMutexGuard<holdup::parking_lot::RawMutex, holdup::parking_lot::RawThreadId, $t>, parking_lot::ArcReentrantMutexGuard<parking_lot::RawMutex, parking_lot::RawThreadId, $t>);
            n += 20;
        )*
        n
    }};
}

#[test]
fn every_type_and_guard_has_parking_lots_auto_traits() {
    let n = all_like_parking_lot!(
        u8,
        Rc<u8>,
        Cell<u8>,
        RawPtr,
        SyncNotSend,
        PhantomPinned,
        MutRef,
        [u8],
        dyn Debug
    );
    same_traits!(holdup::parking_lot::Condvar, parking_lot::Condvar);
    same_traits!(holdup::parking_lot::Once, parking_lot::Once);
    finish(n + 2);
}

#[test]
fn reexported_types_are_parking_lots() {
    use std::any::TypeId;
    assert_eq!(
        TypeId::of::<holdup::parking_lot::WaitTimeoutResult>(),
        TypeId::of::<parking_lot::WaitTimeoutResult>()
    );
    assert_eq!(
        TypeId::of::<holdup::parking_lot::OnceState>(),
        TypeId::of::<parking_lot::OnceState>()
    );
    // The probe tells types apart (or every comparison above would pass vacuously).
    assert_eq!(traits!(Rc<u8>), [false, false, true, true, true]);
    assert_eq!(
        traits!(parking_lot::MutexGuard<'static, u8>),
        [false, true, true, false, false]
    );
}
