//! Windows inspection through the command line: guestfish's output and JSON
//! for a phony Windows 10 guest (see `windows_support`), as root and as an
//! ordinary user (the drive is read in-process: no root needed to inspect a
//! Windows guest and read its registry).

mod cli_support;
#[path = "../../vmcraft/tests/windows_support/mod.rs"]
mod windows_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use cli_support::{assert_no_session_left, bin};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

fn vmcraft(env: &TestEnv, exe: &std::path::Path, nobody: bool, args: &[&str]) -> String {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let o = c
        .args(args)
        .current_dir(env.path())
        .env("TMPDIR", env.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_no_session_left(env);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn windows_inspection_through_the_cli_and_json() {
    if !require_root("ntfs-3g to make the guest, setpriv")
        || !require_tool("mkntfs")
        || !require_tool("ntfs-3g")
        || !require_tool("setpriv")
        || !vmcraft_hivex::testing::require_hivex_tools("windows inspection")
    {
        return;
    }
    let env = TestEnv::new("cli-inspect-win");
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let exe = env.path().join("vmcraft");
    std::fs::copy(bin(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let v = &windows_support::VERSIONS[1];
    let img = windows_support::make_guest(&env, v);
    for p in [img.parent().unwrap(), img.as_path()] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let p = img.to_str().unwrap();
    let script = [
        "--ro",
        "-a",
        p,
        "-i",
        "--",
        "inspect-get-type",
        "/dev/sda1",
        ":",
        "inspect-get-product-name",
        "/dev/sda1",
        ":",
        "inspect-get-product-variant",
        "/dev/sda1",
        ":",
        "inspect-get-build-id",
        "/dev/sda1",
        ":",
        "inspect-get-major-version",
        "/dev/sda1",
        ":",
        "inspect-get-hostname",
        "/dev/sda1",
        ":",
        "inspect-get-drive-mappings",
        "/dev/sda1",
        ":",
        "inspect-get-osinfo",
        "/dev/sda1",
        ":",
        "inspect-get-windows-current-control-set",
        "/dev/sda1",
        ":",
        "inspect-get-windows-system-hive",
        "/dev/sda1",
        ":",
        "case-sensitive-path",
        "/windows/system32/CONFIG/software",
    ];
    let want = "windows\nWindows 10 Pro\nClient\n19045\n10\nDESKTOP-10\nC: /dev/sda1\nwin10\n\
                ControlSet001\n/Windows/System32/config/SYSTEM\n/Windows/System32/config/SOFTWARE\n";
    assert_eq!(vmcraft(&env, &exe, false, &script), want);
    assert_eq!(vmcraft(&env, &exe, true, &script), want, "as uid 65534");

    // JSON: one document per command, the same answers.
    let mut json = vec!["--json"];
    json.extend_from_slice(&script);
    let out = vmcraft(&env, &exe, true, &json);
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs.len(), 11, "{out}");
    assert_eq!(docs[1], serde_json::json!("Windows 10 Pro"));
    assert_eq!(docs[4], serde_json::json!(10));
    assert_eq!(docs[6], serde_json::json!({"C": "/dev/sda1"}));
    assert_eq!(docs[7], serde_json::json!("win10"));

    // The registry through hivex-*, read-only, as uid 65534 too.
    let hive = vmcraft(
        &env,
        &exe,
        true,
        &[
            "--ro",
            "-a",
            p,
            "-i",
            "--",
            "hivex-open",
            "/Windows/System32/config/SYSTEM",
            ":",
            "hivex-root",
            ":",
            "hivex-close",
        ],
    );
    assert!(hive.trim().parse::<i64>().is_ok_and(|n| n > 0), "{hive}");

    let apps = vmcraft(
        &env,
        &exe,
        true,
        &[
            "--ro",
            "--json",
            "-a",
            p,
            "-i",
            "--",
            "inspect-list-applications2",
            "/dev/sda1",
        ],
    );
    let apps: serde_json::Value = serde_json::from_str(&apps).unwrap();
    assert_eq!(apps[0]["app2_name"], "7-Zip");
    assert_eq!(apps[0]["app2_publisher"], "Igor Pavlov");
    assert_eq!(
        apps[1]["app2_display_name"],
        "Microsoft Office Professional Plus 2016"
    );
}
