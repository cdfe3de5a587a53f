//! What the CPU profile costs the threads it samples: the signal handler's time per sample and
//! the sampler thread's CPU, with a CPU-bound thread per core at 100 Hz. (Throughput with the
//! profile on against off, beside Go's CPU profiler, is `compare`'s `CPU profile` column.)

use super::*;

/// Spins `threads` CPU-bound threads for `dur` under a CPU profile at 100 Hz: the samples, the
/// handler's mean time per sample and the sampler thread's share of a core.
pub(crate) fn cpu(opts: &Options) {
    let (rounds, dur) = if opts.quick {
        (1, Duration::from_millis(500))
    } else {
        (5, Duration::from_secs(2))
    };
    let threads = cores();
    println!(
        "\n== CPU profile at 100 Hz: {threads} threads spinning for {dur:?}, {rounds} rounds =="
    );
    println!(
        "{:>8} {:>9} {:>22} {:>26}",
        "samples", "dropped", "handler per sample", "sampler CPU (of a core)"
    );
    let mut handler = Vec::new();
    for _ in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..threads)
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = i as u64 + 1;
                    while !stop.load(Ordering::Relaxed) {
                        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                    }
                })
            })
            .collect();
        let profiler = match holdup::profile::start_cpu(holdup::profile::DEFAULT_HZ) {
            Ok(p) => p,
            Err(e) => {
                println!("CPU profile unavailable: {e}");
                stop.store(true, Ordering::Relaxed);
                return;
            }
        };
        std::thread::sleep(dur);
        let p = profiler.stop();
        stop.store(true, Ordering::Relaxed);
        for s in spinners {
            let _ = s.join();
        }
        let per = p.handler_time_per_sample();
        handler.push(per.as_nanos() as f64);
        println!(
            "{:>8} {:>9} {:>19.1} µs {:>25.2}%",
            p.total_samples(),
            p.dropped(),
            per.as_nanos() as f64 / 1000.0,
            p.sampler_cpu().as_secs_f64() / p.duration().as_secs_f64() * 100.0,
        );
    }
    let m = median(handler);
    println!(
        "median handler time per sample: {:.1} µs ({:.2}% of a sampled thread's CPU at 100 Hz)",
        m / 1000.0,
        m / 10_000_000.0 * 100.0
    );
}
