//! The bytes a profiled primitive takes, against std's and parking_lot's.

/// The bytes a profiled primitive takes, against std's and parking_lot's: what a struct of many
/// locks grows by when a program adopts holdup.
pub(crate) fn sizes() {
    use std::mem::size_of;
    println!("\n== size of a primitive (bytes) ==");
    println!(
        "{:<18} {:>5} {:>12} {:>7}",
        "", "std", "parking_lot", "holdup"
    );
    let rows = [
        (
            "Mutex<u64>",
            size_of::<std::sync::Mutex<u64>>(),
            size_of::<parking_lot::Mutex<u64>>(),
            size_of::<holdup::sync::Mutex<u64>>(),
        ),
        (
            "RwLock<u64>",
            size_of::<std::sync::RwLock<u64>>(),
            size_of::<parking_lot::RwLock<u64>>(),
            size_of::<holdup::sync::RwLock<u64>>(),
        ),
        (
            "Condvar",
            size_of::<std::sync::Condvar>(),
            size_of::<parking_lot::Condvar>(),
            size_of::<holdup::sync::Condvar>(),
        ),
        (
            "MutexGuard<u64>",
            size_of::<std::sync::MutexGuard<'static, u64>>(),
            size_of::<parking_lot::MutexGuard<'static, u64>>(),
            size_of::<holdup::sync::MutexGuard<'static, u64>>(),
        ),
    ];
    for (what, std, pl, h) in rows {
        println!("{what:<18} {std:>5} {pl:>12} {h:>7}");
    }
}
