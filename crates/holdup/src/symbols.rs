//! Symbols: code addresses to functions, files and lines (at report time only, with a
//! process-wide cache), the frame types every report shares, and the rules that tell holdup's
//! own frames and the thread start-up frames from the program's (used by profiles, dumps and
//! leak reports alike).
//!
//! Inlined calls are expanded: one address yields several frames, innermost first. On Linux the
//! DWARF line tables are read by blazesym (the first report pays tens of milliseconds to load
//! them; later ones hit the cache); elsewhere the `backtrace` crate resolves addresses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use holdup_core::collector::profiler_scope;

/// One logical frame of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SymFrame {
    /// Demangled, without the hash suffix.
    pub(crate) function: Arc<str>,
    /// The linker's name (mangled for Rust), or the same as `function` when that is all the
    /// debug information has.
    pub(crate) system_name: Arc<str>,
    pub(crate) file: Arc<str>,
    pub(crate) line: u32,
}

/// What an address resolved to.
#[derive(Debug, Clone, Default)]
pub(crate) struct SymAddr {
    /// Innermost first; empty when the address could not be resolved.
    pub(crate) frames: Arc<[SymFrame]>,
    /// Offset of the address from the start of its (outermost) function.
    pub(crate) offset: u64,
}

/// Resolved addresses, shared by every thread (function names are interned).
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

#[derive(Default)]
struct Cache {
    resolved: HashMap<usize, SymAddr>,
    names: HashMap<String, Arc<str>>,
}

#[cfg(target_os = "linux")]
thread_local! {
    /// blazesym's symbolizer keeps the parsed debug information; it is not `Send`, so each
    /// thread that writes profiles has its own (most programs write from one or two threads).
    static SYMBOLIZER: blazesym::symbolize::Symbolizer = new_symbolizer();
}

#[cfg(target_os = "linux")]
fn new_symbolizer() -> blazesym::symbolize::Symbolizer {
    // Names are demangled here (`names`), so that the symbol can be kept as the system name.
    blazesym::symbolize::Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .enable_demangling(false)
        .build()
}

/// One address's frames (name as found, file, line), innermost first, and its offset.
#[cfg(target_os = "linux")]
type Resolved = (Vec<(String, String, u32)>, u64);

/// Symbolizes `addrs` in this process; `None` if the batch failed as a whole.
#[cfg(target_os = "linux")]
fn symbolize_batch(
    symbolizer: &blazesym::symbolize::Symbolizer,
    addrs: &[usize],
) -> Option<Vec<(usize, Resolved)>> {
    use blazesym::symbolize::source::{Process, Source};
    use blazesym::symbolize::{CodeInfo, Input, Symbolized};

    let mut process = Process::new(blazesym::Pid::Slf);
    // Paths from /proc/self/maps work without CAP_SYS_ADMIN, unlike map_files.
    process.map_files = false;
    process.perf_map = false;
    let input: Vec<u64> = addrs.iter().map(|&a| a as u64).collect();
    let results = symbolizer
        .symbolize(&Source::Process(process), Input::AbsAddr(&input))
        .ok()?;
    let loc = |ci: Option<&CodeInfo<'_>>| match ci {
        Some(ci) => (
            ci.to_path().to_string_lossy().into_owned(),
            ci.line.unwrap_or(0),
        ),
        None => (String::new(), 0),
    };
    let mut out = Vec::with_capacity(addrs.len());
    for (i, &addr) in addrs.iter().enumerate() {
        let resolved = match results.get(i) {
            Some(Symbolized::Sym(sym)) => {
                // blazesym lists inlined calls outermost first, with each call's location on the
                // caller; we want innermost first, each with its own line.
                let mut frames = Vec::with_capacity(sym.inlined.len() + 1);
                for f in sym.inlined.iter().rev() {
                    let (file, line) = loc(f.code_info.as_ref());
                    frames.push((f.name.to_string(), file, line));
                }
                let (file, line) = loc(sym.code_info.as_deref());
                frames.push((sym.name.to_string(), file, line));
                (frames, sym.offset as u64)
            }
            _ => (Vec::new(), 0),
        };
        out.push((addr, resolved));
    }
    Some(out)
}

/// Resolves code addresses (call sites: return address minus one).
pub(crate) fn resolve(addrs: &[usize]) -> HashMap<usize, SymAddr> {
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = guard.get_or_insert_with(Cache::default);
    let mut missing: Vec<usize> = addrs
        .iter()
        .copied()
        .filter(|a| !cache.resolved.contains_key(a))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if !missing.is_empty() {
        cache.fill(&missing);
    }
    addrs
        .iter()
        .map(|&a| (a, cache.resolved.get(&a).cloned().unwrap_or_default()))
        .collect()
}

impl Cache {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.names.insert(s.to_owned(), a.clone());
        a
    }

    fn insert(&mut self, addr: usize, frames: Vec<(String, String, u32)>, offset: u64) {
        let frames: Vec<SymFrame> = frames
            .into_iter()
            .map(|(raw, file, line)| {
                let (function, system_name) = names(&raw);
                SymFrame {
                    function: self.intern(&function),
                    system_name: self.intern(system_name),
                    file: self.intern(&file),
                    line,
                }
            })
            .collect();
        self.resolved.insert(
            addr,
            SymAddr {
                frames: frames.into(),
                offset,
            },
        );
    }

    #[cfg(target_os = "linux")]
    fn fill(&mut self, addrs: &[usize]) {
        use blazesym::symbolize::Symbolizer;

        let resolve = |symbolizer: &Symbolizer| symbolize_batch(symbolizer, addrs);
        // Threads that are exiting (thread-locals gone) get a one-off symbolizer.
        let resolved = SYMBOLIZER
            .try_with(resolve)
            .unwrap_or_else(|_| resolve(&new_symbolizer()));
        // A failed batch is not cached, so that a later report tries again.
        for (addr, (frames, offset)) in resolved.unwrap_or_default() {
            self.insert(addr, frames, offset);
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn fill(&mut self, addrs: &[usize]) {
        for &addr in addrs {
            let mut frames = Vec::new();
            let mut offset = 0;
            backtrace::resolve(addr as *mut std::ffi::c_void, |sym| {
                let function = sym
                    .name()
                    .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
                    .unwrap_or_default();
                let file = sym
                    .filename()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Some(start) = sym.addr() {
                    offset = (addr as u64).wrapping_sub(start as u64);
                }
                frames.push((function, file, sym.lineno().unwrap_or(0)));
            });
            self.insert(addr, frames, offset);
        }
    }
}

/// The display name and the system name for a name from the debug information or symbol table.
///
/// With DWARF, blazesym builds readable qualified names for Rust; those get no system name, so
/// that pprof does not "simplify" them (it strips everything in angle brackets from names whose
/// two forms are equal). From a symbol table alone (release builds without debug information)
/// names are mangled: Rust symbols are demangled here (without the hash) and keep the symbol
/// as system name; C++ symbols are left for pprof to demangle.
fn names(raw: &str) -> (String, &str) {
    match rustc_demangle::try_demangle(raw) {
        Ok(d) => (format!("{d:#}"), raw),
        Err(_) if raw.starts_with("_Z") => (raw.to_owned(), raw),
        Err(_) => (raw.to_owned(), ""),
    }
}

/// One frame of a [`Sample`](crate::profile::Sample)'s stack.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// The demangled function name without hash, e.g. `app::Cache::get`; empty if unknown.
    pub function: String,
    /// The source file, or empty.
    pub file: String,
    /// The source line, or 0.
    pub line: u32,
    /// The code address (a return address minus one); shared by the frames of one address when
    /// calls were inlined.
    pub address: usize,
    /// Whether this call was inlined into the next frame.
    pub inlined: bool,
}

impl Frame {
    #[doc(hidden)]
    #[deprecated(note = "read the field `function`: records expose their fields, without getters")]
    pub fn function(&self) -> &str {
        &self.function
    }

    #[doc(hidden)]
    #[deprecated(note = "read the field `function`: records expose their fields, without getters")]
    pub fn name(&self) -> &str {
        &self.function
    }

    #[doc(hidden)]
    #[deprecated(note = "read the field `file`: records expose their fields, without getters")]
    pub fn file(&self) -> &str {
        &self.file
    }

    #[doc(hidden)]
    #[deprecated(note = "read the field `line`: records expose their fields, without getters")]
    pub fn line(&self) -> u32 {
        self.line
    }
}

/// One frame of a stack symbolized for a dump: the frame, its offset in its function, and the
/// code address Go's text formats list for it.
#[derive(Debug, Clone)]
pub(crate) struct DumpFrame {
    pub(crate) frame: Frame,
    pub(crate) offset: u64,
    pub(crate) text_pc: u64,
}

/// Symbolizes stacks of code addresses plus one (return addresses), expanding inlined calls,
/// innermost first; nothing is trimmed.
pub(crate) fn symbolize_stacks(stacks: &[&[usize]]) -> Vec<Vec<DumpFrame>> {
    profiler_scope(|| {
        let mut addrs: Vec<usize> = stacks
            .iter()
            .flat_map(|s| s.iter())
            .filter(|&&a| a > 1)
            .map(|&a| a - 1)
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        let syms = resolve(&addrs);
        stacks
            .iter()
            .map(|stack| {
                let mut out = Vec::new();
                for &ret in stack.iter().filter(|&&a| a > 1) {
                    let Some(sym) = syms.get(&(ret - 1)) else {
                        continue;
                    };
                    if sym.frames.is_empty() {
                        out.push(DumpFrame {
                            frame: Frame {
                                function: String::new(),
                                file: String::new(),
                                line: 0,
                                address: ret - 1,
                                inlined: false,
                            },
                            offset: 0,
                            text_pc: (ret - 1) as u64,
                        });
                        continue;
                    }
                    let last = sym.frames.len() - 1;
                    for (i, f) in sym.frames.iter().enumerate() {
                        let inlined = i < last;
                        out.push(DumpFrame {
                            frame: Frame {
                                function: f.function.to_string(),
                                file: f.file.to_string(),
                                line: f.line,
                                address: ret - 1,
                                inlined,
                            },
                            offset: sym.offset + u64::from(inlined),
                            text_pc: text_pc(ret, inlined),
                        });
                    }
                }
                out
            })
            .collect()
    })
}

/// The address Go's text formats list for a frame of return address `ret`: the return address
/// itself for an inlined call, the call (one byte before) for the physical frame.
pub(crate) fn text_pc(ret: usize, inlined: bool) -> u64 {
    if inlined { ret as u64 } else { ret as u64 - 1 }
}

/// Whether a function belongs to holdup's implementation (recording, hooks, primitives).
///
/// A trait method on a holdup type, `<holdup::X as Trait>::f`, is holdup's when the trait is
/// holdup's or the standard library's (`Drop`, `Deref`), and the program's when the trait is the
/// program's own (an extension trait on holdup's types).
pub(crate) fn is_internal(function: &str) -> bool {
    if function.contains("::tests::") {
        return false;
    }
    match function.strip_prefix('<') {
        Some(rest) if is_holdup_path(rest) => match trait_of(rest) {
            Some(t) => {
                is_holdup_path(t)
                    || ["core::", "std::", "alloc::"]
                        .iter()
                        .any(|p| t.starts_with(p))
            }
            None => true,
        },
        Some(_) => false,
        None => is_holdup_path(function),
    }
}

/// Whether a path is in the facade or in the recording core (`holdup_core`).
fn is_holdup_path(path: &str) -> bool {
    path.starts_with("holdup::") || path.starts_with("holdup_core::")
}

/// The trait path of `Type as Trait>::method` (the text after `<`), if any.
pub(crate) fn trait_of(qualified: &str) -> Option<&str> {
    // Find " as " at the outermost angle-bracket level.
    let mut depth = 0usize;
    for (i, c) in qualified.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if depth == 0 => return None,
            '>' => depth -= 1,
            ' ' if depth == 0 && qualified[i..].starts_with(" as ") => {
                return Some(&qualified[i + 4..]);
            }
            _ => {}
        }
    }
    None
}

/// Frames a waiting thread passes through below the program's code: libc (names without a
/// path), std's and core's internals, unknown addresses.
pub(crate) fn is_system(function: &str) -> bool {
    function.is_empty()
        || !function.contains("::")
        || [
            "std::", "core::", "alloc::", "<std::", "<core::", "<alloc::",
        ]
        .iter()
        .any(|p| function.starts_with(p))
}

/// Drop glue and `mem::drop` between a guard's `drop` and the code that dropped it.
pub(crate) fn is_glue(function: &str) -> bool {
    (function.starts_with("core::ptr::drop_in_place<")
        && (function.contains("holdup::") || function.contains("holdup_core::")))
        || function == "core::mem::drop"
}

/// std's (and libtest's) marker between a thread's start-up code and its closure (and `main`).
pub(crate) fn is_thread_start(function: &str) -> bool {
    function.contains("::__rust_begin_short_backtrace")
}

/// Where an async runtime polls a task's future: below it are the runtime's frames (the worker
/// loop, the scheduler), above it the task's chain of async calls. holdup's task root
/// (`holdup::tokio::task::Root::poll`, never inlined), else tokio's poll of a task's cell (a task
/// spawned with plain `tokio::spawn`) or of a blocking closure.
pub(crate) fn is_task_root(function: &str) -> bool {
    function.starts_with("<holdup::tokio::task::Root<")
        || function.starts_with("tokio::runtime::task::core::Core<")
        || function.starts_with("<tokio::runtime::blocking::task::BlockingTask<")
}

#[cfg(test)]
mod tests {
    use super::{is_internal, resolve, trait_of};

    #[test]
    fn internal_frames_are_holdups_own() {
        assert!(is_internal("holdup::sync::mutex::Mutex<T>::lock"));
        assert!(is_internal("holdup_core::hook::release_contended"));
        assert!(is_internal(
            "<holdup_core::hook::Wait as core::ops::drop::Drop>::drop"
        ));
        assert!(is_internal(
            "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop"
        ));
        assert!(is_internal(
            "<holdup::sync::once::LazyLock<T,F> as core::ops::deref::Deref>::deref"
        ));
        assert!(
            !is_internal("<holdup::sync::mutex::Mutex<T> as app::LockExt>::with"),
            "an extension trait is the program's"
        );
        assert!(!is_internal("<app::Cache as holdup::Whatever>::f"));
        assert!(!is_internal("holdup::tests::some_test"));
        assert!(!is_internal("app::main"));
        assert_eq!(
            trait_of("holdup::A<T> as core::ops::drop::Drop>::drop"),
            Some("core::ops::drop::Drop>::drop")
        );
        assert_eq!(trait_of("holdup::A<B<C> as D>::f"), None);
    }

    #[inline(never)]
    fn marker_function_for_symbolization() -> usize {
        std::hint::black_box(marker_function_for_symbolization as *const () as usize)
    }

    #[test]
    fn resolves_functions_with_file_and_line() {
        let addr = marker_function_for_symbolization() + 4;
        let r = resolve(&[addr]);
        let sym = &r[&addr];
        let f = sym.frames.last().expect("resolved");
        assert!(
            f.function.ends_with("marker_function_for_symbolization"),
            "{}",
            f.function
        );
        assert!(f.file.ends_with("symbols.rs"), "{}", f.file);
        assert!(f.line > 0);
        assert_eq!(sym.offset, 4);
    }

    #[test]
    fn unknown_addresses_resolve_to_nothing() {
        let r = resolve(&[16]);
        assert!(r[&16].frames.is_empty());
    }
}
