//! Tier 1: every call's exact lvm2 command line, the isolation options and
//! environment on every command, every validation error (with nothing run), the
//! activation modes, tolerated failures and the audit trail, against the scripted
//! `FakeRunner`.

use std::sync::Arc;

use vmcraft_block::testing::{FakeRunner, Response};
use vmcraft_block::{Command, ErrorKind as BlockKind};
use vmcraft_lvm::{ErrorKind, LvSize, Lvm, LvmOptions, Mode};

const A: &str = "/dev/vmcraft-fake-a";
const B: &str = "/dev/vmcraft-fake-b";
const FILTER: &str = r#"devices/global_filter=["a|^/dev/vmcraft\\-fake\\-a$|","a|^/dev/vmcraft\\-fake\\-b$|","r|.*|"]"#;
const DEVICES: &str = "/dev/vmcraft-fake-a,/dev/vmcraft-fake-b";

fn session(mode: Mode) -> (Arc<FakeRunner>, Lvm) {
    let fake = Arc::new(FakeRunner::new());
    let opts = LvmOptions {
        mode: Some(mode),
        devices_option: Some(true),
        udev: Some(false),
        ..LvmOptions::default()
    };
    let lvm = Lvm::with_options(fake.clone(), [A, B], opts).expect("session");
    (fake, lvm)
}

/// `lvm SUB` and the isolation (and, metadata-only, mode) options, then `rest`.
fn argv(mode: Mode, sub: &str, rest: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["lvm", sub, "--config", FILTER, "--devices", DEVICES]
        .map(String::from)
        .to_vec();
    if mode == Mode::MetadataOnly {
        v.extend(["--driverloaded", "n"].map(String::from));
    }
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

fn expect(fake: &FakeRunner, argv: &[String], response: Response) {
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    fake.expect(&refs, response);
}

fn md(sub: &str, rest: &[&str]) -> Vec<String> {
    argv(Mode::MetadataOnly, sub, rest)
}

fn env_of(cmd: &Command, key: &str) -> Option<String> {
    cmd.get_env()
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string_lossy().into_owned())
}

const FULL_LV_COLUMNS: &str = "lv_name,lv_uuid,lv_attr,lv_major,lv_minor,lv_kernel_major,lv_kernel_minor,\
lv_size,seg_count,origin,snap_percent,copy_percent,move_pv,lv_tags,mirror_log,modules";

fn json(kind: &str, rows: &[&str]) -> String {
    format!(
        r#"  {{ "report": [ {{ "{kind}": [ {} ] }} ] }}"#,
        rows.join(", ")
    )
}

#[test]
fn every_call_has_its_exact_command_line() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    let cases: Vec<Vec<String>> = vec![
        md("pvcreate", &["--yes", A, B]),
        md("vgcreate", &["vg0", A, B]),
        md(
            "lvcreate",
            &[
                "--activate",
                "n",
                "--zero",
                "n",
                "--yes",
                "-L",
                "100m",
                "-n",
                "lv1",
                "vg0",
            ],
        ),
        md(
            "lvcreate",
            &[
                "--activate",
                "n",
                "--zero",
                "n",
                "--yes",
                "-l",
                "25",
                "-n",
                "lv2",
                "vg0",
            ],
        ),
        md(
            "lvcreate",
            &[
                "--activate",
                "n",
                "--zero",
                "n",
                "--yes",
                "-l",
                "50%FREE",
                "-n",
                "lv3",
                "vg0",
            ],
        ),
        md(
            "lvcreate",
            &[
                "--activate",
                "n",
                "--zero",
                "n",
                "--yes",
                "-l",
                "100%FREE",
                "-n",
                "lv4",
                "vg0",
            ],
        ),
        md("lvresize", &["--force", "-L", "200m", "vg0/lv1"]),
        md("lvresize", &["--force", "-l", "7", "vg0/lv1"]),
        md("lvresize", &["--force", "-l", "+30%FREE", "vg0/lv2"]),
        md("lvremove", &["-f", "vg0/lv1"]),
        md("lvremove", &["-f", "vg0"]),
        md("vgchange", &["--activate", "n", "vg0", "vg1"]),
        md("vgchange", &["--activate", "n"]),
        md("vgscan", &[]),
        md("vgremove", &["-f", "vg0"]),
        md("pvremove", &["-ff", "--yes", B]),
    ];
    for c in &cases {
        expect(&fake, c, Response::ok(""));
    }
    lvm.pvcreate(&[A, B]).unwrap();
    lvm.vgcreate("vg0", &[A, B]).unwrap();
    lvm.lvcreate("lv1", "vg0", LvSize::MiB(100)).unwrap();
    lvm.lvcreate("lv2", "vg0", LvSize::Extents(25)).unwrap();
    lvm.lvcreate("lv3", "vg0", LvSize::PercentFree(50)).unwrap();
    lvm.lvcreate_free("lv4", "vg0", 100).unwrap();
    lvm.lvresize("/dev/vg0/lv1", LvSize::MiB(200)).unwrap();
    lvm.lvresize("vg0/lv1", LvSize::Extents(7)).unwrap();
    lvm.lvresize_free("/dev/vg0/lv2", 30).unwrap();
    lvm.lvremove("/dev/vg0/lv1").unwrap();
    lvm.lvremove("/dev/vg0").unwrap();
    lvm.vg_activate(false, &["vg0", "vg1"]).unwrap();
    lvm.vg_activate_all(false).unwrap();
    lvm.vgscan().unwrap();
    lvm.vgremove("vg0").unwrap();
    lvm.pvremove(B).unwrap();
    fake.verify();

    // Isolation on every command: the filter, the device list, the private
    // configuration directory, no udev, a timeout.
    let calls = fake.calls();
    assert_eq!(calls.len(), cases.len());
    for cmd in &calls {
        let argv = cmd.argv();
        assert_eq!(
            argv[2..6],
            ["--config", FILTER, "--devices", DEVICES],
            "{cmd}"
        );
        assert_eq!(argv[6..8], ["--driverloaded", "n"], "{cmd}");
        assert_eq!(
            env_of(cmd, "LVM_SYSTEM_DIR").as_deref(),
            Some(&*lvm.system_dir().to_string_lossy())
        );
        assert_eq!(
            env_of(cmd, "LVM_SUPPRESS_FD_WARNINGS").as_deref(),
            Some("1")
        );
        assert_eq!(env_of(cmd, "LC_ALL").as_deref(), Some("C"));
        assert_eq!(env_of(cmd, "DM_DISABLE_UDEV").as_deref(), Some("1"));
        assert!(cmd.get_timeout().is_some());
        assert!(
            cmd.get_stdin().is_none(),
            "lvm2 must read /dev/null, never a terminal"
        );
    }
    let conf = std::fs::read_to_string(lvm.system_dir().join("lvm.conf")).unwrap();
    assert!(conf.contains("use_devicesfile = 0"));
    assert!(conf.contains(&format!(
        "backup_dir = \"{}/backup\"",
        lvm.system_dir().display()
    )));

    // The audit trail has one successful record per command, in order.
    let log = lvm.audit_log();
    assert_eq!(log.len(), cases.len());
    for (i, (r, c)) in log.iter().zip(&cases).enumerate() {
        assert_eq!(r.seq, i as u64);
        assert!(r.attempted && r.ok && r.error.is_none());
        assert_eq!(&r.command, c);
        assert_eq!(r.exit_status, Some(0));
        assert_eq!(r.mode, Mode::MetadataOnly);
    }
    assert_eq!(log[0].call, "pvcreate");
    assert_eq!(log[2].subject, "/dev/vg0/lv1");
    assert_eq!(log[5].call, "lvcreate_free");
    assert_eq!(log[12].call, "vg_activate_all");
}

#[test]
fn activate_mode_creates_active_lvs_and_deactivates_on_drop() {
    let (fake, lvm) = session(Mode::Activate);
    let a = |sub: &str, rest: &[&str]| argv(Mode::Activate, sub, rest);
    expect(
        &fake,
        &a("lvcreate", &["--yes", "-L", "8m", "-n", "lv", "vg0"]),
        Response::ok(""),
    );
    expect(
        &fake,
        &a("vgchange", &["--activate", "y", "vg0"]),
        Response::ok(""),
    );
    expect(
        &fake,
        &a("vgchange", &["--activate", "y"]),
        Response::ok(""),
    );
    expect(
        &fake,
        &a("vgchange", &["--activate", "n"]),
        Response::ok(""),
    );
    lvm.lvcreate("lv", "vg0", LvSize::MiB(8)).unwrap();
    lvm.vg_activate(true, &["vg0"]).unwrap();
    lvm.vg_activate_all(true).unwrap();
    for cmd in fake.calls() {
        assert!(!cmd.argv().contains(&"--driverloaded".to_string()), "{cmd}");
    }
    drop(lvm);
    fake.verify();
}

#[test]
fn nothing_activated_means_nothing_to_undo_on_drop() {
    let (fake, lvm) = session(Mode::Activate);
    expect(
        &fake,
        &argv(
            Mode::Activate,
            "vgs",
            &["--reportformat", "json", "-o", "vg_name"],
        ),
        Response::ok(json("vg", &[])),
    );
    assert!(lvm.vgs().unwrap().is_empty());
    drop(lvm);
    fake.verify();
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn metadata_only_refuses_activation_without_running_anything() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    let e = lvm.vg_activate(true, &["vg0"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(
        e.to_string(),
        "vg_activate: vg0: cannot activate: this host has no device-mapper (metadata-only mode)"
    );
    let e = lvm.vg_activate_all(true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(fake.calls().is_empty());
    let log = lvm.audit_log();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|r| !r.attempted && !r.ok && r.mode == Mode::MetadataOnly)
    );
    drop(lvm);
    assert!(
        fake.calls().is_empty(),
        "metadata-only sessions deactivate nothing on drop"
    );
}

/// Run `f`, which must be refused with `kind` and `message` before any command.
fn refused<T: std::fmt::Debug>(
    lvm: &Lvm,
    fake: &FakeRunner,
    kind: ErrorKind,
    message: &str,
    r: vmcraft_lvm::Result<T>,
) {
    let e = r.unwrap_err();
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.to_string(), message);
    assert!(e.command_failure().is_none());
    assert!(
        fake.calls().is_empty(),
        "a command ran for a refused call: {:?}",
        fake.call_lines()
    );
    let last = lvm.audit_log().pop().expect("refusal recorded");
    assert!(!last.attempted && !last.ok);
    assert!(last.command.is_empty());
    assert_eq!(last.error.as_deref(), Some(message));
}

#[test]
fn every_bad_argument_is_refused_before_anything_runs() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    let inv = ErrorKind::InvalidArgument;
    let none: &[&str] = &[];
    refused(
        &lvm,
        &fake,
        inv,
        "pvcreate: no devices given",
        lvm.pvcreate(none),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "pvcreate: /dev/sdz: not one of the session's devices (/dev/vmcraft-fake-a, /dev/vmcraft-fake-b)",
        lvm.pvcreate(&[A, "/dev/sdz"]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "pvcreate: dev/x: device path is not absolute",
        lvm.pvcreate(&["dev/x"]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vgcreate: no devices given",
        lvm.vgcreate("vg0", none),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vgcreate: \"\": volume group name is empty",
        lvm.vgcreate("", &[A]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vgcreate: vg 0: invalid character ' ' in volume group name (allowed: A-Z a-z 0-9 + _ . -)",
        lvm.vgcreate("vg 0", &[A]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vgcreate: -vg: volume group name may not start with '-'",
        lvm.vgcreate("-vg", &[A]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vgcreate: ..: volume group name may not be \"..\"",
        lvm.vgcreate("..", &[A]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        &format!(
            "vgcreate: {}: volume group name is 128 bytes long, more than 127",
            "v".repeat(128)
        ),
        lvm.vgcreate(&"v".repeat(128), &[A]),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: \"\": logical volume name is empty",
        lvm.lvcreate("", "vg0", LvSize::MiB(1)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: snapshot0: logical volume names starting with \"snapshot\" are reserved by lvm2",
        lvm.lvcreate("snapshot0", "vg0", LvSize::MiB(1)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: x_tmeta: logical volume names containing \"_tmeta\" are reserved by lvm2",
        lvm.lvcreate("x_tmeta", "vg0", LvSize::MiB(1)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: vg/x: invalid character '/' in volume group name (allowed: A-Z a-z 0-9 + _ . -)",
        lvm.lvcreate("lv", "vg/x", LvSize::MiB(1)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: /dev/vg0/lv: size 0 MiB is zero",
        lvm.lvcreate("lv", "vg0", LvSize::MiB(0)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: /dev/vg0/lv: size 0 extents is zero",
        lvm.lvcreate("lv", "vg0", LvSize::Extents(0)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: /dev/vg0/lv: size 0% of free space is zero",
        lvm.lvcreate("lv", "vg0", LvSize::PercentFree(0)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate: /dev/vg0/lv: percentage 101 is outside 1..=100",
        lvm.lvcreate("lv", "vg0", LvSize::PercentFree(101)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate_free: /dev/vg0/lv: percentage -1 is outside 0..=100",
        lvm.lvcreate_free("lv", "vg0", -1),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate_free: /dev/vg0/lv: percentage 101 is outside 0..=100",
        lvm.lvcreate_free("lv", "vg0", 101),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvcreate_free: /dev/vg0/lv: size 0% of free space is zero",
        lvm.lvcreate_free("lv", "vg0", 0),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvresize: /dev/vg0: not a logical volume path (expected /dev/VG/LV)",
        lvm.lvresize("/dev/vg0", LvSize::MiB(1)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvresize: /dev/vg0/lv: size 0 MiB is zero",
        lvm.lvresize("/dev/vg0/lv", LvSize::MiB(0)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvresize: /dev/vg0/lv: 10% of free space is a relative size: use lvresize_free",
        lvm.lvresize("/dev/vg0/lv", LvSize::PercentFree(10)),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvresize_free: /dev/vg0/lv: percentage -5 is outside 0..=100",
        lvm.lvresize_free("/dev/vg0/lv", -5),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvresize_free: /dev/vg0/lv: percentage 150 is outside 0..=100",
        lvm.lvresize_free("/dev/vg0/lv", 150),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvremove: /dev/a/b/c: not a logical volume path (expected /dev/VG/LV or /dev/VG)",
        lvm.lvremove("/dev/a/b/c"),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "lvremove: \"\": volume group name is empty",
        lvm.lvremove(""),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vgremove: \"\": volume group name is empty",
        lvm.vgremove(""),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "pvremove: /dev/sdq: not one of the session's devices (/dev/vmcraft-fake-a, /dev/vmcraft-fake-b)",
        lvm.pvremove("/dev/sdq"),
    );
    refused(
        &lvm,
        &fake,
        inv,
        "vg_activate: a b: invalid character ' ' in volume group name (allowed: A-Z a-z 0-9 + _ . -)",
        lvm.vg_activate(false, &["a b"]),
    );
    let e = LvSize::from_parts("lvcreate", Some(10), Some(2)).unwrap_err();
    assert_eq!(e.kind(), inv);
    assert!(fake.calls().is_empty());
}

#[test]
fn a_session_without_devices_lists_nothing_and_changes_nothing() {
    let fake = Arc::new(FakeRunner::new());
    let opts = LvmOptions {
        mode: Some(Mode::MetadataOnly),
        devices_option: Some(true),
        ..Default::default()
    };
    let lvm = Lvm::with_options(fake.clone(), Vec::<&str>::new(), opts).unwrap();
    assert!(lvm.pvs().unwrap().is_empty());
    assert!(lvm.vgs().unwrap().is_empty());
    assert!(lvm.lvs().unwrap().is_empty());
    assert!(lvm.pvs_full().unwrap().is_empty());
    assert!(lvm.vgs_full().unwrap().is_empty());
    assert!(lvm.lvs_full().unwrap().is_empty());
    lvm.vgscan().unwrap();
    lvm.lvm_remove_all().unwrap();
    for e in [
        lvm.vgremove("vg0").unwrap_err(),
        lvm.lvcreate("lv", "vg0", LvSize::MiB(4)).unwrap_err(),
        lvm.lvremove("/dev/vg0/lv").unwrap_err(),
        lvm.vg_activate_all(false).unwrap_err(),
        lvm.pvcreate(&["/dev/sda"]).unwrap_err(),
        lvm.lvm_command("lvrename").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NoDevices, "{e}");
        assert!(e.to_string().ends_with("the session has no devices"), "{e}");
    }
    assert!(
        fake.calls().is_empty(),
        "nothing may run without devices: {:?}",
        fake.call_lines()
    );
    let log = lvm.audit_log();
    assert!(log.iter().all(|r| !r.attempted));
    assert!(log.iter().take(8).all(|r| r.ok && r.note.is_some()));
}

#[test]
fn lvm2_failures_carry_its_stderr_and_the_command_line() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    let stderr = "  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n  \
                  Volume group \"vg0\" has insufficient free space (13 extents): 250 required.\n";
    let want = md(
        "lvcreate",
        &[
            "--activate",
            "n",
            "--zero",
            "n",
            "--yes",
            "-L",
            "1000m",
            "-n",
            "big",
            "vg0",
        ],
    );
    expect(&fake, &want, Response::fail(5, stderr));
    let e = lvm.lvcreate("big", "vg0", LvSize::MiB(1000)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert_eq!(
        e.to_string(),
        "lvcreate: /dev/vg0/big: Volume group \"vg0\" has insufficient free space (13 extents): 250 required."
    );
    let failure = e.command_failure().expect("the command is reachable");
    assert_eq!(failure.argv, want);
    assert!(failure.stderr.contains("insufficient free space"));
    let chain = vmcraft_block::error_chain(&e);
    assert!(chain.contains("command `lvm lvcreate --config"), "{chain}");
    assert!(chain.contains("failed with exit status 5"), "{chain}");
    let r = lvm.audit_log().pop().unwrap();
    assert!(r.attempted && !r.ok);
    assert_eq!(r.exit_status, Some(5));
    assert_eq!(r.command, want);
    assert!(r.error.as_deref().unwrap().contains("250 required"));

    // lvm2 missing entirely.
    fake.expect_prefix(
        &["lvm", "vgs"],
        Response::error(BlockKind::ToolMissing, "lvm not found"),
    );
    let e = lvm.vgs().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ToolMissing);
    assert_eq!(e.to_string(), "vgs: lvm2 is not installed");
    fake.verify();
}

#[test]
fn resizing_to_the_current_size_is_not_an_error() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    let geometry = md(
        "lvs",
        &[
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "lv_size,vg_extent_size,vg_free_count",
            "vg0/lv",
        ],
    );
    let geo = |size: u64, free: u32| {
        Response::ok(json(
            "lv",
            &[&format!(
                r#"{{"lv_size":"{size}", "vg_extent_size":"4194304", "vg_free_count":"{free}"}}"#
            )],
        ))
    };
    let same = "  New size (2 extents) matches existing size (2 extents).\n";
    // 7 MiB rounds up to the LV's 8 MiB: tolerated.
    expect(
        &fake,
        &md("lvresize", &["--force", "-L", "7m", "vg0/lv"]),
        Response::fail(5, same),
    );
    expect(&fake, &geometry, geo(8 << 20, 3));
    lvm.lvresize("/dev/vg0/lv", LvSize::MiB(7)).unwrap();
    // 2 extents of 4 MiB: tolerated.
    expect(
        &fake,
        &md("lvresize", &["--force", "-l", "2", "vg0/lv"]),
        Response::fail(5, same),
    );
    expect(&fake, &geometry, geo(8 << 20, 3));
    lvm.lvresize("/dev/vg0/lv", LvSize::Extents(2)).unwrap();
    // A real failure stays one, with lvm2's message.
    expect(
        &fake,
        &md("lvresize", &["--force", "-L", "100m", "vg0/lv"]),
        Response::fail(
            5,
            "  Insufficient free space: 23 extents needed, but only 3 available\n",
        ),
    );
    expect(&fake, &geometry, geo(8 << 20, 3));
    let e = lvm.lvresize("/dev/vg0/lv", LvSize::MiB(100)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "lvresize: /dev/vg0/lv: Insufficient free space: 23 extents needed, but only 3 available"
    );
    // Growing by 0% runs only the query (which proves the LV exists).
    expect(&fake, &geometry, geo(8 << 20, 3));
    lvm.lvresize_free("/dev/vg0/lv", 0).unwrap();
    // Growing with no free space left is tolerated.
    expect(
        &fake,
        &md("lvresize", &["--force", "-l", "+100%FREE", "vg0/lv"]),
        Response::fail(5, same),
    );
    expect(&fake, &geometry, geo(8 << 20, 0));
    lvm.lvresize_free("/dev/vg0/lv", 100).unwrap();
    // ... but not when there was space and lvm2 failed for another reason.
    expect(
        &fake,
        &md("lvresize", &["--force", "-l", "+50%FREE", "vg0/lv"]),
        Response::fail(5, "  boom\n"),
    );
    expect(&fake, &geometry, geo(8 << 20, 3));
    assert_eq!(
        lvm.lvresize_free("/dev/vg0/lv", 50).unwrap_err().message(),
        "boom"
    );
    fake.verify();

    let log = lvm.audit_log();
    let tolerated: Vec<_> = log
        .iter()
        .filter(|r| {
            r.note
                .as_deref()
                .is_some_and(|n| n.starts_with("tolerated"))
        })
        .collect();
    assert_eq!(tolerated.len(), 3);
    assert!(
        tolerated
            .iter()
            .all(|r| r.ok && r.attempted && r.exit_status == Some(5))
    );
    assert!(log.iter().filter(|r| !r.ok).count() == 2);
}

#[test]
fn listings_parse_json_and_name_devices_as_the_session_does() {
    let tmp = tempfile::tempdir().unwrap();
    // A session device given as a symlink is reported under the symlink's name.
    let link = tmp.path().join("guest-disk");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let fake = Arc::new(FakeRunner::new());
    let opts = LvmOptions {
        mode: Some(Mode::MetadataOnly),
        devices_option: Some(true),
        udev: Some(false),
        ..Default::default()
    };
    let lvm = Lvm::with_options(fake.clone(), [link.as_path()], opts).unwrap();
    let iso = |sub: &str, rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "lvm",
            sub,
            "--config",
            r#"devices/global_filter=["a|^/dev/null$|","r|.*|"]"#,
            "--devices",
            "/dev/null",
            "--driverloaded",
            "n",
        ]
        .map(String::from)
        .to_vec();
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let pv_row = |name: &str| format!(r#"{{"pv_name":"{name}"}}"#);
    expect(
        &fake,
        &iso("pvs", &["--reportformat", "json", "-o", "pv_name"]),
        Response::ok(json("pv", &[&pv_row("/dev/null"), &pv_row("[unknown]")])),
    );
    expect(
        &fake,
        &iso("vgs", &["--reportformat", "json", "-o", "vg_name"]),
        Response::ok(json(
            "vg",
            &[r#"{"vg_name":"zeta"}"#, r#"{"vg_name":"alpha"}"#],
        )),
    );
    expect(
        &fake,
        &iso(
            "lvs",
            &[
                "--reportformat",
                "json",
                "-o",
                "vg_name,lv_name",
                "-S",
                "lv_role=public && lv_skip_activation!=yes",
            ],
        ),
        Response::ok(json(
            "lv",
            &[
                r#"{"vg_name":"vg0","lv_name":"root"}"#,
                r#"{"vg_name":"vg0","lv_name":"home"}"#,
            ],
        )),
    );
    let lv_full = r#"{"lv_name":"root", "lv_uuid":"nDNKGh-mVUf-j3NU-fdAy-NLg3-5H57-vYSMkM", "lv_attr":"-wi-------", "lv_major":"-1", "lv_minor":"-1", "lv_kernel_major":"-1", "lv_kernel_minor":"-1", "lv_size":"8388608", "seg_count":"1", "origin":"", "snap_percent":"", "copy_percent":"", "move_pv":"", "lv_tags":"", "mirror_log":"", "lv_modules":""}"#;
    expect(
        &fake,
        &iso(
            "lvs",
            &[
                "--reportformat",
                "json",
                "--units",
                "b",
                "--nosuffix",
                "-o",
                FULL_LV_COLUMNS,
            ],
        ),
        Response::ok(json("lv", &[lv_full])),
    );
    let pv_full = r#"{"pv_name":"/dev/null", "pv_uuid":"Ic4z3R-zTz7-1xhS-nFTn-XG5b-CdFB-FcPjJ3", "pv_fmt":"lvm2", "pv_size":"62914560", "dev_size":"67108864", "pv_free":"41943040", "pv_used":"20971520", "pv_attr":"a--", "pv_pe_count":"15", "pv_pe_alloc_count":"5", "pv_tags":"", "pe_start":"1048576", "pv_mda_count":"1", "pv_mda_free":"519680"}"#;
    fake.expect_prefix(
        &iso(
            "pvs",
            &["--reportformat", "json", "--units", "b", "--nosuffix", "-o"],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        Response::ok(json("pv", &[pv_full])),
    );
    let vg_full = r#"{"vg_name":"vg0", "vg_uuid":"6tMyE0-2pVZ-OSwu-BiAr-Cnn9-Evhn-GY1Dak", "vg_fmt":"lvm2", "vg_attr":"wz--n-", "vg_size":"125829120", "vg_free":"54525952", "vg_sysid":"", "vg_extent_size":"4194304", "vg_extent_count":"30", "vg_free_count":"13", "max_lv":"0", "max_pv":"0", "pv_count":"2", "lv_count":"3", "snap_count":"0", "vg_seqno":"4", "vg_tags":"", "vg_mda_count":"2", "vg_mda_free":"519680"}"#;
    fake.expect_prefix(
        &iso(
            "vgs",
            &["--reportformat", "json", "--units", "b", "--nosuffix", "-o"],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        Response::ok(json("vg", &[vg_full])),
    );

    let link_s = link.to_string_lossy().into_owned();
    let mut want = vec![link_s.clone(), "[unknown]".to_string()];
    want.sort();
    assert_eq!(lvm.pvs().unwrap(), want);
    assert_eq!(lvm.vgs().unwrap(), ["alpha", "zeta"]);
    assert_eq!(lvm.lvs().unwrap(), ["/dev/vg0/home", "/dev/vg0/root"]);
    let lvs = lvm.lvs_full().unwrap();
    assert_eq!(lvs[0].lv_name, "root");
    assert_eq!(lvs[0].lv_size, 8 << 20);
    assert_eq!(lvs[0].lv_uuid, "nDNKGhmVUfj3NUfdAyNLg35H57vYSMkM");
    let pvs = lvm.pvs_full().unwrap();
    assert_eq!(pvs[0].pv_name, link_s);
    assert_eq!(pvs[0].pv_free, 41943040);
    let vgs = lvm.vgs_full().unwrap();
    assert_eq!(vgs[0].vg_extent_count, 30);
    fake.verify();
    let cols = fake.calls()[4].argv();
    assert!(
        cols.last()
            .unwrap()
            .starts_with("pv_name,pv_uuid,pv_fmt,pv_size,dev_size")
    );
}

#[test]
fn unparseable_reports_are_bad_output() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    fake.expect_prefix(&["lvm", "lvs"], Response::ok("not json"));
    let e = lvm.lvs_full().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadOutput);
    assert_eq!(e.to_string(), "lvs_full: no JSON report in lvm2's output");
    fake.verify();
}

#[test]
fn remove_all_removes_vgs_then_pvs_of_the_session_only() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    expect(
        &fake,
        &md("vgs", &["--reportformat", "json", "-o", "vg_name"]),
        Response::ok(json(
            "vg",
            &[r#"{"vg_name":"vg1"}"#, r#"{"vg_name":"vg0"}"#],
        )),
    );
    expect(&fake, &md("vgremove", &["-f", "vg0"]), Response::ok(""));
    expect(&fake, &md("vgremove", &["-f", "vg1"]), Response::ok(""));
    expect(
        &fake,
        &md("pvs", &["--reportformat", "json", "-o", "pv_name"]),
        Response::ok(json(
            "pv",
            &[
                &format!(r#"{{"pv_name":"{B}"}}"#),
                &format!(r#"{{"pv_name":"{A}"}}"#),
            ],
        )),
    );
    expect(
        &fake,
        &md("pvremove", &["-ff", "--yes", A, B]),
        Response::ok(""),
    );
    lvm.lvm_remove_all().unwrap();
    fake.verify();

    // In activate mode each VG is deactivated first.
    let (fake, lvm) = session(Mode::Activate);
    let a = |sub: &str, rest: &[&str]| argv(Mode::Activate, sub, rest);
    expect(
        &fake,
        &a("vgs", &["--reportformat", "json", "-o", "vg_name"]),
        Response::ok(json("vg", &[r#"{"vg_name":"vg0"}"#])),
    );
    expect(
        &fake,
        &a("vgchange", &["--activate", "n", "vg0"]),
        Response::ok(""),
    );
    expect(&fake, &a("vgremove", &["-f", "vg0"]), Response::ok(""));
    expect(
        &fake,
        &a("pvs", &["--reportformat", "json", "-o", "pv_name"]),
        Response::ok(json("pv", &[])),
    );
    lvm.lvm_remove_all().unwrap();
    fake.verify();
}

/// A metadata-only session whose lvm2 build is found out with `lvm version`.
fn detecting_session() -> (Arc<FakeRunner>, Lvm) {
    let fake = Arc::new(FakeRunner::new());
    let opts = LvmOptions {
        mode: Some(Mode::MetadataOnly),
        udev: Some(false),
        ..Default::default()
    };
    let lvm = Lvm::with_options(fake.clone(), [A], opts).unwrap();
    (fake, lvm)
}

const FILTER_A: &str = r#"devices/global_filter=["a|^/dev/vmcraft\\-fake\\-a$|","r|.*|"]"#;

/// `--devices` and lvmetad follow the version `lvm version` prints, asked once.
/// This machine has lvm2 2.03, so the 2.02 rows (lvmetad: a build whose commands
/// read and update the host's lvmetad cache unless told `use_lvmetad=0`) can
/// only be driven through the fake runner; 2.03 ignores the setting (checked by
/// hand against 2.03.16), so it is passed to 2.02 only, inside the one
/// `--config` lvm2 allows.
#[test]
fn the_devices_option_and_lvmetad_follow_the_lvm2_version() {
    for (version, config, with_devices) in [
        ("2.03.16(2) (2022-05-18)", FILTER_A.to_string(), true),
        ("2.03.11(2) (2021-01-08)", FILTER_A.to_string(), false),
        (
            "2.02.187(2)-RHEL7 (2020-03-24)",
            format!("{FILTER_A} global/use_lvmetad=0"),
            false,
        ),
        (
            "2.02.133(2) (2015-10-30)",
            format!("{FILTER_A} global/use_lvmetad=0"),
            false,
        ),
    ] {
        let (fake, lvm) = detecting_session();
        fake.expect(
            &["lvm", "version"],
            Response::ok(format!(
                "  LVM version:     {version}\n  Library version: 1.02.185\n"
            )),
        );
        fake.expect_prefix(&["lvm", "vgscan"], Response::ok(""));
        fake.expect_prefix(&["lvm", "pvcreate"], Response::ok(""));
        lvm.vgscan().unwrap();
        lvm.pvcreate(&[A]).unwrap(); // asked once only
        fake.verify();
        for call in &fake.calls()[1..] {
            let argv = call.argv();
            assert_eq!(
                argv[2..4],
                ["--config".to_string(), config.clone()],
                "{version}"
            );
            assert_eq!(
                argv.iter().filter(|a| *a == "--config").count(),
                1,
                "{version}: lvm2 refuses --config twice: {argv:?}"
            );
            assert_eq!(
                argv.contains(&"--devices".to_string()),
                with_devices,
                "{version}: {argv:?}"
            );
        }
        assert_eq!(lvm.audit_log()[0].call, "lvm_version");
    }
    // Said by the caller: --devices means 2.03.12 or later, no lvmetad and no
    // question; without --devices, lvmetad is asked about unless said too.
    let fake = Arc::new(FakeRunner::new());
    let opts = |devices_option, lvmetad| LvmOptions {
        mode: Some(Mode::MetadataOnly),
        devices_option,
        lvmetad,
        ..Default::default()
    };
    let lvm = Lvm::with_options(fake.clone(), [A], opts(Some(false), Some(true))).unwrap();
    fake.expect(
        &[
            "lvm",
            "vgscan",
            "--config",
            &format!("{FILTER_A} global/use_lvmetad=0"),
            "--driverloaded",
            "n",
        ],
        Response::ok(""),
    );
    lvm.vgscan().unwrap();
    fake.verify();
    let lvm = Lvm::with_options(fake.clone(), [A], opts(Some(false), None)).unwrap();
    fake.expect(
        &["lvm", "version"],
        Response::ok("  LVM version:     2.03.16(2) (2022-05-18)\n"),
    );
    fake.expect(
        &["lvm", "vgscan", "--config", FILTER_A, "--driverloaded", "n"],
        Response::ok(""),
    );
    lvm.vgscan().unwrap();
    fake.verify();
}

/// When `lvm version` fails or prints no version, no lvm2 command runs: the call
/// fails, naming itself, its subject and why, and the disks are not touched;
/// `--devices` is never dropped for want of a version. The next call asks again.
#[test]
fn without_lvm2_s_version_nothing_runs() {
    let (fake, lvm) = detecting_session();
    fake.expect(
        &["lvm", "version"],
        Response::fail(3, "  /run/lock/lvm: permission denied\n"),
    );
    let e = lvm.pvcreate(&[A]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert_eq!(
        e.to_string(),
        "pvcreate: /dev/vmcraft-fake-a: cannot run lvm2 confined to the session's devices: \
         `lvm version` failed: /run/lock/lvm: permission denied"
    );
    let failure = e.command_failure().expect("the failed lvm version");
    assert_eq!(failure.argv, ["lvm", "version"]);
    fake.verify();
    assert_eq!(fake.calls().len(), 1, "nothing but lvm version ran");
    let log = lvm.audit_log();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!((log[0].call.as_str(), log[0].ok), ("lvm_version", false));
    assert!(!log[1].attempted && log[1].call == "pvcreate");

    fake.expect(
        &["lvm", "version"],
        Response::error(BlockKind::ToolMissing, "no lvm"),
    );
    let e = lvm.vgscan().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ToolMissing);
    assert_eq!(
        e.to_string(),
        "vgscan: cannot run lvm2 confined to the session's devices: `lvm version` failed: lvm2 is not installed"
    );
    fake.expect(&["lvm", "version"], Response::ok("lvm: something else\n"));
    let e = lvm.lvs().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadOutput);
    assert_eq!(
        e.to_string(),
        "lvs: cannot run lvm2 confined to the session's devices: `lvm version` printed no version (\"lvm: something else\")"
    );
    fake.expect(&["lvm", "version"], Response::fail(5, ""));
    let e = lvm.lvm_command("lvrename").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert_eq!(
        e.to_string(),
        "lvm_command: cannot run lvm2 confined to the session's devices: `lvm version` failed: lvm2 failed with exit status 5"
    );
    fake.verify();
    assert_eq!(
        fake.calls().len(),
        4,
        "only lvm version ran: {:?}",
        fake.call_lines()
    );

    // Once lvm2 answers, the session runs with --devices as it should.
    fake.expect(
        &["lvm", "version"],
        Response::ok("  LVM version:     2.03.16(2) (2022-05-18)\n"),
    );
    fake.expect(
        &[
            "lvm",
            "vgscan",
            "--config",
            FILTER_A,
            "--devices",
            A,
            "--driverloaded",
            "n",
        ],
        Response::ok(""),
    );
    lvm.vgscan().unwrap();
    fake.verify();
}

#[test]
fn device_sets_can_be_replaced_and_extended() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    lvm.set_devices(["/dev/vmcraft-fake-c"]).unwrap();
    fake.expect_prefix(&["lvm", "pvs"], Response::ok(json("pv", &[])));
    lvm.pvs().unwrap();
    let argv = fake.calls()[0].argv();
    assert_eq!(
        argv[3],
        r#"devices/global_filter=["a|^/dev/vmcraft\\-fake\\-c$|","r|.*|"]"#
    );
    assert_eq!(argv[5], "/dev/vmcraft-fake-c");
    // A bad path leaves the set unchanged.
    let e = lvm.add_devices(["/dev/ok", "/dev/not,ok"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "add_devices: /dev/not,ok: device path contains ',', which lvm2 device lists cannot carry"
    );
    assert_eq!(
        lvm.devices(),
        [std::path::PathBuf::from("/dev/vmcraft-fake-c")]
    );
    lvm.add_devices([A]).unwrap();
    assert_eq!(lvm.devices().len(), 2);
    // The old devices are no longer the session's.
    let e = lvm.pvremove(B).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    fake.verify();
}

#[test]
fn run_lvm_audits_commands_made_with_lvm_command() {
    let (fake, lvm) = session(Mode::MetadataOnly);
    let cmd = lvm.lvm_command("lvrename").unwrap().args(["vg0", "a", "b"]);
    expect(
        &fake,
        &md("lvrename", &["vg0", "a", "b"]),
        Response::fail(
            5,
            "  Logical volume \"a\" not found in volume group \"vg0\"\n",
        ),
    );
    let e = lvm.run_lvm("lvrename", "/dev/vg0/a", &cmd).unwrap_err();
    assert_eq!(
        e.to_string(),
        "lvrename: /dev/vg0/a: Logical volume \"a\" not found in volume group \"vg0\""
    );
    let r = lvm.take_audit_log();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].call, "lvrename");
    assert!(lvm.audit_log().is_empty());
    let json = serde_json::to_value(&r[0]).unwrap();
    assert_eq!(json["attempted"], true);
    assert_eq!(json["ok"], false);
    assert_eq!(json["mode"], "metadata-only");
    assert!(json["duration"].is_f64());
    fake.verify();
}
