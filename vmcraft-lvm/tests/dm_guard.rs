//! Tier 1: device-mapper ownership against a fake sysfs tree and the scripted
//! `FakeRunner` (this host has no device-mapper; the real activation tests skip
//! loudly). The tree holds what a host can hold next to a session whose VG is
//! named like the host's and whose UUIDs a clone shares: a host device of the same
//! name, a device with the same UUID built on another session's disk, and the
//! session's own device. Activation, deactivation, creation, resizing and removal
//! are refused before lvm2 runs whenever a foreign device carries one of the
//! session's LV names or UUIDs; the session's own device is found by UUID.

use std::path::Path;
use std::sync::Arc;

use vmcraft_block::testing::{FakeRunner, Response};
use vmcraft_lvm::dm::{Sysfs, lvm_dm_uuid};
use vmcraft_lvm::{ErrorKind, LvSize, Lvm, LvmOptions, Mode};

const A: &str = "/dev/vmcraft-fake-a";
const B: &str = "/dev/vmcraft-fake-b";

const VG_UUID: &str = "Vg0000-aaaa-bbbb-cccc-dddd-eeee-ffffff";
const ROOT_UUID: &str = "Lv1111-aaaa-bbbb-cccc-dddd-eeee-ffffff";
const HOME_UUID: &str = "Lv2222-aaaa-bbbb-cccc-dddd-eeee-ffffff";
const DATA_VG_UUID: &str = "Vg3333-aaaa-bbbb-cccc-dddd-eeee-ffffff";

/// A fake `/sys` with `block/dm-N/{dm/name,dm/uuid,slaves/*}`.
struct FakeSys(tempfile::TempDir);

impl FakeSys {
    fn new() -> Self {
        FakeSys(tempfile::tempdir().unwrap())
    }

    fn dm(&self, kernel: &str, name: &str, uuid: &str, slaves: &[&str]) -> &Self {
        let d = self.0.path().join("block").join(kernel);
        std::fs::create_dir_all(d.join("dm")).unwrap();
        std::fs::create_dir_all(d.join("slaves")).unwrap();
        std::fs::write(d.join("dm/name"), format!("{name}\n")).unwrap();
        std::fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
        for s in slaves {
            std::fs::create_dir_all(d.join("slaves").join(s)).unwrap();
        }
        self
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

fn session(mode: Mode, sys: &FakeSys) -> (Arc<FakeRunner>, Lvm) {
    let fake = Arc::new(FakeRunner::new());
    let opts = LvmOptions {
        mode: Some(mode),
        devices_option: Some(true),
        udev: Some(false),
        sysfs_root: Some(sys.path().to_path_buf()),
        ..LvmOptions::default()
    };
    let lvm = Lvm::with_options(fake.clone(), [A, B], opts).expect("session");
    (fake, lvm)
}

/// lvm2's `lvs -a -o vg_name,vg_uuid,lv_name,lv_uuid` for the session: rhel/root
/// (the clone's UUIDs) and data/home.
fn lv_report() -> Response {
    Response::ok(format!(
        r#"  {{ "report": [ {{ "lv": [
            {{"vg_name":"rhel", "vg_uuid":"{VG_UUID}", "lv_name":"root", "lv_uuid":"{ROOT_UUID}"}},
            {{"vg_name":"data", "vg_uuid":"{DATA_VG_UUID}", "lv_name":"home", "lv_uuid":"{HOME_UUID}"}},
            {{"vg_name":"data", "vg_uuid":"{DATA_VG_UUID}", "lv_name":"[lvol0_pmspare]", "lv_uuid":"Lv4444"}}
        ] }} ] }}"#
    ))
}

fn expect_report(fake: &FakeRunner) {
    fake.expect_prefix(&["lvm", "lvs"], lv_report());
}

fn root_uuid() -> String {
    lvm_dm_uuid(VG_UUID, ROOT_UUID)
}

fn home_uuid() -> String {
    lvm_dm_uuid(DATA_VG_UUID, HOME_UUID)
}

#[test]
fn a_clone_active_in_another_session_is_never_touched() {
    let sys = FakeSys::new();
    // The same UUID as the session's rhel/root, built on another session's disk.
    sys.dm("dm-1", "rhel-root", &root_uuid(), &["loop9p2"]);
    let (fake, lvm) = session(Mode::Activate, &sys);
    for activate in [true, false] {
        expect_report(&fake);
        let e = lvm.vg_activate(activate, &["rhel"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(
            e.to_string(),
            "vg_activate: rhel: LV rhel/root: device-mapper device /dev/dm-1 (rhel-root) has this LV's UUID \
             but is built on loop9p2, not on this session's devices; refusing to touch it (it belongs to \
             the host or to another session)"
        );
    }
    expect_report(&fake);
    let e = lvm.vg_activate_all(false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(
        e.to_string()
            .starts_with("vg_activate_all: rhel/root: device-mapper device /dev/dm-1"),
        "{e}"
    );
    expect_report(&fake);
    let e = lvm.lvremove("/dev/rhel/root").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("lvremove: /dev/rhel/root: device-mapper device /dev/dm-1"),
        "{e}"
    );
    expect_report(&fake);
    assert_eq!(
        lvm.vgremove("rhel").unwrap_err().kind(),
        ErrorKind::Conflict
    );
    expect_report(&fake);
    assert_eq!(
        lvm.lvresize("/dev/rhel/root", LvSize::MiB(8))
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    expect_report(&fake);
    assert_eq!(
        lvm.lvm_remove_all().unwrap_err().kind(),
        ErrorKind::Conflict
    );
    // Only the reports ran: no vgchange, lvremove, vgremove or lvresize.
    assert!(
        fake.call_lines().iter().all(|l| l.starts_with("lvm lvs ")),
        "{:?}",
        fake.call_lines()
    );
    assert!(
        fake.call_lines()[0]
            .ends_with(" --reportformat json -a -o vg_name,vg_uuid,lv_name,lv_uuid")
    );
    fake.verify();
    // Every refusal is in the audit trail, as not attempted.
    let refused: Vec<String> = lvm
        .audit_log()
        .into_iter()
        .filter(|r| !r.attempted && !r.ok)
        .map(|r| r.call)
        .collect();
    assert_eq!(
        refused,
        [
            "vg_activate",
            "vg_activate",
            "vg_activate_all",
            "lvremove",
            "vgremove",
            "lvresize",
            "lvm_remove_all"
        ]
    );
    // The session's own device for that LV: none (the only one is foreign).
    expect_report(&fake);
    assert_eq!(lvm.lv_dm_device("/dev/rhel/root", &[]).unwrap(), None);
    fake.verify();
}

#[test]
fn a_host_device_of_the_same_name_is_a_conflict_too() {
    let sys = FakeSys::new();
    // The host's own rhel/root: same dm name, its own UUID, on the host's disk.
    sys.dm(
        "dm-0",
        "rhel-root",
        "LVM-hostvghostvghostvghostvghostvghostlvhostlvhostlvhostlvhostlv",
        &["sda2"],
    );
    let (fake, lvm) = session(Mode::Activate, &sys);
    expect_report(&fake);
    let e = lvm.vg_activate(true, &["rhel"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "vg_activate: rhel: LV rhel/root: device-mapper device /dev/dm-0 (rhel-root) has this LV's name \
         but is built on sda2, not on this session's devices; refusing to touch it (it belongs to the \
         host or to another session)"
    );
    // Creating an LV of that name would activate it under the host's name.
    expect_report(&fake);
    let e = lvm.lvcreate("root", "rhel", LvSize::MiB(4)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(
        e.to_string()
            .starts_with("lvcreate: /dev/rhel/root: device-mapper device /dev/dm-0"),
        "{e}"
    );
    // Another VG of the session is not in the way: its activation runs.
    expect_report(&fake);
    fake.expect_prefix(&["lvm", "vgchange"], Response::ok(""));
    lvm.vg_activate(true, &["data"]).unwrap();
    let last = fake.call_lines().pop().unwrap();
    assert!(last.ends_with(" --activate y data"), "{last}");
    fake.verify();
    // The session activated something, so dropping it would deactivate its VGs:
    // with the host's device in the way it deactivates nothing.
    expect_report(&fake);
    let before = fake.calls().len();
    drop(lvm);
    let after = fake.call_lines();
    assert_eq!(after.len(), before + 1, "{after:?}");
    assert!(after.last().unwrap().starts_with("lvm lvs "), "{after:?}");
    fake.verify();

    // A layer of an LV (a snapshot's -real) counts as the same name.
    let sys = FakeSys::new();
    sys.dm("dm-5", "data-home-real", "LVM-elsewhere-real", &["sdb1"]);
    let (fake, lvm) = session(Mode::Activate, &sys);
    expect_report(&fake);
    let e = lvm.vg_activate(false, &["data"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("/dev/dm-5 (data-home-real) has this LV's name"),
        "{e}"
    );
    fake.verify();
}

#[test]
fn the_sessions_own_device_is_found_by_uuid_and_slaves() {
    let sys = FakeSys::new();
    sys.dm("dm-0", "rhel-root", "LVM-host", &["sda2"]);
    sys.dm("dm-1", "rhel-root-clone", &root_uuid(), &["loop9p2"]);
    // The session's data/home, on its own device (by kernel name) and stacked on a
    // device-mapper device that is itself on the session's devices.
    sys.dm("dm-2", "data-home", &home_uuid(), &["dm-3"]);
    sys.dm(
        "dm-3",
        "data-home-real",
        &format!("{}-real", home_uuid()),
        &["vmcraft-fake-a", "vmcraft-fake-b"],
    );
    let (fake, lvm) = session(Mode::Activate, &sys);
    expect_report(&fake);
    let dev = lvm.lv_dm_device("/dev/data/home", &[]).unwrap().unwrap();
    assert_eq!(dev.kernel_name, "dm-2");
    assert_eq!(dev.node(), Path::new("/dev/dm-2"));
    expect_report(&fake);
    assert_eq!(lvm.lv_dm_device("/dev/rhel/root", &[]).unwrap(), None);
    // A device the caller owns besides the session's (a loop window) counts.
    let sys2 = FakeSys::new();
    sys2.dm("dm-7", "rhel-root", &root_uuid(), &["vmcraft-window-0"]);
    let (fake2, lvm2) = session(Mode::Activate, &sys2);
    expect_report(&fake2);
    assert_eq!(lvm2.lv_dm_device("/dev/rhel/root", &[]).unwrap(), None);
    expect_report(&fake2);
    let dev = lvm2
        .lv_dm_device("/dev/rhel/root", &["/dev/vmcraft-window-0".into()])
        .unwrap()
        .unwrap();
    assert_eq!(dev.kernel_name, "dm-7");
    fake2.verify();
    // Only dm-0 and dm-1 conflict; the session's own devices do not.
    expect_report(&fake);
    let c = lvm.dm_conflicts(&[], &[]).unwrap();
    let kernels: Vec<&str> = c.iter().map(|c| c.device.kernel_name.as_str()).collect();
    assert_eq!(kernels, ["dm-0", "dm-1"]);
    assert!(!c[0].same_uuid && c[1].same_uuid);
    // Deactivating the session's own VG is allowed.
    expect_report(&fake);
    fake.expect_prefix(&["lvm", "vgchange"], Response::ok(""));
    lvm.vg_activate(false, &["data"]).unwrap();
    fake.verify();
    assert_eq!(Sysfs::new(sys.path()).dm_devices().len(), 4);
}

#[test]
fn without_lvm_devices_nothing_extra_runs() {
    // No device-mapper device at all (this host): no report, no refusal.
    let sys = FakeSys::new();
    let (fake, lvm) = session(Mode::Activate, &sys);
    fake.expect_prefix(&["lvm", "vgchange"], Response::ok(""));
    lvm.vg_activate(true, &["rhel"]).unwrap();
    assert_eq!(lvm.lv_dm_device("/dev/rhel/root", &[]).unwrap(), None);
    fake.verify();
    assert_eq!(fake.calls().len(), 1);
    // Metadata-only sessions never touch device-mapper: no check, even with a
    // conflicting device present.
    let sys = FakeSys::new();
    sys.dm("dm-1", "rhel-root", &root_uuid(), &["loop9p2"]);
    let (fake, lvm) = session(Mode::MetadataOnly, &sys);
    fake.expect_prefix(&["lvm", "vgchange"], Response::ok(""));
    lvm.vg_activate(false, &["rhel"]).unwrap();
    fake.verify();
}

#[test]
fn drop_deactivates_lvs_the_host_activated_on_the_sessions_devices() {
    // The host's udev (lvm2's event activation) started data/home on the
    // session's disk: the session never activated anything, yet its drop must
    // deactivate it, or the disk could not be detached.
    let sys = FakeSys::new();
    sys.dm("dm-2", "data-home", &home_uuid(), &["vmcraft-fake-a"]);
    let (fake, lvm) = session(Mode::Activate, &sys);
    expect_report(&fake);
    fake.expect_prefix(&["lvm", "vgchange"], Response::ok(""));
    drop(lvm);
    fake.verify();
    let last = fake.calls().last().unwrap().argv();
    assert!(
        last.ends_with(&["--activate".to_string(), "n".to_string()]),
        "{last:?}"
    );

    // Only a device elsewhere (the host's own rhel-root): nothing runs.
    let sys = FakeSys::new();
    sys.dm("dm-0", "rhel-root", "LVM-host", &["sda2"]);
    let (fake, lvm) = session(Mode::Activate, &sys);
    drop(lvm);
    assert!(fake.calls().is_empty(), "{:?}", fake.call_lines());

    // The host's device of the same UUID elsewhere, beside one on the session's
    // disk: deactivating would touch the host's, so nothing is deactivated.
    let sys = FakeSys::new();
    sys.dm("dm-1", "rhel-root", &root_uuid(), &["loop9p2"]);
    sys.dm("dm-2", "data-home", &home_uuid(), &["vmcraft-fake-a"]);
    let (fake, lvm) = session(Mode::Activate, &sys);
    expect_report(&fake);
    drop(lvm);
    fake.verify();
    assert!(
        !fake.call_lines().iter().any(|l| l.contains("vgchange")),
        "{:?}",
        fake.call_lines()
    );
}
