//! `tar_out` writes POSIX pax, as GNU tar's `--format=posix` does: ustar
//! headers, and a pax extended header (`x`, named `%d/PaxHeaders/%f`) for what
//! does not fit in one: long and non-ASCII names and link targets, uids and
//! gids over 2^21 - 1, sizes over 8 GiB - 1, sub-second mtimes and mtimes
//! before 1970 (`mtime=-315619199.5`) or after 2242, and xattrs
//! (`SCHILY.xattr.*`). No GNU `L`/`K` long-name entries, no `././@PaxHeader`.
//!
//! The oracle is GNU tar on the same tree: `tar --format=posix --sort=name`
//! archives compared header by header (GNU tar's `atime` and `ctime` records
//! aside, which `tar_out` does not write), `tar -tv --full-time` listings
//! compared line by line, and `tar --xattrs -x` of our archive compared with the
//! source tree, mtimes to the nanosecond (and our own `tar_in` likewise).

mod common;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{Snap, assert_same, snapshot};
use vmcraft_archive::{GuestRoot, TarInOptions, TarOutOptions, tar_in, tar_out, tar_out_to};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// The records of a pax extended header, by key.
type Records = BTreeMap<Vec<u8>, Vec<u8>>;

/// One member of a tar stream as stored: its extended header (if any) with
/// its records, and its own header.
#[derive(Debug)]
struct Member {
    extended: Option<([u8; 512], Records)>,
    header: [u8; 512],
}

fn octal(field: &[u8]) -> u64 {
    let s = std::str::from_utf8(field).unwrap();
    let s = s.trim_matches(|c| c == '\0' || c == ' ');
    if s.is_empty() {
        0
    } else {
        u64::from_str_radix(s, 8).unwrap_or_else(|e| panic!("{field:?}: {e}"))
    }
}

fn parse_records(mut data: &[u8]) -> Records {
    let mut out = BTreeMap::new();
    while !data.is_empty() {
        let sp = data.iter().position(|&b| b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&data[..sp]).unwrap().parse().unwrap();
        let rec = &data[sp + 1..len - 1];
        assert_eq!(data[len - 1], b'\n');
        let eq = rec.iter().position(|&b| b == b'=').unwrap();
        out.insert(rec[..eq].to_vec(), rec[eq + 1..].to_vec());
        data = &data[len..];
    }
    out
}

/// Every member of a plain tar stream, up to its end (or as far as `data`
/// goes: only whole headers are returned).
fn members(data: &[u8]) -> Vec<Member> {
    let mut out = Vec::new();
    let mut off = 0;
    let mut pending = None;
    while off + 512 <= data.len() {
        let h: [u8; 512] = data[off..off + 512].try_into().unwrap();
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size = octal(&h[124..136]);
        let padded = size.div_ceil(512) as usize * 512;
        match h[156] {
            b'x' => {
                let recs = parse_records(&data[off + 512..off + 512 + size as usize]);
                pending = Some((h, recs));
                off += 512 + padded;
            }
            b'L' | b'K' | b'g' => panic!("unexpected header type {:?}", h[156] as char),
            kind => {
                let size = match &pending {
                    Some((_, r)) if r.contains_key(b"size".as_slice()) => {
                        String::from_utf8_lossy(&r[b"size".as_slice()])
                            .parse()
                            .unwrap()
                    }
                    _ => size,
                };
                out.push(Member {
                    extended: pending.take(),
                    header: h,
                });
                off += 512;
                if kind == b'0' {
                    off += size.div_ceil(512) as usize * 512;
                }
            }
        }
    }
    out
}

fn run_tar(args: &[&str]) -> std::process::Output {
    std::process::Command::new("tar")
        .args(args)
        .output()
        .expect("run tar")
}

fn tar_ok(args: &[&str]) -> String {
    let o = run_tar(args);
    assert!(
        o.status.success(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Set a path's times (not following a symlink) to `sec` + `nsec`.
fn set_time(path: &Path, sec: i64, nsec: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("utimensat {}: {e}", path.display()));
}

fn mknod(path: &Path, t: rustix::fs::FileType, major: u32, minor: u32) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        t,
        rustix::fs::Mode::from_raw_mode(0o640),
        rustix::fs::makedev(major, minor),
    )
    .unwrap();
}

const LONG_DIR: &str =
    "a-directory-whose-name-is-long-enough-that-paths-below-it-pass-one-hundred-bytes";

/// A tree with everything that needs an extended header, and a few entries
/// that need none; every time fixed.
fn pax_tree(dir: &Path) -> BTreeMap<String, (i64, i64)> {
    use std::fs;
    let long = dir.join(LONG_DIR);
    fs::create_dir(&long).unwrap();
    let long_file = long.join("f".repeat(60));
    fs::write(&long_file, b"long name\n").unwrap();
    // A hard link whose first name is long: a long link target.
    fs::hard_link(&long_file, dir.join("hard")).unwrap();
    std::os::unix::fs::symlink(
        format!("{LONG_DIR}/{}", "f".repeat(60)),
        dir.join("long-link"),
    )
    .unwrap();
    fs::write(dir.join("ünïcødé"), "unicode\n").unwrap();
    std::os::unix::fs::symlink("ünïcødé", dir.join("to-unicode")).unwrap();
    fs::write(dir.join("big-ids"), b"ids\n").unwrap();
    std::os::unix::fs::chown(dir.join("big-ids"), Some(3_000_000), Some(3_000_001)).unwrap();
    fs::write(dir.join("small-ids"), b"ids\n").unwrap();
    std::os::unix::fs::chown(dir.join("small-ids"), Some(2_097_151), Some(1000)).unwrap();
    fs::write(dir.join("xattr"), b"x\n").unwrap();
    xattr::set(dir.join("xattr"), "user.comment", b"hello\nworld").unwrap();
    fs::create_dir(dir.join("dir")).unwrap();
    fs::write(dir.join("dir/plain"), b"plain\n").unwrap();
    mknod(&dir.join("fifo"), rustix::fs::FileType::Fifo, 0, 0);
    mknod(
        &dir.join("null"),
        rustix::fs::FileType::CharacterDevice,
        1,
        3,
    );
    mknod(&dir.join("loop"), rustix::fs::FileType::BlockDevice, 7, 0);
    for name in [
        "subsecond",
        "before-1970",
        "before-1970-whole",
        "after-2242",
    ] {
        fs::write(dir.join(name), name.as_bytes()).unwrap();
    }
    let mut times = BTreeMap::new();
    let mut all: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            all.push(p);
        }
    }
    // Deepest first, so that setting a file's time does not move its
    // directory's afterwards.
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    all.push(dir.to_path_buf());
    for p in all {
        let rel = p.strip_prefix(dir).unwrap().display().to_string();
        let (sec, nsec) = match rel.as_str() {
            "subsecond" => (1_577_836_800, 123_456_789),
            // 1960-01-01 00:00:00.5 UTC.
            "before-1970" => (-315_619_200, 500_000_000),
            "before-1970-whole" => (-100, 0),
            "after-2242" => (9_999_999_999, 0),
            "dir" => (1_600_000_000, 250_000_000),
            _ => (1_600_000_000, 0),
        };
        set_time(&p, sec, nsec);
        times.insert(if rel.is_empty() { ".".into() } else { rel }, (sec, nsec));
    }
    times
}

/// (seconds, nanoseconds) of every entry's mtime, symlinks aside (extraction
/// does not keep theirs, for GNU tar as for us).
fn mtimes(dir: &Path) -> BTreeMap<String, (i64, i64)> {
    snapshot(dir, Snap::ALL)
        .into_iter()
        .filter(|(_, n)| n.kind != 'l')
        .map(|(p, _)| {
            let m = std::fs::symlink_metadata(dir.join(&p)).unwrap();
            (p, (m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

#[test]
fn tar_out_writes_posix_pax_as_gnu_tar_does() {
    if !require_root("owners over 2^21 and device nodes") || !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("pax-out");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let times = pax_tree(&src);
    let root = GuestRoot::open(&src).unwrap();
    let ours = env.path().join("ours.tar");
    let opts = TarOutOptions {
        xattrs: true,
        special_files: true,
        numeric_owner: true,
        ..Default::default()
    };
    tar_out(&root, "/", &ours, &opts).unwrap();
    let gnu = env.path().join("gnu.tar");
    tar_ok(&[
        "--format=posix",
        "--sort=name",
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=*",
        "-cf",
        gnu.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        ".",
    ]);
    let (a, b) = (std::fs::read(&ours).unwrap(), std::fs::read(&gnu).unwrap());
    let (ours_m, gnu_m) = (members(&a), members(&b));
    assert_eq!(ours_m.len(), gnu_m.len());
    for (o, g) in ours_m.iter().zip(&gnu_m) {
        let name = String::from_utf8_lossy(&o.header[..100]).into_owned();
        // The entry's own header: byte for byte, checksum included.
        assert_eq!(
            o.header.to_vec(),
            g.header.to_vec(),
            "{name}: ustar header differs from GNU tar's"
        );
        // Its extended header: the same records (GNU tar's atime and ctime
        // aside); named, moded, owned and dated the same.
        let mut g_records = g.extended.as_ref().map(|x| x.1.clone()).unwrap_or_default();
        g_records.remove(b"atime".as_slice());
        g_records.remove(b"ctime".as_slice());
        let o_records = o.extended.as_ref().map(|x| x.1.clone()).unwrap_or_default();
        assert_eq!(o_records, g_records, "{name}: pax records");
        if let (Some((ox, _)), Some((gx, _))) = (&o.extended, &g.extended) {
            for (what, range) in [
                ("name", 0..100),
                ("mode", 100..108),
                ("uid", 108..116),
                ("gid", 116..124),
                ("mtime", 136..148),
                ("type", 156..157),
                ("magic", 257..265),
                ("owner names", 265..329),
                ("device numbers", 329..345),
            ] {
                assert_eq!(ox[range.clone()], gx[range], "{name}: x header {what}");
            }
        } else {
            assert!(
                o.extended.is_none(),
                "{name}: an extended header not needed"
            );
        }
    }
    // What needed a record has one.
    let rec = |m: &Member, key: &str| {
        m.extended
            .as_ref()
            .and_then(|(_, r)| r.get(key.as_bytes()).cloned())
            .map(|v| String::from_utf8(v).unwrap())
    };
    let by_name = |name: &str| {
        ours_m
            .iter()
            .find(|m| {
                rec(m, "path").as_deref() == Some(name)
                    || m.header[..100].split(|&b| b == 0).next() == Some(name.as_bytes())
            })
            .unwrap_or_else(|| panic!("{name} not archived"))
    };
    assert_eq!(
        rec(by_name("./before-1970"), "mtime").as_deref(),
        Some("-315619199.5")
    );
    assert_eq!(
        rec(by_name("./before-1970-whole"), "mtime").as_deref(),
        Some("-100")
    );
    assert_eq!(
        rec(by_name("./after-2242"), "mtime").as_deref(),
        Some("9999999999")
    );
    assert_eq!(
        rec(by_name("./subsecond"), "mtime").as_deref(),
        Some("1577836800.123456789")
    );
    assert_eq!(rec(by_name("./big-ids"), "uid").as_deref(), Some("3000000"));
    assert_eq!(rec(by_name("./big-ids"), "gid").as_deref(), Some("3000001"));
    assert!(by_name("./small-ids").extended.is_none(), "2^21 - 1 fits");
    assert_eq!(
        rec(by_name("./hard"), "linkpath").as_deref(),
        Some(format!("./{LONG_DIR}/{}", "f".repeat(60)).as_str())
    );
    assert_eq!(
        rec(by_name("./xattr"), "SCHILY.xattr.user.comment").as_deref(),
        Some("hello\nworld")
    );
    assert!(by_name("./dir/plain").extended.is_none());

    // GNU tar lists both archives alike.
    let list = |p: &Path| {
        tar_ok(&[
            "-tv",
            "--full-time",
            "--numeric-owner",
            "-f",
            p.to_str().unwrap(),
        ])
    };
    assert_eq!(list(&ours), list(&gnu));
    let listing = list(&ours);
    // (GNU tar 1.34 lists a negative time with a fraction a second late,
    // `1960-01-01 00:00:01.5`, while it extracts it right: mtimes are
    // checked on the extracted files below.)
    for line in [
        "-rw-r--r-- 0/0 17 1969-12-31 23:58:20 ./before-1970-whole",
        "-rw-r--r-- 0/0 10 2286-11-20 17:46:39 ./after-2242",
        "-rw-r--r-- 0/0 9 2020-01-01 00:00:00.123456789 ./subsecond",
        "-rw-r--r-- 3000000/3000001 4 2020-09-13 12:26:40 ./big-ids",
        "prw-r----- 0/0 0 2020-09-13 12:26:40 ./fifo",
        "crw-r----- 0/0 1,3 2020-09-13 12:26:40 ./null",
        "brw-r----- 0/0 7,0 2020-09-13 12:26:40 ./loop",
    ] {
        let want: Vec<&str> = line.split_whitespace().collect();
        assert!(
            listing
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == want),
            "{line:?} not in\n{listing}"
        );
    }

    // GNU tar extracts it as it was: names, kinds, modes, owners, sizes,
    // contents, xattrs, hard links, symlinks, and mtimes to the nanosecond.
    let x = env.path().join("x");
    std::fs::create_dir(&x).unwrap();
    tar_ok(&[
        "--xattrs",
        "--xattrs-include=*",
        "--numeric-owner",
        "-xf",
        ours.to_str().unwrap(),
        "-C",
        x.to_str().unwrap(),
    ]);
    assert_same(
        &snapshot(&src, Snap::ALL),
        &snapshot(&x, Snap::ALL),
        "tar_out -> tar -x",
    );
    let got = mtimes(&x);
    for (path, want) in &times {
        if let Some(t) = got.get(path) {
            assert_eq!(t, want, "{path}: mtime");
        }
    }
    assert_eq!(got["before-1970"], (-315_619_200, 500_000_000));
    assert_eq!(got["dir"], (1_600_000_000, 250_000_000));

    // And so does our own tar_in.
    let y = env.path().join("y");
    std::fs::create_dir(&y).unwrap();
    let yroot = GuestRoot::open(&y).unwrap();
    let in_opts = TarInOptions {
        xattrs: true,
        ..Default::default()
    };
    let stats = tar_in(&yroot, &ours, "/", &in_opts).unwrap();
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    assert_same(
        &snapshot(&src, Snap::ALL),
        &snapshot(&y, Snap::ALL),
        "tar_out -> tar_in",
    );
    assert_eq!(mtimes(&y), got, "tar_in and GNU tar agree on mtimes");
}

/// A writer that keeps the first `keep` bytes and then refuses to take more.
struct Head {
    data: Vec<u8>,
    keep: usize,
}

impl Write for Head {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.data.len() >= self.keep {
            return Err(io::Error::other("enough"));
        }
        let n = buf.len().min(self.keep - self.data.len());
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn sizes_over_8_gib_go_to_a_size_record() {
    if !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("pax-out-big");
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let size: u64 = 9 << 30;
    let f = std::fs::File::create(src.join("big")).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    set_time(&src.join("big"), 1_600_000_000, 0);
    set_time(&src, 1_600_000_000, 0);
    let root = GuestRoot::open(&src).unwrap();
    // The headers are all that matters: the writer stops taking data after
    // them, which fails the call.
    let mut head = Head {
        data: Vec::new(),
        keep: 64 << 10,
    };
    let opts = TarOutOptions {
        numeric_owner: true,
        ..Default::default()
    };
    let e = tar_out_to(&root, "/", &mut head, &opts).unwrap_err();
    assert!(e.to_string().starts_with("tar_out: /: "), "{e}");
    let ours = members(&head.data);
    let big = &ours[1];
    let (_, records) = big.extended.as_ref().expect("an extended header");
    assert_eq!(records[b"size".as_slice()], b"9663676416");
    assert_eq!(&big.header[124..136], b"00000000000\0", "size field");

    // GNU tar's header of the same file (only its beginning is read).
    let gnu = env.path().join("gnu-head.tar");
    let sh = format!(
        "tar --format=posix --numeric-owner -cf - -C '{}' ./big | head -c 65536 > '{}'",
        src.display(),
        gnu.display()
    );
    let st = std::process::Command::new("sh")
        .args(["-c", &sh])
        .status()
        .unwrap();
    assert!(st.success());
    let g = members(&std::fs::read(&gnu).unwrap());
    let mut g_records = g[0].extended.as_ref().unwrap().1.clone();
    g_records.remove(b"atime".as_slice());
    g_records.remove(b"ctime".as_slice());
    assert_eq!(records, &g_records);
    assert_eq!(big.header.to_vec(), g[0].header.to_vec());

    // GNU tar reads the size from it (the listing stops at the cut).
    let cut = env.path().join("ours-head.tar");
    std::fs::write(&cut, &head.data).unwrap();
    let o = run_tar(&["-tvf", cut.to_str().unwrap()]);
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(
        listing.contains(" 9663676416 2020-09-13 12:26 ./big"),
        "{listing}"
    );
}
