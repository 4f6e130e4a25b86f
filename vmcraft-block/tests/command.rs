//! The real SystemRunner against real programs: stdout, stdin, exit status, signals,
//! timeouts, missing tools; and the error text every failure carries.

use std::time::Duration;

use vmcraft_block::{Command, CommandRunner, ErrorKind, ExitStatus, SystemRunner, error_chain};

#[test]
fn runs_without_a_shell_and_collects_output() {
    let r = SystemRunner::new();
    let out = r
        .run(&Command::new("echo").args(["a b", "$HOME", "*"]))
        .unwrap();
    assert_eq!(out.stdout_str(), "a b $HOME *\n");
    assert_eq!(out.status, ExitStatus::Code(0));
}

#[test]
fn feeds_stdin_and_passes_env() {
    let r = SystemRunner::new();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 256) as u8).collect();
    let out = r.run(&Command::new("cat").stdin(big.clone())).unwrap();
    assert_eq!(out.stdout, big);
    let out = r
        .run(
            &Command::new("sh")
                .args(["-c", "printf %s \"$VMCRAFT_X\""])
                .env("VMCRAFT_X", "42"),
        )
        .unwrap();
    assert_eq!(out.stdout_str(), "42");
}

#[test]
fn failure_names_program_args_status_and_stderr() {
    let r = SystemRunner::new();
    let cmd = Command::new("sh").args(["-c", "echo '  oops: bad thing  ' >&2; exit 3"]);
    let out = r.execute(&cmd).unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = r.run(&cmd).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CommandFailed);
    let msg = err.to_string();
    assert!(msg.contains("sh -c"), "{msg}");
    assert!(msg.contains("exit status 3"), "{msg}");
    assert!(msg.ends_with("oops: bad thing"), "{msg}");
    let f = err.command_failure().unwrap();
    assert_eq!(f.argv[0], "sh");
    assert_eq!(f.status, Some(ExitStatus::Code(3)));
}

#[test]
fn a_signal_is_reported_as_a_signal() {
    let err = SystemRunner::new()
        .run(&Command::new("sh").args(["-c", "kill -9 $$"]))
        .unwrap_err();
    assert!(err.to_string().contains("signal 9"), "{err}");
}

#[test]
fn timeout_kills_the_child() {
    let err = SystemRunner::new()
        .run(
            &Command::new("sleep")
                .arg("30")
                .timeout(Duration::from_millis(50)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[test]
fn missing_tool_says_where_it_looked() {
    let err = SystemRunner::new()
        .run(&Command::new("vmcraft-no-such-tool"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ToolMissing);
    assert!(
        error_chain(&err).contains("not found in"),
        "{}",
        error_chain(&err)
    );
    let err = SystemRunner::new()
        .run(&Command::new("/nonexistent/bin/tool"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ToolMissing);
    assert!(err.to_string().contains("could not be started"), "{err}");
}

#[test]
fn finds_sbin_tools_even_without_sbin_on_path() {
    // mkfs.ext4 lives in /usr/sbin; the search path always includes it.
    if !vmcraft_block::testing::require_tool("mkfs.ext4") {
        return;
    }
    let dirs = vmcraft_block::command::tool_search_path();
    assert!(dirs.iter().any(|d| d.ends_with("sbin")));
    assert!(vmcraft_block::find_tool("mkfs.ext4").unwrap().is_absolute());
}
