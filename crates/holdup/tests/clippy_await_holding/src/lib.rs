//! Each function holds a holdup std-mirror or parking_lot-mirror guard across an `.await`:
//! clippy must report all seven (`.ci/run` counts them).

use std::future::Future;

use holdup::sync::{Mutex, RwLock};

pub async fn mutex(m: &Mutex<u32>, f: impl Future<Output = ()>) {
    let g = m.lock().unwrap();
    f.await;
    drop(g);
}

pub async fn read(l: &RwLock<u32>, f: impl Future<Output = ()>) {
    let g = l.read().unwrap();
    f.await;
    drop(g);
}

pub async fn write(l: &RwLock<u32>, f: impl Future<Output = ()>) {
    let g = l.write().unwrap();
    f.await;
    drop(g);
}

pub async fn pl_mutex(m: &holdup::parking_lot::Mutex<u32>, f: impl Future<Output = ()>) {
    let g = m.lock();
    f.await;
    drop(g);
}

pub async fn pl_read(l: &holdup::parking_lot::RwLock<u32>, f: impl Future<Output = ()>) {
    let g = l.read();
    f.await;
    drop(g);
}

pub async fn pl_write(l: &holdup::parking_lot::RwLock<u32>, f: impl Future<Output = ()>) {
    let g = l.write();
    f.await;
    drop(g);
}

pub async fn pl_upgradable(l: &holdup::parking_lot::RwLock<u32>, f: impl Future<Output = ()>) {
    let g = l.upgradable_read();
    f.await;
    drop(g);
}
