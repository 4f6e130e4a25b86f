//! Hostile input against the whole stack: the `vmcraft` command line and the
//! facade, on real images, real attaches and real mounted guests. Each test is one
//! route by which a guest image, a tarball or a guest file could reach the host;
//! each asserts that the call is refused with an error naming the subject and the
//! reason, that a host sentinel's bytes appear nowhere the session wrote or
//! printed, and that the sentinel (and the image) are unchanged.
//!
//! Routes and where else they are proven in depth:
//! 1-3. image references (vmdk extents, embedded descriptors, backing names):
//!    here; `vmcraft-nbd/tests/differential.rs` (what qemu opens, under strace),
//!    `faults.rs`, the fuzz targets in `vmcraft-nbd/fuzz`.
//! 4. LV names: `lv_confinement.rs`, `vmcraft-lvm`'s dm tests.
//! 5. `--ro` after `-a`: `cli_readonly.rs`.
//! 6. tar-in through the archive's own symlinks: here;
//!    `vmcraft-archive/tests/tar_in_symlinks.rs` (GNU tar as the oracle).
//! 7. small inputs that exhaust: `vmcraft-archive/tests/limits.rs`,
//!    `delayed_limits.rs`, `vmcraft-part/tests/corrupt.rs`, the fuzz targets.
//! 8. Augeas crashes: here; `vmcraft-aug/tests/worker.rs`.
//! 9. device nodes and FIFOs: here; `special_files.rs`,
//!    `vmcraft-archive/tests/special_files.rs`; setuid bits, `tar_out` to a file,
//!    NBD lock files, `hiberfil.sys`, `resize2fs`: `vmcraft-archive/tests/setid.rs`,
//!    `tar_out_file.rs`, `vmcraft-nbd/tests/nbd_fake.rs`, `fallback.rs`,
//!    `e2fsck.rs`.

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{run, sha256};
use vmcraft::{Config, DriveOpts, VMCraft};
use vmcraft_block::testing::{TestEnv, require_root, require_tool};

/// Root, qemu-img and qemu-storage-daemon with FUSE.
fn privileged(what: &str) -> bool {
    require_root(what)
        && require_tool("qemu-img")
        && require_tool("qemu-storage-daemon")
        && (Path::new("/dev/fuse").exists()
            || vmcraft_block::testing::skip::skip("/dev/fuse is missing (FUSE exports)"))
}

/// A host file of recognisable bytes, outside anything a session is given.
struct Sentinel {
    path: PathBuf,
    hash: String,
}

const MARK: &[u8] = b"HOST-SENTINEL-BYTES:";

impl Sentinel {
    fn new(env: &TestEnv) -> Sentinel {
        let dir = env.path().join("host");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, MARK.repeat(4096)).unwrap();
        let hash = sha256(&path);
        Sentinel { path, hash }
    }

    fn s(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Neither written nor read into `outputs` (files the session wrote, text it
    /// printed).
    #[track_caller]
    fn untouched(&self, outputs: &[&[u8]]) {
        assert_eq!(sha256(&self.path), self.hash, "the sentinel was written");
        for out in outputs {
            assert!(
                !out.windows(MARK.len()).any(|w| w == MARK),
                "the sentinel's bytes reached the session's output"
            );
        }
    }
}

fn session(env: &TestEnv) -> VMCraft {
    VMCraft::with_config(Config::builder().tmpdir(env.path()).build())
}

/// Launch with one drive and return the error (the drive must be refused).
#[track_caller]
fn refused(env: &TestEnv, image: &Path, opts: DriveOpts) -> String {
    let g = session(env);
    g.add_drive_opts(image, opts).unwrap();
    let e = g.launch().expect_err("a hostile image must not attach");
    let text = e.to_string();
    assert!(text.contains(&*image.to_string_lossy()), "{text}");
    assert!(text.contains("refused"), "{text}");
    g.shutdown().unwrap();
    text
}

fn descriptor(env: &TestEnv, name: &str, extents: &str) -> PathBuf {
    let p = env.path().join(name);
    std::fs::write(
        &p,
        format!(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
             createType=\"monolithicFlat\"\n{extents}"
        ),
    )
    .unwrap();
    p
}

#[test]
fn route1_a_vmdk_extent_line_qemu_reads_cannot_expose_a_host_file() {
    if !privileged("hostile images") {
        return;
    }
    let env = TestEnv::new("hostile-vmdk");
    let sentinel = Sentinel::new(&env);
    // qemu's sscanf takes this for an extent; a parser by `key=value` lines does not.
    let evil = descriptor(
        &env,
        "evil.vmdk",
        &format!("RW 256 FLAT \"{}\" 0 x=y\n", sentinel.s()),
    );
    let out = env.sparse_image("out.img", 1 << 20);
    let evil_hash = sha256(&evil);

    // The command line, as an attacker would hope it runs: read-only source,
    // copied to a second drive.
    let o = run(
        &env,
        &[
            "add-drive-ro",
            evil.to_str().unwrap(),
            ":",
            "add-drive",
            out.to_str().unwrap(),
            "format:raw",
            ":",
            "run",
            ":",
            "copy-device-to-device",
            "/dev/sda",
            "/dev/sdb",
        ],
        "",
    );
    let err = o.failed();
    assert!(err.contains(&*evil.to_string_lossy()), "{err}");
    assert!(err.contains("extent file"), "{err}");
    let out_bytes = std::fs::read(&out).unwrap();
    sentinel.untouched(&[&out_bytes, o.stdout.as_bytes(), o.stderr.as_bytes()]);

    // The library, read-only and read-write, with and without the extents opt-in
    // (which follows only plain names beside the descriptor).
    for (readonly, extents) in [(true, false), (false, false), (true, true)] {
        let e = refused(
            &env,
            &evil,
            DriveOpts {
                readonly,
                allow_vmdk_extents: extents,
                ..Default::default()
            },
        );
        assert!(e.contains(sentinel.s()), "{e}");
    }
    // Split over lines, as sscanf reads it.
    let lines = descriptor(
        &env,
        "lines.vmdk",
        &format!("RW\n256\nFLAT\n\"{}\"\n0\n", sentinel.s()),
    );
    refused(&env, &lines, DriveOpts::default());
    assert_eq!(sha256(&evil), evil_hash);
    sentinel.untouched(&[]);
}

/// A KDMV header of capacity 0 wrapping a descriptor, written by a guest into
/// sector 0 of its own raw disk.
fn raw_guest_with_embedded_descriptor(env: &TestEnv, sentinel: &Sentinel) -> PathBuf {
    let img = env.sparse_image("guest.img", 4 << 20);
    let mut head = vec![0u8; 4096];
    head[0..4].copy_from_slice(b"KDMV");
    head[4..8].copy_from_slice(&1u32.to_le_bytes());
    head[20..28].copy_from_slice(&128u64.to_le_bytes());
    head[28..36].copy_from_slice(&1u64.to_le_bytes());
    // desc_size says one sector; qemu reads on to the end of the file.
    head[36..44].copy_from_slice(&1u64.to_le_bytes());
    let desc = format!(
        "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n{}RW 256 FLAT \"{}\" 0\n",
        " ".repeat(600),
        sentinel.s()
    );
    head[512..512 + desc.len()].copy_from_slice(desc.as_bytes());
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&head, 0).unwrap();
    img
}

#[test]
fn route2_a_raw_guest_posing_as_vmdk_cannot_reach_a_host_file() {
    if !privileged("hostile images") {
        return;
    }
    let env = TestEnv::new("hostile-kdmv");
    let sentinel = Sentinel::new(&env);
    let guest = raw_guest_with_embedded_descriptor(&env, &sentinel);
    let before = sha256(&guest);

    // Read-write, format detected: the case that would overwrite the host file.
    let o = run(
        &env,
        &[
            "-a",
            guest.to_str().unwrap(),
            "run",
            ":",
            "pwrite-device",
            "/dev/sda",
            "XXXX",
            "0",
        ],
        "",
    );
    let err = o.failed();
    assert!(err.contains(&*guest.to_string_lossy()), "{err}");
    assert!(err.contains(sentinel.s()), "{err}");
    let e = refused(&env, &guest, DriveOpts::default());
    assert!(e.contains("vmdk image (auto-detected format)"), "{e}");
    assert_eq!(sha256(&guest), before);
    sentinel.untouched(&[o.stdout.as_bytes(), o.stderr.as_bytes()]);

    // Said to be raw, it is the raw disk it is (its own size, not the vmdk's).
    let o = run(
        &env,
        &[
            "--ro",
            "--format=raw",
            "-a",
            guest.to_str().unwrap(),
            "run",
            ":",
            "blockdev-getsize64",
            "/dev/sda",
        ],
        "",
    );
    assert_eq!(o.ok().trim(), (4 << 20).to_string());
    assert_eq!(sha256(&guest), before);
    sentinel.untouched(&[o.stdout.as_bytes()]);
}

/// `qemu-img create -f qcow2 -b BACKING -F FMT`, written into sector 0 of a raw
/// disk (a guest can write any header into its own disk).
fn raw_guest_with_qcow2_header(env: &TestEnv, name: &str, backing: &str, fmt: &str) -> PathBuf {
    let header = env.path().join(format!("{name}.hdr"));
    cli_support::tool(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-u",
            "-b",
            backing,
            "-F",
            fmt,
            header.to_str().unwrap(),
            "4M",
        ],
    );
    let img = env.sparse_image(name, 4 << 20);
    let bytes = std::fs::read(&header).unwrap();
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&bytes, 0).unwrap();
    std::fs::remove_file(&header).unwrap();
    img
}

#[test]
fn route3_backing_names_never_reach_the_host() {
    if !privileged("hostile images") {
        return;
    }
    let env = TestEnv::new("hostile-backing");
    let sentinel = Sentinel::new(&env);
    let s = sentinel.s();
    let json = format!(
        "json:{{\"driver\":\"raw\",\"file\":{{\"driver\":\"file\",\"filename\":\"{s}\"}}}}"
    );
    let plain = raw_guest_with_qcow2_header(&env, "plain.img", s, "raw");
    let jsoned = raw_guest_with_qcow2_header(&env, "json.img", &json, "raw");
    let nbd = raw_guest_with_qcow2_header(&env, "nbd.img", "nbd://127.0.0.1:10809/x", "raw");
    let hashes: Vec<String> = [&plain, &jsoned, &nbd].iter().map(|p| sha256(p)).collect();

    // Default: no backing file is followed, whatever it names.
    for img in [&plain, &jsoned, &nbd] {
        let e = refused(&env, img, DriveOpts::default());
        assert!(e.contains("backing files are not allowed"), "{e}");
    }
    // Allowed, but the format was detected (a raw disk can hold any header).
    let allow = DriveOpts {
        allow_backing_file: true,
        ..Default::default()
    };
    let e = refused(&env, &plain, allow.clone());
    assert!(e.contains("given explicitly"), "{e}");
    // Allowed with the format given: json: and protocol names are still refused.
    let allow_qcow2 = DriveOpts {
        format: Some(vmcraft_nbd::Format::Qcow2),
        ..allow.clone()
    };
    let e = refused(&env, &jsoned, allow_qcow2.clone());
    assert!(e.contains("json: option strings are never followed"), "{e}");
    let e = refused(&env, &nbd, allow_qcow2.clone());
    assert!(e.contains("protocol names"), "{e}");
    // The command line's add-drive options say the same.
    let o = run(
        &env,
        &[
            "add-drive",
            jsoned.to_str().unwrap(),
            "format:qcow2",
            "allowbacking:true",
            ":",
            "run",
        ],
        "",
    );
    assert!(o.failed().contains("json:"), "{}", o.stderr);
    sentinel.untouched(&[o.stdout.as_bytes(), o.stderr.as_bytes()]);
    for (img, h) in [&plain, &jsoned, &nbd].iter().zip(&hashes) {
        assert_eq!(&sha256(img), h);
    }
}

#[test]
fn route3_a_genuine_chain_is_followed_node_by_node_when_allowed() {
    if !privileged("backing chains") {
        return;
    }
    let env = TestEnv::new("chain");
    let base = env.sparse_image("base.raw", 4 << 20);
    std::fs::write(&base, [b"BASE".repeat(1 << 20)].concat()).unwrap();
    let base_hash = sha256(&base);
    let top = env.path().join("top.qcow2");
    cli_support::tool(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "base.raw",
            "-F",
            "raw",
            top.to_str().unwrap(),
        ],
    );
    let out = env.sparse_image("out.img", 4 << 20);
    let o = run(
        &env,
        &[
            "add-drive",
            top.to_str().unwrap(),
            "format:qcow2",
            "allowbacking:true",
            ":",
            "add-drive",
            out.to_str().unwrap(),
            "format:raw",
            ":",
            "run",
            ":",
            "copy-device-to-device",
            "/dev/sda",
            "/dev/sdb",
            ":",
            "mkfs",
            "ext4",
            "/dev/sda",
        ],
        "",
    );
    o.ok();
    let copied = std::fs::read(&out).unwrap();
    assert!(copied.starts_with(b"BASEBASE"), "data comes from the base");
    assert_eq!(sha256(&base), base_hash, "writes go to the overlay");
}

#[test]
fn split_vmdks_attach_with_the_extents_opt_in() {
    if !privileged("split vmdks") {
        return;
    }
    let env = TestEnv::new("splitvmdk");
    let img = env.path().join("split.vmdk");
    cli_support::tool(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "vmdk",
            "-o",
            "subformat=twoGbMaxExtentFlat",
            img.to_str().unwrap(),
            "8M",
        ],
    );
    let e = refused(&env, &img, DriveOpts::default());
    assert!(e.contains("split-f001.vmdk"), "{e}");
    let o = run(
        &env,
        &[
            "add-drive",
            img.to_str().unwrap(),
            "format:vmdk",
            "allowextents:true",
            ":",
            "run",
            ":",
            "blockdev-getsize64",
            "/dev/sda",
        ],
        "",
    );
    assert_eq!(o.ok().trim(), (8 << 20).to_string());
}

/// A launched session with one ext4 guest mounted at `/`, holding a small `/etc`.
fn mounted_guest(env: &TestEnv) -> VMCraft {
    let img = env.sparse_image("guest-fs.img", 64 << 20);
    let g = session(env);
    g.add_drive_opts(
        &img,
        DriveOpts {
            format: Some(vmcraft_nbd::Format::Raw),
            ..Default::default()
        },
    )
    .unwrap();
    g.launch().unwrap();
    g.mkfs("ext4", "/dev/sda", &vmcraft::MkfsOptions::default())
        .unwrap();
    g.mount("/dev/sda", "/").unwrap();
    g.mkdir_p("/etc/cron.d").unwrap();
    g.mkdir_p("/upload").unwrap();
    g.write("/etc/hostname", b"guest\n").unwrap();
    g
}

#[test]
fn route6_tar_in_never_passes_through_the_archives_own_symlinks() {
    if !privileged("tar_in on a guest") || !require_tool("tar") {
        return;
    }
    let env = TestEnv::new("hostile-tar");
    let sentinel = Sentinel::new(&env);
    // An archive holding `l -> /etc`, then `l/cron.d/x`; and `h -> SENTINEL`
    // (absolute, which would be the host's file if it were followed on the host).
    let stage = env.path().join("stage");
    std::fs::create_dir_all(stage.join("a")).unwrap();
    std::os::unix::fs::symlink("/etc", stage.join("a/l")).unwrap();
    std::os::unix::fs::symlink(&sentinel.path, stage.join("a/h")).unwrap();
    std::fs::create_dir_all(stage.join("b/l/cron.d")).unwrap();
    std::fs::write(stage.join("b/l/cron.d/x"), "* * * * * root evil\n").unwrap();
    std::fs::create_dir_all(stage.join("b/h")).unwrap();
    std::fs::write(stage.join("b/h/y"), "through the host link\n").unwrap();
    let first = env.path().join("first.tar");
    let second = env.path().join("second.tar");
    let tar = |out: &Path, dir: &str, members: &[&str]| {
        let dir = stage.join(dir);
        let mut args = vec!["-C", dir.to_str().unwrap(), "-cf", out.to_str().unwrap()];
        args.extend_from_slice(members);
        cli_support::tool("tar", &args);
    };
    tar(&first, "a", &["l", "h"]);
    // Only the files: no directory entry for `l` or `h` comes before them.
    tar(&second, "b", &["l/cron.d/x", "h/y"]);
    cli_support::tool(
        "tar",
        &[
            "-A",
            "-f",
            first.to_str().unwrap(),
            second.to_str().unwrap(),
        ],
    );

    let g = mounted_guest(&env);
    let e = g
        .tar_in(&first, "/upload", Default::default())
        .expect_err("an entry through the archive's own link must be refused");
    let text = e.to_string();
    assert!(text.contains("tar_in"), "{text}");
    assert!(text.contains("l/cron.d"), "{text}");
    // The guest's /etc is untouched, the links are there as links, and nothing
    // reached the host.
    assert!(!g.exists("/etc/cron.d/x").unwrap());
    assert_eq!(g.readlink("/upload/l").unwrap(), "/etc");
    assert_eq!(g.cat("/etc/hostname").unwrap(), "guest\n");
    g.shutdown().unwrap();
    sentinel.untouched(&[]);
    assert!(!sentinel.path.parent().unwrap().join("y").exists());
}

#[test]
fn route8_an_augeas_crash_on_a_guest_file_is_an_error_not_a_dead_process() {
    if !privileged("augeas on a guest") {
        return;
    }
    let env = TestEnv::new("hostile-aug");
    let g = mounted_guest(&env);
    // Nested deep enough to overflow any parser stack.
    let depth = 400_000;
    let mut catalog = Vec::with_capacity(depth * 7);
    catalog.extend(b"<?xml version=\"1.0\"?>\n");
    for _ in 0..depth {
        catalog.extend(b"<a>");
    }
    for _ in 0..depth {
        catalog.extend(b"</a>");
    }
    g.mkdir_p("/etc/xml").unwrap();
    g.write("/etc/xml/catalog", &catalog).unwrap();
    let e = g
        .aug_init("/", 0)
        .and_then(|()| g.aug_load())
        .expect_err("the worker must crash on this file");
    let text = vmcraft_block::error_chain(&e);
    assert!(text.contains("died"), "{text}");
    // The session (this process) goes on.
    assert_eq!(g.cat("/etc/hostname").unwrap(), "guest\n");
    g.shutdown().unwrap();
}

#[test]
fn route9_fifos_and_device_nodes_in_the_guest_are_never_opened() {
    if !privileged("special files in a guest") {
        return;
    }
    let env = TestEnv::new("hostile-nodes");
    let g = mounted_guest(&env);
    let root = g.mountpoint_host_path("/").unwrap();
    nix::unistd::mkfifo(
        &root.join("etc/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // /dev/zero's numbers: reading it would never end.
    nix::sys::stat::mknod(
        &root.join("etc/zero"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        nix::sys::stat::makedev(1, 5),
    )
    .unwrap();
    for path in ["/etc/fifo", "/etc/zero"] {
        let e = g.cat(path).expect_err("not a regular file");
        assert!(e.to_string().contains(path), "{e}");
        let e = g.read_file(path).expect_err("not a regular file");
        assert!(e.to_string().contains(path), "{e}");
    }
    g.shutdown().unwrap();
}

#[test]
fn route8_unmounting_below_an_open_augeas_root_leaves_no_mount_in_the_worker() {
    if !privileged("augeas on a guest") {
        return;
    }
    let env = TestEnv::new("aug-umount");
    let g = mounted_guest(&env);
    let boot = env.sparse_image("boot.img", 32 << 20);
    g.add_drive_opts(
        &boot,
        DriveOpts {
            format: Some(vmcraft_nbd::Format::Raw),
            ..Default::default()
        },
    )
    .unwrap();
    g.mkfs("ext4", "/dev/sdb", &vmcraft::MkfsOptions::default())
        .unwrap();
    g.mkdir_p("/boot").unwrap();
    g.mount("/dev/sdb", "/boot").unwrap();
    g.aug_init("/", 0).unwrap();
    g.umount("/boot").unwrap();
    // The worker held a copy of /boot's mount; the handle was closed with it, so
    // the device is free (mkfs opens it exclusively).
    g.mkfs("ext4", "/dev/sdb", &vmcraft::MkfsOptions::default())
        .unwrap();
    assert!(g.aug_get("/files/etc/hostname").is_err());
    g.shutdown().unwrap();
}

#[test]
fn route2_the_opt_ins_never_apply_to_a_detected_format() {
    if !privileged("hostile images") {
        return;
    }
    let env = TestEnv::new("hostile-optin");
    let sentinel = Sentinel::new(&env);
    // A neighbour's disk beside the guest's raw image, and a guest that wrote a
    // VMDK descriptor naming it into its own first sector.
    let neighbour = env.path().join("other-vm.img");
    std::fs::write(&neighbour, MARK.repeat(512)).unwrap();
    let guest = env.sparse_image("guest.img", 4 << 20);
    let desc = b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 64 FLAT \"other-vm.img\" 0\n";
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&guest)
            .unwrap();
        f.write_all_at(desc, 0).unwrap();
    }
    let e = refused(
        &env,
        &guest,
        DriveOpts {
            allow_vmdk_extents: true,
            ..Default::default()
        },
    );
    assert!(e.contains("given explicitly"), "{e}");
    // A qcow2 header flagging an external data file that is a host file.
    let dq = raw_guest_with_qcow2_header(&env, "dq.img", "x", "raw");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dq)
            .unwrap();
        let mut head = vec![0u8; 4096];
        f.read_exact_at(&mut head, 0).unwrap();
        // No backing file; the data-file incompatible bit and its extension.
        head[8..20].fill(0);
        head[72..80].copy_from_slice(&(1u64 << 2).to_be_bytes());
        let name = sentinel.s().as_bytes();
        let mut ext = Vec::new();
        ext.extend(0x4441_5441u32.to_be_bytes());
        ext.extend((name.len() as u32).to_be_bytes());
        ext.extend(name);
        ext.resize(ext.len().div_ceil(8) * 8 + 8, 0);
        head[112..112 + ext.len()].copy_from_slice(&ext);
        f.write_all_at(&head, 0).unwrap();
    }
    let e = refused(
        &env,
        &dq,
        DriveOpts {
            allow_backing_file: true,
            ..Default::default()
        },
    );
    assert!(e.contains("given explicitly"), "{e}");
    assert!(e.contains(sentinel.s()), "{e}");
    sentinel.untouched(&[]);
}
