//! The full listings' structs, named and typed as libguestfs's `lvm_pv`, `lvm_vg`
//! and `lvm_lv`, and the parser for lvm2's JSON report format they are read from.
//!
//! lvm2 is asked for `--reportformat json --units b --nosuffix`, so sizes arrive
//! as byte counts; every value arrives as a JSON string. UUIDs lose their dashes
//! (32 characters, as libguestfs returns them); an empty percentage is `None`
//! (libguestfs's `-1`). An empty number (lvm2 prints one for a missing PV's device
//! size) reads as 0 for a size and -1 for a count, which is what lvm2 means by it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};

/// A physical volume, as libguestfs's `lvm_pv` (`pvs_full`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LvmPv {
    /// The device, as the session knows it.
    pub pv_name: String,
    /// The UUID, 32 characters without dashes.
    pub pv_uuid: String,
    /// The metadata format (`lvm2`).
    pub pv_fmt: String,
    /// Usable size in bytes.
    pub pv_size: u64,
    /// Size of the underlying device in bytes.
    pub dev_size: u64,
    /// Free space in bytes.
    pub pv_free: u64,
    /// Allocated space in bytes.
    pub pv_used: u64,
    /// Attribute string (`a--`).
    pub pv_attr: String,
    /// Number of physical extents.
    pub pv_pe_count: i64,
    /// Number of allocated physical extents.
    pub pv_pe_alloc_count: i64,
    /// Tags, comma-separated.
    pub pv_tags: String,
    /// Offset of the first extent in bytes.
    pub pe_start: u64,
    /// Number of metadata areas.
    pub pv_mda_count: i64,
    /// Free metadata area space in bytes.
    pub pv_mda_free: u64,
}

/// A volume group, as libguestfs's `lvm_vg` (`vgs_full`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LvmVg {
    /// The name.
    pub vg_name: String,
    /// The UUID, 32 characters without dashes.
    pub vg_uuid: String,
    /// The metadata format (`lvm2`).
    pub vg_fmt: String,
    /// Attribute string (`wz--n-`).
    pub vg_attr: String,
    /// Total size in bytes.
    pub vg_size: u64,
    /// Free space in bytes.
    pub vg_free: u64,
    /// System ID.
    pub vg_sysid: String,
    /// Extent size in bytes.
    pub vg_extent_size: u64,
    /// Number of extents.
    pub vg_extent_count: i64,
    /// Number of free extents.
    pub vg_free_count: i64,
    /// Maximum number of LVs (0: unlimited).
    pub max_lv: i64,
    /// Maximum number of PVs (0: unlimited).
    pub max_pv: i64,
    /// Number of PVs.
    pub pv_count: i64,
    /// Number of LVs.
    pub lv_count: i64,
    /// Number of snapshots.
    pub snap_count: i64,
    /// Metadata sequence number.
    pub vg_seqno: i64,
    /// Tags, comma-separated.
    pub vg_tags: String,
    /// Number of metadata areas.
    pub vg_mda_count: i64,
    /// Free metadata area space in bytes.
    pub vg_mda_free: u64,
}

/// A logical volume, as libguestfs's `lvm_lv` (`lvs_full`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LvmLv {
    /// The name (without the VG).
    pub lv_name: String,
    /// The UUID, 32 characters without dashes.
    pub lv_uuid: String,
    /// Attribute string (`-wi-a-----`).
    pub lv_attr: String,
    /// Persistent major number (-1: none).
    pub lv_major: i64,
    /// Persistent minor number (-1: none).
    pub lv_minor: i64,
    /// Kernel major number (-1: not active).
    pub lv_kernel_major: i64,
    /// Kernel minor number (-1: not active).
    pub lv_kernel_minor: i64,
    /// Size in bytes.
    pub lv_size: u64,
    /// Number of segments.
    pub seg_count: i64,
    /// Origin of a snapshot.
    pub origin: String,
    /// Snapshot (or thin data) usage in percent; `None` where it does not apply.
    pub snap_percent: Option<f32>,
    /// Mirror/RAID sync in percent; `None` where it does not apply.
    pub copy_percent: Option<f32>,
    /// PV being moved from by pvmove.
    pub move_pv: String,
    /// Tags, comma-separated.
    pub lv_tags: String,
    /// Mirror log LV.
    pub mirror_log: String,
    /// Kernel modules needed.
    pub modules: String,
}

/// The `-o` columns of `pvs_full`, in libguestfs's order.
pub(crate) const PV_COLUMNS: &str = "pv_name,pv_uuid,pv_fmt,pv_size,dev_size,pv_free,pv_used,pv_attr,\
pv_pe_count,pv_pe_alloc_count,pv_tags,pe_start,pv_mda_count,pv_mda_free";
/// The `-o` columns of `vgs_full`.
pub(crate) const VG_COLUMNS: &str = "vg_name,vg_uuid,vg_fmt,vg_attr,vg_size,vg_free,vg_sysid,\
vg_extent_size,vg_extent_count,vg_free_count,max_lv,max_pv,pv_count,lv_count,snap_count,vg_seqno,\
vg_tags,vg_mda_count,vg_mda_free";
/// The `-o` columns of `lvs_full`.
pub(crate) const LV_COLUMNS: &str = "lv_name,lv_uuid,lv_attr,lv_major,lv_minor,lv_kernel_major,\
lv_kernel_minor,lv_size,seg_count,origin,snap_percent,copy_percent,move_pv,lv_tags,mirror_log,modules";

/// One report row: column name to the string lvm2 printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    call: &'static str,
    fields: BTreeMap<String, String>,
}

/// The rows of the `kind` report (`pv`, `vg`, `lv`) in lvm2's JSON output.
pub(crate) fn parse_rows(call: &'static str, stdout: &str, kind: &str) -> Result<Vec<Row>> {
    // lvm2 prints nothing but the report on stdout, indented; be tolerant of a
    // stray line before it all the same.
    let start = stdout
        .find('{')
        .ok_or_else(|| bad(call, "no JSON report in lvm2's output"))?;
    let value: serde_json::Value = serde_json::from_str(&stdout[start..])
        .map_err(|e| bad(call, "lvm2's JSON report does not parse").with_source(e))?;
    let reports = value
        .get("report")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad(call, "lvm2's JSON report has no \"report\" array"))?;
    let mut rows = Vec::new();
    for report in reports {
        let Some(items) = report.get(kind) else {
            continue;
        };
        let items = items
            .as_array()
            .ok_or_else(|| bad(call, format!("lvm2's {kind:?} report is not an array")))?;
        for item in items {
            let obj = item.as_object().ok_or_else(|| {
                bad(
                    call,
                    format!("an entry of lvm2's {kind:?} report is not an object"),
                )
            })?;
            let mut fields = BTreeMap::new();
            for (k, v) in obj {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Null => String::new(),
                    other => {
                        return Err(bad(
                            call,
                            format!("lvm2's field {k:?} is not a string: {other}"),
                        ));
                    }
                };
                fields.insert(k.clone(), s);
            }
            rows.push(Row { call, fields });
        }
    }
    Ok(rows)
}

fn bad(call: &'static str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::BadOutput, call, "", message)
}

impl Row {
    /// The value of the first of `names` present (lvm2 reports some columns under
    /// a longer name than the one asked for: `modules` comes back as `lv_modules`).
    fn raw(&self, names: &[&str]) -> Result<&str> {
        names
            .iter()
            .find_map(|n| self.fields.get(*n))
            .map(String::as_str)
            .ok_or_else(|| {
                bad(
                    self.call,
                    format!("lvm2's report lacks the field {:?}", names[0]),
                )
            })
    }

    pub(crate) fn string(&self, name: &str) -> Result<String> {
        self.raw(&[name]).map(str::to_string)
    }

    fn string_any(&self, names: &[&str]) -> Result<String> {
        self.raw(names).map(str::to_string)
    }

    pub(crate) fn bytes(&self, name: &str) -> Result<u64> {
        let v = self.raw(&[name])?;
        if v.is_empty() {
            return Ok(0);
        }
        v.parse().map_err(|_| {
            bad(
                self.call,
                format!("lvm2's field {name:?} is not a byte count: {v:?}"),
            )
        })
    }

    pub(crate) fn int(&self, name: &str) -> Result<i64> {
        let v = self.raw(&[name])?;
        if v.is_empty() {
            return Ok(-1);
        }
        v.parse().map_err(|_| {
            bad(
                self.call,
                format!("lvm2's field {name:?} is not an integer: {v:?}"),
            )
        })
    }

    /// A count lvm2 must have printed (an extent number or count): empty,
    /// negative or non-numeric is bad output, never a stand-in value that later
    /// arithmetic would turn into a wrapped offset.
    pub(crate) fn count(&self, name: &str) -> Result<u64> {
        let v = self.raw(&[name])?;
        v.parse().map_err(|_| {
            bad(
                self.call,
                format!("lvm2's field {name:?} is not a count: {v:?}"),
            )
        })
    }

    /// A byte count lvm2 must have printed: as [`Row::count`], empty is bad output.
    pub(crate) fn bytes_required(&self, name: &str) -> Result<u64> {
        let v = self.raw(&[name])?;
        v.parse().map_err(|_| {
            bad(
                self.call,
                format!("lvm2's field {name:?} is not a byte count: {v:?}"),
            )
        })
    }

    fn percent(&self, name: &str) -> Result<Option<f32>> {
        let v = self.raw(&[name])?;
        if v.is_empty() {
            return Ok(None);
        }
        v.trim_end_matches('%').parse().map(Some).map_err(|_| {
            bad(
                self.call,
                format!("lvm2's field {name:?} is not a percentage: {v:?}"),
            )
        })
    }

    fn uuid(&self, name: &str) -> Result<String> {
        let v = self.raw(&[name])?;
        let u: String = v.chars().filter(|c| *c != '-').collect();
        if u.len() != 32 || !u.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(
                self.call,
                format!("lvm2's field {name:?} is not a UUID: {v:?}"),
            ));
        }
        Ok(u)
    }

    pub(crate) fn to_pv(&self) -> Result<LvmPv> {
        Ok(LvmPv {
            pv_name: self.string("pv_name")?,
            pv_uuid: self.uuid("pv_uuid")?,
            pv_fmt: self.string("pv_fmt")?,
            pv_size: self.bytes("pv_size")?,
            dev_size: self.bytes("dev_size")?,
            pv_free: self.bytes("pv_free")?,
            pv_used: self.bytes("pv_used")?,
            pv_attr: self.string("pv_attr")?,
            pv_pe_count: self.int("pv_pe_count")?,
            pv_pe_alloc_count: self.int("pv_pe_alloc_count")?,
            pv_tags: self.string("pv_tags")?,
            pe_start: self.bytes("pe_start")?,
            pv_mda_count: self.int("pv_mda_count")?,
            pv_mda_free: self.bytes("pv_mda_free")?,
        })
    }

    pub(crate) fn to_vg(&self) -> Result<LvmVg> {
        Ok(LvmVg {
            vg_name: self.string("vg_name")?,
            vg_uuid: self.uuid("vg_uuid")?,
            vg_fmt: self.string("vg_fmt")?,
            vg_attr: self.string("vg_attr")?,
            vg_size: self.bytes("vg_size")?,
            vg_free: self.bytes("vg_free")?,
            vg_sysid: self.string("vg_sysid")?,
            vg_extent_size: self.bytes("vg_extent_size")?,
            vg_extent_count: self.int("vg_extent_count")?,
            vg_free_count: self.int("vg_free_count")?,
            max_lv: self.int("max_lv")?,
            max_pv: self.int("max_pv")?,
            pv_count: self.int("pv_count")?,
            lv_count: self.int("lv_count")?,
            snap_count: self.int("snap_count")?,
            vg_seqno: self.int("vg_seqno")?,
            vg_tags: self.string("vg_tags")?,
            vg_mda_count: self.int("vg_mda_count")?,
            vg_mda_free: self.bytes("vg_mda_free")?,
        })
    }

    pub(crate) fn to_lv(&self) -> Result<LvmLv> {
        Ok(LvmLv {
            lv_name: self.string("lv_name")?,
            lv_uuid: self.uuid("lv_uuid")?,
            lv_attr: self.string("lv_attr")?,
            lv_major: self.int("lv_major")?,
            lv_minor: self.int("lv_minor")?,
            lv_kernel_major: self.int("lv_kernel_major")?,
            lv_kernel_minor: self.int("lv_kernel_minor")?,
            lv_size: self.bytes("lv_size")?,
            seg_count: self.int("seg_count")?,
            origin: self.string_any(&["origin", "lv_origin"])?,
            snap_percent: self.percent("snap_percent")?,
            copy_percent: self.percent("copy_percent")?,
            move_pv: self.string_any(&["move_pv", "lv_move_pv"])?,
            lv_tags: self.string("lv_tags")?,
            mirror_log: self.string_any(&["mirror_log", "lv_mirror_log"])?,
            modules: self.string_any(&["modules", "lv_modules"])?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `lvm lvs` JSON as lvm2 2.03.16 prints it (two LVs, metadata-only).
    pub(crate) const LVS_JSON: &str = r#"  {
      "report": [
          {
              "lv": [
                  {"lv_name":"lv1", "lv_uuid":"nDNKGh-mVUf-j3NU-fdAy-NLg3-5H57-vYSMkM", "lv_attr":"-wi-XX----", "lv_major":"-1", "lv_minor":"-1", "lv_kernel_major":"-1", "lv_kernel_minor":"-1", "lv_size":"8388608", "seg_count":"1", "origin":"", "snap_percent":"", "copy_percent":"", "move_pv":"", "lv_tags":"", "mirror_log":"", "lv_modules":""},
                  {"lv_name":"lv2", "lv_uuid":"FHh4Ds-nWu1-J8oO-aOO2-KCwm-Vx5H-J38nsR", "lv_attr":"-wi-a-----", "lv_major":"-1", "lv_minor":"-1", "lv_kernel_major":"254", "lv_kernel_minor":"3", "lv_size":"12582912", "seg_count":"2", "origin":"", "snap_percent":"12.50", "copy_percent":"100.00", "move_pv":"", "lv_tags":"a,b", "mirror_log":"", "lv_modules":"mirror"}
              ]
          }
      ]
  }
"#;

    pub(crate) const PVS_JSON: &str = r#"  {
      "report": [
          {
              "pv": [
                  {"pv_name":"/dev/loop0", "pv_uuid":"Ic4z3R-zTz7-1xhS-nFTn-XG5b-CdFB-FcPjJ3", "pv_fmt":"lvm2", "pv_size":"62914560", "dev_size":"67108864", "pv_free":"41943040", "pv_used":"20971520", "pv_attr":"a--", "pv_pe_count":"15", "pv_pe_alloc_count":"5", "pv_tags":"", "pe_start":"1048576", "pv_mda_count":"1", "pv_mda_free":"519680"}
              ]
          }
      ]
  }
"#;

    pub(crate) const VGS_JSON: &str = r#"  {
      "report": [
          {
              "vg": [
                  {"vg_name":"vg0", "vg_uuid":"6tMyE0-2pVZ-OSwu-BiAr-Cnn9-Evhn-GY1Dak", "vg_fmt":"lvm2", "vg_attr":"wz--n-", "vg_size":"125829120", "vg_free":"54525952", "vg_sysid":"", "vg_extent_size":"4194304", "vg_extent_count":"30", "vg_free_count":"13", "max_lv":"0", "max_pv":"0", "pv_count":"2", "lv_count":"3", "snap_count":"0", "vg_seqno":"4", "vg_tags":"", "vg_mda_count":"2", "vg_mda_free":"519680"}
              ]
          }
      ]
  }
"#;

    #[test]
    fn parses_lvs() {
        let rows = parse_rows("lvs_full", LVS_JSON, "lv").unwrap();
        let lvs: Vec<LvmLv> = rows.iter().map(Row::to_lv).collect::<Result<_>>().unwrap();
        assert_eq!(lvs.len(), 2);
        assert_eq!(
            lvs[0],
            LvmLv {
                lv_name: "lv1".into(),
                lv_uuid: "nDNKGhmVUfj3NUfdAyNLg35H57vYSMkM".into(),
                lv_attr: "-wi-XX----".into(),
                lv_major: -1,
                lv_minor: -1,
                lv_kernel_major: -1,
                lv_kernel_minor: -1,
                lv_size: 8 << 20,
                seg_count: 1,
                origin: String::new(),
                snap_percent: None,
                copy_percent: None,
                move_pv: String::new(),
                lv_tags: String::new(),
                mirror_log: String::new(),
                modules: String::new(),
            }
        );
        assert_eq!(lvs[1].lv_kernel_major, 254);
        assert_eq!(lvs[1].snap_percent, Some(12.5));
        assert_eq!(lvs[1].copy_percent, Some(100.0));
        assert_eq!(lvs[1].modules, "mirror");
        assert_eq!(lvs[1].lv_tags, "a,b");
        assert_eq!(lvs[0].lv_uuid.len(), 32);
    }

    #[test]
    fn parses_pvs_and_vgs() {
        let pv = parse_rows("pvs_full", PVS_JSON, "pv").unwrap()[0]
            .to_pv()
            .unwrap();
        assert_eq!(pv.pv_name, "/dev/loop0");
        assert_eq!(pv.pv_uuid, "Ic4z3RzTz71xhSnFTnXG5bCdFBFcPjJ3");
        assert_eq!(pv.pv_size, 62914560);
        assert_eq!(pv.dev_size, 64 << 20);
        assert_eq!(pv.pv_pe_alloc_count, 5);
        assert_eq!(pv.pe_start, 1 << 20);
        let vg = parse_rows("vgs_full", VGS_JSON, "vg").unwrap()[0]
            .to_vg()
            .unwrap();
        assert_eq!(vg.vg_name, "vg0");
        assert_eq!(vg.vg_extent_size, 4 << 20);
        assert_eq!(vg.vg_free_count, 13);
        assert_eq!(vg.pv_count, 2);
        assert_eq!(vg.vg_uuid, "6tMyE02pVZOSwuBiArCnn9EvhnGY1Dak");
    }

    #[test]
    fn an_empty_report_has_no_rows() {
        let json = r#"{"report":[{"lv":[]}]}"#;
        assert!(parse_rows("lvs", json, "lv").unwrap().is_empty());
        // A report of another kind contributes nothing.
        assert!(
            parse_rows("lvs", r#"{"report":[{"pv":[{"pv_name":"x"}]}]}"#, "lv")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_output_is_refused_with_the_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "lvs: no JSON report in lvm2's output"),
            ("{", "lvs: lvm2's JSON report does not parse"),
            ("{}", "lvs: lvm2's JSON report has no \"report\" array"),
            (
                r#"{"report":[{"lv":{}}]}"#,
                "lvs: lvm2's \"lv\" report is not an array",
            ),
            (
                r#"{"report":[{"lv":[1]}]}"#,
                "lvs: an entry of lvm2's \"lv\" report is not an object",
            ),
            (
                r#"{"report":[{"lv":[{"a":[]}]}]}"#,
                "lvs: lvm2's field \"a\" is not a string: []",
            ),
        ];
        for (json, msg) in cases {
            let e = parse_rows("lvs", json, "lv").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadOutput);
            assert_eq!(e.to_string(), *msg);
        }
        let row = |json: &str| parse_rows("lvs_full", json, "lv").unwrap().remove(0);
        let e = row(r#"{"report":[{"lv":[{"lv_name":"x"}]}]}"#)
            .to_lv()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "lvs_full: lvm2's report lacks the field \"lv_uuid\""
        );
        let r = row(
            r#"{"report":[{"lv":[{"lv_size":"12x","seg_count":"z","snap_percent":"q","lv_uuid":"abc"}]}]}"#,
        );
        assert_eq!(
            r.bytes("lv_size").unwrap_err().to_string(),
            "lvs_full: lvm2's field \"lv_size\" is not a byte count: \"12x\""
        );
        assert_eq!(
            r.int("seg_count").unwrap_err().to_string(),
            "lvs_full: lvm2's field \"seg_count\" is not an integer: \"z\""
        );
        assert!(r.percent("snap_percent").is_err());
        assert_eq!(
            r.uuid("lv_uuid").unwrap_err().to_string(),
            "lvs_full: lvm2's field \"lv_uuid\" is not a UUID: \"abc\""
        );
    }

    #[test]
    fn empty_numbers_mean_unknown() {
        let r = parse_rows(
            "pvs_full",
            r#"{"report":[{"pv":[{"dev_size":"","pv_pe_count":""}]}]}"#,
            "pv",
        )
        .unwrap()
        .remove(0);
        assert_eq!(r.bytes("dev_size").unwrap(), 0);
        assert_eq!(r.int("pv_pe_count").unwrap(), -1);
    }

    #[test]
    fn required_numbers_refuse_empty_and_negative() {
        let r = parse_rows(
            "lv_segments",
            r#"{"report":[{"seg":[{"seg_start_pe":"","seg_size_pe":"-1","vg_extent_size":"","pe_start":"4096","n":"18446744073709551616"}]}]}"#,
            "seg",
        )
        .unwrap()
        .remove(0);
        assert_eq!(
            r.count("seg_start_pe").unwrap_err().to_string(),
            "lv_segments: lvm2's field \"seg_start_pe\" is not a count: \"\""
        );
        assert_eq!(
            r.count("seg_size_pe").unwrap_err().to_string(),
            "lv_segments: lvm2's field \"seg_size_pe\" is not a count: \"-1\""
        );
        assert_eq!(r.count("n").unwrap_err().kind(), ErrorKind::BadOutput);
        assert_eq!(
            r.bytes_required("vg_extent_size").unwrap_err().to_string(),
            "lv_segments: lvm2's field \"vg_extent_size\" is not a byte count: \"\""
        );
        assert_eq!(r.bytes_required("pe_start").unwrap(), 4096);
    }

    #[test]
    fn structs_serialize_with_libguestfs_field_names() {
        let lv = parse_rows("lvs_full", LVS_JSON, "lv").unwrap()[0]
            .to_lv()
            .unwrap();
        let v = serde_json::to_value(&lv).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want: Vec<&str> = LV_COLUMNS.split(',').collect();
        want.sort_unstable();
        let mut keys = keys.clone();
        keys.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["snap_percent"], serde_json::Value::Null);
        let pv = parse_rows("pvs_full", PVS_JSON, "pv").unwrap()[0]
            .to_pv()
            .unwrap();
        let v = serde_json::to_value(&pv).unwrap();
        assert_eq!(v.as_object().unwrap().len(), PV_COLUMNS.split(',').count());
        let vg = parse_rows("vgs_full", VGS_JSON, "vg").unwrap()[0]
            .to_vg()
            .unwrap();
        let v = serde_json::to_value(&vg).unwrap();
        assert_eq!(v.as_object().unwrap().len(), VG_COLUMNS.split(',').count());
    }
}
