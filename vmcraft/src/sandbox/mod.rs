//! The sandbox guest programs run in (`command`, `sh`, `selinux-relabel`).
//!
//! VMCraft has no appliance: a guest's own tools (`update-initramfs`,
//! `grub-mkconfig`, the package manager, `setfiles`) run on the host, and a
//! guest binary is hostile code. Each run is confined by
//! [bubblewrap](https://github.com/containers/bubblewrap) (`bwrap`, Debian's
//! `bubblewrap`), a well-kept tool that does the namespace work, with the
//! seccomp filters of [`seccomp`](self) and the limits of `limits`:
//!
//! - **its own mount namespace** whose root is the session's mounted guest tree
//!   (bound recursively, so the filesystems mounted under it are there too),
//!   with a fresh minimal `/dev` (`null`, `zero`, `full`, `random`, `urandom`,
//!   `tty`, `ptmx` and a private `pts`) plus the session's own disks,
//!   partitions and LVs under their libguestfs names (`/dev/sda`, `/dev/sda1`,
//!   `/dev/VG/LV`), so that `grub-probe` and friends find them; a fresh `/proc`
//!   of its own PID namespace with the kernel's settings read-only
//!   ([`PROC_READ_ONLY`]: `/proc/sys`, where root could otherwise set
//!   `kernel.core_pattern` to a program the host runs, `/proc/sysrq-trigger`,
//!   ...); **no `/sys`**;
//!   nothing else of the host. Mounts made while it is set up do not propagate
//!   to the host (bubblewrap makes the tree a slave first), and the host's root
//!   is detached before the guest program starts;
//! - **its own PID, network, IPC, UTS and cgroup namespaces**: it sees only its
//!   own processes, has a loopback interface and no route out (the host's
//!   `127.0.0.1` and abstract sockets are in another namespace), and its host
//!   name is `localhost`. There is no user namespace: the guest's tools run as
//!   real root with a reduced capability set, which is what lets them own files
//!   by any uid and write the guest's disks (a user namespace maps one uid, so
//!   `dpkg` could not `chown` to the others);
//! - **no new privileges**, the capabilities of [`KEPT_CAPABILITIES`] only (no
//!   `CAP_SYS_ADMIN`, `CAP_SYS_MODULE`, `CAP_SYS_PTRACE`, `CAP_SYS_RAWIO`,
//!   `CAP_MKNOD`, `CAP_DAC_READ_SEARCH`, `CAP_NET_ADMIN`, `CAP_SYS_TIME`, ...),
//!   and a seccomp filter that refuses mounting, module loading, kexec, bpf,
//!   perf events, reboot, swap, keyrings, ptrace, file handles and new
//!   namespaces whatever the capabilities (see the `seccomp` module);
//! - **limits** ([`Limits`]): a timeout (the whole sandbox is killed when it
//!   passes: its PID namespace's first process dies, which kills every process
//!   in it, and the run waits until it is gone), a cap on captured output, and
//!   memory and process limits through a transient cgroup where this process may
//!   make one, resource limits otherwise;
//! - tied to this process like every child the session starts: its own process
//!   group, `PR_SET_PDEATHSIG(SIGKILL)` (and bubblewrap's `--die-with-parent`
//!   for what it forks), so that the sandbox dies with the session even when the
//!   session is killed; a cancel of the handle's token stops it.
//!
//! ```no_run
//! use vmcraft::sandbox::Sandbox;
//! let out = Sandbox::new("/tmp/guest-root")
//!     .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
//!     .run("command", &["/bin/echo", "hello"])?;
//! assert_eq!(out.stdout, b"hello\n");
//! # Ok::<(), vmcraft::Error>(())
//! ```

mod elf;
mod limits;
mod seccomp;

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use vmcraft_block::command::ExitStatus;
use vmcraft_block::{CancelToken, ErrorKind};

pub use elf::Machine;

use crate::error::{Error, Result};

/// The capabilities a guest program keeps (everything else is dropped), and why:
///
/// - `CAP_CHOWN`, `CAP_DAC_OVERRIDE`, `CAP_FOWNER`, `CAP_FSETID`: root's way
///   with files, which package managers and `update-initramfs` need to write
///   files of any owner and mode in the guest tree (the only files there are);
/// - `CAP_SETUID`, `CAP_SETGID`: tools that drop to another user (apt's `_apt`,
///   `su` and `runuser` in maintainer scripts);
/// - `CAP_SETFCAP`: packages that set file capabilities (`ping`);
/// - `CAP_LINUX_IMMUTABLE`: `chattr -i` of a guest file (an immutable
///   `/etc/resolv.conf` is common);
/// - `CAP_KILL`: signals, which reach only the sandbox's own PID namespace;
/// - `CAP_SYS_CHROOT`: scripts that chroot inside the guest; the host's tree is
///   not in the sandbox's mount namespace, so there is nothing to break out to;
/// - `CAP_NET_BIND_SERVICE`: low ports, on the sandbox's own loopback only.
///
/// Not kept: `CAP_MKNOD` (the guest's filesystems are mounted `nodev` and the
/// sandbox's `/dev` is bubblewrap's `nodev` tmpfs, so a node made there could
/// not be opened anyway; refusing it keeps guest tools from leaving host device
/// numbers in the guest), `CAP_DAC_READ_SEARCH` (file handles), `CAP_SYS_ADMIN`,
/// `CAP_SYS_MODULE`, `CAP_SYS_RAWIO`, `CAP_SYS_PTRACE`, `CAP_SYS_BOOT`,
/// `CAP_SYS_TIME`, `CAP_SYS_RESOURCE` (limits stay), `CAP_NET_ADMIN`,
/// `CAP_NET_RAW`, `CAP_IPC_LOCK`, `CAP_AUDIT_*`, `CAP_SYSLOG`, `CAP_BPF`,
/// `CAP_PERFMON`, `CAP_MAC_*`, `CAP_WAKE_ALARM`, `CAP_BLOCK_SUSPEND`,
/// `CAP_CHECKPOINT_RESTORE`, `CAP_SETPCAP`, `CAP_LEASE`.
pub const KEPT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETFCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_KILL",
    "CAP_SYS_CHROOT",
    "CAP_NET_BIND_SERVICE",
];

/// What of `/proc` the sandbox sees read-only: the kernel's settings and its
/// other writable interfaces (Docker's list).
pub const PROC_READ_ONLY: &[&str] = &[
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
    "/proc/acpi",
    "/proc/scsi",
    "/proc/asound",
];

/// How long a guest program may run by default: long guest tools
/// (`update-initramfs` compressing a large initramfs, a package removal) take
/// minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The default cap on a guest program's captured standard output (and,
/// separately, its standard error): 4 MiB, libguestfs's largest message.
pub const DEFAULT_OUTPUT_MAX: usize = 4 << 20;

/// The default memory limit (where a cgroup can be made; `RLIMIT_DATA` per
/// process otherwise): 4 GiB.
pub const DEFAULT_MEMORY_MAX: u64 = 4 << 30;

/// The default limit on the sandbox's processes and threads.
pub const DEFAULT_PIDS_MAX: u64 = 4096;

/// What a guest program may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time; the whole sandbox is killed when it passes.
    pub timeout: Duration,
    /// Bytes of standard output (and of standard error) kept; past it the
    /// program is stopped and the run fails.
    pub output_max: usize,
    /// Memory (`None`: no limit).
    pub memory_max: Option<u64>,
    /// Processes and threads (`None`: no limit).
    pub pids_max: Option<u64>,
    /// Size of any file it writes (`RLIMIT_FSIZE`; `None`: no limit).
    pub file_size_max: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            output_max: DEFAULT_OUTPUT_MAX,
            memory_max: Some(DEFAULT_MEMORY_MAX),
            pids_max: Some(DEFAULT_PIDS_MAX),
            file_size_max: None,
        }
    }
}

/// How a sandboxed program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Its exit status (bubblewrap passes the program's on; a program killed by
    /// a signal is reported as 128 plus the signal number).
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// One sandboxed run: the root, the devices, the environment, the limits. See
/// the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Sandbox {
    root: PathBuf,
    devices: Vec<(String, PathBuf)>,
    env: Vec<(String, String)>,
    caps: Vec<&'static str>,
    limits: Limits,
    cancel: Option<CancelToken>,
}

impl Sandbox {
    /// A sandbox whose `/` is the host directory `root` (the session's mounted
    /// guest tree), with no devices beyond the minimal `/dev`, an empty
    /// environment and the default [`Limits`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Sandbox {
            root: root.into(),
            devices: Vec::new(),
            env: Vec::new(),
            caps: KEPT_CAPABILITIES.to_vec(),
            limits: Limits::default(),
            cancel: None,
        }
    }

    /// With the host device node `host` at `name` (`/dev/sda1`) inside.
    pub fn device(mut self, name: impl Into<String>, host: impl Into<PathBuf>) -> Self {
        self.devices.push((name.into(), host.into()));
        self
    }

    /// With the environment variable `key` set to `value` (nothing else of this
    /// process's environment goes in).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// With these limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Stopped when `token` is cancelled.
    pub fn cancel_on(mut self, token: &CancelToken) -> Self {
        self.cancel = Some(token.clone());
        self
    }

    /// bubblewrap's arguments for `argv`, given the descriptors bubblewrap reads
    /// its seccomp filters from and writes its information to.
    pub fn bwrap_args(
        &self,
        seccomp_fds: &[i32],
        info_fd: i32,
        argv: &[OsString],
    ) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |words: &[&OsStr]| a.extend(words.iter().map(|w| w.to_os_string()));
        let s = |w: &'static str| OsStr::new(w);
        push(&[
            s("--die-with-parent"),
            s("--new-session"),
            s("--unshare-ipc"),
            s("--unshare-pid"),
            s("--unshare-net"),
            s("--unshare-uts"),
            s("--unshare-cgroup-try"),
            s("--hostname"),
            s("localhost"),
            s("--bind"),
            self.root.as_os_str(),
            s("/"),
            s("--dev"),
            s("/dev"),
        ]);
        for (name, host) in &self.devices {
            push(&[s("--dev-bind"), host.as_os_str(), OsStr::new(name)]);
        }
        push(&[s("--proc"), s("/proc")]);
        // The kernel's global settings under the fresh /proc are writable by
        // root whatever its capabilities (kernel.core_pattern names a program
        // the host's kernel runs as root): read-only, as the host's own
        // (the same values, and those of the sandbox's namespaces).
        for dir in PROC_READ_ONLY {
            push(&[s("--ro-bind-try"), OsStr::new(dir), OsStr::new(dir)]);
        }
        push(&[s("--chdir"), s("/"), s("--clearenv")]);
        for (k, v) in &self.env {
            push(&[s("--setenv"), OsStr::new(k), OsStr::new(v)]);
        }
        push(&[s("--cap-drop"), s("ALL")]);
        for c in &self.caps {
            push(&[s("--cap-add"), OsStr::new(c)]);
        }
        for fd in seccomp_fds {
            let fd = fd.to_string();
            push(&[s("--add-seccomp-fd"), OsStr::new(&fd)]);
        }
        let info = info_fd.to_string();
        push(&[s("--info-fd"), OsStr::new(&info), s("--")]);
        a.extend(argv.iter().cloned());
        a
    }

    /// Run `argv` (a program looked up in the sandbox's `PATH` when it has no
    /// `/`) in the sandbox and report how it ended, whatever its exit status.
    /// `call` names the calling call in errors. Errors: bubblewrap missing, the
    /// sandbox could not be made, the timeout passed, the output cap was passed,
    /// the handle was cancelled, the kernel killed a process of the run for want
    /// of memory (where a cgroup holds the limit); in each case nothing of the
    /// run is left.
    pub fn run(&self, call: &'static str, argv: &[impl AsRef<OsStr>]) -> Result<Outcome> {
        let argv: Vec<OsString> = argv.iter().map(|a| a.as_ref().to_os_string()).collect();
        let subject = argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let err = |kind: ErrorKind, msg: String| -> Error {
            vmcraft_block::Error::new(kind, call, &subject, msg).into()
        };
        if argv.is_empty() {
            return Err(Error::invalid(call, "", "passed an empty list"));
        }
        let bwrap = vmcraft_block::command::find_tool("bwrap").map_err(|_| {
            err(
                ErrorKind::ToolMissing,
                "bubblewrap (bwrap) runs guest programs: install the bubblewrap package".into(),
            )
        })?;
        let programs = compiled_filters()
            .map_err(|e| err(ErrorKind::Unsupported, format!("no seccomp filter: {e}")))?;
        let mut filter_fds = Vec::new();
        for p in programs {
            filter_fds.push(
                filled_pipe(p).map_err(|e| err(ErrorKind::Io, format!("seccomp filter: {e}")))?,
            );
        }
        let (info_r, info_w) = pipe().map_err(|e| err(ErrorKind::Io, format!("info pipe: {e}")))?;
        let wanted = limits::Wanted {
            memory: self.limits.memory_max,
            pids: self.limits.pids_max,
            file_size: self.limits.file_size_max,
        };
        let groups = limits::Groups::make(&wanted);
        let rlimits = limits::rlimits(&wanted, &groups);
        let filter_raw: Vec<i32> = filter_fds.iter().map(|f| f.as_raw_fd()).collect();
        let info_raw = info_w.as_raw_fd();
        let args = self.bwrap_args(&filter_raw, info_raw, &argv);
        let mut inherit = filter_raw.clone();
        inherit.push(info_raw);
        let cgroup_fds = groups.proc_fds();

        let mut cmd = std::process::Command::new(&bwrap);
        cmd.args(&args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure runs in the child between fork and exec and only
        // makes async-signal-safe system calls on values prepared before the
        // fork; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                for &fd in &inherit {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                limits::join(&cgroup_fds)?;
                limits::apply(&rlimits)?;
                Ok(())
            });
        }
        tracing::debug!(call, argv = ?argv, "running in the sandbox");
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| err(ErrorKind::CommandFailed, format!("starting bwrap: {e}")))?;
        drop(info_w);
        drop(filter_fds);
        let pid = child.id();
        let pidfd = pidfd_open(pid);
        let mut run = Running {
            pid,
            pidfd,
            init: None,
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            info: Some(std::fs::File::from(info_r)),
            info_text: Vec::new(),
            out: Vec::new(),
            err: Vec::new(),
        };
        let stop = run.pump(&self.limits, self.cancel.as_ref(), started);
        if stop.is_some() {
            run.kill();
            groups.kill_all();
        }
        let status = child.wait();
        run.wait_init();
        let oom = groups.oom_killed();
        drop(groups);
        let elapsed = started.elapsed();
        match stop {
            Some(Stop::Timeout) => {
                tracing::warn!(call, ?argv, "timed out; the sandbox was killed");
                Err(err(
                    ErrorKind::Timeout,
                    format!(
                        "timed out after {} s; every process of the sandbox was killed",
                        self.limits.timeout.as_secs_f64()
                    ),
                ))
            }
            Some(Stop::Output) => Err(err(
                ErrorKind::CommandFailed,
                format!(
                    "output exceeds the limit of {} bytes; the command was stopped",
                    self.limits.output_max
                ),
            )),
            Some(Stop::Cancelled) => Err(err(ErrorKind::Cancelled, "cancelled".into())),
            // A process killed for want of memory fails the run only if the
            // program then failed.
            None if oom && !status.as_ref().is_ok_and(|s| s.success()) => Err(err(
                ErrorKind::CommandFailed,
                format!(
                    "killed for want of memory (the limit is {} bytes)",
                    self.limits.memory_max.unwrap_or_default()
                ),
            )),
            None => {
                let status = status.map_err(|e| err(ErrorKind::Io, format!("wait: {e}")))?;
                tracing::debug!(
                    call,
                    ?status,
                    elapsed_ms = elapsed.as_secs_f64() * 1e3,
                    "sandbox finished"
                );
                Ok(Outcome {
                    status: status.into(),
                    stdout: run.out,
                    stderr: run.err,
                })
            }
        }
    }
}

/// The seccomp filters as bubblewrap reads them, compiled once per process.
fn compiled_filters() -> std::result::Result<&'static [Vec<u8>], String> {
    static FILTERS: std::sync::OnceLock<std::result::Result<Vec<Vec<u8>>, String>> =
        std::sync::OnceLock::new();
    FILTERS
        .get_or_init(|| {
            seccomp::filters()
                .map(|f| f.iter().map(seccomp::to_bytes).collect())
                .map_err(|e| e.to_string())
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// Why a run was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Output,
    Cancelled,
}

/// How often a running sandbox's cancellation token is looked at.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// How long a killed sandbox's processes have to go before the run gives up
/// waiting (a process stuck in the kernel cannot be hurried).
const KILL_WAIT: Duration = Duration::from_secs(30);

/// A started bubblewrap and what it said so far.
struct Running {
    pid: u32,
    pidfd: Option<OwnedFd>,
    /// A descriptor of the sandbox's first process (its PID namespace's init).
    init: Option<OwnedFd>,
    stdout: Option<std::process::ChildStdout>,
    stderr: Option<std::process::ChildStderr>,
    info: Option<std::fs::File>,
    info_text: Vec<u8>,
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Running {
    /// Read the outputs until bubblewrap has exited and they are closed, or a
    /// limit stops the run.
    fn pump(
        &mut self,
        limits: &Limits,
        cancel: Option<&CancelToken>,
        started: Instant,
    ) -> Option<Stop> {
        let deadline = started + limits.timeout;
        let mut exited = false;
        loop {
            if cancel.is_some_and(CancelToken::is_cancelled) {
                return Some(Stop::Cancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Some(Stop::Timeout);
            }
            if exited && self.stdout.is_none() && self.stderr.is_none() {
                return None;
            }
            let mut fds: Vec<libc::pollfd> = Vec::new();
            let mut which: Vec<u8> = Vec::new();
            let mut add = |fd: i32, w: u8| {
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
                which.push(w);
            };
            if let Some(p) = &self.stdout {
                add(p.as_raw_fd(), 0);
            }
            if let Some(p) = &self.stderr {
                add(p.as_raw_fd(), 1);
            }
            if let Some(p) = &self.info {
                add(p.as_raw_fd(), 2);
            }
            if !exited && let Some(p) = &self.pidfd {
                add(p.as_raw_fd(), 3);
            }
            let mut slice = deadline - now;
            if cancel.is_some() || self.pidfd.is_none() {
                slice = slice.min(CANCEL_POLL);
            }
            let ms = i32::try_from(slice.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: fds is a valid array of fds.len() pollfd structs.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::warn!(error = %e, "poll on the sandbox failed");
                return Some(Stop::Cancelled);
            }
            if self.pidfd.is_none() && !exited {
                exited = peek_exited(self.pid);
            }
            for (pfd, w) in fds.iter().zip(&which) {
                if pfd.revents == 0 {
                    continue;
                }
                match w {
                    0 => {
                        if read_some(&mut self.stdout, &mut self.out)
                            && self.out.len() > limits.output_max
                        {
                            return Some(Stop::Output);
                        }
                    }
                    1 => {
                        if read_some(&mut self.stderr, &mut self.err)
                            && self.err.len() > limits.output_max
                        {
                            return Some(Stop::Output);
                        }
                    }
                    2 => {
                        read_some(&mut self.info, &mut self.info_text);
                        if self.info.is_none() || self.info_text.contains(&b'}') {
                            self.note_init();
                        }
                    }
                    _ => exited = true,
                }
            }
        }
    }

    /// Read the rest of bubblewrap's information (once bubblewrap is gone or
    /// killed) and note the sandbox's first process.
    fn read_info(&mut self) {
        while self.init.is_none() && read_some(&mut self.info, &mut self.info_text) {
            self.note_init();
        }
        self.note_init();
    }

    /// Take the sandbox's first process from bubblewrap's information
    /// (`{"child-pid": N}`), as a pidfd.
    fn note_init(&mut self) {
        if self.init.is_some() {
            return;
        }
        let text = String::from_utf8_lossy(&self.info_text);
        let pid = text.split("\"child-pid\"").nth(1).and_then(|rest| {
            let digits: String = rest
                .trim_start_matches(|c: char| c == ':' || c.is_whitespace())
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u32>().ok()
        });
        if let Some(pid) = pid {
            self.init = pidfd_open(pid);
        }
    }

    /// Kill the whole sandbox: bubblewrap's process group (bubblewrap and the
    /// sandbox's first process), and that first process by its pidfd; when it
    /// dies the kernel kills every process of its PID namespace.
    fn kill(&mut self) {
        // SAFETY: killpg takes a group id and a signal; bubblewrap is not reaped
        // yet, so the group id is still its own.
        unsafe { libc::killpg(self.pid as libc::pid_t, libc::SIGKILL) };
        // The information may have come in without being read yet. Read only
        // now: before bubblewrap wrote it, a read would wait for it; with
        // bubblewrap killed, it returns what there is, or the end.
        self.read_info();
        if let Some(fd) = &self.init {
            // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
        self.stdout = None;
        self.stderr = None;
    }

    /// Wait until the sandbox's first process is gone (the kernel reaps every
    /// process of its PID namespace before it goes), so that nothing of the run
    /// is left when it returns.
    fn wait_init(&mut self) {
        self.read_info();
        if let Some(fd) = &self.init {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = KILL_WAIT.as_millis() as i32;
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, ms) } == 0 {
                tracing::warn!(wait = ?KILL_WAIT, "the sandbox's processes did not go away");
            }
        }
    }
}

/// Read what is there from a pipe into `buf`; `false` and the pipe closed at
/// its end.
fn read_some<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) -> bool {
    let Some(p) = pipe else {
        return false;
    };
    let mut chunk = [0u8; 65536];
    match p.read(&mut chunk) {
        Ok(0) => {
            *pipe = None;
            false
        }
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
        Err(_) => {
            *pipe = None;
            false
        }
    }
}

/// A pipe, both ends close-on-exec: (read, write).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us these descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The read end of a pipe that holds `bytes` and whose write end is closed
/// (`bytes` fit in a pipe's buffer: a filter is a few kilobytes).
fn filled_pipe(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    use std::io::Write;
    let (r, w) = pipe()?;
    let mut w = std::fs::File::from(w);
    w.write_all(bytes)?;
    Ok(r)
}

/// A pidfd for `pid`, `None` where the kernel has none.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether our child `pid` has exited, without reaping it.
fn peek_exited(pid: u32) -> bool {
    // SAFETY: a zeroed siginfo_t is valid for waitid to fill.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid on our own child, without reaping (WNOWAIT).
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is valid to read after waitid filled the struct.
    r == 0 && unsafe { info.si_pid() } != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bwrap_arguments_confine() {
        let sb = Sandbox::new("/tmp/root")
            .device("/dev/sda", "/dev/loop7")
            .device("/dev/sda1", "/dev/loop7p1")
            .env("PATH", "/bin");
        let a: Vec<String> = sb
            .bwrap_args(&[5, 6], 7, &["/bin/true".into()])
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        let joined = a.join(" ");
        for want in [
            "--die-with-parent --new-session --unshare-ipc --unshare-pid --unshare-net --unshare-uts",
            "--bind /tmp/root / --dev /dev --dev-bind /dev/loop7 /dev/sda --dev-bind /dev/loop7p1 /dev/sda1 --proc /proc",
            "--ro-bind-try /proc/sys /proc/sys --ro-bind-try /proc/sysrq-trigger /proc/sysrq-trigger",
            "--clearenv --setenv PATH /bin --cap-drop ALL --cap-add CAP_CHOWN",
            "--add-seccomp-fd 5 --add-seccomp-fd 6 --info-fd 7 -- /bin/true",
        ] {
            assert!(joined.contains(want), "{want}\n{joined}");
        }
        assert!(!joined.contains("CAP_SYS_ADMIN"));
        assert!(!joined.contains("CAP_MKNOD"));
        assert!(!joined.contains(" /sys "));
        assert!(!joined.contains("unshare-user"));
    }
}
