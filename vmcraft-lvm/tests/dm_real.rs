//! Tier 3: device-mapper ownership with real lvm2 metadata on real loop devices
//! and a fake sysfs tree (this host has no device-mapper). The UUIDs lvm2 reports
//! for a guest VG, and for a byte-for-byte clone of it, give the dm UUID a real
//! activation would carry; a device with that UUID is the session's only when it
//! is built on the session's loop device, never on the clone's.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use vmcraft_block::SystemRunner;
use vmcraft_lvm::dm::lvm_dm_uuid;
use vmcraft_lvm::{LvSize, Lvm, LvmOptions};

fn session_with_sysfs(device: &Path, sysfs: &Path) -> Lvm {
    let opts = LvmOptions {
        timeout: None,
        sysfs_root: Some(sysfs.to_path_buf()),
        ..LvmOptions::default()
    };
    Lvm::with_options(Arc::new(SystemRunner::new()), [device], opts).expect("lvm session")
}

fn fake_dm(root: &Path, kernel: &str, name: &str, uuid: &str, slave: &str) {
    let d = root.join("block").join(kernel);
    std::fs::create_dir_all(d.join("dm")).unwrap();
    std::fs::create_dir_all(d.join("slaves").join(slave)).unwrap();
    std::fs::write(d.join("dm/name"), format!("{name}\n")).unwrap();
    std::fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
}

#[test]
fn a_clones_device_is_not_the_sessions() {
    if !can_run("the dm ownership test") {
        return;
    }
    let guest = loop_device("lvm-dm-guest", 16 * MIB);
    {
        let lvm = session(&[guest.path()]);
        lvm.pvcreate(&[guest.path()]).unwrap();
        lvm.vgcreate("rhel", &[guest.path()]).unwrap();
        lvm.lvcreate("root", "rhel", LvSize::MiB(4)).unwrap();
    }
    // A clone: the same bytes, so the same VG and LV UUIDs, on another device.
    let clone = loop_device("lvm-dm-clone", 16 * MIB);
    std::fs::copy(guest.image(), clone.image()).unwrap();

    let sys = tempfile::tempdir().unwrap();
    let lvm = session_with_sysfs(guest.path(), sys.path());
    let vg = lvm.vgs_full().unwrap().remove(0);
    let lv = lvm.lvs_full().unwrap().remove(0);
    let uuid = lvm_dm_uuid(&vg.vg_uuid, &lv.lv_uuid);
    assert_eq!(uuid.len(), 4 + 64);
    let kernel = |p: &Path| lvm.sysfs().kernel_name(p).unwrap();
    assert!(kernel(guest.path()).starts_with("loop"));

    // The clone active elsewhere: same UUID, the clone's disk.
    fake_dm(
        sys.path(),
        "dm-1",
        "rhel-root",
        &uuid,
        &kernel(clone.path()),
    );
    assert_eq!(lvm.lv_dm_device("/dev/rhel/root", &[]).unwrap(), None);
    let c = lvm.dm_conflicts(&["rhel"], &[]).unwrap();
    assert_eq!(c.len(), 1);
    assert!(c[0].same_uuid);
    assert_eq!(c[0].lv, "rhel/root");

    // The session's own activation: the same UUID on the session's disk.
    std::fs::remove_dir_all(sys.path().join("block/dm-1")).unwrap();
    fake_dm(
        sys.path(),
        "dm-2",
        "rhel-root",
        &uuid,
        &kernel(guest.path()),
    );
    let dev = lvm.lv_dm_device("/dev/rhel/root", &[]).unwrap().unwrap();
    assert_eq!(dev.node(), Path::new("/dev/dm-2"));
    assert!(lvm.dm_conflicts(&[], &[]).unwrap().is_empty());
    lvm.lvm_remove_all().unwrap();
}
