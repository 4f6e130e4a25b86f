//! Partition tables through the binary: guestfish scripts (part-init, part-add,
//! part-list, part-get-*, part-set-*) run unchanged with `vmcraft -f`, their
//! output as guestfish prints it, the resulting tables checked with sfdisk and
//! sgdisk; bad input refused with the problem named and the image unchanged.

mod cli_support;

use cli_support::{image, run, script, sha256, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

#[test]
fn gpt_script_output_and_table() {
    if !require_root("attaching images") || !require_tool("sfdisk") || !require_tool("sgdisk") {
        return;
    }
    let env = TestEnv::new("cli-gpt");
    let img = image(&env, "gpt.img", 128 << 20);
    let text = "\
run
part-init /dev/sda gpt
part-add /dev/sda p 2048 206847
part-add /dev/sda p 206848 -34
part-set-name /dev/sda 1 EFI
part-set-gpt-type /dev/sda 1 C12A7328-F81F-11D2-BA4B-00A0C93EC93B
part-set-name /dev/sda 2 root
part-list /dev/sda
part-get-parttype /dev/sda
part-get-name /dev/sda 1
part-get-gpt-type /dev/sda 1
part-get-gpt-type /dev/sda 2
list-partitions
blockdev-getsize64 /dev/sda1
blockdev-getsz /dev/sda2
blockdev-getss /dev/sda
part-to-dev /dev/sda2
part-to-partnum /dev/sda2
";
    let o = script(&env, &["-a", img.to_str().unwrap()], text);
    assert_eq!(
        o.ok(),
        "[0] = {
  part_num: 1
  part_start: 1048576
  part_end: 105906175
  part_size: 104857600
}
[1] = {
  part_num: 2
  part_start: 105906176
  part_end: 134200831
  part_size: 28294656
}
gpt
EFI
C12A7328-F81F-11D2-BA4B-00A0C93EC93B
0FC63DAF-8483-4772-8E79-3D69D8477DE4
/dev/sda1
/dev/sda2
104857600
55263
512
/dev/sda
2
"
    );
    let dump = tool("sfdisk", &["-d", img.to_str().unwrap()]);
    assert!(dump.contains("label: gpt"), "{dump}");
    assert!(
        dump.contains(
            "start=        2048, size=      204800, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
        ),
        "{dump}"
    );
    assert!(dump.contains("name=\"EFI\""), "{dump}");
    assert!(
        dump.contains("start=      206848, size=       55263"),
        "{dump}"
    );
    let verify = tool("sgdisk", &["-v", img.to_str().unwrap()]);
    assert!(verify.contains("No problems found"), "{verify}");
}

#[test]
fn mbr_script_with_logical_partitions() {
    if !require_root("attaching images") || !require_tool("sfdisk") {
        return;
    }
    let env = TestEnv::new("cli-mbr");
    let img = image(&env, "mbr.img", 64 << 20);
    let text = "\
run
part-init /dev/sda msdos
part-add /dev/sda p 2048 43007
part-add /dev/sda e 43008 -1
part-add /dev/sda l 45056 65535
part-set-mbr-id /dev/sda 1 0x0c
part-set-bootable /dev/sda 1 true
part-get-mbr-id /dev/sda 1
part-get-mbr-id /dev/sda 2
part-get-mbr-id /dev/sda 5
part-get-bootable /dev/sda 1
part-get-bootable /dev/sda 5
part-get-mbr-part-type /dev/sda 2
part-get-mbr-part-type /dev/sda 5
part-get-parttype /dev/sda
list-partitions
part-del /dev/sda 5
list-partitions
";
    let o = script(&env, &["-a", img.to_str().unwrap()], text);
    assert_eq!(
        o.ok(),
        "0xc\n0xf\n0x83\ntrue\nfalse\nextended\nlogical\nmsdos\n/dev/sda1\n/dev/sda2\n/dev/sda5\n/dev/sda1\n/dev/sda2\n"
    );
    let dump = tool("sfdisk", &["-d", img.to_str().unwrap()]);
    assert!(dump.contains("label: dos"), "{dump}");
    assert!(
        dump.contains("start=        2048, size=       40960, type=c, bootable"),
        "{dump}"
    );
    assert!(
        dump.contains("start=       43008, size=       88064, type=f"),
        "{dump}"
    );
    assert!(!dump.contains("mbr.img5"), "{dump}");
}

#[test]
fn refused_input_names_the_problem_and_changes_nothing() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-refused");
    let img = image(&env, "d.img", 16 << 20);
    let path = img.to_str().unwrap();
    run(
        &env,
        &[
            "-a",
            path,
            "run",
            ":",
            "part-init",
            "/dev/sda",
            "gpt",
            ":",
            "part-add",
            "/dev/sda",
            "p",
            "2048",
            "4095",
        ],
        "",
    )
    .ok();
    let before = sha256(&img);
    for (cmd, want) in [
        // A wrong prlogex is the facade's to refuse.
        (
            "part-add /dev/sda x 1 2",
            "vmcraft: error: part_add: /dev/sda: ",
        ),
        (
            "part-add /dev/sda p x 2",
            "vmcraft: error: part-add: startsect: 'x' is not an integer",
        ),
        (
            "part-add /dev/sda p 3000 5000",
            "vmcraft: error: part_add: /dev/sda: ",
        ),
        (
            "part-del /dev/sda",
            "vmcraft: error: part-del: should have 2 parameter(s), not 1",
        ),
        (
            "part-del /dev/sda 7",
            "vmcraft: error: part_del: /dev/sda: ",
        ),
        (
            "part-init /dev/sda sun",
            "vmcraft: error: part_init: /dev/sda: ",
        ),
        (
            "part-frob /dev/sda",
            "vmcraft: error: part-frob: unknown command",
        ),
        (
            "blockdev-getsize64 /dev/sdz",
            "vmcraft: error: blockdev_getsize64: /dev/sdz: no such device",
        ),
        (
            "part-list /dev/sdb",
            "vmcraft: error: part_list: /dev/sdb: no such device",
        ),
        (
            "part-set-name /dev/sda1 1 x",
            "vmcraft: error: part_set_name: /dev/sda1: ",
        ),
    ] {
        // The failing command is followed by one that would change the image.
        let text = format!("run\n{cmd}\npart-init /dev/sda msdos\n");
        let o = script(&env, &["-a", path], &text);
        let e = o.failed();
        assert!(e.starts_with(want), "{cmd}: {e}");
        assert_eq!(e.lines().count(), 1, "{cmd}: {e}");
        assert_eq!(sha256(&img), before, "{cmd} changed the image");
    }
    // The overlap is named with both ranges.
    let o = run(
        &env,
        &[
            "-a", path, "run", ":", "part-add", "/dev/sda", "p", "3000", "5000",
        ],
        "",
    );
    assert!(o.failed().contains("3000"), "{}", o.stderr);
    assert_eq!(sha256(&img), before);
}

#[test]
fn read_only_drives_refuse_changes() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-ro");
    let img = image(&env, "d.img", 32 << 20);
    let path = img.to_str().unwrap();
    run(
        &env,
        &["-a", path, "run", ":", "part-disk", "/dev/sda", "mbr"],
        "",
    )
    .ok();
    let before = sha256(&img);
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            path,
            "run",
            ":",
            "blockdev-getro",
            "/dev/sda",
            ":",
            "part-list",
            "/dev/sda",
        ],
        "",
    );
    assert!(
        o.ok().starts_with("true\n[0] = {\n  part_num: 1\n"),
        "{}",
        o.stdout
    );
    let o = run(
        &env,
        &[
            "--ro",
            "-a",
            path,
            "run",
            ":",
            "part-init",
            "/dev/sda",
            "gpt",
        ],
        "",
    );
    assert!(
        o.failed()
            .starts_with("vmcraft: error: part_init: /dev/sda"),
        "{}",
        o.stderr
    );
    assert_eq!(sha256(&img), before);
    // --rw after --ro is refused, as guestfish refuses it; --ro after --rw wins.
    let o = run(
        &env,
        &[
            "--ro",
            "--rw",
            "-a",
            path,
            "run",
            ":",
            "blockdev-getro",
            "/dev/sda",
        ],
        "",
    );
    assert!(
        o.failed()
            .contains("--rw: cannot mix --ro and --rw options"),
        "{}",
        o.stderr
    );
    let o = run(
        &env,
        &[
            "--rw",
            "-a",
            path,
            "--ro",
            "run",
            ":",
            "blockdev-getro",
            "/dev/sda",
        ],
        "",
    );
    assert_eq!(o.ok(), "true\n");
    assert_eq!(sha256(&img), before);
}
