//! Unit tests (tier 1) of damaged tables: a corrupt primary GPT is read from a
//! sound backup (and says so), both corrupt is an error naming both, hostile
//! header fields and MBR/EBR layouts are refused with a clear error, and no read
//! ever writes.

mod common;

use common::forge::*;
use common::unit::{refused, refused_with, sector};
use vmcraft_block::{BlockDevice, MemoryDisk};
use vmcraft_part::*;

const SECTORS: u64 = 32768;
const LAST: u64 = SECTORS - 1;

fn gpt_with_two() -> MemoryDisk {
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "gpt").unwrap();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "p", 4096, 8191).unwrap();
    part_set_name(&disk, 2, "data").unwrap();
    disk
}

fn layout(disk: &MemoryDisk) -> Vec<Partition> {
    part_list(disk).unwrap()
}

#[test]
fn corrupt_primary_header_is_read_from_the_backup() {
    let disk = gpt_with_two();
    let want = layout(&disk);
    let good_primary = sector(&disk, 1, 512);
    disk.write_at(&[0xff; 4], 512 + 16).unwrap(); // header CRC
    let before = disk.snapshot();
    let t = PartitionTable::read(&disk).unwrap();
    assert_eq!(t.warnings().len(), 1, "{:?}", t.warnings());
    let w = &t.warnings()[0];
    assert!(
        w.starts_with("primary GPT header at LBA 1: header CRC32 is 0xffffffff, should be 0x")
            && w.contains("read from the backup header at LBA 32767"),
        "{w}"
    );
    assert_eq!(layout(&disk), want);
    assert_eq!(part_get_name(&disk, 2).unwrap(), "data");
    assert!(disk.snapshot() == before, "a read wrote to the disk");
    // The next write restores the primary.
    part_set_name(&disk, 1, "boot").unwrap();
    let t = PartitionTable::read(&disk).unwrap();
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    let restored = sector(&disk, 1, 512);
    // Same header apart from the CRCs (a name changed in the entries).
    assert_eq!(restored[..16], good_primary[..16]);
    assert_eq!(restored[20..88], good_primary[20..88]);
}

#[test]
fn corrupt_primary_entries_are_read_from_the_backup() {
    let disk = gpt_with_two();
    let want = layout(&disk);
    // Flip a byte of partition 1's entry in the primary array: entry CRC mismatch.
    disk.write_at(&[0x42], 2 * 512 + 40).unwrap();
    let t = PartitionTable::read(&disk).unwrap();
    assert!(
        t.warnings()[0].contains("partition entry array CRC32 is"),
        "{:?}",
        t.warnings()
    );
    assert_eq!(layout(&disk), want);
}

#[test]
fn missing_primary_is_read_from_the_backup() {
    let disk = gpt_with_two();
    let want = layout(&disk);
    disk.write_at(&[0u8; 512], 512).unwrap();
    let t = PartitionTable::read(&disk).unwrap();
    assert!(
        t.warnings()[0].starts_with("primary GPT header at LBA 1: no GPT signature"),
        "{:?}",
        t.warnings()
    );
    assert_eq!(layout(&disk), want);
    part_add(&disk, "p", 10000, 12000).unwrap();
    assert!(PartitionTable::read(&disk).unwrap().warnings().is_empty());
    assert_eq!(layout(&disk).len(), 3);
}

#[test]
fn corrupt_backup_is_reported_and_repaired_by_the_next_write() {
    let disk = gpt_with_two();
    disk.write_at(&[0u8; 4], LAST * 512 + 16).unwrap();
    let t = PartitionTable::read(&disk).unwrap();
    assert!(
        t.warnings()[0].starts_with("backup GPT header at LBA 32767: header CRC32 is 0x00000000"),
        "{:?}",
        t.warnings()
    );
    part_set_name(&disk, 1, "x").unwrap();
    assert!(PartitionTable::read(&disk).unwrap().warnings().is_empty());
}

#[test]
fn both_copies_corrupt_is_an_error() {
    let disk = gpt_with_two();
    disk.write_at(&[0xff; 4], 512 + 16).unwrap();
    disk.write_at(&[0xff; 1], 2 * 512 + 40).unwrap();
    disk.write_at(&[0u8; 8], LAST * 512).unwrap();
    refused_with(
        &disk,
        ErrorKind::Corrupt,
        "corrupt GPT: primary header at LBA 1: header CRC32 is 0xffffffff, should be 0x",
        part_list,
    );
    refused_with(
        &disk,
        ErrorKind::Corrupt,
        "; backup header at LBA 32767: no GPT signature",
        |d| part_add(d, "p", 10000, 12000),
    );
    // part_init still works on a disk whose table cannot be read.
    part_init(&disk, "gpt").unwrap();
    assert!(layout(&disk).is_empty());
}

#[test]
fn hostile_header_fields_fall_back_or_fail_cleanly() {
    // Each forged field is given valid CRCs, so only the checks stand between it
    // and gptman; with a sound backup the table is still read.
    let cases: &[(&str, usize, u64, bool, &str)] = &[
        (
            "entries",
            NUM_ENTRIES,
            0xffff_ffff,
            false,
            "4294967295 partition entries (accepted: 1 to 16384)",
        ),
        (
            "entries",
            NUM_ENTRIES,
            0,
            false,
            "0 partition entries (accepted: 1 to 16384)",
        ),
        (
            "entry size",
            ENTRY_SIZE,
            256,
            false,
            "partition entries of 256 bytes are not supported (only 128)",
        ),
        ("current", CURRENT_LBA, 5, true, "says it is at LBA 5"),
        (
            "backup",
            BACKUP_LBA,
            1 << 40,
            true,
            "backup header LBA 1099511627776 is past the end of the disk (32768 sectors)",
        ),
        (
            "first",
            FIRST_USABLE,
            0,
            true,
            "first usable LBA 0 leaves no room for 32 sectors of partition entries",
        ),
        (
            "last",
            LAST_USABLE,
            20,
            true,
            "last usable LBA 20 is before the first usable LBA 34",
        ),
        (
            "last",
            LAST_USABLE,
            32760,
            true,
            "last usable LBA 32760 leaves no room for the backup entries before LBA 32767",
        ),
        (
            "entries at",
            ENTRY_LBA,
            1 << 60,
            true,
            "partition entries at LBA 1152921504606846976 overlap the header or the usable area",
        ),
        // Values whose sums overflow a u64: refused like any other out-of-range
        // value, never an arithmetic overflow.
        (
            "entries at",
            ENTRY_LBA,
            u64::MAX - 7,
            true,
            "partition entries at LBA 18446744073709551608 overlap the header or the usable area",
        ),
        (
            "first",
            FIRST_USABLE,
            u64::MAX,
            true,
            "last usable LBA 32734 is before the first usable LBA 18446744073709551615",
        ),
        (
            "last",
            LAST_USABLE,
            u64::MAX,
            true,
            "last usable LBA 18446744073709551615 leaves no room for the backup entries before LBA 32767",
        ),
        (
            "backup",
            BACKUP_LBA,
            u64::MAX,
            true,
            "backup header LBA 18446744073709551615 is past the end of the disk (32768 sectors)",
        ),
        (
            "current",
            CURRENT_LBA,
            u64::MAX,
            true,
            "says it is at LBA 18446744073709551615",
        ),
    ];
    for &(what, field, value, wide, msg) in cases {
        let disk = gpt_with_two();
        let want = layout(&disk);
        if wide {
            set_u64(&disk, 1, field, value);
        } else {
            set_u32(&disk, 1, field, value as u32);
        }
        let t = PartitionTable::read(&disk).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            t.warnings()[0].starts_with(&format!("primary GPT header at LBA 1: {msg}")),
            "{what}: {:?}",
            t.warnings()
        );
        assert_eq!(layout(&disk), want, "{what}");
        // The same damage in the backup too: a clear error, nothing written.
        if wide {
            set_u64(&disk, LAST, field, value);
        } else {
            set_u32(&disk, LAST, field, value as u32);
        }
        refused_with(
            &disk,
            ErrorKind::Corrupt,
            "corrupt GPT: primary header",
            part_list,
        );
    }
}

#[test]
fn hostile_entries_are_refused() {
    let cases: &[(u64, u64, u64, &str)] = &[
        (
            1,
            5000,
            3000,
            "partition 1 ends (LBA 3000) before it starts (LBA 5000)",
        ),
        (
            1,
            0,
            100,
            "partition 1 (sectors 0..100) lies outside the usable sectors 34..32734",
        ),
        (
            2,
            4000,
            8191,
            "partitions 1 (2048..4095) and 2 (4000..8191) overlap",
        ),
        (
            2,
            4096,
            40000,
            "partition 2 (sectors 4096..40000) lies outside the usable sectors 34..32734",
        ),
    ];
    for &(n, start, end, msg) in cases {
        let disk = gpt_with_two();
        set_entry_range(&disk, 2, n, start, end);
        fix_crcs(&disk, 1);
        set_entry_range(&disk, SECTORS - 33, n, start, end);
        fix_crcs(&disk, LAST);
        refused_with(&disk, ErrorKind::Corrupt, msg, part_list);
    }
    // Two partitions sharing one unique GUID.
    let disk = gpt_with_two();
    let guid = common::forge::read(&disk, 2 * 512 + 16, 16);
    for arr in [2, SECTORS - 33] {
        disk.write_at(&guid, arr * 512 + 128 + 16).unwrap();
    }
    fix_crcs(&disk, 1);
    fix_crcs(&disk, LAST);
    refused_with(
        &disk,
        ErrorKind::Corrupt,
        "partition 2 repeats the unique GUID",
        part_list,
    );
}

#[test]
fn protective_mbr_without_gpt_and_gpt_without_protective_mbr() {
    let disk = gpt_with_two();
    let want = layout(&disk);
    let pmbr = sector(&disk, 0, 512);
    disk.write_at(&[0u8; 512], 512).unwrap();
    disk.write_at(&[0u8; 512], LAST * 512).unwrap();
    refused(
        &disk,
        ErrorKind::Corrupt,
        "sector 0 holds a GPT protective MBR, but there is no GPT header",
        part_list,
    );
    let disk = gpt_with_two();
    disk.write_at(&[0u8; 512], 0).unwrap();
    let t = PartitionTable::read(&disk).unwrap();
    assert_eq!(
        t.warnings(),
        ["GPT without a protective MBR; the next write adds one"]
    );
    assert_eq!(layout(&disk), want);
    part_set_name(&disk, 1, "x").unwrap();
    assert_eq!(sector(&disk, 0, 512)[446..], pmbr[446..]);
}

fn msdos_with_chain() -> MemoryDisk {
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "msdos").unwrap();
    part_add(&disk, "p", 2048, 4095).unwrap();
    part_add(&disk, "e", 8192, 20000).unwrap();
    part_add(&disk, "l", 10000, 11000).unwrap();
    part_add(&disk, "l", 12000, 13000).unwrap();
    part_add(&disk, "l", 14000, 15000).unwrap();
    disk
}

#[test]
fn hostile_mbr_primaries() {
    let slot = |i: u64| 446 + 16 * (i - 1);
    let cases: &[(u64, u8, u8, u32, u32, ErrorKind, &str)] = &[
        (
            3,
            0,
            0x83,
            3000,
            2000,
            ErrorKind::Corrupt,
            "partitions 1 (2048..4095) and 3 (3000..4999) overlap",
        ),
        (
            3,
            0,
            0x83,
            30000,
            5000,
            ErrorKind::Corrupt,
            "partition 3 (sectors 30000..34999) extends past the end of the disk (32768 sectors)",
        ),
        (
            3,
            0,
            0x83,
            0,
            100,
            ErrorKind::Corrupt,
            "partition 3 starts at sector 0, which holds the partition table",
        ),
        (
            3,
            0,
            0x05,
            25000,
            100,
            ErrorKind::Corrupt,
            "partitions 2 and 3 are both extended partitions",
        ),
        (
            3,
            0,
            0x83,
            u32::MAX,
            u32::MAX,
            ErrorKind::Corrupt,
            "partition 3 (sectors 4294967295..8589934589) extends past the end of the disk (32768 sectors)",
        ),
        (
            3,
            0x12,
            0x83,
            25000,
            100,
            ErrorKind::Unpartitioned,
            "unrecognised disk label",
        ),
    ];
    for &(n, boot, id, start, sectors, kind, msg) in cases {
        let disk = msdos_with_chain();
        put_entry(&disk, slot(n), boot, id, start, sectors);
        refused(&disk, kind, msg, part_list);
    }
    // An entry with an id but no sectors is unused, as the kernel sees it.
    let disk = msdos_with_chain();
    put_entry(&disk, slot(3), 0, 0x83, 25000, 0);
    assert_eq!(layout(&disk).len(), 5);
}

#[test]
fn hostile_ebr_chains() {
    // EBRs of msdos_with_chain: 8192 (for 10000), 11999 (for 12000), 13999.
    let link = |ebr: u64| ebr * 512 + 462;
    let own = |ebr: u64| ebr * 512 + 446;
    let cases: &[(u64, u8, u32, u32, &str)] = &[
        (
            link(11999),
            0x05,
            0,
            1,
            "the extended boot record at sector 11999 links back to sector 8192",
        ),
        (
            link(11999),
            0x05,
            3807,
            1,
            "the extended boot record at sector 11999 links back to sector 11999",
        ),
        (
            link(11999),
            0x05,
            30000,
            1,
            "the extended boot record at sector 11999 links to sector 38192, past the extended partition (8192..20000)",
        ),
        (
            link(8192),
            0x05,
            2000,
            10,
            "the extended boot record at sector 10192 lies inside partition 5 (10000..11000)",
        ),
        (
            own(11999),
            0x83,
            1,
            9000,
            "partition 6 (sectors 12000..20999) extends past the extended partition (8192..20000)",
        ),
        (
            own(11999),
            0x83,
            0,
            10,
            "partition 6 starts on its own extended boot record (sector 11999)",
        ),
        (
            own(11999),
            0x05,
            1,
            10,
            "the extended boot record at sector 11999 describes a nested extended partition",
        ),
    ];
    for &(off, id, start, sectors, msg) in cases {
        let disk = msdos_with_chain();
        put_entry(&disk, off, 0, id, start, sectors);
        refused(&disk, ErrorKind::Corrupt, msg, part_list);
    }
    let disk = msdos_with_chain();
    disk.write_at(&[0, 0], 11999 * 512 + 510).unwrap();
    refused(
        &disk,
        ErrorKind::Corrupt,
        "the extended boot record at sector 11999 has no 0x55AA signature",
        part_list,
    );
    let disk = msdos_with_chain();
    disk.write_at(&[0x33], 11999 * 512 + 446).unwrap();
    refused(
        &disk,
        ErrorKind::Corrupt,
        "partition 6 has the invalid boot flag 0x33",
        part_list,
    );
}

/// Write `count` empty EBRs from sector `es`, each linking to the next sector.
fn empty_ebr_chain(disk: &MemoryDisk, es: u64, count: u64) {
    for i in 0..count {
        let ebr = es + i;
        disk.write_at(&[0u8; 512], ebr * 512).unwrap();
        if i + 1 < count {
            put_entry(disk, ebr * 512 + 462, 0, 0x05, (i + 1) as u32, 1);
        }
        disk.write_at(&[0x55, 0xaa], ebr * 512 + 510).unwrap();
    }
}

#[test]
fn long_chains_of_empty_ebrs_are_bounded() {
    // Empty EBRs describe no partition, but every one visited counts: a chain
    // of them cannot make a read walk the whole extended partition.
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "msdos").unwrap();
    part_add(&disk, "e", 8192, 20000).unwrap();
    empty_ebr_chain(&disk, 8192, 300);
    refused(
        &disk,
        ErrorKind::Corrupt,
        "the extended boot record chain is longer than 256 records (record 257 at sector 8448)",
        part_list,
    );
    // A few empty records before a real one are read as before.
    let disk = MemoryDisk::new(SECTORS * 512);
    part_init(&disk, "msdos").unwrap();
    part_add(&disk, "e", 8192, 20000).unwrap();
    empty_ebr_chain(&disk, 8192, 10);
    put_entry(&disk, 8201 * 512 + 462, 0, 0x05, 100, 1001);
    let logical = 8292u64;
    disk.write_at(&[0u8; 512], logical * 512).unwrap();
    put_entry(&disk, logical * 512 + 446, 0, 0x83, 8, 1000);
    disk.write_at(&[0x55, 0xaa], logical * 512 + 510).unwrap();
    let parts = layout(&disk);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[1].part_start, 8300 * 512);
}

#[test]
fn an_empty_first_ebr_is_skipped_and_normalised() {
    // fdisk-style: the first EBR describes nothing but links to the next one.
    let disk = msdos_with_chain();
    put_entry(&disk, 8192 * 512 + 446, 0, 0, 0, 0);
    let parts: Vec<i32> = layout(&disk).iter().map(|p| p.part_num).collect();
    assert_eq!(parts, [1, 2, 5, 6]);
    assert_eq!(layout(&disk)[2].part_start, 12000 * 512);
    // A write moves the first logical partition's EBR to the extended start.
    part_set_mbr_id(&disk, 5, 0x82).unwrap();
    assert_eq!(part_get_mbr_id(&disk, 5).unwrap(), 0x82);
    assert_eq!(layout(&disk)[2].part_start, 12000 * 512);
    assert_eq!(sector(&disk, 8192, 512)[446 + 4], 0x82);
}

#[test]
fn tiny_and_odd_devices() {
    for size in [0usize, 100, 511, 512, 1024] {
        let disk = MemoryDisk::from_bytes(vec![0; size]);
        assert!(PartitionTable::probe(&disk).unwrap().is_none(), "{size}");
    }
    // A signature on a one-sector disk: an empty msdos label.
    let mut b = vec![0u8; 512];
    b[510..].copy_from_slice(&[0x55, 0xaa]);
    let disk = MemoryDisk::from_bytes(b);
    assert_eq!(part_get_parttype(&disk).unwrap(), "msdos");
}
