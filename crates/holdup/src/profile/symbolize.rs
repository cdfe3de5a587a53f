//! Address → function, file and line, at report time only, with a process-wide cache.
//!
//! Inlined calls are expanded: one address yields several frames, innermost first. On Linux the
//! DWARF line tables are read by blazesym (the first report pays tens of milliseconds to load
//! them; later ones hit the cache); elsewhere the `backtrace` crate resolves addresses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

#[cfg(test)]
mod tests {
    use super::resolve;

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
        assert!(f.file.ends_with("symbolize.rs"), "{}", f.file);
        assert!(f.line > 0);
        assert_eq!(sym.offset, 4);
    }

    #[test]
    fn unknown_addresses_resolve_to_nothing() {
        let r = resolve(&[16]);
        assert!(r[&16].frames.is_empty());
    }
}
