//! Stack capture for sampled events: raw return addresses into a per-thread buffer.
//!
//! Two unwinders, chosen with [`set_unwinder`](crate::set_unwinder), measured on this
//! project's 2-core machine with `holdup-bench events`:
//!
//! - **DWARF** (framehop, in-process): reads the `.eh_frame` unwind tables of every object
//!   loaded when profiling is first enabled (copied then; objects `dlopen`ed later are unwound
//!   by frame pointers only), with a warm per-thread rule cache that
//!   never allocates while unwinding. Complete without frame pointers. A sampled event (capture
//!   and bucket update) costs 0.65–0.78 µs at 16 user frames, 1.6–2.4 µs at 64 (`holdup-bench
//!   events`, 2026-12-01).
//! - **Frame pointers**: follows the `rbp` chain: 181 ns at 16 frames, 406 ns at 64, but complete
//!   only when the program and its dependencies are built with `-C force-frame-pointers=yes`
//!   (Rust's prebuilt std already has frame pointers).
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
/// passes it to `f`. Passes an empty slice when no stack can be taken (thread exiting, or a
/// capture already in progress on this thread).
#[inline(never)]
pub fn with_stack<R>(max: usize, f: impl FnOnce(&[usize]) -> R) -> R {
    let mut f = Some(f);
    let r = STATE.try_with(|cell| {
        let Ok(mut state) = cell.try_borrow_mut() else {
            return None;
        };
        let state = state.get_or_insert_with(|| Box::new(imp::ThreadState::new()));
        let n = state.capture(max);
        Some((f.take().expect("called once"))(&state.pcs[..n]))
    });
    match r {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&[]),
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use imp::{copy_cache, unwind_copy};

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
    }

    impl ThreadState {
        pub(super) fn new() -> Self {
            ThreadState {
                pcs: [0; MAX_DEPTH + super::SLACK],
                dwarf: Vec::with_capacity(64),
                cache: CacheX86_64::new_in(),
                stack: stack_bounds(),
            }
        }

        /// Fills `pcs` with up to `max` return addresses, innermost first.
        #[inline(always)]
        pub(super) fn capture(&mut self, max: usize) -> usize {
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
                return 0;
            }
            let stops = &setup().stops[..];
            match MODE.load(Ordering::Relaxed) {
                // Root frames cost the walk ~1.5 ns each, less than checking every frame against
                // the thread start markers; reports trim them.
                MODE_FP => fp_walk(bp, sp, top, &[], &mut self.pcs[..max]),
                MODE_DWARF => dwarf_walk(
                    ip,
                    sp,
                    bp,
                    top,
                    stops,
                    &mut self.cache,
                    &mut self.pcs[..max],
                ),
                _ => {
                    // Auto: decide once, from this (real) stack.
                    let n = dwarf_walk(
                        ip,
                        sp,
                        bp,
                        top,
                        stops,
                        &mut self.cache,
                        &mut self.pcs[..max],
                    );
                    self.dwarf.clear();
                    self.dwarf.extend(self.pcs[..n].iter().map(|&p| p as u64));
                    let m = fp_walk(bp, sp, top, stops, &mut self.pcs[..max]);
                    let agree = m >= 4
                        && m <= n
                        && n - m <= 4
                        && self.pcs[..m]
                            .iter()
                            .zip(&self.dwarf)
                            .all(|(&a, &b)| a as u64 == b);
                    let mode = if agree { MODE_FP } else { MODE_DWARF };
                    let _ = MODE.compare_exchange(
                        MODE_AUTO,
                        mode,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    for (dst, &src) in self.pcs.iter_mut().zip(&self.dwarf) {
                        *dst = src as usize;
                    }
                    n
                }
            }
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
    /// after the first return address in `stops`.
    fn fp_walk(mut bp: u64, sp: u64, top: u64, stops: &[(u64, u64)], out: &mut [usize]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Ok(ret) = read_word(bp.wrapping_add(8), sp, top) else {
                break;
            };
            let Ok(next) = read_word(bp, sp, top) else {
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
        top: u64,
        stops: &[(u64, u64)],
        cache: &mut CacheX86_64<MustNotAllocateDuringUnwind>,
        out: &mut [usize],
    ) -> usize {
        let mut read = |addr: u64| read_word(addr, sp, top);
        let mut frames =
            unwinder().iter_frames(ip, UnwindRegsX86_64::new(ip, sp, bp), cache, &mut read);
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

    /// A rule cache for [`unwind_copy`].
    pub fn copy_cache() -> Box<CacheX86_64<MustNotAllocateDuringUnwind>> {
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
                let captured = super::super::with_stack(256, |pcs| pcs.len());
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

        /// Counts all frames of the current stack with the unwinder, ignoring the markers.
        fn backtrace_depth(n: &mut usize) {
            let mut state = super::ThreadState::new();
            let (ip, sp, bp): (u64, u64, u64);
            // SAFETY: reads registers only.
            unsafe {
                std::arch::asm!("lea {ip}, [rip]", "mov {sp}, rsp", "mov {bp}, rbp", ip = out(reg) ip, sp = out(reg) sp, bp = out(reg) bp, options(nomem, nostack, preserves_flags));
            }
            let top = state.stack.1;
            *n = super::dwarf_walk(ip, sp, bp, top, &[], &mut state.cache, &mut state.pcs);
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

        pub(super) fn capture(&mut self, max: usize) -> usize {
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
            n
        }
    }
}
