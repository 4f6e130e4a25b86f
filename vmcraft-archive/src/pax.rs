//! PAX records, tar header fields, and the adapter that feeds the `tar` crate.
//!
//! PAX records are length-prefixed (`"%d %s=%s\n"`), so a value may hold any
//! byte, newlines included: binary xattrs (`SCHILY.xattr.security.capability`)
//! and GNU tar's ACL text (`SCHILY.acl.access`, one entry per line) do. They
//! are parsed here by their lengths ([`parse_records`]).
//!
//! The `tar` crate splits records at newlines, resolves names its own way and
//! knows nothing of PAX sparse files, so it is never shown an extended header:
//! [`PaxSplitter`] sits between the decompressor and the `tar` crate, reads
//! the stream member by member through [`crate::framer::Framer`] (the same
//! reader the verification pass uses), hands the `tar` crate each member's
//! normalised header and its data, and hands the extractor what was resolved
//! for it (name, link target, every PAX record, sparse map) through a
//! [`SideRecords`] queue, keyed by the index of the entry the `tar` crate will
//! return next. The `tar` crate is left with the framing of plain members.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

use crate::framer::{Framer, Next, Source};
use crate::sparse::SparseMap;

/// One PAX record.
pub(crate) type Record = (Vec<u8>, Vec<u8>);

/// What the framer resolved for one member.
#[derive(Debug, Default)]
pub(crate) struct Side {
    /// Its name: a PAX `path`, `GNU.sparse.name`, a GNU long name, or the
    /// header's (ustar prefix included).
    pub name: Vec<u8>,
    /// Its link target: a PAX `linkpath`, a GNU long link, or the header's.
    pub link: Vec<u8>,
    /// All its PAX records, in order.
    pub records: Vec<Record>,
    /// The map of a sparse file.
    pub sparse: Option<SparseMap>,
}

/// What was resolved, by the index of the entry it belongs to (counting every
/// entry the `tar` crate returns).
#[derive(Debug, Default)]
pub(crate) struct SideRecords {
    queue: VecDeque<(u64, Side)>,
}

impl SideRecords {
    /// What belongs to entry `index`; earlier leftovers are dropped.
    pub(crate) fn take(&mut self, index: u64) -> Option<Side> {
        while let Some((i, _)) = self.queue.front() {
            if *i < index {
                self.queue.pop_front();
            } else {
                break;
            }
        }
        match self.queue.front() {
            Some((i, _)) if *i == index => self.queue.pop_front().map(|(_, r)| r),
            _ => None,
        }
    }
}

/// Parse PAX extended-header data by the record lengths.
pub(crate) fn parse_records(mut data: &[u8]) -> Option<Vec<Record>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        // Trailing NUL padding is tolerated.
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let sp = data.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&data[..sp]).ok()?.parse().ok()?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return None;
        }
        let rec = &data[sp + 1..len - 1];
        let eq = rec.iter().position(|&b| b == b'=')?;
        out.push((rec[..eq].to_vec(), rec[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Some(out)
}

/// Encode records as PAX data.
pub(crate) fn encode_records(records: &[Record]) -> Vec<u8> {
    let mut data = Vec::new();
    for (key, value) in records {
        let rest = 3 + key.len() + value.len();
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(len.to_string().as_bytes());
        data.push(b' ');
        data.extend_from_slice(key);
        data.push(b'=');
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    data
}

enum Mode {
    /// At a header.
    Header,
    /// Copying the current member's data.
    Data,
    /// After the end of the archive: the end marker, then the rest verbatim.
    Passthrough,
}

/// The stream adapter; see the module documentation.
pub(crate) struct PaxSplitter<S> {
    framer: Framer<S>,
    out: Vec<u8>,
    pos: usize,
    mode: Mode,
    side: Rc<RefCell<SideRecords>>,
    /// Index of the next entry the `tar` crate will return.
    next_entry: u64,
}

impl<S: Source> PaxSplitter<S> {
    pub(crate) fn new(inner: S) -> (Self, Rc<RefCell<SideRecords>>) {
        let side = Rc::new(RefCell::new(SideRecords::default()));
        (
            PaxSplitter {
                framer: Framer::new(inner),
                out: Vec::new(),
                pos: 0,
                mode: Mode::Header,
                side: Rc::clone(&side),
                next_entry: 0,
            },
            side,
        )
    }
}

impl<S: Source> Read for PaxSplitter<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.pos = 0;
            match self.mode {
                Mode::Passthrough => return self.framer.src_mut().read(buf),
                Mode::Data => {
                    let n = self.framer.read_data(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    // The end of the data (or of a truncated input, which
                    // the `tar` crate then finds short).
                    self.mode = Mode::Header;
                    if self.framer.truncated() {
                        self.mode = Mode::Passthrough;
                        return Ok(0);
                    }
                }
                Mode::Header => match self.framer.next()? {
                    Next::Member(m) => {
                        self.side
                            .borrow_mut()
                            .queue
                            .push_back((self.next_entry, m.side));
                        self.next_entry += 1;
                        self.out = m.header.to_vec();
                        self.mode = Mode::Data;
                    }
                    Next::End => {
                        // The `tar` crate stops at a zero block.
                        self.out = vec![0u8; 512];
                        self.mode = Mode::Passthrough;
                    }
                },
            }
        }
    }
}

pub(crate) fn checksum_ok(block: &[u8]) -> bool {
    let Some(want) = numeric(&block[148..156]) else {
        return false;
    };
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == want
}

/// A tar numeric field: octal (spaces and NULs around it) or GNU base-256.
pub(crate) fn numeric(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s: Vec<u8> = field
        .iter()
        .copied()
        .filter(|&b| b != 0 && b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

/// Write `size` into a header's size field: octal when it fits, GNU base-256
/// otherwise (the checksum is the caller's).
pub(crate) fn set_size(header: &mut [u8], size: u64) {
    if size < 8u64.pow(11) {
        let s = format!("{size:011o}\0");
        header[124..136].copy_from_slice(s.as_bytes());
    } else {
        header[124..128].copy_from_slice(&[0x80, 0, 0, 0]);
        header[128..136].copy_from_slice(&size.to_be_bytes());
    }
}

/// Recompute a header's checksum.
pub(crate) fn set_checksum(header: &mut [u8]) {
    header[148..156].copy_from_slice(b"        ");
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    let c = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(c.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_with_newlines_parse_by_length() {
        let recs = vec![
            (
                b"SCHILY.acl.access".to_vec(),
                b"user::rw-\ngroup::r--\nother::---\n".to_vec(),
            ),
            (
                b"SCHILY.xattr.user.bin".to_vec(),
                vec![0, b'\n', 0xff, b'='],
            ),
            (b"path".to_vec(), b"a/b".to_vec()),
        ];
        let data = encode_records(&recs);
        assert_eq!(parse_records(&data).unwrap(), recs);
        let mut padded = data.clone();
        padded.extend_from_slice(&[0; 10]);
        assert_eq!(parse_records(&padded).unwrap(), recs);
        assert!(parse_records(b"5 a=b\n").is_none());
        assert!(parse_records(b"99 a=b\n").is_none());
        assert!(parse_records(b"x a=b\n").is_none());
        assert!(parse_records(b"6 ab\nx").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(numeric(b"00000000144\0"), Some(100));
        assert_eq!(numeric(b"     144 \0\0\0"), Some(100));
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(numeric(b"00000000009\0"), None);
        let mut h = [0u8; 512];
        h[257..262].copy_from_slice(b"ustar");
        set_size(&mut h, 12345);
        set_checksum(&mut h);
        assert_eq!(numeric(&h[124..136]), Some(12345));
        assert!(checksum_ok(&h));
    }

    #[test]
    fn side_queue_matches_entries() {
        let side = |r: Vec<Record>| Side {
            records: r,
            ..Side::default()
        };
        let mut q = SideRecords::default();
        q.queue
            .push_back((1, side(vec![(b"a".to_vec(), b"1".to_vec())])));
        q.queue
            .push_back((3, side(vec![(b"b".to_vec(), b"2".to_vec())])));
        assert!(q.take(0).is_none());
        assert_eq!(q.take(1).unwrap().records.len(), 1);
        assert!(q.take(2).is_none());
        assert!(q.take(4).is_none(), "a skipped index drops its leftovers");
    }

    #[test]
    fn large_sizes_are_written_in_base_256() {
        let mut h = [0u8; 512];
        for size in [0, 8u64.pow(11) - 1, 8u64.pow(11), u64::MAX] {
            set_size(&mut h, size);
            set_checksum(&mut h);
            assert_eq!(numeric(&h[124..136]), Some(size));
            assert!(checksum_ok(&h));
        }
    }
}
