//! A registered thread shows what it waits for right now (`holdup::thread::registered`), for
//! every kind of wait, and shows nothing once the wait is over.

mod common;

use std::time::{Duration, Instant};

use holdup::profile::Kind;
use holdup::sync::{Arc, Barrier, Condvar, Mutex, OnceLock, RwLock, mpsc};
use holdup::thread::Waiting;

/// Polls until the thread named `name` shows a wait, and returns it.
fn wait_of(name: &str) -> Waiting {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = holdup::thread::registered()
            .into_iter()
            .find(|t| t.name.as_deref() == Some(name))
            .and_then(|t| t.waiting);
        if let Some(w) = found {
            return w;
        }
        assert!(Instant::now() < deadline, "{name} never showed a wait");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn state_of(name: &str) -> Option<Waiting> {
    holdup::thread::registered()
        .into_iter()
        .find(|t| t.name.as_deref() == Some(name))
        .expect("the thread is registered")
        .waiting
}

fn spawn_named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> holdup::thread::JoinHandle<T> {
    holdup::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap()
}

fn assert_wait(w: Waiting, kind: Kind, site: &str) {
    assert_eq!(w.kind, kind);
    assert_eq!(format!("{}:{}", w.lock.file(), w.lock.line()), site);
}

#[test]
fn lock_waits_show_kind_and_site() {
    let (m, m_site) = (Arc::new(Mutex::new(())), here!());
    let (rw, rw_site) = (Arc::new(RwLock::new(())), here!());
    let g = m.lock().unwrap();
    let w = rw.write().unwrap();
    let a = {
        let m = m.clone();
        spawn_named("ws-mutex", move || drop(m.lock().unwrap()))
    };
    let b = {
        let rw = rw.clone();
        spawn_named("ws-read", move || drop(rw.read().unwrap()))
    };
    assert_wait(wait_of("ws-mutex"), Kind::Mutex, &m_site);
    assert_wait(wait_of("ws-read"), Kind::RwLockRead, &rw_site);
    let waited = wait_of("ws-mutex").waited;
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        wait_of("ws-mutex").waited > waited,
        "the wait's age does not grow"
    );
    drop(g);
    drop(w);
    a.join().unwrap();
    b.join().unwrap();
}

#[test]
fn blocking_waits_show_kind_and_site() {
    let (pair, cv_site) = (Arc::new((Mutex::new(false), Condvar::new())), here!());
    let ((tx, rx), chan_site) = (mpsc::channel::<u8>(), here!());
    let (barrier, barrier_site) = (Arc::new(Barrier::new(2)), here!());
    let cv = {
        let pair = pair.clone();
        spawn_named("ws-condvar", move || {
            let mut ready = pair.0.lock().unwrap();
            while !*ready {
                ready = pair.1.wait(ready).unwrap();
            }
        })
    };
    let recv = spawn_named("ws-recv", move || rx.recv().unwrap());
    let bar = {
        let barrier = barrier.clone();
        spawn_named("ws-barrier", move || {
            barrier.wait();
        })
    };
    assert_wait(wait_of("ws-condvar"), Kind::Condvar, &cv_site);
    assert_wait(wait_of("ws-recv"), Kind::ChanRecv, &chan_site);
    assert_wait(wait_of("ws-barrier"), Kind::Barrier, &barrier_site);

    *pair.0.lock().unwrap() = true;
    pair.1.notify_all();
    tx.send(7).unwrap();
    barrier.wait();
    cv.join().unwrap();
    assert_eq!(recv.join().unwrap(), 7);
    bar.join().unwrap();
}

#[test]
fn joins_show_the_spawn_site_and_end_when_done() {
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let inner_site = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let joiner = {
        let inner_site = inner_site.clone();
        spawn_named("ws-joiner", move || {
            let (child, site) = (holdup::thread::spawn(move || gate.recv().unwrap()), here!());
            *inner_site.lock().unwrap() = site;
            child.join().unwrap();
            // Running again: nothing shown.
            assert!(state_of("ws-joiner").is_none());
        })
    };
    let w = wait_of("ws-joiner");
    assert_wait(w, Kind::Join, &inner_site.lock().unwrap());
    go.send(()).unwrap();
    joiner.join().unwrap();
}

#[test]
fn the_thread_running_an_initializer_is_not_waiting() {
    let (cell, site) = (Arc::new(OnceLock::new()), here!());
    let (started, wait_started) = std::sync::mpsc::channel();
    let (finish, may_finish) = std::sync::mpsc::channel::<()>();
    let init = {
        let cell = cell.clone();
        spawn_named("ws-init", move || {
            *cell.get_or_init(|| {
                started.send(()).unwrap();
                may_finish.recv().unwrap();
                5
            })
        })
    };
    wait_started.recv().unwrap();
    let other = {
        let cell = cell.clone();
        spawn_named("ws-once-waiter", move || *cell.get_or_init(|| 6))
    };
    assert_wait(wait_of("ws-once-waiter"), Kind::Once, &site);
    assert!(
        state_of("ws-init").is_none(),
        "the initializing thread shows as waiting"
    );
    finish.send(()).unwrap();
    assert_eq!(init.join().unwrap(), 5);
    assert_eq!(other.join().unwrap(), 5);
}
