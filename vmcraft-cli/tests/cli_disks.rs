//! The disks family through the binary, in guestfish's syntax and output: the
//! `copy-*` calls with `name:value` optional arguments, `zero-device` (checked
//! with cmp) and its refusal on `--ro` (image unchanged), device indexes,
//! `findfs-label` against blkid, mountables, availability (an unavailable
//! group is `vmcraft: error: available: ...` and exit status 1), `remount`, and
//! the host image calls against `qemu-img info`.

mod cli_support;

use cli_support::{run, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

#[test]
fn copies_devices_and_availability_print_as_guestfish() {
    if !require_root("attaching images") || !require_tool("blkid") {
        return;
    }
    let env = TestEnv::new("cli-disks");
    let a = env.path().join("a.img");
    let spec = format!("{}=fs:ext4:64M", a.display());
    let o = run(
        &env,
        &[
            "-N",
            &spec,
            "-m",
            "/dev/sda1",
            "write",
            "/src",
            "hello, world",
            ":",
            "copy-file-to-file",
            "/src",
            "/dst",
            "srcoffset:7",
            "size:5",
            ":",
            "cat",
            "/dst",
            ":",
            "copy-file-to-file",
            "/src",
            "/dst",
            "append:true",
            ":",
            "cat",
            "/dst",
            ":",
            "copy-device-to-file",
            "/dev/vda",
            "/mbr",
            "size:512",
            ":",
            "download",
            "/mbr",
            "mbr.bin",
            ":",
            "nr-devices",
            ":",
            "device-index",
            "/dev/vda",
            ":",
            "mountable-device",
            "/dev/vda1",
            ":",
            "mountable-subvolume",
            "btrfsvol:/dev/sda1/root",
            ":",
            "filesystem-available",
            "ext4",
            ":",
            "filesystem-available",
            "nosuchfs",
            ":",
            "feature-available",
            "xz blkdiscard",
            ":",
            "feature-available",
            "journal",
            ":",
            "list-disk-labels",
            ":",
            "list-md-devices",
            ":",
            "vfs-uuid",
            "/dev/sda1",
        ],
        "",
    );
    let out = o.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..10],
        [
            "world",
            "worldhello, world",
            "1",
            "0",
            "/dev/sda1",
            "root",
            "true",
            "false",
            "true",
            "false",
        ],
        "{out}"
    );
    // list-disk-labels and list-md-devices print nothing; then the UUID.
    assert_eq!(lines.len(), 11, "{out}");
    let uuid = lines[10];
    let mbr = env.path().join("mbr.bin");
    assert_eq!(
        std::fs::read(&mbr).unwrap(),
        std::fs::read(&a).unwrap()[..512]
    );
    // blkid is the oracle for the filesystem the copies worked in.
    let (start, _) = cli_support::partition_range(&a, 1);
    let fs = cli_support::extract_partition(&env, &a, 1);
    let blkid = tool(
        "blkid",
        &["-p", "-s", "UUID", "-o", "value", fs.to_str().unwrap()],
    );
    assert_eq!(blkid.trim(), uuid);
    assert!(start > 0);

    let o = run(
        &env,
        &[
            "-a",
            a.to_str().unwrap(),
            "run",
            ":",
            "findfs-uuid",
            uuid,
            ":",
            "available",
            "journal",
        ],
        "",
    );
    assert_eq!(o.stdout, "/dev/sda1\n");
    let err = o.failed();
    assert!(
        err.starts_with("vmcraft: error: available: journal: "),
        "{err}"
    );

    // Refusals: nothing changed (the read-only one is checked byte for byte;
    // the others mount the filesystem, which updates its superblock).
    let before = sha256(&a);
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            a.to_str().unwrap(),
            "run",
            ":",
            "zero-device",
            "/dev/sda",
        ],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: zero_device: /dev/sda: the drive was added read-only"
    );
    assert_eq!(sha256(&a), before);
    let o = run(
        &env,
        &[
            "-a",
            a.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "copy-file-to-device",
            "/src",
            "/dev/sda",
            "append:true",
        ],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: copy_file_to_device: /dev/sda: the append flag cannot be set for this call"
    );
    let o = run(
        &env,
        &[
            "-a",
            a.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "copy-file-to-file",
            "/src",
            "/x",
            "srcoffset:-1",
        ],
        "",
    );
    assert!(o.failed().contains("srcoffset is negative"), "{}", o.stderr);

    // zero-device: all zeroes, as cmp sees them.
    run(
        &env,
        &[
            "-a",
            a.to_str().unwrap(),
            "run",
            ":",
            "zero-device",
            "/dev/sda",
        ],
        "",
    )
    .ok();
    let st = std::process::Command::new("cmp")
        .args(["-s", "-n", &(64u64 << 20).to_string()])
        .arg(&a)
        .arg("/dev/zero")
        .status()
        .unwrap();
    assert!(st.success(), "zero-device left data");
}

#[test]
fn remount_and_zero_free_space() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("cli-remount");
    let a = env.path().join("a.img");
    let spec = format!("{}=fs:ext4:64M", a.display());
    let o = run(
        &env,
        &[
            "-N",
            &spec,
            "-m",
            "/dev/sda1",
            "write",
            "/a",
            "1",
            ":",
            "remount",
            "/",
            "rw:false",
            ":",
            "-write",
            "/b",
            "2",
            ":",
            "remount",
            "/",
            "rw:true",
            ":",
            "write",
            "/b",
            "2",
            ":",
            "zero-free-space",
            "/",
            ":",
            "ls",
            "/",
        ],
        "",
    );
    let out = o.ok();
    assert_eq!(out, "a\nb\nlost+found\n", "{}", o.stderr);
    assert!(
        o.stderr.contains("write: "),
        "the read-only write failed: {}",
        o.stderr
    );
    let o = run(
        &env,
        &["-a", a.to_str().unwrap(), "-m", "/dev/sda1", "remount", "/"],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: remount: /: parameter 'rw' must be specified"
    );
}

#[test]
fn host_images_print_as_guestfish_and_agree_with_qemu_img() {
    if !require_tool("qemu-img") {
        return;
    }
    let env = TestEnv::new("cli-diskimg");
    let o = run(
        &env,
        &[
            "disk-create",
            "base.qcow2",
            "qcow2",
            "33554432",
            "compat:1.1",
            "clustersize:65536",
            ":",
            "disk-create",
            "ov.qcow2",
            "qcow2",
            "-1",
            "backingfile:base.qcow2",
            "backingformat:qcow2",
            ":",
            "disk-create",
            "r.img",
            "raw",
            "1048576",
            ":",
            "disk-format",
            "base.qcow2",
            ":",
            "disk-virtual-size",
            "ov.qcow2",
            ":",
            "disk-has-backing-file",
            "ov.qcow2",
            ":",
            "disk-has-backing-file",
            "base.qcow2",
            ":",
            "disk-format",
            "r.img",
            ":",
            "disk-virtual-size",
            "r.img",
        ],
        "",
    );
    assert_eq!(o.ok(), "qcow2\n33554432\ntrue\nfalse\nraw\n1048576\n");
    let info: serde_json::Value = serde_json::from_str(&tool(
        "qemu-img",
        &[
            "info",
            "-U",
            "--output=json",
            env.path().join("ov.qcow2").to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(info["backing-filename"], "base.qcow2");
    assert_eq!(info["virtual-size"], 33554432);
    let o = run(
        &env,
        &[
            "disk-create",
            "bad.qcow2",
            "qcow2",
            "-1",
            "backingfile:base.qcow2",
        ],
        "",
    );
    assert!(
        o.failed()
            .starts_with("vmcraft: error: disk_create: base.qcow2: backingformat must be given"),
        "{}",
        o.stderr
    );
    assert!(!env.path().join("bad.qcow2").exists());
}

#[test]
fn mount_loop_through_the_binary() {
    if !require_root("mounting") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("cli-mountloop");
    let inner = env.path().join("inner.img");
    std::fs::File::create(&inner)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    tool(
        "mkfs.ext4",
        &["-F", "-q", "-L", "INNER", inner.to_str().unwrap()],
    );
    let spec = format!("{}=fs:ext4:64M", env.path().join("a.img").display());
    let o = run(
        &env,
        &[
            "-N",
            &spec,
            "-m",
            "/dev/sda1",
            "upload",
            "inner.img",
            "/disk.img",
            ":",
            "mkdir",
            "/mnt",
            ":",
            "mount-loop",
            "/disk.img",
            "/mnt",
            ":",
            "write",
            "/mnt/x",
            "hi",
            ":",
            "cat",
            "/mnt/x",
            ":",
            "ls",
            "/mnt",
            ":",
            "umount",
            "/mnt",
            ":",
            "ls",
            "/mnt",
            ":",
            "-mount-loop",
            "/nope",
            "/mnt",
        ],
        "",
    );
    assert_eq!(o.stdout, "hi\nlost+found\nx\n", "{}", o.stderr);
    assert!(
        o.stderr.starts_with("vmcraft: error: mount_loop: /nope: "),
        "{}",
        o.stderr
    );
}

#[test]
fn a_read_only_drive_is_a_fine_copy_source() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-copyro");
    let b = env.path().join("b.img");
    let mut data = b"abcdefgh".to_vec();
    data.resize(1 << 20, 0);
    std::fs::write(&b, &data).unwrap();
    let before = sha256(&b);
    let spec = format!("{}=fs:ext4:64M", env.path().join("a.img").display());
    let o = run(
        &env,
        &[
            "-N",
            &spec,
            "-m",
            "/dev/sda1",
            "add-drive-ro",
            "b.img",
            ":",
            "copy-device-to-file",
            "/dev/sdb",
            "/copy",
            "size:4",
            ":",
            "cat",
            "/copy",
            ":",
            "-copy-file-to-device",
            "/copy",
            "/dev/sdb",
        ],
        "",
    );
    assert_eq!(o.stdout, "abcd\n", "{}", o.stderr);
    assert_eq!(
        o.stderr.trim_end(),
        "vmcraft: error: copy_file_to_device: /dev/sdb: the drive was added read-only"
    );
    assert_eq!(sha256(&b), before);
}
