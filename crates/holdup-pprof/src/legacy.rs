//! Go's legacy text format for contention profiles (`/debug/pprof/mutex?debug=1`).
//!
//! Columns are separated by tabs (shown here as spaces):
//!
//! ```text
//! --- mutex:
//! cycles/second=1000000000
//! sampling period=100
//! 270217097 1 @ 0x4df1c1 0x4df1c0 0x483981
//! #   0x4df1c0    sync.(*Mutex).Unlock+0x40    /go/src/sync/mutex.go:65
//! #   0x4df1bf    main.holder+0x3f             example/mtx/main.go:18
//!
//! ```
//! Records come sorted by cycles, largest first; each is followed by one `#` line per frame
//! (inlined frames expanded) and a blank line. The block profile is named `contention` and has no
//! `sampling period=` line. `go tool pprof` reads this format.

use std::io::{self, Write};

use crate::tabwriter;

/// Which contention profile a text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentionKind {
    /// The mutex profile: header `--- mutex:` with a `sampling period=` line.
    Mutex {
        /// The mutex profile fraction in effect when the text is written.
        sampling_period: i64,
    },
    /// The block profile: header `--- contention:`.
    Block,
}

/// One frame printed under a record: `#\t<pc>\t<function>+<offset>\t<file>:<line>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFrame {
    /// The frame's call address (a return address minus one, or an inlined frame's address).
    pub pc: u64,
    /// The function name.
    pub function: String,
    /// `pc` minus the function's entry address.
    pub offset: u64,
    /// The source file, or empty.
    pub file: String,
    /// The line, or 0.
    pub line: i64,
}

/// One record: values, the `@` list of return addresses, and the frames they expand to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRecord {
    /// Delay in cycles (holdup's cycles are nanoseconds: `cycles/second=1000000000`).
    pub cycles: i64,
    /// Number of events.
    pub count: i64,
    /// Return addresses, leaf first, with inlined frames as Go writes them.
    pub pcs: Vec<u64>,
    /// Frames, leaf first.
    pub frames: Vec<TextFrame>,
}

/// Writes a contention profile in Go's legacy text format. Records are written in the order
/// given; Go sorts them by cycles, largest first.
pub fn write_contention(
    mut w: impl Write,
    kind: ContentionKind,
    cycles_per_second: i64,
    records: &[TextRecord],
) -> io::Result<()> {
    use std::fmt::Write as _;

    let mut text = String::new();
    match kind {
        ContentionKind::Mutex { sampling_period } => {
            let _ = write!(
                text,
                "--- mutex:\ncycles/second={cycles_per_second}\nsampling period={sampling_period}\n"
            );
        }
        ContentionKind::Block => {
            let _ = write!(text, "--- contention:\ncycles/second={cycles_per_second}\n");
        }
    }
    for r in records {
        let _ = write!(text, "{} {} @", r.cycles, r.count);
        for pc in &r.pcs {
            let _ = write!(text, " {pc:#x}");
        }
        text.push('\n');
        for f in &r.frames {
            let _ = writeln!(
                text,
                "#\t{:#x}\t{}+{:#x}\t{}:{}",
                f.pc, f.function, f.offset, f.file, f.line
            );
        }
        text.push('\n');
    }
    w.write_all(tabwriter::align(&text).as_bytes())
}

/// Aligns tab-separated columns as Go's `text/tabwriter` does for runtime/pprof's legacy text
/// (minwidth 1, tabwidth 8, padding 1, padding with tabs). Useful for Go's other legacy formats,
/// such as `goroutine profile: total N` (debug=1).
pub fn align_columns(text: &str) -> String {
    tabwriter::align(text)
}
