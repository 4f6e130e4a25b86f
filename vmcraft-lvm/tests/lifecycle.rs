//! Tier 3: the whole LVM life cycle with real lvm2 on real loop devices —
//! PVs, a VG over two PVs, LVs by MiB, extents and percent of free space,
//! resizes both ways, listings in bytes, removal down to bare devices — and every
//! refused or failed call leaving the disks byte-identical.

mod common;

use common::*;
use vmcraft_lvm::{ErrorKind, LvSize, Mode, device_mapper_available};

#[test]
fn pv_vg_lv_life_cycle_on_two_loop_devices() {
    if !can_run("the lvm2 life cycle test") {
        return;
    }
    let a = loop_device("lvm-life-a", 64 * MIB);
    let b = loop_device("lvm-life-b", 64 * MIB);
    // The second device is given to the session as a symlink: listings must name
    // it that way, and lvm2 must still find it.
    let b_link = b.env().path().join("guest-disk-b");
    std::os::unix::fs::symlink(b.path(), &b_link).unwrap();
    let etc_before = host_lvm_state();

    let lvm = session(&[a.path(), &b_link]);
    let expected_mode = if device_mapper_available() {
        Mode::Activate
    } else {
        Mode::MetadataOnly
    };
    assert_eq!(lvm.mode(), expected_mode);

    assert!(lvm.pvs().unwrap().is_empty());
    lvm.pvcreate(&[a.path(), &b_link]).unwrap();
    assert!(has_lvm_label(a.path()) && has_lvm_label(b.path()));
    let mut want_pvs = vec![s(a.path()), s(&b_link)];
    want_pvs.sort();
    assert_eq!(lvm.pvs().unwrap(), want_pvs);

    lvm.vgcreate("vmclife", &[a.path(), &b_link]).unwrap();
    assert_eq!(lvm.vgs().unwrap(), ["vmclife"]);
    let vg = lvm.vgs_full().unwrap().remove(0);
    assert_eq!(vg.vg_name, "vmclife");
    assert_eq!(vg.vg_uuid.len(), 32);
    assert_eq!(vg.pv_count, 2);
    assert_eq!(vg.vg_extent_size, 4 * MIB);
    // 64 MiB less 1 MiB for the label and metadata: 15 extents of 4 MiB per PV.
    assert_eq!(vg.vg_extent_count, 30);
    assert_eq!(vg.vg_size, 120 * MIB);

    lvm.lvcreate("bymib", "vmclife", LvSize::MiB(10)).unwrap(); // rounds up to 12 MiB
    lvm.lvcreate("byext", "vmclife", LvSize::Extents(5))
        .unwrap(); // 20 MiB
    lvm.lvcreate_free("bypct", "vmclife", 50).unwrap(); // half of 22 free extents: 11
    assert_eq!(
        lvm.lvs().unwrap(),
        [
            "/dev/vmclife/byext",
            "/dev/vmclife/bymib",
            "/dev/vmclife/bypct"
        ]
    );
    let size_of = |name: &str| {
        lvm.lvs_full()
            .unwrap()
            .into_iter()
            .find(|l| l.lv_name == name)
            .unwrap_or_else(|| panic!("no LV {name}"))
            .lv_size
    };
    assert_eq!(size_of("bymib"), 12 * MIB);
    assert_eq!(size_of("byext"), 20 * MIB);
    assert_eq!(size_of("bypct"), 44 * MIB);
    let lv = lvm
        .lvs_full()
        .unwrap()
        .into_iter()
        .find(|l| l.lv_name == "bymib")
        .unwrap();
    assert_eq!(lv.lv_uuid.len(), 32);
    assert_eq!(lv.seg_count, 1);
    if expected_mode == Mode::MetadataOnly {
        assert_eq!(
            lv.lv_kernel_major, -1,
            "nothing is active without device-mapper"
        );
    }

    // Up, down, to the same size (not an error), by all free space.
    lvm.lvresize("/dev/vmclife/bymib", LvSize::MiB(32)).unwrap();
    assert_eq!(size_of("bymib"), 32 * MIB);
    lvm.lvresize("/dev/vmclife/bymib", LvSize::Extents(1))
        .unwrap();
    assert_eq!(size_of("bymib"), 4 * MIB);
    lvm.lvresize("/dev/vmclife/bymib", LvSize::MiB(4)).unwrap();
    assert_eq!(size_of("bymib"), 4 * MIB);
    let free = lvm.vgs_full().unwrap()[0].vg_free;
    assert_eq!(free, 120 * MIB - 4 * MIB - 20 * MIB - 44 * MIB);
    lvm.lvresize_free("/dev/vmclife/bypct", 100).unwrap();
    assert_eq!(size_of("bypct"), 44 * MIB + free);
    assert_eq!(lvm.vgs_full().unwrap()[0].vg_free, 0);
    lvm.lvresize_free("/dev/vmclife/bypct", 100).unwrap(); // nothing left to grow by
    lvm.lvresize_free("/dev/vmclife/bypct", 0).unwrap();
    assert_eq!(size_of("bypct"), 44 * MIB + free);
    let tolerated = lvm
        .audit_log()
        .into_iter()
        .filter(|r| {
            r.note
                .as_deref()
                .is_some_and(|n| n.starts_with("tolerated"))
        })
        .count();
    assert_eq!(tolerated, 2, "same size and no free space were tolerated");

    let pvs = lvm.pvs_full().unwrap();
    assert_eq!(pvs.len(), 2);
    assert!(
        pvs.iter()
            .all(|p| p.pv_free == 0 && p.pv_size == 60 * MIB && p.dev_size == 64 * MIB)
    );
    assert!(pvs.iter().any(|p| p.pv_name == s(&b_link)));

    lvm.lvremove("/dev/vmclife/byext").unwrap();
    assert_eq!(
        lvm.lvs().unwrap(),
        ["/dev/vmclife/bymib", "/dev/vmclife/bypct"]
    );
    lvm.lvremove("/dev/vmclife").unwrap();
    assert!(lvm.lvs().unwrap().is_empty());
    assert_eq!(lvm.vgs_full().unwrap()[0].lv_count, 0);
    lvm.vgremove("vmclife").unwrap();
    assert!(lvm.vgs().unwrap().is_empty());
    assert_eq!(lvm.pvs().unwrap(), want_pvs, "PVs outlive their VG");
    lvm.pvremove(a.path()).unwrap();
    lvm.pvremove(&b_link).unwrap();
    assert!(lvm.pvs().unwrap().is_empty());
    assert!(!has_lvm_label(a.path()) && !has_lvm_label(b.path()));

    // Every command was recorded and succeeded (the two tolerated failures aside),
    // and lvm2 kept its metadata archives in the session's directory, not the
    // host's (the backup of a removed VG is removed with it).
    let log = lvm.audit_log();
    assert!(log.iter().all(|r| r.attempted && r.ok), "{log:#?}");
    assert!(log.iter().all(|r| r.mode == expected_mode));
    assert!(
        files_under(&lvm.system_dir().join("archive"))
            .iter()
            .any(|f| f
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vmclife_")),
        "lvm2's metadata archive belongs in the session's directory"
    );
    assert_eq!(
        host_lvm_state(),
        etc_before,
        "the host's lvm2 configuration or state was written"
    );
    let system_dir = lvm.system_dir().to_path_buf();
    drop(lvm);
    assert!(
        !system_dir.exists(),
        "the private directory goes with the session"
    );
}

#[test]
fn refused_and_failed_calls_leave_the_disks_byte_identical() {
    if !can_run("the lvm2 refusal test") {
        return;
    }
    let a = loop_device("lvm-refuse-a", 32 * MIB);
    let outside = loop_device("lvm-refuse-x", 8 * MIB);
    let lvm = session(&[a.path()]);
    lvm.pvcreate(&[a.path()]).unwrap();
    lvm.vgcreate("vmcref", &[a.path()]).unwrap();
    lvm.lvcreate("keep", "vmcref", LvSize::Extents(2)).unwrap();
    let before = head_hash(a.path(), 4 << 20);
    let outside_before = head_hash(outside.path(), 4 << 20);
    let commands_before = lvm.audit_log().iter().filter(|r| r.attempted).count();

    // Refused before anything ran.
    let refusals = [
        lvm.pvcreate(&[outside.path()]).unwrap_err(),
        lvm.vgcreate("bad name", &[a.path()]).unwrap_err(),
        lvm.lvcreate("snapshot1", "vmcref", LvSize::MiB(4))
            .unwrap_err(),
        lvm.lvcreate("zero", "vmcref", LvSize::MiB(0)).unwrap_err(),
        lvm.lvcreate_free("pct", "vmcref", 101).unwrap_err(),
        lvm.lvresize("/dev/vmcref/keep", LvSize::Extents(0))
            .unwrap_err(),
        lvm.lvresize_free("/dev/vmcref/keep", -1).unwrap_err(),
        lvm.lvremove("/dev/vmcref/keep/x").unwrap_err(),
        lvm.pvremove(outside.path()).unwrap_err(),
    ];
    for e in &refusals {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    assert_eq!(
        lvm.audit_log().iter().filter(|r| r.attempted).count(),
        commands_before,
        "a refused call ran a command"
    );
    let e = lvm.pvremove(outside.path()).unwrap_err();
    assert!(
        e.to_string().contains("not one of the session's devices"),
        "{e}"
    );

    // Refused by lvm2 itself: the error carries its reason and the command line.
    let e = lvm
        .lvcreate("huge", "vmcref", LvSize::MiB(1024))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(e.message().contains("insufficient free space"), "{e}");
    let failure = e.command_failure().expect("command line");
    assert_eq!(failure.argv[..2], ["lvm", "lvcreate"]);
    assert!(failure.argv.contains(&"huge".to_string()));
    let e = lvm
        .lvcreate("keep", "vmcref", LvSize::Extents(1))
        .unwrap_err();
    assert!(e.message().contains("already exists"), "{e}");
    let e = lvm.lvremove("/dev/vmcref/missing").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(e.message().contains("missing"), "{e}");
    let e = lvm
        .lvresize("/dev/vmcref/keep", LvSize::MiB(1024))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed, "{e}");
    let e = lvm.vgremove("nosuchvg").unwrap_err();
    assert!(e.message().contains("nosuchvg"), "{e}");
    let e = lvm.pvcreate(&[a.path()]).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::CommandFailed,
        "--yes must not re-initialise a PV of a VG"
    );
    let e = lvm.vgcreate("vmcref2", &[a.path()]).unwrap_err();
    assert!(
        e.message().contains("vmcref"),
        "a PV in a VG is refused: {e}"
    );

    assert_eq!(
        head_hash(a.path(), 4 << 20),
        before,
        "a failed call changed the disk"
    );
    assert_eq!(head_hash(outside.path(), 4 << 20), outside_before);
    lvm.lvm_remove_all().unwrap();
    assert!(lvm.pvs().unwrap().is_empty());
}

#[test]
fn remove_all_clears_every_lvm_structure_of_the_session() {
    if !can_run("the lvm_remove_all test") {
        return;
    }
    let a = loop_device("lvm-rmall-a", 32 * MIB);
    let b = loop_device("lvm-rmall-b", 32 * MIB);
    let c = loop_device("lvm-rmall-c", 32 * MIB);
    let lvm = session(&[a.path(), b.path(), c.path()]);
    lvm.pvcreate(&[a.path(), b.path(), c.path()]).unwrap();
    lvm.vgcreate("vmcone", &[a.path(), b.path()]).unwrap();
    lvm.lvcreate("x", "vmcone", LvSize::MiB(8)).unwrap();
    lvm.lvcreate("y", "vmcone", LvSize::PercentFree(100))
        .unwrap();
    lvm.vgcreate("vmctwo", &[c.path()]).unwrap();
    lvm.lvcreate("z", "vmctwo", LvSize::Extents(1)).unwrap();
    assert_eq!(lvm.lvs().unwrap().len(), 3);
    lvm.lvm_remove_all().unwrap();
    assert!(lvm.lvs().unwrap().is_empty());
    assert!(lvm.vgs().unwrap().is_empty());
    assert!(lvm.pvs().unwrap().is_empty());
    for d in [a.path(), b.path(), c.path()] {
        assert!(!has_lvm_label(d), "{} still has an LVM label", d.display());
    }
}

#[test]
fn metadata_only_mode_is_real_and_says_so() {
    if !can_run("the metadata-only test") {
        return;
    }
    let a = loop_device("lvm-mdonly", 32 * MIB);
    let opts = vmcraft_lvm::LvmOptions {
        mode: Some(Mode::MetadataOnly),
        timeout: None,
        ..Default::default()
    };
    let lvm = vmcraft_lvm::Lvm::with_options(
        std::sync::Arc::new(vmcraft_block::SystemRunner::new()),
        [a.path()],
        opts,
    )
    .unwrap();
    lvm.pvcreate(&[a.path()]).unwrap();
    lvm.vgcreate("vmcmd", &[a.path()]).unwrap();
    lvm.lvcreate("lv", "vmcmd", LvSize::MiB(8)).unwrap();
    lvm.vgscan().unwrap();
    let lv = lvm.lvs_full().unwrap().remove(0);
    assert_eq!(lv.lv_kernel_major, -1);
    // lvm2 cannot ask the kernel, so the state is unknown ('X'), never active.
    assert_ne!(&lv.lv_attr[4..5], "a", "{}", lv.lv_attr);
    // Activation is refused, deactivation checks the names and succeeds.
    assert_eq!(
        lvm.vg_activate(true, &["vmcmd"]).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    lvm.vg_activate(false, &["vmcmd"]).unwrap();
    lvm.vg_activate_all(false).unwrap();
    let e = lvm.vg_activate(false, &["nosuchvg"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(lvm.audit_log().iter().all(|r| r.mode == Mode::MetadataOnly));
    let commands: Vec<_> = lvm
        .audit_log()
        .into_iter()
        .filter(|r| r.attempted && r.call != "lvm_version")
        .collect();
    assert!(!commands.is_empty());
    assert!(
        commands
            .iter()
            .all(|r| r.command.contains(&"--driverloaded".to_string()))
    );
    assert!(
        !std::path::Path::new("/dev/vmcmd/lv").exists(),
        "no device node without activation"
    );
    lvm.lvm_remove_all().unwrap();
}

/// A resize lvm2 refuses is an error, also when the size asked for is so large
/// that its byte count wrapped past 2^64 to the LV's current size: 2^44 + 8 MiB
/// is 2^64 + 8 MiB bytes, which wrapped is the 8 MiB the LV already has, and was
/// reported as a tolerated no-op.
#[test]
fn a_huge_resize_that_lvm2_refuses_is_never_tolerated_as_a_no_op() {
    if !can_run("the huge lvresize test") {
        return;
    }
    let a = loop_device("lvm-huge-resize", 64 * MIB);
    let lvm = session(&[a.path()]);
    lvm.pvcreate(&[a.path()]).unwrap();
    lvm.vgcreate("vmchuge", &[a.path()]).unwrap();
    lvm.lvcreate("lv", "vmchuge", LvSize::MiB(8)).unwrap();
    let before = head_hash(a.path(), 64 * MIB as usize);

    let huge = (1u64 << 44) + 8;
    let e = lvm
        .lvresize("/dev/vmchuge/lv", LvSize::MiB(huge))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed, "{e}");
    assert!(
        e.to_string().starts_with("lvresize: /dev/vmchuge/lv: "),
        "{e}"
    );
    let failure = e.command_failure().expect("lvm2's failure");
    assert!(
        failure.argv.contains(&format!("{huge}m")),
        "{:?}",
        failure.argv
    );
    assert!(
        lvm.audit_log()
            .iter()
            .all(|r| !r.note.as_deref().unwrap_or("").starts_with("tolerated")),
        "{:#?}",
        lvm.audit_log()
    );
    assert_eq!(lvm.lvs_full().unwrap()[0].lv_size, 8 * MIB);
    assert_eq!(head_hash(a.path(), 64 * MIB as usize), before);
    // The same size asked for plainly is still the tolerated no-op.
    lvm.lvresize("/dev/vmchuge/lv", LvSize::MiB(8)).unwrap();
    lvm.vgremove("vmchuge").unwrap();
}
