//! The dump's text formats (Go's `debug=1` grouped layout and `debug=2` entries) and the
//! count profile it becomes.

use super::*;

impl ThreadDump {
    /// Writes the dump as text: [`Detail::Grouped`] (Go's `debug=1` layout, which `go tool
    /// pprof` reads) or [`Detail::Full`] (one entry per thread, like Go's `debug=2`).
    pub fn write_text(&self, mut w: impl Write, detail: Detail) -> io::Result<()> {
        match detail {
            Detail::Grouped => {
                self.count_profile(false).write_text(&mut w)?;
                if !self.deadlocks.is_empty() {
                    let mut text = String::new();
                    for d in &self.deadlocks {
                        let _ = writeln!(text, "# deadlock: {}", d.summary());
                    }
                    w.write_all(text.as_bytes())?;
                }
                Ok(())
            }
            Detail::Full => w.write_all(self.full_text().as_bytes()),
        }
    }

    /// Writes the dump as a gzip'd `goroutine/count` profile.proto (Go's `debug=0`): threads
    /// counted per stack and labels `thread` (the name), `wait`, `lock`, `held_by`, `holding`,
    /// `tid`.
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        self.count_profile(true).write_pprof(w)
    }

    /// The dump as Go's `goroutine` count profile: threads grouped by stack and labels `wait`,
    /// `lock`, `held_by`, `holding`, `tid` (as [`Detail::Grouped`] shows them).
    pub fn to_count_profile(&self) -> CountProfile {
        self.count_profile(false)
    }

    fn count_profile(&self, names: bool) -> CountProfile {
        let threads = self.threads.iter().map(|t| {
            let mut labels = labels(t);
            if names && let Some(name) = t.name() {
                labels.insert("thread".to_owned(), name.to_owned());
            }
            ((count_frames(&t.frames, &t.text), labels), 1)
        });
        // Tasks parked at the same `.await` share their frames: count them per (frames, labels)
        // first, so that 100,000 tasks cost a few groups, not 100,000 copies of a stack.
        type Group = (*const [Frame], BTreeMap<String, String>);
        let mut tasks: HashMap<Group, (&Task, i64)> = HashMap::new();
        for t in &self.tasks {
            tasks
                .entry((Arc::as_ptr(&t.frames), task_labels(t)))
                .or_insert((t, 0))
                .1 += 1;
        }
        let tasks = tasks
            .into_iter()
            .map(|((_, labels), (t, n))| ((count_frames(&t.frames, &t.text), labels), n));
        CountProfile::from_groups("goroutine", self.time, threads.chain(tasks))
    }

    fn full_text(&self) -> String {
        let tasks = if self.tasks.is_empty() {
            String::new()
        } else {
            format!("{} tasks, ", self.tasks.len())
        };
        let mut s = format!(
            "thread dump: {} threads, {tasks}{} deadlock{}, taken in {} ({})\n\n",
            self.threads.len(),
            self.deadlocks.len(),
            if self.deadlocks.len() == 1 { "" } else { "s" },
            human(self.elapsed),
            self.source
        );
        for t in &self.threads {
            let _ = writeln!(s, "{} [{}]:", t.thread, t.status());
            if let StackStatus::Unavailable(why) = &t.stack {
                let _ = writeln!(s, "  stack unavailable: {why}");
            }
            let _ = write_frames(&mut s, &t.frames, "  ");
            if let Some(sp) = &t.spawn {
                let _ = match &sp.function {
                    Some(f) => writeln!(
                        s,
                        "  spawned by {f} at {}:{} in {}",
                        sp.site.file(),
                        sp.site.line(),
                        sp.parent
                    ),
                    None => writeln!(
                        s,
                        "  spawned at {}:{} in {}",
                        sp.site.file(),
                        sp.site.line(),
                        sp.parent
                    ),
                };
            }
            s.push('\n');
        }
        for t in &self.tasks {
            let _ = write!(s, "{} [{}]", t.task, t.status());
            match &t.spawn {
                Some(sp) => {
                    let _ = write!(
                        s,
                        " spawned at {}:{} by {}",
                        sp.site.file(),
                        sp.site.line(),
                        sp.parent
                    );
                }
                None => s.push_str(" spawned outside holdup (spawn site unknown)"),
            }
            s.push_str(":\n");
            let _ = write_frames(&mut s, &t.frames, "  ");
            s.push('\n');
        }
        for d in &self.deadlocks {
            let _ = writeln!(s, "{d}");
        }
        s
    }
}

/// Writes `frames` as `{indent}function` and `{indent}    at file:line` lines.
pub(crate) fn write_frames(w: &mut impl fmt::Write, frames: &[Frame], indent: &str) -> fmt::Result {
    for f in frames {
        let name = if f.function.is_empty() {
            format!("{:#x}", f.address)
        } else {
            f.function.clone()
        };
        writeln!(w, "{indent}{name}")?;
        if !f.file.is_empty() {
            writeln!(w, "{indent}    at {}:{}", f.file, f.line)?;
        }
    }
    Ok(())
}

/// A dumped stack as the count profile's frames.
fn count_frames(frames: &[Frame], text: &[(u64, u64)]) -> Vec<CountFrame> {
    frames
        .iter()
        .zip(text)
        .map(|(f, &(pc, offset))| CountFrame {
            pc,
            function: f.function.clone(),
            offset,
            file: f.file.clone(),
            line: f.line,
            inlined: f.inlined,
        })
        .collect()
}

/// The labels of a task's sample: `task` (its name, or `unnamed`), its wait as a thread's
/// (`wait`, `lock`, `held_by`), `running` or `idle` otherwise, and `holding` with `task_id`
/// when others wait for a lock it holds. Tasks with the same stack and labels are one group.
pub(super) fn task_labels(t: &Task) -> BTreeMap<String, String> {
    let mut l = match &t.wait {
        Some(w) => wait_labels(w),
        None => BTreeMap::from([(
            "wait".to_owned(),
            if t.running_on.is_some() {
                "running"
            } else {
                "idle"
            }
            .to_owned(),
        )]),
    };
    l.insert("task".to_owned(), t.name().unwrap_or("unnamed").to_owned());
    if !t.holding.is_empty() {
        let held: Vec<String> = t.holding.iter().map(Held::to_string).collect();
        l.insert("holding".to_owned(), held.join(", "));
        l.insert("task_id".to_owned(), t.task.id.to_string());
    }
    l
}

/// The labels of a wait: `wait` (the kind), `lock` (the primitive's site), `held_by`.
fn wait_labels(w: &Wait) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("wait".to_owned(), w.kind.as_str().to_owned());
    l.insert(
        "lock".to_owned(),
        format!("{}:{}", w.lock.file(), w.lock.line()),
    );
    match &w.holder {
        Holder::Thread(h) => {
            l.insert("held_by".to_owned(), h.to_string());
        }
        Holder::Task(h) => {
            l.insert("held_by".to_owned(), h.to_string());
        }
        Holder::Readers => {
            l.insert("held_by".to_owned(), "readers".to_owned());
        }
        Holder::None | Holder::Unidentified => {}
    }
    l
}

/// The labels of a thread's sample in the grouped and proto forms.
pub(super) fn labels(t: &Thread) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    match &t.wait {
        Some(w) => l = wait_labels(w),
        None if t.current => {
            l.insert("wait".to_owned(), "running".to_owned());
        }
        None => {
            l.insert(
                "wait".to_owned(),
                if t.kernel_state == Some('R') {
                    "running"
                } else {
                    "unknown"
                }
                .to_owned(),
            );
        }
    }
    if let StackStatus::Unavailable(_) = t.stack {
        l.insert("stack".to_owned(), "unavailable".to_owned());
    }
    if !t.holding.is_empty() {
        // A holder is its own group, with its id, so that `held_by` labels lead to it.
        let held: Vec<String> = t.holding.iter().map(Held::to_string).collect();
        l.insert("holding".to_owned(), held.join(", "));
        l.insert("tid".to_owned(), t.thread.tid.to_string());
    }
    l
}

/// Human durations in Go's spirit: `850µs`, `12ms`, `5.2s`, `3 minutes`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        let m = d.as_secs() / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else if s >= 0.001 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}µs", d.as_micros())
    }
}
