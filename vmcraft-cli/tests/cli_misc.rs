//! The small calls through the binary on a real image: daemon probes, `utsname`
//! against uname(1), `readlinklist`, `ls0`, `lchown`, `equal`, `copy-attributes`,
//! `write-file`, `fallocate64`, ext2 generations against debugfs, GPT lookups by
//! name and GUID, `blockdev-setra` against blockdev(8), and the deprecated or
//! appliance-only calls with their honest answers.

mod cli_support;

use cli_support::{extract_partition, image, script, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

#[test]
fn probes_and_appliance_only_calls_answer_honestly() {
    let env = TestEnv::new("cli-misc-probes");
    let o = script(
        &env,
        &[],
        "echo-daemon 'a b  c'\nsleep 0\nwait-ready\nlist-9p\nutsname\n\
         get-libvirt-requested-credentials\nset-libvirt-supported-credentials 'username passphrase'\n\
         -ping-daemon\n-modprobe nbd\n-get-libvirt-requested-credential-prompt 0\n\
         -set-libvirt-supported-credentials bogus\n",
    );
    let uname = |f: &str| tool("uname", &[f]).trim_end().to_string();
    assert_eq!(
        o.stdout,
        format!(
            "a b c\nuts_sysname: {}\nuts_release: {}\nuts_version: {}\nuts_machine: {}\n",
            uname("-s"),
            uname("-r"),
            uname("-v"),
            uname("-m")
        )
    );
    for want in [
        "ping_daemon: call launch first",
        "modprobe: nbd: VMCraft does not load kernel modules into the host's kernel",
        "get_libvirt_requested_credential_prompt: 0: no credential was requested",
        "set_libvirt_supported_credentials: bogus: unknown credential type",
    ] {
        assert!(o.stderr.contains(want), "{want}: {}", o.stderr);
    }
}

#[test]
fn file_helpers_on_ext3() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-misc-files");
    let img = image(&env, "fs.img", 64 << 20);
    let names = env.path().join("names");
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "run\nping-daemon\npart-disk /dev/sda gpt\npart-set-name /dev/sda 1 rootfs\nmkfs ext3 /dev/sda1\nmount /dev/sda1 /\n\
             mkdir /d\nwrite /d/a same\nwrite /d/b same\nwrite /d/c other\nln-s a /d/la\nln-s /nowhere /d/lb\n\
             readlinklist /d 'la lb a'\n\
             ls0 /d {n}\n\
             equal /d/a /d/b\nequal /d/a /d/c\n\
             chmod 0751 /d/a\nchown 7 8 /d/a\ncopy-attributes /d/a /d/c\nstat /d/c\n\
             copy-attributes /d/a /d/b ownership:true\nstat /d/b\n\
             lchown 11 12 /d/la\nlstat /d/la\nstat /d/la\n\
             write-file /d/w 'hello world' 5\ncat /d/w\n\
             fallocate64 /d/big 1048576\nfilesize /d/big\n\
             set-e2generation /d/a 4242\nget-e2generation /d/a\n\
             findfs-partlabel rootfs\n-findfs-partlabel nothing\n\
             -readlinklist /d '../etc'\n-set-e2generation /d/a -1\n-write-file /d/w abc 9\n",
            n = names.display()
        ),
    );
    let out = o.stdout.clone();
    let mut l = out.lines();
    assert_eq!(
        (l.next(), l.next(), l.next()),
        (Some("a"), Some("/nowhere"), Some(""))
    );
    assert_eq!((l.next(), l.next()), (Some("true"), Some("false")));
    assert_eq!(
        std::fs::read(&names).unwrap(),
        b"a\0b\0c\0la\0lb\0",
        "ls0 writes NUL-separated names"
    );
    let rest: Vec<&str> = l.collect();
    let text = rest.join("\n");
    // copy-attributes: mode only by default (0100751), ownership when asked.
    // The stat blocks, each from its "dev: " line.
    let mut stats: Vec<String> = vec![String::new()];
    for line in &rest {
        if line.starts_with("dev: ") {
            stats.push(String::new());
        }
        let last = stats.last_mut().unwrap();
        last.push_str(line);
        last.push('\n');
    }
    assert!(
        stats[1].contains("mode: 33257\n") && stats[1].contains("uid: 0\n"),
        "{}",
        stats[1]
    );
    assert!(
        stats[2].contains("uid: 7\n") && stats[2].contains("gid: 8\n"),
        "{}",
        stats[2]
    );
    assert!(
        stats[3].contains("uid: 11\n"),
        "lchown changed the link: {}",
        stats[3]
    );
    assert!(
        stats[4].contains("uid: 7\n"),
        "not its target: {}",
        stats[4]
    );
    assert!(text.contains("\nhello\n"), "{text}");
    assert!(text.contains("\n1048576\n4242\n/dev/sda1"), "{text}");
    for want in [
        "findfs_partlabel: nothing: no GPT partition has it",
        "readlinklist: ../etc: not a name in the directory",
        "set_e2generation: -1: must be between 0 and 2^32-1",
        "write_file: 9: size must be 0 (all) or at most the content's length",
    ] {
        assert!(o.stderr.contains(want), "{want}: {}", o.stderr);
    }
    let fs = extract_partition(&env, &img, 1);
    let st = tool("debugfs", &["-R", "stat /d/a", fs.to_str().unwrap()]);
    assert!(st.contains("Generation: 4242 "), "{st}");
    let st = tool("debugfs", &["-R", "stat /d/big", fs.to_str().unwrap()]);
    assert!(st.contains("Size: 1048576"), "{st}");
    assert!(!st.contains("EXTENTS:\n(0-255):0"), "allocated: {st}");
}

#[test]
fn gpt_guid_lookup_readahead_and_old_drive_calls() {
    if !require_root("attaching images") || !require_tool("blockdev") {
        return;
    }
    let env = TestEnv::new("cli-misc-block");
    let img = image(&env, "d.img", 32 << 20);
    let img2 = image(&env, "e.img", 16 << 20);
    let o = script(
        &env,
        &[],
        &format!(
            "add-drive-with-if {} virtio\nadd-cdrom {}\nrun\nlist-devices\npart-disk /dev/sda gpt\n\
             part-set-gpt-guid /dev/sda 1 01234567-89AB-CDEF-0123-456789ABCDEF\n\
             findfs-partuuid 01234567-89ab-cdef-0123-456789abcdef\n\
             blockdev-setbsz /dev/sda 4096\n\
             -part-disk /dev/sdb mbr\nkill-subprocess\nis-ready\n",
            img.display(),
            img2.display()
        ),
    );
    let out = o.stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["/dev/sda", "/dev/sdb", "/dev/sda1"]);
    assert_eq!(lines.last(), Some(&"false"));
    assert!(
        o.stderr.contains("read-only"),
        "add-cdrom adds read-only: {}",
        o.stderr
    );
    // The readahead reached the drive's host node (blockdev(8) reads it there).
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "run\nblockdev-setra /dev/sda 4096\n!blockdev --getra $(losetup -j {} -n -O NAME)\n",
            img.display()
        ),
    );
    assert_eq!(o.ok(), "4096\n");
}
