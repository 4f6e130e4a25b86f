//! Btrfs and XFS administration on real images, checked against the tools
//! themselves run by the test on the host afterwards (btrfs subvolume list /
//! show / get-default on a host mount of the image, btrfs inspect-internal
//! dump-super, btrfs check, xfs_info, xfs_db, xfs_admin -l -u, xfs_repair -n):
//! `xfs_info`, `xfs_admin`, `xfs_repair`, `mkfs_btrfs`, subvolumes and
//! snapshots, default subvolume, resize, sync, balance, scrub, defragment,
//! filesystem show, device add/delete, seeding, fsck, super-recover.
//! Bad arguments are refused with nothing changed (the image byte-identical), a
//! read-only drive is refused by every call that writes, and a guest symlink
//! pointing at a host directory never makes btrfs-progs act on the host.

use std::path::{Path, PathBuf};

use vmcraft::calls::btrfs_xfs::{MkfsBtrfsOptions, XfsAdminOptions, XfsRepairOptions};
use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn sh(argv: &[&str]) -> String {
    SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .stdout_str()
}

fn status(argv: &[&str]) -> i32 {
    SystemRunner::new()
        .execute(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap()
        .status
        .code()
        .unwrap()
}

fn sha256(path: &Path) -> String {
    sh(&["sha256sum", path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn session(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

/// The btrfs image mounted on the host (through a loop device) while `f` runs;
/// the oracle's view.
fn on_host_mount<T>(env: &TestEnv, img: &Path, f: impl FnOnce(&str) -> T) -> T {
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = SystemRunner::new().run(&Command::new("umount").arg(&self.0));
        }
    }
    let lo = env.loop_device(img);
    let dir = env.path().join("oracle-mnt");
    std::fs::create_dir_all(&dir).unwrap();
    // The top level, whatever the default subvolume is.
    sh(&[
        "mount",
        "-o",
        "subvolid=5",
        lo.path().to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let guard = Unmount(dir.clone());
    let out = f(dir.to_str().unwrap());
    drop(guard);
    drop(lo);
    out
}

fn btrfs_ready() -> bool {
    require_root("attaching images")
        && require_tool("mkfs.btrfs")
        && require_tool("btrfs")
        && require_tool("btrfstune")
}

fn xfs_ready() -> bool {
    require_root("attaching images")
        && require_tool("mkfs.xfs")
        && require_tool("xfs_info")
        && require_tool("xfs_db")
        && require_tool("xfs_admin")
        && require_tool("xfs_repair")
}

/// btrfs-progs records every scrub in `/var/lib/btrfs/scrub.status.FSID` on
/// the host; the test removes the record of its image's filesystem when it
/// ends (also on a panic).
struct ForgetScrubs(std::path::PathBuf);

impl Drop for ForgetScrubs {
    fn drop(&mut self) {
        let Ok(out) = std::process::Command::new("btrfs")
            .args(["inspect-internal", "dump-super"])
            .arg(&self.0)
            .output()
        else {
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(fsid) = text
            .lines()
            .find(|l| l.starts_with("fsid"))
            .and_then(|l| l.split_whitespace().nth(1))
        {
            let _ = std::fs::remove_file(format!("/var/lib/btrfs/scrub.status.{fsid}"));
        }
    }
}

#[test]
fn xfs_info_admin_and_repair_match_xfsprogs() {
    if !xfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-xfs");
    let img = env.sparse_image("xfs.img", 320 << 20);
    let p = img.to_str().unwrap().to_string();
    sh(&["mkfs.xfs", "-q", "-f", "-L", "before", &p]);

    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    // xfs_info on the unmounted device, against xfs_db's superblock.
    let info = g.xfs_info("/dev/vda").unwrap();
    let sb = sh(&[
        "xfs_db",
        "-r",
        "-c",
        "sb 0",
        "-c",
        "p blocksize agcount agblocks dblocks inodesize sectsize logblocks",
        &p,
    ]);
    let field = |name: &str| -> u64 {
        sb.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("{name} in {sb}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(info.xfs_mntpoint, "/dev/sda");
    assert_eq!(u64::from(info.xfs_blocksize), field("blocksize"));
    assert_eq!(u64::from(info.xfs_agcount), field("agcount"));
    assert_eq!(u64::from(info.xfs_agsize), field("agblocks"));
    assert_eq!(info.xfs_datablocks, field("dblocks"));
    assert_eq!(u64::from(info.xfs_inodesize), field("inodesize"));
    assert_eq!(u64::from(info.xfs_sectsize), field("sectsize"));
    assert_eq!(u64::from(info.xfs_logblocks), field("logblocks"));
    assert_eq!(info.xfs_logname, "internal log");
    assert_eq!(info.xfs_rtname, "none");
    let h = g.xfs_info2("/dev/sda").unwrap();
    assert!(
        h.contains(&("data.bsize".to_string(), "4096".to_string())),
        "{h:?}"
    );
    // ... and through a guest path on the mounted filesystem.
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir("/d").unwrap();
    let mounted = g.xfs_info("/d").unwrap();
    assert_eq!(mounted, info);
    // Mounted: xfs_admin and xfs_repair refuse.
    let e = g
        .xfs_admin(
            "/dev/sda",
            &XfsAdminOptions {
                label: Some("x".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert_eq!(e.to_string(), "xfs_admin: /dev/sda: the device is mounted");
    assert_eq!(
        g.xfs_repair("/dev/sda", &XfsRepairOptions::default())
            .unwrap_err()
            .kind(),
        ErrorKind::Busy
    );
    g.umount("/").unwrap();
    // Not an XFS device / bad arguments: refused.
    assert!(g.xfs_info("/dev/sdz").is_err());
    g.shutdown().unwrap();
    let before = sha256(&img);

    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    for (o, msg) in [
        (
            XfsAdminOptions {
                label: Some("thirteen-char".into()),
                ..Default::default()
            },
            "xfs_admin: /dev/sda: thirteen-char: xfs labels are limited to 12 bytes",
        ),
        (
            XfsAdminOptions {
                uuid: Some("not-a-uuid".into()),
                ..Default::default()
            },
            "xfs_admin: /dev/sda: uuid 'not-a-uuid' is not a UUID, 'generate' or 'nil'",
        ),
    ] {
        let e = g.xfs_admin("/dev/sda", &o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), msg);
    }
    let e = g
        .xfs_repair(
            "/dev/sda",
            &XfsRepairOptions {
                agstride: Some(-2),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "xfs_repair: /dev/sda: agstride must be >= 0 (got -2)"
    );
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "a refused call changed the image");

    // Read-only drive: writes refused, the check allowed, nothing changed.
    let g = session(&env);
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let e = g
        .xfs_admin(
            "/dev/sda",
            &XfsAdminOptions {
                label: Some("ro".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "xfs_admin: /dev/sda: the drive was added read-only"
    );
    assert_eq!(
        g.xfs_repair("/dev/sda", &XfsRepairOptions::default())
            .unwrap_err()
            .to_string(),
        "xfs_repair: /dev/sda: the drive was added read-only"
    );
    let check = XfsRepairOptions {
        nomodify: true,
        ..Default::default()
    };
    assert_eq!(g.xfs_repair("/dev/sda", &check).unwrap(), 0);
    assert_eq!(g.xfs_info("/dev/sda").unwrap().xfs_blocksize, 4096);
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "a read-only drive was written");

    // xfs_admin: label and UUID, as xfs_admin -l -u reads them back.
    let uuid = "01234567-89ab-cdef-0123-456789abcdef";
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.xfs_admin(
        "/dev/sda",
        &XfsAdminOptions {
            label: Some("LBL-TEST".into()),
            uuid: Some(uuid.into()),
            ..Default::default()
        },
    )
    .unwrap();
    // The probe cache saw the change.
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "LBL-TEST");
    assert_eq!(g.vfs_uuid("/dev/sda").unwrap(), uuid);
    g.shutdown().unwrap();
    let said = sh(&["xfs_admin", "-l", "-u", &p]);
    assert!(said.contains("label = \"LBL-TEST\""), "{said}");
    assert!(said.contains(&format!("UUID = {uuid}")), "{said}");

    // xfs_repair: a wrong link count on the root directory is found (1 with
    // nomodify), repaired (0), and xfs_repair -n agrees afterwards.
    sh(&[
        "xfs_db",
        "-x",
        "-c",
        "inode 128",
        "-c",
        "write core.nlinkv2 7",
        &p,
    ]);
    assert_eq!(status(&["xfs_repair", "-n", &p]), 1);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    assert_eq!(g.xfs_repair("/dev/sda", &check).unwrap(), 1);
    assert_eq!(
        g.xfs_repair("/dev/sda", &XfsRepairOptions::default())
            .unwrap(),
        0
    );
    assert_eq!(g.xfs_repair("/dev/sda", &check).unwrap(), 0);
    g.shutdown().unwrap();
    assert_eq!(status(&["xfs_repair", "-n", &p]), 0);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// `btrfs subvolume list` on a host mount of the image, as (id, top level, path).
fn oracle_list(env: &TestEnv, img: &Path) -> Vec<(u64, u64, String)> {
    on_host_mount(env, img, |m| {
        sh(&["btrfs", "subvolume", "list", m])
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                // ID N gen G top level T path P
                (
                    w[1].parse().unwrap(),
                    w[6].parse().unwrap(),
                    l.split_once(" path ").unwrap().1.to_string(),
                )
            })
            .collect()
    })
}

#[test]
fn btrfs_subvolumes_snapshots_and_default_match_btrfs_progs() {
    if !btrfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-subvol");
    let img = env.sparse_image("btrfs.img", 512 << 20);
    let _forget = ForgetScrubs(img.clone());
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs_btrfs(
        &["/dev/sda"],
        &MkfsBtrfsOptions {
            label: Some("test".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/sda").unwrap(), "btrfs");
    assert_eq!(g.vfs_label("/dev/sda").unwrap(), "test");
    // Unmounted: listing through the device (a private read-only mount).
    assert_eq!(g.btrfs_subvolume_list("/dev/sda").unwrap(), vec![]);
    assert_eq!(g.btrfs_subvolume_get_default("/dev/sda").unwrap(), 5);
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir("/dir").unwrap();
    g.btrfs_subvolume_create("/test1", None).unwrap();
    g.btrfs_subvolume_create("/test2", None).unwrap();
    g.btrfs_subvolume_create("/dir/test3", None).unwrap();
    g.write("/test1/file", b"in test1\n").unwrap();
    g.btrfs_subvolume_snapshot("/test1", "/dir/snap", true, None)
        .unwrap();
    g.btrfs_subvolume_snapshot("/test1", "/snap-rw/", false, None)
        .unwrap();
    g.btrfs_subvolume_delete("/test2").unwrap();
    assert_eq!(g.cat("/dir/snap/file").unwrap(), "in test1\n");
    // Refusals, nothing created.
    for (e, msg) in [
        (
            g.btrfs_subvolume_create("/bad", Some("x")).unwrap_err(),
            "btrfs_subvolume_create: /bad: qgroupid 'x' is not of the form LEVEL/ID (e.g. 0/257)",
        ),
        (
            g.btrfs_subvolume_create("relative", None).unwrap_err(),
            "btrfs_subvolume_create: relative: path must be absolute (start with /)",
        ),
        (
            g.btrfs_subvolume_create("/dir/..", None).unwrap_err(),
            "btrfs_subvolume_create: /dir/..: the destination must end in the name of the new subvolume",
        ),
        (
            g.btrfs_filesystem_defragment("/", false, Some("lz4"))
                .unwrap_err(),
            "btrfs_filesystem_defragment: /: unknown compress method: lz4 (zlib, lzo or zstd)",
        ),
        (
            g.btrfs_filesystem_resize("/", Some(0)).unwrap_err(),
            "btrfs_filesystem_resize: /: size is zero or negative",
        ),
        (
            g.btrfs_subvolume_show("/dir").unwrap_err(),
            "btrfs_subvolume_show: /dir: /dir is not a subvolume",
        ),
        (
            g.btrfs_subvolume_show("/").unwrap_err(),
            "btrfs_subvolume_show: /: / is btrfs root",
        ),
    ] {
        assert_eq!(e.to_string(), msg);
    }
    assert!(!g.exists("/bad").unwrap());
    // A failing btrfs-progs command: its error names the call and the path.
    let e = g.btrfs_subvolume_delete("/dir").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("btrfs_subvolume_delete: /dir: btrfs subvolume delete failed"),
        "{e}"
    );

    let list = g.btrfs_subvolume_list("/").unwrap();
    let show = g.btrfs_subvolume_show("/test1").unwrap();
    let get = |k: &str| {
        show.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} in {show:?}"))
    };
    assert_eq!(get("path"), "test1");
    assert_eq!(get("Name"), "test1");
    assert_eq!(get("Parent UUID"), "");
    assert_eq!(get("Snapshot(s)"), "dir/snap,snap-rw");
    let snap = g.btrfs_subvolume_show("/dir/snap").unwrap();
    assert!(
        snap.contains(&("Flags".to_string(), "readonly".to_string())),
        "{snap:?}"
    );
    let test1_id = list
        .iter()
        .find(|s| s.btrfssubvolume_path == "test1")
        .unwrap()
        .btrfssubvolume_id;
    assert_eq!(get("Subvolume ID"), test1_id.to_string());
    g.btrfs_subvolume_set_default(test1_id as i64, "/").unwrap();
    assert_eq!(g.btrfs_subvolume_get_default("/").unwrap(), test1_id as i64);
    assert_eq!(
        g.btrfs_subvolume_set_default(-1, "/")
            .unwrap_err()
            .to_string(),
        "btrfs_subvolume_set_default: /: subvolume id -1 is negative"
    );
    // Housekeeping calls run on the real filesystem.
    g.btrfs_filesystem_sync("/").unwrap();
    g.btrfs_filesystem_balance("/test1").unwrap();
    g.btrfs_scrub_start("/").unwrap();
    g.btrfs_filesystem_defragment("/", true, Some("lzo"))
        .unwrap();
    g.btrfs_filesystem_defragment("/test1/file", false, Some("zlib"))
        .unwrap();
    assert_eq!(g.btrfs_filesystem_show("/dev/sda").unwrap(), ["/dev/sda"]);
    g.shutdown().unwrap();

    // The oracle: btrfs-progs on a host mount of the image.
    let mut ours: Vec<(u64, u64, String)> = list
        .iter()
        .map(|s| {
            (
                s.btrfssubvolume_id,
                s.btrfssubvolume_top_level_id,
                s.btrfssubvolume_path.clone(),
            )
        })
        .collect();
    ours.sort();
    let mut theirs = oracle_list(&env, &img);
    theirs.sort();
    assert_eq!(ours, theirs);
    let paths: Vec<&str> = theirs.iter().map(|t| t.2.as_str()).collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    for p in ["test1", "dir/test3", "dir/snap", "snap-rw"] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    let (default, ro) = on_host_mount(&env, &img, |m| {
        (
            sh(&["btrfs", "subvolume", "get-default", m]),
            sh(&["btrfs", "property", "get", &format!("{m}/dir/snap"), "ro"]),
        )
    });
    assert!(default.starts_with(&format!("ID {test1_id} ")), "{default}");
    assert_eq!(ro.trim(), "ro=true");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn btrfs_device_calls_resize_seeding_and_checks() {
    if !btrfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-devices");
    let a = env.sparse_image("a.img", 512 << 20);
    let _forget = ForgetScrubs(a.clone());
    let b = env.sparse_image("b.img", 512 << 20);
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    let e = g.mkfs_btrfs(&[], &MkfsBtrfsOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "mkfs_btrfs: list of devices must be non-empty"
    );
    let e = g
        .mkfs_btrfs(&["/dev/sda", "/dev/vda"], &MkfsBtrfsOptions::default())
        .unwrap_err();
    assert_eq!(e.to_string(), "mkfs_btrfs: /dev/sda: device listed twice");
    assert_eq!(
        g.mkfs_btrfs(&["/dev/sdz"], &MkfsBtrfsOptions::default())
            .unwrap_err()
            .kind(),
        ErrorKind::NoSuchDevice
    );
    // 300 MiB of the 512 MiB drive, then grown to fill it.
    g.mkfs_btrfs(
        &["/dev/sda"],
        &MkfsBtrfsOptions {
            bytecount: Some(300 << 20),
            nodesize: Some(16384),
            sectorsize: Some(4096),
            allocstart: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    g.mount("/dev/sda", "/").unwrap();
    let size = |g: &VMCraft| {
        let v = g.statvfs("/").unwrap();
        v.blocks * v.frsize
    };
    assert!(size(&g) <= 300 << 20);
    g.btrfs_filesystem_resize("/", None).unwrap();
    assert!(size(&g) > 400 << 20, "{}", size(&g));
    g.btrfs_filesystem_resize("/", Some(256 << 20)).unwrap();
    assert!(size(&g) <= 256 << 20);
    // Add the second drive, then take it out again.
    g.btrfs_device_add(&[], "/").unwrap();
    g.btrfs_device_add(&["/dev/vdb"], "/").unwrap();
    assert_eq!(
        g.btrfs_filesystem_show("/dev/sda").unwrap(),
        ["/dev/sda", "/dev/sdb"]
    );
    g.btrfs_device_delete(&["/dev/sdb"], "/").unwrap();
    assert_eq!(g.btrfs_filesystem_show("/dev/sda").unwrap(), ["/dev/sda"]);
    // Mounted: device-level calls refuse.
    assert_eq!(
        g.btrfs_set_seeding("/dev/sda", true).unwrap_err().kind(),
        ErrorKind::Busy
    );
    assert_eq!(
        g.btrfs_fsck("/dev/sda", None, false).unwrap_err().kind(),
        ErrorKind::Busy
    );
    g.umount("/").unwrap();
    g.btrfs_fsck("/dev/sda", None, false).unwrap();
    g.btrfs_fsck("/dev/sda", Some(1), false).unwrap();
    assert_eq!(
        g.btrfs_fsck("/dev/sda", Some(-1), false)
            .unwrap_err()
            .to_string(),
        "btrfs_fsck: /dev/sda: super block offset must be >= 0"
    );
    g.btrfs_rescue_super_recover("/dev/sda").unwrap();
    g.btrfstune_enable_extended_inode_refs("/dev/sda").unwrap();
    g.btrfstune_enable_skinny_metadata_extent_refs("/dev/sda")
        .unwrap();
    // Replace the drive under the mounted filesystem with the other one.
    g.mount("/dev/sda", "/").unwrap();
    g.write("/kept", b"across the replace\n").unwrap();
    assert_eq!(
        g.btrfs_replace("/dev/sda", "/dev/vda", "/")
            .unwrap_err()
            .to_string(),
        "btrfs_replace: /dev/sda: the source and target devices are the same"
    );
    g.btrfs_replace("/dev/sda", "/dev/sdb", "/").unwrap();
    assert_eq!(g.btrfs_filesystem_show("/dev/sdb").unwrap(), ["/dev/sdb"]);
    let records = || {
        std::fs::read_dir("/var/lib/btrfs")
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let before = records();
    g.btrfs_scrub_full("/", false).unwrap();
    g.btrfs_scrub_full("/", true).unwrap();
    // btrfs-progs recorded the scrubs on the host; the session forgets them
    // when it shuts down (checked below).
    let scrubbed: Vec<_> = records()
        .into_iter()
        .filter(|r| !before.contains(r))
        .collect();
    assert!(!scrubbed.is_empty(), "btrfs-progs records its scrubs");
    g.umount("/").unwrap();
    let e = g.mount("/dev/sda", "/").unwrap_err();
    assert!(e.chain().contains("sda"), "{}", e.chain());
    g.mount("/dev/sdb", "/").unwrap();
    assert_eq!(g.cat("/kept").unwrap(), "across the replace\n");
    g.umount("/").unwrap();
    // Back onto the first drive, for the seeding checks below.
    g.mount("/dev/sdb", "/").unwrap();
    g.btrfs_replace("/dev/sdb", "/dev/sda", "/").unwrap();
    g.umount("/").unwrap();
    g.btrfs_set_seeding("/dev/sda", true).unwrap();
    g.shutdown().unwrap();
    let left: Vec<_> = records()
        .into_iter()
        .filter(|r| scrubbed.contains(r))
        .collect();
    assert!(left.is_empty(), "scrub records left on the host: {left:?}");
    let p = a.to_str().unwrap();
    let flags = |p: &str| {
        sh(&["btrfs", "inspect-internal", "dump-super", p])
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap()
            .to_string()
    };
    assert!(flags(p).contains("0x1000000"), "{}", flags(p));
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.btrfstune_seeding("/dev/sda", false).unwrap();
    g.shutdown().unwrap();
    assert!(!flags(p).contains("0x1000000"), "{}", flags(p));
    assert_eq!(status(&["btrfs", "check", p]), 0);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn btrfs_read_only_drive_is_refused_and_unchanged() {
    if !btrfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-ro");
    let img = env.sparse_image("btrfs.img", 256 << 20);
    let p = img.to_str().unwrap();
    sh(&["mkfs.btrfs", "-q", "-f", p]);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.btrfs_subvolume_create("/sub", None).unwrap();
    g.shutdown().unwrap();
    let before = sha256(&img);

    let g = session(&env);
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    for e in [
        g.mkfs_btrfs(&["/dev/sda"], &MkfsBtrfsOptions::default())
            .unwrap_err(),
        g.btrfs_set_seeding("/dev/sda", true).unwrap_err(),
        g.btrfs_fsck("/dev/sda", None, true).unwrap_err(),
        g.btrfs_rescue_super_recover("/dev/sda").unwrap_err(),
        g.btrfs_rescue_chunk_recover("/dev/sda").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(
            e.to_string()
                .ends_with("/dev/sda: the drive was added read-only"),
            "{e}"
        );
    }
    // Reading is fine.
    assert_eq!(g.btrfs_subvolume_list("/dev/sda").unwrap().len(), 1);
    g.btrfs_fsck("/dev/sda", None, false).unwrap();
    g.mount_ro("/dev/sda", "/").unwrap();
    for e in [
        g.btrfs_subvolume_create("/new", None).unwrap_err(),
        g.btrfs_subvolume_snapshot("/sub", "/snap", false, None)
            .unwrap_err(),
        g.btrfs_subvolume_delete("/sub").unwrap_err(),
        g.btrfs_filesystem_resize("/", None).unwrap_err(),
        g.btrfs_filesystem_balance("/").unwrap_err(),
        g.btrfs_filesystem_defragment("/", false, None).unwrap_err(),
        g.btrfs_subvolume_set_default(256, "/").unwrap_err(),
        g.btrfs_scrub_start("/").unwrap_err(),
        g.btrfs_device_add(&["/dev/sda"], "/").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("read-only"), "{e}");
    }
    assert_eq!(g.btrfs_subvolume_list("/").unwrap().len(), 1);
    assert_eq!(g.btrfs_subvolume_show("/sub").unwrap()[0].1, "sub");
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "a read-only drive was written");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn guest_symlinks_never_reach_the_host() {
    if !btrfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-confine");
    // A host directory that a hostile guest names in its symlinks.
    let host_dir = env.path().join("host-dir");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("keep"), b"host file\n").unwrap();
    let host_abs = host_dir.to_str().unwrap().to_string();
    let img = env.sparse_image("btrfs.img", 256 << 20);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs_btrfs(&["/dev/sda"], &MkfsBtrfsOptions::default())
        .unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir("/inside").unwrap();
    g.btrfs_subvolume_create("/sub", None).unwrap();
    g.ln_s(&host_abs, "/abs").unwrap();
    g.ln_s(&format!("../../../../../../../../..{host_abs}"), "/rel")
        .unwrap();
    g.ln_s("/inside", "/to-inside").unwrap();
    g.ln_s("/sub", "/to-sub").unwrap();
    let host_listing = || {
        let mut v: Vec<String> = std::fs::read_dir(&host_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    for link in ["/abs", "/rel"] {
        let dest = format!("{link}/evil");
        assert!(g.btrfs_subvolume_create(&dest, None).is_err());
        assert!(
            g.btrfs_subvolume_snapshot("/sub", &dest, false, None)
                .is_err()
        );
        assert!(g.btrfs_subvolume_delete(link).is_err());
        assert!(g.btrfs_filesystem_defragment(link, true, None).is_err());
        assert!(g.btrfs_filesystem_sync(link).is_err());
        assert!(g.btrfs_subvolume_list(link).is_err());
        assert!(g.btrfs_subvolume_show(link).is_err());
        assert!(g.xfs_info(link).is_err());
    }
    // A symlink as the new name itself: refused (btrfs-progs would follow it
    // on the host, and put a snapshot inside the directory it names).
    for link in ["/abs", "/rel", "/to-inside"] {
        for e in [
            g.btrfs_subvolume_create(link, None).unwrap_err(),
            g.btrfs_subvolume_snapshot("/sub", link, false, None)
                .unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(
                e.to_string().ends_with(&format!(
                    "{link}: is a symbolic link (give the path it points to)"
                )),
                "{e}"
            );
        }
    }
    assert_eq!(host_listing(), ["keep"]);
    // Symlinks inside the guest resolve inside the guest.
    g.btrfs_subvolume_create("/to-inside/made", None).unwrap();
    assert!(g.is_dir("/inside/made").unwrap());
    assert_eq!(g.btrfs_subvolume_show("/to-sub").unwrap()[0].1, "sub");
    // A host path that happens to be valid in the guest is the guest's.
    g.mkdir_p(&host_abs).unwrap();
    g.btrfs_subvolume_create("/abs/guest-made", None).unwrap();
    assert!(g.is_dir(&format!("{host_abs}/guest-made")).unwrap());
    g.btrfs_subvolume_delete("/rel/guest-made").unwrap();
    let names: Vec<String> = g
        .btrfs_subvolume_list("/")
        .unwrap()
        .into_iter()
        .map(|s| s.btrfssubvolume_path)
        .collect();
    assert_eq!(names, ["sub", "inside/made"]);
    g.shutdown().unwrap();
    assert_eq!(host_listing(), ["keep"]);
    assert_eq!(
        std::fs::read(host_dir.join("keep")).unwrap(),
        b"host file\n"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn btrfs_quotas_qgroups_and_status_structs() {
    if !btrfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-quota");
    let img = env.sparse_image("btrfs.img", 256 << 20);
    let _forget = ForgetScrubs(img.clone());
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs_btrfs(&["/dev/sda"], &MkfsBtrfsOptions::default())
        .unwrap();
    // Through the device: mounted read-write for the call, and unmounted after.
    g.btrfs_quota_enable("/dev/sda", true).unwrap();
    assert!(g.mount_entries().is_empty());
    g.btrfs_quota_rescan("/dev/sda").unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.btrfs_subvolume_create("/s", None).unwrap();
    g.write("/s/data", &vec![7u8; 100_000]).unwrap();
    g.btrfs_filesystem_sync("/").unwrap();
    g.btrfs_qgroup_create("1/100", "/").unwrap();
    g.btrfs_qgroup_assign("0/256", "1/100", "/").unwrap();
    g.btrfs_qgroup_limit("/s", 50 << 20).unwrap();
    g.btrfs_quota_rescan("/").unwrap();
    let ours = g.btrfs_qgroup_show("/").unwrap();
    let ids: Vec<&str> = ours.iter().map(|q| q.btrfsqgroup_id.as_str()).collect();
    assert_eq!(ids, ["0/5", "0/256", "1/100"]);
    let s = &ours[1];
    assert!(s.btrfsqgroup_rfer >= 100_000, "{s:?}");
    for (e, msg) in [
        (
            g.btrfs_qgroup_create("x", "/").unwrap_err(),
            "btrfs_qgroup_create: /: qgroupid 'x' is not of the form LEVEL/ID (e.g. 0/257)",
        ),
        (
            g.btrfs_qgroup_limit("/s", -1).unwrap_err(),
            "btrfs_qgroup_limit: /s: size -1 is negative",
        ),
    ] {
        assert_eq!(e.to_string(), msg);
    }
    // Status structs: no balance; the counters of a finished scrub.
    let b = g.btrfs_balance_status("/").unwrap();
    assert_eq!(b.btrfsbalance_status, "none");
    g.btrfs_scrub_start("/").unwrap();
    let sc = g.btrfs_scrub_status("/").unwrap();
    assert!(sc.btrfsscrub_tree_bytes_scrubbed > 0, "{sc:?}");
    assert_eq!(sc.btrfsscrub_csum_errors, 0);
    // Nothing running: cancelling or pausing is an error naming the call.
    let e = g.btrfs_scrub_cancel("/").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("btrfs_scrub_cancel: /: btrfs scrub cancel failed"),
        "{e}"
    );
    let e = g.btrfs_balance_pause("/").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("btrfs_balance_pause: /: btrfs balance pause failed"),
        "{e}"
    );
    g.btrfs_qgroup_remove("0/256", "1/100", "/").unwrap();
    g.btrfs_qgroup_destroy("1/100", "/").unwrap();
    let after = g.btrfs_qgroup_show("/").unwrap();
    g.shutdown().unwrap();
    // The oracle: btrfs qgroup show on a host mount.
    let theirs = on_host_mount(&env, &img, |m| sh(&["btrfs", "qgroup", "show", "--raw", m]));
    let their_ids: Vec<&str> = theirs
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let our_ids: Vec<&str> = after.iter().map(|q| q.btrfsqgroup_id.as_str()).collect();
    assert_eq!(our_ids, their_ids);
    assert_eq!(our_ids, ["0/5", "0/256"]);
    // The limit (on referenced bytes) was stored.
    let limits = on_host_mount(&env, &img, |m| {
        sh(&["btrfs", "qgroup", "show", "--raw", "-r", m])
    });
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("0/256") && l.contains(&(50u64 << 20).to_string())),
        "{limits}"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn xfs_image_file_in_the_guest_btrfs_image_and_chunk_recover() {
    if !xfs_ready() || !btrfs_ready() {
        return;
    }
    let env = TestEnv::new("bx-imgfile");
    // An XFS image that the guest holds as a file, with its root link count
    // damaged.
    let inner = env.sparse_image("inner.img", 300 << 20);
    let ip = inner.to_str().unwrap();
    sh(&["mkfs.xfs", "-q", "-f", ip]);
    sh(&[
        "xfs_db",
        "-x",
        "-c",
        "inode 128",
        "-c",
        "write core.nlinkv2 9",
        ip,
    ]);
    let img = env.sparse_image("outer.img", 512 << 20);
    let g = session(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs_btrfs(&["/dev/sda"], &MkfsBtrfsOptions::default())
        .unwrap();
    g.btrfs_rescue_chunk_recover("/dev/sda").unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.upload(&inner, "/xfs.img").unwrap();
    g.ln_s("/xfs.img", "/link.img").unwrap();
    let info = g.xfs_info("/link.img").unwrap();
    assert_eq!(info.xfs_mntpoint, "/link.img");
    assert_eq!(info.xfs_blocksize, 4096);
    let check = XfsRepairOptions {
        nomodify: true,
        ..Default::default()
    };
    assert_eq!(g.xfs_repair("/xfs.img", &check).unwrap(), 1);
    assert_eq!(
        g.xfs_repair("/link.img", &XfsRepairOptions::default())
            .unwrap(),
        0
    );
    assert_eq!(g.xfs_repair("/xfs.img", &check).unwrap(), 0);
    // A directory is not an image.
    g.mkdir("/d").unwrap();
    assert_eq!(
        g.xfs_repair("/d", &check).unwrap_err().to_string(),
        "xfs_repair: /d: not a device or a regular file (an XFS image)"
    );
    // btrfs-image of the filesystem under / into a guest file, and refusals.
    g.btrfs_image(&["/dev/sda"], "/meta.img", Some(2)).unwrap();
    assert!(g.is_file("/meta.img").unwrap());
    g.ln_s("/etc/passwd", "/meta-link").unwrap();
    for (e, msg) in [
        (
            g.btrfs_image(&["/dev/sda"], "/meta-link", None)
                .unwrap_err(),
            "btrfs_image: /meta-link: exists and is not a regular file (a symlink, directory or special file)",
        ),
        (
            g.btrfs_image(&["/dev/sda"], "/m2.img", Some(10))
                .unwrap_err(),
            "btrfs_image: /m2.img: compresslevel 10 is not between 0 and 9",
        ),
        (
            g.btrfs_image(&[], "/m2.img", None).unwrap_err(),
            "btrfs_image: /m2.img: list of sources must be non-empty",
        ),
    ] {
        assert_eq!(e.to_string(), msg);
    }
    assert!(!g.exists("/m2.img").unwrap());
    g.download("/meta.img", env.path().join("meta.img"))
        .unwrap();
    g.download("/xfs.img", env.path().join("back.img")).unwrap();
    g.shutdown().unwrap();
    assert_eq!(
        status(&[
            "xfs_repair",
            "-n",
            env.path().join("back.img").to_str().unwrap()
        ]),
        0
    );
    // The oracle: btrfs-image restores the metadata image into a filesystem
    // that btrfs check accepts.
    let restored = env.sparse_image("restored.img", 512 << 20);
    let r = restored.to_str().unwrap();
    sh(&[
        "btrfs-image",
        "-r",
        env.path().join("meta.img").to_str().unwrap(),
        r,
    ]);
    assert_eq!(status(&["btrfs", "check", r]), 0);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
