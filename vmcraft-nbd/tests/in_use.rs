//! Tier 3: detach never pulls a disk out from under a mount. While a partition
//! is mounted (by the kernel, or through a FUSE driver such as fusefat), a
//! detach is refused with Busy naming the node, and the device and whatever
//! serves it (loop device, qemu-storage-daemon) stay: the mount keeps working,
//! writes reach the image, and after the unmount the detach succeeds and the
//! image is clean. Dropping or consuming-detaching such an attachment keeps it
//! (release_kept finishes the job after the unmount) instead of destroying data.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{assert_no_leaks, create_image, loops_under, opts, privileged, run};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_nbd::{Attachment, Backend, ErrorKind, Format, attach, kept_attachments, release_kept};

/// A GPT with one partition spanning the disk, made ext4; its node.
fn ext4_partition(att: &mut Attachment) -> PathBuf {
    vmcraft_part::part_disk(&*att, "gpt").unwrap();
    let p1 = att.refresh_partitions().unwrap()[0].node.clone();
    run(&["mkfs.ext4", "-q", "-F", p1.to_str().unwrap()]);
    p1
}

/// Write `name` under `mnt` and sync it (data and the filesystem) to the device.
fn write_synced(mnt: &Path, name: &str, data: &[u8]) {
    let mut f = std::fs::File::create(mnt.join(name)).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
    nix::unistd::syncfs(&f).unwrap();
}

/// Wait until `cond` holds after an unmount. Our unmount frees the device at
/// once, unless another process copied the mount into a mount namespace of its
/// own meanwhile (a concurrent test's `unshare`): the filesystem then lives on
/// there, the device stays claimed, and detaching is rightly refused until that
/// copy goes.
fn settled(cond: impl FnMut() -> bool) {
    vmcraft_block::wait_until(
        "the device to be free",
        std::time::Duration::from_secs(60),
        cond,
    )
    .unwrap();
}

fn mountpoint(env: &TestEnv, name: &str) -> PathBuf {
    let mnt = env.path().join(name);
    std::fs::create_dir(&mnt).unwrap();
    mnt
}

#[test]
fn detach_is_refused_while_a_partition_is_mounted_and_the_mount_keeps_working() {
    if !privileged("detach while mounted") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("in-use");
    let mnt = mountpoint(&env, "mnt");
    let raw = env.sparse_image("disk.img", 32 << 20);
    let qcow2 = create_image(&env, "disk.qcow2", Format::Qcow2, "32M", "");
    for (image, format) in [(raw, Format::Raw), (qcow2, Format::Qcow2)] {
        let mut att = attach(&image, opts(&env)).unwrap();
        let p1 = ext4_partition(&mut att);
        common::mount(&p1, &mnt, false);

        let e = att.try_detach().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy);
        let kept = match att.backend() {
            Backend::StorageDaemon => format!(
                "{} and the qemu-storage-daemon (pid {}) exporting the image are kept",
                att.device().display(),
                att.daemon_pid().unwrap()
            ),
            _ => format!("{} is kept", att.device().display()),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "detach: {}: {} is mounted on {}: unmount it first; until then {kept} so that \
                 it keeps working",
                image.display(),
                p1.display(),
                mnt.display()
            )
        );
        assert!(att.is_attached());
        assert_eq!(
            att.in_use(),
            Some(format!("{} is mounted on {}", p1.display(), mnt.display()))
        );
        // Nothing was torn down: the daemon serves, and the mount writes through.
        att.check().unwrap();
        write_synced(&mnt, "after-refusal", b"still here\n");

        common::unmount(&mnt);
        settled(|| att.in_use().is_none());
        att.try_detach().unwrap();
        assert!(!att.is_attached());
        att.try_detach().unwrap(); // once detached, nothing more to do
        drop(att);
        assert!(loops_under(env.path()).is_empty());
        common::qemu_img_check(&image, format);

        // What was written after the refusal is in the image.
        let mut att = attach(&image, opts(&env).readonly(true)).unwrap();
        let p1 = att.refresh_partitions().unwrap()[0].node.clone();
        common::mount(&p1, &mnt, true);
        assert_eq!(
            std::fs::read(mnt.join("after-refusal")).unwrap(),
            b"still here\n"
        );
        common::unmount(&mnt);
        att.detach().unwrap();
    }
    assert_no_leaks(&env);
}

#[test]
fn a_mounted_attachment_detached_or_dropped_is_kept_until_released() {
    if !privileged("detach while mounted") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("kept");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "32M", "");
    let image2 = create_image(&env, "other.qcow2", Format::Qcow2, "32M", "");
    let (mnt, mnt2) = (mountpoint(&env, "mnt"), mountpoint(&env, "mnt2"));

    let mut att = attach(&image, opts(&env)).unwrap();
    let p1 = ext4_partition(&mut att);
    let pid = att.daemon_pid().unwrap();
    let device = att.device().to_path_buf();
    common::mount(&p1, &mnt, false);
    let e = att.detach().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(
        e.to_string().ends_with(
            "so that it keeps working; the attachment is kept until it is no longer in use \
             (vmcraft_nbd::release_kept)"
        ),
        "{e}"
    );

    // The same through a drop.
    let mut other = attach(&image2, opts(&env)).unwrap();
    let q1 = ext4_partition(&mut other);
    common::mount(&q1, &mnt2, false);
    drop(other);

    let kept = kept_attachments();
    assert_eq!(kept.len(), 2, "{kept:#?}");
    assert_eq!(kept[0].image, image.canonicalize().unwrap());
    assert_eq!(kept[0].device, device);
    assert_eq!(kept[0].backend, Backend::StorageDaemon);
    assert_eq!(kept[0].daemon_pid, Some(pid));
    assert_eq!(
        kept[0].in_use.as_deref(),
        Some(format!("{} is mounted on {}", p1.display(), mnt.display()).as_str())
    );
    // The kept daemons serve: the mounts write through to the images.
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    write_synced(&mnt, "kept", b"written while kept\n");
    write_synced(&mnt2, "kept", b"the dropped one too\n");

    // Still mounted: nothing to release.
    assert_eq!(release_kept().unwrap(), 0);
    assert_eq!(kept_attachments().len(), 2);
    common::unmount(&mnt);
    settled(|| kept_attachments()[0].in_use.is_none());
    assert_eq!(release_kept().unwrap(), 1);
    assert_eq!(kept_attachments().len(), 1);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon was stopped"
    );
    common::unmount(&mnt2);
    settled(|| kept_attachments()[0].in_use.is_none());
    assert_eq!(release_kept().unwrap(), 1);
    assert!(kept_attachments().is_empty());

    for (img, expect) in [
        (&image, &b"written while kept\n"[..]),
        (&image2, &b"the dropped one too\n"[..]),
    ] {
        common::qemu_img_check(img, Format::Qcow2);
        let mut att = attach(img, opts(&env).readonly(true)).unwrap();
        let p = att.refresh_partitions().unwrap()[0].node.clone();
        common::mount(&p, &mnt, true);
        assert_eq!(std::fs::read(mnt.join("kept")).unwrap(), expect);
        common::unmount(&mnt);
        att.detach().unwrap();
    }
    assert!(loops_under(env.path()).is_empty());
    assert_no_leaks(&env);
}

#[test]
fn a_partition_mounted_through_fusefat_keeps_the_device_too() {
    if !privileged("detach while mounted") || !require_tool("mkfs.vfat") || !require_tool("fusefat")
    {
        return;
    }
    let env = TestEnv::new("in-use-fuse");
    let mnt = mountpoint(&env, "esp");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    let mut att = attach(&image, opts(&env)).unwrap();
    vmcraft_part::part_disk(&att, "gpt").unwrap();
    let p1 = att.refresh_partitions().unwrap()[0].node.clone();
    run(&["mkfs.vfat", p1.to_str().unwrap()]);
    // fusefat's mount names no device in the mount table: it is found as a
    // process holding both the partition and /dev/fuse.
    run(&[
        "fusefat",
        "-o",
        "rw+",
        p1.to_str().unwrap(),
        mnt.to_str().unwrap(),
    ]);
    let e = att.try_detach().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(
        e.to_string().contains(&format!(
            "{} is mounted through FUSE by process ",
            p1.display()
        )),
        "{e}"
    );
    assert!(e.to_string().contains("(fusefat): unmount it first"), "{e}");
    std::fs::write(mnt.join("BOOT.TXT"), b"esp").unwrap();
    common::unmount(&mnt);
    // fusefat exits once unmounted; until then it still holds the partition.
    vmcraft_block::wait_until(
        "fusefat to let go",
        std::time::Duration::from_secs(60),
        || att.in_use().is_none(),
    )
    .unwrap();
    att.try_detach().unwrap();
    drop(att);
    common::qemu_img_check(&image, Format::Qcow2);
    assert_no_leaks(&env);
}
