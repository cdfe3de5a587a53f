//! Each function holds a holdup std-mirror guard across an `.await`: clippy must report all
//! three (`.ci/run` counts them).

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
