//! The real `go tool pprof` reads our encoding, and our `top` prints what its `-top` prints,
//! byte for byte, on the same profiles.

mod common;

use std::path::Path;
use std::process::Command;

use holdup_pprof::proto::Profile;
use holdup_pprof::{ProfileView, TopOptions, TopSort};

fn go_top(go: &Path, file: &Path, args: &[&str]) -> String {
    let out = Command::new(go)
        .args(["tool", "pprof", "-top"])
        .args(args)
        .arg(file)
        .env("TZ", "UTC")
        .env("PPROF_BINARY_PATH", "/nonexistent")
        .output()
        .expect("run go tool pprof");
    assert!(
        out.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn check(go: &Path, name: &str, profile: &Profile) {
    let dir = std::env::temp_dir().join(format!("holdup-pprof-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.pb.gz"));
    std::fs::write(&file, holdup_pprof::encode(profile)).unwrap();
    let view = ProfileView::new(profile).unwrap();
    let cases: [(&[&str], TopOptions); 4] = [
        (
            &[],
            TopOptions {
                node_count: 0,
                ..TopOptions::default()
            },
        ),
        (
            &["-cum"],
            TopOptions {
                node_count: 0,
                sort: TopSort::Cum,
                ..TopOptions::default()
            },
        ),
        (
            &["-sample_index=contentions"],
            TopOptions {
                node_count: 0,
                sample_index: Some(0),
                ..TopOptions::default()
            },
        ),
        (
            &["-nodecount=3"],
            TopOptions {
                node_count: 3,
                ..TopOptions::default()
            },
        ),
    ];
    for (args, opts) in cases {
        let theirs = go_top(go, &file, args);
        let ours = holdup_pprof::top(&view, &opts).to_string();
        assert_eq!(ours, theirs, "{name} with {args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn top_matches_go_tool_pprof() {
    let Some(go) = common::go() else { return };
    check(&go, "example", &common::example());
    for seed in 1..=6 {
        let duration = if seed % 2 == 0 { 10_000_000_000 } else { 0 };
        check(
            &go,
            &format!("synthetic-{seed}"),
            &common::synthetic(seed, 40 * seed as usize, duration),
        );
    }
}
