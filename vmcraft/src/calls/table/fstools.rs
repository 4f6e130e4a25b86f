//! The call table's entries for filesystem tools: checks, labels and UUIDs, ext2/3/4 tuning and resizing, swap, trimming, wiping, NTFS.

#[allow(unused_imports)]
use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[];
