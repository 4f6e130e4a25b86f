//! # vmcraft-archive
//!
//! Guest-tree I/O (work in progress): `tar_in`/`tar_out` with none, gzip, bzip2, xz
//! and zstd compression, faithful to modes, owners, links and xattrs, and the
//! confined path resolver (`GuestRoot`) that keeps every guest path inside the
//! guest root with chroot semantics.

#![deny(missing_docs)]
