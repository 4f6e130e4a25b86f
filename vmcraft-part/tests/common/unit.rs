//! Assertions for unit tests on in-memory disks: a refused call names the call,
//! the device and the value, and leaves every byte as it was.

use std::fmt::Debug;

use vmcraft_block::MemoryDisk;
use vmcraft_part::{ErrorKind, Result};

/// `f` must fail with `kind` and exactly the message `msg` (after `call: memory: `),
/// and the disk must be byte-identical afterwards.
pub fn refused<T: Debug>(
    disk: &MemoryDisk,
    kind: ErrorKind,
    msg: &str,
    f: impl FnOnce(&MemoryDisk) -> Result<T>,
) {
    let before = disk.snapshot();
    let e = f(disk).expect_err("the call must be refused");
    assert_eq!(e.kind(), kind, "wrong kind for: {e}");
    let text = e.to_string();
    let after_device = text
        .splitn(3, ": ")
        .nth(2)
        .unwrap_or_else(|| panic!("message without call and device: {text}"));
    assert_eq!(after_device, msg, "full message: {text}");
    assert_eq!(e.device(), "memory");
    assert!(
        disk.snapshot() == before,
        "the refused call changed the disk: {text}"
    );
}

/// Like [`refused`], checking only that the message contains `needle`.
pub fn refused_with<T: Debug>(
    disk: &MemoryDisk,
    kind: ErrorKind,
    needle: &str,
    f: impl FnOnce(&MemoryDisk) -> Result<T>,
) {
    let before = disk.snapshot();
    let e = f(disk).expect_err("the call must be refused");
    assert_eq!(e.kind(), kind, "wrong kind for: {e}");
    assert!(e.to_string().contains(needle), "{e}");
    assert!(
        disk.snapshot() == before,
        "the refused call changed the disk: {e}"
    );
}

/// Read one sector of a memory disk.
pub fn sector(disk: &MemoryDisk, lba: u64, ss: u64) -> Vec<u8> {
    use vmcraft_block::BlockDevice;
    let mut buf = vec![0u8; ss as usize];
    disk.read_at(&mut buf, lba * ss).unwrap();
    buf
}
