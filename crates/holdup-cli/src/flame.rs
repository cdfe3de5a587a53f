//! SVG flame graphs through inferno: stacks folded root-first, values of the selected sample
//! type, titled with the profile type and the sample type; searchable in the browser.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use holdup_pprof::ProfileView;
use inferno::flamegraph::{self, Options};

use crate::input::Prepared;

/// What kind of profile this looks like: `mutex`, `block`, `goroutine`, `cpu`, or the first
/// sample type's name.
pub(crate) fn profile_kind(view: &ProfileView<'_>) -> String {
    let types: Vec<&str> = view.sample_types().iter().map(|t| t.0).collect();
    if types.contains(&"contentions") {
        let (mut holding, mut waiting) = (0usize, 0usize);
        for s in &view.profile().sample {
            match view.stack(s).next() {
                Some(f) if crate::locks::is_release(f.function) => holding += 1,
                Some(_) => waiting += 1,
                None => {}
            }
        }
        return if holding > waiting { "mutex" } else { "block" }.to_owned();
    }
    if types.contains(&"cpu") {
        return "cpu".to_owned();
    }
    types.first().copied().unwrap_or("unknown").to_owned()
}

pub(crate) fn svg(p: &Prepared, title: Option<String>) -> Result<Vec<u8>> {
    let view = p.view()?;
    let (sample_type, unit) = view
        .sample_types()
        .get(p.index)
        .copied()
        .unwrap_or(("", ""));
    // Fold identical stacks (root first, `;`-separated); inferno wants positive counts.
    let mut folded: BTreeMap<String, i64> = BTreeMap::new();
    for s in &view.profile().sample {
        let v = s.value.get(p.index).copied().unwrap_or(0);
        if v <= 0 {
            continue;
        }
        let frames: Vec<&str> = view
            .stack(s)
            .map(|f| {
                if f.function.is_empty() {
                    "<unknown>"
                } else {
                    f.function
                }
            })
            .collect();
        if frames.is_empty() {
            continue;
        }
        let stack: Vec<String> = frames.iter().rev().map(|f| f.replace(';', ":")).collect();
        *folded.entry(stack.join(";")).or_default() += v;
    }
    if folded.is_empty() {
        bail!(
            "{}: no samples with a positive {sample_type} value to draw",
            p.name
        );
    }
    let lines: Vec<String> = folded
        .iter()
        .map(|(stack, v)| format!("{stack} {v}"))
        .collect();
    let mut opts = Options::default();
    opts.title =
        title.unwrap_or_else(|| format!("{} profile: {sample_type} ({unit})", profile_kind(&view)));
    opts.subtitle = Some(p.name.clone());
    opts.count_name = unit.to_owned();
    opts.deterministic = true;
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut svg)
        .context("drawing the flame graph")?;
    Ok(svg)
}
