//! Accuracy beside speed: a workload whose ground truth is known, run by holdup in this process
//! and by Go (`go/main.go handoff`), each profile's totals set against what the waiters measured
//! themselves.
//!
//! In each of [`ROUNDS`] rounds a holder takes a mutex, lets [`WAITERS`] threads start waiting
//! for it, holds it [`HOLD`] and releases it; each waiter then holds it [`EACH`] in turn, so
//! that every release but the last of a round hands the lock over with waiters queued (Go's
//! charge for `n` waiters is exercised). Every waiter times its own wait, to the release that
//! let it in (see [`handoff`]). The truth:
//!
//! - block profile: one event per wait, their delays summed;
//! - mutex profile: one event per contended release (as many as waits), and the same total
//!   delay: Go's charge spreads the waiting over the releases that end it, and sums to it.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::family::Family;

const ROUNDS: usize = 10;
const WAITERS: usize = 3;
const HOLD: Duration = Duration::from_millis(4);
const EACH: Duration = Duration::from_millis(1);

/// What the waiters measured: waits, and their total in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Truth {
    pub(crate) waits: f64,
    pub(crate) waited_ns: f64,
}

/// What a profile says, summed over the samples of the workload's lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Totals {
    pub(crate) events: f64,
    pub(crate) delay_ns: f64,
}

/// One side's result: its truth and its two profiles' totals.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub(crate) truth: Truth,
    pub(crate) mutex: Totals,
    pub(crate) block: Totals,
}

/// Runs the handoff with `F`'s mutex; the waiters' own measurement. A wait is timed from just
/// before `lock()` to the release that let the waiter in, which each holder stamps just before
/// it unlocks: the end both profiles give a wait (Go stamps it when the releaser readies the
/// waiter), leaving out how long the woken thread then took to run.
fn handoff<F: Family>() -> Truth {
    let m = Arc::new(F::mutex(None::<Instant>));
    let mut waits = 0.0;
    let mut waited = Duration::ZERO;
    for _ in 0..ROUNDS {
        let started = Arc::new(Barrier::new(WAITERS + 1));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            F::lock(&m, |released| {
                for _ in 0..WAITERS {
                    let (m, started, tx) = (m.clone(), started.clone(), tx.clone());
                    s.spawn(move || {
                        started.wait();
                        let t0 = Instant::now();
                        F::lock(&m, |released| {
                            let woken = released.expect("released by the one before");
                            tx.send(woken.saturating_duration_since(t0)).unwrap();
                            std::thread::sleep(EACH);
                            *released = Some(Instant::now());
                        });
                    });
                }
                started.wait();
                std::thread::sleep(HOLD);
                *released = Some(Instant::now());
            });
        });
        drop(tx);
        for w in rx {
            waits += 1.0;
            waited += w;
        }
    }
    Truth {
        waits,
        waited_ns: waited.as_nanos() as f64,
    }
}

/// holdup, in this process, at the settings already applied: the profiles' growth while the
/// handoff ran.
pub(crate) fn holdup() -> Outcome {
    let (mutex0, block0) = (holdup::profile::mutex(), holdup::profile::block());
    let truth = handoff::<super::family::Holdup>();
    let sum = |p: holdup::profile::Profile| {
        p.samples().fold(
            Totals {
                events: 0.0,
                delay_ns: 0.0,
            },
            |t, s| Totals {
                events: t.events + s.count as f64,
                delay_ns: t.delay_ns + s.delay_ns as f64,
            },
        )
    };
    Outcome {
        truth,
        mutex: sum(holdup::profile::mutex().delta(&mutex0)),
        block: sum(holdup::profile::block().delta(&block0)),
    }
}

/// Go, from the program's output and the profiles it wrote to `dir`: samples whose leaf is
/// `sync.(*Mutex).Unlock` (mutex) or `sync.(*Mutex).Lock` (block), which leaves out the
/// coordination (`WaitGroup`) of the workload.
pub(crate) fn go(stdout: &str, dir: &Path) -> Result<Outcome, String> {
    let mut fields = stdout.split_whitespace().map(str::parse::<f64>);
    let (Some(Ok(waits)), Some(Ok(waited_ns))) = (fields.next(), fields.next()) else {
        return Err(format!("unreadable output of the Go handoff: {stdout:?}"));
    };
    let totals = |name: &str, leaf: &str| -> Result<Totals, String> {
        let path = dir.join(format!("{name}.pb.gz"));
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let profile =
            holdup_pprof::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let view = holdup_pprof::ProfileView::new(&profile).map_err(|e| e.to_string())?;
        let (count, delay) = (
            view.sample_index("contentions").unwrap_or(0),
            view.sample_index("delay").unwrap_or(1),
        );
        let mut t = Totals {
            events: 0.0,
            delay_ns: 0.0,
        };
        for s in &profile.sample {
            if view.stack(s).next().is_some_and(|f| f.function == leaf) {
                t.events += s.value.get(count).copied().unwrap_or(0) as f64;
                t.delay_ns += s.value.get(delay).copied().unwrap_or(0) as f64;
            }
        }
        Ok(t)
    };
    Ok(Outcome {
        truth: Truth { waits, waited_ns },
        mutex: totals("mutex", "sync.(*Mutex).Unlock")?,
        block: totals("block", "sync.(*Mutex).Lock")?,
    })
}

/// The table's lines for both sides: each profile's events and delay against the truth.
pub(crate) fn lines(holdup: &Outcome, go: Option<&Result<Outcome, String>>) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<8} {:<7} {:>14} {:>14} {:>9} {:>14} {:>14} {:>9}",
        "who", "profile", "events", "truth", "error", "delay", "truth", "error"
    )];
    let row = |who: &str, o: &Outcome, lines: &mut Vec<String>| {
        for (name, t) in [("mutex", o.mutex), ("block", o.block)] {
            lines.push(format!(
                "{who:<8} {name:<7} {:>14.0} {:>14.0} {:>9} {:>14} {:>14} {:>9}",
                t.events,
                o.truth.waits,
                error(t.events, o.truth.waits),
                ms(t.delay_ns),
                ms(o.truth.waited_ns),
                error(t.delay_ns, o.truth.waited_ns),
            ));
        }
    };
    row("holdup", holdup, &mut lines);
    match go {
        Some(Ok(o)) => row("Go", o, &mut lines),
        Some(Err(e)) => lines.push(format!("Go       failed: {e}")),
        None => {}
    }
    lines
}

/// The relative error of `measured` against `truth`, signed, in percent.
pub(crate) fn error(measured: f64, truth: f64) -> String {
    if truth == 0.0 {
        return "n/a".into();
    }
    format!("{:+.1}%", (measured / truth - 1.0) * 100.0)
}

fn ms(ns: f64) -> String {
    format!("{:.2}ms", ns / 1e6)
}

/// The largest absolute error, in percent, over both profiles' events and delay.
pub(crate) fn worst(o: &Outcome) -> f64 {
    [
        (o.mutex.events, o.truth.waits),
        (o.block.events, o.truth.waits),
        (o.mutex.delay_ns, o.truth.waited_ns),
        (o.block.delay_ns, o.truth.waited_ns),
    ]
    .iter()
    .map(|&(m, t)| {
        if t == 0.0 {
            f64::INFINITY
        } else {
            (m / t - 1.0).abs() * 100.0
        }
    })
    .fold(0.0, f64::max)
}
