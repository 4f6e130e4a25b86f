//! Tier 3: a read-only image under a throw-away overlay
//! ([`AttachOptions::overlay`]). Guests are snapshotted while running: their
//! filesystems carry a dirty ext4 journal or xfs log. A plain read-only device
//! cannot replay it (the kernel refuses the mount, or `norecovery` shows stale
//! files); over the overlay the replay lands in the overlay, the files written
//! last are there, and the image is byte-identical afterwards, raw and qcow2
//! alike. The overlay goes with the attachment.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_no_leaks, opts, privileged, run, run_status, sha256};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_block::{BlockDevice, ErrorKind as BlockKind};
use vmcraft_nbd::{AttachOptions, Backend, ErrorKind, Format, attach};

/// Mount `dev` on `dir` as `fstype` with `flags`/`data`; the error as a string.
fn try_mount(dev: &Path, dir: &Path, fstype: &str, readonly: bool) -> Result<(), String> {
    use nix::mount::MsFlags;
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if readonly {
        flags |= MsFlags::MS_RDONLY;
    }
    nix::mount::mount(Some(dev), dir, Some(fstype), flags, None::<&str>).map_err(|e| e.to_string())
}

/// A whole-disk `fstype` image copied while mounted, after `/last` was written
/// and synced: a guest snapshotted while running. Returns the image and the
/// contents of `/last`.
fn snapshot_of_a_running_guest(env: &TestEnv, fstype: &str) -> (PathBuf, Vec<u8>) {
    let live = env.sparse_image("live.img", 320 << 20);
    let lo = env.loop_device(&live);
    let dev = lo.path().to_str().unwrap().to_string();
    match fstype {
        "xfs" => run(&["mkfs.xfs", "-q", "-f", &dev]),
        _ => run(&["mkfs.ext4", "-q", "-F", &dev]),
    };
    let mnt = env.path().join("live-mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    try_mount(lo.path(), &mnt, fstype, false).unwrap();
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::create_dir(mnt.join("etc")).unwrap();
    std::fs::write(mnt.join("etc/hostname"), b"snapshotted\n").unwrap();
    std::fs::write(mnt.join("last"), &data).unwrap();
    // Committed to the journal (or log), not yet written back in place.
    run(&["sync", "-f", mnt.join("last").to_str().unwrap()]);
    let snap = env.path().join("snapshot.img");
    run(&[
        "dd",
        &format!("if={dev}"),
        &format!("of={}", snap.display()),
        "bs=4M",
        "conv=sparse",
        "status=none",
    ]);
    nix::mount::umount2(&mnt, nix::mount::MntFlags::empty()).unwrap();
    drop(lo);
    std::fs::remove_file(&live).unwrap();
    (snap, data)
}

/// Whether the filesystem on `image` says it needs recovery.
fn needs_recovery(image: &Path, fstype: &str) -> bool {
    let p = image.to_str().unwrap();
    match fstype {
        // xfs_logprint's summary says whether the log is clean.
        "xfs" => run_status(&["xfs_logprint", "-t", p])
            .stdout_str()
            .contains("state: <DIRTY>"),
        _ => run(&["dumpe2fs", "-h", p]).contains("needs_recovery"),
    }
}

/// Attach `image` read-only under an overlay, mount it read-only, check `/last`
/// and `/etc/hostname`, and leave the image byte-identical.
fn replays_into_the_overlay(env: &TestEnv, image: &Path, fstype: &str, data: &[u8]) {
    let before = sha256(image);
    let att = attach(image, opts(env).readonly(true).overlay(true)).unwrap();
    assert_eq!(
        att.backend(),
        Backend::StorageDaemon,
        "{}",
        att.backend_reason()
    );
    assert!(
        att.backend_reason().contains("overlay"),
        "{}",
        att.backend_reason()
    );
    assert!(att.is_readonly() && att.has_overlay());
    // The handle refuses writes; the kernel device takes the replay.
    let e = att.write_at(&[1; 512], 0).unwrap_err();
    assert_eq!(e.kind(), BlockKind::ReadOnly);
    assert!(!vmcraft_block::blockdev_getro(att.device()).unwrap());
    let mnt = env.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    try_mount(att.device(), &mnt, fstype, true).unwrap();
    let seen = std::fs::read(mnt.join("last"));
    let host = std::fs::read(mnt.join("etc/hostname"));
    nix::mount::umount2(&mnt, nix::mount::MntFlags::empty()).unwrap();
    let overlay_dir = att.runtime_dir().map(Path::to_path_buf);
    att.detach().unwrap();
    assert_eq!(seen.unwrap(), data, "{fstype}: the file written last");
    assert_eq!(host.unwrap(), b"snapshotted\n");
    assert_eq!(sha256(image), before, "{fstype}: the image changed");
    if let Some(d) = overlay_dir {
        assert!(
            !d.exists(),
            "the overlay's directory {} is left",
            d.display()
        );
    }
}

fn dirty(fstype: &str, tool: &str) {
    if !privileged("overlay attach") || !require_tool(tool) {
        return;
    }
    let env = TestEnv::new(&format!("overlay-{fstype}"));
    let (raw, data) = snapshot_of_a_running_guest(&env, fstype);
    assert!(
        needs_recovery(&raw, fstype),
        "{fstype}: the snapshot's journal is clean, the test proves nothing"
    );
    // Without an overlay a read-only device cannot replay: the mount is refused.
    {
        let att = attach(&raw, opts(&env).readonly(true)).unwrap();
        let mnt = env.path().join("mnt-plain");
        std::fs::create_dir_all(&mnt).unwrap();
        let plain = try_mount(att.device(), &mnt, fstype, true);
        if plain.is_ok() {
            nix::mount::umount2(&mnt, nix::mount::MntFlags::empty()).unwrap();
        }
        att.detach().unwrap();
        assert!(
            plain.is_err(),
            "{fstype}: a dirty journal mounted on a read-only device"
        );
    }
    replays_into_the_overlay(&env, &raw, fstype, &data);
    let qcow2 = env.path().join("snapshot.qcow2");
    run(&[
        "qemu-img",
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        raw.to_str().unwrap(),
        qcow2.to_str().unwrap(),
    ]);
    replays_into_the_overlay(&env, &qcow2, fstype, &data);
    assert_no_leaks(&env);
}

#[test]
fn a_dirty_ext4_journal_replays_into_the_overlay() {
    dirty("ext4", "mkfs.ext4");
}

#[test]
fn a_dirty_xfs_log_replays_into_the_overlay() {
    dirty("xfs", "mkfs.xfs");
}

#[test]
fn an_overlay_is_for_read_only_drives_served_by_the_storage_daemon() {
    let env = TestEnv::new("overlay-args");
    let image = env.sparse_image("disk.img", 1 << 20);
    let before = sha256(&image);
    let e = attach(&image, AttachOptions::default().overlay(true)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("for read-only drives"), "{e}");
    for b in [Backend::Loop, Backend::KernelNbd] {
        let e = attach(
            &image,
            AttachOptions::default()
                .readonly(true)
                .overlay(true)
                .backend(b)
                .format(Format::Raw),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("qemu-storage-daemon"), "{e}");
    }
    assert_eq!(sha256(&image), before);
    assert_no_leaks(&env);
}

#[test]
fn an_unpartitioned_raw_image_reads_through_the_overlay() {
    if !privileged("overlay attach") {
        return;
    }
    let env = TestEnv::new("overlay-raw");
    let img = env.sparse_image("ro.img", 8 << 20);
    std::fs::write(&img, vec![0x5a; 8 << 20]).unwrap();
    let att = attach(&img, opts(&env).readonly(true).overlay(true)).unwrap();
    assert_eq!(att.size().unwrap(), 8 << 20);
    let mut buf = [0u8; 4096];
    att.read_at(&mut buf, (8 << 20) - 4096).unwrap();
    assert_eq!(buf, [0x5a; 4096]);
    // Through the kernel device a write lands in the overlay, not the image.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(att.device())
            .unwrap();
        f.write_all_at(&[0xEE; 4096], 0).unwrap();
        f.sync_all().unwrap();
    }
    att.read_at(&mut buf, 0).unwrap();
    assert_eq!(buf, [0xEE; 4096]);
    att.detach().unwrap();
    assert!(std::fs::read(&img).unwrap().iter().all(|&b| b == 0x5a));
    assert_no_leaks(&env);
}

#[test]
fn a_runtime_directory_too_deep_for_a_socket_path_still_serves() {
    if !privileged("storage daemon attach") {
        return;
    }
    let env = TestEnv::new("overlay-deep");
    let deep = env.path().join("d".repeat(120));
    std::fs::create_dir(&deep).unwrap();
    let img = common::create_image(&env, "deep.qcow2", Format::Qcow2, "16M", "");
    for overlay in [false, true] {
        let att = attach(
            &img,
            AttachOptions::default()
                .runtime_dir(&deep)
                .readonly(overlay)
                .overlay(overlay)
                .backend(Backend::StorageDaemon),
        )
        .unwrap();
        assert!(
            att.runtime_dir()
                .unwrap()
                .join("qmp.sock")
                .as_os_str()
                .len()
                > 107,
            "the test's directory is not deep enough"
        );
        assert_eq!(att.size().unwrap(), 16 << 20);
        att.detach().unwrap();
    }
    assert_eq!(std::fs::read_dir(&deep).unwrap().count(), 0);
    assert_no_leaks(&env);
}
