//! `--ro` is global, as in guestfish: given after `-a` (or anywhere among the
//! options) it still makes every `-a` image read-only, so a write call fails with
//! the read-only error and the image stays byte-identical. `--rw` after `--ro` is
//! refused before anything is opened.

mod cli_support;

use cli_support::{debugfs_cat, run, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// An ext4 image (the whole disk) holding `/hello`.
fn ext4_image(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("disk.img", 32 << 20);
    let p = img.to_str().unwrap();
    tool("mkfs.ext4", &["-F", "-q", p]);
    let hello = env.path().join("hello");
    std::fs::write(&hello, "hello\n").unwrap();
    tool(
        "debugfs",
        &["-w", "-R", &format!("write {} hello", hello.display()), p],
    );
    img
}

#[test]
fn ro_after_a_makes_the_image_read_only() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-ro-after");
    let img = ext4_image(&env);
    let path = img.to_str().unwrap();
    let before = sha256(&img);

    // A write to the device itself.
    let o = run(
        &env,
        &["-a", path, "--ro", "run", ":", "mkfs", "vfat", "/dev/sda"],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: mkfs: /dev/sda: the drive was added read-only"
    );
    assert_eq!(sha256(&img), before);

    // The short form, clustered with another flag.
    let o = run(
        &env,
        &["-a", path, "-xr", "run", ":", "blockdev-getro", "/dev/sda"],
        "",
    );
    assert_eq!(o.ok(), "true\n");

    // A write through the filesystem: the mount is read-only, the write fails.
    let o = run(
        &env,
        &[
            "-a", path, "--ro", "run", ":", "mount", "/dev/sda", "/", ":", "cat", "/hello", ":",
            "write", "/new", "data",
        ],
        "",
    );
    assert_eq!(o.stdout, "hello\n\n");
    let err = o.failed();
    assert!(
        err.starts_with("vmcraft: error: write: /new:") && err.contains("Read-only file system"),
        "{err}"
    );
    assert_eq!(sha256(&img), before);

    // -m after --ro, --ro after -m and -a: read-only as well.
    let o = run(
        &env,
        &["-a", path, "-m", "/dev/sda", "--ro", "touch", "/new"],
        "",
    );
    assert!(o.failed().contains("Read-only file system"), "{}", o.stderr);
    assert_eq!(sha256(&img), before);
    assert!(debugfs_cat_missing(&img, "/new"));
    assert_eq!(debugfs_cat(&img, "/hello"), "hello\n");
}

#[test]
fn rw_after_ro_is_refused_and_nothing_is_opened() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-ro-rw");
    let img = ext4_image(&env);
    let path = img.to_str().unwrap();
    let before = sha256(&img);
    let o = run(
        &env,
        &[
            "-a", path, "--ro", "--rw", "run", ":", "mkfs", "vfat", "/dev/sda",
        ],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: --rw: cannot mix --ro and --rw options"
    );
    assert_eq!(sha256(&img), before);
    // Without --ro the same image is written (the control).
    run(
        &env,
        &["-a", path, "--rw", "run", ":", "mkfs", "vfat", "/dev/sda"],
        "",
    )
    .ok();
    assert_ne!(sha256(&img), before);
}

/// Whether debugfs finds no `path` in the ext4 image.
fn debugfs_cat_missing(img: &std::path::Path, path: &str) -> bool {
    let o = std::process::Command::new("debugfs")
        .args(["-R", &format!("stat {path}"), img.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stderr).contains("File not found")
}
