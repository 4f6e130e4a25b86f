//! The in-process path needs no privilege: this test binary, re-run as a child
//! (its `dump_child` helper: open the image, list its filesystems, walk each
//! reading every file) as uid and gid 65534 with no supplementary groups
//! (`setpriv`), on raw and qcow2 images
//! of ext4, NTFS and FAT (a GPT disk for FAT), and prints exactly what it
//! prints as root; the images are left byte for byte as they were. The
//! differential tests (ext4.rs, ntfs.rs, fat.rs) show that what root's
//! in-process read shows is what the kernel shows.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{images, run};
use sha2::{Digest, Sha256};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// The child half of the test: with `VMCRAFT_FS_DUMP_IMAGE` set (by
/// [`in_process_reads_need_no_privilege`], which runs this binary again as
/// another user), print the dump of that image between markers; otherwise
/// nothing to do.
#[test]
fn dump_child() {
    let Ok(image) = std::env::var("VMCRAFT_FS_DUMP_IMAGE") else {
        return;
    };
    println!(
        "BEGIN-DUMP\n{}END-DUMP",
        common::dump_image(Path::new(&image))
    );
}

fn digest(p: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

/// The dump of `image` from a child run of this test binary, as root or as
/// uid/gid 65534.
fn dump(image: &Path, as_nobody: bool) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut c = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    c.args(["--exact", "dump_child", "--nocapture", "--test-threads=1"])
        .env("VMCRAFT_FS_DUMP_IMAGE", image);
    let out = run(&mut c);
    let start = out
        .find("BEGIN-DUMP\n")
        .expect("the child printed its dump")
        + 11;
    let end = out.find("END-DUMP").expect("the child finished its dump");
    out[start..end].to_string()
}

#[test]
fn in_process_reads_need_no_privilege() {
    if !require_root("setpriv to drop to uid 65534 (and ntfs-3g to make the NTFS image)")
        || !require_tool("setpriv")
        || !require_tool("mkfs.ext4")
        || !require_tool("mkntfs")
        || !require_tool("mkfs.vfat")
        || !require_tool("mcopy")
        || !require_tool("qemu-img")
    {
        return;
    }
    let env = TestEnv::new("fs-unpriv");
    // The directory must be reachable by uid 65534; the images readable.
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    images::make_tree(&src, true);
    let ext4 = env.path().join("ext4.img");
    images::mkfs(&src, &ext4);
    let ntfs = env.path().join("ntfs.img");
    images::make_ntfs(&env, &ntfs);
    let fat = env.path().join("fat.img");
    images::make_fat(&env, &fat, 32);

    let mut all = Vec::new();
    for raw in [&ext4, &ntfs, &fat] {
        let qcow2 = raw.with_extension("qcow2");
        run(Command::new("qemu-img")
            .args(["convert", "-f", "raw", "-O", "qcow2"])
            .arg(raw)
            .arg(&qcow2));
        all.push(raw.clone());
        all.push(qcow2);
    }
    for image in &all {
        std::fs::set_permissions(image, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = digest(image);
        let as_root = dump(image, false);
        let as_nobody = dump(image, true);
        assert!(
            as_root.lines().count() > 10,
            "{}: {as_root}",
            image.display()
        );
        assert_eq!(as_nobody, as_root, "{}", image.display());
        assert_eq!(digest(image), before, "{} changed", image.display());
    }
    let ext4_dump = dump(&ext4, true);
    assert!(
        ext4_dump.starts_with("# partition None ext4\n"),
        "{ext4_dump}"
    );
    assert!(
        ext4_dump.contains("/abs-link\tSymlink\t120777\t1234\t5678\t"),
        "{ext4_dump}"
    );
    let fat_dump = dump(&fat.with_extension("qcow2"), true);
    assert!(
        fat_dump.contains("/EFI/debian/grubx64.efi\tRegular\t100755\t0\t0\t11\t"),
        "{fat_dump}"
    );
    let ntfs_dump = dump(&ntfs, true);
    assert!(
        ntfs_dump.contains("/sys\tSymlink\t120777\t0\t0\t17\t"),
        "{ntfs_dump}"
    );

    // And uid 65534 cannot take the kernel path: mounting is refused.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "mount",
            "-o",
            "ro,loop",
        ])
        .arg(&ext4)
        .arg(env.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}
