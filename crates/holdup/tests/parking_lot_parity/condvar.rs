use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn notify_one_and_all_like_parking_lot() {
    let got = on_both!(|pl| {
        let pair = Arc::new((pl::Mutex::new(0u32), pl::Condvar::new()));
        // Nobody waits: nothing is woken.
        let idle = (pair.1.notify_one(), pair.1.notify_all());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let pair = pair.clone();
                std::thread::spawn(move || {
                    let (m, cv) = &*pair;
                    let mut g = m.lock();
                    *g += 1;
                    cv.wait(&mut g);
                    *g += 10;
                })
            })
            .collect();
        while *pair.0.lock() < 3 {
            std::thread::yield_now();
        }
        // All three sleep (each counted itself under the lock it gives up in `wait`).
        let g = pair.0.lock();
        let woken = pair.1.notify_all();
        drop(g);
        for w in waiters {
            w.join().unwrap();
        }
        (idle, woken, *pair.0.lock())
    });
    assert_eq!(got, ((false, 0), 3, 33));
}

#[test]
fn wait_for_times_out_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = pl::Mutex::new(());
        let cv = pl::Condvar::new();
        let mut g = m.lock();
        let start = Instant::now();
        let r = cv.wait_for(&mut g, Duration::from_millis(30));
        let until = cv.wait_until(&mut g, Instant::now() + Duration::from_millis(10));
        (
            r.timed_out(),
            until.timed_out(),
            start.elapsed() >= Duration::from_millis(40),
        )
    });
    assert_eq!(got, (true, true, true));
}

#[test]
fn wait_while_like_parking_lot() {
    let got = on_both!(|pl| {
        let pair = Arc::new((pl::Mutex::new(false), pl::Condvar::new()));
        let setter = {
            let pair = pair.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                *pair.0.lock() = true;
                pair.1.notify_one();
            })
        };
        let mut g = pair.0.lock();
        pair.1.wait_while(&mut g, |ready| !*ready);
        let ready = *g;
        let r = pair
            .1
            .wait_while_for(&mut g, |ready| *ready, Duration::from_millis(20));
        let satisfied = pair
            .1
            .wait_while_for(&mut g, |_| false, Duration::from_millis(20));
        drop(g);
        setter.join().unwrap();
        (ready, r.timed_out(), satisfied.timed_out())
    });
    assert_eq!(got, (true, true, false));
}

#[test]
fn a_notify_before_the_wait_is_not_kept_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = pl::Mutex::new(());
        let cv = pl::Condvar::new();
        cv.notify_one();
        let mut g = m.lock();
        cv.wait_for(&mut g, Duration::from_millis(20)).timed_out()
    });
    assert!(got);
}

/// parking_lot's own case: the condition is asked once per wake-up and not again after the
/// timeout, which the result reports.
#[test]
fn wait_while_until_asks_the_condition_like_parking_lot() {
    let got = on_both!(|pl| {
        let pair = Arc::new((pl::Mutex::new(0u32), pl::Condvar::new()));
        let notifier = {
            let pair = pair.clone();
            std::thread::spawn(move || {
                for _ in 0..3 {
                    std::thread::sleep(Duration::from_millis(20));
                    let _g = pair.0.lock();
                    pair.1.notify_one();
                }
            })
        };
        let mut g = pair.0.lock();
        let deadline = Instant::now() + Duration::from_millis(250);
        let r = pair.1.wait_while_until(
            &mut g,
            |calls| {
                *calls += 1;
                true
            },
            deadline,
        );
        let calls = *g;
        drop(g);
        notifier.join().unwrap();
        (r.timed_out(), calls)
    });
    assert_eq!(got, (true, 4));
}
