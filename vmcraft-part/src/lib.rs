//! # vmcraft-part
//!
//! GPT and MBR partition tables in-process, with libguestfs's calls and
//! semantics, over any [`vmcraft_block::BlockDevice`]: a plain image file (no root,
//! no attach, no process spawned), a kernel block device, or a disk in memory.
//! Tables are read and written through `gptman` (GPT) and `mbrman`'s types (MBR,
//! with extended and logical partitions), byte-compatible with what parted,
//! sgdisk, sfdisk and the kernel read.
//!
//! Three layers:
//!
//! - The libguestfs calls: [`part_init`], [`part_add`], [`part_del`],
//!   [`part_disk`], [`part_list`], [`part_resize`], [`part_expand_gpt`], the
//!   getters and setters for names, GPT types, GUIDs and attributes, bootable
//!   flags and MBR ids, and [`part_to_dev`]/[`part_to_partnum`]. Same names, same
//!   argument order, same sector semantics (`part_add` sectors are inclusive; a
//!   negative end counts from the end of the disk; `part_list` is in bytes with an
//!   inclusive end).
//! - The typed [`PartitionTable`]: read once, make validated edits in memory,
//!   write once ([`PartType`], [`PartKind`], [`PartInfo`]).
//! - [`sync_kernel_partitions`]: make a block device's kernel partitions equal its
//!   table with BLKPG ioctls, one partition at a time, while other partitions of
//!   the disk stay mounted. Every write through a kernel block device does this
//!   before it returns, so the partition nodes are there when the call is.
//!
//! ```
//! use vmcraft_block::MemoryDisk;
//! use vmcraft_part::*;
//!
//! let disk = MemoryDisk::new(256 << 20);
//! part_init(&disk, "gpt")?;
//! part_add(&disk, "p", 2048, 206847)?;
//! part_set_name(&disk, 1, "EFI System")?;
//! part_set_gpt_type(&disk, 1, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B")?;
//! part_add(&disk, "p", 206848, -1)?;
//!
//! let parts = part_list(&disk)?;
//! assert_eq!(parts[0].part_start, 2048 * 512);
//! assert_eq!(parts[0].part_end, 206848 * 512 - 1);
//! assert!(part_get_bootable(&disk, 1)?); // an ESP is "bootable" on GPT, as in parted
//!
//! // Bad input is refused with the call, the device and the value, and changes nothing.
//! let before = disk.snapshot();
//! let err = part_add(&disk, "p", 100000, 300000).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Layout);
//! assert_eq!(err.to_string(), "part_add: memory: sectors 100000..300000 overlap partition 1 (2048..206847)");
//! assert_eq!(disk.snapshot(), before);
//! # Ok::<(), vmcraft_part::Error>(())
//! ```
//!
//! Reading is strict: a partition table is untrusted guest input, so every header,
//! CRC, entry and link is checked before it is believed, and a damaged table is a
//! [`ErrorKind::Corrupt`] error naming what is wrong (a GPT whose primary copy is
//! damaged but whose backup is sound is read from the backup, with a warning).
//! Nothing is ever written on a read. Reading is also bounded: every LBA and
//! count from the disk is range-checked with checked arithmetic (a value whose
//! sum would overflow is refused like any out-of-range one), a GPT holds at most
//! 16384 entries of 128 bytes, and an extended boot record chain at most 256
//! records, empty ones included, each linking forward (so it cannot loop).
//! An msdos logical partition or extended boot record past sector 2³²−1 is
//! refused as corrupt rather than truncated to the 32 bits an MBR entry holds.
//!
//! Writing changes only what was edited: both GPT entry arrays stay where their
//! headers put them, entries nobody edited keep their bytes, and on a kernel
//! block device the table and the kernel's partitions change together or not at
//! all (a partition anything holds open is not dropped; a step the kernel
//! refuses after the write puts the old table back).

#![deny(missing_docs)]

mod busy;
mod cache;
mod calls;
mod error;
mod gpt;
mod gpt_encode;
mod kernel;
mod mbr;
mod names;
mod table;
mod types;

pub use calls::{
    part_add, part_del, part_disk, part_expand_gpt, part_get_bootable, part_get_disk_guid,
    part_get_gpt_attributes, part_get_gpt_guid, part_get_gpt_type, part_get_mbr_id,
    part_get_mbr_part_type, part_get_name, part_get_parttype, part_init, part_list, part_resize,
    part_set_bootable, part_set_disk_guid, part_set_disk_guid_random, part_set_gpt_attributes,
    part_set_gpt_guid, part_set_gpt_type, part_set_mbr_id, part_set_name,
};
pub use error::{Error, ErrorKind, Result};
pub use kernel::{NODE_TIMEOUT, sync_kernel_partitions};
pub use names::{part_to_dev, part_to_partnum};
pub use table::PartitionTable;
pub use types::{
    GuidError, ParseError, PartInfo, PartKind, PartType, Partition, format_guid, gpt_type,
    parse_guid,
};
