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

/// A family with std's API: `std::sync` and `holdup::sync`, whose types are std's (that is the
/// point of the mirror), so one implementation serves both.
macro_rules! std_shaped {
    ($(#[$doc:meta])* $family:ident, $($sync:ident)::+) => {
        $(#[$doc])*
        pub(crate) struct $family;

        impl Family for $family {
            type Mutex<T: Send + 'static> = $($sync)::+::Mutex<T>;
            type RwLock<T: Send + Sync + 'static> = $($sync)::+::RwLock<T>;
            type Condvar = $($sync)::+::Condvar;
            type Barrier = $($sync)::+::Barrier;
            type Sender<T: Send + 'static> = $($sync)::+::mpsc::SyncSender<T>;
            type Receiver<T: Send + 'static> = $($sync)::+::mpsc::Receiver<T>;

            fn mutex<T: Send + 'static>(t: T) -> Self::Mutex<T> {
                $($sync)::+::Mutex::new(t)
            }
            fn lock<T: Send + 'static, R>(m: &Self::Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
                f(&mut m.lock().unwrap())
            }
            fn rwlock<T: Send + Sync + 'static>(t: T) -> Self::RwLock<T> {
                $($sync)::+::RwLock::new(t)
            }
            fn write<T: Send + Sync + 'static, R>(
                l: &Self::RwLock<T>,
                f: impl FnOnce(&T) -> R,
            ) -> R {
                f(&l.write().unwrap())
            }
            fn read<T: Send + Sync + 'static, R>(
                l: &Self::RwLock<T>,
                f: impl FnOnce(&T) -> R,
            ) -> R {
                f(&l.read().unwrap())
            }
            fn condvar() -> Self::Condvar {
                $($sync)::+::Condvar::new()
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
                Some($($sync)::+::Barrier::new(n))
            }
            fn barrier_wait(b: &Self::Barrier) {
                b.wait();
            }
            fn channel<T: Send + 'static>(
                bound: usize,
            ) -> Option<(Self::Sender<T>, Self::Receiver<T>)> {
                Some($($sync)::+::mpsc::sync_channel(bound))
            }
            fn send<T: Send + 'static>(s: &Self::Sender<T>, t: T) -> bool {
                s.send(t).is_ok()
            }
            fn recv<T: Send + 'static>(r: &Self::Receiver<T>) -> Option<T> {
                r.recv().ok()
            }
        }
    };
}

std_shaped!(
    /// `std::sync`.
    Std,
    std::sync
);

std_shaped!(
    /// `holdup::sync`, at whatever profile settings the row applied.
    Holdup,
    holdup::sync
);

/// A family with parking_lot's API: `parking_lot` and `holdup::parking_lot` (the mirror), one
/// implementation for both. No channel, no barrier.
macro_rules! parking_lot_shaped {
    ($(#[$doc:meta])* $family:ident, $($pl:ident)::+) => {
        $(#[$doc])*
        pub(crate) struct $family;

        impl Family for $family {
            type Mutex<T: Send + 'static> = $($pl)::+::Mutex<T>;
            type RwLock<T: Send + Sync + 'static> = $($pl)::+::RwLock<T>;
            type Condvar = $($pl)::+::Condvar;
            type Barrier = ();
            type Sender<T: Send + 'static> = PhantomData<fn(T)>;
            type Receiver<T: Send + 'static> = PhantomData<fn() -> T>;

            fn mutex<T: Send + 'static>(t: T) -> Self::Mutex<T> {
                $($pl)::+::Mutex::new(t)
            }
            fn lock<T: Send + 'static, R>(m: &Self::Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
                f(&mut m.lock())
            }
            fn rwlock<T: Send + Sync + 'static>(t: T) -> Self::RwLock<T> {
                $($pl)::+::RwLock::new(t)
            }
            fn write<T: Send + Sync + 'static, R>(
                l: &Self::RwLock<T>,
                f: impl FnOnce(&T) -> R,
            ) -> R {
                f(&l.write())
            }
            fn read<T: Send + Sync + 'static, R>(
                l: &Self::RwLock<T>,
                f: impl FnOnce(&T) -> R,
            ) -> R {
                f(&l.read())
            }
            fn condvar() -> Self::Condvar {
                $($pl)::+::Condvar::new()
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
            fn channel<T: Send + 'static>(
                _: usize,
            ) -> Option<(Self::Sender<T>, Self::Receiver<T>)> {
                None
            }
            fn send<T: Send + 'static>(_: &Self::Sender<T>, _: T) -> bool {
                false
            }
            fn recv<T: Send + 'static>(_: &Self::Receiver<T>) -> Option<T> {
                None
            }
        }
    };
}

parking_lot_shaped!(
    /// `parking_lot`.
    ParkingLot,
    parking_lot
);

parking_lot_shaped!(
    /// `holdup::parking_lot`, at whatever profile settings the row applied.
    HoldupParkingLot,
    holdup::parking_lot
);
