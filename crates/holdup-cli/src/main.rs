//! `holdup`: read contention profiles (holdup's and Go's) without Go installed.
//!
//! This first version ranks functions like `go tool pprof -top`:
//!
//! ```text
//! holdup top [-n N] [--cum] [--sample NAME] FILE
//! ```
//!
//! FILE is a profile.proto, gzip'd or not (holdup's `write_pprof`, Go's `/debug/pprof/mutex`).
//! Exit status: 0 on success (also when the output pipe closes early), 2 on error.

use std::io::Write;

use anyhow::{Context, Result, bail};
use holdup_pprof::{ProfileView, TopOptions, TopSort};

const USAGE: &str = "usage: holdup top [-n N] [--cum] [--sample NAME] FILE\n\n\
    Ranks the functions of a pprof profile (holdup's or Go's) like `go tool pprof -top`.\n  \
    -n N           show N rows (default 10; 0 shows all)\n  \
    --cum          sort by cumulative value\n  \
    --sample NAME  rank by this sample type (e.g. contentions; default: the last, delay)";

fn main() {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => {}
        Err(e) if is_broken_pipe(&e) => {}
        Err(e) => {
            eprintln!("holdup: {e:#}");
            std::process::exit(2);
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn run(args: Vec<String>) -> Result<()> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("top") => top(args),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
        None => bail!("no command given\n\n{USAGE}"),
    }
}

fn top(mut args: impl Iterator<Item = String>) -> Result<()> {
    let mut opts = TopOptions::default();
    let mut sample = None;
    let mut file = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-n" => {
                let n = args.next().context("-n needs a number")?;
                opts.node_count = n
                    .parse()
                    .with_context(|| format!("-n {n:?} is not a number"))?;
            }
            "--cum" => opts.sort = TopSort::Cum,
            "--sample" => sample = Some(args.next().context("--sample needs a sample type name")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other if other.starts_with('-') => bail!("unknown option {other:?}\n\n{USAGE}"),
            other => {
                if file.replace(other.to_owned()).is_some() {
                    bail!("more than one FILE given");
                }
            }
        }
    }
    let file = file.context("no FILE given")?;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {file}"))?;
    let profile =
        holdup_pprof::decode(&bytes).with_context(|| format!("{file} is not a pprof profile"))?;
    let view = ProfileView::new(&profile)?;
    if let Some(name) = sample {
        let types: Vec<&str> = view.sample_types().iter().map(|&(t, _)| t).collect();
        let index = view
            .sample_index(&name)
            .with_context(|| format!("{file} has no sample type {name:?} (it has {types:?})"))?;
        opts.sample_index = Some(index);
    }
    let report = holdup_pprof::top(&view, &opts);
    let mut out = std::io::stdout().lock();
    write!(out, "{report}")?;
    out.flush()?;
    Ok(())
}
