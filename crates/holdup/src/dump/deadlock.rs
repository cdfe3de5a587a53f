//! Wait-for cycles among the dumped threads, confirmed by a second read of the waits.

use super::*;

/// The cycles of a wait-for graph in which each node waits for at most one other (`next`):
/// each cycle once, starting at its smallest node, in order of that node.
pub(super) fn cycles<N: Copy + Ord + std::hash::Hash>(next: &HashMap<N, N>) -> Vec<Vec<N>> {
    let mut out: Vec<Vec<N>> = Vec::new();
    let mut done: HashSet<N> = HashSet::new();
    let mut starts: Vec<N> = next.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        let mut path: Vec<N> = Vec::new();
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

/// A node of the wait-for graph: a thread (by OS id) or a task (by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Node {
    Thread(i64),
    Task(u64),
}

impl Node {
    fn of(who: &Who) -> Node {
        match who {
            Who::Thread(t) => Node::Thread(t.tid),
            Who::Task(t) => Node::Task(t.id),
        }
    }
}

/// A thread's name for a task, in the fields that predate tasks (`DeadlockLink::thread`).
fn as_thread(who: &Who) -> ThreadRef {
    match who {
        Who::Thread(t) => t.clone(),
        Who::Task(t) => ThreadRef {
            tid: 0,
            name: Some(t.to_string()),
        },
    }
}

/// Finds the wait-for cycles among the threads and tasks, confirmed by a second read of the
/// waits. `entries` are the registry's threads and tasks as read for the dump.
pub(super) fn find_deadlocks(
    threads: &[Thread],
    tasks: &[Task],
    entries: [&[Entry]; 2],
    by_owner: &HashMap<Owner, i64>,
) -> Vec<Deadlock> {
    // Each waiter whose wait names a holder (only those can be in a cycle), what it waits for,
    // its stack.
    fn held(w: &Option<Wait>) -> Option<&Wait> {
        w.as_ref().filter(|w| w.holder.who().is_some())
    }
    let threads = threads
        .iter()
        .filter_map(|t| Some((Who::Thread(t.thread.clone()), held(&t.wait)?, &t.frames[..])));
    let tasks = tasks
        .iter()
        .filter_map(|t| Some((Who::Task(t.task.clone()), held(&t.wait)?, &t.frames[..])));
    let waiters: Vec<(Who, &Wait, &[Frame])> = threads.chain(tasks).collect();
    if waiters.is_empty() {
        return Vec::new();
    }
    let entries = || entries.into_iter().flatten();
    // waiter → the thread or task it waits for.
    let next: HashMap<Node, Node> = waiters
        .iter()
        .filter_map(|(who, w, _)| {
            let (from, to) = (Node::of(who), Node::of(&w.holder.who()?));
            (from != to).then_some((from, to))
        })
        .collect();
    let node_of = |e: &Entry| match e.owner {
        Owner::Task(id) => Node::Task(id),
        Owner::Thread(_) => Node::Thread(e.os_tid),
    };
    let owner_of: HashMap<Node, Owner> = entries().map(|e| (node_of(e), e.owner)).collect();
    let before: HashMap<Node, WaitState> = entries()
        .filter_map(|e| Some((node_of(e), e.wait?)))
        .collect();
    cycles(&next)
        .into_iter()
        .filter(|cycle| {
            // Confirm: every wait of the cycle is the same wait, on the same holder, as read now.
            cycle.iter().all(|node| {
                let (Some(owner), Some(was)) = (owner_of.get(node), before.get(node)) else {
                    return false;
                };
                registry::wait_of_owner(*owner).is_some_and(|now| {
                    now.since_ns == was.since_ns
                        && now.holder == was.holder
                        && now.holder.is_some_and(|h| {
                            matches!(h, Owner::Task(_)) || by_owner.contains_key(&h)
                        })
                })
            })
        })
        .map(|cycle| Deadlock {
            links: cycle
                .iter()
                .filter_map(|node| {
                    let (who, w, frames) =
                        waiters.iter().find(|(who, ..)| Node::of(who) == *node)?;
                    let holder = w.holder.who()?;
                    Some(DeadlockLink {
                        thread: as_thread(who),
                        waiter: who.clone(),
                        kind: w.kind,
                        lock: w.lock,
                        waited: w.waited,
                        held_by: as_thread(&holder),
                        holder,
                        frames: frames.to_vec(),
                    })
                })
                .collect(),
        })
        .collect()
}
