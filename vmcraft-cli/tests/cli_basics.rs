//! The `vmcraft` binary without attaching anything: help, suggestions, option and
//! argument errors, scripts from files and standard input with guestfish's
//! quoting and comments, `:`-separated commands, `-cmd`, `quit`, host shell lines
//! and pipes, `-x` traces and `--json`.

mod cli_support;

use cli_support::{run, script};
use vmcraft_block::testing::TestEnv;

#[test]
fn help_lists_every_command_with_a_summary() {
    let env = TestEnv::new("cli-help");
    let o = run(&env, &["help"], "");
    let out = o.ok();
    assert!(
        out.starts_with("    Command              Description\n"),
        "{out}"
    );
    for (cmd, summary) in [
        ("part-add", "add a partition to the device"),
        ("part-list", "list partitions on a device"),
        ("aug-get", "look up the value of an Augeas path"),
        ("tar-out", "pack directory into tarfile"),
        ("blockdev-getsize64", "get total size of device in bytes"),
        ("mount-ro", "mount a guest disk, read-only"),
    ] {
        assert!(
            out.contains(&format!("{cmd:<20} {summary}\n")),
            "{cmd} missing:\n{out}"
        );
    }
    // help CMD, -h CMD and --help CMD all show the command's page.
    for args in [
        &["help", "tar-out"][..],
        &["-h", "tar-out"],
        &["--help=tar-out"],
    ] {
        let page = run(&env, args, "").ok().to_string();
        assert!(
            page.starts_with("NAME\n    tar-out - pack directory into tarfile\n"),
            "{args:?}: {page}"
        );
        assert!(page.contains(
            "tar-out directory (tarfile|-) [compress:..] [numericowner:true|false] [excludes:..]"
        ));
    }
    let usage = run(&env, &["--help"], "").ok().to_string();
    assert!(usage.contains("usage: vmcraft"), "{usage}");
    let v = run(&env, &["--version"], "").ok().to_string();
    assert!(v.starts_with("vmcraft "), "{v}");
}

#[test]
fn unknown_commands_suggest_the_nearest_name() {
    let env = TestEnv::new("cli-unknown");
    let o = run(&env, &["part-lst", "/dev/sda"], "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: part-lst: unknown command (did you mean part-list?)\n"
    );
    assert_eq!(o.stdout, "");
    let o = run(&env, &["disk.img"], "");
    assert!(o.failed().contains("vmcraft -a disk.img"), "{}", o.stderr);
    let o = run(&env, &["help", "mkfss"], "");
    assert!(o.failed().contains("did you mean mkfs"), "{}", o.stderr);
}

#[test]
fn argument_errors_name_the_problem_and_stop_the_script() {
    let env = TestEnv::new("cli-args");
    for (words, want) in [
        (
            &["part-add", "/dev/sda", "p", "1"][..],
            "vmcraft: error: part-add: should have 4 parameter(s), not 3 (type 'help part-add' for help)\n",
        ),
        (
            &["part-add", "/dev/sda", "p", "x", "2"],
            "vmcraft: error: part-add: startsect: 'x' is not an integer\n",
        ),
        (
            &["part-del", "/dev/sda", "4294967296"],
            "vmcraft: error: part-del: partnum: 4294967296 is out of range for a 32-bit integer\n",
        ),
        (
            &["part-set-bootable", "/dev/sda", "1", "maybe"],
            "vmcraft: error: part-set-bootable: bootable: 'maybe' is not a boolean (expected true or false)\n",
        ),
        (
            &["mkfs", "ext4", "/dev/sda1", "colour:blue"],
            "vmcraft: error: mkfs: unknown optional argument \"colour:blue\" (expected name:value with name one of blocksize, features, inode, sectorsize, label)\n",
        ),
        (
            &["mkfs", "ext4", "/dev/sda1", "label:a", "label:b"],
            "vmcraft: error: mkfs: optional argument \"label\" given twice\n",
        ),
    ] {
        // The error ends the run: the echo after it never prints.
        let mut argv: Vec<&str> = words.to_vec();
        argv.extend([":", "echo", "not reached"]);
        let o = run(&env, &argv, "");
        assert!(o.stdout.is_empty(), "{words:?}: {}", o.stdout);
        assert_eq!(o.failed(), want, "{words:?}");
    }
    // A drive added but not launched (no `run`): the facade says what to do.
    let img = env.sparse_image("d.img", 1 << 20);
    let o = run(&env, &["-a", img.to_str().unwrap(), "list-partitions"], "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: list_partitions: /dev/sda: call launch first\n"
    );
}

#[test]
fn a_missing_image_is_an_error_before_anything_runs() {
    let env = TestEnv::new("cli-missing");
    let o = run(
        &env,
        &["-a", "/nonexistent/disk.img", "run", ":", "echo", "x"],
        "",
    );
    let e = o.failed();
    assert!(
        e.starts_with("vmcraft: error: add_drive: /nonexistent/disk.img: cannot use this image"),
        "{e}"
    );
    assert!(e.contains("No such file or directory"), "{e}");
    assert_eq!(o.stdout, "");
    let o = run(&env, &["--format=qcow3", "-a", "x.img"], "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: --format: unknown image format 'qcow3' (expected raw, qcow2, vmdk, vhdx, vdi or vpc)\n"
    );
    let o = run(&env, &["-N", "floppy:1M"], "");
    assert!(
        o.failed().contains("no such prepared disk type"),
        "{}",
        o.stderr
    );
    assert!(!env.path().join("test1.img").exists());
}

#[test]
fn scripts_use_guestfish_quoting_and_comments() {
    let env = TestEnv::new("cli-quoting");
    let text = r#"# a comment, then a blank line

echo plain words	tabbed
echo "double \"quoted\"\tescape\x41\101" 'single "kept" \n'
  echo   leading blanks   # not a comment here
echo ""
"#;
    let o = script(&env, &[], text);
    assert_eq!(
        o.ok(),
        "plain words tabbed\ndouble \"quoted\"\tescapeAA single \"kept\" \\n\nleading blanks # not a comment here\n\n"
    );
    // The same script from standard input.
    let o = run(&env, &[], text);
    assert_eq!(o.ok(), script(&env, &[], text).stdout);
    // A syntax error ends the script.
    let o = run(&env, &[], "echo one\necho \"open\necho two\n");
    assert_eq!(o.stdout, "one\n");
    assert_eq!(
        o.failed(),
        "vmcraft: error: syntax: unterminated double quote\n"
    );
}

#[test]
fn colon_separated_commands_dash_and_quit() {
    let env = TestEnv::new("cli-cmdline");
    let o = run(&env, &["echo", "a", ":", "echo", "b", "c"], "");
    assert_eq!(o.ok(), "a\nb c\n");
    // -cmd may fail without ending the run (and the status stays 0).
    // (After the first command: before it, -f... would be an option.)
    let o = run(
        &env,
        &["echo", "start", ":", "-frobnicate", ":", "echo", "after"],
        "",
    );
    assert_eq!(o.ok(), "start\nafter\n");
    assert!(
        o.stderr.contains("frobnicate: unknown command"),
        "{}",
        o.stderr
    );
    let o = run(&env, &[], "-frobnicate\necho after\nquit\necho never\n");
    assert_eq!(o.ok(), "after\n");
    let o = run(&env, &["echo", "a", ":", ":", "echo", "b"], "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: :: empty command on command line\n"
    );
}

#[test]
fn host_shell_lines_and_pipes() {
    let env = TestEnv::new("cli-shell");
    let o = run(
        &env,
        &[],
        "!echo from the host\necho hello world | tr a-z A-Z\n<!printf 'echo inlined\\n'\n",
    );
    assert_eq!(o.ok(), "from the host\nHELLO WORLD\ninlined\n");
    let o = run(&env, &[], "!exit 3\necho never\n");
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: !: exit 3: exited with status 3\n"
    );
}

#[test]
fn trace_and_json() {
    let env = TestEnv::new("cli-trace");
    let o = run(&env, &["-x", "echo", "a b", ":", "echo", "c"], "");
    assert_eq!(o.ok(), "a b\nc\n");
    assert_eq!(
        o.stderr,
        "vmcraft: trace: echo \"a b\"\nvmcraft: trace: echo c\n"
    );
    let o = run(&env, &["--json", "echo", "x", ":", "help", "echo"], "");
    let docs: Vec<serde_json::Value> = o
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs[0], serde_json::json!("x"));
    assert!(docs[1].as_str().unwrap().starts_with("NAME\n    echo"));
}

#[test]
fn prepared_disk_help() {
    let env = TestEnv::new("cli-nhelp");
    let out = run(&env, &["-N", "help"], "").ok().to_string();
    for t in ["disk", "part", "fs", "lv", "lvfs", "bootroot", "bootrootlv"] {
        assert!(
            out.contains(&format!("vmcraft -N {t:<10} - ")),
            "{t}:\n{out}"
        );
    }
    assert!(out.contains("-N fs:<filesystem>:<size>:<partition>"));
}
