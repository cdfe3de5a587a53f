//! gzip'd profile.proto on the wire, and a checked view for reading decoded profiles.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use prost::Message;

use crate::proto::{Function, Location, Profile, Sample};

/// Encodes `profile` as gzip'd profile.proto (gzip level 1, like Go's `BestSpeed`).
pub fn encode(profile: &Profile) -> Vec<u8> {
    let mut out = Vec::new();
    write_encoded(profile, &mut out).expect("writing to a Vec cannot fail");
    out
}

/// Writes `profile` as gzip'd profile.proto to `w`.
pub fn write_encoded(profile: &Profile, w: impl Write) -> io::Result<()> {
    let raw = profile.encode_to_vec();
    let mut gz = GzEncoder::new(w, Compression::fast());
    gz.write_all(&raw)?;
    gz.finish()?.flush()
}

/// The largest decompressed profile [`decode`] accepts (a gzip bomb stops here).
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// Decodes a profile from gzip'd or plain profile.proto bytes and checks that every reference in
/// it (string indexes, location and function ids) resolves, so readers never index out of range.
pub fn decode(bytes: &[u8]) -> Result<Profile, DecodeError> {
    let profile = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        MultiGzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut raw)
            .map_err(|e| DecodeError::new(DecodeErrorKind::Gzip, e.to_string()))?;
        if raw.len() as u64 > MAX_DECOMPRESSED {
            return Err(DecodeError::new(
                DecodeErrorKind::Gzip,
                format!("decompresses to more than {} GiB", MAX_DECOMPRESSED >> 30),
            ));
        }
        Profile::decode(raw.as_slice())
    } else {
        Profile::decode(bytes)
    }
    .map_err(|e| DecodeError::new(DecodeErrorKind::Proto, e.to_string()))?;
    ProfileView::new(&profile)?;
    Ok(profile)
}

/// Why bytes could not be read as a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    detail: String,
}

/// The class of a [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The data starts like gzip but does not decompress.
    Gzip,
    /// The (decompressed) data is not a profile.proto message.
    Proto,
    /// The message decodes but refers to strings, locations or functions that do not exist.
    Invalid,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, detail: impl Into<String>) -> Self {
        DecodeError {
            kind,
            detail: detail.into(),
        }
    }

    /// The class of error.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DecodeErrorKind::Gzip => "not a valid gzip stream",
            DecodeErrorKind::Proto => "not a valid profile.proto message",
            DecodeErrorKind::Invalid => "inconsistent profile",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

impl std::error::Error for DecodeError {}

/// A location's frames, leaf first: one per line (inlined calls first), or one without a name
/// when the location has no lines.
fn location_frames<'a>(
    l: &'a Location,
    functions: &HashMap<u64, &'a Function>,
    string: impl Fn(i64) -> &'a str,
) -> Result<Box<[FrameRef<'a>]>, DecodeError> {
    if l.line.is_empty() {
        return Ok(Box::new([FrameRef {
            function: "",
            file: "",
            line: 0,
            address: l.address,
            inlined: false,
        }]));
    }
    let last = l.line.len() - 1;
    l.line
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let f = functions.get(&line.function_id).ok_or_else(|| {
                DecodeError::new(
                    DecodeErrorKind::Invalid,
                    format!(
                        "location {} refers to missing function {}",
                        l.id, line.function_id
                    ),
                )
            })?;
            Ok(FrameRef {
                function: string(f.name),
                file: string(f.filename),
                line: line.line,
                address: l.address,
                inlined: i < last,
            })
        })
        .collect()
}

/// One logical frame of a sample's stack, with inlined frames expanded (leaf first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The function name (`""` when the location is not symbolized).
    pub function: &'a str,
    /// The source file, or `""`.
    pub file: &'a str,
    /// The line, or 0.
    pub line: i64,
    /// The location's address (a call address, return address minus one).
    pub address: u64,
    /// True for every frame but the last of a location with several lines (inlined calls).
    pub inlined: bool,
}

/// A validated, indexed view of a [`Profile`] for reading: strings, frames and labels by name.
///
/// Each location's frames are resolved once, when the view is made, so that reading the stacks
/// of many samples costs a lookup per location.
#[derive(Debug)]
pub struct ProfileView<'a> {
    profile: &'a Profile,
    /// Location id → index into `frames`, unless the ids are exactly 1..=n in order (then the
    /// index is `id - 1`).
    positions: Option<HashMap<u64, usize>>,
    /// Each location's frames, leaf first, in `profile.location` order.
    frames: Vec<Box<[FrameRef<'a>]>>,
}

impl<'a> ProfileView<'a> {
    /// Indexes `profile`, checking that every reference in it resolves.
    pub fn new(profile: &'a Profile) -> Result<Self, DecodeError> {
        let invalid = |what: String| DecodeError::new(DecodeErrorKind::Invalid, what);
        let nstr = profile.string_table.len() as i64;
        if profile.string_table.first().is_some_and(|s| !s.is_empty()) {
            return Err(invalid("string_table[0] is not empty".into()));
        }
        let check_str = |i: i64, what: &str| {
            if (0..nstr.max(1)).contains(&i) {
                Ok(())
            } else {
                Err(invalid(format!("{what} refers to string {i} of {nstr}")))
            }
        };
        for vt in profile.sample_type.iter().chain(&profile.period_type) {
            check_str(vt.r#type, "value type")?;
            check_str(vt.unit, "value unit")?;
        }
        let mut functions: HashMap<u64, &Function> = HashMap::new();
        for f in &profile.function {
            check_str(f.name, "function name")?;
            check_str(f.system_name, "function system name")?;
            check_str(f.filename, "function file")?;
            functions.insert(f.id, f);
        }
        for m in &profile.mapping {
            check_str(m.filename, "mapping file")?;
            check_str(m.build_id, "mapping build id")?;
        }
        let string = |i: i64| {
            profile
                .string_table
                .get(i as usize)
                .map_or("", String::as_str)
        };
        let dense = profile
            .location
            .iter()
            .enumerate()
            .all(|(i, l)| l.id == i as u64 + 1);
        let mut positions = HashMap::new();
        let mut frames = Vec::with_capacity(profile.location.len());
        for (i, l) in profile.location.iter().enumerate() {
            frames.push(location_frames(l, &functions, string)?);
            if !dense {
                positions.insert(l.id, i);
            }
        }
        let view = ProfileView {
            profile,
            positions: (!dense).then_some(positions),
            frames,
        };
        let ntypes = profile.sample_type.len();
        for (i, s) in profile.sample.iter().enumerate() {
            if s.value.len() != ntypes {
                return Err(invalid(format!(
                    "sample {i} has {} values for {ntypes} sample types",
                    s.value.len()
                )));
            }
            if let Some(id) = s
                .location_id
                .iter()
                .find(|&&id| view.position(id).is_none())
            {
                return Err(invalid(format!(
                    "sample {i} refers to missing location {id}"
                )));
            }
            for l in &s.label {
                check_str(l.key, "label key")?;
                check_str(l.str, "label value")?;
                check_str(l.num_unit, "label unit")?;
            }
        }
        for &c in &profile.comment {
            check_str(c, "comment")?;
        }
        Ok(view)
    }

    /// The index in `profile.location` of the location with `id`.
    pub(crate) fn position(&self, id: u64) -> Option<usize> {
        match &self.positions {
            None => (id >= 1 && id <= self.frames.len() as u64).then(|| id as usize - 1),
            Some(p) => p.get(&id).copied(),
        }
    }

    /// The frames of the location with `id`, leaf first (empty for an unknown id, which
    /// validation rules out for samples).
    pub fn location_frames(&self, id: u64) -> &[FrameRef<'a>] {
        self.position(id).map_or(&[], |i| &self.frames[i])
    }

    /// The frames of `sample`, leaf first, with inlined calls expanded, without allocating.
    pub fn stack<'s>(&'s self, sample: &'s Sample) -> impl Iterator<Item = &'s FrameRef<'a>> + 's {
        sample
            .location_id
            .iter()
            .flat_map(|&id| self.location_frames(id).iter())
    }

    /// The profile this view reads.
    pub fn profile(&self) -> &'a Profile {
        self.profile
    }

    /// The string at index `i` (`""` when out of range, which validation rules out).
    pub fn string(&self, i: i64) -> &'a str {
        self.profile
            .string_table
            .get(i as usize)
            .map_or("", String::as_str)
    }

    /// The `(type, unit)` names of the sample values, in order.
    pub fn sample_types(&self) -> Vec<(&'a str, &'a str)> {
        self.profile
            .sample_type
            .iter()
            .map(|vt| (self.string(vt.r#type), self.string(vt.unit)))
            .collect()
    }

    /// The index of the sample type named `name` (e.g. `delay`), if any.
    pub fn sample_index(&self, name: &str) -> Option<usize> {
        self.sample_types().iter().position(|&(ty, _)| ty == name)
    }

    /// The index of the value a viewer shows by default: `default_sample_type` if set, else the
    /// last sample type (pprof's rule).
    pub fn default_sample_index(&self) -> usize {
        let n = self.profile.sample_type.len().saturating_sub(1);
        if self.profile.default_sample_type != 0 {
            let name = self.string(self.profile.default_sample_type);
            self.sample_index(name).unwrap_or(n)
        } else {
            n
        }
    }

    /// The frames of `sample`, leaf first, with inlined calls expanded.
    pub fn frames(&self, sample: &Sample) -> Vec<FrameRef<'a>> {
        self.stack(sample).copied().collect()
    }

    /// The value of the string label `key` on `sample`, if present.
    pub fn label(&self, sample: &'a Sample, key: &str) -> Option<&'a str> {
        sample
            .label
            .iter()
            .find(|l| self.string(l.key) == key && l.str != 0)
            .map(|l| self.string(l.str))
    }

    /// All string labels of `sample` as `(key, value)` pairs, in order.
    pub fn labels(&self, sample: &'a Sample) -> Vec<(&'a str, &'a str)> {
        sample
            .label
            .iter()
            .filter(|l| l.str != 0)
            .map(|l| (self.string(l.key), self.string(l.str)))
            .collect()
    }
}
