//! Filesystem tools on the session's devices: checks and repairs, labels and UUIDs, ext2/3/4 tuning and resizing, swap, trimming, wiping, NTFS, XFS and btrfs administration.

impl crate::session::VMCraft {}
