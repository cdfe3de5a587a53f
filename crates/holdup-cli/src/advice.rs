//! The fix for the seed's bug, read off a mutex profile: an exclusive lock whose critical
//! sections never took `&mut` through their guard (holdup's `mutated=no` label) and that
//! dominates the delay.
//!
//! Advice must be sound, that is, compile and keep the program's behaviour:
//! - a `RwLock` write lock taken without `&mut`: `read()` compiles (`RwLock<T>` is shared only
//!   when `T: Sync`, so the section's `&T` methods are callable through a read guard too) and
//!   is what it meant, unless it relied on being alone while writing through `&` (atomics):
//!   the advice says so;
//! - a `Mutex` taken without `&mut`: nothing follows. `mutated=no` means no `&mut` was taken, not
//!   that nothing changed: a channel's `recv`, a `Cell` or an atomic writes through `&`, and
//!   `RwLock<Receiver<_>>` or `RwLock<Cell<_>>` would not even be shareable. The profile does not
//!   say which type the lock guards, so holdup states what it saw and suggests no other lock.

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

/// Share of a lock's delay that must come from critical sections held across an `.await`.
const ACROSS_AWAIT: f64 = 0.5;

/// One line naming the lock and the fix, when the profile shows a pattern: a lock whose holders
/// keep it across an `.await` (holdup's `held=suspended` label) first, then an exclusive lock
/// taken without `&mut`.
pub(crate) fn advice(view: &ProfileView<'_>) -> Option<String> {
    held_across_await(view).or_else(|| read_only(view))
}

/// The delay of the whole profile, if it has a delay.
fn total_delay(view: &ProfileView<'_>) -> Option<(usize, i64)> {
    let delay = view.sample_index("delay")?;
    let total: i64 = view
        .profile()
        .sample
        .iter()
        .fold(0, |a, s| a.saturating_add(s.value[delay].saturating_abs()));
    (total != 0).then_some((delay, total))
}

/// A lock that dominates the delay, mostly charged to critical sections whose task was
/// suspended while holding it: the waiters wait for a task that is not even running.
fn held_across_await(view: &ProfileView<'_>) -> Option<String> {
    let (delay, total) = total_delay(view)?;
    // Per lock: its delay, the part held across an `.await`, and who held it so.
    let mut locks: HashMap<&str, (i64, i64, HashMap<&str, i64>)> = HashMap::new();
    for s in &view.profile().sample {
        let (Some(site), Some(held)) = (view.label(s, "lock"), view.label(s, "held")) else {
            continue;
        };
        let l = locks.entry(site).or_default();
        let d = s.value[delay];
        l.0 = l.0.saturating_add(d);
        if held == "suspended" {
            l.1 = l.1.saturating_add(d);
            if let Some(f) = view.stack(s).nth(1) {
                let h = l.2.entry(f.function).or_default();
                *h = h.saturating_add(d);
            }
        }
    }
    let (site, (all, across, holders)) = locks.iter().max_by_key(|(_, l)| l.1)?;
    if (*across as f64) < DOMINANT * total as f64 || (*across as f64) < ACROSS_AWAIT * *all as f64 {
        return None;
    }
    let share = 100.0 * *across as f64 / total as f64;
    let holder = holders
        .iter()
        .filter(|(f, _)| !f.is_empty())
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map_or("code that is not symbolized", |(f, _)| *f);
    Some(format!(
        "advice: {share:.0}% of the delay comes from {holder}, which holds the lock created at \
         {site} across an `.await` (`held=suspended`): its waiters wait for a task that is not \
         running. Release the guard before the `.await` (copy out what you need), or hold it \
         only between awaits."
    ))
}

/// An exclusive lock taken without `&mut` (the seed's bug).
fn read_only(view: &ProfileView<'_>) -> Option<String> {
    let (delay, total) = total_delay(view)?;
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
        .filter(|(f, _)| !f.is_empty())
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(f, _)| *f);
    let share = 100.0 * lock.read_only as f64 / total as f64;
    let from = match holder {
        Some(f) => format!("{share:.0}% of the delay comes from {f}, which"),
        None => format!("{share:.0}% of the delay comes from code (not symbolized) that"),
    };
    Some(match lock.kind {
        "rwlock-write" => format!(
            "advice: {from} takes the write lock of the RwLock created at {site} but takes no `&mut` \
             through it: take `read()` instead of `write()` (unless it must be alone while it writes \
             through `&`, as to atomics)."
        ),
        _ => format!(
            "note: {from} holds the Mutex created at {site} without taking `&mut` through it \
             (`mutated=no`); that does not show it only reads (a channel's `recv`, a `Cell` or an \
             atomic writes through `&`), so holdup suggests no other lock."
        ),
    })
}
