//! Wait-for cycles among the dumped threads, confirmed by a second read of the waits.

use super::*;

/// The cycles of a wait-for graph in which each thread waits for at most one other (`next`):
/// each cycle once, starting at its smallest id, in order of that id.
pub(super) fn cycles(next: &HashMap<i64, i64>) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = Vec::new();
    let mut done: HashSet<i64> = HashSet::new();
    let mut starts: Vec<i64> = next.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        let mut path: Vec<i64> = Vec::new();
        let mut at = start;
        while !done.contains(&at) {
            if let Some(i) = path.iter().position(|&p| p == at) {
                let mut cycle = path[i..].to_vec();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, t)| **t)
                    .map_or(0, |(i, _)| i);
                cycle.rotate_left(min);
                out.push(cycle);
                break;
            }
            path.push(at);
            match next.get(&at) {
                Some(&n) => at = n,
                None => break,
            }
        }
        done.extend(path);
    }
    out
}

/// Finds the wait-for cycles among the threads, confirmed by a second read of the waits.
pub(super) fn find_deadlocks(
    threads: &[Thread],
    entries: &[Entry],
    by_owner: &HashMap<Owner, i64>,
) -> Vec<Deadlock> {
    // thread → the thread it waits for.
    let next: HashMap<i64, i64> = threads
        .iter()
        .filter_map(|t| match &t.wait {
            Some(Wait {
                holder: Holder::Thread(h),
                ..
            }) if h.tid != t.thread.tid => Some((t.thread.tid, h.tid)),
            _ => None,
        })
        .collect();
    let owner_of: HashMap<i64, Owner> = entries.iter().map(|e| (e.os_tid, e.owner)).collect();
    let before: HashMap<i64, WaitState> = entries
        .iter()
        .filter_map(|e| Some((e.os_tid, e.wait?)))
        .collect();
    cycles(&next)
        .into_iter()
        .filter(|cycle| {
            // Confirm: every wait of the cycle is the same wait, on the same holder, as read now.
            cycle.iter().all(|tid| {
                let (Some(owner), Some(was)) = (owner_of.get(tid), before.get(tid)) else {
                    return false;
                };
                registry::wait_of_owner(*owner).is_some_and(|now| {
                    now.since_ns == was.since_ns
                        && now.holder == was.holder
                        && now.holder.is_some_and(|h| by_owner.contains_key(&h))
                })
            })
        })
        .map(|cycle| Deadlock {
            links: cycle
                .iter()
                .filter_map(|tid| {
                    let t = threads.iter().find(|t| t.thread.tid == *tid)?;
                    let w = t.wait.as_ref()?;
                    let Holder::Thread(h) = &w.holder else {
                        return None;
                    };
                    Some(DeadlockLink {
                        thread: t.thread.clone(),
                        kind: w.kind,
                        lock: w.lock,
                        waited: w.waited,
                        held_by: h.clone(),
                        frames: t.frames.clone(),
                    })
                })
                .collect(),
        })
        .collect()
}
