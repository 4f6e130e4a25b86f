//! `InitOptions::lenses`: a handle that compiles only the lens modules it is told
//! about. It edits files exactly as a full handle and as `augtool -A` do, and it
//! refuses every way of reaching another module (a transform, a `/augeas/load`
//! entry set by hand), so that no lens is ever looked up in the guest.

mod common;

use common::{Guest, augtool, copy_tree, need_root, need_root_and_augtool};
use vmcraft_aug::{AugFlags, Augeas, ErrorKind, InitOptions};

const FSTAB: &str = "# /etc/fstab\n\
UUID=0a1b2c3d-0000-4000-8000-000000000001 / ext4 errors=remount-ro 0 1\n\
/dev/vda2 none swap sw 0 0\n";

fn fstab_guest(label: &str) -> Guest {
    let g = Guest::new(label);
    g.write("/etc/fstab", FSTAB);
    g.write("/etc/hosts", "127.0.0.1 localhost\n");
    g
}

#[test]
fn a_named_lens_edits_like_augtool_with_only_that_lens() {
    if !need_root_and_augtool() {
        return;
    }
    let ours = fstab_guest("named-fstab");
    let theirs = Guest::new("named-fstab-augtool");
    copy_tree(&ours.root, &theirs.root);

    let opts = InitOptions::new().lenses(["Fstab"]);
    let aug = Augeas::init_with(&ours.root, AugFlags::empty(), &opts).unwrap();
    // Nothing is autoloaded: /files is empty until the transform and the load.
    assert!(aug.aug_match("/files/etc/*").unwrap().is_empty());
    aug.aug_transform("Fstab", "/etc/fstab", false).unwrap();
    aug.aug_load().unwrap();
    assert_eq!(aug.aug_get("/files/etc/fstab/1/vfstype").unwrap(), "ext4");
    assert!(aug.aug_match("/files/etc/hosts").unwrap().is_empty());
    aug.aug_set("/files/etc/fstab/1/opt[1]", "noatime").unwrap();
    aug.aug_set("/files/etc/fstab/2/passno", "1").unwrap();
    aug.aug_save().unwrap();
    drop(aug);

    augtool(
        &theirs.root,
        &["-A", "--transform", "Fstab.lns incl /etc/fstab"],
        "load\nset /files/etc/fstab/1/opt[1] noatime\nset /files/etc/fstab/2/passno 1\nsave\n",
    );
    assert_eq!(ours.read("/etc/fstab"), theirs.read("/etc/fstab"));
    assert!(
        ours.read("/etc/fstab").contains(" ext4 noatime"),
        "{}",
        ours.read("/etc/fstab")
    );
}

#[test]
fn several_named_lenses_and_the_flags_still_apply() {
    if !need_root() {
        return;
    }
    let g = fstab_guest("named-several");
    let opts = InitOptions::new().lenses(["Fstab", "Hosts"]);
    let aug = Augeas::init_with(&g.root, AugFlags::SAVE_NEWFILE, &opts).unwrap();
    aug.aug_transform("Hosts.lns", "/etc/hosts", false).unwrap();
    aug.aug_transform("Fstab", "/etc/fstab", false).unwrap();
    aug.aug_load().unwrap();
    aug.aug_set("/files/etc/hosts/1/alias", "box").unwrap();
    aug.aug_save().unwrap();
    assert_eq!(g.read("/etc/hosts"), "127.0.0.1 localhost\n");
    assert_eq!(g.read("/etc/hosts.augnew"), "127.0.0.1 localhost box\n");
}

#[test]
fn a_module_not_named_is_refused_and_never_searched_for_in_the_guest() {
    if !need_root() {
        return;
    }
    let g = fstab_guest("named-refused");
    // A guest "lens" where Augeas's default load path would find it after the
    // chroot; the handle must never look.
    g.write(
        "/usr/share/augeas/lenses/dist/hosts.aug",
        "module Hosts = this is not a lens\n",
    );
    let before = g.snapshot();
    let aug = Augeas::init_with(
        &g.root,
        AugFlags::empty(),
        &InitOptions::new().lenses(["Fstab"]),
    )
    .unwrap();

    let e = aug.aug_transform("Hosts", "/etc/hosts", false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("Hosts was not named"), "{e}");

    // The same through /augeas/load by hand: refused at load time.
    aug.aug_set("/augeas/load/Hosts/lens", "Hosts.lns").unwrap();
    aug.aug_set("/augeas/load/Hosts/incl", "/etc/hosts")
        .unwrap();
    let e = aug.aug_load().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("Hosts was not named"), "{e}");
    assert!(aug.aug_match("/files/etc/hosts").unwrap().is_empty());
    // Augeas looks a transform's lens up again when it saves: refused there too,
    // with the guest's file left as it was.
    aug.aug_set("/files/etc/hosts/1/ipaddr", "10.0.0.1")
        .unwrap();
    let e = aug.aug_save().unwrap_err();
    assert!(e.to_string().contains("Hosts was not named"), "{e}");
    drop(aug);
    assert_eq!(g.snapshot(), before, "the guest changed");
}

#[test]
fn a_full_handle_refuses_a_module_the_host_does_not_have() {
    if !need_root() {
        return;
    }
    let g = fstab_guest("full-refused");
    g.write(
        "/usr/share/augeas/lenses/dist/guestonly.aug",
        "module Guestonly =\nlet lns = [ key /[a-z]+/ ]\n",
    );
    g.write("/etc/guestonly", "abc");
    let aug = Augeas::init(&g.root, AugFlags::NO_MODL_AUTOLOAD).unwrap();
    let e = aug
        .aug_transform("Guestonly", "/etc/guestonly", false)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("never loaded from the guest"), "{e}");
    aug.aug_set("/augeas/load/G/lens", "@Guestonly").unwrap();
    aug.aug_set("/augeas/load/G/incl", "/etc/guestonly")
        .unwrap();
    assert_eq!(
        aug.aug_load().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert!(aug.aug_match("/files/etc/guestonly").unwrap().is_empty());
    // At save time too, where Augeas looks the lens up again.
    aug.aug_set("/augeas/load/G/lens", "Guestonly.lns").unwrap();
    aug.aug_set("/files/etc/guestonly/xyz", "").unwrap();
    let e = aug.aug_save().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("Guestonly"), "{e}");
    assert_eq!(g.read("/etc/guestonly"), "abc");
}

#[test]
fn bad_lens_lists_are_refused_before_anything_opens() {
    if !need_root() {
        return;
    }
    let g = fstab_guest("named-bad");
    let before = g.snapshot();
    let cases: [(InitOptions, &str); 4] = [
        (InitOptions::new().lenses(Vec::<String>::new()), "no module"),
        (
            InitOptions::new().lenses(["../etc"]),
            "not a lens module name",
        ),
        (
            InitOptions::new().lenses(["Fstab.lns"]),
            "not a lens module name",
        ),
        (
            InitOptions::new().lenses(["Nosuchlens"]),
            "no lens Nosuchlens.lns",
        ),
    ];
    for (opts, want) in cases {
        let e = Augeas::init_with(&g.root, AugFlags::empty(), &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{opts:?}: {e}");
        assert!(e.to_string().contains(want), "{opts:?}: {e}");
        // aug_init on an open handle closes it and leaves it closed on failure.
        let aug = Augeas::init(&g.root, AugFlags::NO_LOAD).unwrap();
        assert!(
            aug.aug_init_with(&g.root, AugFlags::empty(), &opts)
                .is_err()
        );
        assert!(!aug.is_open());
    }
    assert_eq!(g.snapshot(), before, "the guest changed");
}
