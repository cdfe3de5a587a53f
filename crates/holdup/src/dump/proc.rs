//! Reading `/proc/self/task`: the process's threads, their kernel names and states.

pub(super) fn state_name(c: char) -> &'static str {
    match c {
        'R' => "running",
        'S' => "sleeping",
        'D' => "uninterruptible sleep",
        'T' => "stopped",
        't' => "stopped by a tracer",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        _ => "unknown state",
    }
}

/// What the OS says about one thread.
#[derive(Debug, Clone, Default)]
pub(super) struct OsThread {
    pub(super) name: Option<String>,
    pub(super) state: Option<char>,
}

/// The OS ids of the process's threads now, sorted (empty where unknown).
#[cfg(target_os = "linux")]
pub(crate) fn task_ids() -> Vec<i64> {
    let mut out: Vec<i64> = std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// The OS ids of the process's threads now (empty where unknown).
#[cfg(not(target_os = "linux"))]
pub(crate) fn task_ids() -> Vec<i64> {
    Vec::new()
}

/// The kernel's name of thread `tid` (Linux), if it is alive.
pub(crate) fn task_name(tid: i64) -> Option<String> {
    #[cfg(target_os = "linux")]
    return read_task(tid).name;
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}

/// Name and state from `/proc/self/task/<tid>/stat` (one read: `tid (comm) S ...`).
#[cfg(target_os = "linux")]
pub(super) fn read_task(tid: i64) -> OsThread {
    use std::io::Read;
    let mut buf = [0u8; 512];
    let Ok(mut f) = std::fs::File::open(format!("/proc/self/task/{tid}/stat")) else {
        return OsThread::default();
    };
    let n = f.read(&mut buf).unwrap_or(0);
    let text = &buf[..n];
    let (Some(open), Some(close)) = (
        text.iter().position(|&b| b == b'('),
        text.iter().rposition(|&b| b == b')'),
    ) else {
        return OsThread::default();
    };
    if close < open {
        return OsThread::default();
    }
    let name = String::from_utf8_lossy(&text[open + 1..close]).into_owned();
    let state = text.get(close + 2).map(|&b| b as char);
    OsThread {
        name: Some(name),
        state,
    }
}
