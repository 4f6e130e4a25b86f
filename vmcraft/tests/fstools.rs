//! The filesystem-tools calls on real images, checked against the tools
//! themselves as oracles (`blkid -p`, `dumpe2fs -h`, `tune2fs -l`, `e2fsck
//! -fn`): labels and UUIDs per filesystem type (ext4, xfs, btrfs, vfat, ntfs,
//! swap) visible at once through `vfs_label`/`vfs_uuid`/`blkid` (no stale
//! probe cache), `tune2fs`/`tune2fs_l`, `mke2fs` with options and an external
//! journal, `fsck` statuses, `resize2fs_size`/`resize2fs_M`/`vfs_minimum_size`,
//! swap (`mkswap_L`, `mkswap_U`, a confined `mkswap_file`, refused
//! `swapon_*`), `wipefs`, `zerofree`, `fstrim`, `ntfsresize`, `ntfsfix`; and
//! the refusals: bad arguments, mounted devices and read-only drives leave the
//! image byte-identical.

use std::path::{Path, PathBuf};

use vmcraft::calls::fstools::{FstrimOptions, Mke2fsOptions, NtfsresizeOptions, Tune2fsOptions};
use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn sh(argv: &[&str]) -> String {
    let out = SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap();
    out.stdout_str()
}

fn sha256(path: &Path) -> String {
    sh(&["sha256sum", path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `blkid -p -s TAG -o value IMAGE`, the oracle for labels and UUIDs.
fn blkid_tag(img: &Path, tag: &str) -> String {
    let out = SystemRunner::new()
        .execute(
            &Command::new("blkid")
                .args(["-p", "-s", tag, "-o", "value"])
                .arg(img),
        )
        .unwrap();
    out.stdout_str().trim().to_string()
}

/// A whole-disk image of `size` bytes made by `mkfs` (argv, image appended).
fn image(env: &TestEnv, name: &str, size: u64, mkfs: &[&str]) -> PathBuf {
    let img = env.sparse_image(name, size);
    let mut argv = mkfs.to_vec();
    argv.push(img.to_str().unwrap());
    sh(&argv);
    img
}

fn session(env: &TestEnv, imgs: &[&Path], ro: bool) -> VMCraft {
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    for i in imgs {
        if ro {
            g.add_drive_ro(i).unwrap();
        } else {
            g.add_drive(i).unwrap();
        }
    }
    g.launch().unwrap();
    g
}

fn finish(env: &TestEnv) {
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn ext4_labels_uuids_and_tune2fs_with_oracles() {
    if !require_root("attaching images") || !require_tool("mkfs.ext4") || !require_tool("dumpe2fs")
    {
        return;
    }
    let env = TestEnv::new("fstools-ext4");
    let img = image(
        &env,
        "ext4.img",
        64 << 20,
        &["mkfs.ext4", "-F", "-q", "-L", "old"],
    );
    let g = session(&env, &[&img], false);
    // Fill the probe cache first: every write must drop it.
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "old");
    g.set_label("/dev/vda", "newlabel").unwrap();
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "newlabel");
    assert_eq!(g.blkid("/dev/sda").unwrap()["LABEL"], "newlabel");
    assert_eq!(g.get_e2label("/dev/sda").unwrap(), "newlabel");
    g.set_e2label("/dev/sda", "e2").unwrap();
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "e2");
    let uuid = "01234567-89ab-cdef-0123-456789abcdef";
    g.set_uuid("/dev/sda", uuid).unwrap();
    assert_eq!(g.vfs_uuid("/dev/sda").unwrap(), uuid);
    assert_eq!(g.get_e2uuid("/dev/sda").unwrap(), uuid);
    g.set_uuid_random("/dev/sda").unwrap();
    let random = g.vfs_uuid("/dev/sda").unwrap();
    assert_ne!(random, uuid);
    assert_eq!(random.len(), 36);
    g.set_e2uuid("/dev/sda", "11111111-2222-3333-4444-555555555555")
        .unwrap();
    assert_eq!(
        g.blkid("/dev/sda").unwrap()["UUID"],
        "11111111-2222-3333-4444-555555555555"
    );

    // tune2fs, read back through tune2fs_l (libguestfs's own checks).
    g.tune2fs(
        "/dev/sda",
        &Tune2fsOptions {
            maxmountcount: Some(0),
            intervalbetweenchecks: Some(86400),
            reservedblockspercentage: Some(2),
            errorbehavior: Some("remount-ro".into()),
            lastmounteddirectory: Some("/srv".into()),
            user: Some(1),
            group: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let sb = g.tune2fs_l("/dev/sda").unwrap();
    let get = |k: &str| {
        sb.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from {sb:?}"))
    };
    assert_eq!(get("Filesystem magic number"), "0xEF53");
    assert_eq!(get("Filesystem volume name"), "e2");
    assert_eq!(get("Maximum mount count"), "-1");
    assert_eq!(get("Check interval"), "86400 (1 day)");
    assert_eq!(get("Errors behavior"), "Remount read-only");
    assert_eq!(get("Last mounted on"), "/srv");
    assert!(get("Reserved blocks uid").starts_with("1 "), "{sb:?}");
    assert!(get("Reserved blocks gid").starts_with("1 "), "{sb:?}");

    // Refusals, each before anything runs.
    for (e, kind, msg) in [
        (
            g.set_label("/dev/sda", "seventeen-bytes-x").unwrap_err(),
            ErrorKind::InvalidArgument,
            "set_label: /dev/sda: label 'seventeen-bytes-x': ext4 labels are limited to 16 bytes",
        ),
        (
            g.set_uuid("/dev/sda", "random").unwrap_err(),
            ErrorKind::InvalidArgument,
            "set_uuid: /dev/sda: ext4: 'random' is a magic value, not a UUID",
        ),
        (
            g.set_uuid("/dev/sda", "not-a-uuid").unwrap_err(),
            ErrorKind::InvalidArgument,
            "set_uuid: /dev/sda: ext4: 'not-a-uuid' is not a UUID (8-4-4-4-12 hex digits)",
        ),
        (
            g.set_e2uuid("/dev/sda", "x").unwrap_err(),
            ErrorKind::InvalidArgument,
            "set_e2uuid: /dev/sda: 'x' is not a UUID (nor clear, random or time)",
        ),
        (
            g.tune2fs(
                "/dev/sda",
                &Tune2fsOptions {
                    mountcount: Some(-3),
                    ..Default::default()
                },
            )
            .unwrap_err(),
            ErrorKind::InvalidArgument,
            "tune2fs: /dev/sda: mountcount cannot be negative (-3)",
        ),
        (
            g.set_label("/dev/sdz", "x").unwrap_err(),
            ErrorKind::NoSuchDevice,
            "set_label: /dev/sdz: no such device",
        ),
    ] {
        assert_eq!(e.kind(), kind, "{e}");
        assert_eq!(e.to_string(), msg);
    }
    // Mounted: refused.
    g.mount("/dev/sda", "/").unwrap();
    for e in [
        g.set_label("/dev/sda", "m").unwrap_err(),
        g.set_uuid_random("/dev/sda").unwrap_err(),
        g.tune2fs("/dev/sda", &Tune2fsOptions::default())
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(
            e.to_string().ends_with("/dev/sda: the device is mounted"),
            "{e}"
        );
    }
    // Reading the superblock of a mounted filesystem is fine.
    assert!(!g.tune2fs_l("/dev/sda").unwrap().is_empty());
    g.shutdown().unwrap();

    // The oracles agree.
    assert_eq!(blkid_tag(&img, "LABEL"), "e2");
    assert_eq!(
        blkid_tag(&img, "UUID"),
        "11111111-2222-3333-4444-555555555555"
    );
    let dumpe2fs = sh(&["dumpe2fs", "-h", img.to_str().unwrap()]);
    assert!(
        dumpe2fs
            .lines()
            .any(|l| l.starts_with("Check interval:") && l.ends_with("86400 (1 day)")),
        "{dumpe2fs}"
    );
    sh(&["e2fsck", "-fn", img.to_str().unwrap()]);

    // A read-only drive: every write refused, the image byte-identical, reads fine.
    let before = sha256(&img);
    let g = session(&env, &[&img], true);
    for e in [
        g.set_label("/dev/sda", "ro").unwrap_err(),
        g.set_uuid_random("/dev/sda").unwrap_err(),
        g.set_e2label("/dev/sda", "ro").unwrap_err(),
        g.tune2fs(
            "/dev/sda",
            &Tune2fsOptions {
                maxmountcount: Some(5),
                ..Default::default()
            },
        )
        .unwrap_err(),
        g.fsck("ext4", "/dev/sda").unwrap_err(),
        g.wipefs("/dev/sda").unwrap_err(),
        g.resize2fs_M("/dev/sda").unwrap_err(),
        g.mkswap_L("s", "/dev/sda").unwrap_err(),
        g.mke2fs("/dev/sda", &Mke2fsOptions::default()).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(
            e.to_string()
                .ends_with("/dev/sda: the drive was added read-only"),
            "{e}"
        );
    }
    assert_eq!(g.tune2fs_l("/dev/sda").unwrap().len(), sb.len());
    assert!(g.vfs_minimum_size("/dev/sda").unwrap() > 0);
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);
    finish(&env);
}

#[test]
fn labels_and_uuids_per_filesystem_type() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("fstools-types");
    let mut imgs: Vec<(&str, PathBuf)> = Vec::new();
    if require_tool("mkfs.xfs") && require_tool("xfs_admin") {
        imgs.push((
            "xfs",
            image(&env, "xfs.img", 300 << 20, &["mkfs.xfs", "-f", "-q"]),
        ));
    }
    if require_tool("mkfs.btrfs") && require_tool("btrfstune") {
        imgs.push((
            "btrfs",
            image(&env, "btrfs.img", 200 << 20, &["mkfs.btrfs", "-f", "-q"]),
        ));
    }
    if require_tool("mkfs.vfat") && require_tool("fatlabel") {
        imgs.push(("vfat", image(&env, "vfat.img", 32 << 20, &["mkfs.vfat"])));
    }
    if require_tool("mkntfs") && require_tool("ntfslabel") {
        imgs.push((
            "ntfs",
            image(&env, "ntfs.img", 32 << 20, &["mkntfs", "-Q", "-F", "-q"]),
        ));
    }
    if require_tool("swaplabel") {
        imgs.push(("swap", image(&env, "swap.img", 8 << 20, &["mkswap", "-f"])));
    }
    // A filesystem without label or UUID setters: an ISO 9660 primary volume
    // descriptor, written by hand.
    let iso = env.sparse_image("cd.iso", 1 << 20);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&iso).unwrap();
        f.write_all_at(b"\x01CD001\x01", 0x8000).unwrap();
    }
    imgs.push(("iso9660", iso));
    let paths: Vec<&Path> = imgs.iter().map(|(_, p)| p.as_path()).collect();
    let g = session(&env, &paths, false);
    let mut expect = Vec::new();
    for (i, (fstype, _)) in imgs.iter().enumerate() {
        let dev = format!("/dev/sd{}", (b'a' + i as u8) as char);
        assert_eq!(g.vfs_type(&dev).unwrap(), *fstype);
        if *fstype == "iso9660" {
            let e = g.set_label(&dev, "x").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            assert_eq!(
                e.to_string(),
                format!(
                    "set_label: {dev}: don't know how to set the label for 'iso9660' filesystems"
                )
            );
            let e = g.set_uuid_random(&dev).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            expect.push(None);
            continue;
        }
        let label = match *fstype {
            "vfat" => "BOOT",
            _ => "vmlabel",
        };
        g.set_label(&dev, label).unwrap();
        assert_eq!(g.vfs_label(&dev).unwrap(), label, "{fstype}");
        let (uuid, shown) = match *fstype {
            "vfat" => ("1234-abcd", "1234-ABCD"),
            "ntfs" => ("0123456789ABCDEF", "0123456789ABCDEF"),
            _ => (
                "01234567-89ab-cdef-0123-456789abcdef",
                "01234567-89ab-cdef-0123-456789abcdef",
            ),
        };
        g.set_uuid(&dev, uuid).unwrap();
        assert_eq!(g.vfs_uuid(&dev).unwrap(), shown, "{fstype}");
        g.set_uuid_random(&dev).unwrap();
        let random = g.vfs_uuid(&dev).unwrap();
        assert_ne!(random, shown, "{fstype}");
        assert_eq!(g.blkid(&dev).unwrap()["UUID"], random);
        expect.push(Some((label, random)));
        // Per-type limits.
        let long = "x".repeat(256);
        let e = g.set_label(&dev, &long).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("labels are limited to"), "{e}");
    }
    if imgs.iter().any(|(t, _)| *t == "xfs") {
        let e = g.set_label("/dev/sda", "---").unwrap_err();
        assert_eq!(
            e.to_string(),
            "set_label: /dev/sda: xfs: invalid new label '---'"
        );
        let e = g.set_uuid("/dev/sda", "generate").unwrap_err();
        assert!(e.to_string().contains("magic value"), "{e}");
        // XFS cannot shrink: its minimum is its size (the image size here).
        assert_eq!(g.vfs_minimum_size("/dev/sda").unwrap(), 300 << 20);
    }
    if let Some(i) = imgs.iter().position(|(t, _)| *t == "btrfs") {
        let dev = format!("/dev/sd{}", (b'a' + i as u8) as char);
        let e = g.vfs_minimum_size(&dev).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mount, "{e}");
        assert_eq!(
            e.to_string(),
            format!("vfs_minimum_size: {dev}: btrfs: the filesystem must be mounted")
        );
        g.mount(&dev, "/").unwrap();
        let min = g.vfs_minimum_size(&dev).unwrap();
        assert!(min > 0 && min <= 200 << 20, "{min}");
        let e = g.set_label(&dev, "mounted").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        g.umount("/").unwrap();
    }
    g.shutdown().unwrap();
    for ((fstype, img), want) in imgs.iter().zip(expect) {
        if let Some((label, uuid)) = want {
            assert_eq!(blkid_tag(img, "LABEL"), label, "{fstype}");
            assert_eq!(blkid_tag(img, "UUID"), uuid, "{fstype}");
        }
    }
    finish(&env);
}

#[test]
fn fsck_statuses_and_wipefs() {
    if !require_root("attaching images") || !require_tool("fsck") || !require_tool("wipefs") {
        return;
    }
    let env = TestEnv::new("fstools-fsck");
    let good = image(&env, "good.img", 32 << 20, &["mkfs.ext2", "-F", "-q"]);
    let zero = env.sparse_image("zero.img", 32 << 20);
    let g = session(&env, &[&good, &zero], false);
    assert_eq!(g.fsck("ext2", "/dev/sda").unwrap(), 0);
    // No filesystem: fsck's operational-error status, as libguestfs's test.
    assert_eq!(g.fsck("ext2", "/dev/sdb").unwrap(), 8);
    let e = g.fsck("ext2;rm", "/dev/sda").unwrap_err();
    assert_eq!(
        e.to_string(),
        "fsck: /dev/sda: invalid filesystem type 'ext2;rm'"
    );
    g.mount("/dev/sda", "/").unwrap();
    assert_eq!(
        g.fsck("ext2", "/dev/sda").unwrap_err().kind(),
        ErrorKind::Busy
    );
    assert_eq!(g.wipefs("/dev/sda").unwrap_err().kind(), ErrorKind::Busy);
    g.umount("/").unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "ext2");
    g.wipefs("/dev/sda").unwrap();
    // Seen at once, not from the cache.
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "");
    assert!(g.blkid("/dev/sda").unwrap().is_empty());
    g.shutdown().unwrap();
    assert_eq!(blkid_tag(&good, "TYPE"), "");
    finish(&env);
}

#[test]
fn mke2fs_options_and_external_journal() {
    if !require_root("attaching images") || !require_tool("mke2fs") || !require_tool("dumpe2fs") {
        return;
    }
    let env = TestEnv::new("fstools-mke2fs");
    let a = env.sparse_image("a.img", 64 << 20);
    let j = env.sparse_image("j.img", 16 << 20);
    let g = session(&env, &[&a, &j], false);
    let e = g
        .mke2fs(
            "/dev/sda",
            &Mke2fsOptions {
                journaldevice: Some("LABEL=JOURNAL".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("name the journal device"), "{e}");
    // A host device is not a device of the session.
    let e = g
        .mke2fs(
            "/dev/sda",
            &Mke2fsOptions {
                journaldevice: Some("/dev/loop0".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchDevice, "{e}");
    let e = g
        .mke2fs(
            "/dev/sda",
            &Mke2fsOptions {
                fstype: Some("xfs".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("not a valid extended filesystem type"),
        "{e}"
    );
    // Nothing was made by the refused calls.
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "");
    g.mke2fs(
        "/dev/sdb",
        &Mke2fsOptions {
            blocksize: Some(4096),
            journaldev: Some(true),
            label: Some("JOURNAL".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/sdb").unwrap(), "jbd");
    let uuid = "22222222-3333-4444-5555-666666666666";
    g.mke2fs(
        "/dev/sda",
        &Mke2fsOptions {
            fstype: Some("ext4".into()),
            blocksize: Some(4096),
            journaldevice: Some("/dev/vdb".into()),
            label: Some("data".into()),
            uuid: Some(uuid.into()),
            inodesize: Some(256),
            reservedblockspercentage: Some(1),
            blockscount: Some(8192),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "ext4");
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "data");
    assert_eq!(g.vfs_uuid("/dev/sda").unwrap(), uuid);
    g.shutdown().unwrap();
    let d = sh(&["dumpe2fs", "-h", a.to_str().unwrap()]);
    let field = |k: &str| {
        d.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{k}: {d}"))
    };
    assert_eq!(field("Block size:"), "4096");
    assert_eq!(field("Block count:"), "8192");
    assert_eq!(field("Inode size:"), "256");
    assert_eq!(field("Filesystem volume name:"), "data");
    assert_eq!(field("Reserved block count:"), "81");
    assert!(d.contains("Journal device:"), "{d}");
    finish(&env);
}

#[test]
fn resize_and_minimum_sizes() {
    if !require_root("attaching images") || !require_tool("resize2fs") {
        return;
    }
    let env = TestEnv::new("fstools-resize");
    let img = image(
        &env,
        "ext4.img",
        64 << 20,
        &["mkfs.ext4", "-F", "-q", "-b", "4096"],
    );
    let g = session(&env, &[&img], false);
    let size = |g: &VMCraft| {
        let sb = g.tune2fs_l("/dev/sda").unwrap();
        let n = |k: &str| -> i64 { sb.iter().find(|(x, _)| x == k).unwrap().1.parse().unwrap() };
        n("Block count") * n("Block size")
    };
    assert_eq!(size(&g), 64 << 20);
    for bad in [1000, 0, -4096] {
        let e = g.resize2fs_size("/dev/sda", bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("round number of kilobytes"), "{e}");
    }
    g.resize2fs_size("/dev/sda", 40 << 20).unwrap();
    assert_eq!(size(&g), 40 << 20);
    let min = g.vfs_minimum_size("/dev/sda").unwrap();
    assert!(min > 0 && min < 40 << 20, "{min}");
    g.resize2fs_M("/dev/sda").unwrap();
    let shrunk = size(&g);
    assert!(shrunk < 40 << 20, "{shrunk}");
    g.shutdown().unwrap();
    sh(&["e2fsck", "-fn", img.to_str().unwrap()]);
    finish(&env);
}

#[test]
fn swap_calls_and_refused_activation() {
    if !require_root("attaching images") || !require_tool("mkswap") {
        return;
    }
    let env = TestEnv::new("fstools-swap");
    let sw = env.sparse_image("swap.img", 8 << 20);
    let root = image(&env, "root.img", 32 << 20, &["mkfs.ext4", "-F", "-q"]);
    let g = session(&env, &[&sw, &root], false);
    g.mkswap_L("swaplbl", "/dev/sda").unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "swap");
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "swaplbl");
    let uuid = "33333333-4444-5555-6666-777777777777";
    g.mkswap_U(uuid, "/dev/sda").unwrap();
    assert_eq!(g.vfs_uuid("/dev/sda").unwrap(), uuid);
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "");
    let e = g.mkswap_L("seventeen-bytes-x", "/dev/sda").unwrap_err();
    assert!(e.to_string().contains("limited to 16 bytes"), "{e}");
    assert!(g.mkswap_U("nope", "/dev/sda").is_err());
    g.mkfs_b("ext4", 1024, "/dev/sda").unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "ext4");
    assert_eq!(g.blkid("/dev/sda").unwrap()["BLOCK_SIZE"], "1024");

    // A swap file inside the guest; a symlink cannot lead to a host file.
    g.mount("/dev/sdb", "/").unwrap();
    g.write("/swapfile", &vec![0u8; 1 << 20]).unwrap();
    g.mkswap_file("/swapfile").unwrap();
    let content = g.read_file("/swapfile").unwrap();
    assert_eq!(&content[4096 - 10..4096], b"SWAPSPACE2");
    let host = env.path().join("host-file");
    std::fs::write(&host, vec![7u8; 1 << 20]).unwrap();
    g.ln_s(host.to_str().unwrap(), "/escape").unwrap();
    assert!(g.mkswap_file("/escape").is_err());
    assert_eq!(std::fs::read(&host).unwrap(), vec![7u8; 1 << 20]);
    g.write("/small", b"tiny").unwrap();
    let e = g.mkswap_file("/small").unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    g.mkdir("/dir").unwrap();
    let e = g.mkswap_file("/dir").unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");

    // Swap activation would swap the host onto a guest disk: refused.
    for e in [
        g.swapon_device("/dev/sda").unwrap_err(),
        g.swapoff_device("/dev/sda").unwrap_err(),
        g.swapon_file("/swapfile").unwrap_err(),
        g.swapoff_file("/swapfile").unwrap_err(),
        g.swapon_label("swaplbl").unwrap_err(),
        g.swapoff_label("swaplbl").unwrap_err(),
        g.swapon_uuid(uuid).unwrap_err(),
        g.swapoff_uuid(uuid).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("host kernel swap"), "{e}");
    }
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap();
    assert!(!swaps.contains(env.tag()), "{swaps}");
    g.shutdown().unwrap();
    finish(&env);
}

#[test]
fn zerofree_and_fstrim() {
    if !require_root("attaching images") || !require_tool("zerofree") {
        return;
    }
    let env = TestEnv::new("fstools-zero");
    let img = image(&env, "ext4.img", 64 << 20, &["mkfs.ext4", "-F", "-q"]);
    let g = session(&env, &[&img], false);
    g.mount("/dev/sda", "/").unwrap();
    g.write("/keep", b"test file").unwrap();
    g.write("/gone", &vec![0x5au8; 4 << 20]).unwrap();
    g.rm("/gone").unwrap();
    assert_eq!(g.zerofree("/dev/sda").unwrap_err().kind(), ErrorKind::Busy);
    let e = g
        .fstrim(
            "/",
            FstrimOptions {
                offset: Some(-1),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "fstrim: /: offset cannot be negative (-1)");
    g.fstrim("/", FstrimOptions::default()).unwrap();
    g.umount("/").unwrap();
    g.zerofree("/dev/sda").unwrap();
    g.mount("/dev/sda", "/").unwrap();
    assert_eq!(g.cat("/keep").unwrap(), "test file");
    g.shutdown().unwrap();
    // A read-only drive: trimming is refused too.
    let before = sha256(&img);
    let g = session(&env, &[&img], true);
    g.mount_ro("/dev/sda", "/").unwrap();
    let e = g.fstrim("/", FstrimOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "fstrim: /dev/sda: the drive was added read-only"
    );
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);
    sh(&["e2fsck", "-fn", img.to_str().unwrap()]);
    // The deleted file's blocks hold zeroes now (no 4 KiB run of 0x5a left).
    let data = std::fs::read(&img).unwrap();
    assert!(
        !data.chunks(4096).any(|c| c.iter().all(|b| *b == 0x5a)),
        "freed blocks were not zeroed"
    );
    finish(&env);
}

#[test]
fn ntfs_resize_fix_and_minimum_size() {
    if !require_root("attaching images") || !require_tool("ntfsresize") || !require_tool("ntfsfix")
    {
        return;
    }
    let env = TestEnv::new("fstools-ntfs");
    let img = image(&env, "ntfs.img", 64 << 20, &["mkntfs", "-Q", "-F", "-q"]);
    let g = session(&env, &[&img], false);
    let min = g.vfs_minimum_size("/dev/sda").unwrap();
    assert!(min > 0 && min < 64 << 20, "{min}");
    let e = g.ntfsresize_size("/dev/sda", 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ntfsresize_size: /dev/sda: size 0 is zero or negative"
    );
    g.ntfsresize_size("/dev/sda", 48 << 20).unwrap();
    // Marked for a check now: a second resize needs force.
    assert!(
        g.ntfsresize("/dev/sda", NtfsresizeOptions::default())
            .is_err()
    );
    g.ntfsresize_opts(
        "/dev/sda",
        NtfsresizeOptions {
            size: Some(40 << 20),
            force: true,
        },
    )
    .unwrap();
    g.ntfsfix("/dev/sda", false).unwrap();
    g.ntfsfix("/dev/sda", true).unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "ntfs");
    g.shutdown().unwrap();
    if require_tool("ntfsinfo") {
        let info = sh(&["ntfsinfo", "-m", "-f", img.to_str().unwrap()]);
        let sectors: u64 = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("Volume Size in Clusters:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or_else(|| panic!("{info}"));
        let cluster: u64 = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("Cluster Size:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or_else(|| panic!("{info}"));
        assert!(sectors * cluster <= 40 << 20, "{info}");
    }
    finish(&env);
}
