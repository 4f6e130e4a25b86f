//! The disks family on real images: `zero`, `zero_device`, `zero_free_space`,
//! the three `copy_*` calls with libguestfs's optional arguments and a guest
//! that tries to escape through symlinks, `blkdiscard`, device indexes and
//! lists, `findfs_*` against blkid, mountables, availability, `remount`, and the
//! host image calls (`disk_create`, `disk_format`, `disk_virtual_size`,
//! `disk_has_backing_file`) against `qemu-img info`. Every write is refused on a
//! read-only drive with the image byte-identical, and every bad argument is
//! refused with nothing changed.

use std::path::Path;

use vmcraft::calls::disks::DiskCreateOpts;
use vmcraft::{Config, ErrorKind, MkfsOptions, VMCraft};
use vmcraft_block::CopyOptions;
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn session(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `cmp` of two files (the first `n` bytes when given): whether they are equal.
fn cmp(a: &Path, b: &Path, n: Option<u64>) -> bool {
    let mut c = std::process::Command::new("cmp");
    c.arg("-s");
    if let Some(n) = n {
        c.arg("-n").arg(n.to_string());
    }
    c.arg(a).arg(b).status().unwrap().success()
}

/// Bytes that are never zero and differ from block to block.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8 | 1 ^ seed)
        .map(|b| if b == 0 { 0x5a } else { b })
        .collect()
}

/// How many times `text` occurs in the image.
fn occurrences(img: &Path, text: &str) -> usize {
    let data = std::fs::read(img).unwrap();
    data.windows(text.len())
        .filter(|w| *w == text.as_bytes())
        .count()
}

/// Whether `which` finds a program.
fn which(p: &str) -> bool {
    std::process::Command::new("which")
        .arg(p)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn qemu_img_info(path: &Path) -> serde_json::Value {
    let out = std::process::Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn zero_and_zero_device_clear_what_they_say_and_refuse_read_only_drives() {
    if !require_root("loop devices") || !require_tool("cmp") {
        return;
    }
    let env = TestEnv::new("disks-zero");
    let img = env.path().join("data.img");
    let data = pattern(4 << 20, 0);
    std::fs::write(&img, &data).unwrap();
    let before = sha256(&img);

    // Read-only: both refused, the image unchanged.
    let g = session(&env);
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    for e in [
        g.zero("/dev/sda").unwrap_err(),
        g.zero_device("/dev/vda").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.to_string()
                .ends_with("/dev/sda: the drive was added read-only"),
            "{e}"
        );
    }
    assert_eq!(
        g.zero("/dev/sdb").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(
        g.zero("/dev/loop0").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);

    // zero: the first 128 KiB only.
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.zero("/dev/sda").unwrap();
    g.shutdown().unwrap();
    let expect = env.path().join("expect.img");
    let mut e = data.clone();
    e[..128 << 10].fill(0);
    std::fs::write(&expect, &e).unwrap();
    assert!(
        cmp(&img, &expect, None),
        "zero cleared other than the first 128 KiB"
    );

    // zero_device: all of it.
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.zero_device("/dev/hda").unwrap();
    g.shutdown().unwrap();
    assert!(cmp(&img, Path::new("/dev/zero"), Some(4 << 20)));

    // Already zero: nothing written, a sparse image stays sparse.
    let sparse = env.sparse_image("sparse.img", 64 << 20);
    let g = session(&env);
    g.add_drive(&sparse).unwrap();
    g.launch().unwrap();
    g.zero_device("/dev/sda").unwrap();
    g.zero("/dev/sda").unwrap();
    g.shutdown().unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&sparse).unwrap().blocks(),
        0,
        "zero_device allocated blocks"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn copies_between_files_and_devices_with_libguestfs_options() {
    if !require_root("mounting") || !require_tool("cmp") {
        return;
    }
    let env = TestEnv::new("disks-copy");
    let a = env.sparse_image("a.img", 64 << 20);
    let b = env.path().join("b.img");
    let bdata = pattern(1 << 20, 7);
    std::fs::write(&b, &bdata).unwrap();
    // A host file a guest symlink names, which must never be reached.
    let host_secret = env.path().join("secret");
    std::fs::write(&host_secret, b"host secret\n").unwrap();

    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();

    // device -> file: the whole device, then a window of it.
    g.copy_device_to_file("/dev/sdb", "/whole", &CopyOptions::default())
        .unwrap();
    let out = env.path().join("out");
    g.download("/whole", &out).unwrap();
    assert!(cmp(&out, &b, None));
    let o = CopyOptions {
        srcoffset: 4096,
        size: Some(8192),
        ..Default::default()
    };
    g.copy_device_to_file("/dev/vdb", "/whole", &o).unwrap();
    assert_eq!(
        g.read_file("/whole").unwrap(),
        &bdata[4096..4096 + 8192],
        "truncated, then written"
    );

    // file -> file: destoffset leaves a hole of zeroes; append adds at the end.
    g.write("/src", b"hello, world").unwrap();
    let o = CopyOptions {
        destoffset: 4,
        ..Default::default()
    };
    g.copy_file_to_file("/src", "/dst", &o).unwrap();
    assert_eq!(g.read_file("/dst").unwrap(), b"\0\0\0\0hello, world");
    let o = CopyOptions {
        append: true,
        ..Default::default()
    };
    g.copy_file_to_file("/src", "/dst", &o).unwrap();
    g.copy_file_to_file("/src", "/dst", &o).unwrap();
    assert_eq!(
        g.read_file("/dst").unwrap(),
        b"\0\0\0\0hello, worldhello, worldhello, world"
    );
    let o = CopyOptions {
        srcoffset: 7,
        size: Some(5),
        ..Default::default()
    };
    g.copy_file_to_file("/src", "/dst", &o).unwrap();
    assert_eq!(g.cat("/dst").unwrap(), "world");

    // file -> device at an offset, sparse: checked against the host image.
    g.write("/blk", &pattern(10000, 3)).unwrap();
    let o = CopyOptions {
        destoffset: 65536,
        sparse: true,
        ..Default::default()
    };
    g.copy_file_to_device("/blk", "/dev/sdb", &o).unwrap();
    let mut expect = bdata.clone();
    expect[65536..65536 + 10000].copy_from_slice(&pattern(10000, 3));
    let ef = env.path().join("expect");
    std::fs::write(&ef, &expect).unwrap();

    // Bad arguments: refused, nothing changed.
    g.write("/keep", b"keep me").unwrap();
    let refuse = |r: vmcraft::Result<vmcraft_block::CopyStats>, text: &str| {
        let e = r.unwrap_err();
        assert!(e.to_string().contains(text), "{e} (wanted {text})");
    };
    let neg = CopyOptions {
        srcoffset: -1,
        ..Default::default()
    };
    refuse(
        g.copy_file_to_file("/src", "/keep", &neg),
        "srcoffset is negative",
    );
    let neg = CopyOptions {
        size: Some(-5),
        ..Default::default()
    };
    refuse(
        g.copy_device_to_file("/dev/sdb", "/keep", &neg),
        "size is negative",
    );
    let app = CopyOptions {
        append: true,
        ..Default::default()
    };
    refuse(
        g.copy_file_to_device("/src", "/dev/sdb", &app),
        "the append flag cannot be set for this call",
    );
    let past = CopyOptions {
        srcoffset: 13,
        ..Default::default()
    };
    refuse(
        g.copy_file_to_file("/src", "/keep", &past),
        "past the end of the source",
    );
    let long = CopyOptions {
        size: Some(100),
        ..Default::default()
    };
    refuse(
        g.copy_file_to_file("/src", "/keep", &long),
        "input too short",
    );
    refuse(
        g.copy_file_to_file("/keep", "/keep", &CopyOptions::default()),
        "the same file",
    );
    refuse(
        g.copy_file_to_device("/src", "/dev/sda", &CopyOptions::default()),
        "the device is mounted",
    );
    g.mkdir("/dir").unwrap();
    assert!(
        g.copy_file_to_file("/dir", "/keep", &CopyOptions::default())
            .is_err()
    );
    assert_eq!(g.read_file("/keep").unwrap(), b"keep me");
    assert!(!g.exists("/nope").unwrap());

    // A guest symlink to a host path resolves inside the guest: reading finds
    // nothing, writing creates the file inside the guest (once its directory
    // exists there).
    let abs = host_secret.to_str().unwrap();
    g.ln_s(abs, "/esc").unwrap();
    g.ln_s(&format!("../../../../../../..{abs}"), "/esc2")
        .unwrap();
    assert!(
        g.copy_file_to_file("/esc", "/x", &CopyOptions::default())
            .is_err()
    );
    assert!(
        g.copy_file_to_file("/esc2", "/x", &CopyOptions::default())
            .is_err()
    );
    assert!(
        g.copy_file_to_file("/src", "/esc", &CopyOptions::default())
            .is_err(),
        "no such directory in the guest"
    );
    g.mkdir_p(env.path().to_str().unwrap()).unwrap();
    g.copy_file_to_file("/src", "/esc", &CopyOptions::default())
        .unwrap();
    g.copy_device_to_file(
        "/dev/sdb",
        "/esc2",
        &CopyOptions {
            size: Some(512),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(std::fs::read(&host_secret).unwrap(), b"host secret\n");
    assert_eq!(g.read_file(abs).unwrap(), &bdata[..512]);
    g.shutdown().unwrap();
    assert!(
        cmp(&b, &ef, None),
        "copy_file_to_device wrote other than asked"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn copies_refuse_read_only_drives() {
    if !require_root("loop devices") {
        return;
    }
    let env = TestEnv::new("disks-copy-ro");
    let a = env.path().join("a.img");
    std::fs::write(&a, pattern(1 << 20, 1)).unwrap();
    let b = env.path().join("b.img");
    std::fs::write(&b, pattern(1 << 20, 2)).unwrap();
    let (ha, hb) = (sha256(&a), sha256(&b));
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive_ro(&b).unwrap();
    g.launch().unwrap();
    let e = g
        .copy_device_to_device("/dev/sda", "/dev/sdb", &CopyOptions::default())
        .unwrap_err();
    assert!(
        e.to_string().ends_with("the drive was added read-only"),
        "{e}"
    );
    let e = g.blkdiscard("/dev/sdb").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("/dev/sdb: the drive was added read-only"),
        "{e}"
    );
    // Guest files need a mounted root.
    let e = g
        .copy_device_to_file("/dev/sda", "/f", &CopyOptions::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mount);
    g.shutdown().unwrap();
    assert_eq!((sha256(&a), sha256(&b)), (ha, hb));
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn blkdiscard_punches_the_image_and_zero_free_space_wipes_deleted_data() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("disks-discard");
    let img = env.path().join("d.img");
    std::fs::write(&img, pattern(8 << 20, 9)).unwrap();
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    // A loop device over a file on a filesystem that punches holes discards.
    g.blkdiscard("/dev/sda").unwrap();
    let _ = g.blkdiscardzeroes("/dev/sda").unwrap();
    g.shutdown().unwrap();
    assert!(
        cmp(&img, Path::new("/dev/zero"), Some(8 << 20)),
        "discarded blocks are not zero"
    );

    // zero_free_space: a deleted file's bytes are gone from the image.
    let img = env.sparse_image("fs.img", 64 << 20);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    let marker = "VMCRAFT-ZERO-FREE-SPACE-MARKER-";
    g.write("/del", marker.repeat(20000).as_bytes()).unwrap();
    g.write("/kept", b"kept\n").unwrap();
    // Unmounted, the data is on the disk (the test would prove nothing else).
    g.umount("/").unwrap();
    let before = occurrences(&img, marker);
    assert!(before >= 19000, "{before}");
    g.mount("/dev/sda", "/").unwrap();
    g.rm("/del").unwrap();
    assert!(g.zero_free_space("/nope").is_err());
    assert!(
        g.zero_free_space("/kept").is_err(),
        "a file is not a directory"
    );
    // ext4 keeps a few clusters back even from root (for delayed
    // allocation); which free blocks those are is the allocator's choice, so
    // the deleted file could sit in them. The test lets the filler have them.
    let host = g.host_path("/dev/sda").unwrap();
    let dev = std::fs::canonicalize(&host).unwrap();
    let sysfs = Path::new("/sys/fs/ext4")
        .join(dev.file_name().unwrap())
        .join("reserved_clusters");
    std::fs::write(&sysfs, "0").unwrap();
    g.zero_free_space("/").unwrap();
    assert_eq!(g.ls("/").unwrap(), ["kept", "lost+found"]);
    assert_eq!(g.cat("/kept").unwrap(), "kept\n");
    g.shutdown().unwrap();
    // One filesystem block may stay out of reach (held back by the
    // allocator), so what is left is counted: at most a trace.
    let left = occurrences(&img, marker);
    assert!(
        left * 100 <= before,
        "{left} of {before} copies of the deleted data are left"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn devices_findfs_mountables_and_availability() {
    if !require_root("loop devices") || !require_tool("blkid") {
        return;
    }
    let env = TestEnv::new("disks-devices");
    let a = env.sparse_image("a.img", 32 << 20);
    let b = env.sparse_image("b.img", 32 << 20);
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    assert_eq!(g.nr_devices().unwrap(), 2);
    g.launch().unwrap();
    assert_eq!(g.device_index("/dev/sda").unwrap(), 0);
    assert_eq!(g.device_index("/dev/vdb").unwrap(), 1);
    assert_eq!(
        g.device_index("/dev/sdc").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(
        g.device_index("/dev/sda1").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert!(g.list_disk_labels().unwrap().is_empty());
    assert!(g.list_md_devices().unwrap().is_empty());
    assert!(g.list_dm_devices().unwrap().is_empty());

    let opts = MkfsOptions {
        label: Some("BOOTFS".into()),
        ..Default::default()
    };
    g.mkfs("ext4", "/dev/sdb", &opts).unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    assert_eq!(g.findfs_label("BOOTFS").unwrap(), "/dev/sdb");
    let e = g.findfs_label("NOSUCH").unwrap_err();
    assert_eq!(
        e.to_string(),
        "findfs_label: LABEL=NOSUCH: no filesystem has it"
    );
    // The oracle: blkid on the host node.
    let host = g.host_path("/dev/sda").unwrap();
    let out = std::process::Command::new("blkid")
        .args(["-p", "-s", "UUID", "-o", "value"])
        .arg(&host)
        .output()
        .unwrap();
    let uuid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(uuid.len(), 36);
    assert_eq!(g.findfs_uuid(&uuid).unwrap(), "/dev/sda");

    assert_eq!(g.mountable_device("/dev/vda").unwrap(), "/dev/sda");
    assert_eq!(
        g.mountable_device("btrfsvol:/dev/sdb/root/sub").unwrap(),
        "/dev/sdb"
    );
    assert_eq!(
        g.mountable_subvolume("btrfsvol:/dev/sdb/root/sub").unwrap(),
        "root/sub"
    );
    let e = g.mountable_subvolume("/dev/sda").unwrap_err();
    assert_eq!(
        e.to_string(),
        "mountable_subvolume: /dev/sda: mountable is not a subvolume"
    );
    assert!(g.mountable_device("/etc/passwd").is_err());
    assert!(g.mountable_device("btrfsvol:/dev/sdz/x").is_err());

    // The kernel's list is the oracle for filesystem_available.
    let procfs = std::fs::read_to_string("/proc/filesystems").unwrap();
    let has = |t: &str| {
        procfs
            .lines()
            .any(|l| l.split_whitespace().last() == Some(t))
    };
    assert!(has("ext4"));
    assert!(g.filesystem_available("ext4").unwrap());
    assert!(!g.filesystem_available("nosuchfs").unwrap());
    assert_eq!(
        g.filesystem_available("../x").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    if !has("vfat") && require_tool("fusefat") {
        assert!(
            g.filesystem_available("vfat").unwrap(),
            "fusefat mounts vfat"
        );
    }

    let all = g.available_all_groups().unwrap();
    assert!(all.contains(&"lvm2".to_string()) && all.contains(&"xfs".to_string()));
    assert!(g.feature_available(&["xz"]).unwrap());
    assert_eq!(
        g.feature_available(&["lvm2"]).unwrap(),
        which("lvm"),
        "lvm2 is there exactly when lvm is"
    );
    assert!(g.feature_available(&["hivex"]).unwrap());
    assert!(!g.feature_available(&["journal"]).unwrap());
    assert!(g.feature_available(&["nosuchgroup"]).is_err());
    g.available(&["xz", "blkdiscard"]).unwrap();
    let e = g.available(&["xz", "journal"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().starts_with("available: journal: "), "{e}");
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn remount_switches_read_only_and_back() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("disks-remount");
    let img = env.sparse_image("a.img", 64 << 20);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.write("/a", b"1").unwrap();
    let e = g.remount("/", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "remount: /: parameter 'rw' must be specified"
    );
    assert!(g.remount("/nothing", Some(false)).is_err());
    g.remount("/", Some(false)).unwrap();
    assert!(g.write("/b", b"2").is_err(), "read-only after remount");
    assert!(g.zero_free_space("/").is_err(), "read-only filesystem");
    g.remount("/", Some(true)).unwrap();
    g.write("/b", b"2").unwrap();
    assert_eq!(g.cat("/b").unwrap(), "2");
    g.shutdown().unwrap();

    // A FUSE mount (vfat through fusefat here) cannot be remounted.
    if require_tool("mkfs.vfat") && require_tool("fusefat") {
        let v = env.sparse_image("v.img", 32 << 20);
        let g = session(&env);
        g.add_drive(&v).unwrap();
        g.launch().unwrap();
        g.mkfs("vfat", "/dev/sda", &MkfsOptions::default()).unwrap();
        g.mount("/dev/sda", "/").unwrap();
        if g.mount_entries()[0].fuse_driver.is_some() {
            let e = g.remount("/", Some(false)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported);
            assert!(e.to_string().contains("cannot be remounted"), "{e}");
        }
        g.shutdown().unwrap();
    }

    // A read-only drive stays read-only.
    let g = session(&env);
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda", "/").unwrap();
    let e = g.remount("/", Some(true)).unwrap_err();
    assert!(
        e.to_string().ends_with("the drive was added read-only"),
        "{e}"
    );
    assert!(g.write("/c", b"3").is_err());
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn host_images_created_and_inspected_as_qemu_img_sees_them() {
    if !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("disks-images");
    let g = VMCraft::new();
    let raw = env.path().join("r.img");
    let raw_s = raw.to_str().unwrap();
    g.disk_create(raw_s, "raw", 10 << 20, &DiskCreateOpts::default())
        .unwrap();
    assert_eq!(qemu_img_info(&raw)["virtual-size"], 10 << 20);
    assert_eq!(g.disk_format(raw_s).unwrap(), "raw");
    assert_eq!(g.disk_virtual_size(raw_s).unwrap(), 10 << 20);
    assert!(!g.disk_has_backing_file(raw_s).unwrap());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&raw).unwrap().blocks(),
        0,
        "sparse by default"
    );
    let full = env.path().join("full.img");
    let opts = DiskCreateOpts {
        preallocation: Some("full".into()),
        ..Default::default()
    };
    g.disk_create(full.to_str().unwrap(), "raw", 1 << 20, &opts)
        .unwrap();
    assert!(std::fs::metadata(&full).unwrap().blocks() * 512 >= 1 << 20);

    let q = env.path().join("q.qcow2");
    let q_s = q.to_str().unwrap();
    let opts = DiskCreateOpts {
        compat: Some("1.1".into()),
        clustersize: Some(4096),
        preallocation: Some("metadata".into()),
        ..Default::default()
    };
    g.disk_create(q_s, "qcow2", 32 << 20, &opts).unwrap();
    let info = qemu_img_info(&q);
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["cluster-size"], 4096);
    assert_eq!(info["format-specific"]["data"]["compat"], "1.1");
    assert_eq!(g.disk_format(q_s).unwrap(), "qcow2");
    assert_eq!(g.disk_virtual_size(q_s).unwrap(), 32 << 20);
    assert!(!g.disk_has_backing_file(q_s).unwrap());

    // An overlay: the backing format must be given; size -1 takes the backing
    // file's.
    let ov = env.path().join("ov.qcow2");
    let ov_s = ov.to_str().unwrap();
    let no_fmt = DiskCreateOpts {
        backingfile: Some(q_s.into()),
        ..Default::default()
    };
    let e = g.disk_create(ov_s, "qcow2", -1, &no_fmt).unwrap_err();
    assert!(e.to_string().contains("backingformat must be given"), "{e}");
    assert!(!ov.exists());
    let opts = DiskCreateOpts {
        backingfile: Some(q_s.into()),
        backingformat: Some("qcow2".into()),
        ..Default::default()
    };
    g.disk_create(ov_s, "qcow2", -1, &opts).unwrap();
    let info = qemu_img_info(&ov);
    assert_eq!(info["backing-filename"], q_s);
    assert!(g.disk_has_backing_file(ov_s).unwrap());
    assert_eq!(g.disk_virtual_size(ov_s).unwrap(), 32 << 20);

    // Bad arguments: nothing created.
    let bad = env.path().join("bad.img");
    let bad_s = bad.to_str().unwrap();
    let cases: Vec<(&str, i64, DiskCreateOpts, &str)> = vec![
        (
            "vmdk",
            1 << 20,
            DiskCreateOpts::default(),
            "unsupported format 'vmdk'",
        ),
        ("raw", -1, DiskCreateOpts::default(), "invalid size -1"),
        ("qcow2", -1, DiskCreateOpts::default(), "invalid size -1"),
        (
            "raw",
            1 << 20,
            opts.clone(),
            "backingfile cannot be used for raw format disks",
        ),
        (
            "raw",
            1 << 20,
            DiskCreateOpts {
                preallocation: Some("metadata".into()),
                ..Default::default()
            },
            "preallocation",
        ),
        (
            "qcow2",
            1 << 20,
            DiskCreateOpts {
                compat: Some("2".into()),
                ..Default::default()
            },
            "compat",
        ),
        (
            "qcow2",
            1 << 20,
            DiskCreateOpts {
                clustersize: Some(1000),
                ..Default::default()
            },
            "clustersize",
        ),
        (
            "qcow2",
            1 << 20,
            DiskCreateOpts {
                clustersize: Some(4 << 20),
                ..Default::default()
            },
            "clustersize",
        ),
        (
            "qcow2",
            1 << 20,
            DiskCreateOpts {
                backingfile: Some("json:{\"file.filename\":\"/etc/shadow\"}".into()),
                backingformat: Some("raw".into()),
                ..Default::default()
            },
            "plain file name",
        ),
        (
            "qcow2",
            1 << 20,
            DiskCreateOpts {
                backingfile: Some("nbd:localhost:10809".into()),
                backingformat: Some("raw".into()),
                ..Default::default()
            },
            "plain file name",
        ),
    ];
    for (fmt, size, o, text) in cases {
        let e = g.disk_create(bad_s, fmt, size, &o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(text), "{e} (wanted {text})");
        assert!(!bad.exists());
    }
    assert!(
        g.disk_format(env.path().join("missing").to_str().unwrap())
            .is_err()
    );
    assert!(
        g.disk_format(env.path().to_str().unwrap()).is_err(),
        "a directory"
    );
}

#[test]
fn mount_loop_mounts_a_guest_file_and_never_a_host_one() {
    if !require_root("mounting") || !require_tool("mkfs.ext4") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("disks-mountloop");
    let inner = env.path().join("inner.img");
    std::fs::File::create(&inner)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let st = std::process::Command::new("mkfs.ext4")
        .args(["-F", "-q"])
        .arg(&inner)
        .status()
        .unwrap();
    assert!(st.success());
    let img = env.sparse_image("a.img", 64 << 20);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.upload(&inner, "/disk.img").unwrap();
    g.mkdir("/mnt").unwrap();
    g.mkdir("/dir").unwrap();
    // Refusals: a directory, a missing file, a symlink to the host's image
    // (resolved inside the guest: not there), a missing mount point.
    assert!(g.mount_loop("/dir", "/mnt").is_err());
    assert!(g.mount_loop("/nope", "/mnt").is_err());
    g.ln_s(inner.to_str().unwrap(), "/esc").unwrap();
    assert!(g.mount_loop("/esc", "/mnt").is_err());
    assert!(g.mount_loop("/disk.img", "/nomnt").is_err());
    g.write("/empty", b"").unwrap();
    assert!(g.mount_loop("/empty", "/mnt").is_err());

    g.mount_loop("/disk.img", "/mnt").unwrap();
    let mps = g.mountpoints();
    let (dev, _) = mps.iter().find(|(_, m)| m == "/mnt").unwrap();
    assert!(dev.starts_with("/dev/loop"), "{mps:?}");
    g.write("/mnt/inside", b"in the loop\n").unwrap();
    assert_eq!(g.ls("/mnt").unwrap(), ["inside", "lost+found"]);
    assert!(
        g.mount_loop("/disk.img", "/mnt").is_err(),
        "already mounted there"
    );
    g.umount("/mnt").unwrap();
    assert_eq!(g.ls("/mnt").unwrap(), Vec::<String>::new());
    let back = env.path().join("back.img");
    g.download("/disk.img", &back).unwrap();
    g.shutdown().unwrap();
    let before = sha256(&img);

    // On a read-only drive the loop device and its mount are read-only.
    let g = session(&env);
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda", "/").unwrap();
    g.mount_loop("/disk.img", "/mnt").unwrap();
    assert_eq!(g.cat("/mnt/inside").unwrap(), "in the loop\n");
    assert!(g.write("/mnt/more", b"x").is_err());
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);
    // debugfs reads the file's filesystem: the write went into it.
    let out = std::process::Command::new("debugfs")
        .args(["-R", "cat /inside"])
        .arg(&back)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in the loop\n");
    // The host's image was never touched.
    let out = std::process::Command::new("debugfs")
        .args(["-R", "ls -l /"])
        .arg(&inner)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("inside"));
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn dm_and_md_devices_on_the_session_disks_are_listed_from_sysfs() {
    if !require_root("loop devices") {
        return;
    }
    // This host has neither device-mapper nor md: the kernel's view is laid
    // out in a sysfs tree of the test's own, over the session's real loop
    // device (holders are left out, so shutdown has nothing to stop).
    let env = TestEnv::new("disks-stacked");
    let sys = env.path().join("sys");
    let img = env.sparse_image("a.img", 16 << 20);
    let g = VMCraft::with_config(
        Config::builder()
            .tmpdir(env.path())
            .sysfs_root(&sys)
            .build(),
    );
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let host = std::fs::canonicalize(g.host_path("/dev/sda").unwrap()).unwrap();
    let ours = host.file_name().unwrap().to_str().unwrap().to_string();
    let block = sys.join("class/block");
    let dev = |name: &str, slaves: &[&str], dm: Option<(&str, &str)>| {
        let d = block.join(name);
        std::fs::create_dir_all(d.join("slaves")).unwrap();
        for s in slaves {
            std::fs::write(d.join("slaves").join(s), "").unwrap();
        }
        if let Some((n, u)) = dm {
            std::fs::create_dir_all(d.join("dm")).unwrap();
            std::fs::write(d.join("dm/name"), format!("{n}\n")).unwrap();
            std::fs::write(d.join("dm/uuid"), format!("{u}\n")).unwrap();
        }
    };
    dev(&ours, &[], None);
    dev(
        "dm-0",
        &[&ours],
        Some(("luks-guest", "CRYPT-LUKS2-abc-luks-guest")),
    );
    dev("dm-1", &[&ours], Some(("vg-lv", "LVM-aaaaaaaabbbbbbbb")));
    dev(
        "dm-2",
        &[&ours, "sdz"],
        Some(("hosts", "CRYPT-LUKS2-def-hosts")),
    );
    dev("dm-3", &["sdz"], Some(("other", "CRYPT-PLAIN-other")));
    dev("md127", &[&ours], None);
    dev("md5", &["sdz", &ours], None);
    assert_eq!(g.list_dm_devices().unwrap(), ["/dev/mapper/luks-guest"]);
    assert_eq!(g.list_md_devices().unwrap(), ["/dev/md127"]);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_pv_under_a_mounted_lv_is_not_zeroed() {
    if !require_root("mounting") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("disks-pvbusy");
    let img = env.sparse_image("a.img", 64 << 20);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sda"]).unwrap();
    g.vgcreate("vgz", &["/dev/sda"]).unwrap();
    g.lvcreate("lv", "vgz", 16).unwrap();
    g.mkfs("ext4", "/dev/vgz/lv", &MkfsOptions::default())
        .unwrap();
    g.mount("/dev/vgz/lv", "/").unwrap();
    g.write("/f", b"x").unwrap();
    let head = |p: &Path| std::fs::read(p).unwrap()[..128 << 10].to_vec();
    let before = head(&img);
    let mut errors = vec![
        g.zero("/dev/sda").unwrap_err(),
        g.zero_device("/dev/sda").unwrap_err(),
        g.blkdiscard("/dev/sda").unwrap_err(),
    ];
    errors.push(
        g.copy_file_to_device("/f", "/dev/sda", &CopyOptions::default())
            .unwrap_err(),
    );
    for e in errors {
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(
            e.to_string()
                .ends_with("/dev/sda is a physical volume of a mounted logical volume"),
            "{e}"
        );
    }
    assert_eq!(head(&img), before, "the PV label and metadata were touched");
    g.umount("/").unwrap();
    g.zero("/dev/sda").unwrap();
    g.shutdown().unwrap();
    assert!(head(&img).iter().all(|b| *b == 0));
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
