//! The call table's entries for btrfs and XFS administration: subvolumes, snapshots, balance, scrub, devices; `xfs-info`, `xfs-admin`, `xfs-repair`.

#[allow(unused_imports)]
use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[];
