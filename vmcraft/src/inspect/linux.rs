//! Linux roots: recognised by `/etc/os-release` (or the older release files) and
//! described from os-release, `/etc/debian_version`, `/etc/hostname`, the ELF header
//! of the guest's own binaries, and the package databases present.

use std::collections::HashMap;

use vmcraft_archive::GuestRoot;

use super::{InspectInfo, fstab, sort_mountpoints};
use crate::error::Result;
use crate::session::VMCraft;

/// Release files of distributions without (or from before) os-release.
const RELEASE_FILES: [(&str, &str); 6] = [
    ("/etc/debian_version", "debian"),
    ("/etc/redhat-release", "redhat-based"),
    ("/etc/fedora-release", "fedora"),
    ("/etc/SuSE-release", "opensuse"),
    ("/etc/alpine-release", "alpinelinux"),
    ("/etc/arch-release", "archlinux"),
];

/// Whether this filesystem is a Linux root.
pub(crate) fn is_root(root: &GuestRoot) -> bool {
    let file = |p: &str| root.is_file(p, true).unwrap_or(false);
    (file("/etc/os-release")
        || file("/usr/lib/os-release")
        || RELEASE_FILES.iter().any(|(f, _)| file(f)))
        && root.is_dir("/etc", true).unwrap_or(false)
}

/// Parse os-release: `KEY=value`, values optionally quoted.
pub(crate) fn parse_os_release(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

/// os-release's ID to libguestfs's distro name.
pub(crate) fn distro_of(id: &str) -> &str {
    match id {
        "alpine" => "alpinelinux",
        "arch" => "archlinux",
        "ol" => "oraclelinux",
        "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "opensuse",
        "sles" | "sled" => "sles",
        "void" => "voidlinux",
        "kali" => "kalilinux",
        "altlinux" => "altlinux",
        "rhel" | "centos" | "fedora" | "debian" | "ubuntu" | "rocky" | "almalinux"
        | "linuxmint" | "mageia" | "gentoo" | "clear-linux-os" | "cirros" | "frugalware"
        | "openmandriva" | "pardus" | "slackware" | "buildroot" | "coreos" | "neokylin"
        | "openeuler" => id,
        _ => "unknown",
    }
}

fn version_of(s: &str) -> (i32, i32) {
    let mut it = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// ELF `e_machine` (and class/endianness) to libguestfs's arch names.
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
        0x16 => "s390x",
        0x08 => "mips",
        0x2B => "sparc64",
        0x102 => "loongarch64",
        _ => return None,
    })
}

fn read_small(root: &GuestRoot, path: &str) -> Option<String> {
    root.read_file(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn arch_of(root: &GuestRoot) -> String {
    for bin in [
        "/bin/ls",
        "/usr/bin/ls",
        "/bin/sh",
        "/usr/bin/bash",
        "/bin/busybox",
        "/sbin/init",
        "/lib/systemd/systemd",
    ] {
        if let Ok(mut f) = root.open_read(bin) {
            let mut head = [0u8; 64];
            if std::io::Read::read_exact(&mut f, &mut head).is_ok()
                && let Some(a) = elf_arch(&head)
            {
                return a.to_string();
            }
        }
    }
    "unknown".to_string()
}

fn hostname_of(root: &GuestRoot) -> String {
    for f in ["/etc/hostname", "/etc/HOSTNAME"] {
        if let Some(h) = read_small(root, f).and_then(|t| {
            t.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
        }) {
            return h;
        }
    }
    if let Some(net) = read_small(root, "/etc/sysconfig/network")
        && let Some(h) = parse_os_release(&net).get("HOSTNAME")
    {
        return h.clone();
    }
    "unknown".to_string()
}

fn packaging_of(root: &GuestRoot, distro: &str) -> (String, String) {
    let exists = |p: &str| root.exists(p).unwrap_or(false);
    let format = if exists("/var/lib/dpkg/status") {
        "deb"
    } else if exists("/var/lib/rpm") || exists("/usr/lib/sysimage/rpm") {
        "rpm"
    } else if exists("/var/lib/pacman") {
        "pacman"
    } else if exists("/lib/apk/db") {
        "apk"
    } else {
        "unknown"
    };
    let mgmt = match distro {
        "debian" | "ubuntu" | "linuxmint" | "kalilinux" => "apt",
        "fedora" | "rocky" | "almalinux" | "openeuler" => "dnf",
        "rhel" | "centos" | "oraclelinux" => {
            if exists("/usr/bin/dnf") {
                "dnf"
            } else {
                "yum"
            }
        }
        "opensuse" | "sles" => "zypper",
        "archlinux" => "pacman",
        "alpinelinux" => "apk",
        _ => "unknown",
    };
    (format.to_string(), mgmt.to_string())
}

/// Describe the Linux root on `device`.
pub(crate) fn inspect(g: &VMCraft, device: &str, root: &GuestRoot) -> Result<InspectInfo> {
    let os = read_small(root, "/etc/os-release")
        .or_else(|| read_small(root, "/usr/lib/os-release"))
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    let mut distro = os
        .get("ID")
        .map(|id| distro_of(id).to_string())
        .unwrap_or_default();
    if distro.is_empty() || distro == "unknown" {
        distro = RELEASE_FILES
            .iter()
            .find(|(f, _)| root.is_file(f, true).unwrap_or(false))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "unknown".into());
        if distro == "redhat-based" {
            let rel = read_small(root, "/etc/redhat-release").unwrap_or_default();
            distro = if rel.starts_with("CentOS") {
                "centos"
            } else if rel.starts_with("Fedora") {
                "fedora"
            } else {
                "rhel"
            }
            .into();
        }
    }
    let (mut major, mut minor) = os
        .get("VERSION_ID")
        .map(|v| version_of(v))
        .unwrap_or((0, 0));
    if distro == "debian" {
        // os-release has only the major version; debian_version has the point release.
        if let Some(dv) = read_small(root, "/etc/debian_version") {
            let (ma, mi) = version_of(dv.trim());
            if ma == major || major == 0 {
                (major, minor) = (ma, mi);
            }
        }
    }
    let product_name = os
        .get("PRETTY_NAME")
        .or_else(|| os.get("NAME"))
        .cloned()
        .or_else(|| read_small(root, "/etc/redhat-release").map(|t| t.trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    let (package_format, package_management) = packaging_of(root, &distro);
    let fstab_text = read_small(root, "/etc/fstab").unwrap_or_default();
    let mut mountpoints = fstab::resolve_fstab(g, &fstab_text)?;
    if !mountpoints.iter().any(|(mp, _)| mp == "/") {
        mountpoints.push(("/".into(), device.to_string()));
    }
    sort_mountpoints(&mut mountpoints);
    let mut filesystems: Vec<String> = mountpoints.iter().map(|(_, d)| d.clone()).collect();
    filesystems.sort();
    filesystems.dedup();
    Ok(InspectInfo {
        root: device.to_string(),
        os_type: "linux".into(),
        distro,
        product_name,
        major_version: major,
        minor_version: minor,
        hostname: hostname_of(root),
        arch: arch_of(root),
        package_format,
        package_management,
        mountpoints,
        filesystems,
        windows_systemroot: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quoting() {
        let m = parse_os_release(
            "# c\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID='12'\nX=a\\\"b\n",
        );
        assert_eq!(m["NAME"], "Debian GNU/Linux");
        assert_eq!(m["VERSION_ID"], "12");
        assert_eq!(m["ID"], "debian");
    }

    #[test]
    fn versions_and_distros() {
        assert_eq!(version_of("22.04"), (22, 4));
        assert_eq!(version_of("12"), (12, 0));
        assert_eq!(version_of("8.10"), (8, 10));
        assert_eq!(distro_of("alpine"), "alpinelinux");
        assert_eq!(distro_of("weird"), "unknown");
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
    }
}
