//! Tier 1 (plus one tier-2 lock test): the kernel NBD backend against a simulated
//! kernel. The fake runner answers `qemu-nbd --disconnect` and modprobe from a
//! script and records exact argument lists; a wrapper applies what the real
//! kernel would do to a fake sysfs tree (a disconnect takes the device's pid and
//! size away, and the server, whose NBD_DO_IT returns, exits). The qemu-nbd
//! servers are real supervised processes: small shell stand-ins that do to the
//! fake sysfs what qemu-nbd's client thread does to the kernel (a pid, a size),
//! hold the image open, and run until stopped, so their pids, open files
//! (`/proc`), exit statuses and stderr are real. The retry schedule runs on a
//! recording clock, so nothing sleeps.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vmcraft_block::testing::{FakeRunner, Response, require_tool};
use vmcraft_block::{Command, CommandRunner, Output, RecordingClock, RetryPolicy, Supervised};
use vmcraft_nbd::nbd::{claim_device, ensure_module, is_transient};
use vmcraft_nbd::{
    AioMode, AttachOptions, CacheMode, DeviceLock, DiscardMode, ErrorKind, Format, NbdConnection,
    NbdHost,
};

/// The pinned graph qemu-nbd is given for the simulation's image.
fn json(sim: &Sim) -> String {
    format!(
        r#"json:{{"backing":null,"driver":"qcow2","file":{{"driver":"file","filename":"{}"}}}}"#,
        sim.image.display()
    )
}

/// The qcow2 `qemu-img create -f qcow2 x 64M` makes: header cluster, refcount
/// table, one refcount block, L1 table.
fn fresh_qcow2() -> Vec<u8> {
    let mut img = vec![0u8; 3 * 65536 + 8];
    img[0..4].copy_from_slice(b"QFI\xfb");
    img[4..8].copy_from_slice(&3u32.to_be_bytes());
    img[20..24].copy_from_slice(&16u32.to_be_bytes());
    img[24..32].copy_from_slice(&(64u64 << 20).to_be_bytes());
    img[36..40].copy_from_slice(&1u32.to_be_bytes());
    img[40..48].copy_from_slice(&0x30000u64.to_be_bytes());
    img[48..56].copy_from_slice(&0x10000u64.to_be_bytes());
    img[56..60].copy_from_slice(&1u32.to_be_bytes());
    img[96..100].copy_from_slice(&4u32.to_be_bytes());
    img[100..104].copy_from_slice(&112u32.to_be_bytes());
    img[0x10000..0x10008].copy_from_slice(&0x20000u64.to_be_bytes());
    for c in 0..4 {
        img[0x20000 + 2 * c..0x20000 + 2 * c + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    img
}

/// A fake sysfs with `n` idle nbd devices, and the runner that keeps it updated.
struct Sim {
    _dir: tempfile::TempDir,
    /// A real qcow2 image (it is judged before qemu-nbd runs), which the
    /// simulated qemu-nbd servers hold open.
    image: PathBuf,
    host: NbdHost,
    fake: Arc<FakeRunner>,
    runner: Arc<dyn CommandRunner>,
    kernel: Arc<Kernel>,
}

struct Kernel {
    fake: Arc<FakeRunner>,
    sys_block: PathBuf,
    /// The kernel ignores disconnects.
    stuck: AtomicBool,
}

impl Kernel {
    /// Device `n`'s state: its server's pid (connected) and whether it has a size.
    fn set(&self, n: u32, pid: Option<u32>, sized: bool) {
        let dir = self.sys_block.join(format!("nbd{n}"));
        match pid {
            Some(pid) => std::fs::write(dir.join("pid"), format!("{pid}\n")).unwrap(),
            None => {
                let _ = std::fs::remove_file(dir.join("pid"));
            }
        }
        std::fs::write(dir.join("size"), if sized { "131072\n" } else { "0\n" }).unwrap();
    }

    fn pid(&self, n: u32) -> Option<i32> {
        std::fs::read_to_string(self.sys_block.join(format!("nbd{n}/pid")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

impl CommandRunner for Kernel {
    fn execute(&self, cmd: &Command) -> vmcraft_block::Result<Output> {
        let out = self.fake.execute(cmd);
        let ok = matches!(&out, Ok(o) if o.status.success());
        let argv = cmd.argv();
        let index = |dev: &str| -> u32 { dev.trim_start_matches("/dev/nbd").parse().unwrap() };
        match argv.get(1).map(String::as_str) {
            Some("--disconnect") if ok && !self.stuck.load(Ordering::SeqCst) => {
                let n = index(&argv[2]);
                // The server's NBD_DO_IT returns and qemu-nbd exits.
                if let Some(pid) = self.pid(n).filter(|&p| p > 1) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
                self.set(n, None, false);
            }
            Some("nbd") if argv[0] == "modprobe" && ok => {
                for n in 0..2 {
                    std::fs::create_dir_all(self.sys_block.join(format!("nbd{n}"))).unwrap();
                    self.set(n, None, false);
                }
            }
            _ => {}
        }
        out
    }

    fn spawn(&self, cmd: &Command) -> vmcraft_block::Result<Supervised> {
        self.fake.spawn(cmd)
    }
}

/// What a simulated qemu-nbd server does.
#[derive(Default)]
struct Server {
    /// Give the device a size (the connection works).
    sized: bool,
    /// Then exit 1 with this on stderr (with no size: a connection half made,
    /// the device has a server pid and nothing else).
    fail: Option<&'static str>,
    /// Also hold this file open.
    open: Option<PathBuf>,
    /// Name this pid as the device's server instead of its own.
    pid: Option<u32>,
}

impl Server {
    fn ok() -> Self {
        Server {
            sized: true,
            ..Default::default()
        }
    }
}

/// The stand-in for a qemu-nbd server: it connects the simulated device named
/// by its `--connect=` argument, holds the image open and runs until stopped
/// (the shell stays the server; `sleep`, which opens locale files as it starts,
/// runs in a child). The size appears by a rename, as the kernel's would, all
/// at once: a size written in place would be seen while the shell still holds
/// the file open, which the open-files check rightly refuses.
const SERVER_SCRIPT: &str = r#"
for a; do case $a in --connect=/dev/*) dev=${a#--connect=/dev/};; esac; done
exec 3<"$SIM_IMAGE"
if [ -n "$SIM_OPEN" ]; then exec 4<"$SIM_OPEN"; fi
echo "${SIM_PID:-$$}" > "$SIM_SYS/$dev/pid"
if [ "$SIM_SIZED" = 1 ]; then
    echo 131072 > "$SIM_SYS/$dev/size.new" && mv -f "$SIM_SYS/$dev/size.new" "$SIM_SYS/$dev/size"
fi
if [ -n "$SIM_FAIL" ]; then echo "$SIM_FAIL" >&2; exit 1; fi
sleep infinity & wait
"#;

impl Sim {
    fn new(devices: u32) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let host = NbdHost {
            sys_block: root.join("sys/block"),
            dev_dir: PathBuf::from("/dev"),
            lock_dir: root.join("locks"),
            modules_dir: root.join("modules"),
            proc_dir: PathBuf::from("/proc"),
        };
        let image = root.join("disk.qcow2");
        std::fs::write(&image, fresh_qcow2()).unwrap();
        std::fs::create_dir_all(&host.sys_block).unwrap();
        let fake = Arc::new(FakeRunner::new());
        let kernel = Arc::new(Kernel {
            fake: fake.clone(),
            sys_block: host.sys_block.clone(),
            stuck: AtomicBool::new(false),
        });
        for n in 0..devices {
            std::fs::create_dir_all(host.sys_block.join(format!("nbd{n}"))).unwrap();
            kernel.set(n, None, false);
        }
        let runner: Arc<dyn CommandRunner> = kernel.clone();
        Sim {
            _dir: dir,
            image,
            host,
            fake,
            runner,
            kernel,
        }
    }

    /// A simulated qemu-nbd server behaving as `server` says.
    fn server(&self, server: Server) -> Response {
        let cmd = Command::new("sh")
            .args(["-c", SERVER_SCRIPT, "qemu-nbd"])
            .env("SIM_IMAGE", &self.image)
            .env("SIM_SYS", &self.host.sys_block)
            .env("SIM_SIZED", if server.sized { "1" } else { "0" })
            .env("SIM_FAIL", server.fail.unwrap_or(""))
            .env("SIM_OPEN", server.open.as_deref().unwrap_or(Path::new("")))
            .env(
                "SIM_PID",
                server.pid.map(|p| p.to_string()).unwrap_or_default(),
            );
        Response::process(cmd)
    }

    fn connect(
        &self,
        clock: &RecordingClock,
        opts: &AttachOptions,
    ) -> vmcraft_nbd::Result<NbdConnection> {
        NbdConnection::connect(
            &self.runner,
            clock,
            &self.host,
            &self.image,
            Format::Qcow2,
            opts,
        )
    }
}

/// Whether process `pid` is gone (reaped, not a zombie).
fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

fn quick() -> AttachOptions {
    AttachOptions::default().ready_timeout(Duration::from_millis(50))
}

fn connect_line(sim: &Sim, n: u32) -> Vec<String> {
    vec![
        "qemu-nbd".into(),
        format!("--connect=/dev/nbd{n}"),
        "--verbose".into(),
        "--format=qcow2".into(),
        json(sim),
    ]
}

fn expect_connect(sim: &Sim, n: u32, response: Response) {
    let line = connect_line(sim, n);
    let refs: Vec<&str> = line.iter().map(String::as_str).collect();
    sim.fake.expect(&refs, response);
}

fn expect_disconnect(sim: &Sim, n: u32, response: Response) {
    let dev = format!("/dev/nbd{n}");
    sim.fake
        .expect(&["qemu-nbd", "--disconnect", &dev], response);
}

#[test]
fn connects_the_first_free_device_and_disconnects_it_verified() {
    let sim = Sim::new(3);
    sim.kernel.set(0, Some(4242), true); // someone else's
    expect_connect(&sim, 1, sim.server(Server::ok()));
    expect_disconnect(&sim, 1, Response::ok(""));
    let clock = RecordingClock::default();
    let conn = sim.connect(&clock, &quick()).unwrap();
    assert_eq!(conn.device(), Path::new("/dev/nbd1"));
    assert_eq!(conn.index(), 1);
    assert!(conn.is_connected());
    assert!(sim.host.is_connected(1));
    // The server is the supervised process the kernel names.
    let server = conn.server_pid();
    assert_eq!(sim.kernel.pid(1), Some(server as i32));
    assert!(!gone(server));
    conn.disconnect().unwrap();
    assert!(!sim.host.is_connected(1));
    assert!(gone(server), "the server exited and was reaped");
    assert!(sim.host.is_connected(0), "the other device is untouched");
    sim.fake.verify();
    assert!(clock.sleeps().is_empty());
    // The disconnect carries the ready timeout; the connect's server is
    // supervised, with no timeout of its own (readiness has its deadline).
    for c in sim.fake.calls() {
        let want = c.get_args()[0]
            .to_str()
            .unwrap()
            .starts_with("--disconnect")
            .then_some(Duration::from_millis(50));
        assert_eq!(c.get_timeout(), want, "{c}");
    }
}

#[test]
fn read_only_cache_aio_and_discard_reach_qemu_nbd() {
    let sim = Sim::new(1);
    let opts = quick()
        .readonly(true)
        .cache(CacheMode::None)
        .aio(AioMode::Native)
        .discard(DiscardMode::Unmap)
        .allow_backing_file(true);
    sim.fake.expect(
        &[
            "qemu-nbd",
            "--connect=/dev/nbd0",
            "--verbose",
            "--format=qcow2",
            "--read-only",
            "--cache=none",
            "--aio=native",
            "--discard=unmap",
            // The judged chain, pinned: this image has no backing file.
            &json(&sim),
        ],
        sim.server(Server::ok()),
    );
    expect_disconnect(&sim, 0, Response::ok(""));
    let conn = sim.connect(&RecordingClock::default(), &opts).unwrap();
    let server = conn.server_pid();
    drop(conn); // drop disconnects too
    assert!(gone(server));
    sim.fake.verify();
    assert!(!sim.host.is_connected(0));
}

#[test]
fn a_device_locked_by_someone_else_is_skipped() {
    let sim = Sim::new(2);
    let held = DeviceLock::try_lock(&sim.host, 0).unwrap().unwrap();
    assert!(
        DeviceLock::try_lock(&sim.host, 0).unwrap().is_none(),
        "flock is exclusive"
    );
    expect_connect(&sim, 1, sim.server(Server::ok()));
    expect_disconnect(&sim, 1, Response::ok(""));
    let conn = sim.connect(&RecordingClock::default(), &quick()).unwrap();
    assert_eq!(conn.index(), 1);
    // While connected, the device's lock is held: nobody else can claim it.
    assert!(DeviceLock::try_lock(&sim.host, 1).unwrap().is_none());
    conn.disconnect().unwrap();
    assert!(
        DeviceLock::try_lock(&sim.host, 1).unwrap().is_some(),
        "released"
    );
    drop(held);
    sim.fake.verify();
}

#[test]
fn a_lock_held_by_another_process_is_respected() {
    if !require_tool("flock") {
        return;
    }
    let sim = Sim::new(2);
    std::fs::create_dir_all(&sim.host.lock_dir).unwrap();
    let lock0 = sim.host.lock_dir.join("vmcraft-nbd0.lock");
    let ready = sim.host.lock_dir.join("ready");
    // `flock FILE sh -c ...` holds the lock while its child waits on stdin.
    let mut child = std::process::Command::new("flock")
        .arg(&lock0)
        .args(["sh", "-c", &format!("touch {} && read x", ready.display())])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    vmcraft_block::wait_for_path(&ready, Duration::from_secs(30)).unwrap();
    assert_eq!(claim_device(&sim.host).unwrap().index(), 1);
    drop(child.stdin.take()); // EOF: the holder exits and releases the lock
    child.wait().unwrap();
    assert_eq!(claim_device(&sim.host).unwrap().index(), 0);
}

#[test]
fn threads_never_share_a_device() {
    let sim = Sim::new(4);
    sim.fake
        .stub(&["qemu-nbd", "--disconnect"], Response::ok(""))
        .stub(&["qemu-nbd"], sim.server(Server::ok()));
    let conns: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| sim.connect(&RecordingClock::default(), &quick()).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut got: Vec<u32> = conns.iter().map(|c| c.index()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3]);
    // A fifth finds nothing free.
    let e = sim
        .connect(
            &RecordingClock::default(),
            &quick().retry(RetryPolicy::no_retry()),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(
        e.to_string()
            .contains("no free nbd device (all 4 are connected or locked)"),
        "{e}"
    );
    for c in conns {
        c.disconnect().unwrap();
    }
    assert!((0..4).all(|n| !sim.host.is_connected(n)));
}

#[test]
fn transient_failures_are_retried_on_the_backoff_schedule() {
    let sim = Sim::new(1);
    let busy = "qemu-nbd: Failed to open /dev/nbd0: Device or resource busy";
    expect_connect(&sim, 0, Response::fail(1, busy));
    expect_connect(&sim, 0, Response::fail(1, busy));
    expect_connect(&sim, 0, sim.server(Server::ok()));
    expect_disconnect(&sim, 0, Response::ok(""));
    let clock = RecordingClock::default();
    let conn = sim.connect(&clock, &quick()).unwrap();
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(2), Duration::from_secs(4)]
    );
    conn.disconnect().unwrap();
    sim.fake.verify();
}

#[test]
fn retries_stop_after_the_last_attempt() {
    let sim = Sim::new(1);
    for _ in 0..5 {
        expect_connect(
            &sim,
            0,
            Response::fail(1, "qemu-nbd: Failed to get \"write\" lock"),
        );
    }
    let clock = RecordingClock::default();
    let e = sim.connect(&clock, &quick()).unwrap_err();
    assert_eq!(
        clock.sleeps(),
        [2, 4, 8, 10].map(Duration::from_secs),
        "2 s, 4 s, 8 s, capped at 10 s"
    );
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(is_transient(&e));
    assert_eq!(
        e.to_string(),
        format!(
            "nbd_connect: {}: qemu-nbd could not connect /dev/nbd0",
            sim.image.display()
        )
    );
    assert!(vmcraft_block::error_chain(&e).contains("write\" lock"));
    sim.fake.verify();
}

#[test]
fn a_configurable_schedule() {
    let sim = Sim::new(1);
    for _ in 0..3 {
        expect_connect(&sim, 0, Response::fail(1, "Connection timed out"));
    }
    let clock = RecordingClock::default();
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(100),
        multiplier: 3,
        max_delay: Duration::from_millis(250),
        jitter: 0.0,
    };
    sim.connect(&clock, &quick().retry(policy)).unwrap_err();
    assert_eq!(
        clock.sleeps(),
        [Duration::from_millis(100), Duration::from_millis(250)]
    );
    sim.fake.verify();
}

#[test]
fn a_missing_image_or_bad_format_is_not_retried() {
    for stderr in [
        "qemu-nbd: Failed to blk_new_open 'json:{...}': Could not open '/img/disk.qcow2': No such file or directory",
        "qemu-nbd: Failed to blk_new_open 'json:{...}': Image is not in qcow2 format",
    ] {
        let sim = Sim::new(1);
        expect_connect(&sim, 0, Response::fail(1, stderr));
        let clock = RecordingClock::default();
        let e = sim.connect(&clock, &quick()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DaemonFailed);
        assert!(!is_transient(&e));
        assert!(clock.sleeps().is_empty());
        assert_eq!(sim.fake.calls().len(), 1, "no disconnect: nothing was made");
        sim.fake.verify();
    }
}

#[test]
fn a_missing_qemu_nbd_is_reported_not_retried() {
    let sim = Sim::new(1);
    sim.fake.expect_prefix(
        &["qemu-nbd"],
        Response::error(vmcraft_block::ErrorKind::ToolMissing, "qemu-nbd not found"),
    );
    let e = sim
        .connect(&RecordingClock::default(), &quick())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ToolMissing);
    sim.fake.verify();
}

#[test]
fn a_half_made_connection_is_disconnected_before_the_retry() {
    let sim = Sim::new(1);
    expect_connect(
        &sim,
        0,
        sim.server(Server {
            sized: false,
            fail: Some("qemu-nbd: Connection reset by peer"),
            ..Default::default()
        }),
    );
    expect_disconnect(&sim, 0, Response::ok(""));
    expect_connect(&sim, 0, sim.server(Server::ok()));
    expect_disconnect(&sim, 0, Response::ok(""));
    let clock = RecordingClock::default();
    let conn = sim.connect(&clock, &quick()).unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
    conn.disconnect().unwrap();
    sim.fake.verify();
    assert!(!sim.host.is_connected(0));
}

#[test]
fn a_half_made_connection_is_disconnected_on_a_final_failure_too() {
    let sim = Sim::new(1);
    expect_connect(
        &sim,
        0,
        sim.server(Server {
            sized: false,
            fail: Some("qemu-nbd: Invalid argument"),
            ..Default::default()
        }),
    );
    expect_disconnect(&sim, 0, Response::ok(""));
    let e = sim
        .connect(&RecordingClock::default(), &quick())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DaemonFailed);
    assert_eq!(
        e.to_string(),
        format!(
            "nbd_connect: {}: qemu-nbd could not connect /dev/nbd0",
            sim.image.display()
        )
    );
    let chain = vmcraft_block::error_chain(&e);
    assert!(
        chain.ends_with("failed with exit status 1: qemu-nbd: Invalid argument"),
        "{chain}"
    );
    sim.fake.verify();
    assert!(!sim.host.is_connected(0));
    assert!(
        DeviceLock::try_lock(&sim.host, 0).unwrap().is_some(),
        "lock released"
    );
}

#[test]
fn a_timed_out_connect_is_stopped_disconnected_and_not_retried() {
    // The server runs and names itself the device's server, but the device
    // never gets a size: the connect may still be coming up. Its server is
    // stopped first, then the device disconnected; no second attempt races it.
    let sim = Sim::new(1);
    expect_connect(
        &sim,
        0,
        sim.server(Server {
            sized: false,
            ..Default::default()
        }),
    );
    expect_disconnect(&sim, 0, Response::ok(""));
    let clock = RecordingClock::default();
    let e = sim.connect(&clock, &quick()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(!is_transient(&e));
    let msg = e.to_string();
    assert!(
        msg.contains("/dev/nbd0 never got a size after qemu-nbd (pid "),
        "{msg}"
    );
    let pid: u32 = msg
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(gone(pid), "the server was stopped and reaped");
    assert!(clock.sleeps().is_empty(), "not retried");
    sim.fake.verify();
    assert!(!sim.host.is_connected(0));
}

#[test]
fn a_failed_cleanup_is_reported_with_the_failure() {
    let sim = Sim::new(1);
    expect_connect(
        &sim,
        0,
        sim.server(Server {
            sized: false,
            fail: Some("qemu-nbd: Invalid argument"),
            ..Default::default()
        }),
    );
    expect_disconnect(&sim, 0, Response::fail(1, "qemu-nbd: Cannot disconnect"));
    let e = sim
        .connect(&RecordingClock::default(), &quick())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("and /dev/nbd0 could not be disconnected: nbd_disconnect"),
        "{e}"
    );
    sim.fake.verify();
}

#[test]
fn a_device_someone_else_connected_meanwhile_is_left_alone() {
    // Between our claim and our server's connect, a program that does not use
    // our locks connected nbd0 (the kernel names its server, not ours). Ours is
    // stopped, nbd0 is not disconnected, and the retry takes nbd1.
    let sim = Sim::new(2);
    expect_connect(
        &sim,
        0,
        sim.server(Server {
            sized: true,
            pid: Some(1),
            ..Default::default()
        }),
    );
    expect_connect(&sim, 1, sim.server(Server::ok()));
    expect_disconnect(&sim, 1, Response::ok(""));
    let clock = RecordingClock::default();
    let conn = sim.connect(&clock, &quick()).unwrap();
    assert_eq!(conn.index(), 1);
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
    assert!(sim.host.is_connected(0), "the other program's device stays");
    conn.disconnect().unwrap();
    sim.fake.verify();
}

#[test]
fn a_disconnect_the_kernel_ignores_is_an_error() {
    let sim = Sim::new(1);
    expect_connect(&sim, 0, sim.server(Server::ok()));
    expect_disconnect(&sim, 0, Response::ok(""));
    let conn = sim.connect(&RecordingClock::default(), &quick()).unwrap();
    let server = conn.server_pid();
    sim.kernel.stuck.store(true, Ordering::SeqCst);
    let e = conn.disconnect().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert_eq!(
        e.to_string(),
        format!(
            "nbd_disconnect: {}: /dev/nbd0 is still connected after qemu-nbd --disconnect",
            sim.image.display()
        )
    );
    assert!(gone(server), "its server is stopped all the same");
    sim.fake.verify();
}

#[test]
fn modprobe_when_the_module_is_installed() {
    let sim = Sim::new(0);
    assert!(!sim.host.is_available());
    let e = ensure_module(&sim.runner, &sim.host, Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(sim.fake.calls().is_empty(), "no modprobe without a module");

    std::fs::create_dir_all(&sim.host.modules_dir).unwrap();
    std::fs::write(
        sim.host.modules_dir.join("modules.dep"),
        "kernel/fs/fuse/fuse.ko:\nkernel/drivers/block/nbd.ko: \n",
    )
    .unwrap();
    assert!(sim.host.module_loadable());
    sim.fake
        .expect(&["modprobe", "nbd", "max_part=16"], Response::ok(""));
    ensure_module(&sim.runner, &sim.host, Duration::from_secs(5)).unwrap();
    assert!(sim.host.is_available());
    assert_eq!(sim.host.devices(), [0, 1]);
    // Present now: nothing more to run.
    ensure_module(&sim.runner, &sim.host, Duration::from_secs(5)).unwrap();
    sim.fake.verify();
    assert_eq!(sim.fake.calls().len(), 1);
}

#[test]
fn builtin_module_and_failed_modprobe() {
    let sim = Sim::new(0);
    std::fs::create_dir_all(&sim.host.modules_dir).unwrap();
    std::fs::write(
        sim.host.modules_dir.join("modules.builtin"),
        "kernel/drivers/block/nbd.ko\n",
    )
    .unwrap();
    assert!(sim.host.module_loadable());
    sim.fake.expect(
        &["modprobe", "nbd", "max_part=16"],
        Response::fail(1, "modprobe: FATAL: Module nbd not found"),
    );
    let e = ensure_module(&sim.runner, &sim.host, Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommandFailed);
    assert!(e.to_string().contains("loading the nbd module"), "{e}");
    sim.fake.verify();
}

#[test]
fn device_discovery_reads_sysfs() {
    let sim = Sim::new(0);
    for n in [10, 2, 0] {
        std::fs::create_dir_all(sim.host.sys_block.join(format!("nbd{n}"))).unwrap();
        sim.kernel.set(n, None, false);
    }
    std::fs::create_dir_all(sim.host.sys_block.join("loop0")).unwrap();
    assert_eq!(sim.host.devices(), [0, 2, 10]);
    sim.kernel.set(0, None, true); // a size without a pid: still taken
    assert!(sim.host.is_connected(0));
    assert_eq!(claim_device(&sim.host).unwrap().index(), 2);
}

#[test]
fn lock_directories_must_be_private_and_lock_files_are_not_followed() {
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::new(1);
    // Made 0700 when missing.
    let lock = DeviceLock::try_lock(&sim.host, 0).unwrap().unwrap();
    let mode = std::fs::metadata(&sim.host.lock_dir)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    drop(lock);

    // World-writable, as /run/lock is: refused, nothing created.
    std::fs::set_permissions(&sim.host.lock_dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let e = DeviceLock::try_lock(&sim.host, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(
        e.to_string()
            .contains("has mode 1777: group or others can write to it"),
        "{e}"
    );
    std::fs::set_permissions(&sim.host.lock_dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    // A symlink where a lock file goes is not followed (the target stays as it is).
    let victim = sim.host.lock_dir.parent().unwrap().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    let lock0 = sim.host.lock_dir.join("vmcraft-nbd0.lock");
    std::fs::remove_file(&lock0).unwrap();
    std::os::unix::fs::symlink(&victim, &lock0).unwrap();
    let e = DeviceLock::try_lock(&sim.host, 0).unwrap_err();
    assert!(e.to_string().contains("opening the lock file"), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");

    // A lock directory that is itself a symlink is refused.
    let real = sim.host.lock_dir.parent().unwrap().join("real");
    std::fs::create_dir(&real).unwrap();
    let host = NbdHost {
        lock_dir: sim.host.lock_dir.parent().unwrap().join("linked"),
        ..sim.host.clone()
    };
    std::os::unix::fs::symlink(&real, &host.lock_dir).unwrap();
    let e = DeviceLock::try_lock(&host, 0).unwrap_err();
    assert!(e.to_string().contains("is a symbolic link"), "{e}");
}

#[test]
fn a_server_with_an_unjudged_file_open_is_disconnected_and_refused() {
    let sim = Sim::new(1);
    // The server also has a host file open (a swapped extent, a data file the
    // header grew after the judgement).
    let secret = sim.image.parent().unwrap().join("secret");
    std::fs::write(&secret, b"host").unwrap();
    expect_connect(
        &sim,
        0,
        sim.server(Server {
            sized: true,
            open: Some(secret.clone()),
            ..Default::default()
        }),
    );
    expect_disconnect(&sim, 0, Response::ok(""));
    let e = sim
        .connect(&RecordingClock::default(), &quick())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BackingFileRefused);
    assert!(e.to_string().contains("qemu-nbd (pid "), "{e}");
    assert!(e.to_string().contains("secret"), "{e}");
    assert!(!sim.host.is_connected(0), "disconnected again");
    sim.fake.verify();
}
