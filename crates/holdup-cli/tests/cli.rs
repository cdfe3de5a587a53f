//! The `holdup` command on committed fixtures (profiles made by real Go programs and by
//! holdup's demo): golden outputs of every subcommand, the same output as `go tool pprof` for
//! the reports pprof has, and clear errors. The advice is also checked on profiles that holdup
//! records here, in this process, from locks whose guarded types matter to what is sound.
//!
//! Golden files are in `tests/golden/`; `HOLDUP_BLESS=1 cargo test -p holdup-cli` rewrites them.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn go_fixture(name: &str) -> String {
    fixtures().join("go").join(name).display().to_string()
}

fn holdup_fixture(name: &str) -> String {
    fixtures().join("holdup").join(name).display().to_string()
}

fn holdup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holdup"))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("HOLDUP_TOKEN")
        .output()
        .expect("run holdup")
}

/// Runs holdup and returns its standard output, failing on a non-zero exit.
fn ok(args: &[&str]) -> String {
    let out = holdup(args);
    assert!(
        out.status.success(),
        "holdup {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs holdup expecting exit status 2 and a one-line error; returns the line.
fn fails(args: &[&str]) -> String {
    let out = holdup(args);
    assert_eq!(out.status.code(), Some(2), "holdup {args:?}: {out:?}");
    assert!(
        out.stdout.is_empty(),
        "holdup {args:?} printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "want one line, got {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Compares with `tests/golden/<name>`, with the fixtures' directory written as `FIXTURES`.
fn golden(name: &str, actual: &str) {
    let actual = actual.replace(&fixtures().display().to_string(), "FIXTURES");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("HOLDUP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with HOLDUP_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "{name} differs from its golden file (HOLDUP_BLESS=1 rewrites it)"
    );
}

/// A directory where Go's trimmed source path `holdupfixtures/contention.go` resolves.
fn go_source_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holdup-cli-src-{}", std::process::id()));
    let link = dir.join("holdupfixtures");
    if !link.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(fixtures().join("go"), &link).unwrap();
    }
    dir
}

#[test]
fn golden_outputs_of_every_subcommand() {
    let go_src = go_source_dir();
    let go_src = go_src.display().to_string();
    let holdup_src = fixtures().join("holdup/src").display().to_string();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "top-go-mutex.txt",
            vec!["top".into(), go_fixture("mutex.pb.gz")],
        ),
        (
            "top-go-block-all.txt",
            vec![
                "top".into(),
                "-n".into(),
                "0".into(),
                go_fixture("block.pb.gz"),
            ],
        ),
        (
            "top-go-block-cum-focus.txt",
            vec![
                "top".into(),
                "--cum".into(),
                "--focus".into(),
                "cache|store".into(),
                go_fixture("block.pb.gz"),
            ],
        ),
        (
            "top-go-goroutine.txt",
            vec!["top".into(), go_fixture("goroutine.pb.gz")],
        ),
        (
            "top-go-cpu.txt",
            vec![
                "top".into(),
                "--sample".into(),
                "samples".into(),
                go_fixture("cpu.pb.gz"),
            ],
        ),
        (
            "top-go-mutex-legacy.txt",
            vec!["top".into(), go_fixture("mutex.txt")],
        ),
        (
            "top-go-goroutine-legacy.txt",
            vec!["top".into(), go_fixture("goroutine.txt")],
        ),
        (
            "top-holdup-mutex.txt",
            vec!["top".into(), holdup_fixture("mutex.pb.gz")],
        ),
        (
            "top-holdup-block-contentions.txt",
            vec![
                "top".into(),
                "--sample".into(),
                "contentions".into(),
                holdup_fixture("block.pb.gz"),
            ],
        ),
        (
            "list-go.txt",
            vec![
                "list".into(),
                "cache..get".into(),
                "--source-path".into(),
                go_src.clone(),
                go_fixture("mutex.pb.gz"),
            ],
        ),
        // The fixture was made in /work/main; its copy of the source is under holdup/src.
        (
            "list-holdup.txt",
            vec![
                "list".into(),
                "Cache::get".into(),
                "--trim-path".into(),
                "/work/main".into(),
                "--source-path".into(),
                holdup_src,
                holdup_fixture("mutex.pb.gz"),
            ],
        ),
        (
            "list-go-no-source.txt",
            vec![
                "list".into(),
                "producer".into(),
                "--source-path".into(),
                "/nonexistent".into(),
                go_fixture("block.pb.gz"),
            ],
        ),
        (
            "traces-go-mutex.txt",
            vec!["traces".into(), go_fixture("mutex.pb.gz")],
        ),
        (
            "traces-go-goroutine-legacy.txt",
            vec!["traces".into(), go_fixture("goroutine.txt")],
        ),
        (
            "traces-holdup-block.txt",
            vec!["traces".into(), holdup_fixture("block.pb.gz")],
        ),
        (
            "peek-go-block.txt",
            vec![
                "peek".into(),
                "cache|producer".into(),
                go_fixture("block.pb.gz"),
            ],
        ),
        (
            "peek-holdup-mutex.txt",
            vec![
                "peek".into(),
                "Cache::get".into(),
                holdup_fixture("mutex.pb.gz"),
            ],
        ),
        (
            "tags-go-goroutine.txt",
            vec!["tags".into(), go_fixture("goroutine.pb.gz")],
        ),
        (
            "tags-go-goroutine-legacy.txt",
            vec!["tags".into(), go_fixture("goroutine.txt")],
        ),
        (
            "tags-holdup-block.txt",
            vec!["tags".into(), holdup_fixture("block.pb.gz")],
        ),
        (
            "locks-holdup.txt",
            vec![
                "locks".into(),
                holdup_fixture("block.pb.gz"),
                holdup_fixture("mutex.pb.gz"),
            ],
        ),
        (
            "locks-go.txt",
            vec!["locks".into(), go_fixture("block.pb.gz")],
        ),
        (
            "diff-go-holdup.txt",
            vec![
                "diff".into(),
                go_fixture("block.pb.gz"),
                holdup_fixture("block.pb.gz"),
            ],
        ),
        (
            "dump-holdup-grouped.txt",
            vec!["dump".into(), holdup_fixture("goroutine.txt")],
        ),
        (
            "dump-holdup-proto.txt",
            vec!["dump".into(), holdup_fixture("goroutine.pb.gz")],
        ),
        (
            "dump-holdup-full.txt",
            vec![
                "dump".into(),
                "--full".into(),
                holdup_fixture("threads.txt"),
            ],
        ),
        (
            "dump-go-goroutine.txt",
            vec!["dump".into(), go_fixture("goroutine.pb.gz")],
        ),
    ];
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        golden(name, &ok(&args));
    }
}

#[test]
fn advice_names_the_seed_bug() {
    let top = ok(&["top", &holdup_fixture("mutex.pb.gz")]);
    let advice = top.lines().last().unwrap();
    assert!(advice.starts_with("advice: "), "{top}");
    assert!(advice.contains("contended_cache::Cache::get"), "{advice}");
    assert!(
        advice.contains("crates/holdup/examples/contended_cache.rs:"),
        "{advice}"
    );
    assert!(
        advice.contains("take `read()` instead of `write()`"),
        "{advice}"
    );
    let locks = ok(&[
        "locks",
        &holdup_fixture("block.pb.gz"),
        &holdup_fixture("mutex.pb.gz"),
    ]);
    assert!(locks.lines().any(|l| l.starts_with("advice: ")), "{locks}");
    // No advice where the pattern is absent (Go's profiles have no `mutated` label).
    assert!(!ok(&["top", &go_fixture("mutex.pb.gz")]).contains("advice"));
}

/// The mutex profile of what `work` does, written to a file for the command.
fn profile_of(name: &str, work: impl FnOnce()) -> String {
    // One at a time: the profile is the process's, and a delta would take in another test's
    // contention.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    holdup::set_mutex_profile_fraction(1);
    let before = holdup::profile::mutex();
    work();
    let profile = holdup::profile::mutex().delta(&before);
    assert!(
        profile.total_delay_ns() > 0,
        "{name}: no contention recorded"
    );
    let dir = std::env::temp_dir().join(format!("holdup-cli-advice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pb.gz"));
    profile
        .write_pprof(std::fs::File::create(&path).unwrap())
        .unwrap();
    path.display().to_string()
}

/// Runs `body` on 4 threads at once, 200 times each, for contention.
fn contend(body: impl Fn() + Sync) {
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    body();
                }
            });
        }
    });
}

/// Busy for a few microseconds, inside a critical section, so that others queue up.
fn spin() {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_micros(20) {
        std::hint::spin_loop();
    }
}

/// The advice line (`advice:` or `note:`) that `top` and `locks` print, the same for both.
fn advice_of(profile: &str) -> Option<String> {
    let line = |out: String| {
        out.lines()
            .find(|l| l.starts_with("advice: ") || l.starts_with("note: "))
            .map(str::to_owned)
    };
    let top = line(ok(&["top", profile]));
    assert_eq!(top, line(ok(&["locks", profile])), "top and locks agree");
    top
}

#[test]
fn advice_never_recommends_what_would_not_compile_or_would_change_behaviour() {
    use holdup::sync::{Mutex, RwLock, mpsc};
    use std::cell::Cell;
    use std::collections::HashMap;

    // A pool's shared receiver: `recv` takes the message through `&self`. `RwLock<Receiver>` is
    // not even `Sync`, and the section does change the channel.
    let (tx, rx) = mpsc::channel::<u32>();
    let rx = Mutex::new(rx);
    let rx_site = format!("{}:{}", file!(), line!() - 1);
    let receiver = profile_of("receiver", || {
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| while rx.lock().unwrap().recv().is_ok() {});
            }
            for i in 0..200 {
                tx.send(i).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            drop(tx);
        });
    });
    let note = advice_of(&receiver).expect("the pool's lock dominates");
    assert!(note.starts_with("note: "), "{note}");
    assert!(
        note.contains(&format!(
            "holds the Mutex created at {rx_site} without taking `&mut`"
        )),
        "{note}"
    );
    assert!(
        note.contains("cli::advice_never_recommends"),
        "names the function: {note}"
    );
    assert!(
        !note.contains("RwLock") && !note.contains("read("),
        "{note}"
    );

    // A `Cell` under a Mutex: written through `&`.
    let cell = Mutex::new(Cell::new(0u64));
    let cell_site = format!("{}:{}", file!(), line!() - 1);
    let cell_profile = profile_of("cell", || {
        contend(|| {
            let g = cell.lock().unwrap();
            g.set(g.get() + 1);
            spin();
        })
    });
    assert_eq!(cell.lock().unwrap().get(), 800);
    let note = advice_of(&cell_profile).expect("the Cell's lock dominates");
    assert!(
        note.starts_with("note: ") && note.contains(&cell_site),
        "{note}"
    );
    assert!(
        !note.contains("RwLock") && !note.contains("read("),
        "{note}"
    );

    // The seed's bug: a map read through `write()`. `read()` is sound.
    let map: HashMap<u64, u64> = (0..1000).map(|k| (k, k * 2)).collect();
    let map = RwLock::new(map);
    let map_site = format!("{}:{}", file!(), line!() - 1);
    let map_profile = profile_of("map", || {
        contend(|| {
            let g = map.write().unwrap();
            std::hint::black_box(g.get(&500));
            spin();
        })
    });
    let advice = advice_of(&map_profile).expect("the map's lock dominates");
    assert!(advice.starts_with("advice: "), "{advice}");
    assert!(
        advice.contains(&format!("the RwLock created at {map_site}")),
        "{advice}"
    );
    assert!(
        advice.contains("take `read()` instead of `write()`"),
        "{advice}"
    );

    // A map written through its guard: nothing to advise.
    let written = profile_of("written", || {
        contend(|| {
            let mut g = map.write().unwrap();
            g.insert(1, 1);
            spin();
        })
    });
    assert_eq!(advice_of(&written), None);
    let _ = std::fs::remove_dir_all(Path::new(&written).parent().unwrap());
}

#[test]
fn flame_draws_a_searchable_svg() {
    let dir = std::env::temp_dir().join(format!("holdup-cli-flame-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("mutex.svg");
    let out = holdup(&[
        "flame",
        &holdup_fixture("mutex.pb.gz"),
        "-o",
        &svg.display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml"), "not an SVG");
    assert!(
        text.contains("mutex profile: delay (nanoseconds)"),
        "untitled"
    );
    assert!(text.contains("contended_cache::Cache::get"));
    assert!(text.contains("function search("), "no search");
    // To standard output, with a title; a profile with only zero values is an error.
    let piped = ok(&[
        "flame",
        &go_fixture("cpu.pb.gz"),
        "-o",
        "-",
        "--title",
        "CPU of the fixture",
    ]);
    assert!(piped.contains("CPU of the fixture") && piped.contains("main.hashLoop"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn diff_gates_on_regressions() {
    let block = holdup_fixture("block.pb.gz");
    // Identical profiles: nothing changed, exit 0 even with a zero tolerance.
    let same = ok(&["diff", &block, &block, "--fail-if-worse", "0"]);
    assert!(same.contains("ok: nothing grew more than 0%"), "{same}");
    // A regression beyond the tolerance exits 1 and names what grew.
    let out = holdup(&[
        "diff",
        &go_fixture("block.pb.gz"),
        &block,
        "--fail-if-worse",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("worse:") && text.contains("the total grew"),
        "{text}"
    );
    // The other way round it got better.
    let better = ok(&[
        "diff",
        &block,
        &go_fixture("block.pb.gz"),
        "--fail-if-worse",
        "10",
    ]);
    assert!(better.contains("ok:"), "{better}");
}

#[test]
fn errors_are_one_line_with_exit_status_2() {
    let missing = fails(&["top", "/nonexistent/mutex.pb.gz"]);
    assert!(
        missing.starts_with("holdup: cannot read /nonexistent/mutex.pb.gz"),
        "{missing}"
    );
    let dir = std::env::temp_dir().join(format!("holdup-cli-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk");
    std::fs::write(&junk, b"\x00\x01 definitely not a profile \xff\xff\xff").unwrap();
    let e = fails(&["top", &junk.display().to_string()]);
    assert!(e.contains("is not a profile"), "{e}");
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(fails(&["traces", &empty.display().to_string()]).contains("empty"));
    let truncated = dir.join("truncated.pb.gz");
    let bytes = std::fs::read(go_fixture("mutex.pb.gz")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert!(fails(&["top", &truncated.display().to_string()]).contains("gzip"));
    assert!(
        fails(&["top", "--sample", "bogus", &go_fixture("mutex.pb.gz")])
            .contains("no sample type \"bogus\"")
    );
    assert!(fails(&["top", "--focus", "(", &go_fixture("mutex.pb.gz")]).contains("focus"));
    assert!(
        fails(&["peek", "nomatch", &go_fixture("mutex.pb.gz")])
            .contains("no matches found for regexp: nomatch")
    );
    assert!(fails(&["locks", &go_fixture("goroutine.pb.gz")]).contains("not a contention profile"));
    let _ = std::fs::remove_dir_all(&dir);
    // Usage errors come from the argument parser, also with status 2.
    assert_eq!(holdup(&["top"]).status.code(), Some(2));
    assert_eq!(holdup(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(holdup(&["--help"]).status.code(), Some(0));
}

/// Serves `responses` (status line, body) to successive requests and returns the requests'
/// first lines and authorization headers.
fn serve(
    responses: Vec<(&'static str, Vec<u8>)>,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, body) in responses {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let first = text.lines().next().unwrap_or("").to_owned();
            let auth = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .unwrap_or("")
                .to_owned();
            seen.push(format!("{first} | {auth}"));
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
        seen
    });
    (format!("http://{addr}"), handle)
}

#[test]
fn reads_profiles_from_urls() {
    let mutex = std::fs::read(go_fixture("mutex.pb.gz")).unwrap();
    let (base, server) = serve(vec![
        ("200 OK", mutex.clone()),
        (
            "400 Bad Request",
            b"invalid value for \"seconds\" - must be a positive integer\n".to_vec(),
        ),
        ("200 OK", b"<html>not a profile</html>".to_vec()),
    ]);
    let url = format!("{base}/debug/pprof/mutex");
    let out = Command::new(env!("CARGO_BIN_EXE_holdup"))
        .args(["top", "--seconds", "2", &url])
        .env("TZ", "UTC")
        .env("HOLDUP_TOKEN", "0123456789abcdef")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let from_url = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        from_url,
        ok(&["top", &go_fixture("mutex.pb.gz")]),
        "the same report as from the file"
    );
    let e = fails(&["top", &url]);
    assert!(
        e.contains("HTTP 400") && e.contains("must be a positive integer"),
        "{e}"
    );
    let e = fails(&["top", &url]);
    assert!(e.contains("is not a profile"), "{e}");
    let seen = server.join().unwrap();
    assert_eq!(
        seen[0],
        "GET /debug/pprof/mutex?seconds=2 HTTP/1.1 | authorization: Bearer 0123456789abcdef",
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("GET /debug/pprof/mutex HTTP/1.1"),
        "{seen:?}"
    );
    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = fails(&["top", &format!("http://{closed}/debug/pprof/mutex")]);
    assert!(e.contains(&closed.to_string()), "{e}");
}

#[test]
fn a_closed_output_pipe_is_not_an_error() {
    // A profile whose traces run to megabytes, so that writing outlasts the pipe's buffer.
    let dir = std::env::temp_dir().join(format!("holdup-cli-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = holdup_pprof::ProfileBuilder::new(&[("delay", "nanoseconds")]);
    for i in 0..20_000u64 {
        let line = holdup_pprof::LineInfo {
            function: format!("main.function_number_{i}"),
            system_name: String::new(),
            file: "main.go".into(),
            line: 1,
        };
        let loc = b.location(0, 0x1000 + i, &[line]);
        b.sample(&[loc], &[i as i64 + 1], &[]);
    }
    let big = dir.join("big.pb.gz");
    std::fs::write(&big, holdup_pprof::encode(&b.build())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdup"))
        .args(["traces", &big.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take()); // like `| head -c 16`
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

mod go_compat {
    //! Our reports equal `go tool pprof`'s on the same files.
    use super::*;

    fn pprof(go: &Path, args: &[&str]) -> String {
        let out = Command::new(go)
            .args(["tool", "pprof"])
            .args(args)
            .env("TZ", "UTC")
            .env("PPROF_BINARY_PATH", "/nonexistent")
            .output()
            .expect("run go tool pprof");
        assert!(
            out.status.success(),
            "go tool pprof {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn reports_match_go_tool_pprof() {
        let Some(go) = go() else { return };
        let src = go_source_dir().display().to_string();
        let mut files: Vec<String> = ["mutex.pb.gz", "block.pb.gz", "goroutine.pb.gz", "cpu.pb.gz"]
            .iter()
            .map(|f| go_fixture(f))
            .collect();
        files.push(holdup_fixture("mutex.pb.gz"));
        files.push(holdup_fixture("block.pb.gz"));
        for f in &files {
            let f = f.as_str();
            // (ours, pprof's)
            let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
                (vec!["top", "-n", "0", f], vec!["-top", f]),
                (
                    vec!["top", "-n", "4", "--cum", f],
                    vec!["-top", "-nodecount=4", "-cum", f],
                ),
                (
                    vec!["top", "-n", "0", "--sample", "0", f],
                    vec!["-top", "-sample_index=0", f],
                ),
                (
                    vec!["top", "-n", "0", "--focus", "main|Cache", f],
                    vec!["-top", "-focus=main|Cache", f],
                ),
                (
                    vec!["top", "-n", "0", "--ignore", "sync", f],
                    vec!["-top", "-ignore=sync", f],
                ),
                (
                    vec!["top", "-n", "0", "--hide", "runtime", f],
                    vec!["-top", "-hide=runtime", f],
                ),
                (
                    vec!["top", "-n", "0", "--show", "main", f],
                    vec!["-top", "-show=main", f],
                ),
                (vec!["traces", f], vec!["-traces", f]),
                (vec!["tags", f], vec!["-tags", f]),
                (
                    vec!["tags", "--tagfocus", "worker=a", f],
                    vec!["-tags", "-tagfocus=worker=a", f],
                ),
                (
                    vec!["traces", "--tagignore", "lock=held", f],
                    vec!["-traces", "-tagignore=lock=held", f],
                ),
                (
                    vec!["peek", "main|Cache", f],
                    vec!["-peek", "main|Cache", f],
                ),
                (
                    vec!["list", "main|Cache", "--source-path", &src, f],
                    vec!["-list", "main|Cache", "-source_path", &src, f],
                ),
            ];
            for (ours, theirs) in cases {
                let go_out = Command::new(&go)
                    .args(["tool", "pprof"])
                    .args(&theirs)
                    .env("TZ", "UTC")
                    .env("PPROF_BINARY_PATH", "/nonexistent")
                    .output()
                    .unwrap();
                let our_out = holdup(&ours);
                if !go_out.status.success() {
                    // pprof refuses (no match): so must we, with its message.
                    let msg = String::from_utf8_lossy(&go_out.stderr);
                    assert_eq!(
                        our_out.status.code(),
                        Some(2),
                        "{ours:?} succeeded where pprof said {msg}"
                    );
                    continue;
                }
                assert!(
                    our_out.status.success(),
                    "holdup {ours:?}: {}",
                    String::from_utf8_lossy(&our_out.stderr)
                );
                let mut ours_text = String::from_utf8(our_out.stdout).unwrap();
                // Our `top` adds the advice line pprof does not have.
                if let Some(i) = ours_text.find("advice: ") {
                    ours_text.truncate(i);
                }
                assert_eq!(
                    ours_text,
                    String::from_utf8(go_out.stdout).unwrap(),
                    "holdup {ours:?} vs go tool pprof {theirs:?}"
                );
            }
        }
        // Legacy text: pprof reads only the addresses (every frame `<unknown>`), we also read
        // the names; the values agree.
        for f in ["mutex.txt", "block.txt", "goroutine.txt"] {
            let f = go_fixture(f);
            let theirs = pprof(&go, &["-traces", &f]);
            let ours = ok(&["traces", &f]);
            let values = |t: &str| -> Vec<String> {
                t.lines()
                    .filter(|l| {
                        l.len() > 13 && !l[..10].trim().is_empty() && l.as_bytes()[10] == b' '
                    })
                    .map(|l| l[..10].trim().to_owned())
                    .collect()
            };
            assert_eq!(values(&ours), values(&theirs), "{f}");
            assert!(!values(&ours).is_empty(), "{f}: no values");
        }
    }
}

#[test]
fn dump_asks_a_server_for_its_threads_and_shows_deadlocks() {
    let grouped = std::fs::read(holdup_fixture("goroutine.txt")).unwrap();
    let full = std::fs::read(holdup_fixture("threads.txt")).unwrap();
    let (base, server) = serve(vec![
        ("200 OK", grouped.clone()),
        ("200 OK", full),
        ("200 OK", grouped),
        ("404 Not Found", b"Unknown profile\n".to_vec()),
    ]);
    let out = ok(&["dump", &base]);
    assert!(out.contains("1 deadlock found:"), "{out}");
    assert!(out.contains("held by thread "), "{out}");
    assert!(!out.contains('\x1b'), "no colour into a pipe: {out}");
    let out = ok(&["dump", "--full", &format!("{base}/debug/pprof/")]);
    assert!(out.starts_with("thread dump: "), "{out}");
    let out = ok(&["dump", "--color", "always", &base]);
    assert!(out.contains("\x1b[1;31m1 deadlock found:"), "{out}");
    let e = fails(&["dump", &base]);
    assert!(
        e.contains("HTTP 404") && e.contains("Unknown profile"),
        "{e}"
    );
    let seen = server.join().unwrap();
    assert!(
        seen[0].starts_with("GET /debug/pprof/goroutine?debug=1 "),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("GET /debug/pprof/goroutine?debug=2 "),
        "{seen:?}"
    );
    // Not a dump.
    let e = fails(&["dump", &holdup_fixture("mutex.pb.gz")]);
    assert!(e.contains("is not a goroutine profile"), "{e}");
    let e = fails(&["dump", "--full", &holdup_fixture("goroutine.txt")]);
    assert!(e.contains("is not a full thread dump"), "{e}");
}

#[test]
fn advice_names_a_lock_held_across_an_await() {
    use holdup::tokio::sync::Mutex;
    use std::sync::Arc;
    use std::time::Duration;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let lock = Arc::new(Mutex::new(0u64));
    let site = format!("{}:{}", file!(), line!() - 1);
    let profile = profile_of("across_await", || {
        rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let lock = Arc::clone(&lock);
                    holdup::tokio::spawn(async move {
                        for _ in 0..20 {
                            let mut g = lock.lock().await;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            *g += 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
    let advice = advice_of(&profile).expect("the lock held across an .await dominates");
    assert!(advice.starts_with("advice: "), "{advice}");
    assert!(advice.contains(&site), "{advice}");
    assert!(advice.contains("across an `.await`"), "{advice}");
    assert!(
        advice.contains("advice_names_a_lock_held_across_an_await"),
        "names the holder: {advice}"
    );
    let locks = ok(&["locks", &profile]);
    let header = locks.lines().nth(1).unwrap();
    assert!(header.ends_with("HELD ACROSS .AWAIT"), "{locks}");
    let row = locks.lines().find(|l| l.starts_with(&site)).unwrap();
    assert!(row.ends_with("100%"), "{locks}");
}

/// A trace recorded here, read by `holdup trace summary` and turned into a block profile by
/// `holdup trace block` (read back by `holdup top`, and by `go tool pprof` when Go is there).
#[test]
fn trace_summary_and_block_profile() {
    let dir = std::env::temp_dir().join(format!("holdup-cli-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    holdup::trace::start().unwrap();
    let lock = std::sync::Arc::new(holdup::sync::Mutex::new(0u64));
    let g = lock.lock().unwrap();
    let waiter = {
        let lock = lock.clone();
        std::thread::Builder::new()
            .name("trace-waiter".into())
            .spawn(move || *lock.lock().unwrap() += 1)
            .unwrap()
    };
    std::thread::sleep(std::time::Duration::from_millis(80));
    drop(g);
    waiter.join().unwrap();
    let trace = holdup::trace::stop().unwrap();
    let file = dir.join("app.pftrace");
    trace
        .write_perfetto(std::fs::File::create(&file).unwrap())
        .unwrap();
    let file = file.display().to_string();

    let summary = ok(&["trace", "summary", &file]);
    assert!(summary.starts_with("trace: "), "{summary}");
    assert!(summary.contains("0 events dropped"), "{summary}");
    let waiter_row = summary
        .lines()
        .find(|l| l.contains("\"trace-waiter\""))
        .unwrap_or_else(|| panic!("no row for the waiter in\n{summary}"));
    assert!(waiter_row.contains("mutex "), "{waiter_row}");
    assert!(summary.contains("LONGEST WAITS"), "{summary}");
    assert!(summary.contains("cli.rs:"), "the lock's site: {summary}");

    let profile = dir.join("sync.pb.gz").display().to_string();
    ok(&["trace", "block", &file, "-o", &profile]);
    let top = ok(&["top", "-n", "0", &profile]);
    assert!(top.contains("Type: delay"), "{top}");
    assert!(
        top.contains("trace_summary_and_block_profile"),
        "the waiting closure: {top}"
    );
    let tags = ok(&["tags", &profile]);
    assert!(tags.contains("mutex"), "{tags}");
    if let Some(go) = go() {
        let out = Command::new(go)
            .args(["tool", "pprof", "-top", &profile])
            .env("TZ", "UTC")
            .env("PPROF_BINARY_PATH", "/nonexistent")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), top);
    }

    // Bad inputs: one line, exit status 2, never a panic.
    let bad = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        fails(&["trace", "summary", &path.display().to_string()])
    };
    assert!(bad("empty.pftrace", b"").contains("is empty"));
    assert!(bad("junk.pftrace", b"\xff\xfe not a trace at all").contains("not a holdup trace"));
    let whole = std::fs::read(&file).unwrap();
    for cut in [1, whole.len() / 3, whole.len() / 2, whole.len() - 1] {
        let err = bad("cut.pftrace", &whole[..cut]);
        assert!(err.contains("not a holdup trace"), "cut at {cut}: {err}");
    }
    let pprof_file = std::fs::read(&profile).unwrap();
    assert!(bad("profile.pftrace", &pprof_file).contains("a pprof profile, not a trace"));
    assert!(fails(&["trace", "summary", "/nonexistent/app.pftrace"]).contains("cannot read"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Go toolchain (`HOLDUP_GO`, else the workspace's `.venv-go`), if there is one; under
/// `CI=true` a missing one is an error, never a silent skip.
fn go() -> Option<PathBuf> {
    let candidate = std::env::var_os("HOLDUP_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-go/bin/go"));
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but no Go toolchain at {} (set HOLDUP_GO or run .ci/run)",
        candidate.display()
    );
    eprintln!("skipping: no Go toolchain at {}", candidate.display());
    None
}
