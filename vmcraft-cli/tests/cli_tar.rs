//! tar through the binary: a guestfish tar-in / tar-out script run unchanged,
//! the tarballs made and read by GNU tar as the oracle (plain, gzip, xz, through
//! standard input and output), and a hostile tarball refused with the guest
//! unchanged.

mod cli_support;

use cli_support::{command, debugfs_cat, e2fsck_clean, extract_partition, run, script, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

fn host_tree(env: &TestEnv) -> std::path::PathBuf {
    let src = env.path().join("src");
    std::fs::create_dir_all(src.join("etc/app")).unwrap();
    std::fs::write(src.join("etc/hostname"), "demo\n").unwrap();
    std::fs::write(src.join("etc/app/conf"), "a=1\n").unwrap();
    std::os::unix::fs::symlink("app/conf", src.join("etc/link")).unwrap();
    src
}

#[test]
fn tar_in_and_out_against_gnu_tar() {
    if !require_root("attaching images") || !require_tool("tar") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-tar");
    let src = host_tree(&env);
    tool(
        "tar",
        &[
            "-C",
            src.to_str().unwrap(),
            "-cf",
            env.path().join("in.tar").to_str().unwrap(),
            ".",
        ],
    );
    let img = env.path().join("t.img");
    run(&env, &["-N", &format!("{}=fs:ext4:32M", img.display())], "").ok();
    let text = "\
run
mount /dev/sda1 /
mkdir /srv
tar-in in.tar /srv
find /srv
tar-out /srv/etc out.tar
tar-out /srv out.tar.gz compress:gzip
txz-out /srv/etc out.txz
tar-out /srv/etc small.tar \"excludes:app link\"
";
    let o = script(&env, &["-a", img.to_str().unwrap()], text);
    assert_eq!(
        o.ok(),
        "/etc\n/etc/app\n/etc/app/conf\n/etc/hostname\n/etc/link\n"
    );

    let list = |args: &[&str]| {
        let mut v: Vec<String> = tool("tar", args).lines().map(String::from).collect();
        v.sort();
        v
    };
    let p = |n: &str| env.path().join(n).to_str().unwrap().to_string();
    assert_eq!(
        list(&["-tf", &p("out.tar")]),
        ["./", "./app/", "./app/conf", "./hostname", "./link"]
    );
    assert_eq!(
        list(&["-tzf", &p("out.tar.gz")]),
        [
            "./",
            "./etc/",
            "./etc/app/",
            "./etc/app/conf",
            "./etc/hostname",
            "./etc/link"
        ]
    );
    assert_eq!(
        list(&["-tJf", &p("out.txz")]),
        list(&["-tf", &p("out.tar")])
    );
    assert_eq!(list(&["-tf", &p("small.tar")]), ["./", "./hostname"]);
    assert_eq!(tool("tar", &["-xOf", &p("out.tar"), "./app/conf"]), "a=1\n");
    let verbose = tool("tar", &["-tvf", &p("out.tar"), "./link"]);
    assert!(verbose.contains("./link -> app/conf"), "{verbose}");

    let fs = extract_partition(&env, &img, 1);
    e2fsck_clean(&fs);
    assert_eq!(debugfs_cat(&fs, "/srv/etc/hostname"), "demo\n");
}

/// guestfish's tar-out (GNU tar underneath) stores FIFOs and device nodes:
/// so does ours, by default, on a real ext4 guest, read back by GNU tar.
#[test]
fn tar_out_stores_fifos_and_device_nodes() {
    if !require_root("attaching images and mknod") || !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("cli-tarnodes");
    let src = host_tree(&env);
    tool("mkfifo", &[src.join("etc/initctl").to_str().unwrap()]);
    tool(
        "mknod",
        &[src.join("etc/null").to_str().unwrap(), "c", "1", "3"],
    );
    tool(
        "mknod",
        &[src.join("etc/loop0").to_str().unwrap(), "b", "7", "0"],
    );
    let p = |n: &str| env.path().join(n).to_str().unwrap().to_string();
    tool(
        "tar",
        &["-C", src.to_str().unwrap(), "-cf", &p("in.tar"), "."],
    );
    let img = env.path().join("n.img");
    run(&env, &["-N", &format!("{}=fs:ext4:32M", img.display())], "").ok();
    let text = "\
run
mount /dev/sda1 /
tar-in in.tar /
tar-out /etc out.tar
";
    script(&env, &["-a", img.to_str().unwrap()], text).ok();
    let list = tool("tar", &["-tvf", &p("out.tar")]);
    for (kind, numbers, name) in [
        ("prw-r--r--", "0", "./initctl"),
        ("crw-r--r--", "1,3", "./null"),
        ("brw-r--r--", "7,0", "./loop0"),
    ] {
        assert!(
            list.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.first() == Some(&kind) && f.get(2) == Some(&numbers) && f.last() == Some(&name)
            }),
            "{kind} {numbers} {name} not in\n{list}"
        );
    }
    cli_support::assert_no_session_left(&env);
}

#[test]
fn tarballs_through_standard_streams() {
    if !require_root("attaching images") || !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("cli-tarstd");
    let src = host_tree(&env);
    let tgz = env.path().join("in.tgz");
    tool(
        "tar",
        &[
            "-C",
            src.to_str().unwrap(),
            "-czf",
            tgz.to_str().unwrap(),
            ".",
        ],
    );
    let bytes = std::fs::read(&tgz).unwrap();
    let img = env.path().join("s.img");
    let spec = format!("{}=fs:ext4:32M", img.display());
    // tar-in from standard input (compression detected).
    let mut child = command(
        &env,
        &[
            "-N",
            &spec,
            "-m",
            "/dev/sda1",
            "tar-in",
            "-",
            "/",
            ":",
            "cat",
            "/etc/app/conf",
        ],
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"a=1\n\n");
    // tar-out to standard output.
    let out = command(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "tar-out",
            "/etc",
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
    let tarball = env.path().join("stdout.tar");
    std::fs::write(&tarball, &out.stdout).unwrap();
    let mut names: Vec<String> = tool("tar", &["-tf", tarball.to_str().unwrap()])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["./", "./app/", "./app/conf", "./hostname", "./link"]
    );
    cli_support::assert_no_session_left(&env);
}

#[test]
fn hostile_tarball_is_refused_and_nothing_lands() {
    if !require_root("attaching images") || !require_tool("tar") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-tarbad");
    let evil = env.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(evil.join("ok"), "fine\n").unwrap();
    std::fs::write(env.path().join("escape"), "gotcha\n").unwrap();
    // An entry that climbs out of the target directory.
    tool(
        "tar",
        &[
            "-C",
            evil.to_str().unwrap(),
            "-P",
            "-cf",
            env.path().join("evil.tar").to_str().unwrap(),
            "ok",
            "../escape",
        ],
    );
    let img = env.path().join("h.img");
    run(
        &env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "mkdir",
            "/srv",
        ],
        "",
    )
    .ok();
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "tar-in",
            "evil.tar",
            "/srv",
            ":",
            "write",
            "/marker",
            "x",
        ],
        "",
    );
    assert!(
        o.failed().starts_with("vmcraft: error: tar_in: "),
        "{}",
        o.stderr
    );
    let fs = extract_partition(&env, &img, 1);
    let ls = tool("debugfs", &["-R", "ls -l /srv", fs.to_str().unwrap()]);
    assert!(!ls.contains(" ok"), "{ls}");
    let root = tool("debugfs", &["-R", "ls /", fs.to_str().unwrap()]);
    assert!(
        !root.contains("escape") && !root.contains("marker"),
        "{root}"
    );
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "tar-out",
            "/srv",
            "x.tar",
            "compress:lzop",
        ],
        "",
    );
    assert!(o.failed().contains("unknown compression"), "{}", o.stderr);
}
