//! The LVM administration calls on real images with lvm2 (metadata-only where
//! device-mapper is missing): UUIDs and their listings against the host's own
//! `pvs`/`vgs`/`lvs --reportformat json` on the same devices, canonical LV names,
//! renames, PV resizing, new UUIDs, `vgmeta`, scans and device filters. Every
//! change is refused on a read-only drive with the image byte-identical, and
//! every bad argument with lvm2's metadata unchanged.

use std::path::{Path, PathBuf};

use vmcraft::{Config, ErrorKind, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root, require_tool};

fn session(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The host's lvm2 report of `kind` rows on exactly these devices (the oracle).
fn oracle(devices: &[PathBuf], sub: &str, kind: &str, columns: &str) -> Vec<serde_json::Value> {
    let list: Vec<String> = devices.iter().map(|d| d.display().to_string()).collect();
    let out = std::process::Command::new("lvm")
        .arg(sub)
        .args(["--devices", &list.join(",")])
        .args([
            "--driverloaded",
            "n",
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
        ])
        .args(["-o", columns])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["report"][0][kind].as_array().unwrap().clone()
}

fn bare(u: &serde_json::Value) -> String {
    u.as_str().unwrap().replace('-', "")
}

/// A session over one 64 MiB drive holding VG `vgadm` with LVs `lv1`, `lv2`.
fn with_vg(env: &TestEnv, img: &Path) -> VMCraft {
    let g = session(env);
    g.add_drive(img).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sda"]).unwrap();
    g.vgcreate("vgadm", &["/dev/sda"]).unwrap();
    g.lvcreate("lv1", "vgadm", 8).unwrap();
    g.lvcreate("lv2", "vgadm", 8).unwrap();
    g
}

#[test]
fn uuids_names_renames_and_resizes_agree_with_lvm2() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lvm-admin");
    let img = env.sparse_image("a.img", 64 << 20);
    let g = with_vg(&env, &img);
    let dev = vec![g.host_path("/dev/sda").unwrap()];

    let pv = &oracle(&dev, "pvs", "pv", "pv_uuid,vg_uuid,pv_size")[0];
    let lvs = oracle(&dev, "lvs", "lv", "lv_name,lv_uuid");
    assert_eq!(g.pvuuid("/dev/sda").unwrap(), bare(&pv["pv_uuid"]));
    assert_eq!(g.pvuuid("/dev/vda").unwrap(), bare(&pv["pv_uuid"]));
    assert_eq!(g.vguuid("vgadm").unwrap(), bare(&pv["vg_uuid"]));
    assert_eq!(g.vguuid("vgadm").unwrap().len(), 32);
    let lv1 = lvs.iter().find(|l| l["lv_name"] == "lv1").unwrap();
    assert_eq!(g.lvuuid("/dev/vgadm/lv1").unwrap(), bare(&lv1["lv_uuid"]));
    let want: Vec<String> = lvs.iter().map(|l| bare(&l["lv_uuid"])).collect();
    assert_eq!(g.vglvuuids("vgadm").unwrap(), want);
    assert_eq!(g.vgpvuuids("vgadm").unwrap(), [bare(&pv["pv_uuid"])]);
    let meta = String::from_utf8(g.vgmeta("vgadm").unwrap()).unwrap();
    assert!(meta.contains("vgadm {"), "{meta}");
    assert!(meta.contains(pv["vg_uuid"].as_str().unwrap()), "{meta}");

    // Unknown names.
    assert_eq!(
        g.vguuid("nope").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(
        g.lvuuid("/dev/vgadm/nope").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert!(g.lvuuid("/dev/sda").is_err());
    assert!(g.vgmeta("nope").is_err());
    assert!(g.vguuid("../x").is_err());

    // Canonical names.
    assert_eq!(
        g.lvm_canonical_lv_name("/dev/mapper/vgadm-lv1").unwrap(),
        "/dev/vgadm/lv1"
    );
    assert_eq!(
        g.lvm_canonical_lv_name("/dev/vgadm/lv2").unwrap(),
        "/dev/vgadm/lv2"
    );
    for bad in ["/dev/vgadm/nope", "/dev/sda", "/dev/mapper/vgadm", "vgadm"] {
        let e = g.lvm_canonical_lv_name(bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("lvm_canonical_lv_name: {bad}: not a logical volume")
        );
    }

    // lvrename, and its refusals with nothing changed.
    let before = oracle(&dev, "lvs", "lv", "lv_name,lv_uuid");
    for (old, new, text) in [
        ("/dev/vgadm/lv1", "/dev/other/x", "same volume group"),
        ("/dev/vgadm/lv1", "/dev/vgadm/lv2", "exists"),
        ("/dev/vgadm/nope", "/dev/vgadm/x", "not found"),
        ("/dev/vgadm/lv1", "/dev/vgadm/snapshot1", "reserved"),
    ] {
        let e = g.lvrename(old, new).unwrap_err();
        assert!(e.to_string().contains(text), "{e} (wanted {text})");
    }
    assert_eq!(oracle(&dev, "lvs", "lv", "lv_name,lv_uuid"), before);
    g.lvrename("/dev/vgadm/lv1", "/dev/vgadm/root").unwrap();
    assert_eq!(g.lvs().unwrap(), ["/dev/vgadm/lv2", "/dev/vgadm/root"]);
    let after = oracle(&dev, "lvs", "lv", "lv_name,lv_uuid");
    let root = after.iter().find(|l| l["lv_name"] == "root").unwrap();
    assert_eq!(root["lv_uuid"], lv1["lv_uuid"], "renamed, same LV");

    // vgrename.
    assert_eq!(
        g.vgrename("nope", "x").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert_eq!(
        g.vgrename("vgadm", "-bad").unwrap_err().kind(),
        ErrorKind::Crate
    );
    g.vgrename("vgadm", "vgnew").unwrap();
    assert_eq!(g.vgs().unwrap(), ["vgnew"]);
    assert_eq!(g.lvs().unwrap(), ["/dev/vgnew/lv2", "/dev/vgnew/root"]);
    assert_eq!(oracle(&dev, "vgs", "vg", "vg_name")[0]["vg_name"], "vgnew");

    // New UUIDs.
    let old_vg = g.vguuid("vgnew").unwrap();
    g.vgchange_uuid("vgnew").unwrap();
    let vg = bare(&oracle(&dev, "vgs", "vg", "vg_uuid")[0]["vg_uuid"]);
    assert_ne!(vg, old_vg);
    assert_eq!(g.vguuid("vgnew").unwrap(), vg);
    let old_pv = g.pvuuid("/dev/sda").unwrap();
    g.pvchange_uuid("/dev/sda").unwrap();
    let pvu = bare(&oracle(&dev, "pvs", "pv", "pv_uuid")[0]["pv_uuid"]);
    assert_ne!(pvu, old_pv);
    assert_eq!(g.pvuuid("/dev/sda").unwrap(), pvu);
    g.vgchange_uuid_all().unwrap();
    g.pvchange_uuid_all().unwrap();
    let now = &oracle(&dev, "pvs", "pv", "pv_uuid,vg_uuid")[0];
    assert_ne!(bare(&now["pv_uuid"]), pvu);
    assert_ne!(bare(&now["vg_uuid"]), vg);
    assert_eq!(g.vgpvuuids("vgnew").unwrap(), [bare(&now["pv_uuid"])]);
    assert_eq!(
        g.pvchange_uuid("/dev/sdb").unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );

    // pvresize_size shrinks the PV (the LVs fit), pvresize grows it back.
    let size = |dev: &[PathBuf]| {
        oracle(dev, "pvs", "pv", "pv_size")[0]["pv_size"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let full = size(&dev);
    assert!(g.pvresize_size("/dev/sda", 0).is_err());
    assert!(
        g.pvresize_size("/dev/sda", 128 << 20)
            .unwrap_err()
            .to_string()
            .contains("larger than the device")
    );
    assert_eq!(size(&dev), full);
    g.pvresize_size("/dev/sda", 32 << 20).unwrap();
    let small = size(&dev);
    assert!((28 << 20..=32 << 20).contains(&small), "{small}");
    assert!(
        g.pvresize_size("/dev/sda", 8 << 20).is_err(),
        "LVs are in the way"
    );
    assert_eq!(size(&dev), small);
    g.pvresize("/dev/sda").unwrap();
    assert_eq!(size(&dev), full);
    assert_eq!(g.pvs_full().unwrap()[0].pv_size, full);

    // Scans.
    g.lvm_scan(false).unwrap();
    assert_eq!(g.lvs().unwrap(), ["/dev/vgnew/lv2", "/dev/vgnew/root"]);
    if !vmcraft_lvm::device_mapper_available() {
        assert!(g.lvm_scan(true).is_err(), "activation needs device-mapper");
    }
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn read_only_drives_are_refused_with_the_image_unchanged() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lvm-admin-ro");
    let img = env.sparse_image("a.img", 64 << 20);
    with_vg(&env, &img).shutdown().unwrap();
    let before = sha256(&img);
    let g = session(&env);
    g.add_drive_ro(&img).unwrap();
    g.launch().unwrap();
    assert_eq!(g.vguuid("vgadm").unwrap().len(), 32, "reading works");
    let errors = [
        g.lvrename("/dev/vgadm/lv1", "/dev/vgadm/x").unwrap_err(),
        g.vgrename("vgadm", "vgx").unwrap_err(),
        g.pvresize("/dev/sda").unwrap_err(),
        g.pvresize_size("/dev/sda", 32 << 20).unwrap_err(),
        g.vgchange_uuid("vgadm").unwrap_err(),
        g.vgchange_uuid_all().unwrap_err(),
        g.pvchange_uuid("/dev/sda").unwrap_err(),
        g.pvchange_uuid_all().unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(
            e.to_string()
                .ends_with("/dev/sda: the drive was added read-only"),
            "{e}"
        );
    }
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_filter_hides_devices_until_cleared() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("lvm-admin-filter");
    let a = env.sparse_image("a.img", 32 << 20);
    let b = env.sparse_image("b.img", 32 << 20);
    let g = session(&env);
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sda", "/dev/sdb"]).unwrap();
    g.vgcreate("vga", &["/dev/sda"]).unwrap();
    g.vgcreate("vgb", &["/dev/sdb"]).unwrap();
    g.lvcreate("lv", "vga", 4).unwrap();
    g.lvcreate("lv", "vgb", 4).unwrap();
    assert_eq!(g.vgs().unwrap(), ["vga", "vgb"]);

    assert_eq!(
        g.lvm_set_filter(&["/dev/sdz"]).unwrap_err().kind(),
        ErrorKind::NoSuchDevice
    );
    assert!(g.lvm_set_filter(&["/dev/vga/lv"]).is_err());
    assert_eq!(
        g.vgs().unwrap(),
        ["vga", "vgb"],
        "a refused filter changes nothing"
    );
    g.lvm_set_filter(&["/dev/vdb"]).unwrap();
    assert_eq!(g.vgs().unwrap(), ["vgb"]);
    assert_eq!(g.lvs().unwrap(), ["/dev/vgb/lv"]);
    assert_eq!(g.pvs().unwrap(), ["/dev/sdb"]);
    // The filter holds when the session's devices change: a drive added, a
    // partition table written on a drive outside it.
    let c = env.sparse_image("c.img", 32 << 20);
    g.add_drive(&c).unwrap();
    g.part_disk("/dev/sdc", "gpt").unwrap();
    assert_eq!(g.vgs().unwrap(), ["vgb"]);
    assert_eq!(g.pvs().unwrap(), ["/dev/sdb"]);
    g.lvm_clear_filter().unwrap();
    assert_eq!(g.vgs().unwrap(), ["vga", "vgb"]);
    assert_eq!(g.lvs().unwrap(), ["/dev/vga/lv", "/dev/vgb/lv"]);
    g.shutdown().unwrap();
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}

#[test]
fn a_read_only_source_drive_does_not_make_other_vgs_read_only() {
    if !require_root("loop devices") || !require_tool("lvm") {
        return;
    }
    use vmcraft::calls::table::{ArgValue, Args, lookup};
    let env = TestEnv::new("lvm-admin-ro-vg");
    let src = env.sparse_image("src.img", 32 << 20);
    let dst = env.sparse_image("dst.img", 64 << 20);
    // The source carries a VG of its own, made in a first session.
    let g = session(&env);
    g.add_drive(&src).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sda"]).unwrap();
    g.vgcreate("srcvg", &["/dev/sda"]).unwrap();
    g.lvcreate("lv", "srcvg", 8).unwrap();
    g.shutdown().unwrap();
    let before = sha256(&src);

    // The usual conversion: the source read-only, the target writable.
    let g = session(&env);
    g.add_drive_ro(&src).unwrap();
    g.add_drive(&dst).unwrap();
    g.launch().unwrap();
    g.pvcreate(&["/dev/sdb"]).unwrap();
    g.vgcreate("dstvg", &["/dev/sdb"]).unwrap();
    g.lvcreate("lv", "dstvg", 16).unwrap();
    assert!(!g.device_on_readonly_drive("/dev/dstvg/lv"));
    assert!(g.device_on_readonly_drive("/dev/srcvg/lv"));
    let mkfs = lookup("mkfs").unwrap();
    let args = |dev: &str| {
        Args::new(
            vec![ArgValue::Str("ext4".into()), ArgValue::Str(dev.into())],
            vec![],
        )
    };
    // Through the table: the target's LV is written, the source's refused.
    mkfs.invoke(&g, args("/dev/dstvg/lv")).unwrap();
    assert_eq!(g.vfs_type("/dev/dstvg/lv").unwrap(), "ext4");
    let e = mkfs.invoke(&g, args("/dev/srcvg/lv")).unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    g.shutdown().unwrap();
    assert_eq!(sha256(&src), before, "the read-only source is unchanged");
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
