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
//! libhivex itself never runs in the caller's process: each open hive has a
//! worker process ([`worker`]) that holds the libhivex handle, confined to a
//! private copy of the hive (its own user namespace and `chroot`, no
//! capabilities, resource limits, a seccomp allow-list: [`confine`]), and the
//! calls are messages to it ([`wire`]). A libhivex crash or hang on a corrupt
//! hive fails the one call as [`ErrorKind::Corrupt`]; the hive is reopened in
//! a new worker with the changes made before, so nothing else is lost. It
//! works as an ordinary user where user namespaces are enabled (Debian's
//! default), and as root everywhere.
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

mod confine;
mod error;
mod ffi;
pub mod layout;
mod local;
#[doc(hidden)]
pub mod testing;
mod wire;
mod worker;

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use wire::{Answer, Request};
use worker::{Died, Worker};

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
/// How long one call may take in the hive's worker process (opening a 1 GiB
/// hive included): far more than any real call needs. A worker that has not
/// answered by then is killed and the call fails.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
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

/// An open hive. libhivex holds it in a worker process of its own, confined to
/// a private copy of the file ([`crate::worker`], [`crate::confine`]); the
/// calls here are messages to it. `Send`, not `Sync` (one caller at a time, as
/// libhivex's handles). Dropping it ends the worker and removes the copy;
/// changes not committed are lost.
///
/// A worker that crashes or hangs on a corrupt hive fails the call that made
/// it ([`ErrorKind::Corrupt`], "libhivex crashes on this corrupt hive"); the
/// handle goes on with a new worker, rebuilt from the hive's copy and the
/// changes made so far, so the failed call changed nothing.
#[derive(Debug)]
pub struct Hive {
    state: RefCell<State>,
    path: PathBuf,
    size: u64,
    opts: OpenOptions,
    /// The private copy of the hive: unnamed where the filesystem allows
    /// (named `hive` in `dir` only while a worker opens it), else that file.
    copy: std::fs::File,
    /// Whether `copy` is unnamed.
    unnamed: bool,
    /// The worker's root: the copy while it is opened, and a commit's output.
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct State {
    worker: Option<Worker>,
    /// The changes that succeeded, in order, to replay on a new worker.
    changes: Vec<Request>,
    /// Why the handle can no longer be used (no worker could be started again).
    broken: Option<Error>,
}

/// The operation name of a request, for errors made on this side.
fn op_of(req: &Request) -> &'static str {
    match req {
        Request::Open { .. } => "hivex_open",
        Request::Root => "hivex_root",
        Request::NodeName(_) => "hivex_node_name",
        Request::NodeChildren(_) => "hivex_node_children",
        Request::NodeGetChild(..) => "hivex_node_get_child",
        Request::NodeParent(_) => "hivex_node_parent",
        Request::NodeValues(_) => "hivex_node_values",
        Request::NodeGetValue(..) => "hivex_node_get_value",
        Request::ValueKey(_) => "hivex_value_key",
        Request::ValueType(_) => "hivex_value_type",
        Request::ValueValue(_) => "hivex_value_value",
        Request::ValueString(_) => "hivex_value_string",
        Request::ValueMultipleStrings(_) => "hivex_value_multiple_strings",
        Request::ValueDword(_) => "hivex_value_dword",
        Request::ValueQword(_) => "hivex_value_qword",
        Request::NodeGetPath(..) => "hivex_node_get_path",
        Request::NodeAddChild(..) => "hivex_node_add_child",
        Request::NodeDeleteChild(_) => "hivex_node_delete_child",
        Request::NodeSetValues(..) => "hivex_node_set_values",
        Request::NodeSetValue(..) => "hivex_node_set_value",
        Request::Commit(_) => "hivex_commit",
    }
}

/// An answer of the wrong shape for its request.
fn unexpected(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        op,
        "the hive worker answered out of turn",
    )
}

/// Refuse a list longer than this side accepts (a worker that lies).
fn at_most<T>(op: &'static str, v: Vec<T>, max: usize, what: &str) -> Result<Vec<T>> {
    if v.len() > max {
        return Err(Error::new(
            ErrorKind::TooLarge,
            op,
            format!("more than {max} {what}"),
        ));
    }
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
        let mut file = {
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
        if meta.len() > MAX_HIVE_SIZE {
            return Err(Error::new(
                ErrorKind::TooLarge,
                OP,
                format!(
                    "{name}: hive file is {} bytes, more than the {MAX_HIVE_SIZE} accepted",
                    meta.len()
                ),
            ));
        }
        // The worker's private copy: what is checked here is what libhivex
        // reads, whatever happens to the caller's file meanwhile.
        let dir = tempfile::Builder::new()
            .prefix("vmcraft-hivex-")
            .tempdir()
            .map_err(|e| Error::io(OP, "temporary directory", &e))?;
        // Unnamed (O_TMPFILE) where the filesystem allows: it is named only
        // while a worker opens it, so nothing of the guest's hive outlives
        // this process, even killed.
        let copy_path = dir.path().join(worker::HIVE_NAME);
        let (mut copy, unnamed) = {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .mode(0o600)
                .custom_flags(libc::O_TMPFILE)
                .open(dir.path())
            {
                Ok(f) => (f, true),
                Err(_) => (
                    std::fs::File::create_new(&copy_path)
                        .map_err(|e| Error::io(OP, copy_path.display(), &e))?,
                    false,
                ),
            }
        };
        let size = std::io::copy(&mut (&mut file).take(MAX_HIVE_SIZE), &mut copy)
            .map_err(|e| Error::io(OP, &name, &e))?;
        drop(file);
        layout::check(&copy, size, &name, !opts.unsafe_heuristics)?;
        let hive = Hive {
            state: RefCell::new(State {
                worker: None,
                changes: Vec::new(),
                broken: None,
            }),
            path: path.to_path_buf(),
            size,
            opts,
            copy,
            unnamed,
            dir,
        };
        let worker = hive.start()?;
        hive.state.borrow_mut().worker = Some(worker);
        Ok(hive)
    }

    /// The process id of the worker that holds the hive now (for tests and
    /// diagnostics: it changes when a worker is replaced after a crash).
    #[doc(hidden)]
    pub fn worker_pid(&self) -> Option<u32> {
        self.state.borrow().worker.as_ref().map(Worker::pid)
    }

    /// Start a worker and open the copy in it, replaying the changes made so far.
    fn start(&self) -> Result<Worker> {
        let named = self.dir.path().join(worker::HIVE_NAME);
        if self.unnamed {
            self.link_copy(&named)?;
        }
        let open = Request::Open {
            name: self.path.display().to_string(),
            size: self.size,
            opts: self.opts,
        };
        let opened = Worker::start(self.dir.path(), self.opts.verbose || self.opts.debug)
            .and_then(|mut w| self.send(&mut w, &open).map(|()| w));
        // libhivex holds the hive now (mapped, or read for writing).
        if self.unnamed {
            let _ = std::fs::remove_file(&named);
        }
        let mut w = opened?;
        let state = self.state.try_borrow();
        let changes = state.as_ref().map(|s| s.changes.as_slice()).unwrap_or(&[]);
        for req in changes {
            self.send(&mut w, req)?;
        }
        Ok(w)
    }

    /// Give the unnamed copy the name `to` in the worker's directory.
    fn link_copy(&self, to: &Path) -> Result<()> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        const OP: &str = "hivex_open";
        let _ = std::fs::remove_file(to);
        let from = std::ffi::CString::new(format!("/proc/self/fd/{}", self.copy.as_raw_fd()))
            .expect("no NUL");
        let to_c = std::ffi::CString::new(to.as_os_str().as_bytes())
            .map_err(|_| Error::new(ErrorKind::Invalid, OP, "a temporary path with a NUL byte"))?;
        // SAFETY: two C strings; linkat(2) of an O_TMPFILE file by its
        // /proc/self/fd name, as open(2) documents (the first time only).
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to_c.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if r == 0 {
            return Ok(());
        }
        // An O_TMPFILE file can be linked once: after a worker's crash, the
        // new worker gets a fresh copy of the copy.
        let fail = |e: std::io::Error| Error::io(OP, to.display(), &e);
        let mut src = std::fs::File::open(format!("/proc/self/fd/{}", self.copy.as_raw_fd()))
            .map_err(fail)?;
        let mut dst = std::fs::File::create_new(to).map_err(fail)?;
        std::io::copy(&mut src, &mut dst).map_err(fail)?;
        Ok(())
    }

    /// One request of a worker's start (the open, a replayed change).
    fn send(&self, w: &mut Worker, req: &Request) -> Result<()> {
        match w.call(req) {
            Ok(Answer::Failed(e)) => Err(e),
            Ok(_) => Ok(()),
            Err(d) => Err(Error::new(
                ErrorKind::Corrupt,
                op_of(req),
                format!(
                    "{}: libhivex crashes on this corrupt hive ({})",
                    self.path.display(),
                    d.describe()
                ),
            )),
        }
    }

    /// Send `req` to the worker; a crash or a hang fails it and starts a new
    /// worker for the calls after.
    fn call(&self, req: Request) -> Result<Answer> {
        let op = op_of(&req);
        let mut state = self.state.borrow_mut();
        if let Some(e) = &state.broken {
            return Err(e.clone());
        }
        let Some(worker) = state.worker.as_mut() else {
            return Err(Error::new(ErrorKind::Io, op, "no hive worker"));
        };
        match worker.call(&req) {
            Ok(Answer::Failed(e)) => Err(e),
            Ok(a) => {
                if req.changes() {
                    state.changes.push(req);
                }
                Ok(a)
            }
            Err(died) => {
                state.worker = None;
                let err = match &died {
                    Died::Hung => Error::new(
                        ErrorKind::Corrupt,
                        op,
                        format!(
                            "{}: libhivex did not finish within {CALL_TIMEOUT:?} on this hive; \
                             refused, nothing changed",
                            self.path.display()
                        ),
                    ),
                    _ => Error::new(
                        ErrorKind::Corrupt,
                        op,
                        format!(
                            "{}: libhivex crashes on this corrupt hive ({}); refused, nothing changed",
                            self.path.display(),
                            died.describe()
                        ),
                    ),
                };
                drop(state);
                let restarted = self.start();
                let mut state = self.state.borrow_mut();
                match restarted {
                    Ok(w) => state.worker = Some(w),
                    Err(e) => {
                        state.broken = Some(Error::new(
                            e.kind(),
                            op,
                            format!("the hive worker could not be started again: {e}"),
                        ))
                    }
                }
                Err(err)
            }
        }
    }

    fn handle(&self, req: Request) -> Result<usize> {
        let op = op_of(&req);
        match self.call(req)? {
            Answer::Handle(h) => Ok(h),
            _ => Err(unexpected(op)),
        }
    }

    fn maybe_handle(&self, req: Request) -> Result<Option<usize>> {
        let op = op_of(&req);
        match self.call(req)? {
            Answer::MaybeHandle(h) => Ok(h),
            _ => Err(unexpected(op)),
        }
    }

    fn handles(&self, req: Request, max: usize, what: &str) -> Result<Vec<usize>> {
        let op = op_of(&req);
        match self.call(req)? {
            Answer::Handles(h) => at_most(op, h, max, what),
            _ => Err(unexpected(op)),
        }
    }

    fn text(&self, req: Request) -> Result<String> {
        let op = op_of(&req);
        match self.call(req)? {
            Answer::Text(s) => Ok(s),
            _ => Err(unexpected(op)),
        }
    }

    fn int(&self, req: Request) -> Result<i64> {
        let op = op_of(&req);
        match self.call(req)? {
            Answer::Int(i) => Ok(i),
            _ => Err(unexpected(op)),
        }
    }

    fn done(&self, req: Request) -> Result<()> {
        let op = op_of(&req);
        match self.call(req)? {
            Answer::Done => Ok(()),
            _ => Err(unexpected(op)),
        }
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
        self.opts.write
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
        self.handle(Request::Root).map(Node)
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
        self.text(Request::NodeName(node.0))
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
        let v = self.handles(Request::NodeChildren(node.0), MAX_CHILDREN, "subkeys")?;
        Ok(v.into_iter().map(Node).collect())
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
        Ok(self
            .maybe_handle(Request::NodeGetChild(node.0, name.to_string()))?
            .map(Node))
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
        self.handle(Request::NodeParent(node.0)).map(Node)
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
        let v = self.handles(Request::NodeValues(node.0), MAX_VALUES, "values")?;
        Ok(v.into_iter().map(Value).collect())
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
        Ok(self
            .maybe_handle(Request::NodeGetValue(node.0, key.to_string()))?
            .map(Value))
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
        self.text(Request::ValueKey(value.0))
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
        match self.call(Request::ValueType(value.0))? {
            Answer::Type(t, len) => Ok((ValueType(t), usize::try_from(len).unwrap_or(usize::MAX))),
            _ => Err(unexpected(OP)),
        }
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
        match self.call(Request::ValueValue(value.0))? {
            Answer::Data(_, d) if d.len() > MAX_VALUE_LEN => Err(Error::new(
                ErrorKind::TooLarge,
                OP,
                format!("more than {MAX_VALUE_LEN} bytes of data"),
            )),
            Answer::Data(t, d) => Ok((ValueType(t), d)),
            _ => Err(unexpected(OP)),
        }
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
        self.text(Request::ValueString(value.0))
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
        match self.call(Request::ValueMultipleStrings(value.0))? {
            Answer::Texts(v) => at_most(OP, v, MAX_STRINGS, "strings"),
            _ => Err(unexpected(OP)),
        }
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
        let v = self.int(Request::ValueDword(value.0))?;
        i32::try_from(v).map_err(|_| unexpected("hivex_value_dword"))
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
        self.int(Request::ValueQword(value.0))
    }

    fn need_write(&self, op: &'static str) -> Result<()> {
        if self.opts.write {
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
        self.need_write("hivex_node_add_child")?;
        self.handle(Request::NodeAddChild(parent.0, name.to_string()))
            .map(Node)
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
        self.need_write("hivex_node_delete_child")?;
        self.done(Request::NodeDeleteChild(node.0))
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
        self.need_write("hivex_node_set_values")?;
        self.done(Request::NodeSetValues(node.0, values.to_vec()))
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
        self.need_write("hivex_node_set_value")?;
        self.done(Request::NodeSetValue(node.0, value.clone()))
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
        let out = self.dir.path().join(worker::COMMIT_NAME);
        let _ = std::fs::remove_file(&out);
        let written = self.done(Request::Commit(target.display().to_string()));
        let copied = written.and_then(|()| {
            // The worker wrote its own file; this side copies it to the
            // caller's path (created or truncated, as libhivex does).
            let mut src =
                std::fs::File::open(&out).map_err(|e| Error::io(OP, target.display(), &e))?;
            let mut dst =
                std::fs::File::create(&target).map_err(|e| Error::io(OP, target.display(), &e))?;
            std::io::copy(&mut (&mut src).take(2 * MAX_HIVE_SIZE), &mut dst)
                .map_err(|e| Error::io(OP, target.display(), &e))?;
            Ok(())
        });
        let _ = std::fs::remove_file(&out);
        copied
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
        let path = path.iter().map(|s| s.to_string()).collect();
        Ok(self
            .maybe_handle(Request::NodeGetPath(node.0, path))?
            .map(Node))
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
