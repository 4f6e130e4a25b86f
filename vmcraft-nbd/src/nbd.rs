//! The kernel NBD backend: `qemu-nbd --connect` to a free `/dev/nbdN`.
//!
//! - Discovery: a device is free when `/sys/block/nbdN/pid` is absent and its size
//!   is 0. Each candidate is locked with `flock` on a lock file per device
//!   ([`DeviceLock`]) and checked again under the lock, so two processes (or
//!   threads) that share the lock directory never take the same device. The lock
//!   is held for the whole connection.
//! - Connecting: `qemu-nbd --connect=DEV --verbose --format=FMT [--read-only]
//!   [--cache=] [--aio=] [--discard=] json:{...}` (the same blockdev graph as the
//!   storage daemon, `"backing": null` unless allowed). Without `--verbose`,
//!   `qemu-nbd --connect` forks its server into the background (a daemon nobody
//!   waits for); with it, the server stays in the foreground, where it runs as a
//!   [`vmcraft_block::Supervised`] process: it dies with this process, even when
//!   this process is SIGKILLed, and is tracked by a pidfd. Wrapped in
//!   [`vmcraft_block::retry_with_backoff`]: only transient failures
//!   ([`is_transient`]: a busy device or image lock that qemu-nbd reported as it
//!   exited) are retried. A missing image or a bad format fails at once, and so
//!   does a connect that timed out (its server is stopped and whatever it
//!   half-made is disconnected, rather than racing a connection that may still be
//!   coming up). Every failed attempt stops its server and disconnects whatever
//!   it half-made.
//! - Ready: the device has a non-zero size while the server runs; the process
//!   the kernel names as the device's server (`/sys/block/nbdN/pid`, a thread of
//!   qemu-nbd) belongs to the supervised server; every file the server has open is
//!   one the image's judgement allowed (see `opened.rs`).
//! - Disconnecting: `qemu-nbd --disconnect DEV`, then a check that the kernel let
//!   go of it (no pid, size 0) and kept no partitions (an open of the
//!   disconnected device drops what the driver, or udev's rereading of the
//!   table, left), then the server (which exits once the kernel lets go) is
//!   reaped, stopped if it has not exited.
//! - The kernel's own partition scan of a new connection is run to its end
//!   before the connect returns (`settle_partition_scan`), so that it never
//!   runs under VMCraft's BLKPG sync.
//! - `modprobe nbd max_part=16` when there are no nbd devices but the module is
//!   installed ([`ensure_module`]).
//!
//! All sysfs, `/proc` and lock paths come from [`NbdHost`], so the whole flow is
//! testable with a fake runner (whose stand-in servers are real processes) and a
//! fake sysfs tree.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use vmcraft_block::{Clock, Command, CommandRunner, Supervised, retry_with_backoff};

use crate::blockdev;
use crate::chain::ImageChain;
use crate::daemon::stderr_of;
use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::options::AttachOptions;

/// Where the NBD devices, their sysfs directories, the lock files and the kernel
/// modules are.
///
/// ```
/// use vmcraft_nbd::NbdHost;
/// let host = NbdHost::system(None);
/// assert_eq!(host.device_path(3), std::path::Path::new("/dev/nbd3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbdHost {
    /// `/sys/block`.
    pub sys_block: PathBuf,
    /// `/dev`.
    pub dev_dir: PathBuf,
    /// The directory of the per-device lock files.
    pub lock_dir: PathBuf,
    /// `/lib/modules/$(uname -r)`.
    pub modules_dir: PathBuf,
    /// `/proc` (where the qemu-nbd server's open files are looked at).
    pub proc_dir: PathBuf,
}

impl NbdHost {
    /// The real host; lock files in `lock_dir`, or by default in
    /// `/run/vmcraft/nbd-locks` (root; a private per-user directory under the temp
    /// directory for anyone else). Lock directories must be private (see
    /// [`DeviceLock::try_lock`]): a world-writable one such as `/run/lock` would let
    /// any local user plant a symlink where a lock file goes.
    pub fn system(lock_dir: Option<&Path>) -> Self {
        let lock_dir = match lock_dir {
            Some(d) => d.to_path_buf(),
            None => default_lock_dir(),
        };
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        NbdHost {
            sys_block: PathBuf::from("/sys/block"),
            dev_dir: PathBuf::from("/dev"),
            lock_dir,
            modules_dir: Path::new("/lib/modules").join(release.trim()),
            proc_dir: PathBuf::from("/proc"),
        }
    }

    /// `/dev/nbdN`.
    pub fn device_path(&self, n: u32) -> PathBuf {
        self.dev_dir.join(format!("nbd{n}"))
    }

    fn sys_dir(&self, n: u32) -> PathBuf {
        self.sys_block.join(format!("nbd{n}"))
    }

    /// The NBD device numbers the kernel has, ascending.
    ///
    /// ```no_run
    /// use vmcraft_nbd::NbdHost;
    /// let host = NbdHost::system(None);
    /// let free: Vec<u32> = host.devices().into_iter().filter(|&n| !host.is_connected(n)).collect();
    /// ```
    pub fn devices(&self) -> Vec<u32> {
        let mut out: Vec<u32> = std::fs::read_dir(&self.sys_block)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_prefix("nbd"))
                            .and_then(|n| n.parse().ok())
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_unstable();
        out
    }

    /// Whether the kernel has NBD devices at all.
    pub fn is_available(&self) -> bool {
        self.sys_dir(0).exists()
    }

    /// The device's size in 512-byte sectors, from sysfs.
    pub fn size_sectors(&self, n: u32) -> Option<u64> {
        std::fs::read_to_string(self.sys_dir(n).join("size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Whether device `n` is connected (or half-connected): it has a server pid or
    /// a size.
    pub fn is_connected(&self, n: u32) -> bool {
        self.sys_dir(n).join("pid").exists() || self.size_sectors(n).unwrap_or(0) > 0
    }

    /// Whether the nbd module is installed (built in, or listed in `modules.dep`).
    pub fn module_loadable(&self) -> bool {
        ["modules.dep", "modules.builtin"].iter().any(|f| {
            std::fs::read_to_string(self.modules_dir.join(f)).is_ok_and(|s| {
                s.lines().any(|l| {
                    let path = l.split(':').next().unwrap_or("");
                    let name = path.rsplit('/').next().unwrap_or("");
                    name == "nbd.ko" || name.starts_with("nbd.ko.")
                })
            })
        })
    }

    fn lock_path(&self, n: u32) -> PathBuf {
        self.lock_dir.join(format!("vmcraft-nbd{n}.lock"))
    }
}

/// Where lock files go by default.
fn default_lock_dir() -> PathBuf {
    let uid = nix::unistd::geteuid();
    if uid.is_root() && Path::new("/run").is_dir() {
        PathBuf::from("/run/vmcraft/nbd-locks")
    } else {
        std::env::temp_dir().join(format!("vmcraft-{uid}-nbd-locks"))
    }
}

/// Make `dir` (0700 where it is created) and require it to be a private
/// directory of this user: not a symlink, owned by the effective uid, writable by
/// nobody else (who could otherwise plant a symlink or a file to lock).
fn private_lock_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let subject = dir.display();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("nbd_connect", &subject, "creating the lock directory", e))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Error::io("nbd_connect", &subject, "checking the lock directory", e))?;
    let uid = nix::unistd::geteuid().as_raw();
    let why = if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("is not a directory".to_string())
    } else if meta.uid() != uid {
        Some(format!("is owned by uid {}, not {uid}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "has mode {:o}: group or others can write to it",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::new(
            ErrorKind::PermissionDenied,
            "nbd_connect",
            &subject,
            format!("the lock directory {why} (it must be a private directory, e.g. 0700)"),
        )),
        None => Ok(()),
    }
}

/// An exclusive `flock` on device `n`'s lock file, held until dropped. Any process
/// using the same lock directory skips a locked device.
#[derive(Debug)]
pub struct DeviceLock {
    _lock: Flock<File>,
    index: u32,
}

impl DeviceLock {
    /// Lock device `n` without waiting; `Ok(None)` when someone else holds it.
    /// The lock directory is made 0700 if missing and must be a private
    /// directory of this user (not a symlink, writable by nobody else); the lock
    /// file is opened with `O_NOFOLLOW`, so a symlink planted in its place is
    /// refused rather than followed.
    ///
    /// ```no_run
    /// use vmcraft_nbd::{DeviceLock, NbdHost};
    /// let host = NbdHost::system(None);
    /// if let Some(lock) = DeviceLock::try_lock(&host, 0)? {
    ///     assert_eq!(lock.index(), 0);
    /// }
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn try_lock(host: &NbdHost, n: u32) -> Result<Option<Self>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = host.lock_path(n);
        private_lock_dir(&host.lock_dir)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| Error::io("nbd_connect", path.display(), "opening the lock file", e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(DeviceLock {
                _lock: lock,
                index: n,
            })),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::io("nbd_connect", path.display(), "flock", e.into())),
        }
    }

    /// The device number locked.
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// Pick a free device and lock it: the first device that is not connected, not
/// locked by anyone else, and still not connected once locked.
///
/// ```no_run
/// use vmcraft_nbd::{NbdHost, nbd::claim_device};
/// let lock = claim_device(&NbdHost::system(None))?;
/// println!("/dev/nbd{} is ours until the lock is dropped", lock.index());
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn claim_device(host: &NbdHost) -> Result<DeviceLock> {
    let devices = host.devices();
    for &n in &devices {
        if host.is_connected(n) {
            continue;
        }
        let Some(lock) = DeviceLock::try_lock(host, n)? else {
            continue;
        };
        // Someone who does not use our locks may have connected it meanwhile.
        if host.is_connected(n) {
            continue;
        }
        return Ok(lock);
    }
    Err(Error::new(
        ErrorKind::Busy,
        "nbd_connect",
        host.sys_block.display(),
        format!(
            "no free nbd device (all {} are connected or locked)",
            devices.len()
        ),
    ))
}

/// Whether an error is worth another attempt: a busy device or a busy image lock
/// ([`ErrorKind::Busy`]). A missing image, a bad format or a missing tool is not,
/// and neither is a timeout: a connect that timed out may still have been coming
/// up, and another attempt would race it.
///
/// ```
/// use vmcraft_nbd::{Error, ErrorKind, nbd::is_transient};
/// assert!(is_transient(&Error::new(ErrorKind::Busy, "nbd_connect", "/dev/nbd0", "busy")));
/// assert!(!is_transient(&Error::new(ErrorKind::NotFound, "nbd_connect", "/x", "missing")));
/// assert!(!is_transient(&Error::new(ErrorKind::Timeout, "nbd_connect", "/x", "no size")));
/// ```
pub fn is_transient(e: &Error) -> bool {
    e.kind() == ErrorKind::Busy
}

/// qemu-nbd's complaints that another attempt may not hear.
fn stderr_is_transient(stderr: &str) -> bool {
    const TRANSIENT: [&str; 9] = [
        "device or resource busy",
        "resource temporarily unavailable",
        "timed out",
        "connection refused",
        "connection reset",
        "interrupted system call",
        "try again",
        "no such device or address",
        "failed to get \"write\" lock",
    ];
    let s = stderr.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| s.contains(t))
}

/// The process group (thread group id) of the thread or process `pid`, from
/// `/proc/PID/status`.
fn thread_group(host: &NbdHost, pid: u32) -> Option<u32> {
    let status =
        std::fs::read_to_string(host.proc_dir.join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The process the kernel names as device `n`'s server (`/sys/block/nbdN/pid`
/// holds the thread that runs the connection; this is its process).
fn served_by(host: &NbdHost, n: u32) -> Option<u32> {
    let tid: u32 = std::fs::read_to_string(host.sys_dir(n).join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(thread_group(host, tid).unwrap_or(tid))
}

/// Device `n` must be served by `server`, and every file the server has open
/// must be a judged one or the device itself.
fn check_server(
    host: &NbdHost,
    n: u32,
    server: &Supervised,
    chain: &ImageChain,
    subject: &str,
) -> Result<()> {
    let pid = server.pid();
    match served_by(host, n) {
        Some(p) if p == pid => {}
        Some(other) => {
            return Err(Error::new(
                ErrorKind::Busy,
                "nbd_connect",
                subject,
                format!(
                    "{} is served by process {other}, not by the qemu-nbd VMCraft started (pid \
                     {pid}): another program connected it meanwhile",
                    host.device_path(n).display()
                ),
            ));
        }
        None => {
            return Err(Error::new(
                ErrorKind::DaemonFailed,
                "nbd_connect",
                subject,
                format!(
                    "{} names no server process",
                    host.sys_dir(n).join("pid").display()
                ),
            ));
        }
    }
    let mut allowed = chain.ids.clone();
    if let Ok(id) = crate::opened::file_id(&host.device_path(n)) {
        allowed.push(id);
    }
    crate::opened::check_open_files(&host.proc_dir, pid, &allowed, "qemu-nbd", subject)
}

/// The `qemu-nbd --connect` command line.
pub(crate) fn connect_command(
    device: &Path,
    format: Format,
    opts: &AttachOptions,
    filename: &str,
) -> Command {
    // --verbose keeps the server in the foreground (qemu-nbd --connect forks
    // into the background without it).
    let mut cmd = Command::new("qemu-nbd")
        .arg(format!("--connect={}", device.display()))
        .arg("--verbose")
        .arg(format!("--format={}", format.qemu_driver()));
    if opts.readonly {
        cmd = cmd.arg("--read-only");
    }
    if let Some(c) = opts.cache {
        cmd = cmd.arg(format!("--cache={}", c.as_str()));
    }
    if let Some(a) = opts.aio {
        cmd = cmd.arg(format!("--aio={}", a.as_str()));
    }
    if let Some(d) = opts.discard {
        cmd = cmd.arg(format!("--discard={}", d.as_str()));
    }
    cmd.arg(filename)
}

/// Make sure NBD devices exist: nothing to do when they do; `modprobe nbd
/// max_part=16` when the module is installed; otherwise an
/// [`ErrorKind::Unsupported`] error.
///
/// ```no_run
/// use std::{sync::Arc, time::Duration};
/// use vmcraft_block::{CommandRunner, SystemRunner};
/// use vmcraft_nbd::{NbdHost, nbd::ensure_module};
/// let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::new());
/// ensure_module(&runner, &NbdHost::system(None), Duration::from_secs(10))?;
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn ensure_module(
    runner: &Arc<dyn CommandRunner>,
    host: &NbdHost,
    timeout: Duration,
) -> Result<()> {
    if host.is_available() {
        return Ok(());
    }
    let subject = host.sys_block.join("nbd0");
    if !host.module_loadable() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "nbd_connect",
            subject.display(),
            format!(
                "no nbd devices, and no nbd kernel module in {}",
                host.modules_dir.display()
            ),
        ));
    }
    let cmd = Command::new("modprobe")
        .args(["nbd", "max_part=16"])
        .timeout(timeout);
    runner.run(&cmd).map_err(|e| {
        Error::block(
            "nbd_connect",
            subject.display(),
            "loading the nbd module",
            e,
        )
    })?;
    vmcraft_block::wait_for_path(&subject, timeout).map_err(|e| {
        Error::block(
            "nbd_connect",
            subject.display(),
            "the nbd module loaded but made no devices",
            e,
        )
        .with_kind(ErrorKind::Unsupported)
    })
}

mod ioctl {
    nix::ioctl_none!(
        /// `NBD_PRINT_DEBUG`: a no-op on current kernels, run under the
        /// device's config lock.
        nbd_print_debug,
        0xab,
        6
    );
}

/// Let the kernel's own partition scan of a new connection run now, to its end.
///
/// With `max_part` set, the nbd driver marks the disk for a partition scan when
/// qemu-nbd's `NBD_DO_IT` starts the device, the last time after the size is
/// set, just before it lets go of the device's config lock; the scan runs at the
/// next open of the disk or of a partition, by whoever makes it (qemu-nbd opens
/// the device itself to trigger it). Left pending, it runs in the middle of
/// VMCraft's BLKPG sync (an add fails as busy: the kernel has just made that
/// partition) or under a later mount (the partitions are dropped and made again).
/// Any nbd ioctl takes the same config lock, so once the no-op `NBD_PRINT_DEBUG`
/// returns the mark is set, and the open after it runs the scan before it
/// returns. Best effort: a kernel without the ioctl or without partition scanning
/// leaves nothing pending, so failures are only logged.
fn settle_partition_scan(dev: &Path) {
    use std::os::fd::AsRawFd;
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dev)
    };
    use std::os::unix::fs::OpenOptionsExt;
    match open() {
        Ok(f) => {
            // SAFETY: an argument-less ioctl on a descriptor this function owns.
            if let Err(e) = unsafe { ioctl::nbd_print_debug(f.as_raw_fd()) } {
                tracing::debug!(device = %dev.display(), error = %e, "nbd config-lock barrier");
            }
            drop(f);
            if let Err(e) = open() {
                tracing::debug!(device = %dev.display(), error = %e, "reopening for the partition scan");
            }
        }
        Err(e) => {
            tracing::debug!(device = %dev.display(), error = %e, "opening for the partition scan")
        }
    }
}

/// `qemu-nbd --disconnect`, then wait until the kernel shows the device free.
fn disconnect_verified(
    runner: &dyn CommandRunner,
    host: &NbdHost,
    n: u32,
    subject: &str,
    timeout: Duration,
) -> Result<()> {
    let dev = host.device_path(n);
    let cmd = Command::new("qemu-nbd")
        .arg("--disconnect")
        .arg(&dev)
        .timeout(timeout);
    runner.run(&cmd).map_err(|e| {
        Error::block(
            "nbd_disconnect",
            subject,
            format!("qemu-nbd could not disconnect {}", dev.display()),
            e,
        )
    })?;
    vmcraft_block::wait_until(&dev.display().to_string(), timeout, || {
        !host.is_connected(n)
    })
    .map_err(|e| {
        Error::block(
            "nbd_disconnect",
            subject,
            format!(
                "{} is still connected after qemu-nbd --disconnect",
                dev.display()
            ),
            e,
        )
        .with_kind(ErrorKind::Busy)
    })?;
    tracing::debug!(device = %dev.display(), "nbd device disconnected");
    drop_stale_partitions(host, n, subject, timeout)
}

/// The partitions the kernel still shows for device `n`, by name.
fn partitions_left(host: &NbdHost, n: u32) -> Vec<String> {
    let prefix = format!("nbd{n}p");
    let mut left: Vec<String> = std::fs::read_dir(host.sys_dir(n))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    left.sort();
    left
}

/// After a disconnect, no partitions: the nbd driver keeps a disconnected
/// device's partitions, and udev, which rereads a disk's table when a writer
/// closes it, can make them again after the detach removed them (a stale
/// `/dev/nbdNp1` of size 0 until the device is next used). An open of the
/// disconnected device makes the driver rescan it at size 0, which drops them;
/// it is tried again until sysfs shows none, since a prober (udev's blkid) may
/// hold one open for a moment and the kernel then keeps them.
fn drop_stale_partitions(host: &NbdHost, n: u32, subject: &str, timeout: Duration) -> Result<()> {
    if partitions_left(host, n).is_empty() {
        return Ok(());
    }
    let dev = host.device_path(n);
    tracing::debug!(device = %dev.display(), "dropping the partitions of a disconnected nbd device");
    vmcraft_block::wait_until(
        &format!("the partitions of {} to go", dev.display()),
        timeout,
        || {
            drop(File::open(&dev));
            partitions_left(host, n).is_empty()
        },
    )
    .map_err(|e| {
        Error::block(
            "nbd_disconnect",
            subject,
            format!(
                "{} keeps partitions after the disconnect: {}",
                dev.display(),
                partitions_left(host, n).join(", ")
            ),
            e,
        )
        .with_kind(ErrorKind::Busy)
    })
}

/// Stop a server that should be exiting or exited (after a disconnect, or after
/// a failed attempt): up to `timeout` for it to end by itself, then SIGTERM and
/// SIGKILL to its group; it is reaped either way.
fn stop_server(server: &mut Supervised, timeout: Duration) -> vmcraft_block::Result<()> {
    if server.wait_timeout(timeout).is_none() {
        tracing::warn!(
            pid = server.pid(),
            "qemu-nbd server still running; stopping it"
        );
    }
    server.stop(timeout).map(drop)
}

/// One connect attempt on device `n`, for undoing it when it fails.
struct Attempt<'a> {
    runner: &'a dyn CommandRunner,
    host: &'a NbdHost,
    n: u32,
    subject: &'a str,
    timeout: Duration,
}

impl Attempt<'_> {
    /// Undo the failed attempt: stop its server first (so nothing is still
    /// connecting), then disconnect the device if the kernel shows any
    /// connection and it was ours (`disconnect`; a device someone else connected
    /// meanwhile is left alone). Returns `err`, noting a failed cleanup in its
    /// message.
    fn fail(&self, server: Option<Supervised>, disconnect: bool, err: Error) -> Error {
        let mut problems = Vec::new();
        if let Some(mut s) = server
            && let Err(e) = s.stop(self.timeout)
        {
            problems.push(format!(
                "its qemu-nbd server could not be stopped: {}",
                vmcraft_block::error_chain(&e)
            ));
        }
        if disconnect && self.host.is_connected(self.n) {
            tracing::debug!(device = self.n, "disconnecting a half-made nbd connection");
            if let Err(ce) =
                disconnect_verified(self.runner, self.host, self.n, self.subject, self.timeout)
            {
                problems.push(format!(
                    "{} could not be disconnected: {}",
                    self.host.device_path(self.n).display(),
                    vmcraft_block::error_chain(&ce)
                ));
            }
        }
        if problems.is_empty() {
            return err;
        }
        let note = format!("{}; and {}", err.message(), problems.join("; and "));
        let kind = err.kind();
        Error::new(kind, "nbd_connect", self.subject, note).with_source(err)
    }
}

/// A kernel NBD device connected to an image by qemu-nbd; disconnected (and
/// verified) on drop or by [`NbdConnection::disconnect`], which reports failure.
pub struct NbdConnection {
    device: PathBuf,
    index: u32,
    host: NbdHost,
    runner: Arc<dyn CommandRunner>,
    subject: String,
    timeout: Duration,
    connected: bool,
    /// The qemu-nbd server; `None` once disconnected.
    server: Option<Supervised>,
    server_pid: u32,
    // Released last, after the disconnect.
    _lock: DeviceLock,
}

impl std::fmt::Debug for NbdConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NbdConnection")
            .field("device", &self.device)
            .field("image", &self.subject)
            .field("server_pid", &self.server_pid)
            .field("connected", &self.connected)
            .finish()
    }
}

impl NbdConnection {
    /// Connect `image` to a free NBD device (see the module documentation).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use vmcraft_block::{CommandRunner, SystemClock, SystemRunner};
    /// use vmcraft_nbd::{AttachOptions, Format, NbdConnection, NbdHost};
    /// let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::new());
    /// let conn = NbdConnection::connect(&runner, &SystemClock,
    ///     &NbdHost::system(None), "disk.qcow2".as_ref(), Format::Qcow2,
    ///     &AttachOptions::default())?;
    /// println!("{}", conn.device().display());
    /// conn.disconnect()?;
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn connect(
        runner: &Arc<dyn CommandRunner>,
        clock: &dyn Clock,
        host: &NbdHost,
        image: &Path,
        format: Format,
        opts: &AttachOptions,
    ) -> Result<Self> {
        let chain = crate::judge_image(image, &opts.clone().format(format))?;
        Self::connect_chain(runner, clock, host, &chain, opts)
    }

    /// [`NbdConnection::connect`] on a judged chain. Once the device is
    /// connected, the kernel must name the supervised server as its server, and
    /// every regular file and block device that server has open must be one
    /// judged (by device and inode) or the NBD device itself; anything else
    /// stops the server, disconnects the device and fails with
    /// [`ErrorKind::BackingFileRefused`] (qemu opens a vmdk's extents by name,
    /// and a file can be swapped after the judgement).
    pub(crate) fn connect_chain(
        runner: &Arc<dyn CommandRunner>,
        clock: &dyn Clock,
        host: &NbdHost,
        chain: &ImageChain,
        opts: &AttachOptions,
    ) -> Result<Self> {
        let format = chain.top().format();
        let subject = chain.top().path.display().to_string();
        let filename = blockdev::nbd_filename(chain, opts)?;
        let timeout = opts.ready_timeout;
        retry_with_backoff(&opts.retry, clock, is_transient, |attempt| {
            let lock = claim_device(host)?;
            let n = lock.index();
            let dev = host.device_path(n);
            tracing::debug!(attempt, device = %dev.display(), image = %subject, "qemu-nbd connect");
            let cmd = connect_command(&dev, format, opts, &filename);
            let connect_error = |e: vmcraft_block::Error| {
                let kind = match crate::error::kind_of_block(&e) {
                    ErrorKind::ToolMissing => ErrorKind::ToolMissing,
                    _ if stderr_is_transient(stderr_of(&e)) => ErrorKind::Busy,
                    _ => ErrorKind::DaemonFailed,
                };
                Error::block(
                    "nbd_connect",
                    &subject,
                    format!("qemu-nbd could not connect {}", dev.display()),
                    e,
                )
                .with_kind(kind)
            };
            let attempt = Attempt {
                runner: &**runner,
                host,
                n,
                subject: &subject,
                timeout,
            };
            let cleanup = |server: Supervised, disconnect: bool, err: Error| {
                attempt.fail(Some(server), disconnect, err)
            };
            let server = match runner.spawn(&cmd) {
                Ok(s) => s,
                Err(e) => return Err(attempt.fail(None, true, connect_error(e))),
            };
            // Ready: the device has a size while the server runs.
            let sized = vmcraft_block::wait_until(&dev.display().to_string(), timeout, || {
                !server.is_alive() || host.size_sectors(n).unwrap_or(0) > 0
            });
            if !server.is_alive() {
                let err = connect_error(server.exit_error());
                return Err(cleanup(server, true, err));
            }
            if let Err(e) = sized {
                let err = Error::block(
                    "nbd_connect",
                    &subject,
                    format!(
                        "{} never got a size after qemu-nbd (pid {}) started serving it",
                        dev.display(),
                        server.pid()
                    ),
                    e,
                )
                .with_kind(ErrorKind::Timeout);
                return Err(cleanup(server, true, err));
            }
            if let Err(err) = check_server(host, n, &server, chain, &subject) {
                // A device someone else connected is theirs: not disconnected.
                let ours = matches!(served_by(host, n), Some(p) if p == server.pid());
                return Err(cleanup(server, ours, err));
            }
            settle_partition_scan(&dev);
            tracing::debug!(device = %dev.display(), image = %subject, pid = server.pid(),
                "nbd device connected");
            Ok(NbdConnection {
                device: dev,
                index: n,
                host: host.clone(),
                runner: runner.clone(),
                subject: subject.clone(),
                timeout,
                connected: true,
                server_pid: server.pid(),
                server: Some(server),
                _lock: lock,
            })
        })
    }

    /// The device node, e.g. `/dev/nbd0`.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The device number.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The qemu-nbd server's process id.
    pub fn server_pid(&self) -> u32 {
        self.server_pid
    }

    /// Whether the kernel still shows the device connected and its server runs.
    pub fn is_connected(&self) -> bool {
        self.connected
            && self.host.is_connected(self.index)
            && self.server.as_ref().is_some_and(Supervised::is_alive)
    }

    /// Disconnect, check that the kernel let go of the device, and reap the
    /// server (stopped if it did not exit by itself).
    pub fn disconnect(mut self) -> Result<()> {
        self.disconnect_inner()
    }

    fn disconnect_inner(&mut self) -> Result<()> {
        if !self.connected {
            return Ok(());
        }
        self.connected = false;
        let result = disconnect_verified(
            &*self.runner,
            &self.host,
            self.index,
            &self.subject,
            self.timeout,
        );
        let stopped = match self.server.take() {
            Some(mut s) => stop_server(&mut s, self.timeout).map_err(|e| {
                Error::block(
                    "nbd_disconnect",
                    &self.subject,
                    format!("the qemu-nbd server (pid {}) could not be stopped", s.pid()),
                    e,
                )
            }),
            None => Ok(()),
        };
        result.and(stopped)
    }
}

impl Drop for NbdConnection {
    fn drop(&mut self) {
        if let Err(e) = self.disconnect_inner() {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "nbd disconnect on drop");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_stderr() {
        assert!(stderr_is_transient(
            "qemu-nbd: Failed to open /dev/nbd0: Device or resource busy"
        ));
        assert!(stderr_is_transient(
            "qemu-nbd: Failed to get \"write\" lock\nIs another process using the image?"
        ));
        assert!(!stderr_is_transient(
            "qemu-nbd: Failed to blk_new_open 'x': Could not open 'x': No such file or directory"
        ));
        assert!(!stderr_is_transient("Image is not in qcow2 format"));
    }

    #[test]
    fn connect_command_line() {
        use crate::options::{AioMode, CacheMode, DiscardMode};
        let opts = AttachOptions::default()
            .readonly(true)
            .cache(CacheMode::None)
            .aio(AioMode::Native)
            .discard(DiscardMode::Unmap);
        let cmd = connect_command(Path::new("/dev/nbd2"), Format::Vmdk, &opts, "json:{}");
        assert_eq!(
            cmd.argv(),
            [
                "qemu-nbd",
                "--connect=/dev/nbd2",
                "--verbose",
                "--format=vmdk",
                "--read-only",
                "--cache=none",
                "--aio=native",
                "--discard=unmap",
                "json:{}"
            ]
        );
        let cmd = connect_command(
            Path::new("/dev/nbd0"),
            Format::Raw,
            &AttachOptions::default(),
            "json:{}",
        );
        assert_eq!(
            cmd.argv(),
            [
                "qemu-nbd",
                "--connect=/dev/nbd0",
                "--verbose",
                "--format=raw",
                "json:{}"
            ]
        );
        assert_eq!(
            cmd.get_timeout(),
            None,
            "a supervised server has no timeout"
        );
    }
}
