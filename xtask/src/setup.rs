//! `cargo xtask setup`: install the Debian packages VMCraft builds against and tests
//! with, and virtme-ng (from PyPI, for the kernel test tier), skipping what is
//! already installed.

use std::process::Command;

use anyhow::{Result, bail};

use crate::util;

/// Every package, with why it is needed.
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "qemu-utils",
        "qemu-img, qemu-nbd, qemu-storage-daemon: image formats and attach",
    ),
    (
        "fuse3",
        "FUSE exports of qemu-storage-daemon and FUSE filesystem drivers",
    ),
    ("e2fsprogs", "mkfs.ext*, e2fsck, resize2fs, debugfs"),
    ("zerofree", "zerofree, for the zerofree call"),
    (
        "fuse2fs",
        "ext2/3/4 through FUSE, a read-only mount fallback",
    ),
    ("dosfstools", "mkfs.vfat, fsck.vfat"),
    (
        "fusefat",
        "vfat through FUSE on kernels without the vfat driver",
    ),
    ("xfsprogs", "mkfs.xfs, xfs_repair, xfs_growfs"),
    ("btrfs-progs", "mkfs.btrfs"),
    ("ntfs-3g", "NTFS through FUSE, mkntfs"),
    ("lvm2", "LVM"),
    (
        "libaugeas0",
        "Augeas's library, which vmcraft-aug opens on first use",
    ),
    (
        "libaugeas-dev",
        "raugeas, the unconfined control in vmcraft-aug's tests and benchmarks",
    ),
    ("augeas-lenses", "Augeas lenses"),
    ("augeas-tools", "augtool, the Augeas test oracle"),
    ("pkg-config", "locating C libraries at build time"),
    (
        "libclang-dev",
        "bindgen, for raugeas in vmcraft-aug's tests",
    ),
    ("gdisk", "sgdisk, the GPT test oracle"),
    ("fdisk", "sfdisk, the partition test oracle"),
    ("parted", "parted, the partition test oracle"),
    ("util-linux", "blkid, losetup, partx, mkswap"),
    ("tar", "GNU tar, the archive test oracle and benchmark peer"),
    ("gzip", "gzip for archive round trips"),
    ("bzip2", "bzip2 for archive round trips"),
    ("xz-utils", "xz for archive round trips"),
    ("zstd", "zstd for archive round trips"),
    ("pigz", "parallel gzip, a benchmark peer"),
    ("attr", "getfattr/setfattr for xattr tests"),
    ("debootstrap", "a real Debian tree for archive benchmarks"),
    (
        "bubblewrap",
        "bwrap, the sandbox guest commands (command, sh) run in",
    ),
    (
        "libhivex-dev",
        "libhivex, which vmcraft-hivex binds for Windows registry hives",
    ),
    (
        "libhivex-bin",
        "hivexsh and hivexget, the registry tests' oracles",
    ),
    (
        "libwin-hivex-perl",
        "hivexregedit, which fills the registry tests' hives from .reg text",
    ),
    (
        "policycoreutils",
        "setfiles, the oracle and guest tool of selinux-relabel's test",
    ),
    (
        "mtools",
        "mcopy/mdir, FAT images with long and lower-case names for vmcraft-fs's tests",
    ),
    (
        "rpm",
        "rpm and rpmbuild, a real rpmdb for the inspection tests (rpm -qa is the oracle)",
    ),
    (
        "db5.3-util",
        "db5.3_load, Berkeley DB rpmdbs as RHEL/CentOS 7 keep them, for the inspection tests",
    ),
    (
        "sqlite3",
        "SQLite databases for the in-process SQLite reader's tests",
    ),
    (
        "strace",
        "the differential test's oracle of every file qemu opens for an image",
    ),
    (
        "liblzma-dev",
        "the system liblzma that vmcraft-archive links (faster than the bundled copy)",
    ),
    (
        "qemu-system-x86",
        "qemu-system-x86_64, the kernel test tier's virtual machine (TCG)",
    ),
    (
        "linux-image-amd64",
        "Debian's stock kernel and modules (nbd, device-mapper, md, vfat), booted by the kernel test tier",
    ),
    (
        "busybox-static",
        "the initramfs virtme-ng builds for the kernel test tier",
    ),
    (
        "linux-libc-dev",
        "/usr/include/linux, the small tree of the quick archive benchmark",
    ),
    (
        "cryptsetup-bin",
        "cryptsetup, LUKS containers for the kernel test tier's detection tests",
    ),
    (
        "mdadm",
        "md RAID members for the kernel test tier's detection tests",
    ),
    (
        "python3-venv",
        "the Python binding's virtual environment (maturin, pytest) for its tests and wheel",
    ),
];

/// Packages not yet installed.
pub fn missing() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect()
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("install ok installed")
        })
        .unwrap_or(false)
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("setup takes no arguments (got `{a}`)");
    }
    install_packages()?;
    install_virtme_ng()
}

/// The kernel tier's virtme-ng, pinned, from PyPI (the machine's python3 and pip).
fn install_virtme_ng() -> Result<()> {
    if crate::kernel::virtme_ng_installed() {
        eprintln!("xtask: setup: {} installed", crate::kernel::VIRTME_NG);
        return Ok(());
    }
    util::run(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        crate::kernel::VIRTME_NG,
    ]))?;
    if !crate::kernel::virtme_ng_installed() {
        bail!(
            "{} is not importable after pip install",
            crate::kernel::VIRTME_NG
        );
    }
    Ok(())
}

fn install_packages() -> Result<()> {
    let missing = missing();
    for (pkg, why) in PACKAGES {
        let state = if missing.contains(pkg) {
            "missing"
        } else {
            "installed"
        };
        eprintln!("xtask: setup: {pkg:<14} {state:<9} ({why})");
    }
    if missing.is_empty() {
        eprintln!("xtask: setup: everything is installed");
        return Ok(());
    }
    if !util::have_program("apt-get") {
        bail!(
            "these packages are missing and there is no apt-get to install them: {}",
            missing.join(" ")
        );
    }
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut c = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    util::run(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    util::run(&mut install)?;
    // A package installed from elsewhere can be removed by the first pass: a
    // newer qemu-utils (a backport) breaks the archive's qemu-system-common, so
    // apt takes it away to install qemu-system-x86. A second pass installs the
    // archive's version, which matches the rest of the archive's qemu.
    let removed = self::missing();
    if !removed.is_empty() {
        eprintln!(
            "xtask: setup: the first pass removed {}; installing the archive's versions",
            removed.join(" ")
        );
        let mut again = apt(&["install", "-y", "-q", "--no-install-recommends"]);
        again.args(&removed);
        util::run(&mut again)?;
    }
    let still = self::missing();
    if !still.is_empty() {
        bail!("still missing after apt-get install: {}", still.join(" "));
    }
    eprintln!("xtask: setup: installed {}", missing.join(" "));
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
