//! `vmcraft._native`: the Python extension module behind `import vmcraft`.
//!
//! Every call of the facade's call table (`vmcraft::calls::table`) is reached
//! through one generic dispatcher, [`PyVMCraft::_call`]: Python's arguments are
//! converted by the entry's [`ArgKind`]s into [`ArgValue`]s, [`Call::invoke`] runs
//! with the GIL released and every Rust panic caught, and the [`Value`] comes back
//! as Python's natural type (hashes and structs as `dict`, lists as `list`,
//! buffers as `bytes`). The Python package (`python/vmcraft/__init__.py`) builds a
//! real method per call from [`calls`] (name, arguments, documentation), so
//! `help(vmcraft.VMCraft.part_add)` shows the call's documentation, and adds the
//! seed's own API (hyper2kvm's VMCraft) on top.
//!
//! Errors are `vmcraft.Error` (a `RuntimeError`, as libguestfs raises) or one of
//! its subclasses by kind, with the attributes `call`, `kind`, `subject`,
//! `device` and `path`.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyString, PyTuple};
use vmcraft::calls::table::{self, ArgKind, ArgValue, Args, Call, Ret, Value, value::Field};
use vmcraft::{Config, ProgressEvent, VMCraft};

create_exception!(vmcraft, Error, PyRuntimeError, "A VMCraft call failed.");
create_exception!(
    vmcraft,
    NotFoundError,
    Error,
    "A device, file, volume or match that does not exist."
);
create_exception!(
    vmcraft,
    InvalidArgumentError,
    Error,
    "An argument refused before anything was done."
);
create_exception!(
    vmcraft,
    ReadOnlyError,
    Error,
    "A write to something read-only (a drive added read-only, a read-only mount)."
);
create_exception!(
    vmcraft,
    UnsupportedError,
    Error,
    "Not supported here: a missing kernel feature or tool."
);
create_exception!(vmcraft, BusyError, Error, "A device or path is busy.");
create_exception!(
    vmcraft,
    CorruptError,
    Error,
    "Damaged or unreadable on-disk data (a partition table, an image, tool output)."
);
create_exception!(
    vmcraft,
    StateError,
    Error,
    "The handle is in the wrong state: not launched, already launched or shut down."
);
create_exception!(
    vmcraft,
    MountError,
    Error,
    "A mount failed, or a path is not mounted."
);
create_exception!(
    vmcraft,
    PermissionDeniedError,
    Error,
    "The host refused: permission denied."
);
create_exception!(
    vmcraft,
    CommandError,
    Error,
    "An external tool or a guest command failed."
);
create_exception!(vmcraft, TimedOutError, Error, "An operation timed out.");
create_exception!(
    vmcraft,
    CancelledError,
    Error,
    "A long call was cancelled through the handle's cancellation token."
);

/// Every call of the table, in the table's order (index = what Python passes).
fn entries() -> &'static [&'static Call] {
    static ALL: OnceLock<Vec<&'static Call>> = OnceLock::new();
    ALL.get_or_init(table::all)
}

/// Call index by every name it answers to (`part-add`, `part_add`, aliases).
fn index() -> &'static HashMap<String, usize> {
    static IDX: OnceLock<HashMap<String, usize>> = OnceLock::new();
    IDX.get_or_init(|| {
        let mut m = HashMap::new();
        for (i, c) in entries().iter().enumerate() {
            for n in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
                m.insert(table::normalize(n), i);
                m.insert(n.replace('-', "_"), i);
                m.insert(n.to_string(), i);
            }
        }
        m
    })
}

/// `c`'s libguestfs name (`part_add`), made once.
fn call_name(c: &'static Call) -> &'static str {
    static NAMES: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    NAMES
        .get_or_init(|| entries().iter().map(|c| (c.name, c.call_name())).collect())
        .get(c.name)
        .map(String::as_str)
        .unwrap_or(c.name)
}

fn find(name: &str) -> Option<usize> {
    let idx = index();
    idx.get(name)
        .or_else(|| idx.get(&table::normalize(name)))
        .copied()
}

/// The Python class of an error kind (the facade's or a crate's, by its name).
fn class_of<'py>(py: Python<'py>, kind: &str, cancelled: bool) -> Bound<'py, pyo3::types::PyType> {
    if cancelled {
        return py.get_type::<CancelledError>();
    }
    match kind {
        "NotFound" | "NoSuchDevice" | "NoMatch" | "NoDevices" => py.get_type::<NotFoundError>(),
        "InvalidArgument" | "InvalidPath" | "WrongType" | "WrongTableType" | "Unpartitioned"
        | "Layout" | "Unsafe" | "UnsafeRoot" | "LimitExceeded" | "AlreadyExists"
        | "BackingFileRefused" | "TooManyMatches" | "NoValue" => {
            py.get_type::<InvalidArgumentError>()
        }
        "ReadOnly" => py.get_type::<ReadOnlyError>(),
        "Unsupported" | "ToolMissing" | "Unavailable" | "NoLens" => {
            py.get_type::<UnsupportedError>()
        }
        "Busy" | "Conflict" => py.get_type::<BusyError>(),
        "Corrupt" | "InvalidImage" | "BadOutput" => py.get_type::<CorruptError>(),
        "NotLaunched" | "AlreadyLaunched" | "ShutDown" | "NotInitialised" => {
            py.get_type::<StateError>()
        }
        "Mount" => py.get_type::<MountError>(),
        "PermissionDenied" | "Permission" => py.get_type::<PermissionDeniedError>(),
        "CommandFailed" | "DaemonFailed" | "DaemonGone" | "SaveFailed" | "Augeas" => {
            py.get_type::<CommandError>()
        }
        "Timeout" => py.get_type::<TimedOutError>(),
        "Cancelled" => py.get_type::<CancelledError>(),
        _ => py.get_type::<Error>(),
    }
}

/// The kind's name: the facade's [`vmcraft::ErrorKind`], or for an error of a
/// crate below, that crate's own kind.
fn kind_name(e: &vmcraft::Error) -> String {
    match e {
        vmcraft::Error::Call(_) => format!("{:?}", e.kind()),
        vmcraft::Error::Block(e) => format!("{:?}", e.kind()),
        vmcraft::Error::Nbd(e) => format!("{:?}", e.kind()),
        vmcraft::Error::Part(e) => format!("{:?}", e.kind()),
        vmcraft::Error::Lvm(e) => format!("{:?}", e.kind()),
        #[cfg(feature = "augeas")]
        vmcraft::Error::Aug(e) => format!("{:?}", e.kind()),
        vmcraft::Error::Archive(e) => format!("{:?}", e.kind()),
        _ => "Other".into(),
    }
}

/// `NotFound` -> `not_found`.
fn snake(kind: &str) -> String {
    let mut s = String::new();
    for (i, ch) in kind.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(ch.to_ascii_lowercase());
        } else {
            s.push(ch);
        }
    }
    s
}

/// The subject (device or path) of a message `call: subject: message`: the
/// first field after the call's name when it is an absolute name.
fn subject_of(message: &str) -> Option<String> {
    let mut parts = message.splitn(3, ": ");
    let _call = parts.next()?;
    let second = parts.next()?;
    parts.next()?;
    (second.starts_with('/') || second.starts_with("btrfsvol:")).then(|| second.to_string())
}

/// A Python exception for a facade error of `call`.
fn to_pyerr(py: Python<'_>, call: &str, e: &vmcraft::Error) -> PyErr {
    let kind = kind_name(e);
    let message = e.chain();
    make_error(py, call, &kind, e.is_cancelled(), &message)
}

fn make_error(py: Python<'_>, call: &str, kind: &str, cancelled: bool, message: &str) -> PyErr {
    let ty = class_of(py, kind, cancelled);
    let err = PyErr::from_type(ty, message.to_string());
    let v = err.value(py);
    let subject = subject_of(message);
    let _ = v.setattr("call", call);
    let _ = v.setattr(
        "kind",
        if cancelled {
            "cancelled".to_string()
        } else {
            snake(kind)
        },
    );
    let _ = v.setattr("message", message);
    let _ = v.setattr("subject", subject.clone());
    let (device, path) = match &subject {
        Some(s) if s.starts_with("/dev/") || s.starts_with("btrfsvol:") => (Some(s.clone()), None),
        Some(s) => (None, Some(s.clone())),
        None => (None, None),
    };
    let _ = v.setattr("device", device);
    let _ = v.setattr("path", path);
    err
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// A string argument: `str`, or any `os.PathLike` (host files).
fn text(py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = o.downcast::<PyString>() {
        return s.extract::<String>();
    }
    if o.hasattr("__fspath__")? {
        let os = py.import("os")?;
        return os.call_method1("fspath", (o,))?.extract::<String>();
    }
    Err(PyTypeError::new_err(format!(
        "expected str, got {}",
        o.get_type().name()?
    )))
}

/// Convert one Python argument by its kind.
fn convert(py: Python<'_>, kind: ArgKind, o: &Bound<'_, PyAny>) -> PyResult<ArgValue> {
    Ok(match kind {
        ArgKind::Key => ArgValue::Str(text(py, o)?),
        ArgKind::String | ArgKind::Device | ArgKind::Path | ArgKind::FileIn | ArgKind::FileOut => {
            // A list for a string option is a space-separated list (`excludes`).
            if let Ok(l) = o.downcast::<PyList>() {
                let items: Vec<String> = l.iter().map(|i| text(py, &i)).collect::<PyResult<_>>()?;
                ArgValue::Str(items.join(" "))
            } else {
                ArgValue::Str(text(py, o)?)
            }
        }
        ArgKind::Buffer => {
            if let Ok(b) = o.downcast::<PyBytes>() {
                match std::str::from_utf8(b.as_bytes()) {
                    Ok(s) => ArgValue::Str(s.to_string()),
                    Err(_) => {
                        return Err(NotUtf8::new_err(()));
                    }
                }
            } else {
                ArgValue::Str(text(py, o)?)
            }
        }
        ArgKind::OptString => {
            if o.is_none() {
                ArgValue::OptStr(None)
            } else {
                ArgValue::OptStr(Some(text(py, o)?))
            }
        }
        ArgKind::Int | ArgKind::Int64 => {
            if o.downcast::<pyo3::types::PyFloat>().is_ok() {
                return Err(PyTypeError::new_err("expected int, got float"));
            }
            ArgValue::Int(o.extract::<i64>()?)
        }
        ArgKind::Bool => ArgValue::Bool(o.is_truthy()?),
        ArgKind::List => {
            if o.downcast::<PyString>().is_ok() {
                return Err(PyTypeError::new_err("expected a list of str, got str"));
            }
            let mut v = Vec::new();
            for i in o.try_iter()? {
                v.push(text(py, &i?)?);
            }
            ArgValue::List(v)
        }
    })
}

create_exception!(
    vmcraft,
    NotUtf8,
    pyo3::exceptions::PyException,
    "Internal: a buffer argument that is not UTF-8."
);

fn kind_str(k: ArgKind) -> &'static str {
    match k {
        ArgKind::String => "String",
        ArgKind::Device => "Device",
        ArgKind::Path => "Path",
        ArgKind::OptString => "OptString",
        ArgKind::Int => "Int",
        ArgKind::Int64 => "Int64",
        ArgKind::Bool => "Bool",
        ArgKind::List => "List",
        ArgKind::FileIn => "FileIn",
        ArgKind::FileOut => "FileOut",
        ArgKind::Buffer => "Buffer",
        ArgKind::Key => "Key",
    }
}

/// A JSON document as Python values.
fn json_to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<PyObject> {
    Ok(match v {
        serde_json::Value::Null => py.None(),
        serde_json::Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
        }
        serde_json::Value::String(s) => PyString::new(py, s).into_any().unbind(),
        serde_json::Value::Array(a) => {
            let l = PyList::empty(py);
            for i in a {
                l.append(json_to_py(py, i)?)?;
            }
            l.into_any().unbind()
        }
        serde_json::Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, i) in o {
                d.set_item(k, json_to_py(py, i)?)?;
            }
            d.into_any().unbind()
        }
    })
}

fn field_to_py(py: Python<'_>, f: &Field) -> PyResult<PyObject> {
    Ok(match f {
        Field::Str(s) => PyString::new(py, s).into_any().unbind(),
        Field::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Field::UInt(u) => u.into_pyobject(py)?.into_any().unbind(),
        Field::Percent(Some(p)) => p.into_pyobject(py)?.into_any().unbind(),
        Field::Percent(None) => py.None(),
    })
}

/// A C string's bytes as `str`: UTF-8, undecodable bytes kept as surrogates
/// (`surrogateescape`, as Python decodes file names).
fn c_string(py: Python<'_>, b: &[u8]) -> PyResult<PyObject> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyString::new(py, s).into_any().unbind()),
        Err(_) => Ok(PyBytes::new(py, b)
            .call_method1("decode", ("utf-8", "surrogateescape"))?
            .unbind()),
    }
}

/// A call's result as Python's type for the entry's return type.
fn value_to_py(py: Python<'_>, ret: Ret, v: &Value, return_dict: bool) -> PyResult<PyObject> {
    Ok(match v {
        Value::Unit | Value::Quiet(_) => py.None(),
        Value::Detailed(inner, _) | Value::Incomplete(inner, _) => {
            value_to_py(py, ret, inner, return_dict)?
        }
        Value::Str(s) => PyString::new(py, s).into_any().unbind(),
        Value::Text(b) => c_string(py, b)?,
        Value::Bytes(b) => {
            if ret == Ret::String {
                c_string(py, b)?
            } else {
                PyBytes::new(py, b).into_any().unbind()
            }
        }
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Int(i) | Value::Hex(i) | Value::Oct(i) => i.into_pyobject(py)?.into_any().unbind(),
        Value::List(l) => PyList::new(py, l)?.into_any().unbind(),
        Value::Hash(h) => {
            if return_dict {
                let d = PyDict::new(py);
                for (k, v) in h {
                    d.set_item(k, v)?;
                }
                d.into_any().unbind()
            } else {
                let l = PyList::empty(py);
                for (k, v) in h {
                    l.append(PyTuple::new(py, [k, v])?)?;
                }
                l.into_any().unbind()
            }
        }
        Value::Struct(fields) => fields_to_py(py, fields)?,
        Value::Structs(list) => {
            let l = PyList::empty(py);
            for f in list {
                l.append(fields_to_py(py, f)?)?;
            }
            l.into_any().unbind()
        }
    })
}

fn fields_to_py(py: Python<'_>, fields: &[(&'static str, Field)]) -> PyResult<PyObject> {
    let d = PyDict::new(py);
    for (name, f) in fields {
        d.set_item(*name, field_to_py(py, f)?)?;
    }
    Ok(d.into_any().unbind())
}

/// libguestfs's `EVENT_CLOSE`: the handle is closed.
const EVENT_CLOSE: u64 = 0x1;
/// libguestfs's `EVENT_PROGRESS`: a long call advanced.
const EVENT_PROGRESS: u64 = 0x8;
/// Every libguestfs event (`EVENT_ALL`).
const EVENT_ALL: u64 = 0x3ff;

/// The handle's Python callbacks: the progress callback and libguestfs-style
/// event callbacks, shared with the Rust closure in its `Config`.
#[derive(Default)]
struct Callbacks {
    progress: Option<Py<PyAny>>,
    events: Vec<(i64, u64, Py<PyAny>)>,
    next: i64,
}

type ProgressSlot = Arc<Mutex<Callbacks>>;

/// Call the event callbacks registered for `event` as libguestfs does:
/// `callback(event, event_handle, buf, array)`; a callback's exception is
/// reported as unraisable, never stopping the call.
fn fire(py: Python<'_>, slot: &ProgressSlot, event: u64, array: &[u64]) {
    let cbs: Vec<(i64, Py<PyAny>)> = match slot.lock() {
        Ok(c) => c
            .events
            .iter()
            .filter(|(_, mask, _)| mask & event != 0)
            .map(|(h, _, cb)| (*h, cb.clone_ref(py)))
            .collect(),
        Err(_) => Vec::new(),
    };
    for (h, cb) in cbs {
        let arr = PyList::new(py, array).map(|l| l.unbind());
        if let Ok(arr) = arr
            && let Err(e) = cb.call1(py, (event, h, PyBytes::new(py, b""), arr))
        {
            e.write_unraisable(py, Some(cb.bind(py)));
        }
    }
}

/// `vmcraft.VMCraft`'s native base: a facade handle usable from several Python
/// threads at once (the facade's handle is `Send + Sync`).
#[pyclass(name = "VMCraft", module = "vmcraft._native", subclass, frozen)]
pub struct PyVMCraft {
    g: Arc<VMCraft>,
    progress: ProgressSlot,
    return_dict: bool,
}

impl PyVMCraft {
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        call: &str,
        f: impl FnOnce(&VMCraft) -> vmcraft::Result<T> + Send,
    ) -> PyResult<T> {
        let g = self.g.clone();
        let r = py.allow_threads(move || catch_unwind(AssertUnwindSafe(|| f(&g))));
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(to_pyerr(py, call, &e)),
            Err(p) => Err(make_error(
                py,
                call,
                "Panic",
                false,
                &format!(
                    "{call}: internal error (a bug in VMCraft): {}",
                    panic_message(&*p)
                ),
            )),
        }
    }

    /// Convert Python's arguments for entry `c`: positional ones in order,
    /// optional ones by keyword (`None` = not given).
    fn args_for(
        py: Python<'_>,
        c: &'static Call,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Args> {
        let name = call_name(c);
        let mut values = Vec::with_capacity(c.args.len());
        if c.variadic {
            let mut words = Vec::new();
            for a in args.iter() {
                if a.downcast::<PyList>().is_ok() || a.downcast::<PyTuple>().is_ok() {
                    for w in a.try_iter()? {
                        words.push(text(py, &w?)?);
                    }
                } else {
                    words.push(text(py, &a)?);
                }
            }
            values.push(ArgValue::List(words));
        } else {
            let mut given: Vec<Option<Bound<'_, PyAny>>> =
                args.iter().map(Some).collect::<Vec<_>>();
            if given.len() > c.args.len() {
                return Err(PyTypeError::new_err(format!(
                    "{name}() takes {} positional argument(s) but {} were given",
                    c.args.len(),
                    given.len()
                )));
            }
            given.resize(c.args.len(), None);
            // Required arguments may also come by keyword.
            for (i, a) in c.args.iter().enumerate() {
                if let Some(kw) = kwargs
                    && let Some(v) = kw.get_item(a.name)?
                {
                    if given[i].is_some() {
                        return Err(PyTypeError::new_err(format!(
                            "{name}() got multiple values for argument '{}'",
                            a.name
                        )));
                    }
                    given[i] = Some(v);
                }
            }
            for (a, v) in c.args.iter().zip(given) {
                let Some(v) = v else {
                    return Err(PyTypeError::new_err(format!(
                        "{name}() missing required argument: '{}'",
                        a.name
                    )));
                };
                values.push(convert(py, a.kind, &v).map_err(|e| {
                    if e.is_instance_of::<NotUtf8>(py) {
                        e
                    } else {
                        PyTypeError::new_err(format!("{name}() argument '{}': {e}", a.name))
                    }
                })?);
            }
        }
        let mut opts = Vec::new();
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let k: String = k.extract()?;
                if c.args.iter().any(|a| a.name == k) {
                    continue;
                }
                let Some(o) = c.optargs.iter().find(|o| o.name == k) else {
                    return Err(PyTypeError::new_err(format!(
                        "{name}() got an unexpected keyword argument '{k}'"
                    )));
                };
                if v.is_none() {
                    continue;
                }
                let value = convert(py, o.kind, &v)
                    .map_err(|e| PyTypeError::new_err(format!("{name}() argument '{k}': {e}")))?;
                opts.push((o.name, value));
            }
        }
        Ok(Args::new(values, opts))
    }

    /// The facade's direct path for buffers that are not UTF-8 (the table's
    /// arguments are strings).
    fn call_bytes(
        &self,
        py: Python<'_>,
        c: &'static Call,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        let name = c.call_name();
        let get = |i: usize, n: &str| -> PyResult<Bound<'_, PyAny>> {
            if let Ok(v) = args.get_item(i) {
                return Ok(v);
            }
            kwargs
                .and_then(|k| k.get_item(n).ok().flatten())
                .ok_or_else(|| PyTypeError::new_err(format!("{name}() missing argument '{n}'")))
        };
        // A registry value's data is bytes (UTF-16 text, numbers, binary).
        if name == "hivex_node_set_value" {
            let nodeh: i64 = get(0, "nodeh")?.extract()?;
            let key = text(py, &get(1, "key")?)?;
            let t: i64 = get(2, "t")?.extract()?;
            let val: Vec<u8> = get(3, "val")?.extract()?;
            self.run(py, &name, |g| g.hivex_node_set_value(nodeh, &key, t, &val))?;
            return Ok(py.None());
        }
        let s0 = text(py, &get(0, c.args[0].name)?)?;
        let content: Vec<u8> = get(1, "content")?.extract()?;
        match name.as_str() {
            "write" => {
                self.run(py, &name, |g| g.write(&s0, &content))?;
                Ok(py.None())
            }
            "write_append" => {
                self.run(py, &name, |g| g.write_append(&s0, &content))?;
                Ok(py.None())
            }
            "pwrite" | "pwrite_device" => {
                let off: i64 = get(2, "offset")?.extract()?;
                let n = if name == "pwrite" {
                    self.run(py, &name, |g| g.pwrite(&s0, &content, off))?
                } else {
                    self.run(py, &name, |g| g.pwrite_device(&s0, &content, off))?
                };
                Ok(n.into_pyobject(py)?.into_any().unbind())
            }
            _ => Err(make_error(
                py,
                &name,
                "InvalidArgument",
                false,
                &format!("{name}: content: must be UTF-8 text for this call"),
            )),
        }
    }

    fn dispatch(
        &self,
        py: Python<'_>,
        i: usize,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Value> {
        let c = entries()[i];
        let a = Self::args_for(py, c, args, kwargs)?;
        self.run(py, call_name(c), move |g| c.invoke(g, a))
    }
}

impl Drop for PyVMCraft {
    /// A handle dropped without `close()`: shut it down with the GIL released
    /// (unmounting and detaching can take a while), unless a call on another
    /// thread still holds it (then the last holder's drop shuts it down).
    fn drop(&mut self) {
        let g = self.g.clone();
        Python::with_gil(|py| {
            py.allow_threads(move || {
                if Arc::strong_count(&g) == 2 {
                    let _ = catch_unwind(AssertUnwindSafe(|| g.shutdown()));
                }
            })
        });
    }
}

fn index_of(name_or_index: &Bound<'_, PyAny>) -> PyResult<usize> {
    // A name first: a failed integer extraction would build a Python exception.
    if let Ok(n) = name_or_index.downcast::<PyString>() {
        if let Some(i) = find(&n.to_cow()?) {
            return Ok(i);
        }
    } else if let Ok(i) = name_or_index.extract::<usize>()
        && i < entries().len()
    {
        return Ok(i);
    }
    Err(pyo3::exceptions::PyAttributeError::new_err(format!(
        "no call {name_or_index}"
    )))
}

#[pymethods]
impl PyVMCraft {
    /// A new handle. `python_return_dict` is accepted as libguestfs's
    /// `GuestFS(python_return_dict=...)`: true (the default here, as the seed's
    /// VMCraft) returns hashes as `dict`, false as a list of `(key, value)`
    /// tuples. `progress` is a callable `progress(call, done, total)` called as
    /// long calls advance (copies, tar). `close_on_exit` and `environment` are
    /// accepted for libguestfs compatibility.
    #[new]
    #[pyo3(signature = (python_return_dict = true, progress = None, close_on_exit = true, environment = true, **_kwargs))]
    fn new(
        python_return_dict: bool,
        progress: Option<Py<PyAny>>,
        close_on_exit: bool,
        environment: bool,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> Self {
        let _ = (close_on_exit, environment);
        let slot: ProgressSlot = Arc::new(Mutex::new(Callbacks {
            progress,
            ..Default::default()
        }));
        let cb_slot = slot.clone();
        let config = Config::builder()
            .progress(move |ev: &ProgressEvent| {
                Python::with_gil(|py| {
                    let cb = match cb_slot.lock() {
                        Ok(g) => g.progress.as_ref().map(|c| c.clone_ref(py)),
                        Err(_) => None,
                    };
                    if let Some(cb) = cb
                        && let Err(e) = cb.call1(py, (ev.call, ev.done, ev.total))
                    {
                        e.write_unraisable(py, Some(cb.bind(py)));
                    }
                    // libguestfs's progress array: proc, serial, position, total.
                    fire(py, &cb_slot, EVENT_PROGRESS, &[0, 0, ev.done, ev.total]);
                });
            })
            .build();
        PyVMCraft {
            g: Arc::new(VMCraft::with_config(config)),
            progress: slot,
            return_dict: python_return_dict,
        }
    }

    /// Run table call `call` (its index in `_calls()`, or a name) with Python's
    /// arguments: positional ones as libguestfs orders them, optional ones as
    /// keywords.
    #[pyo3(signature = (call, args, kwargs = None))]
    fn _call(
        &self,
        py: Python<'_>,
        call: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        let i = index_of(call)?;
        let c = entries()[i];
        match self.dispatch(py, i, args, kwargs) {
            Ok(v) => {
                if let Value::Incomplete(_, msg) = &v {
                    let name = c.call_name();
                    let err = make_error(py, &name, "Incomplete", false, &format!("{name}: {msg}"));
                    let _ = err
                        .value(py)
                        .setattr("result", value_to_py(py, c.ret, &v, self.return_dict)?);
                    return Err(err);
                }
                value_to_py(py, c.ret, &v, self.return_dict)
            }
            Err(e) if e.is_instance_of::<NotUtf8>(py) => self.call_bytes(py, c, args, kwargs),
            Err(e) => Err(e),
        }
    }

    /// As `_call`, returning `(value, detail)`: the detail is what the command
    /// line's `--json` shows (every mount attempt, tar and copy statistics), or
    /// `None`; a partly failed call (`mount_all_parallel`) is not raised, its
    /// message is `detail["incomplete"]`.
    #[pyo3(signature = (call, args, kwargs = None))]
    fn _call_detailed(
        &self,
        py: Python<'_>,
        call: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<(PyObject, PyObject)> {
        let i = index_of(call)?;
        let c = entries()[i];
        let v = self.dispatch(py, i, args, kwargs)?;
        let value = value_to_py(py, c.ret, &v, self.return_dict)?;
        fn detail(py: Python<'_>, v: &Value) -> PyResult<PyObject> {
            match v {
                Value::Quiet(j) | Value::Detailed(_, j) => json_to_py(py, j),
                Value::Incomplete(inner, msg) => {
                    let d = PyDict::new(py);
                    d.set_item("incomplete", msg)?;
                    d.set_item("detail", detail(py, inner)?)?;
                    Ok(d.into_any().unbind())
                }
                _ => Ok(py.None()),
            }
        }
        Ok((value, detail(py, &v)?))
    }

    /// Make a logical volume of `extents` extents of the volume group (the
    /// seed's `lvcreate(..., extents=N)`).
    fn _lvcreate_extents(
        &self,
        py: Python<'_>,
        lvname: &str,
        vgname: &str,
        extents: u64,
    ) -> PyResult<()> {
        self.run(py, "lvcreate", |g| {
            g.lvcreate_size(lvname, vgname, vmcraft::lvm::LvSize::Extents(extents))
        })
    }

    /// Mount every `(mountpoint, device)` pair, parents first, each depth in
    /// parallel (the facade's `mount_all_parallel`): a list, in the order given,
    /// of dicts `mountpoint`, `device`, `ok`, and `strategy`, `fstype`,
    /// `options`, `attempts` when mounted or `error`, `kind` when not. Refused as
    /// a whole (nothing mounted) for a bad list: a mount point given twice, a
    /// relative one.
    fn _mount_all_parallel(
        &self,
        py: Python<'_>,
        pairs: Vec<(String, String)>,
        readonly: bool,
        fallback: bool,
    ) -> PyResult<Py<PyList>> {
        let opts = vmcraft::MountAllOptions { readonly, fallback };
        let results = self.run(py, "mount_all_parallel", |g| {
            g.mount_all_parallel(&pairs, opts)
        })?;
        let l = PyList::empty(py);
        for r in results {
            let d = PyDict::new(py);
            d.set_item("mountpoint", &r.mountpoint)?;
            d.set_item("device", &r.device)?;
            match &r.result {
                Ok(o) => {
                    d.set_item("ok", true)?;
                    d.set_item("fstype", &o.fstype)?;
                    d.set_item("strategy", &o.strategy)?;
                    d.set_item("options", &o.options)?;
                    let j = serde_json::to_value(&o.attempts).unwrap_or_default();
                    d.set_item("attempts", json_to_py(py, &j)?)?;
                    d.set_item("error", py.None())?;
                }
                Err(e) => {
                    d.set_item("ok", false)?;
                    d.set_item("error", e.chain())?;
                    d.set_item("kind", snake(&kind_name(e)))?;
                }
            }
            l.append(d)?;
        }
        Ok(l.unbind())
    }

    /// For the overhead benchmark: run table call `call` `n` times from Rust
    /// (arguments converted once, GIL released, no Python in the loop) and return
    /// the mean seconds per call, so Python's per-call cost can be measured beside
    /// it in one run.
    #[pyo3(signature = (call, args, kwargs = None, n = 10000))]
    fn _bench_invoke(
        &self,
        py: Python<'_>,
        call: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        n: u32,
    ) -> PyResult<f64> {
        let c = entries()[index_of(call)?];
        let a = Self::args_for(py, c, args, kwargs)?;
        let name = c.call_name();
        self.run(py, &name, move |g| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(c.invoke(g, a.clone())?);
            }
            Ok(start.elapsed().as_secs_f64() / f64::from(n.max(1)))
        })
    }

    /// Mount trying the fallback strategies (the seed's `mount_with_fallback`),
    /// the filesystem type given or probed; the outcome as a dict: `device`,
    /// `mountpoint`, `fstype`, `strategy`, `options`, `attempts`.
    #[pyo3(signature = (device, mountpoint, fstype = None))]
    fn _mount_with_fallback(
        &self,
        py: Python<'_>,
        device: String,
        mountpoint: String,
        fstype: Option<String>,
    ) -> PyResult<PyObject> {
        let o = self.run(py, "mount_with_fallback", move |g| match &fstype {
            None => g.mount_with_fallback(&device, &mountpoint),
            Some(t) => g.mount_with_strategies(
                "mount_with_fallback",
                &device,
                &mountpoint,
                t,
                &vmcraft::mount::strategy::fallback_strategies(""),
            ),
        })?;
        let j = serde_json::to_value(&o).unwrap_or_default();
        json_to_py(py, &j)
    }

    /// Make a logical volume over `percent` of the volume group's free space
    /// (the seed's `lvcreate(..., extents="N%FREE")`).
    fn _lvcreate_percent_free(
        &self,
        py: Python<'_>,
        lvname: &str,
        vgname: &str,
        percent: u32,
    ) -> PyResult<()> {
        self.run(py, "lvcreate", |g| {
            g.lvcreate_size(lvname, vgname, vmcraft::lvm::LvSize::PercentFree(percent))
        })
    }

    /// For the tests: a Rust panic inside a call, on the same path every call
    /// takes; it must come out as a `vmcraft.Error`, never a crash or a
    /// `PanicException`.
    fn _panic_for_test(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, "_panic_for_test", |_| -> vmcraft::Result<()> {
            panic!("a panic raised on purpose")
        })
    }

    /// Set (or with `None` clear) the progress callback:
    /// `callback(call: str, done: int, total: int)`, called from the thread doing
    /// the work with the GIL held only for the callback.
    fn set_progress_callback(&self, callback: Option<Py<PyAny>>) {
        if let Ok(mut g) = self.progress.lock() {
            g.progress = callback;
        }
    }

    /// Register a libguestfs-style event callback (`guestfs.GuestFS.set_event_callback`):
    /// `callback(event, event_handle, buf, array)` for the events in the mask
    /// `events`. VMCraft sends `EVENT_PROGRESS` (array: proc, serial, position,
    /// total) and `EVENT_CLOSE`; the appliance's events never come. Returns the
    /// event handle for `delete_event_callback`.
    fn set_event_callback(
        &self,
        py: Python<'_>,
        callback: Py<PyAny>,
        events: u64,
    ) -> PyResult<i64> {
        if events & !EVENT_ALL != 0 {
            return Err(make_error(
                py,
                "set_event_callback",
                "InvalidArgument",
                false,
                &format!("set_event_callback: events: {events:#x} is not a mask of EVENT_*"),
            ));
        }
        let mut g = self
            .progress
            .lock()
            .map_err(|_| PyRuntimeError::new_err("callbacks poisoned"))?;
        let h = g.next;
        g.next += 1;
        g.events.push((h, events, callback));
        Ok(h)
    }

    /// Remove the event callback `event_handle` (unknown handles are ignored, as
    /// libguestfs does).
    fn delete_event_callback(&self, event_handle: i64) {
        if let Ok(mut g) = self.progress.lock() {
            g.events.retain(|(h, _, _)| *h != event_handle);
        }
    }

    /// The progress callback set, or `None`.
    fn get_progress_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.progress
            .lock()
            .ok()
            .and_then(|g| g.progress.as_ref().map(|c| c.clone_ref(py)))
    }

    /// Cancel the long call running on this handle (from another thread): it
    /// fails with `CancelledError`. The handle's later long calls fail too:
    /// shut it down.
    fn cancel(&self) {
        self.g.cancel_token().cancel();
    }

    /// Shut the handle down (`shutdown`) and close it: every mount undone,
    /// drives detached. Calling it twice is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let r = self.run(py, "close", |g| g.shutdown());
        fire(py, &self.progress, EVENT_CLOSE, &[]);
        if let Ok(mut g) = self.progress.lock() {
            g.events.retain(|(_, mask, _)| mask & EVENT_CLOSE == 0);
        }
        r
    }

    /// Whether hashes are returned as `dict` (`python_return_dict`).
    #[getter]
    fn python_return_dict(&self) -> bool {
        self.return_dict
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Shut down, also when the block raised; a shutdown failure is raised only
    /// when the block did not raise.
    #[pyo3(signature = (exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let r = self.close(py);
        match (r, exc_type.filter(|t| !t.is_none())) {
            (Err(e), None) => Err(e),
            _ => Ok(false),
        }
    }
}

/// Every call of the table, for the Python package to build its methods: a list
/// of dicts with `index`, `name` (libguestfs's, `part_add`), `table_name`
/// (`part-add`), `aliases`, `args` and `optargs` (lists of `(name, kind)`),
/// `variadic`, `ret`, `summary`, `doc` (guestfish's help text) and `flags`.
#[pyfunction]
fn _calls(py: Python<'_>) -> PyResult<Py<PyList>> {
    let l = PyList::empty(py);
    for (i, c) in entries().iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("index", i)?;
        d.set_item("name", c.call_name())?;
        d.set_item("table_name", c.name)?;
        d.set_item(
            "aliases",
            c.aliases
                .iter()
                .map(|a| a.replace('-', "_"))
                .collect::<Vec<_>>(),
        )?;
        let spec = |args: &[table::Arg]| -> Vec<(String, String)> {
            args.iter()
                .map(|a| (a.name.to_string(), kind_str(a.kind).to_string()))
                .collect()
        };
        d.set_item("args", spec(c.args))?;
        d.set_item("optargs", spec(c.optargs))?;
        d.set_item("variadic", c.variadic)?;
        d.set_item("ret", c.ret.libguestfs())?;
        d.set_item("summary", c.summary)?;
        d.set_item("doc", c.help_text())?;
        d.set_item("flags", c.flags.names())?;
        l.append(d)?;
    }
    Ok(l.unbind())
}

/// The version of the VMCraft crates this module was built from.
#[pyfunction]
fn _version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyVMCraft>()?;
    m.add_function(wrap_pyfunction!(_calls, m)?)?;
    m.add_function(wrap_pyfunction!(_version, m)?)?;
    for (name, v) in [
        ("EVENT_CLOSE", EVENT_CLOSE),
        ("EVENT_SUBPROCESS_QUIT", 0x2),
        ("EVENT_LAUNCH_DONE", 0x4),
        ("EVENT_PROGRESS", EVENT_PROGRESS),
        ("EVENT_APPLIANCE", 0x10),
        ("EVENT_LIBRARY", 0x20),
        ("EVENT_TRACE", 0x40),
        ("EVENT_ENTER", 0x80),
        ("EVENT_LIBVIRT_AUTH", 0x100),
        ("EVENT_WARNING", 0x200),
        ("EVENT_ALL", EVENT_ALL),
    ] {
        m.add(name, v)?;
    }
    m.add("Error", py.get_type::<Error>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("ReadOnlyError", py.get_type::<ReadOnlyError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("BusyError", py.get_type::<BusyError>())?;
    m.add("CorruptError", py.get_type::<CorruptError>())?;
    m.add("StateError", py.get_type::<StateError>())?;
    m.add("MountError", py.get_type::<MountError>())?;
    m.add(
        "PermissionDeniedError",
        py.get_type::<PermissionDeniedError>(),
    )?;
    m.add("CommandError", py.get_type::<CommandError>())?;
    m.add("TimedOutError", py.get_type::<TimedOutError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    Ok(())
}
