//! `tar_in`: extract a tar stream into a guest directory, every entry resolved
//! inside the guest root.
//!
//! Entry names are checked first: an absolute name, a `..` component or a NUL
//! byte is refused with an error naming the entry, and so is a hard link whose
//! target is. What remains is created with `*at` calls on a parent directory that
//! the kernel resolved beneath the *target directory* ([`crate::target`]:
//! `RESOLVE_BENEATH`, or `RESOLVE_IN_ROOT` when the target is the guest's root),
//! with `O_EXCL | O_NOFOLLOW` for new files, so no entry, hard link target
//! included, lands outside the directory extracted into, whatever symlinks the
//! guest holds there. The archive's own symlinks whose target is absolute or has
//! a `..` are made only after every other entry, as GNU tar makes them
//! ([`crate::delayed`]), so no entry ever passes through them. Symlink
//! *targets* are stored verbatim: they are guest data, and resolve inside the
//! root whenever they are followed. An existing non-directory in the way is
//! replaced (not written through), as GNU tar does.
//!
//! Directory modes and times are set after everything below them is extracted.
//! All-zero 4 KiB blocks of regular files become holes, and sparse files (old
//! GNU and PAX) are written extent by extent ([`crate::sparse`]). Sizes and
//! counts in headers are bounded where the stream is read
//! ([`crate::framer`], [`crate::limits`]), and every entry is judged by
//! [`crate::check`] before anything is made for it, in the verification pass
//! and again here.
//!
//! A refusal while making an entry or setting its metadata (`EPERM`,
//! `EACCES`; any failure to set metadata) does not stop the extraction: it is
//! recorded, the rest of the archive is extracted, and the call then fails
//! with every failure named (the first few in the message), as GNU tar reports
//! them and exits with status 2. What the filesystem cannot hold at all
//! (`ENOSYS`, `EOPNOTSUPP`) is skipped or warned about instead
//! ([`vmcraft_fs::root::meta`]).
//!
//! What is kept from entry to entry is bounded too, since a small compressed
//! stream can hold millions of entries: directory records
//! ([`crate::dirmeta`]) and delayed symlinks are counted against
//! [`TarInOptions::max_delayed_directories`], `max_delayed_links` and
//! `max_delayed_bytes` before anything is made for the entry, and the skipped
//! entries and warnings of [`TarStats`] keep at most
//! [`crate::limits::MAX_MESSAGES`] messages each, counting the rest.
//!
//! [`TarInOptions::cancel`] is checked before each entry and at every read of
//! the decompressed stream, so also inside a large file's data and inside data
//! the tar reader skips. A cancelled extraction ends as a failed one does: the
//! delayed symlinks are made (no placeholder stays) and the directory metadata
//! is set; the error says how far it got. Cancelled during the verification
//! pass, nothing was extracted.

use std::cell::{Cell, RefCell};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timestamps};
use rustix::io::Errno;
use vmcraft_block::CancelToken;

use crate::check::{Fields, Kind, check_entry};
use crate::compress::{self, Compression};
use crate::delayed::{Delayed, Failure};
use crate::dirmeta::{self, Dirs};
use crate::framer::{At, Seq};
use crate::limits::Held;
use crate::options::{Progress, TarInOptions, TarStats, xattr_filter};
use crate::owners::Names;
use crate::pax::{PaxSplitter, Record, Side, SideRecords};
use crate::pipeline::ReadAhead;
use crate::sparse::SparseMap;
use crate::spool::{MAX_SPOOL, Spool, Tee};
use crate::target::Target;
use vmcraft_fs::root::GuestRoot;
use vmcraft_fs::root::fileops::FileTime;
use vmcraft_fs::root::meta::{self, Meta, Policy};
use vmcraft_fs::root::{Error, ErrorKind, Result};

const CALL: &str = "tar_in";
/// Granularity of hole detection.
const HOLE_BLOCK: usize = 4096;

/// Extract the host file `tarfile` into the guest directory `directory`
/// (libguestfs `tar_in`). With `verify_first` (the default) every entry is
/// judged as extraction judges it (one check for both) before anything of the
/// archive is in the target, so an unsafe or corrupt archive is refused with
/// the guest unchanged. How depends on the target:
///
/// - **an existing empty directory** (not on FUSE): the archive is checked
///   as it is extracted, in one pass, into a private directory made in the
///   target ([`crate::staged`]), whose entries are renamed into place once
///   the whole archive has been read and found good. Decompression of a file
///   (on a thread of its own) overlaps the making of files, and nothing is
///   held in memory. A refused archive, or a cancelled call, leaves the directory
///   empty, its times put back (its change time is the only trace). A failure
///   to make an entry (the disk full, a limit) stops the making, but the rest
///   is read and checked: a bad archive is still refused whole, a good one
///   keeps what was made, as below.
/// - **a directory with something in it, one to be made (`create_dir`), or
///   one on FUSE** (whose drivers do not all rename a directory with its
///   contents): the archive is read once to check
///   it, then again to extract it. The file is opened once, and both passes
///   read that descriptor, never the path again (a file renamed over
///   `tarfile` between them changes nothing). A plain tar is checked by its
///   headers alone, with `pread`; a compressed one's decompressed stream is
///   kept in memory between the passes when it is at most 256 MiB, and
///   decompressed again otherwise (on a thread of its own, beside
///   extraction). A FIFO or other stream, which can be read only once, is read
///   into memory (its decompressed tar stream, at most 256 MiB), checked there
///   and extracted from there; a larger stream is refused with
///   [`crate::ErrorKind::LimitExceeded`] and nothing extracted. A failure while
///   extracting leaves what was made before it, as GNU tar does.
///
/// With `verify_first` off the archive is extracted as it is read, as
/// [`tar_in_from`] extracts any stream.
///
/// What is checked is the file's content as it is read: a writer changing the
/// file in place between the passes is not guarded against.
///
/// Cancelled ([`TarInOptions::cancel`]) while the archive is checked, nothing
/// is extracted; cancelled later, see [`tar_in_from`].
///
/// ```
/// use vmcraft_archive::{GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_out};
/// let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
/// let src = GuestRoot::open(a.path())?;
/// src.mkdir_p("/etc/app", 0o755)?;
/// src.write("/etc/app/conf", b"x\n")?;
/// let tarball = a.path().join("etc.tar");
/// tar_out(&src, "/etc", &tarball, &TarOutOptions::default())?;
///
/// let dst = GuestRoot::open(b.path())?;
/// let opts = TarInOptions { create_dir: true, ..Default::default() };
/// tar_in(&dst, &tarball, "/restored", &opts)?;
/// assert_eq!(dst.read_file("/restored/app/conf")?, b"x\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tar_in(
    root: &GuestRoot,
    tarfile: impl AsRef<Path>,
    directory: impl AsRef<Path>,
    opts: &TarInOptions,
) -> Result<TarStats> {
    tar_in_spooled(root, tarfile.as_ref(), directory.as_ref(), opts, MAX_SPOOL)
}

/// [`tar_in`], keeping up to `spool_limit` decompressed bytes from the
/// verification pass for the extraction pass.
fn tar_in_spooled(
    root: &GuestRoot,
    tarfile: &Path,
    directory: &Path,
    opts: &TarInOptions,
    spool_limit: u64,
) -> Result<TarStats> {
    let io_err = |e| Error::io(CALL, tarfile.display(), "", e);
    let cancel = opts.cancel.as_ref();
    check_cancel(cancel, directory, "cancelled before anything was extracted")?;
    // The one open of the archive: both passes read this descriptor.
    let mut file = File::open(tarfile).map_err(io_err)?;
    if !file.metadata().map_err(io_err)?.is_file() {
        return tar_in_stream(root, file, tarfile, directory, opts, spool_limit);
    }
    let format = match opts.compress {
        Some(c) => c,
        None => {
            let mut head = [0u8; 16];
            let n = read_head(&file, &mut head).map_err(io_err)?;
            Compression::detect(&head[..n]).unwrap_or(Compression::None)
        }
    };
    let plain = TarInOptions {
        compress: Some(Compression::None),
        ..opts.clone()
    };
    if opts.verify_first
        && let Some((dir_fd, times)) = empty_target(root, directory)
    {
        // Checked as it is extracted, into a stage moved into place at the
        // end; decompressed on a thread of its own, beside extraction.
        if format == Compression::None {
            return extract(
                root,
                dir_fd,
                file,
                directory,
                &plain,
                Some((tarfile, times)),
            );
        }
        let memlimit = opts.max_decoder_memory;
        let unpacked = ReadAhead::spawn(move || {
            compress::decoder(format, BufReader::with_capacity(1 << 20, file), memlimit)
        })
        .map_err(io_err)?;
        return extract(
            root,
            dir_fd,
            unpacked,
            directory,
            &plain,
            Some((tarfile, times)),
        );
    }
    let mut spool = None;
    if opts.verify_first {
        let at = At::new(&file).map_err(io_err)?;
        let res = if format == Compression::None {
            crate::verify::verify(at, cancel)
        } else {
            // Keep the decompressed stream, when it is small enough, so that the
            // extraction pass need not decompress it again.
            spool = Spool::new(spool_limit);
            compress::decoder(
                format,
                BufReader::with_capacity(1 << 20, at),
                opts.max_decoder_memory,
            )
            .map_err(|e| stream_err("", e))
            .and_then(|dec| {
                let dec = cancelling(dec, cancel);
                match spool.as_mut() {
                    Some(s) => crate::verify::verify(Seq(Tee::new(dec, s)), cancel),
                    None => crate::verify::verify(Seq(dec), cancel),
                }
            })
        };
        res.map_err(|e| verify_failed(e, tarfile, directory, cancel))?;
    }
    file.rewind().map_err(io_err)?;
    if format == Compression::None {
        return tar_in_from(root, file, directory, &plain);
    }
    if let Some(kept) = spool.and_then(Spool::into_reader) {
        return tar_in_from(
            root,
            BufReader::with_capacity(1 << 20, kept),
            directory,
            &plain,
        );
    }
    // Decompress on a thread of its own, so that it overlaps with extracting.
    let memlimit = opts.max_decoder_memory;
    let unpacked = ReadAhead::spawn(move || {
        compress::decoder(format, BufReader::with_capacity(1 << 20, file), memlimit)
    })
    .map_err(io_err)?;
    tar_in_from(root, unpacked, directory, &plain)
}

/// [`tar_in`] of an archive that is not a regular file (a FIFO, a character
/// device): read once; see [`tar_in`].
fn tar_in_stream(
    root: &GuestRoot,
    file: File,
    tarfile: &Path,
    directory: &Path,
    opts: &TarInOptions,
    spool_limit: u64,
) -> Result<TarStats> {
    let io_err = |e| Error::io(CALL, tarfile.display(), "", e);
    let cancel = opts.cancel.as_ref();
    let mut input = BufReader::with_capacity(1 << 20, file);
    let format = match opts.compress {
        Some(c) => c,
        None => compress::sniff(&mut input)
            .map_err(io_err)?
            .unwrap_or(Compression::None),
    };
    let o = TarInOptions {
        compress: Some(format),
        ..opts.clone()
    };
    if !opts.verify_first {
        return tar_in_from(root, input, directory, &o);
    }
    if let Some((dir_fd, times)) = empty_target(root, directory) {
        // Checked as it is extracted, into a stage moved into place at the
        // end: no copy in memory, no size limit.
        return extract(root, dir_fd, input, directory, &o, Some((tarfile, times)));
    }
    let mut spool = Spool::new(spool_limit).ok_or_else(|| {
        Error::new(
            ErrorKind::Io,
            CALL,
            tarfile.display(),
            "cannot make the memory file to check this stream in",
        )
    })?;
    compress::decoder(format, input, opts.max_decoder_memory)
        .map_err(|e| stream_err("", e))
        .and_then(|dec| {
            let tee = Tee::new(cancelling(dec, cancel), &mut spool).strict();
            crate::verify::verify(Seq(tee), cancel)
        })
        .map_err(|e| verify_failed(e, tarfile, directory, cancel))?;
    let kept = spool.into_reader().ok_or_else(|| {
        Error::new(
            ErrorKind::Io,
            CALL,
            tarfile.display(),
            "the checked stream could not be read back",
        )
    })?;
    let plain = TarInOptions {
        compress: Some(Compression::None),
        ..opts.clone()
    };
    tar_in_from(
        root,
        BufReader::with_capacity(1 << 20, kept),
        directory,
        &plain,
    )
}

/// The first bytes of `file` (fewer when it is shorter).
fn read_head(file: &File, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read_at(&mut head[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader that fails once `cancel` is cancelled.
fn cancelling<'a>(inner: impl Read + 'a, cancel: Option<&CancelToken>) -> Counting<impl Read + 'a> {
    Counting {
        inner,
        count: Rc::new(Cell::new(0)),
        cancel: cancel.cloned(),
    }
}

/// The error of a failed verification pass, about the archive `tarfile`.
fn verify_failed(
    e: Error,
    tarfile: &Path,
    directory: &Path,
    cancel: Option<&CancelToken>,
) -> Error {
    if is_cancel(&e, cancel) {
        cancelled(
            directory,
            format!(
                "cancelled while checking the archive {}; nothing was extracted",
                tarfile.display()
            ),
        )
    } else {
        e.context(format!("{}", tarfile.display()))
    }
}

/// `tar_in` of a gzip-compressed file (libguestfs `tgz_in`).
pub fn tgz_in(
    root: &GuestRoot,
    tarball: impl AsRef<Path>,
    directory: impl AsRef<Path>,
) -> Result<TarStats> {
    let opts = TarInOptions {
        compress: Some(Compression::Gzip),
        ..Default::default()
    };
    tar_in(root, tarball, directory, &opts).map_err(|e| e.with_call("tgz_in"))
}

/// `tar_in` of an xz-compressed file (libguestfs `txz_in`).
pub fn txz_in(
    root: &GuestRoot,
    tarball: impl AsRef<Path>,
    directory: impl AsRef<Path>,
) -> Result<TarStats> {
    let opts = TarInOptions {
        compress: Some(Compression::Xz),
        ..Default::default()
    };
    tar_in(root, tarball, directory, &opts).map_err(|e| e.with_call("txz_in"))
}

/// Extract a tar stream from any reader (a pipe, a socket, a byte slice) into
/// the guest directory `directory`. The compression is `opts.compress`, or
/// detected from the first bytes. A stream cannot be verified before it is
/// extracted: an unsafe entry is refused when it is reached, after the entries
/// before it were extracted (inside the root, like everything else).
///
/// Cancelled through [`TarInOptions::cancel`], the call stops before the next
/// entry or at the next read inside one (a file being written is left holding
/// what was read of it), makes the symlinks it held back and sets the
/// directories' metadata as after any failure, and fails with
/// [`ErrorKind::Cancelled`]: `tar_in: DIR: cancelled after N entries (M bytes)`.
/// Cancelled before it starts, nothing is created.
///
/// ```
/// use vmcraft_archive::{ErrorKind, GuestRoot, TarInOptions, tar_in_from};
/// let dir = tempfile::tempdir()?;
/// let root = GuestRoot::open(dir.path())?;
/// let err = tar_in_from(&root, &b"not a tar archive"[..], "/", &TarInOptions::default())
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Corrupt);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tar_in_from<R: Read>(
    root: &GuestRoot,
    input: R,
    directory: impl AsRef<Path>,
    opts: &TarInOptions,
) -> Result<TarStats> {
    let directory = directory.as_ref();
    check_cancel(
        opts.cancel.as_ref(),
        directory,
        "cancelled before anything was extracted",
    )?;
    let dir_fd = target_dir(root, directory, opts.create_dir)?;
    extract(root, dir_fd, input, directory, opts, None)
}

/// The target directory of an extraction (`O_PATH`), made first when
/// `create` is set; anything but a directory is refused.
fn target_dir(root: &GuestRoot, directory: &Path, create: bool) -> Result<OwnedFd> {
    let subject = directory.display().to_string();
    let dir_fd = if create {
        root.mkdir_all(CALL, directory, 0o755)?
    } else {
        root.handle(CALL, directory, true)?
    };
    let st = rustix::fs::fstat(&dir_fd).map_err(|e| Error::errno(CALL, &subject, "", e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(Error::new(
            ErrorKind::WrongType,
            CALL,
            &subject,
            "not a directory",
        ));
    }
    Ok(dir_fd)
}

/// The target directory of a checked extraction when it exists, is empty and
/// not on FUSE: the archive can then be staged ([`crate::staged`]) and checked
/// as it is extracted. `None` otherwise (the archive is checked in a pass of
/// its own).
fn empty_target(root: &GuestRoot, directory: &Path) -> Option<(OwnedFd, Timestamps)> {
    let fd = target_dir(root, directory, false).ok()?;
    let times = crate::staged::can_stage(fd.as_fd()).ok()??;
    Some((fd, times))
}

/// Extract `input` into the directory `dir_fd` (named `directory` in
/// messages). Staged (`staged_from`: the archive file, named in a refusal as
/// the check pass names it, and the target's times to put back then), into a
/// private directory in it first, moved into
/// place only once the whole archive has been read and found good
/// ([`crate::staged`]): an archive refused, or a call cancelled, then leaves
/// the target as it was.
fn extract<R: Read>(
    root: &GuestRoot,
    dir_fd: OwnedFd,
    input: R,
    directory: &Path,
    opts: &TarInOptions,
    staged_from: Option<(&Path, Timestamps)>,
) -> Result<TarStats> {
    let subject = directory.display().to_string();
    let cancel = opts.cancel.as_ref();
    let target = Target::new(root, dir_fd).map_err(|e| Error::errno(CALL, &subject, "", e))?;
    // Staged: extract into the stage, resolved as the target would be; the
    // target itself (`home`) takes over once the stage is moved into place.
    let (target, mut stage) = if let Some((_, times)) = &staged_from {
        let stage = crate::staged::Stage::create(target.fd(), times.clone())
            .map_err(|e| Error::errno(CALL, &subject, "making the staging directory", e))?;
        let dir = rustix::io::fcntl_dupfd_cloexec(stage.dir(), 0)
            .map_err(|e| Error::errno(CALL, &subject, "", e));
        match dir {
            Ok(dir) => (target.with_scope_of(dir), Some((stage, target))),
            Err(e) => {
                return Err(match stage.discard() {
                    Ok(()) => e,
                    Err(note) => e.with_note(note),
                });
            }
        }
    } else {
        (target, None)
    };

    let (reader, counter, side) =
        match open_stream(input, opts.compress, opts.max_decoder_memory, cancel) {
            Ok(opened) => opened,
            Err(e) => {
                let e = stream_err(&subject, e);
                return Err(match stage.map(|(stage, _)| stage.discard()) {
                    Some(Err(note)) => e.with_note(note),
                    _ => e,
                });
            }
        };
    let mut archive = tar::Archive::new(reader);
    let mut x = Extractor {
        root,
        target,
        delayed: Delayed::default(),
        subject,
        opts,
        policy: {
            let mut p = Policy::new(
                opts.same_owner
                    .unwrap_or_else(|| rustix::process::geteuid().is_root()),
            );
            p.strip_setid = opts.strip_setid;
            p
        },
        dirs: Dirs::default(),
        held: Held::new(opts),
        stats: TarStats::default(),
        parent_cache: None,
        names: std::cell::OnceCell::new(),
        buf: vec![0u8; 1 << 20],
        counter,
        failures: Failures::default(),
    };
    // The whole stream, its end included, is read before anything is
    // finished, so that a staged extraction is moved into place only once the
    // archive is known good.
    let read = x
        .extract_all(&mut archive, &side, stage.is_some())
        .and_then(|stopped| {
            drain(archive.into_inner())
                .map_err(|e| stream_err(&x.subject, e))
                .map(|()| stopped)
        });
    let extracted = match read {
        Ok(stopped) => stopped.map_or(Ok(()), Err),
        Err(e) => {
            if let Some((stage, _)) = stage.take() {
                // Nothing of a refused or cancelled archive is kept.
                let kept = stage.discard();
                let e = refused_staged(e, directory, staged_from.map(|(f, _)| f), &x, cancel);
                return Err(match kept {
                    Ok(()) => e,
                    Err(note) => e.with_note(note),
                });
            }
            Err(e)
        }
    };
    match stage {
        Some((stage, home)) => {
            x.commit(stage, home);
            x.finish();
        }
        // Delayed symlinks and directory metadata are applied even when an
        // entry failed or the call was cancelled, as GNU tar does, so no
        // placeholder is left behind; the first error is the one reported.
        None => x.finish(),
    }

    let failures = std::mem::take(&mut x.failures);
    let done = extracted.and_then(|()| failures.into_error(&x.subject).map_or(Ok(()), Err));
    if let Err(e) = done {
        if is_cancel(&e, cancel) {
            let how_far = format!(
                "cancelled after {} entries ({} bytes)",
                x.stats.entries,
                x.counter.get()
            );
            tracing::debug!(call = CALL, "{}: {how_far} ({e})", x.subject);
            return Err(cancelled(directory, how_far));
        }
        return Err(e);
    }
    x.stats.bytes = x.counter.get();
    for w in std::mem::take(&mut x.policy.warnings) {
        x.stats.warn(w);
    }
    for w in &x.stats.warnings {
        tracing::warn!(call = CALL, "{}: {w}", x.subject);
    }
    let unlisted = x.stats.warnings_total - x.stats.warnings.len() as u64;
    if unlisted > 0 {
        tracing::warn!(call = CALL, "{}: {unlisted} more warnings", x.subject);
    }
    Ok(x.stats)
}

/// The error of a staged extraction refused or cancelled while it was read
/// (nothing of it kept): a refusal names the archive `from`, as the check pass
/// does.
fn refused_staged(
    e: Error,
    directory: &Path,
    from: Option<&Path>,
    x: &Extractor<'_>,
    cancel: Option<&CancelToken>,
) -> Error {
    if is_cancel(&e, cancel) {
        return cancelled(
            directory,
            format!(
                "cancelled after reading {} entries ({} bytes) of the archive; nothing was extracted",
                x.stats.entries,
                x.counter.get()
            ),
        );
    }
    match from {
        Some(from) => e.with_subject("").context(from.display()),
        None => e,
    }
}

/// What the framer resolved for an entry ([`crate::framer`]): its name, link
/// target, every PAX record, and the map of a sparse file.
struct EntryInfo {
    path: Vec<u8>,
    link: Vec<u8>,
    records: Vec<Record>,
    sparse: Option<SparseMap>,
}

impl EntryInfo {
    fn new(side: Option<Side>) -> io::Result<Self> {
        // The splitter queues one for every entry it hands the `tar` crate.
        let side = side.ok_or_else(|| {
            crate::limits::refuse(
                ErrorKind::Corrupt,
                "an entry the tar reader found was not seen by the framer",
            )
        })?;
        Ok(EntryInfo {
            path: side.name,
            link: side.link,
            records: side.records,
            sparse: side.sparse,
        })
    }
}

/// Read what follows the end-of-archive blocks, so that a compressed stream's
/// trailer (its checksum) is checked and a truncated one is refused.
fn drain(mut rest: impl Read) -> io::Result<()> {
    io::copy(&mut rest, &mut io::sink()).map(drop)
}

/// A decompressed tar stream, its byte counter, and the PAX records taken out
/// of it (see [`crate::pax`]).
type Stream<'a> = (Box<dyn Read + 'a>, Rc<Cell<u64>>, Rc<RefCell<SideRecords>>);

/// Buffer, detect compression, decompress, count the tar bytes (checking
/// `cancel` at every read), split PAX records.
fn open_stream<'a, R: Read + 'a>(
    input: R,
    compress: Option<Compression>,
    memlimit: u64,
    cancel: Option<&CancelToken>,
) -> io::Result<Stream<'a>> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let format = match compress {
        Some(c) => c,
        None => compress::sniff(&mut input)?.unwrap_or(Compression::None),
    };
    let dec = compress::decoder(format, input, memlimit)?;
    let count = Rc::new(Cell::new(0));
    let counted = Counting {
        inner: dec,
        count: Rc::clone(&count),
        cancel: cancel.cloned(),
    };
    let (split, side) = PaxSplitter::new(Seq(counted));
    Ok((Box::new(split), count, side))
}

/// The decompressed stream as the tar reader sees it: every byte it reads,
/// whatever for (headers, data written, data skipped), comes through here, so
/// this is where reading stops once cancelled.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
    cancel: Option<CancelToken>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(t) = &self.cancel {
            t.check_io()?;
        }
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn stream_err(subject: &str, e: io::Error) -> Error {
    if vmcraft_block::cancel::is_cancelled_io(&e) {
        return Error::new(ErrorKind::Cancelled, CALL, subject, "cancelled").with_source(e);
    }
    if let Some(r) = crate::limits::refusal(&e) {
        // Said exactly where the stream was read: the kind and words stand.
        return Error::new(r.kind, CALL, subject, r.message.clone());
    }
    let kind = match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::InvalidData
        | io::ErrorKind::Other
        | io::ErrorKind::InvalidInput => ErrorKind::Corrupt,
        _ => vmcraft_fs::root::kind_of_io(&e),
    };
    Error::new(kind, CALL, subject, "archive is corrupt or truncated").with_source(e)
}

/// `Err(Cancelled)` about `subject` saying `message` once `cancel` is cancelled.
pub(crate) fn check_cancel(
    cancel: Option<&CancelToken>,
    subject: impl AsRef<Path>,
    message: &str,
) -> Result<()> {
    match cancel {
        Some(t) if t.is_cancelled() => Err(cancelled(subject, message)),
        _ => Ok(()),
    }
}

fn cancelled(subject: impl AsRef<Path>, message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::Cancelled,
        CALL,
        subject.as_ref().display(),
        message,
    )
}

/// Whether `e` ended the call because `cancel` was cancelled: of kind
/// `Cancelled`, or a cancelled read that a library wrapped as something else.
fn is_cancel(e: &Error, cancel: Option<&CancelToken>) -> bool {
    cancel.is_some_and(CancelToken::is_cancelled)
        && (e.kind() == ErrorKind::Cancelled || vmcraft_block::cancel::is_cancellation(e))
}

pub(crate) fn unsafe_entry(subject: &str, name: &[u8], why: &str) -> Error {
    Error::new(
        ErrorKind::Unsafe,
        CALL,
        subject,
        format!("entry {:?}: {why}", lossy(name)),
    )
}

pub(crate) fn truncated(subject: &str, name: &[u8]) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        CALL,
        subject,
        format!(
            "entry {:?}: archive is truncated inside this entry",
            lossy(name)
        ),
    )
}

/// The components of an entry name with `.` and empty ones dropped; refused when
/// absolute, when it has a `..` component, or a NUL byte.
pub(crate) fn entry_components(raw: &[u8]) -> std::result::Result<Vec<&[u8]>, &'static str> {
    if raw.is_empty() {
        return Err("empty name");
    }
    if raw.contains(&0) {
        return Err("name contains a NUL byte");
    }
    if raw[0] == b'/' {
        return Err("absolute name refused (it would leave the target directory)");
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("name with `..` refused (it would leave the target directory)"),
            c => out.push(c),
        }
    }
    Ok(out)
}

struct Extractor<'a> {
    root: &'a GuestRoot,
    /// The target directory: every entry is resolved beneath it.
    target: Target,
    /// Symlinks made only at the end.
    delayed: Delayed,
    subject: String,
    opts: &'a TarInOptions,
    policy: Policy,
    /// Directories whose mode and times are set at the end.
    dirs: Dirs,
    /// What `dirs` and `delayed` hold, against the caller's limits.
    held: Held,
    stats: TarStats,
    /// The last parent directory resolved, by path relative to the target.
    parent_cache: Option<(PathBuf, Rc<OwnedFd>)>,
    /// The guest's user and group tables, read on first need (ACL names).
    names: std::cell::OnceCell<Names>,
    buf: Vec<u8>,
    counter: Rc<Cell<u64>>,
    /// What failed without stopping the extraction.
    failures: Failures,
}

impl<'a> Extractor<'a> {
    fn err(&self, name: &[u8], what: &str, e: Errno) -> Error {
        if e == Errno::XDEV {
            // RESOLVE_BENEATH: a symlink or `..` on the way leads out.
            return Error::new(
                ErrorKind::Unsafe,
                CALL,
                &self.subject,
                format!(
                    "entry {:?}: {what}: the path leads out of the target directory (through a symlink)",
                    lossy(name)
                ),
            )
            .with_source(std::io::Error::from(e));
        }
        Error::errno(
            CALL,
            &self.subject,
            format!("entry {:?}: {what}", lossy(name)),
            e,
        )
    }

    /// Entry `name` would make the extraction hold more than a limit allows.
    fn over_limit(&self, name: &[u8], msg: String) -> Error {
        Error::new(
            ErrorKind::LimitExceeded,
            CALL,
            &self.subject,
            format!("entry {:?}: {msg}", lossy(name)),
        )
    }

    /// Extract every entry. A failure that is the archive's (its stream, an
    /// entry's check) or a cancellation is the error. When `check_rest` is
    /// set (a staged extraction), a failure to make an entry stops the making
    /// but not the reading: the rest of the archive is still checked, entry
    /// by entry as the check pass would, and the failure is returned as
    /// `Ok(Some(..))` once the whole archive has read as good.
    fn extract_all<R: Read>(
        &mut self,
        archive: &mut tar::Archive<R>,
        side: &RefCell<SideRecords>,
        check_rest: bool,
    ) -> Result<Option<Error>> {
        let entries = archive
            .entries()
            .map_err(|e| stream_err(&self.subject, e))?;
        let mut stopped = None;
        for (index, entry) in entries.enumerate() {
            check_cancel(self.opts.cancel.as_ref(), &self.subject, "cancelled")?;
            let mut entry = entry.map_err(|e| stream_err(&self.subject, e))?;
            let info = EntryInfo::new(side.borrow_mut().take(index as u64))
                .map_err(|e| stream_err(&self.subject, e))?;
            let recheck = |x: &Self, entry: &tar::Entry<'_, R>| {
                check_entry(
                    &x.subject,
                    entry.header().as_bytes(),
                    &info.path,
                    &info.link,
                )
                .map(|_| ())
            };
            if stopped.is_some() {
                recheck(self, &entry)?;
                continue;
            }
            match self.entry(&mut entry, &info) {
                Ok(()) => {}
                // Not allowed to make this entry (a directory it goes in is
                // immutable, not writable, ...): reported at the end, after
                // the rest is extracted, as GNU tar does.
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    let errno = e
                        .raw_os_error()
                        .map_or(Errno::PERM, Errno::from_raw_os_error);
                    let msg = format!("{}: {}", e.message(), io::Error::from(errno));
                    self.failures.add(errno, msg);
                    continue;
                }
                // A corrupt stream (a truncated entry, bad compressed data)
                // or a cancellation is a refusal, never a failure to make.
                Err(e)
                    if check_rest
                        && !matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::Cancelled) =>
                {
                    // An entry its check refuses is the archive's fault.
                    recheck(self, &entry)?;
                    stopped = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            }
            self.stats.entries += 1;
            self.stats.bytes = self.counter.get();
            if let Some(p) = &self.opts.progress {
                p.call(Progress {
                    bytes: self.stats.bytes,
                    entries: self.stats.entries,
                });
            }
        }
        Ok(stopped)
    }

    /// The path of `comps` relative to the target directory.
    fn rel_path(comps: &[&[u8]]) -> PathBuf {
        comps.iter().map(|c| OsStr::from_bytes(c)).collect()
    }

    /// The directory holding the entry (resolved beneath the target) and its
    /// name.
    fn parent(&mut self, comps: &[&[u8]], name: &[u8]) -> Result<(Rc<OwnedFd>, OsString)> {
        let (last, dirs) = comps.split_last().expect("caller passes a non-empty name");
        let parent = Self::rel_path(dirs);
        if let Some((p, fd)) = &self.parent_cache
            && *p == parent
        {
            return Ok((Rc::clone(fd), OsString::from_vec(last.to_vec())));
        }
        let fd = match self.target.open(&parent, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            // Archives need not hold their parent directories (`tar -cf x a/b/c`):
            // create the missing ones, beneath the target, as GNU tar does.
            Err(Errno::NOENT) => self
                .target
                .mkdir_all(&parent)
                .map_err(|e| self.err(name, "parent directory", e))?,
            Err(e) => return Err(self.err(name, "parent directory", e)),
        };
        let fd = Rc::new(fd);
        self.parent_cache = Some((parent, Rc::clone(&fd)));
        Ok((fd, OsString::from_vec(last.to_vec())))
    }

    /// Record an entry the target filesystem cannot represent (a symlink on
    /// vfat): skipped, with the reason, as GNU tar goes on after such errors.
    fn cannot(&mut self, raw: &[u8], what: &str, e: Errno) {
        let msg = format!("{}: the filesystem cannot hold a {what} ({e})", lossy(raw));
        self.stats.skip(CALL, &self.subject, msg);
    }

    /// Clear the way for a new non-directory: remove a non-directory or an empty
    /// directory at `name`.
    fn clear(&mut self, dir: &OwnedFd, name: &OsStr, raw: &[u8]) -> Result<()> {
        // A delayed symlink's placeholder that goes is counted (see `delayed`).
        let placeholder = if self.delayed.is_empty() {
            None
        } else {
            rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .filter(|st| self.delayed.find(st).is_some())
        };
        match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) => {
                if let Some(st) = placeholder {
                    self.delayed.removed(&st);
                }
                self.parent_cache = None;
                Ok(())
            }
            Err(Errno::NOENT) => Ok(()),
            Err(Errno::ISDIR | Errno::PERM) => {
                self.parent_cache = None;
                rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
                    .map_err(|e| self.err(raw, "cannot replace the directory already there", e))
            }
            Err(e) => Err(self.err(raw, "remove existing", e)),
        }
    }

    /// The metadata to set: the header's fields (parsed by [`check_entry`]),
    /// then what the PAX records say.
    fn meta(&mut self, f: &Fields, info: &EntryInfo, symlink: bool) -> Result<Meta> {
        let raw = &info.path;
        let mut m = Meta {
            mode: f.mode,
            uid: f.uid,
            gid: f.gid,
            atime: FileTime::Now,
            mtime: FileTime::At(f.mtime, 0),
            xattrs: Vec::new(),
            symlink,
        };
        let keep = xattr_filter(self.opts.xattrs, self.opts.selinux, self.opts.acls);
        {
            for (key, value) in &info.records {
                let (key, value) = (key.as_slice(), value.as_slice());
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    if keep.as_ref().is_some_and(|k| k(name)) {
                        m.xattrs
                            .push((OsString::from_vec(name.to_vec()), value.to_vec()));
                    }
                } else if let (Some(kind), true) =
                    (key.strip_prefix(b"SCHILY.acl."), self.opts.acls)
                {
                    let xname = match kind {
                        b"access" => "system.posix_acl_access",
                        b"default" => "system.posix_acl_default",
                        _ => continue,
                    };
                    let names = self.names.get_or_init(|| self.guest_names());
                    let text = String::from_utf8_lossy(value);
                    let bin = match crate::acl::from_text(&text, &names.user_ids, &names.group_ids)
                    {
                        Ok(bin) => bin,
                        Err(why) => {
                            // Names the guest does not know (the archive was made
                            // elsewhere): the ACL is skipped, not the extraction.
                            self.stats
                                .warn(format!("{}: {xname} not restored: {why}", lossy(raw)));
                            continue;
                        }
                    };
                    m.xattrs.retain(|(n, _)| n != xname);
                    m.xattrs.push((OsString::from(xname), bin));
                } else if key == b"RHT.security.selinux" {
                    if keep.as_ref().is_some_and(|k| k(b"security.selinux")) {
                        m.xattrs
                            .push((OsString::from("security.selinux"), value.to_vec()));
                    }
                } else if key == b"mtime" {
                    if let Some(t) = pax_time(value) {
                        m.mtime = t;
                    }
                } else if key == b"atime" {
                    if let Some(t) = pax_time(value) {
                        m.atime = t;
                    }
                } else if key == b"uid" {
                    if let Some(v) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                        m.uid = v;
                    }
                } else if key == b"gid"
                    && let Some(v) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok())
                {
                    m.gid = v;
                }
            }
        }
        Ok(m)
    }

    fn entry(&mut self, entry: &mut tar::Entry<'_, impl Read>, info: &EntryInfo) -> Result<()> {
        let raw = info.path.clone();
        let header: &[u8; 512] = entry.header().as_bytes();
        let plan = check_entry(&self.subject, header, &raw, &info.link)?;
        let comps = &plan.comps;
        let f = &plan.fields;
        match plan.kind {
            Kind::Directory => self.directory(info, f, &raw, comps),
            Kind::Regular => self.regular(entry, info, f, &raw, comps),
            Kind::Symlink => {
                let target = info.link.clone();
                let m = self.meta(f, info, true)?;
                let (dir, name) = self.parent(comps, &raw)?;
                if crate::delayed::must_wait(&target) {
                    // Absolute or `..`: a placeholder now, the symlink at the end.
                    let existing = rustix::fs::statat(&*dir, &name, AtFlags::SYMLINK_NOFOLLOW);
                    if existing
                        .as_ref()
                        .is_ok_and(|st| self.delayed.find(st).is_some())
                    {
                        // A second entry for a symlink already waiting is a
                        // duplicate: the first is kept, as GNU tar keeps it.
                        return Ok(());
                    }
                    let parent = Self::rel_path(&comps[..comps.len() - 1]);
                    let cost = crate::delayed::link_cost(&raw, &target, &m, &parent, &name);
                    self.held
                        .check_link(cost)
                        .map_err(|msg| self.over_limit(&raw, msg))?;
                    if existing.is_ok() {
                        self.clear(&dir, &name, &raw)?;
                    }
                    self.delayed
                        .placeholder(&dir, parent, &name, &raw, &target, m)
                        .map_err(|e| self.err(&raw, "symlink placeholder", e))?;
                    self.held.add_link(cost);
                    return Ok(());
                }
                let make = || rustix::fs::symlinkat(OsStr::from_bytes(&target), &*dir, &name);
                let made = match make() {
                    Err(Errno::EXIST) => {
                        self.clear(&dir, &name, &raw)?;
                        make()
                    }
                    other => other,
                };
                match made {
                    Ok(()) => {}
                    Err(e) if fs_cannot(e) => {
                        self.cannot(&raw, "symlink", e);
                        return Ok(());
                    }
                    Err(e) => return Err(self.err(&raw, "symlink", e)),
                }
                // A new symlink may now lie on a cached parent's path.
                self.parent_cache = None;
                if let Err((w, e)) = meta::apply((*dir).as_fd(), &name, &m, &mut self.policy) {
                    self.defer(&raw, w, e);
                }
                Ok(())
            }
            Kind::HardLink => {
                let target = &info.link;
                let tcomps = &plan.target;
                // The target's directory is resolved beneath the target too: a
                // link can only be to a file the extraction may reach.
                let (tlast, tdirs) = tcomps.split_last().expect("checked non-empty");
                let tdir = self
                    .target
                    .open(&Self::rel_path(tdirs), OFlags::PATH | OFlags::DIRECTORY)
                    .map_err(|e| {
                        self.err(&raw, &format!("hard link target {:?}", lossy(target)), e)
                    })?;
                let tname = OsStr::from_bytes(tlast);
                let (dir, name) = self.parent(comps, &raw)?;
                let tstat = rustix::fs::statat(&tdir, tname, AtFlags::SYMLINK_NOFOLLOW);
                if let (Ok(a), Ok(b)) = (
                    &tstat,
                    rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW),
                ) && a.st_dev == b.st_dev
                    && a.st_ino == b.st_ino
                {
                    return Ok(());
                }
                // A link to a delayed symlink's placeholder becomes another
                // name of that symlink: counted before it is made.
                let placeholder = tstat.ok().and_then(|st| self.delayed.find(&st));
                let parent = Self::rel_path(&comps[..comps.len() - 1]);
                let cost = crate::delayed::name_cost(&parent, &name);
                if placeholder.is_some() {
                    self.held
                        .check_link(cost)
                        .map_err(|msg| self.over_limit(&raw, msg))?;
                }
                self.clear(&dir, &name, &raw)?;
                match rustix::fs::linkat(&tdir, tname, &dir, &name, AtFlags::empty()) {
                    Ok(()) => {
                        if let Some(i) = placeholder {
                            self.delayed.add_source(i, parent, &name);
                            self.held.add_link(cost);
                        }
                        Ok(())
                    }
                    Err(e) if fs_cannot(e) => {
                        self.cannot(&raw, "hard link", e);
                        Ok(())
                    }
                    Err(e) => Err(self.err(&raw, &format!("hard link to {:?}", lossy(target)), e)),
                }
            }
            Kind::Device(ftype, dev) => {
                let m = self.meta(f, info, false)?;
                let (dir, name) = self.parent(comps, &raw)?;
                self.clear(&dir, &name, &raw)?;
                match rustix::fs::mknodat(&dir, &name, ftype, Mode::from_raw_mode(0o600), dev) {
                    Ok(()) => {}
                    Err(e) if fs_cannot(e) || e == Errno::IO => {
                        // Some FUSE filesystems answer EIO for what they lack,
                        // and may leave a plain file behind.
                        let _ = rustix::fs::unlinkat(&dir, &name, AtFlags::empty());
                        self.cannot(&raw, "device or fifo", e);
                        return Ok(());
                    }
                    Err(e) => return Err(self.err(&raw, "mknod", e)),
                }
                if let Err((w, e)) = meta::apply((*dir).as_fd(), &name, &m, &mut self.policy) {
                    self.defer(&raw, w, e);
                }
                Ok(())
            }
            Kind::Global => Ok(()),
            Kind::Other(other) => {
                let msg = format!(
                    "{}: unsupported entry type {:?}",
                    lossy(&raw),
                    char::from(other)
                );
                self.stats.skip(CALL, &self.subject, msg);
                Ok(())
            }
        }
    }

    fn directory(
        &mut self,
        info: &EntryInfo,
        f: &Fields,
        raw: &[u8],
        comps: &[&[u8]],
    ) -> Result<()> {
        let m = self.meta(f, info, false)?;
        let path = Self::rel_path(comps);
        // Counted before anything is made: over a limit, nothing of this
        // entry is.
        let held = self.dirs.held(&path);
        let cost = dirmeta::cost(&path, &m);
        self.held
            .check_directory(held.is_none(), held.unwrap_or(0), cost)
            .map_err(|msg| self.over_limit(raw, msg))?;
        if comps.is_empty() {
            let fd = self
                .target
                .open(&path, OFlags::PATH)
                .map_err(|e| self.err(raw, "stat", e))?;
            let st = rustix::fs::fstat(&fd).map_err(|e| self.err(raw, "stat", e))?;
            self.held
                .add_directory(held.is_none(), held.unwrap_or(0), cost);
            self.dirs.set(path, inode(&st), m);
            return Ok(());
        }
        let (dir, name) = self.parent(comps, raw)?;
        let stat = |x: &Self| {
            rustix::fs::statat(&*dir, &name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| x.err(raw, "stat", e))
        };
        let st = match rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(0o700)) {
            Ok(()) => stat(self)?,
            Err(Errno::EXIST) => {
                let st = stat(self)?;
                match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => st,
                    FileType::Symlink
                        if self.opts.keep_dir_links
                            && self
                                .target
                                .open(&path, OFlags::PATH | OFlags::DIRECTORY)
                                .is_ok() =>
                    {
                        // Keep the guest's directory symlink; what is below goes
                        // through it, beneath the target.
                        return Ok(());
                    }
                    _ => {
                        self.clear(&dir, &name, raw)?;
                        rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(0o700))
                            .map_err(|e| self.err(raw, "mkdir", e))?;
                        stat(self)?
                    }
                }
            }
            Err(e) => return Err(self.err(raw, "mkdir", e)),
        };
        self.held
            .add_directory(held.is_none(), held.unwrap_or(0), cost);
        self.dirs.set(path, inode(&st), m);
        Ok(())
    }

    fn regular(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        info: &EntryInfo,
        f: &Fields,
        raw: &[u8],
        comps: &[&[u8]],
    ) -> Result<()> {
        let m = self.meta(f, info, false)?;
        let (dir, name) = self.parent(comps, raw)?;
        let create = || {
            rustix::fs::openat(
                &*dir,
                &name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
        };
        // Create first; only when something is in the way is it removed (as GNU
        // tar does), which saves a lookup per file on a fresh tree.
        let fd = match create() {
            Ok(fd) => fd,
            Err(Errno::EXIST) => {
                self.clear(&dir, &name, raw)?;
                create().map_err(|e| self.err(raw, "create", e))?
            }
            Err(e) => return Err(self.err(raw, "create", e)),
        };
        let file = File::from(fd);
        let size = entry.size();
        let mut buf = std::mem::take(&mut self.buf);
        let res = match &info.sparse {
            Some(map) => crate::sparse::write_extents(&file, entry, map, &mut buf),
            // A trailing hole still counts towards the size (the file is new,
            // so its length is where the last write ended).
            None => write_holey(&file, entry, 0, size, &mut buf).and_then(|end| {
                if end == size {
                    Ok(())
                } else {
                    file.set_len(size)
                }
            }),
        };
        self.buf = buf;
        match res {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(truncated(&self.subject, raw).with_source(e));
            }
            Err(e) => {
                return Err(Error::io(
                    CALL,
                    &self.subject,
                    format!("entry {:?}: write", lossy(raw)),
                    e,
                ));
            }
        }
        self.stats.file_bytes += info.sparse.as_ref().map_or(size, |m| m.real_size);
        if let Err((w, e)) = meta::apply_file(&file, &m, &mut self.policy) {
            self.defer(raw, w, e);
        }
        Ok(())
    }

    /// After the last entry: make the delayed symlinks, then set directory
    /// modes and times (deepest last-extracted first), now that nothing more is
    /// created inside them.
    fn finish(&mut self) {
        self.parent_cache = None;
        let delayed = std::mem::take(&mut self.delayed);
        for failure in delayed.apply(&self.target, &mut self.policy) {
            match failure {
                Failure::Cannot(raw, e) => self.cannot(&raw, "symlink", e),
                Failure::Error(raw, what, e) => self.defer(&raw, what, e),
            }
        }
        let dirs = std::mem::take(&mut self.dirs).into_list();
        for dirmeta::Dir { path, id, meta: m } in dirs.iter().rev() {
            let raw = path.as_os_str().as_bytes();
            let raw = if raw.is_empty() {
                b"./".as_slice()
            } else {
                raw
            };
            // Only the directory that was made: one replaced since (by a later
            // entry) is not touched.
            let fd = match self.target.open(path, OFlags::PATH | OFlags::NOFOLLOW) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => continue,
                Err(e) => {
                    self.defer(raw, "directory", e);
                    continue;
                }
            };
            match rustix::fs::fstat(&fd) {
                Ok(st) if inode(&st) == *id => {}
                _ => continue,
            }
            if let Err((w, e)) = meta::apply_handle(fd.as_fd(), None, m, &mut self.policy) {
                self.defer(raw, w, e);
            }
        }
    }

    /// The guest's user and group tables. When the target is the guest's
    /// root they are read through it, so that a stage standing in for the
    /// root reads the archive's own tables, as a direct extraction would.
    fn guest_names(&self) -> Names {
        if !self.target.in_root() {
            return Names::from_guest(self.root);
        }
        Names::from_tables(|path| {
            let rel = Path::new(path.trim_start_matches('/'));
            let fd = self
                .target
                .open(rel, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK)
                .map_err(|e| Error::errno("owner names", path, "", e))?;
            let st =
                rustix::fs::fstat(&fd).map_err(|e| Error::errno("owner names", path, "", e))?;
            let t = FileType::from_raw_mode(st.st_mode);
            if t != FileType::RegularFile {
                return Err(vmcraft_fs::root::content::not_regular(
                    "owner names",
                    Path::new(path),
                    t,
                ));
            }
            vmcraft_fs::root::content::read_at_most(
                File::from(fd),
                "owner names",
                Path::new(path),
                crate::owners::MAX_TABLE,
            )
        })
    }

    /// Move a staged extraction into the target (`home`), which is the
    /// target from then on; what cannot be moved is a failure reported at the
    /// end. Delayed symlinks and directory metadata come after, in place.
    fn commit(&mut self, stage: crate::staged::Stage, home: Target) {
        self.parent_cache = None;
        // The archive's `./` was the stage; it is the target now.
        match rustix::fs::fstat(home.fd()) {
            Ok(st) => self.dirs.set_root_id(inode(&st)),
            Err(e) => self.defer(b"./", "directory", e),
        }
        self.target = home;
        for (path, what, e) in stage.commit() {
            self.defer(path.as_os_str().as_bytes(), what, e);
        }
    }

    /// A failure that does not stop the extraction (GNU tar goes on after it
    /// and exits with status 2): the entry's metadata could not be set, or it
    /// could not be made for lack of permission. Reported when the call ends.
    fn defer(&mut self, raw: &[u8], what: &str, e: Errno) {
        self.failures.add(
            e,
            format!("entry {:?}: {what}: {}", lossy(raw), io::Error::from(e)),
        );
    }
}

/// The failures [`Extractor::defer`] kept: the first [`MAX_MESSAGES`](crate::limits::MAX_MESSAGES) messages,
/// all counted.
#[derive(Default)]
struct Failures {
    messages: Vec<String>,
    total: u64,
    first: Option<Errno>,
    /// Every one was `EPERM` or `EACCES`.
    all_denied: bool,
}

impl Failures {
    fn add(&mut self, e: Errno, msg: String) {
        self.all_denied =
            (self.total == 0 || self.all_denied) && matches!(e, Errno::PERM | Errno::ACCESS);
        self.first.get_or_insert(e);
        self.total += 1;
        if self.messages.len() < crate::limits::MAX_MESSAGES {
            self.messages.push(msg);
        }
    }

    /// The error that ends a call that had them: what failed, first ones
    /// named, once everything else was extracted.
    fn into_error(self, subject: &str) -> Option<Error> {
        let first = self.first?;
        const NAMED: usize = 5;
        let mut msg = format!(
            "{} {} while extracting (everything else was extracted): {}",
            self.total,
            if self.total == 1 { "error" } else { "errors" },
            self.messages[..self.messages.len().min(NAMED)].join("; ")
        );
        if self.total > NAMED as u64 {
            msg.push_str(&format!("; and {} more", self.total - NAMED as u64));
        }
        let kind = if self.all_denied {
            ErrorKind::PermissionDenied
        } else {
            ErrorKind::Io
        };
        Some(Error::new(kind, CALL, subject, msg).with_source(io::Error::from(first)))
    }
}

/// A file's (device, inode).
#[allow(clippy::unnecessary_cast)]
fn inode(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

/// Errors by which a filesystem says it cannot hold this kind of file
/// (`EPERM` is not one: it is a refusal, reported as an error).
fn fs_cannot(e: Errno) -> bool {
    vmcraft_fs::root::meta::cannot_hold(e)
}

/// Parse a PAX time (`1700000000.123456789`, maybe negative).
fn pax_time(v: &[u8]) -> Option<FileTime> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = sec.parse().ok()?;
    let mut nsec: i64 = 0;
    let digits: String = frac.chars().take(9).collect();
    if !digits.is_empty() {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nsec = format!("{digits:0<9}").parse().ok()?;
    }
    // The sign is the text's: `-0.5` is half a second before the epoch, though
    // its whole part parses as 0.
    if s.starts_with('-') && nsec > 0 {
        return Some(FileTime::At(sec - 1, 1_000_000_000 - nsec));
    }
    Some(FileTime::At(sec, nsec))
}

/// Copy `size` bytes from `input` to `file` at offset `base`, leaving all-zero
/// 4 KiB blocks as holes. Returns the offset just past the last byte written
/// (`base` when nothing was): the length of a new file written in order, which
/// the caller extends to the full size when the data ended in a hole. Fails
/// with `UnexpectedEof` when the input ends early.
pub(crate) fn write_holey(
    file: &File,
    input: &mut impl Read,
    base: u64,
    size: u64,
    buf: &mut [u8],
) -> io::Result<u64> {
    let mut pos: u64 = 0;
    let mut written_to: u64 = base;
    while pos < size {
        let want = (size - pos).min(buf.len() as u64) as usize;
        let mut n = 0;
        // Fill the buffer (the tar reader hands out short reads).
        while n < want {
            match input.read(&mut buf[n..want]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} bytes missing", size - pos),
            ));
        }
        let data = &buf[..n];
        let at = base + pos;
        let mut run_start: Option<usize> = None;
        let mut off = 0;
        while off < n {
            let end = (off + HOLE_BLOCK).min(n);
            if vmcraft_block::copy::is_zero(&data[off..end]) {
                if let Some(s) = run_start.take() {
                    file.write_all_at(&data[s..off], at + s as u64)?;
                    written_to = at + off as u64;
                }
            } else if run_start.is_none() {
                run_start = Some(off);
            }
            off = end;
        }
        if let Some(s) = run_start {
            file.write_all_at(&data[s..n], at + s as u64)?;
            written_to = at + n as u64;
        }
        pos += n as u64;
    }
    Ok(written_to)
}

#[cfg(test)]
mod tests {
    /// Verified extraction of a compressed archive into a directory with
    /// something in it takes the kept stream when it fits and decompresses
    /// again when it does not; into an empty one it is staged; all three give
    /// the same tree.
    #[test]
    fn spooled_and_unspooled_extraction_agree() {
        use crate::{Compression, TarOutOptions, tar_out_to};
        let src_dir = tempfile::tempdir().unwrap();
        let src = GuestRoot::open(src_dir.path()).unwrap();
        src.mkdir_p("/d/e", 0o755).unwrap();
        src.write("/d/a", &vec![1u8; 300_000]).unwrap();
        src.write("/d/e/b", b"bee\n").unwrap();
        for format in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
            let mut packed = Vec::new();
            let o = TarOutOptions {
                compress: format,
                ..Default::default()
            };
            tar_out_to(&src, "/", &mut packed, &o).unwrap();
            let tarball = src_dir.path().join("t.tar.x");
            std::fs::write(&tarball, &packed).unwrap();
            for (limit, empty) in [(0, false), (MAX_SPOOL, false), (0, true)] {
                let dst_dir = tempfile::tempdir().unwrap();
                let dst = GuestRoot::open(dst_dir.path()).unwrap();
                if !empty {
                    dst.write("/pre", b"").unwrap();
                }
                let stats = tar_in_spooled(
                    &dst,
                    &tarball,
                    Path::new("/"),
                    &TarInOptions::default(),
                    limit,
                )
                .unwrap();
                assert_eq!(stats.entries, 5, "{format} limit {limit}");
                assert_eq!(dst.read_file("/d/a").unwrap(), vec![1u8; 300_000]);
                assert_eq!(dst.cat("/d/e/b").unwrap(), "bee\n");
            }
            std::fs::remove_file(&tarball).unwrap();
        }
    }

    use super::*;

    /// A FIFO is read once: checked from memory when the target has
    /// something in it (refused when the stream is larger than the memory
    /// allowed, nothing changed), staged when the target is empty (no limit).
    #[test]
    fn a_stream_larger_than_the_spool_is_staged_into_an_empty_directory() {
        use crate::{Compression, TarOutOptions, tar_out_to};
        let dir = tempfile::tempdir().unwrap();
        let src = GuestRoot::open(dir.path()).unwrap();
        src.mkdir_p("/src", 0o755).unwrap();
        src.write("/src/a", &vec![3u8; 200_000]).unwrap();
        let o = TarOutOptions {
            compress: Compression::Gzip,
            ..Default::default()
        };
        let mut packed = Vec::new();
        tar_out_to(&src, "/src", &mut packed, &o).unwrap();
        for empty in [false, true] {
            let fifo = dir.path().join(format!("fifo-{empty}"));
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &fifo,
                FileType::Fifo,
                Mode::from_raw_mode(0o600),
                0,
            )
            .unwrap();
            let (path, data) = (fifo.clone(), packed.clone());
            let writer = std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                let _ = f.write_all(&data);
            });
            let dst = format!("/dst-{empty}");
            src.mkdir(&dst, 0o755).unwrap();
            if !empty {
                src.write(format!("{dst}/pre"), b"").unwrap();
            }
            let before = src.ls(&dst).unwrap();
            let res = tar_in_spooled(
                &src,
                &fifo,
                Path::new(&dst),
                &TarInOptions::default(),
                64 << 10,
            );
            writer.join().unwrap();
            if empty {
                let stats = res.unwrap();
                assert_eq!(stats.entries, 2);
                assert_eq!(
                    src.read_file(format!("{dst}/a")).unwrap(),
                    vec![3u8; 200_000]
                );
            } else {
                let e = res.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
                assert_eq!(src.ls(&dst).unwrap(), before);
            }
        }
    }

    #[test]
    fn entry_names() {
        assert_eq!(
            entry_components(b"./etc/x").unwrap(),
            [b"etc".as_slice(), b"x"]
        );
        assert_eq!(entry_components(b"./").unwrap(), Vec::<&[u8]>::new());
        assert_eq!(
            entry_components(b"a//b/./c/").unwrap(),
            [b"a".as_slice(), b"b", b"c"]
        );
        assert!(entry_components(b"../../etc/x").unwrap_err().contains(".."));
        assert!(entry_components(b"a/../../x").unwrap_err().contains(".."));
        assert!(
            entry_components(b"/etc/x")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(entry_components(b"").is_err());
        assert!(entry_components(b"a\0b").is_err());
        assert!(entry_components(b"a/..b").is_ok());
    }

    #[test]
    fn pax_times() {
        assert_eq!(
            pax_time(b"1700000000"),
            Some(FileTime::At(1_700_000_000, 0))
        );
        assert_eq!(
            pax_time(b"1700000000.5"),
            Some(FileTime::At(1_700_000_000, 500_000_000))
        );
        assert_eq!(
            pax_time(b"1.123456789123"),
            Some(FileTime::At(1, 123_456_789))
        );
        assert_eq!(pax_time(b"-1.25"), Some(FileTime::At(-2, 750_000_000)));
        // Between -1 and 0: the sign comes from the text (GNU tar writes -0.5).
        assert_eq!(pax_time(b"-0.5"), Some(FileTime::At(-1, 500_000_000)));
        assert_eq!(pax_time(b"-0"), Some(FileTime::At(0, 0)));
        assert_eq!(pax_time(b"x"), None);
        assert_eq!(pax_time(b"1.x"), None);
    }

    #[test]
    fn holes_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut data = vec![0u8; 3 * HOLE_BLOCK + 100];
        data[HOLE_BLOCK + 7] = 1;
        let f = File::create(&path).unwrap();
        let mut buf = vec![0u8; 5000];
        let end = write_holey(&f, &mut &data[..], 0, data.len() as u64, &mut buf).unwrap();
        assert!(end < data.len() as u64, "the trailing zeros are a hole");
        f.set_len(data.len() as u64).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        let f = File::create(&path).unwrap();
        let err = write_holey(&f, &mut &data[..10], 0, 20, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
