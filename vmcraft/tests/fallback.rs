//! mount_with_fallback on real damaged filesystems: an ext4 that needs journal
//! recovery with a broken journal, an xfs that needs log recovery on a read-only
//! drive (without the throw-away overlay it mounts `ro,norecovery` and misses the
//! last writes; with it, the default, it mounts normally and shows them, the
//! image unchanged), a hibernated NTFS that ntfs-3g will only mount read-only (the default
//! strategies keep its `hiberfil.sys`; deleting it is an explicit opt-in); each
//! mounted by a later strategy, reported, tracked, and undone by umount_all.

use vmcraft::mount::strategy::fallback_strategies_removing_hiberfile;
use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn sh(argv: &[&str]) -> String {
    let out = SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap();
    out.stdout_str()
}

#[test]
fn ext4_with_a_broken_journal_mounts_without_recovery() {
    if !require_root("mounting") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("fb-ext4");
    let img = env.sparse_image("ext4.img", 64 << 20);
    let p = img.to_str().unwrap();
    sh(&["mkfs.ext4", "-F", "-q", "-b", "4096", p]);
    let hello = env.path().join("hello");
    std::fs::write(&hello, "hello\n").unwrap();
    sh(&[
        "debugfs",
        "-w",
        "-R",
        &format!("write {} hello", hello.display()),
        p,
    ]);
    // Claim the journal needs replaying, then wreck the journal's superblock.
    sh(&["debugfs", "-w", "-R", "feature needs_recovery", p]);
    let block: u64 = sh(&["debugfs", "-R", "bmap <8> 0", p])
        .trim()
        .parse()
        .unwrap();
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .write_all_at(&[0xA5; 4096], block * 4096)
        .unwrap();

    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let e = g.mount("/dev/sda", "/").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mount, "{e}");
    assert!(g.mountpoints().is_empty());

    let out = g.mount_with_fallback("/dev/sda", "/").unwrap();
    assert_eq!(out.strategy, "ro,norecovery");
    assert_eq!(out.attempts.len(), 2, "{:?}", out.attempts);
    assert_eq!(out.attempts[0].strategy, "normal");
    assert!(out.attempts[0].error.is_some());
    assert!(out.attempts[1].error.is_none());
    assert_eq!(g.cat("/hello").unwrap(), "hello\n");
    assert!(
        g.write("/new", b"x").is_err(),
        "the fallback mount is read-only"
    );
    assert_eq!(g.mount_entries()[0].strategy, "ro,norecovery");
    g.umount_all().unwrap();
    assert!(g.mountpoints().is_empty());
    drop(g);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn xfs_needing_log_recovery_on_a_read_only_drive() {
    if !require_root("mounting") || !require_tool("xfs_io") {
        return;
    }
    let env = TestEnv::new("fb-xfs");
    let img = env.sparse_image("xfs.img", 512 << 20);
    sh(&["mkfs.xfs", "-f", "-q", img.to_str().unwrap()]);
    {
        let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
        g.add_drive(&img).unwrap();
        g.launch().unwrap();
        g.mount("/dev/sda", "/").unwrap();
        g.write("/before", b"synced\n").unwrap();
        g.umount("/").unwrap();
        g.mount("/dev/sda", "/").unwrap();
        let host = g.mountpoint_host_path("/").unwrap();
        g.write("/after", b"only in the log\n").unwrap();
        // Shut the filesystem down with the log dirty, as a crash would.
        SystemRunner::new()
            .run(
                &Command::new("xfs_io")
                    .args(["-x", "-c", "shutdown -f"])
                    .arg(&host),
            )
            .unwrap();
        g.shutdown().unwrap();
    }
    let before = sha256(&img);
    // Without the throw-away overlay the read-only device cannot replay the log:
    // the normal mount fails and `ro,norecovery` shows the filesystem as it was
    // before the log (no `/after`).
    let g = VMCraft::with_config(
        Config::builder()
            .tmpdir(env.path())
            .readonly_overlay(false)
            .build(),
    );
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let out = g.mount_with_fallback("/dev/sda", "/").unwrap();
    assert_eq!(out.strategy, "ro,norecovery", "{:?}", out.attempts);
    assert_eq!(out.attempts[0].strategy, "normal");
    assert!(out.attempts[0].error.is_some(), "{:?}", out.attempts);
    assert_eq!(g.cat("/before").unwrap(), "synced\n");
    assert!(!g.exists("/after").unwrap());
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    // Under the overlay (the default) the log replays into it: a plain mount
    // works and the guest is seen as it last wrote; the image is unchanged.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let out = g.mount_with_fallback("/dev/sda", "/").unwrap();
    assert_eq!(out.strategy, "normal", "{:?}", out.attempts);
    assert_eq!(g.cat("/before").unwrap(), "synced\n");
    // The file's creation was in the log (its data, never flushed before the
    // shutdown, is not: as after any crash).
    assert!(g.is_file("/after").unwrap());
    assert!(g.write("/new", b"x").is_err(), "the drive is read-only");
    assert!(g.blockdev_getro("/dev/sda").unwrap());
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "the read-only image changed");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// A hibernated Windows volume: NTFS made by mkntfs, written through ntfs-3g, with
/// a `hiberfil.sys` that starts with the hibernation signature ntfs-3g checks.
fn hibernated_ntfs(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("ntfs.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mkfs("ntfs", "/dev/sda", &Default::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    assert_eq!(g.mount_entries()[0].fuse_driver.as_deref(), Some("ntfs-3g"));
    g.write("/hiberfil.sys", b"HIBR\0\0\0\0 a hibernated Windows")
        .unwrap();
    g.write("/data.txt", b"windows data\n").unwrap();
    g.shutdown().unwrap();
    img
}

fn sha256(path: &std::path::Path) -> String {
    sh(&["sha256sum", path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn hibernated_ntfs_falls_back_to_read_only_and_keeps_its_hibernation_file() {
    if !require_root("mounting") || !require_tool("ntfs-3g") || !require_tool("mkntfs") {
        return;
    }
    let env = TestEnv::new("fb-ntfs");
    let img = hibernated_ntfs(&env);
    let before = sha256(&img);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();

    // ntfs-3g will not mount it read-write: the plain mount reports that.
    let e = g.mount("/dev/sda", "/").unwrap_err();
    assert!(
        e.to_string().contains("read-only although read-write"),
        "{e}"
    );
    assert!(g.mountpoints().is_empty());

    // The default fallback never deletes hiberfil.sys: it mounts read-only.
    let out = g.mount_with_fallback("/dev/sda", "/").unwrap();
    assert_eq!(out.strategy, "ntfs-3g ro", "{:?}", out.attempts);
    assert!(
        out.attempts
            .iter()
            .all(|a| !a.options.contains("remove_hiberfile")),
        "{:?}",
        out.attempts
    );
    assert_eq!(g.cat("/data.txt").unwrap(), "windows data\n");
    assert!(g.exists("/hiberfil.sys").unwrap());
    assert!(
        g.write("/written", b"rw\n").is_err(),
        "the mount is read-only"
    );
    g.umount_all().unwrap();
    // mount_all_parallel's fallback and inspection use the same strategies.
    let r = g
        .mount_all_parallel(
            &[("/".to_string(), "/dev/sda".to_string())],
            vmcraft::MountAllOptions {
                fallback: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r[0].result.as_ref().unwrap().strategy, "ntfs-3g ro");
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(
        sha256(&img),
        before,
        "the default fallback changed the volume"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn removing_the_hibernation_file_is_an_explicit_opt_in() {
    if !require_root("mounting") || !require_tool("ntfs-3g") || !require_tool("mkntfs") {
        return;
    }
    let env = TestEnv::new("fb-ntfs-force");
    let img = hibernated_ntfs(&env);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let out = g
        .mount_with_strategies(
            "mount_with_fallback",
            "/dev/sda",
            "/",
            "",
            &fallback_strategies_removing_hiberfile(""),
        )
        .unwrap();
    assert_eq!(out.strategy, "ntfs-3g force", "{:?}", out.attempts);
    assert!(
        out.attempts
            .iter()
            .any(|a| a.strategy == "ntfs-3g" && a.error.is_some())
    );
    assert_eq!(g.cat("/data.txt").unwrap(), "windows data\n");
    g.write("/written-after", b"rw\n").unwrap();
    assert!(
        !g.exists("/hiberfil.sys").unwrap(),
        "the forcing mode removed the hibernation file"
    );
    g.umount_all().unwrap();
    assert!(g.mountpoints().is_empty());
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// A guest snapshotted while running: an ext4 root whose last writes
/// (`/etc/hostname` changed, `/last` made) are committed to the journal and not
/// yet written back in place (the filesystem shut down at that point, as a
/// crash or a snapshot of the running guest leaves it), so it needs recovery.
fn ext4_snapshot_of_a_running_guest(env: &TestEnv) -> (std::path::PathBuf, Vec<u8>) {
    let img = env.sparse_image("snapshot.img", 128 << 20);
    sh(&["mkfs.ext4", "-F", "-q", img.to_str().unwrap()]);
    let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir("/etc").unwrap();
    g.write(
        "/etc/os-release",
        b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .unwrap();
    g.write("/etc/hostname", b"before\n").unwrap();
    g.umount("/").unwrap();
    g.mount("/dev/sda", "/").unwrap();
    let host = g.mountpoint_host_path("/").unwrap();
    // Written as the guest writes (VMCraft's own writes sync the filesystem).
    std::fs::write(host.join("etc/hostname"), b"snapshotted\n").unwrap();
    std::fs::write(host.join("last"), &data).unwrap();
    // The data written and the journal committed (fsync), then the filesystem
    // stopped before the journal is checkpointed (ext4 takes xfs_io's shutdown).
    sh(&["xfs_io", "-c", "fsync", host.join("last").to_str().unwrap()]);
    SystemRunner::new()
        .run(
            &Command::new("xfs_io")
                .args(["-x", "-c", "shutdown -f"])
                .arg(&host),
        )
        .unwrap();
    g.shutdown().unwrap();
    (img, data)
}

/// Read-only sessions of a snapshotted ext4 guest (its journal needing
/// recovery) see it as it last wrote, on both read paths: in-process (the
/// default; the reader replays the journal in memory) and the kernel's
/// (`--kernel-mounts`: a plain read-only mount works because the journal
/// replays into the throw-away overlay). Without the overlay the kernel cannot
/// replay onto a read-only device: the plain mount fails and only
/// `ro,norecovery` mounts. (What that stale view lacks depends on how much the
/// kernel had written back in place before the snapshot, so it is not asserted.)
/// The image stays byte-identical throughout.
#[test]
fn a_snapshotted_ext4_guest_is_seen_as_it_last_wrote_on_both_read_paths() {
    if !require_root("mounting") || !require_tool("qemu-storage-daemon") || !require_tool("xfs_io")
    {
        return;
    }
    let env = TestEnv::new("fb-ext4-dirty");
    let (img, data) = ext4_snapshot_of_a_running_guest(&env);
    assert!(
        sh(&["dumpe2fs", "-h", img.to_str().unwrap()]).contains("needs_recovery"),
        "the snapshot does not need recovery: the test proves nothing"
    );
    let before = sha256(&img);
    for inprocess in [true, false] {
        let g = VMCraft::with_config(
            Config::builder()
                .tmpdir(env.path())
                .inprocess_reads(inprocess)
                .build(),
        );
        g.add_drive_ro(&img).unwrap();
        g.launch().unwrap();
        let roots = g.inspect_os().unwrap();
        assert_eq!(roots, ["/dev/sda"], "in-process {inprocess}");
        assert_eq!(g.inspect_get_hostname("/dev/sda").unwrap(), "snapshotted");
        g.mount_ro("/dev/sda", "/").unwrap();
        let last = g.read_file("/last").unwrap();
        assert!(
            last == data,
            "in-process {inprocess}: /last has {} bytes",
            last.len()
        );
        g.umount_all().unwrap();
        g.shutdown().unwrap();
        assert_eq!(
            sha256(&img),
            before,
            "in-process {inprocess} changed the image"
        );
    }
    let g = VMCraft::with_config(
        Config::builder()
            .tmpdir(env.path())
            .inprocess_reads(false)
            .readonly_overlay(false)
            .build(),
    );
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let out = g.mount_with_fallback("/dev/sda", "/").unwrap();
    assert_eq!(out.strategy, "ro,norecovery", "{:?}", out.attempts);
    assert_eq!(out.attempts[0].strategy, "normal");
    assert!(out.attempts[0].error.is_some(), "{:?}", out.attempts);
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
