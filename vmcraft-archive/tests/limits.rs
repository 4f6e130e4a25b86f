//! Small inputs that promise huge ones: a few KiB of archive that declare a
//! gigabyte long name, an 8 GiB PAX header, a sparse file of a terabyte or an
//! exabyte, a sparse map of a million extents, an xz dictionary of 4 GiB, a zstd
//! window of 2 GiB. Each is refused with `ErrorKind::LimitExceeded` (or
//! `Corrupt`) and a message naming the value and the limit, or, for the sparse
//! file's real size, extracted with its holes made by `ftruncate`; nothing is
//! allocated or looped over in proportion to what the headers declare. Every
//! case runs from a stream, from a plain file (checked by headers first) and
//! from a compressed file (checked by decompressing first).

mod common;

use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use common::{RawTar, Snap, snapshot, write_file};
use vmcraft_archive::{Compression, ErrorKind, GuestRoot, TarInOptions, tar_in, tar_in_from};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

/// A GNU header of type `kind` for `name`, with `size` in its size field.
fn header(name: &str, kind: u8, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    h
}

/// A POSIX (ustar magic) extended header of type `kind` and `size` bytes.
fn pax_header(kind: u8, size: u64) -> tar::Header {
    let mut h = header("././@PaxHeader", kind, size);
    h.as_mut_bytes()[257..265].copy_from_slice(b"ustar\x0000");
    h.set_cksum();
    h
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `data` must be refused with `kind` and a message ending in `msg`, from a
/// stream, a plain file and a gzip file, with the guest unchanged.
fn refused(label: &str, data: &[u8], kind: ErrorKind, msg: &str) {
    let env = TestEnv::new("limits");
    let root = GuestRoot::open(env.path()).unwrap();
    root.write("/existing", b"keep").unwrap();
    let plain = write_file(env.path(), "in.tar", data);
    let packed = write_file(env.path(), "in.tar.gz", &gzip(data));
    let before = snapshot(env.path(), Snap::ALL);
    let runs: [(&str, vmcraft_archive::Result<_>); 3] = [
        (
            "stream",
            tar_in_from(&root, data, "/", &TarInOptions::default()),
        ),
        (
            "plain file",
            tar_in(&root, &plain, "/", &TarInOptions::default()),
        ),
        (
            "gzip file",
            tar_in(&root, &packed, "/", &TarInOptions::default()),
        ),
    ];
    for (how, res) in runs {
        let e = res.expect_err(&format!("{label} ({how}) must be refused"));
        assert_eq!(e.kind(), kind, "{label} ({how}): {e}");
        assert!(
            e.to_string().starts_with("tar_in: ") && e.to_string().ends_with(msg),
            "{label} ({how}): {e}"
        );
        assert_eq!(
            before,
            snapshot(env.path(), Snap::ALL),
            "{label} ({how}): the guest changed"
        );
    }
}

#[test]
fn oversized_extended_headers_are_refused() {
    let long = |kind: u8, size: u64| {
        RawTar::default()
            .raw(header("././@LongLink", kind, size).as_bytes())
            .raw(&[b'a'; 512])
            .finish()
    };
    refused(
        "long name",
        &long(b'L', 1 << 30),
        ErrorKind::LimitExceeded,
        "GNU long name of 1073741824 bytes (the limit is 65536)",
    );
    refused(
        "long link",
        &long(b'K', 65537),
        ErrorKind::LimitExceeded,
        "GNU long link target of 65537 bytes (the limit is 65536)",
    );
    for kind in [b'x', b'g'] {
        let h = pax_header(kind, 8 << 30);
        let data = RawTar::default()
            .raw(h.as_bytes())
            .raw(&[b'1'; 512])
            .file("./f", b"x")
            .finish();
        refused(
            "pax header",
            &data,
            ErrorKind::LimitExceeded,
            "pax extended header of 8589934592 bytes (the limit is 4194304)",
        );
    }
    // Extended headers each under the limit, too much of them for one member.
    let record = |n: usize| {
        let key = "SCHILY.xattr.user.big";
        let value = "v".repeat(n);
        let rest = 3 + key.len() + value.len();
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        format!("{len} {key}={value}\n").into_bytes()
    };
    let rec = record(3_000_000);
    let mut data = RawTar::default();
    for _ in 0..2 {
        let h = pax_header(b'x', rec.len() as u64);
        data = data.raw(h.as_bytes()).raw(&rec);
        let pad = (512 - rec.len() % 512) % 512;
        data = data.raw(&vec![0; pad]);
    }
    refused(
        "two pax headers",
        &data.file("./f", b"x").finish(),
        ErrorKind::LimitExceeded,
        "extended headers of more than 4194304 bytes for one member (the limit)",
    );
}

#[test]
fn sizes_that_overflow_are_corrupt_not_a_panic() {
    let data = RawTar::default()
        .raw(header("./f", b'0', u64::MAX).as_bytes())
        .raw(&[0; 512])
        .finish();
    let env = TestEnv::new("limits-overflow");
    let root = GuestRoot::open(env.path()).unwrap();
    let e = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert_eq!(
        e.to_string(),
        "tar_in: /: size 18446744073709551615 is out of range"
    );
    // The check pass of a file says the same (it once said "truncated": its
    // arithmetic wrapped where extraction's did not).
    let file = write_file(env.path(), "x.tar", &data);
    let e = tar_in(&root, &file, "/", &TarInOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "tar_in: {}: size 18446744073709551615 is out of range",
            file.display()
        )
    );
}

/// A 12-byte numeric field: octal, or GNU base-256 when it does not fit.
fn field(v: u64) -> Vec<u8> {
    if v < 8u64.pow(11) {
        format!("{v:011o}\0").into_bytes()
    } else {
        let mut f = vec![0x80, 0, 0, 0];
        f.extend_from_slice(&v.to_be_bytes());
        f
    }
}

/// An old GNU sparse entry: `extents` (offset, length) in the header (at most
/// 4) and in `ext_blocks` extension blocks of 21 more each, real size `real`,
/// with the stored data (each extent filled with its index + 1).
fn sparse_entry(name: &str, real: u64, extents: &[(u64, u64)]) -> Vec<u8> {
    let stored: u64 = extents.iter().map(|e| e.1).sum();
    let mut h = header(name, b'S', stored);
    let raw = h.as_mut_bytes();
    let (head, rest) = extents.split_at(extents.len().min(4));
    for (i, &(o, l)) in head.iter().enumerate() {
        raw[386 + 24 * i..386 + 24 * i + 12].copy_from_slice(&field(o));
        raw[386 + 24 * i + 12..386 + 24 * (i + 1)].copy_from_slice(&field(l));
    }
    raw[482] = u8::from(!rest.is_empty());
    raw[483..495].copy_from_slice(&field(real));
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    let blocks: Vec<&[(u64, u64)]> = rest.chunks(21).collect();
    for (b, chunk) in blocks.iter().enumerate() {
        let mut ext = [0u8; 512];
        for (i, &(o, l)) in chunk.iter().enumerate() {
            ext[24 * i..24 * i + 12].copy_from_slice(&field(o));
            ext[24 * i + 12..24 * (i + 1)].copy_from_slice(&field(l));
        }
        ext[504] = u8::from(b + 1 < blocks.len());
        out.extend_from_slice(&ext);
    }
    for (i, &(_, l)) in extents.iter().enumerate() {
        out.extend(std::iter::repeat_n((i as u8).wrapping_add(1), l as usize));
    }
    while !out.len().is_multiple_of(512) {
        out.push(0);
    }
    out
}

#[test]
fn a_huge_sparse_file_costs_what_it_stores() {
    let env = TestEnv::new("limits-sparse");
    let root = GuestRoot::open(env.path()).unwrap();
    let tib = 1u64 << 40;
    let data = RawTar::default()
        .raw(&sparse_entry(
            "./disk.img",
            tib,
            &[(0, 4096), (tib / 2, 100), (tib - 4096, 4096)],
        ))
        .finish();
    let packed = write_file(env.path(), "s.tar.gz", &gzip(&data));
    let plain = write_file(env.path(), "s.tar", &data);
    for how in ["stream", "gzip file", "plain file"] {
        let opts = TarInOptions::default();
        let res = match how {
            "stream" => tar_in_from(&root, &data[..], "/", &opts),
            "gzip file" => tar_in(&root, &packed, "/", &opts),
            _ => tar_in(&root, &plain, "/", &opts),
        };
        let stats = res.unwrap_or_else(|e| panic!("{how}: {e}"));
        assert_eq!(stats.file_bytes, tib, "{how}");
        let img = env.path().join("disk.img");
        let m = std::fs::metadata(&img).unwrap();
        assert_eq!(m.len(), tib, "{how}");
        assert!(
            m.blocks() * 512 < 1 << 20,
            "{how}: holes were written ({} blocks)",
            m.blocks()
        );
        let f = std::fs::File::open(&img).unwrap();
        let at = |off: u64, n: usize| {
            let mut b = vec![0u8; n];
            f.read_exact_at(&mut b, off).unwrap();
            b
        };
        assert_eq!(at(0, 4096), vec![1; 4096]);
        assert_eq!(at(4096, 4096), vec![0; 4096]);
        assert_eq!(at(tib / 2, 100), vec![2; 100]);
        assert_eq!(at(tib / 2 + 100, 10), vec![0; 10]);
        assert_eq!(at(tib - 4096, 4096), vec![3; 4096]);
        std::fs::remove_file(&img).unwrap();
    }
    // A real size no filesystem here can hold: a clear error, at once.
    let data = RawTar::default()
        .raw(&sparse_entry("./huge", 1 << 62, &[(0, 512)]))
        .finish();
    match tar_in_from(&root, &data[..], "/", &TarInOptions::default()) {
        Ok(_) => assert_eq!(
            std::fs::metadata(env.path().join("huge")).unwrap().len(),
            1 << 62
        ),
        Err(e) => assert!(
            e.to_string()
                .starts_with("tar_in: /: entry \"./huge\": write"),
            "{e}"
        ),
    }
}

#[test]
fn hostile_sparse_maps_are_refused() {
    // 12,484 extension blocks of 21 one-byte extents each: 262,164 entries.
    let extents: Vec<(u64, u64)> = (0..262_164u64).map(|i| (2 * i, 1)).collect();
    let data = RawTar::default()
        .raw(&sparse_entry("./many", 1 << 20, &extents))
        .finish();
    refused(
        "many extents",
        &data,
        ErrorKind::LimitExceeded,
        "sparse map of more than 262144 entries (the limit)",
    );
    type Case<'a> = (&'a str, u64, &'a [(u64, u64)], &'a str);
    let cases: [Case<'_>; 3] = [
        (
            "overlap",
            10_000,
            &[(0, 100), (50, 100)],
            "sparse map: extent at 50 overlaps or precedes the one before it",
        ),
        (
            "past the end",
            1000,
            &[(0, 100), (950, 100)],
            "sparse map: extent 950+100 runs past the real size 1000",
        ),
        (
            "beyond a file",
            u64::MAX,
            &[(0, 100)],
            "sparse map: real size 18446744073709551615 is more than a file can have",
        ),
    ];
    for (label, real, extents, msg) in cases {
        let data = RawTar::default()
            .raw(&sparse_entry("./s", real, extents))
            .finish();
        refused(label, &data, ErrorKind::Corrupt, msg);
    }
}

#[test]
fn gnu_tar_sparse_archives_extract_exactly() {
    if !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("limits-gnu-sparse");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // 30 extents (extension blocks needed), a trailing hole, 3 GiB apparent.
    let f = std::fs::File::create(src.join("sparse.img")).unwrap();
    for i in 0..30u64 {
        f.write_all_at(&vec![i as u8 + 1; 5000], i * (100 << 20) + 777)
            .unwrap();
    }
    f.set_len(3 << 30).unwrap();
    drop(f);
    let tarball = env.path().join("s.tar");
    SystemRunner::new()
        .run(
            &Command::new("tar")
                .args(["--format=gnu", "-S", "-C"])
                .arg(&src)
                .arg("-cf")
                .arg(&tarball)
                .arg("sparse.img"),
        )
        .unwrap();
    let dst = env.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    let root = GuestRoot::open(&dst).unwrap();
    tar_in(&root, &tarball, "/", &TarInOptions::default()).unwrap();
    let (a, b) = (src.join("sparse.img"), dst.join("sparse.img"));
    assert_eq!(std::fs::metadata(&b).unwrap().len(), 3 << 30);
    assert!(std::fs::metadata(&b).unwrap().blocks() * 512 < 8 << 20);
    assert!(same_content(&a, &b), "the extracted file differs");
}

/// Compare two (sparse) files by their data, block by block where either has
/// data (SEEK_DATA), so 3 GiB of holes are not read.
fn same_content(a: &Path, b: &Path) -> bool {
    let (fa, fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let len = fa.metadata().unwrap().len();
    if fb.metadata().unwrap().len() != len {
        return false;
    }
    let mut pos = 0;
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    while pos < len {
        let next = [&fa, &fb]
            .iter()
            .filter_map(|f| rustix::fs::seek(f, rustix::fs::SeekFrom::Data(pos)).ok())
            .min();
        let Some(next) = next else { break };
        pos = next;
        let n = (len - pos).min(x.len() as u64) as usize;
        fa.read_exact_at(&mut x[..n], pos).unwrap();
        fb.read_exact_at(&mut y[..n], pos).unwrap();
        if x[..n] != y[..n] {
            return false;
        }
        pos += n as u64;
    }
    true
}

/// An xz stream whose block header declares `dict_byte` as its LZMA2
/// dictionary (40: 4 GiB), the header CRC fixed.
fn xz_with_dictionary(tar: &[u8], dict_byte: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let stream =
        liblzma::stream::Stream::new_easy_encoder(0, liblzma::stream::Check::Crc64).unwrap();
    let mut enc = liblzma::write::XzEncoder::new_stream(&mut out, stream);
    enc.write_all(tar).unwrap();
    enc.finish().unwrap();
    // Stream header (12 bytes), then the block header: size, flags (no sizes,
    // one filter), filter id 0x21 (LZMA2), 1 byte of properties: the dictionary.
    let size = (usize::from(out[12]) + 1) * 4;
    assert_eq!(&out[13..16], &[0x00, 0x21, 0x01], "block header layout");
    out[16] = dict_byte;
    let mut crc = flate2::Crc::new();
    crc.update(&out[12..12 + size - 4]);
    out[12 + size - 4..12 + size].copy_from_slice(&crc.sum().to_le_bytes());
    out
}

#[test]
fn decoders_are_held_to_a_memory_limit() {
    let env = TestEnv::new("limits-decoder");
    let root = GuestRoot::open(env.path()).unwrap();
    let tar = RawTar::default().file("./f", b"content\n").finish();
    let check = |label: &str, data: &[u8], compress: Compression, msg: &str| {
        let file = write_file(env.path(), "packed", data);
        let opts = TarInOptions {
            compress: Some(compress),
            ..Default::default()
        };
        let unverified = TarInOptions {
            verify_first: false,
            ..opts.clone()
        };
        for (how, res) in [
            ("stream", tar_in_from(&root, data, "/", &opts)),
            ("file", tar_in(&root, &file, "/", &opts)),
            ("file, unverified", tar_in(&root, &file, "/", &unverified)),
        ] {
            let e = res.expect_err(&format!("{label} ({how})"));
            assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{label} ({how}): {e}");
            assert!(e.to_string().ends_with(msg), "{label} ({how}): {e}");
            assert!(!root.exists("/f").unwrap(), "{label} ({how})");
        }
    };
    // The patched stream is sound apart from its dictionary: it reads with a
    // dictionary it can have.
    let ok = xz_with_dictionary(&tar, 16);
    tar_in_from(&root, &ok[..], "/", &TarInOptions::default()).unwrap();
    root.rm("/f").unwrap();
    check(
        "xz with a 4 GiB dictionary",
        &xz_with_dictionary(&tar, 40),
        Compression::Xz,
        "xz: the stream needs more than 1024 MiB of memory to decompress (the limit)",
    );
    // Legacy .lzma: the dictionary size is in the header.
    let mut lzma = Vec::new();
    {
        let opts = liblzma::stream::LzmaOptions::new_preset(0).unwrap();
        let stream = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
        let mut enc = liblzma::write::XzEncoder::new_stream(&mut lzma, stream);
        enc.write_all(&tar).unwrap();
        enc.finish().unwrap();
    }
    lzma[1..5].copy_from_slice(&(1u32 << 31).to_le_bytes());
    check(
        "lzma with a 2 GiB dictionary",
        &lzma,
        Compression::Lzma,
        "lzma: the stream needs more than 1024 MiB of memory to decompress (the limit)",
    );
    // zstd: a frame whose window descriptor asks for 2 GiB.
    let mut zst = Vec::new();
    {
        let mut enc = zstd::stream::write::Encoder::new(&mut zst, 3).unwrap();
        enc.write_all(&tar).unwrap();
        enc.finish().unwrap();
    }
    assert_eq!(zst[4] & 0x20, 0, "a streamed frame has a window descriptor");
    zst[5] = 21 << 3;
    check(
        "zstd with a 2 GiB window",
        &zst,
        Compression::Zstd,
        "zstd: the stream needs more than 1024 MiB of memory to decompress (the limit)",
    );
    // The limit is the caller's to set: an ordinary xz -6 archive against 1 MiB.
    let mut xz6 = Vec::new();
    {
        let stream =
            liblzma::stream::Stream::new_easy_encoder(6, liblzma::stream::Check::Crc64).unwrap();
        let mut enc = liblzma::write::XzEncoder::new_stream(&mut xz6, stream);
        enc.write_all(&tar).unwrap();
        enc.finish().unwrap();
    }
    let small = TarInOptions {
        max_decoder_memory: 1 << 20,
        ..Default::default()
    };
    let e = tar_in_from(&root, &xz6[..], "/", &small).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert_eq!(
        e.to_string(),
        "tar_in: /: xz: the stream needs more than 1 MiB of memory to decompress (the limit)"
    );
    tar_in_from(&root, &xz6[..], "/", &TarInOptions::default()).unwrap();
    assert_eq!(root.read_file("/f").unwrap(), b"content\n");
}
