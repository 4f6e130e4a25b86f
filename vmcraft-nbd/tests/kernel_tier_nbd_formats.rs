//! The kernel test tier (`cargo xtask test-kernel`), or a host with the nbd
//! module: qcow2 and vmdk images attached through kernel NBD (`qemu-nbd
//! --connect`) for real. Each image is partitioned, given an ext4 filesystem
//! that the kernel mounts through the NBD partition node, and written raw at a
//! known offset; the detach leaves no NBD device connected (no server pid, size
//! 0), `qemu-img check` is clean and qemu's own view of the image (`qemu-img
//! convert` to raw) holds the data. A read-only attach refuses every write
//! (through the attachment, the device node and the partition node), still
//! reads the data and the file, and leaves the image byte-identical. On hosts
//! without the module this is a loud skip that stays a skip in strict mode.

mod common;

use std::io::Write;
use std::path::Path;

use common::{
    assert_no_leaks, create_image, mount, opts, privileged, qemu_img_check, run, sha256, unmount,
};
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_tool};
use vmcraft_block::{BlockDevice, ErrorKind as BlockKind};
use vmcraft_nbd::{Backend, Format, NbdHost, attach};

/// Where the raw pattern goes, past the filesystem's partition.
const PATTERN_AT: u64 = 40 << 20;

/// The device number of `/dev/nbdN`.
fn nbd_index(dev: &Path) -> u32 {
    let s = dev.to_string_lossy();
    s.strip_prefix("/dev/nbd")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{s} is not an nbd device"))
}

/// Whether the kernel still shows `/dev/nbdN` with a server or a size.
fn still_connected(n: u32) -> Option<String> {
    let sys = format!("/sys/block/nbd{n}");
    let pid = std::fs::read_to_string(format!("{sys}/pid")).ok();
    let size = std::fs::read_to_string(format!("{sys}/size")).unwrap_or_default();
    let size = size.trim().to_string();
    (pid.is_some() || size != "0").then(|| format!("{sys}: pid {pid:?}, size {size}"))
}

/// Opening `path` for writing, or writing to it, must fail.
fn assert_unwritable(path: &Path) {
    let attempt = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(&[0xEE; 512]).and_then(|()| f.sync_all()));
    assert!(attempt.is_err(), "{} accepted a write", path.display());
}

/// The whole kernel-NBD life of one image format.
fn kernel_nbd_life(format: Format) {
    if !privileged("kernel nbd") || !require_tool("qemu-nbd") || !require_tool("mkfs.ext4") {
        return;
    }
    let host = NbdHost::system(None);
    if !require_kernel_feature(
        "the nbd module (/dev/nbd0)",
        host.is_available() || host.module_loadable(),
    ) {
        return;
    }
    let env = TestEnv::new(&format!("nbd-{format}"));
    let image = create_image(&env, &format!("disk.{format}"), format, "64M", "");
    let mnt = env.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let message = format!("written through /dev/nbd as {format}\n");

    // Read-write: table, filesystem, file, raw pattern.
    let mut att = attach(&image, opts(&env).backend(Backend::KernelNbd)).unwrap();
    assert_eq!(att.backend(), Backend::KernelNbd);
    assert_eq!(att.format(), format);
    let dev = att.device().to_path_buf();
    let n = nbd_index(&dev);
    assert!(host.is_connected(n));
    assert_eq!(att.size().unwrap(), 64 << 20);
    assert!(
        att.partitions().is_empty(),
        "a blank image has no partitions"
    );
    vmcraft_part::part_init(&att, "gpt").unwrap();
    vmcraft_part::part_add(&att, "p", 2048, 63487).unwrap();
    let parts = att.refresh_partitions().unwrap().to_vec();
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(
        (parts[0].number, parts[0].start, parts[0].size),
        (1, 2048 * 512, 61440 * 512)
    );
    assert_eq!(parts[0].node, Path::new(&format!("/dev/nbd{n}p1")));
    let p1 = parts[0].node.to_str().unwrap().to_string();
    run(&["mkfs.ext4", "-q", "-F", &p1]);
    mount(&parts[0].node, &mnt, false);
    std::fs::write(mnt.join("hello.txt"), &message).unwrap();
    unmount(&mnt);
    let pattern: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    att.write_at(&pattern, PATTERN_AT).unwrap();
    att.flush().unwrap();
    let mut back = vec![0u8; pattern.len()];
    att.read_at(&mut back, PATTERN_AT).unwrap();
    assert_eq!(back, pattern);
    att.detach().unwrap();
    assert_eq!(still_connected(n), None, "the disconnect left nbd{n}");
    assert!(!host.is_connected(n));
    assert!(!Path::new(&format!("/sys/block/nbd{n}/nbd{n}p1")).exists());
    assert_no_leaks(&env);
    qemu_img_check(&image, format);

    // qemu's own reading of the image holds what went through the device.
    let raw = env.path().join("oracle.raw");
    run(&[
        "qemu-img",
        "convert",
        "-f",
        format.qemu_driver(),
        "-O",
        "raw",
        image.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&raw).unwrap();
    let at = PATTERN_AT as usize;
    assert_eq!(&bytes[at..at + pattern.len()], &pattern[..]);
    std::fs::remove_file(&raw).unwrap();

    // Read-only, three times (each connect's own partition scan by the kernel
    // meets VMCraft's partition sync): every write refused, the data and the
    // file still there, the image unchanged.
    let before = sha256(&image);
    for _ in 0..3 {
        read_only_round(&env, &image, &mnt, &pattern, &message);
    }
    assert_eq!(
        sha256(&image),
        before,
        "a read-only attach changed the image"
    );
    qemu_img_check(&image, format);
    assert_no_leaks(&env);
}

/// One read-only attach of the image [`kernel_nbd_life`] wrote.
fn read_only_round(env: &TestEnv, image: &Path, mnt: &Path, pattern: &[u8], message: &str) {
    let att = attach(image, opts(env).backend(Backend::KernelNbd).readonly(true))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));
    assert_eq!(att.backend(), Backend::KernelNbd);
    assert!(att.is_readonly());
    let dev = att.device().to_path_buf();
    let n = nbd_index(&dev);
    assert!(vmcraft_block::blockdev_getro(&dev).unwrap(), "BLKROGET");
    let e = att.write_at(&[1; 512], PATTERN_AT).unwrap_err();
    assert_eq!(e.kind(), BlockKind::ReadOnly, "{e}");
    assert_unwritable(&dev);
    assert_eq!(att.partitions().len(), 1);
    assert_unwritable(&att.partitions()[0].node);
    let mut back = vec![0u8; pattern.len()];
    att.read_at(&mut back, PATTERN_AT).unwrap();
    assert_eq!(back, pattern);
    mount(&att.partitions()[0].node, mnt, true);
    assert_eq!(
        std::fs::read_to_string(mnt.join("hello.txt")).unwrap(),
        message
    );
    assert!(std::fs::write(mnt.join("new"), b"x").is_err());
    unmount(mnt);
    att.detach().unwrap();
    assert_eq!(still_connected(n), None, "the disconnect left nbd{n}");
}

#[test]
fn kernel_nbd_qcow2() {
    kernel_nbd_life(Format::Qcow2);
}

#[test]
fn kernel_nbd_vmdk() {
    kernel_nbd_life(Format::Vmdk);
}
