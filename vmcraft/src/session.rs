//! The [`VMCraft`] handle: drives, launch, shutdown (also on drop and after a panic
//! in the caller), and the mapping from libguestfs device names to the host nodes
//! that back them.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use vmcraft_block::{BlockDevice, CommandRunner, device::Named};
use vmcraft_nbd::{AttachOptions, Attachment, Format};

use crate::cache::TtlCache;
use crate::config::{Config, ProgressEvent};
use crate::error::{Error, ErrorKind, Result};
use crate::inspect::InspectInfo;
use crate::mount::MountEntry;
use crate::names::{DeviceName, drive_name, format_device, parse_device};
use crate::probe::CachedProbe;

/// Options of [`VMCraft::add_drive_opts`], as libguestfs's `add_drive_opts`.
///
/// ```
/// use vmcraft::DriveOpts;
/// let opts = DriveOpts { format: Some("qcow2".parse().unwrap()), readonly: true, ..Default::default() };
/// assert!(opts.readonly);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriveOpts {
    /// The image format; detected from its magic bytes when `None`.
    pub format: Option<Format>,
    /// Attach read-only: nothing can write to the image.
    pub readonly: bool,
    /// Follow the image's backing chain (and a qcow2's external data file). Off
    /// by default, since a guest controls those names; when on, the format must be
    /// given and every backing file's format recorded in its child's header (see
    /// [`vmcraft_nbd::AttachOptions::allow_backing_file`]).
    pub allow_backing_file: bool,
    /// Follow a split VMDK's extent files, when they are plain files beside the
    /// descriptor and the format is given (see
    /// [`vmcraft_nbd::AttachOptions::allow_vmdk_extents`]). Off by default.
    pub allow_vmdk_extents: bool,
    /// A label for the drive, as libguestfs's `label` optional argument: 1 to
    /// [`crate::names::MAX_DISK_LABEL`] ASCII letters (`[a-zA-Z]`), unique in the
    /// session.
    /// [`VMCraft::list_disk_labels`] maps it to the drive's name, and
    /// [`VMCraft::remove_drive`] removes the drive by it (a drive without a
    /// label cannot be removed).
    pub label: Option<String>,
}

pub(crate) struct Drive {
    pub name: String,
    pub image: PathBuf,
    pub opts: DriveOpts,
    pub attachment: Option<Attachment>,
    /// A raw image opened as a file until a call needs its kernel device (see
    /// `lazy`).
    pub file: Option<vmcraft_block::ImageFile>,
    /// A read-only image read in-process until a call needs its kernel device
    /// (see `inproc`).
    pub inproc: Option<Arc<dyn vmcraft_fs::ReadAt>>,
    /// Whether `file` has writes not yet synced.
    pub dirty: std::sync::atomic::AtomicBool,
    /// Serialises table edits on this drive (read-modify-write of the table).
    pub edit: Arc<Mutex<()>>,
}

impl Drive {
    pub fn attachment(&self, call: &str) -> Result<&Attachment> {
        self.attachment.as_ref().ok_or_else(|| {
            Error::call(
                ErrorKind::NotLaunched,
                call,
                &self.name,
                "drive is not attached (call launch first)",
            )
        })
    }
}

/// The session's drives by index (`/dev/sda` is 0). A drive removed after
/// launch leaves a hole, so that the drives after it keep their names (as
/// libguestfs's hot-unplug did: `/dev/sdc` stays `/dev/sdc` when `/dev/sdb` goes);
/// before launch, removing a drive moves the later ones up. Every way in skips
/// holes: [`Drives::get`] answers `None` for one, [`Drives::iter`] and
/// [`Drives::indexed`] pass over them. There is deliberately no `len`: the number
/// of drives ([`Drives::count`]) and of slots ([`Drives::slots`]) differ once
/// there is a hole.
#[derive(Default)]
pub(crate) struct Drives {
    slots: Vec<Option<Drive>>,
}

impl Drives {
    /// Drive `i`, `None` for a hole or past the end.
    pub fn get(&self, i: usize) -> Option<&Drive> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    /// Drive `i`, mutably.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Drive> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    /// The drives, in index order, holes left out.
    pub fn iter(&self) -> impl Iterator<Item = &Drive> {
        self.slots.iter().flatten()
    }

    /// The drives, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Drive> {
        self.slots.iter_mut().flatten()
    }

    /// The drives with their indexes (what their names say), holes left out.
    pub fn indexed(&self) -> impl Iterator<Item = (usize, &Drive)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (i, d)))
    }

    /// How many drives there are (`nr_devices`).
    pub fn count(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// One past the highest index in use.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Whether there is no drive.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The index a new drive gets: the first hole, else the next after the last
    /// (libguestfs's hot-add filled a hole too).
    pub fn free_index(&self) -> usize {
        self.slots
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.slots.len())
    }

    /// Put `d` at `i` (a hole or the end).
    fn put(&mut self, i: usize, d: Drive) {
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        debug_assert!(self.slots[i].is_none(), "slot {i} is taken");
        self.slots[i] = Some(d);
    }

    /// Take drive `i` out, leaving a hole (holes at the end are dropped: the
    /// slots end at the last drive).
    fn take(&mut self, i: usize) -> Option<Drive> {
        let d = self.slots.get_mut(i)?.take();
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        d
    }

    /// Remove drive `i` and move the later ones up, renaming them (before
    /// launch, when no name has been used on a device yet).
    fn remove_and_close_up(&mut self, i: usize) -> Option<Drive> {
        self.get(i)?;
        let d = self.slots.remove(i);
        for (j, slot) in self.slots.iter_mut().enumerate().skip(i) {
            if let Some(later) = slot {
                later.name = drive_name(j);
            }
        }
        d
    }

    /// The index of the drive labelled `label`.
    pub fn find_label(&self, label: &str) -> Option<usize> {
        self.indexed()
            .find(|(_, d)| d.opts.label.as_deref() == Some(label))
            .map(|(i, _)| i)
    }
}

impl<'a> IntoIterator for &'a Drives {
    type Item = &'a Drive;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<Drive>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.iter().flatten()
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub drives: Drives,
    pub launched: bool,
    pub shut_down: bool,
}

/// A device name resolved to the host node behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical libguestfs name (`/dev/sda1`).
    pub name: String,
    /// The host node (`/dev/loop3p1`).
    pub host: PathBuf,
    /// What it is.
    pub what: DeviceName,
    /// Whether its drive was added read-only.
    pub readonly: bool,
}

/// A VMCraft session: drives attached as block devices, their filesystems mounted
/// under a private directory, and the libguestfs calls on them.
///
/// The handle is `Send + Sync`; its calls may be made from several threads.
/// Dropping it shuts the session down (unmount deepest first, LVM sessions closed,
/// drives detached, daemons stopped), also while a panic unwinds. If the process
/// is killed instead, the processes the session started die with it, and what the
/// kernel keeps (mounts in the caller's mount namespace, the loop devices under
/// them, dead FUSE mounts, the session directory) is recorded in the session's
/// [state file](crate::state) and undone by the next launch in the same temp
/// directory or by [`crate::cleanup_stale_sessions`].
///
/// ```no_run
/// use vmcraft::{VMCraft, DriveOpts};
/// let g = VMCraft::new();
/// g.add_drive_opts("guest.qcow2", DriveOpts { readonly: true, ..Default::default() })?;
/// g.launch()?;
/// for (dev, fstype) in g.list_filesystems()? {
///     println!("{dev}: {fstype}");
/// }
/// g.shutdown()?;
/// # Ok::<(), vmcraft::Error>(())
/// ```
pub struct VMCraft {
    pub(crate) config: Config,
    pub(crate) state: RwLock<State>,
    pub(crate) mounts: Mutex<Vec<MountEntry>>,
    /// What is mounted in-process (see [`crate::inproc`]), in mount order.
    pub(crate) inproc_mounts: Mutex<Vec<crate::inproc::InprocMount>>,
    /// Serialises the move of in-process mounts to the kernel with the
    /// calls that look at them (see [`crate::inproc`]).
    pub(crate) promotion: Mutex<()>,
    /// The partition tables of drives read in-process, read once: such a
    /// drive is read-only, so its table cannot change (see
    /// [`crate::inproc::PartTables`]).
    pub(crate) inproc_tables: crate::inproc::PartTables,
    pub(crate) partition_cache: TtlCache<String, Vec<String>>,
    pub(crate) probe_cache: TtlCache<String, Option<Arc<CachedProbe>>>,
    /// The session's LVs (`lvs`), cached like partition lists: lvm2 costs a
    /// process per question.
    pub(crate) lv_cache: TtlCache<(), Vec<String>>,
    pub(crate) lvm: Mutex<Option<vmcraft_lvm::Lvm>>,
    #[cfg(feature = "augeas")]
    pub(crate) aug: Mutex<Option<vmcraft_aug::Augeas>>,
    pub(crate) inspections: Mutex<HashMap<String, InspectInfo>>,
    pub(crate) session_dir: Mutex<Option<PathBuf>>,
    pub(crate) lv_windows: Mutex<HashMap<String, crate::lvaccess::LvWindow>>,
    /// What the `set_*` calls remembered (see [`crate::calls::settings`]).
    pub(crate) settings: Mutex<crate::calls::settings::Settings>,
    /// The session's state file (see [`crate::state`]).
    pub(crate) tracker: crate::state::Tracker,
    /// The FUSE drivers serving mounts, by host mount point.
    pub(crate) fuse: Mutex<HashMap<PathBuf, vmcraft_block::Supervised>>,
    /// The host directory `mount_local` mounted the guest tree on.
    pub(crate) local_mount: Mutex<Option<PathBuf>>,
    /// Signalled when the local mount goes (`mount_local_run` waits on it).
    pub(crate) local_done: std::sync::Condvar,
}

impl std::fmt::Debug for VMCraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.read_state();
        f.debug_struct("VMCraft")
            .field(
                "drives",
                &st.drives
                    .iter()
                    .map(|d| (&d.name, &d.image))
                    .collect::<Vec<_>>(),
            )
            .field("launched", &st.launched)
            .finish_non_exhaustive()
    }
}

impl Default for VMCraft {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl VMCraft {
    /// A handle with the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A handle with this configuration.
    pub fn with_config(config: Config) -> Self {
        VMCraft {
            partition_cache: TtlCache::new(config.partition_cache_ttl, config.clock.clone()),
            probe_cache: TtlCache::new(config.probe_cache_ttl, config.clock.clone()),
            lv_cache: TtlCache::new(config.partition_cache_ttl, config.clock.clone()),
            config,
            state: RwLock::new(State::default()),
            mounts: Mutex::new(Vec::new()),
            inproc_mounts: Mutex::new(Vec::new()),
            inproc_tables: Default::default(),
            promotion: Mutex::new(()),
            lvm: Mutex::new(None),
            #[cfg(feature = "augeas")]
            aug: Mutex::new(None),
            inspections: Mutex::new(HashMap::new()),
            session_dir: Mutex::new(None),
            lv_windows: Mutex::new(HashMap::new()),
            tracker: Default::default(),
            fuse: Mutex::new(HashMap::new()),
            settings: Mutex::new(Default::default()),
            local_mount: Mutex::new(None),
            local_done: std::sync::Condvar::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn runner(&self) -> &dyn CommandRunner {
        &*self.config.runner
    }

    pub(crate) fn progress(&self, call: &'static str, done: u64, total: u64) {
        if let Some(p) = &self.config.progress {
            p(&ProgressEvent { call, done, total });
        }
    }

    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn mounts(&self) -> MutexGuard<'_, Vec<MountEntry>> {
        lock(&self.mounts)
    }

    pub(crate) fn fuse_drivers(
        &self,
    ) -> MutexGuard<'_, HashMap<PathBuf, vmcraft_block::Supervised>> {
        lock(&self.fuse)
    }

    /// Add a disk image. Before [`VMCraft::launch`] it is attached at launch; after,
    /// at once. Drives are named `/dev/sda`, `/dev/sdb`, ... in the order added;
    /// after launch, a drive added where one was removed
    /// ([`VMCraft::remove_drive`]) takes the first free name, as libguestfs's
    /// hot-add did. A [`DriveOpts::label`] must be 1 to 20 ASCII letters and not
    /// already given to another drive.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn add_drive_opts(&self, path: impl AsRef<Path>, opts: DriveOpts) -> Result<String> {
        let path = path.as_ref();
        if let Some(label) = &opts.label
            && !crate::names::valid_disk_label(label)
        {
            return Err(Error::invalid(
                "add_drive",
                label,
                "label must be 1 to 20 ASCII letters (a-z, A-Z), nothing else",
            ));
        }
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::call_with_source(
                ErrorKind::InvalidArgument,
                "add_drive",
                path.display(),
                "cannot use this image",
                e,
            )
        })?;
        if !meta.is_file() && !std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type()) {
            return Err(Error::invalid(
                "add_drive",
                path.display(),
                "not a regular file or block device",
            ));
        }
        let mut st = self.write_state();
        if st.shut_down {
            return Err(Error::call(
                ErrorKind::ShutDown,
                "add_drive",
                path.display(),
                "the handle was shut down",
            ));
        }
        if let Some(label) = &opts.label
            && let Some(other) = st.drives.find_label(label)
        {
            return Err(Error::invalid(
                "add_drive",
                label,
                format!(
                    "this label was given to {} already (labels must be unique)",
                    drive_name(other)
                ),
            ));
        }
        let index = st.drives.free_index();
        let name = drive_name(index);
        let mut drive = Drive {
            name: name.clone(),
            image: path.to_path_buf(),
            opts,
            attachment: None,
            file: None,
            inproc: None,
            dirty: Default::default(),
            edit: Arc::new(Mutex::new(())),
        };
        if st.launched {
            drive.attachment = Some(self.attach(&drive)?);
        }
        tracing::info!(drive = %name, image = %path.display(), readonly = drive.opts.readonly, label = drive.opts.label.as_deref(), "drive added");
        st.drives.put(index, drive);
        drop(st);
        if self.read_state().launched {
            self.record_state();
            self.sync_lvm_devices();
        }
        Ok(name)
    }

    /// Remove the drive labelled `label` (`remove_drive`), the opposite of
    /// [`VMCraft::add_drive_opts`]: only a drive added with a
    /// [`DriveOpts::label`] can be removed.
    ///
    /// Before launch the drive is forgotten (it is never attached) and the drives
    /// added after it move up: `/dev/sdc` becomes `/dev/sdb`, as in libguestfs.
    ///
    /// After launch the drive is detached, which libguestfs could only do by
    /// hot-unplugging it from its appliance, with the same result: a hole, so
    /// that the other drives keep their names (`/dev/sdc` stays `/dev/sdc` when
    /// `/dev/sdb` goes) and the removed drive and its partitions are no device
    /// any more; a drive added later takes the first free name. It is refused
    /// with [`ErrorKind::Busy`], and nothing changed, while anything uses it: a
    /// filesystem on it or on one of its partitions mounted (a `mount_loop` of a
    /// file on such a filesystem included), a mounted logical volume whose
    /// physical volume is on it, a device-mapper or md device on it (an active
    /// volume group: `vg_activate false` first), swap on it, or any other holder
    /// the kernel knows of. Once it is detached, everything cached about it
    /// (partition list, probes, LVM reports and the loop devices standing in for
    /// its LVs, inspection results) is forgotten, LVM stops seeing it, and the
    /// session's [state file](crate::state) no longer names it, so that a cleanup
    /// after a crash leaves it alone.
    ///
    /// An unknown label is [`ErrorKind::NoSuchDevice`], with nothing changed.
    /// Another thread must not be using the drive meanwhile.
    ///
    /// ```no_run
    /// use vmcraft::{DriveOpts, VMCraft};
    /// let g = VMCraft::new();
    /// g.add_drive("a.img")?;
    /// g.add_drive_opts("b.img", DriveOpts { label: Some("b".into()), ..Default::default() })?;
    /// g.add_drive("c.img")?;
    /// g.launch()?;
    /// g.remove_drive("b")?;
    /// assert_eq!(g.list_devices()?, ["/dev/sda", "/dev/sdc"]);
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn remove_drive(&self, label: &str) -> Result<()> {
        const CALL: &str = "remove_drive";
        // Found (and, before launch, removed) under the lock; after launch the
        // session's own users of the drive are looked for without it (they take
        // the state lock themselves), then the kernel's under it.
        let (index, name) = {
            let mut st = self.write_state();
            let index = self.labelled_drive(CALL, &st, label)?;
            if !st.launched {
                let gone = st.drives.remove_and_close_up(index);
                drop(st);
                tracing::info!(label, drive = ?gone.map(|d| d.name), "drive removed before launch");
                // Nothing can be cached before launch; to be sure, nothing is.
                self.partition_cache.clear();
                self.probe_cache.clear();
                self.lv_cache.clear();
                lock(&self.inspections).clear();
                return Ok(());
            }
            (index, drive_name(index))
        };
        self.drive_in_use_by_session(CALL, label, &name)?;
        // Unmounted LV windows over the drive are only a way in, made again on
        // demand: they go (a mounted one made the drive busy above).
        if let Some(host) = self.attached_drive_host(&name) {
            self.release_lv_windows_on(&host);
        }
        let mut st = self.write_state();
        if self.labelled_drive(CALL, &st, label)? != index {
            // Removed and added again meanwhile: start over for the new one.
            drop(st);
            return self.remove_drive(label);
        }
        let d = st.drives.get_mut(index).expect("found above");
        let mut detach_error = None;
        if let Some(a) = d.attachment.as_mut() {
            if let Some(why) = a.in_use() {
                return Err(Error::call(
                    ErrorKind::Busy,
                    CALL,
                    label,
                    format!("{name} is in use: {why}"),
                ));
            }
            match a.try_detach() {
                Ok(()) => {}
                Err(e) if e.kind() == vmcraft_nbd::ErrorKind::Busy => {
                    return Err(Error::call(
                        ErrorKind::Busy,
                        CALL,
                        label,
                        format!("{name} is in use: {}", e.message()),
                    ));
                }
                // Everything was attempted and the drive is no longer attached:
                // it is removed, and the failure (a flush, a daemon) reported.
                Err(e) => detach_error = Some(e),
            }
        }
        if let Some(f) = d.file.take()
            && let Err(e) = crate::lazy::sync_if_dirty(&f, &d.dirty)
        {
            d.file = Some(f);
            return Err(Error::call_with_source(
                ErrorKind::Io,
                CALL,
                label,
                format!("cannot write out {name}"),
                e,
            ));
        }
        let gone = st.drives.take(index);
        self.record_state_with(&st);
        drop(st);
        drop(gone);
        self.invalidate_drive(&name);
        // An LVM filter names devices: the removed drive's names leave it, so
        // that a drive added later under the same name is not filtered in unasked.
        if let Some(f) = self.settings().lvm_filter.as_mut() {
            f.retain(|n| {
                let rest = n.strip_prefix(name.as_str());
                !rest.is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit()))
            });
        }
        self.sync_lvm_devices();
        tracing::info!(label, drive = %name, "drive removed");
        match detach_error {
            None => Ok(()),
            Some(e) => Err(Error::call_with_source(
                ErrorKind::Io,
                CALL,
                label,
                format!("{name} was detached with an error"),
                e,
            )),
        }
    }

    /// The index of the drive labelled `label`, refusing a shut-down handle and
    /// an unknown label.
    fn labelled_drive(&self, call: &str, st: &State, label: &str) -> Result<usize> {
        if st.shut_down {
            return Err(Error::call(
                ErrorKind::ShutDown,
                call,
                label,
                "the handle was shut down",
            ));
        }
        st.drives.find_label(label).ok_or_else(|| {
            Error::call(
                ErrorKind::NoSuchDevice,
                call,
                label,
                "no drive has this label",
            )
        })
    }

    /// Refuse (Busy) while the session itself uses drive `name`: a mount of it or
    /// of one of its partitions, a mount-loop of a file on such a mount, a mounted
    /// LV whose loop window is over it. (What the kernel knows of, device-mapper
    /// and md holders, swap, mounts elsewhere, is asked of the attachment.)
    fn drive_in_use_by_session(&self, call: &str, label: &str, name: &str) -> Result<()> {
        let busy = |why: String| {
            Err(Error::call(
                ErrorKind::Busy,
                call,
                label,
                format!("{name} is in use: {why}"),
            ))
        };
        let inproc = lock(&self.inproc_mounts)
            .iter()
            .find(|m| on_drive(&m.device, name))
            .map(|m| (m.device.clone(), m.mountpoint.clone()));
        if let Some((d, mp)) = inproc {
            return busy(format!("{d} is mounted on {mp}"));
        }
        let nodes: Vec<(String, PathBuf)> = self
            .named_session_nodes()
            .into_iter()
            .filter(|(n, _)| on_drive(n, name))
            .collect();
        let windows: HashMap<String, PathBuf> = lock(&self.lv_windows)
            .iter()
            .map(|(lv, w)| (lv.clone(), w.pv.clone()))
            .collect();
        // The device of `dev` (a session device name) that is on the drive.
        let on_this = |dev: &str| -> Option<String> {
            if on_drive(dev, name) {
                return Some(dev.to_string());
            }
            let pv = windows.get(dev)?;
            nodes.iter().find(|(_, n)| n == pv).map(|(n, _)| n.clone())
        };
        let mounts = self.mounts().clone();
        for m in &mounts {
            let Some(loop_name) = m.device.strip_prefix("/dev/") else {
                continue;
            };
            if !loop_name.starts_with("loop") {
                continue;
            }
            let sys_block = self.config.sysfs_root.join("block");
            let Some(backing) =
                crate::state::loop_state(&sys_block, loop_name).map(|l| l.backing_file)
            else {
                continue;
            };
            let holder = mounts
                .iter()
                .filter(|o| backing.starts_with(&o.host_path))
                .max_by_key(|o| o.host_path.components().count());
            if let Some(o) = holder
                && let Some(d) = on_this(&o.device)
            {
                return busy(format!(
                    "the file mounted on {} with mount_loop is on {d}",
                    m.mountpoint
                ));
            }
        }
        for m in &mounts {
            if let Some(d) = on_this(&m.device) {
                return busy(if d == m.device {
                    format!("{d} is mounted on {}", m.mountpoint)
                } else {
                    format!(
                        "{} is mounted on {} and its physical volume is {d}",
                        m.device, m.mountpoint
                    )
                });
            }
        }
        Ok(())
    }

    /// Add a disk image read-only (`add_drive_ro`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn add_drive_ro(&self, path: impl AsRef<Path>) -> Result<String> {
        self.add_drive_opts(
            path,
            DriveOpts {
                readonly: true,
                ..Default::default()
            },
        )
    }

    /// Add a disk image read-write with its format detected (`add_drive`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn add_drive(&self, path: impl AsRef<Path>) -> Result<String> {
        self.add_drive_opts(path, DriveOpts::default())
    }

    fn attach(&self, drive: &Drive) -> Result<Attachment> {
        // A read-only drive under a throw-away overlay (see
        // `Config::readonly_overlay`), where the backend can serve one.
        let overlay = drive.opts.readonly
            && self.config.readonly_overlay
            && matches!(
                self.config.backend,
                vmcraft_nbd::Backend::Auto | vmcraft_nbd::Backend::StorageDaemon
            );
        let mut opts = AttachOptions::default()
            .readonly(drive.opts.readonly)
            .overlay(overlay)
            .backend(self.config.backend)
            .allow_backing_file(drive.opts.allow_backing_file)
            .allow_vmdk_extents(drive.opts.allow_vmdk_extents)
            .retry(self.config.retry.clone());
        if let Some(f) = drive.opts.format {
            opts = opts.format(f);
        }
        if let Some(dir) = lock(&self.session_dir).as_ref() {
            opts = opts.runtime_dir(dir.join("run"));
        }
        // Through the session's runner: the command line's starts daemons
        // outside its private mount namespace (see `vmcraft_cli::namespace`).
        let att = vmcraft_nbd::attach_with(self.config.runner.clone(), &drive.image, opts)?;
        tracing::info!(drive = %drive.name, device = %att.device().display(), backend = %att.backend(), reason = att.backend_reason(), "drive attached");
        Ok(att)
    }

    /// Attach every drive. Fails (and attaches nothing) if any drive cannot be
    /// attached.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn launch(&self) -> Result<()> {
        let mut st = self.write_state();
        if st.shut_down {
            return Err(Error::call(
                ErrorKind::ShutDown,
                "launch",
                "",
                "the handle was shut down",
            ));
        }
        if st.launched {
            return Err(Error::call(
                ErrorKind::AlreadyLaunched,
                "launch",
                "",
                "the handle is already launched",
            ));
        }
        if st.drives.is_empty() {
            return Err(Error::invalid(
                "launch",
                "",
                "no drives have been added (call add_drive_opts first)",
            ));
        }
        // What killed sessions left in this temp directory goes first (best
        // effort: a failure is logged, never the launch's).
        let tmpdir = self.effective_tmpdir();
        crate::reaper::cleanup_at_launch(tmpdir.as_deref());
        let dir = make_session_dir(tmpdir.as_deref())?;
        if let Err(e) = self.tracker.begin(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot keep a session state file; a crash of this session could not be cleaned up");
        }
        *lock(&self.session_dir) = Some(dir.clone());
        for i in 0..st.drives.slots() {
            let Some(drive) = st.drives.get(i) else {
                continue;
            };
            let result = match (self.inproc_image(drive), self.lazy_file(drive)) {
                (Some(img), _) => Ok((None, None, Some(img))),
                (None, Some(f)) => f.map(|f| (None, Some(f), None)),
                (None, None) => self.attach(drive).map(|a| (Some(a), None, None)),
            };
            match result {
                Ok((a, f, img)) => {
                    let drive = st.drives.get_mut(i).expect("looked up above");
                    drive.attachment = a;
                    drive.file = f;
                    drive.inproc = img;
                    // Recorded as soon as it exists: a crash during the next
                    // attach must not leave this one unknown.
                    self.record_state_with(&st);
                }
                Err(e) => {
                    for d in st.drives.iter_mut() {
                        d.file = None;
                        d.inproc = None;
                        if let Some(a) = d.attachment.take() {
                            let _ = a.detach();
                        }
                    }
                    self.tracker.end();
                    remove_session_dir(&dir);
                    *lock(&self.session_dir) = None;
                    return Err(e);
                }
            }
        }
        st.launched = true;
        drop(st);
        Ok(())
    }

    /// For a raw image that the configured backend would bind to a loop device, the
    /// image opened as a file (attached later, when a kernel node is needed).
    fn lazy_file(&self, drive: &Drive) -> Option<Result<vmcraft_block::ImageFile>> {
        if !matches!(
            self.config.backend,
            vmcraft_nbd::Backend::Auto | vmcraft_nbd::Backend::Loop
        ) {
            return None;
        }
        if !std::fs::metadata(&drive.image).is_ok_and(|m| m.is_file() && m.len() > 0) {
            return None;
        }
        let format = match drive.opts.format {
            Some(f) => f,
            None => vmcraft_nbd::detect_format(&drive.image).ok()?,
        };
        if format != Format::Raw {
            return None;
        }
        Some(vmcraft_block::ImageFile::open(&drive.image, drive.opts.readonly).map_err(Error::from))
    }

    /// Attach drive `idx` if it is still only open as a file or read
    /// in-process.
    pub(crate) fn ensure_attached(&self, call: &str, idx: usize) -> Result<()> {
        if self
            .read_state()
            .drives
            .get(idx)
            .is_none_or(|d| d.file.is_none() && d.inproc.is_none())
        {
            return Ok(());
        }
        let mut st = self.write_state();
        let Some(d) = st.drives.get_mut(idx) else {
            return Ok(());
        };
        // In-process mounts keep their own reference to the image: they go on
        // reading it until they are moved to the kernel.
        let image = d.inproc.take();
        let file = d.file.take();
        if image.is_none() && file.is_none() {
            return Ok(());
        }
        if let Some(file) = file {
            crate::lazy::sync_if_dirty(&file, &d.dirty)?;
        }
        match self.attach(d) {
            Ok(a) => d.attachment = Some(a),
            Err(e) => {
                tracing::warn!(call, drive = %d.name, error = %e.chain(), "attach failed");
                if image.is_some() {
                    d.inproc = image;
                } else {
                    d.file = vmcraft_block::ImageFile::open(&d.image, d.opts.readonly).ok();
                }
                return Err(e);
            }
        }
        self.record_state_with(&st);
        drop(st);
        self.sync_lvm_devices();
        Ok(())
    }

    /// Attach every drive still open only as a file.
    pub(crate) fn ensure_all_attached(&self, call: &str) -> Result<()> {
        let n = self.read_state().drives.slots();
        (0..n).try_for_each(|i| self.ensure_attached(call, i))
    }

    /// Whether [`VMCraft::launch`] has run.
    pub fn is_launched(&self) -> bool {
        self.read_state().launched
    }

    /// The private directory the guest's `/` is mounted on. The caller needs
    /// the kernel-mounted tree: what is mounted in-process moves there first.
    pub(crate) fn sysroot(&self, call: &str) -> Result<PathBuf> {
        self.promote_inproc(call)?;
        lock(&self.session_dir)
            .as_ref()
            .map(|d| d.join("root"))
            .ok_or_else(|| Error::call(ErrorKind::NotLaunched, call, "", "call launch first"))
    }

    /// The private directory for inspection mounts (never visible in the guest tree).
    pub(crate) fn inspect_dir(&self, call: &str) -> Result<PathBuf> {
        lock(&self.session_dir)
            .as_ref()
            .map(|d| d.join("inspect"))
            .ok_or_else(|| Error::call(ErrorKind::NotLaunched, call, "", "call launch first"))
    }

    /// Shut down: unmount everything (deepest first), close Augeas and LVM (which
    /// deactivates what the session activated, and LVs the host's udev activated
    /// on its drives), close LUKS mappings and stop md arrays on its drives
    /// alone (the session's, or the host's udev's), detach every drive, stop
    /// daemons,
    /// and remove the private directories. Everything is attempted; the first
    /// failure is returned. A directory with something still mounted under it is
    /// never removed (guest data is never deleted).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn shutdown(&self) -> Result<()> {
        let mut first_err: Option<Error> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                tracing::warn!(error = %e.chain(), "shutdown step failed");
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        };
        keep(self.umount_all_including_private());
        #[cfg(feature = "augeas")]
        {
            if let Some(a) = lock(&self.aug).take() {
                keep(a.aug_close().map_err(Error::from));
            }
        }
        self.close_hive_of_session();
        self.release_lv_windows();
        self.settle_udev();
        // The host's udev may have activated the guest's VGs as the drives
        // appeared (lvm2's event activation), with no LVM call of this session:
        // an LVM session is made so that closing it deactivates them, or the
        // drives could not be detached.
        if lock(&self.lvm).is_none() && self.dm_holds_session_devices() {
            keep(self.with_lvm(|_| Ok(())));
        }
        // LUKS mappings on LVs go before LVM deactivates the LVs; then what is
        // left on the drives (mappings, md arrays, in whichever order they
        // stack) goes from the top down.
        self.close_session_mappings();
        drop(lock(&self.lvm).take());
        self.teardown_stacked();
        // A drive under a filesystem that would not unmount stays attached: pulling
        // the device from under a mount loses what it has not written yet. A later
        // shutdown (or drop) tries again.
        let still_mounted: Vec<String> = self.mounts().iter().map(|m| m.device.clone()).collect();
        let busy = |name: &str| {
            still_mounted.iter().any(|d| {
                d == name
                    || d.strip_prefix(name)
                        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
                    || !d.starts_with("/dev/sd")
            })
        };
        lock(&self.inproc_mounts).clear();
        let mut st = self.write_state();
        let mut all_detached = true;
        for d in st.drives.iter_mut() {
            d.inproc = None;
            if let Some(f) = d.file.take() {
                keep(crate::lazy::sync_if_dirty(&f, &d.dirty).map_err(Error::from));
            }
            if busy(&d.name) {
                all_detached &= d.attachment.is_none();
                continue;
            }
            if let Some(a) = d.attachment.take() {
                keep(a.detach().map_err(Error::from));
            }
        }
        st.launched = !all_detached;
        st.shut_down = all_detached;
        self.record_state_with(&st);
        drop(st);
        self.partition_cache.clear();
        self.probe_cache.clear();
        self.lv_cache.clear();
        lock(&self.inspections).clear();
        // The private directory goes only once nothing is mounted under it; a
        // later shutdown (after the busy mount was released) finishes the job.
        let mut dir = lock(&self.session_dir);
        if self.mounts().is_empty() {
            if let Some(d) = dir.take() {
                self.tracker.end();
                remove_session_dir(&d);
            }
        } else if let Some(d) = dir.as_ref() {
            tracing::warn!(dir = %d.display(), "filesystems still mounted; leaving the session directory in place");
        }
        drop(dir);
        if all_detached {
            self.remove_scratch_files();
        }
        match first_err {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The drives' names, `/dev/sda`, `/dev/sdb`, ... (`list_devices`), in the
    /// order added. A drive removed after launch ([`VMCraft::remove_drive`])
    /// leaves a gap: the others keep their names (`/dev/sda`, `/dev/sdc`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn list_devices(&self) -> Result<Vec<String>> {
        let st = self.read_state();
        Ok(st.drives.iter().map(|d| d.name.clone()).collect())
    }

    /// Run `f` on drive `name` (a whole drive) as a block device that reports the
    /// libguestfs name, holding the drive's edit lock.
    pub(crate) fn with_drive<T>(
        &self,
        call: &str,
        name: &str,
        f: impl FnOnce(&dyn BlockDevice) -> Result<T>,
    ) -> Result<T> {
        let idx = match parse_device(name) {
            Ok(DeviceName::Drive(i)) => i,
            Ok(_) => {
                return Err(Error::invalid(
                    call,
                    name,
                    "expected a whole drive (/dev/sdX), not a partition or LV",
                ));
            }
            Err(_) => {
                return Err(Error::call(
                    ErrorKind::NoSuchDevice,
                    call,
                    name,
                    "no such device",
                ));
            }
        };
        let st = self.read_state();
        let drive = st
            .drives
            .get(idx)
            .ok_or_else(|| Error::call(ErrorKind::NoSuchDevice, call, name, "no such device"))?;
        let edit = drive.edit.clone();
        let _guard = lock(&edit);
        if let Some(image) = &drive.inproc {
            let dev = Named::new(
                crate::inproc::ImageDisk::new(image.clone()),
                drive.name.clone(),
            );
            return f(&dev);
        }
        if let Some(file) = &drive.file {
            let dev = Named::new(
                crate::lazy::DeferredFlush {
                    file,
                    dirty: &drive.dirty,
                },
                drive.name.clone(),
            );
            return f(&dev);
        }
        let att = drive.attachment(call)?;
        let dev = Named::new(att, drive.name.clone());
        f(&dev)
    }

    /// Whether the drive holding `device` was added read-only (for an LV, whether
    /// a drive holding one of its volume group's PVs was; lvm2 is asked only
    /// when some drive is read-only). A name that is not a session device
    /// answers `false`; the call it was given to refuses it.
    ///
    /// ```
    /// let g = vmcraft::VMCraft::new();
    /// assert!(!g.device_on_readonly_drive("/dev/sda1"));
    /// ```
    pub fn device_on_readonly_drive(&self, device: &str) -> bool {
        let st = self.read_state();
        match crate::names::parse_device(device) {
            Ok(DeviceName::Drive(i)) | Ok(DeviceName::Partition(i, _)) => {
                st.drives.get(i).is_some_and(|d| d.opts.readonly)
            }
            Ok(DeviceName::LogicalVolume(vg, _)) => {
                let any = st.drives.iter().any(|d| d.opts.readonly);
                drop(st);
                any && self.lv_readonly(&vg)
            }
            Ok(DeviceName::Mapped(name)) => {
                drop(st);
                self.session_mapping(&name)
                    .is_some_and(|m| self.stacked_readonly(&m))
            }
            Err(_) => false,
        }
    }

    /// Whether an LV of `vg` must be treated as read-only: some PV of its VG is
    /// on a read-only drive, or lvm2 cannot say (then, to be safe, yes).
    fn lv_readonly(&self, vg: &str) -> bool {
        self.vg_on_readonly_drive(vg).unwrap_or(true)
    }

    /// Map a device name (canonical or alias) to the host node behind it.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let r = g.resolve_device("/dev/sda1")?;
    /// println!("{} is {}", r.name, r.host.display());
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn resolve_device(&self, name: &str) -> Result<Resolved> {
        self.resolve("resolve_device", name)
    }

    pub(crate) fn resolve(&self, call: &str, name: &str) -> Result<Resolved> {
        let no_such = || Error::call(ErrorKind::NoSuchDevice, call, name, "no such device");
        let what = self.parse_name(name).map_err(|_| no_such())?;
        // The caller needs a kernel node: attach a lazily opened drive now.
        match &what {
            DeviceName::Drive(i) | DeviceName::Partition(i, _) => self.ensure_attached(call, *i)?,
            DeviceName::LogicalVolume(..) | DeviceName::Mapped(_) => {
                self.ensure_all_attached(call)?
            }
        }
        let st = self.read_state();
        if !st.launched {
            return Err(Error::call(
                ErrorKind::NotLaunched,
                call,
                name,
                "call launch first",
            ));
        }
        let canonical = format_device(&what);
        match &what {
            DeviceName::Drive(i) => {
                let d = st.drives.get(*i).ok_or_else(no_such)?;
                let att = d.attachment(call)?;
                Ok(Resolved {
                    name: canonical,
                    host: att.device().to_path_buf(),
                    what,
                    readonly: d.opts.readonly,
                })
            }
            DeviceName::Partition(i, n) => {
                let d = st.drives.get(*i).ok_or_else(no_such)?;
                let att = d.attachment(call)?;
                let parts = att.node().kernel_partitions()?;
                let p = parts.iter().find(|p| p.number == *n).ok_or_else(no_such)?;
                Ok(Resolved {
                    name: canonical,
                    host: p.node.clone(),
                    what,
                    readonly: d.opts.readonly,
                })
            }
            DeviceName::LogicalVolume(vg, lv) => {
                drop(st);
                let lvs = self.lvs()?;
                if !lvs.contains(&canonical) {
                    return Err(no_such());
                }
                let any = self.read_state().drives.iter().any(|d| d.opts.readonly);
                let readonly = any && self.lv_readonly(vg);
                // The session's own device-mapper device (by UUID and the devices
                // under it, never by the global /dev/VG/LV name, which the host or
                // a clone in another session may hold), else a loop device over
                // the session's PV, else a refusal.
                let host = match self.lv_dm_node(&canonical)? {
                    Some(node) => node,
                    None => self.lv_window(call, &canonical, readonly).inspect_err(|e| {
                        tracing::debug!(lv = %format!("{vg}/{lv}"), error = %e.chain(), "LV not reachable");
                    })?,
                };
                Ok(Resolved {
                    name: canonical,
                    host,
                    what,
                    readonly,
                })
            }
            DeviceName::Mapped(_) => {
                drop(st);
                // Only a device built on the session's own devices, found by
                // what is under it (never the host's /dev/mapper/NAME or mdN).
                let m = self.session_mapping(&canonical).ok_or_else(no_such)?;
                let readonly = self.stacked_readonly(&m);
                Ok(Resolved {
                    name: canonical,
                    host: PathBuf::from(format!("/dev/{}", m.kernel)),
                    what,
                    readonly,
                })
            }
        }
    }

    /// The host node behind a device name (`/dev/sda1` -> `/dev/loop3p1`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn host_path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.resolve("host_path", name)?.host)
    }

    /// Every whole-drive and partition host node of the session.
    pub(crate) fn session_nodes(&self) -> Vec<PathBuf> {
        self.named_session_nodes()
            .into_iter()
            .map(|(_, node)| node)
            .collect()
    }

    /// Every whole-drive and partition host node of the session, with its
    /// canonical name (`/dev/sda`, `/dev/sda1`).
    pub(crate) fn named_session_nodes(&self) -> Vec<(String, PathBuf)> {
        let st = self.read_state();
        let mut out = Vec::new();
        for d in &st.drives {
            if let Some(a) = &d.attachment {
                out.push((d.name.clone(), a.device().to_path_buf()));
                if let Ok(parts) = a.node().kernel_partitions() {
                    out.extend(
                        parts
                            .into_iter()
                            .map(|p| (format!("{}{}", d.name, p.number), p.node)),
                    );
                }
            }
        }
        out
    }

    /// The host nodes LVM may see: every session device, or those of the
    /// filter `lvm_set_filter` set (by name, so that it holds when nodes change).
    pub(crate) fn lvm_visible_nodes(&self) -> Vec<PathBuf> {
        let filter = self.settings().lvm_filter.clone();
        self.named_session_nodes()
            .into_iter()
            .chain(self.mapped_nodes())
            .filter(|(name, _)| filter.as_ref().is_none_or(|f| f.contains(name)))
            .map(|(_, node)| node)
            .collect()
    }

    /// The devices the session's drives carry above their partitions: open
    /// LUKS mappings (`/dev/mapper/NAME`) and running md arrays (`/dev/mdN`),
    /// by name with their nodes (`/dev/dm-N`, `/dev/mdN`). PVs may be inside,
    /// and md members.
    pub(crate) fn mapped_nodes(&self) -> Vec<(String, PathBuf)> {
        self.stacked_devices()
            .into_iter()
            .filter(|s| s.is_crypt() || s.is_md())
            .filter_map(|s| Some((s.guest_name()?, PathBuf::from(format!("/dev/{}", s.kernel)))))
            .collect()
    }

    /// The session's LVM, created on first use over the session's devices.
    pub(crate) fn with_lvm<T>(&self, f: impl FnOnce(&vmcraft_lvm::Lvm) -> Result<T>) -> Result<T> {
        if !self.is_launched() {
            return Err(Error::call(
                ErrorKind::NotLaunched,
                "lvm",
                "",
                "call launch first",
            ));
        }
        self.ensure_all_attached("lvm")?;
        let mut g = lock(&self.lvm);
        if g.is_none() {
            // lvm2's private directory goes inside the session's, so that a
            // killed session's is removed with it.
            let opts = vmcraft_lvm::LvmOptions {
                sysfs_root: Some(self.config.sysfs_root.clone()),
                state_parent: lock(&self.session_dir).clone(),
                ..Default::default()
            };
            *g = Some(vmcraft_lvm::Lvm::with_options(
                self.config.runner.clone(),
                self.lvm_visible_nodes(),
                opts,
            )?);
        }
        let r = f(g.as_ref().expect("created above"));
        drop(g);
        self.record_lvm_activity();
        r
    }

    /// Tell the LVM session about the current device set (after partitions change).
    pub(crate) fn sync_lvm_devices(&self) {
        let nodes = self.lvm_visible_nodes();
        if let Some(l) = lock(&self.lvm).as_ref()
            && let Err(e) = l.set_devices(nodes)
        {
            tracing::warn!(error = %e, "updating the LVM device list failed");
        }
    }
}

impl Drop for VMCraft {
    fn drop(&mut self) {
        let st = self.read_state();
        let needed =
            !st.shut_down && (st.launched || st.drives.iter().any(|d| d.attachment.is_some()));
        drop(st);
        if (needed || !self.mounts().is_empty())
            && let Err(e) = self.shutdown()
        {
            tracing::warn!(error = %e.chain(), "shutdown on drop failed");
        }
        // Scratch drives never attached (no launch) are removed here; after a
        // shutdown that kept a busy drive attached, they stay with it.
        if !self
            .read_state()
            .drives
            .iter()
            .any(|d| d.attachment.is_some())
        {
            self.remove_scratch_files();
        }
    }
}

fn make_session_dir(parent: Option<&Path>) -> Result<PathBuf> {
    let base = parent
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    // Canonical, as the mount points under it are recorded (they are read back
    // from the kernel), so that the state file's paths all agree.
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "vmcraft-{}-{:08x}",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                for sub in ["root", "inspect", "run"] {
                    std::fs::DirBuilder::new()
                        .mode(0o700)
                        .create(dir.join(sub))
                        .map_err(|e| {
                            Error::call_with_source(
                                ErrorKind::Io,
                                "launch",
                                dir.display(),
                                "cannot create the session directory",
                                e,
                            )
                        })?;
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::call_with_source(
                    ErrorKind::Io,
                    "launch",
                    dir.display(),
                    "cannot create the session directory",
                    e,
                ));
            }
        }
    }
    Err(Error::call(
        ErrorKind::Io,
        "launch",
        base.display(),
        "cannot create a unique session directory",
    ))
}

/// Remove the session directory with `rmdir` only: a directory that still holds
/// anything (a mount that would not go away) is left alone, never deleted
/// recursively.
fn remove_session_dir(dir: &Path) {
    let inspect = dir.join("inspect");
    if let Ok(entries) = std::fs::read_dir(&inspect) {
        for e in entries.flatten() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
    let run = dir.join("run");
    if let Ok(entries) = std::fs::read_dir(&run) {
        for e in entries.flatten() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
    for sub in ["root", "inspect", "run"] {
        let _ = std::fs::remove_dir(dir.join(sub));
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "session directory not removed");
    }
}

/// Whether `device` (a canonical session name) is drive `drive` or one of its
/// partitions.
fn on_drive(device: &str, drive: &str) -> bool {
    device
        .strip_prefix(drive)
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(i: usize, label: Option<&str>) -> Drive {
        Drive {
            name: drive_name(i),
            image: PathBuf::from(format!("/images/{i}.img")),
            opts: DriveOpts {
                label: label.map(String::from),
                ..Default::default()
            },
            attachment: None,
            file: None,
            inproc: None,
            dirty: Default::default(),
            edit: Arc::new(Mutex::new(())),
        }
    }

    fn names(d: &Drives) -> Vec<(usize, String)> {
        d.indexed().map(|(i, d)| (i, d.name.clone())).collect()
    }

    #[test]
    fn a_hole_keeps_the_later_names_and_is_filled_first() {
        let mut d = Drives::default();
        for (i, l) in [None, Some("b"), Some("c")].into_iter().enumerate() {
            assert_eq!(d.free_index(), i);
            d.put(i, drive(i, l));
        }
        assert_eq!(d.find_label("b"), Some(1));
        let gone = d.take(1).unwrap();
        assert_eq!(gone.name, "/dev/sdb");
        assert!(d.get(1).is_none() && d.get_mut(1).is_none());
        assert_eq!(
            names(&d),
            [(0, "/dev/sda".to_string()), (2, "/dev/sdc".to_string())]
        );
        assert_eq!((d.count(), d.slots()), (2, 3));
        assert_eq!(d.iter().count(), 2);
        assert_eq!((&d).into_iter().count(), 2);
        assert_eq!(d.find_label("b"), None);
        assert_eq!(d.free_index(), 1);
        // Holes at the end go: the next drive after the last is named next.
        d.take(2).unwrap();
        assert_eq!((d.count(), d.slots()), (1, 1));
        assert_eq!(d.free_index(), 1);
        assert!(d.take(5).is_none() && d.take(1).is_none());
    }

    #[test]
    fn before_launch_later_drives_move_up() {
        let mut d = Drives::default();
        for (i, l) in [Some("a"), Some("b"), Some("c")].into_iter().enumerate() {
            d.put(i, drive(i, l));
        }
        let gone = d.remove_and_close_up(0).unwrap();
        assert_eq!(gone.opts.label.as_deref(), Some("a"));
        assert_eq!(
            names(&d),
            [(0, "/dev/sda".to_string()), (1, "/dev/sdb".to_string())]
        );
        assert_eq!(d.find_label("c"), Some(1));
        assert_eq!(d.get(1).unwrap().image, Path::new("/images/2.img"));
        assert!(d.remove_and_close_up(7).is_none());
        assert!(!d.is_empty());
    }
}
