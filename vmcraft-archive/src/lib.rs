//! # vmcraft-archive
//!
//! Tar in and out of a guest's filesystem tree for VMCraft.
//!
//! - [`GuestRoot`] (from vmcraft-fs, named here too): a guest's root
//!   directory, which every call of this crate works through. Every path
//!   handed to it is resolved by the kernel inside the root with chroot
//!   semantics (`openat2` with
//!   `RESOLVE_IN_ROOT`): `..` stops at the root, and a guest symlink, absolute or
//!   relative, resolves as it would inside the guest. The libguestfs file calls
//!   (`read_file`, `write`, `mkdir_p`, `rm_rf`, `ln_s`, `lstat`, `statvfs`, `find`,
//!   `cp_a`, ...) are its methods. Content is read and written only in regular
//!   files: a device node, FIFO or socket in the guest is refused without being
//!   opened (no host device is reached through a guest's `/dev`, no FIFO hangs
//!   the caller).
//!
//! ```
//! use vmcraft_archive::GuestRoot;
//! let dir = tempfile::tempdir()?;
//! let root = GuestRoot::open(dir.path())?;
//! root.mkdir_p("/etc", 0o755)?;
//! root.ln_s("/etc", "/link")?;
//! root.write("/link/hostname", b"guest\n")?;
//! assert_eq!(root.cat("/etc/hostname")?, "guest\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`tar_out`] / [`tar_out_to`] and [`tar_in`] / [`tar_in_from`] (with the
//!   [`tgz_out`], [`txz_out`], [`tgz_in`], [`txz_in`] wrappers): libguestfs's
//!   `tar-out` and `tar-in`, in-process and streaming to or from any `Write` or
//!   `Read`. Entries are named relative to the directory (`./`, `./etc/fstab`);
//!   symlinks, hard links, modes, owners (names from the guest's own
//!   `/etc/passwd`), mtimes (to the nanosecond, before 1970 too), xattrs and
//!   ACLs (PAX `SCHILY.*` records, as GNU tar writes them) survive a round trip
//!   through GNU tar. `tar_out` writes POSIX pax, header for header as GNU tar's
//!   `--format=posix` does (without its `atime` and `ctime` records), and like
//!   GNU tar stores FIFOs and device nodes and leaves sockets out
//!   ([`TarOutOptions::special_files`]). [`tar_out_source`] writes the same
//!   archive from any [`TarSource`] (a tree read in-process, by path) as
//!   [`tar_out`] from the kernel-mounted tree. [`Compression`]: none,
//!   gzip (zlib-rs, on every core), bzip2, xz and lzma (the system liblzma), zstd;
//!   detected from magic bytes on input. From and to a file, the other formats are
//!   compressed and decompressed on a thread of their own, beside the thread that
//!   walks or extracts the tree (as GNU tar runs `xz` beside itself). Extraction is confined like every other file call:
//!   `..` and absolute entry names are refused with an error naming the entry, and
//!   everything else is created through descriptors resolved beneath the target
//!   directory; the archive's own absolute and `..` symlinks are made last, as
//!   GNU tar makes them, so nothing is extracted through them.
//!   What a header declares is bounded before it is acted on (long names, PAX
//!   headers, sparse maps, decompressor memory: see [`limits`]), and a sparse
//!   file (old GNU, or PAX `GNU.sparse.*` formats 0.0, 0.1 and 1.0, as
//!   `tar -S` writes them) comes out under its real name with its holes, and
//!   costs what it stores, not the size it declares. With `verify_first` (the
//!   default) [`tar_in`] reads the archive through the same reader and judges
//!   every entry by the same check as extraction does, so what extraction
//!   would refuse is refused before anything of the archive is in the
//!   target: into an empty directory in one pass, through a private staging
//!   directory renamed into place at the end, otherwise in a pass of its own. A permission error
//!   while extracting (`EPERM`, `EACCES`) fails the call at the end, after the
//!   rest is extracted, as GNU tar exits with status 2; only what a
//!   filesystem cannot hold at all (`ENOSYS`, `EOPNOTSUPP`: owners or symlinks
//!   on vfat) is skipped with a warning, for that filesystem alone. So is what extraction
//!   keeps from one entry to the next, however many entries a small compressed
//!   stream holds: directory records and delayed symlinks (limits in
//!   [`TarInOptions`]), and the messages of [`TarStats`] (the first 1000 kept,
//!   all counted). A [`CancelToken`] in the options stops a long call from
//!   another thread: it fails with [`ErrorKind::Cancelled`] at its next check
//!   (each entry, and inside large files), `tar_in` leaving no placeholder
//!   and `tar_out` no output file.
//!
//! ```
//! use vmcraft_archive::{Compression, GuestRoot, TarInOptions, TarOutOptions, tar_in_from, tar_out_to};
//! let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let src = GuestRoot::open(a.path())?;
//! src.mkdir_p("/srv/www", 0o755)?;
//! src.write("/srv/www/index.html", b"<h1>hi</h1>")?;
//! let mut tgz = Vec::new();
//! let opts = TarOutOptions { compress: Compression::Gzip, ..Default::default() };
//! tar_out_to(&src, "/srv", &mut tgz, &opts)?;
//!
//! let dst = GuestRoot::open(b.path())?;
//! let stats = tar_in_from(&dst, &tgz[..], "/", &TarInOptions::default())?; // gzip detected
//! assert_eq!(stats.entries, 3);
//! assert_eq!(dst.cat("/www/index.html")?, "<h1>hi</h1>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors are one [`Error`] with a matchable [`ErrorKind`]; messages read
//! `call: path: what`, in libguestfs style.

#![deny(missing_docs)]

mod acl;
mod check;
mod compress;
mod delayed;
mod dirmeta;
mod framer;
pub mod limits;
mod options;
mod out_tree;
mod owners;
mod pargz;
mod pax;
mod pax_out;
mod pipeline;
mod source;
mod sparse;
mod spool;
mod staged;
mod tar_in;
mod tar_out;
mod target;
mod verify;

pub use compress::{Compression, Level};
pub use options::{Progress, ProgressFn, TarInOptions, TarOutOptions, TarStats};
pub use source::{SourceStat, TarSource};
pub use tar_in::{tar_in, tar_in_from, tgz_in, txz_in};
pub use tar_out::{tar_out, tar_out_source, tar_out_to, tgz_out, txz_out};
pub use vmcraft_block::CancelToken;
/// The guest root and its file calls live in vmcraft-fs; they are named here
/// too, since every call of this crate takes one.
pub use vmcraft_fs::root::{
    Dirent, Error, ErrorKind, FileTime, GuestRoot, Result, Stat, StatNs, StatVfs, WriteMode, Xattr,
};
