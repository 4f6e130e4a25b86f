//! Exact PAX record parsing in front of the `tar` crate's reader.
//!
//! PAX records are length-prefixed (`"%d %s=%s\n"`), so a value may hold any
//! byte, newlines included: binary xattrs (`SCHILY.xattr.security.capability`)
//! and GNU tar's ACL text (`SCHILY.acl.access`, one entry per line) do. The
//! `tar` crate splits records at newlines and rejects such headers, so
//! [`PaxSplitter`] sits between the decompressor and the `tar` crate: it walks
//! the stream header by header, parses each local PAX header by the lengths, and
//! hands the records the `tar` crate cannot take (every xattr and ACL record and
//! anything with a newline) to the extractor through a [`SideRecords`] queue,
//! keyed by the index of the entry the `tar` crate will return next. Old GNU
//! sparse entries are taken apart here too: their map goes through the same
//! queue, and the `tar` crate sees a plain file of the stored data (see
//! [`crate::sparse`]). Everything else passes through unchanged; a malformed
//! stream is passed on untouched for the `tar` crate to reject.
//!
//! Being first to see every header, the splitter is where the sizes of extended
//! headers and sparse maps are bounded ([`crate::limits`]): an oversized one
//! fails the stream before anything is allocated for it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

use crate::error::ErrorKind;
use crate::limits::{padded, refuse};
use crate::sparse::{MapBuilder, SparseMap, block_is_extended, header_is_extended};

/// One PAX record.
pub(crate) type Record = (Vec<u8>, Vec<u8>);

/// What the splitter took out of the stream for one entry.
#[derive(Debug, Default)]
pub(crate) struct Side {
    /// PAX records the `tar` crate cannot take.
    pub records: Vec<Record>,
    /// The map of an old GNU sparse entry.
    pub sparse: Option<SparseMap>,
}

/// What was taken out of the stream, by the index of the entry it belongs to
/// (counting every entry the `tar` crate returns).
#[derive(Debug, Default)]
pub(crate) struct SideRecords {
    queue: VecDeque<(u64, Side)>,
}

impl SideRecords {
    /// What belongs to entry `index`; earlier leftovers are dropped.
    pub(crate) fn take(&mut self, index: u64) -> Side {
        while let Some((i, _)) = self.queue.front() {
            if *i < index {
                self.queue.pop_front();
            } else {
                break;
            }
        }
        match self.queue.front() {
            Some((i, _)) if *i == index => {
                self.queue.pop_front().map(|(_, r)| r).unwrap_or_default()
            }
            _ => Side::default(),
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

/// Whether the extractor takes this record from the side queue.
fn is_side(key: &[u8], value: &[u8]) -> bool {
    value.contains(&b'\n')
        || key.contains(&b'\n')
        || key.starts_with(b"SCHILY.xattr.")
        || key.starts_with(b"SCHILY.acl.")
        || key.starts_with(b"RHT.")
}

enum Mode {
    /// At a header.
    Header,
    /// Copying this many bytes of entry data verbatim.
    Data(u64),
    /// After the end marker or a structure we do not follow: copy the rest.
    Passthrough,
}

/// The stream adapter; see the module documentation.
pub(crate) struct PaxSplitter<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    mode: Mode,
    side: Rc<RefCell<SideRecords>>,
    /// Index of the next entry the `tar` crate will return.
    next_entry: u64,
    pending: Vec<Record>,
    pending_size: Option<u64>,
    /// Extended header bytes (`x`, `L`, `K`) seen for the coming member.
    pending_bytes: u64,
}

impl<R: Read> PaxSplitter<R> {
    pub(crate) fn new(inner: R) -> (Self, Rc<RefCell<SideRecords>>) {
        let side = Rc::new(RefCell::new(SideRecords::default()));
        (
            PaxSplitter {
                inner,
                out: Vec::new(),
                pos: 0,
                mode: Mode::Header,
                side: Rc::clone(&side),
                next_entry: 0,
                pending: Vec::new(),
                pending_size: None,
                pending_bytes: 0,
            },
            side,
        )
    }

    /// Read up to `n` bytes (fewer only at end of input).
    fn read_up_to(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// Produce the next piece of output from a header position.
    fn next_header(&mut self) -> io::Result<()> {
        let block = self.read_up_to(512)?;
        if block.len() < 512 || block.iter().all(|&b| b == 0) || !checksum_ok(&block) {
            self.out = block;
            self.mode = Mode::Passthrough;
            return Ok(());
        }
        let recognized = &block[257..262] == b"ustar";
        let kind = block[156];
        let Some(size) = numeric(&block[124..136]) else {
            self.out = block;
            self.mode = Mode::Passthrough;
            return Ok(());
        };
        // The `tar` crate reads these whole into memory (an `x` or `g` header
        // even without the ustar magic): bound them first.
        let extended =
            crate::limits::check_extended_header(kind, recognized, size, &mut self.pending_bytes)?;
        if recognized && kind == b'x' {
            let data = self.read_up_to(padded(size)? as usize)?;
            let records = (data.len() as u64 >= size)
                .then(|| parse_records(&data[..size as usize]))
                .flatten();
            let Some(records) = records else {
                self.out = [block, data].concat();
                self.mode = Mode::Passthrough;
                return Ok(());
            };
            let (side, kept): (Vec<Record>, Vec<Record>) =
                records.into_iter().partition(|(k, v)| is_side(k, v));
            for (k, v) in &kept {
                if k == b"size" {
                    self.pending_size = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
                }
            }
            self.pending.extend(side);
            let new_data = encode_records(&kept);
            let mut header = block;
            set_size(&mut header, new_data.len() as u64);
            let mut out = header;
            out.extend_from_slice(&new_data);
            out.resize(512 + padded(new_data.len() as u64)? as usize, 0);
            self.out = out;
            return Ok(());
        }
        let mut out = block;
        let data_size = if extended {
            size
        } else {
            // A real entry (or a global header): the `tar` crate returns it.
            let mut side = Side {
                records: std::mem::take(&mut self.pending),
                sparse: None,
            };
            self.pending_bytes = 0;
            let size = self.pending_size.take().unwrap_or(size);
            if kind == b'S' {
                side.sparse = Some(self.sparse_map(&mut out, size)?);
            }
            if !side.records.is_empty() || side.sparse.is_some() {
                self.side
                    .borrow_mut()
                    .queue
                    .push_back((self.next_entry, side));
            }
            self.next_entry += 1;
            size
        };
        self.out = out;
        self.mode = Mode::Data(padded(data_size)?);
        Ok(())
    }

    /// Read the map of the old GNU sparse entry whose header is `header` (and
    /// its extension blocks, which are dropped from the stream), and turn the
    /// header into a plain file's of the `stored` bytes that follow.
    fn sparse_map(&mut self, header: &mut [u8], stored: u64) -> io::Result<SparseMap> {
        if &header[257..265] != b"ustar  \0" {
            return Err(refuse(
                ErrorKind::Corrupt,
                "sparse entry (type S) without a GNU header",
            ));
        }
        let mut map = MapBuilder::new(header, stored)?;
        let mut more = header_is_extended(header);
        while more {
            let ext = self.read_up_to(512)?;
            if ext.len() < 512 {
                return Err(refuse(
                    ErrorKind::Corrupt,
                    "archive is truncated inside a sparse map",
                ));
            }
            map.add_block(&ext)?;
            more = block_is_extended(&ext);
        }
        let map = map.finish()?;
        header[156] = b'0';
        header[386..495].fill(0);
        set_checksum(header);
        Ok(map)
    }
}

impl<R: Read> Read for PaxSplitter<R> {
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
                Mode::Passthrough => return self.inner.read(buf),
                Mode::Data(0) => self.mode = Mode::Header,
                Mode::Data(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        self.mode = Mode::Passthrough;
                    } else {
                        self.mode = Mode::Data(left - n as u64);
                    }
                    return Ok(n);
                }
                Mode::Header => {
                    self.next_header()?;
                    if self.out.is_empty() {
                        return Ok(0);
                    }
                }
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

fn set_size(header: &mut [u8], size: u64) {
    let s = format!("{size:011o}\0");
    header[124..136].copy_from_slice(s.as_bytes());
    set_checksum(header);
}

fn set_checksum(header: &mut [u8]) {
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
        assert_eq!(numeric(&h[124..136]), Some(12345));
        assert!(checksum_ok(&h));
    }

    #[test]
    fn side_queue_matches_entries() {
        let side = |r: Vec<Record>| Side {
            records: r,
            sparse: None,
        };
        let mut q = SideRecords::default();
        q.queue
            .push_back((1, side(vec![(b"a".to_vec(), b"1".to_vec())])));
        q.queue
            .push_back((3, side(vec![(b"b".to_vec(), b"2".to_vec())])));
        assert!(q.take(0).records.is_empty());
        assert_eq!(q.take(1).records.len(), 1);
        assert!(q.take(2).records.is_empty());
        assert!(
            q.take(4).records.is_empty(),
            "a skipped index drops its leftovers"
        );
    }
}
