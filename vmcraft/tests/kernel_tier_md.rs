//! The kernel test tier (`cargo xtask test-kernel`), or a host with md: Linux
//! software RAID arrays made, assembled, described and stopped for real.
//!
//! A session makes a RAID1 of two partitions (`md_create`), which `md_detail`,
//! `md_stat` and the host's `mdadm --examine` describe alike, puts a filesystem
//! on it and stops it. A read-only session of that image sees the members as
//! `linux_raid_member` and nothing to mount until `md_assemble` assembles the
//! array (read-only); it is then listed as a filesystem, mounted and read, not
//! stopped while mounted, and gone after shutdown, the image byte-identical. An
//! array with a member outside the session is not assembled, and says why. A
//! session killed with an array assembled has it stopped by the reaper.

mod kernel_tier_storage_support;

use std::io::{BufRead, BufReader};
use std::path::Path;

use kernel_tier_storage_support::*;
use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_root, require_tool};

/// The crash test's child: its directory.
const CHILD_DIR: &str = "VMCRAFT_MD_CRASH_DIR";

fn can_run(what: &str) -> bool {
    require_root(what)
        && ["mdadm", "mkfs.ext4", "sgdisk"]
            .iter()
            .all(|t| require_tool(t))
        && require_kernel_feature("md (/proc/mdstat)", Path::new("/proc/mdstat").exists())
}

/// The md arrays of the kernel with a member on `loop_name`.
fn md_on(loop_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/block").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("md") {
            continue;
        }
        let on = std::fs::read_dir(e.path().join("slaves"))
            .map(|d| {
                d.flatten()
                    .any(|s| s.file_name().to_string_lossy().starts_with(loop_name))
            })
            .unwrap_or(false);
        if on {
            out.push(name);
        }
    }
    out
}

/// Stop every md array on `loop_name`'s partitions until none comes back (the
/// host's udev assembles members again as an array stops).
fn stop_arrays_on(loop_name: &str) {
    for _ in 0..10 {
        settle();
        let arrays = md_on(loop_name);
        if arrays.is_empty() {
            return;
        }
        for md in arrays {
            let _ = output("mdadm", &["--stop", &format!("/dev/{md}")]);
        }
    }
    panic!(
        "md arrays on {loop_name} keep coming back: {:?}",
        md_on(loop_name)
    );
}

/// A RAID1 of partitions 1 and 2 of a new image, ext4 inside with `/inside`.
fn raid_image(env: &TestEnv) -> (std::path::PathBuf, String) {
    let img = env.sparse_image("md.img", 96 * MIB);
    gpt(&img, &[40, 40]);
    let g = launched(env, &[&img]);
    g.md_create("data", &["/dev/sda1", "/dev/sda2"], &Default::default())
        .unwrap();
    let mds = g.list_md_devices().unwrap();
    assert_eq!(mds.len(), 1, "{mds:?}");
    let md = mds[0].clone();
    let detail: std::collections::BTreeMap<String, String> =
        g.md_detail(&md).unwrap().into_iter().collect();
    assert_eq!(detail["level"], "raid1", "{detail:?}");
    assert_eq!(detail["devices"], "2", "{detail:?}");
    assert!(detail["name"].ends_with("data"), "{detail:?}");
    assert!(
        !detail
            .keys()
            .chain(detail.values())
            .any(|s| s.contains("loop")),
        "host names in {detail:?}"
    );
    let mut stat = g.md_stat(&md).unwrap();
    stat.sort_by_key(|s| s.mdstat_index);
    let members: Vec<(&str, i32, &str)> = stat
        .iter()
        .map(|s| {
            (
                s.mdstat_device.as_str(),
                s.mdstat_index,
                s.mdstat_flags.as_str(),
            )
        })
        .collect();
    assert_eq!(members, [("/dev/sda1", 0, ""), ("/dev/sda2", 1, "")]);
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "linux_raid_member");
    g.mkfs("ext4", &md, &Default::default()).unwrap();
    g.mount(&md, "/").unwrap();
    g.write("/inside", b"in the mirror").unwrap();
    // A guest whose root is the array, named as the guest names it (/dev/md0)
    // in its fstab and mdadm.conf.
    g.mkdir_p("/etc/mdadm").unwrap();
    g.write("/etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n")
        .unwrap();
    g.write("/etc/hostname", b"raidhost\n").unwrap();
    g.write("/etc/fstab", b"/dev/md0 / ext4 defaults 0 1\n")
        .unwrap();
    g.write(
        "/etc/mdadm/mdadm.conf",
        format!(
            "DEVICE partitions\nARRAY /dev/md0 metadata=1.2 UUID={}\n",
            detail["uuid"]
        )
        .as_bytes(),
    )
    .unwrap();
    let e = g.md_stop(&md).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    g.umount_all().unwrap();
    g.md_stop(&md).unwrap();
    assert_eq!(g.list_md_devices().unwrap(), Vec::<String>::new());
    let loop_name = kernel_name(&g.host_path("/dev/sda").unwrap());
    g.shutdown().unwrap();
    assert_eq!(md_on(&loop_name), Vec::<String>::new());
    (img, detail["uuid"].clone())
}

#[test]
fn md_arrays_are_created_assembled_described_and_stopped() {
    if !can_run("the md test") {
        return;
    }
    let env = TestEnv::new("kt-md");
    let (img, uuid) = raid_image(&env);
    // The host's mdadm sees the array VMCraft made.
    {
        let dev = env.loop_device(&img);
        let p = partitions(dev.path(), 2);
        for part in &p {
            let out = run("mdadm", &["--examine", "--export", s(part)]);
            assert!(out.contains(&format!("MD_UUID={uuid}")), "{out}");
        }
        // The host's udev assembles the members as the partitions appear: stop
        // that array, or the session below would find the UUID taken.
        stop_arrays_on(&kernel_name(dev.path()));
    }
    let before = sha256(&img);

    let g = VMCraft::with_config(config(&env));
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let loop_name = kernel_name(&g.host_path("/dev/sda").unwrap());
    assert_eq!(g.list_filesystems().unwrap(), []);
    let mds = g.md_assemble().unwrap();
    assert_eq!(mds.len(), 1, "{mds:?}");
    let md = &mds[0];
    assert_eq!(g.list_md_devices().unwrap(), mds);
    // Assembled again: the running array, not a second one.
    assert_eq!(&g.md_assemble().unwrap(), &mds);
    let kernel = md.trim_start_matches("/dev/");
    let state = std::fs::read_to_string(format!("/sys/block/{kernel}/md/array_state")).unwrap();
    assert_eq!(state.trim(), "readonly");
    assert_eq!(
        g.list_filesystems().unwrap(),
        [(md.clone(), "ext4".to_string())]
    );
    // Inspection finds the root on the array and maps the guest's /dev/md0.
    assert_eq!(g.inspect_os().unwrap(), mds);
    assert_eq!(g.inspect_get_hostname(md).unwrap(), "raidhost");
    assert_eq!(
        g.inspect_get_mountpoints(md).unwrap(),
        [("/".to_string(), md.clone())]
    );
    g.mount_ro(md, "/").unwrap();
    assert_eq!(g.cat("/inside").unwrap(), "in the mirror");
    assert_eq!(g.md_stop(md).unwrap_err().kind(), ErrorKind::Busy);
    g.umount_all().unwrap();
    // Not an array: refused.
    let e = g.md_detail("/dev/sda1").unwrap_err();
    assert!(e.to_string().contains("not an md array"), "{e}");
    let e = g.md_stat("/dev/md99").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchDevice, "{e}");
    g.shutdown().unwrap();
    drop(g);
    assert_eq!(
        md_on(&loop_name),
        Vec::<String>::new(),
        "left after shutdown"
    );
    assert_eq!(
        sha256(&img),
        before,
        "the read-only session changed the image"
    );
}

#[test]
fn an_array_with_a_member_elsewhere_is_not_assembled() {
    if !can_run("the md member test") {
        return;
    }
    let env = TestEnv::new("kt-md-half");
    let a = env.sparse_image("a.img", 48 * MIB);
    let b = env.sparse_image("b.img", 48 * MIB);
    gpt(&a, &[40]);
    gpt(&b, &[40]);
    {
        let g = launched(&env, &[&a, &b]);
        g.md_create("split", &["/dev/sda1", "/dev/sdb1"], &Default::default())
            .unwrap();
        g.shutdown().unwrap();
    }
    let before = sha256(&a);
    let g = VMCraft::with_config(config(&env));
    g.add_drive_ro(&a).unwrap();
    g.launch().unwrap();
    let e = g.md_assemble().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(
        e.to_string()
            .contains("has 1 of its 2 members here (/dev/sda1)"),
        "{e}"
    );
    assert_eq!(g.list_md_devices().unwrap(), Vec::<String>::new());
    g.shutdown().unwrap();
    assert_eq!(sha256(&a), before);
}

#[test]
fn a_killed_sessions_array_is_stopped_by_the_reaper() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let g = VMCraft::with_config(Config::builder().tmpdir(&dir).build());
        g.add_drive_ro(Path::new(&dir).join("md.img")).unwrap();
        g.launch().unwrap();
        let mds = g.md_assemble().unwrap();
        println!(
            "ASSEMBLED {} {}",
            kernel_name(&g.host_path("/dev/sda").unwrap()),
            mds[0]
        );
        std::thread::sleep(std::time::Duration::from_secs(3600));
        return;
    }
    if !can_run("the md crash test") {
        return;
    }
    let env = TestEnv::new("kt-md-crash");
    let (_img, _) = raid_image(&env);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_killed_sessions_array_is_stopped_by_the_reaper",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_DIR, env.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (loop_name, md) = loop {
        let line = lines
            .next()
            .expect("the child ended before assembling")
            .unwrap();
        if let Some(l) = line.strip_prefix("ASSEMBLED ") {
            let (a, b) = l.split_once(' ').unwrap();
            break (a.to_string(), b.to_string());
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let kernel = md.trim_start_matches("/dev/").to_string();
    assert_eq!(md_on(&loop_name), std::slice::from_ref(&kernel));
    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    let lines = report.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("stopped {kernel} (md array on"))),
        "{lines:#?}"
    );
    assert_eq!(md_on(&loop_name), Vec::<String>::new());
}
