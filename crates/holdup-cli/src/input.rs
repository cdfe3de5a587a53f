//! The options every report takes (the source, the sample type, pprof's filters), and the
//! profile they prepare.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use holdup_pprof::ProfileView;
use holdup_pprof::filter::{Filters, filter};
use holdup_pprof::proto::Profile;
use regex::Regex;

use crate::source::{self, Fetch};

/// Where the profile comes from, which value to report, and which samples and frames.
#[derive(Args, Debug, Clone)]
pub(crate) struct Input {
    /// The profile: a file, - for standard input, or an http(s) URL.
    #[arg(value_name = "SOURCE")]
    pub(crate) source: String,
    /// For URLs: ask the server for the delta over the next N seconds (`?seconds=N`).
    #[arg(long, value_name = "N")]
    pub(crate) seconds: Option<u64>,
    /// For URLs: give up after this many seconds (default: 30 plus --seconds).
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<f64>,
    /// The sample type to report, by name (contentions, delay, ...) or index (default: the
    /// profile's default, usually the last).
    #[arg(long = "sample", alias = "sample_index", value_name = "NAME|INDEX")]
    pub(crate) sample: Option<String>,
    /// Keep only samples with a frame whose function or file matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub(crate) focus: Option<String>,
    /// Drop samples with a frame whose function or file matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub(crate) ignore: Option<String>,
    /// Remove frames that match from stacks (their value moves to the caller).
    #[arg(long, value_name = "REGEX")]
    pub(crate) hide: Option<String>,
    /// Keep only frames that match in stacks.
    #[arg(long, value_name = "REGEX")]
    pub(crate) show: Option<String>,
    /// Keep samples whose labels match: `key=REGEX[,REGEX]` (any value of that key matches
    /// any regex) or `REGEX[,REGEX]` (every regex matches some `key:value`).
    #[arg(long, value_name = "FILTER")]
    pub(crate) tagfocus: Option<String>,
    /// Drop samples whose labels match (same syntax as --tagfocus).
    #[arg(long, value_name = "FILTER")]
    pub(crate) tagignore: Option<String>,
}

/// A loaded profile with the filters applied.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) profile: Profile,
    /// Where it came from, as the user named it.
    pub(crate) name: String,
    /// The selected sample type's index.
    pub(crate) index: usize,
    /// The selected value's total before filtering (what pprof's percentages refer to).
    pub(crate) total: i64,
    /// The filters in effect, as pprof prints them (`focus=...`).
    pub(crate) active_filters: Vec<String>,
}

impl Prepared {
    pub(crate) fn view(&self) -> Result<ProfileView<'_>> {
        Ok(ProfileView::new(&self.profile)?)
    }
}

/// Compiles a user's regex, saying which option it came from.
pub(crate) fn regex(pattern: &str, what: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|e| {
        // The parser's message draws a caret under the pattern; keep its last line, the reason.
        let text = e.to_string();
        let why = text
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .trim_start_matches("error: ")
            .to_owned();
        anyhow::anyhow!("parsing {what} regexp {pattern:?}: {why}")
    })
}

/// Checks a `--timeout` value (seconds).
pub(crate) fn timeout(seconds: Option<f64>) -> Result<Option<Duration>> {
    match seconds {
        Some(t) if !(t > 0.0 && t.is_finite()) => {
            bail!("--timeout must be a positive number of seconds")
        }
        Some(t) => Ok(Some(Duration::from_secs_f64(t))),
        None => Ok(None),
    }
}

impl Input {
    pub(crate) fn fetch(&self) -> Result<Fetch> {
        let timeout = timeout(self.timeout)?;
        Ok(Fetch {
            seconds: self.seconds,
            timeout,
        })
    }

    /// Loads the source, selects the sample type and applies the filters.
    pub(crate) fn prepare(&self) -> Result<Prepared> {
        let loaded = source::load(&self.source, &self.fetch()?)?;
        prepare(loaded.profile, loaded.name, self)
    }
}

/// Selects the sample type and applies the filters of `input` to `profile`.
pub(crate) fn prepare(profile: Profile, name: String, input: &Input) -> Result<Prepared> {
    let view = ProfileView::new(&profile)?;
    let index =
        sample_index(&view, input.sample.as_deref()).with_context(|| format!("in {name}"))?;
    let total = view
        .profile()
        .sample
        .iter()
        .map(|s| s.value.get(index).copied().unwrap_or(0).abs())
        .sum();
    drop(view);
    let compile = |p: &Option<String>, what| p.as_deref().map(|p| regex(p, what)).transpose();
    let focus = compile(&input.focus, "focus")?;
    let ignore = compile(&input.ignore, "ignore")?;
    let hide = compile(&input.hide, "hide")?;
    let show = compile(&input.show, "show")?;
    let tagfocus = input
        .tagfocus
        .as_deref()
        .map(TagFilter::parse)
        .transpose()?;
    let tagignore = input
        .tagignore
        .as_deref()
        .map(TagFilter::parse)
        .transpose()?;
    let mut active_filters = Vec::new();
    for (name, value) in [
        ("focus", &input.focus),
        ("ignore", &input.ignore),
        ("hide", &input.hide),
        ("show", &input.show),
        ("tagfocus", &input.tagfocus),
        ("tagignore", &input.tagignore),
    ] {
        if let Some(v) = value {
            active_filters.push(format!("{name}={v}"));
        }
    }
    if active_filters.is_empty() {
        return Ok(Prepared {
            profile,
            name,
            index,
            total,
            active_filters,
        });
    }
    let m = |r: &Option<Regex>| r.clone().map(|r| move |s: &str| r.is_match(s));
    let (f, i, h, s) = (m(&focus), m(&ignore), m(&hide), m(&show));
    let tf = tagfocus.map(|t| move |l: &[(&str, &str)]| t.matches(l));
    let ti = tagignore.map(|t| move |l: &[(&str, &str)]| t.matches(l));
    let filters = Filters {
        focus: f.as_ref().map(|f| f as &dyn Fn(&str) -> bool),
        ignore: i.as_ref().map(|f| f as &dyn Fn(&str) -> bool),
        hide: h.as_ref().map(|f| f as &dyn Fn(&str) -> bool),
        show: s.as_ref().map(|f| f as &dyn Fn(&str) -> bool),
        tag_focus: tf.as_ref().map(|f| f as &dyn Fn(&[(&str, &str)]) -> bool),
        tag_ignore: ti.as_ref().map(|f| f as &dyn Fn(&[(&str, &str)]) -> bool),
    };
    let filtered = filter(&profile, &filters)?;
    for name in &filtered.unmatched {
        eprintln!("{name} expression matched no samples");
    }
    Ok(Prepared {
        profile: filtered.profile,
        name,
        index,
        total,
        active_filters,
    })
}

/// pprof's `-sample_index`: a number, or a sample type's name.
pub(crate) fn sample_index(view: &ProfileView<'_>, sample: Option<&str>) -> Result<usize> {
    let types = view.sample_types();
    let Some(sample) = sample else {
        return Ok(view.default_sample_index());
    };
    if let Ok(i) = sample.trim_start_matches('+').parse::<usize>() {
        if i < types.len() {
            return Ok(i);
        }
        bail!(
            "sample index {i} out of range [0..{}]",
            types.len().saturating_sub(1)
        );
    }
    if let Some(i) = view.sample_index(sample) {
        return Ok(i);
    }
    let names: Vec<&str> = types.iter().map(|t| t.0).collect();
    bail!(
        "no sample type {sample:?} (the profile has {})",
        names.join(", ")
    )
}

/// A `--tagfocus`/`--tagignore` value.
#[derive(Debug, Clone)]
struct TagFilter {
    key: Option<String>,
    patterns: Vec<Regex>,
}

impl TagFilter {
    fn parse(spec: &str) -> Result<TagFilter> {
        let (key, values) = match spec.split_once('=') {
            Some((k, v)) => (Some(k.to_owned()), v),
            None => (None, spec),
        };
        let patterns = values
            .split(',')
            .map(|p| regex(p, "tag filter"))
            .collect::<Result<Vec<_>>>()?;
        Ok(TagFilter { key, patterns })
    }

    /// With a key: any value of that key matches any pattern. Without: every pattern matches
    /// some `key:value` of the sample.
    fn matches(&self, labels: &[(&str, &str)]) -> bool {
        match &self.key {
            Some(key) => labels
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(_, v)| self.patterns.iter().any(|p| p.is_match(v))),
            None => self
                .patterns
                .iter()
                .all(|p| labels.iter().any(|(k, v)| p.is_match(&format!("{k}:{v}")))),
        }
    }
}
