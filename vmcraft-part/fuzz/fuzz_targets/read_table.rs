//! Fuzz target: read a partition table from arbitrary bytes.
//!
//! The input is laid out on a 256 KiB in-memory disk: the first four bytes say
//! where to split the rest; the head goes at the start of the disk (MBR, primary
//! GPT, EBRs) and the tail at its end (backup GPT), so small inputs reach both
//! GPT copies. Reading must never panic and never write; a table that reads is
//! written back unchanged and must read back the same.
//!
//! Run it (stable Rust is enough with `RUSTC_BOOTSTRAP=1`), seeded with an
//! sgdisk GPT and an sfdisk msdos table with logical partitions, and with two
//! hostile ones at the read's bounds: a GPT whose entry-array LBA overflows
//! when the array is added to it, and an extended partition holding a chain of
//! 257 empty EBRs (one more than a chain may have):
//!
//! ```text
//! cd vmcraft-part/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run read_table corpus/read_table seeds/read_table -- -max_len=262144
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft_block::{BlockDevice, MemoryDisk};
use vmcraft_part::*;

const DISK: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let rest = &data[4..];
    let split = (u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize
        % (rest.len() + 1))
        .min(DISK / 2);
    let (head, tail) = rest.split_at(split);
    let tail = &tail[tail.len().saturating_sub(DISK / 2)..];
    let mut bytes = vec![0u8; DISK];
    bytes[..head.len()].copy_from_slice(head);
    bytes[DISK - tail.len()..].copy_from_slice(tail);
    let disk = MemoryDisk::from_bytes(bytes);

    let before = disk.snapshot();
    let table = PartitionTable::probe(&disk);
    let _ = part_list(&disk);
    let _ = part_get_parttype(&disk);
    let _ = part_get_disk_guid(&disk);
    for n in [1, 2, 5, 128] {
        let _ = part_get_name(&disk, n);
        let _ = part_get_gpt_type(&disk, n);
        let _ = part_get_bootable(&disk, n);
        let _ = part_get_mbr_id(&disk, n);
        let _ = part_get_mbr_part_type(&disk, n);
    }
    assert!(disk.snapshot() == before, "a read wrote to the disk");

    if let Ok(Some(mut table)) = table {
        let parts = table.partitions();
        for p in &parts {
            assert!(p.start <= p.end && p.end < table.disk_sectors(), "{p:?}");
        }
        table
            .write(&disk)
            .expect("a table that was read can be written back");
        let again = PartitionTable::read(&disk).expect("a written table reads back");
        assert_eq!(again.partitions(), parts);
        assert!(
            again
                .warnings()
                .iter()
                .all(|w| w.contains("part_expand_gpt")),
            "{:?}",
            again.warnings()
        );
        let _ = disk.size();
    }
});
