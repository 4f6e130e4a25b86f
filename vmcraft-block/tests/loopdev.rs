//! Loop devices bound both ways, `LOOP_CONFIGURE` and the pre-5.8 fallback
//! (`LOOP_SET_FD`, `LOOP_SET_BLOCK_SIZE`, `LOOP_SET_STATUS64`, `LOOP_SET_DIRECT_IO`,
//! forced by `testing::attach_with_legacy_ioctls`), checked against what the kernel
//! reports: BLKSSZGET and sysfs `queue/logical_block_size`, `loop/dio`,
//! `loop/offset`, `loop/sizelimit`, `loop/autoclear`, `loop/partscan`, `ro`. A
//! setting the kernel does not apply fails the attach and leaves nothing bound.

use std::path::Path;

use vmcraft_block::testing::{TestEnv, attach_with_legacy_ioctls, require_root};
use vmcraft_block::{BlockDevice, ErrorKind, LoopDevice, LoopOptions, Result};

type Attach = fn(&Path, LoopOptions) -> Result<LoopDevice>;

fn configure(file: &Path, opts: LoopOptions) -> Result<LoopDevice> {
    LoopDevice::attach(file, opts)
}

fn legacy(file: &Path, opts: LoopOptions) -> Result<LoopDevice> {
    attach_with_legacy_ioctls(file, opts)
}

/// A sysfs attribute of the device, trimmed.
fn attr(lo: &LoopDevice, name: &str) -> String {
    let dev = lo
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let path = Path::new("/sys/block").join(dev).join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn bound_to(file: &Path) -> Vec<String> {
    vmcraft_block::loopdev::try_list_loop_devices()
        .unwrap()
        .into_iter()
        .filter(|(_, b)| b == file)
        .map(|(d, _)| d.display().to_string())
        .collect()
}

fn every_setting_is_applied(label: &str, attach: Attach) {
    if !require_root("a loop device") {
        return;
    }
    let env = TestEnv::new(label);
    let img = env.sparse_image("disk.img", 32 << 20);
    let opts = LoopOptions {
        readonly: false,
        partscan: true,
        direct_io: true,
        offset: 1 << 20,
        size_limit: 8 << 20,
        block_size: 4096,
    };
    let lo = attach(&img, opts).unwrap();
    assert_eq!(lo.node().logical_sector_size().unwrap(), 4096);
    assert_eq!(attr(&lo, "queue/logical_block_size"), "4096");
    assert_eq!(attr(&lo, "loop/dio"), "1");
    assert_eq!(attr(&lo, "loop/offset"), (1u64 << 20).to_string());
    assert_eq!(attr(&lo, "loop/sizelimit"), (8u64 << 20).to_string());
    assert_eq!(attr(&lo, "loop/autoclear"), "1");
    assert_eq!(attr(&lo, "loop/partscan"), "1");
    assert_eq!(attr(&lo, "ro"), "0");
    assert_eq!(lo.node().size().unwrap(), 8 << 20);
    // The window really starts at the offset.
    let block = [0xA5u8; 4096];
    lo.node().write_at(&block, 0).unwrap();
    lo.node().flush().unwrap();
    let data = std::fs::read(&img).unwrap();
    assert_eq!(&data[1 << 20..(1 << 20) + 4096], &block[..]);
    assert!(data[..1 << 20].iter().all(|&b| b == 0));
    lo.detach().unwrap();
    assert!(bound_to(&img).is_empty());
}

#[test]
fn loop_configure_applies_every_setting() {
    every_setting_is_applied("lo-cfg", configure);
}

#[test]
fn the_pre_5_8_fallback_applies_every_setting() {
    every_setting_is_applied("lo-legacy", legacy);
}

fn defaults_and_read_only(label: &str, attach: Attach) {
    if !require_root("a loop device") {
        return;
    }
    let env = TestEnv::new(label);
    let img = env.sparse_image("disk.img", 4 << 20);
    let opts = LoopOptions {
        readonly: true,
        partscan: false,
        ..Default::default()
    };
    let lo = attach(&img, opts).unwrap();
    assert_eq!(lo.node().logical_sector_size().unwrap(), 512);
    assert_eq!(attr(&lo, "loop/dio"), "0");
    assert_eq!(attr(&lo, "loop/partscan"), "0");
    assert_eq!(attr(&lo, "ro"), "1");
    assert_eq!(lo.node().size().unwrap(), 4 << 20);
    lo.detach().unwrap();
}

#[test]
fn loop_configure_defaults_and_read_only() {
    defaults_and_read_only("lo-cfg-ro", configure);
}

#[test]
fn the_fallback_defaults_and_read_only() {
    defaults_and_read_only("lo-legacy-ro", legacy);
}

/// Direct I/O needs an offset aligned to the backing file's I/O alignment; the
/// kernel silently keeps buffered I/O otherwise (LOOP_CONFIGURE) or refuses it
/// (LOOP_SET_DIRECT_IO). Either way the attach fails, naming the file, and the
/// device it had bound is released.
fn unavailable_direct_io_fails_and_unbinds(label: &str, attach: Attach) {
    if !require_root("a loop device") {
        return;
    }
    let env = TestEnv::new(label);
    let img = env.sparse_image("disk.img", 4 << 20);
    let opts = LoopOptions {
        direct_io: true,
        offset: 100,
        ..Default::default()
    };
    let e = attach(&img, opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(e.call(), "loop_attach");
    assert!(
        e.to_string().contains(&img.display().to_string()) && e.to_string().contains("direct I/O"),
        "{e}"
    );
    assert!(bound_to(&img).is_empty(), "{:?}", bound_to(&img));
}

#[test]
fn loop_configure_refuses_direct_io_it_cannot_enable() {
    unavailable_direct_io_fails_and_unbinds("lo-cfg-dio", configure);
}

#[test]
fn the_fallback_refuses_direct_io_it_cannot_enable() {
    unavailable_direct_io_fails_and_unbinds("lo-legacy-dio", legacy);
}

fn bad_block_sizes_are_refused_before_binding(label: &str, attach: Attach) {
    if !require_root("a loop device") {
        return;
    }
    let env = TestEnv::new(label);
    let img = env.sparse_image("disk.img", 4 << 20);
    for bs in [1, 256, 1000, 3072, 1 << 20] {
        let opts = LoopOptions {
            block_size: bs,
            ..Default::default()
        };
        let e = attach(&img, opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(
            e.to_string().starts_with(&format!(
                "loop_attach: {}: block size {bs} is not",
                img.display()
            )),
            "{e}"
        );
        assert!(bound_to(&img).is_empty());
    }
}

#[test]
fn loop_configure_refuses_bad_block_sizes() {
    bad_block_sizes_are_refused_before_binding("lo-cfg-bs", configure);
}

#[test]
fn the_fallback_refuses_bad_block_sizes() {
    bad_block_sizes_are_refused_before_binding("lo-legacy-bs", legacy);
}

/// A bound device carries a shared BSD lock for as long as it is attached, as
/// systemd-udevd's block-device locking asks of a disk's owner: another open
/// file can share it (udev's probes) but not take it exclusively (udev's
/// re-read of the partition table on a writer's close), both ways of binding.
fn holds_a_shared_lock(label: &str, attach: Attach) {
    if !require_root("a loop device") {
        return;
    }
    let env = TestEnv::new(label);
    let img = env.sparse_image("disk.img", 8 << 20);
    let lo = attach(&img, LoopOptions::default()).unwrap();
    let other = std::fs::File::open(lo.path()).unwrap();
    assert!(
        matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        "an exclusive lock must wait for the device's holder"
    );
    other.try_lock_shared().unwrap();
    other.unlock().unwrap();
    drop(other);
    lo.detach().unwrap();
    assert!(bound_to(&img).is_empty());
}

#[test]
fn loop_configure_holds_a_shared_lock() {
    holds_a_shared_lock("lo-cfg-lock", configure);
}

#[test]
fn the_fallback_holds_a_shared_lock() {
    holds_a_shared_lock("lo-legacy-lock", legacy);
}
