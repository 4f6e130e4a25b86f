//! The calls that change LVM metadata, with libguestfs names and semantics:
//! `pvcreate`, `vgcreate`, `lvcreate` (and `lvcreate_free`), `lvresize`,
//! `lvresize_free`, `lvremove`, `vgremove`, `pvremove`, `vg_activate`,
//! `vg_activate_all`, `vgscan` and `lvm_remove_all`.
//!
//! Every argument is checked before anything runs. No call prompts: lvm2 gets
//! `--yes` where it would ask about wiping, `-f` where it would ask about removing
//! or shrinking (and reads `/dev/null` besides). In [`Mode::MetadataOnly`] new LVs
//! are created with `--activate n --zero n`, and activation is refused with
//! [`ErrorKind::Unsupported`].

use std::path::Path;

use crate::activation::Mode;
use crate::error::{Error, ErrorKind, Result};
use crate::isolation::SessionDevice;
use crate::names::{LvTarget, validate_new_lv, validate_new_vg_name, validate_vg_name};
use crate::report::parse_rows;
use crate::session::Lvm;
use crate::size::LvSize;

/// What lvm2 reports about an LV when a resize failed: enough to tell whether the
/// resize would have changed anything.
struct Geometry {
    lv_size: u64,
    extent_size: u64,
    vg_free_count: u64,
}

impl Lvm {
    /// Initialise devices as LVM physical volumes (`pvcreate`). Filesystem or
    /// partition-table signatures on them are wiped, as libguestfs does.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.pvcreate(&["/dev/loop3"])?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn pvcreate<P: AsRef<Path>>(&self, devices: &[P]) -> Result<()> {
        const CALL: &str = "pvcreate";
        let set = self.device_set();
        let paths = self.check(self.device_args(CALL, &set, devices))?;
        let subject = shown(devices);
        let cmd = self
            .check(self.command(CALL, &subject, "pvcreate", &set))?
            .arg("--yes")
            .args(&paths);
        self.exec(CALL, &subject, &cmd).0.map(drop)
    }

    /// Create volume group `vg` on physical volumes `pvs` (`vgcreate`). A device
    /// that is not a PV yet is initialised by lvm2, unless it carries another
    /// signature: lvm2 then refuses (it is never told to wipe here; use
    /// [`pvcreate`](Lvm::pvcreate) first). A PV of another VG is refused.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.vgcreate("data", &["/dev/loop3"])?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vgcreate<P: AsRef<Path>>(&self, vg: &str, pvs: &[P]) -> Result<()> {
        const CALL: &str = "vgcreate";
        self.check(validate_new_vg_name(CALL, vg))?;
        let set = self.device_set();
        let paths = self.check(self.device_args(CALL, &set, pvs))?;
        let cmd = self
            .check(self.command(CALL, vg, "vgcreate", &set))?
            .arg(vg)
            .args(&paths);
        self.exec(CALL, vg, &cmd).0.map(drop)
    }

    /// Create logical volume `lv` in `vg` of `size` (`lvcreate`, and libguestfs's
    /// `lvcreate_free` with [`LvSize::PercentFree`]). In metadata-only mode the
    /// LV is created inactive and unzeroed; otherwise it is active and zeroed.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::{Lvm, LvSize};
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.lvcreate("root", "data", LvSize::MiB(512))?;
    /// lvm.lvcreate("home", "data", LvSize::PercentFree(100))?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvcreate(&self, lv: &str, vg: &str, size: LvSize) -> Result<()> {
        self.create_lv("lvcreate", lv, vg, size)
    }

    fn create_lv(&self, call: &'static str, lv: &str, vg: &str, size: LvSize) -> Result<()> {
        let subject = format!("/dev/{vg}/{lv}");
        self.check(validate_new_lv(call, vg, lv))?;
        self.check(size.validate(call, &subject))?;
        let mut cmd = self.check(self.command(call, &subject, "lvcreate", &self.device_set()))?;
        match self.mode() {
            Mode::MetadataOnly => cmd = cmd.args(["--activate", "n", "--zero", "n"]),
            Mode::Activate => {
                // The new LV is activated under its name: nobody else may hold it.
                self.guard_dm(call, &subject, &[vg], &[(vg, lv)], None)?;
                self.note_activation();
            }
        }
        let cmd = cmd.arg("--yes").args(size.lvm_args()).args(["-n", lv, vg]);
        self.exec(call, &subject, &cmd).0.map(drop)
    }

    /// Create `lv` in `vg` using `percent` (0..=100) of the group's free space
    /// (libguestfs's `lvcreate_free`); 0 is refused as a zero size.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.lvcreate_free("scratch", "data", 50)?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvcreate_free(&self, lv: &str, vg: &str, percent: i32) -> Result<()> {
        const CALL: &str = "lvcreate_free";
        let subject = format!("/dev/{vg}/{lv}");
        let p = self.check(check_percent(CALL, &subject, percent))?;
        self.create_lv(CALL, lv, vg, LvSize::PercentFree(p))
    }

    /// Resize the LV at `lvpath` (`/dev/VG/LV`) to `size` in MiB or extents
    /// (`lvresize`, forced: shrinking does not ask). Resizing to the current size
    /// is not an error. A share of free space is what
    /// [`lvresize_free`](Lvm::lvresize_free) takes.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::{Lvm, LvSize};
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.lvresize("/dev/data/root", LvSize::MiB(1024))?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvresize(&self, lvpath: &str, size: LvSize) -> Result<()> {
        const CALL: &str = "lvresize";
        let (vg, lv) = self.check(LvTarget::parse_lv(CALL, lvpath))?;
        if let LvSize::PercentFree(p) = size {
            return Err(self.refuse(Error::invalid(
                CALL,
                lvpath,
                format!("{p}% of free space is a relative size: use lvresize_free"),
            )));
        }
        self.check(size.validate(CALL, lvpath))?;
        let set = self.device_set();
        // Resizing an active LV reloads its device-mapper table.
        self.guard_dm(CALL, lvpath, &[&vg], &[], Some(&format!("{vg}/{lv}")))?;
        let cmd = self
            .check(self.command(CALL, lvpath, "lvresize", &set))?
            .arg("--force")
            .args(size.lvm_args())
            .arg(format!("{vg}/{lv}"));
        let (res, seq) = self.exec(CALL, lvpath, &cmd);
        match res {
            Err(e) if e.kind() == ErrorKind::CommandFailed => {
                // lvm2 refuses a resize to the current size; libguestfs callers
                // expect that to succeed. Ask lvm2 what the LV is now.
                match self.geometry(CALL, lvpath, &set, &vg, &lv) {
                    Ok(g)
                        if g.extent_size > 0
                            && target_bytes(size, g.extent_size) == Some(g.lv_size) =>
                    {
                        self.tolerate(seq, "tolerated: the LV already has this size");
                        Ok(())
                    }
                    _ => Err(e),
                }
            }
            other => other.map(drop),
        }
    }

    /// Grow the LV at `lvpath` by `percent` (0..=100) of its group's free space
    /// (`lvresize -l +N%FREE`). Growing by nothing (0%, or no free space left) is
    /// not an error.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.lvresize_free("/dev/data/home", 100)?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvresize_free(&self, lvpath: &str, percent: i32) -> Result<()> {
        const CALL: &str = "lvresize_free";
        let p = self.check(check_percent(CALL, lvpath, percent))?;
        let (vg, lv) = self.check(LvTarget::parse_lv(CALL, lvpath))?;
        let set = self.device_set();
        if p == 0 {
            // Nothing to grow by; only make sure the LV exists.
            return self.geometry(CALL, lvpath, &set, &vg, &lv).map(drop);
        }
        self.guard_dm(CALL, lvpath, &[&vg], &[], Some(&format!("{vg}/{lv}")))?;
        let cmd = self
            .check(self.command(CALL, lvpath, "lvresize", &set))?
            .arg("--force")
            .args(["-l", &format!("+{p}%FREE"), &format!("{vg}/{lv}")]);
        let (res, seq) = self.exec(CALL, lvpath, &cmd);
        match res {
            Err(e) if e.kind() == ErrorKind::CommandFailed => {
                match self.geometry(CALL, lvpath, &set, &vg, &lv) {
                    Ok(g) if g.vg_free_count == 0 => {
                        self.tolerate(seq, "tolerated: the volume group has no free space");
                        Ok(())
                    }
                    _ => Err(e),
                }
            }
            other => other.map(drop),
        }
    }

    /// Remove the LV at `path` (`/dev/VG/LV`), or every LV of a VG given as
    /// `/dev/VG` (`lvremove -f`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.lvremove("/dev/data/scratch")?;
    /// lvm.lvremove("/dev/data")?; // all the rest
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvremove(&self, path: &str) -> Result<()> {
        const CALL: &str = "lvremove";
        let target = self.check(LvTarget::parse(CALL, path))?;
        // Removing an active LV deactivates it first.
        match &target {
            LvTarget::Lv { vg, lv } => {
                self.guard_dm(CALL, path, &[vg], &[], Some(&format!("{vg}/{lv}")))?
            }
            LvTarget::Vg(vg) => self.guard_dm(CALL, path, &[vg], &[], None)?,
        }
        let cmd = self
            .check(self.command(CALL, path, "lvremove", &self.device_set()))?
            .arg("-f")
            .arg(target.lvm_arg());
        self.exec(CALL, path, &cmd).0.map(drop)
    }

    /// Remove volume group `vg` and all its LVs (`vgremove -f`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.vgremove("data")?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vgremove(&self, vg: &str) -> Result<()> {
        const CALL: &str = "vgremove";
        self.check(validate_vg_name(CALL, vg))?;
        self.guard_dm(CALL, vg, &[vg], &[], None)?;
        let cmd = self
            .check(self.command(CALL, vg, "vgremove", &self.device_set()))?
            .args(["-f", vg]);
        self.exec(CALL, vg, &cmd).0.map(drop)
    }

    /// Wipe the LVM label from `device` (`pvremove -ff --yes`, as libguestfs: even
    /// a PV that still belongs to a VG).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.pvremove("/dev/loop3")?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn pvremove(&self, device: impl AsRef<Path>) -> Result<()> {
        const CALL: &str = "pvremove";
        let set = self.device_set();
        let path = self.check(self.session_device(CALL, &set, device.as_ref()))?;
        let subject = device.as_ref().display().to_string();
        let cmd = self
            .check(self.command(CALL, &subject, "pvremove", &set))?
            .args(["-ff", "--yes"])
            .arg(&path);
        self.exec(CALL, &subject, &cmd).0.map(drop)
    }

    /// Activate (`true`) or deactivate the LVs of volume groups `vgs`; an empty
    /// list means every VG of the session (`vgchange -a y|n`). In metadata-only
    /// mode activating is refused with [`ErrorKind::Unsupported`]; deactivating
    /// still runs (it checks the names and changes nothing).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.vg_activate(true, &["data"])?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vg_activate<S: AsRef<str>>(&self, activate: bool, vgs: &[S]) -> Result<()> {
        self.activate("vg_activate", activate, vgs)
    }

    /// [`vg_activate`](Lvm::vg_activate) for every VG of the session.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.vg_activate_all(false)?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vg_activate_all(&self, activate: bool) -> Result<()> {
        self.activate("vg_activate_all", activate, &[] as &[&str])
    }

    fn activate<S: AsRef<str>>(&self, call: &'static str, activate: bool, vgs: &[S]) -> Result<()> {
        let names: Vec<&str> = vgs.iter().map(AsRef::as_ref).collect();
        for vg in &names {
            self.check(validate_vg_name(call, vg))?;
        }
        let subject = names.join(" ");
        if activate && self.mode() == Mode::MetadataOnly {
            return Err(self.refuse(Error::new(
                ErrorKind::Unsupported,
                call,
                &subject,
                "cannot activate: this host has no device-mapper (metadata-only mode)",
            )));
        }
        // lvm2 finds active LVs by UUID and creates them by name: a clone's or the
        // host's device with either must not be touched (or taken for ours).
        self.guard_dm(call, &subject, &names, &[], None)?;
        let cmd = self
            .check(self.command(call, &subject, "vgchange", &self.device_set()))?
            .args(["--activate", if activate { "y" } else { "n" }])
            .args(&names);
        if activate {
            self.note_activation();
        }
        self.exec(call, &subject, &cmd).0.map(drop)
    }

    /// Rescan the session's devices for volume groups (`vgscan`). Without
    /// devices there is nothing to scan and nothing runs.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.vgscan()?;
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vgscan(&self) -> Result<()> {
        const CALL: &str = "vgscan";
        let set = self.device_set();
        if set.is_empty() {
            self.record_skip(CALL, "", "the session has no devices: nothing to scan");
            return Ok(());
        }
        let cmd = self.command(CALL, "", "vgscan", &set)?;
        self.exec(CALL, "", &cmd).0.map(drop)
    }

    /// Remove every LV, VG and PV on the session's devices (libguestfs's
    /// `lvm_remove_all`, for fixtures). Only the session's devices are touched.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// lvm.lvm_remove_all()?;
    /// assert!(lvm.pvs()?.is_empty());
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvm_remove_all(&self) -> Result<()> {
        const CALL: &str = "lvm_remove_all";
        let set = self.device_set();
        if set.is_empty() {
            self.record_skip(CALL, "", "the session has no devices: nothing to remove");
            return Ok(());
        }
        self.guard_dm(CALL, "", &[], &[], None)?;
        for vg in self.vg_names(CALL, &set)? {
            if self.mode() == Mode::Activate {
                // Deactivate first: removing active LVs is not reliable everywhere.
                let cmd = self
                    .command(CALL, &vg, "vgchange", &set)?
                    .args(["--activate", "n", &vg]);
                let _ = self.exec(CALL, &vg, &cmd);
            }
            let cmd = self.command(CALL, &vg, "vgremove", &set)?.args(["-f", &vg]);
            self.exec(CALL, &vg, &cmd).0?;
        }
        let pvs = self.pv_names(CALL, &set)?;
        if !pvs.is_empty() {
            let paths: Vec<String> = pvs
                .iter()
                .map(|p| {
                    set.iter()
                        .find(|d| d.matches(Path::new(p)))
                        .map_or_else(|| p.clone(), |d| d.resolved.to_string_lossy().into_owned())
                })
                .collect();
            let cmd = self
                .command(CALL, &pvs.join(" "), "pvremove", &set)?
                .args(["-ff", "--yes"])
                .args(&paths);
            self.exec(CALL, &pvs.join(" "), &cmd).0?;
        }
        Ok(())
    }

    /// The resolved paths of `devices` for lvm2's command line: each must be one
    /// of the session's, and there must be at least one.
    fn device_args<P: AsRef<Path>>(
        &self,
        call: &'static str,
        set: &[SessionDevice],
        devices: &[P],
    ) -> Result<Vec<String>> {
        if devices.is_empty() {
            return Err(Error::invalid(call, "", "no devices given"));
        }
        devices
            .iter()
            .map(|d| {
                self.session_device(call, set, d.as_ref())
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .collect()
    }

    /// The LV's size, its VG's extent size and free extents.
    fn geometry(
        &self,
        call: &'static str,
        lvpath: &str,
        set: &[SessionDevice],
        vg: &str,
        lv: &str,
    ) -> Result<Geometry> {
        let cmd = self.command(call, lvpath, "lvs", set)?.args([
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "lv_size,vg_extent_size,vg_free_count",
            &format!("{vg}/{lv}"),
        ]);
        let out = self.exec(call, lvpath, &cmd).0?;
        let rows = parse_rows(call, &out.stdout_str(), "lv")?;
        let row = rows.first().ok_or_else(|| {
            Error::new(
                ErrorKind::BadOutput,
                call,
                lvpath,
                "lvm2 reported no such LV",
            )
        })?;
        Ok(Geometry {
            lv_size: row.bytes_required("lv_size")?,
            extent_size: row.bytes_required("vg_extent_size")?,
            vg_free_count: row.count("vg_free_count")?,
        })
    }
}

/// The size in bytes lvm2 gives an LV asked to be `size` (whole extents, rounded
/// up); `None` for a relative size or one past 64 bits, which no LV can have (a
/// wrapped value could equal the LV's size and pass a refused resize off as a
/// no-op).
fn target_bytes(size: LvSize, extent: u64) -> Option<u64> {
    match size {
        LvSize::MiB(m) => m.checked_mul(1 << 20)?.div_ceil(extent).checked_mul(extent),
        LvSize::Extents(e) => e.checked_mul(extent),
        LvSize::PercentFree(_) => None,
    }
}

/// The devices as the caller named them, for messages and the audit trail.
fn shown<P: AsRef<Path>>(devices: &[P]) -> String {
    devices
        .iter()
        .map(|d| d.as_ref().display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A percentage libguestfs-style: an `int` that must lie in 0..=100.
fn check_percent(call: &'static str, subject: &str, percent: i32) -> Result<u32> {
    match u32::try_from(percent) {
        Ok(p) if p <= 100 => Ok(p),
        _ => Err(Error::invalid(
            call,
            subject,
            format!("percentage {percent} is outside 0..=100"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_bytes_rounds_up_to_extents() {
        let ext = 4 << 20;
        assert_eq!(target_bytes(LvSize::MiB(8), ext), Some(8 << 20));
        assert_eq!(target_bytes(LvSize::MiB(7), ext), Some(8 << 20));
        assert_eq!(target_bytes(LvSize::MiB(9), ext), Some(12 << 20));
        assert_eq!(target_bytes(LvSize::Extents(3), ext), Some(12 << 20));
        assert_eq!(target_bytes(LvSize::PercentFree(10), ext), None);
    }

    #[test]
    fn target_bytes_never_wraps() {
        let ext = 4 << 20;
        // 2^44 + 8 MiB is 2^64 + 8 MiB bytes: wrapped, it would be 8 MiB.
        assert_eq!(target_bytes(LvSize::MiB((1 << 44) + 8), ext), None);
        assert_eq!(target_bytes(LvSize::MiB(u64::MAX >> 11), ext), None);
        assert_eq!(
            target_bytes(LvSize::Extents(u64::from(u32::MAX)), 1 << 40),
            None
        );
        // The largest MiB count fits in bytes, but not once rounded up to a
        // whole extent; the largest whole number of extents does.
        assert_eq!(target_bytes(LvSize::MiB(u64::MAX >> 20), ext), None);
        assert_eq!(
            target_bytes(LvSize::MiB((u64::MAX >> 20) - 3), ext),
            Some(((u64::MAX >> 20) - 3) << 20)
        );
    }

    #[test]
    fn percentages() {
        assert_eq!(check_percent("c", "s", 0).unwrap(), 0);
        assert_eq!(check_percent("c", "s", 100).unwrap(), 100);
        assert_eq!(
            check_percent("c", "s", -1).unwrap_err().to_string(),
            "c: s: percentage -1 is outside 0..=100"
        );
        assert!(check_percent("c", "s", 101).is_err());
    }
}
