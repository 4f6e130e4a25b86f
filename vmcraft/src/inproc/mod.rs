//! In-process reads of read-only drives: no loop device, no qemu process, no
//! kernel mount, no root.
//!
//! With [`crate::Config::inprocess_reads`] (the default), `launch` opens a
//! read-only raw or qcow2 drive as an ordinary file through vmcraft-fs
//! ([`vmcraft_fs::open_image`]; a qcow2 is read by `imago`, never following a
//! backing file) instead of attaching it. Then:
//!
//! - partition tables are read in-process (vmcraft-part over [`ImageDisk`]),
//!   and filesystems probed in-process over [`Slice`]s of the image, so
//!   `list-partitions`, `list-filesystems`, `vfs-type`, `blkid` and friends
//!   attach nothing;
//! - a read-only mount of ext2/3/4, FAT or NTFS is an in-process mount
//!   ([`InprocMount`]): the filesystem is opened by vmcraft-fs and seen at its
//!   mount point in one tree ([`Composite`]), which the read calls (`cat`,
//!   `read-file`, `read-lines`, `ls`, `find`, `exists`, `is-*`, `readlink`,
//!   `stat`/`lstat`/`statns`/`lstatns`, `checksum`, `download`, `filesize`,
//!   `head`/`tail`) and inspection read through [`ReadTree`], and `tar-out`
//!   (without xattrs or ACLs) archives it through `tar.rs`, byte for byte the
//!   archive of the kernel-mounted tree;
//! - anything more (a kernel node for a block call, another filesystem type,
//!   LVM, Augeas, a guest command, `tar-out` with xattrs or ACLs, `statvfs`)
//!   goes the kernel way:
//!   the drive is attached when a call needs its node, and the first call that
//!   needs the kernel-mounted tree moves every in-process mount to the kernel
//!   first, in mount order ([`VMCraft::promote_inproc`]), so the guest tree is
//!   always one or the other, never a mix. That needs root, as the kernel path
//!   always did; an ordinary user gets the kernel path's refusal.
//!
//! The in-process readers see what the kernel would (ext4's journal is
//! replayed in memory by `ext4-view`, as the read-only overlay lets the kernel
//! replay it), and an image read in-process is never written.

mod composite;
mod disk;
pub(crate) mod reads;
mod tar;

use std::cell::Cell;
use std::sync::Arc;

pub(crate) use composite::{Composite, InprocMount, is_at_or_below};
pub(crate) use disk::{ImageDisk, Slice};
pub(crate) use reads::ReadTree;
use vmcraft_fs::GuestTree;

use crate::error::{Error, ErrorKind, Result};
use crate::mount::strategy::{Attempt, FallbackOutcome, MountMethod, MountStrategy};
use crate::mount::{normalize_mountpoint, parse_options};
use crate::names::{DeviceName, parse_device};
use crate::session::{Drive, VMCraft, lock};

/// The filesystem types read in-process (as the probes name them).
pub const INPROCESS_TYPES: [&str; 5] = ["ext2", "ext3", "ext4", "vfat", "ntfs"];

/// The strategy name in-process mounts report.
pub const INPROCESS_STRATEGY: &str = "in-process";

thread_local! {
    /// Set while this thread moves the in-process mounts to the kernel (the
    /// kernel mounts it makes must neither wait for nor start a move).
    static PROMOTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is moving the in-process mounts to the kernel.
fn promoting() -> bool {
    PROMOTING.with(Cell::get)
}

impl VMCraft {
    /// For a read-only drive, its image opened for in-process reads, when the
    /// configuration asks for them and vmcraft-fs reads its format; `None`
    /// sends the drive the kernel way.
    pub(crate) fn inproc_image(&self, drive: &Drive) -> Option<Arc<dyn vmcraft_fs::ReadAt>> {
        if !self.config.inprocess_reads
            || !drive.opts.readonly
            || drive.opts.allow_backing_file
            || drive.opts.allow_vmdk_extents
        {
            return None;
        }
        let opened: vmcraft_fs::Result<Arc<dyn vmcraft_fs::ReadAt>> = match drive.opts.format {
            None => vmcraft_fs::open_image(&drive.image),
            Some(vmcraft_nbd::Format::Raw) => {
                vmcraft_fs::RawFile::open(&drive.image).map(|f| Arc::new(f) as _)
            }
            Some(vmcraft_nbd::Format::Qcow2) => {
                vmcraft_fs::Qcow2Image::open(&drive.image).map(|f| Arc::new(f) as _)
            }
            Some(_) => return None,
        };
        match opened {
            Ok(img) => {
                tracing::info!(drive = %drive.name, "drive read in-process");
                Some(img)
            }
            Err(e) => {
                tracing::info!(drive = %drive.name, error = %e, "drive not readable in-process; attaching it");
                None
            }
        }
    }

    /// The in-process image of the drive holding `device`, if that drive is
    /// read in-process and not attached.
    fn inproc_drive(&self, device: &str) -> Option<(usize, Arc<dyn vmcraft_fs::ReadAt>)> {
        let idx = match parse_device(device).ok()? {
            DeviceName::Drive(i) | DeviceName::Partition(i, _) => i,
            DeviceName::LogicalVolume(..) | DeviceName::Mapped(_) => return None,
        };
        let st = self.read_state();
        let d = st.drives.get(idx)?;
        d.inproc.clone().map(|img| (idx, img))
    }

    /// Probe a device on a drive not attached yet (read in-process, or a raw
    /// drive open as a file) without attaching it: `None` when the drive is
    /// attached (the caller probes the kernel node).
    pub(crate) fn probe_unattached(
        &self,
        call: &str,
        device: &str,
    ) -> Result<Option<Option<crate::probe::Probe>>> {
        let (idx, part) = match parse_device(device) {
            Ok(DeviceName::Drive(i)) => (i, None),
            Ok(DeviceName::Partition(i, n)) => (i, Some(n)),
            _ => return Ok(None),
        };
        let (drive, image) = {
            let st = self.read_state();
            match st.drives.get(idx) {
                Some(d) if d.inproc.is_some() || d.file.is_some() => {
                    (d.name.clone(), d.inproc.clone())
                }
                _ => return Ok(None),
            }
        };
        if let (Some(image), Some(n)) = (&image, part) {
            let (offset, len) = inproc_partition_range(self, call, device, image, n)?;
            let dev = ImageDisk::new(image.clone());
            return Ok(Some(crate::probe::probe(&Slice {
                dev: &dev,
                offset,
                len,
            })?));
        }
        let probed = self.with_drive(call, &drive, |dev| {
            let (offset, len) = match part {
                None => (0, dev.size()?),
                Some(n) => partition_range(call, device, dev, n)?,
            };
            Ok(crate::probe::probe(&Slice { dev, offset, len })?)
        })?;
        Ok(Some(probed))
    }

    /// Mount `mountable` in-process if the session can: a read-only mount
    /// (no filesystem-specific options) of an ext2/3/4, FAT or NTFS
    /// filesystem on a drive read in-process, while nothing is mounted by the
    /// kernel. `Ok(None)`: not possible here, the caller mounts the kernel way.
    pub(crate) fn try_mount_inproc(
        &self,
        call: &str,
        mountable: &str,
        mountpoint: &str,
        vfstype: &str,
        strategies: &[MountStrategy],
    ) -> Result<Option<FallbackOutcome>> {
        let Some(first) = strategies.first() else {
            return Ok(None);
        };
        if promoting() {
            return Ok(None);
        }
        // Not while another thread moves the mounts to the kernel.
        let _serial = lock(&self.promotion);
        if !self.config.inprocess_reads
            || first.method != MountMethod::Kernel
            || mountable.starts_with("btrfsvol:")
        {
            return Ok(None);
        }
        let parsed = parse_options(call, mountable, &first.options)?;
        if !parsed.readonly() || !parsed.data.is_empty() {
            return Ok(None);
        }
        let device = self.canonical_name(mountable);
        let Some((_, image)) = self.inproc_drive(&device) else {
            return Ok(None);
        };
        if self.mounts().iter().any(|m| !m.private) {
            return Ok(None);
        }
        let Some(probe) = self.probe_device(call, &device)? else {
            return Ok(None);
        };
        let fstype = probe.probe.fstype.clone();
        if !INPROCESS_TYPES.contains(&fstype.as_str()) || (!vfstype.is_empty() && vfstype != fstype)
        {
            return Ok(None);
        }
        let (offset, len) = match parse_device(&device) {
            Ok(DeviceName::Partition(_, n)) => {
                inproc_partition_range(self, call, &device, &image, n)?
            }
            _ => (0, image.size()),
        };
        let window = vmcraft_fs::Window::new(image, offset, len)
            .map_err(|e| Error::call(ErrorKind::Io, call, &device, e.to_string()))?;
        let tree = match vmcraft_fs::open_fs(Arc::new(window)) {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(device, error = %e, "not readable in-process; mounting it the kernel way");
                return Ok(None);
            }
        };
        let mp = normalize_mountpoint(call, mountpoint)?;
        let mut mounts = lock(&self.inproc_mounts);
        if mounts.iter().any(|m| m.mountpoint == mp) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                &mp,
                "something is already mounted there",
            ));
        }
        let at = if mp == "/" {
            "/".to_string()
        } else {
            if !mounts.iter().any(|m| m.at == "/") {
                return Err(Error::call(
                    ErrorKind::Mount,
                    call,
                    &mp,
                    "mount point does not exist (nothing is mounted on / yet)",
                ));
            }
            let c = Composite::new(mounts.clone());
            let at = c.resolve(&mp, true).map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Mount,
                    call,
                    &mp,
                    "mount point does not exist",
                    e,
                )
            })?;
            let is_dir = c.lstat_node(&at).map(|s| s.is_dir()).unwrap_or(false);
            if !is_dir {
                return Err(Error::call(
                    ErrorKind::Mount,
                    call,
                    &mp,
                    "mount point is not a directory",
                ));
            }
            at
        };
        // Over a mount point that has mounts below it, the kernel hides them;
        // that is left to the kernel path.
        if mounts
            .iter()
            .any(|m| m.at != at && is_at_or_below(&m.at, &at))
        {
            return Ok(None);
        }
        let options = parsed.to_option_string();
        mounts.push(InprocMount {
            device: device.clone(),
            mountpoint: mp.clone(),
            at,
            fstype: fstype.clone(),
            options: options.clone(),
            tree: Arc::new(tree),
        });
        drop(mounts);
        tracing::debug!(device, mountpoint = %mp, fstype, "mounted in-process");
        Ok(Some(FallbackOutcome {
            device,
            mountpoint: mp,
            fstype,
            strategy: INPROCESS_STRATEGY.to_string(),
            options: options.clone(),
            attempts: vec![Attempt {
                strategy: INPROCESS_STRATEGY.to_string(),
                options,
                error: None,
            }],
        }))
    }

    /// Move every in-process mount to the kernel, in mount order, for a call
    /// that needs the kernel-mounted tree. On failure (an ordinary user, a
    /// host without the driver) what was moved goes back and the in-process
    /// mounts stay as they were.
    pub(crate) fn promote_inproc(&self, call: &str) -> Result<()> {
        if promoting() {
            return Ok(());
        }
        // One move at a time, and no read or in-process mount meanwhile: the
        // other threads see the tree before or after the move, never half.
        let _serial = lock(&self.promotion);
        let taken = std::mem::take(&mut *lock(&self.inproc_mounts));
        if taken.is_empty() {
            return Ok(());
        }
        PROMOTING.with(|p| p.set(true));
        let r = self.promote(call, &taken);
        PROMOTING.with(|p| p.set(false));
        if let Err((e, restore)) = r {
            if restore {
                *lock(&self.inproc_mounts) = taken;
            }
            return Err(e);
        }
        Ok(())
    }

    /// The move itself. On failure: the error, and whether the in-process
    /// mounts may be restored (not when a kernel mount made could not be
    /// undone: the tree is then the kernel's, never a mix).
    fn promote(&self, call: &str, taken: &[InprocMount]) -> std::result::Result<(), (Error, bool)> {
        tracing::info!(
            call,
            mounts = taken.len(),
            "this call needs the kernel-mounted tree: moving the in-process mounts to the kernel"
        );
        // Their drives get kernel devices first (which also ends their
        // in-process reading, so the mounts below are the kernel's).
        for m in taken {
            if let Err(e) = self.resolve(call, &m.device) {
                tracing::warn!(call, device = %m.device, error = %e.chain(), "cannot attach the drive for the kernel path");
                return Err((e, true));
            }
        }
        let mut moved: Vec<String> = Vec::new();
        for m in taken {
            let strategies = crate::mount::strategy::fallback_strategies(&m.options);
            if let Err(e) =
                self.mount_with_strategies(call, &m.device, &m.mountpoint, "", &strategies)
            {
                tracing::warn!(call, device = %m.device, error = %e.chain(), "cannot mount the kernel way");
                let undone = moved.iter().rev().all(|mp| {
                    self.umount(mp)
                        .inspect_err(|u| tracing::warn!(mountpoint = %mp, error = %u.chain(), "cannot undo a kernel mount"))
                        .is_ok()
                });
                return Err((e, undone));
            }
            moved.push(m.mountpoint.clone());
        }
        Ok(())
    }

    /// The tree the read calls read: in-process when `/` is mounted
    /// in-process, else the kernel-mounted root.
    pub(crate) fn read_tree(&self, call: &str) -> Result<ReadTree> {
        {
            // Not in the middle of another thread's move to the kernel.
            let _serial = (!promoting()).then(|| lock(&self.promotion));
            let mounts = lock(&self.inproc_mounts);
            if mounts.iter().any(|m| m.at == "/") {
                return Ok(ReadTree::InProcess(Arc::new(Composite::new(
                    mounts.clone(),
                ))));
            }
        }
        Ok(ReadTree::Kernel(self.guest_root_for(call)?))
    }

    /// A filesystem on a drive read in-process, opened for inspection (no
    /// mount at all); `None` when it is not readable in-process.
    pub(crate) fn inproc_view(&self, call: &str, device: &str) -> Option<vmcraft_fs::BoxedTree> {
        if !self.config.inprocess_reads || device.starts_with("btrfsvol:") {
            return None;
        }
        let device = self.canonical_name(device);
        let (_, image) = self.inproc_drive(&device)?;
        let probe = self.probe_device(call, &device).ok()??;
        if !INPROCESS_TYPES.contains(&probe.probe.fstype.as_str()) {
            return None;
        }
        let (offset, len) = match parse_device(&device) {
            Ok(DeviceName::Partition(_, n)) => {
                inproc_partition_range(self, call, &device, &image, n).ok()?
            }
            _ => (0, image.size()),
        };
        let window = vmcraft_fs::Window::new(image, offset, len).ok()?;
        match vmcraft_fs::open_fs(Arc::new(window)) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::info!(device, error = %e, "not readable in-process for inspection");
                None
            }
        }
    }
}

/// The partition tables of in-process drives, each read once (nothing in the
/// session writes an in-process image): by image (the `Arc`'s address,
/// checked against a weak reference so that a new image at a reused address
/// is read again). A table that fails to read is not remembered: the next
/// question reads it again and gets the same error.
#[derive(Default)]
pub(crate) struct PartTables(std::sync::Mutex<std::collections::HashMap<usize, TableEntry>>);

/// One image's table (`None`: the image has none), with the image it was read
/// from (weakly).
type TableEntry = (
    std::sync::Weak<dyn vmcraft_fs::ReadAt>,
    Option<Arc<vmcraft_part::PartitionTable>>,
);

impl PartTables {
    /// The table of `image` (`None` when it has none), read now or earlier.
    fn get(
        &self,
        image: &Arc<dyn vmcraft_fs::ReadAt>,
    ) -> Result<Option<Arc<vmcraft_part::PartitionTable>>> {
        let key = Arc::as_ptr(image).cast::<()>() as usize;
        if let Some((weak, table)) = lock(&self.0).get(&key)
            && weak.upgrade().is_some_and(|i| Arc::ptr_eq(&i, image))
        {
            return Ok(table.clone());
        }
        let table =
            vmcraft_part::PartitionTable::probe(&ImageDisk::new(image.clone()))?.map(Arc::new);
        let mut map = lock(&self.0);
        // Forget the tables of images gone (a removed drive).
        map.retain(|_, (w, _)| w.strong_count() > 0);
        map.insert(key, (Arc::downgrade(image), table.clone()));
        Ok(table)
    }
}

impl VMCraft {
    /// The partition table of `drive` when the drive is read in-process and
    /// its table reads (`Some(None)`: it has none), read once per image; `None`
    /// for every other drive, and when the table does not read (the caller
    /// reads it the usual way, and reports what it finds).
    pub(crate) fn inproc_table(
        &self,
        drive: &str,
    ) -> Option<Option<Arc<vmcraft_part::PartitionTable>>> {
        let Ok(DeviceName::Drive(i)) = parse_device(drive) else {
            return None;
        };
        let image = self.read_state().drives.get(i)?.inproc.clone()?;
        self.inproc_tables.get(&image).ok()
    }
}

/// The byte range of partition `n` of the in-process `image`, from its table
/// (read once per image).
fn inproc_partition_range(
    g: &VMCraft,
    call: &str,
    device: &str,
    image: &Arc<dyn vmcraft_fs::ReadAt>,
    n: u32,
) -> Result<(u64, u64)> {
    let no_such = || Error::call(ErrorKind::NoSuchDevice, call, device, "no such device");
    let Ok(Some(table)) = g.inproc_tables.get(image) else {
        // No table, or a bad one: the error as `part_list` words it.
        vmcraft_part::part_list(&ImageDisk::new(image.clone()))?;
        return Err(no_such());
    };
    let p = table.partition(n).map_err(|_| no_such())?.to_partition();
    let (start, len) = (p.part_start, p.part_size);
    check_on_disk(call, device, n, start, len, image.size())?;
    Ok((start, len))
}

/// A table is guest data: the partition must lie on the disk.
fn check_on_disk(call: &str, device: &str, n: u32, start: u64, len: u64, size: u64) -> Result<()> {
    if start.checked_add(len).is_none_or(|end| end > size) {
        return Err(Error::call(
            ErrorKind::NoSuchDevice,
            call,
            device,
            format!(
                "partition {n} ({len} bytes at {start}) runs past the end of the disk ({size} bytes)"
            ),
        ));
    }
    Ok(())
}

/// The byte range of partition `n` of `dev`, from its table.
fn partition_range(
    call: &str,
    device: &str,
    dev: &dyn vmcraft_block::BlockDevice,
    n: u32,
) -> Result<(u64, u64)> {
    let parts = vmcraft_part::part_list(dev)?;
    let p = parts
        .iter()
        .find(|p| p.part_num as u32 == n)
        .ok_or_else(|| Error::call(ErrorKind::NoSuchDevice, call, device, "no such device"))?;
    check_on_disk(call, device, n, p.part_start, p.part_size, dev.size()?)?;
    Ok((p.part_start, p.part_size))
}
