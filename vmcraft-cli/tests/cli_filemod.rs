//! The file-manipulation commands through the binary, in guestfish's syntax and
//! output layout: links, renames, special files, fills, positional reads and
//! writes (buffers written raw, counts as decimals), offsets and base64 through
//! `-`, checksums, `find0`, `readdir` and xattr struct lists, globs, temporary
//! names, cpio; what they made checked afterwards with debugfs and GNU cpio; bad
//! arguments fail with `vmcraft: error: CALL: ...` and status 1.

mod cli_support;

use cli_support::{command, e2fsck_clean, extract_partition, run, script, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// An image holding one ext4 partition (guestfish's `-N fs:ext4`).
fn prepared(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let img = env.path().join(name);
    let spec = format!("{}=fs:ext4:32M", img.display());
    run(
        env,
        &["-N", &spec, "-m", "/dev/sda1", "write", "/a", "hello\n"],
        "",
    )
    .ok();
    img
}

#[test]
fn file_manipulation_script_prints_as_guestfish() {
    if !require_root("attaching images") || !require_tool("debugfs") || !require_tool("e2fsck") {
        return;
    }
    let env = TestEnv::new("cli-filemod");
    let img = prepared(&env, "fm.img");
    let raw = env.path().join("raw.img");
    std::fs::write(&raw, vec![0u8; 1 << 20]).unwrap();
    let host = env.path().join("up.bin");
    std::fs::write(&host, b"UP").unwrap();
    let b64 = env.path().join("in.b64");
    std::fs::write(&b64, b"aW4gYmFzZTY0Cg==\n").unwrap();
    let text = r#"run
mount /dev/sda1 /
ln /a /hard
ln-f /a /hard
ln-sf /a /soft
readlink /soft
rename /hard /renamed
mkfifo 0644 /fifo
mknod-c 0600 1 3 /null
mknod-b 0640 8 1 /blk
mknod 010600 0 0 /fifo2
fill 65 5 /fill
cat /fill
fill-pattern ab 5 /pat
cat /pat
write /t "truncate me"
truncate-size /t 3
cat /t
truncate /t
utimens /t 10 0 20 0
mkdir /d
fill-dir /d 2
ls /d
glob-expand /d/*
glob-expand /d* directoryslash:false
glob-expand-opts /nothing*
pread /a 3 1
echo
pwrite /a HE 0
pread /a 100 0
pwrite-device /dev/sdb hello 4096
pread-device /dev/sdb 5 4096
echo
download-offset /a - 1 3
echo
upload-offset up.bin /a 2
cat /a
base64-out /a -
base64-in in.b64 /b
cat /b
setxattr user.k value 5 /a
setxattr user.bin "a\x01" 2 /a
getxattr /a user.k
echo
getxattrs /a
lxattrlist / "a fill nope"
removexattr user.bin /a
lgetxattrs /soft
cp-r /d /e
ls /e
cpio-out /d d.cpio
compress-out gzip /b b.gz level:9
compress-device-out xz /dev/sdb sdb.xz
checksums-out md5 /e sums.txt
umount /
"#;
    let o = script(
        &env,
        &["-a", img.to_str().unwrap(), "-a", raw.to_str().unwrap()],
        text,
    );
    let expected = "/a\n\
        AAAAA\n\
        ababa\n\
        tru\n\
        00000000\n00000001\n\
        /d/00000000\n/d/00000001\n\
        /d\n\
        ell\n\
        2\n\
        HEllo\n\
        5\n\
        hello\n\
        Ell\n\
        HEUPo\n\n\
        SEVVUG8K\n\
        in base64\n\n\
        value\n\
        [0] = {\n  attrname: user.bin\n  attrval: a\\x01\n}\n\
        [1] = {\n  attrname: user.k\n  attrval: value\n}\n\
        [0] = {\n  attrname: \n  attrval: 2\n}\n\
        [1] = {\n  attrname: user.bin\n  attrval: a\\x01\n}\n\
        [2] = {\n  attrname: user.k\n  attrval: value\n}\n\
        [3] = {\n  attrname: \n  attrval: 0\n}\n\
        [4] = {\n  attrname: \n  attrval: \n}\n\
        00000000\n00000001\n";
    assert_eq!(o.ok(), expected);
    // cpio: GNU cpio lists what cpio-out packed.
    let listing = tool(
        "sh",
        &[
            "-c",
            &format!(
                "cpio -i -t --quiet < {}",
                env.path().join("d.cpio").display()
            ),
        ],
    );
    let mut names: Vec<&str> = listing.lines().collect();
    names.sort();
    assert_eq!(names, [".", "./00000000", "./00000001"]);
    let sums = std::fs::read_to_string(env.path().join("sums.txt")).unwrap();
    let mut lines: Vec<&str> = sums.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "d41d8cd98f00b204e9800998ecf8427e  ./00000000",
            "d41d8cd98f00b204e9800998ecf8427e  ./00000001"
        ]
    );
    assert_eq!(&std::fs::read(&raw).unwrap()[4096..4101], b"hello");
    let gz = env.path().join("b.gz");
    assert_eq!(tool("gzip", &["-dc", gz.to_str().unwrap()]), "in base64\n");
    let xz = env.path().join("sdb.xz");
    let sum = tool(
        "sh",
        &["-c", &format!("xz -dc {} | sha256sum", xz.display())],
    );
    let img_sum = tool("sha256sum", &[raw.to_str().unwrap()]);
    assert_eq!(sum.split(' ').next(), img_sum.split(' ').next());

    // debugfs on the filesystem sees what the commands made.
    let fs = extract_partition(&env, &img, 1);
    e2fsck_clean(&fs);
    let p = fs.to_str().unwrap();
    let stat = |path: &str| tool("debugfs", &["-R", &format!("stat {path}"), p]);
    assert!(stat("/a").contains("Links: 2"), "{}", stat("/a"));
    assert!(stat("/fifo").contains("Type: FIFO") && stat("/fifo").contains("Mode:  0644"));
    assert!(stat("/fifo2").contains("Type: FIFO") && stat("/fifo2").contains("Mode:  0600"));
    let null = stat("/null");
    assert!(
        null.contains("Type: character special")
            && null.contains("Device major/minor number: 01:03"),
        "{null}"
    );
    let blk = stat("/blk");
    assert!(
        blk.contains("Type: block special")
            && blk.contains("Mode:  0640")
            && blk.contains("major/minor number: 08:01"),
        "{blk}"
    );
    let t = stat("/t");
    assert!(
        t.contains("Size: 0") && t.contains("mtime: 0x00000014") && t.contains("atime: 0x0000000a"),
        "{t}"
    );
}

#[test]
fn readdir_mkdtemp_mktemp_find0_through_the_binary() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-filemod-list");
    let img = prepared(&env, "l.img");
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "mkdir",
            "/d",
            ":",
            "touch",
            "/d/f",
            ":",
            "mkfifo",
            "0600",
            "/d/p",
            ":",
            "readdir",
            "/d",
            ":",
            "mkdtemp",
            "/d/tmpXXXXXX",
            ":",
            "mktemp",
            "/d/fXXXXXX",
            "suffix:.txt",
        ],
        "",
    );
    let out = o.ok().to_string();
    // readdir: one struct per entry, fields ino, ftyp, name; the inode numbers
    // those debugfs gives.
    let mut entries = Vec::new();
    let mut lines = out.lines();
    let mut rest = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('[') && l.ends_with("] = {") {
            let ino = lines
                .next()
                .unwrap()
                .strip_prefix("  ino: ")
                .unwrap()
                .to_string();
            let ftyp = lines
                .next()
                .unwrap()
                .strip_prefix("  ftyp: ")
                .unwrap()
                .to_string();
            let name = lines
                .next()
                .unwrap()
                .strip_prefix("  name: ")
                .unwrap()
                .to_string();
            assert_eq!(lines.next(), Some("}"));
            entries.push((name, ftyp, ino));
        } else {
            rest.push(l.to_string());
        }
    }
    entries.sort();
    let names: Vec<(&str, &str)> = entries
        .iter()
        .map(|(n, t, _)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(names, [(".", "d"), ("..", "d"), ("f", "r"), ("p", "f")]);
    assert_eq!(rest.len(), 2, "{out}");
    assert!(
        rest[0].starts_with("/d/tmp") && rest[0].len() == 12,
        "{out}"
    );
    assert!(
        rest[1].starts_with("/d/f") && rest[1].ends_with(".txt") && rest[1].len() == 14,
        "{out}"
    );

    let fs = extract_partition(&env, &img, 1);
    let listing = tool("debugfs", &["-R", "ls -l /d", fs.to_str().unwrap()]);
    for (name, _, ino) in &entries {
        assert!(
            listing.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.first() == Some(&ino.as_str()) && w.last() == Some(&name.as_str())
            }),
            "{name} {ino}: {listing}"
        );
    }
    let tmp = tool(
        "debugfs",
        &["-R", &format!("stat {}", rest[0]), fs.to_str().unwrap()],
    );
    assert!(
        tmp.contains("Type: directory") && tmp.contains("Mode:  0700"),
        "{tmp}"
    );
    let f = tool(
        "debugfs",
        &["-R", &format!("stat {}", rest[1]), fs.to_str().unwrap()],
    );
    assert!(
        f.contains("Type: regular") && f.contains("Mode:  0600"),
        "{f}"
    );

    // find0 to standard output: NUL-terminated names, as find names them.
    let out = command(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "find0",
            "/d",
            "-",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    assert_eq!(names.pop(), Some(&b""[..]));
    names.sort();
    let mut want: Vec<Vec<u8>> = vec![
        b"/f".to_vec(),
        b"/p".to_vec(),
        rest[0].as_bytes()[2..].to_vec(),
        rest[1].as_bytes()[2..].to_vec(),
    ];
    want.sort();
    assert_eq!(names, want.iter().map(Vec::as_slice).collect::<Vec<_>>());
}

#[test]
fn bad_arguments_fail_with_the_call_named_and_change_nothing() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-filemod-bad");
    let img = prepared(&env, "b.img");
    let cases: &[(&[&str], &str)] = &[
        (
            &["pread", "/a", "4194304", "0"],
            "vmcraft: error: pread: /a: count is too large for the protocol",
        ),
        (
            &["pread", "/a", "-1", "0"],
            "vmcraft: error: pread: /a: count is negative",
        ),
        (
            &["pwrite", "/a", "x", "-1"],
            "vmcraft: error: pwrite: /a: offset is negative",
        ),
        (
            &["pwrite", "/missing", "x", "0"],
            "vmcraft: error: pwrite: /missing",
        ),
        (
            &["mkfifo", "010644", "/f"],
            "vmcraft: error: mkfifo: /f: 10644: mode must specify only file permission bits",
        ),
        (
            &["mknod", "040755", "0", "0", "/f"],
            "vmcraft: error: mknod: /f: 40755: mode must be a file type",
        ),
        (
            &["fill", "256", "1", "/f"],
            "vmcraft: error: fill: /f: 256: byte number must be in range 0..255",
        ),
        (
            &["fill-pattern", "", "1", "/f"],
            "vmcraft: error: fill_pattern: /f: pattern string must be non-empty",
        ),
        (
            &["truncate-size", "/a", "-5"],
            "vmcraft: error: truncate_size: /a: size is negative",
        ),
        (
            &["utimens", "/a", "0", "1000000000", "0", "0"],
            "vmcraft: error: utimens: /a: atnsecs 1000000000 is out of range",
        ),
        (
            &["mkdtemp", "/tmpXXXXX"],
            "vmcraft: error: mkdtemp: /tmpXXXXX: template must end in XXXXXX",
        ),
        (
            &["cpio-out", "/", "x.cpio", "format:odc"],
            "vmcraft: error: cpio_out: odc: format must be 'newc' or 'crc'",
        ),
        (
            &["cpio-out", "/a", "x.cpio"],
            "vmcraft: error: cpio_out: /a: not a directory",
        ),
        (
            &["checksums-out", "sha3", "/", "s.txt"],
            "vmcraft: error: checksums_out: sha3: unknown checksum type",
        ),
        (
            &["setxattr", "user.k", "ab", "3", "/a"],
            "vmcraft: error: setxattr: /a: vallen 3 is not within the value's 2 bytes",
        ),
        (
            &["download-offset", "/a", "x.out", "3", "10"],
            "vmcraft: error: download_offset: /a: offset 3 + size 10 is past the end (6 bytes)",
        ),
        (
            &["pwrite-device", "/dev/sdz", "x", "0"],
            "vmcraft: error: pwrite_device: /dev/sdz",
        ),
        (
            &["compress-out", "zstd", "/a", "x.z"],
            "vmcraft: error: compress_out: zstd: unknown compression type",
        ),
        (
            &["compress-out", "gzip", "/a", "x.z", "level:10"],
            "vmcraft: error: compress_out: gzip: gzip: incorrect value for level parameter",
        ),
        (
            &["glob-expand", "rel/*"],
            "vmcraft: error: glob_expand: rel/*: path must start with a / character",
        ),
    ];
    for (args, want) in cases {
        let mut a = vec!["-a", img.to_str().unwrap(), "-m", "/dev/sda1"];
        a.extend_from_slice(args);
        let o = run(&env, &a, "");
        let err = o.failed();
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(!env.path().join("x.z").exists());
    assert!(
        !env.path().join("x.out").exists(),
        "a refused download made no host file"
    );
    // A read-only drive refuses device writes before anything is done.
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            img.to_str().unwrap(),
            "pwrite-device",
            "/dev/sda",
            "x",
            "0",
        ],
        "",
    );
    assert!(o.failed().contains("read-only"), "{}", o.stderr);
    // Nothing the refusals could have changed did change: the file is as it was.
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "cat",
            "/a",
            ":",
            "exists",
            "/f",
        ],
        "",
    );
    assert_eq!(o.ok(), "hello\n\nfalse\n");
}

#[test]
fn base64_in_and_upload_offset_read_standard_input() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-filemod-stdin");
    let img = prepared(&env, "s.img");
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "base64-in",
            "-",
            "/s",
            ":",
            "cat",
            "/s",
        ],
        "aGkgdGhlcmUK\n",
    );
    assert_eq!(o.ok(), "hi there\n\n");
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "upload-offset",
            "-",
            "/a",
            "1",
            ":",
            "cat",
            "/a",
        ],
        "EY",
    );
    assert_eq!(o.ok(), "hEYlo\n\n");
    // Bad base64 from standard input is refused too.
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "base64-in",
            "-",
            "/t",
        ],
        "QUJDR",
    );
    assert!(
        o.failed().contains("vmcraft: error: base64_in"),
        "{}",
        o.stderr
    );
}
