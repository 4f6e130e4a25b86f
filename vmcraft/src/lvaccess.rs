//! Logical volumes without device-mapper: a single-segment linear LV is exactly a
//! byte range of its PV, so a loop device with that offset and size limit over the
//! PV's node *is* the LV. This is how VMCraft probes, formats and mounts LVs on
//! hosts (and containers) without device-mapper, where lvm2 itself can only edit
//! metadata. The loop devices are made on first use and released when the LV
//! changes or the session ends, and only ever over a device of the session.
//!
//! Where device-mapper is loaded, an LV is used through it only when the session's
//! own activation holds it ([`VMCraft::lv_dm_node`]: the dm device with the LV's
//! UUID, built on the session's devices, as `/dev/dm-N`); a host's `rhel/root`
//! or a clone active in another session is never taken for the guest's.

use std::path::{Path, PathBuf};

use vmcraft_block::{LoopDevice, LoopOptions};

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// A loop device standing in for an LV.
#[derive(Debug)]
pub(crate) struct LvWindow {
    pub device: LoopDevice,
    pub pv: PathBuf,
    pub offset: u64,
    pub size: u64,
}

impl VMCraft {
    /// The loop device standing in for `lv` (`/dev/VG/LV`), made if needed.
    pub(crate) fn lv_window(&self, call: &str, lv: &str, readonly: bool) -> Result<PathBuf> {
        // A window stays right until the LV changes, and every LVM change releases
        // the windows: no need to ask lvm2 again.
        if let Some(w) = self
            .lv_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(lv)
        {
            return Ok(w.device.path().to_path_buf());
        }
        // Only one linear run of extents on one PV can be a loop window; the
        // reason for anything else (striped, RAID, thin, several segments, a
        // missing PV) is said by vmcraft-lvm, as the refusal of this call.
        let seg = match self.with_lvm(|l| Ok(l.lv_linear_segment(lv)?)) {
            Ok(seg) => seg,
            Err(Error::Lvm(e)) if e.kind() == vmcraft_lvm::ErrorKind::Unsupported => {
                // With device-mapper loaded, the way to such an LV is activation.
                let message = if vmcraft_lvm::device_mapper_available() {
                    format!(
                        "the LV is not active in this session and cannot be reached without \
                         activation ({}); activate its volume group first (vg_activate)",
                        e.message()
                    )
                } else {
                    e.message().to_string()
                };
                return Err(Error::call(ErrorKind::Unsupported, call, lv, message));
            }
            Err(e) => return Err(e),
        };
        // The window goes over a device of this session and nothing else: lvm2
        // sees only the session's devices, but a PV it reports by another name
        // (or as missing) is refused rather than opened on the host.
        let pv_host = self.session_pv(call, lv, &seg.pv)?;
        let mut windows = self.lv_windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = windows.get(lv)
            && w.pv == pv_host
            && w.offset == seg.pv_start
            && w.size == seg.length
        {
            return Ok(w.device.path().to_path_buf());
        }
        let device = LoopDevice::attach(
            &pv_host,
            LoopOptions {
                readonly,
                partscan: false,
                offset: seg.pv_start,
                size_limit: seg.length,
                ..Default::default()
            },
        )?;
        let path = device.path().to_path_buf();
        tracing::debug!(lv, device = %path.display(), offset = seg.pv_start, size = seg.length, "LV reached through a loop device");
        if let Some(old) = windows.insert(
            lv.to_string(),
            LvWindow {
                device,
                pv: pv_host,
                offset: seg.pv_start,
                size: seg.length,
            },
        ) {
            drop(old);
        }
        drop(windows);
        self.record_state();
        Ok(path)
    }

    /// The session's device `pv` (a whole drive, a partition, or another LV's
    /// window, for a PV inside an LV), or an error naming the LV and the PV.
    fn session_pv(&self, call: &str, lv: &str, pv: &Path) -> Result<PathBuf> {
        let same = |node: &Path| {
            node == pv || matches!((rdev(node), rdev(pv)), (Some(a), Some(b)) if a == b)
        };
        let windows: Vec<PathBuf> = self
            .lv_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|w| w.device.path().to_path_buf())
            .collect();
        self.session_nodes()
            .into_iter()
            .chain(windows)
            .find(|n| same(n))
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::NoSuchDevice,
                    call,
                    lv,
                    format!(
                        "its PV {} is not one of this session's devices; refusing to reach it",
                        pv.display()
                    ),
                )
            })
    }

    /// The session's own device-mapper node for `lv` (`/dev/dm-N`), if the LV is
    /// active in this session: see [`vmcraft_lvm::Lvm::lv_dm_device`]. The LV
    /// windows count as session devices (a VG whose PV is an LV).
    pub(crate) fn lv_dm_node(&self, lv: &str) -> Result<Option<PathBuf>> {
        let windows: Vec<PathBuf> = self
            .lv_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|w| w.device.path().to_path_buf())
            .collect();
        let dev = self.with_lvm(|l| Ok(l.lv_dm_device(lv, &windows)?))?;
        if let Some(d) = &dev {
            tracing::debug!(lv, device = %d.node().display(), "LV active in this session");
        }
        Ok(dev.map(|d| d.node()))
    }

    /// Whether an LV is active on the session's devices (directly, or on its
    /// mappings or arrays): the host's udev may have activated it.
    pub(crate) fn dm_holds_session_devices(&self) -> bool {
        self.stacked_devices().iter().any(|s| s.is_lv())
    }

    /// Stop the md arrays built only on the session's drives and partitions.
    /// The host's udev assembles md members as they appear (mdadm's incremental
    /// assembly rule), so attaching a guest with a RAID member can start an
    /// array on the session's disks that nothing of the session made; it would
    /// keep them from being detached. An array with a member elsewhere is the
    /// host's and is left alone. Best effort: a failure is logged.
    pub(crate) fn stop_md_on_session_devices(&self) {
        // Stopping an array sends its members' events again, and udev may
        // assemble it once more: wait for udev and look again, a few times.
        for _ in 0..5 {
            if !self.stop_md_pass() {
                return;
            }
            self.settle_udev();
        }
        tracing::warn!("md arrays on this session's disks keep being assembled by the host");
    }

    /// Wait until udev has handled the events so far (where udev runs and the
    /// session has kernel devices), so that what its rules do with the drives
    /// (lvm2's event activation, mdadm's incremental assembly) is visible in
    /// sysfs before shutdown looks for it.
    pub(crate) fn settle_udev(&self) {
        if !std::path::Path::new("/run/udev/control").exists() || self.session_nodes().is_empty() {
            return;
        }
        let settle = vmcraft_block::Command::new("udevadm").arg("settle");
        if let Err(e) = self.runner().run(&settle) {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "udevadm settle failed");
        }
    }

    /// One pass of [`Self::stop_md_on_session_devices`]: whether it stopped an
    /// array.
    fn stop_md_pass(&self) -> bool {
        let mut found = false;
        // Arrays built on the session's devices alone (directly, or on its
        // mappings); one with a member elsewhere is the host's, left alone.
        let arrays: Vec<String> = self
            .stacked_devices()
            .into_iter()
            .filter(|s| s.is_md())
            .map(|s| s.kernel)
            .collect();
        for md in arrays {
            let node = format!("/dev/{md}");
            tracing::info!(array = %node, "stopping an md array on this session's disks");
            let cmd = vmcraft_block::Command::new("mdadm").args(["--stop", &node]);
            match self.runner().run(&cmd) {
                Ok(_) => found = true,
                // Held by a mapping on it, closed in the next round.
                Err(e) => {
                    tracing::debug!(array = %node, error = %vmcraft_block::error_chain(&e), "the md array did not stop (yet)")
                }
            }
        }
        self.record_dm_devices();
        found
    }

    /// Release the loop devices of LVs that are not mounted (after LVM changes and
    /// before the drives are detached).
    pub(crate) fn release_lv_windows(&self) {
        let mounted: Vec<String> = self.mounts().iter().map(|m| m.device.clone()).collect();
        let released = {
            let mut windows = self.lv_windows.lock().unwrap_or_else(|e| e.into_inner());
            let before = windows.len();
            windows.retain(|lv, _| mounted.contains(lv));
            windows.len() != before
        };
        if released {
            self.record_state();
        }
    }
}

/// The device number of a block device node.
fn rdev(path: &Path) -> Option<u64> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).ok()?;
    meta.file_type().is_block_device().then(|| meta.rdev())
}
