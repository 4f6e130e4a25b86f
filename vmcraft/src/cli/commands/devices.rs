//! What is on the devices: `list-partitions`, `list-filesystems`, `blkid`,
//! `vfs-type`, `vfs-uuid`, `vfs-label`, `canonical-device-name`.

use super::{CommandSpec, DEVICE, MOUNTABLE, c, cmd};
use crate::cli::value::Value;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "list-partitions",
        &[],
        "list the partitions",
        "Every partition of every drive: /dev/sda1, /dev/sda2, /dev/sdb1, ...",
        |s, _| Ok(Value::List(c("list_partitions", s.g.list_partitions())?)),
    ),
    cmd(
        "list-filesystems",
        &[],
        "list filesystems",
        "Every filesystem of the session with its type, as device: type. Devices holding \
         nothing recognisable are unknown; LVM physical volumes are left out and their \
         logical volumes listed instead.",
        |s, _| Ok(Value::Hash(c("list_filesystems", s.g.list_filesystems())?)),
    ),
    cmd(
        "blkid",
        &[DEVICE],
        "print block device attributes",
        "What blkid reports for a device (TYPE, USAGE, UUID, LABEL, ...), probed in-process.",
        |s, a| {
            let m = c("blkid", s.g.blkid(a.str(0)))?;
            Ok(Value::Hash(m.into_iter().collect()))
        },
    ),
    cmd(
        "vfs-type",
        &[MOUNTABLE],
        "get the Linux VFS type corresponding to a mounted device",
        "The filesystem type of a device (ext4, xfs, vfat, ...), empty when unknown.",
        |s, a| Ok(Value::Str(c("vfs_type", s.g.vfs_type(a.str(0)))?)),
    ),
    cmd(
        "vfs-uuid",
        &[MOUNTABLE],
        "get the filesystem UUID",
        "The filesystem UUID of a device, empty when it has none.",
        |s, a| Ok(Value::Str(c("vfs_uuid", s.g.vfs_uuid(a.str(0)))?)),
    ),
    cmd(
        "vfs-label",
        &[MOUNTABLE],
        "get the filesystem label",
        "The filesystem label of a device, empty when it has none.",
        |s, a| Ok(Value::Str(c("vfs_label", s.g.vfs_label(a.str(0)))?)),
    ),
    cmd(
        "canonical-device-name",
        &[DEVICE],
        "return canonical device name",
        "The canonical spelling of a device name: /dev/vda1 and /dev/hda1 become /dev/sda1, \
         /dev/mapper/VG-LV becomes /dev/VG/LV.",
        |s, a| {
            Ok(Value::Str(c(
                "canonical_device_name",
                s.g.canonical_device_name(a.str(0)),
            )?))
        },
    ),
    cmd(
        "host-path",
        &[DEVICE],
        "the host device node behind a device name",
        "The host node that backs a device name of the session (/dev/sda1 may be \
         /dev/loop3p1). VMCraft only; for debugging and for tools that need the node.",
        |s, a| {
            let p = c("host_path", s.g.host_path(a.str(0)))?;
            Ok(Value::Str(p.display().to_string()))
        },
    ),
    cmd(
        "invalidate-partition-cache",
        &[],
        "forget the cached partition lists",
        "Drop every cached partition list. VMCraft's own calls keep the cache right; this \
         is for changes made behind its back.",
        |s, _| {
            s.g.invalidate_partition_cache();
            Ok(Value::Unit)
        },
    ),
    cmd(
        "invalidate-probe-cache",
        &[],
        "forget the cached filesystem probes",
        "Drop every cached filesystem probe (blkid). VMCraft's own calls keep the cache \
         right; this is for changes made behind its back.",
        |s, _| {
            s.g.invalidate_probe_cache();
            Ok(Value::Unit)
        },
    ),
];
