//! The execution trace, decoded from the Perfetto file it writes: a scripted scenario gives
//! exactly the expected slices, flows and ordering, and the file keeps the rules Perfetto's
//! importer relies on (checked by `TraceView::decode`).

mod common;

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use holdup::trace;
use holdup_pprof::perfetto::{Phase, Slice, TraceView};

/// Writes `t` as Perfetto, keeps a copy under `target/traces/` (CI reads them with Perfetto's
/// own schema), and decodes it.
fn decode(t: &trace::Trace, name: &str) -> TraceView {
    let mut bytes = Vec::new();
    t.write_perfetto(&mut bytes).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/traces");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{name}.pftrace")), &bytes);
    TraceView::decode(&bytes).expect("a valid Perfetto trace")
}

fn on_thread<'a>(view: &TraceView, slices: &'a [Slice], thread: &str) -> Vec<&'a Slice> {
    let tracks: Vec<u64> = view
        .tracks
        .iter()
        .filter(|t| t.name == thread && t.thread.is_some())
        .map(|t| t.uuid)
        .collect();
    assert!(!tracks.is_empty(), "no track for thread {thread}");
    slices
        .iter()
        .filter(|s| tracks.contains(&s.track))
        .collect()
}

#[test]
fn two_threads_one_lock_one_channel_one_region() {
    let _serial = holdup_core::trace::test_lock();
    trace::start().unwrap();
    let lock_line = line!() + 1;
    let lock = std::sync::Arc::new(holdup::sync::Mutex::new(0u64));
    let (tx, rx) = holdup::sync::mpsc::channel::<u64>();
    let (locked_tx, locked_rx) = std_mpsc::channel();
    let a = {
        let lock = lock.clone();
        std::thread::Builder::new()
            .name("trace-a".into())
            .spawn(move || {
                trace::region("hold", || {
                    let mut g = lock.lock().unwrap();
                    locked_tx.send(()).unwrap();
                    // B is waiting for the lock by now (it spins 100 pauses, then parks).
                    std::thread::sleep(Duration::from_millis(60));
                    *g += 1;
                });
            })
            .unwrap()
    };
    locked_rx.recv().unwrap();
    let b = {
        let lock = lock.clone();
        std::thread::Builder::new()
            .name("trace-b".into())
            .spawn(move || {
                *lock.lock().unwrap() += 1;
                trace::log("cache", "miss");
                tx.send(7).unwrap();
            })
            .unwrap()
    };
    // Main waits on the channel until B sends, after its wait for the lock.
    assert_eq!(rx.recv().unwrap(), 7);
    a.join().unwrap();
    b.join().unwrap();
    let t = trace::stop().unwrap();
    assert_eq!(t.dropped(), 0);
    let view = decode(&t, "scenario");
    let slices = view.slices();

    // B: one mutex wait of about A's 60 ms hold, at the lock's site, ended by the acquisition.
    let b_slices = on_thread(&view, &slices, "trace-b");
    let waits: Vec<_> = b_slices.iter().filter(|s| s.name == "mutex wait").collect();
    assert_eq!(waits.len(), 1, "{b_slices:#?}");
    let wait = waits[0];
    assert_eq!(wait.arg("kind"), Some("mutex"));
    let site = format!("{}:{lock_line}", file!());
    assert_eq!(wait.arg("site"), Some(site.as_str()));
    assert_eq!(wait.arg("outcome"), Some("done"));
    assert!(
        wait.dur >= 40_000_000 && wait.dur < 2_000_000_000,
        "waited {} ns",
        wait.dur
    );
    let stack = wait.stack.as_ref().expect("the wait's stack");
    let leaf = &stack.last().unwrap().function;
    assert!(
        leaf.contains("Mutex") && leaf.contains("lock"),
        "leaf {leaf}"
    );
    assert!(
        stack
            .iter()
            .any(|f| f.function.contains("two_threads_one_lock")),
        "{stack:#?}"
    );
    let acquired = b_slices
        .iter()
        .find(|s| s.name == "acquired")
        .expect("B's acquisition");
    assert_eq!(acquired.begin.ts, wait.begin.ts + wait.dur);
    assert!(
        b_slices
            .iter()
            .any(|s| s.name == "cache" && s.arg("message") == Some("miss"))
    );

    // A: the region, and inside it the unlock whose arrow goes to B's acquisition.
    let a_slices = on_thread(&view, &slices, "trace-a");
    let region = a_slices
        .iter()
        .find(|s| s.name == "hold")
        .expect("A's region");
    let unlock = a_slices
        .iter()
        .find(|s| s.name == "unlock")
        .expect("A's unlock");
    assert!(region.begin.ts <= unlock.begin.ts && unlock.begin.ts <= region.begin.ts + region.dur);
    assert!(wait.begin.ts < unlock.begin.ts && unlock.begin.ts <= acquired.begin.ts);
    assert_eq!(unlock.flows_out.len(), 1);
    assert_eq!(acquired.flows_in, unlock.flows_out);

    // The lock's track: held by B from the acquisition, and its waiters counter.
    let lock_track = view
        .tracks
        .iter()
        .find(|t| t.name == format!("mutex {site}"))
        .expect("the lock's track");
    let held: Vec<_> = slices
        .iter()
        .filter(|s| s.track == lock_track.uuid)
        .collect();
    assert_eq!(held.len(), 1);
    assert!(held[0].name.starts_with("held by thread ") && held[0].name.ends_with("\"trace-b\""));
    assert_eq!(held[0].begin.ts, acquired.begin.ts);
    let counter = view
        .tracks
        .iter()
        .find(|t| t.parent == Some(lock_track.uuid) && t.name == "waiters")
        .expect("the waiters counter");
    let counts: Vec<i64> = view
        .events
        .iter()
        .filter(|e| e.track == counter.uuid)
        .map(|e| match e.phase {
            Phase::Counter(v) => v,
            _ => panic!("a counter track holds counters"),
        })
        .collect();
    assert_eq!(counts, [1, 0]);

    // Main: a channel receive that ends after B's acquisition (B sent after it).
    let main_waits: Vec<_> = slices
        .iter()
        .filter(|s| s.name == "chan-recv wait")
        .collect();
    assert_eq!(main_waits.len(), 1, "{main_waits:#?}");
    let recv = main_waits[0];
    assert!(recv.begin.ts + recv.dur >= acquired.begin.ts);
    // ... woken by B's send: an arrow from the send to the end of the wait.
    let send = b_slices
        .iter()
        .find(|s| s.name == "send")
        .expect("B's send, which woke the receiver");
    let woken = slices
        .iter()
        .find(|s| s.name == "woken" && s.track == recv.track)
        .expect("the receiver's wake-up");
    assert_eq!(woken.flows_in, send.flows_out);
    assert_eq!(woken.begin.ts, recv.begin.ts + recv.dur);
    assert!(send.begin.ts <= woken.begin.ts && send.begin.ts >= recv.begin.ts);
}

#[test]
fn nothing_is_recorded_when_off_and_errors_are_gos() {
    let _serial = holdup_core::trace::test_lock();
    assert_eq!(
        trace::stop().unwrap_err().to_string(),
        "tracing is not enabled"
    );
    trace::start().unwrap();
    assert_eq!(
        trace::start().unwrap_err().to_string(),
        "tracing is already enabled"
    );
    let t = trace::stop().unwrap();
    let view = decode(&t, "empty");
    assert!(view.slices().is_empty());
}

#[test]
fn flight_recorder_errors_are_gos() {
    let _serial = holdup_core::trace::test_lock();
    let fr = trace::FlightRecorder::new(trace::FlightConfig::default());
    let err = fr.write_to(Vec::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot snapshot a disabled flight recorder"
    );
    fr.start().unwrap();
    assert_eq!(
        fr.start().unwrap_err().to_string(),
        "cannot enable a enabled flight recorder"
    );
    let other = trace::FlightRecorder::new(trace::FlightConfig::default());
    assert_eq!(
        other.start().unwrap_err().to_string(),
        "flight recorder already enabled"
    );
    trace::region("after start", || ());
    let mut out = Vec::new();
    let n = fr.write_to(&mut out).unwrap();
    assert_eq!(n as usize, out.len());
    let view = TraceView::decode(&out).unwrap();
    assert!(view.slices().iter().any(|s| s.name == "after start"));
    fr.stop();
    assert!(!fr.enabled());
}

/// Tasks: their waits on their own tracks (between polls, wherever they ran), their polls on
/// the worker threads' tracks, and the arrow from the holder task's unlock to the waiter.
#[cfg(feature = "tokio")]
#[test]
fn tasks_wait_on_their_tracks_and_polls_show_on_workers() {
    let _serial = holdup_core::trace::test_lock();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    trace::start().unwrap();
    let lock = std::sync::Arc::new(holdup::tokio::sync::Mutex::new(0u64));
    rt.block_on(async {
        let holder = {
            let lock = lock.clone();
            holdup::tokio::task::Builder::new()
                .name("holder")
                .spawn(async move {
                    let mut g = lock.lock().await;
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    *g += 1;
                })
                .unwrap()
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let waiter = {
            let lock = lock.clone();
            holdup::tokio::task::Builder::new()
                .name("waiter")
                .spawn(async move { *lock.lock().await += 1 })
                .unwrap()
        };
        holder.await.unwrap();
        waiter.await.unwrap();
    });
    let t = trace::stop().unwrap();
    let view = decode(&t, "tasks");
    let slices = view.slices();
    let waiter_track = view
        .tracks
        .iter()
        .find(|t| t.name.starts_with("task ") && t.name.ends_with("\"waiter\""))
        .expect("the waiter task's track");
    let waits: Vec<_> = slices
        .iter()
        .filter(|s| s.track == waiter_track.uuid && s.name == "mutex wait")
        .collect();
    assert_eq!(waits.len(), 1, "{slices:#?}");
    assert!(waits[0].dur >= 15_000_000, "waited {} ns", waits[0].dur);
    assert_eq!(waits[0].arg("outcome"), Some("done"));
    let acquired = slices
        .iter()
        .find(|s| s.track == waiter_track.uuid && s.name == "acquired")
        .expect("the waiter's acquisition");
    let holder_track = view
        .tracks
        .iter()
        .find(|t| t.name.starts_with("task ") && t.name.ends_with("\"holder\""))
        .expect("the holder task's track");
    let unlock = slices
        .iter()
        .find(|s| s.track == holder_track.uuid && s.name == "unlock")
        .expect("the holder's unlock");
    assert_eq!(acquired.flows_in, unlock.flows_out);
    // Polls of both tasks on worker threads.
    let polls: Vec<_> = slices
        .iter()
        .filter(|s| s.begin.category == "poll")
        .collect();
    assert!(polls.iter().any(|s| s.name.ends_with("\"waiter\"")));
    assert!(polls.iter().any(|s| s.name.ends_with("\"holder\"")));
    assert!(
        polls
            .iter()
            .all(|s| view.track(s.track).is_some_and(|t| t.thread.is_some()))
    );
}

/// The flight recorder after 30 s of activity with a 2 s age limit: its snapshot holds the last
/// 2 s (at least) and nothing older than the limit allows, its memory stays under its budget,
/// and a concurrent `write_to` gets Go's error.
#[test]
fn flight_recorder_keeps_the_last_seconds() {
    let _serial = holdup_core::trace::test_lock();
    let config = trace::FlightConfig {
        min_age: Duration::from_secs(2),
        max_bytes: 4 << 20,
    };
    let fr = std::sync::Arc::new(trace::FlightRecorder::new(config));
    fr.start().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let lock = std::sync::Arc::new(holdup::sync::Mutex::new(0u64));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, lock) = (stop.clone(), lock.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    trace::region("work", || {
                        let mut g = lock.lock().unwrap();
                        *g += 1;
                        std::thread::sleep(Duration::from_micros(200));
                    });
                }
            })
        })
        .collect();
    let mut peak = 0;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        peak = peak.max(holdup_core::trace::held_bytes());
    }
    // A snapshot whose writer is slow: another one meanwhile is refused with Go's error.
    struct Slow {
        out: Vec<u8>,
        writing: std_mpsc::Sender<()>,
        go_on: std_mpsc::Receiver<()>,
    }
    impl std::io::Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.out.is_empty() {
                self.writing.send(()).unwrap();
                self.go_on.recv().unwrap();
            }
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (writing, started) = std_mpsc::channel();
    let (go_on_tx, go_on) = std_mpsc::channel();
    let bytes = std::thread::scope(|s| {
        let slow = s.spawn(|| {
            let mut w = Slow {
                out: Vec::new(),
                writing,
                go_on,
            };
            fr.write_to(&mut w).unwrap();
            w.out
        });
        started.recv().unwrap();
        let err = fr.write_to(Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "call to WriteTo for trace.FlightRecorder already in progress"
        );
        go_on_tx.send(()).unwrap();
        slow.join().unwrap()
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    fr.stop();
    assert!(peak <= config.max_bytes, "held {peak} bytes");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/traces");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("flight.pftrace"), &bytes);
    let view = TraceView::decode(&bytes).unwrap();
    let regions: Vec<_> = view
        .slices()
        .into_iter()
        .filter(|s| s.name == "work")
        .collect();
    let first = regions.iter().map(|s| s.begin.ts).min().unwrap();
    let last = regions.iter().map(|s| s.begin.ts + s.dur).max().unwrap();
    let span = Duration::from_nanos(last - first);
    // At least the last 2 s, nothing from before them (the window starts at the age limit:
    // slices begun before it start there).
    assert!(span >= Duration::from_millis(1900), "covers {span:?}");
    assert!(span <= Duration::from_millis(2600), "covers {span:?}");
}

/// The trace's block profile (every wait) agrees with the sampled block profile at rate 1 on
/// the same run, within 10%: the waits are the same, timed the same way.
#[test]
fn the_traces_block_profile_matches_the_block_profile() {
    let _serial = holdup_core::trace::test_lock();
    holdup::set_block_profile_rate(1);
    let before = holdup::profile::block();
    trace::start().unwrap();
    let site = format!("{}:{}", file!(), line!() + 1);
    let lock = std::sync::Arc::new(holdup::sync::Mutex::new(0u64));
    std::thread::scope(|s| {
        for _ in 0..3 {
            let lock = lock.clone();
            s.spawn(move || {
                for _ in 0..20 {
                    let mut g = lock.lock().unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                    *g += 1;
                }
            });
        }
    });
    let t = trace::stop().unwrap();
    let after = holdup::profile::block();
    holdup::set_block_profile_rate(0);
    let sampled = common::delay(&common::samples_for(&after.delta(&before), &site)) as f64;
    let view = decode(&t, "block");
    let from_trace = holdup_pprof::perfetto::block_profile(&view);
    let lock_label = from_trace
        .string_table
        .iter()
        .position(|s| *s == site)
        .expect("the lock's site in the trace's profile") as i64;
    let traced: i64 = from_trace
        .sample
        .iter()
        .filter(|s| s.label.iter().any(|l| l.str == lock_label))
        .map(|s| s.value[1])
        .sum();
    assert!(sampled > 20e6, "sampled {sampled} ns");
    assert!(
        common::within(traced as f64, sampled, 0.10),
        "trace {traced} ns vs block profile {sampled} ns"
    );
}

/// The watchdog saves the flight recorder's window when it finds a long wait: the file is on
/// disk when the incident is reported, and holds the wait, still going.
#[test]
fn the_watchdog_saves_the_flight_recorder() {
    let _serial = holdup_core::trace::test_lock();
    let dir = std::env::temp_dir().join(format!("holdup-watchdog-flight-{}", std::process::id()));
    let fr = std::sync::Arc::new(trace::FlightRecorder::new(trace::FlightConfig::default()));
    fr.start().unwrap();
    let (found_tx, found) = std_mpsc::channel();
    let found_tx = std::sync::Mutex::new(found_tx);
    let watchdog = holdup::dump::Watchdog::builder()
        .interval(Duration::from_millis(20))
        .threshold(Duration::from_millis(150))
        .save_flight_recorder(fr.clone(), &dir)
        .on_incident(move |i| {
            let _ = found_tx
                .lock()
                .unwrap()
                .send((i.flight_trace().map(|p| p.to_owned()), i.summary()));
        })
        .start()
        .unwrap();
    let lock = std::sync::Arc::new(holdup::sync::Mutex::new(0u64));
    let g = lock.lock().unwrap();
    let waiter = {
        let lock = lock.clone();
        std::thread::spawn(move || *lock.lock().unwrap() += 1)
    };
    let (path, summary) = found
        .recv_timeout(Duration::from_secs(20))
        .expect("the watchdog reports the long wait");
    drop(g);
    waiter.join().unwrap();
    drop(watchdog);
    fr.stop();
    let path = path.expect("the flight recorder was saved");
    assert!(summary.contains(&path.display().to_string()), "{summary}");
    let view = TraceView::decode(&std::fs::read(&path).unwrap()).unwrap();
    let wait = view
        .slices()
        .into_iter()
        .find(|s| s.name == "mutex wait")
        .expect("the long wait in the saved window");
    assert_eq!(wait.arg("ended"), Some("after the trace"));
    assert!(wait.dur >= 100_000_000, "{} ns", wait.dur);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A condvar's notify and a thread's end draw arrows to the waits they end.
#[test]
fn notifies_draw_arrows_to_the_waits_they_end() {
    let _serial = holdup_core::trace::test_lock();
    trace::start().unwrap();
    let pair = std::sync::Arc::new((
        holdup::sync::Mutex::new(false),
        holdup::sync::Condvar::new(),
    ));
    let waiter = {
        let pair = pair.clone();
        std::thread::spawn(move || {
            let (m, cv) = &*pair;
            let mut ready = m.lock().unwrap();
            while !*ready {
                ready = cv.wait(ready).unwrap();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    *pair.0.lock().unwrap() = true;
    pair.1.notify_one();
    waiter.join().unwrap();
    let t = trace::stop().unwrap();
    let view = decode(&t, "condvar");
    let slices = view.slices();
    let wait = slices
        .iter()
        .find(|s| s.name == "condvar wait")
        .expect("the condvar wait");
    let notify = slices
        .iter()
        .find(|s| s.name == "notify")
        .expect("the notify that ended it");
    let woken = slices
        .iter()
        .find(|s| s.name == "woken" && s.track == wait.track)
        .expect("the wake-up");
    assert_eq!(woken.flows_in, notify.flows_out);
    assert!(wait.dur >= 30_000_000, "{} ns", wait.dur);
}

/// Joining a thread that is still running: the join wait's arrow comes from the thread's end.
#[test]
fn a_join_is_woken_by_the_threads_end() {
    let _serial = holdup_core::trace::test_lock();
    trace::start().unwrap();
    let worker = holdup::thread::Builder::new()
        .name("trace-worker".into())
        .spawn(|| std::thread::sleep(Duration::from_millis(60)))
        .unwrap();
    worker.join().unwrap();
    let t = trace::stop().unwrap();
    let view = decode(&t, "join");
    let slices = view.slices();
    let join = slices
        .iter()
        .find(|s| s.name == "join wait")
        .expect("the join wait");
    let end = on_thread(&view, &slices, "trace-worker")
        .into_iter()
        .find(|s| s.name == "thread end")
        .expect("the worker's end");
    let woken = slices
        .iter()
        .find(|s| s.name == "woken" && s.track == join.track)
        .expect("the join's wake-up");
    assert_eq!(woken.flows_in, end.flows_out);
    assert!(join.dur >= 30_000_000, "{} ns", join.dur);
}

/// A barrier's waits are woken by the last arrival, on its thread.
#[test]
fn a_barriers_last_arrival_wakes_the_others() {
    let _serial = holdup_core::trace::test_lock();
    trace::start().unwrap();
    let barrier = std::sync::Arc::new(holdup::sync::Barrier::new(3));
    let early: Vec<_> = (0..2)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let last = {
        let b = barrier.clone();
        std::thread::Builder::new()
            .name("trace-last".into())
            .spawn(move || {
                b.wait();
            })
            .unwrap()
    };
    for t in early {
        t.join().unwrap();
    }
    last.join().unwrap();
    let t = trace::stop().unwrap();
    let view = decode(&t, "barrier");
    let slices = view.slices();
    let arrival = on_thread(&view, &slices, "trace-last")
        .into_iter()
        .find(|s| s.name == "last arrival")
        .expect("the last arrival");
    let waits: Vec<_> = slices
        .iter()
        .filter(|s| s.name == "barrier wait" && s.dur >= 30_000_000)
        .collect();
    assert_eq!(waits.len(), 2, "{slices:#?}");
    for wait in waits {
        let woken = slices
            .iter()
            .find(|s| s.name == "woken" && s.track == wait.track)
            .expect("the wake-up");
        assert_eq!(woken.flows_in.len(), 1);
        assert!(arrival.flows_out.contains(&woken.flows_in[0]));
    }
}

/// A task waiting for a semaphore's permit is woken by the permit's drop in the task that held
/// it; a permit given away (`forget`, `merge`) returns nothing and draws no arrow.
#[cfg(feature = "tokio")]
#[test]
fn a_returned_permit_wakes_the_waiting_task() {
    let _serial = holdup_core::trace::test_lock();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    trace::start().unwrap();
    let sem = std::sync::Arc::new(holdup::tokio::sync::Semaphore::new(1));
    rt.block_on(async {
        let holder = {
            let sem = sem.clone();
            holdup::tokio::task::Builder::new()
                .name("holder")
                .spawn(async move {
                    let p = sem.acquire().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    drop(p);
                })
                .unwrap()
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let waiter = {
            let sem = sem.clone();
            holdup::tokio::task::Builder::new()
                .name("waiter")
                .spawn(async move {
                    let mut p = sem.acquire().await.unwrap();
                    sem.add_permits(1);
                    let q = sem.acquire().await.unwrap();
                    p.merge(q);
                    assert_eq!(p.num_permits(), 2);
                    p.forget();
                })
                .unwrap()
        };
        holder.await.unwrap();
        waiter.await.unwrap();
    });
    assert_eq!(sem.available_permits(), 0);
    let t = trace::stop().unwrap();
    let view = decode(&t, "semaphore");
    let slices = view.slices();
    let track = |name: &str| {
        view.tracks
            .iter()
            .find(|t| t.name.starts_with("task ") && t.name.ends_with(&format!("\"{name}\"")))
            .unwrap_or_else(|| panic!("the {name} task's track"))
            .uuid
    };
    let (holder, waiter) = (track("holder"), track("waiter"));
    let wait = slices
        .iter()
        .find(|s| s.track == waiter && s.name == "semaphore wait")
        .expect("the waiter's wait");
    assert!(wait.dur >= 15_000_000, "waited {} ns", wait.dur);
    let woken = slices
        .iter()
        .find(|s| s.name == "woken" && s.track == wait.track)
        .expect("the wake-up");
    let returned: Vec<_> = slices
        .iter()
        .filter(|s| s.name == "permits returned")
        .collect();
    assert_eq!(returned.len(), 1, "{returned:#?}");
    let on_holder = view
        .track(returned[0].track)
        .is_some_and(|t| t.uuid == holder || t.thread.is_some());
    assert!(on_holder, "{:?}", view.track(returned[0].track));
    assert_eq!(woken.flows_in, returned[0].flows_out);
}
