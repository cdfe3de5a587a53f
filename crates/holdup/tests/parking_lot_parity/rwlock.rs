use std::sync::Arc;
use std::time::Duration;

#[test]
fn readers_share_writers_exclude_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = pl::RwLock::new(1);
        let (a, b) = (l.read(), l.read());
        let shared = (
            *a + *b,
            l.try_write().is_none(),
            l.is_locked(),
            l.is_locked_exclusive(),
        );
        drop((a, b));
        let mut w = l.write();
        *w += 1;
        let excl = (l.try_read().is_none(), l.is_locked_exclusive());
        drop(w);
        (shared, excl, *l.read())
    });
    assert_eq!(got, ((2, true, true, false), (true, true), 2));
}

#[test]
fn upgradable_reads_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = pl::RwLock::new(0);
        let up = l.upgradable_read();
        // Readers may join an upgradable reader; another upgradable reader or a writer may not.
        let with_readers = (
            l.try_read().is_some(),
            l.try_upgradable_read().is_none(),
            l.try_write().is_none(),
        );
        let r = l.read();
        let up = match pl::RwLockUpgradableReadGuard::try_upgrade(up) {
            Ok(_) => panic!("upgraded past a reader"),
            Err(up) => up,
        };
        drop(r);
        let mut w = pl::RwLockUpgradableReadGuard::upgrade(up);
        *w += 1;
        let up = pl::RwLockWriteGuard::downgrade_to_upgradable(w);
        let read = pl::RwLockUpgradableReadGuard::downgrade(up);
        let after = (*read, l.try_write().is_none());
        drop(read);
        let mut up = l.upgradable_read();
        let doubled = up.with_upgraded(|v| {
            *v *= 10;
            *v
        });
        (with_readers, after, doubled, *up)
    });
    assert_eq!(got, ((true, true, true), (1, true), 10, 10));
}

#[test]
fn an_upgrade_waits_for_readers_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = Arc::new(pl::RwLock::new(Vec::new()));
        let r = l.read();
        let upgrader = {
            let l = l.clone();
            std::thread::spawn(move || {
                let up = l.upgradable_read();
                pl::RwLockUpgradableReadGuard::upgrade(up).push("upgraded");
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let order_before = l.try_read().map(|v| v.len());
        drop(r);
        upgrader.join().unwrap();
        (order_before, l.read().clone())
    });
    // While the upgrader waits, a new reader is refused (a writer is pending).
    assert_eq!(got, (None, vec!["upgraded"]));
}

#[test]
fn timed_and_recursive_reads_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = Arc::new(pl::RwLock::new(5));
        let w = l.write();
        let l2 = l.clone();
        let timed_out = std::thread::spawn(move || {
            (
                l2.try_read_for(Duration::from_millis(20)).is_none(),
                l2.try_write_for(Duration::from_millis(20)).is_none(),
                l2.try_upgradable_read_for(Duration::from_millis(20))
                    .is_none(),
            )
        })
        .join()
        .unwrap();
        drop(w);
        let a = l.read();
        let pending = {
            let l = l.clone();
            std::thread::spawn(move || *l.write() += 1)
        };
        std::thread::sleep(Duration::from_millis(50));
        // A writer waits: a plain read would queue behind it, a recursive one does not.
        let b = l.read_recursive();
        let both = *a + *b;
        drop((a, b));
        pending.join().unwrap();
        (timed_out, both, *l.read())
    });
    assert_eq!(got, ((true, true, true), 10, 6));
}

#[test]
fn mapped_and_downgraded_guards_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = pl::RwLock::new((1, String::from("x")));
        let mut w = pl::RwLockWriteGuard::map(l.write(), |t| &mut t.1);
        w.push('y');
        drop(w);
        let r = pl::RwLockReadGuard::map(l.read(), |t| &t.1);
        let s = r.clone();
        drop(r);
        let mut w = l.write();
        w.0 = 7;
        let r = pl::RwLockWriteGuard::downgrade(w);
        let also = l.try_read().map(|g| g.0);
        (s, r.0, also, format!("{l:?}"))
    });
    assert_eq!(
        got,
        (
            "xy".to_owned(),
            7,
            Some(7),
            "RwLock { data: (7, \"xy\") }".to_owned()
        )
    );
}

#[test]
fn arc_guards_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = Arc::new(pl::RwLock::new(1));
        let r = l.read_arc();
        let shared = (*r, l.try_write_arc().is_none());
        drop(r);
        let up = l.upgradable_read_arc();
        let mut w = pl::ArcRwLockUpgradableReadGuard::upgrade(up);
        *w += 1;
        let r = pl::ArcRwLockWriteGuard::downgrade(w);
        let after = (*r, l.try_read_arc().map(|g| *g));
        drop(r);
        let w = l.write_arc();
        let up = pl::ArcRwLockWriteGuard::downgrade_to_upgradable(w);
        let r = pl::ArcRwLockUpgradableReadGuard::downgrade(up);
        (
            shared,
            after,
            *r,
            Arc::ptr_eq(pl::ArcRwLockReadGuard::rwlock(&r), &l),
        )
    });
    assert_eq!(got, ((1, true), (2, Some(2)), 2, true));
}

#[test]
fn try_map_or_err_and_timed_with_upgraded_like_parking_lot() {
    let got = on_both!(|pl| {
        let l = pl::RwLock::new(vec![1, 2, 3]);
        let refused = pl::RwLockWriteGuard::try_map_or_err(l.write(), |_| Err::<&mut u8, _>("no"))
            .err()
            .map(|(_, e)| e);
        let first = pl::RwLockReadGuard::try_map_or_err(l.read(), |v| v.first().ok_or("empty"))
            .map(|g| *g)
            .ok();
        let mut up = l.upgradable_read();
        let pushed = up.try_with_upgraded_for(Duration::from_millis(5), |v| {
            v.push(4);
            v.len()
        });
        let r = l.read();
        // A reader is in: the timed upgrade gives up.
        let blocked = up.try_with_upgraded_for(Duration::from_millis(20), |v| v.len());
        drop(r);
        (refused, first, pushed, blocked)
    });
    assert_eq!(got, (Some("no"), Some(1), Some(4), None));
}
