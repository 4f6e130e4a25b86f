//! The handle's settings and state through the binary: libguestfs's appliance
//! properties accepted and remembered (aliases, defaults, validation, before
//! launch only), the settings that act (`set-tmpdir`, `set-trace`, `umask`),
//! state queries, `version`, `parse-environment-list`, `add-drive-scratch`,
//! `sync`, `drop-caches`, and the command line's own `lcd`, `setenv`, `time`.

mod cli_support;

use cli_support::{debugfs_cat, extract_partition, image, run, script, tool};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

#[test]
fn appliance_settings_are_remembered_with_libguestfs_defaults() {
    let env = TestEnv::new("cli-settings");
    let text = r#"get-memsize
get-smp
get-network
get-autosync
get-recovery-proc
get-backend
get-append
memsize 2048
set-smp 4
network true
set-backend direct
set-append "console=ttyS0"
set-hv /usr/bin/qemu-kvm
set-backend-settings 'gdb force_tcg=0'
set-backend-setting force_tcg 1
get-memsize
get-smp
get-network
get-backend
get-append
get-hv
get-qemu
get-backend-settings
get-backend-setting force_tcg
get-backend-setting gdb
clear-backend-setting gdb
get-backend-settings
config -cpu host
is-config
is-ready
get-state
max-disks
"#;
    let o = script(&env, &[], text);
    assert_eq!(
        o.ok(),
        "1280\n1\nfalse\ntrue\ntrue\ndirect\n(null)\n\
         2048\n4\ntrue\ndirect\nconsole=ttyS0\n/usr/bin/qemu-kvm\n/usr/bin/qemu-kvm\n\
         gdb\nforce_tcg=1\n1\n1\n1\nforce_tcg=1\ntrue\nfalse\n0\n255\n"
    );
}

#[test]
fn bad_settings_are_refused_and_change_nothing() {
    let env = TestEnv::new("cli-settings-bad");
    for (cmds, want) in [
        (
            "set-memsize 64\nget-memsize\n",
            "vmcraft: error: set_memsize: 64: memory size must be at least 128 MiB",
        ),
        (
            "set-smp 0\n",
            "vmcraft: error: set_smp: 0: must be at least 1",
        ),
        (
            "config cpu host\n",
            "vmcraft: error: config: cpu: parameter must begin with '-' character",
        ),
        (
            "set-identifier 'a b'\n",
            "vmcraft: error: set_identifier: a b: only letters, digits, _ and - are allowed",
        ),
        (
            "get-backend-setting nothing\n",
            "vmcraft: error: get_backend_setting: nothing: setting not found",
        ),
        (
            "umask 01000\n",
            "vmcraft: error: umask: 1000: umask must be between 0 and 0777",
        ),
        (
            "get-pid\n",
            "vmcraft: error: get_pid: no hypervisor is running",
        ),
        (
            "set-tmpdir /nonexistent-dir\n",
            "vmcraft: error: set_tmpdir: /nonexistent-dir: not a directory",
        ),
        (
            "drop-caches 4\n",
            "vmcraft: error: drop_caches: 4: must be 1, 2 or 3",
        ),
    ] {
        let o = script(&env, &[], cmds);
        assert!(o.failed().starts_with(want), "{cmds}: {}", o.stderr);
    }
    // The refused memsize left the default.
    let o = script(&env, &[], "-set-memsize 64\nget-memsize\n");
    assert_eq!(o.stdout, "1280\n");
}

#[test]
fn version_is_vmcraft_s_own() {
    let env = TestEnv::new("cli-version");
    let o = run(&env, &["version"], "");
    let v: Vec<&str> = env!("CARGO_PKG_VERSION").split('.').collect();
    assert_eq!(
        o.ok(),
        format!(
            "major: {}\nminor: {}\nrelease: {}\nextra: vmcraft\n",
            v[0], v[1], v[2]
        )
    );
}

#[test]
fn parse_environment_list_sets_what_libguestfs_reads() {
    let env = TestEnv::new("cli-parse-env");
    let o = script(
        &env,
        &[],
        "parse-environment-list 'LIBGUESTFS_MEMSIZE=700 LIBGUESTFS_BACKEND=direct:x LIBGUESTFS_BACKEND_SETTINGS=a:b=c'\n\
         get-memsize\nget-backend\nget-backend-settings\n",
    );
    assert_eq!(o.ok(), "700\ndirect:x\na\nb=c\n");
}

#[test]
fn trace_prints_each_call_and_its_result() {
    let env = TestEnv::new("cli-trace");
    let o = script(
        &env,
        &[],
        "set-identifier job1\ntrace true\nget-memsize\nset-program tool\n",
    );
    assert_eq!(o.stdout, "1280\n");
    assert!(
        o.stderr.contains("vmcraft: trace: job1: get_memsize\n")
            && o.stderr
                .contains("vmcraft: trace: job1: get_memsize = 1280\n")
            && o.stderr
                .contains("vmcraft: trace: job1: set_program \"tool\"\n")
            && o.stderr.contains("vmcraft: trace: job1: set_program = 0\n"),
        "{}",
        o.stderr
    );
}

#[test]
fn local_commands_lcd_setenv_time() {
    let env = TestEnv::new("cli-local");
    let sub = env.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let o = script(
        &env,
        &[],
        &format!(
            "lcd {}\n!pwd\nsetenv VMCRAFT_TEST_VAR hello\n!echo $VMCRAFT_TEST_VAR\nunsetenv VMCRAFT_TEST_VAR\n!echo \"[$VMCRAFT_TEST_VAR]\"\ntime echo hi\n",
            sub.display()
        ),
    );
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(sub.to_str().unwrap()));
    assert_eq!(lines.next(), Some("hello"));
    assert_eq!(lines.next(), Some("[]"));
    assert_eq!(lines.next(), Some("hi"));
    let t = lines.next().unwrap();
    assert!(
        t.starts_with("elapsed time: ") && t.ends_with(" seconds"),
        "{t}"
    );
    let o = script(&env, &[], "lcd /nonexistent-dir\n");
    assert!(
        o.failed()
            .starts_with("vmcraft: error: lcd: /nonexistent-dir"),
        "{}",
        o.stderr
    );
    let o = script(&env, &[], "setenv A=B c\n");
    assert!(
        o.failed().contains("is not a variable name"),
        "{}",
        o.stderr
    );
}

#[test]
fn settings_only_before_launch_and_state_after() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-settings-launched");
    let img = image(&env, "d.img", 16 << 20);
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        "is-ready\nrun\nis-ready\nis-config\nget-state\ndevice-name 0\n-device-name 1\n-set-memsize 2048\nget-memsize\n",
    );
    assert_eq!(o.stdout, "false\ntrue\nfalse\n2\n/dev/sda\n1280\n");
    assert!(
        o.stderr
            .contains("vmcraft: error: device_name: 1: no drive with this index"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("vmcraft: error: set_memsize: this call can only be made before launch"),
        "{}",
        o.stderr
    );
}

#[test]
fn scratch_drives_are_usable_and_removed() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-scratch");
    // run() checks that nothing named vmcraft-* (the scratch file included) is
    // left in TMPDIR once the binary exits.
    let o = script(
        &env,
        &[],
        "scratch 32M\nadd-drive-scratch 16M\nrun\nlist-devices\nblockdev-getsize64 /dev/sda\nblockdev-getsize64 /dev/sdb\npart-disk /dev/sdb mbr\nmkfs ext4 /dev/sdb1\nmount /dev/sdb1 /\nwrite /f hello\ncat /f\n",
    );
    assert_eq!(o.ok(), "/dev/sda\n/dev/sdb\n33554432\n16777216\nhello\n");
    let o = script(&env, &[], "add-drive-scratch 0\n");
    assert!(o.failed().contains("size must be positive"), "{}", o.stderr);
}

#[test]
fn set_tmpdir_moves_the_session_directory() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-tmpdir");
    let img = image(&env, "d.img", 16 << 20);
    let dir = env.path().join("elsewhere");
    std::fs::create_dir(&dir).unwrap();
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "set-tmpdir {d}\nget-tmpdir\nrun\n!ls {d} | grep -c '^vmcraft-'\n-set-tmpdir {d}\n",
            d = dir.display()
        ),
    );
    assert_eq!(o.stdout, format!("{}\n1\n", dir.display()));
    assert!(
        o.stderr.contains("can only be made before launch"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "session directory left"
    );
}

#[test]
fn umask_applies_to_new_files_and_directories() {
    if !require_root("attaching images") || !require_tool("debugfs") {
        return;
    }
    let env = TestEnv::new("cli-umask");
    let img = image(&env, "fs.img", 64 << 20);
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        "run\npart-disk /dev/sda mbr\nmkfs ext4 /dev/sda1\nmount /dev/sda1 /\n\
         get-umask\nwrite /default x\nmkdir /ddefault\numask 077\nget-umask\n\
         write /private x\ntouch /touched\nmkdir /dprivate\nmkdir-p /a/b\nmkdir-mode /m 0755\n\
         umask 0\nwrite /open x\nmkdir /dopen\nwrite /private y\nsync\ndrop-caches 3\n",
    );
    assert_eq!(o.ok(), "022\n022\n077\n077\n");
    let fs = extract_partition(&env, &img, 1);
    let mode = |p: &str| {
        let out = tool(
            "debugfs",
            &["-R", &format!("stat {p}"), fs.to_str().unwrap()],
        );
        let m = out
            .split_whitespace()
            .skip_while(|w| *w != "Mode:")
            .nth(1)
            .unwrap()
            .to_string();
        u32::from_str_radix(&m, 8).unwrap() & 0o7777
    };
    assert_eq!(mode("/default"), 0o644);
    assert_eq!(mode("/ddefault"), 0o755);
    assert_eq!(mode("/private"), 0o600, "an existing file keeps its mode");
    assert_eq!(mode("/touched"), 0o600);
    assert_eq!(mode("/dprivate"), 0o700);
    assert_eq!(mode("/a/b"), 0o700);
    assert_eq!(mode("/m"), 0o700);
    assert_eq!(mode("/open"), 0o666);
    assert_eq!(mode("/dopen"), 0o777);
    assert_eq!(debugfs_cat(&fs, "/private"), "y");
}

#[test]
fn reopen_starts_over_with_a_new_handle() {
    if !require_root("attaching images") {
        return;
    }
    let env = TestEnv::new("cli-reopen");
    let img = image(&env, "d.img", 16 << 20);
    // run() checks that no session directory is left behind, the first
    // handle's included.
    let o = script(
        &env,
        &["-a", img.to_str().unwrap()],
        &format!(
            "memsize 2048\nset-pgroup true\nrun\nlist-devices\nreopen\nget-memsize\nget-pgroup\nis-config\nlist-devices\n\
             add-ro {}\nrun\nlist-devices\nis-ready\n",
            img.display()
        ),
    );
    assert_eq!(o.ok(), "/dev/sda\n1280\ntrue\ntrue\n/dev/sda\ntrue\n");
}
