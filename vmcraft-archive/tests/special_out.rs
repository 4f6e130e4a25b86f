//! `tar_out` stores FIFOs and device nodes by default and leaves sockets out,
//! as GNU tar (and so libguestfs's `tar-out`) does, with GNU tar's words for a
//! socket: `./sock: socket ignored`. `special_files: false` still leaves FIFOs
//! and devices out, each named in the skipped list.
//!
//! On a real ext4 on a loop device, made with mkfifo and mknod; GNU tar is the
//! oracle: `tar -tv` lists the same entries (p, c and b with major,minor) for
//! our archive and for its own `--format=posix` one of the same tree, says
//! "socket ignored" for the socket, and extracts ours into the same kinds of
//! nodes with the same numbers.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use vmcraft_archive::{GuestRoot, TarOutOptions, tar_out};
use vmcraft_block::testing::{LoopFixture, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn run(cmd: Command) -> vmcraft_block::Output {
    SystemRunner::new()
        .run(&cmd)
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)))
}

/// `tar -tv --numeric-owner` of `archive`, one entry a line.
fn listing(archive: &Path) -> String {
    run(Command::new("tar")
        .args(["-tv", "--numeric-owner", "-f"])
        .arg(archive))
    .stdout_str()
}

/// The special files, a regular file and a socket, with fixed times.
fn make_tree(dir: &Path) {
    std::fs::create_dir(dir).unwrap();
    run(Command::new("mkfifo").arg(dir.join("fifo")));
    run(Command::new("mknod")
        .arg(dir.join("null"))
        .args(["c", "1", "3"]));
    run(Command::new("mknod")
        .arg(dir.join("tty5"))
        .args(["c", "4", "5"]));
    run(Command::new("mknod")
        .arg(dir.join("loop0"))
        .args(["b", "7", "0"]));
    run(Command::new("mknod")
        .arg(dir.join("sda1"))
        .args(["b", "8", "1"]));
    std::fs::create_dir(dir.join("dev")).unwrap();
    run(Command::new("mknod")
        .arg(dir.join("dev/big-minor"))
        .args(["c", "240", "300000"]));
    std::fs::write(dir.join("file"), b"regular\n").unwrap();
    drop(std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap());
    run(Command::new("find").arg(dir).args([
        "-exec",
        "touch",
        "-h",
        "-d",
        "@1600000000",
        "{}",
        "+",
    ]));
}

#[test]
fn fifos_and_devices_are_stored_by_default_and_sockets_ignored() {
    if !require_root("a loop device, an ext4 mount and mknod")
        || !require_tool("mkfs.ext4")
        || !require_tool("tar")
    {
        return;
    }
    let Some(fx) = LoopFixture::new("archive-special-out", 64 << 20) else {
        return;
    };
    run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(fx.path()));
    let mnt = fx.env().path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run(Command::new("mount").arg(fx.path()).arg(&mnt));
    let result = std::panic::catch_unwind(|| {
        let src = mnt.join("guest");
        make_tree(&src);
        let root = GuestRoot::open(&src).unwrap();
        let ours = fx.env().path().join("ours.tar");
        let stats = tar_out(&root, "/", &ours, &TarOutOptions::default()).unwrap();
        assert_eq!(stats.skipped, ["./sock: socket ignored"]);
        assert_eq!(stats.skipped_total, 1);
        assert_eq!(stats.entries, 9, "./, dev/, 6 nodes, file");

        // GNU tar on the same tree: the same listing, and the same words for
        // the socket.
        let gnu = fx.env().path().join("gnu.tar");
        let out = std::process::Command::new("tar")
            .args(["--format=posix", "--sort=name", "-cf"])
            .arg(&gnu)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "tar: ./sock: socket ignored\n"
        );
        let list = listing(&ours);
        assert_eq!(list, listing(&gnu));
        for want in [
            "prw-r--r-- 0/0 0 2020-09-13 12:26 ./fifo",
            "crw-r--r-- 0/0 1,3 2020-09-13 12:26 ./null",
            "crw-r--r-- 0/0 4,5 2020-09-13 12:26 ./tty5",
            "brw-r--r-- 0/0 7,0 2020-09-13 12:26 ./loop0",
            "brw-r--r-- 0/0 8,1 2020-09-13 12:26 ./sda1",
            "crw-r--r-- 0/0 240,300000 2020-09-13 12:26 ./dev/big-minor",
        ] {
            let want: Vec<&str> = want.split_whitespace().collect();
            assert!(
                list.lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>() == want),
                "{want:?} not in\n{list}"
            );
        }
        assert!(!list.contains("sock"), "{list}");

        // GNU tar extracts the same nodes.
        let x = fx.env().path().join("x");
        std::fs::create_dir(&x).unwrap();
        run(Command::new("tar").arg("-xf").arg(&ours).arg("-C").arg(&x));
        for (name, kind, dev) in [
            ("fifo", 'p', None),
            ("null", 'c', Some((1, 3))),
            ("tty5", 'c', Some((4, 5))),
            ("loop0", 'b', Some((7, 0))),
            ("sda1", 'b', Some((8, 1))),
            ("dev/big-minor", 'c', Some((240, 300_000))),
        ] {
            let (a, b) = (
                std::fs::symlink_metadata(src.join(name)).unwrap(),
                std::fs::symlink_metadata(x.join(name)).unwrap(),
            );
            let ft = b.file_type();
            let got = if ft.is_fifo() {
                'p'
            } else if ft.is_char_device() {
                'c'
            } else if ft.is_block_device() {
                'b'
            } else {
                '?'
            };
            assert_eq!(got, kind, "{name}");
            assert_eq!(b.rdev(), a.rdev(), "{name}");
            if let Some((major, minor)) = dev {
                assert_eq!(
                    (rustix::fs::major(b.rdev()), rustix::fs::minor(b.rdev())),
                    (major, minor),
                    "{name}"
                );
            }
            assert_eq!((b.mode(), b.mtime()), (a.mode(), a.mtime()), "{name}");
        }
        assert!(!x.join("sock").exists());

        // Left out only when asked, each named.
        let opts = TarOutOptions {
            special_files: false,
            ..Default::default()
        };
        let without = fx.env().path().join("without.tar");
        let stats = tar_out(&root, "/", &without, &opts).unwrap();
        assert_eq!(
            stats.skipped,
            [
                "./dev/big-minor: character device",
                "./fifo: fifo",
                "./loop0: block device",
                "./null: character device",
                "./sda1: block device",
                "./sock: socket ignored",
                "./tty5: character device",
            ]
        );
        let list = listing(&without);
        assert_eq!(list.lines().count(), 3, "{list}");
    });
    run(Command::new("umount").arg(&mnt));
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
