//! Guest file calls with libguestfs names (`cat`, `write`, `upload`, `ls`, `find`,
//! `mkdir_p`, `rm_rf`, `cp_a`, `ln_s`, `lstat`, `statvfs`, `checksum`, ...). Every
//! path is resolved inside the mounted guest tree with chroot semantics through
//! `vmcraft_fs::root::GuestRoot`: a guest symlink or `..` can never reach a host file,
//! and only regular files are opened for their content (a guest FIFO or device node
//! is refused unopened, so it can neither hang a call nor be read or written).

use std::io::Read;
use std::path::Path;

use vmcraft_fs::root::{GuestRoot, Stat, StatVfs, WriteMode};

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// The modes new files and directories get before the session's umask
/// (`umask`, 022 by default as in the libguestfs appliance) is applied.
const FILE_MODE: u32 = 0o666;
const DIR_MODE: u32 = 0o777;

impl VMCraft {
    /// The guest tree, which needs a filesystem mounted on `/`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn guest_root(&self) -> Result<GuestRoot> {
        self.guest_root_for("guest_root")
    }

    pub(crate) fn guest_root_for(&self, call: &str) -> Result<GuestRoot> {
        if !self.root_mounted() {
            return Err(Error::call(
                ErrorKind::Mount,
                call,
                "/",
                "no filesystem is mounted on / (mount one first)",
            ));
        }
        Ok(GuestRoot::open(self.sysroot(call)?)?)
    }

    /// `base` under the session's umask.
    pub(crate) fn masked(&self, base: u32) -> u32 {
        base & !self.settings().umask & 0o7777
    }

    /// Give a path this call created `base` under the session's umask: the
    /// process's own umask, applied when it was created, may differ.
    /// A filesystem without Unix modes (vfat through a FUSE driver answers
    /// ENOSYS, the kernel's vfat EPERM) keeps what it gave the new path.
    fn created(&self, root: &GuestRoot, call: &'static str, path: &str, base: u32) -> Result<()> {
        match root.chmod(self.masked(base), path) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    vmcraft_fs::root::ErrorKind::Unsupported
                        | vmcraft_fs::root::ErrorKind::PermissionDenied
                ) =>
            {
                tracing::debug!(path, error = %e, "no mode set: the filesystem has none");
                Ok(())
            }
            Err(e) => Err(Error::from(e.with_call(call))),
        }
    }

    /// A file's content as a string (`cat`; invalid UTF-8 is an error, use
    /// [`VMCraft::read_file`] for bytes).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cat(&self, path: &str) -> Result<String> {
        Ok(self.read_tree("cat")?.cat(path)?)
    }

    /// A file's content (`read_file`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        Ok(self.read_tree("read_file")?.read_file(path)?)
    }

    /// Lines of a text file, without their newlines (`read_lines`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn read_lines(&self, path: &str) -> Result<Vec<String>> {
        let text = self
            .read_tree("read_lines")?
            .cat(path)
            .map_err(|e| e.with_call("read_lines"))?;
        Ok(text.lines().map(String::from).collect())
    }

    /// Create or overwrite a file with `content` (`write`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn write(&self, path: &str, content: &[u8]) -> Result<()> {
        let root = self.guest_root_for("write")?;
        let existed = root.exists(path)?;
        root.write(path, content)?;
        if !existed {
            self.created(&root, "write", path, FILE_MODE)?;
        }
        Ok(())
    }

    /// Append `content` to a file, creating it (`write_append`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn write_append(&self, path: &str, content: &[u8]) -> Result<()> {
        let root = self.guest_root_for("write_append")?;
        let existed = root.exists(path)?;
        root.write_append(path, content)?;
        if !existed {
            self.created(&root, "write_append", path, FILE_MODE)?;
        }
        Ok(())
    }

    /// Copy a host file into the guest (`upload`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn upload(&self, host_file: impl AsRef<Path>, path: &str) -> Result<u64> {
        let host_file = host_file.as_ref();
        let mut src = std::fs::File::open(host_file).map_err(|e| {
            Error::call_with_source(
                ErrorKind::Io,
                "upload",
                host_file.display(),
                "cannot open",
                e,
            )
        })?;
        let root = self.guest_root_for("upload")?;
        let existed = root.exists(path)?;
        let mut dst = root
            .open_write(path, WriteMode::Truncate, self.masked(FILE_MODE))
            .map_err(|e| e.with_call("upload"))?;
        if !existed {
            self.created(&root, "upload", path, FILE_MODE)?;
        }
        let n = std::io::copy(&mut src, &mut dst).map_err(|e| {
            Error::call_with_source(ErrorKind::Io, "upload", path, "copy failed", e)
        })?;
        dst.sync_all()
            .map_err(|e| Error::call_with_source(ErrorKind::Io, "upload", path, "fsync", e))?;
        Ok(n)
    }

    /// Copy a guest file out to the host (`download`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn download(&self, path: &str, host_file: impl AsRef<Path>) -> Result<u64> {
        let host_file = host_file.as_ref();
        // The guest file first: a FIFO or device node is refused before the host
        // file is created.
        let mut src = self
            .read_tree("download")?
            .open_read(path)
            .map_err(|e| e.with_call("download"))?;
        let mut dst = std::fs::File::create(host_file).map_err(|e| {
            Error::call_with_source(
                ErrorKind::Io,
                "download",
                host_file.display(),
                "cannot create",
                e,
            )
        })?;
        std::io::copy(&mut src, &mut dst)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, "download", path, "copy failed", e))
    }

    /// The names in a directory, sorted, without `.` and `..` (`ls`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ls(&self, directory: &str) -> Result<Vec<String>> {
        Ok(self.read_tree("ls")?.ls(directory)?)
    }

    /// Every path below a directory, sorted (`find`), as libguestfs gives them:
    /// each path with the directory's name, as written, cut off its front. So
    /// `find /etc` gives `/hostname`, `/ssh`, `/ssh/sshd_config`, ... (the
    /// separator stays), while `find /` and `find /etc/` give `etc`, `hostname`
    /// (the written name ends with the separator).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// for p in g.find("/etc")? {
    ///     println!("/etc{p}");
    /// }
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn find(&self, directory: &str) -> Result<Vec<String>> {
        let mut entries = self.read_tree("find")?.find(directory)?;
        if !directory.ends_with('/') {
            for e in &mut entries {
                e.insert(0, '/');
            }
        }
        Ok(entries)
    }

    /// Whether anything exists at the path (`exists`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.read_tree("exists")?.exists(path)?)
    }

    /// Whether the path is a regular file, following symlinks (`is_file`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_file(&self, path: &str) -> Result<bool> {
        Ok(self.read_tree("is_file")?.is_file(path, true)?)
    }

    /// Whether the path is a directory, following symlinks (`is_dir`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_dir(&self, path: &str) -> Result<bool> {
        Ok(self.read_tree("is_dir")?.is_dir(path, true)?)
    }

    /// Whether the path is a symbolic link (`is_symlink`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_symlink(&self, path: &str) -> Result<bool> {
        Ok(self.read_tree("is_symlink")?.is_symlink(path)?)
    }

    /// Create a directory (`mkdir`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkdir(&self, path: &str) -> Result<()> {
        let root = self.guest_root_for("mkdir")?;
        root.mkdir(path, self.masked(DIR_MODE))?;
        self.created(&root, "mkdir", path, DIR_MODE)
    }

    /// Create a directory with this mode, under the session's umask as
    /// libguestfs applies it (`mkdir_mode`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkdir_mode(&self, path: &str, mode: u32) -> Result<()> {
        let root = self.guest_root_for("mkdir_mode")?;
        root.mkdir(path, self.masked(mode))?;
        self.created(&root, "mkdir_mode", path, mode)
    }

    /// Create a directory and its missing parents (`mkdir_p`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkdir_p(&self, path: &str) -> Result<()> {
        let root = self.guest_root_for("mkdir_p")?;
        let existed = root.exists(path)?;
        root.mkdir_p(path, self.masked(DIR_MODE))?;
        if !existed {
            self.created(&root, "mkdir_p", path, DIR_MODE)?;
        }
        Ok(())
    }

    /// Remove a file (`rm`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn rm(&self, path: &str) -> Result<()> {
        Ok(self.guest_root_for("rm")?.rm(path)?)
    }

    /// Remove a file if it exists (`rm_f`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn rm_f(&self, path: &str) -> Result<()> {
        Ok(self.guest_root_for("rm_f")?.rm_f(path)?)
    }

    /// Remove a tree; nothing there is not an error (`rm_rf`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn rm_rf(&self, path: &str) -> Result<()> {
        Ok(self.guest_root_for("rm_rf")?.rm_rf(path)?)
    }

    /// Remove an empty directory (`rmdir`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn rmdir(&self, path: &str) -> Result<()> {
        Ok(self.guest_root_for("rmdir")?.rmdir(path)?)
    }

    /// Copy a file (`cp`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cp(&self, src: &str, dest: &str) -> Result<()> {
        Ok(self.guest_root_for("cp")?.cp(src, dest)?)
    }

    /// Copy a tree, keeping modes, owners, times and links (`cp_a`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cp_a(&self, src: &str, dest: &str) -> Result<()> {
        Ok(self.guest_root_for("cp_a")?.cp_a(src, dest)?)
    }

    /// Move or rename (`mv`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mv(&self, src: &str, dest: &str) -> Result<()> {
        Ok(self.guest_root_for("mv")?.mv(src, dest)?)
    }

    /// Change the mode (`chmod`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn chmod(&self, mode: u32, path: &str) -> Result<()> {
        Ok(self.guest_root_for("chmod")?.chmod(mode, path)?)
    }

    /// Change the owner, following symlinks (`chown`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn chown(&self, owner: i32, group: i32, path: &str) -> Result<()> {
        Ok(self.guest_root_for("chown")?.chown(owner, group, path)?)
    }

    /// Create a symbolic link `linkname -> target` (`ln_s`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ln_s(&self, target: &str, linkname: &str) -> Result<()> {
        Ok(self.guest_root_for("ln_s")?.ln_s(target, linkname)?)
    }

    /// A symbolic link's target (`readlink`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn readlink(&self, path: &str) -> Result<String> {
        Ok(self.read_tree("readlink")?.readlink(path)?)
    }

    /// Create an empty file or update its times (`touch`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn touch(&self, path: &str) -> Result<()> {
        let root = self.guest_root_for("touch")?;
        let existed = root.exists(path)?;
        root.touch(path)?;
        if !existed {
            self.created(&root, "touch", path, FILE_MODE)?;
        }
        Ok(())
    }

    /// A path's status, not following a final symlink (`lstat`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lstat(&self, path: &str) -> Result<Stat> {
        Ok(self.read_tree("lstat")?.stat(path, false)?)
    }

    /// A path's status, following symlinks (`stat`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn stat(&self, path: &str) -> Result<Stat> {
        Ok(self.read_tree("stat")?.stat(path, true)?)
    }

    /// The status of the filesystem holding a path (`statvfs`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn statvfs(&self, path: &str) -> Result<StatVfs> {
        Ok(self.guest_root_for("statvfs")?.statvfs(path)?)
    }

    /// A file's checksum as lower-case hex (`checksum`): `crc` (POSIX `cksum`,
    /// decimal), `md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let sum = g.checksum("sha256", "/etc/hostname")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn checksum(&self, csumtype: &str, path: &str) -> Result<String> {
        let mut f = self
            .read_tree("checksum")?
            .open_read(path)
            .map_err(|e| e.with_call("checksum"))?;
        checksum_reader(csumtype, path, &mut f)
    }
}

/// Read `r` to its end in 1 MiB pieces, handing each to `f`; returns the length.
fn feed(subject: &str, r: &mut dyn Read, mut f: impl FnMut(&[u8])) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, "checksum", subject, "read", e))?;
        if n == 0 {
            return Ok(len);
        }
        f(&buf[..n]);
        len += n as u64;
    }
}

/// Checksum a stream; `subject` names it in errors.
pub(crate) fn checksum_reader(csumtype: &str, subject: &str, r: &mut dyn Read) -> Result<String> {
    use sha2::Digest;
    fn digest<D: Digest>(subject: &str, r: &mut dyn Read) -> Result<String> {
        let mut d = D::new();
        feed(subject, r, |b| d.update(b))?;
        Ok(d.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
    match csumtype {
        "md5" => digest::<md5::Md5>(subject, r),
        "sha1" => digest::<sha1::Sha1>(subject, r),
        "sha224" => digest::<sha2::Sha224>(subject, r),
        "sha256" => digest::<sha2::Sha256>(subject, r),
        "sha384" => digest::<sha2::Sha384>(subject, r),
        "sha512" => digest::<sha2::Sha512>(subject, r),
        "crc" => {
            // POSIX cksum: CRC-32/CKSUM over the data, then over the length's
            // bytes, least significant first, without trailing zeros.
            let crc = crc::Crc::<u32>::new(&crc::CRC_32_CKSUM);
            let mut d = crc.digest();
            let mut len = feed(subject, r, |b| d.update(b))?;
            while len > 0 {
                d.update(&[len as u8]);
                len >>= 8;
            }
            Ok(d.finalize().to_string())
        }
        other => Err(Error::invalid(
            "checksum",
            subject,
            format!(
                "unknown checksum type '{other}' (expected crc, md5, sha1, sha224, sha256, sha384 or sha512)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_coreutils_known_values() {
        let sum = |t: &str| checksum_reader(t, "x", &mut &b"hello\n"[..]).unwrap();
        assert_eq!(sum("md5"), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(sum("sha1"), "f572d396fae9206628714fb2ce00f72e94f2258f");
        assert_eq!(
            sum("sha256"),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(sum("crc"), "3015617425");
        assert!(checksum_reader("sha3", "x", &mut &b""[..]).is_err());
    }
}
