//! [`NtfsTree`]: NTFS read in-process through the `ntfs` crate, shown as
//! ntfs-3g shows it through a default mount by root.
//!
//! What ntfs-3g shows without a user mapping and without the `permissions`
//! option: every file and directory `0777` (umask 0), owner and group 0; the
//! MFT record number as the inode number; a file's link count from its record,
//! a directory's as 1; a directory's size as its `$I30` index allocation (0
//! when the index fits in the directory's record); blocks from the allocated
//! size; the
//! access, modification and MFT change times of `$STANDARD_INFORMATION` as
//! `atime`, `mtime` and `ctime` (to the 100 ns), its creation time as the birth
//! time. Interix special files, as ntfs-3g writes them (system files): a
//! symlink (`IntxLNK\1` and a UTF-16 target), character and block devices
//! (`IntxCHR\0`, `IntxBLK\0` and 64-bit major and minor), a FIFO (empty) and a
//! socket (one byte). Names in the DOS namespace and the metadata files (MFT
//! records below 16, `$MFT`, `$Bitmap`, ...) are not listed, as ntfs-3g hides
//! them. Lookups try the exact name first, then, for names that are not in
//! the POSIX namespace, the name ignoring case, as ntfs-3g does. Reparse
//! points (Windows symlinks and junctions) are shown as what they hold, not
//! translated. Named data streams are extended attributes `user.NAME`, as
//! ntfs-3g's default `streams_interface=xattr` shows them.
//!
//! Bounded: each call gets a read budget on the disk (index B-trees and data
//! runs that loop run into it and fail as corrupt), a directory lists at most
//! [`MAX_DIR_ENTRIES`] entries, and every call runs under [`crate::guard`]
//! (the crate unwraps some on-disk enumerations).

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use ntfs::indexes::NtfsFileNameIndex;
use ntfs::structured_values::{NtfsFileAttributeFlags, NtfsFileNamespace};
use ntfs::{Ntfs, NtfsAttributeType, NtfsError, NtfsFile, NtfsReadSeek};

use crate::block::ReadAt;
use crate::error::{Error, ErrorKind, Result};
use crate::guard::Guard;
use crate::stat::{DirEntry, FileType, Stat, Timespec};
use crate::tree::GuestTree;

/// Most entries listed from one NTFS directory.
pub const MAX_DIR_ENTRIES: usize = 1 << 20;

/// The largest named stream shown as an extended attribute (Linux's limit
/// on an attribute value).
const MAX_STREAM_XATTR: u64 = 64 * 1024;

/// MFT records below this are NTFS's own metadata files, hidden by ntfs-3g.
const FIRST_USER_RECORD: u64 = 16;

/// The disk for the `ntfs` crate (`Read + Seek`), with the read budget of one
/// call.
struct NtfsIo {
    disk: Arc<dyn ReadAt>,
    pos: u64,
    budget: u64,
}

impl Read for NtfsIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.disk.size();
        if self.pos >= size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - self.pos) as usize;
        if n as u64 > self.budget {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "read budget exhausted (an index or a run list that loops?)",
            ));
        }
        self.budget -= n as u64;
        self.disk
            .read_at(self.pos, &mut buf[..n])
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for NtfsIo {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.disk.size().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad seek"))?;
        Ok(self.pos)
    }
}

/// An NTFS filesystem read in-process.
///
/// ```no_run
/// use std::sync::Arc;
/// use vmcraft_fs::{GuestTree, NtfsTree, RawFile};
/// let c = NtfsTree::open(Arc::new(RawFile::open("windows.img")?))?;
/// let st = c.stat("/Windows/System32/config/SOFTWARE")?;
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub struct NtfsTree {
    ntfs: Mutex<Ntfs>,
    /// Whether `$UpCase` was read (then lookups search the index B-tree first).
    upcase: bool,
    disk: Arc<dyn ReadAt>,
    guard: Guard,
    name: String,
}

impl std::fmt::Debug for NtfsTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtfsTree")
            .field("name", &self.name)
            .finish()
    }
}

fn budget(path: &str, extra: u64) -> u64 {
    let depth = path.split('/').filter(|c| !c.is_empty()).count() as u64 + 1;
    depth * (16 << 20) + extra.saturating_mul(3) + (4 << 20)
}

fn map_err(call: &'static str, path: &str, e: NtfsError) -> Error {
    let kind = match &e {
        NtfsError::Io(io) if io.kind() == io::ErrorKind::Other => ErrorKind::Io,
        NtfsError::NotADirectory { .. } => ErrorKind::NotADirectory,
        _ => ErrorKind::Corrupt,
    };
    Error::new(
        kind,
        call,
        path,
        format!("ntfs: {}", crate::error::lower_first(&e.to_string())),
    )
    .with_source(e)
}

fn nt_time(t: ntfs::NtfsTime) -> Timespec {
    // 100 ns intervals since 1601-01-01.
    let t = t.nt_timestamp();
    let secs = (t / 10_000_000) as i64 - 11_644_473_600;
    Timespec::new(secs, ((t % 10_000_000) * 100) as u32)
}

impl NtfsTree {
    /// Read the NTFS filesystem on `disk` (a whole disk or a partition window).
    pub fn open(disk: Arc<dyn ReadAt>) -> Result<Self> {
        let name = disk.name();
        let guard = Guard::default();
        let mut io = NtfsIo {
            disk: disk.clone(),
            pos: 0,
            budget: 16 << 20,
        };
        let ntfs = guard.run("open_fs", &name, || {
            let ntfs =
                Ntfs::new(&mut io).map_err(|e| map_err("open_fs", "", e).with_subject(&name))?;
            let mut ntfs = ntfs;
            // The root must be readable for the filesystem to be of any use.
            ntfs.root_directory(&mut io)
                .map_err(|e| map_err("open_fs", "", e).with_subject(&name))?;
            // $UpCase lets lookups search the index B-tree; without it (a
            // damaged one) they scan directories.
            let upcase = ntfs.read_upcase_table(&mut io).is_ok();
            Ok((ntfs, upcase))
        })?;
        let (ntfs, upcase) = ntfs;
        Ok(NtfsTree {
            ntfs: Mutex::new(ntfs),
            upcase,
            disk,
            guard,
            name,
        })
    }

    /// The volume label (`$Volume`'s name), empty when there is none.
    pub fn label(&self) -> Result<String> {
        self.with("label", "", 0, |ntfs, io, _| match ntfs.volume_name(io) {
            Some(Ok(n)) => Ok(n.name().to_string_lossy()),
            Some(Err(e)) => Err(map_err("label", "", e)),
            None => Ok(String::new()),
        })
    }

    /// The volume serial number, as blkid prints it (16 upper-case hex digits).
    pub fn uuid(&self) -> Result<String> {
        self.with("uuid", "", 0, |ntfs, _, _| {
            Ok(format!("{:016X}", ntfs.serial_number()))
        })
    }

    fn with<T>(
        &self,
        call: &'static str,
        path: &str,
        extra: u64,
        f: impl FnOnce(&Ntfs, &mut NtfsIo, bool) -> Result<T>,
    ) -> Result<T> {
        let ntfs = self
            .ntfs
            .lock()
            .map_err(|_| Error::corrupt(call, path, "the filesystem reader failed earlier"))?;
        let mut io = NtfsIo {
            disk: self.disk.clone(),
            pos: 0,
            budget: budget(path, extra),
        };
        let upcase = self.upcase;
        self.guard.run(call, path, || f(&ntfs, &mut io, upcase))
    }
}

/// One listed name of a directory.
struct Listed {
    name: String,
    record: u64,
    namespace: NtfsFileNamespace,
    is_dir: bool,
    system: bool,
}

fn list<'n>(file: &NtfsFile<'n>, io: &mut NtfsIo, path: &str) -> Result<Vec<Listed>> {
    let index = file
        .directory_index(io)
        .map_err(|e| map_err("read_dir", path, e))?;
    let mut it = index.entries();
    let mut out = Vec::new();
    while let Some(entry) = it.next(io) {
        let entry = entry.map_err(|e| map_err("read_dir", path, e))?;
        let Some(key) = entry.key() else { continue };
        let key = key.map_err(|e| map_err("read_dir", path, e))?;
        let record = entry.file_reference().file_record_number();
        if record < FIRST_USER_RECORD {
            continue;
        }
        if out.len() >= MAX_DIR_ENTRIES {
            return Err(Error::corrupt(
                "read_dir",
                path,
                format!("more than {MAX_DIR_ENTRIES} entries"),
            ));
        }
        out.push(Listed {
            name: key.name().to_string_lossy(),
            record,
            namespace: key.namespace(),
            is_dir: key.is_directory(),
            system: key
                .file_attributes()
                .contains(NtfsFileAttributeFlags::SYSTEM),
        });
    }
    Ok(out)
}

fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

/// The record a name in `dir` stands for: the index B-tree searched first
/// (when `$UpCase` was read) for an entry of exactly that name; otherwise the
/// directory scanned, the exact name first, then, for names outside the POSIX
/// namespace, the name in any case (as ntfs-3g looks names up).
fn find_in_dir(
    ntfs: &Ntfs,
    dir: &NtfsFile<'_>,
    io: &mut NtfsIo,
    path: &str,
    comp: &str,
    upcase: bool,
) -> Result<u64> {
    if upcase {
        let index = dir
            .directory_index(io)
            .map_err(|e| map_err("lstat", path, e))?;
        let mut finder = index.finder();
        if let Some(entry) = NtfsFileNameIndex::find(&mut finder, ntfs, io, comp) {
            let entry = entry.map_err(|e| map_err("lstat", path, e))?;
            if let Some(key) = entry.key() {
                let key = key.map_err(|e| map_err("lstat", path, e))?;
                let record = entry.file_reference().file_record_number();
                if key.name().to_string_lossy() == comp
                    && key.namespace() != NtfsFileNamespace::Dos
                    && record >= FIRST_USER_RECORD
                {
                    return Ok(record);
                }
            }
        }
    }
    let entries = list(dir, io, path)?;
    entries
        .iter()
        .find(|e| e.name == comp && e.namespace != NtfsFileNamespace::Dos)
        .or_else(|| {
            entries
                .iter()
                .find(|e| e.namespace != NtfsFileNamespace::Posix && same_name(&e.name, comp))
        })
        .map(|e| e.record)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "lstat",
                path,
                "no such file or directory",
            )
        })
}

fn lookup<'n>(ntfs: &'n Ntfs, io: &mut NtfsIo, path: &str, upcase: bool) -> Result<NtfsFile<'n>> {
    let mut file = ntfs
        .root_directory(io)
        .map_err(|e| map_err("lstat", path, e))?;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        if !file.is_directory() {
            return Err(Error::new(
                ErrorKind::NotADirectory,
                "lstat",
                path,
                "not a directory",
            ));
        }
        let record = find_in_dir(ntfs, &file, io, path, comp, upcase)?;
        file = ntfs
            .file(io, record)
            .map_err(|e| map_err("lstat", path, e))?;
    }
    Ok(file)
}

/// What an interix special file holds, as ntfs-3g reads it.
enum Interix {
    Symlink(String),
    Device(FileType, u64),
    Fifo,
    Socket,
}

/// The unnamed `$DATA` of a file: (size, allocated bytes).
fn data_sizes(file: &NtfsFile<'_>, io: &mut NtfsIo, path: &str) -> Result<(u64, u64)> {
    let Some(item) = file.data(io, "") else {
        return Ok((0, 0));
    };
    let item = item.map_err(|e| map_err("lstat", path, e))?;
    let attr = item.to_attribute().map_err(|e| map_err("lstat", path, e))?;
    attr_sizes(&attr, io, path)
}

fn attr_sizes(
    attr: &ntfs::NtfsAttribute<'_, '_>,
    io: &mut NtfsIo,
    path: &str,
) -> Result<(u64, u64)> {
    let len = attr.value_length();
    if attr.is_resident() {
        return Ok((len, len.div_ceil(8) * 8));
    }
    let value = attr.value(io).map_err(|e| map_err("lstat", path, e))?;
    let mut allocated = 0u64;
    if let ntfs::attribute_value::NtfsAttributeValue::NonResident(nr) = value {
        for (i, run) in nr.data_runs().enumerate() {
            if i > 1 << 20 {
                return Err(Error::corrupt("lstat", path, "too many data runs"));
            }
            let run = run.map_err(|e| map_err("lstat", path, e))?;
            if run.data_position().value().is_some() {
                allocated = allocated.saturating_add(run.allocated_size());
            }
        }
    }
    Ok((len, allocated))
}

fn read_data(
    file: &NtfsFile<'_>,
    io: &mut NtfsIo,
    path: &str,
    offset: u64,
    buf: &mut [u8],
) -> Result<usize> {
    let Some(item) = file.data(io, "") else {
        return Ok(0);
    };
    let item = item.map_err(|e| map_err("read", path, e))?;
    let attr = item.to_attribute().map_err(|e| map_err("read", path, e))?;
    let mut value = attr.value(io).map_err(|e| map_err("read", path, e))?;
    if offset >= value.len() {
        return Ok(0);
    }
    value
        .seek(io, SeekFrom::Start(offset))
        .map_err(|e| map_err("read", path, e))?;
    let want = buf.len().min((value.len() - offset) as usize);
    let mut done = 0;
    while done < want {
        let n = value
            .read(io, &mut buf[done..want])
            .map_err(|e| map_err("read", path, e))?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

fn interix(file: &NtfsFile<'_>, io: &mut NtfsIo, path: &str, size: u64) -> Result<Option<Interix>> {
    match size {
        0 => return Ok(Some(Interix::Fifo)),
        1 => return Ok(Some(Interix::Socket)),
        s if !(8..=8 + 2 * 4096).contains(&s) => return Ok(None),
        _ => {}
    }
    let mut data = vec![0u8; size as usize];
    let n = read_data(file, io, path, 0, &mut data)?;
    data.truncate(n);
    if let Some(target) = data.strip_prefix(b"IntxLNK\x01") {
        let units: Vec<u16> = target
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return Ok(Some(Interix::Symlink(String::from_utf16_lossy(&units))));
    }
    for (magic, t) in [
        (b"IntxCHR\0", FileType::CharDevice),
        (b"IntxBLK\0", FileType::BlockDevice),
    ] {
        if let Some(rest) = data.strip_prefix(magic.as_slice())
            && rest.len() >= 16
        {
            let major = u64::from_le_bytes(rest[..8].try_into().unwrap_or_default());
            let minor = u64::from_le_bytes(rest[8..16].try_into().unwrap_or_default());
            let rdev = ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12);
            return Ok(Some(Interix::Device(t, rdev)));
        }
    }
    Ok(None)
}

fn stat_file(file: &NtfsFile<'_>, io: &mut NtfsIo, path: &str) -> Result<Stat> {
    let si = file.info().map_err(|e| map_err("lstat", path, e))?;
    let mut st = Stat {
        ino: Some(file.file_record_number()),
        mode: 0,
        nlink: Some(1),
        uid: 0,
        gid: 0,
        rdev: Some(0),
        size: 0,
        blocks: Some(0),
        atime: nt_time(si.access_time()),
        mtime: nt_time(si.modification_time()),
        ctime: Some(nt_time(si.mft_record_modification_time())),
        crtime: Some(nt_time(si.creation_time())),
    };
    if file.is_directory() {
        st.mode = 0o040777;
        let mut root = None;
        let mut alloc = None;
        let mut attrs = file.attributes();
        let mut n = 0;
        while let Some(item) = attrs.next(io) {
            n += 1;
            if n > 4096 {
                return Err(Error::corrupt("lstat", path, "too many attributes"));
            }
            let item = item.map_err(|e| map_err("lstat", path, e))?;
            let attr = item.to_attribute().map_err(|e| map_err("lstat", path, e))?;
            let is_i30 = attr
                .name()
                .map(|n| n.to_string_lossy() == "$I30")
                .unwrap_or(false);
            match attr.ty() {
                Ok(NtfsAttributeType::IndexRoot) if is_i30 => root = Some(attr.value_length()),
                Ok(NtfsAttributeType::IndexAllocation) if is_i30 => {
                    alloc = Some(attr_sizes(&attr, io, path)?)
                }
                _ => {}
            }
        }
        match (alloc, root) {
            (Some((len, allocated)), _) => {
                st.size = len;
                st.blocks = Some(allocated.div_ceil(512));
            }
            // ntfs-3g shows the size of the allocation only (0 for a directory
            // whose index fits in its record).
            (None, Some(_)) => {}
            (None, None) => {
                return Err(Error::corrupt(
                    "lstat",
                    path,
                    "directory without an $I30 index",
                ));
            }
        }
        return Ok(st);
    }
    let (size, allocated) = data_sizes(file, io, path)?;
    st.nlink = Some(u64::from(file.hard_link_count()));
    st.size = size;
    st.blocks = Some(allocated.div_ceil(512));
    st.mode = 0o100777;
    if si
        .file_attributes()
        .contains(NtfsFileAttributeFlags::SYSTEM)
    {
        match interix(file, io, path, size)? {
            Some(Interix::Symlink(target)) => {
                st.mode = 0o120777;
                st.size = target.len() as u64;
            }
            Some(Interix::Device(t, rdev)) => {
                st.mode = t.mode_bits() | 0o777;
                st.rdev = Some(rdev);
                st.size = 0;
            }
            Some(Interix::Fifo) => {
                st.mode = 0o010777;
            }
            Some(Interix::Socket) => {
                st.mode = 0o140777;
                st.size = 0;
            }
            None => {}
        }
    }
    Ok(st)
}

impl GuestTree for NtfsTree {
    fn lstat_node(&self, path: &str) -> Result<Stat> {
        self.with("lstat", path, 0, |ntfs, io, upcase| {
            let file = lookup(ntfs, io, path, upcase)?;
            stat_file(&file, io, path)
        })
    }

    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.with("read_dir", path, 0, |ntfs, io, upcase| {
            let dir = lookup(ntfs, io, path, upcase)?;
            if !dir.is_directory() {
                return Err(Error::new(
                    ErrorKind::NotADirectory,
                    "read_dir",
                    path,
                    "not a directory",
                ));
            }
            let mut out = Vec::new();
            for e in list(&dir, io, path)? {
                if e.namespace == NtfsFileNamespace::Dos {
                    continue;
                }
                let t = if e.is_dir {
                    FileType::Directory
                } else if e.system {
                    // An interix special file: its type is in its data.
                    let f = ntfs
                        .file(io, e.record)
                        .map_err(|err| map_err("read_dir", path, err))?;
                    stat_file(&f, io, path)?.file_type()
                } else {
                    FileType::Regular
                };
                out.push(DirEntry::new(e.name, t));
            }
            Ok(out)
        })
    }

    fn readlink_node(&self, path: &str) -> Result<String> {
        self.with("readlink", path, 0, |ntfs, io, upcase| {
            let file = lookup(ntfs, io, path, upcase)?;
            let (size, _) = data_sizes(&file, io, path)?;
            match interix(&file, io, path, size)? {
                Some(Interix::Symlink(t)) => Ok(t),
                _ => Err(Error::new(
                    ErrorKind::NotASymlink,
                    "readlink",
                    path,
                    "not a symbolic link",
                )),
            }
        })
    }

    /// Named data streams, as ntfs-3g shows them by default
    /// (`streams_interface=xattr`): `user.NAME` with the stream's bytes; a
    /// stream larger than 64 KiB (more than an extended attribute may hold)
    /// is left out.
    fn xattrs_node(&self, path: &str) -> Result<Vec<crate::stat::Xattr>> {
        self.with("lgetxattrs", path, 0, |ntfs, io, upcase| {
            let file = lookup(ntfs, io, path, upcase)?;
            let mut out = Vec::new();
            let mut attrs = file.attributes();
            let mut n = 0;
            while let Some(item) = attrs.next(io) {
                n += 1;
                if n > 4096 {
                    return Err(Error::corrupt("lgetxattrs", path, "too many attributes"));
                }
                let item = item.map_err(|e| map_err("lgetxattrs", path, e))?;
                let attr = item
                    .to_attribute()
                    .map_err(|e| map_err("lgetxattrs", path, e))?;
                if !matches!(attr.ty(), Ok(NtfsAttributeType::Data)) {
                    continue;
                }
                let name = attr
                    .name()
                    .map_err(|e| map_err("lgetxattrs", path, e))?
                    .to_string_lossy();
                if name.is_empty() || attr.value_length() > MAX_STREAM_XATTR {
                    continue;
                }
                let mut value = attr.value(io).map_err(|e| map_err("lgetxattrs", path, e))?;
                let mut data = vec![0u8; value.len() as usize];
                let mut done = 0;
                while done < data.len() {
                    let k = value
                        .read(io, &mut data[done..])
                        .map_err(|e| map_err("lgetxattrs", path, e))?;
                    if k == 0 {
                        break;
                    }
                    done += k;
                }
                data.truncate(done);
                out.push(crate::stat::Xattr {
                    name: format!("user.{name}"),
                    value: data,
                });
            }
            Ok(out)
        })
    }

    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.with("read", path, buf.len() as u64, |ntfs, io, upcase| {
            let file = lookup(ntfs, io, path, upcase)?;
            if file.is_directory() {
                return Err(Error::new(
                    ErrorKind::IsADirectory,
                    "read",
                    path,
                    "is a directory",
                ));
            }
            read_data(&file, io, path, offset, buf)
        })
    }
}
