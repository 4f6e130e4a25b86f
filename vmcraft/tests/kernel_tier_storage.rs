//! The kernel test tier (`cargo xtask test-kernel`), or a host with device-mapper:
//! guest LVs through the facade with the kernel's device-mapper loaded.
//!
//! - A multi-segment LV (a VG on two GPT partitions of a qcow2 guest, its LV
//!   extended onto the second PV, made with plain lvm2) is activated by the
//!   session through device-mapper (its own `/dev/dm-N`, by UUID, built on the
//!   session's two partitions; never the loop-window stand-in, which cannot
//!   reach it), mounted, read and written, and deactivated by shutdown with no
//!   device-mapper device left; `e2fsck -fn` is clean afterwards and the file
//!   written is there.
//! - A host VG of the same name (`vg0/root`, active on the test's own loop
//!   device): the guest's LV never resolves to the host's node, activating or
//!   deactivating the guest's is refused (the host's name is in the way) and the
//!   host's stays active with its data; the session lists only the guest's.
//! - A byte copy of a disk whose VG is active on the host (same VG and LV
//!   UUIDs): the session never takes the host's active LV for the guest's,
//!   activation and deactivation are refused naming the UUID clash, the guest's
//!   LV is reached over its own disk, and the host's LV is untouched and active.
//!
//! Without device-mapper (this project's usual machines) the tests skip loudly.

mod kernel_tier_storage_support;

use std::path::Path;

use kernel_tier_storage_support::*;
use vmcraft::{DriveOpts, ErrorKind};
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_root, require_tool};
use vmcraft_lvm::dm::lvm_dm_uuid;

fn can_run(what: &str) -> bool {
    require_root(what)
        && [
            "lvm",
            "mkfs.ext4",
            "e2fsck",
            "debugfs",
            "sgdisk",
            "qemu-img",
        ]
        .iter()
        .all(|t| require_tool(t))
        && require_kernel_feature(
            "device-mapper (/dev/mapper/control)",
            vmcraft_lvm::device_mapper_available(),
        )
}

/// The lvm2 error inside a facade error, for its kind.
fn lvm_kind(e: &vmcraft::Error) -> Option<vmcraft_lvm::ErrorKind> {
    match e {
        vmcraft::Error::Lvm(l) => Some(l.kind()),
        _ => None,
    }
}

/// The dm UUID lvm2 gives `vg/lv` of the session, from its own listings.
fn session_dm_uuid(g: &vmcraft::VMCraft, vg: &str, lv: &str) -> String {
    let vg_uuid = g
        .vgs_full()
        .unwrap()
        .into_iter()
        .find(|v| v.vg_name == vg)
        .expect("the session lists the VG")
        .vg_uuid;
    let lv_uuid = g
        .lvs_full()
        .unwrap()
        .into_iter()
        .find(|l| l.lv_name == lv)
        .expect("the session lists the LV")
        .lv_uuid;
    lvm_dm_uuid(&vg_uuid, &lv_uuid)
}

/// Whether `node` is a loop device, and if so its offset on its backing device.
fn loop_offset(node: &Path) -> Option<u64> {
    let k = kernel_name(node);
    k.starts_with("loop").then(|| {
        std::fs::read_to_string(format!("/sys/block/{k}/loop/offset"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    })
}

#[test]
fn a_multi_segment_lv_is_activated_through_device_mapper_mounted_and_deactivated() {
    if !can_run("the multi-segment LV test") {
        return;
    }
    let env = TestEnv::new("kt-mseg");
    let raw = env.sparse_image("build.img", 72 * MIB);
    gpt(&raw, &[32, 32]);
    let big = pattern(20 * MIB as usize, 17);
    let tree = env.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("hello.txt"), b"hello from both PVs\n").unwrap();
    std::fs::write(tree.join("big"), &big).unwrap();
    let big_sha = sha256(&tree.join("big"));

    // The guest, made as its own installer would: VG vmcms on both partitions,
    // root on the first PV, another LV after it, then root extended onto the
    // second PV (so it has two segments, one on each PV).
    {
        let dev = env.loop_device(&raw);
        let p = partitions(dev.path(), 2);
        let vg = HostVg::create("vmcms", &[&p[0], &p[1]]);
        vg.lvcreate("root", 12, &[&p[0]]);
        vg.lvcreate("pad", 8, &[&p[0]]);
        vg.lvm("lvextend", &["--yes", "-L", "40m", "vmcms/root", s(&p[1])]);
        assert_eq!(vg.field("root", "seg_count"), "2");
        let pvs = vg.lvm(
            "lvs",
            &["--noheadings", "--segments", "-o", "devices", "vmcms/root"],
        );
        assert!(
            pvs.contains(s(&p[0])) && pvs.contains(s(&p[1])),
            "root spans both PVs: {pvs}"
        );
        mkfs_ext4_with(&vg.mapper("root"), &tree, "mseg");
        vg.keep();
        drop(dev);
    }
    let image = env.path().join("guest.qcow2");
    run(
        "qemu-img",
        &["convert", "-f", "raw", "-O", "qcow2", s(&raw), s(&image)],
    );
    std::fs::remove_file(&raw).unwrap();

    let qcow2 = || {
        let g = vmcraft::VMCraft::with_config(config(&env));
        g.add_drive_opts(
            &image,
            DriveOpts {
                format: Some("qcow2".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        g.launch().unwrap();
        g
    };
    // A session that makes no LVM call still leaves no LV behind, whatever the
    // host's udev activated on its drive meanwhile (it would keep the drive
    // from being detached).
    let g = qcow2();
    settle();
    g.shutdown().unwrap();
    assert!(
        !dm_devices().iter().any(|d| d.name.starts_with("vmcms-")),
        "{:?}",
        dm_devices()
    );
    drop(g);

    let g = qcow2();
    assert_eq!(g.lvs().unwrap(), ["/dev/vmcms/pad", "/dev/vmcms/root"]);
    let root = g
        .lvs_full()
        .unwrap()
        .into_iter()
        .find(|l| l.lv_name == "root")
        .unwrap();
    assert_eq!(root.seg_count, 2);
    assert_eq!(root.lv_size, 40 * MIB);

    // The host's udev may have activated the VG as the drive appeared (lvm2's
    // event activation, on by default): then it is on the session's devices
    // and the session uses it. Deactivated, two segments are beyond a loop
    // window (the stand-in for hosts without device-mapper): refused.
    settle();
    g.vg_activate_all(false).unwrap();
    assert!(dm_named("vmcms-root").is_none(), "{:?}", dm_devices());
    let e = g.host_path("/dev/vmcms/root").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(
        e.to_string(),
        "host_path: /dev/vmcms/root: the LV is not active in this session and cannot be \
         reached without activation (an LV of 2 segments is unsupported without \
         device-mapper (only a single linear segment can be reached)); activate its volume \
         group first (vg_activate)"
    );

    g.vg_activate_all(true).unwrap();
    let host = g.host_path("/dev/vmcms/root").unwrap();
    let k = kernel_name(&host);
    assert!(
        k.starts_with("dm-"),
        "the LV must be reached through device-mapper, not {}",
        host.display()
    );
    assert_eq!(loop_offset(&host), None);
    let dm = dm_devices().into_iter().find(|d| d.kernel == k).unwrap();
    assert_eq!(dm.name, "vmcms-root");
    assert_eq!(dm.uuid, session_dm_uuid(&g, "vmcms", "root"));
    let mut parts = vec![
        kernel_name(&g.host_path("/dev/sda1").unwrap()),
        kernel_name(&g.host_path("/dev/sda2").unwrap()),
    ];
    parts.sort();
    assert_eq!(dm.slaves, parts, "built on the session's two partitions");
    assert_eq!(g.vfs_type("/dev/vmcms/root").unwrap(), "ext4");
    assert_eq!(g.vfs_label("/dev/vmcms/root").unwrap(), "mseg");
    let fs = g.list_filesystems().unwrap();
    assert!(
        fs.contains(&("/dev/vmcms/root".to_string(), "ext4".to_string())),
        "{fs:?}"
    );

    g.mount("/dev/vmcms/root", "/").unwrap();
    assert_eq!(g.cat("/hello.txt").unwrap(), "hello from both PVs\n");
    assert_eq!(g.checksum("sha256", "/big").unwrap(), big_sha);
    let written = pattern(6 * MIB as usize, 29);
    g.write("/written", &written).unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert!(
        !dm_devices().iter().any(|d| d.name.starts_with("vmcms-")),
        "shutdown left the LV active: {:?}",
        dm_devices()
    );
    assert!(!Path::new("/dev/mapper/vmcms-root").exists());
    assert!(!Path::new("/dev/vmcms").exists());
    drop(g);

    // The filesystem as a host sees it afterwards: clean, with the new file.
    let check = env.path().join("check.img");
    run(
        "qemu-img",
        &["convert", "-f", "qcow2", "-O", "raw", s(&image), s(&check)],
    );
    let dev = env.loop_device(&check);
    let p = partitions(dev.path(), 2);
    let vg = HostVg {
        name: "vmcms".into(),
        devices: p.clone(),
    };
    vg.activate(true);
    e2fsck_clean(&vg.mapper("root"));
    assert_eq!(ext4_cat(&vg.mapper("root"), "/written"), written);
    drop(vg);
    drop(dev);
}

/// A raw disk whose whole device is the PV of `vg` holding `root` (16 MiB, ext4
/// with `/marker` saying `marker`), made with plain lvm2 and left inactive.
/// Returns the LV's UUID.
fn lvm_disk(env: &TestEnv, image: &Path, vg: &str, marker: &str) -> String {
    let tree = env.path().join(format!("tree-{marker}"));
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("marker"), marker).unwrap();
    let dev = env.loop_device(image);
    let host = HostVg::create(vg, &[dev.path()]);
    host.lvcreate("root", 16, &[]);
    mkfs_ext4_with(&host.mapper("root"), &tree, marker);
    let uuid = host.field("root", "lv_uuid");
    host.keep();
    drop(dev);
    uuid
}

/// What a host's active LV is, to compare before and after a session.
#[derive(Debug, PartialEq, Eq)]
struct HostLvState {
    dm: Dm,
    sha: String,
    active: String,
}

fn host_lv_state(vg: &HostVg) -> HostLvState {
    let node = vg.mapper("root");
    assert!(node.exists(), "the host's {} is gone", node.display());
    HostLvState {
        dm: dm_named(&format!("{}-root", vg.name)).expect("the host's LV is active"),
        sha: sha256(&node),
        active: vg.field("root", "lv_active"),
    }
}

#[test]
fn a_host_vg_of_the_same_name_is_never_the_guests() {
    if !can_run("the same-name host VG test") {
        return;
    }
    let env = TestEnv::new("kt-samename");
    let guest = env.sparse_image("guest.img", 32 * MIB);
    let guest_uuid = lvm_disk(&env, &guest, "vg0", "guest");

    // The host's own vg0/root, active on its own loop device.
    let host_img = env.sparse_image("host.img", 32 * MIB);
    let host_dev = env.loop_device(&host_img);
    let host = HostVg::create("vg0", &[host_dev.path()]);
    host.lvcreate("root", 16, &[]);
    let host_tree = env.path().join("tree-host");
    std::fs::create_dir(&host_tree).unwrap();
    std::fs::write(host_tree.join("marker"), "host").unwrap();
    mkfs_ext4_with(&host.mapper("root"), &host_tree, "host");
    let host_uuid = host.field("root", "lv_uuid");
    assert_ne!(host_uuid, guest_uuid);
    let before = host_lv_state(&host);
    let host_rdev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(host.mapper("root")).unwrap().rdev()
    };

    let g = launched(&env, &[&guest]);
    // Only the guest's, by name and by UUID.
    assert_eq!(g.vgs().unwrap(), ["vg0"]);
    assert_eq!(g.pvs().unwrap(), ["/dev/sda"]);
    assert_eq!(g.lvs().unwrap(), ["/dev/vg0/root"]);
    let lvs = g.lvs_full().unwrap();
    assert_eq!(lvs.len(), 1);
    assert_eq!(lvs[0].lv_uuid, bare_uuid(&guest_uuid));

    // Activation would make a second vg0-root: refused, naming the host's device.
    let host_dm = &before.dm;
    for (what, r) in [
        ("activate", g.vg_activate_all(true)),
        ("deactivate", g.vg_activate(false, &["vg0"])),
    ] {
        let e = r.expect_err(what);
        assert_eq!(
            lvm_kind(&e),
            Some(vmcraft_lvm::ErrorKind::Conflict),
            "{what}: {e}"
        );
        let call = if what == "activate" {
            "vg_activate_all: vg0/root"
        } else {
            "vg_activate: vg0: LV vg0/root"
        };
        assert_eq!(
            e.to_string(),
            format!(
                "{call}: device-mapper device /dev/{} (vg0-root) has this LV's name but is \
                 built on {}, not on this session's devices; refusing to touch it (it belongs \
                 to the host or to another session)",
                host_dm.kernel,
                kernel_name(host_dev.path())
            )
        );
        assert_eq!(host_lv_state(&host), before, "{what} touched the host's LV");
    }

    // The guest's LV is reached over the guest's own disk, never the host's node.
    let node = g.host_path("/dev/vg0/root").unwrap();
    {
        use std::os::unix::fs::MetadataExt;
        assert_ne!(std::fs::metadata(&node).unwrap().rdev(), host_rdev);
    }
    let pe_start: u64 = g.pvs_full().unwrap()[0].pe_start;
    assert_eq!(loop_offset(&node), Some(pe_start), "{}", node.display());
    assert_eq!(
        g.list_filesystems().unwrap(),
        [("/dev/vg0/root".to_string(), "ext4".to_string())]
    );
    assert_eq!(g.vfs_label("/dev/vg0/root").unwrap(), "guest");
    g.mount("/dev/vg0/root", "/").unwrap();
    assert_eq!(g.cat("/marker").unwrap(), "guest");
    g.write("/from-session", b"the guest's").unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    drop(g);

    assert_eq!(
        host_lv_state(&host),
        before,
        "the session touched the host's LV"
    );
    assert_eq!(ext4_cat(&host.mapper("root"), "/marker"), b"host");
    drop(host);
    drop(host_dev);

    // The write went to the guest's disk.
    let dev = env.loop_device(&guest);
    let vg = HostVg {
        name: "vg0".into(),
        devices: vec![dev.path().to_path_buf()],
    };
    vg.activate(true);
    e2fsck_clean(&vg.mapper("root"));
    assert_eq!(
        ext4_cat(&vg.mapper("root"), "/from-session"),
        b"the guest's"
    );
    drop(vg);
    drop(dev);
}

#[test]
fn a_clone_of_an_active_host_vg_is_refused_and_the_host_lv_untouched() {
    if !can_run("the cloned-UUID test") {
        return;
    }
    let env = TestEnv::new("kt-clone");
    // The host's disk, its VG active; the guest a byte copy of it.
    let host_img = env.sparse_image("host.img", 32 * MIB);
    let host_uuid = lvm_disk(&env, &host_img, "vmcclone", "original");
    let guest = env.path().join("guest.img");
    std::fs::copy(&host_img, &guest).unwrap();
    let host_dev = env.loop_device(&host_img);
    let host = HostVg {
        name: "vmcclone".into(),
        devices: vec![host_dev.path().to_path_buf()],
    };
    host.activate(true);
    let before = host_lv_state(&host);
    let guest_before = sha256(&guest);

    let g = launched(&env, &[&guest]);
    assert_eq!(g.lvs().unwrap(), ["/dev/vmcclone/root"]);
    assert_eq!(
        g.lvs_full().unwrap()[0].lv_uuid,
        bare_uuid(&host_uuid),
        "a clone shares the LV UUID"
    );
    let uuid = session_dm_uuid(&g, "vmcclone", "root");
    assert_eq!(
        before.dm.uuid, uuid,
        "the host's device carries the clone's dm UUID"
    );

    for (what, r) in [
        ("activate", g.vg_activate_all(true)),
        ("deactivate", g.vg_activate_all(false)),
    ] {
        let e = r.expect_err(what);
        assert_eq!(
            lvm_kind(&e),
            Some(vmcraft_lvm::ErrorKind::Conflict),
            "{what}: {e}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "vg_activate_all: vmcclone/root: device-mapper device /dev/{} (vmcclone-root) \
                 has this LV's UUID but is built on {}, not on this session's devices; \
                 refusing to touch it (it belongs to the host or to another session)",
                before.dm.kernel,
                kernel_name(host_dev.path())
            )
        );
        assert_eq!(host_lv_state(&host), before, "{what} touched the host's LV");
    }
    // Removal would deactivate by UUID: refused too, nothing written.
    let e = g.lvremove("/dev/vmcclone/root").unwrap_err();
    assert_eq!(lvm_kind(&e), Some(vmcraft_lvm::ErrorKind::Conflict), "{e}");
    assert_eq!(
        sha256(&guest),
        guest_before,
        "a refused call changed the clone"
    );

    // The session's LV is its own disk's, never the host's active device.
    let node = g.host_path("/dev/vmcclone/root").unwrap();
    assert!(
        !kernel_name(&node).starts_with("dm-"),
        "the host's active LV was taken for the clone's: {}",
        node.display()
    );
    let pe_start: u64 = g.pvs_full().unwrap()[0].pe_start;
    assert_eq!(loop_offset(&node), Some(pe_start));
    g.mount("/dev/vmcclone/root", "/").unwrap();
    assert_eq!(g.cat("/marker").unwrap(), "original");
    g.write("/clone-only", b"written to the clone").unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    drop(g);

    assert_eq!(
        host_lv_state(&host),
        before,
        "the session touched the host's LV"
    );
    assert_eq!(ext4_cat(&host.mapper("root"), "/marker"), b"original");
    assert!(ext4_cat(&host.mapper("root"), "/clone-only").is_empty());
    drop(host);
    drop(host_dev);
    assert_ne!(sha256(&guest), guest_before, "the write went to the clone");
    let dev = env.loop_device(&guest);
    let vg = HostVg {
        name: "vmcclone".into(),
        devices: vec![dev.path().to_path_buf()],
    };
    vg.activate(true);
    e2fsck_clean(&vg.mapper("root"));
    assert_eq!(
        ext4_cat(&vg.mapper("root"), "/clone-only"),
        b"written to the clone"
    );
    drop(vg);
    drop(dev);
}
