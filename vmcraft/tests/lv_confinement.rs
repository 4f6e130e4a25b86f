//! LV names never resolve to the host's LVs: guests and hosts share VG names
//! (`rhel/root`), clones share VG and LV UUIDs. Real guest images with the same VG
//! name and UUIDs (one made with lvm2, then copied byte for byte), alone or both in
//! one session, next to a "host" VG of the same name and UUIDs on a loop device
//! outside the session: listing, probing, mkfs and file writes through the session
//! touch only the session's PVs (the host's image and the other clone hash the
//! same before and after). A fake sysfs tree stands in for device-mapper, which
//! this host lacks: a device with the LV's UUID on the host's disk is never used,
//! the session's own one (on its loop device) is used as `/dev/dm-N`. An LV whose
//! PV is a disk outside the session is refused, and that disk is never written.

use std::path::{Path, PathBuf};

use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_lvm::dm::lvm_dm_uuid;

/// SHA-256 of an image (coreutils' sha256sum: the unoptimised in-process digest
/// of a test build is far slower).
fn sha256(path: &Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn config(env: &TestEnv, sysfs: &Path) -> Config {
    Config::builder()
        .tmpdir(env.path())
        .sysfs_root(sysfs)
        .build()
}

/// A guest whose whole disk is the PV of VG `rhel` holding LV `root` (16 MiB).
fn build_guest(env: &TestEnv, sysfs: &Path) -> PathBuf {
    let img = env.sparse_image("guest1.img", 64 << 20);
    let g = VMCraft::with_config(config(env, sysfs));
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sda"]).unwrap();
    g.vgcreate("rhel", &["/dev/sda"]).unwrap();
    g.lvcreate("root", "rhel", 16).unwrap();
    g.shutdown().unwrap();
    img
}

/// `block/dm-N` in a fake sysfs tree.
fn fake_dm(root: &Path, kernel: &str, name: &str, uuid: &str, slave: &str) {
    let d = root.join("block").join(kernel);
    std::fs::create_dir_all(d.join("dm")).unwrap();
    std::fs::create_dir_all(d.join("slaves").join(slave)).unwrap();
    std::fs::write(d.join("dm/name"), format!("{name}\n")).unwrap();
    std::fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
}

fn kernel_name(node: &Path) -> String {
    node.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn clones_and_a_host_vg_of_the_same_name_stay_apart() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lv-confine");
    let sysfs = env.path().join("sys");
    std::fs::create_dir(&sysfs).unwrap();
    let guest1 = build_guest(&env, &sysfs);
    let guest2 = env.path().join("guest2.img");
    let host = env.path().join("host.img");
    std::fs::copy(&guest1, &guest2).unwrap();
    std::fs::copy(&guest1, &host).unwrap();
    // The "host": the same VG name and UUIDs, on a loop device outside any session,
    // and "active" there: a device-mapper device with the LV's UUID on that disk.
    let host_loop = env.loop_device(&host);
    let (vg_uuid, lv_uuid) = {
        let g = VMCraft::with_config(config(&env, &sysfs));
        g.add_drive_ro(&guest1).unwrap();
        g.launch().unwrap();
        let ids = (
            g.vgs_full().unwrap().remove(0).vg_uuid,
            g.lvs_full().unwrap().remove(0).lv_uuid,
        );
        g.shutdown().unwrap();
        ids
    };
    let uuid = lvm_dm_uuid(&vg_uuid, &lv_uuid);
    fake_dm(
        &sysfs,
        "dm-0",
        "rhel-root",
        &uuid,
        &kernel_name(host_loop.path()),
    );
    let host_before = sha256(&host);
    let guest2_before = sha256(&guest2);
    let guest1_before = sha256(&guest1);

    // One clone in a session: it sees its own PV only, and its LV is reached
    // through a loop window over that PV, not through the host's device.
    let g = VMCraft::with_config(config(&env, &sysfs));
    g.add_drive(&guest1).unwrap();
    g.launch().unwrap();
    assert_eq!(g.pvs().unwrap(), ["/dev/sda"]);
    assert_eq!(g.vgs().unwrap(), ["rhel"]);
    assert_eq!(g.lvs().unwrap(), ["/dev/rhel/root"]);
    let sda = g.host_path("/dev/sda").unwrap();
    let lv = g.host_path("/dev/rhel/root").unwrap();
    assert_ne!(lv, Path::new("/dev/dm-0"));
    assert_ne!(lv, Path::new("/dev/rhel/root"));
    assert_ne!(lv, host_loop.path());
    assert!(kernel_name(&lv).starts_with("loop"), "{}", lv.display());
    assert_ne!(lv, sda);
    g.mkfs(
        "ext4",
        "/dev/rhel/root",
        &MkfsOptions {
            label: Some("guest1".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/rhel/root").unwrap(), "ext4");
    assert_eq!(g.vfs_label("/dev/rhel/root").unwrap(), "guest1");
    assert!(
        g.list_filesystems()
            .unwrap()
            .contains(&("/dev/rhel/root".to_string(), "ext4".to_string()))
    );
    g.mount("/dev/rhel/root", "/").unwrap();
    g.write("/written", b"guest1\n").unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(sha256(&host), host_before, "the host's PV was written");
    assert_eq!(
        sha256(&guest2),
        guest2_before,
        "the other clone was written"
    );
    assert_ne!(sha256(&guest1), guest1_before);

    // Both clones in one session (duplicate PVs): still only session devices.
    let guest1_before = sha256(&guest1);
    let g = VMCraft::with_config(config(&env, &sysfs));
    g.add_drive(&guest1).unwrap();
    g.add_drive(&guest2).unwrap();
    g.launch().unwrap();
    assert_eq!(g.lvs().unwrap(), ["/dev/rhel/root"]);
    let lv = g.host_path("/dev/rhel/root").unwrap();
    assert!(kernel_name(&lv).starts_with("loop"), "{}", lv.display());
    assert_ne!(lv, host_loop.path());
    g.mkfs("vfat", "/dev/rhel/root", &Default::default())
        .unwrap();
    assert_eq!(g.vfs_type("/dev/rhel/root").unwrap(), "vfat");
    g.shutdown().unwrap();
    assert_eq!(sha256(&host), host_before, "the host's PV was written");
    assert!(
        sha256(&guest1) != guest1_before || sha256(&guest2) != guest2_before,
        "mkfs wrote neither clone"
    );

    drop(host_loop);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn the_sessions_own_device_mapper_device_is_used_by_uuid() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lv-own-dm");
    let sysfs = env.path().join("sys");
    std::fs::create_dir(&sysfs).unwrap();
    let guest = build_guest(&env, &sysfs);
    let g = VMCraft::with_config(config(&env, &sysfs));
    g.add_drive_ro(&guest).unwrap();
    g.launch().unwrap();
    let uuid = lvm_dm_uuid(
        &g.vgs_full().unwrap()[0].vg_uuid,
        &g.lvs_full().unwrap()[0].lv_uuid,
    );
    let sda = kernel_name(&g.host_path("/dev/sda").unwrap());
    // The host's own rhel/root (its name, another UUID) and a clone active on
    // another disk (the UUID): neither is the session's.
    fake_dm(
        &sysfs,
        "dm-0",
        "rhel-root",
        "LVM-hostvguuidhostlvuuid",
        "sdz2",
    );
    fake_dm(&sysfs, "dm-1", "rhel-root-clone", &uuid, "loop999");
    let lv = g.host_path("/dev/rhel/root").unwrap();
    assert!(kernel_name(&lv).starts_with("loop"), "{}", lv.display());
    // The session's activation: the LV's UUID on the session's own loop device.
    std::fs::remove_dir_all(sysfs.join("block/dm-1")).unwrap();
    fake_dm(&sysfs, "dm-7", "rhel-root-mine", &uuid, &sda);
    assert_eq!(
        g.host_path("/dev/rhel/root").unwrap(),
        Path::new("/dev/dm-7")
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn an_lv_on_a_pv_outside_the_session_is_refused() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lv-missing-pv");
    let sysfs = env.path().join("sys");
    std::fs::create_dir(&sysfs).unwrap();
    let d1 = env.sparse_image("d1.img", 16 << 20);
    let d2 = env.sparse_image("d2.img", 16 << 20);
    {
        // A VG over two disks; "first" fills the first PV, "second" lies on the
        // second one.
        let g = VMCraft::with_config(config(&env, &sysfs));
        g.add_drive(&d1).unwrap();
        g.add_drive(&d2).unwrap();
        g.launch().unwrap();
        g.pvcreate(&["/dev/sda", "/dev/sdb"]).unwrap();
        g.vgcreate("split", &["/dev/sda", "/dev/sdb"]).unwrap();
        let first_pv = g.pvs_full().unwrap()[0].pv_pe_count;
        g.lvcreate_size(
            "first",
            "split",
            vmcraft_lvm::LvSize::Extents(first_pv as u64),
        )
        .unwrap();
        g.lvcreate("second", "split", 4).unwrap();
        g.shutdown().unwrap();
    }
    // The second disk stays out of the session (as a host disk would be).
    let d2_before = sha256(&d2);
    let d1_before = sha256(&d1);
    let g = VMCraft::with_config(config(&env, &sysfs));
    g.add_drive(&d1).unwrap();
    g.launch().unwrap();
    // lvm2 reports the PV it cannot see as "[unknown]": never opened on the host.
    let e = g.host_path("/dev/split/second").unwrap_err();
    assert_eq!(
        e.to_string(),
        "host_path: /dev/split/second: its data lies on a missing physical volume ([unknown])"
    );
    let e = g
        .mkfs("ext4", "/dev/split/second", &Default::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mkfs: /dev/split/second: its data lies on a missing physical volume ([unknown])"
    );
    g.shutdown().unwrap();
    assert_eq!(
        sha256(&d2),
        d2_before,
        "the disk outside the session was written"
    );
    assert_eq!(sha256(&d1), d1_before);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
