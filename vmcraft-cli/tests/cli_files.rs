//! Filesystems and guest files through the binary: a guestfish mkfs / mount /
//! write / cat script run unchanged, each file command's output in guestfish's
//! layout (strings, booleans, lists, structs), the result checked with e2fsck and
//! debugfs; upload and download through `-`; `-m` and `-N` mounting.

mod cli_support;

use cli_support::{
    command, debugfs_cat, e2fsck_clean, extract_partition, image, run, script, tool,
};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

#[test]
fn mkfs_mount_write_cat_script() {
    if !require_root("attaching images") || !require_tool("debugfs") || !require_tool("e2fsck") {
        return;
    }
    let env = TestEnv::new("cli-fs");
    let img = image(&env, "fs.img", 64 << 20);
    let text = r#"run
part-disk /dev/sda mbr
mkfs ext4 /dev/sda1 label:data
mount /dev/sda1 /
mkdir-p /etc/app
write /etc/app/conf "key=value\n"
write-append /etc/app/conf "more=1\n"
cat /etc/app/conf
read-lines /etc/app/conf
exists /etc/app/conf
exists /nothing
is-dir /etc/app
is-file /etc/app
ls /etc
ln-s app/conf /etc/link
readlink /etc/link
is-symlink /etc/link
chmod 0600 /etc/app/conf
cp /etc/app/conf /etc/copy
mv /etc/copy /etc/moved
find /etc
checksum md5 /etc/moved
checksum sha256 /etc/moved
vfs-type /dev/sda1
vfs-label /dev/sda1
mounts
mountpoints
touch /empty
rm /empty
mkdir-mode /private 0700
list-filesystems
umount /
mounts
"#;
    let o = script(&env, &["-a", img.to_str().unwrap()], text);
    let content = "key=value\nmore=1\n";
    let md5 = tool("sh", &["-c", &format!("printf '{content}' | md5sum")]);
    let sha = tool("sh", &["-c", &format!("printf '{content}' | sha256sum")]);
    let expected = format!(
        "key=value\nmore=1\n\n\
         key=value\nmore=1\n\
         true\nfalse\ntrue\nfalse\n\
         app\n\
         app/conf\ntrue\n\
         /app\n/app/conf\n/link\n/moved\n\
         {}\n{}\n\
         ext4\ndata\n\
         /dev/sda1\n/dev/sda1: /\n\
         /dev/sda1: ext4\n",
        md5.split_whitespace().next().unwrap(),
        sha.split_whitespace().next().unwrap(),
    );
    assert_eq!(o.ok(), expected);

    let fs = extract_partition(&env, &img, 1);
    e2fsck_clean(&fs);
    assert_eq!(debugfs_cat(&fs, "/etc/app/conf"), content);
    assert_eq!(debugfs_cat(&fs, "/etc/moved"), content);
    let stat = tool(
        "debugfs",
        &["-R", "stat /etc/app/conf", fs.to_str().unwrap()],
    );
    assert!(stat.contains("Mode:  0600"), "{stat}");
    let stat = tool("debugfs", &["-R", "stat /private", fs.to_str().unwrap()]);
    assert!(stat.contains("Mode:  0700"), "{stat}");
}

#[test]
fn structs_print_field_per_line() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-structs");
    let img = env.path().join("s.img");
    let o = run(
        &env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "write",
            "/f",
            "12345",
            ":",
            "chown",
            "1000",
            "100",
            "/f",
            ":",
            "lstat",
            "/f",
            ":",
            "statvfs",
            "/",
        ],
        "",
    );
    let out = o.ok();
    let lines: Vec<&str> = out.lines().collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks",
            "atime", "mtime", "ctime", "bsize", "frsize", "blocks", "bfree", "bavail", "files",
            "ffree", "favail", "fsid", "flag", "namemax"
        ]
    );
    assert!(lines.contains(&"size: 5"), "{out}");
    assert!(lines.contains(&"uid: 1000"), "{out}");
    assert!(lines.contains(&"gid: 100"), "{out}");
    assert!(lines.contains(&"mode: 33188"), "{out}"); // 0100644
    assert!(lines.contains(&"namemax: 255"), "{out}");
}

#[test]
fn upload_and_download_through_standard_streams() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-updown");
    let img = env.path().join("u.img");
    let spec = format!("{}=fs:ext4:32M", img.display());
    let host = env.path().join("host.bin");
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&host, &data).unwrap();
    let o = run(
        &env,
        &[
            "-N",
            &spec,
            "-m",
            "/dev/sda1",
            "upload",
            host.to_str().unwrap(),
            "/a.bin",
            ":",
            "upload",
            "-",
            "/b.txt",
            ":",
            "download",
            "/a.bin",
            "out.bin",
            ":",
            "cat",
            "/b.txt",
        ],
        "from stdin\n",
    );
    assert_eq!(o.ok(), "from stdin\n\n");
    assert_eq!(std::fs::read(env.path().join("out.bin")).unwrap(), data);
    // download to standard output, byte for byte (read-file too).
    let out = command(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "download",
            "/a.bin",
            "-",
            ":",
            "read-file",
            "/a.bin",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 2 * data.len());
    assert_eq!(&out.stdout[..data.len()], &data[..]);
    assert_eq!(&out.stdout[data.len()..], &data[..]);
    cli_support::assert_no_session_left(&env);
}

#[test]
fn mount_options_and_read_only_mounts() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-mountopts");
    let img = env.path().join("m.img");
    run(
        &env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "write",
            "/x",
            "1",
        ],
        "",
    )
    .ok();
    let path = img.to_str().unwrap();
    // --ro: -m mounts read-only; writing fails and names the call.
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            path,
            "-m",
            "/dev/sda1",
            "cat",
            "/x",
            ":",
            "write",
            "/x",
            "2",
        ],
        "",
    );
    assert_eq!(o.stdout, "1\n");
    assert!(
        o.failed().starts_with("vmcraft: error: write: "),
        "{}",
        o.stderr
    );
    // A device that does not exist: the error, then the filesystems there are.
    let o = run(&env, &["-a", path, "-m", "/dev/sda7", "echo", "never"], "");
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.failed(),
        "vmcraft: error: mount_options: /dev/sda7: no such device\n\
         vmcraft: '/dev/sda7' could not be mounted. Did you mean one of these?\n\t/dev/sda1 (ext4)\n"
    );
    let o = run(
        &env,
        &[
            "-a",
            path,
            "-m",
            "/dev/sda1:/:ro,noatime",
            "write",
            "/y",
            "z",
        ],
        "",
    );
    assert!(
        o.failed().starts_with("vmcraft: error: write: "),
        "{}",
        o.stderr
    );
    let o = run(
        &env,
        &["-a", path, "-m", "/dev/sda1:/:suid", "echo", "never"],
        "",
    );
    assert!(o.failed().contains("'suid' is not allowed"), "{}", o.stderr);
    let o = run(
        &env,
        &[
            "-a",
            path,
            "run",
            ":",
            "mount-ro",
            "/dev/sda1",
            "/",
            ":",
            "cat",
            "/x",
            ":",
            "umount-all",
            ":",
            "mounts",
        ],
        "",
    );
    assert_eq!(o.ok(), "1\n");
}

#[test]
fn mount_all_parallel_and_session_queries() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-mountall");
    let img = env.path().join("br.img");
    run(
        &env,
        &[
            "-N",
            &format!("{}=bootroot:ext4:ext4:96M:32M", img.display()),
        ],
        "",
    )
    .ok();
    let path = img.to_str().unwrap();
    let o = run(
        &env,
        &[
            "-a",
            path,
            "is-launched",
            ":",
            "run",
            ":",
            "is-launched",
            ":",
            "mount",
            "/dev/sda2",
            "/",
            ":",
            "mkdir",
            "/boot",
            ":",
            "umount-all",
            ":",
            // A mount fails: the command fails after printing (`-` lets the
            // script go on, as in guestfish).
            "-mount-all-parallel",
            "/boot:/dev/sda1 /:/dev/sda2 /boot/x:/dev/sda9",
            "readonly:true",
            ":",
            "mountpoints",
            ":",
            "host-path",
            "/dev/sda1",
        ],
        "",
    );
    let out = o.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["false", "true"], "{out}");
    assert_eq!(lines[2], "/boot: /dev/sda1 (normal)", "{out}");
    assert_eq!(lines[3], "/: /dev/sda2 (normal)", "{out}");
    assert!(
        lines[4].starts_with(
            "/boot/x: /dev/sda9 not mounted: mount_all_parallel: /dev/sda9: no such device"
        ) || lines[4].starts_with("/boot/x: /dev/sda9 not mounted: "),
        "{out}"
    );
    assert_eq!(lines[5..7], ["/dev/sda2: /", "/dev/sda1: /boot"], "{out}");
    assert!(
        lines[7].starts_with("/dev/loop") && lines[7].ends_with("p1"),
        "{out}"
    );
    assert_eq!(
        o.stderr,
        "vmcraft: error: mount-all-parallel: 1 of 3 mounts failed\n"
    );
    // Without `-`, the failed mount ends the run with status 1, after the
    // results were printed; with every mount working it succeeds.
    let o = run(
        &env,
        &[
            "-a",
            path,
            "run",
            ":",
            "mount-all-parallel",
            "/:/dev/sda2 /boot/x:/dev/sda9",
            ":",
            "echo",
            "not reached",
        ],
        "",
    );
    assert_eq!(
        o.failed(),
        "vmcraft: error: mount-all-parallel: 1 of 2 mounts failed\n"
    );
    assert!(
        o.stdout.starts_with("/: /dev/sda2 (normal)\n"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("not reached"), "{}", o.stdout);
    let o = run(
        &env,
        &[
            "-a",
            path,
            "run",
            ":",
            "mount-all-parallel",
            "/:/dev/sda2",
            ":",
            "echo",
            "reached",
        ],
        "",
    );
    assert_eq!(o.ok(), "/: /dev/sda2 (normal)\nreached\n");
    let o = run(
        &env,
        &["-a", path, "run", ":", "mount-all-parallel", "/boot"],
        "",
    );
    assert_eq!(
        o.failed(),
        "vmcraft: error: mount_all_parallel: mounts: '/boot' is not MOUNTPOINT:DEVICE\n"
    );
}

#[test]
fn cat_prints_bytes_that_are_not_utf8_up_to_the_first_nul() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-cat-bytes");
    let img = env.path().join("fs.img");
    let host = env.path().join("bin.dat");
    std::fs::write(&host, b"\xff\xfeab\ncd\x00never").unwrap();
    let text = env.path().join("text.txt");
    std::fs::write(&text, "plain\n").unwrap();
    let o = command(
        &env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "upload",
            host.to_str().unwrap(),
            "/b",
            ":",
            "upload",
            text.to_str().unwrap(),
            "/t",
            ":",
            "cat",
            "/b",
            ":",
            "cat",
            "/t",
        ],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // guestfish's cat is a C string printed with a newline: the bytes as they
    // are, cut at the NUL; a text file as it is.
    assert_eq!(o.stdout, b"\xff\xfeab\ncd\nplain\n\n");
}
