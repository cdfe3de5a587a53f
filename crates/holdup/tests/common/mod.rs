//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use holdup::profile::{Profile, Sample};

/// `file:line` of the macro call, in the form holdup uses for the `lock` label. Put it on the
/// same line as the primitive's constructor.
#[macro_export]
macro_rules! here {
    () => {
        format!("{}:{}", file!(), line!())
    };
}

/// The samples of `profile` whose `lock` label is `site`.
pub fn samples_for(profile: &Profile, site: &str) -> Vec<Sample> {
    profile
        .samples()
        .filter(|s| s.label("lock") == Some(site))
        .collect()
}

/// Sum of delays of `samples`.
pub fn delay(samples: &[Sample]) -> i64 {
    samples.iter().map(|s| s.delay_ns).sum()
}

/// Sum of counts of `samples`.
pub fn count(samples: &[Sample]) -> i64 {
    samples.iter().map(|s| s.count).sum()
}

/// Whether `got` is within `tolerance` (a fraction) of `want`.
pub fn within(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance * want.abs()
}

/// A readable dump of samples for assertion messages.
pub fn describe(samples: &[Sample]) -> String {
    let mut out = String::new();
    for s in samples {
        out.push_str(&format!(
            "count={} delay={}ns labels={:?}\n",
            s.count, s.delay_ns, s.labels
        ));
        for f in s.frames.iter().take(12) {
            out.push_str(&format!("    {} ({}:{})\n", f.function, f.file, f.line));
        }
    }
    out
}

/// Waits until the thread with OS id `tid` sleeps in the kernel (state `S`), that is, until it
/// is blocked. Linux only.
#[cfg(target_os = "linux")]
pub fn wait_until_sleeping(tid: i64) {
    let path = format!("/proc/self/task/{tid}/stat");
    for _ in 0..200_000 {
        if let Ok(stat) = std::fs::read_to_string(&path) {
            // The state follows the parenthesized command name, which may contain spaces.
            if stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
            {
                return;
            }
        }
        std::thread::yield_now();
    }
    panic!("thread {tid} never blocked");
}

/// The Go toolchain for compatibility checks: `HOLDUP_GO`, else the workspace's `.venv-go`
/// (see `.ci/run`). Under `CI=true` a missing Go is an error, never a silent skip.
pub fn go() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("HOLDUP_GO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-go/bin/go")
        });
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
