//! Tier 3: read-only means read-only, on every backend this machine runs. Writes
//! through the attachment, through a separately opened device node, through a
//! partition node and (storage daemon) straight into the FUSE export all fail, and
//! the image file's bytes are unchanged afterwards.

mod common;

use std::io::Write;
use std::path::Path;

use common::{assert_no_leaks, create_image, opts, privileged, run, sha256};
use vmcraft_block::testing::{TestEnv, conformance};
use vmcraft_block::{BlockDevice, ErrorKind as BlockKind};
use vmcraft_nbd::{Backend, Format, attach};

/// Opening `path` for writing, or writing to it, must fail.
fn assert_unwritable(path: &Path) {
    let attempt = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(&[0xEE; 512]).and_then(|()| f.sync_all()));
    assert!(attempt.is_err(), "{} accepted a write", path.display());
}

/// Give the image a partition table and some data, through a read-write attach.
fn prepare(env: &TestEnv, image: &Path) {
    let att = attach(image, opts(env)).unwrap();
    vmcraft_part::part_disk(&att, "gpt").unwrap();
    att.write_at(&[0x5A; 4096], 8 << 20).unwrap();
    att.detach().unwrap();
}

fn read_only_attach(label: &str, image: &Path, backend: Backend, env: &TestEnv) {
    let before = sha256(image);
    let att = attach(image, opts(env).readonly(true).backend(backend)).unwrap();
    assert_eq!(att.backend(), backend, "{label}");
    assert!(att.is_readonly());
    assert!(
        vmcraft_block::blockdev_getro(att.device()).unwrap(),
        "{label}: BLKROGET"
    );
    conformance::check_read_only(&att);
    let e = att.write_at(&[1; 512], 8 << 20).unwrap_err();
    assert_eq!(e.kind(), BlockKind::ReadOnly);
    let mut data = [0u8; 4096];
    att.read_at(&mut data, 8 << 20).unwrap();
    assert_eq!(data, [0x5A; 4096]);

    assert_unwritable(att.device());
    assert_eq!(att.partitions().len(), 1, "{label}");
    assert_unwritable(&att.partitions()[0].node);
    if backend == Backend::StorageDaemon {
        assert_unwritable(att.loop_backing_file().unwrap());
    }
    att.detach().unwrap();
    assert_eq!(sha256(image), before, "{label}: the image changed");
}

#[test]
fn loop_read_only() {
    if !privileged("read-only attach") {
        return;
    }
    let env = TestEnv::new("ro-loop");
    let image = env.sparse_image("disk.img", 32 << 20);
    prepare(&env, &image);
    read_only_attach("raw/loop", &image, Backend::Loop, &env);
    assert_no_leaks(&env);
}

#[test]
fn storage_daemon_read_only_qcow2() {
    if !privileged("read-only attach") {
        return;
    }
    let env = TestEnv::new("ro-qcow2");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "32M", "");
    prepare(&env, &image);
    read_only_attach("qcow2/daemon", &image, Backend::StorageDaemon, &env);
    assert_no_leaks(&env);
}

#[test]
fn storage_daemon_read_only_raw_and_vmdk() {
    if !privileged("read-only attach") {
        return;
    }
    let env = TestEnv::new("ro-more");
    let raw = env.sparse_image("disk.img", 32 << 20);
    prepare(&env, &raw);
    read_only_attach("raw/daemon", &raw, Backend::StorageDaemon, &env);
    let vmdk = create_image(&env, "disk.vmdk", Format::Vmdk, "32M", "");
    prepare(&env, &vmdk);
    read_only_attach("vmdk/daemon", &vmdk, Backend::StorageDaemon, &env);
    assert_no_leaks(&env);
}

#[test]
fn a_read_only_qcow2_attach_leaves_the_file_byte_identical_even_after_mounting() {
    if !privileged("read-only attach") || !vmcraft_block::testing::require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("ro-mount");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "32M", "");
    let mut att = attach(&image, opts(&env)).unwrap();
    vmcraft_part::part_disk(&att, "gpt").unwrap();
    att.refresh_partitions().unwrap();
    run(&[
        "mkfs.ext4",
        "-q",
        "-F",
        att.partitions()[0].node.to_str().unwrap(),
    ]);
    att.detach().unwrap();

    let before = sha256(&image);
    let att = attach(&image, opts(&env).readonly(true)).unwrap();
    let mnt = env.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    common::mount(&att.partitions()[0].node, &mnt, true);
    assert!(std::fs::write(mnt.join("x"), b"x").is_err());
    // (A DirEntry keeps the directory open: count, do not keep them.)
    assert!(std::fs::read_dir(&mnt).unwrap().count() > 0);
    common::unmount(&mnt);
    att.detach().unwrap();
    assert_eq!(sha256(&image), before);
    assert_no_leaks(&env);
}
