use std::fmt::Debug;
use std::marker::PhantomPinned;
use std::rc::Rc;

include!("../common/probe.rs");

/// `Sync` but not `Send` (std's own guard).
type SyncNotSend = std::sync::MutexGuard<'static, u8>;
/// Neither `Send` nor `Sync` (a raw pointer), but unwind-safe.
type RawPtr = PhantomData<*const u8>;
/// Everything but `UnwindSafe`.
type MutRef = &'static mut u8;

fn capturing_rc() -> impl FnOnce() -> u8 {
    let rc = Rc::new(1u8);
    move || *rc
}
fn capturing_cell() -> impl FnOnce() -> u8 {
    let cell = Cell::new(1u8);
    move || cell.get()
}
fn capturing_pinned() -> impl FnOnce() -> u8 {
    let pinned = PhantomPinned;
    move || {
        let _pinned = pinned;
        1
    }
}
fn capturing_mut_ref() -> impl FnOnce() -> u8 {
    let r: &'static mut u8 = Box::leak(Box::new(1u8));
    move || *r
}
fn capturing_nothing() -> impl FnOnce() -> u8 {
    || 1
}

/// The probe itself must tell the payload types apart, or every comparison below would
/// pass vacuously.
#[test]
fn probe_detects_known_auto_traits() {
    //                               Send   Sync   Unpin  UnwSafe RefUnwSafe
    assert_eq!(traits!(u8), [true, true, true, true, true]);
    assert_eq!(traits!(Rc<u8>), [false, false, true, true, true]);
    assert_eq!(traits!(Cell<u8>), [true, false, true, true, false]);
    assert_eq!(traits!(RawPtr), [false, false, true, true, true]);
    assert_eq!(traits!(SyncNotSend), [false, true, true, true, true]);
    assert_eq!(traits!(PhantomPinned), [true, true, false, true, true]);
    assert_eq!(traits!(MutRef), [true, true, true, false, true]);
    assert_eq!(traits!(dyn Debug), [false, false, false, false, false]);
    assert_eq!(
        traits!(@of capturing_nothing()),
        [true, true, true, true, true]
    );
    assert_eq!(
        traits!(@of capturing_rc()),
        [false, false, true, true, true]
    );
    assert_eq!(
        traits!(@of capturing_cell()),
        [true, false, true, true, false]
    );
    assert_eq!(
        traits!(@of capturing_pinned()),
        [true, true, false, true, true]
    );
    assert_eq!(
        traits!(@of capturing_mut_ref()),
        [true, true, true, false, true]
    );
    // And std's wrappers have the traits their docs promise.
    assert_eq!(
        traits!(std::sync::Mutex<Cell<u8>>),
        [true, true, true, true, true]
    );
    assert_eq!(
        traits!(std::sync::MutexGuard<'static, u8>),
        [false, true, true, true, true]
    );
    assert_eq!(
        traits!(std::sync::mpsc::Receiver<u8>),
        [true, false, true, true, true]
    );
}

#[test]
fn reexported_types_are_std_types() {
    use std::any::TypeId;
    macro_rules! same_type {
        ($($h:ty => $s:ty),* $(,)?) => {$(
            assert_eq!(TypeId::of::<$h>(), TypeId::of::<$s>(), "{} is not {}", stringify!($h), stringify!($s));
        )*};
    }
    same_type! {
        holdup::sync::Arc<u8> => std::sync::Arc<u8>,
        holdup::sync::Weak<u8> => std::sync::Weak<u8>,
        holdup::sync::LockResult<u8> => std::sync::LockResult<u8>,
        holdup::sync::TryLockResult<u8> => std::sync::TryLockResult<u8>,
        holdup::sync::TryLockError<u8> => std::sync::TryLockError<u8>,
        holdup::sync::PoisonError<u8> => std::sync::PoisonError<u8>,
        holdup::sync::WaitTimeoutResult => std::sync::WaitTimeoutResult,
        holdup::sync::BarrierWaitResult => std::sync::BarrierWaitResult,
        holdup::sync::OnceState => std::sync::OnceState,
        holdup::sync::atomic::AtomicUsize => std::sync::atomic::AtomicUsize,
        holdup::sync::mpsc::SendError<u8> => std::sync::mpsc::SendError<u8>,
        holdup::sync::mpsc::TrySendError<u8> => std::sync::mpsc::TrySendError<u8>,
        holdup::sync::mpsc::RecvError => std::sync::mpsc::RecvError,
        holdup::sync::mpsc::TryRecvError => std::sync::mpsc::TryRecvError,
        holdup::sync::mpsc::RecvTimeoutError => std::sync::mpsc::RecvTimeoutError,
        holdup::thread::Result<u8> => std::thread::Result<u8>,
        holdup::thread::Thread => std::thread::Thread,
        holdup::thread::ThreadId => std::thread::ThreadId,
    }
}

#[test]
fn mutex_and_guard_match_std() {
    same_traits!(holdup::sync::Mutex<u8>, std::sync::Mutex<u8>);
    same_traits!(holdup::sync::Mutex<Rc<u8>>, std::sync::Mutex<Rc<u8>>);
    same_traits!(holdup::sync::Mutex<Cell<u8>>, std::sync::Mutex<Cell<u8>>);
    same_traits!(holdup::sync::Mutex<RawPtr>, std::sync::Mutex<RawPtr>);
    same_traits!(
        holdup::sync::Mutex<SyncNotSend>,
        std::sync::Mutex<SyncNotSend>
    );
    same_traits!(
        holdup::sync::Mutex<PhantomPinned>,
        std::sync::Mutex<PhantomPinned>
    );
    same_traits!(holdup::sync::Mutex<MutRef>, std::sync::Mutex<MutRef>);
    same_traits!(holdup::sync::Mutex<[u8]>, std::sync::Mutex<[u8]>);
    same_traits!(holdup::sync::Mutex<dyn Debug>, std::sync::Mutex<dyn Debug>);
    same_traits!(
        holdup::sync::MutexGuard<'static, u8>,
        std::sync::MutexGuard<'static, u8>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, Rc<u8>>,
        std::sync::MutexGuard<'static, Rc<u8>>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, Cell<u8>>,
        std::sync::MutexGuard<'static, Cell<u8>>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, RawPtr>,
        std::sync::MutexGuard<'static, RawPtr>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, SyncNotSend>,
        std::sync::MutexGuard<'static, SyncNotSend>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, PhantomPinned>,
        std::sync::MutexGuard<'static, PhantomPinned>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, MutRef>,
        std::sync::MutexGuard<'static, MutRef>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, [u8]>,
        std::sync::MutexGuard<'static, [u8]>
    );
    same_traits!(
        holdup::sync::MutexGuard<'static, dyn Debug>,
        std::sync::MutexGuard<'static, dyn Debug>
    );
    finish(18);
}

#[test]
fn rwlock_and_guards_match_std() {
    same_traits!(holdup::sync::RwLock<u8>, std::sync::RwLock<u8>);
    same_traits!(holdup::sync::RwLock<Rc<u8>>, std::sync::RwLock<Rc<u8>>);
    same_traits!(holdup::sync::RwLock<Cell<u8>>, std::sync::RwLock<Cell<u8>>);
    same_traits!(holdup::sync::RwLock<RawPtr>, std::sync::RwLock<RawPtr>);
    same_traits!(
        holdup::sync::RwLock<SyncNotSend>,
        std::sync::RwLock<SyncNotSend>
    );
    same_traits!(
        holdup::sync::RwLock<PhantomPinned>,
        std::sync::RwLock<PhantomPinned>
    );
    same_traits!(holdup::sync::RwLock<MutRef>, std::sync::RwLock<MutRef>);
    same_traits!(holdup::sync::RwLock<[u8]>, std::sync::RwLock<[u8]>);
    same_traits!(
        holdup::sync::RwLock<dyn Debug>,
        std::sync::RwLock<dyn Debug>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, u8>,
        std::sync::RwLockReadGuard<'static, u8>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, Rc<u8>>,
        std::sync::RwLockReadGuard<'static, Rc<u8>>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, Cell<u8>>,
        std::sync::RwLockReadGuard<'static, Cell<u8>>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, SyncNotSend>,
        std::sync::RwLockReadGuard<'static, SyncNotSend>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, PhantomPinned>,
        std::sync::RwLockReadGuard<'static, PhantomPinned>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, MutRef>,
        std::sync::RwLockReadGuard<'static, MutRef>
    );
    same_traits!(
        holdup::sync::RwLockReadGuard<'static, dyn Debug>,
        std::sync::RwLockReadGuard<'static, dyn Debug>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, u8>,
        std::sync::RwLockWriteGuard<'static, u8>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, Rc<u8>>,
        std::sync::RwLockWriteGuard<'static, Rc<u8>>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, Cell<u8>>,
        std::sync::RwLockWriteGuard<'static, Cell<u8>>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, SyncNotSend>,
        std::sync::RwLockWriteGuard<'static, SyncNotSend>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, PhantomPinned>,
        std::sync::RwLockWriteGuard<'static, PhantomPinned>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, MutRef>,
        std::sync::RwLockWriteGuard<'static, MutRef>
    );
    same_traits!(
        holdup::sync::RwLockWriteGuard<'static, dyn Debug>,
        std::sync::RwLockWriteGuard<'static, dyn Debug>
    );
    finish(23);
}

#[test]
fn condvar_barrier_once_match_std() {
    same_traits!(holdup::sync::Condvar, std::sync::Condvar);
    same_traits!(holdup::sync::Barrier, std::sync::Barrier);
    same_traits!(holdup::sync::Once, std::sync::Once);
    finish(3);
}

#[test]
fn oncelock_and_lazylock_match_std() {
    same_traits!(holdup::sync::OnceLock<u8>, std::sync::OnceLock<u8>);
    same_traits!(holdup::sync::OnceLock<Rc<u8>>, std::sync::OnceLock<Rc<u8>>);
    same_traits!(
        holdup::sync::OnceLock<Cell<u8>>,
        std::sync::OnceLock<Cell<u8>>
    );
    same_traits!(holdup::sync::OnceLock<RawPtr>, std::sync::OnceLock<RawPtr>);
    same_traits!(
        holdup::sync::OnceLock<SyncNotSend>,
        std::sync::OnceLock<SyncNotSend>
    );
    same_traits!(
        holdup::sync::OnceLock<PhantomPinned>,
        std::sync::OnceLock<PhantomPinned>
    );
    same_traits!(holdup::sync::OnceLock<MutRef>, std::sync::OnceLock<MutRef>);
    // Default `F = fn() -> T`.
    same_traits!(holdup::sync::LazyLock<u8>, std::sync::LazyLock<u8>);
    same_traits!(holdup::sync::LazyLock<Rc<u8>>, std::sync::LazyLock<Rc<u8>>);
    same_traits!(
        holdup::sync::LazyLock<Cell<u8>>,
        std::sync::LazyLock<Cell<u8>>
    );
    same_traits!(holdup::sync::LazyLock<RawPtr>, std::sync::LazyLock<RawPtr>);
    same_traits!(
        holdup::sync::LazyLock<SyncNotSend>,
        std::sync::LazyLock<SyncNotSend>
    );
    same_traits!(
        holdup::sync::LazyLock<PhantomPinned>,
        std::sync::LazyLock<PhantomPinned>
    );
    same_traits!(holdup::sync::LazyLock<MutRef>, std::sync::LazyLock<MutRef>);
    // Closure types for `F`.
    same_traits_of!(
        holdup::sync::LazyLock::new(capturing_nothing()),
        std::sync::LazyLock::new(capturing_nothing())
    );
    same_traits_of!(
        holdup::sync::LazyLock::new(capturing_rc()),
        std::sync::LazyLock::new(capturing_rc())
    );
    same_traits_of!(
        holdup::sync::LazyLock::new(capturing_cell()),
        std::sync::LazyLock::new(capturing_cell())
    );
    same_traits_of!(
        holdup::sync::LazyLock::new(capturing_pinned()),
        std::sync::LazyLock::new(capturing_pinned())
    );
    same_traits_of!(
        holdup::sync::LazyLock::new(capturing_mut_ref()),
        std::sync::LazyLock::new(capturing_mut_ref())
    );
    // A `T` that is not `Sync` with a closure that is `Send`, and the other way round.
    same_traits_of!(
        holdup::sync::LazyLock::new(|| Cell::new(1u8)),
        std::sync::LazyLock::new(|| Cell::new(1u8)),
    );
    finish(20);
}

#[test]
fn mpsc_match_std() {
    same_traits!(holdup::sync::mpsc::Sender<u8>, std::sync::mpsc::Sender<u8>);
    same_traits!(
        holdup::sync::mpsc::Sender<Rc<u8>>,
        std::sync::mpsc::Sender<Rc<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::Sender<Cell<u8>>,
        std::sync::mpsc::Sender<Cell<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::Sender<SyncNotSend>,
        std::sync::mpsc::Sender<SyncNotSend>
    );
    same_traits!(
        holdup::sync::mpsc::Sender<PhantomPinned>,
        std::sync::mpsc::Sender<PhantomPinned>
    );
    same_traits!(
        holdup::sync::mpsc::Sender<MutRef>,
        std::sync::mpsc::Sender<MutRef>
    );
    same_traits!(
        holdup::sync::mpsc::SyncSender<u8>,
        std::sync::mpsc::SyncSender<u8>
    );
    same_traits!(
        holdup::sync::mpsc::SyncSender<Rc<u8>>,
        std::sync::mpsc::SyncSender<Rc<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::SyncSender<Cell<u8>>,
        std::sync::mpsc::SyncSender<Cell<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::SyncSender<SyncNotSend>,
        std::sync::mpsc::SyncSender<SyncNotSend>
    );
    same_traits!(
        holdup::sync::mpsc::SyncSender<PhantomPinned>,
        std::sync::mpsc::SyncSender<PhantomPinned>
    );
    same_traits!(
        holdup::sync::mpsc::SyncSender<MutRef>,
        std::sync::mpsc::SyncSender<MutRef>
    );
    same_traits!(
        holdup::sync::mpsc::Receiver<u8>,
        std::sync::mpsc::Receiver<u8>
    );
    same_traits!(
        holdup::sync::mpsc::Receiver<Rc<u8>>,
        std::sync::mpsc::Receiver<Rc<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::Receiver<Cell<u8>>,
        std::sync::mpsc::Receiver<Cell<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::Receiver<SyncNotSend>,
        std::sync::mpsc::Receiver<SyncNotSend>
    );
    same_traits!(
        holdup::sync::mpsc::Receiver<PhantomPinned>,
        std::sync::mpsc::Receiver<PhantomPinned>
    );
    same_traits!(
        holdup::sync::mpsc::Receiver<MutRef>,
        std::sync::mpsc::Receiver<MutRef>
    );
    same_traits!(
        holdup::sync::mpsc::Iter<'static, u8>,
        std::sync::mpsc::Iter<'static, u8>
    );
    same_traits!(
        holdup::sync::mpsc::Iter<'static, Cell<u8>>,
        std::sync::mpsc::Iter<'static, Cell<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::TryIter<'static, u8>,
        std::sync::mpsc::TryIter<'static, u8>
    );
    same_traits!(
        holdup::sync::mpsc::TryIter<'static, Rc<u8>>,
        std::sync::mpsc::TryIter<'static, Rc<u8>>
    );
    same_traits!(
        holdup::sync::mpsc::IntoIter<u8>,
        std::sync::mpsc::IntoIter<u8>
    );
    same_traits!(
        holdup::sync::mpsc::IntoIter<Cell<u8>>,
        std::sync::mpsc::IntoIter<Cell<u8>>
    );
    finish(24);
}

#[test]
fn thread_types_match_std() {
    same_traits!(holdup::thread::Builder, std::thread::Builder);
    same_traits!(holdup::thread::JoinHandle<u8>, std::thread::JoinHandle<u8>);
    same_traits!(
        holdup::thread::JoinHandle<Rc<u8>>,
        std::thread::JoinHandle<Rc<u8>>
    );
    same_traits!(
        holdup::thread::JoinHandle<Cell<u8>>,
        std::thread::JoinHandle<Cell<u8>>
    );
    same_traits!(
        holdup::thread::JoinHandle<PhantomPinned>,
        std::thread::JoinHandle<PhantomPinned>
    );
    same_traits!(
        holdup::thread::JoinHandle<MutRef>,
        std::thread::JoinHandle<MutRef>
    );
    same_traits!(
        holdup::thread::ScopedJoinHandle<'static, u8>,
        std::thread::ScopedJoinHandle<'static, u8>
    );
    same_traits!(
        holdup::thread::ScopedJoinHandle<'static, Rc<u8>>,
        std::thread::ScopedJoinHandle<'static, Rc<u8>>
    );
    same_traits!(
        holdup::thread::ScopedJoinHandle<'static, Cell<u8>>,
        std::thread::ScopedJoinHandle<'static, Cell<u8>>
    );
    same_traits!(
        holdup::thread::ScopedJoinHandle<'static, PhantomPinned>,
        std::thread::ScopedJoinHandle<'static, PhantomPinned>
    );
    same_traits!(
        holdup::thread::ScopedJoinHandle<'static, MutRef>,
        std::thread::ScopedJoinHandle<'static, MutRef>
    );
    same_traits!(
        holdup::thread::Scope<'static, 'static>,
        std::thread::Scope<'static, 'static>
    );
    finish(12);
}
