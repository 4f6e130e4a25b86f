//! The handle's settings and state calls: libguestfs's appliance properties
//! (`set-memsize`, `set-smp`, `set-network`, `set-backend`, ...), accepted and
//! remembered so scripts written for libguestfs run unchanged, with no effect
//! since VMCraft has no appliance; the settings that do mean something here
//! (`set-tmpdir`, `set-trace`, `umask`, `user-cancel`); the state queries
//! (`is-ready`, `is-config`, `get-state`, `version`, `max-disks`, `device-name`);
//! `parse-environment`; scratch drives (`add-drive-scratch`); `sync` and
//! `drop-caches`.

use std::path::PathBuf;

use crate::DriveOpts;
use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// libguestfs's default appliance memory (MiB), reported until set.
pub const DEFAULT_MEMSIZE: i32 = 1280;

/// The most drives a session takes (`/dev/sda` ... `/dev/sdiu`), as libguestfs's
/// direct backend allows.
pub const MAX_DISKS: i32 = 255;

/// What `set-*` remembered.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) hv: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) append: Option<String>,
    pub(crate) autosync: bool,
    pub(crate) verbose: bool,
    pub(crate) memsize: i32,
    pub(crate) trace: bool,
    pub(crate) recovery_proc: bool,
    pub(crate) network: bool,
    pub(crate) backend: String,
    pub(crate) pgroup: bool,
    pub(crate) smp: i32,
    pub(crate) tmpdir: Option<PathBuf>,
    pub(crate) cachedir: Option<PathBuf>,
    pub(crate) program: String,
    pub(crate) backend_settings: Vec<String>,
    pub(crate) identifier: String,
    pub(crate) selinux: bool,
    pub(crate) direct: bool,
    pub(crate) umask: u32,
    pub(crate) hv_config: Vec<(String, Option<String>)>,
    pub(crate) scratch: Vec<PathBuf>,
    /// Host files a tool made for the session's work (btrfs scrub records),
    /// removed with the scratch files.
    pub(crate) host_files: Vec<PathBuf>,
    /// The devices `lvm_set_filter` lets LVM see, by canonical name (`None`:
    /// every session device).
    pub(crate) lvm_filter: Option<Vec<String>>,
}

impl Default for Settings {
    fn default() -> Self {
        let program = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        Settings {
            hv: None,
            path: None,
            append: None,
            autosync: true,
            verbose: false,
            memsize: DEFAULT_MEMSIZE,
            trace: false,
            recovery_proc: true,
            network: false,
            backend: "direct".into(),
            pgroup: false,
            smp: 1,
            tmpdir: None,
            cachedir: None,
            program,
            backend_settings: Vec::new(),
            identifier: String::new(),
            selinux: false,
            direct: false,
            umask: 0o022,
            hv_config: Vec::new(),
            scratch: Vec::new(),
            host_files: Vec::new(),
            lvm_filter: None,
        }
    }
}

/// libguestfs's handle states, as `get-state` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleState {
    /// Before launch (0).
    Config = 0,
    /// Launching (1).
    Launching = 1,
    /// Launched and ready for calls (2).
    Ready = 2,
}

/// `version`'s struct: VMCraft's own version (not a libguestfs version).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    /// Major version.
    pub major: i64,
    /// Minor version.
    pub minor: i64,
    /// Release.
    pub release: i64,
    /// Anything after the numbers (`-rc1`), and the program's name.
    pub extra: String,
}

macro_rules! remembered_bool {
    ($($(#[$doc:meta])* $set:ident / $get:ident => $field:ident;)*) => {$(
        $(#[$doc])*
        pub fn $set(&self, value: bool) -> Result<()> {
            self.settings().$field = value;
            Ok(())
        }

        #[doc = concat!("What [`VMCraft::", stringify!($set), "`] remembered (`", stringify!($get), "`).")]
        pub fn $get(&self) -> Result<bool> {
            Ok(self.settings().$field)
        }
    )*};
}

macro_rules! remembered_string {
    ($($(#[$doc:meta])* $set:ident / $get:ident => $field:ident, $default:expr;)*) => {$(
        $(#[$doc])*
        pub fn $set(&self, value: Option<&str>) -> Result<()> {
            self.settings().$field = value.map(String::from);
            Ok(())
        }

        #[doc = concat!("What [`VMCraft::", stringify!($set), "`] remembered, else the default (`", stringify!($get), "`).")]
        pub fn $get(&self) -> Result<String> {
            Ok(self.settings().$field.clone().unwrap_or_else(|| String::from($default)))
        }
    )*};
}

impl VMCraft {
    pub(crate) fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether calls are traced (`set_trace`), and the handle's identifier.
    pub(crate) fn trace_prefix(&self) -> Option<String> {
        let s = self.settings();
        s.trace.then(|| {
            if s.identifier.is_empty() {
                String::new()
            } else {
                format!("{}: ", s.identifier)
            }
        })
    }

    /// The temp directory a launch makes the session directory in: the one
    /// `set_tmpdir` gave, else the configuration's.
    pub(crate) fn effective_tmpdir(&self) -> Option<PathBuf> {
        self.settings()
            .tmpdir
            .clone()
            .or_else(|| self.config.tmpdir.clone())
    }

    remembered_bool! {
        /// Remembered (`set_autosync`): VMCraft always syncs what it wrote when the
        /// session shuts down.
        set_autosync / get_autosync => autosync;
        /// Remembered (`set_verbose`); the command line's `-v` and `RUST_LOG` set
        /// what VMCraft logs.
        set_verbose / get_verbose => verbose;
        /// Trace every call made through the call table (the command line, bindings)
        /// on standard error, with its arguments and result (`set_trace`).
        set_trace / get_trace => trace;
        /// Remembered (`set_recovery_proc`): the processes a session starts die with
        /// it whatever this says.
        set_recovery_proc / get_recovery_proc => recovery_proc;
        /// Remembered, no effect: there is no appliance network (`set_network`).
        set_network / get_network => network;
        /// Remembered, no effect (`set_pgroup`): VMCraft's tools run in their own
        /// process groups whatever this says.
        set_pgroup / get_pgroup => pgroup;
        /// Remembered, no effect: no appliance to boot with SELinux (`set_selinux`).
        set_selinux / get_selinux => selinux;
        /// Remembered, no effect: no appliance console (`set_direct`).
        set_direct / get_direct => direct;
    }

    remembered_string! {
        /// Remembered, no effect: no appliance to search for (`set_path`).
        set_path / get_path => path, "";
    }

    /// Remembered, no effect: no appliance kernel command line (`set_append`).
    pub fn set_append(&self, append: Option<&str>) -> Result<()> {
        self.settings().append = append.map(String::from);
        Ok(())
    }

    /// What [`VMCraft::set_append`] remembered, `None` if nothing (`get_append`).
    pub fn get_append(&self) -> Result<Option<String>> {
        Ok(self.settings().append.clone())
    }

    /// Remembered, no effect: no hypervisor runs (`set_hv`).
    pub fn set_hv(&self, hv: &str) -> Result<()> {
        self.settings().hv = Some(hv.to_string());
        Ok(())
    }

    /// The old name of [`VMCraft::set_hv`]; `None` restores the default
    /// (`set_qemu`).
    pub fn set_qemu(&self, hv: Option<&str>) -> Result<()> {
        self.settings().hv = hv.map(String::from);
        Ok(())
    }

    /// What [`VMCraft::set_hv`] remembered, else the binary libguestfs would use
    /// (`get_hv`).
    pub fn get_hv(&self) -> Result<String> {
        Ok(self
            .settings()
            .hv
            .clone()
            .unwrap_or_else(|| "qemu-system-x86_64".into()))
    }

    /// Remembered, no effect: VMCraft needs no appliance memory (`set_memsize`,
    /// in MiB; at least 128 as libguestfs requires).
    pub fn set_memsize(&self, memsize: i32) -> Result<()> {
        if memsize < 128 {
            return Err(Error::invalid(
                "set_memsize",
                memsize,
                "memory size must be at least 128 MiB",
            ));
        }
        self.settings().memsize = memsize;
        Ok(())
    }

    /// What [`VMCraft::set_memsize`] remembered, else libguestfs's default
    /// (`get_memsize`).
    pub fn get_memsize(&self) -> Result<i32> {
        Ok(self.settings().memsize)
    }

    /// Remembered, no effect: no appliance CPUs (`set_smp`, at least 1).
    pub fn set_smp(&self, smp: i32) -> Result<()> {
        if smp < 1 {
            return Err(Error::invalid("set_smp", smp, "must be at least 1"));
        }
        self.settings().smp = smp;
        Ok(())
    }

    /// What [`VMCraft::set_smp`] remembered (`get_smp`).
    pub fn get_smp(&self) -> Result<i32> {
        Ok(self.settings().smp)
    }

    /// Remembered, no effect: VMCraft attaches images itself (`set_backend`;
    /// `set_attach_method` is its old name).
    pub fn set_backend(&self, backend: &str) -> Result<()> {
        if backend.is_empty() {
            return Err(Error::invalid("set_backend", "\"\"", "backend is empty"));
        }
        self.settings().backend = backend.to_string();
        Ok(())
    }

    /// What [`VMCraft::set_backend`] remembered, else `direct` (`get_backend`).
    pub fn get_backend(&self) -> Result<String> {
        Ok(self.settings().backend.clone())
    }

    /// Where the next launch makes its session directory (`set_tmpdir`; `None`
    /// for the configuration's, else `$TMPDIR`, else `/tmp`). Refused after
    /// launch, and for a path that is not a directory.
    pub fn set_tmpdir(&self, tmpdir: Option<&str>) -> Result<()> {
        if let Some(dir) = tmpdir
            && !std::path::Path::new(dir).is_dir()
        {
            return Err(Error::invalid("set_tmpdir", dir, "not a directory"));
        }
        if self.is_launched() {
            return Err(Error::call(
                ErrorKind::AlreadyLaunched,
                "set_tmpdir",
                tmpdir.unwrap_or(""),
                "the session directory is made at launch: set it before",
            ));
        }
        self.settings().tmpdir = tmpdir.map(PathBuf::from);
        Ok(())
    }

    /// The temp directory launches use (`get_tmpdir`).
    pub fn get_tmpdir(&self) -> Result<String> {
        Ok(self
            .effective_tmpdir()
            .unwrap_or_else(std::env::temp_dir)
            .to_string_lossy()
            .into_owned())
    }

    /// Remembered, no effect: no appliance to cache (`set_cachedir`).
    pub fn set_cachedir(&self, cachedir: Option<&str>) -> Result<()> {
        self.settings().cachedir = cachedir.map(PathBuf::from);
        Ok(())
    }

    /// What [`VMCraft::set_cachedir`] remembered, else the temp directory
    /// (`get_cachedir`).
    pub fn get_cachedir(&self) -> Result<String> {
        let set = self.settings().cachedir.clone();
        match set {
            Some(d) => Ok(d.to_string_lossy().into_owned()),
            None => self.get_tmpdir(),
        }
    }

    /// The directory for sockets and PID files (`get_sockdir`):
    /// `$XDG_RUNTIME_DIR`, else `/tmp`, as libguestfs says.
    pub fn get_sockdir(&self) -> Result<String> {
        Ok(std::env::var("XDG_RUNTIME_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/tmp".into()))
    }

    /// Remembered: the program name (`set_program`; the executable's name by
    /// default).
    pub fn set_program(&self, program: &str) -> Result<()> {
        self.settings().program = program.to_string();
        Ok(())
    }

    /// What [`VMCraft::set_program`] remembered (`get_program`).
    pub fn get_program(&self) -> Result<String> {
        Ok(self.settings().program.clone())
    }

    /// Remembered, no effect: the handle identifier, which traces are prefixed
    /// with (`set_identifier`; letters, digits, `_` and `-` only).
    pub fn set_identifier(&self, identifier: &str) -> Result<()> {
        if !identifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::invalid(
                "set_identifier",
                identifier,
                "only letters, digits, _ and - are allowed",
            ));
        }
        self.settings().identifier = identifier.to_string();
        Ok(())
    }

    /// What [`VMCraft::set_identifier`] remembered (`get_identifier`).
    pub fn get_identifier(&self) -> Result<String> {
        Ok(self.settings().identifier.clone())
    }

    /// Remembered, no effect: backend settings strings (`set_backend_settings`).
    pub fn set_backend_settings(&self, settings: &[&str]) -> Result<()> {
        self.settings().backend_settings = settings.iter().map(|s| s.to_string()).collect();
        Ok(())
    }

    /// What was remembered (`get_backend_settings`).
    pub fn get_backend_settings(&self) -> Result<Vec<String>> {
        Ok(self.settings().backend_settings.clone())
    }

    /// The value of backend setting `name` (`NAME=VALUE` gives `VALUE`, a bare
    /// `NAME` gives `1`), an error if it is not set (`get_backend_setting`).
    pub fn get_backend_setting(&self, name: &str) -> Result<String> {
        let s = self.settings();
        for item in &s.backend_settings {
            if item == name {
                return Ok("1".into());
            }
            if let Some(v) = item.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                return Ok(v.to_string());
            }
        }
        Err(Error::call(
            ErrorKind::InvalidArgument,
            "get_backend_setting",
            name,
            "setting not found",
        ))
    }

    /// Set backend setting `name` to `val`, replacing an earlier value
    /// (`set_backend_setting`).
    pub fn set_backend_setting(&self, name: &str, val: &str) -> Result<()> {
        self.clear_backend_setting(name)?;
        self.settings()
            .backend_settings
            .push(format!("{name}={val}"));
        Ok(())
    }

    /// Remove backend setting `name`; how many were removed
    /// (`clear_backend_setting`).
    pub fn clear_backend_setting(&self, name: &str) -> Result<i32> {
        let mut s = self.settings();
        let before = s.backend_settings.len();
        s.backend_settings.retain(|item| {
            item != name && !item.strip_prefix(name).is_some_and(|r| r.starts_with('='))
        });
        Ok((before - s.backend_settings.len()) as i32)
    }

    /// Remembered, no effect: a hypervisor parameter (`config`; `-` options
    /// only, as libguestfs checks).
    pub fn config_param(&self, hvparam: &str, hvvalue: Option<&str>) -> Result<()> {
        if !hvparam.starts_with('-') {
            return Err(Error::invalid(
                "config",
                hvparam,
                "parameter must begin with '-' character",
            ));
        }
        self.settings()
            .hv_config
            .push((hvparam.to_string(), hvvalue.map(String::from)));
        Ok(())
    }

    /// There is no hypervisor: always an error, as libguestfs answers when none
    /// runs (`get_pid`).
    pub fn get_pid(&self) -> Result<i32> {
        Err(Error::call(
            ErrorKind::Unsupported,
            "get_pid",
            "",
            "no hypervisor is running: VMCraft has no appliance",
        ))
    }

    /// Whether the session is launched and usable (`is_ready`).
    pub fn is_ready(&self) -> Result<bool> {
        Ok(self.is_launched())
    }

    /// Whether the session is before launch (`is_config`).
    pub fn is_config(&self) -> Result<bool> {
        let st = self.read_state();
        Ok(!st.launched && !st.shut_down)
    }

    /// Always false: launching happens inside the `launch` call (`is_launching`).
    pub fn is_launching(&self) -> Result<bool> {
        Ok(false)
    }

    /// Always false: no call is left running between calls (`is_busy`).
    pub fn is_busy(&self) -> Result<bool> {
        Ok(false)
    }

    /// The handle's state, as libguestfs numbers it (`get_state`).
    pub fn get_state(&self) -> Result<i32> {
        Ok(if self.is_launched() {
            HandleState::Ready
        } else {
            HandleState::Config
        } as i32)
    }

    /// VMCraft's version (`version`): its own numbers, not a libguestfs version;
    /// `extra` names it.
    pub fn version(&self) -> Result<Version> {
        let v = env!("CARGO_PKG_VERSION");
        let (nums, pre) = v.split_once('-').unwrap_or((v, ""));
        let mut it = nums.split('.').map(|n| n.parse::<i64>().unwrap_or(0));
        Ok(Version {
            major: it.next().unwrap_or(0),
            minor: it.next().unwrap_or(0),
            release: it.next().unwrap_or(0),
            extra: if pre.is_empty() {
                "vmcraft".into()
            } else {
                format!("-{pre} vmcraft")
            },
        })
    }

    /// The most drives a session takes (`max_disks`).
    pub fn max_disks(&self) -> Result<i32> {
        Ok(MAX_DISKS)
    }

    /// The name of drive `index` (0 is `/dev/sda`), an error if there is no such
    /// drive (`device_name`).
    pub fn device_name(&self, index: i32) -> Result<String> {
        let st = self.read_state();
        usize::try_from(index)
            .ok()
            .and_then(|i| st.drives.get(i))
            .map(|d| d.name.clone())
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::NoSuchDevice,
                    "device_name",
                    index,
                    "no drive with this index",
                )
            })
    }

    /// Cancel the running long call, from any thread (`user_cancel`): the
    /// handle's cancel token is cancelled, so later long calls fail too.
    pub fn user_cancel(&self) -> Result<()> {
        self.cancel_token().cancel();
        Ok(())
    }

    /// Set the umask new guest files and directories are created with (`umask`,
    /// 0..=0o777); returns the previous one. 022 to begin with, as libguestfs's
    /// appliance.
    pub fn umask(&self, mask: i32) -> Result<i32> {
        if !(0..=0o777).contains(&mask) {
            return Err(Error::invalid(
                "umask",
                format!("{mask:o}"),
                "umask must be between 0 and 0777",
            ));
        }
        let mut s = self.settings();
        let old = s.umask;
        s.umask = mask as u32;
        Ok(old as i32)
    }

    /// The umask new guest files are created with (`get_umask`).
    pub fn get_umask(&self) -> Result<i32> {
        Ok(self.settings().umask as i32)
    }

    /// Read the libguestfs environment variables into the settings
    /// (`parse_environment`): `LIBGUESTFS_TRACE`, `LIBGUESTFS_DEBUG`,
    /// `LIBGUESTFS_PATH`, `LIBGUESTFS_HV`, `LIBGUESTFS_BACKEND` (or
    /// `LIBGUESTFS_ATTACH_METHOD`), `LIBGUESTFS_BACKEND_SETTINGS`,
    /// `LIBGUESTFS_MEMSIZE`, `LIBGUESTFS_APPEND`, `LIBGUESTFS_TMPDIR`/`TMPDIR`
    /// and `LIBGUESTFS_CACHEDIR`.
    pub fn parse_environment(&self) -> Result<()> {
        let env: Vec<String> = std::env::vars_os()
            .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v.to_str()?)))
            .collect();
        let refs: Vec<&str> = env.iter().map(String::as_str).collect();
        self.parse_environment_list(&refs)
    }

    /// As [`VMCraft::parse_environment`], from a list of `NAME=VALUE` strings
    /// (`parse_environment_list`).
    pub fn parse_environment_list(&self, environment: &[&str]) -> Result<()> {
        let get = |name: &str| {
            environment
                .iter()
                .rev()
                .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        };
        let truthy = |v: &str| v == "1";
        if let Some(v) = get("LIBGUESTFS_TRACE") {
            self.set_trace(truthy(v))?;
        }
        if let Some(v) = get("LIBGUESTFS_DEBUG") {
            self.set_verbose(truthy(v))?;
        }
        if let Some(v) = get("LIBGUESTFS_PATH").filter(|v| !v.is_empty()) {
            self.set_path(Some(v))?;
        }
        if let Some(v) = get("LIBGUESTFS_HV").or(get("LIBGUESTFS_QEMU")) {
            self.set_hv(v)?;
        }
        if let Some(v) = get("LIBGUESTFS_APPEND") {
            self.set_append(Some(v))?;
        }
        if let Some(v) = get("LIBGUESTFS_MEMSIZE") {
            let n: i32 = v.parse().map_err(|_| {
                Error::invalid("parse_environment", v, "LIBGUESTFS_MEMSIZE is not a number")
            })?;
            self.set_memsize(n)?;
        }
        if let Some(v) = get("LIBGUESTFS_BACKEND").or(get("LIBGUESTFS_ATTACH_METHOD")) {
            self.set_backend(v)?;
        }
        if let Some(v) = get("LIBGUESTFS_BACKEND_SETTINGS") {
            let items: Vec<&str> = v.split(':').filter(|s| !s.is_empty()).collect();
            self.set_backend_settings(&items)?;
        }
        if let Some(v) = get("LIBGUESTFS_TMPDIR")
            .or(get("TMPDIR"))
            .filter(|v| !v.is_empty())
            && !self.is_launched()
        {
            self.set_tmpdir(Some(v))?;
        }
        if let Some(v) = get("LIBGUESTFS_CACHEDIR").filter(|v| !v.is_empty()) {
            self.set_cachedir(Some(v))?;
        }
        Ok(())
    }

    /// Add a new, empty, sparse raw drive of `size` bytes (`add_drive_scratch`):
    /// a private file (mode 0600) in the temp directory, removed when the session
    /// shuts down, with an optional `label` (as `add_drive_opts`'s: 1 to 20 ASCII
    /// letters, unique, for `list_disk_labels` and `remove_drive`). Returns the
    /// drive's name.
    pub fn add_drive_scratch(&self, size: i64, label: Option<&str>) -> Result<String> {
        if size <= 0 {
            return Err(Error::invalid(
                "add_drive_scratch",
                size,
                "size must be positive",
            ));
        }
        let dir = self.effective_tmpdir().unwrap_or_else(std::env::temp_dir);
        let (path, f) =
            crate::private_file::create(&dir, "vmcraft-scratch", ".img").map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Io,
                    "add_drive_scratch",
                    dir.display(),
                    "cannot create a scratch file",
                    e,
                )
            })?;
        let sized = f.set_len(size as u64);
        drop(f);
        if let Err(e) = sized {
            let _ = std::fs::remove_file(&path);
            return Err(Error::call_with_source(
                ErrorKind::Io,
                "add_drive_scratch",
                path.display(),
                "cannot size",
                e,
            ));
        }
        let opts = DriveOpts {
            format: Some(vmcraft_nbd::Format::Raw),
            label: label.map(str::to_string),
            ..Default::default()
        };
        match self.add_drive_opts(&path, opts) {
            Ok(name) => {
                self.settings().scratch.push(path);
                Ok(name)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Remove the scratch files of [`VMCraft::add_drive_scratch`] and the host
    /// files tools made for the session (at shutdown, after the drives are
    /// detached).
    pub(crate) fn remove_scratch_files(&self) {
        let (files, made) = {
            let mut s = self.settings();
            (
                std::mem::take(&mut s.scratch),
                std::mem::take(&mut s.host_files),
            )
        };
        for f in files {
            if let Err(e) = std::fs::remove_file(&f) {
                tracing::warn!(file = %f.display(), error = %e, "cannot remove a scratch drive");
            }
        }
        for f in made {
            match std::fs::remove_file(&f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %f.display(), error = %e, "cannot remove a host file a tool made")
                }
            }
        }
    }

    /// Write out what the session's filesystems and drives hold (`sync`): every
    /// mounted filesystem is synced (`syncfs`), then every attached drive's
    /// buffers are flushed. Other filesystems of the host are not touched.
    pub fn sync(&self) -> Result<()> {
        for mp in self.mounted_host_paths() {
            let dir = std::fs::File::open(&mp).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, "sync", mp.display(), "cannot open", e)
            })?;
            nix::unistd::syncfs(&dir).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, "sync", mp.display(), "syncfs", e)
            })?;
        }
        for dev in self.attached_drive_nodes() {
            let f = std::fs::File::open(&dev).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, "sync", dev.display(), "cannot open", e)
            })?;
            f.sync_all().map_err(|e| {
                Error::call_with_source(ErrorKind::Io, "sync", dev.display(), "fsync", e)
            })?;
        }
        Ok(())
    }

    /// [`VMCraft::sync`], then drop what the kernel caches of the session's drives
    /// (`drop_caches`; `whattodrop` 1, 2 or 3 as `/proc/sys/vm/drop_caches` takes
    /// it). Only the session's own drives' buffers are dropped (BLKFLSBUF), never
    /// the whole host's caches.
    pub fn drop_caches(&self, whattodrop: i32) -> Result<()> {
        if !(1..=3).contains(&whattodrop) {
            return Err(Error::invalid(
                "drop_caches",
                whattodrop,
                "must be 1, 2 or 3",
            ));
        }
        self.sync()?;
        for dev in self.attached_drive_nodes() {
            vmcraft_block::blockdev_flushbufs(&dev).map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Io,
                    "drop_caches",
                    dev.display(),
                    "cannot drop its buffers",
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// The host paths of the session's mounts.
    fn mounted_host_paths(&self) -> Vec<PathBuf> {
        self.mounts().iter().map(|m| m.host_path.clone()).collect()
    }

    /// The host nodes of the attached drives.
    fn attached_drive_nodes(&self) -> Vec<PathBuf> {
        self.read_state()
            .drives
            .iter()
            .filter_map(|d| d.attachment.as_ref().map(|a| a.device().to_path_buf()))
            .collect()
    }
}
