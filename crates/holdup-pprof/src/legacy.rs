//! Go's legacy text formats: writing contention profiles (`/debug/pprof/mutex?debug=1`), and
//! reading them and count profiles (`goroutine?debug=1`) with [`parse`].
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

use std::collections::HashMap;
use std::io::{self, Write};

use crate::codec::{DecodeError, DecodeErrorKind};
use crate::proto::Profile;
use crate::tabwriter;
use crate::{LineInfo, ProfileBuilder};

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

/// Whether `bytes` look like one of Go's legacy text profiles that [`parse`] reads: a
/// contention profile (`--- mutex:`, `--- contention:`) or a count profile
/// (`goroutine profile: total N`, `threadcreate profile: total N`).
pub fn is_legacy_text(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    first.is_some_and(|l| contention_header(l) || count_header(l).is_some())
}

fn contention_header(line: &str) -> bool {
    line.starts_with("--- mutex:")
        || line.starts_with("--- contention:")
        || line.starts_with("--- contentionz ")
}

/// `X` of a `X profile: total N` line.
fn count_header(line: &str) -> Option<&str> {
    let (name, rest) = line.split_once(" profile: total ")?;
    let valid = !name.is_empty()
        && !name.contains(char::is_whitespace)
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(name)
}

/// Reads Go's legacy text profiles (`debug=1`) into a profile.proto message, with the values
/// `go tool pprof` gives them:
///
/// - contention profiles (`--- mutex:`, `--- contention:`): sample types `contentions/count`
///   and `delay/nanoseconds`; cycles become nanoseconds by `cycles/second`, and both values are
///   multiplied by `sampling period` (as pprof does, although Go's runtime already scaled them);
/// - count profiles (`goroutine profile: total N`): sample type `<name>/count`.
///
/// Unlike pprof, which ignores the `#` lines, the frames get the function names, files and
/// lines those lines give, and `# labels: {...}` lines become sample labels. Each address of
/// an `@` list becomes a location at that address minus one (the call instruction).
///
/// ```
/// let text = "--- mutex:\ncycles/second=2000000000\nsampling period=1\n\
///             2000 3 @ 0x401001\n#\t0x401000\tmain.holder+0x0\t/x/main.go:10\n\n";
/// let p = holdup_pprof::legacy::parse(text)?;
/// let view = holdup_pprof::ProfileView::new(&p)?;
/// assert_eq!(p.sample[0].value, [3, 1000]);
/// assert_eq!(view.frames(&p.sample[0])[0].function, "main.holder");
/// # Ok::<(), holdup_pprof::DecodeError>(())
/// ```
pub fn parse(text: &str) -> Result<Profile, DecodeError> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    while lines.peek().is_some_and(|l| l.starts_with('#')) {
        lines.next();
    }
    let first = lines.next().unwrap_or("");
    if contention_header(first) {
        parse_contention(lines)
    } else if let Some(name) = count_header(first) {
        parse_count(name, lines)
    } else {
        Err(unrecognized(
            "not a legacy text profile (want `--- mutex:`, `--- contention:` or `X profile: total N`)",
        ))
    }
}

fn unrecognized(what: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Proto, what)
}

/// The records of a legacy profile: each line with values and addresses, then its `#` lines.
#[derive(Default)]
struct Records {
    records: Vec<Record>,
    /// Frame info from `#` lines, by address: several when calls inlined into one address are
    /// listed with that same address (innermost first).
    frames: HashMap<u64, Vec<LineInfo>>,
}

struct Record {
    values: Vec<i64>,
    addresses: Vec<u64>,
    labels: Vec<(String, String)>,
}

impl Records {
    /// Reads the records until a `---` line: `#` lines describe the record before them,
    /// every other line is a record that `record` parses.
    fn read<'t>(
        lines: impl Iterator<Item = &'t str>,
        mut record: impl FnMut(&'t str) -> Result<Record, DecodeError>,
    ) -> Result<Self, DecodeError> {
        let mut records = Records::default();
        for line in lines {
            if line.starts_with("---") {
                break;
            }
            if line.starts_with('#') {
                records.comment(line);
            } else {
                records.records.push(record(line)?);
            }
        }
        Ok(records)
    }

    /// Reads a `#` line under a record: a frame (`#\t0xADDR\tfunc+0xOFF\tfile:line`) or the
    /// record's labels (`# labels: {"k":"v", ...}`).
    fn comment(&mut self, line: &str) {
        let body = line.trim_start_matches('#').trim();
        if let Some(labels) = body.strip_prefix("labels:") {
            if let Some(r) = self.records.last_mut() {
                r.labels = parse_labels(labels.trim());
            }
            return;
        }
        let mut fields = body.split('\t').filter(|f| !f.is_empty());
        let (Some(addr), Some(func)) = (fields.next(), fields.next()) else {
            return;
        };
        let Some(addr) = parse_hex(addr) else { return };
        let function = func.rsplit_once("+0x").map_or(func, |(name, _)| name);
        let (file, line) = match fields.next().and_then(|loc| loc.rsplit_once(':')) {
            Some((file, line)) => (file, line.parse().unwrap_or(0)),
            None => ("", 0),
        };
        let lines = self.frames.entry(addr).or_default();
        if !lines.iter().any(|l| l.function == function) {
            lines.push(LineInfo {
                function: function.to_owned(),
                system_name: function.to_owned(),
                file: file.to_owned(),
                line,
            });
        }
    }

    fn build(self, mut b: ProfileBuilder) -> Profile {
        for r in &self.records {
            // The n-th time a record lists an address, it stands for the n-th frame listed at
            // it (inlined calls share one address).
            let mut seen: HashMap<u64, usize> = HashMap::new();
            let locations: Vec<u64> = r
                .addresses
                .iter()
                .map(|&a| {
                    // The `@` list holds return addresses; the call is one byte before.
                    let address = a.wrapping_sub(1);
                    let n = seen.entry(address).or_default();
                    let line = self
                        .frames
                        .get(&address)
                        .and_then(|lines| lines.get(*n).or(lines.last()));
                    *n += 1;
                    match line {
                        Some(line) => b.location(0, address, std::slice::from_ref(line)),
                        None => b.location(0, address, &[]),
                    }
                })
                .collect();
            let labels: Vec<(&str, &str)> = r
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            b.sample(&locations, &r.values, &labels);
        }
        b.build()
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// The addresses after `@`: `0x...` words, as pprof's `0x[0-9a-f]+`.
fn parse_addresses(s: &str) -> Result<Vec<u64>, DecodeError> {
    s.split_whitespace()
        .map(|w| parse_hex(w).ok_or_else(|| unrecognized(format!("bad address {w:?}"))))
        .collect()
}

/// Go's `{"k":"v", "k2":"v2"}` label map; keys and values are Go-quoted strings (`%q`), so
/// they may hold escaped quotes. Stops at the first malformed pair.
fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim().trim_start_matches('{');
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        let Some((key, after)) = go_quoted(rest) else {
            break;
        };
        let Some(after) = after.strip_prefix(':') else {
            break;
        };
        let Some((value, after)) = go_quoted(after) else {
            break;
        };
        out.push((key, value));
        rest = after;
    }
    out
}

/// Reads one Go-quoted string at the start of `s`; returns it unescaped and the rest.
fn go_quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let body = &s[1..];
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0'..='7' => {
                        let digits: String = std::iter::once(e)
                            .chain((0..2).filter_map(|_| chars.next().map(|(_, d)| d)))
                            .collect();
                        out.push(char::from(u8::from_str_radix(&digits, 8).ok()?));
                    }
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let digits: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, d)| d))
                            .collect();
                        out.push(char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?);
                    }
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

fn parse_contention<'t>(lines: impl Iterator<Item = &'t str>) -> Result<Profile, DecodeError> {
    let mut lines = lines.peekable();
    let (mut cpu_hz, mut period, mut duration_ms) = (0i64, 1i64, None);
    while let Some(&line) = lines.peek() {
        if line.starts_with('#') {
            lines.next();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            break;
        };
        if line.starts_with("---") {
            break;
        }
        let value = parse_go_int(value.trim())
            .ok_or_else(|| unrecognized(format!("bad value in header line {line:?}")))?;
        match key.trim() {
            "cycles/second" => cpu_hz = value,
            "sampling period" => period = value,
            "ms since reset" => duration_ms = Some(value),
            "discarded samples" => {}
            other => return Err(unrecognized(format!("unknown header attribute {other:?}"))),
        }
        lines.next();
    }
    let records = Records::read(lines, |line| {
        let (values, addrs) = line
            .split_once('@')
            .ok_or_else(|| unrecognized(format!("not a sample line: {line:?}")))?;
        let mut numbers = values.split_whitespace().map(str::parse::<i64>);
        let (Some(Ok(mut cycles)), Some(Ok(mut count)), None) =
            (numbers.next(), numbers.next(), numbers.next())
        else {
            return Err(unrecognized(format!("not a sample line: {line:?}")));
        };
        if period > 0 {
            if cpu_hz > 0 {
                cycles = (cycles as f64 * period as f64 / (cpu_hz as f64 / 1e9)) as i64;
            }
            count = count.saturating_mul(period);
        }
        Ok(Record {
            values: vec![count, cycles],
            addresses: parse_addresses(addrs)?,
            labels: Vec::new(),
        })
    })?;
    let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period_type("contentions", "count", period);
    if let Some(ms) = duration_ms {
        b.duration_nanos(ms.saturating_mul(1_000_000));
    }
    Ok(records.build(b))
}

fn parse_count<'t>(
    name: &str,
    lines: impl Iterator<Item = &'t str>,
) -> Result<Profile, DecodeError> {
    let records = Records::read(lines, |line| {
        let malformed = || unrecognized(format!("malformed profile line {line:?}"));
        let (count, addrs) = line.split_once(" @").ok_or_else(malformed)?;
        let count: i64 = count.trim().parse().map_err(|_| malformed())?;
        Ok(Record {
            values: vec![count],
            addresses: parse_addresses(addrs)?,
            labels: Vec::new(),
        })
    })?;
    let mut b = ProfileBuilder::new(&[(name, "count")]);
    b.period_type(name, "count", 1);
    Ok(records.build(b))
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x` hex, `0` octal.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProfileView;

    #[test]
    fn contention_values_follow_pprof() {
        // The spec's crafted example: period 5, 2 GHz.
        let text = "--- mutex:\ncycles/second=2000000000\nsampling period=5\n1000 3 @ 0x401001 0x402002\n#\t0x401000\tmain.a+0x0\t/x/a.go:10\n#\t0x402001\tmain.b+0x1\t/x/a.go:20\n\n7 1 @ 0x401001\n";
        let p = parse(text).unwrap();
        assert_eq!(p.sample[0].value, [15, 2500]);
        assert_eq!(p.sample[1].value, [5, 17]);
        assert_eq!(p.period, 5);
        let view = ProfileView::new(&p).unwrap();
        let names: Vec<&str> = view
            .frames(&p.sample[0])
            .iter()
            .map(|f| f.function)
            .collect();
        assert_eq!(names, ["main.a", "main.b"]);
        assert_eq!(p.location[0].address, 0x401000);
        // Period 0 scales nothing.
        let p =
            parse("--- mutex:\ncycles/second=2000000000\nsampling period=0\n1000 3 @ 0x401001\n")
                .unwrap();
        assert_eq!(p.sample[0].value, [3, 1000]);
        // An unknown attribute rejects the file, as pprof does.
        assert!(parse("--- mutex:\nformat=x\n1 1 @ 0x1\n").is_err());
    }

    #[test]
    fn labels_are_unquoted_like_go_quotes_them() {
        let labels = parse_labels(r#"{"held_by":"thread 7 \"a\\b\"", "k\tx":"caf\u00e9 \x41"}"#);
        assert_eq!(
            labels,
            [
                ("held_by".to_owned(), "thread 7 \"a\\b\"".to_owned()),
                ("k\tx".to_owned(), "café A".to_owned())
            ]
        );
        assert!(parse_labels("{\"unterminated").is_empty());
    }

    #[test]
    fn goroutine_text_keeps_names_and_labels() {
        let text = "goroutine profile: total 3\n3 @ 0x47faca 0x4e7371 0x485f61\n# labels: {\"worker\":\"a\", \"lock\":\"held\"}\n#\t0x4e7370\tmain.parkedOnChan+0x30\tholdupfixtures/contention.go:323\n\n";
        let p = parse(text).unwrap();
        let view = ProfileView::new(&p).unwrap();
        assert_eq!(view.sample_types(), [("goroutine", "count")]);
        assert_eq!(p.sample[0].value, [3]);
        assert_eq!(view.label(&p.sample[0], "worker"), Some("a"));
        assert_eq!(view.label(&p.sample[0], "lock"), Some("held"));
        let frames = view.frames(&p.sample[0]);
        assert_eq!(frames[0].function, "", "a runtime frame the text hides");
        assert_eq!(frames[1].function, "main.parkedOnChan");
        assert_eq!(frames[1].line, 323);
    }

    #[test]
    fn rejects_what_is_not_legacy_text() {
        assert!(!is_legacy_text(b"\x1f\x8b\x08"));
        assert!(!is_legacy_text(b"goroutine 1 [running]:\n"));
        assert!(is_legacy_text(b"\n--- contention:\ncycles/second=1\n"));
        assert!(is_legacy_text(b"threadcreate profile: total 7\n"));
        assert!(parse("goroutine profile: total 1\n1 @ nothex\n").is_err());
        assert!(parse("--- mutex:\nnot a sample\n").is_err());
    }
}
