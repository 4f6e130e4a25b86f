//! [`FakeRunner`]: a scripted, recording [`CommandRunner`] for unit tests.
//!
//! Commands run to completion ([`CommandRunner::execute`]) are answered from the
//! script without running anything. Supervised processes
//! ([`CommandRunner::spawn`]) cannot be faked without a process to supervise, so
//! the fake starts a small real stand-in: one that prints the scripted output
//! and exits with the scripted status, or a command the test gives (a shell
//! script simulating the tool, or [`Response::running`]'s `sleep`). The
//! [`Supervised`] handle the caller gets is then real in every way (pid, pidfd,
//! exit status, captured stderr, stop), and its messages name the command that
//! was asked for.

use std::collections::VecDeque;
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;

use crate::command::{Command, CommandRunner, ExitStatus, Output, SystemRunner};
use crate::error::{Error, ErrorKind, Result};
use crate::supervised::Supervised;

/// What the fake answers to a command.
#[derive(Debug, Clone)]
pub enum Response {
    /// The command "ran" and produced this. Asked to [`CommandRunner::spawn`]
    /// it, the fake starts a stand-in that prints this and exits with its
    /// status.
    Output(Output),
    /// The command could not be run: an error of this kind and message.
    Error(ErrorKind, String),
    /// Run this real command in its place, with the asked command's arguments
    /// and environment appended to its own (so a script stand-in sees them as
    /// `"$@"`): to completion for [`CommandRunner::execute`], supervised for
    /// [`CommandRunner::spawn`].
    Process(Command),
}

impl Response {
    /// Exit 0 with this stdout.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Response::Output(Output::ok(stdout))
    }

    /// Exit `code` with this stderr.
    pub fn fail(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        Response::Output(Output::failed(code, stderr))
    }

    /// Fail to run with an error of `kind`.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Response::Error(kind, message.into())
    }

    /// Run `stand_in` in place of the command (see [`Response::Process`]).
    pub fn process(stand_in: Command) -> Self {
        Response::Process(stand_in)
    }

    /// For a spawned command: a stand-in that runs until it is stopped (a shell
    /// that ignores the command's arguments and becomes `sleep infinity`).
    pub fn running() -> Self {
        Response::Process(Command::new("sh").args(["-c", "exec sleep infinity", "vmcraft-fake"]))
    }
}

/// `stand_in` with `asked`'s arguments and environment appended.
fn standing_in(stand_in: &Command, asked: &Command) -> Command {
    let mut c = stand_in.clone().args(asked.get_args());
    for (k, v) in asked.get_env() {
        c = c.env(k, v);
    }
    c
}

/// A process that prints `out` and ends as it says.
fn printing(out: &Output) -> Command {
    let end = match out.status {
        ExitStatus::Code(c) => format!("exit {c}"),
        ExitStatus::Signal(s) => format!("kill -{s} $$"),
    };
    Command::new("sh")
        .arg("-c")
        .arg(format!("printf %s \"$1\"; printf %s \"$2\" >&2; {end}"))
        .arg("vmcraft-fake")
        .arg(std::ffi::OsStr::from_bytes(&out.stdout))
        .arg(std::ffi::OsStr::from_bytes(&out.stderr))
}

enum Matcher {
    Exact(Vec<String>),
    Prefix(Vec<String>),
}

impl Matcher {
    fn matches(&self, argv: &[String]) -> bool {
        match self {
            Matcher::Exact(want) => want == argv,
            Matcher::Prefix(want) => argv.starts_with(want),
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Exact(w) => w.join(" "),
            Matcher::Prefix(w) => format!("{} ...", w.join(" ")),
        }
    }
}

struct Expectation {
    matcher: Matcher,
    response: Response,
}

#[derive(Default)]
struct State {
    script: VecDeque<Expectation>,
    stubs: Vec<Expectation>,
    calls: Vec<Command>,
    problems: Vec<String>,
}

/// A [`CommandRunner`] that runs nothing: it answers from a script and records every
/// command, so tests can assert on exact argument lists.
///
/// Expectations ([`FakeRunner::expect`]) must arrive in order, each once; stubs
/// ([`FakeRunner::stub`]) answer any matching command any number of times. Anything
/// else is an unexpected command: it fails, and [`FakeRunner::verify`] reports it
/// together with any expectation that was never met. Commands run and commands
/// spawned share one script; a spawned one is answered by a real stand-in
/// process (see the module documentation).
///
/// ```
/// use std::time::Duration;
/// use vmcraft_block::{Command, CommandRunner, ExitStatus};
/// use vmcraft_block::testing::{FakeRunner, Response};
/// let fake = FakeRunner::new();
/// fake.expect(&["qemu-storage-daemon", "--export", "x"], Response::fail(1, "no such export"))
///     .expect_prefix(&["fusefat"], Response::running());
/// let failed = fake.spawn(&Command::new("qemu-storage-daemon").args(["--export", "x"])).unwrap();
/// assert_eq!(failed.wait_timeout(Duration::from_secs(30)), Some(ExitStatus::Code(1)));
/// assert!(failed.exit_error().to_string().contains("`qemu-storage-daemon --export x` failed"));
/// let mut driver = fake.spawn(&Command::new("fusefat").args(["-f", "/dev/loop0p1", "/mnt"])).unwrap();
/// assert_eq!(driver.wait_timeout(Duration::from_millis(50)), None, "it runs");
/// assert_eq!(driver.stop(Duration::from_secs(5)).unwrap(), ExitStatus::Signal(libc::SIGTERM));
/// fake.verify();
/// ```
///
/// ```
/// use vmcraft_block::{Command, CommandRunner};
/// use vmcraft_block::testing::{FakeRunner, Response};
/// let fake = FakeRunner::new();
/// fake.expect(&["lvm", "pvcreate", "/dev/loop0"], Response::ok(""));
/// fake.run(&Command::new("lvm").args(["pvcreate", "/dev/loop0"])).unwrap();
/// assert_eq!(fake.call_lines(), ["lvm pvcreate /dev/loop0"]);
/// fake.verify();
/// ```
#[derive(Default)]
pub struct FakeRunner {
    state: Mutex<State>,
}

impl std::fmt::Debug for FakeRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRunner")
            .field("calls", &self.call_lines())
            .finish()
    }
}

fn argv_of(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| s.to_string()).collect()
}

impl FakeRunner {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Expect exactly this command line (program first) next, and answer it.
    pub fn expect(&self, argv: &[&str], response: Response) -> &Self {
        self.lock().script.push_back(Expectation {
            matcher: Matcher::Exact(argv_of(argv)),
            response,
        });
        self
    }

    /// Expect next a command line that starts with `prefix`, and answer it.
    pub fn expect_prefix(&self, prefix: &[&str], response: Response) -> &Self {
        self.lock().script.push_back(Expectation {
            matcher: Matcher::Prefix(argv_of(prefix)),
            response,
        });
        self
    }

    /// Answer every command starting with `prefix`, any number of times, in any
    /// order (checked after the script's next expectation).
    pub fn stub(&self, prefix: &[&str], response: Response) -> &Self {
        self.lock().stubs.push(Expectation {
            matcher: Matcher::Prefix(argv_of(prefix)),
            response,
        });
        self
    }

    /// Every command run so far.
    pub fn calls(&self) -> Vec<Command> {
        self.lock().calls.clone()
    }

    /// Every command run so far, as command lines.
    pub fn call_lines(&self) -> Vec<String> {
        self.lock().calls.iter().map(|c| c.to_string()).collect()
    }

    /// Expectations not yet met.
    pub fn pending(&self) -> Vec<String> {
        self.lock()
            .script
            .iter()
            .map(|e| e.matcher.describe())
            .collect()
    }

    /// Panic if an expectation was not met or an unexpected command ran.
    pub fn verify(&self) {
        let st = self.lock();
        let mut problems = st.problems.clone();
        problems.extend(
            st.script
                .iter()
                .map(|e| format!("expected but never run: {}", e.matcher.describe())),
        );
        if !problems.is_empty() {
            panic!("fake runner:\n  {}", problems.join("\n  "));
        }
    }
}

/// A scripted answer that is not an error.
enum Answer {
    Output(Output),
    Process(Command),
}

impl FakeRunner {
    /// Record `cmd` and find its answer: the script's next expectation, else a
    /// stub; an unexpected command is recorded as a problem and fails.
    fn answer(&self, cmd: &Command) -> Result<Answer> {
        let argv = cmd.argv();
        let mut st = self.lock();
        st.calls.push(cmd.clone());
        let response = if st.script.front().is_some_and(|e| e.matcher.matches(&argv)) {
            st.script.pop_front().map(|e| e.response)
        } else {
            st.stubs
                .iter()
                .find(|s| s.matcher.matches(&argv))
                .map(|s| s.response.clone())
        };
        match response {
            Some(Response::Error(kind, msg)) => Err(Error::new(kind, "fake", cmd.to_string(), msg)),
            Some(Response::Output(o)) => Ok(Answer::Output(o)),
            Some(Response::Process(c)) => Ok(Answer::Process(c)),
            None => {
                let next = st.script.front().map(|e| e.matcher.describe());
                let msg = match next {
                    Some(n) => format!("unexpected command `{cmd}` (expected `{n}`)"),
                    None => format!("unexpected command `{cmd}` (script exhausted)"),
                };
                st.problems.push(msg.clone());
                Err(Error::new(ErrorKind::CommandFailed, "fake", "", msg))
            }
        }
    }
}

impl CommandRunner for FakeRunner {
    fn execute(&self, cmd: &Command) -> Result<Output> {
        match self.answer(cmd)? {
            Answer::Output(o) => Ok(o),
            Answer::Process(stand_in) => SystemRunner::new().execute(&standing_in(&stand_in, cmd)),
        }
    }

    fn spawn(&self, cmd: &Command) -> Result<Supervised> {
        if cmd.get_stdin().is_some() || cmd.get_timeout().is_some() {
            // The same refusal the real runner gives.
            return Supervised::spawn(cmd);
        }
        let stand_in = match self.answer(cmd)? {
            Answer::Output(o) => printing(&o),
            Answer::Process(stand_in) => standing_in(&stand_in, cmd),
        };
        let mut p = Supervised::spawn(&stand_in)?;
        p.set_command(cmd);
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_in_order_stubs_any_time_and_unexpected_reported() {
        let fake = FakeRunner::new();
        fake.expect(&["a", "1"], Response::ok("one"))
            .expect_prefix(&["b"], Response::fail(2, "bad"))
            .stub(&["which"], Response::ok("/usr/bin/x"));
        assert_eq!(
            fake.run(&Command::new("which").arg("x"))
                .unwrap()
                .stdout_str(),
            "/usr/bin/x"
        );
        assert_eq!(
            fake.run(&Command::new("a").arg("1")).unwrap().stdout_str(),
            "one"
        );
        let err = fake.run(&Command::new("b").args(["--x", "y"])).unwrap_err();
        assert!(err.to_string().contains("exit status 2: bad"), "{err}");
        assert!(fake.pending().is_empty());
        fake.verify();
        assert_eq!(fake.call_lines(), ["which x", "a 1", "b --x y"]);
    }

    #[test]
    fn out_of_order_and_missing_calls_fail_verification() {
        let fake = FakeRunner::new();
        fake.expect(&["a"], Response::ok(""))
            .expect(&["b"], Response::ok(""));
        let err = fake.run(&Command::new("b")).unwrap_err();
        assert!(
            err.to_string()
                .contains("unexpected command `b` (expected `a`)"),
            "{err}"
        );
        let r = std::panic::catch_unwind(|| fake.verify());
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(
            msg.contains("unexpected command `b`") && msg.contains("never run: a"),
            "{msg}"
        );
    }

    #[test]
    fn spawned_commands_get_real_stand_ins_named_after_the_command() {
        use std::time::Duration;
        let fake = FakeRunner::new();
        fake.expect(
            &["qemu-nbd", "--connect=/dev/nbd0", "x"],
            Response::fail(1, "qemu-nbd: Failed to blk_new_open 'x'"),
        )
        .expect_prefix(
            &["tool"],
            Response::process(Command::new("sh").args([
                "-c",
                "printf '%s|' \"$@\" \"$VMCRAFT_X\"; exec sleep infinity",
                "stand-in",
            ])),
        )
        .expect(
            &["missing"],
            Response::error(ErrorKind::ToolMissing, "gone"),
        );

        let p = fake
            .spawn(&Command::new("qemu-nbd").args(["--connect=/dev/nbd0", "x"]))
            .unwrap();
        assert_eq!(
            p.wait_timeout(Duration::from_secs(60)),
            Some(ExitStatus::Code(1))
        );
        assert_eq!(p.command().to_string(), "qemu-nbd --connect=/dev/nbd0 x");
        assert_eq!(
            p.exit_error().to_string(),
            "qemu-nbd: command `qemu-nbd --connect=/dev/nbd0 x` failed with exit status 1: \
             qemu-nbd: Failed to blk_new_open 'x'"
        );

        let mut p = fake
            .spawn(
                &Command::new("tool")
                    .args(["a b", "c"])
                    .env("VMCRAFT_X", "42"),
            )
            .unwrap();
        crate::wait_until("the stand-in's output", Duration::from_secs(60), || {
            p.stdout() == b"a b|c|42|"
        })
        .unwrap();
        assert!(p.is_alive());
        assert_eq!(
            p.stop(Duration::from_secs(5)).unwrap(),
            ExitStatus::Signal(libc::SIGTERM)
        );

        let e = fake.spawn(&Command::new("missing")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ToolMissing);
        let e = fake.spawn(&Command::new("unscripted")).unwrap_err();
        assert!(
            e.to_string().contains("unexpected command `unscripted`"),
            "{e}"
        );
        let r = std::panic::catch_unwind(|| fake.verify());
        assert!(r.is_err(), "the unexpected spawn is reported");
    }

    #[test]
    fn a_process_response_runs_for_real_when_executed() {
        let fake = FakeRunner::new();
        fake.stub(
            &["lvm"],
            Response::process(Command::new("sh").args(["-c", "echo \"$@\"; exit 3", "lvm"])),
        );
        let out = fake
            .execute(&Command::new("lvm").args(["pvs", "x"]))
            .unwrap();
        assert_eq!(out.stdout_str(), "pvs x\n");
        assert_eq!(out.status, ExitStatus::Code(3));
    }

    #[test]
    fn scripted_errors_have_their_kind() {
        let fake = FakeRunner::new();
        fake.expect(&["slow"], Response::error(ErrorKind::Timeout, "timed out"));
        assert_eq!(
            fake.run(&Command::new("slow")).unwrap_err().kind(),
            ErrorKind::Timeout
        );
    }
}
