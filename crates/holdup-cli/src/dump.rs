//! `holdup dump`: what every thread of a process is doing, from its `/debug/pprof/` server
//! (or a saved `goroutine` profile): grouped stacks, what each group waits for and who holds
//! it, and the deadlocks the server found; `--full` prints the server's per-thread dump.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use holdup_pprof::ProfileView;

use crate::source::{self, Fetch};

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    /// When standard output is a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
pub(crate) struct DumpArgs {
    /// A process's address (`http://127.0.0.1:6060`, or its `/debug/pprof/` URL), a `goroutine`
    /// profile URL or file (`debug=0` or `debug=1`), or `-` for standard input.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// One entry per thread with its wait, how long, the lock's holder and its spawn site (the
    /// server's `goroutine?debug=2`), instead of groups.
    #[arg(long)]
    full: bool,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Give up on a URL after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
}

/// The URL to ask for a dump: a bare address or a `/debug/pprof/` URL gets the goroutine path.
fn dump_url(source: &str, full: bool) -> String {
    let debug = if full { 2 } else { 1 };
    let (scheme, rest) = source.split_once("://").unwrap_or(("http", source));
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        format!("{scheme}://{host}/debug/pprof/goroutine?debug={debug}")
    } else if path.ends_with("debug/pprof") {
        format!("{scheme}://{host}/{path}/goroutine?debug={debug}")
    } else {
        source.to_owned()
    }
}

pub(crate) fn run(args: &DumpArgs) -> Result<String> {
    let fetch = Fetch {
        seconds: None,
        timeout: crate::input::timeout(args.timeout)?,
    };
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let source = if is_url {
        dump_url(&args.source, args.full)
    } else {
        args.source.clone()
    };
    let (bytes, name) = source::read(&source, &fetch)?;
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let paint = Paint(color);
    if bytes.starts_with(b"thread dump: ") {
        let text = String::from_utf8_lossy(&bytes);
        return Ok(full(&text, paint));
    }
    if args.full {
        bail!("{name} is not a full thread dump (ask a holdup server: goroutine?debug=2)");
    }
    let profile = source::parse(&bytes).with_context(|| format!("{name} is not a thread dump"))?;
    let view = ProfileView::new(&profile)?;
    if view.sample_types().first().map(|t| t.0) != Some("goroutine") {
        bail!(
            "{name} is not a goroutine profile (sample types {:?})",
            view.sample_types()
        );
    }
    let deadlocks: Vec<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| l.strip_prefix("# deadlock: ").map(str::to_owned))
        .collect();
    Ok(grouped(&view, &deadlocks, &name, paint))
}

#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn red(self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// What makes threads one group: their frames (function, file, line) and labels.
type GroupKey<'a> = (Vec<(&'a str, &'a str, i64)>, Vec<(&'a str, &'a str)>);

/// A group of threads: same stack, same labels (the thread names aside).
struct Group<'a> {
    count: i64,
    labels: Vec<(&'a str, &'a str)>,
    names: Vec<&'a str>,
    frames: Vec<&'a holdup_pprof::FrameRef<'a>>,
}

/// Groups, largest first: count, what they wait for and who holds it, then the stack.
fn grouped(view: &ProfileView<'_>, deadlocks: &[String], name: &str, paint: Paint) -> String {
    let samples = &view.profile().sample;
    // Samples differing only by thread name (a holdup proto has one per thread) are one group.
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: HashMap<GroupKey<'_>, usize> = HashMap::new();
    for s in samples {
        let frames: Vec<_> = view.stack(s).collect();
        let mut labels = view.labels(s);
        let thread = labels
            .iter()
            .position(|(k, _)| *k == "thread")
            .map(|i| labels.remove(i).1);
        labels.sort_unstable();
        let key = (
            frames
                .iter()
                .map(|f| (f.function, f.file, f.line))
                .collect(),
            labels.clone(),
        );
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                count: 0,
                labels,
                names: Vec::new(),
                frames,
            });
            groups.len() - 1
        });
        groups[i].count += s.value.first().copied().unwrap_or(0);
        groups[i].names.extend(thread.filter(|t| !t.is_empty()));
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    let total: i64 = groups.iter().map(|g| g.count).sum();
    let mut out = format!(
        "{} in {} groups ({name})\n",
        paint.bold(&format!("{total} threads")),
        groups.len()
    );
    if !deadlocks.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint.red(&format!(
                "{} deadlock{} found:",
                deadlocks.len(),
                if deadlocks.len() == 1 { "" } else { "s" }
            ))
        );
        for d in deadlocks {
            let _ = writeln!(out, "  {}", paint.red(d));
        }
    }
    for g in &groups {
        let label = |k: &str| g.labels.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let mut what = match (label("wait"), label("lock")) {
            (Some("running"), _) => "running".to_owned(),
            (Some("unknown"), _) => "blocked outside holdup's primitives (wait unknown)".to_owned(),
            (Some(kind), Some(lock)) => {
                let mut w = format!("{kind} wait on {lock}");
                match label("held_by") {
                    Some("readers") => w.push_str(", held for reading"),
                    Some(h) => {
                        let _ = write!(w, ", held by {h}");
                    }
                    None => {}
                }
                w
            }
            _ => {
                let labels: Vec<String> = g
                    .labels
                    .iter()
                    .filter(|(k, _)| !matches!(*k, "holding" | "tid"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                labels.join(", ")
            }
        };
        // A thread holding a lock others wait for: its id, which their `held by` names.
        if let Some(held) = label("holding") {
            let _ = write!(what, ", holding {held}");
        }
        let mut count = format!("{} thread{}", g.count, if g.count == 1 { "" } else { "s" });
        if let Some(tid) = label("tid") {
            let _ = write!(count, " {tid}");
        }
        if !g.names.is_empty() {
            let mut names = g.names.clone();
            names.sort_unstable();
            let shown: Vec<&str> = names.iter().take(5).copied().collect();
            let more = names.len().saturating_sub(shown.len());
            let _ = write!(
                count,
                " ({}{})",
                shown.join(", "),
                if more > 0 {
                    format!(", {more} more")
                } else {
                    String::new()
                }
            );
        }
        let what = if what.contains("held by") || what.contains("holding") {
            paint.yellow(&what)
        } else {
            what
        };
        let _ = writeln!(out, "\n{}  {what}", paint.bold(&count));
        if label("stack") == Some("unavailable") {
            let _ = writeln!(
                out,
                "    {}",
                paint.dim("(stack unavailable: the thread did not answer the dump's signal)")
            );
        }
        let width = g
            .frames
            .iter()
            .map(|f| f.function.len())
            .max()
            .unwrap_or(0)
            .min(80);
        for f in &g.frames {
            let func = if f.function.is_empty() {
                format!("{:#x}", f.address)
            } else {
                f.function.to_owned()
            };
            if f.file.is_empty() {
                let _ = writeln!(out, "    {func}");
            } else {
                let _ = writeln!(
                    out,
                    "    {func:width$}  {}",
                    paint.dim(&format!("{}:{}", f.file, f.line))
                );
            }
        }
    }
    out
}

/// The server's full dump, with headers and deadlocks highlighted.
fn full(text: &str, paint: Paint) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_deadlock = false;
    for line in text.lines() {
        if line.starts_with("deadlock: ") {
            in_deadlock = true;
        }
        let shown = if line.starts_with("thread dump: ")
            || (line.starts_with("thread ") && line.ends_with(':'))
        {
            let painted = paint.bold(line);
            if line.contains(" held by ") {
                paint.yellow(line)
            } else {
                painted
            }
        } else if in_deadlock && !line.starts_with("    ") {
            paint.red(line)
        } else if line.trim_start().starts_with("at ") {
            paint.dim(line)
        } else {
            line.to_owned()
        };
        out.push_str(&shown);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_addresses_get_the_goroutine_path() {
        assert_eq!(
            dump_url("http://127.0.0.1:6060", false),
            "http://127.0.0.1:6060/debug/pprof/goroutine?debug=1"
        );
        assert_eq!(
            dump_url("http://127.0.0.1:6060/", true),
            "http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            dump_url("http://h:1/debug/pprof/", false),
            "http://h:1/debug/pprof/goroutine?debug=1"
        );
        assert_eq!(
            dump_url("https://h/app/debug/pprof", true),
            "https://h/app/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            dump_url("http://h:1/debug/pprof/threads?debug=1", false),
            "http://h:1/debug/pprof/threads?debug=1"
        );
    }
}
