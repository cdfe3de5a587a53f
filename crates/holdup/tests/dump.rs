//! Thread dumps: every thread, its wait, the lock's holder, deadlocks, robustness.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use holdup::dump::{self, Detail, Holder, StackStatus};
use holdup::sync::{Barrier, Mutex, mpsc};

/// Waits until `f` holds, failing the test after 20 s.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn waiting_on(site: &str) -> usize {
    holdup::thread::registered()
        .iter()
        .filter(|t| {
            t.waiting
                .as_ref()
                .is_some_and(|w| format!("{}:{}", w.lock.file(), w.lock.line()) == site)
        })
        .count()
}

fn text(dump: &dump::ThreadDump, detail: Detail) -> String {
    let mut out = Vec::new();
    dump.write_text(&mut out, detail).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn fifty_threads_blocked_on_one_mutex_are_one_group_with_the_holder() {
    let (lock, site) = (Arc::new(Mutex::new(0)), here!());
    let (hold, held) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let holder = {
        let lock = Arc::clone(&lock);
        holdup::thread::Builder::new()
            .name("holder".into())
            .spawn(move || {
                let mut g = lock.lock().unwrap();
                hold.send(()).unwrap();
                released.recv().unwrap();
                *g += 1;
            })
            .unwrap()
    };
    held.recv().unwrap();
    let waiters: Vec<_> = (0..50)
        .map(|i| {
            let lock = Arc::clone(&lock);
            holdup::thread::Builder::new()
                .name(format!("waiter-{i}"))
                .spawn(move || *lock.lock().unwrap() += 1)
                .unwrap()
        })
        .collect();
    until("50 waiters", || waiting_on(&site) == 50);

    let dump = dump::threads();
    let holder_tid = dump
        .threads()
        .iter()
        .find(|t| t.name() == Some("holder"))
        .expect("holder listed")
        .tid();
    let grouped = text(&dump, Detail::Grouped);
    let group = grouped
        .split("\n\n")
        .find(|g| g.lines().any(|l| l.starts_with("50 @")))
        .unwrap_or_else(|| panic!("no group of 50:\n{grouped}"));
    assert!(group.contains(&format!("\"lock\":\"{site}\"")), "{group}");
    assert!(
        group.contains(&format!(
            "\"held_by\":\"thread {holder_tid} \\\"holder\\\"\""
        )),
        "{group}"
    );
    assert!(group.contains("\"wait\":\"mutex\""), "{group}");
    assert!(
        group.contains("holdup::sync::mutex::Mutex<T>::lock"),
        "{group}"
    );

    let full = text(&dump, Detail::Full);
    let entries = full
        .lines()
        .filter(|l| {
            l.contains("\"waiter-")
                && l.contains("[mutex wait, ")
                && l.contains(&format!(
                    "lock {site} held by thread {holder_tid} \"holder\""
                ))
        })
        .count();
    assert_eq!(entries, 50, "{full}");
    // The holder's own entry says what it holds, and its group carries its id.
    let held = &dump.thread(holder_tid).unwrap().holding;
    assert_eq!(held.len(), 1, "{full}");
    assert_eq!(
        (held[0].kind, held[0].waiters),
        (holdup::profile::Kind::Mutex, 50)
    );
    assert!(
        full.contains(&format!("holding mutex {site} (50 waiting)]:")),
        "{full}"
    );
    assert!(
        grouped.contains(&format!("\"holding\":\"mutex {site}\"")),
        "{grouped}"
    );
    assert!(
        grouped.contains(&format!("\"tid\":\"{holder_tid}\"")),
        "{grouped}"
    );
    for t in dump
        .threads()
        .iter()
        .filter(|t| t.name().is_some_and(|n| n.starts_with("waiter-")))
    {
        assert_eq!(t.stack, StackStatus::Captured);
        assert!(
            t.has_function("fifty_threads_blocked_on_one_mutex_are_one_group_with_the_holder"),
            "{:?}",
            t.frames
        );
        let w = t.wait.as_ref().expect("waiting");
        assert_eq!(
            w.holder,
            Holder::Thread(dump.thread(holder_tid).unwrap().thread.clone())
        );
        assert!(t.spawn.as_ref().is_some_and(|s| s.site.line() > 0));
    }
    release.send(()).unwrap();
    holder.join().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*lock.lock().unwrap(), 51);
}

#[test]
fn a_std_thread_blocked_in_a_std_mutex_has_its_stack_and_an_unknown_wait() {
    let lock = Arc::new(std::sync::Mutex::new(()));
    let guard = lock.lock().unwrap();
    let entered = Arc::new(AtomicBool::new(false));
    let handle = {
        let (lock, entered) = (Arc::clone(&lock), Arc::clone(&entered));
        std::thread::Builder::new()
            .name("std-waiter".into())
            .spawn(move || {
                entered.store(true, Ordering::SeqCst);
                blocked_in_std_mutex(&lock);
            })
            .unwrap()
    };
    until("the std thread to block", || {
        entered.load(Ordering::SeqCst)
            && dump::threads()
                .threads()
                .iter()
                .any(|t| t.name() == Some("std-waiter") && t.kernel_state == Some('S'))
    });
    let dump = dump::threads();
    let t = dump
        .threads()
        .iter()
        .find(|t| t.name() == Some("std-waiter"))
        .expect("std thread listed");
    assert_eq!(t.stack, StackStatus::Captured);
    assert!(t.wait.is_none());
    assert!(t.has_function("blocked_in_std_mutex"), "{:#?}", t.frames);
    assert!(
        t.frames
            .iter()
            .any(|f| f.function.contains("Mutex") && f.function.contains("lock")),
        "{:#?}",
        t.frames
    );
    assert!(
        t.status().contains("wait unknown to holdup"),
        "{}",
        t.status()
    );
    let full = text(&dump, Detail::Full);
    assert!(
        full.contains(
            "\"std-waiter\" [sleeping, not in a holdup primitive (wait unknown to holdup)]:"
        ),
        "{full}"
    );
    drop(guard);
    handle.join().unwrap();
}

#[inline(never)]
fn blocked_in_std_mutex(lock: &std::sync::Mutex<()>) {
    drop(std::hint::black_box(lock.lock()));
}

/// Starts two threads named `names` that take `a` and `b` in opposite orders and deadlock.
/// They never finish (the test process exits anyway).
fn deadlock(names: [&str; 2], a: &Arc<Mutex<()>>, b: &Arc<Mutex<()>>) {
    let both = Arc::new(Barrier::new(2));
    for (name, first, second) in [
        (names[0], a.clone(), b.clone()),
        (names[1], b.clone(), a.clone()),
    ] {
        let both = Arc::clone(&both);
        holdup::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _one = first.lock().unwrap();
                both.wait();
                let _two = second.lock().unwrap();
            })
            .unwrap();
    }
}

#[test]
fn a_two_lock_deadlock_is_one_cycle_naming_both_locks_and_threads() {
    let (a, a_site) = (Arc::new(Mutex::new(())), here!());
    let (b, b_site) = (Arc::new(Mutex::new(())), here!());
    deadlock(["dl-left", "dl-right"], &a, &b);
    until("both threads to block", || {
        waiting_on(&a_site) + waiting_on(&b_site) == 2
    });
    let dump = dump::threads();
    let cycles: Vec<_> = dump
        .deadlocks()
        .iter()
        .filter(|d| {
            d.links
                .iter()
                .any(|l| l.thread.name.as_deref() == Some("dl-left"))
        })
        .collect();
    assert_eq!(cycles.len(), 1, "{:#?}", dump.deadlocks());
    let cycle = cycles[0];
    let mut locks = cycle.locks();
    locks.sort();
    let mut want = vec![a_site.clone(), b_site.clone()];
    want.sort();
    assert_eq!(locks, want);
    let mut names: Vec<_> = cycle
        .links
        .iter()
        .map(|l| l.thread.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dl-left", "dl-right"]);
    for l in &cycle.links {
        assert_ne!(l.held_by.tid, l.thread.tid);
        assert!(!l.frames.is_empty());
    }
    let shown = cycle.to_string();
    assert!(
        shown.starts_with("deadlock: 2 threads wait for each other"),
        "{shown}"
    );
    assert!(
        shown.contains(&a_site) && shown.contains(&b_site),
        "{shown}"
    );
    assert!(text(&dump, Detail::Grouped).contains("# deadlock: "));
    assert!(text(&dump, Detail::Full).contains("deadlock: 2 threads wait for each other"));
}

#[test]
fn a_thread_with_signals_blocked_is_listed_without_a_stack_and_the_dump_completes() {
    let (ready, is_ready) = std::sync::mpsc::channel();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let t = std::thread::Builder::new()
        .name("no-signals".into())
        .spawn(move || {
            // SAFETY: a zeroed sigset_t is a valid set to fill.
            let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: fills `all`, a local.
            unsafe { libc::sigfillset(&mut all) };
            // SAFETY: blocks every signal for this thread only.
            unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut()) };
            ready.send(()).unwrap();
            let _ = stopped.recv();
        })
        .unwrap();
    is_ready.recv().unwrap();
    let start = Instant::now();
    let dump = dump::threads_with(&dump::Options::new().timeout(Duration::from_millis(100)));
    let took = start.elapsed();
    let t_entry = dump
        .threads()
        .iter()
        .find(|t| t.name() == Some("no-signals"))
        .expect("listed");
    match &t_entry.stack {
        StackStatus::Unavailable(why) => {
            assert!(why.contains("did not answer within 100ms"), "{why}")
        }
        other => panic!("a thread with signals blocked cannot answer: {other:?}"),
    }
    assert!(t_entry.frames.is_empty());
    // The others answered; the dump waited about the timeout, not forever.
    assert!(
        dump.threads()
            .iter()
            .filter(|t| t.stack == StackStatus::Captured)
            .count()
            >= 1
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        text(&dump, Detail::Full)
            .contains("stack unavailable: the thread did not answer within 100ms")
    );
    drop(stop);
    t.join().unwrap();
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn five_hundred_dumps_while_threads_hammer_locks_and_channels() {
    let stop = Arc::new(AtomicBool::new(false));
    let lock = Arc::new(Mutex::new(0u64));
    let (tx, rx) = mpsc::sync_channel::<u64>(4);
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::new();
    for i in 0..8 {
        let (stop, lock, tx, rx) = (
            Arc::clone(&stop),
            Arc::clone(&lock),
            tx.clone(),
            Arc::clone(&rx),
        );
        workers.push(
            holdup::thread::Builder::new()
                .name(format!("hammer-{i}"))
                .spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        *lock.lock().unwrap() += 1;
                        if i % 2 == 0 {
                            let _ = tx.try_send(n);
                        } else if let Ok(rx) = rx.try_lock() {
                            let _ = rx.recv_timeout(Duration::from_micros(100));
                        }
                        n += 1;
                    }
                })
                .unwrap(),
        );
    }
    drop(tx);
    for _ in 0..20 {
        let _ = dump::threads();
    }
    let before = rss_kib();
    let mut captured = 0;
    for _ in 0..500 {
        let d = dump::threads();
        captured += d
            .threads()
            .iter()
            .filter(|t| t.stack == StackStatus::Captured)
            .count();
        let mut sink = Vec::new();
        d.write_text(&mut sink, Detail::Grouped).unwrap();
    }
    let grown = rss_kib().saturating_sub(before);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(captured >= 500 * 9, "stacks captured: {captured}");
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB over 500 dumps");
    assert!(*lock.lock().unwrap() > 0);
}

#[test]
fn dumping_while_holding_a_holdup_lock_and_under_a_signal_storm_does_not_deadlock() {
    // A signal-heavy program: a thread sends SIGUSR2 (no-op handler) to every thread nonstop.
    extern "C" fn noop(_: libc::c_int) {}
    // SAFETY: a zeroed sigaction is a valid start.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = noop as *const () as usize;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: installs a handler that does nothing; SA_RESTART keeps syscalls restarting.
    unsafe {
        libc::sigaction(libc::SIGUSR2, &act, std::ptr::null_mut());
    }
    // Its own threads and the dumping thread are the targets (not other tests' threads).
    let stop = Arc::new(AtomicBool::new(false));
    // SAFETY: gettid has no preconditions.
    let mut targets = vec![unsafe { libc::gettid() }];
    let (tx, rx) = std::sync::mpsc::channel();
    let victims: Vec<_> = (0..4)
        .map(|_| {
            let (stop, tx) = (Arc::clone(&stop), tx.clone());
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                tx.send(unsafe { libc::gettid() }).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        })
        .collect();
    targets.extend(rx.iter().take(4));
    let storm = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for &tid in &targets {
                    // SAFETY: getpid has no preconditions.
                    let pid = unsafe { libc::getpid() };
                    // SAFETY: sends a signal whose handler does nothing.
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR2) };
                }
            }
        })
    };
    let lock = Mutex::new(());
    let guard = lock.lock().unwrap();
    for _ in 0..50 {
        let d = dump::threads();
        assert!(d.threads()[0].current);
        assert!(
            d.threads()[0].has_function("dumping_while_holding_a_holdup_lock"),
            "{:#?}",
            d.threads()[0].frames
        );
    }
    drop(guard);
    stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    for v in victims {
        v.join().unwrap();
    }
}

#[test]
fn the_dumping_thread_comes_first_and_is_running() {
    let d = dump::threads();
    let me = &d.threads()[0];
    assert!(me.current);
    assert_eq!(me.status(), "running, taking this dump");
    assert!(
        me.frames
            .first()
            .is_some_and(|f| f.function.starts_with("holdup::dump::threads")),
        "{:#?}",
        me.frames
    );
    assert!(d.elapsed() > Duration::ZERO);
    assert!(d.longest_interruption() < Duration::from_secs(1));
}

#[test]
fn the_watchdog_reports_a_deadlock_once_with_the_dump() {
    let (a, a_site) = (Arc::new(Mutex::new(())), here!());
    let (b, b_site) = (Arc::new(Mutex::new(())), here!());
    let (tx, incidents) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let watchdog = dump::Watchdog::builder()
        .interval(Duration::from_millis(20))
        .threshold(Duration::from_secs(3600))
        .on_incident(move |i| {
            if let dump::Incident::Deadlock { cycle, dump, .. } = i
                && cycle
                    .links
                    .iter()
                    .any(|l| l.thread.name.as_deref() == Some("wd-left"))
            {
                let _ = tx
                    .lock()
                    .unwrap()
                    .send((cycle.locks(), dump.len(), i.summary()));
            }
        })
        .start()
        .unwrap();
    deadlock(["wd-left", "wd-right"], &a, &b);
    let (mut locks, threads, summary) = incidents
        .recv_timeout(Duration::from_secs(20))
        .expect("a deadlock incident");
    locks.sort();
    let mut want = vec![a_site, b_site];
    want.sort();
    assert_eq!(locks, want);
    assert!(threads >= 3);
    assert!(
        summary.starts_with("holdup watchdog: deadlock: thread "),
        "{summary}"
    );
    // Reported once: later checks see the same cycle.
    assert!(
        incidents.recv_timeout(Duration::from_millis(300)).is_err(),
        "reported twice"
    );
    drop(watchdog);
}

#[test]
fn the_watchdog_reports_a_wait_longer_than_the_threshold() {
    let (tx, rx) = mpsc::channel::<()>();
    let waiter = holdup::thread::Builder::new()
        .name("wd-slow".into())
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    let (found_tx, found) = std::sync::mpsc::channel();
    let found_tx = std::sync::Mutex::new(found_tx);
    let watchdog = dump::Watchdog::builder()
        .interval(Duration::from_millis(20))
        .threshold(Duration::from_millis(150))
        .on_incident(move |i| {
            if let dump::Incident::LongWait {
                thread, wait, dump, ..
            } = i
                && thread.name.as_deref() == Some("wd-slow")
            {
                let entry = dump
                    .thread(thread.tid)
                    .map(|t| t.status())
                    .unwrap_or_default();
                let _ =
                    found_tx
                        .lock()
                        .unwrap()
                        .send((wait.kind, wait.waited, entry, i.to_string()));
            }
        })
        .start()
        .unwrap();
    let (kind, waited, status, shown) = found
        .recv_timeout(Duration::from_secs(20))
        .expect("a long-wait incident");
    assert_eq!(kind, holdup::profile::Kind::ChanRecv);
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(status.starts_with("chan-recv wait, "), "{status}");
    assert!(shown.contains("\"wd-slow\" [chan-recv wait"), "{shown}");
    assert!(
        found.recv_timeout(Duration::from_millis(300)).is_err(),
        "the same wait reported twice"
    );
    drop(watchdog);
    drop(tx);
    waiter.join().unwrap();
}

/// Calls into the host's own handlers (the test installs them on holdup's signals).
static HOST_HANDLER_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn host_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    HOST_HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
}

/// Sets `sig`'s disposition: the default, or `host_handler`.
fn set_disposition(sig: i32, host: bool) {
    // SAFETY: a zeroed sigaction is a valid start.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = if host {
        host_handler as *const () as usize
    } else {
        libc::SIG_DFL
    };
    act.sa_flags = libc::SA_SIGINFO;
    // SAFETY: empties the mask inside `act`, a local.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `host_handler` only touches an atomic (async-signal-safe), and SIG_DFL is the
    // default action.
    let set = unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) };
    assert_eq!(set, 0);
}

/// Whether `sig`'s disposition is the default.
fn is_default(sig: i32) -> bool {
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with a null new action, sigaction only reads the current one into `old`.
    let read = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    read == 0 && old.sa_sigaction == libc::SIG_DFL
}

/// The host takes holdup's signal back: reset to the default (whose action, for a real-time
/// signal, kills the process) or given its own handler. Dumps must never send it again. Runs in
/// a child process of its own: other tests in this binary dump in parallel, and a dump in flight
/// on a reset signal would kill them all.
#[test]
fn a_signal_taken_over_by_the_host_is_never_sent_again() {
    const NAME: &str = "a_signal_taken_over_by_the_host_is_never_sent_again";
    if std::env::var_os("HOLDUP_SIGNAL_CHILD").is_some() {
        signal_takeover_child();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("HOLDUP_SIGNAL_CHILD", "1")
        .output()
        .unwrap();
    let shown = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the child died ({:?}):\n{shown}",
        out.status
    );
    assert!(
        shown.contains("signal takeover: all dumps completed"),
        "{shown}"
    );
}

fn signal_takeover_child() {
    let lock = Arc::new(Mutex::new(()));
    let guard = lock.lock().unwrap();
    let site = format!("{}:{}", file!(), line!() - 2);
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let lock = Arc::clone(&lock);
            holdup::thread::spawn(move || drop(lock.lock()))
        })
        .collect();
    until("3 waiters", || waiting_on(&site) == 3);
    let all_captured =
        |d: &dump::ThreadDump| d.threads().iter().all(|t| t.stack == StackStatus::Captured);

    let first = dump::threads();
    assert!(all_captured(&first), "{}", text(&first, Detail::Full));
    let s1 = dump::signal().expect("the first dump installed a signal");

    // Reset to the default: sending it now would terminate the process.
    set_disposition(s1, false);
    assert_eq!(dump::signal(), None, "signal {s1} is no longer holdup's");
    let second = dump::threads();
    assert!(all_captured(&second), "{}", text(&second, Detail::Full));
    let s2 = dump::signal().expect("moved to another free signal");
    assert_ne!(s2, s1);

    // The host's own handler: never called by a dump.
    set_disposition(s2, true);
    let third = dump::threads();
    assert!(all_captured(&third), "{}", text(&third, Detail::Full));
    let s3 = dump::signal().expect("moved again");
    assert!(s3 != s1 && s3 != s2, "{s1} {s2} {s3}");
    assert_eq!(HOST_HANDLER_CALLS.load(Ordering::SeqCst), 0);

    // No free signal left: the dump completes, stacks unavailable with the reason.
    for sig in libc::SIGRTMIN() + 4..=libc::SIGRTMAX() {
        if sig == s3 || is_default(sig) {
            set_disposition(sig, true);
        }
    }
    let fourth = dump::threads();
    let full = text(&fourth, Detail::Full);
    assert_eq!(fourth.len(), first.len(), "{full}");
    for t in fourth.threads() {
        let StackStatus::Unavailable(why) = &t.stack else {
            panic!("a stack without a signal:\n{full}")
        };
        assert!(
            why.contains(&format!("signal {s3} was taken over by another handler")),
            "{why}"
        );
    }
    // The waits still come from the registry (the holder, the main thread, is known only by
    // the token its handler would have reported).
    let waiting = fourth.threads().iter().filter(|t| t.wait.is_some()).count();
    assert_eq!(waiting, 3, "{full}");
    assert_eq!(dump::signal(), None);
    assert_eq!(HOST_HANDLER_CALLS.load(Ordering::SeqCst), 0);

    drop(guard);
    for w in waiters {
        w.join().unwrap();
    }
    println!("signal takeover: all dumps completed");
}
