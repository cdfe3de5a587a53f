use super::{panic_message, wait_until};
use std::sync::atomic::{AtomicUsize, Ordering};

// ----- std's documentation examples -----

/// `std::thread::spawn`, first example.
#[test]
fn doc_spawn() {
    use holdup::thread;

    let handler = thread::spawn(|| {
        // thread code
    });

    handler.join().unwrap();
}

/// `std::thread::spawn`, channel example.
#[test]
fn doc_spawn_with_channel() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (tx, rx) = channel();

    let sender = thread::spawn(move || {
        tx.send("Hello, thread".to_owned())
            .expect("Unable to send on channel");
    });

    let receiver = thread::spawn(move || {
        let value = rx.recv().expect("Unable to receive from channel");
        println!("{value}");
    });

    sender.join().expect("The sender thread has panicked");
    receiver.join().expect("The receiver thread has panicked");
}

/// `std::thread::spawn`, returning a value.
#[test]
fn doc_spawn_returns_a_value() {
    use holdup::thread;

    let computation = thread::spawn(|| {
        // Some expensive computation.
        42
    });

    let result = computation.join().unwrap();
    println!("{result}");
    assert_eq!(result, 42); // (added)
}

/// `std::thread::scope`.
#[test]
fn doc_scope() {
    use holdup::thread;

    let mut a = vec![1, 2, 3];
    let mut x = 0;

    thread::scope(|s| {
        s.spawn(|| {
            println!("hello from the first scoped thread");
            // We can borrow `a` here.
            dbg!(&a);
        });
        s.spawn(|| {
            println!("hello from the second scoped thread");
            // We can even mutably borrow `x` here,
            // because no other threads are using it.
            x += a[0] + a[2];
        });
        println!("hello from the main thread");
    });

    // After the scope, we can modify and access our variables again:
    a.push(4);
    assert_eq!(x, a.len());
}

/// `std::thread::Builder` type docs and `Builder::spawn`.
#[test]
fn doc_builder() {
    use holdup::thread;

    let builder = thread::Builder::new();

    let handler = builder
        .spawn(|| {
            // thread code
        })
        .unwrap();

    handler.join().unwrap();
}

/// `Builder::new`.
#[test]
fn doc_builder_new() {
    use holdup::thread;

    let builder = thread::Builder::new()
        .name("foo".into())
        .stack_size(32 * 1024);

    let handler = builder
        .spawn(|| {
            // thread code
            assert_eq!(thread::current().name(), Some("foo")); // (added)
        })
        .unwrap();

    handler.join().unwrap();
}

/// `Builder::name`.
#[test]
fn doc_builder_name() {
    use holdup::thread;

    let builder = thread::Builder::new().name("foo".into());

    let handler = builder
        .spawn(|| assert_eq!(thread::current().name(), Some("foo")))
        .unwrap();

    handler.join().unwrap();
}

/// `Builder::stack_size`.
#[test]
fn doc_builder_stack_size() {
    use holdup::thread;

    let builder = thread::Builder::new().stack_size(32 * 1024);
    // (added: the docs only build it)
    let big = builder
        .spawn(|| {
            [7u8; 8 * 1024]
                .iter()
                .map(|&b| usize::from(b))
                .sum::<usize>()
        })
        .unwrap();
    assert_eq!(big.join().unwrap(), 7 * 8 * 1024);
}

/// `Builder::spawn_unchecked`.
#[test]
fn doc_builder_spawn_unchecked() {
    use holdup::thread;

    let builder = thread::Builder::new();

    let x = 1;
    let thread_x = &x;

    // SAFETY: (added) the thread is joined below, while `x` is still alive.
    let handler = unsafe {
        builder
            .spawn_unchecked(move || {
                println!("x = {}", *thread_x);
            })
            .unwrap()
    };

    // caller has to ensure `join()` is called, otherwise
    // it is possible to access freed memory if `x` gets
    // dropped before the thread closure is executed!
    handler.join().unwrap();
}

/// `Builder::spawn_scoped`.
#[test]
fn doc_builder_spawn_scoped() {
    use holdup::thread;

    let mut a = vec![1, 2, 3];
    let mut x = 0;

    thread::scope(|s| {
        thread::Builder::new()
            .name("first".to_string())
            .spawn_scoped(s, || {
                println!(
                    "hello from the {:?} scoped thread",
                    thread::current().name()
                );
                // We can borrow `a` here.
                dbg!(&a);
            })
            .unwrap();
        thread::Builder::new()
            .name("second".to_string())
            .spawn_scoped(s, || {
                println!(
                    "hello from the {:?} scoped thread",
                    thread::current().name()
                );
                // We can even mutably borrow `x` here,
                // because no other threads are using it.
                x += a[0] + a[2];
            })
            .unwrap();
        println!("hello from the main thread");
    });

    // After the scope, we can modify and access our variables again:
    a.push(4);
    assert_eq!(x, a.len());
}

/// `std::thread::JoinHandle` type docs, first two examples.
#[test]
fn doc_join_handle_from_spawn_and_builder() {
    use holdup::thread;

    let join_handle: thread::JoinHandle<_> = thread::spawn(|| {
        // some work here
    });
    join_handle.join().unwrap(); // (added)

    let builder = thread::Builder::new();

    let join_handle: thread::JoinHandle<_> = builder
        .spawn(|| {
            // some work here
        })
        .unwrap();
    join_handle.join().unwrap(); // (added)
}

/// `std::thread::JoinHandle` type docs, detached thread.
#[test]
fn doc_join_handle_detached_thread() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;
    use std::time::Duration;

    // (adapted: the docs sleep 1 s at the end; the detached thread reports instead)
    let (tx, rx) = channel();

    let original_thread = thread::spawn(move || {
        let _detached_thread = thread::spawn(move || {
            // Here we sleep to make sure that the first thread returns before.
            thread::sleep(Duration::from_millis(10));
            // This will be called, even though the JoinHandle is dropped.
            println!("♫ Still alive ♫");
            tx.send(()).unwrap();
        });
    });

    original_thread
        .join()
        .expect("The thread being joined has panicked");
    println!("Original thread is joined.");

    // We make sure that the new thread has time to run, before the main
    // thread returns.

    rx.recv().unwrap();
}

/// `JoinHandle::thread`.
#[test]
fn doc_join_handle_thread() {
    use holdup::thread;

    let builder = thread::Builder::new();

    let join_handle: thread::JoinHandle<_> = builder
        .spawn(|| {
            // some work here
            thread::current().id() // (added)
        })
        .unwrap();

    let thread = join_handle.thread();
    println!("thread id: {:?}", thread.id());
    let id = thread.id(); // (added)
    assert_eq!(join_handle.join().unwrap(), id); // (added)
}

/// `JoinHandle::join`.
#[test]
fn doc_join_handle_join() {
    use holdup::thread;

    let builder = thread::Builder::new();

    let join_handle: thread::JoinHandle<_> = builder
        .spawn(|| {
            // some work here
        })
        .unwrap();
    join_handle
        .join()
        .expect("Couldn't join on the associated thread");
}

/// `ScopedJoinHandle::thread`.
#[test]
fn doc_scoped_join_handle_thread() {
    use holdup::thread;

    thread::scope(|s| {
        let t = s.spawn(|| {
            println!("hello");
        });
        println!("thread id: {:?}", t.thread().id());
    });
}

/// `ScopedJoinHandle::join`.
#[test]
fn doc_scoped_join_handle_join() {
    use holdup::thread;

    thread::scope(|s| {
        let t = s.spawn(|| {
            panic!("oh no");
        });
        assert!(t.join().is_err());
    });
}

// ----- parity with std -----

#[test]
fn join_of_a_panicking_thread_returns_the_payload_like_std() {
    let out = on_both!(|_sync, thread| {
        let str_payload = thread::spawn(|| -> u8 { panic!("boom") })
            .join()
            .map_err(|p| panic_message(&*p));
        let fmt_payload = thread::spawn(|| -> u8 { panic!("boom {}", 42) })
            .join()
            .map_err(|p| panic_message(&*p));
        let any_payload = thread::spawn(|| -> u8 { std::panic::panic_any(7u32) })
            .join()
            .map_err(|p| p.downcast_ref::<u32>().copied());
        let scoped = thread::scope(|s| {
            let h = s.spawn(|| -> u8 { panic!("scoped boom") });
            h.join().map_err(|p| panic_message(&*p))
        });
        let named = thread::Builder::new()
            .name("named".to_owned())
            .spawn(|| -> u8 { panic!("in {:?}", std::thread::current().name()) })
            .unwrap()
            .join()
            .map_err(|p| panic_message(&*p));
        format!("{str_payload:?} {fmt_payload:?} {any_payload:?} {scoped:?} {named:?}")
    });
    assert_eq!(
        out,
        "Err(\"boom\") Err(\"boom 42\") Err(Some(7)) Err(\"scoped boom\") Err(\"in Some(\\\"named\\\")\")"
    );
}

#[test]
fn names_ids_and_stack_size_like_std() {
    let out = on_both!(|_sync, thread| {
        let mut log = Vec::new();
        let h = thread::Builder::new()
            .name("parity-named".to_owned())
            .stack_size(64 * 1024)
            .spawn(|| {
                (
                    thread::current().name().map(str::to_owned),
                    thread::current().id(),
                )
            })
            .unwrap();
        let (handle_name, handle_id) = (h.thread().name().map(str::to_owned), h.thread().id());
        let (inner_name, inner_id) = h.join().unwrap();
        log.push(format!(
            "{handle_name:?} {inner_name:?} same_id={}",
            handle_id == inner_id
        ));
        let h = thread::spawn(|| thread::current().name().map(str::to_owned));
        let handle_name = h.thread().name().map(str::to_owned);
        log.push(format!("unnamed: {handle_name:?} {:?}", h.join().unwrap()));
        let scoped = thread::scope(|s| {
            let h = thread::Builder::new()
                .name("parity-scoped".to_owned())
                .spawn_scoped(s, || thread::current().name().map(str::to_owned))
                .unwrap();
            (h.thread().name().map(str::to_owned), h.join().unwrap())
        });
        log.push(format!("scoped: {scoped:?}"));
        log.push(format!(
            "main differs: {}",
            handle_id != thread::current().id()
        ));
        log
    });
    assert_eq!(
        out,
        [
            "Some(\"parity-named\") Some(\"parity-named\") same_id=true",
            "unnamed: None None",
            "scoped: (Some(\"parity-scoped\"), Some(\"parity-scoped\"))",
            "main differs: true",
        ]
    );
}

#[test]
fn is_finished_like_std() {
    let out = on_both!(|sync, thread| {
        let (tx, rx) = sync::mpsc::channel::<()>();
        let h = thread::spawn(move || rx.recv().is_ok());
        // The thread is blocked in `recv` until we send.
        let while_blocked = h.is_finished();
        tx.send(()).unwrap();
        wait_until("the thread to finish", || h.is_finished());
        let joined = h.join().unwrap();
        let scoped = thread::scope(|s| {
            let (tx, rx) = sync::mpsc::channel::<()>();
            let h = s.spawn(move || rx.recv().is_ok());
            let while_blocked = h.is_finished();
            drop(tx);
            wait_until("the scoped thread to finish", || h.is_finished());
            (while_blocked, h.join().unwrap())
        });
        (while_blocked, joined, scoped)
    });
    assert_eq!(out, (false, true, (false, false)));
}

#[test]
fn scope_joins_everything_and_propagates_unjoined_panics_like_std() {
    let out = on_both!(|_sync, thread| {
        let counter = AtomicUsize::new(0);
        let mut data = vec![1, 2, 3];
        let returned = thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    thread::sleep(std::time::Duration::from_millis(5));
                    counter.fetch_add(1, Ordering::SeqCst);
                });
            }
            s.spawn(|| data.push(4));
            "scope value"
        });
        // All scoped threads were joined when `scope` returned.
        let joined = counter.load(Ordering::SeqCst);
        let unjoined = std::panic::catch_unwind(|| {
            thread::scope(|s| {
                s.spawn(|| panic!("unjoined"));
            })
        })
        .map_err(|p| panic_message(&*p));
        let joined_panic = std::panic::catch_unwind(|| {
            thread::scope(|s| {
                let h = s.spawn(|| panic!("joined"));
                h.join().map_err(|p| panic_message(&*p))
            })
        })
        .map_err(|p| panic_message(&*p));
        format!("{returned} {joined} {data:?} {unjoined:?} {joined_panic:?}")
    });
    assert_eq!(
        out,
        "scope value 4 [1, 2, 3, 4] Err(\"a scoped thread panicked\") Ok(Err(\"joined\"))"
    );
}

#[test]
fn handle_and_scope_debug_like_std() {
    let out = on_both!(|_sync, thread| {
        let h = thread::spawn(|| 1);
        let handle = format!("{h:?}");
        h.join().unwrap();
        let (scope, scoped) = thread::scope(|s| {
            let h = s.spawn(|| 2);
            let scoped = format!("{h:?}");
            h.join().unwrap();
            // Both runs happen on this test's thread, so `main_thread` prints the same.
            (format!("{s:?}"), scoped)
        });
        (handle, scope.contains("a_thread_panicked: false"), scoped)
    });
    assert_eq!(
        out,
        (
            "JoinHandle { .. }".to_owned(),
            true,
            "ScopedJoinHandle { .. }".to_owned()
        )
    );
}

#[test]
fn builder_debug_like_std() {
    let out = on_both!(|_sync, thread| {
        (
            format!("{:?}", thread::Builder::new()),
            format!(
                "{:?}",
                thread::Builder::new()
                    .name("b".to_owned())
                    .stack_size(1 << 20)
            ),
        )
    });
    // std's derived `Debug` lists private fields that vary across Rust versions.
    assert!(
        out.0.starts_with("Builder { name: None, stack_size: None"),
        "{}",
        out.0
    );
    assert!(
        out.1
            .starts_with("Builder { name: Some(\"b\"), stack_size: Some(1048576)"),
        "{}",
        out.1
    );
}

/// holdup's own addition: threads it spawned are listed while they run.
#[test]
fn registered_lists_running_holdup_threads() {
    use holdup::sync::mpsc::channel;

    let (tx, rx) = channel::<()>();
    let (ready_tx, ready_rx) = channel();
    let h = holdup::thread::Builder::new()
        .name("parity-registered".to_owned())
        .spawn(move || {
            ready_tx.send(std::thread::current().id()).unwrap();
            rx.recv().ok();
        })
        .unwrap();
    let id = ready_rx.recv().unwrap();
    let listed = holdup::thread::registered()
        .into_iter()
        .find(|t| t.id == id);
    assert_eq!(
        listed.and_then(|t| t.name),
        Some("parity-registered".to_owned())
    );
    // A std thread is not registered.
    let std_id = std::thread::spawn(|| std::thread::current().id())
        .join()
        .unwrap();
    assert!(holdup::thread::registered().iter().all(|t| t.id != std_id));
    drop(tx);
    h.join().unwrap();
    assert!(holdup::thread::registered().iter().all(|t| t.id != id));
}
