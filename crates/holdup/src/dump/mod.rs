//! Thread dumps: what every thread of the process is doing right now, like Go's goroutine dump,
//! with who holds the lock each thread waits for and the deadlocks among them.
//!
//! ```
//! use holdup::sync::Mutex;
//! use std::sync::Arc;
//!
//! let lock = Arc::new(Mutex::new(()));
//! let guard = lock.lock().unwrap();
//! let waiter = {
//!     let lock = Arc::clone(&lock);
//!     holdup::thread::Builder::new().name("waiter".into()).spawn(move || drop(lock.lock())).unwrap()
//! };
//! # while !holdup::thread::registered().iter().any(|t| t.waiting.is_some()) { std::thread::yield_now() }
//! let dump = holdup::dump::threads();
//! let mut text = Vec::new();
//! dump.write_text(&mut text, holdup::dump::Detail::Full)?; // like goroutine?debug=2
//! let text = String::from_utf8(text).unwrap();
//! assert!(text.contains("\"waiter\" [mutex wait"));
//! assert!(text.contains("held by thread"));
//! for cycle in dump.deadlocks() {
//!     eprintln!("{cycle}");
//! }
//! drop(guard);
//! waiter.join().unwrap();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Where the information comes from
//!
//! - **Every OS thread** of the process (on Linux), including threads holdup did not start (the
//!   runtime's, libraries'): listed from `/proc/self/task`, with the kernel's name and state
//!   from `/proc/self/task/<tid>/stat`. Each thread's stack is taken by signalling it (a
//!   real-time signal from `SIGRTMIN+4` up, the first one with no handler installed) and
//!   copying its registers and live stack in an async-signal-safe handler; the copy is unwound
//!   afterwards with DWARF unwind tables. All threads are signalled at once, so each thread is
//!   interrupted only for its own copy (microseconds), and the process is never stopped as a
//!   whole. A thread that does not answer within [`Options::timeout`] (signals blocked, stuck in
//!   the kernel) is listed with "stack unavailable".
//! - **The registry**: a thread waiting in a holdup primitive publishes what it waits for (kind,
//!   the primitive's creation site, since when) and, for locks, where the lock keeps its
//!   exclusive holder, which the dump reads. Threads started through
//!   [`holdup::thread`](crate::thread) also know their spawn site, their parent and (once stack
//!   capture is set up by a dump, a watchdog or a profile) the function that spawned them.
//!
//! Threads blocked outside holdup's primitives (a `std::sync::Mutex`, I/O) show their stack and
//! kernel state; holdup does not know what they wait for, and the dump says so.
//!
//! # Holders
//!
//! A waiter names the thread that holds its lock (`held by thread 6085 "flusher"`), and that
//! thread's own entry says what it holds (`holding mutex src/cache.rs:12 (3 waiting)`, also in
//! [`Thread::holding`]); in the grouped form a holder is its own group, labelled `holding` and
//! `tid`. What a thread holds is learnt from the threads that wait for it: locks nobody waits
//! for are not listed, and read locks are not tracked at all (a `RwLock` held for reading shows
//! as `held for reading` on its waiters, without names).
//!
//! A thread is named the same way everywhere: the name holdup knows (std's, whole: the name a
//! `Builder` gave, `main` for the main thread), else the kernel's (cut to 15 bytes).
//!
//! The signal interrupts system calls that do not restart (`nanosleep` returns early,
//! `epoll_wait`, timed futex waits and `poll` return `EINTR`): std and tokio retry those, but
//! code that treats `EINTR` as an error may see one during a dump.
//!
//! Elsewhere than Linux on x86_64, dumps list the registry's threads only, without stacks.
//!
//! # Deadlocks
//!
//! The wait-for graph (thread → lock → exclusive holder, thread → joined thread) is built at
//! dump time; every cycle is reported by [`ThreadDump::deadlocks`], after a second look
//! confirms that each wait in it is still the same. Read locks are not tracked (every reader
//! would write the lock's cache line), so cycles through a lock held for reading are not found.
//! [`Watchdog`] checks periodically.

mod watchdog;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
use holdup_core::capture;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::panic::Location;
use std::time::{Duration, Instant, SystemTime};

pub use watchdog::{Incident, Watchdog, WatchdogBuilder};

use crate::counts::{CountFrame, CountProfile};
use crate::registry::{self, Entry, EntryWait};
use crate::symbols::{self, DumpFrame, Frame};
use holdup_core::{Kind, Owner};

/// How a dump is taken.
#[derive(Debug, Clone)]
pub struct Options {
    timeout: Duration,
    stack_bytes: usize,
    depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// The defaults: threads get 250 ms to answer, 256 KiB of each stack is copied, 64 frames
    /// are kept.
    pub fn new() -> Options {
        Options {
            timeout: Duration::from_millis(250),
            stack_bytes: 256 * 1024,
            depth: 64,
        }
    }

    /// How long the dump waits for the threads' answers, in total (one deadline for every
    /// thread, though they are signalled in waves). A thread that does not answer in time is
    /// listed with "stack unavailable".
    pub fn timeout(mut self, timeout: Duration) -> Options {
        self.timeout = timeout;
        self
    }

    /// How many bytes of each thread's stack are copied (from its stack pointer up); frames
    /// beyond are cut. Rounded up to 4 KiB, at least 4 KiB.
    pub fn stack_bytes(mut self, bytes: usize) -> Options {
        self.stack_bytes = bytes.max(1).div_ceil(4096) * 4096;
        self
    }

    /// The most frames kept per stack (at least 1).
    pub fn depth(mut self, depth: usize) -> Options {
        self.depth = depth.max(1);
        self
    }
}

/// How much [`ThreadDump::write_text`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// Go's `goroutine?debug=1`: threads with the same stack and wait grouped, largest group
    /// first, with labels (`wait`, `lock`, `held_by`; `holding` and `tid` on a thread that holds
    /// a lock others wait for).
    Grouped,
    /// Go's `goroutine?debug=2`: every thread with its wait, how long, the lock's holder, its
    /// stack and where it was spawned; then the deadlocks.
    Full,
}

/// A thread, as named in a dump.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ThreadRef {
    /// The OS thread id (Linux `gettid`), or 0 where unknown.
    pub tid: i64,
    /// The thread's name, if it has one.
    pub name: Option<String>,
}

impl fmt::Display for ThreadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {}", self.tid)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        Ok(())
    }
}

/// Who a waiting thread waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// Nothing another thread holds (channels, condvars, barriers, once-cells), or the lock was
    /// being handed over when the dump read it.
    None,
    /// This thread holds the lock exclusively (or is the thread being joined).
    Thread(ThreadRef),
    /// A `RwLock` held for reading (readers are not tracked).
    Readers,
    /// A thread holds the lock but is not among the dumped threads (it may have just exited).
    Unidentified,
}

/// A wait in progress in a holdup primitive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Wait {
    /// The operation.
    pub kind: Kind,
    /// Where the primitive was created (for a join, where the joined thread was spawned).
    pub lock: &'static Location<'static>,
    /// How long the thread has been waiting.
    pub for_: Duration,
    /// Who holds what the thread waits for.
    pub holder: Holder,
}

/// Where a thread started through [`holdup::thread`](crate::thread) was spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Spawn {
    /// The `spawn` call.
    pub site: &'static Location<'static>,
    /// The function that called `spawn`, when the spawner's stack was captured (stack capture
    /// is set up by the first dump, watchdog or enabled profile).
    pub function: Option<String>,
    /// The thread that spawned it.
    pub parent: ThreadRef,
}

/// A lock a thread holds exclusively while other threads of the dump wait for it.
///
/// Locks are known to be held from their waiters: each waiter reads the lock's exclusive holder
/// (see [`Holder`]). Locks nobody waits for, and locks held for reading (read locks are not
/// tracked), are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Held {
    /// [`Kind::Mutex`], or [`Kind::RwLockWrite`] for a `RwLock` held for writing.
    pub kind: Kind,
    /// Where the lock was created.
    pub lock: &'static Location<'static>,
    /// How many threads of the dump wait for it.
    pub waiters: usize,
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}",
            self.kind.as_str(),
            self.lock.file(),
            self.lock.line()
        )
    }
}

/// Whether a thread's stack was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackStatus {
    /// The frames are the thread's stack.
    Captured,
    /// No stack: why.
    Unavailable(String),
}

/// One thread of a [`ThreadDump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Thread {
    /// The thread, by OS id and name.
    pub thread: ThreadRef,
    /// The kernel's state letter (`R` running, `S` sleeping, `D` uninterruptible, ...), if read.
    pub kernel_state: Option<char>,
    /// Its stack, innermost first (holdup's own frames trimmed to the public call, as in
    /// profiles); empty when unavailable.
    pub frames: Vec<Frame>,
    /// Whether the stack was taken, or why not.
    pub stack: StackStatus,
    /// What it waits for in a holdup primitive, if anything.
    pub wait: Option<Wait>,
    /// The locks it holds exclusively that other threads wait for (see [`Held`]), in the order
    /// of their creation sites.
    pub holding: Vec<Held>,
    /// Where it was spawned, for threads started through `holdup::thread`.
    pub spawn: Option<Spawn>,
    /// Whether this is the thread that took the dump.
    pub current: bool,
    /// How long its signal handler ran (the time it was interrupted, minus signal delivery).
    pub interrupted_for: Option<Duration>,
    text: Vec<(u64, u64)>,
}

impl Thread {
    /// The OS thread id.
    pub fn tid(&self) -> i64 {
        self.thread.tid
    }

    /// The thread's name, if any.
    pub fn name(&self) -> Option<&str> {
        self.thread.name.as_deref()
    }

    /// Whether any frame's function name contains `needle`.
    pub fn has_function(&self, needle: &str) -> bool {
        self.frames.iter().any(|f| f.function.contains(needle))
    }

    /// The bracketed status of a full entry: `mutex wait, 5.2s, lock src/cache.rs:12 held by
    /// thread 4120 "worker-1"`, followed by the locks it holds that others wait for (`; holding
    /// mutex src/pool.rs:30 (3 waiting)`).
    pub fn status(&self) -> String {
        let mut s = self.activity();
        for (i, h) in self.holding.iter().enumerate() {
            s.push_str(if i == 0 { "; holding " } else { ", " });
            let _ = write!(s, "{h} ({} waiting)", h.waiters);
        }
        s
    }

    /// What the thread is doing: its wait, or its kernel state.
    fn activity(&self) -> String {
        if let Some(w) = &self.wait {
            let mut s = format!("{} wait, {}, ", w.kind.as_str(), human(w.for_));
            let site = format!("{}:{}", w.lock.file(), w.lock.line());
            match w.kind {
                Kind::Mutex | Kind::RwLockRead | Kind::RwLockWrite => {
                    let _ = write!(s, "lock {site}");
                    match &w.holder {
                        Holder::Thread(t) => {
                            let _ = write!(s, " held by {t}");
                        }
                        Holder::Readers => s.push_str(" held for reading"),
                        Holder::Unidentified => s.push_str(" held by a thread not in this dump"),
                        Holder::None => {}
                    }
                }
                Kind::Join => {
                    let _ = write!(s, "thread spawned at {site}");
                    if let Holder::Thread(t) = &w.holder {
                        let _ = write!(s, " ({t})");
                    }
                }
                Kind::ChanRecv | Kind::ChanSend => {
                    let _ = write!(s, "channel {site}");
                }
                _ => {
                    let _ = write!(s, "{} {site}", w.kind.as_str());
                }
            }
            return s;
        }
        if self.current {
            return "running, taking this dump".to_owned();
        }
        match self.kernel_state {
            Some('R') => "running".to_owned(),
            Some(c) => format!(
                "{}, not in a holdup primitive (wait unknown to holdup)",
                state_name(c)
            ),
            None => "not in a holdup primitive (wait unknown to holdup)".to_owned(),
        }
    }
}

/// A wait-for cycle: each thread waits for what the next one holds, the last for the first's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Deadlock {
    /// The threads of the cycle, in wait-for order.
    pub links: Vec<DeadlockLink>,
}

/// One thread of a [`Deadlock`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadlockLink {
    /// The waiting thread.
    pub thread: ThreadRef,
    /// What it waits for.
    pub kind: Kind,
    /// The primitive's creation site.
    pub lock: &'static Location<'static>,
    /// How long it has waited.
    pub for_: Duration,
    /// The thread holding it (the next link's thread).
    pub held_by: ThreadRef,
    /// The waiting thread's stack.
    pub frames: Vec<Frame>,
}

impl Deadlock {
    /// The locks of the cycle, `file:line`, in wait-for order.
    pub fn locks(&self) -> Vec<String> {
        self.links
            .iter()
            .map(|l| format!("{}:{}", l.lock.file(), l.lock.line()))
            .collect()
    }

    /// One line: `thread 1 "a" waits for mutex a.rs:3 held by thread 2 "b"; thread 2 ...`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} waits for {} {}:{} held by {}",
                    l.thread,
                    l.kind.as_str(),
                    l.lock.file(),
                    l.lock.line(),
                    l.held_by
                )
            })
            .collect();
        parts.join("; ")
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "deadlock: {} threads wait for each other",
            self.links.len()
        )?;
        for l in &self.links {
            writeln!(
                f,
                "  {} waits {} for {} {}:{}, held by {}:",
                l.thread,
                human(l.for_),
                l.kind.as_str(),
                l.lock.file(),
                l.lock.line(),
                l.held_by
            )?;
            write_frames(f, &l.frames, "    ")?;
        }
        Ok(())
    }
}

/// Every thread of the process at one moment, with what each waits for. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct ThreadDump {
    time: SystemTime,
    elapsed: Duration,
    threads: Vec<Thread>,
    deadlocks: Vec<Deadlock>,
    source: &'static str,
}

/// Dumps every thread with the default [`Options`].
pub fn threads() -> ThreadDump {
    threads_with(&Options::new())
}

/// Dumps every thread.
pub fn threads_with(options: &Options) -> ThreadDump {
    dump(options, None)
}

/// Dumps the threads with these OS ids (those still alive), for the leak checker.
pub(crate) fn threads_only(options: &Options, tids: &HashSet<i64>) -> ThreadDump {
    dump(options, Some(tids))
}

fn dump(options: &Options, only: Option<&HashSet<i64>>) -> ThreadDump {
    let started = Instant::now();
    let time = SystemTime::now();
    let me = registry::os_tid();
    let mut entries = registry::entries();
    if let Some(only) = only {
        entries.retain(|e| only.contains(&e.os_tid));
    }
    let (tasks, captured, source) = collect(options, only);
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

    let mut threads: Vec<Thread> = Vec::with_capacity(tids.len());
    for (i, &tid) in tids.iter().enumerate() {
        let entry = by_tid.get(&tid);
        let frames = trim(&symbolized[2 * i], options.depth);
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
        let wait = entry.and_then(|e| e.wait).map(|w| Wait {
            kind: w.kind,
            lock: w.site,
            for_: w.for_,
            holder: holder_of(&w, &by_owner, &thread_ref),
        });
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
            current: tid == me,
            interrupted_for,
        });
    }
    attach_holdings(&mut threads);
    // Go lists the current goroutine first, then the others in creation order.
    threads.sort_by_key(|t| (!t.current, t.thread.tid));
    let deadlocks = find_deadlocks(&threads, &entries, &by_owner);
    ThreadDump {
        time,
        elapsed: started.elapsed(),
        threads,
        deadlocks,
        source,
    }
}

/// The real-time signal dumps take stacks with: the first from `SIGRTMIN + 4` up whose
/// disposition was the default when a dump needed one. `None` before the first dump, when the
/// signal was taken over by another handler since (the next dump moves to another free one and
/// never sends the old one again), and elsewhere than Linux on x86_64.
///
/// For programs that use real-time signals themselves: install yours before the first dump, or
/// leave this one alone.
pub fn signal() -> Option<i32> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return capture::current_signal();
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    return None;
}

/// The number of threads in the process now (cheap: no stacks), for index pages.
pub fn count() -> usize {
    #[cfg(target_os = "linux")]
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        return dir.count();
    }
    registry::entries().len()
}

impl ThreadDump {
    /// When the dump was taken.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// How long taking the dump took (listing, signalling, copying, unwinding, symbolizing).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The longest time any thread spent in its dump signal handler.
    pub fn longest_interruption(&self) -> Duration {
        self.threads
            .iter()
            .filter_map(|t| t.interrupted_for)
            .max()
            .unwrap_or_default()
    }

    /// The threads: the one that took the dump first, then by OS thread id.
    pub fn threads(&self) -> &[Thread] {
        &self.threads
    }

    /// The number of threads.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether no thread was found (never the case on Linux: the dumping thread is listed).
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// The thread with this OS id.
    pub fn thread(&self, tid: i64) -> Option<&Thread> {
        self.threads.iter().find(|t| t.thread.tid == tid)
    }

    /// The wait-for cycles found (see the [module docs](self#deadlocks)).
    pub fn deadlocks(&self) -> &[Deadlock] {
        &self.deadlocks
    }

    /// Writes the dump as text: [`Detail::Grouped`] (Go's `debug=1` layout, which `go tool
    /// pprof` reads) or [`Detail::Full`] (one entry per thread, like Go's `debug=2`).
    pub fn write_text(&self, mut w: impl Write, detail: Detail) -> io::Result<()> {
        match detail {
            Detail::Grouped => {
                self.count_profile(false).write_text(&mut w)?;
                if !self.deadlocks.is_empty() {
                    let mut text = String::new();
                    for d in &self.deadlocks {
                        let _ = writeln!(text, "# deadlock: {}", d.summary());
                    }
                    w.write_all(text.as_bytes())?;
                }
                Ok(())
            }
            Detail::Full => w.write_all(self.full_text().as_bytes()),
        }
    }

    /// Writes the dump as a gzip'd `goroutine/count` profile.proto (Go's `debug=0`): threads
    /// counted per stack and labels `thread` (the name), `wait`, `lock`, `held_by`, `holding`,
    /// `tid`.
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        self.count_profile(true).write_pprof(w)
    }

    /// The dump as Go's `goroutine` count profile: threads grouped by stack and labels `wait`,
    /// `lock`, `held_by`, `holding`, `tid` (as [`Detail::Grouped`] shows them).
    pub fn to_count_profile(&self) -> CountProfile {
        self.count_profile(false)
    }

    fn count_profile(&self, names: bool) -> CountProfile {
        let groups = self.threads.iter().map(|t| {
            let frames = t
                .frames
                .iter()
                .zip(&t.text)
                .map(|(f, &(pc, offset))| CountFrame {
                    pc,
                    function: f.function.clone(),
                    offset,
                    file: f.file.clone(),
                    line: f.line,
                    inlined: f.inlined,
                })
                .collect();
            let mut labels = labels(t);
            if names && let Some(name) = t.name() {
                labels.insert("thread".to_owned(), name.to_owned());
            }
            (frames, labels)
        });
        CountProfile::from_groups("goroutine", self.time, groups)
    }

    fn full_text(&self) -> String {
        let mut s = format!(
            "thread dump: {} threads, {} deadlock{}, taken in {} ({})\n\n",
            self.threads.len(),
            self.deadlocks.len(),
            if self.deadlocks.len() == 1 { "" } else { "s" },
            human(self.elapsed),
            self.source
        );
        for t in &self.threads {
            let _ = writeln!(s, "{} [{}]:", t.thread, t.status());
            if let StackStatus::Unavailable(why) = &t.stack {
                let _ = writeln!(s, "  stack unavailable: {why}");
            }
            let _ = write_frames(&mut s, &t.frames, "  ");
            if let Some(sp) = &t.spawn {
                let _ = match &sp.function {
                    Some(f) => writeln!(
                        s,
                        "  spawned by {f} at {}:{} in {}",
                        sp.site.file(),
                        sp.site.line(),
                        sp.parent
                    ),
                    None => writeln!(
                        s,
                        "  spawned at {}:{} in {}",
                        sp.site.file(),
                        sp.site.line(),
                        sp.parent
                    ),
                };
            }
            s.push('\n');
        }
        for d in &self.deadlocks {
            let _ = writeln!(s, "{d}");
        }
        s
    }
}

/// Writes `frames` as `{indent}function` and `{indent}    at file:line` lines.
pub(crate) fn write_frames(w: &mut impl fmt::Write, frames: &[Frame], indent: &str) -> fmt::Result {
    for f in frames {
        let name = if f.function.is_empty() {
            format!("{:#x}", f.address)
        } else {
            f.function.clone()
        };
        writeln!(w, "{indent}{name}")?;
        if !f.file.is_empty() {
            writeln!(w, "{indent}    at {}:{}", f.file, f.line)?;
        }
    }
    Ok(())
}

/// The labels of a thread's sample in the grouped and proto forms.
fn labels(t: &Thread) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    match &t.wait {
        Some(w) => {
            l.insert("wait".to_owned(), w.kind.as_str().to_owned());
            l.insert(
                "lock".to_owned(),
                format!("{}:{}", w.lock.file(), w.lock.line()),
            );
            match &w.holder {
                Holder::Thread(h) => {
                    l.insert("held_by".to_owned(), h.to_string());
                }
                Holder::Readers => {
                    l.insert("held_by".to_owned(), "readers".to_owned());
                }
                Holder::None | Holder::Unidentified => {}
            }
        }
        None if t.current => {
            l.insert("wait".to_owned(), "running".to_owned());
        }
        None => {
            l.insert(
                "wait".to_owned(),
                if t.kernel_state == Some('R') {
                    "running"
                } else {
                    "unknown"
                }
                .to_owned(),
            );
        }
    }
    if let StackStatus::Unavailable(_) = t.stack {
        l.insert("stack".to_owned(), "unavailable".to_owned());
    }
    if !t.holding.is_empty() {
        // A holder is its own group, with its id, so that `held_by` labels lead to it.
        let held: Vec<String> = t.holding.iter().map(Held::to_string).collect();
        l.insert("holding".to_owned(), held.join(", "));
        l.insert("tid".to_owned(), t.thread.tid.to_string());
    }
    l
}

/// Fills each thread's `holding` from the waits naming it as a lock's exclusive holder.
fn attach_holdings(threads: &mut [Thread]) {
    // Per holder, its locks in creation-site order (file, line, column, kind).
    type Site = (&'static str, u32, u32, u8);
    let mut held: BTreeMap<i64, BTreeMap<Site, Held>> = BTreeMap::new();
    for t in threads.iter() {
        let Some(Wait {
            kind,
            lock,
            holder: Holder::Thread(h),
            ..
        }) = &t.wait
        else {
            continue;
        };
        let kind = match kind {
            Kind::Mutex => Kind::Mutex,
            Kind::RwLockRead | Kind::RwLockWrite => Kind::RwLockWrite,
            _ => continue, // a join waits for a thread, not a lock
        };
        let key = (lock.file(), lock.line(), lock.column(), kind as u8);
        held.entry(h.tid)
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
        if let Some(locks) = held.remove(&t.thread.tid) {
            t.holding = locks.into_values().collect();
        }
    }
}

fn holder_of(
    w: &EntryWait,
    by_owner: &HashMap<Owner, i64>,
    thread_ref: &impl Fn(i64) -> ThreadRef,
) -> Holder {
    match (w.holder, w.kind) {
        (None, Kind::RwLockWrite) => Holder::Readers,
        (None, _) => Holder::None,
        (Some(owner), _) => by_owner
            .get(&owner)
            .map_or(Holder::Unidentified, |&tid| Holder::Thread(thread_ref(tid))),
    }
}

/// Trims a thread's symbolized stack: when it waits in holdup, everything above holdup's public
/// call (std's and libc's frames, holdup's internals); then thread start-up frames at the root.
fn trim(frames: &[DumpFrame], depth: usize) -> Vec<DumpFrame> {
    let name = |i: usize| frames[i].frame.function.as_str();
    let mut start = 0;
    let first = (0..frames.len()).find(|&i| !is_system(name(i)));
    if let Some(i) = first
        && symbols::is_internal(name(i))
    {
        let mut leaf = i;
        let mut j = i;
        while j < frames.len() && (symbols::is_internal(name(j)) || is_system(name(j))) {
            if symbols::is_internal(name(j)) {
                leaf = j;
            }
            j += 1;
        }
        start = leaf;
    }
    let mut end = (start..frames.len())
        .find(|&i| symbols::is_thread_start(name(i)))
        .unwrap_or(frames.len());
    // holdup's spawn trampoline and std's start-up frames at the root.
    while end > start + 1 && (symbols::is_internal(name(end - 1)) || is_system(name(end - 1))) {
        end -= 1;
    }
    frames[start..end].iter().take(depth).cloned().collect()
}

/// Frames a waiting thread passes through below the program's code: libc (names without a
/// path), std's and core's internals, unknown addresses.
fn is_system(function: &str) -> bool {
    function.is_empty()
        || !function.contains("::")
        || [
            "std::", "core::", "alloc::", "<std::", "<core::", "<alloc::",
        ]
        .iter()
        .any(|p| function.starts_with(p))
}

/// Whether a frame is the program's own: neither holdup's, nor std's or libc's.
pub(crate) fn is_program(function: &str) -> bool {
    !symbols::is_internal(function) && !is_system(function)
}

/// The function that called `holdup::thread::spawn`: the first frame of the spawner's stack
/// outside holdup and std.
fn spawner(frames: &[DumpFrame]) -> Option<String> {
    frames
        .iter()
        .map(|f| f.frame.function.as_str())
        .find(|n| is_program(n))
        .map(str::to_owned)
}

/// Human durations in Go's spirit: `850µs`, `12ms`, `5.2s`, `3 minutes`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        let m = d.as_secs() / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else if s >= 0.001 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}µs", d.as_micros())
    }
}

fn state_name(c: char) -> &'static str {
    match c {
        'R' => "running",
        'S' => "sleeping",
        'D' => "uninterruptible sleep",
        'T' => "stopped",
        't' => "stopped by a tracer",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        _ => "unknown state",
    }
}

/// What the OS says about one thread.
#[derive(Debug, Clone, Default)]
struct Task {
    name: Option<String>,
    state: Option<char>,
}

/// A thread's stack as taken, or why not.
#[derive(Debug)]
enum Captured {
    Stack {
        pcs: Vec<usize>,
        token: usize,
        handler_ns: u64,
    },
    Missing(String),
}

/// Whether this platform takes every thread's stack by signal.
const CAPTURES: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

/// Lists the process's threads and takes their stacks.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn collect(
    options: &Options,
    only: Option<&HashSet<i64>>,
) -> (BTreeMap<i64, Task>, HashMap<i64, Captured>, &'static str) {
    let mut tids = task_ids();
    if let Some(only) = only {
        tids.retain(|t| only.contains(t));
    }
    let tids32: Vec<i32> = tids.iter().filter_map(|&t| i32::try_from(t).ok()).collect();
    // Stack capture needs the unwind tables; reading them once costs milliseconds.
    holdup_core::collector::warm_up();
    // States are read before the signals: a thread answering one is running for a moment.
    let tasks: BTreeMap<i64, Task> = tids.iter().map(|&t| (t, read_task(t))).collect();
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
fn collect(
    _options: &Options,
    only: Option<&HashSet<i64>>,
) -> (BTreeMap<i64, Task>, HashMap<i64, Captured>, &'static str) {
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

/// The OS ids of the process's threads now, sorted (empty where unknown).
#[cfg(target_os = "linux")]
pub(crate) fn task_ids() -> Vec<i64> {
    let mut out: Vec<i64> = std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// The OS ids of the process's threads now (empty where unknown).
#[cfg(not(target_os = "linux"))]
pub(crate) fn task_ids() -> Vec<i64> {
    Vec::new()
}

/// The kernel's name of thread `tid` (Linux), if it is alive.
pub(crate) fn task_name(tid: i64) -> Option<String> {
    #[cfg(target_os = "linux")]
    return read_task(tid).name;
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}

/// Name and state from `/proc/self/task/<tid>/stat` (one read: `tid (comm) S ...`).
#[cfg(target_os = "linux")]
fn read_task(tid: i64) -> Task {
    use std::io::Read;
    let mut buf = [0u8; 512];
    let Ok(mut f) = std::fs::File::open(format!("/proc/self/task/{tid}/stat")) else {
        return Task::default();
    };
    let n = f.read(&mut buf).unwrap_or(0);
    let text = &buf[..n];
    let (Some(open), Some(close)) = (
        text.iter().position(|&b| b == b'('),
        text.iter().rposition(|&b| b == b')'),
    ) else {
        return Task::default();
    };
    if close < open {
        return Task::default();
    }
    let name = String::from_utf8_lossy(&text[open + 1..close]).into_owned();
    let state = text.get(close + 2).map(|&b| b as char);
    Task {
        name: Some(name),
        state,
    }
}

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
fn find_deadlocks(
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
    let before: HashMap<i64, EntryWait> = entries
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
                        for_: w.for_,
                        held_by: h.clone(),
                        frames: t.frames.clone(),
                    })
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(human(Duration::from_micros(850)), "850µs");
        assert_eq!(human(Duration::from_millis(12)), "12ms");
        assert_eq!(human(Duration::from_millis(5_240)), "5.2s");
        assert_eq!(human(Duration::from_secs(190)), "3 minutes");
        assert_eq!(human(Duration::from_secs(61)), "1 minute");
    }

    #[test]
    fn system_frames_are_libc_std_and_unknown() {
        assert!(is_system("syscall"));
        assert!(is_system(""));
        assert!(is_system("std::sys::pal::unix::futex::futex_wait"));
        assert!(is_system(
            "<std::sync::poison::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop"
        ));
        assert!(!is_system("app::worker"));
        assert!(!is_system("holdup::sync::mutex::Mutex<T>::lock"));
    }
}
