//! The bounded table of profile buckets: one bucket per (stack, lock site, kind, mutated),
//! holding the scaled count and delay. Sharded so that threads recording different stacks do
//! not serialize; bounded so that memory stays flat (events past the bound are added to an
//! overflow bucket per lock site and counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hashbrown::HashTable;

use super::Labels;
use crate::state::Budget;

const SHARDS: usize = 16;

/// Stack marker of the overflow bucket (never a real return address).
pub(crate) const OVERFLOW: usize = 1;
/// Stack marker for events whose stack could not be captured.
pub(crate) const NO_STACK: usize = 2;

#[derive(Debug)]
pub(crate) struct Table {
    shards: [Mutex<HashTable<Bucket>>; SHARDS],
    budget: Budget,
    overflowed: AtomicU64,
}

/// A snapshot of one bucket.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) stack: Arc<[usize]>,
    pub(crate) labels: Labels,
    pub(crate) count: f64,
    pub(crate) delay: i64,
}

#[derive(Debug)]
struct Bucket {
    hash: u64,
    record: Record,
}

impl Table {
    pub(crate) const fn new() -> Self {
        Table {
            shards: [const { Mutex::new(HashTable::new()) }; SHARDS],
            budget: Budget::new(),
            overflowed: AtomicU64::new(0),
        }
    }

    /// Adds an event to the bucket of (`stack`, `labels`), creating it if the table has room.
    pub(crate) fn add(&self, stack: &[usize], labels: Labels, count: f64, delay: i64, max_buckets: usize) {
        let stack = if stack.is_empty() { &[NO_STACK][..] } else { stack };
        if self.add_existing_or_new(stack, labels, count, delay, Some(max_buckets)) {
            return;
        }
        self.overflowed.fetch_add(1, Ordering::Relaxed);
        self.add_existing_or_new(&[OVERFLOW], labels, count, delay, None);
    }

    /// Returns false when the bucket does not exist and the budget is exhausted.
    fn add_existing_or_new(
        &self,
        stack: &[usize],
        labels: Labels,
        count: f64,
        delay: i64,
        max_buckets: Option<usize>,
    ) -> bool {
        let hash = hash_key(stack, &labels);
        let mut shard = self.shards[(hash as usize) % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
        let found = shard.find_mut(hash, |b| {
            b.hash == hash && b.record.labels == labels && *b.record.stack == *stack
        });
        if let Some(b) = found {
            b.record.count += count;
            b.record.delay = b.record.delay.saturating_add(delay);
            return true;
        }
        if let Some(max) = max_buckets
            && !self.budget.try_take(max)
        {
            return false;
        }
        let record = Record { stack: stack.into(), labels, count, delay };
        shard.insert_unique(hash, Bucket { hash, record }, |b| b.hash);
        true
    }

    /// Every bucket (in no particular order) and the number of events that overflowed.
    pub(crate) fn snapshot(&self) -> (Vec<Record>, u64) {
        let mut out = Vec::with_capacity(self.budget.used() + 8);
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.iter().map(|b| b.record.clone()));
        }
        (out, self.overflowed.load(Ordering::Relaxed))
    }
}

/// A fast multiplicative hash (FxHash's mixing step) over the stack words and labels.
fn hash_key(stack: &[usize], labels: &Labels) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let mut h = mix(0, labels.site as *const _ as u64);
    h = mix(h, labels.kind as u64);
    h = mix(h, match labels.mutated {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
    for &w in stack {
        h = mix(h, w as u64);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Kind;

    fn labels(kind: Kind) -> Labels {
        Labels { site: std::panic::Location::caller(), kind, mutated: None }
    }

    #[test]
    fn aggregates_by_stack_and_labels() {
        let t = Table::new();
        let l = labels(Kind::Mutex);
        t.add(&[10, 20], l, 1.0, 5, 100);
        t.add(&[10, 20], l, 2.0, 7, 100);
        t.add(&[10, 21], l, 1.0, 1, 100);
        t.add(&[10, 20], labels(Kind::Condvar), 1.0, 1, 100);
        let (mut records, overflowed) = t.snapshot();
        records.sort_by_key(|r| (r.stack.to_vec(), r.labels.kind as u8));
        assert_eq!(overflowed, 0);
        assert_eq!(records.len(), 3);
        assert_eq!((records[0].count, records[0].delay), (3.0, 12));
    }

    #[test]
    fn overflow_is_counted_and_kept() {
        let t = Table::new();
        let l = labels(Kind::Mutex);
        for i in 0..10 {
            t.add(&[100 + i], l, 1.0, 10, 4);
        }
        let (records, overflowed) = t.snapshot();
        assert_eq!(overflowed, 6);
        assert_eq!(records.len(), 5);
        let over = records.iter().find(|r| *r.stack == [OVERFLOW]).unwrap();
        assert_eq!((over.count, over.delay), (6.0, 60));
        let total: i64 = records.iter().map(|r| r.delay).sum();
        assert_eq!(total, 100, "no event is lost");
    }

    #[test]
    fn empty_stacks_are_marked() {
        let t = Table::new();
        t.add(&[], labels(Kind::Join), 1.0, 1, 4);
        assert_eq!(*t.snapshot().0[0].stack, [NO_STACK]);
    }
}
