//! What qemu really has open, checked against what was judged.
//!
//! Names prove little: between [`crate::judge_image`] and qemu's open, a judged
//! extent file can be swapped for a symlink to a host file, and a live raw disk
//! detected as qcow2 can flip a header bit so qemu opens a data file the pinned
//! graph never named; qemu's own reports then still show the judged names. So
//! once qemu has opened the image, every regular file and block device among the
//! serving process's open descriptors (`/proc/PID/fd`) is identified by device
//! and inode and must be one of the files judged then (or a file VMCraft gave the
//! process itself: its pid file, the NBD device). Anything else stops the attach
//! with [`ErrorKind::BackingFileRefused`] before a device is made from it.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// A file's identity: device and inode.
pub(crate) type FileId = (u64, u64);

/// The identity of the file at `path` (symlinks followed).
pub(crate) fn file_id(path: &Path) -> std::io::Result<FileId> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Check the open descriptors of `pid` (under `proc_dir`, normally `/proc`):
/// every regular file and block device must be in `allowed`. `what` names the
/// process in errors (`qemu-storage-daemon`, `qemu-nbd`).
pub(crate) fn check_open_files(
    proc_dir: &Path,
    pid: u32,
    allowed: &[FileId],
    what: &str,
    subject: &str,
) -> Result<()> {
    let fd_dir = proc_dir.join(pid.to_string()).join("fd");
    let entries = std::fs::read_dir(&fd_dir).map_err(|e| {
        Error::io(
            "attach",
            subject,
            format!("listing the files {what} (pid {pid}) has open"),
            e,
        )
        .with_kind(ErrorKind::DaemonFailed)
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::io(
                "attach",
                subject,
                format!("listing the files {what} (pid {pid}) has open"),
                e,
            )
            .with_kind(ErrorKind::DaemonFailed)
        })?;
        // A descriptor closed meanwhile is gone; anything else is judged.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        let t = meta.file_type();
        if !(t.is_file() || t.is_block_device()) {
            continue;
        }
        if allowed.contains(&(meta.dev(), meta.ino())) {
            continue;
        }
        let target = std::fs::read_link(entry.path())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(Error::new(
            ErrorKind::BackingFileRefused,
            "attach",
            subject,
            format!(
                "{what} (pid {pid}) has {target:?} open, which is not a file the image's \
                 header check allowed (the image names a file VMCraft did not see, or one \
                 was replaced after the check)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_judged_files_may_be_open() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        let other = dir.path().join("secret");
        std::fs::write(&image, b"image").unwrap();
        std::fs::write(&other, b"secret").unwrap();
        // A fake /proc/PID/fd with the image, a pipe-like entry and /dev/null.
        let fd = dir.path().join("proc/77/fd");
        std::fs::create_dir_all(&fd).unwrap();
        std::os::unix::fs::symlink(&image, fd.join("3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd.join("0")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/closed", fd.join("9")).unwrap();
        let proc_dir = dir.path().join("proc");
        let ok = [file_id(&image).unwrap()];
        check_open_files(&proc_dir, 77, &ok, "qemu-nbd", "/i").unwrap();

        std::os::unix::fs::symlink(&other, fd.join("4")).unwrap();
        let e = check_open_files(&proc_dir, 77, &ok, "qemu-nbd", "/i").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
        assert!(e.to_string().contains("secret"), "{e}");
        assert!(
            e.to_string()
                .starts_with("attach: /i: qemu-nbd (pid 77) has"),
            "{e}"
        );

        // A process that cannot be looked at is refused, not waved through.
        let e = check_open_files(&proc_dir, 78, &ok, "qemu-nbd", "/i").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DaemonFailed);
    }
}
