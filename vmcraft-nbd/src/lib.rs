//! # vmcraft-nbd
//!
//! Attach a disk image (raw, qcow2, vmdk, vhdx, vdi, vpc) as a kernel block device,
//! with partition nodes, and detach it without leaving anything behind.
//!
//! One entry point, [`attach`], over three backends:
//!
//! 1. **loop** ([`Backend::Loop`]): raw images, a loop device by direct ioctls
//!    (`LOOP_CONFIGURE`), read-only when asked. No process.
//! 2. **qemu-storage-daemon FUSE export + loop** ([`Backend::StorageDaemon`]): any
//!    format qemu reads. The daemon exports the image's raw contents as a regular
//!    file through FUSE and a loop device is bound to that file. Needs no nbd kernel
//!    module, so it works in containers.
//! 3. **kernel NBD** ([`Backend::KernelNbd`]): `qemu-nbd --connect` to a free
//!    `/dev/nbdN`, found and locked across processes, with retries of transient
//!    failures and a verified disconnect.
//!
//! The serving processes (qemu-storage-daemon, qemu-nbd's server) run in the
//! foreground as [`vmcraft_block::Supervised`] processes, never daemonized: they
//! die with the process that attached, even when it is SIGKILLed, and are
//! tracked by pidfd. What a SIGKILLed process leaves is only what the kernel
//! keeps by itself: the dead FUSE export mount and runtime directory of the
//! storage daemon, a device still held by a mount, and those mounts; a session
//! reaper undoes them.
//!
//! [`Backend::Auto`] (the default) takes loop for raw images, kernel NBD where
//! `/dev/nbd0` exists (or the module can be loaded) and a device is free, and the
//! storage daemon otherwise; [`Attachment::backend_reason`] says why, and the choice is logged.
//!
//! Before anything is attached the image's header is read in-process
//! ([`inspect_image`]): the format is detected from magic bytes unless given, and
//! every file the image would make qemu open is found the way qemu finds it (a
//! VMDK descriptor through an emulation of qemu's own `sscanf` grammar, a sparse
//! header of capacity 0 as the descriptor wrapper qemu takes it for, names cut at
//! NUL as qemu's C strings are). [`judge_image`] then refuses every backing file,
//! external data file and VMDK extent unless allowed
//! ([`AttachOptions::allow_backing_file`], [`AttachOptions::allow_vmdk_extents`]),
//! and even then refuses `json:` and protocol names, backing files of unknown
//! format, and extents outside the image's own directory: a raw guest can write
//! any header into its own first sector. qemu is given the judged chain node by
//! node with every driver pinned and `"backing": null` at the bottom; once qemu
//! has opened the image, every file the serving process has open is checked
//! against the judged files by device and inode (a file swapped after the
//! judgement, or a header changed under a live guest, is caught), and the storage
//! daemon's graph is checked over QMP, before a device is made. Truncated images and garbage in a qcow2's tables are refused
//! with an error naming the offending entry.
//!
//! A read-only image can be put under a throw-away qcow2 overlay
//! ([`AttachOptions::overlay`], as libguestfs does for every read-only drive): the
//! storage daemon opens the image read-only, adds an empty overlay in its private
//! directory over QMP with the image node as its backing, and exports the overlay,
//! so the kernel can replay a dirty journal or log into the overlay while the image
//! stays byte-identical. The overlay goes with the attachment.
//!
//! After attaching, the partition table is read in-process and the kernel's
//! partition nodes are created with BLKPG ioctls and waited for; nothing depends
//! on the kernel's own table parsers or on udev.
//!
//! [`Attachment`] is RAII: dropping it detaches (flush, partitions, loop or NBD
//! device, daemon stopped over QMP, FUSE export unmounted, runtime files removed);
//! [`Attachment::detach`] does the same and reports errors. Detaching never pulls
//! a disk out from under a mount: while a partition is mounted (or otherwise in
//! use, [`Attachment::in_use`]) a detach is refused with [`ErrorKind::Busy`] and
//! nothing is torn down; [`Attachment::try_detach`] can be called again after the
//! unmount, and a dropped or consumed attachment is kept alive
//! ([`kept_attachments`]) until [`release_kept`] finds it unused.
//!
//! ```no_run
//! use vmcraft_nbd::{attach, AttachOptions, Backend};
//! use vmcraft_block::BlockDevice;
//!
//! let disk = attach("guest.qcow2", AttachOptions::default().readonly(true))?;
//! println!("{} via {} ({})", disk.device().display(), disk.backend(), disk.backend_reason());
//! let mut mbr = [0u8; 512];
//! disk.read_at(&mut mbr, 0)?;
//! for p in disk.partitions() {
//!     println!("{}: {} bytes", p.node.display(), p.size);
//! }
//! disk.detach()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod attach;
mod blockdev;
mod busy;
mod chain;
mod daemon;
mod error;
mod format;
mod host;
mod kept;
pub mod nbd;
mod opened;
mod options;
mod partitions;
mod qmp;

pub use attach::{Attachment, attach, attach_with};
pub use chain::{ChainNode, ImageChain, MAX_CHAIN, judge_image};
pub use daemon::StorageDaemon;
pub use error::{Error, ErrorKind, Result};
pub use format::{
    Format, ImageInfo, VmdkExtent, detect_format, detect_format_of, inspect_device, inspect_image,
};
pub use kept::{KeptAttachment, kept_attachments, release_kept};
pub use nbd::{DeviceLock, NbdConnection, NbdHost};
pub use options::{AioMode, AttachOptions, Backend, CacheMode, DiscardMode};
