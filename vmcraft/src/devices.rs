//! Devices and what is on them, by libguestfs names: `list_partitions` (cached),
//! `list_filesystems`, `blkid` (cached), `vfs_type`, `vfs_uuid`, `vfs_label`, and
//! the cache invalidation that every changing call performs itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use vmcraft_block::DeviceNode;

use crate::error::{Error, ErrorKind, Result};
use crate::names::{DeviceName, parse_device};
use crate::probe::{CachedProbe, probe};
use crate::session::VMCraft;

/// GPT partition types that cannot hold a filesystem (Windows LDM metadata and
/// data, Microsoft Reserved, Windows snapshot), skipped by `list_filesystems` as
/// libguestfs skips them.
const NON_FS_GPT_TYPES: [&str; 4] = [
    "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3",
    "AF9B60A0-1431-4F62-BC68-3311714A69AD",
    "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
    "CADDEBF1-4400-4DE8-B103-12117DCF3CCF",
];

impl VMCraft {
    /// Every partition of every drive, `/dev/sda1`, `/dev/sda2`, `/dev/sdb1`, ...
    /// (`list_partitions`). Cached per drive for the partition cache TTL; every
    /// partition call invalidates its drive's entry.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn list_partitions(&self) -> Result<Vec<String>> {
        let drives = self.list_devices()?;
        let mut out = Vec::new();
        for d in drives {
            out.extend(self.drive_partitions(&d)?);
        }
        Ok(out)
    }

    /// The partitions of one drive, cached.
    pub(crate) fn drive_partitions(&self, drive: &str) -> Result<Vec<String>> {
        self.partition_cache
            .get_or_try_insert(&drive.to_string(), || {
                let idx = match parse_device(drive) {
                    Ok(DeviceName::Drive(i)) => i,
                    _ => {
                        return Err(Error::call(
                            ErrorKind::NoSuchDevice,
                            "list_partitions",
                            drive,
                            "no such device",
                        ));
                    }
                };
                let lazy = self
                    .read_state()
                    .drives
                    .get(idx)
                    .is_some_and(|d| d.file.is_some() || d.inproc.is_some());
                let numbers: Vec<u32> = if let Some(table) = self.inproc_table(drive) {
                    let mut parts = table.map(|t| t.partitions()).unwrap_or_default();
                    parts.sort_by_key(|p| (p.start, p.number));
                    parts.iter().map(|p| p.number).collect()
                } else if lazy {
                    // Not attached yet: the table on the image is the truth.
                    match self.with_drive("list_partitions", drive, |d| {
                        Ok(vmcraft_part::part_list(d)?)
                    }) {
                        Ok(parts) => parts.iter().map(|p| p.part_num as u32).collect(),
                        Err(crate::Error::Part(e))
                            if e.kind() == vmcraft_part::ErrorKind::Unpartitioned =>
                        {
                            Vec::new()
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    let r = self.resolve("list_partitions", drive)?;
                    let node = DeviceNode::open(&r.host, true)?;
                    node.kernel_partitions()?
                        .into_iter()
                        .map(|p| p.number)
                        .collect()
                };
                Ok(numbers.into_iter().map(|n| format!("{drive}{n}")).collect())
            })
    }

    /// Drop every cached partition list (`invalidate_partition_cache`). Calls that
    /// change partitions do this for their drive by themselves; this is for changes
    /// made behind VMCraft's back.
    pub fn invalidate_partition_cache(&self) {
        self.partition_cache.clear();
        self.lv_cache.clear();
    }

    /// Drop every cached probe result.
    pub fn invalidate_probe_cache(&self) {
        self.probe_cache.clear();
    }

    /// Forget what is cached about a drive (any alias of its name: `/dev/vda` is
    /// `/dev/sda`): its partition list, the probes of it and its partitions, and
    /// what may lie on it in LVM (the LV list, LV probes, and the unmounted LV
    /// windows over it, loop devices at offsets the change may have moved).
    pub(crate) fn invalidate_drive(&self, drive: &str) {
        let d = crate::names::canonical_device_name(drive);
        self.partition_cache.remove(&d);
        self.probe_cache.remove_where(|k| {
            k == &d || (k.starts_with(&d) && k[d.len()..].bytes().all(|b| b.is_ascii_digit()))
        });
        self.invalidate_lvm_on(&d);
        self.inspections_changed();
    }

    /// Forget the probe of one device (after mkfs and the like), under its
    /// canonical name. A whole drive is forgotten whole ([`Self::invalidate_drive`]):
    /// writing over it changes what its partitions and LVs hold too; a partition
    /// may be a PV, so what LVM said about it goes too.
    pub(crate) fn invalidate_device(&self, device: &str) {
        let d = crate::names::canonical_device_name(device);
        match crate::names::parse_device(&d) {
            Ok(DeviceName::Drive(_)) => self.invalidate_drive(&d),
            Ok(DeviceName::Partition(..)) => {
                self.probe_cache.remove(&d);
                self.invalidate_lvm_on(&d);
                self.inspections_changed();
            }
            _ => {
                self.probe_cache.remove(&d);
                self.inspections_changed();
            }
        }
    }

    /// Forget what LVM said, and drop the unmounted LV windows over the drive
    /// holding `name` (a drive or a partition) or its partitions.
    fn invalidate_lvm_on(&self, name: &str) {
        self.lv_cache.clear();
        self.probe_cache.remove_where(|k| {
            parse_device(k).is_ok_and(|n| matches!(n, DeviceName::LogicalVolume(..)))
        });
        if let Some(host) = self.attached_drive_host(name) {
            self.release_lv_windows_on(&host);
        }
    }

    /// The host node of the drive holding `name` (a drive or a partition), if
    /// that drive is attached; never attaches it (a raw drive is attached only
    /// when a kernel device is needed).
    pub(crate) fn attached_drive_host(&self, name: &str) -> Option<std::path::PathBuf> {
        let idx = match parse_device(name).ok()? {
            DeviceName::Drive(i) | DeviceName::Partition(i, _) => i,
            DeviceName::LogicalVolume(..) | DeviceName::Mapped(_) => return None,
        };
        let st = self.read_state();
        let att = st.drives.get(idx)?.attachment.as_ref()?;
        Some(att.device().to_path_buf())
    }

    /// Detach the unmounted LV windows over `host` (a drive's or partition's host
    /// node) or its partitions (`/dev/loop3`, `/dev/loop3p2`).
    pub(crate) fn release_lv_windows_on(&self, host: &std::path::Path) {
        let host = host.to_string_lossy().into_owned();
        let on = |pv: &std::path::Path| {
            let pv = pv.to_string_lossy();
            pv.strip_prefix(host.as_str()).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix('p')
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
        };
        let mounted: Vec<String> = self.mounts().iter().map(|m| m.device.clone()).collect();
        let released = {
            let mut windows = self.lv_windows.lock().unwrap_or_else(|e| e.into_inner());
            let before = windows.len();
            windows.retain(|lv, w| mounted.contains(lv) || !on(&w.pv));
            windows.len() != before
        };
        if released {
            self.record_state();
        }
    }

    fn inspections_changed(&self) {
        self.inspections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The probe of a device, cached for the probe cache TTL.
    pub(crate) fn probe_device(
        &self,
        call: &str,
        device: &str,
    ) -> Result<Option<Arc<CachedProbe>>> {
        // A hit needs no resolution: entries exist only for devices that resolved
        // when they were stored, and every change to a device drops its entry.
        // Callers mostly pass canonical names, so look the name up as given first
        // (no allocation), then canonicalised (`/dev/vda1` -> `/dev/sda1`).
        if let Some(hit) = self.probe_cache.peek(device) {
            self.probe_cache.count(true);
            return Ok(hit);
        }
        let key = crate::names::canonical_device_name(device);
        if let Some(hit) = self.probe_cache.get(&key) {
            return Ok(hit);
        }
        // A miss (counted just above): probe and store, unless the device
        // changed meanwhile. The ticket comes before the resolution: an LV
        // resolves to a window that a change may take away.
        let ticket = self.probe_cache.ticket(&key);
        // A drive not attached yet is probed where it is (in-process or open
        // as a file): nothing is attached just to look.
        if let Some(probed) = self.probe_unattached(call, &key)? {
            let probed = probed.map(CachedProbe::new);
            self.probe_cache
                .insert_if_current(ticket, key, probed.clone());
            return Ok(probed);
        }
        let r = self.resolve(call, device)?;
        let node = DeviceNode::open(&r.host, true)?;
        let probed = probe(&node)?.map(CachedProbe::new);
        if r.name == key {
            self.probe_cache
                .insert_if_current(ticket, key, probed.clone());
        }
        Ok(probed)
    }

    /// What blkid reports for a device: TYPE, USAGE, UUID, LABEL, BLOCK_SIZE (only
    /// those present), probed in-process and cached.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn blkid(&self, device: &str) -> Result<BTreeMap<String, String>> {
        Ok(self
            .probe_device("blkid", device)?
            .map(|p| p.blkid.clone())
            .unwrap_or_default())
    }

    /// The filesystem type of a device (`vfs_type`), empty when unknown.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vfs_type(&self, mountable: &str) -> Result<String> {
        Ok(self
            .probe_device("vfs_type", mountable)?
            .map(|p| p.probe.fstype.clone())
            .unwrap_or_default())
    }

    /// The filesystem UUID of a device (`vfs_uuid`), empty when it has none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vfs_uuid(&self, mountable: &str) -> Result<String> {
        Ok(self
            .probe_device("vfs_uuid", mountable)?
            .map(|p| p.probe.uuid.clone())
            .unwrap_or_default())
    }

    /// The filesystem label of a device (`vfs_label`), empty when it has none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vfs_label(&self, mountable: &str) -> Result<String> {
        Ok(self
            .probe_device("vfs_label", mountable)?
            .map(|p| p.probe.label.clone())
            .unwrap_or_default())
    }

    /// Every filesystem of the session's devices with its type
    /// (`list_filesystems`), in libguestfs's order: whole drives without a
    /// partition table, open device-mapper mappings (`/dev/mapper/NAME`, such as
    /// a LUKS device's, made by `cryptsetup_open`), partitions that can hold a
    /// filesystem, md arrays, then logical volumes. Empty or
    /// unrecognised devices are `unknown`; LVM PVs, other `*_member` devices and
    /// LUKS containers are left out, as libguestfs leaves them out. Only the
    /// session's own devices are looked at, never the host's.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn list_filesystems(&self) -> Result<Vec<(String, String)>> {
        let mut candidates = Vec::new();
        let drives = self.list_devices()?;
        // Device-mapper devices (open LUKS mappings) and md arrays on the
        // session's devices: none on a session that never attached (what the
        // in-process path reads has no kernel devices above it).
        let stacked = if self.session_nodes().is_empty() {
            Vec::new()
        } else {
            self.stacked_devices()
        };
        for drive in &drives {
            if self.drive_partitions(drive)?.is_empty() {
                candidates.push(drive.clone());
            }
        }
        candidates.extend(
            stacked
                .iter()
                .filter(|s| s.dm_name.is_some())
                .filter_map(|s| s.guest_name()),
        );
        for drive in drives {
            let parts = self.drive_partitions(&drive)?;
            if parts.is_empty() {
                continue;
            }
            // The table read once for every partition's type.
            let cached = self.inproc_table(&drive);
            let table = self.with_drive("list_filesystems", &drive, |dev| {
                let table = match cached {
                    Some(t) => t,
                    None => vmcraft_part::PartitionTable::read(dev).ok().map(Arc::new),
                };
                let mut keep = Vec::new();
                for p in &parts {
                    let n = match parse_device(p) {
                        Ok(DeviceName::Partition(_, n)) => n,
                        _ => continue,
                    };
                    let info = table.as_ref().and_then(|t| t.partition(n).ok());
                    let skip = info.is_some_and(|i| {
                        i.kind == vmcraft_part::PartKind::Extended
                            || i.gpt_type.is_some_and(|g| {
                                let g = g.to_string();
                                NON_FS_GPT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(&g))
                            })
                    });
                    if !skip {
                        keep.push(p.clone());
                    }
                }
                Ok(keep)
            })?;
            candidates.extend(table);
        }
        candidates.extend(
            stacked
                .iter()
                .filter(|s| s.is_md())
                .filter_map(|s| s.guest_name()),
        );
        let mut out = Vec::new();
        let mut has_pv = false;
        for dev in candidates {
            match self.vfs_type(&dev)?.as_str() {
                "" => out.push((dev, "unknown".to_string())),
                t if t.ends_with("_member") || t == "crypto_LUKS" => has_pv |= t == "LVM2_member",
                t => out.push((dev, t.to_string())),
            }
        }
        // Only ask lvm2 when there is a PV to find: it costs a process.
        if has_pv {
            for lv in self.lvs()? {
                let t = match self.vfs_type(&lv) {
                    Ok(t) if !t.is_empty() => t,
                    Ok(_) => "unknown".to_string(),
                    Err(e) if e.kind() == ErrorKind::Unsupported => "unknown".to_string(),
                    Err(e) => return Err(e),
                };
                if !t.ends_with("_member") {
                    out.push((lv, t));
                }
            }
        }
        Ok(out)
    }

    /// The canonical form of a device name (`canonical_device_name`): `/dev/vda1`
    /// and `/dev/hda1` are `/dev/sda1`, `/dev/mapper/VG-LV` is `/dev/VG/LV`, and
    /// `/dev/disk/guestfs/LABEL[N]` (libguestfs's name of a drive added with
    /// `label`, and of its partition N) is that drive's or partition's name. A
    /// name that is not a device name is refused.
    ///
    /// ```no_run
    /// use vmcraft::{DriveOpts, VMCraft};
    /// let g = VMCraft::new();
    /// g.add_drive_opts("data.img", DriveOpts { label: Some("data".into()), ..Default::default() })?;
    /// g.launch()?;
    /// assert_eq!(g.canonical_device_name("/dev/disk/guestfs/data1")?, "/dev/sda1");
    /// assert_eq!(g.canonical_device_name("/dev/vda1")?, "/dev/sda1");
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn canonical_device_name(&self, device: &str) -> Result<String> {
        let canonical = self.canonical_name(device);
        if parse_device(&canonical).is_err() {
            return Err(Error::call(
                ErrorKind::NoSuchDevice,
                "canonical_device_name",
                device,
                "not a device name",
            ));
        }
        Ok(canonical)
    }

    /// The canonical spelling of `name` in this session, as
    /// [`VMCraft::canonical_device_name`] makes it, without the check: a label
    /// no drive has, or anything that is not a device name, stays as written
    /// (and is then no such device wherever it is resolved).
    /// What a device name designates in this session: as
    /// [`crate::names::parse_device`], except that a mapping the session opened
    /// is [`DeviceName::Mapped`] whatever its name looks like.
    pub(crate) fn parse_name(&self, name: &str) -> Result<DeviceName> {
        let canonical = self.canonical_name(name);
        if canonical.starts_with("/dev/mapper/") && self.session_mapping(&canonical).is_some() {
            return Ok(DeviceName::Mapped(canonical));
        }
        crate::names::parse_device(&canonical)
    }

    pub(crate) fn canonical_name(&self, name: &str) -> String {
        // A mapping the session opened keeps its name even when it reads as
        // VG-LV (`/dev/mapper/luks-0f1e`), as libguestfs keeps a name that is
        // not an LV's.
        if name.starts_with("/dev/mapper/") && self.session_mapping(name).is_some() {
            return name.to_string();
        }
        let Some(rest) = name.strip_prefix(GUESTFS_LABEL_DIR) else {
            return crate::names::canonical_device_name(name);
        };
        let label = rest.trim_end_matches(|c: char| c.is_ascii_digit());
        let part = &rest[label.len()..];
        if !crate::names::valid_disk_label(label) || part.starts_with('0') {
            return name.to_string();
        }
        match self.read_state().drives.find_label(label) {
            Some(i) => format!("{}{part}", crate::names::drive_name(i)),
            None => name.to_string(),
        }
    }
}

/// Where libguestfs's appliance links labelled drives: `/dev/disk/guestfs/LABEL`.
const GUESTFS_LABEL_DIR: &str = "/dev/disk/guestfs/";
