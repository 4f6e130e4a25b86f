//! Inspection: find the operating systems on the session's disks (`inspect_os`) and
//! describe them (`inspect_get_*`), without disturbing the user's mounts: a
//! filesystem the user mounted is read where it is; any other is mounted read-only
//! in a private directory outside the guest tree and unmounted afterwards.

mod fstab;
mod linux;
mod windows;

use std::path::PathBuf;

use serde::Serialize;
use vmcraft_archive::GuestRoot;

use crate::error::{Error, ErrorKind, Result};
use crate::mount::strategy::{Target, fallback_strategies};
use crate::session::VMCraft;

/// What inspection found about one operating system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InspectInfo {
    /// The root filesystem's device.
    pub root: String,
    /// `linux`, `windows`, or `unknown`.
    pub os_type: String,
    /// libguestfs's distro name (`debian`, `ubuntu`, `fedora`, `rhel`, `windows`, ...).
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
    /// `deb`, `rpm`, `pacman`, `apk`, or `unknown`.
    pub package_format: String,
    /// `apt`, `dnf`, `yum`, `zypper`, `pacman`, `apk`, or `unknown`.
    pub package_management: String,
    /// Mount point -> device, from the guest's fstab, resolved to session devices;
    /// sorted so that parents come before children.
    pub mountpoints: Vec<(String, String)>,
    /// The filesystems that belong to this OS.
    pub filesystems: Vec<String>,
    /// Windows: the system root directory (`/Windows`).
    pub windows_systemroot: Option<String>,
}

/// A read-only view of a filesystem for inspection.
pub(crate) struct FsView<'a> {
    // Field order is drop order: the root's descriptor must be closed before the
    // private mount under it can go.
    pub root: GuestRoot,
    _mount: Option<PrivateMount<'a>>,
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
    /// A read-only view of `device`: through the user's mount if it is mounted,
    /// otherwise mounted privately.
    pub(crate) fn fs_view(&self, call: &str, device: &str) -> Result<FsView<'_>> {
        let user = self
            .mounts()
            .iter()
            .find(|m| !m.private && m.device == device)
            .cloned();
        if let Some(m) = user {
            return Ok(FsView {
                root: GuestRoot::open(&m.host_path)?,
                _mount: None,
            });
        }
        let dev = self.resolve(call, device)?;
        let dir = self
            .inspect_dir(call)?
            .join(dev.name.trim_start_matches("/dev/").replace('/', "-"));
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, call, dir.display(), "cannot create", e)
        })?;
        let target = Target {
            mountpoint: dir.display().to_string(),
            host: dir.clone(),
            fd: None,
            private: true,
        };
        if let Err(e) = self.try_strategies(call, &dev, "", target, &fallback_strategies("ro")) {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        let mount = PrivateMount {
            g: self,
            host: dir.clone(),
        };
        Ok(FsView {
            root: GuestRoot::open(&dir)?,
            _mount: Some(mount),
        })
    }

    /// Look for operating systems (`inspect_os`): returns the root device of each.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn inspect_os(&self) -> Result<Vec<String>> {
        let _span = tracing::info_span!("inspect_os").entered();
        let mut found = Vec::new();
        for (dev, fstype) in self.list_filesystems()? {
            if matches!(fstype.as_str(), "unknown" | "swap") {
                continue;
            }
            let view = match self.fs_view("inspect_os", &dev) {
                Ok(v) => v,
                Err(e) => {
                    tracing::info!(device = %dev, error = %e.chain(), "not inspectable");
                    continue;
                }
            };
            let info = if linux::is_root(&view.root) {
                Some(linux::inspect(self, &dev, &view.root)?)
            } else if windows::is_root(&view.root) {
                Some(windows::inspect(&dev, &view.root)?)
            } else {
                None
            };
            drop(view);
            if let Some(info) = info {
                found.push(info);
            }
        }
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
}

/// Sort mount points so parents come before children (`/`, `/boot`, `/boot/efi`).
pub(crate) fn sort_mountpoints(v: &mut [(String, String)]) {
    v.sort_by(|a, b| {
        let depth = |s: &str| if s == "/" { 0 } else { s.matches('/').count() };
        depth(&a.0).cmp(&depth(&b.0)).then_with(|| a.0.cmp(&b.0))
    });
}
