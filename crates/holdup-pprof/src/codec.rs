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

/// Decodes a profile from gzip'd or plain profile.proto bytes and checks that every reference in
/// it (string indexes, location and function ids) resolves, so readers never index out of range.
pub fn decode(bytes: &[u8]) -> Result<Profile, DecodeError> {
    let profile = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        MultiGzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .map_err(|e| DecodeError::new(DecodeErrorKind::Gzip, e.to_string()))?;
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
    fn new(kind: DecodeErrorKind, detail: impl Into<String>) -> Self {
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
#[derive(Debug)]
pub struct ProfileView<'a> {
    profile: &'a Profile,
    locations: HashMap<u64, &'a Location>,
    functions: HashMap<u64, &'a Function>,
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
        let mut functions = HashMap::new();
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
        let mut locations = HashMap::new();
        for l in &profile.location {
            for line in &l.line {
                if !functions.contains_key(&line.function_id) {
                    return Err(invalid(format!(
                        "location {} refers to missing function {}",
                        l.id, line.function_id
                    )));
                }
            }
            locations.insert(l.id, l);
        }
        let ntypes = profile.sample_type.len();
        for (i, s) in profile.sample.iter().enumerate() {
            if s.value.len() != ntypes {
                return Err(invalid(format!(
                    "sample {i} has {} values for {ntypes} sample types",
                    s.value.len()
                )));
            }
            if let Some(id) = s.location_id.iter().find(|id| !locations.contains_key(id)) {
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
        Ok(ProfileView {
            profile,
            locations,
            functions,
        })
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
    pub fn frames(&self, sample: &'a Sample) -> Vec<FrameRef<'a>> {
        let mut out = Vec::new();
        for id in &sample.location_id {
            let loc = self.locations[id];
            if loc.line.is_empty() {
                out.push(FrameRef {
                    function: "",
                    file: "",
                    line: 0,
                    address: loc.address,
                    inlined: false,
                });
            }
            let last = loc.line.len().saturating_sub(1);
            for (i, line) in loc.line.iter().enumerate() {
                let f = self.functions[&line.function_id];
                out.push(FrameRef {
                    function: self.string(f.name),
                    file: self.string(f.filename),
                    line: line.line,
                    address: loc.address,
                    inlined: i < last,
                });
            }
        }
        out
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
