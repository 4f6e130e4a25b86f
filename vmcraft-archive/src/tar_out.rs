//! `tar_out`: archive a guest directory, entries named relative to it (`./`,
//! `./etc/fstab`, as libguestfs's `tar -C dir -cf - .` names them), streamed to
//! any writer through the chosen compressor.
//!
//! A kernel-mounted tree is walked with directory descriptors and `O_NOFOLLOW`,
//! so a symlink in the guest is stored as a symlink and never followed out of
//! the tree; a [`TarSource`] (a tree read in-process, [`tar_out_source`]) by
//! the paths its own resolution gives, one listed name at a time
//! (`out_tree.rs`). Both go through the same writer, so the same tree gives the
//! same archive either way. A tree read in-process comes from an image that
//! may be hostile: a directory loop, a name that is a path, a size its data
//! does not have, are errors ([`ErrorKind::Corrupt`]), and the walk stops at
//! 256 levels (and at a million entries on a filesystem without inode
//! numbers), where the kernel's tree has no such limits. The
//! archive is POSIX pax, laid out as GNU tar's `--format=posix` lays it out
//! (`pax_out.rs`): ustar headers, and a pax extended header for what does
//! not fit in one (long names and link targets, big ids and sizes, sub-second
//! and pre-1970 mtimes, and xattrs and ACLs as `SCHILY.*` records, as GNU
//! tar's `--xattrs` and `--acls` write them).
//!
//! [`TarOutOptions::cancel`] is checked before each entry and before each
//! 8 MiB of a file's data; a cancelled call fails with
//! [`ErrorKind::Cancelled`] and [`tar_out`] removes its temporary file, so no
//! partial archive is left under the destination's name.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rustix::fs::FileType;
use rustix::io::Errno;

use crate::compress::{self, Compression, FinishWrite};
use crate::options::{Progress, TarOutOptions, TarStats, xattr_filter};
use crate::out_tree::{Attrs, FdTree, LoopGuard, Meta, PathTree, Tree};
use crate::owners::Names;
use crate::pax::Record;
use crate::pax_out::{self, Entry, Headers, Kind};
use crate::pipeline::WriteBehind;
use crate::source::{SourceDir, TarSource};
use vmcraft_fs::root::GuestRoot;
use vmcraft_fs::root::{Error, ErrorKind, Result};

const BLOCK: usize = 512;
/// GNU tar pads archives to whole records of 20 blocks.
const RECORD: u64 = 10240;
/// Progress is also reported every this many bytes inside a large file.
const PROGRESS_STEP: u64 = 8 << 20;

/// Archive the guest directory `directory` into the host file `tarfile`
/// (libguestfs `tar_out`). Everything is checked first; the archive is then
/// written to a temporary file beside `tarfile` and renamed over it only when
/// it is complete, so a call that fails leaves an existing `tarfile` exactly as
/// it was (and creates none). A `tarfile` that is a symlink is followed, and one
/// that is not a regular file (a FIFO, `/dev/stdout`) is written in place.
///
/// Cancelled through [`TarOutOptions::cancel`], it fails with
/// [`ErrorKind::Cancelled`] (`tar_out: DIR: cancelled after N entries (M
/// bytes)`) and, like any failure, leaves `tarfile` as it was (a FIFO or
/// device has what was written before).
///
/// ```
/// use vmcraft_archive::{Compression, GuestRoot, TarOutOptions, tar_out};
/// let dir = tempfile::tempdir()?;
/// let root = GuestRoot::open(dir.path())?;
/// root.mkdir_p("/etc", 0o755)?;
/// root.write("/etc/hostname", b"guest\n")?;
/// let out = tempfile::NamedTempFile::new()?;
/// let opts = TarOutOptions { compress: Compression::Gzip, ..Default::default() };
/// let stats = tar_out(&root, "/etc", out.path(), &opts)?;
/// assert_eq!(stats.entries, 2); // ./ and ./hostname
/// // A refused call leaves the earlier archive alone.
/// let before = std::fs::read(out.path())?;
/// assert!(tar_out(&root, "/missing", out.path(), &opts).is_err());
/// assert_eq!(std::fs::read(out.path())?, before);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tar_out(
    root: &GuestRoot,
    directory: impl AsRef<Path>,
    tarfile: impl AsRef<Path>,
    opts: &TarOutOptions,
) -> Result<TarStats> {
    let prepared = prepare(root, directory.as_ref(), opts)?;
    write_file(&FdTree, prepared, tarfile.as_ref(), opts)
}

/// [`tar_out`] of a [`TarSource`] (a tree read in-process): the same archive,
/// byte for byte, as [`tar_out`] writes of the same tree mounted by the
/// kernel, when the source answers as the kernel does (names, modes, owners,
/// times, link counts and inode numbers). Extended attributes and ACLs are not
/// read from a `TarSource`: options asking for them are refused
/// ([`ErrorKind::Unsupported`]), before anything is written. Damage is an
/// error, not a shorter archive (see the module docs for the limits).
///
/// See [`TarSource`] for an example.
pub fn tar_out_source(
    src: &dyn TarSource,
    directory: &str,
    tarfile: impl AsRef<Path>,
    opts: &TarOutOptions,
) -> Result<TarStats> {
    let prepared = prepare_source(src, directory, opts)?;
    write_file(&PathTree(src), prepared, tarfile.as_ref(), opts)
}

/// Write the prepared archive to `tarfile` (see [`tar_out`]).
fn write_file<T: Tree>(
    tree: &T,
    prepared: Prepared<T::Dir>,
    tarfile: &Path,
    opts: &TarOutOptions,
) -> Result<TarStats> {
    let out = Output::create(tarfile)?;
    let file = out
        .file
        .try_clone()
        .map_err(|e| Error::io("tar_out", tarfile.display(), "", e))?;
    let res = match opts.compress {
        // Nothing to overlap, or deflate on a pool of its own.
        Compression::None | Compression::Gzip => write_archive(tree, prepared, opts, || {
            compress::encoder(opts.compress, opts.level, opts.threads, file)
        }),
        // Any other compressor runs on a thread of its own (zstd's workers under
        // it), fed in chunks, so that it overlaps with reading the tree.
        format => {
            let (level, threads) = (opts.level, opts.threads);
            write_archive(tree, prepared, opts, move || {
                let packer = WriteBehind::spawn(move || {
                    let out = BufWriter::with_capacity(1 << 20, file);
                    compress::encoder(format, level, threads, out)
                })?;
                Ok(Box::new(packer) as Box<dyn FinishWrite>)
            })
        }
    };
    match res {
        Ok(stats) => out.commit().map(|()| stats),
        Err(e) => {
            out.abandon();
            Err(e)
        }
    }
}

/// Where [`tar_out`] writes: a temporary file beside the destination, renamed
/// over it on success; or the destination itself when it is not a regular file.
struct Output {
    file: File,
    /// (temporary file, destination) when there is something to rename.
    rename: Option<(PathBuf, PathBuf)>,
}

impl Output {
    fn create(tarfile: &Path) -> Result<Output> {
        let err = |e| Error::io("tar_out", tarfile.display(), "", e);
        // `tar -cf link` writes through a symlink: replace what it names.
        let dest = match std::fs::symlink_metadata(tarfile) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(tarfile).unwrap_or_else(|_| tarfile.to_path_buf())
            }
            _ => tarfile.to_path_buf(),
        };
        let existing = std::fs::metadata(&dest).ok();
        if let Some(m) = &existing {
            if m.is_dir() {
                return Err(Error::new(
                    ErrorKind::WrongType,
                    "tar_out",
                    tarfile.display(),
                    "is a directory",
                ));
            }
            if !m.is_file() {
                // A pipe or a device the caller named: nothing to replace.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&dest)
                    .map_err(err)?;
                return Ok(Output { file, rename: None });
            }
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = dest.file_name().unwrap_or_else(|| OsStr::new("tar"));
        let (file, temp) = create_temp(&dir, base).map_err(err)?;
        if let Some(m) = existing {
            // Keep what the file replaced had, as truncating it in place would.
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let _ = file.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777));
            let _ = rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(m.uid())),
                Some(rustix::fs::Gid::from_raw(m.gid())),
            );
        }
        Ok(Output {
            file,
            rename: Some((temp, dest)),
        })
    }

    fn commit(self) -> Result<()> {
        let Some((temp, dest)) = self.rename else {
            return Ok(());
        };
        std::fs::rename(&temp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            Error::io("tar_out", dest.display(), "rename", e)
        })
    }

    fn abandon(self) {
        if let Some((temp, _)) = self.rename {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// A new file `.NAME.vmcraft-PID-N.tmp` in `dir`, never one already there.
fn create_temp(dir: &Path, base: &OsStr) -> io::Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut name = std::ffi::OsString::from(".");
        name.push(base);
        name.push(format!(
            ".vmcraft-{}-{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `tar_out` with gzip (libguestfs `tgz_out`).
pub fn tgz_out(
    root: &GuestRoot,
    directory: impl AsRef<Path>,
    tarball: impl AsRef<Path>,
) -> Result<TarStats> {
    let opts = TarOutOptions {
        compress: compress::Compression::Gzip,
        ..Default::default()
    };
    tar_out(root, directory, tarball, &opts).map_err(|e| e.with_call("tgz_out"))
}

/// `tar_out` with xz (libguestfs `txz_out`).
pub fn txz_out(
    root: &GuestRoot,
    directory: impl AsRef<Path>,
    tarball: impl AsRef<Path>,
) -> Result<TarStats> {
    let opts = TarOutOptions {
        compress: compress::Compression::Xz,
        ..Default::default()
    };
    tar_out(root, directory, tarball, &opts).map_err(|e| e.with_call("txz_out"))
}

/// Archive the guest directory `directory` into any writer (a pipe, a socket, a
/// `Vec<u8>`), compressed as `opts.compress` says. Nothing is written when the
/// directory or the options are refused. A call that fails or is cancelled
/// part-way has written part of an archive: the writer's owner discards it.
///
/// ```
/// use vmcraft_archive::{GuestRoot, TarOutOptions, tar_out_to};
/// let dir = tempfile::tempdir()?;
/// let root = GuestRoot::open(dir.path())?;
/// root.write("/a", b"1")?;
/// let mut tar = Vec::new();
/// tar_out_to(&root, "/", &mut tar, &TarOutOptions::default())?;
/// assert_eq!(tar.len() % 10240, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tar_out_to<W: Write>(
    root: &GuestRoot,
    directory: impl AsRef<Path>,
    output: W,
    opts: &TarOutOptions,
) -> Result<TarStats> {
    let prepared = prepare(root, directory.as_ref(), opts)?;
    write_archive(&FdTree, prepared, opts, || {
        compress::encoder(opts.compress, opts.level, opts.threads, output)
    })
}

/// What `tar_out` checks and reads before it writes anything: the directory, the
/// exclude patterns, the guest's owner names.
struct Prepared<D> {
    dir: D,
    subject: String,
    excludes: Option<GlobSet>,
    names: Names,
}

/// Refuse a call cancelled before it began.
fn check_not_cancelled(subject: &str, opts: &TarOutOptions) -> Result<()> {
    if opts.cancel.as_ref().is_some_and(|t| t.is_cancelled()) {
        return Err(Error::new(
            ErrorKind::Cancelled,
            "tar_out",
            subject,
            "cancelled before anything was written",
        ));
    }
    Ok(())
}

fn prepare(root: &GuestRoot, directory: &Path, opts: &TarOutOptions) -> Result<Prepared<OwnedFd>> {
    let call = "tar_out";
    let subject = directory.display().to_string();
    check_not_cancelled(&subject, opts)?;
    let dir = root.open_dir(call, directory).map_err(|e| {
        if e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) {
            Error::new(ErrorKind::WrongType, call, &subject, "not a directory")
        } else {
            e
        }
    })?;
    prepared(dir, subject, opts, || Names::from_guest(root))
}

/// The rest of what both trees prepare: the exclude patterns and the guest's
/// owner names (read by `names`, unless numeric owners are asked for).
fn prepared<D>(
    dir: D,
    subject: String,
    opts: &TarOutOptions,
    names: impl FnOnce() -> Names,
) -> Result<Prepared<D>> {
    let excludes = build_excludes(&opts.excludes)?;
    let names = if opts.numeric_owner {
        Names::default()
    } else {
        names()
    };
    Ok(Prepared {
        dir,
        subject,
        excludes,
        names,
    })
}

fn prepare_source(
    src: &dyn TarSource,
    directory: &str,
    opts: &TarOutOptions,
) -> Result<Prepared<SourceDir>> {
    let call = "tar_out";
    let subject = directory.to_string();
    check_not_cancelled(&subject, opts)?;
    if xattr_filter(opts.xattrs, opts.selinux, opts.acls).is_some() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            call,
            &subject,
            "extended attributes and ACLs are not read from this tree",
        ));
    }
    let st = src
        .stat(directory)
        .map_err(|e| Error::io(call, &subject, "", e))?;
    if FileType::from_raw_mode(st.mode) != FileType::Directory {
        return Err(Error::new(
            ErrorKind::WrongType,
            call,
            &subject,
            "not a directory",
        ));
    }
    let dir = src
        .resolve(directory)
        .map_err(|e| Error::io(call, &subject, "", e))?;
    prepared(SourceDir(dir), subject, opts, || {
        Names::from_tables(|p| {
            crate::source::read_bounded(src, "owner names", p, crate::owners::MAX_TABLE)
        })
    })
}

/// Archive the prepared directory into the encoder `make` sets up.
// 'o is not needless: it also bounds the encoder `make` returns (clippy misses
// the where clause).
#[allow(clippy::needless_lifetimes)]
fn write_archive<'o, T: Tree, F>(
    tree: &T,
    p: Prepared<T::Dir>,
    opts: &'o TarOutOptions,
    make: F,
) -> Result<TarStats>
where
    F: FnOnce() -> io::Result<Box<dyn FinishWrite + 'o>>,
{
    let call = "tar_out";
    let Prepared {
        dir,
        subject,
        excludes,
        mut names,
    } = p;
    let enc = make().map_err(|e| Error::io(call, &subject, "compressor", e))?;
    let mut stats = TarStats::default();
    for w in std::mem::take(&mut names.warnings) {
        stats.warn(w);
    }
    let mut w = Writer {
        tree,
        guard: LoopGuard::default(),
        out: BufWriter::with_capacity(1 << 20, enc),
        opts,
        excludes,
        names,
        links: HashMap::new(),
        stats,
        subject: subject.clone(),
        last_progress: 0,
    };
    if let Err(e) = w.archive(&dir) {
        if e.kind() == ErrorKind::Cancelled {
            return Err(Error::new(
                ErrorKind::Cancelled,
                call,
                &subject,
                format!(
                    "cancelled after {} entries ({} bytes)",
                    w.stats.entries, w.stats.bytes
                ),
            ));
        }
        return Err(e);
    }
    let stats = w.stats;
    let enc = w
        .out
        .into_inner()
        .map_err(|e| Error::io(call, &subject, "write", e.into_error()))?;
    enc.finish_stream()
        .map_err(|e| Error::io(call, &subject, "write", e))?;
    Ok(stats)
}

fn build_excludes(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let glob = GlobBuilder::new(p)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| {
                Error::invalid("tar_out", "", format!("exclude pattern {p:?}")).with_source(e)
            })?;
        b.add(glob);
    }
    b.build()
        .map(Some)
        .map_err(|e| Error::invalid("tar_out", "", "exclude patterns").with_source(e))
}

/// Whether GNU tar's unanchored `--exclude` would leave `path` (`./a/b`) out: a
/// pattern matches the whole path or any part of it after a `/`.
fn excluded(set: &GlobSet, path: &[u8]) -> bool {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    let as_path = |b: &[u8]| Path::new(OsStr::from_bytes(b)).to_path_buf();
    if set.is_match(as_path(path)) {
        return true;
    }
    path.iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'/')
        .any(|(i, _)| i + 1 < path.len() && set.is_match(as_path(&path[i + 1..])))
}

struct Writer<'o, 't, T: Tree> {
    tree: &'t T,
    /// For a tree that may hold directory loops ([`Tree::GUARD_LOOPS`]).
    guard: LoopGuard,
    out: BufWriter<Box<dyn FinishWrite + 'o>>,
    opts: &'o TarOutOptions,
    excludes: Option<GlobSet>,
    names: Names,
    /// (dev, ino) of files with several links -> the first path stored.
    links: HashMap<(u64, u64), Vec<u8>>,
    stats: TarStats,
    subject: String,
    last_progress: u64,
}

fn errno_at(subject: &str, path: &[u8], what: &str, e: io::Error) -> Error {
    Error::io(
        "tar_out",
        subject,
        format!("{}: {what}", String::from_utf8_lossy(path)),
        e,
    )
}

impl<T: Tree> Writer<'_, '_, T> {
    /// Stop here when cancelled (the caller says how far it got).
    fn check_cancel(&self) -> Result<()> {
        match &self.opts.cancel {
            Some(t) if t.is_cancelled() => Err(Error::new(
                ErrorKind::Cancelled,
                "tar_out",
                &self.subject,
                "cancelled",
            )),
            _ => Ok(()),
        }
    }

    fn put(&mut self, data: &[u8]) -> Result<()> {
        self.out
            .write_all(data)
            .map_err(|e| Error::io("tar_out", &self.subject, "write", e))?;
        self.stats.bytes += data.len() as u64;
        Ok(())
    }

    fn pad(&mut self, len: u64) -> Result<()> {
        let rem = (len % BLOCK as u64) as usize;
        if rem != 0 {
            self.put(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    fn progress(&mut self, force: bool) {
        if let Some(p) = &self.opts.progress
            && (force || self.stats.bytes - self.last_progress >= PROGRESS_STEP)
        {
            self.last_progress = self.stats.bytes;
            p.call(Progress {
                bytes: self.stats.bytes,
                entries: self.stats.entries,
            });
        }
    }

    /// Write an entry's headers: its extended header first, when it has one.
    fn header(&mut self, h: Headers) -> Result<()> {
        if let Some((x, data)) = h.extended {
            self.put(&x)?;
            self.put(&data)?;
            self.pad(data.len() as u64)?;
        }
        self.put(&h.ustar)
    }

    /// The headers' view of a file: its `stat`, names from the guest.
    fn entry_of<'e>(
        &'e self,
        st: &Meta,
        kind: Kind,
        path: &'e [u8],
        link: Option<&'e [u8]>,
    ) -> Entry<'e> {
        Entry {
            kind,
            path,
            link,
            mode: st.mode & 0o7777,
            uid: st.uid.into(),
            gid: st.gid.into(),
            uname: self.names.users.get(&st.uid).map(|u| u.as_bytes()),
            gname: self.names.groups.get(&st.gid).map(|g| g.as_bytes()),
            size: 0,
            mtime: (st.mtime, st.mtime_nsec.min(999_999_999)),
            dev: (rustix::fs::major(st.rdev), rustix::fs::minor(st.rdev)),
        }
    }

    /// The `SCHILY.*` records of what the options keep of a file's xattrs.
    fn xattrs(&mut self, target: Attrs<'_, T>, path: &[u8]) -> Result<Vec<Record>> {
        let Some(keep) = xattr_filter(self.opts.xattrs, self.opts.selinux, self.opts.acls) else {
            return Ok(Vec::new());
        };
        let attrs = self
            .tree
            .xattrs(target, &keep)
            .map_err(|e| errno_at(&self.subject, path, "listxattr", e))?;
        let mut records: Vec<Record> = Vec::new();
        for (name, value) in attrs {
            let acl = match name.as_bytes() {
                b"system.posix_acl_access" => Some(b"SCHILY.acl.access".as_slice()),
                b"system.posix_acl_default" => Some(b"SCHILY.acl.default".as_slice()),
                _ => None,
            };
            if let (Some(key), true) = (acl, self.opts.acls) {
                // GNU tar's `--acls` form: text, names from the guest.
                match crate::acl::to_text(&value, &self.names.users, &self.names.groups) {
                    Some(text) => records.push((key.to_vec(), text.into_bytes())),
                    None => self.stats.warn(format!(
                        "{}: {}: not a valid ACL, stored as a raw xattr only",
                        String::from_utf8_lossy(path),
                        name.to_string_lossy()
                    )),
                }
                if !self.opts.xattrs {
                    continue;
                }
            }
            records.push((
                [b"SCHILY.xattr.".as_slice(), name.as_bytes()].concat(),
                value,
            ));
        }
        Ok(records)
    }

    fn archive(&mut self, dir: &T::Dir) -> Result<()> {
        let st = self
            .tree
            .stat_dir(dir)
            .map_err(|e| errno_at(&self.subject, b"./", "stat", e))?;
        if T::GUARD_LOOPS {
            // Not checked: the first directory cannot repeat.
            let _ = self.guard.check(&st, 0);
        }
        let records = self.xattrs(Attrs::Dir(dir), b"./")?;
        let h = pax_out::headers(&self.entry_of(&st, Kind::Directory, b"./", None), records);
        self.header(h)?;
        self.stats.entries += 1;
        self.progress(true);
        let mut path = b".".to_vec();
        self.walk(dir, &mut path)?;
        // End of archive: two zero blocks, then whole records as GNU tar writes.
        self.put(&[0u8; 2 * BLOCK])?;
        let rem = self.stats.bytes % RECORD;
        if rem != 0 {
            let zeros = vec![0u8; (RECORD - rem) as usize];
            self.put(&zeros)?;
        }
        // No flush here: a compressor's flush writes a sync point (and the legacy
        // lzma format has none); `finish_stream` ends the stream.
        self.progress(true);
        Ok(())
    }

    /// Archive what is below `top`, depth first, each directory's entries in
    /// name order. Iterative (the levels on a stack of their own), so a deep
    /// tree costs heap, not the caller's stack.
    fn walk(&mut self, top: &T::Dir, path: &mut Vec<u8>) -> Result<()> {
        let mut top_names = self.names_of(top, path)?.into_iter();
        // A directory being walked, its names still to do, and the length of
        // `path` before its own name.
        let mut stack: Vec<(T::Dir, std::vec::IntoIter<std::ffi::OsString>, usize)> = Vec::new();
        loop {
            let depth = stack.len() + 1;
            let (dir, name) = match stack.last_mut() {
                Some((d, names, _)) => match names.next() {
                    Some(n) => (&*d, n),
                    None => {
                        let (_, _, len) = stack.pop().expect("a level");
                        path.truncate(len);
                        continue;
                    }
                },
                None => match top_names.next() {
                    Some(n) => (top, n),
                    None => return Ok(()),
                },
            };
            let len = path.len();
            path.push(b'/');
            path.extend_from_slice(name.as_bytes());
            match self.entry(dir, &name, path, depth)? {
                Some(sub) => {
                    let names = self.names_of(&sub, path)?;
                    stack.push((sub, names.into_iter(), len));
                }
                None => path.truncate(len),
            }
        }
    }

    /// The names in `dir` (at `path`), sorted.
    fn names_of(&self, dir: &T::Dir, path: &[u8]) -> Result<Vec<std::ffi::OsString>> {
        self.tree
            .names(dir)
            .map_err(|e| errno_at(&self.subject, path, "readdir", e))
    }

    fn skip(&mut self, path: &[u8], why: &str) {
        let msg = format!("{}: {why}", String::from_utf8_lossy(path));
        self.stats.skip("tar_out", &self.subject, msg);
    }

    /// Archive one entry (`path`, `depth` levels below the archived
    /// directory); a directory comes back open, for the walk to go into.
    fn entry(
        &mut self,
        dir: &T::Dir,
        name: &OsStr,
        path: &mut Vec<u8>,
        depth: usize,
    ) -> Result<Option<T::Dir>> {
        self.check_cancel()?;
        if let Some(set) = &self.excludes
            && excluded(set, path)
        {
            return Ok(None);
        }
        let st = match self.tree.stat_at(dir, name) {
            Ok(st) => st,
            // A tree that cannot change does not lose what it listed: that is
            // a name its reader cannot look up again, never left out quietly.
            Err(e) if e.kind() == io::ErrorKind::NotFound && T::GUARD_LOOPS => {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    "tar_out",
                    &self.subject,
                    format!(
                        "{}: listed in its directory but not found there",
                        String::from_utf8_lossy(path)
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.skip(path, "removed while the archive was made");
                return Ok(None);
            }
            Err(e) => return Err(errno_at(&self.subject, path, "stat", e)),
        };
        if T::GUARD_LOOPS
            && let Err(why) = self.guard.check(&st, depth)
        {
            return Err(Error::new(
                ErrorKind::Corrupt,
                "tar_out",
                &self.subject,
                format!("{}: {why}", String::from_utf8_lossy(path)),
            ));
        }
        let ftype = FileType::from_raw_mode(st.mode);
        match ftype {
            FileType::Directory => {
                let sub = self
                    .tree
                    .open_dir_at(dir, name)
                    .map_err(|e| errno_at(&self.subject, path, "open", e))?;
                let records = self.xattrs(Attrs::Dir(&sub), path)?;
                path.push(b'/');
                let h = pax_out::headers(&self.entry_of(&st, Kind::Directory, path, None), records);
                path.pop();
                self.header(h)?;
                self.stats.entries += 1;
                self.progress(true);
                return Ok(Some(sub));
            }
            FileType::RegularFile => self.regular(dir, name, path, &st)?,
            FileType::Symlink => {
                let target = self
                    .tree
                    .readlink_at(dir, name)
                    .map_err(|e| errno_at(&self.subject, path, "readlink", e))?;
                let records = self.xattrs(Attrs::At(dir, name), path)?;
                let h = pax_out::headers(
                    &self.entry_of(&st, Kind::Symlink, path, Some(&target)),
                    records,
                );
                self.header(h)?;
                self.stats.entries += 1;
                self.progress(true);
            }
            // GNU tar leaves sockets out, in these words.
            FileType::Socket => self.skip(path, "socket ignored"),
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo
                if self.opts.special_files =>
            {
                let kind = match ftype {
                    FileType::CharacterDevice => Kind::Char,
                    FileType::BlockDevice => Kind::Block,
                    _ => Kind::Fifo,
                };
                let records = self.xattrs(Attrs::At(dir, name), path)?;
                let h = pax_out::headers(&self.entry_of(&st, kind, path, None), records);
                self.header(h)?;
                self.stats.entries += 1;
                self.progress(true);
            }
            FileType::CharacterDevice => self.skip(path, "character device"),
            FileType::BlockDevice => self.skip(path, "block device"),
            FileType::Fifo => self.skip(path, "fifo"),
            FileType::Unknown => self.skip(path, "unknown file type"),
        }
        Ok(None)
    }

    fn regular(&mut self, dir: &T::Dir, name: &OsStr, path: &[u8], st: &Meta) -> Result<()> {
        // (`ino` 0: a tree without inode numbers, where no file is a link.)
        if st.nlink > 1 && st.ino != 0 {
            let key = (st.dev, st.ino);
            if let Some(first) = self.links.get(&key).cloned() {
                let h = pax_out::headers(
                    &self.entry_of(st, Kind::HardLink, path, Some(&first)),
                    Vec::new(),
                );
                self.header(h)?;
                self.stats.entries += 1;
                self.progress(true);
                return Ok(());
            }
            self.links.insert(key, path.to_vec());
        }
        let file = match self.tree.open_file_at(dir, name) {
            Ok(Some(f)) => f,
            Ok(None) => {
                self.skip(path, "changed type while the archive was made");
                return Ok(());
            }
            Err((_, e)) if e.kind() == io::ErrorKind::NotFound => {
                self.skip(path, "removed while the archive was made");
                return Ok(());
            }
            Err((what, e)) => return Err(errno_at(&self.subject, path, what, e)),
        };
        let records = self.xattrs(Attrs::File(&file), path)?;
        let size = st.size;
        let mut entry = self.entry_of(st, Kind::Regular, path, None);
        entry.size = size;
        let h = pax_out::headers(&entry, records);
        self.header(h)?;
        let mut file = file;
        let mut left = size;
        while left > 0 {
            self.check_cancel()?;
            // `io::copy` into the `BufWriter` reads straight into its buffer:
            // one copy from the page cache, none in between.
            let chunk = left.min(PROGRESS_STEP);
            let n = io::copy(&mut (&mut file).take(chunk), &mut self.out).map_err(|e| {
                Error::io(
                    "tar_out",
                    &self.subject,
                    format!("{}: copy", String::from_utf8_lossy(path)),
                    e,
                )
            })?;
            self.stats.bytes += n;
            left -= n;
            if n < chunk && T::GUARD_LOOPS {
                // A tree that cannot change: its size was a lie (a hostile
                // image), not a file that shrank.
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    "tar_out",
                    &self.subject,
                    format!(
                        "{}: {size} bytes by its metadata, only {} could be read",
                        String::from_utf8_lossy(path),
                        size - left
                    ),
                ));
            }
            if n < chunk {
                // The file shrank while it was read: pad with zeros, as GNU tar
                // does, so the archive stays well formed.
                let msg = format!(
                    "{}: file shrank by {left} bytes; padding with zeros",
                    String::from_utf8_lossy(path)
                );
                self.stats.warn(msg);
                let zeros = vec![0u8; left.min(1 << 20) as usize];
                while left > 0 {
                    self.check_cancel()?;
                    let k = left.min(zeros.len() as u64) as usize;
                    self.put(&zeros[..k])?;
                    left -= k as u64;
                }
                break;
            }
            self.progress(false);
        }
        self.stats.file_bytes += size;
        self.pad(size)?;
        self.stats.entries += 1;
        self.progress(true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> GlobSet {
        build_excludes(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn excludes_match_like_gnu_tar() {
        let s = set(&["*.log", "var/cache", "./tmp"]);
        assert!(excluded(&s, b"./a/b.log"));
        assert!(excluded(&s, b"./x.log/"));
        assert!(excluded(&s, b"./var/cache"));
        assert!(excluded(&s, b"./srv/var/cache"));
        assert!(excluded(&s, b"./tmp"));
        assert!(!excluded(&s, b"./var/cache2"));
        assert!(!excluded(&s, b"./var"));
        assert!(!excluded(&s, b"./srv/tmp"));
        let e = build_excludes(&["a[".to_string()]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("\"a[\""), "{e}");
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        for vlen in [0usize, 1, 80, 89, 90, 91, 985, 995, 996, 10_000] {
            let key = b"SCHILY.xattr.user.k".to_vec();
            let value = vec![b'v'; vlen];
            let rest = 3 + key.len() + value.len();
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            let rec = format!(
                "{len} {}={}\n",
                String::from_utf8_lossy(&key),
                String::from_utf8_lossy(&value)
            );
            assert_eq!(rec.len(), len, "value of {vlen} bytes");
        }
    }
}
