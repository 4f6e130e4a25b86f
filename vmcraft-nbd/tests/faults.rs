//! Tier 3: faults. The storage daemon killed mid-session; images that do not
//! exist, are directories, are truncated, have garbage in their tables, are locked,
//! refer to other files. Each gets a clear error, the image is left byte-identical
//! where it was refused, and nothing is left attached.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{assert_no_leaks, create_image, loops_under, opts, privileged, run, sha256};
use vmcraft_block::testing::{FakeRunner, TestEnv};
use vmcraft_block::{BlockDevice, CommandRunner, error_chain};
use vmcraft_nbd::{Backend, ErrorKind, Format, attach, attach_with};

/// Attach through a runner that runs nothing: any command is recorded and fails,
/// which proves that a refusal happened before any process was started.
fn attach_refused(image: &Path, env: &TestEnv, backend: Backend) -> vmcraft_nbd::Error {
    let fake = Arc::new(FakeRunner::new());
    let runner: Arc<dyn CommandRunner> = fake.clone();
    let e = attach_with(runner, image, opts(env).backend(backend)).unwrap_err();
    assert!(fake.calls().is_empty(), "ran {:?}", fake.call_lines());
    e
}

fn nothing_left(env: &TestEnv) {
    assert_no_leaks(env);
    assert!(loops_under(env.path()).is_empty());
    let dirs: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmcraft-qsd-"))
        .collect();
    assert!(dirs.is_empty(), "runtime directories left: {dirs:?}");
}

/// Wait until every thread of `pid` has exited (the process is gone, or a
/// zombie whose threads are all gone: a leader shows `Z` while its other
/// threads are still on their way out).
fn wait_dead(pid: u32) {
    vmcraft_block::wait_until(
        "the daemon to die",
        std::time::Duration::from_secs(30),
        || {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            });
            let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
            zombie && threads <= 1
        },
    )
    .unwrap();
}

fn kill_daemon(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(pid);
}

#[test]
fn daemon_killed_mid_session_then_detached() {
    if !privileged("daemon faults") {
        return;
    }
    let env = TestEnv::new("killed");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    let att = attach(&image, opts(&env)).unwrap();
    att.write_at(&[7; 4096], 1 << 20).unwrap();
    att.flush().unwrap();
    let pid = att.daemon_pid().unwrap();
    kill_daemon(pid);

    let e = att.check().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DaemonGone);
    assert!(
        e.to_string().contains(&format!(
            "qemu-storage-daemon (pid {pid}) serving this image has exited"
        )),
        "{e}"
    );
    // A read the page cache cannot answer reaches the dead export.
    let mut buf = vec![0u8; 65536];
    let e = att.read_at(&mut buf, 40 << 20).unwrap_err();
    assert!(
        error_chain(&e).contains("has exited"),
        "{}",
        error_chain(&e)
    );
    let e = att.detach().unwrap_err();
    assert!(error_chain(&e).contains("exited"), "{}", error_chain(&e));
    nothing_left(&env);
}

#[test]
fn daemon_killed_mid_session_then_dropped() {
    if !privileged("daemon faults") {
        return;
    }
    let env = TestEnv::new("killed-drop");
    let image = create_image(&env, "disk.vdi", Format::Vdi, "32M", "");
    let att = attach(&image, opts(&env)).unwrap();
    kill_daemon(att.daemon_pid().unwrap());
    drop(att);
    nothing_left(&env);
}

#[test]
fn missing_image() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("missing");
    let image = env.path().join("nope.qcow2");
    let e = attach_refused(&image, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("attach: {}: the image does not exist", image.display())
    );
    nothing_left(&env);
}

#[test]
fn directory_instead_of_image() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("dir");
    let dir = env.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    for backend in [Backend::Auto, Backend::Loop, Backend::StorageDaemon] {
        let e = attach_refused(&dir, &env, backend);
        assert_eq!(e.kind(), ErrorKind::WrongType);
        assert!(e.to_string().ends_with("not a disk image"), "{e}");
        assert!(
            error_chain(&e).contains("is a directory"),
            "{}",
            error_chain(&e)
        );
    }
    nothing_left(&env);
}

/// A qcow2 holding 8 MiB of data.
fn qcow2_with_data(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let image = create_image(env, name, Format::Qcow2, "64M", "");
    run(&[
        "qemu-io",
        "-f",
        "qcow2",
        "-c",
        "write -P 0xab 0 8M",
        image.to_str().unwrap(),
    ]);
    image
}

#[test]
fn truncated_qcow2() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("truncated");
    let image = qcow2_with_data(&env, "disk.qcow2");
    let len = std::fs::metadata(&image).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let before = sha256(&image);
    for backend in [Backend::Auto, Backend::StorageDaemon] {
        let e = attach_refused(&image, &env, backend);
        assert_eq!(e.kind(), ErrorKind::InvalidImage);
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("attach: {}: qcow2 ", image.display())),
            "{msg}"
        );
        assert!(msg.ends_with("the image is truncated"), "{msg}");
    }
    assert_eq!(sha256(&image), before);
    // Cut inside the metadata too.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .unwrap()
        .set_len(100_000)
        .unwrap();
    let before = sha256(&image);
    let e = attach_refused(&image, &env, Backend::Auto);
    assert!(e.to_string().contains("truncated"), "{e}");
    assert_eq!(sha256(&image), before);
    nothing_left(&env);
}

/// Overwrite `len` bytes at `offset` with pseudo-random bytes.
fn scribble(image: &Path, offset: u64, len: usize) {
    use std::os::unix::fs::FileExt;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let f = std::fs::OpenOptions::new().write(true).open(image).unwrap();
    f.write_all_at(&garbage, offset).unwrap();
}

#[test]
fn qcow2_header_with_garbage_tables() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("garbage");
    let image = qcow2_with_data(&env, "disk.qcow2");
    // The refcount table, the refcount block and the L1 table (64 KiB .. 256 KiB).
    scribble(&image, 64 << 10, 192 << 10);
    let before = sha256(&image);
    let e = attach_refused(&image, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::InvalidImage);
    assert!(e.to_string().contains(": qcow2 "), "{e}");
    assert_eq!(sha256(&image), before);
    nothing_left(&env);
}

#[test]
fn qcow2_with_garbage_l2_table_fails_at_the_first_read() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("garbage-l2");
    let image = qcow2_with_data(&env, "disk.qcow2");
    // The header check reads L1, not L2: qemu finds this one on the first read.
    let l1 = {
        let mut b = [0u8; 8];
        use std::os::unix::fs::FileExt;
        std::fs::File::open(&image)
            .unwrap()
            .read_exact_at(&mut b, 0x30000)
            .unwrap();
        u64::from_be_bytes(b) & 0x00ff_ffff_ffff_fe00
    };
    let garbage = 0x0000_0000_0001_2345u64.to_be_bytes().repeat(64);
    {
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap()
            .write_all_at(&garbage, l1)
            .unwrap();
    }
    let before = sha256(&image);
    let e = attach(&image, opts(&env).readonly(true)).unwrap_err();
    assert!(
        e.to_string()
            .contains("the first sector cannot be read through /dev/loop"),
        "{e}"
    );
    assert!(e.to_string().contains("is the qcow2 image damaged?"), "{e}");
    assert_eq!(sha256(&image), before);
    nothing_left(&env);
}

#[test]
fn an_image_in_use_is_busy() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("locked");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "16M", "");
    let first = attach(&image, opts(&env)).unwrap();
    let e = attach(&image, opts(&env)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(
        error_chain(&e).contains("Failed to get \"write\" lock"),
        "{}",
        error_chain(&e)
    );
    first.detach().unwrap();
    nothing_left(&env);
}

#[test]
fn backing_files_are_refused_unless_allowed() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("backing");
    let base = create_image(&env, "base.qcow2", Format::Qcow2, "32M", "");
    run(&[
        "qemu-io",
        "-f",
        "qcow2",
        "-c",
        "write -P 0x42 1M 64k",
        base.to_str().unwrap(),
    ]);
    let overlay = env.path().join("overlay.qcow2");
    run(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "base.qcow2",
        "-F",
        "qcow2",
        overlay.to_str().unwrap(),
    ]);
    let base_hash = sha256(&base);
    let overlay_hash = sha256(&overlay);
    let e = attach_refused(&overlay, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
    assert_eq!(
        e.to_string(),
        format!(
            "attach: {}: qcow2 image (auto-detected format) names backing file \"base.qcow2\"; \
             refused: backing files are not allowed (set allow_backing_file to follow them)",
            overlay.display()
        )
    );
    let e = attach(&overlay, opts(&env).format(Format::Qcow2)).unwrap_err();
    assert!(
        e.to_string().contains("(given format) names backing file"),
        "{e}"
    );
    assert_eq!(sha256(&overlay), overlay_hash);

    // A chain is followed only with every format explicit.
    let e = attach(&overlay, opts(&env).allow_backing_file(true)).unwrap_err();
    assert!(e.to_string().contains("given explicitly"), "{e}");
    let att = attach(
        &overlay,
        opts(&env).allow_backing_file(true).format(Format::Qcow2),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    att.read_at(&mut buf, 1 << 20).unwrap();
    assert_eq!(buf, [0x42; 4096], "data comes from the backing file");
    att.write_at(&[0x43; 4096], 1 << 20).unwrap();
    att.detach().unwrap();
    assert_eq!(sha256(&base), base_hash, "writes go to the overlay");
    nothing_left(&env);
}

#[test]
fn a_raw_guest_posing_as_qcow2_cannot_reach_host_files() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("hostile");
    // A qcow2 header naming a host file, written into a raw disk's first cluster.
    let evil = env.path().join("evil.qcow2");
    run(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "/etc/hostname",
        "-F",
        "raw",
        evil.to_str().unwrap(),
        "32M",
    ]);
    let raw = env.sparse_image("guest.img", 32 << 20);
    let header = std::fs::read(&evil).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&raw).unwrap();
        f.write_all_at(&header, 0).unwrap();
    }
    let before = sha256(&raw);
    let e = attach_refused(&raw, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
    assert!(e.to_string().contains("\"/etc/hostname\""), "{e}");
    // Said to be raw, it is attached as the raw disk it is.
    let att = attach(&raw, opts(&env).format(Format::Raw)).unwrap();
    assert_eq!(att.backend(), Backend::Loop);
    drop(att);
    assert_eq!(sha256(&raw), before);

    // A vmdk descriptor whose extent is a host file.
    let desc = env.path().join("evil.vmdk");
    std::fs::write(
        &desc,
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
         createType=\"monolithicFlat\"\nRW 16 FLAT \"/etc/hostname\" 0\n",
    )
    .unwrap();
    let e = attach_refused(&desc, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
    assert!(
        e.to_string().contains(
            "names extent file \"/etc/hostname\"; refused: vmdk extent files are not allowed"
        ),
        "{e}"
    );
    nothing_left(&env);
}

#[test]
fn a_qcow2_marked_corrupt_attaches_read_only_only() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("corrupt-flag");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "16M", "");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap();
        f.write_all_at(&2u64.to_be_bytes(), 72).unwrap();
    }
    let before = sha256(&image);
    let e = attach_refused(&image, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::InvalidImage);
    assert!(
        e.to_string()
            .contains("marked corrupt: attach it read-only"),
        "{e}"
    );
    let att = attach(&image, opts(&env).readonly(true)).unwrap();
    att.detach().unwrap();
    assert_eq!(sha256(&image), before);
    nothing_left(&env);
}

#[test]
fn an_empty_image_is_refused() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("empty");
    let image = env.sparse_image("empty.img", 0);
    let e = attach_refused(&image, &env, Backend::Auto);
    assert_eq!(e.kind(), ErrorKind::InvalidImage);
    assert!(
        e.to_string().ends_with("the image is empty (0 bytes)"),
        "{e}"
    );
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 0);
    nothing_left(&env);
}

#[test]
fn bad_options_are_refused_before_anything_runs() {
    if !privileged("attach faults") {
        return;
    }
    let env = TestEnv::new("badopts");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "16M", "");
    let before = sha256(&image);

    let fake = Arc::new(FakeRunner::new());
    let runner: Arc<dyn CommandRunner> = fake.clone();
    let e = attach_with(
        runner.clone(),
        &image,
        opts(&env).aio(vmcraft_nbd::AioMode::Native),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.to_string()
            .ends_with("aio=native needs cache=none (O_DIRECT)"),
        "{e}"
    );

    let e = attach_refused(&image, &env, Backend::Loop);
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.to_string()
            .contains("the loop backend attaches raw images only, and this one is qcow2"),
        "{e}"
    );

    let e = attach_with(runner, &image, opts(&env).format(Format::Vdi)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidImage);
    assert!(
        e.to_string()
            .ends_with("is not a vdi image (its header says qcow2)"),
        "{e}"
    );
    assert!(fake.calls().is_empty());
    assert_eq!(sha256(&image), before);
    nothing_left(&env);
}
