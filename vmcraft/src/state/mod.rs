//! # The session state file
//!
//! Every launched session has a private directory, `vmcraft-PID-XXXXXXXX` (mode
//! 0700), in the configured temp directory ([`crate::Config::tmpdir`], else
//! `$TMPDIR`, else `/tmp`). The session holds an exclusive `flock` on that
//! directory for its whole life and keeps in it a small JSON file, `state.json`,
//! naming everything the kernel would keep if the process died without shutting
//! down: mounts, loop devices, attached images and their daemons, FUSE drivers,
//! LVM activations and lock files. The file is replaced atomically
//! (`state.json.tmp`, then `rename`) on every change, so a reader sees one whole
//! version or the previous one, never a torn write. [`crate::cleanup_stale_sessions`]
//! reads it once the owner is gone and undoes what it names.
//!
//! ```text
//! $TMPDIR/vmcraft-4242-1a2b3c4d/    0700; flock(LOCK_EX) held by the owner
//!   state.json                      this file
//!   root/                           the guest's / (and everything mounted below it)
//!   inspect/sda1/                   private mounts of inspection
//!   run/vmcraft-qsd-XXXXXX/         qemu-storage-daemon: FUSE export, QMP socket, pid file
//!   vmcraft-lvm-XXXXXX/             lvm2's private LVM_SYSTEM_DIR (lvm.conf, locks, backups)
//! ```
//!
//! ## Format (version 1)
//!
//! Every field is always written; readers ignore fields they do not know.
//!
//! | field | meaning |
//! |---|---|
//! | `version` | `1` |
//! | `owner` | the session's process: `pid`, `start_time` (clock ticks since boot, `/proc/PID/stat` field 22, so a reused pid is not taken for the owner), `cmdline`, `role` `"owner"` |
//! | `boot_id` | `/proc/sys/kernel/random/boot_id` when written: after a reboot nothing recorded can still exist, and no recorded pid is trusted |
//! | `session_dir` | the directory itself (absolute) |
//! | `mount_namespace` | inode of the owner's `/proc/self/ns/mnt` (the `vmcraft` command runs in a private one) |
//! | `mounts` | in mount order, deepest last: `host_path`, the guest `device` name, the host `source` node, the `fstype` asked for, the `fuse_driver` if any, and `mounted`: what mountinfo showed once the mount was made (`dev` major:minor, `fstype`, `source`), `null` while it is being made |
//! | `loops` | loop devices the session bound, LV windows included, in the order made: `device`, `backing_file` (as sysfs names it), `dev` (major:minor), `diskseq` (changes whenever the device is bound again), `purpose` |
//! | `images` | attached drives: `drive` (`/dev/sda`), `image`, `backend` (`loop`, `storage-daemon`, `kernel-nbd`), `device`, `readonly`, `daemon` (the qemu-storage-daemon or qemu-nbd server as a process record), `export` (the daemon's FUSE export file), `daemon_mount_namespace` (where that export is mounted). A drive detached by `remove_drive` leaves the list (with its loop device and daemon) as soon as it is detached, so that a cleanup never touches what now belongs to someone else |
//! | `fuse_drivers` | FUSE driver processes (fusefat, ntfs-3g, fuse2fs): process records whose `role` is `fuse:HOST_PATH` |
//! | `lvm` | `vgs` the session activated and `dm`: the device-mapper devices on the session's devices (`name`, `uuid`, `dev`): its active LVs (`LVM-` UUIDs) and the LUKS mappings it opened (`CRYPT-` UUIDs), stacked ones included |
//! | `md` | md arrays on the session's devices (`name` as the kernel's `md127`, `dev`), whoever assembled them, as the session last looked (after its md, LUKS and activating LVM calls, and as it stops arrays at shutdown): an array the host's udev assembles on its own between two looks is not in the file until the next |
//! | `local_mounts` | the guest tree's bind mount on a host directory (`mount_local`), as mount records; the reaper removes it only if what is mounted there is still that mount |
//! | `lock_files` | NBD device lock files the session held |
//!
//! A process record is `{ "pid", "start_time", "cmdline": [argv...], "role" }`.
//!
//! ```
//! let text = r#"{"version":1,"owner":{"pid":4242,"start_time":123456,"cmdline":["vmcraft"],"role":"owner"},
//!   "boot_id":"0b3e1c52-1d1e-4c57-9a38-0d6d4b1f2a11","session_dir":"/tmp/vmcraft-4242-1a2b3c4d",
//!   "mount_namespace":4026531841,"mounts":[],"loops":[],"images":[],"fuse_drivers":[],
//!   "lvm":{"vgs":[],"dm":[]},"lock_files":[]}"#;
//! let s: vmcraft::state::SessionState = serde_json::from_str(text)?;
//! assert_eq!(s.owner.pid, 4242);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! ## What a killed session leaves, and who undoes it
//!
//! - The `vmcraft` command runs in a private mount namespace: when it dies the
//!   kernel unmounts its filesystems, and its loop devices (bound with autoclear)
//!   are released once nothing uses them. Processes it started that outlive it
//!   (a FUSE driver or qemu-storage-daemon that daemonized) keep that namespace,
//!   and so its mounts and loop devices, alive until they are stopped: that is what
//!   the reaper is for.
//! - A library caller killed with SIGKILL leaves its mounts in *its* mount
//!   namespace (the library never changes the caller's), the loop devices under
//!   them, a dead FUSE mount for each FUSE driver that died with it (or the driver
//!   itself, if it daemonized), qemu-storage-daemon if it outlived the caller, and
//!   this directory. The next [`crate::VMCraft::launch`] (any caller, same temp
//!   directory) or `vmcraft cleanup` undoes all of it.

mod procfs;
mod record;

pub(crate) use procfs::*;
pub(crate) use record::{SESSION_PROGRAMS, Tracker};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The state file's name in the session directory.
pub const STATE_FILE: &str = "state.json";

/// The format version written.
pub const FORMAT_VERSION: u32 = 1;

/// The largest state file read (a session with thousands of mounts fits easily).
pub const MAX_STATE_FILE: u64 = 16 << 20;

/// A process as the state file records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ProcessRecord {
    /// The process id.
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
    /// Its argument vector when recorded.
    pub cmdline: Vec<String>,
    /// What it is to the session (`owner`, `qemu-storage-daemon`, `fuse:/tmp/...`).
    pub role: String,
}

/// What mountinfo showed for a mount once it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MountedAs {
    /// `major:minor` of the mounted filesystem.
    pub dev: String,
    /// Its type as the kernel names it (`ext4`, `fuse.fusefat`, `fuseblk`).
    pub fstype: String,
    /// Its source as the kernel names it.
    pub source: String,
}

/// A mount the session made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MountRecord {
    /// Where it is mounted on the host (inside the session directory).
    pub host_path: PathBuf,
    /// The device by its libguestfs name (`/dev/sda1`).
    pub device: String,
    /// The host node mounted (`/dev/loop3p1`).
    pub source: PathBuf,
    /// The filesystem type asked for (`ext4`, `vfat`).
    pub fstype: String,
    /// The FUSE driver serving it, if any.
    pub fuse_driver: Option<String>,
    /// What the kernel shows for it; `None` while the mount is being made.
    pub mounted: Option<MountedAs>,
}

/// A loop device the session bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LoopRecord {
    /// `/dev/loopN`.
    pub device: PathBuf,
    /// The file behind it, as sysfs names it.
    pub backing_file: PathBuf,
    /// `major:minor`.
    pub dev: String,
    /// The disk sequence number when recorded (`/sys/block/loopN/diskseq`).
    pub diskseq: Option<u64>,
    /// What it is for (`drive /dev/sda`, `LV /dev/vg/lv`).
    pub purpose: String,
}

/// An attached drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ImageRecord {
    /// The drive's name (`/dev/sda`).
    pub drive: String,
    /// The image file.
    pub image: PathBuf,
    /// `loop`, `storage-daemon` or `kernel-nbd`.
    pub backend: String,
    /// The whole-disk device.
    pub device: PathBuf,
    /// Attached read-only.
    pub readonly: bool,
    /// The serving process (qemu-storage-daemon, or qemu-nbd's server).
    pub daemon: Option<ProcessRecord>,
    /// qemu-storage-daemon's FUSE export file (a mount of its own).
    pub export: Option<PathBuf>,
    /// The daemon's mount namespace (where its export is mounted; the command
    /// line starts daemons outside its private one).
    pub daemon_mount_namespace: Option<u64>,
}

/// A device-mapper device of the session: one of its LVs, or a LUKS mapping it
/// opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DmRecord {
    /// Its name (`vg-lv`, or the mapping's name).
    pub name: String,
    /// Its UUID (`LVM-` followed by the VG and LV UUIDs, or cryptsetup's
    /// `CRYPT-TYPE-UUID-NAME`).
    pub uuid: String,
    /// `major:minor`.
    pub dev: String,
}

/// LVM activations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LvmRecord {
    /// Volume groups with LVs the session activated.
    pub vgs: Vec<String>,
    /// Their device-mapper devices, and the LUKS mappings the session opened.
    pub dm: Vec<DmRecord>,
}

/// An md array on the session's devices (assembled or created by the session,
/// or by the host's udev from its members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MdRecord {
    /// Its kernel name (`md127`).
    pub name: String,
    /// `major:minor`.
    pub dev: String,
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SessionState {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The session's process.
    pub owner: ProcessRecord,
    /// The boot the record belongs to.
    pub boot_id: String,
    /// The session directory.
    pub session_dir: PathBuf,
    /// The owner's mount namespace (inode number of its `ns/mnt`).
    pub mount_namespace: Option<u64>,
    /// Mounts, in mount order.
    pub mounts: Vec<MountRecord>,
    /// Loop devices, in the order bound.
    pub loops: Vec<LoopRecord>,
    /// Attached drives.
    pub images: Vec<ImageRecord>,
    /// FUSE driver processes.
    pub fuse_drivers: Vec<ProcessRecord>,
    /// LVM activations.
    pub lvm: LvmRecord,
    /// md arrays on the session's devices.
    pub md: Vec<MdRecord>,
    /// The guest tree's local mount (`mount_local`), outside the session
    /// directory by nature.
    pub local_mounts: Vec<MountRecord>,
    /// Lock files held.
    pub lock_files: Vec<PathBuf>,
}

impl SessionState {
    /// Read a session directory's state file.
    ///
    /// ```no_run
    /// let s = vmcraft::state::SessionState::read("/tmp/vmcraft-4242-1a2b3c4d".as_ref())?;
    /// println!("owner {} holds {} mounts", s.owner.pid, s.mounts.len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read(session_dir: &Path) -> std::io::Result<SessionState> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(session_dir.join(STATE_FILE))?;
        let mut text = Vec::new();
        f.take(MAX_STATE_FILE + 1).read_to_end(&mut text)?;
        if text.len() as u64 > MAX_STATE_FILE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than {MAX_STATE_FILE} bytes"),
            ));
        }
        serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Whether `name` is a session directory's name: `vmcraft-PID-XXXXXXXX` (eight
/// lower-case hex digits). Returns the pid.
///
/// ```
/// use vmcraft::state::session_dir_pid;
/// assert_eq!(session_dir_pid("vmcraft-4242-1a2b3c4d"), Some(4242));
/// assert_eq!(session_dir_pid("vmcraft-lvm-abc"), None);
/// assert_eq!(session_dir_pid("vmcraft-cli-4242-1a2b3c4d"), None);
/// ```
pub fn session_dir_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("vmcraft-")?;
    let (pid, hex) = rest.split_once('-')?;
    let ok = !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && hex.len() == 8
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok { pid.parse().ok() } else { None }
}
