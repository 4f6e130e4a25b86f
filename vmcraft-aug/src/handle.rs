//! [`Augeas`]: the public handle with the libguestfs `aug_*` calls, its
//! [`InitOptions`], and [`IntBool`], the result of `aug_defnode`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::flags::AugFlags;
use crate::protocol::{Request, Value};
use crate::worker::Worker;

/// The result of [`Augeas::aug_defnode`], libguestfs's `int_bool` struct.
///
/// ```
/// use vmcraft_aug::IntBool;
/// let r = IntBool { i: 1, b: true };
/// assert_eq!((r.i, r.b), (1, true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IntBool {
    /// The number of nodes in the variable's node set.
    pub i: i32,
    /// Whether a node was created because the expression matched nothing.
    pub b: bool,
}

/// Options beyond libguestfs's `aug_init(root, flags)`.
///
/// ```
/// use vmcraft_aug::InitOptions;
/// let opts = InitOptions::new().loadpath("/opt/site/lenses").lenses(["Fstab", "Hosts"]);
/// assert_eq!(opts.loadpath_dirs().len(), 1);
/// assert_eq!(opts.lens_modules(), Some(&["Fstab".to_string(), "Hosts".to_string()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitOptions {
    loadpath: Vec<PathBuf>,
    lenses: Option<Vec<String>>,
}

impl InitOptions {
    /// No extra options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also load lens modules from this host directory (searched before the
    /// built-in load path, like `augtool -I`). Lenses always come from the host,
    /// never from the guest.
    pub fn loadpath(mut self, dir: impl Into<PathBuf>) -> Self {
        self.loadpath.push(dir.into());
        self
    }

    /// The extra lens directories.
    pub fn loadpath_dirs(&self) -> &[PathBuf] {
        &self.loadpath
    }

    /// Compile only these lens modules (`Fstab`, `Hosts`, ...; and the modules
    /// they use) instead of every module of the load path: opening then takes a
    /// few milliseconds rather than a few hundred. Nothing is autoloaded, as with
    /// [`AugFlags::NO_MODL_AUTOLOAD`](crate::AugFlags::NO_MODL_AUTOLOAD): say which
    /// files to parse with [`Augeas::aug_transform`] and then
    /// [`Augeas::aug_load`]. A transform naming any other module is refused, since
    /// lenses are only ever compiled on the host, before the handle is confined.
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use vmcraft_aug::{AugFlags, Augeas, InitOptions};
    /// let opts = InitOptions::new().lenses(["Fstab"]);
    /// let aug = Augeas::init_with(Path::new("/mnt/guest"), AugFlags::empty(), &opts)?;
    /// aug.aug_transform("Fstab", "/etc/fstab", false)?;
    /// aug.aug_load()?;
    /// aug.aug_set("/files/etc/fstab/1/opt[1]", "noatime")?;
    /// aug.aug_save()?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn lenses<S: Into<String>>(mut self, modules: impl IntoIterator<Item = S>) -> Self {
        self.lenses
            .get_or_insert_with(Vec::new)
            .extend(modules.into_iter().map(Into::into));
        self
    }

    /// The lens modules named with [`InitOptions::lenses`], if any were.
    pub fn lens_modules(&self) -> Option<&[String]> {
        self.lenses.as_deref()
    }

    /// Check the named modules before any worker is started.
    fn check_lenses(&self) -> Result<()> {
        match &self.lenses {
            Some(l) if l.is_empty() => Err(Error::new(
                ErrorKind::InvalidArgument,
                "aug_init",
                "",
                "InitOptions::lenses was given no module",
            )),
            Some(l) => match l.iter().find(|m| !crate::lenses::valid_module_name(m)) {
                Some(bad) => Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "aug_init",
                    bad,
                    "not a lens module name (a letter, then letters, digits or '_': Fstab, Hosts)",
                )),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    fn joined(&self) -> Result<String> {
        let mut parts = Vec::with_capacity(self.loadpath.len());
        for dir in &self.loadpath {
            let s = dir
                .to_str()
                .filter(|s| !s.contains(':') && !s.contains('\0'));
            match s {
                Some(s) => parts.push(s.to_string()),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "aug_init",
                        dir.display().to_string(),
                        "a lens directory must be UTF-8 without ':' or NUL",
                    ));
                }
            }
        }
        Ok(parts.join(":"))
    }
}

/// An Augeas handle confined to a guest root, with libguestfs's `aug_*` calls.
///
/// The Augeas handle itself lives in a worker process of its own that has
/// `chroot`ed into the guest root (after loading the lenses from the host),
/// dropped its privileges and runs under resource limits, so no guest symlink
/// can lead Augeas to a host file and no crash of Augeas can take the caller
/// down (see the [crate docs](crate#confinement-a-worker-process-per-handle)).
/// Every call is synchronous: it sends the request to the worker and waits.
///
/// `Augeas` is `Send + Sync`; calls are serialised. [`Augeas::default`] is a
/// handle with nothing open, on which every call fails with
/// [`ErrorKind::NotInitialised`] until [`Augeas::aug_init`]. Dropping the handle
/// closes Augeas and ends the worker. The worker is confined to a copy of the
/// guest's mounts made when the handle opens: mount the guest's filesystems
/// before, and close the handle before unmounting them (one unmounted while
/// the handle is open stays mounted in the worker, its device in use, until
/// the handle closes). It holds no other mount of the host.
///
/// If the worker dies, the call that was running fails with
/// [`ErrorKind::WorkerCrashed`], and so does every later call: the handle
/// still counts as open ([`Augeas::is_open`]) until [`Augeas::aug_close`] or
/// [`Augeas::aug_init`] replaces it.
///
/// Requires root (`CAP_SYS_CHROOT`; and `CAP_SYS_ADMIN`, without which the
/// guest must be mounted `nodev`). A guest root with a kernel filesystem
/// (`proc`, `sysfs`, `devtmpfs`, ...) mounted inside it is refused
/// ([`ErrorKind::UnsafeRoot`]), and so is the host's own `/`
/// ([`ErrorKind::InvalidArgument`]): libguestfs scripts say `aug_init "/"`
/// meaning the guest's root, which here must be the guest's mount directory.
///
/// ```no_run
/// use std::path::Path;
/// use vmcraft_aug::{AugFlags, Augeas};
/// let aug = Augeas::init(Path::new("/mnt/guest"), AugFlags::empty())?;
/// let ip = aug.aug_get("/files/etc/hosts/1/ipaddr")?;
/// aug.aug_set("/files/etc/ssh/sshd_config/PermitRootLogin", "no")?;
/// aug.aug_save()?;
/// # Ok::<(), vmcraft_aug::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Augeas {
    worker: Mutex<Option<Worker>>,
}

impl Augeas {
    /// Open Augeas on the guest tree at `root` (a host directory, typically
    /// where the guest's filesystems are mounted), confined to it.
    ///
    /// Unless `flags` has `NO_LOAD` or `NO_MODL_AUTOLOAD`, every file a lens
    /// autoloads is parsed now. Loading the lenses takes a few hundred
    /// milliseconds whatever the flags (see [`AugFlags::NO_MODL_AUTOLOAD`]);
    /// [`InitOptions::lenses`] compiles only the modules a caller needs.
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use vmcraft_aug::{AugFlags, Augeas};
    /// let aug = Augeas::init(Path::new("/mnt/guest"), AugFlags::SAVE_BACKUP)?;
    /// assert!(aug.is_open());
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn init(root: &Path, flags: AugFlags) -> Result<Augeas> {
        Self::init_with(root, flags, &InitOptions::default())
    }

    /// [`Augeas::init`] with [`InitOptions`].
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use vmcraft_aug::{AugFlags, Augeas, InitOptions};
    /// let opts = InitOptions::new().loadpath("/opt/site/lenses");
    /// let aug = Augeas::init_with(Path::new("/mnt/guest"), AugFlags::empty(), &opts)?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn init_with(root: &Path, flags: AugFlags, options: &InitOptions) -> Result<Augeas> {
        let aug = Augeas::default();
        aug.aug_init_with(root, flags, options)?;
        Ok(aug)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Worker>> {
        self.worker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// (Re)open Augeas on `root`: the handle open before, if any, is closed
    /// first, and stays closed if the new one fails to open (libguestfs's
    /// `aug_init`).
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use vmcraft_aug::{AugFlags, Augeas};
    /// let aug = Augeas::default();
    /// aug.aug_init(Path::new("/mnt/guest"), AugFlags::NO_LOAD)?;
    /// aug.aug_init(Path::new("/mnt/other"), AugFlags::empty())?; // closes the first
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_init(&self, root: &Path, flags: AugFlags) -> Result<()> {
        self.aug_init_with(root, flags, &InitOptions::default())
    }

    /// [`Augeas::aug_init`] with [`InitOptions`].
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use vmcraft_aug::{AugFlags, Augeas, InitOptions};
    /// let aug = Augeas::default();
    /// aug.aug_init_with(Path::new("/mnt/guest"), AugFlags::empty(), &InitOptions::new())?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_init_with(&self, root: &Path, flags: AugFlags, options: &InitOptions) -> Result<()> {
        // As libguestfs: the handle open before is closed first, whatever follows.
        let mut guard = self.lock();
        drop(guard.take());
        options.check_lenses()?;
        let loadpath = options.joined()?;
        *guard = Some(Worker::start(
            root,
            flags,
            loadpath,
            options.lenses.clone(),
        )?);
        Ok(())
    }

    /// Close the handle (libguestfs's `aug_close`); an error if none is open.
    ///
    /// ```
    /// use vmcraft_aug::{Augeas, ErrorKind};
    /// let aug = Augeas::default();
    /// assert_eq!(aug.aug_close().unwrap_err().kind(), ErrorKind::NotInitialised);
    /// ```
    pub fn aug_close(&self) -> Result<()> {
        match self.lock().take() {
            Some(worker) => {
                drop(worker);
                Ok(())
            }
            None => Err(Error::not_initialised("aug_close")),
        }
    }

    /// Whether a handle is open (also after its worker died: see
    /// [`ErrorKind::WorkerCrashed`]).
    ///
    /// ```
    /// assert!(!vmcraft_aug::Augeas::default().is_open());
    /// ```
    pub fn is_open(&self) -> bool {
        self.lock().is_some()
    }

    /// The (canonical) guest root of the open handle.
    ///
    /// ```
    /// assert_eq!(vmcraft_aug::Augeas::default().root(), None);
    /// ```
    pub fn root(&self) -> Option<PathBuf> {
        self.lock().as_ref().map(|w| w.root().to_path_buf())
    }

    /// The flags the open handle was initialised with.
    ///
    /// ```
    /// assert_eq!(vmcraft_aug::Augeas::default().flags(), None);
    /// ```
    pub fn flags(&self) -> Option<AugFlags> {
        self.lock().as_ref().map(|w| w.flags())
    }

    /// The pid of the worker process of the open handle, while it lives (for
    /// tests and diagnostics).
    #[doc(hidden)]
    pub fn worker_pid(&self) -> Option<u32> {
        self.lock().as_ref().and_then(Worker::pid)
    }

    /// Send `req` to the worker and wait for its answer.
    fn call(&self, req: Request<'_>) -> Result<Value> {
        let mut guard = self.lock();
        let worker = guard
            .as_mut()
            .ok_or_else(|| Error::not_initialised(req.call()))?;
        worker.call(&req)
    }

    /// The value of the single node matching `path`.
    ///
    /// Errors: no node matches ([`ErrorKind::NoMatch`], naming the file's parse
    /// failure when that is why), several match
    /// ([`ErrorKind::TooManyMatches`]), the node has no value
    /// ([`ErrorKind::NoValue`]).
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// let ip = aug.aug_get("/files/etc/hosts/*[canonical = 'localhost']/ipaddr")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_get(&self, path: &str) -> Result<String> {
        self.call(Request::Get(path.into()))?.text("aug_get")
    }

    /// Set the value of the node matching `path`, creating it (and missing
    /// ancestors) if the path allows. More than one match is an error.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// aug.aug_set("/files/etc/ssh/sshd_config/PermitRootLogin", "no")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_set(&self, path: &str, val: &str) -> Result<()> {
        self.call(Request::Set(path.into(), val.into()))?
            .unit("aug_set")
    }

    /// Set the value of the node matching `path` to nothing (NULL).
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// aug.aug_clear("/files/etc/default/grub/GRUB_CMDLINE_LINUX")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_clear(&self, path: &str) -> Result<()> {
        self.call(Request::Clear(path.into()))?.unit("aug_clear")
    }

    /// Set the value of many nodes at once: for each node matching `base`, the
    /// node matching `sub` below it (created if needed; `None` means the base
    /// node itself). Returns how many nodes were changed.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// let n = aug.aug_setm("/files/etc/fstab/*[vfstype = 'xfs']", Some("passno"), "2")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_setm(&self, base: &str, sub: Option<&str>, val: &str) -> Result<usize> {
        self.call(Request::Setm(base.into(), sub.map(Into::into), val.into()))?
            .count("aug_setm")
    }

    /// Insert a sibling node labelled `label` before (`before = true`) or after
    /// the single node matching `path`. The label must be plain: no `/`, no
    /// `*`, no trailing `[N]` ([`ErrorKind::InvalidArgument`] otherwise, before
    /// Augeas is asked).
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// aug.aug_insert("/files/etc/hosts/1", "3", false)?;
    /// aug.aug_set("/files/etc/hosts/3/ipaddr", "192.0.2.9")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_insert(&self, path: &str, label: &str, before: bool) -> Result<()> {
        self.call(Request::Insert(path.into(), label.into(), before))?
            .unit("aug_insert")
    }

    /// Remove every node matching `path` and their descendants; returns how many
    /// nodes were removed.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// let removed = aug.aug_rm("/files/etc/fstab/*[file = '/mnt/old']")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_rm(&self, path: &str) -> Result<usize> {
        self.call(Request::Rm(path.into()))?.count("aug_rm")
    }

    /// Move the single node matching `src` to `dest`, which must match one node
    /// or none (then it is created).
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// aug.aug_mv("/files/etc/hosts/2", "/files/etc/hosts/5")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_mv(&self, src: &str, dest: &str) -> Result<()> {
        self.call(Request::Mv(src.into(), dest.into()))?
            .unit("aug_mv")
    }

    /// The fully qualified paths of every node matching `path`, in document
    /// order (empty when nothing matches).
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// for entry in aug.aug_match("/files/etc/fstab/*[vfstype = 'ext4']")? {
    ///     println!("{entry}");
    /// }
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_match(&self, path: &str) -> Result<Vec<String>> {
        self.call(Request::Match(path.into()))?.list("aug_match")
    }

    /// The children of `path`, sorted (libguestfs's `aug_ls`: `aug_match` of
    /// `path/*`). A path ending in `/`, `]` or `*` is refused.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// let entries = aug.aug_ls("/files/etc/hosts")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_ls(&self, path: &str) -> Result<Vec<String>> {
        self.call(Request::Ls(path.into()))?.list("aug_ls")
    }

    /// The label of the single node matching `path`.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// assert_eq!(aug.aug_label("/files/etc/hosts/1/ipaddr")?, "ipaddr");
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_label(&self, path: &str) -> Result<String> {
        self.call(Request::Label(path.into()))?.text("aug_label")
    }

    /// Define the variable `name` (used as `$name` in later paths) as the result
    /// of `expr`, or undefine it when `expr` is `None`. Returns the number of
    /// nodes in the node set, or 0 when `expr` is not a node set.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// let n = aug.aug_defvar("hosts", Some("/files/etc/hosts/*"))?;
    /// let first = aug.aug_get("$hosts[1]/ipaddr")?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_defvar(&self, name: &str, expr: Option<&str>) -> Result<usize> {
        self.call(Request::Defvar(name.into(), expr.map(Into::into)))?
            .count("aug_defvar")
    }

    /// Define the variable `name` as the node set of `expr`, creating a node
    /// with value `val` when `expr` matches nothing. Returns the number of
    /// nodes (`i`) and whether one was created (`b`).
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// let r = aug.aug_defnode("root", "/files/etc/fstab/*[file = '/']", "")?;
    /// assert_eq!((r.i, r.b), (1, false));
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_defnode(&self, name: &str, expr: &str, val: &str) -> Result<IntBool> {
        self.call(Request::Defnode(name.into(), expr.into(), val.into()))?
            .int_bool("aug_defnode")
    }

    /// Load (again) every file the transforms under `/augeas/load` name,
    /// discarding unsaved changes. Parse failures do not make this fail: they
    /// are recorded under `/augeas//error`.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), vmcraft_aug::AugFlags::NO_LOAD)?;
    /// aug.aug_load()?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_load(&self) -> Result<()> {
        self.call(Request::Load)?.unit("aug_load")
    }

    /// Write every changed file back, as the `SAVE_*` flags say. On failure the
    /// error ([`ErrorKind::SaveFailed`]) names each file that could not be
    /// written and Augeas's reason (from `/augeas//error`), e.g.
    /// `aug_save: /etc/fstab: Failed to match tree under /files/etc/fstab/1`;
    /// those files are left as they were. As in Augeas, a failed save still
    /// marks the tree clean: a later `aug_save` writes only what changes after
    /// it.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), Default::default())?;
    /// aug.aug_set("/files/etc/hostname/hostname", "guest1")?;
    /// aug.aug_save()?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_save(&self) -> Result<()> {
        let r = self.call(Request::Save).and_then(|v| v.unit("aug_save"));
        if let Err(e) = &r {
            tracing::debug!(error = %e, "aug_save failed");
        }
        r
    }

    /// Add (or, with `remove`, exclude) `file` to the files `lens` handles; the
    /// lens is a module name (`"Hosts"`) or a full lens name (`"Hosts.lns"`).
    /// Takes effect at the next `aug_load`.
    ///
    /// ```no_run
    /// # let aug = vmcraft_aug::Augeas::init(std::path::Path::new("/mnt/guest"), vmcraft_aug::AugFlags::NO_MODL_AUTOLOAD)?;
    /// aug.aug_transform("Hosts", "/etc/hosts.local", false)?;
    /// aug.aug_load()?;
    /// # Ok::<(), vmcraft_aug::Error>(())
    /// ```
    pub fn aug_transform(&self, lens: &str, file: &str, remove: bool) -> Result<()> {
        self.call(Request::Transform(lens.into(), file.into(), remove))?
            .unit("aug_transform")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_handle_is_send_and_sync() {
        assert_send_sync::<Augeas>();
        assert_send_sync::<Error>();
    }

    #[test]
    fn every_call_needs_an_open_handle() {
        let aug = Augeas::default();
        let results: Vec<(&str, Result<()>)> = vec![
            ("aug_get", aug.aug_get("/a").map(drop)),
            ("aug_set", aug.aug_set("/a", "b")),
            ("aug_clear", aug.aug_clear("/a")),
            ("aug_setm", aug.aug_setm("/a", None, "b").map(drop)),
            ("aug_insert", aug.aug_insert("/a", "b", true)),
            ("aug_rm", aug.aug_rm("/a").map(drop)),
            ("aug_mv", aug.aug_mv("/a", "/b")),
            ("aug_match", aug.aug_match("/a").map(drop)),
            ("aug_ls", aug.aug_ls("/a").map(drop)),
            ("aug_label", aug.aug_label("/a").map(drop)),
            ("aug_defvar", aug.aug_defvar("a", None).map(drop)),
            ("aug_defnode", aug.aug_defnode("a", "/a", "").map(drop)),
            ("aug_load", aug.aug_load()),
            ("aug_save", aug.aug_save()),
            ("aug_transform", aug.aug_transform("Hosts", "/a", false)),
            ("aug_close", aug.aug_close()),
        ];
        for (call, r) in results {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotInitialised, "{call}");
            assert_eq!(e.call(), call);
            assert_eq!(
                e.to_string(),
                format!("{call}: you must call aug_init first to initialize augeas")
            );
        }
        assert!(!aug.is_open());
    }

    #[test]
    fn loadpath_is_checked() {
        let ok = InitOptions::new().loadpath("/a").loadpath("/b");
        assert_eq!(ok.joined().unwrap(), "/a:/b");
        let bad = InitOptions::new().loadpath("/a:b");
        let e = bad.joined().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "aug_init: /a:b: a lens directory must be UTF-8 without ':' or NUL"
        );
    }

    #[test]
    fn the_host_root_is_refused() {
        for root in ["/", "/.", "/etc/.."] {
            let e = Augeas::init(Path::new(root), AugFlags::empty()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(
                e.to_string(),
                format!(
                    "aug_init: {root} (flags 0): refusing the host's own root: \
                     pass the directory where the guest is mounted"
                )
            );
        }
    }

    #[test]
    fn a_missing_root_is_refused_before_any_worker_starts() {
        let e = Augeas::init(
            Path::new("/nonexistent/vmcraft-aug-root"),
            AugFlags::empty(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            e.to_string(),
            "aug_init: /nonexistent/vmcraft-aug-root (flags 0): cannot resolve the guest root"
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        let e = Augeas::init(file.path(), AugFlags::NO_LOAD).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.to_string()
                .ends_with("(flags 32): the guest root is not a directory"),
            "{e}"
        );
    }
}
