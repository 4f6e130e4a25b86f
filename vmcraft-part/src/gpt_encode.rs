//! Serialising a GPT (both headers and entry arrays) straight into bytes with
//! `crc32fast`, instead of through gptman's writer, which serialises every entry
//! into its own allocation twice per write to checksum it. The layout is the UEFI
//! one gptman writes, byte for byte (a test compares the two). An entry that is
//! still what was read is copied from the bytes it was read from; an edited or
//! new one is encoded, its name from its string, zero-padded, as every
//! partitioning tool writes it.

use gptman::{GPT, GPTHeader, GPTPartitionEntry};

use crate::gpt::ReadEntries;

/// Bytes of the header that the header CRC covers (UEFI's revision 1.0 header).
pub(crate) const HEADER_SIZE: usize = 92;
/// Bytes of one entry.
const ENTRY_SIZE: usize = 128;

/// One entry as it lies on disk.
fn encode_entry(e: &GPTPartitionEntry, out: &mut [u8]) {
    out[0..16].copy_from_slice(&e.partition_type_guid);
    out[16..32].copy_from_slice(&e.unique_partition_guid);
    out[32..40].copy_from_slice(&e.starting_lba.to_le_bytes());
    out[40..48].copy_from_slice(&e.ending_lba.to_le_bytes());
    out[48..56].copy_from_slice(&e.attribute_bits.to_le_bytes());
    let name = &mut out[56..128];
    name.fill(0);
    for (i, unit) in e
        .partition_name
        .as_str()
        .encode_utf16()
        .take(36)
        .enumerate()
    {
        name[2 * i..2 * i + 2].copy_from_slice(&unit.to_le_bytes());
    }
}

/// The whole entry array; entries equal to what `read` decoded are copied from
/// its raw bytes.
pub(crate) fn encode_entries(gpt: &GPT, read: Option<&ReadEntries>) -> Vec<u8> {
    let n = gpt.header.number_of_partition_entries as usize;
    let mut out = vec![0u8; n * ENTRY_SIZE];
    for (i, e) in gpt.iter() {
        let i = i as usize - 1;
        let at = i * ENTRY_SIZE;
        let slot = &mut out[at..at + ENTRY_SIZE];
        match read {
            Some(r) if r.decoded.get(i) == Some(e) => {
                slot.copy_from_slice(&r.raw[at..at + ENTRY_SIZE]);
            }
            _ => encode_entry(e, slot),
        }
    }
    out
}

/// A header with its CRC filled in, given the entry array's CRC.
pub(crate) fn encode_header(h: &GPTHeader, entries_crc: u32) -> [u8; HEADER_SIZE] {
    let mut b = [0u8; HEADER_SIZE];
    b[0..8].copy_from_slice(&h.signature);
    b[8..12].copy_from_slice(&h.revision);
    b[12..16].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
    // 16..20: the CRC, zero while it is computed.
    b[20..24].copy_from_slice(&h.reserved);
    b[24..32].copy_from_slice(&h.primary_lba.to_le_bytes());
    b[32..40].copy_from_slice(&h.backup_lba.to_le_bytes());
    b[40..48].copy_from_slice(&h.first_usable_lba.to_le_bytes());
    b[48..56].copy_from_slice(&h.last_usable_lba.to_le_bytes());
    b[56..72].copy_from_slice(&h.disk_guid);
    b[72..80].copy_from_slice(&h.partition_entry_lba.to_le_bytes());
    b[80..84].copy_from_slice(&h.number_of_partition_entries.to_le_bytes());
    b[84..88].copy_from_slice(&(ENTRY_SIZE as u32).to_le_bytes());
    b[88..92].copy_from_slice(&entries_crc.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The backup header that goes with a primary one: the LBAs swapped and the
/// entries at `entry_lba`.
pub(crate) fn backup_of(h: &GPTHeader, entry_lba: u64) -> GPTHeader {
    let mut b = h.clone();
    b.primary_lba = h.backup_lba;
    b.backup_lba = h.primary_lba;
    b.partition_entry_lba = entry_lba;
    b
}

/// What gptman's writer checks before writing: no inverted entry, used entries
/// inside the usable area and not overlapping, unique partition GUIDs. `None` when
/// the table is writable.
pub(crate) fn check(gpt: &GPT) -> Option<&'static str> {
    let mut used: Vec<&GPTPartitionEntry> =
        gpt.iter().map(|(_, e)| e).filter(|e| e.is_used()).collect();
    if used.iter().any(|e| e.ending_lba < e.starting_lba) {
        return Some("a partition ends before it starts");
    }
    let mut guids: Vec<[u8; 16]> = used.iter().map(|e| e.unique_partition_guid).collect();
    guids.sort_unstable();
    if guids.windows(2).any(|w| w[0] == w[1]) {
        return Some("two partitions have the same GUID");
    }
    used.sort_unstable_by_key(|e| e.starting_lba);
    let mut next = gpt.header.first_usable_lba;
    for e in used {
        if e.starting_lba < next {
            return Some("partitions overlap or start before the first usable sector");
        }
        next = e.ending_lba + 1;
    }
    if next > gpt.header.last_usable_lba + 1 {
        return Some("a partition ends after the last usable sector");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn table() -> GPT {
        let ss = 512u64;
        let mut disk = Cursor::new(vec![0u8; 16 << 20]);
        let mut gpt = GPT::new_from(&mut disk, ss, [7; 16]).unwrap();
        for (i, (s, e, name)) in [
            (2048u64, 4095u64, "EFI System"),
            (4096, 20479, "root ü"),
            (20480, 30000, ""),
        ]
        .into_iter()
        .enumerate()
        {
            let n = (i as u32 + 1) * 3;
            gpt[n] = GPTPartitionEntry {
                partition_type_guid: [i as u8 + 1; 16],
                unique_partition_guid: [i as u8 + 0x40; 16],
                starting_lba: s,
                ending_lba: e,
                attribute_bits: 1 << 60 | i as u64,
                partition_name: name.into(),
            };
        }
        gpt
    }

    #[test]
    fn bytes_match_gptman_writer() {
        let mut gpt = table();
        let mut theirs = Cursor::new(vec![0u8; 16 << 20]);
        gpt.write_into(&mut theirs).unwrap();
        let theirs = theirs.into_inner();

        let entries = encode_entries(&gpt, None);
        let crc = crc32fast::hash(&entries);
        let h = &gpt.header;
        let b = backup_of(h, h.last_usable_lba + 1);
        let mut ours = vec![0u8; 16 << 20];
        for (hdr, lba) in [(h, h.primary_lba), (&b, b.primary_lba)] {
            let at = lba as usize * 512;
            ours[at..at + HEADER_SIZE].copy_from_slice(&encode_header(hdr, crc));
            let at = hdr.partition_entry_lba as usize * 512;
            ours[at..at + entries.len()].copy_from_slice(&entries);
        }
        assert!(ours == theirs, "our serialisation differs from gptman's");
        assert_eq!(check(&gpt), None);
    }

    #[test]
    fn refuses_what_gptman_refuses() {
        let mut gpt = table();
        gpt[6].starting_lba = 4000;
        assert!(check(&gpt).is_some(), "overlap");
        let mut gpt = table();
        gpt[6].unique_partition_guid = gpt[3].unique_partition_guid;
        assert!(check(&gpt).is_some(), "duplicate GUID");
        let mut gpt = table();
        gpt[9].ending_lba = gpt.header.last_usable_lba + 1;
        assert!(check(&gpt).is_some(), "past the usable area");
    }
}
