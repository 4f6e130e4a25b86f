//! Read-only sessions read in-process (`Config::inprocess_reads`, the default):
//! on real raw and qcow2 disks (a GPT with ext4, FAT32 and NTFS partitions made
//! by mkfs.ext4 -d, mkfs.vfat + mtools and mkntfs + ntfs-3g), the in-process
//! session attaches nothing (no loop device, no qemu process), and every read
//! call answers as the kernel-mounted session does on the same image (names,
//! types, modes, owners, sizes, times, link targets, checksums, contents;
//! `st_dev` and `st_blksize` excepted, which the in-process path cannot know),
//! inspection included; a call that needs the kernel moves the mounts there and
//! goes on with the same answers; the image is never written.
//!
//! The kernel path mounts FAT through fusefat on this host (no kernel vfat),
//! which shows short names in upper case where Linux's vfat and the in-process
//! reader show them in lower case (and whose tree `find` cannot walk), so the
//! FAT partition is checked against the names mtools wrote instead.

#[path = "../../vmcraft-fs/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{images, run};
use vmcraft::{Config, DriveOpts, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

/// A GPT disk: p1 the ext4 test tree (with `/win` and `/boot/efi` to mount
/// on), p2 the FAT32 image, p3 the NTFS image.
fn make_disk(env: &TestEnv) -> std::path::PathBuf {
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    images::make_tree(&src, true);
    std::fs::create_dir_all(src.join("win")).unwrap();
    std::fs::create_dir_all(src.join("boot/efi")).unwrap();
    std::fs::write(
        src.join("etc/os-release"),
        "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("etc/fstab"),
        "/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /boot/efi vfat umask=0077 0 1\n",
    )
    .unwrap();
    let ext4 = env.path().join("ext4.img");
    images::mkfs(&src, &ext4);
    let fat = env.path().join("fat.img");
    images::make_fat(env, &fat, 32);
    let ntfs = env.path().join("ntfs.img");
    images::make_ntfs(env, &ntfs);

    let disk = env.path().join("disk.img");
    let mib = |p: &Path| std::fs::metadata(p).unwrap().len().div_ceil(1 << 20);
    let (e, f, n) = (mib(&ext4), mib(&fat), mib(&ntfs));
    std::fs::File::create(&disk)
        .unwrap()
        .set_len((e + f + n + 2) << 20)
        .unwrap();
    let script = format!(
        "label: gpt\nstart=1MiB, size={e}MiB, type=linux\nsize={f}MiB, type=uefi\nsize={n}MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"
    );
    let mut sf = Command::new("sfdisk");
    sf.arg("-q").arg(&disk);
    sf.stdin(std::process::Stdio::piped());
    let mut child = sf.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut at = 1;
    for (img, size) in [(&ext4, e), (&fat, f), (&ntfs, n)] {
        run(Command::new("dd")
            .arg(format!("if={}", img.display()))
            .arg(format!("of={}", disk.display()))
            .args(["bs=1M", "conv=notrunc,sparse", "status=none"])
            .arg(format!("seek={at}")));
        at += size;
    }
    disk
}

fn session(env: &TestEnv, image: &Path, inprocess: bool) -> VMCraft {
    let g = VMCraft::with_config(
        Config::builder()
            .tmpdir(env.path())
            .inprocess_reads(inprocess)
            .build(),
    );
    g.add_drive_opts(
        image,
        DriveOpts {
            readonly: true,
            ..Default::default()
        },
    )
    .unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda1", "/").unwrap();
    g.mount_ro("/dev/sda3", "/win").unwrap();
    g
}

/// Everything the read calls say of every path, as text.
fn snapshot(g: &VMCraft, top: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let base = if top == "/" {
        String::new()
    } else {
        top.to_string()
    };
    for rel in g.find(top).unwrap() {
        let p = format!("{base}{}{rel}", if top == "/" { "/" } else { "" });
        let st = g.lstatns(&p).unwrap();
        let mut s = format!(
            "ino={} mode={:o} nlink={} uid={} gid={} rdev={} size={} blocks={} atime={}.{} mtime={}.{} ctime={}.{}",
            st.st_ino,
            st.st_mode,
            st.st_nlink,
            st.st_uid,
            st.st_gid,
            st.st_rdev,
            st.st_size,
            st.st_blocks,
            st.st_atime_sec,
            st.st_atime_nsec,
            st.st_mtime_sec,
            st.st_mtime_nsec,
            st.st_ctime_sec,
            st.st_ctime_nsec,
        );
        s += &format!(
            " exists={} file={} dir={} symlink={}",
            g.exists(&p).unwrap(),
            g.is_file(&p).unwrap(),
            g.is_dir(&p).unwrap(),
            g.is_symlink(&p).unwrap()
        );
        let kind = st.st_mode as u32 & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            s += &format!(" link={}", g.readlink(&p).unwrap());
            s += &format!(
                " stat={:?}",
                g.stat(&p).map(|s| s.size).map_err(|e| e.to_string())
            );
        }
        if kind == libc::S_IFREG {
            s += &format!(" sha256={}", g.checksum("sha256", &p).unwrap());
            s += &format!(" filesize={}", g.filesize(&p).unwrap());
        }
        // The content calls, on all but the 3000 small files of the `many`
        // directories (which would only make the test slow).
        if kind == libc::S_IFREG && !p.contains("/many/") {
            s += &format!(
                " head={:?} tail={:?} wc_c={:?} wc_l={:?} zero={:?}",
                g.head_n(2, &p).map_err(|e| e.to_string()),
                g.tail_n(2, &p).map_err(|e| e.to_string()),
                g.wc_c(&p).map_err(|e| e.to_string()),
                g.wc_l(&p).map_err(|e| e.to_string()),
                g.is_zero(&p).map_err(|e| e.to_string()),
            );
        }
        if kind == libc::S_IFDIR {
            s += &format!(" ls={}", g.ls(&p).unwrap().len());
        }
        out.insert(p, s);
    }
    out
}

/// Whether the session attached `image`: a loop device over it, or a qemu
/// process of this test (its private runtime directory is under the test's
/// directory; other tests' daemons running meanwhile do not count).
fn attached_anything(env: &TestEnv, image: &Path) -> bool {
    // A loop device over the image, or over a qemu export in this test's
    // directory.
    let all = run(Command::new("losetup").args(["-n", "-O", "BACK-FILE", "-l"]));
    let here = env.path().display().to_string();
    let loops = all
        .lines()
        .filter(|l| l.contains(&here) || l.trim() == image.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let qsd = Command::new("pgrep")
        .arg("-f")
        .arg(format!("qemu-storage-daemon.*{}", env.path().display()))
        .output()
        .unwrap();
    !loops.trim().is_empty() || !qsd.stdout.is_empty()
}

fn digest(p: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

#[test]
fn read_only_sessions_read_in_process_as_the_kernel_does() {
    if !require_root("mounting the kernel path to compare with")
        || !require_tool("mkfs.ext4")
        || !require_tool("mkntfs")
        || !require_tool("ntfs-3g")
        || !require_tool("mkfs.vfat")
        || !require_tool("mcopy")
        || !require_tool("fusefat")
        || !require_tool("qemu-img")
        || !require_tool("sfdisk")
    {
        return;
    }
    let env = TestEnv::new("inproc");
    let raw = make_disk(&env);
    let qcow2 = raw.with_extension("qcow2");
    run(Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&qcow2));
    for image in [&raw, &qcow2] {
        let before = digest(image);
        let g = session(&env, image, true);
        assert!(
            !attached_anything(&env, image),
            "{}: the in-process session attached it",
            image.display()
        );
        assert!(
            g.mount_entries()
                .iter()
                .all(|m| m.strategy == vmcraft::inproc::INPROCESS_STRATEGY),
            "{:?}",
            g.mount_entries()
        );
        assert_eq!(
            g.list_filesystems().unwrap(),
            [
                ("/dev/sda1".to_string(), "ext4".to_string()),
                ("/dev/sda2".to_string(), "vfat".to_string()),
                ("/dev/sda3".to_string(), "ntfs".to_string()),
            ]
        );
        let inproc = snapshot(&g, "/");
        let roots = g.inspect_os().unwrap();
        assert_eq!(roots, ["/dev/sda1"]);
        let info = g.inspect_info("/dev/sda1").unwrap();
        assert_eq!(info.product_name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(g.cat("/etc/hostname").unwrap(), "guest\n");
        assert_eq!(g.read_file("/bin/big").unwrap().len(), 3 << 20);
        assert_eq!(g.read_lines("/etc/fstab").unwrap().len(), 2);
        assert!(!attached_anything(&env, image), "{}", image.display());

        let k = session(&env, image, false);
        assert!(
            k.mount_entries()
                .iter()
                .all(|m| m.strategy != vmcraft::inproc::INPROCESS_STRATEGY)
        );
        let kernel = snapshot(&k, "/");
        let (a, b) = (&inproc, &kernel);
        let only = |x: &BTreeMap<String, String>, y: &BTreeMap<String, String>| -> Vec<String> {
            x.keys().filter(|k| !y.contains_key(*k)).cloned().collect()
        };
        assert_eq!(
            (only(a, b), only(b, a)),
            (vec![], vec![]),
            "{}: paths only in-process, only in the kernel's view",
            image.display()
        );
        for (p, s) in a {
            assert_eq!(Some(s), b.get(p), "{}: {p}", image.display());
        }
        assert_eq!(
            g.inspect_info("/dev/sda1").unwrap(),
            {
                k.inspect_os().unwrap();
                k.inspect_info("/dev/sda1").unwrap()
            },
            "inspection answers on both paths"
        );
        for call in [
            g.cat("/etc/shadow").map_err(|e| e.to_string()),
            g.cat("/fifo").map_err(|e| e.to_string()),
            g.cat("/nowhere").map_err(|e| e.to_string()),
            g.cat("/loop-a").map_err(|e| e.to_string()),
            g.cat("/etc").map_err(|e| e.to_string()),
        ]
        .into_iter()
        .zip([
            k.cat("/etc/shadow").map_err(|e| e.to_string()),
            k.cat("/fifo").map_err(|e| e.to_string()),
            k.cat("/nowhere").map_err(|e| e.to_string()),
            k.cat("/loop-a").map_err(|e| e.to_string()),
            k.cat("/etc").map_err(|e| e.to_string()),
        ]) {
            assert_eq!(call.0, call.1);
        }
        // tar-out: byte for byte the archive the kernel-mounted tree gives
        // (ext4 with the NTFS mounted on /win), whole or a part, with owner
        // names from the guest or numeric, read without leaving the process.
        let opts = |numeric: bool, excludes: &[&str]| vmcraft::archive::TarOutOptions {
            numeric_owner: numeric,
            excludes: excludes.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        };
        for (dir, numeric, excludes) in [("/", false, &[][..]), ("/etc", true, &["*.conf"][..])] {
            let (ta, tb) = (env.path().join("in.tar"), env.path().join("k.tar"));
            let sa = g.tar_out(dir, &ta, opts(numeric, excludes)).unwrap();
            let sb = k.tar_out(dir, &tb, opts(numeric, excludes)).unwrap();
            assert_eq!(sa, sb, "{}: tar-out {dir}", image.display());
            assert!(
                std::fs::read(&ta).unwrap() == std::fs::read(&tb).unwrap(),
                "{}: tar-out {dir}: the archives differ",
                image.display()
            );
            // GNU tar reads it.
            run(Command::new("tar").arg("-tvf").arg(&ta));
        }
        assert!(
            g.mount_entries()
                .iter()
                .all(|m| m.strategy == vmcraft::inproc::INPROCESS_STRATEGY),
            "tar-out stayed in-process"
        );
        drop(k);
        assert!(!attached_anything(&env, image), "{}", image.display());

        // FAT (see the module docs), mounted below the others in-process.
        g.mount_ro("/dev/sda2", "/boot/efi").unwrap();
        let fat_names = g.find("/boot/efi").unwrap();
        assert!(
            fat_names.contains(&"/EFI/debian/grubx64.efi".to_string()),
            "{fat_names:?}"
        );
        assert_eq!(
            g.cat("/boot/efi/EFI/debian/grubx64.efi").unwrap(),
            "grub image\n"
        );

        // A call that needs the kernel-mounted tree moves the mounts there,
        // in order, and the answers stay the same.
        g.statvfs("/").unwrap();
        assert!(
            g.mount_entries()
                .iter()
                .all(|m| m.strategy != vmcraft::inproc::INPROCESS_STRATEGY),
            "{:?}",
            g.mount_entries()
        );
        assert_eq!(
            g.mountpoints()
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>(),
            ["/", "/win", "/boot/efi"]
        );
        g.umount("/boot/efi").unwrap();
        assert_eq!(&snapshot(&g, "/"), a, "after the move to the kernel");
        assert!(g.write("/new", b"x").is_err(), "a read-only drive");
        drop(g);
        assert_eq!(digest(image), before, "{} changed", image.display());
        assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    }
}

#[test]
fn in_process_mounts_follow_libguestfs_rules() {
    if !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("inproc-rules");
    let src = env.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/hostname"), "rules\n").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", src.join("link")).unwrap();
    let img = env.path().join("fs.img");
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("16M"));
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    // Nothing on / yet: no other mount point exists.
    let e = g.mount_ro("/dev/sda", "/etc").unwrap_err();
    assert!(e.to_string().contains("nothing is mounted on /"), "{e}");
    assert!(g.cat("/etc/hostname").is_err());
    g.mount_ro("/dev/sda", "/").unwrap();
    let e = g.mount_ro("/dev/sdb", "/").unwrap_err();
    assert!(e.to_string().contains("already mounted"), "{e}");
    let e = g.mount_ro("/dev/sdb", "/link").unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    let e = g.mount_ro("/dev/sdb", "/missing").unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    g.mount_ro("/dev/sdb", "/etc").unwrap();
    assert_eq!(g.ls("/etc/etc").unwrap(), ["hostname"]);
    let e = g.umount("/").unwrap_err();
    assert!(e.to_string().contains("mounted below it"), "{e}");
    assert_eq!(g.mounts_list(), ["/dev/sda", "/dev/sdb"]);
    g.umount("/etc").unwrap();
    assert_eq!(g.cat("/etc/hostname").unwrap(), "rules\n");
    g.umount_all().unwrap();
    assert!(g.mountpoints().is_empty());
    // A drive mounted in-process is in use.
    drop(g);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// A hostile ext4 whose directory holds itself (`/a/loop` is `/a`, linked by
/// debugfs; the kernel answers EUCLEAN there): tar-out in-process stops with
/// an error naming the loop, writes no archive, and does not hang.
#[test]
fn tar_out_of_a_directory_loop_is_an_error() {
    if !require_tool("mkfs.ext4") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("inproc-loop");
    let src = env.path().join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("a/f"), "x\n").unwrap();
    let img = env.path().join("loop.img");
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("8M"));
    run(Command::new("debugfs")
        .args(["-w", "-R", "ln /a /a/loop"])
        .arg(&img));
    let before = digest(&img);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda", "/").unwrap();
    let out = env.path().join("out.tar");
    let e = g
        .tar_out("/", &out, Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("./a/loop: directory inode 12 is reached twice (a directory loop)"),
        "{e}"
    );
    assert!(!out.exists(), "no archive is left");
    assert!(
        g.mount_entries()
            .iter()
            .all(|m| m.strategy == vmcraft::inproc::INPROCESS_STRATEGY)
    );
    drop(g);
    assert_eq!(digest(&img), before);
}
