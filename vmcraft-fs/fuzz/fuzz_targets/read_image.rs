//! Fuzz target: the whole in-process stack over arbitrary image bytes.
//!
//! The input is the image: qcow2 when it starts with `QFI\xfb` (handed to imago
//! through a memfd, as a file would be), else raw, padded with zeros to 64 KiB
//! so that small inputs still reach the ext2/3/4 superblock and group
//! descriptors. Then, as inspection does: the partition table (vmcraft-part),
//! each partition's (or the whole disk's) filesystem probed and opened, and
//! its tree walked with small limits, reading every file (at most 64 KiB) and
//! every symlink, following them too. Nothing may panic, hang or grow without
//! bound. A panic inside a third-party reader is caught by the crate and comes
//! back as a `Corrupt` error, which is the design; so the target replaces
//! libfuzzer-sys's panic hook (which aborts at any panic, caught or not) with
//! one that is silent for third-party code: a panic in vmcraft-fs's own code
//! aborts at once, caught or not, and one that escapes the crate still
//! reaches libfuzzer-sys's `catch_unwind` and aborts.
//!
//! Seeds (`seeds/read_image`): a tiny ext2 and a tiny FAT12 volume made by
//! mke2fs -d and mkfs.vfat + mcopy, a qcow2 copy of the ext2 one (512-byte
//! clusters), an msdos-partitioned disk holding the FAT12 volume, and two
//! inputs the fuzzer found: an ext4 superblock whose block-count high half
//! made ext4-view allocate 8 GiB of group descriptors (now refused before it
//! is called), and one on which ext4-view 1.0 panics (`file.rs:132`, an
//! unwrap), which comes back as a `Corrupt` error.
//!
//! ```text
//! cd vmcraft-fs/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run read_image corpus/read_image seeds/read_image
//! ```

#![no_main]

use std::io::Write;
use std::os::fd::FromRawFd;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vmcraft_fs::{
    GuestTree, Qcow2Image, ReadAt, WalkLimits, Window, list_filesystems, open_fs, walk,
};

const MIN_DISK: usize = 64 * 1024;

fn memfd(data: &[u8]) -> Option<std::fs::File> {
    // SAFETY: a NUL-terminated name and no flags; the descriptor is owned by
    // the File from here on.
    let fd = unsafe { libc::memfd_create(c"fuzz-image".as_ptr(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(data).ok()?;
    Some(f)
}

fn inspect(disk: Arc<dyn ReadAt>) {
    let Ok(found) = list_filesystems(&*disk) else {
        return;
    };
    for fs in found.into_iter().take(8) {
        let Ok(part) = Window::new(disk.clone(), fs.offset, fs.len) else {
            continue;
        };
        let Ok(tree) = open_fs(Arc::new(part)) else {
            continue;
        };
        let limits = WalkLimits {
            max_depth: 8,
            max_entries: 256,
        };
        let _ = walk(&*tree, "/", limits, &mut |p, st| {
            if st.is_file() {
                if let Ok(data) = tree.read_file(p, 64 * 1024) {
                    assert_eq!(data.len() as u64, st.size, "{p}: bytes read vs size");
                }
                let _ = tree.read_range(p, st.size.saturating_sub(7), 13);
            } else if st.is_symlink() {
                let _ = tree.readlink(p);
                let _ = tree.stat(p);
            }
            let _ = tree.lgetxattrs(p);
            Ok(())
        });
        for p in [
            "/etc/os-release",
            "/Windows/System32/config/SOFTWARE",
            "/EFI",
        ] {
            let _ = tree.is_dir(p);
            let _ = tree.read_file(p, 4096);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            // This crate's own code must never panic, caught or not.
            if info
                .location()
                .is_some_and(|l| l.file().contains("vmcraft-fs/src/"))
            {
                eprintln!("{info}");
                std::process::abort();
            }
        }))
    });
    if data.starts_with(b"QFI\xfb") {
        if let Some(f) = memfd(data)
            && let Ok(img) = Qcow2Image::from_file(f, "fuzz.qcow2")
        {
            inspect(Arc::new(img));
        }
        return;
    }
    let mut bytes = data.to_vec();
    if bytes.len() < MIN_DISK {
        bytes.resize(MIN_DISK, 0);
    }
    inspect(Arc::new(bytes));
});
