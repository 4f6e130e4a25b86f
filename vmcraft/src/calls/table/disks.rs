//! The call table's entries for whole disks and block data: zeroing, discarding, copies between files and devices, host disk images, device indexes, availability, `findfs-*`, mountables, device lists.

#[allow(unused_imports)]
use super::prelude::*;

use crate::calls::disks::DiskCreateOpts;

/// The optional arguments of the three `copy-*` calls (and libguestfs's
/// `copy-device-to-device`).
const COPY_OPTS: &[Arg] = &[
    arg("srcoffset", ArgKind::Int64),
    arg("destoffset", ArgKind::Int64),
    arg("size", ArgKind::Int64),
    arg("sparse", ArgKind::Bool),
    arg("append", ArgKind::Bool),
];

const COPY_DOC: &str = "Copy blocks (not a file copy: see cp). srcoffset:N and destoffset:N \
     are byte offsets, size:N the bytes to copy (all of the source from srcoffset by \
     default); sparse:true does not write zero blocks (the destination must already read \
     as zeros there). A destination file is created if needed and truncated first, \
     unless append:true adds the data at its end; append is refused for a device. Guest \
     files are resolved inside the guest tree (a symlink never leaves it) and must be \
     regular files; a destination device must not be mounted. With --json the byte \
     counts are printed.";

pub(crate) const CALLS: &[Call] = &[
    call(
        "zero",
        &[DEVICE],
        Ret::Unit,
        "write zeroes to the device",
        "Write zeroes over the first 128 KiB of the device: enough to remove partition \
         tables and filesystem superblocks, not a secure wipe. Blocks that are already zero \
         are not written, so a sparse image stays sparse. The device must not be mounted.",
        |g, a| void!(g.zero(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "zero-device",
        &[DEVICE],
        Ret::Unit,
        "write zeroes to an entire device",
        "Write zeroes over the whole device, skipping blocks that are already zero (so a \
         sparse image stays sparse). The device must not be mounted. Cancellable.",
        |g, a| void!(g.zero_device(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "zero-free-space",
        &[DIRECTORY],
        Ret::Unit,
        "zero free space in a filesystem",
        "Fill the free space of the filesystem mounted on the directory with zeroes, then \
         free it again (a temporary file with a random 8.3 name is written until the \
         filesystem is full, synced and removed). Files are not affected. The filesystem \
         must be mounted read-write. Blocks the filesystem keeps back even from root \
         (ext4's reserved clusters) are not reached. The free space is not trimmed (see \
         fstrim).",
        |g, a| void!(g.zero_free_space(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "copy-device-to-file",
        &[arg("src", ArgKind::Device), arg("dest", ArgKind::Path)],
        Ret::Unit,
        "copy from source device to destination file",
        COPY_DOC,
        |g, a| {
            let st = g.copy_device_to_file(a.str(0), a.str(1), &copy_opts(a))?;
            Ok(stats(&st))
        },
    )
    // Not WRITES: its device is only read (a read-only drive is a fine
    // source); the guest file it writes is refused by its filesystem if that
    // is read-only.
    .opts(COPY_OPTS),
    call(
        "copy-file-to-device",
        &[arg("src", ArgKind::Path), arg("dest", ArgKind::Device)],
        Ret::Unit,
        "copy from source file to destination device",
        COPY_DOC,
        |g, a| {
            let st = g.copy_file_to_device(a.str(0), a.str(1), &copy_opts(a))?;
            Ok(stats(&st))
        },
    )
    .flags(Flags::WRITES)
    .opts(COPY_OPTS),
    call(
        "copy-file-to-file",
        &[arg("src", ArgKind::Path), arg("dest", ArgKind::Path)],
        Ret::Unit,
        "copy from source file to destination file",
        COPY_DOC,
        |g, a| {
            let st = g.copy_file_to_file(a.str(0), a.str(1), &copy_opts(a))?;
            Ok(stats(&st))
        },
    )
    .flags(Flags::WRITES)
    .opts(COPY_OPTS),
    call(
        "blkdiscard",
        &[DEVICE],
        Ret::Unit,
        "discard all blocks on a device",
        "Discard every block of the device (BLKDISCARD), giving the space back to the \
         host: on a loop device the image file gets holes. Fails where the device or \
         the filesystem under the image cannot discard. The device must not be mounted.",
        |g, a| void!(g.blkdiscard(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "blkdiscardzeroes",
        &[DEVICE],
        Ret::Bool,
        "return true if discarded blocks are read as zeroes",
        "Whether blocks discarded by blkdiscard read back as zeroes, as the kernel \
         answers BLKDISCARDZEROES for the device (current kernels always answer false; \
         discarded blocks may then read as anything).",
        |g, a| Ok(Value::Bool(g.blkdiscardzeroes(a.str(0))?)),
    ),
    call(
        "device-index",
        &[DEVICE],
        Ret::Int,
        "convert device to index",
        "The index of a drive among the drives added, from 0 (/dev/sda is 0, /dev/sdb \
         1, ...), as its name says, also after a drive before it was removed. The drive \
         must exist; a partition is not a drive.",
        |g, a| Ok(Value::Int(g.device_index(a.str(0))?.into())),
    ),
    call(
        "nr-devices",
        &[],
        Ret::Int,
        "return number of whole block devices (disks) added",
        "The number of drives: as many as list-devices lists (a removed drive is not \
         counted).",
        |g, _| Ok(Value::Int(g.nr_devices()?.into())),
    ),
    call(
        "findfs-label",
        &[arg("label", ArgKind::String)],
        Ret::String,
        "find a filesystem by label",
        "The device holding the filesystem with this label (the first in list-filesystems \
         order); an error when none has it. See vfs-label.",
        |g, a| Ok(Value::Str(g.findfs_label(a.str(0))?)),
    ),
    call(
        "findfs-uuid",
        &[arg("uuid", ArgKind::String)],
        Ret::String,
        "find a filesystem by UUID",
        "The device holding the filesystem with this UUID (the first in list-filesystems \
         order); an error when none has it. See vfs-uuid.",
        |g, a| Ok(Value::Str(g.findfs_uuid(a.str(0))?)),
    ),
    call(
        "list-disk-labels",
        &[],
        Ret::Hash,
        "mapping of disk labels to devices",
        "The labels given to drives (add-drive ... label:NAME) mapped to the drives, and \
         each label followed by a partition number mapped to that partition (data: \
         /dev/sdb, data1: /dev/sdb1). Where libguestfs reads its appliance's \
         /dev/disk/guestfs/ symlinks, VMCraft maps each label to the drive's usual \
         name. Empty when no drive has a label.",
        |g, _| Ok(Value::Hash(g.list_disk_labels()?.into_iter().collect())),
    ),
    call(
        "list-dm-devices",
        &[],
        Ret::StringList,
        "list device mapper devices",
        "The device-mapper devices on the session's disks that are not logical volumes \
         (see lvs), as /dev/mapper/NAME. A host without device-mapper has none.",
        |g, _| Ok(Value::List(g.list_dm_devices()?)),
    ),
    call(
        "list-md-devices",
        &[],
        Ret::StringList,
        "list Linux md (RAID) devices",
        "The Linux md arrays built on the session's disks, as /dev/mdN. A host without \
         md has none.",
        |g, _| Ok(Value::List(g.list_md_devices()?)),
    ),
    call(
        "mountable-device",
        &[arg("mountable", ArgKind::String)],
        Ret::String,
        "extract the device part of a mountable",
        "The device of a mountable: /dev/sda1 for /dev/sda1 and for \
         btrfsvol:/dev/sda1/root.",
        |g, a| Ok(Value::Str(g.mountable_device(a.str(0))?)),
    ),
    call(
        "mountable-subvolume",
        &[arg("mountable", ArgKind::String)],
        Ret::String,
        "extract the subvolume part of a mountable",
        "The btrfs subvolume of a mountable: root for btrfsvol:/dev/sda1/root; an error \
         when the mountable is not a subvolume.",
        |g, a| Ok(Value::Str(g.mountable_subvolume(a.str(0))?)),
    ),
    call(
        "filesystem-available",
        &[arg("filesystem", ArgKind::String)],
        Ret::Bool,
        "check if filesystem is available",
        "Whether filesystems of this type can be mounted here: the running kernel has the \
         driver (listed in /proc/filesystems, or a module it loads on mount), or \
         VMCraft's FUSE fallback for it is installed (fusefat for vfat, ntfs-3g for ntfs). \
         Nothing is loaded to find out.",
        |g, a| Ok(Value::Bool(g.filesystem_available(a.str(0))?)),
    ),
    call(
        "available",
        &[arg("groups", ArgKind::List)],
        Ret::Unit,
        "test availability of some parts of the API",
        "Fail unless every option group named works here, naming the first that does not \
         and why. A group works when VMCraft implements its calls and the host has the \
         tools they need; see available-all-groups and feature-available.",
        |g, a| void!(g.available(&a.list(0))),
    ),
    call(
        "available-all-groups",
        &[],
        Ret::StringList,
        "return a list of all optional groups",
        "Every option group libguestfs defines. Which of them work here is what \
         feature-available answers.",
        |g, _| Ok(Value::List(g.available_all_groups()?)),
    ),
    call(
        "feature-available",
        &[arg("groups", ArgKind::List)],
        Ret::Bool,
        "test availability of some parts of the API",
        "Whether every option group named works here (true only for groups whose calls \
         VMCraft implements and whose tools the host has). An unknown group is an error.",
        |g, a| Ok(Value::Bool(g.feature_available(&a.list(0))?)),
    ),
    call(
        "remount",
        &[arg("mountpoint", ArgKind::String)],
        Ret::Unit,
        "remount a filesystem with different options",
        "Switch the filesystem mounted at the mount point between read-only (rw:false) \
         and read-write (rw:true); rw must be given. The other options it was mounted \
         with, nosuid and nodev included, are kept. Read-write is refused for a drive \
         added read-only; a FUSE mount cannot be remounted.",
        |g, a| void!(g.remount(a.str(0), a.opt_bool("rw"))),
    )
    .flags(Flags::NEEDS_ROOT)
    .opts(&[arg("rw", ArgKind::Bool)]),
    call(
        "mount-loop",
        &[
            arg("file", ArgKind::Path),
            arg("mountpoint", ArgKind::String),
        ],
        Ret::Unit,
        "mount a file using the loop device",
        "Mount a guest file holding a filesystem image at the mount point, through a loop \
         device. The file is resolved inside the guest tree and must be a regular file; the \
         loop device is bound to the file the session opened, never to a path a guest \
         symlink could redirect. Read-only when the file's filesystem is mounted \
         read-only. The loop device goes away when the filesystem is unmounted.",
        |g, a| void!(g.mount_loop(a.str(0), a.str(1))),
    )
    .flags(Flags::SESSION),
    call(
        "disk-format",
        &[arg("filename", ArgKind::String)],
        Ret::String,
        "detect the disk format of a disk image",
        "The format of a host image file (raw, qcow2, vmdk, vhdx, vdi or vpc), from its \
         header. Nothing the image names (a backing file, an extent) is opened.",
        |g, a| Ok(Value::Str(g.disk_format(a.str(0))?)),
    )
    .flags(Flags::HOST_FILES),
    call(
        "disk-virtual-size",
        &[arg("filename", ArgKind::String)],
        Ret::Int64,
        "return virtual size of a disk",
        "The virtual size in bytes of a host image file, from its header (or from \
         qemu-img info told the format). No backing file is opened.",
        |g, a| Ok(Value::Int(g.disk_virtual_size(a.str(0))?)),
    )
    .flags(Flags::HOST_FILES),
    call(
        "disk-has-backing-file",
        &[arg("filename", ArgKind::String)],
        Ret::Bool,
        "return whether disk has a backing file",
        "Whether a host image file names a backing file, from its header; the backing \
         file itself is never opened.",
        |g, a| Ok(Value::Bool(g.disk_has_backing_file(a.str(0))?)),
    )
    .flags(Flags::HOST_FILES),
    call(
        "disk-create",
        &[
            arg("filename", ArgKind::String),
            arg("format", ArgKind::String),
            arg("size", ArgKind::Int64),
        ],
        Ret::Unit,
        "create a blank disk image",
        "Create a blank host image file of SIZE bytes: raw (sparse; preallocation:full \
         allocates it) or qcow2 (qemu-img create; preallocation:off|sparse|metadata|full, \
         compat:0.10|1.1, clustersize:N a power of 2 from 512 to 2097152). \
         backingfile:FILE makes a qcow2 overlay; its backingformat must be given too (a \
         backing file's format is never probed), and SIZE may then be -1 to take the \
         backing file's size. An existing file is overwritten.",
        |g, a| {
            let opts = DiskCreateOpts {
                backingfile: a.opt_string("backingfile").map(String::from),
                backingformat: a.opt_string("backingformat").map(String::from),
                preallocation: a.opt_string("preallocation").map(String::from),
                compat: a.opt_string("compat").map(String::from),
                clustersize: match a.opt_int("clustersize") {
                    None => None,
                    Some(c) => Some(i32::try_from(c).map_err(|_| {
                        Error::invalid(
                            "disk_create",
                            a.str(0),
                            format!("invalid value for clustersize parameter '{c}'"),
                        )
                    })?),
                },
            };
            void!(g.disk_create(a.str(0), a.str(1), a.int(2), &opts))
        },
    )
    .flags(Flags::HOST_FILES)
    .opts(&[
        arg("backingfile", ArgKind::String),
        arg("backingformat", ArgKind::String),
        arg("preallocation", ArgKind::String),
        arg("compat", ArgKind::String),
        arg("clustersize", ArgKind::Int),
    ]),
];

fn copy_opts(a: &Args) -> vmcraft_block::CopyOptions<'static> {
    vmcraft_block::CopyOptions {
        srcoffset: a.opt_int("srcoffset").unwrap_or(0),
        destoffset: a.opt_int("destoffset").unwrap_or(0),
        size: a.opt_int("size"),
        sparse: a.opt_bool("sparse").unwrap_or(false),
        append: a.opt_bool("append").unwrap_or(false),
        ..Default::default()
    }
}

fn stats(st: &vmcraft_block::CopyStats) -> Value {
    Value::Quiet(serde_json::json!({
        "bytes": st.bytes,
        "bytes_written": st.bytes_written,
        "bytes_skipped": st.bytes_skipped,
    }))
}
