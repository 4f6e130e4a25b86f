//! Hostile images: what a damaged or malicious image can hold is an error,
//! never a hang, a panic, unbounded memory or a host file opened. qcow2 with a
//! backing file (even a FIFO that would block an open) or an external data
//! file, other formats, broken qcow2 headers; ext4 with a corrupt superblock,
//! a directory entry pointing back at its ancestor, an absurd file size, a
//! symlink chain; FAT with a cluster chain that loops and an absurd size; NTFS
//! with a damaged boot sector and MFT; and random bytes behind every magic.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{images, run};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_fs::{ErrorKind, GuestTree, ReadAt, WalkLimits, open_fs, open_image, probe, walk};

/// Walk everything, reading every file with a small limit; return the first
/// error (the walk stops there) or how many paths were seen.
fn walk_all(tree: &dyn GuestTree, limits: WalkLimits) -> vmcraft_fs::Result<usize> {
    let mut n = 0;
    walk(tree, "/", limits, &mut |p, st| {
        n += 1;
        if st.is_file() {
            match tree.read_file(p, 1 << 20) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::TooLarge => {
                    tree.read_range(p, st.size.saturating_sub(10), 64)?;
                }
                Err(e) => return Err(e),
            }
        } else if st.is_symlink() {
            tree.readlink(p)?;
            let _ = tree.stat(p);
        }
        Ok(())
    })?;
    Ok(n)
}

fn qemu_img(args: &[&str], dir: &Path) {
    run(Command::new("qemu-img").args(args).current_dir(dir));
}

#[test]
fn qcow2_never_opens_another_file() {
    if !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("fs-hostile-qcow2");
    let d = env.path();
    qemu_img(&["create", "-q", "-f", "raw", "base.raw", "1M"], d);
    qemu_img(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "base.raw",
            "-F",
            "raw",
            "over.qcow2",
        ],
        d,
    );
    let e = open_image(d.join("over.qcow2")).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("backing file (\"base.raw\")"), "{e}");

    // A backing file that would block whoever opens it: a FIFO nobody writes.
    run(Command::new("mkfifo").arg(d.join("fifo")));
    qemu_img(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-u",
            "-b",
            "fifo",
            "-F",
            "raw",
            "fifo.qcow2",
            "1M",
        ],
        d,
    );
    let e = open_image(d.join("fifo.qcow2")).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    // No backing format (its header extension turned into the end marker, as
    // an old qemu wrote it): still refused, nothing probed.
    qemu_img(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-u",
            "-b",
            "/etc/shadow",
            "-F",
            "raw",
            "nofmt.qcow2",
            "1M",
        ],
        d,
    );
    let mut b = std::fs::read(d.join("nofmt.qcow2")).unwrap();
    let at = b
        .windows(4)
        .position(|w| w == [0xe2, 0x79, 0x2a, 0xca])
        .unwrap();
    b[at..at + 4].copy_from_slice(&[0, 0, 0, 0]);
    std::fs::write(d.join("nofmt.qcow2"), b).unwrap();
    let e = open_image(d.join("nofmt.qcow2")).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("/etc/shadow"), "{e}");

    qemu_img(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            "data_file=data.raw",
            "ext.qcow2",
            "1M",
        ],
        d,
    );
    let e = open_image(d.join("ext.qcow2")).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("external data file"), "{e}");

    for (fmt, opts) in [("vmdk", ""), ("vhdx", ""), ("vdi", ""), ("vpc", "")] {
        let name = format!("disk.{fmt}");
        let mut args = vec!["create", "-q", "-f", fmt];
        if !opts.is_empty() {
            args.extend(["-o", opts]);
        }
        args.extend([name.as_str(), "4M"]);
        qemu_img(&args, d);
        let e = open_image(d.join(&name)).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{fmt}: {e}");
        assert!(e.to_string().contains("kernel path"), "{e}");
    }

    // Broken qcow2 headers: errors at open.
    qemu_img(&["create", "-q", "-f", "qcow2", "good.qcow2", "64M"], d);
    let good = std::fs::read(d.join("good.qcow2")).unwrap();
    let patch = |name: &str, off: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[off..off + bytes.len()].copy_from_slice(bytes);
        let p = d.join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    // An L1 table past the end of the file reads as zeros: nothing allocated.
    if let Ok(img) = open_image(patch("l1off.qcow2", 40, &(1u64 << 55).to_be_bytes())) {
        let mut b = [1u8; 4096];
        img.read_at(0, &mut b).unwrap();
        assert_eq!(b, [0u8; 4096]);
    }
    // cluster_bits 40, an L1 table of 2^31 entries.
    for p in [
        patch("bits.qcow2", 20, &40u32.to_be_bytes()),
        patch("l1size.qcow2", 36, &0x8000_0000u32.to_be_bytes()),
    ] {
        let e = open_image(&p)
            .err()
            .unwrap_or_else(|| panic!("{} opened", p.display()));
        assert!(
            matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::Io),
            "{}: {e}",
            p.display()
        );
    }
    // A virtual size of 2^60 bytes over a tiny file: reads of unallocated
    // clusters are zeros, and nothing is allocated for the size.
    let big = patch("huge.qcow2", 24, &(1u64 << 50).to_be_bytes());
    if let Ok(img) = open_image(&big) {
        let mut b = [1u8; 512];
        img.read_at((1 << 50) - 512, &mut b).unwrap();
        assert_eq!(b, [0u8; 512]);
        assert_eq!(probe(&*img).unwrap(), None);
    }
}

fn debugfs(image: &Path, cmd: &str) {
    run(Command::new("debugfs").args(["-w", "-R", cmd]).arg(image));
}

#[test]
fn ext4_damage_is_an_error() {
    if !require_tool("mkfs.ext4") || !require_tool("debugfs") || !require_tool("setfattr") {
        return;
    }
    let env = TestEnv::new("fs-hostile-ext4");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::write(src.join("a/b/file"), b"data").unwrap();
    std::fs::write(src.join("big"), vec![7u8; 100_000]).unwrap();
    std::fs::write(src.join("old"), b"1969").unwrap();
    // Chains of 40 symlinks (as many as may be followed) and 41.
    std::os::unix::fs::symlink("/a/b/file", src.join("l0")).unwrap();
    for i in 1..=40 {
        std::os::unix::fs::symlink(format!("l{}", i - 1), src.join(format!("l{i}"))).unwrap();
    }
    let image = env.path().join("ext4.img");
    images::mkfs(&src, &image);
    let pristine = std::fs::read(&image).unwrap();

    let fs = open_fs(open_image(&image).unwrap()).unwrap();
    assert_eq!(fs.read_file("/l39", 10).unwrap(), b"data");
    assert_eq!(
        fs.read_file("/l40", 10).unwrap_err().kind(),
        ErrorKind::Loop
    );
    drop(fs);

    // A directory entry in /a/b pointing back at /a: a loop the walk ends.
    debugfs(&image, "ln /a /a/b/up");
    // An absurd size on a small file.
    debugfs(&image, "sif /big size 0xffffffffffff");
    // A time before 1970 (ext4-view 1.0 refuses it: an error, not a wrong time).
    debugfs(&image, "sif /old mtime 0x80000000");
    let fs = open_fs(open_image(&image).unwrap()).unwrap();
    assert!(fs.is_dir("/a/b/up/b/up/b/up").unwrap());
    let e = walk_all(
        &*fs,
        WalkLimits {
            max_depth: 24,
            max_entries: 100_000,
        },
    )
    .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::TooLarge | ErrorKind::Corrupt),
        "{e}"
    );
    // ext4-view checks the size against the blocks the inode holds.
    assert_eq!(fs.stat("/big").unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(
        fs.read_file("/big", 1 << 20).unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    assert_eq!(
        fs.read_range("/big", 0xffff_ffff_0000, 4096)
            .unwrap_err()
            .kind(),
        ErrorKind::Corrupt
    );
    assert_eq!(fs.lstat("/old").unwrap_err().kind(), ErrorKind::Corrupt);

    // Superblock damage: no magic, a block count past the disk, a block size
    // out of range, garbage group descriptors.
    let patched = |off: usize, bytes: &[u8]| -> Arc<dyn ReadAt> {
        let mut b = pristine.clone();
        b[off..off + bytes.len()].copy_from_slice(bytes);
        Arc::new(b)
    };
    let e = open_fs(patched(1024 + 56, &[0, 0])).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    let e = open_fs(patched(1024 + 4, &u32::MAX.to_le_bytes()))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("bad geometry"), "{e}");
    let e = open_fs(patched(1024 + 24, &30u32.to_le_bytes()))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    if let Ok(fs) = open_fs(patched(4096, &garbage)) {
        let _ = walk_all(&*fs, WalkLimits::default());
    }
}

/// Where a FAT32 volume keeps things (from its BPB).
struct Fat32 {
    bps: usize,
    fat_start: usize,
    data_start: usize,
    cluster: usize,
    root: u32,
}

impl Fat32 {
    fn parse(b: &[u8]) -> Fat32 {
        let le16 = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
        let le32 = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize;
        let bps = le16(11);
        let spc = b[13] as usize;
        let reserved = le16(14);
        let fats = b[16] as usize;
        let fat_sz = le32(36);
        Fat32 {
            bps,
            fat_start: reserved * bps,
            data_start: (reserved + fats * fat_sz) * bps,
            cluster: spc * bps,
            root: le32(44) as u32,
        }
    }

    fn cluster_offset(&self, c: u32) -> usize {
        self.data_start + (c as usize - 2) * self.cluster
    }

    /// The directory entry named `name11` (8.3, padded) in the root.
    fn root_entry(&self, b: &[u8], name11: &[u8; 11]) -> usize {
        let start = self.cluster_offset(self.root);
        (start..start + self.cluster)
            .step_by(32)
            .find(|&o| &b[o..o + 11] == name11)
            .expect("entry in the root directory")
    }
}

#[test]
fn fat_damage_is_an_error() {
    if !require_tool("mkfs.vfat") || !require_tool("mcopy") {
        return;
    }
    let env = TestEnv::new("fs-hostile-fat");
    let image = env.path().join("fat.img");
    images::make_fat(&env, &image, 32);
    let pristine = std::fs::read(&image).unwrap();
    let fat = Fat32::parse(&pristine);
    assert!(fat.bps >= 512);

    // /many's cluster chain made to loop onto itself.
    let mut b = pristine.clone();
    let e = fat.root_entry(&b, b"MANY       ");
    let first = u32::from(u16::from_le_bytes([b[e + 26], b[e + 27]]))
        | u32::from(u16::from_le_bytes([b[e + 20], b[e + 21]])) << 16;
    // The first cluster (full of entries, no end marker) followed by itself.
    assert!(
        fat.cluster <= 4096,
        "a directory of 150 long names fills its first cluster"
    );
    let off = fat.fat_start + first as usize * 4;
    b[off..off + 4].copy_from_slice(&first.to_le_bytes());
    let fs = open_fs(Arc::new(b)).unwrap();
    let e = fs.read_dir("/many").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(walk_all(&*fs, WalkLimits::default()).is_err());
    // The rest of the volume still reads.
    assert_eq!(
        fs.read_file("/EFI/debian/grubx64.efi", 100).unwrap(),
        b"grub image\n"
    );

    // An absurd size: a 4 GiB - 1 file whose chain holds one cluster.
    let mut b = pristine.clone();
    let e = fat.root_entry(&b, b"EMPTY      ");
    b[e + 28..e + 32].copy_from_slice(&u32::MAX.to_le_bytes());
    let fs = open_fs(Arc::new(b)).unwrap();
    assert_eq!(fs.stat("/empty").unwrap().size, u64::from(u32::MAX));
    assert_eq!(
        fs.read_file("/empty", 1 << 20).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    match fs.read_range("/empty", u64::from(u32::MAX) - 100, 100) {
        Ok(d) => assert!(d.len() <= 100),
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::Io),
            "{e}"
        ),
    }

    // A BPB with no sectors per cluster is not FAT at all.
    let mut b = pristine.clone();
    b[13] = 0;
    assert!(open_fs(Arc::new(b)).is_err());
}

#[test]
fn ntfs_damage_is_an_error() {
    if !require_tool("mkntfs") {
        return;
    }
    let env = TestEnv::new("fs-hostile-ntfs");
    let image = env.path().join("ntfs.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new("mkntfs").args(["-Q", "-F", "-q"]).arg(&image));
    let pristine = std::fs::read(&image).unwrap();
    assert!(open_fs(Arc::new(pristine.clone())).is_ok());

    // Bytes per sector 0, sectors per cluster 0, an MFT past the end.
    for (off, bytes) in [
        (11usize, vec![0u8, 0]),
        (13, vec![0]),
        (48, (1u64 << 60).to_le_bytes().to_vec()),
    ] {
        let mut b = pristine.clone();
        b[off..off + bytes.len()].copy_from_slice(&bytes);
        assert!(open_fs(Arc::new(b)).is_err(), "boot sector byte {off}");
    }
    // The MFT itself scribbled over: whatever opens answers with errors.
    let le64 = |o: usize| u64::from_le_bytes(pristine[o..o + 8].try_into().unwrap());
    let cluster =
        u64::from(u16::from_le_bytes([pristine[11], pristine[12]])) * u64::from(pristine[13]);
    let mft = (le64(48) * cluster) as usize;
    for seed in 1..=4u32 {
        let mut b = pristine.clone();
        let mut x = seed.wrapping_mul(0x9e37_79b9);
        for byte in &mut b[mft + 1024 * 5..mft + 1024 * 5 + 4096] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *byte = x as u8;
        }
        if let Ok(fs) = open_fs(Arc::new(b)) {
            let _ = walk_all(&*fs, WalkLimits::default());
        }
    }
}

/// Random bytes behind each filesystem's magic: errors or nothing, never a
/// panic or a hang.
#[test]
fn random_bytes_behind_every_magic() {
    let mut x = 0x1234_5678u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..24 {
        let mut b: Vec<u8> = (0..(2 << 20)).map(|_| next() as u8).collect();
        match round % 3 {
            0 => {
                b[1024 + 56..1024 + 58].copy_from_slice(&[0x53, 0xef]);
                b[1024 + 24..1024 + 28].copy_from_slice(&0u32.to_le_bytes());
                b[1024 + 4..1024 + 8].copy_from_slice(&1024u32.to_le_bytes());
            }
            1 => {
                b[3..11].copy_from_slice(b"NTFS    ");
                b[11..13].copy_from_slice(&512u16.to_le_bytes());
                b[13] = 8;
            }
            _ => {
                b[0] = 0xeb;
                b[11..13].copy_from_slice(&512u16.to_le_bytes());
                b[13] = 1;
                b[14..16].copy_from_slice(&1u16.to_le_bytes());
                b[16] = 2;
                b[21] = 0xf8;
                b[510] = 0x55;
                b[511] = 0xaa;
            }
        }
        if let Ok(fs) = open_fs(Arc::new(b)) {
            let _ = walk_all(
                &*fs,
                WalkLimits {
                    max_depth: 16,
                    max_entries: 10_000,
                },
            );
        }
    }
}

/// Inputs the fuzzer found (vmcraft-fs/fuzz/seeds/read_image): an ext4
/// superblock whose block-count high half (without the 64bit feature) made
/// ext4-view allocate 8 GiB, now refused first; and one on which ext4-view
/// panics, which comes back as a `Corrupt` error and leaves the reader
/// answering every later call with one.
#[test]
fn fuzzer_findings_are_errors() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/read_image");
    let disk = |name: &str| -> Arc<dyn ReadAt> {
        let mut b = std::fs::read(seeds.join(name)).unwrap();
        b.resize(b.len().max(64 * 1024), 0);
        Arc::new(b)
    };
    let e = open_fs(disk("ext4-blocks-count-hi")).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("64bit"), "{e}");

    let fs = open_fs(disk("ext4-view-panic")).unwrap();
    let mut errors = Vec::new();
    let _ = walk(&*fs, "/", WalkLimits::default(), &mut |p, st| {
        if st.is_file() {
            errors.extend(fs.read_file(p, 1 << 20).err());
            errors.extend(fs.read_range(p, st.size.saturating_sub(7), 13).err());
        }
        Ok(())
    });
    let panicked = errors
        .iter()
        .find(|e| e.to_string().contains("panicked"))
        .unwrap_or_else(|| panic!("no caught panic among {errors:?}"));
    assert_eq!(panicked.kind(), ErrorKind::Corrupt);
    // The reader is broken from then on: every call is an error.
    let after = fs.lstat("/").unwrap_err();
    assert_eq!(after.kind(), ErrorKind::Corrupt);
    assert!(after.to_string().contains("failed earlier"), "{after}");
}

/// The child half of [`qcow2_backing_file_is_never_opened`]: with
/// `VMCRAFT_FS_OPEN_IMAGE` set, open that image and print the error.
#[test]
fn open_image_child() {
    let Ok(image) = std::env::var("VMCRAFT_FS_OPEN_IMAGE") else {
        return;
    };
    match open_image(&image) {
        Ok(_) => println!("OPENED"),
        Err(e) => println!("ERROR {e}"),
    }
}

/// Under strace: opening a qcow2 overlay whose backing file and external data
/// file exist opens neither (every `open*` call of the process is seen).
#[test]
fn qcow2_backing_file_is_never_opened() {
    if !require_tool("qemu-img") || !require_tool("strace") {
        return;
    }
    let env = TestEnv::new("fs-hostile-strace");
    let d = env.path();
    qemu_img(&["create", "-q", "-f", "raw", "secret-base.raw", "1M"], d);
    qemu_img(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "secret-base.raw",
            "-F",
            "raw",
            "over.qcow2",
        ],
        d,
    );
    qemu_img(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            "data_file=secret-data.raw",
            "ext.qcow2",
            "1M",
        ],
        d,
    );
    for (image, secret) in [
        ("over.qcow2", "secret-base.raw"),
        ("ext.qcow2", "secret-data.raw"),
    ] {
        let trace = d.join(format!("{image}.trace"));
        let out = run(Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o"])
            .arg(&trace)
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "open_image_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("VMCRAFT_FS_OPEN_IMAGE", d.join(image)));
        assert!(out.contains("ERROR open_image:"), "{out}");
        let opens = std::fs::read_to_string(&trace).unwrap();
        assert!(
            opens.contains(image),
            "the trace sees the image itself:\n{opens}"
        );
        assert!(!opens.contains(secret), "{secret} was opened:\n{opens}");
    }
}
