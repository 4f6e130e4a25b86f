//! Windows registry hives on the mounted guest tree (libguestfs's `hivex-*`
//! calls) through [`vmcraft_hivex`].
//!
//! `hivex_open(path)` opens a hive file of the guest: the path is resolved
//! inside the guest root (a guest symlink or `..` never reaches a host file),
//! only a regular file of at most [`vmcraft_hivex::MAX_HIVE_SIZE`] bytes is
//! read, and its content is copied into a private file (mode 0600) in the
//! session's directory; libhivex only ever sees that copy, whose name is
//! removed once libhivex has it open (and again after each commit). The other calls work
//! on the open hive with libguestfs's integer node and value handles.
//! `hivex_commit()` writes the copy back over the guest file it came from (the
//! same file: resolved again inside the root and checked to be the file that
//! was read), `hivex_commit(Some(path))` to another guest path, confined the
//! same way. As in libguestfs there is one open hive per handle; opening
//! another closes it first.
//!
//! The open hive is kept per launched session, in a map keyed by the session's
//! private directory (unique per launch), so that no field of the handle is
//! needed; entries of sessions that have shut down (their directory is gone)
//! are closed at the next `hivex_open`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use vmcraft_fs::root::WriteMode;
/// The hive crate, for callers that want its typed API (case-insensitive key
/// paths, bounded walks) on a hive file of their own.
#[doc(no_inline)]
pub use vmcraft_hivex as hive;
use vmcraft_hivex::{Hive, Node, OpenOptions, SetValue, Value, ValueType};

use crate::error::{Error, ErrorKind, Result};
use crate::session::{VMCraft, lock};

/// Optional arguments of [`VMCraft::hivex_open`] (libguestfs's `verbose`,
/// `debug`, `write`, `unsafe`).
///
/// ```
/// let o = vmcraft::calls::hivex::HivexOpenOpts { write: true, ..Default::default() };
/// assert!(!o.unsafe_);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HivexOpenOpts {
    /// libhivex's verbose messages on standard error.
    pub verbose: bool,
    /// libhivex's debug messages on standard error.
    pub debug: bool,
    /// Allow changes and [`VMCraft::hivex_commit`].
    pub write: bool,
    /// libhivex's heuristics for corrupt hives (`HIVEX_OPEN_UNSAFE`).
    pub unsafe_: bool,
}

/// A node handle, as [`VMCraft::hivex_node_children`] lists them (libguestfs's
/// `hivex_node` struct).
///
/// ```
/// let n = vmcraft::calls::hivex::HivexNode { hivex_node_h: 4128 };
/// assert_eq!(n.hivex_node_h, 0x1020);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HivexNode {
    /// The node handle.
    pub hivex_node_h: i64,
}

/// A value handle, as [`VMCraft::hivex_node_values`] lists them (libguestfs's
/// `hivex_value` struct).
///
/// ```
/// let v = vmcraft::calls::hivex::HivexValue { hivex_value_h: 4400 };
/// assert_eq!(v.hivex_value_h, 4400);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HivexValue {
    /// The value handle.
    pub hivex_value_h: i64,
}

/// The hive a session has open. Its private copy has no name in the session
/// directory except while a commit writes it.
struct OpenHive {
    hive: Hive,
    /// The name of the private copy libhivex opened (and writes on commit).
    copy: PathBuf,
    /// The guest path it was opened from.
    guest_path: String,
    /// The guest file's device and inode when it was read.
    ident: (u64, u64),
}

impl Drop for OpenHive {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.copy);
    }
}

/// The open hive of each launched session, by session directory.
static HIVES: LazyLock<Mutex<HashMap<PathBuf, OpenHive>>> = LazyLock::new(Default::default);

/// A facade error from a vmcraft-hivex one, naming the guest path instead of
/// the private copy.
fn hive_error(call: &str, e: vmcraft_hivex::Error, open: Option<(&PathBuf, &str)>) -> Error {
    use vmcraft_hivex::ErrorKind as K;
    let kind = match e.kind() {
        K::Invalid | K::ReadOnly | K::NotFound => ErrorKind::InvalidArgument,
        K::Unsupported => ErrorKind::Unsupported,
        _ => ErrorKind::Io,
    };
    let mut msg = e.message().to_string();
    if let Some((copy, guest)) = open {
        msg = msg.replace(&copy.display().to_string(), guest);
    }
    Error::call(kind, call, "", msg)
}

/// A facade error from a confined-resolver one, naming the call (the
/// resolver's own message names its operation and the guest path).
fn guest_error(call: &str, e: vmcraft_fs::root::Error) -> Error {
    use vmcraft_fs::root::ErrorKind as K;
    let kind = match e.kind() {
        K::NotFound | K::WrongType | K::InvalidArgument | K::AlreadyExists | K::Unsafe => {
            ErrorKind::InvalidArgument
        }
        K::Unsupported => ErrorKind::Unsupported,
        _ => ErrorKind::Io,
    };
    Error::call(kind, call, "", vmcraft_block::error_chain(&e))
}

/// A handle argument: libguestfs's `Int64`, never negative.
fn handle(call: &str, what: &str, h: i64) -> Result<u64> {
    u64::try_from(h)
        .map_err(|_| Error::invalid(call, format!("{what} {h}"), "a handle is not negative"))
}

impl VMCraft {
    /// Drop the session's open hive, if any (at shutdown: its memory and
    /// private copy go with the session, not at the next `hivex_open`).
    pub(crate) fn close_hive_of_session(&self) {
        if let Some(key) = lock(&self.session_dir).clone() {
            lock(&HIVES).remove(&key);
        }
    }

    /// The key of this session's hive: its private directory.
    fn hive_key(&self, call: &str) -> Result<PathBuf> {
        lock(&self.session_dir)
            .clone()
            .ok_or_else(|| Error::call(ErrorKind::NotLaunched, call, "", "call launch first"))
    }

    fn with_hive<T>(&self, call: &str, f: impl FnOnce(&mut OpenHive) -> Result<T>) -> Result<T> {
        let key = self.hive_key(call)?;
        let mut hives = lock(&HIVES);
        match hives.get_mut(&key) {
            Some(h) => f(h),
            None => Err(Error::call(
                ErrorKind::InvalidArgument,
                call,
                "",
                "no hive is open (call hivex_open first)",
            )),
        }
    }

    /// Open the guest's registry hive file `filename` (`hivex_open`), closing a
    /// hive this handle had open. With `write`, [`VMCraft::hivex_commit`] can
    /// write changes back. The file is resolved inside the guest root and must
    /// be a regular file; libhivex works on a private copy.
    ///
    /// ```no_run
    /// use vmcraft::calls::hivex::HivexOpenOpts;
    /// # let g = vmcraft::VMCraft::new();
    /// g.hivex_open("/Windows/System32/config/SYSTEM", HivexOpenOpts::default())?;
    /// let root = g.hivex_root()?;
    /// let select = g.hivex_node_get_child(root, "Select")?;
    /// let current = g.hivex_node_get_value(select, "Current")?;
    /// let n = g.hivex_value_value(current)?;
    /// g.hivex_close()?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_open(&self, filename: &str, opts: HivexOpenOpts) -> Result<()> {
        const CALL: &str = "hivex_open";
        let key = self.hive_key(CALL)?;
        {
            // As libguestfs: a hive already open is closed first, whatever
            // happens next. Sessions that are gone are forgotten.
            let mut hives = lock(&HIVES);
            hives.remove(&key);
            hives.retain(|k, _| k.is_dir());
        }
        // A hive opened read-only is read from whichever tree the session
        // has (in-process included: no root needed); one opened for writing
        // is the kernel-mounted tree's, where the commit writes.
        let (mut src, len, ident): (Box<dyn Read + Send>, u64, (u64, u64)) = if opts.write {
            let root = self.guest_root_for(CALL)?;
            let f = root.open_read(filename).map_err(|e| guest_error(CALL, e))?;
            let meta = f.metadata().map_err(|e| {
                Error::call_with_source(ErrorKind::Io, CALL, filename, "cannot stat", e)
            })?;
            (Box::new(f), meta.len(), (meta.dev(), meta.ino()))
        } else {
            let tree = self.read_tree(CALL)?;
            let src = tree.open_read(filename).map_err(|e| guest_error(CALL, e))?;
            let st = tree
                .statns("hivex_open", filename, true)
                .map_err(|e| guest_error(CALL, e))?;
            (src, st.st_size as u64, (st.st_dev as u64, st.st_ino as u64))
        };
        if len > vmcraft_hivex::MAX_HIVE_SIZE {
            return Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                filename,
                format!(
                    "hive file is {} bytes, more than the {} accepted",
                    len,
                    vmcraft_hivex::MAX_HIVE_SIZE
                ),
            ));
        }
        let (copy, mut out) =
            crate::private_file::create(&key, "vmcraft-hivex", ".hive").map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Io,
                    CALL,
                    key.display(),
                    "cannot create a private file",
                    e,
                )
            })?;
        let copied = (|| -> std::io::Result<u64> {
            let n = std::io::copy(
                &mut (&mut src).take(vmcraft_hivex::MAX_HIVE_SIZE + 1),
                &mut out,
            )?;
            out.flush()?;
            Ok(n)
        })();
        drop(out);
        let fail = |e: Error| {
            let _ = std::fs::remove_file(&copy);
            e
        };
        let n = copied.map_err(|e| {
            fail(Error::call_with_source(
                ErrorKind::Io,
                CALL,
                filename,
                "cannot copy the hive",
                e,
            ))
        })?;
        if n > vmcraft_hivex::MAX_HIVE_SIZE {
            return Err(fail(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                filename,
                "the hive file grew past the size accepted while it was read",
            )));
        }
        let hive = Hive::open_with(
            &copy,
            OpenOptions {
                write: opts.write,
                verbose: opts.verbose,
                debug: opts.debug,
                unsafe_heuristics: opts.unsafe_,
            },
        )
        .map_err(|e| fail(hive_error(CALL, e, Some((&copy, filename)))))?;
        // libhivex holds what it needs (a mapping, or the whole hive in
        // memory for writing): the name goes, so that nothing of the hive is
        // left in the session directory when the session ends without
        // hivex_close. hivex_commit has libhivex write it again, briefly.
        let _ = std::fs::remove_file(&copy);
        tracing::debug!(path = filename, bytes = n, write = opts.write, "hive open");
        lock(&HIVES).insert(
            key,
            OpenHive {
                hive,
                copy,
                guest_path: filename.to_string(),
                ident,
            },
        );
        Ok(())
    }

    /// Close the open hive (`hivex_close`), dropping changes not committed.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.hivex_close()?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_close(&self) -> Result<()> {
        const CALL: &str = "hivex_close";
        let key = self.hive_key(CALL)?;
        match lock(&HIVES).remove(&key) {
            Some(_) => Ok(()),
            None => Err(Error::call(
                ErrorKind::InvalidArgument,
                CALL,
                "",
                "no hive is open (call hivex_open first)",
            )),
        }
    }

    /// The root node's handle (`hivex_root`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let root = g.hivex_root()?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_root(&self) -> Result<i64> {
        const CALL: &str = "hivex_root";
        self.with_hive(CALL, |h| {
            h.hive
                .root()
                .map(|n| n.raw() as i64)
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// A node's name (`hivex_node_name`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let name = g.hivex_node_name(g.hivex_root()?)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_name(&self, nodeh: i64) -> Result<String> {
        const CALL: &str = "hivex_node_name";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            h.hive.node_name(n).map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// A node's subkeys (`hivex_node_children`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// for c in g.hivex_node_children(g.hivex_root()?)? {
    ///     println!("{}", g.hivex_node_name(c.hivex_node_h)?);
    /// }
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_children(&self, nodeh: i64) -> Result<Vec<HivexNode>> {
        const CALL: &str = "hivex_node_children";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            Ok(h.hive
                .node_children(n)
                .map_err(|e| hive_error(CALL, e, None))?
                .into_iter()
                .map(|c| HivexNode {
                    hivex_node_h: c.raw() as i64,
                })
                .collect())
        })
    }

    /// The subkey of a node named `name`, compared case-insensitively; 0 when
    /// there is none (`hivex_node_get_child`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let select = g.hivex_node_get_child(g.hivex_root()?, "Select")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_get_child(&self, nodeh: i64, name: &str) -> Result<i64> {
        const CALL: &str = "hivex_node_get_child";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            Ok(h.hive
                .node_get_child(n, name)
                .map_err(|e| hive_error(CALL, e, None))?
                .map_or(0, |c| c.raw() as i64))
        })
    }

    /// A node's parent (`hivex_node_parent`); the root has none (an error).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let node = 0x1020;
    /// let parent = g.hivex_node_parent(node)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_parent(&self, nodeh: i64) -> Result<i64> {
        const CALL: &str = "hivex_node_parent";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            h.hive
                .node_parent(n)
                .map(|p| p.raw() as i64)
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// A node's values (`hivex_node_values`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// for v in g.hivex_node_values(g.hivex_root()?)? {
    ///     println!("{}", g.hivex_value_key(v.hivex_value_h)?);
    /// }
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_values(&self, nodeh: i64) -> Result<Vec<HivexValue>> {
        const CALL: &str = "hivex_node_values";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            Ok(h.hive
                .node_values(n)
                .map_err(|e| hive_error(CALL, e, None))?
                .into_iter()
                .map(|v| HivexValue {
                    hivex_value_h: v.raw() as i64,
                })
                .collect())
        })
    }

    /// The value of a node named `key` (`""` for the default value), compared
    /// case-insensitively; 0 when there is none (`hivex_node_get_value`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let node = 0x1020;
    /// let v = g.hivex_node_get_value(node, "Current")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_get_value(&self, nodeh: i64, key: &str) -> Result<i64> {
        const CALL: &str = "hivex_node_get_value";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            Ok(h.hive
                .node_get_value(n, key)
                .map_err(|e| hive_error(CALL, e, None))?
                .map_or(0, |v| v.raw() as i64))
        })
    }

    /// A value's name (`hivex_value_key`); `""` for a node's default value.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let value = 0x1340;
    /// let key = g.hivex_value_key(value)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_value_key(&self, valueh: i64) -> Result<String> {
        const CALL: &str = "hivex_value_key";
        let v = Value::from_raw(handle(CALL, "value", valueh)?);
        self.with_hive(CALL, |h| {
            h.hive.value_key(v).map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// A value's type (`hivex_value_type`): 1 `REG_SZ`, 2 `REG_EXPAND_SZ`, 3
    /// `REG_BINARY`, 4 `REG_DWORD`, 7 `REG_MULTI_SZ`, 11 `REG_QWORD`, ...
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let value = 0x1340;
    /// let t = g.hivex_value_type(value)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_value_type(&self, valueh: i64) -> Result<i64> {
        const CALL: &str = "hivex_value_type";
        let v = Value::from_raw(handle(CALL, "value", valueh)?);
        self.with_hive(CALL, |h| {
            h.hive
                .value_type(v)
                .map(|(t, _)| i64::from(t.0))
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// A value's data, as stored (`hivex_value_value`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let value = 0x1340;
    /// let bytes = g.hivex_value_value(value)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_value_value(&self, valueh: i64) -> Result<Vec<u8>> {
        const CALL: &str = "hivex_value_value";
        let v = Value::from_raw(handle(CALL, "value", valueh)?);
        self.with_hive(CALL, |h| {
            h.hive
                .value_value(v)
                .map(|(_, data)| data)
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// A string value (`REG_SZ`, `REG_EXPAND_SZ`, `REG_LINK`) as UTF-8
    /// (`hivex_value_string`); another type is an error.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let value = 0x1340;
    /// let s = g.hivex_value_string(value)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_value_string(&self, valueh: i64) -> Result<String> {
        self.value_string_as("hivex_value_string", valueh)
    }

    /// [`VMCraft::hivex_value_string`] under its deprecated libguestfs name
    /// (`hivex_value_utf8`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let value = 0x1340;
    /// let s = g.hivex_value_utf8(value)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_value_utf8(&self, valueh: i64) -> Result<String> {
        self.value_string_as("hivex_value_utf8", valueh)
    }

    fn value_string_as(&self, call: &'static str, valueh: i64) -> Result<String> {
        let v = Value::from_raw(handle(call, "value", valueh)?);
        self.with_hive(call, |h| {
            h.hive
                .value_string(v)
                .map_err(|e| hive_error(call, e, None))
        })
    }

    /// Add a subkey `name` to `parent` and return its handle
    /// (`hivex_node_add_child`); in the open hive until
    /// [`VMCraft::hivex_commit`]. The hive must be open for writing.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let services = 0x1020;
    /// let node = g.hivex_node_add_child(services, "viostor")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_add_child(&self, parent: i64, name: &str) -> Result<i64> {
        const CALL: &str = "hivex_node_add_child";
        let p = Node::from_raw(handle(CALL, "node", parent)?);
        self.with_hive(CALL, |h| {
            h.hive
                .node_add_child(p, name)
                .map(|n| n.raw() as i64)
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// Delete a node and everything below it (`hivex_node_delete_child`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let node = 0x1400;
    /// g.hivex_node_delete_child(node)?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_delete_child(&self, nodeh: i64) -> Result<()> {
        const CALL: &str = "hivex_node_delete_child";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        self.with_hive(CALL, |h| {
            h.hive
                .node_delete_child(n)
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// Set (or replace) the value `key` of a node, of type `t` with data `val`
    /// as stored (`hivex_node_set_value`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// # let node = 0x1400;
    /// g.hivex_node_set_value(node, "Start", 4, &0u32.to_le_bytes())?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_node_set_value(&self, nodeh: i64, key: &str, t: i64, val: &[u8]) -> Result<()> {
        const CALL: &str = "hivex_node_set_value";
        let n = Node::from_raw(handle(CALL, "node", nodeh)?);
        let t = u32::try_from(t)
            .map_err(|_| Error::invalid(CALL, format!("type {t}"), "not a registry value type"))?;
        self.with_hive(CALL, |h| {
            h.hive
                .node_set_value(n, &SetValue::new(key, ValueType(t), val))
                .map_err(|e| hive_error(CALL, e, None))
        })
    }

    /// Write the open hive's changes (`hivex_commit`): back over the guest file
    /// it was opened from with `None`, or to the guest path `filename` (created
    /// or replaced; the opened file is then left alone). The hive must be open
    /// for writing. Paths are resolved inside the guest root; the file written
    /// back must still be the one that was read.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// g.hivex_commit(None)?;
    /// g.hivex_commit(Some("/Windows/System32/config/SYSTEM.new"))?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hivex_commit(&self, filename: Option<&str>) -> Result<()> {
        const CALL: &str = "hivex_commit";
        if let Some(f) = filename
            && !f.starts_with('/')
        {
            return Err(Error::invalid(
                CALL,
                f,
                "path must start with a / character",
            ));
        }
        self.with_hive(CALL, |h| {
            if !h.hive.writable() {
                return Err(Error::call(
                    ErrorKind::InvalidArgument,
                    CALL,
                    &h.guest_path,
                    "the hive was not opened for writing (hivex_open write:true)",
                ));
            }
            let root = self.guest_root_for(CALL)?;
            let target = filename.unwrap_or(&h.guest_path).to_string();
            // Check the destination before libhivex writes anything: the
            // copy is rewritten only when the guest file can take it.
            let dest = match filename {
                None => {
                    // The file that was read, resolved again inside the root;
                    // refused if the path now names another file.
                    let fd = root
                        .resolve(&h.guest_path, true)
                        .map_err(|e| guest_error(CALL, e))?;
                    let meta = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                        .map_err(|e| {
                            Error::call_with_source(ErrorKind::Io, CALL, &target, "cannot stat", e)
                        })?;
                    if !meta.is_file() || (meta.dev(), meta.ino()) != h.ident {
                        return Err(Error::call(
                            ErrorKind::InvalidArgument,
                            CALL,
                            &target,
                            "the path no longer names the hive file that was opened",
                        ));
                    }
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                        .map_err(|e| {
                            Error::call_with_source(
                                ErrorKind::Io,
                                CALL,
                                &target,
                                "cannot open for writing",
                                e,
                            )
                        })?
                }
                // Not truncated until the commit has succeeded.
                Some(f) => root
                    .open_write(f, WriteMode::Append, 0o644)
                    .map_err(|e| guest_error(CALL, e))?,
            };
            h.hive
                .commit(None)
                .map_err(|e| hive_error(CALL, e, Some((&h.copy, &h.guest_path))))?;
            let data = std::fs::File::open(&h.copy);
            let _ = std::fs::remove_file(&h.copy);
            let mut data = data.map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Io,
                    CALL,
                    &target,
                    "cannot read the committed hive",
                    e,
                )
            })?;
            let mut write = |mut dest: std::fs::File| -> std::io::Result<()> {
                dest.set_len(0)?;
                std::io::copy(&mut data, &mut dest)?;
                dest.sync_all()
            };
            write(dest).map_err(|e| {
                Error::call_with_source(ErrorKind::Io, CALL, &target, "cannot write the hive", e)
            })
        })
    }
}
