//! md calls where the host cannot run them, and their argument checks: on a
//! kernel without md (this host) every call that needs it is refused as
//! unsupported with the image unchanged; everywhere, a device that is not an
//! array is refused by the calls on arrays, a bad array name or option is
//! refused before anything runs, and a session without RAID members assembles
//! nothing. The arrays themselves are made, assembled and stopped for real in
//! the kernel test tier (`kernel_tier_md.rs`).

use vmcraft::{Config, ErrorKind, MdCreateOpts, VMCraft};
use vmcraft_block::testing::{TestEnv, require_root};

fn sha256(path: &std::path::Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn md_calls_refuse_what_they_cannot_do_and_change_nothing() {
    if !require_root("loop devices") {
        return;
    }
    let env = TestEnv::new("md-host");
    let img = env.sparse_image("disk.img", 64 << 20);
    {
        let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
        g.add_drive(&img).unwrap();
        g.launch().unwrap();
        g.part_init("/dev/sda", "gpt").unwrap();
        g.part_add("/dev/sda", "p", 2048, 40959).unwrap();
        g.part_add("/dev/sda", "p", 40960, -34).unwrap();
        g.shutdown().unwrap();
    }
    let before = sha256(&img);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&img).unwrap();
    g.launch().unwrap();
    let both = ["/dev/sda1", "/dev/sda2"];
    for (name, opts, want) in [
        ("../x", MdCreateOpts::default(), "not an array name"),
        ("-x", MdCreateOpts::default(), "not an array name"),
        (
            &"x".repeat(33) as &str,
            MdCreateOpts::default(),
            "not an array name",
        ),
        (
            "ok",
            MdCreateOpts {
                level: Some("raid9".into()),
                ..Default::default()
            },
            "unknown level parameter: raid9",
        ),
    ] {
        let e = g.md_create(name, &both, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = g
        .md_create("twice", &["/dev/sda1", "/dev/sda1"], &Default::default())
        .unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
    let e = g.md_detail("/dev/sda1").unwrap_err();
    assert!(
        e.to_string()
            .contains("md_detail: /dev/sda1: not an md array"),
        "{e}"
    );
    let e = g.md_stop("/dev/md127").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchDevice, "{e}");
    assert_eq!(g.md_assemble().unwrap(), Vec::<String>::new());
    if !std::path::Path::new("/proc/mdstat").exists() {
        let e = g.md_create("data", &both, &Default::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("the kernel has no md driver"), "{e}");
    }
    g.shutdown().unwrap();
    assert_eq!(sha256(&img), before, "a refused call changed the image");
}
