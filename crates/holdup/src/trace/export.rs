//! A recorder snapshot as a Perfetto trace: events become slices on thread, task, lock and user
//! task tracks, releases become arrows to the waiters they let in.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Arc;

use holdup_core::trace::{self as rec, RawEvent, Snapshot, Tag};
use holdup_core::{Kind, Owner};
use holdup_pprof::perfetto::{Arg, Event, Phase, StackFrame, StackId, TraceBuilder, TrackId};

use crate::symbols;

/// Whose timeline an event is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Thread(i64),
    Task(u64),
    Lock(u64),
    UserTask(u64),
    /// holdup's own notes (dropped events).
    Holdup,
}

/// A slice (begin < end or equal) or an instant, before tracks are laid out.
#[derive(Debug, Clone)]
struct Item {
    key: Key,
    begin: u64,
    end: u64,
    instant: bool,
    name: Arc<str>,
    category: &'static str,
    args: Vec<Arg>,
    stack: u64,
    flows_out: Vec<u64>,
    flows_in: Vec<u64>,
    /// A wait's site (address) and kind, to find what woke it.
    origin: (u64, u64),
}

impl Item {
    fn new(key: Key, ts: u64, name: impl Into<Arc<str>>, category: &'static str) -> Item {
        Item {
            key,
            begin: ts,
            end: ts,
            instant: false,
            name: name.into(),
            category,
            args: Vec::new(),
            stack: 0,
            flows_out: Vec::new(),
            flows_in: Vec::new(),
            origin: (0, 0),
        }
    }
}

/// Ticks to nanoseconds of `CLOCK_MONOTONIC`, interpolated between the snapshot's two anchors.
struct Clock {
    ticks0: u64,
    ns0: u64,
    rate: f64,
}

impl Clock {
    fn new(s: &Snapshot) -> Clock {
        let dt = s.end.ticks.saturating_sub(s.start.ticks);
        let dn = s.end.monotonic_ns.saturating_sub(s.start.monotonic_ns);
        Clock {
            ticks0: s.start.ticks,
            ns0: s.start.monotonic_ns,
            rate: if dt == 0 { 1.0 } else { dn as f64 / dt as f64 },
        }
    }

    fn ns(&self, ticks: u64) -> u64 {
        let d = (ticks as f64 - self.ticks0 as f64) * self.rate;
        (self.ns0 as f64 + d).max(0.0) as u64
    }
}

/// A text the export repeats for many items, allocated once.
fn shared(text: &'static str) -> Arc<str> {
    thread_local! {
        static TEXTS: RefCell<HashMap<&'static str, Arc<str>>> = RefCell::new(HashMap::new());
    }
    TEXTS.with(|t| {
        t.borrow_mut()
            .entry(text)
            .or_insert_with(|| text.into())
            .clone()
    })
}

fn site(addr: u64) -> String {
    if addr == 0 {
        return String::new();
    }
    // SAFETY: the recorder stores only addresses of `&'static Location`s (creation and
    // spawn sites), which live for the whole program.
    let l = unsafe { &*(addr as *const Location<'static>) };
    format!("{}:{}", l.file(), l.line())
}

fn kind_name(arg: u64) -> &'static str {
    u8::try_from(arg)
        .ok()
        .and_then(Kind::from_u8)
        .map_or("wait", Kind::as_str)
}

/// The key of a waiter or releaser: a task (its owner word), else the chunk's thread.
fn who(word: u64, tid: i64) -> Key {
    match Owner::from_word(word as usize) {
        Some(Owner::Task(id)) => Key::Task(id),
        _ => Key::Thread(tid),
    }
}

struct Builder {
    items: Vec<Item>,
    threads: HashMap<i64, String>,
    tasks: HashMap<u64, (String, String)>,
    locks: HashMap<u64, (&'static str, Arc<str>)>,
    /// Site texts by address.
    sites: HashMap<u64, Arc<str>>,
    /// Names made once: per holder ("held by ..."), and per kind (under `Key::Holdup`).
    names: HashMap<Key, HashMap<&'static str, Arc<str>>>,
    user_tasks: HashMap<u64, String>,
    /// Open waits by (waiter, object): item index.
    waits: HashMap<(Key, u64), Vec<usize>>,
    /// Open polls by thread: item index.
    polls: HashMap<i64, Vec<usize>>,
    regions: HashMap<(i64, u64), Vec<usize>>,
    open_user_tasks: HashMap<u64, usize>,
    /// Per lock: who holds it after a wait (item index on the lock's track), the last contended
    /// release (item index of its instant), and how many wait.
    held: HashMap<u64, (Key, usize)>,
    released: HashMap<u64, usize>,
    /// The last wake of waits of a kind on a site: when, by whom, and its instant once an
    /// arrow needs it.
    wakes: HashMap<(u64, u64), (u64, Key, Option<usize>)>,
    waiters: HashMap<u64, i64>,
    counters: Vec<(u64, u64, i64)>,
    next_flow: u64,
    start: u64,
}

impl Builder {
    /// "held by <who>", made once per holder.
    fn held_by(&mut self, who: Key) -> Arc<str> {
        if let Some(n) = self.names.get(&who).and_then(|n| n.get("held by")) {
            return n.clone();
        }
        let name: Arc<str> = format!("held by {}", self.describe(who)).into();
        self.names
            .entry(who)
            .or_default()
            .insert("held by", name.clone());
        name
    }

    fn site(&mut self, addr: u64) -> Arc<str> {
        self.sites
            .entry(addr)
            .or_insert_with(|| site(addr).into())
            .clone()
    }

    fn push(&mut self, item: Item) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }

    /// An item open since before the window began: it starts at the window's start.
    fn orphan(&mut self, key: Key, name: impl Into<Arc<str>>, category: &'static str) -> usize {
        let mut item = Item::new(key, self.start, name, category);
        item.args
            .push(Arg::Str(shared("began"), shared("before the trace")));
        self.push(item)
    }

    fn event(&mut self, tid: i64, ts: u64, e: &RawEvent<'_>) {
        let p = |i: usize| e.payload.get(i).copied().unwrap_or(0);
        match e.tag {
            Tag::Thread => {
                let name = String::from_utf8_lossy(&e.bytes(1, e.arg as usize)).into_owned();
                self.threads.insert(p(0) as i64, name);
            }
            Tag::WaitBegin => {
                let kind = kind_name(e.arg);
                let (object, waiter) = (p(1), who(p(2), tid));
                let lock_site = self.site(p(0));
                let name = self
                    .names
                    .entry(Key::Holdup)
                    .or_default()
                    .entry(kind)
                    .or_insert_with(|| format!("{kind} wait").into())
                    .clone();
                let mut item = Item::new(waiter, ts, name, "wait");
                item.args.push(Arg::Str(shared("kind"), shared(kind)));
                item.args.push(Arg::Str(shared("site"), lock_site.clone()));
                if p(4) != 0 {
                    item.args.push(Arg::Str(shared("await"), self.site(p(4))));
                }
                item.stack = p(3);
                item.origin = (p(0), e.arg);
                let i = self.push(item);
                self.waits.entry((waiter, object)).or_default().push(i);
                if object != 0 {
                    self.locks.entry(object).or_insert((kind, lock_site));
                    self.count_waiters(object, ts, 1);
                }
            }
            Tag::WaitEnd => {
                let (object, waiter) = (p(0), who(p(1), tid));
                let cancelled = e.arg == 1;
                let i = match self.waits.get_mut(&(waiter, object)).and_then(Vec::pop) {
                    Some(i) => i,
                    None => self.orphan(waiter, shared("wait"), "wait"),
                };
                self.items[i].end = ts;
                let outcome = if cancelled { "cancelled" } else { "done" };
                self.items[i]
                    .args
                    .push(Arg::Str(shared("outcome"), shared(outcome)));
                if object == 0 {
                    if !cancelled {
                        self.woken(i, waiter, ts);
                    }
                    return;
                }
                self.count_waiters(object, ts, -1);
                if cancelled {
                    return;
                }
                // Let in by the lock's last contended release: an arrow from it to here.
                let mut acquired = Item::new(waiter, ts, shared("acquired"), "lock");
                acquired.instant = true;
                if let Some(&r) = self.released.get(&object) {
                    let flow = self.next_flow;
                    self.next_flow += 1;
                    self.items[r].flows_out.push(flow);
                    acquired.flows_in.push(flow);
                }
                self.push(acquired);
                let (kind, lock_site) = self.locks.get(&object).cloned().unwrap_or_default();
                let mut held = Item::new(Key::Lock(object), ts, self.held_by(waiter), "lock");
                held.args.push(Arg::Str(shared("kind"), shared(kind)));
                held.args.push(Arg::Str(shared("site"), lock_site));
                let h = self.push(held);
                if let Some((_, previous)) = self.held.insert(object, (waiter, h)) {
                    // Its release was not seen (a shared release, or an uncontended one):
                    // held until the next holder took it.
                    self.items[previous].end = ts;
                }
            }
            Tag::Release => {
                let (object, releaser) = (p(0), who(p(1), tid));
                let mut unlock = Item::new(releaser, ts, shared("unlock"), "lock");
                unlock.instant = true;
                unlock
                    .args
                    .push(Arg::Str(shared("kind"), shared(kind_name(e.arg))));
                let i = self.push(unlock);
                self.released.insert(object, i);
                if let Some(&(holder, h)) = self.held.get(&object)
                    && holder == releaser
                {
                    self.items[h].end = ts;
                    self.held.remove(&object);
                }
            }
            Tag::PollBegin => {
                let id = p(0);
                let name = self.task_name(id);
                let mut item = Item::new(Key::Thread(tid), ts, name, "poll");
                item.args.push(Arg::Int(shared("task"), id as i64));
                let i = self.push(item);
                self.polls.entry(tid).or_default().push(i);
            }
            Tag::PollEnd => {
                let i = match self.polls.get_mut(&tid).and_then(Vec::pop) {
                    Some(i) => i,
                    None => {
                        let name = self.task_name(p(0));
                        self.orphan(Key::Thread(tid), name, "poll")
                    }
                };
                self.items[i].end = ts;
            }
            Tag::TaskNew => {
                let name = rec::string(p(3)).map(|s| s.to_string()).unwrap_or_default();
                self.tasks.insert(p(0), (name, site(p(2))));
            }
            Tag::TaskEnd => {}
            Tag::Wake => {
                self.wakes.insert((p(0), e.arg), (ts, who(p(1), tid), None));
            }
            Tag::RegionBegin => {
                let name = rec::string(p(0)).map(|s| s.to_string()).unwrap_or_default();
                let mut item = Item::new(Key::Thread(tid), ts, name, "region");
                if p(1) != 0 {
                    item.args.push(Arg::Int(shared("task"), p(1) as i64));
                }
                let i = self.push(item);
                self.regions.entry((tid, p(0))).or_default().push(i);
            }
            Tag::RegionEnd => {
                let i = match self.regions.get_mut(&(tid, p(0))).and_then(Vec::pop) {
                    Some(i) => i,
                    None => {
                        let name = rec::string(p(0)).map(|s| s.to_string()).unwrap_or_default();
                        self.orphan(Key::Thread(tid), name, "region")
                    }
                };
                self.items[i].end = ts;
            }
            Tag::UserTaskBegin => {
                let name = rec::string(p(2)).map(|s| s.to_string()).unwrap_or_default();
                self.user_tasks.insert(p(0), name.clone());
                let mut item = Item::new(Key::UserTask(p(0)), ts, name, "task");
                if p(1) != 0 {
                    item.args.push(Arg::Int(shared("parent"), p(1) as i64));
                }
                let i = self.push(item);
                self.open_user_tasks.insert(p(0), i);
            }
            Tag::UserTaskEnd => {
                let i = match self.open_user_tasks.remove(&p(0)) {
                    Some(i) => i,
                    None => self.orphan(Key::UserTask(p(0)), shared("task"), "task"),
                };
                self.items[i].end = ts;
            }
            Tag::Log => {
                let category = rec::string(p(0)).map(|s| s.to_string()).unwrap_or_default();
                let text = String::from_utf8_lossy(&e.bytes(2, e.arg as usize)).into_owned();
                let mut item = Item::new(Key::Thread(tid), ts, category, "log");
                item.instant = true;
                item.args.push(Arg::Str(shared("message"), text.into()));
                if p(1) != 0 {
                    item.args.push(Arg::Int(shared("task"), p(1) as i64));
                }
                self.push(item);
            }
        }
    }

    /// The wait `i` (not on a lock) ended at `ts`: an arrow from the last wake of its kind on
    /// its site, if that came during the wait.
    fn woken(&mut self, i: usize, waiter: Key, ts: u64) {
        let origin = self.items[i].origin;
        let begin = self.items[i].begin;
        let Some(&(at, waker, instant)) = self.wakes.get(&origin) else {
            return;
        };
        if at < begin || at > ts {
            return;
        }
        let source = match instant {
            Some(source) => source,
            None => {
                let name = match u8::try_from(origin.1).ok().and_then(Kind::from_u8) {
                    Some(Kind::ChanRecv) => "send",
                    Some(Kind::ChanSend) => "receive",
                    Some(Kind::Semaphore) => "permits returned",
                    Some(Kind::Join) => "thread end",
                    Some(Kind::Barrier) => "last arrival",
                    _ => "notify",
                };
                let mut wake = Item::new(waker, at, shared(name), "wake");
                wake.instant = true;
                let source = self.push(wake);
                self.wakes.insert(origin, (at, waker, Some(source)));
                source
            }
        };
        let flow = self.next_flow;
        self.next_flow += 1;
        self.items[source].flows_out.push(flow);
        let mut woken = Item::new(waiter, ts, shared("woken"), "wake");
        woken.instant = true;
        woken.flows_in.push(flow);
        self.push(woken);
    }

    fn count_waiters(&mut self, object: u64, ts: u64, delta: i64) {
        let n = self.waiters.entry(object).or_insert(0);
        *n = (*n + delta).max(0);
        self.counters.push((object, ts, *n));
    }

    fn task_name(&self, id: u64) -> String {
        task_label(&self.tasks, id)
    }

    fn describe(&self, key: Key) -> String {
        match key {
            Key::Thread(tid) => match self.threads.get(&tid) {
                Some(name) if !name.is_empty() => format!("thread {tid} \"{name}\""),
                _ => format!("thread {tid}"),
            },
            Key::Task(id) => self.task_name(id),
            _ => String::new(),
        }
    }
}

/// The snapshot as a Perfetto trace, written to `w`; returns the bytes written.
pub(super) fn perfetto(s: &Snapshot, w: impl std::io::Write) -> std::io::Result<u64> {
    let clock = Clock::new(s);
    let since = clock.ns(s.since).max(s.start.monotonic_ns);
    // A window that dropped events is complete only up to its first drop: it ends there.
    let end = s
        .first_drop
        .map_or(s.end.monotonic_ns, |t| clock.ns(t).min(s.end.monotonic_ns))
        .max(since);
    // Every event with its chunk's thread, in time order (a chunk is in order already).
    let mut events: Vec<(u64, i64, RawEvent<'_>)> = Vec::new();
    for chunk in &s.chunks {
        let mut tid = 0;
        for e in rec::events(&chunk.words) {
            if e.tag == Tag::Thread {
                tid = e.payload.first().copied().unwrap_or(0) as i64;
            }
            events.push((e.ticks, tid, e));
        }
    }
    events.sort_by_key(|(ticks, _, _)| *ticks);
    let mut b = Builder {
        items: Vec::with_capacity(events.len()),
        threads: HashMap::new(),
        tasks: HashMap::new(),
        locks: HashMap::new(),
        sites: HashMap::new(),
        names: HashMap::new(),
        user_tasks: HashMap::new(),
        waits: HashMap::new(),
        polls: HashMap::new(),
        regions: HashMap::new(),
        open_user_tasks: HashMap::new(),
        held: HashMap::new(),
        released: HashMap::new(),
        wakes: HashMap::new(),
        waiters: HashMap::new(),
        counters: Vec::new(),
        next_flow: 1,
        start: since,
    };
    for (ticks, tid, e) in &events {
        let ts = clock.ns(*ticks).clamp(since, end.max(since));
        // Before the window: only who the threads and tasks are; after its end (its first
        // drop), nothing.
        let at = clock.ns(*ticks);
        if (at < since && !matches!(e.tag, Tag::Thread | Tag::TaskNew)) || at > end {
            continue;
        }
        b.event(*tid, ts, e);
    }
    drop(events);
    if s.dropped > 0 {
        let mut note = Item::new(Key::Holdup, end, shared("dropped events"), "holdup");
        note.instant = true;
        note.args
            .push(Arg::Int(shared("dropped"), s.dropped as i64));
        b.items.push(note);
    }
    // What is still open ends with the trace.
    let open: Vec<usize> = b
        .waits
        .values()
        .chain(b.polls.values())
        .chain(b.regions.values())
        .flatten()
        .copied()
        .chain(b.open_user_tasks.values().copied())
        .chain(b.held.values().map(|&(_, h)| h))
        .collect();
    for i in open {
        b.items[i].end = end.max(b.items[i].begin);
        b.items[i]
            .args
            .push(Arg::Str(shared("ended"), shared("after the trace")));
    }
    encode(b, s, since, end, w)
}

fn encode(
    b: Builder,
    s: &Snapshot,
    since: u64,
    end: u64,
    w: impl std::io::Write,
) -> std::io::Result<u64> {
    let mut out = TraceBuilder::new();
    out.clock_snapshot(s.end.monotonic_ns, s.end.realtime_ns, s.end.boottime_ns);
    let pid = std::process::id() as i32;
    let process_name = std::fs::read_to_string("/proc/self/comm")
        .map(|n| n.trim().to_owned())
        .unwrap_or_else(|_| "process".into());
    let process = out.process(pid, &process_name);
    let stacks = symbolize(&b.items, &mut out);
    let Builder {
        mut items,
        threads,
        tasks,
        locks,
        user_tasks,
        counters,
        ..
    } = b;
    // Items by timeline, then time (longer slices first, so that they enclose): one sort of
    // small keys, each timeline's items contiguous.
    let mut order: Vec<(Key, u64, std::cmp::Reverse<u64>, u32)> = items
        .iter()
        .enumerate()
        .map(|(i, a)| (a.key, a.begin, std::cmp::Reverse(a.end), i as u32))
        .collect();
    order.sort_unstable();
    // Lanes: slices on one track must nest; overlapping ones go to extra tracks.
    let mut lanes: Vec<u32> = vec![0; items.len()];
    let mut groups: Vec<(Key, std::ops::Range<usize>, usize)> = Vec::new();
    let mut open: Vec<Vec<u64>> = Vec::new();
    for (n, &(key, ..)) in order.iter().enumerate() {
        if groups.last().is_none_or(|g| g.0 != key) {
            groups.push((key, n..n, 1));
            open.clear();
        }
        let group = groups.last_mut().expect("pushed above");
        group.1.end = n + 1;
        let i = order[n].3 as usize;
        let item = &items[i];
        if item.instant {
            continue;
        }
        let fits = |stack: &mut Vec<u64>| {
            while let Some(&top) = stack.last() {
                if top <= item.begin && top < item.end {
                    stack.pop();
                } else {
                    break;
                }
            }
            stack.last().is_none_or(|&top| item.end <= top)
        };
        let lane = match open.iter_mut().position(fits) {
            Some(lane) => lane,
            None => {
                open.push(Vec::new());
                open.len() - 1
            }
        };
        open[lane].push(item.end);
        lanes[i] = lane as u32;
        group.2 = group.2.max(lane + 1);
    }
    // Locks that made someone wait have a track even without a slice (their counter's).
    for &l in locks.keys() {
        if !groups.iter().any(|g| g.0 == Key::Lock(l)) {
            groups.push((Key::Lock(l), 0..0, 1));
        }
    }
    groups.sort_by_key(|g| g.0);
    let mut lock_tracks: HashMap<u64, TrackId> = HashMap::new();
    for (key, range, n_lanes) in groups {
        let base = match key {
            Key::Thread(tid) => threads.get(&tid).cloned().unwrap_or_default(),
            Key::Task(id) => task_label(&tasks, id),
            Key::Lock(l) => {
                let (kind, site) = locks.get(&l).cloned().unwrap_or(("lock", shared("")));
                format!("{} {site}", lock_word(kind))
            }
            Key::UserTask(id) => format!(
                "user task \"{}\"",
                user_tasks.get(&id).cloned().unwrap_or_default()
            ),
            Key::Holdup => "holdup".into(),
        };
        let (rank, description) = match key {
            Key::Thread(_) => (0, String::new()),
            Key::Task(id) => (
                1,
                tasks
                    .get(&id)
                    .map(|(_, site)| format!("spawned at {site}"))
                    .unwrap_or_default(),
            ),
            Key::Lock(_) => (
                2,
                "who held the lock after a wait; the waiters counter".into(),
            ),
            Key::UserTask(_) => (3, String::new()),
            Key::Holdup => (4, String::new()),
        };
        let first = match key {
            Key::Thread(tid) => out.thread(process, pid, tid, &base),
            _ => out.named(process, &base, &description, rank),
        };
        if let Key::Lock(l) = key {
            lock_tracks.insert(l, first);
        }
        let mut tracks = vec![first];
        for lane in 1..n_lanes {
            tracks.push(out.named(
                first,
                &format!("{base} ({})", lane + 1),
                "overlapping slices",
                rank,
            ));
        }
        // Each lane's events in nesting order (a slice's end before a later sibling's begin).
        for (lane, &track) in tracks.iter().enumerate() {
            let list = order[range.clone()]
                .iter()
                .map(|o| o.3 as usize)
                .filter(|&i| lanes[i] as usize == lane);
            let mut stack: Vec<usize> = Vec::new();
            for i in list {
                let item = &items[i];
                while let Some(&top) = stack.last() {
                    let t = &items[top];
                    if t.end <= item.begin && t.end < item.end {
                        out.event(Event::new(track, t.end, Phase::End));
                        stack.pop();
                    } else {
                        break;
                    }
                }
                let phase = if item.instant {
                    Phase::Instant
                } else {
                    Phase::Begin
                };
                let mut e = Event::new(track, item.begin, phase)
                    .name(item.name.clone())
                    .category(item.category);
                if let Some(&id) = stacks.get(&item.stack) {
                    e = e.stack(id);
                }
                // Each item is encoded once: its arguments and arrows move into the event, and
                // their memory goes as the event is encoded.
                let item = &mut items[i];
                for a in std::mem::take(&mut item.args) {
                    e = e.arg(a);
                }
                for f in std::mem::take(&mut item.flows_out) {
                    e = e.flow_out(f);
                }
                for f in std::mem::take(&mut item.flows_in) {
                    e = e.flow_in(f);
                }
                let instant = item.instant;
                out.event(e);
                if !instant {
                    stack.push(i);
                }
            }
            while let Some(top) = stack.pop() {
                out.event(Event::new(track, items[top].end, Phase::End));
            }
        }
    }
    // The waiters of each lock, as a counter.
    let mut counter_tracks: HashMap<u64, TrackId> = HashMap::new();
    for (object, ts, n) in counters {
        let Some(&lock) = lock_tracks.get(&object) else {
            continue;
        };
        let track = *counter_tracks
            .entry(object)
            .or_insert_with(|| out.counter(lock, "waiters", "count"));
        out.event(Event::new(
            track,
            ts.clamp(since, end.max(since)),
            Phase::Counter(n),
        ));
    }
    out.write_to(w)
}

/// `task 12 "conn"`, or `task 12` for a task without a name (or not seen starting).
fn task_label(tasks: &HashMap<u64, (String, String)>, id: u64) -> String {
    match tasks.get(&id) {
        Some((name, _)) if !name.is_empty() => format!("task {id} \"{name}\""),
        _ => format!("task {id}"),
    }
}

fn lock_word(kind: &str) -> &'static str {
    match kind {
        "mutex" => "mutex",
        k if k.starts_with("rwlock") => "rwlock",
        "semaphore" => "semaphore",
        _ => "lock",
    }
}

/// Symbolizes the stacks the items refer to (trimmed of holdup's frames at the top, and of the
/// thread start-up or the runtime below a task's root); returns their ids by hash.
fn symbolize(items: &[Item], out: &mut TraceBuilder) -> HashMap<u64, StackId> {
    let mut hashes: Vec<u64> = items.iter().map(|i| i.stack).filter(|&h| h != 0).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let stacks: Vec<(u64, std::sync::Arc<[usize]>)> = hashes
        .into_iter()
        .filter_map(|h| rec::stack(h).map(|s| (h, s)))
        .collect();
    let refs: Vec<&[usize]> = stacks.iter().map(|(_, s)| &s[..]).collect();
    let symbolized = symbols::symbolize_stacks(&refs);
    let mut ids = HashMap::new();
    for ((hash, _), frames) in stacks.iter().zip(symbolized) {
        let names: Vec<&str> = frames.iter().map(|f| f.frame.function.as_str()).collect();
        // Below the capture: what called into the trace (holdup's frames), keeping the
        // outermost one as the leaf (the public call, like `Mutex::lock`).
        let capture = names
            .iter()
            .rposition(|n| *n == "holdup_core::trace::capture_stack")
            .map_or(0, |i| i + 1);
        let run = capture
            + names[capture..]
                .iter()
                .take_while(|n| symbols::is_internal(n) || symbols::is_glue(n))
                .count();
        let leaf = run.saturating_sub(1).max(capture);
        let end = names
            .iter()
            .position(|n| symbols::is_thread_start(n) || symbols::is_task_root(n))
            .unwrap_or(names.len())
            .max(leaf + 1)
            .min(names.len());
        let kept: Vec<StackFrame> = frames[leaf.min(end)..end]
            .iter()
            .rev()
            .map(|f| StackFrame {
                function: if f.frame.function.is_empty() {
                    format!("{:#x}", f.frame.address)
                } else {
                    f.frame.function.clone()
                },
                file: f.frame.file.clone(),
                line: f.frame.line,
            })
            .collect();
        if !kept.is_empty() {
            ids.insert(*hash, out.stack(kept));
        }
    }
    ids
}
