//! [`FakeRunner`]: a scripted, recording [`CommandRunner`] for unit tests.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::command::{Command, CommandRunner, Output};
use crate::error::{Error, ErrorKind, Result};

/// What the fake answers to a command.
#[derive(Debug, Clone)]
pub enum Response {
    /// The command "ran" and produced this.
    Output(Output),
    /// The command could not be run: an error of this kind and message.
    Error(ErrorKind, String),
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
/// together with any expectation that was never met.
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

impl CommandRunner for FakeRunner {
    fn execute(&self, cmd: &Command) -> Result<Output> {
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
            Some(Response::Output(o)) => Ok(o),
            Some(Response::Error(kind, msg)) => Err(Error::new(kind, "fake", cmd.to_string(), msg)),
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
    fn scripted_errors_have_their_kind() {
        let fake = FakeRunner::new();
        fake.expect(&["slow"], Response::error(ErrorKind::Timeout, "timed out"));
        assert_eq!(
            fake.run(&Command::new("slow")).unwrap_err().kind(),
            ErrorKind::Timeout
        );
    }
}
