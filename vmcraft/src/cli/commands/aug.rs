//! Augeas on the guest tree: `aug-init`, then the `aug-*` calls on the open
//! handle, `aug-save` to write changes back, `aug-close`.

use super::{CommandSpec, arg, c, cmd};
use crate::cli::args::{Arg, ArgKind};
use crate::cli::value::{Field, Value};

const AUGPATH: Arg = arg("augpath", ArgKind::String);

/// A void command: run the call, print nothing.
macro_rules! void {
    ($call:literal, $e:expr) => {{
        c($call, $e)?;
        Ok(Value::Unit)
    }};
}

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "aug-init",
        &[arg("root", ArgKind::Path), arg("flags", ArgKind::Int)],
        "create a new Augeas handle",
        "Open Augeas on the guest tree at ROOT (usually /) with libguestfs's flag bits: 1 \
         save with .augsave backups, 2 save .augnew files, 4 type-check lenses, 8 no \
         standard load path, 16 save nothing, 32 load no files, 64 load no lenses \
         automatically, 128 keep spans. Augeas runs confined to the guest root. A handle \
         already open is closed first.",
        |s, a| void!("aug_init", s.g.aug_init(a.str(0), a.int32(1))),
    ),
    cmd(
        "aug-close",
        &[],
        "close the current Augeas handle",
        "Close Augeas, dropping unsaved changes.",
        |s, _| void!("aug_close", s.g.aug_close()),
    ),
    cmd(
        "aug-get",
        &[AUGPATH],
        "look up the value of an Augeas path",
        "The value at an Augeas path, which must match exactly one node.",
        |s, a| Ok(Value::Str(c("aug_get", s.g.aug_get(a.str(0)))?)),
    ),
    cmd(
        "aug-set",
        &[AUGPATH, arg("val", ArgKind::String)],
        "set Augeas path to value",
        "Set the value at an Augeas path, creating the node if needed.",
        |s, a| void!("aug_set", s.g.aug_set(a.str(0), a.str(1))),
    ),
    cmd(
        "aug-clear",
        &[AUGPATH],
        "clear Augeas path",
        "Remove the value at an Augeas path (the node stays).",
        |s, a| void!("aug_clear", s.g.aug_clear(a.str(0))),
    ),
    cmd(
        "aug-insert",
        &[
            AUGPATH,
            arg("label", ArgKind::String),
            arg("before", ArgKind::Bool),
        ],
        "insert a sibling Augeas node",
        "Insert a node labelled LABEL before (true) or after (false) the node at AUGPATH.",
        |s, a| void!("aug_insert", s.g.aug_insert(a.str(0), a.str(1), a.bool(2))),
    ),
    cmd(
        "aug-rm",
        &[AUGPATH],
        "remove an Augeas path",
        "Remove every node matching the path and below; prints how many were removed.",
        |s, a| Ok(Value::Int(c("aug_rm", s.g.aug_rm(a.str(0)))? as i64)),
    ),
    cmd(
        "aug-mv",
        &[arg("src", ArgKind::String), arg("dest", ArgKind::String)],
        "move Augeas node",
        "Move the node at SRC to DEST.",
        |s, a| void!("aug_mv", s.g.aug_mv(a.str(0), a.str(1))),
    ),
    cmd(
        "aug-match",
        &[AUGPATH],
        "return Augeas nodes which match augpath",
        "Every path matching an Augeas path expression.",
        |s, a| Ok(Value::List(c("aug_match", s.g.aug_match(a.str(0)))?)),
    ),
    cmd(
        "aug-ls",
        &[AUGPATH],
        "list Augeas nodes under augpath",
        "The children of a node, sorted.",
        |s, a| Ok(Value::List(c("aug_ls", s.g.aug_ls(a.str(0)))?)),
    ),
    cmd(
        "aug-label",
        &[AUGPATH],
        "return the label from an Augeas path expression",
        "The label of the node at an Augeas path.",
        |s, a| Ok(Value::Str(c("aug_label", s.g.aug_label(a.str(0)))?)),
    ),
    cmd(
        "aug-defvar",
        &[
            arg("name", ArgKind::String),
            arg("expr", ArgKind::OptString),
        ],
        "define an Augeas variable",
        "Define variable NAME as the node set of EXPR (\"\" undefines it); prints the number \
         of nodes.",
        |s, a| {
            Ok(Value::Int(
                c("aug_defvar", s.g.aug_defvar(a.str(0), a.opt_str(1)))? as i64,
            ))
        },
    ),
    cmd(
        "aug-defnode",
        &[
            arg("name", ArgKind::String),
            arg("expr", ArgKind::String),
            arg("val", ArgKind::String),
        ],
        "define an Augeas node",
        "Define variable NAME as EXPR, creating a node with value VAL when EXPR matches \
         nothing. Prints i (the number of nodes) and b (1 when a node was created).",
        |s, a| {
            let r = c("aug_defnode", s.g.aug_defnode(a.str(0), a.str(1), a.str(2)))?;
            Ok(Value::Struct(vec![
                ("i", Field::Int(r.i.into())),
                ("b", Field::Int(i64::from(r.b))),
            ]))
        },
    ),
    cmd(
        "aug-load",
        &[],
        "load files into the tree",
        "Load (or reload) the files into the Augeas tree.",
        |s, _| void!("aug_load", s.g.aug_load()),
    ),
    cmd(
        "aug-save",
        &[],
        "write all pending Augeas changes to disk",
        "Write the changed files back into the guest.",
        |s, _| void!("aug_save", s.g.aug_save()),
    ),
    cmd(
        "aug-transform",
        &[arg("lens", ArgKind::String), arg("file", ArgKind::String)],
        "add/remove an Augeas lens transformation",
        "Have LENS load FILE (a path in the guest, globs allowed); remove:true takes the \
         pairing away.",
        |s, a| {
            void!(
                "aug_transform",
                s.g.aug_transform(a.str(0), a.str(1), a.opt_bool("remove").unwrap_or(false))
            )
        },
    )
    .opts(&[arg("remove", ArgKind::Bool)]),
    cmd(
        "aug-setm",
        &[
            arg("base", ArgKind::String),
            arg("sub", ArgKind::OptString),
            arg("val", ArgKind::String),
        ],
        "set multiple Augeas nodes",
        "Set the value of SUB (\"\" for the node itself) below every node matching BASE; \
         prints how many were set.",
        |s, a| {
            Ok(Value::Int(
                c("aug_setm", s.g.aug_setm(a.str(0), a.opt_str(1), a.str(2)))? as i64,
            ))
        },
    ),
];
