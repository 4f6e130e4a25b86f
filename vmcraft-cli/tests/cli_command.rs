//! Guest programs through the binary (`command`, `command-lines`, `sh`,
//! `sh-lines`, `selinux-relabel`), guestfish syntax, on a guest image made of the
//! host's busybox-static and dpkg-query (the facade's `command_support`):
//! output as guestfish prints it, `dpkg-query` against the host's own run on
//! the same database, a failing command's status and stderr, the timeout (a
//! backend setting) with nothing left behind, a host file out of reach, bad
//! arguments, and the command line killed while a guest program runs.

mod cli_support;
#[path = "../../vmcraft/tests/command_support/mod.rs"]
mod command_support;
#[path = "../../vmcraft/tests/leak_support/mod.rs"]
mod leak_support;

use cli_support::script;
use command_support::{guest, host_packages, processes_with, tree};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

fn ready() -> bool {
    require_root("attaching images")
        && require_tool("bwrap")
        && require_tool("busybox")
        && require_tool("mkfs.ext4")
}

#[test]
fn guest_commands_through_the_command_line() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("cli-command");
    let img = guest(env.path());
    let sentinel = env.path().join("sentinel");
    std::fs::write(&sentinel, "host-only").unwrap();
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "run\nmount /dev/sda /\n\
             command '/bin/echo hello world'\n\
             command-lines 'echo a'\n\
             sh 'echo one; echo two'\n\
             sh-lines 'printf \"x\\\\ny\\\\n\"'\n\
             sh-lines \"dpkg-query -W -f '${{Package}}\\\\n'\"\n\
             sh 'echo written > /root/f'\ncat /root/f\n\
             -sh 'echo it went wrong >&2; exit 3'\n\
             -sh 'cat {s}'\n\
             -command ''\n\
             set-backend-setting command_timeout 1\n\
             -sh 'sleep 987656 & sleep 987657'\n\
             -selinux-relabel /etc/selinux/none /\n",
            s = sentinel.display()
        ),
    );
    let packages = host_packages(&tree(&env.path().join("oracle")));
    // guestfish prints a string and a newline, a list one line per item.
    assert_eq!(
        o.stdout,
        // sh of a command that prints nothing prints an empty line, cat the
        // file and a newline.
        format!("hello world\n\na\none\ntwo\n\nx\ny\n{packages}\nwritten\n\n"),
        "stderr: {}",
        o.stderr
    );
    for want in [
        "sh: /bin/sh: exit status 3: it went wrong",
        "No such file or directory",
        "command: passed an empty list",
        "sh: /bin/sh: timed out after 1 s",
        "selinux_relabel: /etc/selinux/none: no such file",
    ] {
        assert!(o.stderr.contains(want), "{want}: {}", o.stderr);
    }
    assert!(!o.stdout.contains("host-only"));
    assert_eq!(processes_with("98765"), Vec::<String>::new());
}

#[test]
fn help_describes_the_sandbox() {
    let env = TestEnv::new("cli-command-help");
    let o = script(&env, &[], "help command\nhelp sh-lines\n");
    let out = o.ok();
    assert!(
        out.contains("command - run a command from the guest filesystem"),
        "{out}"
    );
    assert!(out.contains("command 'arguments ...'"), "{out}");
    assert!(out.contains("sh-lines command"), "{out}");
    assert!(out.contains("bubblewrap"), "{out}");
}

/// The command line killed (SIGKILL) while a guest program runs: the sandbox
/// dies with it (bubblewrap's parent-death signal, then its PID namespace),
/// nothing of it is left, and `vmcraft cleanup` removes the session's
/// directory as after any killed session.
#[test]
fn a_killed_session_takes_its_sandbox_with_it() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("cli-command-kill");
    let img = guest(env.path());
    let marker = "987659";
    let fish = env.path().join("kill.fish");
    std::fs::write(
        &fish,
        format!("run\nmount /dev/sda /\nsh 'sleep {marker} & sleep {marker}'\n"),
    )
    .unwrap();
    let mut child = cli_support::command(
        &env,
        &["-a", img.to_str().unwrap(), "-f", fish.to_str().unwrap()],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Wait for both sleeps (a marker, not a fixed time); the guard only keeps
    // a broken run from hanging the test.
    let guard = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let sleeps = || {
        processes_with(marker)
            .iter()
            .filter(|p| p.ends_with(&format!(": sleep {marker} ")))
            .count()
    };
    while sleeps() < 2 {
        assert!(
            std::time::Instant::now() < guard,
            "the guest program never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let guard = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !processes_with(marker).is_empty() {
        assert!(
            std::time::Instant::now() < guard,
            "left behind: {:?}",
            processes_with(marker)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = cli_support::run(&env, &["cleanup"], "");
    out.ok();
    let left = leak_support::settle(&env, std::time::Duration::from_secs(30));
    assert!(left.is_empty(), "left behind: {left:#?}");
    // The next guest program removes the transient cgroups the killed one left.
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        "run\nmount /dev/sda /\nsh true\n",
    );
    o.ok();
    let prefix = format!("vmcraft-sandbox-{}-", killed);
    let mut found = Vec::new();
    cgroups_named(
        std::path::Path::new("/sys/fs/cgroup"),
        &prefix,
        6,
        &mut found,
    );
    assert!(found.is_empty(), "cgroups left: {found:?}");
}

/// Directories under `dir` (to `depth` levels) whose name starts with `prefix`.
fn cgroups_named(dir: &std::path::Path, prefix: &str, depth: u32, found: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().starts_with(prefix) {
            found.push(e.path().display().to_string());
        }
        cgroups_named(&e.path(), prefix, depth - 1, found);
    }
}
