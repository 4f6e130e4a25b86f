//! The libguestfs `part_*` calls: libguestfs names, argument order and semantics,
//! each one read of the table, one validated edit, one write. The device comes
//! first, as any [`BlockDevice`] (`&dyn BlockDevice` works); errors name the call
//! and `dev.name()`.
//!
//! After every write the device is flushed and, when it is a kernel block device
//! ([`BlockDevice::kernel_node`]), its kernel partitions are brought in line with
//! the new table (see [`crate::sync_kernel_partitions`]) before the call returns,
//! so `mkfs` on a new partition node can follow at once.

use vmcraft_block::BlockDevice;

use crate::error::{Ctx, Result};
use crate::table::PartitionTable;
use crate::types::{PartKind, PartType, Partition, format_guid, parse_guid, random_guid};

fn partnum(ctx: &Ctx, partnum: i32) -> Result<u32> {
    if partnum < 1 {
        return Err(ctx.invalid(format!(
            "partition number {partnum}: partition number must be >= 1"
        )));
    }
    Ok(partnum as u32)
}

fn guid(ctx: &Ctx, s: &str) -> Result<uuid::Uuid> {
    parse_guid(s).map_err(|e| ctx.invalid(e.to_string()))
}

/// Read, edit, write: the shape of every writing call.
fn edit<D: BlockDevice + ?Sized, T>(
    dev: &D,
    ctx: &Ctx,
    f: impl FnOnce(&mut PartitionTable) -> Result<T>,
) -> Result<T> {
    let mut table = PartitionTable::read_as(dev, ctx)?;
    let out = f(&mut table).map_err(|e| e.with_call(ctx.call))?;
    table.write_as(dev, ctx)?;
    Ok(out)
}

fn read<D: BlockDevice + ?Sized, T>(
    dev: &D,
    ctx: &Ctx,
    f: impl FnOnce(&PartitionTable) -> Result<T>,
) -> Result<T> {
    let table = PartitionTable::read_as(dev, ctx)?;
    f(&table).map_err(|e| e.with_call(ctx.call))
}

/// Create a new, empty partition table of type `parttype` on `dev`: `gpt` (alias
/// `efi`) or `msdos` (alias `mbr`). Any old table is lost; an old table of the
/// other kind is wiped too (both GPT headers, or the MBR entries).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// let disk = MemoryDisk::new(16 << 20);
/// vmcraft_part::part_init(&disk, "efi")?;
/// assert_eq!(vmcraft_part::part_get_parttype(&disk)?, "gpt");
/// assert!(vmcraft_part::part_init(&disk, "sun").is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_init<D: BlockDevice + ?Sized>(dev: &D, parttype: &str) -> Result<()> {
    let ctx = Ctx::new("part_init", dev.name());
    let parttype: PartType = parttype
        .parse()
        .map_err(|e: crate::types::ParseError| e.into_error(ctx.call, &ctx.device))?;
    PartitionTable::new_as(dev, parttype, &ctx)?.write_as(dev, &ctx)
}

/// Add a partition on sectors `startsect..=endsect`: `prlogex` is `p`/`primary`,
/// `l`/`logical` or `e`/`extended` (the last two on msdos only); a negative
/// `endsect` counts from the end of the disk (−1 is the last sector, clamped to
/// the last usable sector on GPT). A GPT partition gets the Linux filesystem type
/// and the name `primary`, as libguestfs gives it (parted's `mkpart primary`);
/// an msdos one id 0x83 (an extended one 0x0f).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "mbr")?;
/// part_add(&disk, "p", 2048, 8191)?;
/// part_add(&disk, "e", 8192, -1)?;
/// part_add(&disk, "l", 10240, 20479)?;
/// let nums: Vec<i32> = part_list(&disk)?.iter().map(|p| p.part_num).collect();
/// assert_eq!(nums, [1, 2, 5]);
/// let err = part_add(&disk, "p", 4096, 9000).unwrap_err();
/// assert_eq!(err.to_string(),
///     "part_add: memory: sectors 4096..9000 overlap partition 1 (2048..8191)");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_add<D: BlockDevice + ?Sized>(
    dev: &D,
    prlogex: &str,
    startsect: i64,
    endsect: i64,
) -> Result<()> {
    let ctx = Ctx::new("part_add", dev.name());
    let kind: PartKind = prlogex
        .parse()
        .map_err(|e: crate::types::ParseError| e.into_error(ctx.call, &ctx.device))?;
    if startsect < 0 {
        return Err(ctx.invalid(format!("startsect {startsect} cannot be negative")));
    }
    edit(dev, &ctx, |t| t.add(kind, startsect, endsect)).map(|_| ())
}

/// Delete partition `partnum` (from 1). Deleting an extended partition deletes
/// its logical partitions; the logical partitions after a deleted one move down a
/// number.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// part_del(&disk, 1)?;
/// assert!(part_list(&disk)?.is_empty());
/// assert_eq!(part_del(&disk, 1).unwrap_err().kind(), ErrorKind::NotFound);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_del<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<()> {
    let ctx = Ctx::new("part_del", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    edit(dev, &ctx, |t| t.delete(n))
}

/// Make a new table of type `parttype` holding one partition from sector 128 to
/// sector −128 (64 KiB aligned, room for the backup GPT), as libguestfs does; on
/// GPT the partition is named `p1`.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// let p = &part_list(&disk)?[0];
/// assert_eq!((p.part_start, p.part_end), (128 * 512, (32768 - 128 + 1) * 512 - 1));
/// assert_eq!(part_get_name(&disk, 1)?, "p1");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_disk<D: BlockDevice + ?Sized>(dev: &D, parttype: &str) -> Result<()> {
    let ctx = Ctx::new("part_disk", dev.name());
    let parttype: PartType = parttype
        .parse()
        .map_err(|e: crate::types::ParseError| e.into_error(ctx.call, &ctx.device))?;
    let mut table = PartitionTable::new_as(dev, parttype, &ctx)?;
    let n = table
        .add(PartKind::Primary, 128, -128)
        .map_err(|e| e.with_call(ctx.call))?;
    if parttype == PartType::Gpt {
        table.set_name(n, "p1").map_err(|e| e.with_call(ctx.call))?;
    }
    table.write_as(dev, &ctx)
}

/// Move the end of partition `partnum` to sector `endsect` (a negative value
/// counts from the end of the disk). The start stays; filesystems are not
/// touched.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "gpt")?;
/// part_add(&disk, "p", 2048, 4095)?;
/// part_resize(&disk, 1, 8191)?;
/// assert_eq!(part_list(&disk)?[0].part_size, 6144 * 512);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_resize<D: BlockDevice + ?Sized>(dev: &D, partnum: i32, endsect: i64) -> Result<()> {
    let ctx = Ctx::new("part_resize", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    edit(dev, &ctx, |t| t.resize(n, endsect))
}

/// The partitions: number, first byte, last byte (inclusive), size in bytes. They
/// come in disk order, as libguestfs returns them (it lists what `parted print`
/// lists); an extended partition is listed with its full extent, before its
/// logical partitions.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "msdos")?;
/// part_add(&disk, "p", 2048, 4095)?;
/// assert_eq!(part_list(&disk)?, vec![Partition {
///     part_num: 1, part_start: 1048576, part_end: 2097151, part_size: 1048576 }]);
/// part_add(&disk, "p", 1, 2047)?;
/// let order: Vec<i32> = part_list(&disk)?.iter().map(|p| p.part_num).collect();
/// assert_eq!(order, [2, 1]);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_list<D: BlockDevice + ?Sized>(dev: &D) -> Result<Vec<Partition>> {
    let ctx = Ctx::new("part_list", dev.name());
    read(dev, &ctx, |t| {
        let mut parts = t.partitions();
        parts.sort_by_key(|p| (p.start, p.number));
        Ok(parts.iter().map(|p| p.to_partition()).collect())
    })
}

/// The table type: `gpt` or `msdos`. An unpartitioned device is an
/// [`crate::ErrorKind::Unpartitioned`] error ("unrecognised disk label").
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// let err = vmcraft_part::part_get_parttype(&MemoryDisk::new(1 << 20)).unwrap_err();
/// assert_eq!(err.to_string(), "part_get_parttype: memory: unrecognised disk label");
/// ```
pub fn part_get_parttype<D: BlockDevice + ?Sized>(dev: &D) -> Result<String> {
    let ctx = Ctx::new("part_get_parttype", dev.name());
    read(dev, &ctx, |t| Ok(t.parttype().to_string()))
}

/// Set the name of GPT partition `partnum` (at most 36 UTF-16 code units). An
/// msdos table has no names: a [`crate::ErrorKind::WrongTableType`] error.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// part_set_name(&disk, 1, "root")?;
/// assert_eq!(part_get_name(&disk, 1)?, "root");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_name<D: BlockDevice + ?Sized>(dev: &D, partnum: i32, name: &str) -> Result<()> {
    let ctx = Ctx::new("part_set_name", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    edit(dev, &ctx, |t| t.set_name(n, name))
}

/// The name of GPT partition `partnum` (GPT only).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "msdos")?;
/// assert_eq!(part_get_name(&disk, 1).unwrap_err().kind(), ErrorKind::WrongTableType);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_name<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<String> {
    let ctx = Ctx::new("part_get_name", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| t.name(n))
}

/// Set the type GUID of GPT partition `partnum`; the GUID is validated.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// part_set_gpt_type(&disk, 1, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b")?;
/// assert_eq!(part_get_gpt_type(&disk, 1)?, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
/// assert!(part_set_gpt_type(&disk, 1, "EFI").is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_gpt_type<D: BlockDevice + ?Sized>(dev: &D, partnum: i32, guid: &str) -> Result<()> {
    let ctx = Ctx::new("part_set_gpt_type", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    let g = self::guid(&ctx, guid)?;
    edit(dev, &ctx, |t| t.set_gpt_type(n, g))
}

/// The type GUID of GPT partition `partnum`, upper-case.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// assert_eq!(part_get_gpt_type(&disk, 1)?, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_gpt_type<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<String> {
    let ctx = Ctx::new("part_get_gpt_type", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| Ok(format_guid(&t.gpt_type(n)?)))
}

/// Set the unique GUID of GPT partition `partnum`.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// part_set_gpt_guid(&disk, 1, "01234567-89ab-cdef-0123-456789abcdef")?;
/// assert_eq!(part_get_gpt_guid(&disk, 1)?, "01234567-89AB-CDEF-0123-456789ABCDEF");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_gpt_guid<D: BlockDevice + ?Sized>(dev: &D, partnum: i32, guid: &str) -> Result<()> {
    let ctx = Ctx::new("part_set_gpt_guid", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    let g = self::guid(&ctx, guid)?;
    edit(dev, &ctx, |t| t.set_gpt_guid(n, g))
}

/// The unique GUID of GPT partition `partnum`, upper-case.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// let guid = part_get_gpt_guid(&disk, 1)?;
/// assert_eq!(parse_guid(&guid).map(|g| format_guid(&g)), Ok(guid));
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_gpt_guid<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<String> {
    let ctx = Ctx::new("part_get_gpt_guid", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| Ok(format_guid(&t.gpt_guid(n)?)))
}

/// The disk GUID of a GPT, upper-case.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "gpt")?;
/// part_set_disk_guid(&disk, "{01234567-89ab-cdef-0123-456789abcdef}")?;
/// assert_eq!(part_get_disk_guid(&disk)?, "01234567-89AB-CDEF-0123-456789ABCDEF");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_disk_guid<D: BlockDevice + ?Sized>(dev: &D) -> Result<String> {
    let ctx = Ctx::new("part_get_disk_guid", dev.name());
    read(dev, &ctx, |t| Ok(format_guid(&t.disk_guid()?)))
}

/// Set the disk GUID of a GPT.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "gpt")?;
/// part_set_disk_guid(&disk, "01234567-89ab-cdef-0123-456789abcdef")?;
/// assert!(part_set_disk_guid(&disk, "01234567").is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_disk_guid<D: BlockDevice + ?Sized>(dev: &D, guid: &str) -> Result<()> {
    let ctx = Ctx::new("part_set_disk_guid", dev.name());
    let g = self::guid(&ctx, guid)?;
    edit(dev, &ctx, |t| t.set_disk_guid(g))
}

/// Give a GPT a new random disk GUID.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "gpt")?;
/// let old = part_get_disk_guid(&disk)?;
/// part_set_disk_guid_random(&disk)?;
/// assert_ne!(part_get_disk_guid(&disk)?, old);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_disk_guid_random<D: BlockDevice + ?Sized>(dev: &D) -> Result<()> {
    let ctx = Ctx::new("part_set_disk_guid_random", dev.name());
    edit(dev, &ctx, |t| t.set_disk_guid(random_guid()))
}

/// Set the attribute bits of GPT partition `partnum`. Bits 3 to 47 are reserved
/// and refused, as libguestfs does.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// part_set_gpt_attributes(&disk, 1, 1 << 2 | 1 << 60)?;
/// assert_eq!(part_get_gpt_attributes(&disk, 1)?, 1 << 2 | 1 << 60);
/// assert!(part_set_gpt_attributes(&disk, 1, 1 << 3).is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_gpt_attributes<D: BlockDevice + ?Sized>(
    dev: &D,
    partnum: i32,
    attributes: i64,
) -> Result<()> {
    let ctx = Ctx::new("part_set_gpt_attributes", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    edit(dev, &ctx, |t| t.set_gpt_attributes(n, attributes as u64))
}

/// The attribute bits of GPT partition `partnum`.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// assert_eq!(part_get_gpt_attributes(&disk, 1)?, 0);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_gpt_attributes<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<i64> {
    let ctx = Ctx::new("part_get_gpt_attributes", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| Ok(t.gpt_attributes(n)? as i64))
}

/// Make partition `partnum` bootable or not, as parted's `set N boot`: on msdos
/// the active flag (set on one partition, cleared on the others); on GPT the EFI
/// System Partition type.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "msdos")?;
/// part_set_bootable(&disk, 1, true)?;
/// assert!(part_get_bootable(&disk, 1)?);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_bootable<D: BlockDevice + ?Sized>(
    dev: &D,
    partnum: i32,
    bootable: bool,
) -> Result<()> {
    let ctx = Ctx::new("part_set_bootable", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    edit(dev, &ctx, |t| t.set_bootable(n, bootable))
}

/// Whether partition `partnum` is bootable (see [`part_set_bootable`]).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "gpt")?;
/// assert!(!part_get_bootable(&disk, 1)?);
/// part_set_gpt_type(&disk, 1, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B")?;
/// assert!(part_get_bootable(&disk, 1)?); // an ESP, as parted reports it
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_bootable<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<bool> {
    let ctx = Ctx::new("part_get_bootable", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| t.bootable(n))
}

/// Set the MBR id byte of partition `partnum` (msdos only; 1 to 255).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "msdos")?;
/// part_set_mbr_id(&disk, 1, 0x0c)?;
/// assert_eq!(part_get_mbr_id(&disk, 1)?, 0x0c);
/// assert!(part_set_mbr_id(&disk, 1, 256).is_err());
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_set_mbr_id<D: BlockDevice + ?Sized>(dev: &D, partnum: i32, idbyte: i32) -> Result<()> {
    let ctx = Ctx::new("part_set_mbr_id", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    let id = u8::try_from(idbyte)
        .map_err(|_| ctx.invalid(format!("id byte {idbyte} is not between 0x1 and 0xff")))?;
    edit(dev, &ctx, |t| t.set_mbr_id(n, id))
}

/// The MBR id byte of partition `partnum` (msdos only). libguestfs prints it in
/// hex: `format!("{:#x}", id)` gives `0x83`.
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_disk(&disk, "msdos")?;
/// assert_eq!(format!("{:#x}", part_get_mbr_id(&disk, 1)?), "0x83");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_mbr_id<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<i32> {
    let ctx = Ctx::new("part_get_mbr_id", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| Ok(i32::from(t.mbr_id(n)?)))
}

/// `primary`, `logical` or `extended` for partition `partnum` (every GPT
/// partition is `primary`).
///
/// ```
/// use vmcraft_block::MemoryDisk;
/// use vmcraft_part::*;
/// let disk = MemoryDisk::new(16 << 20);
/// part_init(&disk, "msdos")?;
/// part_add(&disk, "e", 2048, -1)?;
/// part_add(&disk, "l", 4096, 8191)?;
/// assert_eq!(part_get_mbr_part_type(&disk, 1)?, "extended");
/// assert_eq!(part_get_mbr_part_type(&disk, 5)?, "logical");
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_get_mbr_part_type<D: BlockDevice + ?Sized>(dev: &D, partnum: i32) -> Result<String> {
    let ctx = Ctx::new("part_get_mbr_part_type", dev.name());
    let n = self::partnum(&ctx, partnum)?;
    read(dev, &ctx, |t| Ok(t.partition(n)?.kind.to_string()))
}

/// Move the backup GPT to the end of a grown disk, as `sgdisk -e`, so the new
/// space becomes usable.
///
/// ```
/// use vmcraft_block::{BlockDevice, MemoryDisk};
/// use vmcraft_part::*;
/// let small = MemoryDisk::new(8 << 20);
/// part_init(&small, "gpt")?;
/// let mut bytes = small.snapshot();
/// bytes.resize(16 << 20, 0);
/// let grown = MemoryDisk::from_bytes(bytes);
/// part_expand_gpt(&grown)?;
/// part_add(&grown, "p", 2048, -1)?;
/// assert_eq!(part_list(&grown)?[0].part_end, (32768 - 34 + 1) * 512 - 1);
/// # Ok::<(), vmcraft_part::Error>(())
/// ```
pub fn part_expand_gpt<D: BlockDevice + ?Sized>(dev: &D) -> Result<()> {
    let ctx = Ctx::new("part_expand_gpt", dev.name());
    edit(dev, &ctx, |t| t.expand_gpt())
}
