//! The conformance suite every [`BlockDevice`] implementation must pass: exact reads
//! and writes at aligned and unaligned offsets, refusal of accesses past the end with
//! nothing changed, zeroing, flushing, and read-only refusal.

use crate::device::BlockDevice;
use crate::error::ErrorKind;

/// Run the read-write checks on `dev`, which must be writable, at least 1 MiB, and
/// may be overwritten.
pub fn check_read_write(dev: &dyn BlockDevice) {
    let size = dev.size().expect("size");
    let ss = dev.logical_sector_size().expect("logical sector size") as u64;
    assert!(
        size >= 1 << 20,
        "conformance needs at least 1 MiB, {} has {size}",
        dev.name()
    );
    assert!(ss.is_power_of_two() && ss >= 512, "sector size {ss}");
    assert_eq!(
        size % ss,
        0,
        "size {size} is a whole number of {ss}-byte sectors"
    );
    assert!(dev.physical_sector_size().expect("physical sector size") as u64 >= ss);
    assert!(!dev.is_read_only().expect("is_read_only"));

    // Round trips: first sector, unaligned middle, last bytes.
    let pattern: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
    for &(off, len) in &[(0u64, 512usize), (12_345, 10_000), (size - 777, 777)] {
        dev.write_at(&pattern[..len], off).expect("write_at");
        let mut back = vec![0u8; len];
        dev.read_at(&mut back, off).expect("read_at");
        assert_eq!(
            back,
            &pattern[..len],
            "round trip at {off}+{len} on {}",
            dev.name()
        );
    }

    // Zero-length accesses at the very end are fine.
    dev.read_at(&mut [], size).expect("empty read at end");
    dev.write_at(&[], size).expect("empty write at end");

    // Past the end: refused, and nothing written.
    let mut last = vec![0u8; 16];
    dev.read_at(&mut last, size - 16).expect("read tail");
    let err = dev
        .write_at(&[0xEE; 32], size - 16)
        .expect_err("write past end must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("past the end"), "{err}");
    let mut after = vec![0u8; 16];
    dev.read_at(&mut after, size - 16).expect("read tail again");
    assert_eq!(last, after, "a refused write changed the device");
    let err = dev
        .read_at(&mut [0u8; 2], size - 1)
        .expect_err("read past end must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(dev.read_at(&mut [0u8; 1], u64::MAX).is_err());

    // Zeroing, aligned and not.
    dev.write_at(&[0xAB; 8192], 65_536).expect("write");
    dev.write_zeroes(65_536, 4096)
        .expect("write_zeroes aligned");
    dev.write_zeroes(65_536 + 4096 + 100, 200)
        .expect("write_zeroes unaligned");
    let mut back = vec![0u8; 8192];
    dev.read_at(&mut back, 65_536).expect("read");
    assert!(back[..4096].iter().all(|&b| b == 0));
    assert!(back[4096..4196].iter().all(|&b| b == 0xAB));
    assert!(back[4196..4396].iter().all(|&b| b == 0));
    assert!(back[4396..].iter().all(|&b| b == 0xAB));

    dev.flush().expect("flush");
}

/// Run the read-only checks: reads work, every kind of write fails with
/// [`ErrorKind::ReadOnly`], and the bytes are unchanged.
pub fn check_read_only(dev: &dyn BlockDevice) {
    assert!(dev.is_read_only().expect("is_read_only"));
    let mut before = vec![0u8; 4096];
    dev.read_at(&mut before, 0).expect("read");
    for result in [dev.write_at(&[1, 2, 3], 0), dev.write_zeroes(0, 512)] {
        let err = result.expect_err("write to a read-only device must fail");
        assert_eq!(err.kind(), ErrorKind::ReadOnly, "{err}");
    }
    let mut after = vec![0u8; 4096];
    dev.read_at(&mut after, 0).expect("read");
    assert_eq!(before, after);
    dev.flush().expect("flush of a read-only device is a no-op");
}
