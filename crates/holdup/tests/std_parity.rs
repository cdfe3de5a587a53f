//! holdup's `sync` and `thread` mirrors against std's originals.
//!
//! Three kinds of tests, per primitive module:
//!
//! - `doc_*`: std's own documentation examples (Rust 1.95), with `std::sync`/`std::thread`
//!   replaced by `holdup::sync`/`holdup::thread`. Adaptations are marked `(adapted)` or
//!   `(added)`: sleeps shortened to at most 50 ms or replaced by explicit hand-offs, lines that
//!   rustdoc hides restored, assertions added where the example only printed.
//! - `*_like_std`: the same sequence of operations runs on std's type and on holdup's
//!   ([`on_both!`]), and the observable results (values, errors, `Debug` output, panic
//!   messages) must be equal, and equal to what std documents.
//! - `auto_traits`: `Send`, `Sync`, `Unpin`, `UnwindSafe` and `RefUnwindSafe` of every wrapper
//!   and guard, pinned against the std original for several payload types.

use std::any::Any;
use std::time::{Duration, Instant};

/// Runs `$body` twice, first with `$sync`/`$thread` naming `std::sync`/`std::thread`, then
/// naming `holdup::sync`/`holdup::thread`; asserts that both runs gave the same value and
/// returns it (for the caller to check against what std documents).
macro_rules! on_both {
    (|$sync:ident, $thread:ident| $body:block) => {{
        let from_std = {
            #[allow(unused_imports)]
            use std::{sync as $sync, thread as $thread};
            $body
        };
        let from_holdup = {
            #[allow(unused_imports)]
            use holdup::{sync as $sync, thread as $thread};
            $body
        };
        assert_eq!(
            from_holdup, from_std,
            "holdup (left) behaves differently from std (right)"
        );
        from_std
    }};
}

/// The message of a panic payload (`panic!` with a literal or with format arguments).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// `Ok`, `WouldBlock` or `Poisoned`; the guard, if any, is dropped before returning.
fn try_state<G>(r: std::sync::TryLockResult<G>) -> &'static str {
    match r {
        Ok(_) => "Ok",
        Err(std::sync::TryLockError::WouldBlock) => "WouldBlock",
        Err(std::sync::TryLockError::Poisoned(_)) => "Poisoned",
    }
}

/// Polls `cond` every millisecond; fails the test if it is still false after 30 s (a hang
/// guard, not a timing assertion).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "still waiting for {what} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

mod mutex {
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
}

mod rwlock {
    use super::{panic_message, try_state};

    // ----- std's documentation examples -----

    /// `std::sync::RwLock` type docs.
    #[test]
    fn doc_rwlock_readers_then_writer() {
        use holdup::sync::{Arc, RwLock};
        use holdup::thread;
        use std::time::Duration;

        let data = Arc::new(RwLock::new(5));

        // Multiple readers can access in parallel.
        let mut readers = Vec::new(); // (added: joined at the end)
        for i in 0..3 {
            let lock_clone = Arc::clone(&data);

            readers.push(thread::spawn(move || {
                let value = lock_clone.read().unwrap();

                println!("Reader {i}: Read value {}, now holding lock...", *value);

                // Simulating a long read operation
                thread::sleep(Duration::from_millis(20)); // (adapted: 1 s)

                println!("Reader {i}: Dropping lock.");
                // Read lock unlocked when going out of scope.
            }));
        }

        thread::sleep(Duration::from_millis(10)); // Wait for readers to start (adapted: 100 ms)

        // While all readers can proceed, a call to .write() has to wait for
        let mut writable_data = data.write().unwrap();
        println!("Writer proceeds...");
        *writable_data += 1;
        drop(writable_data); // (added)
        for r in readers {
            r.join().unwrap(); // (added)
        }
        assert_eq!(*data.read().unwrap(), 6); // (added)
    }

    /// `RwLock::new`.
    #[test]
    fn doc_rwlock_new() {
        use holdup::sync::RwLock;

        let lock = RwLock::new(5);
        assert_eq!(*lock.read().unwrap(), 5); // (added)
    }

    /// `RwLock::read`.
    #[test]
    fn doc_rwlock_read() {
        use holdup::sync::{Arc, RwLock};
        use holdup::thread;

        let lock = Arc::new(RwLock::new(1));
        let c_lock = Arc::clone(&lock);

        let n = lock.read().unwrap();
        assert_eq!(*n, 1);

        thread::spawn(move || {
            let r = c_lock.read();
            assert!(r.is_ok());
        })
        .join()
        .unwrap();
    }

    /// `RwLock::try_read`.
    #[test]
    fn doc_rwlock_try_read() {
        use holdup::sync::RwLock;

        let lock = RwLock::new(1);

        match lock.try_read() {
            Ok(n) => assert_eq!(*n, 1),
            Err(_) => unreachable!(),
        };
    }

    /// `RwLock::write`.
    #[test]
    fn doc_rwlock_write() {
        use holdup::sync::RwLock;

        let lock = RwLock::new(1);

        let mut n = lock.write().unwrap();
        *n = 2;

        assert!(lock.try_read().is_err());
    }

    /// `RwLock::try_write`.
    #[test]
    fn doc_rwlock_try_write() {
        use holdup::sync::RwLock;

        let lock = RwLock::new(1);

        let n = lock.read().unwrap();
        assert_eq!(*n, 1);

        assert!(lock.try_write().is_err());
    }

    /// `RwLock::is_poisoned`.
    #[test]
    fn doc_rwlock_is_poisoned() {
        use holdup::sync::{Arc, RwLock};
        use holdup::thread;

        let lock = Arc::new(RwLock::new(0));
        let c_lock = Arc::clone(&lock);

        let _ = thread::spawn(move || {
            let _lock = c_lock.write().unwrap();
            panic!(); // the lock gets poisoned
        })
        .join();
        assert!(lock.is_poisoned()); // (adapted from `assert_eq!(.., true)`)
    }

    /// `RwLock::clear_poison`.
    #[test]
    fn doc_rwlock_clear_poison() {
        use holdup::sync::{Arc, RwLock};
        use holdup::thread;

        let lock = Arc::new(RwLock::new(0));
        let c_lock = Arc::clone(&lock);

        let _ = thread::spawn(move || {
            let _lock = c_lock.write().unwrap();
            panic!(); // the lock gets poisoned
        })
        .join();

        assert!(lock.is_poisoned()); // (adapted from `assert_eq!(.., true)`)
        let guard = lock.write().unwrap_or_else(|mut e| {
            **e.get_mut() = 1;
            lock.clear_poison();
            e.into_inner()
        });
        assert!(!lock.is_poisoned()); // (adapted from `assert_eq!(.., false)`)
        assert_eq!(*guard, 1);
    }

    /// `RwLock::into_inner`.
    #[test]
    fn doc_rwlock_into_inner() {
        use holdup::sync::RwLock;

        let lock = RwLock::new(String::new());
        {
            let mut s = lock.write().unwrap();
            *s = "modified".to_owned();
        }
        assert_eq!(lock.into_inner().unwrap(), "modified");
    }

    /// `RwLock::get_mut`.
    #[test]
    fn doc_rwlock_get_mut() {
        use holdup::sync::RwLock;

        let mut lock = RwLock::new(0);
        *lock.get_mut().unwrap() = 10;
        assert_eq!(*lock.read().unwrap(), 10);
    }

    /// `RwLockWriteGuard::downgrade`, first example.
    #[test]
    fn doc_rwlock_downgrade() {
        use holdup::sync::{RwLock, RwLockWriteGuard};

        let rw = RwLock::new(0);

        let mut write_guard = rw.write().unwrap();
        *write_guard = 42;

        let read_guard = RwLockWriteGuard::downgrade(write_guard);
        assert_eq!(42, *read_guard);
    }

    /// `RwLockWriteGuard::downgrade`, second example (with the lines rustdoc hides).
    #[test]
    fn doc_rwlock_downgrade_is_atomic() {
        use holdup::sync::{Arc, RwLock, RwLockWriteGuard};

        let rw = Arc::new(RwLock::new(1));

        // Put the lock in write mode.
        let mut main_write_guard = rw.write().unwrap();

        let rw_clone = rw.clone();
        let evil_handle = holdup::thread::spawn(move || {
            // This will not return until the main thread drops the `main_read_guard`.
            let mut evil_guard = rw_clone.write().unwrap();

            assert_eq!(*evil_guard, 2);
            *evil_guard = 3;
        });

        *main_write_guard = 2;

        // Atomically downgrade the write guard into a read guard.
        let main_read_guard = RwLockWriteGuard::downgrade(main_write_guard);

        // Since `downgrade` is atomic, the writer thread cannot have changed the protected data.
        assert_eq!(*main_read_guard, 2, "`downgrade` was not atomic");
        drop(main_read_guard);
        evil_handle.join().unwrap();

        let final_check = rw.read().unwrap();
        assert_eq!(*final_check, 3);
    }

    // ----- parity with std -----

    #[test]
    fn try_read_and_try_write_see_the_holders_like_std() {
        let out = on_both!(|sync, _thread| {
            let lock = sync::RwLock::new(1);
            let mut log = Vec::new();
            {
                let mut w = lock.write().unwrap();
                *w = 1;
                log.push(format!(
                    "write held: try_read {} try_write {} {w:?} {w}",
                    try_state(lock.try_read()),
                    try_state(lock.try_write())
                ));
                // std's `Debug` of a write-locked lock has changed across Rust versions: it is
                // compared with std's by `on_both!`, and only its gist here.
                let debug = format!("{lock:?}");
                assert!(
                    debug.contains("locked") && debug.contains("poisoned: false"),
                    "{debug}"
                );
                log.push(debug);
            }
            {
                let r1 = lock.read().unwrap();
                let r2 = lock.read().unwrap();
                log.push(format!(
                    "read held: try_read {} try_write {} {lock:?} {r1:?} {r2}",
                    try_state(lock.try_read()),
                    try_state(lock.try_write())
                ));
            }
            {
                let mut w = lock.write().unwrap();
                *w = 2;
                let r = sync::RwLockWriteGuard::downgrade(w);
                log.push(format!(
                    "downgraded to {}: try_read {} try_write {}",
                    *r,
                    try_state(lock.try_read()),
                    try_state(lock.try_write())
                ));
            }
            log.push(format!(
                "free: try_read {} try_write {}",
                try_state(lock.try_read()),
                try_state(lock.try_write())
            ));
            log
        });
        assert_eq!(
            out,
            [
                "write held: try_read WouldBlock try_write WouldBlock 1 1",
                "RwLock { data: <locked>, poisoned: false, .. }",
                "read held: try_read Ok try_write WouldBlock RwLock { data: 1, poisoned: false, .. } 1 1",
                "downgraded to 2: try_read Ok try_write WouldBlock",
                "free: try_read Ok try_write Ok",
            ]
        );
    }

    #[test]
    fn poisoning_rwlock_like_std() {
        let out = on_both!(|sync, thread| {
            let lock = sync::Arc::new(sync::RwLock::new(1));
            let mut log = Vec::new();

            // A panicking reader does not poison.
            let l = sync::Arc::clone(&lock);
            let joined = thread::spawn(move || {
                let _r = l.read().unwrap();
                panic!("reader");
            })
            .join();
            log.push(format!(
                "{:?} poisoned={}",
                joined.map_err(|p| panic_message(&*p)),
                lock.is_poisoned()
            ));

            // A panicking writer does.
            let l = sync::Arc::clone(&lock);
            let joined = thread::spawn(move || {
                let mut w = l.write().unwrap();
                *w = 2;
                panic!("writer");
            })
            .join();
            log.push(format!(
                "{:?} poisoned={}",
                joined.map_err(|p| panic_message(&*p)),
                lock.is_poisoned()
            ));

            log.push(match lock.read() {
                Ok(r) => format!("read: Ok({})", *r),
                Err(e) => format!("read: Err({})", *e.into_inner()),
            });
            log.push(match lock.write() {
                Ok(w) => format!("write: Ok({})", *w),
                Err(e) => {
                    let mut w = e.into_inner();
                    *w += 1;
                    format!("write: Err({})", *w)
                }
            });
            log.push(format!(
                "try_read {} try_write {}",
                try_state(lock.try_read()),
                try_state(lock.try_write())
            ));
            log.push(format!("{lock:?}"));
            lock.clear_poison();
            log.push(format!(
                "cleared: {} {:?}",
                lock.is_poisoned(),
                lock.read().map(|r| *r).ok()
            ));
            let mut lock = sync::Arc::try_unwrap(lock).expect("the panicking threads are gone");
            log.push(format!("get_mut: {:?}", lock.get_mut().map(|v| *v).ok()));
            log.push(format!("into_inner: {:?}", lock.into_inner().ok()));
            log
        });
        assert_eq!(
            out,
            [
                "Err(\"reader\") poisoned=false",
                "Err(\"writer\") poisoned=true",
                "read: Err(2)",
                "write: Err(3)",
                "try_read Poisoned try_write Poisoned",
                "RwLock { data: 3, poisoned: true, .. }",
                "cleared: false Some(3)",
                "get_mut: Some(3)",
                "into_inner: Some(3)",
            ]
        );
    }

    #[test]
    fn writer_waits_for_readers_like_std() {
        let out = on_both!(|sync, thread| {
            let lock = sync::RwLock::new(0);
            let r = lock.read().unwrap();
            thread::scope(|s| {
                let writer = s.spawn(|| {
                    let mut w = lock.write().unwrap();
                    *w += 1;
                });
                thread::sleep(std::time::Duration::from_millis(10));
                // The writer cannot have run while the read guard is alive.
                let seen = *r;
                drop(r);
                writer.join().unwrap();
                (seen, *lock.read().unwrap())
            })
        });
        assert_eq!(out, (0, 1));
    }
}

mod condvar {
    use super::panic_message;
    use std::time::Duration;

    // ----- std's documentation examples -----

    /// `std::sync::Condvar` type docs.
    #[test]
    fn doc_condvar_type_example() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;

        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        // Inside of our lock, spawn a new thread, and then wait for it to start.
        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut started = lock.lock().unwrap();
            *started = true;
            // We notify the condvar that the value has changed.
            cvar.notify_one();
        });

        // Wait for the thread to start up.
        let (lock, cvar) = &*pair;
        let mut started = lock.lock().unwrap();
        while !*started {
            started = cvar.wait(started).unwrap();
        }
    }

    /// `Condvar::new`.
    #[test]
    fn doc_condvar_new() {
        use holdup::sync::Condvar;

        let condvar = Condvar::new();
        condvar.notify_one(); // (added)
    }

    /// `Condvar::wait`.
    #[test]
    fn doc_condvar_wait() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;

        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut started = lock.lock().unwrap();
            *started = true;
            // We notify the condvar that the value has changed.
            cvar.notify_one();
        });

        // Wait for the thread to start up.
        let (lock, cvar) = &*pair;
        let mut started = lock.lock().unwrap();
        // As long as the value inside the `Mutex<bool>` is `false`, we wait.
        while !*started {
            started = cvar.wait(started).unwrap();
        }
    }

    /// `Condvar::wait_while`.
    #[test]
    fn doc_condvar_wait_while() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;

        let pair = Arc::new((Mutex::new(true), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut pending = lock.lock().unwrap();
            *pending = false;
            // We notify the condvar that the value has changed.
            cvar.notify_one();
        });

        // Wait for the thread to start up.
        let (lock, cvar) = &*pair;
        // As long as the value inside the `Mutex<bool>` is `true`, we wait.
        let _guard = cvar
            .wait_while(lock.lock().unwrap(), |pending| *pending)
            .unwrap();
        assert!(!*_guard); // (added)
    }

    /// `Condvar::wait_timeout`.
    #[test]
    fn doc_condvar_wait_timeout() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;
        use std::time::Duration;

        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut started = lock.lock().unwrap();
            *started = true;
            // We notify the condvar that the value has changed.
            cvar.notify_one();
        });

        // wait for the thread to start up
        let (lock, cvar) = &*pair;
        let mut started = lock.lock().unwrap();
        // as long as the value inside the `Mutex<bool>` is `false`, we wait
        loop {
            let result = cvar
                .wait_timeout(started, Duration::from_millis(10))
                .unwrap();
            // 10 milliseconds have passed, or maybe the value changed!
            started = result.0;
            if *started {
                // (adapted from `*started == true`)
                // We received the notification and the value has been updated, we can leave.
                break;
            }
        }
    }

    /// `Condvar::wait_timeout_while`.
    #[test]
    fn doc_condvar_wait_timeout_while() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;
        use std::time::Duration;

        let pair = Arc::new((Mutex::new(true), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut pending = lock.lock().unwrap();
            *pending = false;
            // We notify the condvar that the value has changed.
            cvar.notify_one();
        });

        // wait for the thread to start up
        let (lock, cvar) = &*pair;
        let result = cvar
            .wait_timeout_while(
                lock.lock().unwrap(),
                Duration::from_millis(100),
                |&mut pending| pending,
            )
            .unwrap();
        // (adapted: the docs leave `if result.1.timed_out() {}` empty) It timed out without
        // the condition ever evaluating to false, or returned because it did.
        assert_eq!(result.1.timed_out(), *result.0);
        // access the locked mutex via result.0
    }

    /// `Condvar::notify_one`.
    #[test]
    fn doc_condvar_notify_one() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;

        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut started = lock.lock().unwrap();
            *started = true;
            // We notify the condvar that the value has changed.
            cvar.notify_one();
        });

        // Wait for the thread to start up.
        let (lock, cvar) = &*pair;
        let mut started = lock.lock().unwrap();
        // As long as the value inside the `Mutex<bool>` is `false`, we wait.
        while !*started {
            started = cvar.wait(started).unwrap();
        }
    }

    /// `Condvar::notify_all`.
    #[test]
    fn doc_condvar_notify_all() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;

        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;
            let mut started = lock.lock().unwrap();
            *started = true;
            // We notify the condvar that the value has changed.
            cvar.notify_all();
        });

        // Wait for the thread to start up.
        let (lock, cvar) = &*pair;
        let mut started = lock.lock().unwrap();
        // As long as the value inside the `Mutex<bool>` is `false`, we wait.
        while !*started {
            started = cvar.wait(started).unwrap();
        }
    }

    /// `WaitTimeoutResult::timed_out`.
    #[test]
    fn doc_wait_timeout_result_timed_out() {
        use holdup::sync::{Arc, Condvar, Mutex};
        use holdup::thread;
        use std::time::Duration;

        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = Arc::clone(&pair);

        thread::spawn(move || {
            let (lock, cvar) = &*pair2;

            // Let's wait 20 milliseconds before notifying the condvar.
            thread::sleep(Duration::from_millis(20));

            let mut started = lock.lock().unwrap();
            // We update the boolean value.
            *started = true;
            cvar.notify_one();
        });

        // Wait for the thread to start up.
        let (lock, cvar) = &*pair;
        loop {
            // Let's put a timeout on the condvar's wait.
            let result = cvar
                .wait_timeout(lock.lock().unwrap(), Duration::from_millis(10))
                .unwrap();
            // 10 milliseconds have passed.
            if result.1.timed_out() {
                // timed out now and we can leave.
                break;
            }
        }
    }

    // ----- parity with std -----

    #[test]
    fn wait_timeout_without_notification_times_out_like_std() {
        let out = on_both!(|sync, _thread| {
            let m = sync::Mutex::new(0);
            let cv = sync::Condvar::new();
            // Nobody waits yet: these notifications are lost, not stored.
            cv.notify_one();
            cv.notify_all();
            let (g, r) = cv
                .wait_timeout(m.lock().unwrap(), Duration::from_millis(10))
                .unwrap();
            (r.timed_out(), *g, format!("{r:?}"), format!("{cv:?}"))
        });
        assert_eq!(
            out,
            (
                true,
                0,
                "WaitTimeoutResult(true)".to_owned(),
                "Condvar { .. }".to_owned()
            )
        );
    }

    #[test]
    fn wait_timeout_while_reports_timeout_like_std() {
        let out = on_both!(|sync, _thread| {
            let m = sync::Mutex::new(5);
            let cv = sync::Condvar::new();
            let mut calls = 0;
            let (g, r) = cv
                .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(10), |v| {
                    calls += 1;
                    *v == 5
                })
                .unwrap();
            let never_false = (r.timed_out(), *g, calls >= 2);
            drop(g);
            let (mut g, r) = cv
                .wait_timeout_while(m.lock().unwrap(), Duration::ZERO, |v| *v != 5)
                .unwrap();
            *g += 1;
            let already_false = (r.timed_out(), *g);
            (never_false, already_false)
        });
        // Timed out with the condition still true (checked on entry and after the wait); an
        // already-false condition returns at once, even with a zero timeout.
        assert_eq!(out, ((true, 5, true), (false, 6)));
    }

    #[test]
    fn wait_timeout_on_poisoned_mutex_reports_poison_and_timeout_like_std() {
        let out = on_both!(|sync, thread| {
            let m = sync::Arc::new(sync::Mutex::new(1));
            let m2 = sync::Arc::clone(&m);
            let _ = thread::spawn(move || {
                let _g = m2.lock().unwrap();
                panic!("poison");
            })
            .join();
            let cv = sync::Condvar::new();
            let g = m.lock().unwrap_err().into_inner();
            match cv.wait_timeout(g, Duration::from_millis(10)) {
                Ok((g, r)) => format!("Ok({}, timed_out={})", *g, r.timed_out()),
                Err(e) => {
                    let (g, r) = e.into_inner();
                    format!("Err({}, timed_out={})", *g, r.timed_out())
                }
            }
        });
        assert_eq!(out, "Err(1, timed_out=true)");
    }

    /// std's `wait_timeout_while` returns the `WaitTimeoutResult` of the inner `wait_timeout`
    /// inside the `PoisonError` (it uses `?`), so a timed-out wait on a poisoned mutex reports
    /// `timed_out() == true`.
    #[test]
    fn wait_timeout_while_on_poisoned_mutex_reports_poison_and_timeout_like_std() {
        let out = on_both!(|sync, thread| {
            let m = sync::Arc::new(sync::Mutex::new(1));
            let m2 = sync::Arc::clone(&m);
            let _ = thread::spawn(move || {
                let _g = m2.lock().unwrap();
                panic!("poison");
            })
            .join();
            let cv = sync::Condvar::new();
            let mut log = Vec::new();
            // Condition false: returns at once, Ok, without looking at the poison.
            let g = m.lock().unwrap_err().into_inner();
            log.push(
                match cv.wait_timeout_while(g, Duration::from_millis(10), |_| false) {
                    Ok((g, r)) => format!("Ok({}, timed_out={})", *g, r.timed_out()),
                    Err(e) => format!(
                        "Err({}, timed_out={})",
                        *e.get_ref().0,
                        e.get_ref().1.timed_out()
                    ),
                },
            );
            // Condition true: waits, times out, and reports the poison.
            let g = m.lock().unwrap_err().into_inner();
            log.push(
                match cv.wait_timeout_while(g, Duration::from_millis(10), |_| true) {
                    Ok((g, r)) => format!("Ok({}, timed_out={})", *g, r.timed_out()),
                    Err(e) => format!(
                        "Err({}, timed_out={})",
                        *e.get_ref().0,
                        e.get_ref().1.timed_out()
                    ),
                },
            );
            log
        });
        assert_eq!(out, ["Ok(1, timed_out=false)", "Err(1, timed_out=true)"]);
    }

    #[test]
    fn wait_while_on_poisoned_mutex_like_std() {
        let out = on_both!(|sync, thread| {
            let pair = sync::Arc::new((sync::Mutex::new(false), sync::Condvar::new()));
            let p2 = sync::Arc::clone(&pair);
            let joined = thread::spawn(move || {
                let _g = p2.0.lock().unwrap();
                panic!("poison");
            })
            .join();
            let mut log = vec![format!("{:?}", joined.map_err(|p| panic_message(&*p)))];
            let (m, cv) = &*pair;
            // Condition already false: Ok, although the mutex is poisoned.
            let g = m.lock().unwrap_err().into_inner();
            log.push(match cv.wait_while(g, |ready| *ready) {
                Ok(g) => format!("Ok({})", *g),
                Err(e) => format!("Err({})", *e.into_inner()),
            });
            // Condition true: the first wake-up reports the poison.
            let g = m.lock().unwrap_err().into_inner();
            let p2 = sync::Arc::clone(&pair);
            let notifier = thread::spawn(move || {
                let (m, cv) = &*p2;
                *m.lock().unwrap_or_else(sync::PoisonError::into_inner) = true;
                cv.notify_all();
            });
            log.push(match cv.wait_while(g, |ready| !*ready) {
                Ok(g) => format!("Ok({})", *g),
                Err(e) => format!("Err({})", *e.into_inner()),
            });
            notifier.join().unwrap();
            log
        });
        assert_eq!(out, ["Err(\"poison\")", "Ok(false)", "Err(true)"]);
    }

    #[test]
    fn notify_all_wakes_every_waiter_like_std() {
        let out = on_both!(|sync, thread| {
            const N: usize = 3;
            // (threads waiting, go)
            let shared = sync::Arc::new((sync::Mutex::new((0usize, false)), sync::Condvar::new()));
            let waiters: Vec<_> = (0..N)
                .map(|_| {
                    let shared = sync::Arc::clone(&shared);
                    thread::spawn(move || {
                        let (m, cv) = &*shared;
                        let mut g = m.lock().unwrap();
                        g.0 += 1;
                        cv.notify_all();
                        // A waiter that notify_all missed would report a timeout.
                        let (g, r) = cv
                            .wait_timeout_while(g, Duration::from_secs(10), |s| !s.1)
                            .unwrap();
                        (r.timed_out(), g.1)
                    })
                })
                .collect();
            let (m, cv) = &*shared;
            // Every waiter is inside its wait once it counted itself and released the mutex.
            let mut g = cv.wait_while(m.lock().unwrap(), |s| s.0 < N).unwrap();
            g.1 = true;
            drop(g);
            cv.notify_all();
            waiters
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(out, [(false, true); 3]);
    }
}

mod barrier {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    // ----- std's documentation examples -----

    /// `std::sync::Barrier` type docs (also `Barrier::wait`).
    #[test]
    fn doc_barrier_type_example() {
        use holdup::sync::Barrier;
        use holdup::thread;

        let n = 10;
        let barrier = Barrier::new(n);
        thread::scope(|s| {
            for _ in 0..n {
                // The same messages will be printed together.
                // You will NOT see any interleaving.
                s.spawn(|| {
                    println!("before wait");
                    barrier.wait();
                    println!("after wait");
                });
            }
        });
    }

    /// `Barrier::new`.
    #[test]
    fn doc_barrier_new() {
        use holdup::sync::Barrier;

        let barrier = Barrier::new(10);
        assert_eq!(format!("{barrier:?}"), "Barrier { .. }"); // (added)
    }

    /// `BarrierWaitResult` type docs and `BarrierWaitResult::is_leader`.
    #[test]
    fn doc_barrier_wait_result() {
        use holdup::sync::Barrier;

        let barrier = Barrier::new(1);
        let barrier_wait_result = barrier.wait();
        println!("{:?}", barrier_wait_result.is_leader());
        assert!(barrier_wait_result.is_leader()); // (added)
    }

    // ----- parity with std -----

    #[test]
    fn one_leader_per_generation_like_std() {
        let out = on_both!(|sync, thread| {
            const N: usize = 3;
            const ROUNDS: usize = 4;
            let barrier = sync::Barrier::new(N);
            let leaders: Vec<usize> = thread::scope(|s| {
                let hs: Vec<_> = (0..N)
                    .map(|_| s.spawn(|| (0..ROUNDS).filter(|_| barrier.wait().is_leader()).count()))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            (
                leaders.iter().sum::<usize>(),
                format!("{barrier:?}"),
                format!("{:?}", sync::Barrier::new(0).wait()),
                sync::Barrier::new(1).wait().is_leader(),
            )
        });
        assert_eq!(
            out,
            (
                4,
                "Barrier { .. }".to_owned(),
                "BarrierWaitResult { is_leader: true }".to_owned(),
                true
            )
        );
    }

    #[test]
    fn wait_blocks_until_all_arrive_like_std() {
        let out = on_both!(|sync, thread| {
            let barrier = sync::Barrier::new(2);
            let passed = AtomicBool::new(false);
            let before = thread::scope(|s| {
                s.spawn(|| {
                    barrier.wait();
                    passed.store(true, Ordering::SeqCst);
                });
                thread::sleep(Duration::from_millis(20));
                let before = passed.load(Ordering::SeqCst);
                barrier.wait();
                before
            });
            (before, passed.load(Ordering::SeqCst))
        });
        assert_eq!(out, (false, true));
    }
}

mod once {
    use super::panic_message;
    use std::panic::catch_unwind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // ----- std's documentation examples: OnceLock -----

    /// `std::sync::OnceLock` type docs, first example.
    #[test]
    fn doc_oncelock_type_example() {
        use holdup::sync::OnceLock;

        static CELL: OnceLock<usize> = OnceLock::new();

        // `OnceLock` has not been written to yet.
        assert!(CELL.get().is_none());

        // Spawn a thread and write to `OnceLock`.
        holdup::thread::spawn(|| {
            let value = CELL.get_or_init(|| 12345);
            assert_eq!(value, &12345);
        })
        .join()
        .unwrap();

        // `OnceLock` now contains the value.
        assert_eq!(CELL.get(), Some(&12345),);
    }

    /// `std::sync::OnceLock` type docs, the append-only list.
    #[test]
    fn doc_oncelock_once_list() {
        use holdup::sync::{
            OnceLock,
            atomic::{AtomicU32, Ordering},
        };
        use holdup::thread;

        struct OnceList<T> {
            data: OnceLock<T>,
            next: OnceLock<Box<OnceList<T>>>,
        }
        impl<T> OnceList<T> {
            const fn new() -> OnceList<T> {
                OnceList {
                    data: OnceLock::new(),
                    next: OnceLock::new(),
                }
            }
            fn push(&self, value: T) {
                // FIXME: this impl is concise, but is also slow for long lists or many threads.
                // as an exercise, consider how you might improve on it while preserving the behavior
                if let Err(value) = self.data.set(value) {
                    let next = self.next.get_or_init(|| Box::new(OnceList::new()));
                    next.push(value)
                };
            }
            fn contains(&self, example: &T) -> bool
            where
                T: PartialEq,
            {
                self.data
                    .get()
                    .map(|item| item == example)
                    .filter(|v| *v)
                    .unwrap_or_else(|| {
                        self.next
                            .get()
                            .map(|next| next.contains(example))
                            .unwrap_or(false)
                    })
            }
        }

        // Let's exercise this new Sync append-only list by doing a little counting
        static LIST: OnceList<u32> = OnceList::new();
        static COUNTER: AtomicU32 = AtomicU32::new(0);

        const LEN: u32 = 1000;
        thread::scope(|s| {
            for _ in 0..thread::available_parallelism().unwrap().get() {
                s.spawn(|| {
                    while let i @ 0..LEN = COUNTER.fetch_add(1, Ordering::Relaxed) {
                        LIST.push(i);
                    }
                });
            }
        });

        for i in 0..LEN {
            assert!(LIST.contains(&i));
        }
    }

    /// `OnceLock::wait`.
    #[test]
    fn doc_oncelock_wait() {
        use holdup::sync::OnceLock;
        use holdup::thread;

        let value = OnceLock::new();

        thread::scope(|s| {
            s.spawn(|| value.set(1 + 1));

            let result = value.wait();
            assert_eq!(result, &2);
        })
    }

    /// `OnceLock::set`.
    #[test]
    fn doc_oncelock_set() {
        use holdup::sync::OnceLock;

        static CELL: OnceLock<i32> = OnceLock::new();

        // (adapted: the body of the example's `fn main`)
        assert!(CELL.get().is_none());

        holdup::thread::spawn(|| {
            assert_eq!(CELL.set(92), Ok(()));
        })
        .join()
        .unwrap();

        assert_eq!(CELL.set(62), Err(62));
        assert_eq!(CELL.get(), Some(&92));
    }

    /// `OnceLock::get_or_init`.
    #[test]
    fn doc_oncelock_get_or_init() {
        use holdup::sync::OnceLock;

        let cell = OnceLock::new();
        let value = cell.get_or_init(|| 92);
        assert_eq!(value, &92);
        let value = cell.get_or_init(|| unreachable!());
        assert_eq!(value, &92);
    }

    /// `OnceLock::into_inner`.
    #[test]
    fn doc_oncelock_into_inner() {
        use holdup::sync::OnceLock;

        let cell: OnceLock<String> = OnceLock::new();
        assert_eq!(cell.into_inner(), None);

        let cell = OnceLock::new();
        cell.set("hello".to_string()).unwrap();
        assert_eq!(cell.into_inner(), Some("hello".to_string()));
    }

    /// `OnceLock::take`.
    #[test]
    fn doc_oncelock_take() {
        use holdup::sync::OnceLock;

        let mut cell: OnceLock<String> = OnceLock::new();
        assert_eq!(cell.take(), None);

        let mut cell = OnceLock::new();
        cell.set("hello".to_string()).unwrap();
        assert_eq!(cell.take(), Some("hello".to_string()));
        assert_eq!(cell.get(), None);
    }

    /// `impl Default for OnceLock`.
    #[test]
    fn doc_oncelock_default() {
        use holdup::sync::OnceLock;

        assert_eq!(OnceLock::<()>::new(), OnceLock::default());
    }

    /// `impl From<T> for OnceLock<T>`.
    #[test]
    fn doc_oncelock_from() -> Result<(), i32> {
        use holdup::sync::OnceLock;

        let a = OnceLock::from(3);
        let b = OnceLock::new();
        b.set(3)?;
        assert_eq!(a, b);
        Ok(())
    }

    /// `impl PartialEq for OnceLock`.
    #[test]
    fn doc_oncelock_eq() {
        use holdup::sync::OnceLock;

        let five = OnceLock::new();
        five.set(5).unwrap();

        let also_five = OnceLock::new();
        also_five.set(5).unwrap();

        assert!(five == also_five);

        assert!(OnceLock::<u32>::new() == OnceLock::<u32>::new());
    }

    // ----- std's documentation examples: LazyLock -----

    /// `std::sync::LazyLock` type docs, first example.
    #[test]
    fn doc_lazylock_type_example() {
        use holdup::sync::LazyLock;

        // (adapted: stands for the docs' `another_crate::great_question()`)
        fn great_question() -> String {
            "42".to_owned()
        }

        // Note: static items do not call [`Drop`] on program termination, so this won't be deallocated.
        // this is fine, as the OS can deallocate the terminated program faster than we can free memory
        // but tools like valgrind might report "memory leaks" as it isn't obvious this is intentional.
        static DEEP_THOUGHT: LazyLock<String> = LazyLock::new(|| {
            // M3 Ultra takes about 16 million years in --release config
            great_question()
        });

        // The `String` is built, stored in the `LazyLock`, and returned as `&String`.
        let _ = &*DEEP_THOUGHT;
        assert_eq!(LazyLock::get(&DEEP_THOUGHT).map(String::as_str), Some("42")); // (added)
    }

    /// `std::sync::LazyLock` type docs, second example.
    #[test]
    fn doc_lazylock_in_a_struct() {
        use holdup::sync::LazyLock;

        #[derive(Debug)]
        struct UseCellLock {
            number: LazyLock<u32>,
        }
        // (adapted: the body of the example's `fn main`)
        let lock: LazyLock<u32> = LazyLock::new(|| 0u32);

        let data = UseCellLock { number: lock };
        println!("{}", *data.number);
        assert_eq!(format!("{data:?}"), "UseCellLock { number: LazyLock(0) }"); // (added)
    }

    /// `LazyLock::new`.
    #[test]
    fn doc_lazylock_new() {
        use holdup::sync::LazyLock;

        let hello = "Hello, World!".to_string();

        let lazy = LazyLock::new(|| hello.to_uppercase());

        assert_eq!(&*lazy, "HELLO, WORLD!");
    }

    /// `LazyLock::force_mut`.
    #[test]
    fn doc_lazylock_force_mut() {
        use holdup::sync::LazyLock;

        let mut lazy = LazyLock::new(|| 92);

        let p = LazyLock::force_mut(&mut lazy);
        assert_eq!(*p, 92);
        *p = 44;
        assert_eq!(*lazy, 44);
    }

    /// `LazyLock::force`.
    #[test]
    fn doc_lazylock_force() {
        use holdup::sync::LazyLock;

        let lazy = LazyLock::new(|| 92);

        assert_eq!(LazyLock::force(&lazy), &92);
        assert_eq!(&*lazy, &92);
    }

    /// `LazyLock::get_mut`.
    #[test]
    fn doc_lazylock_get_mut() {
        use holdup::sync::LazyLock;

        let mut lazy = LazyLock::new(|| 92);

        assert_eq!(LazyLock::get_mut(&mut lazy), None);
        let _ = LazyLock::force(&lazy);
        *LazyLock::get_mut(&mut lazy).unwrap() = 44;
        assert_eq!(*lazy, 44);
    }

    /// `LazyLock::get`.
    #[test]
    fn doc_lazylock_get() {
        use holdup::sync::LazyLock;

        let lazy = LazyLock::new(|| 92);

        assert_eq!(LazyLock::get(&lazy), None);
        let _ = LazyLock::force(&lazy);
        assert_eq!(LazyLock::get(&lazy), Some(&92));
    }

    // ----- std's documentation examples: Once -----

    /// `std::sync::Once` type docs.
    #[test]
    fn doc_once_type_example() {
        use holdup::sync::Once;

        static START: Once = Once::new();

        START.call_once(|| {
            // run initialization here
        });
        assert!(START.is_completed()); // (added)
    }

    /// `Once::call_once`.
    #[test]
    // std's doc example, kept as written: one `unsafe` block around a `static mut` write and read.
    #[allow(clippy::multiple_unsafe_ops_per_block)]
    fn doc_once_call_once() {
        use holdup::sync::Once;

        static mut VAL: usize = 0;
        static INIT: Once = Once::new();

        // Accessing a `static mut` is unsafe much of the time, but if we do so
        // in a synchronized fashion (e.g., write once or read all) then we're
        // good to go!
        //
        // This function will only call `expensive_computation` once, and will
        // otherwise always return the value returned from the first invocation.
        fn get_cached_val() -> usize {
            // SAFETY: (added) `VAL` is written only inside `call_once`, which completes before
            // any `call_once` returns, and read only after that.
            unsafe {
                INIT.call_once(|| {
                    VAL = expensive_computation();
                });
                VAL
            }
        }

        fn expensive_computation() -> usize {
            // ...
            42 // (added)
        }

        assert_eq!(get_cached_val(), 42); // (added)
        assert_eq!(get_cached_val(), 42); // (added)
    }

    /// `Once::call_once_force`.
    #[test]
    fn doc_once_call_once_force() {
        use holdup::sync::Once;
        use holdup::thread;

        static INIT: Once = Once::new();

        // poison the once
        let handle = thread::spawn(|| {
            INIT.call_once(|| panic!());
        });
        assert!(handle.join().is_err());

        // poisoning propagates
        let handle = thread::spawn(|| {
            INIT.call_once(|| {});
        });
        assert!(handle.join().is_err());

        // call_once_force will still run and reset the poisoned state
        INIT.call_once_force(|state| {
            assert!(state.is_poisoned());
        });

        // once any success happens, we stop propagating the poison
        INIT.call_once(|| {});
    }

    /// `Once::is_completed`, first example.
    #[test]
    fn doc_once_is_completed() {
        use holdup::sync::Once;

        static INIT: Once = Once::new();

        assert!(!INIT.is_completed()); // (adapted from `assert_eq!(.., false)`, also below)
        INIT.call_once(|| {
            assert!(!INIT.is_completed());
        });
        assert!(INIT.is_completed());
    }

    /// `Once::is_completed`, second example.
    #[test]
    fn doc_once_is_completed_after_panic() {
        use holdup::sync::Once;
        use holdup::thread;

        static INIT: Once = Once::new();

        assert!(!INIT.is_completed()); // (adapted from `assert_eq!(.., false)`, also below)
        let handle = thread::spawn(|| {
            INIT.call_once(|| panic!());
        });
        assert!(handle.join().is_err());
        assert!(!INIT.is_completed());
    }

    /// `Once::wait`.
    #[test]
    fn doc_once_wait() {
        use holdup::sync::Once;
        use holdup::thread;

        static READY: Once = Once::new();

        let thread = thread::spawn(|| {
            READY.wait();
            println!("everything is ready");
        });

        READY.call_once(|| println!("performing setup"));
        thread.join().unwrap(); // (added)
    }

    /// `OnceState::is_poisoned`, both examples.
    #[test]
    fn doc_once_state_is_poisoned() {
        use holdup::sync::Once;
        use holdup::thread;

        {
            static INIT: Once = Once::new();

            // poison the once
            let handle = thread::spawn(|| {
                INIT.call_once(|| panic!());
            });
            assert!(handle.join().is_err());

            INIT.call_once_force(|state| {
                assert!(state.is_poisoned());
            });
        }
        {
            static INIT: Once = Once::new();

            INIT.call_once_force(|state| {
                assert!(!state.is_poisoned());
            });
        }
    }

    // ----- parity with std -----

    #[test]
    fn oncelock_initializes_once_under_contention_like_std() {
        let out = on_both!(|sync, thread| {
            let cell = sync::OnceLock::new();
            let calls = AtomicUsize::new(0);
            let seen: Vec<u32> = thread::scope(|s| {
                let hs: Vec<_> = (0..6)
                    .map(|i| {
                        let (cell, calls) = (&cell, &calls);
                        s.spawn(move || {
                            *cell.get_or_init(|| {
                                calls.fetch_add(1, Ordering::SeqCst);
                                thread::sleep(std::time::Duration::from_millis(5));
                                100 + i
                            })
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let first = seen[0];
            (
                calls.load(Ordering::SeqCst),
                seen.iter().all(|&v| v == first),
                cell.get() == Some(&first),
            )
        });
        assert_eq!(out, (1, true, true));
    }

    #[test]
    fn oncelock_set_take_clone_debug_like_std() {
        let out = on_both!(|sync, thread| {
            let mut log = Vec::new();
            let mut cell = sync::OnceLock::new();
            let empty = format!("{cell:?} get={:?}", cell.get());
            log.push(format!("{empty} set={:?}", cell.set(1)));
            log.push(format!("{cell:?} set again={:?}", cell.set(2)));
            let copy = cell.clone();
            log.push(format!("clone={copy:?} eq={}", copy == cell));
            if let Some(v) = cell.get_mut() {
                *v += 10;
            }
            let before = format!("{cell:?}");
            let taken = cell.take();
            log.push(format!("{before} take={taken:?} after={cell:?}"));
            log.push(format!(
                "into_inner={:?} {:?}",
                copy.into_inner(),
                sync::OnceLock::<u8>::default().into_inner()
            ));
            // A panicking initializer leaves the cell empty and usable.
            let cell = sync::OnceLock::<u8>::new();
            let r = catch_unwind(|| *cell.get_or_init(|| panic!("init failed")))
                .map_err(|p| panic_message(&*p));
            log.push(format!("{r:?} {cell:?}"));
            log.push(format!("then {}", cell.get_or_init(|| 7)));
            // wait() returns once another thread set it.
            let cell = sync::OnceLock::new();
            let got = thread::scope(|s| {
                s.spawn(|| cell.set("late"));
                *cell.wait()
            });
            log.push(format!("wait={got}"));
            log
        });
        assert_eq!(
            out,
            [
                "OnceLock(<uninit>) get=None set=Ok(())",
                "OnceLock(1) set again=Err(2)",
                "clone=OnceLock(1) eq=true",
                "OnceLock(11) take=Some(11) after=OnceLock(<uninit>)",
                "into_inner=Some(1) None",
                "Err(\"init failed\") OnceLock(<uninit>)",
                "then 7",
                "wait=late",
            ]
        );
    }

    #[test]
    fn lazylock_poisoned_by_panicking_initializer_like_std() {
        let out = on_both!(|sync, _thread| {
            let lazy: sync::LazyLock<u8> = sync::LazyLock::new(|| panic!("initializer failed"));
            let mut log = vec![format!("{lazy:?}")];
            for _ in 0..3 {
                let r = catch_unwind(|| *lazy).map_err(|p| panic_message(&*p));
                log.push(format!("{r:?}"));
            }
            let r = catch_unwind(|| *sync::LazyLock::force(&lazy)).map_err(|p| panic_message(&*p));
            log.push(format!("force: {r:?}"));
            log.push(format!("{lazy:?}"));
            log
        });
        assert_eq!(
            out,
            [
                "LazyLock(<uninit>)",
                "Err(\"initializer failed\")",
                "Err(\"LazyLock instance has previously been poisoned\")",
                "Err(\"LazyLock instance has previously been poisoned\")",
                "force: Err(\"LazyLock instance has previously been poisoned\")",
                "LazyLock(<uninit>)",
            ]
        );
    }

    #[test]
    fn lazylock_initializes_once_under_contention_like_std() {
        let out = on_both!(|sync, thread| {
            static CALLS: AtomicUsize = AtomicUsize::new(0);
            CALLS.store(0, Ordering::SeqCst);
            let lazy = sync::LazyLock::new(|| {
                CALLS.fetch_add(1, Ordering::SeqCst);
                thread::sleep(std::time::Duration::from_millis(5));
                vec![1, 2, 3]
            });
            let before = format!("{lazy:?}");
            let lens: Vec<usize> = thread::scope(|s| {
                let hs: Vec<_> = (0..6).map(|_| s.spawn(|| lazy.len())).collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let default = sync::LazyLock::<Vec<u8>>::default();
            (
                before,
                format!("{lazy:?}"),
                lens,
                CALLS.load(Ordering::SeqCst),
                default.is_empty(),
            )
        });
        assert_eq!(
            out,
            (
                "LazyLock(<uninit>)".to_owned(),
                "LazyLock([1, 2, 3])".to_owned(),
                vec![3; 6],
                1,
                true
            )
        );
    }

    #[test]
    fn once_poisoning_like_std() {
        let out = on_both!(|sync, _thread| {
            let once = sync::Once::new();
            let mut log = vec![format!("{once:?} completed={}", once.is_completed())];
            let r =
                catch_unwind(|| once.call_once(|| panic!("first"))).map_err(|p| panic_message(&*p));
            log.push(format!(
                "call_once: {r:?} completed={}",
                once.is_completed()
            ));
            let mut ran = false;
            let r = catch_unwind(std::panic::AssertUnwindSafe(|| {
                once.call_once(|| ran = true)
            }))
            .map_err(|p| panic_message(&*p));
            log.push(format!("call_once again: {r:?} ran={ran}"));
            let r = catch_unwind(|| once.wait()).map_err(|p| panic_message(&*p));
            log.push(format!("wait: {r:?}"));
            let r = catch_unwind(|| once.call_once_force(|_| panic!("forced")))
                .map_err(|p| panic_message(&*p));
            log.push(format!("call_once_force panicking: {r:?}"));
            once.call_once_force(|state| log.push(format!("call_once_force: {state:?}")));
            log.push(format!("completed={}", once.is_completed()));
            once.call_once(|| log.push("must not run".to_owned()));
            once.call_once_force(|_| log.push("must not run either".to_owned()));
            once.wait();
            once.wait_force();
            log
        });
        assert_eq!(
            out,
            [
                "Once { .. } completed=false",
                "call_once: Err(\"first\") completed=false",
                "call_once again: Err(\"Once instance has previously been poisoned\") ran=false",
                "wait: Err(\"Once instance has previously been poisoned\")",
                "call_once_force panicking: Err(\"forced\")",
                "call_once_force: OnceState { poisoned: true }",
                "completed=true",
            ]
        );
    }

    #[test]
    fn once_runs_once_and_waiters_wait_like_std() {
        let out = on_both!(|sync, thread| {
            let once = sync::Once::new();
            let calls = AtomicUsize::new(0);
            let completed: Vec<bool> = thread::scope(|s| {
                let waiter = s.spawn(|| {
                    once.wait_force();
                    once.is_completed()
                });
                let hs: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            once.call_once(|| {
                                thread::sleep(std::time::Duration::from_millis(5));
                                calls.fetch_add(1, Ordering::SeqCst);
                            });
                            once.is_completed()
                        })
                    })
                    .collect();
                let mut all: Vec<bool> = hs.into_iter().map(|h| h.join().unwrap()).collect();
                all.push(waiter.join().unwrap());
                all
            });
            (calls.load(Ordering::SeqCst), completed)
        });
        assert_eq!(out, (1, vec![true; 5]));
    }
}

mod mpsc {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;

    // ----- std's documentation examples -----

    /// `std::sync::mpsc` module docs, simple streaming channel.
    #[test]
    fn doc_mpsc_simple_channel() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        // Create a simple streaming channel
        let (tx, rx) = channel();
        thread::spawn(move || {
            tx.send(10).unwrap();
        });
        assert_eq!(rx.recv().unwrap(), 10);
    }

    /// `std::sync::mpsc` module docs, shared channel.
    #[test]
    fn doc_mpsc_shared_channel() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        // Create a shared channel that can be sent along from many threads
        // where tx is the sending half (tx for transmission), and rx is the receiving
        // half (rx for receiving).
        let (tx, rx) = channel();
        for i in 0..10 {
            let tx = tx.clone();
            thread::spawn(move || {
                tx.send(i).unwrap();
            });
        }

        for _ in 0..10 {
            let j = rx.recv().unwrap();
            assert!((0..10).contains(&j)); // (adapted from `0 <= j && j < 10`)
        }
    }

    /// `std::sync::mpsc` module docs, propagating panics.
    #[test]
    fn doc_mpsc_hung_up() {
        use holdup::sync::mpsc::channel;

        // The call to recv() will return an error because the channel has already
        // hung up (or been deallocated)
        let (tx, rx) = channel::<i32>();
        drop(tx);
        assert!(rx.recv().is_err());
    }

    /// `std::sync::mpsc` module docs, synchronous channels.
    #[test]
    fn doc_mpsc_rendezvous() {
        use holdup::sync::mpsc::sync_channel;
        use holdup::thread;

        let (tx, rx) = sync_channel::<i32>(0);
        thread::spawn(move || {
            // This will wait for the parent thread to start receiving
            tx.send(53).unwrap();
        });
        rx.recv().unwrap();
    }

    /// `std::sync::mpsc` module docs, unbounded receive loop.
    #[test]
    fn doc_mpsc_receive_until_all_senders_drop() {
        use holdup::sync::mpsc::sync_channel;
        use holdup::thread;

        let (tx, rx) = sync_channel(3);

        for _ in 0..3 {
            // It would be the same without thread and clone here
            // since there will still be one `tx` left.
            let tx = tx.clone();
            // cloned tx dropped within thread
            thread::spawn(move || tx.send("ok").unwrap());
        }

        // Drop the last sender to stop `rx` waiting for message.
        // The program will not complete if we comment this out.
        // **All** `tx` needs to be dropped for `rx` to have `Err`.
        drop(tx);

        // Unbounded receiver waiting for all senders to complete.
        let mut received = 0; // (added)
        while let Ok(msg) = rx.recv() {
            println!("{msg}");
            received += 1; // (added)
        }

        println!("completed");
        assert_eq!(received, 3); // (added)
    }

    /// `mpsc::channel`.
    #[test]
    fn doc_mpsc_channel() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        // (adapted: the docs leave it undefined)
        fn expensive_computation() -> u64 {
            (1..=20).product()
        }

        let (sender, receiver) = channel();

        // Spawn off an expensive computation
        thread::spawn(move || {
            sender.send(expensive_computation()).unwrap();
        });

        // Do some useful work for a while

        // Let's see what that answer was
        let answer = receiver.recv().unwrap(); // (adapted: kept for the assertion)
        println!("{answer:?}");
        assert_eq!(answer, 2_432_902_008_176_640_000); // (added)
    }

    /// `mpsc::sync_channel`.
    #[test]
    fn doc_mpsc_sync_channel() {
        use holdup::sync::mpsc::sync_channel;
        use holdup::thread;

        let (sender, receiver) = sync_channel(1);

        // this returns immediately
        sender.send(1).unwrap();

        thread::spawn(move || {
            // this will block until the previous message has been received
            sender.send(2).unwrap();
        });

        assert_eq!(receiver.recv().unwrap(), 1);
        assert_eq!(receiver.recv().unwrap(), 2);
    }

    /// `mpsc::Sender` type docs.
    #[test]
    fn doc_mpsc_sender() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (sender, receiver) = channel();
        let sender2 = sender.clone();

        // First thread owns sender
        thread::spawn(move || {
            sender.send(1).unwrap();
        });

        // Second thread owns sender2
        thread::spawn(move || {
            sender2.send(2).unwrap();
        });

        let msg = receiver.recv().unwrap();
        let msg2 = receiver.recv().unwrap();

        assert_eq!(3, msg + msg2);
    }

    /// `Sender::send`.
    #[test]
    fn doc_mpsc_sender_send() {
        use holdup::sync::mpsc::channel;

        let (tx, rx) = channel();

        // This send is always successful
        tx.send(1).unwrap();

        // This send will fail because the receiver is gone
        drop(rx);
        assert_eq!(tx.send(1).unwrap_err().0, 1);
    }

    /// `mpsc::SyncSender` type docs.
    #[test]
    fn doc_mpsc_sync_sender() {
        use holdup::sync::mpsc::sync_channel;
        use holdup::thread;

        // Create a sync_channel with buffer size 2
        let (sync_sender, receiver) = sync_channel(2);
        let sync_sender2 = sync_sender.clone();

        // First thread owns sync_sender
        thread::spawn(move || {
            sync_sender.send(1).unwrap();
            sync_sender.send(2).unwrap();
        });

        // Second thread owns sync_sender2
        thread::spawn(move || {
            sync_sender2.send(3).unwrap();
            // thread will now block since the buffer is full
            println!("Thread unblocked!");
        });

        let mut msg;
        let mut sum = 0; // (added)

        msg = receiver.recv().unwrap();
        println!("message {msg} received");
        sum += msg; // (added)

        // "Thread unblocked!" will be printed now

        msg = receiver.recv().unwrap();
        println!("message {msg} received");
        sum += msg; // (added)

        msg = receiver.recv().unwrap();

        println!("message {msg} received");
        sum += msg; // (added)
        assert_eq!(sum, 6); // (added)
    }

    /// `SyncSender::send`.
    #[test]
    fn doc_mpsc_sync_sender_send() {
        use holdup::sync::mpsc::sync_channel;
        use holdup::thread;

        // Create a rendezvous sync_channel with buffer size 0
        let (sync_sender, receiver) = sync_channel(0);

        thread::spawn(move || {
            println!("sending message...");
            sync_sender.send(1).unwrap();
            // Thread is now blocked until the message is received

            println!("...message received!");
        });

        let msg = receiver.recv().unwrap();
        assert_eq!(1, msg);
    }

    /// `SyncSender::try_send`.
    #[test]
    fn doc_mpsc_sync_sender_try_send() {
        use holdup::sync::mpsc::sync_channel;
        use holdup::thread;

        // Create a sync_channel with buffer size 1
        let (sync_sender, receiver) = sync_channel(1);
        let sync_sender2 = sync_sender.clone();

        // First thread owns sync_sender
        let handle1 = thread::spawn(move || {
            sync_sender.send(1).unwrap();
            sync_sender.send(2).unwrap();
            // Thread blocked
        });

        // Second thread owns sync_sender2
        let handle2 = thread::spawn(move || {
            // This will return an error and send
            // no message if the buffer is full
            let _ = sync_sender2.try_send(3);
        });

        let mut msg;
        msg = receiver.recv().unwrap();
        println!("message {msg} received");

        msg = receiver.recv().unwrap();
        println!("message {msg} received");

        // Third message may have never been sent
        match receiver.try_recv() {
            Ok(msg) => println!("message {msg} received"),
            Err(_) => println!("the third message was never sent"),
        }

        // Wait for threads to complete
        handle1.join().unwrap();
        handle2.join().unwrap();
    }

    /// `mpsc::Receiver` type docs.
    #[test]
    fn doc_mpsc_receiver() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;
        use std::time::Duration;

        let (send, recv) = channel();

        thread::spawn(move || {
            send.send("Hello world!").unwrap();
            thread::sleep(Duration::from_millis(20)); // block for a while (adapted: 2 s)
            send.send("Delayed for 20 milliseconds").unwrap();
        });

        println!("{}", recv.recv().unwrap()); // Received immediately
        println!("Waiting...");
        println!("{}", recv.recv().unwrap()); // Received after 20 ms
    }

    /// `Receiver::try_recv`.
    #[test]
    fn doc_mpsc_try_recv() {
        use holdup::sync::mpsc::{Receiver, channel};

        let (_, receiver): (_, Receiver<i32>) = channel();

        assert!(receiver.try_recv().is_err());
    }

    /// `Receiver::recv`, first example.
    #[test]
    fn doc_mpsc_recv() {
        use holdup::sync::mpsc;
        use holdup::thread;

        let (send, recv) = mpsc::channel();
        let handle = thread::spawn(move || {
            send.send(1u8).unwrap();
        });

        handle.join().unwrap();

        assert_eq!(Ok(1), recv.recv());
    }

    /// `Receiver::recv`, second example.
    #[test]
    fn doc_mpsc_recv_until_disconnected() {
        use holdup::sync::mpsc;
        use holdup::sync::mpsc::RecvError;
        use holdup::thread;

        let (send, recv) = mpsc::channel();
        let handle = thread::spawn(move || {
            send.send(1u8).unwrap();
            send.send(2).unwrap();
            send.send(3).unwrap();
            drop(send);
        });

        // wait for the thread to join so we ensure the sender is dropped
        handle.join().unwrap();

        assert_eq!(Ok(1), recv.recv());
        assert_eq!(Ok(2), recv.recv());
        assert_eq!(Ok(3), recv.recv());
        assert_eq!(Err(RecvError), recv.recv());
    }

    /// `Receiver::recv_timeout`, first example.
    #[test]
    fn doc_mpsc_recv_timeout_ok() {
        use holdup::sync::mpsc;
        use holdup::thread;
        use std::time::Duration;

        let (send, recv) = mpsc::channel();

        thread::spawn(move || {
            send.send('a').unwrap();
        });

        // (adapted: 10 s instead of 400 ms, so that a slow thread start cannot fail the test)
        assert_eq!(recv.recv_timeout(Duration::from_secs(10)), Ok('a'));
    }

    /// `Receiver::recv_timeout`, second example.
    #[test]
    fn doc_mpsc_recv_timeout_timeout() {
        use holdup::sync::mpsc;
        use holdup::thread;
        use std::time::Duration;

        let (send, recv) = mpsc::channel();
        // (adapted: instead of sleeping 800 ms, the sender waits until the receiver timed out)
        let (go, wait_for_go) = mpsc::channel::<()>();

        let sender = thread::spawn(move || {
            wait_for_go.recv().unwrap();
            send.send('a').unwrap();
        });

        assert_eq!(
            recv.recv_timeout(Duration::from_millis(20)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        go.send(()).unwrap(); // (added)
        sender.join().unwrap(); // (added)
        assert_eq!(recv.recv(), Ok('a')); // (added)
    }

    /// `Receiver::iter`.
    #[test]
    fn doc_mpsc_iter() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (send, recv) = channel();

        thread::spawn(move || {
            send.send(1).unwrap();
            send.send(2).unwrap();
            send.send(3).unwrap();
        });

        let mut iter = recv.iter();
        assert_eq!(iter.next(), Some(1));
        assert_eq!(iter.next(), Some(2));
        assert_eq!(iter.next(), Some(3));
        assert_eq!(iter.next(), None);
    }

    /// `Receiver::try_iter`.
    #[test]
    fn doc_mpsc_try_iter() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (sender, receiver) = channel();
        // (adapted: the docs sleep 1 s in the sender and 2 s here; a start signal and a join
        // make the same ordering deterministic)
        let (start, started) = channel::<()>();

        // nothing is in the buffer yet
        assert!(receiver.try_iter().next().is_none());

        let handle = thread::spawn(move || {
            started.recv().unwrap();
            sender.send(1).unwrap();
            sender.send(2).unwrap();
            sender.send(3).unwrap();
        });

        // nothing is in the buffer yet
        assert!(receiver.try_iter().next().is_none());

        start.send(()).unwrap();
        handle.join().unwrap();

        let mut iter = receiver.try_iter();
        assert_eq!(iter.next(), Some(1));
        assert_eq!(iter.next(), Some(2));
        assert_eq!(iter.next(), Some(3));
        assert_eq!(iter.next(), None);
    }

    /// `mpsc::Iter` type docs.
    #[test]
    fn doc_mpsc_iter_type() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (send, recv) = channel();

        thread::spawn(move || {
            send.send(1u8).unwrap();
            send.send(2u8).unwrap();
            send.send(3u8).unwrap();
        });

        let mut got = Vec::new(); // (added)
        for x in recv.iter() {
            println!("Got: {x}");
            got.push(x); // (added)
        }
        assert_eq!(got, [1, 2, 3]); // (added)
    }

    /// `mpsc::TryIter` type docs.
    #[test]
    fn doc_mpsc_try_iter_type() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (sender, receiver) = channel();

        // Nothing is in the buffer yet
        assert!(receiver.try_iter().next().is_none());
        println!("Nothing in the buffer...");

        let handle = thread::spawn(move || {
            sender.send(1).unwrap();
            sender.send(2).unwrap();
            sender.send(3).unwrap();
        });

        println!("Going to sleep...");
        handle.join().unwrap(); // (adapted: the docs sleep 2 s)

        let mut got = Vec::new(); // (added)
        for x in receiver.try_iter() {
            println!("Got: {x}");
            got.push(x); // (added)
        }
        assert_eq!(got, [1, 2, 3]); // (added)
    }

    /// `mpsc::IntoIter` type docs.
    #[test]
    fn doc_mpsc_into_iter_type() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (send, recv) = channel();

        thread::spawn(move || {
            send.send(1u8).unwrap();
            send.send(2u8).unwrap();
            send.send(3u8).unwrap();
        });

        let mut got = Vec::new(); // (added)
        for x in recv.into_iter() {
            println!("Got: {x}");
            got.push(x); // (added)
        }
        assert_eq!(got, [1, 2, 3]); // (added)
    }

    // ----- parity with std -----

    #[test]
    fn receiver_side_disconnection_like_std() {
        let out = on_both!(|sync, _thread| {
            let (tx, rx) = sync::mpsc::channel::<u8>();
            let tx2 = tx.clone();
            let mut log = vec![format!("{tx:?} {rx:?}")];
            log.push(format!(
                "empty: {:?} {:?}",
                rx.try_recv(),
                rx.recv_timeout(Duration::from_millis(10))
            ));
            tx.send(1).unwrap();
            tx2.send(2).unwrap();
            drop(tx);
            log.push(format!("one sender left: {:?}", rx.try_recv()));
            drop(tx2);
            // Buffered messages outlive the senders.
            log.push(format!(
                "buffered: {:?}",
                rx.recv_timeout(Duration::from_millis(10))
            ));
            log.push(format!(
                "disconnected: {:?} {:?} {:?} {:?}",
                rx.try_recv(),
                rx.recv(),
                rx.recv_timeout(Duration::from_millis(10)),
                rx.iter().next()
            ));
            log
        });
        assert_eq!(
            out,
            [
                "Sender { .. } Receiver { .. }",
                "empty: Err(Empty) Err(Timeout)",
                "one sender left: Ok(1)",
                "buffered: Ok(2)",
                "disconnected: Err(Disconnected) Err(RecvError) Err(Disconnected) None",
            ]
        );
    }

    #[test]
    fn sender_side_disconnection_returns_the_value_like_std() {
        let out = on_both!(|sync, _thread| {
            let mut log = Vec::new();
            let (tx, rx) = sync::mpsc::channel::<String>();
            tx.send("kept".to_owned()).unwrap();
            drop(rx);
            let e = tx.send("returned".to_owned()).unwrap_err();
            log.push(format!("send: {e:?} {e} value={}", e.0));

            let (stx, srx) = sync::mpsc::sync_channel::<String>(1);
            log.push(format!("{stx:?}"));
            stx.try_send("a".to_owned()).unwrap();
            match stx.try_send("b".to_owned()) {
                Err(sync::mpsc::TrySendError::Full(v)) => log.push(format!("full: {v}")),
                other => log.push(format!("unexpected: {other:?}")),
            }
            drop(srx);
            match stx.try_send("c".to_owned()) {
                Err(sync::mpsc::TrySendError::Disconnected(v)) => {
                    log.push(format!("try_send disconnected: {v}"))
                }
                other => log.push(format!("unexpected: {other:?}")),
            }
            log.push(format!(
                "send: value={}",
                stx.send("d".to_owned()).unwrap_err().0
            ));
            log
        });
        assert_eq!(
            out,
            [
                "send: SendError { .. } sending on a closed channel value=returned",
                "SyncSender { .. }",
                "full: b",
                "try_send disconnected: c",
                "send: value=d",
            ]
        );
    }

    #[test]
    fn recv_timeout_times_out_then_reports_disconnection_like_std() {
        let out = on_both!(|sync, _thread| {
            let (tx, rx) = sync::mpsc::sync_channel::<u8>(0);
            let timeout = rx.recv_timeout(Duration::from_millis(10));
            // Nobody is receiving: Full, with the value.
            let try_send = matches!(tx.try_send(1), Err(sync::mpsc::TrySendError::Full(1)));
            drop(tx);
            (
                timeout,
                try_send,
                rx.recv_timeout(Duration::from_millis(10)),
            )
        });
        assert_eq!(
            out,
            (
                Err(RecvTimeoutError::Timeout),
                true,
                Err(RecvTimeoutError::Disconnected)
            )
        );
    }

    /// A send on a channel of capacity `cap` returns only once at most `cap` messages are
    /// buffered: after the receiver got `k` messages, at most `k + cap` sends have returned.
    #[test]
    fn bounded_and_rendezvous_sends_wait_for_the_receiver_like_std() {
        let out = on_both!(|sync, thread| {
            let mut log = Vec::new();
            for cap in [0usize, 1, 2] {
                let (tx, rx) = sync::mpsc::sync_channel(cap);
                let sent = sync::Arc::new(AtomicUsize::new(0));
                let sent2 = sync::Arc::clone(&sent);
                let producer = thread::spawn(move || {
                    for i in 0..6 {
                        tx.send(i).unwrap();
                        sent2.fetch_add(1, Ordering::SeqCst);
                    }
                });
                let mut ok = true;
                let mut got = Vec::new();
                for k in 1..=6 {
                    got.push(rx.recv().unwrap());
                    thread::yield_now();
                    ok &= sent.load(Ordering::SeqCst) <= k + cap;
                }
                producer.join().unwrap();
                log.push(format!(
                    "cap {cap}: {got:?} bounded={ok} then {:?}",
                    rx.try_recv()
                ));
            }
            log
        });
        assert_eq!(
            out,
            [
                "cap 0: [0, 1, 2, 3, 4, 5] bounded=true then Err(Disconnected)",
                "cap 1: [0, 1, 2, 3, 4, 5] bounded=true then Err(Disconnected)",
                "cap 2: [0, 1, 2, 3, 4, 5] bounded=true then Err(Disconnected)",
            ]
        );
    }

    #[test]
    fn iterators_like_std() {
        let out = on_both!(|sync, thread| {
            let (tx, rx) = sync::mpsc::channel();
            for i in 0..3 {
                tx.send(i).unwrap();
            }
            let mut log = vec![format!("{:?}", rx.iter()), format!("{:?}", rx.try_iter())];
            log.push(format!("try_iter: {:?}", rx.try_iter().collect::<Vec<_>>()));
            log.push(format!("try_iter on empty: {:?}", rx.try_iter().next()));
            let producer = thread::spawn(move || {
                for i in 10..13 {
                    tx.send(i).unwrap();
                }
            });
            let mut by_ref = Vec::new();
            for v in &rx {
                by_ref.push(v);
                if by_ref.len() == 2 {
                    break;
                }
            }
            producer.join().unwrap();
            log.push(format!("&rx: {by_ref:?}"));
            let into_iter = rx.into_iter();
            log.push(format!("{into_iter:?}"));
            log.push(format!("into_iter: {:?}", into_iter.collect::<Vec<_>>()));
            log
        });
        assert_eq!(
            out,
            [
                "Iter { rx: Receiver { .. } }",
                "TryIter { rx: Receiver { .. } }",
                "try_iter: [0, 1, 2]",
                "try_iter on empty: None",
                "&rx: [10, 11]",
                "IntoIter { rx: Receiver { .. } }",
                "into_iter: [12]",
            ]
        );
    }
}

mod thread {
    use super::{panic_message, wait_until};
    use std::sync::atomic::{AtomicUsize, Ordering};

    // ----- std's documentation examples -----

    /// `std::thread::spawn`, first example.
    #[test]
    fn doc_spawn() {
        use holdup::thread;

        let handler = thread::spawn(|| {
            // thread code
        });

        handler.join().unwrap();
    }

    /// `std::thread::spawn`, channel example.
    #[test]
    fn doc_spawn_with_channel() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;

        let (tx, rx) = channel();

        let sender = thread::spawn(move || {
            tx.send("Hello, thread".to_owned())
                .expect("Unable to send on channel");
        });

        let receiver = thread::spawn(move || {
            let value = rx.recv().expect("Unable to receive from channel");
            println!("{value}");
        });

        sender.join().expect("The sender thread has panicked");
        receiver.join().expect("The receiver thread has panicked");
    }

    /// `std::thread::spawn`, returning a value.
    #[test]
    fn doc_spawn_returns_a_value() {
        use holdup::thread;

        let computation = thread::spawn(|| {
            // Some expensive computation.
            42
        });

        let result = computation.join().unwrap();
        println!("{result}");
        assert_eq!(result, 42); // (added)
    }

    /// `std::thread::scope`.
    #[test]
    fn doc_scope() {
        use holdup::thread;

        let mut a = vec![1, 2, 3];
        let mut x = 0;

        thread::scope(|s| {
            s.spawn(|| {
                println!("hello from the first scoped thread");
                // We can borrow `a` here.
                dbg!(&a);
            });
            s.spawn(|| {
                println!("hello from the second scoped thread");
                // We can even mutably borrow `x` here,
                // because no other threads are using it.
                x += a[0] + a[2];
            });
            println!("hello from the main thread");
        });

        // After the scope, we can modify and access our variables again:
        a.push(4);
        assert_eq!(x, a.len());
    }

    /// `std::thread::Builder` type docs and `Builder::spawn`.
    #[test]
    fn doc_builder() {
        use holdup::thread;

        let builder = thread::Builder::new();

        let handler = builder
            .spawn(|| {
                // thread code
            })
            .unwrap();

        handler.join().unwrap();
    }

    /// `Builder::new`.
    #[test]
    fn doc_builder_new() {
        use holdup::thread;

        let builder = thread::Builder::new()
            .name("foo".into())
            .stack_size(32 * 1024);

        let handler = builder
            .spawn(|| {
                // thread code
                assert_eq!(thread::current().name(), Some("foo")); // (added)
            })
            .unwrap();

        handler.join().unwrap();
    }

    /// `Builder::name`.
    #[test]
    fn doc_builder_name() {
        use holdup::thread;

        let builder = thread::Builder::new().name("foo".into());

        let handler = builder
            .spawn(|| assert_eq!(thread::current().name(), Some("foo")))
            .unwrap();

        handler.join().unwrap();
    }

    /// `Builder::stack_size`.
    #[test]
    fn doc_builder_stack_size() {
        use holdup::thread;

        let builder = thread::Builder::new().stack_size(32 * 1024);
        // (added: the docs only build it)
        let big = builder
            .spawn(|| {
                [7u8; 8 * 1024]
                    .iter()
                    .map(|&b| usize::from(b))
                    .sum::<usize>()
            })
            .unwrap();
        assert_eq!(big.join().unwrap(), 7 * 8 * 1024);
    }

    /// `Builder::spawn_unchecked`.
    #[test]
    fn doc_builder_spawn_unchecked() {
        use holdup::thread;

        let builder = thread::Builder::new();

        let x = 1;
        let thread_x = &x;

        // SAFETY: (added) the thread is joined below, while `x` is still alive.
        let handler = unsafe {
            builder
                .spawn_unchecked(move || {
                    println!("x = {}", *thread_x);
                })
                .unwrap()
        };

        // caller has to ensure `join()` is called, otherwise
        // it is possible to access freed memory if `x` gets
        // dropped before the thread closure is executed!
        handler.join().unwrap();
    }

    /// `Builder::spawn_scoped`.
    #[test]
    fn doc_builder_spawn_scoped() {
        use holdup::thread;

        let mut a = vec![1, 2, 3];
        let mut x = 0;

        thread::scope(|s| {
            thread::Builder::new()
                .name("first".to_string())
                .spawn_scoped(s, || {
                    println!(
                        "hello from the {:?} scoped thread",
                        thread::current().name()
                    );
                    // We can borrow `a` here.
                    dbg!(&a);
                })
                .unwrap();
            thread::Builder::new()
                .name("second".to_string())
                .spawn_scoped(s, || {
                    println!(
                        "hello from the {:?} scoped thread",
                        thread::current().name()
                    );
                    // We can even mutably borrow `x` here,
                    // because no other threads are using it.
                    x += a[0] + a[2];
                })
                .unwrap();
            println!("hello from the main thread");
        });

        // After the scope, we can modify and access our variables again:
        a.push(4);
        assert_eq!(x, a.len());
    }

    /// `std::thread::JoinHandle` type docs, first two examples.
    #[test]
    fn doc_join_handle_from_spawn_and_builder() {
        use holdup::thread;

        let join_handle: thread::JoinHandle<_> = thread::spawn(|| {
            // some work here
        });
        join_handle.join().unwrap(); // (added)

        let builder = thread::Builder::new();

        let join_handle: thread::JoinHandle<_> = builder
            .spawn(|| {
                // some work here
            })
            .unwrap();
        join_handle.join().unwrap(); // (added)
    }

    /// `std::thread::JoinHandle` type docs, detached thread.
    #[test]
    fn doc_join_handle_detached_thread() {
        use holdup::sync::mpsc::channel;
        use holdup::thread;
        use std::time::Duration;

        // (adapted: the docs sleep 1 s at the end; the detached thread reports instead)
        let (tx, rx) = channel();

        let original_thread = thread::spawn(move || {
            let _detached_thread = thread::spawn(move || {
                // Here we sleep to make sure that the first thread returns before.
                thread::sleep(Duration::from_millis(10));
                // This will be called, even though the JoinHandle is dropped.
                println!("♫ Still alive ♫");
                tx.send(()).unwrap();
            });
        });

        original_thread
            .join()
            .expect("The thread being joined has panicked");
        println!("Original thread is joined.");

        // We make sure that the new thread has time to run, before the main
        // thread returns.

        rx.recv().unwrap();
    }

    /// `JoinHandle::thread`.
    #[test]
    fn doc_join_handle_thread() {
        use holdup::thread;

        let builder = thread::Builder::new();

        let join_handle: thread::JoinHandle<_> = builder
            .spawn(|| {
                // some work here
                thread::current().id() // (added)
            })
            .unwrap();

        let thread = join_handle.thread();
        println!("thread id: {:?}", thread.id());
        let id = thread.id(); // (added)
        assert_eq!(join_handle.join().unwrap(), id); // (added)
    }

    /// `JoinHandle::join`.
    #[test]
    fn doc_join_handle_join() {
        use holdup::thread;

        let builder = thread::Builder::new();

        let join_handle: thread::JoinHandle<_> = builder
            .spawn(|| {
                // some work here
            })
            .unwrap();
        join_handle
            .join()
            .expect("Couldn't join on the associated thread");
    }

    /// `ScopedJoinHandle::thread`.
    #[test]
    fn doc_scoped_join_handle_thread() {
        use holdup::thread;

        thread::scope(|s| {
            let t = s.spawn(|| {
                println!("hello");
            });
            println!("thread id: {:?}", t.thread().id());
        });
    }

    /// `ScopedJoinHandle::join`.
    #[test]
    fn doc_scoped_join_handle_join() {
        use holdup::thread;

        thread::scope(|s| {
            let t = s.spawn(|| {
                panic!("oh no");
            });
            assert!(t.join().is_err());
        });
    }

    // ----- parity with std -----

    #[test]
    fn join_of_a_panicking_thread_returns_the_payload_like_std() {
        let out = on_both!(|_sync, thread| {
            let str_payload = thread::spawn(|| -> u8 { panic!("boom") })
                .join()
                .map_err(|p| panic_message(&*p));
            let fmt_payload = thread::spawn(|| -> u8 { panic!("boom {}", 42) })
                .join()
                .map_err(|p| panic_message(&*p));
            let any_payload = thread::spawn(|| -> u8 { std::panic::panic_any(7u32) })
                .join()
                .map_err(|p| p.downcast_ref::<u32>().copied());
            let scoped = thread::scope(|s| {
                let h = s.spawn(|| -> u8 { panic!("scoped boom") });
                h.join().map_err(|p| panic_message(&*p))
            });
            let named = thread::Builder::new()
                .name("named".to_owned())
                .spawn(|| -> u8 { panic!("in {:?}", std::thread::current().name()) })
                .unwrap()
                .join()
                .map_err(|p| panic_message(&*p));
            format!("{str_payload:?} {fmt_payload:?} {any_payload:?} {scoped:?} {named:?}")
        });
        assert_eq!(
            out,
            "Err(\"boom\") Err(\"boom 42\") Err(Some(7)) Err(\"scoped boom\") Err(\"in Some(\\\"named\\\")\")"
        );
    }

    #[test]
    fn names_ids_and_stack_size_like_std() {
        let out = on_both!(|_sync, thread| {
            let mut log = Vec::new();
            let h = thread::Builder::new()
                .name("parity-named".to_owned())
                .stack_size(64 * 1024)
                .spawn(|| {
                    (
                        thread::current().name().map(str::to_owned),
                        thread::current().id(),
                    )
                })
                .unwrap();
            let (handle_name, handle_id) = (h.thread().name().map(str::to_owned), h.thread().id());
            let (inner_name, inner_id) = h.join().unwrap();
            log.push(format!(
                "{handle_name:?} {inner_name:?} same_id={}",
                handle_id == inner_id
            ));
            let h = thread::spawn(|| thread::current().name().map(str::to_owned));
            let handle_name = h.thread().name().map(str::to_owned);
            log.push(format!("unnamed: {handle_name:?} {:?}", h.join().unwrap()));
            let scoped = thread::scope(|s| {
                let h = thread::Builder::new()
                    .name("parity-scoped".to_owned())
                    .spawn_scoped(s, || thread::current().name().map(str::to_owned))
                    .unwrap();
                (h.thread().name().map(str::to_owned), h.join().unwrap())
            });
            log.push(format!("scoped: {scoped:?}"));
            log.push(format!(
                "main differs: {}",
                handle_id != thread::current().id()
            ));
            log
        });
        assert_eq!(
            out,
            [
                "Some(\"parity-named\") Some(\"parity-named\") same_id=true",
                "unnamed: None None",
                "scoped: (Some(\"parity-scoped\"), Some(\"parity-scoped\"))",
                "main differs: true",
            ]
        );
    }

    #[test]
    fn is_finished_like_std() {
        let out = on_both!(|sync, thread| {
            let (tx, rx) = sync::mpsc::channel::<()>();
            let h = thread::spawn(move || rx.recv().is_ok());
            // The thread is blocked in `recv` until we send.
            let while_blocked = h.is_finished();
            tx.send(()).unwrap();
            wait_until("the thread to finish", || h.is_finished());
            let joined = h.join().unwrap();
            let scoped = thread::scope(|s| {
                let (tx, rx) = sync::mpsc::channel::<()>();
                let h = s.spawn(move || rx.recv().is_ok());
                let while_blocked = h.is_finished();
                drop(tx);
                wait_until("the scoped thread to finish", || h.is_finished());
                (while_blocked, h.join().unwrap())
            });
            (while_blocked, joined, scoped)
        });
        assert_eq!(out, (false, true, (false, false)));
    }

    #[test]
    fn scope_joins_everything_and_propagates_unjoined_panics_like_std() {
        let out = on_both!(|_sync, thread| {
            let counter = AtomicUsize::new(0);
            let mut data = vec![1, 2, 3];
            let returned = thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        thread::sleep(std::time::Duration::from_millis(5));
                        counter.fetch_add(1, Ordering::SeqCst);
                    });
                }
                s.spawn(|| data.push(4));
                "scope value"
            });
            // All scoped threads were joined when `scope` returned.
            let joined = counter.load(Ordering::SeqCst);
            let unjoined = std::panic::catch_unwind(|| {
                thread::scope(|s| {
                    s.spawn(|| panic!("unjoined"));
                })
            })
            .map_err(|p| panic_message(&*p));
            let joined_panic = std::panic::catch_unwind(|| {
                thread::scope(|s| {
                    let h = s.spawn(|| panic!("joined"));
                    h.join().map_err(|p| panic_message(&*p))
                })
            })
            .map_err(|p| panic_message(&*p));
            format!("{returned} {joined} {data:?} {unjoined:?} {joined_panic:?}")
        });
        assert_eq!(
            out,
            "scope value 4 [1, 2, 3, 4] Err(\"a scoped thread panicked\") Ok(Err(\"joined\"))"
        );
    }

    #[test]
    fn handle_and_scope_debug_like_std() {
        let out = on_both!(|_sync, thread| {
            let h = thread::spawn(|| 1);
            let handle = format!("{h:?}");
            h.join().unwrap();
            let (scope, scoped) = thread::scope(|s| {
                let h = s.spawn(|| 2);
                let scoped = format!("{h:?}");
                h.join().unwrap();
                // Both runs happen on this test's thread, so `main_thread` prints the same.
                (format!("{s:?}"), scoped)
            });
            (handle, scope.contains("a_thread_panicked: false"), scoped)
        });
        assert_eq!(
            out,
            (
                "JoinHandle { .. }".to_owned(),
                true,
                "ScopedJoinHandle { .. }".to_owned()
            )
        );
    }

    #[test]
    fn builder_debug_like_std() {
        let out = on_both!(|_sync, thread| {
            (
                format!("{:?}", thread::Builder::new()),
                format!(
                    "{:?}",
                    thread::Builder::new()
                        .name("b".to_owned())
                        .stack_size(1 << 20)
                ),
            )
        });
        // std's derived `Debug` lists private fields that vary across Rust versions.
        assert!(
            out.0.starts_with("Builder { name: None, stack_size: None"),
            "{}",
            out.0
        );
        assert!(
            out.1
                .starts_with("Builder { name: Some(\"b\"), stack_size: Some(1048576)"),
            "{}",
            out.1
        );
    }

    /// holdup's own addition: threads it spawned are listed while they run.
    #[test]
    fn registered_lists_running_holdup_threads() {
        use holdup::sync::mpsc::channel;

        let (tx, rx) = channel::<()>();
        let (ready_tx, ready_rx) = channel();
        let h = holdup::thread::Builder::new()
            .name("parity-registered".to_owned())
            .spawn(move || {
                ready_tx.send(std::thread::current().id()).unwrap();
                rx.recv().ok();
            })
            .unwrap();
        let id = ready_rx.recv().unwrap();
        let listed = holdup::thread::registered()
            .into_iter()
            .find(|t| t.id == id);
        assert_eq!(
            listed.and_then(|t| t.name),
            Some("parity-registered".to_owned())
        );
        // A std thread is not registered.
        let std_id = std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap();
        assert!(holdup::thread::registered().iter().all(|t| t.id != std_id));
        drop(tx);
        h.join().unwrap();
        assert!(holdup::thread::registered().iter().all(|t| t.id != id));
    }
}

/// Auto traits of every wrapper, compared with the std original, in the spirit of tokio's
/// `tests/async_send_sync.rs` but as runtime comparisons: each `same_traits!` line records any
/// difference, and the test fails listing all of them.
mod auto_traits {
    use std::cell::{Cell, RefCell};
    use std::fmt::Debug;
    use std::marker::{PhantomData, PhantomPinned};
    use std::panic::{RefUnwindSafe, UnwindSafe};
    use std::rc::Rc;

    /// Send, Sync, Unpin, UnwindSafe, RefUnwindSafe.
    type Traits = [bool; 5];
    const NAMES: [&str; 5] = ["Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe"];

    /// Autoref specialization: an inherent method applies only when `T` has the trait (its impl
    /// has the bound); otherwise method lookup falls back to the trait method, which says no.
    /// This works on stable for concrete types, which the macros below always name.
    struct Probe<T: ?Sized>(PhantomData<T>);

    fn probe_of<T>(_: &T) -> Probe<T> {
        Probe(PhantomData)
    }

    impl<T: ?Sized + Send> Probe<T> {
        fn send(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + Sync> Probe<T> {
        fn sync(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + Unpin> Probe<T> {
        fn unpin(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + UnwindSafe> Probe<T> {
        fn unwind_safe(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + RefUnwindSafe> Probe<T> {
        fn ref_unwind_safe(&self) -> bool {
            true
        }
    }

    trait NotSend {
        fn send(&self) -> bool {
            false
        }
    }
    trait NotSync {
        fn sync(&self) -> bool {
            false
        }
    }
    trait NotUnpin {
        fn unpin(&self) -> bool {
            false
        }
    }
    trait NotUnwindSafe {
        fn unwind_safe(&self) -> bool {
            false
        }
    }
    trait NotRefUnwindSafe {
        fn ref_unwind_safe(&self) -> bool {
            false
        }
    }
    impl<T: ?Sized> NotSend for Probe<T> {}
    impl<T: ?Sized> NotSync for Probe<T> {}
    impl<T: ?Sized> NotUnpin for Probe<T> {}
    impl<T: ?Sized> NotUnwindSafe for Probe<T> {}
    impl<T: ?Sized> NotRefUnwindSafe for Probe<T> {}

    /// The auto traits of a type (`traits!(T)`) or of a value's type (`traits!(@of expr)`).
    macro_rules! traits {
        (@probe $p:expr) => {{
            let p = $p;
            [p.send(), p.sync(), p.unpin(), p.unwind_safe(), p.ref_unwind_safe()]
        }};
        (@of $e:expr) => {
            traits!(@probe probe_of(&$e))
        };
        ($t:ty) => {
            traits!(@probe Probe::<$t>(PhantomData))
        };
    }

    /// Compares the auto traits of holdup's type with std's; differences are recorded and
    /// reported by [`finish`].
    macro_rules! same_traits {
        ($holdup:ty, $std:ty $(,)?) => {
            compare(
                stringify!($holdup),
                stringify!($std),
                traits!($holdup),
                traits!($std),
            )
        };
    }

    /// As `same_traits!`, for types that cannot be named (closures): compares values' types.
    macro_rules! same_traits_of {
        ($holdup:expr, $std:expr $(,)?) => {{
            let (h, s) = ($holdup, $std);
            compare(
                &format!("{} (= {})", stringify!($holdup), std::any::type_name_of_val(&h)),
                stringify!($std),
                traits!(@of h),
                traits!(@of s),
            )
        }};
    }

    thread_local! {
        static DIFFS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
        static COMPARED: Cell<usize> = const { Cell::new(0) };
    }

    fn compare(holdup: &str, std: &str, h: Traits, s: Traits) {
        COMPARED.set(COMPARED.get() + 1);
        for ((name, hv), sv) in NAMES.iter().zip(h).zip(s) {
            if hv != sv {
                DIFFS.with_borrow_mut(|d| {
                    d.push(format!("{holdup}: {name} is {hv}, but {sv} for {std}"));
                });
            }
        }
    }

    /// Fails with every recorded difference.
    fn finish(expected_comparisons: usize) {
        assert_eq!(
            COMPARED.replace(0),
            expected_comparisons,
            "not every comparison ran"
        );
        let diffs = DIFFS.take();
        assert!(
            diffs.is_empty(),
            "{} auto-trait difference(s) from std:\n  {}",
            diffs.len(),
            diffs.join("\n  ")
        );
    }

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
}
