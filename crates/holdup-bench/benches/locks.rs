//! Criterion benchmarks: uncontended lock + unlock against std and parking_lot (profiling off
//! and on), and the cost of one sampled event at two stack depths.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended lock+unlock");
    let std_m = std::sync::Mutex::new(0u64);
    g.bench_function("std::sync::Mutex", |b| {
        b.iter(|| *black_box(&std_m).lock().unwrap() += 1)
    });
    let pl_m = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot::Mutex", |b| {
        b.iter(|| *black_box(&pl_m).lock() += 1)
    });
    let h_m = holdup::sync::Mutex::new(0u64);
    for (name, fraction, rate) in [
        ("holdup, profiling off", 0, 0),
        ("holdup, fraction 100 rate 10us", 100, 10_000),
        ("holdup, fraction 1 rate 1", 1, 1),
    ] {
        holdup::set_mutex_profile_fraction(fraction);
        holdup::set_block_profile_rate(rate);
        g.bench_function(name, |b| b.iter(|| *black_box(&h_m).lock().unwrap() += 1));
    }
    holdup::set_mutex_profile_fraction(0);
    holdup::set_block_profile_rate(0);
    g.finish();
}

#[inline(never)]
fn at_depth(depth: usize, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
    } else {
        at_depth(depth - 1, f);
        black_box(depth);
    }
}

fn sampled_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("sampled event (capture + insert)");
    holdup::set_block_profile_rate(1);
    for depth in [16, 64] {
        g.bench_function(
            format!("{depth} user frames, {:?}", holdup::profile::unwinder()),
            |b| {
                at_depth(depth, &mut || b.iter(holdup::__bench::record_sampled_event));
            },
        );
    }
    holdup::set_block_profile_rate(0);
    g.finish();
}

criterion_group!(benches, uncontended, sampled_event);
criterion_main!(benches);
