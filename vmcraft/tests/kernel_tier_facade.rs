//! The kernel test tier (`cargo xtask test-kernel`): the facade on a kernel
//! with the nbd module, the partition parsers and the vfat driver.
//!
//! - `add_drive` + `launch` of qcow2 and vmdk images take kernel NBD (the
//!   `auto` backend prefers it when `/dev/nbd0` exists): a GPT, an ext4, a file
//!   written and read back through the facade; after `shutdown` no NBD device is
//!   left connected and `qemu-img check` is clean; `add_drive_ro` takes kernel
//!   NBD too, reads the file, refuses writes and leaves the image unchanged.
//! - A raw image whose GPT the kernel parsed at attach lists the same partitions
//!   through the facade as the table holds.
//! - An ESP (vfat, files created through the kernel's driver with 8.3 upper-case
//!   names such as `GRUBX64.EFI` and with long names) is mounted with the
//!   kernel's vfat driver, not fusefat; the facade lists the names as the
//!   kernel shows them on a plain mount, finds files whatever the case of the
//!   path (as the kernel does), reads and writes through the mount, unmounts
//!   clean, and `fsck.vfat -n` finds nothing to fix.
//!
//! On hosts without the module, parsers or driver these are loud skips that
//! stay skips in strict mode.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_kernel_feature, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, LoopDevice, LoopOptions, SystemRunner};

fn sh(argv: &[&str]) -> vmcraft_block::Output {
    SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)))
}

fn sha256(p: &Path) -> String {
    sh(&["sha256sum", "-b", p.to_str().unwrap()])
        .stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Whether the kernel shows `/dev/nbdN` connected (a server pid or a size), or
/// with partitions left.
fn still_there(dev: &Path) -> Option<String> {
    let leaf = dev.file_name().unwrap().to_string_lossy().into_owned();
    let n: u32 = leaf["nbd".len()..].parse().unwrap();
    let host = vmcraft_nbd::NbdHost::system(None);
    let parts: Vec<String> = std::fs::read_dir(format!("/sys/block/{leaf}"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|x| x.starts_with(&format!("{leaf}p")))
        .collect();
    (host.is_connected(n) || !parts.is_empty()).then(|| {
        format!(
            "{leaf}: connected {}, partitions {parts:?}",
            host.is_connected(n)
        )
    })
}

fn handle(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

fn assert_no_leaks(env: &TestEnv) {
    let left = leaks(env.tag());
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// The facade's normal path with a qcow2 or vmdk image: kernel NBD read-write,
/// and read-only both under the throw-away overlay (storage daemon) and without.
fn facade_kernel_nbd(format: &str) {
    if !require_root("kernel nbd") || !require_tool("qemu-nbd") || !require_tool("mkfs.ext4") {
        return;
    }
    let host = vmcraft_nbd::NbdHost::system(None);
    if !require_kernel_feature("the nbd module (/dev/nbd0)", host.is_available()) {
        return;
    }
    let env = TestEnv::new(&format!("facade-nbd-{format}"));
    let img = env.path().join(format!("disk.{format}"));
    sh(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        format,
        img.to_str().unwrap(),
        "64M",
    ]);
    let message = format!("written through the facade on kernel nbd ({format})\n");

    let g = handle(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let dev = g.host_path("/dev/sda").unwrap();
    assert!(
        dev.to_string_lossy().starts_with("/dev/nbd"),
        "auto took {} for a {format} image",
        dev.display()
    );
    g.part_disk("/dev/sda", "gpt").unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1"]);
    let p1 = g.host_path("/dev/sda1").unwrap();
    assert_eq!(p1, PathBuf::from(format!("{}p1", dev.display())));
    g.mkfs("ext4", "/dev/sda1", &MkfsOptions::default())
        .unwrap();
    g.mount("/dev/sda1", "/").unwrap();
    g.write("/hello.txt", message.as_bytes()).unwrap();
    assert_eq!(g.cat("/hello.txt").unwrap(), message);
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    drop(g);
    assert_eq!(still_there(&dev), None, "after shutdown");
    sh(&[
        "qemu-img",
        "check",
        "-q",
        "-f",
        format,
        img.to_str().unwrap(),
    ]);

    // Read-only: under the throw-away overlay (the default) the storage daemon
    // serves it, exported to a loop device; without the overlay, kernel NBD
    // read-only. Either way the image is never written.
    let before = sha256(&img);
    for overlay in [true, false] {
        let g = VMCraft::with_config(
            Config::builder()
                .tmpdir(env.path())
                .readonly_overlay(overlay)
                .build(),
        );
        g.add_drive_ro(&img).unwrap();
        g.launch().unwrap();
        let dev = g.host_path("/dev/sda").unwrap();
        let want = if overlay { "/dev/loop" } else { "/dev/nbd" };
        assert!(
            dev.to_string_lossy().starts_with(want),
            "overlay {overlay}: {}",
            dev.display()
        );
        assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1"]);
        g.mount_ro("/dev/sda1", "/").unwrap();
        assert_eq!(g.cat("/hello.txt").unwrap(), message);
        assert!(g.write("/hello.txt", b"changed").is_err());
        g.umount_all().unwrap();
        g.shutdown().unwrap();
        drop(g);
        if !overlay {
            assert_eq!(still_there(&dev), None, "after shutdown");
        }
        assert_eq!(
            sha256(&img),
            before,
            "the read-only session changed the image (overlay {overlay})"
        );
    }
    assert_no_leaks(&env);
}

#[test]
fn add_drive_and_launch_take_kernel_nbd_for_qcow2() {
    facade_kernel_nbd("qcow2");
}

#[test]
fn add_drive_and_launch_take_kernel_nbd_for_vmdk() {
    facade_kernel_nbd("vmdk");
}

/// Whether the kernel has the vfat driver (`/proc/filesystems`).
fn kernel_has_vfat() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some("vfat"))
}

/// A raw image with a GPT (sgdisk) and one partition, bound to a loop device
/// with partition scanning: the kernel's parser makes `p1`.
fn gpt_on_loop(env: &TestEnv, name: &str) -> (PathBuf, LoopDevice) {
    let img = env.sparse_image(name, 64 << 20);
    sh(&[
        "sgdisk",
        "-n",
        "1:2048:0",
        "-t",
        "1:ef00",
        img.to_str().unwrap(),
    ]);
    let lo = LoopDevice::attach(
        &img,
        LoopOptions {
            partscan: true,
            ..Default::default()
        },
    )
    .unwrap();
    (img, lo)
}

fn p1_of(lo: &LoopDevice) -> PathBuf {
    PathBuf::from(format!("{}p1", lo.path().display()))
}

/// Mount `dev` as vfat with the kernel's driver, with `data` options
/// (`ro` as the flag).
fn kernel_mount_vfat(dev: &Path, dir: &Path, data: &str) {
    use nix::mount::MsFlags;
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let data = if data == "ro" {
        flags |= MsFlags::MS_RDONLY;
        ""
    } else {
        data
    };
    nix::mount::mount(Some(dev), dir, Some("vfat"), flags, Some(data))
        .unwrap_or_else(|e| panic!("mount -t vfat {} {}: {e}", dev.display(), dir.display()));
}

fn kernel_umount(dir: &Path) {
    nix::mount::umount2(dir, nix::mount::MntFlags::empty())
        .unwrap_or_else(|e| panic!("umount {}: {e}", dir.display()));
}

/// Names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_esp_mounts_with_the_kernel_vfat_driver() {
    if !require_root("mounting") || !require_tool("mkfs.vfat") || !require_tool("fsck.vfat") {
        return;
    }
    if !require_kernel_feature("the vfat driver", kernel_has_vfat()) {
        return;
    }
    // Debian's kernel mounts FAT with iocharset=ascii by default
    // (CONFIG_FAT_DEFAULT_IOCHARSET), from the nls_ascii module, which the
    // tier's guest does not load and cannot load on demand.
    if !Path::new("/sys/module/nls_ascii").exists() {
        let _ = SystemRunner::new().execute(&Command::new("modprobe").arg("nls_ascii"));
    }
    let env = TestEnv::new("facade-esp");
    let (img, lo) = gpt_on_loop(&env, "esp.img");
    let p1 = p1_of(&lo);
    if !require_kernel_feature("the kernel's GPT parser", p1.exists()) {
        return;
    }
    sh(&["mkfs.vfat", "-F", "32", "-n", "ESP", p1.to_str().unwrap()]);
    // The files, made as an installer makes them: 8.3 names created upper-case
    // (stored as short names only, as on a real ESP), and long names.
    let mnt = env.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    kernel_mount_vfat(&p1, &mnt, "shortname=mixed");
    for d in ["EFI", "EFI/BOOT", "EFI/debian"] {
        std::fs::create_dir(mnt.join(d)).unwrap();
    }
    std::fs::write(mnt.join("EFI/BOOT/BOOTX64.EFI"), b"shim\n").unwrap();
    std::fs::write(mnt.join("EFI/debian/GRUBX64.EFI"), b"grub\n").unwrap();
    std::fs::write(mnt.join("EFI/debian/grub.cfg"), b"set root=x\n").unwrap();
    std::fs::write(mnt.join("EFI/debian/BOOTX64.CSV"), b"shimx64.efi\n").unwrap();
    std::fs::write(mnt.join("Long File Name.txt"), b"long\n").unwrap();
    kernel_umount(&mnt);
    // What Linux shows on a plain mount (no options): the oracle.
    kernel_mount_vfat(&p1, &mnt, "");
    let oracle_root = names(&mnt);
    let oracle_boot = names(&mnt.join("EFI/BOOT"));
    let oracle_debian = names(&mnt.join("EFI/debian"));
    kernel_umount(&mnt);
    drop(lo);
    eprintln!(
        "the kernel shows: / {oracle_root:?}, /EFI/BOOT {oracle_boot:?}, /EFI/debian {oracle_debian:?}"
    );

    let g = handle(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    assert_eq!(g.list_partitions().unwrap(), ["/dev/sda1"]);
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "vfat");
    g.mount("/dev/sda1", "/").unwrap();
    let entries = g.mount_entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].fstype, "vfat");
    assert_eq!(entries[0].strategy, "normal", "{entries:?}");
    assert_eq!(entries[0].fuse_driver, None, "{entries:?}");
    let host = &entries[0].host_path;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(host.to_str().unwrap()))
        .unwrap_or_else(|| panic!("{} is not in mountinfo", host.display()));
    assert!(line.contains(" - vfat "), "not the kernel's vfat: {line}");

    // The names as the kernel shows them: with its default shortname=mixed
    // (since Linux 2.6.32), an 8.3 name stored upper-case is shown as stored,
    // `GRUBX64.EFI`; long names as written.
    assert_eq!(g.ls("/").unwrap(), oracle_root);
    assert_eq!(g.ls("/EFI/BOOT").unwrap(), oracle_boot);
    assert_eq!(g.ls("/EFI/debian").unwrap(), oracle_debian);
    assert_eq!(oracle_boot, ["BOOTX64.EFI"]);
    assert_eq!(oracle_debian, ["BOOTX64.CSV", "GRUBX64.EFI", "grub.cfg"]);
    assert!(oracle_root.contains(&"Long File Name.txt".to_string()));
    // The kernel finds a file whatever the case of its name.
    assert_eq!(g.cat("/EFI/debian/grubx64.efi").unwrap(), "grub\n");
    assert_eq!(g.cat("/EFI/debian/GRUBX64.EFI").unwrap(), "grub\n");
    assert_eq!(g.cat("/efi/boot/bootx64.efi").unwrap(), "shim\n");
    assert!(g.is_file("/EFI/BOOT/BOOTX64.EFI").unwrap());
    // Writes.
    g.write("/EFI/debian/grub.cfg", b"set root=(hd0,gpt2)\n")
        .unwrap();
    g.mkdir("/EFI/vmcraft").unwrap();
    g.write("/EFI/vmcraft/NOTE.TXT", b"written by vmcraft\n")
        .unwrap();
    assert_eq!(
        g.cat("/EFI/vmcraft/NOTE.TXT").unwrap(),
        "written by vmcraft\n"
    );
    g.umount_all().unwrap();
    assert!(g.mount_entries().is_empty());
    g.shutdown().unwrap();
    drop(g);

    // Clean by fsck.vfat, and the writes there for the kernel.
    let lo = LoopDevice::attach(
        &img,
        LoopOptions {
            partscan: true,
            ..Default::default()
        },
    )
    .unwrap();
    let p1 = p1_of(&lo);
    let out = SystemRunner::new()
        .execute(&Command::new("fsck.vfat").args(["-n", p1.to_str().unwrap()]))
        .unwrap();
    assert!(
        out.status.success(),
        "fsck.vfat -n: {}{}",
        out.stdout_str(),
        out.stderr_trimmed()
    );
    kernel_mount_vfat(&p1, &mnt, "ro");
    assert_eq!(
        std::fs::read_to_string(mnt.join("EFI/debian/grub.cfg")).unwrap(),
        "set root=(hd0,gpt2)\n"
    );
    assert_eq!(
        std::fs::read_to_string(mnt.join("EFI/vmcraft/NOTE.TXT")).unwrap(),
        "written by vmcraft\n"
    );
    kernel_umount(&mnt);
    drop(lo);
    assert_no_leaks(&env);
}

/// A raw image whose GPT the kernel parsed when the facade attached it: the
/// facade's partition listing is the table's, and its edits reach the kernel.
#[test]
fn the_facade_lists_partitions_the_kernel_parsed() {
    if !require_root("loop devices") || !require_tool("sgdisk") {
        return;
    }
    let env = TestEnv::new("facade-kparsed");
    let img = env.sparse_image("disk.img", 64 << 20);
    sh(&[
        "sgdisk",
        "-a",
        "1",
        "-n",
        "1:2048:20479",
        "-n",
        "2:20480:40959",
        "-n",
        "3:40960:61439",
        img.to_str().unwrap(),
    ]);
    // Does this kernel parse GPT? (A loop device with partition scanning.)
    let lo = LoopDevice::attach(
        &img,
        LoopOptions {
            partscan: true,
            readonly: true,
            ..Default::default()
        },
    )
    .unwrap();
    let parsed = lo.node().kernel_partitions().unwrap().len();
    drop(lo);
    if !require_kernel_feature("the kernel's GPT parser", parsed == 3) {
        return;
    }
    let g = handle(&env);
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1", "/dev/sda2", "/dev/sda3"]
    );
    // Each partition's start and size as the kernel has them. udev re-reads a
    // whole disk's table when a writer closes it (its inotify watch), so a
    // partition's sysfs entry can be away for a moment: one run here read it
    // in that moment. Wait (bounded) until it reads.
    let sys = |n: u32| {
        let node = g.host_path(&format!("/dev/sda{n}")).unwrap();
        let leaf = node.file_name().unwrap().to_string_lossy().into_owned();
        let d = PathBuf::from(format!("/sys/class/block/{leaf}"));
        let r = |f: &str| -> Option<u64> {
            std::fs::read_to_string(d.join(f)).ok()?.trim().parse().ok()
        };
        let mut got = None;
        vmcraft_block::wait_until(
            "the partition's sysfs entry",
            std::time::Duration::from_secs(10),
            || {
                got = r("start").zip(r("size"));
                got.is_some()
            },
        )
        .unwrap();
        got.unwrap()
    };
    for (i, p) in g.part_list("/dev/sda").unwrap().iter().enumerate() {
        assert_eq!(sys(i as u32 + 1), (p.part_start / 512, p.part_size / 512));
    }
    g.part_del("/dev/sda", 2).unwrap();
    g.part_add("/dev/sda", "p", 20480, 30719).unwrap();
    assert_eq!(
        g.list_partitions().unwrap(),
        ["/dev/sda1", "/dev/sda2", "/dev/sda3"]
    );
    assert_eq!(sys(2), (20480, 10240));
    g.shutdown().unwrap();
    drop(g);
    // The kernel's own parse of the edited table agrees.
    let lo = LoopDevice::attach(
        &img,
        LoopOptions {
            partscan: true,
            readonly: true,
            ..Default::default()
        },
    )
    .unwrap();
    let got: Vec<(u32, u64, u64)> = lo
        .node()
        .kernel_partitions()
        .unwrap()
        .iter()
        .map(|k| (k.number, k.start / 512, k.size / 512))
        .collect();
    assert_eq!(
        got,
        [(1, 2048, 18432), (2, 20480, 10240), (3, 40960, 20480)]
    );
    drop(lo);
    let mut sector = [0u8; 8];
    std::fs::File::open(&img)
        .unwrap()
        .read_exact_at(&mut sector, 512)
        .unwrap();
    assert_eq!(&sector, b"EFI PART");
    assert_no_leaks(&env);
}
