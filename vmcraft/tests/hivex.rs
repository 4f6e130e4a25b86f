//! The `hivex-*` calls on a real ext4 guest holding a SYSTEM hive built by
//! vmcraft-hivex's fixture (blank hive + `hivexregedit --merge`), with
//! `hivexsh` on the same bytes as the oracle: reads, writes and commits, every
//! bad argument refused with nothing changed, guest symlinks that cannot make
//! it read or write a host file, and read-only mounts and drives; and a hive
//! on NTFS (mkntfs, ntfs-3g) changed and read back after a remount.

use std::path::{Path, PathBuf};

use vmcraft::calls::hivex::HivexOpenOpts;
use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root};
use vmcraft_hivex::testing::{hivexsh, make_hive, require_hivex_tools};

const HIVE: &str = "/Windows/System32/config/SYSTEM";

const SYSTEM_REG: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="WIN-TEST01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\viostor]
"Start"=dword:00000000
"ImagePath"=hex(2):73,00,79,00,73,00,74,00,65,00,6d,00,33,00,32,00,00,00
"#;

fn skip(test: &str) -> bool {
    !require_root(test) || !require_hivex_tools(test)
}

/// A host SYSTEM hive in the test's directory.
fn host_hive(env: &TestEnv, name: &str) -> PathBuf {
    let p = env.path().join(name);
    make_hive(&p, "HKEY_LOCAL_MACHINE\\SYSTEM", SYSTEM_REG).unwrap();
    p
}

/// An ext4 guest with the hive at [`HIVE`], mounted on `/`.
fn guest(env: &TestEnv) -> (VMCraft, PathBuf) {
    let a = env.sparse_image("a.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir_p("/Windows/System32/config").unwrap();
    let host = host_hive(env, "SYSTEM.host");
    g.upload(&host, HIVE).unwrap();
    (g, a)
}

/// The guest file's bytes.
fn guest_bytes(g: &VMCraft, env: &TestEnv, path: &str) -> Vec<u8> {
    let out = env.path().join("download");
    g.download(path, &out).unwrap();
    std::fs::read(&out).unwrap()
}

/// The guest file, downloaded for hivexsh.
fn download(g: &VMCraft, env: &TestEnv, path: &str, name: &str) -> PathBuf {
    let out = env.path().join(name);
    g.download(path, &out).unwrap();
    out
}

fn names(g: &VMCraft, node: i64) -> String {
    g.hivex_node_children(node)
        .unwrap()
        .iter()
        .map(|c| g.hivex_node_name(c.hivex_node_h).unwrap() + "\n")
        .collect()
}

fn writable() -> HivexOpenOpts {
    HivexOpenOpts {
        write: true,
        ..Default::default()
    }
}

#[test]
fn reads_writes_and_commits_a_guest_hive() {
    if skip("reads_writes_and_commits_a_guest_hive") {
        return;
    }
    let env = TestEnv::new("hivex");
    let (g, _) = guest(&env);
    let host = download(&g, &env, HIVE, "oracle");
    let original = guest_bytes(&g, &env, HIVE);

    // Reading, against hivexsh on the same bytes.
    g.hivex_open(HIVE, HivexOpenOpts::default()).unwrap();
    let root = g.hivex_root().unwrap();
    assert_eq!(root, 0x1020);
    assert_eq!(g.hivex_node_name(root).unwrap(), "ROOT");
    assert_eq!(names(&g, root), hivexsh(&host, false, "ls\n").unwrap());
    let select = g.hivex_node_get_child(root, "select").unwrap();
    assert_ne!(select, 0);
    assert_eq!(g.hivex_node_parent(select).unwrap(), root);
    let cur = g.hivex_node_get_value(select, "CURRENT").unwrap();
    assert_eq!(g.hivex_value_key(cur).unwrap(), "Current");
    assert_eq!(g.hivex_value_type(cur).unwrap(), 4);
    assert_eq!(g.hivex_value_value(cur).unwrap(), [1, 0, 0, 0]);
    let cs = g.hivex_node_get_child(root, "ControlSet001").unwrap();
    let services = g.hivex_node_get_child(cs, "Services").unwrap();
    let viostor = g.hivex_node_get_child(services, "viostor").unwrap();
    let values: Vec<String> = g
        .hivex_node_values(viostor)
        .unwrap()
        .iter()
        .map(|v| g.hivex_value_key(v.hivex_value_h).unwrap())
        .collect();
    assert_eq!(values, ["Start", "ImagePath"]);
    let ip = g.hivex_node_get_value(viostor, "ImagePath").unwrap();
    assert_eq!(g.hivex_value_type(ip).unwrap(), 2);
    assert_eq!(g.hivex_value_string(ip).unwrap(), "system32");
    assert_eq!(g.hivex_value_utf8(ip).unwrap(), "system32");
    let control = g.hivex_node_get_child(cs, "Control").unwrap();
    let cn = g.hivex_node_get_child(control, "ComputerName").unwrap();
    let cn = g.hivex_node_get_child(cn, "ComputerName").unwrap();
    let v = g.hivex_node_get_value(cn, "ComputerName").unwrap();
    assert_eq!(
        g.hivex_value_string(v).unwrap() + "\n",
        vmcraft_hivex::testing::hivexget(
            &host,
            "ControlSet001\\Control\\ComputerName\\ComputerName",
            Some("ComputerName")
        )
        .unwrap()
    );
    // Missing children and values are 0, as libguestfs answers.
    assert_eq!(g.hivex_node_get_child(root, "Nope").unwrap(), 0);
    assert_eq!(g.hivex_node_get_value(root, "Nope").unwrap(), 0);

    // Bad arguments, each refused, nothing changed.
    for e in [
        g.hivex_node_name(-1).unwrap_err(),
        g.hivex_node_name(7).unwrap_err(),
        g.hivex_node_children(1 << 40).unwrap_err(),
        g.hivex_value_key(root).unwrap_err(),
        g.hivex_value_string(cur).unwrap_err(),
        g.hivex_node_parent(root).unwrap_err(),
        // Not opened for writing.
        g.hivex_node_add_child(root, "X").unwrap_err(),
        g.hivex_node_set_value(root, "X", 4, &[1, 0, 0, 0])
            .unwrap_err(),
        g.hivex_node_delete_child(select).unwrap_err(),
        g.hivex_commit(None).unwrap_err(),
        g.hivex_commit(Some("/copy")).unwrap_err(),
    ] {
        let s = e.to_string();
        assert!(s.starts_with("hivex_"), "{s}");
    }
    let e = g.hivex_commit(None).unwrap_err().to_string();
    assert!(e.contains("not opened for writing"), "{e}");
    assert!(!g.exists("/copy").unwrap());
    assert_eq!(guest_bytes(&g, &env, HIVE), original);
    g.hivex_close().unwrap();
    // No hive open.
    for e in [
        g.hivex_close().unwrap_err(),
        g.hivex_root().map(|_| ()).unwrap_err(),
        g.hivex_commit(None).unwrap_err(),
    ] {
        assert!(e.to_string().contains("no hive is open"), "{e}");
    }

    // Writing: nothing reaches the guest before commit.
    g.hivex_open(HIVE, writable()).unwrap();
    let root = g.hivex_root().unwrap();
    let cs = g.hivex_node_get_child(root, "ControlSet001").unwrap();
    let services = g.hivex_node_get_child(cs, "Services").unwrap();
    let scsi = g.hivex_node_add_child(services, "vioscsi").unwrap();
    g.hivex_node_set_value(scsi, "Start", 4, &[3, 0, 0, 0])
        .unwrap();
    g.hivex_node_set_value(scsi, "Group", 1, &utf16z("SCSI miniport"))
        .unwrap();
    g.hivex_node_set_value(scsi, "Q", 11, &7u64.to_le_bytes())
        .unwrap();
    assert!(g.hivex_node_set_value(scsi, "T", -1, &[]).is_err());
    assert!(g.hivex_node_set_value(scsi, "T", 1 << 33, &[]).is_err());
    assert!(g.hivex_node_add_child(services, "VIOSCSI").is_err());
    let viostor = g.hivex_node_get_child(services, "viostor").unwrap();
    g.hivex_node_delete_child(viostor).unwrap();
    assert_eq!(guest_bytes(&g, &env, HIVE), original);
    assert!(g.hivex_commit(Some("relative")).is_err());
    g.hivex_commit(Some("/Windows/System32/config/SYSTEM.new"))
        .unwrap();
    // The opened file is left alone by a commit elsewhere...
    assert_eq!(guest_bytes(&g, &env, HIVE), original);
    g.hivex_commit(None).unwrap();
    g.hivex_close().unwrap();
    // ...and both now read, with hivexsh, as written.
    for path in [HIVE, "/Windows/System32/config/SYSTEM.new"] {
        let h = download(&g, &env, path, "after");
        assert_eq!(
            hivexsh(
                &h,
                false,
                "cd ControlSet001\\Services\nls\ncd vioscsi\nlsval\n"
            )
            .unwrap(),
            "vioscsi\n\"Start\"=dword:00000003\n\"Group\"=\"SCSI miniport\"\n\"Q\"=hex(11):07,00,00,00,00,00,00,00\n",
            "{path}"
        );
    }
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[test]
fn guest_symlinks_never_reach_host_files() {
    if skip("guest_symlinks_never_reach_host_files") {
        return;
    }
    let env = TestEnv::new("hivexlink");
    let (g, _) = guest(&env);
    // A valid hive on the host: were a guest symlink followed on the host,
    // opening it would succeed.
    let secret = host_hive(&env, "host-secret");
    let secret_bytes = std::fs::read(&secret).unwrap();
    let s = secret.to_str().unwrap();
    g.mkdir_p("/links").unwrap();
    g.ln_s(s, "/links/abs").unwrap();
    g.ln_s(&format!("../../../../../../../..{s}"), "/links/dotdot")
        .unwrap();
    let commit_through = |link: &str| {
        g.hivex_open(HIVE, writable()).unwrap();
        let root = g.hivex_root().unwrap();
        g.hivex_node_add_child(root, "Marker").unwrap();
        let r = g.hivex_commit(Some(link));
        g.hivex_close().unwrap();
        assert_eq!(std::fs::read(&secret).unwrap(), secret_bytes, "{link}");
        r
    };
    for link in ["/links/abs", "/links/dotdot"] {
        let e = g.hivex_open(link, writable()).unwrap_err();
        assert!(e.to_string().starts_with("hivex_open: open: "), "{e}");
        assert!(e.to_string().contains("No such file"), "{e}");
        // Committing through such a link resolves inside the guest, whose
        // directories are not there: refused, the host file untouched.
        assert!(commit_through(link).is_err());
    }
    // With the directories made in the guest, the commit lands there.
    g.mkdir_p(secret.parent().unwrap().to_str().unwrap())
        .unwrap();
    for link in ["/links/abs", "/links/dotdot"] {
        commit_through(link).unwrap();
        assert!(g.is_file(s).unwrap());
        g.rm(s).unwrap();
    }
    // A guest symlink inside the guest is followed inside it, as libguestfs does.
    g.ln_s("/Windows/System32/config/SYSTEM", "/links/inside")
        .unwrap();
    g.hivex_open("/links/inside", HivexOpenOpts::default())
        .unwrap();
    assert_eq!(g.hivex_root().unwrap(), 0x1020);
    // Not a regular file: a directory, a FIFO, a device.
    g.mkfifo(0o644, "/fifo").unwrap();
    g.mknod_c(0o644, 1, 3, "/null").unwrap();
    for p in ["/Windows", "/fifo", "/null", "/missing"] {
        let e = g.hivex_open(p, HivexOpenOpts::default()).unwrap_err();
        assert!(e.to_string().contains(p), "{e}");
    }
    // A failed open closed the hive open before it, as libguestfs does.
    assert!(g.hivex_root().is_err());

    // The hive path swapped for a symlink after the open: commit refuses.
    g.hivex_open(HIVE, writable()).unwrap();
    g.mv(HIVE, "/Windows/System32/config/SYSTEM.moved").unwrap();
    g.ln_s(s, HIVE).unwrap();
    let e = g.hivex_commit(None).unwrap_err();
    assert!(e.to_string().starts_with("hivex_commit: "), "{e}");
    g.rm(HIVE).unwrap();
    g.upload(&secret, HIVE).unwrap();
    let e = g.hivex_commit(None).unwrap_err();
    assert!(e.to_string().contains("no longer names"), "{e}");
    g.hivex_close().unwrap();
    assert_eq!(std::fs::read(&secret).unwrap(), secret_bytes);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn read_only_mounts_and_drives_are_not_written() {
    if skip("read_only_mounts_and_drives_are_not_written") {
        return;
    }
    let env = TestEnv::new("hivexro");
    let (g, image) = guest(&env);
    let original = guest_bytes(&g, &env, HIVE);
    g.umount_all().unwrap();
    // A read-only mount: the hive opens for writing (as in libguestfs),
    // changes stay in memory, and commit fails without changing anything.
    g.mount_ro("/dev/sda", "/").unwrap();
    g.hivex_open(HIVE, writable()).unwrap();
    let root = g.hivex_root().unwrap();
    g.hivex_node_add_child(root, "X").unwrap();
    let e = g.hivex_commit(None).unwrap_err();
    assert!(e.to_string().starts_with("hivex_commit: "), "{e}");
    assert!(g.hivex_commit(Some("/new")).is_err());
    assert_eq!(guest_bytes(&g, &env, HIVE), original);
    g.hivex_close().unwrap();
    g.shutdown().unwrap();

    // A read-only drive: whatever a commit does stays in its throw-away
    // overlay; the image is never changed.
    let before = sha(&image);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive_ro(&image).unwrap();
    g.launch().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.hivex_open(HIVE, writable()).unwrap();
    let root = g.hivex_root().unwrap();
    g.hivex_node_add_child(root, "X").unwrap();
    let _ = g.hivex_commit(None);
    g.hivex_close().unwrap();
    g.shutdown().unwrap();
    assert!(sha(&image) == before, "the read-only image changed");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn hivex_calls_need_a_launched_handle_and_a_root() {
    let g = VMCraft::new();
    assert!(g.hivex_root().unwrap_err().to_string().contains("launch"));
    assert!(g.hivex_open(HIVE, HivexOpenOpts::default()).is_err());
}

#[test]
fn a_hive_on_ntfs_as_windows_keeps_it() {
    if skip("a_hive_on_ntfs_as_windows_keeps_it") || !vmcraft_block::testing::require_tool("mkntfs")
    {
        return;
    }
    let env = TestEnv::new("hivexntfs");
    let a = env.sparse_image("a.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.mkfs("ntfs", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir_p("/Windows/System32/config").unwrap();
    g.upload(host_hive(&env, "SYSTEM.host"), HIVE).unwrap();
    g.hivex_open(HIVE, writable()).unwrap();
    let root = g.hivex_root().unwrap();
    assert_eq!(
        names(&g, root),
        hivexsh(&env.path().join("SYSTEM.host"), false, "ls\n").unwrap()
    );
    let select = g.hivex_node_get_child(root, "Select").unwrap();
    g.hivex_node_set_value(select, "LastKnownGood", 4, &[2, 0, 0, 0])
        .unwrap();
    g.hivex_commit(None).unwrap();
    g.hivex_close().unwrap();
    // Read back after a remount, through ntfs-3g.
    g.umount_all().unwrap();
    g.mount("/dev/sda", "/").unwrap();
    let h = download(&g, &env, HIVE, "ntfs-after");
    assert_eq!(
        hivexsh(&h, false, "cd Select\nlsval\n").unwrap(),
        "\"Current\"=dword:00000001\n\"LastKnownGood\"=dword:00000002\n"
    );
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
