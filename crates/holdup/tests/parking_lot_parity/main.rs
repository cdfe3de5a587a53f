//! holdup's `parking_lot` mirror against parking_lot's originals: the same sequence of
//! operations runs on parking_lot's type and on holdup's ([`on_both!`]), and what can be
//! observed (values, timeouts, fairness, `Debug` output, panics) must be equal, and equal to
//! what parking_lot documents; and the auto traits of every type and guard are parking_lot's.
//! The cases follow parking_lot's own tests (`src/{mutex,fair_mutex,rwlock,condvar,remutex,
//! once}.rs`): locking, timeouts, fairness, upgradable reads, reentrancy, condvar notify
//! semantics, `Once` poisoning.

use std::any::Any;

/// Runs `$body` twice, first with `$pl` naming `parking_lot`, then `holdup::parking_lot`;
/// asserts that both runs gave the same value and returns it.
macro_rules! on_both {
    (|$pl:ident| $body:block) => {{
        let from_parking_lot = {
            #[allow(unused_imports)]
            use parking_lot as $pl;
            $body
        };
        let from_holdup = {
            #[allow(unused_imports)]
            use holdup::parking_lot as $pl;
            $body
        };
        assert_eq!(
            from_holdup, from_parking_lot,
            "holdup (left) behaves differently from parking_lot (right)"
        );
        from_parking_lot
    }};
}

/// The message of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

mod auto_traits;
mod condvar;
mod mutex;
mod once;
mod remutex;
mod rwlock;
