//! Ctrl-C and `kill` through the binary: SIGINT and SIGTERM, while the session
//! waits for its next command or runs a long copy, shut it down (unmounted,
//! detached, session directory removed, the filesystem clean) and exit with
//! 128 + the signal number.

mod cli_support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use cli_support::{assert_no_session_left, command, e2fsck_clean, extract_partition, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

/// Start `vmcraft ARGS` with `script` on its standard input (kept open), wait for
/// the line `ready` on its standard output, send `sig`, and return its exit
/// status and the rest of its output.
fn interrupt(env: &TestEnv, args: &[&str], script: &str, sig: Signal) -> (Option<i32>, String) {
    let mut child = command(env, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "vmcraft ended before it was ready"
        );
        if line == "ready\n" {
            break;
        }
    }
    // The session is up, with a filesystem mounted (and maybe a copy running).
    assert!(
        !leaks(env.tag()).is_empty(),
        "nothing attached before the signal"
    );
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

fn prepared(env: &TestEnv) -> std::path::PathBuf {
    let img = env.path().join("sig.img");
    run(
        env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "write",
            "/before",
            "x",
        ],
        "",
    )
    .ok();
    img
}

#[test]
fn sigint_while_waiting_for_a_command() {
    if !require_root("attaching images") || !require_tool("e2fsck") {
        return;
    }
    let env = TestEnv::new("cli-sigint");
    let img = prepared(&env);
    let (code, err) = interrupt(
        &env,
        &["-a", img.to_str().unwrap(), "-m", "/dev/sda1"],
        "write /during y\necho ready\n",
        Signal::SIGINT,
    );
    assert_eq!(code, Some(130), "{err}");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    assert_no_session_left(&env);
    let fs = extract_partition(&env, &img, 1);
    e2fsck_clean(&fs);
    assert_eq!(cli_support::debugfs_cat(&fs, "/during"), "y");
}

#[test]
fn sigterm_exits_143_after_teardown() {
    if !require_root("attaching images") || !require_tool("e2fsck") {
        return;
    }
    let env = TestEnv::new("cli-sigterm");
    let img = prepared(&env);
    let (code, err) = interrupt(
        &env,
        &["-a", img.to_str().unwrap(), "-m", "/dev/sda1"],
        "echo ready\n",
        Signal::SIGTERM,
    );
    assert_eq!(code, Some(143), "{err}");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    assert_no_session_left(&env);
    e2fsck_clean(&extract_partition(&env, &img, 1));
}

#[test]
fn sigint_during_a_long_copy() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-sigcopy");
    let a = env.sparse_image("a.img", 4 << 30);
    let b = env.sparse_image("b.img", 4 << 30);
    let (code, err) = interrupt(
        &env,
        &["-a", a.to_str().unwrap(), "-a", b.to_str().unwrap()],
        "run\necho ready\ncopy-device-to-device /dev/sda /dev/sdb\necho copied\n",
        Signal::SIGINT,
    );
    assert_eq!(code, Some(130), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    assert_no_session_left(&env);
}
