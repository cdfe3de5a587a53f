//! The bounded table of profile buckets: one bucket per (stack, lock site, kind, mutated, held),
//! holding the scaled count and delay.
//!
//! Buckets are created under a sharded lock and never freed; their counters are atomics, striped
//! over cache lines, and each thread keeps its recently used buckets in a small direct-mapped
//! cache, so that threads recording the same stack again (the common case: a hot lock) touch no
//! lock and rarely the same cache line. The
//! table is bounded: events that would need a bucket past the bound go to an overflow bucket
//! per lock site and are counted.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hashbrown::HashTable;

use crate::kind::Labels;
use crate::stack;
use crate::state::Budget;

const SHARDS: usize = 16;
/// Entries of the per-thread cache of recently used buckets.
const RECENT: usize = 32;

/// Stack marker of the overflow bucket (never a real return address).
pub const OVERFLOW: usize = 1;
/// Stack marker for events whose stack could not be captured.
pub const NO_STACK: usize = 2;

#[derive(Debug)]
pub struct Table {
    /// Distinguishes the tables' buckets in the per-thread cache.
    id: u64,
    shards: [Mutex<HashTable<Arc<Bucket>>>; SHARDS],
    budget: Budget,
    overflowed: AtomicU64,
}

/// A snapshot of one bucket.
#[derive(Debug, Clone)]
pub struct Record {
    pub stack: Arc<[usize]>,
    pub labels: Labels,
    pub count: f64,
    pub delay: i64,
}

/// Counter stripes per bucket: threads recording the same stack (a hot lock) add to different
/// cache lines; snapshots sum the stripes.
const STRIPES: usize = 4;

#[derive(Debug)]
struct Bucket {
    table: u64,
    hash: u64,
    stack: Arc<[usize]>,
    labels: Labels,
    stripes: [Stripe; STRIPES],
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Stripe {
    /// An `f64` (block events carry fractional weights), as bits.
    count: AtomicU64,
    /// Nanoseconds; would need centuries of waiting to overflow.
    delay: AtomicI64,
}

impl Bucket {
    fn matches(&self, table: u64, hash: u64, stack: &[usize], labels: &Labels) -> bool {
        self.hash == hash && self.table == table && self.labels == *labels && *self.stack == *stack
    }

    fn add(&self, count: f64, delay: i64) {
        let stripe = &self.stripes[stripe_index()];
        let _ = stripe
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + count).to_bits())
            });
        stripe.delay.fetch_add(delay, Ordering::Relaxed);
    }

    fn totals(&self) -> (f64, i64) {
        self.stripes.iter().fold((0.0, 0), |(c, d), s| {
            (
                c + f64::from_bits(s.count.load(Ordering::Relaxed)),
                d + s.delay.load(Ordering::Relaxed),
            )
        })
    }
}

/// This thread's counter stripe, assigned round-robin on first use.
fn stripe_index() -> usize {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static STRIPE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) as usize % STRIPES);
            }
            s.get()
        })
        .unwrap_or(0)
}

thread_local! {
    static RECENT_BUCKETS: RefCell<[Option<Arc<Bucket>>; RECENT]> = const { RefCell::new([const { None }; RECENT]) };
}

impl Table {
    pub const fn new(id: u64) -> Self {
        Table {
            id,
            shards: [const { Mutex::new(HashTable::new()) }; SHARDS],
            budget: Budget::new(),
            overflowed: AtomicU64::new(0),
        }
    }

    /// Adds an event to the bucket of (`stack`, `labels`), creating it if the table has room;
    /// `stack_hash` is the stack's [`hash`](crate::stack::hash).
    pub fn add(
        &self,
        stack: &[usize],
        stack_hash: u64,
        labels: Labels,
        count: f64,
        delay: i64,
        max_buckets: usize,
    ) {
        let (stack, stack_hash) = if stack.is_empty() {
            (&[NO_STACK][..], stack::hash(&[NO_STACK]))
        } else {
            (stack, stack_hash)
        };
        if self.add_existing_or_new(stack, stack_hash, labels, count, delay, Some(max_buckets)) {
            return;
        }
        self.overflowed.fetch_add(1, Ordering::Relaxed);
        let overflow = [OVERFLOW];
        self.add_existing_or_new(
            &overflow,
            stack::hash(&overflow),
            labels,
            count,
            delay,
            None,
        );
    }

    /// Returns false when the bucket does not exist and the budget is exhausted.
    fn add_existing_or_new(
        &self,
        stack: &[usize],
        stack_hash: u64,
        labels: Labels,
        count: f64,
        delay: i64,
        max_buckets: Option<usize>,
    ) -> bool {
        let hash = hash_key(stack_hash, &labels);
        let slot = (hash as usize ^ self.id as usize) % RECENT;
        let cached = RECENT_BUCKETS
            .try_with(|recent| {
                let recent = recent.try_borrow().ok()?;
                let b = recent[slot].as_ref()?;
                b.matches(self.id, hash, stack, &labels)
                    .then(|| b.add(count, delay))
            })
            .ok()
            .flatten();
        if cached.is_some() {
            return true;
        }

        let bucket = {
            let mut shard = self.shards[(hash as usize) % SHARDS]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match shard.find(hash, |b| b.matches(self.id, hash, stack, &labels)) {
                Some(b) => b.clone(),
                None => {
                    if let Some(max) = max_buckets
                        && !self.budget.try_take(max)
                    {
                        return false;
                    }
                    let b = Arc::new(Bucket {
                        table: self.id,
                        hash,
                        stack: stack.into(),
                        labels,
                        stripes: Default::default(),
                    });
                    shard.insert_unique(hash, b.clone(), |b| b.hash);
                    b
                }
            }
        };
        bucket.add(count, delay);
        let _ = RECENT_BUCKETS.try_with(|recent| {
            if let Ok(mut recent) = recent.try_borrow_mut() {
                recent[slot] = Some(bucket);
            }
        });
        true
    }

    /// Every bucket (in no particular order) and the number of events that overflowed.
    pub fn snapshot(&self) -> (Vec<Record>, u64) {
        let mut out = Vec::with_capacity(self.budget.used() + 8);
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.iter().map(|b| {
                let (count, delay) = b.totals();
                Record {
                    stack: b.stack.clone(),
                    labels: b.labels,
                    count,
                    delay,
                }
            }));
        }
        (out, self.overflowed.load(Ordering::Relaxed))
    }
}

/// The bucket's hash: the stack's, mixed with the labels (FxHash's mixing step).
fn hash_key(stack_hash: u64, labels: &Labels) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let tri = |b: Option<bool>| match b {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    };
    let mut h = mix(stack_hash, labels.site as *const _ as u64);
    h = mix(h, labels.kind as u64);
    h = mix(h, tri(labels.mutated));
    mix(h, tri(labels.held_suspended))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    fn labels(kind: Kind) -> Labels {
        Labels {
            site: std::panic::Location::caller(),
            kind,
            mutated: None,
            held_suspended: None,
        }
    }

    #[test]
    fn aggregates_by_stack_and_labels() {
        let t = Table::new(100);
        let l = labels(Kind::Mutex);
        t.add(&[10, 20], stack::hash(&[10, 20]), l, 1.0, 5, 100);
        t.add(&[10, 20], stack::hash(&[10, 20]), l, 2.0, 7, 100);
        t.add(&[10, 21], stack::hash(&[10, 21]), l, 1.0, 1, 100);
        t.add(
            &[10, 20],
            stack::hash(&[10, 20]),
            labels(Kind::Condvar),
            1.0,
            1,
            100,
        );
        let (mut records, overflowed) = t.snapshot();
        records.sort_by_key(|r| (r.stack.to_vec(), r.labels.kind as u8));
        assert_eq!(overflowed, 0);
        assert_eq!(records.len(), 3);
        assert_eq!((records[0].count, records[0].delay), (3.0, 12));
    }

    #[test]
    fn tables_do_not_share_buckets_through_the_thread_cache() {
        let (a, b) = (Table::new(101), Table::new(102));
        let l = labels(Kind::Mutex);
        a.add(&[7], stack::hash(&[7]), l, 1.0, 1, 100);
        b.add(&[7], stack::hash(&[7]), l, 1.0, 1, 100);
        a.add(&[7], stack::hash(&[7]), l, 1.0, 1, 100);
        assert_eq!(a.snapshot().0[0].count, 2.0);
        assert_eq!(b.snapshot().0[0].count, 1.0);
    }

    #[test]
    fn overflow_is_counted_and_kept() {
        let t = Table::new(103);
        let l = labels(Kind::Mutex);
        for i in 0..10 {
            t.add(&[100 + i], stack::hash(&[100 + i]), l, 1.0, 10, 4);
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
    fn concurrent_adds_are_all_counted() {
        let t = std::sync::Arc::new(Table::new(104));
        let l = labels(Kind::Mutex);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        t.add(
                            &[1000 + (i % 3)],
                            stack::hash(&[1000 + (i % 3)]),
                            l,
                            0.5,
                            2,
                            100,
                        );
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        let (records, _) = t.snapshot();
        let count: f64 = records.iter().map(|r| r.count).sum();
        let delay: i64 = records.iter().map(|r| r.delay).sum();
        assert_eq!((count, delay), (20_000.0, 80_000));
    }

    #[test]
    fn empty_stacks_are_marked() {
        let t = Table::new(105);
        t.add(&[], stack::hash(&[]), labels(Kind::Join), 1.0, 1, 4);
        assert_eq!(*t.snapshot().0[0].stack, [NO_STACK]);
    }
}
