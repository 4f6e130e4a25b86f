//! The call table's entries for the small calls (see `crate::calls::misc`):
//! daemon probes, file helpers, GPT lookups, block settings, and libguestfs's
//! deprecated or appliance-only calls with an honest answer.

use super::prelude::*;
use crate::calls::misc::CopyAttributes;

const NAMES: Arg = arg("names", ArgKind::List);

pub(crate) const CALLS: &[Call] = &[
    call(
        "ping-daemon",
        &[],
        Ret::Unit,
        "ping the guest daemon",
        "Succeeds when the session is launched. VMCraft has no daemon: this is how \
         scripts check that the session is usable.",
        |g, _| void!(g.ping_daemon()),
    )
    .flags(Flags::SESSION),
    call(
        "echo-daemon",
        &[arg("words", ArgKind::List)],
        Ret::String,
        "echo arguments back to the client",
        "The words joined by single spaces.",
        |g, a| Ok(Value::Str(g.echo_daemon(&a.list(0))?)),
    )
    .flags(Flags::SESSION),
    call(
        "sleep",
        &[arg("secs", ArgKind::Int)],
        Ret::Unit,
        "sleep for some seconds",
        "Sleep SECS seconds (a cancel stops it).",
        |g, a| void!(g.sleep(a.int32(0))),
    )
    .flags(Flags::SESSION),
    call(
        "utsname",
        &[],
        Ret::Struct,
        "appliance kernel version",
        "The name, release, version and machine of the kernel that handles the \
         session's filesystems: the host's own, since VMCraft has no appliance.",
        |g, _| {
            let u = g.utsname()?;
            Ok(Value::Struct(vec![
                ("uts_sysname", Field::Str(u.uts_sysname)),
                ("uts_release", Field::Str(u.uts_release)),
                ("uts_version", Field::Str(u.uts_version)),
                ("uts_machine", Field::Str(u.uts_machine)),
            ]))
        },
    )
    .flags(Flags::SESSION),
    call(
        "readlinklist",
        &[PATH, NAMES],
        Ret::StringList,
        "readlink on multiple files",
        "The target of each symlink NAMES in directory PATH, in order; an empty string \
         for a name that is not a symlink. Names are single components.",
        |g, a| Ok(Value::List(g.readlinklist(a.str(0), &a.list(1))?)),
    ),
    call(
        "ls0",
        &[DIRECTORY, arg("filenames", ArgKind::FileOut)],
        Ret::Unit,
        "get list of files in a directory",
        "The names in DIRECTORY (as ls), written to the host file FILENAMES separated by \
         NUL bytes.",
        |g, a| void!(g.ls0(a.str(0), a.str(1))),
    )
    .flags(Flags::HOST_FILES),
    call(
        "lchown",
        &[arg("owner", ArgKind::Int), arg("group", ArgKind::Int), PATH],
        Ret::Unit,
        "change file owner and group",
        "As chown, but a final symlink is changed itself, not what it points to.",
        |g, a| void!(g.lchown(a.int32(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "equal",
        &[arg("file1", ArgKind::Path), arg("file2", ArgKind::Path)],
        Ret::Bool,
        "test if two files have equal contents",
        "true when the two guest files have the same content.",
        |g, a| Ok(Value::Bool(g.equal(a.str(0), a.str(1))?)),
    ),
    call(
        "copy-attributes",
        &[arg("src", ArgKind::Path), arg("dest", ArgKind::Path)],
        Ret::Unit,
        "copy the attributes of a path (file/directory) to another",
        "Copy SRC's permission bits to DEST (the default), or what the optional \
         arguments ask: mode:true, xattributes:true (the extended attributes), \
         ownership:true (owner and group), all:true (everything).",
        |g, a| {
            let what = CopyAttributes {
                all: a.opt_bool("all").unwrap_or(false),
                mode: a.opt_bool("mode").unwrap_or(false),
                xattributes: a.opt_bool("xattributes").unwrap_or(false),
                ownership: a.opt_bool("ownership").unwrap_or(false),
            };
            void!(g.copy_attributes(a.str(0), a.str(1), what))
        },
    )
    .opts(&[
        arg("all", ArgKind::Bool),
        arg("mode", ArgKind::Bool),
        arg("xattributes", ArgKind::Bool),
        arg("ownership", ArgKind::Bool),
    ])
    .flags(Flags::WRITES),
    call(
        "write-file",
        &[
            PATH,
            arg("content", ArgKind::String),
            arg("size", ArgKind::Int),
        ],
        Ret::Unit,
        "create a file",
        "The old form of write: create or overwrite PATH with the first SIZE bytes of \
         CONTENT, all of it when SIZE is 0.",
        |g, a| void!(g.write_file(a.str(0), a.str(1), a.int32(2))),
    )
    .flags(Flags::WRITES),
    call(
        "fallocate",
        &[PATH, arg("len", ArgKind::Int)],
        Ret::Unit,
        "preallocate a file in the guest filesystem",
        "Create (or replace) PATH as a file of LEN bytes with its blocks allocated. \
         fallocate64 takes a 64-bit length.",
        |g, a| void!(g.fallocate64(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "fallocate64",
        &[PATH, arg("len", ArgKind::Int64)],
        Ret::Unit,
        "preallocate a file in the guest filesystem",
        "Create (or replace) PATH as a file of LEN bytes with its blocks allocated.",
        |g, a| void!(g.fallocate64(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "get-e2generation",
        &[arg("file", ArgKind::Path)],
        Ret::Int64,
        "get ext2 file generation of a file",
        "The generation number of a regular file or directory on ext2/3/4.",
        |g, a| Ok(Value::Int(g.get_e2generation(a.str(0))?)),
    ),
    call(
        "set-e2generation",
        &[
            arg("file", ArgKind::Path),
            arg("generation", ArgKind::Int64),
        ],
        Ret::Unit,
        "set ext2 file generation of a file",
        "Set the generation number of a regular file or directory on ext2/3/4 (0 to \
         2^32-1). ext4 with metadata checksums (mke2fs's default) refuses it, as it \
         refuses chattr -v.",
        |g, a| void!(g.set_e2generation(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "findfs-partlabel",
        &[arg("label", ArgKind::String)],
        Ret::String,
        "find a partition by partition label",
        "The partition whose GPT partition name is LABEL; an error when none has it.",
        |g, a| Ok(Value::Str(g.findfs_partlabel(a.str(0))?)),
    ),
    call(
        "findfs-partuuid",
        &[arg("uuid", ArgKind::String)],
        Ret::String,
        "find a partition by partition UUID",
        "The partition whose GPT unique partition GUID is UUID (any case); an error when \
         none has it.",
        |g, a| Ok(Value::Str(g.findfs_partuuid(a.str(0))?)),
    ),
    call(
        "blockdev-setra",
        &[DEVICE, arg("sectors", ArgKind::Int)],
        Ret::Unit,
        "set readahead",
        "Set the device's read-ahead, in 512-byte sectors.",
        |g, a| void!(g.blockdev_setra(a.str(0), a.int32(1))),
    )
    .flags(Flags::SESSION),
    call(
        "blockdev-setbsz",
        &[DEVICE, arg("blocksize", ArgKind::Int)],
        Ret::Unit,
        "set blocksize of block device",
        "Does nothing, as in libguestfs, where this call never did anything (the \
         device must exist).",
        |g, a| void!(g.blockdev_setbsz(a.str(0), a.int32(1))),
    )
    .flags(Flags::SESSION),
    call(
        "kill-subprocess",
        &[],
        Ret::Unit,
        "kill the hypervisor",
        "There is no hypervisor: shuts the session down, as libguestfs says to do \
         instead.",
        |g, _| void!(g.kill_subprocess()),
    )
    .flags(Flags::SESSION),
    call(
        "wait-ready",
        &[],
        Ret::Unit,
        "wait until the hypervisor launches (no op)",
        "Does nothing: a launch returns once the session is ready.",
        |g, _| void!(g.wait_ready()),
    )
    .flags(Flags::SESSION),
    call(
        "list-9p",
        &[],
        Ret::StringList,
        "list 9p filesystems",
        "None: there is no appliance to export 9p filesystems to.",
        |g, _| Ok(Value::List(g.list_9p()?)),
    ),
    call(
        "modprobe",
        &[arg("modulename", ArgKind::String)],
        Ret::Unit,
        "load a kernel module",
        "Refused: it would load a module into the host's kernel (libguestfs loads it \
         into its appliance's).",
        |g, a| void!(g.modprobe(a.str(0))),
    ),
    call(
        "set-libvirt-supported-credentials",
        &[arg("creds", ArgKind::List)],
        Ret::Unit,
        "set libvirt credentials supported by calling program",
        "Checked and accepted: VMCraft does not use libvirt, so none is ever requested.",
        |g, a| void!(g.set_libvirt_supported_credentials(&a.list(0))),
    )
    .flags(Flags::NO_EFFECT.union(Flags::SESSION)),
    call(
        "get-libvirt-requested-credentials",
        &[],
        Ret::StringList,
        "get list of credentials requested by libvirt",
        "None: VMCraft does not use libvirt.",
        |g, _| Ok(Value::List(g.get_libvirt_requested_credentials()?)),
    )
    .flags(Flags::SESSION),
    call(
        "get-libvirt-requested-credential-prompt",
        &[arg("index", ArgKind::Int)],
        Ret::String,
        "prompt of i'th requested credential",
        "An error: no credential was requested (VMCraft does not use libvirt).",
        |g, a| {
            Ok(Value::Str(g.no_libvirt_credential(
                "get_libvirt_requested_credential_prompt",
                a.int32(0),
            )?))
        },
    )
    .flags(Flags::SESSION),
    call(
        "get-libvirt-requested-credential-challenge",
        &[arg("index", ArgKind::Int)],
        Ret::String,
        "challenge of i'th requested credential",
        "An error: no credential was requested (VMCraft does not use libvirt).",
        |g, a| {
            Ok(Value::Str(g.no_libvirt_credential(
                "get_libvirt_requested_credential_challenge",
                a.int32(0),
            )?))
        },
    )
    .flags(Flags::SESSION),
    call(
        "get-libvirt-requested-credential-defresult",
        &[arg("index", ArgKind::Int)],
        Ret::String,
        "default result of i'th requested credential",
        "An error: no credential was requested (VMCraft does not use libvirt).",
        |g, a| {
            Ok(Value::Str(g.no_libvirt_credential(
                "get_libvirt_requested_credential_defresult",
                a.int32(0),
            )?))
        },
    )
    .flags(Flags::SESSION),
    call(
        "set-libvirt-requested-credential",
        &[arg("index", ArgKind::Int), arg("cred", ArgKind::Buffer)],
        Ret::Unit,
        "pass requested credential back to libvirt",
        "An error: no credential was requested (VMCraft does not use libvirt).",
        |g, a| {
            g.no_libvirt_credential("set_libvirt_requested_credential", a.int32(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::SESSION),
];
