//! The registry writes a Windows conversion makes so that the converted guest
//! can boot from a virtio disk, as virt-v2v makes them: a boot-start kernel
//! driver service under the current control set (`Type`, `Start`,
//! `ErrorControl`, `ImagePath`, `Group`) and a `CriticalDeviceDatabase` entry
//! per PCI ID of the device, naming the service and its device class
//! ([`VMCraft::windows_add_driver_service`]). The driver file itself is the
//! caller's to upload (`System32/drivers/viostor.sys`).
//!
//! The SYSTEM hive is read through the confined guest tree into a private
//! copy, changed there by libhivex (vmcraft-hivex), and written back over the
//! guest's hive only when every change succeeded: a failure leaves the guest's
//! hive as it was.

use std::io::Read;

use vmcraft_hivex::{Hive, OpenOptions, SetValue};

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// The SCSI adapter device class (`{4D36E97B-...}`), virtio block and SCSI
/// controllers' class.
pub const SCSI_ADAPTER_CLASS: &str = "{4D36E97B-E325-11CE-BFC1-08002BE10318}";

/// A boot-start driver service and the PCI devices it drives.
///
/// ```
/// let s = vmcraft::calls::windows_drivers::DriverService::viostor();
/// assert_eq!(s.name, "viostor");
/// assert_eq!(s.start, 0);
/// assert!(s.pci_ids.iter().any(|id| id.contains("dev_1001")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverService {
    /// The service key's name (`viostor`).
    pub name: String,
    /// `ImagePath` (`REG_EXPAND_SZ`, relative to the system root).
    pub image_path: String,
    /// `Group` (`SCSI miniport`).
    pub group: String,
    /// `Start`: 0 boot, 1 system, 2 automatic, 3 on demand.
    pub start: u32,
    /// `Type`: 1 kernel driver.
    pub service_type: u32,
    /// `ErrorControl`: 1 normal.
    pub error_control: u32,
    /// The `CriticalDeviceDatabase` keys (`pci#ven_1af4&dev_1001&subsys_...`).
    pub pci_ids: Vec<String>,
    /// Their `ClassGUID`.
    pub class_guid: String,
}

impl DriverService {
    fn boot_driver(name: &str, devices: &[&str]) -> Self {
        DriverService {
            name: name.to_string(),
            image_path: format!("system32\\drivers\\{name}.sys"),
            group: "SCSI miniport".into(),
            start: 0,
            service_type: 1,
            error_control: 1,
            pci_ids: devices.iter().map(|d| d.to_string()).collect(),
            class_guid: SCSI_ADAPTER_CLASS.into(),
        }
    }

    /// virtio-blk (`viostor`), the legacy and modern PCI IDs virt-v2v
    /// registers.
    pub fn viostor() -> Self {
        Self::boot_driver(
            "viostor",
            &[
                "pci#ven_1af4&dev_1001&subsys_00000000",
                "pci#ven_1af4&dev_1001&subsys_00020000",
                "pci#ven_1af4&dev_1001&subsys_00021af4",
                "pci#ven_1af4&dev_1001&subsys_00021af4&rev_00",
                "pci#ven_1af4&dev_1042&subsys_11001af4&rev_01",
            ],
        )
    }

    /// virtio-scsi (`vioscsi`).
    pub fn vioscsi() -> Self {
        Self::boot_driver(
            "vioscsi",
            &[
                "pci#ven_1af4&dev_1004&subsys_00081af4&rev_00",
                "pci#ven_1af4&dev_1048&subsys_11001af4&rev_01",
            ],
        )
    }

    /// The service of a known driver by name (`viostor`, `vioscsi`).
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "viostor" => Some(Self::viostor()),
            "vioscsi" => Some(Self::vioscsi()),
            _ => None,
        }
    }
}

fn hive_err(call: &str, subject: &str, e: vmcraft_hivex::Error) -> Error {
    Error::call(ErrorKind::Io, call, subject, e.to_string())
}

/// `parent`'s child `name`, made when missing.
fn child(
    h: &mut Hive,
    parent: vmcraft_hivex::Node,
    name: &str,
) -> vmcraft_hivex::Result<vmcraft_hivex::Node> {
    match h.node_get_child(parent, name)? {
        Some(n) => Ok(n),
        None => h.node_add_child(parent, name),
    }
}

impl VMCraft {
    /// Register a boot-start driver service in the SYSTEM hive of the
    /// inspected Windows `root` (mounted read-write at `/`), as virt-v2v does
    /// for viostor and vioscsi: the service key under the current control set
    /// with its `Type`, `Start`, `ErrorControl`, `ImagePath` and `Group`, and a
    /// `CriticalDeviceDatabase` entry (`Service`, `ClassGUID`) for each PCI ID.
    /// Existing keys are updated, their other values kept. The guest's hive is
    /// replaced (a new file renamed over it) only once every change
    /// succeeded. A hive left open for writing with `hivex_open` would undo
    /// these changes on its next `hivex_commit`: close it first.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// use vmcraft::calls::windows_drivers::DriverService;
    /// let root = &g.inspect_os()?[0];
    /// g.mount("/dev/sda2", "/")?;
    /// g.upload("viostor.sys", "/Windows/System32/drivers/viostor.sys")?;
    /// g.windows_add_driver_service(root, &DriverService::viostor())?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn windows_add_driver_service(&self, root: &str, service: &DriverService) -> Result<()> {
        const CALL: &str = "windows_add_driver_service";
        let info = self.inspect_info(root)?;
        if info.os_type != "windows" {
            return Err(Error::invalid(CALL, root, "not a Windows guest"));
        }
        let (Some(hive_path), Some(ccs)) = (
            info.windows_system_hive.clone(),
            info.windows_current_control_set.clone(),
        ) else {
            return Err(Error::call(
                ErrorKind::Inspection,
                CALL,
                root,
                "the guest's SYSTEM hive or its current control set is unknown",
            ));
        };
        for (what, v) in [("service name", &service.name)]
            .into_iter()
            .chain(service.pci_ids.iter().map(|id| ("PCI ID", id)))
        {
            if v.is_empty() || v.contains('\\') || v.chars().any(char::is_control) {
                return Err(Error::invalid(
                    CALL,
                    v,
                    format!("a {what} must be a non-empty key name without '\\'"),
                ));
            }
        }
        // The root's filesystem must be the one on `/`: the hive path is its.
        let on_root = self
            .mountpoints()
            .into_iter()
            .any(|(dev, mp)| mp == "/" && crate::names::canonical_device_name(&dev) == *root);
        if !on_root {
            return Err(Error::call(
                ErrorKind::Mount,
                CALL,
                root,
                "mount the Windows root's filesystem on / first",
            ));
        }
        let guest = self.guest_root_for(CALL)?;
        let dir = self.inspect_dir(CALL)?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, CALL, dir.display(), "cannot create", e)
        })?;
        // The private copy (its name removed at once: it goes with the handle).
        let (name, mut copy) =
            crate::private_file::create(&dir, "vmcraft-system", "").map_err(|e| {
                Error::call_with_source(ErrorKind::Io, CALL, &hive_path, "private copy", e)
            })?;
        let _ = std::fs::remove_file(&name);
        let mut src = guest.open_read(&hive_path)?;
        let len = src
            .metadata()
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, &hive_path, "stat", e))?
            .len();
        if len > vmcraft_hivex::MAX_HIVE_SIZE {
            return Err(Error::invalid(
                CALL,
                &hive_path,
                "the hive is larger than 1 GiB",
            ));
        }
        std::io::copy(&mut (&mut src).take(len), &mut copy)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, &hive_path, "copy", e))?;
        drop(src);
        let mut h = Hive::open_file(
            &copy,
            OpenOptions {
                write: true,
                ..Default::default()
            },
        )
        .map_err(|e| hive_err(CALL, &hive_path, e))?;
        let e = |e| hive_err(CALL, &hive_path, e);
        let top = h.get_path(&[&ccs]).map_err(e)?.ok_or_else(|| {
            Error::call(
                ErrorKind::Inspection,
                CALL,
                &hive_path,
                format!("no {ccs} key"),
            )
        })?;
        let services = child(&mut h, top, "Services").map_err(e)?;
        let svc = child(&mut h, services, &service.name).map_err(e)?;
        h.node_set_value(svc, &SetValue::dword("Type", service.service_type))
            .map_err(e)?;
        h.node_set_value(svc, &SetValue::dword("Start", service.start))
            .map_err(e)?;
        h.node_set_value(svc, &SetValue::dword("ErrorControl", service.error_control))
            .map_err(e)?;
        h.node_set_value(
            svc,
            &SetValue::expand_string("ImagePath", &service.image_path),
        )
        .map_err(e)?;
        h.node_set_value(svc, &SetValue::string("Group", &service.group))
            .map_err(e)?;
        let control = child(&mut h, top, "Control").map_err(e)?;
        let cddb = child(&mut h, control, "CriticalDeviceDatabase").map_err(e)?;
        for id in &service.pci_ids {
            let dev = child(&mut h, cddb, id).map_err(e)?;
            h.node_set_value(dev, &SetValue::string("Service", &service.name))
                .map_err(e)?;
            h.node_set_value(dev, &SetValue::string("ClassGUID", &service.class_guid))
                .map_err(e)?;
        }
        h.commit(None).map_err(e)?;
        drop(h);
        // Every change made: the new hive over the guest's.
        use std::os::fd::AsRawFd;
        let bytes = std::fs::read(format!("/proc/self/fd/{}", copy.as_raw_fd())).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, CALL, &hive_path, "read back", e)
        })?;
        // Written beside the hive, then renamed over it: a short write (the
        // hive grew; the guest's disk is full) leaves the hive as it was.
        // A new file (never through whatever the guest left at that name).
        let new = format!("{hive_path}.vmcraft-new");
        let _ = guest.rm(&new);
        let written = guest
            .open_write(&new, vmcraft_fs::root::WriteMode::CreateNew, 0o644)
            .and_then(|mut f| {
                use std::io::Write;
                f.write_all(&bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| vmcraft_fs::root::Error::io(CALL, &new, "write", e))
            });
        if let Err(e) = written {
            let _ = guest.rm(&new);
            return Err(e.into());
        }
        guest.rename(&new, &hive_path)?;
        tracing::info!(root, service = %service.name, hive = %hive_path, "driver service registered");
        Ok(())
    }
}
