//! The execution trace's costs: one recorded event on the recording thread, the bytes events
//! take, and what a traced contended workload records per second (its throughput against
//! Go's tracer is `compare`'s `trace` and `flight` rows).

use super::*;
use holdup_core::trace as rec;

/// Nanoseconds per event recorded in a window and with the flight recorder on (median of
/// `rounds`), and the recorder's bytes per event.
fn event_cost(iters: u64, rounds: usize) -> (f64, f64, f64) {
    let mut window = Vec::new();
    let mut flight = Vec::new();
    let mut bytes = 0.0;
    for _ in 0..rounds {
        // A window big enough to keep every event (each round starts a new one).
        holdup::trace::start_with(holdup::trace::Options {
            max_bytes: (iters as usize * 64).max(1 << 20),
        })
        .expect("no other trace window");
        let t = Instant::now();
        for i in 0..iters {
            rec::emit(rec::Tag::RegionBegin, 0, &[black_box(i), 0]);
        }
        window.push(t.elapsed().as_nanos() as f64 / iters as f64);
        bytes = rec::held_bytes() as f64 / iters as f64;
        let _ = holdup::trace::stop();
        // The flight recorder at Go's defaults: full after a few hundred thousand events, then
        // each new chunk evicts the oldest.
        let fr = holdup::trace::FlightRecorder::new(holdup::trace::FlightConfig::default());
        fr.start().expect("no other flight recorder");
        let t = Instant::now();
        for i in 0..iters {
            rec::emit(rec::Tag::RegionBegin, 0, &[black_box(i), 0]);
        }
        flight.push(t.elapsed().as_nanos() as f64 / iters as f64);
        fr.stop();
    }
    (median(window), median(flight), bytes)
}

/// A contended workload traced for `dur`: waits recorded per second and the Perfetto file's
/// bytes per second.
fn traced_workload(dur: Duration) -> (f64, f64, f64, u64) {
    let lock = Arc::new(holdup::sync::Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    holdup::trace::start_with(holdup::trace::Options {
        max_bytes: 512 << 20,
    })
    .expect("no other trace window");
    let started = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (lock, stop) = (lock.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut g = lock.lock().unwrap();
                    for _ in 0..64 {
                        x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    }
                    *g = g.wrapping_add(x);
                }
            })
        })
        .collect();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let t = holdup::trace::stop().expect("the window");
    let secs = started.elapsed().as_secs_f64();
    let mut file = Vec::new();
    let encode = Instant::now();
    t.write_perfetto(&mut file).expect("written to memory");
    let encode_ms = encode.elapsed().as_secs_f64() * 1e3;
    let waits = holdup_pprof::perfetto::TraceView::decode(&file)
        .map(|v| v.slices().iter().filter(|s| s.name == "mutex wait").count())
        .unwrap_or(0);
    (
        waits as f64 / secs,
        file.len() as f64 / secs,
        encode_ms,
        t.dropped(),
    )
}

pub(crate) fn trace(opts: &Options) {
    let (iters, rounds, dur) = if opts.quick {
        (200_000, 3, Duration::from_millis(300))
    } else {
        (2_000_000, 9, Duration::from_secs(1))
    };
    println!("\n== the execution trace (median of {rounds} rounds of {iters} events) ==");
    let (window, flight, bytes) = event_cost(iters, rounds);
    println!(
        "one event on the recording thread: {window:.1} ns in a window, {flight:.1} ns with the flight recorder (goal: at most 30 ns)"
    );
    println!(
        "recorder memory: {bytes:.1} bytes per event ({:.1} MB per million events of 4 words)",
        bytes
    );
    let (waits, file_bytes, encode_ms, dropped) = traced_workload(dur);
    println!(
        "2 threads on one lock, traced for {dur:?}: {waits:.0} waits/s recorded ({dropped} events dropped), Perfetto file {:.1} MB/s ({:.0} bytes per wait), written in {encode_ms:.0} ms",
        file_bytes / 1e6,
        file_bytes / waits.max(1.0)
    );
}
