//! Instructions per uncontended lock + unlock, counted by callgrind (deterministic).

use super::*;

/// The body `callgrind` counts: `iters` uncontended lock + unlock of one variant.
pub(crate) fn spin(variant: &str, iters: u64) {
    let std_m = std::sync::Mutex::new(0u64);
    let pl_m = parking_lot::Mutex::new(0u64);
    let h_m = holdup::sync::Mutex::new(0u64);
    let hpl_m = holdup::parking_lot::Mutex::new(0u64);
    match variant {
        "std" => (0..iters).for_each(|_| *black_box(&std_m).lock().unwrap() += 1),
        "parking_lot" => (0..iters).for_each(|_| *black_box(&pl_m).lock() += 1),
        "holdup-off" => (0..iters).for_each(|_| *black_box(&h_m).lock().unwrap() += 1),
        "holdup-on" => {
            EVERYTHING.apply();
            (0..iters).for_each(|_| *black_box(&h_m).lock().unwrap() += 1);
        }
        "holdup-pl-off" => (0..iters).for_each(|_| *black_box(&hpl_m).lock() += 1),
        "holdup-pl-on" => {
            EVERYTHING.apply();
            (0..iters).for_each(|_| *black_box(&hpl_m).lock() += 1);
        }
        variant if variant.contains("tokio") => spin_tokio(variant, iters),
        other => panic!("unknown variant {other}"),
    }
}

/// The async primitives' uncontended operations, polled once without a runtime.
fn spin_tokio(variant: &str, iters: u64) {
    use crate::tokio::ready;
    let (t_m, h_m) = (
        ::tokio::sync::Mutex::new(0u64),
        holdup::tokio::sync::Mutex::new(0u64),
    );
    let (t_s, h_s) = (
        ::tokio::sync::Semaphore::new(1),
        holdup::tokio::sync::Semaphore::new(1),
    );
    let (t_tx, mut t_rx) = ::tokio::sync::mpsc::channel::<u64>(16);
    let (h_tx, mut h_rx) = holdup::tokio::sync::mpsc::channel::<u64>(16);
    match variant {
        "tokio-mutex" => (0..iters).for_each(|_| *ready(black_box(&t_m).lock()) += 1),
        "holdup-tokio-mutex" => (0..iters).for_each(|_| *ready(black_box(&h_m).lock()) += 1),
        "tokio-semaphore" => (0..iters).for_each(|_| drop(ready(black_box(&t_s).acquire()))),
        "holdup-tokio-semaphore" => {
            (0..iters).for_each(|_| drop(ready(black_box(&h_s).acquire())));
        }
        "tokio-mpsc" => (0..iters).for_each(|_| {
            ready(t_tx.send(1)).expect("open");
            black_box(ready(t_rx.recv()));
        }),
        "holdup-tokio-mpsc" => (0..iters).for_each(|_| {
            ready(h_tx.send(1)).expect("open");
            black_box(ready(h_rx.recv()));
        }),
        other => panic!("unknown variant {other}"),
    }
}

/// Instructions (callgrind's `Ir`) executed by `spin variant iters`.
pub(crate) fn instructions(variant: &str, iters: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&exe)
        .args(["spin", variant, &iters.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("valgrind failed: {stderr}"));
    }
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().parse::<u64>())
        })
        .ok_or_else(|| format!("no 'Collected' line in valgrind's output:\n{stderr}"))?
        .map_err(|e| e.to_string())
}

pub(crate) fn callgrind(opts: &Options) {
    let n: u64 = if opts.quick { 100_000 } else { 1_000_000 };
    println!(
        "\n== instructions per uncontended lock + unlock (callgrind: Ir({}) - Ir({n}), / {n}) ==",
        2 * n
    );
    let mut per_op = Vec::new();
    for variant in [
        "std",
        "parking_lot",
        "holdup-off",
        "holdup-on",
        "holdup-pl-off",
        "holdup-pl-on",
    ] {
        let r = instructions(variant, n)
            .and_then(|a| instructions(variant, 2 * n).map(|b| (b - a) as f64 / n as f64));
        match r {
            Ok(ir) => per_op.push((variant, ir)),
            Err(e) => {
                println!("{variant}: {e}");
                return;
            }
        }
    }
    println!(
        "{:<14} {:>8} {:>9} {:>15}",
        "variant", "Ir/op", "vs std", "vs parking_lot"
    );
    for (variant, ir) in &per_op {
        println!(
            "{variant:<14} {ir:>8.1} {:>9.3} {:>15.3}",
            ir / per_op[0].1,
            ir / per_op[1].1
        );
    }
    println!("(holdup-pl: holdup::parking_lot::Mutex, goal at most 1.10x parking_lot's)");
    println!(
        "\n== instructions per uncontended async operation (callgrind, polled once without a runtime) =="
    );
    println!(
        "{:<26} {:>8} {:>8} {:>9}",
        "operation", "tokio", "holdup", "vs tokio"
    );
    for (name, what) in [
        ("Mutex lock + unlock", "mutex"),
        ("Semaphore acquire + release", "semaphore"),
        ("mpsc send + recv", "mpsc"),
    ] {
        let per_op = |variant: &str| {
            instructions(variant, n)
                .and_then(|a| instructions(variant, 2 * n).map(|b| (b - a) as f64 / n as f64))
        };
        match (
            per_op(&format!("tokio-{what}")),
            per_op(&format!("holdup-tokio-{what}")),
        ) {
            (Ok(t), Ok(h)) => println!("{name:<26} {t:>8.1} {h:>8.1} {:>9.3}", h / t),
            (Err(e), _) | (_, Err(e)) => println!("{name}: {e}"),
        }
    }
}
