//! What a lock carries for profiling: [`LockMeta`], two words.

use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::kind::Site;
use crate::owner::Owner;

/// What every lock carries for profiling, in two words: where it was created (with one bit: it
/// has profiled waiters now) and who holds it exclusively. Whether the holder wrote through its
/// guard is the guard's to remember (see [`Access`](crate::hook::Access)). Everything else a contended lock needs lives in a table keyed by the
/// lock's address while it has waiters (see `contended`), so a profiled lock is 16 bytes larger
/// than std's. Guards hold one reference to it, so that a guard is std's guard plus one pointer.
#[derive(Debug)]
pub struct LockMeta {
    /// The creation site; bit 0 is set while profiled waiters wait for the lock (changed only
    /// under the lock's shard in the contention table), and read by every release.
    site: AtomicPtr<Location<'static>>,
    /// The exclusive holder's [`Owner`] word, 0 when not held exclusively: set when an
    /// exclusive guard is made, cleared before it unlocks. Written only by the holder; dumps
    /// read it to name the holder
    /// of the lock a thread waits for (and to find deadlocks). Shared (read) holders are not
    /// tracked, since every reader would write to one cache line.
    holder: AtomicUsize,
}

/// The bit of the site word that says the lock has profiled waiters.
const HAS_WAITERS: usize = 1;

// Sites are `Location`s, whose alignment leaves bit 0 of their address free for the flag.
const _: () = assert!(std::mem::align_of::<Location<'static>>() >= 2);

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
        let site: Site = Location::caller();
        LockMeta {
            site: AtomicPtr::new((site as *const Location<'static>).cast_mut()),
            holder: AtomicUsize::new(0),
        }
    }

    /// Where the lock was created.
    #[inline]
    pub fn site(&self) -> Site {
        let site = self
            .site
            .load(Ordering::Relaxed)
            .map_addr(|a| a & !HAS_WAITERS);
        // SAFETY: the word holds the `&'static Location` given to `new`, with at most the flag
        // bit set, which was just cleared: a valid pointer to a `Location` that lives forever.
        unsafe { &*site }
    }

    /// Whether profiled waiters wait for the lock: the one relaxed load a release pays.
    #[inline(always)]
    pub fn has_waiters(&self) -> bool {
        self.site.load(Ordering::Relaxed).addr() & HAS_WAITERS != 0
    }

    /// Sets or clears the waiters flag; called by the contention table under the lock's shard.
    pub(crate) fn set_has_waiters(&self, on: bool) {
        let site = self.site.load(Ordering::Relaxed);
        let flagged = site.map_addr(|a| {
            if on {
                a | HAS_WAITERS
            } else {
                a & !HAS_WAITERS
            }
        });
        self.site.store(flagged, Ordering::Relaxed);
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
    pub fn holder(&self) -> Option<Owner> {
        Owner::from_word(self.holder.load(Ordering::Relaxed))
    }

    /// Clears the holder before an exclusive unlock (its one store).
    #[inline(always)]
    pub(crate) fn clear_holder(&self) {
        self.holder.store(0, Ordering::Relaxed);
    }

    /// The holder word, for readers that must find the holder after the wait that pointed them
    /// here ends (see `registry::Target::Lock`).
    pub(crate) fn holder_word(&self) -> &AtomicUsize {
        &self.holder
    }
}
