//! Catching leaked threads: a worker pool whose `shutdown` forgets one worker, found by
//! `holdup::leak`, then the fixed pool, which passes.
//!
//! ```text
//! cargo run -p holdup --example leak_check
//! ```
//!
//! In a test, the same check is one line: `let _guard = holdup::leak::Guard::new();` at the
//! top of the test fails it when the guard is dropped and a thread it saw start still runs.

use holdup::leak::{Guard, Options};
use holdup::sync::{Arc, Mutex, mpsc};
use holdup::thread::JoinHandle;

/// A pool of workers that take jobs from one channel.
struct Pool {
    jobs: Option<mpsc::Sender<u64>>,
    workers: Vec<JoinHandle<u64>>,
    /// A "reporter" thread that waits for a summary on its own channel.
    report: Option<mpsc::Sender<u64>>,
}

impl Pool {
    fn start(n: usize) -> Pool {
        let (jobs, queue) = mpsc::channel::<u64>();
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..n)
            .map(|i| {
                let queue = Arc::clone(&queue);
                holdup::thread::Builder::new()
                    .name(format!("pool-worker-{i}"))
                    .spawn(move || work(&queue))
                    .expect("spawn a worker")
            })
            .collect();
        let (report, summaries) = mpsc::channel::<u64>();
        holdup::thread::Builder::new()
            .name("pool-reporter".into())
            .spawn(move || summaries.iter().sum::<u64>())
            .expect("spawn the reporter");
        Pool {
            jobs: Some(jobs),
            workers,
            report: Some(report),
        }
    }

    fn submit(&self, job: u64) {
        if let Some(jobs) = &self.jobs {
            jobs.send(job).expect("the workers are running");
        }
    }

    /// The bug: closes the job queue and joins the workers, but forgets the reporter, whose
    /// channel stays open as long as the pool value lives, so the reporter keeps waiting.
    fn shutdown_buggy(&mut self) -> u64 {
        self.jobs.take();
        self.workers
            .drain(..)
            .map(|w| w.join().expect("worker"))
            .sum()
    }

    /// The fix: every channel closes, every thread ends.
    fn shutdown(mut self) -> u64 {
        self.jobs.take();
        let total = self
            .workers
            .drain(..)
            .map(|w| w.join().expect("worker"))
            .sum();
        if let Some(report) = self.report.take() {
            let _ = report.send(total);
        }
        total
    }
}

fn work(queue: &Mutex<mpsc::Receiver<u64>>) -> u64 {
    let mut done = 0;
    loop {
        let job = queue.lock().unwrap().recv();
        match job {
            Ok(n) => done += n,
            Err(_) => return done,
        }
    }
}

fn main() {
    println!("== a pool whose shutdown forgets a thread ==");
    let guard = Guard::with(Options::new());
    let mut pool = Pool::start(4);
    for job in 0..100 {
        pool.submit(job);
    }
    println!("jobs done: {}", pool.shutdown_buggy());
    match guard.check() {
        Ok(()) => println!("no leak (unexpected)"),
        Err(leaks) => println!("{leaks}"),
    }
    drop(pool); // the reporter's channel closes now, and the reporter ends

    println!("== the fixed pool ==");
    let guard = Guard::new();
    let pool = Pool::start(4);
    for job in 0..100 {
        pool.submit(job);
    }
    println!("jobs done: {}", pool.shutdown());
    match guard.check() {
        Ok(()) => println!("no leaked threads"),
        Err(leaks) => {
            println!("{leaks}");
            std::process::exit(1);
        }
    }
}
