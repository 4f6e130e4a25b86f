//! [`Config`]: how a [`crate::VMCraft`] handle behaves: cache lifetimes, how images
//! are attached, the retry policy, default mount options, the command runner, the
//! cache clock and the cancellation token. Built with [`Config::builder`] or taken
//! as [`Config::default`].

use std::sync::Arc;
use std::time::Duration;

use vmcraft_block::{CancelToken, CommandRunner, RetryPolicy, SystemRunner};
use vmcraft_nbd::Backend;

use crate::cache::{CacheClock, MonotonicClock};

/// A progress report: the call, the work done and the total (in the call's own
/// unit: bytes for copies and tar, steps for mkfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    /// The call reporting (`copy_device_to_device`, `tar_out`, `mkfs`, ...).
    pub call: &'static str,
    /// Work done so far.
    pub done: u64,
    /// Total work (0 when unknown).
    pub total: u64,
}

/// A progress callback.
pub type ProgressCallback = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// Settings of a [`crate::VMCraft`] handle.
///
/// ```
/// use std::time::Duration;
/// use vmcraft::Config;
/// let config = Config::builder()
///     .partition_cache_ttl(Duration::from_secs(5))
///     .probe_cache_ttl(Duration::from_secs(30))
///     .build();
/// assert_eq!(config.partition_cache_ttl, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct Config {
    /// How long a partition list stays cached (default 60 s; zero disables).
    pub partition_cache_ttl: Duration,
    /// How long a filesystem probe (blkid) stays cached (default 120 s).
    pub probe_cache_ttl: Duration,
    /// How images are attached (default: loop for raw, else kernel NBD where it
    /// exists, else qemu-storage-daemon).
    pub backend: Backend,
    /// Put every read-only drive under a throw-away overlay, as libguestfs does
    /// (default on): the image is never written, yet a filesystem snapshotted with
    /// a dirty journal or log replays it into the overlay when mounted and is seen
    /// as the guest last wrote it, without the `norecovery` fallbacks. Served by
    /// qemu-storage-daemon whatever the format (raw included), so it applies with
    /// the automatic and storage-daemon backends; with an explicit loop or
    /// kernel-NBD backend a read-only drive is attached read-only without one.
    /// See [`vmcraft_nbd::AttachOptions::overlay`].
    pub readonly_overlay: bool,
    /// Read read-only drives in-process where VMCraft has readers (default on):
    /// a read-only raw or qcow2 drive is opened as a file and parsed by
    /// vmcraft-fs (ext2/3/4, FAT, NTFS), with no loop device, no qemu process
    /// and no kernel mount, so inspection and the read calls (`cat`, `ls`,
    /// `stat`, `checksum`, ...) need no root and never expose the host's
    /// filesystem drivers to the image. Whatever needs more (a kernel device,
    /// another filesystem, LVM, Augeas, a guest command) moves the session to
    /// the kernel path at that moment, mounts included. Off: every drive is
    /// attached and mounted by the kernel, as before. See
    /// [`crate::inproc`].
    pub inprocess_reads: bool,
    /// Retries of transient attach failures (default 2 s, 4 s, 8 s, capped at 10 s).
    pub retry: RetryPolicy,
    /// Options added to every mount (default none; `nosuid,nodev` are always set).
    pub default_mount_options: String,
    /// Runs the external tools (mkfs, lvm2, FUSE drivers).
    pub runner: Arc<dyn CommandRunner>,
    /// The clock the caches expire by.
    pub clock: Arc<dyn CacheClock>,
    /// Called as long work advances.
    pub progress: Option<ProgressCallback>,
    /// Where the session's private directory is made (default: the system temp
    /// directory).
    pub tmpdir: Option<std::path::PathBuf>,
    /// The sysfs tree device-mapper devices are read from (default `/sys`): an LV
    /// is used through device-mapper only when its device there has the LV's own
    /// UUID and is built on the session's devices (see `vmcraft_lvm::dm`). Tests
    /// point it at a tree of their own.
    pub sysfs_root: std::path::PathBuf,
    /// Cancels the handle's long calls (`copy_device_to_device`, `dd_copy`,
    /// `tar_in`, `tar_out` and their `tgz`/`txz` forms, and the tools `mkfs`,
    /// `e2fsck`, `resize2fs` and `xfs_growfs` run): cancelled from any thread,
    /// a running call stops at its next check (a tool gets SIGTERM, SIGKILL
    /// after a grace) and fails with its crate's `Cancelled` kind
    /// ([`crate::Error::is_cancelled`]); a call's own token in its options takes
    /// precedence. Once cancelled it stays so, and every later long call fails
    /// at once: shut the handle down. A fresh token by default; handles made
    /// from clones of one `Config` share it. See [`crate::VMCraft::cancel_token`].
    pub cancel: CancelToken,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("partition_cache_ttl", &self.partition_cache_ttl)
            .field("probe_cache_ttl", &self.probe_cache_ttl)
            .field("backend", &self.backend)
            .field("readonly_overlay", &self.readonly_overlay)
            .field("inprocess_reads", &self.inprocess_reads)
            .field("retry", &self.retry)
            .field("default_mount_options", &self.default_mount_options)
            .field("progress", &self.progress.is_some())
            .field("tmpdir", &self.tmpdir)
            .field("sysfs_root", &self.sysfs_root)
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            partition_cache_ttl: Duration::from_secs(60),
            probe_cache_ttl: Duration::from_secs(120),
            backend: Backend::Auto,
            readonly_overlay: true,
            inprocess_reads: true,
            retry: RetryPolicy::default(),
            default_mount_options: String::new(),
            runner: Arc::new(SystemRunner::new()),
            clock: Arc::new(MonotonicClock),
            progress: None,
            tmpdir: None,
            sysfs_root: std::path::PathBuf::from("/sys"),
            cancel: CancelToken::new(),
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder(Config::default())
    }
}

/// Builds a [`Config`].
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// Partition list cache lifetime.
    pub fn partition_cache_ttl(mut self, ttl: Duration) -> Self {
        self.0.partition_cache_ttl = ttl;
        self
    }

    /// Probe (blkid) cache lifetime.
    pub fn probe_cache_ttl(mut self, ttl: Duration) -> Self {
        self.0.probe_cache_ttl = ttl;
        self
    }

    /// Attach backend.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.0.backend = backend;
        self
    }

    /// Whether read-only drives get a throw-away overlay
    /// ([`Config::readonly_overlay`]).
    ///
    /// ```
    /// let c = vmcraft::Config::builder().readonly_overlay(false).build();
    /// assert!(!c.readonly_overlay);
    /// assert!(vmcraft::Config::default().readonly_overlay);
    /// ```
    pub fn readonly_overlay(mut self, overlay: bool) -> Self {
        self.0.readonly_overlay = overlay;
        self
    }

    /// Whether read-only drives are read in-process where they can be
    /// ([`Config::inprocess_reads`]).
    ///
    /// ```
    /// let c = vmcraft::Config::builder().inprocess_reads(false).build();
    /// assert!(!c.inprocess_reads);
    /// assert!(vmcraft::Config::default().inprocess_reads);
    /// ```
    pub fn inprocess_reads(mut self, inprocess: bool) -> Self {
        self.0.inprocess_reads = inprocess;
        self
    }

    /// Retry policy for attaching.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.0.retry = retry;
        self
    }

    /// Options added to every mount.
    pub fn default_mount_options(mut self, options: impl Into<String>) -> Self {
        self.0.default_mount_options = options.into();
        self
    }

    /// The command runner.
    pub fn runner(mut self, runner: Arc<dyn CommandRunner>) -> Self {
        self.0.runner = runner;
        self
    }

    /// The cache clock.
    pub fn clock(mut self, clock: Arc<dyn CacheClock>) -> Self {
        self.0.clock = clock;
        self
    }

    /// The progress callback.
    pub fn progress(mut self, f: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> Self {
        self.0.progress = Some(Arc::new(f));
        self
    }

    /// Where the session's private directory is made.
    pub fn tmpdir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.0.tmpdir = Some(dir.into());
        self
    }

    /// The sysfs tree device-mapper devices are read from.
    ///
    /// ```
    /// let config = vmcraft::Config::builder().sysfs_root("/tmp/fake-sys").build();
    /// assert_eq!(config.sysfs_root, std::path::Path::new("/tmp/fake-sys"));
    /// ```
    pub fn sysfs_root(mut self, root: impl Into<std::path::PathBuf>) -> Self {
        self.0.sysfs_root = root.into();
        self
    }

    /// The token that cancels the handle's long calls (one of the caller's own,
    /// to cancel several handles at once).
    ///
    /// ```
    /// use vmcraft_block::CancelToken;
    /// let token = CancelToken::new();
    /// let config = vmcraft::Config::builder().cancel_token(token.clone()).build();
    /// token.cancel();
    /// assert!(config.cancel.is_cancelled());
    /// ```
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.0.cancel = token;
        self
    }

    /// The configuration.
    pub fn build(self) -> Config {
        self.0
    }
}

impl crate::VMCraft {
    /// The handle's cancellation token (a clone of [`Config::cancel`]). Cancel
    /// it from another thread (a signal handler's thread, a watchdog) to stop
    /// the long call running on the handle: `copy_device_to_device`,
    /// `dd_copy`, `tar_in`, `tar_out` and their `tgz`/`txz` forms check it,
    /// and the tools run by `mkfs`, `e2fsck`, `resize2fs` and `xfs_growfs` are
    /// stopped by it (SIGTERM to their process group, SIGKILL after
    /// `vmcraft_block::command::CANCEL_GRACE`; a cancelled mkfs leaves an
    /// incomplete filesystem). They fail with the crate's `Cancelled` kind
    /// ([`crate::Error::is_cancelled`]), leaving what they wrote
    /// consistent (see `vmcraft_block::copy_device_to_device` and
    /// `vmcraft_archive::tar_in`); nothing unwinds, so the handle can then be
    /// shut down normally. It stays cancelled: every later long call fails at
    /// once.
    ///
    /// ```
    /// use vmcraft::{Error, VMCraft};
    /// let g = VMCraft::new();
    /// let token = g.cancel_token();
    /// std::thread::spawn(move || token.cancel()).join().unwrap();
    /// assert!(g.cancel_token().is_cancelled());
    /// // A long call would now fail at once, with an error e where
    /// // e.is_cancelled() (e.g. Error::Block(b) with b.kind() == ErrorKind::Cancelled).
    /// g.shutdown()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn cancel_token(&self) -> CancelToken {
        self.config.cancel.clone()
    }
}
