//! holdup against Go on the same workloads, in one invocation: std, parking_lot and holdup at
//! three settings, and the same workloads written in Go (`go/main.go`, built here with the Go
//! toolchain) with Go's own profilers at the same settings. Rows run interleaved round by
//! round, in alternating order; each row's ratio to its baseline is taken within a round, then
//! the median over the rounds, so that the machine's drift hits both sides of every ratio
//! alike. Beside speed, a workload with a known ground truth gives each side's profile error.
//!
//! It writes `BENCHMARKS.md` (unless `--quick`, or a subset was asked for) and the README's
//! performance table (between its `compare:` markers) from the same numbers.

mod accuracy;
mod family;
mod go;
mod workloads;

use std::path::{Path, PathBuf};

use super::*;
use family::{Family, Holdup, HoldupParkingLot, ParkingLot, Std};
use workloads::Workload;

/// Who runs a row.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Std,
    ParkingLot,
    Holdup,
    Go,
}

/// One row of a comparison: a side at a setting. A holdup or Go row's ratio is taken against
/// the same side's row with profiling off; parking_lot's and holdup's (off) against std's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Row {
    side: Side,
    setting: Setting,
}

impl Row {
    const ALL: [Row; 14] = [
        Row::new(Side::Std, OFF),
        Row::new(Side::ParkingLot, OFF),
        Row::new(Side::Holdup, OFF),
        Row::new(Side::Holdup, PRODUCTION),
        Row::new(Side::Holdup, EVERYTHING),
        Row::new(Side::Holdup, TRACE),
        Row::new(Side::Holdup, FLIGHT),
        Row::new(Side::Holdup, CPU),
        Row::new(Side::Go, OFF),
        Row::new(Side::Go, PRODUCTION),
        Row::new(Side::Go, EVERYTHING),
        Row::new(Side::Go, TRACE),
        Row::new(Side::Go, FLIGHT),
        Row::new(Side::Go, CPU),
    ];

    const fn new(side: Side, setting: Setting) -> Row {
        Row { side, setting }
    }

    /// The name on the command line (`--rows`).
    fn key(self) -> String {
        let side = match self.side {
            Side::Std => return "std".into(),
            Side::ParkingLot => return "parking_lot".into(),
            Side::Holdup => "holdup",
            Side::Go => "go",
        };
        format!("{side}-{}", setting_key(self.setting))
    }

    /// The name in the tables.
    fn name(self) -> String {
        match self.side {
            Side::Std => "std::sync".into(),
            Side::ParkingLot => "parking_lot".into(),
            Side::Holdup => format!("holdup, {}", self.setting.describe()),
            Side::Go => format!("Go, {}", self.setting.describe()),
        }
    }
}

fn setting_key(s: Setting) -> &'static str {
    match s {
        OFF => "off",
        PRODUCTION => "production",
        EVERYTHING => "full",
        TRACE => "trace",
        FLIGHT => "flight",
        CPU => "cpu",
        _ => "custom",
    }
}

/// A row that is measured on its own (std, parking_lot, holdup with profiling off, against
/// each other), in this process.
fn run_rust(row: Row, workload: Workload, threads: usize, dur: Duration) -> Option<f64> {
    match row.side {
        Side::Std => workloads::run::<Std>(workload, threads, dur),
        Side::ParkingLot => workloads::run::<ParkingLot>(workload, threads, dur),
        Side::Holdup => workloads::run::<Holdup>(workload, threads, dur),
        Side::Go => unreachable!("Go rows run the Go program"),
    }
}

/// The order of the settings over `cycles` cycles: as given on even cycles, reversed on odd
/// ones, so that no setting always follows the same one.
fn cycle_order(settings: usize, cycles: usize) -> Vec<usize> {
    (0..cycles)
        .flat_map(|c| (0..settings).map(move |i| if c % 2 == 0 { i } else { settings - 1 - i }))
        .collect()
}

/// One side's settings measured in runs of a workload, switched period by period within each
/// run: the threads, the memory and the lock's dynamics are the same for every setting of a
/// run, and each setting's ratio to profiling off is taken within a cycle. Runs are independent
/// (new threads, or a new Go process): a lock-bound workload keeps its regime (who wins the
/// lock, whether waiters spin or sleep) for a while, so cycles of one run are not independent
/// samples, and the standard error comes from the runs.
struct Cycled {
    /// `settings[0]` is `OFF`.
    settings: Vec<Setting>,
    /// `rates[c][i]`: operations per second in cycle `c` with `settings[i]`.
    rates: Vec<Vec<f64>>,
    /// `run[c]`: the run cycle `c` belongs to.
    run: Vec<usize>,
}

impl Cycled {
    fn new(settings: &[Setting], order: &[usize], rates: &[f64]) -> Cycled {
        let n = settings.len();
        let rates: Vec<Vec<f64>> = order
            .chunks(n)
            .zip(rates.chunks(n))
            .map(|(idx, r)| {
                let mut cycle = vec![0.0; n];
                for (&i, &r) in idx.iter().zip(r) {
                    cycle[i] = r;
                }
                cycle
            })
            .collect();
        Cycled {
            settings: settings.to_vec(),
            run: vec![0; rates.len()],
            rates,
        }
    }

    /// Adds the cycles of another run with the same settings.
    fn add_run(&mut self, other: Cycled) {
        let next = self.run.last().map_or(0, |r| r + 1);
        self.run.extend(other.run.iter().map(|_| next));
        self.rates.extend(other.rates);
    }

    fn index(&self, s: Setting) -> Option<usize> {
        self.settings.iter().position(|&x| x == s)
    }

    /// The median rate with `s`.
    fn rate(&self, s: Setting) -> Option<f64> {
        let i = self.index(s)?;
        Some(median(self.rates.iter().map(|c| c[i]).collect()))
    }

    /// The cycle-by-cycle ratios of `s` to profiling off, sorted.
    fn ratios(&self, s: Setting) -> Option<Vec<f64>> {
        let i = self.index(s)?;
        let mut r: Vec<f64> = self.rates.iter().map(|c| c[i] / c[0]).collect();
        r.sort_by(f64::total_cmp);
        (!r.is_empty()).then_some(r)
    }

    /// The median ratio of `s` to profiling off in each run.
    fn run_ratios(&self, s: Setting) -> Option<Vec<f64>> {
        let i = self.index(s)?;
        let runs = self.run.last().map_or(0, |r| r + 1);
        let per_run: Vec<f64> = (0..runs)
            .filter_map(|k| {
                let r: Vec<f64> = self
                    .rates
                    .iter()
                    .zip(&self.run)
                    .filter(|(_, run)| **run == k)
                    .map(|(c, _)| c[i] / c[0])
                    .collect();
                (!r.is_empty()).then(|| median(r))
            })
            .collect();
        (!per_run.is_empty()).then_some(per_run)
    }
}

/// What a ratio comes to: the median, the range of the samples, and the standard error of the
/// estimate.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    median: f64,
    lo: f64,
    hi: f64,
    se: f64,
}

impl Estimate {
    /// From `samples`, with the standard error from `independent` (samples of independent
    /// runs: the runs' own medians for cycled sides, the rounds for rows run alone).
    fn new(mut samples: Vec<f64>, independent: &[f64]) -> Estimate {
        samples.sort_by(f64::total_cmp);
        Estimate {
            median: median(samples.clone()),
            lo: samples[0],
            hi: samples[samples.len() - 1],
            se: standard_error(independent),
        }
    }
}

/// The per-operation goals, measured here without the noise of contention: an uncontended
/// lock + unlock in time (interleaved with std's) and in instructions (callgrind), and one
/// sampled event's cost (a stack new to the thread, so walked; the same stack again is
/// replayed). Returns the goals and the report's lines.
fn per_operation(quick: bool) -> (Vec<Goal>, Vec<String>) {
    let mut goals = Vec::new();
    let mut lines = Vec::new();
    let (iters, rounds) = if quick { (200_000, 3) } else { (5_000_000, 9) };
    let std_m = Arc::new(std::sync::Mutex::new(0u64));
    let h_m = Arc::new(holdup::sync::Mutex::new(0u64));
    let mut benches: Vec<Bench> = vec![
        ("std", OFF, {
            let m = std_m.clone();
            Box::new(move || *black_box(&m).lock().unwrap() += 1)
        }),
        ("holdup", OFF, {
            let m = h_m.clone();
            Box::new(move || *black_box(&m).lock().unwrap() += 1)
        }),
    ];
    let ns = interleaved(&mut benches, iters, rounds);
    let time = ns[1] / ns[0];
    lines.push(format!(
        "uncontended Mutex lock + unlock: std {:.1} ns, holdup (profiling off) {:.1} ns: {time:.3}x",
        ns[0], ns[1]
    ));
    goals.push(Goal {
        text: format!("uncontended lock + unlock: {time:.3}x std in time (goal: at most 1.05x)"),
        met: time <= 1.05,
    });
    let n = if quick { 100_000 } else { 1_000_000 };
    let per_op = |variant: &str| {
        crate::callgrind::instructions(variant, n).and_then(|a| {
            crate::callgrind::instructions(variant, 2 * n).map(|b| (b - a) as f64 / n as f64)
        })
    };
    match (per_op("std"), per_op("holdup-off")) {
        (Ok(s), Ok(h)) => {
            lines.push(format!(
                "instructions per uncontended lock + unlock (callgrind): std {s:.0}, holdup {h:.0}"
            ));
            goals.push(Goal {
                text: format!(
                    "uncontended lock + unlock: {h:.0} instructions against std's {s:.0}, {:.2}x \
                     (goal: at most 1.10x)",
                    h / s
                ),
                met: h / s <= 1.10,
            });
        }
        (Err(e), _) | (_, Err(e)) => lines.push(format!("instructions not counted: {e}")),
    }
    let (iters, rounds) = if quick { (20_000, 3) } else { (200_000, 7) };
    let has_fp = crate::events::has_frame_pointers();
    let mut unwinders = vec![(holdup::profile::Unwinder::Dwarf, 1000.0)];
    if has_fp {
        unwinders.push((holdup::profile::Unwinder::FramePointers, 150.0));
    } else {
        lines.push(
            "frame pointers: not in this build (RUSTFLAGS=\"-C force-frame-pointers=yes\" \
             measures them)"
                .to_owned(),
        );
    }
    for (unwinder, limit) in unwinders {
        let (same, new) = crate::events::event_cost(16, unwinder, iters, rounds);
        lines.push(format!(
            "one sampled event, 16 user frames, {unwinder:?}: {new:.0} ns for a new stack, \
             {same:.0} ns for the same stack again"
        ));
        goals.push(Goal {
            text: format!(
                "one sampled event at 16 frames, {unwinder:?}: {new:.0} ns for a stack the \
                 thread had not captured recently, {same:.0} ns for the same again (goal: at \
                 most {limit:.0} ns)"
            ),
            met: new <= limit,
        });
    }
    (goals, lines)
}

/// The standard error of a median estimated from `samples` of independent runs: their sample
/// standard deviation over √n (the median of few samples is about as variable as their mean);
/// 0 for fewer than two.
fn standard_error(samples: &[f64]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean = samples.iter().sum::<f64>() / n;
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    var.sqrt() / n.sqrt()
}

/// Runs `workload` once with holdup's primitives, switching between `settings` period by
/// period.
fn cycle_holdup(
    workload: Workload,
    threads: usize,
    settings: &[Setting],
    period: Duration,
    cycles: usize,
) -> Option<Cycled> {
    cycle::<Holdup>(workload, threads, settings, period, cycles)
}

/// Runs `workload` once with family `F`, switching between `settings` period by period.
fn cycle<F: Family>(
    workload: Workload,
    threads: usize,
    settings: &[Setting],
    period: Duration,
    cycles: usize,
) -> Option<Cycled> {
    let running = workloads::start::<F>(workload, threads)?;
    let order = cycle_order(settings.len(), cycles);
    let periods = vec![period; order.len()];
    let rates = running.measure(&periods, |k| settings[order[k]].apply());
    OFF.apply();
    Some(Cycled::new(settings, &order, &rates))
}

/// The seed workload on parking_lot and on holdup's parking_lot mirror: the mirror with
/// profiling off against parking_lot (independent runs, interleaved), and the mirror at
/// production settings against off (switched period by period within each run; the issue's
/// goal: at least 0.97).
pub(crate) fn parking_lot(opts: &Options) {
    let (runs, dur, period, cycles) = if opts.quick {
        (3, Duration::from_millis(300), Duration::from_millis(100), 3)
    } else {
        (9, Duration::from_secs(1), Duration::from_millis(250), 8)
    };
    let threads = 2;
    println!(
        "\n== the seed workload on parking_lot and holdup::parking_lot ({threads} threads, {runs} runs) =="
    );
    for workload in [Workload::Seed, Workload::Short] {
        let mut off_ratio = Vec::new();
        for r in 0..runs {
            let pair = if r % 2 == 0 {
                (
                    workloads::run::<ParkingLot>(workload, threads, dur),
                    workloads::run::<HoldupParkingLot>(workload, threads, dur),
                )
            } else {
                let h = workloads::run::<HoldupParkingLot>(workload, threads, dur);
                (workloads::run::<ParkingLot>(workload, threads, dur), h)
            };
            if let (Some(p), Some(h)) = pair {
                off_ratio.push(h / p);
            }
        }
        let mut production: Option<Cycled> = None;
        for _ in 0..runs {
            if let Some(run) =
                cycle::<HoldupParkingLot>(workload, threads, &[OFF, PRODUCTION], period, cycles)
            {
                match &mut production {
                    Some(c) => c.add_run(run),
                    None => production = Some(run),
                }
            }
        }
        let per_run = production
            .as_ref()
            .and_then(|c| c.run_ratios(PRODUCTION))
            .unwrap_or_default();
        println!(
            "{:<8} holdup::parking_lot off vs parking_lot: {:.3} (± {:.3}); production vs off: {:.3} (± {:.3}; goal at least 0.97)",
            workload.name(),
            median(off_ratio.clone()),
            standard_error(&off_ratio),
            median(per_run.clone()),
            standard_error(&per_run),
        );
    }
}

/// What `compare` was asked to do.
struct Plan {
    workloads: Vec<Workload>,
    rows: Vec<Row>,
    threads: Vec<usize>,
    /// Rounds of the rows measured on their own, and their length.
    rounds: usize,
    dur: Duration,
    /// Independent runs of each side's settings, cycles of the settings switched within a
    /// run, and the length of a period.
    runs: usize,
    cycles: usize,
    period: Duration,
    accuracy: bool,
    quick: bool,
    /// Everything at the default sizes: the report may be written.
    complete: bool,
}

impl Plan {
    fn from(opts: &Options) -> Result<Plan, String> {
        let workloads = match &opts.workloads {
            None => Workload::ALL.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| {
                    Workload::parse(n).ok_or_else(|| {
                        let known: Vec<_> = Workload::ALL.iter().map(|w| w.name()).collect();
                        format!("unknown workload {n:?}; known: {}", known.join(", "))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let rows = match &opts.rows {
            None => Row::ALL.to_vec(),
            Some(keys) => keys
                .iter()
                .map(|k| {
                    Row::ALL.into_iter().find(|r| r.key() == *k).ok_or_else(|| {
                        let known: Vec<_> = Row::ALL.iter().map(|r| r.key()).collect();
                        format!("unknown row {k:?}; known: {}", known.join(", "))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let (rounds, dur, runs, cycles, period) = if opts.quick {
            (
                1,
                Duration::from_millis(100),
                1,
                1,
                Duration::from_millis(50),
            )
        } else {
            (
                8,
                Duration::from_millis(500),
                8,
                3,
                Duration::from_millis(150),
            )
        };
        Ok(Plan {
            quick: opts.quick,
            complete: !opts.quick
                && opts.workloads.is_none()
                && opts.rows.is_none()
                && opts.rounds.is_none(),
            accuracy: opts.workloads.is_none()
                && rows
                    .iter()
                    .any(|r| r.side == Side::Holdup && r.setting == EVERYTHING),
            workloads,
            rows,
            threads: if opts.threads.is_empty() {
                vec![2]
            } else {
                opts.threads.clone()
            },
            rounds: opts.rounds.unwrap_or(rounds),
            dur,
            runs: opts.rounds.unwrap_or(runs),
            cycles,
            period,
        })
    }

    /// The settings a side's cycled run switches between: off, then those of its rows asked
    /// for (none if no row of that side was).
    fn settings(&self, side: Side) -> Vec<Setting> {
        let mut s = vec![OFF];
        s.extend(
            self.rows
                .iter()
                .filter(|r| r.side == side && r.setting != OFF)
                .map(|r| r.setting),
        );
        let any = self.rows.iter().any(|r| r.side == side);
        if any { s } else { Vec::new() }
    }
}

/// The measurements of one workload at one thread count.
struct Measured {
    rows: Vec<Row>,
    /// Operations per second per round, of the rows measured on their own (std, parking_lot,
    /// holdup off); empty for a row the workload cannot run.
    runs: Vec<(Row, Vec<f64>)>,
    holdup: Option<Cycled>,
    go: Option<Cycled>,
    failed: Vec<(Row, String)>,
}

impl Measured {
    fn run(&self, row: Row) -> Option<&[f64]> {
        self.runs
            .iter()
            .find(|(r, v)| *r == row && !v.is_empty())
            .map(|(_, v)| &v[..])
    }

    fn cycled(&self, side: Side) -> Option<&Cycled> {
        match side {
            Side::Holdup => self.holdup.as_ref(),
            Side::Go => self.go.as_ref(),
            _ => None,
        }
    }

    /// The ratio of `row` to its baseline: round by round against std for the rows measured
    /// on their own (each round is an independent run), cycle by cycle against profiling off
    /// for the profiled ones (independent runs give the standard error).
    fn estimate(&self, row: Row) -> Option<Estimate> {
        if row.setting != OFF {
            let c = self.cycled(row.side)?;
            return Some(Estimate::new(
                c.ratios(row.setting)?,
                &c.run_ratios(row.setting)?,
            ));
        }
        if row.side == Side::Std || row.side == Side::Go {
            return None;
        }
        let (a, b) = (self.run(row)?, self.run(Row::new(Side::Std, OFF))?);
        let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
        (!r.is_empty()).then(|| Estimate::new(r.clone(), &r))
    }

    /// The median ratio of `row` to its baseline.
    fn ratio(&self, row: Row) -> Option<f64> {
        self.estimate(row).map(|e| e.median)
    }

    /// The row's operations per second (median).
    fn rate(&self, row: Row) -> Option<f64> {
        if let Some(r) = self.run(row) {
            return Some(median(r.to_vec()));
        }
        self.cycled(row.side)?.rate(row.setting)
    }

    /// The table's lines.
    fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{:<34} {:>12} {:>28} {:>28}",
            "row", "ops/s", "vs off ± se (range)", "vs std ± se (range)"
        )];
        for &row in &self.rows {
            if let Some((_, e)) = self.failed.iter().find(|(r, _)| *r == row) {
                lines.push(format!("{:<34} failed: {e}", row.name()));
                continue;
            }
            let Some(rate) = self.rate(row) else {
                lines.push(format!("{:<34} {:>12}", row.name(), "n/a"));
                continue;
            };
            let shown = self.estimate(row).map_or(String::new(), |e| {
                format!("{:.3} ± {:.3} ({:.2}-{:.2})", e.median, e.se, e.lo, e.hi)
            });
            let (vs_off, vs_std) = if row.setting == OFF {
                (String::new(), shown)
            } else {
                (shown, String::new())
            };
            lines.push(format!(
                "{:<34} {rate:>12.0} {vs_off:>28} {vs_std:>28}",
                row.name()
            ));
        }
        lines
    }
}

fn measure(plan: &Plan, workload: Workload, threads: usize, go: Option<&go::Program>) -> Measured {
    let rows: Vec<Row> = plan
        .rows
        .iter()
        .copied()
        .filter(|r| r.side != Side::Go || go.is_some())
        .collect();
    let alone: Vec<Row> = rows
        .iter()
        .copied()
        .filter(|r| {
            matches!(r.side, Side::Std | Side::ParkingLot | Side::Holdup) && r.setting == OFF
        })
        .collect();
    let mut m = Measured {
        runs: alone.iter().map(|&r| (r, Vec::new())).collect(),
        holdup: None,
        go: None,
        failed: Vec::new(),
        rows,
    };
    for round in 0..plan.rounds {
        // Alternate the order, so that no row always runs right after the same one.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..alone.len()).collect()
        } else {
            (0..alone.len()).rev().collect()
        };
        for i in order {
            if let Some(r) = run_rust(alone[i], workload, threads, plan.dur) {
                m.runs[i].1.push(r);
            }
        }
    }
    // Each side's independent runs, interleaved: holdup, Go, holdup, Go, ...
    let holdup_settings = plan.settings(Side::Holdup);
    let go_settings = if go.is_some() {
        plan.settings(Side::Go)
    } else {
        Vec::new()
    };
    let add = |into: &mut Option<Cycled>, run: Cycled| match into {
        Some(c) => c.add_run(run),
        None => *into = Some(run),
    };
    let mut go_failed = None;
    for _ in 0..plan.runs {
        if holdup_settings.len() > 1
            && let Some(run) = cycle_holdup(
                workload,
                threads,
                &holdup_settings,
                plan.period,
                plan.cycles,
            )
        {
            add(&mut m.holdup, run);
        }
        if let Some(go) = go
            && !go_settings.is_empty()
            && go_failed.is_none()
        {
            match go.cycle(workload, threads, &go_settings, plan.period, plan.cycles) {
                Ok(run) => add(&mut m.go, run),
                Err(e) => go_failed = Some(e),
            }
        }
    }
    if let Some(e) = go_failed {
        m.go = None;
        for &r in m.rows.iter().filter(|r| r.side == Side::Go) {
            m.failed.push((r, e.clone()));
        }
    }
    m
}

/// One goal's outcome, in words, with the margin.
struct Goal {
    text: String,
    met: bool,
}

fn goals_of(workload: Workload, threads: usize, m: &Measured) -> Vec<Goal> {
    let mut goals = Vec::new();
    for (s, limit) in [(PRODUCTION, 0.03), (EVERYTHING, 0.15)] {
        let Some(h) = m.estimate(Row::new(Side::Holdup, s)) else {
            continue;
        };
        let g = m.ratio(Row::new(Side::Go, s));
        let (h_cost, g_cost) = (1.0 - h.median, g.map(|g| 1.0 - g));
        let noise = h.se;
        let met = h_cost <= limit && g_cost.is_none_or(|g| h_cost <= g);
        let within_noise = !met
            && h_cost <= limit + 2.0 * noise
            && g_cost.is_none_or(|g| h_cost <= g + 2.0 * noise);
        goals.push(Goal {
            text: format!(
                "{}, {threads} threads, {}: holdup costs {:.1}% (± {:.1}%){} (goal: at most {:.0}%, and less than Go){}",
                workload.name(),
                s.describe(),
                h_cost * 100.0,
                noise * 100.0,
                g_cost.map_or(", Go not run".to_owned(), |g| format!(", Go {:.1}%", g * 100.0)),
                limit * 100.0,
                if within_noise {
                    "; the difference is within two standard errors"
                } else {
                    ""
                },
            ),
            met,
        });
    }
    // The execution trace (issue goals): tracing at least 0.95 of off, the flight recorder
    // 0.97, beside Go's tracer on the same workload.
    // The CPU profile at 100 Hz: at least 0.99 of off (issue goal, on the CPU-bound and the
    // seed workloads), beside Go's CPU profiler.
    let cpu_goal = matches!(workload, Workload::Compute | Workload::Seed);
    for (s, floor) in [(TRACE, 0.95), (FLIGHT, 0.97), (CPU, 0.99)] {
        if s == CPU && !cpu_goal {
            continue;
        }
        let Some(h) = m.estimate(Row::new(Side::Holdup, s)) else {
            continue;
        };
        let g = m.ratio(Row::new(Side::Go, s));
        goals.push(Goal {
            text: format!(
                "{}, {threads} threads, {}: {:.3} (± {:.3}) of profiling off{} (goal: at least {floor})",
                workload.name(),
                s.describe(),
                h.median,
                h.se,
                g.map_or(", Go not run".to_owned(), |g| format!(", Go {g:.3}")),
            ),
            met: h.median >= floor,
        });
    }
    if workload.contended()
        && let Some(r) = m.ratio(Row::new(Side::Holdup, OFF))
    {
        goals.push(Goal {
            text: format!(
                "{}, {threads} threads, profiling off: {r:.3} of std (goal: at least 0.99)",
                workload.name()
            ),
            met: r >= 0.99,
        });
    }
    goals
}

/// The summary table the README carries: per workload, each side's cost at each setting, with
/// the standard error of its median.
fn summary(measured: &[(Workload, usize, Measured)]) -> Vec<String> {
    let mut lines = vec![
        "| workload | threads | holdup off vs std | holdup, production | Go, production | holdup, full | Go, full | holdup, tracing | Go, tracing | holdup, flight recorder | Go, flight recorder | holdup, CPU profile | Go, CPU profile |".to_owned(),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    let cost = |e: Option<Estimate>| {
        e.map_or("n/a".to_owned(), |e| {
            format!("{:.1}% ± {:.1}", (1.0 - e.median) * 100.0, e.se * 100.0)
        })
    };
    for (w, t, m) in measured {
        let of = |side: Side, s: Setting| cost(m.estimate(Row::new(side, s)));
        lines.push(format!(
            "| {} | {t} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            w.name(),
            m.ratio(Row::new(Side::Holdup, OFF))
                .map_or("n/a".to_owned(), |r| format!("{r:.3}")),
            of(Side::Holdup, PRODUCTION),
            of(Side::Go, PRODUCTION),
            of(Side::Holdup, EVERYTHING),
            of(Side::Go, EVERYTHING),
            of(Side::Holdup, TRACE),
            of(Side::Go, TRACE),
            of(Side::Holdup, FLIGHT),
            of(Side::Go, FLIGHT),
            of(Side::Holdup, CPU),
            of(Side::Go, CPU),
        ));
    }
    lines
}

/// The README's markers around the generated table.
pub(crate) const README_START: &str = "<!-- compare:start (written by holdup-bench compare) -->";
pub(crate) const README_END: &str = "<!-- compare:end -->";

pub(crate) fn compare(opts: &Options) {
    let plan = match Plan::from(opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("holdup-bench compare: {e}");
            std::process::exit(2);
        }
    };
    let go = if plan.rows.iter().any(|r| r.side == Side::Go) {
        match go::Program::build() {
            Ok(p) => Some(p),
            Err(e) => {
                println!("\n(Go rows skipped: {e})");
                None
            }
        }
    } else {
        None
    };
    let machine = format!(
        "{} cores ({}), {}",
        cores(),
        cpu_model(),
        go.as_ref().map_or("no Go", |g| g.version.as_str())
    );
    println!(
        "\nholdup against Go on {machine}: std, parking_lot and holdup off in {} interleaved \
         rounds of {:?}; each side's settings switched within a run, {} runs of {} cycles of \
         {:?} per setting",
        plan.rounds, plan.dur, plan.runs, plan.cycles, plan.period
    );
    let mut measured = Vec::new();
    let mut report: Vec<String> = Vec::new();
    let mut goals: Vec<Goal> = Vec::new();
    for &workload in &plan.workloads {
        for &t in &plan.threads {
            let what = workload.describe(t);
            println!(
                "\n== {} , {t} threads on {} cores: {what} ==",
                workload.name(),
                cores()
            );
            let m = measure(&plan, workload, t, go.as_ref());
            let lines = m.lines();
            for l in &lines {
                println!("{l}");
            }
            report.push(String::new());
            report.push(format!("### {}, {t} threads", workload.name()));
            report.push(String::new());
            report.push(format!("{what}."));
            report.push(String::new());
            report.push("```text".to_owned());
            report.extend(lines);
            report.push("```".to_owned());
            goals.extend(goals_of(workload, t, &m));
            measured.push((workload, t, m));
        }
    }
    let mut accuracy_lines = Vec::new();
    if plan.accuracy {
        println!("\n== accuracy: a known ground truth, at full settings (fraction 1, rate 1) ==");
        EVERYTHING.apply();
        let holdup = accuracy::holdup();
        OFF.apply();
        let go_outcome = go.as_ref().map(|g| g.handoff(EVERYTHING));
        accuracy_lines = accuracy::lines(&holdup, go_outcome.as_ref());
        for l in &accuracy_lines {
            println!("{l}");
        }
        let h = accuracy::worst(&holdup);
        let g = go_outcome
            .as_ref()
            .and_then(|o| o.as_ref().ok())
            .map(accuracy::worst);
        goals.push(Goal {
            text: format!(
                "accuracy: holdup's largest error {h:.1}%{} (goal: at most 2%, and no worse than Go)",
                g.map_or(String::new(), |g| format!(", Go's {g:.1}%"))
            ),
            met: h <= 2.0 && g.is_none_or(|g| h <= g.max(2.0)),
        });
    }
    println!("\n== per operation: uncontended lock + unlock, one sampled event ==");
    let (micro_goals, micro_lines) = per_operation(plan.quick);
    for l in &micro_lines {
        println!("{l}");
    }
    goals.extend(micro_goals);
    println!("\n== goals ==");
    for g in &goals {
        println!("{}: {}", if g.met { "met" } else { "NOT met" }, g.text);
    }
    let summary = summary(&measured);
    println!("\n== summary (cost = 1 - throughput against the same side with profiling off) ==");
    for l in &summary {
        println!("{l}");
    }
    if let Some(go) = &go {
        go.remove();
    }
    if !plan.complete {
        return;
    }
    let mut doc = vec![
        "# holdup against Go: what the mutex and block profiles cost".to_owned(),
        String::new(),
        format!(
            "Written by `cargo run --release -p holdup-bench -- compare` on {}. Machine: \
             {machine}. Settings: off; production (mutex fraction 100, block rate 10 µs); full \
             (fraction 1, rate 1).\n\n\
             How it measures. A cost is 1 - throughput against the same side with profiling \
             off. Each side's settings are switched within a run of the workload, period by \
             period ({} cycles of {:?} per setting, the order reversed every other cycle): the \
             threads, the memory and the lock's dynamics are then the same for every setting, \
             and each ratio is taken within a cycle. A lock-bound workload keeps its regime \
             (which thread wins the lock, whether waiters spin or sleep) for a while, so the \
             cycles of one run are not independent: each side runs {} times, holdup and Go \
             alternately, each run with new threads (a new process for Go). Tables give the \
             median over all cycles, ± the standard error of the mean of the runs' own \
             medians, and the range of the cycles. Go's program switches with \
             `runtime.SetMutexProfileFraction` and `runtime.SetBlockProfileRate`. std, \
             parking_lot and holdup with profiling off run on their own, {} interleaved rounds \
             of {:?}, compared round by round with std. On a 2-core virtual machine, runs of \
             lock-bound loops swing by ±20% whatever the settings: a difference within two \
             standard errors is not one.",
            today(),
            plan.cycles,
            plan.period,
            plan.runs,
            plan.rounds,
            plan.dur,
        ),
        String::new(),
        "## Summary".to_owned(),
        String::new(),
        README_START.to_owned(),
    ];
    doc.extend(summary.iter().cloned());
    doc.push(README_END.to_owned());
    doc.push(String::new());
    doc.push("## Goals".to_owned());
    doc.push(String::new());
    doc.extend(goals.iter().map(|g| {
        format!(
            "- {}: {}",
            if g.met { "met" } else { "**not met**" },
            g.text
        )
    }));
    if !accuracy_lines.is_empty() {
        doc.extend([
            String::new(),
            "## Accuracy".to_owned(),
            String::new(),
            "A holder takes a mutex and holds it 4 ms while 3 threads start waiting; each waiter \
             then holds it 1 ms in turn; 10 rounds. Every waiter times its own wait, from just \
             before `lock()` to the release that let it in (each holder stamps the time just \
             before it unlocks): that is the truth (each side's own). Both profiles should count \
             one event per wait and sum to the waiters' total; errors are signed."
                .to_owned(),
            String::new(),
            "```text".to_owned(),
        ]);
        doc.extend(accuracy_lines);
        doc.push("```".to_owned());
    }
    doc.extend([
        String::new(),
        "## Per operation".to_owned(),
        String::new(),
        "Without contention's noise: an uncontended lock + unlock against std's (interleaved \
         rounds, one call per operation), its instructions (callgrind), and one sampled event \
         (stack capture and bucket update, 16 frames below the program's; \"new\" walks a \
         stack the thread has not captured among its last few, \"again\" replays a walk)."
            .to_owned(),
        String::new(),
        "```text".to_owned(),
    ]);
    doc.extend(micro_lines);
    doc.push("```".to_owned());
    doc.extend([String::new(), "## Workloads".to_owned()]);
    doc.extend(report);
    let workspace = workspace();
    let path = workspace.join("BENCHMARKS.md");
    match std::fs::write(&path, doc.join("\n") + "\n") {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("holdup-bench: writing {}: {e}", path.display()),
    }
    let readme = workspace.join("README.md");
    match replace_between(&readme, &summary) {
        Ok(()) => println!("updated the performance table in {}", readme.display()),
        Err(e) => eprintln!("holdup-bench: README.md: {e}"),
    }
}

/// Replaces the lines between the README's markers with `table`.
fn replace_between(path: &Path, table: &[String]) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (Some(start), Some(end)) = (text.find(README_START), text.find(README_END)) else {
        return Err(format!("no {README_START:?} ... {README_END:?} markers"));
    };
    let head = &text[..start + README_START.len()];
    let tail = &text[end..];
    let updated = format!("{head}\n{}\n{tail}", table.join("\n"));
    std::fs::write(path, updated).map_err(|e| e.to_string())
}

/// The workspace's root.
fn workspace() -> PathBuf {
    let w = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    w.canonicalize().unwrap_or(w)
}

/// Today's date (UTC), as `date -u +%F` prints it.
fn today() -> String {
    Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "an unknown date".to_owned())
}

/// The CPU's model name, from `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_reverse_every_other_time() {
        assert_eq!(cycle_order(3, 3), [0, 1, 2, 2, 1, 0, 0, 1, 2]);
        assert_eq!(cycle_order(1, 2), [0, 0]);
    }

    #[test]
    fn ratios_are_taken_within_a_cycle() {
        let settings = [OFF, PRODUCTION, EVERYTHING];
        let order = cycle_order(3, 2);
        // Cycle 0: off 100, production 90, full 80; cycle 1 (reversed): full 40, production
        // 45, off 50. The machine got twice as slow between them; the ratios did not change.
        let c = Cycled::new(&settings, &order, &[100.0, 90.0, 80.0, 40.0, 45.0, 50.0]);
        assert_eq!(c.ratios(PRODUCTION), Some(vec![0.9, 0.9]));
        assert_eq!(c.ratios(EVERYTHING), Some(vec![0.8, 0.8]));
        assert_eq!(c.ratios(Setting(7, 7, Tracing::Off)), None);
    }

    #[test]
    fn independent_runs_give_the_standard_error() {
        let settings = [OFF, PRODUCTION];
        let order = cycle_order(2, 2);
        // Run 0 costs 10% in both cycles, run 1 costs 20%.
        let mut c = Cycled::new(&settings, &order, &[100.0, 90.0, 90.0, 100.0]);
        c.add_run(Cycled::new(&settings, &order, &[100.0, 80.0, 80.0, 100.0]));
        assert_eq!(c.run_ratios(PRODUCTION), Some(vec![0.9, 0.8]));
        let e = Estimate::new(
            c.ratios(PRODUCTION).unwrap(),
            &c.run_ratios(PRODUCTION).unwrap(),
        );
        assert_eq!((e.lo, e.hi), (0.8, 0.9));
        // The runs' medians are 0.9 and 0.8: standard deviation 0.0707, over √2.
        assert!((e.se - 0.05).abs() < 1e-9, "{e:?}");
        assert_eq!(standard_error(&[0.9]), 0.0);
    }

    #[test]
    fn the_readme_table_is_replaced_between_its_markers() {
        let dir = std::env::temp_dir().join(format!("holdup-bench-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("README.md");
        let text = format!("# x\n\nbefore\n{README_START}\n| old |\n{README_END}\nafter\n");
        std::fs::write(&path, text).unwrap();
        replace_between(&path, &["| a |".to_owned(), "| b |".to_owned()]).unwrap();
        let got = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            got,
            format!("# x\n\nbefore\n{README_START}\n| a |\n| b |\n{README_END}\nafter\n")
        );
        std::fs::write(&path, "no markers\n").unwrap();
        assert!(replace_between(&path, &[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
