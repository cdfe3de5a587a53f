//! The objects loaded in this process (executable, shared libraries, vDSO), read from the
//! loader's program headers: where they are mapped, their unwind tables and their build ids.
//! Used to set up the in-process unwinder and to write pprof mappings. Never on a lock's path.

#![cfg(target_os = "linux")]

use std::ffi::CStr;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub const PF_X: u32 = 1;
const PF_R: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;

/// One loaded segment, in the object's own (stated) addresses.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub filesz: u64,
    pub flags: u32,
}

/// Copies of an object's DWARF unwind sections, taken while the loader guarantees the object
/// stays mapped.
#[derive(Debug, Clone)]
pub struct UnwindTables {
    /// `.eh_frame_hdr`: stated address and bytes.
    pub hdr: (u64, Vec<u8>),
    /// `.eh_frame`: stated address and bytes (to the end of its segment).
    pub eh_frame: (u64, Vec<u8>),
}

/// One loaded object.
#[derive(Debug, Clone)]
pub struct Module {
    /// The path the loader reports; the main executable's is resolved via `/proc/self/exe`.
    pub path: String,
    /// Load bias: actual address = `bias` + stated address.
    pub bias: u64,
    pub loads: Vec<Segment>,
    /// The `.eh_frame_hdr` section (stated address and size), if the object has one.
    pub eh_frame_hdr: Option<(u64, u64)>,
    /// Copies of the unwind tables, when asked for (see [`loaded`]).
    pub unwind: Option<UnwindTables>,
    /// The GNU build id, lowercase hex.
    pub build_id: Option<String>,
}

impl Module {
    /// The readable load segment containing the stated address `vaddr`.
    pub fn segment_containing(&self, vaddr: u64) -> Option<&Segment> {
        self.loads
            .iter()
            .find(|s| s.flags & PF_R != 0 && s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz)
    }

    /// Copies `len` bytes at stated address `vaddr`, if they lie in a readable file-backed
    /// part of a load segment.
    ///
    /// # Safety
    ///
    /// Only while the object is guaranteed to stay loaded: inside `dl_iterate_phdr`'s callback,
    /// which holds the loader's lock (a concurrent `dlclose` would unmap the memory).
    unsafe fn copy(&self, vaddr: u64, len: u64) -> Option<Vec<u8>> {
        let seg = self.segment_containing(vaddr)?;
        if vaddr.checked_add(len)? > seg.vaddr + seg.filesz {
            return None;
        }
        let start = self.bias.wrapping_add(vaddr) as *const u8;
        // SAFETY: the range lies inside a readable PT_LOAD segment's file-backed part, which the
        // loader mapped, and the caller guarantees the object stays loaded meanwhile.
        Some(unsafe { std::slice::from_raw_parts(start, len as usize) }.to_vec())
    }

    /// Copies `.eh_frame_hdr` and `.eh_frame`.
    ///
    /// # Safety
    ///
    /// As for [`copy`](Module::copy).
    unsafe fn copy_unwind_tables(&self) -> Option<UnwindTables> {
        let (hdr_vaddr, hdr_len) = self.eh_frame_hdr?;
        // SAFETY: forwarded from the caller.
        let hdr = unsafe { self.copy(hdr_vaddr, hdr_len) }?;
        let eh_frame_vaddr =
            eh_frame_address(&hdr, self.bias.wrapping_add(hdr_vaddr))?.wrapping_sub(self.bias);
        let seg = self.segment_containing(eh_frame_vaddr)?;
        let eh_frame_len = seg.vaddr + seg.filesz - eh_frame_vaddr;
        // SAFETY: forwarded from the caller.
        let eh_frame = unsafe { self.copy(eh_frame_vaddr, eh_frame_len) }?;
        Some(UnwindTables {
            hdr: (hdr_vaddr, hdr),
            eh_frame: (eh_frame_vaddr, eh_frame),
        })
    }
}

/// Decodes the `.eh_frame` pointer of an `.eh_frame_hdr` that lives at `hdr_addr`.
fn eh_frame_address(hdr: &[u8], hdr_addr: u64) -> Option<u64> {
    const OMIT: u8 = 0xff;
    if hdr.len() < 4 || hdr[0] != 1 || hdr[1] == OMIT {
        return None;
    }
    let enc = hdr[1];
    let field = &hdr[4..];
    let value: u64 = match enc & 0x0f {
        0x00 | 0x04 => u64::from_ne_bytes(field.get(..8)?.try_into().ok()?),
        0x03 => u64::from(u32::from_ne_bytes(field.get(..4)?.try_into().ok()?)),
        0x0b => i64::from(i32::from_ne_bytes(field.get(..4)?.try_into().ok()?)) as u64,
        0x0c => i64::from_ne_bytes(field.get(..8)?.try_into().ok()?) as u64,
        _ => return None,
    };
    match enc & 0x70 {
        0x00 => Some(value),
        0x10 => Some(hdr_addr.wrapping_add(4).wrapping_add(value)),
        0x30 => Some(hdr_addr.wrapping_add(value)),
        _ => None,
    }
}

/// What the loader callback collects.
struct Collect {
    modules: Vec<Module>,
    unwind_tables: bool,
}

/// Enumerates the loaded objects, with copies of their unwind tables if `unwind_tables`.
pub fn loaded(unwind_tables: bool) -> Vec<Module> {
    let mut collect = Collect {
        modules: Vec::new(),
        unwind_tables,
    };
    // SAFETY: the callback matches dl_iterate_phdr's signature and only reads the headers and
    // memory of the object it is given; `data` points at `collect`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(callback), (&raw mut collect).cast()) };
    let exe = executable_path();
    let mut out = collect.modules;
    for m in &mut out {
        if m.path.is_empty()
            && let Some(exe) = &exe
        {
            m.path = exe.clone();
        }
    }
    out
}

/// The executable's path as `/proc/self/maps` shows it (without a ` (deleted)` suffix).
fn executable_path() -> Option<String> {
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let exe = exe.to_string_lossy();
    Some(exe.strip_suffix(" (deleted)").unwrap_or(&exe).to_owned())
}

unsafe extern "C" fn callback(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // Nothing below may unwind across the FFI boundary.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the loader passes a valid dl_phdr_info, alive during the callback.
        let info = unsafe { &*info };
        // SAFETY: `data` is the `&mut Collect` that `loaded` passed, borrowed by nobody else
        // while the loader runs this callback.
        let collect = unsafe { &mut *data.cast::<Collect>() };
        // SAFETY: inside the callback the loader keeps the object loaded.
        if let Some(m) = unsafe { read_module(info, collect.unwind_tables) } {
            collect.modules.push(m);
        }
    }));
    let _ = r;
    0
}

/// # Safety
///
/// Only inside `dl_iterate_phdr`'s callback, for the object it describes.
unsafe fn read_module(info: &libc::dl_phdr_info, unwind_tables: bool) -> Option<Module> {
    if info.dlpi_phdr.is_null() {
        return None;
    }
    // SAFETY: the loader guarantees dlpi_phdr points at dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let path = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let mut m = Module {
        path,
        bias: info.dlpi_addr,
        loads: Vec::new(),
        eh_frame_hdr: None,
        unwind: None,
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
        // SAFETY: forwarded from the caller (inside the callback).
        if let Some(notes) = unsafe { m.copy(ph.p_vaddr, ph.p_filesz) }
            && let Some(id) = find_build_id(&notes)
        {
            m.build_id = Some(id);
            break;
        }
    }
    if unwind_tables {
        // SAFETY: forwarded from the caller (inside the callback).
        m.unwind = unsafe { m.copy_unwind_tables() };
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
pub struct Mapping {
    pub start: u64,
    pub limit: u64,
    pub offset: u64,
    pub path: String,
    pub build_id: String,
}

/// The executable mappings of this process, the main executable first (as Go writes them).
pub fn executable_mappings() -> Vec<Mapping> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let modules = loaded(false);
    let exe = executable_path();
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
    fn decodes_eh_frame_pointers() {
        // pcrel | sdata4, pointing 0x100 bytes past the field.
        let mut hdr = vec![1, 0x1b, 0x03, 0x3b];
        hdr.extend_from_slice(&0x100i32.to_ne_bytes());
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x1000 + 4 + 0x100));
        // absolute udata8
        let mut hdr = vec![1, 0x04, 0x03, 0x3b];
        hdr.extend_from_slice(&0xdead_beefu64.to_ne_bytes());
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0xdead_beef));
        // unsupported version or omitted pointer
        assert_eq!(eh_frame_address(&[2, 0x1b, 0, 0, 0, 0, 0, 0], 0), None);
        assert_eq!(eh_frame_address(&[1, 0xff, 0, 0], 0), None);
    }

    #[test]
    fn finds_the_executable_and_its_build_id() {
        let modules = loaded(true);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let me = modules
            .iter()
            .find(|m| m.path == exe.to_string_lossy())
            .expect("executable listed");
        assert!(me.eh_frame_hdr.is_some());
        let unwind = me.unwind.as_ref().expect("unwind tables copied");
        assert!(!unwind.hdr.1.is_empty() && !unwind.eh_frame.1.is_empty());
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
        let m = parse_maps_line(
            "55d0c0a00000-55d0c0b00000 r-xp 00010000 fd:01 123 /usr/bin/my app (deleted)",
        )
        .unwrap();
        assert_eq!(
            (m.start, m.limit, m.offset),
            (0x55d0c0a00000, 0x55d0c0b00000, 0x10000)
        );
        assert_eq!(m.path, "/usr/bin/my app");
        assert!(parse_maps_line("7f00-7f10 r--p 0 00:00 0 /lib/x.so").is_none());
        assert_eq!(
            parse_maps_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]")
                .unwrap()
                .path,
            "[vsyscall]"
        );
    }
}
