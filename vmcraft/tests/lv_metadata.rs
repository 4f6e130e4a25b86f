//! LVs that cannot be reached as a block device on this host (a striped LV,
//! without device-mapper) still answer `blockdev_getsize64` / `blockdev_getsz`
//! from LVM's metadata, as libguestfs answers for an active LV, while the calls
//! that need the device refuse with LVM's reason. The guest is made with lvm2
//! itself on loop devices, then opened through the facade.

use std::sync::Arc;

use vmcraft::VMCraft;
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{LoopDevice, LoopOptions, SystemRunner};

const MIB: u64 = 1 << 20;

#[test]
fn a_striped_lv_answers_its_size_from_lvm_metadata() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lv-metadata-size");
    let a = env.sparse_image("a.img", 64 * MIB);
    let b = env.sparse_image("b.img", 64 * MIB);
    {
        let la = LoopDevice::attach(&a, LoopOptions::default()).unwrap();
        let lb = LoopDevice::attach(&b, LoopOptions::default()).unwrap();
        let lvm = vmcraft_lvm::Lvm::new(
            Arc::new(SystemRunner::new()),
            [la.path().to_path_buf(), lb.path().to_path_buf()],
        )
        .unwrap();
        lvm.pvcreate(&[la.path(), lb.path()]).unwrap();
        lvm.vgcreate("vmcstripe", &[la.path(), lb.path()]).unwrap();
        // Four 4 MiB extents striped over both PVs: 16 MiB.
        let cmd = lvm.lvm_command("lvcreate").unwrap().args([
            "--activate",
            "n",
            "--zero",
            "n",
            "--yes",
            "--type",
            "striped",
            "-i",
            "2",
            "-l",
            "4",
            "-n",
            "str",
            "vmcstripe",
        ]);
        lvm.run_lvm("test", "", &cmd).unwrap();
    }
    let g = VMCraft::new();
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    assert_eq!(g.lvs().unwrap(), ["/dev/vmcstripe/str"]);
    if vmcraft_lvm::device_mapper_available() {
        // With device-mapper the LV is a real device; nothing more to show here.
        g.shutdown().unwrap();
        return;
    }
    assert_eq!(
        g.blockdev_getsize64("/dev/vmcstripe/str").unwrap(),
        16 * MIB
    );
    assert_eq!(
        g.blockdev_getsz("/dev/vmcstripe/str").unwrap(),
        16 * MIB / 512
    );
    let e = g.blkid("/dev/vmcstripe/str").unwrap_err();
    assert_eq!(
        e.to_string(),
        "blkid: /dev/vmcstripe/str: a striped LV (2 stripes) is unsupported without device-mapper"
    );
    // A name that is no LV of the session is still an error.
    assert!(g.blockdev_getsize64("/dev/vmcstripe/none").is_err());
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_member_is_never_mounted_on_its_own_even_with_a_type_given() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("member-mount");
    let img = env.sparse_image("a.img", 64 * MIB);
    let g = VMCraft::new();
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.part_disk("/dev/sda", "gpt").unwrap();
    g.mkfs("ext4", "/dev/sda1", &Default::default()).unwrap();
    g.pvcreate(&["/dev/sda1"]).unwrap();
    let before = std::fs::read(&img).unwrap();
    for call in [
        g.mount_vfs("", "ext4", "/dev/sda1", "/"),
        g.mount_vfs("ro", "ext4", "/dev/sda1", "/"),
        g.mount("/dev/sda1", "/"),
    ] {
        let e = call.unwrap_err();
        assert!(
            e.to_string()
                .ends_with("/dev/sda1: LVM2_member is not a mountable filesystem"),
            "{e}"
        );
    }
    assert!(g.mountpoints().is_empty());
    g.shutdown().unwrap();
    assert!(std::fs::read(&img).unwrap() == before, "the image changed");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
