//! holdup's `sync` and `thread` mirrors against std's originals.
//!
//! Three kinds of tests, per primitive module:
//!
//! - `doc_*`: std's own documentation examples (Rust 1.95), with `std::sync`/`std::thread`
//!   replaced by `holdup::sync`/`holdup::thread`. Adaptations are marked `(adapted)` or
//!   `(added)`: sleeps shortened to at most 50 ms or replaced by explicit hand-offs, lines that
//!   rustdoc hides restored, assertions added where the example only printed.
//! - `*_like_std`: the same sequence of operations runs on std's type and on holdup's
//!   ([`on_both!`]), and the observable results (values, errors, `Debug` output, panic
//!   messages) must be equal, and equal to what std documents.
//! - `auto_traits`: `Send`, `Sync`, `Unpin`, `UnwindSafe` and `RefUnwindSafe` of every wrapper
//!   and guard, pinned against the std original for several payload types.

use std::any::Any;
use std::time::{Duration, Instant};

/// Runs `$body` twice, first with `$sync`/`$thread` naming `std::sync`/`std::thread`, then
/// naming `holdup::sync`/`holdup::thread`; asserts that both runs gave the same value and
/// returns it (for the caller to check against what std documents).
macro_rules! on_both {
    (|$sync:ident, $thread:ident| $body:block) => {{
        let from_std = {
            #[allow(unused_imports)]
            use std::{sync as $sync, thread as $thread};
            $body
        };
        let from_holdup = {
            #[allow(unused_imports)]
            use holdup::{sync as $sync, thread as $thread};
            $body
        };
        assert_eq!(
            from_holdup, from_std,
            "holdup (left) behaves differently from std (right)"
        );
        from_std
    }};
}

/// The message of a panic payload (`panic!` with a literal or with format arguments).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// `Ok`, `WouldBlock` or `Poisoned`; the guard, if any, is dropped before returning.
fn try_state<G>(r: std::sync::TryLockResult<G>) -> &'static str {
    match r {
        Ok(_) => "Ok",
        Err(std::sync::TryLockError::WouldBlock) => "WouldBlock",
        Err(std::sync::TryLockError::Poisoned(_)) => "Poisoned",
    }
}

/// Polls `cond` every millisecond; fails the test if it is still false after 30 s (a hang
/// guard, not a timing assertion).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "still waiting for {what} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

mod mutex;

mod rwlock;

mod condvar;

mod barrier;

mod once;

mod mpsc;

mod thread;

/// Auto traits of every wrapper, compared with the std original, in the spirit of tokio's
/// `tests/async_send_sync.rs` but as runtime comparisons: each `same_traits!` line records any
/// difference, and the test fails listing all of them.
mod auto_traits;
