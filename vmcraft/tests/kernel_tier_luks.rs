//! The kernel test tier (`cargo xtask test-kernel`), or a host with
//! device-mapper and dm-crypt: LUKS guests opened for real.
//!
//! A guest is built through VMCraft itself: partition 1 a LUKS2 container
//! holding the root filesystem (`/etc/hostname`, an fstab naming
//! `/dev/mapper/cryptroot`), partition 2 a LUKS2 container holding an LVM PV
//! with an LV (the layout of an encrypted Debian or Fedora install). The host's
//! own `cryptsetup` then reads what VMCraft wrote. A read-only session refuses a
//! wrong key (nothing made), opens both containers read-only, lists the mapping
//! and the LV inside as filesystems in libguestfs's order, inspects the guest
//! (root `/dev/mapper/cryptroot`), mounts and reads both, refuses to close a
//! mapping in use or to reuse a name, closes one, and leaves nothing behind at
//! shutdown: no mapping, no LV, no loop device, and the image byte-identical.
//! A session killed with SIGKILL while a mapping is open has it removed by the
//! reaper (`cleanup_stale_sessions`), which says so.

mod kernel_tier_storage_support;

use std::io::{BufRead, BufReader};
use std::path::Path;

use kernel_tier_storage_support::*;
use vmcraft::{Config, CryptsetupOpenOpts, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_root, require_tool};

const KEY: &str = "correct horse battery staple";

/// The child's instructions (the crash test runs this binary again).
const CHILD_DIR: &str = "VMCRAFT_LUKS_CRASH_DIR";

fn can_run(what: &str) -> bool {
    require_root(what)
        && ["cryptsetup", "lvm", "mkfs.ext4", "sgdisk"]
            .iter()
            .all(|t| require_tool(t))
        && require_kernel_feature(
            "device-mapper (/dev/mapper/control)",
            vmcraft_lvm::device_mapper_available(),
        )
}

/// Every device-mapper device on `loop_name`'s partitions, directly or through
/// another device-mapper device.
fn dm_on(loop_name: &str) -> Vec<Dm> {
    let all = dm_devices();
    let mut ours: Vec<String> = Vec::new();
    for _ in 0..4 {
        for d in &all {
            if !ours.contains(&d.kernel)
                && d.slaves
                    .iter()
                    .any(|s| s.starts_with(loop_name) || ours.contains(s))
            {
                ours.push(d.kernel.clone());
            }
        }
    }
    all.into_iter()
        .filter(|d| ours.contains(&d.kernel))
        .collect()
}

/// The guest, made through VMCraft: LUKS root on 1, LUKS + LVM on 2.
fn build_guest(env: &TestEnv) -> std::path::PathBuf {
    let img = env.sparse_image("luks-guest.img", 160 * MIB);
    gpt(&img, &[64, 80]);
    let g = launched(env, &[&img]);
    g.luks_format("/dev/sda1", KEY, 0).unwrap();
    g.cryptsetup_open("/dev/sda1", KEY, "cryptroot", &Default::default())
        .unwrap();
    g.mkfs("ext4", "/dev/mapper/cryptroot", &Default::default())
        .unwrap();
    g.mount("/dev/mapper/cryptroot", "/").unwrap();
    g.mkdir_p("/etc").unwrap();
    g.write(
        "/etc/os-release",
        b"NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .unwrap();
    g.write("/etc/hostname", b"lukshost\n").unwrap();
    g.write(
        "/etc/fstab",
        b"/dev/mapper/cryptroot / ext4 defaults 0 1\n/dev/encvg/data /srv ext4 defaults 0 2\n",
    )
    .unwrap();
    g.mkdir_p("/srv").unwrap();
    g.umount_all().unwrap();

    g.luks_format("/dev/sda2", KEY, 0).unwrap();
    g.cryptsetup_open("/dev/sda2", KEY, "cryptpv", &Default::default())
        .unwrap();
    g.pvcreate(&["/dev/mapper/cryptpv"]).unwrap();
    g.vgcreate("encvg", &["/dev/mapper/cryptpv"]).unwrap();
    g.lvcreate("data", "encvg", 24).unwrap();
    g.mkfs("ext4", "/dev/encvg/data", &Default::default())
        .unwrap();
    g.mount("/dev/encvg/data", "/").unwrap();
    g.write("/marker", b"inside LVM inside LUKS").unwrap();
    g.umount_all().unwrap();
    let loop_name = kernel_name(&g.host_path("/dev/sda").unwrap());
    g.shutdown().unwrap();
    drop(g);
    assert_eq!(dm_on(&loop_name), [], "shutdown left mappings or LVs");
    img
}

#[test]
fn a_luks_guest_opens_inspects_and_closes_with_lvm_inside() {
    if !can_run("the LUKS test") {
        return;
    }
    let env = TestEnv::new("kt-luks");
    let img = build_guest(&env);

    // The host's cryptsetup reads what VMCraft wrote.
    {
        let dev = env.loop_device(&img);
        let p = partitions(dev.path(), 2);
        let key = env.path().join("key");
        std::fs::write(&key, KEY).unwrap();
        run(
            "cryptsetup",
            &[
                "open",
                "--readonly",
                "--key-file",
                s(&key),
                s(&p[0]),
                "oracle-root",
            ],
        );
        let hostname = ext4_cat(Path::new("/dev/mapper/oracle-root"), "/etc/hostname");
        run("cryptsetup", &["close", "oracle-root"]);
        assert_eq!(hostname, b"lukshost\n");
        std::fs::remove_file(&key).unwrap();
    }
    let before = sha256(&img);

    let g = VMCraft::with_config(config(&env));
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    let loop_name = kernel_name(&g.host_path("/dev/sda").unwrap());
    assert_eq!(g.vfs_type("/dev/sda1").unwrap(), "crypto_LUKS");
    assert_eq!(g.list_filesystems().unwrap(), []);

    // A wrong key makes nothing.
    let e = g
        .cryptsetup_open("/dev/sda1", "wrong", "cryptroot", &Default::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.to_string()
            .starts_with("cryptsetup_open: /dev/sda1: no key slot opens with this key"),
        "{e}"
    );
    assert_eq!(dm_named("cryptroot"), None);

    // Read-only over a read-only drive, though not asked.
    g.luks_open("/dev/sda1", KEY, "cryptroot").unwrap();
    let root = dm_named("cryptroot").expect("the mapping");
    assert_eq!(
        std::fs::read_to_string(format!("/sys/block/{}/ro", root.kernel))
            .unwrap()
            .trim(),
        "1"
    );
    assert!(root.uuid.starts_with("CRYPT-LUKS2-"), "{root:?}");
    assert_eq!(
        g.host_path("/dev/mapper/cryptroot").unwrap(),
        Path::new(&format!("/dev/{}", root.kernel))
    );
    assert_eq!(g.list_dm_devices().unwrap(), ["/dev/mapper/cryptroot"]);
    assert!(g.device_on_readonly_drive("/dev/mapper/cryptroot"));
    let e = g.luks_open_ro("/dev/sda2", KEY, "cryptroot").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.to_string().contains("device already exists"), "{e}");

    g.cryptsetup_open(
        "/dev/sda2",
        KEY,
        "cryptpv",
        &CryptsetupOpenOpts {
            readonly: true,
            crypttype: Some("luks".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        g.list_dm_devices().unwrap(),
        ["/dev/mapper/cryptpv", "/dev/mapper/cryptroot"]
    );
    assert_eq!(g.pvs().unwrap(), ["/dev/mapper/cryptpv"]);
    assert_eq!(g.lvs().unwrap(), ["/dev/encvg/data"]);
    assert_eq!(
        g.list_filesystems().unwrap(),
        [
            ("/dev/mapper/cryptroot".to_string(), "ext4".to_string()),
            ("/dev/encvg/data".to_string(), "ext4".to_string()),
        ]
    );

    // Inspection finds the root inside LUKS, and the fstab's names.
    assert_eq!(g.inspect_os().unwrap(), ["/dev/mapper/cryptroot"]);
    let root_fs = "/dev/mapper/cryptroot";
    assert_eq!(g.inspect_get_hostname(root_fs).unwrap(), "lukshost");
    assert_eq!(g.inspect_get_distro(root_fs).unwrap(), "debian");
    let mut mps = g.inspect_get_mountpoints(root_fs).unwrap();
    mps.sort();
    assert_eq!(
        mps,
        [
            ("/".to_string(), "/dev/mapper/cryptroot".to_string()),
            ("/srv".to_string(), "/dev/encvg/data".to_string()),
        ]
    );
    g.mount_ro("/dev/mapper/cryptroot", "/").unwrap();
    g.mount_ro("/dev/encvg/data", "/srv").unwrap();
    assert_eq!(g.cat("/etc/hostname").unwrap(), "lukshost\n");
    assert_eq!(g.cat("/srv/marker").unwrap(), "inside LVM inside LUKS");

    // In use: not closed.
    for dev in ["/dev/mapper/cryptroot", "/dev/mapper/cryptpv"] {
        let e = g.cryptsetup_close(dev).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{dev}: {e}");
    }
    g.umount_all().unwrap();
    g.luks_close("/dev/mapper/cryptroot").unwrap();
    assert_eq!(dm_named("cryptroot"), None);
    assert_eq!(g.list_dm_devices().unwrap(), ["/dev/mapper/cryptpv"]);
    let e = g.cryptsetup_close("/dev/mapper/cryptroot").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchDevice, "{e}");

    // Shutdown closes the rest (the LV inside first).
    g.shutdown().unwrap();
    drop(g);
    assert_eq!(dm_on(&loop_name), [], "left after shutdown");
    assert_eq!(
        sha256(&img),
        before,
        "the read-only session changed the image"
    );
}

#[test]
fn a_killed_sessions_mapping_is_removed_by_the_reaper() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        // The child: open a mapping, say so, and wait to be killed.
        let img = Path::new(&dir).join("crash.img");
        let g = VMCraft::with_config(Config::builder().tmpdir(&dir).build());
        g.add_drive(&img).unwrap();
        g.launch().unwrap();
        g.cryptsetup_open("/dev/sda1", KEY, "crashmap", &Default::default())
            .unwrap();
        println!("OPENED {}", kernel_name(&g.host_path("/dev/sda").unwrap()));
        std::thread::sleep(std::time::Duration::from_secs(3600));
        return;
    }
    if !can_run("the LUKS crash test") {
        return;
    }
    let env = TestEnv::new("kt-luks-crash");
    let img = env.path().join("crash.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(48 * MIB)
        .unwrap();
    gpt(&img, &[40]);
    {
        let g = launched(&env, &[&img]);
        g.luks_format("/dev/sda1", KEY, 0).unwrap();
        g.shutdown().unwrap();
    }

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_killed_sessions_mapping_is_removed_by_the_reaper",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_DIR, env.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let loop_name = loop {
        let line = lines
            .next()
            .expect("the child ended before opening")
            .unwrap();
        if let Some(l) = line.strip_prefix("OPENED ") {
            break l.to_string();
        }
    };
    assert!(dm_named("crashmap").is_some());
    child.kill().unwrap();
    child.wait().unwrap();
    // The kernel keeps the mapping (and the loop device under it) after the kill.
    let left = dm_on(&loop_name);
    assert_eq!(
        left.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["crashmap"]
    );

    let report = vmcraft::cleanup_stale_sessions(Some(env.path())).unwrap();
    let lines = report.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("closed crashmap (device-mapper dm-")),
        "{lines:#?}"
    );
    assert_eq!(dm_named("crashmap"), None);
    assert_eq!(dm_on(&loop_name), []);
    let loops = run("losetup", &["-a"]);
    assert!(!loops.contains(s(&img)), "loop device left: {loops}");
}
