//! Property tests over arbitrary bytes (what the cargo-fuzz target does, in the
//! normal test run so CI covers it): reading a table from any bytes never
//! panics and never writes; valid tables with random bytes overwritten — with
//! their CRCs recomputed half of the time, so the damage gets past the checksums
//! — are either refused with an error or read; and on whatever is read, random
//! edits either fail cleanly or write a table that reads back the same.

use proptest::prelude::*;
use vmcraft_block::{BlockDevice, MemoryDisk};
use vmcraft_part::*;

const SECTORS: u64 = 512;

/// Everything readable about the disk, exercised for panics.
fn read_everything(disk: &MemoryDisk) -> Option<PartitionTable> {
    let before = disk.snapshot();
    let table = PartitionTable::probe(disk);
    let _ = part_list(disk);
    let _ = part_get_parttype(disk);
    let _ = part_get_disk_guid(disk);
    for n in [0, 1, 2, 5, 6, 129] {
        let _ = part_get_name(disk, n);
        let _ = part_get_gpt_type(disk, n);
        let _ = part_get_gpt_guid(disk, n);
        let _ = part_get_gpt_attributes(disk, n);
        let _ = part_get_bootable(disk, n);
        let _ = part_get_mbr_id(disk, n);
        let _ = part_get_mbr_part_type(disk, n);
    }
    assert!(disk.snapshot() == before, "a read wrote to the disk");
    let table = table.ok().flatten()?;
    for p in table.partitions() {
        assert!(p.start <= p.end, "{p:?}");
        assert!(p.end < table.disk_sectors(), "{p:?}");
    }
    Some(table)
}

fn base_image(kind: u8) -> MemoryDisk {
    let disk = MemoryDisk::new(SECTORS * 512);
    match kind {
        0 => {
            part_init(&disk, "gpt").unwrap();
            part_add(&disk, "p", 40, 99).unwrap();
            part_add(&disk, "p", 100, 300).unwrap();
            part_set_name(&disk, 2, "two").unwrap();
        }
        _ => {
            part_init(&disk, "msdos").unwrap();
            part_add(&disk, "p", 1, 50).unwrap();
            part_add(&disk, "e", 60, 400).unwrap();
            part_add(&disk, "l", 62, 100).unwrap();
            part_add(&disk, "l", 102, 200).unwrap();
            part_add(&disk, "l", 300, 350).unwrap();
        }
    }
    disk
}

/// Where the interesting bytes are: MBR, GPT headers and entries, EBRs.
fn hot_offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..512,
        512u64..1024,
        1024u64..(34 * 512),
        ((SECTORS - 33) * 512)..(SECTORS * 512),
        (60 * 512u64)..(61 * 512),
        (101 * 512u64)..(102 * 512),
        (299 * 512u64)..(300 * 512),
        0u64..(SECTORS * 512),
    ]
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().unwrap())
}

/// Recompute both GPT copies' CRCs where the header's fields make that possible.
fn fix_gpt_crcs(disk: &MemoryDisk) {
    for lba in [1, SECTORS - 1] {
        let mut h = vec![0u8; 512];
        disk.read_at(&mut h, lba * 512).unwrap();
        let entries_at = u64::from_le_bytes(h[72..80].try_into().unwrap());
        let len = u64::from(le32(&h[80..84])) * u64::from(le32(&h[84..88]));
        if len <= 64 * 1024
            && entries_at
                .checked_mul(512)
                .and_then(|o| o.checked_add(len))
                .is_some_and(|end| end <= SECTORS * 512)
        {
            let mut e = vec![0u8; len as usize];
            disk.read_at(&mut e, entries_at * 512).unwrap();
            h[88..92].copy_from_slice(&crc32fast::hash(&e).to_le_bytes());
        }
        let size = le32(&h[12..16]) as usize;
        if (92..=512).contains(&size) {
            h[16..20].fill(0);
            let crc = crc32fast::hash(&h[..size]);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
        }
        disk.write_at(&h, lba * 512).unwrap();
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Add(u8, i64, i64),
    Del(i32),
    Resize(i32, i64),
    Name(i32, String),
    Boot(i32, bool),
    Id(i32, i32),
    Expand,
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let n = -1i32..10;
    let sector = -600i64..600;
    prop::collection::vec(
        prop_oneof![
            (0u8..3, sector.clone(), sector.clone()).prop_map(|(k, s, e)| Edit::Add(k, s, e)),
            n.clone().prop_map(Edit::Del),
            (n.clone(), sector).prop_map(|(p, e)| Edit::Resize(p, e)),
            (n.clone(), "[a-z☃]{0,40}").prop_map(|(p, s)| Edit::Name(p, s)),
            (n.clone(), any::<bool>()).prop_map(|(p, b)| Edit::Boot(p, b)),
            (n, -2i32..300).prop_map(|(p, i)| Edit::Id(p, i)),
            Just(Edit::Expand),
        ],
        0..8,
    )
}

fn apply(disk: &MemoryDisk, e: &Edit) -> Result<()> {
    match e {
        Edit::Add(k, s, t) => part_add(disk, ["p", "l", "e"][*k as usize], *s, *t),
        Edit::Del(n) => part_del(disk, *n),
        Edit::Resize(n, t) => part_resize(disk, *n, *t),
        Edit::Name(n, s) => part_set_name(disk, *n, s),
        Edit::Boot(n, b) => part_set_bootable(disk, *n, *b),
        Edit::Id(n, i) => part_set_mbr_id(disk, *n, *i),
        Edit::Expand => part_expand_gpt(disk),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_read_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..70_000)) {
        read_everything(&MemoryDisk::from_bytes(bytes));
    }

    #[test]
    fn any_sector_zero_reads_without_panic(
        s0 in prop::collection::vec(any::<u8>(), 446..=446),
        entries in prop::collection::vec(any::<u8>(), 64..=64),
        signed in any::<bool>(),
    ) {
        let disk = MemoryDisk::new(SECTORS * 512);
        disk.write_at(&s0, 0).unwrap();
        disk.write_at(&entries, 446).unwrap();
        if signed {
            disk.write_at(&[0x55, 0xaa], 510).unwrap();
        }
        read_everything(&disk);
    }

    #[test]
    fn mutated_tables_fail_cleanly_and_edits_round_trip(
        kind in 0u8..2,
        writes in prop::collection::vec((hot_offset(), prop::collection::vec(any::<u8>(), 1..16)), 1..6),
        fix in any::<bool>(),
        edits in edits(),
    ) {
        let disk = base_image(kind);
        for (off, bytes) in &writes {
            let n = bytes.len().min((SECTORS * 512 - off) as usize);
            disk.write_at(&bytes[..n], *off).unwrap();
        }
        if fix {
            fix_gpt_crcs(&disk);
        }
        if read_everything(&disk).is_none() {
            return Ok(());
        }
        for e in &edits {
            let before = disk.snapshot();
            match apply(&disk, e) {
                Ok(()) => {
                    let table = PartitionTable::read(&disk)
                        .unwrap_or_else(|err| panic!("{e:?} wrote a table that does not read back: {err}"));
                    let mut parts = table.partitions();
                    parts.sort_by_key(|p| (p.start, p.number));
                    let rows: Vec<Partition> = parts.iter().map(PartInfo::to_partition).collect();
                    prop_assert_eq!(rows, part_list(&disk).unwrap());
                }
                Err(err) => {
                    prop_assert!(disk.snapshot() == before, "{:?} failed ({}) but changed the disk", e, err);
                }
            }
        }
    }
}
