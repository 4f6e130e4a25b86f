//! [`ImageFile`]: a disk image on the host filesystem used as a block device, with
//! positioned I/O, a configurable logical sector size, and hole punching for zeroes
//! and discards.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::{BlockDevice, check_range, not_a_device, write_zero_buffers};
use crate::error::{Error, ErrorKind, Result};

/// A regular file holding a raw disk image.
///
/// Its size is the file's length; accesses past the end are errors, as on a real
/// disk (the image never grows by accident).
///
/// ```no_run
/// use vmcraft_block::{BlockDevice, ImageFile};
/// let disk = ImageFile::open("disk.img", false)?;
/// println!("{} bytes in {}-byte sectors", disk.size()?, disk.logical_sector_size()?);
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
#[derive(Debug)]
pub struct ImageFile {
    file: File,
    path: PathBuf,
    readonly: bool,
    sector_size: u32,
}

impl ImageFile {
    /// Open an existing image file, read-write unless `readonly`.
    pub fn open(path: impl AsRef<Path>, readonly: bool) -> Result<Self> {
        let path = path.as_ref();
        let meta =
            std::fs::metadata(path).map_err(|e| Error::io("open", path.display(), "stat", e))?;
        if !meta.is_file() {
            return Err(not_a_device("open", path, &meta));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(!readonly)
            .open(path)
            .map_err(|e| Error::io("open", path.display(), "open", e))?;
        Ok(ImageFile {
            file,
            path: path.to_path_buf(),
            readonly,
            sector_size: 512,
        })
    }

    /// Create (or truncate) a sparse image file of `size` bytes and open it.
    pub fn create(path: impl AsRef<Path>, size: u64) -> Result<Self> {
        let path = path.as_ref();
        let file =
            File::create(path).map_err(|e| Error::io("create", path.display(), "create", e))?;
        file.set_len(size)
            .map_err(|e| Error::io("create", path.display(), "set length", e))?;
        drop(file);
        Self::open(path, false)
    }

    /// Report this logical sector size instead of 512 (a 4Kn image).
    pub fn with_sector_size(mut self, sector_size: u32) -> Result<Self> {
        if !(512..=65536).contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err(Error::invalid(
                "open",
                self.path.display(),
                format!("sector size {sector_size} is not a power of two between 512 and 65536"),
            ));
        }
        self.sector_size = sector_size;
        Ok(self)
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }

    fn refuse_if_readonly(&self, call: &'static str) -> Result<()> {
        if self.readonly {
            Err(Error::new(
                ErrorKind::ReadOnly,
                call,
                self.path.display(),
                "device is read-only",
            ))
        } else {
            Ok(())
        }
    }

    fn punch(&self, offset: u64, len: u64) -> Result<()> {
        use nix::fcntl::{FallocateFlags, fallocate};
        let flags = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
        fallocate(&self.file, flags, offset as i64, len as i64)
            .map_err(|e| Error::errno("discard", self.path.display(), "punch hole", e))
    }
}

impl BlockDevice for ImageFile {
    fn size(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io("size", self.path.display(), "stat", e))
    }

    fn logical_sector_size(&self) -> Result<u32> {
        Ok(self.sector_size)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, "read", offset, buf.len() as u64)?;
        self.file.read_exact_at(buf, offset).map_err(|e| {
            Error::io(
                "read",
                self.path.display(),
                format!("{} bytes at offset {offset}", buf.len()),
                e,
            )
        })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.refuse_if_readonly("write")?;
        check_range(self, "write", offset, buf.len() as u64)?;
        self.file.write_all_at(buf, offset).map_err(|e| {
            Error::io(
                "write",
                self.path.display(),
                format!("{} bytes at offset {offset}", buf.len()),
                e,
            )
        })
    }

    fn flush(&self) -> Result<()> {
        if self.readonly {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| Error::io("flush", self.path.display(), "fdatasync", e))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn is_read_only(&self) -> Result<bool> {
        Ok(self.readonly)
    }

    fn host_path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn write_zeroes(&self, offset: u64, len: u64) -> Result<()> {
        self.refuse_if_readonly("write_zeroes")?;
        check_range(self, "write_zeroes", offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // A hole reads back as zeros and costs nothing; fall back to writing zeros
        // on filesystems that cannot punch holes.
        if self.punch(offset, len).is_ok() {
            return Ok(());
        }
        write_zero_buffers(self, offset, len)
    }

    fn discard(&self, offset: u64, len: u64) -> Result<()> {
        self.refuse_if_readonly("discard")?;
        check_range(self, "discard", offset, len)?;
        self.punch(offset, len)
    }
}

impl AsRawFd for ImageFile {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.file.as_raw_fd()
    }
}
