//! `holdup::tokio`: async waits in the profiles at their `.await` sites with their true delays,
//! cancelled waits that leave nothing, tasks in the registry with their waits and held locks,
//! and the auto traits of every wrapper equal to tokio's.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{count, delay, describe, samples_for, within};
use holdup::tokio::sync::{Mutex, MutexGuard, Semaphore};
use holdup_core::registry;
use holdup_core::{Kind, Owner};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

fn profiles_on() {
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);
}

/// The waiting `.await`, in an async fn of the program's (its poll is inlined into the task's
/// in release builds and comes back as an inlined frame).
async fn contender(lock: &Mutex<u64>) -> MutexGuard<'_, u64> {
    lock.lock().await
}

#[test]
fn contended_lock_awaits_have_their_true_delays_at_their_await_sites() {
    profiles_on();
    const HOLD: Duration = Duration::from_millis(30);
    let (lock, site) = (Arc::new(Mutex::new(0u64)), here!());
    let truth = runtime().block_on(async {
        let mut first = lock.lock().await;
        *first = 0;
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let lock = Arc::clone(&lock);
                holdup::tokio::spawn(async move {
                    let start = Instant::now();
                    let mut g = contender(&lock).await;
                    let waited = start.elapsed();
                    // Held across an .await: the next waiter waits for this.
                    tokio::time::sleep(HOLD).await;
                    *g += 1;
                    waited
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
        let mut total = Duration::ZERO;
        for w in waiters {
            total += w.await.unwrap();
        }
        total
    });
    assert_eq!(*lock.try_lock().unwrap(), 3);
    let truth = truth.as_nanos() as f64;

    let block = samples_for(&holdup::profile::block(), &site);
    assert_eq!(
        count(&block),
        3,
        "one event per wait:\n{}",
        describe(&block)
    );
    assert!(block.iter().all(|s| s.label("kind") == Some("mutex")));
    assert!(
        block.iter().all(|s| s.has_function("contender")),
        "the await site is on the stack:\n{}",
        describe(&block)
    );
    assert!(
        block.iter().all(|s| s.frames[0]
            .function
            .contains("holdup::tokio::sync::mutex::Lock")),
        "the leaf is the lock call:\n{}",
        describe(&block)
    );
    assert!(
        within(delay(&block) as f64, truth, 0.2),
        "block delay {} ns, truth {truth} ns",
        delay(&block)
    );

    let mutex = samples_for(&holdup::profile::mutex(), &site);
    assert!(
        within(delay(&mutex) as f64, truth, 0.2),
        "mutex delay {} ns, truth {truth} ns:\n{}",
        delay(&mutex),
        describe(&mutex)
    );
    assert!(mutex.iter().all(|s| s.label("mutated") == Some("yes")));
}

/// No task or thread shows a wait at `site`.
fn nobody_waits_at(site: &str) -> bool {
    registry::entries()
        .into_iter()
        .chain(registry::tasks())
        .filter_map(|e| e.wait)
        .all(|w| format!("{}:{}", w.site.file(), w.site.line()) != site)
}

#[test]
fn a_cancelled_lock_leaves_no_wait_and_records_nothing() {
    profiles_on();
    let (lock, site) = (Arc::new(Mutex::new(())), here!());
    runtime().block_on(async {
        let held = lock.lock().await;
        // Dropped by a timeout, in the runtime's root future (a thread's wait).
        assert!(
            tokio::time::timeout(Duration::from_millis(20), lock.lock())
                .await
                .is_err()
        );
        assert!(nobody_waits_at(&site));
        // Dropped by select!, in a task holdup tracks and in a plain tokio task.
        let l = Arc::clone(&lock);
        holdup::tokio::spawn(async move {
            tokio::select! {
                _ = l.lock() => unreachable!("the lock is held"),
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        })
        .await
        .unwrap();
        let l = Arc::clone(&lock);
        let plain = tokio::spawn(async move {
            let owned = Arc::clone(&l).lock_owned();
            assert!(
                tokio::time::timeout(Duration::from_millis(20), owned)
                    .await
                    .is_err()
            );
            tokio::task::id()
        });
        let id = plain.await.unwrap();
        assert!(nobody_waits_at(&site));
        // The plain task was registered only while it waited.
        let number: u64 = id.to_string().parse().unwrap();
        assert!(
            registry::tasks()
                .iter()
                .all(|e| e.owner != Owner::Task(number))
        );
        drop(held);
        // Nobody waits: the release is not contended, and the lock is free.
        drop(lock.lock().await);
    });
    assert!(samples_for(&holdup::profile::block(), &site).is_empty());
    assert!(samples_for(&holdup::profile::mutex(), &site).is_empty());
}

#[test]
fn tasks_show_their_name_spawn_site_wait_and_the_lock_holder() {
    let (lock, lock_site) = (Arc::new(Mutex::new(())), here!());
    let (sem, sem_site) = (Arc::new(Semaphore::new(0)), here!());
    runtime().block_on(holdup::tokio::instrument(async {
        let root = holdup_core::registry::current_task().expect("instrument tracks the root");
        let held = Arc::clone(&lock).lock_owned().await;
        let l = Arc::clone(&lock);
        let conn = holdup::tokio::task::Builder::new().name("conn");
        let (waiter, spawn_site) = (conn.spawn(async move { drop(l.lock().await) }), here!());
        let waiter = waiter.unwrap();
        let s = Arc::clone(&sem);
        let plain = tokio::spawn(async move { drop(s.acquire().await.unwrap()) });
        let waiter_id: u64 = waiter.id().to_string().parse().unwrap();
        let plain_id: u64 = plain.id().to_string().parse().unwrap();
        // Both wait (their waits are published on their first Pending).
        let deadline = Instant::now() + Duration::from_secs(10);
        let (task, other) = loop {
            let tasks = registry::tasks();
            let find = |id| {
                tasks
                    .iter()
                    .find(|e| e.owner == Owner::Task(id) && e.wait.is_some())
                    .cloned()
            };
            if let (Some(a), Some(b)) = (find(waiter_id), find(plain_id)) {
                break (a, b);
            }
            assert!(Instant::now() < deadline, "the tasks never waited");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        assert_eq!(task.name.as_deref(), Some("conn"));
        let (site, _, _) = task.spawn.as_ref().expect("spawned through holdup");
        assert_eq!(format!("{}:{}", site.file(), site.line()), spawn_site);
        assert_eq!(task.parent, Some(root), "spawned by the instrumented root");
        let wait = task.wait.expect("waiting");
        assert_eq!(wait.kind, Kind::Mutex);
        assert_eq!(
            format!("{}:{}", wait.site.file(), wait.site.line()),
            lock_site
        );
        assert_eq!(
            wait.holder,
            Some(root),
            "the lock's holder is the root task"
        );
        // The `.await` is the `lock()` call, on the spawn's line.
        assert_eq!(
            wait.at.map(|a| format!("{}:{}", a.file(), a.line())),
            Some(spawn_site.clone())
        );

        // A task holdup did not spawn: seen while it waits, without a spawn site.
        assert!(other.spawn.is_none() && other.name.is_none());
        let wait = other.wait.expect("waiting");
        assert_eq!(wait.kind, Kind::Semaphore);
        assert_eq!(
            format!("{}:{}", wait.site.file(), wait.site.line()),
            sem_site
        );

        drop(held);
        sem.add_permits(1);
        waiter.await.unwrap();
        plain.await.unwrap();
        assert!(
            registry::tasks()
                .iter()
                .all(|e| e.owner != Owner::Task(waiter_id) && e.owner != Owner::Task(plain_id)),
            "finished tasks leave the registry"
        );
    }));
}

#[test]
fn a_thousand_tasks_wait_on_one_semaphore() {
    let (sem, site) = (Arc::new(Semaphore::new(0)), here!());
    runtime().block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let sem = Arc::clone(&sem);
                holdup::tokio::spawn(async move { sem.acquire_owned().await.unwrap().forget() })
            })
            .collect();
        let waiting = || {
            registry::tasks()
                .into_iter()
                .filter_map(|e| e.wait)
                .filter(|w| format!("{}:{}", w.site.file(), w.site.line()) == site)
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while waiting() < 1000 {
            assert!(Instant::now() < deadline, "{} of 1000 wait", waiting());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sem.add_permits(1000);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(waiting(), 0);
    });
}

#[test]
fn uncontended_locks_and_permits_record_nothing() {
    profiles_on();
    let (lock, lock_site) = (Mutex::new(0u64), here!());
    let (sem, sem_site) = (Semaphore::new(1), here!());
    runtime().block_on(async {
        for _ in 0..1000 {
            *lock.lock().await += 1;
            drop(sem.acquire().await.unwrap());
        }
    });
    assert!(samples_for(&holdup::profile::block(), &lock_site).is_empty());
    assert!(samples_for(&holdup::profile::mutex(), &lock_site).is_empty());
    assert!(samples_for(&holdup::profile::block(), &sem_site).is_empty());
}

#[test]
fn blocking_lock_waits_are_the_threads() {
    profiles_on();
    let (lock, site) = (Arc::new(Mutex::new(0u64)), here!());
    let held = lock.blocking_lock();
    let l = Arc::clone(&lock);
    let waiter = std::thread::spawn(move || *l.blocking_lock() += 1);
    std::thread::sleep(Duration::from_millis(30));
    drop(held);
    waiter.join().unwrap();
    let block = samples_for(&holdup::profile::block(), &site);
    assert_eq!(count(&block), 1, "{}", describe(&block));
    assert!(delay(&block) >= 20_000_000, "{}", describe(&block));
}

mod auto_traits {
    use std::rc::Rc;
    use std::sync::Arc;

    include!("common/probe.rs");

    /// `Sync` but not `Send`.
    type SyncNotSend = std::sync::MutexGuard<'static, u8>;

    macro_rules! each_payload {
        ($m:ident) => {
            $m!(u8);
            $m!(Rc<u8>);
            $m!(Cell<u8>);
            $m!(SyncNotSend);
            $m!(&'static mut u8);
        };
    }

    #[test]
    fn every_wrapper_has_tokios_auto_traits() {
        macro_rules! mutex_types {
            ($t:ty) => {
                same_traits!(holdup::tokio::sync::Mutex<$t>, tokio::sync::Mutex<$t>);
                same_traits!(
                    holdup::tokio::sync::MutexGuard<'static, $t>,
                    tokio::sync::MutexGuard<'static, $t>
                );
                same_traits!(
                    holdup::tokio::sync::OwnedMutexGuard<$t>,
                    tokio::sync::OwnedMutexGuard<$t>
                );
                same_traits!(
                    holdup::tokio::sync::MappedMutexGuard<'static, $t>,
                    tokio::sync::MappedMutexGuard<'static, $t>
                );
                same_traits!(
                    holdup::tokio::sync::OwnedMappedMutexGuard<$t, u8>,
                    tokio::sync::OwnedMappedMutexGuard<$t, u8>
                );
                same_traits!(
                    holdup::tokio::sync::OwnedMappedMutexGuard<u8, $t>,
                    tokio::sync::OwnedMappedMutexGuard<u8, $t>
                );
            };
        }
        each_payload!(mutex_types);
        same_traits!(holdup::tokio::sync::Semaphore, tokio::sync::Semaphore);
        same_traits!(
            holdup::tokio::sync::SemaphorePermit<'static>,
            tokio::sync::SemaphorePermit<'static>
        );
        same_traits!(
            holdup::tokio::sync::OwnedSemaphorePermit,
            tokio::sync::OwnedSemaphorePermit
        );
        macro_rules! other_types {
            ($t:ty) => {
                same_traits!(holdup::tokio::sync::RwLock<$t>, tokio::sync::RwLock<$t>);
                same_traits!(holdup::tokio::sync::RwLockReadGuard<'static, $t>, tokio::sync::RwLockReadGuard<'static, $t>);
                same_traits!(holdup::tokio::sync::RwLockWriteGuard<'static, $t>, tokio::sync::RwLockWriteGuard<'static, $t>);
                same_traits!(holdup::tokio::sync::RwLockMappedWriteGuard<'static, $t>, tokio::sync::RwLockMappedWriteGuard<'static, $t>);
                same_traits!(holdup::tokio::sync::OwnedRwLockReadGuard<$t, u8>, tokio::sync::OwnedRwLockReadGuard<$t, u8>);
                same_traits!(holdup::tokio::sync::OwnedRwLockReadGuard<u8, $t>, tokio::sync::OwnedRwLockReadGuard<u8, $t>);
                same_traits!(holdup::tokio::sync::OwnedRwLockWriteGuard<$t>, tokio::sync::OwnedRwLockWriteGuard<$t>);
                same_traits!(holdup::tokio::sync::OwnedRwLockMappedWriteGuard<$t, u8>, tokio::sync::OwnedRwLockMappedWriteGuard<$t, u8>);
                same_traits!(holdup::tokio::sync::OwnedRwLockMappedWriteGuard<u8, $t>, tokio::sync::OwnedRwLockMappedWriteGuard<u8, $t>);
                same_traits!(holdup::tokio::sync::mpsc::Sender<$t>, tokio::sync::mpsc::Sender<$t>);
                same_traits!(holdup::tokio::sync::mpsc::Receiver<$t>, tokio::sync::mpsc::Receiver<$t>);
                same_traits!(holdup::tokio::sync::mpsc::WeakSender<$t>, tokio::sync::mpsc::WeakSender<$t>);
                same_traits!(holdup::tokio::sync::mpsc::OwnedPermit<$t>, tokio::sync::mpsc::OwnedPermit<$t>);
                same_traits!(holdup::tokio::sync::mpsc::UnboundedSender<$t>, tokio::sync::mpsc::UnboundedSender<$t>);
                same_traits!(holdup::tokio::sync::mpsc::UnboundedReceiver<$t>, tokio::sync::mpsc::UnboundedReceiver<$t>);
                same_traits!(holdup::tokio::sync::mpsc::WeakUnboundedSender<$t>, tokio::sync::mpsc::WeakUnboundedSender<$t>);
                same_traits!(holdup::tokio::sync::oneshot::Sender<$t>, tokio::sync::oneshot::Sender<$t>);
                same_traits!(holdup::tokio::sync::oneshot::Receiver<$t>, tokio::sync::oneshot::Receiver<$t>);
                same_traits!(holdup::tokio::sync::watch::Sender<$t>, tokio::sync::watch::Sender<$t>);
                same_traits!(holdup::tokio::sync::watch::Receiver<$t>, tokio::sync::watch::Receiver<$t>);
                same_traits!(holdup::tokio::sync::broadcast::Sender<$t>, tokio::sync::broadcast::Sender<$t>);
                same_traits!(holdup::tokio::sync::broadcast::Receiver<$t>, tokio::sync::broadcast::Receiver<$t>);
                same_traits!(holdup::tokio::sync::broadcast::WeakSender<$t>, tokio::sync::broadcast::WeakSender<$t>);
                same_traits!(holdup::tokio::task::JoinSet<$t>, tokio::task::JoinSet<$t>);
            };
        }
        each_payload!(other_types);
        same_traits!(holdup::tokio::sync::Notify, tokio::sync::Notify);
        same_traits!(
            holdup::tokio::sync::Notified<'static>,
            tokio::sync::futures::Notified<'static>
        );
        same_traits!(
            holdup::tokio::sync::OwnedNotified,
            tokio::sync::futures::OwnedNotified
        );
        same_traits!(holdup::tokio::sync::Barrier, tokio::sync::Barrier);
        finish(5 * 6 + 3 + 5 * 24 + 4);
    }

    #[test]
    fn every_future_has_tokios_auto_traits() {
        macro_rules! futures_of {
            ($t:ty, $v:expr) => {{
                let (h, t) = (
                    Arc::new(holdup::tokio::sync::Mutex::<$t>::new($v)),
                    Arc::new(tokio::sync::Mutex::<$t>::new($v)),
                );
                same_traits_of!(h.lock(), t.lock());
                same_traits_of!(Arc::clone(&h).lock_owned(), Arc::clone(&t).lock_owned());
            }};
        }
        futures_of!(u8, 1);
        futures_of!(Rc<u8>, Rc::new(1));
        futures_of!(Cell<u8>, Cell::new(1));
        let (h, t) = (
            Arc::new(holdup::tokio::sync::Semaphore::new(1)),
            Arc::new(tokio::sync::Semaphore::new(1)),
        );
        same_traits_of!(h.acquire(), t.acquire());
        same_traits_of!(h.acquire_many(2), t.acquire_many(2));
        same_traits_of!(
            Arc::clone(&h).acquire_owned(),
            Arc::clone(&t).acquire_owned()
        );
        let (h, t) = (
            Arc::new(holdup::tokio::sync::RwLock::new(1u8)),
            Arc::new(tokio::sync::RwLock::new(1u8)),
        );
        same_traits_of!(h.read(), t.read());
        same_traits_of!(h.write(), t.write());
        same_traits_of!(Arc::clone(&h).read_owned(), Arc::clone(&t).read_owned());
        same_traits_of!(Arc::clone(&h).write_owned(), Arc::clone(&t).write_owned());
        let (h, t) = (
            holdup::tokio::sync::mpsc::channel::<u8>(1),
            tokio::sync::mpsc::channel::<u8>(1),
        );
        same_traits_of!(h.0.send(1), t.0.send(1));
        same_traits_of!(h.0.reserve(), t.0.reserve());
        let (mut hr, mut tr) = (h.1, t.1);
        same_traits_of!(hr.recv(), tr.recv());
        let (h, t) = (
            holdup::tokio::sync::Barrier::new(1),
            tokio::sync::Barrier::new(1),
        );
        same_traits_of!(h.wait(), t.wait());
        let (mut h, mut t) = (
            holdup::tokio::sync::watch::channel(1u8).1,
            tokio::sync::watch::channel(1u8).1,
        );
        same_traits_of!(h.changed(), t.changed());
        let (mut h, mut t) = (
            holdup::tokio::sync::broadcast::channel::<u8>(1).1,
            tokio::sync::broadcast::channel::<u8>(1).1,
        );
        same_traits_of!(h.recv(), t.recv());
        let n = (
            holdup::tokio::sync::Notify::new(),
            tokio::sync::Notify::new(),
        );
        same_traits_of!(n.0.notified(), n.1.notified());
        finish(3 * 2 + 3 + 4 + 3 + 1 + 1 + 1 + 1);
    }
}

mod dumps {
    use super::*;
    use holdup::dump::{self, Detail, Holder, Who};

    /// Waits (polling) until `ready` holds, for at most 20 s.
    fn until(what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn waiting_at(site: &str) -> usize {
        registry::tasks()
            .into_iter()
            .filter_map(|e| e.wait)
            .filter(|w| format!("{}:{}", w.site.file(), w.site.line()) == site)
            .count()
    }

    fn text(d: &dump::ThreadDump, detail: Detail) -> String {
        let mut out = Vec::new();
        d.write_text(&mut out, detail).unwrap();
        String::from_utf8(out).unwrap()
    }

    async fn parked(sem: Arc<Semaphore>) {
        sem.acquire_owned().await.unwrap().forget();
    }

    #[test]
    fn a_thousand_parked_tasks_are_one_group_with_their_await_site() {
        let rt = runtime();
        let (sem, site) = (Arc::new(Semaphore::new(0)), here!());
        // Stack capture is set up by the first dump: take one before the tasks wait.
        let _ = dump::threads();
        let handles: Vec<_> = (0..1000)
            .map(|_| {
                let s = Arc::clone(&sem);
                rt.spawn(async move {
                    holdup::tokio::task::Builder::new()
                        .name("parked")
                        .spawn(parked(s))
                        .unwrap()
                        .await
                        .unwrap()
                })
            })
            .collect();
        until("1000 tasks to wait", || waiting_at(&site) == 1000);
        let started = Instant::now();
        let d = dump::threads();
        let took = started.elapsed();
        let mine: Vec<_> = d
            .tasks()
            .iter()
            .filter(|t| {
                t.wait
                    .as_ref()
                    .is_some_and(|w| format!("{}:{}", w.lock.file(), w.lock.line()) == site)
            })
            .collect();
        assert_eq!(mine.len(), 1000, "dumped in {took:?}");
        for t in &mine {
            assert_eq!(t.name(), Some("parked"));
            assert_eq!(t.wait.as_ref().unwrap().kind, holdup_core::Kind::Semaphore);
            assert!(t.has_function("parked"), "{:#?}", t.frames);
            assert!(
                !t.has_function("tokio::runtime"),
                "stacks stop at the task's root: {:#?}",
                t.frames
            );
            assert!(t.spawn.is_some());
        }
        let grouped = text(&d, Detail::Grouped);
        let group = grouped
            .split("\n\n")
            .find(|g| g.contains(&format!("\"lock\":\"{site}\"")))
            .unwrap_or_else(|| panic!("no group for {site}:\n{grouped}"));
        assert!(
            group.lines().any(|l| l.starts_with("1000 @")),
            "one group of 1000:\n{group}"
        );
        let full = text(&d, Detail::Full);
        assert!(
            full.contains(&format!("task {} \"parked\" [semaphore wait", mine[0].id())),
            "{}",
            &full[..full.len().min(4000)]
        );
        sem.add_permits(1000);
        for h in handles {
            rt.block_on(h).unwrap();
        }
    }

    #[test]
    fn a_lock_held_by_a_task_names_it_and_task_deadlocks_are_cycles() {
        let rt = runtime();
        let (a, a_site) = (Arc::new(Mutex::new(0)), here!());
        let (b, b_site) = (Arc::new(Mutex::new(0)), here!());
        let (c, c_site) = (Arc::new(holdup::sync::Mutex::new(0)), here!());
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        // Task "left" holds a and waits for b; task "right" holds b and waits for a.
        let spawn = |name: &str, first: &Arc<Mutex<u64>>, second: &Arc<Mutex<u64>>| {
            let (first, second, barrier) = (first.clone(), second.clone(), barrier.clone());
            let builder = holdup::tokio::task::Builder::new().name(name);
            let _enter = rt.enter();
            builder
                .spawn(async move {
                    let _held = first.lock().await;
                    barrier.wait().await;
                    drop(second.lock().await);
                })
                .unwrap()
        };
        let left = spawn("left", &a, &b);
        let right = spawn("right", &b, &a);
        until("both tasks to wait", || {
            waiting_at(&a_site) + waiting_at(&b_site) == 2
        });
        // A thread holds c and waits for a task's lock; a task holds... the third party: the
        // thread "holder" holds c, and task "stuck" waits for c (blocking its worker).
        let held_c = c.lock().unwrap();
        let c2 = c.clone();
        let stuck = {
            let _enter = rt.enter();
            holdup::tokio::task::Builder::new()
                .name("stuck")
                .spawn_blocking(move || drop(c2.lock().unwrap()))
                .unwrap()
        };
        until("the blocking task to wait", || waiting_at(&c_site) == 1);

        let d = dump::threads();
        let task = |name: &str| {
            d.tasks()
                .iter()
                .find(|t| t.name() == Some(name))
                .unwrap_or_else(|| panic!("task {name} not in the dump"))
        };
        let (l, r) = (task("left"), task("right"));
        let wait = l.wait.as_ref().expect("left waits");
        assert!(
            matches!(&wait.holder, Holder::Task(t) if t.id == r.id() && t.name.as_deref() == Some("right")),
            "{:?}",
            wait.holder
        );
        assert_eq!(l.holding.len(), 1, "left holds a, which right waits for");
        assert!(l.status().contains("held by task"), "{}", l.status());
        // The task waiting in a std-mirror lock on a blocking thread: held by this thread.
        let s = task("stuck");
        assert!(
            matches!(&s.wait.as_ref().unwrap().holder, Holder::Thread(t) if t.tid == registry::os_tid()),
            "{:?}",
            s.wait
        );
        let cycle = d
            .deadlocks()
            .iter()
            .find(|c| c.links.iter().any(|l| l.waiter.name() == Some("left")))
            .unwrap_or_else(|| panic!("no cycle through the tasks: {:#?}", d.deadlocks()));
        let mut names: Vec<_> = cycle
            .links
            .iter()
            .map(|l| l.waiter.name().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["left", "right"]);
        assert!(cycle.links.iter().all(|l| matches!(l.holder, Who::Task(_))));
        let shown = cycle.to_string();
        assert!(
            shown.starts_with("deadlock: 2 tasks wait for each other"),
            "{shown}"
        );
        let full = text(&d, Detail::Full);
        assert!(full.contains("held by task"), "{full}");

        drop(held_c);
        rt.block_on(stuck).unwrap();
        // The deadlocked tasks stay; the runtime is let go without waiting for them.
        drop((left, right));
        rt.shutdown_background();
    }

    #[test]
    fn a_task_and_a_thread_deadlock() {
        let rt = runtime();
        let (a, a_site) = (Arc::new(Mutex::new(0)), here!());
        let (b, b_site) = (Arc::new(holdup::sync::Mutex::new(0)), here!());
        // The task takes a, then waits for b (blocking its worker); the thread takes b, then
        // waits for a.
        let (a_held_tx, a_held) = std::sync::mpsc::channel();
        let (b_held, b_held_rx) = std::sync::mpsc::channel();
        let (a2, b2) = (a.clone(), b.clone());
        let task = {
            let _enter = rt.enter();
            holdup::tokio::task::Builder::new()
                .name("mixed")
                .spawn(async move {
                    let _a = a2.lock().await;
                    a_held_tx.send(()).unwrap();
                    b_held_rx.recv().unwrap();
                    drop(b2.lock().unwrap());
                })
                .unwrap()
        };
        let (a3, b3) = (a.clone(), b.clone());
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let _thread = holdup::thread::Builder::new()
            .name("mixed-thread".into())
            .spawn(move || {
                tid_tx.send(registry::os_tid()).unwrap();
                a_held.recv().unwrap();
                let _b = b3.lock().unwrap();
                b_held.send(()).unwrap();
                drop(a3.blocking_lock());
            })
            .unwrap();
        let tid = tid_rx.recv().unwrap();
        until("the task to wait for b", || waiting_at(&b_site) == 1);
        until("the thread to wait for a", || {
            registry::entries().iter().any(|e| {
                e.os_tid == tid
                    && e.wait
                        .is_some_and(|w| format!("{}:{}", w.site.file(), w.site.line()) == a_site)
            })
        });
        let d = dump::threads();
        let t = d
            .tasks()
            .iter()
            .find(|t| t.name() == Some("mixed"))
            .expect("task");
        assert!(
            matches!(&t.wait.as_ref().unwrap().holder, Holder::Thread(h) if h.tid == tid),
            "{:?}",
            t.wait
        );
        let th = d.thread(tid).expect("thread");
        assert!(
            matches!(&th.wait.as_ref().unwrap().holder,
                Holder::Task(h) if h.name.as_deref() == Some("mixed")),
            "{:?}",
            th.wait
        );
        assert_eq!(
            t.holding.len(),
            1,
            "the task holds a, which the thread waits for"
        );
        let cycle = d
            .deadlocks()
            .iter()
            .find(|c| c.links.iter().any(|l| l.waiter.name() == Some("mixed")))
            .unwrap_or_else(|| panic!("no cycle: {:#?}", d.deadlocks()));
        assert_eq!(cycle.links.len(), 2);
        assert!(
            cycle
                .links
                .iter()
                .any(|l| matches!(&l.waiter, Who::Thread(t) if t.tid == tid))
        );
        let shown = cycle.to_string();
        assert!(
            shown.starts_with("deadlock: 2 threads and tasks wait for each other"),
            "{shown}"
        );
        // Both stay blocked; the runtime is let go without waiting for its worker.
        drop(task);
        rt.shutdown_background();
    }
}

#[test]
fn leak_checks_name_a_task_left_running_and_pass_a_clean_test() {
    let rt = runtime();
    // Stack capture for task waits is set up by the first dump.
    let _ = holdup::dump::threads();
    let guard = holdup::leak::Guard::with(holdup::leak::Options::new().retries(4));
    let (sem, sem_site) = (Arc::new(Semaphore::new(0)), here!());
    let s = Arc::clone(&sem);
    let (forgotten, spawn_site) = (
        rt.block_on(async {
            let b = holdup::tokio::task::Builder::new().name("forgotten");
            b.spawn(async move { s.acquire().await.unwrap().forget() })
        }),
        here!(),
    );
    let forgotten = forgotten.unwrap();
    let waits = |name: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !registry::tasks()
            .iter()
            .any(|e| e.name.as_deref() == Some(name) && e.wait.is_some())
        {
            assert!(Instant::now() < deadline, "{name} never waited");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // The task waits (a task spawned but not yet polled is a leak too, counted as starting).
    waits("forgotten");
    let leaks = guard.check().expect_err("the task is still running");
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    let task = &leaks.tasks()[0].task;
    assert_eq!(task.name(), Some("forgotten"));
    let sp = task.spawn.as_ref().expect("spawned through holdup");
    // The builder's `spawn` call is on the line before `here!()`.
    let line: u32 = spawn_site.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(sp.site.line(), line - 2, "{leaks}");
    let wait = task.wait.as_ref().expect("waiting");
    assert_eq!(
        format!("{}:{}", wait.lock.file(), wait.lock.line()),
        sem_site
    );
    let report = leaks.to_string();
    assert!(report.starts_with("found 1 leaked task:"), "{report}");
    assert!(report.contains("\"forgotten\" [semaphore wait"), "{report}");
    sem.add_permits(1);
    rt.block_on(forgotten).unwrap();

    // A task's children are in its scope: a grandchild left by a task that finished is found.
    let guard = holdup::leak::Guard::with(holdup::leak::Options::new().retries(4));
    let s = Arc::clone(&sem);
    let parent = rt.block_on(async {
        holdup::tokio::spawn(async move {
            let b = holdup::tokio::task::Builder::new().name("grandchild");
            b.spawn(async move { s.acquire().await.unwrap().forget() })
                .unwrap();
            tokio::task::id()
        })
        .await
        .unwrap()
    });
    waits("grandchild");
    let leaks = guard.check().expect_err("the grandchild is still running");
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    let child = &leaks.tasks()[0].task;
    assert_eq!(child.name(), Some("grandchild"));
    assert!(
        matches!(&child.spawn.as_ref().unwrap().parent,
            holdup::dump::Who::Task(t) if t.id.to_string() == parent.to_string()),
        "{leaks}"
    );
    sem.add_permits(1);

    // A clean test: its tasks finished.
    let guard = holdup::leak::Guard::new();
    rt.block_on(async {
        let children: Vec<_> = (0..10)
            .map(|i| holdup::tokio::spawn(async move { i * 2 }))
            .collect();
        for c in children {
            c.await.unwrap();
        }
    });
    guard.check().expect("no task left");
}

/// Waits `ms`, then runs `then` (on a task).
fn after(ms: u64, then: impl FnOnce() + Send + 'static) -> tokio::task::JoinHandle<()> {
    holdup::tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        then();
    })
}

#[test]
fn every_primitive_records_its_waits_with_kind_and_site() {
    profiles_on();
    use holdup::tokio::sync::{Barrier, Notify, RwLock, broadcast, mpsc, oneshot, watch};
    let (notify, notify_site) = (Arc::new(Notify::new()), here!());
    let ((os_tx, os_rx), oneshot_site) = (oneshot::channel::<u8>(), here!());
    let ((mp_tx, mut mp_rx), mpsc_site) = (mpsc::channel::<u8>(1), here!());
    let ((w_tx, mut w_rx), watch_site) = (watch::channel(0u8), here!());
    let ((b_tx, mut b_rx), broadcast_site) = (broadcast::channel::<u8>(4), here!());
    let (barrier, barrier_site) = (Arc::new(Barrier::new(2)), here!());
    let (rw, rw_site) = (Arc::new(RwLock::new(0u8)), here!());
    runtime().block_on(async {
        let n = Arc::clone(&notify);
        after(30, move || n.notify_one());
        notify.notified().await;

        after(30, move || os_tx.send(1).unwrap());
        assert_eq!(os_rx.await, Ok(1));

        let tx = mp_tx.clone();
        after(30, move || tx.try_send(1).unwrap());
        assert_eq!(mp_rx.recv().await, Some(1));
        mp_tx.send(2).await.unwrap(); // fills the channel (capacity 1)
        let rx_later = holdup::tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            (mp_rx.recv().await, mp_rx)
        });
        mp_tx.send(3).await.unwrap(); // waits for room
        assert_eq!(rx_later.await.unwrap().0, Some(2));

        after(30, move || w_tx.send(1).unwrap());
        w_rx.changed().await.unwrap();

        after(30, move || assert_eq!(b_tx.send(7).unwrap(), 1));
        assert_eq!(b_rx.recv().await.unwrap(), 7);

        let b = Arc::clone(&barrier);
        let other = holdup::tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            b.wait().await
        });
        barrier.wait().await;
        other.await.unwrap();

        let reader = Arc::clone(&rw).read_owned().await;
        let w = Arc::clone(&rw);
        let writer = holdup::tokio::spawn(async move { *w.write().await += 1 });
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(reader);
        writer.await.unwrap();
        let writer = rw.write().await;
        let r = Arc::clone(&rw);
        let reader = holdup::tokio::spawn(async move { *r.read().await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(writer);
        assert_eq!(reader.await.unwrap(), 1);
    });
    let block = holdup::profile::block();
    for (site, kinds) in [
        (&notify_site, &["notify"][..]),
        (&oneshot_site, &["chan-recv"]),
        (&mpsc_site, &["chan-recv", "chan-send"]),
        (&watch_site, &["chan-recv"]),
        (&broadcast_site, &["chan-recv"]),
        (&barrier_site, &["barrier"]),
        (&rw_site, &["rwlock-read", "rwlock-write"]),
    ] {
        let samples = samples_for(&block, site);
        for kind in kinds {
            let of_kind: Vec<_> = samples
                .iter()
                .filter(|s| s.label("kind") == Some(kind))
                .cloned()
                .collect();
            assert!(
                delay(&of_kind) >= 15_000_000,
                "{kind} at {site}: a wait of about 30 ms:\n{}",
                describe(&samples)
            );
        }
    }
    // The rwlock's releases that others waited for are in the mutex profile.
    let mutex = samples_for(&holdup::profile::mutex(), &rw_site);
    assert!(
        mutex.iter().any(|s| s.label("kind") == Some("rwlock-read")),
        "{}",
        describe(&mutex)
    );
    assert!(
        mutex
            .iter()
            .any(|s| s.label("kind") == Some("rwlock-write")),
        "{}",
        describe(&mutex)
    );
}

#[test]
fn a_guard_held_across_an_await_is_told_from_one_held_while_running() {
    profiles_on();
    let (across, across_site) = (Arc::new(Mutex::new(0)), here!());
    let (between, between_site) = (Arc::new(Mutex::new(0)), here!());
    runtime().block_on(async {
        // Held across `sleep().await` while another task waits.
        let l = Arc::clone(&across);
        let holder = holdup::tokio::spawn(async move {
            let mut g = l.lock().await;
            tokio::time::sleep(Duration::from_millis(30)).await;
            *g += 1;
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let l = Arc::clone(&across);
        holdup::tokio::spawn(async move { *l.lock().await += 1 })
            .await
            .unwrap();
        holder.await.unwrap();

        // Held between awaits only: the task blocks its worker thread while holding it.
        let l = Arc::clone(&between);
        let holder = holdup::tokio::spawn(async move {
            let mut g = l.lock().await;
            std::thread::sleep(Duration::from_millis(30));
            *g += 1;
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let l = Arc::clone(&between);
        holdup::tokio::spawn(async move { *l.lock().await += 1 })
            .await
            .unwrap();
        holder.await.unwrap();
    });
    let mutex = holdup::profile::mutex();
    let held = |site: &str| -> Vec<String> {
        samples_for(&mutex, site)
            .iter()
            .filter_map(|s| s.label("held").map(str::to_owned))
            .collect()
    };
    assert_eq!(
        held(&across_site),
        ["suspended"],
        "{}",
        describe(&samples_for(&mutex, &across_site))
    );
    assert_eq!(
        held(&between_site),
        ["running"],
        "{}",
        describe(&samples_for(&mutex, &between_site))
    );
}

#[test]
fn a_join_set_tracks_its_tasks_and_its_joins_wait() {
    profiles_on();
    let (sem, sem_site) = (Arc::new(Semaphore::new(0)), here!());
    runtime().block_on(async {
        let (mut set, set_site) = (holdup::tokio::task::JoinSet::new(), here!());
        for _ in 0..3 {
            let sem = Arc::clone(&sem);
            set.spawn(async move { sem.acquire().await.unwrap().forget() });
        }
        let waiting = || {
            registry::tasks()
                .into_iter()
                .filter(|e| e.spawn.is_some())
                .filter_map(|e| e.wait)
                .filter(|w| format!("{}:{}", w.site.file(), w.site.line()) == sem_site)
                .count()
        };
        while waiting() < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let s = Arc::clone(&sem);
        after(30, move || s.add_permits(3));
        let mut joined = 0;
        while let Some(r) = set.join_next().await {
            r.unwrap();
            joined += 1;
        }
        assert_eq!(joined, 3);
        let block = samples_for(&holdup::profile::block(), &set_site);
        assert!(
            block.iter().any(|s| s.label("kind") == Some("join")),
            "{}",
            describe(&block)
        );
        // Dropping a set aborts its tasks: they leave the registry.
        let mut set = holdup::tokio::task::JoinSet::new();
        let s = Arc::clone(&sem);
        set.spawn(async move { s.acquire().await.unwrap().forget() });
        while waiting() < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(set);
        while waiting() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn local_and_blocking_tasks_are_tracked() {
    use holdup::tokio::sync::Notify;
    let (notify, site) = (std::rc::Rc::new(Notify::new()), here!());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        // A !Send task on the LocalSet, named, waiting on a notification.
        let n = std::rc::Rc::clone(&notify);
        let b = holdup::tokio::task::Builder::new().name("local");
        let fut = async move { n.notified().await };
        let (task, spawn_site) = (b.spawn_local(fut), here!());
        let task = task.unwrap();
        tokio::task::yield_now().await;
        let entry = registry::tasks()
            .into_iter()
            .find(|e| e.name.as_deref() == Some("local"))
            .expect("the local task is listed once it waits");
        let wait = entry.wait.expect("waiting");
        assert_eq!(wait.kind, holdup_core::Kind::Notify);
        assert_eq!(format!("{}:{}", wait.site.file(), wait.site.line()), site);
        let (sp, _, _) = entry.spawn.expect("spawned through holdup");
        assert_eq!(format!("{}:{}", sp.file(), sp.line()), spawn_site);
        notify.notify_one();
        task.await.unwrap();

        // A blocking task: its waits in holdup's primitives are the task's.
        let lock = Arc::new(holdup::sync::Mutex::new(0));
        let held = lock.lock().unwrap();
        let l = Arc::clone(&lock);
        let blocking = holdup::tokio::task::Builder::new()
            .name("blocking")
            .spawn_blocking(move || *l.lock().unwrap() += 1)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !registry::tasks()
            .iter()
            .any(|e| e.name.as_deref() == Some("blocking") && e.wait.is_some())
        {
            assert!(Instant::now() < deadline, "the blocking task never waited");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(held);
        blocking.await.unwrap();
        assert_eq!(*lock.lock().unwrap(), 1);
    });
}
