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
