//! Guest programs through the binary (`command`, `command-lines`, `sh`,
//! `sh-lines`, `selinux-relabel`), guestfish syntax, on a guest image made of the
//! host's busybox-static and dpkg-query (the facade's `command_support`):
//! output as guestfish prints it, `dpkg-query` against the host's own run on
//! the same database, a failing command's status and stderr, the timeout (a
//! backend setting) with nothing left behind, a host file out of reach, and
//! bad arguments.

mod cli_support;
#[path = "../../vmcraft/tests/command_support/mod.rs"]
mod command_support;

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
