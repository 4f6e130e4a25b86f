//! Inspection: `inspect-os` and the `inspect-get-*` calls.

use super::{CommandSpec, ROOT, c, cmd};
use crate::cli::value::Value;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "inspect-os",
        &[],
        "inspect disk and return list of operating systems found",
        "Look for operating systems on the session's disks and return the root filesystem \
         of each. Filesystems are looked at read-only, through the user's mounts when they \
         are mounted.",
        |s, _| Ok(Value::List(c("inspect_os", s.g.inspect_os())?)),
    ),
    cmd(
        "inspect-get-roots",
        &[],
        "return list of operating systems found by last inspection",
        "The roots found by the last inspect-os.",
        |s, _| Ok(Value::List(s.g.inspect_get_roots())),
    ),
    cmd(
        "inspect-get-type",
        &[ROOT],
        "get type of inspected operating system",
        "linux, windows, or unknown.",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_type",
                s.g.inspect_get_type(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-distro",
        &[ROOT],
        "get distro of inspected operating system",
        "The distribution: debian, ubuntu, fedora, rhel, windows, ...",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_distro",
                s.g.inspect_get_distro(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-product-name",
        &[ROOT],
        "get product name of inspected operating system",
        "The product name, as the guest names itself.",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_product_name",
                s.g.inspect_get_product_name(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-major-version",
        &[ROOT],
        "get major version of inspected operating system",
        "The major version number.",
        |s, a| {
            Ok(Value::Int(
                c(
                    "inspect_get_major_version",
                    s.g.inspect_get_major_version(a.str(0)),
                )?
                .into(),
            ))
        },
    ),
    cmd(
        "inspect-get-minor-version",
        &[ROOT],
        "get minor version of inspected operating system",
        "The minor version number.",
        |s, a| {
            Ok(Value::Int(
                c(
                    "inspect_get_minor_version",
                    s.g.inspect_get_minor_version(a.str(0)),
                )?
                .into(),
            ))
        },
    ),
    cmd(
        "inspect-get-hostname",
        &[ROOT],
        "get hostname of the operating system",
        "The hostname configured in the guest, or unknown.",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_hostname",
                s.g.inspect_get_hostname(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-arch",
        &[ROOT],
        "get architecture of inspected operating system",
        "The architecture of the guest's binaries: x86_64, aarch64, i386, ...",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_arch",
                s.g.inspect_get_arch(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-package-format",
        &[ROOT],
        "get package format used by the operating system",
        "deb, rpm, pacman, apk, or unknown.",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_package_format",
                s.g.inspect_get_package_format(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-package-management",
        &[ROOT],
        "get package management tool used by the operating system",
        "apt, dnf, yum, zypper, pacman, apk, or unknown.",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_package_management",
                s.g.inspect_get_package_management(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-mountpoints",
        &[ROOT],
        "get mountpoints of inspected operating system",
        "The guest's mount points from its fstab, as mountpoint: device, parents first.",
        |s, a| {
            Ok(Value::Hash(c(
                "inspect_get_mountpoints",
                s.g.inspect_get_mountpoints(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-filesystems",
        &[ROOT],
        "get filesystems associated with inspected operating system",
        "The filesystems that belong to the operating system.",
        |s, a| {
            Ok(Value::List(c(
                "inspect_get_filesystems",
                s.g.inspect_get_filesystems(a.str(0)),
            )?))
        },
    ),
    cmd(
        "inspect-get-windows-systemroot",
        &[ROOT],
        "get Windows systemroot of inspected operating system",
        "The Windows system directory (/Windows); an error for other guests.",
        |s, a| {
            Ok(Value::Str(c(
                "inspect_get_windows_systemroot",
                s.g.inspect_get_windows_systemroot(a.str(0)),
            )?))
        },
    ),
];
