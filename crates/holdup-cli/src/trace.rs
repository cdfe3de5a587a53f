//! `holdup trace`: what a holdup execution trace (Perfetto's format, from
//! `/debug/pprof/trace` or `holdup::trace`) says about waiting.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use holdup_pprof::perfetto::{self, TraceView};

use crate::source::{self, Fetch};

#[derive(Subcommand, Debug)]
pub(crate) enum TraceCommand {
    /// Per thread and task: how long it waited, by kind; per lock; the longest waits with
    /// their stacks.
    Summary {
        #[command(flatten)]
        source: TraceSource,
        /// How many of the longest waits to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// The trace's waits as a block profile, every wait counted (like `go tool trace
    /// -pprof=sync`): read it with `holdup top` or `go tool pprof`.
    Block {
        #[command(flatten)]
        source: TraceSource,
        /// Where to write the profile (gzip'd profile.proto; `-` for standard output).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: std::path::PathBuf,
    },
}

#[derive(Args, Debug)]
pub(crate) struct TraceSource {
    /// The trace: a file, - for standard input, or a URL (such as
    /// http://127.0.0.1:6060/debug/pprof/trace?seconds=5).
    #[arg(value_name = "SOURCE")]
    source: String,
    /// For URLs: give up after this many seconds (default: 30 plus the trace's).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
}

impl TraceSource {
    fn load(&self) -> Result<TraceView> {
        let fetch = Fetch {
            seconds: None,
            timeout: crate::input::timeout(self.timeout)?.or_else(|| {
                // A trace URL waits for its window: allow for it.
                trace_seconds(&self.source).map(|s| std::time::Duration::from_secs_f64(30.0 + s))
            }),
        };
        let (bytes, name) = source::read(&self.source, &fetch)?;
        if bytes.is_empty() {
            bail!("{name} is empty");
        }
        match TraceView::decode(&bytes) {
            Ok(view) => Ok(view),
            Err(_) if bytes.starts_with(&[0x1f, 0x8b]) && holdup_pprof::decode(&bytes).is_ok() => {
                bail!("{name} is a pprof profile, not a trace: read it with `holdup top`")
            }
            Err(e) => Err(e).with_context(|| format!("{name} is not a holdup trace")),
        }
    }
}

/// The `seconds` parameter of a trace URL.
fn trace_seconds(source: &str) -> Option<f64> {
    let query = source.split_once('?')?.1;
    query
        .split('&')
        .find_map(|p| p.strip_prefix("seconds="))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
}

/// Runs a `holdup trace` command; returns what to print.
pub(crate) fn run(command: &TraceCommand) -> Result<String> {
    match command {
        TraceCommand::Summary { source, top } => {
            let view = source.load()?;
            Ok(perfetto::summary(&view, *top).to_string())
        }
        TraceCommand::Block { source, output } => {
            let view = source.load()?;
            let profile = perfetto::block_profile(&view);
            let waits: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
            let bytes = holdup_pprof::encode(&profile);
            if output.as_os_str() == "-" {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)?;
                out.flush()?;
                return Ok(String::new());
            }
            std::fs::write(output, &bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "holdup: wrote {} ({waits} waits, {} bytes)",
                output.display(),
                bytes.len()
            );
            Ok(String::new())
        }
    }
}
