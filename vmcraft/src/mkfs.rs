//! Making, checking and growing filesystems: `mkfs` for ext2/3/4, xfs, vfat,
//! btrfs, ntfs and swap (libguestfs's optional arguments: blocksize, features,
//! inode, sectorsize, label), `mkswap`, `e2fsck` and `e2fsck_f`, `resize2fs`
//! (which, as in libguestfs, never checks or repairs on its own), `xfs_growfs`. The tools run through the
//! session's `CommandRunner`; the probe cache of the device is invalidated.

use std::time::Duration;

use vmcraft_block::Command;

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// libguestfs's optional arguments to `mkfs`.
///
/// ```
/// let o = vmcraft::MkfsOptions { label: Some("root".into()), ..Default::default() };
/// assert_eq!(o.blocksize, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MkfsOptions {
    /// Filesystem block size (cluster size for vfat and ntfs) in bytes.
    pub blocksize: Option<u32>,
    /// ext2/3/4 features (`-O`).
    pub features: Option<String>,
    /// ext2/3/4 inode size (`-I`).
    pub inode: Option<u32>,
    /// Sector size (xfs, vfat, btrfs, ntfs).
    pub sectorsize: Option<u32>,
    /// Filesystem label.
    pub label: Option<String>,
}

/// libguestfs's optional arguments to `e2fsck` (at most one of them).
///
/// ```
/// let o = vmcraft::E2fsckOptions { correct: true, ..Default::default() };
/// assert!(!o.forceall);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct E2fsckOptions {
    /// Repair what can be repaired safely without asking (`-p`).
    pub correct: bool,
    /// Answer yes to every question (`-y`).
    pub forceall: bool,
}

/// `e2fsck -f` with the options' flags (the device is added by the caller).
pub(crate) fn e2fsck_command(call: &str, device: &str, o: E2fsckOptions) -> Result<Command> {
    if o.correct && o.forceall {
        return Err(Error::invalid(
            call,
            device,
            "only one of the options 'correct', 'forceall' may be specified",
        ));
    }
    let mut c = Command::new("e2fsck").arg("-f");
    if o.correct {
        c = c.arg("-p");
    }
    if o.forceall {
        c = c.arg("-y");
    }
    Ok(c)
}

/// The filesystem types `mkfs` makes, with their label limit in bytes.
pub const MKFS_TYPES: [(&str, usize); 8] = [
    ("ext2", 16),
    ("ext3", 16),
    ("ext4", 16),
    ("xfs", 12),
    ("vfat", 11),
    ("btrfs", 255),
    ("ntfs", 128),
    ("swap", 16),
];

fn power_of_two(call: &str, dev: &str, what: &str, v: u32) -> Result<()> {
    if v < 512 || !v.is_power_of_two() {
        return Err(Error::invalid(
            call,
            dev,
            format!("{what} {v} is not a power of two of at least 512"),
        ));
    }
    Ok(())
}

/// The command that makes `fstype` on `host_dev`, validated.
pub(crate) fn mkfs_command(
    fstype: &str,
    device: &str,
    host_dev: &std::path::Path,
    o: &MkfsOptions,
) -> Result<Command> {
    let call = "mkfs";
    let limit = MKFS_TYPES
        .iter()
        .find(|(t, _)| *t == fstype)
        .map(|(_, l)| *l)
        .ok_or_else(|| {
            let names: Vec<&str> = MKFS_TYPES.iter().map(|(t, _)| *t).collect();
            Error::invalid(
                call,
                device,
                format!(
                    "unsupported filesystem type '{fstype}' (supported: {})",
                    names.join(", ")
                ),
            )
        })?;
    if let Some(l) = &o.label
        && l.len() > limit
    {
        return Err(Error::invalid(
            call,
            device,
            format!("label '{l}' is longer than {limit} bytes (the {fstype} limit)"),
        ));
    }
    if let Some(b) = o.blocksize {
        power_of_two(call, device, "blocksize", b)?;
    }
    if let Some(s) = o.sectorsize {
        power_of_two(call, device, "sectorsize", s)?;
    }
    let ext = fstype.starts_with("ext");
    if !ext && (o.features.is_some() || o.inode.is_some()) {
        return Err(Error::invalid(
            call,
            device,
            format!("features and inode apply to ext2/3/4, not {fstype}"),
        ));
    }
    let mut c = match fstype {
        "ext2" | "ext3" | "ext4" => {
            let mut c = Command::new(format!("mkfs.{fstype}")).args(["-F", "-q"]);
            if let Some(b) = o.blocksize {
                c = c.arg("-b").arg(b.to_string());
            }
            if let Some(f) = &o.features {
                c = c.arg("-O").arg(f);
            }
            if let Some(i) = o.inode {
                c = c.arg("-I").arg(i.to_string());
            }
            if let Some(l) = &o.label {
                c = c.arg("-L").arg(l);
            }
            c
        }
        "xfs" => {
            let mut c = Command::new("mkfs.xfs").args(["-f", "-q"]);
            if let Some(b) = o.blocksize {
                c = c.arg("-b").arg(format!("size={b}"));
            }
            if let Some(s) = o.sectorsize {
                c = c.arg("-s").arg(format!("size={s}"));
            }
            if let Some(l) = &o.label {
                c = c.arg("-L").arg(l);
            }
            c
        }
        "vfat" => {
            let mut c = Command::new("mkfs.vfat").arg("-I");
            if let Some(s) = o.sectorsize {
                c = c.arg("-S").arg(s.to_string());
            }
            if let Some(b) = o.blocksize {
                let ss = o.sectorsize.unwrap_or(512);
                if b < ss {
                    return Err(Error::invalid(
                        call,
                        device,
                        format!("blocksize {b} is smaller than the sector size {ss}"),
                    ));
                }
                c = c.arg("-s").arg((b / ss).to_string());
            }
            if let Some(l) = &o.label {
                c = c.arg("-n").arg(l);
            }
            c
        }
        "btrfs" => {
            let mut c = Command::new("mkfs.btrfs").args(["-f", "-q"]);
            if let Some(s) = o.sectorsize {
                c = c.arg("-s").arg(s.to_string());
            }
            if let Some(b) = o.blocksize {
                c = c.arg("-n").arg(b.to_string());
            }
            if let Some(l) = &o.label {
                c = c.arg("-L").arg(l);
            }
            c
        }
        "ntfs" => {
            let mut c = Command::new("mkntfs").args(["-Q", "-F", "-q"]);
            if let Some(s) = o.sectorsize {
                c = c.arg("-s").arg(s.to_string());
            }
            if let Some(b) = o.blocksize {
                c = c.arg("-c").arg(b.to_string());
            }
            if let Some(l) = &o.label {
                c = c.arg("-L").arg(l);
            }
            c
        }
        "swap" => {
            let mut c = Command::new("mkswap").arg("-f");
            if let Some(l) = &o.label {
                c = c.arg("-L").arg(l);
            }
            c
        }
        _ => unreachable!("checked against MKFS_TYPES"),
    };
    c = c.arg(host_dev).timeout(Duration::from_secs(600));
    Ok(c)
}

impl VMCraft {
    /// Make a filesystem (`mkfs`): `fstype` one of ext2, ext3, ext4, xfs, vfat,
    /// btrfs, ntfs, swap.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.mkfs("ext4", "/dev/sda1", &vmcraft::MkfsOptions { label: Some("root".into()), ..Default::default() })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkfs(&self, fstype: &str, device: &str, opts: &MkfsOptions) -> Result<()> {
        let _span = tracing::info_span!("mkfs", fstype, device).entered();
        let dev = self.resolve("mkfs", device)?;
        if dev.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                "mkfs",
                &dev.name,
                "the drive was added read-only",
            ));
        }
        if self.mounts().iter().any(|m| m.device == dev.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                "mkfs",
                &dev.name,
                "the device is mounted",
            ));
        }
        // The handle's token stops a long mkfs (SIGTERM to its process group).
        let cmd = mkfs_command(fstype, &dev.name, &dev.host, opts)?.cancel_on(&self.cancel_token());
        self.progress("mkfs", 0, 1);
        let result = self.runner().run(&cmd);
        self.invalidate_device(&dev.name);
        result.map_err(|e| {
            let message = if e.kind() == vmcraft_block::ErrorKind::Cancelled {
                format!("mkfs.{fstype} was cancelled; the device holds an incomplete filesystem")
            } else {
                format!("mkfs.{fstype} failed")
            };
            Error::call_with_source(ErrorKind::Crate, "mkfs", &dev.name, message, e)
        })?;
        self.progress("mkfs", 1, 1);
        Ok(())
    }

    /// Make a swap area (`mkswap`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkswap(&self, device: &str, label: Option<&str>) -> Result<()> {
        self.mkfs(
            "swap",
            device,
            &MkfsOptions {
                label: label.map(String::from),
                ..Default::default()
            },
        )
    }

    /// Grow (or shrink) an unmounted ext2/3/4 filesystem to fill its device
    /// (`resize2fs`). As in libguestfs, the filesystem is not checked first:
    /// resize2fs refuses one that was not checked since it was last mounted, and
    /// the error then says to run [`VMCraft::e2fsck_f`] (or [`VMCraft::e2fsck`]
    /// with `correct` or `forceall`) first, which is the caller's decision (a
    /// check with repairs changes the filesystem).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.e2fsck_f("/dev/sda1")?;
    /// g.resize2fs("/dev/sda1")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn resize2fs(&self, device: &str) -> Result<()> {
        const CALL: &str = "resize2fs";
        let dev = self.unmounted_writable(CALL, device)?;
        let cmd = Command::new("resize2fs")
            .arg(&dev.host)
            .cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd);
        self.invalidate_device(&dev.name);
        let out = out?;
        if out.status.success() {
            return Ok(());
        }
        let failure = vmcraft_block::command::command_failed(&cmd, &out);
        let said = [&out.stderr, &out.stdout].map(|b| String::from_utf8_lossy(b).into_owned());
        let message = if said.iter().any(|s| s.contains("e2fsck -f")) {
            "you need to run e2fsck with the correct and/or forceall options first (e2fsck_f)"
                .to_string()
        } else {
            "resize2fs failed".to_string()
        };
        Err(Error::call_with_source(
            ErrorKind::Crate,
            CALL,
            &dev.name,
            message,
            failure,
        ))
    }

    /// Check an unmounted ext2/3/4 filesystem even if it looks clean (`e2fsck`,
    /// `e2fsck -f`): `correct` repairs what can be repaired safely without asking
    /// (`-p`), `forceall` answers yes to every question (`-y`); not both. Without
    /// either, e2fsck would have to ask, and fails. Success when e2fsck found
    /// nothing or corrected everything (exit status 0 or 1), as libguestfs.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.e2fsck("/dev/sda1", vmcraft::E2fsckOptions { forceall: true, ..Default::default() })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn e2fsck(&self, device: &str, opts: E2fsckOptions) -> Result<()> {
        self.run_e2fsck("e2fsck", device, opts)
    }

    /// `e2fsck` with `correct` (`e2fsck -f -p`), libguestfs's `e2fsck_f`: what
    /// [`VMCraft::resize2fs`] needs first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn e2fsck_f(&self, device: &str) -> Result<()> {
        self.run_e2fsck(
            "e2fsck_f",
            device,
            E2fsckOptions {
                correct: true,
                forceall: false,
            },
        )
    }

    fn run_e2fsck(&self, call: &str, device: &str, opts: E2fsckOptions) -> Result<()> {
        let cmd = e2fsck_command(call, device, opts)?;
        let dev = self.unmounted_writable(call, device)?;
        let cmd = cmd.arg(&dev.host).cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd);
        self.invalidate_device(&dev.name);
        let out = out?;
        // 0: clean, 1: errors corrected; 2 and 3 (corrected, reboot needed) and
        // 4 and up (left uncorrected, or failed) are errors, as in libguestfs.
        match out.status.code() {
            Some(0 | 1) => Ok(()),
            code => Err(Error::call_with_source(
                ErrorKind::Crate,
                call,
                &dev.name,
                match code {
                    Some(4) => "e2fsck left errors uncorrected".to_string(),
                    Some(c) => format!("e2fsck failed with exit status {c}"),
                    None => "e2fsck was killed".to_string(),
                },
                vmcraft_block::command::command_failed(&cmd, &out),
            )),
        }
    }

    /// `device` resolved, refused when its drive is read-only or it is mounted.
    fn unmounted_writable(&self, call: &str, device: &str) -> Result<crate::Resolved> {
        let dev = self.resolve(call, device)?;
        if dev.readonly {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                &dev.name,
                "the drive was added read-only",
            ));
        }
        if self.mounts().iter().any(|m| m.device == dev.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                &dev.name,
                "the device is mounted",
            ));
        }
        Ok(dev)
    }

    /// Grow a mounted xfs filesystem to fill its device (`xfs_growfs`, given the
    /// mount point).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn xfs_growfs(&self, mountpoint: &str) -> Result<()> {
        let host = self.mountpoint_host_path(mountpoint)?;
        self.runner().run(
            &Command::new("xfs_growfs")
                .arg(&host)
                .cancel_on(&self.cancel_token()),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn argv(fstype: &str, o: &MkfsOptions) -> Result<Vec<String>> {
        mkfs_command(fstype, "/dev/sda1", Path::new("/dev/loop9p1"), o).map(|c| c.argv())
    }

    #[test]
    fn argument_lists_per_type() {
        let label = MkfsOptions {
            label: Some("L".into()),
            blocksize: Some(4096),
            ..Default::default()
        };
        assert_eq!(
            argv("ext4", &label).unwrap(),
            [
                "mkfs.ext4",
                "-F",
                "-q",
                "-b",
                "4096",
                "-L",
                "L",
                "/dev/loop9p1"
            ]
        );
        assert_eq!(
            argv("xfs", &label).unwrap(),
            [
                "mkfs.xfs",
                "-f",
                "-q",
                "-b",
                "size=4096",
                "-L",
                "L",
                "/dev/loop9p1"
            ]
        );
        assert_eq!(
            argv("vfat", &label).unwrap(),
            ["mkfs.vfat", "-I", "-s", "8", "-n", "L", "/dev/loop9p1"]
        );
        assert_eq!(
            argv("swap", &MkfsOptions::default()).unwrap(),
            ["mkswap", "-f", "/dev/loop9p1"]
        );
        assert_eq!(
            argv("ntfs", &MkfsOptions::default()).unwrap(),
            ["mkntfs", "-Q", "-F", "-q", "/dev/loop9p1"]
        );
    }

    #[test]
    fn e2fsck_flags_as_libguestfs() {
        let argv = |correct, forceall| {
            e2fsck_command("e2fsck", "/dev/sda1", E2fsckOptions { correct, forceall })
                .map(|c| c.argv())
        };
        assert_eq!(argv(false, false).unwrap(), ["e2fsck", "-f"]);
        assert_eq!(argv(true, false).unwrap(), ["e2fsck", "-f", "-p"]);
        assert_eq!(argv(false, true).unwrap(), ["e2fsck", "-f", "-y"]);
        assert_eq!(
            argv(true, true).unwrap_err().to_string(),
            "e2fsck: /dev/sda1: only one of the options 'correct', 'forceall' may be specified"
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let e = argv("zfs", &MkfsOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("unsupported filesystem type 'zfs'"),
            "{e}"
        );
        let e = argv(
            "xfs",
            &MkfsOptions {
                label: Some("thirteen-char".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("longer than 12 bytes"), "{e}");
        let e = argv(
            "ext4",
            &MkfsOptions {
                blocksize: Some(3000),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("blocksize 3000"), "{e}");
        let e = argv(
            "xfs",
            &MkfsOptions {
                inode: Some(256),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("apply to ext2/3/4"), "{e}");
    }
}
