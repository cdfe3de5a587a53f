//! The lock families the Rust rows run: std's, parking_lot's and holdup's primitives behind one
//! trait, so that each workload is written once and every row runs the same code.

use std::marker::PhantomData;

/// A family of primitives. Where a family has no such primitive (parking_lot has no channel
/// and no barrier), its constructor returns `None` and the row is left out.
pub(crate) trait Family: 'static {
    type Mutex<T: Send + 'static>: Send + Sync + 'static;
    type RwLock<T: Send + Sync + 'static>: Send + Sync + 'static;
    type Condvar: Send + Sync + 'static;
    type Barrier: Send + Sync + 'static;
    type Sender<T: Send + 'static>: Send + 'static;
    type Receiver<T: Send + 'static>: Send + 'static;

    fn mutex<T: Send + 'static>(t: T) -> Self::Mutex<T>;
    /// Runs `f` under the lock.
    fn lock<T: Send + 'static, R>(m: &Self::Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R;

    fn rwlock<T: Send + Sync + 'static>(t: T) -> Self::RwLock<T>;
    /// Runs `f` under the write lock, reading only (the seed's bug).
    fn write<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R;
    /// Runs `f` under a read lock (the seed's fix).
    fn read<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R;

    fn condvar() -> Self::Condvar;
    /// Locks `m`, waits on `cv` while `blocked` holds, then runs `f` under the lock.
    fn wait_then<T: Send + 'static, R>(
        m: &Self::Mutex<T>,
        cv: &Self::Condvar,
        blocked: impl FnMut(&mut T) -> bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> R;
    fn notify_one(cv: &Self::Condvar);
    fn notify_all(cv: &Self::Condvar);

    fn barrier(n: usize) -> Option<Self::Barrier>;
    fn barrier_wait(b: &Self::Barrier);

    /// A bounded channel.
    fn channel<T: Send + 'static>(bound: usize) -> Option<(Self::Sender<T>, Self::Receiver<T>)>;
    /// Sends; false once the receiver is gone.
    fn send<T: Send + 'static>(s: &Self::Sender<T>, t: T) -> bool;
    /// Receives; `None` once every sender is gone and the channel is empty.
    fn recv<T: Send + 'static>(r: &Self::Receiver<T>) -> Option<T>;
}

/// `std::sync`.
pub(crate) struct Std;

impl Family for Std {
    type Mutex<T: Send + 'static> = std::sync::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = std::sync::RwLock<T>;
    type Condvar = std::sync::Condvar;
    type Barrier = std::sync::Barrier;
    type Sender<T: Send + 'static> = std::sync::mpsc::SyncSender<T>;
    type Receiver<T: Send + 'static> = std::sync::mpsc::Receiver<T>;

    fn mutex<T: Send + 'static>(t: T) -> Self::Mutex<T> {
        std::sync::Mutex::new(t)
    }
    fn lock<T: Send + 'static, R>(m: &Self::Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut m.lock().unwrap())
    }
    fn rwlock<T: Send + Sync + 'static>(t: T) -> Self::RwLock<T> {
        std::sync::RwLock::new(t)
    }
    fn write<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
        f(&l.write().unwrap())
    }
    fn read<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
        f(&l.read().unwrap())
    }
    fn condvar() -> Self::Condvar {
        std::sync::Condvar::new()
    }
    fn wait_then<T: Send + 'static, R>(
        m: &Self::Mutex<T>,
        cv: &Self::Condvar,
        blocked: impl FnMut(&mut T) -> bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        f(&mut cv.wait_while(m.lock().unwrap(), blocked).unwrap())
    }
    fn notify_one(cv: &Self::Condvar) {
        cv.notify_one();
    }
    fn notify_all(cv: &Self::Condvar) {
        cv.notify_all();
    }
    fn barrier(n: usize) -> Option<Self::Barrier> {
        Some(std::sync::Barrier::new(n))
    }
    fn barrier_wait(b: &Self::Barrier) {
        b.wait();
    }
    fn channel<T: Send + 'static>(bound: usize) -> Option<(Self::Sender<T>, Self::Receiver<T>)> {
        Some(std::sync::mpsc::sync_channel(bound))
    }
    fn send<T: Send + 'static>(s: &Self::Sender<T>, t: T) -> bool {
        s.send(t).is_ok()
    }
    fn recv<T: Send + 'static>(r: &Self::Receiver<T>) -> Option<T> {
        r.recv().ok()
    }
}

/// `parking_lot`: no channel, no barrier.
pub(crate) struct ParkingLot;

impl Family for ParkingLot {
    type Mutex<T: Send + 'static> = parking_lot::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = parking_lot::RwLock<T>;
    type Condvar = parking_lot::Condvar;
    type Barrier = ();
    type Sender<T: Send + 'static> = PhantomData<fn(T)>;
    type Receiver<T: Send + 'static> = PhantomData<fn() -> T>;

    fn mutex<T: Send + 'static>(t: T) -> Self::Mutex<T> {
        parking_lot::Mutex::new(t)
    }
    fn lock<T: Send + 'static, R>(m: &Self::Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut m.lock())
    }
    fn rwlock<T: Send + Sync + 'static>(t: T) -> Self::RwLock<T> {
        parking_lot::RwLock::new(t)
    }
    fn write<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
        f(&l.write())
    }
    fn read<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
        f(&l.read())
    }
    fn condvar() -> Self::Condvar {
        parking_lot::Condvar::new()
    }
    fn wait_then<T: Send + 'static, R>(
        m: &Self::Mutex<T>,
        cv: &Self::Condvar,
        mut blocked: impl FnMut(&mut T) -> bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut g = m.lock();
        while blocked(&mut g) {
            cv.wait(&mut g);
        }
        f(&mut g)
    }
    fn notify_one(cv: &Self::Condvar) {
        cv.notify_one();
    }
    fn notify_all(cv: &Self::Condvar) {
        cv.notify_all();
    }
    fn barrier(_: usize) -> Option<Self::Barrier> {
        None
    }
    fn barrier_wait(_: &Self::Barrier) {}
    fn channel<T: Send + 'static>(_: usize) -> Option<(Self::Sender<T>, Self::Receiver<T>)> {
        None
    }
    fn send<T: Send + 'static>(_: &Self::Sender<T>, _: T) -> bool {
        false
    }
    fn recv<T: Send + 'static>(_: &Self::Receiver<T>) -> Option<T> {
        None
    }
}

/// `holdup::sync`, at whatever profile settings the row applied.
pub(crate) struct Holdup;

impl Family for Holdup {
    type Mutex<T: Send + 'static> = holdup::sync::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = holdup::sync::RwLock<T>;
    type Condvar = holdup::sync::Condvar;
    type Barrier = holdup::sync::Barrier;
    type Sender<T: Send + 'static> = holdup::sync::mpsc::SyncSender<T>;
    type Receiver<T: Send + 'static> = holdup::sync::mpsc::Receiver<T>;

    fn mutex<T: Send + 'static>(t: T) -> Self::Mutex<T> {
        holdup::sync::Mutex::new(t)
    }
    fn lock<T: Send + 'static, R>(m: &Self::Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut m.lock().unwrap())
    }
    fn rwlock<T: Send + Sync + 'static>(t: T) -> Self::RwLock<T> {
        holdup::sync::RwLock::new(t)
    }
    fn write<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
        f(&l.write().unwrap())
    }
    fn read<T: Send + Sync + 'static, R>(l: &Self::RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
        f(&l.read().unwrap())
    }
    fn condvar() -> Self::Condvar {
        holdup::sync::Condvar::new()
    }
    fn wait_then<T: Send + 'static, R>(
        m: &Self::Mutex<T>,
        cv: &Self::Condvar,
        blocked: impl FnMut(&mut T) -> bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        f(&mut cv.wait_while(m.lock().unwrap(), blocked).unwrap())
    }
    fn notify_one(cv: &Self::Condvar) {
        cv.notify_one();
    }
    fn notify_all(cv: &Self::Condvar) {
        cv.notify_all();
    }
    fn barrier(n: usize) -> Option<Self::Barrier> {
        Some(holdup::sync::Barrier::new(n))
    }
    fn barrier_wait(b: &Self::Barrier) {
        b.wait();
    }
    fn channel<T: Send + 'static>(bound: usize) -> Option<(Self::Sender<T>, Self::Receiver<T>)> {
        Some(holdup::sync::mpsc::sync_channel(bound))
    }
    fn send<T: Send + 'static>(s: &Self::Sender<T>, t: T) -> bool {
        s.send(t).is_ok()
    }
    fn recv<T: Send + 'static>(r: &Self::Receiver<T>) -> Option<T> {
        r.recv().ok()
    }
}
