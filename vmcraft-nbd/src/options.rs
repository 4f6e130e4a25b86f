//! How to attach: [`AttachOptions`] (format, read-only, backend, backing-file
//! policy, retry schedule, qemu cache/aio/discard modes, where runtime files go)
//! and the small enums it holds.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use vmcraft_block::RetryPolicy;

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;

/// Which mechanism turns the image into a block device.
///
/// ```
/// use vmcraft_nbd::Backend;
/// assert_eq!(Backend::StorageDaemon.to_string(), "storage-daemon");
/// assert_eq!(Backend::default(), Backend::Auto);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// Loop for raw images; kernel NBD where `/dev/nbd0` exists (or the nbd module
    /// can be loaded) and some `/dev/nbdN` is free; otherwise the storage daemon.
    #[default]
    Auto,
    /// A loop device straight on the image (raw images only; no process).
    Loop,
    /// qemu-storage-daemon exporting the image through FUSE as a raw file, with a
    /// loop device on that file. Any format qemu reads; no nbd module needed.
    StorageDaemon,
    /// `qemu-nbd --connect` to a kernel NBD device.
    KernelNbd,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::Loop => "loop",
            Backend::StorageDaemon => "storage-daemon",
            Backend::KernelNbd => "kernel-nbd",
        })
    }
}

/// qemu's host cache mode for the image file (`qemu-nbd --cache`, the blockdev
/// `cache` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheMode {
    /// Host page cache, flushes honoured (qemu's default).
    Writeback,
    /// `O_DIRECT`: bypass the host page cache, flushes honoured.
    None,
    /// Host page cache, flushes ignored: fast and unsafe on a host crash.
    Unsafe,
}

impl CacheMode {
    /// The qemu name (`writeback`, `none`, `unsafe`).
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Writeback => "writeback",
            CacheMode::None => "none",
            CacheMode::Unsafe => "unsafe",
        }
    }

    /// `(cache.direct, cache.no-flush)` in a blockdev graph.
    pub(crate) fn blockdev_flags(self) -> (bool, bool) {
        match self {
            CacheMode::Writeback => (false, false),
            CacheMode::None => (true, false),
            CacheMode::Unsafe => (false, true),
        }
    }
}

/// qemu's I/O engine for the image file (`qemu-nbd --aio`, the file driver's
/// `aio` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AioMode {
    /// A thread pool (qemu's default).
    Threads,
    /// Linux native AIO; needs [`CacheMode::None`].
    Native,
    /// io_uring.
    IoUring,
}

impl AioMode {
    /// The qemu name (`threads`, `native`, `io_uring`).
    pub fn as_str(self) -> &'static str {
        match self {
            AioMode::Threads => "threads",
            AioMode::Native => "native",
            AioMode::IoUring => "io_uring",
        }
    }
}

/// What qemu does with discard requests (`qemu-nbd --discard`, the blockdev
/// `discard` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscardMode {
    /// Ignore them (qemu's default).
    Ignore,
    /// Pass them down: the image file gets holes.
    Unmap,
}

impl DiscardMode {
    /// The qemu name (`ignore`, `unmap`).
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardMode::Ignore => "ignore",
            DiscardMode::Unmap => "unmap",
        }
    }
}

/// How [`crate::attach`] attaches an image. Build it with struct update syntax or
/// the chained setters:
///
/// ```
/// use std::time::Duration;
/// use vmcraft_nbd::{AttachOptions, Backend, Format};
/// let opts = AttachOptions::default()
///     .format(Format::Qcow2)
///     .readonly(true)
///     .backend(Backend::StorageDaemon)
///     .ready_timeout(Duration::from_secs(10));
/// assert!(opts.readonly && !opts.allow_backing_file && !opts.allow_vmdk_extents);
/// let same = AttachOptions { format: Some(Format::Qcow2), readonly: true,
///     backend: Backend::StorageDaemon, ready_timeout: Duration::from_secs(10),
///     ..Default::default() };
/// assert_eq!(opts, same);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AttachOptions {
    /// The image format; detected from magic bytes when `None`. An explicit format
    /// always wins over detection.
    pub format: Option<Format>,
    /// Attach read-only: writes through the device fail and the image file is never
    /// opened for writing.
    pub readonly: bool,
    /// Which backend to use.
    pub backend: Backend,
    /// Put a throw-away qcow2 overlay on top of a read-only image (needs
    /// [`AttachOptions::readonly`]), as libguestfs does for every read-only drive:
    /// the device is writable, so a filesystem with a dirty journal or log replays
    /// it when mounted and is seen as the guest last wrote it, while every write
    /// lands in the overlay and the image itself is never opened for writing. The
    /// overlay lives in the storage daemon's private runtime directory and goes
    /// with the attachment (or the session reaper). Served by qemu-storage-daemon
    /// (whatever the format, raw included: [`Backend::Auto`] picks it); the loop and
    /// kernel-NBD backends are refused with it.
    pub overlay: bool,
    /// Follow a backing chain (and a qcow2's external data file). Off by default:
    /// a guest controls those names. When on, every node of the chain needs an
    /// explicit format (the top image's from [`AttachOptions::format`], each
    /// backing file's recorded in its child's header), `json:` and protocol names
    /// are refused, each name is resolved here (relative to the directory of the
    /// image naming it) to an existing regular file or block device, and qemu is
    /// given the whole chain with every node's driver pinned, ending in
    /// `"backing": null`, so it opens nothing else.
    pub allow_backing_file: bool,
    /// Follow a VMDK descriptor's extent files (`monolithicFlat`,
    /// `twoGbMaxExtentSparse`/`Flat`, `vmfs`: split VMDKs whose data lives in
    /// files beside the descriptor). Off by default, and never applied to an image
    /// whose format was detected rather than given. When on, each extent must be
    /// a plain file name (no `/`, no `..`) of an existing regular file, not a
    /// symlink, in the image's own directory; a sparse extent must not wrap a
    /// descriptor of its own.
    pub allow_vmdk_extents: bool,
    /// Retry schedule for `qemu-nbd --connect` (only transient failures are
    /// retried). Default: 5 attempts, waiting 2 s, 4 s, 8 s, 10 s.
    pub retry: RetryPolicy,
    /// qemu cache mode (qemu's default when `None`).
    pub cache: Option<CacheMode>,
    /// qemu I/O engine (qemu's default when `None`).
    pub aio: Option<AioMode>,
    /// qemu discard handling (qemu's default when `None`).
    pub discard: Option<DiscardMode>,
    /// Where the storage daemon's private directory (FUSE export file, QMP socket,
    /// pid file) is made; the system temp directory when `None`.
    pub runtime_dir: Option<PathBuf>,
    /// Where kernel-NBD device lock files live; `/run/vmcraft/nbd-locks` for
    /// root when `None`. It must be a private directory (owned by this user and
    /// writable by nobody else; made 0700 when missing): a world-writable one such
    /// as `/run/lock` is refused. Every process
    /// sharing NBD devices must use the same directory.
    pub nbd_lock_dir: Option<PathBuf>,
    /// How long to wait for a daemon to start, a device to get its size, or a
    /// daemon to exit.
    pub ready_timeout: Duration,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            format: None,
            readonly: false,
            backend: Backend::Auto,
            overlay: false,
            allow_backing_file: false,
            allow_vmdk_extents: false,
            retry: RetryPolicy::default(),
            cache: None,
            aio: None,
            discard: None,
            runtime_dir: None,
            nbd_lock_dir: None,
            ready_timeout: Duration::from_secs(30),
        }
    }
}

impl AttachOptions {
    /// Set [`AttachOptions::format`].
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Set [`AttachOptions::readonly`].
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Set [`AttachOptions::backend`].
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Set [`AttachOptions::overlay`].
    ///
    /// ```
    /// use vmcraft_nbd::{AttachOptions, Backend};
    /// AttachOptions::default().readonly(true).overlay(true).validate("x")?;
    /// // An overlay is for a read-only image, served by qemu-storage-daemon.
    /// assert!(AttachOptions::default().overlay(true).validate("x").is_err());
    /// assert!(AttachOptions::default().readonly(true).overlay(true)
    ///     .backend(Backend::Loop).validate("x").is_err());
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn overlay(mut self, overlay: bool) -> Self {
        self.overlay = overlay;
        self
    }

    /// Set [`AttachOptions::allow_backing_file`].
    pub fn allow_backing_file(mut self, allow: bool) -> Self {
        self.allow_backing_file = allow;
        self
    }

    /// Set [`AttachOptions::allow_vmdk_extents`].
    pub fn allow_vmdk_extents(mut self, allow: bool) -> Self {
        self.allow_vmdk_extents = allow;
        self
    }

    /// Set [`AttachOptions::retry`].
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Set [`AttachOptions::cache`].
    pub fn cache(mut self, cache: CacheMode) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Set [`AttachOptions::aio`].
    pub fn aio(mut self, aio: AioMode) -> Self {
        self.aio = Some(aio);
        self
    }

    /// Set [`AttachOptions::discard`].
    pub fn discard(mut self, discard: DiscardMode) -> Self {
        self.discard = Some(discard);
        self
    }

    /// Set [`AttachOptions::runtime_dir`].
    pub fn runtime_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_dir = Some(dir.into());
        self
    }

    /// Set [`AttachOptions::nbd_lock_dir`].
    pub fn nbd_lock_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.nbd_lock_dir = Some(dir.into());
        self
    }

    /// Set [`AttachOptions::ready_timeout`].
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Refuse combinations qemu would refuse later, before anything is started.
    ///
    /// ```
    /// use vmcraft_nbd::{AioMode, AttachOptions, CacheMode};
    /// assert!(AttachOptions::default().aio(AioMode::Native).validate("x").is_err());
    /// AttachOptions::default().aio(AioMode::Native).cache(CacheMode::None).validate("x")?;
    /// # Ok::<(), vmcraft_nbd::Error>(())
    /// ```
    pub fn validate(&self, image: impl fmt::Display) -> Result<()> {
        if self.aio == Some(AioMode::Native) && self.cache != Some(CacheMode::None) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "attach",
                image,
                "aio=native needs cache=none (O_DIRECT)",
            ));
        }
        if self.overlay && !self.readonly {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "attach",
                image,
                "a throw-away overlay is for read-only drives (set readonly too)",
            ));
        }
        if self.overlay && matches!(self.backend, Backend::Loop | Backend::KernelNbd) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "attach",
                image,
                format!(
                    "a throw-away overlay is served by qemu-storage-daemon, not the {} \
                     backend",
                    self.backend
                ),
            ));
        }
        if self.ready_timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "attach",
                image,
                "ready_timeout is zero",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(CacheMode::None.as_str(), "none");
        assert_eq!(CacheMode::Unsafe.blockdev_flags(), (false, true));
        assert_eq!(CacheMode::None.blockdev_flags(), (true, false));
        assert_eq!(AioMode::IoUring.as_str(), "io_uring");
        assert_eq!(DiscardMode::Unmap.as_str(), "unmap");
        assert_eq!(Backend::KernelNbd.to_string(), "kernel-nbd");
    }

    #[test]
    fn validation() {
        let e = AttachOptions::default()
            .aio(AioMode::Native)
            .validate("/i")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "attach: /i: aio=native needs cache=none (O_DIRECT)"
        );
        let e = AttachOptions::default()
            .ready_timeout(Duration::ZERO)
            .validate("/i")
            .unwrap_err();
        assert!(e.to_string().contains("ready_timeout is zero"));
        let e = AttachOptions::default()
            .overlay(true)
            .validate("/i")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("for read-only drives"), "{e}");
        for b in [Backend::Loop, Backend::KernelNbd] {
            let e = AttachOptions::default()
                .readonly(true)
                .overlay(true)
                .backend(b)
                .validate("/i")
                .unwrap_err();
            assert!(
                e.to_string().contains(&format!("not the {b} backend")),
                "{e}"
            );
        }
        AttachOptions::default().validate("/i").unwrap();
    }
}
