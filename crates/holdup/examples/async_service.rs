//! An async service whose throughput is capped by a lock held across an `.await`, found by the
//! profiles in one run.
//!
//! The handler of `GET /visit/{user}` takes the sessions lock (a `tokio::sync::Mutex`, swapped
//! for holdup's), counts the visit, then awaits a slow audit write (about 1 ms) *while still
//! holding the guard*: every other request waits for a task that is not even running. Clients
//! in the same process load the axum server over loopback; the demo prints the throughput, the
//! top of the block and mutex profiles (which name the handler and its `.await`), what a dump
//! shows of the tasks, the held-across-`.await` hint, then runs the fixed handler (the guard
//! dropped before the `.await`) and prints its throughput.
//!
//! Every request runs as a task holdup tracks: one middleware line
//! (`holdup::tokio::instrument`) around axum's handlers, since axum spawns its connection tasks
//! itself.
//!
//! ```text
//! cargo run --release -p holdup --features axum,tokio --example async_service [-- --clients 16 --seconds 2]
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use holdup::tokio::sync::Mutex;

#[path = "report/mod.rs"]
mod report;
use report::print_top;

/// The service's state: visits per user, behind one async lock.
struct Sessions {
    visits: Mutex<HashMap<String, u64>>,
    fixed: bool,
}

/// Stands for the audit log's write: a network round trip of about a millisecond.
async fn audit(user: &str, visits: u64) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    std::hint::black_box((user, visits));
}

/// `GET /visit/{user}`: counts the visit and writes it to the audit log.
async fn visit(State(sessions): State<Arc<Sessions>>, Path(user): Path<String>) -> String {
    if sessions.fixed {
        return visit_fixed(&sessions, user).await;
    }
    let mut visits = sessions.visits.lock().await;
    let n = visits.entry(user.clone()).or_default();
    *n += 1;
    // The bug: the guard is still held while the task waits for the audit log.
    audit(&user, *n).await;
    n.to_string()
}

/// The fix: count under the lock, release it, then await.
async fn visit_fixed(sessions: &Sessions, user: String) -> String {
    let n = {
        let mut visits = sessions.visits.lock().await;
        let n = visits.entry(user.clone()).or_default();
        *n += 1;
        *n
    };
    audit(&user, n).await;
    n.to_string()
}

/// Runs every request as a task holdup tracks (axum spawns connection tasks with plain
/// `tokio::spawn`): its suspensions are then counted, which the `held` label needs.
async fn track(req: Request, next: Next) -> Response {
    holdup::tokio::instrument(next.run(req)).await
}

/// Serves the sessions on a loopback port in a runtime of its own; returns the address.
fn serve(rt: &tokio::runtime::Runtime, sessions: Arc<Sessions>) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/visit/{user}", get(visit))
        .layer(middleware::from_fn(track))
        .with_state(sessions);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Loads the server from `clients` threads for `seconds`; returns requests per second.
fn load(addr: SocketAddr, clients: usize, seconds: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                let url = format!("http://{addr}/visit/user{}", i % 4);
                while !stop.load(Ordering::Relaxed) {
                    match agent.get(&url).call() {
                        Ok(_) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("async_service: request failed: {e}");
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The held-across-`.await` finding, from the mutex profile's `held` label.
fn print_hint(mutex: &holdup::profile::Profile) {
    let total: i64 = mutex.samples().map(|s| s.delay_ns).sum();
    let mut across: HashMap<(String, String), i64> = HashMap::new();
    for s in mutex.samples() {
        if s.label("held") == Some("suspended") {
            // The critical section is the first frame below the unlock.
            let holder = s.frames.get(1).map_or("?", |f| f.function.as_str());
            let lock = s.label("lock").unwrap_or("?");
            *across
                .entry((holder.to_owned(), lock.to_owned()))
                .or_default() += s.delay_ns;
        }
    }
    let Some(((holder, lock), delay)) = across.into_iter().max_by_key(|(_, d)| *d) else {
        println!("\nhint: no lock was held across an .await");
        return;
    };
    if total > 0 {
        println!(
            "\nhint: {:.0}% of the lock delay comes from {holder}, which holds the lock created at \
             {lock} across an .await (held=suspended): its waiters wait for a task that is not \
             running. Drop the guard before awaiting.",
            100.0 * delay as f64 / total as f64
        );
    }
}

/// What a dump shows of the requests: tasks grouped by what they are doing (their status
/// without how long).
fn print_tasks(dump: &holdup::dump::ThreadDump) {
    let mut groups: HashMap<String, usize> = HashMap::new();
    for t in dump.tasks() {
        let status = t.status();
        let what: Vec<&str> = status
            .split(", ")
            .filter(|part| !part.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .collect();
        *groups.entry(what.join(", ")).or_default() += 1;
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!(
        "\n-- tasks in a dump taken during the run ({} tasks) --",
        dump.tasks().len()
    );
    for (what, n) in groups.iter().take(5) {
        println!("{n:>4} task{} [{what}]", if *n == 1 { " " } else { "s" });
    }
}

struct Args {
    clients: usize,
    seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 16,
        seconds: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => {
                args.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?;
                if !(1..=256).contains(&args.clients) {
                    return Err("--clients must be in [1, 256]".into());
                }
            }
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?;
                if !(args.seconds > 0.0 && args.seconds <= 60.0) {
                    return Err("--seconds must be in (0, 60]".into());
                }
            }
            "-h" | "--help" => {
                return Err("usage: async_service [--clients N] [--seconds S]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("async_service: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = demo(&args) {
        eprintln!("async_service: {e}");
        std::process::exit(1);
    }
}

fn demo(args: &Args) -> std::io::Result<()> {
    // The recommended production settings: 1 in 100 contended releases, waits from 10 µs.
    holdup::set_mutex_profile_fraction(100);
    holdup::set_block_profile_rate(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "holdup async demo: {} clients call an axum service for {}s each run",
        args.clients, args.seconds
    );

    println!("\n== run 1: the handler holds the sessions lock across the audit .await ==");
    let sessions = Arc::new(Sessions {
        visits: Mutex::new(HashMap::new()),
        fixed: false,
    });
    let addr = serve(&rt, Arc::clone(&sessions))?;
    let (mutex_before, block_before) = (holdup::profile::mutex(), holdup::profile::block());
    let dump = {
        let half = args.seconds / 2.0;
        let loader = std::thread::spawn({
            let (clients, seconds) = (args.clients, args.seconds);
            move || load(addr, clients, seconds)
        });
        std::thread::sleep(Duration::from_secs_f64(half));
        let dump = holdup::dump::threads();
        let buggy = loader
            .join()
            .map_err(|_| std::io::Error::other("the clients panicked"))?;
        println!("throughput: {buggy:.0} requests/s");
        (dump, buggy)
    };
    let (dump, buggy) = dump;
    let mutex = holdup::profile::mutex().delta(&mutex_before);
    let block = holdup::profile::block().delta(&block_before);
    let (mut mutex_pb, mut block_pb) = (Vec::new(), Vec::new());
    mutex.write_pprof(&mut mutex_pb)?;
    block.write_pprof(&mut block_pb)?;
    print_top("block profile (where requests waited)", &block_pb);
    print_top(
        "mutex profile (who held the lock they waited for)",
        &mutex_pb,
    );
    print_tasks(&dump);
    print_hint(&mutex);

    println!("\n== run 2: the handler drops the guard before the .await ==");
    let sessions = Arc::new(Sessions {
        visits: Mutex::new(HashMap::new()),
        fixed: true,
    });
    let addr = serve(&rt, sessions)?;
    let fixed = load(addr, args.clients, args.seconds);
    println!(
        "throughput: {fixed:.0} requests/s ({:.1}x run 1)",
        fixed / buggy
    );
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
