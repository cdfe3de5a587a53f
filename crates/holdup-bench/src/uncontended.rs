//! Uncontended lock + unlock, side by side with std and parking_lot, per setting.

use super::*;

pub(crate) fn uncontended(opts: &Options) {
    let (iters, rounds) = if opts.quick {
        (1_000_000, 3)
    } else {
        (5_000_000, 9)
    };
    println!(
        "\n== uncontended lock + unlock (median of {rounds} interleaved rounds of {iters}) =="
    );
    let std_m = Arc::new(std::sync::Mutex::new(0u64));
    let pl_m = Arc::new(parking_lot::Mutex::new(0u64));
    let h_m = Arc::new(holdup::sync::Mutex::new(0u64));
    let std_rw = Arc::new(std::sync::RwLock::new(0u64));
    let h_rw = Arc::new(holdup::sync::RwLock::new(0u64));
    let mutex = |m: &Arc<holdup::sync::Mutex<u64>>| {
        let m = m.clone();
        Box::new(move || *black_box(&m).lock().unwrap() += 1) as Box<dyn FnMut()>
    };
    let mut benches: Vec<Bench> = vec![
        ("std::sync::Mutex", OFF, {
            let m = std_m.clone();
            Box::new(move || *black_box(&m).lock().unwrap() += 1)
        }),
        ("parking_lot::Mutex", OFF, {
            let m = pl_m.clone();
            Box::new(move || *black_box(&m).lock() += 1)
        }),
        ("holdup Mutex", OFF, mutex(&h_m)),
        ("holdup Mutex", PRODUCTION, mutex(&h_m)),
        ("holdup Mutex", EVERYTHING, mutex(&h_m)),
        ("std::sync::RwLock read", OFF, {
            let l = std_rw.clone();
            Box::new(move || {
                black_box(*black_box(&l).read().unwrap());
            })
        }),
        ("holdup RwLock read", OFF, {
            let l = h_rw.clone();
            Box::new(move || {
                black_box(*black_box(&l).read().unwrap());
            })
        }),
        ("holdup RwLock read", EVERYTHING, {
            let l = h_rw.clone();
            Box::new(move || {
                black_box(*black_box(&l).read().unwrap());
            })
        }),
        ("std::sync::RwLock write", OFF, {
            let l = std_rw.clone();
            Box::new(move || *black_box(&l).write().unwrap() += 1)
        }),
        ("holdup RwLock write", OFF, {
            let l = h_rw.clone();
            Box::new(move || *black_box(&l).write().unwrap() += 1)
        }),
        ("holdup RwLock write", EVERYTHING, {
            let l = h_rw.clone();
            Box::new(move || *black_box(&l).write().unwrap() += 1)
        }),
    ];
    let ns = interleaved(&mut benches, iters, rounds);
    let baseline: HashMap<&str, f64> = [("Mutex", ns[0]), ("read", ns[5]), ("write", ns[8])]
        .into_iter()
        .collect();
    println!(
        "{:<26} {:<26} {:>8} {:>9}",
        "primitive", "settings", "ns/op", "vs std"
    );
    for ((name, setting, _), ns) in benches.iter().zip(&ns) {
        let key = if name.ends_with("read") {
            "read"
        } else if name.ends_with("write") {
            "write"
        } else {
            "Mutex"
        };
        println!(
            "{name:<26} {:<26} {ns:>8.1} {:>9.3}",
            setting.describe(),
            ns / baseline[key]
        );
    }
}
