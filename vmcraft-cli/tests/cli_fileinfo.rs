//! The file information and search commands through the binary, in guestfish's
//! syntax and layout: a read-only ext4 image made by `mkfs.ext4 -d` from a host
//! directory, each command's output compared with the GNU tool run on the host
//! copy of the same file (head, tail, wc, grep, zgrep, strings, hexdump, file),
//! structs and booleans in guestfish's layout, optional arguments as
//! `name:value`; bad arguments fail with `vmcraft: error: CALL: ...`, exit status
//! 1, and the image is unchanged.

mod cli_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use cli_support::{image, script, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// A tool's stdout (whatever its exit status), the C locale.
fn out(argv: &[&str]) -> String {
    let o = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// How guestfish prints a string: the string and a newline.
fn string(s: &str) -> String {
    format!("{s}\n")
}

/// How guestfish prints a list of strings, from a tool's output split as
/// libguestfs splits it (a final newline ends the last line).
fn list(tool_out: &str) -> String {
    if tool_out.is_empty() {
        return String::new();
    }
    let s = tool_out.strip_suffix('\n').unwrap_or(tool_out);
    s.split('\n').map(|l| format!("{l}\n")).collect()
}

fn text() -> String {
    let mut t = String::new();
    for i in 0..25 {
        t.push_str(&format!(
            "{i}: {} word{} x.y\n",
            if i % 4 == 0 { "ERROR disk" } else { "info net" },
            i * 3
        ));
    }
    t.push_str("last line, no newline");
    t
}

/// The host directory the image is made from: text, binary, gzip, zeros, a
/// symlink, a FIFO, a subdirectory.
fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("t/Sub")).unwrap();
    std::fs::write(dir.join("t/text"), text()).unwrap();
    let mut bin: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    bin.extend_from_slice(b"\0hello strings\0");
    for c in "wide text".encode_utf16() {
        bin.extend_from_slice(&c.to_le_bytes());
    }
    bin.extend_from_slice(&[0, 0]);
    std::fs::write(dir.join("t/bin"), &bin).unwrap();
    std::fs::write(dir.join("t/small"), b"0123456789abcdefXYZ\n\x00\x01\xff").unwrap();
    std::fs::write(dir.join("t/zeros"), vec![0u8; 5000]).unwrap();
    std::fs::write(dir.join("t/Sub/File.TXT"), b"x").unwrap();
    std::os::unix::fs::symlink("text", dir.join("t/link")).unwrap();
    std::fs::copy("/bin/ls", dir.join("t/ls")).unwrap();
    let t = dir.join("t");
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c < {0}/text > {0}/log.gz && mkfifo {0}/fifo && ln -s fifo {0}/to-fifo",
            t.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn fileinfo_commands_print_what_guestfish_prints() {
    if !require_root("attaching images")
        || !require_tool("mkfs.ext4")
        || !require_tool("strings")
        || !require_tool("hexdump")
        || !require_tool("file")
        || !require_tool("zgrep")
    {
        return;
    }
    let env = TestEnv::new("cli-fileinfo");
    let src = env.path().join("src");
    tree(&src);
    let img = image(&env, "fs.img", 64 << 20);
    tool(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            src.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
    );
    let before = sha256(&img);
    let h = |name: &str| src.join("t").join(name).to_str().unwrap().to_string();
    let (text_p, bin_p, small_p, gz_p) = (h("text"), h("bin"), h("small"), h("log.gz"));

    // Each command, and what guestfish prints for it (from the host tools).
    let cases: Vec<(String, String)> = vec![
        ("filesize /t/text".into(), string(&text().len().to_string())),
        (
            "file /t/text".into(),
            string(out(&["file", "-zb", &text_p]).trim_end()),
        ),
        (
            "file /t/log.gz".into(),
            string(out(&["file", "-zb", &gz_p]).trim_end()),
        ),
        ("file /t".into(), string("directory")),
        (
            "file-architecture /t/ls".into(),
            string(match std::env::consts::ARCH {
                "x86" => "i386",
                a => a,
            }),
        ),
        ("file /t/fifo".into(), string("FIFO")),
        ("file /t/link".into(), string("symbolic link")),
        ("head /t/text".into(), list(&out(&["head", &text_p]))),
        (
            "head-n 3 /t/text".into(),
            list(&out(&["head", "-n", "3", &text_p])),
        ),
        (
            "head-n -22 /t/text".into(),
            list(&out(&["head", "-n", "-22", &text_p])),
        ),
        ("head-n 0 /t/text".into(), String::new()),
        ("tail /t/text".into(), list(&out(&["tail", &text_p]))),
        (
            "tail-n 2 /t/link".into(),
            list(&out(&["tail", "-n", "2", &text_p])),
        ),
        (
            "tail-n -24 /t/text".into(),
            list(&out(&["tail", "-n", "+24", &text_p])),
        ),
        (
            "wc-l /t/text".into(),
            list(&out(&["sh", "-c", &format!("wc -l < {text_p}")])),
        ),
        (
            "wc-w /t/text".into(),
            list(&out(&["sh", "-c", &format!("wc -w < {text_p}")])),
        ),
        (
            "wc-c /t/bin".into(),
            list(&out(&["sh", "-c", &format!("wc -c < {bin_p}")])),
        ),
        (
            "grep ERROR /t/text".into(),
            list(&out(&["grep", "ERROR", &text_p])),
        ),
        (
            "grep 'error|INFO' /t/text extended:true insensitive:true".into(),
            list(&out(&["grep", "-Ei", "error|INFO", &text_p])),
        ),
        (
            "grep-opts x.y /t/text fixed:true".into(),
            list(&out(&["grep", "-F", "x.y", &text_p])),
        ),
        ("grep nothing-here /t/text".into(), String::new()),
        (
            "egrep 'word(3|30)$' /t/text".into(),
            list(&out(&["grep", "-E", "word(3|30)$", &text_p])),
        ),
        (
            "fgrep 'x.y' /t/text".into(),
            list(&out(&["grep", "-F", "x.y", &text_p])),
        ),
        (
            "grepi 'NET word1' /t/text".into(),
            list(&out(&["grep", "-i", "NET word1", &text_p])),
        ),
        (
            "egrepi '^1[0-9]: INFO' /t/text".into(),
            list(&out(&["grep", "-Ei", "^1[0-9]: INFO", &text_p])),
        ),
        (
            "fgrepi 'DISK W' /t/text".into(),
            list(&out(&["grep", "-Fi", "DISK W", &text_p])),
        ),
        (
            "zgrep 'word1.' /t/log.gz".into(),
            list(&out(&["zgrep", "word1.", &gz_p])),
        ),
        (
            "zegrep 'word(6|9)$' /t/log.gz".into(),
            list(&out(&["zgrep", "-E", "word(6|9)$", &gz_p])),
        ),
        (
            "zfgrep 'x.y' /t/log.gz".into(),
            list(&out(&["zgrep", "-F", "x.y", &gz_p])),
        ),
        (
            "zgrepi 'error' /t/log.gz".into(),
            list(&out(&["zgrep", "-i", "error", &gz_p])),
        ),
        (
            "zegrepi 'ERROR|word2$' /t/log.gz".into(),
            list(&out(&["zgrep", "-Ei", "ERROR|word2$", &gz_p])),
        ),
        (
            "zfgrepi 'NO NEWLINE' /t/log.gz".into(),
            list(&out(&["zgrep", "-Fi", "NO NEWLINE", &gz_p])),
        ),
        (
            "grep word /t/log.gz compressed:true fixed:true".into(),
            list(&out(&["zgrep", "-F", "word", &gz_p])),
        ),
        (
            "strings /t/bin".into(),
            list(&out(&["strings", "-a", &bin_p])),
        ),
        (
            "strings-e l /t/bin".into(),
            list(&out(&["strings", "-a", "-e", "l", &bin_p])),
        ),
        (
            "hexdump /t/small".into(),
            string(&out(&["hexdump", "-C", &small_p])),
        ),
        ("is-zero /t/zeros".into(), string("true")),
        ("is-zero /t/small".into(), string("false")),
        ("is-fifo /t/fifo".into(), string("true")),
        ("is-fifo /t/to-fifo".into(), string("false")),
        (
            "is-fifo /t/to-fifo followsymlinks:true".into(),
            string("true"),
        ),
        ("is-chardev /t/fifo".into(), string("false")),
        ("is-blockdev /t/fifo".into(), string("false")),
        ("is-socket /nothing".into(), string("false")),
        ("is-zero-device /dev/sda".into(), string("false")),
        ("is-whole-device /dev/sda".into(), string("true")),
        ("is-whole-device /dev/vda".into(), string("true")),
        ("is-lv /dev/sda".into(), string("false")),
        ("realpath /t/Sub/../link".into(), string("/t/text")),
        (
            "case-sensitive-path /T/sub/file.txt".into(),
            string("/t/Sub/File.TXT"),
        ),
        (
            "case-sensitive-path /t/SUB/new".into(),
            string("/t/Sub/new"),
        ),
    ];
    let mut text_script = String::new();
    for (cmd, _) in &cases {
        text_script.push_str(cmd);
        text_script.push_str("\necho @@\n");
    }
    let o = script(
        &env,
        &["--ro", "-a", img.to_str().unwrap(), "-m", "/dev/sda"],
        &text_script,
    );
    let stdout = o.ok();
    let got: Vec<&str> = stdout.split("@@\n").collect();
    assert_eq!(got.len(), cases.len() + 1, "{stdout}");
    for ((cmd, want), got) in cases.iter().zip(&got) {
        assert_eq!(got, want, "{cmd}");
    }

    // Structs, lists of structs, listings, sizes.
    let md = std::fs::metadata(src.join("t/text")).unwrap();
    let o = script(
        &env,
        &["--ro", "-a", img.to_str().unwrap(), "-m", "/dev/sda"],
        "statns /t/link\necho @@\nlstatnslist /t \"text nope\"\necho @@\nlstatlist /t \"link\"\n\
         echo @@\nll /t\necho @@\nllz /t/Sub\necho @@\ndu /t/zeros\necho @@\ndf\necho @@\ndf-h\necho @@\nlstatns /t/zeros\n",
    );
    let stdout = o.ok();
    let parts: Vec<&str> = stdout.split("@@\n").collect();
    assert_eq!(parts.len(), 9, "{stdout}");
    let fields: Vec<&str> = parts[0].lines().collect();
    let names: Vec<&str> = fields
        .iter()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "st_dev",
            "st_ino",
            "st_mode",
            "st_nlink",
            "st_uid",
            "st_gid",
            "st_rdev",
            "st_size",
            "st_blksize",
            "st_blocks",
            "st_atime_sec",
            "st_atime_nsec",
            "st_mtime_sec",
            "st_mtime_nsec",
            "st_ctime_sec",
            "st_ctime_nsec",
            "st_spare1",
            "st_spare2",
            "st_spare3",
            "st_spare4",
            "st_spare5",
            "st_spare6"
        ]
    );
    assert!(
        fields.contains(&format!("st_size: {}", md.len()).as_str()),
        "{}",
        parts[0]
    );
    assert!(
        fields.contains(&format!("st_mode: {}", md.mode()).as_str()),
        "{}",
        parts[0]
    );
    assert!(
        fields.contains(&format!("st_mtime_sec: {}", md.mtime()).as_str()),
        "{}",
        parts[0]
    );
    let list_out = parts[1];
    assert!(list_out.starts_with("[0] = {\n  st_dev: "), "{list_out}");
    assert!(
        list_out.contains("}\n[1] = {\n  st_dev: 0\n  st_ino: -1\n"),
        "{list_out}"
    );
    assert!(
        list_out.contains(&format!("  st_size: {}\n", md.len())),
        "{list_out}"
    );
    assert!(
        parts[2].starts_with("[0] = {\n  dev: ") && parts[2].contains("\n  size: 4\n"),
        "{}",
        parts[2]
    );
    // ll: ls -la's layout, then the blank line guestfish prints after a string
    // that ends with a newline.
    let ll = parts[3];
    assert!(ll.starts_with("total "), "{ll}");
    assert!(ll.ends_with("\n\n"), "{ll}");
    assert!(
        ll.contains(" link -> text\n") && ll.contains(" Sub\n") && ll.contains("\np"),
        "{ll}"
    );
    assert!(
        parts[4].contains(" File.TXT\n") && parts[4].contains('?'),
        "{}",
        parts[4]
    );
    // du: the blocks the file holds, in KiB.
    let blocks: i64 = parts[8]
        .lines()
        .find_map(|l| l.strip_prefix("st_blocks: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(parts[5], format!("{}\n", blocks / 2), "du");
    let df: Vec<&str> = parts[6].lines().collect();
    assert!(
        df[0].starts_with("Filesystem") && df[0].ends_with("Mounted on"),
        "{}",
        parts[6]
    );
    assert!(
        df[1].starts_with("/dev/sda ") && df[1].ends_with(" /sysroot"),
        "{}",
        parts[6]
    );
    assert!(
        parts[7].lines().nth(1).unwrap().contains('M'),
        "{}",
        parts[7]
    );

    // Bad arguments: an error naming the call, exit status 1, nothing changed.
    for (cmd, call, what) in [
        ("head-n x /t/text", "head-n", "not an integer"),
        (
            "grep a /t/text extended:true fixed:true",
            "grep",
            "'extended' and 'fixed'",
        ),
        ("strings-e q /t/text", "strings_e", "invalid encoding"),
        ("head /t/fifo", "head", "not a regular file"),
        ("wc-l t/text", "wc_l", "must start with a /"),
        ("ll /t/text", "ll", "not a directory"),
        (
            "is-fifo /t/fifo followsymlinks:maybe",
            "is-fifo",
            "not a boolean",
        ),
        (
            "is-zero-device /dev/sdb",
            "is_zero_device",
            "no such device",
        ),
        (
            "case-sensitive-path /t/../x",
            "case_sensitive_path",
            "\"..\"",
        ),
        ("realpath /nope", "realpath", "/nope"),
        (
            "file-architecture /t/text",
            "file_architecture",
            "unknown architecture",
        ),
    ] {
        let o = script(
            &env,
            &["--ro", "-a", img.to_str().unwrap(), "-m", "/dev/sda"],
            &format!("{cmd}\n"),
        );
        o.failed();
        assert!(
            o.stderr.contains("vmcraft: error: ")
                && o.stderr.contains(call)
                && o.stderr.contains(what),
            "{cmd}: {}",
            o.stderr
        );
    }
    assert_eq!(
        sha256(&img),
        before,
        "a read-only session changed the image"
    );
}
