//! Augeas on the mounted guest tree (vmcraft-aug): `aug_init(root, flags)` with
//! `root` a guest path resolved inside the guest tree, then the `aug_*` calls on
//! the open handle. The handle's worker process is confined (chroot) to the
//! guest root, so it is closed before the filesystem under it is unmounted.

use std::os::fd::AsRawFd;
use std::path::Path;

use vmcraft_aug::{AugFlags, Augeas, InitOptions, IntBool};

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

macro_rules! aug_call {
    ($($(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty;)*) => {$(
        $(#[$doc])*
        #[tracing::instrument(level = "debug", skip_all)]
        pub fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
            self.with_aug(stringify!($name), |a| Ok(a.$name($($arg),*)?))
        }
    )*};
}

impl VMCraft {
    fn with_aug<T>(&self, call: &str, f: impl FnOnce(&Augeas) -> Result<T>) -> Result<T> {
        let g = self.aug.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            Some(a) if a.is_open() => f(a),
            _ => Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                "",
                "Augeas is not open (call aug_init first)",
            )),
        }
    }

    /// Open Augeas on the guest tree at `root` (usually `/`) with libguestfs's flag
    /// bits (`aug_init`); a handle already open is closed first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn aug_init(&self, root: &str, flags: i32) -> Result<()> {
        self.aug_init_with(root, flags, &InitOptions::default())
    }

    /// [`VMCraft::aug_init`] with [`InitOptions`]: extra lens directories, or only
    /// the lens modules a caller needs (a few milliseconds to open rather than a few
    /// hundred).
    ///
    /// ```no_run
    /// use vmcraft::aug::InitOptions;
    /// # let g = vmcraft::VMCraft::new();
    /// g.aug_init_with("/", 0, &InitOptions::new().lenses(["Fstab"]))?;
    /// g.aug_transform("Fstab", "/etc/fstab", false)?;
    /// g.aug_load()?;
    /// let root_fs = g.aug_get("/files/etc/fstab/*[file = '/']/vfstype")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn aug_init_with(&self, root: &str, flags: i32, options: &InitOptions) -> Result<()> {
        let flags = AugFlags::from_bits(flags as u32).ok_or_else(|| {
            Error::invalid("aug_init", root, format!("unknown flag bits in {flags}"))
        })?;
        let groot = self.guest_root_for("aug_init")?;
        let fd = groot.resolve(root, true)?;
        let host =
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, "aug_init", root, "cannot resolve", e)
            })?;
        drop(fd);
        let mut g = self.aug.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = g.take() {
            let _ = old.aug_close();
        }
        *g = Some(Augeas::init_with(&host, flags, options)?);
        Ok(())
    }

    /// Close Augeas (`aug_close`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn aug_close(&self) -> Result<()> {
        let a = self.aug.lock().unwrap_or_else(|e| e.into_inner()).take();
        match a {
            Some(a) => Ok(a.aug_close()?),
            None => Err(Error::call(
                ErrorKind::InvalidArgument,
                "aug_close",
                "",
                "Augeas is not open (call aug_init first)",
            )),
        }
    }

    /// Close the Augeas handle before the filesystem mounted at `host` is
    /// unmounted, if its worker holds that filesystem: the handle's root is on it,
    /// or it is mounted below the root (the worker works on a copy of the mounts
    /// under its root, made when it was opened).
    pub(crate) fn close_augeas_if_under(&self, host: &Path) {
        let mut g = self.aug.lock().unwrap_or_else(|e| e.into_inner());
        // Above the root: the worker's root goes away. Below it: the worker's copy
        // of the guest's mounts holds that filesystem, which would stay alive (and
        // its device in use) after the host unmounts it.
        if g.as_ref()
            .and_then(|a| a.root())
            .is_some_and(|r| r.starts_with(host) || host.starts_with(r))
            && let Some(a) = g.take()
        {
            tracing::info!("closing Augeas before unmounting a filesystem its worker holds");
            let _ = a.aug_close();
        }
    }

    aug_call! {
        /// The value at a path (`aug_get`).
        aug_get(path: &str) -> String;
        /// Set a value (`aug_set`).
        aug_set(path: &str, val: &str) -> ();
        /// Clear a value (`aug_clear`).
        aug_clear(path: &str) -> ();
        /// Insert a sibling `label` before or after `path` (`aug_insert`).
        aug_insert(path: &str, label: &str, before: bool) -> ();
        /// Remove matching nodes; returns how many (`aug_rm`).
        aug_rm(path: &str) -> usize;
        /// Move a node (`aug_mv`).
        aug_mv(src: &str, dest: &str) -> ();
        /// Matching paths (`aug_match`).
        aug_match(path: &str) -> Vec<String>;
        /// Children, sorted (`aug_ls`).
        aug_ls(path: &str) -> Vec<String>;
        /// A node's label (`aug_label`).
        aug_label(path: &str) -> String;
        /// Define a node-set variable; returns its size (`aug_defvar`).
        aug_defvar(name: &str, expr: Option<&str>) -> usize;
        /// Define a variable, creating the node if nothing matches (`aug_defnode`).
        aug_defnode(name: &str, expr: &str, val: &str) -> IntBool;
        /// (Re)load the files (`aug_load`).
        aug_load() -> ();
        /// Write changes back (`aug_save`).
        aug_save() -> ();
        /// Add or remove a lens/file pairing (`aug_transform`).
        aug_transform(lens: &str, file: &str, remove: bool) -> ();
    }

    /// Set every matching node (`aug_setm`); returns how many.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn aug_setm(&self, base: &str, sub: Option<&str>, val: &str) -> Result<usize> {
        self.with_aug("aug_setm", |a| Ok(a.aug_setm(base, sub, val)?))
    }
}
