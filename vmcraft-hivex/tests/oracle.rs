//! The API against libhivex's own tools on hives built by the fixture: what
//! `hivexsh` and `hivexget` read is what the API reads, and what the API writes
//! and commits is what `hivexsh` then reads.

mod common;

use common::{lsval, system_hive};
use vmcraft_hivex::testing::{hivexget, hivexsh, require_hivex_tools};
use vmcraft_hivex::{ErrorKind, Hive, SetValue, ValueType};

#[test]
fn reads_what_hivexsh_reads() {
    if !require_hivex_tools("reads_what_hivexsh_reads") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = system_hive(dir.path());
    let hive = Hive::open(&path, false).unwrap();
    let root = hive.root().unwrap();

    // `ls` at the root and below.
    let names = |n| -> String {
        hive.node_children(n)
            .unwrap()
            .into_iter()
            .map(|c| hive.node_name(c).unwrap() + "\n")
            .collect()
    };
    assert_eq!(names(root), hivexsh(&path, false, "ls\n").unwrap());
    let services = hive
        .get_path(&["controlset001", "SERVICES"])
        .unwrap()
        .unwrap();
    assert_eq!(
        names(services),
        hivexsh(&path, false, "cd ControlSet001\\Services\nls\n").unwrap()
    );

    // `lsval` of a key with every common type, and of the root (none).
    let viostor = hive.node_get_child(services, "viostor").unwrap().unwrap();
    assert_eq!(
        lsval(&hive, viostor),
        hivexsh(&path, false, "cd ControlSet001\\Services\\viostor\nlsval\n").unwrap()
    );
    assert_eq!(
        lsval(&hive, root),
        hivexsh(&path, false, "lsval\n").unwrap()
    );

    // Single values against hivexget.
    let cn = hive
        .get_path(&["ControlSet001", "Control", "ComputerName", "ComputerName"])
        .unwrap()
        .unwrap();
    let v = hive.node_get_value(cn, "computername").unwrap().unwrap();
    assert_eq!(
        hive.value_string(v).unwrap() + "\n",
        hivexget(
            &path,
            "ControlSet001\\Control\\ComputerName\\ComputerName",
            Some("ComputerName")
        )
        .unwrap()
    );
    let select = hive.get_path(&["Select"]).unwrap().unwrap();
    let cur = hive.node_get_value(select, "Current").unwrap().unwrap();
    assert_eq!(
        format!("{}\n", hive.value_dword(cur).unwrap()),
        hivexget(&path, "Select", Some("Current")).unwrap()
    );
    let big = hive.node_get_value(viostor, "Big").unwrap().unwrap();
    assert_eq!(hive.value_type(big).unwrap(), (ValueType::QWORD, 8));
    assert_eq!(
        format!("{}\n", hive.value_qword(big).unwrap()),
        hivexget(&path, "ControlSet001\\Services\\viostor", Some("Big")).unwrap()
    );
    // hivexget prints each string of a REG_MULTI_SZ a line, then the list's
    // terminating empty string, which the API leaves out.
    let owners = hive.node_get_value(viostor, "Owners").unwrap().unwrap();
    let strings = hive.value_multiple_strings(owners).unwrap();
    assert_eq!(strings, ["a", "bc"]);
    assert_eq!(
        strings.join("\n") + "\n\n",
        hivexget(&path, "ControlSet001\\Services\\viostor", Some("Owners")).unwrap()
    );
    // The default value: key "", `@` to hivexget.
    let def = hive.node_get_value(viostor, "").unwrap().unwrap();
    assert_eq!(hive.value_key(def).unwrap(), "");
    assert_eq!(
        hive.value_string(def).unwrap() + "\n",
        hivexget(&path, "ControlSet001\\Services\\viostor", Some("@")).unwrap()
    );

    // Parents, missing children and values, wrong conversions.
    assert_eq!(hive.node_parent(viostor).unwrap(), services);
    assert!(hive.node_parent(root).is_err());
    assert_eq!(hive.node_get_child(root, "Nope").unwrap(), None);
    assert_eq!(hive.node_get_value(root, "Nope").unwrap(), None);
    let start = hive.node_get_value(viostor, "Start").unwrap().unwrap();
    assert_eq!(
        hive.value_string(start).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        hive.value_qword(start).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        hive.value_dword(big).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        hive.value_multiple_strings(start).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // Handles that are not nodes or values of this hive.
    for raw in [0, 7, 0x1004, 1 << 40, u64::MAX] {
        let e = hive
            .node_name(vmcraft_hivex::Node::from_raw(raw))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{raw:#x}: {e}");
        assert!(hive.value_key(vmcraft_hivex::Value::from_raw(raw)).is_err());
    }
    // A node handle given as a value handle.
    assert!(
        hive.value_key(vmcraft_hivex::Value::from_raw(root.raw()))
            .is_err()
    );
}

#[test]
fn writes_what_hivexsh_reads() {
    if !require_hivex_tools("writes_what_hivexsh_reads") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = system_hive(dir.path());
    let before = std::fs::read(&path).unwrap();
    {
        let mut hive = Hive::open(&path, true).unwrap();
        let services = hive
            .get_path(&["ControlSet001", "Services"])
            .unwrap()
            .unwrap();
        let scsi = hive.node_add_child(services, "vioscsi").unwrap();
        hive.node_set_value(scsi, &SetValue::dword("Start", 0))
            .unwrap();
        hive.node_set_value(scsi, &SetValue::dword("Type", 1))
            .unwrap();
        hive.node_set_value(scsi, &SetValue::string("Group", "SCSI miniport"))
            .unwrap();
        hive.node_set_value(
            scsi,
            &SetValue::expand_string("ImagePath", "system32\\drivers\\vioscsi.sys"),
        )
        .unwrap();
        hive.node_set_value(scsi, &SetValue::multi_string("Owners", &["oem1.inf", "x"]))
            .unwrap();
        hive.node_set_value(scsi, &SetValue::qword("Q", 0x0102_0304_0506_0708))
            .unwrap();
        hive.node_set_value(scsi, &SetValue::binary("B", &[0xde, 0xad]))
            .unwrap();
        hive.node_set_value(scsi, &SetValue::new("N", ValueType::NONE, &[]))
            .unwrap();
        hive.node_set_value(
            scsi,
            &SetValue::new("BE", ValueType::DWORD_BIG_ENDIAN, &[0, 0, 1, 0]),
        )
        .unwrap();
        // Replacing keeps one value of the name.
        hive.node_set_value(scsi, &SetValue::dword("start", 3))
            .unwrap();
        let viostor = hive.node_get_child(services, "viostor").unwrap().unwrap();
        hive.node_delete_child(viostor).unwrap();
        // Nothing is written before commit.
        assert_eq!(std::fs::read(&path).unwrap(), before);
        hive.commit(None).unwrap();
    }
    assert_ne!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        hivexsh(&path, false, "cd ControlSet001\\Services\nls\n").unwrap(),
        "Tcpip\nvioscsi\n"
    );
    let shown = hivexsh(&path, false, "cd ControlSet001\\Services\\vioscsi\nlsval\n").unwrap();
    assert_eq!(
        shown,
        "\"Type\"=dword:00000001\n\
         \"Group\"=\"SCSI miniport\"\n\
         \"ImagePath\"=str(2):\"system32\\\\drivers\\\\vioscsi.sys\"\n\
         \"Owners\"=hex(7):6f,00,65,00,6d,00,31,00,2e,00,69,00,6e,00,66,00,00,00,78,00,00,00,00,00\n\
         \"Q\"=hex(11):08,07,06,05,04,03,02,01\n\
         \"B\"=hex(3):de,ad\n\
         \"N\"=hex(0):\n\
         \"BE\"=dword:00000100\n\
         \"start\"=dword:00000003\n"
    );
    // And the API reads its own writes back the same way.
    let hive = Hive::open(&path, false).unwrap();
    let scsi = hive
        .get_path(&["ControlSet001", "Services", "VIOSCSI"])
        .unwrap()
        .unwrap();
    assert_eq!(lsval(&hive, scsi), shown);
    let be = hive.node_get_value(scsi, "BE").unwrap().unwrap();
    assert_eq!(hive.value_dword(be).unwrap(), 256);
}

#[test]
fn commit_elsewhere_leaves_the_hive_alone() {
    if !require_hivex_tools("commit_elsewhere_leaves_the_hive_alone") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = system_hive(dir.path());
    let before = std::fs::read(&path).unwrap();
    let copy = dir.path().join("SYSTEM.new");
    let mut hive = Hive::open(&path, true).unwrap();
    let root = hive.root().unwrap();
    hive.node_add_child(root, "MountedDevices").unwrap();
    hive.commit(Some(&copy)).unwrap();
    drop(hive);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        hivexsh(&copy, false, "ls\n").unwrap(),
        "ControlSet001\nMountedDevices\nSelect\n"
    );
}

#[test]
fn a_read_only_hive_refuses_every_write() {
    if !require_hivex_tools("a_read_only_hive_refuses_every_write") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = system_hive(dir.path());
    let before = std::fs::read(&path).unwrap();
    let mut hive = Hive::open(&path, false).unwrap();
    let root = hive.root().unwrap();
    let sel = hive.get_path(&["Select"]).unwrap().unwrap();
    let errs = [
        hive.node_add_child(root, "X").map(|_| ()).unwrap_err(),
        hive.node_delete_child(sel).unwrap_err(),
        hive.node_set_value(root, &SetValue::dword("X", 1))
            .unwrap_err(),
        hive.node_set_values(root, &[]).unwrap_err(),
        hive.commit(None).unwrap_err(),
        hive.commit(Some(&dir.path().join("other"))).unwrap_err(),
    ];
    for e in errs {
        assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
        assert!(e.to_string().contains("not opened for writing"), "{e}");
    }
    drop(hive);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!dir.path().join("other").exists());
}

#[test]
fn bad_write_arguments_are_refused() {
    if !require_hivex_tools("bad_write_arguments_are_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = system_hive(dir.path());
    let mut hive = Hive::open(&path, true).unwrap();
    let root = hive.root().unwrap();
    let e = hive.node_add_child(root, "Select").unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    assert_eq!(
        hive.node_add_child(root, "").unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        hive.node_add_child(root, "a\0b").unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let e = hive
        .node_set_value(root, &SetValue::dword("a\0b", 1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let e = hive
        .node_set_value(
            root,
            &SetValue::binary("huge", &vec![0; vmcraft_hivex::MAX_VALUE_LEN + 1]),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(hive.node_delete_child(root).is_err());
    assert!(
        hive.node_delete_child(vmcraft_hivex::Node::from_raw(0x1004))
            .is_err()
    );
    // Nothing of that reached the hive.
    hive.commit(None).unwrap();
    drop(hive);
    assert_eq!(
        hivexsh(&path, false, "ls\nlsval\n").unwrap(),
        "ControlSet001\nSelect\n"
    );
}
