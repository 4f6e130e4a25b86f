//! The kernel test tier (`cargo xtask test-kernel`), or a host with md and
//! dm-crypt: LUKS containers and md RAID members in a guest are detected and
//! refused, and the host's own md array is left alone.
//!
//! A guest image holds, as GPT partitions, a LUKS2 container (`cryptsetup
//! luksFormat`), the two members of an md RAID1 (`mdadm --create
//! --metadata=1.2`, an ext4 inside) and a plain ext4. The facade reports the
//! containers as `blkid -p` does (`crypto_LUKS`, `linux_raid_member`, with their
//! UUIDs and the array's name), leaves them out of `list_filesystems` as
//! libguestfs does, and refuses to mount them with a clear error, the image
//! byte-identical after. Meanwhile an md array the host assembled
//! (`mdadm --assemble`) keeps running untouched, and no md device built on the
//! session's disks (the host's udev assembles members as they appear) is left
//! once the session is shut down. Opening them (cryptsetup-open, md-assemble)
//! is tested in `kernel_tier_luks.rs` and `kernel_tier_md.rs`.

mod kernel_tier_storage_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kernel_tier_storage_support::*;
use vmcraft::ErrorKind;
use vmcraft_block::testing::{TestEnv, require_kernel_feature, require_root, require_tool};

fn can_run(what: &str) -> bool {
    require_root(what)
        && ["cryptsetup", "mdadm", "blkid", "mkfs.ext4", "sgdisk"]
            .iter()
            .all(|t| require_tool(t))
        && require_kernel_feature("md (/proc/mdstat)", Path::new("/proc/mdstat").exists())
}

/// `blkid -p -o export` of a device, as a map.
fn blkid(device: &Path) -> BTreeMap<String, String> {
    run("blkid", &["-p", "-o", "export", s(device)])
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The md arrays of the kernel with the kernel names of their members.
fn md_arrays() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/block").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("md") {
            continue;
        }
        let mut slaves: Vec<String> = std::fs::read_dir(e.path().join("slaves"))
            .map(|d| {
                d.flatten()
                    .map(|s| s.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        slaves.sort();
        out.push((name, slaves));
    }
    out.sort();
    out
}

/// Stop every md array with a member among `members` (kernel names) until none
/// is left: the host's udev assembles members again as their events come in.
fn stop_arrays_on(members: &[String]) {
    for _ in 0..10 {
        settle();
        let found: Vec<String> = md_arrays()
            .into_iter()
            .filter(|(_, slaves)| slaves.iter().any(|s| members.contains(s)))
            .map(|(md, _)| md)
            .collect();
        if found.is_empty() {
            return;
        }
        for md in found {
            let _ = output("mdadm", &["--stop", &format!("/dev/{md}")]);
        }
    }
    panic!(
        "md arrays on {members:?} keep coming back: {:?}",
        md_arrays()
    );
}

/// An md array the test made; stopped on drop (also when the test panics).
struct MdArray {
    node: PathBuf,
    members: Vec<String>,
}

impl Drop for MdArray {
    fn drop(&mut self) {
        let _ = output("mdadm", &["--stop", s(&self.node)]);
        stop_arrays_on(&self.members);
    }
}

/// `mdadm --create` a RAID1 of `members` (metadata 1.2) at `node`.
fn create_raid1(node: &str, members: &[&Path]) -> MdArray {
    let mut args = vec![
        "--create",
        node,
        "--run",
        "--quiet",
        "--metadata=1.2",
        "--level=1",
        "--raid-devices=2",
        "--assume-clean",
    ];
    args.extend(members.iter().map(|m| s(m)));
    let array = MdArray {
        node: PathBuf::from(node),
        members: members.iter().map(|m| kernel_name(m)).collect(),
    };
    run("mdadm", &args);
    array
}

fn md_state(md: &str) -> (String, Vec<String>, String) {
    let state = std::fs::read_to_string(format!("/sys/block/{md}/md/array_state"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let slaves = md_arrays()
        .into_iter()
        .find(|(n, _)| n == md)
        .map(|(_, s)| s)
        .unwrap_or_default();
    (state, slaves, sha256(Path::new(&format!("/dev/{md}"))))
}

#[test]
fn luks_and_md_members_are_detected_refused_and_the_hosts_array_left_alone() {
    if !can_run("the LUKS and md member test") {
        return;
    }
    let env = TestEnv::new("kt-members");
    let guest = env.sparse_image("guest.img", 72 * MIB);
    gpt(&guest, &[20, 16, 16, 8]);
    let tree = env.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("inside"), "in the mirror").unwrap();

    // The guest: LUKS2 on 1, a RAID1 of 2 and 3 with ext4 inside, ext4 on 4.
    let oracle: Vec<BTreeMap<String, String>> = {
        let dev = env.loop_device(&guest);
        let p = partitions(dev.path(), 4);
        let key = env.path().join("key");
        std::fs::write(&key, "vmcraft test passphrase").unwrap();
        run(
            "cryptsetup",
            &[
                "luksFormat",
                "--batch-mode",
                "--type",
                "luks2",
                "--pbkdf",
                "pbkdf2",
                "--pbkdf-force-iterations",
                "1000",
                "--key-file",
                s(&key),
                s(&p[0]),
            ],
        );
        let array = create_raid1("/dev/md40", &[&p[1], &p[2]]);
        mkfs_ext4_with(Path::new("/dev/md40"), &tree, "mirror");
        drop(array);
        mkfs_ext4_with(&p[3], &tree, "plain");
        settle();
        let oracle = p.iter().map(|n| blkid(n)).collect();
        stop_arrays_on(&[kernel_name(&p[1]), kernel_name(&p[2])]);
        drop(dev);
        oracle
    };
    assert_eq!(oracle[0]["TYPE"], "crypto_LUKS");
    assert_eq!(oracle[1]["TYPE"], "linux_raid_member");
    assert_eq!(oracle[1]["UUID"], oracle[2]["UUID"], "one array");

    // The host's own array, assembled by the host, with data on it.
    let h1 = env.sparse_image("host1.img", 16 * MIB);
    let h2 = env.sparse_image("host2.img", 16 * MIB);
    let (d1, d2) = (env.loop_device(&h1), env.loop_device(&h2));
    let host_tree = env.path().join("host-tree");
    std::fs::create_dir(&host_tree).unwrap();
    std::fs::write(host_tree.join("marker"), "the host's").unwrap();
    let host_array = {
        let a = create_raid1("/dev/md41", &[d1.path(), d2.path()]);
        mkfs_ext4_with(Path::new("/dev/md41"), &host_tree, "host");
        run("mdadm", &["--stop", "/dev/md41"]);
        stop_arrays_on(&a.members);
        run(
            "mdadm",
            &["--assemble", "/dev/md41", s(d1.path()), s(d2.path())],
        );
        a
    };
    settle();
    let host_before = md_state("md41");
    assert_eq!(host_before.1.len(), 2, "{:?}", md_arrays());
    let guest_before = sha256(&guest);

    let g = launched(&env, &[&guest]);
    settle();
    let names = ["/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sda4"];
    for (dev, want) in names.iter().zip(&oracle) {
        assert_eq!(&g.vfs_type(dev).unwrap(), &want["TYPE"], "{dev}");
        assert_eq!(&g.vfs_uuid(dev).unwrap(), &want["UUID"], "{dev}");
        let label = want.get("LABEL").cloned().unwrap_or_default();
        assert_eq!(g.vfs_label(dev).unwrap(), label, "{dev}");
        let mut blkid = g.blkid(dev).unwrap();
        blkid.remove("BLOCK_SIZE");
        for k in ["TYPE", "USAGE", "UUID", "LABEL"] {
            assert_eq!(blkid.get(k), want.get(k), "{dev} {k}");
        }
    }
    // Containers are not filesystems (libguestfs leaves them out). The host's
    // udev may have assembled the mirror from its members as they appeared:
    // a running array on the session's disks is a filesystem of the session,
    // as libguestfs (whose appliance assembles arrays) lists it.
    let (arrays, plain): (Vec<_>, Vec<_>) = g
        .list_filesystems()
        .unwrap()
        .into_iter()
        .partition(|(d, _)| d.starts_with("/dev/md"));
    assert_eq!(plain, [("/dev/sda4".to_string(), "ext4".to_string())]);
    for (md, t) in &arrays {
        assert_eq!(t, "ext4", "{md}");
    }
    for (dev, what) in [
        ("/dev/sda1", "crypto_LUKS"),
        ("/dev/sda2", "linux_raid_member"),
        ("/dev/sda3", "linux_raid_member"),
    ] {
        for (call, r) in [
            ("mount", g.mount(dev, "/")),
            ("mount_ro", g.mount_ro(dev, "/")),
        ] {
            let e = r.expect_err(dev);
            assert_eq!(e.kind(), ErrorKind::Mount, "{e}");
            assert_eq!(
                e.to_string(),
                format!("{call}: {dev}: {what} is not a mountable filesystem")
            );
        }
    }
    assert!(g.mounts_list().is_empty());
    // The plain filesystem beside them mounts.
    g.mount_ro("/dev/sda4", "/").unwrap();
    assert_eq!(g.cat("/inside").unwrap(), "in the mirror");
    g.umount_all().unwrap();
    let session_nodes: Vec<String> = names
        .iter()
        .map(|d| kernel_name(&g.host_path(d).unwrap()))
        .collect();
    g.shutdown().unwrap();
    drop(g);

    // Nothing of the session's is left, the image is as it was, and the host's
    // array is running as before.
    settle();
    let left: Vec<_> = md_arrays()
        .into_iter()
        .filter(|(_, slaves)| slaves.iter().any(|s| session_nodes.contains(s)))
        .collect();
    assert!(
        left.is_empty(),
        "md arrays on the session's disks: {left:?}"
    );
    assert_eq!(
        sha256(&guest),
        guest_before,
        "the refused calls changed the image"
    );
    assert_eq!(
        md_state("md41"),
        host_before,
        "the host's array was disturbed"
    );
    assert_eq!(
        ext4_cat(Path::new("/dev/md41"), "/marker"),
        b"the host's".to_vec()
    );
    drop(host_array);
    drop(d1);
    drop(d2);
}
