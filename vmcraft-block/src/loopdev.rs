//! Loop devices through direct ioctls (no `losetup`): find a free device with
//! `LOOP_CTL_GET_FREE`, bind a file with `LOOP_CONFIGURE` (or `LOOP_SET_FD` +
//! `LOOP_SET_STATUS64` on kernels before 5.8), detach with `LOOP_CLR_FD`.
//!
//! Every device is bound with `LO_FLAGS_AUTOCLEAR` and [`LoopDevice`] keeps a file
//! descriptor open on it, so the kernel releases the device when the last user goes
//! away even if this process dies; dropping a [`LoopDevice`] detaches it at once.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::device::DeviceNode;
use crate::error::{Error, ErrorKind, Result};
use crate::ioctl;

/// How to bind a file to a loop device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopOptions {
    /// Bind read-only: writes through the device fail.
    pub readonly: bool,
    /// Ask the kernel to scan the partition table (harmless where the kernel has no
    /// table parsers; partitions are then added with BLKPG by `vmcraft-part`).
    pub partscan: bool,
    /// Use direct I/O to the backing file.
    pub direct_io: bool,
    /// Byte offset into the file where the device starts.
    pub offset: u64,
    /// Size limit in bytes (0: up to the end of the file).
    pub size_limit: u64,
    /// Logical block size (0: the kernel's default, 512).
    pub block_size: u32,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            readonly: false,
            partscan: true,
            direct_io: false,
            offset: 0,
            size_limit: 0,
            block_size: 0,
        }
    }
}

/// A file bound to a loop device; detached on drop.
///
/// ```no_run
/// use vmcraft_block::{BlockDevice, LoopDevice, LoopOptions};
/// let lo = LoopDevice::attach("disk.img", LoopOptions::default())?;
/// println!("{} is {} bytes", lo.path().display(), lo.node().size()?);
/// drop(lo); // detached
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
#[derive(Debug)]
pub struct LoopDevice {
    // `None` once detached: the descriptor is closed so the kernel can finish.
    node: Option<DeviceNode>,
    path: PathBuf,
    backing: PathBuf,
    detached: bool,
}

impl LoopDevice {
    /// Bind `file` to a free loop device.
    pub fn attach(file: impl AsRef<Path>, opts: LoopOptions) -> Result<Self> {
        let file = file.as_ref();
        let meta = std::fs::metadata(file)
            .map_err(|e| Error::io("loop_attach", file.display(), "stat", e))?;
        if !meta.is_file() && !std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type()) {
            return Err(crate::device::not_a_device("loop_attach", file, &meta));
        }
        let backing = std::fs::OpenOptions::new()
            .read(true)
            .write(!opts.readonly)
            .open(file)
            .map_err(|e| Error::io("loop_attach", file.display(), "open", e))?;
        let control = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .map_err(|e| Error::io("loop_attach", "/dev/loop-control", "open", e))?;

        // Another process can take the device between GET_FREE and CONFIGURE; the
        // configure then fails with EBUSY and we ask again.
        let mut last_err = None;
        for _ in 0..64 {
            // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
            let n = unsafe { ioctl::loop_ctl_get_free(control.as_raw_fd()) }.map_err(|e| {
                Error::errno("loop_attach", "/dev/loop-control", "LOOP_CTL_GET_FREE", e)
            })?;
            let path = PathBuf::from(format!("/dev/loop{n}"));
            crate::wait::wait_for_path(&path, Duration::from_secs(5))
                .map_err(|e| e.with_call("loop_attach"))?;
            let dev = match std::fs::OpenOptions::new()
                .read(true)
                .write(!opts.readonly)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) => return Err(Error::io("loop_attach", path.display(), "open", e)),
            };
            match configure(&dev, &backing, file, &opts) {
                Ok(()) => {
                    let node = DeviceNode::open(&path, opts.readonly)?;
                    drop(dev);
                    tracing::debug!(device = %path.display(), file = %file.display(), readonly = opts.readonly, "loop device attached");
                    return Ok(LoopDevice {
                        node: Some(node),
                        path: path.clone(),
                        backing: file.to_path_buf(),
                        detached: false,
                    });
                }
                Err(nix::errno::Errno::EBUSY) => {
                    last_err = Some(Error::errno(
                        "loop_attach",
                        path.display(),
                        "LOOP_CONFIGURE",
                        nix::errno::Errno::EBUSY,
                    ));
                    continue;
                }
                Err(e) => {
                    return Err(Error::errno(
                        "loop_attach",
                        path.display(),
                        "LOOP_CONFIGURE",
                        e,
                    ));
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Busy,
                "loop_attach",
                file.display(),
                "no free loop device",
            )
        }))
    }

    /// The device node path, e.g. `/dev/loop3`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open device.
    pub fn node(&self) -> &DeviceNode {
        self.node
            .as_ref()
            .expect("a LoopDevice has its node until it is detached")
    }

    /// The file behind the device.
    pub fn backing_file(&self) -> &Path {
        &self.backing
    }

    /// Detach now, reporting failure (drop detaches too, but cannot report).
    pub fn detach(mut self) -> Result<()> {
        self.detach_inner()
    }

    fn detach_inner(&mut self) -> Result<()> {
        if self.detached {
            return Ok(());
        }
        self.detached = true;
        // The device may be briefly busy (a udev probe, a just-closed mount);
        // autoclear finishes the job in any case once the last user closes it.
        let Some(node) = self.node.as_ref() else {
            return Ok(());
        };
        let fd = node.file().as_raw_fd();
        let mut delay = Duration::from_millis(1);
        for _ in 0..12 {
            // SAFETY: LOOP_CLR_FD takes no argument.
            match unsafe { ioctl::loop_clr_fd(fd) } {
                Ok(_) | Err(nix::errno::Errno::ENXIO) => {
                    // The kernel finishes when the last descriptor closes (ours,
                    // now); wait for it so that "dropped" means "gone".
                    let sysfs = node.sysfs_dir().join("loop/backing_file");
                    self.node = None;
                    if crate::wait::wait_until(
                        &self.path.display().to_string(),
                        Duration::from_secs(2),
                        || !sysfs.exists(),
                    )
                    .is_err()
                    {
                        tracing::debug!(device = %self.path.display(), "still in use; the kernel detaches it when its last user closes it");
                    }
                    tracing::debug!(device = %self.path.display(), "loop device detached");
                    return Ok(());
                }
                Err(nix::errno::Errno::EBUSY) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(Error::errno(
                        "loop_detach",
                        self.path.display(),
                        "LOOP_CLR_FD",
                        e,
                    ));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Busy,
            "loop_detach",
            self.path.display(),
            "device still busy; it will be released when its last user closes it",
        ))
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Err(e) = self.detach_inner() {
            tracing::warn!(error = %e, "loop device detach on drop failed");
        }
    }
}

fn configure(dev: &File, backing: &File, name: &Path, opts: &LoopOptions) -> nix::Result<()> {
    let mut info = ioctl::LoopInfo64 {
        lo_offset: opts.offset,
        lo_sizelimit: opts.size_limit,
        lo_flags: ioctl::LO_FLAGS_AUTOCLEAR,
        ..Default::default()
    };
    if opts.readonly {
        info.lo_flags |= ioctl::LO_FLAGS_READ_ONLY;
    }
    if opts.partscan {
        info.lo_flags |= ioctl::LO_FLAGS_PARTSCAN;
    }
    if opts.direct_io {
        info.lo_flags |= ioctl::LO_FLAGS_DIRECT_IO;
    }
    let name = name.as_os_str().as_encoded_bytes();
    let n = name.len().min(63);
    info.lo_file_name[..n].copy_from_slice(&name[..n]);
    let config = ioctl::LoopConfig {
        fd: backing.as_raw_fd() as u32,
        block_size: opts.block_size,
        info,
        reserved: [0; 8],
    };
    // SAFETY: `config` is a live loop_config for the whole call.
    match unsafe { ioctl::loop_configure(dev.as_raw_fd(), &config) } {
        Ok(_) => Ok(()),
        // Kernels before 5.8 have no LOOP_CONFIGURE.
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOTTY) => {
            // SAFETY: LOOP_SET_FD takes the backing fd as its argument value.
            unsafe { ioctl::loop_set_fd(dev.as_raw_fd(), backing.as_raw_fd()) }?;
            // SAFETY: `info` is a live loop_info64 for the whole call.
            if let Err(e) = unsafe { ioctl::loop_set_status64(dev.as_raw_fd(), &info) } {
                // SAFETY: undo the half-made binding.
                let _ = unsafe { ioctl::loop_clr_fd(dev.as_raw_fd()) };
                return Err(e);
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The loop devices currently bound, with their backing files (from sysfs).
pub fn list_loop_devices() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("loop") {
            continue;
        }
        if let Ok(backing) = std::fs::read_to_string(entry.path().join("loop/backing_file")) {
            out.push((
                Path::new("/dev").join(&*name),
                PathBuf::from(backing.trim_end_matches('\n')),
            ));
        }
    }
    out.sort();
    out
}
