//! The file information and search calls (`vmcraft::calls::fileinfo`) on a real
//! ext4 guest, each compared with the GNU tool run on the same bytes on the host
//! (head, tail, wc, grep, zgrep, strings, hexdump, file, du, ls, df): plus guest
//! symlinks that point out of the guest, FIFOs and device nodes, a 100 GiB
//! sparse file (streamed, bounded), and every bad argument refused.

use std::path::PathBuf;
use std::process::Command;

use vmcraft::calls::fileinfo::GrepOptions;
use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

/// Run a host tool, return its stdout (any exit status).
fn tool(argv: &[&str], env_c: bool) -> Vec<u8> {
    let mut c = Command::new(argv[0]);
    c.args(&argv[1..]);
    if env_c {
        c.env("LC_ALL", "C").env("TZ", "UTC");
    }
    c.output().unwrap().stdout
}

/// A tool's stdout as libguestfs splits it into lines.
fn lines(out: &[u8]) -> Vec<String> {
    // libguestfs's split_lines: nothing is no line; one final newline ends the
    // last line.
    let s = String::from_utf8_lossy(out).into_owned();
    if s.is_empty() {
        return Vec::new();
    }
    let s = s.strip_suffix('\n').unwrap_or(&s);
    s.split('\n').map(String::from).collect()
}

fn num(out: &[u8]) -> i64 {
    String::from_utf8_lossy(out)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

struct Guest {
    env: TestEnv,
    g: VMCraft,
    /// The guest tree on the host (where the test plants FIFOs and device nodes).
    root: PathBuf,
}

fn guest(label: &str) -> Guest {
    let env = TestEnv::new(label);
    let a = env.sparse_image("a.img", 256 << 20);
    let b = env.sparse_image("b.img", 16 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    let root = g.guest_root().unwrap().host_path().to_path_buf();
    Guest { env, g, root }
}

/// Text with short and long lines, tabs, blank lines, non-printable bytes and a
/// last line without a newline.
fn text() -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0..37 {
        t.extend_from_slice(
            format!(
                "line {i}\tword{} ERROR:{}  x\x01y \x7fz\n",
                i * 7,
                if i % 3 == 0 { "disk" } else { "Net" }
            )
            .as_bytes(),
        );
        if i % 5 == 0 {
            t.push(b'\n');
        }
    }
    t.extend_from_slice(b"Ends without newline: foo.bar");
    t
}

/// About 300 KiB of lines of every length from 0 to 200 bytes, one of 70 KiB
/// (longer than a block), no final newline.
fn big_text() -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0..3000u32 {
        let len = (i.wrapping_mul(7919) % 201) as usize;
        t.extend((0..len).map(|j| b'a' + ((i as usize + j) % 26) as u8));
        t.push(b'\n');
        if i == 1500 {
            t.extend(std::iter::repeat_n(b'L', 70 << 10));
            t.push(b'\n');
        }
    }
    t.extend_from_slice(b"end");
    t
}

/// Bytes with strings in every encoding strings(1) knows, between binary.
fn binary() -> Vec<u8> {
    let mut b: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    b.extend_from_slice(b"\0\0plain ascii string\0ab\0tab\there\0");
    b.extend_from_slice(&[0xe9, b'c', b'o', b'l', b'e', 0xe8, 0]);
    for c in "utf16 little".encode_utf16() {
        b.extend_from_slice(&c.to_le_bytes());
    }
    b.push(0x41);
    for c in "utf16 big end".encode_utf16() {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[0, 0, 0]);
    for c in "wide32le".chars() {
        b.extend_from_slice(&(c as u32).to_le_bytes());
    }
    for c in "wide32be".chars() {
        b.extend_from_slice(&(c as u32).to_be_bytes());
    }
    b.extend((0..2000u32).map(|i| (i.wrapping_mul(40503) >> 7) as u8));
    b.extend_from_slice(b"trailing");
    b
}

#[test]
fn fileinfo_calls_agree_with_the_gnu_tools() {
    if !require_root("mounting")
        || !require_tool("strings")
        || !require_tool("hexdump")
        || !require_tool("file")
        || !require_tool("zgrep")
    {
        return;
    }
    let Guest { env, g, root } = guest("fileinfo");
    let host = env.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("text", text()),
        ("bin", binary()),
        ("empty", Vec::new()),
        ("one", b"single line\n".to_vec()),
        ("nonl", b"no newline at all".to_vec()),
        ("blank", b"\n\n\n".to_vec()),
        ("big", big_text()),
    ];
    g.mkdir_p("/t/sub").unwrap();
    for (name, bytes) in &files {
        g.write(&format!("/t/{name}"), bytes).unwrap();
        std::fs::write(host.join(name), bytes).unwrap();
    }
    // A gzip file for zgrep.
    let gz = env.path().join("log.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c < {} > {}",
            host.join("text").display(),
            gz.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    g.upload(&gz, "/t/log.gz").unwrap();
    g.ln_s("text", "/t/link").unwrap();

    for (name, _) in &files {
        let gp = format!("/t/{name}");
        // tail reads backwards in 64 KiB blocks: counts around the boundaries.
        if *name == "big" {
            let hp = host.join(name);
            for n in [1i32, 2, 63, 64, 65, 1000, 4095, 4096, 4097, 9000] {
                let want = lines(&tool(
                    &["tail", "-n", &n.to_string(), hp.to_str().unwrap()],
                    true,
                ));
                assert_eq!(g.tail_n(n, &gp).unwrap(), want, "tail_n {n} big");
            }
        }
        let hp = host.join(name);
        let hp = hp.to_str().unwrap();
        // head/tail, with libguestfs's sign rules (tail -n +N for negative).
        for n in [0i32, 1, 3, 10, 100, -1, -3, -100] {
            let want = lines(&tool(&["head", "-n", &n.to_string(), hp], true));
            assert_eq!(g.head_n(n, &gp).unwrap(), want, "head_n {n} {name}");
            let arg = if n >= 0 {
                n.to_string()
            } else {
                format!("+{}", -n)
            };
            let want = lines(&tool(&["tail", "-n", &arg, hp], true));
            assert_eq!(g.tail_n(n, &gp).unwrap(), want, "tail_n {n} {name}");
        }
        assert_eq!(g.head(&gp).unwrap(), lines(&tool(&["head", hp], true)));
        assert_eq!(g.tail(&gp).unwrap(), lines(&tool(&["tail", hp], true)));
        // wc.
        for (flag, got) in [
            ("-l", g.wc_l(&gp).unwrap()),
            ("-w", g.wc_w(&gp).unwrap()),
            ("-c", g.wc_c(&gp).unwrap()),
        ] {
            assert_eq!(
                i64::from(got),
                num(&tool(&["wc", flag, hp], true)),
                "wc {flag} {name}"
            );
        }
        assert_eq!(g.filesize(&gp).unwrap(), files_len(hp));
        // strings in every encoding.
        for e in ["s", "S", "b", "l", "B", "L"] {
            let want = lines(&tool(&["strings", "-a", "-e", e, hp], true));
            assert_eq!(g.strings_e(e, &gp).unwrap(), want, "strings -e {e} {name}");
        }
        assert_eq!(
            g.strings(&gp).unwrap(),
            lines(&tool(&["strings", "-a", hp], true))
        );
        // hexdump -C.
        let want = String::from_utf8(tool(&["hexdump", "-C", hp], true)).unwrap();
        assert_eq!(g.hexdump(&gp).unwrap(), want, "hexdump {name}");
        // file -zb.
        let want = String::from_utf8(tool(&["file", "-zb", hp], true)).unwrap();
        assert_eq!(g.file(&gp).unwrap(), want.trim_end(), "file {name}");
        assert_eq!(g.is_zero(&gp).unwrap(), files_zero(hp), "is_zero {name}");
    }
    let want = String::from_utf8(tool(&["file", "-zb", gz.to_str().unwrap()], true)).unwrap();
    assert_eq!(g.file("/t/log.gz").unwrap(), want.trim_end());

    // The grep family, with every flag, against grep and zgrep on the host.
    let hp = host.join("text");
    let hp = hp.to_str().unwrap();
    let gzp = gz.to_str().unwrap();
    for re in [
        "ERROR:disk",
        "error:NET",
        "^line [0-9]*\t",
        "word(14|21)",
        "o.b",
        "x.y",
        "nomatch",
        "[[:digit:]]\\{2\\}",
    ] {
        for (flags, got_plain, got_z) in [
            (
                "",
                g.grep(re, "/t/text", &GrepOptions::default()),
                g.zgrep(re, "/t/log.gz"),
            ),
            ("-E", g.egrep(re, "/t/text"), g.zegrep(re, "/t/log.gz")),
            ("-F", g.fgrep(re, "/t/text"), g.zfgrep(re, "/t/log.gz")),
            ("-i", g.grepi(re, "/t/text"), g.zgrepi(re, "/t/log.gz")),
            ("-Ei", g.egrepi(re, "/t/text"), g.zegrepi(re, "/t/log.gz")),
            ("-Fi", g.fgrepi(re, "/t/text"), g.zfgrepi(re, "/t/log.gz")),
        ] {
            let mut argv = vec!["grep"];
            if !flags.is_empty() {
                argv.push(flags);
            }
            argv.extend(["-e", re, hp]);
            let want = lines(&tool(&argv, true));
            assert_eq!(got_plain.unwrap(), want, "grep {flags} {re}");
            argv[0] = "zgrep";
            *argv.last_mut().unwrap() = gzp;
            assert_eq!(
                got_z.unwrap(),
                lines(&tool(&argv, true)),
                "zgrep {flags} {re}"
            );
        }
        let opts = GrepOptions {
            extended: true,
            insensitive: true,
            compressed: true,
            ..Default::default()
        };
        assert_eq!(
            g.grep(re, "/t/log.gz", &opts).unwrap(),
            lines(&tool(&["zgrep", "-Ei", "-e", re, gzp], true))
        );
    }
    assert_eq!(
        g.grep("ERROR", "/t/link", &GrepOptions::default())
            .unwrap()
            .len(),
        37
    );
    // A malformed regex is grep's error, named.
    let e = g.egrep("a(", "/t/text").unwrap_err().to_string();
    assert!(e.contains("egrep") && e.contains("a("), "{e}");

    // du, ll, df against the tools on the host view of the same tree.
    let ht = root.join("t");
    assert_eq!(
        g.du("/t").unwrap(),
        num(&tool(&["du", "-s", ht.to_str().unwrap()], true))
    );
    assert_eq!(
        g.du("/t/bin").unwrap(),
        num(&tool(&["du", "-s", ht.join("bin").to_str().unwrap()], true))
    );
    let want = String::from_utf8(tool(&["ls", "-la", ht.to_str().unwrap()], true)).unwrap();
    assert_eq!(g.ll("/t").unwrap(), want);
    let want = String::from_utf8(tool(&["ls", "-laZ", ht.to_str().unwrap()], true)).unwrap();
    assert_eq!(g.llz("/t/").unwrap(), want);
    let df = g.df().unwrap();
    let rows: Vec<&str> = df.lines().collect();
    assert_eq!(rows.len(), 2, "{df}");
    assert!(
        rows[0].starts_with("Filesystem") && rows[0].ends_with("Mounted on"),
        "{df}"
    );
    let cols: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!((cols[0], cols[5]), ("/dev/sda", "/sysroot"), "{df}");
    let host_df = tool(
        &["df", "--output=size,used,avail", root.to_str().unwrap()],
        true,
    );
    let host_df = lines(&host_df);
    let host_cols: Vec<&str> = host_df[1].split_whitespace().collect();
    assert_eq!(&cols[1..4], &host_cols[..], "{df}");
    let dfh = g.df_h().unwrap();
    assert!(
        dfh.lines().nth(1).unwrap().starts_with("/dev/sda "),
        "{dfh}"
    );
    assert!(dfh.contains('M'), "{dfh}");

    // stat calls against the host's lstat of the same inodes.
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(ht.join("link")).unwrap();
    let st = g.lstatns("/t/link").unwrap();
    assert_eq!(
        (st.st_ino, st.st_mode, st.st_size),
        (md.ino() as i64, md.mode() as i64, md.size() as i64)
    );
    assert_eq!(st.st_mtime_nsec, md.mtime_nsec());
    let md = std::fs::metadata(ht.join("link")).unwrap();
    let st = g.statns("/t/link").unwrap();
    assert_eq!(
        (st.st_ino, st.st_size, st.st_blocks),
        (md.ino() as i64, md.size() as i64, md.blocks() as i64)
    );
    let list = g
        .lstatnslist("/t", &["text", "nope", "link", "..", "sub/../one"])
        .unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[0], g.lstatns("/t/text").unwrap());
    assert_eq!(list[1].st_ino, -1);
    assert_eq!(list[2].st_mode & 0o170000, 0o120000);
    assert_eq!(list[3], g.lstatns("/").unwrap());
    assert_eq!(list[4], g.lstatns("/t/one").unwrap());
    let old = g.lstatlist("/t", &["one", "nope"]).unwrap();
    assert_eq!(
        (old[0].ino, old[0].size, old[1].ino),
        (list[4].st_ino, 12, -1)
    );

    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

fn files_len(p: &str) -> i64 {
    std::fs::metadata(p).unwrap().len() as i64
}

fn files_zero(p: &str) -> bool {
    std::fs::read(p).unwrap().iter().all(|&b| b == 0)
}

#[test]
fn paths_stay_in_the_guest_and_special_files_are_not_opened() {
    if !require_root("mounting") {
        return;
    }
    let Guest { env, g, root } = guest("fileinfo-confined");
    g.mkdir_p("/etc/Sub/DIR").unwrap();
    g.write("/etc/hostname", b"guest-name\n").unwrap();
    g.write("/etc/Sub/DIR/File.TXT", b"x").unwrap();
    // Symlinks that would leave the guest on the host.
    g.ln_s("../../../../../../../../etc/hostname", "/up")
        .unwrap();
    g.ln_s("/etc", "/abs").unwrap();
    g.ln_s("/proc/self/root/etc/hostname", "/procy").unwrap();
    assert_eq!(g.head("/up").unwrap(), ["guest-name"]);
    assert_eq!(g.tail_n(1, "/abs/hostname").unwrap(), ["guest-name"]);
    assert_eq!(
        g.grep("name", "/up", &GrepOptions::default()).unwrap(),
        ["guest-name"]
    );
    assert_eq!(g.wc_c("/up").unwrap(), 11);
    assert_eq!(g.file("/up").unwrap(), "symbolic link");
    assert_eq!(g.realpath("/up").unwrap(), "/etc/hostname");
    assert_eq!(
        g.realpath("/abs/../abs/./Sub//DIR/").unwrap(),
        "/etc/Sub/DIR"
    );
    assert_eq!(g.realpath("/").unwrap(), "/");
    assert_eq!(g.realpath("/..").unwrap(), "/");
    assert!(
        g.realpath("/procy").is_err(),
        "a /proc link inside the guest is nothing"
    );
    assert!(g.head("/procy").is_err());
    assert_eq!(g.du("/up").unwrap(), g.du("/etc/hostname").unwrap());
    // ll of the root: its `..` is the root itself, not the host directory
    // above the mount.
    let ll = g.ll("/").unwrap();
    let lines: Vec<&str> = ll.lines().collect();
    assert!(
        lines[1].ends_with(" .") && lines[2].ends_with(" .."),
        "{ll}"
    );
    assert_eq!(lines[2], format!("{}.", lines[1]), "{ll}");
    let host = String::from_utf8(tool(&["ls", "-la", root.to_str().unwrap()], true)).unwrap();
    let host: Vec<&str> = host.lines().collect();
    assert_eq!(lines[3..], host[3..], "{ll}");
    // ll of a symlink to a directory lists the guest's directory.
    let ll = g.ll("/abs").unwrap();
    assert!(ll.contains(" hostname\n") && ll.contains(" Sub\n"), "{ll}");

    // case_sensitive_path, as libguestfs: the last element may be missing.
    assert_eq!(
        g.case_sensitive_path("/ETC/sub/dir/file.txt").unwrap(),
        "/etc/Sub/DIR/File.TXT"
    );
    assert_eq!(
        g.case_sensitive_path("/etc//SUB/dir/").unwrap(),
        "/etc/Sub/DIR"
    );
    assert_eq!(
        g.case_sensitive_path("/etc/sub/new.txt").unwrap(),
        "/etc/Sub/new.txt"
    );
    assert_eq!(g.case_sensitive_path("/").unwrap(), "/");
    // Two names that differ only in case: the exact one, else the first sorted.
    g.write("/etc/Sub/file.txt", b"y").unwrap();
    g.write("/etc/Sub/FILE.txt", b"z").unwrap();
    for (ask, want) in [
        ("/etc/sub/file.txt", "/etc/Sub/file.txt"),
        ("/etc/sub/FILE.txt", "/etc/Sub/FILE.txt"),
        ("/etc/sub/File.txt", "/etc/Sub/FILE.txt"),
    ] {
        assert_eq!(g.case_sensitive_path(ask).unwrap(), want, "{ask}");
    }
    let e = g
        .case_sensitive_path("/etc/nothere/x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothere: not found"), "{e}");
    for bad in ["/etc/..", "/etc/./x", "etc/sub"] {
        assert!(g.case_sensitive_path(bad).is_err(), "{bad}");
    }

    // A FIFO, a character device, a block device and a socket, planted on the
    // host view of the guest.
    let sh = |c: &str| {
        assert!(
            Command::new("sh")
                .arg("-c")
                .arg(c)
                .status()
                .unwrap()
                .success(),
            "{c}"
        )
    };
    let r = root.display();
    sh(&format!(
        "mkfifo {r}/fifo && mknod {r}/chr c 1 3 && mknod {r}/blk b 7 0 && ln -s fifo {r}/to-fifo"
    ));
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    for (p, kinds) in [
        ("/fifo", [false, false, true, false]),
        ("/chr", [false, true, false, false]),
        ("/blk", [true, false, false, false]),
        ("/sock", [false, false, false, true]),
        ("/to-fifo", [false, false, false, false]),
        ("/missing", [false, false, false, false]),
        ("/etc/hostname/x", [false, false, false, false]),
    ] {
        let got = [
            g.is_blockdev(p, false).unwrap(),
            g.is_chardev(p, false).unwrap(),
            g.is_fifo(p, false).unwrap(),
            g.is_socket(p, false).unwrap(),
        ];
        assert_eq!(got, kinds, "{p}");
    }
    assert!(g.is_fifo("/to-fifo", true).unwrap());
    assert!(!g.is_fifo("/to-fifo", false).unwrap());
    for (p, what) in [
        ("/fifo", "FIFO"),
        ("/chr", "character device"),
        ("/blk", "block device"),
        ("/sock", "socket"),
        ("/etc", "directory"),
        ("/to-fifo", "symbolic link"),
    ] {
        assert_eq!(g.file(p).unwrap(), what);
    }
    // Nothing that reads content opens them (a FIFO would hang, a device would
    // be read).
    for p in ["/fifo", "/to-fifo", "/chr", "/blk", "/sock", "/etc"] {
        let results = [
            g.head(p).map(drop),
            g.tail_n(-1, p).map(drop),
            g.wc_l(p).map(drop),
            g.wc_w(p).map(drop),
            g.wc_c(p).map(drop),
            g.grep("x", p, &GrepOptions::default()).map(drop),
            g.zgrep("x", p).map(drop),
            g.strings(p).map(drop),
            g.hexdump(p).map(drop),
            g.is_zero(p).map(drop),
        ];
        for r in results {
            let e = r.expect_err(p).to_string();
            assert!(e.contains("not a regular file"), "{p}: {e}");
        }
    }

    // Devices: is-zero-device, is-whole-device, is-lv, file on a device.
    assert!(!g.is_zero_device("/dev/sda").unwrap());
    assert!(g.is_zero_device("/dev/sdb").unwrap());
    assert!(g.is_zero_device("/dev/vdb").unwrap());
    assert!(g.is_whole_device("/dev/sda").unwrap() && g.is_whole_device("/dev/hdb").unwrap());
    assert!(!g.is_lv("/dev/sda").unwrap());
    assert!(g.is_whole_device("/dev/sdc").is_err());
    assert!(
        g.is_zero_device("/dev/loop0").is_err(),
        "a host device is refused"
    );
    let want = tool(
        &[
            "file",
            "-zbsL",
            g.host_path("/dev/sda").unwrap().to_str().unwrap(),
        ],
        true,
    );
    assert_eq!(
        g.file("/dev/sda").unwrap(),
        String::from_utf8(want).unwrap().trim_end()
    );
    assert!(g.file("/dev/sda").unwrap().contains("ext4"));
    assert_eq!(g.file("/dev/sdb").unwrap(), "data");
    g.part_disk("/dev/sdb", "mbr").unwrap();
    assert!(!g.is_whole_device("/dev/sdb1").unwrap());
    assert!(!g.is_zero_device("/dev/sdb").unwrap());
    assert!(g.is_zero_device("/dev/sdb1").unwrap());

    drop(_sock);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_100_gib_sparse_file_is_streamed_not_loaded() {
    if !require_root("mounting") {
        return;
    }
    let Guest { env, g, root } = guest("fileinfo-sparse");
    let f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(root.join("huge"))
        .unwrap();
    f.set_len(100 << 30).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_at(b"needle one\n", 50 << 30).unwrap();
    f.write_at(b"\nlast line\n", (100 << 30) - 11).unwrap();
    drop(f);
    assert_eq!(g.filesize("/huge").unwrap(), 100 << 30);
    assert_eq!(g.wc_l("/huge").unwrap(), 3);
    assert_eq!(g.wc_w("/huge").unwrap(), 4);
    let e = g.wc_c("/huge").unwrap_err().to_string();
    assert!(e.contains("32-bit"), "{e}");
    assert_eq!(g.tail_n(1, "/huge").unwrap(), ["last line"]);
    assert_eq!(g.tail_n(-3, "/huge").unwrap(), ["last line"]);
    assert!(g.tail_n(-4, "/huge").unwrap().is_empty());
    assert!(g.head_n(0, "/huge").unwrap().is_empty());
    // The first line is 50 GiB of zeros: too large a result, refused.
    let e = g.head("/huge").unwrap_err().to_string();
    assert!(e.contains("larger than 4 MiB"), "{e}");
    let e = g.tail_n(3, "/huge").unwrap_err().to_string();
    assert!(e.contains("larger than 4 MiB"), "{e}");
    assert!(!g.is_zero("/huge").unwrap());
    // grep skips the holes; a binary file that matches gives no lines.
    assert!(
        g.grep("needle", "/huge", &GrepOptions::default())
            .unwrap()
            .is_empty()
    );
    assert!(g.fgrep("absent", "/huge").unwrap().is_empty());
    // What grep prints is bounded too: 5 MiB of matching lines are refused.
    let lines_5m: String = (0..300_000)
        .map(|i| format!("match line {i:06}\n"))
        .collect();
    g.write("/many", lines_5m.as_bytes()).unwrap();
    let e = g
        .grep("match", "/many", &GrepOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("grep") && e.contains("larger than 4 MiB"), "{e}");
    assert_eq!(
        g.grep("line 123456$", "/many", &GrepOptions::default())
            .unwrap(),
        ["match line 123456"]
    );
    assert_eq!(g.strings("/huge").unwrap(), ["needle one", "last line"]);
    let dump = g.hexdump("/huge").unwrap();
    let want = "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n\
                c80000000  6e 65 65 64 6c 65 20 6f  6e 65 0a 00 00 00 00 00  |needle one......|\n\
                c80000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n\
                18fffffff0  00 00 00 00 00 0a 6c 61  73 74 20 6c 69 6e 65 0a  |......last line.|\n\
                1900000000\n";
    assert_eq!(dump, want);

    // A smaller sparse file with data across holes: hexdump and wc against the
    // tools.
    let f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(root.join("holes"))
        .unwrap();
    f.set_len(9 << 20).unwrap();
    for (i, off) in [0u64, 4095, 1 << 20, (3 << 20) + 7, (9 << 20) - 3]
        .iter()
        .enumerate()
    {
        f.write_at(format!("w{i} x\n").as_bytes(), *off).unwrap();
    }
    drop(f);
    let hp = root.join("holes");
    let hp = hp.to_str().unwrap();
    assert_eq!(
        g.hexdump("/holes").unwrap(),
        String::from_utf8(tool(&["hexdump", "-C", hp], true)).unwrap()
    );
    assert_eq!(
        i64::from(g.wc_l("/holes").unwrap()),
        num(&tool(&["wc", "-l", hp], true))
    );
    assert_eq!(
        i64::from(g.wc_w("/holes").unwrap()),
        num(&tool(&["wc", "-w", hp], true))
    );
    for e in ["s", "b", "L"] {
        assert_eq!(
            g.strings_e(e, "/holes").unwrap(),
            lines(&tool(&["strings", "-a", "-e", e, hp], true))
        );
    }
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn bad_arguments_are_refused_and_change_nothing() {
    if !require_root("mounting") {
        return;
    }
    let Guest { env, g, .. } = guest("fileinfo-bad");
    g.write("/f", b"a\n").unwrap();
    let before = g.lstatns("/f").unwrap();
    let check = |r: vmcraft::Result<()>, call: &str, what: &str| {
        let e = r.expect_err(call).to_string();
        assert!(e.contains(call) && e.contains(what), "{call}: {e}");
    };
    check(g.head("f").map(drop), "head", "must start with a /");
    check(g.filesize("f").map(drop), "filesize", "must start with a /");
    check(
        g.grep("a", "f", &GrepOptions::default()).map(drop),
        "grep",
        "must start with a /",
    );
    check(g.ll("f").map(drop), "ll", "must start with a /");
    check(g.realpath("").map(drop), "realpath", "must start with a /");
    check(g.ll("/f").map(drop), "ll", "not a directory");
    check(
        g.lstatnslist("/f", &["x"]).map(drop),
        "lstatnslist",
        "not a directory",
    );
    check(
        g.grep(
            "a",
            "/f",
            &GrepOptions {
                extended: true,
                fixed: true,
                ..Default::default()
            },
        )
        .map(drop),
        "grep",
        "'extended' and 'fixed'",
    );
    check(
        g.strings_e("x", "/f").map(drop),
        "strings_e",
        "invalid encoding",
    );
    check(
        g.strings_e("ls", "/f").map(drop),
        "strings_e",
        "invalid encoding",
    );
    check(g.head("/nope").map(drop), "head", "/nope");
    check(
        g.is_zero_device("/dev/sdz").map(drop),
        "is_zero_device",
        "no such device",
    );
    check(g.is_lv("/dev/vg/lv").map(drop), "is_lv", "no such device");
    check(g.file("/dev/nope").map(drop), "file", "no such device");
    assert_eq!(g.lstatns("/f").unwrap(), before);
    assert_eq!(g.cat("/f").unwrap(), "a\n");
    g.umount_all().unwrap();
    check(g.head("/f").map(drop), "head", "no filesystem is mounted");
    check(g.df().map(drop), "df", "no filesystem is mounted");
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

/// A minimal ELF header (enough for file(1) to name the machine).
fn elf(bits64: bool, big: bool, etype: u16, machine: u16) -> Vec<u8> {
    let mut e = vec![
        0x7f,
        b'E',
        b'L',
        b'F',
        if bits64 { 2 } else { 1 },
        if big { 2 } else { 1 },
        1,
        0,
    ];
    e.resize(16, 0);
    let h16 = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let h32 = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    e.extend_from_slice(&h16(etype));
    e.extend_from_slice(&h16(machine));
    e.extend_from_slice(&h32(1));
    let words = if bits64 { 3 * 8 } else { 3 * 4 };
    e.resize(e.len() + words + 4, 0);
    let hsize = if bits64 { 64 } else { 52 };
    e.extend_from_slice(&h16(hsize));
    e.resize(hsize as usize + 64, 0);
    e
}

/// A minimal PE header: PE32 (i386) or PE32+ (x86-64).
fn pe(plus: bool) -> Vec<u8> {
    let mut b = vec![0u8; 1024];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&128u32.to_le_bytes());
    b[128..132].copy_from_slice(b"PE\0\0");
    let machine: u16 = if plus { 0x8664 } else { 0x14c };
    b[132..134].copy_from_slice(&machine.to_le_bytes());
    b[134..136].copy_from_slice(&1u16.to_le_bytes());
    b[148..150].copy_from_slice(&(if plus { 240u16 } else { 224 }).to_le_bytes());
    b[150..152].copy_from_slice(&0x102u16.to_le_bytes());
    b[152..154].copy_from_slice(&(if plus { 0x20bu16 } else { 0x10b }).to_le_bytes());
    b[220..222].copy_from_slice(&3u16.to_le_bytes());
    b
}

#[test]
fn file_architecture_of_elf_pe_compressed_files_and_initrds() {
    if !require_root("mounting")
        || !require_tool("file")
        || !require_tool("cpio")
        || !require_tool("xz")
    {
        return;
    }
    let Guest { env, g, root } = guest("fileinfo-arch");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("aarch64", elf(true, false, 2, 183), "aarch64"),
        ("arm", elf(false, false, 2, 40), "arm"),
        ("i386", elf(false, false, 2, 3), "i386"),
        ("i386.so", elf(false, false, 3, 3), "i386"),
        ("ppc64", elf(true, true, 2, 21), "ppc64"),
        ("ppc64le", elf(true, false, 2, 21), "ppc64le"),
        ("ppc", elf(false, true, 2, 20), "ppc"),
        ("riscv64", elf(true, false, 2, 243), "riscv64"),
        ("s390x", elf(true, true, 2, 22), "s390x"),
        ("sparc", elf(false, true, 2, 18), "sparc"),
        ("sparc64", elf(true, true, 2, 43), "sparc64"),
        ("loongarch64", elf(true, false, 2, 258), "loongarch64"),
        ("x86_64.o", elf(true, false, 1, 62), "x86_64"),
        ("win32.exe", pe(false), "i386"),
        ("win64.dll", pe(true), "x86_64"),
    ];
    g.mkdir("/b").unwrap();
    for (name, bytes, want) in &cases {
        let p = format!("/b/{name}");
        g.write(&p, bytes).unwrap();
        assert_eq!(
            g.file_architecture(&p).unwrap(),
            *want,
            "{name}: {}",
            g.file(&p).unwrap()
        );
    }
    // The host's own binary, compressed three ways, and an initrd holding it.
    let ls = std::fs::read("/bin/ls").unwrap();
    let host_arch = match std::env::consts::ARCH {
        "x86" => "i386",
        a => a,
    };
    let work = env.path().join("initrd");
    std::fs::create_dir_all(work.join("bin")).unwrap();
    std::fs::write(work.join("bin/ls"), &ls).unwrap();
    std::fs::write(work.join("bin/other"), b"#!/bin/sh\n").unwrap();
    let sh = |c: String| {
        let st = Command::new("sh").arg("-c").arg(&c).status().unwrap();
        assert!(st.success(), "{c}");
    };
    let w = work.display();
    let r = root.display();
    sh(format!(
        "cd {w} && cp bin/ls {r}/b/ls && gzip -c bin/ls > {r}/b/ls.gz && xz -c bin/ls > {r}/b/ls.xz"
    ));
    sh(format!(
        "cd {w} && printf 'bin/ls\\n' | cpio --quiet -o -H newc > {r}/b/initrd.cpio"
    ));
    sh(format!("gzip -c {r}/b/initrd.cpio > {r}/b/initrd.img.gz"));
    sh(format!(
        "cd {w} && printf 'bin/other\\n' | cpio --quiet -o -H newc | gzip > {r}/b/noarch.img"
    ));
    for p in [
        "/b/ls",
        "/b/ls.gz",
        "/b/ls.xz",
        "/b/initrd.cpio",
        "/b/initrd.img.gz",
    ] {
        assert_eq!(
            g.file_architecture(p).unwrap(),
            host_arch,
            "{p}: {}",
            g.file(p).unwrap()
        );
    }
    for (p, what) in [
        (
            "/b/noarch.img",
            "could not determine architecture of cpio archive",
        ),
        ("/b", "unknown architecture (directory)"),
        ("/nope", "/nope"),
        ("b/ls", "must start with a /"),
    ] {
        let e = g.file_architecture(p).unwrap_err().to_string();
        assert!(
            e.contains("file_architecture") && e.contains(what),
            "{p}: {e}"
        );
    }
    g.write("/b/text", b"hello\n").unwrap();
    let e = g.file_architecture("/b/text").unwrap_err().to_string();
    assert!(e.contains("unknown architecture (ASCII text)"), "{e}");
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
