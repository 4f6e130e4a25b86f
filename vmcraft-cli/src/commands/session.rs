//! The command line's own commands, which are not calls of the facade (guestfish's
//! "fish commands"): `alloc` and `sparse` (make a host image file and add it),
//! `cleanup`, `echo`, `help`, `quit`.

use std::os::unix::fs::OpenOptionsExt;

use super::{FishCommand, c, cmd};
use crate::args::{ArgKind, Args, parse_int};
use crate::error::CliError;
use crate::shell::Shell;
use crate::table;
use vmcraft::DriveOpts;
use vmcraft::calls::table::Value;
use vmcraft::calls::table::{Ret, arg};

const FILENAME: vmcraft::calls::table::Arg = arg("filename", ArgKind::String);

pub(crate) const COMMANDS: &[FishCommand] = &[
    cmd(
        "alloc",
        &[FILENAME, arg("size", ArgKind::String)],
        Ret::Unit,
        "allocate and add a disk file",
        "Create a raw image of SIZE bytes (suffixes K, M, G, T allowed), with its blocks \
         allocated, and add it as add-drive does. An existing file is overwritten.",
        |s, a| allocate(s, "alloc", a, false),
    )
    .alias(&["allocate"]),
    cmd(
        "sparse",
        &[FILENAME, arg("size", ArgKind::String)],
        Ret::Unit,
        "create a sparse disk image and add",
        "Create a sparse raw image of SIZE bytes (suffixes K, M, G, T allowed) and add it as \
         add-drive does. An existing file is overwritten.",
        |s, a| allocate(s, "sparse", a, true),
    ),
    cmd(
        "cleanup",
        &[],
        Ret::StringList,
        "undo what killed sessions left behind",
        "Find the sessions whose process is gone (killed, crashed, out of memory) in the \
         temp directory ($TMPDIR, or tmpdir:DIR) and undo what their state files record: \
         unmount their filesystems (deepest first, in their own mount namespace), stop \
         their FUSE drivers, deactivate their LVs, detach their loop devices, stop \
         qemu-storage-daemon and qemu-nbd, remove their lock files and directories. Prints \
         one line for each thing undone; with --json, the whole report. A live session, \
         and anything that is not what a session recorded (a pid now another process's, a \
         loop device now bound to another file, a filesystem someone else mounted there), \
         is left alone and reported on standard error. Every launch does this too, \
         quietly. guestfish has no such command.",
        cleanup,
    )
    .opts(&[arg("tmpdir", ArgKind::String)]),
    cmd(
        "echo",
        &[],
        Ret::String,
        "display a line of text",
        "Print the arguments, separated by spaces.",
        |_, a| Ok(Value::Str(a.list(0).join(" "))),
    )
    .variadic(),
    cmd(
        "help",
        &[],
        Ret::Buffer,
        "display a list of commands or help on a command",
        "help lists every command with a one-line summary; help CMD shows what CMD takes \
         and does.",
        help,
    )
    .variadic(),
    cmd(
        "quit",
        &[],
        Ret::Unit,
        "quit vmcraft",
        "End the script here. The session is shut down as at the end of every script.",
        |s, _| {
            s.quit = true;
            Ok(Value::Unit)
        },
    )
    .alias(&["exit", "q"]),
];

fn cleanup(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let dir = a
        .opt_string("tmpdir")
        .map(std::path::PathBuf::from)
        .or_else(|| s.g.config().tmpdir.clone());
    let report = c("cleanup", vmcraft::cleanup_stale_sessions(dir.as_deref()))?;
    if s.options.json {
        return Ok(Value::Quiet(
            serde_json::to_value(&report).expect("a report serializes"),
        ));
    }
    for l in report.skipped_lines() {
        eprintln!("vmcraft: cleanup: {l}");
    }
    Ok(Value::List(report.lines()))
}

fn add(s: &mut Shell, path: &str, opts: DriveOpts) -> Result<Value, CliError> {
    c("add_drive", s.g.add_drive_opts(path, opts))?;
    Ok(Value::Unit)
}

fn allocate(s: &mut Shell, command: &str, a: &Args, sparse: bool) -> Result<Value, CliError> {
    let path = a.str(0);
    let size = match parse_int(a.str(1)) {
        Ok(n) if n > 0 => n as u64,
        Ok(_) => {
            return Err(CliError::usage(
                command,
                format!("size: {} must be positive", a.str(1)),
            ));
        }
        Err(e) => return Err(CliError::usage(command, format!("size: {e}"))),
    };
    if s.g.is_launched() {
        return Err(CliError::usage(
            command,
            "can't allocate or add disks after launching",
        ));
    }
    let io = |what: &str, e| CliError::io(command, format!("{what} {path}"), e);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| io("cannot create", e))?;
    f.set_len(size).map_err(|e| io("cannot size", e))?;
    if !sparse {
        nix::fcntl::posix_fallocate(&f, 0, size as i64)
            .map_err(|e| io("cannot allocate", e.into()))?;
    }
    drop(f);
    let raw = DriveOpts {
        format: Some(vmcraft_nbd::Format::Raw),
        ..Default::default()
    };
    if let Err(e) = add(s, path, raw) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(Value::Unit)
}

fn help(_: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let words = a.list(0);
    match words.as_slice() {
        [] => Ok(Value::Bytes(table::list_text().into_bytes())),
        [name] => {
            let spec = table::lookup(name).ok_or_else(|| table::unknown(name, false))?;
            Ok(Value::Bytes(spec.call().help_text().into_bytes()))
        }
        _ => Err(CliError::usage("help", "should have 0-1 parameter(s)")),
    }
}
