//! `tar_out_source`: a [`TarSource`] (here a host directory read by path, as
//! the in-process readers are) archives byte for byte as `tar_out` archives
//! the same tree through a `GuestRoot`, with every kind of entry the fixture
//! has (long and unicode names, symlinks, hard links, set-id bits, empty
//! directories, a large file; FIFO, device and other owners as root); options
//! it cannot honour, and bad directories, are refused before anything is
//! written.

mod common;

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vmcraft_archive::{
    Compression, ErrorKind, GuestRoot, SourceStat, TarOutOptions, TarSource, tar_out,
    tar_out_source,
};

/// A host directory as a tree read by path. Test-only: it joins guest paths
/// onto a host path, which the library never does.
struct HostDir(PathBuf);

impl HostDir {
    fn host(&self, path: &str) -> PathBuf {
        self.0.join(path.trim_start_matches('/'))
    }
}

fn to_stat(m: std::fs::Metadata) -> SourceStat {
    SourceStat {
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec() as u32,
        rdev: m.rdev(),
        nlink: m.nlink(),
        dev: m.dev(),
        ino: m.ino(),
    }
}

impl TarSource for HostDir {
    fn lstat(&self, path: &str) -> io::Result<SourceStat> {
        std::fs::symlink_metadata(self.host(path)).map(to_stat)
    }
    fn stat(&self, path: &str) -> io::Result<SourceStat> {
        std::fs::metadata(self.host(path)).map(to_stat)
    }
    fn resolve(&self, path: &str) -> io::Result<String> {
        // The fixture's directories are reached without symlinks.
        Ok(if path.is_empty() {
            "/".into()
        } else {
            path.into()
        })
    }
    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        std::fs::read_dir(self.host(path))?
            .map(|e| Ok(e?.file_name().into_string().expect("UTF-8 names")))
            .collect()
    }
    fn readlink(&self, path: &str) -> io::Result<Vec<u8>> {
        use std::os::unix::ffi::OsStringExt;
        Ok(std::fs::read_link(self.host(path))?
            .into_os_string()
            .into_vec())
    }
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        std::fs::File::open(self.host(path))?.read_at(buf, offset)
    }
}

fn same_archive(src: &HostDir, root: &GuestRoot, dir: &str, opts: &TarOutOptions, out: &Path) {
    let (a, b) = (out.join("source.tar"), out.join("root.tar"));
    let sa = tar_out_source(src, dir, &a, opts).unwrap();
    let sb = tar_out(root, dir, &b, opts).unwrap();
    assert_eq!(sa, sb, "{dir}: stats");
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "{dir}: the archives differ"
    );
}

#[test]
fn a_source_archives_as_the_guest_root_does() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let root = GuestRoot::open(&tree).unwrap();
    let privileged = rustix::process::geteuid().is_root();
    common::build_tree(&root, privileged);
    root.mkdir_p("/etc", 0o755).unwrap();
    root.write(
        "/etc/passwd",
        b"root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/:/bin/sh\n",
    )
    .unwrap();
    root.write("/etc/group", b"root:x:0:\nstaff:x:50:\n")
        .unwrap();
    let src = HostDir(tree.clone());
    let out = dir.path();
    same_archive(&src, &root, "/", &TarOutOptions::default(), out);
    let numeric = TarOutOptions {
        numeric_owner: true,
        excludes: vec!["*.txt".into(), "hard-*".into()],
        compress: Compression::Gzip,
        ..Default::default()
    };
    same_archive(&src, &root, "/etc", &numeric, out);
    let xz = TarOutOptions {
        compress: Compression::Xz,
        ..Default::default()
    };
    same_archive(&src, &root, "/", &xz, out);
}

#[test]
fn what_a_source_cannot_do_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("file"), b"x").unwrap();
    let src = HostDir(tree);
    let tarfile = dir.path().join("old.tar");
    std::fs::write(&tarfile, b"the earlier archive").unwrap();
    let refused = |dir: &str, opts: TarOutOptions| {
        let e = tar_out_source(&src, dir, &tarfile, &opts).unwrap_err();
        assert_eq!(std::fs::read(&tarfile).unwrap(), b"the earlier archive");
        e
    };
    for opts in [
        TarOutOptions {
            xattrs: true,
            ..Default::default()
        },
        TarOutOptions {
            acls: true,
            ..Default::default()
        },
        TarOutOptions {
            selinux: true,
            ..Default::default()
        },
    ] {
        let e = refused("/", opts);
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("not read from this tree"), "{e}");
    }
    let e = refused("/missing", TarOutOptions::default());
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = refused("/file", TarOutOptions::default());
    assert_eq!(e.kind(), ErrorKind::WrongType, "{e}");
    assert_eq!(e.to_string(), "tar_out: /file: not a directory");
}

/// A hostile tree: `/a/back` is `/` again (a directory inode linked twice),
/// or, without inode numbers, every directory holds another, without end.
struct Looping {
    numbered: bool,
}

impl TarSource for Looping {
    fn lstat(&self, path: &str) -> io::Result<SourceStat> {
        let ino = match (self.numbered, path.rsplit('/').next().unwrap_or("")) {
            (false, _) => 0,
            (true, "" | "back") => 2,
            (true, _) => 3,
        };
        Ok(SourceStat {
            mode: 0o040755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            rdev: 0,
            nlink: 2,
            dev: 1,
            ino,
        })
    }
    fn stat(&self, path: &str) -> io::Result<SourceStat> {
        self.lstat(path)
    }
    fn resolve(&self, path: &str) -> io::Result<String> {
        Ok(path.to_string())
    }
    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        Ok(vec![
            if path.ends_with("/a") { "back" } else { "a" }.to_string(),
        ])
    }
    fn readlink(&self, _path: &str) -> io::Result<Vec<u8>> {
        Err(io::Error::from_raw_os_error(22))
    }
    fn read_at(&self, _path: &str, _offset: u64, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

#[test]
fn a_directory_loop_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let tarfile = dir.path().join("out.tar");
    for (numbered, want) in [
        (
            true,
            "./a/back: directory inode 2 is reached twice (a directory loop)",
        ),
        (false, "deeper than 256 levels (a directory loop?)"),
    ] {
        let e = tar_out_source(
            &Looping { numbered },
            "/",
            &tarfile,
            &TarOutOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        assert!(e.to_string().contains(want), "{e}");
        assert!(!tarfile.exists(), "no archive is left");
    }
}

/// A hostile tree of one file, `/f`, that lies in the way `case` says.
struct Lying {
    case: &'static str,
}

impl TarSource for Lying {
    fn lstat(&self, path: &str) -> io::Result<SourceStat> {
        let dir = path == "/";
        if !dir && self.case == "vanishes" {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(SourceStat {
            mode: if dir { 0o040755 } else { 0o100644 },
            uid: 0,
            gid: 0,
            size: if dir { 0 } else { 1 << 40 },
            mtime: 0,
            mtime_nsec: 0,
            rdev: 0,
            nlink: 1,
            dev: 1,
            ino: if dir { 2 } else { 12 },
        })
    }
    fn stat(&self, path: &str) -> io::Result<SourceStat> {
        self.lstat(path)
    }
    fn resolve(&self, path: &str) -> io::Result<String> {
        Ok(path.to_string())
    }
    fn read_dir(&self, _path: &str) -> io::Result<Vec<String>> {
        Ok(vec![
            if self.case == "path name" {
                "../etc/passwd"
            } else {
                "f"
            }
            .to_string(),
        ])
    }
    fn readlink(&self, _path: &str) -> io::Result<Vec<u8>> {
        Err(io::Error::from_raw_os_error(22))
    }
    fn read_at(&self, _path: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        // A terabyte by its metadata, 100 bytes of data.
        let n = 100u64.saturating_sub(offset).min(buf.len() as u64) as usize;
        buf[..n].fill(b'x');
        Ok(n)
    }
}

#[test]
fn lies_of_a_hostile_tree_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tarfile = dir.path().join("out.tar");
    for (case, want) in [
        (
            "size",
            "./f: 1099511627776 bytes by its metadata, only 100 could be read",
        ),
        ("path name", "Structure needs cleaning"),
        (
            "vanishes",
            "./f: listed in its directory but not found there",
        ),
    ] {
        let e =
            tar_out_source(&Lying { case }, "/", &tarfile, &TarOutOptions::default()).unwrap_err();
        // The message with its cause, as the command line prints it.
        let full = match std::error::Error::source(&e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        };
        assert!(full.contains(want), "{case}: {full}");
        assert!(!tarfile.exists(), "{case}: no archive is left");
    }
}
