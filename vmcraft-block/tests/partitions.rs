//! The kernel's partitions of a real loop device, as BLKPG made them and as
//! `DeviceNode::kernel_partitions` reads them back from sysfs (in bytes, whatever
//! the logical sector size).

use vmcraft_block::testing::{TestEnv, require_root};
use vmcraft_block::{KernelPartition, LoopDevice, LoopOptions};

fn added_partitions_read_back(block_size: u32) {
    if !require_root("a loop device") {
        return;
    }
    let env = TestEnv::new("kparts");
    let img = env.sparse_image("disk.img", 64 << 20);
    let lo = LoopDevice::attach(
        &img,
        LoopOptions {
            block_size,
            partscan: false,
            ..Default::default()
        },
    )
    .unwrap();
    let node = lo.node();
    assert!(node.kernel_partitions().unwrap().is_empty());
    node.add_partition(2, 40 << 20, 8 << 20).unwrap();
    node.add_partition(1, 1 << 20, 16 << 20).unwrap();
    let name = lo
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let want = [
        KernelPartition {
            number: 1,
            start: 1 << 20,
            size: 16 << 20,
            node: format!("/dev/{name}p1").into(),
        },
        KernelPartition {
            number: 2,
            start: 40 << 20,
            size: 8 << 20,
            node: format!("/dev/{name}p2").into(),
        },
    ];
    assert_eq!(node.kernel_partitions().unwrap(), want);
    node.resize_partition(2, 40 << 20, 4 << 20).unwrap();
    assert_eq!(node.kernel_partitions().unwrap()[1].size, 4 << 20);
    node.delete_partition(1).unwrap();
    node.delete_partition(2).unwrap();
    assert!(node.kernel_partitions().unwrap().is_empty());
    lo.detach().unwrap();
}

#[test]
fn partitions_added_with_blkpg_read_back_in_bytes() {
    added_partitions_read_back(512);
}

#[test]
fn partitions_on_a_4k_device_read_back_in_bytes() {
    added_partitions_read_back(4096);
}
