//! The CPU profile's sampler (Linux x86_64): every thread of the process gets a timer on its
//! own CPU clock (`timer_create` on the thread's CPU-time clock, `SIGEV_THREAD_ID`), which
//! sends it `SIGPROF` each period of CPU time it uses; the handler copies the interrupted
//! registers and the top of the stack into a preallocated ring and returns; a collector thread
//! (holdup's own, never sampled) arms timers for new threads, drains the ring and unwinds the
//! copies (`stack::unwind_copy`), outside any handler.
//!
//! Why per-thread timers: a process-wide `setitimer(ITIMER_PROF)` sends its signal to any
//! thread. Measured here at 100 Hz, a thread using 2 s of CPU got 187 samples and a sleeping
//! thread 110 of the other thread's; with per-thread timers the threads got 199 of 200 and 98
//! of 100 (Go does the same since 1.18).
//!
//! The handler follows the dump's rules (`capture`): it saves and restores `errno`, makes only
//! the system calls `gettid` and `process_vm_readv` (which reports unmapped memory as a short
//! read, so no address it reads can crash the program), never allocates, locks or unwinds, and
//! claims a ring slot with one compare-exchange (a full ring drops the sample and counts it).
//! The ring is allocated once and never freed, so a late signal always finds valid memory; it
//! writes nothing unless a profile is on.
//!
//! `SIGPROF` is the host's as much as ours: if another handler is installed, a profile does not
//! start (the error says so). Once installed, holdup's handler stays, so that a signal still
//! pending when a profile stops never meets the default action (which terminates the process).

use std::cell::UnsafeCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::capture::{self, copy_stack, errno_location, raw_ns};
use crate::kind::{Kind, Site};
use crate::owner::Owner;
use crate::registry;
use crate::stack;

/// Bytes of stack each sample copies, from the interrupted stack pointer up.
pub const STACK_BYTES: usize = 16 << 10;
/// Samples the ring holds between two drains.
const SLOTS: usize = 256;
/// Periods the collector sleeps between drains while few samples arrive (it then also arms
/// new threads' timers that much later: a thread is sampled from at most this many periods
/// after it starts).
const IDLE_PERIODS: u32 = 4;
/// Frames kept per sample (Go keeps 64 in CPU profiles).
pub const MAX_FRAMES: usize = 64;

const FREE: u32 = 0;
const WRITING: u32 = 1;
const DONE: u32 = 2;

struct Slot {
    state: AtomicU32,
    out: UnsafeCell<SlotOut>,
    stack: UnsafeCell<[u8; STACK_BYTES]>,
}

#[derive(Clone, Copy, Default)]
struct SlotOut {
    /// Periods this sample stands for: 1, plus the timer's overruns (expirations that found
    /// the previous signal still pending: the kernel checks CPU timers at its ticks, and a
    /// loaded machine delays delivery).
    weight: u32,
    tid: i32,
    ip: u64,
    sp: u64,
    bp: u64,
    len: usize,
    /// The handler's time, entry to here (read from the clock twice).
    handler_ns: u64,
}

struct Ring {
    slots: Box<[Slot]>,
    next: AtomicUsize,
}

// SAFETY: a slot's `out` and `stack` are written only by the handler that claimed it
// (FREE -> WRITING) and read only by the collector after it saw DONE (release/acquire), which
// then hands it back (FREE); no two threads touch them at once.
unsafe impl Sync for Ring {}

/// The ring, allocated by the first profile and never freed.
static RING: AtomicPtr<Ring> = AtomicPtr::new(std::ptr::null_mut());
/// Whether the handler records (a profile is on).
static ON: AtomicBool = AtomicBool::new(false);
/// Samples lost to a full ring since the profile started.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Whether holdup's handler is installed for `SIGPROF`.
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// One profile at a time.
static ACTIVE: Mutex<bool> = Mutex::new(false);
/// This process's id, for the handler's stack copy (set before any timer is armed, so the
/// handler makes no `getpid` call).
static PID: AtomicI32 = AtomicI32::new(0);

/// The ring, allocated on first use. Called only by [`start`], under `ACTIVE`: no two threads
/// allocate it.
fn ring() -> &'static Ring {
    let mut p = RING.load(Ordering::Acquire);
    if p.is_null() {
        let slots: Box<[Slot]> = (0..SLOTS)
            .map(|_| Slot {
                state: AtomicU32::new(FREE),
                out: UnsafeCell::new(SlotOut::default()),
                stack: UnsafeCell::new([0; STACK_BYTES]),
            })
            .collect();
        p = Box::into_raw(Box::new(Ring {
            slots,
            next: AtomicUsize::new(0),
        }));
        RING.store(p, Ordering::Release);
    }
    // SAFETY: a non-null RING is a leaked `Box<Ring>`, never freed.
    unsafe { &*p }
}

extern "C" fn on_sigprof(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let errno = errno_location();
    // SAFETY: reads this thread's errno, to restore it before returning.
    let saved = unsafe { *errno };
    record(overruns(info), ctx);
    // SAFETY: restores this thread's errno.
    unsafe { *errno = saved };
}

/// A POSIX timer signal's overrun count, 0 for other signals. Linux's `siginfo_t` on 64-bit
/// targets: `si_signo`, `si_errno`, `si_code`, then (aligned to 8) the timer's `si_tid` and
/// `si_overrun`, at byte 20; libc has no accessor for it.
fn overruns(info: *const libc::siginfo_t) -> u32 {
    if info.is_null() {
        return 0;
    }
    // SAFETY: the kernel passes a valid siginfo_t to SA_SIGINFO handlers.
    if unsafe { (*info).si_code } != libc::SI_TIMER {
        return 0;
    }
    let at = info.cast::<u8>().wrapping_add(20).cast::<i32>();
    // SAFETY: for SI_TIMER the union holds the timer fields; byte 20 is within the 128-byte
    // siginfo_t, and read unaligned to be safe about it.
    let n = unsafe { at.read_unaligned() };
    n.clamp(0, 1000) as u32
}

/// The handler's work: one sample into a free slot, if a profile is on.
fn record(overruns: u32, ctx: *mut libc::c_void) {
    if !ON.load(Ordering::Relaxed) || ctx.is_null() {
        return;
    }
    let p = RING.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    let entered = raw_ns();
    // SAFETY: a non-null RING is never freed.
    let ring = unsafe { &*p };
    let i = ring.next.fetch_add(1, Ordering::Relaxed) % ring.slots.len();
    let slot = &ring.slots[i];
    if slot
        .state
        .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: the kernel passes the interrupted context as a `ucontext_t` to SA_SIGINFO
    // handlers; only its general registers are read.
    let gregs = unsafe { &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    let (ip, sp, bp) = (
        gregs[libc::REG_RIP as usize] as u64,
        gregs[libc::REG_RSP as usize] as u64,
        gregs[libc::REG_RBP as usize] as u64,
    );
    // SAFETY: gettid has no preconditions and is async-signal-safe.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let pid = PID.load(Ordering::Relaxed);
    let (len, _) = copy_stack(pid, sp, slot.stack.get().cast::<u8>(), STACK_BYTES);
    // SAFETY: this handler claimed the slot; the collector reads `out` only after DONE.
    unsafe {
        *slot.out.get() = SlotOut {
            weight: 1 + overruns,
            tid,
            ip,
            sp,
            bp,
            len,
            handler_ns: raw_ns().saturating_sub(entered),
        }
    };
    slot.state.store(DONE, Ordering::Release);
}

/// Why a CPU profile cannot start.
#[derive(Debug)]
pub enum StartError {
    /// A CPU profile is already on.
    InUse,
    /// Another handler owns `SIGPROF` (the program profiles itself some other way).
    SignalTaken,
    /// The OS refused (installing the handler).
    Os(std::io::Error),
}

/// Installs the handler unless `SIGPROF` belongs to someone else.
fn install() -> Result<(), StartError> {
    if INSTALLED.load(Ordering::Acquire) {
        return Ok(());
    }
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with a null new action, sigaction only reads the current one into `old`.
    if unsafe { libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old) } != 0 {
        return Err(StartError::Os(std::io::Error::last_os_error()));
    }
    if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
        return Err(StartError::SignalTaken);
    }
    // SAFETY: a zeroed sigaction (integers and a handler address) is valid before being filled.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigprof as *const () as usize;
    // On the thread's own stack (as the dump's handler), not the alternate signal stack: that
    // one is small (std's is a few pages, for reporting stack overflows) and shared with every
    // handler that asks for it. Every signal that can be blocked waits until the handler
    // returns (a few microseconds), so that no other handler runs on top of it, the dump's
    // included.
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: fills the mask of a local sigaction.
    unsafe { libc::sigfillset(&mut sa.sa_mask) };
    // SAFETY: installs an async-signal-safe handler for SIGPROF, which no one else uses (above).
    if unsafe { libc::sigaction(libc::SIGPROF, &sa, std::ptr::null_mut()) } != 0 {
        return Err(StartError::Os(std::io::Error::last_os_error()));
    }
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// A thread's CPU-time clock, by thread id: the kernel's encoding (`CPUCLOCK_SCHED` of a
/// thread), which works for any thread of the process, also those holdup did not start.
fn thread_cpu_clock(tid: i32) -> libc::clockid_t {
    ((!tid) << 3) | 6
}

/// A timer sending `SIGPROF` to `tid` every `period` of its CPU time.
struct Timer(libc::timer_t);

// SAFETY: a timer id is a plain handle the kernel resolves; any thread may delete it.
unsafe impl Send for Timer {}

impl Timer {
    fn arm(tid: i32, period: Duration) -> Option<Timer> {
        // SAFETY: a zeroed sigevent is a valid starting point; the fields used are set below.
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = libc::SIGPROF;
        sev.sigev_notify_thread_id = tid;
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `sev` and `timer` are valid for the call; a thread that exited makes it fail.
        if unsafe { libc::timer_create(thread_cpu_clock(tid), &mut sev, &mut timer) } != 0 {
            return None;
        }
        let ts = libc::timespec {
            tv_sec: period.as_secs() as libc::time_t,
            tv_nsec: period.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts,
            it_value: ts,
        };
        let timer = Timer(timer);
        // SAFETY: `timer` was just created; `spec` is valid.
        if unsafe { libc::timer_settime(timer.0, 0, &spec, std::ptr::null_mut()) } != 0 {
            return None;
        }
        Some(timer)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: deletes a timer this value owns, once.
        unsafe { libc::timer_delete(self.0) };
    }
}

/// What a profile collected: per thread and stack (innermost frame first), the samples.
#[derive(Debug, Default)]
pub struct Collected {
    pub samples: HashMap<(i32, Vec<usize>), u64>,
    /// With [`Options::wall`]: periods in which a thread or task was seen waiting in a holdup
    /// primitive, per waiter and stack.
    pub waits: HashMap<WaitKey, u64>,
    /// With [`Options::wall`]: periods of waiting counted without a stack (on
    /// [`NO_STACK`](crate::table::NO_STACK)): the wait ended before its thread answered the
    /// signal, or the thread did not answer (it is not signalled again during that wait).
    pub waits_missed: u64,
    /// Thread names by id (the registry's, else `/proc/self/task/*/comm` read when first
    /// seen, which the kernel cuts at 15 bytes).
    pub threads: HashMap<i32, String>,
    /// Samples lost to a full ring.
    pub dropped: u64,
    /// Time the signal handler took, all samples together, and the samples it wrote (each
    /// handler reads the clock on entry and before it hands its slot over).
    pub handler: (Duration, u64),
    /// CPU time the collector thread used (arming timers, draining, unwinding, the wall pass).
    pub collector_cpu: Duration,
    /// How long the profile ran.
    pub duration: Duration,
    /// The sampling period.
    pub period: Duration,
}

/// A wait the wall-clock pass saw: who waited (a thread's id, or 0 for a task), on what stack,
/// for what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WaitKey {
    pub tid: i32,
    /// Return addresses, innermost first: a thread's as its signal handler saw it (from inside
    /// the wait: std's and libc's frames first), or a task's as the waiting primitive took it
    /// (`collector::wait_stack`).
    pub stack: Vec<usize>,
    pub kind: Kind,
    pub site: Site,
}

/// What to sample.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Samples per second of each thread's CPU time.
    pub hz: u32,
    /// Also, each period, every thread and task waiting in a holdup primitive (the wall-clock
    /// view's off-CPU part): one period of waiting each.
    pub wall: bool,
}

/// A running CPU profile; [`stop`](Profiler::stop) ends it.
#[derive(Debug)]
pub struct Profiler {
    stop: Arc<AtomicBool>,
    collector: Option<std::thread::JoinHandle<Collected>>,
}

/// Starts sampling every thread at `hz` samples per second of its CPU time.
pub fn start(hz: u32) -> Result<Profiler, StartError> {
    start_with(Options { hz, wall: false })
}

/// Starts sampling as `options` say.
pub fn start_with(options: Options) -> Result<Profiler, StartError> {
    let hz = options.hz.clamp(1, 1000);
    let wall = options.wall;
    let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    if *active {
        return Err(StartError::InUse);
    }
    install()?;
    stack::warm_up();
    // SAFETY: getpid has no preconditions.
    PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    let ring = ring();
    // Slots of an earlier profile that a late signal filled are not this profile's.
    for slot in ring.slots.iter() {
        slot.state.store(FREE, Ordering::Release);
    }
    DROPPED.store(0, Ordering::Relaxed);
    *active = true;
    ON.store(true, Ordering::Release);
    let stop = Arc::new(AtomicBool::new(false));
    let period = Duration::from_nanos(1_000_000_000 / u64::from(hz));
    let mut timers = HashMap::new();
    arm(&mut timers, 0, period);
    let collector = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("holdup-cpu".into())
            .spawn(move || collect(ring, period, wall, timers, &stop))
            .map_err(StartError::Os)
    };
    match collector {
        Ok(c) => Ok(Profiler {
            stop,
            collector: Some(c),
        }),
        Err(e) => {
            ON.store(false, Ordering::Release);
            *active = false;
            Err(e)
        }
    }
}

impl Profiler {
    /// Stops sampling and returns what was collected.
    pub fn stop(mut self) -> Collected {
        self.finish()
    }

    fn finish(&mut self) -> Collected {
        self.stop.store(true, Ordering::Release);
        let collected = self
            .collector
            .take()
            .and_then(|c| {
                c.thread().unpark();
                c.join().ok()
            })
            .unwrap_or_default();
        ON.store(false, Ordering::Release);
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = false;
        collected
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if self.collector.is_some() {
            self.finish();
        }
    }
}

/// The collector: arms timers for the process's threads (re-listing them each period), drains
/// the ring, and unwinds what it took, until told to stop.
fn collect(
    ring: &'static Ring,
    period: Duration,
    wall: bool,
    mut timers: HashMap<i32, Timer>,
    stop: &AtomicBool,
) -> Collected {
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let started = Instant::now();
    // The starting thread armed the timers of the threads there were (so that the profile
    // starts when `start` returns); this one samples no thread but the program's.
    timers.remove(&me);
    let mut out = Collected {
        period,
        ..Collected::default()
    };
    let mut cache = stack::copy_cache();
    let mut pcs = Vec::with_capacity(MAX_FRAMES + 1);
    let mut waits = wall.then(WallPass::default);
    loop {
        let stopping = stop.load(Ordering::Acquire);
        if stopping {
            // Disarm first: no new samples after the last drain below.
            timers.clear();
        } else {
            arm(&mut timers, me, period);
        }
        let mut drained = 0;
        for slot in ring.slots.iter() {
            if slot.state.load(Ordering::Acquire) != DONE {
                continue;
            }
            drained += 1;
            // SAFETY: DONE: the handler finished writing `out` and `stack` (release/acquire),
            // and none writes them again until the slot is FREE.
            let o = unsafe { *slot.out.get() };
            // SAFETY: as above.
            let bytes = unsafe { &*slot.stack.get() };
            pcs.clear();
            stack::unwind_copy(
                &mut cache,
                (o.ip, o.sp, o.bp),
                &bytes[..o.len.min(STACK_BYTES)],
                MAX_FRAMES,
                &mut pcs,
            );
            slot.state.store(FREE, Ordering::Release);
            if pcs.is_empty() {
                pcs.push(o.ip as usize + 1);
            }
            out.threads
                .entry(o.tid)
                .or_insert_with(|| thread_name(o.tid));
            *out.samples.entry((o.tid, pcs.clone())).or_insert(0) += u64::from(o.weight);
            out.handler.0 += Duration::from_nanos(o.handler_ns);
            out.handler.1 += 1;
        }
        if stopping {
            break;
        }
        if let Some(w) = waits.as_mut() {
            w.tick(me, period, &mut cache, &mut out);
        }
        // Each wake-up costs the machine a little (measured: the sampler thread used 1% of a
        // core waking 100 times a second): without the wall pass, which samples each period,
        // wake every few periods while the ring stays well below full.
        let idle = waits.is_none() && drained < SLOTS / 8;
        // Parked, so that `stop` does not wait out the sleep (it unparks).
        std::thread::park_timeout(if idle { period * IDLE_PERIODS } else { period });
    }
    out.dropped = DROPPED.load(Ordering::Relaxed);
    out.collector_cpu = thread_cpu();
    out.duration = started.elapsed();
    // The kernel keeps 15 bytes of a thread's name; the registry knows whole names.
    for e in registry::entries() {
        if let (Some(name), Some(known)) = (e.name, out.threads.get_mut(&(e.os_tid as i32))) {
            *known = name;
        }
    }
    out
}

/// The wall-clock view's periodic pass: each period, every thread and task waiting in a holdup
/// primitive counts one period of waiting on its stack. A task's stack is the one its waiting
/// primitive kept; a thread's is taken by the dump's signal (`capture`) once per wait and
/// remembered while the same wait lasts (a blocked thread's stack does not change), so a thread
/// blocked for a second costs one signal, not a hundred.
struct WallPass {
    /// Per thread: the wait (its start) whose stack is known, and the stack.
    known: HashMap<i32, (u64, Vec<usize>)>,
    /// The previous pass, and the time since it not yet counted: each pass counts the whole
    /// periods since the one before (a pass and the sleep after it take a little more than a
    /// period, so counting one each would undercount by that much).
    last: Instant,
    owed: Duration,
}

impl Default for WallPass {
    fn default() -> Self {
        WallPass {
            known: HashMap::new(),
            last: Instant::now(),
            owed: Duration::ZERO,
        }
    }
}

/// Bytes of a waiting thread's stack the pass copies (a dump's default is 256 KiB; a wait's
/// callers rarely need more than this).
const WAIT_STACK_BYTES: usize = 64 << 10;

impl WallPass {
    /// The whole periods since the previous pass (the rest is owed to the next).
    fn periods(&mut self, period: Duration) -> u64 {
        let now = Instant::now();
        self.owed += now - self.last;
        self.last = now;
        let periods = (self.owed.as_nanos() / period.as_nanos().max(1)) as u64;
        self.owed -= period.saturating_mul(periods.min(u64::from(u32::MAX)) as u32);
        periods
    }

    fn tick(
        &mut self,
        me: i32,
        period: Duration,
        cache: &mut stack::CopyCache,
        out: &mut Collected,
    ) {
        let weight = self.periods(period);
        if weight == 0 {
            return;
        }
        let waiters = registry::waiters();
        let mut unknown: Vec<(i32, registry::Waiter)> = Vec::new();
        let mut seen: HashSet<i32> = HashSet::new();
        for w in waiters {
            let tid = match (w.owner, &w.stack) {
                (Owner::Task(_), Some((stack, _))) => {
                    add_wait(out, 0, stack.to_vec(), &w, weight);
                    continue;
                }
                (Owner::Task(_), None) => w.running_on.unwrap_or(0) as i32,
                (Owner::Thread(_), _) => w.os_tid as i32,
            };
            if tid == 0 || tid == me {
                // A task suspended before stack capture was set up: no stack to show.
                if tid == 0 {
                    add_wait(out, 0, vec![crate::table::NO_STACK], &w, weight);
                }
                continue;
            }
            seen.insert(tid);
            match self.known.get(&tid) {
                Some((since, stack)) if *since == w.since_ns => {
                    let stack = stack.clone();
                    add_wait(out, tid_key(&w, tid), stack, &w, weight);
                }
                _ => unknown.push((tid, w)),
            }
        }
        self.known.retain(|tid, _| seen.contains(tid));
        if unknown.is_empty() {
            return;
        }
        let mut tids: Vec<i32> = unknown.iter().map(|(t, _)| *t).collect();
        tids.sort_unstable();
        tids.dedup();
        let outcomes =
            capture::capture(&tids, Duration::from_millis(5), WAIT_STACK_BYTES).unwrap_or_default();
        // A stack counts only if the same wait still lasts after it was taken: then the thread
        // was inside it when its handler ran.
        let still: HashSet<(Owner, u64)> = registry::waiters()
            .into_iter()
            .map(|w| (w.owner, w.since_ns))
            .collect();
        for (tid, w) in unknown {
            let i = tids.binary_search(&tid).ok();
            let captured = i.and_then(|i| match outcomes.get(i)? {
                capture::Outcome::Captured {
                    ip, sp, bp, stack, ..
                } => Some((*ip, *sp, *bp, stack)),
                _ => None,
            });
            let pcs = match captured.filter(|_| still.contains(&(w.owner, w.since_ns))) {
                Some((ip, sp, bp, bytes)) => {
                    let mut pcs = Vec::with_capacity(MAX_FRAMES + 1);
                    stack::unwind_copy(cache, (ip, sp, bp), bytes, MAX_FRAMES, &mut pcs);
                    if pcs.is_empty() {
                        pcs.push(ip as usize + 1);
                    }
                    pcs
                }
                // The wait was there at this pass: it counts, without a stack (and a thread
                // that did not answer is not signalled again while the same wait lasts).
                None => {
                    out.waits_missed += weight;
                    vec![crate::table::NO_STACK]
                }
            };
            self.known.insert(tid, (w.since_ns, pcs.clone()));
            add_wait(out, tid_key(&w, tid), pcs, &w, weight);
        }
    }
}

/// The `tid` a wait's sample is kept under: the thread's, or 0 for a task's blocking wait
/// inside a poll (tasks are not told apart).
fn tid_key(w: &registry::Waiter, tid: i32) -> i32 {
    if matches!(w.owner, Owner::Task(_)) {
        0
    } else {
        tid
    }
}

fn add_wait(out: &mut Collected, tid: i32, stack: Vec<usize>, w: &registry::Waiter, periods: u64) {
    if tid != 0 {
        out.threads.entry(tid).or_insert_with(|| thread_name(tid));
    }
    let key = WaitKey {
        tid,
        stack,
        kind: w.kind,
        site: w.site,
    };
    *out.waits.entry(key).or_insert(0) += periods;
}

/// Arms a timer for each thread of the process that has none (but `me`), and drops those of
/// threads that are gone.
fn arm(timers: &mut HashMap<i32, Timer>, me: i32, period: Duration) {
    let live = tasks();
    timers.retain(|tid, _| live.contains(tid));
    for &tid in live.iter().filter(|&&t| t != me) {
        if let std::collections::hash_map::Entry::Vacant(v) = timers.entry(tid)
            && let Some(t) = Timer::arm(tid, period)
        {
            v.insert(t);
        }
    }
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes only `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The process's thread ids.
fn tasks() -> HashSet<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn thread_name(tid: i32) -> String {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|n| n.trim_end().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn spin_for(cpu: Duration) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let cpu_now = |ts: &mut libc::timespec| {
            // SAFETY: writes only `ts`.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, ts) };
            Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        };
        let start = cpu_now(&mut ts);
        let mut x = 1u64;
        while cpu_now(&mut ts) - start < cpu {
            for _ in 0..1000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        x
    }

    /// A thread using 1 s of CPU at 100 Hz gets about 100 samples; a sleeping one none; a
    /// second profile cannot start while one runs.
    #[test]
    fn a_busy_thread_gets_a_sample_per_period_of_its_cpu_time() {
        let p = start(100).expect("SIGPROF is free in the test binary");
        assert!(matches!(start(100), Err(StartError::InUse)));
        let (tx, rx) = std::sync::mpsc::channel();
        let busy = std::thread::Builder::new()
            .name("cpu-busy".into())
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                tx.send(unsafe { libc::syscall(libc::SYS_gettid) } as i32)
                    .unwrap();
                spin_for(Duration::from_secs(1))
            })
            .unwrap();
        let sleeper = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(500)));
        let busy_tid = rx.recv().unwrap();
        std::hint::black_box(busy.join().unwrap());
        sleeper.join().unwrap();
        let c = p.stop();
        let busy_samples: u64 = c
            .samples
            .iter()
            .filter(|((tid, _), _)| *tid == busy_tid)
            .map(|(_, n)| n)
            .sum();
        assert!(
            (80..=120).contains(&busy_samples),
            "{busy_samples} samples for 1 s of CPU at 100 Hz"
        );
        assert_eq!(
            c.threads.get(&busy_tid).map(String::as_str),
            Some("cpu-busy")
        );
        // The stacks were unwound: the busy thread's go through `spin_for` (a small function:
        // its return addresses lie within a few KiB of its start).
        let spin = spin_for as *const () as usize;
        let in_spin: u64 = c
            .samples
            .iter()
            .filter(|((tid, pcs), _)| {
                *tid == busy_tid && pcs.iter().any(|&pc| (spin..spin + 4096).contains(&pc))
            })
            .map(|(_, n)| n)
            .sum();
        assert!(
            in_spin * 10 >= busy_samples * 8,
            "{in_spin} of {busy_samples} samples in spin_for"
        );
        assert!(c.samples.keys().all(|(_, pcs)| !pcs.is_empty()));
        // Once stopped, another can start, and nothing is recorded while none runs.
        let q = start(100).expect("the first one stopped");
        drop(q);
    }
}
