//! `e2fsck`, `e2fsck-f` and `resize2fs` through the command line: resize2fs
//! refuses an unchecked filesystem with libguestfs's message, the exclusive
//! options are refused, and after a forced check the resize goes through.

use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

#[path = "../../vmcraft/tests/e2fsck_support/mod.rs"]
mod e2fsck_support;
use e2fsck_support::mounted_then_grown;

#[test]
fn cli_e2fsck_f_then_resize2fs() {
    if !require_root("attaching images") || !require_tool("resize2fs") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("e2fsck-cli");
    let img = mounted_then_grown(&env);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vmcraft"))
            .args(args)
            .current_dir(env.path())
            .env("TMPDIR", env.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let path = img.to_str().unwrap();
    let o = run(&["-a", path, "run", ":", "resize2fs", "/dev/sda"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(
            "vmcraft: error: resize2fs: /dev/sda: you need to run e2fsck with the correct and/or \
             forceall options first (e2fsck_f): "
        ),
        "{err}"
    );
    let o = run(&[
        "-a",
        path,
        "run",
        ":",
        "e2fsck",
        "/dev/sda",
        "correct:true",
        "forceall:true",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("only one of the options 'correct', 'forceall'"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "-a",
        path,
        "run",
        ":",
        "e2fsck-f",
        "/dev/sda",
        ":",
        "resize2fs",
        "/dev/sda",
        ":",
        "e2fsck",
        "/dev/sda",
        "correct:true",
        ":",
        "mount",
        "/dev/sda",
        "/",
        ":",
        "cat",
        "/hello",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n\n");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
