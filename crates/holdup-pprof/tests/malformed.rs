//! Whatever bytes arrive, decoding answers with a profile or an error, never a panic, and
//! every report runs on whatever decodes.

mod common;

use holdup_pprof::filter::{Filters, filter};
use holdup_pprof::report::{self, ReportOptions};
use holdup_pprof::{DecodeErrorKind, ProfileView, TopOptions};
use proptest::prelude::*;
use prost::Message;

/// Runs every report on bytes that decoded.
fn exercise(bytes: &[u8]) {
    let Ok(p) = holdup_pprof::decode(bytes) else {
        return;
    };
    let view = ProfileView::new(&p).expect("decode validated the profile");
    for index in 0..view.sample_types().len() {
        let opts = ReportOptions {
            sample_index: Some(index),
            ..ReportOptions::default()
        };
        let _ = holdup_pprof::top(
            &view,
            &TopOptions {
                sample_index: Some(index),
                node_count: 0,
                ..TopOptions::default()
            },
        )
        .to_string();
        let _ = report::traces(&view, &opts);
        let _ = report::tags(&view, &opts);
        let _ = report::peek(&view, &|_| true, &opts);
        let _ = report::list(&view, &|_| true, &|_| Err("no source".into()), &opts);
    }
    let any = |s: &str| s.len().is_multiple_of(2);
    let _ = filter(
        &p,
        &Filters {
            focus: Some(&any),
            hide: Some(&any),
            ..Filters::default()
        },
    );
}

fn valid_raw() -> Vec<u8> {
    common::synthetic(7, 40, 1_000_000_000).encode_to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
        let mut gz = vec![0x1f, 0x8b];
        gz.extend_from_slice(&bytes);
        exercise(&gz);
    }

    #[test]
    fn damaged_profiles_never_panic(cut in 0usize..4000, flips in prop::collection::vec((0usize..4000, any::<u8>()), 0..8)) {
        let mut raw = valid_raw();
        for (at, byte) in flips {
            let n = raw.len();
            raw[at % n] = byte;
        }
        raw.truncate(cut.min(raw.len()));
        exercise(&raw);
        exercise(&holdup_pprof::encode(&holdup_pprof::proto::Profile::decode(&raw[..]).unwrap_or_default()));
    }

    #[test]
    fn legacy_text_never_panics(lines in prop::collection::vec(prop_oneof![
        Just("--- mutex:".to_owned()),
        Just("--- contention:".to_owned()),
        Just("goroutine profile: total 3".to_owned()),
        "cycles/second=[0-9]{0,12}",
        "sampling period=-?[0-9]{0,20}",
        "[0-9]{0,20} [0-9]{0,20} @( 0x[0-9a-f]{0,17}){0,4}",
        "[0-9]{0,4} @( 0x[0-9a-f]{1,16}){0,4}",
        "#\t0x[0-9a-f]{1,8}\t[a-z.()*]{0,12}\\+0x[0-9a-f]{0,4}\t[a-z/.]{0,10}:[0-9]{0,5}",
        "# labels: \\{(\"[a-z]{0,4}\":\"[a-z]{0,4}\"(, )?){0,3}\\}",
        "\\PC{0,30}",
    ], 0..20)) {
        let text = lines.join("\n");
        if holdup_pprof::legacy::is_legacy_text(text.as_bytes())
            && let Ok(p) = holdup_pprof::legacy::parse(&text)
        {
            exercise(&p.encode_to_vec());
        }
    }
}

#[test]
fn clear_errors_for_known_damage() {
    let gz = holdup_pprof::encode(&common::example());
    let e = holdup_pprof::decode(&gz[..gz.len() / 2]).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::Gzip, "{e}");
    // A length that runs past the end, and a varint of ten 0xff bytes.
    for raw in [
        vec![0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3],
        vec![0x08; 1].into_iter().chain([0xff; 10]).collect(),
    ] {
        let e = holdup_pprof::decode(&raw).unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::Proto, "{e}");
    }
    // A sample referring to a location that does not exist.
    let mut p = common::example();
    p.sample[0].location_id.push(9_999);
    let e = holdup_pprof::decode(&p.encode_to_vec()).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::Invalid, "{e}");
    assert!(e.to_string().contains("missing location 9999"), "{e}");
}

#[test]
fn extreme_values_do_not_overflow() {
    let mut b =
        holdup_pprof::ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    let l = |f: &str| common::line(f, "x.go", 1);
    let (a, c) = (
        b.location(0, 1, &[l("main.a")]),
        b.location(0, 2, &[l("main.c")]),
    );
    for v in [i64::MAX, i64::MAX, i64::MIN, i64::MIN, -1, 1] {
        b.sample(&[a, c], &[v, v], &[("lock", "x.go:1")]);
    }
    let p = b.build();
    exercise(&p.encode_to_vec());
}
