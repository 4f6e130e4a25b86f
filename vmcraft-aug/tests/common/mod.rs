//! Shared helpers for the integration tests: a temporary guest root inside a
//! tagged [`TestEnv`], snapshots of files and trees (bytes, mtime, inode) to prove
//! that nothing changed, a printer of an Augeas subtree in `augtool print`'s
//! format, and `augtool` itself (run through `CommandRunner`) as the oracle.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vmcraft_aug::{Augeas, ErrorKind};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

/// Root is needed for the chroot every handle does.
pub fn need_root() -> bool {
    require_root("confining augeas to a guest root (chroot)")
}

/// Root and augtool, for the oracle tests.
pub fn need_root_and_augtool() -> bool {
    need_root() && require_tool("augtool")
}

/// A guest root directory in a tagged test directory.
pub struct Guest {
    pub env: TestEnv,
    pub root: PathBuf,
}

impl Guest {
    pub fn new(label: &str) -> Self {
        let env = TestEnv::new(label);
        let root = env.path().join("guest");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        Guest { env, root }
    }

    /// The host path of a guest path (`/etc/hosts`).
    pub fn path(&self, guest_path: &str) -> PathBuf {
        self.root.join(guest_path.trim_start_matches('/'))
    }

    pub fn write(&self, guest_path: &str, contents: &str) {
        let p = self.path(guest_path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }

    pub fn read(&self, guest_path: &str) -> String {
        std::fs::read_to_string(self.path(guest_path)).unwrap()
    }

    pub fn exists(&self, guest_path: &str) -> bool {
        self.path(guest_path).symlink_metadata().is_ok()
    }

    pub fn symlink(&self, guest_path: &str, target: impl AsRef<Path>) {
        let p = self.path(guest_path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    /// A directory outside the guest root, standing for the host.
    pub fn host_dir(&self) -> PathBuf {
        let d = self.env.path().join("host");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.root)
    }
}

/// What a file (or every entry of a tree) looks like: kind, bytes hash, mtime
/// (ns), inode, symlink target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, String>);

impl Snapshot {
    pub fn of(path: &Path) -> Self {
        let mut map = BTreeMap::new();
        walk(path, &mut map);
        Snapshot(map)
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.0.keys().cloned().collect()
    }

    /// The same without the directories' own mtimes and inodes (which a
    /// temporary file, created and removed, changes).
    pub fn without_dir_times(&self) -> Self {
        Snapshot(
            self.0
                .iter()
                .map(|(p, d)| {
                    let d = if d.starts_with("dir ") {
                        "dir".to_string()
                    } else {
                        d.clone()
                    };
                    (p.clone(), d)
                })
                .collect(),
        )
    }
}

fn describe(path: &Path) -> String {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let ft = meta.file_type();
    let mtime = format!("{}.{:09}", meta.mtime(), meta.mtime_nsec());
    if ft.is_symlink() {
        format!("link -> {}", std::fs::read_link(path).unwrap().display())
    } else if ft.is_dir() {
        format!("dir mtime={mtime} ino={}", meta.ino())
    } else {
        let bytes = std::fs::read(path).unwrap();
        let hash = Sha256::digest(&bytes);
        format!(
            "file sha256={hash:x} len={} mtime={mtime} ino={}",
            bytes.len(),
            meta.ino()
        )
    }
}

fn walk(path: &Path, map: &mut BTreeMap<PathBuf, String>) {
    map.insert(path.to_path_buf(), describe(path));
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, map);
        }
    }
}

fn escape(value: &str) -> String {
    let mut s = String::new();
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s
}

/// The subtree at `path`, one node a line, as `augtool print` shows it.
pub fn print_tree(aug: &Augeas, path: &str) -> String {
    let mut out = String::new();
    for node in aug.aug_match(path).unwrap() {
        print_node(aug, &node, &mut out);
    }
    out
}

fn print_node(aug: &Augeas, node: &str, out: &mut String) {
    match aug.aug_get(node) {
        Ok(v) => out.push_str(&format!("{node} = \"{}\"\n", escape(&v))),
        Err(e) if e.kind() == ErrorKind::NoValue => out.push_str(&format!("{node}\n")),
        Err(e) => panic!("{e}"),
    }
    for child in aug.aug_match(&format!("{node}/*")).unwrap() {
        print_node(aug, &child, out);
    }
}

/// Run augtool on `root` with `script` on stdin; its stdout.
pub fn augtool(root: &Path, extra: &[&str], script: &str) -> String {
    let mut cmd = Command::new("augtool").arg("-r").arg(root);
    cmd = cmd.args(extra).stdin(script.as_bytes().to_vec());
    let out = SystemRunner::new().run(&cmd).expect("augtool");
    String::from_utf8(out.stdout).unwrap()
}

/// `augtool -r ROOT print PATH`.
pub fn augtool_print(root: &Path, path: &str) -> String {
    augtool(root, &[], &format!("print {path}\n"))
}

/// Copy a directory tree (regular files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
