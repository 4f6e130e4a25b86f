//! Device-mapper devices as sysfs shows them, and which of them a session owns.
//!
//! Device-mapper names (`rhel-root`) and `/dev/VG/LV` links are global to the host,
//! and hosts and guests share VG names (`rhel`, `cl`, `ubuntu-vg`); cloned guests
//! share VG and LV UUIDs too. So a name proves nothing, and a UUID proves nothing
//! either unless the device is built on the session's own disks. A device-mapper
//! device belongs to a session only when:
//!
//! - its dm UUID is `LVM-` followed by the session's VG UUID and LV UUID (dashes
//!   removed), as lvm2 names the devices it activates, and
//! - every device under it (`/sys/block/dm-N/slaves`, followed through stacked
//!   device-mapper devices) is one of the session's devices.
//!
//! [`Sysfs`] reads `/sys/block/dm-*` under a root that tests can point at a tree
//! of their own; [`Lvm::lv_dm_device`] finds the device of a session's LV, and
//! every lvm2 command that may change device-mapper tables in
//! [`Mode::Activate`](crate::Mode::Activate) first checks with
//! [`Lvm::dm_conflicts`] that no device of another owner carries one of the
//! session's LV names or UUIDs (activating or deactivating one session's clone
//! must never touch the host's or another session's device).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::isolation::{SessionDevice, rdev};
use crate::names::LvTarget;
use crate::session::Lvm;

/// How deep stacked device-mapper devices are followed before giving up (and
/// counting the device as not the session's).
const MAX_STACK: usize = 16;

/// The sysfs tree device-mapper devices are read from.
///
/// ```
/// use vmcraft_lvm::dm::Sysfs;
/// let tmp = tempfile::tempdir().unwrap();
/// let dm = tmp.path().join("block/dm-4");
/// std::fs::create_dir_all(dm.join("dm")).unwrap();
/// std::fs::create_dir_all(dm.join("slaves/loop7p2")).unwrap();
/// std::fs::write(dm.join("dm/name"), "rhel-root\n").unwrap();
/// std::fs::write(dm.join("dm/uuid"), "LVM-abc\n").unwrap();
/// let devs = Sysfs::new(tmp.path()).dm_devices();
/// assert_eq!(devs[0].kernel_name, "dm-4");
/// assert_eq!(devs[0].name, "rhel-root");
/// assert_eq!(devs[0].slaves, ["loop7p2"]);
/// assert_eq!(devs[0].node(), std::path::Path::new("/dev/dm-4"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Sysfs::host()
    }
}

/// One device-mapper device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmDevice {
    /// The kernel's name, `dm-N`.
    pub kernel_name: String,
    /// The device-mapper name (`rhel-root`).
    pub name: String,
    /// The device-mapper UUID (`LVM-...` for lvm2's devices; may be empty).
    pub uuid: String,
    /// The kernel names of the devices it is built on (`loop3p2`, `dm-1`).
    pub slaves: Vec<String>,
}

impl DmDevice {
    /// The device node, `/dev/dm-N` (never the `/dev/VG/LV` or `/dev/mapper`
    /// names, which any owner of the same name could hold).
    pub fn node(&self) -> PathBuf {
        Path::new("/dev").join(&self.kernel_name)
    }
}

impl Sysfs {
    /// A sysfs tree at `root` (a test's own tree, or `/sys`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Sysfs { root: root.into() }
    }

    /// The host's `/sys`.
    pub fn host() -> Self {
        Sysfs::new("/sys")
    }

    /// The root of the tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every device-mapper device, by kernel name. Entries that cannot be read
    /// (a device removed while scanning) are left out.
    pub fn dm_devices(&self) -> Vec<DmDevice> {
        let Ok(entries) = std::fs::read_dir(self.root.join("block")) else {
            return Vec::new();
        };
        let mut out: Vec<DmDevice> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("dm-")
                    .then(|| self.dm_device(&name))
                    .flatten()
            })
            .collect();
        out.sort_by(|a, b| a.kernel_name.cmp(&b.kernel_name));
        out
    }

    /// The device-mapper device `kernel_name` (`dm-3`), if there is one.
    pub fn dm_device(&self, kernel_name: &str) -> Option<DmDevice> {
        if !kernel_name.starts_with("dm-") || kernel_name.contains('/') {
            return None;
        }
        let dir = self.root.join("block").join(kernel_name);
        let name = read_trimmed(&dir.join("dm/name"))?;
        let uuid = read_trimmed(&dir.join("dm/uuid")).unwrap_or_default();
        let mut slaves: Vec<String> = std::fs::read_dir(dir.join("slaves"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        slaves.sort();
        Some(DmDevice {
            kernel_name: kernel_name.to_string(),
            name,
            uuid,
            slaves,
        })
    }

    /// The kernel name of the block device at `path`: from its device number
    /// through `<root>/dev/block/MAJ:MIN`, else the path's file name after
    /// symlinks are resolved (`/dev/loop3p1` is `loop3p1`).
    pub fn kernel_name(&self, path: &Path) -> Option<String> {
        if let Some(dev) = rdev(path) {
            let (major, minor) = split_dev(dev);
            let link = self.root.join(format!("dev/block/{major}:{minor}"));
            if let Ok(target) = std::fs::read_link(&link)
                && let Some(n) = target.file_name()
            {
                return Some(n.to_string_lossy().into_owned());
            }
        }
        let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    }

    /// Whether `dev` is built only on devices `owned` accepts (by kernel name),
    /// following stacked device-mapper devices. A device with no slaves at all is
    /// not anybody's in particular, so it is not the session's either.
    pub fn built_on(&self, dev: &DmDevice, owned: &dyn Fn(&str) -> bool) -> bool {
        self.built_on_depth(dev, owned, 0)
    }

    fn built_on_depth(&self, dev: &DmDevice, owned: &dyn Fn(&str) -> bool, depth: usize) -> bool {
        if depth > MAX_STACK || dev.slaves.is_empty() {
            return false;
        }
        dev.slaves.iter().all(|s| {
            owned(s)
                || self
                    .dm_device(s)
                    .is_some_and(|d| self.built_on_depth(&d, owned, depth + 1))
        })
    }
}

/// Major and minor of a Linux `dev_t` (glibc's `gnu_dev_major`/`gnu_dev_minor`).
fn split_dev(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// The dm UUID lvm2 gives an active LV: `LVM-` then the VG and LV UUIDs without
/// their dashes.
///
/// ```
/// let u = vmcraft_lvm::dm::lvm_dm_uuid("k3Xc0b-aaaa", "Zz9-bbbb");
/// assert_eq!(u, "LVM-k3Xc0baaaaZz9bbbb");
/// ```
pub fn lvm_dm_uuid(vg_uuid: &str, lv_uuid: &str) -> String {
    let mut s = String::from("LVM-");
    s.extend(vg_uuid.chars().filter(|c| *c != '-'));
    s.extend(lv_uuid.chars().filter(|c| *c != '-'));
    s
}

/// The dm name lvm2 gives an active LV: VG and LV joined by `-`, every `-` in
/// either doubled (`ubuntu-vg/ubuntu-lv` is `ubuntu--vg-ubuntu--lv`).
///
/// ```
/// assert_eq!(vmcraft_lvm::dm::lvm_dm_name("ubuntu-vg", "ubuntu-lv"), "ubuntu--vg-ubuntu--lv");
/// assert_eq!(vmcraft_lvm::dm::lvm_dm_name("rhel", "root"), "rhel-root");
/// ```
pub fn lvm_dm_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

/// Whether `candidate` is `base` or one of lvm2's layers over it (`base-real`,
/// `base-cow`, `base-tpool`, ...).
fn same_or_layer(candidate: &str, base: &str) -> bool {
    candidate == base
        || candidate
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('-') && !rest.starts_with("--"))
}

/// One LV of the session as lvm2 reports it: names and UUIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LvIds {
    pub vg: String,
    pub lv: String,
    pub vg_uuid: String,
    pub lv_uuid: String,
}

/// A device-mapper device that carries one of a session's LV names or UUIDs but
/// is not built on the session's devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmConflict {
    /// The session's LV, `VG/LV`.
    pub lv: String,
    /// The device in the way.
    pub device: DmDevice,
    /// Whether it has the LV's UUID (else only its name).
    pub same_uuid: bool,
}

impl std::fmt::Display for DmConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slaves = if self.device.slaves.is_empty() {
            "no devices".to_string()
        } else {
            self.device.slaves.join(", ")
        };
        write!(
            f,
            "device-mapper device {} ({}) has this LV's {} but is built on {slaves}, not on this session's devices",
            self.device.node().display(),
            self.device.name,
            if self.same_uuid { "UUID" } else { "name" },
        )
    }
}

impl Lvm {
    /// The sysfs tree this session reads device-mapper devices from.
    pub fn sysfs(&self) -> &Sysfs {
        &self.sysfs
    }

    /// The session's device-mapper device for the LV at `lvpath` (`/dev/VG/LV`):
    /// the one whose dm UUID is the LV's own (`LVM-` + VG UUID + LV UUID, as the
    /// session's lvm2 reports them) and that is built only on the session's
    /// devices or on `also_owned` (devices the caller made over them, such as loop
    /// windows). `None` when the LV is not active in this session; a device of the
    /// same name or UUID that belongs to anything else is never returned. Runs no
    /// lvm2 command when the host has no LVM device-mapper device at all.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// match lvm.lv_dm_device("/dev/rhel/root", &[])? {
    ///     Some(dm) => println!("active as {}", dm.node().display()),
    ///     None => println!("not active in this session"),
    /// }
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lv_dm_device(&self, lvpath: &str, also_owned: &[PathBuf]) -> Result<Option<DmDevice>> {
        const CALL: &str = "lv_dm_device";
        let (vg, lv) = LvTarget::parse_lv(CALL, lvpath)?;
        let devices = self.sysfs.dm_devices();
        if !devices.iter().any(|d| d.uuid.starts_with("LVM-")) {
            return Ok(None);
        }
        let set = self.device_set();
        let Some(ids) = self
            .lv_ids(CALL, &set)?
            .into_iter()
            .find(|i| i.vg == vg && i.lv == lv)
        else {
            return Ok(None);
        };
        let uuid = lvm_dm_uuid(&ids.vg_uuid, &ids.lv_uuid);
        let owned = self.owned_names(&set, also_owned);
        let owned = |n: &str| owned.iter().any(|o| o == n);
        Ok(devices
            .into_iter()
            .find(|d| d.uuid == uuid && self.sysfs.built_on(d, &owned)))
    }

    /// Every device-mapper device that carries the name or UUID of one of the
    /// session's LVs in `vgs` (all VGs when empty; `extra_lvs` adds LV names about
    /// to be created) but is not built on the session's devices.
    pub fn dm_conflicts(
        &self,
        vgs: &[&str],
        extra_lvs: &[(&str, &str)],
    ) -> Result<Vec<DmConflict>> {
        self.conflicts("dm_conflicts", vgs, extra_lvs)
    }

    fn conflicts(
        &self,
        call: &'static str,
        vgs: &[&str],
        extra_lvs: &[(&str, &str)],
    ) -> Result<Vec<DmConflict>> {
        let devices = self.sysfs.dm_devices();
        if devices.is_empty() {
            return Ok(Vec::new());
        }
        let set = self.device_set();
        let wanted = |vg: &str| vgs.is_empty() || vgs.contains(&vg);
        // (VG/LV, dm name, dm UUID if known)
        let mut lvs: Vec<(String, String, Option<String>)> = self
            .lv_ids(call, &set)?
            .into_iter()
            .filter(|i| wanted(&i.vg))
            .map(|i| {
                (
                    format!("{}/{}", i.vg, i.lv),
                    lvm_dm_name(&i.vg, &i.lv),
                    Some(lvm_dm_uuid(&i.vg_uuid, &i.lv_uuid)),
                )
            })
            .collect();
        lvs.extend(
            extra_lvs
                .iter()
                .map(|(vg, lv)| (format!("{vg}/{lv}"), lvm_dm_name(vg, lv), None)),
        );
        let owned = self.owned_names(&set, &[]);
        let owned = |n: &str| owned.iter().any(|o| o == n);
        let mut out = Vec::new();
        for d in devices {
            let hit = lvs.iter().find_map(|(lv, name, uuid)| {
                let same_uuid = uuid.as_deref().is_some_and(|u| same_or_layer(&d.uuid, u));
                (same_uuid || same_or_layer(&d.name, name)).then(|| (lv.clone(), same_uuid))
            });
            if let Some((lv, same_uuid)) = hit
                && !self.sysfs.built_on(&d, &owned)
            {
                out.push(DmConflict {
                    lv,
                    device: d,
                    same_uuid,
                });
            }
        }
        Ok(out)
    }

    /// Refuse `call` (recorded in the audit trail) when a device-mapper device of
    /// another owner carries the name or UUID of an LV the command would activate,
    /// deactivate or reload. Only [`Mode::Activate`](crate::Mode::Activate)
    /// sessions touch device-mapper; metadata-only ones pass at once.
    /// With `only_lv` (`VG/LV`), only that LV's conflicts count.
    pub(crate) fn guard_dm(
        &self,
        call: &'static str,
        subject: &str,
        vgs: &[&str],
        extra_lvs: &[(&str, &str)],
        only_lv: Option<&str>,
    ) -> Result<()> {
        if self.mode() != crate::Mode::Activate {
            return Ok(());
        }
        let found = self.conflicts(call, vgs, extra_lvs)?;
        match found.iter().find(|c| only_lv.is_none_or(|l| c.lv == l)) {
            None => Ok(()),
            Some(c) => {
                // Name the LV unless the subject already does.
                let (subject, prefix) = if subject.is_empty() {
                    (c.lv.clone(), String::new())
                } else if subject == format!("/dev/{}", c.lv) {
                    (subject.to_string(), String::new())
                } else {
                    (subject.to_string(), format!("LV {}: ", c.lv))
                };
                Err(self.refuse(Error::new(
                    ErrorKind::Conflict,
                    call,
                    subject,
                    format!(
                        "{prefix}{c}; refusing to touch it (it belongs to the host or to another session)"
                    ),
                )))
            }
        }
    }

    /// The LVs (hidden ones too) of the session's VGs with their UUIDs.
    pub(crate) fn lv_ids(&self, call: &'static str, set: &[SessionDevice]) -> Result<Vec<LvIds>> {
        let rows = self.report(
            call,
            set,
            "lvs",
            "lv",
            &["-a", "-o", "vg_name,vg_uuid,lv_name,lv_uuid"],
        )?;
        rows.iter()
            .map(|r| {
                Ok(LvIds {
                    vg: r.string("vg_name")?,
                    lv: r.string("lv_name")?.trim_matches(['[', ']']).to_string(),
                    vg_uuid: r.string("vg_uuid")?,
                    lv_uuid: r.string("lv_uuid")?,
                })
            })
            .collect()
    }

    /// The lvm2 device-mapper devices (dm UUID `LVM-...`) built only on the
    /// session's devices, whoever made them: the session, or the host's udev
    /// rules, whose event activation (`vgchange -aay`) starts a guest's VG as soon
    /// as its disks appear. Either way they hold the session's disks, and nobody
    /// but the session can own a device built on them.
    pub(crate) fn lvm_devices_on_session(&self) -> Vec<DmDevice> {
        let devices = self.sysfs.dm_devices();
        if !devices.iter().any(|d| d.uuid.starts_with("LVM-")) {
            return Vec::new();
        }
        let owned = self.owned_names(&self.device_set(), &[]);
        let owned = |n: &str| owned.iter().any(|o| o == n);
        devices
            .into_iter()
            .filter(|d| d.uuid.starts_with("LVM-") && self.sysfs.built_on(d, &owned))
            .collect()
    }

    /// The kernel names of the session's devices and of `extra`.
    fn owned_names(&self, set: &[SessionDevice], extra: &[PathBuf]) -> Vec<String> {
        set.iter()
            .map(|d| d.resolved.as_path())
            .chain(extra.iter().map(PathBuf::as_path))
            .filter_map(|p| self.sysfs.kernel_name(p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_glibc_does() {
        assert_eq!(split_dev(0x0703), (7, 3));
        assert_eq!(split_dev(0xfd00), (253, 0));
        // loop minor 300: minor's high bits go above the major's.
        assert_eq!(split_dev((7 << 8) | 0x2c | (1 << 20)), (7, 300));
    }

    #[test]
    fn names_uuids_and_layers() {
        assert_eq!(lvm_dm_name("cl", "root"), "cl-root");
        assert_eq!(lvm_dm_name("a-b", "c--d"), "a--b-c----d");
        assert!(same_or_layer("rhel-root", "rhel-root"));
        assert!(same_or_layer("rhel-root-real", "rhel-root"));
        assert!(same_or_layer("LVM-ab-cow", "LVM-ab"));
        assert!(!same_or_layer("rhel-root--x", "rhel-root"), "LV root-x");
        assert!(!same_or_layer("rhel-rootx", "rhel-root"));
        assert!(!same_or_layer("rhel", "rhel-root"));
    }

    #[test]
    fn stacked_devices_are_followed_and_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let mk = |k: &str, slaves: &[&str]| {
            let d = tmp.path().join("block").join(k);
            std::fs::create_dir_all(d.join("dm")).unwrap();
            std::fs::write(d.join("dm/name"), format!("{k}-name\n")).unwrap();
            std::fs::write(d.join("dm/uuid"), format!("LVM-{k}\n")).unwrap();
            for s in slaves {
                std::fs::create_dir_all(d.join("slaves").join(s)).unwrap();
            }
        };
        mk("dm-0", &["loop1"]);
        mk("dm-1", &["dm-0", "loop2"]);
        mk("dm-2", &["dm-3"]);
        mk("dm-3", &["dm-2"]); // a loop, as a hostile or broken tree could have
        mk("dm-4", &[]);
        let sys = Sysfs::new(tmp.path());
        let owned = |n: &str| n == "loop1" || n == "loop2";
        let get = |k: &str| sys.dm_device(k).unwrap();
        assert!(sys.built_on(&get("dm-0"), &owned));
        assert!(sys.built_on(&get("dm-1"), &owned));
        assert!(!sys.built_on(&get("dm-1"), &|n: &str| n == "loop2"));
        assert!(!sys.built_on(&get("dm-2"), &owned));
        assert!(!sys.built_on(&get("dm-4"), &owned));
        assert_eq!(sys.dm_devices().len(), 5);
        assert!(sys.dm_device("loop1").is_none());
        assert!(sys.dm_device("dm-0/../dm-1").is_none());
        assert!(Sysfs::new("/nonexistent/vmcraft").dm_devices().is_empty());
        assert_eq!(
            sys.kernel_name(Path::new("/dev/vmcraft-missing-node"))
                .as_deref(),
            Some("vmcraft-missing-node")
        );
    }
}
