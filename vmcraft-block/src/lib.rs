//! # vmcraft-block
//!
//! The bottom of VMCraft: the two narrow traits every other crate builds on, and the
//! block-level work that needs nothing else.
//!
//! - [`BlockDevice`]: a disk as bytes with a sector size. Five required methods
//!   (`size`, `logical_sector_size`, `read_at`, `write_at`, `flush`), the rest
//!   defaulted. Implemented by [`ImageFile`] (a raw image on the host), [`DeviceNode`]
//!   (a kernel block device, through ioctls) and [`MemoryDisk`] (tests); [`open`]
//!   picks one for a path, [`DeviceIo`] makes any of them a `Read + Write + Seek`
//!   stream.
//! - [`CommandRunner`]: runs a structured [`Command`] (program, args, env, stdin,
//!   timeout; never a shell). [`SystemRunner`] is the real one; the scripted
//!   `testing::FakeRunner` (feature `test-utils`) records calls for tests. Every
//!   child leads its own process group (a timeout kills the group) and is killed
//!   by the kernel if this process dies.
//! - [`Supervised`]: a long-lived child (a daemon kept in the foreground, a FUSE
//!   driver) that dies with this process, tracked by a pidfd, stopped on drop;
//!   started with [`CommandRunner::spawn`].
//! - The `blockdev_*` queries with libguestfs names ([`blockdev_getsize64`],
//!   [`blockdev_getsz`], ...), in-process through ioctls.
//! - [`copy_device_to_device`] and [`dd_copy`]: sparse-aware copies that cost time
//!   in proportion to the data, not the image size.
//! - [`CancelToken`]: cooperative cancellation shared by every crate's long calls
//!   (copies here, tar in vmcraft-archive, the facade's handle): a cancelled call
//!   returns an error of kind [`ErrorKind::Cancelled`] instead of running on.
//! - [`LoopDevice`]: loop devices by direct ioctls, detached on drop.
//! - [`retry_with_backoff`] with an injectable [`Clock`].
//!
//! ```
//! use vmcraft_block::{BlockDevice, MemoryDisk, copy::is_zero};
//! let disk = MemoryDisk::new(1 << 20);
//! disk.write_at(&[0x55, 0xAA], 510)?;
//! let mut mbr = [0u8; 512];
//! disk.read_at(&mut mbr, 0)?;
//! assert_eq!(&mbr[510..], &[0x55, 0xAA]);
//! assert!(is_zero(&mbr[..510]));
//! # Ok::<(), vmcraft_block::Error>(())
//! ```
//!
//! Errors are one [`Error`] type with a matchable [`ErrorKind`]; messages read
//! `call: device: what`, in libguestfs style.

#![deny(missing_docs)]

pub mod cancel;
pub mod command;
pub mod copy;
pub mod device;
mod error;
mod ioctl;
pub mod loopdev;
mod process;
pub mod queries;
pub mod retry;
pub mod supervised;
mod wait;

#[cfg(feature = "test-utils")]
pub mod testing;

pub use cancel::CancelToken;
pub use command::{
    Command, CommandFailure, CommandRunner, ExitStatus, Output, SystemRunner, find_tool,
    has_command,
};
pub use copy::{CopyOptions, CopyStats, copy_device_to_device, dd_copy};
pub use device::{
    BlockDevice, DeviceIo, DeviceNode, ImageFile, KernelPartition, MemoryDisk, OpenOptions,
    SHARED_LOCK_WAIT, open,
};
pub use error::{Error, ErrorKind, Result, error_chain};
pub use loopdev::{LoopDevice, LoopOptions};
pub use queries::{
    blockdev_flushbufs, blockdev_getbsz, blockdev_getro, blockdev_getsize64, blockdev_getss,
    blockdev_getsz, blockdev_rereadpt, blockdev_setro, blockdev_setrw,
};
pub use retry::{Clock, RecordingClock, RetryPolicy, SystemClock, retry_with_backoff};
pub use supervised::Supervised;
pub use wait::{wait_for_path, wait_until};
