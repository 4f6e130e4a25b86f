//! The guest tree on a host directory, with libguestfs's calls: `mount_local`,
//! `mount_local_run`, `umount_local`. libguestfs serves its appliance's tree
//! over FUSE; VMCraft's guest tree is already mounted on the host (privately,
//! under the session directory), so `mount_local` bind-mounts it, submounts
//! included, onto the caller's directory: `nosuid,nodev` always (a guest's
//! set-id programs and device nodes mean nothing on the host), read-only when
//! asked. `mount_local_run` waits, as libguestfs's FUSE loop does, until
//! `umount_local` (from another thread) or an unmount from outside ends it.
//!
//! The directory is checked (an existing empty directory, not `/`, not a
//! mount point, not the session's) and mounted on through a descriptor opened
//! without following symlinks, so a path changed meanwhile cannot redirect the
//! mount. The copy is private: guest mounts made later do not show in it, and
//! host mounts under it do not reach the guest tree; `umount` of a guest
//! filesystem is refused while it exists. It is visible in the calling
//! process's mount namespace (the host's for a library caller; the `vmcraft`
//! command runs in a private one, where its own `!` shell commands see it). It
//! is recorded in the session's state file, so that the reaper removes it after
//! a crash (only if what is mounted there is still the recorded mount), and
//! `umount_all` and `shutdown` remove it first, so that the guest's
//! filesystems can go; in use on the host, it is not pulled away (busy).

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, ErrorKind, Result};
use crate::session::{VMCraft, lock};

/// Optional arguments of [`VMCraft::mount_local`], libguestfs's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountLocalOpts {
    /// Mount read-only.
    pub readonly: bool,
    /// FUSE mount options in libguestfs; here the ones that mean nothing for a
    /// bind mount (`allow_other`, `allow_root`, `default_permissions`) are
    /// accepted, any other refused.
    pub options: Option<String>,
    /// FUSE's attribute cache timeout in libguestfs: no cache here, no effect.
    pub cachetimeout: Option<i32>,
    /// libguestfs's FUSE call tracing: no effect.
    pub debugcalls: bool,
}

/// FUSE options `mount_local` accepts (a bind mount already behaves so).
const FUSE_OPTIONS: &[&str] = &["allow_other", "allow_root", "default_permissions"];

/// How often `mount_local_run` looks whether the mount went from outside.
const RUN_POLL: Duration = Duration::from_millis(200);

impl VMCraft {
    /// Make the guest tree (what is mounted on `/` and under it) visible at the
    /// host directory `localmountpoint` (`mount_local`), an existing empty
    /// directory outside the session's. One at a time.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.mount_local("/mnt/guest", &Default::default())?;
    /// let text = std::fs::read_to_string("/mnt/guest/etc/hostname")?;
    /// g.umount_local(false)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_local(&self, localmountpoint: &str, opts: &MountLocalOpts) -> Result<()> {
        const CALL: &str = "mount_local";
        if let Some(o) = &opts.options {
            for word in o.split(',').filter(|w| !w.is_empty()) {
                if !FUSE_OPTIONS.contains(&word) {
                    return Err(Error::invalid(
                        CALL,
                        word,
                        format!(
                            "not an option a bind mount takes (accepted: {})",
                            FUSE_OPTIONS.join(", ")
                        ),
                    ));
                }
            }
        }
        let target = self.local_target(CALL, localmountpoint)?;
        let mut slot = lock(&self.local_mount);
        if let Some(p) = slot.as_ref() {
            return Err(Error::call(
                ErrorKind::Busy,
                CALL,
                localmountpoint,
                format!("the guest is mounted locally on {} already", p.display()),
            ));
        }
        let root = self.mountpoint_host_path("/").map_err(|_| {
            Error::call(
                ErrorKind::Mount,
                CALL,
                localmountpoint,
                "nothing is mounted on / of the guest",
            )
        })?;
        let io = |what: &str, e: nix::errno::Errno| {
            Error::call_with_source(
                ErrorKind::Mount,
                CALL,
                target.display(),
                what.to_string(),
                std::io::Error::from(e),
            )
        };
        // Mounted through a descriptor of the directory checked above (opened
        // without following a symlink), never by its path again: a parent
        // directory changed meanwhile cannot redirect the mount elsewhere.
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&target)
            .map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Mount,
                    CALL,
                    target.display(),
                    "opening the directory",
                    e,
                )
            })?;
        let same = {
            use std::os::unix::fs::MetadataExt;
            let (a, b) = (dir.metadata(), std::fs::symlink_metadata(&target));
            matches!((a, b), (Ok(a), Ok(b)) if a.dev() == b.dev() && a.ino() == b.ino())
        };
        if !same {
            return Err(Error::call(
                ErrorKind::Busy,
                CALL,
                target.display(),
                "the directory changed while it was being mounted on",
            ));
        }
        let via = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        nix::mount::mount(
            Some(&root),
            &via,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| io("bind-mounting the guest tree", e))?;
        drop(dir);
        // A copy of its own: what is mounted in the guest tree later does not
        // show through it (unlocked, writable), and nothing mounted under it on
        // the host reaches the guest tree.
        if let Err(e) = nix::mount::mount(
            None::<&str>,
            &target,
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ) {
            let _ = nix::mount::umount2(&target, MntFlags::MNT_DETACH);
            return Err(io("making the local mount private", e));
        }
        let mut flags =
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        if opts.readonly {
            flags |= MsFlags::MS_RDONLY;
        }
        // The flags go on each mount of the copy: the root's and the guest's
        // submounts' (a read-only local mount of a writable /boot is read-only).
        let mut points: Vec<PathBuf> = crate::state::own_mounts()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|p| p.starts_with(&target))
            .collect();
        points.dedup();
        for p in &points {
            if let Err(e) = nix::mount::mount(None::<&str>, p, None::<&str>, flags, None::<&str>) {
                let _ = nix::mount::umount2(&target, MntFlags::MNT_DETACH);
                return Err(io("making the local mount nosuid,nodev", e));
            }
        }
        self.record_local_mount(&target);
        tracing::info!(local = %target.display(), guest = %root.display(), readonly = opts.readonly, "guest tree mounted locally");
        *slot = Some(target);
        Ok(())
    }

    /// Wait until the local mount [`VMCraft::mount_local`] made goes
    /// (`mount_local_run`): [`VMCraft::umount_local`] from another thread, or
    /// an unmount from outside (`umount DIR`); the handle's cancel token ends
    /// the wait with an error (the mount stays). libguestfs serves its FUSE
    /// requests here; VMCraft has none to serve and only waits.
    ///
    /// ```no_run
    /// # let g = std::sync::Arc::new(vmcraft::VMCraft::new());
    /// g.mount_local("/mnt/guest", &Default::default())?;
    /// let h = { let g = g.clone(); std::thread::spawn(move || g.mount_local_run()) };
    /// // ... use /mnt/guest ...
    /// g.umount_local(false)?;
    /// h.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_local_run(&self) -> Result<()> {
        const CALL: &str = "mount_local_run";
        let mut slot = lock(&self.local_mount);
        let Some(target) = slot.clone() else {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                "",
                "call mount_local first",
            ));
        };
        let cancel = self.cancel_token();
        loop {
            if slot.as_ref() != Some(&target) {
                return Ok(());
            }
            // Interrupted (the command line's ^C): the mount stays until
            // umount_local, umount_all or shutdown.
            cancel.check(CALL, target.display(), "cancelled; the local mount stays")?;
            if !is_mount_point(&target) {
                // Unmounted from outside: nothing left to undo.
                *slot = None;
                drop(slot);
                self.record_local_unmount(&target);
                self.local_done.notify_all();
                return Ok(());
            }
            slot = self
                .local_done
                .wait_timeout(slot, RUN_POLL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Remove the local mount (`umount_local`), submounts first, and end
    /// [`VMCraft::mount_local_run`]. A mount in use on the host (a process
    /// with a file open or its working directory there) is not pulled away:
    /// the call fails as busy and the mount stays, as libguestfs's does;
    /// `retry` tries again for a few seconds first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn umount_local(&self, retry: bool) -> Result<()> {
        const CALL: &str = "umount_local";
        let mut slot = lock(&self.local_mount);
        if slot.is_none() {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                "",
                "nothing is mounted locally (call mount_local first)",
            ));
        }
        self.unmount_local_slot(CALL, &mut slot, retry)
    }

    /// Unmount the local mount in `slot` (locked by the caller) and clear it.
    fn unmount_local_slot(
        &self,
        call: &str,
        slot: &mut std::sync::MutexGuard<'_, Option<PathBuf>>,
        retry: bool,
    ) -> Result<()> {
        let Some(target) = slot.clone() else {
            return Ok(());
        };
        // Deepest first; each one plainly (a lazy detach would let a busy
        // mount outlive the guest's devices).
        let mut points: Vec<PathBuf> = crate::state::own_mounts()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|p| p.starts_with(&target))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        let tries = if retry { 25 } else { 1 };
        for p in &points {
            let mut n = 0;
            loop {
                match nix::mount::umount2(p, MntFlags::UMOUNT_NOFOLLOW) {
                    Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => break,
                    Err(nix::errno::Errno::EBUSY) if n + 1 < tries => {
                        n += 1;
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(e) => {
                        return Err(Error::call_with_source(
                            if e == nix::errno::Errno::EBUSY {
                                ErrorKind::Busy
                            } else {
                                ErrorKind::Mount
                            },
                            call,
                            p.display(),
                            "unmounting the local mount (in use on the host?)",
                            std::io::Error::from(e),
                        ));
                    }
                }
            }
        }
        **slot = None;
        self.record_local_unmount(&target);
        self.local_done.notify_all();
        Ok(())
    }

    /// `localmountpoint` as an absolute, resolved host directory that is empty,
    /// not `/`, not a mount point already and not inside the session's
    /// directory.
    fn local_target(&self, call: &str, localmountpoint: &str) -> Result<PathBuf> {
        let bad = |why: &str| Error::invalid(call, localmountpoint, why.to_string());
        let target = std::fs::canonicalize(localmountpoint)
            .map_err(|e| bad(&format!("cannot be resolved ({e})")))?;
        if !target.is_dir() {
            return Err(bad("not a directory"));
        }
        if target == Path::new("/") {
            return Err(bad("not the host's root"));
        }
        let nonempty = std::fs::read_dir(&target)
            .map_err(|e| bad(&format!("cannot be read ({e})")))?
            .next()
            .is_some();
        if nonempty {
            return Err(bad("not an empty directory"));
        }
        if is_mount_point(&target) {
            return Err(bad("a mount point already"));
        }
        if let Some(dir) = lock(&self.session_dir).as_ref()
            && let Ok(dir) = std::fs::canonicalize(dir)
            && (target.starts_with(&dir) || dir.starts_with(&target))
        {
            return Err(bad("inside the session's own directory"));
        }
        Ok(target)
    }

    /// Remove the local mount if there is one (for `umount_all` and
    /// `shutdown`: the guest's filesystems cannot go while it holds them).
    pub(crate) fn drop_local_mount(&self) -> Result<()> {
        let mut slot = lock(&self.local_mount);
        self.unmount_local_slot("umount_local", &mut slot, false)
    }

    /// Refuse to change the guest tree's mounts under a local mount (its copy
    /// would keep an unmounted filesystem alive).
    pub(crate) fn refuse_under_local_mount(&self, call: &str, subject: &str) -> Result<()> {
        match lock(&self.local_mount).as_ref() {
            Some(p) => Err(Error::call(
                ErrorKind::Busy,
                call,
                subject,
                format!(
                    "the guest tree is mounted locally on {} (umount_local first)",
                    p.display()
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Whether `path` is a mount point in this process's namespace.
fn is_mount_point(path: &Path) -> bool {
    crate::state::own_mounts()
        .iter()
        .any(|m| m.mount_point == path)
}
