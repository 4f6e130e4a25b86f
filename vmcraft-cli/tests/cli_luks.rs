//! Keys on the command line, as guestfish takes them: `luks-format`,
//! `luks-add-key` and the other calls with a key never take it from their
//! words; with `--keys-from-stdin` each key is one line of standard input (its
//! newline not part of the key), in the order the command's arguments name
//! them; without it the key is asked for on the terminal, and where there is no
//! terminal the command fails saying what to do, with nothing changed. The
//! host's `cryptsetup` is the oracle of what the keys became.

mod cli_support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use cli_support::{command, extract_partition, run, sha256};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// `cryptsetup open --test-passphrase` of a LUKS partition file with `key`.
fn opens(part: &Path, key: &str) -> bool {
    let mut c = std::process::Command::new("cryptsetup")
        .args(["--key-file", "-", "open", "--test-passphrase"])
        .arg(part)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(key.as_bytes()).unwrap();
    c.wait().unwrap().success()
}

#[test]
fn keys_come_from_stdin_lines_or_the_terminal_never_from_words() {
    if !require_root("loop devices") || !require_tool("cryptsetup") {
        return;
    }
    let env = TestEnv::new("cli-luks");
    let img = env.sparse_image("disk.img", 48 << 20);
    let disk = img.to_str().unwrap();

    // One key line for luks-format; the newline is not part of the key.
    let out = run(
        &env,
        &[
            "--keys-from-stdin",
            "-a",
            disk,
            "run",
            ":",
            "part-disk",
            "/dev/sda",
            "gpt",
            ":",
            "luks-format",
            "/dev/sda1",
            "0",
            ":",
            "luks-uuid",
            "/dev/sda1",
        ],
        "first passphrase\n",
    );
    let uuid = out.ok().trim().to_string();
    assert_eq!(uuid.len(), 36, "{uuid}");
    let part = extract_partition(&env, &img, 1);
    assert!(opens(&part, "first passphrase"));
    assert!(!opens(&part, "first passphrase\n"));

    // Two keys, in the order of the arguments (key, then newkey).
    let out = run(
        &env,
        &[
            "--keys-from-stdin",
            "-a",
            disk,
            "run",
            ":",
            "luks-add-key",
            "/dev/sda1",
            "5",
        ],
        "first passphrase\nsecond one\n",
    );
    out.ok();
    let part = extract_partition(&env, &img, 1);
    assert!(opens(&part, "second one"));

    // Help shows the key is asked for, not written.
    let out = run(&env, &["help", "luks-add-key"], "");
    assert!(
        out.ok().contains("luks-add-key device keyslot"),
        "{}",
        out.stdout
    );

    // Traced calls show keys as ***.
    let out = run(
        &env,
        &[
            "--keys-from-stdin",
            "-a",
            disk,
            "run",
            ":",
            "set-trace",
            "true",
            ":",
            "luks-add-key",
            "/dev/sda1",
            "6",
        ],
        "second one\nthird key\n",
    );
    out.ok();
    assert!(
        out.stderr
            .contains("trace: luks_add_key \"/dev/sda1\" *** *** 6"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("second one") && !out.stderr.contains("third key"),
        "{}",
        out.stderr
    );
    // Keys and commands cannot both come from standard input.
    let out = run(&env, &["--keys-from-stdin", "-a", disk], "run\n");
    assert!(
        out.failed()
            .contains("--keys-from-stdin: keys come from standard input, so the commands must not"),
        "{}",
        out.stderr
    );

    let before = sha256(&img);
    // A key given as a word is one word too many.
    let out = run(
        &env,
        &[
            "--keys-from-stdin",
            "-a",
            disk,
            "run",
            ":",
            "luks-kill-slot",
            "/dev/sda1",
            "second one",
            "0",
        ],
        "",
    );
    assert!(
        out.failed()
            .contains("luks-kill-slot: should have 2 parameter(s), not 3"),
        "{}",
        out.stderr
    );
    // Standard input ran out before the key.
    let out = run(
        &env,
        &[
            "--keys-from-stdin",
            "-a",
            disk,
            "run",
            ":",
            "luks-kill-slot",
            "/dev/sda1",
            "0",
        ],
        "",
    );
    assert!(
        out.failed()
            .contains("luks-kill-slot: no key on standard input (it ended)"),
        "{}",
        out.stderr
    );
    // No terminal (a new session has none) and no --keys-from-stdin.
    let mut c = std::process::Command::new("setsid");
    let inner = command(
        &env,
        &["-a", disk, "run", ":", "luks-kill-slot", "/dev/sda1", "0"],
    );
    c.arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env.path())
        .env("TMPDIR", env.path())
        .stdin(Stdio::null());
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "luks-kill-slot: key is read from the terminal and there is none: give \
             --keys-from-stdin"
        ),
        "{stderr}"
    );
    cli_support::assert_no_session_left(&env);
    assert_eq!(sha256(&img), before, "a refused command changed the image");
}
