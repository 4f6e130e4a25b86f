//! [`DeviceNode`]: a kernel block device (`/dev/loop0`, `/dev/nbd0`, `/dev/sda`)
//! reached through positioned I/O and the block ioctls: size, sector sizes,
//! read-only flag, buffer flush, zero-out, discard, partition re-read, and the
//! BLKPG calls that add, delete and resize the kernel's partitions one at a time.

use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::{BlockDevice, check_range, not_a_device, write_zero_buffers};
use crate::error::{Error, ErrorKind, Result};
use crate::ioctl;

/// How long [`DeviceNode::hold_shared_lock`] waits for an exclusive lock on
/// the device to be released.
pub const SHARED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// An open kernel block device.
///
/// ```no_run
/// use vmcraft_block::{BlockDevice, DeviceNode};
/// let dev = DeviceNode::open("/dev/loop0", true)?;
/// println!("{} bytes, {} partitions", dev.size()?, dev.kernel_partitions()?.len());
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
#[derive(Debug)]
pub struct DeviceNode {
    file: File,
    path: PathBuf,
    readonly: bool,
    rdev: u64,
}

/// A partition as the kernel currently knows it (from sysfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPartition {
    /// Partition number (1-based).
    pub number: u32,
    /// Start in bytes.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// The device node, e.g. `/dev/loop0p1`.
    pub node: PathBuf,
}

impl DeviceNode {
    /// Open a block special file, read-write unless `readonly`. Anything that is not
    /// a block device is an error naming the path.
    pub fn open(path: impl AsRef<Path>, readonly: bool) -> Result<Self> {
        let path = path.as_ref();
        let meta =
            std::fs::metadata(path).map_err(|e| Error::io("open", path.display(), "stat", e))?;
        if !meta.file_type().is_block_device() {
            return Err(not_a_device("open", path, &meta));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(!readonly)
            .open(path)
            .map_err(|e| Error::io("open", path.display(), "open", e))?;
        let node = DeviceNode {
            file,
            path: path.to_path_buf(),
            readonly,
            rdev: meta.rdev(),
        };
        // Newer kernels allow a writable open of a read-only device and fail each
        // write instead; refuse up front, as older kernels do with EROFS.
        if !readonly && node.kernel_read_only()? {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                "open",
                path.display(),
                "device is read-only; open it read-only",
            ));
        }
        Ok(node)
    }

    /// The node's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Major and minor device numbers.
    pub fn dev_numbers(&self) -> (u32, u32) {
        (libc::major(self.rdev), libc::minor(self.rdev))
    }

    /// The device's directory in sysfs (`/sys/dev/block/MAJ:MIN`).
    pub fn sysfs_dir(&self) -> PathBuf {
        let (maj, min) = self.dev_numbers();
        PathBuf::from(format!("/sys/dev/block/{maj}:{min}"))
    }

    /// Hold a shared BSD lock (`flock(LOCK_SH)`) on the node for as long as it
    /// is open: the block-device locking protocol of systemd-udevd, saying that
    /// the disk's partitions are this holder's to manage. udev re-reads a whole
    /// disk's partition table (BLKRRPART) when a writer closes it, but only
    /// under an exclusive lock, so it leaves a locked disk alone instead of
    /// dropping and re-adding every partition under its user (a partition node
    /// that is briefly gone, BLKPG partitions replaced by the kernel's parse);
    /// its probes take a shared lock and go on. Waits up to
    /// [`SHARED_LOCK_WAIT`] for a holder of an exclusive lock (udev's own
    /// re-read, a partitioner) to let go; [`ErrorKind::Busy`] after that.
    ///
    /// ```no_run
    /// let dev = vmcraft_block::DeviceNode::open("/dev/loop0", true)?;
    /// dev.hold_shared_lock()?;
    /// # Ok::<(), vmcraft_block::Error>(())
    /// ```
    pub fn hold_shared_lock(&self) -> Result<()> {
        let mut outcome = Ok(());
        let waited = crate::wait_until(
            "an exclusive lock on the device to be released",
            SHARED_LOCK_WAIT,
            || match self.file.try_lock_shared() {
                Ok(()) => true,
                Err(std::fs::TryLockError::WouldBlock) => false,
                Err(std::fs::TryLockError::Error(e)) => {
                    outcome = Err(Error::io("lock", self.path.display(), "flock(LOCK_SH)", e));
                    true
                }
            },
        );
        outcome?;
        waited.map_err(|_| {
            Error::new(
                ErrorKind::Busy,
                "lock",
                self.path.display(),
                format!(
                    "another process has held an exclusive lock on the device for {} s",
                    SHARED_LOCK_WAIT.as_secs()
                ),
            )
        })
    }

    fn fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    fn errno(&self, call: &'static str, what: &str, e: nix::errno::Errno) -> Error {
        Error::errno(call, self.path.display(), what, e)
    }

    /// Soft block size (BLKBSZGET), as `blockdev --getbsz` reports it.
    pub fn block_size(&self) -> Result<u32> {
        let mut v: libc::c_int = 0;
        // SAFETY: BLKBSZGET writes one int through the pointer.
        unsafe { ioctl::blkbszget(self.fd(), &mut v) }
            .map_err(|e| self.errno("blockdev_getbsz", "BLKBSZGET", e))?;
        Ok(v as u32)
    }

    /// The kernel's read-only flag (BLKROGET).
    pub fn kernel_read_only(&self) -> Result<bool> {
        let mut v: libc::c_int = 0;
        // SAFETY: BLKROGET writes one int through the pointer.
        unsafe { ioctl::blkroget(self.fd(), &mut v) }
            .map_err(|e| self.errno("blockdev_getro", "BLKROGET", e))?;
        Ok(v != 0)
    }

    /// Set or clear the kernel's read-only flag (BLKROSET).
    pub fn set_kernel_read_only(&self, ro: bool) -> Result<()> {
        let v: libc::c_int = ro.into();
        let call = if ro {
            "blockdev_setro"
        } else {
            "blockdev_setrw"
        };
        // SAFETY: BLKROSET reads one int through the pointer.
        unsafe { ioctl::blkroset(self.fd(), &v) }.map_err(|e| self.errno(call, "BLKROSET", e))?;
        Ok(())
    }

    /// Ask the kernel to re-read the partition table (BLKRRPART). Fails with
    /// [`ErrorKind::Busy`] while a partition is in use; prefer BLKPG updates.
    pub fn reread_partitions(&self) -> Result<()> {
        // SAFETY: BLKRRPART takes no argument.
        unsafe { ioctl::blkrrpart(self.fd()) }
            .map_err(|e| self.errno("blockdev_rereadpt", "BLKRRPART", e))?;
        Ok(())
    }

    /// Flush dirty data, then drop the kernel's buffers for the device (BLKFLSBUF).
    pub fn flush_buffers(&self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| Error::io("blockdev_flushbufs", self.path.display(), "fsync", e))?;
        // SAFETY: BLKFLSBUF takes no argument.
        unsafe { ioctl::blkflsbuf(self.fd()) }
            .map_err(|e| self.errno("blockdev_flushbufs", "BLKFLSBUF", e))?;
        Ok(())
    }

    fn blkpg(
        &self,
        call: &'static str,
        op: libc::c_int,
        pno: u32,
        start: u64,
        length: u64,
    ) -> Result<()> {
        let mut part = ioctl::BlkpgPartition {
            start: start as i64,
            length: length as i64,
            pno: pno as libc::c_int,
            devname: [0; 64],
            volname: [0; 64],
        };
        let arg = ioctl::BlkpgIoctlArg {
            op,
            flags: 0,
            datalen: std::mem::size_of::<ioctl::BlkpgPartition>() as libc::c_int,
            data: (&mut part as *mut ioctl::BlkpgPartition).cast(),
        };
        // SAFETY: `arg` points at a live blkpg_partition for the whole call.
        unsafe { ioctl::blkpg(self.fd(), &arg) }.map_err(|e| {
            self.errno(
                call,
                &format!("BLKPG partition {pno} ({length} bytes at {start})"),
                e,
            )
        })?;
        Ok(())
    }

    /// Add partition `number` to the kernel's view (BLKPG_ADD_PARTITION), `start`
    /// and `length` in bytes.
    pub fn add_partition(&self, number: u32, start: u64, length: u64) -> Result<()> {
        self.blkpg(
            "add_partition",
            ioctl::BLKPG_ADD_PARTITION,
            number,
            start,
            length,
        )
    }

    /// Remove partition `number` from the kernel's view (BLKPG_DEL_PARTITION).
    pub fn delete_partition(&self, number: u32) -> Result<()> {
        self.blkpg("delete_partition", ioctl::BLKPG_DEL_PARTITION, number, 0, 0)
    }

    /// Change the length of partition `number` (BLKPG_RESIZE_PARTITION); the start
    /// must be unchanged.
    pub fn resize_partition(&self, number: u32, start: u64, length: u64) -> Result<()> {
        self.blkpg(
            "resize_partition",
            ioctl::BLKPG_RESIZE_PARTITION,
            number,
            start,
            length,
        )
    }

    /// The partitions the kernel currently has for this device, from sysfs, sorted by
    /// number.
    pub fn kernel_partitions(&self) -> Result<Vec<KernelPartition>> {
        partitions_in(&self.sysfs_dir(), &self.path)
    }
}

/// The partitions listed in a disk's sysfs directory `dir` (`/sys/dev/block/M:N`, or
/// a copy of its layout in tests); `device` names the disk in errors.
///
/// An entry with a `partition` attribute is a partition; one whose number, start or
/// size cannot be read or parsed is an error, never a partition at 0.
fn partitions_in(dir: &Path, device: &Path) -> Result<Vec<KernelPartition>> {
    const CALL: &str = "kernel_partitions";
    let read_err = |path: &Path, e| {
        Error::io(
            CALL,
            device.display(),
            format!("read {}", path.display()),
            e,
        )
    };
    let entries = std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
    let mut parts = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| read_err(dir, e))?;
        let p = entry.path();
        let number_attr = p.join("partition");
        let number = match std::fs::read_to_string(&number_attr) {
            Ok(s) => s,
            // Not a partition: an attribute file (ENOTDIR) or another directory.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                continue;
            }
            Err(e) => return Err(read_err(&number_attr, e)),
        };
        let bad = |path: &Path, text: &str, what: &str| {
            Error::new(
                ErrorKind::Io,
                CALL,
                device.display(),
                format!("{} holds {:?}, not {what}", path.display(), text.trim_end()),
            )
        };
        let number = number
            .trim()
            .parse::<u32>()
            .map_err(|_| bad(&number_attr, &number, "a partition number"))?;
        // sysfs counts in 512-byte sectors whatever the logical sector size.
        let bytes = |attr: &str| -> Result<u64> {
            let path = p.join(attr);
            let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            text.trim()
                .parse::<u64>()
                .ok()
                .and_then(|sectors| sectors.checked_mul(512))
                .ok_or_else(|| bad(&path, &text, "a sector count"))
        };
        parts.push(KernelPartition {
            number,
            start: bytes("start")?,
            size: bytes("size")?,
            node: Path::new("/dev").join(entry.file_name()),
        });
    }
    parts.sort_by_key(|p| p.number);
    Ok(parts)
}

impl BlockDevice for DeviceNode {
    fn size(&self) -> Result<u64> {
        let mut size = 0u64;
        // SAFETY: BLKGETSIZE64 writes one u64 through the pointer.
        unsafe { ioctl::blkgetsize64(self.fd(), &mut size) }
            .map_err(|e| self.errno("blockdev_getsize64", "BLKGETSIZE64", e))?;
        Ok(size)
    }

    fn logical_sector_size(&self) -> Result<u32> {
        let mut v: libc::c_int = 0;
        // SAFETY: BLKSSZGET writes one int through the pointer.
        unsafe { ioctl::blksszget(self.fd(), &mut v) }
            .map_err(|e| self.errno("blockdev_getss", "BLKSSZGET", e))?;
        Ok(v as u32)
    }

    fn physical_sector_size(&self) -> Result<u32> {
        let mut v: libc::c_uint = 0;
        // SAFETY: BLKPBSZGET writes one unsigned int through the pointer.
        unsafe { ioctl::blkpbszget(self.fd(), &mut v) }
            .map_err(|e| self.errno("physical_sector_size", "BLKPBSZGET", e))?;
        Ok(v)
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
        if self.readonly {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                "write",
                self.path.display(),
                "device is read-only",
            ));
        }
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
            .sync_all()
            .map_err(|e| Error::io("flush", self.path.display(), "fsync", e))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn is_read_only(&self) -> Result<bool> {
        Ok(self.readonly || self.kernel_read_only()?)
    }

    fn host_path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn kernel_node(&self) -> Option<&DeviceNode> {
        Some(self)
    }

    fn write_zeroes(&self, offset: u64, len: u64) -> Result<()> {
        if self.readonly {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                "write_zeroes",
                self.path.display(),
                "device is read-only",
            ));
        }
        check_range(self, "write_zeroes", offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let ss = self.logical_sector_size()? as u64;
        if offset.is_multiple_of(ss) && len.is_multiple_of(ss) {
            let range = [offset, len];
            // SAFETY: BLKZEROOUT reads two u64 through the pointer.
            if unsafe { ioctl::blkzeroout(self.fd(), &range) }.is_ok() {
                return Ok(());
            }
        }
        write_zero_buffers(self, offset, len)
    }

    fn discard(&self, offset: u64, len: u64) -> Result<()> {
        if self.readonly {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                "discard",
                self.path.display(),
                "device is read-only",
            ));
        }
        check_range(self, "discard", offset, len)?;
        let range = [offset, len];
        // SAFETY: BLKDISCARD reads two u64 through the pointer.
        unsafe { ioctl::blkdiscard(self.fd(), &range) }
            .map_err(|e| self.errno("discard", "BLKDISCARD", e))?;
        Ok(())
    }
}

impl AsRawFd for DeviceNode {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition's attributes: (name, contents), `None` for one left out.
    type Attrs<'a> = [(&'a str, Option<&'a str>)];

    /// A disk's sysfs directory as the kernel lays it out, with partitions given
    /// as (name, attributes).
    fn sysfs(parts: &[(&str, &Attrs<'_>)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("size"), "2048\n").unwrap();
        std::fs::create_dir(dir.path().join("queue")).unwrap();
        for (name, attrs) in parts {
            let p = dir.path().join(name);
            std::fs::create_dir(&p).unwrap();
            for (attr, value) in *attrs {
                if let Some(v) = value {
                    std::fs::write(p.join(attr), v).unwrap();
                }
            }
        }
        dir
    }

    #[test]
    fn partitions_are_read_in_bytes_sorted_by_number() {
        let dir = sysfs(&[
            (
                "loop9p2",
                &[
                    ("partition", Some("2\n")),
                    ("start", Some("4096\n")),
                    ("size", Some("100\n")),
                ],
            ),
            (
                "loop9p1",
                &[
                    ("partition", Some("1\n")),
                    ("start", Some("2048\n")),
                    ("size", Some("8\n")),
                ],
            ),
        ]);
        let parts = partitions_in(dir.path(), Path::new("/dev/loop9")).unwrap();
        assert_eq!(
            parts,
            [
                KernelPartition {
                    number: 1,
                    start: 2048 * 512,
                    size: 8 * 512,
                    node: PathBuf::from("/dev/loop9p1"),
                },
                KernelPartition {
                    number: 2,
                    start: 4096 * 512,
                    size: 100 * 512,
                    node: PathBuf::from("/dev/loop9p2"),
                },
            ]
        );
    }

    #[test]
    fn a_missing_start_or_size_is_an_error_not_zero() {
        for missing in ["start", "size"] {
            let attrs: Vec<(&str, Option<&str>)> = ["partition", "start", "size"]
                .iter()
                .map(|a| (*a, (*a != missing).then_some("1\n")))
                .collect();
            let dir = sysfs(&[("loop9p1", &attrs)]);
            let e = partitions_in(dir.path(), Path::new("/dev/loop9")).unwrap_err();
            let attr = dir.path().join("loop9p1").join(missing);
            assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
            assert_eq!(
                e.to_string(),
                format!("kernel_partitions: /dev/loop9: read {}", attr.display())
            );
        }
    }

    #[test]
    fn an_unparsable_or_overflowing_start_or_size_is_an_error() {
        for (attr, value) in [
            ("start", "x\n"),
            ("size", ""),
            ("start", "-1\n"),
            ("size", "36028797018963968\n"),
        ] {
            let attrs: Vec<(&str, Option<&str>)> = ["partition", "start", "size"]
                .iter()
                .map(|a| (*a, Some(if *a == attr { value } else { "1\n" })))
                .collect();
            let dir = sysfs(&[("loop9p1", &attrs)]);
            let e = partitions_in(dir.path(), Path::new("/dev/loop9")).unwrap_err();
            let path = dir.path().join("loop9p1").join(attr);
            assert_eq!(e.kind(), ErrorKind::Io, "{e}");
            assert_eq!(
                e.to_string(),
                format!(
                    "kernel_partitions: /dev/loop9: {} holds {:?}, not a sector count",
                    path.display(),
                    value.trim_end()
                )
            );
        }
    }

    #[test]
    fn an_unparsable_partition_number_is_an_error() {
        let dir = sysfs(&[(
            "loop9p1",
            &[
                ("partition", Some("one\n")),
                ("start", Some("1\n")),
                ("size", Some("1\n")),
            ],
        )]);
        let e = partitions_in(dir.path(), Path::new("/dev/loop9")).unwrap_err();
        assert!(
            e.to_string()
                .contains("holds \"one\", not a partition number"),
            "{e}"
        );
    }
}
