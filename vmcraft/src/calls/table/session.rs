//! The call table's entries for the session: adding drives, `launch`/`run`,
//! `is-launched`, `shutdown`, `list-devices`.

use super::prelude::*;
use crate::DriveOpts;

const FILENAME: Arg = arg("filename", ArgKind::String);

pub(crate) const CALLS: &[Call] = &[
    call(
        "add-drive",
        &[FILENAME],
        Ret::Unit,
        "add an image to examine or modify",
        "Add a disk image (or host block device) to the session. The first is /dev/sda, the \
         second /dev/sdb, and so on. Before launch it is attached at launch; after, at once.\n\n\
         readonly:true attaches it so that nothing can write to it. format:FMT gives the \
         image format (raw, qcow2, vmdk, vhdx, vdi, vpc); without it the format is detected \
         from the image's header.\n\n\
         An image that names other files (a backing file, a qcow2 external data file, the \
         extents of a split VMDK) is refused unless allowed, since a guest controls those \
         names. allowbacking:true follows a backing chain whose every format is known: \
         format:FMT given here and each backing file's format recorded in its overlay. \
         allowextents:true (with format:vmdk) follows a VMDK descriptor's extents when \
         they are plain files in the descriptor's own directory.",
        add_drive,
    )
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("format", ArgKind::String),
        arg("allowbacking", ArgKind::Bool),
        arg("allowextents", ArgKind::Bool),
    ])
    .alias(&["add", "add-drive-opts"])
    .flags(Flags::SESSION.union(Flags::HOST_FILES)),
    call(
        "add-drive-ro",
        &[FILENAME],
        Ret::Unit,
        "add a drive read-only",
        "Add a disk image read-only: as add-drive with readonly:true.",
        |g, a| {
            void!(g.add_drive_opts(
                a.str(0),
                DriveOpts {
                    readonly: true,
                    ..Default::default()
                },
            ))
        },
    )
    .alias(&["add-ro"])
    .flags(Flags::SESSION.union(Flags::HOST_FILES)),
    call(
        "launch",
        &[],
        Ret::Unit,
        "launch the session",
        "Attach every drive added, so that the other commands can be used. Scripts written \
         for guestfish start with run. As in guestfish, a session launches once: after -i, \
         -m or -N (which launch it) or a first run, run is an error.",
        |g, _| void!(g.launch()),
    )
    .alias(&["run"])
    .flags(Flags::SESSION),
    call(
        "is-launched",
        &[],
        Ret::Bool,
        "whether the session is launched",
        "true once launch (or run, -i, -m, -N) attached the drives, false before and after \
         shutdown.",
        |g, _| Ok(Value::Bool(g.is_launched())),
    )
    .flags(Flags::SESSION),
    call(
        "shutdown",
        &[],
        Ret::Unit,
        "shut the session down",
        "Unmount everything (deepest first), close Augeas and LVM, and detach every drive. \
         The session cannot be used afterwards. This also happens at the end of every \
         script, on errors and on Ctrl-C.",
        |g, _| void!(g.shutdown()),
    )
    .flags(Flags::SESSION),
    call(
        "list-devices",
        &[],
        Ret::StringList,
        "list the block devices",
        "The drives of the session: /dev/sda, /dev/sdb, ... in the order they were added.",
        |g, _| Ok(Value::List(g.list_devices()?)),
    ),
    call(
        "add-drive-with-if",
        &[FILENAME, arg("iface", ArgKind::String)],
        Ret::Unit,
        "add a drive specifying the QEMU block emulation to use",
        "The old form of add-drive with an interface (virtio, ide, ...): VMCraft has no \
         emulated interface, so IFACE is accepted and has no effect; the drive is added as \
         add-drive adds it.",
        |g, a| void!(g.add_drive_opts(a.str(0), DriveOpts::default())),
    )
    .flags(Flags::SESSION.union(Flags::HOST_FILES)),
    call(
        "add-drive-ro-with-if",
        &[FILENAME, arg("iface", ArgKind::String)],
        Ret::Unit,
        "add a drive read-only specifying the QEMU block emulation to use",
        "As add-drive-with-if, read-only.",
        |g, a| {
            void!(g.add_drive_opts(
                a.str(0),
                DriveOpts {
                    readonly: true,
                    ..Default::default()
                },
            ))
        },
    )
    .flags(Flags::SESSION.union(Flags::HOST_FILES)),
    call(
        "add-cdrom",
        &[FILENAME],
        Ret::Unit,
        "add a CD-ROM disk image to examine",
        "The old way to add a CD-ROM image: as add-drive-ro.",
        |g, a| {
            void!(g.add_drive_opts(
                a.str(0),
                DriveOpts {
                    readonly: true,
                    ..Default::default()
                },
            ))
        },
    )
    .flags(Flags::SESSION.union(Flags::HOST_FILES)),
];

fn add_drive(g: &VMCraft, a: &Args) -> Result<Value> {
    let format = match a.opt_string("format") {
        None => None,
        Some(f) => Some(f.parse::<vmcraft_nbd::Format>()?),
    };
    let opts = DriveOpts {
        format,
        readonly: a.opt_bool("readonly").unwrap_or(false),
        allow_backing_file: a.opt_bool("allowbacking").unwrap_or(false),
        allow_vmdk_extents: a.opt_bool("allowextents").unwrap_or(false),
    };
    void!(g.add_drive_opts(a.str(0), opts))
}
