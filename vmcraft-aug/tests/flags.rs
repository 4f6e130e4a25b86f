//! The `aug_init` flags: SAVE_BACKUP leaves `.augsave`, SAVE_NEWFILE leaves
//! `.augnew`, SAVE_NOOP writes nothing, NO_LOAD loads nothing until `aug_load`,
//! NO_MODL_AUTOLOAD starts with no transforms, ENABLE_SPAN, NO_STDINC and
//! TYPE_CHECK with a lens directory of our own.

mod common;

use common::{Guest, need_root};
use vmcraft_aug::{AugFlags, Augeas, ErrorKind, InitOptions};

const HOSTS: &str = "127.0.0.1 localhost\n";
const EDITED: &str = "127.0.0.1 localhost lh\n";

fn edit(aug: &Augeas) {
    aug.aug_set("/files/etc/hosts/1/alias", "lh").unwrap();
    aug.aug_save().unwrap();
}

#[test]
fn save_backup_leaves_augsave() {
    if !need_root() {
        return;
    }
    let g = Guest::new("backup");
    g.write("/etc/hosts", HOSTS);
    edit(&Augeas::init(&g.root, AugFlags::SAVE_BACKUP).unwrap());
    assert_eq!(g.read("/etc/hosts"), EDITED);
    assert_eq!(g.read("/etc/hosts.augsave"), HOSTS);
    assert!(!g.exists("/etc/hosts.augnew"));
}

#[test]
fn save_newfile_leaves_augnew_and_the_original_untouched() {
    if !need_root() {
        return;
    }
    let g = Guest::new("newfile");
    g.write("/etc/hosts", HOSTS);
    let before = common::Snapshot::of(&g.path("/etc/hosts"));
    edit(&Augeas::init(&g.root, AugFlags::SAVE_NEWFILE | AugFlags::SAVE_BACKUP).unwrap());
    assert_eq!(common::Snapshot::of(&g.path("/etc/hosts")), before);
    assert_eq!(g.read("/etc/hosts.augnew"), EDITED);
    assert!(
        !g.exists("/etc/hosts.augsave"),
        "NEWFILE takes precedence over BACKUP"
    );
}

#[test]
fn save_noop_writes_nothing_but_reports_what_it_would_save() {
    if !need_root() {
        return;
    }
    let g = Guest::new("noop");
    g.write("/etc/hosts", HOSTS);
    let before = g.snapshot();
    let aug = Augeas::init(&g.root, AugFlags::SAVE_NOOP).unwrap();
    edit(&aug);
    // Augeas still renders the file into a temporary next to it and removes
    // it, so only the directory's mtime moves.
    assert_eq!(g.snapshot().without_dir_times(), before.without_dir_times());
    assert_eq!(
        aug.aug_get("/augeas/events/saved").unwrap(),
        "/files/etc/hosts"
    );
    assert_eq!(aug.aug_get("/augeas/save").unwrap(), "noop");
}

#[test]
fn no_load_loads_nothing_until_aug_load() {
    if !need_root() {
        return;
    }
    let g = Guest::new("noload");
    g.write("/etc/hosts", HOSTS);
    let aug = Augeas::init(&g.root, AugFlags::NO_LOAD).unwrap();
    assert!(aug.aug_match("/files/*").unwrap().is_empty());
    assert!(!aug.aug_match("/augeas/load/Hosts").unwrap().is_empty());
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "localhost"
    );
}

#[test]
fn no_modl_autoload_starts_without_transforms() {
    if !need_root() {
        return;
    }
    let g = Guest::new("nomodl");
    g.write("/etc/hosts", HOSTS);
    g.write("/etc/fstab", "/dev/sda1 / ext4 defaults 0 1\n");
    let aug = Augeas::init(&g.root, AugFlags::NO_MODL_AUTOLOAD).unwrap();
    assert!(aug.aug_match("/augeas/load/*").unwrap().is_empty());
    assert!(aug.aug_match("/files/*").unwrap().is_empty());
    aug.aug_load().unwrap();
    assert!(aug.aug_match("/files/*").unwrap().is_empty());
    // Only what is asked for gets loaded; the lens comes from the host.
    aug.aug_transform("Hosts", "/etc/hosts", false).unwrap();
    aug.aug_load().unwrap();
    assert_eq!(aug.aug_ls("/files/etc").unwrap(), ["/files/etc/hosts"]);
    // A lens the host does not have is refused at once (Augeas would look for it
    // in the guest at load time).
    let err = aug
        .aug_transform("NoSuchLens", "/etc/x", false)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("NoSuchLens"), "{err}");
    assert!(aug.aug_match("/augeas/load/NoSuchLens").unwrap().is_empty());
}

#[test]
fn enable_span_is_passed_on() {
    if !need_root() {
        return;
    }
    let g = Guest::new("span");
    g.write("/etc/hosts", HOSTS);
    let aug = Augeas::init(&g.root, AugFlags::ENABLE_SPAN).unwrap();
    assert_eq!(aug.aug_get("/augeas/span").unwrap(), "enable");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(aug.aug_get("/augeas/span").unwrap(), "disable");
}

/// A self-contained lens module (no standard library needed).
const KV_LENS: &str = r#"module Kv =
  autoload xfm
  let entry = [ key /[a-z]+/ . del "=" "=" . store /[^\n=]*/ . del "\n" "\n" ]
  let lns = entry*
  let xfm = transform lns (incl "/etc/kv.conf")
"#;

/// The same, with an ambiguous union that only the typechecker rejects.
const AMBIGUOUS_LENS: &str = r#"module Kv =
  autoload xfm
  let entry = [ key /[a-z]+/ . del "=" "=" . store /[^\n=]*/ . del "\n" "\n" ]
  let lns = (entry | entry)*
  let xfm = transform lns (incl "/etc/kv.conf")
"#;

#[test]
fn no_stdinc_without_lenses_says_what_to_install() {
    if !need_root() {
        return;
    }
    let g = Guest::new("nostdinc");
    let empty = g.env.path().join("no-lenses");
    std::fs::create_dir(&empty).unwrap();
    let opts = InitOptions::new().loadpath(&empty);
    let e = Augeas::init_with(&g.root, AugFlags::NO_STDINC, &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let msg = e.to_string();
    assert!(msg.starts_with("aug_init: "), "{msg}");
    assert!(
        msg.ends_with(
            "(flags 8): no augeas lenses found in the load path (install them: \
         `apt-get install augeas-lenses` on Debian and Ubuntu, `dnf install augeas-libs` \
         on Fedora and RHEL)"
        ),
        "{msg}"
    );
}

#[test]
fn host_lens_directories_and_type_check() {
    if !need_root() {
        return;
    }
    let g = Guest::new("loadpath");
    g.write("/etc/kv.conf", "alpha=1\nbeta=2\n");
    let lenses = g.env.path().join("lenses");
    std::fs::create_dir(&lenses).unwrap();
    std::fs::write(lenses.join("kv.aug"), KV_LENS).unwrap();
    let opts = InitOptions::new().loadpath(&lenses);

    // The lens directory is outside the guest: it is read before the chroot.
    let flags = AugFlags::NO_STDINC | AugFlags::TYPE_CHECK;
    let aug = Augeas::init_with(&g.root, flags, &opts).unwrap();
    assert_eq!(aug.aug_ls("/augeas/load").unwrap(), ["/augeas/load/Kv"]);
    assert_eq!(aug.aug_get("/files/etc/kv.conf/beta").unwrap(), "2");
    aug.aug_set("/files/etc/kv.conf/gamma", "3").unwrap();
    aug.aug_save().unwrap();
    assert_eq!(g.read("/etc/kv.conf"), "alpha=1\nbeta=2\ngamma=3\n");

    // An ambiguous lens loads without TYPE_CHECK, and is refused with it, with
    // Augeas's own diagnosis.
    std::fs::write(lenses.join("kv.aug"), AMBIGUOUS_LENS).unwrap();
    Augeas::init_with(&g.root, AugFlags::NO_STDINC, &opts).unwrap();
    let e = Augeas::init_with(&g.root, flags, &opts).unwrap_err();
    let d = e.diagnosis().expect("augeas diagnosis");
    assert_eq!(d.code, vmcraft_aug::AugeasCode::Syntax, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("(flags 12): Syntax error in lens definition"),
        "{msg}"
    );
    assert!(msg.contains("overlapping lenses in union"), "{msg}");
}
