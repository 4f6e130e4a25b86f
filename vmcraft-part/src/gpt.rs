//! GPT through `gptman`: reading with strict validation, the edits behind the
//! `part_*` calls, and writing both copies plus the protective MBR.
//!
//! A table on a guest disk is untrusted input, and `gptman` trusts what it reads
//! (an entry count of four billion is an allocation, an entry size other than 128
//! an assertion, two partitions at LBA 0 an `unwrap` on an empty range). So every
//! header is checked here first, field by field, and `gptman` only ever parses a
//! header that passed: when the primary fails and the backup passes, `gptman`
//! reads through a view in which LBA 1 is blank, so it falls back to the backup
//! itself. The table is then held in the primary's point of view (header at LBA 1).
//!
//! A write changes only what was edited. Both entry arrays stay where their
//! validated headers put them (a disk laid out with `sgdisk -j` keeps its boot
//! loader in the sectors the array left free), and every entry nobody edited is
//! written back from the bytes it was read from, so names that no string
//! round-trips (unpaired UTF-16 surrogates, units after the terminating NUL) and
//! stale bytes in unused entries survive unchanged.

use std::collections::HashSet;
use std::io::Cursor;

use gptman::{GPT, GPTHeader, GPTPartitionEntry};
use uuid::Uuid;
use vmcraft_block::BlockDevice;

use crate::cache::{DiskCache, Masked};
use crate::error::{Ctx, ErrorKind, Result};
use crate::types::{gpt_type, guid_from_disk, guid_to_disk, random_guid};

/// The most partition entries accepted in a header (a 2 MiB entry array; real
/// tables have 128).
const MAX_ENTRIES: u32 = 16384;
/// The only entry size `gptman` (and nearly every tool) handles.
const ENTRY_SIZE: u32 = 128;
/// Name length limit: 36 UTF-16 code units.
pub(crate) const NAME_UNITS: usize = 36;
/// GPT attribute bits 3..=47 are reserved by the UEFI specification.
pub(crate) const RESERVED_ATTRIBUTES: u64 = ((1u64 << 48) - 1) & !0b111;

/// What sector 0 holds next to a GPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pmbr {
    /// A protective MBR (one 0xEE entry); `bootable` keeps its active flag.
    Protective { bootable: bool },
    /// A hybrid MBR (0xEE plus real entries): left exactly as it is.
    Hybrid,
    /// No MBR signature: a protective MBR is written with the next change.
    Missing,
}

/// A GPT held in memory.
#[derive(Debug, Clone)]
pub(crate) struct GptLayout {
    /// The table, with the primary header (whose `partition_entry_lba` is where
    /// the primary array is written).
    pub gpt: GPT,
    pub pmbr: Pmbr,
    /// Where the backup entry array is written.
    backup_entry_lba: u64,
    /// The entry array as read, if the table was read from a disk.
    read: Option<ReadEntries>,
}

/// An entry array as it was read: the raw bytes and what `gptman` decoded from
/// them. An entry still equal to its decoded self is written back from the raw
/// bytes (gptman's names are lossy strings).
#[derive(Debug, Clone)]
pub(crate) struct ReadEntries {
    pub raw: Vec<u8>,
    pub decoded: Vec<GPTPartitionEntry>,
}

/// The verdict on one header copy.
enum HeaderState {
    /// No "EFI PART" signature.
    Missing,
    /// A signature, but something is wrong; the text says what.
    Bad(String),
    /// A header that passed every check, and its raw entry array.
    Good(GPTHeader, Vec<u8>),
}

fn array_sectors(entries: u32, ss: u64) -> u64 {
    (u64::from(entries) * u64::from(ENTRY_SIZE)).div_ceil(ss)
}

/// Check the header copy at `lba` and its entry array.
fn check_header<D: BlockDevice + ?Sized>(
    cache: &mut DiskCache<'_, D>,
    ss: u64,
    disk_sectors: u64,
    lba: u64,
) -> vmcraft_block::Result<HeaderState> {
    // Every LBA below comes from the disk: sums are checked, and a value that
    // overflows is refused like one that is out of range.
    let Some(at) = lba.checked_mul(ss).filter(|_| lba < disk_sectors) else {
        return Ok(HeaderState::Bad(format!(
            "header LBA {lba} is past the end of the disk ({disk_sectors} sectors)"
        )));
    };
    let raw = cache.read_vec(at, ss as usize)?;
    if &raw[..8] != b"EFI PART" {
        return Ok(HeaderState::Missing);
    }
    let h = match GPTHeader::read_from(&mut Cursor::new(&raw[..])) {
        Ok(h) => h,
        Err(gptman::Error::InvalidChecksum(stored, computed)) => {
            return Ok(HeaderState::Bad(format!(
                "header CRC32 is {stored:#010x}, should be {computed:#010x}"
            )));
        }
        Err(gptman::Error::InvalidRevision) => {
            return Ok(HeaderState::Bad(format!(
                "unsupported revision {:02x?}",
                &raw[8..12]
            )));
        }
        Err(gptman::Error::InvalidHeaderSize) => {
            let size = u32::from_le_bytes(raw[12..16].try_into().expect("4 bytes"));
            return Ok(HeaderState::Bad(format!(
                "unsupported header size {size} (only 92)"
            )));
        }
        Err(e) => return Ok(HeaderState::Bad(e.to_string())),
    };
    let bad = |m: String| Ok(HeaderState::Bad(m));
    if h.primary_lba != lba {
        return bad(format!("says it is at LBA {}", h.primary_lba));
    }
    if h.size_of_partition_entry != ENTRY_SIZE {
        return bad(format!(
            "partition entries of {} bytes are not supported (only {ENTRY_SIZE})",
            h.size_of_partition_entry
        ));
    }
    let n = h.number_of_partition_entries;
    if n == 0 || n > MAX_ENTRIES {
        return bad(format!(
            "{n} partition entries (accepted: 1 to {MAX_ENTRIES})"
        ));
    }
    let array = array_sectors(n, ss);
    let (first, last) = (h.first_usable_lba, h.last_usable_lba);
    if first < 2 + array {
        return bad(format!(
            "first usable LBA {first} leaves no room for {array} sectors of partition entries"
        ));
    }
    if last < first {
        return bad(format!(
            "last usable LBA {last} is before the first usable LBA {first}"
        ));
    }
    let entries_at = h.partition_entry_lba;
    if lba == 1 {
        let backup = h.backup_lba;
        if backup >= disk_sectors {
            return bad(format!(
                "backup header LBA {backup} is past the end of the disk ({disk_sectors} sectors)"
            ));
        }
        if last.checked_add(array).is_none_or(|e| e >= backup) {
            return bad(format!(
                "last usable LBA {last} leaves no room for the backup entries before LBA {backup}"
            ));
        }
        if entries_at < 2 || entries_at.checked_add(array).is_none_or(|e| e > first) {
            return bad(format!(
                "partition entries at LBA {entries_at} overlap the header or the usable area"
            ));
        }
    } else {
        if h.backup_lba != 1 {
            return bad(format!(
                "says the primary header is at LBA {}, not 1",
                h.backup_lba
            ));
        }
        if entries_at <= last || entries_at.checked_add(array).is_none_or(|e| e > lba) {
            return bad(format!(
                "partition entries at LBA {entries_at} overlap the usable area or the header"
            ));
        }
    }
    // The entry array, checked on the raw bytes (gptman decodes it once, later).
    let Some(entries_off) = entries_at.checked_mul(ss) else {
        return bad(format!(
            "partition entries at LBA {entries_at} are past the end of the disk"
        ));
    };
    let raw_entries = cache.read_vec(entries_off, n as usize * ENTRY_SIZE as usize)?;
    let crc = crc32fast::hash(&raw_entries);
    if crc != h.partition_entry_array_crc32 {
        return bad(format!(
            "partition entry array CRC32 is {:#010x}, should be {crc:#010x}",
            h.partition_entry_array_crc32
        ));
    }
    if let Some(problem) = check_entries(&raw_entries, first, last) {
        return bad(problem);
    }
    Ok(HeaderState::Good(h, raw_entries))
}

/// What is wrong with a raw entry array, if anything: inverted or out-of-range
/// sectors, overlaps, duplicate unique GUIDs.
fn check_entries(raw: &[u8], first: u64, last: u64) -> Option<String> {
    let le64 = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let mut used: Vec<(u64, u64, usize)> = Vec::new();
    let mut guids = HashSet::new();
    for (i, e) in raw.chunks_exact(ENTRY_SIZE as usize).enumerate() {
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let n = i + 1;
        let (s, t) = (le64(&e[32..40]), le64(&e[40..48]));
        if t < s {
            return Some(format!(
                "partition {n} ends (LBA {t}) before it starts (LBA {s})"
            ));
        }
        if s < first || t > last {
            return Some(format!(
                "partition {n} (sectors {s}..{t}) lies outside the usable sectors {first}..{last}"
            ));
        }
        let guid: [u8; 16] = e[16..32].try_into().expect("16 bytes");
        if !guids.insert(guid) {
            return Some(format!(
                "partition {n} repeats the unique GUID {}",
                crate::format_guid(&guid_from_disk(&guid))
            ));
        }
        used.push((s, t, n));
    }
    used.sort_unstable();
    for w in used.windows(2) {
        if w[1].0 <= w[0].1 {
            return Some(format!(
                "partitions {} ({}..{}) and {} ({}..{}) overlap",
                w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1
            ));
        }
    }
    None
}

fn describe(state: &HeaderState) -> String {
    match state {
        HeaderState::Missing => "no GPT signature".to_string(),
        HeaderState::Bad(m) => m.clone(),
        HeaderState::Good(..) => "valid".to_string(),
    }
}

/// Whether the sector at `lba` starts with a GPT header signature.
pub(crate) fn has_signature<D: BlockDevice + ?Sized>(
    cache: &mut DiskCache<'_, D>,
    ss: u64,
    lba: u64,
) -> vmcraft_block::Result<bool> {
    Ok(&cache.read_vec(lba * ss, 8)?[..] == b"EFI PART")
}

/// The primary header's idea of where its backup is, if the primary is valid.
pub(crate) fn valid_backup_lba<D: BlockDevice + ?Sized>(
    cache: &mut DiskCache<'_, D>,
    ss: u64,
    disk_sectors: u64,
) -> vmcraft_block::Result<Option<u64>> {
    Ok(match check_header(cache, ss, disk_sectors, 1)? {
        HeaderState::Good(h, _) => Some(h.backup_lba),
        _ => None,
    })
}

/// Read the GPT. `Ok(None)` when neither copy has a signature; a corrupt error
/// when signatures exist but neither copy is valid. Warnings (a copy that was bad
/// or missing) are appended to `warnings`.
pub(crate) fn read<D: BlockDevice + ?Sized>(
    cache: &mut DiskCache<'_, D>,
    ss: u64,
    disk_sectors: u64,
    pmbr: Pmbr,
    ctx: &Ctx,
    warnings: &mut Vec<String>,
) -> Result<Option<GptLayout>> {
    let io = |e| ctx.block("reading the GPT", e);
    if disk_sectors < 3 {
        return Ok(None);
    }
    let last = disk_sectors - 1;
    let primary = check_header(cache, ss, disk_sectors, 1).map_err(io)?;
    let (gpt, backup_entry_lba, raw) = match primary {
        HeaderState::Good(h, raw) => {
            let backup_lba = h.backup_lba;
            let array = array_sectors(h.number_of_partition_entries, ss);
            let gpt = GPT::read_from(cache, ss).map_err(|e| gptman_failure(ctx, cache, e))?;
            let backup = check_header(cache, ss, disk_sectors, backup_lba).map_err(io)?;
            // The backup array stays where its valid header put it, if the
            // primary's array fits there too; else right before the header.
            let backup_entry_lba = match &backup {
                HeaderState::Good(b, _)
                    if b.partition_entry_lba > h.last_usable_lba
                        && b.partition_entry_lba
                            .checked_add(array)
                            .is_some_and(|e| e <= backup_lba) =>
                {
                    b.partition_entry_lba
                }
                _ => backup_lba - array,
            };
            if !matches!(backup, HeaderState::Good(..)) {
                warnings.push(format!(
                    "backup GPT header at LBA {backup_lba}: {}; the next write restores it",
                    describe(&backup)
                ));
            }
            (gpt, backup_entry_lba, raw)
        }
        HeaderState::Missing | HeaderState::Bad(_) => {
            let backup = check_header(cache, ss, disk_sectors, last).map_err(io)?;
            let raw = match backup {
                HeaderState::Good(_, raw) => raw,
                HeaderState::Missing if matches!(primary, HeaderState::Missing) => {
                    return Ok(None);
                }
                _ => {
                    return Err(ctx.corrupt(format!(
                        "corrupt GPT: primary header at LBA 1: {}; backup header at LBA {last}: {}",
                        describe(&primary),
                        describe(&backup)
                    )));
                }
            };
            let mut masked = Masked {
                cache,
                hide: ss..2 * ss,
            };
            let mut gpt = GPT::read_from(&mut masked, ss)
                .map_err(|e| gptman_failure(ctx, masked.cache, e))?;
            warnings.push(format!(
                "primary GPT header at LBA 1: {}; the table was read from the backup header at LBA {last}, and the next write restores the primary",
                describe(&primary)
            ));
            // Into the primary's point of view. The damaged primary header's
            // entry LBA cannot be believed: its array goes back to LBA 2, as
            // sgdisk restores it (the backup's first usable LBA leaves room).
            let h = &mut gpt.header;
            let backup_entry_lba = h.partition_entry_lba;
            std::mem::swap(&mut h.primary_lba, &mut h.backup_lba);
            h.partition_entry_lba = 2;
            (gpt, backup_entry_lba, raw)
        }
    };
    let decoded = gpt.iter().map(|(_, e)| e.clone()).collect();
    Ok(Some(GptLayout {
        gpt,
        pmbr,
        backup_entry_lba,
        read: Some(ReadEntries { raw, decoded }),
    }))
}

fn gptman_failure<D: BlockDevice + ?Sized>(
    ctx: &Ctx,
    cache: &mut DiskCache<'_, D>,
    e: gptman::Error,
) -> crate::Error {
    match cache.take_error() {
        Some(block) => ctx.block("reading the GPT", block),
        None => ctx
            .err(ErrorKind::Corrupt, "gptman could not read the GPT")
            .with_source(e),
    }
}

/// The smallest disk, in sectors, that holds a GPT with 128 entries and one
/// usable sector.
pub(crate) fn min_sectors(ss: u64) -> u64 {
    2 * (1 + array_sectors(128, ss)) + 2
}

impl GptLayout {
    /// A new empty GPT for a disk of `disk_sectors` sectors (checked by the caller
    /// against [`min_sectors`]).
    pub fn new<D: BlockDevice + ?Sized>(
        cache: &mut DiskCache<'_, D>,
        ss: u64,
        ctx: &Ctx,
    ) -> Result<Self> {
        let gpt = GPT::new_from(cache, ss, guid_to_disk(&random_guid()))
            .map_err(|e| gptman_failure(ctx, cache, e))?;
        // gptman's layout: the backup array right after the last usable LBA.
        let backup_entry_lba = gpt.header.last_usable_lba + 1;
        Ok(GptLayout {
            gpt,
            pmbr: Pmbr::Protective { bootable: false },
            backup_entry_lba,
            read: None,
        })
    }

    /// Number of entries in the array.
    pub fn capacity(&self) -> u32 {
        self.gpt.header.number_of_partition_entries
    }

    /// First and last usable sector.
    pub fn usable(&self) -> (u64, u64) {
        (
            self.gpt.header.first_usable_lba,
            self.gpt.header.last_usable_lba,
        )
    }

    /// Used entries as (number, entry).
    pub fn used(&self) -> impl Iterator<Item = (u32, &GPTPartitionEntry)> {
        self.gpt.iter().filter(|(_, e)| e.is_used())
    }

    /// The used entry `n`, or a not-found error.
    pub fn entry(&self, ctx: &Ctx, n: u32) -> Result<&GPTPartitionEntry> {
        if n >= 1 && n <= self.capacity() && self.gpt[n].is_used() {
            Ok(&self.gpt[n])
        } else {
            Err(ctx.err(ErrorKind::NotFound, format!("partition {n} does not exist")))
        }
    }

    /// The used entry `n`, mutable.
    pub fn entry_mut(&mut self, ctx: &Ctx, n: u32) -> Result<&mut GPTPartitionEntry> {
        self.entry(ctx, n)?;
        Ok(&mut self.gpt[n])
    }

    /// Refuse `start..=end` if it leaves the usable area or overlaps a partition
    /// other than `except`.
    fn check_range(&self, ctx: &Ctx, start: u64, end: u64, except: Option<u32>) -> Result<()> {
        let (first, last) = self.usable();
        if start < first {
            return Err(ctx.layout(format!(
                "sectors {start}..{end}: start is before the first usable sector {first}"
            )));
        }
        if end > last {
            return Err(ctx.layout(format!(
                "sectors {start}..{end}: end is past the last usable sector {last}"
            )));
        }
        for (n, e) in self.used() {
            if Some(n) != except && start <= e.ending_lba && e.starting_lba <= end {
                return Err(ctx.layout(format!(
                    "sectors {start}..{end} overlap partition {n} ({}..{})",
                    e.starting_lba, e.ending_lba
                )));
            }
        }
        Ok(())
    }

    /// Add a Linux-filesystem partition named `primary` (as parted's `mkpart
    /// primary`, which libguestfs runs, names it) in the lowest free entry;
    /// returns its number.
    pub fn add(&mut self, ctx: &Ctx, start: u64, end: u64) -> Result<u32> {
        self.check_range(ctx, start, end, None)?;
        let slot = (1..=self.capacity())
            .find(|&n| self.gpt[n].is_unused())
            .ok_or_else(|| {
                ctx.layout(format!(
                    "no free partition entry: this table holds at most {} partitions",
                    self.capacity()
                ))
            })?;
        let guid = self.fresh_guid();
        self.gpt[slot] = GPTPartitionEntry {
            partition_type_guid: guid_to_disk(&gpt_type::LINUX_FILESYSTEM),
            unique_partition_guid: guid_to_disk(&guid),
            starting_lba: start,
            ending_lba: end,
            attribute_bits: 0,
            partition_name: "primary".into(),
        };
        Ok(slot)
    }

    fn fresh_guid(&self) -> Uuid {
        loop {
            let g = random_guid();
            let raw = guid_to_disk(&g);
            if self.used().all(|(_, e)| e.unique_partition_guid != raw) {
                return g;
            }
        }
    }

    /// Remove partition `n`.
    pub fn delete(&mut self, ctx: &Ctx, n: u32) -> Result<()> {
        self.entry(ctx, n)?;
        self.gpt[n] = GPTPartitionEntry::empty();
        Ok(())
    }

    /// Move the end of partition `n` to `end`.
    pub fn resize(&mut self, ctx: &Ctx, n: u32, end: u64) -> Result<()> {
        let start = self.entry(ctx, n)?.starting_lba;
        if end < start {
            return Err(ctx.layout(format!(
                "endsect {end} is before the start of partition {n} (sector {start})"
            )));
        }
        self.check_range(ctx, start, end, Some(n))?;
        self.gpt[n].ending_lba = end;
        Ok(())
    }

    /// Set the unique GUID of partition `n` (not zero, not another partition's).
    pub fn set_guid(&mut self, ctx: &Ctx, n: u32, guid: &Uuid) -> Result<()> {
        self.entry(ctx, n)?;
        if guid.is_nil() {
            return Err(ctx.invalid("the all-zero GUID cannot be a partition GUID"));
        }
        let raw = guid_to_disk(guid);
        if let Some((other, _)) = self
            .used()
            .find(|(m, e)| *m != n && e.unique_partition_guid == raw)
        {
            return Err(ctx.layout(format!(
                "GUID {} is already the GUID of partition {other}",
                crate::format_guid(guid)
            )));
        }
        self.gpt[n].unique_partition_guid = raw;
        Ok(())
    }

    /// Put the backup header and entries at the end of a grown disk, as
    /// `sgdisk -e`; returns the LBA of the old backup header if it moved. The
    /// backup array keeps its distance from the backup header, and the last
    /// usable LBA its distance from the backup array.
    pub fn expand(&mut self, disk_sectors: u64) -> Option<u64> {
        let h = &mut self.gpt.header;
        let last = disk_sectors - 1;
        let old = h.backup_lba;
        // Both distances are positive: a read table was validated, a new one
        // is gptman's (array right before the header, right after the usable area).
        let header_gap = old - self.backup_entry_lba;
        let usable_gap = self.backup_entry_lba - h.last_usable_lba;
        h.backup_lba = last;
        self.backup_entry_lba = last - header_gap;
        h.last_usable_lba = self.backup_entry_lba - usable_gap;
        (old != last).then_some(old)
    }

    /// Whether sector 0 already holds a protective MBR covering the whole disk;
    /// it is then left exactly as it is (its CHS bytes are the writing tool's
    /// choice, and a no-op write stays byte-identical).
    fn pmbr_is_current<D: BlockDevice + ?Sized>(
        &self,
        cache: &mut DiskCache<'_, D>,
        ctx: &Ctx,
    ) -> Result<bool> {
        if self.pmbr == Pmbr::Hybrid {
            return Ok(true);
        }
        let raw = cache
            .read_vec(0, 512)
            .map_err(|e| ctx.block("reading the protective MBR", e))?;
        let e = crate::mbr::decode_entry(&raw[446..462]);
        let disk_sectors = cache.size() / self.gpt.sector_size;
        let want = u32::try_from(disk_sectors - 1).unwrap_or(u32::MAX);
        Ok(raw[510..512] == [0x55, 0xaa]
            && e.sys == 0xee
            && e.starting_lba == 1
            && e.sectors == want
            && raw[462..510].iter().all(|&b| b == 0))
    }

    /// Serialise both copies (and the protective MBR) into the cache.
    pub fn write<D: BlockDevice + ?Sized>(
        &mut self,
        cache: &mut DiskCache<'_, D>,
        ctx: &Ctx,
    ) -> Result<()> {
        let ss = self.gpt.sector_size;
        let fail = |cache: &mut DiskCache<'_, D>, e: gptman::Error| match cache.take_error() {
            Some(block) => ctx.block("writing the GPT", block),
            None => ctx
                .err(ErrorKind::Layout, "gptman refused the table")
                .with_source(e),
        };
        if let Some(problem) = crate::gpt_encode::check(&self.gpt) {
            return Err(ctx.err(
                ErrorKind::Layout,
                format!("refusing to write the GPT: {problem}"),
            ));
        }
        // Both copies, serialised here rather than through gptman's writer (which
        // allocates per entry to checksum the array, twice per write, and
        // re-encodes names from their lossy strings).
        let entries = crate::gpt_encode::encode_entries(&self.gpt, self.read.as_ref());
        let crc = crc32fast::hash(&entries);
        let primary = &self.gpt.header;
        let backup = crate::gpt_encode::backup_of(primary, self.backup_entry_lba);
        for h in [primary, &backup] {
            // The whole sector: zero past the header, as UEFI requires.
            let mut sector = vec![0u8; ss as usize];
            sector[..crate::gpt_encode::HEADER_SIZE]
                .copy_from_slice(&crate::gpt_encode::encode_header(h, crc));
            cache
                .write_all_at(&sector, h.primary_lba * ss)
                .map_err(|e| ctx.block("writing the GPT", e))?;
            cache
                .write_all_at(&entries, h.partition_entry_lba * ss)
                .map_err(|e| ctx.block("writing the GPT", e))?;
        }
        if self.pmbr_is_current(cache, ctx)? {
            return Ok(());
        }
        match self.pmbr {
            Pmbr::Protective { bootable: true } => {
                GPT::write_bootable_protective_mbr_into(cache, ss).map_err(|e| fail(cache, e))?
            }
            Pmbr::Protective { bootable: false } | Pmbr::Missing => {
                GPT::write_protective_mbr_into(cache, ss).map_err(|e| fail(cache, e))?
            }
            Pmbr::Hybrid => {}
        }
        self.pmbr = match self.pmbr {
            Pmbr::Missing => Pmbr::Protective { bootable: false },
            p => p,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(u64, u64, u8)]) -> Vec<u8> {
        let mut raw = vec![0u8; 128 * list.len()];
        for (i, &(s, e, guid)) in list.iter().enumerate() {
            let r = &mut raw[i * 128..(i + 1) * 128];
            r[..16].fill(1);
            r[16..32].fill(guid);
            r[32..40].copy_from_slice(&s.to_le_bytes());
            r[40..48].copy_from_slice(&e.to_le_bytes());
        }
        raw
    }

    #[test]
    fn entry_checks() {
        assert_eq!(check_entries(&entries(&[(34, 100, 1)]), 34, 1000), None);
        let mut raw = entries(&[(34, 100, 1), (0, 0, 0)]);
        raw[128..144].fill(0);
        assert_eq!(
            check_entries(&raw, 34, 1000),
            None,
            "unused entries are skipped"
        );
        let msg = check_entries(&entries(&[(100, 34, 1)]), 34, 1000).unwrap();
        assert!(
            msg.contains("ends (LBA 34) before it starts (LBA 100)"),
            "{msg}"
        );
        let msg = check_entries(&entries(&[(0, 10, 1)]), 34, 1000).unwrap();
        assert!(msg.contains("outside the usable sectors 34..1000"), "{msg}");
        let msg = check_entries(&entries(&[(34, 100, 1), (200, 300, 1)]), 34, 1000).unwrap();
        assert!(msg.contains("repeats the unique GUID"), "{msg}");
        let msg = check_entries(&entries(&[(34, 100, 1), (100, 300, 2)]), 34, 1000).unwrap();
        assert_eq!(msg, "partitions 1 (34..100) and 2 (100..300) overlap");
    }

    #[test]
    fn sizes() {
        assert_eq!(array_sectors(128, 512), 32);
        assert_eq!(array_sectors(128, 4096), 4);
        assert_eq!(array_sectors(1, 512), 1);
        assert_eq!(min_sectors(512), 68);
        assert_eq!(RESERVED_ATTRIBUTES, 0x0000_FFFF_FFFF_FFF8);
    }
}
