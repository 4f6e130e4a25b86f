//! Where a logical volume's data lies: its segments, each a run of extents on one
//! physical volume, in bytes. With this a caller can reach a linear LV's data on a
//! host without device-mapper (a loop device with an offset over the PV, or plain
//! reads), which is how VMCraft reads and mounts LVs in metadata-only mode.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::listing::full_args;
use crate::names::LvTarget;
use crate::session::Lvm;

/// One segment of a logical volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvSegment {
    /// Byte offset of the segment within the LV.
    pub lv_start: u64,
    /// The physical volume holding it, as the session knows the device.
    pub pv: PathBuf,
    /// Byte offset of the segment on the PV.
    pub pv_start: u64,
    /// Length in bytes.
    pub length: u64,
    /// lvm2's segment type (`linear`, `striped`, ...).
    pub segtype: String,
}

/// The report columns a segment is read from.
const SEG_COLUMNS: &str = "seg_start_pe,seg_size_pe,seg_pe_ranges,vg_extent_size,segtype";

/// Parse `seg_pe_ranges` of a one-stripe segment: `/dev/x:10-19` -> (pv, 10).
fn parse_range(call: &'static str, s: &str) -> Result<(String, u64)> {
    let bad = || {
        Error::new(
            ErrorKind::BadOutput,
            call,
            "",
            format!("unexpected seg_pe_ranges {s:?}"),
        )
    };
    let (pv, range) = s.trim().rsplit_once(':').ok_or_else(bad)?;
    let (first, _) = range.split_once('-').ok_or_else(bad)?;
    Ok((pv.to_string(), first.parse().map_err(|_| bad())?))
}

impl Lvm {
    /// The segments of the LV at `lvpath` (`/dev/VG/LV`), in LV order. Segments of
    /// several stripes or mirrors are reported with the segment type and the first
    /// PV range only; callers that map data check `segtype == "linear"`.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// for s in lvm.lv_segments("/dev/data/home")? {
    ///     println!("{} bytes at {} of {}", s.length, s.pv_start, s.pv.display());
    /// }
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lv_segments(&self, lvpath: &str) -> Result<Vec<LvSegment>> {
        const CALL: &str = "lv_segments";
        let (vg, lv) = LvTarget::parse_lv(CALL, lvpath)?;
        let set = self.device_set();
        if set.is_empty() {
            return Err(Error::invalid(CALL, lvpath, "the session has no devices"));
        }
        let select = format!("vg_name={vg} && lv_name={lv}");
        let rows = self.report(
            CALL,
            &set,
            "lvs",
            "seg",
            &[
                "--segments",
                "-S",
                &select,
                "--units",
                "b",
                "--nosuffix",
                "-o",
                SEG_COLUMNS,
            ],
        )?;
        if rows.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                CALL,
                lvpath,
                "no such logical volume",
            ));
        }
        let pv_rows = self.report(CALL, &set, "pvs", "pv", &full_args("pv_name,pe_start"))?;
        let mut segs = Vec::new();
        for r in rows {
            let extent = r.bytes("vg_extent_size")?;
            let (pv, first) = parse_range(CALL, &r.string("seg_pe_ranges")?)?;
            let pe_start = pv_rows
                .iter()
                .find(|p| p.string("pv_name").is_ok_and(|n| n == pv))
                .map(|p| p.bytes("pe_start"))
                .transpose()?
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::BadOutput,
                        CALL,
                        lvpath,
                        format!("segment on unknown PV {pv}"),
                    )
                })?;
            let given = set
                .iter()
                .find(|d| d.matches(std::path::Path::new(&pv)))
                .map_or_else(|| PathBuf::from(&pv), |d| d.given.clone());
            segs.push(LvSegment {
                lv_start: r.int("seg_start_pe")? as u64 * extent,
                pv: given,
                pv_start: pe_start + first * extent,
                length: r.int("seg_size_pe")? as u64 * extent,
                segtype: r.string("segtype")?,
            });
        }
        segs.sort_by_key(|s| s.lv_start);
        Ok(segs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pe_ranges() {
        assert_eq!(
            parse_range("t", "/dev/loop0:8-9").unwrap(),
            ("/dev/loop0".to_string(), 8)
        );
        assert_eq!(
            parse_range("t", "/dev/disk/by-id/a:b:0-4").unwrap(),
            ("/dev/disk/by-id/a:b".to_string(), 0)
        );
        assert!(parse_range("t", "garbage").is_err());
    }
}
