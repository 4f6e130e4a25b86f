//! Keeping the state file true. The session's [`Tracker`] holds the directory's
//! lock and what cannot be read back from the handle (mounts with the facts the
//! kernel showed for them, FUSE driver processes, LVM activations); every change
//! to what the session holds ends in [`VMCraft::record_state`], which writes a new
//! file only when its content changed (a write is a small file and a rename, no
//! fsync: what it protects against is the process dying, not the machine).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use nix::fcntl::{Flock, FlockArg};

use super::procfs;
use super::{
    DmRecord, FORMAT_VERSION, ImageRecord, LoopRecord, LvmRecord, MdRecord, MountRecord, MountedAs,
    ProcessRecord, STATE_FILE, SessionState,
};
use crate::session::{State, VMCraft};

/// The programs a session starts that may outlive it (the reaper stops those
/// whose command line names a dead session's directory, recorded or not).
pub(crate) const SESSION_PROGRAMS: &[&str] = &[
    "qemu-storage-daemon",
    "qemu-nbd",
    "fusefat",
    "ntfs-3g",
    "lowntfs-3g",
    "fuse2fs",
];

/// The live session's record keeper.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    inner: Mutex<Option<Active>>,
}

#[derive(Debug)]
struct Active {
    /// Held for the session's life: the reaper takes a free lock as proof that
    /// the owner is gone.
    _lock: Flock<File>,
    base: SessionState,
    mounts: Vec<MountRecord>,
    fuse: Vec<ProcessRecord>,
    lvm: LvmRecord,
    md: Vec<MdRecord>,
    local: Vec<MountRecord>,
    /// Per loop device path: its record (read from sysfs once, while bound by us).
    loops: HashMap<PathBuf, LoopRecord>,
    /// Per daemon pid: its record.
    daemons: HashMap<u32, ProcessRecord>,
    /// The bytes last written.
    last: Vec<u8>,
    /// A write failed already (logged once).
    failing: bool,
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, Option<Active>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start recording for `dir`: lock it and write the first state file.
    pub(crate) fn begin(&self, dir: &Path) -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(dir)?;
        let lock = Flock::lock(f, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| std::io::Error::from(e))?;
        let me = std::process::id();
        let owner = procfs::process_record(me, "owner").unwrap_or(ProcessRecord {
            pid: me,
            role: "owner".into(),
            ..Default::default()
        });
        let base = SessionState {
            version: FORMAT_VERSION,
            owner,
            boot_id: procfs::boot_id(),
            session_dir: dir.to_path_buf(),
            mount_namespace: procfs::own_mount_ns(),
            ..Default::default()
        };
        *self.lock() = Some(Active {
            _lock: lock,
            base,
            mounts: Vec::new(),
            fuse: Vec::new(),
            lvm: LvmRecord::default(),
            md: Vec::new(),
            local: Vec::new(),
            loops: HashMap::new(),
            daemons: HashMap::new(),
            last: Vec::new(),
            failing: false,
        });
        Ok(())
    }

    /// Stop recording: remove the state file and release the lock (the session
    /// directory is removed by the caller).
    pub(crate) fn end(&self) {
        if let Some(a) = self.lock().take() {
            let dir = &a.base.session_dir;
            let _ = std::fs::remove_file(dir.join(STATE_FILE));
            let _ = std::fs::remove_file(dir.join(format!("{STATE_FILE}.tmp")));
        }
    }
}

impl Active {
    fn loop_record(&mut self, device: &Path, purpose: String) -> Option<LoopRecord> {
        if let Some(r) = self.loops.get(device) {
            let mut r = r.clone();
            r.purpose = purpose;
            return Some(r);
        }
        let name = device.file_name()?.to_str()?;
        let st = procfs::loop_state(Path::new("/sys/block"), name)?;
        let r = LoopRecord {
            device: device.to_path_buf(),
            backing_file: st.backing_file,
            dev: st.dev,
            diskseq: st.diskseq,
            purpose,
        };
        self.loops.insert(device.to_path_buf(), r.clone());
        Some(r)
    }

    fn daemon_record(&mut self, pid: u32, role: &str) -> Option<ProcessRecord> {
        if let Some(r) = self.daemons.get(&pid) {
            return Some(r.clone());
        }
        let r = procfs::process_record(pid, role)?;
        self.daemons.insert(pid, r.clone());
        Some(r)
    }

    fn write(&mut self, state: &SessionState) {
        let Ok(mut bytes) = serde_json::to_vec_pretty(state) else {
            return;
        };
        bytes.push(b'\n');
        if bytes == self.last {
            return;
        }
        let dir = &state.session_dir;
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        let r = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| std::fs::rename(&tmp, dir.join(STATE_FILE)));
        match r {
            Ok(()) => {
                self.last = bytes;
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot write the session state file; a crash now would leave things the reaper cannot find");
                }
                self.failing = true;
            }
        }
    }
}

/// The NBD lock file of `/dev/nbdN` (vmcraft-nbd's naming, default lock directory).
fn nbd_lock_file(device: &Path) -> Option<PathBuf> {
    let n: u32 = device
        .file_name()?
        .to_str()?
        .strip_prefix("nbd")?
        .parse()
        .ok()?;
    Some(
        vmcraft_nbd::NbdHost::system(None)
            .lock_dir
            .join(format!("vmcraft-nbd{n}.lock")),
    )
}

/// The pid serving `/dev/nbdN` (`/sys/block/nbdN/pid`).
fn nbd_server_pid(device: &Path) -> Option<u32> {
    let name = device.file_name()?.to_str()?;
    std::fs::read_to_string(Path::new("/sys/block").join(name).join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Device-mapper devices under `sys_block` built only on `session` block devices
/// (kernel names: `loop3`, `loop3p1`) and on each other, whose UUID is an LVM
/// or a cryptsetup one (the session's LVs and LUKS mappings: what a crash would
/// strand).
pub(crate) fn session_dm_devices(sys_block: &Path, session: &[String]) -> Vec<DmRecord> {
    let mut out: Vec<DmRecord> = crate::stacked::stacked_on(sys_block, session)
        .into_iter()
        .filter(|s| s.is_lv() || s.is_crypt())
        .filter_map(|s| {
            Some(DmRecord {
                name: s.dm_name?,
                uuid: s.dm_uuid?,
                dev: s.dev,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The VG of a device-mapper name `vg-lv` (dashes inside names are doubled).
pub(crate) fn vg_of_dm_name(name: &str) -> String {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            return name[..i].replace("--", "-");
        }
        i += 1;
    }
    name.replace("--", "-")
}

impl VMCraft {
    /// Write the state file from the handle's current state (a no-op when the
    /// session is not launched or nothing changed). Never call it while holding
    /// the state lock for writing: use [`VMCraft::record_state_with`].
    pub(crate) fn record_state(&self) {
        let st = self.read_state();
        self.record_state_with(&st);
    }

    /// [`VMCraft::record_state`] with the state already locked by the caller.
    pub(crate) fn record_state_with(&self, st: &State) {
        let mut guard = self.tracker.lock();
        let Some(a) = guard.as_mut() else {
            return;
        };
        let mut state = a.base.clone();
        let mut live_loops = Vec::new();
        for d in &st.drives {
            let Some(att) = &d.attachment else { continue };
            let device = att.device().to_path_buf();
            let backend = att.backend();
            let daemon = match backend {
                vmcraft_nbd::Backend::KernelNbd => {
                    nbd_server_pid(&device).and_then(|p| a.daemon_record(p, "qemu-nbd"))
                }
                _ => att
                    .daemon_pid()
                    .and_then(|p| a.daemon_record(p, "qemu-storage-daemon")),
            };
            // Where the export is mounted, in the daemon's namespace (the loop
            // device may reach it through /proc/PID/root).
            let export = att.runtime_dir().map(|d| d.join("export"));
            if att.loop_backing_file().is_some()
                && let Some(r) = a.loop_record(&device, format!("drive {}", d.name))
            {
                live_loops.push(device.clone());
                state.loops.push(r);
            }
            if backend == vmcraft_nbd::Backend::KernelNbd
                && let Some(lock) = nbd_lock_file(&device)
            {
                state.lock_files.push(lock);
            }
            let daemon_mount_namespace = daemon.as_ref().and_then(|p| {
                procfs::mount_ns_of(&Path::new("/proc").join(p.pid.to_string()).join("ns/mnt"))
            });
            state.images.push(ImageRecord {
                drive: d.name.clone(),
                image: att.image().to_path_buf(),
                backend: backend.to_string(),
                device,
                readonly: att.is_readonly(),
                daemon,
                export,
                daemon_mount_namespace,
            });
        }
        let windows: Vec<(String, PathBuf)> = self
            .lv_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(lv, w)| (lv.clone(), w.device.path().to_path_buf()))
            .collect();
        let mut windows = windows;
        windows.sort();
        for (lv, device) in windows {
            if let Some(r) = a.loop_record(&device, format!("LV {lv}")) {
                live_loops.push(device);
                state.loops.push(r);
            }
        }
        a.loops.retain(|k, _| live_loops.contains(k));
        let live_daemons: Vec<u32> = state
            .images
            .iter()
            .filter_map(|i| i.daemon.as_ref().map(|d| d.pid))
            .collect();
        a.daemons.retain(|k, _| live_daemons.contains(k));
        state.mounts = a.mounts.clone();
        state.fuse_drivers = a.fuse.clone();
        state.lvm = a.lvm.clone();
        state.md = a.md.clone();
        state.local_mounts = a.local.clone();
        a.write(&state);
    }

    /// A mount is about to be made: record it first, so that a crash during the
    /// mount still leaves it findable.
    pub(crate) fn record_mount_intent(&self, rec: MountRecord) {
        if let Some(a) = self.tracker.lock().as_mut() {
            a.mounts.push(rec);
        }
        self.record_state();
    }

    /// The mount at `host_path` was attempted: if it was made (`mounted`), keep
    /// its record with what the kernel shows for it, and its FUSE driver's
    /// process (if a driver serves it); otherwise forget it.
    pub(crate) fn record_mount_result(&self, host_path: &Path, mounted: bool) {
        let top = if mounted {
            procfs::own_mounts()
                .into_iter()
                .rev()
                .find(|m| m.mount_point == host_path)
        } else {
            None
        };
        let driver = match &top {
            Some(_) => self
                .fuse_drivers()
                .get(host_path)
                .map(|p| p.pid())
                .and_then(|pid| {
                    procfs::process_record(pid, &format!("fuse:{}", host_path.display()))
                }),
            None => None,
        };
        if let Some(a) = self.tracker.lock().as_mut() {
            let pending = a
                .mounts
                .iter()
                .rposition(|m| m.host_path == host_path && m.mounted.is_none());
            match (top, pending) {
                (Some(m), Some(i)) => {
                    a.mounts[i].mounted = Some(MountedAs {
                        dev: m.dev,
                        fstype: m.fstype,
                        source: m.source,
                    });
                }
                (None, Some(i)) => {
                    a.mounts.remove(i);
                }
                _ => {}
            }
            if let Some(d) = driver {
                a.fuse.retain(|p| p.role != d.role);
                a.fuse.push(d);
            }
        }
        self.record_state();
    }

    /// Something was unmounted at `host_path`: forget its records if nothing is
    /// mounted there any more.
    pub(crate) fn record_unmount(&self, host_path: &Path) {
        let still = procfs::own_mounts()
            .iter()
            .any(|m| m.mount_point == host_path);
        if !still && let Some(a) = self.tracker.lock().as_mut() {
            a.mounts.retain(|m| m.host_path != host_path);
            let role = format!("fuse:{}", host_path.display());
            a.fuse.retain(|p| p.role != role);
        }
        self.record_state();
    }

    /// The guest tree was bind-mounted on `host_path` (`mount_local`): record
    /// it with what the kernel shows there.
    pub(crate) fn record_local_mount(&self, host_path: &Path) {
        let top = procfs::own_mounts()
            .into_iter()
            .rev()
            .find(|m| m.mount_point == host_path);
        if let (Some(m), Some(a)) = (top, self.tracker.lock().as_mut()) {
            a.local.push(MountRecord {
                host_path: host_path.to_path_buf(),
                device: "/".into(),
                source: PathBuf::from(&m.source),
                fstype: m.fstype.clone(),
                fuse_driver: None,
                mounted: Some(MountedAs {
                    dev: m.dev,
                    fstype: m.fstype,
                    source: m.source,
                }),
            });
        }
        self.record_state();
    }

    /// The local mount on `host_path` is gone.
    pub(crate) fn record_local_unmount(&self, host_path: &Path) {
        if let Some(a) = self.tracker.lock().as_mut() {
            a.local.retain(|m| m.host_path != host_path);
        }
        self.record_state();
    }

    /// After an LVM call: record the session's device-mapper devices (only where
    /// the session can activate; metadata-only sessions activate nothing).
    pub(crate) fn record_lvm_activity(&self) {
        let activates = self
            .lvm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|l| l.mode() == vmcraft_lvm::Mode::Activate);
        if activates {
            self.record_dm_devices();
        }
    }

    /// Record the session's device-mapper devices (its active LVs and open LUKS
    /// mappings) and the md arrays on its devices, so that the reaper can remove
    /// them after a crash.
    pub(crate) fn record_dm_devices(&self) {
        let names: Vec<String> = self
            .session_nodes()
            .into_iter()
            .chain(
                self.lv_windows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .map(|w| w.device.path().to_path_buf()),
            )
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let dm = session_dm_devices(&self.config.sysfs_root.join("block"), &names);
        let md: Vec<MdRecord> =
            crate::stacked::stacked_on(&self.config.sysfs_root.join("block"), &names)
                .into_iter()
                .filter(|s| s.is_md())
                .map(|s| MdRecord {
                    name: s.kernel,
                    dev: s.dev,
                })
                .collect();
        let mut vgs: Vec<String> = dm
            .iter()
            .filter(|d| d.uuid.starts_with("LVM-"))
            .map(|d| vg_of_dm_name(&d.name))
            .collect();
        vgs.sort();
        vgs.dedup();
        if let Some(a) = self.tracker.lock().as_mut() {
            a.lvm = LvmRecord { vgs, dm };
            a.md = md;
        }
        self.record_state();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_names_give_their_vg() {
        assert_eq!(vg_of_dm_name("vg-root"), "vg");
        assert_eq!(vg_of_dm_name("my--vg-my--lv"), "my-vg");
        assert_eq!(vg_of_dm_name("a--b--c-d"), "a-b-c");
    }

    #[test]
    fn only_lvs_and_crypt_mappings_built_on_session_devices_are_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let mk = |dm: &str, name: &str, uuid: &str, slaves: &[&str]| {
            let d = tmp.path().join(dm);
            std::fs::create_dir_all(d.join("dm")).unwrap();
            std::fs::create_dir_all(d.join("slaves")).unwrap();
            std::fs::write(d.join("dm/name"), format!("{name}\n")).unwrap();
            std::fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
            std::fs::write(d.join("dev"), "253:0\n").unwrap();
            for s in slaves {
                std::fs::create_dir(d.join("slaves").join(s)).unwrap();
            }
        };
        mk("dm-0", "guest-root", "LVM-aaaabbbb", &["loop3p2"]);
        mk("dm-1", "rhel-root", "LVM-ccccdddd", &["sda2"]);
        mk("dm-2", "mixed-lv", "LVM-eeeeffff", &["loop3p2", "sdb"]);
        mk("dm-3", "crypt", "CRYPT-LUKS2-1234", &["loop3p2"]);
        mk("dm-4", "inner-lv", "LVM-gggghhhh", &["dm-3"]);
        mk("dm-5", "host-crypt", "CRYPT-LUKS2-5678", &["sda3"]);
        mk("dm-6", "other", "PART-x", &["loop3p2"]);
        let session = vec!["loop3".to_string(), "loop3p2".to_string()];
        let found = session_dm_devices(tmp.path(), &session);
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.name.as_str(), d.uuid.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("crypt", "CRYPT-LUKS2-1234"),
                ("guest-root", "LVM-aaaabbbb"),
                ("inner-lv", "LVM-gggghhhh")
            ]
        );
    }

    #[test]
    fn nbd_lock_files_follow_the_device_number() {
        let p = nbd_lock_file(Path::new("/dev/nbd7")).unwrap();
        assert!(p.ends_with("vmcraft-nbd7.lock"), "{}", p.display());
        assert_eq!(nbd_lock_file(Path::new("/dev/loop7")), None);
    }
}
