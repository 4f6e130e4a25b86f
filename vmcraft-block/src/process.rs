//! Process plumbing shared by [`crate::SystemRunner`] and [`crate::Supervised`]:
//! how a child is tied to its parent, how its exit is awaited without reaping it,
//! how its whole process group is signalled, and how it is reaped at the end.
//!
//! The rule that makes group signals safe: a child is reaped only after the last
//! signal to its group was sent. Until then it is at worst a zombie, and a zombie
//! keeps its pid (and so the process group id, which is the same number) from
//! being reused, so `killpg` can never hit an unrelated group.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use crate::command::ExitStatus;

/// Make `cmd`'s child the leader of a new process group (so that a timeout or a
/// stop can signal everything it forked that stayed in the group), and have the
/// kernel SIGKILL it when the thread that forks it dies (`PR_SET_PDEATHSIG`).
/// With `mount_ns` (a descriptor of a mount namespace, valid until the spawn
/// returns), the child joins that namespace before it execs (`setns`; its root
/// and working directory become the namespace's root).
///
/// The parent-death signal is tied to the *thread* that forks, not the process:
/// [`crate::SystemRunner::execute`] forks from the calling thread, which waits for
/// the child, and [`crate::Supervised`] forks from a thread of its own that lives
/// as long as the child; either way the signal fires only when this process dies.
/// A child whose parent died between the fork and the `prctl` sees another parent
/// and does not run.
pub(crate) fn confine(
    cmd: &mut std::process::Command,
    mount_ns: Option<i32>,
    cwd: Option<&std::path::Path>,
) -> io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // Made before the fork: the child must not allocate. The directory is
    // entered after the namespace (entering a mount namespace resets it).
    let cwd = cwd
        .map(|d| std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(d.as_os_str())))
        .transpose()
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe system calls; it allocates nothing (the errors are raw
    // OS errors).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            if let Some(fd) = mount_ns
                && libc::setns(fd, libc::CLONE_NEWNS) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if let Some(d) = &cwd
                && libc::chdir(d.as_ptr()) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// A descriptor for process `pid` (`pidfd_open`, Linux 5.3); `None` where the
/// kernel has none, and the callers poll instead.
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Signal every process of the group `pid` leads. Only call this while the
/// leader is not yet reaped (see the module documentation). `false` when the
/// group is empty.
pub(crate) fn signal_group(pid: u32, signal: i32) -> bool {
    // SAFETY: killpg takes a group id and a signal number.
    unsafe { libc::killpg(pid as libc::pid_t, signal) == 0 }
}

/// Whether `pid` (our unreaped child) has exited, without reaping it.
pub(crate) fn has_exited(pid: u32, pidfd: Option<&OwnedFd>) -> bool {
    match pidfd {
        Some(fd) => poll_readable(fd, Some(Duration::ZERO)),
        None => peek_status(pid).is_some(),
    }
}

/// Wait until our unreaped child `pid` has exited or `deadline` passes (`None`:
/// no deadline), without reaping it. `true` when it has exited.
pub(crate) fn wait_exit(pid: u32, pidfd: Option<&OwnedFd>, deadline: Option<Instant>) -> bool {
    if let Some(fd) = pidfd {
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if poll_readable(fd, left) {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
        }
    }
    // No pidfd: poll the child's state, backing off from 200 µs to 20 ms.
    let mut pause = Duration::from_micros(200);
    loop {
        if peek_status(pid).is_some() {
            return true;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return false;
        }
        let nap = match deadline {
            Some(d) => pause.min(d - now),
            None => pause,
        };
        std::thread::sleep(nap);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// How our child `pid` ended, if it has, without reaping it.
pub(crate) fn peek_status(pid: u32) -> Option<ExitStatus> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(Pid::from_raw(pid as i32)), flags) {
        Ok(s) => status_of(s),
        Err(_) => None,
    }
}

/// Reap our exited child `pid` and say how it ended.
pub(crate) fn reap(pid: u32) -> io::Result<ExitStatus> {
    loop {
        match waitid(Id::Pid(Pid::from_raw(pid as i32)), WaitPidFlag::WEXITED) {
            Ok(s) => {
                if let Some(status) = status_of(s) {
                    return Ok(status);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn status_of(s: WaitStatus) -> Option<ExitStatus> {
    match s {
        WaitStatus::Exited(_, code) => Some(ExitStatus::Code(code)),
        WaitStatus::Signaled(_, sig, _) => Some(ExitStatus::Signal(sig as i32)),
        _ => None,
    }
}

/// Whether `fd` becomes readable within `timeout` (`None`: wait forever). A
/// pidfd becomes readable when its process exits.
pub(crate) fn poll_readable(fd: &OwnedFd, timeout: Option<Duration>) -> bool {
    let ms = match timeout {
        None => -1,
        Some(t) => i32::try_from(t.as_millis().max(u128::from(!t.is_zero()))).unwrap_or(i32::MAX),
    };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, for the length given.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return n > 0;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A confined `sleep`; the tests reap it with [`reap`], not through std.
    #[allow(clippy::zombie_processes)]
    fn sleeper(secs: &str) -> u32 {
        let mut c = std::process::Command::new("sleep");
        c.arg(secs);
        confine(&mut c, None, None).unwrap();
        c.spawn().unwrap().id()
    }

    #[test]
    fn a_confined_child_leads_its_own_group() {
        let pid = sleeper("30");
        let pgid = nix::unistd::getpgid(Some(Pid::from_raw(pid as i32))).unwrap();
        assert_eq!(pgid.as_raw() as u32, pid);
        assert_ne!(pgid, nix::unistd::getpgrp());
        assert!(signal_group(pid, libc::SIGKILL));
        assert!(wait_exit(pid, pidfd_open(pid).as_ref(), None));
        assert_eq!(reap(pid).unwrap(), ExitStatus::Signal(libc::SIGKILL));
    }

    #[test]
    fn exits_are_seen_with_and_without_a_pidfd_and_nothing_is_reaped_early() {
        for with_pidfd in [true, false] {
            let pid = sleeper("30");
            let fd = if with_pidfd { pidfd_open(pid) } else { None };
            assert!(!has_exited(pid, fd.as_ref()));
            let soon = Instant::now() + Duration::from_millis(30);
            assert!(!wait_exit(pid, fd.as_ref(), Some(soon)));
            assert!(signal_group(pid, libc::SIGTERM));
            assert!(wait_exit(pid, fd.as_ref(), None));
            assert!(has_exited(pid, fd.as_ref()));
            // Still a zombie: its status can be read again, and it is reaped once.
            assert_eq!(peek_status(pid), Some(ExitStatus::Signal(libc::SIGTERM)));
            assert_eq!(reap(pid).unwrap(), ExitStatus::Signal(libc::SIGTERM));
            assert!(reap(pid).is_err());
        }
    }
}
