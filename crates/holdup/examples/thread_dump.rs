//! Thread dumps: a small service with an idle worker pool, a lock everyone queues on, and two
//! threads in a deadlock; holdup dumps every thread, names who holds each lock, and finds the
//! deadlock (a watchdog finds it too).
//!
//! ```text
//! cargo run -p holdup --example thread_dump                 # the full dump, then the grouped one
//! cargo run -p holdup --example thread_dump -- --out DIR    # also writes goroutine.txt (debug=1),
//!                                                           # threads.txt (debug=2), goroutine.pb.gz
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use holdup::dump::{self, Detail};
use holdup::sync::{Barrier, Mutex, mpsc};

/// A pool whose workers wait for jobs on a channel nobody sends to yet.
fn start_pool(n: usize) -> mpsc::Sender<u64> {
    let (tx, rx) = mpsc::channel::<u64>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = Arc::clone(&rx);
        holdup::thread::Builder::new()
            .name(format!("pool-{i}"))
            .spawn(move || worker(&rx))
            .expect("spawn a pool worker");
    }
    tx
}

fn worker(jobs: &Mutex<mpsc::Receiver<u64>>) {
    loop {
        let job = jobs.lock().unwrap().recv();
        match job {
            Ok(n) => std::hint::black_box(n),
            Err(_) => return,
        };
    }
}

/// Threads that queue on one lock while "flusher" holds it for a long time.
fn start_cache(n: usize) -> Arc<Mutex<Vec<u64>>> {
    let cache = Arc::new(Mutex::new(Vec::new()));
    let (held, is_held) = std::sync::mpsc::channel();
    let flusher = Arc::clone(&cache);
    holdup::thread::Builder::new()
        .name("flusher".into())
        .spawn(move || flush(&flusher, &held))
        .expect("spawn the flusher");
    is_held.recv().expect("the flusher holds the lock");
    for i in 0..n {
        let cache = Arc::clone(&cache);
        holdup::thread::Builder::new()
            .name(format!("reader-{i}"))
            .spawn(move || read(&cache))
            .expect("spawn a reader");
    }
    cache
}

fn flush(cache: &Mutex<Vec<u64>>, held: &std::sync::mpsc::Sender<()>) {
    let mut c = cache.lock().unwrap();
    held.send(()).unwrap();
    std::thread::sleep(Duration::from_secs(3600)); // a very slow flush
    c.clear();
}

fn read(cache: &Mutex<Vec<u64>>) -> usize {
    cache.lock().unwrap().len()
}

/// Two threads that take two locks in opposite orders.
fn start_deadlock() {
    let accounts = Arc::new(Mutex::new(0u64));
    let ledger = Arc::new(Mutex::new(0u64));
    let both = Arc::new(Barrier::new(2));
    let (a, l, b) = (
        Arc::clone(&accounts),
        Arc::clone(&ledger),
        Arc::clone(&both),
    );
    holdup::thread::Builder::new()
        .name("transfer".into())
        .spawn(move || transfer(&a, &l, &b))
        .expect("spawn");
    holdup::thread::Builder::new()
        .name("audit".into())
        .spawn(move || audit(&ledger, &accounts, &both))
        .expect("spawn");
}

fn transfer(accounts: &Mutex<u64>, ledger: &Mutex<u64>, both: &Barrier) {
    let mut a = accounts.lock().unwrap();
    both.wait();
    *ledger.lock().unwrap() += 1;
    *a += 1;
}

fn audit(ledger: &Mutex<u64>, accounts: &Mutex<u64>, both: &Barrier) {
    let l = ledger.lock().unwrap();
    both.wait();
    let _ = *accounts.lock().unwrap() + *l;
}

fn main() -> std::io::Result<()> {
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            _ => {
                eprintln!("usage: thread_dump [--out DIR]");
                std::process::exit(2);
            }
        }
    }
    let (found, deadlock) = std::sync::mpsc::channel();
    let found = std::sync::Mutex::new(found);
    let watchdog = dump::Watchdog::builder()
        .interval(Duration::from_millis(50))
        .on_incident(move |incident| {
            if let dump::Incident::Deadlock { .. } = incident {
                let _ = found.lock().unwrap().send(incident.summary());
            }
        })
        .start()?;

    let _jobs = start_pool(4);
    let _cache = start_cache(3);
    start_deadlock();
    let summary = deadlock
        .recv_timeout(Duration::from_secs(30))
        .expect("the watchdog finds the deadlock");
    eprintln!("{summary}\n");
    // Until every thread shows its wait.
    while holdup::thread::registered()
        .iter()
        .filter(|t| t.waiting.is_some())
        .count()
        < 4 + 3 + 2
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(watchdog);

    let dump = dump::threads();
    let mut stdout = std::io::stdout().lock();
    dump.write_text(&mut stdout, Detail::Full)?;
    dump.write_text(&mut stdout, Detail::Grouped)?;
    if let Some(dir) = out {
        std::fs::create_dir_all(&dir)?;
        dump.write_text(
            std::fs::File::create(dir.join("goroutine.txt"))?,
            Detail::Grouped,
        )?;
        dump.write_text(
            std::fs::File::create(dir.join("threads.txt"))?,
            Detail::Full,
        )?;
        dump.write_pprof(std::fs::File::create(dir.join("goroutine.pb.gz"))?)?;
        eprintln!(
            "wrote goroutine.txt, threads.txt and goroutine.pb.gz to {}",
            dir.display()
        );
    }
    // The deadlocked and queued threads never finish; exiting ends them.
    Ok(())
}
