//! Unit tests (tier 1) of every libguestfs call on GPT tables, on in-memory disks:
//! the semantics, the defaults, and every refusal with its message and an
//! unchanged disk.

mod common;

use common::unit::{refused, refused_with, sector};
use vmcraft_block::{BlockDevice, MemoryDisk};
use vmcraft_part::*;

/// 16 MiB: 32768 sectors; usable 34..=32734.
const SECTORS: u64 = 32768;
const LAST_USABLE: u64 = SECTORS - 34;

fn gpt_disk() -> MemoryDisk {
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "gpt").unwrap();
    disk
}

#[test]
fn init_writes_both_headers_and_a_protective_mbr() {
    for name in ["gpt", "efi"] {
        let disk = MemoryDisk::new(SECTORS * 512);
        part_init(&disk, name).unwrap();
        assert_eq!(part_get_parttype(&disk).unwrap(), "gpt");
        assert!(part_list(&disk).unwrap().is_empty());
        let s0 = sector(&disk, 0, 512);
        assert_eq!(&s0[510..], &[0x55, 0xaa]);
        assert_eq!(s0[446 + 4], 0xee);
        assert_eq!(
            u32::from_le_bytes(s0[446 + 12..446 + 16].try_into().unwrap()),
            (SECTORS - 1) as u32
        );
        assert_eq!(&sector(&disk, 1, 512)[..8], b"EFI PART");
        assert_eq!(&sector(&disk, SECTORS - 1, 512)[..8], b"EFI PART");
        let table = PartitionTable::read(&disk).unwrap();
        assert_eq!(table.usable_sectors(), (34, LAST_USABLE));
        assert!(table.warnings().is_empty(), "{:?}", table.warnings());
    }
}

#[test]
fn init_refusals() {
    let disk = MemoryDisk::new(SECTORS * 512);
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "unknown partition table type \"sun\": accepted are \"gpt\" (or \"efi\") and \"msdos\" (or \"mbr\")",
        |d| part_init(d, "sun"),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "unknown partition table type \"GPT\": accepted are \"gpt\" (or \"efi\") and \"msdos\" (or \"mbr\")",
        |d| part_disk(d, "GPT"),
    );
    let tiny = MemoryDisk::new(60 * 512);
    refused(
        &tiny,
        ErrorKind::Layout,
        "the device is too small for a gpt table: 60 sectors, at least 68 needed",
        |d| part_init(d, "gpt"),
    );
    let ro = MemoryDisk::new(SECTORS * 512).read_only();
    let e = part_init(&ro, "gpt").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    assert!(e.block_error().is_some());
}

#[test]
fn calls_on_an_unpartitioned_disk_are_refused() {
    let disk = MemoryDisk::new(SECTORS * 512);
    let msg = "unrecognised disk label";
    refused(&disk, ErrorKind::Unpartitioned, msg, part_list);
    refused(&disk, ErrorKind::Unpartitioned, msg, part_get_parttype);
    refused(&disk, ErrorKind::Unpartitioned, msg, |d| {
        part_add(d, "p", 2048, 4095)
    });
    refused(&disk, ErrorKind::Unpartitioned, msg, |d| part_del(d, 1));
    refused(&disk, ErrorKind::Unpartitioned, msg, part_expand_gpt);
    assert_eq!(
        part_get_parttype(&disk).unwrap_err().to_string(),
        "part_get_parttype: memory: unrecognised disk label"
    );
}

#[test]
fn add_defaults_linux_type_name_primary_unique_guids() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "primary", 4096, 8191).unwrap();
    assert_eq!(
        part_get_gpt_type(&disk, 1).unwrap(),
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    );
    assert_eq!(part_get_name(&disk, 1).unwrap(), "primary");
    let g1 = part_get_gpt_guid(&disk, 1).unwrap();
    let g2 = part_get_gpt_guid(&disk, 2).unwrap();
    assert_ne!(g1, g2);
    assert_eq!(g1, g1.to_uppercase());
    assert_eq!(part_get_gpt_attributes(&disk, 1).unwrap(), 0);
    assert!(!part_get_bootable(&disk, 1).unwrap());
    assert_eq!(part_get_mbr_part_type(&disk, 1).unwrap(), "primary");
    assert_eq!(
        part_list(&disk).unwrap(),
        vec![
            Partition {
                part_num: 1,
                part_start: 2048 * 512,
                part_end: 4096 * 512 - 1,
                part_size: 2048 * 512
            },
            Partition {
                part_num: 2,
                part_start: 4096 * 512,
                part_end: 8192 * 512 - 1,
                part_size: 4096 * 512
            },
        ]
    );
}

#[test]
fn add_sector_semantics() {
    let disk = gpt_disk();
    // -1 is the last sector, clamped to the last usable one.
    part_add(&disk, "p", 20000, -1).unwrap();
    let p = &part_list(&disk).unwrap()[0];
    assert_eq!(p.part_end, (LAST_USABLE + 1) * 512 - 1);
    part_del(&disk, 1).unwrap();
    // -100 from the end of the disk is inside the usable area: taken as is.
    part_add(&disk, "p", 20000, -100).unwrap();
    assert_eq!(
        part_list(&disk).unwrap()[0].part_end,
        (SECTORS - 100 + 1) * 512 - 1
    );
    // A one-sector partition at the first usable sector.
    part_add(&disk, "p", 34, 34).unwrap();
    let first = &part_list(&disk).unwrap()[0];
    assert_eq!((first.part_num, first.part_size), (2, 512), "disk order");
}

#[test]
fn add_refusals() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "startsect -5 cannot be negative",
        |d| part_add(d, "p", -5, 100),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "endsect 5000 is before startsect 6000",
        |d| part_add(d, "p", 6000, 5000),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "endsect -40000 is before the start of the disk (32768 sectors)",
        |d| part_add(d, "p", 6000, -40000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 33..100: start is before the first usable sector 34",
        |d| part_add(d, "p", 33, 100),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 30000..32735: end is past the last usable sector 32734",
        |d| part_add(d, "p", 30000, 32735),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 0..10: start is before the first usable sector 34",
        |d| part_add(d, "p", 0, 10),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 4000..5000 overlap partition 1 (2048..4095)",
        |d| part_add(d, "p", 4000, 5000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 100..40000: end is past the last usable sector 32734",
        |d| part_add(d, "p", 100, 40000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 1000..3000 overlap partition 1 (2048..4095)",
        |d| part_add(d, "p", 1000, 3000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "logical partitions exist only on msdos tables, and this one is gpt",
        |d| part_add(d, "l", 5000, 6000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "extended partitions exist only on msdos tables, and this one is gpt",
        |d| part_add(d, "e", 5000, 6000),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "unknown partition type \"x\": accepted are \"primary\" (or \"p\"), \"logical\" (or \"l\") and \"extended\" (or \"e\")",
        |d| part_add(d, "x", 5000, 6000),
    );
}

#[test]
fn the_entry_array_fills_up() {
    let disk = gpt_disk();
    let mut t = PartitionTable::read(&disk).unwrap();
    for i in 0..128 {
        assert_eq!(
            t.add(PartKind::Primary, 100 + i * 10, 100 + i * 10 + 9)
                .unwrap(),
            i as u32 + 1
        );
    }
    t.write(&disk).unwrap();
    refused(
        &disk,
        ErrorKind::Layout,
        "no free partition entry: this table holds at most 128 partitions",
        |d| part_add(d, "p", 5000, 6000),
    );
    // The lowest free entry is reused.
    part_del(&disk, 7).unwrap();
    part_add(&disk, "p", 5000, 6000).unwrap();
    let last = part_list(&disk).unwrap().pop().unwrap();
    assert_eq!((last.part_num, last.part_start), (7, 5000 * 512));
}

#[test]
fn delete_and_numbers() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "p", 4096, 8191).unwrap();
    part_add(&disk, "p", 8192, 9000).unwrap();
    part_del(&disk, 2).unwrap();
    let nums: Vec<i32> = part_list(&disk)
        .unwrap()
        .iter()
        .map(|p| p.part_num)
        .collect();
    assert_eq!(nums, [1, 3], "GPT numbers do not move");
    part_add(&disk, "p", 5000, 6000).unwrap();
    assert_eq!(part_list(&disk).unwrap()[1].part_num, 2);
    for (n, msg) in [
        (0, "partition number 0: partition number must be >= 1"),
        (-3, "partition number -3: partition number must be >= 1"),
    ] {
        refused(&disk, ErrorKind::InvalidArgument, msg, |d| part_del(d, n));
    }
    for n in [4, 128, 129, i32::MAX] {
        refused(
            &disk,
            ErrorKind::NotFound,
            &format!("partition {n} does not exist"),
            |d| part_del(d, n),
        );
    }
}

#[test]
fn part_disk_gpt() {
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "msdos").unwrap();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_disk(&disk, "gpt").unwrap();
    assert_eq!(part_get_parttype(&disk).unwrap(), "gpt");
    assert_eq!(
        part_list(&disk).unwrap(),
        vec![Partition {
            part_num: 1,
            part_start: 128 * 512,
            part_end: (SECTORS - 128 + 1) * 512 - 1,
            part_size: (SECTORS - 128 + 1 - 128) * 512,
        }]
    );
    assert_eq!(part_get_name(&disk, 1).unwrap(), "p1");
    assert_eq!(
        part_get_gpt_type(&disk, 1).unwrap(),
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    );
}

#[test]
fn names() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_set_name(&disk, 1, "Linux root (x86-64)").unwrap();
    assert_eq!(part_get_name(&disk, 1).unwrap(), "Linux root (x86-64)");
    let max = "abcdefghijklmnopqrstuvwxyz0123456789";
    part_set_name(&disk, 1, max).unwrap();
    assert_eq!(part_get_name(&disk, 1).unwrap(), max);
    part_set_name(&disk, 1, "Système ☃").unwrap();
    assert_eq!(part_get_name(&disk, 1).unwrap(), "Système ☃");
    part_set_name(&disk, 1, "").unwrap();
    assert_eq!(part_get_name(&disk, 1).unwrap(), "");
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "name \"abcdefghijklmnopqrstuvwxyz0123456789X\" is 37 UTF-16 code units long; a GPT name holds 36",
        |d| part_set_name(d, 1, &format!("{max}X")),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "name \"a\\0b\" contains a NUL character",
        |d| part_set_name(d, 1, "a\0b"),
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 2 does not exist",
        |d| part_set_name(d, 2, "x"),
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 2 does not exist",
        |d| part_get_name(d, 2),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "partition number 0: partition number must be >= 1",
        |d| part_get_name(d, 0),
    );
}

#[test]
fn types_guids_and_attributes() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "p", 4096, 8191).unwrap();
    part_set_gpt_type(&disk, 1, "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f").unwrap();
    assert_eq!(
        part_get_gpt_type(&disk, 1).unwrap(),
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "\"swap\" is not a valid GUID (expected XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)",
        |d| part_set_gpt_type(d, 1, "swap"),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "the all-zero GUID marks an unused entry and cannot be a partition type",
        |d| part_set_gpt_type(d, 1, "00000000-0000-0000-0000-000000000000"),
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 3 does not exist",
        |d| part_set_gpt_type(d, 3, "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"),
    );

    part_set_gpt_guid(&disk, 1, "{11111111-2222-3333-4444-555555555555}").unwrap();
    assert_eq!(
        part_get_gpt_guid(&disk, 1).unwrap(),
        "11111111-2222-3333-4444-555555555555"
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "GUID 11111111-2222-3333-4444-555555555555 is already the GUID of partition 1",
        |d| part_set_gpt_guid(d, 2, "11111111-2222-3333-4444-555555555555"),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "the all-zero GUID cannot be a partition GUID",
        |d| part_set_gpt_guid(d, 2, "00000000-0000-0000-0000-000000000000"),
    );
    // Setting a partition's own GUID again is fine.
    part_set_gpt_guid(&disk, 1, "11111111-2222-3333-4444-555555555555").unwrap();

    let disk_guid = part_get_disk_guid(&disk).unwrap();
    assert_eq!(disk_guid.len(), 36);
    part_set_disk_guid(&disk, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee").unwrap();
    assert_eq!(
        part_get_disk_guid(&disk).unwrap(),
        "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
    );
    part_set_disk_guid_random(&disk).unwrap();
    assert_ne!(
        part_get_disk_guid(&disk).unwrap(),
        "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
    );
    refused_with(
        &disk,
        ErrorKind::InvalidArgument,
        "is not a valid GUID",
        |d| part_set_disk_guid(d, "aaaaaaaa-bbbb-cccc-dddd"),
    );

    let attrs: i64 = 0b101 | (1 << 48) | i64::MIN;
    part_set_gpt_attributes(&disk, 2, attrs).unwrap();
    assert_eq!(part_get_gpt_attributes(&disk, 2).unwrap(), attrs);
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "attributes 0x8: bits 3..47 are reserved and cannot be set",
        |d| part_set_gpt_attributes(d, 2, 1 << 3),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "attributes 0x800000000000: bits 3..47 are reserved and cannot be set",
        |d| part_set_gpt_attributes(d, 2, 1 << 47),
    );
}

#[test]
fn bootable_is_the_esp_type_as_in_parted() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "p", 4096, 8191).unwrap();
    part_set_bootable(&disk, 1, true).unwrap();
    assert!(part_get_bootable(&disk, 1).unwrap());
    assert_eq!(
        part_get_gpt_type(&disk, 1).unwrap(),
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    );
    // Other partitions are not touched on GPT.
    part_set_bootable(&disk, 2, true).unwrap();
    assert!(part_get_bootable(&disk, 1).unwrap());
    part_set_bootable(&disk, 1, false).unwrap();
    assert_eq!(
        part_get_gpt_type(&disk, 1).unwrap(),
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    );
    // Clearing it on a non-ESP keeps its type.
    part_set_gpt_type(&disk, 1, "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F").unwrap();
    part_set_bootable(&disk, 1, false).unwrap();
    assert_eq!(
        part_get_gpt_type(&disk, 1).unwrap(),
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 3 does not exist",
        |d| part_set_bootable(d, 3, true),
    );
}

#[test]
fn mbr_only_calls_are_refused_on_gpt() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    let msg = "this call needs an msdos table, and the partition table is gpt";
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_get_mbr_id(d, 1)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_set_mbr_id(d, 1, 0x83)
    });
}

#[test]
fn resize() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "p", 8192, 9000).unwrap();
    part_resize(&disk, 1, 8191).unwrap();
    assert_eq!(part_list(&disk).unwrap()[0].part_end, 8192 * 512 - 1);
    part_resize(&disk, 1, 2048).unwrap();
    assert_eq!(part_list(&disk).unwrap()[0].part_size, 512);
    part_resize(&disk, 2, -1).unwrap();
    assert_eq!(
        part_list(&disk).unwrap()[1].part_end,
        (LAST_USABLE + 1) * 512 - 1
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 2048..8192 overlap partition 2 (8192..32734)",
        |d| part_resize(d, 1, 8192),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "endsect 2047 is before the start of partition 1 (sector 2048)",
        |d| part_resize(d, 1, 2047),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 8192..32735: end is past the last usable sector 32734",
        |d| part_resize(d, 2, 32735),
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 3 does not exist",
        |d| part_resize(d, 3, 9000),
    );
}

#[test]
fn expand_gpt_after_growth() {
    let small = MemoryDisk::new(SECTORS * 512);
    part_init(&small, "gpt").unwrap();
    part_add(&small, "p", 2048, -1).unwrap();
    let mut bytes = small.snapshot();
    bytes.resize(2 * SECTORS as usize * 512, 0);
    let grown = MemoryDisk::from_bytes(bytes);
    // Before: still readable, with a warning, and the old limit holds.
    let t = PartitionTable::read(&grown).unwrap();
    assert!(
        t.warnings()
            .iter()
            .any(|w| w.contains("part_expand_gpt moves it")),
        "{:?}",
        t.warnings()
    );
    assert_eq!(t.usable_sectors().1, LAST_USABLE);
    part_expand_gpt(&grown).unwrap();
    let t = PartitionTable::read(&grown).unwrap();
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    assert_eq!(t.usable_sectors().1, 2 * SECTORS - 34);
    // The old backup header is gone, the new one is at the end.
    assert_eq!(sector(&grown, SECTORS - 1, 512), vec![0u8; 512]);
    assert_eq!(&sector(&grown, 2 * SECTORS - 1, 512)[..8], b"EFI PART");
    // The protective MBR covers the whole disk.
    let s0 = sector(&grown, 0, 512);
    assert_eq!(
        u32::from_le_bytes(s0[446 + 12..446 + 16].try_into().unwrap()),
        (2 * SECTORS - 1) as u32
    );
    part_resize(&grown, 1, -1).unwrap();
    assert_eq!(
        part_list(&grown).unwrap()[0].part_end,
        (2 * SECTORS - 34 + 1) * 512 - 1
    );
    // Idempotent.
    part_expand_gpt(&grown).unwrap();
}

#[test]
fn four_k_sectors() {
    let disk = MemoryDisk::with_sector_size(64 << 20, 4096).unwrap();
    part_init(&disk, "gpt").unwrap();
    let t = PartitionTable::read(&disk).unwrap();
    let sectors = (64 << 20) / 4096;
    assert_eq!(t.usable_sectors(), (6, sectors - 6));
    assert_eq!(&sector(&disk, 1, 4096)[..8], b"EFI PART");
    part_add(&disk, "p", 256, 511).unwrap();
    assert_eq!(
        part_list(&disk).unwrap(),
        vec![Partition {
            part_num: 1,
            part_start: 1 << 20,
            part_end: (2 << 20) - 1,
            part_size: 1 << 20,
        }]
    );
    part_disk(&disk, "gpt").unwrap();
    assert_eq!(part_list(&disk).unwrap()[0].part_start, 128 * 4096);
}

#[test]
fn protective_mbr_boot_flag_and_boot_code_survive_writes() {
    let disk = gpt_disk();
    let mut s0 = sector(&disk, 0, 512);
    s0[..4].copy_from_slice(&[0xfa, 0xeb, 0x7c, 0x90]);
    s0[446] = 0x80;
    disk.write_at(&s0, 0).unwrap();
    part_add(&disk, "p", 2048, 4095).unwrap();
    let after = sector(&disk, 0, 512);
    assert_eq!(&after[..4], &[0xfa, 0xeb, 0x7c, 0x90]);
    assert_eq!(after[446], 0x80);
}

#[test]
fn hybrid_mbr_is_left_alone() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    let mut s0 = sector(&disk, 0, 512);
    // A second MBR entry mirroring partition 1: a hybrid MBR.
    s0[462..478].copy_from_slice(&[0, 0, 0, 0, 0x0c, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0]);
    disk.write_at(&s0, 0).unwrap();
    part_add(&disk, "p", 4096, 8191).unwrap();
    assert_eq!(sector(&disk, 0, 512), s0);
    assert_eq!(part_get_parttype(&disk).unwrap(), "gpt");
}

#[test]
fn typed_layer_batches_edits_and_refusals_change_nothing() {
    let disk = MemoryDisk::new(SECTORS * 512);
    let mut t = PartitionTable::new(&disk, PartType::Gpt).unwrap();
    assert_eq!(disk.snapshot(), vec![0u8; SECTORS as usize * 512]);
    let a = t.add(PartKind::Primary, 2048, 4095).unwrap();
    let b = t.add(PartKind::Primary, 4096, -1).unwrap();
    t.set_name(a, "efi").unwrap();
    t.set_bootable(a, true).unwrap();
    t.set_gpt_type(b, gpt_type::LINUX_LVM).unwrap();
    let snapshot = t.partitions();
    assert!(t.add(PartKind::Primary, 3000, 5000).is_err());
    assert!(t.resize(a, 5000).is_err());
    assert!(t.set_name(b, &"x".repeat(40)).is_err());
    assert!(t.delete(9).is_err());
    assert_eq!(t.partitions(), snapshot, "refused edits changed the table");
    t.write(&disk).unwrap();
    let back = PartitionTable::read(&disk).unwrap();
    assert_eq!(back.partitions(), snapshot);
    assert_eq!(back.parttype(), PartType::Gpt);
    assert_eq!(back.sector_size(), 512);
    assert_eq!(back.disk_sectors(), SECTORS);
    let info = back.partition(1).unwrap();
    assert!(info.bootable);
    assert_eq!(info.gpt_type, Some(gpt_type::EFI_SYSTEM));
    assert_eq!(info.name.as_deref(), Some("efi"));
    assert_eq!(back.partition(2).unwrap().end, LAST_USABLE);
    assert_eq!(back.partition(3).unwrap_err().kind(), ErrorKind::NotFound);
    // A table made for another disk is not written to this one.
    let other = MemoryDisk::new(2 * SECTORS * 512);
    let e = t.clone().write(&other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(other.snapshot(), vec![0u8; 2 * SECTORS as usize * 512]);
}

#[test]
fn part_info_serialises() {
    let disk = gpt_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    let info = PartitionTable::read(&disk).unwrap().partitions();
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json[0]["kind"], "primary");
    assert_eq!(json[0]["gpt_type"], "0fc63daf-8483-4772-8e79-3d69d8477de4");
    assert_eq!(json[0]["start"], 2048);
}
