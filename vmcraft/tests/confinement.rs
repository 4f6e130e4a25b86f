//! Confinement: a guest whose directories are absolute symlinks to host paths, and
//! paths full of `..`, can make VMCraft neither read, write nor mount anything
//! outside the guest tree. A sentinel tree on the host is hashed before and after.

use std::collections::BTreeMap;
use std::path::Path;

use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root};

fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, Option<std::time::SystemTime>)> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let content = if meta.is_file() {
            std::fs::read(&p).unwrap()
        } else {
            Vec::new()
        };
        m.insert(p.display().to_string(), (content, meta.modified().ok()));
    }
    m
}

#[test]
fn guest_symlinks_and_dotdot_never_reach_the_host() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("confine");
    // The host's sentinel tree, named by an absolute path the guest will point at.
    let sentinel = env.path().join("host-etc");
    std::fs::create_dir(&sentinel).unwrap();
    std::fs::write(sentinel.join("passwd"), "root:x:0:0:host\n").unwrap();
    std::fs::write(sentinel.join("shadow"), "host secret\n").unwrap();
    let before = snapshot(&sentinel);
    let s = sentinel.to_str().unwrap();

    let a = env.sparse_image("a.img", 64 << 20);
    let b = env.sparse_image("b.img", 64 << 20);
    let g = VMCraft::with_config(Config::builder().tmpdir(env.path()).build());
    g.add_drive(&a).unwrap();
    g.add_drive(&b).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mkfs("ext4", "/dev/sdb", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();

    // The guest's /etc and /mnt are absolute symlinks to the host sentinel's path.
    g.ln_s(s, "/etc").unwrap();
    g.ln_s(s, "/mnt").unwrap();
    g.ln_s("/etc/shadow", "/shadow-link").unwrap();

    // Reads through them see the guest, not the host.
    assert!(
        g.cat("/etc/shadow").is_err(),
        "no such file inside the guest"
    );
    assert!(g.cat("/shadow-link").is_err());
    assert!(g.cat(&format!("/../../../..{s}/shadow")).is_err());
    // Writes through them land inside the guest.
    g.mkdir_p(s).unwrap();
    g.write("/etc/passwd", b"guest passwd\n").unwrap();
    g.write(&format!("/../../..{s}/shadow"), b"guest shadow\n")
        .unwrap();
    assert_eq!(g.cat("/etc/passwd").unwrap(), "guest passwd\n");
    assert_eq!(g.cat(&format!("{s}/shadow")).unwrap(), "guest shadow\n");
    g.cp_a(&format!("{s}/shadow"), "/copied").unwrap();
    g.chmod(0o777, "/shadow-link").unwrap_or(());

    // tar out of the symlinked directory reads the guest's copy.
    let tarball = env.path().join("etc.tar");
    g.tar_out("/etc", &tarball, Default::default()).unwrap();
    let listing = std::process::Command::new("tar")
        .arg("tf")
        .arg(&tarball)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("./passwd"), "{listing}");

    // A mount point that is a guest symlink to a host path mounts inside the guest.
    g.mount("/dev/sdb", "/mnt").unwrap();
    let mp = g.mountpoint_host_path("/mnt").unwrap();
    assert!(
        mp.starts_with(env.path()) && mp != sentinel,
        "{}",
        mp.display()
    );
    assert!(mp.to_string_lossy().contains("/root/"), "{}", mp.display());
    g.write("/mnt/on-sdb", b"x").unwrap();
    assert!(!sentinel.join("on-sdb").exists());

    g.shutdown().unwrap();
    assert_eq!(
        snapshot(&sentinel),
        before,
        "the host sentinel tree changed"
    );
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
}
