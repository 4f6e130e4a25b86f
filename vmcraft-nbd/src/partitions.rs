//! Partition nodes for an attached device: `vmcraft_part::sync_kernel_partitions`
//! reads the table in-process and brings the kernel's partitions in line with it
//! through BLKPG ioctls, leaving alone what the kernel already has right, then
//! waits for the `/dev` nodes. Nothing depends on the kernel's own table parsers or
//! on udev.
//!
//! A damaged table does not fail the attach: the disk is attached without
//! partitions (and the problem reported) so that it can be inspected or repaired.
//! Failing to read the device or to update the kernel does fail it.

use vmcraft_block::{DeviceNode, KernelPartition};

use crate::error::{Error, ErrorKind};

/// Why the partitions could not be brought up.
pub(crate) enum Problem {
    /// The table could not be read (damaged): attach anyway, without partitions.
    Unreadable(String),
    /// Reading the device or updating the kernel failed: the attach fails.
    Fatal(Error),
}

/// The device's partitions, their nodes in place.
pub(crate) fn sync(node: &DeviceNode, subject: &str) -> Result<Vec<KernelPartition>, Problem> {
    vmcraft_part::sync_kernel_partitions(node).map_err(|e| {
        use vmcraft_part::ErrorKind as P;
        let kind = match e.kind() {
            P::Corrupt => {
                return Problem::Unreadable(vmcraft_block::error_chain(&e));
            }
            P::Busy => ErrorKind::Busy,
            P::ReadOnly => ErrorKind::ReadOnly,
            _ => ErrorKind::Io,
        };
        Problem::Fatal(
            Error::new(
                kind,
                "attach",
                subject,
                format!("creating the partition nodes of {}", node.path().display()),
            )
            .with_source(e),
        )
    })
}
