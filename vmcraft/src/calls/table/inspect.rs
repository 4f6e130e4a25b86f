//! Inspection: `inspect-os`, the `inspect-get-*` calls and
//! `inspect-list-applications2`.

use super::prelude::*;
use crate::inspect::Application2;

impl ToFields for Application2 {
    fn to_fields(&self) -> Fields {
        let s = |v: &String| Field::Str(v.clone());
        vec![
            ("app2_name", s(&self.app2_name)),
            ("app2_display_name", s(&self.app2_display_name)),
            ("app2_epoch", Field::Int(self.app2_epoch.into())),
            ("app2_version", s(&self.app2_version)),
            ("app2_release", s(&self.app2_release)),
            ("app2_arch", s(&self.app2_arch)),
            ("app2_install_path", s(&self.app2_install_path)),
            ("app2_trans_path", s(&self.app2_trans_path)),
            ("app2_publisher", s(&self.app2_publisher)),
            ("app2_url", s(&self.app2_url)),
            ("app2_source_package", s(&self.app2_source_package)),
            ("app2_summary", s(&self.app2_summary)),
            ("app2_description", s(&self.app2_description)),
            ("app2_class", s(&self.app2_class)),
            ("app2_spare2", s(&self.app2_spare2)),
            ("app2_spare3", s(&self.app2_spare3)),
            ("app2_spare4", s(&self.app2_spare4)),
        ]
    }
}

/// libguestfs's older `struct application` (what `inspect-list-applications`
/// prints): the same data without arch, class and the spare fields.
fn application_v1(a: &Application2) -> Fields {
    let s = |v: &String| Field::Str(v.clone());
    vec![
        ("app_name", s(&a.app2_name)),
        ("app_display_name", s(&a.app2_display_name)),
        ("app_epoch", Field::Int(a.app2_epoch.into())),
        ("app_version", s(&a.app2_version)),
        ("app_release", s(&a.app2_release)),
        ("app_install_path", s(&a.app2_install_path)),
        ("app_trans_path", s(&a.app2_trans_path)),
        ("app_publisher", s(&a.app2_publisher)),
        ("app_url", s(&a.app2_url)),
        ("app_source_package", s(&a.app2_source_package)),
        ("app_summary", s(&a.app2_summary)),
        ("app_description", s(&a.app2_description)),
    ]
}

pub(crate) const CALLS: &[Call] = &[
    call(
        "inspect-os",
        &[],
        Ret::StringList,
        "inspect disk and return list of operating systems found",
        "Look for operating systems on the session's disks and return the root filesystem \
         of each, by libguestfs's rules (Linux, CoreOS, GNU/Hurd and Windows roots; a \
         separate /usr completes its root; every btrfs subvolume is looked at, so a root \
         in one is btrfsvol:DEVICE/SUBVOL, and a snapshot of a root already found is not \
         another system). Filesystems are looked at read-only, through the user's mounts \
         when they are mounted; RAID and LVM members and LUKS containers are never mounted.",
        |g, _| Ok(Value::List(g.inspect_os()?)),
    ),
    call(
        "inspect-get-roots",
        &[],
        Ret::StringList,
        "return list of operating systems found by last inspection",
        "The roots found by the last inspect-os.",
        |g, _| Ok(Value::List(g.inspect_get_roots())),
    ),
    call(
        "inspect-get-type",
        &[ROOT],
        Ret::String,
        "get type of inspected operating system",
        "linux, windows, or unknown.",
        |g, a| Ok(Value::Str(g.inspect_get_type(a.str(0))?)),
    ),
    call(
        "inspect-get-distro",
        &[ROOT],
        Ret::String,
        "get distro of inspected operating system",
        "The distribution: debian, ubuntu, fedora, rhel, windows, ...",
        |g, a| Ok(Value::Str(g.inspect_get_distro(a.str(0))?)),
    ),
    call(
        "inspect-get-product-name",
        &[ROOT],
        Ret::String,
        "get product name of inspected operating system",
        "The product name, as the guest names itself.",
        |g, a| Ok(Value::Str(g.inspect_get_product_name(a.str(0))?)),
    ),
    call(
        "inspect-get-major-version",
        &[ROOT],
        Ret::Int,
        "get major version of inspected operating system",
        "The major version number.",
        |g, a| Ok(Value::Int(g.inspect_get_major_version(a.str(0))?.into())),
    ),
    call(
        "inspect-get-minor-version",
        &[ROOT],
        Ret::Int,
        "get minor version of inspected operating system",
        "The minor version number.",
        |g, a| Ok(Value::Int(g.inspect_get_minor_version(a.str(0))?.into())),
    ),
    call(
        "inspect-get-hostname",
        &[ROOT],
        Ret::String,
        "get hostname of the operating system",
        "The hostname configured in the guest, or unknown.",
        |g, a| Ok(Value::Str(g.inspect_get_hostname(a.str(0))?)),
    ),
    call(
        "inspect-get-arch",
        &[ROOT],
        Ret::String,
        "get architecture of inspected operating system",
        "The architecture of the guest's binaries: x86_64, aarch64, i386, ...",
        |g, a| Ok(Value::Str(g.inspect_get_arch(a.str(0))?)),
    ),
    call(
        "inspect-get-package-format",
        &[ROOT],
        Ret::String,
        "get package format used by the operating system",
        "rpm, deb, ebuild, pisi, pacman, apk, xbps, or unknown: libguestfs's table of the \
         distro's format.",
        |g, a| Ok(Value::Str(g.inspect_get_package_format(a.str(0))?)),
    ),
    call(
        "inspect-get-package-management",
        &[ROOT],
        Ret::String,
        "get package management tool used by the operating system",
        "yum, dnf, up2date, apt, portage, pisi, pacman, urpmi, zypper, apk, xbps, or \
         unknown: libguestfs's table of the distro's manager by major version (RHEL and \
         its rebuilds 8 and later dnf, 5 to 7 yum; Fedora 22 and later dnf when \
         /usr/bin/dnf is on the root filesystem).",
        |g, a| Ok(Value::Str(g.inspect_get_package_management(a.str(0))?)),
    ),
    call(
        "inspect-get-mountpoints",
        &[ROOT],
        Ret::Hash,
        "get mountpoints of inspected operating system",
        "The guest's mount points from its fstab, as mountpoint: mountable, parents first; \
         / is the root when the fstab does not name it. Devices named by UUID, LABEL, \
         PARTUUID, PARTLABEL, /dev/disk/by-*, LVM and /dev/mapper names are mapped to the \
         session's; a btrfs entry with subvol= is the subvolume (btrfsvol:/dev/sda2/root); \
         swap, pseudo filesystems and devices the session does not have are left out.",
        |g, a| Ok(Value::Hash(g.inspect_get_mountpoints(a.str(0))?)),
    ),
    call(
        "inspect-get-filesystems",
        &[ROOT],
        Ret::StringList,
        "get filesystems associated with inspected operating system",
        "The filesystems that belong to the operating system: its root and every device \
         its fstab names, swap included.",
        |g, a| Ok(Value::List(g.inspect_get_filesystems(a.str(0))?)),
    ),
    call(
        "inspect-get-osinfo",
        &[ROOT],
        Ret::String,
        "get a possible osinfo short ID corresponding to this operating system",
        "A guess at the libosinfo short ID of the system, made as libguestfs makes it from \
         the type, distro and version: debian12, rhel7.9, centos7.0, ubuntu22.04, \
         sles11sp4, sle15sp5, fedora38, archlinux, ... The ID need not exist in \
         osinfo-db; unknown when nothing can be guessed.",
        |g, a| Ok(Value::Str(g.inspect_get_osinfo(a.str(0))?)),
    ),
    call(
        "inspect-get-format",
        &[ROOT],
        Ret::String,
        "get format of inspected operating system",
        "Always installed (deprecated in libguestfs, which stopped detecting installer \
         and live disks in 1.38).",
        |g, a| Ok(Value::Str(g.inspect_get_format(a.str(0))?)),
    ),
    call(
        "inspect-is-live",
        &[ROOT],
        Ret::Bool,
        "get live flag for install disk",
        "Always false (deprecated in libguestfs).",
        |g, a| Ok(Value::Bool(g.inspect_is_live(a.str(0))?)),
    ),
    call(
        "inspect-is-netinst",
        &[ROOT],
        Ret::Bool,
        "get netinst (network installer) flag for install disk",
        "Always false (deprecated in libguestfs).",
        |g, a| Ok(Value::Bool(g.inspect_is_netinst(a.str(0))?)),
    ),
    call(
        "inspect-is-multipart",
        &[ROOT],
        Ret::Bool,
        "get multipart flag for install disk",
        "Always false (deprecated in libguestfs).",
        |g, a| Ok(Value::Bool(g.inspect_is_multipart(a.str(0))?)),
    ),
    call(
        "inspect-list-applications2",
        &[ROOT],
        Ret::StructList,
        "get list of applications installed in the operating system",
        "The packages installed in the inspected system, sorted by name, with \
         libguestfs's fields (app2_name, app2_display_name, app2_epoch, app2_version, \
         app2_release, app2_arch, app2_install_path, app2_trans_path, app2_publisher, \
         app2_url, app2_source_package, app2_summary, app2_description, app2_class and \
         three spare fields); a field the package format does not have is empty.\n\n\
         As in libguestfs, mount the guest's filesystems first (inspect-os, then its \
         mount points): the package database is read from the mounted tree, in-process, \
         without running guest code. dpkg, apk, pacman and rpm databases (rpmdb.sqlite, \
         the Berkeley DB Packages of older guests, SUSE's ndb Packages.db) are read; \
         other systems give an empty list. As librpm answers, a string an rpm \
         header lacks is (none). A dpkg package is listed \
         when its status says installed.",
        |g, a| Ok(structs(&g.inspect_list_applications2(a.str(0))?)),
    ),
    call(
        "inspect-list-applications",
        &[ROOT],
        Ret::StructList,
        "get list of applications installed in the operating system",
        "The same as inspect-list-applications2 with libguestfs's older structure (app_ \
         fields, no arch or class); deprecated in libguestfs.",
        |g, a| {
            let apps = g.inspect_list_applications2(a.str(0))?;
            Ok(Value::Structs(apps.iter().map(application_v1).collect()))
        },
    ),
    call(
        "inspect-get-windows-systemroot",
        &[ROOT],
        Ret::String,
        "get Windows systemroot of inspected operating system",
        "The Windows system directory (/Windows); an error for other guests.",
        |g, a| Ok(Value::Str(g.inspect_get_windows_systemroot(a.str(0))?)),
    ),
    call(
        "inspect-get-product-variant",
        &[ROOT],
        Ret::String,
        "get product variant of inspected operating system",
        "Windows: the registry's InstallationType (Client, Server, Server Core); unknown \
         for other guests, or when the registry does not say.",
        |g, a| Ok(Value::Str(g.inspect_get_product_variant(a.str(0))?)),
    ),
    call(
        "inspect-get-build-id",
        &[ROOT],
        Ret::String,
        "get the system build ID",
        "Windows: the registry's CurrentBuildNumber (19045); unknown for other guests.",
        |g, a| Ok(Value::Str(g.inspect_get_build_id(a.str(0))?)),
    ),
    call(
        "inspect-get-drive-mappings",
        &[ROOT],
        Ret::Hash,
        "get drive letter mappings",
        "Windows: drive letter: device, from HKLM\\SYSTEM\\MountedDevices (an MBR disk's \
         signature and partition offset, or a GPT partition's GUID), for the session's \
         partitions; empty for other guests.",
        |g, a| Ok(Value::Hash(g.inspect_get_drive_mappings(a.str(0))?)),
    ),
    call(
        "inspect-get-windows-software-hive",
        &[ROOT],
        Ret::String,
        "get the path of the Windows software hive",
        "Windows: the guest path of the SOFTWARE hive, as spelt on the filesystem; an \
         error when there is none.",
        |g, a| Ok(Value::Str(g.inspect_get_windows_software_hive(a.str(0))?)),
    ),
    call(
        "inspect-get-windows-system-hive",
        &[ROOT],
        Ret::String,
        "get the path of the Windows system hive",
        "Windows: the guest path of the SYSTEM hive, as spelt on the filesystem; an error \
         when there is none.",
        |g, a| Ok(Value::Str(g.inspect_get_windows_system_hive(a.str(0))?)),
    ),
    call(
        "inspect-get-windows-current-control-set",
        &[ROOT],
        Ret::String,
        "get Windows CurrentControlSet of inspected operating system",
        "Windows: the current control set from HKLM\\SYSTEM\\Select (ControlSet001); an \
         error when the registry does not say.",
        |g, a| {
            Ok(Value::Str(
                g.inspect_get_windows_current_control_set(a.str(0))?,
            ))
        },
    ),
    call(
        "windows-add-driver-service",
        &[ROOT, arg("driver", ArgKind::String)],
        Ret::Unit,
        "register a boot-start virtio driver service (VMCraft)",
        "Register the boot-start driver service DRIVER (viostor for virtio-blk, vioscsi \
         for virtio-scsi) in the SYSTEM hive of the inspected Windows root, mounted \
         read-write at /, as virt-v2v does: the service key under the current control set \
         (Type 1, Start 0, ErrorControl 1, ImagePath system32\\drivers\\DRIVER.sys, Group \
         SCSI miniport) and a CriticalDeviceDatabase entry (Service, ClassGUID) for each of \
         the device's PCI IDs. The guest's hive is rewritten only once every change \
         succeeded. Upload the driver file itself first. Not in libguestfs.",
        |g, a| {
            let d =
                crate::calls::windows_drivers::DriverService::named(a.str(1)).ok_or_else(|| {
                    Error::invalid(
                        "windows_add_driver_service",
                        a.str(1),
                        "unknown driver (expected viostor or vioscsi)",
                    )
                })?;
            void!(g.windows_add_driver_service(a.str(0), &d))
        },
    )
    .flags(Flags::WRITES),
];
