//! What the profiles look like on the wire: pprof (decoded back with holdup-pprof), Go's
//! legacy text, deltas and sample order.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use holdup::sync::{Arc, Mutex};
use holdup_pprof::ProfileView;

use crate::common::samples_for;
use crate::{here, record_everything};

#[inline(never)]
fn contend_once(m: &Arc<Mutex<u64>>) {
    let (tx, rx) = std_mpsc::channel();
    let holder = {
        let m = m.clone();
        holdup::thread::spawn(move || {
            let mut g = m.lock().unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            *g += 1;
        })
    };
    rx.recv().unwrap();
    *m.lock().unwrap() += 1;
    holder.join().unwrap();
}

#[test]
fn pprof_has_go_sample_types_mappings_and_labels() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let before = holdup::profile::mutex();
    contend_once(&m);
    let delta = holdup::profile::mutex().delta(&before);

    let mut bytes = Vec::new();
    delta.write_pprof(&mut bytes).unwrap();
    assert_eq!(&bytes[..3], &[0x1f, 0x8b, 0x08], "gzip");
    let profile = holdup_pprof::decode(&bytes).unwrap();
    let view = ProfileView::new(&profile).unwrap();
    assert_eq!(
        view.sample_types(),
        [("contentions", "count"), ("delay", "nanoseconds")]
    );
    let pt = profile.period_type.as_ref().unwrap();
    assert_eq!(
        (view.string(pt.r#type), view.string(pt.unit), profile.period),
        ("contentions", "count", 1)
    );
    assert!(profile.time_nanos > 1_700_000_000_000_000_000);
    assert!(profile.duration_nanos > 0, "a delta covers a duration");

    let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
    let main = &profile.mapping[0];
    assert_eq!(view.string(main.filename), exe.to_string_lossy());
    assert!(view.string(main.build_id).len() >= 16);
    assert!(main.has_functions);

    let mine: Vec<_> = profile
        .sample
        .iter()
        .filter(|s| view.label(s, "lock") == Some(site.as_str()))
        .collect();
    assert!(!mine.is_empty());
    for s in &mine {
        assert_eq!(view.label(s, "kind"), Some("mutex"));
        assert_eq!(view.label(s, "mutated"), Some("yes"));
        assert_eq!(s.value.len(), 2);
        let frames = view.frames(s);
        assert!(frames[0].function.contains("MutexGuard"), "{frames:?}");
        for loc in &s.location_id {
            let loc = profile.location.iter().find(|l| l.id == *loc).unwrap();
            assert!(loc.mapping_id >= 1, "every real location is in a mapping");
            assert!(!loc.line.is_empty(), "every location is symbolized");
        }
    }
    // The samples equal what the iterator reports.
    let from_iter = samples_for(&delta, &site);
    let total: i64 = mine.iter().map(|s| s.value[1]).sum();
    assert_eq!(total, from_iter.iter().map(|s| s.delay_ns).sum::<i64>());
}

#[test]
fn legacy_text_follows_go() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let mutex_before = holdup::profile::mutex();
    let block_before = holdup::profile::block();
    contend_once(&m);

    let mutex = holdup::profile::mutex().delta(&mutex_before);
    let mut text = Vec::new();
    mutex.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.starts_with("--- mutex:\ncycles/second=1000000000\nsampling period=1\n"),
        "{text}"
    );
    check_records(&text, "holdup::sync::mutex::MutexGuard");
    assert!(
        samples_for(&mutex, &site)
            .iter()
            .all(|s| text.contains(&format!("{} {} @", s.delay_ns, s.count))),
        "{text}"
    );

    let block = holdup::profile::block().delta(&block_before);
    let mut text = Vec::new();
    block.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.starts_with("--- contention:\ncycles/second=1000000000\n"),
        "{text}"
    );
    assert!(!text.contains("sampling period"));
    check_records(&text, "holdup::sync::mutex::Mutex<T>::lock");
}

/// Each record: `<cycles> <count> @ <hex pcs>`, then `#\t<pc>\t<func>+<off>\t<file>:<line>`
/// lines, then a blank line.
fn check_records(text: &str, expected_function: &str) {
    let body: Vec<&str> = text.lines().skip_while(|l| !l.contains(" @")).collect();
    let mut records = 0;
    let mut i = 0;
    while i < body.len() {
        let (values, pcs) = body[i]
            .split_once(" @")
            .unwrap_or_else(|| panic!("record line {:?}", body[i]));
        let values: Vec<&str> = values.split(' ').collect();
        assert!(
            values.len() == 2 && values.iter().all(|v| v.parse::<i64>().is_ok()),
            "{:?}",
            body[i]
        );
        assert!(
            pcs.split_whitespace()
                .all(|pc| pc.starts_with("0x") && u64::from_str_radix(&pc[2..], 16).is_ok()),
            "{pcs}"
        );
        i += 1;
        let mut frames = 0;
        while i < body.len() && body[i].starts_with('#') {
            let cols: Vec<&str> = body[i].split('\t').filter(|c| !c.is_empty()).collect();
            assert_eq!(cols.len(), 4, "{:?}", body[i]);
            assert!(cols[1].starts_with("0x"));
            assert!(cols[2].contains("+0x"), "{:?}", body[i]);
            assert!(
                cols[3]
                    .rsplit_once(':')
                    .is_some_and(|(_, l)| l.parse::<u32>().is_ok()),
                "{:?}",
                body[i]
            );
            frames += 1;
            i += 1;
        }
        assert!(frames > 0);
        assert_eq!(body.get(i), Some(&""), "blank line after a record");
        i += 1;
        records += 1;
    }
    assert!(records > 0);
    assert!(text.contains(expected_function), "{text}");
}

#[test]
fn deltas_and_order() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    contend_once(&m);
    let a = holdup::profile::mutex();
    let none = a.delta(&a);
    assert!(
        samples_for(&none, &site).is_empty(),
        "a delta of a snapshot with itself is empty"
    );
    assert!(none.duration().is_some());
    contend_once(&m);
    let b = holdup::profile::mutex();
    let d = b.delta(&a);
    assert!(!samples_for(&d, &site).is_empty());
    assert!(d.total_delay_ns() <= b.total_delay_ns());
    let delays: Vec<i64> = b.samples().map(|s| s.delay_ns).collect();
    assert!(
        delays.windows(2).all(|w| w[0] >= w[1]),
        "largest delay first: {delays:?}"
    );
}

#[inline(never)]
fn contend_for_golden(m: &Arc<Mutex<u64>>) {
    let (tx, rx) = std_mpsc::channel();
    let holder = {
        let m = m.clone();
        holdup::thread::spawn(move || {
            let mut g = m.lock().unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            *g += 1;
        })
    };
    rx.recv().unwrap();
    *m.lock().unwrap() += 1;
    holder.join().unwrap();
}

/// `write_text` of a known scenario, compared with `tests/golden/mutex_text.txt` after
/// normalizing what varies between runs and machines (addresses, values, paths, line numbers
/// in holdup's own sources). Debug builds
/// only: inlining in release builds changes the frames. `HOLDUP_BLESS=1` rewrites the file.
#[cfg(debug_assertions)]
#[test]
fn legacy_text_matches_golden() {
    record_everything();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let before = holdup::profile::mutex();
    contend_for_golden(&m);
    let delta = holdup::profile::mutex().delta(&before);
    assert_eq!(samples_for(&delta, &site).len(), 1, "one contended release");
    let mut text = Vec::new();
    delta.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    // The header, then this scenario's record (tests running in parallel add others).
    let (header, body) = text.split_at(
        text.find(" @")
            .and_then(|at| text[..at].rfind('\n'))
            .map_or(0, |i| i + 1),
    );
    let records: Vec<&str> = body
        .split_terminator("\n\n")
        .filter(|r| r.contains("contend_for_golden"))
        .collect();
    assert_eq!(records.len(), 1, "{text}");
    let normalized = normalize(&format!("{header}{}\n\n", records[0]));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mutex_text.txt");
    if std::env::var_os("HOLDUP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &normalized).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).expect("golden file; run with HOLDUP_BLESS=1");
    assert!(
        golden == normalized,
        "--- golden\n{golden}\n--- actual\n{normalized}"
    );
}

/// Replaces addresses, values and machine-specific paths.
fn normalize(text: &str) -> String {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let text = text.replace(&format!("{}/", workspace.display()), "");
    let mut out = String::new();
    for line in text.lines() {
        let mut normalized = Vec::new();
        for (i, field) in line.split(' ').enumerate() {
            let field = if line.contains(" @") && i < 2 {
                "N".to_owned()
            } else {
                hex(field)
            };
            normalized.push(field);
        }
        let line = normalized.join(" ");
        let line = line.split('\t').map(hex).collect::<Vec<_>>().join("\t");
        let line = match line.find("/rustc/") {
            Some(at) => {
                let rest = &line[at + "/rustc/".len()..];
                let after = rest.find('/').map_or("", |i| &rest[i..]);
                format!("{}/rustc/HASH{after}", &line[..at])
            }
            None => line,
        };
        // holdup's own source lines move with every edit of its files; the test's do not.
        let line = match line.find("crates/holdup/src/") {
            Some(at) => match line[at..].find(".rs:") {
                Some(rs) => {
                    let digits = at + rs + ".rs:".len();
                    let end = line[digits..]
                        .find(|c: char| !c.is_ascii_digit())
                        .map_or(line.len(), |i| digits + i);
                    format!("{}LINE{}", &line[..digits], &line[end..])
                }
                None => line,
            },
            None => line,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `0x1a2b` → `0xADDR`, also after a `+` (offsets).
fn hex(field: &str) -> String {
    match field.find("0x") {
        Some(at)
            if field[at + 2..].chars().all(|c| c.is_ascii_hexdigit()) && field.len() > at + 2 =>
        {
            format!("{}0xADDR", &field[..at])
        }
        _ => field.to_owned(),
    }
}
