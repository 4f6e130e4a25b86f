//! `blockdev_*`, `copy_device_to_device`, `dd`-style copies and the like on the
//! session's devices by libguestfs name (vmcraft-block).

use vmcraft_block::{CopyOptions, CopyStats};

use crate::error::{Error, ErrorKind, Result};
use crate::names::DeviceName;
use crate::session::VMCraft;

impl VMCraft {
    /// Size in bytes (`blockdev_getsize64`).
    ///
    /// An LV that cannot be reached as a block device here (striped, RAID or
    /// thin without device-mapper) is answered from LVM's metadata: the sum of
    /// its segments' lengths.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_getsize64(&self, device: &str) -> Result<u64> {
        self.device_size("blockdev_getsize64", device)
    }

    /// The size of `device`; from LVM's metadata for an LV that cannot be
    /// reached as a block device.
    fn device_size(&self, call: &str, device: &str) -> Result<u64> {
        match self.resolve(call, device) {
            Ok(r) => Ok(vmcraft_block::blockdev_getsize64(r.host)?),
            Err(e)
                if e.kind() == ErrorKind::Unsupported
                    && matches!(
                        crate::names::parse_device(device),
                        Ok(crate::names::DeviceName::LogicalVolume(..))
                    ) =>
            {
                let lv = crate::names::canonical_device_name(device);
                let segments = self.with_lvm(|l| Ok(l.lv_segments(&lv)?))?;
                segments
                    .iter()
                    .try_fold(0u64, |sum, s| sum.checked_add(s.length))
                    .ok_or_else(|| {
                        Error::call(
                            ErrorKind::Io,
                            call,
                            &lv,
                            "LVM reports a size past 2^64 bytes",
                        )
                    })
            }
            Err(e) => Err(e),
        }
    }

    /// Size in 512-byte sectors (`blockdev_getsz`). Like
    /// [`VMCraft::blockdev_getsize64`], an unreachable LV is answered from LVM's
    /// metadata.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_getsz(&self, device: &str) -> Result<u64> {
        Ok(self.device_size("blockdev_getsz", device)? / 512)
    }

    /// Logical sector size (`blockdev_getss`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_getss(&self, device: &str) -> Result<u32> {
        Ok(vmcraft_block::blockdev_getss(
            self.resolve("blockdev_getss", device)?.host,
        )?)
    }

    /// Soft block size (`blockdev_getbsz`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_getbsz(&self, device: &str) -> Result<u32> {
        Ok(vmcraft_block::blockdev_getbsz(
            self.resolve("blockdev_getbsz", device)?.host,
        )?)
    }

    /// Whether the device is read-only (`blockdev_getro`): always for a device of
    /// a drive added read-only (whose kernel device may be writable: under its
    /// throw-away overlay, see [`crate::Config::readonly_overlay`]), otherwise the
    /// kernel's flag (`BLKROGET`, which `blockdev_setro` sets).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_getro(&self, device: &str) -> Result<bool> {
        let dev = self.resolve("blockdev_getro", device)?;
        Ok(dev.readonly || vmcraft_block::blockdev_getro(dev.host)?)
    }

    /// Set the device read-only (`blockdev_setro`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_setro(&self, device: &str) -> Result<()> {
        Ok(vmcraft_block::blockdev_setro(
            self.resolve("blockdev_setro", device)?.host,
        )?)
    }

    /// Set the device read-write (`blockdev_setrw`); refused on a drive added
    /// read-only.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_setrw(&self, device: &str) -> Result<()> {
        let r = self.resolve("blockdev_setrw", device)?;
        if r.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                "blockdev_setrw",
                &r.name,
                "the drive was added read-only",
            ));
        }
        Ok(vmcraft_block::blockdev_setrw(r.host)?)
    }

    /// Flush the device's buffers (`blockdev_flushbufs`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_flushbufs(&self, device: &str) -> Result<()> {
        Ok(vmcraft_block::blockdev_flushbufs(
            self.resolve("blockdev_flushbufs", device)?.host,
        )?)
    }

    /// Ask the kernel to re-read the partition table (`blockdev_rereadpt`); on a
    /// kernel that re-reads nothing (no MBR/GPT parser), the partitions of a
    /// whole drive are made to match its table the BLKPG way.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blockdev_rereadpt(&self, device: &str) -> Result<()> {
        let r = self.resolve("blockdev_rereadpt", device)?;
        let out = vmcraft_block::blockdev_rereadpt(&r.host);
        // A kernel without the MBR/GPT parsers re-reads nothing: when it
        // found no partition, they are made from the table the BLKPG way, as
        // every partition call makes them. (Partitions the kernel did find,
        // of any table type, are left as it made them.)
        let synced = if out.is_ok() && matches!(r.what, DeviceName::Drive(_)) {
            vmcraft_block::DeviceNode::open(&r.host, true)
                .map_err(Error::from)
                .and_then(|node| {
                    if node.kernel_partitions()?.is_empty() {
                        vmcraft_part::sync_kernel_partitions(&node)?;
                    }
                    Ok(())
                })
        } else {
            Ok(())
        };
        self.invalidate_partition_cache();
        out?;
        synced
    }

    /// Copy between devices of the session (`copy_device_to_device`), with
    /// libguestfs's optional arguments; the destination's caches are invalidated.
    /// The copy observes `opts.cancel`, or else the handle's
    /// [`VMCraft::cancel_token`]: cancelled, it fails with
    /// `vmcraft_block::ErrorKind::Cancelled` after flushing what it wrote (the
    /// first N bytes of the range, N in the message).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn copy_device_to_device(
        &self,
        src: &str,
        dest: &str,
        opts: &CopyOptions<'_>,
    ) -> Result<CopyStats> {
        let s = self.resolve("copy_device_to_device", src)?;
        let d = self.resolve("copy_device_to_device", dest)?;
        if d.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                "copy_device_to_device",
                &d.name,
                "the drive was added read-only",
            ));
        }
        if self.mounts().iter().any(|m| m.device == d.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                "copy_device_to_device",
                &d.name,
                "the destination is mounted",
            ));
        }
        let progress = |done: u64, total: u64| self.progress("copy_device_to_device", done, total);
        let mut o = *opts;
        if o.progress.is_none() {
            o.progress = Some(&progress);
        }
        if o.cancel.is_none() {
            o.cancel = Some(&self.config.cancel);
        }
        o.create = false;
        // The kernel keeps a page cache per block device node: what was
        // written through a partition may be stale in the whole drive's cache
        // (and the other way round). The source's clean cached pages go
        // first, so the copy reads what is on the disk; the destination's
        // after, so later reads see what was copied.
        self.drop_cached_pages(&s);
        let r = vmcraft_block::copy_device_to_device(&s.host, &d.host, &o)
            .map_err(|e| e.with_call("copy_device_to_device"));
        self.drop_cached_pages(&d);
        // A whole drive is forgotten whole, partitions and LVs included.
        self.invalidate_device(&d.name);
        Ok(r?)
    }

    /// Flush and drop the kernel's cached pages (`BLKFLSBUF`) of a device and
    /// of the nodes that alias its blocks: a drive's partitions, a partition's
    /// drive. Best effort: a failure is logged.
    fn drop_cached_pages(&self, r: &crate::session::Resolved) {
        let mut nodes = vec![r.host.clone()];
        let drive = match &r.what {
            DeviceName::Drive(i) | DeviceName::Partition(i, _) => Some(*i),
            DeviceName::LogicalVolume(..) | DeviceName::Mapped(_) => None,
        };
        if let Some(i) = drive {
            let name = crate::names::drive_name(i);
            nodes.extend(
                self.named_session_nodes()
                    .into_iter()
                    .filter(|(n, _)| {
                        n == &name
                            || n.strip_prefix(name.as_str())
                                .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
                    })
                    .map(|(_, node)| node),
            );
        }
        nodes.sort();
        nodes.dedup();
        for node in nodes {
            if let Err(e) = vmcraft_block::blockdev_flushbufs(&node) {
                tracing::debug!(node = %node.display(), error = %e, "cannot drop cached pages");
            }
        }
    }

    /// The seed's `dd`: copy `count` blocks of `blocksize` bytes from one device to
    /// another (all of it when `count` is `None`); cancelled like
    /// [`VMCraft::copy_device_to_device`].
    pub fn dd_copy(
        &self,
        src: &str,
        dest: &str,
        count: Option<u64>,
        blocksize: u64,
    ) -> Result<CopyStats> {
        let size = vmcraft_block::copy::dd_size("dd_copy", src, count, blocksize)?;
        self.copy_device_to_device(
            src,
            dest,
            &CopyOptions {
                size,
                ..Default::default()
            },
        )
    }
}
