//! `holdup diff`: what changed between two profiles, by function and by lock, biggest change
//! first; with `--fail-if-worse`, a CI gate.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result, bail};
use clap::Args;
use holdup_pprof::{ProfileView, TopOptions};

use crate::input::sample_index;
use crate::source::{self, Fetch};

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The profile before (file, - or URL).
    #[arg(value_name = "BASE")]
    base: String,
    /// The profile after.
    #[arg(value_name = "NEW")]
    new: String,
    /// The sample type to compare, by name (default: the base profile's default).
    #[arg(long, value_name = "NAME")]
    sample: Option<String>,
    /// How many rows per table (0: all).
    #[arg(short = 'n', long = "nodecount", default_value_t = 10)]
    n: usize,
    /// Exit with status 1 when the total grew by more than PERCENT (or any lock's value did,
    /// for holdup profiles).
    #[arg(long = "fail-if-worse", value_name = "PERCENT")]
    fail_if_worse: Option<f64>,
    /// For URLs: give up after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
}

struct Side {
    name: String,
    unit: String,
    total: i64,
    functions: HashMap<String, i64>,
    locks: HashMap<String, i64>,
}

fn side(source: &str, fetch: &Fetch, sample: Option<&str>) -> Result<(Side, String)> {
    let loaded = source::load(source, fetch)?;
    let view = ProfileView::new(&loaded.profile)?;
    let index = match sample {
        Some(name) => view
            .sample_index(name)
            .with_context(|| format!("{} has no sample type {name:?}", loaded.name))?,
        None => sample_index(&view, None)?,
    };
    let (ty, unit) = view.sample_types()[index];
    let report = holdup_pprof::top(
        &view,
        &TopOptions {
            sample_index: Some(index),
            node_count: 0,
            node_fraction: 0.0,
            profile_labels: false,
            ..TopOptions::default()
        },
    );
    let functions = report
        .rows
        .iter()
        .map(|r| (r.name.clone(), r.cum))
        .collect();
    let mut locks: HashMap<String, i64> = HashMap::new();
    for s in &view.profile().sample {
        if let Some(site) = view.label(s, "lock") {
            let v = locks.entry(site.to_owned()).or_default();
            *v = v.saturating_add(s.value[index]);
        }
    }
    Ok((
        Side {
            name: loaded.name.clone(),
            unit: unit.to_owned(),
            total: report.total,
            functions,
            locks,
        },
        ty.to_owned(),
    ))
}

fn change(base: i64, new: i64) -> String {
    if base == 0 {
        return if new == 0 {
            "0%".to_owned()
        } else {
            "new".to_owned()
        };
    }
    format!(
        "{:+.1}%",
        100.0 * (new as f64 - base as f64) / (base as f64).abs()
    )
}

fn table(
    title: &str,
    base: &HashMap<String, i64>,
    new: &HashMap<String, i64>,
    unit: &str,
    n: usize,
) -> String {
    let keys: BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    let mut rows: Vec<(&String, i64, i64)> = keys
        .into_iter()
        .map(|k| {
            (
                k,
                base.get(k).copied().unwrap_or(0),
                new.get(k).copied().unwrap_or(0),
            )
        })
        .filter(|(_, b, n)| b != n)
        .collect();
    let delta = |r: &(&String, i64, i64)| r.2.saturating_sub(r.1).saturating_abs();
    rows.sort_by(|a, b| delta(b).cmp(&delta(a)).then_with(|| a.0.cmp(b.0)));
    let shown = if n == 0 {
        rows.len()
    } else {
        n.min(rows.len())
    };
    let fmt = |v: i64| holdup_pprof::format_value(v, unit);
    let signed = |v: i64| {
        if v > 0 {
            format!("+{}", fmt(v))
        } else if v < 0 {
            format!("-{}", fmt(v.saturating_neg()))
        } else {
            "0".to_owned()
        }
    };
    let mut out = format!(
        "\n{title} ({} changed{}):\n",
        rows.len(),
        if shown < rows.len() {
            format!(", top {shown}")
        } else {
            String::new()
        }
    );
    out.push_str(&format!(
        "{:>10} {:>10} {:>11} {:>8}  {}\n",
        "BASE", "NEW", "CHANGE", "", "NAME"
    ));
    for (name, b, n) in &rows[..shown] {
        out.push_str(&format!(
            "{:>10} {:>10} {:>11} {:>8}  {name}\n",
            fmt(*b),
            fmt(*n),
            signed(n.saturating_sub(*b)),
            change(*b, *n)
        ));
    }
    out
}

/// The report, and whether it is worse than `--fail-if-worse` allows.
pub(crate) fn run(args: &DiffArgs) -> Result<(String, bool)> {
    let fetch = Fetch {
        seconds: None,
        timeout: args.timeout.map(std::time::Duration::from_secs),
    };
    if let Some(p) = args.fail_if_worse
        && !(p >= 0.0 && p.is_finite())
    {
        bail!("--fail-if-worse must be a percentage of 0 or more");
    }
    let (base, ty) = side(&args.base, &fetch, args.sample.as_deref())?;
    let (new, _) = side(
        &args.new,
        &fetch,
        Some(args.sample.as_deref().unwrap_or(&ty)),
    )?;
    if base.unit != new.unit {
        bail!(
            "{} is in {} and {} in {}: not comparable",
            base.name,
            base.unit,
            new.name,
            new.unit
        );
    }
    let fmt = |v: i64| holdup_pprof::format_value(v, &base.unit);
    let mut out = format!(
        "Type: {ty}\nbase: {} ({} total)\nnew:  {} ({} total)\ntotal: {} -> {} ({})\n",
        base.name,
        fmt(base.total),
        new.name,
        fmt(new.total),
        fmt(base.total),
        fmt(new.total),
        change(base.total, new.total)
    );
    out.push_str(&table(
        "by function, cumulative",
        &base.functions,
        &new.functions,
        &base.unit,
        args.n,
    ));
    if !base.locks.is_empty() || !new.locks.is_empty() {
        out.push_str(&table(
            "by lock",
            &base.locks,
            &new.locks,
            &base.unit,
            args.n,
        ));
    }
    let mut worse = false;
    if let Some(limit) = args.fail_if_worse {
        let grew = |b: i64, n: i64| {
            n > b && (b == 0 || 100.0 * (n as f64 - b as f64) / (b as f64).abs() > limit)
        };
        let mut reasons = Vec::new();
        if grew(base.total, new.total) {
            reasons.push(format!(
                "the total grew {} (limit +{limit}%)",
                change(base.total, new.total)
            ));
        }
        let mut locks: Vec<(&String, i64)> = new.locks.iter().map(|(k, &v)| (k, v)).collect();
        locks.sort();
        for (site, n) in locks {
            let b = base.locks.get(site).copied().unwrap_or(0);
            // A lock that appears only in the new profile is worse only if it matters: more
            // than the limit's share of the base total.
            let matters =
                b != 0 || (base.total > 0 && 100.0 * n as f64 / base.total as f64 > limit);
            if matters && grew(b, n) {
                reasons.push(format!(
                    "lock {site} grew {} ({} -> {})",
                    change(b, n),
                    fmt(b),
                    fmt(n)
                ));
            }
        }
        if reasons.is_empty() {
            out.push_str(&format!("\nok: nothing grew more than {limit}%\n"));
        } else {
            worse = true;
            out.push_str("\nworse:\n");
            for r in reasons {
                out.push_str(&format!("  {r}\n"));
            }
        }
    }
    Ok((out, worse))
}
