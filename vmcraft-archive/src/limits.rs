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
//!
//! A sparse file's real size is not limited: its holes are made with
//! `ftruncate`, so the work done is proportional to the data stored, never to
//! the size declared.

use std::fmt;
use std::io;

use crate::error::ErrorKind;

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
