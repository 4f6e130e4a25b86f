//! Where a logical volume's data lies: its segments, each with the areas (stripes,
//! RAID images, a pool's data LV) lvm2 reports for it, in bytes. With this a
//! caller can reach a single-segment linear LV's data on a host without
//! device-mapper (a loop device with an offset over the PV, or plain reads),
//! which is how VMCraft reads and mounts LVs in metadata-only mode; every other
//! layout (striped, RAID, mirror, thin, several segments, a missing PV) is
//! parsed for what it is and refused by [`Lvm::lv_linear_segment`] as needing
//! device-mapper.
//!
//! The areas come from lvm2's `seg_pe_ranges` column: space-separated
//! `NAME:FIRST-LAST` extent ranges, where NAME is a PV's device path, another
//! (hidden) LV's name, or `[unknown]` for a PV lvm2 cannot find; a thin LV has
//! none. Their number is checked against the `stripes` column, every extent
//! range against the segment's size, and all offsets are computed with checked
//! arithmetic: a report that does not add up is [`ErrorKind::BadOutput`].

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::isolation::SessionDevice;
use crate::listing::full_args;
use crate::names::{LvTarget, validate_reported_lv_name};
use crate::report::Row;
use crate::session::Lvm;

/// One segment of a logical volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvSegment {
    /// Byte offset of the segment within the LV.
    pub lv_start: u64,
    /// For a segment that is one run of extents on one PV (a `linear` segment,
    /// or a striped one of a single stripe): that PV, as the session knows the
    /// device. Empty for every other segment; its [`areas`](Self::areas) say
    /// where its data lies.
    pub pv: PathBuf,
    /// Byte offset of the segment on [`pv`](Self::pv) (0 when `pv` is empty).
    pub pv_start: u64,
    /// Length in bytes (of the LV's address space the segment covers).
    pub length: u64,
    /// lvm2's segment type (`linear`, `striped`, `raid1`, `thin`, ...).
    pub segtype: String,
    /// lvm2's `stripes` count: the number of areas (stripes, RAID or mirror
    /// images) the segment is spread over; 0 for a thin LV.
    pub stripes: u64,
    /// Each area, in lvm2's order.
    pub areas: Vec<SegmentArea>,
}

/// One area of a segment: where a stripe or an image of it lies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SegmentArea {
    /// A run of extents on a physical volume of the session.
    Pv {
        /// The PV, as the session knows the device.
        pv: PathBuf,
        /// Byte offset on the PV: `pe_start + first_extent * extent_size`.
        pv_start: u64,
        /// The run's first extent on the PV.
        first_extent: u64,
        /// Number of extents.
        extent_count: u64,
    },
    /// A run of extents of another LV of the group (a RAID or mirror image, a
    /// thin pool's data LV), by its name without brackets.
    Lv {
        /// The LV's name (`r1_rimage_0`, `pool_tdata`).
        lv: String,
        /// The run's first extent in that LV.
        first_extent: u64,
        /// Number of extents.
        extent_count: u64,
    },
    /// A run of extents on a PV lvm2 cannot find (`[unknown]`).
    MissingPv {
        /// The run's first extent on the missing PV.
        first_extent: u64,
        /// Number of extents.
        extent_count: u64,
    },
}

impl LvSegment {
    /// The PV and byte offset of a segment that is exactly one run of extents
    /// on one PV (`linear`, one area): the only kind a loop device can stand in
    /// for.
    ///
    /// ```
    /// use std::path::{Path, PathBuf};
    /// use vmcraft_lvm::{LvSegment, SegmentArea};
    /// let seg = LvSegment {
    ///     lv_start: 0, pv: PathBuf::from("/dev/loop3"), pv_start: 1 << 20,
    ///     length: 8 << 20, segtype: "linear".into(), stripes: 1,
    ///     areas: vec![SegmentArea::Pv { pv: PathBuf::from("/dev/loop3"),
    ///         pv_start: 1 << 20, first_extent: 0, extent_count: 2 }],
    /// };
    /// assert_eq!(seg.linear_pv(), Some((Path::new("/dev/loop3"), 1 << 20)));
    /// ```
    pub fn linear_pv(&self) -> Option<(&Path, u64)> {
        match self.areas.as_slice() {
            [SegmentArea::Pv { pv, pv_start, .. }] if self.segtype == "linear" => {
                Some((pv.as_path(), *pv_start))
            }
            _ => None,
        }
    }
}

/// The report columns a segment is read from.
const SEG_COLUMNS: &str = "seg_start_pe,seg_size_pe,seg_pe_ranges,stripes,vg_extent_size,segtype";

/// lvm2's name for a PV it cannot find.
const UNKNOWN_PV: &str = "[unknown]";

/// Most areas a segment may list: lvm2 caps stripes and RAID images far below
/// this (128 and 64); a report listing more is not lvm2's.
const MAX_AREAS: usize = 1024;

/// One `NAME:FIRST-LAST` item of `seg_pe_ranges`, before NAME is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range<'a> {
    name: &'a str,
    first: u64,
    count: u64,
}

/// Parse one item of `seg_pe_ranges`: `/dev/x:10-19` -> (`/dev/x`, 10, 10). The
/// name may itself hold colons (`/dev/disk/by-id/a:b`), the range never does.
fn parse_range<'a>(call: &'static str, subject: &str, s: &'a str) -> Result<Range<'a>> {
    let bad = || {
        Error::new(
            ErrorKind::BadOutput,
            call,
            subject,
            format!("unexpected seg_pe_ranges item {s:?}"),
        )
    };
    let (name, range) = s.rsplit_once(':').ok_or_else(bad)?;
    let (first, last) = range.split_once('-').ok_or_else(bad)?;
    let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty() || !digits(first) || !digits(last) {
        return Err(bad());
    }
    let first: u64 = first.parse().map_err(|_| bad())?;
    let last: u64 = last.parse().map_err(|_| bad())?;
    let count = last
        .checked_sub(first)
        .and_then(|c| c.checked_add(1))
        .ok_or_else(bad)?;
    Ok(Range { name, first, count })
}

/// A report value that does not add up, about `subject`.
fn bad_output(call: &'static str, subject: &str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::BadOutput, call, subject, message)
}

/// The segments of one LV from lvm2's `lvs --segments` rows and its PVs'
/// `(pv_name, pe_start)`, PVs named as the session knows them (`set`).
fn segments_from_rows(
    call: &'static str,
    lvpath: &str,
    rows: &[Row],
    pvs: &[(String, u64)],
    set: &[SessionDevice],
) -> Result<Vec<LvSegment>> {
    let overflow = |what: &str| bad_output(call, lvpath, format!("{what} overflows 64 bits"));
    let mut segs = Vec::with_capacity(rows.len());
    for r in rows {
        let extent = r.bytes_required("vg_extent_size")?;
        if extent == 0 {
            return Err(bad_output(
                call,
                lvpath,
                "lvm2 reported an extent size of 0",
            ));
        }
        let start_pe = r.count("seg_start_pe")?;
        let size_pe = r.count("seg_size_pe")?;
        let stripes = r.count("stripes")?;
        let segtype = r.string("segtype")?;
        let ranges_text = r.string("seg_pe_ranges")?;
        let mut areas = Vec::new();
        for item in ranges_text.split_whitespace() {
            if areas.len() == MAX_AREAS {
                return Err(bad_output(
                    call,
                    lvpath,
                    format!("a segment lists more than {MAX_AREAS} areas"),
                ));
            }
            let range = parse_range(call, lvpath, item)?;
            areas.push(resolve_area(call, lvpath, &range, extent, pvs, set)?);
        }
        if u64::try_from(areas.len()).ok() != Some(stripes) {
            return Err(bad_output(
                call,
                lvpath,
                format!(
                    "a {segtype} segment has {stripes} stripes but seg_pe_ranges lists {} areas ({ranges_text:?})",
                    areas.len()
                ),
            ));
        }
        // A linear or striped segment's stripes share its extents equally; other
        // types (RAID images, a pool's data) are as long as the segment itself.
        let per_area = match segtype.as_str() {
            "linear" | "striped" if stripes > 0 => {
                if size_pe % stripes != 0 {
                    return Err(bad_output(
                        call,
                        lvpath,
                        format!("{size_pe} extents do not divide into {stripes} stripes"),
                    ));
                }
                Some(size_pe / stripes)
            }
            _ => None,
        };
        for a in &areas {
            let count = match a {
                SegmentArea::Pv { extent_count, .. }
                | SegmentArea::Lv { extent_count, .. }
                | SegmentArea::MissingPv { extent_count, .. } => *extent_count,
            };
            if per_area.is_some_and(|want| want != count) {
                return Err(bad_output(
                    call,
                    lvpath,
                    format!(
                        "a {segtype} segment of {size_pe} extents in {stripes} stripes has an area of {count} extents"
                    ),
                ));
            }
        }
        let lv_start = start_pe
            .checked_mul(extent)
            .ok_or_else(|| overflow("the segment's start"))?;
        let length = size_pe
            .checked_mul(extent)
            .ok_or_else(|| overflow("the segment's length"))?;
        lv_start
            .checked_add(length)
            .ok_or_else(|| overflow("the segment's end"))?;
        let (pv, pv_start) = match areas.as_slice() {
            [SegmentArea::Pv { pv, pv_start, .. }] if stripes == 1 => (pv.clone(), *pv_start),
            _ => (PathBuf::new(), 0),
        };
        segs.push(LvSegment {
            lv_start,
            pv,
            pv_start,
            length,
            segtype,
            stripes,
            areas,
        });
    }
    segs.sort_by_key(|s| s.lv_start);
    Ok(segs)
}

/// What one `seg_pe_ranges` item names: a PV of the session (with its byte
/// offset), a missing PV, or another LV.
fn resolve_area(
    call: &'static str,
    lvpath: &str,
    range: &Range<'_>,
    extent: u64,
    pvs: &[(String, u64)],
    set: &[SessionDevice],
) -> Result<SegmentArea> {
    let Range { name, first, count } = *range;
    if name == UNKNOWN_PV {
        return Ok(SegmentArea::MissingPv {
            first_extent: first,
            extent_count: count,
        });
    }
    if name.starts_with('/') {
        let pe_start = pvs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                bad_output(
                    call,
                    lvpath,
                    format!("a segment lies on {name}, which lvm2 does not list as a PV"),
                )
            })?;
        // Where the run starts on the PV, and that its end is a byte offset too.
        let pv_start = first
            .checked_mul(extent)
            .and_then(|o| o.checked_add(pe_start))
            .filter(|start| {
                count
                    .checked_mul(extent)
                    .and_then(|len| start.checked_add(len))
                    .is_some()
            })
            .ok_or_else(|| {
                bad_output(
                    call,
                    lvpath,
                    format!("the offset of extent {first} on {name} overflows 64 bits"),
                )
            })?;
        let pv = set
            .iter()
            .find(|d| d.matches(Path::new(name)))
            .map_or_else(|| PathBuf::from(name), |d| d.given.clone());
        return Ok(SegmentArea::Pv {
            pv,
            pv_start,
            first_extent: first,
            extent_count: count,
        });
    }
    validate_reported_lv_name(call, name).map_err(|_| {
        bad_output(
            call,
            lvpath,
            format!("a segment lies on {name:?}, neither a device path nor an LV name"),
        )
    })?;
    Ok(SegmentArea::Lv {
        lv: name.to_string(),
        first_extent: first,
        extent_count: count,
    })
}

/// Why `segs` cannot be reached through a loop device over a PV, or `None`.
fn why_not_linear(segs: &[LvSegment]) -> Option<String> {
    let seg = match segs {
        [seg] => seg,
        many => {
            return Some(format!(
                "an LV of {} segments is unsupported without device-mapper (only a single linear segment can be reached)",
                many.len()
            ));
        }
    };
    if seg.linear_pv().is_some() {
        return None;
    }
    if seg
        .areas
        .iter()
        .any(|a| matches!(a, SegmentArea::MissingPv { .. }))
    {
        return Some("its data lies on a missing physical volume ([unknown])".to_string());
    }
    Some(match (seg.segtype.as_str(), seg.areas.as_slice()) {
        ("linear", [SegmentArea::Lv { lv, .. }]) => {
            format!("a linear LV on another LV ({lv}) is unsupported without device-mapper")
        }
        ("striped", _) => format!(
            "a striped LV ({} stripes) is unsupported without device-mapper",
            seg.stripes
        ),
        (t, _) => format!("a {t} LV is unsupported without device-mapper"),
    })
}

impl Lvm {
    /// The segments of the LV at `lvpath` (`/dev/VG/LV`), in LV order, each with
    /// its areas: PV extent runs (offsets in bytes), other LVs (RAID images, a
    /// pool's data), or a missing PV. A thin LV's one segment has no areas.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// for s in lvm.lv_segments("/dev/data/home")? {
    ///     println!("{} {} bytes at {} of the LV: {:?}", s.segtype, s.length, s.lv_start, s.areas);
    /// }
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lv_segments(&self, lvpath: &str) -> Result<Vec<LvSegment>> {
        self.segments("lv_segments", lvpath)
    }

    /// The one segment of the LV at `lvpath` when the LV is a single linear run
    /// of extents on one PV of the session, which a loop device over the PV at
    /// [`pv_start`](LvSegment::pv_start) can stand in for; otherwise an
    /// [`ErrorKind::Unsupported`] error saying why (striped, RAID, mirror, thin,
    /// several segments, a missing PV).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use vmcraft_lvm::Lvm;
    /// # let lvm = Lvm::new(Arc::new(vmcraft_block::SystemRunner::new()), ["/dev/loop3"])?;
    /// let seg = lvm.lv_linear_segment("/dev/data/home")?;
    /// println!("{} bytes at offset {} of {}", seg.length, seg.pv_start, seg.pv.display());
    /// // lv_linear_segment: /dev/data/stripes: a striped LV (2 stripes) is unsupported without device-mapper
    /// assert!(lvm.lv_linear_segment("/dev/data/stripes").is_err());
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lv_linear_segment(&self, lvpath: &str) -> Result<LvSegment> {
        const CALL: &str = "lv_linear_segment";
        let segs = self.segments(CALL, lvpath)?;
        match why_not_linear(&segs) {
            None => Ok(segs.into_iter().next().expect("one segment")),
            Some(why) => Err(self.refuse(Error::new(ErrorKind::Unsupported, CALL, lvpath, why))),
        }
    }

    fn segments(&self, call: &'static str, lvpath: &str) -> Result<Vec<LvSegment>> {
        let (vg, lv) = self.check(LvTarget::parse_lv(call, lvpath))?;
        let set = self.device_set();
        if set.is_empty() {
            return Err(Error::new(
                ErrorKind::NoDevices,
                call,
                lvpath,
                "the session has no devices",
            ));
        }
        let select = format!("vg_name={vg} && lv_name={lv}");
        let rows = self.report(
            call,
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
                call,
                lvpath,
                "no such logical volume",
            ));
        }
        let pvs = self
            .report(call, &set, "pvs", "pv", &full_args("pv_name,pe_start"))?
            .iter()
            .map(|p| Ok((p.string("pv_name")?, p.bytes_required("pe_start")?)))
            .collect::<Result<Vec<_>>>()?;
        segments_from_rows(call, lvpath, &rows, &pvs, &set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse_rows;

    fn rows(items: &[&str]) -> Vec<Row> {
        let json = format!(r#"{{"report":[{{"seg":[{}]}}]}}"#, items.join(","));
        parse_rows("lv_segments", &json, "seg").unwrap()
    }

    fn seg(start: &str, size: &str, ranges: &str, stripes: &str, segtype: &str) -> String {
        format!(
            r#"{{"seg_start_pe":"{start}","seg_size_pe":"{size}","seg_pe_ranges":"{ranges}","stripes":"{stripes}","vg_extent_size":"4194304","segtype":"{segtype}"}}"#
        )
    }

    fn pvs() -> Vec<(String, u64)> {
        vec![
            ("/dev/vmcraft-seg-a".into(), 1 << 20),
            ("/dev/vmcraft-seg-b".into(), 3 << 20),
        ]
    }

    fn parse(items: &[&str]) -> Result<Vec<LvSegment>> {
        segments_from_rows("lv_segments", "/dev/vg/lv", &rows(items), &pvs(), &[])
    }

    const EXT: u64 = 4 << 20;

    #[test]
    fn ranges() {
        let r = parse_range("t", "s", "/dev/loop0:8-9").unwrap();
        assert_eq!((r.name, r.first, r.count), ("/dev/loop0", 8, 2));
        let r = parse_range("t", "s", "/dev/disk/by-id/a:b:0-4").unwrap();
        assert_eq!((r.name, r.first, r.count), ("/dev/disk/by-id/a:b", 0, 5));
        for bad in [
            "garbage",
            ":0-1",
            "/dev/x:1",
            "/dev/x:-1-2",
            "/dev/x:+1-2",
            "/dev/x:2-1",
            "/dev/x:0-18446744073709551615",
            "/dev/x:0-99999999999999999999",
            "/dev/x: 1-2",
        ] {
            let e = parse_range("lv_segments", "/dev/vg/lv", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadOutput, "{bad}");
            assert_eq!(
                e.to_string(),
                format!("lv_segments: /dev/vg/lv: unexpected seg_pe_ranges item {bad:?}")
            );
        }
    }

    #[test]
    fn linear_segments_map_to_pv_offsets() {
        let segs = parse(&[
            &seg("2", "1", "/dev/vmcraft-seg-b:0-0", "1", "linear"),
            &seg("0", "2", "/dev/vmcraft-seg-a:5-6", "1", "linear"),
        ])
        .unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].lv_start, 0);
        assert_eq!(segs[0].pv, PathBuf::from("/dev/vmcraft-seg-a"));
        assert_eq!(segs[0].pv_start, (1 << 20) + 5 * EXT);
        assert_eq!(segs[0].length, 2 * EXT);
        assert_eq!(
            segs[0].linear_pv(),
            Some((Path::new("/dev/vmcraft-seg-a"), (1 << 20) + 5 * EXT))
        );
        assert_eq!(segs[1].lv_start, 2 * EXT);
        assert_eq!(segs[1].pv_start, 3 << 20);
        assert_eq!(
            why_not_linear(&segs).unwrap(),
            "an LV of 2 segments is unsupported without device-mapper (only a single linear segment can be reached)"
        );
        assert_eq!(why_not_linear(&segs[..1]), None);
    }

    #[test]
    fn striped_raid_thin_and_missing_pvs_are_parsed_not_errors() {
        // As lvm2 2.03.16 reports them (see tests/segments.rs for the real ones).
        let s = parse(&[&seg(
            "0",
            "4",
            "/dev/vmcraft-seg-a:2-3 /dev/vmcraft-seg-b:0-1",
            "2",
            "striped",
        )])
        .unwrap();
        assert_eq!(s[0].pv, PathBuf::new());
        assert_eq!(s[0].stripes, 2);
        assert_eq!(
            s[0].areas[1],
            SegmentArea::Pv {
                pv: "/dev/vmcraft-seg-b".into(),
                pv_start: 3 << 20,
                first_extent: 0,
                extent_count: 2
            }
        );
        assert_eq!(
            why_not_linear(&s).unwrap(),
            "a striped LV (2 stripes) is unsupported without device-mapper"
        );
        let r = parse(&[&seg(
            "0",
            "1",
            "r1_rimage_0:0-0 r1_rimage_1:0-0",
            "2",
            "raid1",
        )])
        .unwrap();
        assert_eq!(
            r[0].areas[0],
            SegmentArea::Lv {
                lv: "r1_rimage_0".into(),
                first_extent: 0,
                extent_count: 1
            }
        );
        assert_eq!(
            why_not_linear(&r).unwrap(),
            "a raid1 LV is unsupported without device-mapper"
        );
        let t = parse(&[&seg("0", "4", "", "0", "thin")]).unwrap();
        assert!(t[0].areas.is_empty());
        assert_eq!(t[0].length, 4 * EXT);
        assert_eq!(
            why_not_linear(&t).unwrap(),
            "a thin LV is unsupported without device-mapper"
        );
        let m = parse(&[&seg("0", "2", "[unknown]:0-1", "1", "linear")]).unwrap();
        assert_eq!(
            m[0].areas[0],
            SegmentArea::MissingPv {
                first_extent: 0,
                extent_count: 2
            }
        );
        assert_eq!(m[0].linear_pv(), None);
        assert_eq!(
            why_not_linear(&m).unwrap(),
            "its data lies on a missing physical volume ([unknown])"
        );
        let l = parse(&[&seg("0", "1", "pool_tdata:0-0", "1", "linear")]).unwrap();
        assert_eq!(
            why_not_linear(&l).unwrap(),
            "a linear LV on another LV (pool_tdata) is unsupported without device-mapper"
        );
    }

    #[test]
    fn reports_that_do_not_add_up_are_bad_output() {
        let cases: &[(&str, &str)] = &[
            (
                &seg("", "2", "/dev/vmcraft-seg-a:0-1", "1", "linear"),
                "lv_segments: lvm2's field \"seg_start_pe\" is not a count: \"\"",
            ),
            (
                &seg("0", "-1", "/dev/vmcraft-seg-a:0-1", "1", "linear"),
                "lv_segments: lvm2's field \"seg_size_pe\" is not a count: \"-1\"",
            ),
            (
                &seg("0", "2", "/dev/vmcraft-seg-a:0-1", "", "linear"),
                "lv_segments: lvm2's field \"stripes\" is not a count: \"\"",
            ),
            (
                &seg("0", "2", "/dev/vmcraft-other:0-1", "1", "linear"),
                "lv_segments: /dev/vg/lv: a segment lies on /dev/vmcraft-other, which lvm2 does not list as a PV",
            ),
            (
                &seg("0", "2", "/dev/vmcraft-seg-a:0-1", "2", "striped"),
                "lv_segments: /dev/vg/lv: a striped segment has 2 stripes but seg_pe_ranges lists 1 areas (\"/dev/vmcraft-seg-a:0-1\")",
            ),
            (
                &seg("0", "3", "/dev/vmcraft-seg-a:0-1", "1", "linear"),
                "lv_segments: /dev/vg/lv: a linear segment of 3 extents in 1 stripes has an area of 2 extents",
            ),
            (
                &seg(
                    "0",
                    "3",
                    "/dev/vmcraft-seg-a:0-1 /dev/vmcraft-seg-b:0-1",
                    "2",
                    "striped",
                ),
                "lv_segments: /dev/vg/lv: 3 extents do not divide into 2 stripes",
            ),
            (
                &seg("0", "1", "a/b:0-0", "1", "raid1"),
                "lv_segments: /dev/vg/lv: a segment lies on \"a/b\", neither a device path nor an LV name",
            ),
            (
                &seg(
                    "4398046511104",
                    "1",
                    "/dev/vmcraft-seg-a:0-0",
                    "1",
                    "linear",
                ),
                "lv_segments: /dev/vg/lv: the segment's start overflows 64 bits",
            ),
            (
                &seg(
                    "0",
                    "1",
                    "/dev/vmcraft-seg-a:4398046511104-4398046511104",
                    "1",
                    "linear",
                ),
                "lv_segments: /dev/vg/lv: the offset of extent 4398046511104 on /dev/vmcraft-seg-a overflows 64 bits",
            ),
            (
                &seg(
                    "4398046511103",
                    "1",
                    "/dev/vmcraft-seg-a:0-0",
                    "1",
                    "linear",
                ),
                "lv_segments: /dev/vg/lv: the segment's end overflows 64 bits",
            ),
            (
                &seg(
                    "0",
                    "1",
                    "/dev/vmcraft-seg-a:4398046511103-4398046511103",
                    "1",
                    "linear",
                ),
                "lv_segments: /dev/vg/lv: the offset of extent 4398046511103 on /dev/vmcraft-seg-a overflows 64 bits",
            ),
        ];
        for (row, msg) in cases {
            let e = parse(&[row]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadOutput, "{row}");
            assert_eq!(e.to_string(), *msg, "{row}");
        }
        let zero = r#"{"seg_start_pe":"0","seg_size_pe":"1","seg_pe_ranges":"","stripes":"0","vg_extent_size":"0","segtype":"thin"}"#;
        assert_eq!(
            parse(&[zero]).unwrap_err().to_string(),
            "lv_segments: /dev/vg/lv: lvm2 reported an extent size of 0"
        );
        let many = vec!["/dev/vmcraft-seg-a:0-0"; MAX_AREAS + 1].join(" ");
        assert_eq!(
            parse(&[&seg("0", "1", &many, "1025", "striped")])
                .unwrap_err()
                .to_string(),
            format!("lv_segments: /dev/vg/lv: a segment lists more than {MAX_AREAS} areas")
        );
    }
}
