//! Btrfs and XFS administration on the session's devices: \`mkfs-btrfs\`, subvolumes and snapshots, filesystem resize, sync, balance, scrub and device management, \`xfs-info\`, \`xfs-admin\`, \`xfs-repair\`.

impl crate::session::VMCraft {}
