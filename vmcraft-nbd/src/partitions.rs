//! Partition nodes for an attached device: read the table, create the kernel's
//! partitions, wait for their nodes.
//!
//! Interim: until `vmcraft_part::sync_kernel_partitions` (which reads the table
//! in-process and creates the nodes with BLKPG) is available, this reports the
//! partitions the kernel itself made, which on kernels without table parsers is
//! none.

use vmcraft_block::{DeviceNode, KernelPartition};

use crate::error::Error;

/// Why the partitions could not be brought up.
pub(crate) enum Problem {
    /// The table could not be read (damaged): attach anyway, without partitions.
    #[allow(dead_code)]
    Unreadable(String),
    /// Reading the device or updating the kernel failed: the attach fails.
    Fatal(Error),
}

/// The device's partitions with their nodes.
pub(crate) fn sync(node: &DeviceNode, subject: &str) -> Result<Vec<KernelPartition>, Problem> {
    node.kernel_partitions().map_err(|e| {
        Problem::Fatal(Error::block(
            "attach",
            subject,
            format!("listing the partitions of {}", node.path().display()),
            e,
        ))
    })
}
