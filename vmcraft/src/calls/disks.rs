//! Whole disks and block data: zeroing and discarding, copies between files and devices, disk images on the host (`disk-format`, `disk-create`, ...), device indexes, filesystem and feature availability, `findfs-*`, `mount-loop`, `remount`, mountables and device lists.

impl crate::session::VMCraft {}
