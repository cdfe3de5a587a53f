//! Wire-format tests: proto round trips (property-based), decode errors, determinism, and
//! golden files for the legacy text and the top report (`HOLDUP_BLESS=1` rewrites them).

mod common;

use std::path::Path;

use common::{example, line};

use holdup_pprof::legacy::{ContentionKind, TextFrame, TextRecord};
use holdup_pprof::proto::Profile;
use holdup_pprof::{DecodeErrorKind, ProfileBuilder, ProfileView, TopOptions, TopSort};
use proptest::prelude::*;

#[test]
fn encode_decode_round_trip() {
    let p = example();
    let bytes = holdup_pprof::encode(&p);
    assert_eq!(&bytes[..3], &[0x1f, 0x8b, 0x08]);
    assert_eq!(holdup_pprof::decode(&bytes).unwrap(), p);
    // Plain (uncompressed) protobuf is accepted too.
    use prost::Message as _;
    assert_eq!(holdup_pprof::decode(&p.encode_to_vec()).unwrap(), p);
}

#[test]
fn output_is_deterministic() {
    assert_eq!(
        holdup_pprof::encode(&example()),
        holdup_pprof::encode(&example())
    );
    let p = example();
    assert_eq!(
        &p.string_table[..5],
        ["", "contentions", "count", "delay", "nanoseconds"]
    );
}

#[test]
fn decode_rejects_bad_input() {
    assert_eq!(
        holdup_pprof::decode(b"\x1f\x8b\x08garbage")
            .unwrap_err()
            .kind(),
        DecodeErrorKind::Gzip
    );
    assert_eq!(
        holdup_pprof::decode(b"\xff\xff\xff\xff")
            .unwrap_err()
            .kind(),
        DecodeErrorKind::Proto
    );
    let mut p = example();
    p.sample[0].location_id.push(99);
    let err = holdup_pprof::decode(&holdup_pprof::encode(&p)).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Invalid);
    assert!(err.to_string().contains("missing location 99"), "{err}");
    let mut p = example();
    p.function[0].name = 1000;
    assert_eq!(
        holdup_pprof::decode(&holdup_pprof::encode(&p))
            .unwrap_err()
            .kind(),
        DecodeErrorKind::Invalid
    );
    let mut p = example();
    p.sample[1].value.pop();
    assert_eq!(
        holdup_pprof::decode(&holdup_pprof::encode(&p))
            .unwrap_err()
            .kind(),
        DecodeErrorKind::Invalid
    );
}

#[test]
fn view_expands_inlined_frames_leaf_first() {
    let p = example();
    let view = ProfileView::new(&p).unwrap();
    let frames = view.frames(&p.sample[1]);
    let names: Vec<&str> = frames.iter().map(|f| f.function).collect();
    assert_eq!(
        names,
        ["sync.(*Mutex).Unlock", "main.waiter", "main.main.gowrap1"]
    );
    assert_eq!(
        frames.iter().map(|f| f.inlined).collect::<Vec<_>>(),
        [true, false, false]
    );
    assert_eq!(view.label(&p.sample[0], "kind"), Some("mutex"));
    assert_eq!(view.label(&p.sample[2], "kind"), None);
    assert_eq!(view.default_sample_index(), 1);
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("HOLDUP_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with HOLDUP_BLESS=1", path.display()));
    assert!(
        expected == actual,
        "{name} differs from the golden file:\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn legacy_text_matches_golden() {
    let records = [
        TextRecord {
            cycles: 567_455_652,
            count: 1,
            pcs: vec![0x4df1c1, 0x4df1c0, 0x483981],
            frames: vec![
                TextFrame {
                    pc: 0x4df1c0,
                    function: "sync.(*Mutex).Unlock".into(),
                    offset: 0x40,
                    file: "/go/src/sync/mutex.go".into(),
                    line: 65,
                },
                TextFrame {
                    pc: 0x4df1bf,
                    function: "main.holder".into(),
                    offset: 0x3f,
                    file: "example/mtx/main.go".into(),
                    line: 18,
                },
            ],
        },
        TextRecord {
            cycles: 192_264,
            count: 2,
            pcs: vec![0x4df270, 0x4df26f],
            frames: vec![TextFrame {
                pc: 0x4df26f,
                function: "sync.(*Mutex).Unlock".into(),
                offset: 0x6f,
                file: "/go/src/sync/mutex.go".into(),
                line: 65,
            }],
        },
    ];
    let mut mutex = Vec::new();
    holdup_pprof::legacy::write_contention(
        &mut mutex,
        ContentionKind::Mutex { sampling_period: 1 },
        2_099_999_067,
        &records,
    )
    .unwrap();
    let mutex = String::from_utf8(mutex).unwrap();
    // The first record is byte for byte what Go 1.27 printed (`runtime/pprof`'s legacy `debug=1` text).
    assert!(mutex.starts_with(
        "--- mutex:\ncycles/second=2099999067\nsampling period=1\n567455652 1 @ 0x4df1c1 0x4df1c0 0x483981\n#\t0x4df1c0\tsync.(*Mutex).Unlock+0x40\t/go/src/sync/mutex.go:65\n#\t0x4df1bf\tmain.holder+0x3f\t\texample/mtx/main.go:18\n\n"
    ));
    golden("legacy_mutex.txt", &mutex);
    let mut block = Vec::new();
    holdup_pprof::legacy::write_contention(
        &mut block,
        ContentionKind::Block,
        1_000_000_000,
        &records,
    )
    .unwrap();
    golden("legacy_block.txt", &String::from_utf8(block).unwrap());
}

#[test]
fn top_matches_golden() {
    let p = example();
    let view = ProfileView::new(&p).unwrap();
    let flat = holdup_pprof::top(&view, &TopOptions::default());
    let cum = holdup_pprof::top(
        &view,
        &TopOptions {
            sort: TopSort::Cum,
            sample_index: Some(0),
            ..TopOptions::default()
        },
    );
    golden("top.txt", &format!("{flat}\n{cum}"));
    assert_eq!(flat.rows[0].name, "sync.(*Mutex).Unlock");
    assert_eq!(flat.rows[0].inline, Some("(inline)"));
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    let names = prop::collection::vec("[a-z:<>_]{1,12}", 1..6);
    (
        names,
        prop::collection::vec(
            (
                prop::collection::vec((0usize..6, 0i64..500), 1..4),
                0i64..1000,
                0i64..1_000_000,
                prop::option::of("[a-z]{1,5}"),
            ),
            0..8,
        ),
    )
        .prop_map(|(names, samples)| {
            let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
            b.period_type("contentions", "count", 1);
            for (i, (stack, count, delay, label)) in samples.iter().enumerate() {
                let locs: Vec<u64> = stack
                    .iter()
                    .map(|&(f, l)| {
                        b.location(
                            0,
                            (i * 16 + f) as u64,
                            &[line(&names[f % names.len()], "f.rs", l)],
                        )
                    })
                    .collect();
                let labels: Vec<(&str, &str)> =
                    label.iter().map(|v| ("kind", v.as_str())).collect();
                b.sample(&locs, &[*count, *delay], &labels);
            }
            b.build()
        })
}

proptest! {
    #[test]
    fn any_built_profile_round_trips(p in arb_profile()) {
        let decoded = holdup_pprof::decode(&holdup_pprof::encode(&p)).unwrap();
        prop_assert_eq!(&decoded, &p);
        let view = ProfileView::new(&decoded).unwrap();
        // The top report accounts for every sample's value exactly once in flat.
        let report = holdup_pprof::top(&view, &TopOptions { node_count: 0, node_fraction: 0.0, ..TopOptions::default() });
        let flat: i64 = report.rows.iter().map(|r| r.flat).sum();
        let total: i64 = p.sample.iter().map(|s| s.value[1]).sum();
        prop_assert_eq!(flat, total);
        prop_assert!(report.rows.iter().all(|r| r.cum >= r.flat));
    }
}
