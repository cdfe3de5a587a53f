//! Taking a dump: the OS's threads, their stacks by signal, the registry's waits and holders
//! (read through `Owner`), joined into the model.

use super::*;

pub(super) fn dump(options: &Options, only: Option<(&HashSet<i64>, &HashSet<u64>)>) -> ThreadDump {
    let started = Instant::now();
    let time = SystemTime::now();
    let me = registry::os_tid();
    let mut entries = registry::entries();
    if let Some((only, _)) = only {
        entries.retain(|e| only.contains(&e.os_tid));
    }
    let (tasks, captured, source) = collect(options, only.map(|(tids, _)| tids));
    // Owners (each thread's identity as locks and waits record it) → OS thread ids.
    let mut by_owner: HashMap<Owner, i64> = entries.iter().map(|e| (e.owner, e.os_tid)).collect();
    for (tid, c) in &captured {
        if let Captured::Stack { token, .. } = c {
            by_owner.insert(Owner::Thread(*token), *tid);
        }
    }
    let by_tid: HashMap<i64, &Entry> = entries.iter().map(|e| (e.os_tid, e)).collect();
    // Every thread: the OS's list, plus registered threads it missed (other platforms, or
    // threads started while it was read).
    let mut tids: Vec<i64> = tasks.keys().copied().collect();
    for e in &entries {
        if !tasks.contains_key(&e.os_tid) {
            tids.push(e.os_tid);
        }
    }
    tids.sort_unstable();
    tids.dedup();

    // Symbolize all stacks (threads' and spawners') in one batch.
    let empty: Vec<usize> = Vec::new();
    let mut stacks: Vec<&[usize]> = Vec::with_capacity(tids.len() * 2);
    for tid in &tids {
        stacks.push(match captured.get(tid) {
            Some(Captured::Stack { pcs, .. }) => pcs,
            _ => &empty,
        });
        stacks.push(
            by_tid
                .get(tid)
                .and_then(|e| e.spawn.as_ref())
                .map_or(&empty[..], |s| &s.2[..]),
        );
    }
    // Tasks (for the leak checker, the chosen ones): their wait stacks go in the same batch,
    // after the threads'.
    let mut task_entries = registry::tasks();
    if let Some((_, ids)) = only {
        task_entries.retain(|e| matches!(e.owner, Owner::Task(id) if ids.contains(&id)));
    }
    // Tasks parked at the same `.await` have the same stack: each distinct one is symbolized
    // and trimmed once, and its frames shared.
    // Keyed by the stack's hash (taken with the stack), checked for equality on a match.
    let mut distinct: HashMap<u64, Vec<(&[usize], usize)>> = HashMap::new();
    let mut n_distinct = 0;
    let task_stack: Vec<usize> = task_entries
        .iter()
        .map(|t| {
            let (stack, hash) = t.stack.as_ref().map_or((&[][..], 0), |(s, h)| (&s[..], *h));
            let same = distinct.entry(hash).or_default();
            if let Some(&(_, k)) = same.iter().find(|(s, _)| *s == stack) {
                return k;
            }
            same.push((stack, n_distinct));
            stacks.push(stack);
            n_distinct += 1;
            n_distinct - 1
        })
        .collect();
    let symbolized = symbols::symbolize_stacks(&stacks);
    // One name per thread, the fullest known: the registry's (std's name, whole), else the name
    // a spawned thread recorded for its parent (`main` for the main thread), else the kernel's
    // (cut to 15 bytes).
    let mut known: HashMap<i64, String> = HashMap::new();
    for e in &entries {
        if let Some((_, (parent, Some(name)), _)) = &e.spawn {
            known.entry(*parent).or_insert_with(|| name.clone());
        }
    }
    if let Some(name) = std::thread::current().name() {
        known.insert(me, name.to_owned());
    }
    for e in &entries {
        if let Some(name) = &e.name {
            known.insert(e.os_tid, name.clone());
        }
    }
    let name_of = |tid: i64| -> Option<String> {
        known
            .get(&tid)
            .cloned()
            .or_else(|| tasks.get(&tid).and_then(|t| t.name.clone()))
    };
    let thread_ref = |tid: i64| ThreadRef {
        tid,
        name: name_of(tid),
    };
    let task_names: HashMap<u64, Option<String>> = task_entries
        .iter()
        .filter_map(|t| match t.owner {
            Owner::Task(id) => Some((id, t.name.clone())),
            Owner::Thread(_) => None,
        })
        .collect();
    // Worker threads → the task each is polling.
    let polling: HashMap<i64, u64> = task_entries
        .iter()
        .filter_map(|t| match (t.running_on, t.owner) {
            (Some(tid), Owner::Task(id)) => Some((tid, id)),
            _ => None,
        })
        .collect();
    let task_ref = |id: u64| TaskRef {
        id,
        name: task_names.get(&id).cloned().flatten(),
    };
    let who = |owner: Owner| match owner {
        Owner::Task(id) => Who::Task(task_ref(id)),
        Owner::Thread(_) => Who::Thread(
            by_owner
                .get(&owner)
                .map_or(ThreadRef { tid: 0, name: None }, |&tid| thread_ref(tid)),
        ),
    };

    let mut threads: Vec<Thread> = Vec::with_capacity(tids.len());
    for (i, &tid) in tids.iter().enumerate() {
        let entry = by_tid.get(&tid);
        let frames = trim(&symbolized[2 * i], options.depth, false);
        let (stack, interrupted_for) = match captured.get(&tid) {
            Some(Captured::Stack { handler_ns, .. }) => (
                StackStatus::Captured,
                Some(Duration::from_nanos(*handler_ns)),
            ),
            Some(Captured::Missing(why)) => (StackStatus::Unavailable(why.clone()), None),
            None if CAPTURES => (
                StackStatus::Unavailable(
                    "the thread was not running when the dump listed the threads".to_owned(),
                ),
                None,
            ),
            None => (
                StackStatus::Unavailable(format!(
                    "stacks are not taken on this platform ({source})"
                )),
                None,
            ),
        };
        let wait = entry
            .and_then(|e| e.wait.as_ref())
            .map(|w| Wait::resolve(w, &by_owner, &thread_ref, &task_ref));
        let spawn = entry
            .and_then(|e| e.spawn.as_ref())
            .map(|(site, parent, _)| Spawn {
                site,
                function: spawner(&symbolized[2 * i + 1]),
                parent: ThreadRef {
                    tid: parent.0,
                    name: name_of(parent.0).or_else(|| parent.1.clone()),
                },
            });
        threads.push(Thread {
            thread: thread_ref(tid),
            kernel_state: tasks.get(&tid).and_then(|t| t.state),
            text: frames.iter().map(|f| (f.text_pc, f.offset)).collect(),
            frames: frames.into_iter().map(|f| f.frame).collect(),
            stack,
            wait,
            holding: Vec::new(),
            spawn,
            polling: polling.get(&tid).map(|&id| task_ref(id)),
            current: tid == me,
            interrupted_for,
        });
    }
    let first_task = 2 * tids.len();
    let task_frames: Vec<SharedStack> = (0..n_distinct)
        .map(|k| {
            let frames = trim(&symbolized[first_task + k], options.depth, true);
            let text = frames.iter().map(|f| (f.text_pc, f.offset)).collect();
            (frames.into_iter().map(|f| f.frame).collect(), text)
        })
        .collect();
    let mut tasks: Vec<Task> = task_entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let Owner::Task(id) = e.owner else {
                return None;
            };
            let (frames, text) = &task_frames[task_stack[i]];
            Some(Task {
                task: task_ref(id),
                running_on: e.running_on.map(thread_ref),
                text: Arc::clone(text),
                frames: Arc::clone(frames),
                wait: e
                    .wait
                    .as_ref()
                    .map(|w| Wait::resolve(w, &by_owner, &thread_ref, &task_ref)),
                holding: Vec::new(),
                spawn: e.spawn.as_ref().map(|(site, _, _)| TaskSpawn {
                    site,
                    parent: e
                        .parent
                        .map_or(Who::Thread(ThreadRef { tid: 0, name: None }), who),
                }),
            })
        })
        .collect();
    attach_holdings(&mut threads, &mut tasks);
    // Go lists the current goroutine first, then the others in creation order.
    threads.sort_by_key(|t| (!t.current, t.thread.tid));
    let deadlocks = find_deadlocks(
        &threads,
        &tasks,
        [&entries[..], &task_entries[..]],
        &by_owner,
    );
    ThreadDump {
        time,
        elapsed: started.elapsed(),
        threads,
        tasks,
        deadlocks,
        source,
    }
}

/// A task stack's frames and their (text address, offset) pairs, shared by the tasks that wait
/// with that stack.
type SharedStack = (Arc<[Frame]>, Arc<[(u64, u64)]>);

/// Fills each thread's and task's `holding` from the waits naming it as a lock's exclusive
/// holder.
pub(super) fn attach_holdings(threads: &mut [Thread], tasks: &mut [Task]) {
    // Per holder, its locks in creation-site order (file, line, column, kind).
    type Site = (&'static str, u32, u32, u8);
    let mut held: BTreeMap<Who, BTreeMap<Site, Held>> = BTreeMap::new();
    let waits = threads
        .iter()
        .filter_map(|t| t.wait.as_ref())
        .chain(tasks.iter().filter_map(|t| t.wait.as_ref()));
    for Wait {
        kind, lock, holder, ..
    } in waits
    {
        let Some(h) = holder.who() else { continue };
        let kind = match kind {
            Kind::Mutex => Kind::Mutex,
            Kind::RwLockRead | Kind::RwLockWrite => Kind::RwLockWrite,
            _ => continue, // a join waits for a thread, not a lock
        };
        let key = (lock.file(), lock.line(), lock.column(), kind as u8);
        held.entry(h)
            .or_default()
            .entry(key)
            .or_insert(Held {
                kind,
                lock,
                waiters: 0,
            })
            .waiters += 1;
    }
    for t in threads.iter_mut() {
        if let Some(locks) = held.remove(&Who::Thread(t.thread.clone())) {
            t.holding = locks.into_values().collect();
        }
    }
    for t in tasks.iter_mut() {
        if let Some(locks) = held.remove(&Who::Task(t.task.clone())) {
            t.holding = locks.into_values().collect();
        }
    }
}

/// Trims a thread's symbolized stack: when it waits in holdup, everything above holdup's public
/// call (std's and libc's frames, holdup's internals); then thread start-up frames at the root,
/// and for a task's stack the runtime's frames below the task's root.
pub(super) fn trim(frames: &[DumpFrame], depth: usize, task: bool) -> Vec<DumpFrame> {
    let name = |i: usize| frames[i].frame.function.as_str();
    let mut start = 0;
    let first = (0..frames.len()).find(|&i| !symbols::is_system(name(i)));
    if let Some(i) = first
        && symbols::is_internal(name(i))
    {
        let mut leaf = i;
        let mut j = i;
        while j < frames.len() && (symbols::is_internal(name(j)) || symbols::is_system(name(j))) {
            if symbols::is_internal(name(j)) {
                leaf = j;
            }
            j += 1;
        }
        start = leaf;
    }
    let mut end = (start..frames.len())
        .find(|&i| symbols::is_thread_start(name(i)) || (task && symbols::is_task_root(name(i))))
        .unwrap_or(frames.len());
    // holdup's spawn trampoline and std's start-up frames at the root.
    while end > start + 1
        && (symbols::is_internal(name(end - 1)) || symbols::is_system(name(end - 1)))
    {
        end -= 1;
    }
    frames[start..end].iter().take(depth).cloned().collect()
}

/// Whether a frame is the program's own: neither holdup's, nor std's or libc's.
pub(crate) fn is_program(function: &str) -> bool {
    !symbols::is_internal(function) && !symbols::is_system(function)
}

/// The function that called `holdup::thread::spawn`: the first frame of the spawner's stack
/// outside holdup and std.
pub(super) fn spawner(frames: &[DumpFrame]) -> Option<String> {
    frames
        .iter()
        .map(|f| f.frame.function.as_str())
        .find(|n| is_program(n))
        .map(str::to_owned)
}

/// A thread's stack as taken, or why not.
#[derive(Debug)]
pub(super) enum Captured {
    Stack {
        pcs: Vec<usize>,
        token: usize,
        handler_ns: u64,
    },
    Missing(String),
}

/// Whether this platform takes every thread's stack by signal.
pub(super) const CAPTURES: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

/// Lists the process's threads and takes their stacks.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(super) fn collect(
    options: &Options,
    only: Option<&HashSet<i64>>,
) -> (
    BTreeMap<i64, OsThread>,
    HashMap<i64, Captured>,
    &'static str,
) {
    let mut tids = task_ids();
    if let Some(only) = only {
        tids.retain(|t| only.contains(t));
    }
    let tids32: Vec<i32> = tids.iter().filter_map(|&t| i32::try_from(t).ok()).collect();
    // Stack capture needs the unwind tables; reading them once costs milliseconds.
    holdup_core::collector::warm_up();
    // States are read before the signals: a thread answering one is running for a moment.
    let tasks: BTreeMap<i64, OsThread> = tids.iter().map(|&t| (t, read_task(t))).collect();
    let outcomes = match capture::capture(&tids32, options.timeout, options.stack_bytes) {
        Ok(r) => r,
        Err(e) => {
            // A sentence from `capture`: no free signal, or ours taken over by another handler.
            let why = e.to_string();
            let captured = tids
                .iter()
                .map(|&t| (t, Captured::Missing(why.clone())))
                .collect();
            return (tasks, captured, "signals unavailable");
        }
    };
    let mut cache = holdup_core::stack::copy_cache();
    let depth = options.depth + 32;
    let mut captured = HashMap::with_capacity(tids32.len());
    for (&tid, outcome) in tids32.iter().zip(outcomes) {
        let c = match outcome {
            capture::Outcome::Captured {
                ip,
                sp,
                bp,
                token,
                stack,
                handler_ns,
            } => {
                let mut pcs = Vec::with_capacity(32);
                holdup_core::stack::unwind_copy(&mut cache, (ip, sp, bp), &stack, depth, &mut pcs);
                Captured::Stack {
                    pcs,
                    token,
                    handler_ns,
                }
            }
            capture::Outcome::NoAnswer => Captured::Missing(format!(
                "the thread did not answer within {} (signals blocked, or stuck in the kernel)",
                human(options.timeout)
            )),
            capture::Outcome::Gone => continue,
            capture::Outcome::Failed(e) => {
                Captured::Missing(format!("{}", io::Error::from_raw_os_error(e)))
            }
            capture::Outcome::SignalLost(why) => Captured::Missing(why),
        };
        captured.insert(i64::from(tid), c);
    }
    // Threads that exited between listing and signalling are not part of the dump.
    let tasks = tasks
        .into_iter()
        .filter(|(t, _)| captured.contains_key(t))
        .collect();
    (tasks, captured, "signal-based stacks of every thread")
}

/// Lists the process's threads (no stacks on this platform).
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub(super) fn collect(
    _options: &Options,
    only: Option<&HashSet<i64>>,
) -> (
    BTreeMap<i64, OsThread>,
    HashMap<i64, Captured>,
    &'static str,
) {
    #[cfg(target_os = "linux")]
    {
        let tasks = task_ids()
            .into_iter()
            .filter(|t| only.is_none_or(|o| o.contains(t)))
            .map(|t| (t, read_task(t)))
            .collect();
        return (tasks, HashMap::new(), "registry and /proc only");
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = only;
        (BTreeMap::new(), HashMap::new(), "registry only")
    }
}
