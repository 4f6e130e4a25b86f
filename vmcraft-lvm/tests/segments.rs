//! Tier 3: where LVs lie, with real lvm2 on real loop devices.
//!
//! - Linear, striped, RAID1, thin-pool, thin and multi-segment LVs are parsed for
//!   what they are (areas on PVs, on other LVs, none), and every layout but a
//!   single linear segment is refused by `lv_linear_segment` as needing
//!   device-mapper, with nothing written to the disks.
//! - A linear LV's offset on its PV is `pe_start + first_extent * extent_size`:
//!   data written through a loop device at the reported offset is found by a raw
//!   read of the PV there, where lvm2's own PV-segment report puts the LV.
//!
//! lvm2 creates linear and striped LVs without device-mapper (`--activate n
//! --zero n` with `--driverloaded n`) but refuses RAID, mirror and thin ones
//! ("Can't create raid1 without using device-mapper kernel driver"). Those are
//! made the other way lvm2 has: the test takes lvm2's own metadata backup
//! (`vgcfgbackup`), adds the LVs' text, and has `vgcfgrestore --force` validate
//! and write it; lvm2 then reports them like any other LV.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use common::*;
use sha2::{Digest, Sha256};
use vmcraft_block::{LoopDevice, LoopOptions};
use vmcraft_lvm::{ErrorKind, LvSize, Lvm, SegmentArea};

/// SHA-256 of a whole device.
fn device_hash(device: &Path) -> Vec<u8> {
    let mut f = std::fs::File::open(device).expect("open device");
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("read device");
    h.finalize().to_vec()
}

/// Run an lvm2 subcommand with the session's isolation options.
fn lvm_run(lvm: &Lvm, sub: &str, args: &[&str]) -> String {
    let cmd = lvm.lvm_command(sub).unwrap().args(args);
    lvm.run_lvm("test", "", &cmd)
        .unwrap_or_else(|e| panic!("lvm {sub} {args:?}: {}", vmcraft_block::error_chain(&e)))
        .stdout_str()
        .to_string()
}

/// An LVM UUID (6-4-4-4-4-4-6) made from `name`, for hand-written metadata.
fn uuid_for(name: &str) -> String {
    let hex: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let h = &hex[..32];
    [
        &h[0..6],
        &h[6..10],
        &h[10..14],
        &h[14..18],
        &h[18..22],
        &h[22..26],
        &h[26..32],
    ]
    .join("-")
}

/// The metadata text of an LV of one segment.
fn lv_text(name: &str, visible: bool, extents: u32, body: &str) -> String {
    let status = if visible {
        r#""READ", "WRITE", "VISIBLE""#
    } else {
        r#""READ", "WRITE""#
    };
    format!(
        "\t\t{name} {{\n\t\t\tid = \"{}\"\n\t\t\tstatus = [{status}]\n\t\t\tflags = []\n\
         \t\t\tsegment_count = 1\n\t\t\tsegment1 {{\n\t\t\t\tstart_extent = 0\n\
         \t\t\t\textent_count = {extents}\n{body}\t\t\t}}\n\t\t}}\n",
        uuid_for(name)
    )
}

/// A hidden linear LV of one extent at `pe` of PV `pv` (`pv0`, `pv1`).
fn hidden_linear(name: &str, pv: &str, pe: u32) -> String {
    lv_text(
        name,
        false,
        1,
        &format!(
            "\t\t\t\ttype = \"striped\"\n\t\t\t\tstripe_count = 1\n\t\t\t\tstripes = [ \"{pv}\", {pe} ]\n"
        ),
    )
}

/// Add a RAID1 LV `r1` (images on both PVs), a thin pool `pool` and a thin LV
/// `th` to `vg`'s metadata, on extents 4..=7 of pv0 and 2..=3 of pv1 (free after
/// `lin` and `str`), through vgcfgbackup and vgcfgrestore.
fn add_raid_and_thin(lvm: &Lvm, vg: &str, dir: &Path) {
    let backup = dir.join("vg.backup");
    let backup_s = s(&backup);
    lvm_run(lvm, "vgcfgbackup", &["-f", &backup_s, vg]);
    let text = std::fs::read_to_string(&backup).unwrap();
    let mut add = String::new();
    add += &lv_text(
        "r1",
        true,
        1,
        "\t\t\t\ttype = \"raid1\"\n\t\t\t\tdevice_count = 2\n\t\t\t\tregion_size = 1024\n\
         \t\t\t\traids = [ \"r1_rmeta_0\", \"r1_rimage_0\", \"r1_rmeta_1\", \"r1_rimage_1\" ]\n",
    );
    add += &lv_text(
        "pool",
        true,
        1,
        "\t\t\t\ttype = \"thin-pool\"\n\t\t\t\tmetadata = \"pool_tmeta\"\n\t\t\t\tpool = \"pool_tdata\"\n\
         \t\t\t\ttransaction_id = 1\n\t\t\t\tchunk_size = 128\n\t\t\t\tdiscards = \"passdown\"\n\
         \t\t\t\tzero_new_blocks = 1\n",
    );
    add += &lv_text(
        "th",
        true,
        4,
        "\t\t\t\ttype = \"thin\"\n\t\t\t\tthin_pool = \"pool\"\n\t\t\t\ttransaction_id = 0\n\
         \t\t\t\tdevice_id = 1\n",
    );
    add += &hidden_linear("r1_rmeta_0", "pv0", 4);
    add += &hidden_linear("r1_rimage_0", "pv0", 5);
    add += &hidden_linear("r1_rmeta_1", "pv1", 2);
    add += &hidden_linear("r1_rimage_1", "pv1", 3);
    add += &hidden_linear("pool_tmeta", "pv0", 6);
    add += &hidden_linear("pool_tdata", "pv0", 7);
    // The end of `logical_volumes { ... }`, then the end of the VG.
    let end = text.rfind("\t}\n\n}").expect("the end of logical_volumes");
    let edited = format!("{}{add}{}", &text[..end], &text[end..]);
    std::fs::write(&backup, edited).unwrap();
    lvm_run(lvm, "vgcfgrestore", &["--force", "-f", &backup_s, vg]);
}

#[test]
fn striped_raid_thin_and_multi_segment_lvs_are_parsed_and_refused_as_needing_device_mapper() {
    if !can_run("the LV segment layouts test") {
        return;
    }
    let a = loop_device("lvm-seg-a", 64 * MIB);
    let b = loop_device("lvm-seg-b", 64 * MIB);
    let lvm = session(&[a.path(), b.path()]);
    const VG: &str = "vmcsegs";
    lvm.pvcreate(&[a.path(), b.path()]).unwrap();
    lvm.vgcreate(VG, &[a.path(), b.path()]).unwrap();
    // lin: extents 0-1 of a; str: 2-3 of a and 0-1 of b.
    lvm.lvcreate("lin", VG, LvSize::MiB(8)).unwrap();
    lvm_run(
        &lvm,
        "lvcreate",
        &[
            "--activate",
            "n",
            "--zero",
            "n",
            "--yes",
            "--type",
            "striped",
            "-i",
            "2",
            "-l",
            "4",
            "-n",
            "str",
            VG,
        ],
    );
    add_raid_and_thin(&lvm, VG, a.env().path());
    // two: two runs of extents with gap between them.
    lvm.lvcreate("two", VG, LvSize::Extents(1)).unwrap();
    lvm.lvcreate("gap", VG, LvSize::Extents(1)).unwrap();
    lvm.lvresize(&format!("/dev/{VG}/two"), LvSize::Extents(2))
        .unwrap();
    let mut names: Vec<String> = lvm
        .lvs_full()
        .unwrap()
        .into_iter()
        .map(|l| l.lv_name)
        .collect();
    names.sort();
    assert_eq!(names, ["gap", "lin", "pool", "r1", "str", "th", "two"]);

    let before = (device_hash(a.path()), device_hash(b.path()));
    let pe_start = MIB; // lvm2's default data alignment
    let ext = 4 * MIB;
    let path = |lv: &str| format!("/dev/{VG}/{lv}");
    let a_dev = a.path().to_path_buf();
    let b_dev = b.path().to_path_buf();

    let lin = lvm.lv_segments(&path("lin")).unwrap();
    assert_eq!(lin.len(), 1);
    assert_eq!(lin[0].segtype, "linear");
    assert_eq!(lin[0].stripes, 1);
    assert_eq!(
        lin[0].areas,
        [SegmentArea::Pv {
            pv: a_dev.clone(),
            pv_start: pe_start,
            first_extent: 0,
            extent_count: 2
        }]
    );
    assert_eq!(lin[0].linear_pv(), Some((a.path(), pe_start)));
    assert_eq!(lvm.lv_linear_segment(&path("lin")).unwrap(), lin[0]);

    let str_ = lvm.lv_segments(&path("str")).unwrap();
    assert_eq!(str_.len(), 1);
    assert_eq!(
        (str_[0].segtype.as_str(), str_[0].stripes, str_[0].length),
        ("striped", 2, 4 * ext)
    );
    assert_eq!(
        str_[0].areas,
        [
            SegmentArea::Pv {
                pv: a_dev.clone(),
                pv_start: pe_start + 2 * ext,
                first_extent: 2,
                extent_count: 2
            },
            SegmentArea::Pv {
                pv: b_dev.clone(),
                pv_start: pe_start,
                first_extent: 0,
                extent_count: 2
            }
        ]
    );
    assert_eq!(str_[0].pv, PathBuf::new(), "no single PV for a striped LV");

    let r1 = lvm.lv_segments(&path("r1")).unwrap();
    assert_eq!((r1[0].segtype.as_str(), r1[0].stripes), ("raid1", 2));
    assert_eq!(
        r1[0].areas,
        ["r1_rimage_0", "r1_rimage_1"].map(|lv| SegmentArea::Lv {
            lv: lv.into(),
            first_extent: 0,
            extent_count: 1
        })
    );
    let pool = lvm.lv_segments(&path("pool")).unwrap();
    assert_eq!(pool[0].segtype, "thin-pool");
    assert_eq!(
        pool[0].areas,
        [SegmentArea::Lv {
            lv: "pool_tdata".into(),
            first_extent: 0,
            extent_count: 1
        }]
    );
    let th = lvm.lv_segments(&path("th")).unwrap();
    assert_eq!(
        (th[0].segtype.as_str(), th[0].stripes, th[0].length),
        ("thin", 0, 4 * ext)
    );
    assert!(th[0].areas.is_empty());

    let two = lvm.lv_segments(&path("two")).unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!((two[0].lv_start, two[1].lv_start), (0, ext));
    assert!(two.iter().all(|s| s.segtype == "linear" && s.length == ext));

    for (lv, why) in [
        (
            "str",
            "a striped LV (2 stripes) is unsupported without device-mapper",
        ),
        ("r1", "a raid1 LV is unsupported without device-mapper"),
        (
            "pool",
            "a thin-pool LV is unsupported without device-mapper",
        ),
        ("th", "a thin LV is unsupported without device-mapper"),
        (
            "two",
            "an LV of 2 segments is unsupported without device-mapper (only a single linear segment can be reached)",
        ),
    ] {
        let e = lvm.lv_linear_segment(&path(lv)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{lv}");
        assert_eq!(
            e.to_string(),
            format!("lv_linear_segment: {}: {why}", path(lv))
        );
    }
    let e = lvm.lv_segments(&path("nosuch")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("lv_segments: {}: no such logical volume", path("nosuch"))
    );

    // Asking changed nothing.
    assert_eq!((device_hash(a.path()), device_hash(b.path())), before);

    // With the second PV gone, lvm2 reports `[unknown]` for it: a missing PV, not
    // a parse error.
    let only_a = session(&[a.path()]);
    let str_a = only_a.lv_segments(&path("str")).unwrap();
    assert_eq!(
        str_a[0].areas[1],
        SegmentArea::MissingPv {
            first_extent: 0,
            extent_count: 2
        }
    );
    assert_eq!(
        only_a
            .lv_linear_segment(&path("str"))
            .unwrap_err()
            .to_string(),
        format!(
            "lv_linear_segment: {}: its data lies on a missing physical volume ([unknown])",
            path("str")
        )
    );
    assert_eq!((device_hash(a.path()), device_hash(b.path())), before);
    drop(only_a);
    lvm.vgremove(VG).unwrap();
}

/// lvm2's own answer, from reports other than the one `lv_segments` reads: the
/// PV's `pe_start`, the VG's extent size, and the first extent of `lv` in the
/// PV-segment report (`pvs --segments`), all in plain text.
fn oracle_offset(lvm: &Lvm, pv: &Path, vg: &str, lv: &str) -> u64 {
    let pv_s = s(pv);
    let pe_start: u64 = lvm_run(
        lvm,
        "pvs",
        &[
            "--noheadings",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "pe_start",
            &pv_s,
        ],
    )
    .trim()
    .parse()
    .unwrap();
    let extent: u64 = lvm_run(
        lvm,
        "vgs",
        &[
            "--noheadings",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "vg_extent_size",
            vg,
        ],
    )
    .trim()
    .parse()
    .unwrap();
    let pvsegs = lvm_run(
        lvm,
        "pvs",
        &[
            "--segments",
            "--noheadings",
            "--separator",
            ";",
            "-o",
            "pvseg_start,lv_name",
            &pv_s,
        ],
    );
    let first: u64 = pvsegs
        .lines()
        .map(|l| l.trim().split(';').collect::<Vec<_>>())
        .find(|f| f.len() == 2 && f[1] == lv)
        .unwrap_or_else(|| panic!("{lv} not in pvs --segments:\n{pvsegs}"))[0]
        .parse()
        .unwrap();
    pe_start + first * extent
}

#[test]
fn the_lv_window_offset_is_pe_start_plus_first_extent_times_extent_size() {
    if !can_run("the LV window offset test") {
        return;
    }
    let a = loop_device("lvm-window", 64 * MIB);
    let lvm = session(&[a.path()]);
    const VG: &str = "vmcwin";
    let dev = s(a.path());
    // A data area at 3 MiB (not lvm2's default 1 MiB) and 2 MiB extents, so that
    // neither is taken for granted.
    lvm_run(&lvm, "pvcreate", &["--yes", "--dataalignment", "3m", &dev]);
    lvm_run(&lvm, "vgcreate", &["-s", "2m", VG, &dev]);
    lvm.lvcreate("first", VG, LvSize::MiB(6)).unwrap();
    lvm.lvcreate("second", VG, LvSize::MiB(10)).unwrap();

    let seg = lvm.lv_linear_segment(&format!("/dev/{VG}/second")).unwrap();
    let want = oracle_offset(&lvm, a.path(), VG, "second");
    assert_eq!(want, 3 * MIB + 3 * 2 * MIB, "lvm2's own layout");
    assert_eq!(seg.pv, a.path());
    assert_eq!(seg.pv_start, want);
    assert_eq!(seg.length, 10 * MIB);
    assert_eq!(
        seg.areas,
        [SegmentArea::Pv {
            pv: a.path().to_path_buf(),
            pv_start: want,
            first_extent: 3,
            extent_count: 5
        }]
    );
    let first = lvm.lv_linear_segment(&format!("/dev/{VG}/first")).unwrap();
    assert_eq!(first.pv_start, oracle_offset(&lvm, a.path(), VG, "first"));

    // Write the whole LV through a loop device at the reported offset, as VMCraft
    // does without device-mapper, and read the PV raw where lvm2 puts the LV.
    let pattern: Vec<u8> = (0..seg.length)
        .map(|i| (i / 4096) as u8 ^ (i % 251) as u8 ^ 0x5a)
        .collect();
    let head_before = {
        let mut f = std::fs::File::open(a.path()).unwrap();
        let mut buf = vec![0u8; want as usize];
        f.read_exact(&mut buf).unwrap();
        Sha256::digest(&buf).to_vec()
    };
    let tail_len = (64 * MIB - want - seg.length) as usize;
    let tail_hash = |f: &mut std::fs::File| {
        f.seek(SeekFrom::Start(want + seg.length)).unwrap();
        let mut buf = vec![0u8; tail_len];
        f.read_exact(&mut buf).unwrap();
        Sha256::digest(&buf).to_vec()
    };
    let tail_before = tail_hash(&mut std::fs::File::open(a.path()).unwrap());
    let window = LoopDevice::attach(
        a.path(),
        LoopOptions {
            offset: seg.pv_start,
            size_limit: seg.length,
            ..Default::default()
        },
    )
    .unwrap();
    {
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(window.path())
            .unwrap();
        w.write_all(&pattern).unwrap();
        w.sync_all().unwrap();
    }
    window.detach().unwrap();

    let mut raw = std::fs::File::open(a.path()).unwrap();
    raw.seek(SeekFrom::Start(want)).unwrap();
    let mut got = vec![0u8; seg.length as usize];
    raw.read_exact(&mut got).unwrap();
    assert!(
        got == pattern,
        "the PV holds the LV's data at pe_start + first_extent * extent_size"
    );
    // Nothing before it (label, metadata, `first`) or after it changed.
    let mut head = vec![0u8; want as usize];
    raw.seek(SeekFrom::Start(0)).unwrap();
    raw.read_exact(&mut head).unwrap();
    assert_eq!(Sha256::digest(&head).to_vec(), head_before);
    assert_eq!(tail_hash(&mut raw), tail_before);
    // And lvm2 still reads its metadata.
    assert_eq!(lvm.lvs().unwrap().len(), 2);
    lvm.vgremove(VG).unwrap();
}
