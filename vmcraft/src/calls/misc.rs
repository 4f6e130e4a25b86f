//! Small calls scripts use: daemon probes with no daemon behind them
//! (`ping_daemon`, `echo_daemon`, `sleep`, `utsname` of the kernel VMCraft runs
//! on), file helpers (`readlinklist`, `ls0`, `lchown`, `equal`, `copy_attributes`,
//! `write_file`, `fallocate`, `get/set_e2generation`), GPT name and GUID lookups
//! (`findfs_partlabel`, `findfs_partuuid`), block settings (`blockdev_setra`,
//! `blockdev_setbsz`), and libguestfs's deprecated or appliance-only calls with an
//! honest answer (`kill_subprocess`, `wait_ready`, `list_9p`, the libvirt
//! credential calls, `modprobe`).

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// The most names `readlinklist` and `lxattrlist`-style calls take at once.
const MAX_NAMES: usize = 65_536;

/// `utsname`'s struct.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Utsname {
    /// The kernel's name (`Linux`).
    pub uts_sysname: String,
    /// Its release.
    pub uts_release: String,
    /// Its version.
    pub uts_version: String,
    /// The machine (`x86_64`).
    pub uts_machine: String,
}

/// What `copy_attributes` copies (libguestfs's optional arguments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyAttributes {
    /// Everything below.
    pub all: bool,
    /// The permission bits (the default when nothing is asked).
    pub mode: bool,
    /// The extended attributes.
    pub xattributes: bool,
    /// The owner and group.
    pub ownership: bool,
}

/// FS_IOC_GETVERSION / FS_IOC_SETVERSION (`long` sized, as the kernel defines them).
mod ioctl {
    nix::ioctl_read!(fs_ioc_getversion, b'v', 1, libc::c_long);
    nix::ioctl_write_ptr!(fs_ioc_setversion, b'v', 2, libc::c_long);
}

impl VMCraft {
    /// Succeeds when the session is launched: there is no daemon to ping
    /// (`ping_daemon`).
    pub fn ping_daemon(&self) -> Result<()> {
        if !self.is_launched() {
            return Err(Error::call(
                ErrorKind::NotLaunched,
                "ping_daemon",
                "",
                "call launch first",
            ));
        }
        Ok(())
    }

    /// The words joined by spaces (`echo_daemon`).
    pub fn echo_daemon(&self, words: &[&str]) -> Result<String> {
        Ok(words.join(" "))
    }

    /// Sleep `secs` seconds (`sleep`); cancelled by the handle's cancel token.
    pub fn sleep(&self, secs: i32) -> Result<()> {
        if secs < 0 {
            return Err(Error::invalid("sleep", secs, "must not be negative"));
        }
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs as u64);
        while std::time::Instant::now() < end {
            if self.config.cancel.is_cancelled() {
                return Err(Error::call(
                    ErrorKind::InvalidArgument,
                    "sleep",
                    secs,
                    "cancelled",
                ));
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
        }
        Ok(())
    }

    /// The kernel VMCraft's filesystems are handled by: the host's (`utsname`).
    pub fn utsname(&self) -> Result<Utsname> {
        let u = nix::sys::utsname::uname()
            .map_err(|e| Error::call_with_source(ErrorKind::Io, "utsname", "", "uname", e))?;
        let s = |v: &std::ffi::OsStr| v.to_string_lossy().into_owned();
        Ok(Utsname {
            uts_sysname: s(u.sysname()),
            uts_release: s(u.release()),
            uts_version: s(u.version()),
            uts_machine: s(u.machine()),
        })
    }

    /// The targets of the symlinks `names` in directory `path`, an empty string
    /// for a name that is not a symlink or cannot be read (`readlinklist`).
    pub fn readlinklist(&self, path: &str, names: &[&str]) -> Result<Vec<String>> {
        check_names("readlinklist", names)?;
        let root = self.guest_root_for("readlinklist")?;
        Ok(names
            .iter()
            .map(|n| {
                root.readlink(format!("{}/{n}", path.trim_end_matches('/')))
                    .unwrap_or_default()
            })
            .collect())
    }

    /// The names in a directory (as `ls`), written to host file `filename`
    /// separated by NUL bytes (`ls0`).
    pub fn ls0(&self, dir: &str, filename: impl AsRef<std::path::Path>) -> Result<()> {
        let names = self.ls(dir)?;
        let mut bytes = Vec::new();
        for n in names {
            bytes.extend_from_slice(n.as_bytes());
            bytes.push(0);
        }
        let filename = filename.as_ref();
        std::fs::write(filename, bytes).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, "ls0", filename.display(), "cannot write", e)
        })
    }

    /// Change a path's owner without following a final symlink (`lchown`).
    pub fn lchown(&self, owner: i32, group: i32, path: &str) -> Result<()> {
        Ok(self.guest_root_for("lchown")?.lchown(owner, group, path)?)
    }

    /// Whether two guest files have the same content (`equal`).
    pub fn equal(&self, file1: &str, file2: &str) -> Result<bool> {
        let root = self.guest_root_for("equal")?;
        let mut a = root.open_read(file1)?;
        let mut b = root.open_read(file2)?;
        let io = |p: &str, e| Error::call_with_source(ErrorKind::Io, "equal", p, "read", e);
        let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
        loop {
            let na = read_full(&mut a, &mut ba).map_err(|e| io(file1, e))?;
            let nb = read_full(&mut b, &mut bb).map_err(|e| io(file2, e))?;
            if na != nb || ba[..na] != bb[..nb] {
                return Ok(false);
            }
            if na == 0 {
                return Ok(true);
            }
        }
    }

    /// Copy `src`'s attributes onto `dest` (`copy_attributes`): its permission
    /// bits by default, or what `what` asks (owner, extended attributes, all).
    pub fn copy_attributes(&self, src: &str, dest: &str, what: CopyAttributes) -> Result<()> {
        let root = self.guest_root_for("copy_attributes")?;
        let nothing = !(what.all || what.mode || what.xattributes || what.ownership);
        let st = root.stat(src)?;
        if what.all || what.mode || nothing {
            root.chmod((st.mode & 0o7777) as u32, dest)?;
        }
        if what.all || what.xattributes {
            for x in root.lgetxattrs(src)? {
                root.lsetxattr(&x.attrname, &x.attrval, dest)?;
            }
        }
        if what.all || what.ownership {
            root.chown(st.uid as i32, st.gid as i32, dest)?;
        }
        Ok(())
    }

    /// Create or overwrite a file with the first `size` bytes of `content`, all
    /// of it when `size` is 0 (`write_file`, libguestfs's old form of `write`).
    pub fn write_file(&self, path: &str, content: &str, size: i32) -> Result<()> {
        let bytes = content.as_bytes();
        let n = match size {
            0 => bytes.len(),
            n if n < 0 || n as usize > bytes.len() => {
                return Err(Error::invalid(
                    "write_file",
                    size,
                    "size must be 0 (all) or at most the content's length",
                ));
            }
            n => n as usize,
        };
        self.write(path, &bytes[..n])
    }

    /// Create a file of `len` bytes with its blocks allocated, replacing one that
    /// exists (`fallocate64`; `fallocate` is its 32-bit form).
    pub fn fallocate64(&self, path: &str, len: i64) -> Result<()> {
        if len <= 0 {
            return Err(Error::invalid(
                "fallocate64",
                len,
                "length must be positive",
            ));
        }
        let root = self.guest_root_for("fallocate64")?;
        let f = root.open_write(
            path,
            vmcraft_fs::root::WriteMode::Truncate,
            self.masked(0o666),
        )?;
        nix::fcntl::posix_fallocate(&f, 0, len).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, "fallocate64", path, "fallocate", e)
        })?;
        Ok(())
    }

    /// A file's or directory's ext2/3/4 generation number (`get_e2generation`).
    pub fn get_e2generation(&self, file: &str) -> Result<i64> {
        let f = self.open_for_ioctl("get_e2generation", file)?;
        let mut v: libc::c_long = 0;
        // SAFETY: FS_IOC_GETVERSION writes one long through the pointer.
        unsafe { ioctl::fs_ioc_getversion(f.as_raw_fd(), &mut v) }.map_err(|e| {
            Error::call_with_source(ErrorKind::Io, "get_e2generation", file, "ioctl", e)
        })?;
        Ok(v as i64 & 0xffff_ffff)
    }

    /// Set a file's or directory's ext2/3/4 generation number
    /// (`set_e2generation`). ext4 with metadata checksums (mke2fs's default)
    /// refuses it, as it refuses `chattr -v`.
    pub fn set_e2generation(&self, file: &str, generation: i64) -> Result<()> {
        if !(0..=u32::MAX as i64).contains(&generation) {
            return Err(Error::invalid(
                "set_e2generation",
                generation,
                "must be between 0 and 2^32-1",
            ));
        }
        let f = self.open_for_ioctl("set_e2generation", file)?;
        let v = generation as libc::c_long;
        // SAFETY: FS_IOC_SETVERSION reads one long through the pointer.
        unsafe { ioctl::fs_ioc_setversion(f.as_raw_fd(), &v) }.map_err(|e| {
            if e == nix::errno::Errno::ENOTTY {
                // ext4 refuses it when metadata checksums are on (they are seeded
                // with the generation), as chattr -v finds.
                Error::call(
                    ErrorKind::Unsupported,
                    "set_e2generation",
                    file,
                    "the filesystem cannot change generations (ext4 with metadata_csum cannot)",
                )
            } else {
                Error::call_with_source(ErrorKind::Io, "set_e2generation", file, "ioctl", e)
            }
        })?;
        Ok(())
    }

    /// A guest regular file or directory opened read-only for an ioctl, through
    /// the confined resolver (FIFOs, devices and sockets refused unopened).
    fn open_for_ioctl(&self, call: &'static str, path: &str) -> Result<std::fs::File> {
        let root = self.guest_root_for(call)?;
        let fd = root.resolve(path, true)?;
        let st = nix::sys::stat::fstat(fd.as_fd())
            .map_err(|e| Error::call_with_source(ErrorKind::Io, call, path, "stat", e))?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            return Err(Error::invalid(
                call,
                path,
                "not a regular file or directory",
            ));
        }
        // Reopen the resolved inode itself through its descriptor's magic link
        // (never a path that could change).
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| Error::call_with_source(ErrorKind::Io, call, path, "open", e))
    }

    /// The partition whose GPT name is `label` (`findfs_partlabel`).
    pub fn findfs_partlabel(&self, label: &str) -> Result<String> {
        self.find_partition("findfs_partlabel", label, |g, drive, n| {
            g.part_get_name(drive, n).map(|name| name == label)
        })
    }

    /// The partition whose GPT unique GUID is `uuid`, any case
    /// (`findfs_partuuid`).
    pub fn findfs_partuuid(&self, uuid: &str) -> Result<String> {
        self.find_partition("findfs_partuuid", uuid, |g, drive, n| {
            g.part_get_gpt_guid(drive, n)
                .map(|guid| guid.eq_ignore_ascii_case(uuid))
        })
    }

    fn find_partition(
        &self,
        call: &str,
        what: &str,
        matches: impl Fn(&VMCraft, &str, i32) -> Result<bool>,
    ) -> Result<String> {
        for drive in self.list_devices()? {
            if self.part_get_parttype(&drive).ok().as_deref() != Some("gpt") {
                continue;
            }
            for p in self.part_list(&drive)? {
                if matches(self, &drive, p.part_num)? {
                    return Ok(format!("{drive}{}", p.part_num));
                }
            }
        }
        Err(Error::call(
            ErrorKind::NoSuchDevice,
            call,
            what,
            "no GPT partition has it",
        ))
    }

    /// Set a device's read-ahead, in 512-byte sectors (`blockdev_setra`).
    pub fn blockdev_setra(&self, device: &str, sectors: i32) -> Result<()> {
        if sectors < 0 {
            return Err(Error::invalid(
                "blockdev_setra",
                sectors,
                "must not be negative",
            ));
        }
        let r = self.resolve("blockdev_setra", device)?;
        let f = std::fs::File::open(&r.host).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, "blockdev_setra", device, "open", e)
        })?;
        // BLKRASET takes the value itself, not a pointer.
        // SAFETY: an ioctl on a block device we opened, with an integer argument.
        let rc = unsafe { libc::ioctl(f.as_raw_fd(), 0x1262, sectors as libc::c_ulong) };
        if rc != 0 {
            return Err(Error::call_with_source(
                ErrorKind::Io,
                "blockdev_setra",
                device,
                "BLKRASET",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// Nothing, as in libguestfs, where this call never did anything
    /// (`blockdev_setbsz`); the device must exist.
    pub fn blockdev_setbsz(&self, device: &str, blocksize: i32) -> Result<()> {
        let _ = blocksize;
        self.resolve("blockdev_setbsz", device).map(|_| ())
    }

    /// Shut the session down: there is no subprocess to kill, and libguestfs
    /// says to call `shutdown` instead (`kill_subprocess`).
    pub fn kill_subprocess(&self) -> Result<()> {
        self.shutdown()
    }

    /// Nothing: a launch returns once the session is ready (`wait_ready`).
    pub fn wait_ready(&self) -> Result<()> {
        Ok(())
    }

    /// The 9p filesystems: none, since there is no appliance to export them to
    /// (`list_9p`).
    pub fn list_9p(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Refused: it would load a module into the host kernel, where libguestfs
    /// loads it into its appliance's (`modprobe`).
    pub fn modprobe(&self, modulename: &str) -> Result<()> {
        Err(Error::call(
            ErrorKind::Unsupported,
            "modprobe",
            modulename,
            "VMCraft does not load kernel modules into the host's kernel",
        ))
    }

    /// Remembered, no effect: libvirt is never asked for credentials
    /// (`set_libvirt_supported_credentials`).
    pub fn set_libvirt_supported_credentials(&self, creds: &[&str]) -> Result<()> {
        for c in creds {
            if !matches!(
                *c,
                "username"
                    | "authname"
                    | "language"
                    | "cnonce"
                    | "passphrase"
                    | "echoprompt"
                    | "noechoprompt"
                    | "realm"
                    | "external"
            ) {
                return Err(Error::invalid(
                    "set_libvirt_supported_credentials",
                    c,
                    "unknown credential type",
                ));
            }
        }
        Ok(())
    }

    /// The credentials libvirt asked for: none, VMCraft does not use libvirt
    /// (`get_libvirt_requested_credentials`).
    pub fn get_libvirt_requested_credentials(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Always an error: no credential was requested (the
    /// `get_libvirt_requested_credential_*` and
    /// `set_libvirt_requested_credential` calls).
    pub(crate) fn no_libvirt_credential(&self, call: &str, index: i32) -> Result<String> {
        Err(Error::call(
            ErrorKind::InvalidArgument,
            call,
            index,
            "no credential was requested (VMCraft does not use libvirt)",
        ))
    }
}

fn check_names(call: &str, names: &[&str]) -> Result<()> {
    if names.len() > MAX_NAMES {
        return Err(Error::invalid(
            call,
            names.len(),
            format!("at most {MAX_NAMES} names at once"),
        ));
    }
    for n in names {
        if n.is_empty() || n.contains('/') || *n == "." || *n == ".." {
            return Err(Error::invalid(call, n, "not a name in the directory"));
        }
    }
    Ok(())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
