//! Logical volumes without device-mapper: a single-segment linear LV is exactly a
//! byte range of its PV, so a loop device with that offset and size limit over the
//! PV's node *is* the LV. This is how VMCraft probes, formats and mounts LVs on
//! hosts (and containers) without device-mapper, where lvm2 itself can only edit
//! metadata. The loop devices are made on first use and released when the LV
//! changes or the session ends.

use std::path::PathBuf;

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
        let pv_host = self
            .resolve(call, &seg.pv.to_string_lossy())
            .map(|r| r.host)
            .unwrap_or_else(|_| seg.pv.clone());
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
        Ok(path)
    }

    /// Release the loop devices of LVs that are not mounted (after LVM changes and
    /// before the drives are detached).
    pub(crate) fn release_lv_windows(&self) {
        let mounted: Vec<String> = self.mounts().iter().map(|m| m.device.clone()).collect();
        self.lv_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|lv, _| mounted.contains(lv));
    }
}
