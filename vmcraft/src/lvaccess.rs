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
        let segs = self.with_lvm(|l| Ok(l.lv_segments(lv)?))?;
        let seg = match segs.as_slice() {
            [s] if s.segtype == "linear" => s.clone(),
            [s] => {
                return Err(Error::call(
                    ErrorKind::Unsupported,
                    call,
                    lv,
                    format!(
                        "a {} LV needs device-mapper, which this host does not have",
                        s.segtype
                    ),
                ));
            }
            many => {
                return Err(Error::call(
                    ErrorKind::Unsupported,
                    call,
                    lv,
                    format!(
                        "the LV has {} segments; without device-mapper only single-segment linear LVs can be reached",
                        many.len()
                    ),
                ));
            }
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
