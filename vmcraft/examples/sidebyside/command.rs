//! Workload 8, a guest program: `command /bin/true` in a running session, one
//! call end to end, sandbox included (issue 20's target: under 20 ms a call).
//! The guest is made here: an ext4 image (`mkfs.ext4 -d`) holding the host's
//! static busybox (Debian's busybox-static) as `/bin/busybox`, with `/bin/sh`
//! (what the architecture check reads) and `/bin/true` linked to it.
//!
//! Contenders, in the same rounds: VMCraft's library (one session launched and
//! the guest mounted outside the timing; each timed run is one
//! `command(["/bin/true"])`), its command line (a script of N `command
//! /bin/true` in one process, minus the same script without them, per call),
//! and the peer, bubblewrap itself running `/bin/true` on the session's mounted
//! tree with the namespaces VMCraft's sandbox asks for: what the sandbox costs
//! at minimum, so the ratio is VMCraft's overhead over the bare tool. Two more
//! rows of VMCraft split that overhead: its `Sandbox` run by itself on the same
//! tree (no session work), with the default limits and without the memory and
//! process limits (no transient cgroup). guestfish runs the same kind of script
//! as the command line (its `command` runs in its appliance), and is set against
//! the command line's row.

use std::cell::RefCell;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use vmcraft::calls::command::GUEST_PATH;
use vmcraft::sandbox::{Limits, Outcome, Sandbox};
use vmcraft::{DriveOpts, VMCraft};

use crate::harness::{self, Case, CaseResult, Group, GroupResult, Sample, fmt_duration};
use crate::{Ctx, guestfish, sys};

/// Issue 20's target for one `command` call, sandbox included.
const TARGET: Duration = Duration::from_millis(20);

/// The untimed pause before every timed run, so that each run is an isolated
/// call: joining a cgroup v1 hierarchy is cheaper right after another join (the
/// kernel's cgroup lock stays in its writer mode for a grace period), so
/// without it a row would profit from the row before it.
const PAUSE: Duration = Duration::from_millis(100);

/// Calls of the back-to-back row's timed run.
const BURST: usize = 10;

fn pause() -> Result<()> {
    std::thread::sleep(PAUSE);
    Ok(())
}

/// Where Debian's busybox-static puts its binary (`cargo xtask setup` installs it).
const BUSYBOX: &str = "/bin/busybox";

/// The guest's busybox links: `/bin/sh` for the architecture check, `/bin/true`
/// for the call.
const LINKS: &[&str] = &["sh", "true"];

/// The guest's tree in `dir/tree`: busybox and its links, and the empty
/// directories a root has (the sandbox mounts its own `/dev` and `/proc` there).
fn make_tree(dir: &Path) -> Result<PathBuf> {
    let root = dir.join("tree");
    sys::fresh_dir(&root)?;
    for d in ["bin", "dev", "proc", "sys", "tmp", "root", "etc"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    let bb = root.join("bin/busybox");
    std::fs::copy(BUSYBOX, &bb).with_context(|| {
        format!("copying {BUSYBOX} into the guest (install busybox-static: cargo xtask setup)")
    })?;
    // A dynamically linked busybox would need the host's libraries in the guest.
    let file = sys::run("file", &["-L", &bb.to_string_lossy()])?;
    if !file.contains("statically linked") && !file.contains("static-pie") {
        bail!(
            "{BUSYBOX} is not a static binary ({}); install busybox-static",
            file.trim()
        );
    }
    for l in LINKS {
        symlink("busybox", root.join("bin").join(l))?;
    }
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"bench guest\"\n",
    )?;
    Ok(root)
}

/// A whole-disk ext4 image of `tree`.
fn make_image(img: &Path, tree: &Path) -> Result<()> {
    sys::sparse_file(img, 32 << 20)?;
    sys::run(
        "mkfs.ext4",
        &[
            "-F",
            "-q",
            "-d",
            &tree.to_string_lossy(),
            &img.to_string_lossy(),
        ],
    )?;
    Ok(())
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let dir = ctx.path("command");
    sys::fresh_dir(&dir)?;
    let tree = make_tree(&dir).context("making the guest tree")?;
    let img = dir.join("guest.img");
    make_image(&img, &tree).context("making the guest image")?;
    // The command line gets a copy of its own: two sessions must never mount
    // the same ext4 read-write at once.
    let cli_img = dir.join("guest-cli.img");
    make_image(&cli_img, &tree).context("making the command line's guest image")?;
    let bwrap_version = sys::run("bwrap", &["--version"])
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "bubblewrap (version unknown)".into());

    let g = VMCraft::new();
    let result = (|| -> Result<GroupResult> {
        g.add_drive_opts(
            &img,
            DriveOpts {
                format: Some("raw".parse()?),
                ..Default::default()
            },
        )?;
        g.launch()?;
        g.mount("/dev/sda", "/")?;
        let root = g.mountpoint_host_path("/")?;
        let dev = g.host_path("/dev/sda")?;
        Ok(group(ctx, &g, &root, &dev, &cli_img, &dir, &bwrap_version))
    })();
    let down = g.shutdown();
    drop(g);
    let r = result?;
    down.context("shutting the session down")?;
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(vec![r])
}

/// One run of VMCraft's sandbox by itself on the session's tree, with the
/// default limits or without the memory and process limits (no cgroup).
fn sandbox_run(
    root: &Path,
    dev: &Path,
    limited: bool,
    out: &RefCell<Option<Outcome>>,
) -> Result<Sample> {
    let mut limits = Limits::default();
    if !limited {
        limits.memory_max = None;
        limits.pids_max = None;
    }
    let sb = Sandbox::new(root)
        .device("/dev/sda", dev)
        .env("PATH", GUEST_PATH)
        .limits(limits);
    let (s, o) = harness::in_process(|| Ok(sb.run("command", &["/bin/true"])?))?;
    *out.borrow_mut() = Some(o);
    Ok(s)
}

/// A sandbox run must have exited 0 and printed nothing.
fn check_outcome(out: &RefCell<Option<Outcome>>) -> Result<String> {
    let o = out.borrow_mut().take().context("no result")?;
    if !o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty() {
        bail!(
            "/bin/true in the sandbox: {:?}, stdout {:?}, stderr {:?}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok("exit status 0, no output".into())
}

/// The scripts of a command line (`name`: ours or guestfish): `n` calls of
/// `command /bin/true` after a check that the guest is mounted, and the same
/// without the calls.
fn cli_scripts(dir: &Path, name: &str, n: usize) -> Result<(PathBuf, PathBuf)> {
    let with = dir.join(format!("{name}-calls.fish"));
    let without = dir.join(format!("{name}-baseline.fish"));
    let head = "is-dir /bin\n";
    std::fs::write(&with, format!("{head}{}", "command /bin/true\n".repeat(n)))?;
    std::fs::write(&without, head)?;
    Ok((with, without))
}

fn group(
    ctx: &Ctx,
    g: &VMCraft,
    root: &Path,
    dev: &Path,
    cli_img: &Path,
    dir: &Path,
    bwrap_version: &str,
) -> GroupResult {
    let lib_out: RefCell<Option<String>> = RefCell::new(None);
    let peer_out = RefCell::new(String::new());
    let sandbox_out: RefCell<Option<Outcome>> = RefCell::new(None);
    let burst_out: RefCell<Option<Vec<String>>> = RefCell::new(None);
    let cli_out = RefCell::new((String::new(), String::new()));
    let gf_out = RefCell::new((String::new(), String::new()));
    let root_s = root.to_string_lossy().to_string();
    let dev_s = dev.to_string_lossy().to_string();
    // The namespaces and mounts of VMCraft's sandbox (see vmcraft::sandbox),
    // without its capability drop, seccomp filters, limits and cgroup.
    let peer_args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--bind",
        &root_s,
        "/",
        "--dev",
        "/dev",
        "--dev-bind",
        &dev_s,
        "/dev/sda",
        "--proc",
        "/proc",
        "--chdir",
        "/",
        "/bin/true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let peer_shown = peer_args
        .iter()
        .map(|a| {
            if *a == root_s {
                "TREE"
            } else if *a == dev_s {
                "/dev/loopN"
            } else {
                a.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");

    let mut cases = vec![
        Case::ours(
            "vmcraft command (library)",
            "g.command(&[\"/bin/true\"]) on a launched session with the guest mounted on / \
             (the sandbox: bwrap, seccomp, capabilities, limits, cgroup; the architecture check; \
             the caches forgotten after)",
            || {
                let (s, out) = harness::in_process(|| Ok(g.command(&["/bin/true"])?))?;
                *lib_out.borrow_mut() = Some(out);
                Ok(s)
            },
            || {
                let out = lib_out.borrow_mut().take().context("no result")?;
                if !out.is_empty() {
                    bail!("command /bin/true returned {out:?}, expected nothing");
                }
                Ok("exit status 0, no output".into())
            },
        )
        .setup(pause),
        Case::ours(
            "vmcraft command (library), 10 back to back",
            format!(
                "{BURST} x g.command(&[\"/bin/true\"]) one after the other, per call (the \
                 cgroup joins follow each other closely, as in a script)"
            ),
            || {
                let (s, outs) = harness::in_process(|| {
                    (0..BURST)
                        .map(|_| Ok(g.command(&["/bin/true"])?))
                        .collect::<Result<Vec<String>>>()
                })?;
                *burst_out.borrow_mut() = Some(outs);
                Ok(s)
            },
            || {
                let outs = burst_out.borrow_mut().take().context("no result")?;
                if outs.len() != BURST || outs.iter().any(|o| !o.is_empty()) {
                    bail!("{BURST} x command /bin/true returned {outs:?}, expected nothing each");
                }
                Ok(format!("{BURST} calls, each exit status 0 and no output"))
            },
        )
        .per(BURST as u64)
        .setup(pause),
        Case::ours(
            "vmcraft Sandbox::run (the sandbox alone)",
            "Sandbox::new(TREE).device(\"/dev/sda\", /dev/loopN).env(PATH).run(\"command\", \
             &[\"/bin/true\"]) with the default limits (no ELF check, no device listing, no \
             caches forgotten)",
            || sandbox_run(root, dev, true, &sandbox_out),
            || check_outcome(&sandbox_out),
        )
        .setup(pause),
        Case::ours(
            "vmcraft Sandbox::run, no memory or process limit",
            "the same with Limits { memory_max: None, pids_max: None, .. } (no transient cgroup)",
            || sandbox_run(root, dev, false, &sandbox_out),
            || check_outcome(&sandbox_out),
        )
        .setup(pause),
        Case::peer(
            "bwrap /bin/true (bare sandbox)",
            format!("bwrap {peer_shown} (TREE: the session's mounted guest tree)"),
            || {
                let (s, o) = harness::process(&harness::cmd("bwrap", &peer_args))?;
                *peer_out.borrow_mut() = o.stdout;
                Ok(s)
            },
            || {
                let o = peer_out.borrow();
                if !o.is_empty() {
                    bail!("bwrap /bin/true printed {o:?}, expected nothing");
                }
                Ok("exit status 0, no output".into())
            },
        )
        .setup(pause),
    ];

    let calls = if ctx.quick { 10 } else { 25 };
    let mut cli_note = None;
    if let Some(cli) = &ctx.cli {
        match cli_scripts(dir, "vmcraft", calls) {
            Ok((with, without)) => {
                let cli = cli.to_string_lossy().to_string();
                let img = cli_img.to_string_lossy().to_string();
                let args = |script: &Path| -> Vec<String> {
                    vec![
                        "-a".into(),
                        img.clone(),
                        "-m".into(),
                        "/dev/sda".into(),
                        "-f".into(),
                        script.to_string_lossy().to_string(),
                    ]
                };
                let (a_with, a_without) = (args(&with), args(&without));
                let cli_out = &cli_out;
                cases.push(
                    Case::ours(
                        CLI_LABEL,
                        format!(
                            "vmcraft -a IMG -m /dev/sda -f SCRIPT (SCRIPT: is-dir /bin, then \
                             {calls} x command /bin/true), minus the same without the calls, \
                             divided by {calls}"
                        ),
                        move || {
                            let (s1, o1) = harness::process(&harness::cmd(&cli, &a_with))?;
                            let (s0, o0) = harness::process(&harness::cmd(&cli, &a_without))?;
                            *cli_out.borrow_mut() = (o1.stdout, o0.stdout);
                            Ok(Sample {
                                wall: s1.wall.saturating_sub(s0.wall),
                                rss_kib: s1.rss_kib.max(s0.rss_kib),
                                rss_added: false,
                            })
                        },
                        move || check_scripts(&cli_out.borrow(), calls),
                    )
                    .per(calls as u64)
                    .setup(pause)
                    .at_most(if ctx.quick { 3 } else { 30 }, true),
                );
            }
            Err(e) => cli_note = Some(format!("The command line was not measured: {e:#}")),
        }
    } else {
        cli_note = Some("The command line was not measured: it was not built.".into());
    }
    let gf_missing = if cli_note.is_none() {
        guestfish_case(ctx, cli_img, dir, &gf_out)
            .map(|c| cases.push(c))
            .err()
            .map(|row| *row)
    } else {
        Some(guestfish::not_measured(
            "guestfish",
            GUESTFISH_SHOWN,
            "the command line's row it is set against was not measured",
        ))
    };

    let mut r = harness::run_group(Group {
        id: "command/true".into(),
        title: "Guest command, `command /bin/true`".into(),
        what: "run the guest's /bin/true (a static busybox in a 32 MiB ext4 guest) through \
               `command` in a launched session with the guest mounted, one call end to end, \
               sandbox included"
            .into(),
        unit: Some("call"),
        runs: ctx.runs(200, 10),
        cases,
    });
    if let Some(m) = r.reference().and_then(|c| r.median(c)) {
        r.notes.push(format!(
            "Target (issue 20): under {} per call, sandbox included. This run: {} through the \
             library: {}.",
            fmt_duration(TARGET),
            fmt_duration(m),
            if m < TARGET { "met" } else { "**not met**" }
        ));
    }
    r.notes.push(format!(
        "The peer is bubblewrap itself ({bwrap_version}) with the namespaces and mounts VMCraft's \
         sandbox asks for (its own mount, PID, network, IPC, UTS and cgroup namespaces; the guest \
         tree as /, a fresh /dev with the session's disk, a fresh /proc), so the ratio is what \
         VMCraft adds over the bare tool: the capability drop, two seccomp filters handed over \
         on pipes, the read-only /proc/sys binds, a transient cgroup for the memory and process \
         limits, the watch over time and output, the guest's /bin/sh ELF check through the \
         confined resolver, and forgetting the session's caches afterwards. Like VMCraft it runs \
         as root without a user namespace (`--unshare-all` would add one)."
    ));
    r.notes.push(format!(
        "Every timed run follows an untimed pause of {}, so that each single call is an \
         isolated one, as a program making one call now and then sees it. Where the memory and \
         process limits are held by cgroup v1 (this machine), the sandbox's first process joins \
         the transient groups by writing to their cgroup.procs, and the kernel takes its cgroup \
         lock for writing, which waits for an RCU grace period unless another join came just \
         before: up to some 15 ms on this machine for an isolated call (measured with strace -T \
         on the write), next to nothing back to back. The back-to-back row ({BURST} calls in a \
         row, per call) and the command line's script show the second case; the `Sandbox::run` \
         row without limits shows the sandbox without any join.",
        fmt_duration(PAUSE)
    ));
    r.notes.push(
        "The two `Sandbox::run` rows split VMCraft's overhead: the sandbox alone on the same \
         tree (what `command` adds on top of it is the guest's /bin/sh ELF check, listing the \
         session's devices and forgetting its caches), and the same without the memory and \
         process limits, so without the transient cgroup made, joined and removed around every \
         run."
            .into(),
    );
    r.notes.push(
        "The command line's row is per call inside one process (a script of calls, less the \
         same script without them, so launching, mounting and shutting down cancel out); \
         launching a process per call would measure the session, which the session rows do."
            .into(),
    );
    if let Some(n) = cli_note {
        r.notes.push(n);
    }
    r.notes.push(format!(
        "guestfish runs its `command` inside its appliance (the guest mounted read-only there, \
         the program run by the appliance's daemon in a chroot of it), so it is set against \
         VMCraft's command line, measured the same way: a script of {GUESTFISH_CALLS} calls \
         less the same script without them, per call (more calls than VMCraft's script, so that \
         they stand out of the spread of the appliance's start)."
    ));
    guestfish::finish(&mut r, gf_missing);
    r
}

/// How the guestfish row is run, for the report.
const GUESTFISH_SHOWN: &str = "guestfish --ro -a IMG -m /dev/sda -f SCRIPT (SCRIPT: is-dir /bin, \
                               then N x command /bin/true), minus the same without the calls, \
                               divided by N";

/// Calls of guestfish's script (full run; `--quick` runs no guestfish here).
const GUESTFISH_CALLS: usize = 100;

/// guestfish's row: its script of calls on the command line's image (read-only:
/// no two sessions write one image), less the same without the calls, per call,
/// set against VMCraft's command line. `Err` is its "not measured" row.
fn guestfish_case<'a>(
    ctx: &'a Ctx,
    img: &Path,
    dir: &Path,
    out: &'a RefCell<(String, String)>,
) -> Result<Case<'a>, Box<CaseResult>> {
    let missing =
        |why: String| Box::new(guestfish::not_measured("guestfish", GUESTFISH_SHOWN, &why));
    let gf = ctx.guestfish_for("command/true").map_err(missing)?;
    let calls = GUESTFISH_CALLS;
    let (with, without) =
        cli_scripts(dir, "guestfish", calls).map_err(|e| missing(format!("{e:#}")))?;
    let inside = |p: &Path| gf.path(p).map_err(|e| missing(format!("{e:#}")));
    let (img, with, without) = (inside(img)?, inside(&with)?, inside(&without)?);
    let run = |script: &str| gf.cmd(&["--ro", "-a", &img, "-m", "/dev/sda", "-f", script]);
    let (p1, p0) = (run(&with), run(&without));
    Ok(Case::peer(
        "guestfish",
        GUESTFISH_SHOWN.replace('N', &calls.to_string()),
        move || {
            let (s1, o1) = harness::process(&p1)?;
            let (s0, o0) = harness::process(&p0)?;
            *out.borrow_mut() = (o1.stdout, o0.stdout);
            Ok(Sample {
                wall: s1.wall.saturating_sub(s0.wall),
                rss_kib: s1.rss_kib.max(s0.rss_kib),
                rss_added: false,
            })
        },
        move || check_scripts(&out.borrow(), calls),
    )
    .per(calls as u64)
    .against(CLI_LABEL)
    .at_most(3, true))
}

/// The label of VMCraft's command line row.
const CLI_LABEL: &str = "vmcraft command (command line)";

/// What a script of `calls` calls and its baseline printed (guestfish's output,
/// which VMCraft's command line matches: `true` for `is-dir`, then an empty
/// line per call, a string result and its newline).
fn check_scripts((with, without): &(String, String), calls: usize) -> Result<String> {
    let want = format!("true\n{}", "\n".repeat(calls));
    if *with != want {
        bail!("the script with {calls} calls printed {with:?}, expected {want:?}");
    }
    if without != "true\n" {
        bail!("the script without calls printed {without:?}");
    }
    Ok(format!("{calls} calls, each exit status 0 and no output"))
}
