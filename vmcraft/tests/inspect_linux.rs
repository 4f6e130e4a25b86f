//! Inspection of the Linux guests people migrate, on phony guests built as
//! libguestfs's test suite builds them: one small ext4 image per guest, made
//! with `mkfs.ext4 -d` from a tree holding the release files, hostname files,
//! fstab and package databases the distribution really ships, and a real ELF
//! binary (the host's `true`) for the architecture. All the images are added
//! read-only to one session and inspected through the facade; every answer is
//! libguestfs's (type, distro, product name, version, hostname, arch, package
//! format and manager, osinfo), then the roots are mounted and their
//! applications listed.

use std::path::{Path, PathBuf};

use vmcraft::{Config, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

/// One phony guest: its ext4 label and its files (a content starting with
/// `->` is a symlink to the rest; `ELF` is the host's `true`).
struct Guest {
    label: &'static str,
    files: Vec<(&'static str, String)>,
}

fn elf() -> String {
    "ELF".into()
}

fn t(s: &str) -> String {
    s.to_string()
}

fn fstab(label: &str) -> String {
    format!("# /etc/fstab\nLABEL={label} / ext4 defaults 1 1\nproc /proc proc defaults 0 0\n")
}

fn build(env: &TestEnv, g: &Guest) -> PathBuf {
    let dir = env.path().join(g.label);
    for (path, content) in &g.files {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        if let Some(target) = content.strip_prefix("->") {
            std::os::unix::fs::symlink(target, &p).unwrap();
        } else if content == "FIFO" {
            let st = std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap();
            assert!(st.success());
        } else if let Some(host) = content.strip_prefix("FILE:") {
            std::fs::copy(host, &p).unwrap();
        } else if content == "ELF" {
            std::fs::copy(host_true(), &p).unwrap();
        } else if content.is_empty() && path.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
        } else {
            std::fs::write(&p, content).unwrap();
        }
    }
    let img = env.sparse_image(&format!("{}.img", g.label), 24 << 20);
    let out = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", g.label, "-d"])
        .arg(&dir)
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mkfs.ext4: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    img
}

fn host_true() -> &'static Path {
    ["/bin/true", "/usr/bin/true"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("the host's true")
}

const DPKG_STATUS: &str = "Package: base-files\nEssential: yes\nStatus: install ok installed\nPriority: required\n\
Section: admin\nInstalled-Size: 341\nMaintainer: Santiago Vila <sanvila@debian.org>\nArchitecture: amd64\n\
Multi-Arch: foreign\nVersion: 12.4+deb12u7\nReplaces: base, dpkg (<= 1.15.0), miscutils\nProvides: base\n\
Conffiles:\n /etc/debian_version 4a4f1e5b1e4e4b3b1c1f2e5e5b1a2b3c\n\
Description: Debian base system miscellaneous files\n This package contains the basic filesystem hierarchy of a Debian system, and\n \
several important miscellaneous files, such as /etc/debian_version,\n .\n and the default profile.\n\
Homepage: https://www.debian.org/\n\n\
Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 12985\n\
Architecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u8\n\
Description: GNU C Library: Shared libraries\n Contains the standard libraries that are used by nearly all programs on\n the system.\n\
Homepage: https://www.gnu.org/software/libc/libc.html\n\n\
Package: openssh-server\nStatus: deinstall ok config-files\nPriority: optional\nSection: net\n\
Architecture: amd64\nSource: openssh\nVersion: 1:9.2p1-2+deb12u3\nDescription: secure shell (SSH) server\n\n\
Package: vim-tiny\nStatus: install ok installed\nPriority: important\nSection: editors\n\
Architecture: amd64\nSource: vim (2:9.0.1378-2)\nVersion: 2:9.0.1378-2\nDescription: Vi IMproved - enhanced vi editor - compact version\n\
Homepage: https://www.vim.org/\n\n";

const APK_INSTALLED: &str = "C:Q1Z8n0ZK0Lf9f5Yy3ULg4u6dHqNTI=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\n\
T:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\n\
t:1698163467\nc:5b33e3a45e0fb4b0b1c2fd39b8e2f2ab8a0e5a7c\nF:lib\nR:ld-musl-x86_64.so.1\n\n\
C:Q1abcdefabcdefabcdefabcdefabcdef=\nP:busybox\nV:1.36.1-r5\nA:x86_64\nS:509269\nI:942080\n\
T:Size optimized toolbox of many common UNIX utilities\nU:https://busybox.net/\nL:GPL-2.0-only\no:busybox\n\n";

const PACMAN_DESC: &str = "%NAME%\nbash\n\n%VERSION%\n5.2.026-2\n\n%BASE%\nbash\n\n%DESC%\n\
The GNU Bourne Again shell\n\n%URL%\nhttps://www.gnu.org/software/bash/bash.html\n\n%ARCH%\nx86_64\n\n\
%BUILDDATE%\n1710000000\n\n%INSTALLDATE%\n1710000100\n\n%PACKAGER%\nArch Linux\n\n%SIZE%\n9000000\n\n\
%LICENSE%\nGPL-3.0-or-later\n\n%VALIDATION%\npgp\n\n";

/// Packages built by rpmbuild and registered by rpm itself (`--justdb`) in an
/// SQLite rpmdb under `dir`; returns the database and what librpm answers for
/// each package (`rpm -qa --qf`), libguestfs's fields.
fn make_rpmdb(env: &TestEnv) -> (PathBuf, Vec<[String; 8]>) {
    let top = env.path().join("rpmbuild");
    let db = env.path().join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    let specs = [
        "Name: vmcraft-test\nVersion: 1.2.3\nRelease: 4.fc38\nEpoch: 2\nSummary: A test package for VMCraft\n\
License: MIT\nURL: https://example.org/vmcraft\nBuildArch: noarch\n%description\n\
A package made by rpmbuild for the inspection tests.\nSecond line.\n%files\n",
        "Name: tiny\nVersion: 0.1\nRelease: 1\nSummary: No epoch, no URL\nLicense: MIT\nBuildArch: noarch\n\
%description\nTiny.\n%files\n",
    ];
    for (i, spec) in specs.iter().enumerate() {
        let path = env.path().join(format!("p{i}.spec"));
        std::fs::write(&path, spec).unwrap();
        let out = std::process::Command::new("rpmbuild")
            .args(["-bb", "--define"])
            .arg(format!("_topdir {}", top.display()))
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpmbuild: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rpm = |args: &[&str]| {
        let out = std::process::Command::new("rpm")
            .arg("--dbpath")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    rpm(&["--initdb"]);
    let mut pkgs: Vec<PathBuf> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pkgs.sort();
    let mut args = vec!["-i", "--nodeps", "--justdb"];
    args.extend(pkgs.iter().map(|p| p.to_str().unwrap()));
    rpm(&args);
    let q = rpm(&[
        "-qa",
        "--qf",
        "%{NAME}|@|%{EPOCH}|@|%{VERSION}|@|%{RELEASE}|@|%{ARCH}|@|%{URL}|@|%{SUMMARY}|@|%{DESCRIPTION}@@@",
    ]);
    let mut expected: Vec<[String; 8]> = q
        .split("@@@")
        .filter(|r| !r.is_empty())
        .map(|r| {
            let f: Vec<String> = r.split("|@|").map(String::from).collect();
            let mut a: [String; 8] = Default::default();
            for (i, v) in f.into_iter().enumerate() {
                a[i] = v;
            }
            // libguestfs takes the epoch as a number: 0 when absent.
            if a[1] == "(none)" {
                a[1] = "0".into();
            }
            a
        })
        .collect();
    expected.sort();
    (db.join("rpmdb.sqlite"), expected)
}

/// The same headers rpm stored, in a Berkeley DB hash `Packages` as rpm before
/// 4.16 kept it, written by Berkeley DB's own db_load (keys: record numbers in
/// host order; record 0 rpm's instance counter). `None` without the tools.
fn make_bdb_packages(env: &TestEnv, sqlite: &Path) -> Option<PathBuf> {
    if !require_tool("sqlite3") || !require_tool("db5.3_load") {
        return None;
    }
    let out = std::process::Command::new("sqlite3")
        .arg(sqlite)
        .arg("SELECT hnum, hex(blob) FROM Packages ORDER BY hnum")
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows = String::from_utf8(out.stdout).unwrap();
    let hex = |b: &[u8]| -> String { b.iter().map(|x| format!("{x:02x}")).collect() };
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n");
    dump.push_str(&format!(
        " {}\n {}\n",
        hex(&0u32.to_le_bytes()),
        hex(&100u32.to_le_bytes())
    ));
    for row in rows.lines() {
        let (n, blob) = row.split_once('|').unwrap();
        let n: u32 = n.parse().unwrap();
        dump.push_str(&format!(
            " {}\n {}\n",
            hex(&n.to_le_bytes()),
            blob.to_lowercase()
        ));
    }
    dump.push_str("DATA=END\n");
    let path = env.path().join("Packages");
    let mut child = std::process::Command::new("db5.3_load")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), dump.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    Some(path)
}

fn guests() -> Vec<Guest> {
    vec![
        Guest {
            label: "debian12",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
                    ),
                ),
                ("/etc/debian_version", t("12.7\n")),
                ("/etc/hostname", t("bookworm-vm\n")),
                // Hostile: a FIFO where libguestfs looks first (never opened,
                // so inspection cannot hang on it).
                ("/etc/HOSTNAME", t("FIFO")),
                ("/etc/hosts", t("127.0.0.1 localhost\n")),
                ("/etc/fstab", fstab("debian12")),
                ("/bin/ls", elf()),
                ("/var/lib/dpkg/status", t(DPKG_STATUS)),
            ],
        },
        Guest {
            label: "ubuntu2204",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n\
VERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\n",
                    ),
                ),
                (
                    "/etc/lsb-release",
                    t(
                        "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.3 LTS\"\n",
                    ),
                ),
                ("/etc/debian_version", t("bookworm/sid\n")),
                ("/etc/hostname", t("jammy\n")),
                ("/etc/fstab", fstab("ubuntu2204")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
            ],
        },
        Guest {
            label: "ubuntu1604",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"Ubuntu\"\nVERSION=\"16.04.7 LTS (Xenial Xerus)\"\nID=ubuntu\nID_LIKE=debian\n\
PRETTY_NAME=\"Ubuntu 16.04.7 LTS\"\nVERSION_ID=\"16.04\"\n",
                    ),
                ),
                (
                    "/etc/lsb-release",
                    t(
                        "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=16.04\nDISTRIB_CODENAME=xenial\nDISTRIB_DESCRIPTION=\"Ubuntu 16.04.7 LTS\"\n",
                    ),
                ),
                ("/etc/debian_version", t("stretch/sid\n")),
                ("/etc/hostname", t("xenial\n")),
                ("/etc/fstab", fstab("ubuntu1604")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            // libguestfs's own phony Ubuntu: lsb-release, no os-release.
            label: "ubuntu1010",
            files: vec![
                (
                    "/etc/lsb-release",
                    t(
                        "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=10.10\nDISTRIB_CODENAME=maverick\n\
DISTRIB_DESCRIPTION=\"Ubuntu 10.10 (Phony Pharaoh)\"\n",
                    ),
                ),
                ("/etc/debian_version", t("5.0.1")),
                ("/etc/hostname", t("ubuntu.invalid")),
                ("/etc/fstab", fstab("ubuntu1010")),
                ("/bin/ls", elf()),
            ],
        },
        Guest {
            label: "rhel5",
            files: vec![
                (
                    "/etc/redhat-release",
                    t("Red Hat Enterprise Linux Server release 5.11 (Tikanga)\n"),
                ),
                (
                    "/etc/sysconfig/network",
                    t("NETWORKING=yes\nNETWORKING_IPV6=no\nHOSTNAME=rhel5.example.com\n"),
                ),
                ("/etc/fstab", fstab("rhel5")),
                ("/bin/bash", elf()),
                ("/var/lib/rpm/Packages", t("")),
            ],
        },
        Guest {
            label: "rhel6",
            files: vec![
                // Hostile: a release file over libguestfs's small-file limit,
                // tried before redhat-release: skipped, never read whole.
                (
                    "/etc/oracle-release",
                    format!("Oracle Linux Server release 6.10\n{}", "x".repeat(3 << 20)),
                ),
                (
                    "/etc/redhat-release",
                    t("Red Hat Enterprise Linux Server release 6.10 (Santiago)\n"),
                ),
                (
                    "/etc/sysconfig/network",
                    t("NETWORKING=yes\nHOSTNAME=\"rhel6.example.com\"\n"),
                ),
                ("/etc/fstab", fstab("rhel6")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "rhel7",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"Red Hat Enterprise Linux Server\"\nVERSION=\"7.9 (Maipo)\"\nID=\"rhel\"\n\
ID_LIKE=\"fedora\"\nVERSION_ID=\"7.9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux Server 7.9 (Maipo)\"\n",
                    ),
                ),
                (
                    "/etc/redhat-release",
                    t("Red Hat Enterprise Linux Server release 7.9 (Maipo)\n"),
                ),
                ("/etc/hostname", t("rhel7.example.com\n")),
                ("/etc/sysconfig/network", t("# Created by anaconda\n")),
                ("/etc/fstab", fstab("rhel7")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
            ],
        },
        Guest {
            label: "centos7",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\n\
VERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n",
                    ),
                ),
                (
                    "/etc/centos-release",
                    t("CentOS Linux release 7.9.2009 (Core)\n"),
                ),
                ("/etc/redhat-release", t("->centos-release")),
                ("/etc/system-release", t("->centos-release")),
                ("/etc/hostname", t("centos7\n")),
                ("/etc/fstab", fstab("centos7")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
            ],
        },
        Guest {
            // Before os-release: the release file only.
            label: "fedora14",
            files: vec![
                ("/etc/redhat-release", t("Fedora release 14 (Laughlin)")),
                ("/etc/fedora-release", t("Fedora release 14 (Laughlin)")),
                ("/etc/sysconfig/network", t("HOSTNAME=fedora.invalid")),
                ("/etc/fstab", fstab("fedora14")),
                ("/bin/ls", elf()),
            ],
        },
        Guest {
            label: "fedora38",
            files: vec![
                (
                    "/usr/lib/os-release",
                    t(
                        "NAME=\"Fedora Linux\"\nVERSION=\"38 (Server Edition)\"\nID=fedora\nVERSION_ID=38\n\
PRETTY_NAME=\"Fedora Linux 38 (Server Edition)\"\n",
                    ),
                ),
                ("/etc/os-release", t("->../usr/lib/os-release")),
                ("/etc/redhat-release", t("->fedora-release")),
                ("/etc/fedora-release", t("->../usr/lib/fedora-release")),
                (
                    "/usr/lib/fedora-release",
                    t("Fedora release 38 (Thirty Eight)\n"),
                ),
                ("/etc/hostname", t("f38.example.org\n")),
                ("/etc/fstab", fstab("fedora38")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
                ("/usr/bin/dnf", t("->dnf-3")),
                ("/usr/bin/dnf-3", t("#!/usr/bin/python3\n")),
                ("/var/lib/rpm", t("->../../usr/lib/sysimage/rpm")),
            ],
        },
        Guest {
            // A root whose /usr is its own filesystem: os-release and the
            // binaries are on the /usr filesystem (next guest).
            label: "splitroot",
            files: vec![
                ("/etc/os-release", t("->../usr/lib/os-release")),
                ("/etc/hostname", t("split.example.org\n")),
                (
                    "/etc/fstab",
                    format!(
                        "{}LABEL=splitusr /usr ext4 defaults 1 2\n",
                        fstab("splitroot")
                    ),
                ),
                ("/bin", t("->usr/bin")),
            ],
        },
        Guest {
            label: "splitusr",
            files: vec![
                (
                    "/lib/os-release",
                    t(
                        "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME=\"Fedora Linux 39 (Cloud Edition)\"\n",
                    ),
                ),
                ("/bin/bash", elf()),
                ("/bin/dnf", t("#!/usr/bin/python3\n")),
                ("/local/bin/", t("")),
                ("/share/doc/", t("")),
                ("/src/", t("")),
            ],
        },
        Guest {
            // CoreOS: the root has no fstab and no binaries; /usr (the next
            // guest) has os-release and the binaries.
            label: "coreosroot",
            files: vec![
                ("/etc/coreos/update.conf", t("GROUP=stable\n")),
                ("/etc/os-release", t("->../usr/share/coreos/os-release")),
                ("/etc/hostname", t("core-01\n")),
                ("/root/", t("")),
                ("/home/core/", t("")),
                ("/usr/", t("")),
            ],
        },
        Guest {
            label: "coreosusr",
            files: vec![
                (
                    "/lib/os-release",
                    t(
                        "NAME=CoreOS\nID=coreos\nVERSION=647.0.0\nVERSION_ID=647.0.0\nBUILD_ID=\n\
PRETTY_NAME=\"CoreOS 647.0.0\"\n",
                    ),
                ),
                ("/bin/bash", elf()),
                (
                    "/share/coreos/lsb-release",
                    t("DISTRIB_ID=CoreOS\nDISTRIB_RELEASE=647.0.0\n"),
                ),
                ("/local/bin/", t("")),
            ],
        },
        Guest {
            // Oracle Linux 6: oracle-release comes before redhat-release.
            label: "oracle6",
            files: vec![
                (
                    "/etc/oracle-release",
                    t("Oracle Linux Server release 6.10\n"),
                ),
                (
                    "/etc/redhat-release",
                    t("Red Hat Enterprise Linux Server release 6.10 (Santiago)\n"),
                ),
                ("/etc/system-release", t("->oracle-release")),
                (
                    "/etc/sysconfig/network",
                    t("NETWORKING=yes\nHOSTNAME=ol6.example.com\n"),
                ),
                ("/etc/fstab", fstab("oracle6")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "scientific6",
            files: vec![
                (
                    "/etc/redhat-release",
                    t("Scientific Linux release 6.10 (Carbon)\n"),
                ),
                ("/etc/sysconfig/network", t("HOSTNAME=sl6\n")),
                ("/etc/fstab", fstab("scientific6")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "centos6",
            files: vec![
                ("/etc/centos-release", t("CentOS release 6.10 (Final)\n")),
                ("/etc/redhat-release", t("->centos-release")),
                (
                    "/etc/sysconfig/network",
                    t("HOSTNAME=centos6.localdomain\n"),
                ),
                ("/etc/fstab", fstab("centos6")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            // openSUSE before os-release: SuSE-release and /etc/HOSTNAME.
            label: "opensuse132",
            files: vec![
                (
                    "/etc/SuSE-release",
                    t("openSUSE 13.2 (x86_64)\nVERSION = 13.2\nCODENAME = Harlequin\n"),
                ),
                ("/etc/HOSTNAME", t("linux-harlequin.site\n")),
                ("/etc/fstab", fstab("opensuse132")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "sles11",
            files: vec![
                (
                    "/etc/SuSE-release",
                    t("SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n"),
                ),
                ("/etc/HOSTNAME", t("sles11.example.com\n")),
                ("/etc/fstab", fstab("sles11")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "sles15",
            files: vec![
                (
                    "/etc/os-release",
                    t("NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\n\
PRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n"),
                ),
                ("/etc/hostname", t("sles15\n")),
                ("/etc/fstab", fstab("sles15")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "leap155",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"openSUSE Leap\"\nVERSION=\"15.5\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n\
VERSION_ID=\"15.5\"\nPRETTY_NAME=\"openSUSE Leap 15.5\"\n",
                    ),
                ),
                ("/etc/HOSTNAME", t("leap\n")),
                ("/etc/fstab", fstab("leap155")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "alpine318",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME=\"Alpine Linux v3.18\"\n\
HOME_URL=\"https://alpinelinux.org/\"\n",
                    ),
                ),
                ("/etc/alpine-release", t("3.18.4\n")),
                ("/etc/hostname", t("alpine\n")),
                ("/etc/fstab", fstab("alpine318")),
                ("/bin/busybox", elf()),
                ("/bin/ls", t("->/bin/busybox")),
                ("/bin/sh", t("->/bin/busybox")),
                ("/lib/apk/db/installed", t(APK_INSTALLED)),
            ],
        },
        Guest {
            label: "arch",
            files: vec![
                (
                    "/usr/lib/os-release",
                    t(
                        "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
                    ),
                ),
                ("/etc/os-release", t("->../usr/lib/os-release")),
                ("/etc/arch-release", t("")),
                ("/etc/hostname", t("archlinux.test\n")),
                ("/etc/fstab", fstab("arch")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
                ("/var/lib/pacman/local/bash-5.2.026-2/desc", t(PACMAN_DESC)),
                ("/var/lib/pacman/local/ALPM_DB_VERSION", t("9\n")),
            ],
        },
        Guest {
            label: "gentoo",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=Gentoo\nID=gentoo\nPRETTY_NAME=\"Gentoo Linux\"\nVERSION_ID=\"2.14\"\n",
                    ),
                ),
                (
                    "/etc/gentoo-release",
                    t("Gentoo Base System release 2.14\n"),
                ),
                ("/etc/hostname", t("gentoo\n")),
                ("/etc/fstab", fstab("gentoo")),
                ("/bin/bash", elf()),
            ],
        },
        Guest {
            label: "photon4",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"VMware Photon OS\"\nVERSION=\"4.0\"\nID=photon\nVERSION_ID=4.0\n\
PRETTY_NAME=\"VMware Photon OS/Linux\"\n",
                    ),
                ),
                (
                    "/etc/lsb-release",
                    t(
                        "DISTRIB_ID=\"VMware Photon OS\"\nDISTRIB_RELEASE=\"4.0\"\nDISTRIB_CODENAME=Photon\n\
DISTRIB_DESCRIPTION=\"VMware Photon OS 4.0\"\n",
                    ),
                ),
                (
                    "/etc/photon-release",
                    t("VMware Photon OS 4.0\nPHOTON_BUILD_NUMBER=2f5aad892\n"),
                ),
                ("/etc/hostname", t("photon-machine\n")),
                ("/etc/fstab", fstab("photon4")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
            ],
        },
        Guest {
            label: "amzn2",
            files: vec![
                (
                    "/etc/os-release",
                    t(
                        "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n\
VERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n",
                    ),
                ),
                ("/etc/system-release", t("Amazon Linux release 2 (Karoo)\n")),
                ("/etc/hostname", t("ip-172-31-0-1.ec2.internal\n")),
                ("/etc/fstab", fstab("amzn2")),
                ("/bin", t("->usr/bin")),
                ("/usr/bin/bash", elf()),
            ],
        },
    ]
}

/// libguestfs's answers: label, distro, product name, major, minor, hostname,
/// package format, package management, osinfo.
#[allow(clippy::type_complexity)]
const EXPECTED: &[(&str, &str, &str, i32, i32, &str, &str, &str, &str)] = &[
    (
        "debian12",
        "debian",
        "Debian GNU/Linux 12 (bookworm)",
        12,
        7,
        "bookworm-vm",
        "deb",
        "apt",
        "debian12",
    ),
    (
        "ubuntu2204",
        "ubuntu",
        "Ubuntu 22.04.3 LTS",
        22,
        4,
        "jammy",
        "deb",
        "apt",
        "ubuntu22.04",
    ),
    (
        "ubuntu1604",
        "ubuntu",
        "Ubuntu 16.04.7 LTS",
        16,
        4,
        "xenial",
        "deb",
        "apt",
        "ubuntu16.04",
    ),
    (
        "ubuntu1010",
        "ubuntu",
        "Ubuntu 10.10 (Phony Pharaoh)",
        10,
        10,
        "ubuntu.invalid",
        "deb",
        "apt",
        "ubuntu10.10",
    ),
    (
        "rhel5",
        "rhel",
        "Red Hat Enterprise Linux Server release 5.11 (Tikanga)",
        5,
        11,
        "rhel5.example.com",
        "rpm",
        "yum",
        "rhel5.11",
    ),
    (
        "rhel6",
        "rhel",
        "Red Hat Enterprise Linux Server release 6.10 (Santiago)",
        6,
        10,
        "rhel6.example.com",
        "rpm",
        "yum",
        "rhel6.10",
    ),
    (
        "rhel7",
        "rhel",
        "Red Hat Enterprise Linux Server 7.9 (Maipo)",
        7,
        9,
        "rhel7.example.com",
        "rpm",
        "yum",
        "rhel7.9",
    ),
    (
        "centos7",
        "centos",
        "CentOS Linux release 7.9.2009 (Core)",
        7,
        9,
        "centos7",
        "rpm",
        "yum",
        "centos7.0",
    ),
    (
        "fedora14",
        "fedora",
        "Fedora release 14 (Laughlin)",
        14,
        0,
        "fedora.invalid",
        "rpm",
        "yum",
        "fedora14",
    ),
    (
        "fedora38",
        "fedora",
        "Fedora Linux 38 (Server Edition)",
        38,
        0,
        "f38.example.org",
        "rpm",
        "dnf",
        "fedora38",
    ),
    // Everything but the hostname comes from the separate /usr; dnf is looked
    // for at /usr/bin/dnf of the filesystem being inspected, so libguestfs
    // answers yum for a split /usr.
    (
        "splitroot",
        "fedora",
        "Fedora Linux 39 (Cloud Edition)",
        39,
        0,
        "split.example.org",
        "rpm",
        "yum",
        "fedora39",
    ),
    // CoreOS: what the root lacks comes from its /usr; no package manager.
    (
        "coreosroot",
        "coreos",
        "CoreOS 647.0.0",
        647,
        0,
        "core-01",
        "unknown",
        "unknown",
        "coreos647.0",
    ),
    (
        "oracle6",
        "oraclelinux",
        "Oracle Linux Server release 6.10",
        6,
        10,
        "ol6.example.com",
        "rpm",
        "yum",
        "oraclelinux6.10",
    ),
    (
        "scientific6",
        "scientificlinux",
        "Scientific Linux release 6.10 (Carbon)",
        6,
        10,
        "sl6",
        "rpm",
        "yum",
        "scientificlinux6.10",
    ),
    (
        "centos6",
        "centos",
        "CentOS release 6.10 (Final)",
        6,
        10,
        "centos6.localdomain",
        "rpm",
        "yum",
        "centos6.10",
    ),
    (
        "opensuse132",
        "opensuse",
        "openSUSE 13.2 (x86_64)",
        13,
        2,
        "linux-harlequin.site",
        "rpm",
        "zypper",
        "opensuse13.2",
    ),
    (
        "sles11",
        "sles",
        "SUSE Linux Enterprise Server 11 (x86_64)",
        11,
        4,
        "sles11.example.com",
        "rpm",
        "zypper",
        "sles11sp4",
    ),
    (
        "sles15",
        "sles",
        "SUSE Linux Enterprise Server 15 SP5",
        15,
        5,
        "sles15",
        "rpm",
        "zypper",
        "sle15sp5",
    ),
    (
        "leap155",
        "opensuse",
        "openSUSE Leap 15.5",
        15,
        5,
        "leap",
        "rpm",
        "zypper",
        "opensuse15.5",
    ),
    (
        "alpine318",
        "alpinelinux",
        "Alpine Linux v3.18",
        3,
        18,
        "alpine",
        "apk",
        "apk",
        "alpinelinux3.18",
    ),
    (
        "arch",
        "archlinux",
        "Arch Linux",
        0,
        0,
        "archlinux.test",
        "pacman",
        "pacman",
        "archlinux",
    ),
    (
        "gentoo",
        "gentoo",
        "Gentoo Linux",
        2,
        14,
        "gentoo",
        "ebuild",
        "portage",
        "gentoo",
    ),
    // libguestfs knows neither Photon nor Amazon Linux: what os-release and
    // lsb-release said is kept, the distro is unknown.
    (
        "photon4",
        "unknown",
        "VMware Photon OS 4.0",
        4,
        0,
        "photon-machine",
        "unknown",
        "unknown",
        "unknown",
    ),
    (
        "amzn2",
        "unknown",
        "Amazon Linux 2",
        2,
        0,
        "ip-172-31-0-1.ec2.internal",
        "unknown",
        "unknown",
        "unknown",
    ),
];

#[test]
fn phony_linux_guests_inspect_as_libguestfs_answers() {
    if !require_root("attaching images") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("inspect-linux");
    let mut guests = guests();
    let rpmdb = (vmcraft_block::testing::require_tool("rpm") && require_tool("rpmbuild"))
        .then(|| make_rpmdb(&env));
    let mut bdb = None;
    if let Some((db, _)) = &rpmdb {
        let f38 = guests.iter_mut().find(|g| g.label == "fedora38").unwrap();
        f38.files.push((
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            format!("FILE:{}", db.display()),
        ));
        bdb = make_bdb_packages(&env, db);
        if let Some(p) = &bdb {
            let c7 = guests.iter_mut().find(|g| g.label == "centos7").unwrap();
            c7.files
                .push(("/var/lib/rpm/Packages", format!("FILE:{}", p.display())));
        }
    }
    let images: Vec<PathBuf> = guests.iter().map(|g| build(&env, g)).collect();
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    let mut dev_of = std::collections::HashMap::new();
    for (guest, img) in guests.iter().zip(&images) {
        dev_of.insert(guest.label, g.add_drive_ro(img).unwrap());
    }
    g.launch().unwrap();

    let mut roots = g.inspect_os().unwrap();
    roots.sort();
    let mut expected_roots: Vec<String> = EXPECTED.iter().map(|e| dev_of[e.0].clone()).collect();
    expected_roots.sort();
    assert_eq!(
        roots, expected_roots,
        "every guest but the /usr filesystem is a root"
    );
    assert!(
        g.mountpoints().is_empty(),
        "inspection left nothing mounted"
    );

    let arch = std::env::consts::ARCH;
    for &(label, distro, product, major, minor, host, fmt, mgmt, osinfo) in EXPECTED {
        let root = &dev_of[label];
        let got = (
            g.inspect_get_type(root).unwrap(),
            g.inspect_get_distro(root).unwrap(),
            g.inspect_get_product_name(root).unwrap(),
            g.inspect_get_major_version(root).unwrap(),
            g.inspect_get_minor_version(root).unwrap(),
            g.inspect_get_hostname(root).unwrap(),
            g.inspect_get_arch(root).unwrap(),
            g.inspect_get_package_format(root).unwrap(),
            g.inspect_get_package_management(root).unwrap(),
            g.inspect_get_osinfo(root).unwrap(),
        );
        let want = (
            "linux".to_string(),
            distro.to_string(),
            product.to_string(),
            major,
            minor,
            host.to_string(),
            arch.to_string(),
            fmt.to_string(),
            mgmt.to_string(),
            osinfo.to_string(),
        );
        assert_eq!(got, want, "{label}");
        assert_eq!(g.inspect_get_format(root).unwrap(), "installed");
        assert!(!g.inspect_is_live(root).unwrap());
        assert!(!g.inspect_is_netinst(root).unwrap());
        assert!(!g.inspect_is_multipart(root).unwrap());
    }

    // The mount points come from the fstab's LABEL= entries; the split /usr is
    // the root's /usr.
    let split = &dev_of["splitroot"];
    assert_eq!(
        g.inspect_get_mountpoints(split).unwrap(),
        [
            ("/".to_string(), split.clone()),
            ("/usr".to_string(), dev_of["splitusr"].clone())
        ]
    );
    assert_eq!(
        g.inspect_get_filesystems(split).unwrap(),
        [split.clone(), dev_of["splitusr"].clone()]
    );
    let core = &dev_of["coreosroot"];
    assert_eq!(
        g.inspect_get_mountpoints(core).unwrap(),
        [
            ("/".to_string(), core.clone()),
            ("/usr".to_string(), dev_of["coreosusr"].clone())
        ]
    );
    assert_eq!(
        g.inspect_get_mountpoints(&dev_of["debian12"]).unwrap(),
        [("/".to_string(), dev_of["debian12"].clone())]
    );

    // A device that is not a root is refused.
    let err = g.inspect_get_osinfo(&dev_of["splitusr"]).unwrap_err();
    assert!(err.to_string().contains("not an inspected root"), "{err}");
    assert!(g.inspect_list_applications2(&dev_of["splitusr"]).is_err());

    // Applications: mounted as libguestfs wants them, read from the tree.
    let apps_of = |label: &str| {
        let root = &dev_of[label];
        g.mount_ro(root, "/").unwrap();
        let apps = g.inspect_list_applications2(root).unwrap();
        g.umount_all().unwrap();
        apps
    };
    let deb = apps_of("debian12");
    let names: Vec<&str> = deb.iter().map(|a| a.app2_name.as_str()).collect();
    assert_eq!(
        names,
        ["base-files", "libc6", "vim-tiny"],
        "config-files only: not installed"
    );
    let libc = &deb[1];
    assert_eq!(
        (
            libc.app2_epoch,
            libc.app2_version.as_str(),
            libc.app2_release.as_str(),
            libc.app2_arch.as_str()
        ),
        (0, "2.36", "9+deb12u8", "amd64")
    );
    assert_eq!(libc.app2_source_package, "glibc");
    assert_eq!(libc.app2_summary, "GNU C Library: Shared libraries");
    assert_eq!(
        libc.app2_description,
        "Contains the standard libraries that are used by nearly all programs on\nthe system."
    );
    assert_eq!(libc.app2_url, "https://www.gnu.org/software/libc/libc.html");
    let vim = &deb[2];
    assert_eq!(
        (
            vim.app2_epoch,
            vim.app2_version.as_str(),
            vim.app2_release.as_str()
        ),
        (2, "9.0.1378", "2")
    );
    assert_eq!(vim.app2_source_package, "vim");
    assert_eq!(
        (deb[0].app2_version.as_str(), deb[0].app2_release.as_str()),
        ("12.4+deb12u7", "")
    );

    let apk = apps_of("alpine318");
    let got: Vec<(&str, &str, &str, &str)> = apk
        .iter()
        .map(|a| {
            (
                a.app2_name.as_str(),
                a.app2_version.as_str(),
                a.app2_release.as_str(),
                a.app2_url.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("busybox", "1.36.1", "5", "https://busybox.net/"),
            ("musl", "1.2.4", "2", "https://musl.libc.org/")
        ]
    );
    assert_eq!(
        apk[1].app2_description,
        "the musl c library (libc) implementation"
    );

    let pac = apps_of("arch");
    assert_eq!(pac.len(), 1);
    assert_eq!(
        (
            pac[0].app2_name.as_str(),
            pac[0].app2_version.as_str(),
            pac[0].app2_release.as_str(),
            pac[0].app2_arch.as_str()
        ),
        ("bash", "5.2.026", "2", "x86_64")
    );
    assert_eq!(pac[0].app2_description, "The GNU Bourne Again shell");

    // rpm: librpm's own answers (rpm -qa) for the packages rpm registered.
    if let Some((_, expected)) = &rpmdb {
        let got: Vec<[String; 8]> = apps_of("fedora38")
            .into_iter()
            .map(|a| {
                [
                    a.app2_name,
                    a.app2_epoch.to_string(),
                    a.app2_version,
                    a.app2_release,
                    a.app2_arch,
                    a.app2_url,
                    a.app2_summary,
                    a.app2_description,
                ]
            })
            .collect();
        assert_eq!(&got, expected);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0][0], "tiny");
        assert_eq!((got[1][1].as_str(), got[0][5].as_str()), ("2", "(none)"));
        // The same headers in a Berkeley DB Packages (CentOS 7's rpmdb).
        if bdb.is_some() {
            let c7: Vec<String> = apps_of("centos7")
                .into_iter()
                .map(|a| a.app2_name)
                .collect();
            let names: Vec<&String> = expected.iter().map(|e| &e[0]).collect();
            assert_eq!(c7.iter().collect::<Vec<_>>(), names);
        }
    }

    // Other systems without a reader: empty (gentoo), or refused (an rpm
    // guest whose rpmdb is Berkeley DB).
    assert!(apps_of("gentoo").is_empty());
    let root = &dev_of["rhel5"];
    g.mount_ro(root, "/").unwrap();
    let err = g.inspect_list_applications2(root).unwrap_err();
    assert!(err.to_string().contains("Berkeley DB"), "{err}");
    g.umount_all().unwrap();
    // Nothing mounted: refused, as libguestfs cannot read the database either.
    assert!(g.inspect_list_applications2(&dev_of["debian12"]).is_err());

    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// Ubuntu 22.04's LVM layout, built through the facade: `/boot` on a partition
/// named in fstab by `/dev/disk/by-uuid`, the root on an LV named by
/// `/dev/disk/by-id/dm-uuid-LVM-<VG UUID><LV UUID>` as Ubuntu's installer
/// writes it; both are mapped back to the session's devices.
#[test]
fn ubuntu_lvm_root_named_by_dm_uuid() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("inspect-lvm");
    let disk = env.sparse_image("ubuntu-lvm.img", 256 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&disk).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 133_119).unwrap();
    g.part_add("/dev/sda", "p", 133_120, -34).unwrap();
    g.mkfs("ext4", "/dev/sda1", &Default::default()).unwrap();
    g.pvcreate(&["/dev/sda2"]).unwrap();
    g.vgcreate("ubuntu-vg", &["/dev/sda2"]).unwrap();
    g.lvcreate("ubuntu-lv", "ubuntu-vg", 96).unwrap();
    g.mkfs("ext4", "/dev/ubuntu-vg/ubuntu-lv", &Default::default())
        .unwrap();
    g.lvcreate("home-lv", "ubuntu-vg", 32).unwrap();
    g.mkfs("ext4", "/dev/ubuntu-vg/home-lv", &Default::default())
        .unwrap();
    let vg = g.vgs_full().unwrap().remove(0).vg_uuid;
    let uuid_of = |name: &str| {
        g.lvs_full()
            .unwrap()
            .into_iter()
            .find(|l| l.lv_name == name)
            .unwrap()
            .lv_uuid
    };
    let (lv, home) = (uuid_of("ubuntu-lv"), uuid_of("home-lv"));
    let boot = g.vfs_uuid("/dev/sda1").unwrap();
    g.mount("/dev/ubuntu-vg/ubuntu-lv", "/").unwrap();
    g.mkdir_p("/etc").unwrap();
    g.mkdir_p("/usr/bin").unwrap();
    g.ln_s("usr/bin", "/bin").unwrap();
    g.upload(host_true(), "/usr/bin/bash").unwrap();
    g.write(
        "/etc/os-release",
        b"PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n",
    )
    .unwrap();
    g.write("/etc/hostname", b"jammy-lvm\n").unwrap();
    let fstab = format!(
        "# /etc/fstab: static file system information.\n\
         /dev/disk/by-id/dm-uuid-LVM-{}{} / ext4 defaults 0 1\n\
         /dev/disk/by-uuid/{boot} /boot ext4 defaults 0 1\n\
         /dev/disk/by-id/dm-uuid-LVM-{}{} /home ext4 defaults 0 2\n\
         /swap.img none swap sw 0 0\n",
        vg.replace('-', ""),
        lv.replace('-', ""),
        vg.replace('-', ""),
        home.replace('-', "")
    );
    g.write("/etc/fstab", fstab.as_bytes()).unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();

    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&disk).unwrap();
    g.launch().unwrap();
    let roots = g.inspect_os().unwrap();
    assert_eq!(roots, ["/dev/ubuntu-vg/ubuntu-lv"]);
    let root = &roots[0];
    assert_eq!(g.inspect_get_osinfo(root).unwrap(), "ubuntu22.04");
    assert_eq!(g.inspect_get_hostname(root).unwrap(), "jammy-lvm");
    assert_eq!(
        g.inspect_get_mountpoints(root).unwrap(),
        [
            ("/".to_string(), root.clone()),
            ("/boot".to_string(), "/dev/sda1".to_string()),
            ("/home".to_string(), "/dev/ubuntu-vg/home-lv".to_string())
        ]
    );
    // The swap file is no device: left out.
    assert_eq!(
        g.inspect_get_filesystems(root).unwrap(),
        [
            root.clone(),
            "/dev/sda1".to_string(),
            "/dev/ubuntu-vg/home-lv".to_string()
        ]
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// Fedora's btrfs layout, as libguestfs's own phony Fedora (`LAYOUT=btrfs`)
/// makes it: subvolumes `root` and `home` on one btrfs filesystem, the fstab
/// mounting them with `subvol=`. The root is found in its subvolume and the
/// mount points are btrfs mountables, as libguestfs answers.
#[test]
fn fedora_btrfs_subvolumes() {
    if !require_root("attaching images") || !require_tool("mkfs.btrfs") {
        return;
    }
    let env = TestEnv::new("inspect-btrfs");
    let disk = env.sparse_image("fedora-btrfs.img", 256 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&disk).unwrap();
    g.launch().unwrap();
    g.mkfs(
        "btrfs",
        "/dev/sda",
        &vmcraft::MkfsOptions {
            label: Some("ROOT".into()),
            ..Default::default()
        },
    )
    .unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.btrfs_subvolume_create("/root", None).unwrap();
    g.btrfs_subvolume_create("/home", None).unwrap();
    g.btrfs_subvolume_create("/var", None).unwrap();
    // /var is named by its id in the fstab (subvolid=), as some installers do.
    let var_id = g
        .btrfs_subvolume_list("/")
        .unwrap()
        .into_iter()
        .find(|v| v.btrfssubvolume_path == "var")
        .unwrap()
        .btrfssubvolume_id;
    g.umount_all().unwrap();
    g.mount_options("subvol=root", "/dev/sda", "/").unwrap();
    for d in ["/etc/sysconfig", "/usr/bin", "/home", "/var", "/srv"] {
        g.mkdir_p(d).unwrap();
    }
    g.ln_s("usr/bin", "/bin").unwrap();
    g.upload(host_true(), "/usr/bin/bash").unwrap();
    g.write(
        "/etc/os-release",
        b"NAME=\"Fedora Linux\"\nVERSION_ID=39\nID=fedora\nPRETTY_NAME=\"Fedora Linux 39 (Workstation Edition)\"\n",
    )
    .unwrap();
    g.write("/etc/hostname", b"fedora-btrfs\n").unwrap();
    g.write(
        "/etc/fstab",
        format!(
            "LABEL=ROOT / btrfs subvol=root,compress=zstd:1 0 0\n\
             LABEL=ROOT /home btrfs subvol=home,compress=zstd:1 0 0\n\
             LABEL=ROOT /var btrfs subvolid={var_id} 0 0\n\
             LABEL=ROOT /srv btrfs subvolid=999 0 0\n"
        )
        .as_bytes(),
    )
    .unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();

    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&disk).unwrap();
    g.launch().unwrap();
    let roots = g.inspect_os().unwrap();
    assert_eq!(roots, ["btrfsvol:/dev/sda/root"]);
    let root = &roots[0];
    assert_eq!(g.inspect_get_distro(root).unwrap(), "fedora");
    assert_eq!(g.inspect_get_osinfo(root).unwrap(), "fedora39");
    assert_eq!(g.inspect_get_hostname(root).unwrap(), "fedora-btrfs");
    assert_eq!(
        g.inspect_get_mountpoints(root).unwrap(),
        [
            ("/".to_string(), "btrfsvol:/dev/sda/root".to_string()),
            ("/home".to_string(), "btrfsvol:/dev/sda/home".to_string()),
            ("/var".to_string(), "btrfsvol:/dev/sda/var".to_string())
        ]
    );
    assert!(
        g.mountpoints().is_empty(),
        "inspection left nothing mounted"
    );
    // The mountables mount as libguestfs mounts them (`-i` does this).
    let mps = g.inspect_get_mountpoints(root).unwrap();
    for (mp, dev) in &mps {
        g.mount_ro(dev, mp).unwrap();
    }
    assert_eq!(g.cat("/etc/hostname").unwrap(), "fedora-btrfs\n");
    assert!(g.is_dir("/home").unwrap());
    assert_eq!(g.mountable_subvolume(&mps[1].1).unwrap(), "home");
    g.umount_all().unwrap();
    // Bad subvolume mountables are refused before anything is mounted.
    for (bad, why) in [
        ("btrfsvol:/dev/sda/root,ro", "comma"),
        ("btrfsvol:/dev/sda/", "not a mountable"),
    ] {
        let e = g.mount_ro(bad, "/").unwrap_err();
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    assert!(g.mountpoints().is_empty());
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// An fstab naming its filesystems every way but UUID: `PARTUUID=`,
/// `PARTLABEL=`, `/dev/disk/by-label/`, `/dev/disk/by-partuuid/` and
/// `/dev/disk/by-partlabel/`, on a real GPT disk: each resolves to its
/// partition, as libguestfs resolves them; a name of no session device is
/// left out.
#[test]
fn fstab_entries_by_partition_ids_and_udev_links() {
    if !require_root("attaching images") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("inspect-partids");
    let disk = env.sparse_image("partids.img", 160 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&disk).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "gpt").unwrap();
    let mut start = 2048i64;
    for _ in 0..5 {
        g.part_add("/dev/sda", "p", start, start + (30 << 11) - 1)
            .unwrap();
        start += 30 << 11;
    }
    for (n, name) in [(2, "srv part"), (5, "varpart")] {
        g.part_set_name("/dev/sda", n, name).unwrap();
    }
    for n in 1..=5 {
        let label = if n == 3 {
            Some("data".to_string())
        } else {
            None
        };
        g.mkfs(
            "ext4",
            &format!("/dev/sda{n}"),
            &vmcraft::MkfsOptions {
                label,
                ..Default::default()
            },
        )
        .unwrap();
    }
    let guid = |n: i32| g.part_get_gpt_guid("/dev/sda", n).unwrap().to_lowercase();
    let fstab = format!(
        "PARTUUID={} / ext4 defaults 0 1\n\
         PARTLABEL=srv\\040part /srv ext4 defaults 0 2\n\
         /dev/disk/by-label/data /data ext4 defaults 0 2\n\
         /dev/disk/by-partuuid/{} /opt ext4 defaults 0 2\n\
         /dev/disk/by-partlabel/varpart /var ext4 defaults 0 2\n\
         PARTUUID=00000000-0000-0000-0000-000000000000 /gone ext4 defaults 0 2\n",
        guid(1),
        guid(4)
    );
    g.mount("/dev/sda1", "/").unwrap();
    for d in ["/etc", "/bin", "/srv", "/data", "/opt", "/var"] {
        g.mkdir_p(d).unwrap();
    }
    g.upload(host_true(), "/bin/bash").unwrap();
    g.write(
        "/etc/os-release",
        b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .unwrap();
    g.write("/etc/fstab", fstab.as_bytes()).unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();

    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&disk).unwrap();
    g.launch().unwrap();
    assert_eq!(g.inspect_os().unwrap(), ["/dev/sda1"]);
    let mut mps = g.inspect_get_mountpoints("/dev/sda1").unwrap();
    mps.sort();
    let want: Vec<(String, String)> = [
        ("/", "/dev/sda1"),
        ("/data", "/dev/sda3"),
        ("/opt", "/dev/sda4"),
        ("/srv", "/dev/sda2"),
        ("/var", "/dev/sda5"),
    ]
    .iter()
    .map(|(m, d)| (m.to_string(), d.to_string()))
    .collect();
    assert_eq!(mps, want);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
