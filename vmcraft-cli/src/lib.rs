//! # vmcraft-cli
//!
//! The `vmcraft` command line: guestfish's shape and output on the [`vmcraft::VMCraft`]
//! handle, so that guestfish scripts run unchanged for everything VMCraft covers. It
//! is its own crate, apart from the libraries (as ripgrep keeps `rg` apart from its
//! `grep-*` crates): the binary `vmcraft` is `src/main.rs`, and everything it does is
//! this library, [`main`].
//!
//! ```text
//! vmcraft [--format[=FMT]] [--ro|--rw] -a IMAGE... [-N [FILE=]SPEC]... [-m DEV[:MP[:OPTS]]]...
//!         [-i] [--json] [-x] [-v] [--kernel-mounts] [-f SCRIPT | COMMAND ARGS [: COMMAND ARGS]...]
//! ```
//!
//! The pieces, each in its own module: the [`tokenizer`] (guestfish's quoting and
//! comments), the [`options`] (argv, `--format` applying to the `-a` after it and
//! `--ro` to all of them), [`args`] (typed arguments and `name:value` optional ones), the command
//! [`table`] and its handlers in [`commands`](self) families, the [`value`]
//! layouts (guestfish's and JSON), [`prepared`] disks (`-N`), the [`shell`] that
//! runs commands, [`progress`] bars and [`signals`] (Ctrl-C tears the session
//! down and exits 130; SIGTERM 143). As root it runs in a private mount
//! [`namespace`], so that a killed run's mounts die with it; `vmcraft cleanup`
//! undoes what killed sessions left ([`vmcraft::cleanup_stale_sessions`]).
//!
//! Errors print as `vmcraft: error: CALL: message` on standard error and end the
//! run with status 1; the session is shut down on every way out.
//!
//! ```no_run
//! // What the `vmcraft` binary does:
//! let code = vmcraft_cli::main(std::env::args_os().skip(1).collect());
//! std::process::exit(code);
//! ```

pub mod args;
mod commands;
mod error;
pub mod keys;
pub mod namespace;
pub mod options;
pub mod prepared;
pub mod progress;
mod run;
pub mod shell;
pub mod signals;
pub mod table;
pub mod tokenizer;

/// The values commands return and their layouts (the call table's).
pub use vmcraft::calls::table::value;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, Mutex};

pub use error::CliError;

/// The session's current handle, shared by the shell (which `reopen` makes
/// replace it), the signal thread and the end of the run (which shut down
/// whichever is current).
pub type HandleSlot = Arc<Mutex<Arc<VMCraft>>>;

use options::{Action, Options, USAGE, parse_options};
use progress::Progress;
use shell::{Shell, ShellOptions};
use vmcraft::{Config, VMCraft};

fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = if verbose {
        EnvFilter::new("debug")
    } else {
        match std::env::var("RUST_LOG") {
            Ok(f) if !f.is_empty() => EnvFilter::new(f),
            _ => return,
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Handle the actions that need no session; `Some(status)` when done.
fn without_session(o: &Options) -> Option<i32> {
    match o.action {
        Action::Run => None,
        Action::Version => {
            println!("vmcraft {}", env!("CARGO_PKG_VERSION"));
            Some(0)
        }
        Action::PreparedHelp => {
            print!("{}", prepared::help_text());
            Some(0)
        }
        Action::Usage => {
            let name = o
                .help_command
                .as_deref()
                .or(o.commands.first().map(String::as_str));
            match name {
                None => {
                    print!("{USAGE}");
                    Some(0)
                }
                Some(n) => match table::lookup(n) {
                    Some(c) => {
                        print!("{}", c.call().help_text());
                        Some(0)
                    }
                    None => {
                        eprintln!("vmcraft: error: {}", table::unknown(n, false).chain());
                        Some(1)
                    }
                },
            }
        }
    }
}

/// Run the command line (the arguments after the program name); the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    // First, before any thread exists, so that every thread inherits the mask.
    if let Err(e) = signals::block() {
        eprintln!("vmcraft: error: cannot block signals: {e}");
        return 1;
    }
    let argv: Vec<String> = match argv.into_iter().map(OsString::into_string).collect() {
        Ok(v) => v,
        Err(bad) => {
            eprintln!("vmcraft: error: argument {bad:?} is not valid UTF-8");
            return 1;
        }
    };
    let opts = match parse_options(&argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vmcraft: error: {}", e.chain());
            return 1;
        }
    };
    if let Some(code) = without_session(&opts) {
        return code;
    }
    // While the process still has one thread: the kernel takes the session's
    // mounts away when it dies, however it dies.
    let ns = namespace::enter_private();
    init_tracing(opts.verbose);
    match &ns {
        namespace::Namespace::Private { detached, .. } => {
            tracing::debug!(detached, "running in a private mount namespace")
        }
        namespace::Namespace::NotPrivileged => {
            tracing::debug!("not root: running in the caller's mount namespace")
        }
        namespace::Namespace::Failed(e) => {
            tracing::warn!(error = %e, "no private mount namespace; a killed session's mounts are left to `vmcraft cleanup`")
        }
    }

    let signal = Arc::new(AtomicI32::new(0));
    let progress = Progress::new(std::io::stderr().is_terminal(), signal.clone());
    let p = progress.clone();
    let config = Config::builder()
        .progress(move |e| p.event(e))
        .runner(namespace::runner(ns))
        .inprocess_reads(!opts.kernel_mounts)
        .build();
    let g = Arc::new(VMCraft::with_config(config));
    let slot: HandleSlot = Arc::new(Mutex::new(g.clone()));
    let exec = Arc::new(Mutex::new(()));
    if let Err(e) = signals::spawn(slot.clone(), exec.clone(), signal.clone()) {
        eprintln!("vmcraft: error: cannot start the signal thread: {e}");
        return 1;
    }
    let mut shell = Shell::new(
        g.clone(),
        ShellOptions {
            json: opts.json,
            trace: opts.trace,
            keys: if opts.keys_from_stdin {
                keys::KeySource::Stdin
            } else {
                keys::KeySource::Terminal
            },
        },
        Some(progress),
    )
    .with_slot(slot.clone());
    let guard = run::Guard {
        exec: &exec,
        signal: &signal,
    };
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run::run_session(&mut shell, &opts, &guard)
    })) {
        Ok(code) => code,
        Err(_) => {
            eprintln!("vmcraft: error: internal error (the panic is reported above)");
            1
        }
    };
    // The lock stays held until the process exits: a signal arriving now finds
    // the session already shut down and waits.
    let lock = exec.lock().unwrap_or_else(|p| p.into_inner());
    drop(g);
    let g = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let code = match g.shutdown() {
        Ok(()) => code,
        Err(e) => {
            eprintln!("vmcraft: error: {}", e.chain());
            1
        }
    };
    std::mem::forget(lock);
    code
}
