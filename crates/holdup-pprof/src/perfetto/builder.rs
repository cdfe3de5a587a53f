//! Writing a trace: tracks, interned names and stacks, events in time order.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use super::proto::{
    self, ClockSnapshot, DebugAnnotation, InternedData, TracePacket, TrackDescriptor, TrackEvent,
    clock_snapshot, debug_annotation, trace_packet, track_event,
};
use super::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, SEQ_INCREMENTAL_STATE_CLEARED,
    SEQ_NEEDS_INCREMENTAL_STATE,
};

/// The one packet sequence a builder writes.
const SEQUENCE: u32 = 1;

/// A track made by a [`TraceBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackId(pub u64);

/// A stack interned by [`TraceBuilder::stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackId(u64);

/// One frame of a stack: a function and, if known, where in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StackFrame {
    /// The function's name.
    pub function: String,
    /// Its source file ("" if unknown).
    pub file: String,
    /// The line (0 if unknown).
    pub line: u32,
}

/// What an event is on its track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A slice begins (slices on one track nest).
    Begin,
    /// The innermost open slice of the track ends.
    End,
    /// A slice of no duration.
    Instant,
    /// A counter track's value from now on.
    Counter(i64),
}

/// A named argument of an event (Perfetto's debug annotations: the slice's "Arguments").
/// Names and text values are shared (`Arc<str>`): a trace repeats them for many events, and
/// the file interns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A text value.
    Str(Arc<str>, Arc<str>),
    /// A number.
    Int(Arc<str>, i64),
}

impl Arg {
    /// A text argument.
    pub fn str(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Arg {
        Arg::Str(name.into(), value.into())
    }

    /// A number argument.
    pub fn int(name: impl Into<Arc<str>>, value: i64) -> Arg {
        Arg::Int(name.into(), value)
    }
}

/// An event on a track, at a time in nanoseconds of `CLOCK_MONOTONIC`.
#[derive(Debug, Clone)]
pub struct Event {
    track: TrackId,
    ts: u64,
    phase: Phase,
    name: Option<Arc<str>>,
    category: Option<&'static str>,
    args: Vec<Arg>,
    flows_out: Vec<u64>,
    flows_in: Vec<u64>,
    stack: Option<StackId>,
}

impl Event {
    /// An event of `phase` on `track` at `ts`.
    pub fn new(track: TrackId, ts: u64, phase: Phase) -> Event {
        Event {
            track,
            ts,
            phase,
            name: None,
            category: None,
            args: Vec::new(),
            flows_out: Vec::new(),
            flows_in: Vec::new(),
            stack: None,
        }
    }

    /// Its name (a slice's or an instant's).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Event {
        self.name = Some(name.into());
        self
    }

    /// Its category (what kind of event: `wait`, `lock`, `region`, ...).
    pub fn category(mut self, category: &'static str) -> Event {
        self.category = Some(category);
        self
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: Arg) -> Event {
        self.args.push(arg);
        self
    }

    /// Starts flow `id` here: an arrow from this event to the one that ends it.
    pub fn flow_out(mut self, id: u64) -> Event {
        self.flows_out.push(id);
        self
    }

    /// Ends flow `id` here.
    pub fn flow_in(mut self, id: u64) -> Event {
        self.flows_in.push(id);
        self
    }

    /// The stack where the event happened.
    pub fn stack(mut self, stack: StackId) -> Event {
        self.stack = Some(stack);
        self
    }
}

/// Builds a Perfetto trace (see the [module docs](super)).
#[derive(Debug, Default)]
pub struct TraceBuilder {
    tracks: Vec<TrackDescriptor>,
    clock: Option<ClockSnapshot>,
    /// What events and stacks refer to, defined in one packet ahead of the events.
    interner: Interner,
    interned: InternedData,
    /// The events' packets, encoded as they are added (a trace of millions of events never
    /// holds them as messages), ...
    packets: Vec<u8>,
    /// ... and where each is, by time: (timestamp, ends a flow, start, end).
    index: Vec<(u64, bool, usize, usize)>,
}

impl TraceBuilder {
    /// An empty trace.
    pub fn new() -> TraceBuilder {
        TraceBuilder::default()
    }

    fn track(&mut self, mut descriptor: TrackDescriptor) -> TrackId {
        let uuid = self.tracks.len() as u64 + 1;
        descriptor.uuid = Some(uuid);
        self.tracks.push(descriptor);
        TrackId(uuid)
    }

    /// The process's track.
    pub fn process(&mut self, pid: i32, name: &str) -> TrackId {
        self.track(TrackDescriptor {
            process: Some(proto::ProcessDescriptor {
                pid: Some(pid),
                process_name: Some(name.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    /// A thread's track, in `process`.
    pub fn thread(&mut self, process: TrackId, pid: i32, tid: i64, name: &str) -> TrackId {
        self.track(TrackDescriptor {
            parent_uuid: Some(process.0),
            thread: Some(proto::ThreadDescriptor {
                pid: Some(pid),
                tid: Some(tid),
                thread_name: Some(name.to_owned()),
            }),
            ..Default::default()
        })
    }

    /// A named track (a task's, a lock's) under `parent`, ordered among its siblings by
    /// `rank`.
    pub fn named(&mut self, parent: TrackId, name: &str, description: &str, rank: i32) -> TrackId {
        self.track(TrackDescriptor {
            parent_uuid: Some(parent.0),
            name: Some(name.to_owned()),
            description: (!description.is_empty()).then(|| description.to_owned()),
            sibling_order_rank: Some(rank),
            ..Default::default()
        })
    }

    /// A counter track under `parent`.
    pub fn counter(&mut self, parent: TrackId, name: &str, unit: &str) -> TrackId {
        self.track(TrackDescriptor {
            parent_uuid: Some(parent.0),
            name: Some(name.to_owned()),
            counter: Some(proto::CounterDescriptor {
                unit_name: Some(unit.to_owned()),
            }),
            ..Default::default()
        })
    }

    /// The same instant on `CLOCK_MONOTONIC` (the events' clock), `CLOCK_REALTIME` and
    /// `CLOCK_BOOTTIME`, in nanoseconds: lets readers show wall-clock times.
    pub fn clock_snapshot(&mut self, monotonic: u64, realtime: u64, boottime: u64) {
        let clock = |id, ts| clock_snapshot::Clock {
            clock_id: Some(id),
            timestamp: Some(ts),
        };
        self.clock = Some(ClockSnapshot {
            clocks: vec![
                clock(CLOCK_MONOTONIC, monotonic),
                clock(CLOCK_REALTIME, realtime),
                clock(CLOCK_BOOTTIME, boottime),
            ],
            primary_trace_clock: None,
        });
    }

    /// Interns a stack, outermost frame first.
    pub fn stack(&mut self, frames: Vec<StackFrame>) -> StackId {
        StackId(self.interner.callstack(&frames, &mut self.interned))
    }

    /// Adds an event (in any order: [`finish`](Self::finish) sorts them by time, keeping the
    /// order of events at the same time).
    pub fn event(&mut self, e: Event) {
        let interned = &mut self.interned;
        let interner = &mut self.interner;
        let name_iid = e.name.as_deref().map(|n| {
            interner
                .names
                .intern(n, |iid| interned.event_names.push(named(iid, n)))
        });
        let category_iids = e
            .category
            .map(|c| {
                interner
                    .categories
                    .intern(c, |iid| interned.event_categories.push(category(iid, c)))
            })
            .into_iter()
            .collect();
        let needs =
            name_iid.is_some() || e.stack.is_some() || e.category.is_some() || !e.args.is_empty();
        let event = TrackEvent {
            r#type: Some(match e.phase {
                Phase::Begin => track_event::Type::SliceBegin,
                Phase::End => track_event::Type::SliceEnd,
                Phase::Instant => track_event::Type::Instant,
                Phase::Counter(_) => track_event::Type::Counter,
            } as i32),
            track_uuid: Some(e.track.0),
            category_iids,
            name_field: name_iid.map(track_event::NameField::NameIid),
            counter_value_field: match e.phase {
                Phase::Counter(v) => Some(track_event::CounterValueField::CounterValue(v)),
                _ => None,
            },
            terminating_flow_ids: e.flows_in,
            flow_ids: e.flows_out,
            callstack_field: e
                .stack
                .map(|s| track_event::CallstackField::CallstackIid(s.0)),
            debug_annotations: e
                .args
                .iter()
                .map(|a| interner.annotation(a, interned))
                .collect(),
        };
        let ends_flow = !event.terminating_flow_ids.is_empty();
        let start = self.packets.len();
        let packet = TracePacket {
            timestamp: Some(e.ts),
            timestamp_clock_id: Some(CLOCK_MONOTONIC),
            data: Some(trace_packet::Data::TrackEvent(event)),
            trusted_packet_sequence_id: Some(SEQUENCE),
            // Never the sequence's first packet: the interned data's comes before.
            sequence_flags: needs.then_some(SEQ_NEEDS_INCREMENTAL_STATE),
            ..Default::default()
        };
        prost::encoding::message::encode(1, &packet, &mut self.packets);
        self.index
            .push((e.ts, ends_flow, start, self.packets.len()));
    }

    /// Events added so far.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no event was added.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The encoded trace: the clock snapshot, the tracks, the interned data, then the events
    /// in time order.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.packets.len() + self.tracks.len() * 64 + 4096);
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// As [`finish`](Self::finish), written to `w` as it goes (the events' packets are copied
    /// from the builder's buffer in time order, never all at once); returns the bytes written.
    ///
    /// # Errors
    ///
    /// What writing to `w` returns.
    pub fn write_to(mut self, w: impl Write) -> io::Result<u64> {
        // A `Trace` is its packets (field 1), one after another.
        let mut head = Vec::with_capacity(self.tracks.len() * 64 + 4096);
        let mut packets =
            |packet: TracePacket| prost::encoding::message::encode(1, &packet, &mut head);
        let mut first = true;
        let mut sequence_flags = |needs: bool| {
            let flags = if std::mem::take(&mut first) {
                SEQ_INCREMENTAL_STATE_CLEARED | (SEQ_NEEDS_INCREMENTAL_STATE * u32::from(needs))
            } else if needs {
                SEQ_NEEDS_INCREMENTAL_STATE
            } else {
                0
            };
            (flags != 0).then_some(flags)
        };
        let mut first_packet = true;
        if let Some(clock) = self.clock.take() {
            first_packet = false;
            packets(TracePacket {
                data: Some(trace_packet::Data::ClockSnapshot(clock)),
                trusted_packet_sequence_id: Some(SEQUENCE),
                sequence_flags: sequence_flags(false),
                first_packet_on_sequence: Some(true),
                ..Default::default()
            });
        }
        for track in std::mem::take(&mut self.tracks) {
            let first = std::mem::take(&mut first_packet);
            packets(TracePacket {
                data: Some(trace_packet::Data::TrackDescriptor(track)),
                trusted_packet_sequence_id: Some(SEQUENCE),
                sequence_flags: sequence_flags(false),
                first_packet_on_sequence: first.then_some(true),
                ..Default::default()
            });
        }
        let interned = std::mem::take(&mut self.interned);
        let first = std::mem::take(&mut first_packet);
        packets(TracePacket {
            trusted_packet_sequence_id: Some(SEQUENCE),
            interned_data: (interned != InternedData::default()).then_some(interned),
            sequence_flags: sequence_flags(true),
            first_packet_on_sequence: first.then_some(true),
            ..Default::default()
        });
        let mut w = io::BufWriter::with_capacity(64 << 10, w);
        w.write_all(&head)?;
        let mut written = head.len() as u64;
        // In time order; at the same time, an event that ends flows after those that may start
        // them (on another track), so that every flow starts before it ends. (The start keeps
        // the order of equal times.)
        self.index.sort_unstable();
        for &(.., start, end) in &self.index {
            w.write_all(&self.packets[start..end])?;
            written += (end - start) as u64;
        }
        w.flush()?;
        Ok(written)
    }
}

fn named(iid: u64, name: &str) -> proto::EventName {
    proto::EventName {
        iid: Some(iid),
        name: Some(name.to_owned()),
    }
}

fn category(iid: u64, name: &str) -> proto::EventCategory {
    proto::EventCategory {
        iid: Some(iid),
        name: Some(name.to_owned()),
    }
}

fn interned_string(iid: u64, s: &str) -> proto::InternedString {
    proto::InternedString {
        iid: Some(iid),
        str: Some(s.as_bytes().to_vec()),
    }
}

/// Ids of one kind of interned thing, from 1 in first-use order.
#[derive(Debug)]
struct Ids<K> {
    ids: HashMap<K, u64>,
}

impl<K> Default for Ids<K> {
    fn default() -> Self {
        Ids {
            ids: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Ids<K> {
    /// `key`'s id; `define` is called with a new one.
    fn intern<Q>(&mut self, key: &Q, define: impl FnOnce(u64)) -> u64
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(&iid) = self.ids.get(key) {
            return iid;
        }
        let iid = self.ids.len() as u64 + 1;
        self.ids.insert(key.to_owned(), iid);
        define(iid);
        iid
    }
}

#[derive(Debug, Default)]
struct Interner {
    names: Ids<String>,
    categories: Ids<String>,
    functions: Ids<String>,
    files: Ids<String>,
    frames: Ids<(u64, u64, u32)>,
    callstacks: Ids<Vec<u64>>,
    arg_names: Ids<String>,
    arg_values: Ids<String>,
}

impl Interner {
    /// `arg` as a debug annotation with interned name and text value, defining what is new in
    /// `interned`.
    fn annotation(&mut self, arg: &Arg, interned: &mut InternedData) -> DebugAnnotation {
        let (name, value) = match arg {
            Arg::Str(name, v) => {
                let iid = self.arg_values.intern(&**v, |iid| {
                    interned
                        .debug_annotation_string_values
                        .push(interned_string(iid, v))
                });
                (name, debug_annotation::Value::StringValueIid(iid))
            }
            Arg::Int(name, v) => (name, debug_annotation::Value::IntValue(*v)),
        };
        let name_iid = self.arg_names.intern(&**name, |iid| {
            interned
                .debug_annotation_names
                .push(proto::DebugAnnotationName {
                    iid: Some(iid),
                    name: Some(name.to_string()),
                })
        });
        DebugAnnotation {
            name_field: Some(debug_annotation::NameField::NameIid(name_iid)),
            value: Some(value),
        }
    }

    /// `frames`' callstack id, defining what is new in `interned`.
    fn callstack(&mut self, frames: &[StackFrame], interned: &mut InternedData) -> u64 {
        let ids: Vec<u64> = frames
            .iter()
            .map(|f| {
                let function = self.functions.intern(f.function.as_str(), |iid| {
                    interned
                        .function_names
                        .push(interned_string(iid, &f.function))
                });
                let file = if f.file.is_empty() {
                    0
                } else {
                    self.files.intern(f.file.as_str(), |iid| {
                        interned.source_paths.push(interned_string(iid, &f.file))
                    })
                };
                self.frames.intern(&(function, file, f.line), |iid| {
                    interned.frames.push(proto::Frame {
                        iid: Some(iid),
                        function_name_id: Some(function),
                        source_path_iid: (file != 0).then_some(file),
                        line_number: (f.line != 0).then_some(f.line),
                    })
                })
            })
            .collect();
        self.callstacks.intern(ids.as_slice(), |iid| {
            interned.callstacks.push(proto::Callstack {
                iid: Some(iid),
                frame_ids: ids.clone(),
            })
        })
    }
}
