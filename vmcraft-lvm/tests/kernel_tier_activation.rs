//! The kernel test tier (`cargo xtask test-kernel`), or a host with device-mapper: LVs are activated as usable block devices,
//! deactivated, and a session deactivates what it activated when it drops. Hosts
//! without device-mapper skip loudly (the skip stays a skip in strict mode; the
//! command lines of activation are covered by the fake-runner tests).

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use common::*;
use vmcraft_block::testing::require_kernel_feature;
use vmcraft_lvm::{LvSize, Mode, device_mapper_available};

fn have_device_mapper() -> bool {
    require_kernel_feature(
        "device-mapper (/dev/mapper/control)",
        device_mapper_available(),
    )
}

#[test]
fn activated_lvs_are_block_devices_of_their_size() {
    if !can_run("the activation test") || !have_device_mapper() {
        return;
    }
    let a = loop_device("lvm-act", 32 * MIB);
    let lvm = session(&[a.path()]);
    assert_eq!(lvm.mode(), Mode::Activate);
    lvm.pvcreate(&[a.path()]).unwrap();
    lvm.vgcreate("vmcact", &[a.path()]).unwrap();
    lvm.lvcreate("lv", "vmcact", LvSize::MiB(8)).unwrap();
    let node = Path::new("/dev/vmcact/lv");
    let meta = std::fs::metadata(node).expect("an active LV has a device node");
    assert!(meta.file_type().is_block_device());
    let dev = vmcraft_block::DeviceNode::open(node, true).unwrap();
    assert_eq!(vmcraft_block::BlockDevice::size(&dev).unwrap(), 8 * MIB);
    drop(dev);
    let lv = lvm.lvs_full().unwrap().remove(0);
    assert!(lv.lv_kernel_major > 0);

    lvm.vg_activate(false, &["vmcact"]).unwrap();
    assert!(!node.exists(), "a deactivated LV keeps its node");
    lvm.vg_activate_all(true).unwrap();
    assert!(node.exists());
    lvm.lvm_remove_all().unwrap();
    assert!(!node.exists());
}

#[test]
fn dropping_a_session_deactivates_its_lvs() {
    if !can_run("the deactivate-on-drop test") || !have_device_mapper() {
        return;
    }
    let a = loop_device("lvm-actdrop", 32 * MIB);
    let lvm = session(&[a.path()]);
    lvm.pvcreate(&[a.path()]).unwrap();
    lvm.vgcreate("vmcactdrop", &[a.path()]).unwrap();
    lvm.lvcreate("lv", "vmcactdrop", LvSize::MiB(8)).unwrap();
    assert!(Path::new("/dev/vmcactdrop/lv").exists());
    drop(lvm);
    assert!(
        !Path::new("/dev/vmcactdrop/lv").exists(),
        "drop left the LV active"
    );
    let cleanup = session(&[a.path()]);
    cleanup.lvm_remove_all().unwrap();
}
