//! A snapshot's encoders: gzip'd profile.proto and Go's legacy text.

use super::*;

impl Profile {
    /// Writes the profile as gzip'd profile.proto, the format `go tool pprof`, Pyroscope and
    /// Parca read: sample types `contentions/count` and `delay/nanoseconds`, period type
    /// `contentions/count` with period 1 (values are already scaled), locations with inlined
    /// frames as several lines, mappings from `/proc/self/maps` with build ids, and holdup's
    /// labels on every sample.
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        holdup_pprof::write_encoded(&self.to_proto(), w)
    }

    /// Writes the profile in Go's legacy text format (`debug=1`): `--- mutex:` (with
    /// `sampling period=`, the current fraction) or `--- contention:`, `cycles/second=1000000000`
    /// (holdup's cycles are nanoseconds), then one record per sample with its frames.
    ///
    /// As with Go, the values are already scaled; `go tool pprof` multiplies legacy mutex text by
    /// the sampling period once more when it reads it (a known Go quirk), so prefer
    /// [`write_pprof`](Profile::write_pprof) for tools. The text carries no labels.
    pub fn write_text(&self, w: impl Write) -> io::Result<()> {
        let records: Vec<TextRecord> = self
            .resolve()
            .into_iter()
            .map(|r| {
                let mut pcs = Vec::new();
                let mut frames = Vec::new();
                for loc in &r.locs {
                    let last = loc.line_count().saturating_sub(1);
                    for (i, line) in loc.lines().enumerate() {
                        // Go's layout: an inlined frame shows the return address itself and
                        // lists it plus one; the physical frame shows the call address.
                        let inlined = i < last;
                        let pc = if loc.ret == 0 {
                            0
                        } else {
                            text_pc(loc.ret, inlined) as usize
                        };
                        if loc.ret != 0 {
                            pcs.push(pc as u64 + 1);
                        }
                        frames.push(TextFrame {
                            pc: pc as u64,
                            function: line.function.to_string(),
                            offset: loc.offset + u64::from(inlined),
                            file: line.file.to_string(),
                            line: i64::from(line.line),
                        });
                    }
                }
                TextRecord {
                    cycles: r.delay,
                    count: r.count,
                    pcs,
                    frames,
                }
            })
            .collect();
        let kind = match self.which {
            Which::Mutex => ContentionKind::Mutex {
                sampling_period: self.period,
            },
            Which::Block => ContentionKind::Block,
        };
        legacy::write_contention(w, kind, 1_000_000_000, &records)
    }

    /// The profile as a profile.proto message.
    pub(crate) fn to_proto(&self) -> holdup_pprof::proto::Profile {
        encode(
            &self.resolve(),
            &Shape {
                types: &[("contentions", "count"), ("delay", "nanoseconds")],
                period_type: ("contentions", "count"),
                period: 1,
                time: self.time,
                duration: self.duration,
            },
        )
    }
}

/// What a profile.proto message says about its samples besides them.
pub(crate) struct Shape {
    /// The sample types (each sample's values, in order).
    pub(crate) types: &'static [(&'static str, &'static str)],
    pub(crate) period_type: (&'static str, &'static str),
    pub(crate) period: i64,
    pub(crate) time: SystemTime,
    pub(crate) duration: Option<Duration>,
}

/// Resolved samples as a profile.proto message: locations with inlined frames as several lines,
/// mappings from `/proc/self/maps` with build ids, each sample's count, value and labels.
pub(crate) fn encode(resolved: &[Resolved], shape: &Shape) -> holdup_pprof::proto::Profile {
    let mappings = mappings();
    let mapping_of = |addr: u64| {
        mappings
            .iter()
            .position(|m| m.start <= addr && addr < m.limit)
    };

    // A mapping is symbolized when every location in it has function names.
    let mut has_locations = vec![false; mappings.len()];
    let mut unresolved = vec![false; mappings.len()];
    for loc in resolved.iter().flat_map(|r| &r.locs).filter(|l| l.ret != 0) {
        if let Some(i) = mapping_of(loc.ret as u64 - 1) {
            has_locations[i] = true;
            unresolved[i] |= loc.line_count() == 0;
        }
    }

    let mut b = ProfileBuilder::new(shape.types);
    b.period_type(shape.period_type.0, shape.period_type.1, shape.period);
    b.time_nanos(
        shape
            .time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64),
    );
    if let Some(d) = shape.duration {
        b.duration_nanos(d.as_nanos() as i64);
    }
    let ids: Vec<u64> = mappings
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let symbolized = has_locations[i] && !unresolved[i];
            b.mapping(&MappingInfo {
                memory_start: m.start,
                memory_limit: m.limit,
                file_offset: m.offset,
                filename: m.path.clone(),
                build_id: m.build_id.clone(),
                has_functions: symbolized,
                has_filenames: symbolized,
                has_line_numbers: symbolized,
                has_inline_frames: symbolized,
            })
        })
        .collect();
    // Stacks share most of their locations; build each one once. A location is its return
    // address and the lines left after trimming.
    let mut seen: HashMap<(usize, Range<usize>, Range<usize>), u64> = HashMap::new();
    for r in resolved {
        let locs: Vec<u64> = r
            .locs
            .iter()
            .map(|loc| {
                let key = (loc.ret, loc.kept.clone(), loc.dropped.clone());
                if loc.ret != 0
                    && let Some(&id) = seen.get(&key)
                {
                    return id;
                }
                let address = (loc.ret as u64).saturating_sub(1);
                let mapping = if loc.ret == 0 {
                    0
                } else {
                    mapping_of(address).map_or(0, |i| ids[i])
                };
                let lines: Vec<LineInfo> = loc
                    .lines()
                    .map(|l| LineInfo {
                        function: l.function.to_string(),
                        system_name: l.system_name.to_string(),
                        file: l.file.to_string(),
                        line: i64::from(l.line),
                    })
                    .collect();
                let id = b.location(mapping, address, &lines);
                seen.insert(key, id);
                id
            })
            .collect();
        let labels: Vec<(&str, &str)> = r.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.sample(&locs, &[r.count, r.delay], &labels);
    }
    b.build()
}

#[cfg(target_os = "linux")]
pub(crate) fn mappings() -> Vec<holdup_core::modules::Mapping> {
    holdup_core::modules::executable_mappings()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn mappings() -> Vec<Mapping> {
    Vec::new()
}

#[cfg(not(target_os = "linux"))]
pub(crate) struct Mapping {
    start: u64,
    limit: u64,
    offset: u64,
    path: String,
    build_id: String,
}
