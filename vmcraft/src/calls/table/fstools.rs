//! The call table's entries for filesystem tools: `fsck`; labels and UUIDs
//! (`set-label`, `set-uuid`, `set-uuid-random`, `get-e2label`, `set-e2label`,
//! `get-e2uuid`, `set-e2uuid`); ext2/3/4 tuning, making and resizing
//! (`tune2fs`, `tune2fs-l`, `mke2fs`, `resize2fs-M`, `resize2fs-size`);
//! `mkfs-b`; swap (`mkswap-L`, `mkswap-U`, `mkswap-file`, and the refused
//! `swapon-*`/`swapoff-*`); `vfs-minimum-size`, `zerofree`, `fstrim`,
//! `wipefs`; NTFS (`ntfsresize`, `ntfsresize-size`, `ntfsfix`). The facade
//! methods (in `crate::calls::fstools`) do the work and every check.

use super::prelude::*;
use crate::calls::fstools::{FstrimOptions, Mke2fsOptions, NtfsresizeOptions, Tune2fsOptions};

/// An optional 32-bit integer argument, range-checked.
fn i32_opt(call: &str, a: &Args, name: &str) -> Result<Option<i32>> {
    a.opt_int(name)
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                Error::call(
                    ErrorKind::InvalidArgument,
                    call,
                    name,
                    format!("{v} is out of range"),
                )
            })
        })
        .transpose()
}

fn string_opt(a: &Args, name: &str) -> Option<String> {
    a.opt_string(name).map(String::from)
}

const LABEL: Arg = arg("label", ArgKind::String);
const UUID: Arg = arg("uuid", ArgKind::String);

/// What every `swapon-*`/`swapoff-*` entry says.
const SWAP_DOC: &str = "Refused: libguestfs lets its appliance swap on guest storage; VMCraft has \
     no appliance and runs on the host, where this would make the host kernel swap onto \
     (or stop swapping onto) a guest disk, leaking host memory into the image. The call \
     fails with an unsupported error and changes nothing.";

pub(crate) const CALLS: &[Call] = &[
    call(
        "fsck",
        &[arg("fstype", ArgKind::String), DEVICE],
        Ret::Int,
        "run the filesystem checker",
        "Run the filesystem checker on DEVICE, which holds a filesystem of type FSTYPE \
         (fsck -a -t FSTYPE), and return its status: 0 clean, 1 errors corrected, 4 \
         errors left uncorrected, 8 an operational error (no checker for the type, no \
         filesystem), summed as fsck(8) says. A non-zero status is a result, not an \
         error. fsck -a repairs, so the device must be unmounted and its drive \
         writable. NTFS has no checker (see ntfsfix). Printed in hexadecimal, as \
         guestfish prints it.",
        |g, a| Ok(Value::Hex(g.fsck(a.str(0), a.str(1))?.into())),
    )
    .flags(Flags::WRITES),
    call(
        "set-label",
        &[MOUNTABLE, LABEL],
        Ret::Unit,
        "set filesystem label",
        "Set the label of the filesystem on MOUNTABLE, by its type: ext2/3/4 (16 \
         bytes), vfat (11 bytes), NTFS (128 characters), XFS (12 bytes, not ---), \
         btrfs (255 bytes), swap (16 bytes). Other types are refused as unsupported. \
         The filesystem must be unmounted and its drive writable; vfs-label shows the \
         new label at once.",
        |g, a| void!(g.set_label(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "set-uuid",
        &[DEVICE, UUID],
        Ret::Unit,
        "set the filesystem UUID",
        "Set the UUID of the filesystem on DEVICE, by its type: ext2/3/4, XFS, btrfs \
         and swap take a textual UUID (not the tools' magic words such as random or \
         generate), vfat its volume id (XXXX-XXXX), NTFS its serial number (16 hex \
         digits). Other types are refused as unsupported. The filesystem must be \
         unmounted and its drive writable.",
        |g, a| void!(g.set_uuid(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "set-uuid-random",
        &[DEVICE],
        Ret::Unit,
        "set a random UUID for the filesystem",
        "Give the filesystem on DEVICE a new random UUID (volume id for vfat, serial \
         number for NTFS); the types of set-uuid.",
        |g, a| void!(g.set_uuid_random(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "get-e2label",
        &[DEVICE],
        Ret::String,
        "get the ext2/3/4 filesystem label",
        "The label of the filesystem on DEVICE (deprecated in libguestfs: it is \
         vfs-label).",
        |g, a| Ok(Value::Str(g.get_e2label(a.str(0))?)),
    ),
    call(
        "set-e2label",
        &[DEVICE, LABEL],
        Ret::Unit,
        "set the ext2/3/4 filesystem label",
        "Set the label of the ext2/3/4 filesystem on DEVICE (at most 16 bytes; \
         deprecated in libguestfs for set-label). Another type is refused.",
        |g, a| void!(g.set_e2label(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "get-e2uuid",
        &[DEVICE],
        Ret::String,
        "get the ext2/3/4 filesystem UUID",
        "The UUID of the filesystem on DEVICE (deprecated in libguestfs: it is \
         vfs-uuid).",
        |g, a| Ok(Value::Str(g.get_e2uuid(a.str(0))?)),
    ),
    call(
        "set-e2uuid",
        &[DEVICE, UUID],
        Ret::Unit,
        "set the ext2/3/4 filesystem UUID",
        "Set the UUID of the ext2/3/4 filesystem on DEVICE: a textual UUID, or \
         tune2fs's clear, random or time (deprecated in libguestfs for set-uuid). \
         Another type is refused.",
        |g, a| void!(g.set_e2uuid(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "tune2fs",
        &[DEVICE],
        Ret::Unit,
        "adjust ext2/ext3/ext4 filesystem parameters",
        "Adjust parameters of the unmounted ext2/3/4 filesystem on DEVICE, each as the \
         tune2fs option beside it: force:true (-f), maxmountcount:N (-c, 0 disregards \
         the count), mountcount:N (-C), errorbehavior:continue|remount-ro|panic (-e), \
         group:GID (-g), intervalbetweenchecks:SECONDS (-i, 0 disables), \
         reservedblockspercentage:N (-m), lastmounteddirectory:DIR (-M), \
         reservedblockscount:N (-r), user:UID (-u). Negative numbers are refused. Read \
         the values back with tune2fs-l.",
        tune2fs,
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("force", ArgKind::Bool),
        arg("maxmountcount", ArgKind::Int),
        arg("mountcount", ArgKind::Int),
        arg("errorbehavior", ArgKind::String),
        arg("group", ArgKind::Int64),
        arg("intervalbetweenchecks", ArgKind::Int),
        arg("reservedblockspercentage", ArgKind::Int),
        arg("lastmounteddirectory", ArgKind::String),
        arg("reservedblockscount", ArgKind::Int64),
        arg("user", ArgKind::Int64),
    ]),
    call(
        "tune2fs-l",
        &[DEVICE],
        Ret::Hash,
        "get ext2/ext3/ext4 superblock details",
        "The superblock of the ext2/3/4 filesystem on DEVICE as tune2fs -l prints it, \
         one key: value pair a line, in tune2fs's order; <none> and <not available> \
         are empty values. The fields depend on the tune2fs version and the \
         filesystem. Reads only.",
        |g, a| Ok(Value::Hash(g.tune2fs_l(a.str(0))?)),
    ),
    call(
        "mke2fs",
        &[DEVICE],
        Ret::Unit,
        "create an ext2/ext3/ext4 filesystem on device",
        "Make an ext2/3/4 filesystem on the unmounted DEVICE with mke2fs's own options: \
         blockscount (the size in blocks), blocksize (-b), fragsize (-f), \
         blockspergroup (-g), numberofgroups (-G), bytesperinode (-i), inodesize (-I), \
         journalsize (-J size=), numberofinodes (-N), stridesize, stripewidth, \
         maxonlineresize, mmpupdateinterval (-E), reservedblockspercentage (-m), \
         journaldevice (-J device=, a device of this session made with \
         journaldev:true; LABEL= and UUID= forms are refused, mke2fs would search the \
         host for them), label (-L), lastmounteddir (-M), creatoros (-o), fstype \
         (-t ext2|ext3|ext4), usagetype (-T), uuid (-U), forcecreate (-F), \
         writesbandgrouponly (-S), lazyitableinit, lazyjournalinit, testfs, discard \
         (-E), and the features extent, filetype, flexbg, hasjournal, journaldev, \
         largefile, quota, quotatype, resizeinode, sparsesuper, uninitbg (-O, \
         false clears). A filesystem too small for a journal silently becomes ext2, \
         as with mke2fs.",
        mke2fs,
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("blockscount", ArgKind::Int64),
        arg("blocksize", ArgKind::Int64),
        arg("fragsize", ArgKind::Int64),
        arg("blockspergroup", ArgKind::Int64),
        arg("numberofgroups", ArgKind::Int64),
        arg("bytesperinode", ArgKind::Int64),
        arg("inodesize", ArgKind::Int64),
        arg("journalsize", ArgKind::Int64),
        arg("numberofinodes", ArgKind::Int64),
        arg("stridesize", ArgKind::Int64),
        arg("stripewidth", ArgKind::Int64),
        arg("maxonlineresize", ArgKind::Int64),
        arg("reservedblockspercentage", ArgKind::Int),
        arg("mmpupdateinterval", ArgKind::Int),
        arg("journaldevice", ArgKind::String),
        arg("label", ArgKind::String),
        arg("lastmounteddir", ArgKind::String),
        arg("creatoros", ArgKind::String),
        arg("fstype", ArgKind::String),
        arg("usagetype", ArgKind::String),
        arg("uuid", ArgKind::String),
        arg("forcecreate", ArgKind::Bool),
        arg("writesbandgrouponly", ArgKind::Bool),
        arg("lazyitableinit", ArgKind::Bool),
        arg("lazyjournalinit", ArgKind::Bool),
        arg("testfs", ArgKind::Bool),
        arg("discard", ArgKind::Bool),
        arg("quotatype", ArgKind::Bool),
        arg("extent", ArgKind::Bool),
        arg("filetype", ArgKind::Bool),
        arg("flexbg", ArgKind::Bool),
        arg("hasjournal", ArgKind::Bool),
        arg("journaldev", ArgKind::Bool),
        arg("largefile", ArgKind::Bool),
        arg("quota", ArgKind::Bool),
        arg("resizeinode", ArgKind::Bool),
        arg("sparsesuper", ArgKind::Bool),
        arg("uninitbg", ArgKind::Bool),
    ]),
    call(
        "mkfs-b",
        &[
            arg("fstype", ArgKind::String),
            arg("blocksize", ArgKind::Int),
            DEVICE,
        ],
        Ret::Unit,
        "make a filesystem with block size",
        "mkfs with a block size (the cluster size for vfat and NTFS); deprecated in \
         libguestfs for mkfs blocksize:N.",
        |g, a| void!(g.mkfs_b(a.str(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "mkswap-L",
        &[LABEL, DEVICE],
        Ret::Unit,
        "create a swap partition with a label",
        "Make a swap area on DEVICE with a label of at most 16 bytes (deprecated in \
         libguestfs for mkswap label:..).",
        |g, a| void!(g.mkswap_L(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "mkswap-U",
        &[UUID, DEVICE],
        Ret::Unit,
        "create a swap partition with an explicit UUID",
        "Make a swap area on DEVICE with the given UUID (deprecated in libguestfs for \
         mkswap uuid:..).",
        |g, a| void!(g.mkswap_U(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "mkswap-file",
        &[PATH],
        Ret::Unit,
        "create a swap file",
        "Write a swap signature to the existing guest file PATH (make it first, e.g. \
         with fallocate). The path is resolved inside the guest (a symlink cannot \
         lead out of it); it must be a regular file of at least 40 KiB.",
        |g, a| void!(g.mkswap_file(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "resize2fs-M",
        &[DEVICE],
        Ret::Unit,
        "resize an ext2, ext3 or ext4 filesystem to the minimum size",
        "Shrink the unmounted ext2/3/4 filesystem on DEVICE to its minimum size \
         (resize2fs -M); Block count times Block size from tune2fs-l is the result. \
         As resize2fs, the filesystem is not checked here: one mounted since its last \
         check is refused until e2fsck-f has run.",
        |g, a| void!(g.resize2fs_M(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "resize2fs-size",
        &[DEVICE, arg("size", ArgKind::Int64)],
        Ret::Unit,
        "resize an ext2, ext3 or ext4 filesystem (with size)",
        "Resize the unmounted ext2/3/4 filesystem on DEVICE to SIZE bytes, a positive \
         multiple of 1024; otherwise as resize2fs-M.",
        |g, a| void!(g.resize2fs_size(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "vfs-minimum-size",
        &[MOUNTABLE],
        Ret::Int64,
        "get minimum filesystem size",
        "The minimum size in bytes the filesystem on MOUNTABLE can be shrunk to: \
         ext2/3/4 (resize2fs -P), NTFS (ntfsresize --info), XFS (which cannot shrink: \
         its size), btrfs (mounted; btrfs inspect-internal min-dev-size). Other types \
         are refused as unsupported. Reads only.",
        |g, a| Ok(Value::Int(g.vfs_minimum_size(a.str(0))?)),
    ),
    call(
        "zerofree",
        &[DEVICE],
        Ret::Unit,
        "zero unused inodes and disk blocks on ext2/3 filesystem",
        "Zero the unused blocks of the unmounted ext2/3/4 filesystem on DEVICE with \
         zerofree, so the image compresses well. Needs the zerofree tool.",
        |g, a| void!(g.zerofree(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "fstrim",
        &[arg("mountpoint", ArgKind::Path)],
        Ret::Unit,
        "trim free space in a filesystem",
        "Trim the free space of the filesystem holding the guest directory MOUNTPOINT, \
         giving it back to the image (FITRIM). offset:N and length:N (bytes) bound \
         the range, minimumfreeextent:N skips shorter free ranges. The filesystem must \
         be mounted read-write from a writable drive; one whose driver cannot trim \
         (vfat) is refused as unsupported.",
        |g, a| {
            let o = FstrimOptions {
                offset: a.opt_int("offset"),
                length: a.opt_int("length"),
                minimumfreeextent: a.opt_int("minimumfreeextent"),
            };
            void!(g.fstrim(a.str(0), o))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[
        arg("offset", ArgKind::Int64),
        arg("length", ArgKind::Int64),
        arg("minimumfreeextent", ArgKind::Int64),
    ]),
    call(
        "wipefs",
        &[DEVICE],
        Ret::Unit,
        "wipe a filesystem signature from a device",
        "Erase the filesystem, RAID and partition-table signatures of the unmounted \
         DEVICE (wipefs -a) so that blkid no longer sees them; the data stays.",
        |g, a| void!(g.wipefs(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "ntfsresize",
        &[DEVICE],
        Ret::Unit,
        "resize an NTFS filesystem",
        "Resize the unmounted NTFS filesystem on DEVICE to size:N bytes, or to fill \
         its device. The volume is then marked for a check at Windows' next boot; a \
         second resize before that boot needs force:true.",
        |g, a| {
            let o = NtfsresizeOptions {
                size: a.opt_int("size"),
                force: a.opt_bool("force").unwrap_or(false),
            };
            void!(g.ntfsresize(a.str(0), o))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[arg("size", ArgKind::Int64), arg("force", ArgKind::Bool)]),
    call(
        "ntfsresize-opts",
        &[DEVICE],
        Ret::Unit,
        "resize an NTFS filesystem",
        "ntfsresize under its older libguestfs name, with the same optional arguments.",
        |g, a| {
            let o = NtfsresizeOptions {
                size: a.opt_int("size"),
                force: a.opt_bool("force").unwrap_or(false),
            };
            void!(g.ntfsresize_opts(a.str(0), o))
        },
    )
    .flags(Flags::WRITES)
    .opts(&[arg("size", ArgKind::Int64), arg("force", ArgKind::Bool)]),
    call(
        "ntfsresize-size",
        &[DEVICE, arg("size", ArgKind::Int64)],
        Ret::Unit,
        "resize an NTFS filesystem (with size)",
        "ntfsresize to SIZE bytes (deprecated in libguestfs for ntfsresize size:N).",
        |g, a| void!(g.ntfsresize_size(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "ntfsfix",
        &[DEVICE],
        Ret::Unit,
        "fix common errors and force Windows to check NTFS",
        "Repair fundamental NTFS inconsistencies on the unmounted DEVICE, reset its \
         journal and mark it for a consistency check at Windows' next boot; \
         clearbadsectors:true also clears the bad-sector list. Not a chkdsk.",
        |g, a| void!(g.ntfsfix(a.str(0), a.opt_bool("clearbadsectors").unwrap_or(false))),
    )
    .flags(Flags::WRITES)
    .opts(&[arg("clearbadsectors", ArgKind::Bool)]),
    call(
        "swapon-device",
        &[DEVICE],
        Ret::Unit,
        "enable swap on device (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapon_device(a.str(0))),
    ),
    call(
        "swapoff-device",
        &[DEVICE],
        Ret::Unit,
        "disable swap on device (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapoff_device(a.str(0))),
    ),
    call(
        "swapon-file",
        &[arg("file", ArgKind::String)],
        Ret::Unit,
        "enable swap on file (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapon_file(a.str(0))),
    ),
    call(
        "swapoff-file",
        &[arg("file", ArgKind::String)],
        Ret::Unit,
        "disable swap on file (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapoff_file(a.str(0))),
    ),
    call(
        "swapon-label",
        &[LABEL],
        Ret::Unit,
        "enable swap on labeled swap partition (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapon_label(a.str(0))),
    ),
    call(
        "swapoff-label",
        &[LABEL],
        Ret::Unit,
        "disable swap on labeled swap partition (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapoff_label(a.str(0))),
    ),
    call(
        "swapon-uuid",
        &[UUID],
        Ret::Unit,
        "enable swap on swap partition by UUID (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapon_uuid(a.str(0))),
    ),
    call(
        "swapoff-uuid",
        &[UUID],
        Ret::Unit,
        "disable swap on swap partition by UUID (refused)",
        SWAP_DOC,
        |g, a| void!(g.swapoff_uuid(a.str(0))),
    ),
];

fn tune2fs(g: &VMCraft, a: &Args) -> Result<Value> {
    const CALL: &str = "tune2fs";
    let o = Tune2fsOptions {
        force: a.opt_bool("force").unwrap_or(false),
        maxmountcount: i32_opt(CALL, a, "maxmountcount")?,
        mountcount: i32_opt(CALL, a, "mountcount")?,
        errorbehavior: string_opt(a, "errorbehavior"),
        group: a.opt_int("group"),
        intervalbetweenchecks: i32_opt(CALL, a, "intervalbetweenchecks")?,
        reservedblockspercentage: i32_opt(CALL, a, "reservedblockspercentage")?,
        lastmounteddirectory: string_opt(a, "lastmounteddirectory"),
        reservedblockscount: a.opt_int("reservedblockscount"),
        user: a.opt_int("user"),
    };
    void!(g.tune2fs(a.str(0), &o))
}

fn mke2fs(g: &VMCraft, a: &Args) -> Result<Value> {
    const CALL: &str = "mke2fs";
    let i = |n: &str| a.opt_int(n);
    let b = |n: &str| a.opt_bool(n);
    let o = Mke2fsOptions {
        blockscount: i("blockscount"),
        blocksize: i("blocksize"),
        fragsize: i("fragsize"),
        blockspergroup: i("blockspergroup"),
        numberofgroups: i("numberofgroups"),
        bytesperinode: i("bytesperinode"),
        inodesize: i("inodesize"),
        journalsize: i("journalsize"),
        numberofinodes: i("numberofinodes"),
        stridesize: i("stridesize"),
        stripewidth: i("stripewidth"),
        maxonlineresize: i("maxonlineresize"),
        reservedblockspercentage: i32_opt(CALL, a, "reservedblockspercentage")?,
        mmpupdateinterval: i32_opt(CALL, a, "mmpupdateinterval")?,
        journaldevice: string_opt(a, "journaldevice"),
        label: string_opt(a, "label"),
        lastmounteddir: string_opt(a, "lastmounteddir"),
        creatoros: string_opt(a, "creatoros"),
        fstype: string_opt(a, "fstype"),
        usagetype: string_opt(a, "usagetype"),
        uuid: string_opt(a, "uuid"),
        forcecreate: b("forcecreate"),
        writesbandgrouponly: b("writesbandgrouponly"),
        lazyitableinit: b("lazyitableinit"),
        lazyjournalinit: b("lazyjournalinit"),
        testfs: b("testfs"),
        discard: b("discard"),
        quotatype: b("quotatype"),
        extent: b("extent"),
        filetype: b("filetype"),
        flexbg: b("flexbg"),
        hasjournal: b("hasjournal"),
        journaldev: b("journaldev"),
        largefile: b("largefile"),
        quota: b("quota"),
        resizeinode: b("resizeinode"),
        sparsesuper: b("sparsesuper"),
        uninitbg: b("uninitbg"),
    };
    void!(g.mke2fs(a.str(0), &o))
}
