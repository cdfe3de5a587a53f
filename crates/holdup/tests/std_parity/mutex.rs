use super::{panic_message, try_state};

// ----- std's documentation examples -----

/// `std::sync::Mutex` type docs, first example.
#[test]
fn doc_mutex_counter_with_channel() {
    use holdup::sync::mpsc::channel;
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    const N: usize = 10;

    // Spawn a few threads to increment a shared variable (non-atomically), and
    // let the main thread know once all increments are done.
    //
    // Here we're using an Arc to share memory among threads, and the data inside
    // the Arc is protected with a mutex.
    let data = Arc::new(Mutex::new(0));

    let (tx, rx) = channel();
    for _ in 0..N {
        let (data, tx) = (Arc::clone(&data), tx.clone());
        thread::spawn(move || {
            // The shared state can only be accessed once the lock is held.
            // Our non-atomic increment is safe because we're the only thread
            // which can access the shared state when the lock is held.
            //
            // We unwrap() the return value to assert that we are not expecting
            // threads to ever fail while holding the lock.
            let mut data = data.lock().unwrap();
            *data += 1;
            if *data == N {
                tx.send(()).unwrap();
            }
            // the lock is unlocked here when `data` goes out of scope.
        });
    }

    rx.recv().unwrap();
    assert_eq!(*data.lock().unwrap(), N); // (added)
}

/// `std::sync::Mutex` type docs, poisoning example.
#[test]
fn doc_mutex_poisoned_lock_still_gives_the_guard() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    let lock = Arc::new(Mutex::new(0_u32));
    let lock2 = Arc::clone(&lock);

    // (adapted: `move || -> ()` without the unit return type, which clippy rejects)
    let _ = thread::spawn(move || {
        // This thread will acquire the mutex first, unwrapping the result of
        // `lock` because the lock has not been poisoned.
        let _guard = lock2.lock().unwrap();

        // This panic while holding the lock (`_guard` is in scope) will poison
        // the mutex.
        panic!();
    })
    .join();

    // The lock is poisoned by this point, but the returned result can be
    // pattern matched on to return the underlying guard on both branches.
    let mut guard = match lock.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };

    *guard += 1;
    assert_eq!(*guard, 1); // (added)
    assert!(lock.is_poisoned()); // (added)
}

/// `std::sync::Mutex` type docs, guard-lifetime example.
#[test]
fn doc_mutex_drop_guards_early() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    const N: usize = 3;

    let data_mutex = Arc::new(Mutex::new(vec![1, 2, 3, 4]));
    let res_mutex = Arc::new(Mutex::new(0));

    let mut threads = Vec::with_capacity(N);
    (0..N).for_each(|_| {
        let data_mutex_clone = Arc::clone(&data_mutex);
        let res_mutex_clone = Arc::clone(&res_mutex);

        threads.push(thread::spawn(move || {
            // Here we use a block to limit the lifetime of the lock guard.
            let result = {
                let mut data = data_mutex_clone.lock().unwrap();
                // This is the result of some important and long-ish work.
                let result = data.iter().fold(0, |acc, x| acc + x * 2);
                data.push(result);
                result
                // The mutex guard gets dropped here, together with any other values
                // created in the critical section.
            };
            // The guard created here is a temporary dropped at the end of the statement, i.e.
            // the lock would not remain being held even if the thread did some additional work.
            *res_mutex_clone.lock().unwrap() += result;
        }));
    });

    let mut data = data_mutex.lock().unwrap();
    // This is the result of some important and long-ish work.
    let result = data.iter().fold(0, |acc, x| acc + x * 2);
    data.push(result);
    // We drop the `data` explicitly because it's not necessary anymore and the
    // thread still has work to do. This allows other threads to start working on
    // the data immediately, without waiting for the rest of the unrelated work
    // to be done here.
    //
    // It's even more important here than in the threads because we `.join` the
    // threads after that. If we had not dropped the mutex guard, a thread could
    // be waiting forever for it, causing a deadlock.
    // As in the threads, a block could have been used instead of calling the
    // `drop` function.
    drop(data);
    // Here the mutex guard is not assigned to a variable and so, even if the
    // scope does not end after this line, the mutex is still released: there is
    // no deadlock.
    *res_mutex.lock().unwrap() += result;

    threads.into_iter().for_each(|thread| {
        thread
            .join()
            .expect("The thread creating or execution failed !")
    });

    assert_eq!(*res_mutex.lock().unwrap(), 800);
}

/// `Mutex::new`.
#[test]
fn doc_mutex_new() {
    use holdup::sync::Mutex;

    let mutex = Mutex::new(0);
    assert_eq!(mutex.into_inner().unwrap(), 0); // (added)
}

/// `Mutex::lock`.
#[test]
fn doc_mutex_lock() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    let mutex = Arc::new(Mutex::new(0));
    let c_mutex = Arc::clone(&mutex);

    thread::spawn(move || {
        *c_mutex.lock().unwrap() = 10;
    })
    .join()
    .expect("thread::spawn failed");
    assert_eq!(*mutex.lock().unwrap(), 10);
}

/// `Mutex::try_lock`.
#[test]
fn doc_mutex_try_lock() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    let mutex = Arc::new(Mutex::new(0));
    let c_mutex = Arc::clone(&mutex);

    thread::spawn(move || {
        let mut lock = c_mutex.try_lock();
        if let Ok(ref mut mutex) = lock {
            **mutex = 10;
        } else {
            println!("try_lock failed");
        }
    })
    .join()
    .expect("thread::spawn failed");
    assert_eq!(*mutex.lock().unwrap(), 10);
}

/// `Mutex::is_poisoned`.
#[test]
fn doc_mutex_is_poisoned() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    let mutex = Arc::new(Mutex::new(0));
    let c_mutex = Arc::clone(&mutex);

    let _ = thread::spawn(move || {
        let _lock = c_mutex.lock().unwrap();
        panic!(); // the mutex gets poisoned
    })
    .join();
    assert!(mutex.is_poisoned()); // (adapted from `assert_eq!(.., true)`)
}

/// `Mutex::clear_poison`.
#[test]
fn doc_mutex_clear_poison() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    let mutex = Arc::new(Mutex::new(0));
    let c_mutex = Arc::clone(&mutex);

    let _ = thread::spawn(move || {
        let _lock = c_mutex.lock().unwrap();
        panic!(); // the mutex gets poisoned
    })
    .join();

    assert!(mutex.is_poisoned()); // (adapted from `assert_eq!(.., true)`)
    let x = mutex.lock().unwrap_or_else(|mut e| {
        **e.get_mut() = 1;
        mutex.clear_poison();
        e.into_inner()
    });
    assert!(!mutex.is_poisoned()); // (adapted from `assert_eq!(.., false)`)
    assert_eq!(*x, 1);
}

/// `Mutex::into_inner`.
#[test]
fn doc_mutex_into_inner() {
    use holdup::sync::Mutex;

    let mutex = Mutex::new(0);
    assert_eq!(mutex.into_inner().unwrap(), 0);
}

/// `Mutex::get_mut`.
#[test]
fn doc_mutex_get_mut() {
    use holdup::sync::Mutex;

    let mut mutex = Mutex::new(0);
    *mutex.get_mut().unwrap() = 10;
    assert_eq!(*mutex.lock().unwrap(), 10);
}

/// `std::sync::PoisonError` type docs (on a holdup mutex).
#[test]
fn doc_poison_error_get_ref() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;

    let mutex = Arc::new(Mutex::new(1));

    // poison the mutex
    let c_mutex = Arc::clone(&mutex);
    let _ = thread::spawn(move || {
        let mut data = c_mutex.lock().unwrap();
        *data = 2;
        panic!();
    })
    .join();

    match mutex.lock() {
        Ok(_) => unreachable!(),
        Err(p_err) => {
            let data = p_err.get_ref();
            println!("recovered: {data}");
            assert_eq!(format!("{data}"), "2"); // (added)
        }
    };
}

/// `PoisonError::into_inner` (on a holdup mutex).
#[test]
fn doc_poison_error_into_inner() {
    use holdup::sync::{Arc, Mutex};
    use holdup::thread;
    use std::collections::HashSet;

    let mutex = Arc::new(Mutex::new(HashSet::new()));

    // poison the mutex
    let c_mutex = Arc::clone(&mutex);
    let _ = thread::spawn(move || {
        let mut data = c_mutex.lock().unwrap();
        data.insert(10);
        panic!();
    })
    .join();

    let p_err = mutex.lock().unwrap_err();
    let data = p_err.into_inner();
    println!("recovered {} items", data.len());
    assert_eq!(data.len(), 1); // (added)
}

// ----- parity with std -----

#[test]
fn try_lock_on_a_held_mutex_would_block_like_std() {
    let out = on_both!(|sync, _thread| {
        let m = sync::Mutex::new(7);
        let g = m.lock().unwrap();
        let held = (try_state(m.try_lock()), format!("{g:?} {g}"));
        let held_debug = format!("{m:?}");
        drop(g);
        let free = try_state(m.try_lock());
        let free_debug = format!("{m:?}");
        ((held, free), (held_debug, free_debug))
    });
    // std's `Debug` of a locked mutex has changed across Rust versions: it is compared
    // with std's above, and only its gist here.
    let ((held, free), (held_debug, free_debug)) = out;
    assert_eq!((held, free), (("WouldBlock", "7 7".to_owned()), "Ok"));
    assert!(
        held_debug.contains("locked") && !held_debug.contains('7'),
        "{held_debug}"
    );
    assert_eq!(free_debug, "Mutex { data: 7, poisoned: false, .. }");
}

#[test]
fn poisoned_mutex_hands_out_the_guard_like_std() {
    let out = on_both!(|sync, thread| {
        let m = sync::Arc::new(sync::Mutex::new(1));
        let m2 = sync::Arc::clone(&m);
        let joined = thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("poisoner");
        })
        .join();
        let mut log = vec![format!(
            "join: {:?}",
            joined.map_err(|p| panic_message(&*p))
        )];
        log.push(format!("is_poisoned: {}", m.is_poisoned()));
        match m.lock() {
            Ok(g) => log.push(format!("lock: Ok({})", *g)),
            Err(e) => {
                let mut g = e.into_inner();
                *g += 10;
                log.push(format!("lock: Err, guard sees {}", *g));
            }
        }
        match m.try_lock() {
            Err(sync::TryLockError::Poisoned(e)) => {
                log.push(format!(
                    "try_lock: Poisoned, guard sees {}",
                    *e.into_inner()
                ));
            }
            Err(sync::TryLockError::WouldBlock) => log.push("try_lock: WouldBlock".to_owned()),
            Ok(g) => log.push(format!("try_lock: Ok({})", *g)),
        }
        log.push(format!("{m:?}"));
        let mut m = sync::Arc::try_unwrap(m).expect("the panicking thread is gone");
        match m.get_mut() {
            Ok(v) => log.push(format!("get_mut: Ok({v})")),
            Err(e) => log.push(format!("get_mut: Err({})", *e.into_inner())),
        }
        m.clear_poison();
        log.push(format!(
            "after clear_poison: {} {:?}",
            m.is_poisoned(),
            m.lock().map(|g| *g).ok()
        ));
        // Poison it again, from this thread, and consume it.
        let m = sync::Arc::new(m);
        let m2 = sync::Arc::clone(&m);
        let _ = thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("again");
        })
        .join();
        let m = sync::Arc::try_unwrap(m).expect("the panicking thread is gone");
        match m.into_inner() {
            Ok(v) => log.push(format!("into_inner: Ok({v})")),
            Err(e) => log.push(format!("into_inner: Err({})", e.into_inner())),
        }
        log
    });
    assert_eq!(
        out,
        [
            "join: Err(\"poisoner\")",
            "is_poisoned: true",
            "lock: Err, guard sees 12",
            "try_lock: Poisoned, guard sees 12",
            "Mutex { data: 12, poisoned: true, .. }",
            "get_mut: Err(12)",
            "after clear_poison: false Some(12)",
            "into_inner: Err(12)",
        ]
    );
}

#[test]
fn contended_mutex_counts_like_std() {
    let out = on_both!(|sync, thread| {
        let m = sync::Arc::new(sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = sync::Arc::clone(&m);
                thread::spawn(move || {
                    for _ in 0..2000 {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = *m.lock().unwrap();
        (v, m.is_poisoned())
    });
    assert_eq!(out, (8000, false));
}

#[test]
fn unsized_default_and_from_like_std() {
    let out = on_both!(|sync, _thread| {
        let slice: sync::Arc<sync::Mutex<[i32]>> = sync::Arc::new(sync::Mutex::new([1, 2, 3]));
        slice.lock().unwrap()[1] = 20;
        let boxed: Box<sync::Mutex<dyn std::fmt::Debug>> = Box::new(sync::Mutex::new("dyn"));
        let default = sync::Mutex::<Vec<u8>>::default();
        let from = sync::Mutex::from(5u8);
        (
            slice.lock().unwrap().to_vec(),
            format!("{boxed:?}"),
            format!("{default:?}"),
            format!("{:?}", from.into_inner()),
        )
    });
    assert_eq!(
        out,
        (
            vec![1, 20, 3],
            "Mutex { data: \"dyn\", poisoned: false, .. }".to_owned(),
            "Mutex { data: [], poisoned: false, .. }".to_owned(),
            "Ok(5)".to_owned(),
        )
    );
}
