//! The call table: the one place each call is described.
//!
//! Every libguestfs-style call of the facade has one [`Call`] entry here: its name
//! (guestfish's, with dashes), aliases, typed arguments and optional arguments
//! ([`Arg`]), what it returns ([`Ret`]), its [`Flags`] (writes, needs a mounted
//! root, works on host files, has no effect), a one-line summary, its
//! documentation, and the runner that maps parsed arguments onto the facade method
//! and its result onto a [`Value`]. Everything else is produced from the entry:
//!
//! - the uniform argument handling of [`Call::invoke`]: a tracing span named after
//!   the call, the arguments checked against the entry, the required device
//!   arguments turned into their canonical names before anything else
//!   (`/dev/vda1` is `/dev/sda1`), a writing call refused at once when one of them
//!   is on a read-only drive, and their caches forgotten after it (device lists
//!   and optional device arguments are left to the facade method);
//! - the command line's command of the same name (`vmcraft CMD ARGS`, guestfish's
//!   syntax), its `help CMD` text ([`Call::help_text`]), its guestfish-style and
//!   JSON output ([`Value::guestfish`], [`Value::json`]);
//! - the reference of every call, `CALLS.md` ([`reference`]);
//! - later bindings (Python), which call [`Call::invoke`] with their own values.
//!
//! The entries live in one file per family beside this one (`files.rs`,
//! `part.rs`, ...), each a `pub(crate) const CALLS: &[Call]` listed in
//! [`FAMILIES`]. An entry is written with [`call`] and the builders on [`Call`]:
//!
//! ```
//! use vmcraft::calls::table::{Call, Ret, Value, arg, call, ArgKind, Flags};
//! const ENTRY: Call = call(
//!     "part-set-name",
//!     &[arg("device", ArgKind::Device), arg("partnum", ArgKind::Int), arg("name", ArgKind::String)],
//!     Ret::Unit,
//!     "set partition name",
//!     "Set the name of a GPT partition.",
//!     |g, a| {
//!         g.part_set_name(a.str(0), a.int32(1), a.str(2))?;
//!         Ok(Value::Unit)
//!     },
//! )
//! .flags(Flags::WRITES);
//! assert_eq!(ENTRY.call_name(), "part_set_name");
//! assert!(ENTRY.help_text().contains("part-set-name device partnum name"));
//! ```
//!
//! Conventions: the summary is lower case without a final period, as guestfish's;
//! the documentation says what libguestfs's says in VMCraft's words, and where
//! VMCraft differs; arguments are in libguestfs's order with libguestfs's names;
//! a runner does nothing but convert (the facade method does the work, so library
//! callers get the same behaviour).

/// A call that returns nothing: run the facade call, answer [`Value::Unit`].
macro_rules! void {
    ($e:expr) => {{
        $e?;
        Ok(Value::Unit)
    }};
}

pub mod args;
pub mod value;

mod archive;
#[cfg(feature = "augeas")]
mod aug;
mod block;
mod btrfs_xfs;
mod command;
mod devices;
mod disks;
mod fileinfo;
mod filemod;
mod files;
mod fstools;
mod hivex;
mod inspect;
mod luks;
mod lvm;
mod lvm_admin;
mod md;
mod misc;
mod mkfs;
mod mount;
mod part;
mod session;
mod settings;

pub use args::{Arg, ArgKind, ArgValue, Args, arg};
pub use value::{Field, Fields, ToFields, Value, structs};

use crate::error::{Error, ErrorKind, Result};
use crate::session::VMCraft;

/// What every family file imports: the entry types and builders, the common
/// arguments, and the facade's types.
#[allow(unused_imports)]
pub(crate) mod prelude {
    pub(crate) use super::{
        Arg, ArgKind, ArgValue, Args, Call, Field, Fields, Flags, Ret, ToFields, Value, arg, call,
        structs,
    };
    pub(crate) use crate::error::{Error, ErrorKind, Result};
    pub(crate) use crate::session::VMCraft;

    /// A device (`/dev/sda1`, `/dev/VG/LV`).
    pub(crate) const DEVICE: Arg = arg("device", ArgKind::Device);
    /// Something mountable.
    pub(crate) const MOUNTABLE: Arg = arg("mountable", ArgKind::Device);
    /// A guest path.
    pub(crate) const PATH: Arg = arg("path", ArgKind::Path);
    /// A guest directory.
    pub(crate) const DIRECTORY: Arg = arg("directory", ArgKind::Path);
    /// A partition number.
    pub(crate) const PARTNUM: Arg = arg("partnum", ArgKind::Int);
    /// An inspection root.
    pub(crate) const ROOT: Arg = arg("root", ArgKind::Device);
}

/// What runs a call: parsed arguments onto the facade, its result onto a [`Value`].
pub type Runner = fn(&VMCraft, &Args) -> Result<Value>;

/// What a call returns, as libguestfs's generator types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// Nothing (`RErr`).
    Unit,
    /// A boolean (`RBool`).
    Bool,
    /// A 32-bit integer (`RInt`).
    Int,
    /// A 64-bit integer (`RInt64`).
    Int64,
    /// A string (`RString`, `RConstString`).
    String,
    /// Bytes (`RBufferOut`).
    Buffer,
    /// A list of strings (`RStringList`).
    StringList,
    /// Pairs of strings (`RHashtable`).
    Hash,
    /// One struct (`RStruct`).
    Struct,
    /// A list of structs (`RStructList`).
    StructList,
}

impl Ret {
    /// libguestfs's name of the return type.
    pub fn libguestfs(self) -> &'static str {
        match self {
            Ret::Unit => "RErr",
            Ret::Bool => "RBool",
            Ret::Int => "RInt",
            Ret::Int64 => "RInt64",
            Ret::String => "RString",
            Ret::Buffer => "RBufferOut",
            Ret::StringList => "RStringList",
            Ret::Hash => "RHashtable",
            Ret::Struct => "RStruct",
            Ret::StructList => "RStructList",
        }
    }

    /// Whether `v` is a value of this type (the runner's result agrees with the
    /// entry; [`Call::invoke`] checks it in debug builds and tests).
    pub fn admits(self, v: &Value) -> bool {
        match v {
            Value::Incomplete(inner, _) | Value::Detailed(inner, _) => self.admits(inner),
            Value::Quiet(_) => self == Ret::Unit,
            Value::Unit => self == Ret::Unit,
            Value::Bool(_) => self == Ret::Bool,
            Value::Int(_) | Value::Hex(_) | Value::Oct(_) => matches!(self, Ret::Int | Ret::Int64),
            Value::Str(_) | Value::Text(_) => self == Ret::String,
            Value::Bytes(_) => matches!(self, Ret::Buffer | Ret::String),
            Value::List(_) => self == Ret::StringList,
            Value::Hash(_) => self == Ret::Hash,
            Value::Struct(_) => self == Ret::Struct,
            Value::Structs(_) => self == Ret::StructList,
        }
    }
}

/// What a call does besides returning, as flags.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u32);

impl Flags {
    /// Nothing special: reads only.
    pub const NONE: Flags = Flags(0);
    /// Changes a drive or the guest tree: refused on a read-only drive, and the
    /// caches of the devices it names are forgotten after it.
    pub const WRITES: Flags = Flags(1);
    /// Needs a filesystem mounted on `/` (implied by a guest path argument).
    pub const NEEDS_ROOT: Flags = Flags(1 << 1);
    /// Reads or writes host files the caller names (`upload`, `tar-out`, ...).
    pub const HOST_FILES: Flags = Flags(1 << 2);
    /// Accepted and remembered so scripts run unchanged, with no effect: the
    /// libguestfs appliance settings, which VMCraft has no appliance for.
    pub const NO_EFFECT: Flags = Flags(1 << 3);
    /// Works on the session itself (drives, launch, mounts, settings).
    pub const SESSION: Flags = Flags(1 << 4);
    /// Only before launch, as libguestfs's `config_only` calls.
    pub const CONFIG_ONLY: Flags = Flags(1 << 5);

    /// Both sets of flags.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the flags set, for the reference.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Flags::WRITES, "writes"),
            (Flags::NEEDS_ROOT, "needs a mounted root"),
            (Flags::HOST_FILES, "host files"),
            (Flags::NO_EFFECT, "no effect"),
            (Flags::SESSION, "session"),
            (Flags::CONFIG_ONLY, "before launch only"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, n)| n)
        .collect()
    }
}

impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flags({})", self.names().join(" | "))
    }
}

/// One call.
pub struct Call {
    /// guestfish's name, with dashes (`part-add`).
    pub name: &'static str,
    /// Other names it answers to (`add`, `run`, ...).
    pub aliases: &'static [&'static str],
    /// Required arguments, in libguestfs's order.
    pub args: &'static [Arg],
    /// Optional arguments (`name:value` on the command line, keywords in Python).
    pub optargs: &'static [Arg],
    /// Takes any number of words (`echo`): `args`/`optargs` are then empty and the
    /// runner gets the words as one list.
    pub variadic: bool,
    /// What it returns.
    pub ret: Ret,
    /// What it does besides returning.
    pub flags: Flags,
    /// The device arguments a writing call only reads (`src` of a copy): not
    /// refused on a read-only drive, their caches kept.
    pub reads: &'static [&'static str],
    /// One line, lower case, no final period.
    pub summary: &'static str,
    /// What it does: paragraphs separated by blank lines; lines starting with a
    /// blank are kept as they are (examples).
    pub doc: &'static str,
    /// The runner.
    pub run: Runner,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("name", &self.name)
            .field("ret", &self.ret)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// An entry with no optional arguments, no aliases and no flags; add them with the
/// builders ([`Call::opts`], [`Call::alias`], [`Call::flags`], [`Call::variadic`]).
pub const fn call(
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    summary: &'static str,
    doc: &'static str,
    run: Runner,
) -> Call {
    Call {
        name,
        aliases: &[],
        args,
        optargs: &[],
        variadic: false,
        ret,
        flags: Flags::NONE,
        reads: &[],
        summary,
        doc,
        run,
    }
}

impl Call {
    /// With these optional arguments.
    pub const fn opts(mut self, optargs: &'static [Arg]) -> Self {
        self.optargs = optargs;
        self
    }

    /// With these other names.
    pub const fn alias(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// With these flags (added to those already set).
    pub const fn flags(mut self, flags: Flags) -> Self {
        self.flags = self.flags.union(flags);
        self
    }

    /// Whose device arguments `names` are only read (a writing call's source).
    pub const fn reads(mut self, names: &'static [&'static str]) -> Self {
        self.reads = names;
        self
    }

    /// Taking any number of words.
    pub const fn variadic(mut self) -> Self {
        self.variadic = true;
        self
    }

    /// The libguestfs call name (`part_add`), as errors and bindings name it.
    pub fn call_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// Whether it changes a drive or the guest tree.
    pub fn writes(&self) -> bool {
        self.flags.contains(Flags::WRITES)
    }

    /// Whether it needs a filesystem mounted on `/`: flagged, or taking a guest path.
    pub fn needs_root(&self) -> bool {
        self.flags.contains(Flags::NEEDS_ROOT)
            || self
                .args
                .iter()
                .chain(self.optargs)
                .any(|a| a.kind == ArgKind::Path)
    }

    /// The synopsis: `part-add device prlogex startsect endsect`, then
    /// ` [name:..]` for each optional argument.
    pub fn synopsis(&self) -> String {
        if self.variadic {
            format!("{} [args...]", self.name)
        } else {
            args::synopsis(self.name, self.args, self.optargs)
        }
    }

    /// `help CMD`'s text, in guestfish's layout.
    pub fn help_text(&self) -> String {
        let mut s = format!(
            "NAME\n    {} - {}\n\nSYNOPSIS\n     {}\n\nDESCRIPTION\n",
            self.name,
            self.summary,
            self.synopsis()
        );
        for para in self.doc.split("\n\n") {
            s.push_str(&wrap(para.trim_end(), 4, 76));
            s.push('\n');
        }
        if self
            .args
            .iter()
            .any(|a| matches!(a.kind, ArgKind::FileIn | ArgKind::FileOut))
        {
            s.push_str("    Use - instead of a filename to read/write from stdin/stdout.\n\n");
        }
        if !self.optargs.is_empty() {
            s.push_str("    Optional arguments are written name:value.\n\n");
        }
        if self.flags.contains(Flags::NO_EFFECT) {
            s.push_str(
                "    VMCraft has no appliance: the value is remembered and has no effect.\n\n",
            );
        }
        if !self.aliases.is_empty() {
            let a: Vec<String> = self.aliases.iter().map(|a| format!("'{a}'")).collect();
            s.push_str(&format!(
                "    You can use {} as an alias for this command.\n\n",
                a.join(" or ")
            ));
        }
        s
    }

    /// Run the call on `g`: a tracing span named after it; device arguments
    /// turned into canonical names first; a call only for before launch refused
    /// after it; a writing call refused on a read-only
    /// drive before anything is done; the runner; the caches of every device
    /// argument of a writing call forgotten afterwards (also when it failed
    /// half-way: something may have changed). Device arguments the entry marks
    /// as only read ([`Call::reads`]) are neither refused nor forgotten.
    ///
    /// ```no_run
    /// use vmcraft::calls::table::{lookup, Args, ArgValue};
    /// let g = vmcraft::VMCraft::new();
    /// let c = lookup("list-devices").unwrap();
    /// let v = c.invoke(&g, Args::new(vec![], vec![]))?;
    /// print!("{}", String::from_utf8_lossy(&v.guestfish()));
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    pub fn invoke(&'static self, g: &VMCraft, mut args: Args) -> Result<Value> {
        let span = tracing::debug_span!("call", name = self.name);
        let _enter = span.enter();
        self.check_args(&args)?;
        let mut devices = Vec::new();
        for (i, a) in self.args.iter().enumerate() {
            if a.kind == ArgKind::Device
                && let ArgValue::Str(d) = args.value(i)
            {
                let canonical = g.canonical_name(d);
                if !self.reads.contains(&a.name) {
                    devices.push(canonical.clone());
                }
                args.set(i, ArgValue::Str(canonical));
            }
        }
        if self.flags.contains(Flags::CONFIG_ONLY) && g.is_launched() {
            return Err(Error::call(
                ErrorKind::AlreadyLaunched,
                self.call_name(),
                "",
                "this call can only be made before launch",
            ));
        }
        if self.writes() {
            for d in &devices {
                if g.device_on_readonly_drive(d) {
                    return Err(Error::call(
                        ErrorKind::InvalidArgument,
                        self.call_name(),
                        d,
                        "the drive was added read-only",
                    ));
                }
            }
        }
        let trace = g.trace_prefix();
        if let Some(prefix) = &trace {
            eprintln!(
                "vmcraft: trace: {prefix}{}{}",
                self.call_name(),
                trace_args(self.args, &args)
            );
        }
        let r = (self.run)(g, &args);
        if let Some(prefix) = &trace {
            let what = match &r {
                Ok(v) => trace_value(v),
                Err(e) => format!("-1 (error: {})", e.chain()),
            };
            eprintln!("vmcraft: trace: {prefix}{} = {what}", self.call_name());
        }
        if self.writes() {
            for d in &devices {
                g.invalidate_device(d);
            }
        }
        if let Ok(v) = &r {
            debug_assert!(
                self.ret.admits(v),
                "call table bug: {} returned {v:?}, declared {:?}",
                self.name,
                self.ret
            );
        }
        r
    }
}

/// The arguments of a traced call, as libguestfs traces them (strings quoted,
/// lists in brackets, optional ones as `name:value`, keys as `***`).
fn trace_args(specs: &[Arg], args: &Args) -> String {
    fn one(v: &ArgValue) -> String {
        match v {
            ArgValue::Str(s) => format!("{s:?}"),
            ArgValue::OptStr(Some(s)) => format!("{s:?}"),
            ArgValue::OptStr(None) => "NULL".into(),
            ArgValue::Int(i) => i.to_string(),
            ArgValue::Bool(b) => b.to_string(),
            ArgValue::List(l) => {
                let items: Vec<String> = l.iter().map(|s| format!("{s:?}")).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
    let mut s = String::new();
    for i in 0..args.len() {
        s.push(' ');
        if specs.get(i).is_some_and(|a| a.kind == ArgKind::Key) {
            s.push_str("***");
        } else {
            s.push_str(&one(args.value(i)));
        }
    }
    for (name, v) in args.optional() {
        s.push_str(&format!(" \"{name}:{}\"", one(v)));
    }
    s
}

/// A traced call's result, shortly.
fn trace_value(v: &Value) -> String {
    match v {
        Value::Unit | Value::Quiet(_) => "0".into(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) | Value::Hex(i) | Value::Oct(i) => i.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Text(b) | Value::Bytes(b) => format!("<{} bytes>", b.len()),
        Value::List(l) => {
            let items: Vec<String> = l.iter().map(|s| format!("{s:?}")).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Hash(h) => format!("<{} pairs>", h.len()),
        Value::Struct(_) => "<struct>".into(),
        Value::Structs(l) => format!("<{} structs>", l.len()),
        Value::Detailed(inner, _) | Value::Incomplete(inner, _) => trace_value(inner),
    }
}

impl Call {
    /// Refuse arguments that do not fit the entry (a binding's mistake): the
    /// wrong number, a value of the wrong kind, an `int` out of 32-bit range, an
    /// optional argument the call does not take or given twice.
    fn check_args(&self, args: &Args) -> Result<()> {
        let bad = |what: String| Err(Error::invalid(self.call_name(), "arguments", what));
        let fits = |kind: ArgKind, v: &ArgValue| match (kind, v) {
            (ArgKind::OptString, ArgValue::OptStr(_)) => true,
            (ArgKind::Int, ArgValue::Int(i)) => i32::try_from(*i).is_ok(),
            (ArgKind::Int64, ArgValue::Int(_)) => true,
            (ArgKind::Bool, ArgValue::Bool(_)) => true,
            (ArgKind::List, ArgValue::List(_)) => true,
            (
                ArgKind::String
                | ArgKind::Device
                | ArgKind::Path
                | ArgKind::FileIn
                | ArgKind::FileOut
                | ArgKind::Buffer
                | ArgKind::Key,
                ArgValue::Str(_),
            ) => true,
            _ => false,
        };
        if self.variadic {
            if args.len() != 1 || !matches!(args.value(0), ArgValue::List(_)) {
                return bad("expected one list of words".into());
            }
        } else {
            if args.len() != self.args.len() {
                return bad(format!(
                    "expected {} argument(s), got {}",
                    self.args.len(),
                    args.len()
                ));
            }
            for (i, a) in self.args.iter().enumerate() {
                if !fits(a.kind, args.value(i)) {
                    return bad(format!("{}: not a {:?}", a.name, a.kind));
                }
            }
        }
        let mut seen = Vec::new();
        for (name, v) in args.optional() {
            let Some(a) = self.optargs.iter().find(|o| o.name == name) else {
                return bad(format!("no optional argument {name}"));
            };
            if seen.contains(&name) {
                return bad(format!("optional argument {name} given twice"));
            }
            seen.push(name);
            // An optional string may come as either form.
            let ok = fits(a.kind, v) || (a.kind == ArgKind::OptString && fits(ArgKind::String, v));
            if !ok {
                return bad(format!("{name}: not a {:?}", a.kind));
            }
        }
        Ok(())
    }
}

/// Re-flow a paragraph to `width` columns with `indent` spaces; a paragraph with
/// lines starting with a blank (examples) is kept as it is.
fn wrap(para: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    if para.lines().any(|l| l.starts_with(' ')) {
        return para.lines().map(|l| format!("{pad}{l}\n")).collect();
    }
    let mut out = String::new();
    let mut line = String::new();
    for word in para.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out.push_str(&format!("{pad}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

/// Every family's entries, with the family's title.
pub const FAMILIES: &[(&str, &[Call])] = &[
    ("Session and drives", session::CALLS),
    ("Settings and state", settings::CALLS),
    ("Devices and probing", devices::CALLS),
    ("Block devices", block::CALLS),
    ("Disks and block data", disks::CALLS),
    ("Mounting", mount::CALLS),
    ("Guest files", files::CALLS),
    ("File information and search", fileinfo::CALLS),
    ("File manipulation", filemod::CALLS),
    ("Filesystems", mkfs::CALLS),
    ("Filesystem tools", fstools::CALLS),
    ("Btrfs and XFS", btrfs_xfs::CALLS),
    ("Inspection", inspect::CALLS),
    ("Windows registry (hivex)", hivex::CALLS),
    ("Partitions", part::CALLS),
    ("Encrypted devices", luks::CALLS),
    ("Linux md (RAID)", md::CALLS),
    ("LVM", lvm::CALLS),
    ("LVM administration", lvm_admin::CALLS),
    #[cfg(feature = "augeas")]
    ("Augeas", aug::CALLS),
    ("Tar archives", archive::CALLS),
    ("Guest commands", command::CALLS),
    ("Miscellaneous", misc::CALLS),
];

/// Every call, sorted by name.
pub fn all() -> Vec<&'static Call> {
    let mut v: Vec<&'static Call> = FAMILIES.iter().flat_map(|(_, f)| f.iter()).collect();
    v.sort_by_key(|c| c.name);
    v
}

/// A name as the table spells names: lower case, dashes.
pub fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// The call named `name` (any case, `_` or `-`, or an alias).
///
/// ```
/// let c = vmcraft::calls::table::lookup("PART_ADD").unwrap();
/// assert_eq!(c.name, "part-add");
/// assert_eq!(vmcraft::calls::table::lookup("run").unwrap().name, "launch");
/// assert!(vmcraft::calls::table::lookup("part-ad").is_none());
/// ```
pub fn lookup(name: &str) -> Option<&'static Call> {
    let n = normalize(name);
    FAMILIES
        .iter()
        .flat_map(|(_, f)| f.iter())
        .find(|c| normalize(c.name) == n || c.aliases.contains(&n.as_str()))
}

/// The reference of every call, as `CALLS.md` holds it: by family, each call with
/// its synopsis, return type, flags, summary and documentation.
pub fn reference() -> String {
    let mut s = String::from(
        "# VMCraft calls\n\n\
         Generated from the call table (`vmcraft/src/calls/table`) by \
         `cargo xtask calls`; do not edit. Each call is a command of the `vmcraft` \
         command line (guestfish's syntax: required arguments in order, optional ones \
         as `name:value`) and, under its name with underscores, a method of \
         `vmcraft::VMCraft` (a few methods take a richer Rust form or another name: \
         `config` is `config_param`, `grep` takes `GrepOptions`).\n\n",
    );
    let total: usize = FAMILIES.iter().map(|(_, f)| f.len()).sum();
    s.push_str(&format!("{total} calls.\n\n"));
    for (title, calls) in FAMILIES {
        let mut calls: Vec<&Call> = calls.iter().collect();
        calls.sort_by_key(|c| c.name);
        s.push_str(&format!("## {title}\n\n"));
        for c in calls {
            s.push_str(&format!("### `{}`\n\n", c.name));
            s.push_str(&format!("    {}\n\n", c.synopsis()));
            let mut facts = vec![format!("returns {}", c.ret.libguestfs())];
            facts.extend(c.flags.names().into_iter().map(String::from));
            if c.needs_root() && !c.flags.contains(Flags::NEEDS_ROOT) {
                facts.push("needs a mounted root".into());
            }
            if !c.aliases.is_empty() {
                facts.push(format!("aliases: {}", c.aliases.join(", ")));
            }
            s.push_str(&format!("{} ({}).\n\n", c.summary, facts.join("; ")));
            for para in c.doc.split("\n\n") {
                s.push_str(para.trim_end());
                s.push_str("\n\n");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_with_dashes() {
        // Names are guestfish's (a few have capitals: mkswap-L, resize2fs-M),
        // unique whatever the case; aliases are lower case.
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            for n in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
                assert!(seen.insert(normalize(n)), "{n} defined twice");
                assert!(
                    n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                    "{n}"
                );
            }
            for a in c.aliases {
                assert_eq!(*a, normalize(a), "{a}");
            }
            assert!(!c.summary.is_empty() && !c.doc.is_empty(), "{}", c.name);
            assert!(!c.summary.ends_with('.'), "{}", c.name);
            if c.variadic {
                assert!(c.args.is_empty() && c.optargs.is_empty(), "{}", c.name);
            }
            let mut names = std::collections::HashSet::new();
            for a in c.args.iter().chain(c.optargs) {
                assert!(
                    names.insert(a.name),
                    "{}: argument {} twice",
                    c.name,
                    a.name
                );
            }
        }
    }

    #[test]
    fn lookup_ignores_case_and_underscores() {
        for n in ["part-list", "part_list", "Part-List", "PART_LIST"] {
            assert_eq!(lookup(n).unwrap().name, "part-list", "{n}");
        }
        assert_eq!(lookup("unmount-all").unwrap().name, "umount-all");
    }

    #[test]
    fn help_texts_follow_guestfish() {
        let h = lookup("part-add").unwrap().help_text();
        assert!(h.starts_with("NAME\n    part-add - "), "{h}");
        assert!(
            h.contains("SYNOPSIS\n     part-add device prlogex startsect endsect\n"),
            "{h}"
        );
        let h = lookup("tar-out").unwrap().help_text();
        assert!(h.contains("[compress:..]"), "{h}");
        assert!(h.contains("Use - instead of a filename"), "{h}");
    }

    #[test]
    fn return_types_admit_their_values() {
        assert!(Ret::Unit.admits(&Value::Unit));
        assert!(Ret::Unit.admits(&Value::Quiet(serde_json::json!({}))));
        assert!(Ret::Int64.admits(&Value::Int(3)));
        assert!(!Ret::Bool.admits(&Value::Int(3)));
        assert!(Ret::Hash.admits(&Value::Incomplete(
            Box::new(Value::Hash(vec![])),
            "x".into()
        )));
    }

    #[test]
    fn invoke_refuses_arguments_that_do_not_fit_instead_of_panicking() {
        let g = crate::VMCraft::new();
        let c = lookup("set-memsize").unwrap();
        for (args, want) in [
            (Args::new(vec![], vec![]), "expected 1 argument(s), got 0"),
            (
                Args::new(vec![ArgValue::Str("x".into())], vec![]),
                "memsize: not a Int",
            ),
            (
                Args::new(vec![ArgValue::Int(1 << 40)], vec![]),
                "memsize: not a Int",
            ),
            (
                Args::new(
                    vec![ArgValue::Int(512)],
                    vec![("nope", ArgValue::Bool(true))],
                ),
                "no optional argument nope",
            ),
        ] {
            let e = c.invoke(&g, args).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert_eq!(g.get_memsize().unwrap(), 1280, "nothing changed");
        let echo = lookup("echo-daemon").unwrap();
        assert!(
            echo.invoke(&g, Args::new(vec![ArgValue::Int(1)], vec![]))
                .is_err()
        );
        let v = echo
            .invoke(
                &g,
                Args::new(vec![ArgValue::List(vec!["a".into(), "b".into()])], vec![]),
            )
            .unwrap();
        assert_eq!(v, Value::Str("a b".into()));
    }

    #[test]
    fn flags_combine() {
        let f = Flags::WRITES.union(Flags::HOST_FILES);
        assert!(f.contains(Flags::WRITES) && f.contains(Flags::HOST_FILES));
        assert!(!f.contains(Flags::NO_EFFECT));
        assert_eq!(f.names(), ["writes", "host files"]);
    }

    #[test]
    fn the_reference_lists_every_call() {
        let r = reference();
        for c in all() {
            assert!(r.contains(&format!("### `{}`\n", c.name)), "{}", c.name);
        }
    }
}
