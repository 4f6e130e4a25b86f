//! Encrypted devices through `cryptsetup`, with libguestfs's calls: open and
//! close a mapping over a session device (`cryptsetup_open`/`_close`, and the
//! older `luks_open`, `luks_open_ro`, `luks_close`), format a LUKS container
//! (`luks_format`, `luks_format_cipher`), manage its key slots
//! (`luks_add_key`, `luks_kill_slot`) and read its UUID (`luks_uuid`).
//!
//! A key never appears on a command line, in a log or in an error: it reaches
//! `cryptsetup` on its standard input, and the second key of `luks_add_key`
//! through an anonymous memory file (`memfd`) that has no name on any
//! filesystem and is gone when the call returns. A mapping is made only over a
//! device of the session, under a name that cannot be a path or an option, and
//! only where no device-mapper device of that name exists. It is then a device
//! of the session (`/dev/mapper/NAME`): listed by `list_dm_devices` and
//! `list_filesystems`, mounted, inspected and used as an LVM physical volume
//! like any other, recorded in the session's state file so that a crashed
//! run's mapping is removed by the reaper, and closed by `shutdown`. A mapping
//! over a device of a read-only drive is read-only whatever was asked.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use vmcraft_block::Command;

use crate::error::{Error, ErrorKind, Result};
use crate::names::{DeviceName, valid_map_name};
use crate::session::VMCraft;

/// The encryption types `cryptsetup_open` takes (`cryptsetup open --type`).
pub const CRYPT_TYPES: &[&str] = &["luks", "luks1", "luks2", "bitlk", "plain", "tcrypt"];

/// The longest key taken (cryptsetup's own limit for a key file is 8 MiB).
pub const MAX_KEY: usize = 8 << 20;

/// Optional arguments of [`VMCraft::cryptsetup_open`], libguestfs's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CryptsetupOpenOpts {
    /// Make a read-only mapping (always so over a read-only drive).
    pub readonly: bool,
    /// The encryption type, one of [`CRYPT_TYPES`]; guessed from the device's
    /// signature when `None` (`crypto_LUKS` is `luks`, `BitLocker` is `bitlk`).
    pub crypttype: Option<String>,
    /// The cipher (`cryptsetup --cipher`), for types whose header does not say.
    pub cipher: Option<String>,
}

impl VMCraft {
    /// Open an encrypted device (`cryptsetup_open`): `key` unlocks `device`, and
    /// its decrypted content becomes `/dev/mapper/MAPNAME`, a device of the
    /// session. `mapname` is 1 to 127 letters, digits and `_.+-`, not starting
    /// with `-` or `.`, and not `control`; a device-mapper device of that name
    /// must not exist (the host's included). A wrong key is refused with
    /// nothing made.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.cryptsetup_open("/dev/sda2", "passphrase", "cryptroot", &Default::default())?;
    /// g.mount_ro("/dev/mapper/cryptroot", "/")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cryptsetup_open(
        &self,
        device: &str,
        key: &str,
        mapname: &str,
        opts: &CryptsetupOpenOpts,
    ) -> Result<()> {
        self.crypt_open("cryptsetup_open", device, key, mapname, opts)
    }

    /// Open a LUKS device (`luks_open`, deprecated by libguestfs for
    /// [`VMCraft::cryptsetup_open`]): the same with the type `luks`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_open(&self, device: &str, key: &str, mapname: &str) -> Result<()> {
        let opts = CryptsetupOpenOpts {
            crypttype: Some("luks".into()),
            ..Default::default()
        };
        self.crypt_open("luks_open", device, key, mapname, &opts)
    }

    /// Open a LUKS device read-only (`luks_open_ro`, deprecated by libguestfs
    /// for [`VMCraft::cryptsetup_open`] with `readonly`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_open_ro(&self, device: &str, key: &str, mapname: &str) -> Result<()> {
        let opts = CryptsetupOpenOpts {
            readonly: true,
            crypttype: Some("luks".into()),
            ..Default::default()
        };
        self.crypt_open("luks_open_ro", device, key, mapname, &opts)
    }

    /// Close a mapping [`VMCraft::cryptsetup_open`] made (`cryptsetup_close`),
    /// given as `/dev/mapper/MAPNAME`; refused while it is mounted or holds an
    /// active LV.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.cryptsetup_close("/dev/mapper/cryptroot")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cryptsetup_close(&self, device: &str) -> Result<()> {
        self.crypt_close("cryptsetup_close", device)
    }

    /// Close a LUKS mapping (`luks_close`, deprecated by libguestfs for
    /// [`VMCraft::cryptsetup_close`]).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_close(&self, device: &str) -> Result<()> {
        self.crypt_close("luks_close", device)
    }

    /// Format `device` as a LUKS container (`luks_format`), erasing what it
    /// held, with `key` in key slot `keyslot` (0 to 31; LUKS1 has 0 to 7).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.luks_format("/dev/sda2", "passphrase", 0)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_format(&self, device: &str, key: &str, keyslot: i32) -> Result<()> {
        self.format_luks("luks_format", device, key, keyslot, None)
    }

    /// [`VMCraft::luks_format`] with the cipher given (`luks_format_cipher`),
    /// for example `aes-xts-plain64`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_format_cipher(
        &self,
        device: &str,
        key: &str,
        keyslot: i32,
        cipher: &str,
    ) -> Result<()> {
        self.format_luks("luks_format_cipher", device, key, keyslot, Some(cipher))
    }

    /// Add `newkey` in key slot `keyslot` of a LUKS device (`luks_add_key`);
    /// `key` is any key it has. A slot holding a key is refused (remove it
    /// first with [`VMCraft::luks_kill_slot`]).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.luks_add_key("/dev/sda2", "passphrase", "second passphrase", 1)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_add_key(&self, device: &str, key: &str, newkey: &str, keyslot: i32) -> Result<()> {
        const CALL: &str = "luks_add_key";
        let slot = check_slot(CALL, keyslot)?;
        check_key(CALL, "key", key)?;
        check_key(CALL, "newkey", newkey)?;
        let dev = self.luks_device(CALL, device, true)?;
        let newkey_file = KeyFile::new(CALL, newkey)?;
        let cmd = Command::new("cryptsetup")
            .args(["-q", "--key-file", "-", "--new-keyfile"])
            .arg(newkey_file.path())
            .args(["--key-slot", &slot, "luksAddKey"])
            .arg(&dev.host)
            .stdin(key.as_bytes().to_vec());
        self.cryptsetup(CALL, &dev.name, &cmd)?;
        drop(newkey_file);
        self.invalidate_probe_cache();
        Ok(())
    }

    /// Remove the key in slot `keyslot` of a LUKS device (`luks_kill_slot`);
    /// `key` must be one of its other keys.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_kill_slot(&self, device: &str, key: &str, keyslot: i32) -> Result<()> {
        const CALL: &str = "luks_kill_slot";
        let slot = check_slot(CALL, keyslot)?;
        check_key(CALL, "key", key)?;
        let dev = self.luks_device(CALL, device, true)?;
        let cmd = Command::new("cryptsetup")
            .args(["-q", "--key-file", "-", "luksKillSlot"])
            .arg(&dev.host)
            .arg(&slot)
            .stdin(key.as_bytes().to_vec());
        self.cryptsetup(CALL, &dev.name, &cmd)?;
        self.invalidate_probe_cache();
        Ok(())
    }

    /// The UUID of a LUKS device (`luks_uuid`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// println!("{}", g.luks_uuid("/dev/sda2")?);
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn luks_uuid(&self, device: &str) -> Result<String> {
        const CALL: &str = "luks_uuid";
        let dev = self.luks_device(CALL, device, false)?;
        let cmd = Command::new("cryptsetup").arg("luksUUID").arg(&dev.host);
        let out = self.cryptsetup(CALL, &dev.name, &cmd)?;
        Ok(out.trim().to_string())
    }

    fn crypt_open(
        &self,
        call: &str,
        device: &str,
        key: &str,
        mapname: &str,
        opts: &CryptsetupOpenOpts,
    ) -> Result<()> {
        if !valid_map_name(mapname) || mapname == "control" {
            return Err(Error::invalid(
                call,
                mapname,
                "not a mapping name (1 to 127 letters, digits and _.+-, not starting \
                 with - or ., and not control)",
            ));
        }
        check_key(call, "key", key)?;
        if let Some(t) = &opts.crypttype
            && !CRYPT_TYPES.contains(&t.as_str())
        {
            return Err(Error::invalid(
                call,
                t,
                format!("not an encryption type (one of {})", CRYPT_TYPES.join(", ")),
            ));
        }
        if let Some(c) = &opts.cipher {
            check_cipher(call, c)?;
        }
        let dev = self.resolve(call, device)?;
        if !vmcraft_lvm::device_mapper_available() {
            return Err(Error::call(
                ErrorKind::Unsupported,
                call,
                &dev.name,
                "the kernel has no device-mapper, which a mapping needs (dm-crypt)",
            ));
        }
        if let Some(holder) = self.dm_device_named(mapname) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                format!("/dev/mapper/{mapname}"),
                format!("device already exists ({holder})"),
            ));
        }
        let crypttype = match &opts.crypttype {
            Some(t) => t.clone(),
            None => match self.vfs_type(&dev.name)?.as_str() {
                "crypto_LUKS" => "luks".to_string(),
                "BitLocker" => "bitlk".to_string(),
                t => {
                    return Err(Error::invalid(
                        call,
                        &dev.name,
                        format!(
                            "{}: unknown encrypted device type (give crypttype)",
                            if t.is_empty() {
                                "nothing recognised"
                            } else {
                                t
                            }
                        ),
                    ));
                }
            },
        };
        let readonly = opts.readonly || dev.readonly;
        let mut cmd = Command::new("cryptsetup").args(["--key-file", "-"]);
        if readonly {
            cmd = cmd.arg("--readonly");
        }
        cmd = cmd
            .arg("open")
            .arg(&dev.host)
            .arg(mapname)
            .args(["--type", &crypttype]);
        if let Some(c) = &opts.cipher {
            cmd = cmd.args(["--cipher", c]);
        }
        let cmd = cmd.stdin(key.as_bytes().to_vec());
        self.cryptsetup(call, &dev.name, &cmd)?;
        self.mappings_changed();
        Ok(())
    }

    fn crypt_close(&self, call: &str, device: &str) -> Result<()> {
        let Some(mapname) = device.strip_prefix("/dev/mapper/") else {
            return Err(Error::invalid(
                call,
                device,
                "give the /dev/mapper device cryptsetup_open made, not the device under it",
            ));
        };
        let r = self.resolve(call, device)?;
        let crypt = matches!(r.what, DeviceName::Mapped(_))
            && self.session_mapping(&r.name).is_some_and(|m| m.is_crypt());
        if !crypt {
            return Err(Error::invalid(
                call,
                device,
                "not an encrypted device's mapping of this session",
            ));
        }
        if let Some(m) = self.mounts().iter().find(|m| m.device == r.name) {
            return Err(Error::call(
                ErrorKind::Busy,
                call,
                device,
                format!("it is mounted on {}", m.mountpoint),
            ));
        }
        let cmd = Command::new("cryptsetup").arg("close").arg(mapname);
        self.cryptsetup(call, device, &cmd)?;
        self.mappings_changed();
        Ok(())
    }

    fn format_luks(
        &self,
        call: &str,
        device: &str,
        key: &str,
        keyslot: i32,
        cipher: Option<&str>,
    ) -> Result<()> {
        let slot = check_slot(call, keyslot)?;
        check_key(call, "key", key)?;
        if let Some(c) = cipher {
            check_cipher(call, c)?;
        }
        let dev = self.writable_device(call, device)?;
        let mut cmd = Command::new("cryptsetup").args(["-q", "--key-file", "-"]);
        if let Some(c) = cipher {
            cmd = cmd.args(["--cipher", c]);
        }
        let cmd = cmd
            .args(["--key-slot", &slot, "luksFormat"])
            .arg(&dev.host)
            .stdin(key.as_bytes().to_vec());
        self.cryptsetup(call, &dev.name, &cmd)?;
        self.invalidate_probe_cache();
        Ok(())
    }

    /// `device` resolved for a call on its LUKS header, refused unless it holds
    /// one; `write`: and unless its drive is writable.
    fn luks_device(&self, call: &str, device: &str, write: bool) -> Result<crate::Resolved> {
        let dev = if write {
            self.writable_device(call, device)?
        } else {
            self.resolve(call, device)?
        };
        let t = self.vfs_type(&dev.name)?;
        if t != "crypto_LUKS" {
            return Err(Error::invalid(
                call,
                &dev.name,
                format!(
                    "not a LUKS device ({})",
                    if t.is_empty() {
                        "nothing recognised"
                    } else {
                        &t
                    }
                ),
            ));
        }
        Ok(dev)
    }

    /// Run cryptsetup; its failure becomes this call's error, with what it said
    /// (never a key: keys go on standard input or in a memory file).
    fn cryptsetup(&self, call: &str, subject: &str, cmd: &Command) -> Result<String> {
        let cmd = cmd.clone().cancel_on(&self.cancel_token());
        let out = self.runner().execute(&cmd)?;
        if out.status.success() {
            return Ok(out.stdout_str());
        }
        let said = out.stderr_trimmed();
        // cryptsetup's exit codes: 1 wrong parameters, 2 no permission (bad
        // passphrase), 3 out of memory, 4 wrong device, 5 device busy or exists.
        let (kind, what) = match out.status.code() {
            Some(1) => (ErrorKind::InvalidArgument, "cryptsetup refused it"),
            Some(2) => (
                ErrorKind::InvalidArgument,
                "no key slot opens with this key",
            ),
            Some(4) => (ErrorKind::InvalidArgument, "the device is not usable here"),
            Some(5) => (ErrorKind::Busy, "the device is busy or the mapping exists"),
            _ => (ErrorKind::Io, "cryptsetup failed"),
        };
        Err(Error::call(
            kind,
            call,
            subject,
            if said.is_empty() {
                format!("{what} ({})", out.status)
            } else {
                format!("{what}: {said}")
            },
        ))
    }

    /// After a mapping is opened or closed, or an md array made, assembled or
    /// stopped: the kernel's view settles, LVM sees the PVs inside, cached
    /// probes are dropped, and the state file records the session's
    /// device-mapper devices and arrays for the reaper.
    pub(crate) fn mappings_changed(&self) {
        self.settle_udev();
        self.invalidate_probe_cache();
        self.lv_cache.clear();
        self.sync_lvm_devices();
        self.record_dm_devices();
    }

    /// The kernel name of a device-mapper device called `name`, anywhere on the
    /// host.
    fn dm_device_named(&self, name: &str) -> Option<String> {
        let dir = self.config.sysfs_root.join("class/block");
        std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
            let kernel = e.file_name().to_string_lossy().into_owned();
            let n = std::fs::read_to_string(e.path().join("dm/name")).ok()?;
            (kernel.starts_with("dm-") && n.trim() == name).then_some(kernel)
        })
    }

    /// Close the LUKS mappings on the session's devices, those nothing holds
    /// first (an LV inside one is deactivated by LVM before), a few rounds for
    /// mappings on mappings. Best effort, for `shutdown`: a failure is logged.
    pub(crate) fn close_session_mappings(&self) {
        for _ in 0..4 {
            let open: Vec<String> = self
                .stacked_devices()
                .into_iter()
                .filter(|s| s.is_crypt())
                .filter_map(|s| s.dm_name)
                .collect();
            if open.is_empty() {
                break;
            }
            let mut closed = false;
            for name in open {
                let cmd = Command::new("cryptsetup").arg("close").arg(&name);
                match self.runner().execute(&cmd) {
                    Ok(o) if o.status.success() => closed = true,
                    Ok(o) => {
                        tracing::debug!(mapping = %name, said = %o.stderr_trimmed(), "not closed yet")
                    }
                    Err(e) => {
                        tracing::warn!(mapping = %name, error = %vmcraft_block::error_chain(&e), "closing the mapping failed")
                    }
                }
            }
            if !closed {
                break;
            }
        }
        self.record_dm_devices();
    }

    /// Close the mappings and stop the md arrays on the session's devices,
    /// from the top of the stack down (a mapping on an array, an array on
    /// mappings), a few rounds; what cannot go is logged. For `shutdown`,
    /// after LVM has deactivated the LVs.
    pub(crate) fn teardown_stacked(&self) {
        let left = || -> Vec<String> {
            self.stacked_devices()
                .into_iter()
                .filter(|s| !s.is_lv())
                .map(|s| s.kernel)
                .collect()
        };
        for _ in 0..4 {
            if left().is_empty() {
                return;
            }
            self.close_session_mappings();
            self.stop_md_on_session_devices();
        }
        let stuck = left();
        if !stuck.is_empty() {
            tracing::warn!(devices = ?stuck, "mappings or md arrays on this session's disks could not be closed");
        }
    }
}

/// A key is 1 to [`MAX_KEY`] bytes.
fn check_key(call: &str, name: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Error::invalid(
            call,
            name,
            format!("a key is 1 to {MAX_KEY} bytes"),
        ));
    }
    Ok(())
}

/// A key slot: 0 to 31 (LUKS2; cryptsetup refuses 8 and up on LUKS1).
fn check_slot(call: &str, slot: i32) -> Result<String> {
    if !(0..32).contains(&slot) {
        return Err(Error::invalid(
            call,
            slot,
            "not a key slot (0 to 31; LUKS1 has 0 to 7)",
        ));
    }
    Ok(slot.to_string())
}

/// A cipher name such as `aes-xts-plain64` or `capi:cbc(aes)-essiv:sha256`:
/// never an option or a path.
fn check_cipher(call: &str, cipher: &str) -> Result<()> {
    let ok = !cipher.is_empty()
        && cipher.len() <= 128
        && !cipher.starts_with('-')
        && cipher
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:()".contains(&b));
    if !ok {
        return Err(Error::invalid(call, cipher, "not a cipher name"));
    }
    Ok(())
}

/// A key in an anonymous memory file, for a command that reads a second key
/// from a file: `/proc/PID/fd/N` of this process names it while it lives.
struct KeyFile {
    fd: OwnedFd,
}

impl KeyFile {
    fn new(call: &str, key: &str) -> Result<KeyFile> {
        let io = |e: std::io::Error| {
            Error::call_with_source(ErrorKind::Io, call, "key", "cannot hold the key", e)
        };
        // SAFETY: memfd_create with a NUL-terminated name; a valid descriptor is
        // owned from here on.
        let raw = unsafe { libc::memfd_create(c"vmcraft-key".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io(std::io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a descriptor just made and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut f = std::fs::File::from(fd.try_clone().map_err(io)?);
        f.write_all(key.as_bytes()).map_err(io)?;
        Ok(KeyFile { fd })
    }

    fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }
}
