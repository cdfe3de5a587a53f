use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::Duration;

#[test]
fn smoke_and_try_lock_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = pl::Mutex::new(());
        drop(m.lock());
        drop(m.lock());
        let g = m.lock();
        let busy = m.try_lock().is_none();
        let locked = m.is_locked();
        drop(g);
        (busy, locked, m.is_locked(), m.try_lock().is_some())
    });
    assert_eq!(got, (true, true, false, true));
}

#[test]
fn lots_and_lots_like_parking_lot() {
    let got = on_both!(|pl| {
        const J: u32 = 1000;
        const K: u32 = 3;
        let m = Arc::new(pl::Mutex::new(0u32));
        let (tx, rx) = channel();
        for _ in 0..K {
            for fair in [false, true] {
                let (m, tx) = (m.clone(), tx.clone());
                std::thread::spawn(move || {
                    for _ in 0..J {
                        let mut g = m.lock();
                        *g += 1;
                        if fair {
                            pl::MutexGuard::unlock_fair(g);
                        }
                    }
                    tx.send(()).unwrap();
                });
            }
        }
        drop(tx);
        for _ in 0..2 * K {
            rx.recv().unwrap();
        }
        *m.lock()
    });
    assert_eq!(got, 2 * 1000 * 3);
}

#[test]
fn timeouts_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = Arc::new(pl::Mutex::new(1));
        let g = m.lock();
        let m2 = m.clone();
        let timed_out =
            std::thread::spawn(move || m2.try_lock_for(Duration::from_millis(20)).is_none())
                .join()
                .unwrap();
        drop(g);
        let until = m
            .try_lock_until(std::time::Instant::now() + Duration::from_millis(20))
            .map(|g| *g);
        (timed_out, until)
    });
    assert_eq!(got, (true, Some(1)));
}

#[test]
fn into_inner_get_mut_and_debug_like_parking_lot() {
    let got = on_both!(|pl| {
        let mut m = pl::Mutex::new(vec![1, 2]);
        m.get_mut().push(3);
        let free = format!("{m:?}");
        let g = m.lock();
        let held = format!("{:?}", &*g);
        drop(g);
        (free, held, m.into_inner())
    });
    assert_eq!(
        got,
        (
            "Mutex { data: [1, 2, 3] }".to_owned(),
            "[1, 2, 3]".to_owned(),
            vec![1, 2, 3]
        )
    );
}

#[test]
fn mapped_guards_bump_unlocked_and_leak_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = pl::Mutex::new((1, String::from("a")));
        let mut mapped = pl::MutexGuard::map(m.lock(), |t| &mut t.1);
        mapped.push('b');
        let mut deeper = pl::MappedMutexGuard::map(mapped, |s| s);
        deeper.push('c');
        drop(deeper);
        let g = m.lock();
        let refused = pl::MutexGuard::try_map(g, |_| None::<&mut u8>).is_err();
        let mut g = m.lock();
        pl::MutexGuard::bump(&mut g);
        g.0 += 1;
        let reentered = pl::MutexGuard::unlocked(&mut g, || m.try_lock().map(|g| g.0));
        drop(g);
        let leaked = pl::MutexGuard::leak(m.lock());
        leaked.0 += 1;
        (refused, reentered, m.is_locked(), m.try_lock().is_none())
    });
    assert_eq!(got, (true, Some(2), true, true));
}

#[test]
fn a_panicking_holder_does_not_poison_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = Arc::new(pl::Mutex::new(1));
        let m2 = m.clone();
        let r = std::thread::spawn(move || {
            let _g = m2.lock();
            panic!("holder panics");
        })
        .join();
        let value = *m.lock();
        (super::panic_message(&*r.unwrap_err()), value, m.is_locked())
    });
    assert_eq!(got, ("holder panics".to_owned(), 1, false));
}

#[test]
fn fair_mutex_hands_over_like_parking_lot() {
    // A fair unlock hands the lock to the waiter: the releasing thread cannot barge back in.
    let got = on_both!(|pl| {
        let m = Arc::new(pl::FairMutex::new(Vec::new()));
        let g = m.lock();
        let waiter = {
            let m = m.clone();
            std::thread::spawn(move || m.lock().push("waiter"))
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(g);
        m.lock().push("releaser");
        waiter.join().unwrap();
        m.lock().clone()
    });
    assert_eq!(got, vec!["waiter", "releaser"]);
}

#[test]
fn const_constructors_like_parking_lot() {
    let got = on_both!(|pl| {
        static M: pl::Mutex<u8> = pl::const_mutex(3);
        static F: pl::FairMutex<u8> = pl::const_fair_mutex(4);
        *M.lock() + *F.lock()
    });
    assert_eq!(got, 7);
}

#[test]
fn arc_guards_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = Arc::new(pl::Mutex::new(1));
        let mut g = m.lock_arc();
        *g += 1;
        let busy = m.try_lock_arc().is_none();
        let again = pl::ArcMutexGuard::unlocked(&mut g, || m.try_lock().map(|g| *g));
        let back = pl::ArcMutexGuard::into_arc(g);
        let timed = back.try_lock_arc_for(Duration::from_millis(5)).map(|g| *g);
        let fair = m.lock_arc();
        pl::ArcMutexGuard::unlock_fair(fair);
        (busy, again, Arc::ptr_eq(&back, &m), timed, m.is_locked())
    });
    assert_eq!(got, (true, Some(2), true, Some(2), false));
}

#[test]
fn try_map_or_err_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = pl::Mutex::new((1u8, 2u8));
        let e = pl::MutexGuard::try_map_or_err(m.lock(), |_| Err::<&mut u8, _>(7))
            .err()
            .map(|(g, e)| (g.0, e));
        let mapped =
            pl::MutexGuard::try_map_or_err(m.lock(), |t| Ok::<_, ()>(&mut t.1)).map(|g| *g);
        (e, mapped.ok(), m.is_locked())
    });
    assert_eq!(got, (Some((1, 7)), Some(2), false));
}
