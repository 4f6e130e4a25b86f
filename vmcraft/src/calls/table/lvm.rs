//! LVM on the session's devices: physical volumes, volume groups, logical volumes
//! and their listings.

use super::prelude::*;

const VOLGROUP: Arg = arg("volgroup", ArgKind::String);
const LOGVOL: Arg = arg("logvol", ArgKind::String);

pub(crate) const CALLS: &[Call] = &[
    call(
        "pvcreate",
        &[DEVICE],
        Ret::Unit,
        "create an LVM physical volume",
        "Make a device an LVM physical volume.",
        |g, a| void!(g.pvcreate(&[a.str(0)])),
    )
    .flags(Flags::WRITES),
    call(
        "vgcreate",
        &[VOLGROUP, arg("physvols", ArgKind::List)],
        Ret::Unit,
        "create an LVM volume group",
        "Make a volume group from physical volumes, given as one space-separated, quoted \
         list: vgcreate data \"/dev/sda1 /dev/sdb1\".",
        |g, a| void!(g.vgcreate(a.str(0), &a.list(1))),
    )
    .flags(Flags::WRITES),
    call(
        "lvcreate",
        &[LOGVOL, VOLGROUP, arg("mbytes", ArgKind::Int)],
        Ret::Unit,
        "create an LVM logical volume",
        "Make a logical volume of MBYTES MiB in a volume group.",
        |g, a| void!(g.lvcreate(a.str(0), a.str(1), a.int(2))),
    )
    .flags(Flags::WRITES),
    call(
        "lvcreate-free",
        &[LOGVOL, VOLGROUP, arg("percent", ArgKind::Int)],
        Ret::Unit,
        "create an LVM logical volume in % remaining free space",
        "Make a logical volume over PERCENT of the volume group's free space.",
        |g, a| void!(g.lvcreate_free(a.str(0), a.str(1), a.int32(2))),
    )
    .flags(Flags::WRITES),
    call(
        "lvresize",
        &[DEVICE, arg("mbytes", ArgKind::Int)],
        Ret::Unit,
        "resize an LVM logical volume",
        "Resize a logical volume to MBYTES MiB.",
        |g, a| void!(g.lvresize(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "lvresize-free",
        &[arg("lv", ArgKind::Device), arg("percent", ArgKind::Int)],
        Ret::Unit,
        "expand an LV to fill free space",
        "Grow a logical volume by PERCENT of the volume group's free space.",
        |g, a| void!(g.lvresize_free(a.str(0), a.int32(1))),
    )
    .flags(Flags::WRITES),
    call(
        "lvremove",
        &[DEVICE],
        Ret::Unit,
        "remove an LVM logical volume",
        "Remove a logical volume (/dev/VG/LV), or every one of a volume group (/dev/VG).",
        |g, a| void!(g.lvremove(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "vgremove",
        &[arg("vgname", ArgKind::String)],
        Ret::Unit,
        "remove an LVM volume group",
        "Remove a volume group and its logical volumes.",
        |g, a| void!(g.vgremove(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "pvremove",
        &[DEVICE],
        Ret::Unit,
        "remove an LVM physical volume",
        "Remove the physical volume label from a device.",
        |g, a| void!(g.pvremove(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "pvs",
        &[],
        Ret::StringList,
        "list the LVM physical volumes (PVs)",
        "The physical volumes, by device name.",
        |g, _| Ok(Value::List(g.pvs()?)),
    ),
    call(
        "vgs",
        &[],
        Ret::StringList,
        "list the LVM volume groups (VGs)",
        "The volume group names.",
        |g, _| Ok(Value::List(g.vgs()?)),
    ),
    call(
        "lvs",
        &[],
        Ret::StringList,
        "list the LVM logical volumes (LVs)",
        "The logical volumes, as /dev/VG/LV.",
        |g, _| Ok(Value::List(g.lvs()?)),
    ),
    call(
        "pvs-full",
        &[],
        Ret::StructList,
        "list the LVM physical volumes (PVs)",
        "Every field lvm2 reports for each physical volume.",
        |g, _| Ok(structs(&g.pvs_full()?)),
    ),
    call(
        "vgs-full",
        &[],
        Ret::StructList,
        "list the LVM volume groups (VGs)",
        "Every field lvm2 reports for each volume group.",
        |g, _| Ok(structs(&g.vgs_full()?)),
    ),
    call(
        "lvs-full",
        &[],
        Ret::StructList,
        "list the LVM logical volumes (LVs)",
        "Every field lvm2 reports for each logical volume.",
        |g, _| Ok(structs(&g.lvs_full()?)),
    ),
    call(
        "vg-activate-all",
        &[arg("activate", ArgKind::Bool)],
        Ret::Unit,
        "activate or deactivate all volume groups",
        "Activate (true) or deactivate (false) every volume group. Activation needs \
         device-mapper on the host.",
        |g, a| void!(g.vg_activate_all(a.bool(0))),
    )
    // The seed's name (hyper2kvm calls it with `True` or `1`).
    .alias(&["vgchange-activate-all"])
    .flags(Flags::SESSION),
    call(
        "vg-activate",
        &[
            arg("activate", ArgKind::Bool),
            arg("volgroups", ArgKind::List),
        ],
        Ret::Unit,
        "activate or deactivate some volume groups",
        "Activate or deactivate the volume groups given as one space-separated list.",
        |g, a| void!(g.vg_activate(a.bool(0), &a.list(1))),
    )
    .flags(Flags::SESSION),
    call(
        "vgscan",
        &[],
        Ret::Unit,
        "rescan for LVM physical volumes, volume groups and logical volumes",
        "Rescan the session's devices for LVM metadata.",
        |g, _| void!(g.vgscan()),
    ),
    call(
        "lvm-remove-all",
        &[],
        Ret::Unit,
        "remove all LVM LVs, VGs and PVs",
        "Remove every logical volume, volume group and physical volume of the session.",
        |g, _| void!(g.lvm_remove_all()),
    )
    .flags(Flags::WRITES),
];
