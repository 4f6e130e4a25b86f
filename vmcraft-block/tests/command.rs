//! The real SystemRunner against real programs: stdout, stdin, exit status, signals,
//! timeouts, missing tools; and the error text every failure carries. Children
//! are tied to the runner: a timeout kills the command's whole process group
//! (also what it left holding its output past the deadline), what a command
//! daemonizes on purpose is left alone, and a runner that is SIGKILLed takes its
//! command with it.

mod common;

use std::time::Duration;

use common::{helper, helper_marker, kill_9, marker, processes_with, wait_for_process, wait_gone};

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

#[test]
fn a_timeout_kills_the_whole_process_group() {
    // The shell forks a grandchild (in the background) and waits on a child: both
    // must go, not just the shell.
    let m = marker();
    let script = format!("sleep {m} & sleep {m}; echo never");
    let err = SystemRunner::new()
        .run(
            &Command::new("sh")
                .args(["-c", &script])
                .timeout(Duration::from_millis(300)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("timed out after"), "{err}");
    wait_gone(&m);
}

#[test]
fn what_holds_the_output_past_the_timeout_is_killed_with_the_group() {
    // The shell exits at once, but its background child keeps the output pipes
    // open: the call waits for them only until the deadline.
    let m = marker();
    let err = SystemRunner::new()
        .run(
            &Command::new("sh")
                .args(["-c", &format!("sleep {m} & echo started")])
                .timeout(Duration::from_millis(300)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    wait_gone(&m);
}

#[test]
fn what_a_command_daemonizes_on_purpose_is_left_alone() {
    // As daemon(3) does (ntfs-3g): fork, let go of the output, and the parent
    // exits at once, before the daemon has left the process group.
    let m = marker();
    let out = SystemRunner::new()
        .run(
            &Command::new("sh")
                .args([
                    "-c",
                    &format!("sleep {m} </dev/null >/dev/null 2>&1 & echo started"),
                ])
                .timeout(Duration::from_secs(60)),
        )
        .unwrap();
    assert_eq!(out.stdout_str(), "started\n");
    let pids = wait_for_process(&m);
    assert_eq!(pids.len(), 1);
    // Still running after the call returned; ours to end.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_gone(&m);
}

#[test]
fn each_command_leads_its_own_process_group() {
    let out = SystemRunner::new()
        .run(&Command::new("sh").args(["-c", "echo $$; ps -o pgid= -p $$"]))
        .unwrap();
    let lines: Vec<&str> = out.stdout_str().leak().lines().collect();
    assert_eq!(lines[0].trim(), lines[1].trim(), "pid == pgid");
    assert_ne!(
        lines[1].trim().parse::<i32>().unwrap(),
        nix::unistd::getpgrp().as_raw()
    );
}

/// Run as a helper by `a_command_dies_with_its_runner`: runs `sleep MARKER`
/// through the SystemRunner and blocks in it until killed.
#[test]
#[ignore = "helper process for a_command_dies_with_its_runner"]
fn helper_runs_a_command() {
    let Some(m) = helper_marker() else { return };
    let _ = SystemRunner::new().run(&Command::new("sleep").arg(&m));
    unreachable!("the helper is SIGKILLed while its command runs");
}

#[test]
fn a_command_dies_with_its_runner() {
    let m = marker();
    let runner = helper("helper_runs_a_command", &m);
    let pids = wait_for_process(&m);
    assert_eq!(pids.len(), 1, "{pids:?}");
    // SIGKILL: no destructor, no handler runs in the runner; only the kernel's
    // parent-death signal can take the command with it.
    kill_9(runner);
    wait_gone(&m);
    assert!(processes_with(&m).is_empty());
}

/// Run `cmd` on another thread, cancel `token` once a process with `m` in its
/// command line runs, and return the call's result.
fn cancel_when_running(
    cmd: Command,
    token: &vmcraft_block::CancelToken,
    m: &str,
) -> vmcraft_block::Error {
    let call = std::thread::spawn(move || SystemRunner::new().run(&cmd));
    wait_for_process(m);
    token.cancel();
    call.join().unwrap().unwrap_err()
}

#[test]
fn a_cancelled_command_has_its_whole_group_stopped_with_sigterm() {
    let m = marker();
    let dir = tempfile::tempdir().unwrap();
    let said = dir.path().join("said");
    // The shell traps SIGTERM to show that it came first; its background
    // grandchild goes with the group.
    let script = format!(
        "trap 'echo term > {}; exit 1' TERM; sleep {m} & sleep {m} & wait",
        said.display()
    );
    let token = vmcraft_block::CancelToken::new();
    let err = cancel_when_running(
        Command::new("sh").args(["-c", &script]).cancel_on(&token),
        &token,
        &m,
    );
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(err.to_string().contains("was cancelled"), "{err}");
    assert!(err.command_failure().unwrap().cancelled);
    assert!(vmcraft_block::cancel::is_cancellation(&err));
    assert_eq!(std::fs::read_to_string(&said).unwrap(), "term\n");
    wait_gone(&m);
}

#[test]
fn a_cancelled_command_that_ignores_sigterm_is_killed_after_the_grace() {
    let m = marker();
    let token = vmcraft_block::CancelToken::new();
    let err = cancel_when_running(
        Command::new("sh")
            .args(["-c", &format!("trap '' TERM; sleep {m} & wait")])
            .cancel_on(&token),
        &token,
        &m,
    );
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    wait_gone(&m);
}

#[test]
fn a_command_cancelled_before_it_starts_never_runs_and_others_are_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("made");
    let token = vmcraft_block::CancelToken::new();
    // A live token changes nothing.
    let out = SystemRunner::new()
        .run(&Command::new("echo").arg("ok").cancel_on(&token))
        .unwrap();
    assert_eq!(out.stdout_str(), "ok\n");
    token.cancel();
    let err = SystemRunner::new()
        .run(&Command::new("touch").arg(&made).cancel_on(&token))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(!made.exists(), "a cancelled command must not start");
    // Equality ignores the token (fake runners compare commands).
    assert_eq!(Command::new("true").cancel_on(&token), Command::new("true"));
}

#[test]
fn a_cancellation_also_ends_the_wait_for_output_held_by_what_a_command_left() {
    // The shell exits at once; its background child keeps the output open, and
    // there is no timeout: only the token can end the call.
    let m = marker();
    let token = vmcraft_block::CancelToken::new();
    let err = cancel_when_running(
        Command::new("sh")
            .args(["-c", &format!("sleep {m} & echo started")])
            .cancel_on(&token),
        &token,
        &m,
    );
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    wait_gone(&m);
}
