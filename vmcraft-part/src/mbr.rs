//! MBR ("msdos") tables through `mbrman`'s types: sector 0 is parsed and written by
//! `mbrman`'s `MBRHeader`; the extended boot record (EBR) chain of logical
//! partitions is walked and written here.
//!
//! Why not `mbrman::MBR::read_from`/`write_into` for the chain: the reader trusts
//! what it reads (a used entry at LBA 0 panics in its alignment guess, u32 sums
//! overflow), and the writer computes EBR byte offsets in `u32`, so every EBR past
//! 4 GiB would be written to the wrong place. The chain is simple enough to do
//! right: one EBR per logical partition, the first at the start of the extended
//! partition, each linking to the next with an entry relative to that start, the
//! logical partitions in disk order (which is how they are numbered from 5).

use std::io::Cursor;

use mbrman::{
    BOOT_ACTIVE, BOOT_INACTIVE, CHS, LogicalPartition, MBR, MBRHeader, MBRPartitionEntry,
};
use vmcraft_block::BlockDevice;

use crate::cache::DiskCache;
use crate::error::{Ctx, ErrorKind, Result};
use crate::types::PartKind;

/// The default id of a new primary or logical partition (Linux).
pub(crate) const ID_LINUX: u8 = 0x83;
/// The id of a new extended partition (W95 extended, LBA), as parted writes it.
pub(crate) const ID_EXTENDED: u8 = 0x0f;
/// The id of the protective MBR entry of a GPT.
const ID_GPT_PROTECTIVE: u8 = 0xee;
/// Link entries in EBRs use the plain extended id, as fdisk and parted write them.
const ID_LINK: u8 = 0x05;
/// The kernel handles at most 256 partitions per disk.
const MAX_LOGICALS: usize = 252;
/// The most extended boot records a chain may have, counting every one visited,
/// empty ones too (a chain of empty EBRs describes nothing but would otherwise
/// be walked to the end of an extended partition of up to 2^32 sectors).
/// Enough for [`MAX_LOGICALS`] logical partitions and an empty first EBR.
pub(crate) const MAX_EBRS: usize = 256;
const SIGNATURE: [u8; 2] = [0x55, 0xaa];
/// The last sector a 32-bit MBR or EBR field addresses: no logical partition or
/// EBR is accepted past it (an extended partition may end past it on a disk of
/// more than 2 TiB, but nothing in it may lie there).
const LAST_ADDRESSABLE: u64 = u32::MAX as u64;

/// Whether an MBR id marks an extended partition (as the kernel and fdisk see it).
pub(crate) fn is_extended_id(id: u8) -> bool {
    matches!(id, 0x05 | 0x0f | 0x85)
}

/// What sector 0 holds.
#[derive(Debug, Clone)]
pub(crate) enum Sector0 {
    /// No 0x55AA signature.
    Blank,
    /// A signature, but not a partition table (a filesystem boot sector, boot
    /// flags that are neither 0x00 nor 0x80).
    NotATable,
    /// A GPT protective MBR.
    Protective { bootable: bool },
    /// A GPT hybrid MBR (0xEE plus other entries).
    Hybrid,
    /// An msdos table.
    Msdos(Box<MBRHeader>),
}

impl Sector0 {
    /// Whether this sector's first 440 bytes are boot code worth keeping.
    pub fn has_boot_code(&self) -> bool {
        !matches!(self, Sector0::Blank | Sector0::NotATable)
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

fn decode_chs(b: &[u8]) -> CHS {
    CHS {
        head: b[0],
        sector: b[1] & 0x3f,
        cylinder: (u16::from(b[1] & 0xc0) << 2) | u16::from(b[2]),
    }
}

fn encode_chs(c: &CHS) -> [u8; 3] {
    [
        c.head,
        (c.sector & 0x3f) | (((c.cylinder >> 8) as u8 & 0x03) << 6),
        c.cylinder as u8,
    ]
}

pub(crate) fn decode_entry(b: &[u8]) -> MBRPartitionEntry {
    MBRPartitionEntry {
        boot: b[0],
        first_chs: decode_chs(&b[1..4]),
        sys: b[4],
        last_chs: decode_chs(&b[5..8]),
        starting_lba: le32(&b[8..12]),
        sectors: le32(&b[12..16]),
    }
}

fn encode_entry(e: &MBRPartitionEntry) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[0] = e.boot;
    out[1..4].copy_from_slice(&encode_chs(&e.first_chs));
    out[4] = e.sys;
    out[5..8].copy_from_slice(&encode_chs(&e.last_chs));
    out[8..12].copy_from_slice(&e.starting_lba.to_le_bytes());
    out[12..16].copy_from_slice(&e.sectors.to_le_bytes());
    out
}

/// The CHS address of `lba` in the 255-head, 63-sector geometry fdisk and parted
/// use; (1023, 254, 63) past the 8 GiB CHS limit.
pub(crate) fn chs_of(lba: u64) -> CHS {
    const PER_CYL: u64 = 255 * 63;
    let cyl = lba / PER_CYL;
    if cyl > 1023 {
        return CHS::new(1023, 254, 63);
    }
    let rem = lba % PER_CYL;
    CHS::new(cyl as u16, (rem / 63) as u8, (rem % 63 + 1) as u8)
}

/// An entry for sectors `start..=end` with id `sys`.
fn new_entry(sys: u8, start: u64, end: u64) -> MBRPartitionEntry {
    MBRPartitionEntry {
        boot: BOOT_INACTIVE,
        first_chs: chs_of(start),
        sys,
        last_chs: chs_of(end),
        starting_lba: start as u32,
        sectors: (end - start + 1) as u32,
    }
}

/// A filesystem boot sector (FAT, NTFS, exFAT) that also ends in 0x55AA.
fn looks_like_boot_sector(raw: &[u8]) -> bool {
    let jump = raw[0] == 0xeb && raw[2] == 0x90 || raw[0] == 0xe9;
    jump && (&raw[3..11] == b"NTFS    "
        || &raw[3..11] == b"EXFAT   "
        || &raw[0x36..0x39] == b"FAT"
        || &raw[0x52..0x55] == b"FAT")
}

/// Classify the first 512 bytes of a disk.
pub(crate) fn classify(raw: &[u8]) -> Sector0 {
    if raw[510..512] != SIGNATURE {
        return Sector0::Blank;
    }
    let entries: Vec<MBRPartitionEntry> = (0..4)
        .map(|i| decode_entry(&raw[446 + 16 * i..462 + 16 * i]))
        .collect();
    if let Some(ee) = entries.iter().find(|e| e.sys == ID_GPT_PROTECTIVE) {
        return if entries.iter().filter(|e| e.sys != 0).count() == 1 {
            Sector0::Protective {
                bootable: ee.boot == BOOT_ACTIVE,
            }
        } else {
            Sector0::Hybrid
        };
    }
    if entries
        .iter()
        .any(|e| e.boot != BOOT_ACTIVE && e.boot != BOOT_INACTIVE)
    {
        return Sector0::NotATable;
    }
    if entries.iter().all(|e| e.sys == 0) && looks_like_boot_sector(raw) {
        return Sector0::NotATable;
    }
    match MBRHeader::read_from(&mut Cursor::new(raw)) {
        Ok(h) => Sector0::Msdos(Box::new(h)),
        Err(_) => Sector0::NotATable,
    }
}

/// An msdos table held in memory: `mbr.header` is sector 0, and
/// `mbr.logical_partitions` are the logical partitions in disk order, with
/// absolute start sectors and the absolute sector of each one's EBR.
#[derive(Debug, Clone)]
pub(crate) struct MbrLayout {
    pub mbr: MBR,
    disk_sectors: u64,
    /// The extended partition's start when the table was read, so a moved or
    /// deleted extended partition's EBR is not left behind looking valid.
    read_ext_start: Option<u64>,
}

/// Sectors `start..=end` of a used entry.
fn span(e: &MBRPartitionEntry) -> (u64, u64) {
    let s = u64::from(e.starting_lba);
    (s, s + u64::from(e.sectors) - 1)
}

fn container(ss: u64, disk_sectors: u64, header: MBRHeader) -> MBR {
    MBR {
        sector_size: ss as u32,
        header,
        logical_partitions: Vec::new(),
        align: 2048,
        cylinders: 0,
        heads: 0,
        sectors: 0,
        disk_size: u32::try_from(disk_sectors).unwrap_or(u32::MAX),
    }
}

impl MbrLayout {
    /// A new empty table with a random disk signature, keeping `boot_code`.
    pub fn new(ss: u64, disk_sectors: u64, boot_code: Option<&[u8]>) -> Self {
        let sig = *crate::types::random_guid().as_bytes();
        let mut header = MBRHeader::new([sig[0], sig[1], sig[2], sig[3]]);
        if let Some(code) = boot_code {
            header.bootstrap_code.copy_from_slice(&code[..440]);
        }
        MbrLayout {
            mbr: container(ss, disk_sectors, header),
            disk_sectors,
            read_ext_start: None,
        }
    }

    /// Read and validate the table whose sector 0 is `header`.
    pub fn read<D: BlockDevice + ?Sized>(
        cache: &mut DiskCache<'_, D>,
        ss: u64,
        disk_sectors: u64,
        mut header: MBRHeader,
        ctx: &Ctx,
    ) -> Result<Self> {
        // An entry with an id but no sectors is unused (the kernel skips it too).
        for i in 1..=4 {
            let e = &mut header[i];
            if e.sys != 0 && e.sectors == 0 {
                *e = MBRPartitionEntry::empty();
            }
        }
        let mut used: Vec<(u64, u64, usize)> = Vec::new();
        let mut extended: Option<(usize, u64, u64)> = None;
        for (n, e) in header.iter().filter(|(_, e)| e.is_used()) {
            let (s, t) = span(e);
            if s == 0 {
                return Err(ctx.corrupt(format!(
                    "partition {n} starts at sector 0, which holds the partition table"
                )));
            }
            if t >= disk_sectors {
                return Err(ctx.corrupt(format!(
                    "partition {n} (sectors {s}..{t}) extends past the end of the disk ({disk_sectors} sectors)"
                )));
            }
            if is_extended_id(e.sys) {
                if let Some((m, _, _)) = extended {
                    return Err(ctx.corrupt(format!(
                        "partitions {m} and {n} are both extended partitions"
                    )));
                }
                extended = Some((n, s, t));
            }
            used.push((s, t, n));
        }
        used.sort_unstable();
        for w in used.windows(2) {
            if w[1].0 <= w[0].1 {
                return Err(ctx.corrupt(format!(
                    "partitions {} ({}..{}) and {} ({}..{}) overlap",
                    w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1
                )));
            }
        }
        let mut mbr = container(ss, disk_sectors, header);
        if let Some((_, s, t)) = extended {
            mbr.logical_partitions = read_chain(cache, ss, s, t, ctx)?;
        }
        Ok(MbrLayout {
            mbr,
            disk_sectors,
            read_ext_start: extended.map(|(_, s, _)| s),
        })
    }

    /// The extended partition: (number, first sector, last sector).
    pub fn extended(&self) -> Option<(u32, u64, u64)> {
        self.mbr
            .header
            .iter()
            .find(|(_, e)| e.is_used() && is_extended_id(e.sys))
            .map(|(n, e)| {
                let (s, t) = span(e);
                (n as u32, s, t)
            })
    }

    /// Every partition: (number, kind, entry with an absolute start).
    pub fn used(&self) -> Vec<(u32, PartKind, &MBRPartitionEntry)> {
        let mut out: Vec<(u32, PartKind, &MBRPartitionEntry)> = self
            .mbr
            .header
            .iter()
            .filter(|(_, e)| e.is_used())
            .map(|(n, e)| {
                let kind = if is_extended_id(e.sys) {
                    PartKind::Extended
                } else {
                    PartKind::Primary
                };
                (n as u32, kind, e)
            })
            .collect();
        out.extend(
            self.mbr
                .logical_partitions
                .iter()
                .enumerate()
                .map(|(i, l)| (5 + i as u32, PartKind::Logical, &l.partition)),
        );
        out
    }

    /// The entry of partition `n`, or a not-found error.
    pub fn entry(&self, ctx: &Ctx, n: u32) -> Result<(PartKind, &MBRPartitionEntry)> {
        self.used()
            .into_iter()
            .find(|(m, _, _)| *m == n)
            .map(|(_, k, e)| (k, e))
            .ok_or_else(|| ctx.err(ErrorKind::NotFound, format!("partition {n} does not exist")))
    }

    fn entry_mut(&mut self, n: u32) -> &mut MBRPartitionEntry {
        if n <= 4 {
            &mut self.mbr.header[n as usize]
        } else {
            &mut self.mbr.logical_partitions[n as usize - 5].partition
        }
    }

    fn check_addressable(&self, ctx: &Ctx, start: u64, end: u64) -> Result<()> {
        if start == 0 {
            return Err(ctx.layout(format!(
                "sectors {start}..{end}: sector 0 holds the partition table"
            )));
        }
        let last = self.disk_sectors - 1;
        if end > last {
            return Err(ctx.layout(format!(
                "sectors {start}..{end}: end is past the last sector {last}"
            )));
        }
        if end > u64::from(u32::MAX) {
            return Err(ctx.layout(format!(
                "sectors {start}..{end}: an msdos table cannot address sectors past {}",
                u32::MAX
            )));
        }
        Ok(())
    }

    fn overlapping_primary(&self, start: u64, end: u64, except: u32) -> Option<(usize, u64, u64)> {
        self.mbr
            .header
            .iter()
            .filter(|(n, e)| e.is_used() && *n as u32 != except)
            .map(|(n, e)| {
                let (s, t) = span(e);
                (n, s, t)
            })
            .find(|&(_, s, t)| start <= t && s <= end)
    }

    /// Add a partition of `kind` on sectors `start..=end`; returns its number.
    pub fn add(&mut self, ctx: &Ctx, kind: PartKind, start: u64, end: u64) -> Result<u32> {
        self.check_addressable(ctx, start, end)?;
        match kind {
            PartKind::Primary | PartKind::Extended => {
                if kind == PartKind::Extended
                    && let Some((n, _, _)) = self.extended()
                {
                    return Err(ctx.layout(format!(
                        "partition {n} is already an extended partition, and a table holds only one"
                    )));
                }
                if let Some((n, s, t)) = self.overlapping_primary(start, end, 0) {
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end} overlap partition {n} ({s}..{t})"
                    )));
                }
                let slot = (1..=4)
                    .find(|&i| self.mbr.header[i].is_unused())
                    .ok_or_else(|| {
                        ctx.layout(
                            "all four primary partition slots are in use (add logical partitions inside an extended partition instead)",
                        )
                    })?;
                let id = if kind == PartKind::Extended {
                    ID_EXTENDED
                } else {
                    ID_LINUX
                };
                self.mbr.header[slot] = new_entry(id, start, end);
                Ok(slot as u32)
            }
            PartKind::Logical => {
                let Some((x, es, et)) = self.extended() else {
                    return Err(ctx.layout(
                        "there is no extended partition to hold a logical partition (add one with part_add e first)",
                    ));
                };
                if start <= es {
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end}: a logical partition must start after sector {es}, where the extended partition {x} keeps its first extended boot record"
                    )));
                }
                if end > et {
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end} run past the end of the extended partition {x} ({es}..{et})"
                    )));
                }
                if self.mbr.logical_partitions.len() >= MAX_LOGICALS {
                    return Err(ctx.layout(format!(
                        "no room for another logical partition: the kernel handles at most {MAX_LOGICALS}"
                    )));
                }
                for (i, l) in self.mbr.logical_partitions.iter().enumerate() {
                    let (s, t) = span(&l.partition);
                    if start <= t && s <= end {
                        return Err(ctx.layout(format!(
                            "sectors {start}..{end} overlap partition {} ({s}..{t})",
                            5 + i
                        )));
                    }
                }
                let mut logicals = self.mbr.logical_partitions.clone();
                logicals.push(LogicalPartition {
                    partition: new_entry(ID_LINUX, start, end),
                    absolute_ebr_lba: 0,
                    ebr_sectors: None,
                    ebr_first_chs: CHS::empty(),
                    ebr_last_chs: None,
                    bootstrap_code: [0; 446],
                });
                logicals.sort_by_key(|l| l.partition.starting_lba);
                place_ebrs(&mut logicals, es).map_err(|i| {
                    let (s, _) = span(&logicals[i].partition);
                    let (_, pt) = span(&logicals[i - 1].partition);
                    ctx.layout(format!(
                        "sectors {start}..{end}: no free sector between sector {pt} and sector {s} for the extended boot record of the logical partition at sector {s}"
                    ))
                })?;
                let index = logicals
                    .iter()
                    .position(|l| u64::from(l.partition.starting_lba) == start)
                    .expect("just inserted");
                self.mbr.logical_partitions = logicals;
                Ok(5 + index as u32)
            }
        }
    }

    /// Delete partition `n`; deleting the extended partition deletes its logical
    /// partitions, and the logical partitions after a deleted one move down a number.
    pub fn delete(&mut self, ctx: &Ctx, n: u32) -> Result<()> {
        let (kind, _) = self.entry(ctx, n)?;
        match kind {
            PartKind::Logical => {
                self.mbr.logical_partitions.remove(n as usize - 5);
                let es = self.extended().map(|(_, s, _)| s).unwrap_or(0);
                place_ebrs(&mut self.mbr.logical_partitions, es)
                    .expect("removing a logical partition frees room");
            }
            PartKind::Extended => {
                self.mbr.logical_partitions.clear();
                self.mbr.header[n as usize] = MBRPartitionEntry::empty();
            }
            PartKind::Primary => self.mbr.header[n as usize] = MBRPartitionEntry::empty(),
        }
        Ok(())
    }

    /// Move the end of partition `n` to `end`.
    pub fn resize(&mut self, ctx: &Ctx, n: u32, end: u64) -> Result<()> {
        let (kind, e) = self.entry(ctx, n)?;
        let (start, _) = span(e);
        if end < start {
            return Err(ctx.layout(format!(
                "endsect {end} is before the start of partition {n} (sector {start})"
            )));
        }
        self.check_addressable(ctx, start, end)?;
        match kind {
            PartKind::Primary | PartKind::Extended => {
                if let Some((m, s, t)) = self.overlapping_primary(start, end, n) {
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end} overlap partition {m} ({s}..{t})"
                    )));
                }
                if kind == PartKind::Extended
                    && let Some((i, l)) = self
                        .mbr
                        .logical_partitions
                        .iter()
                        .enumerate()
                        .find(|(_, l)| span(&l.partition).1 > end)
                {
                    let (s, t) = span(&l.partition);
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end}: the extended partition must still hold partition {} ({s}..{t})",
                        5 + i
                    )));
                }
            }
            PartKind::Logical => {
                let (x, es, et) = self
                    .extended()
                    .expect("a logical partition has an extended one");
                if end > et {
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end} run past the end of the extended partition {x} ({es}..{et})"
                    )));
                }
                let i = n as usize - 5;
                if let Some(next) = self.mbr.logical_partitions.get(i + 1)
                    && end >= u64::from(next.absolute_ebr_lba)
                {
                    return Err(ctx.layout(format!(
                        "sectors {start}..{end} overlap the extended boot record of partition {} at sector {}",
                        n + 1,
                        next.absolute_ebr_lba
                    )));
                }
            }
        }
        let e = self.entry_mut(n);
        e.sectors = (end - start + 1) as u32;
        e.last_chs = chs_of(end);
        Ok(())
    }

    /// Set or clear the active flag of `n`; setting it clears it everywhere else,
    /// as parted does.
    pub fn set_bootable(&mut self, ctx: &Ctx, n: u32, on: bool) -> Result<()> {
        let (kind, _) = self.entry(ctx, n)?;
        if kind == PartKind::Extended {
            return Err(ctx.layout(format!(
                "partition {n} is the extended partition, which cannot be bootable"
            )));
        }
        if on {
            for (_, e) in self.mbr.iter_mut() {
                e.boot = BOOT_INACTIVE;
            }
        }
        self.entry_mut(n).boot = if on { BOOT_ACTIVE } else { BOOT_INACTIVE };
        Ok(())
    }

    /// Set the id byte of `n`; an id cannot turn a partition into or out of being
    /// the extended one.
    pub fn set_id(&mut self, ctx: &Ctx, n: u32, id: u8) -> Result<()> {
        let (kind, _) = self.entry(ctx, n)?;
        if id == 0 {
            return Err(
                ctx.invalid("id 0x0 marks an unused entry (use part_del to delete a partition)")
            );
        }
        if id == ID_GPT_PROTECTIVE {
            return Err(
                ctx.invalid("id 0xee marks a GPT protective MBR; use part_init gpt for a GPT")
            );
        }
        match (kind, is_extended_id(id)) {
            (PartKind::Extended, false) => {
                return Err(ctx.layout(format!(
                    "partition {n} is the extended partition, and id {id:#x} is not an extended id"
                )));
            }
            (PartKind::Primary | PartKind::Logical, true) => {
                return Err(ctx.layout(format!(
                    "id {id:#x} would make partition {n} an extended partition"
                )));
            }
            _ => {}
        }
        self.entry_mut(n).sys = id;
        Ok(())
    }

    /// Serialise sector 0 and the EBR chain into the cache.
    pub fn write<D: BlockDevice + ?Sized>(
        &mut self,
        cache: &mut DiskCache<'_, D>,
        ctx: &Ctx,
    ) -> Result<()> {
        let ss = u64::from(self.mbr.sector_size);
        if let Some((_, es, _)) = self.extended() {
            // Tables read from disk may start their chain with an empty EBR; the
            // chain written always starts with the first logical partition's.
            place_ebrs(&mut self.mbr.logical_partitions, es)
                .map_err(|_| ctx.layout("no room for the extended boot records"))?;
        }
        let io = |cache: &mut DiskCache<'_, D>, e: Option<vmcraft_block::Error>| match e
            .or_else(|| cache.take_error())
        {
            Some(b) => ctx.block("writing the msdos table", b),
            None => ctx.err(ErrorKind::Layout, "mbrman refused the table"),
        };
        self.mbr
            .header
            .write_into(cache)
            .map_err(|e| io(cache, None).with_source(e))?;
        let extended = self.extended();
        // An extended partition that moved or went away must not leave a valid
        // EBR chain behind at its old start (a new extended partition there
        // would bring its logical partitions back).
        if let Some(old) = self.read_ext_start
            && extended.is_none_or(|(_, s, _)| s != old)
        {
            let mut raw = cache
                .read_vec(old * ss, 512)
                .map_err(|e| io(cache, Some(e)))?;
            if raw[510..512] == SIGNATURE {
                raw[510..512].copy_from_slice(&[0, 0]);
                cache
                    .write_all_at(&raw, old * ss)
                    .map_err(|e| io(cache, Some(e)))?;
            }
        }
        let Some((_, es, _)) = extended else {
            self.read_ext_start = None;
            return Ok(());
        };
        let logicals = &self.mbr.logical_partitions;
        if logicals.is_empty() {
            // An empty EBR: a chain with no logical partitions.
            let mut raw = [0u8; 512];
            raw[510..512].copy_from_slice(&SIGNATURE);
            cache
                .write_all_at(&raw, es * ss)
                .map_err(|e| io(cache, Some(e)))?;
        }
        for (i, l) in logicals.iter().enumerate() {
            let ebr = u64::from(l.absolute_ebr_lba);
            let mut raw = [0u8; 512];
            raw[..446].copy_from_slice(&l.bootstrap_code);
            let mut own = l.partition.clone();
            own.starting_lba = l.partition.starting_lba - l.absolute_ebr_lba;
            raw[446..462].copy_from_slice(&encode_entry(&own));
            if let Some(next) = logicals.get(i + 1) {
                let nebr = u64::from(next.absolute_ebr_lba);
                let (_, nend) = span(&next.partition);
                let link = MBRPartitionEntry {
                    boot: BOOT_INACTIVE,
                    first_chs: chs_of(nebr),
                    sys: ID_LINK,
                    last_chs: chs_of(nend),
                    starting_lba: (nebr - es) as u32,
                    sectors: (nend - nebr + 1) as u32,
                };
                raw[462..478].copy_from_slice(&encode_entry(&link));
            }
            raw[510..512].copy_from_slice(&SIGNATURE);
            cache
                .write_all_at(&raw, ebr * ss)
                .map_err(|e| io(cache, Some(e)))?;
        }
        self.read_ext_start = Some(es);
        Ok(())
    }
}

/// Give each logical partition (sorted by start) a sector for its EBR: the first
/// one's is the extended partition's first sector; the others keep theirs if it
/// still lies between the previous partition and their own start, else take the
/// sector just before their start. `Err(i)` when logical `i` has no room.
fn place_ebrs(logicals: &mut [LogicalPartition], ext_start: u64) -> std::result::Result<(), usize> {
    for i in 0..logicals.len() {
        let start = u64::from(logicals[i].partition.starting_lba);
        let ebr = if i == 0 {
            ext_start
        } else {
            let prev_end = span(&logicals[i - 1].partition).1;
            let old = u64::from(logicals[i].absolute_ebr_lba);
            if old > prev_end && old < start {
                old
            } else if start - 1 > prev_end {
                start - 1
            } else {
                return Err(i);
            }
        };
        logicals[i].absolute_ebr_lba = ebr as u32;
        logicals[i].ebr_first_chs = chs_of(ebr);
        logicals[i].ebr_sectors =
            (i > 0).then(|| (span(&logicals[i].partition).1 - ebr + 1) as u32);
    }
    Ok(())
}

/// Walk the EBR chain of the extended partition at `es..=et`. Each link must
/// point forward (so the chain cannot loop), inside the extended partition, and
/// the chain may hold at most [`MAX_EBRS`] records, empty ones included. No EBR
/// and no logical partition may lie past sector 2^32 - 1 (the absolute sectors
/// are kept in 32 bits).
fn read_chain<D: BlockDevice + ?Sized>(
    cache: &mut DiskCache<'_, D>,
    ss: u64,
    es: u64,
    et: u64,
    ctx: &Ctx,
) -> Result<Vec<LogicalPartition>> {
    let mut out: Vec<LogicalPartition> = Vec::new();
    let mut ebr = es;
    let mut first = true;
    let mut visited = 0usize;
    loop {
        visited += 1;
        if visited > MAX_EBRS {
            return Err(ctx.corrupt(format!(
                "the extended boot record chain is longer than {MAX_EBRS} records (record {visited} at sector {ebr})"
            )));
        }
        let raw = cache
            .read_vec(ebr * ss, 512)
            .map_err(|e| ctx.block("reading the extended boot records", e))?;
        if raw[510..512] != SIGNATURE {
            if first {
                break;
            }
            return Err(ctx.corrupt(format!(
                "the extended boot record at sector {ebr} has no 0x55AA signature"
            )));
        }
        let own = decode_entry(&raw[446..462]);
        let link = decode_entry(&raw[462..478]);
        if own.sys != 0 && own.sectors != 0 {
            let n = 5 + out.len();
            if own.boot != BOOT_ACTIVE && own.boot != BOOT_INACTIVE {
                return Err(ctx.corrupt(format!(
                    "partition {n} has the invalid boot flag {:#04x}",
                    own.boot
                )));
            }
            if own.starting_lba == 0 {
                return Err(ctx.corrupt(format!(
                    "partition {n} starts on its own extended boot record (sector {ebr})"
                )));
            }
            if is_extended_id(own.sys) {
                return Err(ctx.corrupt(format!(
                    "the extended boot record at sector {ebr} describes a nested extended partition"
                )));
            }
            // Both terms are at most 2^32 - 1 (ebr was checked): no overflow.
            let start = ebr + u64::from(own.starting_lba);
            let end = start + u64::from(own.sectors) - 1;
            if end > et {
                return Err(ctx.corrupt(format!(
                    "partition {n} (sectors {start}..{end}) extends past the extended partition ({es}..{et})"
                )));
            }
            // Logical partitions are kept (as mbrman's types have them) in 32
            // bits; a chain can reach further, and that is refused, never
            // truncated into a listing or a write at the wrong sector.
            if end > LAST_ADDRESSABLE {
                return Err(ctx.corrupt(format!(
                    "partition {n} (sectors {start}..{end}) lies past sector {LAST_ADDRESSABLE}, the last an msdos table can address"
                )));
            }
            if let Some(prev) = out.last() {
                let (ps, pt) = span(&prev.partition);
                if ebr <= pt {
                    return Err(ctx.corrupt(format!(
                        "the extended boot record of partition {n} (sector {ebr}) lies inside partition {} ({ps}..{pt})",
                        n - 1
                    )));
                }
            }
            if out.len() >= MAX_LOGICALS {
                return Err(ctx.corrupt(format!(
                    "more than {MAX_LOGICALS} logical partitions in the extended boot record chain"
                )));
            }
            let mut bootstrap_code = [0u8; 446];
            bootstrap_code.copy_from_slice(&raw[..446]);
            out.push(LogicalPartition {
                partition: MBRPartitionEntry {
                    starting_lba: start as u32,
                    ..own
                },
                absolute_ebr_lba: ebr as u32,
                ebr_sectors: None,
                ebr_first_chs: chs_of(ebr),
                ebr_last_chs: None,
                bootstrap_code,
            });
        }
        if !is_extended_id(link.sys) || link.sectors == 0 {
            break;
        }
        let next = es + u64::from(link.starting_lba);
        if next <= ebr {
            return Err(ctx.corrupt(format!(
                "the extended boot record at sector {ebr} links back to sector {next}"
            )));
        }
        if next > et {
            return Err(ctx.corrupt(format!(
                "the extended boot record at sector {ebr} links to sector {next}, past the extended partition ({es}..{et})"
            )));
        }
        if next > LAST_ADDRESSABLE {
            return Err(ctx.corrupt(format!(
                "the extended boot record at sector {next} lies past sector {LAST_ADDRESSABLE}, the last an msdos table can address"
            )));
        }
        if let Some(prev) = out.last() {
            let (ps, pt) = span(&prev.partition);
            if next <= pt {
                return Err(ctx.corrupt(format!(
                    "the extended boot record at sector {next} lies inside partition {} ({ps}..{pt})",
                    4 + out.len()
                )));
            }
        }
        ebr = next;
        first = false;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chs_encoding_round_trips() {
        for lba in [
            0u64, 1, 62, 63, 2048, 16_065, 1_000_000, 16_450_559, 99_999_999,
        ] {
            let c = chs_of(lba);
            let back = decode_chs(&encode_chs(&c));
            assert_eq!(back, c, "lba {lba}");
        }
        assert_eq!(chs_of(2048), CHS::new(0, 32, 33));
        assert_eq!(encode_chs(&chs_of(1 << 40)), [0xfe, 0xff, 0xff]);
    }

    #[test]
    fn entries_round_trip() {
        let e = new_entry(0x83, 2048, 206_847);
        let back = decode_entry(&encode_entry(&e));
        assert_eq!(back, e);
        assert_eq!(&encode_entry(&e)[8..], &[0, 8, 0, 0, 0, 0x20, 3, 0]);
    }

    #[test]
    fn classification() {
        let mut raw = [0u8; 512];
        assert!(matches!(classify(&raw), Sector0::Blank));
        raw[510] = 0x55;
        raw[511] = 0xaa;
        assert!(matches!(classify(&raw), Sector0::Msdos(_)));
        raw[446 + 4] = 0xee;
        assert!(matches!(
            classify(&raw),
            Sector0::Protective { bootable: false }
        ));
        raw[462 + 4] = 0x83;
        assert!(matches!(classify(&raw), Sector0::Hybrid));
        let mut raw = [0u8; 512];
        raw[510..].copy_from_slice(&SIGNATURE);
        raw[446] = 0x12;
        assert!(matches!(classify(&raw), Sector0::NotATable));
        // A FAT boot sector.
        let mut raw = [0u8; 512];
        raw[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        raw[0x36..0x39].copy_from_slice(b"FAT");
        raw[510..].copy_from_slice(&SIGNATURE);
        assert!(matches!(classify(&raw), Sector0::NotATable));
        assert!(!classify(&raw).has_boot_code());
    }

    #[test]
    fn ebr_placement() {
        let l = |s: u64, e: u64| LogicalPartition {
            partition: new_entry(0x83, s, e),
            absolute_ebr_lba: 0,
            ebr_sectors: None,
            ebr_first_chs: CHS::empty(),
            ebr_last_chs: None,
            bootstrap_code: [0; 446],
        };
        let mut v = vec![l(2050, 3000), l(3002, 4000), l(6000, 7000)];
        place_ebrs(&mut v, 2048).unwrap();
        let ebrs: Vec<u32> = v.iter().map(|l| l.absolute_ebr_lba).collect();
        assert_eq!(ebrs, [2048, 3001, 5999]);
        assert_eq!(v[1].ebr_sectors, Some(1000));
        // An EBR that still fits stays where it is.
        v[2].absolute_ebr_lba = 4500;
        place_ebrs(&mut v, 2048).unwrap();
        assert_eq!(v[2].absolute_ebr_lba, 4500);
        let mut v = vec![l(2050, 3000), l(3001, 4000)];
        assert_eq!(place_ebrs(&mut v, 2048), Err(1));
    }
}
