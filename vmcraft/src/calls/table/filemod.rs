//! The call table's entries for file manipulation: links, renames, recursive copies, FIFOs and device nodes, truncation, times, fills, positional reads and writes, base64, checksums, compression, cpio, temporary names, extended attributes.

#[allow(unused_imports)]
use super::prelude::*;

pub(crate) const CALLS: &[Call] = &[];
