//! Perfetto's trace format (the `TrackEvent` protobuf that ui.perfetto.dev opens), written and
//! read back.
//!
//! [`TraceBuilder`] writes one packet sequence: track descriptors first, a clock snapshot, then
//! events in time order, with event names, frames and callstacks interned the first time a
//! packet uses them (the packet that defines an id carries it in its `interned_data`; the
//! sequence's first packet clears the incremental state, and every packet that uses ids says it
//! needs it). [`TraceView`] decodes a file and checks exactly those rules, resolving every
//! event's name, stack and arguments, so that a reader never indexes out of range.
//!
//! ```
//! use holdup_pprof::perfetto::{Event, Phase, TraceBuilder, TraceView};
//!
//! let mut b = TraceBuilder::new();
//! let process = b.process(42, "app");
//! let thread = b.thread(process, 42, 43, "worker");
//! b.event(Event::new(thread, 1_000, Phase::Begin).name("mutex wait"));
//! b.event(Event::new(thread, 3_000, Phase::End));
//! let bytes = b.finish();
//!
//! let view = TraceView::decode(&bytes)?;
//! let slices = view.slices();
//! assert_eq!(slices.len(), 1);
//! assert_eq!((slices[0].name.as_str(), slices[0].dur), ("mutex wait", 2_000));
//! # Ok::<(), holdup_pprof::perfetto::TraceError>(())
//! ```

pub mod proto;

mod analysis;
mod builder;
mod view;

pub use analysis::{LockRow, LongWait, Summary, WhoRow, block_profile, summary};
pub use builder::{Arg, Event, Phase, StackFrame, StackId, TraceBuilder, TrackId};
pub use view::{Slice, TraceError, TraceEvent, TraceView, Track};

/// `TracePacket.sequence_flags`: this packet starts the sequence's incremental state afresh.
const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
/// `TracePacket.sequence_flags`: this packet uses interned ids.
const SEQ_NEEDS_INCREMENTAL_STATE: u32 = 2;
/// The clock every timestamp is on: `CLOCK_MONOTONIC`, in nanoseconds.
pub const CLOCK_MONOTONIC: u32 = 3;
/// `BuiltinClock` ids of the clock snapshot's other clocks.
pub const CLOCK_REALTIME: u32 = 1;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_BOOTTIME: u32 = 6;
