//! Options and results of the tar calls: [`TarOutOptions`], [`TarInOptions`],
//! [`Progress`] and its callback, [`TarStats`].

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use vmcraft_block::CancelToken;

use crate::compress::{Compression, Level};

/// Where a tar call has got to: bytes of the uncompressed tar stream written or
/// read so far, and entries done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Uncompressed tar bytes so far.
    pub bytes: u64,
    /// Entries (files, directories, links, ...) so far.
    pub entries: u64,
}

/// A progress callback, called after each entry and during large files.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use vmcraft_archive::{ProgressFn, TarOutOptions};
/// let seen = Arc::new(AtomicU64::new(0));
/// let s = Arc::clone(&seen);
/// let opts = TarOutOptions {
///     progress: Some(ProgressFn::new(move |p| s.store(p.entries, Ordering::Relaxed))),
///     ..Default::default()
/// };
/// # let _ = opts;
/// ```
#[derive(Clone)]
pub struct ProgressFn(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressFn {
    /// Wrap a closure.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressFn(Arc::new(f))
    }

    pub(crate) fn call(&self, p: Progress) {
        (self.0)(p)
    }
}

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

/// Options of [`crate::tar_out`] (libguestfs `tar-out`'s optional arguments and a
/// few more).
#[derive(Debug, Clone)]
pub struct TarOutOptions {
    /// Compression of the output (libguestfs `compress`).
    pub compress: Compression,
    /// Compression level (default: the format's usual one).
    pub level: Level,
    /// Worker threads for gzip and zstd; 0 (the default) uses every core.
    pub threads: usize,
    /// Store numeric ids only, no user and group names (libguestfs
    /// `numericowner`). Names otherwise come from the guest's own `/etc/passwd`
    /// and `/etc/group`, never the host's.
    pub numeric_owner: bool,
    /// Glob patterns of entries to leave out, matched like GNU tar's `--exclude`
    /// (against the whole `./path` and every trailing part of it; `*` matches `/`
    /// too). An excluded directory is left out with everything below it.
    pub excludes: Vec<String>,
    /// Store every extended attribute as a PAX `SCHILY.xattr.*` record
    /// (libguestfs `xattrs`).
    pub xattrs: bool,
    /// Store `security.selinux` (libguestfs `selinux`; implied by `xattrs`).
    pub selinux: bool,
    /// Store POSIX ACLs (`system.posix_acl_*`, raw; libguestfs `acls`; implied by
    /// `xattrs`).
    pub acls: bool,
    /// Store device nodes and FIFOs (on by default, as GNU tar and libguestfs's
    /// `tar-out` store them). Off, they are left out, each listed in
    /// [`TarStats::skipped`] (`./dev/null: character device`). Sockets are
    /// always left out (`./run/sock: socket ignored`, GNU tar's words).
    pub special_files: bool,
    /// Called after each entry and every 8 MiB inside large files.
    pub progress: Option<ProgressFn>,
    /// Checked before each entry and every 8 MiB inside large files: once
    /// cancelled, the call fails with [`crate::ErrorKind::Cancelled`] (and
    /// [`crate::tar_out`] leaves no output file).
    pub cancel: Option<CancelToken>,
}

impl Default for TarOutOptions {
    fn default() -> Self {
        TarOutOptions {
            compress: Compression::None,
            level: Level::default(),
            threads: 0,
            numeric_owner: false,
            excludes: Vec::new(),
            xattrs: false,
            selinux: false,
            acls: false,
            special_files: true,
            progress: None,
            cancel: None,
        }
    }
}

/// Options of [`crate::tar_in`] (libguestfs `tar-in`'s optional arguments and a
/// few more).
#[derive(Debug, Clone)]
pub struct TarInOptions {
    /// The input's compression; `None` (the default) detects it from the magic
    /// bytes (libguestfs `compress`).
    pub compress: Option<Compression>,
    /// Restore every `SCHILY.xattr.*` record (libguestfs `xattrs`).
    pub xattrs: bool,
    /// Restore `security.selinux` (libguestfs `selinux`; implied by `xattrs`).
    pub selinux: bool,
    /// Restore POSIX ACLs stored as `system.posix_acl_*` xattrs (libguestfs
    /// `acls`; implied by `xattrs`).
    pub acls: bool,
    /// Keep an existing symlink to a directory where the archive has a directory
    /// (GNU tar's `--keep-directory-symlink`), so that a merged-`/usr` guest's
    /// `/lib -> usr/lib` survives extracting a tree with a `./lib/` directory.
    /// Only a symlink that resolves beneath the target directory is kept (any
    /// that resolves inside the guest when the target is its root).
    pub keep_dir_links: bool,
    /// Create the target directory (and its parents) when it is missing.
    pub create_dir: bool,
    /// Restore owners; `None` (the default) restores them when running as root,
    /// as GNU tar does. Where the filesystem cannot take ownership (vfat), files
    /// are extracted without it and a warning is returned.
    pub same_owner: Option<bool>,
    /// Never set a setuid or setgid bit, whoever owns the file: for extracting
    /// an untrusted archive onto the host (`copy_out`), where a guest's
    /// setuid-root program must not become the host's.
    pub strip_setid: bool,
    /// For [`crate::tar_in`] on a file or FIFO: refuse the archive (with
    /// nothing extracted) when an entry is unsafe or the archive is corrupt,
    /// by checking it before anything of it is in the target: in one pass
    /// through a private staging directory when the target is empty, in a
    /// pass of its own otherwise (see [`crate::tar_in`]). On by default;
    /// [`crate::tar_in_from`] reads a stream once and checks it entry by entry.
    pub verify_first: bool,
    /// The most memory the decompressor may use, in bytes (the xz/lzma
    /// dictionary, the zstd window); a stream that needs more is refused with
    /// [`crate::ErrorKind::LimitExceeded`]. 1 GiB by default
    /// ([`crate::limits::DEFAULT_DECODER_MEMORY`]); `xz -9` needs 65 MiB.
    pub max_decoder_memory: u64,
    /// The most directories whose mode and times are kept to be set at the end
    /// (distinct names; [`crate::limits::MAX_DELAYED_DIRECTORIES`] by default).
    /// An archive with more is refused with [`crate::ErrorKind::LimitExceeded`]
    /// at the entry that passes the limit.
    pub max_delayed_directories: usize,
    /// The most names of symlinks kept to be made at the end (an absolute or
    /// `..` target; a hard link to one is one more name;
    /// [`crate::limits::MAX_DELAYED_LINKS`] by default). Over it, refused as
    /// above.
    pub max_delayed_links: usize,
    /// The most bytes of names, symlink targets and extended attributes held
    /// for those delayed directories and symlinks together
    /// ([`crate::limits::MAX_DELAYED_BYTES`] by default). Over it, refused as
    /// above.
    pub max_delayed_bytes: u64,
    /// Called after each entry.
    pub progress: Option<ProgressFn>,
    /// Checked before each entry and at every read of the archive (so inside
    /// large files' data too): once cancelled, the call stops, makes the
    /// symlinks it held back and sets directory metadata as on any error (no
    /// placeholder is left), and fails with [`crate::ErrorKind::Cancelled`].
    pub cancel: Option<CancelToken>,
}

impl Default for TarInOptions {
    fn default() -> Self {
        TarInOptions {
            compress: None,
            xattrs: false,
            selinux: false,
            acls: false,
            keep_dir_links: false,
            create_dir: false,
            same_owner: None,
            strip_setid: false,
            verify_first: true,
            max_decoder_memory: crate::limits::DEFAULT_DECODER_MEMORY,
            max_delayed_directories: crate::limits::MAX_DELAYED_DIRECTORIES,
            max_delayed_links: crate::limits::MAX_DELAYED_LINKS,
            max_delayed_bytes: crate::limits::MAX_DELAYED_BYTES,
            progress: None,
            cancel: None,
        }
    }
}

/// What a tar call did.
///
/// An archive or a guest tree may hold millions of entries to skip, so the
/// messages kept are bounded: `skipped` and `warnings` list the first
/// [`crate::limits::MAX_MESSAGES`] each, and `skipped_total` and
/// `warnings_total` count them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TarStats {
    /// Entries written or extracted.
    pub entries: u64,
    /// Uncompressed tar bytes written or read.
    pub bytes: u64,
    /// Regular-file data bytes.
    pub file_bytes: u64,
    /// Entries left out, with the reason (`./dev/null: character device`): the
    /// first [`crate::limits::MAX_MESSAGES`].
    pub skipped: Vec<String>,
    /// How many entries were left out in all (`skipped.len()` unless that
    /// list is full).
    pub skipped_total: u64,
    /// Things that did not stop the call but the caller should know (ownership
    /// not taken by the filesystem, a file that changed while it was read):
    /// the first [`crate::limits::MAX_MESSAGES`].
    pub warnings: Vec<String>,
    /// How many warnings there were in all (`warnings.len()` unless that list
    /// is full).
    pub warnings_total: u64,
}

impl TarStats {
    /// Record an entry left out, logging it while the list has room (and once
    /// when it becomes full).
    pub(crate) fn skip(&mut self, call: &str, subject: &str, msg: String) {
        if keep(&mut self.skipped, &mut self.skipped_total, msg) {
            tracing::warn!(
                call,
                "{subject}: skipping {}",
                self.skipped[self.skipped.len() - 1]
            );
        } else if self.skipped_total == crate::limits::MAX_MESSAGES as u64 + 1 {
            tracing::warn!(
                call,
                "{subject}: more entries skipped; only counted from now on"
            );
        }
    }

    /// Record a warning (logged by the caller when the call ends).
    pub(crate) fn warn(&mut self, msg: String) {
        keep(&mut self.warnings, &mut self.warnings_total, msg);
    }
}

/// Count `msg` and keep it while `list` has room; whether it was kept.
fn keep(list: &mut Vec<String>, total: &mut u64, msg: String) -> bool {
    *total += 1;
    if list.len() < crate::limits::MAX_MESSAGES {
        list.push(msg);
        true
    } else {
        false
    }
}

/// Which xattr names the three options select.
pub(crate) fn xattr_filter(
    xattrs: bool,
    selinux: bool,
    acls: bool,
) -> Option<impl Fn(&[u8]) -> bool> {
    (xattrs || selinux || acls).then_some(move |name: &[u8]| {
        xattrs
            || (selinux && name == b"security.selinux")
            || (acls && (name == b"system.posix_acl_access" || name == b"system.posix_acl_default"))
    })
}
