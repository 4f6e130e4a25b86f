//! The interpreter: runs one command at a time on a [`VMCraft`] handle, in
//! guestfish's or JSON layout, with `-x` tracing, `| CMD` pipes and `!CMD` lines
//! through the session's command runner, and the builtins (`help`, `quit`).

use std::io::Write;
use std::sync::Arc;

use vmcraft_block::Command;

use super::args::parse_args;
use super::commands::TempFile;
use super::error::CliError;
use super::progress::Progress;
use super::table;
use super::tokenizer::{Line, ParsedCommand, parse_line};
use vmcraft::VMCraft;
use vmcraft::calls::table::{ArgKind, ArgValue, Args, Call, Value};

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShellOptions {
    /// One JSON document per command.
    pub json: bool,
    /// Echo each command on standard error first.
    pub trace: bool,
    /// Where key arguments are read from.
    pub keys: super::keys::KeySource,
}

/// A command interpreter over one handle.
pub struct Shell {
    /// The handle.
    pub g: Arc<VMCraft>,
    /// Printing options.
    pub options: ShellOptions,
    /// Set by `quit`.
    pub quit: bool,
    /// Where the current handle is shared (see [`super::HandleSlot`]).
    slot: Option<super::HandleSlot>,
    /// The output a call wrote to a private file for a `-` argument, streamed
    /// out after the call (never held in memory: it may be a whole disk).
    spooled: Option<TempFile>,
    commands_run: usize,
    progress: Option<Arc<Progress>>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Quote a word for `-x` traces so that it reads back as the same argument.
fn quote(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.:,=+@%".contains(&b))
    {
        return w.to_string();
    }
    let mut s = String::from("\"");
    for c in w.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Shell {
    /// An interpreter over `g`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use vmcraft_cli::shell::{Shell, ShellOptions};
    /// let mut sh = Shell::new(Arc::new(vmcraft::VMCraft::new()), ShellOptions::default(), None);
    /// let mut out = Vec::new();
    /// sh.run_words(&["echo".into(), "hello".into()], None, &mut out).unwrap();
    /// assert_eq!(out, b"hello\n");
    /// ```
    pub fn new(g: Arc<VMCraft>, options: ShellOptions, progress: Option<Arc<Progress>>) -> Self {
        Shell {
            g,
            options,
            quit: false,
            commands_run: 0,
            progress,
            slot: None,
            spooled: None,
        }
    }

    /// Share the current handle through `slot`, so that `reopen` replaces it
    /// there too.
    pub fn with_slot(mut self, slot: super::HandleSlot) -> Self {
        self.slot = Some(slot);
        self
    }

    /// Shut the handle down and carry on with a new one of the same
    /// configuration (`reopen`): no drives, nothing mounted, the settings back
    /// to their defaults except verbose, trace, autosync, path and pgroup, which
    /// guestfish's reopen carries over.
    pub fn reopen(&mut self) -> Result<(), CliError> {
        self.g.shutdown().map_err(|e| CliError::call("reopen", e))?;
        let new = Arc::new(VMCraft::with_config(self.g.config().clone()));
        // guestfish's reopen carries these over to the new handle.
        let carry = || -> vmcraft::Result<()> {
            new.set_verbose(self.g.get_verbose()?)?;
            new.set_trace(self.g.get_trace()?)?;
            new.set_autosync(self.g.get_autosync()?)?;
            new.set_pgroup(self.g.get_pgroup()?)?;
            let path = self.g.get_path()?;
            new.set_path((!path.is_empty()).then_some(path.as_str()))
        };
        carry().map_err(|e| CliError::call("reopen", e))?;
        if let Some(slot) = &self.slot {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = new.clone();
        }
        self.g = new;
        Ok(())
    }

    /// Run one command given as words (the name first).
    pub fn run_words(
        &mut self,
        words: &[String],
        pipe: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<(), CliError> {
        let Some((name, args)) = words.split_first() else {
            return Ok(());
        };
        self.commands_run += 1;
        if self.options.trace {
            let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
            eprintln!("vmcraft: trace: {}", line.join(" "));
        }
        let result = self.dispatch(name, args);
        if let Some(p) = &self.progress {
            p.finish();
        }
        let value = result?;
        if let Some(t) = self.spooled.take() {
            return match pipe {
                Some(cmd) => {
                    let bytes = t.contents(name)?;
                    self.pipe_to(name, cmd, bytes, out)
                }
                None => stream_out(name, out, t.path()),
            };
        }
        let bytes = if self.options.json {
            let mut b = serde_json::to_vec(&value).expect("a Value serializes");
            b.push(b'\n');
            b
        } else {
            value.guestfish()
        };
        let written = match pipe {
            Some(cmd) => self.pipe_to(name, cmd, bytes, out),
            None => write_out(name, out, &bytes),
        };
        // The command's own failure first; then the pipe's or the output's.
        match value {
            Value::Incomplete(_, message) => Err(CliError::Incomplete {
                command: name.to_string(),
                message,
            }),
            _ => written,
        }
    }

    /// Run one command (a call of the table or one of the command line's own) and
    /// return its value, unprinted.
    pub(crate) fn dispatch(&mut self, name: &str, words: &[String]) -> Result<Value, CliError> {
        let command =
            table::lookup(name).ok_or_else(|| table::unknown(name, self.commands_run == 1))?;
        let spec = command.call();
        let args = if spec.variadic {
            super::args::Args::from_words(words)
        } else {
            let source = self.options.keys;
            parse_args(spec.name, spec.args, spec.optargs, words, &mut |key| {
                source.read(spec.name, key)
            })?
        };
        match command {
            table::Command::Fish(f) => (f.handler)(self, &args),
            table::Command::Api(call) => self.invoke(call, args),
        }
    }

    /// Run a call of the table: `-` for a host file argument becomes a private
    /// temporary file holding standard input, or one whose content goes to
    /// standard output afterwards.
    fn invoke(&mut self, call: &'static Call, mut args: Args) -> Result<Value, CliError> {
        let name = call.call_name();
        let mut inputs = Vec::new();
        let mut output = None;
        for (i, a) in call.args.iter().enumerate() {
            let dash = matches!(args.value(i), ArgValue::Str(s) if s == "-");
            let temp = match a.kind {
                ArgKind::FileIn if dash => TempFile::from_stdin(&name)?,
                ArgKind::FileOut if dash => TempFile::new(&name)?,
                _ => continue,
            };
            args.set(i, ArgValue::Str(temp.path().to_string_lossy().into_owned()));
            if a.kind == ArgKind::FileOut {
                output = Some(temp);
            } else {
                inputs.push(temp);
            }
        }
        let value = call
            .invoke(&self.g, args)
            .map_err(|e| CliError::call(name.clone(), e))?;
        match output {
            Some(t) => {
                self.spooled = Some(t);
                Ok(Value::Unit)
            }
            None => Ok(value),
        }
    }

    /// Run one script line (`!CMD`, `<!CMD`, a command, or nothing). Returns
    /// whether a failure must end the script.
    pub fn run_line(&mut self, line: &str, out: &mut dyn Write) -> Result<(), (CliError, bool)> {
        match parse_line(line).map_err(|e| (CliError::usage("syntax", e), true))? {
            Line::Empty => Ok(()),
            Line::Shell(cmd) => self.shell(&cmd, out).map_err(|e| (e, true)),
            Line::Inline(cmd) => {
                let text = self.host_command(&cmd, None).map_err(|e| (e, true))?;
                for l in String::from_utf8_lossy(&text).lines() {
                    self.run_line(l, out)?;
                    if self.quit {
                        break;
                    }
                }
                Ok(())
            }
            Line::Command(ParsedCommand {
                name,
                args,
                exit_on_error,
                pipe,
            }) => {
                let mut words = vec![name];
                words.extend(args);
                self.run_words(&words, pipe.as_deref(), out)
                    .map_err(|e| (e, exit_on_error))
            }
        }
    }

    fn host_command(&self, cmd: &str, stdin: Option<Vec<u8>>) -> Result<Vec<u8>, CliError> {
        let mut c = Command::new("sh").arg("-c").arg(cmd);
        if let Some(input) = stdin {
            c = c.stdin(input);
        }
        let out = self.g.config().runner.execute(&c).map_err(|e| {
            CliError::usage("!", format!("{cmd}: {}", vmcraft_block::error_chain(&e)))
        })?;
        std::io::stderr().write_all(&out.stderr).ok();
        if !out.status.success() {
            let how = match out.status.code() {
                Some(c) => format!("exited with status {c}"),
                None => "was killed by a signal".to_string(),
            };
            return Err(CliError::usage("!", format!("{cmd}: {how}")));
        }
        Ok(out.stdout)
    }

    fn shell(&self, cmd: &str, out: &mut dyn Write) -> Result<(), CliError> {
        let text = self.host_command(cmd, None)?;
        write_out("!", out, &text)
    }

    fn pipe_to(
        &self,
        name: &str,
        cmd: &str,
        input: Vec<u8>,
        out: &mut dyn Write,
    ) -> Result<(), CliError> {
        let text = self.host_command(cmd, Some(input))?;
        write_out(name, out, &text)
    }
}

/// Copy a file to the output in pieces.
fn stream_out(command: &str, out: &mut dyn Write, path: &std::path::Path) -> Result<(), CliError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| CliError::io(command, "cannot read the output", e))?;
    std::io::copy(&mut f, out)
        .and_then(|_| out.flush())
        .map(drop)
        .map_err(|e| CliError::io(command, "cannot write the output", e))
}

fn write_out(command: &str, out: &mut dyn Write, bytes: &[u8]) -> Result<(), CliError> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::io(command, "cannot write the output", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_quote_what_needs_it() {
        assert_eq!(quote("/dev/sda"), "/dev/sda");
        assert_eq!(quote("label:boot"), "label:boot");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("x\n\"y\""), "\"x\\n\\\"y\\\"\"");
    }
}
