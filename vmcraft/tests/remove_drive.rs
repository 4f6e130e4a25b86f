//! Disk labels and `remove_drive` on real images, with libguestfs's semantics:
//! labels are 1 to 20 ASCII letters and unique; `list_disk_labels` maps them to
//! drives and partitions; before launch a removed drive is never attached and the
//! later drives move up; after launch it is detached and leaves a hole (the other
//! drives keep their names and keep working), refused while anything on it is in
//! use (a mount, a mount-loop of a file on it, a mounted LV whose PV is on it)
//! with nothing changed; its caches, loop device and state-file records go.

use std::path::{Path, PathBuf};

use vmcraft::state::{SessionState, session_dir_pid};
use vmcraft::{Config, DriveOpts, ErrorKind, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn session(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

fn labelled(label: &str) -> DriveOpts {
    DriveOpts {
        label: Some(label.into()),
        ..Default::default()
    }
}

/// The state file of this process's (only) session under the test directory.
fn state_file(env: &TestEnv) -> SessionState {
    let dir = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(session_dir_pid)
                == Some(std::process::id())
        })
        .expect("a session directory");
    SessionState::read(&dir).unwrap()
}

/// The drives the state file says are attached.
fn recorded_drives(env: &TestEnv) -> Vec<String> {
    state_file(env)
        .images
        .into_iter()
        .map(|i| i.drive)
        .collect()
}

/// The loop devices bound to `image` (the kernel's list is the oracle).
fn loops_on(image: &Path) -> Vec<PathBuf> {
    let image = std::fs::canonicalize(image).unwrap();
    vmcraft_block::loopdev::list_loop_devices()
        .into_iter()
        .filter(|(_, backing)| backing == &image)
        .map(|(dev, _)| dev)
        .collect()
}

#[test]
fn labels_are_checked_and_removal_before_launch_moves_later_drives_up() {
    let env = TestEnv::new("rmdrive-before");
    let a = env.sparse_image("a.img", 8 << 20);
    let b = env.sparse_image("b.img", 16 << 20);
    let c = env.sparse_image("c.img", 24 << 20);
    let g = session(&env);
    assert_eq!(g.add_drive_opts(&a, labelled("a")).unwrap(), "/dev/sda");

    // Bad labels, as libguestfs's check: empty, over 20, anything but ASCII
    // letters. Nothing is added.
    for bad in [
        "",
        "abcdefghijklmnopqrstu",
        "disk2",
        "a/b",
        "a b",
        "a-b",
        "caf\u{e9}",
        "..",
    ] {
        let e = g.add_drive_opts(&b, labelled(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}: {e}");
        assert!(
            e.to_string()
                .ends_with("label must be 1 to 20 ASCII letters (a-z, A-Z), nothing else"),
            "{e}"
        );
    }
    // Twenty letters is the most.
    let twenty = "abcdefghijklmnopqrst";
    assert_eq!(g.add_drive_opts(&b, labelled(twenty)).unwrap(), "/dev/sdb");
    // A label is unique.
    let e = g.add_drive_opts(&c, labelled(twenty)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        format!(
            "add_drive: {twenty}: this label was given to /dev/sdb already (labels must be unique)"
        )
    );
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    assert_eq!(g.add_drive_opts(&c, labelled("c")).unwrap(), "/dev/sdc");
    let d = env.sparse_image("d.img", 32 << 20);
    assert_eq!(g.add_drive_opts(&d, labelled("d")).unwrap(), "/dev/sdd");
    // Without a label a drive cannot be removed (nothing names it).
    let unlabelled = env.sparse_image("e.img", 4 << 20);
    assert_eq!(g.add_drive(&unlabelled).unwrap(), "/dev/sde");

    // Unknown labels: an error, nothing changed.
    for unknown in ["nosuch", "", "/dev/sdd", "A"] {
        let e = g.remove_drive(unknown).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoSuchDevice, "{unknown:?}");
        assert!(e.to_string().ends_with("no drive has this label"), "{e}");
    }
    assert_eq!(g.nr_devices().unwrap(), 5);
    let e = g.list_disk_labels().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotLaunched);

    // Before launch: the drive goes and the later ones move up.
    g.remove_drive(twenty).unwrap();
    assert_eq!(
        g.list_devices().unwrap(),
        ["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"]
    );
    assert_eq!(g.nr_devices().unwrap(), 4);
    assert_eq!(
        g.remove_drive(twenty).unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    // Its label is free again.
    assert_eq!(g.add_drive_opts(&b, labelled(twenty)).unwrap(), "/dev/sde");
    g.remove_drive(twenty).unwrap();
    assert_eq!(g.nr_devices().unwrap(), 4);

    if !require_root("loop devices") || !require_tool("sfdisk") {
        return;
    }
    g.launch().unwrap();
    // The sizes say which image is behind which name: b was never attached.
    assert_eq!(g.blockdev_getsize64("/dev/sda").unwrap(), 8 << 20);
    assert_eq!(g.blockdev_getsize64("/dev/sdb").unwrap(), 24 << 20);
    assert!(loops_on(&b).is_empty());
    let labels = g.list_disk_labels().unwrap();
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        [
            ("a".to_string(), "/dev/sda".to_string()),
            ("c".to_string(), "/dev/sdb".to_string()),
            ("d".to_string(), "/dev/sdc".to_string()),
        ]
    );
    // Attached drives are recorded; /dev/sdc and /dev/sdd are raw images still
    // only open as files (nothing needed a kernel device for them yet).
    assert_eq!(recorded_drives(&env), ["/dev/sda", "/dev/sdb"]);

    // Such a drive is removed too, its writes on the image first: sfdisk
    // reads the table written through it.
    g.part_disk("/dev/sdc", "mbr").unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sdc1"]);
    assert!(
        loops_on(&d).is_empty(),
        "partition edits need no kernel device"
    );
    g.remove_drive("d").unwrap();
    assert!(loops_on(&d).is_empty());
    assert_eq!(
        g.list_devices().unwrap(),
        ["/dev/sda", "/dev/sdb", "/dev/sdd"]
    );
    assert!(g.list_partitions().unwrap().is_empty());
    assert_eq!(g.blockdev_getsize64("/dev/sdd").unwrap(), 4 << 20);
    let out = std::process::Command::new("sfdisk")
        .args(["--json"])
        .arg(&d)
        .output()
        .unwrap();
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(table["partitiontable"]["label"], "dos", "{table}");
    assert_eq!(
        table["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(recorded_drives(&env), ["/dev/sda", "/dev/sdb", "/dev/sdd"]);
    g.shutdown().unwrap();
    // After shutdown: refused, as every call.
    assert_eq!(g.remove_drive("a").unwrap_err().kind(), ErrorKind::ShutDown);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// Three drives, each with one ext4 partition holding `/id` (its own name).
fn three_drives(env: &TestEnv) -> (VMCraft, [PathBuf; 3]) {
    let a = env.sparse_image("a.img", 32 << 20);
    let b = env.sparse_image("b.img", 40 << 20);
    let c = env.sparse_image("c.img", 48 << 20);
    let g = session(env);
    g.add_drive(&a).unwrap();
    g.add_drive_opts(&b, labelled("b")).unwrap();
    g.add_drive_opts(&c, labelled("c")).unwrap();
    g.launch().unwrap();
    for (dev, id) in [("/dev/sda", "a"), ("/dev/sdb", "b"), ("/dev/sdc", "c")] {
        g.part_disk(dev, "mbr").unwrap();
        let part = format!("{dev}1");
        g.mkfs("ext4", &part, &MkfsOptions::default()).unwrap();
        g.mount(&part, "/").unwrap();
        g.write("/id", id.as_bytes()).unwrap();
        g.umount("/").unwrap();
    }
    (g, [a, b, c])
}

#[test]
fn after_launch_the_middle_drive_goes_and_the_others_keep_their_names() {
    if !require_root("loop devices") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("rmdrive-after");
    let (g, [_, b, c]) = three_drives(&env);
    assert_eq!(
        g.list_disk_labels()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [
            ("b".to_string(), "/dev/sdb".to_string()),
            ("b1".to_string(), "/dev/sdb1".to_string()),
            ("c".to_string(), "/dev/sdc".to_string()),
            ("c1".to_string(), "/dev/sdc1".to_string()),
        ]
    );
    // Probed, so cached: the removal must take the cached answers away.
    assert_eq!(g.vfs_type("/dev/sdb1").unwrap(), "ext4");
    let b_loops = loops_on(&b);
    assert_eq!(b_loops.len(), 1, "{b_loops:?}");
    assert_eq!(recorded_drives(&env), ["/dev/sda", "/dev/sdb", "/dev/sdc"]);

    g.remove_drive("b").unwrap();

    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdc"]);
    assert_eq!(g.nr_devices().unwrap(), 2);
    assert_eq!(g.device_index("/dev/sdc").unwrap(), 2);
    assert_eq!(g.device_index("/dev/vdc").unwrap(), 2);
    assert_eq!(
        g.device_index("/dev/sdb").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(g.device_name(2).unwrap(), "/dev/sdc");
    assert_eq!(
        g.device_name(1).unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1", "/dev/sdc1"]);
    assert_eq!(
        g.list_filesystems().unwrap(),
        [
            ("/dev/sda1".to_string(), "ext4".to_string()),
            ("/dev/sdc1".to_string(), "ext4".to_string()),
        ]
    );
    assert_eq!(
        g.list_disk_labels()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [
            ("c".to_string(), "/dev/sdc".to_string()),
            ("c1".to_string(), "/dev/sdc1".to_string()),
        ]
    );
    // The removed drive and its partitions are no devices, under any spelling,
    // and nothing cached about them is served.
    for dev in ["/dev/sdb", "/dev/sdb1", "/dev/vdb1"] {
        assert_eq!(
            g.vfs_type(dev).unwrap_err().kind(),
            ErrorKind::NoSuchDevice,
            "{dev}"
        );
        assert_eq!(
            g.blkid(dev).unwrap_err().kind(),
            ErrorKind::NoSuchDevice,
            "{dev}"
        );
    }
    assert_eq!(
        g.mount("/dev/sdb1", "/").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(
        g.part_list("/dev/sdb").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    // The others work as before.
    g.mount("/dev/sdc1", "/").unwrap();
    assert_eq!(g.cat("/id").unwrap(), "c");
    g.umount("/").unwrap();
    g.mount("/dev/vda1", "/").unwrap();
    assert_eq!(g.cat("/id").unwrap(), "a");
    g.umount("/").unwrap();
    assert_eq!(g.blockdev_getsize64("/dev/sdc").unwrap(), 48 << 20);

    // Detached: the kernel no longer has b's loop device, and the state file
    // no longer names the drive, so a cleanup after a crash leaves it alone.
    assert!(loops_on(&b).is_empty(), "{:?}", loops_on(&b));
    assert_eq!(recorded_drives(&env), ["/dev/sda", "/dev/sdc"]);
    let st = state_file(&env);
    for l in &st.loops {
        assert!(!b_loops.contains(&l.device), "{l:?} still recorded");
        assert!(!l.purpose.contains("/dev/sdb"), "{l:?}");
    }

    // Removed twice: unknown now.
    let e = g.remove_drive("b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchDevice);
    assert_eq!(e.to_string(), "remove_drive: b: no drive has this label");

    // A drive added now fills the hole (as libguestfs's hot-add did), with
    // nothing of the old /dev/sdb about it.
    let d = env.sparse_image("d.img", 56 << 20);
    assert_eq!(g.add_drive_opts(&d, labelled("d")).unwrap(), "/dev/sdb");
    assert_eq!(
        g.list_devices().unwrap(),
        ["/dev/sda", "/dev/sdb", "/dev/sdc"]
    );
    assert_eq!(g.blockdev_getsize64("/dev/sdb").unwrap(), 56 << 20);
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1", "/dev/sdc1"]);
    assert_eq!(g.vfs_type("/dev/sdb").unwrap(), "");
    assert_eq!(g.list_disk_labels().unwrap()["d"], "/dev/sdb");

    // The last drive: the next name after the last drive is free again.
    g.remove_drive("c").unwrap();
    assert!(loops_on(&c).is_empty());
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    let e2 = env.sparse_image("e.img", 8 << 20);
    assert_eq!(g.add_drive(&e2).unwrap(), "/dev/sdc");
    assert_eq!(g.blockdev_getsize64("/dev/sdc").unwrap(), 8 << 20);

    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_drive_in_use_is_refused_with_nothing_changed() {
    if !require_root("loop devices") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("rmdrive-busy");
    let (g, [_, b, _]) = three_drives(&env);
    // A filesystem image inside b's filesystem, for mount_loop.
    let fs_img = env.path().join("fs.img");
    std::fs::File::create(&fs_img)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let out = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&fs_img)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    g.mount("/dev/sda1", "/").unwrap();
    g.mkdir("/b").unwrap();
    g.mkdir("/loop").unwrap();
    g.mount("/dev/sdb1", "/b").unwrap();
    g.upload(&fs_img, "/b/fs.img").unwrap();
    g.mount_loop("/b/fs.img", "/loop").unwrap();

    let b_loops = loops_on(&b);
    let check_unchanged = |g: &VMCraft| {
        assert_eq!(
            g.list_devices().unwrap(),
            ["/dev/sda", "/dev/sdb", "/dev/sdc"]
        );
        assert_eq!(g.list_disk_labels().unwrap()["b1"], "/dev/sdb1");
        assert_eq!(loops_on(&b), b_loops);
        assert_eq!(recorded_drives(&env), ["/dev/sda", "/dev/sdb", "/dev/sdc"]);
    };

    let e = g.remove_drive("b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(
        e.to_string(),
        "remove_drive: b: /dev/sdb is in use: the file mounted on /loop with mount_loop is on /dev/sdb1"
    );
    check_unchanged(&g);
    assert_eq!(g.cat("/b/id").unwrap(), "b");

    g.umount("/loop").unwrap();
    let e = g.remove_drive("b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(
        e.to_string(),
        "remove_drive: b: /dev/sdb is in use: /dev/sdb1 is mounted on /b"
    );
    check_unchanged(&g);
    assert_eq!(g.cat("/b/id").unwrap(), "b");

    // Another drive's mounts are no reason: c goes while a and b are mounted.
    g.remove_drive("c").unwrap();
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    assert_eq!(g.cat("/b/id").unwrap(), "b");
    assert_eq!(g.cat("/id").unwrap(), "a");

    g.umount("/b").unwrap();
    g.remove_drive("b").unwrap();
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda"]);
    assert!(loops_on(&b).is_empty());
    assert_eq!(g.cat("/id").unwrap(), "a");
    assert_eq!(recorded_drives(&env), ["/dev/sda"]);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_drive_holding_a_mounted_lv_is_busy() {
    if !require_root("loop devices") || !require_tool("lvm") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("rmdrive-lv");
    let a = env.sparse_image("a.img", 32 << 20);
    let b = env.sparse_image("b.img", 64 << 20);
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive_opts(&b, labelled("pv")).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.pvcreate(&["/dev/sdb"]).unwrap();
    g.vgcreate("rmvg", &["/dev/sdb"]).unwrap();
    g.lvcreate("data", "rmvg", 16).unwrap();
    g.mkfs("ext4", "/dev/rmvg/data", &MkfsOptions::default())
        .unwrap();
    g.mount("/dev/rmvg/data", "/").unwrap();
    g.write("/on-lv", b"lv\n").unwrap();

    let e = g.remove_drive("pv").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(
        e.to_string(),
        "remove_drive: pv: /dev/sdb is in use: /dev/rmvg/data is mounted on / and its physical volume is /dev/sdb"
    );
    assert_eq!(g.lvs().unwrap(), ["/dev/rmvg/data"]);
    assert_eq!(g.cat("/on-lv").unwrap(), "lv\n");
    assert_eq!(recorded_drives(&env), ["/dev/sda", "/dev/sdb"]);

    g.umount("/").unwrap();
    g.remove_drive("pv").unwrap();
    assert!(loops_on(&b).is_empty());
    // LVM no longer sees the PV, and no LV window or probe of the LV is left.
    assert!(g.lvs().unwrap().is_empty());
    assert!(g.vfs_type("/dev/rmvg/data").is_err());
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda"]);
    assert_eq!(
        g.list_filesystems().unwrap(),
        [("/dev/sda".to_string(), "ext4".to_string())]
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_removed_drive_leaves_the_lvm_filter_and_scratch_drives_take_labels() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("rmdrive-filter");
    let a = env.sparse_image("a.img", 32 << 20);
    let b = env.sparse_image("b.img", 32 << 20);
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive_opts(&b, labelled("pv")).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sdb"]).unwrap();
    g.lvm_set_filter(&["/dev/sdb"]).unwrap();
    assert_eq!(g.pvs().unwrap(), ["/dev/sdb"]);
    // A copy of the PV, to come back later under the same name.
    let copy = env.path().join("copy.img");
    std::fs::copy(&b, &copy).unwrap();
    g.remove_drive("pv").unwrap();
    // The new drive fills the hole as /dev/sdb; the filter named the removed
    // one, so LVM does not see the new one unasked.
    g.add_drive_opts(&copy, labelled("again")).unwrap();
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    assert!(g.pvs().unwrap().is_empty(), "{:?}", g.pvs());
    g.lvm_clear_filter().unwrap();
    assert_eq!(g.pvs().unwrap(), ["/dev/sdb"]);

    // libguestfs's names of labelled drives, /dev/disk/guestfs/LABEL[N], name
    // the drive (and its partitions) in every call, the table's included.
    assert_eq!(
        g.canonical_device_name("/dev/disk/guestfs/again").unwrap(),
        "/dev/sdb"
    );
    assert_eq!(
        g.canonical_device_name("/dev/disk/guestfs/again3").unwrap(),
        "/dev/sdb3"
    );
    assert_eq!(
        g.blockdev_getsize64("/dev/disk/guestfs/again").unwrap(),
        32 << 20
    );
    let v = vmcraft::calls::table::lookup("blockdev-getsize64")
        .unwrap()
        .invoke(
            &g,
            vmcraft::calls::table::Args::new(
                vec![vmcraft::calls::table::ArgValue::Str(
                    "/dev/disk/guestfs/again".into(),
                )],
                vec![],
            ),
        )
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&v.guestfish()), "33554432\n");
    for bad in [
        "/dev/disk/guestfs/pv",
        "/dev/disk/guestfs/again0",
        "/dev/disk/guestfs/",
    ] {
        let e = g.blockdev_getsize64(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoSuchDevice, "{bad}: {e}");
        assert!(g.canonical_device_name(bad).is_err(), "{bad}");
    }

    // add-drive-scratch takes a label as add-drive does.
    let name = g.add_drive_scratch(16 << 20, Some("scratch")).unwrap();
    assert_eq!(name, "/dev/sdc");
    assert_eq!(g.list_disk_labels().unwrap()["scratch"], "/dev/sdc");
    let e = g
        .add_drive_scratch(16 << 20, Some("bad label"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(
        g.list_devices().unwrap(),
        ["/dev/sda", "/dev/sdb", "/dev/sdc"]
    );
    g.remove_drive("scratch").unwrap();
    assert_eq!(g.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
