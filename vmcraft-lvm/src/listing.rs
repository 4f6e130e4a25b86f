//! The listings: `pvs`, `vgs`, `lvs` (sorted names, as libguestfs returns them)
//! and `pvs_full`, `vgs_full`, `lvs_full` (libguestfs's structs), all read from
//! lvm2's JSON report format.
//!
//! PV names are reported as the session knows its devices (the path it was
//! given, matched by resolved path or device number), LVs as `/dev/VG/LV`. `lvs`
//! lists what libguestfs lists: public LVs that are not flagged to skip
//! activation. A session without devices lists nothing and runs nothing.

use std::path::Path;

use crate::error::Result;
use crate::isolation::SessionDevice;
use crate::report::{LV_COLUMNS, LvmLv, LvmPv, LvmVg, PV_COLUMNS, Row, VG_COLUMNS, parse_rows};
use crate::session::Lvm;

/// libguestfs's selection for `lvs`: no internal (hidden) LVs, none that cannot be
/// activated.
const LVS_SELECT: &str = "lv_role=public && lv_skip_activation!=yes";

impl Lvm {
    /// The physical volumes on the session's devices, sorted (`pvs`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// assert_eq!(lvm.pvs()?, ["/dev/loop3"]);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn pvs(&self) -> Result<Vec<String>> {
        let set = self.device_set();
        self.pv_names("pvs", &set)
    }

    /// The volume groups on the session's devices, sorted (`vgs`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// assert_eq!(lvm.vgs()?, ["data"]);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vgs(&self) -> Result<Vec<String>> {
        let set = self.device_set();
        self.vg_names("vgs", &set)
    }

    /// The logical volumes as `/dev/VG/LV`, sorted (`lvs`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// assert_eq!(lvm.lvs()?, ["/dev/data/home", "/dev/data/root"]);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvs(&self) -> Result<Vec<String>> {
        const CALL: &str = "lvs";
        let set = self.device_set();
        let rows = self.report(
            CALL,
            &set,
            "lvs",
            "lv",
            &["-o", "vg_name,lv_name", "-S", LVS_SELECT],
        )?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(format!(
                    "/dev/{}/{}",
                    r.string("vg_name")?,
                    r.string("lv_name")?
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    /// Every physical volume with all of libguestfs's `lvm_pv` fields (`pvs_full`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// for pv in lvm.pvs_full()? {
    ///     println!("{} {} bytes free", pv.pv_name, pv.pv_free);
    /// }
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn pvs_full(&self) -> Result<Vec<LvmPv>> {
        const CALL: &str = "pvs_full";
        let set = self.device_set();
        let rows = self.report(CALL, &set, "pvs", "pv", &full_args(PV_COLUMNS))?;
        rows.iter()
            .map(|r| {
                let mut pv = r.to_pv()?;
                pv.pv_name = session_name(&set, &pv.pv_name);
                Ok(pv)
            })
            .collect()
    }

    /// Every volume group with all of libguestfs's `lvm_vg` fields (`vgs_full`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// let vg = &lvm.vgs_full()?[0];
    /// println!("{}: {} of {} extents free", vg.vg_name, vg.vg_free_count, vg.vg_extent_count);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn vgs_full(&self) -> Result<Vec<LvmVg>> {
        const CALL: &str = "vgs_full";
        let set = self.device_set();
        let rows = self.report(CALL, &set, "vgs", "vg", &full_args(VG_COLUMNS))?;
        rows.iter().map(Row::to_vg).collect()
    }

    /// Every logical volume with all of libguestfs's `lvm_lv` fields (`lvs_full`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// for lv in lvm.lvs_full()? {
    ///     println!("{} {} bytes", lv.lv_name, lv.lv_size);
    /// }
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvs_full(&self) -> Result<Vec<LvmLv>> {
        const CALL: &str = "lvs_full";
        let set = self.device_set();
        let rows = self.report(CALL, &set, "lvs", "lv", &full_args(LV_COLUMNS))?;
        rows.iter().map(Row::to_lv).collect()
    }

    pub(crate) fn pv_names(
        &self,
        call: &'static str,
        set: &[SessionDevice],
    ) -> Result<Vec<String>> {
        let rows = self.report(call, set, "pvs", "pv", &["-o", "pv_name"])?;
        let mut out = rows
            .iter()
            .map(|r| Ok(session_name(set, &r.string("pv_name")?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    pub(crate) fn vg_names(
        &self,
        call: &'static str,
        set: &[SessionDevice],
    ) -> Result<Vec<String>> {
        let rows = self.report(call, set, "vgs", "vg", &["-o", "vg_name"])?;
        let mut out = rows
            .iter()
            .map(|r| r.string("vg_name"))
            .collect::<Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    /// Run an lvm2 report command in JSON and return the `kind` rows; no devices,
    /// no rows (and no command).
    pub(crate) fn report(
        &self,
        call: &'static str,
        set: &[SessionDevice],
        subcommand: &str,
        kind: &str,
        args: &[&str],
    ) -> Result<Vec<Row>> {
        if set.is_empty() {
            self.record_skip(call, "", "the session has no devices: nothing to list");
            return Ok(Vec::new());
        }
        let cmd = self
            .command(call, "", subcommand, set)?
            .args(["--reportformat", "json"])
            .args(args);
        let out = self.exec(call, "", &cmd).0?;
        parse_rows(call, &out.stdout_str(), kind)
    }
}

pub(crate) fn full_args(columns: &str) -> [&str; 5] {
    ["--units", "b", "--nosuffix", "-o", columns]
}

/// The session's name for a device lvm2 reported as `reported`.
fn session_name(set: &[SessionDevice], reported: &str) -> String {
    set.iter()
        .find(|d| d.matches(Path::new(reported)))
        .map_or_else(
            || reported.to_string(),
            |d| d.given.to_string_lossy().into_owned(),
        )
}
