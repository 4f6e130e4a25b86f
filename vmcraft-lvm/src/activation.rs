//! Whether LVs can be activated on this host: [`Mode`] and the device-mapper probe.
//!
//! Activation needs the kernel's device-mapper. A container or a minimal kernel may
//! have the `/dev/mapper/control` node without the driver behind it (opening it
//! then fails with `ENODEV`), so the probe opens the node rather than looking for
//! it. Without device-mapper a session runs metadata-only: every lvm2 command gets
//! `--driverloaded n`, new LVs are created inactive and unzeroed, and asking to
//! activate is refused with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).

use std::path::Path;

use serde::Serialize;

/// The device-mapper control node.
pub const DM_CONTROL: &str = "/dev/mapper/control";

/// How a session treats activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// device-mapper is present: LVs are activated as lvm2 normally does, so they
    /// are usable block devices.
    Activate,
    /// No device-mapper: metadata is read and written, nothing is activated
    /// (`--driverloaded n`, `lvcreate --activate n --zero n`).
    MetadataOnly,
}

impl Mode {
    /// [`Mode::Activate`] where [`device_mapper_available`], else
    /// [`Mode::MetadataOnly`].
    ///
    /// ```
    /// use vmcraft_lvm::{Mode, device_mapper_available};
    /// let mode = Mode::detect();
    /// assert_eq!(mode == Mode::Activate, device_mapper_available());
    /// ```
    pub fn detect() -> Mode {
        if device_mapper_available() {
            Mode::Activate
        } else {
            Mode::MetadataOnly
        }
    }

    /// `activate` or `metadata-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Activate => "activate",
            Mode::MetadataOnly => "metadata-only",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the kernel's device-mapper can be used: [`DM_CONTROL`] opens read-write
/// (which needs the driver and, in practice, root).
///
/// ```
/// let dm = vmcraft_lvm::device_mapper_available();
/// println!("device-mapper: {}", if dm { "yes" } else { "no" });
/// ```
pub fn device_mapper_available() -> bool {
    control_opens(Path::new(DM_CONTROL))
}

fn control_opens(path: &Path) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .is_ok()
}

/// Whether udev runs on this host (its control socket exists). Without it, lvm2
/// must neither wait for udev nor rely on its rules, and creates the
/// `/dev/mapper` nodes itself.
///
/// ```
/// println!("udev: {}", vmcraft_lvm::activation::udev_running());
/// ```
pub fn udev_running() -> bool {
    Path::new("/run/udev/control").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names() {
        assert_eq!(Mode::Activate.to_string(), "activate");
        assert_eq!(Mode::MetadataOnly.as_str(), "metadata-only");
        assert_eq!(
            serde_json::to_string(&Mode::MetadataOnly).unwrap(),
            "\"metadata-only\""
        );
    }

    #[test]
    fn probe_is_false_for_missing_or_non_device_nodes() {
        assert!(!control_opens(Path::new("/nonexistent/vmcraft/control")));
        // A directory cannot be opened read-write.
        assert!(!control_opens(Path::new("/")));
    }

    #[test]
    fn detect_agrees_with_the_probe() {
        assert_eq!(Mode::detect() == Mode::Activate, device_mapper_available());
    }
}
