//! Block devices through the binary: `copy-device-to-device` and `dd` between
//! drives (checked with cmp on the images), its optional arguments and `--json`
//! statistics, refusals that leave the destination unchanged, and the
//! `blockdev-*` settings.

mod cli_support;

use cli_support::{partition_range, run, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

#[test]
fn copy_a_partition_between_drives() {
    if !require_root("attaching images") || !require_tool("sfdisk") || !require_tool("cmp") {
        return;
    }
    let env = TestEnv::new("cli-copy");
    let src = env.path().join("src.img");
    let dst = env.path().join("dst.img");
    run(
        &env,
        &[
            "-N",
            &format!("{}=fs:ext4:48M", src.display()),
            "-N",
            &format!("{}=part:64M:gpt", dst.display()),
            "-m",
            "/dev/sda1",
            "write",
            "/hello",
            "copied",
        ],
        "",
    )
    .ok();
    let o = run(
        &env,
        &[
            "--json",
            "-a",
            src.to_str().unwrap(),
            "-a",
            dst.to_str().unwrap(),
            "run",
            ":",
            "copy-device-to-device",
            "/dev/sda1",
            "/dev/sdb1",
            "sparse:true",
            ":",
            "vfs-uuid",
            "/dev/sda1",
            ":",
            "vfs-uuid",
            "/dev/sdb1",
            ":",
            "mount-ro",
            "/dev/sdb1",
            "/",
            ":",
            "cat",
            "/hello",
        ],
        "",
    );
    let docs: Vec<serde_json::Value> = o
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs[0], serde_json::Value::Null, "run");
    let (_, src_size) = partition_range(&src, 1);
    assert_eq!(docs[1]["bytes"], serde_json::json!(src_size));
    assert!(
        docs[1]["bytes_written"].as_u64().unwrap() < src_size,
        "sparse copy wrote everything"
    );
    assert_eq!(docs[2], docs[3]);
    assert_eq!(docs[5], serde_json::json!("copied"));
    // Byte for byte: the source partition is the start of the destination's.
    let (s0, s1) = partition_range(&src, 1);
    let (d0, _) = partition_range(&dst, 1);
    tool(
        "cmp",
        &[
            "-n",
            &s1.to_string(),
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
            &s0.to_string(),
            &d0.to_string(),
        ],
    );
    let _ = s1;

    // Refusals change nothing: a mounted destination, a negative offset, a
    // destination on a read-only drive, a device that does not exist.
    let before = sha256(&dst);
    for (args, want) in [
        (
            vec![
                "-a",
                src.to_str().unwrap(),
                "-a",
                dst.to_str().unwrap(),
                "run",
                ":",
                "mount-ro",
                "/dev/sdb1",
                "/",
                ":",
                "copy-device-to-device",
                "/dev/sda1",
                "/dev/sdb1",
            ],
            "vmcraft: error: copy_device_to_device: /dev/sdb1: the destination is mounted",
        ),
        (
            vec![
                "-a",
                src.to_str().unwrap(),
                "-a",
                dst.to_str().unwrap(),
                "run",
                ":",
                "copy-device-to-device",
                "/dev/sda1",
                "/dev/sdb1",
                "srcoffset:-1",
            ],
            "vmcraft: error: copy_device_to_device: ",
        ),
        (
            vec![
                "-a",
                src.to_str().unwrap(),
                "--ro",
                "-a",
                dst.to_str().unwrap(),
                "run",
                ":",
                "dd",
                "/dev/sda1",
                "/dev/sdb1",
            ],
            "vmcraft: error: dd: /dev/sdb1: the drive was added read-only",
        ),
        (
            vec![
                "-a",
                src.to_str().unwrap(),
                "-a",
                dst.to_str().unwrap(),
                "run",
                ":",
                "dd",
                "/dev/sda1",
                "/dev/sdc1",
            ],
            "vmcraft: error: copy_device_to_device: /dev/sdc1: no such device",
        ),
    ] {
        let o = run(&env, &args, "");
        assert!(o.failed().starts_with(want), "{args:?}: {}", o.stderr);
        assert_eq!(sha256(&dst), before, "{args:?}");
    }
}

#[test]
fn blockdev_settings() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-blockdev");
    let img = env.sparse_image("b.img", 16 << 20);
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "run",
            ":",
            "blockdev-getro",
            "/dev/sda",
            ":",
            "blockdev-setro",
            "/dev/sda",
            ":",
            "blockdev-getro",
            "/dev/sda",
            ":",
            "blockdev-setrw",
            "/dev/sda",
            ":",
            "blockdev-getro",
            "/dev/sda",
            ":",
            "blockdev-getsize64",
            "/dev/sda",
            ":",
            "blockdev-getsz",
            "/dev/sda",
            ":",
            "blockdev-getss",
            "/dev/sda",
            ":",
            "blockdev-flushbufs",
            "/dev/sda",
            ":",
            "canonical-device-name",
            "/dev/vda",
        ],
        "",
    );
    assert_eq!(
        o.ok(),
        "false\ntrue\nfalse\n16777216\n32768\n512\n/dev/sda\n"
    );
}

/// A whole disk copied onto another right after mkfs wrote through its
/// partition: the copy holds the filesystem (the kernel's per-node page caches
/// are not allowed to serve stale blocks), the images are equal (cmp), and
/// after `blockdev-rereadpt` the copy's partitions are listed and usable, on a
/// kernel with or without the MBR/GPT parsers.
#[test]
fn rereadpt_after_copying_a_partitioned_disk() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-rereadpt");
    let (s, d) = (
        env.sparse_image("s.img", 32 << 20),
        env.sparse_image("d.img", 32 << 20),
    );
    let o = run(
        &env,
        &[
            "--format=raw",
            "-a",
            s.to_str().unwrap(),
            "-a",
            d.to_str().unwrap(),
            "run",
            ":",
            "part-disk",
            "/dev/sda",
            "mbr",
            ":",
            "mkfs",
            "ext4",
            "/dev/sda1",
            ":",
            "copy-device-to-device",
            "/dev/sda",
            "/dev/sdb",
            ":",
            "blockdev-rereadpt",
            "/dev/sdb",
            ":",
            "list-partitions",
            ":",
            "vfs-type",
            "/dev/sdb1",
        ],
        "",
    );
    assert_eq!(o.ok(), "/dev/sda1\n/dev/sdb1\next4\n");
    tool("cmp", &[s.to_str().unwrap(), d.to_str().unwrap()]);
}
