//! Helpers shared by holdup-pprof's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use holdup_pprof::proto::Profile;
use holdup_pprof::{LineInfo, MappingInfo, ProfileBuilder};

pub fn line(function: &str, file: &str, line: i64) -> LineInfo {
    LineInfo {
        function: function.into(),
        system_name: String::new(),
        file: file.into(),
        line,
    }
}

/// A small contention profile like Go's observed example (as `runtime/pprof` writes one).
pub fn example() -> Profile {
    let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period_type("contentions", "count", 1);
    b.time_nanos(1_795_000_000_000_000_000);
    let m = b.mapping(&MappingInfo {
        memory_start: 0x400000,
        memory_limit: 0x4e0000,
        filename: "/srv/app".into(),
        build_id: "b08fb5c29cf875e2".into(),
        has_functions: true,
        ..MappingInfo::default()
    });
    let unlock_holder = b.location(
        m,
        0x4df1c0,
        &[
            line("sync.(*Mutex).Unlock", "mutex.go", 65),
            line("main.holder", "main.go", 18),
        ],
    );
    let unlock_waiter = b.location(
        m,
        0x4df26f,
        &[
            line("sync.(*Mutex).Unlock", "mutex.go", 65),
            line("main.waiter", "main.go", 25),
        ],
    );
    let gowrap = b.location(m, 0x4df676, &[line("main.main.gowrap1", "main.go", 37)]);
    let cache = b.location(m, 0x401000, &[line("app::Cache::get", "cache.rs", 40)]);
    b.sample(
        &[unlock_holder],
        &[1, 270_217_097],
        &[("lock", "main.go:10"), ("kind", "mutex")],
    );
    b.sample(
        &[unlock_waiter, gowrap],
        &[2, 91_554],
        &[("lock", "main.go:10"), ("kind", "mutex")],
    );
    b.sample(&[cache, gowrap], &[4, 1_200], &[]);
    b.build()
}

/// A larger profile with many functions of varied weight, deterministic from `seed`, so that
/// node dropping, unit selection and ordering get exercised.
pub fn synthetic(seed: u64, samples: usize, duration_nanos: i64) -> Profile {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period_type("contentions", "count", 1);
    b.time_nanos(1_795_000_000_000_000_000 + seed as i64);
    b.duration_nanos(duration_nanos);
    let m = b.mapping(&MappingInfo {
        memory_start: 0x1000,
        memory_limit: 0x100000,
        filename: "/bin/svc".into(),
        has_functions: true,
        ..MappingInfo::default()
    });
    let names = [
        "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop",
        "svc::Cache::get",
        "svc::Cache::put",
        "svc::worker",
        "svc::handle",
        "svc::db::query",
        "std::thread::lifecycle::spawn_unchecked::{{closure}}",
        "holdup::sync::mpsc::Receiver<T>::recv",
        "svc::main",
        "svc::util::tiny",
    ];
    for _ in 0..samples {
        let depth = 1 + next(5) as usize;
        let mut locs = Vec::new();
        for d in 0..depth {
            let f = next(names.len() as u64) as usize;
            let inlined = d == 0 && next(2) == 0;
            let mut lines = vec![line(names[f], "src/lib.rs", 10 + f as i64)];
            if inlined {
                lines.insert(0, line(names[0], "src/sync.rs", 5));
            }
            locs.push(b.location(m, 0x2000 + (f as u64) * 64 + d as u64, &lines));
        }
        let scale = [1, 1_000, 1_000_000, 100_000_000][next(4) as usize];
        b.sample(
            &locs,
            &[1 + next(20) as i64, (1 + next(1000) as i64) * scale],
            &[("kind", "mutex")],
        );
    }
    b.build()
}

/// The Go toolchain for compatibility checks: `HOLDUP_GO`, else the workspace's `.venv-go`
/// (see `.ci/run`). Under `CI=true` a missing Go is an error, never a silent skip.
pub fn go() -> Option<PathBuf> {
    let candidate = std::env::var_os("HOLDUP_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-go/bin/go"));
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but no Go toolchain at {} (set HOLDUP_GO or run .ci/run, which installs it)",
        candidate.display()
    );
    eprintln!(
        "skipping: no Go toolchain at {} (CI installs one)",
        candidate.display()
    );
    None
}

/// A Python with Perfetto's own schema (the `perfetto` and `protobuf` packages from PyPI):
/// `HOLDUP_PERFETTO_PYTHON`, else the workspace's `.venv-perfetto` (see `.ci/run`). Under
/// `CI=true` a missing one is an error, never a silent skip.
pub fn perfetto_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("HOLDUP_PERFETTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-perfetto/bin/python")
        });
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but no Python with the perfetto package at {} (set HOLDUP_PERFETTO_PYTHON or run .ci/run, which installs it)",
        candidate.display()
    );
    eprintln!(
        "skipping: no Python with the perfetto package at {} (CI installs one)",
        candidate.display()
    );
    None
}
