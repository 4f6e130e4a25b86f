//! Inspection: find the operating systems on the session's disks (`inspect_os`) and
//! describe them (`inspect_get_*`, `inspect_get_osinfo`), without disturbing the
//! user's mounts: a filesystem the user mounted is read where it is; any other is
//! mounted read-only in a private directory outside the guest tree and unmounted
//! afterwards. The applications (`inspect_list_applications2`) are read from the
//! guest tree the caller mounted, as libguestfs reads them.
//!
//! The rules are libguestfs's, learnt from its daemon: which filesystem is a
//! root (`linux`), which release file says what (`release`), what libosinfo ID
//! a system gets (`osinfo`), how fstab entries map to the session's devices
//! (`fstab`), and how each package database is read (`apps`, `rpmdb`). They run
//! over a small read-only trait (`fsread::InspectFs`), implemented today for the
//! confined view of a mounted filesystem, so in-process filesystem readers can
//! take its place without touching the rules.

mod apps;
mod drives;
mod fsread;
mod fstab;
mod linux;
mod osinfo;
mod release;
#[doc(hidden)]
pub mod rpmdb;
mod windows;

pub use apps::{Application2, MAX_FIELD, MAX_PACKAGES};

use std::path::PathBuf;

use serde::Serialize;
use vmcraft_fs::root::GuestRoot;

use crate::error::{Error, ErrorKind, Result};
use crate::mount::strategy::{Target, fallback_strategies};
use crate::session::VMCraft;
use release::Data;

/// What inspection found about one operating system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InspectInfo {
    /// The root filesystem's device.
    pub root: String,
    /// `linux`, `windows`, or `unknown` (libguestfs also knows `freebsd`,
    /// `netbsd`, `openbsd`, `hurd`, `dos` and `minix`).
    pub os_type: String,
    /// libguestfs's distro name (`debian`, `ubuntu`, `fedora`, `rhel`, `centos`,
    /// `sles`, `opensuse`, `alpinelinux`, `archlinux`, `redhat-based`, `windows`,
    /// ..., `unknown`).
    pub distro: String,
    /// The product name (`Debian GNU/Linux 12 (bookworm)`).
    pub product_name: String,
    /// Major version.
    pub major_version: i32,
    /// Minor version.
    pub minor_version: i32,
    /// The hostname configured in the guest, or `unknown`.
    pub hostname: String,
    /// The architecture of its binaries (`x86_64`, `aarch64`, `i386`, ...).
    pub arch: String,
    /// `rpm`, `deb`, `ebuild`, `pisi`, `pacman`, `apk`, `xbps`, or `unknown`.
    pub package_format: String,
    /// `yum`, `dnf`, `up2date`, `apt`, `portage`, `pisi`, `pacman`, `urpmi`,
    /// `zypper`, `apk`, `xbps`, or `unknown`.
    pub package_management: String,
    /// Mount point -> mountable, from the guest's fstab, resolved to session
    /// devices (`btrfsvol:DEVICE/SUBVOL` for a btrfs `subvol=` entry); `/` is
    /// the root when the fstab does not say; sorted so that parents come before
    /// children.
    pub mountpoints: Vec<(String, String)>,
    /// The filesystems that belong to this OS: the root and every device its
    /// fstab names, swap included.
    pub filesystems: Vec<String>,
    /// Windows: the system root directory (`/Windows`).
    pub windows_systemroot: Option<String>,
    /// Windows: `InstallationType` (`Client`, `Server`, `Server Core`);
    /// `unknown` elsewhere or when the registry does not say.
    pub product_variant: String,
    /// Windows: `CurrentBuildNumber` (`19045`); `unknown` elsewhere.
    pub build_id: String,
    /// Windows: the SOFTWARE hive's path, as spelt in the guest.
    pub windows_software_hive: Option<String>,
    /// Windows: the SYSTEM hive's path.
    pub windows_system_hive: Option<String>,
    /// Windows: the current control set (`ControlSet001`).
    pub windows_current_control_set: Option<String>,
    /// Windows: drive letter -> device, from `HKLM\SYSTEM\MountedDevices`
    /// (letters of partitions of the session's drives only), in registry order,
    /// the letter as the registry writes it.
    pub drive_mappings: Vec<(String, String)>,
}

/// A read-only view of a filesystem for inspection.
pub(crate) struct FsView<'a> {
    // Field order is drop order: the root's descriptor must be closed before the
    // private mount under it can go.
    pub root: ViewRoot,
    _mount: Option<PrivateMount<'a>>,
}

/// What an inspection view reads: a kernel mount, or the filesystem read
/// in-process (see [`crate::inproc`]).
pub(crate) enum ViewRoot {
    /// Mounted by the kernel (the user's mount or a private one).
    Kernel(GuestRoot),
    /// Read in-process.
    Tree(std::sync::Arc<vmcraft_fs::BoxedTree>),
}

impl ViewRoot {
    /// The reader, as inspection's rules take it.
    pub(crate) fn fs(&self) -> &dyn fsread::InspectFs {
        match self {
            ViewRoot::Kernel(r) => r,
            ViewRoot::Tree(t) => &**t,
        }
    }

    /// The kernel mount, for calls that need a host directory.
    pub(crate) fn kernel(&self) -> Option<&GuestRoot> {
        match self {
            ViewRoot::Kernel(r) => Some(r),
            ViewRoot::Tree(_) => None,
        }
    }
}

/// A private inspection mount, unmounted (and its directory removed) on drop.
struct PrivateMount<'a> {
    g: &'a VMCraft,
    host: PathBuf,
}

impl Drop for PrivateMount<'_> {
    fn drop(&mut self) {
        let entry = self
            .g
            .mounts()
            .iter()
            .find(|m| m.private && m.host_path == self.host)
            .cloned();
        if let Some(e) = entry
            && let Err(err) = self.g.unmount_entry("inspect", &e)
        {
            tracing::warn!(error = %err.chain(), "inspection unmount failed");
            return;
        }
        let _ = std::fs::remove_dir(&self.host);
    }
}

impl VMCraft {
    /// A read-only view of `device` (or of a btrfs subvolume,
    /// `btrfsvol:DEVICE/SUBVOL`): through the user's mount if it is mounted,
    /// otherwise mounted privately.
    pub(crate) fn fs_view(&self, call: &str, device: &str) -> Result<FsView<'_>> {
        self.fs_view_top(call, device, false)
    }

    /// [`VMCraft::fs_view`], or with `top` a btrfs filesystem's top level
    /// (`subvolid=5`, where every subvolume's path starts), privately mounted.
    fn fs_view_top(&self, call: &str, device: &str, top: bool) -> Result<FsView<'_>> {
        let user = self
            .mounts()
            .iter()
            .find(|m| !m.private && m.device == device)
            .cloned();
        if let Some(m) = user.filter(|_| !top) {
            return Ok(FsView {
                root: ViewRoot::Kernel(GuestRoot::open(&m.host_path)?),
                _mount: None,
            });
        }
        if !top {
            // Mounted in-process by the user, or readable in-process: no mount.
            let mounted = crate::session::lock(&self.inproc_mounts)
                .iter()
                .find(|m| m.device == device)
                .map(|m| m.tree.clone());
            if let Some(tree) = mounted.or_else(|| self.inproc_view(call, device).map(Into::into)) {
                return Ok(FsView {
                    root: ViewRoot::Tree(tree),
                    _mount: None,
                });
            }
        }
        let (devname, subvol) = if device.starts_with("btrfsvol:") {
            (
                self.mountable_device(device)?,
                Some(self.mountable_subvolume(device)?),
            )
        } else {
            (device.to_string(), None)
        };
        // A subvolume's name comes from the guest: it must not add mount options.
        if let Some(sv) = &subvol
            && (sv.contains(',') || sv.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                call,
                device,
                "a subvolume name with a comma or control character",
            ));
        }
        let dev = self.resolve(call, &devname)?;
        let mut leaf = dev.name.trim_start_matches("/dev/").replace('/', "-");
        if let Some(sv) = &subvol {
            leaf = format!("{leaf}@{}", sv.replace('/', "-"));
        } else if top {
            leaf.push_str("@top");
        }
        let dir = self.inspect_dir(call)?.join(leaf);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, call, dir.display(), "cannot create", e)
        })?;
        let target = Target {
            mountpoint: dir.display().to_string(),
            host: dir.clone(),
            fd: None,
            private: true,
        };
        let options = match &subvol {
            Some(sv) => format!("ro,subvol={sv}"),
            None if top => "ro,subvolid=5".to_string(),
            None => "ro".to_string(),
        };
        if let Err(e) = self.try_strategies(call, &dev, "", target, &fallback_strategies(&options))
        {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        let mount = PrivateMount {
            g: self,
            host: dir.clone(),
        };
        Ok(FsView {
            root: ViewRoot::Kernel(GuestRoot::open(&dir)?),
            _mount: Some(mount),
        })
    }

    /// Look for operating systems (`inspect_os`): returns the root device of each.
    ///
    /// Every filesystem is looked at read-only and given a role as libguestfs
    /// gives it (a Linux or CoreOS root, a separate `/usr`, a Windows root, or
    /// nothing); a `/usr` named in a root's fstab completes what its root lacks
    /// (os-release, architecture), and a CoreOS root takes its newest `/usr`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_os(&self) -> Result<Vec<String>> {
        let _span = tracing::info_span!("inspect_os").entered();
        let mut roots: Vec<FoundRoot> = Vec::new();
        let mut usrs: Vec<(String, Data, bool)> = Vec::new();
        let mut windows_roots: Vec<InspectInfo> = Vec::new();
        let mut queue: std::collections::VecDeque<(String, String)> =
            self.list_filesystems()?.into_iter().collect();
        while let Some((dev, fstype)) = queue.pop_front() {
            // Swap, RAID and LVM members and LUKS containers are never mounted
            // as filesystems (list_filesystems leaves the members out already).
            if matches!(fstype.as_str(), "unknown" | "swap" | "crypto_LUKS")
                || fstype.ends_with("_member")
            {
                continue;
            }
            let view = match self.fs_view("inspect_os", &dev) {
                Ok(v) => v,
                Err(e) => {
                    tracing::info!(device = %dev, error = %e.chain(), "not inspectable");
                    continue;
                }
            };
            // libguestfs looks at every btrfs subvolume as a filesystem of its
            // own (Fedora's root and home, SUSE's snapshots).
            if fstype == "btrfs" && !dev.starts_with("btrfsvol:") {
                match self.fs_view_top("inspect_os", &dev, true) {
                    Ok(FsView {
                        root: ViewRoot::Kernel(top),
                        ..
                    }) => {
                        for sv in btrfs_subvolumes(&top) {
                            queue.push_back((format!("btrfsvol:{dev}/{sv}"), fstype.clone()));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::info!(device = %dev, error = %e.chain(), "btrfs top level not mountable")
                    }
                }
            }
            match linux::check_filesystem(view.root.fs()) {
                Some(linux::Role::Root(data)) => {
                    let fstab = fsread::InspectFs::read_text(
                        view.root.fs(),
                        "/etc/fstab",
                        fsread::AUGEAS_FILE,
                    )
                    .unwrap_or_default();
                    // md names in the fstab are the guest's: its mdadm.conf
                    // says which array (by UUID) each one is.
                    let mdadm_conf = ["/etc/mdadm.conf", "/etc/mdadm/mdadm.conf"]
                        .iter()
                        .find_map(|p| {
                            fsread::InspectFs::read_text(view.root.fs(), p, fsread::AUGEAS_FILE)
                        })
                        .unwrap_or_default();
                    drop(view);
                    let fstab = fstab::resolve_fstab(self, &dev, &fstab, &mdadm_conf)?;
                    roots.push(FoundRoot {
                        dev,
                        data: *data,
                        fstab,
                        coreos: false,
                    });
                }
                Some(linux::Role::CoreOsRoot(data)) => roots.push(FoundRoot {
                    fstab: vec![(dev.clone(), "/".into())],
                    dev,
                    data: *data,
                    coreos: true,
                }),
                Some(linux::Role::Usr(data, coreos)) => usrs.push((dev, *data, coreos)),
                Some(linux::Role::Other) => {}
                None => {
                    if windows::is_root(view.root.fs()) {
                        let dir = self.inspect_dir("inspect_os")?;
                        std::fs::create_dir_all(&dir).map_err(|e| {
                            Error::call_with_source(
                                ErrorKind::Io,
                                "inspect_os",
                                dir.display(),
                                "cannot create",
                                e,
                            )
                        })?;
                        let (mut info, reg) = windows::inspect(&dev, view.root.fs(), &dir)?;
                        drop(view);
                        info.drive_mappings = self.drive_mappings(&reg.mounted_devices);
                        windows_roots.push(info);
                    }
                }
            }
        }
        // CoreOS: the root takes the /usr with the highest version.
        let coreos_roots = roots.iter().filter(|r| r.coreos).count();
        if coreos_roots > 1 {
            return Err(Error::call(
                ErrorKind::Inspection,
                "inspect_os",
                "",
                "multiple CoreOS root filesystems found",
            ));
        }
        // A btrfs snapshot of a root found on its device is not another system.
        let plain: Vec<(String, Data)> = roots
            .iter()
            .filter(|r| !r.dev.starts_with("btrfsvol:"))
            .map(|r| (r.dev.clone(), r.data.clone()))
            .collect();
        roots.retain(|r| {
            let Some(rest) = r.dev.strip_prefix("btrfsvol:") else {
                return true;
            };
            !plain.iter().any(|(d, data)| {
                rest.starts_with(&format!("{d}/"))
                    && data.os_type == r.data.os_type
                    && data.distro == r.data.distro
                    && data.product_name == r.data.product_name
                    && data.version == r.data.version
            })
        });
        let mut found: Vec<InspectInfo> = Vec::new();
        for mut r in roots {
            let usr = if r.coreos {
                usrs.iter()
                    .filter(|u| u.2)
                    .max_by_key(|u| u.1.version.unwrap_or((0, 0)))
                    .inspect(|u| {
                        r.fstab.insert(0, (u.0.clone(), "/usr".into()));
                    })
            } else {
                usrs.iter()
                    .filter(|u| u.1.distro != Some("coreos"))
                    .find(|u| r.fstab.iter().any(|(m, _)| *m == u.0))
            };
            if let Some(u) = usr {
                r.data.merge_from(&u.1);
            }
            found.push(r.into_info());
        }
        found.extend(windows_roots);
        let roots: Vec<String> = found.iter().map(|i| i.root.clone()).collect();
        let mut map = self.inspections.lock().unwrap_or_else(|e| e.into_inner());
        map.clear();
        for i in found {
            map.insert(i.root.clone(), i);
        }
        Ok(roots)
    }

    /// The roots found by the last `inspect_os` (`inspect_get_roots`).
    pub fn inspect_get_roots(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inspections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Everything inspection found about `root`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_info(&self, root: &str) -> Result<InspectInfo> {
        self.inspections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(root)
            .cloned()
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::Inspection,
                    "inspect",
                    root,
                    "not an inspected root (call inspect_os first)",
                )
            })
    }

    /// `linux`, `windows` or `unknown` (`inspect_get_type`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_type(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.os_type)
    }

    /// The distro (`inspect_get_distro`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_distro(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.distro)
    }

    /// The product name (`inspect_get_product_name`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_product_name(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.product_name)
    }

    /// The major version (`inspect_get_major_version`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_major_version(&self, root: &str) -> Result<i32> {
        Ok(self.inspect_info(root)?.major_version)
    }

    /// The minor version (`inspect_get_minor_version`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_minor_version(&self, root: &str) -> Result<i32> {
        Ok(self.inspect_info(root)?.minor_version)
    }

    /// The hostname (`inspect_get_hostname`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_hostname(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.hostname)
    }

    /// The architecture (`inspect_get_arch`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_arch(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.arch)
    }

    /// Windows: `Client`, `Server` or `Server Core` from the registry's
    /// `InstallationType`; `unknown` for other guests or when it does not say
    /// (`inspect_get_product_variant`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_product_variant(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.product_variant)
    }

    /// Windows: the build number (`19045`); `unknown` for other guests
    /// (`inspect_get_build_id`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_build_id(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.build_id)
    }

    /// Windows: drive letter -> device, from the registry's `MountedDevices`
    /// (`inspect_get_drive_mappings`); empty for other guests.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_drive_mappings(&self, root: &str) -> Result<Vec<(String, String)>> {
        Ok(self.inspect_info(root)?.drive_mappings)
    }

    /// Windows: the guest path of the SOFTWARE hive
    /// (`inspect_get_windows_software_hive`); an error when there is none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_windows_software_hive(&self, root: &str) -> Result<String> {
        self.windows_field("inspect_get_windows_software_hive", root, |i| {
            i.windows_software_hive
        })
    }

    /// Windows: the guest path of the SYSTEM hive
    /// (`inspect_get_windows_system_hive`); an error when there is none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_windows_system_hive(&self, root: &str) -> Result<String> {
        self.windows_field("inspect_get_windows_system_hive", root, |i| {
            i.windows_system_hive
        })
    }

    /// Windows: the current control set (`ControlSet001`)
    /// (`inspect_get_windows_current_control_set`); an error when the
    /// registry does not say.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_windows_current_control_set(&self, root: &str) -> Result<String> {
        self.windows_field("inspect_get_windows_current_control_set", root, |i| {
            i.windows_current_control_set
        })
    }

    fn windows_field(
        &self,
        call: &str,
        root: &str,
        f: impl FnOnce(InspectInfo) -> Option<String>,
    ) -> Result<String> {
        f(self.inspect_info(root)?).ok_or_else(|| {
            Error::call(
                ErrorKind::Inspection,
                call,
                root,
                "not a Windows guest, or its registry does not say",
            )
        })
    }

    /// The package format (`inspect_get_package_format`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_package_format(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.package_format)
    }

    /// The package manager (`inspect_get_package_management`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_package_management(&self, root: &str) -> Result<String> {
        Ok(self.inspect_info(root)?.package_management)
    }

    /// Mount point -> device, parents first (`inspect_get_mountpoints`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_mountpoints(&self, root: &str) -> Result<Vec<(String, String)>> {
        Ok(self.inspect_info(root)?.mountpoints)
    }

    /// The filesystems of the OS (`inspect_get_filesystems`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_filesystems(&self, root: &str) -> Result<Vec<String>> {
        Ok(self.inspect_info(root)?.filesystems)
    }

    /// Windows' system root (`inspect_get_windows_systemroot`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_windows_systemroot(&self, root: &str) -> Result<String> {
        self.inspect_info(root)?.windows_systemroot.ok_or_else(|| {
            Error::call(
                ErrorKind::Inspection,
                "inspect_get_windows_systemroot",
                root,
                "not a Windows root",
            )
        })
    }
    /// A possible libosinfo short ID for the system (`inspect_get_osinfo`):
    /// `debian12`, `rhel7.9`, `centos7.0`, `ubuntu22.04`, `sles11sp4`,
    /// `sle15sp5`, `fedora38`, `archlinux`, ..., or `unknown`; libguestfs's
    /// guess, which osinfo-db need not know.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_osinfo(&self, root: &str) -> Result<String> {
        let i = self.inspect_info(root)?;
        Ok(osinfo::osinfo(osinfo::OsinfoInput {
            os_type: &i.os_type,
            distro: &i.distro,
            major: i.major_version,
            minor: i.minor_version,
            product_name: &i.product_name,
            product_variant: &i.product_variant,
            build_id: &i.build_id,
        }))
    }

    /// `installed` (`inspect_get_format`, deprecated in libguestfs, which has
    /// answered only `installed` since 1.38).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_get_format(&self, root: &str) -> Result<String> {
        self.inspect_info(root)?;
        Ok("installed".into())
    }

    /// `false` (`inspect_is_live`, deprecated in libguestfs, which always answers
    /// false).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_is_live(&self, root: &str) -> Result<bool> {
        self.inspect_info(root)?;
        Ok(false)
    }

    /// `false` (`inspect_is_netinst`, deprecated in libguestfs, which always
    /// answers false).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_is_netinst(&self, root: &str) -> Result<bool> {
        self.inspect_info(root)?;
        Ok(false)
    }

    /// `false` (`inspect_is_multipart`, deprecated in libguestfs, which always
    /// answers false).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_is_multipart(&self, root: &str) -> Result<bool> {
        self.inspect_info(root)?;
        Ok(false)
    }

    /// The applications installed in the inspected system
    /// (`inspect_list_applications2`), sorted by name.
    ///
    /// As in libguestfs, the guest's filesystems must be mounted (after
    /// `inspect_os`, by its mount points): the package database is read from the
    /// mounted tree, in-process and bounded. Linux guests with dpkg, apk,
    /// pacman, and an rpmdb in SQLite (`rpmdb.sqlite`), Berkeley DB (`Packages`)
    /// or ndb (`Packages.db`) are read; other systems give an empty list, as in
    /// libguestfs.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_list_applications2(&self, root: &str) -> Result<Vec<Application2>> {
        const CALL: &str = "inspect_list_applications2";
        let info = self.inspect_info(root)?;
        let windows = info.os_type == "windows";
        if !windows && !matches!(info.os_type.as_str(), "linux" | "hurd") {
            return Ok(Vec::new());
        }
        let tree = self.read_tree(CALL)?;
        let fs: &dyn fsread::InspectFs = match &tree {
            crate::inproc::ReadTree::Kernel(r) => r,
            crate::inproc::ReadTree::InProcess(c) => &**c,
        };
        if windows {
            let Some(hive) = info.windows_software_hive.as_deref() else {
                return Ok(Vec::new());
            };
            let dir = self.inspect_dir(CALL)?;
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, CALL, dir.display(), "cannot create", e)
            })?;
            return Ok(windows::open_hive(fs, hive, &dir)
                .map(|h| windows::applications(&h))
                .unwrap_or_default());
        }
        if info.package_format == "rpm" {
            return rpmdb::list(fs)
                .map_err(|e| Error::call(ErrorKind::Inspection, CALL, root, e.to_string()));
        }
        Ok(apps::list_linux(fs, &info.package_format).unwrap_or_default())
    }
}

/// The btrfs subvolumes under a mounted btrfs filesystem's top, as paths
/// relative to it: directories whose inode is 256 (every subvolume's root
/// directory), looked for down to four levels (`@/.snapshots/1/snapshot`) in
/// at most [`MAX_SUBVOL_SCAN`] directories, at most [`MAX_SUBVOLUMES`] found.
fn btrfs_subvolumes(root: &GuestRoot) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs: std::collections::VecDeque<(String, usize)> = [(String::new(), 0)].into();
    let mut scanned = 0;
    while let Some((dir, depth)) = dirs.pop_front() {
        scanned += 1;
        if scanned > MAX_SUBVOL_SCAN || found.len() >= MAX_SUBVOLUMES {
            break;
        }
        let path = if dir.is_empty() {
            "/".to_string()
        } else {
            format!("/{dir}")
        };
        let Ok(entries) = root.readdir(&path) else {
            continue;
        };
        for e in entries {
            if e.ftyp != 'd' || e.name == "." || e.name == ".." {
                continue;
            }
            let rel = if dir.is_empty() {
                e.name.clone()
            } else {
                format!("{dir}/{}", e.name)
            };
            if root.lstat(format!("/{rel}")).is_ok_and(|st| st.ino == 256) {
                found.push(rel.clone());
            }
            if depth + 1 < 4 {
                dirs.push_back((rel, depth + 1));
            }
        }
    }
    found.truncate(MAX_SUBVOLUMES);
    found
}

/// Directories looked at for btrfs subvolumes.
const MAX_SUBVOL_SCAN: usize = 2000;
/// btrfs subvolumes inspected per filesystem.
const MAX_SUBVOLUMES: usize = 64;

/// A root found by `inspect_os`, before its `/usr` is merged in.
struct FoundRoot {
    dev: String,
    data: Data,
    /// (mountable, mount point) from its fstab, in fstab order.
    fstab: Vec<(String, String)>,
    coreos: bool,
}

impl FoundRoot {
    /// The facade's description: what was not determined is `unknown` (or 0);
    /// the mount points are the fstab's, `/` being the root when the fstab does
    /// not say (parents first); the filesystems are the root and every device
    /// the fstab names, swap included.
    fn into_info(self) -> InspectInfo {
        let d = self.data;
        let unknown = |v: Option<&str>| v.unwrap_or("unknown").to_string();
        let mut mountpoints: Vec<(String, String)> = self
            .fstab
            .iter()
            .filter(|(_, mp)| mp.starts_with('/'))
            .map(|(m, mp)| (mp.clone(), m.clone()))
            .collect();
        if !mountpoints.iter().any(|(mp, _)| mp == "/") {
            mountpoints.push(("/".into(), self.dev.clone()));
        }
        sort_mountpoints(&mut mountpoints);
        let mut filesystems: Vec<String> = vec![self.dev.clone()];
        for (m, _) in &self.fstab {
            if !filesystems.contains(m) {
                filesystems.push(m.clone());
            }
        }
        let (major, minor) = d.version.unwrap_or((0, 0));
        InspectInfo {
            root: self.dev,
            os_type: unknown(d.os_type),
            distro: unknown(d.distro),
            product_name: unknown(d.product_name.as_deref()),
            major_version: major,
            minor_version: minor,
            hostname: unknown(d.hostname.as_deref()),
            arch: unknown(d.arch.as_deref()),
            package_format: unknown(d.package_format),
            package_management: unknown(d.package_management),
            mountpoints,
            filesystems,
            windows_systemroot: None,
            product_variant: "unknown".into(),
            build_id: "unknown".into(),
            ..Default::default()
        }
    }
}

/// Sort mount points so parents come before children (`/`, `/boot`, `/boot/efi`).
pub(crate) fn sort_mountpoints(v: &mut [(String, String)]) {
    v.sort_by(|a, b| {
        let depth = |s: &str| if s == "/" { 0 } else { s.matches('/').count() };
        depth(&a.0).cmp(&depth(&b.0)).then_with(|| a.0.cmp(&b.0))
    });
}
