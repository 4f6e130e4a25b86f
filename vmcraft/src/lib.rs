//! # vmcraft
//!
//! VMCraft manipulates virtual-machine disk images on the host, the libguestfs job
//! without the appliance VM. This crate is the facade: the [`VMCraft`] handle
//! composing the crates below it with libguestfs's call names, argument order and
//! device names. It is a library only: the `vmcraft` command line is the
//! `vmcraft-cli` crate, built on this one.
//!
//! - Drives: [`VMCraft::add_drive_opts`], [`VMCraft::launch`], [`VMCraft::shutdown`]
//!   (also on drop). Images are attached by `vmcraft-nbd` (loop, qemu-storage-daemon
//!   or kernel NBD) and named `/dev/sda`, `/dev/sdb`, ... whatever backs them.
//! - Read-only raw and qcow2 drives are read [in-process](inproc) by default:
//!   partition tables, probes, ext2/3/4, FAT and NTFS through vmcraft-fs, with
//!   no kernel device, no mount and no root, until a call needs the kernel.
//! - Devices: [`VMCraft::list_partitions`] (cached), [`VMCraft::list_filesystems`],
//!   [`VMCraft::blkid`] (probed in-process, cached), `vfs_*`. Every call that changes
//!   what a cache holds invalidates it itself.
//! - Mounting under a private 0700 root, always `nosuid,nodev`:
//!   [`VMCraft::mount`] and friends, [`VMCraft::mount_with_fallback`] (strategies as
//!   data: normal, `ro,norecovery`, `ro,noload`, FUSE drivers),
//!   [`VMCraft::mount_all_parallel`] (parents before children).
//! - Guest files, confined to the guest tree ([`VMCraft::cat`], [`VMCraft::write`],
//!   [`VMCraft::cp_a`], ...), inspection ([`VMCraft::inspect_os`]), `mkfs`, and the
//!   `part_*`, LVM, Augeas, tar and `blockdev_*` calls.
//! - Every call is described once in the [call table](calls::table) (arguments,
//!   return type, flags, documentation); the command line, `CALLS.md` and
//!   bindings are generated from it, and [`calls::table::Call::invoke`] runs any
//!   call by name with uniform argument handling.
//! - Crash safety: every process a session starts dies with it; each session
//!   records what it holds in a [`state`] file, and [`cleanup_stale_sessions`]
//!   (run by every launch, and by `vmcraft cleanup`) undoes what killed sessions
//!   left.
//!
//! ```no_run
//! use vmcraft::{VMCraft, DriveOpts};
//! let g = VMCraft::new();
//! g.add_drive_opts("guest.qcow2", DriveOpts { readonly: true, ..Default::default() })?;
//! g.launch()?;
//! for root in g.inspect_os()? {
//!     println!("{root}: {} {}", g.inspect_get_distro(&root)?, g.inspect_get_major_version(&root)?);
//!     let mps = g.inspect_get_mountpoints(&root)?;
//!     g.mount_all_parallel(&mps, vmcraft::MountAllOptions { readonly: true, ..Default::default() })?;
//!     print!("{}", g.cat("/etc/hostname")?);
//!     g.umount_all()?;
//! }
//! g.shutdown()?;
//! # Ok::<(), vmcraft::Error>(())
//! ```
//!
//! The building blocks are re-exported for callers who want them directly.

#![deny(missing_docs)]

pub mod cache;
pub mod calls;
mod config;
mod devices;
mod error;
mod files;
pub mod inproc;
pub mod inspect;
mod lazy;
mod lvaccess;
mod mkfs;
pub mod mount;
pub mod names;
pub mod private_file;
pub mod probe;
pub mod reaper;
pub mod sandbox;
mod session;
mod stacked;
pub mod state;

pub use vmcraft_archive as archive;
#[cfg(feature = "augeas")]
pub use vmcraft_aug as aug;
pub use vmcraft_block as block;
pub use vmcraft_lvm as lvm;
pub use vmcraft_nbd as nbd;
pub use vmcraft_part as part;

pub use calls::local::MountLocalOpts;
pub use calls::luks::CryptsetupOpenOpts;
pub use calls::md::{MdCreateOpts, MdStat};
pub use config::{Config, ConfigBuilder, ProgressCallback, ProgressEvent};
pub use error::{CallError, Error, ErrorKind, Result};
pub use inspect::InspectInfo;
pub use mkfs::{E2fsckOptions, MKFS_TYPES, MkfsOptions};
pub use mount::parallel::{MOUNT_THREADS, MountAllOptions, MountResult};
pub use mount::{Attempt, FallbackOutcome, MountEntry, MountMethod, MountStrategy};
pub use reaper::{CleanupItem, CleanupKind, CleanupReport, ReapedSession, cleanup_stale_sessions};
pub use session::{DriveOpts, Resolved, VMCraft};
