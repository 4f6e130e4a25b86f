//! `-N` prepared disks and the LVM commands through the binary: each type's
//! layout checked with sfdisk and blkid, default names, LVM listings in
//! guestfish's layout (`lvs-full`'s fields), filesystems on logical volumes.

mod cli_support;

use cli_support::{extract_partition, partition_range, run, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

fn blkid_type(path: &std::path::Path) -> String {
    tool(
        "blkid",
        &["-p", "-o", "value", "-s", "TYPE", path.to_str().unwrap()],
    )
    .trim()
    .to_string()
}

#[test]
fn disk_part_fs_and_default_names() {
    if !require_root("attaching images") || !require_tool("sfdisk") || !require_tool("blkid") {
        return;
    }
    let env = TestEnv::new("cli-prep");
    let o = run(
        &env,
        &[
            "-N",
            "disk:10M",
            "-N",
            "part:32M:gpt",
            "-N",
            "named.img=fs:ext4:32M",
            "list-devices",
            ":",
            "list-filesystems",
        ],
        "",
    );
    assert_eq!(
        o.ok(),
        "/dev/sda\n/dev/sdb\n/dev/sdc\n/dev/sda: unknown\n/dev/sdb1: unknown\n/dev/sdc1: ext4\n"
    );
    let disk = env.path().join("test1.img");
    assert_eq!(std::fs::metadata(&disk).unwrap().len(), 10 << 20);
    let part = env.path().join("test2.img");
    let d = tool("sfdisk", &["-d", part.to_str().unwrap()]);
    assert!(d.contains("label: gpt"), "{d}");
    assert_eq!(d.matches("test2.img").count(), 1 + 1, "{d}"); // the device line and one partition
    let named = env.path().join("named.img");
    let d = tool("sfdisk", &["-d", named.to_str().unwrap()]);
    assert!(d.contains("label: dos"), "{d}");
    assert_eq!(blkid_type(&extract_partition(&env, &named, 1)), "ext4");
}

#[test]
fn bootroot_layout_is_guestfish_layout() {
    if !require_root("attaching images") || !require_tool("sfdisk") || !require_tool("blkid") {
        return;
    }
    let env = TestEnv::new("cli-bootroot");
    run(&env, &["-N", "br.img=bootroot:ext2:ext4:64M:16M"], "").ok();
    let img = env.path().join("br.img");
    // Boot from sector 64, 16 MiB; root from the next sector to 64 sectors before
    // the end.
    assert_eq!(partition_range(&img, 1), (64 * 512, 16 << 20));
    let total = 64u64 << 20;
    let root_start = 64 * 512 + (16 << 20);
    assert_eq!(
        partition_range(&img, 2),
        (root_start, total - 63 * 512 - root_start)
    );
    assert_eq!(blkid_type(&extract_partition(&env, &img, 1)), "ext2");
    assert_eq!(blkid_type(&extract_partition(&env, &img, 2)), "ext4");
}

#[test]
fn lvm_listings_in_guestfish_layout() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("cli-lvm");
    let o = run(
        &env,
        &[
            "-N",
            "lv.img=lv:/dev/data/home:64M",
            "pvs",
            ":",
            "vgs",
            ":",
            "lvs",
            ":",
            "lvs-full",
            ":",
            "vgs-full",
            ":",
            "pvs-full",
        ],
        "",
    );
    let out = o.ok();
    assert!(
        out.starts_with("/dev/sda1\ndata\n/dev/data/home\n[0] = {\n  lv_name: home\n  lv_uuid: "),
        "{out}"
    );
    let lv_block: Vec<&str> = out
        .split("[0] = {\n")
        .nth(1)
        .unwrap()
        .split("}\n")
        .next()
        .unwrap()
        .lines()
        .collect();
    let names: Vec<&str> = lv_block
        .iter()
        .map(|l| l.trim_start().split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "lv_name",
            "lv_uuid",
            "lv_attr",
            "lv_major",
            "lv_minor",
            "lv_kernel_major",
            "lv_kernel_minor",
            "lv_size",
            "seg_count",
            "origin",
            "snap_percent",
            "copy_percent",
            "move_pv",
            "lv_tags",
            "mirror_log",
            "modules"
        ]
    );
    for l in &lv_block {
        assert!(l.starts_with("  "), "{l:?}");
    }
    let uuid = lv_block[1].trim_start().strip_prefix("lv_uuid: ").unwrap();
    assert_eq!(uuid.len(), 32, "{uuid}");
    assert!(!uuid.contains('-'));
    assert!(lv_block.contains(&"  snap_percent: "), "{lv_block:?}");
    assert!(out.contains("  vg_name: data\n"), "{out}");
    assert!(out.contains("  pv_name: /dev/sda1\n"), "{out}");
    // The host's LVM never sees the guest's VG.
    let host = tool(
        "sh",
        &["-c", "vgs --noheadings -o vg_name 2>/dev/null || true"],
    );
    assert!(!host.split_whitespace().any(|v| v == "data"), "{host}");

    // Removing: lvremove, vgremove, pvremove through the CLI.
    let img = env.path().join("lv.img");
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "run",
            ":",
            "lvremove",
            "/dev/data/home",
            ":",
            "lvs",
            ":",
            "vgremove",
            "data",
            ":",
            "pvremove",
            "/dev/sda1",
            ":",
            "pvs",
        ],
        "",
    );
    assert_eq!(o.ok(), "");
}

#[test]
fn lvfs_and_bootrootlv_make_filesystems_on_the_lv() {
    if !require_root("attaching images") || !require_tool("lvm") || !require_tool("blkid") {
        return;
    }
    // The LV is reached through device-mapper where the host has it, through a
    // loop device over its PV where it has not: either way mkfs works on it.
    let env = TestEnv::new("cli-lvfs");
    let o = run(
        &env,
        &[
            "-N",
            "lvfs:/dev/vg0/root:ext4:64M",
            "vfs-type",
            "/dev/vg0/root",
            ":",
            "lvs",
        ],
        "",
    );
    assert_eq!(o.ok(), "ext4\n/dev/vg0/root\n");
    let o = run(
        &env,
        &[
            "-N",
            "brlv.img=bootrootlv:/dev/sys/root:ext2:ext4:128M:32M",
            "list-filesystems",
        ],
        "",
    );
    assert_eq!(o.ok(), "/dev/sda1: ext2\n/dev/sys/root: ext4\n");
    let img = env.path().join("brlv.img");
    assert_eq!(partition_range(&img, 1), (64 * 512, 32 << 20));
    assert_eq!(blkid_type(&extract_partition(&env, &img, 2)), "LVM2_member");
}
