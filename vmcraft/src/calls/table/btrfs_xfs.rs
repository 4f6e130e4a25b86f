//! The call table's entries for btrfs and XFS administration: `mkfs-btrfs`,
//! subvolumes and snapshots, the default subvolume, resize, sync, balance,
//! defragment, scrub, devices, seeding, fsck and rescue; `xfs-info`,
//! `xfs-info2`, `xfs-admin`, `xfs-repair`. The facade methods (in
//! `crate::calls::btrfs_xfs`) do the work and every check.

use super::prelude::*;
use crate::calls::btrfs_xfs::{
    BtrfsBalance, BtrfsQgroup, BtrfsScrub, BtrfsSubvolume, MkfsBtrfsOptions, XfsAdminOptions,
    XfsInfo, XfsRepairOptions,
};

impl ToFields for XfsInfo {
    fn to_fields(&self) -> Fields {
        let u = |v: u32| Field::UInt(v.into());
        vec![
            ("xfs_mntpoint", Field::Str(self.xfs_mntpoint.clone())),
            ("xfs_inodesize", u(self.xfs_inodesize)),
            ("xfs_agcount", u(self.xfs_agcount)),
            ("xfs_agsize", u(self.xfs_agsize)),
            ("xfs_sectsize", u(self.xfs_sectsize)),
            ("xfs_attr", u(self.xfs_attr)),
            ("xfs_blocksize", u(self.xfs_blocksize)),
            ("xfs_datablocks", Field::UInt(self.xfs_datablocks)),
            ("xfs_imaxpct", u(self.xfs_imaxpct)),
            ("xfs_sunit", u(self.xfs_sunit)),
            ("xfs_swidth", u(self.xfs_swidth)),
            ("xfs_dirversion", u(self.xfs_dirversion)),
            ("xfs_dirblocksize", u(self.xfs_dirblocksize)),
            ("xfs_cimode", u(self.xfs_cimode)),
            ("xfs_logname", Field::Str(self.xfs_logname.clone())),
            ("xfs_logblocksize", u(self.xfs_logblocksize)),
            ("xfs_logblocks", u(self.xfs_logblocks)),
            ("xfs_logversion", u(self.xfs_logversion)),
            ("xfs_logsectsize", u(self.xfs_logsectsize)),
            ("xfs_logsunit", u(self.xfs_logsunit)),
            ("xfs_lazycount", u(self.xfs_lazycount)),
            ("xfs_rtname", Field::Str(self.xfs_rtname.clone())),
            ("xfs_rtextsize", u(self.xfs_rtextsize)),
            ("xfs_rtblocks", Field::UInt(self.xfs_rtblocks)),
            ("xfs_rtextents", Field::UInt(self.xfs_rtextents)),
        ]
    }
}

impl ToFields for BtrfsSubvolume {
    fn to_fields(&self) -> Fields {
        vec![
            ("btrfssubvolume_id", Field::UInt(self.btrfssubvolume_id)),
            (
                "btrfssubvolume_top_level_id",
                Field::UInt(self.btrfssubvolume_top_level_id),
            ),
            (
                "btrfssubvolume_path",
                Field::Str(self.btrfssubvolume_path.clone()),
            ),
        ]
    }
}

impl ToFields for BtrfsQgroup {
    fn to_fields(&self) -> Fields {
        vec![
            ("btrfsqgroup_id", Field::Str(self.btrfsqgroup_id.clone())),
            ("btrfsqgroup_rfer", Field::UInt(self.btrfsqgroup_rfer)),
            ("btrfsqgroup_excl", Field::UInt(self.btrfsqgroup_excl)),
        ]
    }
}

impl ToFields for BtrfsBalance {
    fn to_fields(&self) -> Fields {
        vec![
            (
                "btrfsbalance_status",
                Field::Str(self.btrfsbalance_status.clone()),
            ),
            ("btrfsbalance_total", Field::UInt(self.btrfsbalance_total)),
            (
                "btrfsbalance_balanced",
                Field::UInt(self.btrfsbalance_balanced),
            ),
            (
                "btrfsbalance_considered",
                Field::UInt(self.btrfsbalance_considered),
            ),
            ("btrfsbalance_left", Field::UInt(self.btrfsbalance_left)),
        ]
    }
}

impl ToFields for BtrfsScrub {
    fn to_fields(&self) -> Fields {
        let s = self;
        [
            (
                "btrfsscrub_data_extents_scrubbed",
                s.btrfsscrub_data_extents_scrubbed,
            ),
            (
                "btrfsscrub_tree_extents_scrubbed",
                s.btrfsscrub_tree_extents_scrubbed,
            ),
            (
                "btrfsscrub_data_bytes_scrubbed",
                s.btrfsscrub_data_bytes_scrubbed,
            ),
            (
                "btrfsscrub_tree_bytes_scrubbed",
                s.btrfsscrub_tree_bytes_scrubbed,
            ),
            ("btrfsscrub_read_errors", s.btrfsscrub_read_errors),
            ("btrfsscrub_csum_errors", s.btrfsscrub_csum_errors),
            ("btrfsscrub_verify_errors", s.btrfsscrub_verify_errors),
            ("btrfsscrub_no_csum", s.btrfsscrub_no_csum),
            ("btrfsscrub_csum_discards", s.btrfsscrub_csum_discards),
            ("btrfsscrub_super_errors", s.btrfsscrub_super_errors),
            ("btrfsscrub_malloc_errors", s.btrfsscrub_malloc_errors),
            (
                "btrfsscrub_uncorrectable_errors",
                s.btrfsscrub_uncorrectable_errors,
            ),
            (
                "btrfsscrub_unverified_errors",
                s.btrfsscrub_unverified_errors,
            ),
            ("btrfsscrub_corrected_errors", s.btrfsscrub_corrected_errors),
            ("btrfsscrub_last_physical", s.btrfsscrub_last_physical),
        ]
        .into_iter()
        .map(|(k, v)| (k, Field::UInt(v)))
        .collect()
    }
}

/// A guest path on a btrfs filesystem.
const FS: Arg = arg("fs", ArgKind::Path);
/// A device, or a guest path on a mounted filesystem.
const DEV_OR_PATH: Arg = arg("pathordevice", ArgKind::String);
/// A device list.
const DEVICES: Arg = arg("devices", ArgKind::List);

fn i32_opt(a: &Args, name: &str) -> Result<Option<i32>> {
    a.opt_int(name)
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                Error::call(
                    ErrorKind::InvalidArgument,
                    "mkfs_btrfs",
                    name,
                    format!("{v} is out of range"),
                )
            })
        })
        .transpose()
}

fn mkfs_btrfs(g: &VMCraft, a: &Args) -> Result<Value> {
    let opts = MkfsBtrfsOptions {
        allocstart: a.opt_int("allocstart"),
        bytecount: a.opt_int("bytecount"),
        datatype: a.opt_string("datatype").map(String::from),
        leafsize: i32_opt(a, "leafsize")?,
        label: a.opt_string("label").map(String::from),
        metadata: a.opt_string("metadata").map(String::from),
        nodesize: i32_opt(a, "nodesize")?,
        sectorsize: i32_opt(a, "sectorsize")?,
    };
    g.mkfs_btrfs(&a.list(0), &opts)?;
    Ok(Value::Unit)
}

fn xfs_admin(g: &VMCraft, a: &Args) -> Result<Value> {
    let b = |n| a.opt_bool(n).unwrap_or(false);
    let opts = XfsAdminOptions {
        extunwritten: b("extunwritten"),
        imgfile: b("imgfile"),
        v2log: b("v2log"),
        projid32bit: b("projid32bit"),
        lazycounter: a.opt_bool("lazycounter"),
        label: a.opt_string("label").map(String::from),
        uuid: a.opt_string("uuid").map(String::from),
    };
    g.xfs_admin(a.str(0), &opts)?;
    Ok(Value::Unit)
}

fn xfs_repair(g: &VMCraft, a: &Args) -> Result<Value> {
    let b = |n| a.opt_bool(n).unwrap_or(false);
    let opts = XfsRepairOptions {
        forcelogzero: b("forcelogzero"),
        nomodify: b("nomodify"),
        noprefetch: b("noprefetch"),
        forcegeometry: b("forcegeometry"),
        maxmem: a.opt_int("maxmem"),
        ihashsize: a.opt_int("ihashsize"),
        bhashsize: a.opt_int("bhashsize"),
        agstride: a.opt_int("agstride"),
        logdev: a.opt_string("logdev").map(String::from),
        rtdev: a.opt_string("rtdev").map(String::from),
    };
    Ok(Value::Int(g.xfs_repair(a.str(0), &opts)?.into()))
}

pub(crate) const CALLS: &[Call] = &[
    call(
        "xfs-info",
        &[DEV_OR_PATH],
        Ret::Struct,
        "get information about the XFS filesystem",
        "PATHORDEVICE is a device holding an XFS filesystem, or a guest path on a \
         mounted one (or an XFS image file in the guest). Returns what xfs_info prints \
         as libguestfs's xfsinfo struct; xfs_mntpoint is the device's name. A field \
         xfs_info does not print is an error. Guest paths resolve inside the guest.",
        |g, a| Ok(Value::Struct(g.xfs_info(a.str(0))?.to_fields())),
    ),
    call(
        "xfs-info2",
        &[DEV_OR_PATH],
        Ret::Hash,
        "get information about the XFS filesystem",
        "What xfs_info prints about the XFS filesystem on PATHORDEVICE (as xfs-info) \
         as pairs: meta-data, meta-data.isize, data.bsize, log, log.version, ... in \
         xfs_info's order; sizes in blocks keep their unit (19200 blks).",
        |g, a| Ok(Value::Hash(g.xfs_info2(a.str(0))?)),
    ),
    call(
        "xfs-admin",
        &[DEVICE],
        Ret::Unit,
        "change parameters of an XFS filesystem",
        "Change the parameters of the unmounted XFS filesystem on DEVICE: \
         extunwritten:true (-e), imgfile:true (-f), v2log:true (-j), \
         projid32bit:true (-p), lazycounter:true|false (-c 1/0, no effect on v5 \
         filesystems), label:.. (at most 12 bytes), uuid:.. (a UUID, generate or \
         nil). A mounted device and a read-only drive are refused.",
        xfs_admin,
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("extunwritten", ArgKind::Bool),
        arg("imgfile", ArgKind::Bool),
        arg("v2log", ArgKind::Bool),
        arg("projid32bit", ArgKind::Bool),
        arg("lazycounter", ArgKind::Bool),
        arg("label", ArgKind::String),
        arg("uuid", ArgKind::String),
    ]),
    call(
        "xfs-repair",
        &[arg("device", ArgKind::String)],
        Ret::Int,
        "repair an XFS filesystem",
        "Check and repair the unmounted XFS filesystem on DEVICE (or an XFS image \
         file in the guest, given by its path). Prints xfs_repair's status: 0 when no \
         corruption was found, 1 when it was (with nomodify:true, which only checks \
         and is allowed on a read-only drive), 2 when the log is dirty (mount the \
         filesystem once, or zero it with forcelogzero:true). Options: \
         forcelogzero, nomodify, noprefetch, forcegeometry (true|false), maxmem, \
         ihashsize, bhashsize, agstride (N >= 0), logdev and rtdev (devices).",
        xfs_repair,
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("forcelogzero", ArgKind::Bool),
        arg("nomodify", ArgKind::Bool),
        arg("noprefetch", ArgKind::Bool),
        arg("forcegeometry", ArgKind::Bool),
        arg("maxmem", ArgKind::Int64),
        arg("ihashsize", ArgKind::Int64),
        arg("bhashsize", ArgKind::Int64),
        arg("agstride", ArgKind::Int64),
        arg("logdev", ArgKind::String),
        arg("rtdev", ArgKind::String),
    ]),
    call(
        "mkfs-btrfs",
        &[DEVICES],
        Ret::Unit,
        "create a btrfs filesystem",
        "Make a btrfs filesystem over the (non-empty) list of unmounted DEVICES. \
         Options as mkfs.btrfs(8): bytecount:N (bytes of each device), \
         datatype:.. and metadata:.. (single, dup, raid0, raid1, raid1c3, raid1c4, \
         raid5, raid6, raid10), label:.., nodesize:N and sectorsize:N (powers of \
         two), leafsize:N (the old name of nodesize), allocstart:N (ignored, as \
         btrfs-progs no longer has it).",
        mkfs_btrfs,
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("allocstart", ArgKind::Int64),
        arg("bytecount", ArgKind::Int64),
        arg("datatype", ArgKind::String),
        arg("leafsize", ArgKind::Int),
        arg("label", ArgKind::String),
        arg("metadata", ArgKind::String),
        arg("nodesize", ArgKind::Int),
        arg("sectorsize", ArgKind::Int),
    ]),
    call(
        "btrfs-subvolume-create",
        &[arg("dest", ArgKind::Path)],
        Ret::Unit,
        "create a btrfs subvolume",
        "Create a btrfs subvolume at DEST (/path/to/parent/name), optionally in \
         qgroup qgroupid:LEVEL/ID. The parent resolves inside the guest.",
        |g, a| void!(g.btrfs_subvolume_create(a.str(0), a.opt_string("qgroupid"))),
    )
    .flags(Flags::WRITES)
    .opts(&[arg("qgroupid", ArgKind::String)])
    .alias(&["btrfs-subvolume-create-opts"]),
    call(
        "btrfs-subvolume-snapshot",
        &[arg("source", ArgKind::Path), arg("dest", ArgKind::Path)],
        Ret::Unit,
        "create a btrfs snapshot",
        "Snapshot the btrfs subvolume SOURCE as DEST (/path/to/parent/name): \
         writable unless ro:true, optionally in qgroup qgroupid:LEVEL/ID.",
        |g, a| {
            void!(g.btrfs_subvolume_snapshot(
                a.str(0),
                a.str(1),
                a.opt_bool("ro").unwrap_or(false),
                a.opt_string("qgroupid"),
            ))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[arg("ro", ArgKind::Bool), arg("qgroupid", ArgKind::String)])
    .alias(&["btrfs-subvolume-snapshot-opts"]),
    call(
        "btrfs-subvolume-delete",
        &[arg("subvolume", ArgKind::Path)],
        Ret::Unit,
        "delete a btrfs subvolume or snapshot",
        "Delete the named btrfs subvolume or snapshot.",
        |g, a| void!(g.btrfs_subvolume_delete(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-subvolume-list",
        &[arg("fs", ArgKind::String)],
        Ret::StructList,
        "list btrfs snapshots and subvolumes",
        "List the subvolumes and snapshots of the btrfs filesystem FS: a device (mounted \
         read-only for the call if it is not mounted) or a guest path on a mounted \
         btrfs.",
        |g, a| Ok(structs(&g.btrfs_subvolume_list(a.str(0))?)),
    ),
    call(
        "btrfs-subvolume-set-default",
        &[arg("id", ArgKind::Int64), FS],
        Ret::Unit,
        "set default btrfs subvolume",
        "Make subvolume ID the one mounted by default on the btrfs filesystem FS \
         (see btrfs-subvolume-list for the IDs).",
        |g, a| void!(g.btrfs_subvolume_set_default(a.int(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-subvolume-get-default",
        &[arg("fs", ArgKind::String)],
        Ret::Int64,
        "get the default subvolume or snapshot of a filesystem",
        "The ID of the subvolume mounted by default on the btrfs filesystem FS (a \
         device or a guest path on a mounted btrfs); 5 is the top level.",
        |g, a| Ok(Value::Int(g.btrfs_subvolume_get_default(a.str(0))?)),
    ),
    call(
        "btrfs-subvolume-show",
        &[arg("subvolume", ArgKind::Path)],
        Ret::Hash,
        "return detailed information of the subvolume",
        "What btrfs subvolume show says about SUBVOLUME, as pairs: path (from the top \
         of the filesystem), Name, UUID, Parent UUID, ..., Snapshot(s) (comma \
         separated); a value of - is empty. The top level of the filesystem and a \
         directory that is not a subvolume are errors.",
        |g, a| Ok(Value::Hash(g.btrfs_subvolume_show(a.str(0))?)),
    ),
    call(
        "btrfs-filesystem-resize",
        &[arg("mountpoint", ArgKind::Path)],
        Ret::Unit,
        "resize a btrfs filesystem",
        "Resize the mounted btrfs filesystem at MOUNTPOINT (btrfs resizes only mounted \
         filesystems) to size:N bytes, or to fill its device when size is not given.",
        |g, a| void!(g.btrfs_filesystem_resize(a.str(0), a.opt_int("size"))),
    )
    .flags(Flags::WRITES)
    .opts(&[arg("size", ArgKind::Int64)]),
    call(
        "btrfs-filesystem-sync",
        &[FS],
        Ret::Unit,
        "sync a btrfs filesystem",
        "Force a sync of the btrfs filesystem mounted at FS.",
        |g, a| void!(g.btrfs_filesystem_sync(a.str(0))),
    ),
    call(
        "btrfs-filesystem-balance",
        &[FS],
        Ret::Unit,
        "balance a btrfs filesystem",
        "Balance the chunks of the btrfs filesystem mounted at FS across its devices \
         (a full balance, waited for).",
        |g, a| void!(g.btrfs_filesystem_balance(a.str(0))),
    )
    .flags(Flags::WRITES)
    .alias(&["btrfs-balance"]),
    call(
        "btrfs-filesystem-defragment",
        &[PATH],
        Ret::Unit,
        "defragment a file or directory",
        "Defragment a file or directory (recursively) on a btrfs filesystem. \
         flush:true writes the data out after each file; compress:.. (zlib, lzo, or \
         zstd) recompresses it.",
        |g, a| {
            void!(g.btrfs_filesystem_defragment(
                a.str(0),
                a.opt_bool("flush").unwrap_or(false),
                a.opt_string("compress"),
            ))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("flush", ArgKind::Bool),
        arg("compress", ArgKind::String),
    ]),
    call(
        "btrfs-filesystem-show",
        &[DEVICE],
        Ret::StringList,
        "list devices for btrfs filesystem",
        "The devices of the btrfs filesystem on DEVICE. A filesystem with a missing \
         device is an error, and so is one btrfs finds on a device outside the session.",
        |g, a| Ok(Value::List(g.btrfs_filesystem_show(a.str(0))?)),
    ),
    call(
        "btrfs-device-add",
        &[DEVICES, FS],
        Ret::Unit,
        "add devices to a btrfs filesystem",
        "Add the unmounted DEVICES to the btrfs filesystem mounted at FS; an empty \
         list does nothing.",
        |g, a| void!(g.btrfs_device_add(&a.list(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-device-delete",
        &[DEVICES, FS],
        Ret::Unit,
        "remove devices from a btrfs filesystem",
        "Remove DEVICES from the btrfs filesystem mounted at FS, moving their data to \
         the other devices; an empty list does nothing.",
        |g, a| void!(g.btrfs_device_delete(&a.list(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-set-seeding",
        &[DEVICE, arg("seeding", ArgKind::Bool)],
        Ret::Unit,
        "enable or disable the seeding feature of device",
        "Turn the seeding flag of the unmounted btrfs filesystem on DEVICE on or off \
         (a seed filesystem mounts read-only).",
        |g, a| void!(g.btrfs_set_seeding(a.str(0), a.bool(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-fsck",
        &[DEVICE],
        Ret::Unit,
        "check a btrfs filesystem",
        "Check the unmounted btrfs filesystem on DEVICE (btrfs check); problems found \
         are an error. superblock:N uses superblock copy N; repair:true repairs (not \
         on a read-only drive).",
        |g, a| {
            void!(g.btrfs_fsck(
                a.str(0),
                a.opt_int("superblock"),
                a.opt_bool("repair").unwrap_or(false),
            ))
        },
    )
    .opts(&[
        arg("superblock", ArgKind::Int64),
        arg("repair", ArgKind::Bool),
    ]),
    call(
        "btrfs-scrub-start",
        &[PATH],
        Ret::Unit,
        "read all data from all disks and verify checksums",
        "Scrub the btrfs filesystem holding PATH: read all data and metadata, verify \
         checksums and repair from good copies. Unlike libguestfs, which leaves the \
         scrub running, VMCraft waits for it to finish.",
        |g, a| void!(g.btrfs_scrub_start(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-scrub-cancel",
        &[PATH],
        Ret::Unit,
        "cancel a running scrub",
        "Cancel a running scrub on the btrfs filesystem holding PATH.",
        |g, a| void!(g.btrfs_scrub_cancel(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-scrub-resume",
        &[PATH],
        Ret::Unit,
        "resume a previously canceled or interrupted scrub",
        "Resume a cancelled or interrupted scrub on the btrfs filesystem holding PATH, \
         waiting for it to finish.",
        |g, a| void!(g.btrfs_scrub_resume(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-balance-pause",
        &[PATH],
        Ret::Unit,
        "pause a running balance",
        "Pause a running balance on the btrfs filesystem holding PATH.",
        |g, a| void!(g.btrfs_balance_pause(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-balance-resume",
        &[PATH],
        Ret::Unit,
        "resume a paused balance",
        "Resume a paused balance on the btrfs filesystem holding PATH.",
        |g, a| void!(g.btrfs_balance_resume(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-balance-cancel",
        &[PATH],
        Ret::Unit,
        "cancel a running or paused balance",
        "Cancel a running or paused balance on the btrfs filesystem holding PATH.",
        |g, a| void!(g.btrfs_balance_cancel(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-rescue-chunk-recover",
        &[DEVICE],
        Ret::Unit,
        "recover the chunk tree of btrfs filesystem",
        "Recover the chunk tree of the unmounted btrfs filesystem on DEVICE by \
         scanning its devices.",
        |g, a| void!(g.btrfs_rescue_chunk_recover(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-rescue-super-recover",
        &[DEVICE],
        Ret::Unit,
        "recover bad superblocks from good copies",
        "Repair bad superblocks of the unmounted btrfs filesystem on DEVICE from good \
         copies.",
        |g, a| void!(g.btrfs_rescue_super_recover(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-scrub-status",
        &[PATH],
        Ret::Struct,
        "show status of running or finished scrub",
        "The counters of the last or running scrub on the btrfs filesystem holding \
         PATH, as libguestfs's btrfsscrub struct.",
        |g, a| Ok(Value::Struct(g.btrfs_scrub_status(a.str(0))?.to_fields())),
    ),
    call(
        "btrfs-balance-status",
        &[PATH],
        Ret::Struct,
        "show the status of a running or paused balance",
        "The state of a balance on the btrfs filesystem holding PATH: \
         btrfsbalance_status is none, running or paused, with the chunks balanced, \
         considered, their total and the percentage left.",
        |g, a| Ok(Value::Struct(g.btrfs_balance_status(a.str(0))?.to_fields())),
    ),
    call(
        "btrfs-quota-enable",
        &[arg("fs", ArgKind::String), arg("enable", ArgKind::Bool)],
        Ret::Unit,
        "enable or disable subvolume quota support",
        "Turn quotas on or off on the btrfs filesystem FS: a device (mounted \
         read-write for the call if it is not mounted) or a guest path on a mounted \
         btrfs.",
        |g, a| void!(g.btrfs_quota_enable(a.str(0), a.bool(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-quota-rescan",
        &[arg("fs", ArgKind::String)],
        Ret::Unit,
        "trash all qgroup numbers and scan the metadata again with the current config",
        "Rescan the quotas of the btrfs filesystem FS (as btrfs-quota-enable), \
         waiting for the rescan to finish.",
        |g, a| void!(g.btrfs_quota_rescan(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-qgroup-limit",
        &[arg("subvolume", ArgKind::Path), arg("size", ArgKind::Int64)],
        Ret::Unit,
        "limit the size of a subvolume",
        "Limit the size of the qgroup of SUBVOLUME to SIZE bytes.",
        |g, a| void!(g.btrfs_qgroup_limit(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-qgroup-create",
        &[
            arg("qgroupid", ArgKind::String),
            arg("subvolume", ArgKind::Path),
        ],
        Ret::Unit,
        "create a subvolume quota group",
        "Create quota group QGROUPID (LEVEL/ID) on the btrfs filesystem holding \
         SUBVOLUME.",
        |g, a| void!(g.btrfs_qgroup_create(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-qgroup-destroy",
        &[
            arg("qgroupid", ArgKind::String),
            arg("subvolume", ArgKind::Path),
        ],
        Ret::Unit,
        "destroy a subvolume quota group",
        "Destroy quota group QGROUPID on the btrfs filesystem holding SUBVOLUME.",
        |g, a| void!(g.btrfs_qgroup_destroy(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-qgroup-show",
        &[PATH],
        Ret::StructList,
        "show subvolume quota groups",
        "The quota groups of the btrfs filesystem holding PATH, with the bytes each \
         references and holds exclusively.",
        |g, a| Ok(structs(&g.btrfs_qgroup_show(a.str(0))?)),
    ),
    call(
        "btrfs-qgroup-assign",
        &[
            arg("src", ArgKind::String),
            arg("dst", ArgKind::String),
            PATH,
        ],
        Ret::Unit,
        "add a qgroup to a parent qgroup",
        "Make quota group SRC a member of quota group DST on the btrfs filesystem \
         holding PATH.",
        |g, a| void!(g.btrfs_qgroup_assign(a.str(0), a.str(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-qgroup-remove",
        &[
            arg("src", ArgKind::String),
            arg("dst", ArgKind::String),
            PATH,
        ],
        Ret::Unit,
        "remove a qgroup from its parent qgroup",
        "Take quota group SRC out of quota group DST on the btrfs filesystem holding \
         PATH.",
        |g, a| void!(g.btrfs_qgroup_remove(a.str(0), a.str(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfstune-seeding",
        &[DEVICE, arg("seeding", ArgKind::Bool)],
        Ret::Unit,
        "enable or disable seeding of a btrfs device",
        "Turn seeding of the unmounted btrfs filesystem on DEVICE on or off, as \
         btrfs-set-seeding: a seed filesystem mounts read-only, to build other \
         filesystems on.",
        |g, a| void!(g.btrfstune_seeding(a.str(0), a.bool(1))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfstune-enable-extended-inode-refs",
        &[DEVICE],
        Ret::Unit,
        "enable extended inode refs",
        "Enable extended inode refs on the unmounted btrfs filesystem on DEVICE.",
        |g, a| void!(g.btrfstune_enable_extended_inode_refs(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfstune-enable-skinny-metadata-extent-refs",
        &[DEVICE],
        Ret::Unit,
        "enable skinny metadata extent refs",
        "Enable skinny metadata extent refs on the unmounted btrfs filesystem on \
         DEVICE.",
        |g, a| void!(g.btrfstune_enable_skinny_metadata_extent_refs(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-replace",
        &[
            arg("srcdev", ArgKind::Device),
            arg("targetdev", ArgKind::Device),
            arg("mntpoint", ArgKind::Path),
        ],
        Ret::Unit,
        "replace a btrfs managed device with another device",
        "Replace SRCDEV of the btrfs filesystem mounted at MNTPOINT with TARGETDEV, \
         waiting for the copy. TARGETDEV must be at least as large as SRCDEV and not \
         mounted; SRCDEV is wiped and taken out of the filesystem afterwards.",
        |g, a| void!(g.btrfs_replace(a.str(0), a.str(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "btrfs-scrub-full",
        &[PATH],
        Ret::Unit,
        "run a full scrub on a btrfs filesystem",
        "Scrub the btrfs filesystem holding PATH and wait for it to finish; errors \
         found are an error. readonly:true only reports, repairing nothing.",
        |g, a| void!(g.btrfs_scrub_full(a.str(0), a.opt_bool("readonly").unwrap_or(false))),
    )
    .flags(Flags::WRITES)
    .opts(&[arg("readonly", ArgKind::Bool)]),
    call(
        "btrfs-image",
        &[arg("source", ArgKind::List), arg("image", ArgKind::Path)],
        Ret::Unit,
        "create an image of a btrfs filesystem",
        "Write an image of the btrfs filesystem on SOURCE to the guest file IMAGE: \
         all data zeroed, the metadata kept. compresslevel:N (0 to 9) compresses it. \
         IMAGE is made in its directory, or replaced when it is a regular file.",
        |g, a| {
            let level = a
                .opt_int("compresslevel")
                .map(|v| {
                    i32::try_from(v).map_err(|_| {
                        Error::call(
                            ErrorKind::InvalidArgument,
                            "btrfs_image",
                            "compresslevel",
                            format!("{v} is out of range"),
                        )
                    })
                })
                .transpose()?;
            void!(g.btrfs_image(&a.list(0), a.str(1), level))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[arg("compresslevel", ArgKind::Int)]),
];
