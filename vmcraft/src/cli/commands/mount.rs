//! Mounting: `mount`, `mount-ro`, `mount-options`, `mount-vfs`,
//! `mount-with-fallback`, `umount`, `umount-all`, `mounts`, `mountpoints`.

use super::{CommandSpec, MOUNTABLE, arg, c, cmd};
use crate::MountAllOptions;
use crate::cli::args::{ArgKind, Args};
use crate::cli::error::CliError;
use crate::cli::shell::Shell;
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
         ro,noload (ext3/4), then read-only FUSE drivers. None changes the filesystem: a \
         hibernated NTFS is mounted read-only and its hiberfil.sys is kept. Prints the \
         strategy that worked and the options used; --json adds every attempt.",
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
        "mount-all-parallel",
        &[arg("mounts", ArgKind::List)],
        "mount many filesystems at once, parents first",
        "Mount every MOUNTPOINT:DEVICE pair of the list (\"/:/dev/sda2 /boot:/dev/sda1\"), \
         parents before children, each depth in parallel. readonly:true mounts them \
         read-only; fallback:true tries the fallback strategies of mount-with-fallback. \
         Prints, for each mount point, the strategy that mounted it or why it was not \
         mounted; a child of a mount point that failed is not attempted. When a mount \
         failed, the command fails after printing (exit status 1 in a script).",
        mount_all,
    )
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("fallback", ArgKind::Bool),
    ]),
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

fn mount_all(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let mut pairs = Vec::new();
    for item in a.list(0) {
        let (mp, dev) = item
            .rsplit_once(':')
            .filter(|(mp, dev)| !mp.is_empty() && !dev.is_empty())
            .ok_or_else(|| {
                CliError::usage(
                    "mount-all-parallel",
                    format!("mounts: '{item}' is not MOUNTPOINT:DEVICE"),
                )
            })?;
        pairs.push((mp.to_string(), dev.to_string()));
    }
    let opts = MountAllOptions {
        readonly: a.opt_bool("readonly").unwrap_or(false),
        fallback: a.opt_bool("fallback").unwrap_or(false),
    };
    let results = c("mount_all_parallel", s.g.mount_all_parallel(&pairs, opts))?;
    let failed = results.iter().filter(|r| r.result.is_err()).count();
    let value = if s.options.json {
        Value::Quiet(serde_json::to_value(&results).expect("mount results serialize"))
    } else {
        Value::Hash(
            results
                .into_iter()
                .map(|r| {
                    let what = match r.result {
                        Ok(o) => format!("{} ({})", r.device, o.strategy),
                        Err(e) => format!("{} not mounted: {}", r.device, e.chain()),
                    };
                    (r.mountpoint, what)
                })
                .collect(),
        )
    };
    // Every result is printed; then, as guestfish, a failed mount fails the command.
    Ok(match failed {
        0 => value,
        n => Value::Incomplete(
            Box::new(value),
            format!("{n} of {} mounts failed", pairs.len()),
        ),
    })
}
