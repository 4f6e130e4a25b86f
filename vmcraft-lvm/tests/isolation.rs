//! Tier 3: a guest VG named like a host VG is created, listed and removed inside a
//! session without the host's VG (on a device outside the session) being read or
//! changed, and without the host's lvm2 configuration or state being written.

mod common;

use common::*;
use vmcraft_lvm::LvSize;

#[test]
fn guest_vg0_never_touches_the_host_vg0() {
    if !can_run("the lvm2 isolation test") {
        return;
    }
    // The "host": vg0 with an LV, on a loop device no guest session is given. It
    // is made through its own session, which stands for the host's lvm2.
    let host_dev = loop_device("lvm-iso-host", 32 * MIB);
    let host = session(&[host_dev.path()]);
    host.pvcreate(&[host_dev.path()]).unwrap();
    host.vgcreate("vg0", &[host_dev.path()]).unwrap();
    host.lvcreate("root", "vg0", LvSize::MiB(8)).unwrap();
    let host_vg = host.vgs_full().unwrap().remove(0);
    let host_hash = head_hash(host_dev.path(), 4 << 20);
    let etc_before = host_lvm_state();

    // The guest: two disks, its own vg0.
    let g1 = loop_device("lvm-iso-guest1", 32 * MIB);
    let g2 = loop_device("lvm-iso-guest2", 32 * MIB);
    let guest = session(&[g1.path(), g2.path()]);
    assert!(
        guest.pvs().unwrap().is_empty(),
        "the guest session sees the host's PV"
    );
    assert!(
        guest.vgs().unwrap().is_empty(),
        "the guest session sees the host's VG"
    );
    guest.pvcreate(&[g1.path(), g2.path()]).unwrap();
    guest.vgcreate("vg0", &[g1.path(), g2.path()]).unwrap();
    guest.lvcreate("root", "vg0", LvSize::MiB(16)).unwrap();
    guest
        .lvcreate("data", "vg0", LvSize::PercentFree(100))
        .unwrap();

    // Listed: the guest's vg0 only, two PVs, its own LVs.
    let mut want_pvs = vec![s(g1.path()), s(g2.path())];
    want_pvs.sort();
    assert_eq!(guest.pvs().unwrap(), want_pvs);
    assert_eq!(guest.vgs().unwrap(), ["vg0"]);
    assert_eq!(guest.lvs().unwrap(), ["/dev/vg0/data", "/dev/vg0/root"]);
    let guest_vg = guest.vgs_full().unwrap().remove(0);
    assert_ne!(guest_vg.vg_uuid, host_vg.vg_uuid);
    assert_eq!(guest_vg.pv_count, 2);
    assert!(
        guest
            .pvs_full()
            .unwrap()
            .iter()
            .all(|p| p.pv_name != s(host_dev.path()))
    );
    let root = guest
        .lvs_full()
        .unwrap()
        .into_iter()
        .find(|l| l.lv_name == "root")
        .unwrap();
    assert_eq!(root.lv_size, 16 * MIB);
    // Resized and removed: the guest's.
    guest.lvresize("/dev/vg0/root", LvSize::MiB(4)).unwrap();
    guest.lvremove("/dev/vg0/root").unwrap();
    guest.vgremove("vg0").unwrap();
    guest.pvremove(g1.path()).unwrap();
    guest.pvremove(g2.path()).unwrap();
    assert!(guest.vgs().unwrap().is_empty());
    assert!(guest.pvs().unwrap().is_empty());

    // The host's vg0: its metadata byte-identical, still listed with its device,
    // its LV still 8 MiB.
    assert_eq!(
        head_hash(host_dev.path(), 4 << 20),
        host_hash,
        "the host's vg0 was written"
    );
    assert_eq!(host.vgs().unwrap(), ["vg0"]);
    assert_eq!(host.lvs().unwrap(), ["/dev/vg0/root"]);
    let after = host.vgs_full().unwrap().remove(0);
    assert_eq!(after.vg_uuid, host_vg.vg_uuid);
    assert_eq!(
        after.vg_seqno, host_vg.vg_seqno,
        "the host's vg0 metadata changed"
    );
    assert_eq!(host.lvs_full().unwrap()[0].lv_size, 8 * MIB);
    // ... also for a session that is given only the host device's path fresh.
    let again = session(&[host_dev.path()]);
    assert_eq!(again.vgs().unwrap(), ["vg0"]);
    drop(again);

    // No host configuration or state was written: /etc/lvm is unchanged, lvm2's
    // backups and locks went to the sessions' private directories.
    assert_eq!(host_lvm_state(), etc_before);
    assert!(
        files_under(&guest.system_dir().join("archive"))
            .iter()
            .any(|f| f.file_name().unwrap().to_string_lossy().starts_with("vg0_"))
    );
    for r in guest
        .audit_log()
        .iter()
        .filter(|r| r.attempted && r.call != "lvm_version")
    {
        let dev_list = r
            .command
            .iter()
            .position(|w| w == "--config")
            .map(|i| &r.command[i + 1]);
        let filter = dev_list.expect("every command has the device filter");
        assert!(!filter.contains(&s(host_dev.path())), "{filter}");
        assert!(filter.ends_with(r#""r|.*|"]"#), "{filter}");
    }

    host.lvm_remove_all().unwrap();
    assert!(host.pvs().unwrap().is_empty());
}

#[test]
fn a_raw_lvm_command_is_confined_too() {
    if !can_run("the raw command isolation test") {
        return;
    }
    let outside = loop_device("lvm-raw-out", 16 * MIB);
    let inside = loop_device("lvm-raw-in", 16 * MIB);
    let host = session(&[outside.path()]);
    host.pvcreate(&[outside.path()]).unwrap();
    let guest = session(&[inside.path()]);
    // Asking lvm2 directly for the outside device by name finds nothing.
    let cmd = guest
        .lvm_command("pvs")
        .unwrap()
        .args(["--reportformat", "json", "-o", "pv_name"])
        .arg(outside.path());
    let e = guest.run_lvm("pvs", &s(outside.path()), &cmd).unwrap_err();
    assert_eq!(e.kind(), vmcraft_lvm::ErrorKind::CommandFailed);
    assert!(e.command_failure().is_some());
    assert_eq!(host.pvs().unwrap(), [s(outside.path())]);
    host.lvm_remove_all().unwrap();
}

/// The lvm2 2.02 command line (`use_lvmetad=0` added to the filter in the one
/// `--config`, no `--devices`) run by this machine's real lvm2 2.03: the
/// setting, unknown to 2.03, is ignored and the filter in the same `--config`
/// still confines lvm2 to the session's devices. (The 2.02 choice itself is
/// driven through the fake runner in `fake_runner.rs`: no 2.02 here.) And the
/// session made for this lvm2 by asking it passes no lvmetad setting at all.
#[test]
fn the_lvmetad_setting_keeps_the_filter_working() {
    if !can_run("the lvmetad command line test") {
        return;
    }
    let outside = loop_device("lvm-metad-outside", 32 * MIB);
    let host = session(&[outside.path()]);
    host.pvcreate(&[outside.path()]).unwrap();
    host.vgcreate("vmcmetadout", &[outside.path()]).unwrap();
    let mine = loop_device("lvm-metad-mine", 32 * MIB);
    let as_202 = vmcraft_lvm::Lvm::with_options(
        std::sync::Arc::new(vmcraft_block::SystemRunner::new()),
        [mine.path()],
        vmcraft_lvm::LvmOptions {
            devices_option: Some(false),
            lvmetad: Some(true),
            timeout: None,
            ..Default::default()
        },
    )
    .unwrap();
    as_202.pvcreate(&[mine.path()]).unwrap();
    as_202.vgcreate("vmcmetadin", &[mine.path()]).unwrap();
    assert_eq!(as_202.vgs().unwrap(), ["vmcmetadin"]);
    assert_eq!(as_202.pvs().unwrap(), [s(mine.path())]);
    let log = as_202.audit_log();
    assert!(
        log.iter().all(|r| r
            .command
            .iter()
            .any(|a| a.ends_with(" global/use_lvmetad=0"))
            && !r.command.contains(&"--devices".to_string())),
        "{log:#?}"
    );
    // Asked, this lvm2 (2.03) gets no lvmetad setting.
    let asked = session(&[mine.path()]);
    assert_eq!(asked.vgs().unwrap(), ["vmcmetadin"]);
    assert!(
        asked
            .audit_log()
            .iter()
            .all(|r| !r.command.iter().any(|a| a.contains("use_lvmetad"))),
        "{:#?}",
        asked.audit_log()
    );
    as_202.vgremove("vmcmetadin").unwrap();
    host.vgremove("vmcmetadout").unwrap();
}
