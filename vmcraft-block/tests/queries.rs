//! The blockdev_* queries on a real loop device and on image files, and their errors.

use vmcraft_block::testing::{LoopFixture, TestEnv};
use vmcraft_block::*;

#[test]
fn queries_on_a_loop_device() {
    let Some(fx) = LoopFixture::new("q-loop", 10 << 20) else {
        return;
    };
    let dev = fx.path();
    assert_eq!(blockdev_getsize64(dev).unwrap(), 10 << 20);
    assert_eq!(blockdev_getsz(dev).unwrap(), (10 << 20) / 512);
    assert_eq!(blockdev_getss(dev).unwrap(), 512);
    let bsz = blockdev_getbsz(dev).unwrap();
    assert!(bsz.is_power_of_two() && bsz >= 512, "{bsz}");
    blockdev_flushbufs(dev).unwrap();
    assert!(!blockdev_getro(dev).unwrap());
    blockdev_setro(dev).unwrap();
    assert!(blockdev_getro(dev).unwrap());
    blockdev_setrw(dev).unwrap();
    assert!(!blockdev_getro(dev).unwrap());
    // An unpartitioned loop device re-reads its (empty) table fine.
    blockdev_rereadpt(dev).unwrap();
}

#[test]
fn getsz_is_in_512_byte_units_on_a_4k_loop_device() {
    if !testing::require_root("a loop device") {
        return;
    }
    let env = TestEnv::new("q-4k");
    let img = env.sparse_image("disk.img", 8 << 20);
    let lo = LoopDevice::attach(
        &img,
        LoopOptions {
            block_size: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(blockdev_getss(lo.path()).unwrap(), 4096);
    assert_eq!(blockdev_getsz(lo.path()).unwrap(), (8 << 20) / 512);
}

#[test]
fn queries_on_an_image_file() {
    let env = TestEnv::new("q-file");
    let img = env.sparse_image("disk.img", 3 << 20);
    assert_eq!(blockdev_getsize64(&img).unwrap(), 3 << 20);
    assert_eq!(blockdev_getsz(&img).unwrap(), 6144);
    assert_eq!(blockdev_getss(&img).unwrap(), 512);
    assert!(blockdev_getbsz(&img).unwrap() >= 512);
    blockdev_flushbufs(&img).unwrap();
    blockdev_rereadpt(&img).unwrap();
    let err = blockdev_setro(&img).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(
        err.to_string()
            .starts_with(&format!("blockdev_setro: {}", img.display())),
        "{err}"
    );
}

#[test]
fn errors_name_the_call_and_the_device() {
    let env = TestEnv::new("q-err");
    let missing = env.path().join("nope");
    let err = blockdev_getsize64(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string()
            .starts_with(&format!("blockdev_getsize64: {}", missing.display())),
        "{err}"
    );

    let err = blockdev_getss(env.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(err.to_string().contains("is a directory"), "{err}");

    let err = blockdev_getsz("/dev/null").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(err.to_string().contains("character device"), "{err}");
}
