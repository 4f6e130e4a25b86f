//! The LVM administration calls through the binary, in guestfish's syntax and
//! output: UUIDs (one a line, 32 characters) checked against the host's
//! `lvm pvs/vgs/lvs --reportformat json` on the image, canonical names, renames,
//! `vgmeta`'s raw text, filters, and refusals under `--ro` that leave the image
//! byte-identical.

mod cli_support;

use cli_support::{run, sha256};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// The host's lvm2 report on the image, through a loop device (the oracle).
fn oracle(
    env: &TestEnv,
    img: &std::path::Path,
    sub: &str,
    kind: &str,
    columns: &str,
) -> Vec<serde_json::Value> {
    let lo = env.loop_device(img);
    let out = std::process::Command::new("lvm")
        .arg(sub)
        .args(["--devices", lo.path().to_str().unwrap()])
        .args([
            "--driverloaded",
            "n",
            "--reportformat",
            "json",
            "-o",
            columns,
        ])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap();
    drop(lo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["report"][0][kind].as_array().unwrap().clone()
}

fn bare(v: &serde_json::Value) -> String {
    v.as_str().unwrap().replace('-', "")
}

#[test]
fn uuids_renames_and_metadata_print_as_guestfish() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("cli-lvmadm");
    let img = env.path().join("a.img");
    let spec = format!("{}=disk:64M", img.display());
    let o = run(
        &env,
        &[
            "-N",
            &spec,
            "pvcreate",
            "/dev/sda",
            ":",
            "vgcreate",
            "vgc",
            "/dev/sda",
            ":",
            "lvcreate",
            "lv1",
            "vgc",
            "8",
            ":",
            "lvcreate",
            "lv2",
            "vgc",
            "8",
            ":",
            "pvuuid",
            "/dev/vda",
            ":",
            "vguuid",
            "vgc",
            ":",
            "lvuuid",
            "/dev/vgc/lv1",
            ":",
            "vgpvuuids",
            "vgc",
            ":",
            "vglvuuids",
            "vgc",
            ":",
            "lvm-canonical-lv-name",
            "/dev/mapper/vgc-lv2",
        ],
        "",
    );
    let out = o.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    let pv = &oracle(&env, &img, "pvs", "pv", "pv_uuid,vg_uuid")[0];
    let lvs = oracle(&env, &img, "lvs", "lv", "lv_name,lv_uuid");
    let lv = |n: &str| bare(&lvs.iter().find(|l| l["lv_name"] == n).unwrap()["lv_uuid"]);
    assert_eq!(lines[0], bare(&pv["pv_uuid"]));
    assert_eq!(lines[1], bare(&pv["vg_uuid"]));
    assert_eq!(lines[2], lv("lv1"));
    assert_eq!(lines[3], bare(&pv["pv_uuid"]));
    assert_eq!(lines[4..6], [lv("lv1"), lv("lv2")]);
    assert_eq!(lines[6], "/dev/vgc/lv2", "{out}");

    // Renames and a new UUID, then what lvm2 sees.
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "run",
            ":",
            "lvrename",
            "/dev/vgc/lv1",
            "/dev/vgc/root",
            ":",
            "vgrename",
            "vgc",
            "vgd",
            ":",
            "vgchange-uuid",
            "vgd",
            ":",
            "lvs",
            ":",
            "vgmeta",
            "vgd",
        ],
        "",
    );
    let out = o.ok();
    assert!(out.starts_with("/dev/vgd/lv2\n/dev/vgd/root\n"), "{out}");
    assert!(out.contains("vgd {"), "vgmeta prints lvm2's text: {out}");
    let vg = &oracle(&env, &img, "vgs", "vg", "vg_name,vg_uuid")[0];
    assert_eq!(vg["vg_name"], "vgd");
    assert_ne!(bare(&vg["vg_uuid"]), bare(&pv["vg_uuid"]));
    assert!(out.contains(vg["vg_uuid"].as_str().unwrap()), "{out}");

    // Read-only: refused, the image byte-identical.
    let before = sha256(&img);
    for cmd in [
        vec!["vgchange-uuid", "vgd"],
        vec!["pvchange-uuid", "/dev/sda"],
        vec!["lvrename", "/dev/vgd/root", "/dev/vgd/x"],
        vec!["pvresize", "/dev/sda"],
    ] {
        let mut args = vec!["--ro", "-a", img.to_str().unwrap(), "run", ":"];
        args.extend(cmd.iter().copied());
        let o = run(&env, &args, "");
        let err = o.failed();
        assert!(
            err.trim_end()
                .ends_with("/dev/sda: the drive was added read-only"),
            "{cmd:?}: {err}"
        );
    }
    let o = run(
        &env,
        &[
            "-a",
            img.to_str().unwrap(),
            "run",
            ":",
            "lvm-canonical-lv-name",
            "/dev/vgd/nope",
        ],
        "",
    );
    assert_eq!(
        o.failed().trim_end(),
        "vmcraft: error: lvm_canonical_lv_name: /dev/vgd/nope: not a logical volume"
    );
    assert_eq!(sha256(&img), before);
}

#[test]
fn a_filter_hides_a_drive_until_cleared() {
    if !require_root("attaching images") || !require_tool("lvm") {
        return;
    }
    let env = TestEnv::new("cli-lvmfilter");
    let a = format!("{}=disk:32M", env.path().join("a.img").display());
    let b = format!("{}=disk:32M", env.path().join("b.img").display());
    let o = run(
        &env,
        &[
            "-N",
            &a,
            "-N",
            &b,
            "pvcreate",
            "/dev/sda",
            ":",
            "pvcreate",
            "/dev/sdb",
            ":",
            "vgcreate",
            "vga",
            "/dev/sda",
            ":",
            "vgcreate",
            "vgb",
            "/dev/sdb",
            ":",
            "lvm-set-filter",
            "/dev/sdb",
            ":",
            "vgs",
            ":",
            "lvm-clear-filter",
            ":",
            "vgs",
            ":",
            "lvm-scan",
            "false",
            ":",
            "vgs",
        ],
        "",
    );
    assert_eq!(o.ok(), "vgb\nvga\nvgb\nvga\nvgb\n");
}
