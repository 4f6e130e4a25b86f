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
