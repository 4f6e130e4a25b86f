//! Guest programs in the sandbox (`command`, `command_lines`, `sh`, `sh_lines`)
//! on a real guest image made of the host's own binaries (busybox-static and
//! dpkg-query, see `command_support`): results against the host's tools on the
//! same data, changes written through to the image, failures with their status
//! and stderr, the limits (timeout with nothing left behind, output cap), bad
//! arguments, a guest for another machine refused, and each escape attempt the
//! sandbox must stop: a host file by path, through `/proc/1/root`, through a
//! device node, by mounting; host processes; the host's loopback; module
//! loading; the kernel's settings in `/proc/sys`.

mod command_support;

use std::io::ErrorKind as IoKind;
use std::net::TcpListener;

use command_support::{
    PACKAGES, add_program, elf_header, guest, host, host_packages, processes_with, tree,
};
use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn ready() -> bool {
    require_root("mounting guest images")
        && require_tool("bwrap")
        && require_tool("busybox")
        && require_tool("mkfs.ext4")
}

/// A launched handle with `img` mounted on `/`.
fn session(env: &TestEnv, img: &std::path::Path) -> VMCraft {
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(img).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g
}

fn finish(env: &TestEnv, g: VMCraft) {
    g.shutdown().unwrap();
    drop(g);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn commands_run_in_the_guest_and_write_through() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("command-basic");
    let img = guest(env.path());
    let g = session(&env, &img);

    assert_eq!(
        g.command(&["/bin/echo", "hello", "world"]).unwrap(),
        "hello world\n"
    );
    // A bare name is looked up in the guest's PATH.
    assert_eq!(g.command(&["echo", "a  b"]).unwrap(), "a  b\n");
    assert_eq!(g.command_lines(&["echo", "x"]).unwrap(), ["x"]);
    assert_eq!(g.sh("echo one; echo two").unwrap(), "one\ntwo\n");
    assert_eq!(g.sh_lines("printf 'a\\n\\nb'").unwrap(), ["a", "", "b"]);
    assert!(g.sh_lines("true").unwrap().is_empty());
    // The guest's files, not the host's: /etc/os-release is the guest's.
    assert!(g.sh("cat /etc/os-release").unwrap().contains("test guest"));
    // Root, with the session's disk under its libguestfs name.
    assert_eq!(g.sh("id -u").unwrap(), "0\n");
    assert_eq!(g.sh("test -b /dev/sda && echo block").unwrap(), "block\n");
    let dev = g.sh("ls /dev").unwrap();
    for want in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "sda",
    ] {
        assert!(
            dev.lines().any(|l| l == want),
            "{want} missing from /dev: {dev}"
        );
    }
    assert!(
        !g.sh("ls /sys").unwrap().contains("block"),
        "the host's /sys is visible"
    );

    // dpkg-query of the guest lists the guest's packages, as the host's
    // dpkg-query does on the same database.
    let t = tree(&env.path().join("oracle"));
    let want = host_packages(&t);
    let got = g.sh_lines("dpkg-query -W -f '${Package}\\n'").unwrap();
    assert_eq!(got.join("\n") + "\n", want);
    assert_eq!(got, PACKAGES);

    // A change is written through to the image.
    g.sh("echo made-inside > /root/note; mkdir /root/d")
        .unwrap();
    assert_eq!(g.cat("/root/note").unwrap(), "made-inside\n");
    g.umount_all().unwrap();
    finish(&env, g);
    let listed = host(&["debugfs", "-R", "cat /root/note", img.to_str().unwrap()]);
    assert_eq!(listed, "made-inside\n");
}

#[test]
fn failures_limits_and_bad_arguments() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("command-fail");
    let img = guest(env.path());

    // Before launch, and with nothing mounted: refused.
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    assert!(g.command(&["true"]).is_err());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let e = g.command(&["true"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mount, "{}", e.chain());
    g.mount("/dev/sda", "/").unwrap();

    // A failing command: its status and stderr.
    let e = g
        .sh("echo partial; echo 'it went wrong' >&2; exit 3")
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("sh: /bin/sh: exit status 3: it went wrong"),
        "{text}"
    );
    let e = g.command(&["false"]).unwrap_err();
    assert_eq!(e.to_string(), "command: false: exit status 1");
    let e = g.command(&["/no/such/program"]).unwrap_err();
    assert!(e.to_string().contains("No such file or directory"), "{}", e);

    // Bad arguments.
    for (argv, want) in [
        (vec![], "passed an empty list"),
        (vec![""], "the program name is empty"),
        (vec!["echo", "a\0b"], "NUL"),
    ] {
        let e = g.command(&argv).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{argv:?}");
        assert!(e.to_string().contains(want), "{e}");
    }
    for (name, value) in [
        ("command_timeout", "soon"),
        ("command_timeout", "0"),
        ("command_output_max", "-1"),
    ] {
        g.set_backend_setting(name, value).unwrap();
        let e = g.command(&["true"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name}={value}: {e}");
        assert!(e.to_string().contains(name), "{e}");
        g.clear_backend_setting(name).unwrap();
    }

    // The output cap stops a command that prints without end.
    g.set_backend_setting("command_output_max", "10000")
        .unwrap();
    let e = g.sh("yes 0123456789").unwrap_err();
    assert!(
        e.to_string()
            .contains("output exceeds the limit of 10000 bytes"),
        "{}",
        e.chain()
    );
    // Under the cap, all of it.
    assert_eq!(g.sh("yes ab | head -n 1000").unwrap().len(), 3000);
    g.clear_backend_setting("command_output_max").unwrap();

    // The timeout kills the whole sandbox, background processes included, and
    // nothing is left when the call returns.
    g.set_backend_setting("command_timeout", "1").unwrap();
    let e = g.sh("sleep 987651 & sleep 987652").unwrap_err();
    assert!(
        e.to_string().contains("timed out after 1 s"),
        "{}",
        e.chain()
    );
    assert_eq!(processes_with("98765"), Vec::<String>::new());
    g.clear_backend_setting("command_timeout").unwrap();

    // A cancel of the handle stops a running command.
    let token = g.cancel_token();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        token.cancel();
    });
    let e = g.sh("sleep 987653").unwrap_err();
    t.join().unwrap();
    assert!(e.is_cancelled(), "{}", e.chain());
    assert_eq!(processes_with("987653"), Vec::<String>::new());
    finish(&env, g);
}

#[test]
fn escape_attempts_fail() {
    if !ready() || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("command-escape");
    // A host file, and a host block device whose content is a sentinel.
    let sentinel = "host-secret-5a1f";
    let host_file = env.path().join("sentinel");
    std::fs::write(&host_file, sentinel).unwrap();
    let disk = env.path().join("host-disk.img");
    std::fs::write(&disk, sentinel.repeat(4096)).unwrap();
    let lo = env.loop_device(&disk);
    let node = lo.path().to_path_buf();
    let rdev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&node).unwrap().rdev()
    };
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    // The guest carries a node for that device.
    let t = tree(env.path());
    host(&[
        "mknod",
        t.join("hostdisk").to_str().unwrap(),
        "b",
        &major.to_string(),
        &minor.to_string(),
    ]);
    let img = command_support::image_of(env.path(), "guest.img", &t);
    let g = session(&env, &img);
    let hp = host_file.display().to_string();

    // A host file by path, and through /proc/1/root.
    for path in [hp.clone(), format!("/proc/1/root{hp}")] {
        let r = g.sh(&format!("cat {path}"));
        assert!(
            r.as_ref()
                .is_err_and(|e| e.to_string().contains("No such file")),
            "{path}: {r:?}"
        );
    }
    assert_eq!(g.sh("readlink /proc/1/root").unwrap(), "/\n");
    // Through a device node: the guest's node cannot be opened (nodev), and no
    // new node can be made.
    let r = g.sh("head -c 16 /hostdisk");
    assert!(
        r.as_ref().is_err_and(|e| e.to_string().contains("denied")),
        "{r:?}"
    );
    let r = g.sh(&format!("mknod /tmp/d b {major} {minor}"));
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("not permitted")),
        "{r:?}"
    );
    // By mounting: the host's device, a fresh proc, a bind of /.
    for cmd in [
        "mount -t ext4 /dev/sda /mnt",
        "mount -t proc proc /mnt",
        "mount -o bind / /mnt",
        "mount -t tmpfs none /mnt",
    ] {
        let r = g.sh(cmd);
        assert!(r.is_err(), "{cmd}: {r:?}");
    }
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains("/mnt ")
    );
    // A user namespace, where mounting would be allowed: refused.
    let r = g.command(&["chroot", "/", "true"]);
    assert!(r.is_ok(), "chroot inside the guest: {r:?}");
    let r = g.sh("unshare -U true");
    assert!(r.is_err(), "{r:?}");

    // Host processes are invisible: a marked host process is not seen.
    let mut marked = std::process::Command::new("sleep")
        .arg("987650")
        .spawn()
        .unwrap();
    let ps = g.sh("cat /proc/[0-9]*/cmdline").unwrap();
    assert!(!ps.contains("987650"), "{ps}");
    let pids: Vec<String> = g
        .sh("ls /proc")
        .unwrap()
        .lines()
        .filter(|l| l.bytes().all(|b| b.is_ascii_digit()))
        .map(String::from)
        .collect();
    assert!(
        pids.len() <= 4,
        "more processes than the sandbox's own: {pids:?}"
    );
    marked.kill().unwrap();
    marked.wait().unwrap();

    // The host's loopback cannot be reached.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = g.sh(&format!("echo hi | nc 127.0.0.1 {port}"));
    assert!(
        r.is_err(),
        "connected to the host's 127.0.0.1:{port}: {r:?}"
    );
    match listener.accept() {
        Err(e) if e.kind() == IoKind::WouldBlock => {}
        other => panic!("the host's listener got a connection: {other:?}"),
    }
    // Only a loopback interface.
    let links = g.sh("cat /proc/net/dev").unwrap();
    let ifaces: Vec<&str> = links
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{links}");

    // Loading a module: refused.
    g.write("/m.ko", &[0u8; 4096]).unwrap();
    let r = g.sh("insmod /m.ko");
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("not permitted")),
        "{r:?}"
    );

    // The kernel's settings: read-only, the host's unchanged.
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let r = g.sh("echo '|/tmp/evil' > /proc/sys/kernel/core_pattern");
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("Read-only")),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
    // The filters are on, no new privileges, only the kept capabilities.
    let status = g.sh("cat /proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(field("Seccomp:"), "2", "{status}");
    assert_eq!(field("Seccomp_filters:"), "2", "{status}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    let eff = u64::from_str_radix(&field("CapEff:"), 16).unwrap();
    for (bit, name) in [
        (21, "CAP_SYS_ADMIN"),
        (16, "CAP_SYS_MODULE"),
        (19, "CAP_SYS_PTRACE"),
        (17, "CAP_SYS_RAWIO"),
        (27, "CAP_MKNOD"),
        (2, "CAP_DAC_READ_SEARCH"),
        (12, "CAP_NET_ADMIN"),
    ] {
        assert_eq!(eff & (1 << bit), 0, "{name} kept: {status}");
    }
    assert_ne!(eff & 1, 0, "CAP_CHOWN dropped: {status}");
    // The host's name is not the guest's.
    assert_eq!(g.sh("hostname").unwrap(), "localhost\n");

    // The sentinel was never read.
    let out = g.sh("cat /proc/mounts; ls -la /dev /tmp").unwrap();
    assert!(!out.contains(sentinel));
    g.umount_all().unwrap();
    drop(lo);
    finish(&env, g);
}

#[test]
fn a_guest_for_another_machine_is_refused() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("command-arch");
    let t = tree(env.path());
    // /bin/sh is an aarch64 (or, on an aarch64 host, x86_64) binary, reached
    // through the guest's symlinks as on a merged-/usr guest.
    let other: u16 = if std::env::consts::ARCH == "aarch64" {
        62
    } else {
        183
    };
    std::fs::remove_file(t.join("bin/sh")).unwrap();
    std::fs::create_dir_all(t.join("usr/lib/other")).unwrap();
    std::fs::write(t.join("usr/lib/other/dash"), elf_header(other)).unwrap();
    std::os::unix::fs::symlink("/usr/lib/other/dash", t.join("bin/sh")).unwrap();
    let img = command_support::image_of(env.path(), "guest.img", &t);
    let g = session(&env, &img);
    let (guest, hostm) = if other == 183 {
        ("aarch64", "x86_64")
    } else {
        ("x86_64", "aarch64")
    };
    for r in [g.sh("true").map(drop), g.command(&["echo"]).map(drop)] {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{}", e.chain());
        let text = e.to_string();
        assert!(
            text.contains(&format!("for {guest}, this host is {hostm}")),
            "{text}"
        );
    }
    g.umount_all().unwrap();
    finish(&env, g);
}

/// The Debian 12 root with a kernel and initramfs-tools, made once with
/// debootstrap and kept under `target/command-test` (minutes the first time);
/// `None` (a loud skip) where debootstrap cannot run.
fn debian_tree() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/command-test/debian-kernel");
    let root = dir.join("root");
    if dir.join(".complete").exists() {
        return Some(root);
    }
    if !require_tool("debootstrap") {
        return None;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!(
        "making the Debian guest tree once (minutes): {}",
        root.display()
    );
    let st = std::process::Command::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=linux-image-amd64,initramfs-tools,zstd",
            "bookworm",
        ])
        .arg(&root)
        .arg("http://deb.debian.org/debian")
        .status()
        .unwrap();
    if !st.success() {
        // The network, not setup: a skip listed at the end of the run, also in
        // strict mode.
        vmcraft_block::testing::require_kernel_feature(
            "a reachable Debian mirror (debootstrap of Debian 12 failed)",
            false,
        );
        return None;
    }
    std::fs::write(dir.join(".complete"), b"").unwrap();
    Some(root)
}

/// The guest's initramfs files, as `lsinitramfs` inside the guest lists them.
fn initramfs_listing(g: &VMCraft) -> Vec<String> {
    g.sh_lines("lsinitramfs /boot/initrd.img-*").unwrap()
}

#[test]
fn debian_guest_regenerates_its_initramfs() {
    if !ready() || std::env::consts::ARCH != "x86_64" {
        return;
    }
    let Some(tree) = debian_tree() else {
        return;
    };
    let env = TestEnv::new("command-debian");
    let img = env.sparse_image("debian.img", 3 << 30);
    host(&[
        "mkfs.ext4",
        "-F",
        "-q",
        "-d",
        tree.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    let g = session(&env, &img);
    // The packages, as the guest's dpkg-query lists them: those of the tree.
    let packages = g.sh_lines("dpkg-query -W -f '${Package}\\n'").unwrap();
    let oracle = host(&[
        "dpkg-query",
        &format!("--admindir={}", tree.join("var/lib/dpkg").display()),
        "-W",
        "-f",
        "${Package}\n",
    ]);
    assert_eq!(packages.join("\n") + "\n", oracle);
    for p in ["linux-image-amd64", "initramfs-tools", "dpkg"] {
        assert!(packages.iter().any(|x| x == p), "{p} missing");
    }

    // Only the modules the configuration lists: first without virtio_blk ...
    g.sh("sed -i 's/^MODULES=.*/MODULES=list/' /etc/initramfs-tools/initramfs.conf")
        .unwrap();
    g.sh("sed -i '/virtio/d' /etc/initramfs-tools/modules")
        .unwrap();
    g.command(&["update-initramfs", "-u", "-k", "all"]).unwrap();
    let before = initramfs_listing(&g);
    assert!(
        before.iter().any(|l| l.ends_with("/init") || l == "init"),
        "{before:?}"
    );
    assert!(
        !before.iter().any(|l| l.contains("virtio_blk")),
        "{before:?}"
    );
    let sum_before = g.sh("cat /boot/initrd.img-* | md5sum").unwrap();

    // ... then asking for it.
    g.write_append("/etc/initramfs-tools/modules", b"virtio_blk\n")
        .unwrap();
    g.command(&["update-initramfs", "-u", "-k", "all"]).unwrap();
    let after = initramfs_listing(&g);
    assert!(
        after.iter().any(|l| l.contains("virtio_blk.ko")),
        "{after:?}"
    );
    assert_ne!(g.sh("cat /boot/initrd.img-* | md5sum").unwrap(), sum_before);
    g.umount_all().unwrap();
    finish(&env, g);

    // The new initramfs is in the image.
    let g = session(&env, &img);
    assert!(
        initramfs_listing(&g)
            .iter()
            .any(|l| l.contains("virtio_blk.ko"))
    );
    g.umount_all().unwrap();
    finish(&env, g);
}

/// A label as getfattr(1) reads it on the host (the oracle), or `None`.
fn host_label(path: &std::path::Path) -> Option<String> {
    let o = std::process::Command::new("getfattr")
        .args(["-h", "--only-values", "-n", "security.selinux"])
        .arg(path)
        .output()
        .unwrap();
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .trim_end_matches('\0')
            .to_string()
    })
}

#[test]
fn selinux_relabel_sets_the_guest_policys_labels() {
    if !ready() || !require_tool("setfiles") || !require_tool("getfattr") {
        return;
    }
    let env = TestEnv::new("command-selinux");
    let t = tree(env.path());
    add_program(&t, "/usr/sbin/setfiles");
    std::fs::create_dir_all(t.join("etc/selinux")).unwrap();
    std::fs::create_dir_all(t.join("var/log")).unwrap();
    std::fs::write(
        t.join("etc/selinux/fc"),
        "/.*\tsystem_u:object_r:default_t:s0\n\
         /etc(/.*)?\tsystem_u:object_r:etc_t:s0\n\
         /bin/.*\tsystem_u:object_r:bin_t:s0\n\
         /var/log(/.*)?\tsystem_u:object_r:var_log_t:s0\n\
         /dev(/.*)?\tsystem_u:object_r:device_t:s0\n",
    )
    .unwrap();
    std::fs::write(t.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    std::fs::write(t.join("var/log/a b"), "").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", t.join("etc/link")).unwrap();
    // The oracle: the host's setfiles on a copy of the same tree.
    let oracle = env.path().join("oracle");
    host(&["cp", "-a", t.to_str().unwrap(), oracle.to_str().unwrap()]);
    let o = oracle.to_str().unwrap();
    host(&["setfiles", "-F", "-r", o, &format!("{o}/etc/selinux/fc"), o]);
    let img = command_support::image_of(env.path(), "guest.img", &t);
    let g = session(&env, &img);

    // Bad arguments, nothing changed.
    for (spec, path, want) in [
        ("etc/selinux/fc", "/", "absolute"),
        ("/etc/selinux/none", "/", "no such file"),
        ("/etc/selinux/fc", "/nowhere", "no such file"),
    ] {
        let e = g.selinux_relabel(spec, path, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    assert!(g.lgetxattr("/etc/passwd", "security.selinux").is_err());

    g.selinux_relabel("/etc/selinux/fc", "/", false).unwrap();
    let label = |p: &str| {
        g.lgetxattr(p, "security.selinux").ok().map(|v| {
            String::from_utf8_lossy(&v)
                .trim_end_matches('\0')
                .to_string()
        })
    };
    for p in [
        "/",
        "/etc",
        "/etc/passwd",
        "/etc/link",
        "/bin/busybox",
        "/bin/sh",
        "/var/log/a b",
        "/root",
    ] {
        let want = host_label(&oracle.join(p.trim_start_matches('/')));
        assert!(want.is_some(), "the oracle left {p} unlabelled");
        assert_eq!(label(p), want, "{p}");
    }
    // /dev is left alone.
    assert_eq!(label("/dev"), None);

    // Without force, a label whose type is right is kept; with force, reset.
    g.lsetxattr(
        "security.selinux",
        b"unconfined_u:object_r:etc_t:s0\0",
        31,
        "/etc/passwd",
    )
    .unwrap();
    g.selinux_relabel("/etc/selinux/fc", "/etc", false).unwrap();
    assert_eq!(
        label("/etc/passwd").unwrap(),
        "unconfined_u:object_r:etc_t:s0"
    );
    g.selinux_relabel("/etc/selinux/fc", "/etc", true).unwrap();
    assert_eq!(label("/etc/passwd").unwrap(), "system_u:object_r:etc_t:s0");
    g.umount_all().unwrap();
    finish(&env, g);
}

#[test]
fn process_and_memory_limits() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("command-limits");
    let img = guest(env.path());
    let g = session(&env, &img);
    // 30 background processes: fine without a limit; under a limit of 10 the
    // forks past it fail (busybox's shell stops at the first).
    let many = "for i in $(seq 30); do sleep 987640 & done; echo reached";
    assert_eq!(g.sh(many).unwrap(), "reached\n");
    g.set_backend_setting("command_pids_max", "10").unwrap();
    let e = g.sh(many).unwrap_err();
    assert!(e.to_string().contains("can't fork"), "{}", e.chain());
    g.clear_backend_setting("command_pids_max").unwrap();

    // 64 MiB in the shell's memory: fine without a limit, stopped under 32 MiB.
    let big = "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}";
    assert_eq!(g.sh(big).unwrap(), "67108864\n");
    g.set_backend_setting("command_memory_max", &(32u64 << 20).to_string())
        .unwrap();
    let e = g.sh(big).unwrap_err();
    // Where a cgroup holds the limit, the kernel's OOM killer stops it and the
    // error says so; under RLIMIT_DATA the shell's allocation fails.
    let text = e.to_string();
    assert!(
        text.starts_with("sh: /bin/sh: killed for want of memory (the limit is 33554432 bytes)")
            || text.starts_with("sh: /bin/sh: exit status"),
        "{}",
        e.chain()
    );
    g.clear_backend_setting("command_memory_max").unwrap();
    assert_eq!(processes_with("987640"), Vec::<String>::new());
    g.umount_all().unwrap();
    finish(&env, g);
}

#[test]
fn what_a_guest_program_changes_is_not_answered_from_caches() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("command-caches");
    let img = guest(env.path());
    let second = env.sparse_image("second.img", 16 << 20);
    host(&[
        "mkfs.ext4",
        "-F",
        "-q",
        "-L",
        "before",
        second.to_str().unwrap(),
    ]);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.add_drive(&second).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    // Probed (and cached) before the guest program runs.
    assert_eq!(g.vfs_type("/dev/sdb").unwrap(), "ext4");
    assert_eq!(g.vfs_label("/dev/sdb").unwrap(), "before");
    // The second disk is in the sandbox under its name, writable.
    g.sh("mkswap -L after /dev/sdb >/dev/null").unwrap();
    assert_eq!(g.vfs_type("/dev/sdb").unwrap(), "swap");
    assert_eq!(g.vfs_label("/dev/sdb").unwrap(), "after");
    // blkid(8) on the host agrees.
    assert_eq!(
        host(&[
            "blkid",
            "-p",
            "-o",
            "value",
            "-s",
            "TYPE",
            second.to_str().unwrap()
        ])
        .trim(),
        "swap"
    );
    g.umount_all().unwrap();
    finish(&env, g);
}

#[test]
fn the_sessions_lvs_are_in_the_sandbox() {
    if !ready() || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("command-lvs");
    let img = guest(env.path());
    let pv = env.sparse_image("pv.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.add_drive(&pv).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.pvcreate(&["/dev/sdb"]).unwrap();
    g.vgcreate("cmdvg", &["/dev/sdb"]).unwrap();
    g.lvcreate("data", "cmdvg", 8).unwrap();
    // The LV under its libguestfs name, a block device of its size, writable.
    assert_eq!(g.sh("test -b /dev/cmdvg/data && echo lv").unwrap(), "lv\n");
    assert_eq!(
        g.sh("dd if=/dev/cmdvg/data of=/dev/null bs=1M 2>&1 | grep -c 'records in'")
            .unwrap(),
        "1\n"
    );
    g.sh("mkswap -L inlv /dev/cmdvg/data >/dev/null").unwrap();
    assert_eq!(g.vfs_type("/dev/cmdvg/data").unwrap(), "swap");
    assert_eq!(g.vfs_label("/dev/cmdvg/data").unwrap(), "inlv");
    g.umount_all().unwrap();
    finish(&env, g);
}

#[test]
fn partitions_made_in_the_session_are_in_the_sandbox() {
    if !ready() {
        return;
    }
    let env = TestEnv::new("command-parts");
    let img = guest(env.path());
    let disk = env.sparse_image("disk.img", 32 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.add_drive(&disk).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    assert_eq!(g.sh("ls /dev | grep '^sd'").unwrap(), "sda\nsdb\n");
    g.part_disk("/dev/sdb", "mbr").unwrap();
    assert_eq!(g.sh("ls /dev | grep '^sd'").unwrap(), "sda\nsdb\nsdb1\n");
    // The partition's size inside is the one the host sees.
    let inside: u64 = g
        .sh("dd if=/dev/sdb1 bs=65536 2>/dev/null | wc -c")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(inside, g.blockdev_getsize64("/dev/sdb1").unwrap());
    g.umount_all().unwrap();
    finish(&env, g);
}
