//! Who waits and who holds: an OS thread or a task of an async runtime.

/// The owner of a wait or of a held lock.
///
/// Threads are named by their token (see [`token`]: the thread pointer on Linux
/// x86_64, never 0 and a multiple of 8), tasks by the id their runtime gives them. A lock keeps
/// its exclusive holder as one word ([`Owner::to_word`]), so that making a guard stays one
/// store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// An OS thread, by token.
    Thread(usize),
    /// A task of an async runtime, by its id (below 2^63).
    Task(u64),
}

/// The bit of an owner word that marks a task.
const TASK: usize = 1;

impl Owner {
    /// The calling thread.
    #[inline(always)]
    pub fn current_thread() -> Owner {
        Owner::Thread(token())
    }

    /// The owner as one non-zero word: a thread's token as it is (a multiple of 8), a task's
    /// id shifted left by one with bit 0 set.
    #[inline]
    pub fn to_word(self) -> usize {
        match self {
            Owner::Thread(token) => token,
            Owner::Task(id) => ((id as usize) << 1) | TASK,
        }
    }

    /// The owner a word made by [`to_word`](Owner::to_word) stands for; `None` for 0 (no
    /// owner).
    #[inline]
    pub fn from_word(word: usize) -> Option<Owner> {
        match word {
            0 => None,
            w if w & TASK != 0 => Some(Owner::Task((w >> 1) as u64)),
            w => Some(Owner::Thread(w)),
        }
    }
}

/// A number that identifies a running thread and costs one instruction to read: the thread
/// pointer on Linux x86_64 (the address of the thread's TCB, which the x86-64 TLS ABI stores
/// at `fs:0`), the address of a thread-local elsewhere. Locks store their holder's token; a
/// signal handler can read it too. Never 0, and a multiple of 8.
#[inline(always)]
pub fn token() -> usize {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let t: usize;
        // SAFETY: reads the word at `fs:0`, which the x86-64 TLS ABI requires to hold the
        // thread pointer itself in every thread (glibc and musl both set it up before any Rust
        // code runs); no other memory is touched.
        unsafe {
            std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) t, options(nostack, readonly, preserves_flags, pure));
        }
        t
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        thread_local! {
            static MARK: u64 = const { 0 };
        }
        MARK.with(|m| m as *const u64 as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for o in [
            Owner::Thread(8),
            Owner::Thread(0x7f00_dead_bee0),
            Owner::Task(0),
            Owner::Task(1),
            Owner::Task(u64::MAX >> 1),
        ] {
            assert_ne!(o.to_word(), 0);
            assert_eq!(Owner::from_word(o.to_word()), Some(o));
        }
        assert_eq!(Owner::from_word(0), None);
        assert_eq!(Owner::current_thread(), Owner::Thread(token()));
    }
}
