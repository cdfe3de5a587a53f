//! `holdup::tokio` against tokio's own: an uncontended `lock().await` + unlock, a semaphore
//! `acquire().await` + release, a channel send + receive, and a spawn + join, side by side; a
//! contended task workload with profiling off and at production settings; and a dump of
//! 100,000 tasks, with how long the runtime's workers were held up meanwhile.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;

/// Polls a future that completes at once (an uncontended acquisition), without a runtime.
pub(crate) fn ready<F: Future>(fut: F) -> F::Output {
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
    let (t_tx, mut t_rx) = ::tokio::sync::mpsc::channel::<u64>(1024);
    let (h_tx, mut h_rx) = holdup::tokio::sync::mpsc::channel::<u64>(1024);
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
        (
            "tokio mpsc send + recv",
            OFF,
            Box::new(move || {
                ready(t_tx.send(1)).expect("open");
                black_box(ready(t_rx.recv()));
            }),
        ),
        (
            "holdup::tokio mpsc send+recv",
            OFF,
            Box::new(move || {
                ready(h_tx.send(1)).expect("open");
                black_box(ready(h_rx.recv()));
            }),
        ),
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
        .zip([0, 0, 0, 3, 3, 5, 5].map(|i| acquired[i]))
        .chain(spawns.iter().zip(&spawned).zip([spawned[0]; 2]));
    for (((name, setting, _), ns), base) in rows {
        println!(
            "{name:<30} {:<26} {ns:>8.1} {:>9.3}",
            setting.describe(),
            ns / base
        );
    }
    contended(opts);
    dump_many(opts);
}

/// Tasks that take one async lock in turn, with about a microsecond of work inside and
/// outside it: holdup's `Mutex` with profiling off and at production settings, against
/// tokio's, switched round by round on the same runtime.
fn contended(opts: &Options) {
    const TASKS: usize = 64;
    let (rounds, period) = if opts.quick {
        (3, Duration::from_millis(100))
    } else {
        (9, Duration::from_millis(400))
    };
    let rt = ::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    // Which lock the tasks take: 0 tokio's, 1 holdup's.
    let which = Arc::new(AtomicU64::new(0));
    let (t_m, h_m) = (
        Arc::new(::tokio::sync::Mutex::new(0u64)),
        Arc::new(holdup::tokio::sync::Mutex::new(0u64)),
    );
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (stop, done, which) = (stop.clone(), done.clone(), which.clone());
            let (t_m, h_m) = (t_m.clone(), h_m.clone());
            rt.spawn(holdup::tokio::instrument(async move {
                let mut x = i as u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..100 {
                        if which.load(Ordering::Relaxed) == 0 {
                            let mut g = t_m.lock().await;
                            *g = spin(*g ^ x, 256);
                        } else {
                            let mut g = h_m.lock().await;
                            *g = spin(*g ^ x, 256);
                        }
                        x = spin(x, 256);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    ::tokio::task::yield_now().await;
                }
            }))
        })
        .collect();
    let rows = [
        ("tokio Mutex", 0, OFF),
        ("holdup::tokio Mutex", 1, OFF),
        ("holdup::tokio Mutex", 1, PRODUCTION),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for round in 0..rounds {
        for k in 0..rows.len() {
            // Reverse the order every other round.
            let k = if round % 2 == 0 {
                k
            } else {
                rows.len() - 1 - k
            };
            let (_, lock, setting) = rows[k];
            setting.apply();
            which.store(lock, Ordering::Relaxed);
            std::thread::sleep(period / 10);
            let before = done.load(Ordering::Relaxed);
            let started = Instant::now();
            std::thread::sleep(period);
            let n = done.load(Ordering::Relaxed) - before;
            rates[k].push(n as f64 / started.elapsed().as_secs_f64());
        }
    }
    OFF.apply();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = rt.block_on(t);
    }
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    println!(
        "\n== contended tasks: {TASKS} tasks on 2 workers take one lock in turn (median of {rounds} interleaved rounds of {period:?}) =="
    );
    println!(
        "{:<30} {:<26} {:>12} {:>9}",
        "lock", "settings", "locks/s", "vs tokio"
    );
    for ((name, _, setting), rate) in rows.iter().zip(&medians) {
        println!(
            "{name:<30} {:<26} {rate:>12.0} {:>9.3}",
            setting.describe(),
            rate / medians[0]
        );
    }
    println!(
        "holdup at production settings vs profiling off: {:.3} (goal: at least 0.97)",
        medians[2] / medians[1]
    );
}

/// `units` rounds of arithmetic the optimizer cannot remove (a unit is a nanosecond or two).
fn spin(mut x: u64, units: u32) -> u64 {
    for _ in 0..units {
        x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    black_box(x)
}

/// A dump while 100,000 tasks wait on one semaphore: how long it takes, and the longest a
/// runtime worker went without running a task meanwhile (a probe task ticks every 100 µs).
fn dump_many(opts: &Options) {
    let tasks = if opts.quick { 10_000 } else { 100_000 };
    let rt = ::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    // Stack capture is set up by the first dump: take one before the tasks wait.
    let _ = holdup::dump::threads();
    let sem = Arc::new(holdup::tokio::sync::Semaphore::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let sem = sem.clone();
            rt.spawn(async move {
                holdup::tokio::spawn(async move { sem.acquire().await.map(|p| p.forget()) }).await
            })
        })
        .collect();
    let waiting = || {
        holdup_core::registry::tasks()
            .iter()
            .filter(|t| t.wait.is_some())
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while waiting() < tasks && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The probe: the longest gap between its ticks while the dump runs.
    let stop = Arc::new(AtomicBool::new(false));
    let gap = Arc::new(AtomicU64::new(0));
    let probe = {
        let (stop, gap) = (stop.clone(), gap.clone());
        rt.spawn(async move {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                ::tokio::time::sleep(Duration::from_micros(100)).await;
                let now = Instant::now();
                gap.fetch_max(
                    now.duration_since(last).as_nanos() as u64,
                    Ordering::Relaxed,
                );
                last = now;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let idle_gap = gap.swap(0, Ordering::Relaxed);
    let started = Instant::now();
    let dump = holdup::dump::threads();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(20));
    let during_gap = gap.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let _ = rt.block_on(probe);
    let parked = dump.tasks().iter().filter(|t| t.wait.is_some()).count();
    println!(
        "\n== a dump of {tasks} waiting tasks (2 workers; a probe task ticks every 100 µs) =="
    );
    println!(
        "dump: {:.1} ms, {parked} waiting tasks listed (goal for 100,000: at most 200 ms)",
        took.as_secs_f64() * 1e3
    );
    println!(
        "longest gap between the probe's ticks: {:.2} ms during the dump, {:.2} ms before it (goal: at most 1 ms of delay added)",
        during_gap as f64 / 1e6,
        idle_gap as f64 / 1e6
    );
    sem.add_permits(tasks);
    for h in handles {
        let _ = rt.block_on(h);
    }
}
