//! Partition tables: the `part-*` calls, positions in sectors as libguestfs takes
//! them, `part-list` in bytes as it returns them.

use super::{CommandSpec, DEVICE, PARTNUM, arg, c, cmd};
use crate::cli::args::{Arg, ArgKind};
use crate::cli::value::{Value, structs};

const PARTTYPE: Arg = arg("parttype", ArgKind::String);
const GUID: Arg = arg("guid", ArgKind::String);

/// A void command: run the call, print nothing.
macro_rules! void {
    ($call:literal, $e:expr) => {{
        c($call, $e)?;
        Ok(Value::Unit)
    }};
}

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "part-init",
        &[DEVICE, PARTTYPE],
        "create an empty partition table",
        "Create a new, empty partition table on a drive: gpt (or efi) or msdos (or mbr). \
         Whatever table was there is replaced.",
        |s, a| void!("part_init", s.g.part_init(a.str(0), a.str(1))),
    ),
    cmd(
        "part-add",
        &[
            DEVICE,
            arg("prlogex", ArgKind::String),
            arg("startsect", ArgKind::Int64),
            arg("endsect", ArgKind::Int64),
        ],
        "add a partition to the device",
        "Add a partition from sector STARTSECT to sector ENDSECT, both included (a negative \
         ENDSECT counts back from the end of the disk). PRLOGEX is p (primary), l (logical) \
         or e (extended); GPT partitions are all primary, and named primary as guestfish \
         names them. Overlapping or out-of-range sectors are refused and the table is left \
         as it was.",
        |s, a| {
            void!(
                "part_add",
                s.g.part_add(a.str(0), a.str(1), a.int(2), a.int(3))
            )
        },
    ),
    cmd(
        "part-del",
        &[DEVICE, PARTNUM],
        "delete a partition",
        "Delete partition PARTNUM.",
        |s, a| void!("part_del", s.g.part_del(a.str(0), a.int32(1))),
    ),
    cmd(
        "part-disk",
        &[DEVICE, PARTTYPE],
        "partition whole disk with a single primary partition",
        "Create a new table of PARTTYPE with one partition over the whole disk.",
        |s, a| void!("part_disk", s.g.part_disk(a.str(0), a.str(1))),
    ),
    cmd(
        "part-resize",
        &[DEVICE, PARTNUM, arg("endsect", ArgKind::Int64)],
        "resize a partition",
        "Move the end of partition PARTNUM to sector ENDSECT (the start stays).",
        |s, a| {
            void!(
                "part_resize",
                s.g.part_resize(a.str(0), a.int32(1), a.int(2))
            )
        },
    ),
    cmd(
        "part-set-name",
        &[DEVICE, PARTNUM, arg("name", ArgKind::String)],
        "set partition name",
        "Set the name of a GPT partition.",
        |s, a| {
            void!(
                "part_set_name",
                s.g.part_set_name(a.str(0), a.int32(1), a.str(2))
            )
        },
    ),
    cmd(
        "part-set-gpt-type",
        &[DEVICE, PARTNUM, GUID],
        "set the type GUID of a GPT partition",
        "Set the partition type GUID of a GPT partition.",
        |s, a| {
            void!(
                "part_set_gpt_type",
                s.g.part_set_gpt_type(a.str(0), a.int32(1), a.str(2))
            )
        },
    ),
    cmd(
        "part-set-gpt-guid",
        &[DEVICE, PARTNUM, GUID],
        "set the GUID of a GPT partition",
        "Set the unique GUID of a GPT partition.",
        |s, a| {
            void!(
                "part_set_gpt_guid",
                s.g.part_set_gpt_guid(a.str(0), a.int32(1), a.str(2))
            )
        },
    ),
    cmd(
        "part-set-disk-guid",
        &[DEVICE, GUID],
        "set the GUID of a GPT-partitioned disk",
        "Set the disk GUID of a GPT table.",
        |s, a| {
            void!(
                "part_set_disk_guid",
                s.g.part_set_disk_guid(a.str(0), a.str(1))
            )
        },
    ),
    cmd(
        "part-set-disk-guid-random",
        &[DEVICE],
        "set the GUID of a GPT-partitioned disk to random value",
        "Give a GPT table a new random disk GUID.",
        |s, a| {
            void!(
                "part_set_disk_guid_random",
                s.g.part_set_disk_guid_random(a.str(0))
            )
        },
    ),
    cmd(
        "part-set-gpt-attributes",
        &[DEVICE, PARTNUM, arg("attributes", ArgKind::Int64)],
        "set the attribute flags of a GPT partition",
        "Set the 64 attribute bits of a GPT partition.",
        |s, a| {
            void!(
                "part_set_gpt_attributes",
                s.g.part_set_gpt_attributes(a.str(0), a.int32(1), a.int(2))
            )
        },
    ),
    cmd(
        "part-set-bootable",
        &[DEVICE, PARTNUM, arg("bootable", ArgKind::Bool)],
        "make a partition bootable",
        "Set or clear the bootable flag of a partition.",
        |s, a| {
            void!(
                "part_set_bootable",
                s.g.part_set_bootable(a.str(0), a.int32(1), a.bool(2))
            )
        },
    ),
    cmd(
        "part-set-mbr-id",
        &[DEVICE, PARTNUM, arg("idbyte", ArgKind::Int)],
        "set the MBR type byte (ID byte) of a partition",
        "Set the type byte of an MBR partition (0x83 Linux, 0x8e LVM, 0x07 NTFS, ...).",
        |s, a| {
            void!(
                "part_set_mbr_id",
                s.g.part_set_mbr_id(a.str(0), a.int32(1), a.int32(2))
            )
        },
    ),
    cmd(
        "part-expand-gpt",
        &[DEVICE],
        "move backup GPT header to the end of the disk",
        "Move the backup GPT header and table to the end of a disk that has grown.",
        |s, a| void!("part_expand_gpt", s.g.part_expand_gpt(a.str(0))),
    ),
    cmd(
        "part-list",
        &[DEVICE],
        "list partitions on a device",
        "The partitions of a drive: number, first byte, last byte (included) and size in \
         bytes.",
        |s, a| Ok(structs(&c("part_list", s.g.part_list(a.str(0)))?)),
    ),
    cmd(
        "part-get-parttype",
        &[DEVICE],
        "get the partition table type",
        "gpt or msdos.",
        |s, a| {
            Ok(Value::Str(c(
                "part_get_parttype",
                s.g.part_get_parttype(a.str(0)),
            )?))
        },
    ),
    cmd(
        "part-get-name",
        &[DEVICE, PARTNUM],
        "get partition name",
        "The name of a GPT partition.",
        |s, a| {
            Ok(Value::Str(c(
                "part_get_name",
                s.g.part_get_name(a.str(0), a.int32(1)),
            )?))
        },
    ),
    cmd(
        "part-get-gpt-type",
        &[DEVICE, PARTNUM],
        "get the type GUID of a GPT partition",
        "The partition type GUID of a GPT partition, upper-case.",
        |s, a| {
            Ok(Value::Str(c(
                "part_get_gpt_type",
                s.g.part_get_gpt_type(a.str(0), a.int32(1)),
            )?))
        },
    ),
    cmd(
        "part-get-gpt-guid",
        &[DEVICE, PARTNUM],
        "get the GUID of a GPT partition",
        "The unique GUID of a GPT partition.",
        |s, a| {
            Ok(Value::Str(c(
                "part_get_gpt_guid",
                s.g.part_get_gpt_guid(a.str(0), a.int32(1)),
            )?))
        },
    ),
    cmd(
        "part-get-disk-guid",
        &[DEVICE],
        "get the GUID of a GPT-partitioned disk",
        "The disk GUID of a GPT table.",
        |s, a| {
            Ok(Value::Str(c(
                "part_get_disk_guid",
                s.g.part_get_disk_guid(a.str(0)),
            )?))
        },
    ),
    cmd(
        "part-get-gpt-attributes",
        &[DEVICE, PARTNUM],
        "get the attribute flags of a GPT partition",
        "The 64 attribute bits of a GPT partition.",
        |s, a| {
            Ok(Value::Int(c(
                "part_get_gpt_attributes",
                s.g.part_get_gpt_attributes(a.str(0), a.int32(1)),
            )?))
        },
    ),
    cmd(
        "part-get-bootable",
        &[DEVICE, PARTNUM],
        "return true if a partition is bootable",
        "Whether the partition has the bootable flag.",
        |s, a| {
            Ok(Value::Bool(c(
                "part_get_bootable",
                s.g.part_get_bootable(a.str(0), a.int32(1)),
            )?))
        },
    ),
    cmd(
        "part-get-mbr-id",
        &[DEVICE, PARTNUM],
        "get the MBR type byte (ID byte) from a partition",
        "The type byte of an MBR partition, in hex.",
        |s, a| {
            Ok(Value::Hex(
                c("part_get_mbr_id", s.g.part_get_mbr_id(a.str(0), a.int32(1)))?.into(),
            ))
        },
    ),
    cmd(
        "part-get-mbr-part-type",
        &[DEVICE, PARTNUM],
        "get the MBR partition type",
        "primary, extended or logical.",
        |s, a| {
            Ok(Value::Str(c(
                "part_get_mbr_part_type",
                s.g.part_get_mbr_part_type(a.str(0), a.int32(1)),
            )?))
        },
    ),
    cmd(
        "part-to-dev",
        &[arg("partition", ArgKind::Device)],
        "convert partition name to device name",
        "The drive a partition is on (/dev/sda1 gives /dev/sda).",
        |s, a| Ok(Value::Str(c("part_to_dev", s.g.part_to_dev(a.str(0)))?)),
    ),
    cmd(
        "part-to-partnum",
        &[arg("partition", ArgKind::Device)],
        "convert partition name to partition number",
        "A partition's number (/dev/sda1 gives 1).",
        |s, a| {
            Ok(Value::Int(
                c("part_to_partnum", s.g.part_to_partnum(a.str(0)))?.into(),
            ))
        },
    ),
];
