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

use std::fmt;

use crate::codec::ProfileView;
use crate::graph::{EDGE_FRACTION, Nodes, build_graph, sort_nodes};
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
    /// The total that percentages refer to, when the profile was filtered: pprof relates
    /// everything to the unfiltered total. `None` uses this profile's total.
    pub total: Option<i64>,
    /// The filters in effect, as `name=value` (`focus=Cache::get`), printed under
    /// `Active filters:` as pprof does.
    pub active_filters: Vec<String>,
}

impl Default for TopOptions {
    fn default() -> Self {
        TopOptions {
            sample_index: None,
            node_count: 10,
            node_fraction: 0.005,
            sort: TopSort::Flat,
            profile_labels: true,
            total: None,
            active_filters: Vec::new(),
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
        let mut sum = 0i64;
        for r in &self.rows {
            sum = sum.saturating_add(r.flat);
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

/// Ranks the functions of the profile behind `view`.
pub fn top(view: &ProfileView<'_>, opts: &TopOptions) -> TopReport {
    let index = opts
        .sample_index
        .unwrap_or_else(|| view.default_sample_index());
    let (sample_type, unit) = view.sample_types().get(index).copied().unwrap_or(("", ""));
    let nodes = Nodes::new(view);
    let total: i64 = opts.total.unwrap_or_else(|| sample_total(view, index));

    // As pprof: build the graph of every function, drop those whose cum is below the node
    // cutoff and rebuild without them, rank, keep the top `node_count` and rebuild again. Only
    // the last graph needs the calls between functions (for the `(inline)` labels), so the
    // passes before it skip them.
    let all = build_graph(view, &nodes, index, None, false);
    let graph_total: i64 = all.flat.iter().fold(0, |a, &v| a.saturating_add(v));
    let node_cutoff = ((graph_total as f64) * opts.node_fraction).abs() as i64;
    let edge_cutoff = ((graph_total as f64) * EDGE_FRACTION).abs() as i64;
    let all_count = all.nodes().count();
    let keep: Vec<bool> = (0..all.present.len())
        .map(|n| all.present[n] && all.cum[n].saturating_abs() >= node_cutoff)
        .collect();
    let kept = keep.iter().filter(|&&k| k).count();
    let dropped = all_count - kept;
    let node_count = opts.node_count;
    let truncating = node_count > 0 && kept > node_count;
    let mut graph = match (dropped > 0, truncating) {
        (true, _) => build_graph(view, &nodes, index, Some(&keep), !truncating),
        (false, false) => build_graph(view, &nodes, index, None, true),
        (false, true) => all,
    };
    let mut ranked: Vec<u32> = graph.nodes().collect();
    let orig_count = ranked.len();
    sort_nodes(&mut ranked, &graph, &nodes, opts.sort);
    if truncating {
        ranked.truncate(node_count);
        let mut keep = vec![false; graph.present.len()];
        for &n in &ranked {
            keep[n as usize] = true;
        }
        graph = build_graph(view, &nodes, index, Some(&keep), true);
        sort_nodes(&mut ranked, &graph, &nodes, opts.sort);
    }
    let rows = ranked
        .iter()
        .map(|&n| TopRow {
            name: nodes.display(n).to_owned(),
            flat: graph.flat[n as usize],
            cum: graph.cum[n as usize],
            inline: graph.inline_label(n, edge_cutoff),
        })
        .collect();

    let mut report = TopReport {
        labels: Vec::new(),
        rows,
        total,
        unit: unit.to_owned(),
        output_unit: String::new(),
    };
    report.output_unit = select_output_unit(
        report.rows.iter().map(|r| (r.flat, r.cum)),
        report.total,
        unit,
    );
    if opts.profile_labels {
        report.labels = profile_labels(view, sample_type, total, unit, &report.output_unit);
    }
    report.labels.extend(filter_labels(&opts.active_filters));
    let shown: i64 = report.rows.iter().fold(0, |a, r| a.saturating_add(r.flat));
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

/// pprof's "minimum" output unit: the unit of the smallest shown value, unless that is more than
/// 100 times smaller than the total, in which case values may go down to 0.01 of a larger unit.
pub(crate) fn select_output_unit(
    values: impl Iterator<Item = (i64, i64)>,
    total: i64,
    unit: &str,
) -> String {
    let mut min = 0i64;
    for (flat, cum) in values {
        let v = if flat != 0 {
            flat.saturating_abs()
        } else {
            cum.saturating_abs()
        };
        if v > 0 && (min == 0 || v < min) {
            min = v;
        }
    }
    let max = total;
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

/// The sum of |value `index`| over all samples: what percentages refer to.
pub(crate) fn sample_total(view: &ProfileView<'_>, index: usize) -> i64 {
    view.profile()
        .sample
        .iter()
        .map(|s| s.value.get(index).copied().unwrap_or(0).saturating_abs())
        .fold(0, i64::saturating_add)
}

/// pprof's `Active filters:` block (values cut to 80 bytes).
pub(crate) fn filter_labels(filters: &[String]) -> Vec<String> {
    if filters.is_empty() {
        return Vec::new();
    }
    let mut out = vec!["Active filters:".to_owned()];
    for f in filters {
        let mut cut = f.len().min(80);
        while !f.is_char_boundary(cut) {
            cut -= 1;
        }
        let ellipsis = if cut < f.len() { "…" } else { "" };
        out.push(format!("   {}{ellipsis}", &f[..cut]));
    }
    out
}

/// pprof's header: `File:`, `Build ID:`, comments, `Type:`, `Time:`, `Duration:` (values in
/// `output_unit`, or each scaled on its own with `"minimum"`).
pub(crate) fn profile_labels(
    view: &ProfileView<'_>,
    sample_type: &str,
    total: i64,
    unit: &str,
    output_unit: &str,
) -> Vec<String> {
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
        let (total_ns, total_unit) = units::scale(total, unit, "nanoseconds");
        let ratio = if total_unit == "ns" && total_ns != 0.0 {
            format!("({})", units::percentage(total_ns as i64, p.duration_nanos))
        } else {
            String::new()
        };
        out.push(format!(
            "Duration: {duration}, Total samples = {} {ratio}",
            units::scaled_label(total, unit, output_unit)
        ));
    }
    out
}
