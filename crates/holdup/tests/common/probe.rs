// Auto-trait probes shared by the parity tests (`include!`d: the macros stay local to each
// test crate). Compares holdup's types with the originals they mirror.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};

/// Send, Sync, Unpin, UnwindSafe, RefUnwindSafe.
type Traits = [bool; 5];
const NAMES: [&str; 5] = ["Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe"];

/// Autoref specialization: an inherent method applies only when `T` has the trait (its impl
/// has the bound); otherwise method lookup falls back to the trait method, which says no.
/// This works on stable for concrete types, which the macros below always name.
struct Probe<T: ?Sized>(PhantomData<T>);

fn probe_of<T>(_: &T) -> Probe<T> {
    Probe(PhantomData)
}

impl<T: ?Sized + Send> Probe<T> {
    fn send(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Sync> Probe<T> {
    fn sync(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Unpin> Probe<T> {
    fn unpin(&self) -> bool {
        true
    }
}
impl<T: ?Sized + UnwindSafe> Probe<T> {
    fn unwind_safe(&self) -> bool {
        true
    }
}
impl<T: ?Sized + RefUnwindSafe> Probe<T> {
    fn ref_unwind_safe(&self) -> bool {
        true
    }
}

trait NotSend {
    fn send(&self) -> bool {
        false
    }
}
trait NotSync {
    fn sync(&self) -> bool {
        false
    }
}
trait NotUnpin {
    fn unpin(&self) -> bool {
        false
    }
}
trait NotUnwindSafe {
    fn unwind_safe(&self) -> bool {
        false
    }
}
trait NotRefUnwindSafe {
    fn ref_unwind_safe(&self) -> bool {
        false
    }
}
impl<T: ?Sized> NotSend for Probe<T> {}
impl<T: ?Sized> NotSync for Probe<T> {}
impl<T: ?Sized> NotUnpin for Probe<T> {}
impl<T: ?Sized> NotUnwindSafe for Probe<T> {}
impl<T: ?Sized> NotRefUnwindSafe for Probe<T> {}

/// The auto traits of a type (`traits!(T)`) or of a value's type (`traits!(@of expr)`).
macro_rules! traits {
    (@probe $p:expr) => {{
        let p = $p;
        [p.send(), p.sync(), p.unpin(), p.unwind_safe(), p.ref_unwind_safe()]
    }};
    (@of $e:expr) => {
        traits!(@probe probe_of(&$e))
    };
    ($t:ty) => {
        traits!(@probe Probe::<$t>(PhantomData))
    };
}

/// Compares the auto traits of holdup's type with std's; differences are recorded and
/// reported by [`finish`].
macro_rules! same_traits {
    ($holdup:ty, $std:ty $(,)?) => {
        compare(
            stringify!($holdup),
            stringify!($std),
            traits!($holdup),
            traits!($std),
        )
    };
}

/// As `same_traits!`, for types that cannot be named (closures): compares values' types.
macro_rules! same_traits_of {
    ($holdup:expr, $std:expr $(,)?) => {{
        let (h, s) = ($holdup, $std);
        compare(
            &format!("{} (= {})", stringify!($holdup), std::any::type_name_of_val(&h)),
            stringify!($std),
            traits!(@of h),
            traits!(@of s),
        )
    }};
}

thread_local! {
    static DIFFS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static COMPARED: Cell<usize> = const { Cell::new(0) };
}

fn compare(holdup: &str, std: &str, h: Traits, s: Traits) {
    COMPARED.set(COMPARED.get() + 1);
    for ((name, hv), sv) in NAMES.iter().zip(h).zip(s) {
        if hv != sv {
            DIFFS.with_borrow_mut(|d| {
                d.push(format!("{holdup}: {name} is {hv}, but {sv} for {std}"));
            });
        }
    }
}

/// Fails with every recorded difference.
fn finish(expected_comparisons: usize) {
    assert_eq!(
        COMPARED.replace(0),
        expected_comparisons,
        "not every comparison ran"
    );
    let diffs = DIFFS.take();
    assert!(
        diffs.is_empty(),
        "{} auto-trait difference(s) from std:\n  {}",
        diffs.len(),
        diffs.join("\n  ")
    );
}
