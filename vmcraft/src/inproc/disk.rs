//! Block devices over images read in-process: [`ImageDisk`] presents a
//! vmcraft-fs image (raw or qcow2, opened as an ordinary file) as a read-only
//! [`BlockDevice`], so the in-process partition code (vmcraft-part) and the
//! superblock probes work on a drive that has no kernel device; [`Slice`] is a
//! byte range of any block device (a partition), for probing it.

use std::path::Path;
use std::sync::Arc;

use vmcraft_block::{BlockDevice, DeviceNode, Error, ErrorKind, Result};

/// A read-only [`BlockDevice`] over an image read in-process.
pub(crate) struct ImageDisk {
    image: Arc<dyn vmcraft_fs::ReadAt>,
}

impl ImageDisk {
    /// The image as a block device.
    pub(crate) fn new(image: Arc<dyn vmcraft_fs::ReadAt>) -> Self {
        ImageDisk { image }
    }
}

fn read_only(call: &'static str, name: String) -> Error {
    Error::new(
        ErrorKind::ReadOnly,
        call,
        name,
        "the drive is read-only (read in-process)",
    )
}

impl BlockDevice for ImageDisk {
    fn size(&self) -> Result<u64> {
        Ok(self.image.size())
    }
    fn logical_sector_size(&self) -> Result<u32> {
        Ok(512)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.image.read_at(offset, buf).map_err(|e| {
            Error::new(ErrorKind::Io, "read", self.image.name(), e.to_string()).with_source(e)
        })
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> Result<()> {
        Err(read_only("write", self.image.name()))
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    fn name(&self) -> String {
        self.image.name()
    }
    fn is_read_only(&self) -> Result<bool> {
        Ok(true)
    }
    fn host_path(&self) -> Option<&Path> {
        None
    }
    fn kernel_node(&self) -> Option<&DeviceNode> {
        None
    }
    fn write_zeroes(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(read_only("write_zeroes", self.image.name()))
    }
    fn discard(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(read_only("discard", self.image.name()))
    }
}

/// `len` bytes of `dev` from `offset`, read-only: a partition to probe.
pub(crate) struct Slice<'a> {
    pub dev: &'a dyn BlockDevice,
    pub offset: u64,
    pub len: u64,
}

impl BlockDevice for Slice<'_> {
    fn size(&self) -> Result<u64> {
        Ok(self.len)
    }
    fn logical_sector_size(&self) -> Result<u32> {
        self.dev.logical_sector_size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(Error::invalid(
                "read",
                self.dev.name(),
                format!(
                    "read of {} bytes at {offset} is past the end of the partition ({} bytes)",
                    buf.len(),
                    self.len
                ),
            ));
        }
        let at = self
            .offset
            .checked_add(offset)
            .ok_or_else(|| Error::invalid("read", self.dev.name(), "partition offset overflows"))?;
        self.dev.read_at(buf, at)
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> Result<()> {
        Err(read_only("write", self.dev.name()))
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    fn name(&self) -> String {
        self.dev.name()
    }
    fn is_read_only(&self) -> Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes(Vec<u8>);
    impl vmcraft_fs::ReadAt for Bytes {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> vmcraft_fs::Result<()> {
            let s = offset as usize;
            buf.copy_from_slice(&self.0[s..s + buf.len()]);
            Ok(())
        }
    }

    #[test]
    fn image_disk_reads_and_refuses_writes() {
        let d = ImageDisk::new(Arc::new(Bytes((0..=255u8).collect())));
        let mut b = [0u8; 4];
        d.read_at(&mut b, 10).unwrap();
        assert_eq!(b, [10, 11, 12, 13]);
        assert_eq!(d.size().unwrap(), 256);
        assert_eq!(d.write_at(&b, 0).unwrap_err().kind(), ErrorKind::ReadOnly);
        let s = Slice {
            dev: &d,
            offset: 100,
            len: 10,
        };
        s.read_at(&mut b, 6).unwrap();
        assert_eq!(b, [106, 107, 108, 109]);
        assert!(s.read_at(&mut b, 7).is_err());
        assert!(s.read_at(&mut b, u64::MAX).is_err());
    }
}
