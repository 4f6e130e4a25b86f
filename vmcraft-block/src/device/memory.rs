//! [`MemoryDisk`]: a disk held in memory, for unit tests and scratch work. It can
//! be read-only, and it can be snapshotted to prove that a rejected operation left
//! every byte unchanged.

use std::sync::RwLock;

use super::{BlockDevice, check_range};
use crate::error::{Error, ErrorKind, Result};

/// A disk in memory.
///
/// ```
/// use vmcraft_block::{BlockDevice, MemoryDisk};
/// let disk = MemoryDisk::with_sector_size(8 << 20, 4096)?;
/// let before = disk.snapshot();
/// assert!(disk.write_at(&[1], 8 << 20).is_err()); // past the end
/// assert_eq!(disk.snapshot(), before);
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
#[derive(Debug)]
pub struct MemoryDisk {
    data: RwLock<Vec<u8>>,
    sector_size: u32,
    readonly: bool,
}

impl MemoryDisk {
    /// A zero-filled disk of `size` bytes with 512-byte sectors.
    pub fn new(size: u64) -> Self {
        Self::from_bytes(vec![0; size as usize])
    }

    /// A zero-filled disk with the given logical sector size.
    pub fn with_sector_size(size: u64, sector_size: u32) -> Result<Self> {
        if !(512..=65536).contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err(Error::invalid(
                "memory_disk",
                "memory",
                format!("sector size {sector_size} is not a power of two between 512 and 65536"),
            ));
        }
        Ok(MemoryDisk {
            sector_size,
            ..Self::new(size)
        })
    }

    /// A disk holding these bytes, 512-byte sectors.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        MemoryDisk {
            data: RwLock::new(bytes),
            sector_size: 512,
            readonly: false,
        }
    }

    /// The same disk, refusing writes.
    pub fn read_only(mut self) -> Self {
        self.readonly = true;
        self
    }

    /// A copy of every byte.
    pub fn snapshot(&self) -> Vec<u8> {
        self.data.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl BlockDevice for MemoryDisk {
    fn size(&self) -> Result<u64> {
        Ok(self.data.read().unwrap_or_else(|e| e.into_inner()).len() as u64)
    }

    fn logical_sector_size(&self) -> Result<u32> {
        Ok(self.sector_size)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, "read", offset, buf.len() as u64)?;
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let start = offset as usize;
        buf.copy_from_slice(&data[start..start + buf.len()]);
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if self.readonly {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                "write",
                "memory",
                "device is read-only",
            ));
        }
        check_range(self, "write", offset, buf.len() as u64)?;
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let start = offset as usize;
        data[start..start + buf.len()].copy_from_slice(buf);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn name(&self) -> String {
        "memory".to_string()
    }

    fn is_read_only(&self) -> Result<bool> {
        Ok(self.readonly)
    }

    fn discard(&self, offset: u64, len: u64) -> Result<()> {
        self.write_zeroes(offset, len)
    }
}
