//! The command line's own commands that work on guest content, through the
//! binary on a real ext4 image: `edit` (a changed file written back with its mode
//! and owner, an unchanged one left as it was), `more` with `$PAGER`, `glob` over
//! guest paths and device names, `supported`.

mod cli_support;

use cli_support::{command, image};
use vmcraft_block::testing::{TestEnv, require_root};

const PREPARE: &str = "run\npart-disk /dev/sda mbr\nmkfs ext4 /dev/sda1\nmount /dev/sda1 /\n";

fn run_with(env: &TestEnv, img: &str, vars: &[(&str, &str)], text: &str) -> (i32, String, String) {
    let path = env.path().join("script.fish");
    std::fs::write(&path, text).unwrap();
    let mut c = command(env, &["-a", img, "-f", path.to_str().unwrap()]);
    for (k, v) in vars {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn edit_writes_back_a_changed_file_with_its_mode_and_owner() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-edit");
    let img = image(&env, "fs.img", 64 << 20);
    let img = img.to_str().unwrap();
    let (code, out, err) = run_with(
        &env,
        img,
        &[("EDITOR", "sed -i s/old/new/")],
        &format!(
            "{PREPARE}mkdir /etc\nwrite /etc/conf \"key=old\\n\"\nchmod 0640 /etc/conf\nchown 12 34 /etc/conf\n\
             edit /etc/conf\ncat /etc/conf\nstat /etc/conf\nls /etc\n"
        ),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("key=new\n"), "{out}");
    assert!(out.contains("mode: 33184\n"), "0100640 kept: {out}");
    assert!(
        out.contains("uid: 12\n") && out.contains("gid: 34\n"),
        "{out}"
    );
    assert!(out.ends_with("conf\n"), "no temporary file left: {out}");

    // An editor that changes nothing leaves the very same file (same inode).
    let (code, out, err) = run_with(
        &env,
        img,
        &[("EDITOR", "true")],
        "run\nmount /dev/sda1 /\nstat /etc/conf\nedit /etc/conf\nstat /etc/conf\n",
    );
    assert_eq!(code, 0, "{err}");
    let inos: Vec<&str> = out.lines().filter(|l| l.starts_with("ino: ")).collect();
    assert_eq!(inos.len(), 2);
    assert_eq!(inos[0], inos[1]);

    // An editor that fails changes nothing and says so.
    let (code, out, err) = run_with(
        &env,
        img,
        &[("EDITOR", "false")],
        "run\nmount /dev/sda1 /\n-edit /etc/conf\ncat /etc/conf\n",
    );
    assert_eq!(out, "key=new\n\n", "cat prints the file and a newline");
    assert!(
        err.contains("vmcraft: error: edit: false failed"),
        "{code} {err}"
    );
}

#[test]
fn more_glob_and_supported() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-glob");
    let img = image(&env, "fs.img", 64 << 20);
    let img = img.to_str().unwrap();
    let (code, out, err) = run_with(
        &env,
        img,
        &[("PAGER", "cat")],
        &format!(
            "{PREPARE}mkdir /a1\nmkdir /a2\nmkdir /b\nwrite /a1/x \"one\\n\"\nwrite /a2/y two\n\
             more /a1/x\n\
             glob ls /a*\n\
             glob is-dir /[ab]*\n\
             glob blockdev-getsize64 /dev/sda?\n\
             glob echo /nomatch*\n\
             supported\n"
        ),
    );
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("one"));
    assert_eq!(lines.next(), Some("x"));
    assert_eq!(lines.next(), Some("y"));
    assert_eq!(
        (lines.next(), lines.next(), lines.next()),
        (Some("true"), Some("true"), Some("true"))
    );
    let size: u64 = lines.next().unwrap().parse().unwrap();
    assert!(size > 60 << 20, "{size}");
    assert_eq!(lines.next(), Some("/nomatch*"));
    let groups: Vec<&str> = lines.collect();
    assert!(!groups.is_empty());
    let width = groups[0].rsplit_once(' ').unwrap().0.len();
    for g in &groups {
        let (name, yes) = g.rsplit_once(' ').unwrap();
        assert_eq!(name.len(), width, "right-aligned: {g}");
        assert!(yes == "yes" || yes == "no", "{g}");
    }
}
