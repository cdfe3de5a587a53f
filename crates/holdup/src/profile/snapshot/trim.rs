//! Trimming a recorded stack: holdup's own frames off the top (the public call stays as the
//! leaf) and the thread start-up frames off the bottom.

use super::*;

pub(super) fn synthetic(name: &str) -> Loc {
    let frame = SymFrame {
        function: Arc::from(name),
        system_name: Arc::from(""),
        file: Arc::from(""),
        line: 0,
    };
    Loc::new(0, Arc::from([frame]), 0)
}

use crate::symbols::is_system;
use holdup_core::collector::{RECORD_FN, WAIT_STACK_FN};

/// Removes holdup's own frames from the top of the stack, keeping the outermost one (the public
/// API the program called, such as `Mutex::lock` or `MutexGuard::drop`) as the leaf, like Go's
/// `sync.(*Mutex).Unlock`, and the thread start-up frames from the bottom.
pub(super) fn trim_internal(locs: &mut Vec<Loc>) {
    // Logical frames innermost first, as (location, index into its frames); an unsymbolized
    // location counts as one frame with no name.
    let flat: Vec<(usize, Option<usize>, &str)> = locs
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            let lines = l
                .kept_indexes()
                .map(move |j| (i, Some(j), &*l.frames[j].function));
            let unknown = (l.line_count() == 0).then_some((i, None, ""));
            lines.chain(unknown)
        })
        .collect();
    // Capture happens inside `holdup_core::collector::record`, whatever std code (thread-locals,
    // closures) sits between it and the unwinder; the recording and hook frames follow it.
    let recorded = flat
        .iter()
        .position(|(_, _, f)| *f == RECORD_FN || *f == WAIT_STACK_FN);
    // A stack a signal took inside a wait (the wall-clock view's) starts with libc's and std's
    // frames, then holdup's primitive: those go too, as in a dump.
    let system = flat.iter().take_while(|(_, _, f)| is_system(f)).count();
    let signalled =
        recorded.is_none() && system > 0 && flat.get(system).is_some_and(|l| is_internal(l.2));
    let start = recorded.map_or(0, |i| i + 1);
    let run = start
        + flat[start..]
            .iter()
            .take_while(|(_, _, f)| is_internal(f) || is_glue(f) || (signalled && is_system(f)))
            .count();
    // Without a holdup frame on top (say, unsymbolized), nothing is trimmed at the leaf.
    let leaf = (0..run)
        .rev()
        .find(|&k| !is_glue(flat[k].2) && !is_system(flat[k].2));
    let run = if leaf.is_some() { run } else { 0 };
    // At the root end, drop the thread start-up frames (std's short-backtrace marker and what
    // calls it, like Go drops `runtime.goexit`) and holdup's spawn trampoline; in a task, the
    // runtime's frames below the poll of the task (its root).
    let mut end = flat
        .iter()
        .position(|(_, _, f)| is_thread_start(f) || is_task_root(f))
        .unwrap_or(flat.len());
    while end > run && is_internal(flat[end - 1].2) {
        end -= 1;
    }
    // A location keeps the lines that are the leaf or in [run, end): one range, with at most
    // one gap (the glue between the leaf and the program's first frame).
    let mut out: Vec<Loc> = Vec::with_capacity(locs.len());
    let mut current = usize::MAX;
    for (k, &(i, j, _)) in flat.iter().enumerate() {
        if (Some(k) != leaf && k < run) || k >= end {
            continue;
        }
        let loc = &locs[i];
        if i != current {
            current = i;
            let at = j.unwrap_or(0);
            out.push(Loc {
                ret: loc.ret,
                frames: loc.frames.clone(),
                kept: at..at,
                dropped: 0..0,
                offset: loc.offset,
            });
        }
        if let (Some(j), Some(last)) = (j, out.last_mut()) {
            if j > last.kept.end && last.kept.end > last.kept.start {
                last.dropped = last.kept.end..j;
            }
            last.kept.end = j + 1;
        }
    }
    *locs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(ret: usize, names: &[&str]) -> Loc {
        let frames: Vec<SymFrame> = names
            .iter()
            .map(|n| SymFrame {
                function: Arc::from(*n),
                system_name: Arc::from(""),
                file: Arc::from("f.rs"),
                line: 1,
            })
            .collect();
        Loc::new(ret, frames.into(), 0)
    }

    fn names(locs: &[Loc]) -> Vec<Vec<&str>> {
        locs.iter()
            .map(|l| l.lines().map(|f| &*f.function).collect())
            .collect()
    }

    #[test]
    fn a_stack_taken_inside_a_wait_starts_at_the_primitive() {
        let mut locs = vec![
            loc(10, &["syscall"]),
            loc(20, &["std::sys::pal::unix::futex::futex_wait"]),
            loc(30, &["std::sys::sync::mutex::futex::Mutex::lock_contended"]),
            loc(
                40,
                &[
                    "std::sync::poison::mutex::Mutex<T>::lock",
                    "holdup::sync::mutex::Mutex<T>::lock",
                    "app::work::{{closure}}",
                ],
            ),
            loc(50, &["app::main"]),
            loc(70, &["std::sys::backtrace::__rust_begin_short_backtrace"]),
        ];
        trim_internal(&mut locs);
        assert_eq!(
            names(&locs),
            [
                vec![
                    "holdup::sync::mutex::Mutex<T>::lock",
                    "app::work::{{closure}}"
                ],
                vec!["app::main"],
            ]
        );
        // A running thread's stack in std (no holdup frame under it) keeps its frames.
        let mut running = vec![
            loc(10, &["core::hash::sip::Hasher::write"]),
            loc(20, &["app::hash"]),
        ];
        trim_internal(&mut running);
        assert_eq!(names(&running).len(), 2);
    }

    #[test]
    fn trimming_keeps_the_public_call_and_drops_thread_start() {
        let mut locs = vec![
            loc(10, &["std::thread::local::LocalKey<T>::try_with"]),
            loc(20, &[RECORD_FN]),
            loc(30, &["holdup_core::hook::release_contended"]),
            loc(
                40,
                &[
                    "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop",
                    "app::work",
                ],
            ),
            loc(50, &["app::main"]),
            loc(60, &["holdup::thread::Builder::spawn::{{closure}}"]),
            loc(70, &["std::sys::backtrace::__rust_begin_short_backtrace"]),
            loc(80, &["start_thread"]),
        ];
        trim_internal(&mut locs);
        assert_eq!(
            names(&locs),
            [
                vec![
                    "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop",
                    "app::work"
                ],
                vec!["app::main"]
            ]
        );
    }

    #[test]
    fn trimming_drops_glue_inlined_between_the_leaf_and_the_caller() {
        let drop = "<holdup::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop";
        let mut locs = vec![
            loc(20, &[RECORD_FN]),
            loc(30, &["holdup_core::hook::release_contended"]),
            loc(
                40,
                &[
                    "holdup_core::hook::release",
                    drop,
                    "core::ptr::drop_in_place<holdup::sync::mutex::MutexGuard<u64>>",
                    "core::mem::drop",
                    "app::work",
                    "app::run",
                ],
            ),
            loc(50, &["app::main"]),
        ];
        trim_internal(&mut locs);
        assert_eq!(
            names(&locs),
            [vec![drop, "app::work", "app::run"], vec!["app::main"]]
        );
        assert_eq!(
            (locs[0].kept.clone(), locs[0].dropped.clone()),
            (1..6, 2..4)
        );
    }

    #[test]
    fn trimming_without_holdup_frames_still_drops_thread_start() {
        let mut locs = vec![
            loc(10, &[]),
            loc(20, &["app::main"]),
            loc(30, &["std::sys::backtrace::__rust_begin_short_backtrace"]),
        ];
        trim_internal(&mut locs);
        assert_eq!(locs.len(), 2);
        assert_eq!(locs[0].line_count(), 0);
    }

    #[test]
    fn trimming_a_task_stops_at_its_root() {
        let lock = "holdup::tokio::sync::mutex::Mutex<T>::lock::{{closure}}";
        let tokio_core = "tokio::runtime::task::core::Core<T,S>::poll::{{closure}}";
        let worker = "tokio::runtime::scheduler::multi_thread::worker::run";
        // A task holdup spawned: its root's poll and everything below go.
        let mut tracked = vec![
            loc(20, &[RECORD_FN]),
            loc(30, &["holdup::tokio::wait::AsyncWait::acquired"]),
            loc(
                40,
                &[lock, "app::handler::{{closure}}", "app::serve::{{closure}}"],
            ),
            loc(
                50,
                &["<holdup::tokio::task::Root<F> as core::future::future::Future>::poll"],
            ),
            loc(60, &[tokio_core]),
            loc(70, &[worker]),
        ];
        trim_internal(&mut tracked);
        assert_eq!(
            names(&tracked),
            [vec![
                lock,
                "app::handler::{{closure}}",
                "app::serve::{{closure}}"
            ]]
        );
        // A plain tokio task: tokio's poll of the task's cell is the root.
        let mut plain = vec![
            loc(20, &[RECORD_FN]),
            loc(40, &[lock, "app::handler::{{closure}}"]),
            loc(60, &[tokio_core]),
            loc(70, &[worker]),
        ];
        trim_internal(&mut plain);
        assert_eq!(names(&plain), [vec![lock, "app::handler::{{closure}}"]]);
    }

    #[test]
    fn recursion_keeps_every_frame() {
        let mut locs = vec![
            loc(20, &[RECORD_FN]),
            loc(30, &["holdup::sync::mutex::Mutex<T>::lock"]),
            loc(40, &["app::recurse"]),
            loc(40, &["app::recurse"]),
            loc(40, &["app::recurse"]),
        ];
        trim_internal(&mut locs);
        assert_eq!(names(&locs).len(), 4, "{:?}", names(&locs));
    }
}
