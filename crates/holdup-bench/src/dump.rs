//! Thread dumps: the cost of a dump and the interruption each thread sees.

use super::*;

/// Recurses `depth` frames, then blocks: half the threads on a held holdup `Mutex`, half on a
/// std `Condvar`, like the feasibility prototype's `dump` scenario.
#[inline(never)]
pub(crate) fn dump_recurse(
    depth: u32,
    i: usize,
    lock: &holdup::sync::Mutex<()>,
    park: &(std::sync::Mutex<bool>, std::sync::Condvar),
) {
    if depth > 0 {
        dump_recurse(depth - 1, i, lock, park);
        black_box(depth);
        return;
    }
    if i.is_multiple_of(2) {
        drop(black_box(lock.lock()));
    } else {
        park_until_done(park);
    }
}

/// Wall time of a full thread dump at 10, 100 and 1,000 blocked threads, and the longest time
/// any thread spent interrupted (in its signal handler).
pub(crate) fn dump(opts: &Options) {
    let reps = if opts.quick { 3 } else { 15 };
    println!(
        "\n== thread dump (holdup::dump::threads): median of {reps} dumps after one cold dump =="
    );
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>14} {:>10}",
        "threads", "cold ms", "median ms", "max ms", "longest stop", "stacks"
    );
    let sizes: &[usize] = if opts.quick {
        &[10, 100]
    } else {
        &[10, 100, 1000]
    };
    for &n in sizes {
        let lock = Arc::new(holdup::sync::Mutex::new(()));
        let park = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let guard = lock.lock().unwrap();
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (lock, park) = (lock.clone(), park.clone());
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn(move || dump_recurse(9, i, &lock, &park))
                    .expect("spawn")
            })
            .collect();
        // Until every thread is blocked (its kernel state leaves R).
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let d = holdup::dump::threads();
            let blocked = d
                .threads()
                .iter()
                .filter(|t| t.kernel_state == Some('S'))
                .count();
            if blocked >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let started = Instant::now();
        let cold = holdup::dump::threads();
        let cold_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::new();
        let mut longest = Duration::ZERO;
        let mut with_stacks = 0;
        for _ in 0..reps {
            let started = Instant::now();
            let d = holdup::dump::threads();
            times.push(started.elapsed().as_secs_f64() * 1e3);
            longest = longest.max(d.longest_interruption());
            if std::env::var_os("HOLDUP_BENCH_DUMP_DETAIL").is_some() {
                let mut h: Vec<u128> = d
                    .threads()
                    .iter()
                    .filter_map(|t| t.interrupted_for)
                    .map(|x| x.as_nanos())
                    .collect();
                h.sort_unstable();
                eprintln!(
                    "handler ns p50 {} p90 {} p99 {} max {}",
                    h[h.len() / 2],
                    h[h.len() * 9 / 10],
                    h[h.len() * 99 / 100],
                    h[h.len() - 1]
                );
            }
            with_stacks = d
                .threads()
                .iter()
                .filter(|t| t.frames.iter().any(|f| f.function.contains("dump_recurse")))
                .count();
        }
        black_box(cold);
        let max = times.iter().copied().fold(0.0, f64::max);
        println!(
            "{n:>8} {cold_ms:>10.1} {:>12.2} {max:>12.2} {:>11.1} us {:>10}",
            median(times),
            longest.as_secs_f64() * 1e6,
            format!("{with_stacks}/{n}")
        );
        drop(guard);
        *park.0.lock().unwrap() = true;
        park.1.notify_all();
        for t in threads {
            t.join().unwrap();
        }
    }
}
