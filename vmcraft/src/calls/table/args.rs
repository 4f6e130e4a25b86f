//! The typed arguments of a call: each parameter's kind ([`ArgKind`], as
//! libguestfs's generator types them), and the parsed values a call runs with
//! ([`Args`]), whoever parsed them (the command line from guestfish's words, a
//! binding from its own values).

/// The type of an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Any string.
    String,
    /// A device name (`/dev/sda1`, `/dev/VG/LV`).
    Device,
    /// A path in the guest.
    Path,
    /// A string that may be left out by giving `""`.
    OptString,
    /// A signed 32-bit integer.
    Int,
    /// A signed 64-bit integer.
    Int64,
    /// A boolean.
    Bool,
    /// A list of strings, written as one space-separated string.
    List,
    /// A host file to read, or `-` for standard input.
    FileIn,
    /// A host file to write, or `-` for standard output.
    FileOut,
    /// Content given on the command line.
    Buffer,
    /// A key or passphrase (libguestfs's `Key`): the command line never takes
    /// it from the command's words (they show in the process list and the
    /// shell's history) but reads it from the terminal, or from standard input
    /// with `--keys-from-stdin`, as guestfish does; bindings take a string.
    Key,
}

impl ArgKind {
    /// How the argument is shown in synopses.
    pub(crate) fn synopsis(self, name: &str) -> String {
        match self {
            ArgKind::Bool => "true|false".into(),
            ArgKind::List => format!("'{name} ...'"),
            ArgKind::FileIn | ArgKind::FileOut => format!("({name}|-)"),
            _ => name.into(),
        }
    }

    pub(crate) fn opt_synopsis(self) -> &'static str {
        match self {
            ArgKind::Bool => "true|false",
            ArgKind::Int | ArgKind::Int64 => "N",
            _ => "..",
        }
    }
}

/// A required argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// Its name, as the synopsis shows it.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
}

/// Shorthand for an [`Arg`].
pub const fn arg(name: &'static str, kind: ArgKind) -> Arg {
    Arg { name, kind }
}

/// The synopsis of a command: `part-add device prlogex startsect endsect`, then
/// ` [name:type]` for each optional argument; keys, asked for rather than
/// written, are left out (`luks-open device mapname`).
pub fn synopsis(name: &str, args: &[Arg], optargs: &[Arg]) -> String {
    let mut s = name.to_string();
    // Keys are asked for, not written (guestfish's synopsis leaves them out).
    for a in args.iter().filter(|a| a.kind != ArgKind::Key) {
        s.push(' ');
        s.push_str(&a.kind.synopsis(a.name));
    }
    for o in optargs {
        s.push_str(&format!(" [{}:{}]", o.name, o.kind.opt_synopsis()));
    }
    s
}

/// A parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    /// A string (also devices, paths, files and buffers).
    Str(String),
    /// An optional string.
    OptStr(Option<String>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A list.
    List(Vec<String>),
}

/// The parsed arguments of one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: Vec<ArgValue>,
    opts: Vec<(&'static str, ArgValue)>,
}

impl Args {
    /// The arguments of a command that takes any number of words: the words as
    /// one list, argument 0.
    pub fn from_words(words: &[String]) -> Self {
        Args {
            values: vec![ArgValue::List(words.to_vec())],
            opts: Vec::new(),
        }
    }

    /// Required values in order, then the optional ones given, by name.
    pub fn new(values: Vec<ArgValue>, opts: Vec<(&'static str, ArgValue)>) -> Self {
        Args { values, opts }
    }

    /// Replace required argument `i` (the command line swaps `-` for a host
    /// temporary file before a call runs).
    pub fn set(&mut self, i: usize, value: ArgValue) {
        self.values[i] = value;
    }

    /// Required argument `i`.
    pub fn value(&self, i: usize) -> &ArgValue {
        self.get(i)
    }

    /// The optional arguments given, by name.
    pub fn optional(&self) -> impl Iterator<Item = (&'static str, &ArgValue)> {
        self.opts.iter().map(|(n, v)| (*n, v))
    }

    /// How many required arguments there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no required arguments.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn get(&self, i: usize) -> &ArgValue {
        self.values
            .get(i)
            .unwrap_or_else(|| panic!("command table bug: no argument {i}"))
    }

    /// Argument `i` as a string.
    pub fn str(&self, i: usize) -> &str {
        match self.get(i) {
            ArgValue::Str(s) => s,
            other => panic!("command table bug: argument {i} is {other:?}"),
        }
    }

    /// Argument `i` as an optional string (`""` is `None`).
    pub fn opt_str(&self, i: usize) -> Option<&str> {
        match self.get(i) {
            ArgValue::OptStr(s) => s.as_deref(),
            other => panic!("command table bug: argument {i} is {other:?}"),
        }
    }

    /// Argument `i` as an integer.
    pub fn int(&self, i: usize) -> i64 {
        match self.get(i) {
            ArgValue::Int(v) => *v,
            other => panic!("command table bug: argument {i} is {other:?}"),
        }
    }

    /// Argument `i` as a 32-bit integer (range-checked when parsed).
    pub fn int32(&self, i: usize) -> i32 {
        self.int(i) as i32
    }

    /// Argument `i` as a boolean.
    pub fn bool(&self, i: usize) -> bool {
        match self.get(i) {
            ArgValue::Bool(b) => *b,
            other => panic!("command table bug: argument {i} is {other:?}"),
        }
    }

    /// Argument `i` as a list.
    pub fn list(&self, i: usize) -> Vec<&str> {
        match self.get(i) {
            ArgValue::List(v) => v.iter().map(String::as_str).collect(),
            other => panic!("command table bug: argument {i} is {other:?}"),
        }
    }

    fn opt(&self, name: &str) -> Option<&ArgValue> {
        self.opts.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Optional argument `name` as a string, if given.
    pub fn opt_string(&self, name: &str) -> Option<&str> {
        match self.opt(name)? {
            ArgValue::Str(s) => Some(s),
            other => panic!("command table bug: optional {name} is {other:?}"),
        }
    }

    /// Optional argument `name` as an integer, if given.
    pub fn opt_int(&self, name: &str) -> Option<i64> {
        match self.opt(name)? {
            ArgValue::Int(v) => Some(*v),
            other => panic!("command table bug: optional {name} is {other:?}"),
        }
    }

    /// Optional argument `name` as a boolean, if given.
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        match self.opt(name)? {
            ArgValue::Bool(b) => Some(*b),
            other => panic!("command table bug: optional {name} is {other:?}"),
        }
    }

    /// Optional argument `name` as a list, if given.
    pub fn opt_list(&self, name: &str) -> Option<Vec<String>> {
        match self.opt(name)? {
            ArgValue::List(v) => Some(v.clone()),
            other => panic!("command table bug: optional {name} is {other:?}"),
        }
    }
}
