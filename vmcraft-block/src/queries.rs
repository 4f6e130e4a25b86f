//! The `blockdev_*` calls, with libguestfs names and semantics, answered in-process
//! through ioctls on a block device and from the file itself on an image file. A
//! failure is always an error naming the call and the device, never a silent 0.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::device::{BlockDevice, DeviceNode, ImageFile};
use crate::error::{Error, ErrorKind, Result};

enum Target {
    Node(DeviceNode),
    File(ImageFile),
}

fn open_target(call: &'static str, device: &Path, write: bool) -> Result<Target> {
    use std::os::unix::fs::FileTypeExt;
    let meta =
        std::fs::metadata(device).map_err(|e| Error::io(call, device.display(), "stat", e))?;
    let ft = meta.file_type();
    let t = if ft.is_block_device() {
        Target::Node(DeviceNode::open(device, !write).map_err(|e| e.with_call(call))?)
    } else if ft.is_file() {
        Target::File(ImageFile::open(device, !write).map_err(|e| e.with_call(call))?)
    } else {
        return Err(crate::device::not_a_device(call, device, &meta));
    };
    Ok(t)
}

impl Target {
    fn dev(&self) -> &dyn BlockDevice {
        match self {
            Target::Node(n) => n,
            Target::File(f) => f,
        }
    }
}

/// Size of the device in bytes (`blockdev --getsize64`).
///
/// ```no_run
/// let bytes = vmcraft_block::blockdev_getsize64("/dev/loop0")?;
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub fn blockdev_getsize64(device: impl AsRef<Path>) -> Result<u64> {
    let t = open_target("blockdev_getsize64", device.as_ref(), false)?;
    t.dev()
        .size()
        .map_err(|e| e.with_call("blockdev_getsize64"))
}

/// Size in 512-byte sectors, whatever the device's real sector size
/// (`blockdev --getsz`).
pub fn blockdev_getsz(device: impl AsRef<Path>) -> Result<u64> {
    let t = open_target("blockdev_getsz", device.as_ref(), false)?;
    Ok(t.dev().size().map_err(|e| e.with_call("blockdev_getsz"))? / 512)
}

/// Logical sector size in bytes (`blockdev --getss`); 512 for an image file.
pub fn blockdev_getss(device: impl AsRef<Path>) -> Result<u32> {
    let t = open_target("blockdev_getss", device.as_ref(), false)?;
    t.dev()
        .logical_sector_size()
        .map_err(|e| e.with_call("blockdev_getss"))
}

/// The kernel's soft block size (`blockdev --getbsz`); for an image file, the
/// preferred I/O size of the filesystem holding it.
pub fn blockdev_getbsz(device: impl AsRef<Path>) -> Result<u32> {
    let device = device.as_ref();
    match open_target("blockdev_getbsz", device, false)? {
        Target::Node(n) => n.block_size(),
        Target::File(f) => f
            .file()
            .metadata()
            .map(|m| m.blksize() as u32)
            .map_err(|e| Error::io("blockdev_getbsz", device.display(), "stat", e)),
    }
}

/// Ask the kernel to re-read the partition table (`blockdev --rereadpt`). On an image
/// file there is no kernel table to refresh and this does nothing.
pub fn blockdev_rereadpt(device: impl AsRef<Path>) -> Result<()> {
    match open_target("blockdev_rereadpt", device.as_ref(), false)? {
        Target::Node(n) => n.reread_partitions(),
        Target::File(_) => Ok(()),
    }
}

/// Flush the device's buffers (`blockdev --flushbufs`); on an image file, fsync it.
pub fn blockdev_flushbufs(device: impl AsRef<Path>) -> Result<()> {
    let device = device.as_ref();
    match open_target("blockdev_flushbufs", device, false)? {
        Target::Node(n) => n.flush_buffers(),
        Target::File(f) => f
            .file()
            .sync_all()
            .map_err(|e| Error::io("blockdev_flushbufs", device.display(), "fsync", e)),
    }
}

/// Set the kernel's read-only flag (`blockdev --setro`). Block devices only.
pub fn blockdev_setro(device: impl AsRef<Path>) -> Result<()> {
    set_ro("blockdev_setro", device.as_ref(), true)
}

/// Clear the kernel's read-only flag (`blockdev --setrw`). Block devices only.
pub fn blockdev_setrw(device: impl AsRef<Path>) -> Result<()> {
    set_ro("blockdev_setrw", device.as_ref(), false)
}

fn set_ro(call: &'static str, device: &Path, ro: bool) -> Result<()> {
    match open_target(call, device, false)? {
        Target::Node(n) => n.set_kernel_read_only(ro),
        Target::File(_) => Err(Error::new(
            ErrorKind::Unsupported,
            call,
            device.display(),
            "not a block device (the read-only flag belongs to kernel devices)",
        )),
    }
}

/// Whether the device is read-only (`blockdev --getro`); for an image file, whether
/// this process cannot write it.
pub fn blockdev_getro(device: impl AsRef<Path>) -> Result<bool> {
    let device = device.as_ref();
    match open_target("blockdev_getro", device, false)? {
        Target::Node(n) => n.kernel_read_only(),
        Target::File(_) => Ok(nix::unistd::access(device, nix::unistd::AccessFlags::W_OK).is_err()),
    }
}
