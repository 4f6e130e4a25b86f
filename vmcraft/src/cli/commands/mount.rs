//! Mounting: `mount`, `mount-ro`, `mount-options`, `mount-vfs`,
//! `mount-with-fallback`, `umount`, `umount-all`, `mounts`, `mountpoints`.

use super::{CommandSpec, MOUNTABLE, arg, c, cmd};
use crate::cli::args::ArgKind;
use crate::cli::value::{Field, Value};

const MOUNTPOINT: crate::cli::args::Arg = arg("mountpoint", ArgKind::Path);
const OPTIONS: crate::cli::args::Arg = arg("options", ArgKind::String);

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "mount",
        &[MOUNTABLE, MOUNTPOINT],
        "mount a guest disk at a position in the filesystem",
        "Mount a filesystem at MOUNTPOINT in the guest tree (/ first). Its type is probed; \
         types the kernel has no driver for (vfat, ntfs on some hosts) are mounted through \
         their FUSE driver. Guest filesystems are always mounted nosuid,nodev.",
        |s, a| {
            c("mount", s.g.mount(a.str(0), a.str(1)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "mount-ro",
        &[MOUNTABLE, MOUNTPOINT],
        "mount a guest disk, read-only",
        "As mount, read-only.",
        |s, a| {
            c("mount_ro", s.g.mount_ro(a.str(0), a.str(1)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "mount-options",
        &[OPTIONS, MOUNTABLE, MOUNTPOINT],
        "mount a guest disk with mount options",
        "As mount, with mount options (ro,noatime,...). suid and dev are refused.",
        |s, a| {
            c(
                "mount_options",
                s.g.mount_options(a.str(0), a.str(1), a.str(2)),
            )?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "mount-vfs",
        &[
            OPTIONS,
            arg("vfstype", ArgKind::String),
            MOUNTABLE,
            MOUNTPOINT,
        ],
        "mount a guest disk with mount options and vfstype",
        "As mount-options, with the filesystem type given rather than probed.",
        |s, a| {
            c(
                "mount_vfs",
                s.g.mount_vfs(a.str(0), a.str(1), a.str(2), a.str(3)),
            )?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "mount-with-fallback",
        &[MOUNTABLE, MOUNTPOINT],
        "mount trying read-only fallbacks for damaged filesystems",
        "Mount trying each strategy in turn: normal, then ro,norecovery (xfs, ext3/4), then \
         ro,noload (ext3/4), then FUSE drivers. Prints the strategy that worked and the \
         options used; --json adds every attempt.",
        |s, a| {
            let o = c(
                "mount_with_fallback",
                s.g.mount_with_fallback(a.str(0), a.str(1)),
            )?;
            if s.options.json {
                return Ok(Value::Quiet(
                    serde_json::to_value(&o).expect("a FallbackOutcome serializes"),
                ));
            }
            Ok(Value::Struct(vec![
                ("device", Field::Str(o.device)),
                ("mountpoint", Field::Str(o.mountpoint)),
                ("fstype", Field::Str(o.fstype)),
                ("strategy", Field::Str(o.strategy)),
                ("options", Field::Str(o.options)),
                ("attempts", Field::Int(o.attempts.len() as i64)),
            ]))
        },
    ),
    cmd(
        "umount",
        &[arg("pathordevice", ArgKind::String)],
        "unmount a filesystem",
        "Unmount the filesystem at a mount point, or mounted from a device. Anything \
         mounted below it must be unmounted first.",
        |s, a| {
            c("umount", s.g.umount(a.str(0)))?;
            Ok(Value::Unit)
        },
    )
    .alias(&["unmount"]),
    cmd(
        "umount-all",
        &[],
        "unmount all filesystems",
        "Unmount every filesystem of the guest tree, deepest first.",
        |s, _| {
            c("umount_all", s.g.umount_all())?;
            Ok(Value::Unit)
        },
    )
    .alias(&["unmount-all"]),
    cmd(
        "mounts",
        &[],
        "show mounted filesystems",
        "The devices mounted in the guest tree, in mount order.",
        |s, _| Ok(Value::List(s.g.mounts_list())),
    ),
    cmd(
        "mountpoints",
        &[],
        "show mountpoints",
        "Each mounted device with its mount point, as device: mountpoint.",
        |s, _| Ok(Value::Hash(s.g.mountpoints())),
    ),
];
