//! Mounting: `mount`, `mount-ro`, `mount-options`, `mount-vfs`,
//! `mount-with-fallback`, `umount`, `umount-all`, `mounts`, `mountpoints`.

use super::prelude::*;
use crate::MountAllOptions;

const MOUNTPOINT: Arg = arg("mountpoint", ArgKind::Path);
const OPTIONS: Arg = arg("options", ArgKind::String);

pub(crate) const CALLS: &[Call] = &[
    call(
        "mount",
        &[MOUNTABLE, MOUNTPOINT],
        Ret::Unit,
        "mount a guest disk at a position in the filesystem",
        "Mount a filesystem at MOUNTPOINT in the guest tree (/ first). Its type is probed; \
         types the kernel has no driver for (vfat, ntfs on some hosts) are mounted through \
         their FUSE driver. Guest filesystems are always mounted nosuid,nodev.",
        |g, a| {
            g.mount(a.str(0), a.str(1))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "mount-ro",
        &[MOUNTABLE, MOUNTPOINT],
        Ret::Unit,
        "mount a guest disk, read-only",
        "As mount, read-only.",
        |g, a| {
            g.mount_ro(a.str(0), a.str(1))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "mount-options",
        &[OPTIONS, MOUNTABLE, MOUNTPOINT],
        Ret::Unit,
        "mount a guest disk with mount options",
        "As mount, with mount options (ro,noatime,...). suid and dev are refused.",
        |g, a| {
            g.mount_options(a.str(0), a.str(1), a.str(2))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "mount-vfs",
        &[
            OPTIONS,
            arg("vfstype", ArgKind::String),
            MOUNTABLE,
            MOUNTPOINT,
        ],
        Ret::Unit,
        "mount a guest disk with mount options and vfstype",
        "As mount-options, with the filesystem type given rather than probed.",
        |g, a| {
            g.mount_vfs(a.str(0), a.str(1), a.str(2), a.str(3))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
    call(
        "mount-with-fallback",
        &[MOUNTABLE, MOUNTPOINT],
        Ret::Struct,
        "mount trying read-only fallbacks for damaged filesystems",
        "Mount trying each strategy in turn: normal, then ro,norecovery (xfs, ext3/4), then \
         ro,noload (ext3/4), then read-only FUSE drivers. None changes the filesystem: a \
         hibernated NTFS is mounted read-only and its hiberfil.sys is kept. Prints the \
         strategy that worked and the options used; --json adds every attempt.",
        |g, a| {
            let o = g.mount_with_fallback(a.str(0), a.str(1))?;
            let json = serde_json::to_value(&o).expect("a FallbackOutcome serializes");
            let shown = Value::Struct(vec![
                ("device", Field::Str(o.device)),
                ("mountpoint", Field::Str(o.mountpoint)),
                ("fstype", Field::Str(o.fstype)),
                ("strategy", Field::Str(o.strategy)),
                ("options", Field::Str(o.options)),
                ("attempts", Field::Int(o.attempts.len() as i64)),
            ]);
            Ok(Value::Detailed(Box::new(shown), json))
        },
    )
    .flags(Flags::SESSION),
    call(
        "mount-all-parallel",
        &[arg("mounts", ArgKind::List)],
        Ret::Hash,
        "mount many filesystems at once, parents first",
        "Mount every MOUNTPOINT:DEVICE pair of the list (\"/:/dev/sda2 /boot:/dev/sda1\"), \
         parents before children, each depth in parallel. readonly:true mounts them \
         read-only; fallback:true tries the fallback strategies of mount-with-fallback. \
         Prints, for each mount point, the strategy that mounted it or why it was not \
         mounted; a child of a mount point that failed is not attempted. When a mount \
         failed, the command fails after printing (exit status 1 in a script).",
        mount_all,
    )
    .flags(Flags::SESSION)
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("fallback", ArgKind::Bool),
    ]),
    call(
        "umount",
        &[arg("pathordevice", ArgKind::String)],
        Ret::Unit,
        "unmount a filesystem",
        "Unmount the filesystem at a mount point, or mounted from a device. Anything \
         mounted below it must be unmounted first.",
        |g, a| {
            g.umount(a.str(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION)
    .alias(&["unmount"]),
    call(
        "mount-local",
        &[arg("localmountpoint", ArgKind::String)],
        Ret::Unit,
        "mount on the local filesystem",
        "Make the guest tree (what is mounted on / and under it) visible at the host \
         directory LOCALMOUNTPOINT, an existing empty directory: a bind mount, \
         nosuid,nodev, read-only with readonly:true, in this process's mount namespace \
         (the vmcraft command's own is private: its ! commands see it), a copy of its own \
         (guest mounts made later do not show in it). umount refuses while it is there. \
         options:.. takes \
         the FUSE options a bind mount needs none of (allow_other, allow_root, \
         default_permissions); cachetimeout:N and debugcalls:true have no effect. One \
         at a time; umount-local, umount-all and shutdown remove it.",
        |g, a| {
            let opts = crate::calls::local::MountLocalOpts {
                readonly: a.opt_bool("readonly").unwrap_or(false),
                options: a.opt_string("options").map(String::from),
                cachetimeout: a.opt_int("cachetimeout").map(|n| n as i32),
                debugcalls: a.opt_bool("debugcalls").unwrap_or(false),
            };
            void!(g.mount_local(a.str(0), &opts))
        },
    )
    .flags(
        Flags::SESSION
            .union(Flags::HOST_FILES)
            .union(Flags::NEEDS_ROOT),
    )
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("options", ArgKind::String),
        arg("cachetimeout", ArgKind::Int),
        arg("debugcalls", ArgKind::Bool),
    ]),
    call(
        "mount-local-run",
        &[],
        Ret::Unit,
        "run main loop of mount on the local filesystem",
        "Wait until the local mount mount-local made goes: umount-local from another \
         thread, or an unmount from outside.",
        |g, _| void!(g.mount_local_run()),
    )
    .flags(Flags::SESSION),
    call(
        "umount-local",
        &[],
        Ret::Unit,
        "unmount a locally mounted filesystem",
        "Remove the local mount mount-local made, which ends mount-local-run. A mount in \
         use on the host is not pulled away: the call fails as busy and the mount stays; \
         retry:true tries again for a few seconds first.",
        |g, a| void!(g.umount_local(a.opt_bool("retry").unwrap_or(false))),
    )
    .flags(Flags::SESSION)
    .opts(&[arg("retry", ArgKind::Bool)]),
    call(
        "umount-all",
        &[],
        Ret::Unit,
        "unmount all filesystems",
        "Unmount every filesystem of the guest tree, deepest first.",
        |g, _| {
            g.umount_all()?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION)
    .alias(&["unmount-all"]),
    call(
        "mounts",
        &[],
        Ret::StringList,
        "show mounted filesystems",
        "The devices mounted in the guest tree, in mount order.",
        |g, _| Ok(Value::List(g.mounts_list())),
    ),
    call(
        "mountpoints",
        &[],
        Ret::Hash,
        "show mountpoints",
        "Each mounted device with its mount point, as device: mountpoint.",
        |g, _| Ok(Value::Hash(g.mountpoints())),
    ),
];

fn mount_all(g: &VMCraft, a: &Args) -> Result<Value> {
    let mut pairs = Vec::new();
    for item in a.list(0) {
        let (mp, dev) = item
            .rsplit_once(':')
            .filter(|(mp, dev)| !mp.is_empty() && !dev.is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "mount_all_parallel",
                    "mounts",
                    format!("'{item}' is not MOUNTPOINT:DEVICE"),
                )
            })?;
        pairs.push((mp.to_string(), dev.to_string()));
    }
    let opts = MountAllOptions {
        readonly: a.opt_bool("readonly").unwrap_or(false),
        fallback: a.opt_bool("fallback").unwrap_or(false),
    };
    let results = g.mount_all_parallel(&pairs, opts)?;
    let failed = results.iter().filter(|r| r.result.is_err()).count();
    let json = serde_json::to_value(&results).expect("mount results serialize");
    let value = Value::Detailed(
        Box::new(Value::Hash(
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
        )),
        json,
    );
    // Every result is printed; then, as guestfish, a failed mount fails the command.
    Ok(match failed {
        0 => value,
        n => Value::Incomplete(
            Box::new(value),
            format!("{n} of {} mounts failed", pairs.len()),
        ),
    })
}
