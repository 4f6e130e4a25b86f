//! Teardown: a panic while drives are attached and filesystems mounted leaves
//! nothing behind; a failed unmount never deletes guest data and never pulls the
//! drive from under the mount; a later shutdown finishes the job.

use vmcraft::{Config, MkfsOptions, VMCraft};
use vmcraft_block::testing::{TestEnv, leaks, require_root};

fn handle(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

#[test]
fn a_panic_in_the_caller_leaves_nothing_behind() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("td-panic");
    let a = env.sparse_image("a.img", 64 << 20);
    let b = env.sparse_image("b.img", 64 << 20);
    let r = std::panic::catch_unwind(|| {
        let g = handle(&env);
        g.add_drive(&a).unwrap();
        g.add_drive(&b).unwrap();
        g.launch().unwrap();
        g.part_disk("/dev/sda", "mbr").unwrap();
        g.mkfs("ext4", "/dev/sda1", &MkfsOptions::default())
            .unwrap();
        g.mkfs("ext4", "/dev/sdb", &MkfsOptions::default()).unwrap();
        g.mount("/dev/sda1", "/").unwrap();
        g.mkdir("/inner").unwrap();
        g.mount("/dev/sdb", "/inner").unwrap();
        g.write("/inner/f", b"x").unwrap();
        assert!(!leaks(env.tag()).is_empty(), "mounted under the tagged dir");
        panic!("the caller's code panics");
    });
    assert!(r.is_err());
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));
    let left: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vmcraft-"))
        .collect();
    assert!(left.is_empty(), "session directories left: {left:?}");
}

#[test]
fn a_failed_unmount_never_deletes_guest_data() {
    if !require_root("mounting") {
        return;
    }
    let env = TestEnv::new("td-busy");
    let a = env.sparse_image("a.img", 64 << 20);
    let g = handle(&env);
    g.add_drive(&a).unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &MkfsOptions::default()).unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.write("/precious", b"guest data\n").unwrap();
    // Something on the host keeps the filesystem busy.
    let host = g.mountpoint_host_path("/").unwrap();
    let busy = std::fs::File::open(host.join("precious")).unwrap();

    let e = g.shutdown().unwrap_err();
    assert!(e.chain().contains("cannot unmount"), "{}", e.chain());
    assert!(host.join("precious").exists(), "guest data is still there");
    assert_eq!(g.mountpoints().len(), 1, "still tracked");
    assert!(g.is_launched(), "the drive under the mount stays attached");
    assert_eq!(
        std::fs::read(host.join("precious")).unwrap(),
        b"guest data\n"
    );

    drop(busy);
    g.shutdown().unwrap();
    assert!(g.mountpoints().is_empty());
    drop(g);
    assert!(leaks(env.tag()).is_empty(), "{:?}", leaks(env.tag()));

    // The data reached the image.
    let g = handle(&env);
    g.add_drive_ro(&a).unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda", "/").unwrap();
    assert_eq!(g.cat("/precious").unwrap(), "guest data\n");
}
