//! What a lock carries for profiling: [`LockMeta`], two words.

use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::kind::Site;
use crate::owner::Owner;
use crate::state::Contention;

/// What every lock carries for profiling, in two words: where it was created (or, while it
/// has profiled waiters, where their accounting is) and who holds it exclusively. Whether the
/// holder wrote through its guard is the guard's to remember (see
/// [`Access`](crate::hook::Access)). Everything else a contended lock needs lives in a table
/// entry while it has waiters (see `contended`), so a profiled lock is 16 bytes larger than
/// std's. Guards hold one reference to it, so that a guard is std's guard plus one pointer.
#[derive(Debug)]
pub struct LockMeta {
    /// The creation site (a `&'static Location`); while profiled waiters wait for the lock,
    /// the contention table's entry for it, with bit 0 set (the entry keeps the site). Changed
    /// only under the lock's shard in the contention table; read by every release (the bit)
    /// and by contended releases (the entry).
    site: AtomicPtr<u8>,
    /// The exclusive holder's [`Owner`] word, 0 when not held exclusively: set when an
    /// exclusive guard is made, cleared before it unlocks. Written only by the holder; dumps
    /// read it to name the holder of the lock a thread waits for (and to find deadlocks), and
    /// spinning waiters watch it. Shared (read) holders are not tracked, since every reader
    /// would write to one cache line.
    holder: AtomicUsize,
}

/// The bit of the site word that says it holds a contention entry (the lock has profiled
/// waiters).
const HAS_WAITERS: usize = 1;

// Sites are `Location`s and entries are aligned to cache lines: bit 0 of their addresses is
// free for the flag.
const _: () = assert!(std::mem::align_of::<Location<'static>>() >= 2);
const _: () = assert!(std::mem::align_of::<Entry>() >= 2);

/// The entry a tagged site word points to.
#[inline]
fn entry_of(word: *mut u8) -> &'static Entry {
    // SAFETY: a tagged word is a `&'static Entry` with bit 0 set (entries are never freed).
    unsafe { &*word.map_addr(|a| a & !HAS_WAITERS).cast::<Entry>() }
}

impl Default for LockMeta {
    #[track_caller]
    fn default() -> Self {
        LockMeta::new()
    }
}

// Both fields are atomics, each with one writer at a time (the holder, or the waiters under
// their shard's lock), so a panic leaves nothing half-written; poisoning is std's, unchanged.
impl RefUnwindSafe for LockMeta {}
impl UnwindSafe for LockMeta {}

impl LockMeta {
    /// Metadata for a lock created at the caller's location (the `lock` label).
    #[track_caller]
    #[inline]
    pub const fn new() -> Self {
        LockMeta::new_at(Location::caller())
    }

    /// Metadata for a lock created at `site`.
    #[inline]
    pub const fn new_at(site: Site) -> Self {
        LockMeta {
            site: AtomicPtr::new((site as *const Location<'static>).cast::<u8>().cast_mut()),
            holder: AtomicUsize::new(0),
        }
    }

    /// Where the lock was created.
    #[inline]
    pub fn site(&self) -> Site {
        loop {
            let word = self.site.load(Ordering::Acquire);
            if word.addr() & HAS_WAITERS == 0 {
                // SAFETY: an untagged word is the `&'static Location` given to `new` (or put
                // back by `clear_entry`): a valid pointer to a `Location` that lives forever.
                return unsafe { &*word.cast::<Location<'static>>() };
            }
            let entry = entry_of(word);
            let site = entry.site();
            // The entry may have been given to another lock since the load: then the word
            // changed too, and the site is read again.
            if self.site.load(Ordering::Acquire) == word {
                return site;
            }
        }
    }

    /// Whether profiled waiters wait for the lock: the one relaxed load a release pays.
    #[inline(always)]
    pub fn has_waiters(&self) -> bool {
        self.site.load(Ordering::Relaxed).addr() & HAS_WAITERS != 0
    }

    /// The contention entry of the lock while it has profiled waiters, as last published; it
    /// may belong to another lock by the time it is read (see `contended::charge`).
    #[inline]
    pub(crate) fn entry(&self) -> Option<&'static Entry> {
        let word = self.site.load(Ordering::Acquire);
        (word.addr() & HAS_WAITERS != 0).then(|| entry_of(word))
    }

    /// Publishes the lock's contention entry (its first profiled waiter arrived); called by the
    /// contention table under the lock's shard. Release: whoever finds the entry finds it
    /// initialized.
    pub(crate) fn set_entry(&self, entry: &'static Entry) {
        let word = (entry as *const Entry)
            .cast::<u8>()
            .cast_mut()
            .map_addr(|a| a | HAS_WAITERS);
        self.site.store(word, Ordering::Release);
    }

    /// Puts the site back in place of the entry (its last profiled waiter left); called by the
    /// contention table under the lock's shard, before the entry is freed.
    pub(crate) fn clear_entry(&self) {
        let site: *const Location<'static> = self.site();
        self.site
            .store(site.cast::<u8>().cast_mut(), Ordering::Release);
    }

    /// The lock's identity in the contention table: the address of this metadata.
    pub(crate) fn address(&self) -> usize {
        (self as *const LockMeta).addr()
    }

    /// Records the calling thread as the exclusive holder: one store into the lock's own memory,
    /// which the acquiring thread owns already.
    #[inline(always)]
    pub fn set_holder(&self) {
        self.holder.store(crate::owner::token(), Ordering::Relaxed);
    }

    /// Records `owner` (a task, for a lock an async runtime hands to tasks) as the exclusive
    /// holder; [`set_holder`](LockMeta::set_holder) is this for the calling thread.
    #[inline]
    pub fn set_holder_owner(&self, owner: Owner) {
        self.holder.store(owner.to_word(), Ordering::Relaxed);
    }

    /// The exclusive holder now, if any.
    #[inline]
    pub fn holder(&self) -> Option<Owner> {
        Owner::from_word(self.holder.load(Ordering::Relaxed))
    }

    /// Clears the holder before an exclusive unlock (its one store).
    #[inline(always)]
    pub fn clear_holder(&self) {
        self.holder.store(0, Ordering::Relaxed);
    }

    /// The holder word, for readers that must find the holder after the wait that pointed them
    /// here ends (see `registry::Target::Lock`).
    pub(crate) fn holder_word(&self) -> &AtomicUsize {
        &self.holder
    }
}

/// A lock's contention accounting while it has profiled waiters, out of the lock's memory (in
/// the contention table, `contended`): which lock it is for, where that lock was created, and
/// the waiters' times. Entries are never freed, only given to another lock once the last
/// waiter left, so a release that found one through the lock's site word may read it without
/// a lock, and checks whose it is. Each has cache lines of its own.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct Entry {
    /// The address of the lock's metadata (`LockMeta::address`), 0 while free.
    lock: AtomicUsize,
    site: AtomicPtr<Location<'static>>,
    pub(crate) contention: Contention,
}

impl Entry {
    pub(crate) fn new() -> Entry {
        Entry {
            lock: AtomicUsize::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            contention: Contention::new(),
        }
    }

    /// The lock this entry is for now (0 if none).
    #[inline]
    pub(crate) fn lock(&self) -> usize {
        self.lock.load(Ordering::Acquire)
    }

    /// Gives the entry to the lock of `meta` (under the lock's shard, before publishing it).
    pub(crate) fn assign(&self, meta: &LockMeta) {
        self.site.store(
            (meta.site() as *const Location<'static>).cast_mut(),
            Ordering::Relaxed,
        );
        self.contention.reset();
        self.lock.store(meta.address(), Ordering::Release);
    }

    /// Frees the entry (under the lock's shard, after the lock's site word was put back).
    pub(crate) fn free(&self) {
        self.lock.store(0, Ordering::Release);
    }

    /// The site of the lock the entry is for.
    fn site(&self) -> Site {
        let site = self.site.load(Ordering::Relaxed);
        // SAFETY: `assign` stores a `&'static Location` before the entry is published, and
        // the site word is tagged only while the entry is assigned (never null then).
        unsafe { &*site }
    }
}
