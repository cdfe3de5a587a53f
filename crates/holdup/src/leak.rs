//! Fail a test that leaves threads running, like Go's [goleak](https://github.com/uber-go/goleak).
//!
//! ```
//! use holdup::sync::mpsc;
//!
//! # fn pool_shuts_down() {
//! let _guard = holdup::leak::Guard::new(); // checks when dropped, at the end of the test
//! let (jobs, queue) = mpsc::channel::<u32>();
//! let worker = holdup::thread::spawn(move || while queue.recv().is_ok() {});
//! drop(jobs); // the worker's channel closes, so it exits
//! # let _ = worker;
//! # }
//! # pool_shuts_down();
//!
//! // Without a guard: check now, ignoring a runtime's threads.
//! holdup::leak::verify_none(holdup::leak::Options::new().ignore_thread_name("tokio-runtime-worker"));
//! ```
//!
//! A failure names every leaked thread: OS id, name, what it waits for and since when, where it
//! was spawned and its stack (from a [thread dump](crate::dump)):
//!
//! ```text
//! found 1 leaked thread:
//!   thread 9321 "worker-2" [chan-recv wait, 1.2s, channel src/pool.rs:38] spawned by pool::Pool::start at src/pool.rs:41
//!     holdup::sync::mpsc::Receiver<T>::recv
//!         at .../holdup/src/sync/mpsc.rs:141
//!     pool::worker
//!         at src/pool.rs:52
//! ```
//!
//! # Which threads a check sees
//!
//! - **Threads started through [`holdup::thread`](crate::thread)** belong to the scope of the
//!   thread that spawned them, and their own children inherit it: a [`Guard`] opens a new scope
//!   on its thread, so it sees exactly the threads started (directly or not) while it lives,
//!   even while other tests run in parallel threads of the same process. Without a guard, a
//!   check sees the threads the calling thread started. This is exact.
//! - **Other threads** (`std::thread::spawn`, a library's) cannot be attributed to a test: they
//!   are found by listing the process's threads (`/proc/self/task`, Linux) against a baseline:
//!   the one a [`Guard`] takes when created, [`Options::ignore_current`]'s, or else the process
//!   start, so that a plain [`find`] in a binary reports every thread alive besides the caller,
//!   the main thread and holdup's own (as goleak's `VerifyNone` does). That is exact when
//!   the process runs one test at a time (`cargo nextest`, `--test-threads=1`, one CPU, or no
//!   test harness), and that is when it is on by default. Under parallel `cargo test` another
//!   test's threads (libtest starts one per test) look the same, so by default they are not
//!   checked, and a failure report says so; [`Options::other_threads`] turns the check on there
//!   as a warning on standard error or as a failure, best-effort.
//!
//! # Retries
//!
//! Threads take a moment to exit after being told to. A check that finds threads retries on
//! goleak's schedule: up to 20 times, sleeping `min(1 µs << i, 100 ms)` (about 430 ms in
//! all), and passes as soon as they are gone; a clean check returns at once, without taking any
//! stack.
//!
//! Async tasks are not checked yet; the report is built to list them once holdup tracks them.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::dump::{self, Spawn, StackStatus, Task, Thread};
use crate::registry;
use crate::symbols::Frame;
use holdup_core::Owner;

/// What to do with threads holdup did not start, found only by listing the process's threads
/// (see the [module docs](self#which-threads-a-check-sees)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtherThreads {
    /// [`Fail`](OtherThreads::Fail) when the process runs one test at a time (nextest,
    /// `--test-threads=1`, one CPU, or no test harness); not checked under parallel
    /// `cargo test`, where they cannot be told from another test's threads.
    #[default]
    Auto,
    /// Leaks like any other (best-effort under parallel `cargo test`).
    Fail,
    /// Reported on standard error, never a failure.
    Warn,
    /// Not checked.
    Ignore,
}

/// What a check ignores and how long it retries.
#[derive(Debug, Clone)]
pub struct Options {
    names: Vec<String>,
    top_functions: Vec<String>,
    any_functions: Vec<String>,
    /// Threads alive when `ignore_current` was called: OS ids.
    baseline: Option<HashSet<i64>>,
    retries: u32,
    max_sleep: Duration,
    other: OtherThreads,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// Ignore nothing; retry on goleak's schedule (20 tries, at most 100 ms apart).
    pub fn new() -> Options {
        Options {
            names: Vec::new(),
            top_functions: Vec::new(),
            any_functions: Vec::new(),
            baseline: None,
            retries: 20,
            max_sleep: Duration::from_millis(100),
            other: OtherThreads::Auto,
        }
    }

    /// Ignores threads with this exact name.
    pub fn ignore_thread_name(mut self, name: impl Into<String>) -> Options {
        self.names.push(name.into());
        self
    }

    /// Ignores threads whose innermost frame is this function (exact name, as dumps print it,
    /// e.g. `holdup::sync::mpsc::Receiver<T>::recv`), or whose innermost function outside
    /// holdup, std and libc is (e.g. `my_crate::pool::worker`).
    pub fn ignore_top_function(mut self, function: impl Into<String>) -> Options {
        self.top_functions.push(function.into());
        self
    }

    /// Ignores threads with this function (exact name) anywhere in their stack.
    pub fn ignore_any_function(mut self, function: impl Into<String>) -> Options {
        self.any_functions.push(function.into());
        self
    }

    /// Ignores every thread alive now (goleak's `IgnoreCurrent`); also the baseline against
    /// which threads holdup did not start are found.
    pub fn ignore_current(mut self) -> Options {
        let mut now: HashSet<i64> = dump::task_ids().into_iter().collect();
        now.extend(registry::entries().iter().map(|e| e.os_tid));
        self.baseline = Some(now);
        self
    }

    /// How many times a check that finds threads looks again before it reports them (default
    /// 20; 0 checks once).
    pub fn retries(mut self, retries: u32) -> Options {
        self.retries = retries;
        self
    }

    /// The longest sleep between two tries (default 100 ms); sleeps double from 1 µs.
    pub fn max_sleep(mut self, max: Duration) -> Options {
        self.max_sleep = max;
        self
    }

    /// What to do with threads holdup did not start (default [`OtherThreads::Auto`]).
    pub fn other_threads(mut self, what: OtherThreads) -> Options {
        self.other = what;
        self
    }

    fn ignores_name(&self, name: Option<&str>) -> bool {
        name.is_some_and(|n| self.names.iter().any(|x| x == n))
    }

    fn needs_stacks(&self) -> bool {
        !self.top_functions.is_empty() || !self.any_functions.is_empty()
    }

    fn ignores_stack(&self, frames: &[Frame]) -> bool {
        let top = frames.first().map(|f| f.function.as_str());
        let program_top = frames
            .iter()
            .map(|f| f.function.as_str())
            .find(|f| dump::is_program(f));
        self.top_functions
            .iter()
            .any(|x| Some(x.as_str()) == top || Some(x.as_str()) == program_top)
            || frames
                .iter()
                .any(|f| self.any_functions.contains(&f.function))
    }
}

/// One leaked thread.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeakedThread {
    /// The thread as the dump saw it: name, wait, stack, spawn site.
    pub thread: Thread,
    /// Found by listing the process's threads (not started through `holdup::thread`), so it
    /// could belong to another test running in this process.
    pub unattributed: bool,
}

/// One leaked task: a task spawned through `holdup::tokio` in the check's scope (by the test,
/// or by its tasks) that is still alive.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeakedTask {
    /// The task as the dump saw it: name, wait, stack at its wait, spawn site.
    pub task: Task,
}

/// The threads and tasks a check found still running.
#[derive(Debug, Clone)]
pub struct Leaks {
    threads: Vec<LeakedThread>,
    tasks: Vec<LeakedTask>,
    /// Threads spawned through `holdup::thread` that had not started running.
    starting: usize,
    /// What the check could not see, said in the report.
    note: Option<&'static str>,
}

impl Leaks {
    /// The leaked threads.
    pub fn threads(&self) -> &[LeakedThread] {
        &self.threads
    }

    /// The leaked tasks.
    pub fn tasks(&self) -> &[LeakedTask] {
        &self.tasks
    }

    /// Threads spawned through `holdup::thread` (and tasks spawned through `holdup::tokio`)
    /// that had not started running when the check gave up: leaks too, without a stack to
    /// show.
    pub fn starting(&self) -> usize {
        self.starting
    }

    /// How many threads and tasks leaked (with those not started yet).
    pub fn len(&self) -> usize {
        self.threads.len() + self.tasks.len() + self.starting
    }

    /// Whether nothing leaked (never the case for a returned `Leaks`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const PARALLEL_UNCHECKED: &str = "threads not started through holdup::thread were not checked: other tests run in this process and their threads cannot be told apart (they are checked under cargo nextest or --test-threads=1, or with Options::other_threads)";
const PARALLEL_BEST_EFFORT: &str = "threads not started through holdup::thread were found by listing the process's threads while other tests run in this process: they may be another test's (exact under cargo nextest or --test-threads=1)";
const LISTED: &str =
    "threads not started through holdup::thread were found by listing the process's threads";

impl fmt::Display for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, what: &str| format!("{n} leaked {what}{}", if n == 1 { "" } else { "s" });
        let head = match (self.threads.len() + self.starting, self.tasks.len()) {
            (n, 0) => plural(n, "thread"),
            (0, t) => plural(t, "task"),
            (n, t) => format!("{} and {}", plural(n, "thread"), plural(t, "task")),
        };
        writeln!(f, "found {head}:")?;
        if self.starting > 0 {
            writeln!(
                f,
                "  {} spawned through holdup::thread or holdup::tokio but not running yet",
                self.starting
            )?;
        }
        for l in &self.threads {
            let t = &l.thread;
            let mut head = format!("  {} [{}]", t.thread, t.status());
            if let Some(Spawn { site, function, .. }) = &t.spawn {
                match function {
                    Some(func) => write!(
                        head,
                        " spawned by {func} at {}:{}",
                        site.file(),
                        site.line()
                    )?,
                    None => write!(head, " spawned at {}:{}", site.file(), site.line())?,
                }
            }
            writeln!(f, "{head}")?;
            if let StackStatus::Unavailable(why) = &t.stack {
                writeln!(f, "    stack unavailable: {why}")?;
            }
            dump::write_frames(f, &t.frames, "    ")?;
        }
        for l in &self.tasks {
            let t = &l.task;
            let mut head = format!("  {} [{}]", t.task, t.status());
            if let Some(sp) = &t.spawn {
                write!(
                    head,
                    " spawned at {}:{} by {}",
                    sp.site.file(),
                    sp.site.line(),
                    sp.parent
                )?;
            }
            writeln!(f, "{head}")?;
            dump::write_frames(f, &t.frames, "    ")?;
        }
        if let Some(note) = self.note {
            writeln!(f, "({note})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Leaks {}

/// Whether this process may run several tests at once: a libtest harness (cargo puts test
/// binaries in `target/<profile>/deps/`), not under nextest (one test per process), with more
/// than one test thread, checked from a thread other than the main one (libtest runs every
/// test in a thread of its own, even with one test thread: a check on the main thread is a
/// `harness = false` binary's, or a program's).
fn parallel_tests() -> bool {
    if std::env::var_os("NEXTEST").is_some() || std::env::var_os("NEXTEST_RUN_ID").is_some() {
        return false;
    }
    if registry::os_tid() == i64::from(std::process::id()) {
        return false;
    }
    let in_deps = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().and_then(|d| d.file_name()).map(|n| n == "deps"))
        .unwrap_or(false);
    if !in_deps {
        return false;
    }
    let mut args = std::env::args();
    let mut threads: Option<String> = None;
    while let Some(a) = args.next() {
        if let Some(v) = a.strip_prefix("--test-threads=") {
            threads = Some(v.to_owned());
        } else if a == "--test-threads" {
            threads = args.next();
        }
    }
    let threads = threads.or_else(|| std::env::var("RUST_TEST_THREADS").ok());
    match threads.and_then(|t| t.parse::<usize>().ok()) {
        Some(n) => n > 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()) > 1,
    }
}

/// The scope and baseline a check compares against.
#[derive(Debug)]
struct Context {
    scope: u64,
    baseline: Option<HashSet<i64>>,
}

/// The thread a process starts with (its main thread), the baseline of a check that was given
/// none: on Linux its id is the process id.
fn process_start() -> HashSet<i64> {
    HashSet::from([i64::from(std::process::id())])
}

/// Threads that look leaked now: (OS id, unattributed), before the stack-based ignores.
fn candidates(ctx: &Context, opts: &Options, other: bool) -> Vec<(i64, bool)> {
    let me = registry::os_tid();
    let entries = registry::entries();
    let own: HashSet<i64> = registry::own_threads().into_iter().collect();
    let ignored =
        |tid: i64| own.contains(&tid) || opts.baseline.as_ref().is_some_and(|b| b.contains(&tid));
    let mut out: Vec<(i64, bool)> = entries
        .iter()
        .filter(|e| e.scope == ctx.scope && e.os_tid != me && !ignored(e.os_tid))
        .filter(|e| !opts.ignores_name(e.name.as_deref()))
        .map(|e| (e.os_tid, false))
        .collect();
    if other {
        // Against the guard's baseline or `ignore_current`'s; without either, against the
        // process start, so that a plain check reports every thread alive besides the caller
        // (as goleak's `VerifyNone` does), threads spawned from other scopes included.
        let explicit = ctx.baseline.as_ref().or(opts.baseline.as_ref());
        let from_start = explicit.is_none();
        let start = if from_start {
            process_start()
        } else {
            HashSet::new()
        };
        let base = explicit.unwrap_or(&start);
        let skip: HashSet<i64> = entries
            .iter()
            .filter(|e| e.spawn.is_some() && (!from_start || e.scope == ctx.scope))
            .map(|e| e.os_tid)
            .collect();
        let spawned: HashMap<i64, Option<&str>> = entries
            .iter()
            .filter(|e| e.spawn.is_some())
            .map(|e| (e.os_tid, e.name.as_deref()))
            .collect();
        for tid in dump::task_ids() {
            if tid == me || base.contains(&tid) || ignored(tid) || skip.contains(&tid) {
                continue;
            }
            match spawned.get(&tid) {
                // Started through holdup::thread from another scope: known, not a guess.
                Some(name) => {
                    if !opts.ignores_name(*name) {
                        out.push((tid, false));
                    }
                }
                None => {
                    if !opts.ignores_name(dump::task_name(tid).as_deref()) {
                        out.push((tid, true));
                    }
                }
            }
        }
    }
    out
}

/// Tasks spawned through `holdup::tokio` in the check's scope that are alive now, by id,
/// before the stack-based ignores.
fn task_candidates(ctx: &Context, opts: &Options) -> Vec<u64> {
    registry::tasks()
        .iter()
        .filter(|e| e.spawn.is_some() && e.scope == ctx.scope)
        .filter(|e| !opts.ignores_name(e.name.as_deref()))
        .filter_map(|e| match e.owner {
            Owner::Task(id) => Some(id),
            Owner::Thread(_) => None,
        })
        .collect()
}

/// The threads and tasks of `found` that no stack-based ignore drops, with a dump of each.
fn confirm(
    opts: &Options,
    found: &[(i64, bool)],
    tasks: &[u64],
) -> (Vec<LeakedThread>, Vec<LeakedTask>) {
    let tids: HashSet<i64> = found.iter().map(|&(t, _)| t).collect();
    let task_ids: HashSet<u64> = tasks.iter().copied().collect();
    let dump = dump::threads_only(&dump::Options::new(), &tids, &task_ids);
    let threads = found
        .iter()
        .filter_map(|&(tid, unattributed)| {
            let thread = dump.thread(tid)?.clone();
            if opts.ignores_name(thread.name()) || opts.ignores_stack(&thread.frames) {
                return None;
            }
            Some(LeakedThread {
                thread,
                unattributed,
            })
        })
        .collect();
    let tasks = dump
        .tasks()
        .iter()
        .filter(|t| !opts.ignores_name(t.name()) && !opts.ignores_stack(&t.frames))
        .map(|t| LeakedTask { task: t.clone() })
        .collect();
    (threads, tasks)
}

/// Runs a check: the leaks that fail it, and those only worth a warning.
fn check(ctx: &Context, opts: &Options) -> (Result<(), Leaks>, Option<Leaks>) {
    let parallel = parallel_tests();
    let (look_other, fail_other) = match opts.other {
        OtherThreads::Auto => (!parallel, true),
        OtherThreads::Fail => (true, true),
        OtherThreads::Warn => (true, false),
        OtherThreads::Ignore => (false, false),
    };
    let note = |unattributed: bool| match (unattributed, parallel, look_other) {
        (_, true, false) if opts.other == OtherThreads::Auto => Some(PARALLEL_UNCHECKED),
        (true, true, true) => Some(PARALLEL_BEST_EFFORT),
        (true, false, true) => Some(LISTED),
        _ => None,
    };
    let mut attempt = 0u32;
    loop {
        let starting = registry::pending_in(ctx.scope);
        let mut found = candidates(ctx, opts, look_other);
        let mut tasks = task_candidates(ctx, opts);
        if opts.needs_stacks() && !(found.is_empty() && tasks.is_empty()) {
            let (threads, kept) = confirm(opts, &found, &tasks);
            found = threads
                .iter()
                .map(|l| (l.thread.tid(), l.unattributed))
                .collect();
            tasks = kept.iter().map(|l| l.task.id()).collect();
        }
        if found.is_empty() && tasks.is_empty() && starting == 0 {
            return (Ok(()), None);
        }
        if attempt >= opts.retries {
            // Stacks are taken only now: a clean check lists threads, it does not dump them.
            let (threads, tasks) = confirm(opts, &found, &tasks);
            let (fail, warn): (Vec<_>, Vec<_>) = threads
                .into_iter()
                .partition(|l| !l.unattributed || fail_other);
            let warn = (!warn.is_empty()).then(|| Leaks {
                threads: warn,
                tasks: Vec::new(),
                starting: 0,
                note: note(true),
            });
            if fail.is_empty() && tasks.is_empty() && starting == 0 {
                return (Ok(()), warn);
            }
            let unattributed = fail.iter().any(|l| l.unattributed);
            return (
                Err(Leaks {
                    threads: fail,
                    tasks,
                    starting,
                    note: note(unattributed),
                }),
                warn,
            );
        }
        std::thread::sleep(Duration::from_micros(1u64 << attempt.min(40)).min(opts.max_sleep));
        attempt += 1;
    }
}

fn report_warnings(warn: Option<Leaks>) {
    if let Some(w) = warn {
        eprintln!("holdup::leak: warning (not a failure):\n{w}");
    }
}

/// Checks now, from the calling thread's scope: `Err` lists the threads still running after the
/// retries (see the [module docs](self)).
///
/// Which threads it reports:
///
/// - the threads the calling thread started through `holdup::thread` (directly or not), always;
/// - when the process runs one test at a time or is no test harness (a plain binary, `cargo
///   nextest`, `--test-threads=1`): every other thread alive besides the caller, the main
///   thread and holdup's own (its HTTP server's, its watchdog's), like goleak's `VerifyNone`;
///   the process start is the baseline, or [`Options::ignore_current`]'s if given;
/// - under parallel `cargo test`, threads not started through `holdup::thread` only as
///   [`Options::other_threads`] says.
///
/// ```
/// // In a plain binary: fails if anything but `main` (and holdup's own threads) still runs.
/// let workers: Vec<_> = (0..8).map(|_| std::thread::spawn(std::thread::park)).collect();
/// let leaks = holdup::leak::find(holdup::leak::Options::new().retries(3)).unwrap_err();
/// assert_eq!(leaks.len(), 8);
/// # drop(workers);
/// ```
///
/// # Errors
///
/// [`Leaks`] when threads are left; its `Display` is the report.
pub fn find(options: Options) -> Result<(), Leaks> {
    let ctx = Context {
        scope: registry::current_scope(),
        baseline: None,
    };
    let (result, warn) = check(&ctx, &options);
    report_warnings(warn);
    result
}

/// Checks now and panics with the report if threads are left, for tests.
///
/// # Panics
///
/// With the [`Leaks`] report when threads are left.
#[track_caller]
pub fn verify_none(options: Options) {
    if let Err(leaks) = find(options) {
        panic!("{leaks}");
    }
}

/// Checks for leaked threads when dropped: the threads started (through `holdup::thread`, also
/// indirectly) while it lived, and the other threads that appeared since it was created (see the
/// [module docs](self#which-threads-a-check-sees)). If the thread is already panicking (the test
/// failed), the report goes to standard error instead of a second panic.
#[derive(Debug)]
#[must_use = "the check runs when the guard is dropped"]
pub struct Guard {
    ctx: Context,
    previous_scope: u64,
    options: Options,
    armed: bool,
}

impl Guard {
    /// A guard with the default [`Options`].
    pub fn new() -> Guard {
        Guard::with(Options::new())
    }

    /// A guard with these options.
    pub fn with(options: Options) -> Guard {
        // Threads spawned from now on record their spawner's stack (once per process: reads the
        // unwind tables), so that a report names the function that spawned a leak.
        holdup_core::collector::warm_up();
        let scope = registry::new_scope();
        let previous_scope = registry::set_scope(scope);
        let baseline: HashSet<i64> = dump::task_ids().into_iter().collect();
        Guard {
            ctx: Context {
                scope,
                baseline: Some(baseline),
            },
            previous_scope,
            options,
            armed: true,
        }
    }

    /// Checks now (as dropping it would, without panicking) and disarms the guard.
    ///
    /// # Errors
    ///
    /// [`Leaks`] when threads are left.
    pub fn check(mut self) -> Result<(), Leaks> {
        self.armed = false;
        registry::set_scope(self.previous_scope);
        let (result, warn) = check(&self.ctx, &self.options);
        report_warnings(warn);
        result
    }
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        registry::set_scope(self.previous_scope);
        let (result, warn) = check(&self.ctx, &self.options);
        report_warnings(warn);
        if let Err(leaks) = result {
            if std::thread::panicking() {
                eprintln!("holdup::leak::Guard (the test already failed): {leaks}");
            } else {
                panic!("{leaks}");
            }
        }
    }
}
