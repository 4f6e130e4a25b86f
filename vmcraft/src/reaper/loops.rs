//! Detaching a dead session's loop device, and only while it is still the one the
//! session bound: the same device numbers, the same backing file, the same disk
//! sequence number (which changes whenever the device is bound again, so a device
//! that was released and bound by someone else to the same file is told apart).
//! The device is opened first and checked while open: an open device cannot be
//! released and bound again under us.

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::state::{self, LoopRecord};

nix::ioctl_none_bad!(loop_clr_fd, 0x4C01);

/// What became of a recorded loop device.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LoopOutcome {
    /// Not bound any more (autoclear released it).
    Gone,
    /// Detached now.
    Detached,
    /// Still in use by something: marked to be released when its last user
    /// closes it.
    Deferred,
    /// Bound to something else now, or not what was recorded: left alone.
    NotOurs(String),
    /// The detach failed.
    Failed(String),
}

/// Whether the device is bound as `rec` records it (backing file and disk
/// sequence number).
pub(crate) fn is_bound_as_recorded(sys_block: &Path, rec: &LoopRecord) -> bool {
    let Some(name) = rec.device.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    state::loop_state(sys_block, name).is_some_and(|s| {
        s.dev == rec.dev
            && s.backing_file == rec.backing_file
            && (s.diskseq.is_none() || rec.diskseq.is_none() || s.diskseq == rec.diskseq)
    })
}

/// Check `rec` against the device now and detach it if it is still the session's.
pub(crate) fn detach(sys_block: &Path, rec: &LoopRecord) -> LoopOutcome {
    let Some(name) = rec.device.file_name().and_then(|n| n.to_str()).filter(|n| {
        n.strip_prefix("loop")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    }) else {
        return LoopOutcome::NotOurs(format!("{} is not a loop device", rec.device.display()));
    };
    if state::loop_state(sys_block, name).is_none() {
        return LoopOutcome::Gone;
    }
    let dev = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&rec.device)
    {
        Ok(f) => f,
        Err(e) => return LoopOutcome::Failed(format!("open: {e}")),
    };
    let rdev = dev.metadata().map(|m| m.rdev()).unwrap_or(0);
    let numbers = format!("{}:{}", libc::major(rdev), libc::minor(rdev));
    // Read while the device is open: it cannot be bound again meanwhile.
    let Some(now) = state::loop_state(sys_block, name) else {
        return LoopOutcome::Gone;
    };
    if numbers != rec.dev || now.dev != rec.dev {
        return LoopOutcome::NotOurs(format!(
            "{} is device {numbers} now, not {}",
            rec.device.display(),
            rec.dev
        ));
    }
    if now.backing_file != rec.backing_file {
        return LoopOutcome::NotOurs(format!(
            "{} is bound to {} now, not {}",
            rec.device.display(),
            now.backing_file.display(),
            rec.backing_file.display()
        ));
    }
    if let (Some(a), Some(b)) = (now.diskseq, rec.diskseq)
        && a != b
    {
        return LoopOutcome::NotOurs(format!(
            "{} was bound again since (disk sequence {a}, not {b})",
            rec.device.display()
        ));
    }
    // SAFETY: LOOP_CLR_FD takes no argument; the descriptor is an open loop device.
    match unsafe { loop_clr_fd(dev.as_raw_fd()) } {
        Ok(_) | Err(nix::errno::Errno::ENXIO) => {}
        Err(e) => return LoopOutcome::Failed(format!("LOOP_CLR_FD: {e}")),
    }
    drop(dev);
    // With no other user the kernel finishes as our descriptor closes.
    let released = vmcraft_block::wait_until(
        &rec.device.display().to_string(),
        std::time::Duration::from_secs(2),
        || state::loop_state(sys_block, name).is_none_or(|s| s.diskseq != now.diskseq),
    )
    .is_ok();
    if released {
        LoopOutcome::Detached
    } else {
        LoopOutcome::Deferred
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loop_devices_are_touched() {
        let rec = LoopRecord {
            device: "/dev/sda".into(),
            ..Default::default()
        };
        assert!(matches!(
            detach(Path::new("/sys/block"), &rec),
            LoopOutcome::NotOurs(_)
        ));
        let rec = LoopRecord {
            device: "/dev/loop999999".into(),
            ..Default::default()
        };
        assert_eq!(detach(Path::new("/sys/block"), &rec), LoopOutcome::Gone);
    }
}
