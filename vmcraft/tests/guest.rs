//! The whole job on a two-drive guest built through the API itself: GPT with an ESP
//! (vfat, through FUSE on this kernel) and an ext4 root on drive 1; xfs, btrfs and
//! an LVM LV (reached without device-mapper) on drive 2; `/etc` written; then reopened read-only, inspected, and
//! mounted in parallel from the guest's own fstab.

use vmcraft::{Config, MkfsOptions, MountAllOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

fn build_guest(env: &TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    let d1 = env.sparse_image("disk1.img", 256 << 20);
    let d2 = env.sparse_image("disk2.img", 1024 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&d1).unwrap();
    g.add_drive(&d2).unwrap();
    g.launch().unwrap();

    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 206_847).unwrap();
    g.part_add("/dev/sda", "p", 206_848, -34).unwrap();
    g.part_set_gpt_type("/dev/sda", 1, ESP_TYPE).unwrap();
    g.part_set_name("/dev/sda", 1, "EFI System").unwrap();
    g.part_set_name("/dev/sda", 2, "root").unwrap();
    g.part_init("/dev/sdb", "gpt").unwrap();
    g.part_add("/dev/sdb", "p", 2048, 688_127).unwrap(); // 335 MiB for xfs
    g.part_add("/dev/sdb", "p", 688_128, 1_507_327).unwrap(); // 400 MiB for btrfs
    g.part_add("/dev/sdb", "p", 1_507_328, -34).unwrap(); // LVM PV

    g.mkfs(
        "vfat",
        "/dev/sda1",
        &MkfsOptions {
            label: Some("ESP".into()),
            ..Default::default()
        },
    )
    .unwrap();
    g.mkfs(
        "ext4",
        "/dev/sda2",
        &MkfsOptions {
            label: Some("root".into()),
            ..Default::default()
        },
    )
    .unwrap();
    g.mkfs(
        "xfs",
        "/dev/sdb1",
        &MkfsOptions {
            label: Some("data".into()),
            ..Default::default()
        },
    )
    .unwrap();
    g.mkfs(
        "btrfs",
        "/dev/sdb2",
        &MkfsOptions {
            label: Some("srv".into()),
            ..Default::default()
        },
    )
    .unwrap();
    g.pvcreate(&["/dev/sdb3"]).unwrap();
    g.vgcreate("guestvg", &["/dev/sdb3"]).unwrap();
    g.lvcreate("home", "guestvg", 64).unwrap();
    assert_eq!(g.lvs().unwrap(), ["/dev/guestvg/home"]);
    assert_eq!(g.pvs().unwrap(), ["/dev/sdb3"]);
    // Without device-mapper the LV is reached through a loop device over its PV.
    g.mkfs(
        "ext4",
        "/dev/guestvg/home",
        &MkfsOptions {
            label: Some("home".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.vfs_type("/dev/guestvg/home").unwrap(), "ext4");

    let root_uuid = g.vfs_uuid("/dev/sda2").unwrap();
    let esp_uuid = g.vfs_uuid("/dev/sda1").unwrap();
    let xfs_uuid = g.vfs_uuid("/dev/sdb1").unwrap();
    assert_eq!(esp_uuid.len(), 9, "vfat serial: {esp_uuid}");

    g.mount("/dev/sda2", "/").unwrap();
    for d in ["/etc", "/boot/efi", "/var/lib/data", "/srv", "/bin"] {
        g.mkdir_p(d).unwrap();
    }
    g.write("/etc/os-release", b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n").unwrap();
    g.write("/etc/debian_version", b"12.7\n").unwrap();
    g.write("/etc/hostname", b"vmcraft-guest\n").unwrap();
    let fstab = format!(
        "# guest fstab\nUUID={root_uuid} / ext4 errors=remount-ro 0 1\nUUID={esp_uuid} /boot/efi vfat umask=0077 0 1\n\
         UUID={xfs_uuid} /var/lib/data xfs defaults 0 2\nLABEL=srv /srv btrfs defaults 0 2\n\
         /dev/guestvg/home /home ext4 defaults 0 2\nproc /proc proc defaults 0 0\ntmpfs /tmp tmpfs defaults 0 0\n"
    );
    g.write("/etc/fstab", fstab.as_bytes()).unwrap();
    g.upload("/bin/ls", "/bin/ls").unwrap();
    g.mkdir_p("/var/lib/dpkg").unwrap();
    g.touch("/var/lib/dpkg/status").unwrap();

    let esp = g.mount_with_fallback("/dev/sda1", "/boot/efi").unwrap();
    assert_eq!(esp.fstype, "vfat");
    g.mkdir_p("/boot/efi/EFI/debian").unwrap();
    g.write("/boot/efi/EFI/debian/grubx64.efi", b"not really grub\n")
        .unwrap();
    g.mount("/dev/sdb1", "/var/lib/data").unwrap();
    g.write("/var/lib/data/on-xfs", b"xfs\n").unwrap();
    g.mount("/dev/sdb2", "/srv").unwrap();
    g.write("/srv/on-btrfs", b"btrfs\n").unwrap();
    g.mkdir("/home").unwrap();
    g.mount("/dev/guestvg/home", "/home").unwrap();
    g.write("/home/on-lv", b"lv\n").unwrap();
    g.shutdown().unwrap();
    (d1, d2)
}

#[test]
fn build_inspect_and_mount_a_two_drive_guest() {
    if !require_root("attaching and mounting images")
        || !require_tool("fusefat")
        || !require_tool("lvm")
    {
        return;
    }
    let env = TestEnv::new("facade-guest");
    let (d1, d2) = build_guest(&env);

    // The ESP written through FUSE is a clean FAT filesystem.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&d1).unwrap();
    g.add_drive_ro(&d2).unwrap();
    g.launch().unwrap();
    let fs = g.list_filesystems().unwrap();
    let types: Vec<(&str, &str)> = fs.iter().map(|(d, t)| (d.as_str(), t.as_str())).collect();
    assert_eq!(
        types,
        [
            ("/dev/sda1", "vfat"),
            ("/dev/sda2", "ext4"),
            ("/dev/sdb1", "xfs"),
            ("/dev/sdb2", "btrfs"),
            ("/dev/guestvg/home", "ext4")
        ]
    );

    let roots = g.inspect_os().unwrap();
    assert_eq!(roots, ["/dev/sda2"]);
    let root = &roots[0];
    assert_eq!(g.inspect_get_type(root).unwrap(), "linux");
    assert_eq!(g.inspect_get_distro(root).unwrap(), "debian");
    assert_eq!(
        g.inspect_get_product_name(root).unwrap(),
        "Debian GNU/Linux 12 (bookworm)"
    );
    assert_eq!(
        (
            g.inspect_get_major_version(root).unwrap(),
            g.inspect_get_minor_version(root).unwrap()
        ),
        (12, 7)
    );
    assert_eq!(g.inspect_get_hostname(root).unwrap(), "vmcraft-guest");
    assert_eq!(g.inspect_get_arch(root).unwrap(), std::env::consts::ARCH);
    assert_eq!(g.inspect_get_package_format(root).unwrap(), "deb");
    assert_eq!(g.inspect_get_package_management(root).unwrap(), "apt");
    let mps = g.inspect_get_mountpoints(root).unwrap();
    assert_eq!(
        mps,
        [
            ("/".to_string(), "/dev/sda2".to_string()),
            ("/home".to_string(), "/dev/guestvg/home".to_string()),
            ("/srv".to_string(), "/dev/sdb2".to_string()),
            ("/boot/efi".to_string(), "/dev/sda1".to_string()),
            ("/var/lib/data".to_string(), "/dev/sdb1".to_string()),
        ],
        "virtual filesystems are left out; parents come first"
    );
    // Inspection left nothing mounted.
    assert!(g.mountpoints().is_empty());

    let results = g
        .mount_all_parallel(
            &mps,
            MountAllOptions {
                readonly: true,
                ..Default::default()
            },
        )
        .unwrap();
    for r in &results {
        assert!(
            r.result.is_ok(),
            "{} {}: {:?}",
            r.mountpoint,
            r.device,
            r.result
        );
    }
    assert_eq!(g.cat("/home/on-lv").unwrap(), "lv\n");
    assert_eq!(
        g.cat("/boot/efi/EFI/debian/grubx64.efi").unwrap(),
        "not really grub\n"
    );
    assert_eq!(g.cat("/var/lib/data/on-xfs").unwrap(), "xfs\n");
    assert_eq!(g.cat("/srv/on-btrfs").unwrap(), "btrfs\n");
    assert_eq!(g.cat("/etc/hostname").unwrap(), "vmcraft-guest\n");
    let esp = g
        .mount_entries()
        .into_iter()
        .find(|m| m.mountpoint == "/boot/efi")
        .unwrap();
    assert_eq!(esp.fuse_driver.as_deref(), Some("fusefat"), "{esp:?}");
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));

    // The FAT filesystem written through fusefat checks clean (fsck.vfat on a loop
    // device over the ESP's byte range).
    let esp = vmcraft_block::LoopDevice::attach(
        &d1,
        vmcraft_block::LoopOptions {
            readonly: true,
            partscan: false,
            offset: 2048 * 512,
            size_limit: (206_848 - 2048) * 512,
            ..Default::default()
        },
    )
    .unwrap();
    let out = std::process::Command::new("fsck.vfat")
        .arg("-n")
        .arg(esp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(esp);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
