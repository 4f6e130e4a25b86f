//! Stopping a recorded process, and only that one: it is opened as a pidfd and
//! checked *after* the pidfd exists (same start time, same command line), so a pid
//! reused between the check and the signal cannot be hit; the signal goes through
//! the pidfd, and its exit is waited for by polling it.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::state::{self, ProcessRecord};

/// How a recorded process compares with what runs under its pid now.
#[derive(Debug)]
pub(crate) enum Identity {
    /// Nothing runs under the pid (or only a zombie waiting to be reaped).
    Gone,
    /// The recorded process, opened.
    Same(Pidfd),
    /// Another process has the pid now (or the same process runs something else).
    Other(String),
}

/// An open pidfd.
#[derive(Debug)]
pub(crate) struct Pidfd(OwnedFd);

fn pidfd_open(pid: u32) -> std::io::Result<Pidfd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just returned to us and nothing else owns it.
    Ok(Pidfd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

impl Pidfd {
    /// Send `sig`.
    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) -> std::io::Result<()> {
        // SAFETY: a live pidfd, a valid signal number, no siginfo, no flags.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            // ESRCH: it has exited meanwhile.
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Wait up to `timeout` for the process to exit; whether it did.
    pub(crate) fn wait_exit(&self, timeout: Duration) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(n) if n > 0 => return true,
                Ok(_) if left.is_zero() => return false,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return false,
            }
        }
    }
}

/// Compare `rec` with what runs under its pid now, opening it if it is the same.
pub(crate) fn identify(rec: &ProcessRecord) -> Identity {
    if rec.pid == 0 || rec.pid == std::process::id() {
        return Identity::Other("not a process the session started".into());
    }
    let Ok(fd) = pidfd_open(rec.pid) else {
        return Identity::Gone;
    };
    // Checked after the pidfd exists: the pidfd now names one process for good,
    // and these reads are about that process as long as it has not exited.
    let start = state::start_time(rec.pid);
    let argv = state::cmdline(rec.pid);
    let zombie = state::state_letter(rec.pid) == Some('Z');
    match (start, argv) {
        (None, _) | (_, None) => Identity::Gone,
        (Some(t), Some(a)) if t != rec.start_time => Identity::Other(format!(
            "pid {} is now another process ({}, started at tick {t}, not {})",
            rec.pid,
            a.first().map(String::as_str).unwrap_or("?"),
            rec.start_time
        )),
        // The recorded process, exiting: a zombie, or its memory (and so its
        // command line) already gone.
        (Some(_), Some(a)) if zombie || a.is_empty() => Identity::Gone,
        (Some(_), Some(a)) if a == rec.cmdline => Identity::Same(fd),
        (Some(_), Some(a)) => Identity::Other(format!(
            "pid {} now runs {:?}, not the recorded command line",
            rec.pid,
            a.join(" ")
        )),
    }
}

/// How a stop went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// It exited on its own within the grace time.
    ExitedByItself,
    /// It exited after SIGTERM.
    Terminated,
    /// It needed SIGKILL.
    Killed,
    /// It would not die even so (stuck in the kernel).
    Stuck,
}

/// Stop an opened process: give it `grace` to exit by itself, then SIGTERM and
/// `term` to finish, then SIGKILL.
pub(crate) fn stop(p: &Pidfd, grace: Duration, term: Duration) -> std::io::Result<Stopped> {
    use nix::sys::signal::Signal;
    if !grace.is_zero() && p.wait_exit(grace) {
        return Ok(Stopped::ExitedByItself);
    }
    p.signal(Signal::SIGTERM)?;
    if p.wait_exit(term) {
        return Ok(Stopped::Terminated);
    }
    p.signal(Signal::SIGKILL)?;
    if p.wait_exit(Duration::from_secs(10)) {
        return Ok(Stopped::Killed);
    }
    Ok(Stopped::Stuck)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sleep 1000`, once it runs sleep (its command line is the test's until
    /// the exec).
    fn spawn_sleep() -> std::process::Child {
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let pid = child.id();
        vmcraft_block::wait_until("sleep to run", Duration::from_secs(10), || {
            state::cmdline(pid).is_some_and(|c| c == ["sleep", "1000"])
        })
        .unwrap();
        child
    }

    #[test]
    fn a_recorded_process_is_stopped_and_a_different_one_is_not() {
        let mut child = spawn_sleep();
        let pid = child.id();
        let rec = state::process_record(pid, "test").unwrap();
        // A record with another start time (a reused pid) is refused.
        let mut reused = rec.clone();
        reused.start_time += 1;
        assert!(matches!(identify(&reused), Identity::Other(m) if m.contains("another process")));
        // A record with another command line is refused.
        let mut other = rec.clone();
        other.cmdline = vec!["qemu-storage-daemon".into()];
        assert!(matches!(identify(&other), Identity::Other(m) if m.contains("command line")));
        // Our own pid is never a session's child.
        let me = state::process_record(std::process::id(), "x").unwrap();
        assert!(matches!(identify(&me), Identity::Other(_)));
        assert!(child.try_wait().unwrap().is_none(), "untouched so far");
        let Identity::Same(fd) = identify(&rec) else {
            panic!("the recorded process is itself")
        };
        // sleep ignores nothing: SIGTERM ends it.
        let how = stop(&fd, Duration::ZERO, Duration::from_secs(10)).unwrap();
        assert_eq!(how, Stopped::Terminated);
        child.wait().unwrap();
        assert!(matches!(identify(&rec), Identity::Gone));
    }

    #[test]
    fn a_process_ignoring_sigterm_is_killed() {
        // It blocks reading a pipe nobody writes to.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; read x"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the shell has installed its trap (its command line is set
        // from the start; the trap shows in SigIgn).
        let pid = child.id();
        vmcraft_block::wait_until("the trap", Duration::from_secs(10), || {
            std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                s.lines().any(|l| {
                    l.strip_prefix("SigIgn:").is_some_and(|m| {
                        u64::from_str_radix(m.trim(), 16).is_ok_and(|m| m & (1 << 14) != 0)
                    })
                })
            })
        })
        .unwrap();
        let rec = state::process_record(pid, "test").unwrap();
        let Identity::Same(fd) = identify(&rec) else {
            panic!()
        };
        let how = stop(&fd, Duration::ZERO, Duration::from_millis(200)).unwrap();
        assert_eq!(how, Stopped::Killed);
        child.wait().unwrap();
    }
}
