//! Partition tables: the `part-*` calls, positions in sectors as libguestfs takes
//! them, `part-list` in bytes as it returns them.

use super::prelude::*;

const PARTTYPE: Arg = arg("parttype", ArgKind::String);
const GUID: Arg = arg("guid", ArgKind::String);

pub(crate) const CALLS: &[Call] = &[
    call(
        "part-init",
        &[DEVICE, PARTTYPE],
        Ret::Unit,
        "create an empty partition table",
        "Create a new, empty partition table on a drive: gpt (or efi) or msdos (or mbr). \
         Whatever table was there is replaced.",
        |g, a| void!(g.part_init(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "part-add",
        &[
            DEVICE,
            arg("prlogex", ArgKind::String),
            arg("startsect", ArgKind::Int64),
            arg("endsect", ArgKind::Int64),
        ],
        Ret::Unit,
        "add a partition to the device",
        "Add a partition from sector STARTSECT to sector ENDSECT, both included (a negative \
         ENDSECT counts back from the end of the disk). PRLOGEX is p (primary), l (logical) \
         or e (extended); GPT partitions are all primary, and named primary as guestfish \
         names them. Overlapping or out-of-range sectors are refused and the table is left \
         as it was.",
        |g, a| void!(g.part_add(a.str(0), a.str(1), a.int(2), a.int(3))),
    )
    .flags(Flags::WRITES),
    call(
        "part-del",
        &[DEVICE, PARTNUM],
        Ret::Unit,
        "delete a partition",
        "Delete partition PARTNUM.",
        |g, a| void!(g.part_del(a.str(0), a.int32(1))),
    )
    .flags(Flags::WRITES),
    call(
        "part-disk",
        &[DEVICE, PARTTYPE],
        Ret::Unit,
        "partition whole disk with a single primary partition",
        "Create a new table of PARTTYPE with one partition over the whole disk.",
        |g, a| void!(g.part_disk(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "part-resize",
        &[DEVICE, PARTNUM, arg("endsect", ArgKind::Int64)],
        Ret::Unit,
        "resize a partition",
        "Move the end of partition PARTNUM to sector ENDSECT (the start stays).",
        |g, a| void!(g.part_resize(a.str(0), a.int32(1), a.int(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-name",
        &[DEVICE, PARTNUM, arg("name", ArgKind::String)],
        Ret::Unit,
        "set partition name",
        "Set the name of a GPT partition.",
        |g, a| void!(g.part_set_name(a.str(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-gpt-type",
        &[DEVICE, PARTNUM, GUID],
        Ret::Unit,
        "set the type GUID of a GPT partition",
        "Set the partition type GUID of a GPT partition.",
        |g, a| void!(g.part_set_gpt_type(a.str(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-gpt-guid",
        &[DEVICE, PARTNUM, GUID],
        Ret::Unit,
        "set the GUID of a GPT partition",
        "Set the unique GUID of a GPT partition.",
        |g, a| void!(g.part_set_gpt_guid(a.str(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-disk-guid",
        &[DEVICE, GUID],
        Ret::Unit,
        "set the GUID of a GPT-partitioned disk",
        "Set the disk GUID of a GPT table.",
        |g, a| void!(g.part_set_disk_guid(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-disk-guid-random",
        &[DEVICE],
        Ret::Unit,
        "set the GUID of a GPT-partitioned disk to random value",
        "Give a GPT table a new random disk GUID.",
        |g, a| void!(g.part_set_disk_guid_random(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-gpt-attributes",
        &[DEVICE, PARTNUM, arg("attributes", ArgKind::Int64)],
        Ret::Unit,
        "set the attribute flags of a GPT partition",
        "Set the 64 attribute bits of a GPT partition.",
        |g, a| void!(g.part_set_gpt_attributes(a.str(0), a.int32(1), a.int(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-bootable",
        &[DEVICE, PARTNUM, arg("bootable", ArgKind::Bool)],
        Ret::Unit,
        "make a partition bootable",
        "Set or clear the bootable flag of a partition.",
        |g, a| void!(g.part_set_bootable(a.str(0), a.int32(1), a.bool(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-set-mbr-id",
        &[DEVICE, PARTNUM, arg("idbyte", ArgKind::Int)],
        Ret::Unit,
        "set the MBR type byte (ID byte) of a partition",
        "Set the type byte of an MBR partition (0x83 Linux, 0x8e LVM, 0x07 NTFS, ...).",
        |g, a| void!(g.part_set_mbr_id(a.str(0), a.int32(1), a.int32(2))),
    )
    .flags(Flags::WRITES),
    call(
        "part-expand-gpt",
        &[DEVICE],
        Ret::Unit,
        "move backup GPT header to the end of the disk",
        "Move the backup GPT header and table to the end of a disk that has grown.",
        |g, a| void!(g.part_expand_gpt(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "part-list",
        &[DEVICE],
        Ret::StructList,
        "list partitions on a device",
        "The partitions of a drive: number, first byte, last byte (included) and size in \
         bytes.",
        |g, a| Ok(structs(&g.part_list(a.str(0))?)),
    ),
    call(
        "part-get-parttype",
        &[DEVICE],
        Ret::String,
        "get the partition table type",
        "gpt or msdos.",
        |g, a| Ok(Value::Str(g.part_get_parttype(a.str(0))?)),
    ),
    call(
        "part-get-name",
        &[DEVICE, PARTNUM],
        Ret::String,
        "get partition name",
        "The name of a GPT partition.",
        |g, a| Ok(Value::Str(g.part_get_name(a.str(0), a.int32(1))?)),
    ),
    call(
        "part-get-gpt-type",
        &[DEVICE, PARTNUM],
        Ret::String,
        "get the type GUID of a GPT partition",
        "The partition type GUID of a GPT partition, upper-case.",
        |g, a| Ok(Value::Str(g.part_get_gpt_type(a.str(0), a.int32(1))?)),
    ),
    call(
        "part-get-gpt-guid",
        &[DEVICE, PARTNUM],
        Ret::String,
        "get the GUID of a GPT partition",
        "The unique GUID of a GPT partition.",
        |g, a| Ok(Value::Str(g.part_get_gpt_guid(a.str(0), a.int32(1))?)),
    ),
    call(
        "part-get-disk-guid",
        &[DEVICE],
        Ret::String,
        "get the GUID of a GPT-partitioned disk",
        "The disk GUID of a GPT table.",
        |g, a| Ok(Value::Str(g.part_get_disk_guid(a.str(0))?)),
    ),
    call(
        "part-get-gpt-attributes",
        &[DEVICE, PARTNUM],
        Ret::Int,
        "get the attribute flags of a GPT partition",
        "The 64 attribute bits of a GPT partition.",
        |g, a| Ok(Value::Int(g.part_get_gpt_attributes(a.str(0), a.int32(1))?)),
    ),
    call(
        "part-get-bootable",
        &[DEVICE, PARTNUM],
        Ret::Bool,
        "return true if a partition is bootable",
        "Whether the partition has the bootable flag.",
        |g, a| Ok(Value::Bool(g.part_get_bootable(a.str(0), a.int32(1))?)),
    ),
    call(
        "part-get-mbr-id",
        &[DEVICE, PARTNUM],
        Ret::Int,
        "get the MBR type byte (ID byte) from a partition",
        "The type byte of an MBR partition, in hex.",
        |g, a| Ok(Value::Hex(g.part_get_mbr_id(a.str(0), a.int32(1))?.into())),
    ),
    call(
        "part-get-mbr-part-type",
        &[DEVICE, PARTNUM],
        Ret::String,
        "get the MBR partition type",
        "primary, extended or logical.",
        |g, a| Ok(Value::Str(g.part_get_mbr_part_type(a.str(0), a.int32(1))?)),
    ),
    call(
        "part-to-dev",
        &[arg("partition", ArgKind::Device)],
        Ret::String,
        "convert partition name to device name",
        "The drive a partition is on (/dev/sda1 gives /dev/sda).",
        |g, a| Ok(Value::Str(g.part_to_dev(a.str(0))?)),
    ),
    call(
        "part-to-partnum",
        &[arg("partition", ArgKind::Device)],
        Ret::Int,
        "convert partition name to partition number",
        "A partition's number (/dev/sda1 gives 1).",
        |g, a| Ok(Value::Int(g.part_to_partnum(a.str(0))?.into())),
    ),
];
