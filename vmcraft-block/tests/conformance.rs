//! The shared BlockDevice conformance suite run against every implementation: the
//! in-memory disk, an image file, and a kernel device node on a real loop device
//! (read-write and read-only each).

use vmcraft_block::testing::{LoopFixture, TestEnv, conformance};
use vmcraft_block::{BlockDevice, DeviceNode, ImageFile, LoopDevice, LoopOptions, MemoryDisk};

#[test]
fn memory_disk_conforms() {
    conformance::check_read_write(&MemoryDisk::new(4 << 20));
    conformance::check_read_write(&MemoryDisk::with_sector_size(4 << 20, 4096).unwrap());
    conformance::check_read_only(&MemoryDisk::new(1 << 20).read_only());
}

#[test]
fn image_file_conforms() {
    let env = TestEnv::new("conf-file");
    let path = env.sparse_image("disk.img", 8 << 20);
    conformance::check_read_write(&ImageFile::open(&path, false).unwrap());
    conformance::check_read_write(
        &ImageFile::open(&path, false)
            .unwrap()
            .with_sector_size(4096)
            .unwrap(),
    );
    conformance::check_read_only(&ImageFile::open(&path, true).unwrap());
}

#[test]
fn image_file_never_grows() {
    let env = TestEnv::new("conf-grow");
    let path = env.sparse_image("disk.img", 1 << 20);
    let f = ImageFile::open(&path, false).unwrap();
    assert!(f.write_at(&[1], 1 << 20).is_err());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
}

#[test]
fn device_node_conforms_on_a_loop_device() {
    let Some(fx) = LoopFixture::new("conf-node", 16 << 20) else {
        return;
    };
    let node = DeviceNode::open(fx.path(), false).unwrap();
    assert_eq!(node.size().unwrap(), 16 << 20);
    assert!(node.kernel_node().is_some());
    conformance::check_read_write(&node);
    drop(node);
    // What was written through the device is in the image file.
    let img = std::fs::read(fx.image()).unwrap();
    let mut via_dev = vec![0u8; 512];
    DeviceNode::open(fx.path(), true)
        .unwrap()
        .read_at(&mut via_dev, 0)
        .unwrap();
    assert_eq!(&img[..512], &via_dev[..]);
}

#[test]
fn device_node_read_only_on_a_read_only_loop_device() {
    if !vmcraft_block::testing::require_root("a loop device") {
        return;
    }
    let env = TestEnv::new("conf-ro");
    let path = env.sparse_image("disk.img", 4 << 20);
    std::fs::write(&path, vec![0x5a; 4 << 20]).unwrap();
    let before = std::fs::read(&path).unwrap();
    let lo = LoopDevice::attach(
        &path,
        LoopOptions {
            readonly: true,
            ..Default::default()
        },
    )
    .unwrap();
    // A writable open of a read-only device is refused up front.
    let err = DeviceNode::open(lo.path(), false).unwrap_err();
    assert_eq!(err.kind(), vmcraft_block::ErrorKind::ReadOnly, "{err}");
    let node = DeviceNode::open(lo.path(), true).unwrap();
    assert!(node.kernel_read_only().unwrap());
    conformance::check_read_only(&node);
    drop(node);
    lo.detach().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn loop_device_detaches_on_drop_and_on_panic() {
    if !vmcraft_block::testing::require_root("a loop device") {
        return;
    }
    let env = TestEnv::new("loop-drop");
    let path = env.sparse_image("disk.img", 1 << 20);
    let lo = env.loop_device(&path);
    let dev = lo.path().to_path_buf();
    assert!(
        vmcraft_block::loopdev::list_loop_devices()
            .iter()
            .any(|(d, _)| d == &dev)
    );
    drop(lo);
    assert!(vmcraft_block::testing::leaks(env.tag()).is_empty());

    let path2 = path.clone();
    let r = std::panic::catch_unwind(move || {
        let _lo = LoopDevice::attach(&path2, LoopOptions::default()).unwrap();
        panic!("test panic while attached");
    });
    assert!(r.is_err());
    assert!(
        vmcraft_block::testing::leaks(env.tag()).is_empty(),
        "{:?}",
        vmcraft_block::testing::leaks(env.tag())
    );
}

#[test]
fn many_loop_devices_from_threads() {
    if !vmcraft_block::testing::require_root("loop devices") {
        return;
    }
    let env = TestEnv::new("loop-many");
    let images: Vec<_> = (0..6)
        .map(|i| env.sparse_image(&format!("d{i}.img"), 1 << 20))
        .collect();
    let devs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .iter()
            .map(|p| s.spawn(move || LoopDevice::attach(p, LoopOptions::default()).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut paths: Vec<_> = devs.iter().map(|d| d.path().to_path_buf()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 6, "every image got its own device");
    drop(devs);
    assert!(vmcraft_block::testing::leaks(env.tag()).is_empty());
}
