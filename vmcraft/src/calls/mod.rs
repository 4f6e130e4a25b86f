//! The facade's calls by family, with libguestfs names: partition tables
//! ([`part`]), LVM ([`lvm`], [`lvm_admin`]), Augeas ([`aug`]), tar ([`archive`]),
//! block devices and disks ([`block`], [`disks`]), encrypted devices ([`luks`]), md arrays ([`md`]), guest files ([`fileinfo`],
//! [`filemod`]), filesystem tools ([`fstools`], [`btrfs_xfs`]). Each takes
//! libguestfs device names, maps them to the session's host nodes, and
//! invalidates what the call changes. The [`table`] describes every call, once.

pub mod archive;
#[cfg(feature = "augeas")]
pub mod aug;
pub mod block;
pub mod btrfs_xfs;
pub mod command;
pub mod disks;
pub mod fileinfo;
pub mod filemod;
pub mod fstools;
pub mod hivex;
pub mod local;
pub mod luks;
pub mod lvm;
pub mod lvm_admin;
pub mod md;
pub mod misc;
pub mod part;
pub mod settings;
pub mod table;
pub mod windows_drivers;
