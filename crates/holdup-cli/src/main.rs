//! `holdup`: read, rank, picture and compare pprof profiles (holdup's and Go's) without Go.
//!
//! ```text
//! holdup top  http://127.0.0.1:6060/debug/pprof/mutex     # like `go tool pprof -top`
//! holdup list 'Cache::get' mutex.pb.gz                     # annotated source
//! holdup traces mutex.pb.gz                                # every sample's stack
//! holdup peek 'Cache::get' mutex.pb.gz                     # callers and callees
//! holdup tags goroutine.pb.gz                              # label totals
//! holdup flame mutex.pb.gz -o mutex.svg                    # SVG flame graph
//! holdup locks block.pb.gz mutex.pb.gz                     # one row per lock
//! holdup diff base.pb.gz new.pb.gz --fail-if-worse 10      # what got worse
//! holdup dump http://127.0.0.1:6060                        # every thread: waits, holders, deadlocks
//! holdup trace summary app.pftrace                         # who waited for what, over time
//! holdup trace block app.pftrace -o sync.pb.gz             # a trace's waits as a block profile
//! ```
//!
//! A SOURCE is a file (gzip'd or plain profile.proto, or Go's legacy `debug=1` text), `-` for
//! standard input, or an `http(s)://` URL (`--seconds N` asks a `/debug/pprof/` server for a
//! delta; `HOLDUP_TOKEN` is sent as a bearer token). Exit status: 0 on success (also when the
//! output pipe closes early), 1 when `diff --fail-if-worse` finds a regression, 2 on error.

mod advice;
mod diff;
mod dump;
mod flame;
mod input;
mod locks;
mod source;
mod trace;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use holdup_pprof::report::{self, ReportOptions};
use holdup_pprof::{TopOptions, TopSort};

use input::{Input, Prepared};

#[derive(Parser, Debug)]
#[command(
    name = "holdup",
    version,
    about = "Read, rank, picture and compare contention profiles (holdup's and Go's pprof files)",
    after_help = "SOURCE: a profile file (.pb.gz, .pb, or Go's debug=1 text), - for standard input, \
                  or an http(s) URL such as http://127.0.0.1:6060/debug/pprof/mutex \
                  (HOLDUP_TOKEN is sent as a bearer token)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Rank functions by the value they account for, like `go tool pprof -top`.
    Top {
        /// How many rows to show (0: all).
        #[arg(short = 'n', long = "nodecount", default_value_t = 10)]
        n: usize,
        /// Sort by cumulative value instead of flat.
        #[arg(long)]
        cum: bool,
        #[command(flatten)]
        input: Input,
    },
    /// Show source lines of matching functions with their values, like pprof's `list`.
    List {
        /// Regular expression matched against function names.
        regex: String,
        #[command(flatten)]
        input: Input,
        /// Directories to look for source files in (default: the current directory).
        #[arg(long = "source-path", value_name = "DIR", value_delimiter = ':')]
        source_path: Vec<std::path::PathBuf>,
        /// Prefixes to remove from the profile's source paths before looking for them (for
        /// profiles made on another machine or in a container).
        #[arg(long = "trim-path", value_name = "PREFIX", value_delimiter = ':')]
        trim_path: Vec<String>,
    },
    /// Print every sample's stack with its values and labels, like pprof's `-traces`.
    Traces {
        #[command(flatten)]
        input: Input,
    },
    /// Show the callers and callees of matching functions, like pprof's `-peek`.
    Peek {
        /// Regular expression matched against function names.
        regex: String,
        /// Order functions by cumulative value.
        #[arg(long)]
        cum: bool,
        #[command(flatten)]
        input: Input,
    },
    /// Total the samples by label key and value, like pprof's `-tags`.
    Tags {
        #[command(flatten)]
        input: Input,
    },
    /// Draw an interactive (searchable, zoomable) SVG flame graph.
    Flame {
        #[command(flatten)]
        input: Input,
        /// Where to write the SVG (`-` for standard output).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: std::path::PathBuf,
        /// The title (default: the profile type and sample type).
        #[arg(long)]
        title: Option<String>,
    },
    /// One row per lock (holdup's `lock` label): kind, contentions, delay, share, and the
    /// functions that wait for it and that hold it. Give a block and a mutex profile to see both.
    Locks {
        #[command(flatten)]
        opts: locks::LocksArgs,
    },
    /// Compare two profiles: what got worse, by function and by lock.
    Diff {
        #[command(flatten)]
        opts: diff::DiffArgs,
    },
    /// What every thread of a process is doing: stacks grouped, what each group waits for and
    /// who holds the lock, and deadlocks (from a holdup server's `/debug/pprof/goroutine`).
    Dump {
        #[command(flatten)]
        opts: dump::DumpArgs,
    },
    /// Read an execution trace (Perfetto's format, from `/debug/pprof/trace` or
    /// `holdup::trace`): a summary of who waited for what, or its waits as a block profile.
    Trace {
        #[command(subcommand)]
        command: trace::TraceCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the causes' messages look like.
            let text = format!("{e:#}");
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("holdup: {}", line.join(" "));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes the report to standard output.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Top { n, cum, input } => {
            let p = input.prepare()?;
            let view = p.view()?;
            let opts = TopOptions {
                sample_index: Some(p.index),
                node_count: n,
                sort: if cum { TopSort::Cum } else { TopSort::Flat },
                total: Some(p.total),
                active_filters: p.active_filters.clone(),
                ..TopOptions::default()
            };
            let mut text = holdup_pprof::top(&view, &opts).to_string();
            if let Some(line) = advice::advice(&view) {
                text.push_str(&line);
                text.push('\n');
            }
            emit(&text)?;
        }
        Command::List {
            regex,
            input,
            source_path,
            trim_path,
        } => {
            let re = input::regex(&regex, "list")?;
            let mut p = input.prepare()?;
            trim_source_paths(&mut p.profile, &trim_path);
            let view = p.view()?;
            let reader = |file: &str| read_source(file, &source_path);
            let text = report::list(
                &view,
                &|name| re.is_match(name),
                &reader,
                &report_options(&p),
            )
            .map_err(|_| anyhow::anyhow!("no matches found for regexp: {regex}"))?;
            emit(&text)?;
        }
        Command::Traces { input } => {
            let p = input.prepare()?;
            emit(&report::traces(&p.view()?, &report_options(&p)))?;
        }
        Command::Peek { regex, cum, input } => {
            let re = input::regex(&regex, "peek")?;
            let p = input.prepare()?;
            let mut opts = report_options(&p);
            opts.sort = if cum { TopSort::Cum } else { TopSort::Flat };
            let text = report::peek(&p.view()?, &|name| re.is_match(name), &opts)
                .map_err(|_| anyhow::anyhow!("no matches found for regexp: {regex}"))?;
            emit(&text)?;
        }
        Command::Tags { input } => {
            let p = input.prepare()?;
            emit(&report::tags(&p.view()?, &report_options(&p)))?;
        }
        Command::Flame {
            input,
            output,
            title,
        } => {
            let p = input.prepare()?;
            let svg = flame::svg(&p, title)?;
            if output.as_os_str() == "-" {
                let mut out = std::io::stdout().lock();
                out.write_all(&svg)?;
                out.flush()?;
            } else {
                std::fs::write(&output, &svg)
                    .with_context(|| format!("cannot write {}", output.display()))?;
                eprintln!("holdup: wrote {} ({} bytes)", output.display(), svg.len());
            }
        }
        Command::Locks { opts } => emit(&locks::run(&opts)?)?,
        Command::Dump { opts } => emit(&dump::run(&opts)?)?,
        Command::Trace { command } => emit(&trace::run(&command)?)?,
        Command::Diff { opts } => {
            let (text, worse) = diff::run(&opts)?;
            emit(&text)?;
            if worse {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report_options(p: &Prepared) -> ReportOptions {
    ReportOptions {
        sample_index: Some(p.index),
        total: Some(p.total),
        active_filters: p.active_filters.clone(),
        sort: TopSort::Flat,
    }
}

/// Removes the first matching prefix (and pprof's `/proc/self/cwd/`) from every function's
/// file name, as pprof's `-trim_path` does.
fn trim_source_paths(profile: &mut holdup_pprof::proto::Profile, prefixes: &[String]) {
    let files: std::collections::HashSet<usize> = profile
        .function
        .iter()
        .map(|f| f.filename as usize)
        .filter(|&i| i != 0)
        .collect();
    for i in files {
        let Some(name) = profile.string_table.get_mut(i) else {
            continue;
        };
        let mut trimmed = name
            .trim_start_matches("/proc/self/cwd/./")
            .trim_start_matches("/proc/self/cwd/");
        for prefix in prefixes.iter().filter(|p| !p.is_empty()) {
            let prefix = prefix.trim_end_matches('/');
            if let Some(rest) = trimmed.strip_prefix(prefix)
                && let Some(rest) = rest.strip_prefix('/')
            {
                trimmed = rest;
                break;
            }
        }
        *name = trimmed.to_owned();
    }
}

/// A source file for `list`, found as pprof finds it: an absolute path as is; a relative one
/// under each search directory or its parents.
fn read_source(file: &str, search: &[std::path::PathBuf]) -> Result<String, String> {
    let go_error = |path: &std::path::Path, e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => e.to_string(),
        };
        format!("open {}: {why}", path.display())
    };
    let path = std::path::Path::new(file);
    if path.is_absolute() {
        return std::fs::read_to_string(path).map_err(|e| go_error(path, e));
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let dirs: Vec<std::path::PathBuf> = if search.is_empty() {
        vec![cwd]
    } else {
        search.to_vec()
    };
    for dir in &dirs {
        for base in dir.ancestors() {
            let candidate = base.join(path);
            if let Ok(text) = std::fs::read_to_string(&candidate) {
                return Ok(text);
            }
        }
    }
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(format!(
        "could not find file {file} on path {}",
        shown.join(":")
    ))
}
