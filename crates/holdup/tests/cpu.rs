//! The CPU profile: a thread spinning in a known function for 1 s of CPU at 100 Hz gets about
//! 100 samples with that function, and the real `go tool pprof -top` reads the file.

mod common;

use std::time::Duration;

/// Spins until this thread has used `cpu` of CPU time.
fn spin_cpu(cpu: Duration) -> u64 {
    let used = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes only `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let start = used();
    let mut x = 1u64;
    while used() - start < cpu {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

#[test]
fn a_spinning_thread_gets_a_sample_per_10ms_of_cpu_and_go_reads_the_profile() {
    let profiler = holdup::profile::start_cpu(holdup::profile::DEFAULT_HZ).unwrap();
    assert!(matches!(
        holdup::profile::start_cpu(100),
        Err(holdup::profile::CpuError::InUse)
    ));
    assert_eq!(
        holdup::profile::start_cpu(100).unwrap_err().to_string(),
        "cpu profiling already in use"
    );
    let spinner = std::thread::Builder::new()
        .name("cpu-spinner".into())
        .spawn(|| spin_cpu(Duration::from_secs(1)))
        .unwrap();
    std::hint::black_box(spinner.join().unwrap());
    let prof = profiler.stop();
    assert_eq!(prof.period(), Duration::from_millis(10));
    let samples = prof.samples();
    let spinning: u64 = samples
        .iter()
        .filter(|s| s.thread == "cpu-spinner" && s.has_function("spin_cpu"))
        .map(|s| s.count)
        .sum();
    assert!(
        (80..=120).contains(&spinning),
        "{spinning} samples in spin_cpu for 1 s of CPU at 100 Hz"
    );

    let dir = std::env::temp_dir().join(format!("holdup-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cpu.pb.gz");
    prof.write_pprof(std::fs::File::create(&path).unwrap())
        .unwrap();
    let Some(go) = common::go() else { return };
    let out = std::process::Command::new(go)
        .args(["tool", "pprof", "-top", "-nodecount=20"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Type: cpu"), "{text}");
    assert!(text.contains("spin_cpu"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
