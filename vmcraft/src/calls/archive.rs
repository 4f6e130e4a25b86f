//! tar in and out of the mounted guest tree (vmcraft-archive), confined to it, with
//! the session's progress callback and cancellation token; `copy_in` and
//! `copy_out`, which move whole trees between the host and the guest the same
//! way.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use vmcraft_archive::{Compression, TarInOptions, TarOutOptions, TarStats};

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// Parse libguestfs's `compress` names: `none`, `gzip`, `bzip2`, `xz`, `zstd`
/// (and `lzop`, which is refused as unsupported).
pub fn parse_compress(call: &str, s: &str) -> Result<Compression> {
    s.parse::<Compression>().map_err(|_| {
        Error::invalid(
            call,
            s,
            "unknown compression (expected none, gzip, bzip2, xz or zstd)",
        )
    })
}

impl VMCraft {
    fn progress_fn(&self, call: &'static str) -> Option<vmcraft_archive::ProgressFn> {
        let p = self.config.progress.clone()?;
        Some(vmcraft_archive::ProgressFn::new(
            move |pr: vmcraft_archive::Progress| {
                p(&crate::ProgressEvent {
                    call,
                    done: pr.bytes,
                    total: 0,
                })
            },
        ))
    }

    /// Unpack a host tarball into a guest directory (`tar_in`); compression is
    /// detected when not given. Observes `opts.cancel`, or else the handle's
    /// [`VMCraft::cancel_token`] (see `vmcraft_archive::tar_in_from` for what a
    /// cancelled extraction leaves).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tar_in(
        &self,
        tarfile: impl AsRef<Path>,
        directory: &str,
        mut opts: TarInOptions,
    ) -> Result<TarStats> {
        let root = self.guest_root_for("tar_in")?;
        if opts.progress.is_none() {
            opts.progress = self.progress_fn("tar_in");
        }
        if opts.cancel.is_none() {
            opts.cancel = Some(self.config.cancel.clone());
        }
        let r = vmcraft_archive::tar_in(&root, tarfile, directory, &opts)?;
        Ok(r)
    }

    /// Pack a guest directory into a host tarball (`tar_out`), entries relative to
    /// the directory (`./etc/...`). Observes `opts.cancel`, or else the handle's
    /// [`VMCraft::cancel_token`]; cancelled, it leaves no output file. A tree
    /// mounted in-process is archived in-process (the same archive, byte for
    /// byte), unless xattrs, SELinux labels or ACLs are asked for: those are
    /// read from the kernel's mounts, which the session moves to first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tar_out(
        &self,
        directory: &str,
        tarfile: impl AsRef<Path>,
        mut opts: TarOutOptions,
    ) -> Result<TarStats> {
        if opts.progress.is_none() {
            opts.progress = self.progress_fn("tar_out");
        }
        if opts.cancel.is_none() {
            opts.cancel = Some(self.config.cancel.clone());
        }
        // Read in-process when the tree is (the same archive as from the
        // kernel's mounts); xattrs and ACLs are only read from the kernel's.
        use crate::inproc::ReadTree;
        let tree = if opts.xattrs || opts.selinux || opts.acls {
            ReadTree::Kernel(self.guest_root_for("tar_out")?)
        } else {
            self.read_tree("tar_out")?
        };
        Ok(match tree {
            ReadTree::InProcess(t) => {
                vmcraft_archive::tar_out_source(&*t, directory, tarfile, &opts)?
            }
            ReadTree::Kernel(root) => vmcraft_archive::tar_out(&root, directory, tarfile, &opts)?,
        })
    }

    /// `tar_in` of a gzip tarball (`tgz_in`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tgz_in(&self, tarball: impl AsRef<Path>, directory: &str) -> Result<TarStats> {
        self.tar_in(
            tarball,
            directory,
            TarInOptions {
                compress: Some(Compression::Gzip),
                ..Default::default()
            },
        )
    }

    /// `tar_out` to a gzip tarball (`tgz_out`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tgz_out(&self, directory: &str, tarball: impl AsRef<Path>) -> Result<TarStats> {
        self.tar_out(
            directory,
            tarball,
            TarOutOptions {
                compress: Compression::Gzip,
                ..Default::default()
            },
        )
    }

    /// `tar_in` of an xz tarball (`txz_in`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn txz_in(&self, tarball: impl AsRef<Path>, directory: &str) -> Result<TarStats> {
        self.tar_in(
            tarball,
            directory,
            TarInOptions {
                compress: Some(Compression::Xz),
                ..Default::default()
            },
        )
    }

    /// `tar_out` to an xz tarball (`txz_out`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn txz_out(&self, directory: &str, tarball: impl AsRef<Path>) -> Result<TarStats> {
        self.tar_out(
            directory,
            tarball,
            TarOutOptions {
                compress: Compression::Xz,
                ..Default::default()
            },
        )
    }
}

/// A private temporary file (mode 0600, created exclusively) for a tarball
/// between two trees, removed on drop.
struct Spool(PathBuf);

impl Spool {
    /// In the session's private (0700) directory, which `vmcraft cleanup`
    /// removes with the session if the process dies; else the temp directory.
    fn new(g: &VMCraft, call: &'static str) -> Result<Self> {
        let private = crate::session::lock(&g.session_dir).clone();
        let dir = private
            .or_else(|| g.effective_tmpdir())
            .unwrap_or_else(std::env::temp_dir);
        let (path, _) = crate::private_file::create(&dir, &format!("vmcraft-{call}"), ".tar")
            .map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Io,
                    call,
                    dir.display(),
                    "cannot create a temporary file",
                    e,
                )
            })?;
        Ok(Spool(path))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The last component of a path, refusing `/`, `.` and `..` (nothing to name the
/// copy by).
fn last_name<'a>(call: &str, path: &'a str) -> Result<&'a str> {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::invalid(
            call,
            path,
            "has no last component to name the copy by (copy the directory's contents with tar-in/tar-out)",
        ));
    }
    Ok(name)
}

impl VMCraft {
    /// Copy a host file, symlink or directory (recursively, with modes, owners
    /// and times) into the guest directory `remotedir`, as
    /// `remotedir/NAME` (`copy_in`). Directories travel as a tarball through the
    /// confined packer and extractor; only regular files, directories and
    /// symlinks are copied (a host FIFO or device node is refused).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn copy_in(&self, localpath: impl AsRef<Path>, remotedir: &str) -> Result<()> {
        let local = localpath.as_ref();
        let io = |what: &str, e| {
            Error::call_with_source(
                ErrorKind::Io,
                "copy_in",
                local.display(),
                what.to_string(),
                e,
            )
        };
        let meta = std::fs::symlink_metadata(local).map_err(|e| io("cannot read", e))?;
        let name = last_name("copy_in", &local.to_string_lossy())?.to_string();
        let guest = self.guest_root_for("copy_in")?;
        if !guest.is_dir(remotedir, true)? {
            return Err(Error::invalid(
                "copy_in",
                remotedir,
                "not a directory in the guest",
            ));
        }
        let target = format!("{}/{name}", remotedir.trim_end_matches('/'));
        let ft = meta.file_type();
        if ft.is_dir() {
            let parent = local.parent().filter(|p| !p.as_os_str().is_empty());
            let host = vmcraft_fs::root::GuestRoot::open(parent.unwrap_or(Path::new(".")))?;
            let spool = Spool::new(self, "copy_in")?;
            let cancel = Some(self.config.cancel.clone());
            vmcraft_archive::tar_out(
                &host,
                format!("/{name}"),
                &spool.0,
                &TarOutOptions {
                    cancel: cancel.clone(),
                    ..Default::default()
                },
            )?;
            vmcraft_archive::tar_in(
                &guest,
                &spool.0,
                &target,
                &TarInOptions {
                    create_dir: true,
                    cancel,
                    ..Default::default()
                },
            )?;
            Ok(())
        } else if ft.is_file() {
            self.upload(local, &target)?;
            guest.chmod(meta.permissions().mode() & 0o7777, &target)?;
            if nix::unistd::geteuid().is_root() {
                guest.chown(meta.uid() as i32, meta.gid() as i32, &target)?;
            }
            guest.utimens(
                &target,
                vmcraft_fs::root::FileTime::At(meta.atime(), meta.atime_nsec()),
                vmcraft_fs::root::FileTime::At(meta.mtime(), meta.mtime_nsec()),
            )?;
            Ok(())
        } else if ft.is_symlink() {
            let to = std::fs::read_link(local).map_err(|e| io("cannot read the link", e))?;
            self.ln_s(&to.to_string_lossy(), &target)
        } else {
            Err(Error::invalid(
                "copy_in",
                local.display(),
                "only files, directories and symbolic links are copied",
            ))
        }
    }

    /// Copy a guest file or directory (recursively) out to the host directory
    /// `localdir`, as `localdir/NAME` (`copy_out`); the guest's `/` is copied
    /// into `localdir` itself, as libguestfs does. Directories travel as a
    /// tarball in the session's private directory and are extracted with the
    /// confinement guest trees get, so nothing in the guest's tree can land
    /// outside its target. A guest tree is hostile on the host: no device node
    /// or FIFO is made (they are left out and listed in the log), no setuid or
    /// setgid bit is set, and owners are restored only when running as root, as
    /// GNU tar does. A single file gets the host's usual mode (0666 under the
    /// process umask), not the guest's. A guest symlink, FIFO or device named
    /// directly is refused, as libguestfs refuses what is not a file or
    /// directory.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn copy_out(&self, remotepath: &str, localdir: impl AsRef<Path>) -> Result<()> {
        let localdir = localdir.as_ref();
        if !localdir.is_dir() {
            return Err(Error::invalid(
                "copy_out",
                localdir.display(),
                "not a directory on the host",
            ));
        }
        let guest = self.guest_root_for("copy_out")?;
        let st = guest.lstat(remotepath)?;
        let kind = st.mode & 0o170000;
        let whole_root = remotepath.trim_end_matches('/').is_empty();
        if kind == 0o040000 {
            let target = if whole_root {
                localdir.to_path_buf()
            } else {
                localdir.join(last_name("copy_out", remotepath)?)
            };
            let spool = Spool::new(self, "copy_out")?;
            let cancel = Some(self.config.cancel.clone());
            let packed = vmcraft_archive::tar_out(
                &guest,
                remotepath,
                &spool.0,
                &TarOutOptions {
                    special_files: false,
                    cancel: cancel.clone(),
                    ..Default::default()
                },
            )?;
            for s in &packed.skipped {
                tracing::warn!(entry = %s, "copy_out: left out");
            }
            match std::fs::create_dir(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && target.is_dir() => {}
                Err(e) => {
                    return Err(Error::call_with_source(
                        ErrorKind::Io,
                        "copy_out",
                        target.display(),
                        "cannot create",
                        e,
                    ));
                }
            }
            let host = vmcraft_fs::root::GuestRoot::open(&target)?;
            let unpacked = vmcraft_archive::tar_in(
                &host,
                &spool.0,
                "/",
                &TarInOptions {
                    strip_setid: true,
                    cancel,
                    ..Default::default()
                },
            )?;
            for w in &unpacked.warnings {
                tracing::warn!(warning = %w, "copy_out");
            }
            Ok(())
        } else if kind == 0o100000 {
            let target = localdir.join(last_name("copy_out", remotepath)?);
            self.download(remotepath, &target)?;
            Ok(())
        } else {
            Err(Error::invalid(
                "copy_out",
                remotepath,
                "not a file or directory",
            ))
        }
    }
}
