//! The binding to Augeas's C library, loaded with `dlopen` the first time a
//! handle opens rather than linked into every program that uses VMCraft.
//!
//! libaugeas pulls in libxml2, ICU and libstdc++; linked at build time, the
//! dynamic loader maps and initialises all of them at the start of every
//! process, about 1.4 ms on the development machine: a quarter of a whole
//! read-only inspection through the command line, which never uses Augeas. So
//! the library is opened here on first use ([`library`], in the caller's
//! process, before the worker is forked), with every symbol bound at once
//! (`RTLD_NOW`): the forked worker then calls through resolved pointers and
//! never enters the dynamic loader (which another thread of the parent may
//! have held locked at the fork).
//!
//! [`Augeas`] is a thin, safe wrapper of the calls the worker makes. As the C
//! API asks, every call is followed by `aug_error`, and a call is an error
//! exactly when that reports one ([`BindError::Augeas`], with Augeas's
//! message, minor message and details). Strings returned by Augeas are
//! copied out; values that are not UTF-8 are [`BindError::Utf8`].

use std::ffi::{CStr, CString, NulError, c_char, c_int, c_uint, c_void};
use std::io;
use std::ptr;
use std::string::FromUtf8Error;
use std::sync::OnceLock;

use libloading::os::unix::{Library as DynLib, RTLD_LOCAL, RTLD_NOW};

use crate::error::AugeasCode;

/// The shared object to open (libaugeas0 on Debian; the same soname elsewhere).
const SONAME: &str = "libaugeas.so.0";

/// The `augeas` handle of the C API.
#[repr(C)]
struct RawAugeas {
    _opaque: [u8; 0],
}

type InitFn = unsafe extern "C" fn(*const c_char, *const c_char, c_uint) -> *mut RawAugeas;
type CloseFn = unsafe extern "C" fn(*mut RawAugeas);
type ErrorFn = unsafe extern "C" fn(*mut RawAugeas) -> c_int;
type ErrorTextFn = unsafe extern "C" fn(*mut RawAugeas) -> *const c_char;
type GetFn = unsafe extern "C" fn(*const RawAugeas, *const c_char, *mut *const c_char) -> c_int;
type MatchFn =
    unsafe extern "C" fn(*const RawAugeas, *const c_char, *mut *mut *mut c_char) -> c_int;
type Str1Fn = unsafe extern "C" fn(*mut RawAugeas, *const c_char) -> c_int;
type Str2Fn = unsafe extern "C" fn(*mut RawAugeas, *const c_char, *const c_char) -> c_int;
type Str3Fn =
    unsafe extern "C" fn(*mut RawAugeas, *const c_char, *const c_char, *const c_char) -> c_int;
type InsertFn = unsafe extern "C" fn(*mut RawAugeas, *const c_char, *const c_char, c_int) -> c_int;
type DefnodeFn = unsafe extern "C" fn(
    *mut RawAugeas,
    *const c_char,
    *const c_char,
    *const c_char,
    *mut c_int,
) -> c_int;
type TransformFn =
    unsafe extern "C" fn(*mut RawAugeas, *const c_char, *const c_char, c_int) -> c_int;
type LoadFn = unsafe extern "C" fn(*mut RawAugeas) -> c_int;
type SrunFn = unsafe extern "C" fn(*mut RawAugeas, *mut libc::FILE, *const c_char) -> c_int;

/// libaugeas, opened, with the entry points the worker uses.
pub(crate) struct Library {
    init: InitFn,
    close: CloseFn,
    error: ErrorFn,
    error_message: ErrorTextFn,
    error_minor_message: ErrorTextFn,
    error_details: ErrorTextFn,
    get: GetFn,
    label: GetFn,
    match_: MatchFn,
    set: Str2Fn,
    setm: Str3Fn,
    insert: InsertFn,
    rm: Str1Fn,
    mv: Str2Fn,
    defvar: Str2Fn,
    defnode: DefnodeFn,
    load: LoadFn,
    transform: TransformFn,
    text_store: Str3Fn,
    srun: SrunFn,
    /// Kept open for the life of the process (the pointers above point into it).
    _lib: DynLib,
}

static LIBRARY: OnceLock<Result<Library, String>> = OnceLock::new();

/// libaugeas, opened on the first call (never closed). `Err` says why it cannot
/// be opened (not installed, or a version without a needed call).
pub(crate) fn library() -> Result<&'static Library, &'static str> {
    LIBRARY.get_or_init(open).as_ref().map_err(String::as_str)
}

/// libaugeas if [`library`] has opened it already. The forked worker uses only
/// this: it must never run the dynamic loader.
pub(crate) fn loaded() -> Option<&'static Library> {
    LIBRARY.get().and_then(|l| l.as_ref().ok())
}

fn open() -> Result<Library, String> {
    // SAFETY: opening libaugeas runs its initialisers and those of its
    // dependencies (libxml2, ICU), which are safe to run at any time.
    let lib = unsafe { DynLib::open(Some(SONAME), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
        format!(
            "cannot load {SONAME} (is Augeas installed? Debian: apt-get install libaugeas0): {e}"
        )
    })?;
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the symbol is a function of the C API with the signature of
            // the field it is stored in (augeas.h of Augeas 1.13 and later).
            *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                .map_err(|e| format!("{SONAME} has no {}: {e}", $name))?
        };
    }
    Ok(Library {
        init: sym!("aug_init"),
        close: sym!("aug_close"),
        error: sym!("aug_error"),
        error_message: sym!("aug_error_message"),
        error_minor_message: sym!("aug_error_minor_message"),
        error_details: sym!("aug_error_details"),
        get: sym!("aug_get"),
        label: sym!("aug_label"),
        match_: sym!("aug_match"),
        set: sym!("aug_set"),
        setm: sym!("aug_setm"),
        insert: sym!("aug_insert"),
        rm: sym!("aug_rm"),
        mv: sym!("aug_mv"),
        defvar: sym!("aug_defvar"),
        defnode: sym!("aug_defnode"),
        load: sym!("aug_load"),
        transform: sym!("aug_transform"),
        text_store: sym!("aug_text_store"),
        srun: sym!("aug_srun"),
        _lib: lib,
    })
}

/// The code `aug_error` returned (`aug_errcode_t`); `None` for `AUG_NOERROR`.
fn code_of(code: c_int) -> Option<AugeasCode> {
    use AugeasCode::*;
    Some(match code {
        0 => return None,
        1 => NoMem,
        2 => Internal,
        3 => PathExpr,
        4 => NoMatch,
        5 => TooManyMatches,
        6 => Syntax,
        7 => NoLens,
        8 => MultipleTransforms,
        9 => NoSpan,
        10 => MoveDescendant,
        11 => CmdRun,
        12 => BadArg,
        13 => Label,
        14 => CopyDescendant,
        15 => FileAccess,
        _ => Unknown,
    })
}

/// What `aug_error` and its companions reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AugeasError {
    pub(crate) code: AugeasCode,
    pub(crate) message: Option<String>,
    pub(crate) minor_message: Option<String>,
    pub(crate) details: Option<String>,
}

/// Where in a text an error was found (`/augeas/.../error/{pos,line,char}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) char: usize,
}

/// An error Augeas recorded in its tree (`/augeas/files/FILE/error`, or
/// `/augeas/text/PATH/error` after `aug_text_store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeError {
    /// The error node's value (`parse_failed`, `put_failed`, ...).
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) path: Option<String>,
    pub(crate) lens: Option<String>,
    pub(crate) position: Option<Position>,
}

/// Why a call of the binding failed.
#[derive(Debug)]
pub(crate) enum BindError {
    /// Augeas reported an error for the call.
    Augeas(AugeasError),
    /// `aug_text_store` recorded a parse error in the tree.
    Tree(Box<TreeError>),
    /// An argument holds a NUL byte (C strings cannot).
    Nul(NulError),
    /// Augeas returned text that is not UTF-8.
    Utf8(FromUtf8Error),
    /// The host failed (`open_memstream`).
    Io(io::Error),
}

impl BindError {
    /// Whether Augeas reported `code`.
    pub(crate) fn is_code(&self, code: AugeasCode) -> bool {
        matches!(self, BindError::Augeas(a) if a.code == code)
    }
}

impl From<NulError> for BindError {
    fn from(e: NulError) -> Self {
        BindError::Nul(e)
    }
}

impl From<FromUtf8Error> for BindError {
    fn from(e: FromUtf8Error) -> Self {
        BindError::Utf8(e)
    }
}

impl From<AugeasCode> for BindError {
    fn from(code: AugeasCode) -> Self {
        BindError::Augeas(AugeasError {
            code,
            message: None,
            minor_message: None,
            details: None,
        })
    }
}

type BindResult<T> = std::result::Result<T, BindError>;

/// A copy of a C string Augeas returned (lossy for its own messages).
///
/// # Safety
/// `s` is null or a NUL-terminated string valid for the call.
unsafe fn lossy(s: *const c_char) -> Option<String> {
    // SAFETY: the caller's promise.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
}

/// A copy of a C string Augeas returned, which must be UTF-8.
///
/// # Safety
/// As [`lossy`].
unsafe fn text(s: *const c_char) -> BindResult<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise.
    let bytes = unsafe { CStr::from_ptr(s) }.to_bytes().to_vec();
    Ok(Some(String::from_utf8(bytes)?))
}

/// An open Augeas handle (`aug_init` .. `aug_close`).
pub(crate) struct Augeas {
    ptr: *mut RawAugeas,
    lib: &'static Library,
}

impl Augeas {
    /// `aug_init(root, loadpath, flags | AUG_NO_ERR_CLOSE)`, then the error
    /// check the flag makes possible.
    pub(crate) fn init(
        lib: &'static Library,
        root: &str,
        loadpath: &str,
        flags: c_uint,
    ) -> BindResult<Self> {
        const NO_ERR_CLOSE: c_uint = 1 << 8;
        let root = CString::new(root)?;
        let loadpath = CString::new(loadpath)?;
        // SAFETY: valid C strings; the handle is owned by the returned value.
        let ptr = unsafe { (lib.init)(root.as_ptr(), loadpath.as_ptr(), flags | NO_ERR_CLOSE) };
        if ptr.is_null() {
            return Err(BindError::Augeas(AugeasError {
                code: AugeasCode::NoMem,
                message: Some("aug_init returned no handle".into()),
                minor_message: None,
                details: None,
            }));
        }
        let aug = Augeas { ptr, lib };
        aug.check()?;
        Ok(aug)
    }

    /// `Err` when Augeas recorded an error for the last call.
    fn check(&self) -> BindResult<()> {
        // SAFETY: `ptr` is a live handle; the strings live until the next call.
        unsafe {
            let Some(code) = code_of((self.lib.error)(self.ptr)) else {
                return Ok(());
            };
            Err(BindError::Augeas(AugeasError {
                code,
                message: lossy((self.lib.error_message)(self.ptr)),
                minor_message: lossy((self.lib.error_minor_message)(self.ptr)),
                details: lossy((self.lib.error_details)(self.ptr)),
            }))
        }
    }

    /// `aug_get`: the value of the one node `path` matches (`None`: no value,
    /// or no node).
    pub(crate) fn get(&self, path: &str) -> BindResult<Option<String>> {
        match self.get_bytes(path)? {
            Some(v) => Ok(Some(String::from_utf8(v)?)),
            None => Ok(None),
        }
    }

    /// [`Augeas::get`] with text that is not UTF-8 replaced (for messages).
    fn get_lossy(&self, path: &str) -> BindResult<Option<String>> {
        Ok(self
            .get_bytes(path)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn get_bytes(&self, path: &str) -> BindResult<Option<Vec<u8>>> {
        let path = CString::new(path)?;
        let mut value: *const c_char = ptr::null();
        // SAFETY: live handle, valid string, out-pointer to a local.
        unsafe { (self.lib.get)(self.ptr, path.as_ptr(), &mut value) };
        self.check()?;
        // SAFETY: Augeas's value string, valid until the tree changes; copied.
        Ok((!value.is_null()).then(|| unsafe { CStr::from_ptr(value) }.to_bytes().to_vec()))
    }

    /// `aug_label`: the label of the node `path` matches.
    pub(crate) fn label(&self, path: &str) -> BindResult<Option<String>> {
        let path = CString::new(path)?;
        let mut value: *const c_char = ptr::null();
        // SAFETY: as `get`.
        unsafe { (self.lib.label)(self.ptr, path.as_ptr(), &mut value) };
        self.check()?;
        // SAFETY: as `get`.
        unsafe { text(value) }
    }

    /// `aug_match`: the paths of every node `path` matches.
    pub(crate) fn matches(&self, path: &str) -> BindResult<Vec<String>> {
        let path = CString::new(path)?;
        let mut list: *mut *mut c_char = ptr::null_mut();
        // SAFETY: live handle, valid string; Augeas allocates `list` and each
        // entry with malloc, and they are freed below whatever happens.
        let n = unsafe { (self.lib.match_)(self.ptr, path.as_ptr(), &mut list) };
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut bad = None;
        if !list.is_null() {
            for i in 0..usize::try_from(n).unwrap_or(0) {
                // SAFETY: `list` holds `n` entries.
                let entry = unsafe { *list.add(i) };
                // SAFETY: a NUL-terminated string of Augeas's.
                match unsafe { text(entry) } {
                    Ok(Some(s)) => out.push(s),
                    Ok(None) => {}
                    Err(e) => bad = bad.or(Some(e)),
                }
                // SAFETY: allocated by Augeas with malloc, not used again.
                unsafe { libc::free(entry.cast::<c_void>()) };
            }
            // SAFETY: as above.
            unsafe { libc::free(list.cast::<c_void>()) };
        }
        self.check()?;
        match bad {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// `aug_match` counting only.
    pub(crate) fn count(&self, path: &str) -> BindResult<u32> {
        let path = CString::new(path)?;
        // SAFETY: live handle, valid string, no list asked for.
        let n = unsafe { (self.lib.match_)(self.ptr, path.as_ptr(), ptr::null_mut()) };
        self.check()?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    /// `aug_set(path, value)`.
    pub(crate) fn set(&mut self, path: &str, value: &str) -> BindResult<()> {
        let (path, value) = (CString::new(path)?, CString::new(value)?);
        // SAFETY: live handle, valid strings.
        unsafe { (self.lib.set)(self.ptr, path.as_ptr(), value.as_ptr()) };
        self.check()
    }

    /// `aug_set(path, NULL)`: the node keeps no value.
    pub(crate) fn clear(&mut self, path: &str) -> BindResult<()> {
        let path = CString::new(path)?;
        // SAFETY: live handle, valid string; a NULL value is allowed.
        unsafe { (self.lib.set)(self.ptr, path.as_ptr(), ptr::null()) };
        self.check()
    }

    /// `aug_setm(base, sub, value)`: how many nodes were set.
    pub(crate) fn setm(&mut self, base: &str, sub: &str, value: &str) -> BindResult<u32> {
        let (base, sub, value) = (
            CString::new(base)?,
            CString::new(sub)?,
            CString::new(value)?,
        );
        // SAFETY: live handle, valid strings.
        let n = unsafe { (self.lib.setm)(self.ptr, base.as_ptr(), sub.as_ptr(), value.as_ptr()) };
        self.check()?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    /// `aug_insert(path, label, before)`.
    pub(crate) fn insert(&mut self, path: &str, label: &str, before: bool) -> BindResult<()> {
        let (path, label) = (CString::new(path)?, CString::new(label)?);
        // SAFETY: live handle, valid strings.
        unsafe { (self.lib.insert)(self.ptr, path.as_ptr(), label.as_ptr(), c_int::from(before)) };
        self.check()
    }

    /// `aug_rm(path)`: how many nodes were removed.
    pub(crate) fn rm(&mut self, path: &str) -> BindResult<u32> {
        let path = CString::new(path)?;
        // SAFETY: live handle, valid string.
        let n = unsafe { (self.lib.rm)(self.ptr, path.as_ptr()) };
        self.check()?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    /// `aug_mv(src, dst)`.
    pub(crate) fn mv(&mut self, src: &str, dst: &str) -> BindResult<()> {
        let (src, dst) = (CString::new(src)?, CString::new(dst)?);
        // SAFETY: live handle, valid strings.
        unsafe { (self.lib.mv)(self.ptr, src.as_ptr(), dst.as_ptr()) };
        self.check()
    }

    /// `aug_defvar(name, expr)`.
    pub(crate) fn defvar(&mut self, name: &str, expr: &str) -> BindResult<()> {
        let (name, expr) = (CString::new(name)?, CString::new(expr)?);
        // SAFETY: live handle, valid strings.
        unsafe { (self.lib.defvar)(self.ptr, name.as_ptr(), expr.as_ptr()) };
        self.check()
    }

    /// `aug_defvar(name, NULL)`: the variable is removed.
    pub(crate) fn rmvar(&mut self, name: &str) -> BindResult<()> {
        let name = CString::new(name)?;
        // SAFETY: live handle, valid string; a NULL expression is allowed.
        unsafe { (self.lib.defvar)(self.ptr, name.as_ptr(), ptr::null()) };
        self.check()
    }

    /// `aug_defnode(name, expr, value)`: whether a node was created.
    pub(crate) fn defnode(&mut self, name: &str, expr: &str, value: &str) -> BindResult<bool> {
        let (name, expr, value) = (
            CString::new(name)?,
            CString::new(expr)?,
            CString::new(value)?,
        );
        let mut created: c_int = 0;
        // SAFETY: live handle, valid strings, out-pointer to a local.
        unsafe {
            (self.lib.defnode)(
                self.ptr,
                name.as_ptr(),
                expr.as_ptr(),
                value.as_ptr(),
                &mut created,
            )
        };
        self.check()?;
        Ok(created == 1)
    }

    /// `aug_load`.
    pub(crate) fn load(&mut self) -> BindResult<()> {
        // SAFETY: live handle.
        unsafe { (self.lib.load)(self.ptr) };
        self.check()
    }

    /// `aug_transform(lens, file, excl)`.
    pub(crate) fn transform(&mut self, lens: &str, file: &str, excl: bool) -> BindResult<()> {
        let (lens, file) = (CString::new(lens)?, CString::new(file)?);
        // SAFETY: live handle, valid strings.
        unsafe { (self.lib.transform)(self.ptr, lens.as_ptr(), file.as_ptr(), c_int::from(excl)) };
        self.check()
    }

    /// `aug_text_store(lens, node, path)`; a parse error recorded under
    /// `/augeas/text{path}` is [`BindError::Tree`].
    pub(crate) fn text_store(&mut self, lens: &str, node: &str, path: &str) -> BindResult<()> {
        let (lens_c, node_c, path_c) = (
            CString::new(lens)?,
            CString::new(node)?,
            CString::new(path)?,
        );
        // SAFETY: live handle, valid strings.
        unsafe {
            (self.lib.text_store)(self.ptr, lens_c.as_ptr(), node_c.as_ptr(), path_c.as_ptr())
        };
        self.check()?;
        match self.tree_error(&format!("/augeas/text{path}/error"))? {
            Some(e) => Err(BindError::Tree(Box::new(e))),
            None => Ok(()),
        }
    }

    /// `aug_srun(commands)`: the number of commands run and what they printed.
    /// A failed command (`aug_srun` returning -1) is an error with Augeas's
    /// diagnosis, or `AUG_ECMDRUN` when it recorded none.
    pub(crate) fn srun(&self, commands: &str) -> BindResult<(i32, String)> {
        let commands = CString::new(commands)?;
        let mut buf: *mut c_char = ptr::null_mut();
        let mut size: libc::size_t = 0;
        // SAFETY: open_memstream with out-pointers to locals; the stream is
        // closed and the buffer freed below.
        let out = unsafe { libc::open_memstream(&mut buf, &mut size) };
        if out.is_null() {
            return Err(BindError::Io(io::Error::last_os_error()));
        }
        // SAFETY: live handle, open stream, valid string.
        let n = unsafe { (self.lib.srun)(self.ptr, out, commands.as_ptr()) };
        // SAFETY: closing the stream makes `buf` and `size` final.
        let closed = unsafe { libc::fclose(out) };
        let printed = if buf.is_null() {
            Vec::new()
        } else {
            // SAFETY: `size` bytes written by the stream into `buf`.
            let v = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), size) }.to_vec();
            // SAFETY: allocated by the stream, not used again.
            unsafe { libc::free(buf.cast::<c_void>()) };
            v
        };
        if closed != 0 {
            return Err(BindError::Io(io::Error::last_os_error()));
        }
        self.check()?;
        if n == -1 {
            return Err(AugeasCode::CmdRun.into());
        }
        Ok((n, String::from_utf8(printed)?))
    }

    /// The error Augeas recorded at `err_path` (a `.../error` node), if any.
    pub(crate) fn tree_error(&self, err_path: &str) -> BindResult<Option<TreeError>> {
        let Some(kind) = self.get(err_path)? else {
            return Ok(None);
        };
        let sub = |name: &str| self.get_lossy(&format!("{err_path}/{name}"));
        let num = |name: &str| -> BindResult<Option<usize>> {
            Ok(sub(name)?.and_then(|s| s.trim().parse().ok()))
        };
        // `pos`, `line` and `char` are set together or not at all.
        let position = match (num("pos")?, num("line")?, num("char")?) {
            (Some(_), Some(line), Some(char)) => Some(Position { line, char }),
            _ => None,
        };
        Ok(Some(TreeError {
            kind,
            message: sub("message")?.unwrap_or_default(),
            path: sub("path")?,
            lens: sub("lens")?,
            position,
        }))
    }
}

impl Drop for Augeas {
    fn drop(&mut self) {
        // SAFETY: the handle is live and not used after this.
        unsafe { (self.lib.close)(self.ptr) };
    }
}
