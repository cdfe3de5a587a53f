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
    let hpl_m = Arc::new(holdup::parking_lot::Mutex::new(0u64));
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
        ("holdup parking_lot Mutex", OFF, {
            let m = hpl_m.clone();
            Box::new(move || *black_box(&m).lock() += 1)
        }),
        ("holdup parking_lot Mutex", PRODUCTION, {
            let m = hpl_m.clone();
            Box::new(move || *black_box(&m).lock() += 1)
        }),
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
    let baseline: HashMap<&str, f64> = [("Mutex", ns[0]), ("read", ns[7]), ("write", ns[10])]
        .into_iter()
        .collect();
    let baseline_pl = ns[1];
    println!(
        "{:<26} {:<26} {:>8} {:>9} {:>8}",
        "primitive", "settings", "ns/op", "vs std", "vs pl"
    );
    for ((name, setting, _), ns) in benches.iter().zip(&ns) {
        let key = if name.ends_with("read") {
            "read"
        } else if name.ends_with("write") {
            "write"
        } else {
            "Mutex"
        };
        // parking_lot's Mutex is the baseline of its mirror (the goal: 1.10x at most).
        let vs_pl = if key == "Mutex" {
            format!("{:>8.3}", ns / baseline_pl)
        } else {
            String::new()
        };
        println!(
            "{name:<26} {:<26} {ns:>8.1} {:>9.3} {vs_pl}",
            setting.describe(),
            ns / baseline[key]
        );
    }
}
