//! The entry point: [`attach`] an image and get an [`Attachment`]: the whole-disk
//! device, its partition devices, the backend used and why, the format; detached
//! on drop or by [`Attachment::detach`], which reports errors.
//!
//! Detaching never pulls a disk out from under a mount: while anything on the
//! device or its partitions is mounted (see `busy.rs`), a detach is refused with
//! [`ErrorKind::Busy`] and the device, its loop device and its serving process
//! are kept alive. [`Attachment::try_detach`] leaves the attachment with the
//! caller to try again; [`Attachment::detach`] and the drop hand it to the kept
//! list ([`crate::kept_attachments`]), where [`crate::release_kept`] detaches it
//! once nothing uses it any more, and the process's exit ends it otherwise.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vmcraft_block::{
    BlockDevice, Clock, CommandRunner, DeviceNode, KernelPartition, LoopDevice, LoopOptions,
    SystemClock, SystemRunner,
};

use crate::chain;
use crate::daemon::StorageDaemon;
use crate::error::{Error, ErrorKind, Result};
use crate::format::{Format, ImageInfo};
use crate::nbd::{self, NbdConnection, NbdHost};
use crate::options::{AttachOptions, Backend};
use crate::partitions;

/// What holds the device open, per backend. Field order in the variants is the
/// teardown order.
enum Inner {
    Loop(LoopDevice),
    Daemon {
        lo: LoopDevice,
        daemon: StorageDaemon,
    },
    Nbd {
        node: DeviceNode,
        conn: NbdConnection,
    },
}

impl Inner {
    fn node(&self) -> &DeviceNode {
        match self {
            Inner::Loop(lo) | Inner::Daemon { lo, .. } => lo.node(),
            Inner::Nbd { node, .. } => node,
        }
    }
}

/// An image attached as a kernel block device.
///
/// It is a [`BlockDevice`] itself (reads and writes go to the whole-disk node; an
/// I/O error after the serving daemon died says so). Dropping it detaches: the
/// partitions, the loop or NBD device, the daemon, the runtime files; unless
/// something on it is still mounted: then nothing is detached, the attachment
/// is kept (logged as an error) and [`crate::release_kept`] finishes the job
/// after the unmount.
///
/// ```no_run
/// use vmcraft_nbd::{attach, AttachOptions, Backend};
/// let a = attach("disk.qcow2", AttachOptions::default())?;
/// println!("{} ({}, {} backend: {})", a.device().display(), a.format(), a.backend(),
///     a.backend_reason());
/// for p in a.partitions() {
///     println!("  {} {} bytes at {}", p.node.display(), p.size, p.start);
/// }
/// a.detach()?;
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub struct Attachment {
    image: PathBuf,
    info: ImageInfo,
    backend: Backend,
    reason: String,
    readonly: bool,
    /// Read-only image under a throw-away overlay (the device itself is writable).
    overlay: bool,
    /// The whole-disk node, e.g. `/dev/loop3` (kept after a detach, for messages).
    device: PathBuf,
    partitions: Vec<KernelPartition>,
    partition_problem: Option<String>,
    /// `None` once detached.
    inner: Option<Inner>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("image", &self.image)
            .field("device", &self.device)
            .field("attached", &self.inner.is_some())
            .field("format", &self.info.format)
            .field("backend", &self.backend)
            .field("readonly", &self.readonly)
            .field("overlay", &self.overlay)
            .field("partitions", &self.partitions.len())
            .finish()
    }
}

/// How long a detach waits for a claim by the kernel alone to go before it is
/// refused as busy (see `Attachment::in_use_settled`).
const CLAIM_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Attach `image` as a block device with the real command runner.
///
/// The image's header is read and checked in-process first (format, backing
/// files, truncation, garbage in the tables); then the backend makes the device;
/// then the partition table is read in-process and the kernel's partition nodes
/// are created with BLKPG (where the kernel did not make them itself) and waited
/// for. Anything that fails undoes everything done so far.
///
/// ```no_run
/// use vmcraft_nbd::{attach, AttachOptions, Format};
/// let a = attach("disk.vmdk", AttachOptions::default().readonly(true))?;
/// assert_eq!(a.format(), Format::Vmdk);
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn attach(image: impl AsRef<Path>, options: AttachOptions) -> Result<Attachment> {
    attach_with(Arc::new(SystemRunner::new()), image, options)
}

/// [`attach`] with a given command runner (qemu-storage-daemon, qemu-nbd and
/// modprobe run through it).
///
/// ```no_run
/// use std::sync::Arc;
/// use vmcraft_block::SystemRunner;
/// use vmcraft_nbd::{attach_with, AttachOptions, Backend};
/// let a = attach_with(Arc::new(SystemRunner::new()), "disk.vhdx",
///     AttachOptions::default().backend(Backend::StorageDaemon))?;
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn attach_with(
    runner: Arc<dyn CommandRunner>,
    image: impl AsRef<Path>,
    options: AttachOptions,
) -> Result<Attachment> {
    let host = NbdHost::system(options.nbd_lock_dir.as_deref());
    attach_on(runner, &SystemClock, &host, image.as_ref(), options)
}

fn attach_on(
    runner: Arc<dyn CommandRunner>,
    clock: &dyn Clock,
    host: &NbdHost,
    image: &Path,
    options: AttachOptions,
) -> Result<Attachment> {
    // The canonical path: qemu and the loop device get a name with no `..` or
    // symlinks in it. A path that cannot be resolved is reported by the inspection.
    let image = match std::fs::canonicalize(image) {
        Ok(p) => p,
        Err(_) => std::path::absolute(image)
            .map_err(|e| Error::io("attach", image.display(), "resolving the path", e))?,
    };
    let subject = image.display().to_string();
    options.validate(&subject)?;
    let chain = chain::judge_image(&image, &options)?;
    let info = chain.top().info.clone();
    if info.marked_corrupt && !options.readonly {
        return Err(Error::new(
            ErrorKind::InvalidImage,
            "attach",
            &subject,
            "qcow2 image is marked corrupt: attach it read-only, or repair it with \
             `qemu-img check -r all`",
        ));
    }
    let (backend, reason) = choose_backend(&runner, host, &subject, &info, &options)?;
    tracing::info!(image = %subject, format = %info.format, %backend, reason = %reason,
        readonly = options.readonly, "attaching");

    let inner = match backend {
        Backend::Loop => Inner::Loop(attach_loop(&image, &subject, options.readonly)?),
        Backend::StorageDaemon => {
            let daemon = StorageDaemon::start_chain(&runner, &chain, &options)?;
            // Over an overlay the device is writable (a journal replays into the
            // overlay); the image below is opened read-only by qemu.
            let lo = attach_loop(
                daemon.export_path(),
                &subject,
                options.readonly && !options.overlay,
            )?;
            Inner::Daemon { lo, daemon }
        }
        Backend::KernelNbd => {
            let conn = NbdConnection::connect_chain(&runner, clock, host, &chain, &options)?;
            let node = DeviceNode::open(conn.device(), options.readonly).map_err(|e| {
                Error::block(
                    "attach",
                    &subject,
                    format!("opening {}", conn.device().display()),
                    e,
                )
            })?;
            // As a loop device does (LoopDevice::attach): udev leaves the
            // table to us rather than re-reading it when a writer closes.
            if let Err(e) = node.hold_shared_lock() {
                tracing::warn!(device = %conn.device().display(), error = %e,
                    "no shared lock on the NBD device; udev may re-read its partition table under us");
            }
            Inner::Nbd { node, conn }
        }
        Backend::Auto => unreachable!("choose_backend resolves auto"),
    };
    let mut att = Attachment {
        image,
        info,
        backend,
        reason,
        readonly: options.readonly,
        overlay: options.overlay,
        device: inner.node().path().to_path_buf(),
        partitions: Vec::new(),
        partition_problem: None,
        inner: Some(inner),
    };
    // On error `att` is dropped here, which detaches everything.
    att.probe_first_sector()?;
    att.refresh_partitions()?;
    tracing::info!(image = %subject, device = %att.device().display(),
        partitions = att.partitions.len(), "attached");
    Ok(att)
}

fn attach_loop(file: &Path, subject: &str, readonly: bool) -> Result<LoopDevice> {
    let opts = LoopOptions {
        readonly,
        partscan: true,
        ..Default::default()
    };
    LoopDevice::attach(file, opts).map_err(|e| {
        Error::block(
            "attach",
            subject,
            format!("binding {} to a loop device", file.display()),
            e,
        )
    })
}

/// Resolve [`Backend::Auto`] and check an explicit choice; say why.
fn choose_backend(
    runner: &Arc<dyn CommandRunner>,
    host: &NbdHost,
    subject: &str,
    info: &ImageInfo,
    options: &AttachOptions,
) -> Result<(Backend, String)> {
    match options.backend {
        Backend::Loop if info.format != Format::Raw => Err(Error::new(
            ErrorKind::InvalidArgument,
            "attach",
            subject,
            format!(
                "the loop backend attaches raw images only, and this one is {} (use the \
                 storage-daemon or kernel-nbd backend)",
                info.format
            ),
        )),
        Backend::Loop => Ok((Backend::Loop, "loop backend requested".into())),
        Backend::StorageDaemon => Ok((
            Backend::StorageDaemon,
            "storage-daemon backend requested".into(),
        )),
        Backend::KernelNbd => {
            nbd::ensure_module(runner, host, options.ready_timeout)?;
            Ok((Backend::KernelNbd, "kernel-nbd backend requested".into()))
        }
        Backend::Auto if options.overlay => Ok((
            Backend::StorageDaemon,
            format!(
                "auto: read-only {} image under a throw-away overlay, qemu-storage-daemon \
                 fuse export",
                info.format
            ),
        )),
        Backend::Auto if info.format == Format::Raw => {
            Ok((Backend::Loop, "auto: raw image, loop device".into()))
        }
        // Every device connected or locked by another attach: waiting for one
        // (the connect retries for ~24 s) would stall where the storage daemon
        // answers at once. A device freed meanwhile is simply not used.
        Backend::Auto if host.is_available() && nbd::claim_device(host).is_err() => Ok((
            Backend::StorageDaemon,
            format!(
                "auto: {} image and every nbd device in use, qemu-storage-daemon fuse export",
                info.format
            ),
        )),
        Backend::Auto if host.is_available() => Ok((
            Backend::KernelNbd,
            format!(
                "auto: {} image and {} exists, kernel nbd",
                info.format,
                host.device_path(0).display()
            ),
        )),
        Backend::Auto if host.module_loadable() => {
            match nbd::ensure_module(runner, host, options.ready_timeout) {
                Ok(()) => Ok((
                    Backend::KernelNbd,
                    format!("auto: {} image, nbd module loaded, kernel nbd", info.format),
                )),
                Err(e) => {
                    tracing::warn!(error = %vmcraft_block::error_chain(&e),
                        "loading the nbd module failed; using qemu-storage-daemon");
                    Ok((
                        Backend::StorageDaemon,
                        format!(
                            "auto: {} image, the nbd module failed to load, qemu-storage-daemon \
                             fuse export",
                            info.format
                        ),
                    ))
                }
            }
        }
        Backend::Auto => Ok((
            Backend::StorageDaemon,
            format!(
                "auto: {} image and no {}, qemu-storage-daemon fuse export",
                info.format,
                host.device_path(0).display()
            ),
        )),
    }
}

impl Attachment {
    fn inner(&self) -> &Inner {
        self.inner.as_ref().unwrap_or_else(|| {
            panic!(
                "the attachment of {} ({}) was detached",
                self.image.display(),
                self.device.display()
            )
        })
    }

    /// The whole device node as a block device, or an error once detached.
    fn live_node(&self, call: &'static str) -> vmcraft_block::Result<&DeviceNode> {
        match &self.inner {
            Some(i) => Ok(i.node()),
            None => Err(vmcraft_block::Error::new(
                vmcraft_block::ErrorKind::NotFound,
                call,
                self.device.display(),
                format!("detached from {}", self.image.display()),
            )),
        }
    }

    /// The whole-disk device node, e.g. `/dev/loop3` or `/dev/nbd0` (after a
    /// detach, the one it was).
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The open whole-disk device.
    ///
    /// # Panics
    ///
    /// After a successful [`Attachment::try_detach`]: there is no device any more.
    pub fn node(&self) -> &DeviceNode {
        self.inner().node()
    }

    /// Whether the image is still attached ([`Attachment::try_detach`] has not
    /// succeeded yet).
    pub fn is_attached(&self) -> bool {
        self.inner.is_some()
    }

    /// The partitions, with their device nodes (which exist), as of attach time
    /// or the last [`Attachment::refresh_partitions`].
    pub fn partitions(&self) -> &[KernelPartition] {
        &self.partitions
    }

    /// The partition device paths, in partition-number order.
    pub fn partition_paths(&self) -> Vec<&Path> {
        self.partitions.iter().map(|p| p.node.as_path()).collect()
    }

    /// Why the partition table could not be read, when it could not (the image is
    /// attached anyway, with no partitions, so that it can be repaired).
    pub fn partition_problem(&self) -> Option<&str> {
        self.partition_problem.as_deref()
    }

    /// Read the first sector, so that an image qemu cannot read (garbage in tables
    /// the header check does not cover) fails the attach with a clear error rather
    /// than somewhere in the partition code.
    fn probe_first_sector(&self) -> Result<()> {
        let mut sector = [0u8; 512];
        let size = self
            .size()
            .map_err(|e| Error::block("attach", self.image.display(), "device size", e))?;
        if size < 512 {
            return Ok(());
        }
        self.node().read_at(&mut sector, 0).map_err(|e| {
            let err = Error::block(
                "attach",
                self.image.display(),
                format!(
                    "the first sector cannot be read through {} (is the {} image damaged? \
                     try `qemu-img check`)",
                    self.device().display(),
                    self.info.format
                ),
                e,
            );
            self.explain_error(err)
        })
    }

    /// Read the partition table again and bring the kernel's partition nodes in
    /// line with it (after writing a new table through the device).
    ///
    /// ```no_run
    /// use vmcraft_nbd::{attach, AttachOptions};
    /// let mut a = attach("blank.img", AttachOptions::default())?;
    /// vmcraft_part::part_disk(&a, "gpt")?;
    /// assert_eq!(a.refresh_partitions()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh_partitions(&mut self) -> Result<&[KernelPartition]> {
        let subject = self.image.display().to_string();
        let node = self.live_node("refresh_partitions").map_err(|e| {
            Error::block("refresh_partitions", &subject, "the image is detached", e)
        })?;
        match partitions::sync(node, &subject) {
            Ok(parts) => {
                self.partitions = parts;
                self.partition_problem = None;
            }
            Err(partitions::Problem::Unreadable(msg)) => {
                tracing::warn!(image = %subject, problem = %msg,
                    "partition table unreadable; attached without partitions");
                self.partitions.clear();
                self.partition_problem = Some(msg);
            }
            Err(partitions::Problem::Fatal(e)) => {
                return Err(self.explain_error(e));
            }
        }
        Ok(&self.partitions)
    }

    /// The backend that made the device (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why that backend was chosen (also logged at attach time).
    pub fn backend_reason(&self) -> &str {
        &self.reason
    }

    /// The image format (given, or detected).
    pub fn format(&self) -> Format {
        self.info.format
    }

    /// What the image's header said.
    pub fn image_info(&self) -> &ImageInfo {
        &self.info
    }

    /// The image file (canonical absolute path).
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// Whether attached read-only: the image is never written (with an overlay,
    /// writes through the kernel device land in the overlay; this handle's own
    /// `write_at` is refused either way).
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// Whether the read-only image is under a throw-away overlay
    /// ([`crate::AttachOptions::overlay`]).
    pub fn has_overlay(&self) -> bool {
        self.overlay
    }

    /// The process serving the image: qemu-storage-daemon (storage-daemon
    /// backend) or the qemu-nbd server (kernel NBD); `None` for a loop device
    /// and once detached.
    pub fn daemon_pid(&self) -> Option<u32> {
        match self.inner.as_ref()? {
            Inner::Daemon { daemon, .. } => Some(daemon.pid()),
            Inner::Nbd { conn, .. } => Some(conn.server_pid()),
            Inner::Loop(_) => None,
        }
    }

    /// The file the loop device is bound to: the image itself, or the storage
    /// daemon's FUSE export (`None` for kernel NBD and once detached).
    pub fn loop_backing_file(&self) -> Option<&Path> {
        match self.inner.as_ref()? {
            Inner::Loop(lo) | Inner::Daemon { lo, .. } => Some(lo.backing_file()),
            Inner::Nbd { .. } => None,
        }
    }

    /// The storage daemon's private directory (its FUSE export and QMP socket
    /// live there); storage-daemon backend only, `None` once detached.
    pub fn runtime_dir(&self) -> Option<&Path> {
        match self.inner.as_ref()? {
            Inner::Daemon { daemon, .. } => Some(daemon.runtime_dir()),
            _ => None,
        }
    }

    /// Check that whatever serves the device is still there: the storage daemon
    /// is running, the NBD device is connected, the loop device still bound.
    ///
    /// ```no_run
    /// use vmcraft_nbd::{attach, AttachOptions, ErrorKind};
    /// let a = attach("disk.qcow2", AttachOptions::default())?;
    /// if let Err(e) = a.check() {
    ///     assert_eq!(e.kind(), ErrorKind::DaemonGone);
    /// }
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn check(&self) -> Result<()> {
        match self.dead_reason() {
            Some(why) => Err(Error::new(
                ErrorKind::DaemonGone,
                "attachment",
                self.image.display(),
                why,
            )),
            None => Ok(()),
        }
    }

    fn dead_reason(&self) -> Option<String> {
        let dev = self.device().display();
        let Some(inner) = self.inner.as_ref() else {
            return Some(format!("{dev} was detached"));
        };
        match inner {
            Inner::Daemon { daemon, .. } if !daemon.is_alive() => Some(format!(
                "qemu-storage-daemon (pid {}) serving this image has exited; {dev} can no \
                 longer reach the image",
                daemon.pid()
            )),
            Inner::Nbd { conn, .. } if !conn.is_connected() => {
                Some(format!("{dev} was disconnected from its qemu-nbd server"))
            }
            Inner::Loop(lo) | Inner::Daemon { lo, .. } => {
                let sys = self.node().sysfs_dir().join("loop/backing_file");
                // A daemon's export may be reached through /proc/PID/root; the
                // kernel names it by its own mount point.
                let mut names = vec![lo.backing_file().to_string_lossy().into_owned()];
                if let Inner::Daemon { daemon, .. } = inner {
                    names.push(daemon.export_mount_point().to_string_lossy().into_owned());
                }
                let bound = std::fs::read_to_string(sys).is_ok_and(|b| {
                    let b = b.trim_end_matches('\n');
                    names.iter().any(|n| b == n || b.contains(n.as_str()))
                });
                (!bound).then(|| {
                    format!(
                        "{dev} is no longer bound to {}",
                        lo.backing_file().display()
                    )
                })
            }
            _ => None,
        }
    }

    /// Turn an I/O error on the device into a clear error when the server is gone.
    fn explain_error(&self, e: Error) -> Error {
        match self.dead_reason() {
            Some(why) => Error::new(ErrorKind::DaemonGone, "attach", self.image.display(), why)
                .with_source(e),
            None => e,
        }
    }

    fn explain_block(&self, call: &'static str, e: vmcraft_block::Error) -> vmcraft_block::Error {
        match self.dead_reason() {
            Some(why) => vmcraft_block::Error::new(
                vmcraft_block::ErrorKind::Io,
                call,
                self.device().display(),
                why,
            )
            .with_source(e),
            None => e,
        }
    }

    /// Why the device can not be detached now, if it cannot: one of its
    /// partitions (or the whole disk) is mounted here, claimed by the kernel
    /// (mounted in another mount namespace, swap, md, device-mapper), held by a
    /// stacked device, or mounted through a FUSE driver running from it. `None`
    /// when nothing uses it (or it is detached).
    ///
    /// ```no_run
    /// use vmcraft_nbd::{attach, AttachOptions};
    /// let a = attach("disk.qcow2", AttachOptions::default())?;
    /// if let Some(why) = a.in_use() {
    ///     println!("not detaching yet: {why}");
    /// }
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn in_use(&self) -> Option<String> {
        self.inner.as_ref()?;
        crate::busy::in_use(&self.nodes())
    }

    /// The partition nodes and the whole-disk node.
    fn nodes(&self) -> Vec<PathBuf> {
        let mut nodes: Vec<PathBuf> = self.partitions.iter().map(|p| p.node.clone()).collect();
        nodes.push(self.device.clone());
        nodes
    }

    /// [`Attachment::in_use`], giving a claim by the kernel alone
    /// [`CLAIM_GRACE`] to go: a process that has just made a mount namespace of
    /// its own (another session's command line, a sandbox) holds copies of
    /// every mount for a moment, this device's included, and drops them.
    fn in_use_settled(&self) -> Option<String> {
        self.inner.as_ref()?;
        let nodes = self.nodes();
        let (why, passing) = crate::busy::in_use_why(&nodes)?;
        if !passing {
            return Some(why);
        }
        let mut last = Some(why);
        let _ = vmcraft_block::wait_until("a kernel claim to go", CLAIM_GRACE, || {
            last = crate::busy::in_use_why(&nodes).map(|(w, _)| w);
            last.is_none()
        });
        last
    }

    /// What is kept alive while the device is in use, for messages.
    fn kept_parts(&self) -> String {
        let dev = self.device.display();
        match self.inner.as_ref() {
            Some(Inner::Daemon { daemon, .. }) => format!(
                "{dev} and the qemu-storage-daemon (pid {}) exporting the image are kept",
                daemon.pid()
            ),
            Some(Inner::Nbd { conn, .. }) => format!(
                "{dev} and its qemu-nbd server (pid {}) are kept",
                conn.server_pid()
            ),
            _ => format!("{dev} is kept"),
        }
    }

    /// Detach now, unless something uses the device: flush, drop the partitions,
    /// release the device, stop the daemon, remove runtime files. Everything is
    /// attempted even after a failure; the first error is returned (the rest are
    /// logged).
    ///
    /// While a partition (or the whole disk) is mounted, or otherwise in use (see
    /// [`Attachment::in_use`]), nothing is done and the error is
    /// [`ErrorKind::Busy`], naming the node and its mount point: the device and
    /// whatever serves it stay as they are, so the mount keeps working. Unmount,
    /// then call it again. After it succeeded the attachment is detached: drop
    /// it ([`Attachment::node`] panics; reads and writes fail).
    ///
    /// ```no_run
    /// use vmcraft_nbd::{attach, AttachOptions, ErrorKind};
    /// let mut a = attach("disk.qcow2", AttachOptions::default())?;
    /// // ... mount a partition, forget to unmount it ...
    /// match a.try_detach() {
    ///     Err(e) if e.kind() == ErrorKind::Busy => eprintln!("{e}; unmount first"),
    ///     r => r?,
    /// }
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn try_detach(&mut self) -> Result<()> {
        if self.inner.is_none() {
            return Ok(());
        }
        if let Some(why) = self.in_use_settled() {
            return Err(Error::new(
                ErrorKind::Busy,
                "detach",
                self.image.display(),
                format!(
                    "{why}: unmount it first; until then {} so that it keeps working",
                    self.kept_parts()
                ),
            ));
        }
        self.teardown()
    }

    /// Detach now (see [`Attachment::try_detach`]). When something uses the
    /// device, the error is [`ErrorKind::Busy`] and the attachment is kept, not
    /// torn down: the mount keeps working, [`crate::kept_attachments`] lists it,
    /// and [`crate::release_kept`] detaches it once it is unmounted (otherwise it
    /// lasts as long as this process).
    pub fn detach(mut self) -> Result<()> {
        match self.try_detach() {
            Err(e) if e.kind() == ErrorKind::Busy && self.inner.is_some() => {
                let msg = format!(
                    "{}; the attachment is kept until it is no longer in use \
                     (vmcraft_nbd::release_kept)",
                    e.message()
                );
                crate::kept::keep(self.take());
                Err(Error::new(ErrorKind::Busy, "detach", e.subject(), msg))
            }
            r => r,
        }
    }

    /// Move everything out, leaving `self` detached.
    fn take(&mut self) -> Attachment {
        Attachment {
            image: self.image.clone(),
            info: self.info.clone(),
            backend: self.backend,
            reason: std::mem::take(&mut self.reason),
            readonly: self.readonly,
            overlay: self.overlay,
            device: self.device.clone(),
            partitions: std::mem::take(&mut self.partitions),
            partition_problem: self.partition_problem.take(),
            inner: self.inner.take(),
        }
    }

    fn teardown(&mut self) -> Result<()> {
        let Some(inner) = self.inner.take() else {
            return Ok(());
        };
        let subject = self.image.display().to_string();
        let mut first: Option<Error> = None;
        let mut note = |e: Error| {
            tracing::warn!(image = %subject, error = %vmcraft_block::error_chain(&e), "detach");
            first.get_or_insert(e);
        };
        let node = inner.node();
        let device = node.path().display().to_string();
        if !self.readonly
            && let Err(e) = node.flush()
        {
            let why = match &inner {
                Inner::Daemon { daemon, .. } if !daemon.is_alive() => format!(
                    "flushing {device}: qemu-storage-daemon (pid {}) has exited; writes not \
                         yet in the image are lost",
                    daemon.pid()
                ),
                _ => format!("flushing {device}"),
            };
            note(Error::block("detach", &subject, why, e));
        }
        match inner {
            Inner::Loop(lo) => {
                if let Err(e) = lo.detach() {
                    note(Error::block(
                        "detach",
                        &subject,
                        format!("detaching {device}"),
                        e,
                    ));
                }
            }
            Inner::Daemon { lo, daemon } => {
                if let Err(e) = lo.detach() {
                    note(Error::block(
                        "detach",
                        &subject,
                        format!("detaching {device}"),
                        e,
                    ));
                }
                if let Err(e) = daemon.stop() {
                    note(e);
                }
            }
            Inner::Nbd { node, conn } => {
                // The nbd driver does not drop partitions on disconnect. Best
                // effort here (a prober such as udev's blkid may hold one for a
                // moment, and udev may make them again from the table when the
                // node is closed): the disconnect drops what is left and fails
                // if it cannot.
                for p in self.partitions.iter().rev() {
                    if let Err(e) = node.delete_partition(p.number) {
                        tracing::debug!(partition = %p.node.display(),
                            error = %vmcraft_block::error_chain(&e),
                            "partition left for the disconnect to drop");
                    }
                }
                drop(node);
                if let Err(e) = conn.disconnect() {
                    note(e);
                }
            }
        }
        self.partitions.clear();
        tracing::info!(image = %subject, device = %device, "detached");
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if self.inner.is_none() {
            return;
        }
        if let Some(why) = self.in_use() {
            // Tearing down now would pull the disk out from under the mount and
            // lose what it has not written: keep it, loudly.
            tracing::error!(image = %self.image.display(), device = %self.device.display(),
                reason = %why, "attachment dropped while in use; {}; kept until it is \
                released (vmcraft_nbd::release_kept) or this process exits", self.kept_parts());
            crate::kept::keep(self.take());
            return;
        }
        if let Err(e) = self.teardown() {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "detach on drop");
        }
    }
}

impl BlockDevice for Attachment {
    fn size(&self) -> vmcraft_block::Result<u64> {
        self.live_node("size")?
            .size()
            .map_err(|e| self.explain_block("size", e))
    }

    fn logical_sector_size(&self) -> vmcraft_block::Result<u32> {
        self.live_node("logical_sector_size")?.logical_sector_size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> vmcraft_block::Result<()> {
        self.live_node("read")?
            .read_at(buf, offset)
            .map_err(|e| self.explain_block("read", e))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> vmcraft_block::Result<()> {
        if self.overlay {
            // The device is writable (for journal replay), the drive is not.
            return Err(vmcraft_block::Error::new(
                vmcraft_block::ErrorKind::ReadOnly,
                "write",
                self.device.display(),
                "the drive is read-only (writes through the kernel device only reach its \
                 throw-away overlay)",
            ));
        }
        self.live_node("write")?
            .write_at(buf, offset)
            .map_err(|e| self.explain_block("write", e))
    }

    fn flush(&self) -> vmcraft_block::Result<()> {
        self.live_node("flush")?
            .flush()
            .map_err(|e| self.explain_block("flush", e))
    }

    fn name(&self) -> String {
        self.device.display().to_string()
    }

    fn physical_sector_size(&self) -> vmcraft_block::Result<u32> {
        self.live_node("physical_sector_size")?
            .physical_sector_size()
    }

    fn is_read_only(&self) -> vmcraft_block::Result<bool> {
        self.live_node("is_read_only")?.is_read_only()
    }

    fn host_path(&self) -> Option<&Path> {
        self.inner.as_ref().map(|_| self.device())
    }

    fn kernel_node(&self) -> Option<&DeviceNode> {
        self.inner.as_ref().map(Inner::node)
    }

    fn write_zeroes(&self, offset: u64, len: u64) -> vmcraft_block::Result<()> {
        self.live_node("write_zeroes")?
            .write_zeroes(offset, len)
            .map_err(|e| self.explain_block("write_zeroes", e))
    }

    fn discard(&self, offset: u64, len: u64) -> vmcraft_block::Result<()> {
        self.live_node("discard")?
            .discard(offset, len)
            .map_err(|e| self.explain_block("discard", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcraft_block::testing::FakeRunner;

    fn fake() -> Arc<dyn CommandRunner> {
        Arc::new(FakeRunner::new())
    }

    fn info(format: Format) -> ImageInfo {
        let d = vmcraft_block::MemoryDisk::new(1 << 20);
        let mut i = crate::format::inspect_device(&d, Some(Format::Raw)).unwrap();
        i.format = format;
        i
    }

    fn host_without_nbd(dir: &Path) -> NbdHost {
        NbdHost {
            sys_block: dir.join("sys/block"),
            dev_dir: PathBuf::from("/dev"),
            lock_dir: dir.join("locks"),
            modules_dir: dir.join("modules"),
            proc_dir: dir.join("proc"),
        }
    }

    #[test]
    fn auto_picks_loop_for_raw_and_the_daemon_without_nbd() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_without_nbd(dir.path());
        let o = AttachOptions::default();
        let (b, why) = choose_backend(&fake(), &host, "/i", &info(Format::Raw), &o).unwrap();
        assert_eq!(
            (b, why.as_str()),
            (Backend::Loop, "auto: raw image, loop device")
        );
        let (b, why) = choose_backend(&fake(), &host, "/i", &info(Format::Qcow2), &o).unwrap();
        assert_eq!(b, Backend::StorageDaemon);
        assert_eq!(
            why,
            "auto: qcow2 image and no /dev/nbd0, qemu-storage-daemon fuse export"
        );
    }

    #[test]
    fn auto_picks_nbd_where_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_without_nbd(dir.path());
        std::fs::create_dir_all(host.sys_block.join("nbd0")).unwrap();
        let (b, why) = choose_backend(
            &fake(),
            &host,
            "/i",
            &info(Format::Vdi),
            &AttachOptions::default(),
        )
        .unwrap();
        assert_eq!(b, Backend::KernelNbd);
        assert_eq!(why, "auto: vdi image and /dev/nbd0 exists, kernel nbd");
    }

    #[test]
    fn auto_takes_the_daemon_when_every_nbd_device_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_without_nbd(dir.path());
        for n in 0..2 {
            let d = host.sys_block.join(format!("nbd{n}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("pid"), "4242\n").unwrap();
        }
        let o = AttachOptions::default();
        let (b, why) = choose_backend(&fake(), &host, "/i", &info(Format::Qcow2), &o).unwrap();
        assert_eq!(b, Backend::StorageDaemon);
        assert_eq!(
            why,
            "auto: qcow2 image and every nbd device in use, qemu-storage-daemon fuse export"
        );
        // One device freed: kernel nbd again.
        std::fs::remove_file(host.sys_block.join("nbd1/pid")).unwrap();
        let (b, _) = choose_backend(&fake(), &host, "/i", &info(Format::Qcow2), &o).unwrap();
        assert_eq!(b, Backend::KernelNbd);
    }

    #[test]
    fn auto_loads_the_module_when_installed_and_falls_back_when_that_fails() {
        use vmcraft_block::testing::Response;
        let dir = tempfile::tempdir().unwrap();
        let host = host_without_nbd(dir.path());
        std::fs::create_dir_all(&host.modules_dir).unwrap();
        std::fs::write(
            host.modules_dir.join("modules.dep"),
            "kernel/drivers/block/nbd.ko.xz:\n",
        )
        .unwrap();
        let f = Arc::new(FakeRunner::new());
        f.expect(
            &["modprobe", "nbd", "max_part=16"],
            Response::fail(1, "modprobe: FATAL"),
        );
        let r: Arc<dyn CommandRunner> = f.clone();
        let (b, why) = choose_backend(
            &r,
            &host,
            "/i",
            &info(Format::Vpc),
            &AttachOptions::default(),
        )
        .unwrap();
        assert_eq!(b, Backend::StorageDaemon);
        assert!(why.contains("the nbd module failed to load"), "{why}");
        f.verify();
    }

    #[test]
    fn explicit_choices() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_without_nbd(dir.path());
        let o = AttachOptions::default().backend(Backend::Loop);
        let e = choose_backend(&fake(), &host, "/i", &info(Format::Qcow2), &o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.to_string()
                .contains("the loop backend attaches raw images only")
        );
        let o = AttachOptions::default().backend(Backend::StorageDaemon);
        let (b, _) = choose_backend(&fake(), &host, "/i", &info(Format::Raw), &o).unwrap();
        assert_eq!(b, Backend::StorageDaemon);
        let o = AttachOptions::default().backend(Backend::KernelNbd);
        let e = choose_backend(&fake(), &host, "/i", &info(Format::Raw), &o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.to_string()
                .contains("no nbd devices, and no nbd kernel module"),
            "{e}"
        );
    }
}
