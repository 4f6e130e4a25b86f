//! The command line's commands about its own process: `lcd` (change the local
//! directory host file names are relative to), `setenv`/`unsetenv` (the
//! environment of the tools it runs, `!cmd` included), `time` (run a command
//! and print how long it took), `reopen` (a new handle).

use std::time::Instant;

use super::{FishCommand, cmd};
use crate::error::CliError;
use crate::shell::Shell;
use vmcraft::calls::table::{ArgKind, Args, Ret, Value, arg};

pub(crate) const COMMANDS: &[FishCommand] = &[
    cmd(
        "lcd",
        &[arg("directory", ArgKind::String)],
        Ret::Unit,
        "change working directory",
        "Change the local (host) directory that host file names given to later commands \
         (upload, download, tar-in, tar-out, add ...) are relative to.",
        lcd,
    ),
    cmd(
        "setenv",
        &[arg("var", ArgKind::String), arg("value", ArgKind::String)],
        Ret::Unit,
        "set an environment variable",
        "Set VAR to VALUE in the environment of the command line and of the programs it \
         runs from now on (!cmd, pipes).",
        setenv,
    ),
    cmd(
        "unsetenv",
        &[arg("var", ArgKind::String)],
        Ret::Unit,
        "unset an environment variable",
        "Remove VAR from the environment of the command line and of the programs it runs \
         from now on.",
        unsetenv,
    ),
    cmd(
        "time",
        &[],
        Ret::Buffer,
        "print elapsed time taken to run a command",
        "Run the command given as the arguments (time CMD ARGS ...), print its output, \
         then \"elapsed time: S.SS seconds\".",
        time,
    )
    .variadic(),
    cmd(
        "reopen",
        &[],
        Ret::Unit,
        "close and reopen libguestfs handle",
        "Shut the session down and go on with a new one: no drives, nothing mounted, \
         every setting back to its default except verbose, trace, autosync, path and \
         pgroup, which carry over as in guestfish.",
        |s, _| {
            s.reopen()?;
            Ok(Value::Unit)
        },
    ),
];

fn lcd(_: &mut Shell, a: &Args) -> Result<Value, CliError> {
    std::env::set_current_dir(a.str(0))
        .map_err(|e| CliError::io("lcd", a.str(0).to_string(), e))?;
    Ok(Value::Unit)
}

fn check_var(command: &str, var: &str) -> Result<(), CliError> {
    if var.is_empty() || var.contains('=') || var.contains('\0') {
        return Err(CliError::usage(
            command,
            format!("'{var}' is not a variable name"),
        ));
    }
    Ok(())
}

fn setenv(_: &mut Shell, a: &Args) -> Result<Value, CliError> {
    check_var("setenv", a.str(0))?;
    if a.str(1).contains('\0') {
        return Err(CliError::usage("setenv", "the value holds a NUL byte"));
    }
    // SAFETY: the command line runs its commands one at a time; no other thread
    // of ours reads the environment while a command runs.
    unsafe { std::env::set_var(a.str(0), a.str(1)) };
    Ok(Value::Unit)
}

fn unsetenv(_: &mut Shell, a: &Args) -> Result<Value, CliError> {
    check_var("unsetenv", a.str(0))?;
    // SAFETY: as in setenv.
    unsafe { std::env::remove_var(a.str(0)) };
    Ok(Value::Unit)
}

fn time(s: &mut Shell, a: &Args) -> Result<Value, CliError> {
    let words: Vec<String> = a.list(0).iter().map(|w| w.to_string()).collect();
    let Some((name, rest)) = words.split_first() else {
        return Err(CliError::usage(
            "time",
            "time CMD [ARGS ...]: no command given",
        ));
    };
    let start = Instant::now();
    let value = s.dispatch(name, rest)?;
    let elapsed = start.elapsed();
    let mut out = value.guestfish();
    out.extend_from_slice(
        format!(
            "elapsed time: {}.{:02} seconds\n",
            elapsed.as_secs(),
            elapsed.subsec_millis() / 10
        )
        .as_bytes(),
    );
    Ok(Value::Bytes(out))
}
