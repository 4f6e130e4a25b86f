//! The call table's entries for the session: adding and removing drives,
//! `launch`/`run`, `is-launched`, `shutdown`, `list-devices`.

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
         they are plain files in the descriptor's own directory.\n\n\
         label:NAME gives the drive a label: 1 to 20 ASCII letters (a-z, A-Z), unique in \
         the session. list-disk-labels maps labels to devices, and remove-drive removes a \
         drive by its label (a drive without one cannot be removed). Where libguestfs also \
         names the drive /dev/disk/guestfs/NAME, VMCraft keeps its usual name only.\n\n\
         After launch, a drive added where one was removed takes the first free name.",
        add_drive,
    )
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("format", ArgKind::String),
        arg("allowbacking", ArgKind::Bool),
        arg("allowextents", ArgKind::Bool),
        arg("label", ArgKind::String),
    ])
    .alias(&["add", "add-drive-opts"])
    .flags(Flags::SESSION.union(Flags::HOST_FILES)),
    call(
        "remove-drive",
        &[arg("label", ArgKind::String)],
        Ret::Unit,
        "remove a disk image",
        "Remove the drive added with label:LABEL (see add-drive); a drive added without \
         a label cannot be removed, and an unknown label is an error.\n\n\
         Before launch the drive is never attached and the drives added after it move \
         up (/dev/sdc becomes /dev/sdb), as in libguestfs.\n\n\
         After launch the drive is detached, as libguestfs once did by hot-unplugging \
         it: the other drives keep their names (/dev/sdc stays /dev/sdc when /dev/sdb \
         goes), and the removed drive and its partitions are no devices any more. It \
         is refused, with nothing changed, while anything uses it: a filesystem on it \
         mounted (also through mount-loop of a file on it), a mounted logical volume \
         with its physical volume on it, an active volume group, swap or any other \
         device stacked on it. What was cached about it is forgotten, and the \
         session's crash-cleanup record no longer names it.",
        |g, a| void!(g.remove_drive(a.str(0))),
    )
    .flags(Flags::SESSION),
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
        "The drives of the session: /dev/sda, /dev/sdb, ... in the order they were added. \
         A drive removed after launch (remove-drive) leaves a gap: the others keep their \
         names.",
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
        label: a.opt_string("label").map(String::from),
    };
    void!(g.add_drive_opts(a.str(0), opts))
}
