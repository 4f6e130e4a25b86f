//! The test images, made with the real tools: an ext4 tree for `mkfs.ext4 -d`,
//! an NTFS volume populated through ntfs-3g, FAT volumes populated through
//! mtools.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use vmcraft_block::testing::TestEnv;

use super::{Mount, lchown, run, set_times};

/// The source tree `mkfs.ext4 -d` copies in.
pub fn make_tree(src: &Path, root: bool) {
    let w = |p: &str, data: &[u8], mode: u32| {
        let path = src.join(p.trim_start_matches('/'));
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let d = |p: &str, mode: u32| {
        let path = src.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    d("/etc", 0o755);
    d("/home/user", 0o700);
    d("/bin", 0o755);
    d("/tmp", 0o1777);
    d("/many", 0o755);
    w("/etc/hostname", b"guest\n", 0o644);
    w("/etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o640);
    w("/home/user/.bashrc", b"export PS1='$ '\n", 0o600);
    w("/bin/tool", b"#!/bin/sh\necho tool\n", 0o4755);
    w("/odd", b"no permissions at all", 0o000);
    w("/empty", b"", 0o644);
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    w("/bin/big", &big, 0o755);
    w("/h\u{e9}llo w\u{f6}rld", b"utf-8 name\n", 0o644);
    let long = "l".repeat(255);
    w(&format!("/{long}"), b"long name\n", 0o644);
    for i in 0..1500 {
        w(
            &format!("/many/file-{i:05}"),
            format!("{i}\n").as_bytes(),
            0o644,
        );
    }
    // A sparse file: 16 MiB, data only at 1 MiB and at the end.
    let sparse = src.join("sparse");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&sparse).unwrap();
        f.set_len(16 << 20).unwrap();
        f.write_all_at(b"middle", 1 << 20).unwrap();
        f.write_all_at(b"end", (16 << 20) - 3).unwrap();
    }
    std::fs::hard_link(src.join("etc/hostname"), src.join("hard-hostname")).unwrap();
    symlink("/etc/hostname", src.join("abs-link")).unwrap();
    symlink("etc/hostname", src.join("rel-link")).unwrap();
    symlink("/nowhere/at/all", src.join("dangling")).unwrap();
    symlink("../../../../etc", src.join("up")).unwrap();
    symlink("/home/user/../../etc/./hostname", src.join("winding")).unwrap();
    symlink("loop-b", src.join("loop-a")).unwrap();
    symlink("loop-a", src.join("loop-b")).unwrap();
    run(Command::new("setfattr")
        .args(["-n", "user.comment", "-v", "hello"])
        .arg(src.join("etc/hostname")));
    run(Command::new("setfattr")
        .args(["-n", "user.bin", "-v", "0x00ff10"])
        .arg(src.join("bin/tool")));
    if root {
        run(Command::new("setfattr")
            .args(["-n", "trusted.t", "-v", "secret"])
            .arg(src.join("etc/shadow")));
        run(Command::new("mkfifo").arg(src.join("fifo")));
        run(Command::new("mknod")
            .arg(src.join("null"))
            .args(["c", "1", "3"]));
        lchown(&src.join("etc/shadow"), 0, 42);
        lchown(&src.join("home/user"), 1000, 1000);
        lchown(&src.join("home/user/.bashrc"), 1000, 1000);
        lchown(&src.join("abs-link"), 1234, 5678);
        lchown(&src.join("odd"), 4_000_000_000, 65534);
    }
    set_times(
        &src.join("etc/hostname"),
        (1_600_000_000, 111_111_111),
        (1_500_000_000, 123_456_789),
    );
    set_times(&src.join("bin/tool"), (0, 0), (1, 999_999_999));
    set_times(
        &src.join("abs-link"),
        (1_700_000_000, 5),
        (1_700_000_001, 6),
    );
    // ext4-view 1.0 refuses times before 1970 and after 2038-01-19 (it reads
    // the 32-bit seconds as unsigned-then-checked); see hostile.rs.
    set_times(&src.join("odd"), (1, 0), (2_000_000_000, 42));
    set_times(&src.join("etc"), (1_234_567_890, 0), (1_234_567_891, 500));
}

/// `mkfs.ext4 -d SRC IMAGE 96M`.
pub fn mkfs(src: &Path, image: &Path) {
    run(Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-b",
            "4096",
            "-I",
            "256",
            "-E",
            "root_owner=0:0",
            "-d",
        ])
        .arg(src)
        .arg(image)
        .arg("96M"));
}

/// Make an NTFS image at `image` holding the test tree (through ntfs-3g).
pub fn make_ntfs(env: &TestEnv, image: &Path) {
    std::fs::File::create(image)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    run(Command::new("mkntfs")
        .args(["-Q", "-F", "-q", "-L", "WinVol"])
        .arg(image));
    let m = Mount::ntfs3g(image, env.path().join("populate"), "rw");
    let d = &m.dir;
    std::fs::create_dir_all(d.join("Windows/System32/config")).unwrap();
    std::fs::create_dir(d.join("many")).unwrap();
    std::fs::write(
        d.join("Windows/System32/config/SOFTWARE"),
        b"regf hive bytes",
    )
    .unwrap();
    std::fs::write(d.join("small.txt"), b"resident\n").unwrap();
    std::fs::write(d.join("empty"), b"").unwrap();
    std::fs::write(d.join("Mixed Case.TXT"), b"mixed\n").unwrap();
    std::fs::write(d.join("\u{65e5}\u{672c}\u{8a9e}.txt"), b"unicode\n").unwrap();
    std::fs::write(d.join("x".repeat(200)), b"long\n").unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(40503) >> 7) as u8)
        .collect();
    std::fs::write(d.join("big.bin"), &big).unwrap();
    for i in 0..1500 {
        std::fs::write(d.join(format!("many/f{i:05}.dat")), format!("{i}\n")).unwrap();
    }
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(d.join("sparse")).unwrap();
        f.set_len(8 << 20).unwrap();
        f.write_all_at(b"tail", (8 << 20) - 4).unwrap();
    }
    std::fs::hard_link(d.join("small.txt"), d.join("Windows/hard.txt")).unwrap();
    symlink("/Windows/System32", d.join("sys")).unwrap();
    symlink("small.txt", d.join("rel-link")).unwrap();
    symlink("/nowhere", d.join("dangling")).unwrap();
    run(Command::new("mkfifo").arg(d.join("fifo")));
    // A named stream (as Windows' Zone.Identifier), through ntfs-3g's xattrs.
    run(Command::new("setfattr")
        .args(["-n", "user.Zone.Identifier", "-v", "[ZoneTransfer]"])
        .arg(d.join("big.bin")));
    set_times(
        &d.join("small.txt"),
        (1_600_000_000, 1_234_500),
        (1_500_000_000, 987_654_300),
    );
    set_times(&d.join("Windows"), (1_400_000_000, 0), (1_400_000_001, 100));
    drop(m);
}

/// An mtools command with the environment the tests want.
pub fn mtools(tool: &str) -> Command {
    let mut c = Command::new(tool);
    c.env("MTOOLS_SKIP_CHECK", "1").env("TZ", "UTC");
    c
}

/// Make a FAT image of `fat_bits` (12, 16, 32) populated through mtools.
pub fn make_fat(env: &TestEnv, image: &Path, fat_bits: u32) {
    let kib = match fat_bits {
        12 => 4096,
        16 => 32768,
        _ => 65536,
    };
    run(Command::new("mkfs.vfat")
        .args(["-C", "-F", &fat_bits.to_string(), "-n", "ESP"])
        .arg(image)
        .arg(kib.to_string()));
    let host = env.path().join(format!("files{fat_bits}"));
    std::fs::create_dir_all(&host).unwrap();
    let file = |name: &str, data: &[u8], mtime: i64| {
        let p = host.join(name);
        std::fs::write(&p, data).unwrap();
        set_times(&p, (mtime, 0), (mtime, 0));
        p
    };
    let i = |a: &str| {
        let mut v = vec!["-i".to_string(), image.display().to_string()];
        v.extend(a.split(' ').map(str::to_string));
        v
    };
    run(mtools("mmd").args(i("::/EFI ::/EFI/debian ::/EFI/BOOT ::/many")));
    run(mtools("mmd").args(["-i"]).arg(image).arg("::/Mixed Dir"));
    let copies: &[(&str, &[u8], i64, &str)] = &[
        (
            "grubx64.efi",
            b"grub image\n",
            1_600_000_000,
            "::/EFI/debian/grubx64.efi",
        ),
        (
            "shimx64.efi",
            b"shim\n",
            1_600_000_002,
            "::/EFI/debian/shimx64.efi",
        ),
        (
            "BOOTX64.EFI",
            b"boot\n",
            1_500_000_000,
            "::/EFI/BOOT/BOOTX64.EFI",
        ),
        (
            "BOOTX64.CSV",
            b"csv\n",
            1_500_000_004,
            "::/EFI/debian/BOOTX64.CSV",
        ),
        ("Mixed.Txt", b"mixed\n", 1_400_000_000, "::/EFI/Mixed.Txt"),
        (
            "long",
            b"long name\n",
            1_300_000_000,
            "::/EFI/a long file name.text",
        ),
        ("Readme", b"readme\n", 1_200_000_000, "::/Readme"),
        ("lower.TXT", b"half\n", 1_200_000_000, "::/lower.TXT"),
        ("empty", b"", 1_100_000_000, "::/empty"),
        (
            "uni",
            "\u{fc}ber\n".as_bytes(),
            1_100_000_000,
            "::/\u{fc}ber.txt",
        ),
    ];
    for (src, data, mtime, dst) in copies {
        let p = file(src, data, *mtime);
        run(mtools("mcopy")
            .args(["-m", "-i"])
            .arg(image)
            .arg(&p)
            .arg(dst));
    }
    let big: Vec<u8> = (0..700_000u32)
        .map(|i| (i.wrapping_mul(2246822519) >> 11) as u8)
        .collect();
    let p = file("big", &big, 1_000_000_000);
    run(mtools("mcopy")
        .args(["-m", "-i"])
        .arg(image)
        .arg(&p)
        .arg("::/big.bin"));
    let many = host.join("many");
    std::fs::create_dir_all(&many).unwrap();
    let mut cmd = mtools("mcopy");
    cmd.args(["-m", "-i"]).arg(image);
    for n in 0..150 {
        let p = many.join(format!("entry number {n:03}.txt"));
        std::fs::write(&p, format!("{n}\n")).unwrap();
        set_times(&p, (0, 0), (1_000_000_000 + 2 * n, 0));
        cmd.arg(p);
    }
    run(cmd.arg("::/many/"));
    run(mtools("mattrib")
        .args(["-i"])
        .arg(image)
        .args(["+r", "::/Readme"]));
}
