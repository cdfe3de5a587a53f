//! `holdup locks`: one row per lock, from holdup's `lock` and `kind` labels.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Result, bail};
use clap::Args;
use holdup_pprof::ProfileView;

use crate::source::{self, Fetch};

#[derive(Args, Debug)]
pub(crate) struct LocksArgs {
    /// Contention profiles: a block profile (who waits), a mutex profile (who holds), or
    /// both; files, - or URLs.
    #[arg(value_name = "SOURCE", required = true, num_args = 1..)]
    sources: Vec<String>,
    /// How many locks to show (0: all).
    #[arg(short = 'n', long = "nodecount", default_value_t = 20)]
    n: usize,
    /// For URLs: ask for the delta over the next N seconds.
    #[arg(long, value_name = "N")]
    seconds: Option<u64>,
    /// For URLs: give up after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
}

/// Whether a stack's leaf is a release (the mutex profile's unlocker stacks: Go's `Unlock`,
/// holdup's guard drops) rather than a wait (the block profile's).
pub(crate) fn is_release(leaf: &str) -> bool {
    leaf.contains("Unlock")
        || leaf.contains("unlock")
        || (leaf.contains("Guard") && leaf.ends_with("::drop"))
}

#[derive(Default)]
struct Row {
    kinds: BTreeSet<String>,
    /// (contentions, delay) on the waiting side (block profile) and the holding side.
    waited: (i64, i64),
    held: (i64, i64),
    waiting: HashMap<String, i64>,
    holding: HashMap<String, i64>,
    /// Of the holding side's delay: how much came from critical sections whose task was
    /// suspended (at an `.await`) while holding the lock (holdup's `held=suspended` label), and
    /// whether any sample said (`held` is only on locks tasks hold).
    suspended: i64,
    held_known: bool,
}

pub(crate) fn run(args: &LocksArgs) -> Result<String> {
    let fetch = Fetch {
        seconds: args.seconds,
        timeout: args.timeout.map(std::time::Duration::from_secs),
    };
    let mut rows: HashMap<String, Row> = HashMap::new();
    let mut notes = Vec::new();
    let mut advice = None;
    for src in &args.sources {
        let loaded = source::load(src, &fetch)?;
        let view = ProfileView::new(&loaded.profile)?;
        let (Some(ci), Some(di)) = (view.sample_index("contentions"), view.sample_index("delay"))
        else {
            let types: Vec<&str> = view.sample_types().iter().map(|t| t.0).collect();
            bail!(
                "{} is not a contention profile (sample types {}; want contentions and delay: a mutex or block profile)",
                loaded.name,
                types.join(", ")
            );
        };
        let mut labelled = false;
        for s in &view.profile().sample {
            let frames: Vec<_> = view.stack(s).collect();
            let Some(leaf) = frames.first() else { continue };
            let key = match view.label(s, "lock") {
                Some(site) => {
                    labelled = true;
                    site.to_owned()
                }
                None => format!("({})", display(leaf.function)),
            };
            let row = rows.entry(key).or_default();
            if let Some(kind) = view.label(s, "kind") {
                row.kinds.insert(kind.to_owned());
            }
            let (c, d) = (s.value[ci], s.value[di]);
            // The function below the primitive: the holder (mutex profile) or the waiter.
            let caller = frames
                .get(1)
                .map_or("?", |f| display(f.function))
                .to_owned();
            let (side, by) = if is_release(leaf.function) {
                (&mut row.held, &mut row.holding)
            } else {
                (&mut row.waited, &mut row.waiting)
            };
            side.0 = side.0.saturating_add(c);
            side.1 = side.1.saturating_add(d);
            let v = by.entry(caller).or_default();
            *v = v.saturating_add(d);
            if let Some(held) = view.label(s, "held") {
                row.held_known = true;
                if held == "suspended" {
                    row.suspended = row.suspended.saturating_add(d);
                }
            }
        }
        if !labelled && !view.profile().sample.is_empty() {
            notes.push(format!(
                "note: {} has no `lock` labels (not a holdup profile): rows are the blocking calls",
                loaded.name
            ));
        }
        if advice.is_none() {
            advice = crate::advice::advice(&view);
        }
    }
    Ok(render(rows, args.n, &notes, advice))
}

fn display(f: &str) -> &str {
    if f.is_empty() { "<unknown>" } else { f }
}

fn top(map: &HashMap<String, i64>) -> String {
    map.iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map_or_else(|| "-".to_owned(), |(f, _)| f.clone())
}

fn render(
    rows: HashMap<String, Row>,
    n: usize,
    notes: &[String],
    advice: Option<String>,
) -> String {
    // Values come from the waiting side when there is one (the block profile measures the
    // waits), else from the holding side (the mutex profile).
    let waits = rows.values().any(|r| r.waited != (0, 0));
    let side = |r: &Row| if waits { r.waited } else { r.held };
    let total: i64 = rows
        .values()
        .fold(0, |a, r| a.saturating_add(side(r).1.saturating_abs()));
    let mut sorted: Vec<(&String, &Row)> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        side(b.1)
            .1
            .saturating_abs()
            .cmp(&side(a.1).1.saturating_abs())
            .then_with(|| b.1.held.1.cmp(&a.1.held.1))
            .then_with(|| a.0.cmp(b.0))
    });
    let shown = if n == 0 {
        sorted.len()
    } else {
        n.min(sorted.len())
    };
    // A column for locks held across `.await` only when some lock is held by tasks.
    let across = rows.values().any(|r| r.held_known);
    let mut table = vec![vec![
        "LOCK".to_owned(),
        "KIND".to_owned(),
        "CONTENTIONS".to_owned(),
        "DELAY".to_owned(),
        "SHARE".to_owned(),
        "TOP WAITING".to_owned(),
        "TOP HOLDING".to_owned(),
    ]];
    if across {
        table[0].push("HELD ACROSS .AWAIT".to_owned());
    }
    for (lock, r) in &sorted[..shown] {
        let (c, d) = side(r);
        let share = if total == 0 {
            0.0
        } else {
            100.0 * d.saturating_abs() as f64 / total as f64
        };
        let kinds: Vec<&str> = r.kinds.iter().map(String::as_str).collect();
        let mut row = vec![
            (*lock).clone(),
            if kinds.is_empty() {
                "-".to_owned()
            } else {
                kinds.join(",")
            },
            c.to_string(),
            holdup_pprof::format_value(d, "nanoseconds"),
            format!("{share:.1}%"),
            top(&r.waiting),
            top(&r.holding),
        ];
        if across {
            // The share of the holders' charged delay from sections suspended at an `.await`.
            row.push(if r.held_known && r.held.1 != 0 {
                format!(
                    "{:.0}%",
                    100.0 * r.suspended as f64 / r.held.1.saturating_abs() as f64
                )
            } else {
                "-".to_owned()
            });
        }
        table.push(row);
    }
    let mut widths = vec![0usize; table[0].len()];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!(
        "{} locks; {} of delay in total, {}{}\n",
        rows.len(),
        holdup_pprof::format_value(total, "nanoseconds"),
        if waits {
            "as waited (block profile)"
        } else {
            "as charged to holders (mutex profile)"
        },
        if shown < rows.len() {
            format!("; the top {shown}:")
        } else {
            ":".to_owned()
        }
    );
    for row in &table {
        let mut line = String::new();
        for (i, (cell, &w)) in row.iter().zip(&widths).enumerate() {
            let right = (2..=4).contains(&i) || i == 7;
            let cell = if right {
                format!("{cell:>w$}")
            } else {
                format!("{cell:<w$}")
            };
            line.push_str(&cell);
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for note in notes {
        out.push_str(note);
        out.push('\n');
    }
    if let Some(a) = advice {
        out.push_str(&a);
        out.push('\n');
    }
    out
}
