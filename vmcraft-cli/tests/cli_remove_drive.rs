//! Disk labels and `remove-drive` through the binary, in guestfish's syntax and
//! output: `add-drive FILE label:NAME`, `list-disk-labels` printed as a hash
//! (`key: value` lines), `remove-drive` before launch (later drives move up) and
//! after (a hole: the other drives keep their names and keep working), and the
//! refusals (`vmcraft: error: remove_drive: ...`, exit status 1): an unknown
//! label, a drive in use, a bad or repeated label.

mod cli_support;

use cli_support::{image, run};
use vmcraft_block::testing::{TestEnv, leaks, require_root};

#[test]
fn remove_drive_after_launch_leaves_the_other_names_alone() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-rmdrive");
    let a = image(&env, "a.img", 32 << 20);
    let b = image(&env, "b.img", 40 << 20);
    let c = image(&env, "c.img", 48 << 20);
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    let o = run(
        &env,
        &[
            "-a",
            a,
            "add-drive",
            b,
            "label:b",
            ":",
            "add-drive",
            c,
            "label:c",
            ":",
            "run",
            ":",
            "part-disk",
            "/dev/sda",
            "mbr",
            ":",
            "part-disk",
            "/dev/sdb",
            "mbr",
            ":",
            "part-disk",
            "/dev/sdc",
            "mbr",
            ":",
            "mkfs",
            "ext4",
            "/dev/sdc1",
            ":",
            "mount",
            "/dev/sdc1",
            "/",
            ":",
            "write",
            "/id",
            "on c",
            ":",
            "umount",
            "/",
            ":",
            "list-disk-labels",
            ":",
            "remove-drive",
            "b",
            ":",
            "list-devices",
            ":",
            "list-partitions",
            ":",
            "list-disk-labels",
            ":",
            "nr-devices",
            ":",
            "device-index",
            "/dev/sdc",
            ":",
            "mount",
            "/dev/vdc1",
            "/",
            ":",
            "cat",
            "/id",
        ],
        "",
    );
    assert_eq!(
        o.ok(),
        "b: /dev/sdb\n\
         b1: /dev/sdb1\n\
         c: /dev/sdc\n\
         c1: /dev/sdc1\n\
         /dev/sda\n\
         /dev/sdc\n\
         /dev/sda1\n\
         /dev/sdc1\n\
         c: /dev/sdc\n\
         c1: /dev/sdc1\n\
         2\n\
         2\n\
         on c\n"
    );

    // The removed drive is no device any more.
    let o = run(
        &env,
        &[
            "-a",
            a,
            "add-drive",
            b,
            "label:b",
            ":",
            "add-drive",
            c,
            "label:c",
            ":",
            "run",
            ":",
            "remove-drive",
            "b",
            ":",
            "list-partitions",
            ":",
            "mount",
            "/dev/sdb1",
            "/",
        ],
        "",
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stdout, "/dev/sda1\n/dev/sdc1\n");
    assert_eq!(
        o.stderr.trim_end(),
        "vmcraft: error: mount: /dev/sdb1: no such device"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn remove_drive_before_launch_and_refusals() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-rmdrive-before");
    let a = image(&env, "a.img", 8 << 20);
    let b = image(&env, "b.img", 16 << 20);
    let c = image(&env, "c.img", 24 << 20);
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    // Before launch: b is never attached, c becomes /dev/sdb.
    let o = run(
        &env,
        &[
            "-a",
            a,
            "add-drive",
            b,
            "label:b",
            ":",
            "add-drive",
            c,
            "label:c",
            ":",
            "remove-drive",
            "b",
            ":",
            "run",
            ":",
            "list-devices",
            ":",
            "list-disk-labels",
            ":",
            "blockdev-getsize64",
            "/dev/sdb",
        ],
        "",
    );
    assert_eq!(o.ok(), "/dev/sda\n/dev/sdb\nc: /dev/sdb\n25165824\n");

    // An unknown label.
    let o = run(
        &env,
        &[
            "-a",
            a,
            "add-drive",
            b,
            "label:b",
            ":",
            "run",
            ":",
            "remove-drive",
            "nosuch",
        ],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: remove_drive: nosuch: no drive has this label"
    );

    // In use: refused, and the drive is still there and mounted.
    let o = run(
        &env,
        &[
            "-a",
            a,
            "add-drive",
            b,
            "label:b",
            ":",
            "run",
            ":",
            "mkfs",
            "ext4",
            "/dev/sdb",
            ":",
            "mount",
            "/dev/sdb",
            "/",
            ":",
            "write",
            "/f",
            "kept",
            ":",
            "remove-drive",
            "b",
        ],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: remove_drive: b: /dev/sdb is in use: /dev/sdb is mounted on /"
    );
    let o = run(
        &env,
        &[
            "-a",
            a,
            "add-drive",
            b,
            "label:b",
            ":",
            "run",
            ":",
            "mount",
            "/dev/sdb",
            "/",
            ":",
            "-remove-drive",
            "b",
            ":",
            "list-devices",
            ":",
            "cat",
            "/f",
        ],
        "",
    );
    assert_eq!(o.ok(), "/dev/sda\n/dev/sdb\nkept\n");
    assert_eq!(
        o.stderr.trim_end(),
        "vmcraft: error: remove_drive: b: /dev/sdb is in use: /dev/sdb is mounted on /"
    );

    // Bad and repeated labels.
    let o = run(&env, &["-a", a, "add-drive", b, "label:b2"], "");
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: add_drive: b2: label must be 1 to 20 ASCII letters (a-z, A-Z), nothing else"
    );
    let o = run(
        &env,
        &["add-drive", a, "label:x", ":", "add-drive", b, "label:x"],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: add_drive: x: this label was given to /dev/sda already (labels must be unique)"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
