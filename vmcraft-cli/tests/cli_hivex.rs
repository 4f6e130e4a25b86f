//! Registry hives through the binary: a guestfish `hivex-*` script run
//! unchanged on an ext4 guest holding a SYSTEM hive (built by vmcraft-hivex's
//! fixture), outputs as guestfish prints them (handles as integers, the
//! `hivex_node_h`/`hivex_value_h` struct lists, strings, raw value bytes),
//! with `hivexsh` on the same hive as the oracle; writes committed and read
//! back with `hivexsh`; errors as `vmcraft: error: CALL: ...` with the guest
//! hive unchanged.

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{run, script};
use vmcraft::calls::hivex::hive::testing::{hivexsh, make_hive, require_hivex_tools};
use vmcraft::calls::hivex::hive::{Hive, Node};
use vmcraft_block::testing::{TestEnv, require_root};

const HIVE: &str = "/Windows/System32/config/SYSTEM";

const SYSTEM_REG: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="WIN-TEST01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\viostor]
"Start"=dword:00000000
"ImagePath"=hex(2):73,00,79,00,73,00,74,00,65,00,6d,00,33,00,32,00,00,00
"#;

/// An ext4 guest image holding the hive, and the host copy of the hive.
fn guest(env: &TestEnv) -> (PathBuf, PathBuf) {
    let host = env.path().join("SYSTEM.host");
    make_hive(&host, "HKEY_LOCAL_MACHINE\\SYSTEM", SYSTEM_REG).unwrap();
    let img = env.path().join("win.img");
    run(
        env,
        &[
            "-N",
            &format!("{}=fs:ext4:32M", img.display()),
            "-m",
            "/dev/sda1",
            "mkdir-p",
            "/Windows/System32/config",
            ":",
            "upload",
            host.to_str().unwrap(),
            HIVE,
        ],
        "",
    )
    .ok();
    (img, host)
}

/// The guest hive's bytes, downloaded through the binary.
fn download(env: &TestEnv, img: &Path, name: &str) -> PathBuf {
    let out = env.path().join(name);
    run(
        env,
        &[
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda1",
            "download",
            HIVE,
            out.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    out
}

/// guestfish's layout of a struct list of one field.
fn struct_list(field: &str, handles: &[u64]) -> String {
    handles
        .iter()
        .enumerate()
        .map(|(i, h)| format!("[{i}] = {{\n  {field}: {h}\n}}\n"))
        .collect()
}

#[test]
fn hivex_read_script() {
    if !require_root("attaching images") || !require_hivex_tools("hivex_read_script") {
        return;
    }
    let env = TestEnv::new("cli-hivex");
    let (img, host) = guest(&env);
    // Handles are offsets in the file: the library on the host copy knows them.
    let hive = Hive::open(&host, false).unwrap();
    let root = hive.root().unwrap();
    let children: Vec<Node> = hive.node_children(root).unwrap();
    let select = hive.get_path(&["Select"]).unwrap().unwrap();
    let current = hive.node_get_value(select, "Current").unwrap().unwrap();
    let viostor = hive
        .get_path(&["ControlSet001", "Services", "viostor"])
        .unwrap()
        .unwrap();
    let values = hive.node_values(viostor).unwrap();
    let ip = hive.node_get_value(viostor, "ImagePath").unwrap().unwrap();
    let services = hive.node_parent(viostor).unwrap();
    let r = root.raw();
    let text = format!(
        "hivex-open {HIVE}
hivex-root
hivex-node-name {r}
hivex-node-children {r}
hivex-node-get-child {r} select
hivex-node-get-child {r} nothing
hivex-node-get-value {s} CURRENT
hivex-value-key {c}
hivex-value-type {c}
hivex-node-values {v}
hivex-value-string {ip}
hivex-value-utf8 {ip}
hivex-node-parent {v}
hivex-node-name 0x{r:x}
hivex-close
",
        s = select.raw(),
        c = current.raw(),
        v = viostor.raw(),
        ip = ip.raw(),
    );
    let o = script(
        &env,
        &["-a", img.to_str().unwrap(), "-m", "/dev/sda1"],
        &text,
    );
    let ls: String = hivexsh(&host, false, "ls\n").unwrap();
    let root_name = hivexsh(&host, false, "cd Select\ncd ..\n")
        .map(|_| "ROOT")
        .unwrap();
    let expected = format!(
        "{r}\n{root_name}\n{}{}\n0\n{}\nCurrent\n4\n{}system32\nsystem32\n{}\n{root_name}\n",
        struct_list(
            "hivex_node_h",
            &children.iter().map(|n| n.raw()).collect::<Vec<_>>()
        ),
        select.raw(),
        current.raw(),
        struct_list(
            "hivex_value_h",
            &values.iter().map(|v| v.raw()).collect::<Vec<_>>()
        ),
        services.raw(),
    );
    assert_eq!(o.ok(), expected);
    // The children's names, as hivexsh lists them.
    let names: String = children
        .iter()
        .map(|c| hive.node_name(*c).unwrap() + "\n")
        .collect();
    assert_eq!(names, ls);

    // hivex-value-value prints the bytes as they are.
    let o = script(
        &env,
        &["-a", img.to_str().unwrap(), "-m", "/dev/sda1"],
        &format!("hivex-open {HIVE}\nhivex-value-value {}\n", current.raw()),
    );
    assert_eq!(o.ok().as_bytes(), [1, 0, 0, 0]);
}

#[test]
fn hivex_write_script_and_errors() {
    if !require_root("attaching images") || !require_hivex_tools("hivex_write_script_and_errors") {
        return;
    }
    let env = TestEnv::new("cli-hivexw");
    let (img, host) = guest(&env);
    let hive = Hive::open(&host, false).unwrap();
    let services = hive
        .get_path(&["ControlSet001", "Services"])
        .unwrap()
        .unwrap()
        .raw();
    let viostor = hive
        .get_path(&["ControlSet001", "Services", "viostor"])
        .unwrap()
        .unwrap()
        .raw();
    drop(hive);
    let a = ["-a", img.to_str().unwrap(), "-m", "/dev/sda1"];

    // Errors, each with the hive unchanged.
    let before = std::fs::read(download(&env, &img, "before")).unwrap();
    for (text, msg) in [
        (
            "hivex-root\n",
            "vmcraft: error: hivex_root: no hive is open (call hivex_open first)",
        ),
        (
            "hivex-close\n",
            "vmcraft: error: hivex_close: no hive is open",
        ),
        (
            &format!("hivex-open {HIVE}\nhivex-node-add-child {services} vioscsi\n"),
            "vmcraft: error: hivex_node_add_child: ",
        ),
        (
            &format!("hivex-open {HIVE}\nhivex-commit \"\"\n"),
            "vmcraft: error: hivex_commit: /Windows/System32/config/SYSTEM: the hive was not opened for writing",
        ),
        (
            &format!("hivex-open {HIVE} write:true\nhivex-node-name 7\n"),
            "vmcraft: error: hivex_node_name: node 0x7: not a node handle of this hive",
        ),
        (
            &format!("hivex-open {HIVE} write:true\nhivex-node-name -1\n"),
            "vmcraft: error: hivex_node_name: node -1: a handle is not negative",
        ),
        (
            &format!("hivex-open {HIVE} write:true\nhivex-node-add-child {services} viostor\n"),
            "exists already",
        ),
        (
            "hivex-open /Windows\n",
            "vmcraft: error: hivex_open: open: /Windows",
        ),
        (
            "hivex-open /nope\n",
            "vmcraft: error: hivex_open: open: /nope",
        ),
    ] {
        let o = script(&env, &a, text);
        let err = o.failed();
        assert!(err.contains(msg), "{text}: {err}");
    }
    // A hive that is not one.
    let o = script(&env, &a, "write /bad \"not a hive\"\nhivex-open /bad\n");
    assert!(
        o.failed()
            .contains("hivex_open: /bad: file is too small to be a registry hive"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read(download(&env, &img, "after-errors")).unwrap(),
        before
    );

    // Writes, committed, then read by hivexsh.
    let text = format!(
        "hivex-open {HIVE} write:true
hivex-node-add-child {services} vioscsi
hivex-node-delete-child {viostor}
hivex-commit \"\"
hivex-close
hivex-open {HIVE} write:true
hivex-node-get-child {services} VIOSCSI
"
    );
    let o = script(&env, &a, &text);
    let lines: Vec<&str> = o.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let scsi = lines[0];
    assert_eq!(lines[1], scsi);
    let text = format!(
        "hivex-open {HIVE} write:true
hivex-node-set-value {scsi} Start 4 \"\\x03\\x01\\x02\\x04\"
hivex-node-set-value {scsi} Blob 3 abc
hivex-node-set-value {scsi} Start 4 \"\\x03\\x01\\x02\\x05\"
hivex-commit \"\"
hivex-commit /Windows/System32/config/SYSTEM.new
"
    );
    script(&env, &a, &text).ok();
    let after = download(&env, &img, "after");
    assert_eq!(
        hivexsh(
            &after,
            false,
            "cd ControlSet001\\Services\nls\ncd vioscsi\nlsval\n"
        )
        .unwrap(),
        "vioscsi\n\"Blob\"=hex(3):61,62,63\n\"Start\"=dword:05020103\n"
    );
    // The committed hive reads back through the binary as hivexsh reads it.
    let o = script(
        &env,
        &a,
        &format!(
            "hivex-open /Windows/System32/config/SYSTEM.new\nhivex-node-get-value {scsi} start\n"
        ),
    );
    let v = o.ok().trim().to_string();
    let o = script(
        &env,
        &a,
        &format!(
            "hivex-open /Windows/System32/config/SYSTEM.new\nhivex-value-type {v}\nhivex-value-key {v}\n"
        ),
    );
    assert_eq!(o.ok(), "4\nStart\n");
}
