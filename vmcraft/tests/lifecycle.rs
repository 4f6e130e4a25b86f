//! The handle's lifecycle on real images: drives, launch, names, a filesystem made,
//! mounted, written and read back, shutdown leaving nothing behind; errors before
//! launch and for devices the session does not have.

use vmcraft::{Config, DriveOpts, ErrorKind, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root};

#[test]
fn two_drives_partition_mkfs_mount_write_read() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("facade-basic");
    let a = env.sparse_image("a.img", 64 << 20);
    let b = env.sparse_image("b.img", 512 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    assert_eq!(
        g.add_drive_opts(&a, DriveOpts::default()).unwrap(),
        "/dev/sda"
    );
    assert_eq!(g.add_drive(&b).unwrap(), "/dev/sdb");
    g.launch().unwrap();
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    assert!(g.list_partitions().unwrap().is_empty());

    g.part_disk("/dev/sda", "gpt").unwrap();
    g.part_init("/dev/sdb", "msdos").unwrap();
    g.part_add("/dev/sdb", "p", 2048, 20479).unwrap();
    g.part_add("/dev/sdb", "p", 20480, -1).unwrap();
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1", "/dev/sdb1", "/dev/sdb2"]
    );

    g.mkfs(
        "ext4",
        "/dev/sda1",
        &MkfsOptions {
            label: Some("root".into()),
            ..Default::default()
        },
    )
    .unwrap();
    g.mkfs("xfs", "/dev/sdb2", &MkfsOptions::default()).unwrap();
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "ext4");
    assert_eq!(g.vfs_label("/dev/sda1").unwrap(), "root");
    assert_eq!(g.vfs_type("/dev/sdb2").unwrap(), "xfs");
    let fs = g.list_filesystems().unwrap();
    assert_eq!(
        fs,
        [
            ("/dev/sda1".to_string(), "ext4".to_string()),
            ("/dev/sdb1".to_string(), "unknown".to_string()),
            ("/dev/sdb2".to_string(), "xfs".to_string())
        ]
    );

    g.mount("/dev/sda1", "/").unwrap();
    g.mkdir("/data").unwrap();
    g.mount("/dev/sdb2", "/data").unwrap();
    g.write("/data/hello", b"hello\n").unwrap();
    g.write("/etc-hostname", b"guest\n").unwrap();
    assert_eq!(g.cat("/data/hello").unwrap(), "hello\n");
    assert_eq!(
        g.mountpoints(),
        [
            ("/dev/sda1".to_string(), "/".to_string()),
            ("/dev/sdb2".to_string(), "/data".to_string())
        ]
    );
    assert_eq!(g.mounts_list(), ["/dev/sda1", "/dev/sdb2"]);
    // A parent cannot go before its child.
    assert_eq!(g.umount("/").unwrap_err().kind(), ErrorKind::Busy);
    g.umount_all().unwrap();
    assert!(g.mounts_list().is_empty());

    // The data is on the image: remount and read.
    g.mount_ro("/dev/sdb2", "/").unwrap();
    assert_eq!(g.cat("/hello").unwrap(), "hello\n");
    assert!(
        g.write("/x", b"no").is_err(),
        "read-only mount refuses writes"
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn calls_before_launch_and_unknown_devices_are_clear_errors() {
    let g = VMCraft::new();
    assert!(
        g.launch()
            .unwrap_err()
            .to_string()
            .contains("no drives have been added")
    );
    let e = g.vfs_type("/dev/sda1").unwrap_err();
    assert!(e.to_string().starts_with("vfs_type: /dev/sda1"), "{e}");
    let e = g.add_drive("/nonexistent/disk.img").unwrap_err();
    assert!(e.chain().contains("No such file"), "{}", e.chain());
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("facade-errors");
    let a = env.sparse_image("a.img", 8 << 20);
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    assert_eq!(g.launch().unwrap_err().kind(), ErrorKind::AlreadyLaunched);
    for dev in [
        "/dev/sdb",
        "/dev/sda1",
        "/dev/sdz9",
        "/dev/nope/lv",
        "/etc/passwd",
    ] {
        let e = g.blockdev_getsize64(dev).unwrap_err();
        assert!(e.to_string().contains(dev), "{e}");
    }
    assert_eq!(
        g.blockdev_getsize64("/dev/vda").unwrap(),
        8 << 20,
        "aliases resolve"
    );
    let e = g.cat("/etc/passwd").unwrap_err();
    assert!(
        e.to_string().contains("no filesystem is mounted on /"),
        "{e}"
    );
    drop(g);
    assert!(leaks(env.tag()).is_empty());
}

#[test]
fn raw_drives_attach_only_when_a_kernel_device_is_needed() {
    if !require_root("attaching images") || !vmcraft_block::testing::require_tool("sgdisk") {
        return;
    }
    let env = TestEnv::new("facade-lazy");
    let a = env.sparse_image("a.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    let attached = || {
        vmcraft_block::loopdev::list_loop_devices()
            .iter()
            .any(|(_, b)| b == &a)
    };
    // Partition work happens on the image file: no loop device yet.
    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 40_959).unwrap();
    g.part_set_name("/dev/sda", 1, "data").unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1"]);
    assert_eq!(g.part_get_name("/dev/sda", 1).unwrap(), "data");
    assert!(!attached(), "partition edits need no kernel device");
    // mkfs needs the partition's node: the drive is attached then, with its table.
    g.mkfs("ext4", "/dev/sda1", &MkfsOptions::default())
        .unwrap();
    assert!(attached());
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "ext4");
    g.part_add("/dev/sda", "p", 40_960, 81_919).unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1", "/dev/sda2"]);
    g.shutdown().unwrap();
    assert!(!attached());
    let out = std::process::Command::new("sgdisk")
        .arg("-v")
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No problems found"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(leaks(env.tag()).is_empty());
}

#[test]
fn deferred_table_writes_are_durable_at_shutdown() {
    if !vmcraft_block::testing::require_tool("sfdisk") {
        return;
    }
    // A raw image's table is edited in-process and never attached, which needs no
    // root.
    let env = TestEnv::new("facade-durable");
    let a = env.sparse_image("a.img", 32 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "msdos").unwrap();
    g.part_add("/dev/sda", "p", 2048, 8191).unwrap();
    g.part_set_mbr_id("/dev/sda", 1, 0x0c).unwrap();
    g.shutdown().unwrap();
    let out = std::process::Command::new("sfdisk")
        .arg("--json")
        .arg(&a)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"start\": 2048") && json.contains("\"type\": \"c\""),
        "{json}"
    );
}

#[test]
fn mount_all_parallel_refuses_duplicate_mount_points_before_mounting() {
    let g = VMCraft::new();
    let e = g
        .mount_all_parallel(
            &[
                ("/".to_string(), "/dev/sda1".to_string()),
                ("/boot/".to_string(), "/dev/sda2".to_string()),
                ("/boot".to_string(), "/dev/sda3".to_string()),
            ],
            Default::default(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.to_string().contains("/boot: mount point given twice"),
        "{e}"
    );
}
