//! LVM on the session's devices: physical volumes, volume groups, logical volumes
//! and their listings.

use super::{CommandSpec, DEVICE, arg, c, cmd};
use crate::cli::args::{Arg, ArgKind};
use crate::cli::value::{Value, structs};

const VOLGROUP: Arg = arg("volgroup", ArgKind::String);
const LOGVOL: Arg = arg("logvol", ArgKind::String);

/// A void command: run the call, print nothing.
macro_rules! void {
    ($call:literal, $e:expr) => {{
        c($call, $e)?;
        Ok(Value::Unit)
    }};
}

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "pvcreate",
        &[DEVICE],
        "create an LVM physical volume",
        "Make a device an LVM physical volume.",
        |s, a| void!("pvcreate", s.g.pvcreate(&[a.str(0)])),
    ),
    cmd(
        "vgcreate",
        &[VOLGROUP, arg("physvols", ArgKind::List)],
        "create an LVM volume group",
        "Make a volume group from physical volumes, given as one space-separated, quoted \
         list: vgcreate data \"/dev/sda1 /dev/sdb1\".",
        |s, a| void!("vgcreate", s.g.vgcreate(a.str(0), &a.list(1))),
    ),
    cmd(
        "lvcreate",
        &[LOGVOL, VOLGROUP, arg("mbytes", ArgKind::Int)],
        "create an LVM logical volume",
        "Make a logical volume of MBYTES MiB in a volume group.",
        |s, a| void!("lvcreate", s.g.lvcreate(a.str(0), a.str(1), a.int(2))),
    ),
    cmd(
        "lvcreate-free",
        &[LOGVOL, VOLGROUP, arg("percent", ArgKind::Int)],
        "create an LVM logical volume in % remaining free space",
        "Make a logical volume over PERCENT of the volume group's free space.",
        |s, a| {
            void!(
                "lvcreate_free",
                s.g.lvcreate_free(a.str(0), a.str(1), a.int32(2))
            )
        },
    ),
    cmd(
        "lvresize",
        &[DEVICE, arg("mbytes", ArgKind::Int)],
        "resize an LVM logical volume",
        "Resize a logical volume to MBYTES MiB.",
        |s, a| void!("lvresize", s.g.lvresize(a.str(0), a.int(1))),
    ),
    cmd(
        "lvresize-free",
        &[arg("lv", ArgKind::Device), arg("percent", ArgKind::Int)],
        "expand an LV to fill free space",
        "Grow a logical volume by PERCENT of the volume group's free space.",
        |s, a| void!("lvresize_free", s.g.lvresize_free(a.str(0), a.int32(1))),
    ),
    cmd(
        "lvremove",
        &[DEVICE],
        "remove an LVM logical volume",
        "Remove a logical volume (/dev/VG/LV), or every one of a volume group (/dev/VG).",
        |s, a| void!("lvremove", s.g.lvremove(a.str(0))),
    ),
    cmd(
        "vgremove",
        &[arg("vgname", ArgKind::String)],
        "remove an LVM volume group",
        "Remove a volume group and its logical volumes.",
        |s, a| void!("vgremove", s.g.vgremove(a.str(0))),
    ),
    cmd(
        "pvremove",
        &[DEVICE],
        "remove an LVM physical volume",
        "Remove the physical volume label from a device.",
        |s, a| void!("pvremove", s.g.pvremove(a.str(0))),
    ),
    cmd(
        "pvs",
        &[],
        "list the LVM physical volumes (PVs)",
        "The physical volumes, by device name.",
        |s, _| Ok(Value::List(c("pvs", s.g.pvs())?)),
    ),
    cmd(
        "vgs",
        &[],
        "list the LVM volume groups (VGs)",
        "The volume group names.",
        |s, _| Ok(Value::List(c("vgs", s.g.vgs())?)),
    ),
    cmd(
        "lvs",
        &[],
        "list the LVM logical volumes (LVs)",
        "The logical volumes, as /dev/VG/LV.",
        |s, _| Ok(Value::List(c("lvs", s.g.lvs())?)),
    ),
    cmd(
        "pvs-full",
        &[],
        "list the LVM physical volumes (PVs)",
        "Every field lvm2 reports for each physical volume.",
        |s, _| Ok(structs(&c("pvs_full", s.g.pvs_full())?)),
    ),
    cmd(
        "vgs-full",
        &[],
        "list the LVM volume groups (VGs)",
        "Every field lvm2 reports for each volume group.",
        |s, _| Ok(structs(&c("vgs_full", s.g.vgs_full())?)),
    ),
    cmd(
        "lvs-full",
        &[],
        "list the LVM logical volumes (LVs)",
        "Every field lvm2 reports for each logical volume.",
        |s, _| Ok(structs(&c("lvs_full", s.g.lvs_full())?)),
    ),
    cmd(
        "vg-activate-all",
        &[arg("activate", ArgKind::Bool)],
        "activate or deactivate all volume groups",
        "Activate (true) or deactivate (false) every volume group. Activation needs \
         device-mapper on the host.",
        |s, a| void!("vg_activate_all", s.g.vg_activate_all(a.bool(0))),
    ),
    cmd(
        "vg-activate",
        &[
            arg("activate", ArgKind::Bool),
            arg("volgroups", ArgKind::List),
        ],
        "activate or deactivate some volume groups",
        "Activate or deactivate the volume groups given as one space-separated list.",
        |s, a| void!("vg_activate", s.g.vg_activate(a.bool(0), &a.list(1))),
    ),
    cmd(
        "vgscan",
        &[],
        "rescan for LVM physical volumes, volume groups and logical volumes",
        "Rescan the session's devices for LVM metadata.",
        |s, _| void!("vgscan", s.g.vgscan()),
    ),
    cmd(
        "lvm-remove-all",
        &[],
        "remove all LVM LVs, VGs and PVs",
        "Remove every logical volume, volume group and physical volume of the session.",
        |s, _| void!("lvm_remove_all", s.g.lvm_remove_all()),
    ),
];
