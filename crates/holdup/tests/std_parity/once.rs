use super::panic_message;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};

// ----- std's documentation examples: OnceLock -----

/// `std::sync::OnceLock` type docs, first example.
#[test]
fn doc_oncelock_type_example() {
    use holdup::sync::OnceLock;

    static CELL: OnceLock<usize> = OnceLock::new();

    // `OnceLock` has not been written to yet.
    assert!(CELL.get().is_none());

    // Spawn a thread and write to `OnceLock`.
    holdup::thread::spawn(|| {
        let value = CELL.get_or_init(|| 12345);
        assert_eq!(value, &12345);
    })
    .join()
    .unwrap();

    // `OnceLock` now contains the value.
    assert_eq!(CELL.get(), Some(&12345),);
}

/// `std::sync::OnceLock` type docs, the append-only list.
#[test]
fn doc_oncelock_once_list() {
    use holdup::sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    };
    use holdup::thread;

    struct OnceList<T> {
        data: OnceLock<T>,
        next: OnceLock<Box<OnceList<T>>>,
    }
    impl<T> OnceList<T> {
        const fn new() -> OnceList<T> {
            OnceList {
                data: OnceLock::new(),
                next: OnceLock::new(),
            }
        }
        fn push(&self, value: T) {
            // FIXME: this impl is concise, but is also slow for long lists or many threads.
            // as an exercise, consider how you might improve on it while preserving the behavior
            if let Err(value) = self.data.set(value) {
                let next = self.next.get_or_init(|| Box::new(OnceList::new()));
                next.push(value)
            };
        }
        fn contains(&self, example: &T) -> bool
        where
            T: PartialEq,
        {
            self.data
                .get()
                .map(|item| item == example)
                .filter(|v| *v)
                .unwrap_or_else(|| {
                    self.next
                        .get()
                        .map(|next| next.contains(example))
                        .unwrap_or(false)
                })
        }
    }

    // Let's exercise this new Sync append-only list by doing a little counting
    static LIST: OnceList<u32> = OnceList::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);

    const LEN: u32 = 1000;
    thread::scope(|s| {
        for _ in 0..thread::available_parallelism().unwrap().get() {
            s.spawn(|| {
                while let i @ 0..LEN = COUNTER.fetch_add(1, Ordering::Relaxed) {
                    LIST.push(i);
                }
            });
        }
    });

    for i in 0..LEN {
        assert!(LIST.contains(&i));
    }
}

/// `OnceLock::wait`.
#[test]
fn doc_oncelock_wait() {
    use holdup::sync::OnceLock;
    use holdup::thread;

    let value = OnceLock::new();

    thread::scope(|s| {
        s.spawn(|| value.set(1 + 1));

        let result = value.wait();
        assert_eq!(result, &2);
    })
}

/// `OnceLock::set`.
#[test]
fn doc_oncelock_set() {
    use holdup::sync::OnceLock;

    static CELL: OnceLock<i32> = OnceLock::new();

    // (adapted: the body of the example's `fn main`)
    assert!(CELL.get().is_none());

    holdup::thread::spawn(|| {
        assert_eq!(CELL.set(92), Ok(()));
    })
    .join()
    .unwrap();

    assert_eq!(CELL.set(62), Err(62));
    assert_eq!(CELL.get(), Some(&92));
}

/// `OnceLock::get_or_init`.
#[test]
fn doc_oncelock_get_or_init() {
    use holdup::sync::OnceLock;

    let cell = OnceLock::new();
    let value = cell.get_or_init(|| 92);
    assert_eq!(value, &92);
    let value = cell.get_or_init(|| unreachable!());
    assert_eq!(value, &92);
}

/// `OnceLock::into_inner`.
#[test]
fn doc_oncelock_into_inner() {
    use holdup::sync::OnceLock;

    let cell: OnceLock<String> = OnceLock::new();
    assert_eq!(cell.into_inner(), None);

    let cell = OnceLock::new();
    cell.set("hello".to_string()).unwrap();
    assert_eq!(cell.into_inner(), Some("hello".to_string()));
}

/// `OnceLock::take`.
#[test]
fn doc_oncelock_take() {
    use holdup::sync::OnceLock;

    let mut cell: OnceLock<String> = OnceLock::new();
    assert_eq!(cell.take(), None);

    let mut cell = OnceLock::new();
    cell.set("hello".to_string()).unwrap();
    assert_eq!(cell.take(), Some("hello".to_string()));
    assert_eq!(cell.get(), None);
}

/// `impl Default for OnceLock`.
#[test]
fn doc_oncelock_default() {
    use holdup::sync::OnceLock;

    assert_eq!(OnceLock::<()>::new(), OnceLock::default());
}

/// `impl From<T> for OnceLock<T>`.
#[test]
fn doc_oncelock_from() -> Result<(), i32> {
    use holdup::sync::OnceLock;

    let a = OnceLock::from(3);
    let b = OnceLock::new();
    b.set(3)?;
    assert_eq!(a, b);
    Ok(())
}

/// `impl PartialEq for OnceLock`.
#[test]
fn doc_oncelock_eq() {
    use holdup::sync::OnceLock;

    let five = OnceLock::new();
    five.set(5).unwrap();

    let also_five = OnceLock::new();
    also_five.set(5).unwrap();

    assert!(five == also_five);

    assert!(OnceLock::<u32>::new() == OnceLock::<u32>::new());
}

// ----- std's documentation examples: LazyLock -----

/// `std::sync::LazyLock` type docs, first example.
#[test]
fn doc_lazylock_type_example() {
    use holdup::sync::LazyLock;

    // (adapted: stands for the docs' `another_crate::great_question()`)
    fn great_question() -> String {
        "42".to_owned()
    }

    // Note: static items do not call [`Drop`] on program termination, so this won't be deallocated.
    // this is fine, as the OS can deallocate the terminated program faster than we can free memory
    // but tools like valgrind might report "memory leaks" as it isn't obvious this is intentional.
    static DEEP_THOUGHT: LazyLock<String> = LazyLock::new(|| {
        // M3 Ultra takes about 16 million years in --release config
        great_question()
    });

    // The `String` is built, stored in the `LazyLock`, and returned as `&String`.
    let _ = &*DEEP_THOUGHT;
    assert_eq!(LazyLock::get(&DEEP_THOUGHT).map(String::as_str), Some("42")); // (added)
}

/// `std::sync::LazyLock` type docs, second example.
#[test]
fn doc_lazylock_in_a_struct() {
    use holdup::sync::LazyLock;

    #[derive(Debug)]
    struct UseCellLock {
        number: LazyLock<u32>,
    }
    // (adapted: the body of the example's `fn main`)
    let lock: LazyLock<u32> = LazyLock::new(|| 0u32);

    let data = UseCellLock { number: lock };
    println!("{}", *data.number);
    assert_eq!(format!("{data:?}"), "UseCellLock { number: LazyLock(0) }"); // (added)
}

/// `LazyLock::new`.
#[test]
fn doc_lazylock_new() {
    use holdup::sync::LazyLock;

    let hello = "Hello, World!".to_string();

    let lazy = LazyLock::new(|| hello.to_uppercase());

    assert_eq!(&*lazy, "HELLO, WORLD!");
}

/// `LazyLock::force_mut`.
#[test]
fn doc_lazylock_force_mut() {
    use holdup::sync::LazyLock;

    let mut lazy = LazyLock::new(|| 92);

    let p = LazyLock::force_mut(&mut lazy);
    assert_eq!(*p, 92);
    *p = 44;
    assert_eq!(*lazy, 44);
}

/// `LazyLock::force`.
#[test]
fn doc_lazylock_force() {
    use holdup::sync::LazyLock;

    let lazy = LazyLock::new(|| 92);

    assert_eq!(LazyLock::force(&lazy), &92);
    assert_eq!(&*lazy, &92);
}

/// `LazyLock::get_mut`.
#[test]
fn doc_lazylock_get_mut() {
    use holdup::sync::LazyLock;

    let mut lazy = LazyLock::new(|| 92);

    assert_eq!(LazyLock::get_mut(&mut lazy), None);
    let _ = LazyLock::force(&lazy);
    *LazyLock::get_mut(&mut lazy).unwrap() = 44;
    assert_eq!(*lazy, 44);
}

/// `LazyLock::get`.
#[test]
fn doc_lazylock_get() {
    use holdup::sync::LazyLock;

    let lazy = LazyLock::new(|| 92);

    assert_eq!(LazyLock::get(&lazy), None);
    let _ = LazyLock::force(&lazy);
    assert_eq!(LazyLock::get(&lazy), Some(&92));
}

// ----- std's documentation examples: Once -----

/// `std::sync::Once` type docs.
#[test]
fn doc_once_type_example() {
    use holdup::sync::Once;

    static START: Once = Once::new();

    START.call_once(|| {
        // run initialization here
    });
    assert!(START.is_completed()); // (added)
}

/// `Once::call_once`.
#[test]
// std's doc example, kept as written: one `unsafe` block around a `static mut` write and read.
#[allow(clippy::multiple_unsafe_ops_per_block)]
fn doc_once_call_once() {
    use holdup::sync::Once;

    static mut VAL: usize = 0;
    static INIT: Once = Once::new();

    // Accessing a `static mut` is unsafe much of the time, but if we do so
    // in a synchronized fashion (e.g., write once or read all) then we're
    // good to go!
    //
    // This function will only call `expensive_computation` once, and will
    // otherwise always return the value returned from the first invocation.
    fn get_cached_val() -> usize {
        // SAFETY: (added) `VAL` is written only inside `call_once`, which completes before
        // any `call_once` returns, and read only after that.
        unsafe {
            INIT.call_once(|| {
                VAL = expensive_computation();
            });
            VAL
        }
    }

    fn expensive_computation() -> usize {
        // ...
        42 // (added)
    }

    assert_eq!(get_cached_val(), 42); // (added)
    assert_eq!(get_cached_val(), 42); // (added)
}

/// `Once::call_once_force`.
#[test]
fn doc_once_call_once_force() {
    use holdup::sync::Once;
    use holdup::thread;

    static INIT: Once = Once::new();

    // poison the once
    let handle = thread::spawn(|| {
        INIT.call_once(|| panic!());
    });
    assert!(handle.join().is_err());

    // poisoning propagates
    let handle = thread::spawn(|| {
        INIT.call_once(|| {});
    });
    assert!(handle.join().is_err());

    // call_once_force will still run and reset the poisoned state
    INIT.call_once_force(|state| {
        assert!(state.is_poisoned());
    });

    // once any success happens, we stop propagating the poison
    INIT.call_once(|| {});
}

/// `Once::is_completed`, first example.
#[test]
fn doc_once_is_completed() {
    use holdup::sync::Once;

    static INIT: Once = Once::new();

    assert!(!INIT.is_completed()); // (adapted from `assert_eq!(.., false)`, also below)
    INIT.call_once(|| {
        assert!(!INIT.is_completed());
    });
    assert!(INIT.is_completed());
}

/// `Once::is_completed`, second example.
#[test]
fn doc_once_is_completed_after_panic() {
    use holdup::sync::Once;
    use holdup::thread;

    static INIT: Once = Once::new();

    assert!(!INIT.is_completed()); // (adapted from `assert_eq!(.., false)`, also below)
    let handle = thread::spawn(|| {
        INIT.call_once(|| panic!());
    });
    assert!(handle.join().is_err());
    assert!(!INIT.is_completed());
}

/// `Once::wait`.
#[test]
fn doc_once_wait() {
    use holdup::sync::Once;
    use holdup::thread;

    static READY: Once = Once::new();

    let thread = thread::spawn(|| {
        READY.wait();
        println!("everything is ready");
    });

    READY.call_once(|| println!("performing setup"));
    thread.join().unwrap(); // (added)
}

/// `OnceState::is_poisoned`, both examples.
#[test]
fn doc_once_state_is_poisoned() {
    use holdup::sync::Once;
    use holdup::thread;

    {
        static INIT: Once = Once::new();

        // poison the once
        let handle = thread::spawn(|| {
            INIT.call_once(|| panic!());
        });
        assert!(handle.join().is_err());

        INIT.call_once_force(|state| {
            assert!(state.is_poisoned());
        });
    }
    {
        static INIT: Once = Once::new();

        INIT.call_once_force(|state| {
            assert!(!state.is_poisoned());
        });
    }
}

// ----- parity with std -----

#[test]
fn oncelock_initializes_once_under_contention_like_std() {
    let out = on_both!(|sync, thread| {
        let cell = sync::OnceLock::new();
        let calls = AtomicUsize::new(0);
        let seen: Vec<u32> = thread::scope(|s| {
            let hs: Vec<_> = (0..6)
                .map(|i| {
                    let (cell, calls) = (&cell, &calls);
                    s.spawn(move || {
                        *cell.get_or_init(|| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            thread::sleep(std::time::Duration::from_millis(5));
                            100 + i
                        })
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let first = seen[0];
        (
            calls.load(Ordering::SeqCst),
            seen.iter().all(|&v| v == first),
            cell.get() == Some(&first),
        )
    });
    assert_eq!(out, (1, true, true));
}

#[test]
fn oncelock_set_take_clone_debug_like_std() {
    let out = on_both!(|sync, thread| {
        let mut log = Vec::new();
        let mut cell = sync::OnceLock::new();
        let empty = format!("{cell:?} get={:?}", cell.get());
        log.push(format!("{empty} set={:?}", cell.set(1)));
        log.push(format!("{cell:?} set again={:?}", cell.set(2)));
        let copy = cell.clone();
        log.push(format!("clone={copy:?} eq={}", copy == cell));
        if let Some(v) = cell.get_mut() {
            *v += 10;
        }
        let before = format!("{cell:?}");
        let taken = cell.take();
        log.push(format!("{before} take={taken:?} after={cell:?}"));
        log.push(format!(
            "into_inner={:?} {:?}",
            copy.into_inner(),
            sync::OnceLock::<u8>::default().into_inner()
        ));
        // A panicking initializer leaves the cell empty and usable.
        let cell = sync::OnceLock::<u8>::new();
        let r = catch_unwind(|| *cell.get_or_init(|| panic!("init failed")))
            .map_err(|p| panic_message(&*p));
        log.push(format!("{r:?} {cell:?}"));
        log.push(format!("then {}", cell.get_or_init(|| 7)));
        // wait() returns once another thread set it.
        let cell = sync::OnceLock::new();
        let got = thread::scope(|s| {
            s.spawn(|| cell.set("late"));
            *cell.wait()
        });
        log.push(format!("wait={got}"));
        log
    });
    assert_eq!(
        out,
        [
            "OnceLock(<uninit>) get=None set=Ok(())",
            "OnceLock(1) set again=Err(2)",
            "clone=OnceLock(1) eq=true",
            "OnceLock(11) take=Some(11) after=OnceLock(<uninit>)",
            "into_inner=Some(1) None",
            "Err(\"init failed\") OnceLock(<uninit>)",
            "then 7",
            "wait=late",
        ]
    );
}

#[test]
fn lazylock_poisoned_by_panicking_initializer_like_std() {
    let out = on_both!(|sync, _thread| {
        let lazy: sync::LazyLock<u8> = sync::LazyLock::new(|| panic!("initializer failed"));
        let mut log = vec![format!("{lazy:?}")];
        for _ in 0..3 {
            let r = catch_unwind(|| *lazy).map_err(|p| panic_message(&*p));
            log.push(format!("{r:?}"));
        }
        let r = catch_unwind(|| *sync::LazyLock::force(&lazy)).map_err(|p| panic_message(&*p));
        log.push(format!("force: {r:?}"));
        log.push(format!("{lazy:?}"));
        log
    });
    assert_eq!(
        out,
        [
            "LazyLock(<uninit>)",
            "Err(\"initializer failed\")",
            "Err(\"LazyLock instance has previously been poisoned\")",
            "Err(\"LazyLock instance has previously been poisoned\")",
            "force: Err(\"LazyLock instance has previously been poisoned\")",
            "LazyLock(<uninit>)",
        ]
    );
}

#[test]
fn lazylock_initializes_once_under_contention_like_std() {
    let out = on_both!(|sync, thread| {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        CALLS.store(0, Ordering::SeqCst);
        let lazy = sync::LazyLock::new(|| {
            CALLS.fetch_add(1, Ordering::SeqCst);
            thread::sleep(std::time::Duration::from_millis(5));
            vec![1, 2, 3]
        });
        let before = format!("{lazy:?}");
        let lens: Vec<usize> = thread::scope(|s| {
            let hs: Vec<_> = (0..6).map(|_| s.spawn(|| lazy.len())).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let default = sync::LazyLock::<Vec<u8>>::default();
        (
            before,
            format!("{lazy:?}"),
            lens,
            CALLS.load(Ordering::SeqCst),
            default.is_empty(),
        )
    });
    assert_eq!(
        out,
        (
            "LazyLock(<uninit>)".to_owned(),
            "LazyLock([1, 2, 3])".to_owned(),
            vec![3; 6],
            1,
            true
        )
    );
}

#[test]
fn once_poisoning_like_std() {
    let out = on_both!(|sync, _thread| {
        let once = sync::Once::new();
        let mut log = vec![format!("{once:?} completed={}", once.is_completed())];
        let r = catch_unwind(|| once.call_once(|| panic!("first"))).map_err(|p| panic_message(&*p));
        log.push(format!(
            "call_once: {r:?} completed={}",
            once.is_completed()
        ));
        let mut ran = false;
        let r = catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.call_once(|| ran = true)
        }))
        .map_err(|p| panic_message(&*p));
        log.push(format!("call_once again: {r:?} ran={ran}"));
        let r = catch_unwind(|| once.wait()).map_err(|p| panic_message(&*p));
        log.push(format!("wait: {r:?}"));
        let r = catch_unwind(|| once.call_once_force(|_| panic!("forced")))
            .map_err(|p| panic_message(&*p));
        log.push(format!("call_once_force panicking: {r:?}"));
        once.call_once_force(|state| log.push(format!("call_once_force: {state:?}")));
        log.push(format!("completed={}", once.is_completed()));
        once.call_once(|| log.push("must not run".to_owned()));
        once.call_once_force(|_| log.push("must not run either".to_owned()));
        once.wait();
        once.wait_force();
        log
    });
    assert_eq!(
        out,
        [
            "Once { .. } completed=false",
            "call_once: Err(\"first\") completed=false",
            "call_once again: Err(\"Once instance has previously been poisoned\") ran=false",
            "wait: Err(\"Once instance has previously been poisoned\")",
            "call_once_force panicking: Err(\"forced\")",
            "call_once_force: OnceState { poisoned: true }",
            "completed=true",
        ]
    );
}

#[test]
fn once_runs_once_and_waiters_wait_like_std() {
    let out = on_both!(|sync, thread| {
        let once = sync::Once::new();
        let calls = AtomicUsize::new(0);
        let completed: Vec<bool> = thread::scope(|s| {
            let waiter = s.spawn(|| {
                once.wait_force();
                once.is_completed()
            });
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        once.call_once(|| {
                            thread::sleep(std::time::Duration::from_millis(5));
                            calls.fetch_add(1, Ordering::SeqCst);
                        });
                        once.is_completed()
                    })
                })
                .collect();
            let mut all: Vec<bool> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            all.push(waiter.join().unwrap());
            all
        });
        (calls.load(Ordering::SeqCst), completed)
    });
    assert_eq!(out, (1, vec![true; 5]));
}
