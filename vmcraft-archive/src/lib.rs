//! # vmcraft-archive
//!
//! Guest-tree I/O for VMCraft: tar in and out of a guest's filesystem tree, and the
//! confined path resolver that every guest file call goes through.
//!
//! - [`GuestRoot`]: a guest's root directory. Every path handed to it is resolved
//!   by the kernel inside the root with chroot semantics (`openat2` with
//!   `RESOLVE_IN_ROOT`): `..` stops at the root, and a guest symlink, absolute or
//!   relative, resolves as it would inside the guest. The libguestfs file calls
//!   (`read_file`, `write`, `mkdir_p`, `rm_rf`, `ln_s`, `lstat`, `statvfs`, `find`,
//!   `cp_a`, ...) are its methods.
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
//! Errors are one [`Error`] with a matchable [`ErrorKind`]; messages read
//! `call: path: what`, in libguestfs style.

#![deny(missing_docs)]

mod acl;
mod compress;
mod copy;
mod error;
mod fileops;
mod meta;
mod options;
mod owners;
mod pargz;
mod pax;
mod root;
mod stat;
mod tar_in;
mod tar_out;
mod walk;
mod xattrs;

pub use compress::{Compression, Level};
pub use error::{Error, ErrorKind, Result};
pub use fileops::FileTime;
pub use options::{Progress, ProgressFn, TarInOptions, TarOutOptions, TarStats};
pub use root::{GuestRoot, WriteMode};
pub use stat::{Stat, StatNs, StatVfs};
pub use tar_in::{tar_in, tar_in_from, tgz_in, txz_in};
pub use tar_out::{tar_out, tar_out_to, tgz_out, txz_out};
pub use walk::Dirent;
pub use xattrs::Xattr;
