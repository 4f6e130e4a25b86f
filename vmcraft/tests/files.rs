//! Every guest file call on a real mounted filesystem, checksums against coreutils,
//! upload/download, and the filesystem growers; plus Windows inspection from a
//! real NTFS carrying a system root (System32, its config, a PE cmd.exe).

use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn mounted(env: &TestEnv, size: u64, fstype: &str) -> VMCraft {
    let a = env.sparse_image("a.img", size);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.mkfs(fstype, "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g
}

#[test]
fn the_file_calls() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("files");
    let g = mounted(&env, 64 << 20, "ext4");
    g.mkdir("/d").unwrap();
    g.mkdir_p("/d/e/f").unwrap();
    g.mkdir_mode("/m", 0o700).unwrap();
    assert_eq!(g.lstat("/m").unwrap().mode & 0o7777, 0o700);
    g.write("/d/a", b"line1\nline2\n").unwrap();
    g.write_append("/d/a", b"line3\n").unwrap();
    assert_eq!(g.cat("/d/a").unwrap(), "line1\nline2\nline3\n");
    assert_eq!(g.read_lines("/d/a").unwrap(), ["line1", "line2", "line3"]);
    assert_eq!(g.read_file("/d/a").unwrap().len(), 18);
    assert!(g.exists("/d/a").unwrap() && g.is_file("/d/a").unwrap() && !g.is_dir("/d/a").unwrap());
    assert!(g.is_dir("/d/e").unwrap() && !g.exists("/nope").unwrap());
    g.ln_s("a", "/d/link").unwrap();
    assert!(g.is_symlink("/d/link").unwrap());
    assert_eq!(g.readlink("/d/link").unwrap(), "a");
    assert_eq!(g.cat("/d/link").unwrap(), "line1\nline2\nline3\n");
    assert_eq!(g.ls("/d").unwrap(), ["a", "e", "link"]);
    // The directory's name as written cut off each path, as libguestfs does:
    // the separator stays unless the name ends with it.
    assert_eq!(g.find("/d").unwrap(), ["/a", "/e", "/e/f", "/link"]);
    assert_eq!(g.find("/d/").unwrap(), ["a", "e", "e/f", "link"]);
    let all = g.find("/").unwrap();
    assert!(all.contains(&"d/e/f".to_string()), "{all:?}");
    assert!(all.iter().all(|p| !p.starts_with('/')), "{all:?}");
    g.cp("/d/a", "/copy").unwrap();
    g.cp_a("/d", "/d2").unwrap();
    assert!(g.is_symlink("/d2/link").unwrap());
    g.mv("/copy", "/moved").unwrap();
    assert!(!g.exists("/copy").unwrap() && g.exists("/moved").unwrap());
    // chown clears set-id bits, as the kernel does; chmod after it.
    g.chown(1000, 100, "/moved").unwrap();
    g.chmod(0o4750, "/moved").unwrap();
    let st = g.lstat("/moved").unwrap();
    assert_eq!((st.mode & 0o7777, st.uid, st.gid), (0o4750, 1000, 100));
    g.touch("/empty").unwrap();
    assert_eq!(g.stat("/empty").unwrap().size, 0);
    let vfs = g.statvfs("/").unwrap();
    assert!(vfs.blocks > 0 && vfs.bsize > 0);
    g.rm("/empty").unwrap();
    g.rm_f("/empty").unwrap();
    assert!(g.rm("/empty").is_err());
    g.rmdir("/d/e/f").unwrap();
    assert!(g.rmdir("/d").is_err(), "not empty");
    g.rm_rf("/d2").unwrap();
    g.rm_rf("/d2").unwrap();
    assert!(!g.exists("/d2").unwrap());

    // Checksums against coreutils on the same bytes.
    let host = env.path().join("a.copy");
    g.download("/d/a", &host).unwrap();
    for (t, tool) in [
        ("md5", "md5sum"),
        ("sha1", "sha1sum"),
        ("sha256", "sha256sum"),
        ("sha512", "sha512sum"),
    ] {
        let out = std::process::Command::new(tool)
            .arg(&host)
            .output()
            .unwrap();
        let want = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(g.checksum(t, "/d/a").unwrap(), want, "{t}");
    }
    let out = std::process::Command::new("cksum")
        .arg(&host)
        .output()
        .unwrap();
    let want = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(g.checksum("crc", "/d/a").unwrap(), want);
    assert!(
        g.checksum("sha3", "/d/a")
            .unwrap_err()
            .to_string()
            .contains("unknown checksum type")
    );

    // Upload a larger file and read it back.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let src = env.path().join("big");
    std::fs::write(&src, &big).unwrap();
    assert_eq!(g.upload(&src, "/big").unwrap(), big.len() as u64);
    assert_eq!(g.read_file("/big").unwrap(), big);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn resize2fs_and_xfs_growfs_fill_a_grown_partition() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("grow");
    let a = env.sparse_image("a.img", 1024 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 133_119).unwrap(); // 64 MiB
    g.part_add("/dev/sda", "p", 1_048_576, 1_048_576 + 655_359)
        .unwrap(); // 320 MiB
    g.mkfs("ext4", "/dev/sda1", &MkfsOptions::default())
        .unwrap();
    g.mkfs("xfs", "/dev/sda2", &MkfsOptions::default()).unwrap();
    g.part_resize("/dev/sda", 1, 264_191).unwrap(); // 128 MiB
    g.part_resize("/dev/sda", 2, -34).unwrap();
    g.resize2fs("/dev/sda1").unwrap();
    g.mount("/dev/sda1", "/").unwrap();
    let v = g.statvfs("/").unwrap();
    assert!(v.blocks * v.frsize > 100 << 20, "{v:?}");
    g.mkdir("/x").unwrap();
    g.mount("/dev/sda2", "/x").unwrap();
    let before = g.statvfs("/x").unwrap();
    g.xfs_growfs("/x").unwrap();
    let after = g.statvfs("/x").unwrap();
    assert!(after.blocks > before.blocks, "{before:?} -> {after:?}");
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn windows_is_found_by_its_system_root() {
    if !require_root("mounting") || !require_tool("mkntfs") {
        return;
    }
    let env = TestEnv::new("windows");
    let g = mounted(&env, 64 << 20, "ntfs");
    g.mkdir_p("/Windows/System32/config").unwrap();
    g.write("/Windows/System32/config/SYSTEM", b"regf").unwrap();
    let mut pe = vec![0u8; 1024];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3C..0x40].copy_from_slice(&128u32.to_le_bytes());
    pe[128..132].copy_from_slice(b"PE\0\0");
    pe[132..134].copy_from_slice(&0x8664u16.to_le_bytes());
    // libguestfs's test for a system root: System32, its config, cmd.exe.
    g.write("/Windows/System32/cmd.exe", &pe).unwrap();
    g.umount_all().unwrap();
    let roots = g.inspect_os().unwrap();
    assert_eq!(roots, ["/dev/sda"]);
    assert_eq!(g.inspect_get_type("/dev/sda").unwrap(), "windows");
    assert_eq!(g.inspect_get_arch("/dev/sda").unwrap(), "x86_64");
    // No readable registry (a 4-byte SYSTEM, no SOFTWARE): nothing made up.
    assert_eq!(g.inspect_get_product_name("/dev/sda").unwrap(), "unknown");
    assert_eq!(g.inspect_get_hostname("/dev/sda").unwrap(), "unknown");
    assert_eq!(
        g.inspect_get_windows_systemroot("/dev/sda").unwrap(),
        "/Windows"
    );
    assert_eq!(
        g.inspect_get_mountpoints("/dev/sda").unwrap(),
        [("/".to_string(), "/dev/sda".to_string())]
    );
    // Inspection of a user's mount reads through it and leaves it mounted.
    g.mount("/dev/sda", "/").unwrap();
    assert_eq!(g.inspect_os().unwrap(), ["/dev/sda"]);
    assert_eq!(g.mountpoints(), [("/dev/sda".to_string(), "/".to_string())]);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn the_handle_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VMCraft>();
}

#[test]
fn augeas_with_only_the_lenses_named() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("aug-named");
    let g = mounted(&env, 64 << 20, "ext4");
    g.mkdir_p("/etc").unwrap();
    g.write("/etc/fstab", b"/dev/sda1 / ext4 defaults 0 1\n")
        .unwrap();
    g.write("/etc/hosts", b"127.0.0.1 localhost\n").unwrap();
    let opts = vmcraft::aug::InitOptions::new().lenses(["Fstab"]);
    g.aug_init_with("/", 0, &opts).unwrap();
    g.aug_transform("Fstab", "/etc/fstab", false).unwrap();
    g.aug_load().unwrap();
    assert_eq!(g.aug_get("/files/etc/fstab/1/vfstype").unwrap(), "ext4");
    g.aug_set("/files/etc/fstab/1/vfstype", "xfs").unwrap();
    g.aug_save().unwrap();
    assert_eq!(
        g.cat("/etc/fstab").unwrap(),
        "/dev/sda1 / xfs defaults 0 1\n"
    );
    // Another module was not compiled before the handle was confined: refused.
    let e = g.aug_transform("Hosts", "/etc/hosts", false).unwrap_err();
    assert!(e.to_string().contains("was not named"), "{e}");
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
