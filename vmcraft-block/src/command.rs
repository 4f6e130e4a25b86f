//! External commands: the structured [`Command`], its [`Output`], the
//! [`CommandRunner`] trait every crate runs tools through, and the real
//! [`SystemRunner`].
//!
//! Nothing here uses a shell: a command is a program plus an argument vector. The
//! runner resolves the program with [`find_tool`] (which also looks in the `sbin`
//! directories that a non-root `PATH` often lacks), logs the command with
//! `tracing`, and turns a failure into an [`Error`] whose
//! [`CommandFailure`] carries the command line, the exit status or signal, stdout,
//! and the trimmed stderr.
//!
//! Children are tied to this process (see [`SystemRunner`]): each leads its own
//! process group, which a timeout kills as a whole, and the kernel kills it if
//! this process dies. Long-lived processes are started with
//! [`CommandRunner::spawn`] as a [`Supervised`] process instead of being left to
//! daemonize.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, Result};
use crate::process;
use crate::supervised::Supervised;

/// A program to run, with its arguments, extra environment, optional standard
/// input, optional timeout and optional cancellation token. Built with chained
/// methods:
///
/// ```
/// use std::time::Duration;
/// use vmcraft_block::Command;
/// let cmd = Command::new("lvm")
///     .args(["pvs", "--reportformat", "json"])
///     .env("LVM_SUPPRESS_FD_WARNINGS", "1")
///     .timeout(Duration::from_secs(30));
/// assert_eq!(cmd.to_string(), "lvm pvs --reportformat json");
/// ```
///
/// Two commands are equal when they run the same thing the same way; the
/// cancellation token is not compared.
#[derive(Clone, Default)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    cwd: Option<std::path::PathBuf>,
    cancel: Option<CancelToken>,
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.program,
            &self.args,
            &self.env,
            &self.stdin,
            self.timeout,
            &self.cwd,
        ) == (
            &other.program,
            &other.args,
            &other.env,
            &other.stdin,
            other.timeout,
            &other.cwd,
        )
    }
}

impl Eq for Command {}

impl Command {
    /// A command running `program` (a name looked up with [`find_tool`], or a path).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            ..Default::default()
        }
    }

    /// Append one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Append several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set an environment variable for the child (the rest is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Bytes fed to the child's standard input (otherwise it reads `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Run the child in directory `dir` (entered last, after any mount namespace
    /// the runner puts it in), so that it can be given short relative paths: a
    /// Unix socket's path, for one, holds at most 107 bytes.
    ///
    /// ```
    /// use vmcraft_block::{Command, CommandRunner, SystemRunner};
    /// let out = SystemRunner::new().run(&Command::new("pwd").current_dir("/usr"))?;
    /// assert_eq!(out.stdout_str(), "/usr\n");
    /// # Ok::<(), vmcraft_block::Error>(())
    /// ```
    pub fn current_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The directory the child runs in, if set.
    pub fn get_current_dir(&self) -> Option<&std::path::Path> {
        self.cwd.as_deref()
    }

    /// Kill the child and fail with [`ErrorKind::Timeout`] after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Stop the command when `token` is cancelled: [`SystemRunner`] then sends
    /// its process group SIGTERM (SIGKILL after [`CANCEL_GRACE`]) and fails
    /// with [`ErrorKind::Cancelled`]; a token cancelled before the start keeps
    /// the command from starting at all. For long tools (mkfs, e2fsck, resize2fs)
    /// a caller interrupts. [`CommandRunner::execute`] (and `run`) honour it;
    /// a [`Supervised`] process started with [`CommandRunner::spawn`] does not
    /// (it is stopped with [`Supervised::stop`]).
    ///
    /// ```
    /// use vmcraft_block::{CancelToken, Command, CommandRunner, ErrorKind, SystemRunner};
    /// let token = CancelToken::new();
    /// token.cancel();
    /// let e = SystemRunner::new()
    ///     .execute(&Command::new("true").cancel_on(&token))
    ///     .unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Cancelled);
    /// ```
    pub fn cancel_on(mut self, token: &CancelToken) -> Self {
        self.cancel = Some(token.clone());
        self
    }

    /// The cancellation token, if any.
    pub fn get_cancel(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// The program as given.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, without the program.
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The extra environment.
    pub fn get_env(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    /// The standard input bytes, if any.
    pub fn get_stdin(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// The timeout, if any.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Program and arguments as lossy UTF-8 strings, program first.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }
}

impl fmt::Display for Command {
    /// The command line, each word quoted only when it needs to be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.argv().iter().map(|w| quote_word(w)).collect();
        f.write_str(&words.join(" "))
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({self})")
    }
}

pub(crate) fn quote_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    /// The exit code, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(c),
            ExitStatus::Signal(_) => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(c), _) => ExitStatus::Code(c),
            (None, Some(sig)) => ExitStatus::Signal(sig),
            (None, None) => ExitStatus::Code(-1),
        }
    }
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// A successful output with this stdout (handy for fakes).
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Output {
            status: ExitStatus::Code(0),
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    /// A failed output with this exit code and stderr (handy for fakes).
    pub fn failed(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        Output {
            status: ExitStatus::Code(code),
            stdout: Vec::new(),
            stderr: stderr.into(),
        }
    }

    /// Standard output as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as (lossy) UTF-8, trimmed.
    pub fn stderr_trimmed(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// Everything known about a command that failed: the command, how it ended, what
/// it printed. Carried by [`Error::command_failure`].
#[derive(Debug)]
pub struct CommandFailure {
    /// The program name as given.
    pub program: String,
    /// The whole command line (program first).
    pub argv: Vec<String>,
    /// How it ended; `None` when it never started or was killed for a timeout.
    pub status: Option<ExitStatus>,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error, trimmed.
    pub stderr: String,
    /// Why it could not be started, if it could not.
    pub spawn_error: Option<std::io::Error>,
    /// Set when it was killed for running past its timeout.
    pub timed_out: Option<Duration>,
    /// Set when it was stopped (or never started) because its cancellation
    /// token was cancelled.
    pub cancelled: bool,
}

impl CommandFailure {
    /// The failure as one line: the quoted command, how it ended, its stderr.
    pub fn describe(&self) -> String {
        let line: Vec<String> = self.argv.iter().map(|w| quote_word(w)).collect();
        let line = line.join(" ");
        let how = if self.cancelled {
            "was cancelled".to_string()
        } else if let Some(t) = self.timed_out {
            format!("timed out after {:.1?}", t)
        } else if let Some(e) = &self.spawn_error {
            format!("could not be started ({e})")
        } else {
            match self.status {
                Some(s) => format!("failed with {s}"),
                None => "failed".to_string(),
            }
        };
        if self.stderr.is_empty() {
            format!("command `{line}` {how}")
        } else {
            format!("command `{line}` {how}: {}", self.stderr)
        }
    }
}

/// Runs external commands. Every crate of VMCraft runs its tools through this
/// trait, so tests can substitute the scripted fake (`testing::FakeRunner`, behind the
/// `test-utils` feature) and assert on exact argument lists.
///
/// Implementors provide [`CommandRunner::execute`], which reports any exit status;
/// callers usually use [`CommandRunner::run`], which turns a non-zero exit into an
/// error.
///
/// ```no_run
/// use vmcraft_block::{Command, CommandRunner, SystemRunner};
/// let out = SystemRunner::new().run(&Command::new("qemu-img").arg("--version"))?;
/// println!("{}", out.stdout_str());
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub trait CommandRunner: Send + Sync {
    /// Run `cmd` to completion and report how it ended, whatever the exit status.
    /// An `Err` means it could not be run at all (not found, could not start,
    /// timed out).
    fn execute(&self, cmd: &Command) -> Result<Output>;

    /// Run `cmd` and require exit status 0; a failure is an
    /// [`ErrorKind::CommandFailed`] error naming the command line, the status and
    /// the trimmed stderr.
    fn run(&self, cmd: &Command) -> Result<Output> {
        let out = self.execute(cmd)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(command_failed(cmd, &out))
        }
    }

    /// Start `cmd` as a long-lived [`Supervised`] process (a daemon kept in the
    /// foreground: qemu-storage-daemon, qemu-nbd's server, a FUSE driver) and
    /// return once it runs. It dies with this process, and is stopped when the
    /// handle is stopped or dropped. `cmd` takes no stdin bytes and no timeout.
    ///
    /// The default refuses with [`ErrorKind::Unsupported`]: a runner that only
    /// runs commands to completion cannot supervise one. [`SystemRunner`] starts
    /// it for real; the test fake scripts it with a real stand-in process.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vmcraft_block::{Command, CommandRunner, SystemRunner};
    /// let mut server = SystemRunner::new().spawn(&Command::new("sleep").arg("1000"))?;
    /// assert!(server.is_alive());
    /// server.stop(Duration::from_secs(5))?;
    /// # Ok::<(), vmcraft_block::Error>(())
    /// ```
    fn spawn(&self, cmd: &Command) -> Result<Supervised> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "spawn",
            cmd.program().to_string_lossy(),
            format!("this command runner cannot start supervised processes: `{cmd}`"),
        ))
    }
}

/// Build the error for a command that ran and exited unsuccessfully.
pub fn command_failed(cmd: &Command, out: &Output) -> Error {
    Error::from_command(
        CommandFailure {
            program: cmd.program().to_string_lossy().into_owned(),
            argv: cmd.argv(),
            status: Some(out.status),
            stdout: out.stdout.clone(),
            stderr: out.stderr_trimmed(),
            spawn_error: None,
            timed_out: None,
            cancelled: false,
        },
        ErrorKind::CommandFailed,
    )
}

impl<R: CommandRunner + ?Sized> CommandRunner for &R {
    fn execute(&self, cmd: &Command) -> Result<Output> {
        (**self).execute(cmd)
    }

    fn spawn(&self, cmd: &Command) -> Result<Supervised> {
        (**self).spawn(cmd)
    }
}

impl<R: CommandRunner + ?Sized> CommandRunner for Box<R> {
    fn execute(&self, cmd: &Command) -> Result<Output> {
        (**self).execute(cmd)
    }

    fn spawn(&self, cmd: &Command) -> Result<Supervised> {
        (**self).spawn(cmd)
    }
}

impl<R: CommandRunner + ?Sized> CommandRunner for std::sync::Arc<R> {
    fn execute(&self, cmd: &Command) -> Result<Output> {
        (**self).execute(cmd)
    }

    fn spawn(&self, cmd: &Command) -> Result<Supervised> {
        (**self).spawn(cmd)
    }
}

/// The real runner: spawns the program (no shell), feeds stdin, collects stdout and
/// stderr, enforces the timeout, and logs each command with `tracing`.
///
/// Every child is tied to this process:
///
/// - it leads a process group of its own. On a timeout the whole group is
///   killed (SIGKILL), not just the direct child, so a shell's or a tool's own
///   children go too (also when the command exited but something it left
///   holds its output open past the deadline). A command that exits in time is
///   not followed further: what it left running is its business (a tool that
///   daemonizes, such as ntfs-3g, leaves its daemon behind on purpose, and may
///   exit before that daemon has left the group). Long-lived processes are
///   better started in the foreground with [`CommandRunner::spawn`]. Being in
///   its own group, a child does not get the terminal's Ctrl-C: the caller
///   decides how to stop.
/// - it gets `PR_SET_PDEATHSIG(SIGKILL)`: if this process dies (even by
///   SIGKILL), the kernel kills the command. The signal is tied to the thread
///   that forks, which here is the calling thread, and it waits for the child,
///   so the signal fires only when the process (or that thread, mid-call) dies.
/// - it is never reaped before the last signal to its group was sent, so a
///   signal cannot reach an unrelated process that reused its pid.
///
/// Supervised processes ([`CommandRunner::spawn`]) start in the caller's mount
/// namespace, or in the one given to [`SystemRunner::with_daemon_namespace`].
#[derive(Debug, Clone, Default)]
pub struct SystemRunner {
    daemon_namespace: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

impl SystemRunner {
    /// A new runner.
    pub fn new() -> Self {
        SystemRunner::default()
    }

    /// Start supervised processes ([`CommandRunner::spawn`]) in the mount
    /// namespace `ns` (a descriptor of `/proc/PID/ns/mnt`); commands run to
    /// completion stay in the caller's. Needs `CAP_SYS_ADMIN`.
    ///
    /// This is for a process that moved into a private mount namespace of its
    /// own (`unshare(CLONE_NEWNS)`) so that the kernel takes its mounts away when
    /// it dies: give it the namespace it came from. A daemon serving a mount of
    /// that private namespace (qemu-storage-daemon under a loop device holding a
    /// guest filesystem) must not be a member of it: if the daemon were the last
    /// process to leave it, the kernel would unmount the guest filesystem in the
    /// daemon's own exit, flushing it through the daemon that is exiting, and the
    /// daemon would wait for itself forever (unkillable, and every `sync` on the
    /// host behind it). From the outer namespace, the daemon outlives the
    /// namespace's teardown, which the session's own exit does while the daemon
    /// can still answer.
    ///
    /// ```no_run
    /// use std::os::fd::OwnedFd;
    /// use vmcraft_block::SystemRunner;
    /// let outer = OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/mnt")?);
    /// // SAFETY: unshare takes flags.
    /// if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
    ///     return Err(std::io::Error::last_os_error().into());
    /// }
    /// let runner = SystemRunner::new().with_daemon_namespace(outer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_daemon_namespace(mut self, ns: std::os::fd::OwnedFd) -> Self {
        self.daemon_namespace = Some(std::sync::Arc::new(ns));
        self
    }
}

impl CommandRunner for SystemRunner {
    fn execute(&self, cmd: &Command) -> Result<Output> {
        let started = Instant::now();
        let program = resolve_program(cmd.program())?;
        if cmd.get_cancel().is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled_failure(cmd, None));
        }
        tracing::debug!(command = %cmd, "running");
        let mut command = std::process::Command::new(&program);
        command
            .args(cmd.get_args())
            .envs(cmd.get_env().iter().map(|(k, v)| (k, v)))
            .stdin(if cmd.get_stdin().is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        process::confine(&mut command, None, cmd.get_current_dir())
            .map_err(|e| spawn_failed(cmd, e))?;
        let mut child = command.spawn().map_err(|e| spawn_failed(cmd, e))?;
        let pid = child.id();
        let pidfd = process::pidfd_open(pid);

        // Feed stdin and drain both pipes on their own threads so that no pipe can
        // fill up and deadlock the child.
        let stdin_thread = match (child.stdin.take(), cmd.get_stdin()) {
            (Some(mut pipe), Some(bytes)) => {
                let bytes = bytes.to_vec();
                Some(std::thread::spawn(move || {
                    // A child that exits without reading all of its input is not an
                    // error of ours; its exit status tells.
                    let _ = pipe.write_all(&bytes);
                }))
            }
            _ => None,
        };
        let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
        let stdout_thread = drain(child.stdout.take(), closed_tx.clone());
        let stderr_thread = drain(child.stderr.take(), closed_tx);

        // Wait for the child to exit, then for its pipes to close (a child it
        // left behind may still hold them), both within the timeout. The child
        // is not reaped yet, so its group id is still ours to signal on a
        // timeout. After a normal exit nothing is signalled: a tool that
        // daemonizes with daemon(3) exits right after forking, before its
        // daemon has left the group with setsid.
        let deadline = cmd.get_timeout().map(|t| started + t);
        let (mut finished, cancelled) = wait_or_cancel(cmd, pid, pidfd.as_ref(), deadline);
        if cancelled {
            // SIGTERM first: e2fsck and mkfs stop at a clean point when asked.
            process::signal_group(pid, libc::SIGTERM);
            if !process::wait_exit(pid, pidfd.as_ref(), Some(Instant::now() + CANCEL_GRACE)) {
                tracing::warn!(command = %cmd, grace = ?CANCEL_GRACE, "ignored SIGTERM after a cancellation; killing its process group");
            }
            process::signal_group(pid, libc::SIGKILL);
            let status = child.wait().ok().map(ExitStatus::from);
            tracing::info!(command = %cmd, "cancelled; stopped its process group");
            return Err(cancelled_failure(cmd, status));
        }
        if finished {
            for _ in 0..2 {
                match wait_closed(cmd, &closed_rx, deadline) {
                    Closed::Yes => {}
                    Closed::TimedOut => {
                        finished = false;
                        break;
                    }
                    Closed::Cancelled => {
                        // The command exited; what it left holds its output.
                        process::signal_group(pid, libc::SIGKILL);
                        let status = child.wait().ok().map(ExitStatus::from);
                        tracing::info!(command = %cmd, "cancelled while its output was held; killed its process group");
                        return Err(cancelled_failure(cmd, status));
                    }
                }
            }
        }
        if !finished {
            // The command and whatever it forked that is still in its group.
            process::signal_group(pid, libc::SIGKILL);
            let limit = cmd.get_timeout().unwrap_or_default();
            let _ = child.wait();
            // The drain threads end when the last holder of the pipes is gone;
            // they are not waited for (one that left the group may hold them).
            tracing::warn!(command = %cmd, ?limit, "timed out; killed its process group");
            return Err(Error::from_command(
                CommandFailure {
                    program: cmd.program().to_string_lossy().into_owned(),
                    argv: cmd.argv(),
                    status: None,
                    stdout: Vec::new(),
                    stderr: String::new(),
                    spawn_error: None,
                    timed_out: Some(limit),
                    cancelled: false,
                },
                ErrorKind::Timeout,
            ));
        }
        let status = child.wait().map_err(|e| spawn_failed(cmd, e))?;
        if let Some(t) = stdin_thread {
            let _ = t.join();
        }
        let stdout = stdout_thread.join().unwrap_or_default();
        let stderr = stderr_thread.join().unwrap_or_default();
        let out = Output {
            status: status.into(),
            stdout,
            stderr,
        };
        tracing::debug!(
            command = %cmd,
            status = %out.status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "finished"
        );
        Ok(out)
    }

    fn spawn(&self, cmd: &Command) -> Result<Supervised> {
        use std::os::fd::AsFd;
        Supervised::spawn_in(cmd, self.daemon_namespace.as_ref().map(|ns| ns.as_fd()))
    }
}

/// How long a cancelled command has between SIGTERM and SIGKILL.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How often a running command's cancellation token is looked at.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Wait for our child `pid` to exit (unreaped) until `deadline`, looking at the
/// command's cancellation token every [`CANCEL_POLL`]: (exited, cancelled).
fn wait_or_cancel(
    cmd: &Command,
    pid: u32,
    pidfd: Option<&std::os::fd::OwnedFd>,
    deadline: Option<Instant>,
) -> (bool, bool) {
    let Some(token) = cmd.get_cancel() else {
        return (process::wait_exit(pid, pidfd, deadline), false);
    };
    loop {
        if token.is_cancelled() {
            let exited = process::has_exited(pid, pidfd);
            return (exited, !exited);
        }
        let slice = Instant::now() + CANCEL_POLL;
        let until = deadline.map_or(slice, |d| d.min(slice));
        if process::wait_exit(pid, pidfd, Some(until)) {
            return (true, false);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return (false, false);
        }
    }
}

/// How the wait for one of a command's output pipes to close ended.
enum Closed {
    Yes,
    TimedOut,
    Cancelled,
}

/// Wait for a drain thread's end until `deadline`, looking at the command's
/// cancellation token every [`CANCEL_POLL`] (something the command left may
/// hold its output for ever).
fn wait_closed(
    cmd: &Command,
    closed: &std::sync::mpsc::Receiver<()>,
    deadline: Option<Instant>,
) -> Closed {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        if cmd.get_cancel().is_some_and(CancelToken::is_cancelled) {
            return Closed::Cancelled;
        }
        let now = Instant::now();
        let slice = match (deadline, cmd.get_cancel()) {
            (Some(d), _) if now >= d => return Closed::TimedOut,
            (Some(d), Some(_)) => (d - now).min(CANCEL_POLL),
            (Some(d), None) => d - now,
            (None, Some(_)) => CANCEL_POLL,
            (None, None) => {
                // Closed, or the drain thread is gone: either way nothing holds it.
                let _ = closed.recv();
                return Closed::Yes;
            }
        };
        match closed.recv_timeout(slice) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Closed::Yes,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// The error of a command stopped, or never started, for a cancellation.
fn cancelled_failure(cmd: &Command, status: Option<ExitStatus>) -> Error {
    Error::from_command(
        CommandFailure {
            program: cmd.program().to_string_lossy().into_owned(),
            argv: cmd.argv(),
            status,
            stdout: Vec::new(),
            stderr: String::new(),
            spawn_error: None,
            timed_out: None,
            cancelled: true,
        },
        ErrorKind::Cancelled,
    )
}

/// Read `pipe` to its end on a thread of its own; say so on `closed` at the end.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
    closed: std::sync::mpsc::Sender<()>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = closed.send(());
        buf
    })
}

pub(crate) fn spawn_failed(cmd: &Command, e: std::io::Error) -> Error {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        ErrorKind::ToolMissing
    } else {
        ErrorKind::CommandFailed
    };
    Error::from_command(
        CommandFailure {
            program: cmd.program().to_string_lossy().into_owned(),
            argv: cmd.argv(),
            status: None,
            stdout: Vec::new(),
            stderr: String::new(),
            spawn_error: Some(e),
            timed_out: None,
            cancelled: false,
        },
        kind,
    )
}

pub(crate) fn resolve_program(program: &OsStr) -> Result<PathBuf> {
    if Path::new(program).components().count() > 1 {
        return Ok(PathBuf::from(program));
    }
    find_tool(&program.to_string_lossy())
}

/// The directories searched for tools: `$PATH`, then the `sbin` and `bin`
/// directories a non-root `PATH` often lacks.
pub fn tool_search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let extra = PathBuf::from(extra);
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    dirs
}

/// Find an executable tool by name on [`tool_search_path`].
///
/// The error says which tool is missing, where it looked, and which Debian package
/// provides it when that is known.
///
/// ```
/// use vmcraft_block::{find_tool, ErrorKind};
/// assert!(find_tool("sh").is_ok());
/// let err = find_tool("no-such-tool-vmcraft").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::ToolMissing);
/// assert!(err.to_string().contains("not found in"));
/// ```
pub fn find_tool(name: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dirs = tool_search_path();
    for dir in &dirs {
        let candidate = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Ok(candidate);
        }
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let hint = package_for(name)
        .map(|p| format!(" (install the Debian package {p}, or run `cargo xtask setup`)"))
        .unwrap_or_default();
    Err(Error::new(
        ErrorKind::ToolMissing,
        "find_tool",
        name,
        format!("not found in {}{hint}", searched.join(":")),
    ))
}

/// Whether a tool is installed (see [`find_tool`]).
pub fn has_command(name: &str) -> bool {
    find_tool(name).is_ok()
}

/// The Debian package that provides a tool VMCraft uses, when known.
pub fn package_for(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "qemu-img" | "qemu-nbd" | "qemu-storage-daemon" => "qemu-utils",
        "mkfs.ext2" | "mkfs.ext3" | "mkfs.ext4" | "e2fsck" | "resize2fs" | "tune2fs"
        | "fuse2fs" => "e2fsprogs",
        "mkfs.vfat" | "mkfs.fat" | "fsck.vfat" | "fsck.fat" => "dosfstools",
        "mkfs.xfs" | "xfs_repair" | "xfs_growfs" | "xfs_admin" => "xfsprogs",
        "mkfs.btrfs" | "btrfs" => "btrfs-progs",
        "ntfs-3g" | "mkntfs" | "mkfs.ntfs" | "ntfsfix" => "ntfs-3g",
        "lvm" | "pvcreate" | "vgcreate" | "lvcreate" => "lvm2",
        "augtool" => "augeas-tools",
        "sgdisk" => "gdisk",
        "sfdisk" | "fdisk" => "fdisk",
        "blkid" | "losetup" | "mkswap" | "partx" | "wipefs" => "util-linux",
        "parted" => "parted",
        "fusefat" => "fusefat",
        "tar" => "tar",
        "pigz" => "pigz",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_quoting() {
        let c = Command::new("lvm").args([
            "lvcreate",
            "-n",
            "my lv",
            "--config",
            "devices { filter=[\"a|x|\"] }",
            "",
        ]);
        assert_eq!(
            c.to_string(),
            r#"lvm lvcreate -n 'my lv' --config 'devices { filter=["a|x|"] }' ''"#
        );
        assert_eq!(Command::new("a").arg("it's").to_string(), r"a 'it'\''s'");
    }

    #[test]
    fn failure_text_trims_stderr_and_names_everything() {
        let cmd = Command::new("pvcreate").arg("/dev/loop9");
        let err = command_failed(
            &cmd,
            &Output::failed(5, "\n  Device /dev/loop9 not found.\n\n"),
        );
        assert_eq!(
            err.to_string(),
            "pvcreate: command `pvcreate /dev/loop9` failed with exit status 5: Device /dev/loop9 not found."
        );
        assert_eq!(err.kind(), ErrorKind::CommandFailed);
    }

    #[test]
    fn package_hints_for_missing_tools() {
        assert_eq!(package_for("sgdisk"), Some("gdisk"));
        assert_eq!(package_for("lvm"), Some("lvm2"));
        assert_eq!(package_for("mkfs.vfat"), Some("dosfstools"));
    }
}
