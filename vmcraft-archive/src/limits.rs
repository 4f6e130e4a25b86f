//! The bounds on what an archive can make `tar_in` allocate or loop over, and
//! the error that reports a stream refused for exceeding one.
//!
//! A tar stream is untrusted, and compression lets a few KiB stand for
//! gigabytes: a header's size field or a decoder's window is a promise the
//! input makes, not a measure of it. So every size and count that would drive
//! an allocation or a loop is checked against a limit here before it is acted
//! on, and refused with [`crate::ErrorKind::LimitExceeded`] and a message naming
//! the value and the limit:
//!
//! | what | limit |
//! |---|---|
//! | a GNU long name or long link target (`L`/`K` header) | [`MAX_LONG_NAME`] (64 KiB) |
//! | one PAX extended header (`x`/`g`) | [`MAX_PAX`] (4 MiB) |
//! | all extended headers of one member together | [`MAX_PAX`] (4 MiB) |
//! | entries of a GNU sparse map | [`MAX_SPARSE_ENTRIES`] (262,144) |
//! | decompressor memory (xz/lzma dictionary, zstd window) | [`crate::TarInOptions::max_decoder_memory`] (1 GiB by default) |
//! | directories whose mode and times wait until the end | [`crate::TarInOptions::max_delayed_directories`] ([`MAX_DELAYED_DIRECTORIES`] by default) |
//! | names of symlinks that wait until the end (absolute or `..` targets), hard links to them included | [`crate::TarInOptions::max_delayed_links`] ([`MAX_DELAYED_LINKS`] by default) |
//! | bytes of names, targets and extended attributes held for those until the end | [`crate::TarInOptions::max_delayed_bytes`] ([`MAX_DELAYED_BYTES`] by default) |
//! | messages in [`crate::TarStats::skipped`] and [`crate::TarStats::warnings`] | [`MAX_MESSAGES`] each (the rest are counted) |
//!
//! A sparse file's real size is not limited: its holes are made with
//! `ftruncate`, so the work done is proportional to the data stored, never to
//! the size declared.
//!
//! The delayed limits exist because a 512-byte tar header compresses to almost
//! nothing: a gzip stream of a few MiB can hold millions of directory or
//! symlink entries, and what `tar_in` keeps for each until the end of the
//! extraction (see [`crate::tar_in`]) would otherwise grow with them. A stream
//! over one of them is refused when the entry that passes it is reached; what
//! was extracted before it (all inside the target directory) is finished as on
//! any other error: delayed symlinks made, directory metadata set, no
//! placeholder left. Repeated entries for one directory count once, as GNU tar
//! keeps one record per directory name.
//!
//! ```
//! use vmcraft_archive::{ErrorKind, GuestRoot, TarInOptions, TarOutOptions, tar_in_from, tar_out_to};
//! let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let src = GuestRoot::open(a.path())?;
//! for d in ["/x", "/y", "/z"] {
//!     src.mkdir(d, 0o755)?;
//! }
//! let mut tar = Vec::new();
//! tar_out_to(&src, "/", &mut tar, &TarOutOptions::default())?;
//!
//! // `./` and one of x, y, z fit; the next is one directory too many.
//! let dst = GuestRoot::open(b.path())?;
//! let opts = TarInOptions { max_delayed_directories: 2, ..Default::default() };
//! let err = tar_in_from(&dst, &tar[..], "/", &opts).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::LimitExceeded);
//! assert!(err.to_string().ends_with(
//!     "3 directories whose mode and times are set at the end (the limit is 2)"
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;

use vmcraft_fs::root::ErrorKind;

/// The longest GNU long name or long link target (`L`/`K` header) accepted;
/// Linux paths are at most 4 KiB.
pub const MAX_LONG_NAME: u64 = 64 << 10;
/// The largest PAX extended header (`x` or `g`) accepted, and the most extended
/// header data one member may have in all (room for dozens of 64 KiB xattrs).
pub const MAX_PAX: u64 = 4 << 20;
/// The most entries a GNU sparse map may have (each is a data extent).
pub const MAX_SPARSE_ENTRIES: usize = 1 << 18;
/// Decompressor memory allowed by default: xz -9 needs 65 MiB, zstd's own
/// default window limit is 128 MiB.
pub const DEFAULT_DECODER_MEMORY: u64 = 1 << 30;
/// The most directories (distinct names) whose mode and times `tar_in` keeps
/// to set at the end, by default (1,048,576). A full Linux root has a few
/// tens of thousands of directories, a Windows one about 100,000.
pub const MAX_DELAYED_DIRECTORIES: usize = 1 << 20;
/// The most names of delayed symlinks (those with an absolute or `..` target,
/// made at the end as GNU tar makes them; a hard link to one is one more name)
/// `tar_in` keeps, by default (1,048,576). A Linux root has a few thousand
/// (this project's Debian build host: about 2,000 absolute or `..` symlinks
/// beside 33,000 directories).
pub const MAX_DELAYED_LINKS: usize = 1 << 20;
/// The most bytes of entry names, symlink targets and extended attributes that
/// `tar_in` holds for delayed directories and symlinks together, by default
/// (256 MiB). 100,000 directories with 200-byte paths and 1 KiB of extended
/// attributes each (SELinux labels, ACLs, NTFS security descriptors) hold
/// about 120 MiB.
pub const MAX_DELAYED_BYTES: u64 = 256 << 20;
/// The most messages [`crate::TarStats::skipped`] and
/// [`crate::TarStats::warnings`] each keep; further ones are counted in
/// [`crate::TarStats::skipped_total`] and [`crate::TarStats::warnings_total`]
/// only.
pub const MAX_MESSAGES: usize = 1000;

/// Why the stream reader refused a stream, said exactly: carried inside an
/// `io::Error` through the `tar` crate and the decompressing thread, and turned
/// into the crate's error with this kind and message.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// An `io::Error` carrying a [`Refusal`].
pub(crate) fn refuse(kind: ErrorKind, message: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        Refusal {
            kind,
            message: message.into(),
        },
    )
}

/// An `io::Error` for a size or count over a limit.
pub(crate) fn over_limit(message: impl Into<String>) -> io::Error {
    refuse(ErrorKind::LimitExceeded, message)
}

/// Bound a tar header's extended data before anything reads it: a PAX `x`/`g`
/// header at most [`MAX_PAX`] bytes, a GNU long name or link (`L`/`K`) at most
/// [`MAX_LONG_NAME`], and all the extended headers of one member together at
/// most [`MAX_PAX`] (`pending` counts them; the caller resets it at each
/// member). Returns whether this header is one of those counted (`x`, `L`,
/// `K`: read as extended headers whatever the header's magic, as GNU tar
/// reads them).
pub(crate) fn check_extended_header(kind: u8, size: u64, pending: &mut u64) -> io::Result<bool> {
    match kind {
        b'x' | b'g' if size > MAX_PAX => {
            return Err(over_limit(format!(
                "pax extended header of {size} bytes (the limit is {MAX_PAX})"
            )));
        }
        b'L' | b'K' if size > MAX_LONG_NAME => {
            let what = if kind == b'L' { "name" } else { "link target" };
            return Err(over_limit(format!(
                "GNU long {what} of {size} bytes (the limit is {MAX_LONG_NAME})"
            )));
        }
        _ => {}
    }
    let extended = matches!(kind, b'x' | b'L' | b'K');
    if extended {
        *pending = pending.saturating_add(size);
        if *pending > MAX_PAX {
            return Err(over_limit(format!(
                "extended headers of more than {MAX_PAX} bytes for one member (the limit)"
            )));
        }
    }
    Ok(extended)
}

/// The [`Refusal`] inside `e`, if it carries one.
pub(crate) fn refusal(e: &io::Error) -> Option<&Refusal> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
}

/// `n` rounded up to whole 512-byte blocks, or an error when that overflows (a
/// size field near 2^64).
pub(crate) fn padded(n: u64) -> io::Result<u64> {
    n.checked_next_multiple_of(512)
        .ok_or_else(|| refuse(ErrorKind::Corrupt, format!("size {n} is out of range")))
}

/// What `tar_in` holds until the end of an extraction (directory metadata,
/// delayed symlinks): counts and bytes, checked against the caller's limits
/// before anything is made for an entry, and added once it is.
#[derive(Debug)]
pub(crate) struct Held {
    max_directories: usize,
    max_links: usize,
    max_bytes: u64,
    directories: usize,
    links: usize,
    bytes: u64,
}

impl Held {
    pub(crate) fn new(opts: &crate::TarInOptions) -> Self {
        Held {
            max_directories: opts.max_delayed_directories,
            max_links: opts.max_delayed_links,
            max_bytes: opts.max_delayed_bytes,
            directories: 0,
            links: 0,
            bytes: 0,
        }
    }

    /// Bytes held with `cost` more and `freed` fewer, or the message when
    /// that is over the limit.
    fn bytes_after(&self, freed: u64, cost: u64) -> Result<u64, String> {
        let bytes = self.bytes.saturating_sub(freed).saturating_add(cost);
        if bytes > self.max_bytes {
            return Err(format!(
                "{bytes} bytes of names, symlink targets and extended attributes held until the end (the limit is {})",
                self.max_bytes
            ));
        }
        Ok(bytes)
    }

    /// Whether a directory's metadata of `cost` bytes may be kept: a new
    /// directory when `new`, else in place of metadata of `freed` bytes.
    pub(crate) fn check_directory(&self, new: bool, freed: u64, cost: u64) -> Result<(), String> {
        if new && self.directories >= self.max_directories {
            return Err(format!(
                "{} directories whose mode and times are set at the end (the limit is {})",
                self.directories + 1,
                self.max_directories
            ));
        }
        self.bytes_after(freed, cost).map(drop)
    }

    /// Count what [`Held::check_directory`] allowed.
    pub(crate) fn add_directory(&mut self, new: bool, freed: u64, cost: u64) {
        self.directories += usize::from(new);
        self.bytes = self.bytes.saturating_sub(freed).saturating_add(cost);
    }

    /// Whether one more name of a delayed symlink, holding `cost` bytes, may
    /// be kept.
    pub(crate) fn check_link(&self, cost: u64) -> Result<(), String> {
        if self.links >= self.max_links {
            return Err(format!(
                "{} names of symlinks made at the end (the limit is {})",
                self.links + 1,
                self.max_links
            ));
        }
        self.bytes_after(0, cost).map(drop)
    }

    /// Count what [`Held::check_link`] allowed.
    pub(crate) fn add_link(&mut self, cost: u64) {
        self.links += 1;
        self.bytes = self.bytes.saturating_add(cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(dirs: usize, links: usize, bytes: u64) -> Held {
        Held::new(&crate::TarInOptions {
            max_delayed_directories: dirs,
            max_delayed_links: links,
            max_delayed_bytes: bytes,
            ..Default::default()
        })
    }

    #[test]
    fn counts_and_bytes_are_held_to_their_limits() {
        let mut h = held(2, 1, 100);
        for _ in 0..2 {
            h.check_directory(true, 0, 10).unwrap();
            h.add_directory(true, 0, 10);
        }
        assert_eq!(
            h.check_directory(true, 0, 10).unwrap_err(),
            "3 directories whose mode and times are set at the end (the limit is 2)"
        );
        // Metadata replaced in place: no new directory, the bytes exchanged.
        h.check_directory(false, 10, 80).unwrap();
        h.add_directory(false, 10, 80);
        assert_eq!(
            h.check_link(11).unwrap_err(),
            "101 bytes of names, symlink targets and extended attributes held until the end (the limit is 100)"
        );
        h.check_link(10).unwrap();
        h.add_link(10);
        assert_eq!(
            h.check_link(0).unwrap_err(),
            "2 names of symlinks made at the end (the limit is 1)"
        );
    }
}
