//! [`FatTree`]: FAT12, FAT16 and FAT32 read in-process through `fatfs`, shown as
//! the Linux vfat driver shows them through a default mount by root.
//!
//! Names: the long (VFAT) name where there is one; otherwise the 8.3 short
//! name with the Windows NT case bits honoured (byte 12 of the entry: 0x08 the
//! base name is lower case, 0x10 the extension is), so an entry that mtools or
//! Windows wrote as `grubx64.efi` is `grubx64.efi`, as Linux shows it, not
//! `GRUBX64.EFI`. Short names are decoded from code page 437, vfat's default,
//! and the case bits apply to every letter through code page 437's lower-case
//! table, as Linux applies them (`ÜBER.TXT` with the bit set is `über.txt`;
//! `fatfs` and mtools lower ASCII letters only): listings take their names
//! from the raw entries (`fatraw`). Lookups are case-insensitive, as vfat's
//! are.
//!
//! Metadata, as vfat with its defaults (`uid=0,gid=0`, `fmask` and `dmask`
//! from a umask of 022, no `showexec`): directories `drwxr-xr-x`, files
//! `-rwxr-xr-x`, files with the read-only attribute without write bits; owner
//! and group 0; the modification time (2-second steps) also as the change
//! time; the access date at midnight; the creation time to the centisecond;
//! times read as UTC (vfat's default on a host whose kernel time zone is UTC);
//! the root directory's times are the epoch. A directory's link count is its
//! subdirectories plus two; its size is its cluster chain (the FAT12/16 root:
//! its fixed region), read from the raw entries. Inode numbers are `None`
//! (vfat makes them up at run time).
//!
//! Bounded: every call gets a read budget (what `fatfs` may read from the disk
//! for it), so a cluster chain that loops ends in an [`ErrorKind::Corrupt`]
//! error instead of a hang, and a directory holds at most [`MAX_DIR_ENTRIES`]
//! entries (65536, the format's own limit).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use fatfs::{Dir, FileSystem, FsOptions};

use crate::block::ReadAt;
use crate::error::{Error, ErrorKind, Result};
use crate::fatraw::{DirLoc, FatRaw};
use crate::guard::Guard;
use crate::stat::{DirEntry, FileType, Stat, Timespec};
use crate::tree::GuestTree;

/// Most entries one FAT directory may hold (the FAT specification's 65536).
pub const MAX_DIR_ENTRIES: usize = 65536;

/// The umask vfat's `fmask` and `dmask` default to when root mounts.
const UMASK: u32 = 0o022;

/// The disk as `fatfs` wants it (`Read + Write + Seek`): reads only, within the
/// budget of the running call ([`BUDGET`]); every write fails.
struct FatIo {
    disk: Arc<dyn ReadAt>,
    pos: u64,
    /// Recently read 4 KiB pages: fatfs reads a directory entry (32 bytes)
    /// or a FAT entry (2-4 bytes) at a time.
    cache: std::collections::HashMap<u64, Box<[u8]>>,
}

/// The page size of [`FatIo`]'s cache.
const PAGE: u64 = 4096;

/// Most pages [`FatIo`] keeps (1 MiB); the cache is emptied when full.
const CACHE_PAGES: usize = 256;

impl FatIo {
    /// Copy from the page holding `pos` into `buf`; returns the count copied.
    fn read_cached(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.disk.size();
        let page = self.pos / PAGE;
        if !self.cache.contains_key(&page) {
            if self.cache.len() >= CACHE_PAGES {
                self.cache.clear();
            }
            let start = page * PAGE;
            let len = PAGE.min(size - start) as usize;
            let mut data = vec![0u8; len].into_boxed_slice();
            self.disk
                .read_at(start, &mut data)
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.cache.insert(page, data);
        }
        let data = &self.cache[&page];
        let off = (self.pos - page * PAGE) as usize;
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }
}

thread_local! {
    /// What the call running on this thread may still read from the disk.
    /// `fatfs` owns the disk adapter and gives no way to reach it, and every
    /// call runs on its caller's thread with the filesystem locked, so the
    /// budget of the call lives here.
    static BUDGET: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Read for FatIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.disk.size();
        if self.pos >= size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - self.pos) as usize;
        let left = BUDGET.with(|b| b.get());
        if n as u64 > left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "read budget exhausted (a cluster chain that loops?)",
            ));
        }
        BUDGET.with(|b| b.set(left - n as u64));
        let n = if n as u64 >= PAGE {
            // Large reads (file content) go straight to the disk.
            self.disk
                .read_at(self.pos, &mut buf[..n])
                .map_err(|e| io::Error::other(e.to_string()))?;
            n
        } else {
            self.read_cached(&mut buf[..n])?
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for FatIo {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "in-process filesystems are read-only",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for FatIo {
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

/// A FAT12/16/32 filesystem read in-process.
///
/// ```no_run
/// use std::sync::Arc;
/// use vmcraft_fs::{FatTree, GuestTree, RawFile};
/// let esp = FatTree::open(Arc::new(RawFile::open("esp.img")?))?;
/// for e in esp.read_dir("/EFI/debian")? {
///     println!("{}", e.name); // grubx64.efi, shimx64.efi, ...
/// }
/// # Ok::<(), vmcraft_fs::Error>(())
/// ```
pub struct FatTree {
    fs: Mutex<SendFat>,
    /// The raw entries, for what fatfs keeps private (case bits beyond ASCII,
    /// directory sizes).
    raw: Option<FatRaw>,
    guard: Guard,
    cluster_size: u64,
    name: String,
}

impl std::fmt::Debug for FatTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FatTree").field("name", &self.name).finish()
    }
}

/// Code page 437, the OEM code page of short names that Linux's vfat uses by
/// default (`codepage=437`): bytes 0x80-0xFF of a short name decode as
/// Linux shows them, where `fatfs`'s own converter gives U+FFFD.
#[derive(Debug)]
pub(crate) struct Cp437;

/// Bytes 0x80..=0xFF of code page 437.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

impl fatfs::OemCpConverter for Cp437 {
    fn decode(&self, oem_char: u8) -> char {
        if oem_char < 0x80 {
            oem_char as char
        } else {
            CP437_HIGH
                .chars()
                .nth(usize::from(oem_char - 0x80))
                .unwrap_or('\u{fffd}')
        }
    }

    fn encode(&self, uni_char: char) -> Option<u8> {
        if uni_char.is_ascii() {
            return Some(uni_char as u8);
        }
        CP437_HIGH
            .chars()
            .position(|c| c == uni_char)
            .map(|i| 0x80 + i as u8)
    }
}

pub(crate) static CP437: Cp437 = Cp437;

/// `fatfs::FileSystem` is not `Send` only because its options hold
/// `&'static dyn` references to the code-page converter and time provider,
/// whose traits lack a `Sync` bound. The options used here are references to
/// stateless unit-struct statics (this module's `Cp437` and `fatfs`'s
/// `DefaultTimeProvider`) with no interior mutability;
/// everything else it holds (`RefCell`s, `Cell`s, the `FatIo`) is `Send`.
struct SendFat(FileSystem<FatIo>);

// SAFETY: see `SendFat`: the only non-`Send` parts are shared references to
// stateless statics, which any thread may use; the filesystem itself is only
// used with the `Mutex` in `FatTree` held.
unsafe impl Send for SendFat {}

/// What one call may read from the disk: enough for a full directory
/// (2 MiB) at every level of a path plus the FAT entries on the way, and for
/// the bytes asked for.
fn budget(path: &str, extra: u64) -> u64 {
    let depth = path.split('/').filter(|c| !c.is_empty()).count() as u64 + 1;
    depth * (4 << 20) + extra.saturating_mul(3) + (1 << 20)
}

impl FatTree {
    /// Read the FAT filesystem on `disk` (a whole disk or a partition window).
    pub fn open(disk: Arc<dyn ReadAt>) -> Result<Self> {
        let name = disk.name();
        let guard = Guard::default();
        let raw = FatRaw::new(disk.clone()).ok();
        let io = FatIo {
            disk,
            pos: 0,
            cache: Default::default(),
        };
        let fs = guard.run("open_fs", &name, || {
            BUDGET.with(|b| b.set(16 << 20));
            FileSystem::new(io, FsOptions::new().oem_cp_converter(&CP437)).map_err(|e| {
                Error::new(
                    ErrorKind::Corrupt,
                    "open_fs",
                    &name,
                    format!(
                        "not a FAT filesystem: {}",
                        crate::error::lower_first(&e.to_string())
                    ),
                )
                .with_source(e)
            })
        })?;
        let cluster_size = u64::from(fs.cluster_size());
        Ok(FatTree {
            fs: Mutex::new(SendFat(fs)),
            raw,
            guard,
            cluster_size,
            name,
        })
    }

    /// The volume label from the boot sector, trailing blanks removed.
    pub fn label(&self) -> Result<String> {
        self.with("label", "", 0, |fs| {
            Ok(fs.volume_label().trim_end().to_string())
        })
    }

    /// The volume serial number, as blkid prints it (`ABCD-1234`).
    pub fn uuid(&self) -> Result<String> {
        self.with("uuid", "", 0, |fs| {
            let id = fs.volume_id();
            Ok(format!("{:04X}-{:04X}", id >> 16, id & 0xffff))
        })
    }

    fn with<T>(
        &self,
        call: &'static str,
        path: &str,
        extra: u64,
        f: impl FnOnce(&FileSystem<FatIo>) -> Result<T>,
    ) -> Result<T> {
        let fs = self
            .fs
            .lock()
            .map_err(|_| Error::corrupt(call, path, "the filesystem reader failed earlier"))?;
        self.guard.run(call, path, || {
            BUDGET.with(|b| b.set(budget(path, extra)));
            f(&fs.0)
        })
    }
}

fn io_err(call: &'static str, path: &str, e: io::Error) -> Error {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::Other => ErrorKind::Io,
        _ => ErrorKind::Corrupt,
    };
    Error::new(kind, call, path, crate::error::lower_first(&e.to_string())).with_source(e)
}

type FatDir<'a> = Dir<'a, FatIo>;
type FatEntry<'a> = fatfs::DirEntry<'a, FatIo>;

/// The entries of a directory, `.` and `..` and volume labels left out, at most
/// [`MAX_DIR_ENTRIES`].
fn entries<'a>(dir: &FatDir<'a>, path: &str) -> Result<Vec<FatEntry<'a>>> {
    let mut out = Vec::new();
    for (i, e) in dir.iter().enumerate() {
        if i >= MAX_DIR_ENTRIES {
            return Err(Error::corrupt(
                "read_dir",
                path,
                format!(
                    "more than {MAX_DIR_ENTRIES} directory entries (a cluster chain that loops?)"
                ),
            ));
        }
        let e = e.map_err(|e| io_err("read_dir", path, e))?;
        if e.attributes().contains(fatfs::FileAttributes::VOLUME_ID) {
            continue;
        }
        let name = e.file_name();
        if name == "." || name == ".." {
            continue;
        }
        out.push(e);
    }
    Ok(out)
}

/// vfat's lookups ignore case (Unicode upper case, as fatfs and vfat fold).
fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

/// Find the entry a resolved path names: `None` for the root.
fn lookup<'a>(fs: &'a FileSystem<FatIo>, path: &str) -> Result<Option<FatEntry<'a>>> {
    let mut dir = fs.root_dir();
    let mut found: Option<FatEntry<'a>> = None;
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, c) in comps.iter().enumerate() {
        let list = entries(&dir, path)?;
        let e = list
            .into_iter()
            .find(|e| same_name(&e.file_name(), c) || same_name(&e.short_file_name(), c))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    "lstat",
                    path,
                    "no such file or directory",
                )
            })?;
        if i + 1 < comps.len() {
            if !e.is_dir() {
                return Err(Error::new(
                    ErrorKind::NotADirectory,
                    "lstat",
                    path,
                    "not a directory",
                ));
            }
            dir = e.to_dir();
        }
        found = Some(e);
    }
    Ok(found)
}

fn date_time(d: fatfs::Date, t: fatfs::Time) -> Timespec {
    let days = days_from_civil(i64::from(d.year), i64::from(d.month), i64::from(d.day));
    let sec = days * 86400 + i64::from(t.hour) * 3600 + i64::from(t.min) * 60 + i64::from(t.sec);
    Timespec::new(sec, u32::from(t.millis) * 1_000_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn perm(attrs: fatfs::FileAttributes, dir: bool) -> u32 {
    let mut mode = 0o777;
    if attrs.contains(fatfs::FileAttributes::READ_ONLY) && !dir {
        mode &= !0o222;
    }
    mode & !UMASK
}

impl FatTree {
    fn stat_entry(&self, e: &FatEntry<'_>, path: &str) -> Result<Stat> {
        let dir = e.is_dir();
        let mtime = {
            let m = e.modified();
            // vfat reads the modification time without its centiseconds.
            let mut t = date_time(m.date, m.time);
            t.nsec = 0;
            t
        };
        let a = e.accessed();
        let atime = date_time(
            a,
            fatfs::Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        );
        let c = e.created();
        let nlink = if dir {
            let sub = entries(&e.to_dir(), path)?;
            2 + sub.iter().filter(|s| s.is_dir()).count() as u64
        } else {
            1
        };
        let size = if dir { 0 } else { e.len() };
        Ok(Stat {
            ino: None,
            mode: if dir { 0o040000 } else { 0o100000 } | perm(e.attributes(), dir),
            nlink: Some(nlink),
            uid: 0,
            gid: 0,
            rdev: Some(0),
            size,
            blocks: if dir {
                None
            } else {
                Some(size.div_ceil(self.cluster_size) * self.cluster_size / 512)
            },
            atime,
            mtime,
            ctime: Some(mtime),
            crtime: Some(date_time(c.date, c.time)),
        })
    }
}

impl GuestTree for FatTree {
    fn lstat_node(&self, path: &str) -> Result<Stat> {
        let mut st = self.lstat_fatfs(path)?;
        if st.is_dir()
            && let Some(size) = self.raw_dir_size(path)
        {
            st.size = size;
            st.blocks = Some(size.div_ceil(self.cluster_size) * self.cluster_size / 512);
        }
        Ok(st)
    }

    fn file_type_node(&self, path: &str) -> Result<FileType> {
        self.with("lstat", path, 0, |fs| {
            Ok(match lookup(fs, path)? {
                Some(e) if !e.is_dir() => FileType::Regular,
                _ => FileType::Directory,
            })
        })
    }

    fn read_dir_node(&self, path: &str) -> Result<Vec<DirEntry>> {
        let listed = self.read_dir_fatfs(path)?;
        // The names as Linux shows them, where the raw entries can be read
        // and hold the same entries.
        if let Some(raw) = &self.raw
            && let Ok(Ok(entries)) = self.guard.run("read_dir", path, || {
                Ok(raw.lookup(path).and_then(|e| {
                    let loc = match e {
                        None => raw.root(),
                        Some(e) if e.first_cluster == 0 => raw.root(),
                        Some(e) => DirLoc::Chain(e.first_cluster),
                    };
                    raw.entries(loc)
                }))
            })
            && entries.len() == listed.len()
        {
            return Ok(entries
                .iter()
                .map(|e| {
                    let t = if e.attr & 0x10 != 0 {
                        FileType::Directory
                    } else {
                        FileType::Regular
                    };
                    DirEntry::new(e.name.clone(), t)
                })
                .collect());
        }
        Ok(listed)
    }

    fn readlink_node(&self, path: &str) -> Result<String> {
        Err(Error::new(
            ErrorKind::NotASymlink,
            "readlink",
            path,
            "not a symbolic link",
        ))
    }

    fn read_at_node(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.read_at_fatfs(path, offset, buf)
    }
}

impl FatTree {
    /// A directory's size as vfat shows it (its cluster chain), when the raw
    /// entries can tell.
    fn raw_dir_size(&self, path: &str) -> Option<u64> {
        let raw = self.raw.as_ref()?;
        let r = self.guard.run("lstat", path, || {
            Ok(raw.lookup(path).and_then(|e| {
                let loc = match e {
                    None => raw.root(),
                    Some(e) => DirLoc::Chain(e.first_cluster),
                };
                raw.dir_size(loc)
            }))
        });
        r.ok()?.ok()
    }

    fn lstat_fatfs(&self, path: &str) -> Result<Stat> {
        self.with("lstat", path, 0, |fs| match lookup(fs, path)? {
            Some(e) => self.stat_entry(&e, path),
            None => {
                let sub = entries(&fs.root_dir(), path)?;
                Ok(Stat {
                    ino: Some(1),
                    mode: 0o040000 | (0o777 & !UMASK),
                    nlink: Some(2 + sub.iter().filter(|s| s.is_dir()).count() as u64),
                    rdev: Some(0),
                    // vfat's root has no entry of its own: every time is the epoch.
                    ctime: Some(Timespec::default()),
                    ..Stat::default()
                })
            }
        })
    }

    fn read_dir_fatfs(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.with("read_dir", path, 0, |fs| {
            let dir = match lookup(fs, path)? {
                None => fs.root_dir(),
                Some(e) if e.is_dir() => e.to_dir(),
                Some(_) => {
                    return Err(Error::new(
                        ErrorKind::NotADirectory,
                        "read_dir",
                        path,
                        "not a directory",
                    ));
                }
            };
            Ok(entries(&dir, path)?
                .iter()
                .map(|e| {
                    let t = if e.is_dir() {
                        FileType::Directory
                    } else {
                        FileType::Regular
                    };
                    DirEntry::new(e.file_name(), t)
                })
                .collect())
        })
    }

    fn read_at_fatfs(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let extra = buf.len() as u64 + offset / 128;
        self.with("read", path, extra, |fs| {
            let e = match lookup(fs, path)? {
                Some(e) if !e.is_dir() => e,
                _ => {
                    return Err(Error::new(
                        ErrorKind::IsADirectory,
                        "read",
                        path,
                        "is a directory",
                    ));
                }
            };
            if offset >= e.len() {
                return Ok(0);
            }
            let mut f = e.to_file();
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| io_err("read", path, e))?;
            let want = buf.len().min((e.len() - offset) as usize);
            let mut done = 0;
            while done < want {
                let n = f
                    .read(&mut buf[done..want])
                    .map_err(|e| io_err("read", path, e))?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            Ok(done)
        })
    }
}
