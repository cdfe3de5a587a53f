//! Stacks of other threads on Linux x86_64: each thread is sent a real-time signal, and its
//! handler copies the interrupted registers and the live part of its stack into memory the
//! dumping thread prepared; the dumping thread then unwinds the copies (framehop, DWARF).
//!
//! The handler is async-signal-safe: it saves and restores `errno`, makes only the system calls
//! `gettid`, `clock_gettime` (twice, to time itself) and `process_vm_readv`, and touches only
//! the prepared table. It copies the stack with `process_vm_readv`, which reports unmapped
//! memory as a short read instead of a fault, so no address the handler reads can crash the
//! program. It never allocates, locks or unwinds. It trusts a signal only if it was queued
//! (`SI_QUEUE`) by this process and carries the current dump's generation.
//!
//! The signal is the host's property as much as ours: another library may reset it to the
//! default (which, for a real-time signal, terminates the process) or install its own handler.
//! So before each wave of signals the dumper checks that the disposition is still holdup's
//! handler. If it is not, that signal is never sent again: the dump moves to another free
//! real-time signal, or, when none is left, reports the remaining stacks as unavailable with
//! the reason.
//!
//! Threads are signalled in waves of a few per core, each awaited briefly, then all are awaited
//! together until a deadline: a thread that does not answer (signal blocked, stuck in an
//! uninterruptible sleep) is reported as such and never waited for again. A handler that runs
//! late finds the table gone, or a table of a later dump with another generation, and returns
//! without writing.

use std::cell::UnsafeCell;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::state::Publication;

/// What became of one thread's capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Registers and a copy of the stack.
    Captured {
        ip: u64,
        sp: u64,
        bp: u64,
        token: usize,
        stack: Vec<u8>,
        handler_ns: u64,
    },
    /// The thread did not run its handler before the deadline.
    NoAnswer,
    /// The thread had exited when signalled.
    Gone,
    /// The signal could not be sent, or the stack not copied (the OS error).
    Failed(i32),
    /// Not signalled: the dump's signal was taken over by another handler and no other one is
    /// free. The string says which.
    SignalLost(String),
}

const PENDING: u32 = 0;
const CLAIMED: u32 = 1;
const DONE: u32 = 2;

/// One thread's part of the table: written by its handler, read by the dumper after `state`
/// is `DONE` (release/acquire).
struct Slot {
    tid: i32,
    state: AtomicU32,
    out: UnsafeCell<SlotOut>,
}

#[derive(Default, Clone, Copy)]
struct SlotOut {
    ip: u64,
    sp: u64,
    bp: u64,
    token: usize,
    len: usize,
    err: i32,
    handler_ns: u64,
}

struct Table {
    generation: usize,
    pid: i32,
    slots: Box<[Slot]>,
    /// `slots.len() * stack_bytes` bytes; slot i owns `[i * stack_bytes, (i + 1) * stack_bytes)`.
    buf: *mut u8,
    stack_bytes: usize,
    /// Readable and writable mappings, sorted: bounds each copy to the mapping holding the
    /// stack pointer (an optimization: safety comes from `process_vm_readv`).
    maps: Box<[(u64, u64)]>,
}

/// The table of the dump in progress, published to the handlers (`state::Publication`,
/// model-checked: a late handler never reaches a freed table).
static TABLE: Publication<Table> = Publication::new();
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// One dump at a time; holds the stack copy buffer and the signal between dumps.
static DUMPING: Mutex<Dumper> = Mutex::new(Dumper {
    buf: Vec::new(),
    signal: None,
    lost: 0,
});

/// What dumps keep from one to the next.
struct Dumper {
    /// The stack copy buffer. It is kept: the pages handlers wrote stay mapped for the next
    /// dump, since a fresh page costs a handler a fault (it doubled the handlers' time at 1,000
    /// threads). What stays resident is what copies touched: about the total size of the
    /// threads' live stacks.
    buf: Vec<u8>,
    /// The signal holdup's handler is installed on.
    signal: Option<i32>,
    /// Signals found taken over by someone else (bit `sig`): never used again.
    lost: u64,
}

/// The signal dumps use now, if one was installed (and is still holdup's).
pub fn current_signal() -> Option<i32> {
    let d = DUMPING.lock().unwrap_or_else(|e| e.into_inner());
    d.signal.filter(|&sig| is_ours(sig))
}

/// Whether `sig`'s disposition is holdup's handler.
fn is_ours(sig: i32) -> bool {
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with a null new action, sigaction only reads the current action into `old`.
    let read = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    read == 0
        && old.sa_sigaction == handler as *const () as usize
        && old.sa_flags & libc::SA_SIGINFO != 0
}

impl Dumper {
    /// The signal to dump with: the installed one if it is still holdup's, else a newly
    /// installed one. A signal found taken over is given up for good.
    fn signal(&mut self) -> Result<i32, String> {
        let mut taken = None;
        if let Some(sig) = self.signal {
            if is_ours(sig) {
                return Ok(sig);
            }
            self.give_up(sig);
            taken = Some(sig);
        }
        match install(self.lost) {
            Some(sig) => {
                self.signal = Some(sig);
                Ok(sig)
            }
            None => Err(match taken.or(self.last_lost()) {
                Some(sig) => format!(
                    "signal {sig} was taken over by another handler, and no other real-time signal is free"
                ),
                None => "no real-time signal is free for the dump's handler".to_owned(),
            }),
        }
    }

    fn give_up(&mut self, sig: i32) {
        self.signal = None;
        if (0..64).contains(&sig) {
            self.lost |= 1 << sig;
        }
    }

    fn last_lost(&self) -> Option<i32> {
        (self.lost != 0).then(|| 63 - self.lost.leading_zeros() as i32)
    }
}

/// Installs the handler on the first real-time signal from `SIGRTMIN + 4` whose disposition is
/// the default (so that another profiler's signal is left alone), skipping those in `lost`.
fn install(lost: u64) -> Option<i32> {
    let (lo, hi) = (libc::SIGRTMIN() + 4, libc::SIGRTMAX());
    for sig in (lo..=hi).filter(|&s| !(0..64).contains(&s) || lost & (1 << s) == 0) {
        // SAFETY: a zeroed sigaction (plain integers and a null-able handler) is a valid
        // out-parameter.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `act` starts empty and is filled in below.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: with a null new action, sigaction only reads the current action into `old`.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0
            || old.sa_sigaction != libc::SIG_DFL
        {
            continue;
        }
        act.sa_sigaction = handler as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // The CPU profile's SIGPROF waits until this handler returns: a handler interrupted by
        // the other would run on top of it (measured: both on one alternate signal stack
        // overflowed it).
        // SAFETY: initializes the mask inside `act`, a local.
        unsafe { libc::sigemptyset(&mut act.sa_mask) };
        // SAFETY: adds a valid signal number to that initialized mask.
        unsafe { libc::sigaddset(&mut act.sa_mask, libc::SIGPROF) };
        // SAFETY: installs `handler` (async-signal-safe, see the module docs) for `sig`, whose
        // disposition was the default: nobody else's handler is replaced.
        if unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) } == 0 {
            return Some(sig);
        }
    }
    None
}

/// The signal handler. Async-signal-safe: see the module docs.
extern "C" fn handler(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let errno = errno_location();
    // SAFETY: reads this thread's errno (saved, to be restored on return, as a handler must).
    let saved = unsafe { *errno };
    if !info.is_null() && !ctx.is_null() {
        // SAFETY: `info` is the kernel's siginfo for this signal, valid while the handler runs.
        let info = unsafe { &*info };
        // SAFETY: with SA_SIGINFO, `ctx` is the kernel's ucontext_t of the interrupted code,
        // valid while the handler runs.
        let ctx = unsafe { &*(ctx as *const libc::ucontext_t) };
        TABLE.with(|table| {
            // SAFETY: `with` passes the published table, alive until it returns.
            unsafe { answer(table, info, ctx) }
        });
    }
    // SAFETY: restores this thread's errno.
    unsafe { *errno = saved };
}

/// The address of the calling thread's `errno` (async-signal-safe: it only reads the TLS
/// pointer).
pub(crate) fn errno_location() -> *mut libc::c_int {
    // SAFETY: __errno_location has no preconditions and returns this thread's errno address.
    unsafe { libc::__errno_location() }
}

/// Fills this thread's slot, if the signal belongs to this table's dump.
///
/// # Safety
///
/// `table` is the published table, alive for the duration of the call.
unsafe fn answer(table: &Table, info: &libc::siginfo_t, ctx: &libc::ucontext_t) {
    // Only a signal this process queued carries a dump's generation: one from `kill`, another
    // process or the kernel is ignored.
    if info.si_code != libc::SI_QUEUE {
        return;
    }
    // SAFETY: an SI_QUEUE siginfo carries the sender's pid.
    if unsafe { info.si_pid() } != table.pid {
        return;
    }
    // SAFETY: an SI_QUEUE siginfo carries a value.
    let generation = unsafe { info.si_value() }.sival_ptr as usize;
    if generation != table.generation {
        return;
    }
    let start = raw_ns();
    // SAFETY: gettid is a system call with no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let Ok(i) = table.slots.binary_search_by_key(&tid, |s| s.tid) else {
        return;
    };
    let slot = &table.slots[i];
    if slot
        .state
        .compare_exchange(PENDING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let g = &ctx.uc_mcontext.gregs;
    let (ip, sp, bp) = (
        g[libc::REG_RIP as usize] as u64,
        g[libc::REG_RSP as usize] as u64,
        g[libc::REG_RBP as usize] as u64,
    );
    let limit = table.maps[..table.maps.partition_point(|&(lo, _)| lo <= sp)]
        .last()
        .filter(|&&(_, hi)| sp < hi);
    let want = limit.map_or(table.stack_bytes as u64, |&(_, hi)| {
        (hi - sp).min(table.stack_bytes as u64)
    }) as usize;
    // SAFETY: slot i owns this part of the buffer, and only the thread that claimed the slot
    // writes it.
    let dst = unsafe { table.buf.add(i * table.stack_bytes) };
    let (len, err) = copy_stack(table.pid, sp, dst, want);
    let out = SlotOut {
        ip,
        sp,
        bp,
        token: crate::owner::token(),
        len,
        err,
        handler_ns: raw_ns().saturating_sub(start),
    };
    // SAFETY: this thread claimed the slot; the dumper reads `out` only after seeing DONE.
    unsafe { *slot.out.get() = out };
    slot.state.store(DONE, Ordering::Release);
}

/// Copies `want` bytes of this process's memory from `sp` to `dst`, one page per element so
/// that an unmapped page ends the copy there. Returns the bytes copied and the error, if none.
pub(crate) fn copy_stack(pid: i32, sp: u64, dst: *mut u8, want: usize) -> (usize, i32) {
    const PAGE: usize = 4096;
    const ELEMENTS: usize = 64;
    let mut done = 0;
    while done < want {
        let mut remote = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; ELEMENTS];
        let mut n = 0;
        let mut at = done;
        while n < ELEMENTS && at < want {
            let addr = sp as usize + at;
            let len = (PAGE - addr % PAGE).min(want - at);
            remote[n] = libc::iovec {
                iov_base: addr as *mut libc::c_void,
                iov_len: len,
            };
            at += len;
            n += 1;
        }
        // `dst[done..at]` lies within the slot's part of the buffer (at <= want <= stack_bytes);
        // only the kernel writes through the pointer, so plain address arithmetic will do.
        let local = libc::iovec {
            iov_base: dst.wrapping_add(done).cast(),
            iov_len: at - done,
        };
        // SAFETY: process_vm_readv writes only into `local` and reads the remote ranges through
        // the kernel, which reports unmapped memory as a short count or EFAULT.
        let got = unsafe {
            libc::process_vm_readv(pid, &local, 1, remote.as_ptr(), n as libc::c_ulong, 0)
        };
        if got < 0 {
            // SAFETY: reads this thread's errno, set by the failed call.
            let e = unsafe { *errno_location() };
            return (done, if done == 0 { e } else { 0 });
        }
        let chunk = at - done;
        done += got as usize;
        if (got as usize) < chunk {
            break;
        }
    }
    (done, 0)
}

/// A monotonic clock read that is async-signal-safe (`clock_gettime` is on POSIX's list).
pub(crate) fn raw_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes only `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Captures the threads `tids` (sorted, deduplicated), waiting at most `timeout` for answers.
pub fn capture(tids: &[i32], timeout: Duration, stack_bytes: usize) -> io::Result<Vec<Outcome>> {
    let mut dumper = DUMPING.lock().unwrap_or_else(|e| e.into_inner());
    let mut sig = dumper.signal().map_err(io::Error::other)?;
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed) as usize + 1;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if dumper.buf.len() < tids.len() * stack_bytes {
        // Zeroed memory from the allocator: large requests are fresh mappings whose pages cost
        // nothing until a handler writes them.
        dumper.buf = vec![0u8; tids.len() * stack_bytes];
    }
    let table = Box::new(Table {
        generation,
        pid,
        slots: tids
            .iter()
            .map(|&tid| Slot {
                tid,
                state: AtomicU32::new(PENDING),
                out: UnsafeCell::new(SlotOut::default()),
            })
            .collect(),
        buf: dumper.buf.as_mut_ptr(),
        stack_bytes,
        maps: writable_mappings(),
    });
    let table = Box::into_raw(table);
    TABLE.publish(table);
    // SAFETY: the table is alive until it is unpublished and freed below.
    let t = unsafe { &*table };
    let mut sent = vec![0i32; tids.len()];
    // Set when the signal was taken over mid-dump and no other is free: the rest is not sent.
    let mut lost: Option<String> = None;
    let deadline = Instant::now() + timeout;
    // Signals go out in waves, each awaited briefly before the next: a thousand threads woken
    // at once on a few cores preempt each other inside their handlers (milliseconds of
    // interruption for some), while a wave of a few per core runs each handler through.
    let wave = WAVE_PER_CORE * std::thread::available_parallelism().map_or(1, |n| n.get());
    // Whether slots `from..to` answered (or could not be signalled).
    let answered = |sent: &[i32], from: usize, to: usize| {
        t.slots[from..to]
            .iter()
            .zip(&sent[from..to])
            .all(|(s, &e)| e != 0 || s.state.load(Ordering::Acquire) == DONE)
    };
    for from in (0..t.slots.len()).step_by(wave) {
        let to = (from + wave).min(t.slots.len());
        // Never send a signal whose disposition is no longer holdup's handler (a real-time
        // signal's default action terminates the process).
        if !is_ours(sig) {
            dumper.give_up(sig);
            match dumper.signal() {
                Ok(next) => sig = next,
                Err(why) => {
                    lost = Some(why);
                    sent[from..].fill(NOT_SENT);
                    break;
                }
            }
        }
        for (e, slot) in sent[from..to].iter_mut().zip(&t.slots[from..to]) {
            *e = queue_signal(pid, slot.tid, sig, generation);
        }
        wait_until(
            || answered(&sent, from, to),
            (Instant::now() + WAVE_WAIT).min(deadline),
        );
    }
    // Stragglers (slow to be scheduled, or not answering at all) until the deadline.
    wait_until(|| answered(&sent, 0, t.slots.len()), deadline);
    TABLE.unpublish();
    // No handler can reach the table now: it is unpublished and no handler is inside.
    // SAFETY: created by Box::into_raw above and no longer shared.
    let table = unsafe { Box::from_raw(table) };
    let outcomes = table
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if sent[i] == libc::ESRCH {
                return Outcome::Gone;
            }
            if sent[i] == NOT_SENT {
                return Outcome::SignalLost(lost.clone().unwrap_or_default());
            }
            if sent[i] != 0 {
                return Outcome::Failed(sent[i]);
            }
            if s.state.load(Ordering::Acquire) != DONE {
                return Outcome::NoAnswer;
            }
            // SAFETY: DONE was stored with release after `out` was written; no handler writes
            // it again (the slot is claimed).
            let out = unsafe { *s.out.get() };
            if out.err != 0 {
                return Outcome::Failed(out.err);
            }
            let at = i * stack_bytes;
            Outcome::Captured {
                ip: out.ip,
                sp: out.sp,
                bp: out.bp,
                token: out.token,
                stack: dumper.buf[at..at + out.len].to_vec(),
                handler_ns: out.handler_ns,
            }
        })
        .collect();
    Ok(outcomes)
}

/// `sent` for a thread not signalled because no signal was left (not an errno value).
const NOT_SENT: i32 = -1;

/// Threads signalled per wave, per core.
const WAVE_PER_CORE: usize = 4;
/// How long a wave is awaited before the next goes out (the rest is awaited at the end).
const WAVE_WAIT: Duration = Duration::from_millis(2);

/// Polls `done` until it holds or `deadline` passes: yields first, then sleeps briefly.
fn wait_until(mut done: impl FnMut() -> bool, deadline: Instant) {
    let mut spins = 0u32;
    while !done() && Instant::now() < deadline {
        spins += 1;
        if spins < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}

/// Sends `sig` to thread `tid` with the dump's generation as its value; returns 0 or the OS
/// error.
fn queue_signal(pid: i32, tid: i32, sig: i32, generation: usize) -> i32 {
    // SAFETY: a zeroed siginfo (integers and unions of integers) is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let head = SigQueueInfo {
        signo: sig,
        errno: 0,
        code: libc::SI_QUEUE,
        _pad: 0,
        pid,
        uid,
        value: generation,
    };
    // SAFETY: writes the fields of an SI_QUEUE siginfo at its start: `SigQueueInfo` is the head
    // of Linux's x86_64 layout and smaller than `siginfo_t` (checked below at compile time).
    unsafe {
        (&mut info as *mut libc::siginfo_t)
            .cast::<SigQueueInfo>()
            .write(head)
    };
    // SAFETY: rt_tgsigqueueinfo reads `info`, a valid siginfo on this stack; it signals a thread
    // of this process only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid,
            sig,
            &info as *const libc::siginfo_t,
        )
    };
    if r == 0 {
        0
    } else {
        // SAFETY: reads this thread's errno, set by the failed call.
        unsafe { *errno_location() }
    }
}

/// The head of Linux's `siginfo_t` for an SI_QUEUE signal (x86_64 layout).
#[repr(C)]
struct SigQueueInfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    value: usize,
}

const _: () =
    assert!(std::mem::size_of::<SigQueueInfo>() <= std::mem::size_of::<libc::siginfo_t>());

/// The readable and writable mappings of this process, sorted (from `/proc/self/maps`).
fn writable_mappings() -> Box<[(u64, u64)]> {
    let Ok(text) = std::fs::read_to_string("/proc/self/maps") else {
        return Box::default();
    };
    let mut out: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            if !perms.starts_with("rw") {
                return None;
            }
            let (lo, hi) = range.split_once('-')?;
            Some((
                u64::from_str_radix(lo, 16).ok()?,
                u64::from_str_radix(hi, 16).ok()?,
            ))
        })
        .collect();
    out.sort_unstable();
    out.into_boxed_slice()
}
