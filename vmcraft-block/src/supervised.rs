//! Long-lived child processes tied to this process's life: [`Supervised`].
//!
//! A daemon VMCraft starts (qemu-storage-daemon, qemu-nbd's server, a FUSE
//! driver such as fusefat, ntfs-3g or fuse2fs) must not outlive the session that
//! started it, whether the session ends normally, panics, or is SIGKILLed. So it
//! runs in the foreground (never daemonized: a daemonizing tool forks past
//! whoever waits for it), and:
//!
//! - it is forked by a thread of its own that lives exactly as long as the
//!   child. The kernel's parent-death signal (`PR_SET_PDEATHSIG`, here SIGKILL)
//!   is tied to the thread that forks, so forking from a caller's short-lived
//!   thread would kill the child when that thread ends; forking from a thread
//!   that outlives the child makes the signal fire only when the whole process
//!   dies;
//! - it leads a process group of its own, so [`Supervised::stop`] reaches
//!   whatever it forked that stayed in the group;
//! - it is tracked by a pidfd (`pidfd_open`; a plain pid on kernels before 5.3),
//!   and it is reaped only by [`Supervised::stop`], after the last signal to its
//!   group: until then its pid cannot be reused, so no signal can reach an
//!   unrelated process;
//! - its standard output and error are captured (the last [`OUTPUT_LIMIT`]
//!   bytes of each), so a failed start can report what the tool said; its
//!   standard input is `/dev/null`.
//!
//! Dropping a [`Supervised`] stops it (SIGTERM to the group, [`DEFAULT_GRACE`],
//! then SIGKILL). What a SIGKILLed session leaves is only what the kernel keeps
//! without a process: mounts (a FUSE mount whose driver died answers every call
//! with ENOTCONN until it is unmounted) and devices bound to files.
//!
//! What is not covered: a child that calls `setsid` or `setpgid` itself leaves
//! the group (its grandchildren then escape a stop, though the child itself
//! never does), and the parent-death signal is not inherited by grandchildren.
//! A process that sets SIGCHLD to `SIG_IGN` has its children reaped by the
//! kernel, which takes the exit status away from [`Supervised::stop`].

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::command::{Command, CommandFailure, ExitStatus, Output, resolve_program};
use crate::error::{Error, ErrorKind, Result};
use crate::process;

/// How long [`Supervised`]'s `Drop` lets the process end after SIGTERM before it
/// sends SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How many bytes of each of standard output and standard error are kept (the
/// last ones; earlier bytes are counted and dropped).
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// How long a stop waits for a process to die after SIGKILL before it reports
/// it as stuck (a process in uninterruptible sleep, e.g. on a dead device).
const KILL_WAIT: Duration = Duration::from_secs(10);

/// A long-lived child process that dies with this process: started in the
/// foreground by a thread of its own, in its own process group, with
/// `PR_SET_PDEATHSIG(SIGKILL)`, tracked by a pidfd, stopped on drop. See the
/// module documentation for the why.
///
/// Start one with [`Supervised::spawn`], or through a runner with
/// [`crate::CommandRunner::spawn`] (which the test fake can script). Wait for
/// whatever says it is ready (a mount point, a socket, a device size) while
/// checking [`Supervised::is_alive`]; if it died, [`Supervised::exit_error`]
/// names the command, how it ended and what it printed. Stop it with
/// [`Supervised::stop`] (or by dropping it).
///
/// ```
/// use std::time::Duration;
/// use vmcraft_block::{Command, ExitStatus, Supervised};
///
/// // A process that runs until stopped.
/// let mut p = Supervised::spawn(&Command::new("sleep").arg("1000"))?;
/// assert!(p.is_alive());
/// assert_eq!(p.stop(Duration::from_secs(5))?, ExitStatus::Signal(libc::SIGTERM));
/// assert!(!p.is_alive());
///
/// // One that fails at start: its error names it and carries its stderr.
/// let p = Supervised::spawn(&Command::new("sh").args(["-c", "echo no such image >&2; exit 1"]))?;
/// assert_eq!(p.wait_timeout(Duration::from_secs(30)), Some(ExitStatus::Code(1)));
/// let e = p.exit_error();
/// assert!(e.to_string().ends_with("failed with exit status 1: no such image"), "{e}");
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub struct Supervised {
    command: Command,
    pid: u32,
    pidfd: Option<OwnedFd>,
    output: Arc<Mutex<Captured>>,
    /// The thread that forked the child and drains its output; it ends when the
    /// child exits. Joined before the child is reaped.
    watcher: Mutex<Option<JoinHandle<()>>>,
    /// Set once reaped: the pid is then free for reuse and nothing may be
    /// signalled any more.
    reaped: Option<ExitStatus>,
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervised")
            .field("command", &self.command.to_string())
            .field("pid", &self.pid)
            .field("reaped", &self.reaped)
            .finish()
    }
}

impl Supervised {
    /// Start `cmd` (the program found with [`crate::find_tool`], no shell) as a
    /// supervised process and return as soon as it runs; it is not waited for.
    ///
    /// `cmd` must have no standard input bytes and no timeout: a supervised
    /// process reads `/dev/null` and runs until it exits or is stopped (wait for
    /// its readiness with a deadline of your own). A missing program is an
    /// [`ErrorKind::ToolMissing`] error, as for [`crate::SystemRunner`].
    pub fn spawn(cmd: &Command) -> Result<Self> {
        Self::spawn_in(cmd, None)
    }

    /// [`Supervised::spawn`] in the mount namespace `mount_namespace` (a
    /// descriptor of `/proc/PID/ns/mnt`; `None`: the caller's). The child joins
    /// it before it execs; see [`crate::SystemRunner::with_daemon_namespace`]
    /// for why a daemon may need to live outside its caller's namespace.
    pub fn spawn_in(cmd: &Command, mount_namespace: Option<BorrowedFd<'_>>) -> Result<Self> {
        if cmd.get_stdin().is_some() || cmd.get_timeout().is_some() {
            return Err(Error::invalid(
                "spawn",
                cmd.program().to_string_lossy(),
                format!(
                    "a supervised process takes no standard input and no timeout (it runs \
                     until stopped): `{cmd}`"
                ),
            ));
        }
        let program = resolve_program(cmd.program())?;
        let mut std_cmd = std::process::Command::new(&program);
        std_cmd
            .args(cmd.get_args())
            .envs(cmd.get_env().iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Our own copy of the namespace descriptor, open until the fork is done.
        let ns = mount_namespace
            .map(|fd| fd.try_clone_to_owned())
            .transpose()
            .map_err(|e| {
                Error::io(
                    "spawn",
                    cmd.program().to_string_lossy(),
                    "duplicating the mount namespace descriptor",
                    e,
                )
            })?;
        process::confine(
            &mut std_cmd,
            ns.as_ref().map(|fd| fd.as_raw_fd()),
            cmd.get_current_dir(),
        )
        .map_err(|e| {
            Error::io(
                "spawn",
                cmd.program().to_string_lossy(),
                "preparing the child",
                e,
            )
        })?;

        let output = Arc::new(Mutex::new(Captured::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = output.clone();
        let name = program
            .file_name()
            .map_or_else(|| "process".into(), |n| n.to_string_lossy().into_owned());
        let watcher = std::thread::Builder::new()
            .name(format!("vmcraft-supervise {name}"))
            .spawn(move || {
                // This thread forks the child and lives until it exits: the
                // child's parent-death signal is tied to it.
                let spawned = std_cmd.spawn();
                drop(ns);
                let mut child = match spawned {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let pid = child.id();
                let pidfd = process::pidfd_open(pid);
                let own_fd = pidfd.as_ref().and_then(|fd| fd.try_clone().ok());
                let pipes = [
                    child.stdout.take().map(OwnedFd::from),
                    child.stderr.take().map(OwnedFd::from),
                ];
                let _ = tx.send(Ok((pid, pidfd)));
                watch(pid, own_fd, pipes, &sink);
                // `child` is dropped without waiting: reaping is `stop`'s job.
            })
            .map_err(|e| {
                Error::io(
                    "spawn",
                    cmd.program().to_string_lossy(),
                    "starting the supervising thread",
                    e,
                )
            })?;
        match rx.recv() {
            Ok(Ok((pid, pidfd))) => {
                tracing::debug!(command = %cmd, pid, "supervised process started");
                Ok(Supervised {
                    command: cmd.clone(),
                    pid,
                    pidfd,
                    output,
                    watcher: Mutex::new(Some(watcher)),
                    reaped: None,
                })
            }
            Ok(Err(e)) => {
                let _ = watcher.join();
                Err(crate::command::spawn_failed(cmd, e))
            }
            Err(_) => {
                let _ = watcher.join();
                Err(Error::new(
                    ErrorKind::CommandFailed,
                    "spawn",
                    cmd.program().to_string_lossy(),
                    "the supervising thread ended before the process started",
                ))
            }
        }
    }

    /// The command it runs (as given; a test fake may run a stand-in).
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Name the process after `cmd` in messages (a test fake runs a stand-in
    /// for the command it was asked for).
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    pub(crate) fn set_command(&mut self, cmd: &Command) {
        self.command = cmd.clone();
    }

    /// Its process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its pidfd, for callers that poll for its exit themselves (readable once it
    /// has exited); `None` on kernels without `pidfd_open` (before 5.3) and once
    /// it was stopped.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        match self.reaped {
            Some(_) => None,
            None => self.pidfd.as_ref().map(|fd| fd.as_fd()),
        }
    }

    /// Whether it is still running (a process that exited but is not yet reaped
    /// is not running).
    pub fn is_alive(&self) -> bool {
        self.reaped.is_none() && !process::has_exited(self.pid, self.pidfd.as_ref())
    }

    /// How it ended, if it has (it is not reaped: [`Supervised::stop`] still
    /// cleans up after it).
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.reaped.or_else(|| process::peek_status(self.pid))
    }

    /// Wait up to `timeout` for it to exit; how it ended, or `None` if it is
    /// still running.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.reaped {
            return Some(s);
        }
        let deadline = Instant::now() + timeout;
        if process::wait_exit(self.pid, self.pidfd.as_ref(), Some(deadline)) {
            self.try_status()
        } else {
            None
        }
    }

    /// Send signal `signal` (e.g. `libc::SIGHUP`) to its whole process group.
    /// `false` when nothing was signalled (everyone in it has exited, or it was
    /// stopped already).
    pub fn signal(&self, signal: i32) -> bool {
        self.reaped.is_none() && process::signal_group(self.pid, signal)
    }

    /// Its standard output so far (at most the last [`OUTPUT_LIMIT`] bytes).
    pub fn stdout(&self) -> Vec<u8> {
        self.settle();
        self.lock_output().stdout.bytes()
    }

    /// Its standard error so far (at most the last [`OUTPUT_LIMIT`] bytes).
    pub fn stderr(&self) -> Vec<u8> {
        self.settle();
        self.lock_output().stderr.bytes()
    }

    /// Its standard error as trimmed (lossy) UTF-8, with a note in front when
    /// earlier bytes were dropped.
    pub fn stderr_trimmed(&self) -> String {
        self.settle();
        self.lock_output().stderr.text()
    }

    /// The error for a process that ended when it should not have (typically
    /// during its start): an [`ErrorKind::CommandFailed`] error whose message
    /// names the command line, how it ended and its trimmed stderr, like a failed
    /// [`crate::CommandRunner::run`]; [`Error::command_failure`] has the details.
    /// Call it once the process has exited ([`Supervised::try_status`] is
    /// `Some`); for a process still running it says so.
    pub fn exit_error(&self) -> Error {
        let status = self.try_status();
        let (stdout, mut stderr) = {
            self.settle();
            let out = self.lock_output();
            (out.stdout.bytes(), out.stderr.text())
        };
        if status.is_none() {
            let still = format!("is still running (pid {})", self.pid);
            stderr = if stderr.is_empty() {
                still
            } else {
                format!("{still}; {stderr}")
            };
        }
        Error::from_command(
            CommandFailure {
                program: self.command.program().to_string_lossy().into_owned(),
                argv: self.command.argv(),
                status,
                stdout,
                stderr,
                spawn_error: None,
                timed_out: None,
                cancelled: false,
            },
            ErrorKind::CommandFailed,
        )
    }

    /// Stop it: SIGTERM to its process group, up to `grace` for it to exit, then
    /// SIGKILL to the group; then SIGKILL to anything left in the group, and reap
    /// it. Returns how it ended (a process that had exited already is just
    /// reaped). Calling it again returns the same status.
    ///
    /// An error means it could not be reaped: it did not die within 10 s of
    /// SIGKILL (uninterruptible sleep, e.g. I/O on a dead device; a later stop
    /// or the drop tries again), or something else in this process reaped it.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(s) = self.reaped {
            return Ok(s);
        }
        let pid = self.pid;
        let fd = self.pidfd.as_ref();
        if !process::has_exited(pid, fd) {
            process::signal_group(pid, libc::SIGTERM);
            if !process::wait_exit(pid, fd, Some(Instant::now() + grace)) {
                tracing::warn!(command = %self.command, pid, ?grace,
                    "still running after SIGTERM; sending SIGKILL");
                process::signal_group(pid, libc::SIGKILL);
                if !process::wait_exit(pid, fd, Some(Instant::now() + KILL_WAIT)) {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        "stop",
                        self.command.program().to_string_lossy(),
                        format!(
                            "`{}` (pid {pid}) is still there {KILL_WAIT:?} after SIGKILL \
                             (uninterruptible sleep?)",
                            self.command
                        ),
                    ));
                }
            }
        }
        // The leader is a zombie, so the group id is still ours: clear out
        // whatever it left in its group, then reap.
        process::signal_group(pid, libc::SIGKILL);
        self.settle();
        match process::reap(pid) {
            Ok(status) => {
                tracing::debug!(command = %self.command, pid, %status, "supervised process stopped");
                self.reaped = Some(status);
                Ok(status)
            }
            Err(e) => {
                // Reaped elsewhere: it is gone, and its pid may be reused, so
                // nothing more may be signalled.
                self.reaped = Some(ExitStatus::Code(-1));
                Err(Error::io(
                    "stop",
                    self.command.program().to_string_lossy(),
                    format!(
                        "`{}` (pid {pid}) exited but was reaped by someone else; its exit \
                         status is unknown",
                        self.command
                    ),
                    e,
                ))
            }
        }
    }

    /// Everything it printed and how it ended, once it has exited (`None` while
    /// it runs).
    pub fn output(&self) -> Option<Output> {
        let status = self.try_status()?;
        Some(Output {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        })
    }

    /// Once the child has exited, wait for the watcher to finish draining its
    /// pipes, so that what it printed last is there.
    fn settle(&self) {
        if self.reaped.is_none() && !process::has_exited(self.pid, self.pidfd.as_ref()) {
            return;
        }
        let handle = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    fn lock_output(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.reaped.is_some() {
            return;
        }
        if let Err(e) = self.stop(DEFAULT_GRACE) {
            tracing::error!(error = %crate::error_chain(&e), "stopping a supervised process on drop");
        }
    }
}

/// The last [`OUTPUT_LIMIT`] bytes of a stream, and how many came before.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    dropped: u64,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > OUTPUT_LIMIT {
            let cut = self.bytes.len() - OUTPUT_LIMIT;
            self.bytes.drain(..cut);
            self.dropped += cut as u64;
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes).trim().to_string();
        if self.dropped == 0 {
            text
        } else {
            format!("[{} earlier bytes dropped] {text}", self.dropped)
        }
    }
}

#[derive(Default)]
struct Captured {
    stdout: Tail,
    stderr: Tail,
}

/// The supervising thread's loop: read both pipes as data arrives, until the
/// child exits; then take what is left in the pipes without waiting for their
/// end (a grandchild may hold them open).
fn watch(pid: u32, pidfd: Option<OwnedFd>, pipes: [Option<OwnedFd>; 2], sink: &Mutex<Captured>) {
    let mut pipes: Vec<(usize, std::fs::File)> = pipes
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|fd| (i, std::fs::File::from(fd))))
        .collect();
    for (_, f) in &pipes {
        set_nonblocking(f);
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut fds: Vec<libc::pollfd> = pipes
            .iter()
            .map(|(_, f)| libc::pollfd {
                fd: f.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if let Some(fd) = &pidfd {
            fds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // Without a pidfd, wake up now and then to look at the child.
        let timeout = if pidfd.is_some() { -1 } else { 20 };
        // SAFETY: `fds` is a valid array of pollfds of the length given.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
        let exited = process::has_exited(pid, pidfd.as_ref());
        let mut closed = Vec::new();
        for (k, (i, f)) in pipes.iter_mut().enumerate() {
            if drain(f, &mut buf, *i, sink) {
                closed.push(k);
            }
        }
        for k in closed.into_iter().rev() {
            pipes.remove(k);
        }
        if exited {
            break;
        }
    }
}

/// Read what `f` has now; `true` at its end (or on an error).
fn drain(f: &mut std::fs::File, buf: &mut [u8], stream: usize, sink: &Mutex<Captured>) -> bool {
    loop {
        match f.read(buf) {
            Ok(0) => return true,
            Ok(n) => {
                let mut out = sink.lock().unwrap_or_else(PoisonError::into_inner);
                let tail = if stream == 0 {
                    &mut out.stdout
                } else {
                    &mut out.stderr
                };
                tail.push(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

fn set_nonblocking(f: &std::fs::File) {
    let fd = f.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_last_bytes_and_counts_the_rest() {
        let mut t = Tail::default();
        t.push(b"  first\n");
        assert_eq!(t.text(), "first");
        t.push(&vec![b'x'; OUTPUT_LIMIT]);
        t.push(b"last words\n");
        assert_eq!(t.bytes().len(), OUTPUT_LIMIT);
        assert!(t.bytes().ends_with(b"last words\n"));
        assert!(
            t.text().starts_with("[19 earlier bytes dropped] xxx"),
            "{}",
            t.text()
        );
        assert!(t.text().ends_with("last words"));
    }

    #[test]
    fn stdin_and_timeouts_are_refused() {
        let e = Supervised::spawn(&Command::new("cat").stdin("x")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "spawn: cat: a supervised process takes no standard input and no timeout (it runs \
             until stopped): `cat`"
        );
        let e = Supervised::spawn(
            &Command::new("sleep")
                .arg("1")
                .timeout(Duration::from_secs(1)),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
}
