//! Building a [`Profile`] deterministically: strings, functions and locations are interned in
//! first-use order, so the same input always encodes to the same bytes.

use std::collections::HashMap;

use crate::proto::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};

/// One source line of a location: a (possibly inlined) function and a line in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LineInfo {
    /// The function's name, e.g. `holdup::sync::Mutex<T>::lock` or `main.worker`.
    pub function: String,
    /// The linker's (mangled) name, or empty if unknown. Readers treat a function whose two names
    /// are equal as not yet demangled, and `go tool pprof` then "simplifies" it (dropping
    /// everything in angle brackets, so `<T as Drop>::drop` becomes `::drop`): give either the
    /// mangled symbol or nothing, unless the reader should demangle `function` itself.
    pub system_name: String,
    /// The source file, or empty when unknown.
    pub file: String,
    /// The line number, or 0 when unknown.
    pub line: i64,
}

/// A mapped object (executable or shared library) that locations point into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingInfo {
    /// First address of the mapping.
    pub memory_start: u64,
    /// One past the last address of the mapping.
    pub memory_limit: u64,
    /// Offset in the file that `memory_start` maps.
    pub file_offset: u64,
    /// The object's path, or a pseudo name such as `[vdso]`.
    pub filename: String,
    /// The GNU build id in lowercase hex, or empty.
    pub build_id: String,
    /// Set when every location in this mapping carries function names.
    pub has_functions: bool,
    /// Set when locations carry file names.
    pub has_filenames: bool,
    /// Set when locations carry line numbers.
    pub has_line_numbers: bool,
    /// Set when inlined frames were expanded into multiple lines.
    pub has_inline_frames: bool,
}

/// A location's identity: mapping, address, and (function id, line) per line.
type LocationKey = (u64, u64, Vec<(u64, i64)>);

/// Builds a [`Profile`], interning strings, functions and locations in first-use order.
///
/// ```
/// use holdup_pprof::{LineInfo, ProfileBuilder};
///
/// let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
/// b.period_type("contentions", "count", 1);
/// let loc = b.location(0, 0x1234, &[LineInfo {
///     function: "app::Cache::get".into(),
///     system_name: "_ZN3app5Cache3get17h0123456789abcdefE".into(),
///     file: "src/cache.rs".into(),
///     line: 42,
/// }]);
/// b.sample(&[loc], &[3, 1_500_000], &[("lock", "src/cache.rs:10")]);
/// let profile = b.build();
/// assert_eq!(profile.sample.len(), 1);
/// assert_eq!(profile.string_table[0], "");
/// ```
#[derive(Debug)]
pub struct ProfileBuilder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(i64, i64, i64), u64>,
    locations: HashMap<LocationKey, u64>,
}

impl ProfileBuilder {
    /// Starts a profile whose samples carry one value per `(type, unit)` pair.
    pub fn new(sample_types: &[(&str, &str)]) -> Self {
        let mut b = ProfileBuilder {
            profile: Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
        };
        b.intern("");
        for &(ty, unit) in sample_types {
            let vt = b.value_type(ty, unit);
            b.profile.sample_type.push(vt);
        }
        b
    }

    /// Sets the period type and period (Go's contention profiles use `contentions/count`, 1).
    pub fn period_type(&mut self, ty: &str, unit: &str, period: i64) -> &mut Self {
        self.profile.period_type = Some(self.value_type(ty, unit));
        self.profile.period = period;
        self
    }

    /// Sets when the profile was collected, in nanoseconds since the Unix epoch.
    pub fn time_nanos(&mut self, t: i64) -> &mut Self {
        self.profile.time_nanos = t;
        self
    }

    /// Sets the time span a delta profile covers.
    pub fn duration_nanos(&mut self, d: i64) -> &mut Self {
        self.profile.duration_nanos = d;
        self
    }

    /// Adds a free-form comment.
    pub fn comment(&mut self, text: &str) -> &mut Self {
        let s = self.intern(text);
        self.profile.comment.push(s);
        self
    }

    /// Adds a mapping and returns its id (ids start at 1, in insertion order).
    pub fn mapping(&mut self, m: &MappingInfo) -> u64 {
        let id = self.profile.mapping.len() as u64 + 1;
        let filename = self.intern(&m.filename);
        let build_id = self.intern(&m.build_id);
        self.profile.mapping.push(Mapping {
            id,
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename,
            build_id,
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        });
        id
    }

    /// Returns the id of the location at `address` in `mapping_id` (0 for none) with these
    /// lines (leaf first), adding it on first use.
    pub fn location(&mut self, mapping_id: u64, address: u64, lines: &[LineInfo]) -> u64 {
        let lines: Vec<(u64, i64)> = lines
            .iter()
            .map(|l| (self.function(&l.function, &l.system_name, &l.file), l.line))
            .collect();
        let key = (mapping_id, address, lines);
        if let Some(&id) = self.locations.get(&key) {
            return id;
        }
        let id = self.profile.location.len() as u64 + 1;
        self.profile.location.push(Location {
            id,
            mapping_id,
            address,
            line: key
                .2
                .iter()
                .map(|&(function_id, line)| Line {
                    function_id,
                    line,
                    column: 0,
                })
                .collect(),
            is_folded: false,
        });
        self.locations.insert(key, id);
        id
    }

    /// Adds a sample: location ids (leaf first), one value per sample type, and string labels.
    pub fn sample(&mut self, locations: &[u64], values: &[i64], labels: &[(&str, &str)]) {
        debug_assert_eq!(values.len(), self.profile.sample_type.len());
        let label = labels
            .iter()
            .map(|&(k, v)| Label {
                key: self.intern(k),
                str: self.intern(v),
                num: 0,
                num_unit: 0,
            })
            .collect();
        self.profile.sample.push(Sample {
            location_id: locations.to_vec(),
            value: values.to_vec(),
            label,
        });
    }

    /// Finishes the profile.
    pub fn build(self) -> Profile {
        self.profile
    }

    fn function(&mut self, name: &str, system_name: &str, file: &str) -> u64 {
        let name = self.intern(name);
        let system_name = self.intern(system_name);
        let file = self.intern(file);
        if let Some(&id) = self.functions.get(&(name, system_name, file)) {
            return id;
        }
        let id = self.profile.function.len() as u64 + 1;
        self.profile.function.push(Function {
            id,
            name,
            system_name,
            filename: file,
            start_line: 0,
        });
        self.functions.insert((name, system_name, file), id);
        id
    }

    fn value_type(&mut self, ty: &str, unit: &str) -> ValueType {
        ValueType {
            r#type: self.intern(ty),
            unit: self.intern(unit),
        }
    }

    fn intern(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_owned());
        self.strings.insert(s.to_owned(), i);
        i
    }
}
