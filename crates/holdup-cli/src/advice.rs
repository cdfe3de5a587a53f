//! The fix for the seed's bug, read off a mutex profile: an exclusive lock whose critical
//! sections never write (holdup's `mutated=no` label) and that dominates the delay.

use std::collections::HashMap;

use holdup_pprof::ProfileView;

/// Share of the profile's delay a lock must cause before advice is given.
const DOMINANT: f64 = 0.25;
/// Share of that lock's delay that must come from critical sections that did not write.
const READ_ONLY: f64 = 0.9;

#[derive(Default)]
struct Lock<'a> {
    kind: &'a str,
    delay: i64,
    read_only: i64,
    holders: HashMap<&'a str, i64>,
}

/// One line naming the lock and the fix, when the profile shows the pattern.
pub(crate) fn advice(view: &ProfileView<'_>) -> Option<String> {
    let delay = view.sample_index("delay")?;
    let total: i64 = view
        .profile()
        .sample
        .iter()
        .fold(0, |a, s| a.saturating_add(s.value[delay].saturating_abs()));
    if total == 0 {
        return None;
    }
    let mut locks: HashMap<&str, Lock<'_>> = HashMap::new();
    for s in &view.profile().sample {
        let (Some(kind), Some(site), Some(mutated)) = (
            view.label(s, "kind"),
            view.label(s, "lock"),
            view.label(s, "mutated"),
        ) else {
            continue;
        };
        if kind != "rwlock-write" && kind != "mutex" {
            continue;
        }
        let l = locks.entry(site).or_default();
        l.kind = kind;
        let d = s.value[delay];
        l.delay = l.delay.saturating_add(d);
        if mutated == "no" {
            l.read_only = l.read_only.saturating_add(d);
            // The critical section is the frame under the unlock.
            if let Some(f) = view.stack(s).nth(1) {
                let h = l.holders.entry(f.function).or_default();
                *h = h.saturating_add(d);
            }
        }
    }
    let (site, lock) = locks.iter().max_by_key(|(_, l)| l.read_only)?;
    if (lock.read_only as f64) < DOMINANT * total as f64
        || (lock.read_only as f64) < READ_ONLY * lock.delay as f64
    {
        return None;
    }
    let holder = lock
        .holders
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map_or("?", |(f, _)| f);
    let share = 100.0 * lock.read_only as f64 / total as f64;
    Some(match lock.kind {
        "rwlock-write" => format!(
            "advice: {share:.0}% of the delay comes from {holder}, which takes the write lock of the RwLock \
             created at {site} but never writes through it: take `read()` instead of `write()`."
        ),
        _ => format!(
            "advice: {share:.0}% of the delay comes from {holder}, which locks the Mutex created at {site} \
             but never writes through it: a `RwLock` read lock would do."
        ),
    })
}
