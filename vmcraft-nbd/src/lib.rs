//! # vmcraft-nbd
//!
//! Attaching disk images as block devices (work in progress): one `attach(image,
//! options) -> Attachment` over three backends (a loop device for raw images, a
//! qemu-storage-daemon FUSE export plus a loop device for any format qemu reads, and
//! kernel NBD through `qemu-nbd --connect` where `/dev/nbd*` exists), format
//! detection from magic bytes, partition nodes created with BLKPG from the table
//! read in-process, and RAII detach.

#![deny(missing_docs)]
