//! The objects loaded in this process (executable, shared libraries, vDSO), read from the
//! loader's program headers: where they are mapped, their unwind tables and their build ids.
//! Used to set up the in-process unwinder and to write pprof mappings. Never on a lock's path.

#![cfg(target_os = "linux")]

use std::ffi::CStr;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub(crate) const PF_X: u32 = 1;
const PF_R: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;

/// One loaded segment, in the object's own (stated) addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub(crate) vaddr: u64,
    pub(crate) memsz: u64,
    pub(crate) filesz: u64,
    pub(crate) flags: u32,
}

/// One loaded object.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    /// The path the loader reports; the main executable's is resolved via `/proc/self/exe`.
    pub(crate) path: String,
    /// Load bias: actual address = `bias` + stated address.
    pub(crate) bias: u64,
    pub(crate) loads: Vec<Segment>,
    /// The `.eh_frame_hdr` section (stated address and size), if the object has one.
    pub(crate) eh_frame_hdr: Option<(u64, u64)>,
    /// The GNU build id, lowercase hex.
    pub(crate) build_id: Option<String>,
}

impl Module {
    /// The readable load segment containing the stated address `vaddr`.
    pub(crate) fn segment_containing(&self, vaddr: u64) -> Option<&Segment> {
        self.loads
            .iter()
            .find(|s| s.flags & PF_R != 0 && s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz)
    }

    /// Copies `len` bytes at stated address `vaddr`, if they lie in a readable file-backed
    /// part of a load segment.
    pub(crate) fn copy(&self, vaddr: u64, len: u64) -> Option<Vec<u8>> {
        let seg = self.segment_containing(vaddr)?;
        if vaddr.checked_add(len)? > seg.vaddr + seg.filesz {
            return None;
        }
        let start = self.bias.wrapping_add(vaddr) as *const u8;
        // SAFETY: the range lies inside a readable PT_LOAD segment's file-backed part, which the
        // loader mapped and keeps mapped while the object is loaded; we are inside
        // dl_iterate_phdr's callback or the object was just enumerated by it.
        Some(unsafe { std::slice::from_raw_parts(start, len as usize) }.to_vec())
    }
}

/// Enumerates the loaded objects.
pub(crate) fn loaded() -> Vec<Module> {
    let mut out: Vec<Module> = Vec::new();
    // SAFETY: the callback matches dl_iterate_phdr's signature and only reads the headers it is
    // given; `data` points at `out`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(callback), (&raw mut out).cast()) };
    let exe = std::fs::read_link("/proc/self/exe").ok().map(|p| p.to_string_lossy().into_owned());
    for m in &mut out {
        if m.path.is_empty()
            && let Some(exe) = &exe
        {
            m.path = exe.clone();
        }
    }
    out
}

unsafe extern "C" fn callback(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // Nothing below may unwind across the FFI boundary.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the loader passes a valid dl_phdr_info and `data` is the `Vec` from `loaded`.
        let (info, out) = unsafe { (&*info, &mut *data.cast::<Vec<Module>>()) };
        if let Some(m) = read_module(info) {
            out.push(m);
        }
    }));
    let _ = r;
    0
}

fn read_module(info: &libc::dl_phdr_info) -> Option<Module> {
    if info.dlpi_phdr.is_null() {
        return None;
    }
    // SAFETY: the loader guarantees dlpi_phdr points at dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let path = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_string_lossy().into_owned()
    };
    let mut m = Module {
        path,
        bias: info.dlpi_addr,
        loads: Vec::new(),
        eh_frame_hdr: None,
        build_id: None,
    };
    for ph in phdrs {
        match ph.p_type {
            PT_LOAD => m.loads.push(Segment {
                vaddr: ph.p_vaddr,
                memsz: ph.p_memsz,
                filesz: ph.p_filesz,
                flags: ph.p_flags,
            }),
            PT_GNU_EH_FRAME => m.eh_frame_hdr = Some((ph.p_vaddr, ph.p_memsz)),
            _ => {}
        }
    }
    for ph in phdrs.iter().filter(|ph| ph.p_type == PT_NOTE) {
        if let Some(notes) = m.copy(ph.p_vaddr, ph.p_filesz)
            && let Some(id) = find_build_id(&notes)
        {
            m.build_id = Some(id);
            break;
        }
    }
    if m.loads.is_empty() { None } else { Some(m) }
}

/// Finds the GNU build id among ELF notes.
fn find_build_id(mut notes: &[u8]) -> Option<String> {
    let word = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let align4 = |n: usize| n.div_ceil(4) * 4;
    while notes.len() >= 12 {
        let namesz = word(notes, 0)? as usize;
        let descsz = word(notes, 4)? as usize;
        let ty = word(notes, 8)?;
        let name_end = 12 + align4(namesz);
        let desc_end = name_end.checked_add(align4(descsz))?;
        let name = notes.get(12..12 + namesz)?;
        let desc = notes.get(name_end..name_end + descsz)?;
        if ty == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return Some(desc.iter().map(|b| format!("{b:02x}")).collect());
        }
        notes = notes.get(desc_end..)?;
    }
    None
}

/// One executable mapping of `/proc/self/maps`, as pprof's Mapping wants it.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) start: u64,
    pub(crate) limit: u64,
    pub(crate) offset: u64,
    pub(crate) path: String,
    pub(crate) build_id: String,
}

/// The executable mappings of this process, the main executable first (as Go writes them).
pub(crate) fn executable_mappings() -> Vec<Mapping> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let modules = loaded();
    let exe = std::fs::read_link("/proc/self/exe").ok().map(|p| p.to_string_lossy().into_owned());
    let mut out: Vec<Mapping> = maps.lines().filter_map(parse_maps_line).collect();
    for m in &mut out {
        if let Some(module) = modules.iter().find(|md| md.path == m.path) {
            m.build_id = module.build_id.clone().unwrap_or_default();
        }
    }
    // Stable: the executable's mappings first, the rest in address order.
    out.sort_by_key(|m| Some(&m.path) != exe.as_ref());
    out
}

fn parse_maps_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_ascii_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let _dev = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.collect::<Vec<_>>().join(" ");
    if perms.as_bytes().get(2) != Some(&b'x') {
        return None;
    }
    let (start, limit) = range.split_once('-')?;
    let path = path.strip_suffix(" (deleted)").unwrap_or(&path).to_owned();
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        limit: u64::from_str_radix(limit, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        path,
        build_id: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_executable_and_its_build_id() {
        let modules = loaded();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let me = modules.iter().find(|m| m.path == exe.to_string_lossy()).expect("executable listed");
        assert!(me.eh_frame_hdr.is_some());
        // Rust's linker setup on Linux always emits a GNU build id.
        let id = me.build_id.as_deref().expect("build id");
        assert!(id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn mappings_start_with_the_executable() {
        let maps = executable_mappings();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(maps[0].path, exe.to_string_lossy());
        assert!(!maps[0].build_id.is_empty());
        assert!(maps.iter().all(|m| m.start < m.limit));
        let here = finds_the_executable_and_its_build_id as *const () as u64;
        assert!(maps.iter().any(|m| m.start <= here && here < m.limit));
    }

    #[test]
    fn parses_maps_lines() {
        let m = parse_maps_line("55d0c0a00000-55d0c0b00000 r-xp 00010000 fd:01 123 /usr/bin/my app (deleted)").unwrap();
        assert_eq!((m.start, m.limit, m.offset), (0x55d0c0a00000, 0x55d0c0b00000, 0x10000));
        assert_eq!(m.path, "/usr/bin/my app");
        assert!(parse_maps_line("7f00-7f10 r--p 0 00:00 0 /lib/x.so").is_none());
        assert_eq!(parse_maps_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]").unwrap().path, "[vsyscall]");
    }
}
