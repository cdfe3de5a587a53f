//! pprof's sample filters: `-focus`, `-ignore`, `-hide`, `-show` (by function, file or binary
//! name) and `-tagfocus`, `-tagignore` (by label), with pprof's rules.
//!
//! The matchers are closures, so that callers choose the pattern language (the `holdup` CLI
//! uses Go-compatible regular expressions); this crate stays free of it.

use std::collections::HashMap;

use crate::codec::{DecodeError, ProfileView};
use crate::proto::{Line, Profile};

/// A name matcher: given a function name, a file name or a binary's path.
pub type NameMatcher<'f> = &'f dyn Fn(&str) -> bool;

/// A label matcher: given a sample's string labels as `(key, value)` pairs.
pub type TagMatcher<'f> = &'f dyn Fn(&[(&str, &str)]) -> bool;

/// The filters to apply; `None` is "not set".
#[derive(Default, Clone, Copy)]
pub struct Filters<'f> {
    /// Keep samples with a location that matches (pprof's `-focus`).
    pub focus: Option<NameMatcher<'f>>,
    /// Drop samples with a location that matches (`-ignore`; wins over focus).
    pub ignore: Option<NameMatcher<'f>>,
    /// Remove the frames that match (`-hide`); a sample's value moves to its next frame.
    pub hide: Option<NameMatcher<'f>>,
    /// Keep only the frames that match (`-show`).
    pub show: Option<NameMatcher<'f>>,
    /// Keep samples whose labels match (`-tagfocus`).
    pub tag_focus: Option<TagMatcher<'f>>,
    /// Drop samples whose labels match (`-tagignore`).
    pub tag_ignore: Option<TagMatcher<'f>>,
}

impl std::fmt::Debug for Filters<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("focus", &self.focus.is_some())
            .field("ignore", &self.ignore.is_some())
            .field("hide", &self.hide.is_some())
            .field("show", &self.show.is_some())
            .field("tag_focus", &self.tag_focus.is_some())
            .field("tag_ignore", &self.tag_ignore.is_some())
            .finish()
    }
}

/// A filtered profile, and which filters matched nothing (pprof warns about those).
#[derive(Debug, Clone)]
pub struct Filtered {
    /// The profile with the samples and frames the filters keep.
    pub profile: Profile,
    /// The set filters that matched no location (or no sample, for tag filters), by pprof's
    /// name: `Focus`, `Ignore`, `Hide`, `Show`, `TagFocus`, `TagIgnore`.
    pub unmatched: Vec<&'static str>,
}

/// Applies `filters` to `profile` as pprof does: focus and ignore classify locations (any line's
/// function or file name, or the binary's path, matching) and keep a sample when one location
/// is focused and none ignored; hide and show remove lines, and locations left without lines;
/// tag filters keep or drop whole samples. Values are never changed.
///
/// ```
/// use holdup_pprof::{LineInfo, ProfileBuilder, ProfileView, filter::{Filters, filter}};
///
/// let mut b = ProfileBuilder::new(&[("delay", "nanoseconds")]);
/// let line = |f: &str| LineInfo { function: f.into(), system_name: String::new(), file: "m.go".into(), line: 1 };
/// let (a, b1, c) = (b.location(0, 1, &[line("main.a")]), b.location(0, 2, &[line("main.b")]), b.location(0, 3, &[line("main.c")]));
/// b.sample(&[a, c], &[10], &[]);
/// b.sample(&[b1, c], &[20], &[]);
/// let p = b.build();
/// let is_a = |s: &str| s == "main.a";
/// let out = filter(&p, &Filters { focus: Some(&is_a), ..Filters::default() })?;
/// assert_eq!(out.profile.sample.len(), 1);
/// assert_eq!(out.profile.sample[0].value, [10]);
/// # Ok::<(), holdup_pprof::DecodeError>(())
/// ```
pub fn filter(profile: &Profile, filters: &Filters<'_>) -> Result<Filtered, DecodeError> {
    let view = ProfileView::new(profile)?;
    let string = |i: i64| view.string(i);
    let functions: HashMap<u64, (&str, &str)> = profile
        .function
        .iter()
        .map(|f| (f.id, (string(f.name), string(f.filename))))
        .collect();
    let mappings: HashMap<u64, &str> = profile
        .mapping
        .iter()
        .map(|m| (m.id, string(m.filename)))
        .collect();
    let line_matches = |l: &Line, m: NameMatcher<'_>| {
        functions
            .get(&l.function_id)
            .is_some_and(|&(name, file)| m(name) || (!file.is_empty() && m(file)))
    };
    let names_set = filters.focus.is_some()
        || filters.ignore.is_some()
        || filters.hide.is_some()
        || filters.show.is_some();

    let mut out = profile.clone();
    let mut matched = [false; 4]; // focus, ignore, hide, show
    // Per location id: (focused, ignored, still has frames).
    let mut class: HashMap<u64, (bool, bool, bool)> = HashMap::new();
    for loc in &mut out.location {
        let binary = mappings.get(&loc.mapping_id).copied().unwrap_or("");
        let binary_matches = |m: NameMatcher<'_>| !binary.is_empty() && m(binary);
        let matches = |m: Option<NameMatcher<'_>>| {
            m.is_some_and(|m| binary_matches(m) || loc.line.iter().any(|l| line_matches(l, m)))
        };
        let (focus_hit, ignore_hit, hide_hit, show_hit) = (
            matches(filters.focus),
            matches(filters.ignore),
            matches(filters.hide),
            matches(filters.show),
        );
        let ignored = ignore_hit;
        let focused = !ignored && (filters.focus.is_none() || focus_hit);
        for (m, hit) in matched
            .iter_mut()
            .zip([focus_hit, ignore_hit, hide_hit, show_hit])
        {
            *m |= hit;
        }
        let had_lines = !loc.line.is_empty();
        if let Some(hide) = filters.hide
            && hide_hit
        {
            if binary_matches(hide) {
                loc.line.clear();
            } else {
                loc.line.retain(|l| !line_matches(l, hide));
            }
        }
        if let Some(show) = filters.show
            && !binary_matches(show)
        {
            loc.line
                .retain(|l| line_matches(l, show) || !functions.contains_key(&l.function_id));
        }
        // A location loses its place in stacks when hide or show took all its lines (or when
        // show is set and it never had any).
        let keeps = if had_lines {
            !loc.line.is_empty()
        } else {
            filters.show.is_none_or(|m| binary_matches(m))
        };
        class.insert(loc.id, (focused, ignored, keeps));
    }

    let mut tag_matched = [false; 2];
    out.sample.retain_mut(|s| {
        if names_set {
            let (mut any_focused, mut any_ignored) = (false, false);
            for id in &s.location_id {
                let &(f, i, _) = class.get(id).unwrap_or(&(false, false, true));
                any_focused |= f;
                any_ignored |= i;
            }
            if !any_focused || any_ignored {
                return false;
            }
            s.location_id.retain(|id| class.get(id).is_none_or(|c| c.2));
            if s.location_id.is_empty() {
                return false;
            }
        }
        if filters.tag_focus.is_some() || filters.tag_ignore.is_some() {
            let labels: Vec<(&str, &str)> = s
                .label
                .iter()
                .filter(|l| l.str != 0)
                .map(|l| (string(l.key), string(l.str)))
                .collect();
            let focus = filters.tag_focus.is_none_or(|m| m(&labels));
            let ignore = filters.tag_ignore.is_some_and(|m| m(&labels));
            tag_matched[0] |= filters.tag_focus.is_some() && focus;
            tag_matched[1] |= ignore;
            return focus && !ignore;
        }
        true
    });

    let mut unmatched = Vec::new();
    let set = [
        ("Focus", filters.focus.is_some(), matched[0]),
        ("Ignore", filters.ignore.is_some(), matched[1]),
        ("Hide", filters.hide.is_some(), matched[2]),
        ("Show", filters.show.is_some(), matched[3]),
        ("TagFocus", filters.tag_focus.is_some(), tag_matched[0]),
        ("TagIgnore", filters.tag_ignore.is_some(), tag_matched[1]),
    ];
    for (name, is_set, hit) in set {
        if is_set && !hit {
            unmatched.push(name);
        }
    }
    Ok(Filtered {
        profile: out,
        unmatched,
    })
}
