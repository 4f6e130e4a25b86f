//! Windows registry hives, read and written through libhivex, with a safe,
//! bounded API.
//!
//! A [`Hive`] is one open hive file (`SYSTEM`, `SOFTWARE`, `NTUSER.DAT`, ...).
//! Keys are [`Node`]s and their (name, type, data) entries are [`Value`]s, both
//! small handles valid for the hive they came from, as libhivex's own. The
//! calls are libhivex's (and libguestfs's `hivex-*`): [`Hive::root`],
//! [`Hive::node_name`], [`Hive::node_children`], [`Hive::node_get_child`],
//! [`Hive::node_parent`], [`Hive::node_values`], [`Hive::node_get_value`],
//! [`Hive::value_key`], [`Hive::value_type`], [`Hive::value_value`],
//! [`Hive::value_string`], [`Hive::value_multiple_strings`],
//! [`Hive::value_dword`], [`Hive::value_qword`]; the writes
//! [`Hive::node_add_child`], [`Hive::node_delete_child`],
//! [`Hive::node_set_value`], [`Hive::node_set_values`] change the hive in memory
//! and [`Hive::commit`] writes it out. For inspection-style lookups,
//! [`Hive::get_path`] follows a key path case-insensitively (as Windows does)
//! and [`Hive::walk`] visits a subtree with a depth and node limit and refuses
//! cycles.
//!
//! The hive is untrusted guest data. Before libhivex sees a file its base block
//! and bins are checked in Rust ([`layout`]); the file size is capped at
//! [`MAX_HIVE_SIZE`]; what is copied out (children, values, value data, string
//! lists) is capped ([`MAX_CHILDREN`], [`MAX_VALUES`], [`MAX_VALUE_LEN`]);
//! libhivex's `HIVEX_OPEN_UNSAFE` heuristics are only used when asked for.
//!
//! ```
//! use vmcraft_hivex::{Hive, SetValue};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("SOFTWARE");
//! vmcraft_hivex::testing::write_blank_hive(&path)?;
//! let mut hive = Hive::open(&path, true)?;
//! let root = hive.root()?;
//! let cv = hive.node_add_child(root, "CurrentVersion")?;
//! hive.node_set_value(cv, &SetValue::string("ProductName", "Windows 10 Pro"))?;
//! hive.commit(None)?;
//! drop(hive);
//!
//! let hive = Hive::open(&path, false)?;
//! let cv = hive.get_path(&["currentversion"])?.expect("key");
//! let v = hive.node_get_value(cv, "productname")?.expect("value");
//! assert_eq!(hive.value_string(v)?, "Windows 10 Pro");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod error;
mod ffi;
pub mod layout;
#[doc(hidden)]
pub mod testing;

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

pub use error::{Error, ErrorKind};

/// The result of this crate's calls.
pub type Result<T> = std::result::Result<T, Error>;

/// The largest hive file opened: 1 GiB. Real hives are far smaller (a large
/// `SOFTWARE` is a few hundred MiB); libhivex maps the whole file, or reads it
/// into memory when opened for writing.
pub const MAX_HIVE_SIZE: u64 = 1 << 30;
/// The most children of one key copied out (libhivex 1.3.23 refuses more than
/// 70 000 subkeys itself).
pub const MAX_CHILDREN: usize = 100_000;
/// The most values of one key copied out (libhivex refuses more than 110 000).
pub const MAX_VALUES: usize = 200_000;
/// The longest value data copied out: 8 000 000 bytes, libhivex's own
/// `HIVEX_MAX_VALUE_LEN`.
pub const MAX_VALUE_LEN: usize = 8_000_000;
/// How long a trial run of a libhivex write may take in its child process
/// (see [`Hive::node_add_child`]): far more than any real write needs.
pub const TRIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The most strings of one `REG_MULTI_SZ` value copied out.
pub const MAX_STRINGS: usize = 1_000_000;

/// A key of a hive: libhivex's node handle (the offset of its cell in the file).
///
/// ```
/// let n = vmcraft_hivex::Node::from_raw(0x1020);
/// assert_eq!(n.raw(), 0x1020);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node(usize);

impl Node {
    /// The node whose handle is `raw` (as libguestfs's `hivex-*` calls take it).
    /// Whether it is a key of a hive is checked by each call that uses it.
    pub fn from_raw(raw: u64) -> Node {
        Node(usize::try_from(raw).unwrap_or(usize::MAX))
    }
    /// The handle as a number.
    pub fn raw(self) -> u64 {
        self.0 as u64
    }
}

/// A value of a key: libhivex's value handle (the offset of its cell).
///
/// ```
/// let v = vmcraft_hivex::Value::from_raw(0x1340);
/// assert_eq!(v.raw(), 0x1340);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(usize);

impl Value {
    /// The value whose handle is `raw`; checked by each call that uses it.
    pub fn from_raw(raw: u64) -> Value {
        Value(usize::try_from(raw).unwrap_or(usize::MAX))
    }
    /// The handle as a number.
    pub fn raw(self) -> u64 {
        self.0 as u64
    }
}

/// A value's type, as the registry numbers it (`REG_SZ` is 1, `REG_DWORD` 4,
/// ...). Any number may occur in a hive; the constants name the known ones.
///
/// ```
/// use vmcraft_hivex::ValueType;
/// assert_eq!(ValueType::DWORD.0, 4);
/// assert_eq!(ValueType::MULTI_SZ.to_string(), "REG_MULTI_SZ");
/// assert_eq!(ValueType(99).to_string(), "99");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueType(pub u32);

impl ValueType {
    /// No type (`REG_NONE`).
    pub const NONE: ValueType = ValueType(0);
    /// A string, UTF-16LE in practice (`REG_SZ`).
    pub const SZ: ValueType = ValueType(1);
    /// A string with `%VAR%`s to expand (`REG_EXPAND_SZ`).
    pub const EXPAND_SZ: ValueType = ValueType(2);
    /// Bytes (`REG_BINARY`).
    pub const BINARY: ValueType = ValueType(3);
    /// A 32-bit little-endian integer (`REG_DWORD`).
    pub const DWORD: ValueType = ValueType(4);
    /// A 32-bit big-endian integer (`REG_DWORD_BIG_ENDIAN`).
    pub const DWORD_BIG_ENDIAN: ValueType = ValueType(5);
    /// A link to another key (`REG_LINK`).
    pub const LINK: ValueType = ValueType(6);
    /// A list of strings, each NUL-terminated, then an empty one (`REG_MULTI_SZ`).
    pub const MULTI_SZ: ValueType = ValueType(7);
    /// `REG_RESOURCE_LIST`.
    pub const RESOURCE_LIST: ValueType = ValueType(8);
    /// `REG_FULL_RESOURCE_DESCRIPTOR`.
    pub const FULL_RESOURCE_DESCRIPTOR: ValueType = ValueType(9);
    /// `REG_RESOURCE_REQUIREMENTS_LIST`.
    pub const RESOURCE_REQUIREMENTS_LIST: ValueType = ValueType(10);
    /// A 64-bit little-endian integer (`REG_QWORD`).
    pub const QWORD: ValueType = ValueType(11);
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 12] = [
            "REG_NONE",
            "REG_SZ",
            "REG_EXPAND_SZ",
            "REG_BINARY",
            "REG_DWORD",
            "REG_DWORD_BIG_ENDIAN",
            "REG_LINK",
            "REG_MULTI_SZ",
            "REG_RESOURCE_LIST",
            "REG_FULL_RESOURCE_DESCRIPTOR",
            "REG_RESOURCE_REQUIREMENTS_LIST",
            "REG_QWORD",
        ];
        match NAMES.get(self.0 as usize) {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A value to set on a key: its name (`""` is the key's default value, which
/// `.reg` files write `@`), its type and its data as stored.
///
/// ```
/// use vmcraft_hivex::{SetValue, ValueType};
/// let v = SetValue::string("ImagePath", "a");
/// assert_eq!(v.data, b"a\0\0\0");
/// assert_eq!(SetValue::dword("Start", 3).data, 3u32.to_le_bytes());
/// assert_eq!(SetValue::multi_string("Owners", &["x"]).data, b"x\0\0\0\0\0");
/// assert_eq!(SetValue::multi_string("Owners", &["x"]).t, ValueType::MULTI_SZ);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetValue {
    /// The value's name.
    pub key: String,
    /// Its type.
    pub t: ValueType,
    /// Its data, as stored in the hive.
    pub data: Vec<u8>,
}

/// `s` as UTF-16LE with a terminating NUL, as Windows stores `REG_SZ`.
fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

impl SetValue {
    /// Any type and data.
    pub fn new(key: &str, t: ValueType, data: &[u8]) -> SetValue {
        SetValue {
            key: key.into(),
            t,
            data: data.to_vec(),
        }
    }
    /// A `REG_SZ` (UTF-16LE, NUL-terminated).
    pub fn string(key: &str, s: &str) -> SetValue {
        SetValue::new(key, ValueType::SZ, &utf16z(s))
    }
    /// A `REG_EXPAND_SZ` (UTF-16LE, NUL-terminated).
    pub fn expand_string(key: &str, s: &str) -> SetValue {
        SetValue::new(key, ValueType::EXPAND_SZ, &utf16z(s))
    }
    /// A `REG_MULTI_SZ`: each string NUL-terminated, then an empty string.
    pub fn multi_string(key: &str, list: &[&str]) -> SetValue {
        let mut data: Vec<u8> = list.iter().flat_map(|s| utf16z(s)).collect();
        data.extend_from_slice(&[0, 0]);
        SetValue::new(key, ValueType::MULTI_SZ, &data)
    }
    /// A `REG_DWORD` (little-endian).
    pub fn dword(key: &str, n: u32) -> SetValue {
        SetValue::new(key, ValueType::DWORD, &n.to_le_bytes())
    }
    /// A `REG_QWORD` (little-endian).
    pub fn qword(key: &str, n: u64) -> SetValue {
        SetValue::new(key, ValueType::QWORD, &n.to_le_bytes())
    }
    /// A `REG_BINARY`.
    pub fn binary(key: &str, data: &[u8]) -> SetValue {
        SetValue::new(key, ValueType::BINARY, data)
    }
}

/// How [`Hive::open_with`] opens a hive.
///
/// ```
/// let o = vmcraft_hivex::OpenOptions { write: true, ..Default::default() };
/// assert!(!o.unsafe_heuristics);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Allow changes and [`Hive::commit`] (`HIVEX_OPEN_WRITE`).
    pub write: bool,
    /// libhivex's verbose messages on standard error (`HIVEX_OPEN_VERBOSE`).
    pub verbose: bool,
    /// libhivex's debug messages on standard error (`HIVEX_OPEN_DEBUG`).
    pub debug: bool,
    /// libhivex's heuristics for reading corrupt hives (`HIVEX_OPEN_UNSAFE`):
    /// bad bins are skipped instead of refused. Off unless asked for.
    pub unsafe_heuristics: bool,
}

/// Limits of [`Hive::walk`].
///
/// ```
/// let l = vmcraft_hivex::WalkLimits::default();
/// assert_eq!(l.max_depth, 512);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLimits {
    /// The deepest key visited below the start (Windows allows 512 levels).
    pub max_depth: usize,
    /// The most keys visited.
    pub max_nodes: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_depth: 512,
            max_nodes: 1_000_000,
        }
    }
}

/// An open hive. Not `Sync` (libhivex handles are not safe to share between
/// threads); `Send`, since libhivex keeps no per-thread state in a handle.
/// Dropping it closes the handle; changes not committed are lost.
#[derive(Debug)]
pub struct Hive {
    h: NonNull<ffi::hive_h>,
    path: PathBuf,
    size: u64,
    writable: bool,
}

// SAFETY: a libhivex handle is plain heap memory (and a mapping) owned by this
// value; libhivex has no thread-local or global state tied to the thread that
// opened it (its iconv cache is locked). Moving it to another thread is sound;
// sharing it is not, so `Hive` is not `Sync` (`NonNull` is neither by default).
unsafe impl Send for Hive {}

/// The thread's errno, set to 0 (to tell "not found" from an error when
/// libhivex returns 0 for both).
fn clear_errno() {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = 0 }
}

fn errno_now() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A C string of `s`, refusing an embedded NUL.
fn cstring(op: &'static str, what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::new(
            ErrorKind::Invalid,
            op,
            format!("{what} {s:?} contains a NUL byte"),
        )
    })
}

/// Copy and free a `malloc`ed C string (bytes; libhivex gives UTF-8).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string from `malloc`.
unsafe fn take_string(p: *mut libc::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: allocated by libhivex with malloc, not used after.
    unsafe { libc::free(p.cast()) };
    Some(s)
}

/// Copy and free a `malloc`ed, 0-terminated array of handles, at most `max`.
///
/// # Safety
/// `p` is a 0-terminated array from `malloc`.
unsafe fn take_handles(p: *mut usize, max: usize) -> std::result::Result<Vec<usize>, usize> {
    let mut v = Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: within the array until its terminating 0.
        let h = unsafe { *p.add(i) };
        if h == 0 {
            break;
        }
        if v.len() == max {
            // SAFETY: from malloc.
            unsafe { libc::free(p.cast()) };
            return Err(max);
        }
        v.push(h);
        i += 1;
    }
    // SAFETY: from malloc.
    unsafe { libc::free(p.cast()) };
    Ok(v)
}

impl Hive {
    /// Open the hive file `path`, for reading or also for writing (libhivex's
    /// `HIVEX_OPEN_WRITE`); see [`Hive::open_with`].
    ///
    /// ```
    /// use vmcraft_hivex::{ErrorKind, Hive};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("bad");
    /// std::fs::write(&path, vec![0u8; 8192])?;
    /// let err = Hive::open(&path, false).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Corrupt);
    /// assert!(err.to_string().ends_with("not a windows registry hive (no regf signature)"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, write: bool) -> Result<Hive> {
        Hive::open_with(
            path,
            OpenOptions {
                write,
                ..Default::default()
            },
        )
    }

    /// Open the hive file `path` with these options. The file must be a regular
    /// file of at most [`MAX_HIVE_SIZE`] bytes whose base block and bins pass
    /// [`layout`]'s checks; then libhivex opens it (and checks the cells).
    /// libhivex opens by name: give it a path nobody else can redirect (a
    /// private copy, or `/proc/self/fd/N` of a file already open).
    ///
    /// ```
    /// use vmcraft_hivex::{Hive, OpenOptions};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("SYSTEM");
    /// vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let hive = Hive::open_with(&path, OpenOptions::default())?;
    /// assert_eq!(hive.root()?.raw(), 0x1020);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, opts: OpenOptions) -> Result<Hive> {
        const OP: &str = "hivex_open";
        let path = path.as_ref();
        let name = path.display().to_string();
        // O_NONBLOCK: a FIFO at the path must not hang the open; it is then
        // refused as not a regular file.
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(path)
                .map_err(|e| Error::io(OP, &name, &e))?
        };
        let meta = file.metadata().map_err(|e| Error::io(OP, &name, &e))?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::Invalid,
                OP,
                format!("{name}: not a regular file"),
            ));
        }
        let size = meta.len();
        if size > MAX_HIVE_SIZE {
            return Err(Error::new(
                ErrorKind::TooLarge,
                OP,
                format!(
                    "{name}: hive file is {size} bytes, more than the {MAX_HIVE_SIZE} accepted"
                ),
            ));
        }
        layout::check(&file, size, &name, !opts.unsafe_heuristics)?;
        let cpath = cstring(OP, "path", path.to_str().unwrap_or(&name))?;
        let mut flags = 0;
        if opts.write {
            flags |= ffi::HIVEX_OPEN_WRITE;
        }
        if opts.verbose {
            flags |= ffi::HIVEX_OPEN_VERBOSE;
        }
        if opts.debug {
            flags |= ffi::HIVEX_OPEN_DEBUG;
        }
        if opts.unsafe_heuristics {
            flags |= ffi::HIVEX_OPEN_UNSAFE;
        }
        // libhivex opens the name again: the file checked above must be the
        // one it opens, which is the caller's contract (a private path).
        clear_errno();
        // SAFETY: a valid C string; flags from hivex.h.
        let h = unsafe { ffi::hivex_open(cpath.as_ptr(), flags) };
        let h = NonNull::new(h).ok_or_else(|| Error::last(OP, &name))?;
        Ok(Hive {
            h,
            path: path.to_path_buf(),
            size,
            writable: opts.write,
        })
    }

    /// Open a hive from a file already open (through its `/proc/self/fd` name,
    /// which names the same inode whatever happens to its path), e.g. one a
    /// confined resolver opened. `file` must stay open while the hive is, and
    /// must not be truncated meanwhile: libhivex maps it (a file shrinking
    /// under a mapping faults). A private copy is the safer choice for files
    /// others can change.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("SYSTEM");
    /// vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let file = std::fs::File::open(&path)?;
    /// let hive = vmcraft_hivex::Hive::open_file(&file, Default::default())?;
    /// assert_eq!(hive.root()?.raw(), 0x1020);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_file(file: &std::fs::File, opts: OpenOptions) -> Result<Hive> {
        use std::os::fd::AsRawFd;
        Hive::open_with(format!("/proc/self/fd/{}", file.as_raw_fd()), opts)
    }

    /// The file this hive was opened from.
    ///
    /// ```no_run
    /// let hive = vmcraft_hivex::Hive::open("/tmp/SYSTEM", false)?;
    /// assert_eq!(hive.path(), std::path::Path::new("/tmp/SYSTEM"));
    /// # Ok::<(), vmcraft_hivex::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it was opened for writing.
    ///
    /// ```no_run
    /// let hive = vmcraft_hivex::Hive::open("/tmp/SYSTEM", false)?;
    /// assert!(!hive.writable());
    /// # Ok::<(), vmcraft_hivex::Error>(())
    /// ```
    pub fn writable(&self) -> bool {
        self.writable
    }

    fn raw(&self) -> *mut ffi::hive_h {
        self.h.as_ptr()
    }

    /// Refuse a handle that cannot be a cell of this file before libhivex sees
    /// it (libhivex checks the rest: that a cell starts there, of the right kind).
    fn check_handle(&self, op: &'static str, what: &str, raw: usize) -> Result<()> {
        // The file may have grown in memory with writes; libhivex checks those.
        if raw < layout::BASE_BLOCK as usize || (!self.writable && raw as u64 >= self.size) {
            return Err(Error::new(
                ErrorKind::Invalid,
                op,
                format!("{what} 0x{raw:x}: not a {what} handle of this hive"),
            ));
        }
        Ok(())
    }

    fn node_ok(&self, op: &'static str, n: Node) -> Result<()> {
        self.check_handle(op, "node", n.0)
    }

    fn value_ok(&self, op: &'static str, v: Value) -> Result<()> {
        self.check_handle(op, "value", v.0)
    }

    /// The root key.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("h");
    /// vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let hive = vmcraft_hivex::Hive::open(&path, false)?;
    /// assert_eq!(hive.node_name(hive.root()?)?, "ROOT");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn root(&self) -> Result<Node> {
        clear_errno();
        // SAFETY: a live handle.
        let r = unsafe { ffi::hivex_root(self.raw()) };
        if r == 0 {
            return Err(Error::last("hivex_root", ""));
        }
        Ok(Node(r))
    }

    /// A key's name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let hive = vmcraft_hivex::Hive::open(&path, false)?;
    /// let err = hive.node_name(vmcraft_hivex::Node::from_raw(7)).unwrap_err();
    /// assert_eq!(err.kind(), vmcraft_hivex::ErrorKind::Invalid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_name(&self, node: Node) -> Result<String> {
        const OP: &str = "hivex_node_name";
        self.node_ok(OP, node)?;
        clear_errno();
        // SAFETY: a live handle; the result is malloc'ed or NULL.
        unsafe { take_string(ffi::hivex_node_name(self.raw(), node.0)) }
            .ok_or_else(|| Error::last(OP, format!("node 0x{:x}", node.0)))
    }

    /// A key's subkeys, in the hive's order (at most [`MAX_CHILDREN`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let hive = vmcraft_hivex::Hive::open(&path, false)?;
    /// assert!(hive.node_children(hive.root()?)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_children(&self, node: Node) -> Result<Vec<Node>> {
        const OP: &str = "hivex_node_children";
        self.node_ok(OP, node)?;
        clear_errno();
        // SAFETY: a live handle; the result is a malloc'ed 0-terminated array.
        let p = unsafe { ffi::hivex_node_children(self.raw(), node.0) };
        if p.is_null() {
            return Err(Error::last(OP, format!("node 0x{:x}", node.0)));
        }
        // SAFETY: as above.
        match unsafe { take_handles(p, MAX_CHILDREN) } {
            Ok(v) => Ok(v.into_iter().map(Node).collect()),
            Err(max) => Err(Error::new(
                ErrorKind::TooLarge,
                OP,
                format!("node 0x{:x}: more than {max} subkeys", node.0),
            )),
        }
    }

    /// The subkey of `node` named `name` (compared case-insensitively for ASCII,
    /// as libhivex does), or `None`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let hive = vmcraft_hivex::Hive::open(&path, false)?;
    /// assert_eq!(hive.node_get_child(hive.root()?, "Select")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_get_child(&self, node: Node, name: &str) -> Result<Option<Node>> {
        const OP: &str = "hivex_node_get_child";
        self.node_ok(OP, node)?;
        let c = cstring(OP, "name", name)?;
        clear_errno();
        // SAFETY: a live handle and a C string.
        let r = unsafe { ffi::hivex_node_get_child(self.raw(), node.0, c.as_ptr()) };
        if r == 0 {
            let e = errno_now();
            return if e == 0 {
                Ok(None)
            } else {
                Err(Error::from_errno(OP, format!("node 0x{:x}", node.0), e))
            };
        }
        Ok(Some(Node(r)))
    }

    /// The parent of a key. The root has none: libhivex answers an error for it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// let child = hive.node_add_child(root, "Select")?;
    /// assert_eq!(hive.node_parent(child)?, root);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_parent(&self, node: Node) -> Result<Node> {
        const OP: &str = "hivex_node_parent";
        self.node_ok(OP, node)?;
        clear_errno();
        // SAFETY: a live handle.
        let r = unsafe { ffi::hivex_node_parent(self.raw(), node.0) };
        if r == 0 {
            return Err(Error::last(OP, format!("node 0x{:x}", node.0)));
        }
        Ok(Node(r))
    }

    /// A key's values, in the hive's order (at most [`MAX_VALUES`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let hive = vmcraft_hivex::Hive::open(&path, false)?;
    /// assert!(hive.node_values(hive.root()?)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_values(&self, node: Node) -> Result<Vec<Value>> {
        const OP: &str = "hivex_node_values";
        self.node_ok(OP, node)?;
        clear_errno();
        // SAFETY: a live handle; the result is a malloc'ed 0-terminated array.
        let p = unsafe { ffi::hivex_node_values(self.raw(), node.0) };
        if p.is_null() {
            return Err(Error::last(OP, format!("node 0x{:x}", node.0)));
        }
        // SAFETY: as above.
        match unsafe { take_handles(p, MAX_VALUES) } {
            Ok(v) => Ok(v.into_iter().map(Value).collect()),
            Err(max) => Err(Error::new(
                ErrorKind::TooLarge,
                OP,
                format!("node 0x{:x}: more than {max} values", node.0),
            )),
        }
    }

    /// The value of `node` named `key` (`""` for the default value; compared
    /// case-insensitively for ASCII), or `None`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &vmcraft_hivex::SetValue::dword("Current", 1))?;
    /// let v = hive.node_get_value(root, "current")?.unwrap();
    /// assert_eq!(hive.value_dword(v)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_get_value(&self, node: Node, key: &str) -> Result<Option<Value>> {
        const OP: &str = "hivex_node_get_value";
        self.node_ok(OP, node)?;
        let c = cstring(OP, "key", key)?;
        clear_errno();
        // SAFETY: a live handle and a C string.
        let r = unsafe { ffi::hivex_node_get_value(self.raw(), node.0, c.as_ptr()) };
        if r == 0 {
            let e = errno_now();
            return if e == 0 {
                Ok(None)
            } else {
                Err(Error::from_errno(OP, format!("node 0x{:x}", node.0), e))
            };
        }
        Ok(Some(Value(r)))
    }

    /// A value's name (`""` for a key's default value).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &vmcraft_hivex::SetValue::dword("Current", 1))?;
    /// let v = hive.node_values(root)?[0];
    /// assert_eq!(hive.value_key(v)?, "Current");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_key(&self, value: Value) -> Result<String> {
        const OP: &str = "hivex_value_key";
        self.value_ok(OP, value)?;
        clear_errno();
        // SAFETY: a live handle; the result is malloc'ed or NULL.
        unsafe { take_string(ffi::hivex_value_key(self.raw(), value.0)) }
            .ok_or_else(|| Error::last(OP, format!("value 0x{:x}", value.0)))
    }

    /// A value's type and the length of its data as the hive declares it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::{SetValue, ValueType};
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::qword("Q", 5))?;
    /// let v = hive.node_get_value(root, "Q")?.unwrap();
    /// assert_eq!(hive.value_type(v)?, (ValueType::QWORD, 8));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_type(&self, value: Value) -> Result<(ValueType, usize)> {
        const OP: &str = "hivex_value_type";
        self.value_ok(OP, value)?;
        let mut t: ffi::hive_type = 0;
        let mut len: libc::size_t = 0;
        clear_errno();
        // SAFETY: a live handle and two out-pointers.
        let r = unsafe { ffi::hivex_value_type(self.raw(), value.0, &mut t, &mut len) };
        if r == -1 {
            return Err(Error::last(OP, format!("value 0x{:x}", value.0)));
        }
        Ok((ValueType(t), len))
    }

    /// Refuse a declared length larger than the limit or than the hive.
    fn check_len(&self, op: &'static str, value: Value, len: usize) -> Result<()> {
        if len > MAX_VALUE_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                op,
                format!(
                    "value 0x{:x}: data length {len} is more than the {MAX_VALUE_LEN} accepted",
                    value.0
                ),
            ));
        }
        if !self.writable && len as u64 > self.size {
            return Err(Error::new(
                ErrorKind::Corrupt,
                op,
                format!(
                    "value 0x{:x}: data length {len} is larger than the hive ({} bytes)",
                    value.0, self.size
                ),
            ));
        }
        Ok(())
    }

    /// A value's type and data (at most [`MAX_VALUE_LEN`] bytes; a declared
    /// length larger than the hive is refused).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::{SetValue, ValueType};
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::binary("B", &[1, 2, 3]))?;
    /// let v = hive.node_get_value(root, "B")?.unwrap();
    /// assert_eq!(hive.value_value(v)?, (ValueType::BINARY, vec![1, 2, 3]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_value(&self, value: Value) -> Result<(ValueType, Vec<u8>)> {
        const OP: &str = "hivex_value_value";
        let (_, declared) = self.value_type(value)?;
        self.check_len(OP, value, declared)?;
        let mut t: ffi::hive_type = 0;
        let mut len: libc::size_t = 0;
        clear_errno();
        // SAFETY: a live handle and two out-pointers; the result is malloc'ed
        // with `len` bytes, or NULL.
        let p = unsafe { ffi::hivex_value_value(self.raw(), value.0, &mut t, &mut len) };
        if p.is_null() {
            return Err(Error::last(OP, format!("value 0x{:x}", value.0)));
        }
        // libhivex may return fewer bytes than declared (big data), never more
        // than it allocated; still refuse anything over the limit.
        let n = len.min(MAX_VALUE_LEN);
        // SAFETY: p holds len bytes (n <= len).
        let data = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) }.to_vec();
        // SAFETY: from malloc.
        unsafe { libc::free(p.cast()) };
        Ok((ValueType(t), data))
    }

    /// A `REG_SZ`, `REG_EXPAND_SZ` or `REG_LINK` value as UTF-8 (libhivex
    /// converts from UTF-16LE, dropping the terminating NUL); another type, or
    /// data that is not UTF-16, is an error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::SetValue;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::expand_string("P", "%SystemRoot%\\x"))?;
    /// let v = hive.node_get_value(root, "P")?.unwrap();
    /// assert_eq!(hive.value_string(v)?, "%SystemRoot%\\x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_string(&self, value: Value) -> Result<String> {
        const OP: &str = "hivex_value_string";
        let (_, declared) = self.value_type(value)?;
        self.check_len(OP, value, declared)?;
        clear_errno();
        // SAFETY: a live handle; the result is malloc'ed or NULL.
        unsafe { take_string(ffi::hivex_value_string(self.raw(), value.0)) }
            .ok_or_else(|| Error::last(OP, format!("value 0x{:x}", value.0)))
    }

    /// A `REG_MULTI_SZ` value as strings (at most [`MAX_STRINGS`]). The empty
    /// string that ends the list on disk is not one of them (libhivex 1.3.23
    /// returns it as a last, empty string; it is dropped here).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::SetValue;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::multi_string("M", &["a", "bc"]))?;
    /// let v = hive.node_get_value(root, "M")?.unwrap();
    /// assert_eq!(hive.value_multiple_strings(v)?, ["a", "bc"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_multiple_strings(&self, value: Value) -> Result<Vec<String>> {
        const OP: &str = "hivex_value_multiple_strings";
        let (_, declared) = self.value_type(value)?;
        self.check_len(OP, value, declared)?;
        clear_errno();
        // SAFETY: a live handle; the result is a malloc'ed NULL-terminated
        // array of malloc'ed strings, or NULL.
        let p = unsafe { ffi::hivex_value_multiple_strings(self.raw(), value.0) };
        if p.is_null() {
            return Err(Error::last(OP, format!("value 0x{:x}", value.0)));
        }
        let mut out = Vec::new();
        let mut too_many = false;
        let mut i = 0;
        loop {
            // SAFETY: within the array until its NULL.
            let s = unsafe { *p.add(i) };
            if s.is_null() {
                break;
            }
            // SAFETY: a malloc'ed string, freed here whatever happens.
            let s = unsafe { take_string(s) }.unwrap_or_default();
            if out.len() < MAX_STRINGS {
                out.push(s);
            } else {
                too_many = true;
            }
            i += 1;
        }
        // SAFETY: from malloc.
        unsafe { libc::free(p.cast()) };
        if too_many {
            return Err(Error::new(
                ErrorKind::TooLarge,
                OP,
                format!("value 0x{:x}: more than {MAX_STRINGS} strings", value.0),
            ));
        }
        if out.last().is_some_and(String::is_empty) {
            out.pop();
        }
        Ok(out)
    }

    /// A `REG_DWORD` (or `REG_DWORD_BIG_ENDIAN`) value.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::SetValue;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::dword("D", 0xffff_fffe))?;
    /// let v = hive.node_get_value(root, "D")?.unwrap();
    /// assert_eq!(hive.value_dword(v)?, -2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_dword(&self, value: Value) -> Result<i32> {
        const OP: &str = "hivex_value_dword";
        self.value_ok(OP, value)?;
        clear_errno();
        // SAFETY: a live handle.
        let r = unsafe { ffi::hivex_value_dword(self.raw(), value.0) };
        if r == -1 && errno_now() != 0 {
            return Err(Error::last(OP, format!("value 0x{:x}", value.0)));
        }
        Ok(r)
    }

    /// A `REG_QWORD` value.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::SetValue;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::qword("Q", 1 << 40))?;
    /// let v = hive.node_get_value(root, "Q")?.unwrap();
    /// assert_eq!(hive.value_qword(v)?, 1 << 40);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_qword(&self, value: Value) -> Result<i64> {
        const OP: &str = "hivex_value_qword";
        self.value_ok(OP, value)?;
        clear_errno();
        // SAFETY: a live handle.
        let r = unsafe { ffi::hivex_value_qword(self.raw(), value.0) };
        if r == -1 && errno_now() != 0 {
            return Err(Error::last(OP, format!("value 0x{:x}", value.0)));
        }
        Ok(r)
    }

    fn need_write(&self, op: &'static str) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ReadOnly,
                op,
                format!(
                    "{}: the hive was not opened for writing",
                    self.path.display()
                ),
            ))
        }
    }

    /// Run a libhivex write first in a forked child, on the child's copy of
    /// the hive, and refuse it when the child does not come back normally.
    ///
    /// libhivex 1.3.23 (Debian 12) asserts on some corrupt hives while
    /// writing (`mark_block_unused: Assertion 'IS_VALID_BLOCK (h, offset)'`,
    /// found by this crate's fuzz target through `node_delete_child`), and an
    /// assertion aborts the whole process. The trial keeps that abort in the
    /// child: the caller gets a [`ErrorKind::Corrupt`] error and the hive is
    /// unchanged. The child only calls libhivex and `_exit`s; its standard
    /// error goes to `/dev/null`; it is killed if it has not finished after
    /// [`TRIAL_TIMEOUT`].
    fn trial(
        &self,
        op: &'static str,
        what: &str,
        f: impl FnOnce(*mut ffi::hive_h) -> bool,
    ) -> Result<()> {
        // SAFETY: fork(2). The child uses only its own copy of the hive,
        // resets the crash signals to their defaults (so that a test
        // harness's handlers do not run there) and leaves with _exit, running
        // no destructor or atexit handler of the parent.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Error::last(op, what));
        }
        if pid == 0 {
            // SAFETY: in the child, see above.
            unsafe {
                for sig in [
                    libc::SIGABRT,
                    libc::SIGSEGV,
                    libc::SIGBUS,
                    libc::SIGFPE,
                    libc::SIGILL,
                ] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                if null >= 0 {
                    libc::dup2(null, 2);
                }
                libc::_exit(if f(self.raw()) { 0 } else { 1 });
            }
        }
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_micros(20);
        let mut status = 0;
        loop {
            // SAFETY: our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if r < 0 && errno_now() != libc::EINTR {
                return Err(Error::last(op, what));
            }
            if start.elapsed() > TRIAL_TIMEOUT {
                // SAFETY: our own child, reaped right after.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    op,
                    format!(
                        "{what}: libhivex did not finish within {TRIAL_TIMEOUT:?} on this hive; \
                         refused, nothing changed"
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(5));
        }
        if libc::WIFEXITED(status) && matches!(libc::WEXITSTATUS(status), 0 | 1) {
            return Ok(());
        }
        let how = if libc::WIFSIGNALED(status) {
            format!("signal {}", libc::WTERMSIG(status))
        } else {
            format!("exit status {}", libc::WEXITSTATUS(status))
        };
        Err(Error::new(
            ErrorKind::Corrupt,
            op,
            format!(
                "{what}: libhivex crashes on this corrupt hive ({how} in a trial run); \
                 refused, nothing changed"
            ),
        ))
    }

    /// Add a subkey `name` to `parent` and return it (in memory until
    /// [`Hive::commit`]). A subkey of that name must not exist already.
    /// Like every write, it is tried first in a child process, so that a
    /// corrupt hive on which libhivex aborts gives an error instead.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// let n = hive.node_add_child(root, "ControlSet001")?;
    /// assert_eq!(hive.node_name(n)?, "ControlSet001");
    /// assert!(hive.node_add_child(root, "controlset001").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_add_child(&mut self, parent: Node, name: &str) -> Result<Node> {
        const OP: &str = "hivex_node_add_child";
        self.need_write(OP)?;
        self.node_ok(OP, parent)?;
        if name.is_empty() {
            return Err(Error::new(ErrorKind::Invalid, OP, "empty key name"));
        }
        let c = cstring(OP, "name", name)?;
        if self.node_get_child(parent, name)?.is_some() {
            return Err(Error::new(
                ErrorKind::Invalid,
                OP,
                format!(
                    "node 0x{:x}: a subkey named {name:?} exists already",
                    parent.0
                ),
            ));
        }
        let what = format!("node 0x{:x}", parent.0);
        self.trial(OP, &what, |h| {
            // SAFETY: the child's copy of the live handle, a C string.
            unsafe { ffi::hivex_node_add_child(h, parent.0, c.as_ptr()) != 0 }
        })?;
        clear_errno();
        // SAFETY: a live handle opened for writing, a C string.
        let r = unsafe { ffi::hivex_node_add_child(self.raw(), parent.0, c.as_ptr()) };
        if r == 0 {
            return Err(Error::last(OP, format!("node 0x{:x}", parent.0)));
        }
        Ok(Node(r))
    }

    /// Delete a key and everything below it (not the root).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// let n = hive.node_add_child(root, "Old")?;
    /// hive.node_delete_child(n)?;
    /// assert!(hive.node_children(root)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_delete_child(&mut self, node: Node) -> Result<()> {
        const OP: &str = "hivex_node_delete_child";
        self.need_write(OP)?;
        self.node_ok(OP, node)?;
        self.trial(OP, &format!("node 0x{:x}", node.0), |h| {
            // SAFETY: the child's copy of the live handle.
            unsafe { ffi::hivex_node_delete_child(h, node.0) == 0 }
        })?;
        clear_errno();
        // SAFETY: a live handle opened for writing.
        let r = unsafe { ffi::hivex_node_delete_child(self.raw(), node.0) };
        if r == -1 {
            return Err(Error::last(OP, format!("node 0x{:x}", node.0)));
        }
        Ok(())
    }

    /// Replace all the values of `node` with `values` (libhivex's
    /// `node_set_values`): values not in the list are removed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::SetValue;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_values(root, &[SetValue::dword("A", 1), SetValue::dword("B", 2)])?;
    /// assert_eq!(hive.node_values(root)?.len(), 2);
    /// hive.node_set_values(root, &[])?;
    /// assert!(hive.node_values(root)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_set_values(&mut self, node: Node, values: &[SetValue]) -> Result<()> {
        const OP: &str = "hivex_node_set_values";
        self.set_values(OP, node, values)
    }

    /// Set one value of `node`, replacing a value of the same name (compared
    /// case-insensitively) and keeping the others.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// use vmcraft_hivex::SetValue;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_set_value(root, &SetValue::dword("Start", 3))?;
    /// hive.node_set_value(root, &SetValue::dword("Start", 0))?;
    /// let v = hive.node_get_value(root, "Start")?.unwrap();
    /// assert_eq!(hive.value_dword(v)?, 0);
    /// assert_eq!(hive.node_values(root)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_set_value(&mut self, node: Node, value: &SetValue) -> Result<()> {
        const OP: &str = "hivex_node_set_value";
        // libhivex's own node_set_value reads the others back and calls
        // node_set_values; done here with the bounded readers.
        self.need_write(OP)?;
        self.node_ok(OP, node)?;
        let mut all = Vec::new();
        for v in self.node_values(node)? {
            let key = self.value_key(v)?;
            if key.eq_ignore_ascii_case(&value.key) {
                continue;
            }
            let (t, data) = self.value_value(v)?;
            all.push(SetValue { key, t, data });
        }
        all.push(value.clone());
        self.set_values(OP, node, &all)
    }

    fn set_values(&mut self, op: &'static str, node: Node, values: &[SetValue]) -> Result<()> {
        self.need_write(op)?;
        self.node_ok(op, node)?;
        let mut keys = Vec::with_capacity(values.len());
        for v in values {
            if v.data.len() > MAX_VALUE_LEN {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    op,
                    format!(
                        "value {:?}: {} bytes of data, more than the {MAX_VALUE_LEN} accepted",
                        v.key,
                        v.data.len()
                    ),
                ));
            }
            keys.push(cstring(op, "key", &v.key)?);
        }
        let raw: Vec<ffi::hive_set_value> = values
            .iter()
            .zip(&keys)
            .map(|(v, k)| ffi::hive_set_value {
                key: k.as_ptr().cast_mut(),
                t: v.t.0,
                len: v.data.len(),
                value: v.data.as_ptr().cast::<libc::c_char>().cast_mut(),
            })
            .collect();
        self.trial(op, &format!("node 0x{:x}", node.0), |h| {
            // SAFETY: the child's copy of the live handle; the array as below.
            unsafe { ffi::hivex_node_set_values(h, node.0, raw.len(), raw.as_ptr(), 0) == 0 }
        })?;
        clear_errno();
        // SAFETY: a live handle opened for writing; the array and what it points
        // to live until the call returns; libhivex copies and does not write them.
        let r =
            unsafe { ffi::hivex_node_set_values(self.raw(), node.0, raw.len(), raw.as_ptr(), 0) };
        if r == -1 {
            return Err(Error::last(op, format!("node 0x{:x}", node.0)));
        }
        Ok(())
    }

    /// Write the hive (with its changes) to `path`, or back to the file it was
    /// opened from with `None`. Only for a hive opened for writing. libhivex
    /// creates or truncates the file by name: give it a path nobody else can
    /// redirect.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// hive.node_add_child(root, "Select")?;
    /// let copy = dir.path().join("copy");
    /// hive.commit(Some(&copy))?;
    /// let again = vmcraft_hivex::Hive::open(&copy, false)?;
    /// assert_eq!(again.node_children(again.root()?)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit(&mut self, path: Option<&Path>) -> Result<()> {
        const OP: &str = "hivex_commit";
        self.need_write(OP)?;
        let target = path.unwrap_or(&self.path).to_path_buf();
        let c = match path {
            Some(p) => Some(cstring(OP, "path", &p.display().to_string())?),
            None => None,
        };
        clear_errno();
        // SAFETY: a live handle opened for writing; NULL or a C string.
        let r = unsafe {
            ffi::hivex_commit(
                self.raw(),
                c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                0,
            )
        };
        if r == -1 {
            return Err(Error::last(OP, target.display()));
        }
        Ok(())
    }

    /// Follow `path` (key names, compared case-insensitively as Windows does,
    /// Unicode included) from the root; `None` when a key is missing.
    /// The step inspection takes to reach `Microsoft\Windows NT\CurrentVersion`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// let ms = hive.node_add_child(root, "Microsoft")?;
    /// let nt = hive.node_add_child(ms, "Windows NT")?;
    /// assert_eq!(hive.get_path(&["MICROSOFT", "windows nt"])?, Some(nt));
    /// assert_eq!(hive.get_path(&["Microsoft", "Nope"])?, None);
    /// assert_eq!(hive.get_path(&[])?, Some(root));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_path(&self, path: &[&str]) -> Result<Option<Node>> {
        self.node_get_path(self.root()?, path)
    }

    /// [`Hive::get_path`] from `node` instead of the root.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// let a = hive.node_add_child(root, "Über")?;
    /// assert_eq!(hive.node_get_path(root, &["üBER"])?, Some(a));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn node_get_path(&self, node: Node, path: &[&str]) -> Result<Option<Node>> {
        let mut cur = node;
        for name in path {
            let next = match self.node_get_child(cur, name)? {
                Some(n) => Some(n),
                None if !name.is_ascii() => {
                    let want = name.to_uppercase();
                    let mut found = None;
                    for c in self.node_children(cur)? {
                        if self.node_name(c)?.to_uppercase() == want {
                            found = Some(c);
                            break;
                        }
                    }
                    found
                }
                None => None,
            };
            match next {
                Some(n) => cur = n,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// Visit `start` and the keys below it, depth first, parents before
    /// children, calling `f(depth, node)`; bounded by `limits`. A key reached
    /// twice (a subkey list pointing back to an ancestor or to a key listed
    /// elsewhere) is refused as corrupt rather than visited again.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("h");
    /// # vmcraft_hivex::testing::write_blank_hive(&path)?;
    /// let mut hive = vmcraft_hivex::Hive::open(&path, true)?;
    /// let root = hive.root()?;
    /// let a = hive.node_add_child(root, "A")?;
    /// hive.node_add_child(a, "B")?;
    /// let mut seen = Vec::new();
    /// hive.walk(root, vmcraft_hivex::WalkLimits::default(), |depth, n| {
    ///     seen.push((depth, hive.node_name(n)?));
    ///     Ok(())
    /// })?;
    /// assert_eq!(seen, [(0, "ROOT".into()), (1, "A".into()), (2, "B".into())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn walk(
        &self,
        start: Node,
        limits: WalkLimits,
        mut f: impl FnMut(usize, Node) -> Result<()>,
    ) -> Result<()> {
        const OP: &str = "walk";
        let mut seen = HashSet::new();
        let mut stack = vec![(0usize, start)];
        while let Some((depth, n)) = stack.pop() {
            if !seen.insert(n) {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    OP,
                    format!(
                        "node 0x{:x} is reached twice (a cycle in the key tree)",
                        n.0
                    ),
                ));
            }
            if seen.len() > limits.max_nodes {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    OP,
                    format!("more than {} keys", limits.max_nodes),
                ));
            }
            f(depth, n)?;
            let children = self.node_children(n)?;
            if !children.is_empty() && depth >= limits.max_depth {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    OP,
                    format!(
                        "node 0x{:x}: keys deeper than {} levels",
                        n.0, limits.max_depth
                    ),
                ));
            }
            stack.extend(children.into_iter().rev().map(|c| (depth + 1, c)));
        }
        Ok(())
    }
}

impl Drop for Hive {
    fn drop(&mut self) {
        // SAFETY: a live handle, closed once.
        unsafe { ffi::hivex_close(self.h.as_ptr()) };
    }
}
