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
