//! The one reader of tar structure: headers, extended headers, sparse maps.
//!
//! [`Framer`] walks a decompressed tar stream member by member. It reads
//! extended headers itself (GNU long names and links, `L`/`K`, and PAX `x`
//! records, parsed by their lengths so binary and multi-line values survive),
//! resolves each member's name, link target and data size from them, takes
//! sparse maps apart (old GNU `S` entries and PAX `GNU.sparse.*` ones, see
//! [`crate::sparse`]), and returns the member as a [`Member`]: a normalised
//! header (its size field the size of the data that follows, its type never
//! `S`, its checksum recomputed) and what was resolved for it.
//!
//! Both passes of `tar_in` go through it, so they see the same archive: the
//! verification pass ([`crate::verify`]) calls [`Framer::next`] and skips the
//! data (by offset, in a plain file), and the extraction pass reads the
//! members through [`crate::pax::PaxSplitter`], which hands the `tar` crate
//! the normalised headers and the data and the extractor what was resolved.
//! Every entry is then judged by one function, [`crate::check::check_entry`].
//!
//! Being first to see every header, the framer is also where the sizes of
//! extended headers and sparse maps are bounded ([`crate::limits`]) and where
//! all arithmetic on header fields is checked: a field that overflows is a
//! corrupt archive, never a wrapped number.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use crate::limits::{padded, refuse};
use crate::pax::{Record, Side, checksum_ok, numeric, parse_records, set_checksum, set_size};
use crate::sparse::{self, MapBuilder, block_is_extended, header_is_extended};
use vmcraft_fs::root::ErrorKind;

/// A decompressed tar stream that can skip bytes: by reading them, or by
/// moving an offset in a plain file.
pub(crate) trait Source: Read {
    /// Skip up to `n` bytes; fewer only at the end of the input.
    fn skip(&mut self, n: u64) -> io::Result<u64>;

    /// Read what is left (a compressed stream's trailer is checked so).
    fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }
}

/// Any reader, skipping by reading.
pub(crate) struct Seq<R>(pub R);

impl<R: Read> Read for Seq<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Source for Seq<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut (&mut self.0).take(n), &mut io::sink())
    }
}

/// A plain tar file read with `pread` from an offset: skipping data costs
/// nothing, so checking a large archive reads its headers only.
pub(crate) struct At<'f> {
    file: &'f File,
    pos: u64,
    len: u64,
}

impl<'f> At<'f> {
    /// `file` from offset 0; its length is taken now.
    pub(crate) fn new(file: &'f File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(At { file, pos: 0, len })
    }
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source for At<'_> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let k = n.min(self.len.saturating_sub(self.pos));
        self.pos += k;
        Ok(k)
    }

    /// What follows the end of a plain archive is not looked at.
    fn drain(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One member of the archive, its extended headers applied.
#[derive(Debug)]
pub(crate) struct Member {
    /// The header as the `tar` crate is given it: size field = the bytes of
    /// data that follow (a sparse map stored in the data already taken off),
    /// type `S` turned into `0`, checksum recomputed.
    pub header: [u8; 512],
    /// Its name, link target, PAX records and sparse map.
    pub side: Side,
}

/// What [`Framer::next`] found.
#[derive(Debug)]
pub(crate) enum Next {
    Member(Box<Member>),
    /// End-of-archive blocks, or the end of the input at a header.
    End,
}

fn corrupt(what: String) -> io::Error {
    refuse(ErrorKind::Corrupt, what)
}

/// A NUL-terminated field or name.
pub(crate) fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// The walker; see the module documentation.
pub(crate) struct Framer<S> {
    src: S,
    /// Bytes consumed from `src`.
    offset: u64,
    /// Data (with its padding) of the current member not yet read.
    data_left: u64,
    /// The input ended inside a member's data.
    short: bool,
}

/// Extended headers collected for the coming member.
#[derive(Default)]
struct Pending {
    start: Option<u64>,
    bytes: u64,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    records: Vec<Record>,
}

impl<S: Source> Framer<S> {
    pub(crate) fn new(src: S) -> Self {
        Framer {
            src,
            offset: 0,
            data_left: 0,
            short: false,
        }
    }

    /// The stream, for reading what follows the end of the archive.
    pub(crate) fn into_source(self) -> S {
        self.src
    }

    /// The stream, for reading what follows the end of the archive.
    pub(crate) fn src_mut(&mut self) -> &mut S {
        &mut self.src
    }

    /// Whether the input ended inside a member's data.
    pub(crate) fn truncated(&self) -> bool {
        self.short
    }

    /// Read up to `n` bytes (fewer only at the end of input).
    fn read_up_to(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match self.src.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(got);
        self.offset += got as u64;
        Ok(buf)
    }

    /// Read one 512-byte block of the current member's data (a sparse map
    /// stored in front of it), or fail as truncated.
    fn data_block(&mut self, what: &str) -> io::Result<[u8; 512]> {
        let b = self.read_up_to(512)?;
        let block: [u8; 512] = b
            .try_into()
            .map_err(|_| corrupt(format!("archive is truncated inside {what}")))?;
        Ok(block)
    }

    /// Read part of the current member's data (with its padding); 0 at its
    /// end, or where the input ends early (the caller finds the data short).
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data_left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
        let n = self.src.read(&mut buf[..want])?;
        self.data_left -= n as u64;
        self.offset += n as u64;
        if n == 0 {
            // Truncated: nothing more will come.
            self.data_left = 0;
            self.short = true;
        }
        Ok(n)
    }

    /// Skip the rest of the current member's data; whether all of it was
    /// there.
    pub(crate) fn skip_data(&mut self) -> io::Result<bool> {
        let want = self.data_left;
        let got = self.src.skip(want)?;
        self.offset += got;
        self.data_left = 0;
        self.short |= got != want;
        Ok(got == want)
    }

    /// The next member. What is left of the current one's data is skipped
    /// first.
    pub(crate) fn next(&mut self) -> io::Result<Next> {
        if self.data_left > 0 && !self.skip_data()? {
            return Err(corrupt("archive is truncated inside an entry".into()));
        }
        let mut p = Pending::default();
        loop {
            let off = self.offset;
            let block = self.read_up_to(512)?;
            let pending = p.start.is_some();
            if block.is_empty() || block.iter().all(|&b| b == 0) {
                if pending {
                    return Err(corrupt(format!(
                        "archive ends after an extended header at offset {}, with no member for it",
                        p.start.unwrap_or(off)
                    )));
                }
                // No end-of-archive blocks at all is accepted, as GNU tar
                // accepts it.
                return Ok(Next::End);
            }
            let mut header: [u8; 512] = block.try_into().map_err(|_| {
                corrupt(format!(
                    "archive is truncated inside the header at offset {off}"
                ))
            })?;
            if !checksum_ok(&header) {
                return Err(corrupt(format!("bad header checksum at offset {off}")));
            }
            let size = numeric(&header[124..136])
                .ok_or_else(|| corrupt(format!("bad size field at offset {off}")))?;
            let kind = header[156];
            if crate::limits::check_extended_header(kind, size, &mut p.bytes)? {
                p.start.get_or_insert(off);
                // Bounded above: at most MAX_PAX bytes.
                let data = self.read_up_to(size as usize)?;
                let pad = padded(size)? - size;
                if data.len() as u64 != size || self.src.skip(pad)? != pad {
                    return Err(corrupt(format!(
                        "archive is truncated inside the extended header at offset {off}"
                    )));
                }
                self.offset += pad;
                match kind {
                    b'L' => p.long_name = Some(cstr(&data).to_vec()),
                    b'K' => p.long_link = Some(cstr(&data).to_vec()),
                    _ => {
                        p.records.extend(parse_records(&data).ok_or_else(|| {
                            corrupt(format!("malformed pax header at offset {off}"))
                        })?)
                    }
                }
                continue;
            }
            let start = p.start.unwrap_or(off);
            return self
                .member(&mut header, start, size, p)
                .map(|m| Next::Member(Box::new(m)));
        }
    }

    /// Resolve the member whose header is `header`.
    fn member(
        &mut self,
        header: &mut [u8; 512],
        offset: u64,
        header_size: u64,
        p: Pending,
    ) -> io::Result<Member> {
        let find = |key: &[u8]| {
            p.records
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let mut size = header_size;
        if let Some(v) = find(b"size") {
            size = std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    corrupt(format!(
                        "bad pax size record {:?} at offset {offset}",
                        String::from_utf8_lossy(&v)
                    ))
                })?;
        }
        // Rounded up to whole blocks without overflowing, or refused here.
        padded(size)?;
        let mut name = find(b"path").or(p.long_name).unwrap_or_else(|| {
            let name = cstr(&header[..100]);
            let prefix = cstr(&header[345..500]);
            if &header[257..263] == b"ustar\0" && !prefix.is_empty() {
                [prefix, b"/", name].concat()
            } else {
                name.to_vec()
            }
        });
        let link = find(b"linkpath")
            .or(p.long_link)
            .unwrap_or_else(|| cstr(&header[157..257]).to_vec());
        let kind = header[156];
        let mut map = None;
        if kind == b'S' {
            map = Some(self.gnu_sparse_map(header, size)?);
        } else if matches!(kind, b'0' | 0 | b'7')
            && let Some(ps) = sparse::PaxSparse::from_records(&p.records, size)?
        {
            if let Some(real) = ps.name {
                name = real;
            }
            map = Some(match ps.map {
                Some(m) => m,
                None => {
                    // Format 1.0: the map is the start of the data.
                    let (m, map_len) =
                        sparse::read_map_in_data(ps.real_size, size, |what| self.data_block(what))?;
                    size -= map_len;
                    m
                }
            });
        }
        set_size(header, size);
        set_checksum(header);
        self.data_left = padded(size)?;
        Ok(Member {
            header: *header,
            side: Side {
                name,
                link,
                records: p.records,
                sparse: map,
            },
        })
    }

    /// Read the map of the old GNU sparse entry whose header is `header` (and
    /// its extension blocks), and turn the header into a plain file's of the
    /// `stored` bytes that follow.
    fn gnu_sparse_map(
        &mut self,
        header: &mut [u8; 512],
        stored: u64,
    ) -> io::Result<sparse::SparseMap> {
        if &header[257..265] != b"ustar  \0" {
            return Err(corrupt("sparse entry (type S) without a GNU header".into()));
        }
        let mut map = MapBuilder::new(header, stored)?;
        let mut more = header_is_extended(header);
        while more {
            let ext = self.data_block("a sparse map")?;
            map.add_block(&ext)?;
            more = block_is_extended(&ext);
        }
        let map = map.finish()?;
        header[156] = b'0';
        header[386..495].fill(0);
        Ok(map)
    }
}
