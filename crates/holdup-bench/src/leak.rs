//! Leak checks: the cost of `leak::find` and of a `Guard`.

use super::*;

/// Time of a clean leak check (`holdup::leak::find`, and a `Guard` created and dropped) while
/// 10 or 1,000 unrelated threads are alive: half started through `holdup::thread` by another
/// thread (another scope), half plain std threads started before the guard, all of them the
/// baseline of `find` (`Options::ignore_current`, taken before the timing).
pub(crate) fn leak(opts: &Options) {
    let reps = if opts.quick { 20 } else { 200 };
    println!("\n== clean leak check (holdup::leak), median of {reps} ==");
    println!(
        "{:>9} {:>14} {:>20}",
        "threads", "find() us", "Guard new+drop us"
    );
    let sizes: &[usize] = if opts.quick { &[10, 100] } else { &[10, 1000] };
    for &n in sizes {
        let park = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let mut threads = Vec::new();
        // Another scope's holdup threads: started from a std thread.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawner = {
            let park = park.clone();
            std::thread::spawn(move || {
                let handles: Vec<_> = (0..n / 2)
                    .map(|_| {
                        let park = park.clone();
                        holdup::thread::Builder::new()
                            .stack_size(64 * 1024)
                            .spawn(move || park_until_done(&park))
                            .expect("spawn")
                    })
                    .collect();
                ready_tx.send(()).unwrap();
                for h in handles {
                    h.join().unwrap();
                }
            })
        };
        ready_rx.recv().unwrap();
        for _ in 0..n - n / 2 {
            let park = park.clone();
            threads.push(
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || park_until_done(&park))
                    .expect("spawn"),
            );
        }
        // The threads alive now are the baseline (without one, a plain binary's check reports
        // every thread alive besides the caller, as goleak's VerifyNone does).
        let baseline = holdup::leak::Options::new().ignore_current();
        let mut find_us = Vec::new();
        let mut guard_us = Vec::new();
        for _ in 0..reps {
            let opts = baseline.clone();
            let t = Instant::now();
            holdup::leak::find(opts).expect("a clean check");
            find_us.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            holdup::leak::Guard::new().check().expect("a clean guard");
            guard_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        println!(
            "{n:>9} {:>14.0} {:>20.0}",
            median(find_us),
            median(guard_us)
        );
        *park.0.lock().unwrap() = true;
        park.1.notify_all();
        for t in threads {
            t.join().unwrap();
        }
        spawner.join().unwrap();
    }
}
