//! The contention state of the locks that have waiters now, in entries out of the locks' memory
//! (Go keeps its semaphore waiters the same way, in `semtable`; parking_lot_core keeps its
//! queues in buckets keyed by address), so that a lock carries none of it.
//!
//! A lock's own memory keeps one word of this: [`LockMeta`]'s site word, which points to the
//! lock's [`Entry`] (tagged) from the first profiled waiter's arrival to the last one's
//! departure, and to the lock's creation site otherwise. Every release reads the tag (one
//! relaxed load); a release that finds it charges the entry directly, without a lock: that is
//! the path a contended lock takes at every hand-off. Everything else (the waiter count and the
//! times Go's charge needs, `Contention`) is in the entry.
//!
//! Waiters find, create and give up entries under a shard lock of a table keyed by the lock's
//! address: entering and leaving take it, so an entry is assigned and freed by one thread at a
//! time and the tag always agrees with the entry's assignment (both change under the shard's
//! lock). Entries are never freed: a freed one waits in its shard for the next contended lock,
//! so a release that read a tagged word a moment before the last waiter left reads a valid
//! entry, checks that it is still its lock's, and at worst (the entry was reassigned between
//! the check and the charge, a window of nanoseconds) moves one waiter's start time, as the
//! races `Contention` already tolerates do. The tag may be seen late by a release that raced
//! with a waiter's arrival: that waiter's time is then charged to the next release, as Go's
//! accounting does for a waiter that queues during a release. A process allocates an entry
//! only when more locks than ever before have waiters at once in one shard.

use std::sync::Mutex;

use crate::meta::{Entry, LockMeta};

/// Go's `semTabSize`: a prime, so that addresses with a common stride spread over the shards.
const SHARDS: usize = 251;

/// The entries of the locks of one shard that have waiters (`live`) and those free for reuse.
struct Shard {
    live: Vec<&'static Entry>,
    free: Vec<&'static Entry>,
}

static TABLE: [Mutex<Shard>; SHARDS] = [const {
    Mutex::new(Shard {
        live: Vec::new(),
        free: Vec::new(),
    })
}; SHARDS];

fn shard(lock: usize) -> std::sync::MutexGuard<'static, Shard> {
    // Locks are at least 8-byte aligned; Fibonacci hashing spreads neighbouring locks.
    let h = (lock >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as usize);
    let i = (h >> (usize::BITS - 16)) % SHARDS;
    TABLE[i].lock().unwrap_or_else(|e| e.into_inner())
}

/// The live entry of `lock` in `shard`, if it has one.
fn find(shard: &Shard, lock: usize) -> Option<&'static Entry> {
    shard.live.iter().copied().find(|e| e.lock() == lock)
}

/// A profiled waiter of `meta`'s lock starts waiting at `now` (clock ticks).
pub(crate) fn enter(meta: &LockMeta, now: u64) {
    let lock = meta.address();
    let mut shard = shard(lock);
    let entry = match find(&shard, lock) {
        Some(e) => e,
        None => {
            let e = shard
                .free
                .pop()
                .unwrap_or_else(|| Box::leak(Box::new(Entry::new())));
            e.assign(meta);
            shard.live.push(e);
            meta.set_entry(e);
            e
        }
    };
    entry.contention.enter(now);
}

/// A profiled waiter of `meta`'s lock stops waiting (it acquired the lock, or its wait
/// unwound). Returns the time of the lock's last contended release (0 if none), which is when
/// this waiter was woken if it is at least the time it entered.
pub(crate) fn leave(meta: &LockMeta) -> u64 {
    let lock = meta.address();
    let mut shard = shard(lock);
    let Some(entry) = find(&shard, lock) else {
        return 0;
    };
    let released = entry.contention.leave();
    if entry.contention.waiters() == 0 {
        meta.clear_entry();
        entry.free();
        shard.live.retain(|e| !std::ptr::eq(*e, entry));
        shard.free.push(entry);
    }
    released
}

/// A release of `meta`'s lock while it has waiters, at `now`, before the unlock: the waiting
/// that accrued since the previous charge, Go's way (see `Contention::charge`). Takes no
/// lock: the entry comes from the lock's site word, and is checked to be still the lock's.
#[inline]
pub(crate) fn charge(meta: &LockMeta, now: u64, exclusive: bool) -> u64 {
    match meta.entry() {
        Some(e) if e.lock() == meta.address() => e.contention.charge(now, exclusive),
        _ => 0,
    }
}

/// The number of profiled waiters of `meta`'s lock now.
#[cfg(test)]
fn waiters(meta: &LockMeta) -> u32 {
    let lock = meta.address();
    let shard = shard(lock);
    find(&shard, lock).map_or(0, |e| e.contention.waiters())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_from_the_first_waiter_to_the_last() {
        let meta = LockMeta::new();
        let site = meta.site();
        assert!(!meta.has_waiters());
        enter(&meta, 100);
        enter(&meta, 110);
        assert!(meta.has_waiters());
        assert!(std::ptr::eq(meta.site(), site), "the entry keeps the site");
        assert_eq!(waiters(&meta), 2);
        // Go's charge at 120: the oldest waited 20, the others (one) half of 20 + 10.
        assert_eq!(charge(&meta, 120, true), 35);
        assert_eq!(leave(&meta), 120);
        assert!(meta.has_waiters(), "one waiter is left");
        assert_eq!(leave(&meta), 120);
        assert!(!meta.has_waiters());
        assert!(std::ptr::eq(meta.site(), site), "the site is back");
        assert_eq!(waiters(&meta), 0);
        // Nothing left to charge or leave.
        assert_eq!(charge(&meta, 130, true), 0);
        assert_eq!(leave(&meta), 0);
    }

    #[test]
    fn locks_in_one_shard_keep_their_own_entries() {
        let metas: Vec<LockMeta> = (0..600).map(|_| LockMeta::new()).collect();
        for (i, m) in metas.iter().enumerate() {
            enter(m, i as u64);
        }
        for (i, m) in metas.iter().enumerate() {
            assert_eq!(waiters(m), 1);
            assert_eq!(charge(m, 1_000, true), 1_000 - i as u64);
            leave(m);
            assert!(!m.has_waiters());
        }
    }

    #[test]
    fn a_reused_entry_starts_clean_and_a_stale_one_charges_nothing() {
        let (a, b) = (Box::new(LockMeta::new()), Box::new(LockMeta::new()));
        enter(&a, 100);
        let entry = a.entry().expect("a has an entry");
        assert_eq!(leave(&a), 0);
        // Whatever shard b is in, an entry it gets is clean: no waiters or times of a's.
        enter(&b, 500);
        assert_eq!(charge(&b, 600, true), 100);
        // a's released entry is no longer a's: charging a finds nothing.
        assert_ne!(entry.lock(), a.address());
        assert_eq!(charge(&a, 700, true), 0);
        leave(&b);
    }
}
