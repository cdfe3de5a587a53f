//! Stack capture for sampled events: raw return addresses into a per-thread buffer.
//!
//! Two unwinders, chosen with [`set_unwinder`](crate::set_unwinder), measured on this
//! project's 2-core machine with `holdup-bench events`:
//!
//! - **DWARF** (framehop, in-process): reads the `.eh_frame` unwind tables of every object
//!   loaded when profiling is first enabled (copied then; objects `dlopen`ed later are unwound
//!   by frame pointers only), with a warm per-thread rule cache that never allocates while
//!   unwinding. Complete without frame pointers. A sampled event (capture and bucket update)
//!   costs 0.40–0.71 µs at 16 user frames and 1.7–1.9 µs at 64 for a stack the thread has not
//!   captured recently, and 75–103 ns / 174–191 ns for one it has: each thread remembers its
//!   last walks with the stack words they read and replays one when those words are unchanged
//!   (see `Memo`).
//! - **Frame pointers**: follows the `rbp` chain: 121–133 ns at 16 frames, 327–346 ns at 64,
//!   but complete only when the program and its dependencies are built with
//!   `-C force-frame-pointers=yes` (Rust's prebuilt std already has frame pointers). Not
//!   remembered: checking a memo would read as many words as the walk.
//!
//! (`holdup-bench events`, this project's 2-core machine, 2026-12-02.)
//!
//! DWARF capture stops at std's thread start marker (`__rust_begin_short_backtrace`, found in
//! the symbol tables at setup), *after* recording the return address into it: in optimized
//! builds the thread's closure (and often the whole worker loop with its `lock()`) is inlined
//! into the marker, so that address carries the program's outermost frames as inlined frames.
//! Only the frames below it (std's thread start-up, which every report drops) are skipped,
//! which saves a sixth of the cost.
//!
//! The default, [`Unwinder::Auto`], compares both on the first capture and keeps the frame
//! pointer walk when it returns the same frames as DWARF (that is, when the code was built with
//! frame pointers). Every read of stack memory is checked against the thread's stack bounds.
//!
//! Elsewhere than Linux on x86_64, stacks come from the `backtrace` crate (several µs each).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

/// Internal frames (capture, recording, hooks) that may sit on top of the caller's stack;
/// captured in addition to the configured depth, then trimmed at export.
pub const SLACK: usize = 16;

/// How stacks are unwound; see [`set_unwinder`](crate::set_unwinder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Unwinder {
    /// Frame pointers when the first capture shows the program has them, DWARF otherwise.
    #[default]
    Auto,
    /// DWARF unwind tables (framehop): complete stacks whatever the build flags.
    Dwarf,
    /// Frame pointers only: fastest, but stacks stop at code built without them.
    FramePointers,
}

const MODE_AUTO: u8 = 0;
const MODE_DWARF: u8 = 1;
const MODE_FP: u8 = 2;

/// The unwinder in use; `Auto` resolves to DWARF or frame pointers on first capture.
static MODE: AtomicU8 = AtomicU8::new(MODE_AUTO);

pub fn set_unwinder(u: Unwinder) {
    let mode = match u {
        Unwinder::Auto => MODE_AUTO,
        Unwinder::Dwarf => MODE_DWARF,
        Unwinder::FramePointers => MODE_FP,
    };
    MODE.store(mode, Ordering::Relaxed);
}

/// Which unwinder captures use now (after `Auto` was resolved, if it was).
pub fn current_unwinder() -> Unwinder {
    match MODE.load(Ordering::Relaxed) {
        MODE_DWARF => Unwinder::Dwarf,
        MODE_FP => Unwinder::FramePointers,
        _ => Unwinder::Auto,
    }
}

/// Prepares the unwinder (reads the unwind tables of loaded objects) so the first sampled event
/// does not pay for it. Called when a profile is enabled.
pub fn warm_up() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    imp::unwinder();
}

/// Whether stack capture is set up (the unwind tables were read), so that a capture costs
/// microseconds rather than the set-up's milliseconds.
pub fn ready() -> bool {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return imp::is_set_up();
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    return true;
}

thread_local! {
    static STATE: RefCell<Option<Box<imp::ThreadState>>> = const { RefCell::new(None) };
}

/// Captures the calling thread's stack (return addresses, innermost first, at most `max`) and
/// passes it to `f` with its [`hash`]. Passes an empty slice when no stack can be taken
/// (thread exiting, or a capture already in progress on this thread).
#[inline(never)]
pub fn with_stack<R>(max: usize, f: impl FnOnce(&[usize], u64) -> R) -> R {
    let mut f = Some(f);
    let r = STATE.try_with(|cell| {
        let Ok(mut state) = cell.try_borrow_mut() else {
            return None;
        };
        let state = state.get_or_insert_with(|| Box::new(imp::ThreadState::new()));
        let (n, hash) = state.capture(max);
        Some((f.take().expect("called once"))(&state.pcs[..n], hash))
    });
    match r {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&[], hash(&[])),
    }
}

/// A hash of a stack (FxHash's mixing step, four words at a time so that the multiplications
/// do not wait for each other). Captures that replay a remembered walk reuse its hash.
pub fn hash(pcs: &[usize]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let mut lanes: [u64; 4] = [1, 2, 3, 4];
    let chunks = pcs.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (lane, &w) in lanes.iter_mut().zip(c) {
            *lane = mix(*lane, w as u64);
        }
    }
    let mut h = mix(0, pcs.len() as u64);
    for &w in rest {
        h = mix(h, w as u64);
    }
    lanes.into_iter().fold(h, mix)
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use imp::{CopyCache, copy_cache, unwind_copy};

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod imp {
    use std::sync::OnceLock;
    use std::sync::atomic::Ordering;

    use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
    use framehop::{ExplicitModuleSectionInfo, MustNotAllocateDuringUnwind, Unwinder as _};

    use super::{MODE, MODE_AUTO, MODE_DWARF, MODE_FP};
    use crate::modules;
    use crate::state::MAX_DEPTH;

    type Dwarf = UnwinderX86_64<Vec<u8>, MustNotAllocateDuringUnwind>;

    /// What stack capture needs, built once from the loaded objects.
    struct Setup {
        dwarf: Dwarf,
        /// Address ranges of std's thread start marker (`__rust_begin_short_backtrace`, one
        /// instance per closure type), sorted: capture stops there, since everything from it
        /// to the root is thread start-up code that reports drop anyway.
        stops: Vec<(u64, u64)>,
    }

    static SETUP: OnceLock<Setup> = OnceLock::new();

    pub(super) fn is_set_up() -> bool {
        SETUP.get().is_some()
    }

    fn setup() -> &'static Setup {
        SETUP.get_or_init(|| {
            let modules = modules::loaded(true);
            let mut dwarf = Dwarf::new();
            for m in &modules {
                if let Some(module) = framehop_module(m) {
                    dwarf.add_module(module);
                }
            }
            Setup {
                dwarf,
                stops: thread_start_ranges(&modules),
            }
        })
    }

    /// The process-wide unwinder.
    pub(super) fn unwinder() -> &'static Dwarf {
        &setup().dwarf
    }

    /// Whether the code at `addr` (a lookup address: an interrupted instruction, or a return
    /// address minus one, which lies inside the calling function even when the call is its last
    /// instruction) belongs to the thread start marker.
    ///
    /// Walks record such a frame and stop after it: the marker's code holds whatever the
    /// optimizer inlined into it (the thread's closure), so the frame is the program's
    /// outermost, not start-up code.
    #[inline(always)]
    fn is_stop(stops: &[(u64, u64)], addr: u64) -> bool {
        let i = stops.partition_point(|&(start, _)| start <= addr);
        i > 0 && addr < stops[i - 1].1
    }

    fn thread_start_ranges(modules: &[modules::Module]) -> Vec<(u64, u64)> {
        use blazesym::inspect::Inspector;
        use blazesym::inspect::source::{Elf, Source};
        use std::ops::ControlFlow;

        let inspector = Inspector::new();
        let mut stops = Vec::new();
        for m in modules.iter().filter(|m| m.path.starts_with('/')) {
            let mut elf = Elf::new(&m.path);
            elf.debug_syms = false;
            let _ = inspector.for_each(&Source::Elf(elf), |sym| {
                if let Some(size) = sym.size
                    && size > 0
                    && sym.name.contains("__rust_begin_short_backtrace")
                {
                    let start = m.bias.wrapping_add(sym.addr);
                    stops.push((start, start + size as u64));
                }
                ControlFlow::Continue(())
            });
        }
        stops.sort_unstable();
        stops
    }

    fn framehop_module(m: &modules::Module) -> Option<framehop::Module<Vec<u8>>> {
        let tables = m.unwind.clone()?;
        let (hdr_vaddr, hdr) = tables.hdr;
        let (eh_frame_vaddr, eh_frame) = tables.eh_frame;
        let start = m.loads.iter().map(|s| s.vaddr).min()?;
        let end = m.loads.iter().map(|s| s.vaddr + s.memsz).max()?;
        let text = m.loads.iter().find(|s| s.flags & modules::PF_X != 0);
        Some(framehop::Module::new(
            m.path.clone(),
            m.bias.wrapping_add(start)..m.bias.wrapping_add(end),
            m.bias,
            ExplicitModuleSectionInfo {
                base_svma: 0,
                text_svma: text.map(|s| s.vaddr..s.vaddr + s.memsz),
                eh_frame_svma: Some(eh_frame_vaddr..eh_frame_vaddr + eh_frame.len() as u64),
                eh_frame: Some(eh_frame),
                eh_frame_hdr_svma: Some(hdr_vaddr..hdr_vaddr + hdr.len() as u64),
                eh_frame_hdr: Some(hdr),
                ..Default::default()
            },
        ))
    }

    pub(super) struct ThreadState {
        pub(super) pcs: [usize; MAX_DEPTH + super::SLACK],
        dwarf: Vec<u64>,
        cache: CacheX86_64<MustNotAllocateDuringUnwind>,
        /// This thread's stack: lowest address and one past the highest.
        stack: (u64, u64),
        /// The last few walks, to replay when the same stack is captured again.
        memos: [Memo; MEMOS],
        /// The memo the next new walk replaces (round robin).
        next_memo: usize,
        /// The stack words the walk in progress read.
        log: ReadLog,
    }

    /// Walks remembered per thread: enough for a lock's acquisition and release sites in a
    /// loop, and a wait or two beside them.
    const MEMOS: usize = 4;
    /// The longest walk remembered, in frames, and the most stack words it may have read (two
    /// per frame: a return address, and a saved frame pointer where the frame keeps one).
    const MEMO_FRAMES: usize = 80;
    const MEMO_READS: usize = 2 * MEMO_FRAMES;

    /// What a DWARF walk's result depends on besides the stack's contents: the registers it
    /// started from and how many frames it could take. `bp` is 0 when the walk was found not to
    /// depend on it (see [`Memo::remember`]).
    #[derive(Clone, Copy, PartialEq, Eq)]
    struct Key {
        ip: u64,
        sp: u64,
        bp: u64,
        max: usize,
    }

    /// A walk's result and the stack words it depends on. A walk is a function of its key and
    /// of the words it reads (the unwind tables and the thread-start markers never change once
    /// set up), so if those words still hold the same values, walking again would give the
    /// same frames. A worker that takes the same lock at the same place again has the same
    /// stack: checking a few dozen words replaces the DWARF walk's rule lookups.
    ///
    /// Most words a DWARF walk reads are return addresses; the others are saved frame pointer
    /// registers, which code built without frame pointers uses for data (a loop counter, a
    /// pointer), so they change from one call to the next while the frames stay the same. A
    /// walk uses such a word only if a frame further out finds its caller through the frame
    /// pointer. When a memo is made, the walk is repeated with every such word and the starting
    /// `bp` moved out of the stack's range: if it finds the same frames, it did not use them,
    /// and the memo checks the return addresses alone and ignores `bp`.
    struct Memo {
        key: Option<Key>,
        reads: [(u64, u64); MEMO_READS],
        n_reads: usize,
        pcs: [usize; MEMO_FRAMES],
        n_pcs: usize,
        /// The hash of `pcs`.
        hash: u64,
    }

    /// What replaying a memo found.
    enum Replay {
        /// The same frames, this many.
        Hit(usize),
        /// The same return addresses, but other words the walk read (or `bp`) changed.
        DataChanged,
        Miss,
    }

    /// Whether a word a walk read is one of the return addresses it found.
    fn is_return_address(value: u64, pcs: &[usize]) -> bool {
        pcs.iter().any(|&pc| pc as u64 == value)
    }

    /// Moves an address out of any thread's stack (user addresses are below 2^47).
    const PERTURB: u64 = 1 << 46;

    impl Memo {
        const fn empty() -> Memo {
            Memo {
                key: None,
                reads: [(0, 0); MEMO_READS],
                n_reads: 0,
                pcs: [0; MEMO_FRAMES],
                n_pcs: 0,
                hash: 0,
            }
        }

        /// The remembered frames, copied to `out`, if the walk for `key` would find them again;
        /// otherwise whether only words that are not return addresses (or `bp`) changed.
        #[inline]
        fn replay(&self, key: &Key, top: u64, out: &mut [usize]) -> Replay {
            let Some(mine) = self.key.as_ref() else {
                return Replay::Miss;
            };
            if (mine.ip, mine.sp, mine.max) != (key.ip, key.sp, key.max) {
                return Replay::Miss;
            }
            let pcs = &self.pcs[..self.n_pcs];
            let mut data_changed = mine.bp != 0 && mine.bp != key.bp;
            for &(addr, value) in &self.reads[..self.n_reads] {
                if read_word(addr, key.sp, top) != Ok(value) {
                    if is_return_address(value, pcs) {
                        return Replay::Miss;
                    }
                    data_changed = true;
                }
            }
            if data_changed {
                return Replay::DataChanged;
            }
            out[..self.n_pcs].copy_from_slice(pcs);
            Replay::Hit(self.n_pcs)
        }

        /// Remembers the walk for `key` that read `log` and found `pcs`; `independent` says
        /// whether it was found not to depend on `bp` and on the words that are not return
        /// addresses.
        fn remember(&mut self, mut key: Key, log: &ReadLog, pcs: &[usize], independent: bool) {
            self.hash = super::hash(pcs);
            if log.overflowed || pcs.len() > MEMO_FRAMES {
                self.key = None;
                return;
            }
            self.n_reads = 0;
            for &(addr, value) in &log.reads[..log.n] {
                if !independent || is_return_address(value, pcs) {
                    self.reads[self.n_reads] = (addr, value);
                    self.n_reads += 1;
                }
            }
            if independent {
                key.bp = 0;
            }
            self.key = Some(key);
            self.pcs[..pcs.len()].copy_from_slice(pcs);
            self.n_pcs = pcs.len();
        }
    }

    /// The stack words a walk read, in order, while they fit.
    struct ReadLog {
        reads: [(u64, u64); MEMO_READS],
        n: usize,
        overflowed: bool,
    }

    impl ReadLog {
        /// Whether the word at `addr` was read as a return address by the logged walk.
        fn read_return_address(&self, addr: u64, pcs: &[usize]) -> bool {
            self.reads[..self.n]
                .iter()
                .any(|&(a, v)| a == addr && is_return_address(v, pcs))
        }

        /// Reads a word of this thread's stack between `lo` and `hi`, and logs it.
        #[inline(always)]
        fn read(&mut self, addr: u64, lo: u64, hi: u64) -> Result<u64, ()> {
            let value = read_word(addr, lo, hi)?;
            if self.n < MEMO_READS {
                self.reads[self.n] = (addr, value);
                self.n += 1;
            } else {
                self.overflowed = true;
            }
            Ok(value)
        }
    }

    impl ThreadState {
        pub(super) fn new() -> Self {
            ThreadState {
                pcs: [0; MAX_DEPTH + super::SLACK],
                dwarf: Vec::with_capacity(64),
                cache: CacheX86_64::new_in(),
                stack: stack_bounds(),
                memos: [const { Memo::empty() }; MEMOS],
                next_memo: 0,
                log: ReadLog {
                    reads: [(0, 0); MEMO_READS],
                    n: 0,
                    overflowed: false,
                },
            }
        }

        /// Fills `pcs` with up to `max` return addresses, innermost first; their number and
        /// hash.
        #[inline(always)]
        pub(super) fn capture(&mut self, max: usize) -> (usize, u64) {
            let (ip, sp, bp): (u64, u64, u64);
            // SAFETY: reads the instruction, stack and frame pointer registers; touches no memory.
            unsafe {
                std::arch::asm!(
                    "lea {ip}, [rip]",
                    "mov {sp}, rsp",
                    "mov {bp}, rbp",
                    ip = out(reg) ip,
                    sp = out(reg) sp,
                    bp = out(reg) bp,
                    options(nomem, nostack, preserves_flags),
                );
            }
            let max = max.min(self.pcs.len());
            let (low, top) = self.stack;
            if sp < low || sp >= top {
                // Running on another stack (a signal's alternate stack, a coroutine's or a
                // segmented stack): its frames cannot be bounds-checked, so take none.
                return (0, super::hash(&[]));
            }
            let stops = &setup().stops[..];
            let mode = MODE.load(Ordering::Relaxed);
            if mode == MODE_AUTO {
                let n = self.decide(ip, sp, bp, top, stops, max);
                return (n, super::hash(&self.pcs[..n]));
            }
            if mode == MODE_FP {
                // Root frames cost the walk ~1.5 ns each, less than checking every frame
                // against the thread start markers; reports trim them. A memo would check as
                // many words as the walk reads: frame pointer walks are not remembered.
                let mut read = |addr: u64| read_word(addr, sp, top);
                let n = fp_walk(bp, &[], &mut read, &mut self.pcs[..max]);
                return (n, super::hash(&self.pcs[..n]));
            }
            let key = Key { ip, sp, bp, max };
            let mut same_frames = None;
            for (i, memo) in self.memos.iter().enumerate() {
                match memo.replay(&key, top, &mut self.pcs[..max]) {
                    Replay::Hit(n) => return (n, memo.hash),
                    Replay::DataChanged => same_frames = Some(i),
                    Replay::Miss => {}
                }
            }
            self.log.n = 0;
            self.log.overflowed = false;
            let log = &mut self.log;
            let mut read = |addr: u64| log.read(addr, sp, top);
            let n = dwarf_walk(
                ip,
                sp,
                bp,
                stops,
                &mut self.cache,
                &mut read,
                &mut self.pcs[..max],
            );
            // The same frames came back with other data in the saved registers: if the walk
            // does not use them, remember it so that they are not checked.
            let slot = match same_frames {
                Some(slot) => slot,
                None => {
                    let slot = self.next_memo;
                    self.next_memo = (slot + 1) % MEMOS;
                    slot
                }
            };
            let independent = same_frames.is_some()
                && n <= MEMO_FRAMES
                && !self.log.overflowed
                && self.walks_without_bp(ip, sp, bp, top, stops, n);
            self.memos[slot].remember(key, &self.log, &self.pcs[..n], independent);
            (n, self.memos[slot].hash)
        }

        /// Whether the DWARF walk just logged finds the same `n` frames with `bp` and every
        /// word it read that is not a return address moved out of the stack: then it used
        /// none of them (a frame found through one would have been lost).
        #[cold]
        fn walks_without_bp(
            &mut self,
            ip: u64,
            sp: u64,
            bp: u64,
            top: u64,
            stops: &[(u64, u64)],
            n: usize,
        ) -> bool {
            let (pcs, log) = (&self.pcs[..n], &self.log);
            let mut read = |addr: u64| {
                let value = read_word(addr, sp, top)?;
                Ok(if log.read_return_address(addr, pcs) {
                    value
                } else {
                    value ^ PERTURB
                })
            };
            let mut again = [0usize; MEMO_FRAMES];
            let m = dwarf_walk(
                ip,
                sp,
                bp ^ PERTURB,
                stops,
                &mut self.cache,
                &mut read,
                &mut again[..n.min(MEMO_FRAMES)],
            );
            again[..m] == *pcs
        }

        /// `Auto`: walks both ways once, on this (real) stack, and keeps frame pointers if they
        /// find the same frames as DWARF.
        #[cold]
        fn decide(
            &mut self,
            ip: u64,
            sp: u64,
            bp: u64,
            top: u64,
            stops: &[(u64, u64)],
            max: usize,
        ) -> usize {
            let mut read = |addr: u64| read_word(addr, sp, top);
            let n = dwarf_walk(
                ip,
                sp,
                bp,
                stops,
                &mut self.cache,
                &mut read,
                &mut self.pcs[..max],
            );
            self.dwarf.clear();
            self.dwarf.extend(self.pcs[..n].iter().map(|&p| p as u64));
            let m = fp_walk(bp, stops, &mut read, &mut self.pcs[..max]);
            let agree = m >= 4
                && m <= n
                && n - m <= 4
                && self.pcs[..m]
                    .iter()
                    .zip(&self.dwarf)
                    .all(|(&a, &b)| a as u64 == b);
            let mode = if agree { MODE_FP } else { MODE_DWARF };
            let _ = MODE.compare_exchange(MODE_AUTO, mode, Ordering::Relaxed, Ordering::Relaxed);
            for (dst, &src) in self.pcs.iter_mut().zip(&self.dwarf) {
                *dst = src as usize;
            }
            n
        }
    }

    /// Reads one stack word if it lies within `[lo, hi)`: between the capturing frame's stack
    /// pointer and the top of the thread's stack (the caller checked that the stack pointer is
    /// in the thread's stack), which is mapped.
    #[inline(always)]
    fn read_word(addr: u64, lo: u64, hi: u64) -> Result<u64, ()> {
        if addr < lo || addr.checked_add(8).is_none_or(|end| end > hi) || !addr.is_multiple_of(8) {
            return Err(());
        }
        // SAFETY: the word lies within this thread's stack, between the current stack pointer
        // and the top of the stack, which is mapped and readable.
        Ok(unsafe { (addr as *const u64).read() })
    }

    /// Follows the frame pointer chain from `bp` (the capturing function's frame), stopping
    /// after the first return address in `stops`; `read` reads (bounds-checked) stack words.
    fn fp_walk(
        mut bp: u64,
        stops: &[(u64, u64)],
        read: &mut impl FnMut(u64) -> Result<u64, ()>,
        out: &mut [usize],
    ) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Ok(ret) = read(bp.wrapping_add(8)) else {
                break;
            };
            let Ok(next) = read(bp) else {
                break;
            };
            if ret == 0 {
                break;
            }
            out[n] = ret as usize;
            n += 1;
            if next <= bp || is_stop(stops, ret - 1) {
                break;
            }
            bp = next;
        }
        n
    }

    /// Unwinds with DWARF CFI from the capturing function's registers; skips that function's
    /// own instruction pointer so only return addresses are stored.
    fn dwarf_walk(
        ip: u64,
        sp: u64,
        bp: u64,
        stops: &[(u64, u64)],
        cache: &mut CacheX86_64<MustNotAllocateDuringUnwind>,
        read: &mut impl FnMut(u64) -> Result<u64, ()>,
        out: &mut [usize],
    ) -> usize {
        let mut frames = unwinder().iter_frames(ip, UnwindRegsX86_64::new(ip, sp, bp), cache, read);
        let mut n = 0;
        let _ = frames.next(); // the instruction pointer inside the capturing function
        while n < out.len() {
            match frames.next() {
                Ok(Some(frame)) => {
                    out[n] = frame.address() as usize;
                    n += 1;
                    if is_stop(stops, frame.address_for_lookup()) {
                        break;
                    }
                }
                _ => break,
            }
        }
        n
    }

    /// Unwinds another thread's stack from a copy: `stack` holds the bytes from `sp` upwards,
    /// taken with the registers `ip`, `sp` and `bp` (by a signal handler). Fills `out` with up to
    /// `max` code addresses plus one, innermost first (the interrupted instruction, then return
    /// addresses), stopping after the return address into the thread start marker.
    pub fn unwind_copy(
        cache: &mut CacheX86_64<MustNotAllocateDuringUnwind>,
        (ip, sp, bp): (u64, u64, u64),
        stack: &[u8],
        max: usize,
        out: &mut Vec<usize>,
    ) {
        let end = sp.saturating_add(stack.len() as u64);
        let mut read = |addr: u64| -> Result<u64, ()> {
            if addr < sp || addr.checked_add(8).is_none_or(|e| e > end) {
                return Err(());
            }
            let at = (addr - sp) as usize;
            let word: [u8; 8] = stack[at..at + 8].try_into().map_err(|_| ())?;
            Ok(u64::from_le_bytes(word))
        };
        let stops = &setup().stops[..];
        let mut frames =
            unwinder().iter_frames(ip, UnwindRegsX86_64::new(ip, sp, bp), cache, &mut read);
        while out.len() < max {
            match frames.next() {
                Ok(Some(frame)) => {
                    out.push(frame.address_for_lookup() as usize + 1);
                    if is_stop(stops, frame.address_for_lookup()) {
                        break;
                    }
                }
                _ => break,
            }
        }
    }

    /// The rule cache [`unwind_copy`] uses.
    pub type CopyCache = CacheX86_64<MustNotAllocateDuringUnwind>;

    /// A rule cache for [`unwind_copy`].
    pub fn copy_cache() -> Box<CopyCache> {
        Box::new(CacheX86_64::new_in())
    }

    /// The calling thread's stack: its lowest address and one past its highest, or `(0, 0)`.
    fn stack_bounds() -> (u64, u64) {
        // SAFETY: a zeroed pthread_attr_t is a valid out-parameter.
        let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        // SAFETY: initializes `attr`, a local, with the calling thread's attributes.
        if unsafe { libc::pthread_getattr_np(me, &mut attr) } != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        // SAFETY: reads the stack range from `attr`, initialized above, into locals.
        let ok = unsafe { libc::pthread_attr_getstack(&attr, &mut addr, &mut size) } == 0;
        // SAFETY: destroys `attr`, initialized above and not used afterwards.
        unsafe { libc::pthread_attr_destroy(&mut attr) };
        if ok {
            (addr as u64, addr as u64 + size as u64)
        } else {
            (0, 0)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{is_stop, setup};

        #[test]
        fn finds_the_thread_start_markers() {
            let stops = &setup().stops;
            assert!(
                !stops.is_empty(),
                "every Rust program has __rust_begin_short_backtrace"
            );
            assert!(stops.windows(2).all(|w| w[0].0 <= w[1].0));
            let (start, end) = stops[0];
            assert!(is_stop(stops, start) && is_stop(stops, end - 1));
            assert!(!is_stop(stops, start - 1) && !is_stop(stops, u64::MAX));
        }

        #[test]
        fn captured_stacks_end_before_thread_start_up() {
            let (captured, full) = std::thread::spawn(|| {
                let captured = super::super::with_stack(256, |pcs, _| pcs.len());
                let mut full = 0;
                backtrace_depth(&mut full);
                (captured, full)
            })
            .join()
            .unwrap();
            assert!(
                captured > 0 && captured + 4 <= full,
                "captured {captured} of {full} frames"
            );
        }

        /// Captures here twice: with `state` (whose memos may replay) and with a fresh state
        /// (which must walk); both see the same frames, from this function's caller out.
        #[inline(never)]
        fn leaf(state: &mut super::ThreadState) -> (Vec<usize>, Vec<usize>) {
            let (n, h) = state.capture(64);
            let memo = state.pcs[..n].to_vec();
            assert_eq!(
                h,
                super::super::hash(&memo),
                "a replay's hash is its frames'"
            );
            let mut fresh = Box::new(super::ThreadState::new());
            let (m, _) = fresh.capture(64);
            (memo, fresh.pcs[..m].to_vec())
        }

        /// Two call sites of `leaf` at the same stack depth: the same registers at the capture,
        /// different return addresses.
        #[inline(never)]
        fn two_sites(state: &mut super::ThreadState, first: bool) -> (Vec<usize>, Vec<usize>) {
            let r = if first {
                leaf(state)
            } else {
                std::hint::black_box(leaf(state))
            };
            std::hint::black_box(first);
            r
        }

        #[inline(never)]
        fn at_depth(state: &mut super::ThreadState, d: usize) -> (Vec<usize>, Vec<usize>) {
            let r = if d == 0 {
                leaf(state)
            } else {
                at_depth(state, d - 1)
            };
            std::hint::black_box(d);
            r
        }

        /// Memos replay only what a walk would find: the same frames as a fresh walk, whether
        /// the same stack comes back (a replay), another caller comes at the same depth, or
        /// the depth changes.
        #[test]
        fn memos_replay_exactly_what_a_walk_finds() {
            super::super::set_unwinder(super::super::Unwinder::Dwarf);
            std::thread::spawn(|| {
                let mut state = Box::new(super::ThreadState::new());
                // One call site in a loop: the same stack every time (the optimizer may peel
                // the first iterations into call sites of their own; the last ones replay).
                let runs: Vec<_> = (0..std::hint::black_box(6))
                    .map(|_| (two_sites(&mut state, true), state.next_memo))
                    .collect();
                for ((memo, fresh), _) in &runs {
                    assert_eq!(memo, fresh);
                }
                let slots: Vec<usize> = runs[3..].iter().map(|r| r.1).collect();
                assert!(
                    slots.windows(2).all(|w| w[0] == w[1]),
                    "the same stack replays (no new walk): {slots:?}"
                );
                // Another call site (if the optimizer kept two): replayed only if it is the
                // same stack.
                let (other, fresh) = two_sites(&mut state, false);
                assert_eq!(other, fresh);
                for d in [3, 5, 3, 7, 0, 5, 9, 3] {
                    let (memo, fresh) = at_depth(&mut state, d);
                    assert_eq!(memo, fresh, "depth {d}");
                }
            })
            .join()
            .unwrap();
        }

        /// Counts all frames of the current stack with the unwinder, ignoring the markers.
        fn backtrace_depth(n: &mut usize) {
            let mut state = super::ThreadState::new();
            let (ip, sp, bp): (u64, u64, u64);
            // SAFETY: reads registers only.
            unsafe {
                std::arch::asm!("lea {ip}, [rip]", "mov {sp}, rsp", "mov {bp}, rbp", ip = out(reg) ip, sp = out(reg) sp, bp = out(reg) bp, options(nomem, nostack, preserves_flags));
            }
            let top = state.stack.1;
            let mut read = |addr: u64| super::read_word(addr, sp, top);
            *n = super::dwarf_walk(ip, sp, bp, &[], &mut state.cache, &mut read, &mut state.pcs);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod imp {
    use crate::state::MAX_DEPTH;

    pub(super) struct ThreadState {
        pub(super) pcs: [usize; MAX_DEPTH + super::SLACK],
    }

    impl ThreadState {
        pub(super) fn new() -> Self {
            ThreadState {
                pcs: [0; MAX_DEPTH + super::SLACK],
            }
        }

        pub(super) fn capture(&mut self, max: usize) -> (usize, u64) {
            let max = max.min(self.pcs.len());
            let mut n = 0;
            let mut first = true;
            backtrace::trace(|frame| {
                if first {
                    // The capturing function itself.
                    first = false;
                    return true;
                }
                if n >= max {
                    return false;
                }
                self.pcs[n] = frame.ip() as usize;
                n += 1;
                true
            });
            (n, super::hash(&self.pcs[..n]))
        }
    }
}
