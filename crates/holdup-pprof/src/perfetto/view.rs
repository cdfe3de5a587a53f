//! Reading a trace back, with the checks Perfetto's importer relies on.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use prost::Message;

use super::builder::{Arg, Phase, StackFrame};
use super::proto::{self, debug_annotation, trace_packet, track_event};
use super::{SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE};

/// Why a file is not a trace holdup can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceError {
    /// Not a Perfetto protobuf trace (or a truncated one).
    Decode(String),
    /// A Perfetto trace that breaks a rule its importer relies on (an id used before it is
    /// defined, a slice ended that was never begun, ...).
    Invalid(String),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Decode(e) => write!(f, "not a Perfetto trace: {e}"),
            TraceError::Invalid(e) => write!(f, "invalid Perfetto trace: {e}"),
        }
    }
}

impl std::error::Error for TraceError {}

/// A track as its descriptor defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub uuid: u64,
    pub parent: Option<u64>,
    /// The track's name: a named track's, a thread's or a process's.
    pub name: String,
    pub description: String,
    /// A thread track's (pid, tid).
    pub thread: Option<(i32, i64)>,
    /// A process track's pid.
    pub process: Option<i32>,
    /// A counter track's unit.
    pub counter_unit: Option<String>,
}

/// An event with everything it refers to resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    pub ts: u64,
    pub track: u64,
    pub phase: Phase,
    pub name: String,
    pub category: String,
    pub args: Vec<Arg>,
    pub flows_out: Vec<u64>,
    pub flows_in: Vec<u64>,
    /// Outermost frame first.
    pub stack: Option<Arc<[StackFrame]>>,
}

impl TraceEvent {
    /// The value of the text argument `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args.iter().find_map(|a| match a {
            Arg::Str(n, v) if &**n == name => Some(&**v),
            _ => None,
        })
    }

    /// The value of the number argument `name`.
    pub fn int_arg(&self, name: &str) -> Option<i64> {
        self.args.iter().find_map(|a| match a {
            Arg::Int(n, v) if &**n == name => Some(*v),
            _ => None,
        })
    }
}

/// A slice: a begin event and its duration (to its end event); instants have 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub name: String,
    pub dur: u64,
    /// Nesting depth on its track (0: outermost).
    pub depth: usize,
    /// The begin (or instant) event.
    pub begin: TraceEvent,
    /// Flows that end at the slice's end event.
    pub end_flows_in: Vec<u64>,
}

impl std::ops::Deref for Slice {
    type Target = TraceEvent;
    fn deref(&self) -> &TraceEvent {
        &self.begin
    }
}

/// A decoded, checked trace.
#[derive(Debug, Clone, Default)]
pub struct TraceView {
    pub tracks: Vec<Track>,
    /// Every track event, in file order.
    pub events: Vec<TraceEvent>,
    /// The clock snapshot's (clock id, timestamp) pairs, if there is one.
    pub clocks: Vec<(u32, u64)>,
}

/// One sequence's interned data.
#[derive(Debug, Default)]
struct Sequence {
    cleared: bool,
    names: HashMap<u64, String>,
    categories: HashMap<u64, String>,
    functions: HashMap<u64, String>,
    files: HashMap<u64, String>,
    frames: HashMap<u64, StackFrame>,
    callstacks: HashMap<u64, Arc<[StackFrame]>>,
    arg_names: HashMap<u64, Arc<str>>,
    arg_values: HashMap<u64, Arc<str>>,
}

fn invalid(msg: String) -> TraceError {
    TraceError::Invalid(msg)
}

impl Sequence {
    fn define(&mut self, d: &proto::InternedData, packet: usize) -> Result<(), TraceError> {
        let text =
            |b: &Option<Vec<u8>>| String::from_utf8_lossy(b.as_deref().unwrap_or(&[])).into_owned();
        for n in &d.event_names {
            self.names.insert(n.iid(), n.name().to_owned());
        }
        for n in &d.debug_annotation_names {
            self.arg_names.insert(n.iid(), n.name().into());
        }
        for v in &d.debug_annotation_string_values {
            self.arg_values.insert(v.iid(), text(&v.str).into());
        }
        for c in &d.event_categories {
            self.categories.insert(c.iid(), c.name().to_owned());
        }
        for s in &d.function_names {
            self.functions.insert(s.iid(), text(&s.str));
        }
        for s in &d.source_paths {
            self.files.insert(s.iid(), text(&s.str));
        }
        for f in &d.frames {
            let function = self.functions.get(&f.function_name_id()).ok_or_else(|| {
                invalid(format!(
                    "packet {packet}: frame {} names function {}, not defined before",
                    f.iid(),
                    f.function_name_id()
                ))
            })?;
            let file = match f.source_path_iid {
                None => String::new(),
                Some(id) => self.files.get(&id).cloned().ok_or_else(|| {
                    invalid(format!(
                        "packet {packet}: frame {} names source path {id}, not defined before",
                        f.iid()
                    ))
                })?,
            };
            self.frames.insert(
                f.iid(),
                StackFrame {
                    function: function.clone(),
                    file,
                    line: f.line_number(),
                },
            );
        }
        for c in &d.callstacks {
            let frames = c
                .frame_ids
                .iter()
                .map(|id| {
                    self.frames.get(id).cloned().ok_or_else(|| {
                        invalid(format!(
                            "packet {packet}: callstack {} uses frame {id}, not defined before",
                            c.iid()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.callstacks.insert(c.iid(), frames.into());
        }
        Ok(())
    }
}

impl TraceView {
    /// Decodes a trace and checks it: every packet that uses interned ids comes after its
    /// sequence cleared its incremental state and says it needs it; every id, track and
    /// parent track is defined before it is used; on each track, events are in time order and
    /// slices nest (an end needs an open slice); a flow id is started once before it ends.
    pub fn decode(bytes: &[u8]) -> Result<TraceView, TraceError> {
        let trace = proto::Trace::decode(bytes).map_err(|e| TraceError::Decode(e.to_string()))?;
        if trace.packet.is_empty() {
            return Err(TraceError::Decode("no packets".into()));
        }
        let mut view = TraceView::default();
        let mut sequences: HashMap<u32, Sequence> = HashMap::new();
        let mut tracks: HashMap<u64, usize> = HashMap::new();
        // Per track: the last timestamp and the open slices.
        let mut timeline: HashMap<u64, (u64, usize)> = HashMap::new();
        let mut open_flows: HashSet<u64> = HashSet::new();
        for (i, p) in trace.packet.iter().enumerate() {
            let seq = sequences
                .entry(p.trusted_packet_sequence_id.unwrap_or(0))
                .or_default();
            let flags = p.sequence_flags();
            if flags & SEQ_INCREMENTAL_STATE_CLEARED != 0 {
                *seq = Sequence {
                    cleared: true,
                    ..Sequence::default()
                };
            }
            if let Some(d) = &p.interned_data {
                if !seq.cleared {
                    return Err(invalid(format!(
                        "packet {i}: interned data before its sequence cleared its incremental state"
                    )));
                }
                seq.define(d, i)?;
            }
            match &p.data {
                Some(trace_packet::Data::ClockSnapshot(c)) => {
                    view.clocks = c
                        .clocks
                        .iter()
                        .map(|c| (c.clock_id(), c.timestamp()))
                        .collect();
                }
                Some(trace_packet::Data::TrackDescriptor(d)) => {
                    let uuid = d.uuid();
                    if let Some(parent) = d.parent_uuid
                        && !tracks.contains_key(&parent)
                    {
                        return Err(invalid(format!(
                            "packet {i}: track {uuid}'s parent {parent} is not defined before"
                        )));
                    }
                    if tracks.insert(uuid, view.tracks.len()).is_some() {
                        return Err(invalid(format!("packet {i}: track {uuid} defined twice")));
                    }
                    let thread = d.thread.as_ref();
                    view.tracks.push(Track {
                        uuid,
                        parent: d.parent_uuid,
                        name: d
                            .name
                            .clone()
                            .or_else(|| thread.and_then(|t| t.thread_name.clone()))
                            .or_else(|| d.process.as_ref().and_then(|p| p.process_name.clone()))
                            .unwrap_or_default(),
                        description: d.description().to_owned(),
                        thread: thread.map(|t| (t.pid(), t.tid())),
                        process: d.process.as_ref().map(|p| p.pid()),
                        counter_unit: d.counter.as_ref().map(|c| c.unit_name().to_owned()),
                    });
                }
                Some(trace_packet::Data::TrackEvent(e)) => {
                    let uses_ids = matches!(e.name_field, Some(track_event::NameField::NameIid(_)))
                        || e.callstack_field.is_some()
                        || !e.category_iids.is_empty()
                        || e.debug_annotations.iter().any(|a| {
                            matches!(a.name_field, Some(debug_annotation::NameField::NameIid(_)))
                                || matches!(
                                    a.value,
                                    Some(debug_annotation::Value::StringValueIid(_))
                                )
                        });
                    if uses_ids && (flags & SEQ_NEEDS_INCREMENTAL_STATE == 0 || !seq.cleared) {
                        return Err(invalid(format!(
                            "packet {i}: uses interned ids without SEQ_NEEDS_INCREMENTAL_STATE after a cleared state"
                        )));
                    }
                    let ts = p.timestamp.ok_or_else(|| {
                        invalid(format!("packet {i}: a track event without a timestamp"))
                    })?;
                    let track = e.track_uuid();
                    if !tracks.contains_key(&track) {
                        return Err(invalid(format!(
                            "packet {i}: event on track {track}, not defined before"
                        )));
                    }
                    let name = match &e.name_field {
                        Some(track_event::NameField::NameIid(iid)) => {
                            seq.names.get(iid).cloned().ok_or_else(|| {
                                invalid(format!("packet {i}: event name {iid} not defined before"))
                            })?
                        }
                        Some(track_event::NameField::Name(n)) => n.clone(),
                        None => String::new(),
                    };
                    let category = e
                        .category_iids
                        .iter()
                        .map(|iid| {
                            seq.categories.get(iid).cloned().ok_or_else(|| {
                                invalid(format!("packet {i}: category {iid} not defined before"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?
                        .join(",");
                    let stack = match e.callstack_field {
                        Some(track_event::CallstackField::CallstackIid(iid)) => {
                            Some(seq.callstacks.get(&iid).cloned().ok_or_else(|| {
                                invalid(format!("packet {i}: callstack {iid} not defined before"))
                            })?)
                        }
                        None => None,
                    };
                    let phase = match e.r#type() {
                        track_event::Type::SliceBegin => Phase::Begin,
                        track_event::Type::SliceEnd => Phase::End,
                        track_event::Type::Instant => Phase::Instant,
                        track_event::Type::Counter => Phase::Counter(match e.counter_value_field {
                            Some(track_event::CounterValueField::CounterValue(v)) => v,
                            None => 0,
                        }),
                        track_event::Type::Unspecified => {
                            return Err(invalid(format!("packet {i}: an event of no type")));
                        }
                    };
                    let (last, open) = timeline.entry(track).or_insert((0, 0));
                    if ts < *last {
                        return Err(invalid(format!(
                            "packet {i}: track {track} goes back in time ({ts} after {last})"
                        )));
                    }
                    *last = ts;
                    match phase {
                        Phase::Begin => *open += 1,
                        Phase::End if *open == 0 => {
                            return Err(invalid(format!(
                                "packet {i}: a slice end on track {track} with no slice open"
                            )));
                        }
                        Phase::End => *open -= 1,
                        _ => {}
                    }
                    for id in &e.terminating_flow_ids {
                        if !open_flows.remove(id) {
                            return Err(invalid(format!(
                                "packet {i}: flow {id} ends without having started"
                            )));
                        }
                    }
                    for id in &e.flow_ids {
                        if !open_flows.insert(*id) {
                            return Err(invalid(format!("packet {i}: flow {id} started twice")));
                        }
                    }
                    let args = e
                        .debug_annotations
                        .iter()
                        .map(|a| {
                            let name: Arc<str> = match &a.name_field {
                                Some(debug_annotation::NameField::Name(n)) => n.as_str().into(),
                                Some(debug_annotation::NameField::NameIid(iid)) => {
                                    seq.arg_names.get(iid).cloned().ok_or_else(|| {
                                        invalid(format!(
                                            "packet {i}: argument name {iid} not defined before"
                                        ))
                                    })?
                                }
                                None => "".into(),
                            };
                            Ok(match &a.value {
                                Some(debug_annotation::Value::StringValue(v)) => {
                                    Some(Arg::Str(name, v.as_str().into()))
                                }
                                Some(debug_annotation::Value::StringValueIid(iid)) => {
                                    Some(Arg::Str(
                                        name,
                                        seq.arg_values.get(iid).cloned().ok_or_else(|| {
                                            invalid(format!(
                                                "packet {i}: argument value {iid} not defined before"
                                            ))
                                        })?,
                                    ))
                                }
                                Some(debug_annotation::Value::IntValue(v)) => Some(Arg::Int(name, *v)),
                                Some(debug_annotation::Value::UintValue(v)) => {
                                    Some(Arg::Int(name, *v as i64))
                                }
                                Some(debug_annotation::Value::BoolValue(v)) => {
                                    Some(Arg::Int(name, i64::from(*v)))
                                }
                                None => None,
                            })
                        })
                        .collect::<Result<Vec<Option<Arg>>, TraceError>>()?
                        .into_iter()
                        .flatten()
                        .collect();
                    view.events.push(TraceEvent {
                        ts,
                        track,
                        phase,
                        name,
                        category,
                        args,
                        flows_out: e.flow_ids.clone(),
                        flows_in: e.terminating_flow_ids.clone(),
                        stack,
                    });
                }
                None => {}
            }
        }
        if view.tracks.is_empty() {
            // Every trace holdup writes has its process's track; protobuf would decode many
            // other messages as packets with nothing in them.
            return Err(TraceError::Decode("no tracks".into()));
        }
        Ok(view)
    }

    /// The track `uuid`.
    pub fn track(&self, uuid: u64) -> Option<&Track> {
        self.tracks.iter().find(|t| t.uuid == uuid)
    }

    /// Every slice and instant, in the order they begin; a slice still open at the end of the
    /// trace lasts to the last event's time.
    pub fn slices(&self) -> Vec<Slice> {
        let end_of_trace = self.events.iter().map(|e| e.ts).max().unwrap_or(0);
        let mut slices = Vec::new();
        let mut open: HashMap<u64, Vec<usize>> = HashMap::new();
        for e in &self.events {
            match e.phase {
                Phase::Begin | Phase::Instant => {
                    let stack = open.entry(e.track).or_default();
                    slices.push(Slice {
                        name: e.name.clone(),
                        dur: 0,
                        depth: stack.len(),
                        begin: e.clone(),
                        end_flows_in: Vec::new(),
                    });
                    if e.phase == Phase::Begin {
                        stack.push(slices.len() - 1);
                    }
                }
                Phase::End => {
                    if let Some(i) = open.get_mut(&e.track).and_then(Vec::pop) {
                        slices[i].dur = e.ts - slices[i].begin.ts;
                        slices[i].end_flows_in = e.flows_in.clone();
                    }
                }
                Phase::Counter(_) => {}
            }
        }
        for i in open.into_values().flatten() {
            slices[i].dur = end_of_trace - slices[i].begin.ts;
        }
        slices
    }
}
