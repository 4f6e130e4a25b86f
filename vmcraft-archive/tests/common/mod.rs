//! Shared test helpers: the round-trip fixture tree, tree snapshots for
//! comparisons, sentinel trees outside a guest root, and raw tar building for
//! crafted (malicious) archives.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vmcraft_archive::GuestRoot;

/// Names used by the fixture.
pub const LONG_DIR: &str =
    "a-directory-name-that-is-quite-long-on-purpose-to-push-paths-over-one-hundred-bytes";
pub const UNICODE: &str = "ünïcødé-名前-😀";

/// Build the round-trip tree in `root`: long names, unicode, symlinks (absolute,
/// relative, dangling, long target), hard links, setuid/sticky bits, empty
/// directories, xattrs, a 64 MiB sparse-ish file; with `privileged`, a FIFO, a
/// device node and owners other than root.
pub fn build_tree(root: &GuestRoot, privileged: bool) {
    root.mkdir_p("/etc/app", 0o755).unwrap();
    root.write("/etc/app/conf", b"key = value\n").unwrap();
    root.write("/etc/hostname", b"guest\n").unwrap();
    root.mkdir_p("/empty/nested-empty", 0o700).unwrap();
    let long = format!("/{LONG_DIR}/{LONG_DIR}");
    root.mkdir_p(&long, 0o755).unwrap();
    root.write(format!("{long}/{}", "f".repeat(200)), b"long name\n")
        .unwrap();
    root.mkdir(format!("/{UNICODE}"), 0o755).unwrap();
    root.write(
        format!("/{UNICODE}/файл.txt"),
        "unicode content ✓\n".as_bytes(),
    )
    .unwrap();
    root.ln_s("/etc/app/conf", "/abs-link").unwrap();
    root.ln_s("etc/hostname", "/rel-link").unwrap();
    root.ln_s("/nonexistent/target", "/dangling").unwrap();
    root.ln_s(format!("{long}/{}", "f".repeat(200)), "/long-target-link")
        .unwrap();
    root.write("/hard-a", b"shared inode\n").unwrap();
    root.ln("/hard-a", "/etc/hard-b").unwrap();
    root.write("/setuid", b"#!/bin/sh\n").unwrap();
    root.chmod(0o4755, "/setuid").unwrap();
    root.mkdir("/sticky", 0o1777).unwrap();
    root.chmod(0o1777, "/sticky").unwrap();
    root.write("/with-xattr", b"x\n").unwrap();
    root.lsetxattr(
        "user.comment",
        b"hello \x00 binary \xff\nsecond line\n",
        "/with-xattr",
    )
    .unwrap();
    root.lsetxattr("user.other", b"2", "/etc/app").unwrap();
    // 64 MiB "sparse-ish": data at the start, in the middle and at the end,
    // zeros elsewhere (never written, so holes on the source too).
    {
        let mut f = root
            .open_write("/big.img", vmcraft_archive::WriteMode::CreateNew, 0o644)
            .unwrap();
        f.set_len(64 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        let chunk: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        f.write_all_at(&chunk, 0).unwrap();
        f.write_all_at(&chunk, 30 << 20).unwrap();
        f.write_all_at(&chunk[..4096], (64 << 20) - 4096).unwrap();
        f.flush().unwrap();
    }
    if privileged {
        let host = root.host_path();
        nix_mkfifo(&host.join("fifo"));
        mknod_char(&host.join("null-dev"), 1, 3);
        root.write("/owned", b"not root's\n").unwrap();
        root.chown(1234, 5678, "/owned").unwrap();
        root.lchown(4321, 8765, "/rel-link").unwrap();
        root.chown(1000, 1000, "/etc/app").unwrap();
        root.write("/cap", b"cap\n").unwrap();
        root.chmod(0o6755, "/cap").unwrap();
        root.chown(0, 42, "/cap").unwrap();
        root.chmod(0o6755, "/cap").unwrap();
    }
    // Fixed times everywhere so that comparisons are exact; directories last.
    let t = vmcraft_archive::FileTime::At(1_600_000_000, 0);
    let mut all = root.find("/").unwrap();
    all.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for p in all {
        root.utimens(format!("/{p}"), t, t).unwrap();
    }
    root.utimens("/", t, t).unwrap();
}

fn nix_mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
}

fn mknod_char(path: &Path, major: u32, minor: u32) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(major, minor),
    )
    .unwrap();
}

/// What a snapshot records for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub size: u64,
    pub content: String,
    pub rdev: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// For files with several links: the first path (in sorted order) of the group.
    pub link_group: Option<String>,
}

/// Options for [`snapshot`].
#[derive(Debug, Clone, Copy)]
pub struct Snap {
    pub mtimes: bool,
    pub dir_mtimes: bool,
    pub owners: bool,
    pub xattrs: bool,
}

impl Snap {
    pub const ALL: Snap = Snap {
        mtimes: true,
        dir_mtimes: true,
        owners: true,
        xattrs: true,
    };
}

/// Every path under `dir` (not following symlinks) with its metadata and a hash
/// of its content.
pub fn snapshot(dir: &Path, opts: Snap) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut groups: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = dir.join(&rel);
        let md = fs::symlink_metadata(&full).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_file() {
            'r'
        } else if ft.is_fifo() {
            'f'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else {
            's'
        };
        let content = match kind {
            'r' => hex(&Sha256::digest(fs::read(&full).unwrap())),
            'l' => String::from_utf8_lossy(fs::read_link(&full).unwrap().as_os_str().as_bytes())
                .into_owned(),
            _ => String::new(),
        };
        let mut xattrs = Vec::new();
        if opts.xattrs && kind != 'l' {
            let mut names: Vec<_> = xattr::list(&full).map(|l| l.collect()).unwrap_or_default();
            names.sort();
            for n in names {
                let v = xattr::get(&full, &n).unwrap().unwrap_or_default();
                xattrs.push((n.to_string_lossy().into_owned(), v));
            }
        }
        let link_group = (kind == 'r' && md.nlink() > 1).then(|| {
            groups
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| rel.display().to_string())
                .clone()
        });
        let key = if rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            rel.display().to_string()
        };
        out.insert(
            key,
            Node {
                kind,
                mode: md.mode() & 0o7777,
                uid: if opts.owners { md.uid() } else { 0 },
                gid: if opts.owners { md.gid() } else { 0 },
                mtime: if opts.mtimes && kind != 'l' && (kind != 'd' || opts.dir_mtimes) {
                    md.mtime()
                } else {
                    0
                },
                size: if kind == 'd' { 0 } else { md.len() },
                content,
                rdev: md.rdev(),
                xattrs,
                link_group: None,
            },
        );
        if let Some(g) = link_group {
            out.get_mut(&if rel.as_os_str().is_empty() {
                ".".to_string()
            } else {
                rel.display().to_string()
            })
            .unwrap()
            .link_group = Some(g);
        }
        if kind == 'd' {
            for e in fs::read_dir(&full).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
        }
    }
    // Link groups are named by whichever path was met first; make that
    // independent of traversal order.
    let mut canon: BTreeMap<String, String> = BTreeMap::new();
    for (path, node) in &out {
        if let Some(g) = &node.link_group {
            canon.entry(g.clone()).or_insert_with(|| path.clone());
        }
    }
    for node in out.values_mut() {
        if let Some(g) = node.link_group.as_mut() {
            *g = canon[g].clone();
        }
    }
    out
}

/// Compare two snapshots and panic with every difference.
pub fn assert_same(a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>, what: &str) {
    let mut diffs = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => diffs.push(format!("only in source: {k}")),
            Some(w) if w != v => diffs.push(format!("{k}:\n    {v:?}\n  vs {w:?}")),
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            diffs.push(format!("only in copy: {k}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: trees differ:\n  {}",
        diffs.join("\n  ")
    );
}

/// A hash of everything under `dir` (names, types, modes, contents, mtimes).
pub fn tree_hash(dir: &Path) -> String {
    let snap = snapshot(dir, Snap::ALL);
    hex(&Sha256::digest(format!("{snap:?}").as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A sentinel tree outside the guest root: files that nothing may create,
/// change or read.
pub fn make_sentinel(dir: &Path) -> String {
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(dir.join("etc/shadow"), b"root:SECRET:19000:0:99999:7:::\n").unwrap();
    fs::write(dir.join("secret"), b"TOP-SECRET-SENTINEL\n").unwrap();
    fs::create_dir_all(dir.join("run")).unwrap();
    fs::write(dir.join("run/x"), b"run\n").unwrap();
    tree_hash(dir)
}

/// Raw tar building for crafted archives: names are written as given, `..` and
/// absolute ones included.
#[derive(Default)]
pub struct RawTar {
    pub data: Vec<u8>,
}

impl RawTar {
    fn header(&mut self, name: &[u8], kind: tar::EntryType, size: u64, link: &[u8], mode: u32) {
        self.header_owned(name, kind, size, link, mode, (0, 0));
    }

    fn header_owned(
        &mut self,
        name: &[u8],
        kind: tar::EntryType,
        size: u64,
        link: &[u8],
        mode: u32,
        (uid, gid): (u64, u64),
    ) {
        let mut h = tar::Header::new_gnu();
        if name.len() > 100 {
            self.long(tar::EntryType::GNULongName, name);
        }
        if link.len() > 100 {
            self.long(tar::EntryType::GNULongLink, link);
        }
        let n = name.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        h.as_old_mut().linkname[..l].copy_from_slice(&link[..l]);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        self.data.extend_from_slice(h.as_bytes());
    }

    /// A GNU long name or long link name record holding `value`.
    fn long(&mut self, kind: tar::EntryType, value: &[u8]) {
        let mut l = tar::Header::new_gnu();
        l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        l.set_size(value.len() as u64 + 1);
        l.set_entry_type(kind);
        l.set_cksum();
        self.data.extend_from_slice(l.as_bytes());
        self.data.extend_from_slice(value);
        self.data.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.data.len().is_multiple_of(512) {
            self.data.push(0);
        }
    }

    pub fn file(mut self, name: &str, content: &[u8]) -> Self {
        self.header(
            name.as_bytes(),
            tar::EntryType::Regular,
            content.len() as u64,
            b"",
            0o644,
        );
        self.data.extend_from_slice(content);
        self.pad();
        self
    }

    /// A regular file with a mode and an owner.
    pub fn file_owned(mut self, name: &str, content: &[u8], mode: u32, owner: (u64, u64)) -> Self {
        self.header_owned(
            name.as_bytes(),
            tar::EntryType::Regular,
            content.len() as u64,
            b"",
            mode,
            owner,
        );
        self.data.extend_from_slice(content);
        self.pad();
        self
    }

    /// A directory with a mode and an owner.
    pub fn dir_owned(mut self, name: &str, mode: u32, owner: (u64, u64)) -> Self {
        self.header_owned(
            name.as_bytes(),
            tar::EntryType::Directory,
            0,
            b"",
            mode,
            owner,
        );
        self
    }

    /// Raw bytes appended as they are (crafted headers).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.data.extend_from_slice(bytes);
        self
    }

    pub fn dir(mut self, name: &str) -> Self {
        self.header(name.as_bytes(), tar::EntryType::Directory, 0, b"", 0o755);
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.header(
            name.as_bytes(),
            tar::EntryType::Symlink,
            0,
            target.as_bytes(),
            0o777,
        );
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        self.header(
            name.as_bytes(),
            tar::EntryType::Link,
            0,
            target.as_bytes(),
            0o644,
        );
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.data.extend_from_slice(&[0u8; 1024]);
        self.data
    }
}

/// Write `data` to a file in `dir` and return its path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(data).unwrap();
    p
}
