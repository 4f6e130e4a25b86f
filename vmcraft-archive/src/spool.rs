//! Keeping the decompressed stream of `tar_in`'s verification pass, so that the
//! extraction pass need not decompress the archive a second time.
//!
//! [`Tee`] copies what the decompressor yields into a [`Spool`]: an anonymous
//! in-memory file (`memfd`) that holds at most [`MAX_SPOOL`] bytes. When the
//! archive is larger the spool gives up (and frees its memory) and extraction
//! decompresses again, as it would without one.

use std::fs::File;
use std::io::{self, Read, Seek, Write};

/// The most decompressed bytes kept in memory for the second pass.
pub(crate) const MAX_SPOOL: u64 = 256 << 20;

/// Decompressed bytes kept for the second pass, up to a limit.
pub(crate) struct Spool {
    file: Option<File>,
    len: u64,
    limit: u64,
}

impl Spool {
    /// An empty spool holding up to `limit` bytes; `None` where no anonymous
    /// memory file can be made (the caller then decompresses twice).
    pub(crate) fn new(limit: u64) -> Option<Spool> {
        let fd =
            rustix::fs::memfd_create("vmcraft-tar-in", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
        Some(Spool {
            file: Some(File::from(fd)),
            len: 0,
            limit,
        })
    }

    /// Keep `data`; whether everything so far is kept.
    fn keep(&mut self, data: &[u8]) -> bool {
        let Some(f) = self.file.as_mut() else {
            return false;
        };
        if self.len + data.len() as u64 > self.limit || f.write_all(data).is_err() {
            // Too big (or no memory left): give up and free what was kept.
            self.file = None;
            return false;
        }
        self.len += data.len() as u64;
        true
    }

    /// The whole stream, read from the start, if it all fitted.
    pub(crate) fn into_reader(self) -> Option<File> {
        let mut f = self.file?;
        f.rewind().ok()?;
        Some(f)
    }
}

/// A reader that copies everything it reads into a [`Spool`].
pub(crate) struct Tee<'s, R> {
    inner: R,
    spool: &'s mut Spool,
    /// Fail the read once the spool gives up (a stream that cannot be read
    /// again), instead of reading on without keeping.
    strict: bool,
}

impl<'s, R> Tee<'s, R> {
    pub(crate) fn new(inner: R, spool: &'s mut Spool) -> Self {
        Tee {
            inner,
            spool,
            strict: false,
        }
    }

    /// A tee whose reads fail with [`crate::ErrorKind::LimitExceeded`] once
    /// the stream is larger than the spool holds.
    pub(crate) fn strict(mut self) -> Self {
        self.strict = true;
        self
    }
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.spool.keep(&buf[..n]) && self.strict {
            return Err(crate::limits::over_limit(format!(
                "the archive is not a regular file and its tar stream is more than {} bytes, \
                 too much to keep for extraction after checking it; nothing was extracted \
                 (into an existing empty directory it is checked as it is extracted, whatever its size; \
                 without verify_first it is extracted as it is read)",
                self.spool.limit
            )));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_fits_is_kept_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut spool = Spool::new(1 << 20).unwrap();
        let mut tee = Tee::new(&data[..], &mut spool);
        io::copy(&mut tee, &mut io::sink()).unwrap();
        let mut back = Vec::new();
        spool.into_reader().unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data);
    }

    #[test]
    fn a_stream_over_the_limit_is_dropped() {
        let data = vec![7u8; 10_000];
        let mut spool = Spool::new(9_999).unwrap();
        let mut tee = Tee::new(&data[..], &mut spool);
        let mut out = Vec::new();
        tee.read_to_end(&mut out).unwrap();
        assert_eq!(out, data, "the reader still sees everything");
        assert!(spool.into_reader().is_none());
        let mut spool = Spool::new(9_999).unwrap();
        let mut tee = Tee::new(&data[..], &mut spool).strict();
        let e = tee.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(crate::limits::refusal(&e).is_some(), "{e}");
    }
}
