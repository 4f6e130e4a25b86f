//! LVM on the session's devices only (vmcraft-lvm), with libguestfs device names
//! in and out; every change invalidates the probe cache.

use std::path::PathBuf;

use vmcraft_lvm::{LvSize, LvmLv, LvmPv, LvmVg};

use crate::error::Result;
use crate::session::VMCraft;

impl VMCraft {
    fn hosts(&self, call: &str, devices: &[&str]) -> Result<Vec<PathBuf>> {
        devices
            .iter()
            .map(|d| Ok(self.resolve(call, d)?.host))
            .collect()
    }

    /// The libguestfs name of a host node of the session.
    pub(crate) fn guest_name_of(&self, host: &std::path::Path) -> Option<String> {
        let st = self.read_state();
        for d in &st.drives {
            let Some(att) = d.attachment.as_ref() else {
                continue;
            };
            if att.device() == host {
                return Some(d.name.clone());
            }
            if let Ok(parts) = att.node().kernel_partitions()
                && let Some(p) = parts.iter().find(|p| p.node == host)
            {
                return Some(format!("{}{}", d.name, p.number));
            }
        }
        drop(st);
        self.mapped_nodes()
            .into_iter()
            .find(|(name, node)| node == host || std::path::Path::new(name) == host)
            .map(|(name, _)| name)
    }

    fn lvm_changed(&self) {
        self.lv_cache.clear();
        self.release_lv_windows();
        self.invalidate_probe_cache();
    }

    /// Make physical volumes (`pvcreate`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvcreate(&self, devices: &[&str]) -> Result<()> {
        let hosts = self.hosts("pvcreate", devices)?;
        let r = self.with_lvm(|l| Ok(l.pvcreate(&hosts)?));
        self.lvm_changed();
        r
    }

    /// Make a volume group (`vgcreate`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgcreate(&self, vg: &str, pvs: &[&str]) -> Result<()> {
        let hosts = self.hosts("vgcreate", pvs)?;
        let r = self.with_lvm(|l| Ok(l.vgcreate(vg, &hosts)?));
        self.lvm_changed();
        r
    }

    /// Make a logical volume of `mbytes` MiB (`lvcreate`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvcreate(&self, lv: &str, vg: &str, mbytes: i64) -> Result<()> {
        let size = LvSize::from_parts("lvcreate", Some(mbytes), None)?;
        let r = self.with_lvm(|l| Ok(l.lvcreate(lv, vg, size)?));
        self.lvm_changed();
        r
    }

    /// Make a logical volume of a given size (MiB, extents or percent of free).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvcreate_size(&self, lv: &str, vg: &str, size: LvSize) -> Result<()> {
        let r = self.with_lvm(|l| Ok(l.lvcreate(lv, vg, size)?));
        self.lvm_changed();
        r
    }

    /// Make a logical volume over `percent` of the free space (`lvcreate_free`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvcreate_free(&self, lv: &str, vg: &str, percent: i32) -> Result<()> {
        let r = self.with_lvm(|l| Ok(l.lvcreate_free(lv, vg, percent)?));
        self.lvm_changed();
        r
    }

    /// Resize a logical volume to `mbytes` MiB (`lvresize`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvresize(&self, lvpath: &str, mbytes: i64) -> Result<()> {
        let size = LvSize::from_parts("lvresize", Some(mbytes), None)?;
        let r = self.with_lvm(|l| Ok(l.lvresize(lvpath, size)?));
        self.lvm_changed();
        r
    }

    /// Grow a logical volume by `percent` of the free space (`lvresize_free`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvresize_free(&self, lvpath: &str, percent: i32) -> Result<()> {
        let r = self.with_lvm(|l| Ok(l.lvresize_free(lvpath, percent)?));
        self.lvm_changed();
        r
    }

    /// Remove a logical volume, or every LV of a VG given as `/dev/VG` (`lvremove`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvremove(&self, device: &str) -> Result<()> {
        let r = self.with_lvm(|l| Ok(l.lvremove(device)?));
        self.lvm_changed();
        r
    }

    /// Remove a volume group and its LVs (`vgremove`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgremove(&self, vg: &str) -> Result<()> {
        let r = self.with_lvm(|l| Ok(l.vgremove(vg)?));
        self.lvm_changed();
        r
    }

    /// Remove a physical volume label (`pvremove`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvremove(&self, device: &str) -> Result<()> {
        let host = self.resolve("pvremove", device)?.host;
        let r = self.with_lvm(|l| Ok(l.pvremove(&host)?));
        self.lvm_changed();
        r
    }

    /// Physical volumes, by device name (`pvs`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvs(&self) -> Result<Vec<String>> {
        let hosts = self.with_lvm(|l| Ok(l.pvs()?))?;
        Ok(hosts
            .into_iter()
            .map(|h| self.guest_name_of(std::path::Path::new(&h)).unwrap_or(h))
            .collect())
    }

    /// Volume group names (`vgs`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgs(&self) -> Result<Vec<String>> {
        self.with_lvm(|l| Ok(l.vgs()?))
    }

    /// Logical volumes as `/dev/VG/LV` (`lvs`), cached until an LVM or partition
    /// change (or the partition cache TTL).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvs(&self) -> Result<Vec<String>> {
        self.lv_cache
            .get_or_try_insert(&(), || self.with_lvm(|l| Ok(l.lvs()?)))
    }

    /// Full physical volume records (`pvs_full`), PV names as device names.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvs_full(&self) -> Result<Vec<LvmPv>> {
        let mut v = self.with_lvm(|l| Ok(l.pvs_full()?))?;
        for pv in &mut v {
            if let Some(n) = self.guest_name_of(std::path::Path::new(&pv.pv_name)) {
                pv.pv_name = n;
            }
        }
        Ok(v)
    }

    /// Full volume group records (`vgs_full`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgs_full(&self) -> Result<Vec<LvmVg>> {
        self.with_lvm(|l| Ok(l.vgs_full()?))
    }

    /// Full logical volume records (`lvs_full`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvs_full(&self) -> Result<Vec<LvmLv>> {
        self.with_lvm(|l| Ok(l.lvs_full()?))
    }

    /// Activate or deactivate every VG (`vg_activate_all`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vg_activate_all(&self, activate: bool) -> Result<()> {
        self.with_lvm(|l| Ok(l.vg_activate_all(activate)?))
    }

    /// Activate or deactivate the named VGs (`vg_activate`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vg_activate(&self, activate: bool, vgs: &[&str]) -> Result<()> {
        self.with_lvm(|l| Ok(l.vg_activate(activate, vgs)?))
    }

    /// Rescan for volume groups (`vgscan`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgscan(&self) -> Result<()> {
        self.with_lvm(|l| Ok(l.vgscan()?))
    }

    /// Remove every LV, VG and PV of the session (`lvm_remove_all`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvm_remove_all(&self) -> Result<()> {
        let r = self.with_lvm(|l| Ok(l.lvm_remove_all()?));
        self.lvm_changed();
        r
    }

    /// Every lvm2 command the session ran, as audit records.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvm_audit_log(&self) -> Result<Vec<vmcraft_lvm::AuditRecord>> {
        self.with_lvm(|l| Ok(l.audit_log()))
    }
}
