//! Go's own pprof reads holdup's profiles: `go tool pprof -raw` shows our sample types, values,
//! labels and function names, its `-top` equals ours, and it parses our legacy text.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use holdup::profile::Profile;
use holdup::sync::{Arc, Condvar, Mutex};
use holdup_pprof::{ProfileView, TopOptions};

#[inline(never)]
fn compat_holder(m: &Mutex<u64>, locked: &std_mpsc::Sender<()>) {
    let mut g = m.lock().unwrap();
    locked.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    *g += 1;
}

#[inline(never)]
fn compat_waiter(m: &Mutex<u64>) {
    *m.lock().unwrap() += 1;
}

#[inline(never)]
fn compat_condvar_wait(pair: &(Mutex<bool>, Condvar)) {
    let mut ready = pair.0.lock().unwrap();
    while !*ready {
        ready = pair.1.wait(ready).unwrap();
    }
}

/// Produces mutex and block samples from the functions above.
fn workload() -> (Profile, Profile) {
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    let m = Arc::new(Mutex::new(0u64));
    let (tx, rx) = std_mpsc::channel();
    let holder = {
        let m = m.clone();
        holdup::thread::spawn(move || compat_holder(&m, &tx))
    };
    rx.recv().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            holdup::thread::spawn(move || compat_waiter(&m))
        })
        .collect();
    holder.join().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let notifier = {
        let pair = pair.clone();
        holdup::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            *pair.0.lock().unwrap() = true;
            pair.1.notify_all();
        })
    };
    compat_condvar_wait(&pair);
    notifier.join().unwrap();
    (
        holdup::profile::mutex().delta(&mutex_before),
        holdup::profile::block().delta(&block_before),
    )
}

fn pprof(go: &Path, args: &[&str], file: &Path) -> String {
    let out = Command::new(go)
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("TZ", "UTC")
        .output()
        .expect("run go tool pprof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed: {stderr}"
    );
    assert!(
        !stderr.contains("symbolization"),
        "pprof tried to symbolize: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts that `go tool pprof -top` prints what holdup's `top` prints for `bytes` (written at
/// `path`); returns it.
fn assert_top_matches(go: &Path, bytes: &[u8], path: &Path) -> String {
    let decoded = holdup_pprof::decode(bytes).unwrap();
    let view = ProfileView::new(&decoded).unwrap();
    let ours = holdup_pprof::top(
        &view,
        &TopOptions {
            node_count: 0,
            ..TopOptions::default()
        },
    )
    .to_string();
    assert_eq!(ours, pprof(go, &["-top"], path), "{}", path.display());
    ours
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holdup-go-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn go_tool_pprof_reads_our_profiles() {
    let Some(go) = common::go() else { return };
    let (mutex, block) = workload();
    let dir = temp_dir();
    for (name, profile, leaf, caller) in [
        (
            "mutex",
            &mutex,
            "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop",
            "go_compat::compat_holder",
        ),
        (
            "block",
            &block,
            "holdup::sync::mutex::Mutex<T>::lock",
            "go_compat::compat_waiter",
        ),
    ] {
        let path = dir.join(format!("{name}.pb.gz"));
        let mut bytes = Vec::new();
        profile.write_pprof(&mut bytes).unwrap();
        std::fs::write(&path, &bytes).unwrap();

        let raw = pprof(&go, &["-raw"], &path);
        assert!(
            raw.contains("PeriodType: contentions count\nPeriod: 1\n"),
            "{raw}"
        );
        assert!(
            raw.contains("Samples:\ncontentions/count delay/nanoseconds\n"),
            "{raw}"
        );
        assert!(
            raw.contains(&format!(" {leaf} ")),
            "{name}: no {leaf} in\n{raw}"
        );
        assert!(
            raw.contains(&format!(" {caller} ")),
            "{name}: no {caller} in\n{raw}"
        );
        assert!(raw.contains("kind:[mutex]"), "{raw}");
        // Every sample's values appear as pprof prints them: `%10d %10d: `.
        for s in profile.samples() {
            let values = format!("{:>10} {:>10}: ", s.count, s.delay_ns);
            assert!(
                raw.contains(&values),
                "{name}: no sample line {values:?} in\n{raw}"
            );
        }

        // pprof's -top equals ours on the same bytes.
        assert_top_matches(&go, &bytes, &path);
    }

    // Tags: holdup's labels slice the profile.
    let block_path = dir.join("block.pb.gz");
    let tags = pprof(&go, &["-tags"], &block_path);
    assert!(
        tags.contains("kind:") && tags.contains("condvar") && tags.contains("lock:"),
        "{tags}"
    );
    let focused = pprof(&go, &["-top", "-tagfocus=kind=condvar"], &block_path);
    assert!(
        focused.contains("holdup::sync::condvar::Condvar::wait"),
        "{focused}"
    );
    assert!(!focused.contains("compat_waiter"), "{focused}");

    // The legacy text parses (holdup's cycles are nanoseconds: cycles/second=1e9).
    let text_path = dir.join("mutex.txt");
    let mut text = Vec::new();
    mutex.write_text(&mut text).unwrap();
    std::fs::write(&text_path, &text).unwrap();
    let raw = pprof(&go, &["-raw"], &text_path);
    assert!(raw.contains("PeriodType: contentions count"), "{raw}");
    for s in mutex.samples() {
        let values = format!("{:>10} {:>10}: ", s.count, s.delay_ns);
        assert!(
            raw.contains(&values),
            "legacy: no sample line {values:?} in\n{raw}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn go_tool_pprof_reads_our_thread_dumps() {
    let Some(go) = common::go() else { return };
    // Two threads in a deadlock (they never finish), so that the text has `# deadlock:` lines.
    let (a, b) = (Arc::new(Mutex::new(0u64)), Arc::new(Mutex::new(0u64)));
    let both = Arc::new(holdup::sync::Barrier::new(2));
    for (first, second) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
        let both = both.clone();
        holdup::thread::spawn(move || {
            let _one = first.lock().unwrap();
            both.wait();
            let _two = second.lock().unwrap();
        });
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let dump = loop {
        let d = holdup::dump::threads();
        if !d.deadlocks().is_empty() || std::time::Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(dump.deadlocks().len(), 1);
    let dir = temp_dir().join("dump");
    std::fs::create_dir_all(&dir).unwrap();

    let proto = dir.join("goroutine.pb.gz");
    let mut bytes = Vec::new();
    dump.write_pprof(&mut bytes).unwrap();
    std::fs::write(&proto, &bytes).unwrap();
    let raw = pprof(&go, &["-raw"], &proto);
    assert!(raw.contains("PeriodType: goroutine count\n"), "{raw}");
    assert!(
        raw.contains("wait:[mutex]") && raw.contains("held_by:[thread "),
        "{raw}"
    );
    let ours = assert_top_matches(&go, &bytes, &proto);
    assert!(ours.contains(&format!("of {} total", dump.len())), "{ours}");

    // The grouped text (Go's debug=1 layout, plus `# deadlock:` lines) parses, same total.
    let text = dir.join("goroutine.txt");
    let mut out = Vec::new();
    dump.write_text(&mut out, holdup::dump::Detail::Grouped)
        .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("\n# deadlock: "));
    std::fs::write(&text, &out).unwrap();
    let top = pprof(&go, &["-top"], &text);
    assert!(top.contains("Type: goroutine"), "{top}");
    assert!(top.contains(&format!("of {} total", dump.len())), "{top}");
    let _ = std::fs::remove_dir_all(&dir);
}
