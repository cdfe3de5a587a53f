//! Serving profiles over /debug/pprof/, and the seed workload while it is scraped.

use super::*;
use crate::contended::{Cache, Lookup, checksum, entries, throughput};

/// Two distinct frames for [`distinct_stack`] to choose between at each level.
#[inline(never)]
pub(crate) fn path_a(bits: u32, level: u32) {
    distinct_stack(bits, level);
    black_box(level);
}

#[inline(never)]
pub(crate) fn path_b(bits: u32, level: u32) {
    distinct_stack(bits, level);
    black_box(level);
}

/// Records one mutex event on a stack that spells `bits` (14 levels of `path_a`/`path_b`), so
/// that every value of `bits` below 2^14 gives a different stack.
#[inline(never)]
pub(crate) fn distinct_stack(bits: u32, level: u32) {
    if level == 14 {
        holdup::__bench::record_sampled_mutex_event();
    } else if bits >> level & 1 == 0 {
        path_a(bits, level + 1);
    } else {
        path_b(bits, level + 1);
    }
}

/// The distinct stacks in the mutex profile now.
pub(crate) fn mutex_stacks() -> usize {
    holdup::profile::mutex().len()
}

/// Fills the mutex profile up to `n` distinct stacks.
pub(crate) fn fill_mutex_profile(n: u32) {
    for bits in 0..n {
        distinct_stack(bits, 0);
    }
}

/// GETs `url` and returns the body's length (panics on failure: a benchmark must not report
/// numbers for errors).
pub(crate) fn fetch(agent: &ureq::Agent, url: &str) -> usize {
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    r.body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .len()
}

pub(crate) fn http(opts: &Options) {
    let quick = opts.quick;
    println!("\n== /debug/pprof/ over HTTP (loopback, one keep-alive client) ==");
    let server = holdup::http::serve("127.0.0.1:0").expect("serve /debug/pprof/");
    let base = format!("http://{}/debug/pprof", server.local_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    holdup::profile::set_max_buckets(20_000);

    // Requests per second for the mutex profile with 1,000 distinct stacks.
    fill_mutex_profile(1_000);
    let stacks = mutex_stacks();
    let started = Instant::now();
    let cold = fetch(&agent, &format!("{base}/mutex"));
    let cold_ms = started.elapsed().as_secs_f64() * 1e3;
    let window = Duration::from_millis(if quick { 500 } else { 3_000 });
    let started = Instant::now();
    let mut requests = 0u64;
    while started.elapsed() < window {
        black_box(fetch(&agent, &format!("{base}/mutex")));
        requests += 1;
    }
    let per_second = requests as f64 / started.elapsed().as_secs_f64();
    println!(
        "mutex profile, {stacks} stacks ({cold} bytes): first request {cold_ms:.1} ms (symbolizes); then {per_second:.0} requests/s ({:.2} ms each)",
        1e3 / per_second
    );

    // The seed workload's throughput while a scraper fetches mutex, block and goroutine every
    // second (as Alloy and Parca do, at a 15 s and 10 s interval), against no scraper.
    // Pairs of runs, alternating which goes first (drift on a shared machine then cancels),
    // reported as the median of the pairs' ratios.
    let (dur, pairs) = if quick {
        (Duration::from_millis(1_200), 2)
    } else {
        (Duration::from_secs(2), 12)
    };
    let cache = Arc::new(Cache {
        map: holdup::sync::RwLock::new(entries()),
    });
    let lookup: Lookup = {
        let c = cache.clone();
        Arc::new(move |k| c.map.write().unwrap().get(&k).map_or(0, |v| checksum(v)))
    };
    let scraped_run = |lookup: Lookup| {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let scraper = {
            let (agent, base) = (agent.clone(), base.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                loop {
                    let tick = Instant::now();
                    for p in ["mutex", "block", "goroutine"] {
                        black_box(fetch(&agent, &format!("{base}/{p}")));
                    }
                    n += 1;
                    let rest = Duration::from_secs(1).saturating_sub(tick.elapsed());
                    if stopped.recv_timeout(rest) != Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    {
                        return n;
                    }
                }
            })
        };
        let r = throughput(2, dur, lookup);
        drop(stop);
        (r, scraper.join().unwrap())
    };
    PRODUCTION.apply();
    let (mut plain, mut scraped, mut ratios, mut scrapes) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for i in 0..pairs {
        let (p, (s, n)) = if i % 2 == 0 {
            let p = throughput(2, dur, lookup.clone());
            (p, scraped_run(lookup.clone()))
        } else {
            let s = scraped_run(lookup.clone());
            (throughput(2, dur, lookup.clone()), s)
        };
        plain.push(p);
        scraped.push(s);
        ratios.push(s / p);
        scrapes += n;
    }
    OFF.apply();
    println!(
        "seed workload, 2 threads, fraction 100 / rate 10us: {:.0} lookups/s unscraped, {:.0} scraped every second ({scrapes} scrapes of mutex+block+goroutine); median ratio of {pairs} pairs: {:.3} of unscraped",
        median(plain),
        median(scraped),
        median(ratios)
    );

    // Time to serve a 10,000-stack profile.
    fill_mutex_profile(10_000);
    let stacks = mutex_stacks();
    let mut times = Vec::new();
    let mut bytes = 0;
    let started = Instant::now();
    bytes = bytes.max(fetch(&agent, &format!("{base}/mutex")));
    let cold_ms = started.elapsed().as_secs_f64() * 1e3;
    for _ in 0..if quick { 3 } else { 9 } {
        let started = Instant::now();
        bytes = bytes.max(fetch(&agent, &format!("{base}/mutex")));
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let started = Instant::now();
    let text = fetch(&agent, &format!("{base}/mutex?debug=1"));
    let text_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "mutex profile, {stacks} stacks ({bytes} bytes): {:.1} ms to serve (median; first request {cold_ms:.1} ms); debug=1 text ({text} bytes) {text_ms:.1} ms",
        median(times)
    );
    server.shutdown();
}
