//! The call table's entries for LVM administration: canonical names, renames, PV resizing, UUIDs and their listings, metadata dumps, scanning and device filters.

#[allow(unused_imports)]
use super::prelude::*;

const VGNAME: Arg = arg("vgname", ArgKind::String);
const VG: Arg = arg("vg", ArgKind::String);

pub(crate) const CALLS: &[Call] = &[
    call(
        "lvm-canonical-lv-name",
        &[arg("lvname", ArgKind::String)],
        Ret::String,
        "get canonical name of an LV",
        "The canonical name of a logical volume: /dev/VG/LV for /dev/VG/LV or \
         /dev/mapper/VG-LV. Anything that is not a logical volume of the session is an \
         error.",
        |g, a| Ok(Value::Str(g.lvm_canonical_lv_name(a.str(0))?)),
    ),
    call(
        "lvuuid",
        &[DEVICE],
        Ret::String,
        "get the UUID of a logical volume",
        "The UUID of a logical volume (32 characters, no dashes).",
        |g, a| Ok(Value::Str(g.lvuuid(a.str(0))?)),
    ),
    call(
        "vguuid",
        &[VGNAME],
        Ret::String,
        "get the UUID of a volume group",
        "The UUID of a volume group (32 characters, no dashes).",
        |g, a| Ok(Value::Str(g.vguuid(a.str(0))?)),
    ),
    call(
        "pvuuid",
        &[DEVICE],
        Ret::String,
        "get the UUID of a physical volume",
        "The UUID of the physical volume on a device (32 characters, no dashes).",
        |g, a| Ok(Value::Str(g.pvuuid(a.str(0))?)),
    ),
    call(
        "vglvuuids",
        &[VGNAME],
        Ret::StringList,
        "get the LV UUIDs of all LVs in the volume group",
        "The UUIDs of every logical volume of the volume group, hidden ones included, in \
         lvm2's order. With lvs and lvuuid they tell which LV is in which VG.",
        |g, a| Ok(Value::List(g.vglvuuids(a.str(0))?)),
    ),
    call(
        "vgpvuuids",
        &[VGNAME],
        Ret::StringList,
        "get the PV UUIDs containing the volume group",
        "The UUIDs of every physical volume of the volume group, in lvm2's order. With \
         pvs and pvuuid they tell which PV is in which VG.",
        |g, a| Ok(Value::List(g.vgpvuuids(a.str(0))?)),
    ),
    call(
        "vgmeta",
        &[VGNAME],
        Ret::Buffer,
        "get volume group metadata",
        "The volume group's metadata in lvm2's text format, as vgcfgbackup writes it.",
        |g, a| Ok(Value::Bytes(g.vgmeta(a.str(0))?)),
    ),
    call(
        "lvrename",
        &[
            arg("logvol", ArgKind::String),
            arg("newlogvol", ArgKind::String),
        ],
        Ret::Unit,
        "rename an LVM logical volume",
        "Rename a logical volume: both names are full paths in the same volume group \
         (lvrename /dev/VG/old /dev/VG/new). The LV must not be mounted.",
        |g, a| void!(g.lvrename(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "vgrename",
        &[
            arg("volgroup", ArgKind::String),
            arg("newvolgroup", ArgKind::String),
        ],
        Ret::Unit,
        "rename an LVM volume group",
        "Rename a volume group. None of its LVs may be mounted.",
        |g, a| void!(g.vgrename(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "pvresize",
        &[DEVICE],
        Ret::Unit,
        "resize an LVM physical volume",
        "Resize the physical volume to the size of its device (after the partition or \
         disk under it grew or shrank).",
        |g, a| void!(g.pvresize(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "pvresize-size",
        &[DEVICE, arg("size", ArgKind::Int64)],
        Ret::Unit,
        "resize an LVM physical volume (with size)",
        "Resize the physical volume to SIZE bytes, at most the device's size; lvm2 \
         refuses to cut into allocated extents.",
        |g, a| void!(g.pvresize_size(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "vgchange-uuid",
        &[VG],
        Ret::Unit,
        "generate a new random UUID for a volume group",
        "Give the volume group a new random UUID. None of its LVs may be mounted.",
        |g, a| void!(g.vgchange_uuid(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "vgchange-uuid-all",
        &[],
        Ret::Unit,
        "generate new random UUIDs for all volume groups",
        "Give every volume group of the session a new random UUID.",
        |g, _| void!(g.vgchange_uuid_all()),
    )
    .flags(Flags::WRITES),
    call(
        "pvchange-uuid",
        &[DEVICE],
        Ret::Unit,
        "generate a new random UUID for a physical volume",
        "Give the physical volume on the device a new random UUID.",
        |g, a| void!(g.pvchange_uuid(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "pvchange-uuid-all",
        &[],
        Ret::Unit,
        "generate new random UUIDs for all physical volumes",
        "Give every physical volume of the session a new random UUID.",
        |g, _| void!(g.pvchange_uuid_all()),
    )
    .flags(Flags::WRITES),
    call(
        "lvm-scan",
        &[arg("activate", ArgKind::Bool)],
        Ret::Unit,
        "scan for LVM physical volumes, volume groups and logical volumes",
        "Rescan the session's devices for physical volumes, volume groups and logical \
         volumes, forgetting what was cached. With activate:true what is found is also \
         activated, which needs device-mapper (on a host without it, lvm2 works on \
         metadata only and activation fails).",
        |g, a| void!(g.lvm_scan(a.bool(0))),
    ),
    call(
        "lvm-set-filter",
        &[arg("devices", ArgKind::List)],
        Ret::Unit,
        "set LVM device filter",
        "Let LVM see only these drives or partitions of the session, each exactly (a \
         drive does not bring its partitions): a way past duplicate PVs or VGs on cloned \
         disks. Refused while a logical volume is mounted. The filter holds, by device \
         name, until lvm-clear-filter, also when drives are added or partition tables \
         written.",
        |g, a| void!(g.lvm_set_filter(&a.list(0))),
    ),
    call(
        "lvm-clear-filter",
        &[],
        Ret::Unit,
        "clear LVM device filter",
        "Let LVM see every device of the session again (undo lvm-set-filter).",
        |g, _| void!(g.lvm_clear_filter()),
    ),
];
