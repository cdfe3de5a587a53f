//! `holdup::tokio` against tokio's own: an uncontended `lock().await` + unlock, a semaphore
//! `acquire().await` + release, and a spawn + join, side by side.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;

/// Polls a future that completes at once (an uncontended acquisition), without a runtime.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an uncontended acquisition waited"),
    }
}

/// Spawns and joins this many empty tasks per operation of the spawn benchmark.
const SPAWNS: u64 = 100;

pub(crate) fn tokio(opts: &Options) {
    let (iters, rounds) = if opts.quick {
        (200_000, 3)
    } else {
        (2_000_000, 9)
    };
    println!(
        "\n== holdup::tokio against tokio (median of {rounds} interleaved rounds of {iters}; spawn: per task, {SPAWNS} per op) =="
    );
    let t_m = Arc::new(::tokio::sync::Mutex::new(0u64));
    let h_m = Arc::new(holdup::tokio::sync::Mutex::new(0u64));
    let t_s = Arc::new(::tokio::sync::Semaphore::new(1));
    let h_s = Arc::new(holdup::tokio::sync::Semaphore::new(1));
    let mutex = |m: &Arc<holdup::tokio::sync::Mutex<u64>>| {
        let m = m.clone();
        Box::new(move || *ready(black_box(&m).lock()) += 1) as Box<dyn FnMut()>
    };
    let runtime = || {
        ::tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
    };
    let (rt_t, rt_h) = (runtime(), runtime());
    let mut acquisitions: Vec<Bench> = vec![
        ("tokio Mutex", OFF, {
            let m = t_m.clone();
            Box::new(move || *ready(black_box(&m).lock()) += 1)
        }),
        ("holdup::tokio Mutex", OFF, mutex(&h_m)),
        ("holdup::tokio Mutex", PRODUCTION, mutex(&h_m)),
        ("tokio Semaphore", OFF, {
            let s = t_s.clone();
            Box::new(move || drop(ready(black_box(&s).acquire())))
        }),
        ("holdup::tokio Semaphore", OFF, {
            let s = h_s.clone();
            Box::new(move || drop(ready(black_box(&s).acquire())))
        }),
    ];
    let mut spawns: Vec<Bench> = vec![
        (
            "tokio::spawn + join",
            OFF,
            Box::new(move || {
                rt_t.block_on(async {
                    for _ in 0..SPAWNS {
                        ::tokio::spawn(async {}).await.expect("joined");
                    }
                })
            }),
        ),
        (
            "holdup::tokio::spawn + join",
            OFF,
            Box::new(move || {
                rt_h.block_on(async {
                    for _ in 0..SPAWNS {
                        holdup::tokio::spawn(async {}).await.expect("joined");
                    }
                })
            }),
        ),
    ];
    let acquired = interleaved(&mut acquisitions, iters, rounds);
    let spawned: Vec<f64> = interleaved(&mut spawns, iters / SPAWNS / 20, rounds)
        .into_iter()
        .map(|ns| ns / SPAWNS as f64)
        .collect();
    println!(
        "{:<30} {:<26} {:>8} {:>9}",
        "operation", "settings", "ns/op", "vs tokio"
    );
    let rows = acquisitions
        .iter()
        .zip(&acquired)
        .zip([0, 0, 0, 3, 3].map(|i| acquired[i]))
        .chain(spawns.iter().zip(&spawned).zip([spawned[0]; 2]));
    for (((name, setting, _), ns), base) in rows {
        println!(
            "{name:<30} {:<26} {ns:>8.1} {:>9.3}",
            setting.describe(),
            ns / base
        );
    }
}
