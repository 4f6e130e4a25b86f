//! Augeas on the guest tree: `aug-init`, then the `aug-*` calls on the open
//! handle, `aug-save` to write changes back, `aug-close`.

use super::prelude::*;

const AUGPATH: Arg = arg("augpath", ArgKind::String);

pub(crate) const CALLS: &[Call] = &[
    call(
        "aug-init",
        &[arg("root", ArgKind::Path), arg("flags", ArgKind::Int)],
        Ret::Unit,
        "create a new Augeas handle",
        "Open Augeas on the guest tree at ROOT (usually /) with libguestfs's flag bits: 1 \
         save with .augsave backups, 2 save .augnew files, 4 type-check lenses, 8 no \
         standard load path, 16 save nothing, 32 load no files, 64 load no lenses \
         automatically, 128 keep spans. Augeas runs confined to the guest root. A handle \
         already open is closed first.",
        |g, a| void!(g.aug_init(a.str(0), a.int32(1))),
    ),
    call(
        "aug-close",
        &[],
        Ret::Unit,
        "close the current Augeas handle",
        "Close Augeas, dropping unsaved changes.",
        |g, _| void!(g.aug_close()),
    ),
    call(
        "aug-get",
        &[AUGPATH],
        Ret::String,
        "look up the value of an Augeas path",
        "The value at an Augeas path, which must match exactly one node.",
        |g, a| Ok(Value::Str(g.aug_get(a.str(0))?)),
    ),
    call(
        "aug-set",
        &[AUGPATH, arg("val", ArgKind::String)],
        Ret::Unit,
        "set Augeas path to value",
        "Set the value at an Augeas path, creating the node if needed.",
        |g, a| void!(g.aug_set(a.str(0), a.str(1))),
    ),
    call(
        "aug-clear",
        &[AUGPATH],
        Ret::Unit,
        "clear Augeas path",
        "Remove the value at an Augeas path (the node stays).",
        |g, a| void!(g.aug_clear(a.str(0))),
    ),
    call(
        "aug-insert",
        &[
            AUGPATH,
            arg("label", ArgKind::String),
            arg("before", ArgKind::Bool),
        ],
        Ret::Unit,
        "insert a sibling Augeas node",
        "Insert a node labelled LABEL before (true) or after (false) the node at AUGPATH.",
        |g, a| void!(g.aug_insert(a.str(0), a.str(1), a.bool(2))),
    ),
    call(
        "aug-rm",
        &[AUGPATH],
        Ret::Int,
        "remove an Augeas path",
        "Remove every node matching the path and below; prints how many were removed.",
        |g, a| Ok(Value::Int(g.aug_rm(a.str(0))? as i64)),
    ),
    call(
        "aug-mv",
        &[arg("src", ArgKind::String), arg("dest", ArgKind::String)],
        Ret::Unit,
        "move Augeas node",
        "Move the node at SRC to DEST.",
        |g, a| void!(g.aug_mv(a.str(0), a.str(1))),
    ),
    call(
        "aug-match",
        &[AUGPATH],
        Ret::StringList,
        "return Augeas nodes which match augpath",
        "Every path matching an Augeas path expression.",
        |g, a| Ok(Value::List(g.aug_match(a.str(0))?)),
    ),
    call(
        "aug-ls",
        &[AUGPATH],
        Ret::StringList,
        "list Augeas nodes under augpath",
        "The children of a node, sorted.",
        |g, a| Ok(Value::List(g.aug_ls(a.str(0))?)),
    ),
    call(
        "aug-label",
        &[AUGPATH],
        Ret::String,
        "return the label from an Augeas path expression",
        "The label of the node at an Augeas path.",
        |g, a| Ok(Value::Str(g.aug_label(a.str(0))?)),
    ),
    call(
        "aug-defvar",
        &[
            arg("name", ArgKind::String),
            arg("expr", ArgKind::OptString),
        ],
        Ret::Int,
        "define an Augeas variable",
        "Define variable NAME as the node set of EXPR (\"\" undefines it); prints the number \
         of nodes.",
        |g, a| Ok(Value::Int(g.aug_defvar(a.str(0), a.opt_str(1))? as i64)),
    ),
    call(
        "aug-defnode",
        &[
            arg("name", ArgKind::String),
            arg("expr", ArgKind::String),
            arg("val", ArgKind::String),
        ],
        Ret::Struct,
        "define an Augeas node",
        "Define variable NAME as EXPR, creating a node with value VAL when EXPR matches \
         nothing. Prints i (the number of nodes) and b (1 when a node was created).",
        |g, a| {
            let r = g.aug_defnode(a.str(0), a.str(1), a.str(2))?;
            Ok(Value::Struct(vec![
                ("i", Field::Int(r.i.into())),
                ("b", Field::Int(i64::from(r.b))),
            ]))
        },
    ),
    call(
        "aug-load",
        &[],
        Ret::Unit,
        "load files into the tree",
        "Load (or reload) the files into the Augeas tree.",
        |g, _| void!(g.aug_load()),
    ),
    call(
        "aug-save",
        &[],
        Ret::Unit,
        "write all pending Augeas changes to disk",
        "Write the changed files back into the guest.",
        |g, _| void!(g.aug_save()),
    )
    .flags(Flags::WRITES),
    call(
        "aug-transform",
        &[arg("lens", ArgKind::String), arg("file", ArgKind::String)],
        Ret::Unit,
        "add/remove an Augeas lens transformation",
        "Have LENS load FILE (a path in the guest, globs allowed); remove:true takes the \
         pairing away.",
        |g, a| void!(g.aug_transform(a.str(0), a.str(1), a.opt_bool("remove").unwrap_or(false))),
    )
    .opts(&[arg("remove", ArgKind::Bool)]),
    call(
        "aug-setm",
        &[
            arg("base", ArgKind::String),
            arg("sub", ArgKind::OptString),
            arg("val", ArgKind::String),
        ],
        Ret::Int,
        "set multiple Augeas nodes",
        "Set the value of SUB (\"\" for the node itself) below every node matching BASE; \
         prints how many were set.",
        |g, a| {
            Ok(Value::Int(
                g.aug_setm(a.str(0), a.opt_str(1), a.str(2))? as i64
            ))
        },
    ),
];
