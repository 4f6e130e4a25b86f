//! NTFS read in-process against ntfs-3g: a volume made by `mkntfs` and
//! populated through an ntfs-3g mount (resident and non-resident files, a
//! sparse file, a B-tree directory of 1500 entries, hard links, symlinks and a
//! FIFO as ntfs-3g writes them, a named stream, Unicode and mixed-case
//! names, set times),
//! compared file for file (type, mode, owners, size, link count, inode number,
//! blocks, all three times, link targets, bytes, named streams as `user.`
//! attributes) with the volume mounted
//! read-only by ntfs-3g and read through `GuestRoot`; then the same volume as
//! qcow2 and inside an MBR partition.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{Fields, Mount, assert_same, images, run, snapshot};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};
use vmcraft_fs::{
    ErrorKind, FsType, GuestTree, ReadAt, Window, list_filesystems, open_fs, open_image, probe,
};

#[test]
fn ntfs_in_process_equals_ntfs3g() {
    if !require_root("an ntfs-3g mount")
        || !require_tool("mkntfs")
        || !require_tool("ntfs-3g")
        || !require_tool("qemu-img")
        || !require_tool("sfdisk")
    {
        return;
    }
    let env = TestEnv::new("fs-ntfs");
    let image = env.path().join("ntfs.img");
    images::make_ntfs(&env, &image);

    let disk = open_image(&image).unwrap();
    assert_eq!(probe(&*disk).unwrap(), Some(FsType::Ntfs));
    let tree = open_fs(disk).unwrap();
    let ours = snapshot(&*tree);

    let theirs = {
        let m = Mount::ntfs3g(&image, env.path().join("mnt"), "ro");
        let root = vmcraft_fs::GuestRoot::open(&m.dir).unwrap();
        let snap = snapshot(&root);
        drop(root);
        drop(m);
        snap
    };
    assert!(ours.len() > 1500, "{} paths", ours.len());
    assert_same("ntfs: in-process vs ntfs-3g", &ours, &theirs, Fields::ALL);

    // Spot checks.
    assert_eq!(tree.stat("/small.txt").unwrap().nlink, Some(2));
    assert_eq!(tree.lstat("/sys").unwrap().mode, 0o120777);
    assert_eq!(tree.readlink("/sys").unwrap(), "/Windows/System32");
    assert_eq!(
        tree.read_file("/sys/config/SOFTWARE", 100).unwrap(),
        b"regf hive bytes"
    );
    assert_eq!(tree.lstat("/fifo").unwrap().mode, 0o010777);
    assert_eq!(
        tree.getxattr("/big.bin", "user.Zone.Identifier").unwrap(),
        b"[ZoneTransfer]"
    );
    assert!(
        theirs["/big.bin"].xattrs[0].starts_with("user.Zone.Identifier="),
        "{:?}",
        theirs["/big.bin"].xattrs
    );
    // ntfs-3g writes names in the POSIX namespace, which is case-sensitive
    // (a Win32 name, as Windows writes it, is also found in another case).
    assert!(!tree.exists("/windows/SYSTEM32/config/software").unwrap());
    assert_eq!(
        tree.read_range("/sparse", (8 << 20) - 6, 100).unwrap(),
        b"\0\0tail"
    );
    assert_eq!(
        tree.read_file("/big.bin", 1000).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    let names: Vec<String> = tree
        .read_dir("/")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(!names.iter().any(|n| n.starts_with('$')), "{names:?}");

    // qcow2, and an MBR partition of a raw and a qcow2 disk.
    let qcow2 = env.path().join("ntfs.qcow2");
    run(Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&image)
        .arg(&qcow2));
    assert_same(
        "ntfs: qcow2 vs raw",
        &snapshot(&*open_fs(open_image(&qcow2).unwrap()).unwrap()),
        &ours,
        Fields::ALL,
    );
    let disk = env.sparse_image("disk.img", 80 << 20);
    let mut child = Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, size=131072, type=7\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    run(Command::new("dd")
        .arg(format!("if={}", image.display()))
        .arg(format!("of={}", disk.display()))
        .args(["bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"]));
    let disk_qcow2 = env.path().join("disk.qcow2");
    run(Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&disk)
        .arg(&disk_qcow2));
    for d in [&disk, &disk_qcow2] {
        let img = open_image(d).unwrap();
        let found = list_filesystems(&*img).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].fs_type, Some(FsType::Ntfs));
        let part: Arc<dyn ReadAt> =
            Arc::new(Window::new(img.clone(), found[0].offset, found[0].len).unwrap());
        assert_same(
            &format!("ntfs in an MBR partition of {}", d.display()),
            &snapshot(&*open_fs(part).unwrap()),
            &ours,
            Fields::ALL,
        );
    }
}
