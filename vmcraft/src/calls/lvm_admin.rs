//! LVM administration beyond create/remove: canonical names, renames, PV resizing, UUIDs and their listings, metadata dumps, scanning and device filters.
//!
//! Every lvm2 command runs through the session's [`vmcraft_lvm::Lvm`]
//! ([`vmcraft_lvm::Lvm::lvm_command`]): confined to the session's devices, with
//! a private configuration directory, `--driverloaded n` where device-mapper is
//! missing, and recorded in the audit log. UUIDs come back as libguestfs gives
//! them: 32 characters, without dashes. Calls that write refuse when a PV they
//! would change is on a drive added read-only, before lvm2 runs, and forget what
//! the caches held about LVM afterwards.

use std::path::Path;

use vmcraft_lvm::{LvTarget, validate_new_lv, validate_new_vg_name, validate_vg_name};

use crate::error::{Error, ErrorKind, Result};
use crate::names::{DeviceName, parse_device};
use crate::session::VMCraft;

/// The most bytes of metadata `vgmeta` reads back (lvm2's metadata areas are
/// 1 MiB by default; a VG's text is far smaller).
const MAX_VGMETA: u64 = 64 << 20;

/// One PV as `pvs` reports it.
#[derive(Debug, Clone)]
struct PvRow {
    /// The session's device name (`/dev/sda1`), or lvm2's name if unknown.
    name: String,
    vg: String,
    uuid: String,
}

/// The string fields of lvm2's JSON report rows of `kind` (`pv`, `vg`, `lv`).
fn report_rows(
    call: &str,
    stdout: &str,
    kind: &str,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let bad = |why: &str| {
        Error::call(
            ErrorKind::Io,
            call,
            "",
            format!("lvm2's JSON report is not as expected: {why}"),
        )
    };
    let v: serde_json::Value = serde_json::from_str(stdout).map_err(|_| bad("not JSON"))?;
    let mut out = Vec::new();
    for part in v
        .get("report")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("no report"))?
    {
        if let Some(rows) = part.get(kind).and_then(|r| r.as_array()) {
            for row in rows {
                out.push(
                    row.as_object()
                        .cloned()
                        .ok_or_else(|| bad("a row is not an object"))?,
                );
            }
        }
    }
    Ok(out)
}

fn field(row: &serde_json::Map<String, serde_json::Value>, name: &str) -> String {
    row.get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// lvm2's UUID without its dashes, as libguestfs returns it.
fn bare_uuid(call: &str, subject: &str, u: &str) -> Result<String> {
    let s: String = u.chars().filter(|c| *c != '-').collect();
    if s.len() != 32 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::call(
            ErrorKind::Io,
            call,
            subject,
            format!("lvm2 reported {u:?}, which is not a UUID"),
        ));
    }
    Ok(s)
}

impl VMCraft {
    /// Run `lvm SUBCOMMAND ARGS...` confined to the session's devices and
    /// return its standard output.
    fn lvm_run(
        &self,
        call: &'static str,
        subject: &str,
        sub: &str,
        args: &[&str],
    ) -> Result<String> {
        self.with_lvm(|l| {
            let cmd = l.lvm_command(sub)?.args(args.iter().copied());
            Ok(l.run_lvm(call, subject, &cmd)?.stdout_str())
        })
    }

    /// A JSON report (`pvs`, `vgs`, `lvs`) with these columns.
    fn lvm_report(
        &self,
        call: &'static str,
        subject: &str,
        sub: &str,
        kind: &str,
        columns: &str,
        extra: &[&str],
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        let mut args = vec!["--reportformat", "json", "-o", columns];
        args.extend_from_slice(extra);
        let out = self.lvm_run(call, subject, sub, &args)?;
        report_rows(call, &out, kind)
    }

    /// Every PV of the session, by device name.
    fn pv_rows(&self, call: &'static str) -> Result<Vec<PvRow>> {
        self.lvm_report(call, "", "pvs", "pv", "pv_name,vg_name,pv_uuid", &[])?
            .iter()
            .map(|r| {
                let host = field(r, "pv_name");
                Ok(PvRow {
                    name: self.guest_name_of(Path::new(&host)).unwrap_or(host),
                    vg: field(r, "vg_name"),
                    uuid: bare_uuid(call, "", &field(r, "pv_uuid"))?,
                })
            })
            .collect()
    }

    /// Whether a PV of volume group `vg` is on a drive added read-only (a PV
    /// that is not a session drive or partition counts as read-only); `None`
    /// when lvm2 cannot say or the VG has no PV.
    pub(crate) fn vg_on_readonly_drive(&self, vg: &str) -> Option<bool> {
        let rows = self.pv_rows("lvm_readonly").ok()?;
        let pvs: Vec<PvRow> = rows.into_iter().filter(|p| p.vg == vg).collect();
        if pvs.is_empty() {
            return None;
        }
        Some(pvs.iter().any(|pv| {
            match self.parse_name(&pv.name) {
                Ok(DeviceName::Drive(i)) | Ok(DeviceName::Partition(i, _)) => self
                    .read_state()
                    .drives
                    .get(i)
                    .is_none_or(|d| d.opts.readonly),
                // A PV inside a LUKS mapping or on an md array: as its drives.
                Ok(DeviceName::Mapped(name)) => self.device_on_readonly_drive(&name),
                _ => true,
            }
        }))
    }

    /// Refuse when any of these PVs is on a drive added read-only.
    fn pvs_writable<'a>(&self, call: &str, pvs: impl IntoIterator<Item = &'a PvRow>) -> Result<()> {
        for pv in pvs {
            let ro = match self.parse_name(&pv.name) {
                Ok(DeviceName::Drive(i)) | Ok(DeviceName::Partition(i, _)) => self
                    .read_state()
                    .drives
                    .get(i)
                    .is_some_and(|d| d.opts.readonly),
                Ok(DeviceName::Mapped(name)) => self.device_on_readonly_drive(&name),
                _ => true,
            };
            if ro {
                return Err(Error::invalid(
                    call,
                    &pv.name,
                    "the drive was added read-only",
                ));
            }
        }
        Ok(())
    }

    /// Refuse when a VG is missing; return its PVs.
    fn vg_pvs(&self, call: &'static str, vg: &str) -> Result<Vec<PvRow>> {
        validate_vg_name(call, vg)?;
        if !self.vgs()?.iter().any(|v| v == vg) {
            return Err(Error::call(
                ErrorKind::NoSuchDevice,
                call,
                vg,
                "volume group not found",
            ));
        }
        Ok(self
            .pv_rows(call)?
            .into_iter()
            .filter(|p| p.vg == vg)
            .collect())
    }

    /// Refuse while a filesystem on an LV of `vg` (any VG when `None`) is
    /// mounted.
    fn vg_not_mounted(&self, call: &str, vg: Option<&str>) -> Result<()> {
        for m in self.mounts().iter() {
            if let Ok(DeviceName::LogicalVolume(v, _)) = parse_device(&m.device)
                && vg.is_none_or(|g| g == v)
            {
                return Err(Error::call(
                    ErrorKind::Busy,
                    call,
                    &m.device,
                    "a logical volume of the volume group is mounted",
                ));
            }
        }
        Ok(())
    }

    /// After a change: forget LV lists, LV windows and probes.
    fn lvm_admin_changed(&self) {
        self.lv_cache.clear();
        self.release_lv_windows();
        self.invalidate_probe_cache();
    }

    /// The canonical name of a logical volume (`lvm_canonical_lv_name`):
    /// `/dev/VG/LV` for `/dev/VG/LV` or `/dev/mapper/VG-LV` (dashes in names
    /// doubled, as device-mapper writes them). Anything that is not an LV of
    /// the session is an error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvm_canonical_lv_name(&self, lvname: &str) -> Result<String> {
        const CALL: &str = "lvm_canonical_lv_name";
        let not_lv = || Error::invalid(CALL, lvname, "not a logical volume");
        let candidate = if let Some(dm) = lvname.strip_prefix("/dev/mapper/") {
            split_dm_name(dm).map(|(vg, lv)| format!("/dev/{vg}/{lv}"))
        } else {
            LvTarget::parse_lv(CALL, lvname)
                .ok()
                .map(|(vg, lv)| format!("/dev/{vg}/{lv}"))
        }
        .ok_or_else(not_lv)?;
        if self.lvs()?.contains(&candidate) {
            Ok(candidate)
        } else {
            Err(not_lv())
        }
    }

    /// The UUID of a logical volume (`lvuuid`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvuuid(&self, device: &str) -> Result<String> {
        const CALL: &str = "lvuuid";
        let (vg, lv) = LvTarget::parse_lv(CALL, device)?;
        let rows = self.lvm_report(
            CALL,
            device,
            "lvs",
            "lv",
            "lv_uuid",
            &[&format!("{vg}/{lv}")],
        );
        match rows {
            Ok(rows) if rows.len() == 1 => bare_uuid(CALL, device, &field(&rows[0], "lv_uuid")),
            Ok(_) | Err(_) if !self.lvs()?.contains(&format!("/dev/{vg}/{lv}")) => {
                Err(Error::call(
                    ErrorKind::NoSuchDevice,
                    CALL,
                    device,
                    "logical volume not found",
                ))
            }
            Ok(_) => Err(Error::call(
                ErrorKind::Io,
                CALL,
                device,
                "lvm2 reported no single UUID",
            )),
            Err(e) => Err(e),
        }
    }

    /// The UUID of a volume group (`vguuid`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vguuid(&self, vgname: &str) -> Result<String> {
        const CALL: &str = "vguuid";
        self.vg_pvs(CALL, vgname)?;
        let rows = self.lvm_report(CALL, vgname, "vgs", "vg", "vg_uuid", &[vgname])?;
        match rows.as_slice() {
            [r] => bare_uuid(CALL, vgname, &field(r, "vg_uuid")),
            _ => Err(Error::call(
                ErrorKind::Io,
                CALL,
                vgname,
                "lvm2 reported no single UUID",
            )),
        }
    }

    /// The UUID of a physical volume (`pvuuid`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvuuid(&self, device: &str) -> Result<String> {
        const CALL: &str = "pvuuid";
        let name = self.resolve(CALL, device)?.name;
        self.pv_rows(CALL)?
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| p.uuid)
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::NoSuchDevice,
                    CALL,
                    &name,
                    "not a physical volume",
                )
            })
    }

    /// The UUIDs of every LV in a volume group (`vglvuuids`), in lvm2's
    /// order, hidden LVs included (as `vgs -o lv_uuid` reports them).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vglvuuids(&self, vgname: &str) -> Result<Vec<String>> {
        const CALL: &str = "vglvuuids";
        self.vg_pvs(CALL, vgname)?;
        self.lvm_report(CALL, vgname, "vgs", "vg", "lv_uuid", &[vgname])?
            .iter()
            .map(|r| field(r, "lv_uuid"))
            .filter(|u| !u.is_empty())
            .map(|u| bare_uuid(CALL, vgname, &u))
            .collect()
    }

    /// The UUIDs of every PV in a volume group (`vgpvuuids`), in lvm2's order.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgpvuuids(&self, vgname: &str) -> Result<Vec<String>> {
        const CALL: &str = "vgpvuuids";
        self.vg_pvs(CALL, vgname)?;
        self.lvm_report(CALL, vgname, "vgs", "vg", "pv_uuid", &[vgname])?
            .iter()
            .map(|r| field(r, "pv_uuid"))
            .filter(|u| !u.is_empty())
            .map(|u| bare_uuid(CALL, vgname, &u))
            .collect()
    }

    /// A volume group's metadata, as lvm2's text format (`vgmeta`, written by
    /// `vgcfgbackup` into the session's private directory and read back).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgmeta(&self, vgname: &str) -> Result<Vec<u8>> {
        const CALL: &str = "vgmeta";
        self.vg_pvs(CALL, vgname)?;
        let dir = self.sysroot(CALL)?;
        let dir = dir.parent().unwrap_or(&dir).to_path_buf();
        let file = dir.join(format!(
            "vgmeta-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let path = file.to_string_lossy().into_owned();
        let run = self.lvm_run(CALL, vgname, "vgcfgbackup", &["-f", &path, vgname]);
        let read = run.and_then(|_| {
            let f = std::fs::File::open(&file).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, CALL, vgname, "cannot read the backup", e)
            })?;
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_VGMETA + 1), &mut buf)
                .map_err(|e| {
                    Error::call_with_source(
                        ErrorKind::Io,
                        CALL,
                        vgname,
                        "cannot read the backup",
                        e,
                    )
                })?;
            if buf.len() as u64 > MAX_VGMETA {
                return Err(Error::call(
                    ErrorKind::Io,
                    CALL,
                    vgname,
                    format!("metadata larger than {MAX_VGMETA} bytes"),
                ));
            }
            Ok(buf)
        });
        let _ = std::fs::remove_file(&file);
        read
    }

    /// Rename a logical volume (`lvrename`): both names are full paths in the
    /// same VG (`/dev/VG/OLD`, `/dev/VG/NEW`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvrename(&self, logvol: &str, newlogvol: &str) -> Result<()> {
        const CALL: &str = "lvrename";
        let (vg, lv) = LvTarget::parse_lv(CALL, logvol)?;
        let (nvg, nlv) = LvTarget::parse_lv(CALL, newlogvol)?;
        if nvg != vg {
            return Err(Error::invalid(
                CALL,
                newlogvol,
                format!("the new name must be in the same volume group ({vg})"),
            ));
        }
        validate_new_lv(CALL, &nvg, &nlv)?;
        let old = format!("/dev/{vg}/{lv}");
        let lvs = self.lvs()?;
        if !lvs.contains(&old) {
            return Err(Error::call(
                ErrorKind::NoSuchDevice,
                CALL,
                logvol,
                "logical volume not found",
            ));
        }
        if lvs.contains(&format!("/dev/{nvg}/{nlv}")) {
            return Err(Error::invalid(
                CALL,
                newlogvol,
                "a logical volume of that name exists",
            ));
        }
        if self.mounts().iter().any(|m| m.device == old) {
            return Err(Error::call(
                ErrorKind::Busy,
                CALL,
                &old,
                "the logical volume is mounted",
            ));
        }
        let pvs = self.vg_pvs(CALL, &vg)?;
        self.pvs_writable(CALL, &pvs)?;
        let r = self.lvm_run(CALL, logvol, "lvrename", &[&vg, &lv, &nlv]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Rename a volume group (`vgrename`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgrename(&self, volgroup: &str, newvolgroup: &str) -> Result<()> {
        const CALL: &str = "vgrename";
        validate_new_vg_name(CALL, newvolgroup)?;
        let pvs = self.vg_pvs(CALL, volgroup)?;
        if self.vgs()?.iter().any(|v| v == newvolgroup) {
            return Err(Error::invalid(
                CALL,
                newvolgroup,
                "a volume group of that name exists",
            ));
        }
        self.vg_not_mounted(CALL, Some(volgroup))?;
        self.pvs_writable(CALL, &pvs)?;
        let r = self.lvm_run(CALL, volgroup, "vgrename", &[volgroup, newvolgroup]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// The PV on `device`, refusing a read-only drive.
    fn writable_pv(
        &self,
        call: &'static str,
        device: &str,
    ) -> Result<(String, std::path::PathBuf)> {
        let r = self.resolve(call, device)?;
        let pv = self
            .pv_rows(call)?
            .into_iter()
            .find(|p| p.name == r.name)
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::NoSuchDevice,
                    call,
                    &r.name,
                    "not a physical volume",
                )
            })?;
        self.pvs_writable(call, [&pv])?;
        Ok((r.name, r.host))
    }

    /// Grow (or shrink) a PV to the size of its device (`pvresize`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvresize(&self, device: &str) -> Result<()> {
        const CALL: &str = "pvresize";
        let (name, host) = self.writable_pv(CALL, device)?;
        let host = host.to_string_lossy().into_owned();
        let r = self.lvm_run(CALL, &name, "pvresize", &[&host]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Resize a PV to `size` bytes (`pvresize_size`); lvm2 refuses to cut
    /// into allocated extents.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvresize_size(&self, device: &str, size: i64) -> Result<()> {
        const CALL: &str = "pvresize_size";
        if size <= 0 {
            return Err(Error::invalid(CALL, device, format!("invalid size {size}")));
        }
        let (name, host) = self.writable_pv(CALL, device)?;
        let dev_size = vmcraft_block::blockdev_getsize64(&host)?;
        if size as u64 > dev_size {
            return Err(Error::invalid(
                CALL,
                &name,
                format!("size {size} is larger than the device ({dev_size} bytes)"),
            ));
        }
        let host = host.to_string_lossy().into_owned();
        let bytes = format!("{size}b");
        let r = self.lvm_run(
            CALL,
            &name,
            "pvresize",
            &["--yes", "--setphysicalvolumesize", &bytes, &host],
        );
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Give a volume group a new random UUID (`vgchange_uuid`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgchange_uuid(&self, vg: &str) -> Result<()> {
        const CALL: &str = "vgchange_uuid";
        let pvs = self.vg_pvs(CALL, vg)?;
        self.vg_not_mounted(CALL, Some(vg))?;
        self.pvs_writable(CALL, &pvs)?;
        let r = self.lvm_run(CALL, vg, "vgchange", &["-u", vg]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Give every volume group of the session a new random UUID
    /// (`vgchange_uuid_all`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn vgchange_uuid_all(&self) -> Result<()> {
        const CALL: &str = "vgchange_uuid_all";
        let pvs: Vec<PvRow> = self
            .pv_rows(CALL)?
            .into_iter()
            .filter(|p| !p.vg.is_empty())
            .collect();
        self.vg_not_mounted(CALL, None)?;
        self.pvs_writable(CALL, &pvs)?;
        let r = self.lvm_run(CALL, "", "vgchange", &["-u"]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Give a physical volume a new random UUID (`pvchange_uuid`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvchange_uuid(&self, device: &str) -> Result<()> {
        const CALL: &str = "pvchange_uuid";
        let (name, host) = self.writable_pv(CALL, device)?;
        let host = host.to_string_lossy().into_owned();
        let r = self.lvm_run(CALL, &name, "pvchange", &["-u", &host]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Give every physical volume of the session a new random UUID
    /// (`pvchange_uuid_all`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pvchange_uuid_all(&self) -> Result<()> {
        const CALL: &str = "pvchange_uuid_all";
        let pvs = self.pv_rows(CALL)?;
        self.pvs_writable(CALL, &pvs)?;
        let r = self.lvm_run(CALL, "", "pvchange", &["-u", "-a"]);
        self.lvm_admin_changed();
        r.map(|_| ())
    }

    /// Rescan the session's devices for PVs, VGs and LVs (`lvm_scan`), forgetting
    /// what was cached; with `activate`, activate what was found (which needs
    /// device-mapper). A filter set with [`VMCraft::lvm_set_filter`] stays.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvm_scan(&self, activate: bool) -> Result<()> {
        self.lvm_admin_changed();
        self.vgscan()?;
        if activate {
            self.vg_activate_all(true)?;
        }
        Ok(())
    }

    /// Let LVM see only these devices (`lvm_set_filter`): whole drives or
    /// partitions of the session, each exactly (a drive does not bring its
    /// partitions). Refused while an LV is mounted. The filter is kept by
    /// device name until [`VMCraft::lvm_clear_filter`]: when drives are added or
    /// partition tables written, LVM still sees only the named devices (a
    /// partition that no longer exists drops out).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvm_set_filter(&self, devices: &[&str]) -> Result<()> {
        const CALL: &str = "lvm_set_filter";
        let mut hosts = Vec::new();
        let mut names = Vec::new();
        for d in devices {
            let r = self.resolve(CALL, d)?;
            if matches!(r.what, DeviceName::LogicalVolume(..)) {
                return Err(Error::invalid(
                    CALL,
                    d,
                    "a logical volume cannot be a filter device",
                ));
            }
            hosts.push(r.host);
            names.push(r.name);
        }
        self.vg_not_mounted(CALL, None)?;
        self.with_lvm(|l| Ok(l.set_devices(hosts)?))?;
        // Remembered by name: the filter holds when drives are added or
        // partitions change (the session re-applies it then).
        self.settings().lvm_filter = Some(names);
        self.lvm_admin_changed();
        Ok(())
    }

    /// Let LVM see every device of the session again (`lvm_clear_filter`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lvm_clear_filter(&self) -> Result<()> {
        const CALL: &str = "lvm_clear_filter";
        self.vg_not_mounted(CALL, None)?;
        self.settings().lvm_filter = None;
        let nodes = self.session_nodes();
        self.with_lvm(|l| Ok(l.set_devices(nodes)?))?;
        self.lvm_admin_changed();
        Ok(())
    }
}

/// Split a device-mapper name `VG-LV` (a dash inside a name doubled) into its
/// two names.
fn split_dm_name(dm: &str) -> Option<(String, String)> {
    let b = dm.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            let (vg, lv) = (&dm[..i], &dm[i + 1..]);
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((vg.replace("--", "-"), lv.replace("--", "-")));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_names_split_on_the_single_dash() {
        assert_eq!(split_dm_name("vg-lv"), Some(("vg".into(), "lv".into())));
        assert_eq!(
            split_dm_name("my--vg-my--lv"),
            Some(("my-vg".into(), "my-lv".into()))
        );
        assert_eq!(split_dm_name("novg"), None);
        assert_eq!(split_dm_name("-lv"), None);
        assert_eq!(split_dm_name("vg-"), None);
    }

    #[test]
    fn uuids_lose_their_dashes() {
        assert_eq!(
            bare_uuid("t", "", "nDNKGh-mVUf-j3NU-fdAy-NLg3-5H57-vYSMkM").unwrap(),
            "nDNKGhmVUfj3NUfdAyNLg35H57vYSMkM"
        );
        assert!(bare_uuid("t", "", "short").is_err());
    }

    #[test]
    fn report_rows_read_lvm2_json() {
        let rows = report_rows(
            "t",
            r#"{"report":[{"pv":[{"pv_name":"/dev/loop3","vg_name":"vg","pv_uuid":"x"}]}]}"#,
            "pv",
        )
        .unwrap();
        assert_eq!(field(&rows[0], "vg_name"), "vg");
        assert!(report_rows("t", "nope", "pv").is_err());
    }
}
