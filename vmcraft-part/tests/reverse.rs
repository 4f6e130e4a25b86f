//! Tool tests (tier 2), the other direction: tables written by sgdisk, sfdisk and
//! parted are read back correctly by `part_list` and the `part_get_*` calls, an
//! unchanged table written back is byte-identical, and an edit on top of a
//! tool-made table keeps the tools happy.

mod common;

use common::*;
use vmcraft_block::testing::TestEnv;
use vmcraft_block::{BlockDevice, ImageFile};
use vmcraft_part::*;

fn rows(dev: &ImageFile) -> Vec<(i32, u64, u64)> {
    part_list(dev)
        .unwrap()
        .iter()
        .map(|p| (p.part_num, p.part_start / 512, p.part_end / 512))
        .collect()
}

fn bytes(dev: &ImageFile, lba: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n * 512];
    dev.read_at(&mut b, lba * 512).unwrap();
    b
}

#[test]
fn sgdisk_gpt_is_read_back() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-reverse-sgdisk");
    let (img, dev) = image(&env, "sg.img", 1 << 30);
    let p = img.to_str().unwrap();
    run_ok(&[
        "sgdisk",
        "-o",
        "-U",
        "01234567-89AB-CDEF-0123-456789ABCDEF",
        "-n",
        "1:2048:+100M",
        "-t",
        "1:EF00",
        "-c",
        "1:EFI System",
        "-A",
        "1:set:0",
        "-n",
        "3:0:+200M",
        "-t",
        "3:8E00",
        "-c",
        "3:lvm",
        "-u",
        "3:AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
        "-A",
        "3:set:60",
        "-n",
        "2:0:0",
        "-c",
        "2:root",
        p,
    ]);
    assert_eq!(part_get_parttype(&dev).unwrap(), "gpt");
    assert_eq!(
        part_get_disk_guid(&dev).unwrap(),
        "01234567-89AB-CDEF-0123-456789ABCDEF"
    );
    let last = (1u64 << 30) / 512 - 34;
    assert_eq!(
        rows(&dev),
        [
            (1, 2048, 206_847),
            (3, 206_848, 616_447),
            (2, 616_448, last)
        ],
        "disk order, as parted lists them"
    );
    assert_eq!(part_get_name(&dev, 1).unwrap(), "EFI System");
    assert_eq!(part_get_name(&dev, 2).unwrap(), "root");
    assert_eq!(
        part_get_gpt_type(&dev, 1).unwrap(),
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    );
    assert_eq!(
        part_get_gpt_type(&dev, 3).unwrap(),
        "E6D6D379-F507-44C2-A23C-238F2A3DF928"
    );
    assert_eq!(
        part_get_gpt_guid(&dev, 3).unwrap(),
        "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
    );
    assert_eq!(part_get_gpt_attributes(&dev, 1).unwrap(), 1);
    assert_eq!(part_get_gpt_attributes(&dev, 3).unwrap(), 1 << 60);
    assert!(part_get_bootable(&dev, 1).unwrap());
    assert!(!part_get_bootable(&dev, 2).unwrap());
    // The sfdisk view of the unique GUIDs agrees.
    let t = sfdisk_json(&img);
    for (i, p) in t["partitions"].as_array().unwrap().iter().enumerate() {
        let node = p["node"].as_str().unwrap();
        let n: i32 = node[node.len() - 1..].parse().unwrap();
        assert_eq!(
            p["uuid"].as_str().unwrap(),
            part_get_gpt_guid(&dev, n).unwrap(),
            "{i}"
        );
    }

    // Written back unchanged: byte-identical (headers, entries, protective MBR).
    let end = (1u64 << 30) / 512;
    let tables = |d: &ImageFile| [bytes(d, 0, 34), bytes(d, end - 33, 33)];
    let before = tables(&dev);
    PartitionTable::read(&dev).unwrap().write(&dev).unwrap();
    assert!(
        tables(&dev) == before,
        "an unchanged table written back differs"
    );

    // An edit on top: sgdisk still happy, everything else kept.
    part_del(&dev, 2).unwrap();
    part_add(&dev, "p", 616_448, 700_000).unwrap();
    sgdisk_verify(&img);
    assert_eq!(part_get_name(&dev, 3).unwrap(), "lvm");
    assert_eq!(part_get_name(&dev, 2).unwrap(), "primary");
}

#[test]
fn sfdisk_gpt_and_msdos_are_read_back() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-reverse-sfdisk");
    let (img, dev) = image(&env, "sf-gpt.img", 1 << 30);
    let script = "label: gpt\n\
        label-id: 11111111-2222-3333-4444-555555555555\n\
        start=2048, size=204800, type=U, name=\"esp\"\n\
        start=206848, size=409600, type=S, uuid=12345678-1234-1234-1234-123456789ABC\n\
        start=616448, type=L, name=\"root\", attrs=\"RequiredPartition,GUID:63\"\n";
    run_with_stdin(&["sfdisk", img.to_str().unwrap()], script);
    // sfdisk aligns the end of the last partition; its own view is the oracle.
    let theirs: Vec<(i32, u64, u64)> = sfdisk_parts(&img)
        .iter()
        .map(|(n, s, size, _)| (*n as i32, *s, s + size - 1))
        .collect();
    assert_eq!(theirs[..2], [(1, 2048, 206_847), (2, 206_848, 616_447)]);
    assert_eq!(rows(&dev), theirs);
    assert_eq!(
        part_get_disk_guid(&dev).unwrap(),
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(part_get_name(&dev, 1).unwrap(), "esp");
    assert_eq!(
        part_get_gpt_type(&dev, 2).unwrap(),
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
    );
    assert_eq!(
        part_get_gpt_guid(&dev, 2).unwrap(),
        "12345678-1234-1234-1234-123456789ABC"
    );
    assert_eq!(part_get_gpt_attributes(&dev, 3).unwrap(), 1 | i64::MIN);

    let (img, dev) = image(&env, "sf-dos.img", 1 << 30);
    let script = "label: dos\n\
        start=2048, size=204800, type=c, bootable\n\
        start=206848, size=204800, type=83\n\
        start=411648, type=5\n\
        start=413696, size=102400, type=82\n\
        start=518144, size=102400, type=8e\n\
        start=622592, type=83\n";
    run_with_stdin(&["sfdisk", img.to_str().unwrap()], script);
    let want = sfdisk_parts(&img);
    assert_eq!(rows_typed(&dev), want);
    assert!(part_get_bootable(&dev, 1).unwrap());
    assert!(!part_get_bootable(&dev, 2).unwrap());
    assert_eq!(part_get_mbr_part_type(&dev, 3).unwrap(), "extended");
    assert_eq!(part_get_mbr_part_type(&dev, 6).unwrap(), "logical");

    // Unchanged write-back keeps sector 0 byte for byte (mbrman's header).
    let s0 = bytes(&dev, 0, 1);
    PartitionTable::read(&dev).unwrap().write(&dev).unwrap();
    assert!(bytes(&dev, 0, 1) == s0, "sector 0 changed");
    sfdisk_verify(&img);
    assert_eq!(sfdisk_parts(&img), want);

    // Edits in the middle of sfdisk's chain (its EBRs sit 2048 sectors before
    // each logical partition, and they stay there).
    part_del(&dev, 5).unwrap();
    part_add(&dev, "l", 415_744, 500_000).unwrap();
    sfdisk_verify(&img);
    let got = sfdisk_parts(&img);
    assert_eq!(got[3].1, 415_744);
    assert_eq!(got[4].1, 518_144);
    assert_eq!(got[5].1, 622_592);
    assert_eq!(got, rows_typed(&dev));
}

#[test]
fn parted_tables_are_read_back() {
    if !oracles() {
        return;
    }
    let env = TestEnv::new("part-reverse-parted");
    let (img, dev) = image(&env, "pd-gpt.img", 1 << 30);
    let p = img.to_str().unwrap();
    run_ok(&[
        "parted", "-s", "--", p, "mklabel", "gpt", "mkpart", "esp", "2048s", "206847s", "set", "1",
        "boot", "on", "mkpart", "data", "206848s", "2097118s",
    ]);
    let last = (1u64 << 30) / 512 - 34;
    assert_eq!(rows(&dev), [(1, 2048, 206_847), (2, 206_848, last)]);
    assert!(part_get_bootable(&dev, 1).unwrap());
    assert_eq!(part_get_name(&dev, 1).unwrap(), "esp");
    assert_eq!(part_get_name(&dev, 2).unwrap(), "data");

    let (img, dev) = image(&env, "pd-dos.img", 1 << 30);
    let p = img.to_str().unwrap();
    run_ok(&[
        "parted", "-s", "--", p, "mklabel", "msdos", "mkpart", "primary", "2048s", "206847s",
        "mkpart", "extended", "206848s", "-1s", "mkpart", "logical", "208896s", "409599s",
        "mkpart", "logical", "411648s", "-1s", "set", "5", "boot", "on",
    ]);
    assert_eq!(
        rows(&dev),
        [
            (1, 2048, 206_847),
            (2, 206_848, (1 << 21) - 1),
            (5, 208_896, 409_599),
            (6, 411_648, (1 << 21) - 1)
        ]
    );
    assert!(part_get_bootable(&dev, 5).unwrap());
    assert_eq!(part_get_mbr_id(&dev, 2).unwrap(), 0x0f);
    // Our edits are what parted expects to read.
    part_resize(&dev, 5, 409_000).unwrap();
    part_add(&dev, "p", 1, 2047).unwrap();
    let (_, lines) = parted_print(&img, "s");
    // parted lists partitions in disk order.
    assert_eq!(
        lines,
        [
            "3:1s:2047s:2047s:::;",
            "1:2048s:206847s:204800s:::;",
            "2:206848s:2097151s:1890304s:::lba;",
            "5:208896s:409000s:200105s:::boot;",
            "6:411648s:2097151s:1685504s:::;"
        ]
    );
}

/// (number, start, size, id in hex) as `sfdisk_parts` reports them.
fn rows_typed(dev: &ImageFile) -> Vec<(u32, u64, u64, String)> {
    part_list(dev)
        .unwrap()
        .iter()
        .map(|p| {
            let n = p.part_num;
            (
                n as u32,
                p.part_start / 512,
                p.part_size / 512,
                format!("{:x}", part_get_mbr_id(dev, n).unwrap()),
            )
        })
        .collect()
}

fn run_with_stdin(argv: &[&str], stdin: &str) {
    use vmcraft_block::{Command, CommandRunner, SystemRunner};
    SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]).stdin(stdin))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));
}
