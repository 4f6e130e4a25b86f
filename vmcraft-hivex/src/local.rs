//! The hive as libhivex holds it: [`Local`], one libhivex handle and the calls
//! on it, with this crate's bounds on what is copied out.
//!
//! Only the worker process ([`crate::worker`]) makes a `Local`: libhivex parses
//! guest bytes, so it runs confined, never in the caller's process.

use std::ffi::{CStr, CString};
use std::ptr::NonNull;

use crate::error::{Error, ErrorKind};
use crate::{
    MAX_CHILDREN, MAX_STRINGS, MAX_VALUE_LEN, MAX_VALUES, Node, OpenOptions, Result, SetValue,
    Value, ValueType, ffi, layout,
};

/// An open hive. Not `Sync` (libhivex handles are not safe to share between
/// threads); `Send`, since libhivex keeps no per-thread state in a handle.
/// Dropping it closes the handle; changes not committed are lost.
#[derive(Debug)]
pub(crate) struct Local {
    h: NonNull<ffi::hive_h>,
    /// What messages call the hive (its path outside the worker).
    name: String,
    size: u64,
    writable: bool,
}

// SAFETY: a libhivex handle is plain heap memory (and a mapping) owned by this
// value; libhivex has no thread-local or global state tied to the thread that
// opened it (its iconv cache is locked). Moving it to another thread is sound;
// sharing it is not, so `Local` is not `Sync` (`NonNull` is neither by default).
unsafe impl Send for Local {}

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

impl Local {
    /// Open the hive file at `path` (in the worker, the private copy under its
    /// root) with these options; `name` is what messages call it. The caller
    /// has checked the file ([`crate::layout`], [`crate::MAX_HIVE_SIZE`]) and gives
    /// its `size`.
    pub(crate) fn open(path: &CStr, name: &str, size: u64, opts: OpenOptions) -> Result<Local> {
        const OP: &str = "hivex_open";
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
        clear_errno();
        // SAFETY: a valid C string; flags from hivex.h.
        let h = unsafe { ffi::hivex_open(path.as_ptr(), flags) };
        let h = NonNull::new(h).ok_or_else(|| Error::last(OP, name))?;
        Ok(Local {
            h,
            name: name.to_string(),
            size,
            writable: opts.write,
        })
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
    pub(crate) fn root(&self) -> Result<Node> {
        clear_errno();
        // SAFETY: a live handle.
        let r = unsafe { ffi::hivex_root(self.raw()) };
        if r == 0 {
            return Err(Error::last("hivex_root", ""));
        }
        Ok(Node(r))
    }

    /// A key's name.
    pub(crate) fn node_name(&self, node: Node) -> Result<String> {
        const OP: &str = "hivex_node_name";
        self.node_ok(OP, node)?;
        clear_errno();
        // SAFETY: a live handle; the result is malloc'ed or NULL.
        unsafe { take_string(ffi::hivex_node_name(self.raw(), node.0)) }
            .ok_or_else(|| Error::last(OP, format!("node 0x{:x}", node.0)))
    }

    /// A key's subkeys, in the hive's order (at most [`MAX_CHILDREN`]).
    pub(crate) fn node_children(&self, node: Node) -> Result<Vec<Node>> {
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
    pub(crate) fn node_get_child(&self, node: Node, name: &str) -> Result<Option<Node>> {
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
    pub(crate) fn node_parent(&self, node: Node) -> Result<Node> {
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
    pub(crate) fn node_values(&self, node: Node) -> Result<Vec<Value>> {
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
    pub(crate) fn node_get_value(&self, node: Node, key: &str) -> Result<Option<Value>> {
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
    pub(crate) fn value_key(&self, value: Value) -> Result<String> {
        const OP: &str = "hivex_value_key";
        self.value_ok(OP, value)?;
        clear_errno();
        // SAFETY: a live handle; the result is malloc'ed or NULL.
        unsafe { take_string(ffi::hivex_value_key(self.raw(), value.0)) }
            .ok_or_else(|| Error::last(OP, format!("value 0x{:x}", value.0)))
    }

    /// A value's type and the length of its data as the hive declares it.
    pub(crate) fn value_type(&self, value: Value) -> Result<(ValueType, usize)> {
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
    pub(crate) fn value_value(&self, value: Value) -> Result<(ValueType, Vec<u8>)> {
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
    pub(crate) fn value_string(&self, value: Value) -> Result<String> {
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
    pub(crate) fn value_multiple_strings(&self, value: Value) -> Result<Vec<String>> {
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
    pub(crate) fn value_dword(&self, value: Value) -> Result<i32> {
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
    pub(crate) fn value_qword(&self, value: Value) -> Result<i64> {
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
                format!("{}: the hive was not opened for writing", self.name),
            ))
        }
    }

    /// Add a subkey `name` to `parent` and return it (in memory until
    /// [`Local::commit`]). A subkey of that name must not exist already.
    /// Like every write, it is tried first in a child process, so that a
    /// corrupt hive on which libhivex aborts gives an error instead.
    pub(crate) fn node_add_child(&mut self, parent: Node, name: &str) -> Result<Node> {
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
        clear_errno();
        // SAFETY: a live handle opened for writing, a C string.
        let r = unsafe { ffi::hivex_node_add_child(self.raw(), parent.0, c.as_ptr()) };
        if r == 0 {
            return Err(Error::last(OP, format!("node 0x{:x}", parent.0)));
        }
        Ok(Node(r))
    }

    /// Delete a key and everything below it (not the root).
    pub(crate) fn node_delete_child(&mut self, node: Node) -> Result<()> {
        const OP: &str = "hivex_node_delete_child";
        self.need_write(OP)?;
        self.node_ok(OP, node)?;
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
    pub(crate) fn node_set_values(&mut self, node: Node, values: &[SetValue]) -> Result<()> {
        const OP: &str = "hivex_node_set_values";
        self.set_values(OP, node, values)
    }

    /// Set one value of `node`, replacing a value of the same name (compared
    /// case-insensitively) and keeping the others.
    pub(crate) fn node_set_value(&mut self, node: Node, value: &SetValue) -> Result<()> {
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

    /// Write the hive (with its changes) to `path`; `name` is what messages
    /// call it. Only for a hive opened for writing.
    pub(crate) fn commit(&mut self, path: &CStr, name: &str) -> Result<()> {
        const OP: &str = "hivex_commit";
        self.need_write(OP)?;
        clear_errno();
        // SAFETY: a live handle opened for writing and a C string.
        let r = unsafe { ffi::hivex_commit(self.raw(), path.as_ptr(), 0) };
        if r == -1 {
            return Err(Error::last(OP, name));
        }
        Ok(())
    }

    /// Follow `path` (key names, compared case-insensitively as Windows does,
    /// Unicode included) from `node`; `None` when a key is missing.
    pub(crate) fn node_get_path(&self, node: Node, path: &[&str]) -> Result<Option<Node>> {
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
}

impl Drop for Local {
    fn drop(&mut self) {
        // SAFETY: a live handle, closed once.
        unsafe { ffi::hivex_close(self.h.as_ptr()) };
    }
}
