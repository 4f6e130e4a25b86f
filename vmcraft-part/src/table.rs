//! [`PartitionTable`]: the typed layer. Read a table once, make any number of
//! validated edits in memory, write it once. The libguestfs `part_*` calls are
//! each one read, one edit, one write on top of it.
//!
//! Every edit is checked when it is made, against the whole table; a refused edit
//! changes nothing, not even in memory. [`PartitionTable::write`] builds the
//! complete new table (both GPT copies and the protective MBR, or sector 0 and the
//! EBR chain) in a write-back cache, checks that the kernel can follow (no
//! partition it would have to drop is in use), and only then writes, flushes, and
//! brings the kernel's partitions in line when the device is a kernel block device.
//! Should the kernel refuse a step all the same (something opened a partition
//! after the check), the old table's bytes are put back and the kernel's
//! partitions restored, and the error says so: the table and the kernel change
//! together or not at all.

use gptman::GPTPartitionEntry;
use uuid::Uuid;
use vmcraft_block::BlockDevice;

use crate::cache::DiskCache;
use crate::error::{Ctx, ErrorKind, Result};
use crate::gpt::{self, GptLayout, Pmbr};
use crate::kernel::{self, Wanted};
use crate::mbr::{self, MbrLayout, Sector0};
use crate::types::{PartInfo, PartKind, PartType, gpt_type, guid_from_disk, guid_to_disk};

#[derive(Debug, Clone)]
enum Layout {
    Gpt(GptLayout),
    Msdos(Box<MbrLayout>),
}

/// A GPT or msdos partition table read from (or made for) one device.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::{PartitionTable, PartType, PartKind};
/// let disk = MemoryDisk::new(64 << 20);
/// let mut table = PartitionTable::new(&disk, PartType::Gpt)?;
/// let n = table.add(PartKind::Primary, 2048, 34815)?;
/// table.set_name(n, "boot")?;
/// table.add(PartKind::Primary, 34816, -1)?;
/// table.write(&disk)?;
///
/// let table = PartitionTable::read(&disk)?;
/// let parts = table.partitions();
/// assert_eq!(parts.len(), 2);
/// assert_eq!(parts[0].name.as_deref(), Some("boot"));
/// assert_eq!(parts[1].end, table.usable_sectors().1);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PartitionTable {
    device: String,
    sector_size: u64,
    disk_sectors: u64,
    layout: Layout,
    warnings: Vec<String>,
    /// Sectors to zero on the next write: headers of a table this one replaces.
    wipe: Vec<u64>,
    /// Clear the first 440 bytes of sector 0 on the next write (a fresh label
    /// over something that was not a partition table).
    clear_boot_code: bool,
}

/// Device geometry: (size in bytes, sector size, number of sectors).
fn geometry<D: BlockDevice + ?Sized>(dev: &D, ctx: &Ctx) -> Result<(u64, u64, u64)> {
    let size = dev
        .size()
        .map_err(|e| ctx.block("reading the device size", e))?;
    let ss = u64::from(
        dev.logical_sector_size()
            .map_err(|e| ctx.block("reading the sector size", e))?,
    );
    if ss < 512 || !ss.is_power_of_two() {
        return Err(ctx.invalid(format!("unsupported sector size {ss}")));
    }
    Ok((size, ss, size / ss))
}

impl PartitionTable {
    /// Read the table on `dev`. A device without one is an
    /// [`ErrorKind::Unpartitioned`] error; a damaged one [`ErrorKind::Corrupt`]
    /// (a GPT whose primary header is damaged but whose backup is sound is read
    /// from the backup, with a [`warning`](Self::warnings)). Nothing is written.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// assert_eq!(PartitionTable::read(&disk).unwrap_err().kind(), ErrorKind::Unpartitioned);
    /// part_disk(&disk, "msdos")?;
    /// assert_eq!(PartitionTable::read(&disk)?.parttype(), PartType::Msdos);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn read<D: BlockDevice + ?Sized>(dev: &D) -> Result<Self> {
        Self::read_as(dev, &Ctx::new("read_table", dev.name()))
    }

    /// Read the table on `dev`, or `None` when it has none.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// assert!(vmcraft_part::PartitionTable::probe(&MemoryDisk::new(1 << 20))?.is_none());
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn probe<D: BlockDevice + ?Sized>(dev: &D) -> Result<Option<Self>> {
        Self::probe_as(dev, &Ctx::new("read_table", dev.name()))
    }

    pub(crate) fn read_as<D: BlockDevice + ?Sized>(dev: &D, ctx: &Ctx) -> Result<Self> {
        Self::probe_as(dev, ctx)?
            .ok_or_else(|| ctx.err(ErrorKind::Unpartitioned, "unrecognised disk label"))
    }

    pub(crate) fn probe_as<D: BlockDevice + ?Sized>(dev: &D, ctx: &Ctx) -> Result<Option<Self>> {
        let (size, ss, disk_sectors) = geometry(dev, ctx)?;
        if size < 512 || disk_sectors == 0 {
            return Ok(None);
        }
        let mut cache = DiskCache::new(dev, disk_sectors * ss, ss);
        let raw = cache
            .read_vec(0, 512)
            .map_err(|e| ctx.block("reading sector 0", e))?;
        let mut warnings = Vec::new();
        let layout = match mbr::classify(&raw) {
            Sector0::Msdos(header) => Layout::Msdos(Box::new(MbrLayout::read(
                &mut cache,
                ss,
                disk_sectors,
                *header,
                ctx,
            )?)),
            Sector0::NotATable => return Ok(None),
            s0 => {
                let pmbr = match s0 {
                    Sector0::Protective { bootable } => Pmbr::Protective { bootable },
                    Sector0::Hybrid => Pmbr::Hybrid,
                    _ => Pmbr::Missing,
                };
                match gpt::read(&mut cache, ss, disk_sectors, pmbr, ctx, &mut warnings)? {
                    Some(g) => {
                        if pmbr == Pmbr::Missing {
                            warnings.push(
                                "GPT without a protective MBR; the next write adds one".to_string(),
                            );
                        }
                        if g.gpt.header.backup_lba != disk_sectors - 1 {
                            warnings.push(format!(
                                "the backup GPT header is at LBA {}, not at the end of the disk (LBA {}): part_expand_gpt moves it",
                                g.gpt.header.backup_lba,
                                disk_sectors - 1
                            ));
                        }
                        Layout::Gpt(g)
                    }
                    None if pmbr == Pmbr::Missing => return Ok(None),
                    None => {
                        return Err(ctx.corrupt(
                            "sector 0 holds a GPT protective MBR, but there is no GPT header",
                        ));
                    }
                }
            }
        };
        for w in &warnings {
            tracing::warn!(device = %ctx.device, "{w}");
        }
        Ok(Some(PartitionTable {
            device: ctx.device.clone(),
            sector_size: ss,
            disk_sectors,
            layout,
            warnings,
            wipe: Vec::new(),
            clear_boot_code: false,
        }))
    }

    /// A new, empty table of type `parttype` for `dev` (nothing is written until
    /// [`write`](Self::write)). Writing it also wipes any old table of the other
    /// kind: both GPT headers when it is msdos, the old MBR entries when it is GPT.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut table = PartitionTable::new(&disk, PartType::Msdos)?;
    /// table.add(PartKind::Primary, 2048, -1)?;
    /// assert!(PartitionTable::probe(&disk)?.is_none()); // not written yet
    /// table.write(&disk)?;
    /// assert_eq!(part_list(&disk)?.len(), 1);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn new<D: BlockDevice + ?Sized>(dev: &D, parttype: PartType) -> Result<Self> {
        Self::new_as(dev, parttype, &Ctx::new("part_init", dev.name()))
    }

    pub(crate) fn new_as<D: BlockDevice + ?Sized>(
        dev: &D,
        parttype: PartType,
        ctx: &Ctx,
    ) -> Result<Self> {
        let (_, ss, disk_sectors) = geometry(dev, ctx)?;
        let need = match parttype {
            PartType::Gpt => gpt::min_sectors(ss),
            PartType::Msdos => 2,
        };
        if disk_sectors < need {
            return Err(ctx.layout(format!(
                "the device is too small for a {parttype} table: {disk_sectors} sectors, at least {need} needed"
            )));
        }
        let mut cache = DiskCache::new(dev, disk_sectors * ss, ss);
        let io = |e| ctx.block("reading the old partition table", e);
        let raw = cache.read_vec(0, 512).map_err(io)?;
        let keep_boot_code = mbr::classify(&raw).has_boot_code();
        let last = disk_sectors - 1;
        let mut wipe = Vec::new();
        if let Some(b) = gpt::valid_backup_lba(&mut cache, ss, disk_sectors).map_err(io)? {
            wipe.push(b);
        }
        for lba in [1, last] {
            if gpt::has_signature(&mut cache, ss, lba).map_err(io)? && !wipe.contains(&lba) {
                wipe.push(lba);
            }
        }
        let layout = match parttype {
            PartType::Gpt => Layout::Gpt(GptLayout::new(&mut cache, ss, ctx)?),
            PartType::Msdos => Layout::Msdos(Box::new(MbrLayout::new(
                ss,
                disk_sectors,
                keep_boot_code.then_some(&raw[..440]),
            ))),
        };
        Ok(PartitionTable {
            device: ctx.device.clone(),
            sector_size: ss,
            disk_sectors,
            layout,
            warnings: Vec::new(),
            wipe,
            clear_boot_code: !keep_boot_code,
        })
    }

    fn ctx(&self, call: &'static str) -> Ctx {
        Ctx::new(call, self.device.clone())
    }

    /// The device name errors carry.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// GPT or msdos.
    pub fn parttype(&self) -> PartType {
        match self.layout {
            Layout::Gpt(_) => PartType::Gpt,
            Layout::Msdos(_) => PartType::Msdos,
        }
    }

    /// Logical sector size in bytes.
    pub fn sector_size(&self) -> u64 {
        self.sector_size
    }

    /// Size of the device in sectors.
    pub fn disk_sectors(&self) -> u64 {
        self.disk_sectors
    }

    /// What was found wrong but could be read around (a damaged primary GPT read
    /// from its backup, a backup not at the end of the disk, a missing protective
    /// MBR). Each was also logged with `tracing::warn!`.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// part_init(&disk, "gpt")?;
    /// disk_write_garbage(&disk); // damage the primary header
    /// let table = PartitionTable::read(&disk)?;
    /// assert!(table.warnings()[0].contains("read from the backup header"));
    /// # fn disk_write_garbage(d: &MemoryDisk) {
    /// #     use vmcraft_block::BlockDevice;
    /// #     d.write_at(&[0xff; 4], 512 + 16).unwrap();
    /// # }
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// First and last sector partitions may use: the GPT's usable LBAs, or 1 to
    /// the last sector (at most 2³²−1) on msdos.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// assert_eq!(PartitionTable::new(&disk, PartType::Gpt)?.usable_sectors(), (34, 32734));
    /// assert_eq!(PartitionTable::new(&disk, PartType::Msdos)?.usable_sectors(), (1, 32767));
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn usable_sectors(&self) -> (u64, u64) {
        match &self.layout {
            Layout::Gpt(g) => g.usable(),
            Layout::Msdos(_) => (1, (self.disk_sectors - 1).min(u64::from(u32::MAX))),
        }
    }

    /// Every partition, by number.
    pub fn partitions(&self) -> Vec<PartInfo> {
        partitions(&self.layout, self.sector_size)
    }

    /// Partition `n`, or an [`ErrorKind::NotFound`] error.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// part_disk(&disk, "gpt")?;
    /// let table = PartitionTable::read(&disk)?;
    /// assert_eq!(table.partition(1)?.name.as_deref(), Some("p1"));
    /// assert_eq!(table.partition(2).unwrap_err().kind(), ErrorKind::NotFound);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn partition(&self, n: u32) -> Result<PartInfo> {
        self.partitions()
            .into_iter()
            .find(|p| p.number == n)
            .ok_or_else(|| {
                self.ctx("part_get")
                    .err(ErrorKind::NotFound, format!("partition {n} does not exist"))
            })
    }

    /// Resolve libguestfs sector arguments: `start` must not be negative, a
    /// negative `end` counts from the end of the disk (−1 is the last sector,
    /// clamped to the last usable sector on GPT), and `end` may not precede `start`.
    fn resolve(&self, ctx: &Ctx, start: i64, end: i64) -> Result<(u64, u64)> {
        if start < 0 {
            return Err(ctx.invalid(format!("startsect {start} cannot be negative")));
        }
        let end = self.resolve_end(ctx, end)?;
        let start = start as u64;
        if end < start {
            return Err(ctx.invalid(format!("endsect {end} is before startsect {start}")));
        }
        Ok((start, end))
    }

    fn resolve_end(&self, ctx: &Ctx, end: i64) -> Result<u64> {
        if end >= 0 {
            return Ok(end as u64);
        }
        let from_end = end.unsigned_abs();
        if from_end > self.disk_sectors {
            return Err(ctx.invalid(format!(
                "endsect {end} is before the start of the disk ({} sectors)",
                self.disk_sectors
            )));
        }
        let sector = self.disk_sectors - from_end;
        Ok(match &self.layout {
            Layout::Gpt(g) => sector.min(g.usable().1),
            Layout::Msdos(_) => sector,
        })
    }

    fn gpt_only(&self, ctx: &Ctx) -> Result<()> {
        match self.layout {
            Layout::Gpt(_) => Ok(()),
            Layout::Msdos(_) => Err(ctx.err(
                ErrorKind::WrongTableType,
                "this call needs a GPT, and the partition table is msdos",
            )),
        }
    }

    fn gpt_layout(&mut self, ctx: &Ctx) -> Result<&mut GptLayout> {
        self.gpt_only(ctx)?;
        match &mut self.layout {
            Layout::Gpt(g) => Ok(g),
            Layout::Msdos(_) => unreachable!("checked above"),
        }
    }

    fn gpt_entry(&self, ctx: &Ctx, n: u32) -> Result<&GPTPartitionEntry> {
        self.gpt_only(ctx)?;
        match &self.layout {
            Layout::Gpt(g) => g.entry(ctx, n),
            Layout::Msdos(_) => unreachable!("checked above"),
        }
    }

    fn msdos_layout(&mut self, ctx: &Ctx) -> Result<&mut MbrLayout> {
        match &mut self.layout {
            Layout::Msdos(m) => Ok(m),
            Layout::Gpt(_) => Err(ctx.err(
                ErrorKind::WrongTableType,
                "this call needs an msdos table, and the partition table is gpt",
            )),
        }
    }

    /// Add a partition of `kind` on sectors `start..=end` (libguestfs
    /// `part_add`); returns its number. A negative `end` counts from the end of
    /// the disk. A GPT partition gets the Linux filesystem type, a random GUID and
    /// the name `primary` (as libguestfs); an msdos one id 0x83 (0x0f for extended). Logical partitions
    /// are numbered in disk order from 5, so one added before others renumbers
    /// them, as after parted.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Msdos)?;
    /// assert_eq!(t.add(PartKind::Extended, 2048, -1)?, 1);
    /// assert_eq!(t.add(PartKind::Logical, 20000, 21000)?, 5);
    /// assert_eq!(t.add(PartKind::Logical, 4096, 8191)?, 5); // before the other: renumbers it
    /// assert_eq!(t.partition(6)?.start, 20000);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn add(&mut self, kind: PartKind, start: i64, end: i64) -> Result<u32> {
        let ctx = self.ctx("part_add");
        let (start, end) = self.resolve(&ctx, start, end)?;
        match &mut self.layout {
            Layout::Gpt(g) => {
                if kind != PartKind::Primary {
                    return Err(ctx.layout(format!(
                        "{kind} partitions exist only on msdos tables, and this one is gpt"
                    )));
                }
                g.add(&ctx, start, end)
            }
            Layout::Msdos(m) => m.add(&ctx, kind, start, end),
        }
    }

    /// Delete partition `n` (libguestfs `part_del`). Deleting an extended
    /// partition deletes its logical partitions.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Msdos)?;
    /// t.add(PartKind::Extended, 2048, -1)?;
    /// t.add(PartKind::Logical, 4096, 8191)?;
    /// t.delete(1)?;
    /// assert!(t.partitions().is_empty());
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn delete(&mut self, n: u32) -> Result<()> {
        let ctx = self.ctx("part_del");
        match &mut self.layout {
            Layout::Gpt(g) => g.delete(&ctx, n),
            Layout::Msdos(m) => m.delete(&ctx, n),
        }
    }

    /// Move the end of partition `n` to `end` (libguestfs `part_resize`); a
    /// negative `end` counts from the end of the disk.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.resize(1, -1)?;
    /// assert_eq!(t.partition(1)?.end, t.usable_sectors().1);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn resize(&mut self, n: u32, end: i64) -> Result<()> {
        let ctx = self.ctx("part_resize");
        let end = self.resolve_end(&ctx, end)?;
        match &mut self.layout {
            Layout::Gpt(g) => g.resize(&ctx, n, end),
            Layout::Msdos(m) => m.resize(&ctx, n, end),
        }
    }

    /// The GPT name of partition `n`.
    pub fn name(&self, n: u32) -> Result<String> {
        let ctx = self.ctx("part_get_name");
        Ok(self.gpt_entry(&ctx, n)?.partition_name.as_str().to_string())
    }

    /// Set the GPT name of partition `n`: at most 36 UTF-16 code units, no NUL.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.set_name(1, "root")?;
    /// assert_eq!(t.name(1)?, "root");
    /// assert!(t.set_name(1, &"x".repeat(37)).is_err());
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_name(&mut self, n: u32, name: &str) -> Result<()> {
        let ctx = self.ctx("part_set_name");
        let units = name.encode_utf16().count();
        if units > gpt::NAME_UNITS {
            return Err(ctx.invalid(format!(
                "name {name:?} is {units} UTF-16 code units long; a GPT name holds {}",
                gpt::NAME_UNITS
            )));
        }
        if name.contains('\0') {
            return Err(ctx.invalid(format!("name {name:?} contains a NUL character")));
        }
        self.gpt_layout(&ctx)?.entry_mut(&ctx, n)?.partition_name = name.into();
        Ok(())
    }

    /// The type GUID of GPT partition `n`.
    pub fn gpt_type(&self, n: u32) -> Result<Uuid> {
        let ctx = self.ctx("part_get_gpt_type");
        Ok(guid_from_disk(
            &self.gpt_entry(&ctx, n)?.partition_type_guid,
        ))
    }

    /// Set the type GUID of GPT partition `n` (not the all-zero GUID, which marks
    /// an unused entry).
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.set_gpt_type(1, gpt_type::LINUX_SWAP)?;
    /// assert_eq!(t.gpt_type(1)?, gpt_type::LINUX_SWAP);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_gpt_type(&mut self, n: u32, guid: Uuid) -> Result<()> {
        let ctx = self.ctx("part_set_gpt_type");
        if guid.is_nil() {
            return Err(ctx.invalid(
                "the all-zero GUID marks an unused entry and cannot be a partition type",
            ));
        }
        self.gpt_layout(&ctx)?
            .entry_mut(&ctx, n)?
            .partition_type_guid = guid_to_disk(&guid);
        Ok(())
    }

    /// The unique GUID of GPT partition `n`.
    pub fn gpt_guid(&self, n: u32) -> Result<Uuid> {
        let ctx = self.ctx("part_get_gpt_guid");
        Ok(guid_from_disk(
            &self.gpt_entry(&ctx, n)?.unique_partition_guid,
        ))
    }

    /// Set the unique GUID of GPT partition `n`; it must differ from every other
    /// partition's.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.add(PartKind::Primary, 4096, 8191)?;
    /// let g = t.gpt_guid(1)?;
    /// assert_eq!(t.set_gpt_guid(2, g).unwrap_err().kind(), ErrorKind::Layout);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_gpt_guid(&mut self, n: u32, guid: Uuid) -> Result<()> {
        let ctx = self.ctx("part_set_gpt_guid");
        self.gpt_layout(&ctx)?.set_guid(&ctx, n, &guid)
    }

    /// The attribute bits of GPT partition `n`.
    pub fn gpt_attributes(&self, n: u32) -> Result<u64> {
        let ctx = self.ctx("part_get_gpt_attributes");
        Ok(self.gpt_entry(&ctx, n)?.attribute_bits)
    }

    /// Set the attribute bits of GPT partition `n`. Bits 3 to 47 are reserved by
    /// the UEFI specification and refused, as libguestfs does.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.set_gpt_attributes(1, 1 << 2)?; // legacy BIOS bootable
    /// assert_eq!(t.gpt_attributes(1)?, 4);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_gpt_attributes(&mut self, n: u32, attributes: u64) -> Result<()> {
        let ctx = self.ctx("part_set_gpt_attributes");
        if attributes & gpt::RESERVED_ATTRIBUTES != 0 {
            return Err(ctx.invalid(format!(
                "attributes {attributes:#x}: bits 3..47 are reserved and cannot be set"
            )));
        }
        self.gpt_layout(&ctx)?.entry_mut(&ctx, n)?.attribute_bits = attributes;
        Ok(())
    }

    /// The disk GUID of a GPT.
    pub fn disk_guid(&self) -> Result<Uuid> {
        let ctx = self.ctx("part_get_disk_guid");
        self.gpt_only(&ctx)?;
        match &self.layout {
            Layout::Gpt(g) => Ok(guid_from_disk(&g.gpt.header.disk_guid)),
            Layout::Msdos(_) => unreachable!("checked above"),
        }
    }

    /// Set the disk GUID of a GPT.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// let g = parse_guid("01234567-89AB-CDEF-0123-456789ABCDEF").unwrap();
    /// t.set_disk_guid(g)?;
    /// assert_eq!(t.disk_guid()?, g);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_disk_guid(&mut self, guid: Uuid) -> Result<()> {
        let ctx = self.ctx("part_set_disk_guid");
        self.gpt_layout(&ctx)?.gpt.header.disk_guid = guid_to_disk(&guid);
        Ok(())
    }

    /// Whether partition `n` is bootable: the active flag on msdos; on GPT, as
    /// parted and libguestfs report it, whether it is an EFI System Partition.
    pub fn bootable(&self, n: u32) -> Result<bool> {
        let ctx = self.ctx("part_get_bootable");
        match &self.layout {
            Layout::Gpt(g) => {
                Ok(g.entry(&ctx, n)?.partition_type_guid == guid_to_disk(&gpt_type::EFI_SYSTEM))
            }
            Layout::Msdos(m) => Ok(m.entry(&ctx, n)?.1.is_active()),
        }
    }

    /// Make partition `n` bootable or not, as parted's `set N boot on|off`: on
    /// msdos the active flag (setting it clears it on every other partition); on
    /// GPT the EFI System Partition type (clearing it makes an ESP a Linux
    /// filesystem partition again).
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Msdos)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.add(PartKind::Primary, 4096, 8191)?;
    /// t.set_bootable(1, true)?;
    /// t.set_bootable(2, true)?;
    /// assert!(!t.bootable(1)? && t.bootable(2)?);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_bootable(&mut self, n: u32, bootable: bool) -> Result<()> {
        let ctx = self.ctx("part_set_bootable");
        match &mut self.layout {
            Layout::Gpt(g) => {
                let e = g.entry_mut(&ctx, n)?;
                let esp = guid_to_disk(&gpt_type::EFI_SYSTEM);
                if bootable {
                    e.partition_type_guid = esp;
                } else if e.partition_type_guid == esp {
                    e.partition_type_guid = guid_to_disk(&gpt_type::LINUX_FILESYSTEM);
                }
                Ok(())
            }
            Layout::Msdos(m) => m.set_bootable(&ctx, n, bootable),
        }
    }

    /// The MBR id byte of partition `n` (msdos only).
    pub fn mbr_id(&self, n: u32) -> Result<u8> {
        let ctx = self.ctx("part_get_mbr_id");
        match &self.layout {
            Layout::Msdos(m) => Ok(m.entry(&ctx, n)?.1.sys),
            Layout::Gpt(_) => Err(ctx.err(
                ErrorKind::WrongTableType,
                "this call needs an msdos table, and the partition table is gpt",
            )),
        }
    }

    /// Set the MBR id byte of partition `n` (msdos only). 0 (unused) and 0xee
    /// (GPT protective) are refused, and so is an id that would turn a partition
    /// into the extended one or the extended one into a plain partition.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Msdos)?;
    /// t.add(PartKind::Primary, 2048, 4095)?;
    /// t.set_mbr_id(1, 0x82)?;
    /// assert_eq!(t.mbr_id(1)?, 0x82);
    /// assert_eq!(t.set_mbr_id(1, 0x05).unwrap_err().kind(), ErrorKind::Layout);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn set_mbr_id(&mut self, n: u32, id: u8) -> Result<()> {
        let ctx = self.ctx("part_set_mbr_id");
        self.msdos_layout(&ctx)?.set_id(&ctx, n, id)
    }

    /// Move the backup GPT header and entries to the end of a grown disk, as
    /// `sgdisk -e` (libguestfs `part_expand_gpt`); the space gained becomes usable.
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let small = MemoryDisk::new(8 << 20);
    /// part_init(&small, "gpt")?;
    /// let mut bytes = small.snapshot();
    /// bytes.resize(16 << 20, 0);
    /// let grown = MemoryDisk::from_bytes(bytes);
    /// let mut t = PartitionTable::read(&grown)?;
    /// assert_eq!(t.usable_sectors().1, 16350);
    /// t.expand_gpt()?;
    /// assert_eq!(t.usable_sectors().1, 32734);
    /// t.write(&grown)?;
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn expand_gpt(&mut self) -> Result<()> {
        let ctx = self.ctx("part_expand_gpt");
        let disk_sectors = self.disk_sectors;
        if let Some(old) = self.gpt_layout(&ctx)?.expand(disk_sectors) {
            self.wipe.push(old);
        }
        self.warnings.retain(|w| !w.contains("part_expand_gpt"));
        Ok(())
    }

    /// The partitions as the kernel should have them (bytes); see
    /// [`kernel_layout`].
    pub(crate) fn kernel_layout(&self) -> Vec<Wanted> {
        kernel_layout(&self.layout, self.sector_size)
    }

    /// Write the table to `dev`: validate, write both GPT copies and the
    /// protective MBR (or sector 0 and the EBR chain), flush, and, when `dev` is a
    /// kernel block device, bring the kernel's partitions in line and wait until
    /// their nodes exist. If a partition the kernel would have to drop is in use,
    /// nothing is written ([`ErrorKind::Busy`]).
    ///
    /// ```
    /// use vmcraft_block::MemoryDisk;
    /// use vmcraft_part::*;
    /// let disk = MemoryDisk::new(16 << 20);
    /// let mut t = PartitionTable::new(&disk, PartType::Gpt)?;
    /// t.add(PartKind::Primary, 2048, -1)?;
    /// t.write(&disk)?;
    /// assert_eq!(part_get_parttype(&disk)?, "gpt");
    /// // A table is written to the device it was made for.
    /// let other = MemoryDisk::new(32 << 20);
    /// assert_eq!(t.write(&other).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), vmcraft_part::Error>(())
    /// ```
    pub fn write<D: BlockDevice + ?Sized>(&mut self, dev: &D) -> Result<()> {
        self.write_as(dev, &self.ctx("write_table"))
    }

    pub(crate) fn write_as<D: BlockDevice + ?Sized>(&mut self, dev: &D, ctx: &Ctx) -> Result<()> {
        let (_, ss, disk_sectors) = geometry(dev, ctx)?;
        if ss != self.sector_size || disk_sectors != self.disk_sectors {
            return Err(ctx.invalid(format!(
                "the device has {disk_sectors} sectors of {ss} bytes, but the table was made for {} sectors of {} bytes",
                self.disk_sectors, self.sector_size
            )));
        }
        let mut cache = DiskCache::new(dev, disk_sectors * ss, ss);
        let zeros = vec![0u8; ss as usize];
        for &lba in &self.wipe {
            cache
                .write_all_at(&zeros, lba * ss)
                .map_err(|e| ctx.block("wiping the old partition table", e))?;
        }
        if self.clear_boot_code {
            cache
                .write_all_at(&zeros[..440], 0)
                .map_err(|e| ctx.block("wiping the old partition table", e))?;
        }
        let mut layout = self.layout.clone();
        match &mut layout {
            Layout::Gpt(g) => g.write(&mut cache, ctx)?,
            Layout::Msdos(m) => m.write(&mut cache, ctx)?,
        }
        let node = dev.kernel_node();
        let wanted = kernel_layout(&layout, ss);
        let mut current = Vec::new();
        let mut steps = Vec::new();
        let mut originals = Vec::new();
        if let Some(node) = node {
            current = node
                .kernel_partitions()
                .map_err(|e| ctx.block("listing the kernel's partitions", e))?;
            steps = kernel::plan(&current, &wanted);
            kernel::check_busy(&steps, ctx)?;
            // What the table sectors hold now, to put back if the kernel
            // refuses a step after all (something opened a partition since).
            originals = cache
                .originals()
                .map_err(|e| ctx.block("reading the old partition table", e))?;
        }
        cache
            .commit()
            .map_err(|e| ctx.block("writing the partition table", e))?;
        dev.flush()
            .map_err(|e| ctx.block("flushing the partition table", e))?;
        if let Some(node) = node
            && let Err(e) = kernel::apply_contended(node, &steps, &wanted, ctx)
        {
            return Err(match roll_back(dev, node, &originals, &current, ctx) {
                Ok(()) => e.with_note(
                    "the old partition table was put back and the kernel's partitions restored",
                ),
                Err(note) => {
                    // The new table stays on the disk: hold it in memory too.
                    self.layout = layout;
                    self.wipe.clear();
                    self.clear_boot_code = false;
                    e.with_note(note)
                }
            });
        }
        self.layout = layout;
        self.wipe.clear();
        self.clear_boot_code = false;
        Ok(())
    }
}

/// Undo a written table whose kernel update failed: put the old bytes back and
/// the kernel's partitions as they were. `Err` says what could not be undone.
fn roll_back<D: BlockDevice + ?Sized>(
    dev: &D,
    node: &vmcraft_block::DeviceNode,
    originals: &[(u64, Vec<u8>)],
    before: &[vmcraft_block::KernelPartition],
    ctx: &Ctx,
) -> std::result::Result<(), String> {
    let chain = |e: &dyn std::error::Error| vmcraft_block::error_chain(e);
    let disk = originals
        .iter()
        .try_for_each(|(at, bytes)| dev.write_at(bytes, *at))
        .and_then(|()| dev.flush());
    if let Err(e) = disk {
        return Err(format!(
            "putting the old partition table back failed too ({}); the new table is on the disk and the kernel's partitions may not match it (sync_kernel_partitions brings them in line)",
            chain(&e)
        ));
    }
    let old = kernel::as_wanted(before);
    let kernel = node
        .kernel_partitions()
        .map_err(|e| ctx.block("listing the kernel's partitions", e))
        .and_then(|now| kernel::apply(node, &kernel::plan(&now, &old), &old, ctx));
    match kernel {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "the old partition table was put back, but the kernel's partitions could not be restored ({}); sync_kernel_partitions brings them in line",
            chain(&e)
        )),
    }
}

/// Every partition of `layout`, by number.
fn partitions(layout: &Layout, ss: u64) -> Vec<PartInfo> {
    let mut out: Vec<PartInfo> = match layout {
        Layout::Gpt(g) => g.used().map(|(n, e)| gpt_info(n, e, ss)).collect(),
        Layout::Msdos(m) => m
            .used()
            .into_iter()
            .map(|(n, kind, e)| {
                let start = u64::from(e.starting_lba);
                PartInfo {
                    number: n,
                    kind,
                    start,
                    end: start + u64::from(e.sectors) - 1,
                    sector_size: ss,
                    bootable: e.is_active(),
                    mbr_id: Some(e.sys),
                    gpt_type: None,
                    gpt_guid: None,
                    gpt_attributes: None,
                    name: None,
                }
            })
            .collect(),
    };
    out.sort_by_key(|p| p.number);
    out
}

/// The partitions of `layout` as the kernel should have them (bytes). The
/// extended partition appears as the kernel's own parser shows it, its first
/// 1 KiB (one sector if sectors are larger), but never reaching the first
/// logical partition: one may start on the sector right after the first EBR,
/// and BLKPG refuses overlapping partitions.
fn kernel_layout(layout: &Layout, ss: u64) -> Vec<Wanted> {
    let parts = partitions(layout, ss);
    let first_logical = parts
        .iter()
        .filter(|p| p.kind == PartKind::Logical)
        .map(|p| p.start)
        .min();
    parts
        .iter()
        .map(|p| {
            let size = p.sectors() * ss;
            let size = if p.kind == PartKind::Extended {
                // A logical partition starts after the first EBR, at the
                // extended partition's first sector: the room is at least 1.
                let room = first_logical.map_or(u64::MAX, |l| (l - p.start) * ss);
                size.min(ss.max(1024)).min(room)
            } else {
                size
            };
            Wanted {
                number: p.number,
                start: p.start * ss,
                size,
            }
        })
        .collect()
}

fn gpt_info(n: u32, e: &GPTPartitionEntry, ss: u64) -> PartInfo {
    let ty = guid_from_disk(&e.partition_type_guid);
    PartInfo {
        number: n,
        kind: PartKind::Primary,
        start: e.starting_lba,
        end: e.ending_lba,
        sector_size: ss,
        bootable: ty == gpt_type::EFI_SYSTEM,
        mbr_id: None,
        gpt_type: Some(ty),
        gpt_guid: Some(guid_from_disk(&e.unique_partition_guid)),
        gpt_attributes: Some(e.attribute_bits),
        name: Some(e.partition_name.as_str().to_string()),
    }
}
