//! The [`BlockDevice`] trait and its implementations: [`ImageFile`] (a disk image
//! on the host filesystem), [`DeviceNode`] (a kernel block device, through ioctls)
//! and [`MemoryDisk`] (in memory, for tests and scratch work); [`open`] picks the
//! right one for a path, [`Named`] renames a device for messages, and [`DeviceIo`] adapts any device to
//! `Read + Write + Seek` for libraries that want a stream.

mod cursor;
mod file;
mod memory;
mod named;
mod node;

use std::path::Path;
use std::sync::Arc;

pub use cursor::DeviceIo;
pub use file::ImageFile;
pub use memory::MemoryDisk;
pub use named::Named;
pub use node::{DeviceNode, KernelPartition, SHARED_LOCK_WAIT};

use crate::error::{Error, ErrorKind, Result};

/// A disk: a fixed number of bytes addressed by offset, with a logical sector size.
///
/// Five required methods; everything else has a default. Reads and writes go
/// through `&self` (implementations use positioned I/O or interior locking), so a
/// device can be shared between threads behind an `Arc`. Reads and writes are
/// exact: a short read or an access past the end is an error, never a partial
/// result.
///
/// ```
/// use vmcraft_block::{BlockDevice, MemoryDisk};
/// let disk = MemoryDisk::new(1 << 20);
/// disk.write_at(b"hello", 4096)?;
/// let mut buf = [0u8; 5];
/// disk.read_at(&mut buf, 4096)?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(disk.size()? / disk.logical_sector_size()? as u64, 2048);
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub trait BlockDevice: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> Result<u64>;

    /// Logical sector size in bytes (512 or 4096).
    fn logical_sector_size(&self) -> Result<u32>;

    /// Fill `buf` from `offset`; the whole range must lie inside the device.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;

    /// Write all of `buf` at `offset`; the whole range must lie inside the device.
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()>;

    /// Make written data durable.
    fn flush(&self) -> Result<()>;

    /// A name for messages: the path for files and nodes, `memory` for a
    /// [`MemoryDisk`].
    fn name(&self) -> String {
        "<device>".to_string()
    }

    /// Physical sector size in bytes; the logical size unless known otherwise.
    fn physical_sector_size(&self) -> Result<u32> {
        self.logical_sector_size()
    }

    /// Whether writes are refused.
    fn is_read_only(&self) -> Result<bool> {
        Ok(false)
    }

    /// The path on the host, for devices that have one.
    fn host_path(&self) -> Option<&Path> {
        None
    }

    /// The kernel block device behind this device, if it is one; this is how
    /// callers reach node-only operations (BLKPG partition updates, BLKRRPART).
    fn kernel_node(&self) -> Option<&DeviceNode> {
        None
    }

    /// Make `len` bytes at `offset` read back as zeros. The default writes zeros;
    /// files and nodes use `fallocate`/`BLKZEROOUT` when they can.
    fn write_zeroes(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, "write_zeroes", offset, len)?;
        write_zero_buffers(self, offset, len)
    }

    /// Tell the device that `len` bytes at `offset` are unused. Unsupported unless
    /// the implementation says otherwise.
    fn discard(&self, offset: u64, len: u64) -> Result<()> {
        let _ = (offset, len);
        Err(Error::new(
            ErrorKind::Unsupported,
            "discard",
            self.name(),
            "this device does not support discard",
        ))
    }
}

/// Zero a range by writing buffers of zeros: the fallback of every
/// [`BlockDevice::write_zeroes`] that has no faster way.
pub(crate) fn write_zero_buffers<D: BlockDevice + ?Sized>(
    dev: &D,
    offset: u64,
    len: u64,
) -> Result<()> {
    const ZERO_CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; ZERO_CHUNK.min(len) as usize];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        dev.write_at(&zeros[..n], offset + done)?;
        done += n as u64;
    }
    Ok(())
}

/// Check that `offset..offset+len` lies inside `dev`; the error names the call,
/// the device, the range and the size.
pub fn check_range<D: BlockDevice + ?Sized>(
    dev: &D,
    call: &'static str,
    offset: u64,
    len: u64,
) -> Result<()> {
    let size = dev.size()?;
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::invalid(
            call,
            dev.name(),
            format!("{len} bytes at offset {offset} run past the end of the device (size {size})"),
        )),
    }
}

macro_rules! forward_block_device {
    ($($ty:ty),*) => {$(
        impl<D: BlockDevice + ?Sized> BlockDevice for $ty {
            fn size(&self) -> Result<u64> { (**self).size() }
            fn logical_sector_size(&self) -> Result<u32> { (**self).logical_sector_size() }
            fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> { (**self).read_at(buf, offset) }
            fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> { (**self).write_at(buf, offset) }
            fn flush(&self) -> Result<()> { (**self).flush() }
            fn name(&self) -> String { (**self).name() }
            fn physical_sector_size(&self) -> Result<u32> { (**self).physical_sector_size() }
            fn is_read_only(&self) -> Result<bool> { (**self).is_read_only() }
            fn host_path(&self) -> Option<&Path> { (**self).host_path() }
            fn kernel_node(&self) -> Option<&DeviceNode> { (**self).kernel_node() }
            fn write_zeroes(&self, offset: u64, len: u64) -> Result<()> { (**self).write_zeroes(offset, len) }
            fn discard(&self, offset: u64, len: u64) -> Result<()> { (**self).discard(offset, len) }
        }
    )*};
}

forward_block_device!(&D, &mut D, Box<D>, Arc<D>);

/// How [`open`] opens a path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open read-only: every write fails with [`ErrorKind::ReadOnly`].
    pub readonly: bool,
    /// Logical sector size to report for an image file (512 when unset). Kernel
    /// devices always report their own.
    pub sector_size: Option<u32>,
}

/// Open a path as a block device: a [`DeviceNode`] for a block special file, an
/// [`ImageFile`] for a regular file. A directory, a missing path, or anything else
/// is an error naming the path.
///
/// ```
/// use vmcraft_block::{open, OpenOptions, ErrorKind};
/// let err = open("/", OpenOptions::default()).err().unwrap();
/// assert_eq!(err.kind(), ErrorKind::WrongType);
/// ```
pub fn open(path: impl AsRef<Path>, opts: OpenOptions) -> Result<Box<dyn BlockDevice>> {
    let path = path.as_ref();
    let meta = std::fs::metadata(path).map_err(|e| Error::io("open", path.display(), "stat", e))?;
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    if ft.is_block_device() {
        Ok(Box::new(DeviceNode::open(path, opts.readonly)?))
    } else if ft.is_file() {
        let f = ImageFile::open(path, opts.readonly)?;
        Ok(Box::new(match opts.sector_size {
            Some(ss) => f.with_sector_size(ss)?,
            None => f,
        }))
    } else {
        Err(not_a_device("open", path, &meta))
    }
}

pub(crate) fn not_a_device(call: &'static str, path: &Path, meta: &std::fs::Metadata) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    let what = if ft.is_dir() {
        "is a directory"
    } else if ft.is_char_device() {
        "is a character device"
    } else if ft.is_fifo() {
        "is a FIFO"
    } else if ft.is_socket() {
        "is a socket"
    } else {
        "is not a block device or regular file"
    };
    Error::new(
        ErrorKind::WrongType,
        call,
        path.display(),
        format!("{what}, not a block device or disk image"),
    )
}
