//! Tool tests (tier 2): tables written by this crate on image files, judged by
//! the real tools. After each scenario `sgdisk -v` (GPT) or `sfdisk --verify`
//! (msdos) finds no problem, and `sfdisk --json` and `parted -m print` show
//! exactly the expected layout.

mod common;

use common::*;
use serde_json::json;
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_part::*;

const GIB: u64 = 1 << 30;

/// Types for the 8-partition GPT and the flags parted shows for them.
const GPT_TYPES: [(&str, &str); 8] = [
    ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "boot, esp"),
    ("21686148-6449-6E6F-744E-656564454649", "bios_grub"),
    ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", ""),
    ("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "swap"),
    ("E6D6D379-F507-44C2-A23C-238F2A3DF928", "lvm"),
    ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "msftdata"),
    ("A19D880F-05FC-4D3B-A006-743F0F84911E", "raid"),
    ("933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "linux-home"),
];

#[test]
fn gpt_with_eight_named_and_typed_partitions() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-oracle-gpt8");
    let (img, dev) = image(&env, "gpt8.img", 10 * GIB);
    part_init(&dev, "gpt").unwrap();
    let mut want = Vec::new();
    for i in 0..8u64 {
        let start = 2048 + i * 409_600;
        let end = start + 409_600 - 1;
        part_add(&dev, "p", start as i64, end as i64).unwrap();
        let n = (i + 1) as i32;
        let name = format!("part {n} ✓");
        part_set_name(&dev, n, &name).unwrap();
        part_set_gpt_type(&dev, n, GPT_TYPES[i as usize].0).unwrap();
        want.push((start, end, name));
    }
    part_set_gpt_attributes(&dev, 3, 1 << 2).unwrap();

    sgdisk_verify(&img);

    let t = sfdisk_json(&img);
    assert_eq!(t["label"], "gpt");
    assert_eq!(t["id"], json!(part_get_disk_guid(&dev).unwrap()));
    assert_eq!(t["firstlba"], 34);
    assert_eq!(t["lastlba"], 10 * GIB / 512 - 34);
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 8);
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let (start, end, name) = &want[i];
        assert_eq!(p["start"], json!(start), "{p}");
        assert_eq!(p["size"], json!(end - start + 1), "{p}");
        assert_eq!(p["type"], GPT_TYPES[i].0, "{p}");
        assert_eq!(p["uuid"], json!(part_get_gpt_guid(&dev, n).unwrap()), "{p}");
        assert_eq!(p["name"], json!(name), "{p}");
        let attrs = if n == 3 {
            json!("LegacyBIOSBootable")
        } else {
            serde_json::Value::Null
        };
        assert_eq!(p["attrs"], attrs, "{p}");
    }

    let (devline, lines) = parted_print(&img, "s");
    assert!(
        devline.ends_with(&format!(":{}s:file:512:512:gpt::;", 10 * GIB / 512)),
        "{devline}"
    );
    let expected: Vec<String> = want
        .iter()
        .enumerate()
        .map(|(i, (s, e, name))| {
            let mut flags = GPT_TYPES[i].1.to_string();
            if i == 2 {
                flags = "legacy_boot".to_string();
            }
            format!("{}:{s}s:{e}s:{}s::{name}:{flags};", i + 1, e - s + 1)
        })
        .collect();
    assert_eq!(lines, expected);

    // part_list agrees with parted in bytes.
    let (_, byte_lines) = parted_print(&img, "b");
    let ours: Vec<String> = part_list(&dev)
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}:{}B:{}B:{}B",
                p.part_num, p.part_start, p.part_end, p.part_size
            )
        })
        .collect();
    let theirs: Vec<String> = byte_lines
        .iter()
        .map(|l| l.splitn(5, ':').take(4).collect::<Vec<_>>().join(":"))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn msdos_with_three_primaries_extended_and_three_logicals() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-oracle-msdos");
    let (img, dev) = image(&env, "msdos.img", GIB);
    part_init(&dev, "msdos").unwrap();
    part_add(&dev, "p", 2048, 206_847).unwrap();
    part_add(&dev, "p", 206_848, 411_647).unwrap();
    part_add(&dev, "p", 411_648, 616_447).unwrap();
    part_add(&dev, "e", 616_448, -1).unwrap();
    part_add(&dev, "l", 618_496, 823_295).unwrap();
    part_add(&dev, "l", 825_344, 1_030_143).unwrap();
    part_add(&dev, "l", 1_032_192, -1).unwrap();
    part_set_mbr_id(&dev, 1, 0x0c).unwrap();
    part_set_mbr_id(&dev, 3, 0x82).unwrap();
    part_set_mbr_id(&dev, 6, 0x8e).unwrap();
    part_set_mbr_id(&dev, 7, 0x07).unwrap();
    part_set_bootable(&dev, 1, true).unwrap();

    sfdisk_verify(&img);
    let last = GIB / 512 - 1;
    let want: Vec<(u32, u64, u64, String)> = vec![
        (1, 2048, 204_800, "c".into()),
        (2, 206_848, 204_800, "83".into()),
        (3, 411_648, 204_800, "82".into()),
        (4, 616_448, last - 616_448 + 1, "f".into()),
        (5, 618_496, 204_800, "83".into()),
        (6, 825_344, 204_800, "8e".into()),
        (7, 1_032_192, last - 1_032_192 + 1, "7".into()),
    ];
    assert_eq!(sfdisk_parts(&img), want);
    let t = sfdisk_json(&img);
    assert_eq!(t["label"], "dos");
    let boot: Vec<bool> = t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bootable"] == json!(true))
        .collect();
    assert_eq!(boot, [true, false, false, false, false, false, false]);

    let (devline, lines) = parted_print(&img, "s");
    assert!(
        devline.ends_with(":2097152s:file:512:512:msdos::;"),
        "{devline}"
    );
    let flags = ["boot, lba", "", "swap", "lba", "", "lvm", ""];
    let expected: Vec<String> = want
        .iter()
        .zip(flags)
        .map(|((n, s, size, _), f)| format!("{n}:{s}s:{}s:{size}s:::{f};", s + size - 1))
        .collect();
    assert_eq!(lines, expected);

    // Delete a logical partition in the middle and the extended partition: the
    // tools agree at every step.
    part_del(&dev, 6).unwrap();
    sfdisk_verify(&img);
    let nums: Vec<u32> = sfdisk_parts(&img).iter().map(|p| p.0).collect();
    assert_eq!(nums, [1, 2, 3, 4, 5, 6]);
    assert_eq!(sfdisk_parts(&img)[5].1, 1_032_192);
    part_del(&dev, 4).unwrap();
    sfdisk_verify(&img);
    let nums: Vec<u32> = sfdisk_parts(&img).iter().map(|p| p.0).collect();
    assert_eq!(nums, [1, 2, 3]);
}

#[test]
fn part_disk_on_both_table_types() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-oracle-disk");
    let (img, dev) = image(&env, "disk.img", GIB);
    let sectors = GIB / 512;
    part_disk(&dev, "gpt").unwrap();
    sgdisk_verify(&img);
    let (_, lines) = parted_print(&img, "s");
    assert_eq!(
        lines,
        [format!(
            "1:128s:{}s:{}s::p1:;",
            sectors - 128,
            sectors - 255
        )]
    );
    part_disk(&dev, "msdos").unwrap();
    sfdisk_verify(&img);
    assert_eq!(
        sfdisk_parts(&img),
        [(1, 128, sectors - 255, "83".to_string())]
    );
    // sgdisk does not see a GPT any more.
    let out = run(&["sgdisk", "-p", img.to_str().unwrap()]);
    let text = format!("{}{}", out.stdout_str(), out.stderr_trimmed());
    assert!(text.contains("Found invalid GPT and valid MBR"), "{text}");
    part_disk(&dev, "gpt").unwrap();
    sgdisk_verify(&img);
    let (dl, _) = parted_print(&img, "s");
    assert!(dl.ends_with(":gpt::;"), "{dl}");
}

#[test]
fn part_resize_grow_and_shrink() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-oracle-resize");
    for kind in ["gpt", "msdos"] {
        let (img, dev) = image(&env, &format!("{kind}.img"), GIB);
        part_init(&dev, kind).unwrap();
        part_add(&dev, "p", 2048, 4095).unwrap();
        part_add(&dev, "p", 1_000_000, 1_100_000).unwrap();
        part_resize(&dev, 1, 999_999).unwrap();
        part_resize(&dev, 2, -1).unwrap();
        part_resize(&dev, 2, 1_500_000).unwrap();
        let (_, lines) = parted_print(&img, "s");
        let size1 = 999_999 - 2048 + 1;
        let size2 = 1_500_000 - 1_000_000 + 1;
        // part_add names a GPT partition "primary", as libguestfs does.
        let name = if kind == "gpt" { "primary" } else { "" };
        assert_eq!(
            lines,
            [
                format!("1:2048s:999999s:{size1}s::{name}:;"),
                format!("2:1000000s:1500000s:{size2}s::{name}:;")
            ],
            "{kind}"
        );
        if kind == "gpt" {
            sgdisk_verify(&img);
        } else {
            sfdisk_verify(&img);
        }
    }
}

#[test]
fn part_expand_gpt_after_qemu_img_resize() {
    if !oracles() || !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("part-oracle-expand");
    let (img, dev) = image(&env, "grow.img", 256 << 20);
    part_init(&dev, "gpt").unwrap();
    part_add(&dev, "p", 2048, -1).unwrap();
    drop(dev);
    run_ok(&[
        "qemu-img",
        "resize",
        "-f",
        "raw",
        img.to_str().unwrap(),
        "512M",
    ]);
    let out = run(&["sgdisk", "-v", img.to_str().unwrap()]);
    assert!(
        out.stdout_str().contains("secondary header"),
        "sgdisk should see the misplaced backup: {}",
        out.stdout_str()
    );
    let dev = vmcraft_block::ImageFile::open(&img, false).unwrap();
    part_expand_gpt(&dev).unwrap();
    sgdisk_verify(&img);
    part_resize(&dev, 1, -1).unwrap();
    sgdisk_verify(&img);
    let t = sfdisk_json(&img);
    assert_eq!(t["lastlba"], (512 << 20) / 512 - 34);
    assert_eq!(
        t["partitions"][0]["size"],
        json!((512 << 20) / 512 - 34 - 2048 + 1)
    );
}

#[test]
fn bootable_and_ids_through_the_tools() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-oracle-boot");
    let (img, dev) = image(&env, "boot.img", 256 << 20);
    part_init(&dev, "gpt").unwrap();
    part_add(&dev, "p", 2048, 4095).unwrap();
    part_set_bootable(&dev, 1, true).unwrap();
    let (_, lines) = parted_print(&img, "s");
    assert_eq!(lines, ["1:2048s:4095s:2048s::primary:boot, esp;"]);
    part_set_bootable(&dev, 1, false).unwrap();
    let (_, lines) = parted_print(&img, "s");
    assert_eq!(lines, ["1:2048s:4095s:2048s::primary:;"]);
    sgdisk_verify(&img);
}
