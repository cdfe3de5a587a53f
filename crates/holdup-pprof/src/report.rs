//! pprof's other text reports, in `go tool pprof`'s layout: `-traces` (every sample's stack),
//! `-peek` (callers and callees of functions), `-tags` (label totals) and `-list` (source
//! lines with their values).
//!
//! Patterns are closures over names, so that callers pick the pattern language.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use crate::codec::ProfileView;
use crate::graph::{Nodes, build_graph, display_name, sort_nodes};
use crate::top::{TopSort, filter_labels, profile_labels, sample_total, select_output_unit};
use crate::units;

/// What the reports here have in common.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Which sample value to report; `None` means the profile's default (the last type).
    pub sample_index: Option<usize>,
    /// The total percentages refer to (pprof: the unfiltered total); `None` uses this
    /// profile's.
    pub total: Option<i64>,
    /// The filters in effect, as `name=value`, for the `Active filters:` header of `peek`.
    pub active_filters: Vec<String>,
    /// Node order for `peek`.
    pub sort: TopSort,
}

/// A report found nothing to show for its pattern (pprof: `no matches found for regexp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatch;

impl std::fmt::Display for NoMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no function matches")
    }
}

impl std::error::Error for NoMatch {}

struct Selected<'a> {
    index: usize,
    sample_type: &'a str,
    unit: &'a str,
    total: i64,
}

fn select<'a>(view: &ProfileView<'a>, opts: &ReportOptions) -> Selected<'a> {
    let index = opts
        .sample_index
        .unwrap_or_else(|| view.default_sample_index());
    let (sample_type, unit) = view.sample_types().get(index).copied().unwrap_or(("", ""));
    let total = opts.total.unwrap_or_else(|| sample_total(view, index));
    Selected {
        index,
        sample_type,
        unit,
        total,
    }
}

const TRACE_SEPARATOR: &str = "-----------+-------------------------------------------------------";

/// `go tool pprof -traces`: the profile's header, then every sample (in profile order) with
/// its labels and its stack, leaf first, the value on the leaf's line.
pub fn traces(view: &ProfileView<'_>, opts: &ReportOptions) -> String {
    let sel = select(view, opts);
    let mut out = String::new();
    for l in profile_labels(view, sel.sample_type, sel.total, sel.unit, "minimum") {
        let _ = writeln!(out, "{l}");
    }
    for s in &view.profile().sample {
        let frames = view.frames(s);
        if frames.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{TRACE_SEPARATOR}");
        // Labels: one line per key, values joined; the formatted lines sorted, as pprof does.
        let mut by_key: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (k, v) in view.labels(s) {
            by_key.entry(k).or_default().push(v.to_owned());
        }
        let mut lines: Vec<String> = by_key
            .iter()
            .map(|(k, vs)| format!("{k:>10}:  {}", vs.join(" ")))
            .collect();
        lines.sort();
        let mut numeric: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for l in s.label.iter().filter(|l| l.str == 0 && l.key != 0) {
            let key = view.string(l.key);
            let unit = match view.string(l.num_unit) {
                "" if matches!(key, "alignment" | "request") => "bytes",
                "" => key,
                u => u,
            };
            numeric
                .entry(key)
                .or_default()
                .push(units::scaled_label(l.num, unit, "auto"));
        }
        let mut num_lines: Vec<String> = numeric
            .iter()
            .map(|(k, vs)| format!("{k:>10}:  {}", vs.join(" ")))
            .collect();
        num_lines.sort();
        for l in lines.iter().chain(&num_lines) {
            let _ = writeln!(out, "{l}");
        }
        let value = s.value.get(sel.index).copied().unwrap_or(0);
        for (i, f) in frames.iter().enumerate() {
            let v = if i == 0 {
                units::scaled_label(value, sel.unit, "minimum")
            } else {
                String::new()
            };
            let inline = if f.inlined { " (inline)" } else { "" };
            let _ = writeln!(out, "{v:>10}   {}{inline}", display_name(f.function));
        }
    }
    let _ = writeln!(out, "{TRACE_SEPARATOR}");
    out
}

const PEEK_SEPARATOR: &str =
    "----------------------------------------------------------+-------------";
const PEEK_LEGEND: &str =
    "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t ";

/// `go tool pprof -peek`: for every function whose name `matches`, its callers (with the share
/// of its cum each accounts for), itself, and its callees.
pub fn peek(
    view: &ProfileView<'_>,
    matches: &dyn Fn(&str) -> bool,
    opts: &ReportOptions,
) -> Result<String, NoMatch> {
    let sel = select(view, opts);
    let nodes = Nodes::new(view);
    let g = build_graph(view, &nodes, sel.index, None, true);
    let mut order: Vec<u32> = g.nodes().collect();
    sort_nodes(&mut order, &g, &nodes, opts.sort);
    let matched: Vec<u32> = order
        .iter()
        .copied()
        .filter(|&n| matches(nodes.display(n)))
        .collect();
    if matched.is_empty() {
        return Err(NoMatch);
    }
    let output_unit = select_output_unit(
        order
            .iter()
            .map(|&n| (g.flat[n as usize], g.cum[n as usize])),
        sel.total,
        sel.unit,
    );
    let fmt = |v: i64| units::scaled_label(v, sel.unit, &output_unit);
    let mut out = String::new();
    for l in profile_labels(view, sel.sample_type, sel.total, sel.unit, &output_unit) {
        let _ = writeln!(out, "{l}");
    }
    for l in filter_labels(&opts.active_filters) {
        let _ = writeln!(out, "{l}");
    }
    let shown: i64 = order
        .iter()
        .fold(0, |a, &n| a.saturating_add(g.flat[n as usize]));
    let _ = writeln!(
        out,
        "Showing nodes accounting for {}, {} of {} total",
        fmt(shown),
        units::percentage(shown, sel.total).trim(),
        fmt(sel.total)
    );
    let _ = writeln!(out, "{PEEK_SEPARATOR}\n{PEEK_LEGEND}");
    // Edges by weight, then source name, then destination name.
    let mut edges: Vec<(u32, u32, i64, bool)> = g
        .edges
        .iter()
        .map(|(&(from, to), &(w, inline))| (from, to, w, inline))
        .collect();
    edges.sort_by(|a, b| {
        b.2.saturating_abs()
            .cmp(&a.2.saturating_abs())
            .then_with(|| nodes.display(a.0).cmp(nodes.display(b.0)))
            .then_with(|| nodes.display(a.1).cmp(nodes.display(b.1)))
    });
    let mut sum = 0i64;
    for &n in &matched {
        let (flat, cum) = (g.flat[n as usize], g.cum[n as usize]);
        sum = sum.saturating_add(flat);
        let _ = writeln!(out, "{PEEK_SEPARATOR}");
        let edge_line = |out: &mut String, other: u32, w: i64, inline: bool| {
            let _ = writeln!(
                out,
                "{:>50} {} |   {}{}",
                fmt(w),
                units::percentage(w, cum),
                nodes.display(other),
                if inline { " (inline)" } else { "" }
            );
        };
        for &(from, _, w, inline) in edges.iter().filter(|e| e.1 == n) {
            edge_line(&mut out, from, w, inline);
        }
        let _ = writeln!(
            out,
            "{:>10} {} {} {:>10} {}                | {}",
            fmt(flat),
            units::percentage(flat, sel.total),
            units::percentage(sum, sel.total),
            fmt(cum),
            units::percentage(cum, sel.total),
            nodes.display(n)
        );
        for &(_, to, w, inline) in edges.iter().filter(|e| e.0 == n) {
            edge_line(&mut out, to, w, inline);
        }
    }
    let _ = writeln!(out, "{PEEK_SEPARATOR}");
    Ok(out)
}

/// `go tool pprof -tags`: for every label key, its total and each value's share, largest
/// first. Prints nothing for a profile without labels.
pub fn tags(view: &ProfileView<'_>, opts: &ReportOptions) -> String {
    let sel = select(view, opts);
    let fmt = |v: i64| units::scaled_label(v, sel.unit, "minimum");
    let mut keys: BTreeMap<String, (i64, HashMap<String, i64>)> = BTreeMap::new();
    for s in &view.profile().sample {
        let value = s.value.get(sel.index).copied().unwrap_or(0);
        for l in &s.label {
            let key = view.string(l.key);
            let text = if l.str != 0 {
                view.string(l.str).to_owned()
            } else {
                let unit = match view.string(l.num_unit) {
                    "" if matches!(key, "alignment" | "request") => "bytes",
                    "" => key,
                    u => u,
                };
                units::scaled_label(l.num, unit, "minimum")
            };
            let entry = keys.entry(key.to_owned()).or_default();
            entry.0 = entry.0.saturating_add(value);
            let v = entry.1.entry(text).or_default();
            *v = v.saturating_add(value);
        }
    }
    let mut out = String::new();
    for (key, (total, values)) in &keys {
        let mut values: Vec<(&String, &i64)> = values.iter().collect();
        values.sort_by(|a, b| {
            b.1.saturating_abs()
                .cmp(&a.1.saturating_abs())
                .then_with(|| a.0.cmp(b.0))
        });
        let pct = |v: i64| {
            if sel.total == 0 {
                String::new()
            } else {
                format!(" ({})", units::percentage(v, sel.total))
            }
        };
        let _ = writeln!(
            out,
            " {key}: Total {} of {}{}",
            fmt(*total),
            fmt(sel.total),
            pct(*total)
        );
        // Go's right-aligned tabwriter: the key column is `key:` plus one space wide; the
        // value cells are right-aligned to the widest plus one.
        let indent = key.chars().count() + 2;
        let cells: Vec<String> = values
            .iter()
            .map(|&(_, &v)| format!("{}{}:", fmt(v), pct(v)))
            .collect();
        let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0) + 1;
        for ((text, _), cell) in values.iter().zip(&cells) {
            let _ = writeln!(
                out,
                "{:indent$}{cell:>width$} {text}",
                "",
                indent = indent,
                width = width
            );
        }
        out.push('\n');
    }
    out
}

/// Where `list` finds source files: given a file name from the profile, its text, or why not
/// (pprof prints ` Error: <why>` under the function).
pub type SourceReader<'s> = &'s dyn Fn(&str) -> Result<String, String>;

/// `go tool pprof -list`: for every function whose name `matches`, per source file, its flat
/// and cum totals, then each line of its source from the function's first line to 5 lines past
/// the last line with samples, with that line's values (`.` for none).
pub fn list(
    view: &ProfileView<'_>,
    matches: &dyn Fn(&str) -> bool,
    source: SourceReader<'_>,
    opts: &ReportOptions,
) -> Result<String, NoMatch> {
    let sel = select(view, opts);
    let fmt = |v: i64| units::scaled_label(v, sel.unit, "minimum");
    let dot = |v: i64| if v == 0 { ".".to_owned() } else { fmt(v) };
    // Values per (function, file, line), each counted once per sample.
    type Key<'k> = (&'k str, &'k str, i64);
    let mut values: HashMap<Key<'_>, (i64, i64)> = HashMap::new();
    let mut seen: HashSet<Key<'_>> = HashSet::new();
    for s in &view.profile().sample {
        let value = s.value.get(sel.index).copied().unwrap_or(0);
        if value == 0 {
            continue;
        }
        seen.clear();
        for (i, f) in view.stack(s).enumerate() {
            if !matches(f.function) {
                continue;
            }
            let key = (f.function, f.file, f.line);
            let e = values.entry(key).or_default();
            if i == 0 {
                e.0 = e.0.saturating_add(value);
            }
            if seen.insert(key) {
                e.1 = e.1.saturating_add(value);
            }
        }
    }
    if values.is_empty() {
        return Err(NoMatch);
    }
    // Functions by name, then their files by name (and first line).
    /// (line, flat, cum) of one function in one file.
    type Lines = Vec<(i64, i64, i64)>;
    let mut functions: BTreeMap<&str, BTreeMap<&str, Lines>> = BTreeMap::new();
    for (&(function, file, line), &(flat, cum)) in &values {
        functions
            .entry(function)
            .or_default()
            .entry(file)
            .or_default()
            .push((line, flat, cum));
    }
    let start_lines = start_lines(view);
    let mut out = format!("Total: {}\n", fmt(sel.total));
    for (function, files) in &functions {
        if files.keys().all(|f| f.is_empty()) {
            let _ = writeln!(out, "No source information for {function}");
            continue;
        }
        for (file, lines) in files.iter().filter(|(f, _)| !f.is_empty()) {
            let (flat, cum) = lines.iter().fold((0i64, 0i64), |(f, c), &(_, lf, lc)| {
                (f.saturating_add(lf), c.saturating_add(lc))
            });
            let _ = writeln!(out, "ROUTINE ======================== {function} in {file}");
            let _ = writeln!(
                out,
                "{:>10} {:>10} (flat, cum) {} of Total",
                fmt(flat),
                fmt(cum),
                units::percentage(cum, sel.total)
            );
            let text = match source(file) {
                Ok(t) => t,
                Err(e) => {
                    let _ = writeln!(out, " Error: {e}");
                    continue;
                }
            };
            let first = lines.iter().map(|l| l.0).min().unwrap_or(1);
            let last = lines
                .iter()
                .map(|l| l.0)
                .max()
                .unwrap_or(1)
                .saturating_add(5);
            let start = start_lines
                .get(&(*function, *file))
                .copied()
                .filter(|&s| s > 0)
                .unwrap_or(first.saturating_sub(5))
                .max(1);
            let mut by_line: HashMap<i64, (i64, i64)> = HashMap::new();
            for &(line, f, c) in lines {
                let e = by_line.entry(line).or_default();
                e.0 = e.0.saturating_add(f);
                e.1 = e.1.saturating_add(c);
            }
            for (n, src) in text.lines().enumerate() {
                let n = n as i64 + 1;
                if n < start {
                    continue;
                }
                if n > last {
                    break;
                }
                let (f, c) = by_line.get(&n).copied().unwrap_or((0, 0));
                let _ = writeln!(out, "{:>10} {:>10} {n:>6}:{src}", dot(f), dot(c));
            }
        }
    }
    Ok(out)
}

/// Each function's first line (`start_line`), by name and file.
fn start_lines<'a>(view: &ProfileView<'a>) -> HashMap<(&'a str, &'a str), i64> {
    let mut out = HashMap::new();
    for f in &view.profile().function {
        if f.start_line > 0 {
            out.entry((view.string(f.name), view.string(f.filename)))
                .or_insert(f.start_line);
        }
    }
    out
}
