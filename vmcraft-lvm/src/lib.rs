//! # vmcraft-lvm
//!
//! LVM through the lvm2 tools (work in progress): physical volumes, volume groups
//! and logical volumes with libguestfs names, run through
//! `vmcraft_block::CommandRunner`, every command confined to the session's own
//! devices so a guest VG never touches the host's, metadata-only where the host
//! has no device-mapper.

#![deny(missing_docs)]
