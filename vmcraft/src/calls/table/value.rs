//! What a command returns and how it prints: guestfish's layout for each return
//! type (strings and list items one a line, `true`/`false`, MBR ids in hex, hashes
//! as `key: value`, structs as `field: value`, lists of structs as `[N] = { ... }`)
//! and, with `--json`, one JSON document per command.

/// One field of a struct result, typed as guestfish's generator types them.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A string (`FString`, `FUUID`).
    Str(String),
    /// A signed integer (`FInt32`, `FInt64`).
    Int(i64),
    /// An unsigned integer (`FUInt64`, `FBytes`).
    UInt(u64),
    /// A percentage that may be missing (`FOptPercent`): `12.5 %` or nothing.
    Percent(Option<f64>),
}

/// The fields of one struct, in guestfish's order.
pub type Fields = Vec<(&'static str, Field)>;

/// A command's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nothing (`RErr`): prints nothing, `null` in JSON.
    Unit,
    /// Nothing in guestfish's layout, but details for `--json` (tar and copy
    /// statistics).
    Quiet(serde_json::Value),
    /// A string (`RString`).
    Str(String),
    /// Raw bytes written as they are (`RBufferOut`).
    Bytes(Vec<u8>),
    /// A string that may not be UTF-8, printed as its bytes and a newline, as
    /// guestfish prints a C string (`cat` of a file that is not UTF-8).
    Text(Vec<u8>),
    /// `true` / `false` (`RBool`).
    Bool(bool),
    /// A decimal integer (`RInt`, `RInt64`).
    Int(i64),
    /// An integer printed as guestfish prints MBR ids: `0x83`, or `0`.
    Hex(i64),
    /// An integer printed in octal as guestfish prints modes and umasks: `022`,
    /// or `0`.
    Oct(i64),
    /// One item a line (`RStringList`).
    List(Vec<String>),
    /// `key: value`, one pair a line (`RHashtable`).
    Hash(Vec<(String, String)>),
    /// `field: value`, one a line (`RStruct`).
    Struct(Fields),
    /// `[N] = {` ... `}` per element (`RStructList`).
    Structs(Vec<Fields>),
    /// A result printed as the inner value in guestfish's layout, and as the
    /// JSON document (more detail: every attempt, every statistic) with `--json`.
    Detailed(Box<Value>, serde_json::Value),
    /// A result printed as the inner value, after which the command fails with
    /// the message (part of its work failed: `mount-all-parallel` with a mount
    /// that failed exits non-zero, as guestfish does, after saying what happened).
    Incomplete(Box<Value>, String),
}

/// `%g` as C prints it (six significant digits, trailing zeros dropped), for
/// percentages.
fn format_g(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{:.5e}", v);
        // Rust prints `1.23450e7`; C prints `1.2345e+07`.
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = trim_zeros(mant);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

impl Field {
    fn text(&self) -> String {
        match self {
            Field::Str(s) => s.clone(),
            Field::Int(i) => i.to_string(),
            Field::UInt(u) => u.to_string(),
            Field::Percent(Some(p)) => format!("{} %", format_g(*p)),
            Field::Percent(None) => String::new(),
        }
    }
}

fn fields_text(out: &mut Vec<u8>, fields: &Fields, indent: &str) {
    for (name, f) in fields {
        out.extend_from_slice(format!("{indent}{name}: {}\n", f.text()).as_bytes());
    }
}

impl Value {
    /// The value as guestfish prints it.
    ///
    /// ```
    /// use vmcraft::calls::table::value::{Field, Value};
    /// assert_eq!(Value::Bool(true).guestfish(), b"true\n");
    /// assert_eq!(Value::Hex(0x83).guestfish(), b"0x83\n");
    /// let parts = Value::Structs(vec![vec![("part_num", Field::Int(1)), ("part_start", Field::UInt(1048576))]]);
    /// assert_eq!(String::from_utf8(parts.guestfish()).unwrap(),
    ///            "[0] = {\n  part_num: 1\n  part_start: 1048576\n}\n");
    /// ```
    pub fn guestfish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Value::Incomplete(inner, _) | Value::Detailed(inner, _) => return inner.guestfish(),
            Value::Unit | Value::Quiet(_) => {}
            Value::Str(s) => {
                out.extend_from_slice(s.as_bytes());
                out.push(b'\n');
            }
            Value::Bytes(b) => out.extend_from_slice(b),
            Value::Text(b) => {
                out.extend_from_slice(b);
                out.push(b'\n');
            }
            Value::Bool(b) => out.extend_from_slice(if *b { b"true\n" } else { b"false\n" }),
            Value::Int(i) => out.extend_from_slice(format!("{i}\n").as_bytes()),
            Value::Oct(i) => {
                let s = if *i == 0 {
                    "0\n".to_string()
                } else {
                    format!("0{:o}\n", *i)
                };
                out.extend_from_slice(s.as_bytes());
            }
            Value::Hex(i) => {
                let s = if *i == 0 {
                    "0\n".to_string()
                } else {
                    format!("0x{:x}\n", *i as u32)
                };
                out.extend_from_slice(s.as_bytes());
            }
            Value::List(items) => {
                for i in items {
                    out.extend_from_slice(i.as_bytes());
                    out.push(b'\n');
                }
            }
            Value::Hash(pairs) => {
                for (k, v) in pairs {
                    out.extend_from_slice(format!("{k}: {v}\n").as_bytes());
                }
            }
            Value::Struct(fields) => fields_text(&mut out, fields, ""),
            Value::Structs(list) => {
                for (i, fields) in list.iter().enumerate() {
                    out.extend_from_slice(format!("[{i}] = {{\n").as_bytes());
                    fields_text(&mut out, fields, "  ");
                    out.extend_from_slice(b"}\n");
                }
            }
        }
        out
    }

    /// The value as one JSON document: strings, numbers and booleans as
    /// themselves, lists as arrays, hashes and structs as objects (keys in the
    /// order guestfish prints them when serialized), raw bytes as a string when
    /// they are UTF-8 and an array of numbers otherwise, nothing as `null`.
    ///
    /// ```
    /// use vmcraft::calls::table::value::Value;
    /// let v = Value::Hash(vec![("/dev/sda2".into(), "xfs".into()), ("/dev/sda1".into(), "ext4".into())]);
    /// assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"/dev/sda2":"xfs","/dev/sda1":"ext4"}"#);
    /// assert_eq!(Value::Hex(0x83).json().to_string(), "131");
    /// ```
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a Value serializes")
    }
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(v) => s.serialize_str(v),
            Field::Int(v) => s.serialize_i64(*v),
            Field::UInt(v) => s.serialize_u64(*v),
            Field::Percent(v) => v.serialize(s),
        }
    }
}

/// A struct's fields as a JSON object, in order.
struct Ordered<'a>(&'a Fields);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Incomplete(inner, _) => inner.serialize(s),
            Value::Detailed(_, json) => json.serialize(s),
            Value::Unit => s.serialize_unit(),
            Value::Quiet(v) => v.serialize(s),
            Value::Str(v) => s.serialize_str(v),
            Value::Bytes(b) | Value::Text(b) => match std::str::from_utf8(b) {
                Ok(v) => s.serialize_str(v),
                Err(_) => b.serialize(s),
            },
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) | Value::Hex(i) | Value::Oct(i) => s.serialize_i64(*i),
            Value::List(items) => items.serialize(s),
            Value::Hash(pairs) => {
                let mut m = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Value::Struct(fields) => Ordered(fields).serialize(s),
            Value::Structs(list) => {
                let mut q = s.serialize_seq(Some(list.len()))?;
                for f in list {
                    q.serialize_element(&Ordered(f))?;
                }
                q.end()
            }
        }
    }
}

/// Conversion of the facade's structs to guestfish's field lists.
pub trait ToFields {
    /// The fields, in guestfish's order.
    fn to_fields(&self) -> Fields;
}

impl ToFields for vmcraft_part::Partition {
    fn to_fields(&self) -> Fields {
        vec![
            ("part_num", Field::Int(self.part_num.into())),
            ("part_start", Field::UInt(self.part_start)),
            ("part_end", Field::UInt(self.part_end)),
            ("part_size", Field::UInt(self.part_size)),
        ]
    }
}

impl ToFields for vmcraft_fs::root::Stat {
    fn to_fields(&self) -> Fields {
        vec![
            ("dev", Field::Int(self.dev)),
            ("ino", Field::Int(self.ino)),
            ("mode", Field::Int(self.mode)),
            ("nlink", Field::Int(self.nlink)),
            ("uid", Field::Int(self.uid)),
            ("gid", Field::Int(self.gid)),
            ("rdev", Field::Int(self.rdev)),
            ("size", Field::Int(self.size)),
            ("blksize", Field::Int(self.blksize)),
            ("blocks", Field::Int(self.blocks)),
            ("atime", Field::Int(self.atime)),
            ("mtime", Field::Int(self.mtime)),
            ("ctime", Field::Int(self.ctime)),
        ]
    }
}

impl ToFields for vmcraft_fs::root::StatVfs {
    fn to_fields(&self) -> Fields {
        vec![
            ("bsize", Field::Int(self.bsize)),
            ("frsize", Field::Int(self.frsize)),
            ("blocks", Field::Int(self.blocks)),
            ("bfree", Field::Int(self.bfree)),
            ("bavail", Field::Int(self.bavail)),
            ("files", Field::Int(self.files)),
            ("ffree", Field::Int(self.ffree)),
            ("favail", Field::Int(self.favail)),
            ("fsid", Field::Int(self.fsid)),
            ("flag", Field::Int(self.flag)),
            ("namemax", Field::Int(self.namemax)),
        ]
    }
}

/// guestfish prints LVM UUIDs as their 32 characters, without dashes.
fn uuid32(s: &str) -> Field {
    Field::Str(s.chars().filter(|c| *c != '-').collect())
}

impl ToFields for vmcraft_lvm::LvmPv {
    fn to_fields(&self) -> Fields {
        vec![
            ("pv_name", Field::Str(self.pv_name.clone())),
            ("pv_uuid", uuid32(&self.pv_uuid)),
            ("pv_fmt", Field::Str(self.pv_fmt.clone())),
            ("pv_size", Field::UInt(self.pv_size)),
            ("dev_size", Field::UInt(self.dev_size)),
            ("pv_free", Field::UInt(self.pv_free)),
            ("pv_used", Field::UInt(self.pv_used)),
            ("pv_attr", Field::Str(self.pv_attr.clone())),
            ("pv_pe_count", Field::Int(self.pv_pe_count)),
            ("pv_pe_alloc_count", Field::Int(self.pv_pe_alloc_count)),
            ("pv_tags", Field::Str(self.pv_tags.clone())),
            ("pe_start", Field::UInt(self.pe_start)),
            ("pv_mda_count", Field::Int(self.pv_mda_count)),
            ("pv_mda_free", Field::UInt(self.pv_mda_free)),
        ]
    }
}

impl ToFields for vmcraft_lvm::LvmVg {
    fn to_fields(&self) -> Fields {
        vec![
            ("vg_name", Field::Str(self.vg_name.clone())),
            ("vg_uuid", uuid32(&self.vg_uuid)),
            ("vg_fmt", Field::Str(self.vg_fmt.clone())),
            ("vg_attr", Field::Str(self.vg_attr.clone())),
            ("vg_size", Field::UInt(self.vg_size)),
            ("vg_free", Field::UInt(self.vg_free)),
            ("vg_sysid", Field::Str(self.vg_sysid.clone())),
            ("vg_extent_size", Field::UInt(self.vg_extent_size)),
            ("vg_extent_count", Field::Int(self.vg_extent_count)),
            ("vg_free_count", Field::Int(self.vg_free_count)),
            ("max_lv", Field::Int(self.max_lv)),
            ("max_pv", Field::Int(self.max_pv)),
            ("pv_count", Field::Int(self.pv_count)),
            ("lv_count", Field::Int(self.lv_count)),
            ("snap_count", Field::Int(self.snap_count)),
            ("vg_seqno", Field::Int(self.vg_seqno)),
            ("vg_tags", Field::Str(self.vg_tags.clone())),
            ("vg_mda_count", Field::Int(self.vg_mda_count)),
            ("vg_mda_free", Field::UInt(self.vg_mda_free)),
        ]
    }
}

impl ToFields for vmcraft_lvm::LvmLv {
    fn to_fields(&self) -> Fields {
        vec![
            ("lv_name", Field::Str(self.lv_name.clone())),
            ("lv_uuid", uuid32(&self.lv_uuid)),
            ("lv_attr", Field::Str(self.lv_attr.clone())),
            ("lv_major", Field::Int(self.lv_major)),
            ("lv_minor", Field::Int(self.lv_minor)),
            ("lv_kernel_major", Field::Int(self.lv_kernel_major)),
            ("lv_kernel_minor", Field::Int(self.lv_kernel_minor)),
            ("lv_size", Field::UInt(self.lv_size)),
            ("seg_count", Field::Int(self.seg_count)),
            ("origin", Field::Str(self.origin.clone())),
            (
                "snap_percent",
                Field::Percent(self.snap_percent.map(f64::from)),
            ),
            (
                "copy_percent",
                Field::Percent(self.copy_percent.map(f64::from)),
            ),
            ("move_pv", Field::Str(self.move_pv.clone())),
            ("lv_tags", Field::Str(self.lv_tags.clone())),
            ("mirror_log", Field::Str(self.mirror_log.clone())),
            ("modules", Field::Str(self.modules.clone())),
        ]
    }
}

/// A list of facade structs as [`Value::Structs`].
pub fn structs<T: ToFields>(items: &[T]) -> Value {
    Value::Structs(items.iter().map(ToFields::to_fields).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: &Value) -> String {
        String::from_utf8(v.guestfish()).unwrap()
    }

    #[test]
    fn every_return_type_prints_as_guestfish_prints_it() {
        assert_eq!(text(&Value::Unit), "");
        assert_eq!(text(&Value::Quiet(json!({"entries": 3}))), "");
        assert_eq!(text(&Value::Str("hello".into())), "hello\n");
        // A string that already ends in a newline gets a blank line after it.
        assert_eq!(text(&Value::Str("hello\n".into())), "hello\n\n");
        assert_eq!(text(&Value::Bytes(b"raw".to_vec())), "raw");
        assert_eq!(text(&Value::Bool(false)), "false\n");
        assert_eq!(text(&Value::Int(209715200)), "209715200\n");
        assert_eq!(text(&Value::Int(-1)), "-1\n");
        assert_eq!(text(&Value::Hex(0x83)), "0x83\n");
        assert_eq!(text(&Value::Hex(0xee)), "0xee\n");
        assert_eq!(text(&Value::Hex(0)), "0\n");
        assert_eq!(
            text(&Value::List(vec!["/dev/sda1".into(), "/dev/sda2".into()])),
            "/dev/sda1\n/dev/sda2\n"
        );
        assert_eq!(text(&Value::List(vec![])), "");
        assert_eq!(
            text(&Value::Hash(vec![
                ("/dev/sda1".into(), "ext4".into()),
                ("/dev/sda2".into(), "unknown".into())
            ])),
            "/dev/sda1: ext4\n/dev/sda2: unknown\n"
        );
        assert_eq!(
            text(&Value::Struct(vec![
                ("i", Field::Int(1)),
                ("b", Field::Int(1))
            ])),
            "i: 1\nb: 1\n"
        );
    }

    #[test]
    fn struct_lists_use_the_bracket_layout() {
        let p = |n, s, e| vmcraft_part::Partition {
            part_num: n,
            part_start: s,
            part_end: e,
            part_size: e + 1 - s,
        };
        let v = structs(&[p(1, 32256, 16777215), p(2, 16777216, 33554431)]);
        assert_eq!(
            text(&v),
            "[0] = {\n  part_num: 1\n  part_start: 32256\n  part_end: 16777215\n  part_size: 16744960\n}\n\
             [1] = {\n  part_num: 2\n  part_start: 16777216\n  part_end: 33554431\n  part_size: 16777216\n}\n"
        );
        assert_eq!(text(&Value::Structs(vec![])), "");
    }

    #[test]
    fn optional_percentages_print_like_c() {
        assert_eq!(Field::Percent(None).text(), "");
        assert_eq!(Field::Percent(Some(12.5)).text(), "12.5 %");
        assert_eq!(Field::Percent(Some(100.0)).text(), "100 %");
        assert_eq!(Field::Percent(Some(0.0)).text(), "0 %");
        assert_eq!(format_g(1.0 / 3.0), "0.333333");
        assert_eq!(format_g(99.99), "99.99");
        assert_eq!(format_g(1234567.0), "1.23457e+06");
        assert_eq!(format_g(0.00001), "1e-05");
    }

    #[test]
    fn lvm_uuids_print_without_dashes() {
        assert_eq!(
            uuid32("aBcD12-3456-7890-abcd-efgh-ijkl-mnopqr"),
            Field::Str("aBcD1234567890abcdefghijklmnopqr".into())
        );
    }

    #[test]
    fn json_documents_per_type() {
        assert_eq!(Value::Unit.json().to_string(), "null");
        assert_eq!(Value::Bool(true).json().to_string(), "true");
        assert_eq!(Value::Str("a\"b".into()).json().to_string(), r#""a\"b""#);
        assert_eq!(Value::List(vec!["a".into()]).json().to_string(), r#"["a"]"#);
        assert_eq!(Value::Bytes(vec![0xff, 0]).json().to_string(), "[255,0]");
        let s = Value::Structs(vec![vec![
            ("lv_name", Field::Str("home".into())),
            ("snap_percent", Field::Percent(None)),
        ]]);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"[{"lv_name":"home","snap_percent":null}]"#
        );
        let p = Value::Struct(vec![
            ("part_num", Field::Int(1)),
            ("part_end", Field::UInt(9)),
        ]);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"part_num":1,"part_end":9}"#
        );
    }
}
