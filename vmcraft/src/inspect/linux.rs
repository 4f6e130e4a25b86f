//! Linux filesystems (and GNU/Hurd roots) as libguestfs recognises them: a root (`/etc` a directory,
//! `/bin` a directory or the link `usr/bin`, and `/etc/fstab` or `/etc/hosts`),
//! a CoreOS root, a separate `/usr` (whose os-release and binaries complete its
//! root), and the filesystems that are known not to be a root (a grub `/boot`,
//! `/usr/local`, `/var`). A root is described from its release files
//! ([`super::release`]), its hostname files, the ELF header of its binaries, and
//! libguestfs's table of package formats and managers per distro and version.
//!
//! VMCraft also takes a tree whose `/etc` holds os-release but which lacks
//! `/bin` or both of fstab and hosts (a container-style tree) as a root, where
//! libguestfs would find nothing.

use super::fsread::{AUGEAS_FILE, InspectFs, SMALL_FILE};
use super::release::{
    Data, LINUX_ROOT_TESTS, check_tests, key_values, parse_lsb_release, parse_os_release,
    shell_unquote,
};

/// What one filesystem is to inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// The root of a Linux system (its fstab is read by the caller).
    Root(Box<Data>),
    /// A CoreOS root: no fstab, the filesystem is mounted on `/`.
    CoreOsRoot(Box<Data>),
    /// A separate `/usr` (CoreOS's when the flag is set: then mounted on `/usr`
    /// by definition).
    Usr(Box<Data>, bool),
    /// Known and not a root (`/boot`, `/usr/local`, `/var`).
    Other,
}

/// libguestfs's release files of a Hurd root.
const HURD_ROOT_TESTS: &[(&str, super::release::Parser)] = &[
    ("/etc/os-release", super::release::Parser::OsRelease),
    (
        "/etc/debian_version",
        super::release::Parser::Generic("debian", None),
    ),
];

/// libguestfs's `arch_binaries`.
const ARCH_BINARIES: [&str; 5] = ["/bin/bash", "/bin/ls", "/bin/echo", "/bin/rm", "/bin/sh"];

fn is_symlink_to(fs: &dyn InspectFs, path: &str, target: &str) -> bool {
    fs.is_symlink(path) && fs.readlink(path).as_deref() == Some(target)
}

/// What `fs` is, or `None` when it is none of the Linux kinds (the caller goes
/// on with other systems); the package format and manager are filled in from
/// the distro and version found.
pub(crate) fn check_filesystem(fs: &dyn InspectFs) -> Option<Role> {
    let mut role = check_role(fs)?;
    if let Role::Root(d) | Role::CoreOsRoot(d) | Role::Usr(d, _) = &mut role {
        d.package_format = package_format(d.distro);
        let major = d.version.map_or(0, |v| v.0);
        d.package_management = package_management(d.distro, major, fs);
    }
    Some(role)
}

fn check_role(fs: &dyn InspectFs) -> Option<Role> {
    let file = |p: &str| fs.is_file(p, false);
    let dir = |p: &str| fs.is_dir(p, false);
    if file("/grub/menu.lst") || file("/grub/grub.conf") || file("/grub2/grub.cfg") {
        return Some(Role::Other);
    }
    if file("/hurd/console") && file("/hurd/hello") && file("/hurd/null") {
        // GNU/Hurd: Debian's, described as a Linux root but for its type and
        // its shorter list of release files.
        let mut data = Data {
            os_type: Some("hurd"),
            ..Default::default()
        };
        check_tests(fs, HURD_ROOT_TESTS, &mut data);
        data.arch = architecture(fs);
        data.hostname = hostname(fs);
        return Some(Role::Root(Box::new(data)));
    }
    let linux_root = dir("/etc")
        && (dir("/bin") || is_symlink_to(fs, "/bin", "usr/bin"))
        && (file("/etc/fstab") || file("/etc/hosts"));
    let os_release_tree = dir("/etc") && fs.is_file("/etc/os-release", true);
    if linux_root || os_release_tree {
        return Some(Role::Root(Box::new(check_linux_root(fs))));
    }
    if dir("/etc") && dir("/root") && dir("/home") && dir("/usr") && file("/etc/coreos/update.conf")
    {
        let mut data = Data {
            os_type: Some("linux"),
            distro: Some("coreos"),
            ..Default::default()
        };
        data.hostname = hostname(fs);
        return Some(Role::CoreOsRoot(Box::new(data)));
    }
    if dir("/etc") && dir("/bin") && dir("/share") && !dir("/local") && !file("/etc/fstab") {
        return Some(Role::Other); // /usr/local
    }
    if dir("/bin") && dir("/local") && dir("/share") && dir("/src") && !file("/etc/fstab") {
        let mut data = Data {
            os_type: Some("linux"),
            ..Default::default()
        };
        if let Some(t) = fs.read_text("/lib/os-release", SMALL_FILE) {
            parse_os_release(&t, &mut data);
        }
        if let Some(a) = architecture(fs) {
            data.arch = Some(a);
        }
        return Some(Role::Usr(Box::new(data), false));
    }
    if dir("/bin") && dir("/share") && dir("/local") && dir("/share/coreos") {
        let mut data = Data {
            os_type: Some("linux"),
            distro: Some("coreos"),
            ..Default::default()
        };
        if let Some(t) = fs.read_text("/lib/os-release", SMALL_FILE) {
            parse_os_release(&t, &mut data);
        } else if let Some(t) = fs.read_text("/share/coreos/lsb-release", SMALL_FILE) {
            parse_lsb_release(&t, &mut data);
        }
        if let Some(a) = architecture(fs) {
            data.arch = Some(a);
        }
        return Some(Role::Usr(Box::new(data), true));
    }
    if dir("/log") && dir("/run") && dir("/spool") {
        return Some(Role::Other); // /var
    }
    None
}

/// libguestfs's `check_linux_root`, without the fstab (read by the caller).
pub(crate) fn check_linux_root(fs: &dyn InspectFs) -> Data {
    let mut data = Data {
        os_type: Some("linux"),
        ..Default::default()
    };
    check_tests(fs, LINUX_ROOT_TESTS, &mut data);
    data.arch = architecture(fs);
    data.hostname = hostname(fs);
    data
}

/// The architecture of the first of libguestfs's binaries that is an ELF file
/// (symlinks followed inside the filesystem).
pub(crate) fn architecture(fs: &dyn InspectFs) -> Option<String> {
    ARCH_BINARIES.iter().find_map(|bin| {
        if !fs.is_file(bin, true) {
            return None;
        }
        let head = fs.read_head(bin, 64)?;
        elf_arch(&head).map(String::from)
    })
}

/// The first line of a hostname file that is neither empty nor a comment.
pub(crate) fn hostname_from_text(text: &str) -> Option<String> {
    text.split('\n')
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
}

/// `/etc/HOSTNAME`, then `/etc/hostname`, then `HOSTNAME=` in
/// `/etc/sysconfig/network` (at most 100 kB, as libguestfs gives Augeas).
pub(crate) fn hostname(fs: &dyn InspectFs) -> Option<String> {
    for f in ["/etc/HOSTNAME", "/etc/hostname"] {
        if let Some(h) = fs
            .read_text(f, SMALL_FILE)
            .and_then(|t| hostname_from_text(&t))
        {
            return Some(h);
        }
    }
    if fs.is_file("/etc/sysconfig/network", false) {
        let text = fs.read_text("/etc/sysconfig/network", AUGEAS_FILE)?;
        return key_values(&text)
            .into_iter()
            .filter(|(k, _)| k.trim() == "HOSTNAME")
            .map(|(_, v)| shell_unquote(v.trim()))
            .next_back();
    }
    None
}

/// libguestfs's package format of a distro.
pub(crate) fn package_format(distro: Option<&str>) -> Option<&'static str> {
    Some(match distro? {
        "altlinux" | "centos" | "circle" | "fedora" | "kylin" | "mageia" | "mandriva" | "meego"
        | "neokylin" | "opencloudos" | "tencentos" | "openeuler" | "openmandriva" | "opensuse"
        | "oraclelinux" | "redhat-based" | "rhel" | "rocky" | "scientificlinux" | "sles"
        | "suse-based" => "rpm",
        "debian" | "kalilinux" | "linuxmint" | "ubuntu" => "deb",
        "archlinux" => "pacman",
        "gentoo" => "ebuild",
        "pardus" => "pisi",
        "alpinelinux" => "apk",
        "voidlinux" => "xbps",
        _ => return None,
    })
}

/// libguestfs's package manager of a distro and major version (Fedora 22 and
/// later: `dnf` when `/usr/bin/dnf` is on the root filesystem).
pub(crate) fn package_management(
    distro: Option<&str>,
    major: i32,
    fs: &dyn InspectFs,
) -> Option<&'static str> {
    Some(match distro? {
        "meego" => "yum",
        "fedora" if major >= 22 && fs.is_file("/usr/bin/dnf", true) => "dnf",
        "fedora" if major >= 1 => "yum",
        "neokylin" => "dnf",
        "centos" | "circle" | "kylin" | "oraclelinux" | "redhat-based" | "rhel" | "rocky"
        | "scientificlinux" => match major {
            8.. => "dnf",
            5..=7 => "yum",
            2..=4 => "up2date",
            _ => return None,
        },
        "altlinux" | "debian" | "kalilinux" | "linuxmint" | "ubuntu" => "apt",
        "archlinux" => "pacman",
        "gentoo" => "portage",
        "pardus" => "pisi",
        "mageia" | "mandriva" => "urpmi",
        "opensuse" | "sles" | "suse-based" => "zypper",
        "alpinelinux" => "apk",
        "voidlinux" => "xbps",
        "openmandriva" | "opencloudos" | "tencentos" | "openeuler" => "dnf",
        _ => return None,
    })
}

/// ELF `e_machine` (with class and byte order) to libguestfs's arch names.
pub(crate) fn elf_arch(header: &[u8]) -> Option<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let class64 = header[4] == 2;
    let little = header[5] == 1;
    let machine = if little {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    Some(match machine {
        0x3E => "x86_64",
        0x03 => "i386",
        0xB7 => "aarch64",
        0x28 => "arm",
        0xF3 if class64 => "riscv64",
        0xF3 => "riscv32",
        0x15 if little => "ppc64le",
        0x15 => "ppc64",
        0x14 => "ppc",
        0x16 if class64 => "s390x",
        0x16 => "s390",
        0x08 if class64 => "mips64",
        0x08 => "mips",
        0x02 | 0x12 => "sparc",
        0x2B => "sparc64",
        0x32 => "ia64",
        0x102 => "loongarch64",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fsread::mem::MemFs;
    use super::*;

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn elf_machines() {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18] = 0x3E;
        assert_eq!(elf_arch(&h), Some("x86_64"));
        h[18] = 0xB7;
        assert_eq!(elf_arch(&h), Some("aarch64"));
        assert_eq!(elf_arch(b"MZ"), None);
        assert_eq!(elf_arch(b"\x7fELF"), None);
    }

    #[test]
    fn roles() {
        let root = MemFs::new(&[
            ("/etc/fstab", ""),
            ("/bin", "->usr/bin"),
            ("/etc/os-release", "ID=arch\nPRETTY_NAME=\"Arch Linux\"\n"),
            ("/etc/hostname", "\n# c\narch.test\nother\n"),
        ])
        .add("/usr/bin/bash", &elf(0x3E));
        let Some(Role::Root(d)) = check_filesystem(&root) else {
            panic!("not a root")
        };
        assert_eq!(d.distro, Some("archlinux"));
        assert_eq!(d.arch.as_deref(), Some("x86_64"));
        assert_eq!(d.hostname.as_deref(), Some("arch.test"));
        let boot = MemFs::new(&[("/grub2/grub.cfg", ""), ("/etc/os-release", "ID=debian\n")]);
        assert_eq!(check_filesystem(&boot), Some(Role::Other));
        let usr = MemFs::new(&[
            ("/local/x", ""),
            ("/share/x", ""),
            ("/src/x", ""),
            (
                "/lib/os-release",
                "ID=fedora\nVERSION_ID=38\nPRETTY_NAME=\"Fedora Linux 38\"\n",
            ),
        ])
        .add("/bin/ls", &elf(0xB7));
        let Some(Role::Usr(d, false)) = check_filesystem(&usr) else {
            panic!("not /usr")
        };
        assert_eq!(
            (d.distro, d.version, d.arch.as_deref()),
            (Some("fedora"), Some((38, 0)), Some("aarch64"))
        );
        let hurd = MemFs::new(&[
            ("/hurd/console", ""),
            ("/hurd/hello", ""),
            ("/hurd/null", ""),
            ("/etc/debian_version", "13.0\n"),
            ("/etc/hostname", "hurd\n"),
            ("/etc/SuSE-release", "not tried on the Hurd\n"),
        ]);
        let Some(Role::Root(d)) = check_filesystem(&hurd) else {
            panic!("not a Hurd root")
        };
        assert_eq!(
            (d.os_type, d.distro, d.version, d.package_format),
            (Some("hurd"), Some("debian"), Some((13, 0)), Some("deb"))
        );
        let var = MemFs::new(&[("/log/x", ""), ("/run/x", ""), ("/spool/x", "")]);
        assert_eq!(check_filesystem(&var), Some(Role::Other));
        assert_eq!(check_filesystem(&MemFs::new(&[("/data", "")])), None);
        // /bin a link elsewhere, no os-release: not a Linux root.
        let odd = MemFs::new(&[
            ("/etc/fstab", ""),
            ("/bin", "->/opt/bin"),
            ("/opt/bin/x", ""),
        ]);
        assert_eq!(check_filesystem(&odd), None);
    }

    #[test]
    fn hostnames() {
        let fs = MemFs::new(&[(
            "/etc/sysconfig/network",
            "NETWORKING=yes\nHOSTNAME=\"rhel5.example.com\"\n",
        )]);
        assert_eq!(hostname(&fs).as_deref(), Some("rhel5.example.com"));
        let fs = MemFs::new(&[
            ("/etc/HOSTNAME", "suse.example.com\n"),
            ("/etc/hostname", "other\n"),
        ]);
        assert_eq!(hostname(&fs).as_deref(), Some("suse.example.com"));
        let fs = MemFs::new(&[("/etc/hostname", "\n\n#only comments\n")]);
        assert_eq!(hostname(&fs), None);
        let big = format!("HOSTNAME=x\n{}", "#".repeat(AUGEAS_FILE as usize));
        let fs = MemFs::new(&[("/etc/sysconfig/network", big.as_str())]);
        assert_eq!(hostname(&fs), None, "too large for Augeas: ignored");
    }

    #[test]
    fn package_tables() {
        let none = MemFs::new(&[]);
        let dnf = MemFs::new(&[("/usr/bin/dnf", "#!")]);
        assert_eq!(package_management(Some("rhel"), 9, &none), Some("dnf"));
        assert_eq!(package_management(Some("rhel"), 7, &none), Some("yum"));
        assert_eq!(package_management(Some("rhel"), 4, &none), Some("up2date"));
        assert_eq!(package_management(Some("rhel"), 0, &none), None);
        assert_eq!(package_management(Some("fedora"), 38, &dnf), Some("dnf"));
        assert_eq!(package_management(Some("fedora"), 38, &none), Some("yum"));
        assert_eq!(package_management(Some("fedora"), 14, &dnf), Some("yum"));
        assert_eq!(
            package_management(Some("gentoo"), 0, &none),
            Some("portage")
        );
        assert_eq!(package_format(Some("gentoo")), Some("ebuild"));
        assert_eq!(package_format(Some("sles")), Some("rpm"));
        assert_eq!(package_format(Some("buildroot")), None);
        assert_eq!(package_format(None), None);
    }
}
