//! `cargo xtask calls`: write `CALLS.md`, the reference of every call, from the
//! call table (`vmcraft/src/calls/table`), and the Python module's type stubs
//! (`cargo xtask wheel --stubs`), which are generated from the same table. A
//! test of the vmcraft crate fails while `CALLS.md` differs from what the table
//! says, and the Python suite while the stubs do.

use std::process::Command;

use anyhow::{Result, bail};

use crate::util;

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("calls takes no arguments (got `{a}`)");
    }
    let root = util::root();
    let out = root.join("CALLS.md");
    util::run(
        Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["run", "-q", "-p", "vmcraft", "--example", "calls_md", "--"])
            .arg(&out),
    )?;
    eprintln!("xtask: wrote {}", out.display());
    crate::python::wheel(&["--stubs".to_string()])
}
