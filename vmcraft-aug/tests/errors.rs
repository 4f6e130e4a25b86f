//! Every refusal is a clear error carrying Augeas's own diagnosis where Augeas
//! made it, and leaves the guest's files exactly as they were.

mod common;

use common::{Guest, need_root, print_tree};
use vmcraft_aug::{AugFlags, Augeas, AugeasCode, ErrorKind};

const FSTAB: &str = "UUID=0a1b / ext4 defaults 0 1\n/dev/sdb1 /data xfs noatime 0 2\n";

#[test]
fn a_malformed_fstab_line_explains_the_missing_node() {
    if !need_root() {
        return;
    }
    let g = Guest::new("fstab-space");
    // The "space in options" mistake.
    g.write("/etc/fstab", "UUID=0a1b / ext4 defaults, noatime 0 1\n");
    let before = g.snapshot();
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let e = aug.aug_get("/files/etc/fstab/1/opt").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatch);
    assert_eq!(
        e.to_string(),
        "aug_get: /files/etc/fstab/1/opt: no matching node; augeas could not load \
         /etc/fstab: Iterated lens matched less than it should (line 1, char 25)"
    );
    let fe = &e.file_errors()[0];
    assert_eq!(
        (fe.file.as_str(), fe.kind.as_str()),
        ("/etc/fstab", "parse_failed")
    );
    assert!(fe.lens.as_deref().unwrap().contains("fstab.aug"), "{fe:?}");
    // The same explanation for the other calls that need a match.
    for e in [
        aug.aug_label("/files/etc/fstab/1").unwrap_err(),
        aug.aug_insert("/files/etc/fstab/1", "2", false)
            .unwrap_err(),
        aug.aug_mv("/files/etc/fstab/1", "/files/etc/fstab/3")
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NoMatch);
        assert!(
            e.to_string().contains("augeas could not load /etc/fstab"),
            "{e}"
        );
    }
    // The parse failure is readable in the tree, as in Augeas.
    assert_eq!(
        aug.aug_get("/augeas/files/etc/fstab/error").unwrap(),
        "parse_failed"
    );
    aug.aug_save().unwrap();
    drop(aug);
    assert_eq!(g.snapshot(), before);
}

#[test]
fn a_value_the_lens_cannot_write_fails_the_save_and_changes_nothing() {
    if !need_root() {
        return;
    }
    let g = Guest::new("fstab-put");
    g.write("/etc/fstab", FSTAB);
    g.write("/etc/hosts", "127.0.0.1 localhost\n");
    g.write("/etc/ssh/sshd_config", "this is not sshd syntax = = =\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_set("/files/etc/fstab/1/opt", "defaults, noatime")
        .unwrap();
    let before = g.snapshot();

    for attempt in 0..2 {
        let e = aug.aug_save().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SaveFailed, "{attempt}");
        assert_eq!(
            e.to_string(),
            "aug_save: /etc/fstab: Failed to match tree under /files/etc/fstab/1",
            "attempt {attempt}"
        );
        // Only the file that failed to save; not the unrelated parse failure.
        let files = e.file_errors();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].kind, "put_failed");
        assert!(
            files[0]
                .message
                .contains("{ \"opt\" = \"defaults, noatime\" }")
        );
        assert_eq!(
            g.snapshot().without_dir_times(),
            before.without_dir_times(),
            "attempt {attempt}"
        );
        // A failed save still marks the tree clean: only a new change is saved
        // again. Make the same bad change again, so that the second attempt
        // fails with exactly the error already recorded.
        aug.aug_set("/files/etc/fstab/1/opt", "other").unwrap();
        aug.aug_set("/files/etc/fstab/1/opt", "defaults, noatime")
            .unwrap();
    }
    assert!(!g.exists("/etc/fstab.augnew"));

    // Another file still saves alongside a failing one.
    aug.aug_set("/files/etc/hosts/1/alias", "lh").unwrap();
    let e = aug.aug_save().unwrap_err();
    assert_eq!(e.file_errors().len(), 1);
    assert_eq!(g.read("/etc/hosts"), "127.0.0.1 localhost lh\n");
    assert_eq!(g.read("/etc/fstab"), FSTAB);

    // Fixed, the save goes through and the error is gone.
    aug.aug_set("/files/etc/fstab/1/opt", "noatime").unwrap();
    aug.aug_save().unwrap();
    assert_eq!(
        g.read("/etc/fstab"),
        "UUID=0a1b / ext4 noatime 0 1\n/dev/sdb1 /data xfs noatime 0 2\n"
    );
    assert!(
        aug.aug_match("/augeas/files/etc/fstab/error")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_path_that_matches_nothing() {
    if !need_root() {
        return;
    }
    let g = Guest::new("nomatch");
    g.write("/etc/fstab", FSTAB);
    let before = g.snapshot();
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let e = aug
        .aug_get("/files/etc/fstab/*[file = '/nowhere']/spec")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatch);
    assert_eq!(
        e.to_string(),
        "aug_get: /files/etc/fstab/*[file = '/nowhere']/spec: no matching node"
    );
    assert!(e.file_errors().is_empty());
    assert_eq!(
        aug.aug_rm("/files/etc/fstab/*[file = '/nowhere']").unwrap(),
        0
    );
    aug.aug_save().unwrap();
    drop(aug);
    assert_eq!(g.snapshot(), before);
}

#[test]
fn an_insert_with_a_bad_label_is_refused_before_augeas_sees_it() {
    if !need_root() {
        return;
    }
    let g = Guest::new("badlabel");
    g.write("/etc/fstab", FSTAB);
    let before = g.snapshot();
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let tree = print_tree(&aug, "/files");
    for label in ["a/b", "*", "opt*", "opt[1]", "03[12]", ""] {
        let e = aug
            .aug_insert("/files/etc/fstab/1", label, true)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{label}");
        assert!(
            e.to_string().starts_with(&format!(
                "aug_insert: /files/etc/fstab/1: invalid label '{label}': "
            )),
            "{e}"
        );
        assert!(e.diagnosis().is_none(), "refused before augeas: {e}");
    }
    let e = aug
        .aug_insert("/files/etc/fstab/1", "a\0b", true)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(print_tree(&aug, "/files"), tree, "the tree changed");
    aug.aug_save().unwrap();
    drop(aug);
    assert_eq!(g.snapshot(), before);
}

#[test]
fn a_call_before_init_or_after_close() {
    if !need_root() {
        return;
    }
    let g = Guest::new("noinit");
    g.write("/etc/fstab", FSTAB);
    let before = g.snapshot();
    let aug = Augeas::default();
    let e = aug.aug_set("/files/etc/fstab/1/opt", "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotInitialised);
    assert_eq!(
        e.to_string(),
        "aug_set: you must call aug_init first to initialize augeas"
    );
    aug.aug_init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_set("/files/etc/fstab/1/opt", "x").unwrap();
    aug.aug_close().unwrap();
    let e = aug.aug_save().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotInitialised);
    assert_eq!(
        e.to_string(),
        "aug_save: you must call aug_init first to initialize augeas"
    );
    assert_eq!(
        g.snapshot(),
        before,
        "closing without saving writes nothing"
    );
}

#[test]
fn invalid_path_expressions_carry_the_augeas_diagnosis() {
    if !need_root() {
        return;
    }
    let g = Guest::new("pathx");
    g.write("/etc/fstab", FSTAB);
    let before = g.snapshot();
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    let e = aug.aug_set("/files/etc/fstab/*[file = ", "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath);
    let d = e.diagnosis().unwrap();
    assert_eq!(d.code, AugeasCode::PathExpr);
    assert_eq!(d.message.as_deref(), Some("Invalid path expression"));
    assert!(d.minor_message.is_some(), "{d:?}");
    assert!(d.details.as_deref().unwrap().contains("|=|"), "{d:?}");
    assert_eq!(
        e.to_string(),
        format!("aug_set: /files/etc/fstab/*[file = : x: {d}")
    );
    let e = aug.aug_set("/files/a\0b", "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        "aug_set: /files/a\\0b: the path contains a NUL byte"
    );
    aug.aug_save().unwrap();
    drop(aug);
    assert_eq!(g.snapshot(), before);
}

#[test]
fn a_root_that_is_not_usable() {
    if !need_root() {
        return;
    }
    let g = Guest::new("badroot");
    g.write("/etc/fstab", FSTAB);
    let e = Augeas::init(&g.path("/etc/fstab"), AugFlags::empty()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = Augeas::init(&g.path("/missing"), AugFlags::empty()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(std::error::Error::source(&e).is_some());
    // A root given through a symlink is resolved once, on the host.
    let link = g.env.path().join("root-link");
    std::os::unix::fs::symlink(&g.root, &link).unwrap();
    let aug = Augeas::init(&link, AugFlags::empty()).unwrap();
    assert_eq!(aug.root().unwrap(), g.root.canonicalize().unwrap());
    assert_eq!(aug.aug_get("/files/etc/fstab/2/file").unwrap(), "/data");
}

#[test]
fn a_deeply_nested_guest_file_does_not_crash_the_caller() {
    if !need_root() {
        return;
    }
    let g = Guest::new("nested");
    // 20 000 levels: enough to overflow an 8 MiB stack (augtool segfaults).
    let depth = 20_000;
    g.write(
        "/etc/xml/catalog",
        &format!(
            "<?xml version=\"1.0\"?>\n{}x{}\n",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        ),
    );
    g.write("/etc/hosts", "192.0.2.1 still-works\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "still-works"
    );
}
