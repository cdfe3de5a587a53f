//! The contention state of the locks that have waiters now, in a table keyed by the lock's
//! address, so that a lock carries none of it (Go keeps its semaphore waiters the same way, in
//! `semtable`; parking_lot_core keeps its queues in buckets keyed by address).
//!
//! A lock's own memory keeps one bit of this: [`LockMeta`]'s "has waiters" flag, set when the
//! first profiled waiter enters and cleared when the last one leaves, which the uncontended
//! release reads (one relaxed load). Everything else, the waiter count and the times Go's
//! charge needs ([`Contention`]), lives in an entry of this table from the first waiter's
//! arrival to the last one's departure. The table is touched only by threads that are about to
//! block, were just woken, or release a lock others wait for.
//!
//! Each shard is a mutex over a short list of entries; entering, leaving and charging take it,
//! so an entry is created, read and removed by one thread at a time and the flag always agrees
//! with the entry's existence (both change under the shard's lock). The flag may be seen late
//! by a release that raced with a waiter's arrival: that waiter's time is then charged to the
//! next release, as Go's accounting does for a waiter that queues during a release. The shard
//! lists keep their capacity, so a process allocates only when more locks than ever before are
//! contended at once in one shard.

use std::sync::Mutex;

use crate::meta::LockMeta;
use crate::state::Contention;

/// Go's `semTabSize`: a prime, so that addresses with a common stride spread over the shards.
const SHARDS: usize = 251;

struct Entry {
    /// The lock's address.
    lock: usize,
    contention: Contention,
}

static TABLE: [Mutex<Vec<Entry>>; SHARDS] = [const { Mutex::new(Vec::new()) }; SHARDS];

fn shard(lock: usize) -> std::sync::MutexGuard<'static, Vec<Entry>> {
    // Locks are at least 8-byte aligned; Fibonacci hashing spreads neighbouring locks.
    let h = (lock >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as usize);
    let i = (h >> (usize::BITS - 16)) % SHARDS;
    TABLE[i].lock().unwrap_or_else(|e| e.into_inner())
}

/// A profiled waiter of `meta`'s lock starts waiting at `now` (clock ticks).
pub(crate) fn enter(meta: &LockMeta, now: u64) {
    let lock = meta.address();
    let mut entries = shard(lock);
    let i = match entries.iter().position(|e| e.lock == lock) {
        Some(i) => i,
        None => {
            entries.push(Entry {
                lock,
                contention: Contention::new(),
            });
            meta.set_has_waiters(true);
            entries.len() - 1
        }
    };
    entries[i].contention.enter(now);
}

/// A profiled waiter of `meta`'s lock stops waiting (it acquired the lock, or its wait
/// unwound). Returns the time of the lock's last contended release (0 if none), which is when
/// this waiter was woken if it is at least the time it entered.
pub(crate) fn leave(meta: &LockMeta) -> u64 {
    let lock = meta.address();
    let mut entries = shard(lock);
    let Some(i) = entries.iter().position(|e| e.lock == lock) else {
        return 0;
    };
    let released = entries[i].contention.leave();
    if entries[i].contention.waiters() == 0 {
        entries.swap_remove(i);
        meta.set_has_waiters(false);
    }
    released
}

/// A release of `meta`'s lock while it has waiters, at `now`, before the unlock: the waiting
/// that accrued since the previous charge, Go's way (see [`Contention::charge`]).
pub(crate) fn charge(meta: &LockMeta, now: u64, exclusive: bool) -> u64 {
    let lock = meta.address();
    let entries = shard(lock);
    entries
        .iter()
        .find(|e| e.lock == lock)
        .map_or(0, |e| e.contention.charge(now, exclusive))
}

/// The number of profiled waiters of `meta`'s lock now.
#[cfg(test)]
fn waiters(meta: &LockMeta) -> u32 {
    let lock = meta.address();
    let entries = shard(lock);
    entries
        .iter()
        .find(|e| e.lock == lock)
        .map_or(0, |e| e.contention.waiters())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_from_the_first_waiter_to_the_last() {
        let meta = LockMeta::new();
        assert!(!meta.has_waiters());
        enter(&meta, 100);
        enter(&meta, 110);
        assert!(meta.has_waiters());
        assert_eq!(waiters(&meta), 2);
        // Go's charge at 120: the oldest waited 20, the others (one) half of 20 + 10.
        assert_eq!(charge(&meta, 120, true), 35);
        assert_eq!(leave(&meta), 120);
        assert!(meta.has_waiters(), "one waiter is left");
        assert_eq!(leave(&meta), 120);
        assert!(!meta.has_waiters());
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
}
