//! The seed workload (the demo's cache, every lookup under one write lock) per setting.

use super::*;

/// The seed workload: a read-mostly cache whose `get` takes the write lock.
pub(crate) struct Cache<L> {
    pub(crate) map: L,
}

pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The seed demo's cache (`examples/contended_cache.rs`): 4096 keys of 512-byte values.
pub(crate) const KEYS: u64 = 4096;

pub(crate) const VALUE_BYTES: usize = 512;

pub(crate) fn entries() -> HashMap<u64, Vec<u8>> {
    (0..KEYS)
        .map(|k| (k, vec![(k % 251) as u8; VALUE_BYTES]))
        .collect()
}

/// A cache lookup, shared by the worker threads.
pub(crate) type Lookup = Arc<dyn Fn(u64) -> u64 + Send + Sync>;

/// Lookups per second with `threads` workers for `dur`.
pub(crate) fn throughput(threads: usize, dur: Duration, get: Lookup) -> f64 {
    let start = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (start, stop, total, get) =
                (start.clone(), stop.clone(), total.clone(), get.clone());
            std::thread::spawn(move || {
                let mut key = i as u64 + 1;
                let mut n = 0u64;
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    key = key
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    black_box(get((key >> 33) % KEYS));
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    total.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64()
}

pub(crate) fn contended(opts: &Options) {
    let (dur, rounds) = if opts.quick {
        (Duration::from_millis(300), 3)
    } else {
        (Duration::from_millis(1000), 5)
    };
    println!(
        "\n== contended seed workload: Cache::get under the write lock (median of {rounds} interleaved runs of {dur:?}) =="
    );
    let std_cache = Arc::new(Cache {
        map: std::sync::RwLock::new(entries()),
    });
    let h_cache = Arc::new(Cache {
        map: holdup::sync::RwLock::new(entries()),
    });
    println!(
        "{:>7} {:<26} {:<26} {:>12} {:>9} {:>9}",
        "threads", "lock", "settings", "lookups/s", "vs off", "vs std"
    );
    for threads in [2, 4] {
        let mut variants: Vec<(&str, Setting, Lookup)> = vec![
            ("std::sync::RwLock", OFF, {
                let c = std_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
            ("holdup RwLock", OFF, {
                let c = h_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
            ("holdup RwLock", PRODUCTION, {
                let c = h_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
            ("holdup RwLock", EVERYTHING, {
                let c = h_cache.clone();
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
            }),
        ];
        for &setting in &opts.extra {
            let c = h_cache.clone();
            variants.push((
                "holdup RwLock",
                setting,
                Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v))),
            ));
        }
        let mut results = vec![Vec::new(); variants.len()];
        for _ in 0..rounds {
            for (i, (_, setting, get)) in variants.iter().enumerate() {
                setting.apply();
                results[i].push(throughput(threads, dur, get.clone()));
            }
        }
        OFF.apply();
        let medians: Vec<f64> = results.into_iter().map(median).collect();
        for ((name, setting, _), m) in variants.iter().zip(&medians) {
            println!(
                "{threads:>7} {name:<26} {:<26} {:>12.0} {:>9.3} {:>9.3}",
                setting.describe(),
                m,
                m / medians[1],
                m / medians[0]
            );
        }
    }
}
