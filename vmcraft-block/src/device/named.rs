//! [`Named`]: a device under another name, so that messages from the crates above
//! speak of `/dev/sda` while the I/O goes to `/dev/loop3`.

use std::path::Path;

use super::{BlockDevice, DeviceNode};
use crate::error::Result;

/// Wraps a device and reports `name` from [`BlockDevice::name`]; everything else is
/// forwarded.
///
/// ```
/// use vmcraft_block::{BlockDevice, MemoryDisk, device::Named};
/// let dev = Named::new(MemoryDisk::new(1 << 20), "/dev/sda");
/// assert_eq!(dev.name(), "/dev/sda");
/// let err = dev.write_at(&[0], 1 << 20).unwrap_err();
/// assert!(err.to_string().starts_with("write: /dev/sda: "));
/// ```
#[derive(Debug)]
pub struct Named<D> {
    inner: D,
    name: String,
}

impl<D: BlockDevice> Named<D> {
    /// `inner`, called `name`.
    pub fn new(inner: D, name: impl Into<String>) -> Self {
        Named {
            inner,
            name: name.into(),
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: BlockDevice> BlockDevice for Named<D> {
    fn size(&self) -> Result<u64> {
        self.inner.size()
    }
    fn logical_sector_size(&self) -> Result<u32> {
        self.inner.logical_sector_size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        super::check_range(self, "read", offset, buf.len() as u64)?;
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        super::check_range(self, "write", offset, buf.len() as u64)?;
        self.inner.write_at(buf, offset)
    }
    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }
    fn name(&self) -> String {
        self.name.clone()
    }
    fn physical_sector_size(&self) -> Result<u32> {
        self.inner.physical_sector_size()
    }
    fn is_read_only(&self) -> Result<bool> {
        self.inner.is_read_only()
    }
    fn host_path(&self) -> Option<&Path> {
        self.inner.host_path()
    }
    fn kernel_node(&self) -> Option<&DeviceNode> {
        self.inner.kernel_node()
    }
    fn write_zeroes(&self, offset: u64, len: u64) -> Result<()> {
        super::check_range(self, "write_zeroes", offset, len)?;
        self.inner.write_zeroes(offset, len)
    }
    fn discard(&self, offset: u64, len: u64) -> Result<()> {
        self.inner.discard(offset, len)
    }
}
