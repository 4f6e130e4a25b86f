//! The session and the builtins: adding drives (`add`, `add-ro`, `alloc`,
//! `sparse`), `launch`/`run`, `shutdown`, `list-devices`, `echo`, `help`, `quit`.

use std::os::unix::fs::OpenOptionsExt;

use super::{CommandSpec, arg, c, cmd};
use crate::DriveOpts;
use crate::cli::args::{ArgKind, Args, parse_int};
use crate::cli::error::CliError;
use crate::cli::shell::Shell;
use crate::cli::table;
use crate::cli::value::Value;

const FILENAME: crate::cli::args::Arg = arg("filename", ArgKind::String);

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "add-drive",
        &[FILENAME],
        "add an image to examine or modify",
        "Add a disk image (or host block device) to the session. The first is /dev/sda, the \
         second /dev/sdb, and so on. Before launch it is attached at launch; after, at once.\n\n\
         readonly:true attaches it so that nothing can write to it. format:FMT gives the \
         image format (raw, qcow2, vmdk, vhdx, vdi, vpc); without it the format is detected \
         from the image's header.\n\n\
         An image that names other files (a backing file, a qcow2 external data file, the \
         extents of a split VMDK) is refused unless allowed, since a guest controls those \
         names. allowbacking:true follows a backing chain whose every format is known: \
         format:FMT given here and each backing file's format recorded in its overlay. \
         allowextents:true (with format:vmdk) follows a VMDK descriptor's extents when \
         they are plain files in the descriptor's own directory.",
        add_drive,
    )
    .opts(&[
        arg("readonly", ArgKind::Bool),
        arg("format", ArgKind::String),
        arg("allowbacking", ArgKind::Bool),
        arg("allowextents", ArgKind::Bool),
    ])
    .alias(&["add", "add-drive-opts"]),
    cmd(
        "add-drive-ro",
        &[FILENAME],
        "add a drive read-only",
        "Add a disk image read-only: as add-drive with readonly:true.",
        |s, a| {
            add(
                s,
                a.str(0),
                DriveOpts {
                    readonly: true,
                    ..Default::default()
                },
            )
        },
    )
    .alias(&["add-ro"]),
    cmd(
        "alloc",
        &[FILENAME, arg("size", ArgKind::String)],
        "allocate and add a disk file",
        "Create a raw image of SIZE bytes (suffixes K, M, G, T allowed), with its blocks \
         allocated, and add it as add-drive does. An existing file is overwritten.",
        |s, a| allocate(s, "alloc", a, false),
    )
    .alias(&["allocate"]),
    cmd(
        "sparse",
        &[FILENAME, arg("size", ArgKind::String)],
        "create a sparse disk image and add",
        "Create a sparse raw image of SIZE bytes (suffixes K, M, G, T allowed) and add it as \
         add-drive does. An existing file is overwritten.",
        |s, a| allocate(s, "sparse", a, true),
    ),
    cmd(
        "launch",
        &[],
        "launch the session",
        "Attach every drive added, so that the other commands can be used. Scripts written \
         for guestfish start with run. As in guestfish, a session launches once: after -i, \
         -m or -N (which launch it) or a first run, run is an error.",
        |s, _| {
            c("launch", s.g.launch())?;
            Ok(Value::Unit)
        },
    )
    .alias(&["run"]),
    cmd(
        "is-launched",
        &[],
        "whether the session is launched",
        "true once launch (or run, -i, -m, -N) attached the drives, false before and after \
         shutdown.",
        |s, _| Ok(Value::Bool(s.g.is_launched())),
    ),
    cmd(
        "shutdown",
        &[],
        "shut the session down",
        "Unmount everything (deepest first), close Augeas and LVM, and detach every drive. \
         The session cannot be used afterwards. This also happens at the end of every \
         script, on errors and on Ctrl-C.",
        |s, _| {
            c("shutdown", s.g.shutdown())?;
            Ok(Value::Unit)
        },
    ),
    cmd(
        "cleanup",
        &[],
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
        "list-devices",
        &[],
        "list the block devices",
        "The drives of the session: /dev/sda, /dev/sdb, ... in the order they were added.",
        |s, _| Ok(Value::List(c("list_devices", s.g.list_devices())?)),
    ),
    cmd(
        "echo",
        &[],
        "display a line of text",
        "Print the arguments, separated by spaces.",
        |_, a| Ok(Value::Str(a.list(0).join(" "))),
    )
    .variadic(),
    cmd(
        "help",
        &[],
        "display a list of commands or help on a command",
        "help lists every command with a one-line summary; help CMD shows what CMD takes \
         and does.",
        help,
    )
    .variadic(),
    cmd(
        "quit",
        &[],
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
    let report = c("cleanup", crate::cleanup_stale_sessions(dir.as_deref()))?;
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

fn add_drive(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let format = match a.opt_string("format") {
        None => None,
        Some(f) => Some(
            f.parse::<vmcraft_nbd::Format>()
                .map_err(|e| CliError::call("add_drive", e.into()))?,
        ),
    };
    let opts = DriveOpts {
        format,
        readonly: a.opt_bool("readonly").unwrap_or(false),
        allow_backing_file: a.opt_bool("allowbacking").unwrap_or(false),
        allow_vmdk_extents: a.opt_bool("allowextents").unwrap_or(false),
    };
    add(s, a.str(0), opts)
}

fn add(s: &mut Shell, path: &str, opts: DriveOpts) -> Result<Value, CliError> {
    let readonly = opts.readonly;
    c("add_drive", s.g.add_drive_opts(path, opts))?;
    s.readonly.push(readonly);
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
            Ok(Value::Bytes(spec.help_text().into_bytes()))
        }
        _ => Err(CliError::usage("help", "should have 0-1 parameter(s)")),
    }
}
