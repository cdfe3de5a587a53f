//! The wall-clock view: where request handlers spend their time, computing *and* waiting.
//!
//! Four handler threads parse requests (CPU work), then record the result in a shared journal
//! whose lock is held while it "writes to disk" (a sleep). A CPU profile shows only the
//! parsing; the wall-clock view shows that most of a request's time is the wait for the
//! journal's lock, and where.
//!
//! ```text
//! cargo run --release -p holdup --example wall_clock                  # 2 s, prints the top
//! cargo run --release -p holdup --example wall_clock -- --out DIR     # also DIR/wall.pb.gz, DIR/cpu.pb.gz
//! go tool pprof -top -tagfocus=state=waiting DIR/wall.pb.gz           # the waiting part only
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use holdup::sync::Mutex;

/// Parses a request: about a millisecond of CPU.
fn parse(mut request: u64) -> u64 {
    for _ in 0..400_000 {
        request =
            std::hint::black_box((request ^ (request >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    }
    request
}

/// Records a result: the journal's lock is held while it is "written to disk".
fn record(journal: &Mutex<Vec<u64>>, request: u64) {
    let mut j = journal.lock().unwrap();
    j.push(request);
    std::thread::sleep(Duration::from_micros(500));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out: Option<PathBuf> = None;
    let mut seconds = 2.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(seconds),
            other => {
                return Err(format!("unknown argument {other:?} (--out DIR, --seconds S)").into());
            }
        }
    }
    let window = Duration::from_secs_f64(seconds);

    let journal = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let handlers: Vec<_> = (0..4)
        .map(|i| {
            let (journal, stop) = (journal.clone(), stop.clone());
            holdup::thread::Builder::new()
                .name(format!("handler-{i}"))
                .spawn(move || {
                    let mut request = i as u64;
                    while !stop.load(Ordering::Relaxed) {
                        request = parse(request);
                        record(&journal, request);
                    }
                })
        })
        .collect::<Result<_, _>>()?;

    let cpu = holdup::profile::cpu(window)?;
    let wall = holdup::profile::wall(window)?;
    stop.store(true, Ordering::Relaxed);
    for h in handlers {
        h.join().map_err(|_| "a handler panicked")?;
    }

    let parsing: u64 = cpu
        .samples()
        .iter()
        .filter(|s| s.has_function("wall_clock::parse"))
        .map(|s| s.count)
        .sum();
    println!(
        "CPU profile over {window:?}: {} samples, {parsing} of them in parse: nothing about the journal",
        cpu.total_samples()
    );
    println!(
        "wall-clock view over {window:?}: running {:.2?}, waiting in holdup primitives {:.2?}",
        wall.running(),
        wall.waiting()
    );
    // Per (state, the program's innermost function, the lock), the share of the time.
    let mut rows: HashMap<(String, String, String), i64> = HashMap::new();
    let samples = wall.samples();
    let total: i64 = samples.iter().map(|s| s.wall_ns).sum();
    for s in &samples {
        let function = s
            .frames
            .iter()
            .map(|f| f.function.as_str())
            .find(|f| f.starts_with("wall_clock::") && !f.contains("{{closure}}"))
            // A wait whose stack could not be taken: `holdup::unknown_stack`.
            .or_else(|| s.frames.first().map(|f| f.function.as_str()))
            .unwrap_or("?");
        let key = (
            s.label("state").unwrap_or("").to_owned(),
            function.to_owned(),
            s.label("lock").unwrap_or("").to_owned(),
        );
        *rows.entry(key).or_default() += s.wall_ns;
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    for ((state, function, lock), ns) in rows.iter().take(5) {
        let pct = *ns as f64 * 100.0 / total.max(1) as f64;
        let lock = if lock.is_empty() {
            String::new()
        } else {
            format!(" on the lock made at {lock}")
        };
        println!("  {pct:5.1}%  {state:<8} {function}{lock}");
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(&dir)?;
        wall.write_pprof(std::fs::File::create(dir.join("wall.pb.gz"))?)?;
        cpu.write_pprof(std::fs::File::create(dir.join("cpu.pb.gz"))?)?;
        println!("wrote {0}/wall.pb.gz and {0}/cpu.pb.gz", dir.display());
    }
    Ok(())
}
