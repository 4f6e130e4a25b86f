//! Shared helpers of the vmcraft-fs integration tests: snapshots of a guest tree
//! through [`GuestTree`] (so the in-process readers and the kernel-mounted
//! `GuestRoot` are looked at through the same calls), their comparison field by
//! field, tools run with their output checked, and a mount that is undone on
//! drop.

#![allow(dead_code)]

pub mod images;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use vmcraft_fs::{ErrorKind, FileType, GuestTree, Stat, WalkLimits, walk};

/// What a snapshot keeps of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub stat: Stat,
    /// A symlink's target.
    pub link: Option<String>,
    /// A regular file's SHA-256.
    pub sha256: Option<String>,
    /// Extended attributes, `name=hex`.
    pub xattrs: Vec<String>,
}

/// Every path of `tree` with its `lstat`, link target, content hash and
/// extended attributes (`user.*` and `trusted.*` only: `security.*` differs by
/// host policy).
pub fn snapshot(tree: &dyn GuestTree) -> BTreeMap<String, Node> {
    snapshot_except(tree, "")
}

/// [`snapshot`] without the path `skip`.
pub fn snapshot_except(tree: &dyn GuestTree, skip: &str) -> BTreeMap<String, Node> {
    let mut paths = Vec::new();
    walk(tree, "/", WalkLimits::default(), &mut |p, st| {
        if p != skip {
            paths.push((p.to_string(), *st));
        }
        Ok(())
    })
    .expect("walk the tree");
    let mut out = BTreeMap::new();
    for (p, st) in paths {
        let link = st
            .is_symlink()
            .then(|| tree.readlink(&p).expect("readlink"));
        let sha256 = st.is_file().then(|| {
            let data = tree.read_file(&p, 256 << 20).expect("read_file");
            assert_eq!(data.len() as u64, st.size, "{p}: bytes read vs size");
            hex(&Sha256::digest(&data))
        });
        let xattrs = match tree.lgetxattrs(&p) {
            Ok(x) => x,
            Err(e) if e.kind() == ErrorKind::Unsupported => Vec::new(),
            Err(e) => panic!("lgetxattrs: {e}"),
        };
        let xattrs = xattrs
            .into_iter()
            .filter(|x| x.name.starts_with("user.") || x.name.starts_with("trusted."))
            .map(|x| format!("{}={}", x.name, hex(&x.value)))
            .collect();
        out.insert(
            p,
            Node {
                stat: st,
                link,
                sha256,
                xattrs,
            },
        );
    }
    out
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for x in b {
        write!(s, "{x:02x}").unwrap();
    }
    s
}

/// Which fields two snapshots must agree on.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub modes: bool,
    pub owners: bool,
    pub atime: bool,
    /// Compare `ino`, `nlink`, `blocks`, `ctime`, `rdev` where both sides know them.
    pub optional: bool,
    pub xattrs: bool,
    /// Compare directory sizes.
    pub dir_size: bool,
}

impl Fields {
    pub const ALL: Fields = Fields {
        modes: true,
        owners: true,
        atime: true,
        optional: true,
        xattrs: true,
        dir_size: true,
    };
}

fn both<T: PartialEq + std::fmt::Debug>(a: Option<T>, b: Option<T>) -> Option<(T, T)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    }
}

/// Assert that two snapshots hold the same paths with the same fields; the
/// message lists every difference.
pub fn assert_same(what: &str, a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>, f: Fields) {
    let mut diffs = Vec::new();
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    if ka != kb {
        diffs.push(format!("paths differ:\n  {ka:?}\n  {kb:?}"));
    }
    for (p, x) in a {
        let Some(y) = b.get(p) else { continue };
        let (s, t) = (&x.stat, &y.stat);
        let mut d = |name: &str, l: String, r: String| {
            if l != r {
                diffs.push(format!("{p}: {name}: {l} != {r}"));
            }
        };
        if f.modes {
            d("mode", format!("{:o}", s.mode), format!("{:o}", t.mode));
        } else {
            d(
                "type",
                format!("{:?}", s.file_type()),
                format!("{:?}", t.file_type()),
            );
        }
        if s.file_type() != FileType::Directory || f.dir_size {
            d("size", s.size.to_string(), t.size.to_string());
        }
        d("mtime", format!("{:?}", s.mtime), format!("{:?}", t.mtime));
        if f.atime {
            d("atime", format!("{:?}", s.atime), format!("{:?}", t.atime));
        }
        if f.owners {
            d("uid", s.uid.to_string(), t.uid.to_string());
            d("gid", s.gid.to_string(), t.gid.to_string());
        }
        if f.optional {
            if let Some((l, r)) = both(s.ino, t.ino) {
                d("ino", l.to_string(), r.to_string());
            }
            if let Some((l, r)) = both(s.nlink, t.nlink) {
                d("nlink", l.to_string(), r.to_string());
            }
            if let Some((l, r)) = both(s.blocks, t.blocks) {
                d("blocks", l.to_string(), r.to_string());
            }
            if let Some((l, r)) = both(s.ctime, t.ctime) {
                d("ctime", format!("{l:?}"), format!("{r:?}"));
            }
            if matches!(s.file_type(), FileType::CharDevice | FileType::BlockDevice)
                && let Some((l, r)) = both(s.rdev, t.rdev)
            {
                d("rdev", l.to_string(), r.to_string());
            }
        }
        d("link", format!("{:?}", x.link), format!("{:?}", y.link));
        d(
            "sha256",
            format!("{:?}", x.sha256),
            format!("{:?}", y.sha256),
        );
        if f.xattrs {
            d(
                "xattrs",
                format!("{:?}", x.xattrs),
                format!("{:?}", y.xattrs),
            );
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Run a tool; panic with its output when it fails. Returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A mount undone on drop (`umount`, then the mount point removed).
pub struct Mount {
    pub dir: PathBuf,
}

impl Mount {
    /// `mount -o OPTS [-t TYPE] SOURCE DIR` (DIR is created).
    pub fn new(source: &Path, dir: PathBuf, fstype: Option<&str>, opts: &str) -> Mount {
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = Command::new("mount");
        if let Some(t) = fstype {
            c.args(["-t", t]);
        }
        c.args(["-o", opts]).arg(source).arg(&dir);
        run(&mut c);
        Mount { dir }
    }

    /// `ntfs-3g [-o OPTS] IMAGE DIR` (a FUSE mount of an image file).
    pub fn ntfs3g(image: &Path, dir: PathBuf, opts: &str) -> Mount {
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("ntfs-3g")
            .args(["-o", opts])
            .arg(image)
            .arg(&dir));
        Mount { dir }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Set a path's atime and mtime (not following symlinks), to the nanosecond.
pub fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let ts = [
        libc::timespec {
            tv_sec: atime.0,
            tv_nsec: atime.1,
        },
        libc::timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    ];
    // SAFETY: a valid NUL-terminated path and a two-element timespec array.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(
        r,
        0,
        "utimensat {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Change a path's owner without following symlinks.
pub fn lchown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

/// Every path of every filesystem of an image read in-process, one line each
/// (`PATH TYPE MODE UID GID SIZE MTIME SHA256|->TARGET`), under a header line
/// per filesystem: what the unprivileged test compares.
pub fn dump_image(image: &Path) -> String {
    use std::sync::Arc;
    use vmcraft_fs::{ReadAt, Window, list_filesystems, open_fs, open_image};
    let disk = open_image(image).expect("open_image");
    let mut out = String::new();
    for found in list_filesystems(&*disk).expect("list_filesystems") {
        let part: Arc<dyn ReadAt> =
            Arc::new(Window::new(disk.clone(), found.offset, found.len).unwrap());
        let fs = open_fs(part).expect("open_fs");
        writeln!(
            out,
            "# partition {:?} {}",
            found.partition,
            found.fs_type.map(|t| t.name()).unwrap_or("-")
        )
        .unwrap();
        for (p, n) in snapshot(&*fs) {
            let st = n.stat;
            let tail = match (&n.link, &n.sha256) {
                (Some(l), _) => format!("->{l}"),
                (_, Some(h)) => h.clone(),
                _ => "-".to_string(),
            };
            writeln!(
                out,
                "{p}\t{:?}\t{:o}\t{}\t{}\t{}\t{}.{:09}\t{tail}",
                st.file_type(),
                st.mode,
                st.uid,
                st.gid,
                st.size,
                st.mtime.sec,
                st.mtime.nsec
            )
            .unwrap();
        }
    }
    out
}
