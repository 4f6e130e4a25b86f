//! Unit tests (tier 1) of every libguestfs call on msdos tables, on in-memory
//! disks: primary, extended and logical partitions, numbering, ids, boot flags,
//! and every refusal with its message and an unchanged disk.

mod common;

use common::unit::{refused, refused_with, sector};
use vmcraft_block::{BlockDevice, MemoryDisk};
use vmcraft_part::*;

/// 16 MiB: 32768 sectors, the last is 32767.
const SECTORS: u64 = 32768;

fn msdos_disk() -> MemoryDisk {
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "msdos").unwrap();
    disk
}

fn nums(disk: &MemoryDisk) -> Vec<(i32, u64, u64)> {
    part_list(disk)
        .unwrap()
        .iter()
        .map(|p| (p.part_num, p.part_start / 512, p.part_end / 512))
        .collect()
}

#[test]
fn init() {
    for name in ["msdos", "mbr"] {
        let disk = MemoryDisk::new(SECTORS * 512);
        part_init(&disk, name).unwrap();
        assert_eq!(part_get_parttype(&disk).unwrap(), "msdos");
        assert!(part_list(&disk).unwrap().is_empty());
        let s0 = sector(&disk, 0, 512);
        assert_eq!(&s0[510..], &[0x55, 0xaa]);
        assert!(s0[446..510].iter().all(|&b| b == 0));
    }
    let tiny = MemoryDisk::new(512);
    refused(
        &tiny,
        ErrorKind::Layout,
        "the device is too small for a msdos table: 1 sectors, at least 2 needed",
        |d| part_init(d, "msdos"),
    );
}

#[test]
fn defaults_and_listing() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "extended", 8192, -1).unwrap();
    part_add(&disk, "logical", 10240, 12287).unwrap();
    assert_eq!(part_get_mbr_id(&disk, 1).unwrap(), 0x83);
    assert_eq!(part_get_mbr_id(&disk, 2).unwrap(), 0x0f);
    assert_eq!(part_get_mbr_id(&disk, 5).unwrap(), 0x83);
    assert_eq!(part_get_mbr_part_type(&disk, 1).unwrap(), "primary");
    assert_eq!(part_get_mbr_part_type(&disk, 2).unwrap(), "extended");
    assert_eq!(part_get_mbr_part_type(&disk, 5).unwrap(), "logical");
    assert_eq!(
        nums(&disk),
        [(1, 2048, 4095), (2, 8192, SECTORS - 1), (5, 10240, 12287)]
    );
    let p = &part_list(&disk).unwrap()[1];
    assert_eq!(p.part_size, (SECTORS - 8192) * 512);
    for n in [1, 2, 5] {
        assert!(!part_get_bootable(&disk, n).unwrap());
    }
}

#[test]
fn primary_refusals() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 0..100: sector 0 holds the partition table",
        |d| part_add(d, "p", 0, 100),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 30000..32768: end is past the last sector 32767",
        |d| part_add(d, "p", 30000, 32768),
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
        "sectors 100..2048 overlap partition 1 (2048..4095)",
        |d| part_add(d, "e", 100, 2048),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "startsect -1 cannot be negative",
        |d| part_add(d, "p", -1, 2048),
    );
    part_add(&disk, "p", 4096, 6143).unwrap();
    part_add(&disk, "p", 6144, 8191).unwrap();
    part_add(&disk, "p", 8192, 10239).unwrap();
    refused(
        &disk,
        ErrorKind::Layout,
        "all four primary partition slots are in use (add logical partitions inside an extended partition instead)",
        |d| part_add(d, "p", 20000, 21000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "all four primary partition slots are in use (add logical partitions inside an extended partition instead)",
        |d| part_add(d, "e", 20000, 21000),
    );
    // A freed slot is reused.
    part_del(&disk, 2).unwrap();
    part_add(&disk, "p", 20000, 21000).unwrap();
    assert_eq!(
        nums(&disk),
        [
            (1, 2048, 4095),
            (3, 6144, 8191),
            (4, 8192, 10239),
            (2, 20000, 21000)
        ],
        "disk order"
    );
}

#[test]
fn extended_and_logical_refusals() {
    let disk = msdos_disk();
    refused(
        &disk,
        ErrorKind::Layout,
        "there is no extended partition to hold a logical partition (add one with part_add e first)",
        |d| part_add(d, "l", 4096, 8191),
    );
    part_add(&disk, "e", 4096, 16383).unwrap();
    refused(
        &disk,
        ErrorKind::Layout,
        "partition 1 is already an extended partition, and a table holds only one",
        |d| part_add(d, "e", 20000, 21000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 4096..5000: a logical partition must start after sector 4096, where the extended partition 1 keeps its first extended boot record",
        |d| part_add(d, "l", 4096, 5000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 2048..5000: a logical partition must start after sector 4096, where the extended partition 1 keeps its first extended boot record",
        |d| part_add(d, "l", 2048, 5000),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 15000..16384 run past the end of the extended partition 1 (4096..16383)",
        |d| part_add(d, "l", 15000, 16384),
    );
    part_add(&disk, "l", 6144, 8191).unwrap();
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 8000..9000 overlap partition 5 (6144..8191)",
        |d| part_add(d, "l", 8000, 9000),
    );
    // Right after partition 5 there is no sector for the next EBR.
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 8192..9000: no free sector between sector 8191 and sector 8192 for the extended boot record of the logical partition at sector 8192",
        |d| part_add(d, "l", 8192, 9000),
    );
    // Before partition 5 with no room left for partition 5's own EBR.
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 4100..6143: no free sector between sector 6143 and sector 6144 for the extended boot record of the logical partition at sector 6144",
        |d| part_add(d, "l", 4100, 6143),
    );
    // A primary cannot go inside the extended partition.
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 10000..11000 overlap partition 1 (4096..16383)",
        |d| part_add(d, "p", 10000, 11000),
    );
    part_add(&disk, "l", 8193, 9000).unwrap();
    assert_eq!(
        nums(&disk),
        [(1, 4096, 16383), (5, 6144, 8191), (6, 8193, 9000)]
    );
}

#[test]
fn logical_partitions_are_numbered_in_disk_order() {
    let disk = msdos_disk();
    part_add(&disk, "e", 2048, -1).unwrap();
    part_add(&disk, "l", 20000, 21000).unwrap();
    part_add(&disk, "l", 10000, 11000).unwrap();
    part_add(&disk, "l", 30000, 31000).unwrap();
    assert_eq!(
        nums(&disk),
        [
            (1, 2048, SECTORS - 1),
            (5, 10000, 11000),
            (6, 20000, 21000),
            (7, 30000, 31000)
        ]
    );
    part_set_mbr_id(&disk, 6, 0x82).unwrap();
    // Deleting a logical partition renumbers the ones after it.
    part_del(&disk, 5).unwrap();
    assert_eq!(
        nums(&disk),
        [(1, 2048, SECTORS - 1), (5, 20000, 21000), (6, 30000, 31000)]
    );
    assert_eq!(part_get_mbr_id(&disk, 5).unwrap(), 0x82);
    part_del(&disk, 6).unwrap();
    assert_eq!(nums(&disk), [(1, 2048, SECTORS - 1), (5, 20000, 21000)]);
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 6 does not exist",
        |d| part_del(d, 6),
    );
}

#[test]
fn deleting_the_extended_partition_deletes_its_logicals() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "e", 4096, 20000).unwrap();
    part_add(&disk, "l", 5000, 6000).unwrap();
    part_add(&disk, "l", 7000, 8000).unwrap();
    part_del(&disk, 2).unwrap();
    assert_eq!(nums(&disk), [(1, 2048, 4095)]);
    // A new extended partition in the same place starts empty: the old chain is
    // not resurrected.
    part_add(&disk, "e", 4096, 20000).unwrap();
    assert_eq!(nums(&disk), [(1, 2048, 4095), (2, 4096, 20000)]);
    // Deleting the last logical partition leaves an empty chain.
    part_add(&disk, "l", 5000, 6000).unwrap();
    part_del(&disk, 5).unwrap();
    assert_eq!(nums(&disk), [(1, 2048, 4095), (2, 4096, 20000)]);
    // Moving the extended partition away (delete, re-add elsewhere) does not
    // leave a readable chain behind either.
    part_add(&disk, "l", 5000, 6000).unwrap();
    part_del(&disk, 2).unwrap();
    part_add(&disk, "e", 4100, 20000).unwrap();
    assert_eq!(nums(&disk), [(1, 2048, 4095), (2, 4100, 20000)]);
    part_del(&disk, 2).unwrap();
    part_add(&disk, "e", 4096, 20000).unwrap();
    assert_eq!(nums(&disk), [(1, 2048, 4095), (2, 4096, 20000)]);
}

#[test]
fn resize() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "e", 8192, 20000).unwrap();
    part_add(&disk, "l", 10000, 11000).unwrap();
    part_add(&disk, "l", 12000, 13000).unwrap();
    part_resize(&disk, 1, 8191).unwrap();
    part_resize(&disk, 5, 11998).unwrap();
    part_resize(&disk, 6, 20000).unwrap();
    part_resize(&disk, 2, -1).unwrap();
    part_resize(&disk, 6, 30000).unwrap();
    assert_eq!(
        nums(&disk),
        [
            (1, 2048, 8191),
            (2, 8192, SECTORS - 1),
            (5, 10000, 11998),
            (6, 12000, 30000)
        ]
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 2048..8192 overlap partition 2 (8192..32767)",
        |d| part_resize(d, 1, 8192),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 8192..29999: the extended partition must still hold partition 6 (12000..30000)",
        |d| part_resize(d, 2, 29999),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 10000..11999 overlap the extended boot record of partition 6 at sector 11999",
        |d| part_resize(d, 5, 11999),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "endsect 9999 is before the start of partition 5 (sector 10000)",
        |d| part_resize(d, 5, 9999),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 2048..32768: end is past the last sector 32767",
        |d| part_resize(d, 1, 32768),
    );
    part_resize(&disk, 2, 30000).unwrap();
    refused(
        &disk,
        ErrorKind::Layout,
        "sectors 12000..30001 run past the end of the extended partition 2 (8192..30000)",
        |d| part_resize(d, 6, 30001),
    );
}

#[test]
fn bootable_flag_is_exclusive_as_in_parted() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "p", 4096, 8191).unwrap();
    part_add(&disk, "e", 8192, -1).unwrap();
    part_add(&disk, "l", 10000, 11000).unwrap();
    part_set_bootable(&disk, 1, true).unwrap();
    assert!(part_get_bootable(&disk, 1).unwrap());
    part_set_bootable(&disk, 2, true).unwrap();
    assert!(!part_get_bootable(&disk, 1).unwrap());
    assert!(part_get_bootable(&disk, 2).unwrap());
    assert_eq!(sector(&disk, 0, 512)[446 + 16], 0x80);
    part_set_bootable(&disk, 5, true).unwrap();
    assert!(!part_get_bootable(&disk, 2).unwrap());
    assert!(part_get_bootable(&disk, 5).unwrap());
    part_set_bootable(&disk, 5, false).unwrap();
    assert!(!part_get_bootable(&disk, 5).unwrap());
    refused(
        &disk,
        ErrorKind::Layout,
        "partition 3 is the extended partition, which cannot be bootable",
        |d| part_set_bootable(d, 3, true),
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 4 does not exist",
        |d| part_get_bootable(d, 4),
    );
}

#[test]
fn mbr_ids() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "e", 8192, -1).unwrap();
    part_add(&disk, "l", 10000, 11000).unwrap();
    part_set_mbr_id(&disk, 1, 0x0c).unwrap();
    assert_eq!(part_get_mbr_id(&disk, 1).unwrap(), 0x0c);
    assert_eq!(format!("{:#x}", part_get_mbr_id(&disk, 1).unwrap()), "0xc");
    part_set_mbr_id(&disk, 5, 0x8e).unwrap();
    assert_eq!(part_get_mbr_id(&disk, 5).unwrap(), 0x8e);
    part_set_mbr_id(&disk, 2, 0x05).unwrap();
    assert_eq!(part_get_mbr_id(&disk, 2).unwrap(), 0x05);
    assert_eq!(nums(&disk).len(), 3, "logical partitions survive");
    part_set_mbr_id(&disk, 1, 0xff).unwrap();
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "id byte 256 is not between 0x1 and 0xff",
        |d| part_set_mbr_id(d, 1, 256),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "id byte -1 is not between 0x1 and 0xff",
        |d| part_set_mbr_id(d, 1, -1),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "id 0x0 marks an unused entry (use part_del to delete a partition)",
        |d| part_set_mbr_id(d, 1, 0),
    );
    refused(
        &disk,
        ErrorKind::InvalidArgument,
        "id 0xee marks a GPT protective MBR; use part_init gpt for a GPT",
        |d| part_set_mbr_id(d, 1, 0xee),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "id 0xf would make partition 1 an extended partition",
        |d| part_set_mbr_id(d, 1, 0x0f),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "id 0x85 would make partition 5 an extended partition",
        |d| part_set_mbr_id(d, 5, 0x85),
    );
    refused(
        &disk,
        ErrorKind::Layout,
        "partition 2 is the extended partition, and id 0x83 is not an extended id",
        |d| part_set_mbr_id(d, 2, 0x83),
    );
    refused(
        &disk,
        ErrorKind::NotFound,
        "partition 6 does not exist",
        |d| part_get_mbr_id(d, 6),
    );
}

#[test]
fn gpt_only_calls_are_refused_on_msdos() {
    let disk = msdos_disk();
    part_add(&disk, "p", 2048, 4095).unwrap();
    let msg = "this call needs a GPT, and the partition table is msdos";
    let g = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_get_name(d, 1)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_set_name(d, 1, "x")
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_get_gpt_type(d, 1)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_set_gpt_type(d, 1, g)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_get_gpt_guid(d, 1)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_set_gpt_guid(d, 1, g)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, part_get_disk_guid);
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_set_disk_guid(d, g)
    });
    refused(
        &disk,
        ErrorKind::WrongTableType,
        msg,
        part_set_disk_guid_random,
    );
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_get_gpt_attributes(d, 1)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, |d| {
        part_set_gpt_attributes(d, 1, 1)
    });
    refused(&disk, ErrorKind::WrongTableType, msg, part_expand_gpt);
}

#[test]
fn part_disk_msdos() {
    let disk = MemoryDisk::new(SECTORS * 512);
    part_disk(&disk, "mbr").unwrap();
    assert_eq!(nums(&disk), [(1, 128, SECTORS - 128)]);
    assert_eq!(part_get_mbr_id(&disk, 1).unwrap(), 0x83);
}

#[test]
fn reinit_wipes_the_other_kind() {
    // msdos over GPT: both GPT headers go.
    let disk = MemoryDisk::new(SECTORS * 512);
    part_disk(&disk, "gpt").unwrap();
    part_init(&disk, "msdos").unwrap();
    assert_eq!(sector(&disk, 1, 512), vec![0u8; 512]);
    assert_eq!(sector(&disk, SECTORS - 1, 512), vec![0u8; 512]);
    assert_eq!(part_get_parttype(&disk).unwrap(), "msdos");
    assert!(part_list(&disk).unwrap().is_empty());
    // GPT over msdos: the MBR entries go.
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_init(&disk, "gpt").unwrap();
    let s0 = sector(&disk, 0, 512);
    assert_eq!(s0[446 + 4], 0xee);
    assert!(s0[462..510].iter().all(|&b| b == 0));
    assert!(part_list(&disk).unwrap().is_empty());
}

#[test]
fn reinit_keeps_boot_code_but_not_filesystem_bytes() {
    let disk = msdos_disk();
    disk.write_at(&[0xfa, 0x31, 0xc0], 0).unwrap();
    part_init(&disk, "msdos").unwrap();
    assert_eq!(&sector(&disk, 0, 512)[..3], &[0xfa, 0x31, 0xc0]);
    // A FAT boot sector on the whole device is not a partition table, and its
    // bytes do not survive a new label.
    let fat = MemoryDisk::new(SECTORS * 512);
    let mut bs = vec![0u8; 512];
    bs[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
    bs[3..11].copy_from_slice(b"mkfs.fat");
    bs[0x36..0x3e].copy_from_slice(b"FAT16   ");
    bs[510..].copy_from_slice(&[0x55, 0xaa]);
    fat.write_at(&bs, 0).unwrap();
    refused(
        &fat,
        ErrorKind::Unpartitioned,
        "unrecognised disk label",
        part_get_parttype,
    );
    part_init(&fat, "msdos").unwrap();
    assert!(sector(&fat, 0, 512)[..440].iter().all(|&b| b == 0));
}

#[test]
fn four_k_sectors_and_ebrs() {
    let disk = MemoryDisk::with_sector_size(64 << 20, 4096).unwrap();
    part_init(&disk, "msdos").unwrap();
    part_add(&disk, "e", 256, -1).unwrap();
    part_add(&disk, "l", 512, 1023).unwrap();
    part_add(&disk, "l", 1025, 2047).unwrap();
    let parts = part_list(&disk).unwrap();
    assert_eq!(parts[1].part_start, 512 * 4096);
    assert_eq!(parts[2].part_start, 1025 * 4096);
    // The second EBR is the sector before its partition.
    assert_eq!(&sector(&disk, 1024, 4096)[510..512], &[0x55, 0xaa]);
}

#[test]
fn big_disks_past_the_msdos_limit() {
    use vmcraft_block::ImageFile;
    use vmcraft_block::testing::TestEnv;
    let env = TestEnv::new("part-bigdisk");
    let sectors: u64 = (1 << 32) + 4096;
    let path = env.sparse_image("big.img", sectors * 512);
    let dev = ImageFile::open(&path, false).unwrap();
    part_init(&dev, "msdos").unwrap();
    let sector0 = |d: &ImageFile| {
        let mut b = vec![0u8; 512];
        d.read_at(&mut b, 0).unwrap();
        b
    };
    let before = sector0(&dev);
    let e = part_add(&dev, "p", 2048, -1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Layout, "{e}");
    assert!(
        e.to_string().ends_with(&format!(
            "sectors 2048..{}: an msdos table cannot address sectors past 4294967295",
            sectors - 1
        )),
        "{e}"
    );
    assert_eq!(sector0(&dev), before);
    part_add(&dev, "p", 2048, 4294967295).unwrap();
    let t = PartitionTable::read(&dev).unwrap();
    assert_eq!(t.usable_sectors(), (1, 4294967295));
    // A GPT has no such limit.
    part_init(&dev, "gpt").unwrap();
    part_add(&dev, "p", 2048, -1).unwrap();
    assert_eq!(
        part_list(&dev).unwrap()[0].part_end,
        (sectors - 34 + 1) * 512 - 1
    );
    refused_with(
        &MemoryDisk::new(1 << 20),
        ErrorKind::Unpartitioned,
        "unrecognised",
        part_list,
    );
}
