//! Augeas through the binary: a guestfish aug-init / aug-get / aug-set / aug-save
//! script run unchanged, outputs as guestfish prints them (strings, lists, ints,
//! the `i:`/`b:` struct of aug-defnode), the saved file checked with debugfs; an
//! error leaves the guest file as it was.

#![cfg(feature = "augeas")]

mod cli_support;

use cli_support::{debugfs_cat, e2fsck_clean, extract_partition, run, script};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

const HOSTS: &str = "127.0.0.1 localhost\n192.168.0.1 gateway gw\n";

fn guest(env: &TestEnv) -> std::path::PathBuf {
    let img = env.path().join("aug.img");
    run(
        env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "mkdir",
            "/etc",
            ":",
            "write",
            "/etc/hosts",
            HOSTS,
        ],
        "",
    )
    .ok();
    img
}

#[test]
fn aug_script_edits_and_saves() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-aug");
    let img = guest(&env);
    let text = r#"run
mount /dev/sda1 /
aug-init / 0
aug-get /files/etc/hosts/1/canonical
aug-match /files/etc/hosts/*/ipaddr
aug-ls /files/etc/hosts/2
aug-label /files/etc/hosts/2/alias
aug-set /files/etc/hosts/2/canonical router
aug-defvar h /files/etc/hosts/*
aug-defnode x /files/etc/hosts/1 ""
aug-setm /files/etc/hosts/* alias "all"
aug-rm /files/etc/hosts/1/alias
aug-save
aug-close
cat /etc/hosts
"#;
    let o = script(&env, &["-a", img.to_str().unwrap()], text);
    assert_eq!(
        o.ok(),
        "localhost\n\
         /files/etc/hosts/1/ipaddr\n/files/etc/hosts/2/ipaddr\n\
         /files/etc/hosts/2/alias\n/files/etc/hosts/2/canonical\n/files/etc/hosts/2/ipaddr\n\
         alias\n\
         2\n\
         i: 1\nb: 0\n\
         2\n\
         1\n\
         127.0.0.1 localhost\n192.168.0.1 router all\n\n"
    );
    let fs = extract_partition(&env, &img, 1);
    e2fsck_clean(&fs);
    assert_eq!(
        debugfs_cat(&fs, "/etc/hosts"),
        "127.0.0.1 localhost\n192.168.0.1 router all\n"
    );
}

#[test]
fn aug_errors_leave_the_file_alone() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-augerr");
    let img = guest(&env);
    for (cmds, want) in [
        (
            "aug-get /files/etc/hosts/1/canonical",
            "vmcraft: error: aug_get: ",
        ),
        // A value the lens cannot write: the save fails, nothing is written.
        (
            "aug-init / 0\naug-set /files/etc/hosts/1/ipaddr \"bad value\"\naug-save",
            "vmcraft: error: aug_save",
        ),
        (
            "aug-init / 9999",
            "vmcraft: error: aug_init: /: unknown flag bits in 9999",
        ),
        (
            "aug-init / 0\naug-get /files/etc/hosts/*/canonical",
            "vmcraft: error: aug_get",
        ),
    ] {
        let text = format!("run\nmount /dev/sda1 /\n{cmds}\nwrite /etc/hosts \"clobbered\"\n");
        let o = script(&env, &["-a", img.to_str().unwrap()], &text);
        assert!(o.failed().starts_with(want), "{cmds}: {}", o.stderr);
        let fs = extract_partition(&env, &img, 1);
        assert_eq!(debugfs_cat(&fs, "/etc/hosts"), HOSTS, "{cmds}");
    }
}
