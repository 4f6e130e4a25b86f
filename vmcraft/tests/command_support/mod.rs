//! Guests for the guest-command tests (`command.rs` here, `cli_command.rs` of
//! the command line, which includes this file by path): a whole-disk ext4 image
//! made with `mkfs.ext4 -d` from a tree of the host's own binaries. The
//! userland is busybox-static (one static binary: `sh`, `cat`, `ps`, `nc`,
//! `insmod`, `mount`, `sleep` ...), plus the host's `dpkg-query` and the
//! libraries `ldd` names for it, with a dpkg database of three made-up
//! packages, so that `dpkg-query` can be compared with the host's own run on
//! the same database.

#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The busybox applets the guest has, as symlinks in `/bin`.
pub const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "ps", "sleep", "nc", "insmod", "mount", "umount", "id", "echo", "test",
    "head", "mknod", "grep", "wc", "hostname", "touch", "dd", "od", "true", "false", "yes", "ip",
    "ifconfig", "chroot", "rm", "readlink", "unshare",
];

/// The packages of the guest's dpkg database.
pub const PACKAGES: &[&str] = &["alpha", "bravo-tools", "charlie"];

/// Run a host tool and require success; its stdout.
pub fn host(argv: &[&str]) -> String {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(
        o.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn copy_with_parents(src: &Path, root: &Path) {
    let dest = root.join(src.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let real = std::fs::canonicalize(src).unwrap();
    std::fs::copy(&real, &dest).unwrap();
}

/// Copy the host's `program` into the guest tree `root` at the same path,
/// with the libraries `ldd` names for it.
pub fn add_program(root: &Path, program: &str) {
    copy_with_parents(Path::new(program), root);
    for line in host(&["ldd", program]).lines() {
        let path = match line.split("=>").nth(1) {
            Some(rest) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            copy_with_parents(Path::new(p), root);
        }
    }
}

/// The tree of the guest in `dir/tree`: busybox, dpkg-query and its libraries,
/// a dpkg database, `/etc/os-release`, and the empty directories a root has.
pub fn tree(dir: &Path) -> PathBuf {
    let root = dir.join("tree");
    for d in [
        "bin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "root",
        "etc",
        "usr/bin",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "mnt",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).unwrap();
    for a in APPLETS {
        symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    add_program(&root, "/usr/bin/dpkg-query");
    let mut status = String::new();
    for (i, p) in PACKAGES.iter().enumerate() {
        status.push_str(&format!(
            "Package: {p}\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
             Maintainer: Nobody <nobody@example.org>\nArchitecture: all\nVersion: 1.{i}\n\
             Description: test package {p}\n\n"
        ));
    }
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    std::fs::write(root.join("var/lib/dpkg/available"), "").unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"test guest\"\n",
    )
    .unwrap();
    root
}

/// A whole-disk ext4 image `name` in `dir` holding `tree`.
pub fn image_of(dir: &Path, name: &str, tree: &Path) -> PathBuf {
    let img = dir.join(name);
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    host(&[
        "mkfs.ext4",
        "-F",
        "-q",
        "-d",
        tree.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    img
}

/// The guest image: [`tree`] made into an ext4 image `guest.img` in `dir`.
pub fn guest(dir: &Path) -> PathBuf {
    let t = tree(dir);
    image_of(dir, "guest.img", &t)
}

/// What the host's own dpkg-query lists for the guest's database (the oracle).
pub fn host_packages(tree: &Path) -> String {
    host(&[
        "dpkg-query",
        &format!("--admindir={}", tree.join("var/lib/dpkg").display()),
        "-W",
        "-f",
        "${Package}\n",
    ])
}

/// A minimal ELF header for `machine` (64-bit little-endian), as a guest
/// binary of another architecture starts.
pub fn elf_header(machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[16] = 2; // ET_EXEC
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h[20] = 1;
    h
}

/// Host processes whose command line holds `marker` (left behind by a run).
pub fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if text.contains(marker) {
                found.push(format!("{}: {text}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}
