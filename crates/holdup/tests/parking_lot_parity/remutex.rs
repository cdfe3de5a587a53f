use std::cell::RefCell;
use std::sync::Arc;

#[test]
fn reentrancy_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = Arc::new(pl::ReentrantMutex::new(RefCell::new(0)));
        let a = m.lock();
        let b = m.lock();
        *b.borrow_mut() += 1;
        let other = {
            let m = m.clone();
            std::thread::spawn(move || m.try_lock().is_none())
                .join()
                .unwrap()
        };
        drop(a);
        let still = {
            let m = m.clone();
            std::thread::spawn(move || m.try_lock().is_none())
                .join()
                .unwrap()
        };
        drop(b);
        let free = {
            let m = m.clone();
            std::thread::spawn(move || m.try_lock().map(|g| *g.borrow()))
                .join()
                .unwrap()
        };
        (other, still, free)
    });
    assert_eq!(got, (true, true, Some(1)));
}

#[test]
fn arc_guards_like_parking_lot() {
    let got = on_both!(|pl| {
        let m = Arc::new(pl::ReentrantMutex::new(5));
        let a = m.lock_arc();
        let b = m.lock_arc();
        let other = {
            let m = m.clone();
            std::thread::spawn(move || m.try_lock().is_none())
                .join()
                .unwrap()
        };
        (*a + *b, other)
    });
    assert_eq!(got, (10, true));
}
