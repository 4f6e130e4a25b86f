//! The regf layout checks made in Rust before libhivex sees a file.
//!
//! A hive is a 4 KiB base block (`regf`, sequence numbers, version 1.x, the root
//! cell's offset, the size of the hive bins data, an XOR checksum of its first
//! 508 bytes at offset 0x1fc) followed by hive bins (`hbin`, each a multiple of
//! 4 KiB, holding cells). libhivex checks most of this itself, but trusts the
//! base block's bins size and reads each bin's 32-byte header before comparing
//! it with the file size; with `HIVEX_OPEN_UNSAFE` it even seeks past the end of
//! the file for the next `hbin`. These checks close that gap (everything
//! libhivex will read while opening lies inside the file) and give clearer
//! messages than libhivex's `errno` for the usual ways a file is not a hive.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::{Error, ErrorKind, Result};

/// Size of the base block; the hive bins start here.
pub const BASE_BLOCK: u64 = 0x1000;
/// Offset of the header checksum in the base block.
pub const CHECKSUM_AT: usize = 0x1fc;
/// libhivex refuses anything smaller (a base block and one bin).
pub const MIN_SIZE: u64 = 0x2000;

/// The XOR of the first 508 bytes of a base block as little-endian 32-bit words,
/// as libhivex computes it (Windows maps 0 to 1 and `0xffffffff` to
/// `0xfffffffe`; libhivex does not, and neither does this).
///
/// ```
/// let mut block = [0u8; 512];
/// block[0..4].copy_from_slice(b"regf");
/// assert_eq!(vmcraft_hivex::layout::checksum(&block), u32::from_le_bytes(*b"regf"));
/// ```
pub fn checksum(block: &[u8]) -> u32 {
    block[..CHECKSUM_AT].chunks_exact(4).fold(0, |acc, w| {
        acc ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]])
    })
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Check the base block and the hive bins' headers of `file` (of `size` bytes,
/// named `name` in errors). `strict`: every bin must start with `hbin` and fit,
/// as libhivex requires without `HIVEX_OPEN_UNSAFE`.
pub(crate) fn check(file: &File, size: u64, name: &str, strict: bool) -> Result<()> {
    const OP: &str = "hivex_open";
    let corrupt = |what: String| Error::new(ErrorKind::Corrupt, OP, format!("{name}: {what}"));
    if size < MIN_SIZE {
        return Err(corrupt(format!(
            "file is too small to be a registry hive ({size} bytes; a hive has at least {MIN_SIZE})"
        )));
    }
    let mut base = [0u8; BASE_BLOCK as usize];
    file.read_exact_at(&mut base, 0)
        .map_err(|e| Error::io(OP, name, &e))?;
    if &base[0..4] != b"regf" {
        return Err(corrupt(
            "not a windows registry hive (no regf signature)".into(),
        ));
    }
    let major = le32(&base, 0x14);
    if major != 1 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            OP,
            format!("{name}: hive file major version {major} (expected 1)"),
        ));
    }
    let stored = le32(&base, CHECKSUM_AT);
    let computed = checksum(&base);
    if stored != computed {
        return Err(corrupt(format!(
            "bad checksum in hive header (stored 0x{stored:08x}, computed 0x{computed:08x})"
        )));
    }
    let bins = u64::from(le32(&base, 0x28));
    if bins == 0 || bins % 0x1000 != 0 {
        return Err(corrupt(format!(
            "hive bins data size 0x{bins:x} is not a positive multiple of 4096"
        )));
    }
    if BASE_BLOCK + bins > size {
        return Err(corrupt(format!(
            "truncated hive: its bins end at 0x{:x}, the file at 0x{size:x}",
            BASE_BLOCK + bins
        )));
    }
    let root = u64::from(le32(&base, 0x24));
    if root >= bins {
        return Err(corrupt(format!(
            "root cell offset 0x{root:x} is outside the hive bins (0x{bins:x} bytes)"
        )));
    }
    if !strict {
        return Ok(());
    }
    let end = BASE_BLOCK + bins;
    let mut off = BASE_BLOCK;
    let mut header = [0u8; 32];
    while off < end {
        file.read_exact_at(&mut header, off)
            .map_err(|e| Error::io(OP, name, &e))?;
        if &header[0..4] != b"hbin" {
            return Err(corrupt(format!("no hive bin (hbin) at 0x{off:x}")));
        }
        let bin = u64::from(le32(&header, 8));
        if bin <= 32 || bin % 0x1000 != 0 {
            return Err(corrupt(format!(
                "hive bin at 0x{off:x} has a bad size 0x{bin:x}"
            )));
        }
        if off + bin > end {
            return Err(corrupt(format!(
                "hive bin at 0x{off:x} (0x{bin:x} bytes) extends past the bins' end 0x{end:x}"
            )));
        }
        let declared = u64::from(le32(&header, 4)) + BASE_BLOCK;
        if declared != off {
            return Err(corrupt(format!(
                "hive bin at 0x{off:x} declares its offset as 0x{declared:x}"
            )));
        }
        off += bin;
    }
    Ok(())
}
