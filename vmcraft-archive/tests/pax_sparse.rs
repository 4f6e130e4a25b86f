//! PAX sparse files (`GNU.sparse.*` records, what `tar -S --format=posix`
//! writes, formats 0.0, 0.1 and 1.0) come out under their real name, with their
//! real size, their data at the right offsets and their holes as holes, as GNU
//! tar extracts them; hostile maps are refused before anything is written.

mod common;

use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use common::{RawTar, tree_hash};
use vmcraft_archive::{ErrorKind, GuestRoot, TarInOptions, tar_in, tar_in_from};
use vmcraft_block::testing::{TestEnv, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn tar(args: &[&str], dir: &Path) {
    SystemRunner::new()
        .run(&Command::new("tar").arg("-C").arg(dir).args(args))
        .unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));
}

/// The data extents of `path` (SEEK_DATA / SEEK_HOLE).
fn data_extents(path: &Path) -> Vec<(u64, u64)> {
    let f = std::fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < len {
        let Ok(start) = rustix::fs::seek(&f, rustix::fs::SeekFrom::Data(pos)) else {
            break;
        };
        let end = rustix::fs::seek(&f, rustix::fs::SeekFrom::Hole(start)).unwrap();
        out.push((start, end - start));
        pos = end;
    }
    out
}

/// The bytes of `path` where it has data, with their offsets.
fn data_of(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap();
    data_extents(path)
        .into_iter()
        .map(|(off, len)| {
            let mut b = vec![0u8; len as usize];
            f.read_exact_at(&mut b, off).unwrap();
            (off, b)
        })
        .collect()
}

/// The source tree: sparse files with data in the middle and at the end, a
/// trailing hole, nothing but a hole, and 16 GiB apparent with a little data.
fn sparse_tree(src: &Path) {
    std::fs::create_dir_all(src.join("dir")).unwrap();
    let mk = |name: &str, len: u64, data: &[(u64, &[u8])]| {
        let f = std::fs::File::create(src.join(name)).unwrap();
        for (off, d) in data {
            f.write_all_at(d, *off).unwrap();
        }
        f.set_len(len).unwrap();
    };
    let block: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8 + 1).collect();
    mk(
        "dir/middle-and-end",
        (4 << 20) + 4096,
        &[(1 << 20, &block), (4 << 20, &block[..4096])],
    );
    mk("dir/trailing-hole", 8 << 20, &[(0, &block)]);
    mk("all-hole", 3 << 20, &[]);
    mk("huge", 16 << 30, &[(12 << 30, &block)]);
    // A long name: the PAX path (and GNU.sparse.name) carries it.
    let long = format!("dir/{}", "n".repeat(150));
    mk(&long, 2 << 20, &[(1 << 20, &block[..4096])]);
}

#[test]
fn gnu_tar_pax_sparse_files_extract_as_gnu_tar_extracts_them() {
    if !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("pax-sparse");
    let src = env.path().join("src");
    sparse_tree(&src);
    for version in ["0.0", "0.1", "1.0"] {
        let tarball = env.path().join(format!("s-{version}.tar"));
        tar(
            &[
                "--format=posix",
                "-S",
                &format!("--sparse-version={version}"),
                "-cf",
                tarball.to_str().unwrap(),
                ".",
            ],
            &src,
        );
        // GNU tar's own extraction is the reference.
        let gnu = env.path().join(format!("gnu-{version}"));
        std::fs::create_dir(&gnu).unwrap();
        tar(&["-xf", tarball.to_str().unwrap()], &gnu);
        for (how, verify_first) in [
            ("file", true),
            ("file unverified", false),
            ("stream", false),
        ] {
            let dst = env.path().join(format!("ours-{version}-{how}"));
            std::fs::create_dir(&dst).unwrap();
            let root = GuestRoot::open(&dst).unwrap();
            let opts = TarInOptions {
                verify_first,
                ..Default::default()
            };
            let stats = if how == "stream" {
                let data = std::fs::read(&tarball).unwrap();
                tar_in_from(&root, &data[..], "/", &opts)
            } else {
                tar_in(&root, &tarball, "/", &opts)
            }
            .unwrap_or_else(|e| panic!("{version} {how}: {e}"));
            let what = format!("format {version}, {how}");
            assert!(stats.skipped.is_empty(), "{what}: {:?}", stats.skipped);
            let mut names: Vec<String> = root.find("/").unwrap();
            names.sort();
            let mut want: Vec<String> = GuestRoot::open(&gnu).unwrap().find("/").unwrap();
            want.sort();
            assert_eq!(names, want, "{what}: the names");
            assert!(
                !names.iter().any(|n| n.contains("GNUSparseFile")),
                "{what}: {names:?}"
            );
            for name in names {
                let (a, b) = (src.join(&name), dst.join(&name));
                let (ma, mb) = (
                    std::fs::metadata(&a).unwrap(),
                    std::fs::metadata(&b).unwrap(),
                );
                if !ma.is_file() {
                    continue;
                }
                assert_eq!(mb.len(), ma.len(), "{what}: {name}: size");
                assert_eq!(data_of(&b), data_of(&a), "{what}: {name}: data and holes");
                assert_eq!(
                    data_of(&b),
                    data_of(&gnu.join(&name)),
                    "{what}: {name}: as GNU tar extracts it"
                );
                assert_eq!(mb.mtime(), ma.mtime(), "{what}: {name}: mtime");
                assert!(
                    mb.blocks() * 512 <= ma.blocks() * 512 + 65536,
                    "{what}: {name}: {} blocks, the source has {}",
                    mb.blocks(),
                    ma.blocks()
                );
            }
        }
    }
}

/// A PAX `x` header holding `records`.
fn pax(records: &[(&str, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (k, v) in records {
        let rest = 3 + k.len() + v.len();
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    let mut h = tar::Header::new_ustar();
    h.set_path("./PaxHeaders/f").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(data.len() as u64);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(&data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A ustar file entry `name` with `data` (padded).
fn member(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A format 1.0 entry: the map text in front of the data.
fn v1(real: u64, map: &str, stored: &[u8]) -> Vec<u8> {
    let mut data = map.as_bytes().to_vec();
    data.resize(data.len().div_ceil(512) * 512, 0);
    data.extend_from_slice(stored);
    [
        pax(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "./s"),
            ("GNU.sparse.realsize", &real.to_string()),
        ]),
        member("./GNUSparseFile.1/s", &data),
    ]
    .concat()
}

#[test]
fn hostile_pax_sparse_maps_are_refused_and_nothing_changes() {
    let env = TestEnv::new("pax-sparse-bad");
    let guest = env.path().join("guest");
    std::fs::create_dir(&guest).unwrap();
    let root = GuestRoot::open(&guest).unwrap();
    root.write("/pre-existing", b"keep\n").unwrap();
    let v00 =
        |records: &[(&str, &str)], stored: &[u8]| [pax(records), member("./s", stored)].concat();
    let many = format!("300000\n{}", "0\n0\n".repeat(4));
    let cases: Vec<(&str, Vec<u8>, ErrorKind, &str)> = vec![
        (
            "0.0 extent past the real size",
            v00(
                &[
                    ("GNU.sparse.size", "1000"),
                    ("GNU.sparse.numblocks", "1"),
                    ("GNU.sparse.offset", "990"),
                    ("GNU.sparse.numbytes", "20"),
                ],
                &[1; 20],
            ),
            ErrorKind::Corrupt,
            "sparse map: extent 990+20 runs past the real size 1000",
        ),
        (
            "0.0 offsets and sizes that do not pair",
            v00(
                &[
                    ("GNU.sparse.size", "1000"),
                    ("GNU.sparse.offset", "0"),
                    ("GNU.sparse.offset", "10"),
                    ("GNU.sparse.numbytes", "5"),
                ],
                &[1; 5],
            ),
            ErrorKind::Corrupt,
            "sparse map: GNU.sparse.offset and GNU.sparse.numbytes records do not pair up",
        ),
        (
            "0.1 overlapping extents",
            v00(
                &[
                    ("GNU.sparse.size", "100000"),
                    ("GNU.sparse.name", "./s"),
                    ("GNU.sparse.map", "4096,10,4000,10"),
                ],
                &[1; 20],
            ),
            ErrorKind::Corrupt,
            "sparse map: extent at 4000 overlaps or precedes the one before it",
        ),
        (
            "0.1 extents adding up to more than stored",
            v00(
                &[
                    ("GNU.sparse.size", "100000"),
                    ("GNU.sparse.map", "0,10,4096,10"),
                ],
                &[1; 12],
            ),
            ErrorKind::Corrupt,
            "sparse map: extents hold more than the 12 bytes stored",
        ),
        (
            "0.1 wrapping offset",
            v00(
                &[
                    ("GNU.sparse.size", "100000"),
                    ("GNU.sparse.map", "18446744073709551615,2"),
                ],
                &[1; 2],
            ),
            ErrorKind::Corrupt,
            "sparse map: extent 18446744073709551615+2 runs past the real size 100000",
        ),
        (
            "0.1 numblocks that disagree",
            v00(
                &[
                    ("GNU.sparse.size", "100000"),
                    ("GNU.sparse.numblocks", "3"),
                    ("GNU.sparse.map", "0,2"),
                ],
                &[1; 2],
            ),
            ErrorKind::Corrupt,
            "sparse map: GNU.sparse.numblocks says 3, the map has 1 entries",
        ),
        (
            "1.0 too many entries",
            v1(1 << 40, &many, &[]),
            ErrorKind::LimitExceeded,
            "sparse map of 300000 entries (the limit is 262144)",
        ),
        (
            "1.0 map longer than the data",
            // A whole block of map text, still short of its 400 numbers.
            v1(1 << 20, &format!("200\n{}", "0\n".repeat(254)), &[]),
            ErrorKind::Corrupt,
            "sparse map: the map runs past the data stored",
        ),
        (
            "1.0 garbage in the map",
            v1(1 << 20, "1\n0\nx\n", &[0; 512]),
            ErrorKind::Corrupt,
            "sparse map: malformed map in the data",
        ),
        (
            "1.0 real size out of range",
            v1(u64::MAX, "0\n", &[]),
            ErrorKind::Corrupt,
            "sparse map: real size 18446744073709551615 is more than a file can have",
        ),
        (
            "format 2.0",
            [
                pax(&[
                    ("GNU.sparse.major", "2"),
                    ("GNU.sparse.minor", "0"),
                    ("GNU.sparse.realsize", "10"),
                ]),
                member("./GNUSparseFile.1/s", &[0; 512]),
            ]
            .concat(),
            ErrorKind::Unsupported,
            "pax sparse format 2.0 is not supported (0.0, 0.1 and 1.0 are)",
        ),
        (
            "no real size",
            v00(&[("GNU.sparse.map", "0,2")], &[1; 2]),
            ErrorKind::Corrupt,
            "sparse map: pax sparse file without its real size",
        ),
    ];
    for (label, bad, kind, msg) in cases {
        let data = RawTar::default()
            .dir("./good/")
            .file("./good/file", b"before\n")
            .raw(&bad)
            .finish();
        let before = tree_hash(&guest);
        let path = env.path().join("bad.tar");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let e = tar_in(&root, &path, "/", &TarInOptions::default())
            .expect_err(&format!("{label}: must be refused"));
        assert_eq!(e.kind(), kind, "{label}: {e}");
        assert_eq!(
            e.to_string(),
            format!("tar_in: {}: {msg}", path.display()),
            "{label}"
        );
        assert_eq!(tree_hash(&guest), before, "{label}: the guest changed");
        // The stream says the same, at the same entry.
        let e = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), format!("tar_in: /: {msg}"), "{label}");
        assert!(!guest.join("s").exists(), "{label}");
        root.rm_rf("/good").unwrap();
    }
}

#[test]
fn a_crafted_format_1_0_file_lands_at_its_offsets() {
    let env = TestEnv::new("pax-sparse-v1");
    let root = GuestRoot::open(env.path()).unwrap();
    // Two extents, a 1 TiB real size: the work is what is stored.
    let stored: Vec<u8> = [vec![b'a'; 700], vec![b'b'; 300]].concat();
    let data = RawTar::default()
        .raw(&v1(1 << 40, "2\n4096\n700\n1099511627000\n300\n", &stored))
        .finish();
    let stats = tar_in_from(&root, &data[..], "/", &TarInOptions::default()).unwrap();
    assert_eq!(stats.entries, 1);
    let path = env.path().join("s");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 40);
    let f = std::fs::File::open(&path).unwrap();
    let mut b = vec![0u8; 700];
    f.read_exact_at(&mut b, 4096).unwrap();
    assert_eq!(b, vec![b'a'; 700]);
    let mut b = vec![0u8; 300];
    f.read_exact_at(&mut b, 1_099_511_627_000).unwrap();
    assert_eq!(b, vec![b'b'; 300]);
    assert!(std::fs::metadata(&path).unwrap().blocks() * 512 < 1 << 20);
}
