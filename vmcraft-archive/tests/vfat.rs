//! `tar_in` onto a filesystem that cannot take ownership, permission bits or
//! symlinks: a real vfat image mounted through FUSE (fusefat; this kernel has no
//! vfat driver). The extraction succeeds, with warnings for what was dropped and
//! the symlink listed as skipped, and the files are there.

mod common;

use common::RawTar;
use vmcraft_archive::{GuestRoot, TarInOptions, tar_in, tar_in_from};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

#[test]
fn vfat_through_fuse_extracts_without_owners() {
    if !require_root("a FUSE mount")
        || !require_tool("mkfs.vfat")
        || !require_tool("fusefat")
        || !require_tool("fusermount")
    {
        return;
    }
    let env = TestEnv::new("archive-vfat");
    let img = env.sparse_image("esp.img", 32 << 20);
    let mnt = env.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let run = SystemRunner::new();
    run.run(&Command::new("mkfs.vfat").arg(&img)).unwrap();
    run.run(
        &Command::new("fusefat")
            .args(["-o", "rw+"])
            .arg(&img)
            .arg(&mnt),
    )
    .unwrap();
    let result = std::panic::catch_unwind(|| {
        let mut data = RawTar::default()
            .dir("./EFI/")
            .dir("./EFI/BOOT/")
            .file("./EFI/BOOT/BOOTX64.EFI", &vec![0x4d; 70_000])
            .file("./startup.nsh", b"\\EFI\\BOOT\\BOOTX64.EFI\r\n")
            .symlink("./link", "EFI/BOOT/BOOTX64.EFI")
            .finish();
        // Owned by someone else, as in a root filesystem's archive.
        set_owner(&mut data, 1234);
        let root = GuestRoot::open(&mnt).unwrap();
        let stats = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap();
        assert_eq!(
            root.read_file("/EFI/BOOT/BOOTX64.EFI").unwrap(),
            vec![0x4d; 70_000]
        );
        assert_eq!(
            root.read_file("/startup.nsh").unwrap(),
            b"\\EFI\\BOOT\\BOOTX64.EFI\r\n"
        );
        assert!(
            stats.warnings.iter().any(|w| w.contains("ownership")),
            "{:?}",
            stats.warnings
        );
        assert_eq!(stats.skipped.len(), 1, "{:?}", stats.skipped);
        assert!(
            stats.skipped[0].starts_with("./link: "),
            "{:?}",
            stats.skipped
        );
        // Into an empty directory, from a file: not staged on a FUSE
        // filesystem (fusefat renames a directory into another without its
        // contents), checked in a pass of its own instead.
        let tarball = env.path().join("esp.tar");
        std::fs::write(&tarball, &data).unwrap();
        root.mkdir("/staged", 0o755).unwrap();
        let stats = tar_in(&root, &tarball, "/staged", &TarInOptions::default()).unwrap();
        assert_eq!(stats.skipped.len(), 1, "{:?}", stats.skipped);
        assert_eq!(
            root.read_file("/staged/EFI/BOOT/BOOTX64.EFI").unwrap(),
            vec![0x4d; 70_000]
        );
        assert_eq!(root.ls("/staged").unwrap(), ["EFI", "startup.nsh"]);
    });
    run.run(&Command::new("fusermount").arg("-u").arg(&mnt))
        .unwrap();
    // The FUSE daemon exits on its own after the unmount; give it the time to,
    // so that the fixture's leak check sees nothing left.
    let _ = vmcraft_block::wait_until(
        "fusefat to exit",
        std::time::Duration::from_secs(30),
        || vmcraft_block::testing::leaks(env.tag()).is_empty(),
    );
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// Rewrite every header's uid to `uid` (and fix the checksums).
fn set_owner(data: &mut [u8], uid: u64) {
    let mut off = 0;
    while off + 512 <= data.len() {
        let block = &mut data[off..off + 512];
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let size = u64::from_str_radix(
            std::str::from_utf8(&block[124..135])
                .unwrap()
                .trim_matches(['\0', ' ']),
            8,
        )
        .unwrap();
        let h = tar::Header::from_byte_slice(block);
        let mut h = h.clone();
        h.set_uid(uid);
        h.set_cksum();
        block.copy_from_slice(h.as_bytes());
        off += 512 + size.div_ceil(512) as usize * 512;
    }
}
