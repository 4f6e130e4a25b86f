//! FIFOs and device nodes in a real guest image never hang a file call or get
//! read or written: `cat`, `read_file`, `read_lines`, `download`, `checksum`,
//! `cp` (either end), `write`, `write_append` and `upload` onto a FIFO, a
//! character device or a block device node each fail at once with an error that
//! names the call and the path, and every file is as it was afterwards (the
//! image itself changes: a read-write mount updates the superblock);
//! `cp_a` recreates such nodes without opening them; inspection of a guest whose
//! binaries are FIFOs finishes.

use vmcraft::{Config, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};
use vmcraft_block::{Command, CommandRunner, SystemRunner};

fn sh(argv: &[&str]) -> String {
    SystemRunner::new()
        .run(&Command::new(argv[0]).args(&argv[1..]))
        .unwrap()
        .stdout_str()
}

/// What the guest holds, as debugfs lists it (every entry of `/`, `/dir` and
/// `/bin` with its inode, type, mode, size and time; the directories' own `.`
/// entries left out, since a read-write mount updates them) and `/etc/os-release`.
fn contents(img: &std::path::Path) -> String {
    let p = img.to_str().unwrap();
    let mut out = String::new();
    for dir in ["/", "/dir", "/bin"] {
        let listing = sh(&["debugfs", "-R", &format!("ls -l {dir}"), p]);
        for line in listing
            .lines()
            .filter(|l| !l.ends_with(" .") && !l.ends_with(" .."))
        {
            out.push_str(line);
            out.push('\n');
        }
    }
    out + &sh(&["debugfs", "-R", "cat /etc/os-release", p])
}

/// A whole-disk ext4 guest with `/etc/os-release`, a FIFO `/pipe`, a character
/// device `/null` (1:3), a block device `/disk` (7:0, a host loop device), a FIFO
/// at `/bin/ls` (where inspection looks for the architecture) and `/dir/pipe`.
fn guest(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("guest.img", 32 << 20);
    let p = img.to_str().unwrap();
    sh(&["mkfs.ext4", "-F", "-q", p]);
    let os = env.path().join("os-release");
    std::fs::write(&os, "ID=debian\nVERSION_ID=12\n").unwrap();
    // debugfs takes a name in its current directory, not a path.
    let script = env.path().join("debugfs.cmds");
    std::fs::write(
        &script,
        format!(
            "mkdir etc\nmkdir bin\nmkdir dir\ncd /etc\nwrite {} os-release\ncd /\n\
             mknod pipe p\nmknod null c 1 3\nmknod disk b 7 0\nsymlink to-pipe /pipe\n\
             cd /bin\nmknod ls p\ncd /dir\nmknod pipe p\n",
            os.display()
        ),
    )
    .unwrap();
    sh(&["debugfs", "-w", "-f", script.to_str().unwrap(), p]);
    let listing = sh(&["debugfs", "-R", "ls -l /", p]);
    for name in ["pipe", "null", "disk", "to-pipe", "etc"] {
        assert!(listing.contains(&format!(" {name}\n")), "{listing}");
    }
    img
}

#[test]
fn file_calls_refuse_fifos_and_device_nodes_at_once() {
    if !require_root("mounting") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("special-files");
    let img = guest(&env);
    let host_file = env.path().join("host-file");
    std::fs::write(&host_file, b"from the host\n").unwrap();
    let before = contents(&img);

    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    for path in ["/pipe", "/to-pipe", "/null", "/disk"] {
        let errors = [
            ("cat", g.cat(path).map(drop)),
            ("read_file", g.read_file(path).map(drop)),
            ("read_lines", g.read_lines(path).map(drop)),
            (
                "download",
                g.download(path, env.path().join("out")).map(drop),
            ),
            ("checksum", g.checksum("sha256", path).map(drop)),
            ("cp", g.cp(path, "/copy").map(drop)),
            ("cp", g.cp("/etc/os-release", path)),
            ("write", g.write(path, b"x")),
            ("write_append", g.write_append(path, b"x")),
            ("upload", g.upload(&host_file, path).map(drop)),
        ];
        for (call, r) in errors {
            let e = r.expect_err(&format!("{call} {path} succeeded"));
            let text = e.to_string();
            assert!(
                text.contains(call) && text.contains(path.trim_start_matches("/to-")),
                "{call} {path}: {}",
                e.chain()
            );
        }
    }
    assert!(!g.exists("/copy").unwrap());
    assert!(
        !std::path::Path::new(&env.path().join("out")).exists() || {
            // download may have created the host file before refusing; it is empty.
            std::fs::metadata(env.path().join("out")).unwrap().len() == 0
        }
    );
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    assert_eq!(contents(&img), before, "a refused call changed the guest");

    // cp_a recreates the FIFO without opening it.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.cp_a("/dir", "/dir2").unwrap();
    let st = g.lstat("/dir2/pipe").unwrap();
    assert_eq!(st.mode & 0o170000, 0o010000, "not a FIFO: {st:?}");
    g.umount_all().unwrap();

    // Inspection of a guest whose /bin/ls is a FIFO finishes.
    let roots = g.inspect_os().unwrap();
    assert_eq!(roots, ["/dev/sda"]);
    assert_eq!(g.inspect_get_distro("/dev/sda").unwrap(), "debian");
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
