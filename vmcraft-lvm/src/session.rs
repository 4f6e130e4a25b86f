//! [`Lvm`]: one session's view of LVM: its runner, its device set, its private
//! lvm2 configuration, its activation [`Mode`] and its audit trail; and the one
//! place where lvm2 command lines are built and run.
//!
//! The libguestfs calls themselves live in [`crate::calls`] (creation, removal,
//! resizing, activation) and [`crate::listing`] (`pvs`, `vgs`, `lvs` and the full
//! forms); they are methods of [`Lvm`] too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use vmcraft_block::{Command, CommandRunner, Output};

use crate::activation::{Mode, udev_running};
use crate::audit::{AuditLog, AuditRecord};
use crate::dm::Sysfs;
use crate::error::{Error, ErrorKind, Result, from_block};
use crate::isolation::{SessionDevice, SystemDir, check_device_path, devices_arg, filter_config};

/// The first lvm2 release with the `--devices` option.
const DEVICES_OPTION_SINCE: (u32, u32, u32) = (2, 3, 12);

/// What the session's lvm2 build needs on its command lines, from its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lvm2Build {
    /// It takes `--devices` (2.03.12 and later).
    pub(crate) devices_option: bool,
    /// It is a 2.02 build, whose commands read and update the host's lvmetad
    /// cache unless told `global/use_lvmetad=0` (2.03 has no lvmetad and ignores
    /// the setting).
    pub(crate) lvmetad: bool,
}

impl Lvm2Build {
    /// The build of lvm2 `version` (`(2, 3, 16)` for 2.03.16).
    pub(crate) fn of(version: (u32, u32, u32)) -> Lvm2Build {
        Lvm2Build {
            devices_option: version >= DEVICES_OPTION_SINCE,
            lvmetad: (version.0, version.1) == (2, 2),
        }
    }
}

/// How a session is set up. `Default` detects everything.
///
/// ```
/// use std::time::Duration;
/// use vmcraft_lvm::{LvmOptions, Mode};
/// let opts = LvmOptions {
///     mode: Some(Mode::MetadataOnly),
///     timeout: Some(Duration::from_secs(60)),
///     ..LvmOptions::default()
/// };
/// assert_eq!(opts.program, "lvm");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvmOptions {
    /// Activation mode; `None` detects device-mapper ([`Mode::detect`]).
    pub mode: Option<Mode>,
    /// Whether to pass `--devices` (lvm2 2.03.12 and later); `None` asks
    /// `lvm version` once, before the first command that needs to know. When
    /// `lvm version` fails, no lvm2 command runs (the call fails and says so):
    /// the device list is never dropped for want of a version.
    pub devices_option: Option<bool>,
    /// Whether lvm2 is a 2.02 build that must be told `global/use_lvmetad=0` so
    /// that it neither reads nor updates the host's lvmetad cache; `None` asks
    /// `lvm version` (with `devices_option`), except that `devices_option:
    /// Some(true)` (2.03.12 and later) implies `false`.
    pub lvmetad: Option<bool>,
    /// Whether udev runs and lvm2 should synchronise with it; `None` detects it.
    pub udev: Option<bool>,
    /// The lvm2 program: a name looked up on the tool path, or a path.
    pub program: String,
    /// Kill an lvm2 command that runs longer than this (`None`: no limit).
    pub timeout: Option<Duration>,
    /// Where to make the private lvm2 directory (`None`: the system temp dir).
    pub state_parent: Option<PathBuf>,
    /// The sysfs tree device-mapper devices are read from (`None`: `/sys`); see
    /// [`crate::dm`].
    pub sysfs_root: Option<PathBuf>,
}

impl Default for LvmOptions {
    fn default() -> Self {
        LvmOptions {
            mode: None,
            devices_option: None,
            lvmetad: None,
            udev: None,
            program: "lvm".to_string(),
            timeout: Some(Duration::from_secs(300)),
            state_parent: None,
            sysfs_root: None,
        }
    }
}

/// An LVM session confined to a set of devices.
///
/// Every lvm2 command it runs sees only these devices (see [`crate::isolation`]),
/// uses a private configuration directory removed with the session, and is
/// recorded in the audit trail ([`Lvm::audit_log`]). The device set can be
/// replaced or extended at any time, e.g. when partitions appear after a
/// partition table was written. The session is `Send + Sync`; share it in an
/// `Arc`. Dropping a session that may have activated LVs, or whose devices
/// carry LVs activated by someone else (the host's udev rules start a VG as its
/// disks appear), deactivates its VGs (best effort), so no device-mapper device
/// keeps a guest disk busy.
///
/// ```no_run
/// use std::sync::Arc;
/// use vmcraft_block::SystemRunner;
/// use vmcraft_lvm::{Lvm, LvSize};
/// let lvm = Lvm::new(Arc::new(SystemRunner::new()), ["/dev/loop3", "/dev/loop4"])?;
/// lvm.pvcreate(&["/dev/loop3", "/dev/loop4"])?;
/// lvm.vgcreate("data", &["/dev/loop3", "/dev/loop4"])?;
/// lvm.lvcreate("home", "data", LvSize::PercentFree(100))?;
/// assert_eq!(lvm.lvs()?, ["/dev/data/home"]);
/// for record in lvm.audit_log() {
///     println!("{}", serde_json::to_string(&record).unwrap());
/// }
/// # Ok::<(), vmcraft_lvm::Error>(())
/// ```
pub struct Lvm {
    runner: Arc<dyn CommandRunner>,
    devices: RwLock<Vec<SessionDevice>>,
    system_dir: SystemDir,
    mode: Mode,
    udev: bool,
    program: String,
    timeout: Option<Duration>,
    /// What lvm2 needs on its command lines, once known.
    build: OnceLock<Lvm2Build>,
    /// What the caller said about it, over what `lvm version` says.
    devices_option: Option<bool>,
    lvmetad: Option<bool>,
    audit: AuditLog,
    /// Set once something may have been activated, so drop deactivates.
    maybe_active: AtomicBool,
    pub(crate) sysfs: Sysfs,
}

impl std::fmt::Debug for Lvm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lvm")
            .field("devices", &self.devices())
            .field("mode", &self.mode)
            .field("system_dir", &self.system_dir.path())
            .finish_non_exhaustive()
    }
}

impl Lvm {
    /// A session over `devices` with default options: device-mapper, udev and
    /// the `--devices` option detected.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vmcraft_block::testing::FakeRunner;
    /// use vmcraft_lvm::Lvm;
    /// let lvm = Lvm::new(Arc::new(FakeRunner::new()), ["/dev/vmcraft-doc-a"])?;
    /// assert_eq!(lvm.devices(), [std::path::PathBuf::from("/dev/vmcraft-doc-a")]);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn new<I, P>(runner: Arc<dyn CommandRunner>, devices: I) -> Result<Lvm>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        Self::with_options(runner, devices, LvmOptions::default())
    }

    /// A session over `devices` with these options.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vmcraft_block::testing::FakeRunner;
    /// use vmcraft_lvm::{Lvm, LvmOptions, Mode};
    /// let opts = LvmOptions { mode: Some(Mode::MetadataOnly), ..Default::default() };
    /// let lvm = Lvm::with_options(Arc::new(FakeRunner::new()), ["/dev/vmcraft-doc-a"], opts)?;
    /// assert_eq!(lvm.mode(), Mode::MetadataOnly);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn with_options<I, P>(
        runner: Arc<dyn CommandRunner>,
        devices: I,
        options: LvmOptions,
    ) -> Result<Lvm>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let devices = Self::checked_devices("lvm_session", devices)?;
        let udev = options.udev.unwrap_or_else(udev_running);
        let system_dir = SystemDir::create(options.state_parent.as_deref(), udev)?;
        let build = OnceLock::new();
        let known = match (options.devices_option, options.lvmetad) {
            (Some(true), lvmetad) => Some((true, lvmetad.unwrap_or(false))),
            (Some(false), Some(lvmetad)) => Some((false, lvmetad)),
            _ => None,
        };
        if let Some((devices_option, lvmetad)) = known {
            let _ = build.set(Lvm2Build {
                devices_option,
                lvmetad,
            });
        }
        Ok(Lvm {
            runner,
            devices: RwLock::new(devices),
            system_dir,
            mode: options.mode.unwrap_or_else(Mode::detect),
            udev,
            program: options.program,
            timeout: options.timeout,
            build,
            devices_option: options.devices_option,
            lvmetad: options.lvmetad,
            audit: AuditLog::default(),
            maybe_active: AtomicBool::new(false),
            sysfs: options.sysfs_root.map_or_else(Sysfs::host, Sysfs::new),
        })
    }

    fn checked_devices<I, P>(call: &'static str, devices: I) -> Result<Vec<SessionDevice>>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let mut out: Vec<SessionDevice> = Vec::new();
        for d in devices {
            let d: PathBuf = d.into();
            check_device_path(call, &d)?;
            if !out.iter().any(|o| o.given == d) {
                out.push(SessionDevice::new(d));
            }
        }
        Ok(out)
    }

    /// The activation mode: [`Mode::MetadataOnly`] where device-mapper is missing.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The session's devices, as given.
    pub fn devices(&self) -> Vec<PathBuf> {
        self.device_set().into_iter().map(|d| d.given).collect()
    }

    /// Replace the device set (for instance after partitions were added).
    /// Invalid paths are refused and leave the set as it was.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vmcraft_block::testing::FakeRunner;
    /// # use vmcraft_lvm::Lvm;
    /// let lvm = Lvm::new(Arc::new(FakeRunner::new()), ["/dev/vmcraft-doc-a"])?;
    /// lvm.set_devices(["/dev/vmcraft-doc-a1", "/dev/vmcraft-doc-a2"])?;
    /// assert_eq!(lvm.devices().len(), 2);
    /// assert!(lvm.set_devices(["relative/path"]).is_err());
    /// assert_eq!(lvm.devices().len(), 2);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn set_devices<I, P>(&self, devices: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let devices = Self::checked_devices("set_devices", devices)?;
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = devices;
        Ok(())
    }

    /// Add devices to the set (those already in it are ignored).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vmcraft_block::testing::FakeRunner;
    /// # use vmcraft_lvm::Lvm;
    /// let lvm = Lvm::new(Arc::new(FakeRunner::new()), Vec::<std::path::PathBuf>::new())?;
    /// lvm.add_devices(["/dev/vmcraft-doc-b"])?;
    /// lvm.add_devices(["/dev/vmcraft-doc-b", "/dev/vmcraft-doc-c"])?;
    /// assert_eq!(lvm.devices().len(), 2);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn add_devices<I, P>(&self, devices: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let new = Self::checked_devices("add_devices", devices)?;
        let mut set = self.devices.write().unwrap_or_else(|e| e.into_inner());
        for d in new {
            if !set.iter().any(|o| o.given == d.given) {
                set.push(d);
            }
        }
        Ok(())
    }

    /// The private directory given to lvm2 as `LVM_SYSTEM_DIR` (its `lvm.conf`,
    /// metadata backups and archives, lock files). Removed when the session drops.
    pub fn system_dir(&self) -> &Path {
        self.system_dir.path()
    }

    /// Every audit record so far, oldest first.
    pub fn audit_log(&self) -> Vec<AuditRecord> {
        self.audit.snapshot()
    }

    /// Take the audit records out of the session (sequence numbers go on).
    pub fn take_audit_log(&self) -> Vec<AuditRecord> {
        self.audit.take()
    }

    /// An lvm2 command for `subcommand`, with every isolation option of the
    /// session, for the lvm2 calls this crate does not wrap; run it with
    /// [`Lvm::run_lvm`] to have it audited.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vmcraft_block::testing::FakeRunner;
    /// # use vmcraft_lvm::{Lvm, LvmOptions, Mode};
    /// let opts = LvmOptions { mode: Some(Mode::MetadataOnly), devices_option: Some(true), ..Default::default() };
    /// let lvm = Lvm::with_options(Arc::new(FakeRunner::new()), ["/dev/vmcraft-doc-a"], opts)?;
    /// let cmd = lvm.lvm_command("lvrename")?.args(["vg0", "old", "new"]);
    /// assert_eq!(cmd.argv()[..6], ["lvm", "lvrename", "--config",
    ///     r#"devices/global_filter=["a|^/dev/vmcraft\\-doc\\-a$|","r|.*|"]"#,
    ///     "--devices", "/dev/vmcraft-doc-a"]);
    /// # Ok::<(), vmcraft_lvm::Error>(())
    /// ```
    pub fn lvm_command(&self, subcommand: &str) -> Result<Command> {
        self.command("lvm_command", "", subcommand, &self.device_set())
    }

    /// Run an lvm2 command (made with [`Lvm::lvm_command`]), recording it in the
    /// audit trail under `call`; a failure carries lvm2's stderr and the command
    /// line.
    pub fn run_lvm(&self, call: &'static str, subject: &str, cmd: &Command) -> Result<Output> {
        self.exec(call, subject, cmd).0
    }

    /// The device set, each path resolved afresh: a symlink or partition node may
    /// have appeared (or changed) since it was added.
    pub(crate) fn device_set(&self) -> Vec<SessionDevice> {
        self.devices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|d| SessionDevice::new(d.given.clone()))
            .collect()
    }

    pub(crate) fn note_activation(&self) {
        self.maybe_active.store(true, Ordering::Relaxed);
    }

    /// What lvm2 needs on its command lines, asked once (`lvm version`) for
    /// `call` about `subject`. A failure is the call's error and is not
    /// remembered: the next call asks again.
    fn build(&self, call: &'static str, subject: &str) -> Result<Lvm2Build> {
        if let Some(b) = self.build.get() {
            return Ok(*b);
        }
        let detected = self.detect_build(call, subject)?;
        let b = Lvm2Build {
            devices_option: self.devices_option.unwrap_or(detected.devices_option),
            lvmetad: self.lvmetad.unwrap_or(detected.lvmetad),
        };
        Ok(*self.build.get_or_init(|| b))
    }

    fn detect_build(&self, call: &'static str, subject: &str) -> Result<Lvm2Build> {
        const WHY: &str = "cannot run lvm2 confined to the session's devices";
        let cmd = self.environment(Command::new(&self.program).arg("version"));
        let out = self.exec("lvm_version", "", &cmd).0.map_err(|e| {
            let message = format!("{WHY}: `lvm version` failed: {}", e.message());
            e.reported_as(call, subject, message)
        })?;
        let stdout = out.stdout_str();
        let version = parse_lvm_version(&stdout).ok_or_else(|| {
            let first = stdout.lines().next().unwrap_or("").trim();
            Error::new(
                ErrorKind::BadOutput,
                call,
                subject,
                format!("{WHY}: `lvm version` printed no version ({first:?})"),
            )
        })?;
        Ok(Lvm2Build::of(version))
    }

    fn environment(&self, cmd: Command) -> Command {
        let mut cmd = cmd
            .env("LVM_SYSTEM_DIR", self.system_dir.path())
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .env("LC_ALL", "C");
        if !self.udev {
            cmd = cmd.env("DM_DISABLE_UDEV", "1");
        }
        if let Some(t) = self.timeout {
            cmd = cmd.timeout(t);
        }
        cmd
    }

    /// `lvm SUBCOMMAND` with the isolation and mode options for `devices`; a
    /// [`ErrorKind::NoDevices`] error when there are none.
    pub(crate) fn command(
        &self,
        call: &'static str,
        subject: &str,
        subcommand: &str,
        devices: &[SessionDevice],
    ) -> Result<Command> {
        if devices.is_empty() {
            return Err(Error::new(
                ErrorKind::NoDevices,
                call,
                subject,
                "the session has no devices",
            ));
        }
        let build = self.build(call, subject)?;
        let mut config = filter_config(devices);
        if build.lvmetad {
            // One --config: lvm2 refuses the option twice.
            config.push_str(" global/use_lvmetad=0");
        }
        let mut cmd = Command::new(&self.program)
            .arg(subcommand)
            .arg("--config")
            .arg(config);
        if build.devices_option {
            cmd = cmd.arg("--devices").arg(devices_arg(devices));
        }
        if self.mode == Mode::MetadataOnly {
            cmd = cmd.args(["--driverloaded", "n"]);
        }
        Ok(self.environment(cmd))
    }

    /// Run `cmd` for `call`, record it, and return its result and audit sequence
    /// number.
    pub(crate) fn exec(
        &self,
        call: &'static str,
        subject: &str,
        cmd: &Command,
    ) -> (Result<Output>, u64) {
        let started = Instant::now();
        let res = self.runner.run(cmd);
        let duration = started.elapsed();
        let (res, exit_status, error) = match res {
            Ok(out) => {
                let code = out.status.code();
                (Ok(out), code, None)
            }
            Err(e) => {
                let code = e
                    .command_failure()
                    .and_then(|f| f.status)
                    .and_then(|s| s.code());
                let e = from_block(call, subject, e);
                let text = vmcraft_block::error_chain(&e);
                (Err(e), code, Some(text))
            }
        };
        let seq = self.audit.push(AuditRecord {
            seq: 0,
            call: call.to_string(),
            subject: subject.to_string(),
            command: cmd.argv(),
            attempted: true,
            ok: res.is_ok(),
            exit_status,
            error,
            note: None,
            mode: self.mode,
            duration,
        });
        (res, seq)
    }

    /// Record a call refused before any command ran, and hand its error back.
    pub(crate) fn refuse(&self, err: Error) -> Error {
        self.audit.push(AuditRecord {
            seq: 0,
            call: err.call().to_string(),
            subject: err.subject().unwrap_or_default().to_string(),
            command: Vec::new(),
            attempted: false,
            ok: false,
            exit_status: None,
            error: Some(err.to_string()),
            note: None,
            mode: self.mode,
            duration: Duration::ZERO,
        });
        err
    }

    /// Record a call that needed no command (and says why).
    pub(crate) fn record_skip(&self, call: &'static str, subject: &str, note: &str) {
        self.audit.push(AuditRecord {
            seq: 0,
            call: call.to_string(),
            subject: subject.to_string(),
            command: Vec::new(),
            attempted: false,
            ok: true,
            exit_status: None,
            error: None,
            note: Some(note.to_string()),
            mode: self.mode,
            duration: Duration::ZERO,
        });
    }

    pub(crate) fn tolerate(&self, seq: u64, note: &str) {
        self.audit.tolerate(seq, note);
    }

    /// Pass a validation result through; a failure is recorded as a refused call.
    pub(crate) fn check<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| self.refuse(e))
    }

    /// The resolved path of `path` if it is one of `devices`, for lvm2's command
    /// line; otherwise an error naming the session's devices.
    pub(crate) fn session_device(
        &self,
        call: &'static str,
        devices: &[SessionDevice],
        path: &Path,
    ) -> Result<PathBuf> {
        check_device_path(call, path)?;
        if devices.is_empty() {
            return Err(Error::new(
                ErrorKind::NoDevices,
                call,
                path.display(),
                "the session has no devices",
            ));
        }
        match devices.iter().find(|d| d.matches(path)) {
            Some(d) => Ok(d.resolved.clone()),
            None => {
                let known: Vec<String> = devices
                    .iter()
                    .map(|d| d.given.display().to_string())
                    .collect();
                Err(Error::invalid(
                    call,
                    path.display(),
                    format!("not one of the session's devices ({})", known.join(", ")),
                ))
            }
        }
    }
}

impl Drop for Lvm {
    /// Deactivate what the session may have activated (best effort), so that no
    /// device-mapper device keeps a loop device or image busy. That includes LVs
    /// the host's udev rules activated on the session's devices (lvm2's event
    /// activation starts a guest's VG when its disks appear): they would keep the
    /// disks from being detached.
    fn drop(&mut self) {
        if self.mode != Mode::Activate {
            return;
        }
        if !self.maybe_active.load(Ordering::Relaxed) {
            let found = self.lvm_devices_on_session();
            if found.is_empty() {
                return;
            }
            let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
            tracing::info!(devices = ?names, "LVs active on the session's devices that it did not activate (host event activation); deactivating them");
        }
        // Never deactivate a device that another owner holds under one of the
        // session's LV names or UUIDs (a clone's, the host's).
        if let Err(e) = self.guard_dm("drop", "", &[], &[], None) {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "not deactivating the session's volume groups");
            return;
        }
        let devices = self.device_set();
        if let Ok(cmd) = self.command("drop", "", "vgchange", &devices) {
            let cmd = cmd.args(["--activate", "n"]);
            if let (Err(e), _) = self.exec("drop", "", &cmd) {
                tracing::warn!(error = %vmcraft_block::error_chain(&e), "deactivating the session's volume groups failed");
            }
        }
    }
}

/// `(major, minor, patch)` from `lvm version` output (`LVM version: 2.03.16(2) ...`).
pub(crate) fn parse_lvm_version(out: &str) -> Option<(u32, u32, u32)> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("LVM version:"))?;
    let word = line.split(':').nth(1)?.split_whitespace().next()?;
    let digits: String = word
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = digits.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parsing() {
        let out = "  LVM version:     2.03.16(2) (2022-05-18)\n  Library version: 1.02.185 (2022-05-18)\n";
        assert_eq!(parse_lvm_version(out), Some((2, 3, 16)));
        assert_eq!(
            parse_lvm_version("  LVM version:     2.02.187(2)-RHEL7\n"),
            Some((2, 2, 187))
        );
        assert_eq!(parse_lvm_version("nothing"), None);
        assert_eq!(parse_lvm_version("LVM version: x"), None);
        assert!((2, 3, 11) < DEVICES_OPTION_SINCE && (2, 3, 16) >= DEVICES_OPTION_SINCE);
    }

    #[test]
    fn builds_by_version() {
        let b = |devices_option, lvmetad| Lvm2Build {
            devices_option,
            lvmetad,
        };
        assert_eq!(Lvm2Build::of((2, 2, 187)), b(false, true));
        assert_eq!(Lvm2Build::of((2, 2, 0)), b(false, true));
        assert_eq!(Lvm2Build::of((2, 3, 0)), b(false, false));
        assert_eq!(Lvm2Build::of((2, 3, 11)), b(false, false));
        assert_eq!(Lvm2Build::of((2, 3, 12)), b(true, false));
        assert_eq!(Lvm2Build::of((2, 3, 16)), b(true, false));
        assert_eq!(Lvm2Build::of((3, 0, 0)), b(true, false));
    }
}
