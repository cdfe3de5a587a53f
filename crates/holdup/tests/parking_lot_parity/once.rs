use std::panic::{AssertUnwindSafe, catch_unwind};

#[test]
fn call_once_runs_once_like_parking_lot() {
    let got = on_both!(|pl| {
        static O: pl::Once = pl::Once::new();
        let before = O.state();
        let mut runs = 0;
        O.call_once(|| runs += 1);
        O.call_once(|| runs += 1);
        (before, O.state(), runs)
    });
    assert_eq!(got.1, parking_lot::OnceState::Done);
    assert_eq!(got.0, parking_lot::OnceState::New);
    assert_eq!(got.2, 1);
}

#[test]
fn poisoning_like_parking_lot() {
    let got = on_both!(|pl| {
        let o = pl::Once::new();
        let first = catch_unwind(AssertUnwindSafe(|| o.call_once(|| panic!("init fails"))));
        let poisoned = o.state().poisoned();
        let second = catch_unwind(AssertUnwindSafe(|| o.call_once(|| ())));
        let mut saw = None;
        o.call_once_force(|state| saw = Some(state.poisoned()));
        (
            super::panic_message(&*first.unwrap_err()),
            poisoned,
            super::panic_message(&*second.unwrap_err()),
            saw,
            o.state().done(),
        )
    });
    assert_eq!(got.0, "init fails");
    assert!(got.1);
    assert_eq!(got.2, "Once instance has previously been poisoned");
    assert_eq!((got.3, got.4), (Some(true), true));
}

#[test]
fn a_second_caller_waits_for_the_first_like_parking_lot() {
    let got = on_both!(|pl| {
        let o = std::sync::Arc::new(pl::Once::new());
        let (started, go) = std::sync::mpsc::channel();
        let first = {
            let o = o.clone();
            std::thread::spawn(move || {
                o.call_once(|| {
                    started.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(40));
                })
            })
        };
        go.recv().unwrap();
        let in_progress = o.state() == pl::OnceState::InProgress;
        let mut ran = false;
        o.call_once(|| ran = true);
        first.join().unwrap();
        (in_progress, ran, o.state().done())
    });
    assert_eq!(got, (true, false, true));
}
