use super::{panic_message, try_state};

// ----- std's documentation examples -----

/// `std::sync::RwLock` type docs.
#[test]
fn doc_rwlock_readers_then_writer() {
    use holdup::sync::{Arc, RwLock};
    use holdup::thread;
    use std::time::Duration;

    let data = Arc::new(RwLock::new(5));

    // Multiple readers can access in parallel.
    let mut readers = Vec::new(); // (added: joined at the end)
    for i in 0..3 {
        let lock_clone = Arc::clone(&data);

        readers.push(thread::spawn(move || {
            let value = lock_clone.read().unwrap();

            println!("Reader {i}: Read value {}, now holding lock...", *value);

            // Simulating a long read operation
            thread::sleep(Duration::from_millis(20)); // (adapted: 1 s)

            println!("Reader {i}: Dropping lock.");
            // Read lock unlocked when going out of scope.
        }));
    }

    thread::sleep(Duration::from_millis(10)); // Wait for readers to start (adapted: 100 ms)

    // While all readers can proceed, a call to .write() has to wait for
    let mut writable_data = data.write().unwrap();
    println!("Writer proceeds...");
    *writable_data += 1;
    drop(writable_data); // (added)
    for r in readers {
        r.join().unwrap(); // (added)
    }
    assert_eq!(*data.read().unwrap(), 6); // (added)
}

/// `RwLock::new`.
#[test]
fn doc_rwlock_new() {
    use holdup::sync::RwLock;

    let lock = RwLock::new(5);
    assert_eq!(*lock.read().unwrap(), 5); // (added)
}

/// `RwLock::read`.
#[test]
fn doc_rwlock_read() {
    use holdup::sync::{Arc, RwLock};
    use holdup::thread;

    let lock = Arc::new(RwLock::new(1));
    let c_lock = Arc::clone(&lock);

    let n = lock.read().unwrap();
    assert_eq!(*n, 1);

    thread::spawn(move || {
        let r = c_lock.read();
        assert!(r.is_ok());
    })
    .join()
    .unwrap();
}

/// `RwLock::try_read`.
#[test]
fn doc_rwlock_try_read() {
    use holdup::sync::RwLock;

    let lock = RwLock::new(1);

    match lock.try_read() {
        Ok(n) => assert_eq!(*n, 1),
        Err(_) => unreachable!(),
    };
}

/// `RwLock::write`.
#[test]
fn doc_rwlock_write() {
    use holdup::sync::RwLock;

    let lock = RwLock::new(1);

    let mut n = lock.write().unwrap();
    *n = 2;

    assert!(lock.try_read().is_err());
}

/// `RwLock::try_write`.
#[test]
fn doc_rwlock_try_write() {
    use holdup::sync::RwLock;

    let lock = RwLock::new(1);

    let n = lock.read().unwrap();
    assert_eq!(*n, 1);

    assert!(lock.try_write().is_err());
}

/// `RwLock::is_poisoned`.
#[test]
fn doc_rwlock_is_poisoned() {
    use holdup::sync::{Arc, RwLock};
    use holdup::thread;

    let lock = Arc::new(RwLock::new(0));
    let c_lock = Arc::clone(&lock);

    let _ = thread::spawn(move || {
        let _lock = c_lock.write().unwrap();
        panic!(); // the lock gets poisoned
    })
    .join();
    assert!(lock.is_poisoned()); // (adapted from `assert_eq!(.., true)`)
}

/// `RwLock::clear_poison`.
#[test]
fn doc_rwlock_clear_poison() {
    use holdup::sync::{Arc, RwLock};
    use holdup::thread;

    let lock = Arc::new(RwLock::new(0));
    let c_lock = Arc::clone(&lock);

    let _ = thread::spawn(move || {
        let _lock = c_lock.write().unwrap();
        panic!(); // the lock gets poisoned
    })
    .join();

    assert!(lock.is_poisoned()); // (adapted from `assert_eq!(.., true)`)
    let guard = lock.write().unwrap_or_else(|mut e| {
        **e.get_mut() = 1;
        lock.clear_poison();
        e.into_inner()
    });
    assert!(!lock.is_poisoned()); // (adapted from `assert_eq!(.., false)`)
    assert_eq!(*guard, 1);
}

/// `RwLock::into_inner`.
#[test]
fn doc_rwlock_into_inner() {
    use holdup::sync::RwLock;

    let lock = RwLock::new(String::new());
    {
        let mut s = lock.write().unwrap();
        *s = "modified".to_owned();
    }
    assert_eq!(lock.into_inner().unwrap(), "modified");
}

/// `RwLock::get_mut`.
#[test]
fn doc_rwlock_get_mut() {
    use holdup::sync::RwLock;

    let mut lock = RwLock::new(0);
    *lock.get_mut().unwrap() = 10;
    assert_eq!(*lock.read().unwrap(), 10);
}

/// `RwLockWriteGuard::downgrade`, first example.
#[test]
fn doc_rwlock_downgrade() {
    use holdup::sync::{RwLock, RwLockWriteGuard};

    let rw = RwLock::new(0);

    let mut write_guard = rw.write().unwrap();
    *write_guard = 42;

    let read_guard = RwLockWriteGuard::downgrade(write_guard);
    assert_eq!(42, *read_guard);
}

/// `RwLockWriteGuard::downgrade`, second example (with the lines rustdoc hides).
#[test]
fn doc_rwlock_downgrade_is_atomic() {
    use holdup::sync::{Arc, RwLock, RwLockWriteGuard};

    let rw = Arc::new(RwLock::new(1));

    // Put the lock in write mode.
    let mut main_write_guard = rw.write().unwrap();

    let rw_clone = rw.clone();
    let evil_handle = holdup::thread::spawn(move || {
        // This will not return until the main thread drops the `main_read_guard`.
        let mut evil_guard = rw_clone.write().unwrap();

        assert_eq!(*evil_guard, 2);
        *evil_guard = 3;
    });

    *main_write_guard = 2;

    // Atomically downgrade the write guard into a read guard.
    let main_read_guard = RwLockWriteGuard::downgrade(main_write_guard);

    // Since `downgrade` is atomic, the writer thread cannot have changed the protected data.
    assert_eq!(*main_read_guard, 2, "`downgrade` was not atomic");
    drop(main_read_guard);
    evil_handle.join().unwrap();

    let final_check = rw.read().unwrap();
    assert_eq!(*final_check, 3);
}

// ----- parity with std -----

#[test]
fn try_read_and_try_write_see_the_holders_like_std() {
    let out = on_both!(|sync, _thread| {
        let lock = sync::RwLock::new(1);
        let mut log = Vec::new();
        {
            let mut w = lock.write().unwrap();
            *w = 1;
            log.push(format!(
                "write held: try_read {} try_write {} {w:?} {w}",
                try_state(lock.try_read()),
                try_state(lock.try_write())
            ));
            // std's `Debug` of a write-locked lock has changed across Rust versions: it is
            // compared with std's by `on_both!`, and only its gist here.
            let debug = format!("{lock:?}");
            assert!(
                debug.contains("locked") && debug.contains("poisoned: false"),
                "{debug}"
            );
            log.push(debug);
        }
        {
            let r1 = lock.read().unwrap();
            let r2 = lock.read().unwrap();
            log.push(format!(
                "read held: try_read {} try_write {} {lock:?} {r1:?} {r2}",
                try_state(lock.try_read()),
                try_state(lock.try_write())
            ));
        }
        {
            let mut w = lock.write().unwrap();
            *w = 2;
            let r = sync::RwLockWriteGuard::downgrade(w);
            log.push(format!(
                "downgraded to {}: try_read {} try_write {}",
                *r,
                try_state(lock.try_read()),
                try_state(lock.try_write())
            ));
        }
        log.push(format!(
            "free: try_read {} try_write {}",
            try_state(lock.try_read()),
            try_state(lock.try_write())
        ));
        log
    });
    assert_eq!(
        out,
        [
            "write held: try_read WouldBlock try_write WouldBlock 1 1",
            "RwLock { data: <locked>, poisoned: false, .. }",
            "read held: try_read Ok try_write WouldBlock RwLock { data: 1, poisoned: false, .. } 1 1",
            "downgraded to 2: try_read Ok try_write WouldBlock",
            "free: try_read Ok try_write Ok",
        ]
    );
}

#[test]
fn poisoning_rwlock_like_std() {
    let out = on_both!(|sync, thread| {
        let lock = sync::Arc::new(sync::RwLock::new(1));
        let mut log = Vec::new();

        // A panicking reader does not poison.
        let l = sync::Arc::clone(&lock);
        let joined = thread::spawn(move || {
            let _r = l.read().unwrap();
            panic!("reader");
        })
        .join();
        log.push(format!(
            "{:?} poisoned={}",
            joined.map_err(|p| panic_message(&*p)),
            lock.is_poisoned()
        ));

        // A panicking writer does.
        let l = sync::Arc::clone(&lock);
        let joined = thread::spawn(move || {
            let mut w = l.write().unwrap();
            *w = 2;
            panic!("writer");
        })
        .join();
        log.push(format!(
            "{:?} poisoned={}",
            joined.map_err(|p| panic_message(&*p)),
            lock.is_poisoned()
        ));

        log.push(match lock.read() {
            Ok(r) => format!("read: Ok({})", *r),
            Err(e) => format!("read: Err({})", *e.into_inner()),
        });
        log.push(match lock.write() {
            Ok(w) => format!("write: Ok({})", *w),
            Err(e) => {
                let mut w = e.into_inner();
                *w += 1;
                format!("write: Err({})", *w)
            }
        });
        log.push(format!(
            "try_read {} try_write {}",
            try_state(lock.try_read()),
            try_state(lock.try_write())
        ));
        log.push(format!("{lock:?}"));
        lock.clear_poison();
        log.push(format!(
            "cleared: {} {:?}",
            lock.is_poisoned(),
            lock.read().map(|r| *r).ok()
        ));
        let mut lock = sync::Arc::try_unwrap(lock).expect("the panicking threads are gone");
        log.push(format!("get_mut: {:?}", lock.get_mut().map(|v| *v).ok()));
        log.push(format!("into_inner: {:?}", lock.into_inner().ok()));
        log
    });
    assert_eq!(
        out,
        [
            "Err(\"reader\") poisoned=false",
            "Err(\"writer\") poisoned=true",
            "read: Err(2)",
            "write: Err(3)",
            "try_read Poisoned try_write Poisoned",
            "RwLock { data: 3, poisoned: true, .. }",
            "cleared: false Some(3)",
            "get_mut: Some(3)",
            "into_inner: Some(3)",
        ]
    );
}

#[test]
fn writer_waits_for_readers_like_std() {
    let out = on_both!(|sync, thread| {
        let lock = sync::RwLock::new(0);
        let r = lock.read().unwrap();
        thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut w = lock.write().unwrap();
                *w += 1;
            });
            thread::sleep(std::time::Duration::from_millis(10));
            // The writer cannot have run while the read guard is alive.
            let seen = *r;
            drop(r);
            writer.join().unwrap();
            (seen, *lock.read().unwrap())
        })
    });
    assert_eq!(out, (0, 1));
}
