//! Tier 3, lvm2 as the oracle: for names at every edge of lvm2's rules, this
//! crate's validation accepts exactly what lvm2 itself accepts (asked in lvm2's
//! test mode, `-t`, through the session's own isolated command line).

mod common;

use common::*;
use vmcraft_lvm::{LvSize, validate_new_lv, validate_new_vg_name};

fn lvm2_accepts(lvm: &vmcraft_lvm::Lvm, sub: &str, args: &[&str]) -> bool {
    let cmd = lvm.lvm_command(sub).unwrap().arg("-t").args(args);
    lvm.run_lvm("names_oracle", "", &cmd).is_ok()
}

#[test]
fn vg_and_lv_name_rules_agree_with_lvm2() {
    if !can_run("the name oracle test") {
        return;
    }
    let a = loop_device("lvm-names-a", 16 * MIB);
    let b = loop_device("lvm-names-b", 16 * MIB);
    let lvm = session(&[a.path(), b.path()]);
    lvm.pvcreate(&[a.path(), b.path()]).unwrap();
    lvm.vgcreate("vmcnames", &[a.path()]).unwrap();
    let free_pv = s(b.path());

    let long = |n: usize| "v".repeat(n);
    let vg_names: Vec<String> = [
        "ok", "a+b", "a.b", "_x", "x-", "-x", ".", "..", "..x", ".x", "a b", "a/b", "a:b", "a@b",
        "a%b", "é", "snapshot", "a_mlog", "null", "mapper", "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([long(127), long(128)])
    .collect();
    let mut disagreements = Vec::new();
    for name in &vg_names {
        let ours = validate_new_vg_name("vgcreate", name).is_ok();
        let theirs = lvm2_accepts(&lvm, "vgcreate", &[name, &free_pv]);
        if ours != theirs {
            disagreements.push(format!("VG {name:?}: ours {ours}, lvm2 {theirs}"));
        }
    }

    let lv_names: Vec<String> = [
        "ok",
        "lv+1",
        "a.b",
        "_x",
        "-lv",
        ".",
        "..",
        "a b",
        "a:b",
        "snapshot",
        "snapshotx",
        "xsnapshot",
        "pvmove",
        "pvmove0",
        "mypvmove",
        "a_mlog",
        "a_mimage",
        "a_rimage",
        "a_rmeta",
        "a_tdata",
        "a_tmeta",
        "a_cdata",
        "a_cmeta",
        "a_corig",
        "a_cpool",
        "a_cvol",
        "a_wcorig",
        "a_vdata",
        "a_vorigin",
        "a_pmspare",
        "a_imeta",
        "a_iorig",
        "mlog",
        "a_mlo",
    ]
    .iter()
    .map(|s| s.to_string())
    // "vmcnames" is 8 bytes: 116 more fit, 117 do not.
    .chain([long(116), long(117), long(127)])
    .collect();
    for name in &lv_names {
        let ours = validate_new_lv("lvcreate", "vmcnames", name).is_ok();
        let theirs = lvm2_accepts(
            &lvm,
            "lvcreate",
            &[
                "--activate",
                "n",
                "--zero",
                "n",
                "-l",
                "1",
                "-n",
                name,
                "vmcnames",
            ],
        );
        if ours != theirs {
            disagreements.push(format!("LV {name:?}: ours {ours}, lvm2 {theirs}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "validation disagrees with lvm2:\n  {}",
        disagreements.join("\n  ")
    );
    // Test mode changed nothing.
    assert_eq!(lvm.vgs().unwrap(), ["vmcnames"]);
    assert!(lvm.lvs().unwrap().is_empty());
    // And a name we accept really works.
    lvm.lvcreate("a.b+c_d-e", "vmcnames", LvSize::Extents(1))
        .unwrap();
    assert_eq!(lvm.lvs().unwrap(), ["/dev/vmcnames/a.b+c_d-e"]);
    lvm.lvm_remove_all().unwrap();
}
