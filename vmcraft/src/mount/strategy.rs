//! Mount strategies as data, and `mount_with_fallback`: normal, then
//! `ro,norecovery`, then `ro,noload`, then read-only FUSE drivers (ntfs-3g,
//! fusefat, fuse2fs). Each attempt is reported; the winning strategy is returned;
//! every mount made is tracked so `umount_all` and shutdown undo it. ntfs-3g's
//! forcing mode, which deletes a hibernated Windows's `hiberfil.sys`, is only
//! ever tried when the caller asks for it ([`fallback_strategies_removing_hiberfile`]).

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use serde::Serialize;

use super::{MountEntry, parse_options};
use crate::error::{Error, ErrorKind, Result};
use crate::session::{Resolved, VMCraft};

/// How a strategy mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MountMethod {
    /// mount(2) with the kernel's driver.
    Kernel,
    /// A FUSE driver program (`ntfs-3g`, `fusefat`, `fuse2fs`).
    Fuse(String),
}

/// One way of mounting a filesystem.
///
/// ```
/// use vmcraft::{MountMethod, MountStrategy};
/// let s = MountStrategy::kernel("ro,norecovery", "ro,norecovery").for_types(&["xfs", "ext4"]);
/// assert!(s.applies_to("xfs", false) && !s.applies_to("vfat", false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountStrategy {
    /// The name reported in attempts and results.
    pub name: String,
    /// Kernel or FUSE.
    pub method: MountMethod,
    /// Mount options this strategy uses (added to `nosuid,nodev`).
    pub options: String,
    /// Filesystem types it applies to (empty: any).
    pub fstypes: Vec<String>,
    /// Only tried when the kernel has no driver for the type (mount(8)'s helper
    /// behaviour).
    pub only_without_kernel_driver: bool,
    /// Only tried when a read-write mount was asked for (a forcing mode that
    /// changes the filesystem has no place in a read-only mount).
    pub read_write_only: bool,
}

impl MountStrategy {
    /// A kernel mount with these options.
    pub fn kernel(name: &str, options: &str) -> Self {
        MountStrategy {
            name: name.to_string(),
            method: MountMethod::Kernel,
            options: options.to_string(),
            fstypes: Vec::new(),
            only_without_kernel_driver: false,
            read_write_only: false,
        }
    }

    /// A FUSE driver mount with these options.
    pub fn fuse(name: &str, driver: &str, options: &str) -> Self {
        MountStrategy {
            name: name.to_string(),
            method: MountMethod::Fuse(driver.to_string()),
            options: options.to_string(),
            fstypes: Vec::new(),
            only_without_kernel_driver: false,
            read_write_only: false,
        }
    }

    /// Only when a read-write mount was asked for.
    pub fn read_write_only(mut self) -> Self {
        self.read_write_only = true;
        self
    }

    /// Restrict to these filesystem types.
    pub fn for_types(mut self, types: &[&str]) -> Self {
        self.fstypes = types.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Only when the kernel lacks the driver.
    pub fn without_kernel_driver(mut self) -> Self {
        self.only_without_kernel_driver = true;
        self
    }

    /// Whether this strategy is tried for `fstype`, given whether the kernel turned
    /// the type down for lack of a driver.
    pub fn applies_to(&self, fstype: &str, kernel_lacks_driver: bool) -> bool {
        (self.fstypes.is_empty() || self.fstypes.iter().any(|t| t == fstype))
            && (!self.only_without_kernel_driver || kernel_lacks_driver)
    }
}

/// The FUSE drivers mount(8) would reach for when the kernel lacks a driver.
fn helper_drivers(options: &str) -> Vec<MountStrategy> {
    vec![
        MountStrategy::fuse("ntfs-3g", "ntfs-3g", options)
            .for_types(&["ntfs"])
            .without_kernel_driver(),
        MountStrategy::fuse("fusefat", "fusefat", options)
            .for_types(&["vfat"])
            .without_kernel_driver(),
    ]
}

/// What `mount` tries: the kernel with the given options, then the FUSE helper for
/// types the kernel has no driver for.
pub fn normal_strategies(options: &str) -> Vec<MountStrategy> {
    let mut v = vec![MountStrategy::kernel("normal", options)];
    v.extend(helper_drivers(options));
    v
}

/// What `mount_with_fallback` tries, in order: the normal mount (and the FUSE
/// helper where the kernel has no driver), then read-only mounts that skip journal
/// or log recovery, then read-only FUSE mounts. Every strategy leaves the
/// filesystem's content as it is: none of them deletes a hibernated Windows's
/// `hiberfil.sys` (which would destroy the hibernated session); a hibernated NTFS
/// is mounted read-only by `ntfs-3g ro`. Deleting it is an explicit choice:
/// [`fallback_strategies_removing_hiberfile`].
///
/// ```
/// let names: Vec<String> = vmcraft::mount::strategy::fallback_strategies("")
///     .into_iter().map(|s| s.name).collect();
/// assert_eq!(names[0], "normal");
/// assert_eq!(names[3..5], ["ro,norecovery", "ro,noload"]);
/// assert!(!names.iter().any(|n| n == "ntfs-3g force"));
/// ```
pub fn fallback_strategies(options: &str) -> Vec<MountStrategy> {
    let mut v = normal_strategies(options);
    v.extend([
        MountStrategy::kernel("ro,norecovery", "ro,norecovery").for_types(&["xfs", "ext3", "ext4"]),
        MountStrategy::kernel("ro,noload", "ro,noload").for_types(&["ext3", "ext4"]),
        MountStrategy::fuse("ntfs-3g ro", "ntfs-3g", "ro").for_types(&["ntfs"]),
        MountStrategy::fuse("fusefat ro", "fusefat", "ro")
            .for_types(&["vfat"])
            .without_kernel_driver(),
        MountStrategy::fuse("fuse2fs", "fuse2fs", "ro").for_types(&["ext2", "ext3", "ext4"]),
    ]);
    v
}

/// ntfs-3g's forcing mode, `ntfs-3g force`: it mounts a hibernated (or unclean)
/// NTFS read-write by **deleting `hiberfil.sys`**, which throws away the
/// hibernated Windows session (its open programs and unsaved work). Never part of
/// the default strategies; only when a read-write mount is asked for.
///
/// ```
/// let s = vmcraft::mount::strategy::ntfs_remove_hiberfile("");
/// assert_eq!(s.name, "ntfs-3g force");
/// assert_eq!(s.options, "remove_hiberfile");
/// assert!(s.read_write_only);
/// ```
pub fn ntfs_remove_hiberfile(options: &str) -> MountStrategy {
    let forced = if options.is_empty() {
        "remove_hiberfile".to_string()
    } else {
        format!("{options},remove_hiberfile")
    };
    MountStrategy::fuse("ntfs-3g force", "ntfs-3g", &forced)
        .for_types(&["ntfs"])
        .read_write_only()
}

/// [`fallback_strategies`] with [`ntfs_remove_hiberfile`] before the read-only
/// NTFS mount: for a caller that has decided a hibernated Windows may lose its
/// hibernated session so that its disk can be written. Pass it to
/// [`VMCraft::mount_with_strategies`].
///
/// ```no_run
/// use vmcraft::mount::strategy::fallback_strategies_removing_hiberfile;
/// # let g = vmcraft::VMCraft::new();
/// let out = g.mount_with_strategies(
///     "mount_with_fallback", "/dev/sda2", "/", "", &fallback_strategies_removing_hiberfile(""))?;
/// println!("mounted by {}", out.strategy);
/// # Ok::<(), vmcraft::Error>(())
/// ```
pub fn fallback_strategies_removing_hiberfile(options: &str) -> Vec<MountStrategy> {
    let mut v = fallback_strategies(options);
    let at = v
        .iter()
        .position(|s| s.name == "ntfs-3g ro")
        .unwrap_or(v.len());
    v.insert(at, ntfs_remove_hiberfile(options));
    v
}

/// One strategy tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The strategy's name.
    pub strategy: String,
    /// The options used.
    pub options: String,
    /// Why it failed; `None` for the one that succeeded.
    pub error: Option<String>,
}

/// How a mount with strategies went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallbackOutcome {
    /// The device.
    pub device: String,
    /// The mount point.
    pub mountpoint: String,
    /// The filesystem type.
    pub fstype: String,
    /// The strategy that mounted it.
    pub strategy: String,
    /// The options it mounted with.
    pub options: String,
    /// Every strategy tried, in order, the successful one last.
    pub attempts: Vec<Attempt>,
}

/// Where a strategy mounts.
pub(crate) struct Target {
    /// The guest mount point (or a description for private mounts).
    pub mountpoint: String,
    /// The host directory.
    pub host: PathBuf,
    /// A descriptor on the directory for the kernel to mount onto.
    pub fd: Option<std::os::fd::OwnedFd>,
    pub private: bool,
}

impl VMCraft {
    /// Mount trying each strategy in turn (`mount_with_fallback`): normal, then
    /// `ro,norecovery`, `ro,noload`, then read-only FUSE drivers, each where it
    /// applies to the filesystem type ([`fallback_strategies`]). Returns the
    /// strategy that worked and every attempt. No strategy changes the
    /// filesystem: a hibernated NTFS is mounted read-only, its `hiberfil.sys`
    /// kept (see [`fallback_strategies_removing_hiberfile`] to opt in to deleting
    /// it).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_with_fallback(
        &self,
        mountable: &str,
        mountpoint: &str,
    ) -> Result<FallbackOutcome> {
        let strategies = fallback_strategies(&self.config.default_mount_options);
        self.mount_with_strategies(
            "mount_with_fallback",
            mountable,
            mountpoint,
            "",
            &strategies,
        )
    }

    /// Mount trying the given strategies in order (`vfstype` empty: probe it).
    ///
    /// ```no_run
    /// use vmcraft::mount::strategy::fallback_strategies;
    /// # let g = vmcraft::VMCraft::new();
    /// let out = g.mount_with_strategies("mount", "/dev/sda1", "/", "", &fallback_strategies("ro"))?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    pub fn mount_with_strategies(
        &self,
        call: &str,
        mountable: &str,
        mountpoint: &str,
        vfstype: &str,
        strategies: &[MountStrategy],
    ) -> Result<FallbackOutcome> {
        // A read-only mount the session can serve in-process (see `inproc`).
        if let Some(out) =
            self.try_mount_inproc(call, mountable, mountpoint, vfstype, strategies)?
        {
            return Ok(out);
        }
        // A btrfs subvolume as libguestfs names it (`btrfsvol:/dev/sda2/root`):
        // the device, mounted with `subvol=`.
        let (device, subvol) = if mountable.starts_with("btrfsvol:") {
            let (d, v) = self.split_mountable(call, mountable)?;
            (d, v)
        } else {
            (mountable.to_string(), None)
        };
        let dev = self.resolve(call, &device)?;
        let with_subvol: Vec<MountStrategy>;
        let strategies = match &subvol {
            None => strategies,
            Some(v) => {
                // The name goes into the option string: nothing may end it.
                if v.contains(',') || v.chars().any(char::is_control) {
                    return Err(Error::invalid(
                        call,
                        mountable,
                        "a subvolume name with a comma or a control character cannot be mounted",
                    ));
                }
                let fstype = self.vfs_type(&dev.name)?;
                if fstype != "btrfs" {
                    return Err(Error::call(
                        ErrorKind::Mount,
                        call,
                        mountable,
                        format!(
                            "{} holds {fstype}, not btrfs: it has no subvolumes",
                            dev.name
                        ),
                    ));
                }
                with_subvol = strategies
                    .iter()
                    .filter(|s| matches!(s.method, MountMethod::Kernel))
                    .map(|s| {
                        let mut s = s.clone();
                        s.options = super::join_options(&s.options, &format!("subvol={v}"));
                        s
                    })
                    .collect();
                &with_subvol
            }
        };
        let (mp, fd, host) = self.mount_target(call, mountpoint)?;
        let target = Target {
            mountpoint: mp,
            host,
            fd: Some(fd),
            private: false,
        };
        self.try_strategies(call, &dev, vfstype, target, strategies)
    }

    pub(crate) fn try_strategies(
        &self,
        call: &str,
        dev: &Resolved,
        vfstype: &str,
        target: Target,
        strategies: &[MountStrategy],
    ) -> Result<FallbackOutcome> {
        let fstype = if vfstype.is_empty() {
            match self.probe_device(call, &dev.name)? {
                Some(p) if p.probe.usage == "filesystem" => p.probe.fstype.clone(),
                Some(p) => {
                    return Err(Error::call(
                        ErrorKind::Mount,
                        call,
                        &dev.name,
                        format!("{} is not a mountable filesystem", p.probe.fstype),
                    ));
                }
                None => {
                    return Err(Error::call(
                        ErrorKind::Mount,
                        call,
                        &dev.name,
                        "unknown filesystem type (nothing recognisable on the device)",
                    ));
                }
            }
        } else {
            // A type given by the caller is not checked against the probe, but a
            // member of something bigger is never mounted on its own: an md
            // RAID 0.90/1.0 member starts with its array's filesystem, and
            // mounting one half would break the mirror.
            if let Some(p) = self.probe_device(call, &dev.name)?
                && matches!(p.probe.usage.as_str(), "raid" | "crypto")
            {
                return Err(Error::call(
                    ErrorKind::Mount,
                    call,
                    &dev.name,
                    format!("{} is not a mountable filesystem", p.probe.fstype),
                ));
            }
            vfstype.to_string()
        };
        let mut attempts = Vec::new();
        let mut no_driver = false;
        for s in strategies
            .iter()
            .filter(|s| s.fstypes.is_empty() || s.fstypes.contains(&fstype))
        {
            if !s.applies_to(&fstype, no_driver) {
                continue;
            }
            // A read-only drive can only be mounted read-only (mount(8) retries so).
            let opts_str = if dev.readonly {
                format!("{},ro", s.options)
            } else {
                s.options.clone()
            };
            let opts = parse_options(call, &dev.name, &opts_str)?;
            if s.read_write_only && opts.readonly() {
                continue;
            }
            let effective = opts.to_option_string();
            let fuse_driver = match &s.method {
                MountMethod::Fuse(d) => Some(d.clone()),
                MountMethod::Kernel => None,
            };
            // Recorded before it exists, so that a crash during the mount leaves
            // it findable (see `crate::state`).
            self.record_mount_intent(crate::state::MountRecord {
                host_path: target.host.clone(),
                device: dev.name.clone(),
                source: dev.host.clone(),
                fstype: fstype.clone(),
                fuse_driver: fuse_driver.clone(),
                mounted: None,
            });
            let result = match &s.method {
                MountMethod::Kernel => {
                    let tgt = match &target.fd {
                        Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
                        None => target.host.clone(),
                    };
                    let data = opts.data.join(",");
                    nix::mount::mount(
                        Some(&dev.host),
                        &tgt,
                        Some(fstype.as_str()),
                        opts.flags,
                        Some(data.as_str()),
                    )
                    .map_err(|e| {
                        if e == nix::errno::Errno::ENODEV {
                            no_driver = true;
                            format!("the kernel has no {fstype} driver")
                        } else {
                            let io = std::io::Error::from(e);
                            format!("{io}")
                        }
                    })
                }
                MountMethod::Fuse(driver) => self
                    .fuse_mount(driver, dev, &target.host, &opts)
                    .map(drop)
                    .map_err(|e| e.chain()),
            };
            // A driver that quietly fell back to read-only (ntfs-3g on a hibernated
            // volume) did not do what was asked: undo it and try the next strategy.
            let mut result = result;
            if result.is_ok() && !opts.readonly() && super::mounted_read_only(&target.host) {
                if let Err(e) = super::umount_retrying(&target.host) {
                    // Keep it tracked so umount_all and shutdown still undo it.
                    self.mounts().push(MountEntry {
                        device: dev.name.clone(),
                        mountpoint: target.mountpoint.clone(),
                        host_path: target.host.clone(),
                        fstype: fstype.clone(),
                        options: format!("{effective},ro"),
                        strategy: s.name.clone(),
                        fuse_driver: fuse_driver.clone(),
                        private: target.private,
                    });
                    self.record_mount_result(&target.host, true);
                    return Err(Error::call(
                        ErrorKind::Mount,
                        call,
                        &dev.name,
                        format!(
                            "{} mounted it read-only instead of read-write, and unmounting that failed: {e}",
                            s.name
                        ),
                    ));
                }
                if matches!(s.method, MountMethod::Fuse(_)) {
                    self.finish_fuse_driver(&target.host);
                }
                result = Err("mounted read-only although read-write was asked for (the filesystem is unclean or hibernated)".to_string());
            }
            match result {
                Ok(()) => {
                    attempts.push(Attempt {
                        strategy: s.name.clone(),
                        options: effective.clone(),
                        error: None,
                    });
                    self.mounts().push(MountEntry {
                        device: dev.name.clone(),
                        mountpoint: target.mountpoint.clone(),
                        host_path: target.host.clone(),
                        fstype: fstype.clone(),
                        options: effective.clone(),
                        strategy: s.name.clone(),
                        fuse_driver: fuse_driver.clone(),
                        private: target.private,
                    });
                    self.record_mount_result(&target.host, true);
                    if attempts.len() > 1 {
                        tracing::warn!(device = %dev.name, strategy = %s.name, "mounted by a fallback strategy");
                    }
                    return Ok(FallbackOutcome {
                        device: dev.name.clone(),
                        mountpoint: target.mountpoint,
                        fstype,
                        strategy: s.name.clone(),
                        options: effective,
                        attempts,
                    });
                }
                Err(why) => {
                    self.record_mount_result(&target.host, false);
                    tracing::debug!(device = %dev.name, strategy = %s.name, error = %why, "mount attempt failed");
                    attempts.push(Attempt {
                        strategy: s.name.clone(),
                        options: effective,
                        error: Some(why),
                    });
                }
            }
        }
        let summary: Vec<String> = attempts
            .iter()
            .map(|a| {
                format!(
                    "{} ({}): {}",
                    a.strategy,
                    a.options,
                    a.error.as_deref().unwrap_or("")
                )
            })
            .collect();
        Err(Error::call(
            ErrorKind::Mount,
            call,
            &dev.name,
            if summary.is_empty() {
                format!("no mount strategy applies to {fstype}")
            } else if summary.len() == 1 {
                format!(
                    "cannot mount {fstype} on {}: {}",
                    target.mountpoint,
                    attempts[0].error.as_deref().unwrap_or("")
                )
            } else {
                format!(
                    "cannot mount {fstype} on {}: {}",
                    target.mountpoint,
                    summary.join("; ")
                )
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_default_strategy_removes_the_hibernation_file() {
        for options in ["", "ro", "noatime"] {
            for list in [fallback_strategies(options), normal_strategies(options)] {
                assert!(
                    list.iter().all(|s| !s.options.contains("remove_hiberfile")),
                    "{list:?}"
                );
            }
        }
    }

    #[test]
    fn the_opt_in_adds_the_forcing_mode_before_the_read_only_ntfs_mount() {
        let names: Vec<String> = fallback_strategies_removing_hiberfile("noatime")
            .into_iter()
            .map(|s| s.name)
            .collect();
        let force = names.iter().position(|n| n == "ntfs-3g force").unwrap();
        assert_eq!(names[force + 1], "ntfs-3g ro");
        assert_eq!(
            ntfs_remove_hiberfile("noatime").options,
            "noatime,remove_hiberfile"
        );
        assert_eq!(names.len(), fallback_strategies("").len() + 1);
    }
}
