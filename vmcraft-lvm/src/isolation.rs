//! Host isolation: what keeps every lvm2 command of a session away from the host's
//! physical volumes, configuration and state.
//!
//! Three layers, each enough on its own for the device set:
//!
//! 1. A private `LVM_SYSTEM_DIR` (a 0700 temp directory owned by the session) with
//!    its own `lvm.conf`: the host's `/etc/lvm/lvm.conf`, its devices file, its
//!    backup and archive directories are never read or written. The file turns the
//!    devices file, hints, lvmpolld/lvmlockd, dmeventd monitoring and udev device
//!    lists off, and points backup, archive and locking at the private directory.
//! 2. On every command, `--config` with a `global_filter` that accepts exactly the
//!    session's devices (anchored, escaped regular expressions) and rejects the rest.
//!    lvm2 applies it to every name of a device, so a host PV is never scanned.
//!    On lvm2 2.02 the same `--config` (lvm2 takes the option once) also carries
//!    `global/use_lvmetad=0`: a 2.02 command would otherwise read the guest's
//!    volumes from, and write them into, the host's lvmetad cache. lvm2 2.03 has
//!    no lvmetad (it ignores the setting) and is not given it.
//! 3. Where lvm2 has it (2.03.12 and later), `--devices` with the same list: lvm2
//!    then looks at no other device at all.
//!
//! Which lvm2 it is comes from `lvm version`, asked once per session before the
//! first command. If that fails, or prints no version, no lvm2 command runs: the
//! call fails and says why, rather than run without `--devices` or with lvmetad.
//!
//! Device paths are resolved (symlinks followed) before they go on the command line,
//! because lvm2 knows devices only by their names under `/dev`.
//!
//! What this cannot confine: device-mapper names, UUIDs and `/dev/VG` are global
//! to the host. So with activation, every command that may create, remove or
//! reload a device-mapper device first checks that no device of the host or of
//! another session carries one of the session's LV names or UUIDs (a clone shares
//! them) and refuses if one does (see [`crate::dm`]); and an LV's device is only
//! ever taken by UUID and by the devices under it, never by its name. Metadata-only
//! sessions touch no device-mapper device at all. And on a host whose udev runs
//! lvm2's event activation, writing a PV label can make the *host's* lvm2 notice
//! the guest's PV; that is the host's configuration, outside any command run here.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// One device of a session: the path the caller gave and the path lvm2 is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionDevice {
    /// As the caller gave it (what listings report).
    pub(crate) given: PathBuf,
    /// Symlinks resolved; the given path when it cannot be resolved.
    pub(crate) resolved: PathBuf,
}

impl SessionDevice {
    pub(crate) fn new(given: PathBuf) -> Self {
        let resolved = std::fs::canonicalize(&given).unwrap_or_else(|_| given.clone());
        SessionDevice { given, resolved }
    }

    /// Whether `path` names this device: the same path, the same resolved path, or
    /// the same block device number.
    pub(crate) fn matches(&self, path: &Path) -> bool {
        if path == self.given || path == self.resolved {
            return true;
        }
        match (rdev(path), rdev(&self.resolved)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// The device number of a block device node.
pub(crate) fn rdev(path: &Path) -> Option<u64> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).ok()?;
    meta.file_type().is_block_device().then(|| meta.rdev())
}

/// Check a device path the caller wants in the session: absolute, and free of the
/// characters that would break lvm2's `--devices` list or filter syntax.
pub(crate) fn check_device_path(call: &'static str, path: &Path) -> Result<()> {
    let s = path
        .to_str()
        .ok_or_else(|| Error::invalid(call, path.display(), "device path is not valid UTF-8"))?;
    if !path.is_absolute() {
        return Err(Error::invalid(call, s, "device path is not absolute"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || ",\"'|\\{}[]#".contains(*c))
    {
        return Err(Error::invalid(
            call,
            s,
            format!("device path contains {c:?}, which lvm2 device lists cannot carry"),
        ));
    }
    Ok(())
}

/// Escape a path for an lvm2 filter regex: every character that is not
/// alphanumeric or `/` is preceded by a backslash (lvm2 reads `\x` as a literal
/// `x`), then doubled for the config string's own escaping.
pub(crate) fn regex_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len() * 2);
    for c in path.chars() {
        if !(c.is_ascii_alphanumeric() || c == '/') {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

/// The `--config` value that accepts exactly `devices` and rejects everything else.
pub(crate) fn filter_config(devices: &[SessionDevice]) -> String {
    let mut rules: Vec<String> = devices
        .iter()
        .map(|d| format!("\"a|^{}$|\"", regex_escape(&d.resolved.to_string_lossy())))
        .collect();
    rules.push("\"r|.*|\"".to_string());
    format!("devices/global_filter=[{}]", rules.join(","))
}

/// The `--devices` value: the resolved paths, comma-separated.
pub(crate) fn devices_arg(devices: &[SessionDevice]) -> String {
    devices
        .iter()
        .map(|d| d.resolved.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// The text of the session's private `lvm.conf`, for the private directory `dir`.
pub(crate) fn lvm_conf(dir: &Path, udev: bool) -> String {
    let d = dir.display();
    let udev = u8::from(udev);
    format!(
        "# Written by vmcraft-lvm for one session; removed with it.\n\
         config {{\n\tchecks = 1\n}}\n\
         devices {{\n\
         \tdir = \"/dev\"\n\
         \tscan = [ \"/dev\" ]\n\
         \tuse_devicesfile = 0\n\
         \tobtain_device_list_from_udev = 0\n\
         \texternal_device_info_source = \"none\"\n\
         \thints = \"none\"\n\
         \tscan_lvs = 0\n\
         \tmultipath_component_detection = 0\n\
         \tglobal_filter = [ \"r|.*|\" ]\n\
         \tfilter = [ \"a|.*|\" ]\n\
         }}\n\
         global {{\n\
         \tlocking_dir = \"{d}/lock\"\n\
         \tuse_lvmlockd = 0\n\
         \tuse_lvmpolld = 0\n\
         \tnotify_dbus = 0\n\
         \tevent_activation = 0\n\
         \tsystem_id_source = \"none\"\n\
         }}\n\
         backup {{\n\
         \tbackup = 1\n\
         \tbackup_dir = \"{d}/backup\"\n\
         \tarchive = 1\n\
         \tarchive_dir = \"{d}/archive\"\n\
         }}\n\
         activation {{\n\
         \tudev_sync = {udev}\n\
         \tudev_rules = {udev}\n\
         \tverify_udev_operations = 0\n\
         \tmonitoring = 0\n\
         \tauto_activation_volume_list = [ ]\n\
         }}\n\
         log {{\n\
         \tsyslog = 0\n\
         \tverbose = 0\n\
         }}\n"
    )
}

/// The session's private lvm2 system directory; removed on drop.
#[derive(Debug)]
pub(crate) struct SystemDir {
    dir: tempfile::TempDir,
}

impl SystemDir {
    /// Make the directory (0700) under `parent` (the system temp dir when `None`)
    /// and write its `lvm.conf`.
    pub(crate) fn create(parent: Option<&Path>, udev: bool) -> Result<SystemDir> {
        use std::os::unix::fs::PermissionsExt;
        let mut builder = tempfile::Builder::new();
        builder
            .prefix("vmcraft-lvm-")
            .permissions(std::fs::Permissions::from_mode(0o700));
        let dir = match parent {
            Some(p) => builder.tempdir_in(p),
            None => builder.tempdir(),
        }
        .map_err(|e| io_error("create the private lvm2 directory", parent, e))?;
        let conf = dir.path().join("lvm.conf");
        std::fs::write(&conf, lvm_conf(dir.path(), udev))
            .map_err(|e| io_error("write lvm.conf", Some(&conf), e))?;
        for sub in ["lock", "backup", "archive"] {
            let p = dir.path().join(sub);
            std::fs::create_dir(&p).map_err(|e| io_error("create", Some(&p), e))?;
        }
        Ok(SystemDir { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn io_error(what: &str, path: Option<&Path>, e: std::io::Error) -> Error {
    let subject = path.map(|p| p.display().to_string()).unwrap_or_default();
    Error::new(ErrorKind::Io, "lvm_session", subject, what).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(p: &str) -> SessionDevice {
        SessionDevice::new(PathBuf::from(p))
    }

    #[test]
    fn escaping_and_filter() {
        assert_eq!(regex_escape("/dev/loop0"), "/dev/loop0");
        assert_eq!(
            regex_escape("/dev/a.b-c_d+e"),
            "/dev/a\\\\.b\\\\-c\\\\_d\\\\+e"
        );
        let f = filter_config(&[dev("/dev/vmcraft-x1"), dev("/dev/vmcraft-x2")]);
        assert_eq!(
            f,
            r#"devices/global_filter=["a|^/dev/vmcraft\\-x1$|","a|^/dev/vmcraft\\-x2$|","r|.*|"]"#
        );
        assert_eq!(filter_config(&[]), r#"devices/global_filter=["r|.*|"]"#);
        assert_eq!(
            devices_arg(&[dev("/dev/vmcraft-x1"), dev("/dev/vmcraft-x2")]),
            "/dev/vmcraft-x1,/dev/vmcraft-x2"
        );
    }

    #[test]
    fn device_paths_are_checked() {
        check_device_path("t", Path::new("/dev/loop0p1")).unwrap();
        check_device_path("t", Path::new("/dev/disk/by-id/scsi-0QEMU_drive:0+x.y")).unwrap();
        for (bad, why) in [
            ("dev/loop0", "device path is not absolute"),
            (
                "/dev/a,b",
                "device path contains ',', which lvm2 device lists cannot carry",
            ),
            (
                "/dev/a b",
                "device path contains ' ', which lvm2 device lists cannot carry",
            ),
            (
                "/dev/a|b",
                "device path contains '|', which lvm2 device lists cannot carry",
            ),
            (
                "/dev/a\"b",
                "device path contains '\"', which lvm2 device lists cannot carry",
            ),
        ] {
            let e = check_device_path("set_devices", Path::new(bad)).unwrap_err();
            assert_eq!(e.to_string(), format!("set_devices: {bad}: {why}"));
        }
    }

    #[test]
    fn symlinks_resolve_and_match() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, b"").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let d = SessionDevice::new(link.clone());
        assert_eq!(d.given, link);
        assert_eq!(d.resolved, std::fs::canonicalize(&target).unwrap());
        assert!(d.matches(&link));
        assert!(d.matches(&d.resolved.clone()));
        assert!(!d.matches(Path::new("/dev/null")));
        // A path that does not exist stays as given.
        let d = dev("/dev/vmcraft-does-not-exist");
        assert_eq!(d.resolved, PathBuf::from("/dev/vmcraft-does-not-exist"));
    }

    #[test]
    fn system_dir_holds_a_private_config() {
        let sys = SystemDir::create(None, false).unwrap();
        let conf = std::fs::read_to_string(sys.path().join("lvm.conf")).unwrap();
        let p = sys.path().display().to_string();
        for want in [
            "use_devicesfile = 0".to_string(),
            "hints = \"none\"".to_string(),
            "obtain_device_list_from_udev = 0".to_string(),
            "global_filter = [ \"r|.*|\" ]".to_string(),
            format!("locking_dir = \"{p}/lock\""),
            format!("backup_dir = \"{p}/backup\""),
            format!("archive_dir = \"{p}/archive\""),
            "udev_sync = 0".to_string(),
            "monitoring = 0".to_string(),
        ] {
            assert!(conf.contains(&want), "lvm.conf lacks {want}:\n{conf}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sys.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(sys.path().join("lock").is_dir());
        let path = sys.path().to_path_buf();
        drop(sys);
        assert!(!path.exists());
        assert!(lvm_conf(Path::new("/x"), true).contains("udev_sync = 1"));
    }

    #[test]
    fn system_dir_error_names_the_parent() {
        let e = SystemDir::create(Some(Path::new("/nonexistent/vmcraft")), false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            e.to_string(),
            "lvm_session: /nonexistent/vmcraft: create the private lvm2 directory"
        );
        assert!(std::error::Error::source(&e).is_some());
    }
}
