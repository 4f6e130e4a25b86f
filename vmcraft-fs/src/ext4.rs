//! [`Ext4Tree`]: ext2, ext3 and ext4 read in-process through `ext4-view`
//! (checksums verified, the journal replayed in memory, extent trees and hashed
//! directories read, nothing written).
//!
//! What `ext4-view` 1.0 does not give out (the inode number, the link count,
//! the block count, the inode change time, the device number of a device node,
//! extended attributes) is read from the raw structures by this crate's
//! `ext4raw` module (bounded the same way; without journal replay, as a
//! `noload` mount shows them; `None` where it cannot tell, e.g. under an
//! inline-data directory). ACLs are not among the extended attributes.
//!
//! Known limits of `ext4-view` 1.0, errors rather than wrong answers: an inode
//! whose time is before 1970 or after 2038-01-19 (it reads the 32-bit seconds
//! as unsigned) and a hole in a block-mapped (ext2/ext3, non-extent) file fail
//! with [`ErrorKind::Corrupt`]; the kernel path reads both. Everything else is
//! what the kernel's ext4 driver shows: the mode with its type bits, owners,
//! sizes, access and modification times to the nanosecond, the creation time
//! where the inode is large enough, symlink targets and file bytes.
//!
//! Bounded: the superblock is checked against the size of the disk before
//! `ext4-view` sees it (a block count past the end of the disk is refused as
//! the kernel refuses it), `ext4-view` bounds its own block cache and path
//! lengths, every call runs under [`crate::guard`], and reads are bounded by
//! the caller's buffers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ext4_view::{Ext4, Ext4Error, Ext4Read};

use crate::block::ReadAt;
use crate::error::{Error, ErrorKind, Result};
use crate::ext4raw::Ext4Raw;
use crate::guard::Guard;
use crate::stat::{DirEntry, FileType, Stat, Timespec};
use crate::tree::GuestTree;

/// `ext4_view::Ext4` holds `Rc`s and `RefCell`s, so it is neither `Send` nor
/// `Sync`. Here it lives behind a `Mutex` and no clone of it (nor a `DirEntry`,
/// `File` or `ReadDir`, which hold clones) ever leaves a locked call: every
/// `Rc` of the filesystem is reached only by the thread holding the lock, one
/// at a time, which is what makes moving it between threads sound.
struct SendExt4(Ext4);

// SAFETY: see `SendExt4`: all `Rc` clones of the filesystem are created and
// dropped while the `Mutex` in `Ext4Tree` is held, and the `Ext4Read` source
// inside is our `ReadAt`, which is `Send + Sync`.
unsafe impl Send for SendExt4 {}

/// An ext2/3/4 filesystem read in-process.
///
/// ```no_run
/// use std::sync::Arc;
/// use vmcraft_fs::{Ext4Tree, GuestTree, RawFile};
/// let fs = Ext4Tree::open(Arc::new(RawFile::open("root.ext4")?))?;
/// let hostname = fs.read_file("/etc/hostname", 4096)?;
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub struct Ext4Tree {
    fs: Mutex<SendExt4>,
    /// The raw structures, for what ext4-view keeps private.
    raw: Option<Ext4Raw>,
    guard: Guard,
    name: String,
    /// `lstat` of resolved paths, remembered (the image does not change under
    /// a reader): a path's lookup in its directory is a scan, and resolution,
    /// walks and the read calls look the same paths up again and again.
    stats: Mutex<StatCache>,
}

/// What an [`Ext4Tree`] remembers of its lookups.
#[derive(Default)]
struct StatCache {
    /// `lstat` by path.
    stats: HashMap<String, Stat>,
    /// Directories whose every entry (that a path can name) is in `stats`:
    /// a name not there is not in the directory, answered without a scan.
    /// Emptied with `stats`.
    listed: HashSet<String>,
}

/// A directory this small (its size in bytes) is listed whole on the first
/// lookup in it that misses the cache: inspection asks for dozens of release
/// and configuration files that mostly do not exist, each a scan otherwise.
const LIST_ON_MISS_MAX: u64 = 64 * 1024;

/// The directory part of a resolved path (`None` for `/`, and for a path
/// whose last component is not a plain name: `.`, `..`, empty).
fn parent_of(path: &str) -> Option<&str> {
    let i = path.rfind('/')?;
    if matches!(&path[i + 1..], "" | "." | "..") {
        return None;
    }
    Some(if i == 0 { "/" } else { &path[..i] })
}

/// The most `lstat` results an [`Ext4Tree`] remembers (then it starts over):
/// a few MiB.
const MAX_STATS: usize = 65536;

impl std::fmt::Debug for Ext4Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ext4Tree")
            .field("name", &self.name)
            .finish()
    }
}

/// Reads for `ext4-view` through a [`ReadAt`].
struct Source(Arc<dyn ReadAt>);

impl Ext4Read for Source {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.0
            .read_at(start_byte, dst)
            .map_err(|e| Box::new(e) as _)
    }
}

impl Ext4Tree {
    /// Read the ext2/3/4 filesystem on `disk` (a whole disk or a partition
    /// window).
    pub fn open(disk: Arc<dyn ReadAt>) -> Result<Self> {
        let name = disk.name();
        check_superblock(&*disk)?;
        let guard = Guard::default();
        let src = disk.clone();
        let raw = Ext4Raw::new(disk.clone()).ok();
        let fs = guard.run("open_fs", &name, move || {
            Ext4::load(Box::new(Source(src))).map_err(|e| map_err("open_fs", "/", e))
        })?;
        Ok(Ext4Tree {
            fs: Mutex::new(SendExt4(fs)),
            raw,
            guard,
            name,
            stats: Mutex::new(StatCache::default()),
        })
    }

    /// The filesystem's label.
    pub fn label(&self) -> Result<String> {
        self.with("label", "", |fs| {
            Ok(fs.label().to_str().unwrap_or_default().to_string())
        })
    }

    /// The filesystem's UUID, lower-case with dashes, as blkid prints it.
    pub fn uuid(&self) -> Result<String> {
        self.with("uuid", "", |fs| Ok(fs.uuid().to_string()))
    }

    /// A remembered `lstat`, unless the reader failed (then every call is
    /// the error, as before the cache).
    fn cached_stat(&self, path: &str) -> Option<Stat> {
        if self.guard.is_broken() || self.fs.is_poisoned() {
            return None;
        }
        self.stats.lock().ok()?.stats.get(path).copied()
    }

    /// A lookup the cache can answer without ext4-view: the remembered
    /// `lstat`, or "not found" for a name missing from a directory listed
    /// whole (listing it now when it is small and known to be a directory).
    fn cached_lookup(&self, call: &'static str, path: &str) -> Option<Result<Stat>> {
        if let Some(st) = self.cached_stat(path) {
            return Some(Ok(st));
        }
        let parent = parent_of(path)?;
        let missing = || Some(Err(map_err(call, path, Ext4Error::NotFound)));
        if self.stats.lock().ok()?.listed.contains(parent) {
            return missing();
        }
        // The directory's own lstat, looked up once (without recursion: one
        // resolution, as an uncached lookup costs) so that the names in it
        // are answered from its listing from then on.
        let dir = match self.cached_stat(parent) {
            Some(st) => st,
            None => {
                let st = self
                    .with("lstat", parent, |fs| {
                        fs.symlink_metadata(parent)
                            .map(|m| to_stat(&m))
                            .map_err(|e| map_err("lstat", parent, e))
                    })
                    .ok()?;
                self.remember_stat(parent, st)
            }
        };
        if dir.file_type() != FileType::Directory || dir.size > LIST_ON_MISS_MAX {
            return None;
        }
        self.read_dir_node(parent).ok()?;
        if let Some(st) = self.cached_stat(path) {
            return Some(Ok(st));
        }
        if self.stats.lock().ok()?.listed.contains(parent) {
            return missing();
        }
        None
    }

    /// Complete `st` (of the resolved `path`) with the raw inode's fields,
    /// remember it, and return it.
    fn remember_stat(&self, path: &str, st: Stat) -> Stat {
        let st = self.complete_stat(path, st);
        if let Ok(mut c) = self.stats.lock() {
            if c.stats.len() >= MAX_STATS {
                c.stats.clear();
                c.listed.clear();
            }
            c.stats.insert(path.to_string(), st);
        }
        st
    }

    /// `st` (of the resolved `path`) with the raw inode's fields.
    fn complete_stat(&self, path: &str, mut st: Stat) -> Stat {
        if let Some(raw) = &self.raw
            && let Ok(r) = self.guard.run("lstat", path, || raw.stat(path))
        {
            st.ino = Some(r.ino);
            st.nlink = Some(r.nlink);
            st.blocks = Some(r.blocks);
            st.ctime = Some(r.ctime);
            st.rdev = Some(r.rdev);
        }
        st
    }

    fn with<T>(
        &self,
        call: &'static str,
        path: &str,
        f: impl FnOnce(&Ext4) -> Result<T>,
    ) -> Result<T> {
        let lock = self
            .fs
            .lock()
            .map_err(|_| Error::corrupt(call, path, "the filesystem reader failed earlier"))?;
        self.guard.run(call, path, || f(&lock.0))
    }
}

/// Check what `ext4-view` would otherwise trust: the magic, and a block count
/// that fits the disk (the kernel refuses a filesystem larger than its device).
fn check_superblock(disk: &dyn ReadAt) -> Result<()> {
    let mut sb = [0u8; 1024];
    if disk.size() < 2048 {
        return Err(Error::corrupt(
            "open_fs",
            disk.name(),
            "too small for an ext2/3/4 superblock",
        ));
    }
    disk.read_at(1024, &mut sb)?;
    if sb[56..58] != [0x53, 0xef] {
        return Err(Error::corrupt(
            "open_fs",
            disk.name(),
            "no ext2/3/4 superblock magic",
        ));
    }
    let le32 = |o: usize| u32::from_le_bytes([sb[o], sb[o + 1], sb[o + 2], sb[o + 3]]);
    let log_block = le32(24);
    if log_block > 6 {
        return Err(Error::corrupt(
            "open_fs",
            disk.name(),
            format!("block size 2^{} is out of range", 10 + log_block),
        ));
    }
    let block_size = 1024u64 << log_block;
    // ext4-view reads the high half of the block count whatever the features
    // say; the kernel only with INCOMPAT_64BIT. Refuse what they would read
    // differently.
    let hi = le32(0x150);
    if hi != 0 && le32(96) & 0x80 == 0 {
        return Err(Error::corrupt(
            "open_fs",
            disk.name(),
            "high half of the block count set without the 64bit feature",
        ));
    }
    let blocks = (u64::from(hi) << 32) | u64::from(le32(4));
    match blocks.checked_mul(block_size) {
        Some(s) if s <= disk.size() => {}
        _ => {
            return Err(Error::corrupt(
                "open_fs",
                disk.name(),
                format!(
                    "bad geometry: block count {blocks} exceeds size of device ({} blocks)",
                    disk.size() / block_size
                ),
            ));
        }
    }
    // ext4-view reads every group descriptor at once: bound their number
    // (2^18 groups: 32 TiB with 4 KiB blocks).
    let per_group = u64::from(le32(0x20)).max(1);
    let groups = blocks
        .saturating_sub(u64::from(le32(0x14)))
        .div_ceil(per_group);
    if groups > MAX_GROUPS {
        return Err(Error::corrupt(
            "open_fs",
            disk.name(),
            format!("{groups} block groups, more than the {MAX_GROUPS} read in-process"),
        ));
    }
    Ok(())
}

/// Most block groups a filesystem may have to be read in-process.
const MAX_GROUPS: u64 = 1 << 18;

fn map_err(call: &'static str, path: &str, e: Ext4Error) -> Error {
    let (kind, msg) = match &e {
        Ext4Error::NotFound => (ErrorKind::NotFound, "no such file or directory".to_string()),
        Ext4Error::NotADirectory => (ErrorKind::NotADirectory, "not a directory".to_string()),
        Ext4Error::IsADirectory => (ErrorKind::IsADirectory, "is a directory".to_string()),
        Ext4Error::NotASymlink => (ErrorKind::NotASymlink, "not a symbolic link".to_string()),
        Ext4Error::IsASpecialFile => (ErrorKind::NotARegularFile, "not a regular file".to_string()),
        Ext4Error::TooManySymlinks => (
            ErrorKind::Loop,
            "too many levels of symbolic links".to_string(),
        ),
        Ext4Error::FileTooLarge => (ErrorKind::TooLarge, "file too large".to_string()),
        Ext4Error::Encrypted => (ErrorKind::Unsupported, "encrypted file".to_string()),
        Ext4Error::Incompatible(i) => (
            ErrorKind::Unsupported,
            format!("ext4 features not supported in-process: {i}"),
        ),
        Ext4Error::Io(io) => (ErrorKind::Io, io.to_string()),
        Ext4Error::Corrupt(c) => (ErrorKind::Corrupt, format!("corrupt ext4: {c}")),
        other => (ErrorKind::Corrupt, format!("ext4: {other}")),
    };
    Error::new(kind, call, path, crate::error::lower_first(&msg))
}

fn ts(t: ext4_view::Timestamp) -> Timespec {
    Timespec::new(t.seconds(), t.nanoseconds())
}

fn ftype(t: ext4_view::FileType) -> FileType {
    if t.is_regular_file() {
        FileType::Regular
    } else if t.is_dir() {
        FileType::Directory
    } else if t.is_symlink() {
        FileType::Symlink
    } else if t.is_char_dev() {
        FileType::CharDevice
    } else if t.is_block_dev() {
        FileType::BlockDevice
    } else if t.is_fifo() {
        FileType::Fifo
    } else if t.is_socket() {
        FileType::Socket
    } else {
        FileType::Unknown
    }
}

fn to_stat(m: &ext4_view::Metadata) -> Stat {
    let t = ftype(m.file_type());
    Stat {
        ino: None,
        mode: t.mode_bits() | u32::from(m.mode()),
        nlink: None,
        uid: m.uid(),
        gid: m.gid(),
        rdev: None,
        size: m.len(),
        blocks: None,
        atime: ts(m.accessed()),
        mtime: ts(m.modified()),
        ctime: None,
        crtime: m.created().map(ts),
    }
}

impl GuestTree for Ext4Tree {
    fn lstat_node(&self, path: &str) -> Result<Stat> {
        if let Some(r) = self.cached_lookup("lstat", path) {
            return r;
        }
        let st = self.with("lstat", path, |fs| {
            fs.symlink_metadata(path)
                .map(|m| to_stat(&m))
                .map_err(|e| map_err("lstat", path, e))
        })?;
        Ok(self.remember_stat(path, st))
    }

    fn file_type_node(&self, path: &str) -> Result<FileType> {
        // Through the remembered lstat: resolution asks the type of every
        // prefix of every path, again and again.
        self.lstat_node(path).map(|st| st.file_type())
    }

    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> {
        // The entries' inode numbers, found in one scan, for the lstat of each
        // entry that usually follows (a walk, `ls -l`).
        if let Some(raw) = &self.raw {
            let _ = self.guard.run("read_dir", path, || raw.remember_dir(path));
        }
        let mut prefill = Vec::new();
        // Whether every entry a path can name gets its lstat from this listing.
        let mut whole = true;
        let out = self.with("read_dir", path, |fs| {
            let mut out = Vec::new();
            let iter = fs
                .read_dir(path)
                .map_err(|e| map_err("read_dir", path, e))?;
            for entry in iter {
                let entry = entry.map_err(|e| map_err("read_dir", path, e))?;
                let name = entry.file_name();
                let bytes = name.as_ref();
                if bytes == b"." || bytes == b".." {
                    continue;
                }
                let t = entry
                    .file_type()
                    .map_err(|e| map_err("read_dir", path, e))?;
                let name = String::from_utf8_lossy(bytes).into_owned();
                // The entry's inode, read without a lookup, for the lstat
                // that usually follows (names that are not UTF-8 are left
                // to the lookup: the one here is not the name on disk).
                if std::str::from_utf8(bytes).is_ok() {
                    match entry.metadata() {
                        Ok(m) => prefill.push((name.clone(), to_stat(&m))),
                        Err(_) => whole = false,
                    }
                }
                out.push(DirEntry::new(name, ftype(t)));
            }
            Ok(out)
        })?;
        let base = if path == "/" { "" } else { path };
        // Half the cache at most, so that the listing survives its filling.
        whole &= prefill.len() <= MAX_STATS / 2;
        let done: Vec<(String, Stat)> = prefill
            .into_iter()
            .take(MAX_STATS / 2)
            .map(|(name, st)| {
                let child = format!("{base}/{name}");
                let st = self
                    .cached_stat(&child)
                    .unwrap_or_else(|| self.complete_stat(&child, st));
                (child, st)
            })
            .collect();
        // The entries and the mark in one step: no other thread's clearing
        // can leave the mark without the entries.
        if let Ok(mut c) = self.stats.lock() {
            if c.stats.len() + done.len() >= MAX_STATS {
                c.stats.clear();
                c.listed.clear();
            }
            c.stats.extend(done);
            if whole {
                c.listed.insert(path.to_string());
            }
        }
        Ok(out)
    }

    fn readlink_node(&self, path: &str) -> Result<String> {
        self.with("readlink", path, |fs| {
            fs.read_link(path)
                .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
                .map_err(|e| map_err("readlink", path, e))
        })
    }

    /// Read from the raw inode and its attribute block (ext4-view 1.0 does
    /// not give them out); ACLs are left out (ext4 stores them in a form of
    /// its own).
    fn xattrs_node(&self, path: &str) -> Result<Vec<crate::stat::Xattr>> {
        // The path must exist for ext4-view too.
        self.file_type_node(path)?;
        match &self.raw {
            Some(raw) => self
                .guard
                .run("lgetxattrs", path, || raw.xattrs(path))
                .map_err(|e| e.with_call("lgetxattrs").with_subject(path)),
            None => Err(Error::unsupported(
                "lgetxattrs",
                path,
                "extended attributes are not read in-process on this filesystem",
            )),
        }
    }

    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.with("read", path, |fs| {
            let mut f = fs.open(path).map_err(|e| map_err("read", path, e))?;
            if offset >= f.metadata().len() {
                return Ok(0);
            }
            f.seek_to(offset).map_err(|e| map_err("read", path, e))?;
            let mut done = 0;
            while done < buf.len() {
                let n = f
                    .read_bytes(&mut buf[done..])
                    .map_err(|e| map_err("read", path, e))?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            Ok(done)
        })
    }
}
