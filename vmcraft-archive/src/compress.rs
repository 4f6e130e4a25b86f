//! Compression of tar streams: [`Compression`] (none, gzip, bzip2, xz, zstd, and
//! the legacy lzma format for reading), detection from magic bytes, and the
//! streaming encoders and decoders, all in-process.
//!
//! gzip output is made by [`crate::pargz::ParallelGzEncoder`], which deflates
//! 1 MiB blocks on every core as independent gzip members (a valid gzip stream
//! that `gzip -d`, `tar -xz` and `zcat` read); gzip input is decoded as a
//! multi-member stream.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::str::FromStr;

use serde::Serialize;

use vmcraft_fs::root::{Error, ErrorKind};

/// A compression format for tar streams (libguestfs's `compress` optional
/// argument).
///
/// ```
/// use vmcraft_archive::Compression;
/// assert_eq!("xz".parse::<Compression>()?, Compression::Xz);
/// assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Some(Compression::Gzip));
/// assert_eq!(Compression::Zstd.to_string(), "zstd");
/// # Ok::<(), vmcraft_archive::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (deflate).
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz (LZMA2).
    Xz,
    /// The legacy `.lzma` format (read and written through liblzma).
    Lzma,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// Every format, for tests and listings.
    pub const ALL: [Compression; 6] = [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Lzma,
        Compression::Zstd,
    ];

    /// The format whose magic bytes start `head`, or `None` when no compression
    /// format is recognised (a plain tar stream, or not an archive at all).
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.len() >= 13 && lzma_alone_header(head) {
            Some(Compression::Lzma)
        } else {
            None
        }
    }

    /// The name libguestfs uses (`gzip`, `bzip2`, `xz`, `lzma`, `zstd`; `none`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zstd => "zstd",
        }
    }
}

/// The `.lzma` ("LZMA alone") header: properties byte 0x5d (the only value xz
/// and lzma-utils write), a power-of-two-ish dictionary size, and an
/// uncompressed size that is either unknown (all ones) or sane.
fn lzma_alone_header(head: &[u8]) -> bool {
    let dict = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    let size = u64::from_le_bytes(head[5..13].try_into().unwrap_or([0; 8]));
    head[0] == 0x5d
        && dict >= 4096
        && (dict.is_power_of_two() || dict.count_ones() == 2)
        && (size == u64::MAX || size < 1 << 48)
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "" | "none" => Compression::None,
            "gzip" | "gz" => Compression::Gzip,
            "bzip2" | "bz2" => Compression::Bzip2,
            "xz" => Compression::Xz,
            "lzma" => Compression::Lzma,
            "zstd" | "zst" => Compression::Zstd,
            "lzop" | "compress" => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "compress",
                    s,
                    "not supported in-process (use gzip, bzip2, xz, lzma or zstd)",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    "compress",
                    s,
                    "unknown compression (gzip, bzip2, xz, lzma, zstd or none)",
                ));
            }
        })
    }
}

/// How hard to compress, per format. `None` for each means the format's usual
/// default (gzip 6, bzip2 9, xz 6, zstd 3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Level(pub Option<u32>);

/// Wrap `output` in an encoder for `format`. `threads` is the number of worker
/// threads for formats that can use them (gzip, zstd); 0 means all cores.
pub(crate) fn encoder<'a, W: Write + 'a>(
    format: Compression,
    level: Level,
    threads: usize,
    output: W,
) -> io::Result<Box<dyn FinishWrite + 'a>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    Ok(match format {
        Compression::None => Box::new(Plain(output)),
        Compression::Gzip => Box::new(crate::pargz::ParallelGzEncoder::new(
            output,
            level.0.unwrap_or(6).min(9),
            threads,
        )),
        Compression::Bzip2 => Box::new(bzip2::write::BzEncoder::new(
            output,
            bzip2::Compression::new(level.0.unwrap_or(9).clamp(1, 9)),
        )),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_easy_encoder(
                level.0.unwrap_or(6).min(9),
                liblzma::stream::Check::Crc64,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::write::XzEncoder::new_stream(output, stream))
        }
        Compression::Lzma => {
            let opts = liblzma::stream::LzmaOptions::new_preset(level.0.unwrap_or(6).min(9))
                .map_err(io::Error::other)?;
            let stream =
                liblzma::stream::Stream::new_lzma_encoder(&opts).map_err(io::Error::other)?;
            Box::new(liblzma::write::XzEncoder::new_stream(output, stream))
        }
        Compression::Zstd => {
            let mut enc =
                zstd::stream::write::Encoder::new(output, level.0.map_or(3, |l| l as i32))?;
            if threads > 1 {
                // Only takes effect when zstd was built with multithreading.
                let _ = enc.multithread(threads as u32);
            }
            Box::new(enc)
        }
    })
}

/// Wrap `input` in a decoder for `format` that uses at most about `memlimit`
/// bytes of memory: liblzma's memory limit for xz and lzma (whose headers may
/// declare dictionaries of up to 4 GiB), zstd's largest window (`window_log_max`;
/// a frame may ask for 2 GiB or more). A stream that needs more fails with
/// [`ErrorKind::LimitExceeded`] before the memory is allocated. gzip and bzip2
/// need a few MiB at most whatever the input says.
pub(crate) fn decoder<'a, R: BufRead + 'a>(
    format: Compression,
    input: R,
    memlimit: u64,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match format {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(input),
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            1 << 20,
            bzip2::bufread::MultiBzDecoder::new(input),
        )),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                memlimit,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(Limited {
                inner: BufReader::with_capacity(
                    1 << 20,
                    liblzma::bufread::XzDecoder::new_stream(input, stream),
                ),
                format,
                memlimit,
            })
        }
        Compression::Lzma => {
            let stream =
                liblzma::stream::Stream::new_lzma_decoder(memlimit).map_err(io::Error::other)?;
            Box::new(Limited {
                inner: BufReader::with_capacity(
                    1 << 20,
                    liblzma::bufread::XzDecoder::new_stream(input, stream),
                ),
                format,
                memlimit,
            })
        }
        Compression::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(input)?;
            // The window is what a zstd decoder allocates; 2^10 is the least.
            let log = (63 - memlimit.max(1 << 10).leading_zeros()).min(31);
            dec.window_log_max(log)?;
            Box::new(Limited {
                inner: BufReader::with_capacity(1 << 20, dec),
                format,
                memlimit,
            })
        }
    })
}

/// A decoder whose "needs more memory" failure is reported as the limit it is.
struct Limited<R> {
    inner: R,
    format: Compression,
    memlimit: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let lzma = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<liblzma::stream::Error>())
                .is_some_and(|le| matches!(le, liblzma::stream::Error::MemLimit));
            // zstd says "Frame requires too much memory for decoding".
            let zstd =
                self.format == Compression::Zstd && e.to_string().contains("too much memory");
            if lzma || zstd {
                crate::limits::over_limit(format!(
                    "{}: the stream needs more than {} MiB of memory to decompress (the limit)",
                    self.format,
                    self.memlimit >> 20
                ))
            } else {
                e
            }
        })
    }
}

/// Peek at the start of `input` and name its compression (`None` when it is none
/// of the known formats).
pub(crate) fn sniff<R: BufRead>(input: &mut R) -> io::Result<Option<Compression>> {
    let head = input.fill_buf()?;
    Ok(Compression::detect(head))
}

/// A writer whose stream must be finished explicitly (a compressor's trailer).
pub(crate) trait FinishWrite: Write {
    /// Write any trailer and flush; the stream is complete afterwards.
    fn finish_stream(self: Box<Self>) -> io::Result<()>;
}

struct Plain<W: Write>(W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for Plain<W> {
    fn finish_stream(mut self: Box<Self>) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for bzip2::write::BzEncoder<W> {
    fn finish_stream(self: Box<Self>) -> io::Result<()> {
        let mut w = (*self).finish()?;
        w.flush()
    }
}

impl<W: Write> FinishWrite for liblzma::write::XzEncoder<W> {
    fn finish_stream(self: Box<Self>) -> io::Result<()> {
        let mut w = (*self).finish()?;
        w.flush()
    }
}

impl<W: Write> FinishWrite for zstd::stream::write::Encoder<'_, W> {
    fn finish_stream(self: Box<Self>) -> io::Result<()> {
        let mut w = (*self).finish()?;
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(format: Compression) {
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i % 251) as u8 ^ (i >> 11) as u8)
            .collect();
        let mut out = Vec::new();
        let mut enc = encoder(format, Level::default(), 2, &mut out).unwrap();
        enc.write_all(&data).unwrap();
        enc.finish_stream().unwrap();
        assert_eq!(
            Compression::detect(&out).unwrap_or(Compression::None),
            format,
            "{format} detected from its own output"
        );
        let mut back = Vec::new();
        decoder(format, &out[..], 1 << 30)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data, "{format} round trip");
    }

    #[test]
    fn every_format_round_trips_and_is_detected() {
        for f in Compression::ALL {
            roundtrip(f);
        }
    }

    #[test]
    fn names_parse() {
        for f in Compression::ALL {
            assert_eq!(f.name().parse::<Compression>().unwrap(), f);
        }
        let e = "lzop".parse::<Compression>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            e.to_string(),
            "compress: lzop: not supported in-process (use gzip, bzip2, xz, lzma or zstd)"
        );
        let e = "rar".parse::<Compression>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn plain_tar_and_junk_are_not_compressed() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(Compression::detect(&tar), None);
        assert_eq!(Compression::detect(b"hello world, this is text"), None);
        assert_eq!(Compression::detect(&[]), None);
    }

    #[test]
    fn corrupt_compressed_input_is_an_error() {
        for f in [
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Xz,
            Compression::Zstd,
        ] {
            let mut out = Vec::new();
            let mut enc = encoder(f, Level::default(), 1, &mut out).unwrap();
            enc.write_all(&[7u8; 100_000]).unwrap();
            enc.finish_stream().unwrap();
            out.truncate(out.len() / 2);
            let mut back = Vec::new();
            assert!(
                decoder(f, &out[..], 1 << 30)
                    .unwrap()
                    .read_to_end(&mut back)
                    .is_err(),
                "{f}: truncated"
            );
        }
    }
}
