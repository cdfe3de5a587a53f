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
        finish(5 * 6 + 3);
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
        finish(3 * 2 + 3);
    }
}
