//! Block access in-process: the [`ReadAt`] trait, its implementations for a raw
//! image file ([`RawFile`]), a qcow2 image ([`Qcow2Image`], through `imago`), a
//! byte window such as a partition ([`Window`]) and bytes in memory; the format
//! detected from magic bytes ([`open_image`]); and the partitions of a disk read
//! with vmcraft-part ([`partitions`]).
//!
//! Nothing here opens a host file other than the image the caller names: a
//! qcow2 backing file or external data file is refused, and so is every other
//! format (vmdk, vhdx, vdi, vpc), which can name other files and which only the
//! kernel path reads.

mod qcow2;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use vmcraft_block::BlockDevice;
use vmcraft_part::PartitionTable;

use crate::error::{Error, ErrorKind, Result};

pub use qcow2::Qcow2Image;

/// A disk read by offset: two required methods.
///
/// Reads go through `&self` and are exact: the whole of `buf` is filled, or
/// the call fails (a read past [`ReadAt::size`] is an error).
///
/// ```
/// use vmcraft_fs::ReadAt;
/// let disk: Vec<u8> = (0..=255).collect();
/// let mut buf = [0u8; 2];
/// disk.read_at(10, &mut buf)?;
/// assert_eq!(buf, [10, 11]);
/// assert!(disk.read_at(255, &mut buf).is_err());
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub trait ReadAt: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;

    /// Fill `buf` from `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// A name for messages (the image path, `memory`, `PATH partition 2`).
    fn name(&self) -> String {
        "<disk>".to_string()
    }
}

/// The error of a read past the end of a disk.
pub(crate) fn past_end(name: String, offset: u64, len: usize, size: u64) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        "read_at",
        name,
        format!("{len} bytes at offset {offset} run past the end (size {size})"),
    )
}

fn check_range(r: &(impl ReadAt + ?Sized), offset: u64, len: usize) -> Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= r.size() => Ok(()),
        _ => Err(past_end(r.name(), offset, len, r.size())),
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.as_slice().read_at(offset, buf)
    }
    fn name(&self) -> String {
        "memory".to_string()
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let start = offset as usize;
        buf.copy_from_slice(&self[start..start + buf.len()]);
        Ok(())
    }
    fn name(&self) -> String {
        "memory".to_string()
    }
}

macro_rules! forward_read_at {
    ($($ty:ty),*) => {$(
        impl<R: ReadAt + ?Sized> ReadAt for $ty {
            fn size(&self) -> u64 { (**self).size() }
            fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> { (**self).read_at(offset, buf) }
            fn name(&self) -> String { (**self).name() }
        }
    )*};
}

forward_read_at!(&R, Box<R>, Arc<R>);

/// A raw image file (or a block device node), read with `pread`.
///
/// ```
/// use vmcraft_fs::{RawFile, ReadAt};
/// let f = tempfile::NamedTempFile::new()?;
/// std::fs::write(f.path(), b"hello")?;
/// let raw = RawFile::open(f.path())?;
/// assert_eq!(raw.size(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RawFile {
    file: File,
    size: u64,
    name: String,
}

impl RawFile {
    /// Open `path` read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io("open_image", path.display(), e))?;
        Self::from_file(file, path.display().to_string())
    }

    /// Use an open file; `name` is for messages.
    pub fn from_file(file: File, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let meta = file
            .metadata()
            .map_err(|e| Error::io("open_image", &name, e))?;
        use std::os::unix::fs::FileTypeExt;
        let size = if meta.file_type().is_block_device() {
            use std::io::{Seek, SeekFrom};
            (&file)
                .seek(SeekFrom::End(0))
                .map_err(|e| Error::io("open_image", &name, e))?
        } else if meta.is_file() {
            meta.len()
        } else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "open_image",
                name,
                "not a regular file or block device",
            ));
        };
        Ok(RawFile { file, size, name })
    }
}

impl ReadAt for RawFile {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len())?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io("read_at", &self.name, e))
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// A window of a disk: `len` bytes from `offset` (a partition), read as a disk
/// of its own.
///
/// ```
/// use vmcraft_fs::{ReadAt, Window};
/// let disk: Vec<u8> = (0..100).collect();
/// let w = Window::new(disk, 10, 20)?;
/// let mut b = [0u8; 3];
/// w.read_at(0, &mut b)?;
/// assert_eq!(b, [10, 11, 12]);
/// assert!(w.read_at(18, &mut b).is_err());
/// assert!(Window::new(vec![0u8; 10], 5, 6).is_err());
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Window<R> {
    inner: R,
    offset: u64,
    len: u64,
    name: String,
}

impl<R: ReadAt> Window<R> {
    /// The window `offset..offset+len` of `inner`, which must lie inside it.
    pub fn new(inner: R, offset: u64, len: u64) -> Result<Self> {
        let name = format!("{} bytes {offset}+{len}", inner.name());
        Self::named(inner, offset, len, name)
    }

    /// Like [`Window::new`], with a name for messages.
    pub fn named(inner: R, offset: u64, len: u64, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        match offset.checked_add(len) {
            Some(end) if end <= inner.size() => Ok(Window {
                inner,
                offset,
                len,
                name,
            }),
            _ => Err(Error::corrupt(
                "window",
                name,
                format!(
                    "bytes {offset}+{len} lie outside the disk (size {})",
                    inner.size()
                ),
            )),
        }
    }
}

impl<R: ReadAt> ReadAt for Window<R> {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len())?;
        self.inner.read_at(self.offset + offset, buf)
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// A disk image format, as its magic bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// No known header: the bytes are the disk.
    Raw,
    /// qcow2 (`QFI\xfb`).
    Qcow2,
    /// VMware VMDK (sparse `KDMV`, or a text descriptor).
    Vmdk,
    /// Hyper-V VHDX (`vhdxfile`).
    Vhdx,
    /// VirtualBox VDI.
    Vdi,
    /// Virtual PC VHD (`conectix`, footer at the end).
    Vpc,
    /// QEMU's old qcow (version 1), QED or another header qemu reads.
    OtherQemu,
}

impl ImageFormat {
    /// The name qemu gives the format.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Vdi => "vdi",
            ImageFormat::Vpc => "vpc",
            ImageFormat::OtherQemu => "qcow/qed",
        }
    }
}

/// The format of an image from its first bytes and its last 512 (for a VHD
/// footer). Anything without a known header is raw.
///
/// ```
/// use vmcraft_fs::{detect_format, ImageFormat};
/// assert_eq!(detect_format(b"QFI\xfb\0\0\0\x03", &[]), ImageFormat::Qcow2);
/// assert_eq!(detect_format(b"vhdxfile", &[]), ImageFormat::Vhdx);
/// assert_eq!(detect_format(&[0u8; 512], &[]), ImageFormat::Raw);
/// ```
pub fn detect_format(head: &[u8], tail: &[u8]) -> ImageFormat {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"QFI\xfb") {
        let version = head
            .get(4..8)
            .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        if matches!(version, Some(2 | 3)) {
            ImageFormat::Qcow2
        } else {
            ImageFormat::OtherQemu
        }
    } else if starts(b"QED\0") {
        ImageFormat::OtherQemu
    } else if starts(b"KDMV") || starts(b"COWD") || starts(b"# Disk DescriptorFile") {
        ImageFormat::Vmdk
    } else if starts(b"vhdxfile") {
        ImageFormat::Vhdx
    } else if head.len() >= 68 && head[64..68] == [0x7f, 0x10, 0xda, 0xbe] {
        ImageFormat::Vdi
    } else if starts(b"conectix") || tail.starts_with(b"conectix") {
        ImageFormat::Vpc
    } else {
        ImageFormat::Raw
    }
}

/// Open an image file for in-process reading, its format detected from magic
/// bytes: raw and qcow2 are read; every other format is refused with
/// [`ErrorKind::Unsupported`] naming it (those formats are read through the
/// kernel path, which needs root). A qcow2 image with a backing file or an
/// external data file is refused too: nothing but `path` is ever opened.
///
/// ```
/// use vmcraft_fs::{open_image, ReadAt, ErrorKind};
/// let f = tempfile::NamedTempFile::new()?;
/// std::fs::write(f.path(), vec![0u8; 4096])?;
/// assert_eq!(open_image(f.path())?.size(), 4096);
/// std::fs::write(f.path(), b"vhdxfile and more")?;
/// assert_eq!(open_image(f.path()).err().unwrap().kind(), ErrorKind::Unsupported);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_image(path: impl AsRef<Path>) -> Result<Arc<dyn ReadAt>> {
    let path = path.as_ref();
    let raw = RawFile::open(path)?;
    let mut head = vec![0u8; raw.size().min(4096) as usize];
    raw.read_at(0, &mut head)?;
    let mut tail = vec![0u8; raw.size().min(512) as usize];
    raw.read_at(raw.size() - tail.len() as u64, &mut tail)?;
    match detect_format(&head, &tail) {
        ImageFormat::Raw => Ok(Arc::new(raw)),
        ImageFormat::Qcow2 => Ok(Arc::new(Qcow2Image::from_file(raw.file, raw.name)?)),
        other => Err(Error::unsupported(
            "open_image",
            path.display(),
            format!(
                "{} images are not read in-process; the kernel path (root) is needed",
                other.name()
            ),
        )),
    }
}

/// A [`ReadAt`] seen as a read-only [`vmcraft_block::BlockDevice`] (512-byte
/// sectors), for vmcraft-part; every write fails.
pub(crate) struct AsBlockDevice<'a>(pub(crate) &'a dyn ReadAt);

impl BlockDevice for AsBlockDevice<'_> {
    fn size(&self) -> vmcraft_block::Result<u64> {
        Ok(self.0.size())
    }
    fn logical_sector_size(&self) -> vmcraft_block::Result<u32> {
        Ok(512)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vmcraft_block::Result<()> {
        self.0.read_at(offset, buf).map_err(|e| {
            vmcraft_block::Error::new(
                vmcraft_block::ErrorKind::Io,
                "read_at",
                self.0.name(),
                e.to_string(),
            )
        })
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> vmcraft_block::Result<()> {
        Err(vmcraft_block::Error::new(
            vmcraft_block::ErrorKind::ReadOnly,
            "write_at",
            self.0.name(),
            "in-process images are read-only",
        ))
    }
    fn flush(&self) -> vmcraft_block::Result<()> {
        Ok(())
    }
    fn name(&self) -> String {
        self.0.name()
    }
    fn is_read_only(&self) -> vmcraft_block::Result<bool> {
        Ok(true)
    }
}

/// One partition of a disk, as [`partitions`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Its number (1.., logical msdos partitions from 5).
    pub number: u32,
    /// First byte.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The partitions of a disk, read with vmcraft-part (GPT or msdos, strictly
/// checked); an empty list when the disk has no partition table, and an
/// extended msdos partition left out (it holds no filesystem).
///
/// ```
/// use vmcraft_fs::partitions;
/// let disk = vec![0u8; 1 << 20];
/// assert!(partitions(&disk)?.is_empty());
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub fn partitions(disk: &dyn ReadAt) -> Result<Vec<Partition>> {
    let dev = AsBlockDevice(disk);
    let table = PartitionTable::probe(&dev).map_err(|e| {
        let kind = match e.kind() {
            vmcraft_part::ErrorKind::Corrupt => ErrorKind::Corrupt,
            _ => ErrorKind::Io,
        };
        Error::new(kind, "partitions", disk.name(), e.to_string()).with_source(e)
    })?;
    let Some(table) = table else {
        return Ok(Vec::new());
    };
    Ok(table
        .partitions()
        .into_iter()
        .filter(|p| p.kind != vmcraft_part::PartKind::Extended)
        .map(|p| Partition {
            number: p.number,
            offset: p.start * p.sector_size,
            len: p.sectors() * p.sector_size,
        })
        .collect())
}
