//! The kernel test tier (`cargo xtask test-kernel`): FAT12, FAT16 and FAT32
//! images made by mkfs.vfat and mtools (short lower-case names, long names,
//! mixed case, a directory of 1500 files, times) read in-process equal what
//! Linux's own vfat driver shows through a default read-only mount, file for
//! file: names, types, sizes, modes, owners, modification and access times,
//! bytes. (Host tests compare with mtools only: this host has no vfat driver,
//! and fusefat shows short names in upper case.) Inode numbers, link counts,
//! block counts and change times are left out: vfat makes them up per mount.
//!
//! On a host without the vfat driver this is a loud skip that stays a skip in
//! strict mode.

mod common;

use std::sync::Arc;

use common::{Fields, Mount, assert_same, images, snapshot};
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_root, require_tool};
use vmcraft_fs::{RawFile, ReadAt, open_fs};

fn kernel_has_vfat() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some("vfat"))
}

#[test]
fn fat_in_process_equals_the_kernel_vfat_driver() {
    if !require_root("mounting with the kernel's vfat driver")
        || !require_tool("mkfs.vfat")
        || !require_tool("mcopy")
        || !require_kernel_feature("the kernel's vfat driver", kernel_has_vfat())
    {
        return;
    }
    let env = TestEnv::new("fs-kt-fat");
    for bits in [12, 16, 32] {
        let image = env.path().join(format!("fat{bits}.img"));
        images::make_fat(&env, &image, bits);
        let disk: Arc<dyn ReadAt> = Arc::new(RawFile::open(&image).unwrap());
        let ours = snapshot(&*open_fs(disk).unwrap());
        let kernel = {
            let m = Mount::new(
                &image,
                env.path().join(format!("mnt{bits}")),
                Some("vfat"),
                "ro,loop",
            );
            let root = vmcraft_fs::GuestRoot::open(&m.dir).unwrap();
            snapshot(&root)
        };
        assert!(ours.len() > 100, "fat{bits}: {} paths", ours.len());
        assert_same(
            &format!("fat{bits}: in-process vs the kernel's vfat"),
            &ours,
            &kernel,
            Fields {
                modes: true,
                owners: true,
                atime: true,
                optional: false,
                xattrs: false,
                dir_size: true,
            },
        );
    }
}
