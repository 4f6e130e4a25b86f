//! Forging damaged tables for tests: patch GPT header fields and entries and fix
//! (or deliberately not fix) their CRCs, patch MBR and EBR entries.

use vmcraft_block::{BlockDevice, MemoryDisk};

/// GPT header field offsets.
pub const CURRENT_LBA: usize = 24;
pub const BACKUP_LBA: usize = 32;
pub const FIRST_USABLE: usize = 40;
pub const LAST_USABLE: usize = 48;
pub const ENTRY_LBA: usize = 72;
pub const NUM_ENTRIES: usize = 80;
pub const ENTRY_SIZE: usize = 84;

pub fn read(disk: &MemoryDisk, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    disk.read_at(&mut b, off).unwrap();
    b
}

/// Recompute the header CRC of the GPT header at `lba`.
pub fn fix_header_crc(disk: &MemoryDisk, lba: u64) {
    let mut h = read(disk, lba * 512, 92);
    h[16..20].fill(0);
    let crc = crc32fast::hash(&h);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    disk.write_at(&h, lba * 512).unwrap();
}

/// Recompute the entry-array CRC and then the header CRC of the header at `lba`.
pub fn fix_crcs(disk: &MemoryDisk, lba: u64) {
    let h = read(disk, lba * 512, 92);
    let entries_at = u64::from_le_bytes(h[ENTRY_LBA..ENTRY_LBA + 8].try_into().unwrap());
    let n = u32::from_le_bytes(h[NUM_ENTRIES..NUM_ENTRIES + 4].try_into().unwrap()) as usize;
    let size = u32::from_le_bytes(h[ENTRY_SIZE..ENTRY_SIZE + 4].try_into().unwrap()) as usize;
    let entries = read(disk, entries_at * 512, n * size);
    let crc = crc32fast::hash(&entries);
    disk.write_at(&crc.to_le_bytes(), lba * 512 + 88).unwrap();
    fix_header_crc(disk, lba);
}

/// Overwrite a little-endian u64 header field and fix the header CRC (the
/// entries, and so their CRC, are unchanged).
pub fn set_u64(disk: &MemoryDisk, lba: u64, field: usize, value: u64) {
    disk.write_at(&value.to_le_bytes(), lba * 512 + field as u64)
        .unwrap();
    fix_header_crc(disk, lba);
}

/// Overwrite a little-endian u32 header field and fix the header CRC.
pub fn set_u32(disk: &MemoryDisk, lba: u64, field: usize, value: u32) {
    disk.write_at(&value.to_le_bytes(), lba * 512 + field as u64)
        .unwrap();
    fix_header_crc(disk, lba);
}

/// Set the start and end LBA of GPT entry `n` (from 1) in the array at
/// `entries_lba`, without fixing any CRC.
pub fn set_entry_range(disk: &MemoryDisk, entries_lba: u64, n: u64, start: u64, end: u64) {
    let off = entries_lba * 512 + (n - 1) * 128 + 32;
    disk.write_at(&start.to_le_bytes(), off).unwrap();
    disk.write_at(&end.to_le_bytes(), off + 8).unwrap();
}

/// Write a 16-byte MBR-style entry at byte `off`.
pub fn put_entry(disk: &MemoryDisk, off: u64, boot: u8, id: u8, start: u32, sectors: u32) {
    let mut e = [0u8; 16];
    e[0] = boot;
    e[4] = id;
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&sectors.to_le_bytes());
    disk.write_at(&e, off).unwrap();
}
