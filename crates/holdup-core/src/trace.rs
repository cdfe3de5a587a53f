//! The execution trace's recorder: what happened over time, in per-thread buffers.
//!
//! While a trace window ([`start_window`]) or a flight recorder ([`start_flight`]) is on, the
//! hooks' slow paths, the task glue and the user annotations append events to the calling
//! thread's current *chunk* (64 KiB): a few stores and a release store of the chunk's length,
//! with no lock and no allocation. A thread takes a new chunk from the recorder (one short lock
//! per 64 KiB) when its chunk is full. Readers ([`stop_window`], [`flight_snapshot`]) copy each chunk up to its
//! published length, so a snapshot never stops a writer.
//!
//! Memory is bounded: the recorder holds at most the largest of its consumers' byte limits.
//! A flight recorder evicts the oldest chunks, by bytes and by age; a window keeps everything
//! since its start and, once full, drops new events and counts them ([`dropped`]).
//!
//! Events carry clock ticks ([`crate::clock::now`]); [`Anchor`]s taken at start and at each
//! snapshot convert them to nanoseconds of `CLOCK_MONOTONIC` when exported.
//!
//! Event layout, in `u64` words: a header (tag in bits 0–7, length in words in bits 8–15, an
//! argument in bits 16–63), the time in ticks, then the tag's payload ([`Tag`]).

use std::cell::{RefCell, UnsafeCell};
use std::collections::{HashMap, VecDeque};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock;

/// Words in a chunk (64 KiB).
const CHUNK_WORDS: usize = 8192;
/// Bytes in a chunk.
pub const CHUNK_BYTES: usize = CHUNK_WORDS * 8;
/// The longest event, in words (a log message's text is cut to fit).
const MAX_EVENT_WORDS: usize = 64;

/// What an event is, and its payload (after the header and time words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// A wait begins. Argument: the [`crate::Kind`]. Payload: the site (a `&'static
    /// Location` as an address), the object waited for (a lock's `LockMeta` address, 0 if
    /// none), the waiter (an owner word if a task, else 0: the chunk's thread), the waiter's
    /// stack hash ([`stack`], 0 if none), the `.await` site (0 if none).
    WaitBegin = 1,
    /// The wait ends. Argument: 0 if it got what it waited for, 1 if it was cancelled.
    /// Payload: the object, the waiter.
    WaitEnd = 2,
    /// A lock with waiters is released: it wakes one. Argument: the kind. Payload: the lock,
    /// the releaser (owner word or 0).
    Release = 3,
    /// A task is polled. Payload: its id.
    PollBegin = 4,
    /// The poll returned. Payload: the task's id.
    PollEnd = 5,
    /// A task's first poll: who it is. Payload: its id, its parent (owner word or 0), its
    /// spawn site (address or 0), its name ([`string`] id, 0 if none).
    TaskNew = 6,
    /// A task is dropped. Payload: its id.
    TaskEnd = 7,
    /// The chunk's thread, at the start of each chunk. Argument: the name's length; payload:
    /// the OS thread id, then the name's bytes.
    Thread = 8,
    /// A user region begins. Payload: its name (string id), the user task id (0 if none).
    RegionBegin = 9,
    /// A user region ends. Payload: as [`Tag::RegionBegin`].
    RegionEnd = 10,
    /// A user task begins. Payload: its id, its parent's (0 if none), its name (string id).
    UserTaskBegin = 11,
    /// A user task ends. Payload: its id.
    UserTaskEnd = 12,
    /// A user log message. Argument: the text's length; payload: the category (string id),
    /// the user task id (0 if none), then the text's bytes.
    Log = 13,
    /// Something that wakes waits of a kind on what was created at a site (a send wakes
    /// receivers, a notify wakes condvar waiters). Argument: the kind of the waits it ends.
    /// Payload: the site, the waker (owner word or 0).
    Wake = 14,
}

impl Tag {
    fn from_u8(v: u8) -> Option<Tag> {
        use Tag::*;
        Some(match v {
            1 => WaitBegin,
            2 => WaitEnd,
            3 => Release,
            4 => PollBegin,
            5 => PollEnd,
            6 => TaskNew,
            7 => TaskEnd,
            8 => Thread,
            9 => RegionBegin,
            10 => RegionEnd,
            11 => UserTaskBegin,
            12 => UserTaskEnd,
            13 => Log,
            14 => Wake,
            _ => return None,
        })
    }
}

/// Whether events are recorded: one relaxed load, checked before anything else.
static ON: AtomicBool = AtomicBool::new(false);
/// Bumped when recording starts afresh: writers drop chunks of an older generation.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// When (ticks) a writer last found no chunk to be had (a full window), 0 if none since
/// recording started: for a millisecond after, writers count drops without the lock.
static FULL_SINCE: AtomicU64 = AtomicU64::new(0);
/// Events dropped since recording started.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// When (ticks) the first event was dropped since recording started, 0 if none: a window is
/// complete only up to there.
static FIRST_DROP: AtomicU64 = AtomicU64::new(0);

/// Whether events are being recorded.
#[inline]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Events lost since recording started: written while the window was full, or by a thread
/// that could not record (during its exit).
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// A chunk of one thread's events. Only its thread writes it, only past `len`; readers read
/// only below `len`, loaded with acquire ordering after the writer's release store.
struct Chunk {
    /// Uninitialized past `len`: zeroing 64 KiB per chunk cost a window several nanoseconds
    /// per event.
    words: Words,
    len: AtomicUsize,
    generation: u64,
    /// The time of its last event, in ticks.
    last: AtomicU64,
}

// SAFETY: the words are written only by the chunk's thread, at indexes at or past `len`, and
// read by other threads only below `len` (acquire load, pairing with the writer's release
// store after it wrote them), so no word is accessed by two threads unsynchronized.
unsafe impl Sync for Chunk {}
// SAFETY: as above; a chunk holds no thread-bound state.
unsafe impl Send for Chunk {}

type Words = Box<[UnsafeCell<MaybeUninit<u64>>]>;

/// A chunk's memory, not initialized.
fn new_words() -> Words {
    (0..CHUNK_WORDS)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect()
}

impl Chunk {
    fn new(words: Words, generation: u64) -> Chunk {
        Chunk {
            words,
            len: AtomicUsize::new(0),
            generation,
            last: AtomicU64::new(0),
        }
    }

    /// The published words.
    fn published(&self) -> Vec<u64> {
        let len = self.len.load(Ordering::Acquire);
        self.words[..len]
            .iter()
            // SAFETY: below `len`: initialized by the writer before the release store the
            // load above saw, and never written again (see the `Sync` impl); a
            // `MaybeUninit<u64>` has `u64`'s layout.
            .map(|w| unsafe { *w.get().cast::<u64>() })
            .collect()
    }
}

/// Who wants events, and their limits.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Ticks at its start.
    start: u64,
    max_bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Flight {
    /// Keep at least this long (ticks), when the bytes allow.
    min_age: u64,
    max_bytes: usize,
}

struct Recorder {
    chunks: VecDeque<Arc<Chunk>>,
    /// The memory of the chunk evicted last, for the next chunk: a flight recorder in its
    /// steady state writes memory already mapped (no page faults).
    spare: Option<Words>,
    window: Option<Window>,
    flight: Option<Flight>,
    /// Taken when recording started.
    anchor: Option<Anchor>,
}

static RECORDER: Mutex<Recorder> = Mutex::new(Recorder {
    chunks: VecDeque::new(),
    spare: None,
    window: None,
    flight: None,
    anchor: None,
});

fn recorder() -> MutexGuard<'static, Recorder> {
    RECORDER.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recorder {
    fn max_bytes(&self) -> usize {
        let w = self.window.map_or(0, |w| w.max_bytes);
        let f = self.flight.map_or(0, |f| f.max_bytes);
        w.max(f).max(CHUNK_BYTES)
    }

    /// Drops what no consumer needs: for a flight recorder, chunks whose last event is older
    /// than its age limit, then the oldest chunks past the byte limit; never what a window
    /// needs (events since its start) nor a chunk a thread still writes.
    fn evict(&mut self, now: u64, room_for: usize) {
        let keep_from = self.window.map(|w| w.start);
        let evictable = |c: &Arc<Chunk>| {
            Arc::strong_count(c) == 1
                && keep_from.is_none_or(|start| c.last.load(Ordering::Relaxed) < start)
        };
        // The last chunk evicted: its memory becomes the spare.
        let mut gone = None;
        if let Some(flight) = self.flight {
            let horizon = now.saturating_sub(flight.min_age);
            self.chunks.retain(|c| {
                let keep = c.last.load(Ordering::Relaxed) >= horizon || !evictable(c);
                if !keep {
                    gone = Some(c.clone());
                }
                keep
            });
        }
        let max = self.max_bytes();
        while (self.chunks.len() + room_for) * CHUNK_BYTES > max {
            match self.chunks.iter().position(evictable) {
                Some(i) => gone = self.chunks.remove(i),
                None => break,
            }
        }
        if let Some(last) = gone {
            self.spare = Arc::try_unwrap(last).ok().map(|c| c.words);
        }
    }

    /// A new chunk for a writer, if the limit allows one.
    fn take_chunk(&mut self, generation: u64) -> Option<Arc<Chunk>> {
        self.evict(clock::now(), 1);
        if (self.chunks.len() + 1) * CHUNK_BYTES > self.max_bytes() {
            return None;
        }
        let words = self.spare.take().unwrap_or_else(new_words);
        let chunk = Arc::new(Chunk::new(words, generation));
        self.chunks.push_back(chunk.clone());
        Some(chunk)
    }
}

/// The calling thread's chunk.
struct Writer {
    chunk: Option<Arc<Chunk>>,
    len: usize,
}

thread_local! {
    static WRITER: RefCell<Writer> = const { RefCell::new(Writer { chunk: None, len: 0 }) };
}

/// Records an event with `tag`, its argument and its payload, now.
#[inline]
pub fn emit(tag: Tag, arg: u64, payload: &[u64]) {
    emit_at(clock::now(), tag, arg, payload, &[]);
}

/// As [`emit`], with `ticks` as its time and `bytes` packed after the payload.
pub fn emit_at(ticks: u64, tag: Tag, arg: u64, payload: &[u64], bytes: &[u8]) {
    if !on() {
        return;
    }
    let recorded = WRITER.try_with(|w| {
        let Ok(mut w) = w.try_borrow_mut() else {
            return None;
        };
        Some(w.write(ticks, tag, arg, payload, bytes))
    });
    let recorded = recorded.ok().flatten();
    if recorded != Some(true) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
    if recorded == Some(false) {
        // No room (not a thread in its exit): the window is complete only up to here.
        let _ = FIRST_DROP.compare_exchange(0, ticks.max(1), Ordering::Relaxed, Ordering::Relaxed);
    }
}

impl Writer {
    fn write(&mut self, ticks: u64, tag: Tag, arg: u64, payload: &[u64], bytes: &[u8]) -> bool {
        let byte_words = bytes.len().div_ceil(8);
        let n = 2 + payload.len() + byte_words;
        debug_assert!(n <= MAX_EVENT_WORDS);
        let generation = GENERATION.load(Ordering::Relaxed);
        let stale = match &self.chunk {
            Some(c) => c.generation != generation || self.len + n > CHUNK_WORDS,
            None => true,
        };
        if stale && !self.refill(generation) {
            return false;
        }
        let Some(chunk) = &self.chunk else {
            return false;
        };
        let mut i = self.len;
        let mut put = |w: u64| {
            // SAFETY: `i` is at or past the published length and below CHUNK_WORDS (room was
            // checked above): only this thread writes there, and no reader reads there yet.
            unsafe { (*chunk.words[i].get()).write(w) };
            i += 1;
        };
        put(tag as u64 | (n as u64) << 8 | arg << 16);
        put(ticks);
        for &w in payload {
            put(w);
        }
        for part in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..part.len()].copy_from_slice(part);
            put(u64::from_le_bytes(word));
        }
        self.len = i;
        chunk.last.store(ticks, Ordering::Relaxed);
        chunk.len.store(i, Ordering::Release);
        true
    }

    /// Replaces the current chunk with a new one, starting with the thread's identity.
    #[cold]
    fn refill(&mut self, generation: u64) -> bool {
        let full_since = FULL_SINCE.load(Ordering::Relaxed);
        if full_since != 0 && clock::to_ns(clock::now().saturating_sub(full_since)) < 1_000_000 {
            return false;
        }
        // Let go of the full chunk first, so that it can be evicted for the new one.
        self.chunk = None;
        self.len = 0;
        let Some(chunk) = recorder().take_chunk(generation) else {
            FULL_SINCE.store(clock::now(), Ordering::Relaxed);
            return false;
        };
        self.chunk = Some(chunk);
        let (tid, name) = thread_identity();
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        self.write(
            clock::now(),
            Tag::Thread,
            name.len() as u64,
            &[tid as u64],
            name,
        )
    }
}

/// The calling thread's OS id and name (the kernel's `comm`, 16 bytes at most).
fn thread_identity() -> (i64, [u8; 16]) {
    let mut name = [0u8; 16];
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into the buffer given.
        unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i64;
        (tid, name)
    }
    #[cfg(not(target_os = "linux"))]
    {
        (0, name)
    }
}

/// A point of the ticks clock on `CLOCK_MONOTONIC` and the wall clock, to convert event times
/// to nanoseconds: two anchors (start and snapshot) give the rate exactly over the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub ticks: u64,
    /// `CLOCK_MONOTONIC`, nanoseconds.
    pub monotonic_ns: u64,
    /// The wall clock (`CLOCK_REALTIME`), nanoseconds since the Unix epoch.
    pub realtime_ns: u64,
    /// `CLOCK_BOOTTIME`, nanoseconds.
    pub boottime_ns: u64,
}

impl Anchor {
    /// Now.
    pub fn now() -> Anchor {
        let ticks = clock::now();
        Anchor {
            ticks,
            monotonic_ns: clock::now_ns(),
            realtime_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            boottime_ns: boottime_ns(),
        }
    }
}

fn boottime_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes through it.
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        clock::now_ns()
    }
}

/// What recording needs, set up before it starts: the clock (the TSC where usable).
fn prepare() {
    clock::init();
    crate::collector::warm_up();
}

/// Why recording cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// A window is already being recorded.
    WindowActive,
    /// A flight recorder is already on.
    FlightActive,
}

fn start(f: impl FnOnce(&mut Recorder) -> Result<(), StartError>) -> Result<(), StartError> {
    prepare();
    let mut r = recorder();
    let was_on = r.window.is_some() || r.flight.is_some();
    f(&mut r)?;
    if !was_on {
        r.chunks.clear();
        r.anchor = Some(Anchor::now());
        GENERATION.fetch_add(1, Ordering::Relaxed);
        DROPPED.store(0, Ordering::Relaxed);
        FIRST_DROP.store(0, Ordering::Relaxed);
    }
    FULL_SINCE.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::Release);
    Ok(())
}

/// Starts recording a window, kept whole up to `max_bytes` (then new events are dropped and
/// counted).
pub fn start_window(max_bytes: usize) -> Result<(), StartError> {
    start(|r| {
        if r.window.is_some() {
            return Err(StartError::WindowActive);
        }
        r.window = Some(Window {
            start: clock::now(),
            max_bytes,
        });
        Ok(())
    })
}

/// Starts the flight recorder: the last `min_age_ns` nanoseconds of events are kept, at most
/// `max_bytes` (the bytes take precedence).
pub fn start_flight(min_age_ns: u64, max_bytes: usize) -> Result<(), StartError> {
    start(|r| {
        if r.flight.is_some() {
            return Err(StartError::FlightActive);
        }
        r.flight = Some(Flight {
            min_age: ns_to_ticks(min_age_ns).max(1),
            max_bytes,
        });
        Ok(())
    })
}

/// Nanoseconds as ticks, at the calibrated rate.
fn ns_to_ticks(ns: u64) -> u64 {
    let ns_per_gigatick = clock::to_ns(1_000_000_000).max(1) as f64;
    (ns as f64 * 1e9 / ns_per_gigatick) as u64
}

/// Stops one consumer; recording stops when none is left (and its chunks are freed then).
fn stop(f: impl FnOnce(&mut Recorder)) {
    let mut r = recorder();
    f(&mut r);
    if r.window.is_none() && r.flight.is_none() {
        ON.store(false, Ordering::Release);
        r.chunks.clear();
        r.spare = None;
    } else {
        r.evict(clock::now(), 0);
        FULL_SINCE.store(0, Ordering::Relaxed);
    }
}

/// One thread's published events (whole chunks, in the order they were made).
#[derive(Debug, Clone)]
pub struct RawChunk {
    pub words: Vec<u64>,
}

/// What a snapshot holds: the chunks' events, from `since` (ticks) on, and the anchors.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub chunks: Vec<RawChunk>,
    /// Events before this many ticks are outside the snapshot's window.
    pub since: u64,
    pub start: Anchor,
    pub end: Anchor,
    pub dropped: u64,
    /// When (ticks) the first event was dropped, if any: the snapshot is complete up to there.
    pub first_drop: Option<u64>,
}

fn copy(r: &Recorder, since: u64) -> Snapshot {
    let generation = GENERATION.load(Ordering::Relaxed);
    let chunks = r
        .chunks
        .iter()
        .filter(|c| c.generation == generation && c.last.load(Ordering::Relaxed) >= since)
        .map(|c| RawChunk {
            words: c.published(),
        })
        .collect();
    Snapshot {
        chunks,
        since,
        start: r.anchor.unwrap_or_else(Anchor::now),
        end: Anchor::now(),
        dropped: dropped(),
        first_drop: Some(FIRST_DROP.load(Ordering::Relaxed)).filter(|&t| t != 0),
    }
}

/// Stops the window and returns what it recorded; `None` if no window was on.
pub fn stop_window() -> Option<Snapshot> {
    let mut snapshot = None;
    stop(|r| {
        if let Some(w) = r.window.take() {
            snapshot = Some(copy(r, w.start));
        }
    });
    snapshot
}

/// The flight recorder's window now: the events of its last `min_age` (recording goes on).
pub fn flight_snapshot() -> Option<Snapshot> {
    let mut r = recorder();
    let flight = r.flight?;
    let now = clock::now();
    r.evict(now, 0);
    // A flight recorder's drops (a moment with no chunk to be had) leave gaps, not an end.
    let mut snapshot = copy(&r, now.saturating_sub(flight.min_age));
    snapshot.first_drop = None;
    Some(snapshot)
}

/// Stops the flight recorder.
pub fn stop_flight() {
    stop(|r| r.flight = None);
}

/// Whether a window is being recorded.
pub fn window_active() -> bool {
    recorder().window.is_some()
}

/// Bytes the recorder holds now.
pub fn held_bytes() -> usize {
    recorder().chunks.len() * CHUNK_BYTES
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub tag: Tag,
    pub arg: u64,
    pub ticks: u64,
    pub payload: &'a [u64],
}

impl RawEvent<'_> {
    /// The bytes packed after the first `words` payload words, `len` long.
    pub fn bytes(&self, words: usize, len: usize) -> Vec<u8> {
        let mut out: Vec<u8> = self
            .payload
            .get(words..)
            .unwrap_or(&[])
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        out.truncate(len);
        out
    }
}

/// The events of a chunk, in order; stops at anything malformed.
pub fn events(words: &[u64]) -> impl Iterator<Item = RawEvent<'_>> {
    let mut i = 0;
    std::iter::from_fn(move || {
        let header = *words.get(i)?;
        let n = ((header >> 8) & 0xff) as usize;
        let tag = Tag::from_u8(header as u8)?;
        if n < 2 || i + n > words.len() {
            return None;
        }
        let e = RawEvent {
            tag,
            arg: header >> 16,
            ticks: words[i + 1],
            payload: &words[i + 2..i + n],
        };
        i += n;
        Some(e)
    })
}

/// Strings events refer to by id (region and task names, log categories), interned for the
/// process's life; at most [`MAX_STRINGS`] (then id 0, shown as unnamed).
static STRINGS: Mutex<Option<Strings>> = Mutex::new(None);

/// Interned strings: ids by string, and strings by id (minus one).
type Strings = (HashMap<Arc<str>, u64>, Vec<Arc<str>>);
/// How many distinct strings [`intern`] keeps.
pub const MAX_STRINGS: usize = 1 << 16;

/// `s`'s id (from 1), or 0 if too many strings were interned.
pub fn intern(s: &str) -> u64 {
    let mut g = STRINGS.lock().unwrap_or_else(|e| e.into_inner());
    let (ids, all) = g.get_or_insert_with(Default::default);
    if let Some(&id) = ids.get(s) {
        return id;
    }
    if all.len() >= MAX_STRINGS {
        return 0;
    }
    let s: Arc<str> = s.into();
    all.push(s.clone());
    let id = all.len() as u64;
    ids.insert(s, id);
    id
}

/// The string interned as `id`.
pub fn string(id: u64) -> Option<Arc<str>> {
    let g = STRINGS.lock().unwrap_or_else(|e| e.into_inner());
    let (_, all) = g.as_ref()?;
    all.get(id.checked_sub(1)? as usize).cloned()
}

/// Stacks events refer to by hash, kept for the process's life, at most [`MAX_STACKS`].
static STACKS: Mutex<Option<HashMap<u64, Arc<[usize]>>>> = Mutex::new(None);
/// How many distinct stacks the trace keeps.
pub const MAX_STACKS: usize = 1 << 16;

thread_local! {
    /// Hashes this thread interned lately: most waits repeat a stack, without the lock.
    static SEEN: RefCell<[u64; 8]> = const { RefCell::new([0; 8]) };
}

/// Keeps `pcs` as the stack `hash` names; returns the hash (0 if it could not be kept).
pub fn intern_stack(pcs: &[usize], hash: u64) -> u64 {
    if pcs.is_empty() || hash == 0 {
        return 0;
    }
    let seen = SEEN
        .try_with(|s| s.try_borrow().is_ok_and(|s| s.contains(&hash)))
        .unwrap_or(false);
    if seen {
        return hash;
    }
    {
        let mut g = STACKS.lock().unwrap_or_else(|e| e.into_inner());
        let map = g.get_or_insert_with(HashMap::new);
        if !map.contains_key(&hash) {
            if map.len() >= MAX_STACKS {
                return 0;
            }
            map.insert(hash, pcs.into());
        }
    }
    let _ = SEEN.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.rotate_right(1);
            s[0] = hash;
        }
    });
    hash
}

/// The calling thread's stack, kept for the trace; its hash (0 if none).
pub fn capture_stack() -> u64 {
    if !crate::stack::ready() || crate::collector::in_profiler() {
        return 0;
    }
    crate::collector::profiler_scope(|| crate::stack::with_stack(TRACE_DEPTH, intern_stack))
}

/// Frames kept of a stack in the trace (Go keeps 128; waits are rarely deeper than this).
const TRACE_DEPTH: usize = 64;

/// The stack `hash` names.
pub fn stack(hash: u64) -> Option<Arc<[usize]>> {
    let g = STACKS.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref()?.get(&hash).cloned()
}

/// Serializes tests that start and stop the recorder (it is one per process).
#[doc(hidden)]
pub fn test_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_a_chunk() {
        let _g = test_lock();
        start_window(1 << 20).unwrap();
        emit(Tag::RegionBegin, 0, &[7, 0]);
        emit_at(clock::now(), Tag::Log, 5, &[3, 0], b"hello");
        emit(Tag::RegionEnd, 0, &[7, 0]);
        let snap = stop_window().unwrap();
        let mine: Vec<_> = snap
            .chunks
            .iter()
            .flat_map(|c| {
                events(&c.words)
                    .map(|e| (e.tag, e.arg, e.payload.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let log = mine
            .iter()
            .find(|e| e.0 == Tag::Log)
            .expect("the log event");
        assert_eq!(log.1, 5);
        let bytes: Vec<u8> = log.2[2..]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .take(5)
            .collect();
        assert_eq!(bytes, b"hello");
        assert!(mine.iter().any(|e| e.0 == Tag::Thread));
        assert!(
            mine.iter()
                .any(|e| e.0 == Tag::RegionBegin && e.2 == [7, 0])
        );
        assert!(!on());
    }

    #[test]
    fn a_full_window_drops_and_counts() {
        let _g = test_lock();
        start_window(CHUNK_BYTES).unwrap();
        // One chunk: the first fills it, the rest are dropped.
        for _ in 0..CHUNK_WORDS {
            emit(Tag::RegionBegin, 0, &[1, 0]);
        }
        let snap = stop_window().unwrap();
        assert!(snap.dropped > 0);
        let words: usize = snap.chunks.iter().map(|c| c.words.len()).sum();
        assert!(words <= CHUNK_WORDS);
    }

    #[test]
    fn a_second_window_is_refused() {
        let _g = test_lock();
        start_window(1 << 20).unwrap();
        assert_eq!(start_window(1 << 20), Err(StartError::WindowActive));
        stop_window();
    }
}
