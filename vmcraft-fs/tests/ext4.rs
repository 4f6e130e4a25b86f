//! ext4 read in-process against the kernel: an image made by `mkfs.ext4 -d` from
//! a tree with files, directories, symlinks (absolute, relative, dangling,
//! climbing past the root), hard links, a sparse file, a hashed directory,
//! extended attributes, odd modes, owners and nanosecond times, compared file
//! for file (type, mode, owners, size, times, link targets, bytes) with the
//! same image mounted by the kernel (loop device, `ro,noload`) and read through
//! `GuestRoot`, inode numbers, link counts, blocks, change times, device
//! numbers and `user.`/`trusted.` attributes included; then the same image as qcow2 (compressed), and inside a GPT
//! partition of a raw and a qcow2 disk.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{Fields, Mount, assert_same, images, run, snapshot, snapshot_except};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};
use vmcraft_block::{LoopDevice, LoopOptions};
use vmcraft_fs::{
    ErrorKind, FsType, GuestTree, ReadAt, Window, list_filesystems, open_fs, open_image, probe,
};

fn in_process(image: &Path) -> vmcraft_fs::BoxedTree {
    let disk = open_image(image).unwrap();
    assert_eq!(probe(&*disk).unwrap(), Some(FsType::Ext4));
    open_fs(disk).unwrap()
}

#[test]
fn ext4_in_process_equals_kernel_mount() {
    if !require_root("a loop device and a kernel ext4 mount")
        || !require_tool("mkfs.ext4")
        || !require_tool("setfattr")
        || !require_tool("qemu-img")
        || !require_tool("sfdisk")
    {
        return;
    }
    let env = TestEnv::new("fs-ext4");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    images::make_tree(&src, true);
    let image = env.path().join("ext4.img");
    images::mkfs(&src, &image);

    let tree = in_process(&image);
    let ours = snapshot(&*tree);

    // The kernel's view: loop device read-only, mounted without journal replay.
    let kernel = {
        let lo = LoopDevice::attach(
            &image,
            LoopOptions {
                readonly: true,
                ..Default::default()
            },
        )
        .unwrap();
        let m = Mount::new(lo.path(), env.path().join("mnt"), Some("ext4"), "ro,noload");
        let root = vmcraft_fs::GuestRoot::open(&m.dir).unwrap();
        let snap = snapshot(&root);
        calls_answer_the_same(&root, &*in_process(&image));
        drop(root);
        drop(m);
        drop(lo);
        snap
    };
    assert!(ours.len() > 1500, "{} paths", ours.len());
    assert_same("ext4: in-process vs kernel", &ours, &kernel, Fields::ALL);
    assert!(
        kernel["/etc/hostname"]
            .xattrs
            .contains(&"user.comment=68656c6c6f".to_string())
    );

    // Spot checks of what the comparison covers.
    let st = tree.lstat("/odd").unwrap();
    assert_eq!(st.mode, 0o100000);
    assert_eq!((st.uid, st.gid), (4_000_000_000, 65534));
    assert_eq!((st.atime.sec, st.mtime.sec), (1, 2_000_000_000));
    assert_eq!(tree.stat("/bin/tool").unwrap().mode, 0o104755);
    assert_eq!(tree.read_file("/winding", 100).unwrap(), b"guest\n");
    assert_eq!(tree.read_file("/up/hostname", 100).unwrap(), b"guest\n");
    assert_eq!(tree.stat("/loop-a").unwrap_err().kind(), ErrorKind::Loop);
    assert_eq!(
        tree.stat("/dangling").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        tree.read_file("/fifo", 10).unwrap_err().kind(),
        ErrorKind::NotARegularFile
    );
    assert_eq!(
        tree.read_file("/bin/big", 1 << 20).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    assert_eq!(
        tree.read_range("/sparse", (1 << 20) - 2, 8).unwrap(),
        b"\0\0middle"
    );
    assert_eq!(
        tree.read_range("/sparse", (16 << 20) - 3, 100).unwrap(),
        b"end"
    );
    assert_eq!(tree.read_dir("/many").unwrap().len(), 1500);
    assert_eq!(
        tree.getxattr("/etc/hostname", "user.comment").unwrap(),
        b"hello"
    );
    assert_eq!(
        tree.getxattr("/bin/tool", "user.bin").unwrap(),
        [0x00, 0xff, 0x10]
    );
    let hard = tree.lstat("/hard-hostname").unwrap();
    assert_eq!(
        (hard.nlink, hard.ino),
        (Some(2), tree.lstat("/etc/hostname").unwrap().ino)
    );
    assert_eq!(tree.lstat("/null").unwrap().rdev, Some(libc::makedev(1, 3)));
    assert_eq!(tree.lstat("/").unwrap().ino, Some(2));

    // The same filesystem as a compressed qcow2.
    let qcow2 = env.path().join("ext4.qcow2");
    run(Command::new("qemu-img")
        .args(["convert", "-c", "-f", "raw", "-O", "qcow2"])
        .arg(&image)
        .arg(&qcow2));
    assert_same(
        "ext4: qcow2 vs raw",
        &snapshot(&*in_process(&qcow2)),
        &ours,
        Fields::ALL,
    );

    // Inside a GPT partition, raw and qcow2.
    let disk = env.sparse_image("disk.img", 100 << 20);
    let mut sfdisk = Command::new("sfdisk");
    sfdisk
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&disk);
    sfdisk.stdin(std::process::Stdio::piped());
    let mut child = sfdisk.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: gpt\nstart=2048, size=196608, type=linux\n")
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
        assert_eq!(found[0].partition, Some(1));
        assert_eq!(found[0].offset, 1 << 20);
        assert_eq!(found[0].fs_type, Some(FsType::Ext4));
        let part: Arc<dyn ReadAt> =
            Arc::new(Window::new(img.clone(), found[0].offset, found[0].len).unwrap());
        let fs = open_fs(part).unwrap();
        assert_same(
            &format!("ext4 in a GPT partition of {}", d.display()),
            &snapshot(&*fs),
            &ours,
            Fields::ALL,
        );
    }
}

/// ext2 and ext3 (no extents, indirect blocks; a journal) read the same.
#[test]
fn ext2_and_ext3_read_in_process() {
    if !require_tool("mkfs.ext4") || !require_tool("setfattr") {
        return;
    }
    let env = TestEnv::new("fs-ext23");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    images::make_tree(&src, false);
    for (t, want) in [("ext2", FsType::Ext2), ("ext3", FsType::Ext3)] {
        let image = env.path().join(format!("{t}.img"));
        run(Command::new(format!("mkfs.{t}"))
            .args(["-q", "-F", "-d"])
            .arg(&src)
            .arg(&image)
            .arg("96M"));
        let disk = open_image(&image).unwrap();
        assert_eq!(probe(&*disk).unwrap(), Some(want));
        let fs = open_fs(disk).unwrap();
        // ext4-view 1.0 fails on holes in block-mapped (non-extent) files: an
        // error, not wrong bytes.
        assert_eq!(
            fs.read_file("/sparse", 32 << 20).unwrap_err().kind(),
            ErrorKind::Corrupt,
            "{t}"
        );
        let snap = snapshot_except(&*fs, "/sparse");
        assert_eq!(fs.read_file("/rel-link", 10).unwrap(), b"guest\n", "{t}");
        let big = &snap["/bin/big"];
        assert_eq!(big.stat.size, 3 * 1024 * 1024, "{t}");
        assert_eq!(fs.lstat("/sparse").unwrap().size, 16 << 20, "{t}");
        assert!(!snap.contains_key("/sparse"));
        assert_eq!(fs.read_dir("/many").unwrap().len(), 1500, "{t}");
    }
}

/// The calls a read-only session makes, on both paths: the same answers, and
/// the same error kinds where they fail.
fn calls_answer_the_same(kernel: &dyn GuestTree, ours: &dyn GuestTree) {
    let paths = [
        "/",
        "/etc/hostname",
        "/abs-link",
        "/rel-link",
        "/winding",
        "/up",
        "/up/hostname",
        "/dangling",
        "/loop-a",
        "/loop-a/x",
        "/nope",
        "/etc/hostname/x",
        "/etc/hostname/",
        "/etc/",
        "/etc/../etc/./hostname",
        "/../../etc/hostname",
        "etc/hostname",
        "/fifo",
        "/null",
        "/bin",
    ];
    let kind = |e: vmcraft_fs::Error| e.kind();
    for p in paths {
        let stat = |t: &dyn GuestTree| t.stat(p).map(|s| (s.mode, s.size)).map_err(kind);
        let lstat = |t: &dyn GuestTree| t.lstat(p).map(|s| (s.mode, s.size)).map_err(kind);
        let readlink = |t: &dyn GuestTree| t.readlink(p).map_err(kind);
        let read = |t: &dyn GuestTree| t.read_file(p, 1 << 20).map_err(kind);
        let range = |t: &dyn GuestTree| t.read_range(p, 2, 3).map_err(kind);
        let dir = |t: &dyn GuestTree| t.read_dir(p).map(|d| d.len()).map_err(kind);
        let is = |t: &dyn GuestTree| {
            (
                t.exists(p).map_err(kind),
                t.is_file(p).map_err(kind),
                t.is_dir(p).map_err(kind),
                t.is_symlink(p).map_err(kind),
            )
        };
        assert_eq!(stat(ours), stat(kernel), "stat {p}");
        assert_eq!(lstat(ours), lstat(kernel), "lstat {p}");
        assert_eq!(readlink(ours), readlink(kernel), "readlink {p}");
        assert_eq!(read(ours), read(kernel), "read_file {p}");
        assert_eq!(range(ours), range(kernel), "read_range {p}");
        assert_eq!(dir(ours), dir(kernel), "read_dir {p}");
        assert_eq!(is(ours), is(kernel), "is-* {p}");
    }
}

/// A directory listed whole answers lookups of names it lacks from the cache
/// (inspection asks for dozens of release files that do not exist): the same
/// answers, errors included, as a reader that has listed nothing, for missing
/// names, present ones, and paths that are not plain names.
#[test]
fn lookups_in_listed_directories_answer_as_uncached_ones() {
    if !require_tool("mkfs.ext4") || !require_tool("setfattr") {
        return;
    }
    let env = TestEnv::new("fs-ext4-listed");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    images::make_tree(&src, false);
    let image = env.path().join("ext4.img");
    images::mkfs(&src, &image);
    let warm = in_process(&image);
    // Lists / and /etc (whole), as inspection's first lookups do.
    warm.lstat("/etc").unwrap();
    warm.lstat("/etc/redhat-release").unwrap_err();
    warm.read_dir("/").unwrap();
    let paths = [
        "/etc/redhat-release",
        "/etc/SuSE-release",
        "/etc/hostname",
        "/etc/hostname/x",
        "/etc/.",
        "/etc/..",
        "/etc/",
        "/nope",
        "/bin",
        "/bin/nope",
        "/many/nope",
        "/abs-link",
        "/dangling",
    ];
    for p in paths {
        let fresh = in_process(&image);
        let show = |t: &dyn GuestTree| {
            (
                t.lstat(p)
                    .map(|s| (s.mode, s.size, s.ino))
                    .map_err(|e| e.to_string()),
                t.exists(p).map_err(|e| e.to_string()),
                t.is_dir(p).map_err(|e| e.to_string()),
            )
        };
        // Twice on the warm reader: the second answer is the cache's.
        assert_eq!(show(&*warm), show(&*fresh), "{p}");
        assert_eq!(show(&*warm), show(&*fresh), "{p} (cached)");
    }
}
