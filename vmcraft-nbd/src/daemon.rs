//! The qemu-storage-daemon backend's process: [`StorageDaemon`] starts
//! `qemu-storage-daemon` through a `CommandRunner` with an explicit blockdev graph
//! (protocol node, format node, `"backing": null` unless allowed), a FUSE export of
//! the disk onto a regular file and a QMP monitor on a Unix socket, all in a
//! private 0700 directory. For a read-only image under a throw-away overlay the
//! export is added over QMP instead, once the image's size is known: an empty
//! qcow2 made in the same directory, backed by the read-only image node, and
//! exported writable.
//!
//! The daemon runs in the foreground as a [`vmcraft_block::Supervised`] process
//! (never `--daemonize`, which forks past whoever waits for it): it is forked by
//! a thread that lives as long as it does, leads its own process group, gets
//! `PR_SET_PDEATHSIG(SIGKILL)`, and is tracked by a pidfd. So it dies with the
//! session even when the session is SIGKILLed; what such a death leaves is the
//! FUSE export's mount (dead: every access fails with ENOTCONN until it is
//! unmounted), the runtime directory, and a loop device bound to the export if
//! a mount still holds one (otherwise the loop device clears itself). It is
//! ready once the export is mounted with the disk's size; qemu's graph (over
//! QMP) and the files it has open (`/proc/PID/fd`) are then checked.
//!
//! The daemon may run in another mount namespace than its caller's (a runner
//! made with `SystemRunner::with_daemon_namespace`, for a caller in a private
//! namespace of its own): its export is then mounted there, and this process
//! reaches it through `/proc/PID/root` ([`StorageDaemon::export_path`]) and
//! unmounts a dead one there.
//!
//! Stopping asks the daemon to `quit` over QMP (it flushes and closes the image),
//! then stops the supervised process (SIGTERM to its group, SIGKILL after the
//! timeout), reaps it, unmounts the export if it is still there (a killed
//! daemon leaves a dead FUSE mount behind) and removes the directory.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vmcraft_block::{Command, CommandRunner, Supervised};

use crate::blockdev;
use crate::chain::ImageChain;
use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::host;
use crate::opened;
use crate::options::AttachOptions;
use crate::qmp;

/// The longest path a Unix socket address holds (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The QMP socket's name in the daemon's directory (the daemon's working
/// directory, so it is given this relative name).
const QMP_SOCKET: &str = "qmp.sock";
/// The daemon's pid file, in its directory: qemu-storage-daemon writes it once
/// its chardevs, monitors and exports are set up (a documented order), and
/// its monitor is only connected to after that. A connection made while the
/// monitor was being set up was, about once in a thousand starts under load,
/// taken by the monitor's thread while the main thread blocked in `accept`
/// for good (never greeted), or the daemon crashed (SIGSEGV).
const PID_FILE: &str = "qsd.pid";

/// The files of one daemon, all in its private directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaemonPaths {
    pub(crate) dir: PathBuf,
    pub(crate) export: PathBuf,
    pub(crate) qmp: PathBuf,
    /// The throw-away overlay of a read-only image, when one is asked for.
    pub(crate) overlay: PathBuf,
}

impl DaemonPaths {
    pub(crate) fn in_dir(dir: &Path) -> Self {
        DaemonPaths {
            dir: dir.to_path_buf(),
            export: dir.join("export"),
            qmp: dir.join(QMP_SOCKET),
            overlay: dir.join("overlay.qcow2"),
        }
    }
}

/// The qemu-storage-daemon command line for `image` in `paths`.
pub(crate) fn daemon_command(
    chain: &ImageChain,
    opts: &AttachOptions,
    paths: &DaemonPaths,
) -> Result<Command> {
    // The daemon runs in its directory and is given the socket's name only: a
    // Unix socket's path holds at most 107 bytes, and session directories under
    // a deep TMPDIR are longer than that.
    let socket = QMP_SOCKET;
    let mut cmd = Command::new("qemu-storage-daemon").current_dir(&paths.dir);
    for node in blockdev::daemon_blockdevs(chain, opts)? {
        cmd = cmd.arg("--blockdev").arg(node);
    }
    // With an overlay, the export is of the overlay, added over QMP once the
    // image's size is known (see `StorageDaemon::add_overlay`).
    if !opts.overlay {
        let export = blockdev::fuse_export(&paths.export, blockdev::DISK_NODE, opts.readonly)?;
        cmd = cmd.arg("--export").arg(export);
    }
    Ok(cmd
        .arg("--chardev")
        .arg(format!(
            "socket,id=vmcraft-qmp,path={socket},server=on,wait=off"
        ))
        .arg("--monitor")
        .arg("chardev=vmcraft-qmp")
        .arg("--pidfile")
        .arg(PID_FILE))
}

/// A running qemu-storage-daemon exporting one image as a FUSE file, supervised
/// (it dies with this process). Stopped on drop; [`StorageDaemon::stop`] reports
/// what went wrong.
#[derive(Debug)]
pub struct StorageDaemon {
    paths: DaemonPaths,
    /// The export as this thread reaches it: `paths.export`, or the same path
    /// under `/proc/PID/root` when the daemon lives in another mount namespace.
    export_access: PathBuf,
    /// The daemon's mount namespace, when it is not ours.
    foreign_ns: Option<std::os::fd::OwnedFd>,
    /// The QMP socket as this process connects to it: its path, or a short
    /// alias through `_dir_fd` when the path is too long for a socket address.
    qmp_access: PathBuf,
    /// The private directory, held open for `qmp_access` when needed.
    _dir_fd: Option<std::os::fd::OwnedFd>,
    /// Owns the directory; removed (best effort) when dropped.
    dir: Option<tempfile::TempDir>,
    /// The daemon; `None` before it started and once stopped.
    process: Option<Supervised>,
    pid: u32,
    image: PathBuf,
    timeout: Duration,
    stopped: bool,
}

impl StorageDaemon {
    /// Start a daemon exporting `image` (in `format`) as a raw FUSE file, and wait
    /// until the export is mounted with the disk's size.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use vmcraft_block::{CommandRunner, SystemRunner};
    /// use vmcraft_nbd::{AttachOptions, Format, StorageDaemon};
    /// let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::new());
    /// let d = StorageDaemon::start(&runner, "disk.qcow2".as_ref(), Format::Qcow2,
    ///     &AttachOptions::default())?;
    /// println!("{} serves {}", d.pid(), d.export_path().display());
    /// d.stop()?;
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn start(
        runner: &Arc<dyn CommandRunner>,
        image: &Path,
        format: Format,
        opts: &AttachOptions,
    ) -> Result<Self> {
        let chain = crate::judge_image(image, &opts.clone().format(format))?;
        Self::start_chain(runner, &chain, opts)
    }

    /// [`StorageDaemon::start`] on a judged chain: every node given to qemu with
    /// its driver pinned. Once qemu has opened it, its graph is checked (no
    /// protocol driver VMCraft did not ask for), and so is every file it has open
    /// (each must be one judged, by device and inode: qemu opens a vmdk's extents
    /// by name, and a file can be swapped after the judgement); anything else
    /// stops the daemon with a [`ErrorKind::BackingFileRefused`] error before a
    /// device is made from the export.
    pub(crate) fn start_chain(
        runner: &Arc<dyn CommandRunner>,
        chain: &ImageChain,
        opts: &AttachOptions,
    ) -> Result<Self> {
        let image = chain.top().path.as_path();
        let subject = image.display();
        let parent = match &opts.runtime_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir(),
        };
        let dir = tempfile::Builder::new()
            .prefix("vmcraft-qsd-")
            .tempdir_in(&parent)
            .map_err(|e| {
                Error::io(
                    "attach",
                    &subject,
                    format!("creating a runtime directory in {}", parent.display()),
                    e,
                )
            })?;
        let paths = DaemonPaths::in_dir(dir.path());
        // This process reaches a socket whose path is too long through a
        // descriptor of the directory (`/proc/self/fd/N/qmp.sock`).
        let dir_fd = if paths.qmp.as_os_str().len() > MAX_SOCKET_PATH {
            let fd = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir.path())
                .map_err(|e| {
                    Error::io(
                        "attach",
                        &subject,
                        format!("opening {}", dir.path().display()),
                        e,
                    )
                })?;
            Some(std::os::fd::OwnedFd::from(fd))
        } else {
            None
        };
        std::fs::File::create(&paths.export).map_err(|e| {
            Error::io(
                "attach",
                &subject,
                format!("creating the export file {}", paths.export.display()),
                e,
            )
        })?;
        let cmd = daemon_command(chain, opts, &paths)?;
        let qmp_access = match &dir_fd {
            Some(fd) => PathBuf::from(format!("/proc/self/fd/{}/{QMP_SOCKET}", fd.as_raw_fd())),
            None => paths.qmp.clone(),
        };
        let mut daemon = StorageDaemon {
            qmp_access,
            _dir_fd: dir_fd,
            export_access: paths.export.clone(),
            foreign_ns: None,
            paths,
            dir: Some(dir),
            process: None,
            pid: 0,
            image: image.to_path_buf(),
            timeout: opts.ready_timeout,
            stopped: false,
        };
        match runner.spawn(&cmd) {
            Ok(p) => {
                daemon.pid = p.pid();
                daemon.process = Some(p);
                daemon.foreign_ns = host::foreign_mount_namespace(daemon.pid);
                if daemon.foreign_ns.is_some() {
                    let export = &daemon.paths.export;
                    daemon.export_access = Path::new(&format!("/proc/{}/root", daemon.pid))
                        .join(export.strip_prefix("/").unwrap_or(export));
                }
            }
            Err(e) => {
                let _ = daemon.stop_inner();
                return Err(daemon.start_failed(chain, e));
            }
        }
        let overlay = opts.overlay.then(|| daemon.paths.overlay.clone());
        let ready = match &overlay {
            Some(_) => daemon.add_overlay(chain),
            None => Ok(()),
        };
        if let Err(e) = ready
            .and_then(|()| daemon.wait_ready(chain))
            .and_then(|()| daemon.check_graph(chain, overlay.as_deref()))
            .and_then(|()| daemon.check_open_files(chain, overlay.as_deref()))
        {
            let _ = daemon.stop_inner();
            return Err(e);
        }
        tracing::debug!(pid = daemon.pid, image = %daemon.image.display(),
            export = %daemon.paths.export.display(), "qemu-storage-daemon started");
        Ok(daemon)
    }

    /// The error for a daemon that could not be started or ended during its
    /// start: a write-lock conflict is [`ErrorKind::Busy`].
    fn start_failed(&self, chain: &ImageChain, e: vmcraft_block::Error) -> Error {
        let kind = match crate::error::kind_of_block(&e) {
            ErrorKind::ToolMissing => ErrorKind::ToolMissing,
            ErrorKind::Timeout => ErrorKind::Timeout,
            _ if stderr_of(&e).contains("Failed to get \"write\" lock") => ErrorKind::Busy,
            _ => ErrorKind::DaemonFailed,
        };
        Error::block(
            "attach",
            self.image.display(),
            format!(
                "qemu-storage-daemon could not export the {} image",
                chain.top().format()
            ),
            e,
        )
        .with_kind(kind)
    }

    fn process(&self) -> &Supervised {
        self.process
            .as_ref()
            .expect("the daemon runs until stopped")
    }

    /// Wait until the export is a mounted, non-empty file, or the daemon ended
    /// (its error then carries what it printed).
    fn wait_ready(&self, chain: &ImageChain) -> Result<()> {
        let export = self.paths.export.clone();
        // The daemon's mount table: its export may live in another namespace.
        let mountinfo = PathBuf::from(format!("/proc/{}/mountinfo", self.pid));
        let p = self.process();
        let pid_file = self.pid_file_access();
        let waited = vmcraft_block::wait_until("the fuse export", self.timeout, || {
            !p.is_alive()
                || (host::is_mount_point_in(&mountinfo, &export)
                    && std::fs::metadata(&self.export_access).is_ok_and(|m| m.len() > 0)
                    // and its monitor set up (see `PID_FILE`), for the checks
                    && std::fs::symlink_metadata(&pid_file).is_ok())
        });
        if !p.is_alive() {
            return Err(self.start_failed(chain, p.exit_error()));
        }
        waited.map_err(|e| {
            Error::block(
                "attach",
                self.image.display(),
                format!(
                    "qemu-storage-daemon (pid {}) did not export {}",
                    self.pid,
                    export.display()
                ),
                e,
            )
        })
    }

    /// Put a throw-away qcow2 overlay on the image and export it: once the QMP
    /// monitor answers, the image's virtual size is read from qemu's graph, an
    /// empty qcow2 of that size is made in the private directory (`qemu-img
    /// create`, which opens nothing but that new file), added as a node whose
    /// backing is the read-only image node, and exported writable over FUSE.
    /// Nothing qemu is asked to open is named by the image.
    fn add_overlay(&self, chain: &ImageChain) -> Result<()> {
        let subject = self.image.display().to_string();
        let p = self.process();
        // The socket file appears when qemu binds it, a moment before it listens:
        // a refused connection is retried until the deadline.
        let mut conn = None;
        let mut last = None;
        let pid_file = self.pid_file_access();
        let waited = vmcraft_block::wait_until("the qmp monitor", self.timeout, || {
            if !p.is_alive() {
                return true;
            }
            // Set up (see `PID_FILE`) before the first connection.
            if std::fs::symlink_metadata(&pid_file).is_err() {
                return false;
            }
            match qmp::Qmp::connect(&self.qmp_access, self.timeout) {
                Ok(q) => {
                    conn = Some(q);
                    true
                }
                Err(e) => {
                    last = Some(e);
                    false
                }
            }
        });
        if !p.is_alive() {
            return Err(self.start_failed(chain, p.exit_error()));
        }
        let qmp_failed = |what: &str, e: qmp::QmpError| {
            Error::new(
                ErrorKind::DaemonFailed,
                "attach",
                &subject,
                // qemu's own words (the QMP error class and description, or
                // the socket error) say why; they go in the message, since
                // callers print only that.
                format!("putting a throw-away overlay on the image: {what}: {e}"),
            )
            .with_source(e)
        };
        let mut q = match (conn, waited, last) {
            (Some(q), _, _) => q,
            (None, _, Some(e)) => return Err(qmp_failed("connecting to the monitor", e)),
            (None, Err(e), None) => {
                return Err(Error::block(
                    "attach",
                    &subject,
                    "qemu-storage-daemon did not open its monitor".to_string(),
                    e,
                ));
            }
            (None, Ok(()), None) => unreachable!("the wait ends connected or with an error"),
        };
        let size = qmp::virtual_size(&mut q, blockdev::DISK_NODE)
            .map_err(|e| qmp_failed("reading the image's size", e))?;
        // The overlay is made by the daemon itself (a `blockdev-create` job on an
        // empty file of ours): no second qemu process to start.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.paths.overlay)
            .map_err(|e| {
                Error::io(
                    "attach",
                    &subject,
                    format!("creating {}", self.paths.overlay.display()),
                    e,
                )
            })?;
        let [file, disk] = blockdev::overlay_blockdevs(&self.paths.overlay)?;
        q.execute_with("blockdev-add", file)
            .map_err(|e| qmp_failed("adding the overlay's file", e))?;
        qmp::run_job(
            &mut q,
            "blockdev-create",
            blockdev::overlay_create(size),
            self.timeout,
        )
        .map_err(|e| qmp_failed("formatting the overlay", e))?;
        q.execute_with("blockdev-add", disk)
            .map_err(|e| qmp_failed("adding the overlay's node", e))?;
        let export: serde_json::Value = serde_json::from_str(&blockdev::fuse_export(
            &self.paths.export,
            blockdev::OVERLAY_NODE,
            false,
        )?)
        .expect("fuse_export makes JSON");
        q.execute_with("block-export-add", export)
            .map_err(|e| qmp_failed("exporting the overlay", e))?;
        Ok(())
    }

    /// Ask qemu which files it opened and refuse any the chain (or the overlay
    /// made here) does not hold.
    /// The pid file, reached as the monitor's socket is (see `qmp_access`).
    fn pid_file_access(&self) -> PathBuf {
        self.qmp_access.with_file_name(PID_FILE)
    }

    fn check_graph(&self, chain: &ImageChain, overlay: Option<&Path>) -> Result<()> {
        let subject = self.image.display().to_string();
        let nodes = qmp::block_nodes(&self.qmp_access, self.timeout).map_err(|e| {
            Error::new(
                ErrorKind::DaemonFailed,
                "attach",
                &subject,
                "cannot list the block nodes qemu-storage-daemon opened",
            )
            .with_source(e)
        })?;
        check_nodes(&nodes, chain, overlay, &subject)
    }

    /// Every regular file the daemon has open must be a judged one (or the
    /// overlay made here).
    fn check_open_files(&self, chain: &ImageChain, overlay: Option<&Path>) -> Result<()> {
        let subject = self.image.display().to_string();
        let mut allowed = chain.ids.clone();
        // The overlay made here, and the pid file qemu holds open (locked).
        let pid_file = self.pid_file_access();
        for o in overlay.into_iter().chain([pid_file.as_path()]) {
            allowed.push(opened::file_id(o).map_err(|e| {
                Error::io(
                    "attach",
                    &subject,
                    format!("identifying {}", o.display()),
                    e,
                )
            })?);
        }
        opened::check_open_files(
            Path::new("/proc"),
            self.pid,
            &allowed,
            "qemu-storage-daemon",
            &subject,
        )
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The FUSE export as this process reaches it: a regular file holding the
    /// disk's raw bytes. When the daemon runs in another mount namespace this is
    /// the export under `/proc/PID/root`.
    pub fn export_path(&self) -> &Path {
        &self.export_access
    }

    /// Where the export is mounted, in the daemon's mount namespace.
    pub fn export_mount_point(&self) -> &Path {
        &self.paths.export
    }

    /// The private directory holding the export and the QMP socket.
    pub fn runtime_dir(&self) -> &Path {
        &self.paths.dir
    }

    /// Whether the daemon is still running.
    pub fn is_alive(&self) -> bool {
        !self.stopped && self.process.as_ref().is_some_and(Supervised::is_alive)
    }

    /// Stop the daemon (flushing the image), unmount the export, remove the
    /// directory. An error says what could not be done or that the daemon had
    /// already died (writes it had not flushed may be lost); everything that can be
    /// cleaned up is cleaned up either way.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let subject = self.image.display().to_string();
        let mut first_error: Option<Error> = None;
        let mut note = |e: Error| {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "stopping qemu-storage-daemon");
            first_error.get_or_insert(e);
        };

        if let Some(mut p) = self.process.take() {
            let pid = p.pid();
            if p.is_alive() {
                // quit flushes and closes the image, then the daemon exits. When
                // the monitor cannot be reached, SIGTERM does the same at once
                // (qemu flushes on it) rather than after waiting for a quit that
                // was never asked.
                let asked = qmp::quit(&self.qmp_access, self.timeout);
                let quit = match &asked {
                    Ok(()) => p.wait_timeout(self.timeout).is_some(),
                    Err(e) => {
                        tracing::warn!(pid, error = %e, "qmp quit failed; stopping with SIGTERM");
                        false
                    }
                };
                match p.stop(self.timeout) {
                    Ok(_) if quit => {}
                    // Stopped by the SIGTERM sent at once: qemu flushed and exited.
                    Ok(status)
                        if asked.is_err()
                            && status != vmcraft_block::ExitStatus::Signal(libc::SIGKILL) => {}
                    Ok(status) => note(Error::new(
                        ErrorKind::Timeout,
                        "detach",
                        &subject,
                        format!(
                            "qemu-storage-daemon (pid {pid}) did not exit within {:?} of quit; \
                             stopped ({status})",
                            self.timeout
                        ),
                    )),
                    Err(e) => note(Error::block(
                        "detach",
                        &subject,
                        format!("qemu-storage-daemon (pid {pid}) could not be stopped"),
                        e,
                    )),
                }
            } else {
                let status = p
                    .stop(self.timeout)
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                note(Error::new(
                    ErrorKind::DaemonGone,
                    "detach",
                    &subject,
                    format!(
                        "qemu-storage-daemon (pid {pid}) had already exited ({status}); writes \
                         it had not flushed may be lost"
                    ),
                ));
            }
        }
        // A daemon that died leaves its export mounted (dead), in its namespace.
        let export = self.paths.export.clone();
        let unmounted = match &self.foreign_ns {
            None => host::unmount(&export),
            Some(ns) => host::in_mount_namespace(ns, || host::unmount(&export)),
        };
        if let Err(e) = unmounted {
            note(
                Error::io(
                    "detach",
                    &subject,
                    format!("unmounting the fuse export {}", self.paths.export.display()),
                    e.into(),
                )
                .with_kind(ErrorKind::Busy),
            );
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                note(Error::io(
                    "detach",
                    &subject,
                    format!("removing {}", path.display()),
                    e,
                ));
            }
        }
        tracing::debug!(pid = self.pid, image = %subject, "qemu-storage-daemon stopped");
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for StorageDaemon {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "qemu-storage-daemon stop on drop");
        }
    }
}

/// Refuse a graph holding a protocol node for a file the chain does not hold, or
/// a driver VMCraft never asks for.
pub(crate) fn check_nodes(
    nodes: &[qmp::BlockNode],
    chain: &ImageChain,
    overlay: Option<&Path>,
    subject: &str,
) -> Result<()> {
    let mut allowed = chain.allowed_files();
    allowed.extend(overlay);
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.qemu_driver()).collect();
    for n in nodes {
        let why = match n.driver.as_str() {
            "file" | "host_device" if allowed.iter().any(|a| Path::new(&n.file) == *a) => continue,
            "file" | "host_device" => format!(
                "qemu opened {:?} (node {}), which the image's header check did not allow; \
                 the image names a file VMCraft did not see",
                n.file, n.name
            ),
            d if formats.contains(&d) => continue,
            d => format!(
                "qemu made a {d:?} node ({}) for {:?}, which VMCraft never asks for",
                n.name, n.file
            ),
        };
        return Err(Error::new(
            ErrorKind::BackingFileRefused,
            "attach",
            subject,
            why,
        ));
    }
    Ok(())
}

/// The trimmed stderr of a failed command, if the error is one.
pub(crate) fn stderr_of(e: &vmcraft_block::Error) -> &str {
    e.command_failure().map(|f| f.stderr.as_str()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::CacheMode;
    use vmcraft_block::testing::{FakeRunner, Response};

    #[test]
    fn command_line() {
        let paths = DaemonPaths::in_dir(Path::new("/run/vm,x"));
        let opts = AttachOptions::default()
            .readonly(true)
            .cache(CacheMode::None);
        let chain = ImageChain::single(Path::new("/img/a.vdi"), Format::Vdi);
        let cmd = daemon_command(&chain, &opts, &paths).unwrap();
        assert_eq!(
            cmd.argv(),
            [
                "qemu-storage-daemon",
                "--blockdev",
                r#"{"cache":{"direct":true,"no-flush":false},"driver":"file","filename":"/img/a.vdi","node-name":"vmcraft-file","read-only":true}"#,
                "--blockdev",
                r#"{"driver":"vdi","file":"vmcraft-file","node-name":"vmcraft-disk","read-only":true}"#,
                "--export",
                r#"{"allow-other":"off","id":"vmcraft-export","mountpoint":"/run/vm,x/export","node-name":"vmcraft-disk","type":"fuse","writable":false}"#,
                "--chardev",
                "socket,id=vmcraft-qmp,path=qmp.sock,server=on,wait=off",
                "--monitor",
                "chardev=vmcraft-qmp",
                "--pidfile",
                "qsd.pid",
            ]
        );
        // Supervised in the foreground: no --daemonize, and no timeout on the
        // process itself (readiness has its own deadline).
        assert_eq!(cmd.get_timeout(), None);

        // Under an overlay the image node is read-only and nothing is exported
        // yet: the overlay and its export are added over QMP.
        let over = daemon_command(&chain, &opts.clone().overlay(true), &paths).unwrap();
        let argv = over.argv();
        assert!(!argv.iter().any(|a| a == "--export"), "{argv:?}");
        assert!(argv[4].contains(r#""read-only":true"#));
        assert_eq!(paths.overlay, Path::new("/run/vm,x/overlay.qcow2"));
        let [file, disk] = blockdev::overlay_blockdevs(&paths.overlay).unwrap();
        assert_eq!(
            file.to_string(),
            r#"{"driver":"file","filename":"/run/vm,x/overlay.qcow2","node-name":"vmcraft-overlay-file"}"#
        );
        assert_eq!(
            disk.to_string(),
            r#"{"backing":"vmcraft-disk","driver":"qcow2","file":"vmcraft-overlay-file","node-name":"vmcraft-overlay"}"#
        );
    }

    #[test]
    fn graph_check_refuses_files_the_chain_does_not_hold() {
        let node = |name: &str, driver: &str, file: &str| qmp::BlockNode {
            name: name.into(),
            driver: driver.into(),
            file: file.into(),
        };
        let chain = ImageChain::single(Path::new("/i/d.vmdk"), Format::Vmdk);
        let ours = [
            node("vmcraft-file", "file", "/i/d.vmdk"),
            node("vmcraft-disk", "vmdk", "/i/d.vmdk"),
        ];
        check_nodes(&ours, &chain, None, "/i/d.vmdk").unwrap();
        let mut more = ours.to_vec();
        more.push(node("#block043", "file", "/etc/shadow"));
        let e = check_nodes(&more, &chain, None, "/i/d.vmdk").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
        assert_eq!(
            e.to_string(),
            "attach: /i/d.vmdk: qemu opened \"/etc/shadow\" (node #block043), which the image's \
             header check did not allow; the image names a file VMCraft did not see"
        );
        let mut other = ours.to_vec();
        other.push(node("#block1", "nbd", "nbd://127.0.0.1:10809"));
        let e = check_nodes(&other, &chain, None, "/i/d.vmdk").unwrap_err();
        assert!(e.to_string().contains("a \"nbd\" node (#block1)"), "{e}");
        // The overlay made here is allowed, and only with an overlay.
        let mut over = ours.to_vec();
        over.push(node("vmcraft-overlay-file", "file", "/run/q/overlay.qcow2"));
        over.push(node("vmcraft-overlay", "qcow2", "/run/q/overlay.qcow2"));
        let o = Path::new("/run/q/overlay.qcow2");
        check_nodes(&over, &chain, Some(o), "/i/d.vmdk").unwrap();
        check_nodes(&over, &chain, None, "/i/d.vmdk").unwrap_err();
    }

    /// A small image of `format` (qcow2 or raw) in a directory of its own; the
    /// daemon is judged to open only it.
    fn image(format: Format) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap().join("x");
        let bytes = match format {
            Format::Qcow2 => crate::format::qcow2_tests::fresh_qcow2(),
            _ => vec![0u8; 1 << 16],
        };
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// The race the open-file check is for: an extent judged as a plain file,
    /// swapped for a symlink to a host file before qemu opens it. qemu's graph
    /// still reports the judged name; the file it has open is another.
    #[test]
    fn an_extent_swapped_after_the_judgement_is_caught_by_what_qemu_has_open() {
        use vmcraft_block::testing::{TestEnv, require_root, require_tool};
        if !require_root("qemu-storage-daemon") || !require_tool("qemu-storage-daemon") {
            return;
        }
        let env = TestEnv::new("swap");
        let dir = env.path().canonicalize().unwrap();
        let secret = dir.join("secret");
        std::fs::write(&secret, vec![0x5a; 1 << 16]).unwrap();
        std::fs::write(dir.join("d-flat.vmdk"), vec![0u8; 1 << 16]).unwrap();
        let desc = dir.join("d.vmdk");
        std::fs::write(
            &desc,
            "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n\
             createType=\"monolithicFlat\"\nRW 128 FLAT \"d-flat.vmdk\" 0\n",
        )
        .unwrap();
        let opts = AttachOptions::default()
            .format(Format::Vmdk)
            .allow_vmdk_extents(true)
            .readonly(true)
            .runtime_dir(&dir);
        let chain = crate::judge_image(&desc, &opts).unwrap();
        // Judged; now swapped.
        std::fs::remove_file(dir.join("d-flat.vmdk")).unwrap();
        std::os::unix::fs::symlink(&secret, dir.join("d-flat.vmdk")).unwrap();
        let r: Arc<dyn CommandRunner> = Arc::new(vmcraft_block::SystemRunner::new());
        let e = StorageDaemon::start_chain(&r, &chain, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused, "{e}");
        assert!(e.to_string().contains("qemu-storage-daemon (pid"), "{e}");
        assert!(e.to_string().contains("secret"), "{e}");
        // Nothing left: no daemon, no mount, no runtime directory.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("vmcraft-qsd-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(vmcraft_block::testing::leaks(env.tag()).is_empty());
    }

    fn runner(fake: FakeRunner) -> (Arc<FakeRunner>, Arc<dyn CommandRunner>) {
        let fake = Arc::new(fake);
        let dynr: Arc<dyn CommandRunner> = fake.clone();
        (fake, dynr)
    }

    #[test]
    fn a_failed_start_names_qemu_and_leaves_no_directory() {
        let parent = tempfile::tempdir().unwrap();
        let fake = FakeRunner::new();
        fake.expect_prefix(
            &["qemu-storage-daemon"],
            Response::fail(
                1,
                "qemu-storage-daemon: --blockdev {...}: Image is not in qcow2 format",
            ),
        );
        let (fake, r) = runner(fake);
        let opts = AttachOptions::default().runtime_dir(parent.path());
        let (_img_dir, img) = image(Format::Qcow2);
        let e = StorageDaemon::start(&r, &img, Format::Qcow2, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DaemonFailed);
        assert_eq!(
            e.to_string(),
            format!(
                "attach: {}: qemu-storage-daemon could not export the qcow2 image",
                img.display()
            )
        );
        assert!(
            vmcraft_block::error_chain(&e).contains("Image is not in qcow2 format"),
            "{}",
            vmcraft_block::error_chain(&e)
        );
        fake.verify();
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn lock_conflicts_are_busy_and_missing_tools_are_reported() {
        let parent = tempfile::tempdir().unwrap();
        let opts = AttachOptions::default().runtime_dir(parent.path());
        let fake = FakeRunner::new();
        fake.expect_prefix(
            &["qemu-storage-daemon"],
            Response::fail(1, "qemu-storage-daemon: --blockdev {}: Failed to get \"write\" lock\nIs another process using the image [/img/x]?"),
        );
        let (_, r) = runner(fake);
        let (_img_dir, img) = image(Format::Raw);
        let e = StorageDaemon::start(&r, &img, Format::Raw, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy);

        let fake = FakeRunner::new();
        fake.expect_prefix(
            &["qemu-storage-daemon"],
            Response::error(vmcraft_block::ErrorKind::ToolMissing, "not found"),
        );
        let (_, r) = runner(fake);
        let (_img_dir, img) = image(Format::Raw);
        let e = StorageDaemon::start(&r, &img, Format::Raw, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ToolMissing);
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_start_that_never_mounts_the_export_times_out_and_stops_the_daemon() {
        let parent = tempfile::tempdir().unwrap();
        let opts = AttachOptions::default()
            .runtime_dir(parent.path())
            .ready_timeout(Duration::from_millis(20));
        let fake = FakeRunner::new();
        // A daemon that runs but never exports anything.
        fake.expect_prefix(&["qemu-storage-daemon"], Response::running());
        let (fake, r) = runner(fake);
        let (_img_dir, img) = image(Format::Raw);
        let e = StorageDaemon::start(&r, &img, Format::Raw, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        let msg = e.to_string();
        assert!(msg.contains("qemu-storage-daemon (pid "), "{msg}");
        assert!(msg.contains("did not export"), "{msg}");
        let pid = msg
            .split("(pid ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "the daemon was stopped and reaped"
        );
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
        fake.verify();
    }

    #[test]
    fn a_daemon_that_dies_while_starting_reports_its_stderr() {
        let parent = tempfile::tempdir().unwrap();
        let opts = AttachOptions::default().runtime_dir(parent.path());
        let fake = FakeRunner::new();
        fake.expect_prefix(
            &["qemu-storage-daemon"],
            Response::process(Command::new("sh").args([
                "-c",
                "echo 'qemu-storage-daemon: --export: Failed to mount: Permission denied' >&2; \
                 kill -9 $$",
            ])),
        );
        let (_, r) = runner(fake);
        let (_img_dir, img) = image(Format::Raw);
        let e = StorageDaemon::start(&r, &img, Format::Raw, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DaemonFailed);
        let chain = vmcraft_block::error_chain(&e);
        assert!(chain.contains("failed with signal 9"), "{chain}");
        assert!(
            chain.ends_with("Failed to mount: Permission denied"),
            "{chain}"
        );
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_daemon_runs_in_its_directory_and_names_the_socket_relatively() {
        let paths = DaemonPaths::in_dir(Path::new(&format!("/{}", "d".repeat(150))));
        let chain = ImageChain::single(Path::new("/img/a.raw"), Format::Raw);
        let cmd = daemon_command(&chain, &AttachOptions::default(), &paths).unwrap();
        assert_eq!(cmd.get_current_dir(), Some(paths.dir.as_path()));
        assert!(
            cmd.argv()
                .contains(&"socket,id=vmcraft-qmp,path=qmp.sock,server=on,wait=off".into())
        );
    }
}
