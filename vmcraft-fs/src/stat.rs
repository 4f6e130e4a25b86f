//! What the read trait answers with: [`Stat`] (as `lstat(2)` shows an inode),
//! [`FileType`], [`Timespec`], [`DirEntry`] and [`Xattr`].

/// The type of a file, as the `S_IFMT` bits of a mode say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// Something the format stores that none of the above names.
    Unknown,
}

impl FileType {
    /// The `S_IFMT` bits of this type (0 for [`FileType::Unknown`]).
    ///
    /// ```
    /// use vmcraft_fs::FileType;
    /// assert_eq!(FileType::Directory.mode_bits(), 0o040000);
    /// assert_eq!(FileType::from_mode(0o120777), FileType::Symlink);
    /// ```
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => 0o100000,
            FileType::Directory => 0o040000,
            FileType::Symlink => 0o120000,
            FileType::CharDevice => 0o020000,
            FileType::BlockDevice => 0o060000,
            FileType::Fifo => 0o010000,
            FileType::Socket => 0o140000,
            FileType::Unknown => 0,
        }
    }

    /// The type a mode's `S_IFMT` bits name.
    pub fn from_mode(mode: u32) -> Self {
        match mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            _ => FileType::Unknown,
        }
    }

    /// The one-letter type libguestfs's `readdir` reports (`r`, `d`, `l`, `c`,
    /// `b`, `f`, `s`, `u`).
    ///
    /// ```
    /// use vmcraft_fs::FileType;
    /// assert_eq!(FileType::Regular.libguestfs_char(), 'r');
    /// assert_eq!(FileType::Fifo.libguestfs_char(), 'f');
    /// ```
    pub fn libguestfs_char(self) -> char {
        match self {
            FileType::Regular => 'r',
            FileType::Directory => 'd',
            FileType::Symlink => 'l',
            FileType::CharDevice => 'c',
            FileType::BlockDevice => 'b',
            FileType::Fifo => 'f',
            FileType::Socket => 's',
            FileType::Unknown => 'u',
        }
    }
}

/// A point in time: seconds since the epoch (negative before 1970) and
/// nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timespec {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub sec: i64,
    /// Nanoseconds, 0..1_000_000_000.
    pub nsec: u32,
}

impl Timespec {
    /// A time from seconds and nanoseconds.
    ///
    /// ```
    /// use vmcraft_fs::Timespec;
    /// assert_eq!(Timespec::new(1, 5).nsec, 5);
    /// ```
    pub const fn new(sec: i64, nsec: u32) -> Self {
        Timespec { sec, nsec }
    }
}

/// What `lstat(2)` shows of an inode, as the Linux driver of the filesystem
/// would show it through a default mount.
///
/// Fields a reader cannot know are `None` (see each reader's docs); everything
/// else is always filled.
///
/// ```
/// use vmcraft_fs::{FileType, Stat};
/// let st = Stat { mode: 0o100644, size: 3, ..Stat::default() };
/// assert_eq!(st.file_type(), FileType::Regular);
/// assert_eq!(st.perm(), 0o644);
/// assert!(st.is_file() && !st.is_dir());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Inode number (`None` where the reader has no stable number to give).
    pub ino: Option<u64>,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Number of hard links (`None` where the reader cannot count them).
    pub nlink: Option<u64>,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number of a device node (`None` where unknown).
    pub rdev: Option<u64>,
    /// Size in bytes (`st_size`: a symlink's is the target's length).
    pub size: u64,
    /// 512-byte blocks allocated (`None` where unknown).
    pub blocks: Option<u64>,
    /// Last access.
    pub atime: Timespec,
    /// Last modification of the content.
    pub mtime: Timespec,
    /// Last change of the inode (`None` where unknown).
    pub ctime: Option<Timespec>,
    /// Creation (birth) time, where the format keeps one.
    pub crtime: Option<Timespec>,
}

impl Stat {
    /// The file type of the mode.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    /// The permission bits (`mode & 0o7777`).
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }

    /// A directory?
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }

    /// A regular file?
    pub fn is_file(&self) -> bool {
        self.file_type() == FileType::Regular
    }

    /// A symbolic link?
    pub fn is_symlink(&self) -> bool {
        self.file_type() == FileType::Symlink
    }
}

/// One entry of a directory (`.` and `..` are not listed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DirEntry {
    /// The name (non-UTF-8 bytes replaced by U+FFFD).
    pub name: String,
    /// Its type, as the directory or the inode says.
    pub file_type: FileType,
}

impl DirEntry {
    /// An entry named `name` of type `file_type`.
    ///
    /// ```
    /// use vmcraft_fs::{DirEntry, FileType};
    /// let e = DirEntry::new("etc", FileType::Directory);
    /// assert_eq!(e.file_type, FileType::Directory);
    /// ```
    pub fn new(name: impl Into<String>, file_type: FileType) -> Self {
        DirEntry {
            name: name.into(),
            file_type,
        }
    }
}

/// An extended attribute: its full name (`user.x`, `security.selinux`,
/// `trusted.y`, `system.posix_acl_access`) and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xattr {
    /// Full name, with its namespace prefix.
    pub name: String,
    /// The raw value.
    pub value: Vec<u8>,
}
