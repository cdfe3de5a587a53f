//! The `top` report of `go tool pprof -top`: functions ranked by the value they account for
//! directly (`flat`, as the leaf) and in total (`cum`, anywhere on the stack).
//!
//! The layout, units, percentages, ordering and node trimming follow pprof's text report, so a
//! Go user reads it the same way:
//!
//! ```text
//! Type: delay
//! Showing nodes accounting for 270.22ms, 100% of 270.22ms total
//!       flat  flat%   sum%        cum   cum%
//!   270.22ms   100%   100%   270.22ms   100%  sync.(*Mutex).Unlock (inline)
//!          0     0%   100%   270.22ms   100%  main.holder
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::codec::{FrameRef, ProfileView};
use crate::units;

/// How rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopSort {
    /// By flat value, then name, then cum value (pprof's default).
    #[default]
    Flat,
    /// By cum value, then name, then flat value (pprof's `-cum`).
    Cum,
}

/// Options for [`top`].
#[derive(Debug, Clone)]
pub struct TopOptions {
    /// Which sample value to rank by; `None` means the profile's default (the last type).
    pub sample_index: Option<usize>,
    /// How many rows to show; 0 shows all.
    pub node_count: usize,
    /// Functions whose cum value is below this fraction of the total are dropped (pprof: 0.005).
    pub node_fraction: f64,
    /// Row order.
    pub sort: TopSort,
    /// Print the profile header (file, build id, type, time) before the summary lines.
    pub profile_labels: bool,
}

impl Default for TopOptions {
    fn default() -> Self {
        TopOptions {
            sample_index: None,
            node_count: 10,
            node_fraction: 0.005,
            sort: TopSort::Flat,
            profile_labels: true,
        }
    }
}

/// One row of a [`TopReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    /// The function name (`<unknown>` when not symbolized).
    pub name: String,
    /// Value of samples where this function is the leaf.
    pub flat: i64,
    /// Value of samples where this function is anywhere on the stack.
    pub cum: i64,
    /// `Some("(inline)")` when every call to it was inlined, `Some("(partial-inline)")` when some.
    pub inline: Option<&'static str>,
}

/// A ranked list of functions; `Display` prints it like `go tool pprof -top`.
#[derive(Debug, Clone)]
pub struct TopReport {
    /// Header lines (profile labels, then the "Showing nodes ..." summary lines).
    pub labels: Vec<String>,
    /// Rows in display order.
    pub rows: Vec<TopRow>,
    /// The total of the ranked value over all samples.
    pub total: i64,
    unit: String,
    output_unit: String,
}

impl TopReport {
    /// Formats `value` in the report's unit, as pprof would (e.g. `270.22ms`).
    pub fn format_value(&self, value: i64) -> String {
        units::scaled_label(value, &self.unit, &self.output_unit)
    }
}

impl fmt::Display for TopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.labels {
            writeln!(f, "{l}")?;
        }
        writeln!(
            f,
            "{:>10} {:>5}% {:>5}% {:>10} {:>5}%",
            "flat", "flat", "sum", "cum", "cum"
        )?;
        let mut sum = 0;
        for r in &self.rows {
            sum += r.flat;
            let inline = r.inline.map(|s| format!(" {s}")).unwrap_or_default();
            writeln!(
                f,
                "{:>10} {} {} {:>10} {}  {}{}",
                self.format_value(r.flat),
                units::percentage(r.flat, self.total),
                units::percentage(sum, self.total),
                self.format_value(r.cum),
                units::percentage(r.cum, self.total),
                r.name,
                inline
            )?;
        }
        Ok(())
    }
}

/// pprof's default: edges lighter than this fraction of the total are trimmed (they then no
/// longer count for the `(inline)` labels).
const EDGE_FRACTION: f64 = 0.001;

/// A function in the call graph, pprof-style.
#[derive(Default)]
struct Node<'a> {
    flat: i64,
    cum: i64,
    /// Calls into this function: caller → (weight, every call inlined).
    callers: HashMap<&'a str, (i64, bool)>,
}

impl Node<'_> {
    /// `(inline)` when every remaining call into the function was inlined, `(partial-inline)`
    /// when some were.
    fn inline_label(&self, edge_cutoff: i64) -> Option<&'static str> {
        let (mut inline, mut plain) = (false, false);
        for &(weight, inlined) in self.callers.values() {
            if weight.abs() >= edge_cutoff {
                if inlined {
                    inline = true;
                } else {
                    plain = true;
                }
            }
        }
        match (inline, plain) {
            (true, false) => Some("(inline)"),
            (true, true) => Some("(partial-inline)"),
            _ => None,
        }
    }
}

/// Ranks the functions of the profile behind `view`.
pub fn top(view: &ProfileView<'_>, opts: &TopOptions) -> TopReport {
    let profile = view.profile();
    let index = opts
        .sample_index
        .unwrap_or_else(|| view.default_sample_index());
    let (sample_type, unit) = view.sample_types().get(index).copied().unwrap_or(("", ""));
    let stacks: Vec<(i64, Vec<FrameRef<'_>>)> = profile
        .sample
        .iter()
        .map(|s| (s.value.get(index).copied().unwrap_or(0), view.frames(s)))
        .collect();
    let total: i64 = stacks.iter().map(|(v, _)| v.abs()).sum();

    // As pprof: build the graph of every function, drop those whose cum is below the node
    // cutoff and rebuild without them, rank, keep the top `node_count` and rebuild again.
    let all = build_nodes(&stacks, None);
    let graph_total: i64 = all.values().map(|n| n.flat).sum();
    let node_cutoff = ((graph_total as f64) * opts.node_fraction).abs() as i64;
    let edge_cutoff = ((graph_total as f64) * EDGE_FRACTION).abs() as i64;
    let mut nodes = all;
    let mut dropped = 0;
    if node_cutoff > 0 {
        let kept: HashSet<&str> = nodes
            .iter()
            .filter(|(_, n)| n.cum.abs() >= node_cutoff)
            .map(|(k, _)| *k)
            .collect();
        if kept.len() != nodes.len() {
            dropped = nodes.len() - kept.len();
            nodes = build_nodes(&stacks, Some(&kept));
        }
    }
    let orig_count = nodes.len();
    let mut names: Vec<&str> = nodes.keys().copied().collect();
    sort_names(&mut names, &nodes, opts.sort);
    let node_count = opts.node_count;
    if node_count > 0 && names.len() > node_count {
        names.truncate(node_count);
        let kept: HashSet<&str> = names.iter().copied().collect();
        nodes = build_nodes(&stacks, Some(&kept));
        sort_names(&mut names, &nodes, opts.sort);
    }
    let rows = names
        .iter()
        .map(|&name| {
            let n = &nodes[name];
            TopRow {
                name: display_name(name).to_owned(),
                flat: n.flat,
                cum: n.cum,
                inline: n.inline_label(edge_cutoff),
            }
        })
        .collect();

    let mut report = TopReport {
        labels: Vec::new(),
        rows,
        total,
        unit: unit.to_owned(),
        output_unit: String::new(),
    };
    report.output_unit = select_output_unit(&report, unit);
    if opts.profile_labels {
        report.labels = profile_labels(view, sample_type, &report);
    }
    let shown: i64 = report.rows.iter().map(|r| r.flat).sum();
    report.labels.push(format!(
        "Showing nodes accounting for {}, {} of {} total",
        report.format_value(shown),
        units::percentage(shown, total).trim(),
        report.format_value(total)
    ));
    if total != 0 {
        if dropped > 0 {
            report.labels.push(format!(
                "Dropped {dropped} {} (cum <= {})",
                if dropped > 1 { "nodes" } else { "node" },
                report.format_value(((total as f64) * opts.node_fraction).abs() as i64)
            ));
        }
        if node_count > 0 && node_count < orig_count {
            report.labels.push(format!(
                "Showing top {node_count} nodes out of {orig_count}"
            ));
        }
    }
    report
}

fn build_nodes<'a>(
    stacks: &[(i64, Vec<FrameRef<'a>>)],
    keep: Option<&HashSet<&str>>,
) -> HashMap<&'a str, Node<'a>> {
    let mut nodes: HashMap<&'a str, Node<'a>> = HashMap::new();
    let mut seen_nodes = HashSet::new();
    let mut seen_edges = HashSet::new();
    for (value, frames) in stacks {
        seen_nodes.clear();
        seen_edges.clear();
        let is_kept = |f: &FrameRef<'_>| keep.is_none_or(|k| k.contains(f.function));
        // From the root to the leaf; the caller of a kept frame is the previous kept frame.
        let mut parent: Option<&'a str> = None;
        for frame in frames.iter().rev().filter(|f| is_kept(f)) {
            let node = nodes.entry(frame.function).or_default();
            if seen_nodes.insert(frame.function) {
                node.cum += value;
            }
            if let Some(p) = parent
                && p != frame.function
                && seen_edges.insert((p, frame.function))
            {
                let edge = node.callers.entry(p).or_insert((0, true));
                edge.0 += value;
                edge.1 &= frame.inlined;
            }
            parent = Some(frame.function);
        }
        // pprof gives the flat value to the leaf only if the leaf itself is kept; a dropped
        // leaf's value counts in its callers' cum but in no one's flat.
        if let Some(leaf) = frames.first().filter(|f| is_kept(f)) {
            nodes.entry(leaf.function).or_default().flat += value;
        }
    }
    nodes
}

/// Orders functions as pprof does: by |flat| (or |cum|), then name, then the other value.
fn sort_names(names: &mut [&str], nodes: &HashMap<&str, Node<'_>>, sort: TopSort) {
    names.sort_by(|a, b| {
        let (na, nb) = (&nodes[a], &nodes[b]);
        let by_name = || display_name(a).cmp(display_name(b));
        match sort {
            TopSort::Flat => nb
                .flat
                .abs()
                .cmp(&na.flat.abs())
                .then_with(by_name)
                .then_with(|| nb.cum.abs().cmp(&na.cum.abs())),
            TopSort::Cum => nb
                .cum
                .abs()
                .cmp(&na.cum.abs())
                .then_with(by_name)
                .then_with(|| nb.flat.abs().cmp(&na.flat.abs())),
        }
    });
}

/// What pprof prints for a function without a name.
fn display_name(name: &str) -> &str {
    if name.is_empty() { "<unknown>" } else { name }
}

/// pprof's "minimum" output unit: the unit of the smallest shown value, unless that is more than
/// 100 times smaller than the total, in which case values may go down to 0.01 of a larger unit.
fn select_output_unit(report: &TopReport, unit: &str) -> String {
    let mut min = 0i64;
    for r in &report.rows {
        let v = if r.flat != 0 {
            r.flat.abs()
        } else {
            r.cum.abs()
        };
        if v > 0 && (min == 0 || v < min) {
            min = v;
        }
    }
    let max = report.total;
    if min == 0 {
        min = max;
    }
    let (_, min_unit) = units::scale(min, unit, "minimum");
    let (_, max_unit) = units::scale(max, unit, "minimum");
    let mut out = min_unit;
    if out != max_unit && min.saturating_mul(100) < max {
        out = units::scale(min.saturating_mul(100), unit, "minimum").1;
    }
    if out.is_empty() { unit.to_owned() } else { out }
}

fn profile_labels(view: &ProfileView<'_>, sample_type: &str, report: &TopReport) -> Vec<String> {
    let p = view.profile();
    let mut out = Vec::new();
    if let Some(m) = p.mapping.first() {
        let file = view.string(m.filename);
        if !file.is_empty() {
            out.push(format!("File: {}", file.rsplit('/').next().unwrap_or(file)));
        }
        let build_id = view.string(m.build_id);
        if !build_id.is_empty() {
            out.push(format!("Build ID: {build_id}"));
        }
    }
    for &c in &p.comment {
        let c = view.string(c);
        if !c.starts_with('#') {
            out.push(c.to_owned());
        }
    }
    if !sample_type.is_empty() {
        out.push(format!("Type: {sample_type}"));
    }
    if p.time_nanos != 0 {
        out.push(format!("Time: {}", units::format_utc(p.time_nanos)));
    }
    if p.duration_nanos != 0 {
        let duration = units::scaled_label(p.duration_nanos, "nanoseconds", "auto");
        let (total_ns, total_unit) = units::scale(report.total, &report.unit, "nanoseconds");
        let ratio = if total_unit == "ns" && total_ns != 0.0 {
            format!("({})", units::percentage(total_ns as i64, p.duration_nanos))
        } else {
            String::new()
        };
        out.push(format!(
            "Duration: {duration}, Total samples = {} {ratio}",
            report.format_value(report.total)
        ));
    }
    out
}
