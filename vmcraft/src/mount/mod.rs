//! Mounting guest filesystems under the session's private root: `mount`,
//! `mount_ro`, `mount_options`, `mount_vfs`, `umount`, `umount_all`, `mounts`,
//! `mountpoints`; the fallback strategies ([`strategy`]) and parallel mounting
//! ([`parallel`]).
//!
//! Every mount point is resolved inside the guest tree with chroot semantics (a
//! guest symlink `/boot -> /etc` can never make VMCraft mount over a host
//! directory): the kernel mounts onto the exact directory the confined resolution
//! found, reached through `/proc/self/fd`. Every mount is `nosuid,nodev`, and lives
//! under a 0700 directory only root can enter.

pub mod parallel;
pub mod strategy;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::{MntFlags, MsFlags};
use serde::Serialize;
use vmcraft_block::Command;
use vmcraft_fs::root::GuestRoot;

use crate::error::{Error, ErrorKind, Result};
use crate::session::{Resolved, VMCraft};

pub use strategy::{Attempt, FallbackOutcome, MountMethod, MountStrategy};

/// A mounted filesystem the session tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    /// The device, by its libguestfs name.
    pub device: String,
    /// The mount point in the guest tree (`/`, `/boot/efi`); for private inspection
    /// mounts, the host directory.
    pub mountpoint: String,
    /// Where it is mounted on the host.
    pub host_path: PathBuf,
    /// The filesystem type.
    pub fstype: String,
    /// The options it was mounted with (including `nosuid,nodev`).
    pub options: String,
    /// The strategy that mounted it (`normal`, `ro,norecovery`, `fusefat`, ...).
    pub strategy: String,
    /// The FUSE driver serving it, when it is a FUSE mount.
    pub fuse_driver: Option<String>,
    /// A private inspection mount, not part of the guest tree.
    #[serde(skip)]
    pub private: bool,
}

/// Options that would undo the security model, refused in every mount call.
const FORBIDDEN_OPTIONS: [&str; 3] = ["suid", "dev", "exec_suid"];

/// Mount flags and filesystem-specific data parsed from an options string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedOptions {
    pub flags: MsFlags,
    pub data: Vec<String>,
}

impl ParsedOptions {
    pub fn readonly(&self) -> bool {
        self.flags.contains(MsFlags::MS_RDONLY)
    }

    /// The options as a string (what FUSE drivers and messages get).
    pub fn to_option_string(&self) -> String {
        let mut words = vec![if self.readonly() { "ro" } else { "rw" }.to_string()];
        for (flag, name) in FLAG_NAMES {
            if flag != MsFlags::MS_RDONLY && self.flags.contains(flag) {
                words.push(name.to_string());
            }
        }
        words.extend(self.data.iter().cloned());
        words.join(",")
    }
}

const FLAG_NAMES: [(MsFlags, &str); 9] = [
    (MsFlags::MS_RDONLY, "ro"),
    (MsFlags::MS_NOSUID, "nosuid"),
    (MsFlags::MS_NODEV, "nodev"),
    (MsFlags::MS_NOEXEC, "noexec"),
    (MsFlags::MS_SYNCHRONOUS, "sync"),
    (MsFlags::MS_DIRSYNC, "dirsync"),
    (MsFlags::MS_NOATIME, "noatime"),
    (MsFlags::MS_NODIRATIME, "nodiratime"),
    (MsFlags::MS_RELATIME, "relatime"),
];

/// Parse a mount options string (`ro,noatime,norecovery`) into flags and data,
/// always adding `nosuid,nodev`.
pub(crate) fn parse_options(call: &str, device: &str, options: &str) -> Result<ParsedOptions> {
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let mut data = Vec::new();
    for word in options.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if FORBIDDEN_OPTIONS.contains(&word) {
            return Err(Error::invalid(
                call,
                device,
                format!(
                    "mount option '{word}' is not allowed (guest filesystems are always mounted nosuid,nodev)"
                ),
            ));
        }
        match word {
            "rw" => flags.remove(MsFlags::MS_RDONLY),
            "defaults" | "auto" | "noauto" | "user" | "nouser" | "exec" | "async" => {}
            "strictatime" => flags.insert(MsFlags::MS_STRICTATIME),
            "lazytime" => flags.insert(MsFlags::MS_LAZYTIME),
            w => match FLAG_NAMES.iter().find(|(_, n)| *n == w) {
                Some((f, _)) => flags.insert(*f),
                None => {
                    if !data.iter().any(|d| d == w) {
                        data.push(w.to_string())
                    }
                }
            },
        }
    }
    Ok(ParsedOptions { flags, data })
}

/// Normalise a guest mount point: absolute, no trailing slash, no `.` or empty
/// components (`..` is left to the confined resolver, which keeps it inside).
pub(crate) fn normalize_mountpoint(call: &str, mp: &str) -> Result<String> {
    if !mp.starts_with('/') {
        return Err(Error::invalid(
            call,
            mp,
            "mount point must be an absolute path",
        ));
    }
    let parts: Vec<&str> = mp
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    Ok(format!("/{}", parts.join("/")))
}

impl VMCraft {
    /// Mount a filesystem read-write at `mountpoint` in the guest tree (`mount`).
    /// The type is probed; where the kernel has no driver for it (vfat, ntfs here),
    /// the FUSE driver is used, as mount(8) would use its helper.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount(&self, mountable: &str, mountpoint: &str) -> Result<()> {
        self.mount_vfs_call("mount", "", "", mountable, mountpoint)
    }

    /// Mount read-only (`mount_ro`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_ro(&self, mountable: &str, mountpoint: &str) -> Result<()> {
        self.mount_vfs_call("mount_ro", "ro", "", mountable, mountpoint)
    }

    /// Mount with options (`mount_options`), e.g. `ro,noatime`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_options(&self, options: &str, mountable: &str, mountpoint: &str) -> Result<()> {
        self.mount_vfs_call("mount_options", options, "", mountable, mountpoint)
    }

    /// Mount with options and an explicit filesystem type (`mount_vfs`).
    pub fn mount_vfs(
        &self,
        options: &str,
        vfstype: &str,
        mountable: &str,
        mountpoint: &str,
    ) -> Result<()> {
        self.mount_vfs_call("mount_vfs", options, vfstype, mountable, mountpoint)
    }

    fn mount_vfs_call(
        &self,
        call: &str,
        options: &str,
        vfstype: &str,
        device: &str,
        mountpoint: &str,
    ) -> Result<()> {
        let _span = tracing::info_span!("mount", call, device, mountpoint).entered();
        let all = join_options(&self.config.default_mount_options, options);
        let strategies = strategy::normal_strategies(&all);
        let out = self.mount_with_strategies(call, device, mountpoint, vfstype, &strategies)?;
        tracing::debug!(strategy = %out.strategy, "mounted");
        Ok(())
    }

    /// Resolve a guest mount point to the directory to mount on: (normalised guest
    /// path, an `O_PATH` descriptor on the directory, its host path).
    pub(crate) fn mount_target(
        &self,
        call: &str,
        mountpoint: &str,
    ) -> Result<(String, std::os::fd::OwnedFd, PathBuf)> {
        let mp = normalize_mountpoint(call, mountpoint)?;
        // A kernel mount joins a kernel-mounted tree: what is mounted
        // in-process moves there first.
        self.promote_inproc(call)?;
        if self
            .mounts()
            .iter()
            .any(|m| !m.private && m.mountpoint == mp)
        {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                &mp,
                "something is already mounted there",
            ));
        }
        if mp != "/" && !self.root_mounted() {
            return Err(Error::call(
                ErrorKind::Mount,
                call,
                &mp,
                "mount point does not exist (nothing is mounted on / yet)",
            ));
        }
        let sysroot = self.sysroot(call)?;
        let root = GuestRoot::open(&sysroot)?;
        let fd = root.resolve(&mp, true).map_err(|e| {
            Error::call_with_source(ErrorKind::Mount, call, &mp, "mount point does not exist", e)
        })?;
        let st = nix::sys::stat::fstat(&fd).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, call, &mp, "stat", std::io::Error::from(e))
        })?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Error::call(
                ErrorKind::Mount,
                call,
                &mp,
                "mount point is not a directory",
            ));
        }
        let host =
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, call, &mp, "cannot find the mount point", e)
            })?;
        if !host.starts_with(&sysroot) {
            return Err(Error::call(
                ErrorKind::Mount,
                call,
                &mp,
                "mount point resolves outside the guest tree",
            ));
        }
        Ok((mp, fd, host))
    }

    /// Whether a filesystem is mounted on the guest's `/`.
    pub(crate) fn root_mounted(&self) -> bool {
        self.mounts()
            .iter()
            .any(|m| !m.private && m.mountpoint == "/")
            || crate::session::lock(&self.inproc_mounts)
                .iter()
                .any(|m| m.mountpoint == "/")
    }

    /// Unmount an in-process mount (`umount`); `None` when `pathordevice`
    /// names none.
    fn umount_inproc(&self, pathordevice: &str) -> Option<Result<()>> {
        let mut mounts = crate::session::lock(&self.inproc_mounts);
        let mp = normalize_mountpoint("umount", pathordevice).ok();
        let i = mounts
            .iter()
            .rposition(|m| Some(&m.mountpoint) == mp.as_ref() || m.device == pathordevice)?;
        let entry = &mounts[i];
        let below: Vec<String> = mounts
            .iter()
            .filter(|m| m.at != entry.at && crate::inproc::is_at_or_below(&m.at, &entry.at))
            .map(|m| m.mountpoint.clone())
            .collect();
        if !below.is_empty() {
            return Some(Err(Error::call(
                ErrorKind::Busy,
                "umount",
                &entry.mountpoint,
                format!("filesystems are mounted below it: {}", below.join(", ")),
            )));
        }
        let gone = mounts.remove(i);
        tracing::debug!(device = %gone.device, mountpoint = %gone.mountpoint, "unmounted (in-process)");
        Some(Ok(()))
    }

    /// The in-process mounts as mount records (no host path: nothing is
    /// mounted on the host).
    fn inproc_entries(&self) -> Vec<MountEntry> {
        crate::session::lock(&self.inproc_mounts)
            .iter()
            .map(|m| MountEntry {
                device: m.device.clone(),
                mountpoint: m.mountpoint.clone(),
                host_path: PathBuf::new(),
                fstype: m.fstype.clone(),
                options: m.options.clone(),
                strategy: crate::inproc::INPROCESS_STRATEGY.to_string(),
                fuse_driver: None,
                private: false,
            })
            .collect()
    }

    /// Unmount the filesystem at a mount point, or mounted from a device
    /// (`umount`). Anything mounted below it must be unmounted first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn umount(&self, pathordevice: &str) -> Result<()> {
        self.refuse_under_local_mount("umount", pathordevice)?;
        if let Some(r) = self.umount_inproc(pathordevice) {
            return r;
        }
        let entry = {
            let mounts = self.mounts();
            let mp = normalize_mountpoint("umount", pathordevice).ok();
            mounts
                .iter()
                .rev()
                .find(|m| {
                    !m.private && (Some(&m.mountpoint) == mp.as_ref() || m.device == pathordevice)
                })
                .cloned()
        };
        let entry = entry
            .ok_or_else(|| Error::call(ErrorKind::Mount, "umount", pathordevice, "not mounted"))?;
        let below: Vec<String> = self
            .mounts()
            .iter()
            .filter(|m| {
                !m.private
                    && m.mountpoint != entry.mountpoint
                    && is_below(&m.mountpoint, &entry.mountpoint)
            })
            .map(|m| m.mountpoint.clone())
            .collect();
        if !below.is_empty() {
            return Err(Error::call(
                ErrorKind::Busy,
                "umount",
                &entry.mountpoint,
                format!("filesystems are mounted below it: {}", below.join(", ")),
            ));
        }
        self.unmount_entry("umount", &entry)
    }

    pub(crate) fn unmount_entry(&self, call: &str, entry: &MountEntry) -> Result<()> {
        #[cfg(feature = "augeas")]
        self.close_augeas_if_under(&entry.host_path);
        sync_fs(&entry.host_path);
        let last = umount_retrying(&entry.host_path).err();
        if let Some(e) = last {
            return Err(Error::call_with_source(
                if e == nix::errno::Errno::EBUSY {
                    ErrorKind::Busy
                } else {
                    ErrorKind::Mount
                },
                call,
                &entry.mountpoint,
                "cannot unmount",
                std::io::Error::from(e),
            ));
        }
        if entry.fuse_driver.is_some() {
            self.finish_fuse_driver(&entry.host_path);
        }
        self.mounts().retain(|m| m.host_path != entry.host_path);
        self.record_unmount(&entry.host_path);
        tracing::debug!(device = %entry.device, mountpoint = %entry.mountpoint, "unmounted");
        Ok(())
    }

    /// Unmount everything the user mounted, deepest first (`umount_all`),
    /// including every mount a fallback strategy made. Every mount is attempted;
    /// the first failure is returned.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn umount_all(&self) -> Result<()> {
        // A local mount (`mount_local`) holds the guest's filesystems: it goes
        // first.
        self.drop_local_mount()?;
        self.umount_where(|m| !m.private)
    }

    pub(crate) fn umount_all_including_private(&self) -> Result<()> {
        self.drop_local_mount()?;
        self.umount_where(|_| true)
    }

    fn umount_where(&self, pred: impl Fn(&MountEntry) -> bool) -> Result<()> {
        crate::session::lock(&self.inproc_mounts).clear();
        let mut entries: Vec<MountEntry> =
            self.mounts().iter().filter(|m| pred(m)).cloned().collect();
        // Deepest host path first; among equals, the later mount first.
        let order: Vec<usize> = (0..entries.len()).collect();
        let mut keyed: Vec<(usize, usize)> = order
            .iter()
            .map(|&i| (entries[i].host_path.components().count(), i))
            .collect();
        keyed.sort_by(|a, b| b.cmp(a));
        let sorted: Vec<MountEntry> = keyed.into_iter().map(|(_, i)| entries[i].clone()).collect();
        entries.clear();
        let mut first = None;
        for e in sorted {
            if let Err(err) = self.unmount_entry("umount_all", &e) {
                tracing::warn!(error = %err.chain(), "unmount failed");
                first.get_or_insert(err);
            }
        }
        match first {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The devices mounted in the guest tree, in mount order (`mounts`).
    pub fn mounts_list(&self) -> Vec<String> {
        self.mount_entries().into_iter().map(|m| m.device).collect()
    }

    /// (device, mount point) for every mount in the guest tree (`mountpoints`).
    pub fn mountpoints(&self) -> Vec<(String, String)> {
        self.mount_entries()
            .into_iter()
            .map(|m| (m.device, m.mountpoint))
            .collect()
    }

    /// The full records of what is mounted in the guest tree.
    pub fn mount_entries(&self) -> Vec<MountEntry> {
        let mut v: Vec<MountEntry> = self
            .mounts()
            .iter()
            .filter(|m| !m.private)
            .cloned()
            .collect();
        v.extend(self.inproc_entries());
        v
    }

    /// The host directory a guest mount point is at (for callers that need a host
    /// path; the guest tree must not be walked through it without confinement).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mountpoint_host_path(&self, mountpoint: &str) -> Result<PathBuf> {
        let mp = normalize_mountpoint("mountpoint_host_path", mountpoint)?;
        self.promote_inproc("mountpoint_host_path")?;
        self.mounts()
            .iter()
            .find(|m| !m.private && m.mountpoint == mp)
            .map(|m| m.host_path.clone())
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::Mount,
                    "mountpoint_host_path",
                    &mp,
                    "not a mount point",
                )
            })
    }

    /// Run a FUSE driver in the foreground to mount `dev` at `host`, as a
    /// [`vmcraft_block::Supervised`] process that dies with this one; the mount
    /// is ready once it shows in this thread's mount table. Returns the driver's
    /// pid. The driver runs in the caller's mount namespace (where the guest
    /// tree is), never through the runner, whose daemons may live in another.
    pub(crate) fn fuse_mount(
        &self,
        driver: &str,
        dev: &Resolved,
        host: &Path,
        opts: &ParsedOptions,
    ) -> Result<u32> {
        let o = opts.to_option_string();
        let cmd = match driver {
            "fusefat" => {
                // fusefat writes only with its own "rw+" flag.
                let o = o.replacen("rw", "rw+", usize::from(!opts.readonly()));
                Command::new("fusefat")
                    .arg("-f")
                    .arg("-o")
                    .arg(o)
                    .arg(&dev.host)
                    .arg(host)
            }
            "fuse2fs" => Command::new("fuse2fs")
                .arg(&dev.host)
                .arg(host)
                .arg("-f")
                .arg("-o")
                .arg(format!("{o},fakeroot")),
            // ntfs-3g (and lowntfs-3g): no_detach is their foreground.
            other => Command::new(other)
                .arg("-o")
                .arg(format!("{o},no_detach"))
                .arg(&dev.host)
                .arg(host),
        };
        let mut proc = vmcraft_block::Supervised::spawn(&cmd)?;
        let ready = vmcraft_block::wait_until(
            &format!("{driver} to mount {}", host.display()),
            Duration::from_secs(60),
            || !proc.is_alive() || fuse_mounted_at(host),
        );
        if !fuse_mounted_at(host) {
            let err = if proc.is_alive() {
                ready.err().map(Error::from).unwrap_or_else(|| {
                    Error::call(
                        ErrorKind::Mount,
                        "mount",
                        &dev.name,
                        "the FUSE mount did not appear",
                    )
                })
            } else {
                Error::from(proc.exit_error())
            };
            let _ = proc.stop(vmcraft_block::supervised::DEFAULT_GRACE);
            return Err(err);
        }
        let pid = proc.pid();
        self.fuse_drivers().insert(host.to_path_buf(), proc);
        Ok(pid)
    }

    /// After the FUSE mount at `host` is gone: its driver exits by itself; wait
    /// for that (then stop it anyway) and reap it.
    pub(crate) fn finish_fuse_driver(&self, host: &Path) {
        let Some(mut proc) = self.fuse_drivers().remove(host) else {
            return;
        };
        if proc.wait_timeout(Duration::from_secs(10)).is_none() {
            tracing::warn!(mountpoint = %host.display(), pid = proc.pid(), "FUSE driver still running after unmount; stopping it");
        }
        if let Err(e) = proc.stop(vmcraft_block::supervised::DEFAULT_GRACE) {
            tracing::warn!(mountpoint = %host.display(), error = %e, "FUSE driver not stopped");
        }
    }
}

/// Whether a FUSE filesystem is mounted at `path` in this thread's mount table.
fn fuse_mounted_at(path: &Path) -> bool {
    crate::state::own_mounts()
        .iter()
        .any(|m| m.mount_point == path && (m.fstype == "fuseblk" || m.fstype.starts_with("fuse")))
}

pub(crate) fn join_options(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a},{b}"),
    }
}

fn is_below(path: &str, parent: &str) -> bool {
    parent == "/" || path.starts_with(&format!("{parent}/"))
}

pub(crate) fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

/// Unmount `path`, retrying a few times while it is briefly busy (a FUSE daemon
/// still answering, a just-closed file) and until nothing is mounted there any
/// more; a path that is no longer a mount point counts as done.
pub(crate) fn umount_retrying(path: &Path) -> std::result::Result<(), nix::errno::Errno> {
    let mut delay = Duration::from_millis(5);
    let mut last = Ok(());
    for _ in 0..8 {
        match nix::mount::umount2(path, MntFlags::UMOUNT_NOFOLLOW) {
            // A driver can leave mounts stacked on one directory (ntfs-3g's
            // read-only fallback): unmount until nothing is left there.
            Ok(()) if is_mountpoint(path) => continue,
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EINVAL) if !is_mountpoint(path) => return Ok(()),
            Err(e @ nix::errno::Errno::EBUSY) => {
                last = Err(e);
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    last
}

/// Whether the filesystem mounted at `path` is read-only.
pub(crate) fn mounted_read_only(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

fn sync_fs(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        let _ = nix::unistd::syncfs(&f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_always_nosuid_nodev_and_split_flags_from_data() {
        let p = parse_options("mount", "/dev/sda1", "ro,noatime,norecovery,defaults").unwrap();
        assert!(p.readonly());
        assert!(
            p.flags
                .contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOATIME)
        );
        assert_eq!(p.data, ["norecovery"]);
        assert_eq!(p.to_option_string(), "ro,nosuid,nodev,noatime,norecovery");
        let p = parse_options("mount", "/dev/sda1", "ro,rw").unwrap();
        assert!(!p.readonly());
    }

    #[test]
    fn suid_and_dev_are_refused() {
        for bad in ["suid", "rw,dev"] {
            let e = parse_options("mount_options", "/dev/sda1", bad).unwrap_err();
            assert!(e.to_string().contains("is not allowed"), "{e}");
        }
    }

    #[test]
    fn mountpoints_are_normalised() {
        assert_eq!(
            normalize_mountpoint("m", "/boot//efi/").unwrap(),
            "/boot/efi"
        );
        assert_eq!(normalize_mountpoint("m", "/").unwrap(), "/");
        assert_eq!(normalize_mountpoint("m", "/./a").unwrap(), "/a");
        assert!(normalize_mountpoint("m", "boot").is_err());
        assert!(
            is_below("/boot/efi", "/boot")
                && is_below("/boot", "/")
                && !is_below("/bootx", "/boot")
        );
    }
}
