//! A command-line session from start to end: drives added in order (`-a`, `-N`),
//! launch when `-N`, `-m` or `-i` need it, prepared disks laid out, the guest
//! inspected and mounted (`-i`) or mounted by hand (`-m`), then the commands from
//! the command line, a script or standard input, each under the lock the signal
//! thread waits on, the first failure ending the run.

use std::io::{BufRead, IsTerminal, Write};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use super::error::CliError;
use super::options::{DriveSpec, MountSpec, Options, split_commands};
use super::shell::Shell;
use vmcraft::names::drive_name;
use vmcraft::{DriveOpts, MountAllOptions};

/// Runs work under the command lock, and parks the thread for good once a signal
/// arrived (the signal thread then shuts the session down and exits).
pub(crate) struct Guard<'a> {
    pub exec: &'a Mutex<()>,
    pub signal: &'a AtomicI32,
}

/// An error a guarded command can return: what [`Guard::run`] reports itself
/// when a signal arrived while the command ran.
pub(crate) trait GuardedError {
    /// The error to print.
    fn cli_error(&self) -> &CliError;
}

impl GuardedError for CliError {
    fn cli_error(&self) -> &CliError {
        self
    }
}

impl GuardedError for (CliError, bool) {
    fn cli_error(&self) -> &CliError {
        &self.0
    }
}

impl Guard<'_> {
    /// Run `f` under the command lock. When a signal arrived meanwhile, the
    /// command's own error (typically its `Cancelled` one) is printed first and
    /// the thread then parks while the signal thread shuts the session down;
    /// otherwise the result is returned. A panic is passed on.
    pub(crate) fn run<T, E: GuardedError>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let lock = self.exec.lock().unwrap_or_else(|p| p.into_inner());
        // A signal that came between two commands: start no other.
        if self.signal.load(Ordering::SeqCst) != 0 {
            drop(lock);
            loop {
                std::thread::park();
            }
        }
        let r = catch_unwind(AssertUnwindSafe(f));
        if self.signal.load(Ordering::SeqCst) != 0 {
            if let Ok(Err(e)) = &r {
                report(e.cli_error());
            }
            drop(lock);
            loop {
                std::thread::park();
            }
        }
        drop(lock);
        match r {
            Ok(v) => v,
            Err(p) => resume_unwind(p),
        }
    }
}

fn report(e: &CliError) {
    eprintln!("vmcraft: error: {}", e.chain());
}

/// Run the session; the exit status.
pub(crate) fn run_session(shell: &mut Shell, opts: &Options, guard: &Guard<'_>) -> i32 {
    if let Err(e) = guard.run(|| setup(shell, opts)) {
        report(&e);
        return 1;
    }
    let stdout = std::io::stdout();
    if !opts.commands.is_empty() {
        let groups = match split_commands(&opts.commands) {
            Ok(g) => g,
            Err(e) => {
                report(&e);
                return 1;
            }
        };
        for mut words in groups {
            // `-cmd` lets this one command fail (guestfish's RHBZ#578407).
            let mut exit_on_error = true;
            if let Some(rest) = words[0].strip_prefix('-').filter(|r| !r.is_empty()) {
                words[0] = rest.to_string();
                exit_on_error = false;
            }
            let r = guard.run(|| shell.run_words(&words, None, &mut stdout.lock()));
            if let Err(e) = r {
                report(&e);
                if exit_on_error {
                    return 1;
                }
            }
            if shell.quit {
                break;
            }
        }
        return 0;
    }
    let (reader, interactive): (Box<dyn BufRead>, bool) = match &opts.script {
        Some(p) if p.as_os_str() != "-" => match std::fs::File::open(p) {
            Ok(f) => (Box::new(std::io::BufReader::new(f)), false),
            Err(e) => {
                report(&CliError::io(
                    "-f",
                    format!("cannot open {}", p.display()),
                    e,
                ));
                return 1;
            }
        },
        _ => (
            Box::new(std::io::BufReader::new(std::io::stdin())),
            opts.script.is_none() && std::io::stdin().is_terminal(),
        ),
    };
    if interactive {
        println!(
            "\nWelcome to vmcraft, the VMCraft shell for editing virtual machine disk images.\n\n\
             Type: 'help' for a list of commands\n      'quit' to quit the shell\n"
        );
    }
    let mut lines = reader.lines();
    loop {
        if interactive {
            print!("><fs> ");
            let _ = std::io::stdout().flush();
        }
        let line = match lines.next() {
            None => break,
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                report(&CliError::io("script", "cannot read the script", e));
                return 1;
            }
        };
        if let Err((e, exit_on_error)) = guard.run(|| shell.run_line(&line, &mut stdout.lock())) {
            report(&e);
            if exit_on_error && !interactive {
                return 1;
            }
        }
        if shell.quit {
            break;
        }
    }
    if interactive {
        println!();
    }
    0
}

/// Whether the drive holding `device` was added read-only (any drive, for LVs).
fn readonly_for(shell: &Shell, device: &str) -> bool {
    shell.g.device_on_readonly_drive(device)
}

fn setup(shell: &mut Shell, opts: &Options) -> Result<(), CliError> {
    let g = shell.g.clone();
    for d in &opts.drives {
        let (path, drive_opts) = match d {
            DriveSpec::Image {
                path,
                format,
                readonly,
            } => (
                path,
                DriveOpts {
                    format: *format,
                    readonly: *readonly,
                    ..Default::default()
                },
            ),
            DriveSpec::Prepared { path, spec } => {
                spec.create_file(path)?;
                (
                    path,
                    DriveOpts {
                        format: Some(vmcraft_nbd::Format::Raw),
                        ..Default::default()
                    },
                )
            }
        };
        g.add_drive_opts(path, drive_opts)
            .map_err(|e| CliError::call("add_drive", e))?;
    }
    let prepared = opts
        .drives
        .iter()
        .any(|d| matches!(d, DriveSpec::Prepared { .. }));
    if !(prepared || opts.inspector || !opts.mounts.is_empty()) {
        return Ok(());
    }
    g.launch().map_err(|e| CliError::call("launch", e))?;
    for (i, d) in opts.drives.iter().enumerate() {
        if let DriveSpec::Prepared { path, spec } = d {
            spec.prepare(&g, path, &drive_name(i))?;
        }
    }
    if opts.inspector {
        inspect_and_mount(shell)?;
    }
    for m in &opts.mounts {
        mount_by_hand(shell, m)?;
    }
    Ok(())
}

fn inspect_and_mount(shell: &Shell) -> Result<(), CliError> {
    let g = &shell.g;
    let roots = g
        .inspect_os()
        .map_err(|e| CliError::call("inspect_os", e))?;
    let root = match roots.as_slice() {
        [] => {
            return Err(CliError::usage(
                "-i",
                "no operating system was found on this disk",
            ));
        }
        [r] => r,
        _ => {
            return Err(CliError::usage(
                "-i",
                format!(
                    "multi-boot operating systems are not supported by the -i option (found {})",
                    roots.join(", ")
                ),
            ));
        }
    };
    let mps = g
        .inspect_get_mountpoints(root)
        .map_err(|e| CliError::call("inspect_get_mountpoints", e))?;
    let readonly = readonly_for(shell, root);
    // A read-only session may fall back to ro,norecovery and the like (a guest shut
    // down uncleanly); a read-write one must not be mounted read-only silently.
    let results = g
        .mount_all_parallel(
            &mps,
            MountAllOptions {
                readonly,
                fallback: readonly,
            },
        )
        .map_err(|e| CliError::call("mount_all_parallel", e))?;
    let failed: Vec<_> = results.iter().filter(|r| r.result.is_err()).collect();
    for r in &failed {
        if let Err(e) = &r.result {
            eprintln!("vmcraft: {} ({}): {}", r.mountpoint, r.device, e.chain());
        }
    }
    if !failed.is_empty() {
        eprintln!("vmcraft: some filesystems could not be mounted (ignored)");
    }
    Ok(())
}

fn mount_by_hand(shell: &Shell, m: &MountSpec) -> Result<(), CliError> {
    let g = &shell.g;
    let options = m.options.clone().unwrap_or_else(|| {
        if readonly_for(shell, &m.device) {
            "ro".into()
        } else {
            String::new()
        }
    });
    let r = match &m.fstype {
        Some(t) => g
            .mount_vfs(&options, t, &m.device, &m.mountpoint)
            .map_err(|e| CliError::call("mount_vfs", e)),
        None => g
            .mount_options(&options, &m.device, &m.mountpoint)
            .map_err(|e| CliError::call("mount_options", e)),
    };
    r.map_err(|error| match g.list_filesystems() {
        Ok(fs) if !fs.is_empty() => {
            let mut hint = format!(
                "vmcraft: '{}' could not be mounted. Did you mean one of these?",
                m.device
            );
            for (dev, t) in fs {
                hint.push_str(&format!("\n\t{dev} ({t})"));
            }
            CliError::Hinted {
                error: Box::new(error),
                hint,
            }
        }
        _ => error,
    })
}
