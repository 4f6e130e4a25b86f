//! Thin wrappers with libguestfs names over the crates below the facade: partition
//! tables ([`part`]), LVM ([`lvm`]), Augeas ([`aug`]), tar ([`archive`]) and block
//! devices ([`block`]). Each takes libguestfs device names, maps them to the
//! session's host nodes, and invalidates what the call changes.

pub mod archive;
#[cfg(feature = "augeas")]
pub mod aug;
pub mod block;
pub mod btrfs_xfs;
pub mod disks;
pub mod fileinfo;
pub mod filemod;
pub mod fstools;
pub mod lvm;
pub mod lvm_admin;
pub mod part;
