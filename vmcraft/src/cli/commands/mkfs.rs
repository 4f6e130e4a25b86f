//! Making, checking and growing filesystems: `mkfs` (with libguestfs's optional
//! arguments), `mkswap`, `resize2fs`, `e2fsck`, `e2fsck-f`, `xfs-growfs`.

use super::{CommandSpec, DEVICE, PATH, arg, c, cmd};
use crate::cli::args::{ArgKind, Args};
use crate::cli::error::CliError;
use crate::cli::shell::Shell;
use crate::cli::value::Value;
use crate::{E2fsckOptions, MkfsOptions};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "mkfs",
        &[arg("fstype", ArgKind::String), DEVICE],
        "make a filesystem",
        "Make a filesystem of FSTYPE (ext2, ext3, ext4, xfs, vfat, btrfs, ntfs, swap) on a \
         device that is not mounted. blocksize:N is the block (cluster) size in bytes, \
         features:.. the ext2/3/4 features, inode:N the ext2/3/4 inode size, sectorsize:N \
         the sector size, label:.. the label.",
        mkfs,
    )
    .opts(&[
        arg("blocksize", ArgKind::Int),
        arg("features", ArgKind::String),
        arg("inode", ArgKind::Int),
        arg("sectorsize", ArgKind::Int),
        arg("label", ArgKind::String),
    ])
    .alias(&["mkfs-opts"]),
    cmd(
        "mkswap",
        &[DEVICE],
        "create a swap partition",
        "Make a swap area on a device, with an optional label:...",
        |s, a| {
            c("mkswap", s.g.mkswap(a.str(0), a.opt_string("label")))?;
            Ok(Value::Unit)
        },
    )
    .opts(&[arg("label", ArgKind::String)]),
    cmd(
        "resize2fs",
        &[DEVICE],
        "resize an ext2, ext3 or ext4 filesystem",
        "Grow (or shrink) an unmounted ext2/3/4 filesystem to fill its device. The \
         filesystem is not checked here: one mounted since its last check is refused \
         until e2fsck-f (or e2fsck correct:true or forceall:true) has run.",
        |s, a| {
            c("resize2fs", s.g.resize2fs(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "e2fsck",
        &[DEVICE],
        "check an ext2/ext3 filesystem",
        "Check an unmounted ext2/3/4 filesystem even if it looks clean (e2fsck -f). \
         correct:true repairs what can be repaired without asking (-p); forceall:true \
         answers yes to every question (-y); only one of them may be given.",
        |s, a| {
            let opts = E2fsckOptions {
                correct: a.opt_bool("correct").unwrap_or(false),
                forceall: a.opt_bool("forceall").unwrap_or(false),
            };
            c("e2fsck", s.g.e2fsck(a.str(0), opts))?;
            Ok(Value::Unit)
        },
    )
    .opts(&[
        arg("correct", ArgKind::Bool),
        arg("forceall", ArgKind::Bool),
    ]),
    cmd(
        "e2fsck-f",
        &[DEVICE],
        "check an ext2/ext3 filesystem",
        "Check an unmounted ext2/3/4 filesystem even if it looks clean, repairing what \
         can be repaired without asking (e2fsck -f -p): what resize2fs needs first.",
        |s, a| {
            c("e2fsck_f", s.g.e2fsck_f(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "xfs-growfs",
        &[PATH],
        "expand an existing XFS filesystem",
        "Grow the xfs filesystem mounted at PATH to fill its device.",
        |s, a| {
            c("xfs_growfs", s.g.xfs_growfs(a.str(0)))?;
            Ok(Value::Unit)
        },
    ),
];

fn positive(name: &str, v: Option<i64>) -> Result<Option<u32>, CliError> {
    match v {
        None => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| CliError::usage("mkfs", format!("{name}: {n} must not be negative"))),
    }
}

fn mkfs(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let opts = MkfsOptions {
        blocksize: positive("blocksize", a.opt_int("blocksize"))?,
        features: a.opt_string("features").map(String::from),
        inode: positive("inode", a.opt_int("inode"))?,
        sectorsize: positive("sectorsize", a.opt_int("sectorsize"))?,
        label: a.opt_string("label").map(String::from),
    };
    c("mkfs", s.g.mkfs(a.str(0), a.str(1), &opts))?;
    Ok(Value::Unit)
}
