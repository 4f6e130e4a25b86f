//! `copy-in` and `copy-out` through the binary on a real ext4 image: a host tree
//! copied in and back out is the same tree (contents, modes, symlinks, times,
//! owners), checked with GNU diff and stat; a hostile guest tree copied out
//! cannot plant a setuid program or write through a symlink on the host; bad
//! arguments are refused and change nothing.

mod cli_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use cli_support::{image, script, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

const PREPARE: &str = "run\npart-disk /dev/sda mbr\nmkfs ext4 /dev/sda1\nmount /dev/sda1 /\n";

fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("tree/sub/deeper")).unwrap();
    std::fs::write(root.join("tree/a.txt"), "alpha\n").unwrap();
    std::fs::write(root.join("tree/sub/b.bin"), vec![0u8, 1, 2, 255]).unwrap();
    std::fs::write(root.join("tree/sub/deeper/c"), "c").unwrap();
    std::fs::set_permissions(
        root.join("tree/a.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("tree/sub"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    symlink("sub/b.bin", root.join("tree/link")).unwrap();
    std::os::unix::fs::chown(root.join("tree/sub/deeper/c"), Some(1234), Some(5678)).unwrap();
    std::fs::write(root.join("single.txt"), "one file\n").unwrap();
    std::fs::set_permissions(
        root.join("single.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

#[test]
fn a_tree_copied_in_and_out_is_the_same_tree() {
    if !require_root("attaching images") || !require_tool("diff") {
        return;
    }
    let env = TestEnv::new("cli-copy");
    let img = image(&env, "fs.img", 64 << 20);
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    let out = env.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let whole = env.path().join("whole");
    std::fs::create_dir(&whole).unwrap();
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "{PREPARE}mkdir /dest\ncopy-in {s}/tree {s}/single.txt /dest\nls /dest\nls /dest/tree\n\
             readlink /dest/tree/link\ncopy-out /dest/tree /dest/single.txt {o}\n\
             copy-out / {w}\n",
            s = src.display(),
            o = out.display(),
            w = whole.display()
        ),
    );
    assert_eq!(o.ok(), "single.txt\ntree\na.txt\nlink\nsub\nsub/b.bin\n");
    // GNU diff: same names, same contents, symlinks compared as links.
    tool(
        "diff",
        &[
            "-r",
            "--no-dereference",
            src.join("tree").to_str().unwrap(),
            out.join("tree").to_str().unwrap(),
        ],
    );
    // The guest's / goes into the directory itself, as libguestfs copies it.
    assert_eq!(
        std::fs::read(whole.join("dest/tree/a.txt")).unwrap(),
        b"alpha\n"
    );
    assert!(whole.join("lost+found").is_dir());
    // A single file gets the host's usual mode, not the guest's.
    assert_eq!(
        std::fs::read(out.join("single.txt")).unwrap(),
        b"one file\n"
    );
    for rel in ["tree/a.txt", "tree/sub", "tree/sub/deeper/c"] {
        let a = std::fs::symlink_metadata(src.join(rel)).unwrap();
        let b = std::fs::symlink_metadata(out.join(rel)).unwrap();
        assert_eq!(a.mode(), b.mode(), "{rel}");
        assert_eq!((a.uid(), a.gid()), (b.uid(), b.gid()), "{rel}");
        if a.is_file() {
            assert_eq!(a.mtime(), b.mtime(), "{rel}");
        }
    }
    assert!(
        std::fs::symlink_metadata(out.join("tree/link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_hostile_tree_copied_out_stays_where_it_is_put() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-copy-hostile");
    let img = image(&env, "fs.img", 64 << 20);
    let victim = env.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let out = env.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "{PREPARE}mkdir /x\nwrite /x/suid '#!/bin/sh'\nchmod 06755 /x/suid\n\
             ln-s {v} /x/escape\nmkdir /x/escape2\nln-s {v}/planted /x/dangling\n\
             mknod-b 0666 8 0 /x/disk\nmknod-c 0666 1 1 /x/mem\nmkfifo 0666 /x/fifo\n\
             copy-out /x {o}\n-copy-out /x/escape {o}\n",
            v = victim.display(),
            o = out.display()
        ),
    );
    assert!(
        o.stderr
            .contains("vmcraft: error: copy_out: /x/escape: not a file or directory"),
        "{}",
        o.stderr
    );
    for special in ["x/disk", "x/mem", "x/fifo"] {
        assert!(
            std::fs::symlink_metadata(out.join(special)).is_err(),
            "{special}: no device node or FIFO is made on the host"
        );
    }
    let suid = std::fs::metadata(out.join("x/suid")).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o755, "setuid/setgid bits dropped");
    assert!(
        std::fs::symlink_metadata(out.join("x/escape"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "a symlink is copied as a symlink"
    );
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing was written through a guest symlink"
    );
}

#[test]
fn bad_copies_are_refused_and_change_nothing() {
    if !require_root("attaching images") || !require_tool("mkfifo") {
        return;
    }
    let env = TestEnv::new("cli-copy-bad");
    let img = image(&env, "fs.img", 64 << 20);
    let fifo = env.path().join("fifo");
    tool("mkfifo", &[fifo.to_str().unwrap()]);
    let out = env.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "{PREPARE}write /file x\n\
             -copy-in {e}/missing /\n\
             -copy-in {e}/fs.img /file\n\
             -copy-in {f} /\n\
             -copy-out /file {e}/no-such-dir\n\
             -copy-out /missing {o}\n\
             -copy-in /\n\
             ls /\n",
            e = env.path().display(),
            f = fifo.display(),
            o = out.display()
        ),
    );
    assert_eq!(o.stdout, "file\nlost+found\n");
    for want in [
        "copy_in: ",
        "copy_in: /file: not a directory in the guest",
        "only files, directories and symbolic links are copied",
        "no-such-dir: not a directory on the host",
        "copy_in: /: expected copy-in LOCAL [LOCAL ...] REMOTEDIR",
    ] {
        assert!(o.stderr.contains(want), "{want}: {}", o.stderr);
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}
