//! Lazy attaching of raw drives. A raw image needs no kernel device for what
//! VMCraft does in-process (partition tables, listing partitions), so `launch`
//! opens it as a file and attaches a loop device only when a call needs a kernel
//! node (mkfs, mount, probes, blockdev ioctls, LVM). Table edits on the file are
//! made durable once, when the drive is attached or the session ends, rather than
//! after every edit: a script of 25 partition edits costs one fsync, not 25.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use vmcraft_block::{BlockDevice, DeviceNode, ImageFile, Result as BlockResult};

/// An image file whose `flush` is deferred: writes mark it dirty, and the session
/// syncs it when the drive is attached or the session ends.
pub(crate) struct DeferredFlush<'a> {
    pub file: &'a ImageFile,
    pub dirty: &'a AtomicBool,
}

impl BlockDevice for DeferredFlush<'_> {
    fn size(&self) -> BlockResult<u64> {
        self.file.size()
    }
    fn logical_sector_size(&self) -> BlockResult<u32> {
        self.file.logical_sector_size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> BlockResult<()> {
        self.file.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> BlockResult<()> {
        self.dirty.store(true, Ordering::SeqCst);
        self.file.write_at(buf, offset)
    }
    fn flush(&self) -> BlockResult<()> {
        Ok(())
    }
    fn name(&self) -> String {
        self.file.name()
    }
    fn is_read_only(&self) -> BlockResult<bool> {
        self.file.is_read_only()
    }
    fn host_path(&self) -> Option<&Path> {
        self.file.host_path()
    }
    fn kernel_node(&self) -> Option<&DeviceNode> {
        None
    }
    fn write_zeroes(&self, offset: u64, len: u64) -> BlockResult<()> {
        self.dirty.store(true, Ordering::SeqCst);
        self.file.write_zeroes(offset, len)
    }
}

/// Sync a lazily opened image file if anything was written to it.
pub(crate) fn sync_if_dirty(file: &ImageFile, dirty: &AtomicBool) -> BlockResult<()> {
    if dirty.swap(false, Ordering::SeqCst) {
        file.flush()?;
    }
    Ok(())
}
