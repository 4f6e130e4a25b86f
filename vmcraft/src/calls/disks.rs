//! Whole disks and block data: zeroing and discarding, copies between files and devices, disk images on the host (`disk-format`, `disk-create`, ...), device indexes, filesystem and feature availability, `findfs-*`, `remount`, mountables and device lists.
//!
//! Guest files (`copy_*_file*`, `zero_free_space`) are opened through the
//! confined resolver ([`vmcraft_fs::root::GuestRoot`]): a guest symlink or `..`
//! never reaches a host file, and only regular files are read or written. The
//! copy itself then works on the opened descriptor (through `/proc/self/fd`, the
//! same inode whatever the guest does to the path meanwhile). Host image files
//! (`disk_*`) are named by the caller, as with libguestfs, and nothing they name
//! (a backing file, an extent, an external data file) is ever opened.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vmcraft_block::{BlockDevice, CopyOptions, CopyStats, DeviceNode};
use vmcraft_fs::root::WriteMode;
use vmcraft_nbd::Format;

use crate::error::{Error, ErrorKind, Result};
use crate::names::{DeviceName, parse_device};
use crate::session::VMCraft;

/// How many bytes `zero` clears at the start of a device: 32 blocks of 4 KiB, as
/// libguestfs does (enough for partition tables and superblocks, not a wipe).
pub const ZERO_BYTES: u64 = 32 * 4096;

/// The block `zero_device` reads, compares and (if not zero) rewrites.
const ZERO_CHUNK: usize = 1 << 20;

/// Every option group libguestfs defines, as `available_all_groups` lists them.
pub const ALL_GROUPS: [&str; 36] = [
    "acl",
    "blkdiscard",
    "blkdiscardzeroes",
    "btrfs",
    "extlinux",
    "f2fs",
    "fstrim",
    "gdisk",
    "grub",
    "hivex",
    "inotify",
    "journal",
    "ldm",
    "libtsk",
    "libyara",
    "linuxcaps",
    "linuxfsuuid",
    "linuxmodules",
    "linuxxattrs",
    "luks",
    "lvm2",
    "mdadm",
    "mknod",
    "ntfs3g",
    "ntfsprogs",
    "rsync",
    "scrub",
    "selinux",
    "selinuxrelabel",
    "sleuthkit",
    "squashfs",
    "syslinux",
    "wipefs",
    "xfs",
    "xz",
    "zerofree",
];

/// What each option group needs: calls that must be in the call table (the
/// group's calls, as libguestfs groups them) and host programs they run.
const GROUPS: [(&str, &[&str], &[&str]); 36] = [
    ("acl", &["acl-get-file", "acl-set-file"], &[]),
    ("blkdiscard", &["blkdiscard"], &[]),
    ("blkdiscardzeroes", &["blkdiscardzeroes"], &[]),
    (
        "btrfs",
        &["btrfs-subvolume-create", "btrfs-subvolume-list"],
        &["btrfs"],
    ),
    ("extlinux", &["extlinux"], &["extlinux"]),
    ("f2fs", &["f2fs-expand"], &["resize.f2fs"]),
    ("fstrim", &["fstrim"], &[]),
    ("gdisk", &["part-get-gpt-guid", "part-expand-gpt"], &[]),
    ("grub", &["grub-install"], &["grub-install"]),
    ("hivex", &["hivex-open"], &[]),
    ("inotify", &["inotify-init"], &[]),
    ("journal", &["journal-open"], &[]),
    ("ldm", &["ldmtool-scan"], &["ldmtool"]),
    ("libtsk", &["filesystem-walk"], &[]),
    ("libyara", &["yara-load"], &[]),
    ("linuxcaps", &["cap-get-file"], &[]),
    ("linuxfsuuid", &["mkswap-U"], &[]),
    ("linuxmodules", &["modprobe"], &["modprobe"]),
    ("linuxxattrs", &["getxattrs", "setxattr"], &[]),
    ("luks", &["cryptsetup-open"], &["cryptsetup"]),
    ("lvm2", &["lvcreate", "lvrename"], &["lvm"]),
    ("mdadm", &["md-create"], &["mdadm"]),
    ("mknod", &["mknod"], &[]),
    ("ntfs3g", &["ntfs-3g-probe"], &["ntfs-3g"]),
    ("ntfsprogs", &["ntfsresize"], &["ntfsresize"]),
    ("rsync", &["rsync"], &["rsync"]),
    ("scrub", &["scrub-device"], &["scrub"]),
    ("selinux", &["getcon"], &[]),
    ("selinuxrelabel", &["selinux-relabel"], &["setfiles"]),
    ("sleuthkit", &["download-inode"], &[]),
    ("squashfs", &["mksquashfs"], &["mksquashfs"]),
    ("syslinux", &["syslinux"], &["syslinux"]),
    ("wipefs", &["wipefs"], &[]),
    ("xfs", &["xfs-info", "xfs-growfs"], &[]),
    ("xz", &["txz-in", "txz-out"], &[]),
    ("zerofree", &["zerofree"], &["zerofree"]),
];

/// Options of [`VMCraft::disk_create`], libguestfs's optional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskCreateOpts {
    /// A backing file for a qcow2 overlay (needs `backingformat`: a backing
    /// file's format is never probed).
    pub backingfile: Option<String>,
    /// The backing file's format (`raw`, `qcow2`, ...).
    pub backingformat: Option<String>,
    /// `off`/`sparse`, `metadata` (qcow2 only) or `full`.
    pub preallocation: Option<String>,
    /// qcow2 compatibility level: `0.10` or `1.1`.
    pub compat: Option<String>,
    /// qcow2 cluster size in bytes: a power of two from 512 to 2 MiB.
    pub clustersize: Option<i32>,
}

/// A copy endpoint: a device of the session or a guest file, opened.
enum End {
    Device { name: String, host: PathBuf },
    File { path: String, file: File },
}

impl End {
    /// The path the block copy opens: the device node, or the opened file
    /// through `/proc/self/fd` (the same inode, never the guest path again).
    fn open_path(&self) -> PathBuf {
        match self {
            End::Device { host, .. } => host.clone(),
            End::File { file, .. } => PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())),
        }
    }

    fn name(&self) -> &str {
        match self {
            End::Device { name, .. } => name,
            End::File { path, .. } => path,
        }
    }
}

fn io_err(call: &str, subject: impl std::fmt::Display, what: &str, e: std::io::Error) -> Error {
    Error::call_with_source(ErrorKind::Io, call, subject, what, e)
}

impl VMCraft {
    /// Refuse a write to a device of a read-only drive or one that is mounted,
    /// before anything is opened for writing.
    pub(crate) fn writable_device(
        &self,
        call: &str,
        device: &str,
    ) -> Result<crate::session::Resolved> {
        let r = self.resolve(call, device)?;
        if r.readonly {
            return Err(Error::invalid(
                call,
                &r.name,
                "the drive was added read-only",
            ));
        }
        let mounted = self.mounts().iter().any(|m| {
            m.device == r.name
                || (matches!(r.what, DeviceName::Drive(_))
                    && m.device.strip_prefix(r.name.as_str()).is_some_and(|rest| {
                        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
                    }))
        });
        if mounted {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                &r.name,
                "the device is mounted",
            ));
        }
        // A PV (the device, or for a drive one of its partitions) under a
        // mounted LV is as busy as a mounted filesystem.
        let lv_mounted = self
            .mounts()
            .iter()
            .any(|m| matches!(parse_device(&m.device), Ok(DeviceName::LogicalVolume(..))));
        if lv_mounted && !matches!(r.what, DeviceName::LogicalVolume(..)) {
            let mut under = vec![r.name.clone()];
            if matches!(r.what, DeviceName::Drive(_)) {
                under.extend(self.drive_partitions(&r.name)?);
            }
            for d in under {
                if self.vfs_type(&d)? == "LVM2_member" {
                    return Err(Error::call(
                        ErrorKind::Busy,
                        call,
                        &r.name,
                        format!("{d} is a physical volume of a mounted logical volume"),
                    ));
                }
            }
        }
        Ok(r)
    }

    /// Write zeroes over the first 128 KiB of a device (`zero`), skipping
    /// blocks that are already zero, so a sparse image stays sparse. Not a
    /// secure wipe: enough to remove partition tables and superblocks. A device
    /// smaller than that is zeroed whole.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn zero(&self, device: &str) -> Result<()> {
        let r = self.writable_device("zero", device)?;
        let node = DeviceNode::open(&r.host, false)?;
        let size = node.size()?;
        let end = size.min(ZERO_BYTES);
        let r = zero_range(self, "zero", &r.name, &node, end);
        self.invalidate_device(device);
        r
    }

    /// Write zeroes over a whole device (`zero_device`), skipping blocks that
    /// are already zero. Cancellable through [`VMCraft::cancel_token`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn zero_device(&self, device: &str) -> Result<()> {
        let r = self.writable_device("zero_device", device)?;
        let node = DeviceNode::open(&r.host, false)?;
        let size = node.size()?;
        let out = zero_range(self, "zero_device", &r.name, &node, size);
        self.invalidate_device(device);
        out
    }

    /// Fill the free space of the filesystem mounted at `directory` with zeroes
    /// and free it again (`zero_free_space`): a file of zeroes is written in
    /// the directory until the filesystem is full, synced and removed. The
    /// directory is resolved inside the guest tree; the file gets a random
    /// 8.3 name and is made with `O_EXCL`, so nothing existing is touched.
    /// The journal is committed first (blocks freed just before are then
    /// free), and the file is filled until even one block more will not fit.
    /// Blocks the filesystem keeps back even from root (ext4's reserved
    /// clusters) are not reached, as with libguestfs.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn zero_free_space(&self, directory: &str) -> Result<()> {
        const CALL: &str = "zero_free_space";
        let root = self.guest_root_for(CALL)?;
        if !root.is_dir(directory, true)? {
            return Err(Error::invalid(CALL, directory, "not a directory"));
        }
        let dir = directory.trim_end_matches('/');
        let name = loop {
            let n = format!("{dir}/{}", random_83_name());
            if !root.exists(&n)? {
                break n;
            }
        };
        let mut f = root
            .open_write(&name, WriteMode::CreateNew, 0o600)
            .map_err(|e| e.with_call(CALL))?;
        // Blocks freed in the running journal transaction (a file removed just
        // before) cannot be reused until it commits: commit it first, so that
        // they are zeroed too.
        if let Err(e) = nix::unistd::syncfs(&f) {
            let _ = root.rm(&name);
            return Err(io_err(CALL, directory, "syncfs", std::io::Error::from(e)));
        }
        let zeros = vec![0u8; 1 << 20];
        let total = nix::sys::statvfs::fstatvfs(&f)
            .map(|s| s.blocks_free() * s.fragment_size())
            .unwrap_or(0);
        let mut written = 0u64;
        // The first ENOSPC comes early where the filesystem holds space back
        // for data not yet allocated (ext4's delayed allocation reserves room
        // for metadata it may need): once flushed, what was held back is free
        // again. So: fill, flush, and fill again until a round adds nothing.
        let mut round_start = 0u64;
        // The last blocks go one filesystem block at a time.
        let small = nix::sys::statvfs::fstatvfs(&f)
            .map(|s| s.fragment_size() as usize)
            .unwrap_or(512)
            .clamp(512, 1 << 16);
        let mut chunk = zeros.len();
        let result = loop {
            if let Err(e) = self.config.cancel.check(CALL, directory, "cancelled") {
                break Err(Error::from(e));
            }
            let full = match f.write(&zeros[..chunk]) {
                Ok(0) => true,
                Ok(n) => {
                    written += n as u64;
                    self.progress(CALL, written.min(total), total);
                    false
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => false,
                Err(e) => break Err(io_err(CALL, directory, "write", e)),
            };
            if full {
                if written == round_start && chunk == small {
                    break Ok(());
                }
                chunk = small;
                round_start = written;
                // ENOSPC from the flush itself only means the disk is full.
                if let Err(e) = f.sync_data()
                    && e.raw_os_error() != Some(libc::ENOSPC)
                {
                    break Err(io_err(CALL, directory, "fsync", e));
                }
            }
        };
        tracing::debug!(directory, written, "zero_free_space: filled");
        // The blocks must reach the disk as zeroes before they are freed.
        let synced = f.sync_all();
        drop(f);
        let removed = root.rm(&name);
        result?;
        if let Err(e) = synced
            && e.raw_os_error() != Some(libc::ENOSPC)
        {
            return Err(io_err(CALL, directory, "fsync", e));
        }
        removed?;
        Ok(())
    }

    /// Open a copy source: a device of the session (`Device`) or a guest file.
    fn copy_source(&self, call: &'static str, src: &str, device: bool) -> Result<End> {
        if device {
            let r = self.resolve(call, src)?;
            return Ok(End::Device {
                name: r.name,
                host: r.host,
            });
        }
        let root = self.guest_root_for(call)?;
        Ok(End::File {
            path: src.to_string(),
            file: root.open_read(src).map_err(|e| e.with_call(call))?,
        })
    }

    /// The libguestfs copy between a device or guest file and another: the
    /// arguments are all checked, then the destination is opened (a guest file
    /// is created if needed, and truncated unless `append`), then the block copy
    /// runs on the opened descriptors.
    fn copy_call(
        &self,
        call: &'static str,
        src: &str,
        src_is_device: bool,
        dest: &str,
        dest_is_device: bool,
        opts: &CopyOptions<'_>,
    ) -> Result<CopyStats> {
        for (name, v) in [
            ("srcoffset", Some(opts.srcoffset)),
            ("destoffset", Some(opts.destoffset)),
            ("size", opts.size),
        ] {
            if let Some(v) = v
                && v < 0
            {
                return Err(Error::invalid(call, src, format!("{name} is negative")));
            }
        }
        if opts.append && dest_is_device {
            return Err(Error::invalid(
                call,
                dest,
                "the append flag cannot be set for this call",
            ));
        }
        let source = self.copy_source(call, src, src_is_device)?;
        let src_size = match &source {
            End::Device { host, .. } => vmcraft_block::blockdev_getsize64(host)?,
            End::File { file, .. } => file
                .metadata()
                .map_err(|e| io_err(call, src, "stat", e))?
                .len(),
        };
        let srcoffset = opts.srcoffset as u64;
        if srcoffset > src_size {
            return Err(Error::invalid(
                call,
                source.name(),
                format!("srcoffset {srcoffset} is past the end of the source (size {src_size})"),
            ));
        }
        if let Some(s) = opts.size
            && s as u64 > src_size - srcoffset
        {
            return Err(Error::invalid(
                call,
                source.name(),
                format!(
                    "input too short: {s} bytes requested at srcoffset {srcoffset}, only {} available",
                    src_size - srcoffset
                ),
            ));
        }
        let target = if dest_is_device {
            let r = self.writable_device(call, dest)?;
            End::Device {
                name: r.name,
                host: r.host,
            }
        } else {
            let root = self.guest_root_for(call)?;
            // Opened without truncation first: the checks below may refuse.
            let file = root
                .open_write(dest, WriteMode::Append, 0o666)
                .map_err(|e| e.with_call(call))?;
            End::File {
                path: dest.to_string(),
                file,
            }
        };
        // The same file both ways: truncating it would destroy the source.
        if let (End::File { file: a, .. }, End::File { file: b, .. }) = (&source, &target) {
            let (ma, mb) = (
                a.metadata().map_err(|e| io_err(call, src, "stat", e))?,
                b.metadata().map_err(|e| io_err(call, dest, "stat", e))?,
            );
            if ma.dev() == mb.dev() && ma.ino() == mb.ino() && !opts.append {
                return Err(Error::invalid(
                    call,
                    dest,
                    "source and destination are the same file",
                ));
            }
        }
        if let End::File { file, .. } = &target
            && !opts.append
        {
            file.set_len(0)
                .map_err(|e| io_err(call, dest, "truncate", e))?;
        }
        let progress = |done: u64, total: u64| self.progress(call, done, total);
        let mut o = *opts;
        if o.progress.is_none() {
            o.progress = Some(&progress);
        }
        if o.cancel.is_none() {
            o.cancel = Some(&self.config.cancel);
        }
        o.create = false;
        let r = vmcraft_block::copy_device_to_device(source.open_path(), target.open_path(), &o)
            .map_err(|e| e.with_call(call));
        if let End::Device { name, .. } = &target {
            self.invalidate_device(name);
        }
        Ok(r?)
    }

    /// Copy from a device to a guest file (`copy_device_to_file`), with
    /// libguestfs's optional arguments (`srcoffset`, `destoffset`, `size`,
    /// `sparse`, `append`). The file is created if needed and truncated first
    /// unless `append` is set.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn copy_device_to_file(
        &self,
        src: &str,
        dest: &str,
        opts: &CopyOptions<'_>,
    ) -> Result<CopyStats> {
        self.copy_call("copy_device_to_file", src, true, dest, false, opts)
    }

    /// Copy from a guest file to a device (`copy_file_to_device`); `append` is
    /// refused, as libguestfs refuses it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn copy_file_to_device(
        &self,
        src: &str,
        dest: &str,
        opts: &CopyOptions<'_>,
    ) -> Result<CopyStats> {
        self.copy_call("copy_file_to_device", src, false, dest, true, opts)
    }

    /// Copy blocks between guest files (`copy_file_to_file`; not a file copy,
    /// see `cp`). The destination is created if needed and truncated first
    /// unless `append` is set.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn copy_file_to_file(
        &self,
        src: &str,
        dest: &str,
        opts: &CopyOptions<'_>,
    ) -> Result<CopyStats> {
        self.copy_call("copy_file_to_file", src, false, dest, false, opts)
    }

    /// Discard every block of a device (`blkdiscard`, the `BLKDISCARD` ioctl over
    /// the whole device). Fails where the device (or the file under a loop
    /// device) cannot discard.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blkdiscard(&self, device: &str) -> Result<()> {
        let r = self.writable_device("blkdiscard", device)?;
        let node = DeviceNode::open(&r.host, false)?;
        let size = node.size()?;
        let out = node
            .discard(0, size)
            .map_err(|e| Error::from(e.with_call("blkdiscard")));
        self.invalidate_device(device);
        out
    }

    /// Whether discarded blocks read back as zeroes (`blkdiscardzeroes`): the
    /// kernel's `BLKDISCARDZEROES` answer for the device.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blkdiscardzeroes(&self, device: &str) -> Result<bool> {
        nix::ioctl_read_bad!(
            blkdiscardzeroes_ioctl,
            nix::request_code_none!(0x12, 124),
            libc::c_uint
        );
        let r = self.resolve("blkdiscardzeroes", device)?;
        let node = DeviceNode::open(&r.host, true)?;
        let mut v: libc::c_uint = 0;
        // SAFETY: BLKDISCARDZEROES writes one unsigned int through the pointer.
        unsafe { blkdiscardzeroes_ioctl(node.as_raw_fd(), &mut v) }.map_err(|e| {
            io_err(
                "blkdiscardzeroes",
                &r.name,
                "BLKDISCARDZEROES",
                std::io::Error::from(e),
            )
        })?;
        Ok(v != 0)
    }

    /// The index of a drive among the drives added, from 0 (`device_index`): what
    /// its name says (`/dev/sdc` is 2), also after a drive before it was removed
    /// ([`VMCraft::remove_drive`] leaves a hole after launch). A removed drive is
    /// no device any more.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn device_index(&self, device: &str) -> Result<i32> {
        let no_such = || {
            Error::call(
                ErrorKind::NoSuchDevice,
                "device_index",
                device,
                "device not found",
            )
        };
        match parse_device(device) {
            Ok(DeviceName::Drive(i)) if self.read_state().drives.get(i).is_some() => {
                i32::try_from(i).map_err(|_| no_such())
            }
            _ => Err(no_such()),
        }
    }

    /// The number of drives (`nr_devices`): as many as [`VMCraft::list_devices`]
    /// lists, removed drives not counted.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn nr_devices(&self) -> Result<i32> {
        Ok(i32::try_from(self.read_state().drives.count()).unwrap_or(i32::MAX))
    }

    /// Every device that may hold a filesystem, in `list_filesystems` order.
    fn findfs(&self, call: &str, what: &str, wanted: &str) -> Result<String> {
        for (dev, _) in self.list_filesystems()? {
            let v = if what == "LABEL" {
                self.vfs_label(&dev)?
            } else {
                self.vfs_uuid(&dev)?
            };
            if !v.is_empty() && v == wanted {
                return Ok(dev);
            }
        }
        Err(Error::call(
            ErrorKind::NoSuchDevice,
            call,
            format!("{what}={wanted}"),
            "no filesystem has it",
        ))
    }

    /// The device holding the filesystem with this label (`findfs_label`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn findfs_label(&self, label: &str) -> Result<String> {
        self.findfs("findfs_label", "LABEL", label)
    }

    /// The device holding the filesystem with this UUID (`findfs_uuid`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn findfs_uuid(&self, uuid: &str) -> Result<String> {
        self.findfs("findfs_uuid", "UUID", uuid)
    }

    /// Disk labels to devices (`list_disk_labels`): for each drive added with a
    /// [`crate::DriveOpts::label`], the label maps to the drive's name, and the
    /// label followed by a partition number to that partition (`data` ->
    /// `/dev/sdb`, `data1` -> `/dev/sdb1`), the names libguestfs's appliance gives
    /// as `/dev/disk/guestfs/LABEL` symlinks. VMCraft has no such symlinks: the
    /// values are the drives' and partitions' libguestfs names, and those are
    /// what the other calls take. Sorted by label.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn list_disk_labels(&self) -> Result<BTreeMap<String, String>> {
        if !self.is_launched() {
            return Err(Error::call(
                ErrorKind::NotLaunched,
                "list_disk_labels",
                "",
                "call launch first",
            ));
        }
        let labelled: Vec<(String, String)> = self
            .read_state()
            .drives
            .iter()
            .filter_map(|d| d.opts.label.clone().map(|l| (l, d.name.clone())))
            .collect();
        let mut out = BTreeMap::new();
        for (label, drive) in labelled {
            for part in self.drive_partitions(&drive)? {
                let n = &part[drive.len()..];
                out.insert(format!("{label}{n}"), part.clone());
            }
            out.insert(label, drive);
        }
        Ok(out)
    }

    /// Device-mapper devices on the session's disks that are not LVM logical
    /// volumes (`list_dm_devices`), as `/dev/mapper/NAME`. Hosts without
    /// device-mapper have none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn list_dm_devices(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = self
            .stacked_devices()
            .into_iter()
            .filter(|s| s.dm_name.is_some())
            .filter_map(|s| s.guest_name())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Linux md arrays built on the session's disks (`list_md_devices`), as
    /// `/dev/mdN`. Hosts without md have none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn list_md_devices(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = self
            .stacked_devices()
            .into_iter()
            .filter(|s| s.is_md())
            .filter_map(|s| s.guest_name())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Split a mountable into its device (canonical) and btrfs subvolume:
    /// `/dev/sda1` or `btrfsvol:/dev/sda1/root`.
    pub(crate) fn split_mountable(
        &self,
        call: &str,
        mountable: &str,
    ) -> Result<(String, Option<String>)> {
        let bad = || {
            Error::invalid(
                call,
                mountable,
                "not a mountable (a device or btrfsvol:DEVICE/SUBVOLUME)",
            )
        };
        if let Some(rest) = mountable.strip_prefix("btrfsvol:") {
            let mut idx = "/dev/".len();
            while let Some(off) = rest.get(idx..).and_then(|s| s.find('/')) {
                let cut = idx + off;
                let (dev, vol) = (&rest[..cut], &rest[cut + 1..]);
                if parse_device(dev).is_ok() && !vol.is_empty() {
                    return Ok((self.resolve(call, dev)?.name, Some(vol.to_string())));
                }
                idx = cut + 1;
            }
            return Err(bad());
        }
        if parse_device(mountable).is_err() {
            return Err(bad());
        }
        Ok((self.resolve(call, mountable)?.name, None))
    }

    /// The device part of a mountable (`mountable_device`): `/dev/sda1` for
    /// `/dev/sda1` and for `btrfsvol:/dev/sda1/root`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mountable_device(&self, mountable: &str) -> Result<String> {
        Ok(self.split_mountable("mountable_device", mountable)?.0)
    }

    /// The btrfs subvolume of a mountable (`mountable_subvolume`): `root` for
    /// `btrfsvol:/dev/sda1/root`; an error for a plain device.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mountable_subvolume(&self, mountable: &str) -> Result<String> {
        self.split_mountable("mountable_subvolume", mountable)?
            .1
            .ok_or_else(|| {
                Error::invalid(
                    "mountable_subvolume",
                    mountable,
                    "mountable is not a subvolume",
                )
            })
    }

    /// Whether filesystems of this type can be mounted here
    /// (`filesystem_available`): the running kernel has the driver (in
    /// `/proc/filesystems`, or as a module the kernel loads on mount), or
    /// VMCraft's FUSE fallback for it (`fusefat` for vfat, `ntfs-3g` for ntfs) is
    /// installed. Nothing is loaded to find out.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn filesystem_available(&self, filesystem: &str) -> Result<bool> {
        if filesystem.is_empty()
            || !filesystem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        {
            return Err(Error::invalid(
                "filesystem_available",
                filesystem,
                "not a filesystem type name",
            ));
        }
        if !self.is_launched() {
            return Err(Error::call(
                ErrorKind::NotLaunched,
                "filesystem_available",
                filesystem,
                "call launch first",
            ));
        }
        Ok(kernel_has_filesystem(filesystem)
            || match filesystem {
                "vfat" | "msdos" | "fat" => program_exists("fusefat"),
                "ntfs" => program_exists("ntfs-3g"),
                _ => false,
            })
    }

    /// Whether an option group works here, and why not: its calls are in this
    /// build's call table (so VMCraft implements them) and the host has what
    /// they need.
    fn group_available(&self, group: &str) -> std::result::Result<(), String> {
        let Some((_, calls, programs)) = GROUPS.iter().find(|(g, _, _)| *g == group) else {
            return Err("no such option group".to_string());
        };
        if let Some(c) = calls
            .iter()
            .find(|c| crate::calls::table::lookup(c).is_none())
        {
            return Err(format!("VMCraft does not implement {c}"));
        }
        need_programs(programs)?;
        match group {
            "luks" if !vmcraft_lvm::device_mapper_available() => {
                Err("the kernel has no device-mapper".to_string())
            }
            "mdadm" if !Path::new("/proc/mdstat").exists() => {
                Err("the kernel has no md driver".to_string())
            }
            _ => Ok(()),
        }
    }

    /// Fail unless every group is available (`available`), naming the first
    /// that is not and why.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn available(&self, groups: &[&str]) -> Result<()> {
        for g in groups {
            if !ALL_GROUPS.contains(g) {
                return Err(Error::invalid("available", g, "no such option group"));
            }
            if let Err(why) = self.group_available(g) {
                return Err(Error::call(ErrorKind::Unsupported, "available", g, why));
            }
        }
        Ok(())
    }

    /// Every option group libguestfs defines (`available_all_groups`); which of
    /// them work here is [`VMCraft::feature_available`]'s answer.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn available_all_groups(&self) -> Result<Vec<String>> {
        Ok(ALL_GROUPS.iter().map(|g| g.to_string()).collect())
    }

    /// Whether every group works here (`feature_available`); an unknown group
    /// is an error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn feature_available(&self, groups: &[&str]) -> Result<bool> {
        for g in groups {
            if !ALL_GROUPS.contains(g) {
                return Err(Error::invalid(
                    "feature_available",
                    g,
                    "no such option group",
                ));
            }
        }
        Ok(groups.iter().all(|g| self.group_available(g).is_ok()))
    }

    /// Change a mounted filesystem between read-only and read-write
    /// (`remount`); `rw` is required, as with libguestfs. The security flags
    /// (`nosuid,nodev`) and the other options it was mounted with are kept.
    /// Read-write is refused for a drive added read-only; a FUSE mount cannot
    /// be remounted.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn remount(&self, mountpoint: &str, rw: Option<bool>) -> Result<()> {
        const CALL: &str = "remount";
        let Some(rw) = rw else {
            return Err(Error::invalid(
                CALL,
                mountpoint,
                "parameter 'rw' must be specified",
            ));
        };
        let mp = crate::mount::normalize_mountpoint(CALL, mountpoint)?;
        // Remounting is the kernel's: in-process mounts move there first.
        self.promote_inproc(CALL)?;
        let entry = self
            .mounts()
            .iter()
            .find(|m| !m.private && m.mountpoint == mp)
            .cloned()
            .ok_or_else(|| Error::call(ErrorKind::Mount, CALL, &mp, "nothing is mounted there"))?;
        if entry.fuse_driver.is_some() {
            return Err(Error::call(
                ErrorKind::Unsupported,
                CALL,
                &mp,
                format!(
                    "mounted through the FUSE driver {}, which cannot be remounted",
                    entry.fuse_driver.as_deref().unwrap_or_default()
                ),
            ));
        }
        if rw && self.resolve(CALL, &entry.device)?.readonly {
            return Err(Error::invalid(
                CALL,
                &entry.device,
                "the drive was added read-only",
            ));
        }
        let mut parsed = crate::mount::parse_options(CALL, &entry.device, &entry.options)?;
        parsed.flags.set(nix::mount::MsFlags::MS_RDONLY, !rw);
        let data = parsed.data.join(",");
        nix::mount::mount(
            None::<&str>,
            &entry.host_path,
            None::<&str>,
            parsed.flags | nix::mount::MsFlags::MS_REMOUNT,
            (!data.is_empty()).then_some(data.as_str()),
        )
        .map_err(|e| {
            io_err(
                CALL,
                &mp,
                if rw { "remount,rw" } else { "remount,ro" },
                std::io::Error::from(e),
            )
        })?;
        let options = parsed.to_option_string();
        if let Some(m) = self
            .mounts()
            .iter_mut()
            .find(|m| !m.private && m.mountpoint == mp)
        {
            m.options = options;
        }
        self.record_state();
        Ok(())
    }

    /// Mount a guest file holding a filesystem image at `mountpoint` in the
    /// guest tree (`mount_loop`), through a loop device. The file is resolved
    /// inside the guest tree and must be a regular file; the session opens it
    /// and the loop device is bound to that open file (through
    /// `/proc/self/fd`), so a guest symlink swapped in meanwhile cannot point it
    /// elsewhere. The loop device is read-only when the file's filesystem is
    /// mounted read-only; it goes away by itself when the filesystem is
    /// unmounted. Mounted `nosuid,nodev` like every guest filesystem.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_loop(&self, file: &str, mountpoint: &str) -> Result<()> {
        const CALL: &str = "mount_loop";
        let root = self.guest_root_for(CALL)?;
        let f = root.open_read(file).map_err(|e| e.with_call(CALL))?;
        let readonly = nix::sys::statvfs::fstatvfs(&f)
            .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
            .map_err(|e| io_err(CALL, file, "statvfs", std::io::Error::from(e)))?;
        if f.metadata()
            .map_err(|e| io_err(CALL, file, "stat", e))?
            .len()
            == 0
        {
            return Err(Error::invalid(CALL, file, "the file is empty"));
        }
        let (mp, target_fd, host) = self.mount_target(CALL, mountpoint)?;
        let lo = vmcraft_block::LoopDevice::attach(
            format!("/proc/self/fd/{}", f.as_raw_fd()),
            vmcraft_block::LoopOptions {
                readonly,
                partscan: false,
                ..Default::default()
            },
        )
        .map_err(|e| e.with_call(CALL))?;
        drop(f);
        let probed = {
            let node = DeviceNode::open(lo.path(), true)?;
            crate::probe::probe(&node)?
        };
        let fstype = match probed {
            Some(p) if p.usage == "filesystem" => p.fstype,
            Some(p) => {
                return Err(Error::call(
                    ErrorKind::Mount,
                    CALL,
                    file,
                    format!("{} is not a mountable filesystem", p.fstype),
                ));
            }
            None => {
                return Err(Error::call(
                    ErrorKind::Mount,
                    CALL,
                    file,
                    "unknown filesystem type (nothing recognisable in the file)",
                ));
            }
        };
        let opts = crate::mount::parse_options(
            CALL,
            file,
            &format!(
                "{},{}",
                self.config.default_mount_options,
                if readonly { "ro" } else { "" }
            ),
        )?;
        let device = lo.path().display().to_string();
        self.record_mount_intent(crate::state::MountRecord {
            host_path: host.clone(),
            device: device.clone(),
            source: lo.path().to_path_buf(),
            fstype: fstype.clone(),
            fuse_driver: None,
            mounted: None,
        });
        let data = opts.data.join(",");
        let mounted = nix::mount::mount(
            Some(lo.path()),
            &PathBuf::from(format!("/proc/self/fd/{}", target_fd.as_raw_fd())),
            Some(fstype.as_str()),
            opts.flags,
            Some(data.as_str()),
        );
        if let Err(e) = mounted {
            self.record_mount_result(&host, false);
            let why = if e == nix::errno::Errno::ENODEV {
                format!("the kernel has no {fstype} driver")
            } else {
                std::io::Error::from(e).to_string()
            };
            return Err(Error::call(ErrorKind::Mount, CALL, file, why));
        }
        self.mounts().push(crate::mount::MountEntry {
            device,
            mountpoint: mp,
            host_path: host.clone(),
            fstype,
            options: opts.to_option_string(),
            strategy: "loop".to_string(),
            fuse_driver: None,
            private: false,
        });
        self.record_mount_result(&host, true);
        // The mount holds the loop device now; autoclear releases it when the
        // filesystem is unmounted (here, by a reaper, or with the namespace).
        drop(lo);
        Ok(())
    }

    /// The format of a host image file (`disk_format`): `raw`, `qcow2`, `vmdk`,
    /// `vhdx`, `vdi` or `vpc`, from its header, never opening what it names.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn disk_format(&self, filename: &str) -> Result<String> {
        Ok(host_image("disk_format", filename)?.0.to_string())
    }

    /// The virtual size in bytes of a host image file (`disk_virtual_size`),
    /// from its header, or from `qemu-img info` told the format (vhdx, vpc),
    /// never opening a backing file.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn disk_virtual_size(&self, filename: &str) -> Result<i64> {
        const CALL: &str = "disk_virtual_size";
        let (format, info) = host_image(CALL, filename)?;
        let size = match info.and_then(|i| i.virtual_size) {
            Some(s) => s,
            None if format == Format::Raw => 0,
            None => self.qemu_img_virtual_size(CALL, filename, format)?,
        };
        i64::try_from(size)
            .map_err(|_| Error::call(ErrorKind::Io, CALL, filename, "virtual size past 2^63"))
    }

    /// The virtual size of a new overlay's backing file, from its header (the
    /// format is the one given, never probed), found as qemu would find it:
    /// relative to the overlay's directory unless absolute.
    fn backing_size(
        &self,
        call: &str,
        filename: &str,
        backing: &str,
        format: Format,
    ) -> Result<u64> {
        let path = if backing.starts_with('/') {
            PathBuf::from(backing)
        } else {
            Path::new(filename)
                .parent()
                .unwrap_or(Path::new(""))
                .join(backing)
        };
        let info = vmcraft_nbd::inspect_image(&path, Some(format)).map_err(|e| {
            Error::call_with_source(
                ErrorKind::InvalidArgument,
                call,
                backing,
                "cannot read the backing file's size",
                e,
            )
        })?;
        match info.virtual_size {
            Some(s) => Ok(s),
            None => self.qemu_img_virtual_size(call, &path.to_string_lossy(), format),
        }
    }

    fn qemu_img_virtual_size(&self, call: &str, filename: &str, format: Format) -> Result<u64> {
        let cmd = vmcraft_block::Command::new("qemu-img")
            .args(["info", "-U", "-f", format.qemu_driver(), "--output", "json"])
            .arg(plain_path(filename));
        let out = self.runner().run(&cmd)?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::call_with_source(
                ErrorKind::Io,
                call,
                filename,
                "qemu-img info printed no JSON",
                e,
            )
        })?;
        v.get("virtual-size")
            .and_then(|s| s.as_u64())
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::Io,
                    call,
                    filename,
                    "qemu-img info: JSON output did not contain 'virtual-size' key",
                )
            })
    }

    /// Whether a host image file names a backing file (`disk_has_backing_file`),
    /// from its header; the backing file itself is never opened.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn disk_has_backing_file(&self, filename: &str) -> Result<bool> {
        Ok(host_image("disk_has_backing_file", filename)?
            .1
            .is_some_and(|i| i.backing_file.is_some()))
    }

    /// Create a blank host disk image (`disk_create`): `raw` (made here:
    /// sparse, or allocated with `preallocation:full`) or `qcow2` (with
    /// `qemu-img create`). `size` is in bytes; `-1` takes a qcow2 overlay's size
    /// from its backing file. A backing file must come with its format, which
    /// is never probed, and must be a plain path (no `json:` or protocol names).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn disk_create(
        &self,
        filename: &str,
        format: &str,
        size: i64,
        opts: &DiskCreateOpts,
    ) -> Result<()> {
        const CALL: &str = "disk_create";
        if filename.is_empty() {
            return Err(Error::invalid(CALL, filename, "filename is empty"));
        }
        let prealloc = opts.preallocation.as_deref();
        match format {
            "raw" => {
                if opts.backingfile.is_some() || opts.backingformat.is_some() {
                    return Err(Error::invalid(
                        CALL,
                        filename,
                        "backingfile cannot be used for raw format disks",
                    ));
                }
                if opts.compat.is_some() {
                    return Err(Error::invalid(
                        CALL,
                        filename,
                        "compat cannot be used for raw format disks",
                    ));
                }
                if opts.clustersize.is_some() {
                    return Err(Error::invalid(
                        CALL,
                        filename,
                        "clustersize cannot be used for raw format disks",
                    ));
                }
                let full = match prealloc {
                    None | Some("off") | Some("sparse") => false,
                    Some("full") => true,
                    Some(p) => {
                        return Err(Error::invalid(
                            CALL,
                            filename,
                            format!("invalid value for preallocation parameter '{p}'"),
                        ));
                    }
                };
                if size < 0 {
                    return Err(Error::invalid(
                        CALL,
                        filename,
                        format!("invalid size {size}"),
                    ));
                }
                create_raw(CALL, filename, size as u64, full)
            }
            "qcow2" => {
                let mut o: Vec<String> = Vec::new();
                match (&opts.backingfile, &opts.backingformat) {
                    (Some(b), Some(f)) => {
                        if b.is_empty()
                            || b.starts_with("json:")
                            || b.split('/').next().is_some_and(|c| c.contains(':'))
                            || b.contains(',')
                        {
                            return Err(Error::invalid(
                                CALL,
                                b,
                                "backingfile must be a plain file name (no json:, protocol names or commas)",
                            ));
                        }
                        let f: Format = f.parse()?;
                        o.push(format!("backing_file={b}"));
                        o.push(format!("backing_fmt={}", f.qemu_driver()));
                    }
                    (Some(b), None) => {
                        return Err(Error::invalid(
                            CALL,
                            b,
                            "backingformat must be given with backingfile (a backing file's format is never probed)",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(Error::invalid(
                            CALL,
                            filename,
                            "backingformat given without backingfile",
                        ));
                    }
                    (None, None) => {}
                }
                if size < -1 || (size == -1 && opts.backingfile.is_none()) {
                    return Err(Error::invalid(
                        CALL,
                        filename,
                        format!("invalid size {size}"),
                    ));
                }
                match prealloc {
                    None => {}
                    Some("off") | Some("sparse") => o.push("preallocation=off".into()),
                    Some("metadata") => o.push("preallocation=metadata".into()),
                    Some("full") => o.push("preallocation=falloc".into()),
                    Some(p) => {
                        return Err(Error::invalid(
                            CALL,
                            filename,
                            format!("invalid value for preallocation parameter '{p}'"),
                        ));
                    }
                }
                match opts.compat.as_deref() {
                    None => {}
                    Some(c @ ("0.10" | "1.1")) => o.push(format!("compat={c}")),
                    Some(c) => {
                        return Err(Error::invalid(
                            CALL,
                            filename,
                            format!("invalid value for compat parameter '{c}'"),
                        ));
                    }
                }
                if let Some(c) = opts.clustersize {
                    if !(512..=2 << 20).contains(&c) || (c & (c - 1)) != 0 {
                        return Err(Error::invalid(
                            CALL,
                            filename,
                            format!(
                                "invalid value for clustersize parameter '{c}' (a power of 2 from 512 to 2097152)"
                            ),
                        ));
                    }
                    o.push(format!("cluster_size={c}"));
                }
                let size = match (&opts.backingfile, &opts.backingformat) {
                    (Some(b), Some(f)) if size == -1 => {
                        self.backing_size(CALL, filename, b, f.parse()?)?
                    }
                    _ => size as u64,
                };
                // -u: qemu-img never opens the backing file (its size, when
                // needed, was read here from its header, never following it).
                let mut cmd =
                    vmcraft_block::Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]);
                if opts.backingfile.is_some() {
                    cmd = cmd.arg("-u");
                }
                if !o.is_empty() {
                    cmd = cmd.arg("-o").arg(o.join(","));
                }
                cmd = cmd.arg(plain_path(filename)).arg(size.to_string());
                self.runner().run(&cmd)?;
                Ok(())
            }
            f => Err(Error::invalid(
                CALL,
                filename,
                format!("unsupported format '{f}' (raw or qcow2)"),
            )),
        }
    }
}

/// Zero `0..end` of `node` where it is not zero already, in 1 MiB blocks,
/// reporting progress and observing the cancel token.
fn zero_range(
    g: &VMCraft,
    call: &'static str,
    name: &str,
    node: &DeviceNode,
    end: u64,
) -> Result<()> {
    let mut buf = vec![0u8; ZERO_CHUNK];
    let mut pos = 0u64;
    while pos < end {
        g.config
            .cancel
            .check(call, name, format!("cancelled after {pos} of {end} bytes"))?;
        let n = (end - pos).min(ZERO_CHUNK as u64) as usize;
        node.read_at(&mut buf[..n], pos)?;
        if !vmcraft_block::copy::is_zero(&buf[..n]) {
            node.write_zeroes(pos, n as u64)?;
        }
        pos += n as u64;
        g.progress(call, pos, end);
    }
    node.flush()?;
    Ok(())
}

/// A random 8.3 name (`XXXXXXXX.XXX`), valid on any filesystem, FAT included.
fn random_83_name() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 11];
    if File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (t >> (i * 5)) as u8;
        }
    }
    let s: String = bytes
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect();
    format!("{}.{}", &s[..8], &s[8..])
}

/// A path qemu takes as a plain file name: a relative name gets `./`, so that
/// `json:...` or `nbd:...` in a file name is never read as options.
fn plain_path(filename: &str) -> String {
    if filename.starts_with('/') {
        filename.to_string()
    } else {
        format!("./{filename}")
    }
}

/// The format of a host image file and what its header says (`None` for an
/// empty file, which qemu calls a raw image of size 0).
fn host_image(call: &str, filename: &str) -> Result<(Format, Option<vmcraft_nbd::ImageInfo>)> {
    let meta = std::fs::metadata(filename).map_err(|e| io_err(call, filename, "stat", e))?;
    if !meta.is_file() && !std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type()) {
        return Err(Error::invalid(
            call,
            filename,
            "not a regular file or block device",
        ));
    }
    if meta.is_file() && meta.len() == 0 {
        return Ok((Format::Raw, None));
    }
    let info = vmcraft_nbd::inspect_image(filename, None)?;
    Ok((info.format, Some(info)))
}

/// Make a raw image of `size` bytes: sparse, or with every block allocated.
fn create_raw(call: &str, filename: &str, size: u64, full: bool) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(filename)
        .map_err(|e| io_err(call, filename, "create", e))?;
    f.set_len(size)
        .map_err(|e| io_err(call, filename, "truncate", e))?;
    if full && size > 0 {
        nix::fcntl::posix_fallocate(&f, 0, size as libc::off_t)
            .map_err(|e| io_err(call, filename, "posix_fallocate", std::io::Error::from(e)))?;
    }
    f.sync_all()
        .map_err(|e| io_err(call, filename, "fsync", e))?;
    Ok(())
}

/// Whether the running kernel mounts `fstype`: listed in `/proc/filesystems`,
/// or a module that the kernel's `fs-TYPE` request would load.
fn kernel_has_filesystem(fstype: &str) -> bool {
    let listed = std::fs::read_to_string("/proc/filesystems").is_ok_and(|s| {
        s.lines()
            .any(|l| l.split_whitespace().last() == Some(fstype))
    });
    if listed {
        return true;
    }
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let alias = format!("alias fs-{fstype} ");
    std::fs::read_to_string(
        Path::new("/lib/modules")
            .join(release.trim())
            .join("modules.alias"),
    )
    .is_ok_and(|s| s.lines().any(|l| l.starts_with(&alias)))
}

/// Whether a program is on `PATH`.
fn program_exists(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            std::fs::metadata(d.join(name)).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
    })
}

fn need_programs(names: &[&str]) -> std::result::Result<(), String> {
    match names.iter().find(|n| !program_exists(n)) {
        Some(n) => Err(format!("{n} is not installed")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_has_its_needs_listed_in_order() {
        let names: Vec<&str> = GROUPS.iter().map(|(g, _, _)| *g).collect();
        assert_eq!(names, ALL_GROUPS);
        for (g, calls, _) in GROUPS {
            assert!(!calls.is_empty(), "{g}");
        }
    }

    #[test]
    fn relative_names_reach_qemu_as_plain_files() {
        assert_eq!(plain_path("json:{}"), "./json:{}");
        assert_eq!(plain_path("/a/b.img"), "/a/b.img");
    }

    #[test]
    fn random_names_are_8_3() {
        let n = random_83_name();
        assert_eq!(n.len(), 12);
        assert_eq!(&n[8..9], ".");
        assert!(
            n.bytes()
                .all(|b| b == b'.' || b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
}
