//! `holdup top` against `go tool pprof -top` on a large profile: time and peak memory.

use super::*;

/// A profile of `samples` samples over 2,000 functions (stacks 20 to 60 deep, two labels), the
/// shape of a large service's contention profile, as gzip'd profile.proto; and its raw size.
pub(crate) fn big_profile(samples: usize) -> (Vec<u8>, usize) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut b =
        holdup_pprof::ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period_type("contentions", "count", 1);
    let functions: Vec<String> = (0..2_000)
        .map(|i| format!("service::module_{}::function_{i}", i % 50))
        .collect();
    let locations: Vec<u64> = (0..20_000u64)
        .map(|i| {
            let f = &functions[(i % 2_000) as usize];
            let line = holdup_pprof::LineInfo {
                function: f.clone(),
                system_name: f.clone(),
                file: format!("src/module_{}.rs", i % 50),
                line: (i % 500) as i64 + 1,
            };
            b.location(0, 0x10_0000 + i * 16, &[line])
        })
        .collect();
    let sites: Vec<String> = (0..500)
        .map(|i| format!("src/module_{}.rs:{}", i % 50, i))
        .collect();
    let mut stack = Vec::new();
    for _ in 0..samples {
        stack.clear();
        let depth = 20 + next(41) as usize;
        // Callers near the root are shared, leaves vary: like real stacks.
        for d in 0..depth {
            let spread = if d < depth / 2 { 200 } else { 20_000 };
            stack.push(locations[next(spread) as usize]);
        }
        stack.reverse();
        let site = &sites[next(500) as usize];
        let kind = ["mutex", "rwlock-write", "chan-recv"][next(3) as usize];
        b.sample(
            &stack,
            &[1 + next(100) as i64, 1 + next(10_000_000) as i64],
            &[("lock", site), ("kind", kind)],
        );
    }
    let p = b.build();
    let raw = holdup_pprof::proto_len(&p);
    (holdup_pprof::encode(&p), raw)
}

/// Runs `cmd` to completion and returns (wall time, peak resident memory in bytes, stdout).
pub(crate) fn measure(cmd: &mut Command) -> Result<(Duration, u64, Vec<u8>), String> {
    use std::io::Read as _;
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child.id()` is our own child, not yet waited for; both pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let wall = started.elapsed();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("exited with status {status}"));
    }
    Ok((wall, usage.ru_maxrss as u64 * 1024, out))
}

pub(crate) fn cli(opts: &Options) {
    let samples = if opts.quick { 50_000 } else { 1_000_000 };
    println!("\n== `holdup top` vs `go tool pprof -top` on a profile of {samples} samples ==");
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
    let holdup = exe_dir.map(|d| d.join("holdup")).filter(|p| p.exists());
    let Some(holdup) = holdup else {
        println!(
            "(skipped: no holdup binary next to this one; run `cargo build --release -p holdup-cli` first)"
        );
        return;
    };
    let go = std::env::var_os("HOLDUP_GO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(".venv-go/bin/go"));
    let started = Instant::now();
    let (bytes, raw) = big_profile(samples);
    // HOLDUP_BENCH_KEEP=PATH keeps the profile there (to time other tools on it).
    let keep = std::env::var_os("HOLDUP_BENCH_KEEP").map(std::path::PathBuf::from);
    let file = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("holdup-bench-big-{}.pb.gz", std::process::id()))
    });
    std::fs::write(&file, &bytes).expect("write the profile");
    println!(
        "profile: {samples} samples, {:.1} MB of profile.proto ({:.1} MB gzip'd), made in {:.1?}",
        raw as f64 / 1e6,
        bytes.len() as f64 / 1e6,
        started.elapsed()
    );
    let rounds = if opts.quick { 1 } else { 3 };
    /// (tool, (wall, peak RSS) per run, its summary line)
    type Runs<'n> = (&'n str, Vec<(Duration, u64)>, String);
    let mut results: Vec<Runs<'_>> = Vec::new();
    let mut ours = Command::new(&holdup);
    ours.args(["top", "-n", "10"]).arg(&file);
    let mut theirs = Command::new(&go);
    theirs
        .args(["tool", "pprof", "-top", "-nodecount=10"])
        .arg(&file)
        .env("PPROF_BINARY_PATH", "/nonexistent");
    // Go compiles pprof on first use; warm it up so that its run is not timed with the build.
    if go.exists() {
        let _ = Command::new(&go).args(["tool", "pprof", "-h"]).output();
    }
    for (name, cmd) in [
        ("holdup top", &mut ours),
        ("go tool pprof -top", &mut theirs),
    ] {
        let mut runs = Vec::new();
        let mut first = String::new();
        for _ in 0..rounds {
            match measure(cmd) {
                Ok((wall, rss, out)) => {
                    runs.push((wall, rss));
                    first = String::from_utf8_lossy(&out)
                        .lines()
                        .find(|l| l.starts_with("Showing nodes"))
                        .unwrap_or("")
                        .to_owned();
                }
                Err(e) => {
                    println!("{name}: {e}");
                    break;
                }
            }
        }
        results.push((name, runs, first));
    }
    if keep.is_none() {
        let _ = std::fs::remove_file(&file);
    }
    println!(
        "{:<20} {:>10} {:>12}  summary line",
        "tool", "wall", "peak RSS"
    );
    for (name, runs, line) in &results {
        if runs.is_empty() {
            continue;
        }
        let wall = median(runs.iter().map(|r| r.0.as_secs_f64()).collect());
        let rss = median(runs.iter().map(|r| r.1 as f64).collect());
        println!("{name:<20} {:>9.2}s {:>9.0} MB  {line}", wall, rss / 1e6);
    }
    if let [(_, ours, _), (_, theirs, _)] = &results[..]
        && !ours.is_empty()
        && !theirs.is_empty()
    {
        let med = |r: &Vec<(Duration, u64)>, f: fn(&(Duration, u64)) -> f64| {
            median(r.iter().map(f).collect())
        };
        println!(
            "holdup vs go: {:.2}x the time, {:.2}x the memory (median of {rounds})",
            med(ours, |r| r.0.as_secs_f64()) / med(theirs, |r| r.0.as_secs_f64()),
            med(ours, |r| r.1 as f64) / med(theirs, |r| r.1 as f64)
        );
    }
}
