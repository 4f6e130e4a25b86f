//! `mount_local`, `mount_local_run`, `umount_local` on a real guest: the
//! guest tree (root and a submount) appears at a host directory, nosuid,nodev,
//! writable or read-only as asked; `mount_local_run` waits in one thread until
//! `umount_local` in another, or until the mount is removed from outside; a
//! second local mount, a directory that is not empty, a file, `/`, a mount
//! point, the session's own directory and unknown options are refused with
//! nothing mounted; `umount_all` and `shutdown` remove a local mount left in
//! place; and a session killed with a local mount has it removed by the reaper,
//! which says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vmcraft::{Config, ErrorKind, MountLocalOpts, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

/// The crash test's child: its directory.
const CHILD_DIR: &str = "VMCRAFT_MOUNT_LOCAL_CRASH_DIR";

/// The mountinfo line of the mount at `path`, if any: (options, fstype).
fn mount_at(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let sep = f.iter().position(|w| *w == "-")?;
        (Path::new(f[4]) == path).then(|| (f[5].to_string(), f[sep + 1].to_string()))
    })
}

/// A guest: GPT, ext4 root with /etc/hostname, ext4 /boot with a file.
fn guest(env: &TestEnv) -> PathBuf {
    let img = env.sparse_image("local.img", 96 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    g.part_init("/dev/sda", "gpt").unwrap();
    g.part_add("/dev/sda", "p", 2048, 65535).unwrap();
    g.part_add("/dev/sda", "p", 65536, -34).unwrap();
    g.mkfs("ext4", "/dev/sda1", &Default::default()).unwrap();
    g.mkfs("ext4", "/dev/sda2", &Default::default()).unwrap();
    g.mount("/dev/sda2", "/").unwrap();
    g.mkdir_p("/etc").unwrap();
    g.mkdir_p("/boot").unwrap();
    g.write("/etc/hostname", b"localguest\n").unwrap();
    g.mount("/dev/sda1", "/boot").unwrap();
    g.write("/boot/kernel", b"not really a kernel").unwrap();
    g.umount_all().unwrap();
    g.shutdown().unwrap();
    img
}

fn mounted(tmpdir: &Path, img: &Path, readonly: bool) -> VMCraft {
    let g = VMCraft::with_config(Config::builder().tmpdir(tmpdir).build());
    if readonly {
        g.add_drive_ro(img).unwrap();
    } else {
        g.add_drive(img).unwrap();
    }
    g.launch().unwrap();
    if readonly {
        g.mount_ro("/dev/sda2", "/").unwrap();
        g.mount_ro("/dev/sda1", "/boot").unwrap();
    } else {
        g.mount("/dev/sda2", "/").unwrap();
        g.mount("/dev/sda1", "/boot").unwrap();
    }
    g
}

#[test]
fn the_guest_tree_shows_on_a_host_directory_until_unmounted() {
    if !require_root("mounts") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("mount-local");
    let img = guest(&env);
    let local = env.path().join("local");
    std::fs::create_dir(&local).unwrap();

    // Read-write: the host reads the tree, submount included, and writes land
    // in the guest.
    let g = Arc::new(mounted(env.path(), &img, false));
    g.mount_local(local.to_str().unwrap(), &Default::default())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(local.join("etc/hostname")).unwrap(),
        "localguest\n"
    );
    assert_eq!(
        std::fs::read(local.join("boot/kernel")).unwrap(),
        b"not really a kernel"
    );
    let (opts, fstype) = mount_at(&local).expect("mounted");
    assert_eq!(fstype, "ext4");
    for o in ["nosuid", "nodev", "rw"] {
        assert!(opts.split(',').any(|x| x == o), "{opts}");
    }
    std::fs::write(local.join("etc/motd"), "from the host\n").unwrap();
    assert_eq!(g.cat("/etc/motd").unwrap(), "from the host\n");
    // One at a time.
    let other = env.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let e = g
        .mount_local(other.to_str().unwrap(), &Default::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(mount_at(&other), None);
    // The guest's filesystems stay while the copy holds them.
    let e = g.umount("/boot").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.to_string().contains("umount_local first"), "{e}");
    // In use on the host: not pulled away.
    let open = std::fs::File::open(local.join("boot/kernel")).unwrap();
    let e = g.umount_local(false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(mount_at(&local).is_some());
    drop(open);
    // mount_local_run waits in a thread until umount_local in this one.
    let runner = {
        let g = g.clone();
        std::thread::spawn(move || g.mount_local_run())
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!runner.is_finished(), "mount_local_run returned early");
    g.umount_local(false).unwrap();
    runner.join().unwrap().unwrap();
    assert_eq!(mount_at(&local), None);
    assert!(std::fs::read_dir(&local).unwrap().next().is_none());
    let e = g.umount_local(false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(g.mount_local_run().is_err());

    // Unmounted from outside: mount_local_run returns, and the handle knows.
    g.mount_local(local.to_str().unwrap(), &Default::default())
        .unwrap();
    let runner = {
        let g = g.clone();
        std::thread::spawn(move || g.mount_local_run())
    };
    nix::mount::umount2(&local, nix::mount::MntFlags::MNT_DETACH).unwrap();
    runner.join().unwrap().unwrap();
    // Read-only over a writable session: the submount too.
    g.mount_local(
        local.to_str().unwrap(),
        &MountLocalOpts {
            readonly: true,
            ..Default::default()
        },
    )
    .unwrap();
    let e = std::fs::write(local.join("boot/new"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    assert!(!g.exists("/boot/new").unwrap());
    // umount_all takes the local mount first, so the guest's filesystems go.
    g.umount_all().unwrap();
    assert_eq!(mount_at(&local), None);
    g.shutdown().unwrap();
    drop(g);

    // Read-only: writes on the host fail.
    let before = {
        let o = std::process::Command::new("sha256sum")
            .arg(&img)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let g = mounted(env.path(), &img, true);
    g.mount_local(
        local.to_str().unwrap(),
        &MountLocalOpts {
            readonly: true,
            options: Some("allow_other".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (opts, _) = mount_at(&local).unwrap();
    assert!(opts.split(',').any(|x| x == "ro"), "{opts}");
    let (opts, _) = mount_at(&local.join("boot")).unwrap();
    assert!(opts.split(',').any(|x| x == "ro"), "/boot: {opts}");
    let e = std::fs::write(local.join("etc/new"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    // Shutdown with the local mount still there removes it.
    g.shutdown().unwrap();
    assert_eq!(mount_at(&local), None);
    drop(g);
    let after = {
        let o = std::process::Command::new("sha256sum")
            .arg(&img)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert_eq!(before, after, "the read-only session changed the image");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn bad_local_mount_points_are_refused_with_nothing_mounted() {
    if !require_root("mounts") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("mount-local-bad");
    let img = guest(&env);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let empty = env.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    // Nothing mounted on / of the guest yet.
    let e = g
        .mount_local(empty.to_str().unwrap(), &Default::default())
        .unwrap_err();
    assert!(e.to_string().contains("nothing is mounted on /"), "{e}");
    g.mount_ro("/dev/sda2", "/").unwrap();
    let full = env.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep"), "host data").unwrap();
    let file = env.path().join("file");
    std::fs::write(&file, "").unwrap();
    let session_dir = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vmcraft-")
        })
        .expect("the session directory");
    // An empty directory inside the session's, and a mount point.
    let inside = session_dir.join("local-here");
    std::fs::create_dir(&inside).unwrap();
    let tmpfs = env.path().join("tmpfs");
    std::fs::create_dir(&tmpfs).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &tmpfs,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    for (dir, why) in [
        (inside.clone(), "inside the session's own directory"),
        (tmpfs.clone(), "a mount point already"),
        (full.clone(), "not an empty directory"),
        (file.clone(), "not a directory"),
        (env.path().join("missing"), "cannot be resolved"),
        (PathBuf::from("/"), "not the host's root"),
        (PathBuf::from("/proc"), "not an empty directory"),
        (session_dir.clone(), "not an empty directory"),
    ] {
        let e = g
            .mount_local(dir.to_str().unwrap(), &Default::default())
            .unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidArgument,
            "{}: {e}",
            dir.display()
        );
        assert!(e.to_string().contains(why), "{}: {e}", dir.display());
    }
    let e = g
        .mount_local(
            empty.to_str().unwrap(),
            &MountLocalOpts {
                options: Some("allow_other,exec".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("not an option a bind mount takes"),
        "{e}"
    );
    for d in [&empty, &full, &session_dir, &inside] {
        assert_eq!(mount_at(d), None, "{}", d.display());
    }
    nix::mount::umount2(&tmpfs, nix::mount::MntFlags::empty()).unwrap();
    std::fs::remove_dir(&inside).unwrap();
    assert_eq!(
        std::fs::read_to_string(full.join("keep")).unwrap(),
        "host data"
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_killed_sessions_local_mount_is_removed_by_the_reaper() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let dir = PathBuf::from(dir);
        let g = mounted(&dir, &dir.join("local.img"), true);
        g.mount_local(dir.join("local").to_str().unwrap(), &Default::default())
            .unwrap();
        println!("MOUNTED");
        std::thread::sleep(std::time::Duration::from_secs(3600));
        return;
    }
    if !require_root("mounts") || !require_tool("mkfs.ext4") {
        return;
    }
    let env = TestEnv::new("mount-local-crash");
    let _img = guest(&env);
    let local = env.path().join("local");
    std::fs::create_dir(&local).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_killed_sessions_local_mount_is_removed_by_the_reaper",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_DIR, env.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("the child ended before mounting")
            .unwrap();
        if line == "MOUNTED" {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        mount_at(&local).is_some(),
        "the kernel keeps the mount after the kill"
    );
    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    let lines = report.lines();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "unmounted {} (the guest tree's local mount",
            local.display()
        ))),
        "{lines:#?}"
    );
    assert_eq!(mount_at(&local), None);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
