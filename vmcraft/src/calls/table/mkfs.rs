//! Making, checking and growing filesystems: `mkfs` (with libguestfs's optional
//! arguments), `mkswap`, `resize2fs`, `e2fsck`, `e2fsck-f`, `xfs-growfs`.

use super::prelude::*;
use crate::{E2fsckOptions, MkfsOptions};

pub(crate) const CALLS: &[Call] = &[
    call(
        "mkfs",
        &[arg("fstype", ArgKind::String), DEVICE],
        Ret::Unit,
        "make a filesystem",
        "Make a filesystem of FSTYPE (ext2, ext3, ext4, xfs, vfat, btrfs, ntfs, swap) on a \
         device that is not mounted. blocksize:N is the block (cluster) size in bytes, \
         features:.. the ext2/3/4 features, inode:N the ext2/3/4 inode size, sectorsize:N \
         the sector size, label:.. the label.",
        mkfs,
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("blocksize", ArgKind::Int),
        arg("features", ArgKind::String),
        arg("inode", ArgKind::Int),
        arg("sectorsize", ArgKind::Int),
        arg("label", ArgKind::String),
    ])
    .alias(&["mkfs-opts"]),
    call(
        "mkswap",
        &[DEVICE],
        Ret::Unit,
        "create a swap partition",
        "Make a swap area on a device, with an optional label:...",
        |g, a| {
            g.mkswap(a.str(0), a.opt_string("label"))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::WRITES)
    .opts(&[arg("label", ArgKind::String)]),
    call(
        "resize2fs",
        &[DEVICE],
        Ret::Unit,
        "resize an ext2, ext3 or ext4 filesystem",
        "Grow (or shrink) an unmounted ext2/3/4 filesystem to fill its device. The \
         filesystem is not checked here: one mounted since its last check is refused \
         until e2fsck-f (or e2fsck correct:true or forceall:true) has run.",
        |g, a| {
            g.resize2fs(a.str(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::WRITES),
    call(
        "e2fsck",
        &[DEVICE],
        Ret::Unit,
        "check an ext2/ext3 filesystem",
        "Check an unmounted ext2/3/4 filesystem even if it looks clean (e2fsck -f). \
         correct:true repairs what can be repaired without asking (-p); forceall:true \
         answers yes to every question (-y); only one of them may be given.",
        |g, a| {
            let opts = E2fsckOptions {
                correct: a.opt_bool("correct").unwrap_or(false),
                forceall: a.opt_bool("forceall").unwrap_or(false),
            };
            g.e2fsck(a.str(0), opts)?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("correct", ArgKind::Bool),
        arg("forceall", ArgKind::Bool),
    ]),
    call(
        "e2fsck-f",
        &[DEVICE],
        Ret::Unit,
        "check an ext2/ext3 filesystem",
        "Check an unmounted ext2/3/4 filesystem even if it looks clean, repairing what \
         can be repaired without asking (e2fsck -f -p): what resize2fs needs first.",
        |g, a| {
            g.e2fsck_f(a.str(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::WRITES),
    call(
        "xfs-growfs",
        &[PATH],
        Ret::Unit,
        "expand an existing XFS filesystem",
        "Grow the xfs filesystem mounted at PATH to fill its device.",
        |g, a| {
            g.xfs_growfs(a.str(0))?;
            Ok(Value::Unit)
        },
    )
    .flags(Flags::WRITES),
];

fn positive(name: &str, v: Option<i64>) -> Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| Error::invalid("mkfs", name, format!("{n} must not be negative"))),
    }
}

fn mkfs(g: &VMCraft, a: &Args) -> Result<Value> {
    let opts = MkfsOptions {
        blocksize: positive("blocksize", a.opt_int("blocksize"))?,
        features: a.opt_string("features").map(String::from),
        inode: positive("inode", a.opt_int("inode"))?,
        sectorsize: positive("sectorsize", a.opt_int("sectorsize"))?,
        label: a.opt_string("label").map(String::from),
    };
    g.mkfs(a.str(0), a.str(1), &opts)?;
    Ok(Value::Unit)
}
