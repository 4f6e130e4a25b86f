//! The kernel test tier (`cargo xtask test-kernel`), or a host with the nbd
//! module: the kernel-NBD connect's retry policy for real. Every `/dev/nbdN` is
//! made busy: one connected by a foreign `qemu-nbd --connect` (a program that
//! knows nothing of VMCraft's locks), all the others claimed by another holder
//! of VMCraft's device locks. The connect fails as busy, waits by the policy
//! (the default: 2 s, then 4 s), and succeeds on the device the foreign
//! connection gave up, which the test disconnects from another thread once the
//! second failed attempt is seen. The clock the connect is given sleeps for real
//! and records every delay, so the attempts (delays + 1) and the backoff are
//! observed, not assumed. When nothing is released the attempts are used up and
//! the error names the busy devices, with the image unchanged.

mod common;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_no_leaks, create_image, privileged, run, sha256};
use vmcraft_block::testing::{TestEnv, leaks, require_kernel_feature, require_tool};
use vmcraft_block::{Clock, CommandRunner, RetryPolicy, SystemRunner};
use vmcraft_nbd::{AttachOptions, DeviceLock, ErrorKind, Format, NbdConnection, NbdHost};

/// A clock that sleeps for real and records each delay; when the `release_at`th
/// delay is asked for, it hands over to the releasing thread and waits for it
/// to be done before sleeping.
struct ReleasingClock {
    sleeps: Mutex<Vec<(Duration, Instant)>>,
    release_at: usize,
    release: Mutex<Option<(Sender<()>, Receiver<()>)>>,
}

impl Clock for ReleasingClock {
    fn sleep(&self, d: Duration) {
        let count = {
            let mut s = self.sleeps.lock().unwrap();
            s.push((d, Instant::now()));
            s.len()
        };
        if count == self.release_at
            && let Some((go, done)) = self.release.lock().unwrap().take()
        {
            go.send(()).unwrap();
            done.recv().unwrap();
        }
        std::thread::sleep(d);
    }
}

/// A private 0700 lock directory in the test directory: the connect under test
/// and the test's own claims share it, and nothing else uses it.
fn private_host(env: &TestEnv) -> NbdHost {
    use std::os::unix::fs::DirBuilderExt;
    let dir = env.path().join("locks");
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    NbdHost::system(Some(&dir))
}

/// Whether the kernel shows `/dev/nbdN` connected (a server pid or a size).
fn connected(n: u32) -> bool {
    NbdHost::system(None).is_connected(n)
}

/// A free NBD device, held in the default lock directory so that no other VMCraft
/// test running beside this one takes it: (its number, the lock).
fn foreign_device() -> (u32, DeviceLock) {
    let host = NbdHost::system(None);
    for n in host.devices() {
        if host.is_connected(n) {
            continue;
        }
        if let Some(lock) = DeviceLock::try_lock(&host, n).unwrap()
            && !host.is_connected(n)
        {
            return (n, lock);
        }
    }
    panic!("no free nbd device for the foreign connection");
}

fn nbd_ready() -> bool {
    if !privileged("kernel nbd") || !require_tool("qemu-nbd") {
        return false;
    }
    let host = NbdHost::system(None);
    require_kernel_feature(
        "the nbd module (/dev/nbd0)",
        host.is_available() || host.module_loadable(),
    )
}

/// The foreign connection, disconnected when the test ends however it ends.
struct Foreign(std::path::PathBuf, u32);

impl Drop for Foreign {
    fn drop(&mut self) {
        if connected(self.1) {
            common::run_status(&["qemu-nbd", "--disconnect", self.0.to_str().unwrap()]);
        }
    }
}

/// Wait until no process names the test's tag any more (the foreign qemu-nbd,
/// daemonized, exits by itself after its disconnect).
fn wait_for_no_leaks(env: &TestEnv) {
    let _ = vmcraft_block::wait_until(
        "the foreign qemu-nbd to exit",
        Duration::from_secs(30),
        || leaks(env.tag()).is_empty(),
    );
    assert_no_leaks(env);
}

/// Busy, busy, then the device another qemu-nbd released: connected on the third
/// attempt after waiting 2 s and 4 s, the policy's first two delays.
#[test]
fn a_connect_waits_out_a_busy_device_by_the_policy() {
    if !nbd_ready() {
        return;
    }
    let env = TestEnv::new("nbd-retry");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    let foreign_image = env.path().join("foreign.raw");
    std::fs::File::create(&foreign_image)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let host = private_host(&env);

    // The foreign connection, then VMCraft claims on every other device.
    let (n, _default_lock) = foreign_device();
    let dev = host.device_path(n);
    let _foreign = Foreign(dev.clone(), n);
    run(&[
        "qemu-nbd",
        "--connect",
        dev.to_str().unwrap(),
        "--format=raw",
        foreign_image.to_str().unwrap(),
    ]);
    vmcraft_block::wait_until("the foreign connection", Duration::from_secs(30), || {
        connected(n)
    })
    .unwrap();
    let claims: Vec<DeviceLock> = host
        .devices()
        .into_iter()
        .filter(|&d| d != n)
        .map(|d| DeviceLock::try_lock(&host, d).unwrap().unwrap())
        .collect();
    assert_eq!(claims.len() + 1, host.devices().len());

    // The releasing thread: disconnects the foreign connection when told.
    let (go_tx, go_rx) = channel::<()>();
    let (done_tx, done_rx) = channel::<()>();
    let released_dev = dev.clone();
    let releaser = std::thread::spawn(move || {
        if go_rx.recv().is_err() {
            return None;
        }
        let seen_busy = connected(n);
        run(&["qemu-nbd", "--disconnect", released_dev.to_str().unwrap()]);
        vmcraft_block::wait_until("the foreign disconnect", Duration::from_secs(30), || {
            !connected(n)
        })
        .unwrap();
        done_tx.send(()).unwrap();
        Some(seen_busy)
    });

    let clock = ReleasingClock {
        sleeps: Mutex::new(Vec::new()),
        release_at: 2,
        release: Mutex::new(Some((go_tx, done_rx))),
    };
    let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::new());
    let opts = AttachOptions::default().runtime_dir(env.path());
    assert_eq!(opts.retry, RetryPolicy::default());
    let started = Instant::now();
    let conn = NbdConnection::connect(&runner, &clock, &host, &image, Format::Qcow2, &opts);
    let elapsed = started.elapsed();
    // A connect that never slept never told the releaser: let it go.
    drop(clock.release.lock().unwrap().take());
    let seen_busy = releaser.join().unwrap();
    let conn = conn.unwrap_or_else(|e| panic!("{}", vmcraft_block::error_chain(&e)));

    assert_eq!(
        seen_busy,
        Some(true),
        "the device was released only after the attempts that found it busy"
    );
    let sleeps = clock.sleeps.lock().unwrap().clone();
    let delays: Vec<Duration> = sleeps.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        delays,
        [Duration::from_secs(2), Duration::from_secs(4)],
        "two failed attempts, waiting 2 s then 4 s"
    );
    assert_eq!(delays.len() + 1, 3, "connected on the third attempt");
    // Measured from the outside: the connect really waited out both delays
    // (a lower bound, never an upper one).
    assert!(elapsed >= Duration::from_secs(6), "{elapsed:?}");
    let gap = sleeps[1].1 - sleeps[0].1;
    assert!(
        gap >= Duration::from_secs(2),
        "attempt 2 came {gap:?} after 1"
    );
    assert_eq!(conn.device(), dev, "the connect took the released device");
    assert!(conn.is_connected());
    assert_eq!(vmcraft_block::blockdev_getsize64(&dev).unwrap(), 64 << 20);
    conn.disconnect().unwrap();
    assert!(!connected(n), "the disconnect left {}", dev.display());
    drop(claims);
    common::qemu_img_check(&image, Format::Qcow2);
    wait_for_no_leaks(&env);
}

/// Nothing released: three attempts, two delays by the policy, then the busy
/// error naming the devices; no device connected to the image, which is unchanged.
#[test]
fn a_connect_that_stays_busy_gives_up_after_the_policys_attempts() {
    if !nbd_ready() {
        return;
    }
    let env = TestEnv::new("nbd-retry-out");
    let image = create_image(&env, "disk.qcow2", Format::Qcow2, "64M", "");
    let before = sha256(&image);
    let host = private_host(&env);
    let claims: Vec<DeviceLock> = host
        .devices()
        .into_iter()
        .map(|d| DeviceLock::try_lock(&host, d).unwrap().unwrap())
        .collect();
    let count = claims.len();
    assert!(count > 0);
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(50),
        multiplier: 2,
        max_delay: Duration::from_secs(10),
        jitter: 0.0,
    };
    let clock = ReleasingClock {
        sleeps: Mutex::new(Vec::new()),
        release_at: 0,
        release: Mutex::new(None),
    };
    let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::new());
    let opts = AttachOptions::default()
        .runtime_dir(env.path())
        .retry(policy);
    let e =
        NbdConnection::connect(&runner, &clock, &host, &image, Format::Qcow2, &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "nbd_connect: /sys/block: no free nbd device (all {count} are connected or locked)"
        )
    );
    let delays: Vec<Duration> = clock
        .sleeps
        .lock()
        .unwrap()
        .iter()
        .map(|(d, _)| *d)
        .collect();
    assert_eq!(
        delays,
        [Duration::from_millis(50), Duration::from_millis(100)]
    );
    drop(claims);
    assert_eq!(sha256(&image), before);
    assert_no_leaks(&env);
}
