//! Windows registry hives: `hivex-open` a hive file of the guest, then the
//! `hivex-*` calls on its node and value handles, `hivex-commit` to write
//! changes back, `hivex-close`.

use super::prelude::*;
use crate::calls::hivex::{HivexNode, HivexOpenOpts, HivexValue};

const NODEH: Arg = arg("nodeh", ArgKind::Int64);
const VALUEH: Arg = arg("valueh", ArgKind::Int64);

impl ToFields for HivexNode {
    fn to_fields(&self) -> Fields {
        vec![("hivex_node_h", Field::Int(self.hivex_node_h))]
    }
}

impl ToFields for HivexValue {
    fn to_fields(&self) -> Fields {
        vec![("hivex_value_h", Field::Int(self.hivex_value_h))]
    }
}

pub(crate) const CALLS: &[Call] = &[
    call(
        "hivex-open",
        &[arg("filename", ArgKind::Path)],
        Ret::Unit,
        "open a Windows Registry hive file",
        "Open the registry hive file FILENAME of the guest (resolved inside the guest \
         root; a regular file of at most 1 GiB). A hive this handle had open is closed \
         first. write:true allows changes and hivex-commit; verbose and debug turn on \
         libhivex's messages on standard error; unsafe:true lets libhivex skip damaged \
         parts of a corrupt hive instead of refusing it. libhivex works on a private copy \
         of the file: the guest file changes only on hivex-commit.",
        |g, a| {
            void!(g.hivex_open(
                a.str(0),
                HivexOpenOpts {
                    verbose: a.opt_bool("verbose").unwrap_or(false),
                    debug: a.opt_bool("debug").unwrap_or(false),
                    write: a.opt_bool("write").unwrap_or(false),
                    unsafe_: a.opt_bool("unsafe").unwrap_or(false),
                },
            ))
        },
    )
    .opts(&[
        arg("verbose", ArgKind::Bool),
        arg("debug", ArgKind::Bool),
        arg("write", ArgKind::Bool),
        arg("unsafe", ArgKind::Bool),
    ]),
    call(
        "hivex-close",
        &[],
        Ret::Unit,
        "close the current hivex handle",
        "Close the open hive, dropping changes not committed.",
        |g, _| void!(g.hivex_close()),
    ),
    call(
        "hivex-root",
        &[],
        Ret::Int64,
        "return the root node of the hive",
        "The handle of the hive's root node.",
        |g, _| Ok(Value::Int(g.hivex_root()?)),
    ),
    call(
        "hivex-node-name",
        &[NODEH],
        Ret::String,
        "return the name of the node",
        "The name of node NODEH.",
        |g, a| Ok(Value::Str(g.hivex_node_name(a.int(0))?)),
    ),
    call(
        "hivex-node-children",
        &[NODEH],
        Ret::StructList,
        "return list of nodes which are subkeys of node",
        "The subkeys of NODEH, as hivex_node structs (field hivex_node_h).",
        |g, a| Ok(structs(&g.hivex_node_children(a.int(0))?)),
    ),
    call(
        "hivex-node-get-child",
        &[NODEH, arg("name", ArgKind::String)],
        Ret::Int64,
        "return the named child of node",
        "The subkey of NODEH named NAME (compared case-insensitively), or 0 when there is \
         none.",
        |g, a| Ok(Value::Int(g.hivex_node_get_child(a.int(0), a.str(1))?)),
    ),
    call(
        "hivex-node-parent",
        &[NODEH],
        Ret::Int64,
        "return the parent of node",
        "The parent node of NODEH; the root has none (an error).",
        |g, a| Ok(Value::Int(g.hivex_node_parent(a.int(0))?)),
    ),
    call(
        "hivex-node-values",
        &[NODEH],
        Ret::StructList,
        "return list of values attached to node",
        "The values of NODEH, as hivex_value structs (field hivex_value_h).",
        |g, a| Ok(structs(&g.hivex_node_values(a.int(0))?)),
    ),
    call(
        "hivex-node-get-value",
        &[NODEH, arg("key", ArgKind::String)],
        Ret::Int64,
        "return the named value",
        "The value of NODEH named KEY (compared case-insensitively; \"\" for the default \
         value), or 0 when there is none.",
        |g, a| Ok(Value::Int(g.hivex_node_get_value(a.int(0), a.str(1))?)),
    ),
    call(
        "hivex-value-key",
        &[VALUEH],
        Ret::String,
        "return the key field from the (key, datatype, data) tuple",
        "The name of value VALUEH (empty for a node's default value).",
        |g, a| Ok(Value::Str(g.hivex_value_key(a.int(0))?)),
    ),
    call(
        "hivex-value-type",
        &[VALUEH],
        Ret::Int64,
        "return the data type from the (key, datatype, data) tuple",
        "The type of value VALUEH: 0 REG_NONE, 1 REG_SZ, 2 REG_EXPAND_SZ, 3 REG_BINARY, 4 \
         REG_DWORD, 5 REG_DWORD_BIG_ENDIAN, 6 REG_LINK, 7 REG_MULTI_SZ, 11 REG_QWORD, ...",
        |g, a| Ok(Value::Int(g.hivex_value_type(a.int(0))?)),
    ),
    call(
        "hivex-value-value",
        &[VALUEH],
        Ret::Buffer,
        "return the data field from the (key, datatype, data) tuple",
        "The data of value VALUEH as stored, byte for byte (at most 8 MB). See also \
         hivex-value-string.",
        |g, a| Ok(Value::Bytes(g.hivex_value_value(a.int(0))?)),
    ),
    call(
        "hivex-value-string",
        &[VALUEH],
        Ret::String,
        "return the data field as a UTF-8 string",
        "The data of a string value (REG_SZ, REG_EXPAND_SZ, REG_LINK), converted from \
         UTF-16LE to UTF-8; another type, or data that is not UTF-16, is an error.",
        |g, a| Ok(Value::Str(g.hivex_value_string(a.int(0))?)),
    ),
    call(
        "hivex-value-utf8",
        &[VALUEH],
        Ret::String,
        "return the data field as a UTF-8 string",
        "Deprecated: the same as hivex-value-string.",
        |g, a| Ok(Value::Str(g.hivex_value_utf8(a.int(0))?)),
    ),
    call(
        "hivex-node-add-child",
        &[arg("parent", ArgKind::Int64), arg("name", ArgKind::String)],
        Ret::Int64,
        "add a child node",
        "Add a subkey NAME to node PARENT and print its handle. The hive must be open for \
         writing; the change is written by hivex-commit.",
        |g, a| Ok(Value::Int(g.hivex_node_add_child(a.int(0), a.str(1))?)),
    ),
    call(
        "hivex-node-delete-child",
        &[NODEH],
        Ret::Unit,
        "delete a node (recursively)",
        "Delete node NODEH and everything below it (not the root). The hive must be open \
         for writing.",
        |g, a| void!(g.hivex_node_delete_child(a.int(0))),
    ),
    call(
        "hivex-node-set-value",
        &[
            NODEH,
            arg("key", ArgKind::String),
            arg("t", ArgKind::Int64),
            arg("val", ArgKind::Buffer),
        ],
        Ret::Unit,
        "set or replace a single value in a node",
        "Set the value KEY of NODEH (replacing one of the same name) to type T with data \
         VAL as stored. The hive must be open for writing.",
        |g, a| void!(g.hivex_node_set_value(a.int(0), a.str(1), a.int(2), a.str(3).as_bytes())),
    ),
    call(
        "hivex-commit",
        &[arg("filename", ArgKind::OptString)],
        Ret::Unit,
        "commit (write) changes back to the hive",
        "Write the open hive with its changes: back over the guest file it was opened from \
         when FILENAME is \"\", else to the guest path FILENAME (created or replaced; the \
         opened file is left alone). The hive must have been opened with write:true; paths \
         are resolved inside the guest root.",
        |g, a| void!(g.hivex_commit(a.opt_str(0))),
    )
    .flags(Flags::WRITES.union(Flags::NEEDS_ROOT)),
];
