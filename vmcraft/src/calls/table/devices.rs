//! What is on the devices: `list-partitions`, `list-filesystems`, `blkid`,
//! `vfs-type`, `vfs-uuid`, `vfs-label`, `canonical-device-name`.

use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[
    call(
        "list-partitions",
        &[],
        Ret::StringList,
        "list the partitions",
        "Every partition of every drive: /dev/sda1, /dev/sda2, /dev/sdb1, ...",
        |g, _| Ok(Value::List(g.list_partitions()?)),
    ),
    call(
        "list-filesystems",
        &[],
        Ret::Hash,
        "list filesystems",
        "Every filesystem of the session with its type, as device: type. Devices holding \
         nothing recognisable are unknown; LVM physical volumes are left out and their \
         logical volumes listed instead.",
        |g, _| Ok(Value::Hash(g.list_filesystems()?)),
    ),
    call(
        "blkid",
        &[DEVICE],
        Ret::Hash,
        "print block device attributes",
        "What blkid reports for a device (TYPE, USAGE, UUID, LABEL, ...), probed in-process.",
        |g, a| {
            let m = g.blkid(a.str(0))?;
            Ok(Value::Hash(m.into_iter().collect()))
        },
    ),
    call(
        "vfs-type",
        &[MOUNTABLE],
        Ret::String,
        "get the Linux VFS type corresponding to a mounted device",
        "The filesystem type of a device (ext4, xfs, vfat, ...), empty when unknown.",
        |g, a| Ok(Value::Str(g.vfs_type(a.str(0))?)),
    ),
    call(
        "vfs-uuid",
        &[MOUNTABLE],
        Ret::String,
        "get the filesystem UUID",
        "The filesystem UUID of a device, empty when it has none.",
        |g, a| Ok(Value::Str(g.vfs_uuid(a.str(0))?)),
    ),
    call(
        "vfs-label",
        &[MOUNTABLE],
        Ret::String,
        "get the filesystem label",
        "The filesystem label of a device, empty when it has none.",
        |g, a| Ok(Value::Str(g.vfs_label(a.str(0))?)),
    ),
    call(
        "canonical-device-name",
        &[DEVICE],
        Ret::String,
        "return canonical device name",
        "The canonical spelling of a device name: /dev/vda1 and /dev/hda1 become /dev/sda1, \
         /dev/mapper/VG-LV becomes /dev/VG/LV.",
        |g, a| Ok(Value::Str(g.canonical_device_name(a.str(0))?)),
    ),
    call(
        "host-path",
        &[DEVICE],
        Ret::String,
        "the host device node behind a device name",
        "The host node that backs a device name of the session (/dev/sda1 may be \
         /dev/loop3p1). VMCraft only; for debugging and for tools that need the node.",
        |g, a| {
            let p = g.host_path(a.str(0))?;
            Ok(Value::Str(p.display().to_string()))
        },
    ),
    call(
        "invalidate-partition-cache",
        &[],
        Ret::Unit,
        "forget the cached partition lists",
        "Drop every cached partition list. VMCraft's own calls keep the cache right; this \
         is for changes made behind its back.",
        |g, _| {
            g.invalidate_partition_cache();
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "invalidate-probe-cache",
        &[],
        Ret::Unit,
        "forget the cached filesystem probes",
        "Drop every cached filesystem probe (blkid). VMCraft's own calls keep the cache \
         right; this is for changes made behind its back.",
        |g, _| {
            g.invalidate_probe_cache();
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
];
