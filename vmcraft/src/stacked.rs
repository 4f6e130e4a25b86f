//! Devices the host kernel built on the session's drives: device-mapper devices
//! (LVs, LUKS mappings) and md arrays, found in sysfs by the devices under them
//! (`slaves`), transitively: an LV inside a LUKS mapping, a mapping on an LV, an
//! array of partitions. A device counts only when every device under it is the
//! session's (a drive, a partition, a loop window of an LV, or another device
//! found here), so a host device with one foot on a session drive is never taken
//! for the guest's, and the host's own `/dev/mapper/NAME` or `/dev/mdN` is never
//! reached through a guest name.

use std::path::Path;

use crate::session::VMCraft;

/// A device found on the session's devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stacked {
    /// Its kernel name (`dm-3`, `md127`).
    pub kernel: String,
    /// A device-mapper device's name (`vg-lv`, `cryptroot`).
    pub dm_name: Option<String>,
    /// A device-mapper device's UUID (`LVM-...`, `CRYPT-LUKS2-...`).
    pub dm_uuid: Option<String>,
    /// `major:minor`.
    pub dev: String,
    /// Whether the kernel holds it read-only (sysfs `ro`; for an md array also
    /// `md/array_state` `readonly`).
    pub readonly: bool,
    /// For an md array, whether it runs (`md/array_state` is not `inactive` or
    /// `clear`: an array the host's udev started assembling from the members
    /// seen so far is inactive, and has no content to read).
    pub running: bool,
}

impl Stacked {
    /// Whether it is an LVM logical volume.
    pub fn is_lv(&self) -> bool {
        self.dm_uuid
            .as_deref()
            .is_some_and(|u| u.starts_with("LVM-"))
    }

    /// Whether it is a mapping `cryptsetup` made (LUKS, BitLocker, plain).
    pub fn is_crypt(&self) -> bool {
        self.dm_uuid
            .as_deref()
            .is_some_and(|u| u.starts_with("CRYPT-"))
    }

    /// Whether it is an md array.
    pub fn is_md(&self) -> bool {
        self.dm_name.is_none() && self.kernel.starts_with("md")
    }

    /// The name the session gives it: `/dev/mapper/NAME` for a device-mapper
    /// device that is not an LV, `/dev/mdN` for a running array; LVs are
    /// `/dev/VG/LV` through lvm2, and an inactive array is no device to use,
    /// so `None`.
    pub fn guest_name(&self) -> Option<String> {
        if self.is_lv() || !self.running {
            return None;
        }
        match &self.dm_name {
            Some(n) => Some(format!("/dev/mapper/{n}")),
            None => Some(format!("/dev/{}", self.kernel)),
        }
    }
}

impl VMCraft {
    /// The dm and md devices built on the session's drives and partitions (and
    /// on the loop windows standing in for its LVs), transitively.
    pub(crate) fn stacked_devices(&self) -> Vec<Stacked> {
        let windows: Vec<std::path::PathBuf> = self
            .lv_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|w| w.device.path().to_path_buf())
            .collect();
        let base: Vec<String> = self
            .session_nodes()
            .into_iter()
            .chain(windows)
            .filter_map(|n| std::fs::canonicalize(n).ok())
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if base.is_empty() {
            return Vec::new();
        }
        stacked_on(&self.config.sysfs_root.join("class/block"), &base)
    }

    /// The session's own device behind `/dev/mapper/NAME` (not an LV) or
    /// `/dev/mdN`, if it has one of that name.
    pub(crate) fn session_mapping(&self, name: &str) -> Option<Stacked> {
        if !name.starts_with("/dev/mapper/") && !name.starts_with("/dev/md") {
            return None;
        }
        self.stacked_devices()
            .into_iter()
            .find(|s| s.guest_name().as_deref() == Some(name))
    }
}

impl VMCraft {
    /// (kernel name, session name) of `nodes` ((session name, host node)):
    /// `loop3p2` for `/dev/sda2`.
    pub(crate) fn kernel_names(
        &self,
        nodes: Vec<(String, std::path::PathBuf)>,
    ) -> Vec<(String, String)> {
        nodes
            .into_iter()
            .filter_map(|(name, host)| {
                let k = std::fs::canonicalize(&host).ok()?;
                Some((k.file_name()?.to_string_lossy().into_owned(), name))
            })
            .collect()
    }

    /// Whether a device found on the session's devices must be treated as
    /// read-only: the kernel holds it so, or one of the drives under it was
    /// added read-only (an array the host's udev started `read-auto` over a
    /// read-only drive reads as writable in sysfs).
    pub(crate) fn stacked_readonly(&self, m: &Stacked) -> bool {
        if m.readonly {
            return true;
        }
        let by_kernel = self.kernel_names(self.named_session_nodes());
        let sys = self.config.sysfs_root.join("class/block");
        let mut todo = vec![m.kernel.clone()];
        let mut seen = 0;
        while let Some(k) = todo.pop() {
            seen += 1;
            if seen > 256 {
                return true;
            }
            if let Some((_, name)) = by_kernel.iter().find(|(kk, _)| *kk == k) {
                if self.device_on_readonly_drive(name) {
                    return true;
                }
                continue;
            }
            if let Ok(d) = std::fs::read_dir(sys.join(&k).join("slaves")) {
                todo.extend(
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
        }
        false
    }
}

/// Most levels of stacking followed (each level is one pass over sysfs).
const MAX_LEVELS: usize = 16;

/// The dm and md devices under `sys_class_block` (`/sys/class/block`) built only
/// on `base` (kernel names of the session's devices) and on each other, sorted
/// by kernel name.
pub(crate) fn stacked_on(sys_class_block: &Path, base: &[String]) -> Vec<Stacked> {
    struct Candidate {
        kernel: String,
        slaves: Vec<String>,
    }
    let Ok(entries) = std::fs::read_dir(sys_class_block) else {
        return Vec::new();
    };
    let mut candidates: Vec<Candidate> = entries
        .flatten()
        .filter_map(|e| {
            let kernel = e.file_name().to_string_lossy().into_owned();
            if !kernel.starts_with("dm-") && !kernel.starts_with("md") {
                return None;
            }
            let slaves: Vec<String> = std::fs::read_dir(e.path().join("slaves"))
                .ok()?
                .flatten()
                .map(|s| s.file_name().to_string_lossy().into_owned())
                .collect();
            (!slaves.is_empty()).then_some(Candidate { kernel, slaves })
        })
        .collect();
    let mut ours: Vec<String> = base.to_vec();
    let mut found = Vec::new();
    for _ in 0..MAX_LEVELS {
        let (now, later): (Vec<Candidate>, Vec<Candidate>) = candidates
            .into_iter()
            .partition(|c| c.slaves.iter().all(|s| ours.contains(s)));
        candidates = later;
        if now.is_empty() {
            break;
        }
        for c in now {
            ours.push(c.kernel.clone());
            found.push(c.kernel);
        }
    }
    let mut out: Vec<Stacked> = found
        .into_iter()
        .map(|kernel| {
            let dir = sys_class_block.join(&kernel);
            let read = |p: &str| {
                std::fs::read_to_string(dir.join(p))
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            let state = read("md/array_state");
            let running = !matches!(state.as_deref(), Some("inactive" | "clear"));
            Stacked {
                dm_name: read("dm/name"),
                dm_uuid: read("dm/uuid"),
                dev: read("dev").unwrap_or_default(),
                readonly: read("ro").as_deref() == Some("1")
                    || state.as_deref() == Some("readonly"),
                running,
                kernel,
            }
        })
        .collect();
    out.sort_by(|a, b| a.kernel.cmp(&b.kernel));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(root: &Path, kernel: &str, slaves: &[&str], dm: Option<(&str, &str)>) {
        let d = root.join(kernel);
        std::fs::create_dir_all(d.join("slaves")).unwrap();
        for s in slaves {
            std::fs::write(d.join("slaves").join(s), "").unwrap();
        }
        std::fs::write(d.join("dev"), "253:1\n").unwrap();
        std::fs::write(d.join("ro"), "0\n").unwrap();
        if let Some((name, uuid)) = dm {
            std::fs::create_dir_all(d.join("dm")).unwrap();
            std::fs::write(d.join("dm/name"), format!("{name}\n")).unwrap();
            std::fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
        }
    }

    #[test]
    fn stacking_is_followed_and_host_devices_are_left_out() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        // Ours: a LUKS mapping on loop3p2, an LV inside it, an array of two
        // partitions. The host's: a mapping with one slave elsewhere, and one
        // on top of it.
        dev(
            r,
            "dm-0",
            &["loop3p2"],
            Some(("cryptroot", "CRYPT-LUKS2-ab-cryptroot")),
        );
        dev(r, "dm-1", &["dm-0"], Some(("vg-root", "LVM-x")));
        dev(r, "md127", &["loop3p3", "loop3p4"], None);
        std::fs::create_dir_all(r.join("md127/md")).unwrap();
        std::fs::write(r.join("md127/md/array_state"), "clean\n").unwrap();
        // Started by udev from one member so far: inactive, no device to use.
        dev(r, "md126", &["loop3p5"], None);
        std::fs::create_dir_all(r.join("md126/md")).unwrap();
        std::fs::write(r.join("md126/md/array_state"), "inactive\n").unwrap();
        dev(
            r,
            "dm-2",
            &["loop3p1", "sda1"],
            Some(("hostmix", "CRYPT-PLAIN-hostmix")),
        );
        dev(r, "dm-3", &["dm-2"], Some(("hostlv", "LVM-y")));
        dev(r, "dm-4", &[], Some(("empty", "CRYPT-x")));
        let base: Vec<String> = [
            "loop3", "loop3p1", "loop3p2", "loop3p3", "loop3p4", "loop3p5",
        ]
        .map(String::from)
        .to_vec();
        let found = stacked_on(r, &base);
        let names: Vec<&str> = found.iter().map(|s| s.kernel.as_str()).collect();
        assert_eq!(names, ["dm-0", "dm-1", "md126", "md127"]);
        assert!(found[2].is_md() && !found[2].running);
        assert_eq!(found[2].guest_name(), None);
        let found: Vec<Stacked> = found.into_iter().filter(|s| s.kernel != "md126").collect();
        assert!(found[0].is_crypt() && !found[0].is_lv());
        assert_eq!(
            found[0].guest_name().as_deref(),
            Some("/dev/mapper/cryptroot")
        );
        assert!(found[1].is_lv());
        assert_eq!(found[1].guest_name(), None);
        assert!(found[2].is_md());
        assert_eq!(found[2].guest_name().as_deref(), Some("/dev/md127"));
    }
}
