//! A program that handles `SIGPROF` itself (its own profiler, say): holdup's CPU and
//! wall-clock profiles do not start, the error says why, and the program's handler stays.
//! (Its own process: the handler is process-wide.)

use std::sync::atomic::{AtomicU64, Ordering};

static MINE: AtomicU64 = AtomicU64::new(0);

extern "C" fn mine(_sig: libc::c_int) {
    MINE.fetch_add(1, Ordering::Relaxed);
}

fn current_handler() -> usize {
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with a null new action, sigaction only reads the current one.
    let r = unsafe { libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old) };
    assert_eq!(r, 0);
    old.sa_sigaction
}

#[test]
fn a_program_with_its_own_sigprof_handler_keeps_it() {
    // SAFETY: a zeroed sigaction is valid before being filled.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = mine as *const () as usize;
    // SAFETY: installs an async-signal-safe handler (one atomic add) for SIGPROF.
    let r = unsafe { libc::sigaction(libc::SIGPROF, &sa, std::ptr::null_mut()) };
    assert_eq!(r, 0);

    let err = holdup::profile::start_cpu(holdup::profile::DEFAULT_HZ).unwrap_err();
    assert!(
        matches!(err, holdup::profile::CpuError::SignalTaken),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "SIGPROF has another handler (the program profiles itself): holdup leaves it alone"
    );
    let err = holdup::profile::start_wall(holdup::profile::DEFAULT_HZ).unwrap_err();
    assert!(matches!(err, holdup::profile::CpuError::SignalTaken));
    assert_eq!(current_handler(), mine as *const () as usize);

    // The program's signal still reaches its handler.
    // SAFETY: raises SIGPROF in this thread, which `mine` handles.
    unsafe { libc::raise(libc::SIGPROF) };
    assert_eq!(MINE.load(Ordering::Relaxed), 1);

    // Everything else holdup does still works: dumps use a signal of their own.
    let dump = holdup::dump::threads();
    assert!(
        dump.threads()
            .iter()
            .any(|t| t.current && !t.frames.is_empty())
    );
}
