//! Workload: the in-process read path (issue 18) against the kernel path of the
//! same command line (`--kernel-mounts`), guestfish (where its root is cached)
//! and, for the fleet, the shell-script peer of the session workload.
//!
//! - `inprocess/cat raw`, `inprocess/cat qcow2`: `vmcraft --ro -a IMG -i cat
//!   /etc/hostname`, one process from start to exit, with its peak RSS
//!   (`wait4`).
//! - `inprocess/product-name qcow2`: `vmcraft --ro -a IMG -i
//!   inspect-get-product-name /dev/sda2`.
//! - `inprocess/fleet`: N small qcow2 guests (10 with `--quick`, 100 otherwise),
//!   each attached, inspected, its `/etc/os-release` read and detached; one
//!   process per guest, one at a time and several in parallel; figures are per
//!   guest (throughput is the inverse).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::harness::{self, Case, Group, GroupResult, Proc, ProcOutput, Sample};
use crate::{Ctx, guestfish, session};

/// The guests' `/etc/hostname`.
const HOSTNAME: &str = "bench";
/// What inspection reports as the product name of the guest (os-release's
/// PRETTY_NAME).
const PRODUCT: &str = "Debian GNU/Linux 12 (bookworm)";

/// Parallel processes of the fleet's parallel rows: two per core.
fn jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let cli = ctx
        .cli
        .clone()
        .context("the vmcraft command line was not built")?;
    let raw = ctx.path("inprocess.img");
    let qcow2 = ctx.path("inprocess.qcow2");
    session::make_guest(&raw, &qcow2).context("making the guest image")?;
    let mut out = Vec::new();
    for (format, img) in [("raw", &raw), ("qcow2", &qcow2)] {
        out.push(target_note(
            read_group(
                ctx,
                &cli,
                &format!("inprocess/cat {format}"),
                &format!("`-i cat /etc/hostname` on a {format} image"),
                (img, &linux_image(format)),
                &["cat", "/etc/hostname"],
                HOSTNAME,
            ),
            TARGETS,
        ));
    }
    out.push(target_note(
        read_group(
            ctx,
            &cli,
            "inprocess/product-name qcow2",
            "`-i inspect-get-product-name` on a qcow2 image",
            (&qcow2, &linux_image("qcow2")),
            &["inspect-get-product-name", "/dev/sda2"],
            PRODUCT,
        ),
        TARGETS,
    ));
    crate::sys::remove_file(&raw)?;
    out.push(fleet(ctx, &cli, &qcow2));
    crate::sys::remove_file(&qcow2)?;
    Ok(out)
}

/// What the Linux guest's read groups do, for the report.
fn linux_image(format: &str) -> String {
    format!("a 1 GiB {format} image (GPT: 64 MiB vfat ESP, ext4 root)")
}

/// One command line read: in-process, `--kernel-mounts`, guestfish. `image`
/// says what the image holds (for the report's description).
pub fn read_group(
    ctx: &Ctx,
    cli: &Path,
    id: &str,
    title: &str,
    (img, image): (&Path, &str),
    call: &[&str],
    want: &str,
) -> GroupResult {
    let img_s = img.to_string_lossy().into_owned();
    let call_s = call.join(" ");
    let printed = RefCell::new(String::new());
    let check = |who: &str| {
        let o = printed.borrow();
        if o.trim_end() != want {
            bail!("{who} printed {o:?}, expected {want:?}");
        }
        Ok(format!("printed {want:?}"))
    };
    let mut cases = Vec::new();
    let format = if img_s.ends_with(".qcow2") {
        "qcow2"
    } else {
        "raw"
    };
    for (label, extra) in [
        ("vmcraft, in-process", None),
        ("vmcraft --kernel-mounts", Some("--kernel-mounts")),
    ] {
        let mut p = harness::cmd(&cli.to_string_lossy(), extra);
        p.args(["--ro", "-a", &img_s, "-i"]).args(call);
        let printed = &printed;
        let check = &check;
        cases.push(Case::ours(
            label,
            format!(
                "vmcraft {}--ro -a IMG -i {call_s}",
                extra.map(|e| format!("{e} ")).unwrap_or_default()
            ),
            move || {
                let (s, o) = harness::process(&p)?;
                *printed.borrow_mut() = o.stdout;
                Ok(s)
            },
            move || check(label),
        ));
    }
    let gf_label = "guestfish -i";
    let gf_shown = format!("guestfish --ro --format={format} -a IMG -i {call_s}");
    let mut gf_missing = None;
    match ctx.guestfish_for(id) {
        Ok(gf) => match gf.path(img) {
            Ok(inside) => {
                let fmt_opt = format!("--format={format}");
                let mut args = vec!["--ro", fmt_opt.as_str(), "-a", inside.as_str(), "-i"];
                args.extend_from_slice(call);
                let p = gf.cmd(&args);
                let printed = &printed;
                let check = &check;
                cases.push(
                    Case::peer(
                        gf_label,
                        gf_shown.clone(),
                        move || {
                            let (s, o) = harness::process(&p)?;
                            *printed.borrow_mut() = o.stdout;
                            Ok(s)
                        },
                        move || check(gf_label),
                    )
                    .at_most(3, true),
                );
            }
            Err(e) => gf_missing = Some(format!("{e:#}")),
        },
        Err(why) => gf_missing = Some(why),
    }
    let mut r = harness::run_group(Group {
        id: id.to_string(),
        title: title.to_string(),
        what: format!(
            "one `vmcraft` process from start to exit: open {image} read-only, inspect it, mount \
             what it says, run `{call_s}`; in-process (vmcraft-fs reads the image, no loop \
             device, no qemu) and through the kernel (`--kernel-mounts`: loop device{}, kernel \
             and FUSE mounts)",
            if format == "qcow2" {
                " on a qemu-storage-daemon export"
            } else {
                ""
            }
        ),
        unit: None,
        runs: ctx.runs(20, 3),
        cases,
    });
    crate::guestfish::demote_failure(&mut r);
    if let Some(why) = gf_missing {
        r.cases
            .push(guestfish::not_measured(gf_label, &gf_shown, &why));
    }
    r
}

/// Issue 18's targets for the in-process command line.
const TARGETS: &str =
    "Issue 18's targets for the in-process command line: under 10 ms and under 32 MiB peak RSS.";

/// `target` and what was measured against it, stated under the group.
pub fn target_note(mut r: GroupResult, target: &str) -> GroupResult {
    let Some(c) = r.case("vmcraft, in-process") else {
        return r;
    };
    let m = r.median(c).unwrap_or_default();
    let rss = c.samples.iter().filter_map(|s| s.rss_kib).max();
    let mut note = format!(
        "{target} Measured: median {}{}.",
        harness::fmt_duration(m),
        rss.map(|k| format!(", peak RSS {}", crate::sys::fmt_bytes(k * 1024)))
            .unwrap_or_default()
    );
    if let Some(k) = r.case("vmcraft --kernel-mounts").and_then(|k| r.median(k)) {
        note.push_str(&format!(
            " The kernel path of the same command: {} ({:.1}x the in-process time).",
            harness::fmt_duration(k),
            k.as_secs_f64() / m.as_secs_f64().max(1e-9)
        ));
    }
    r.notes.push(note);
    r
}

/// One guest of the fleet scanned through the library, as `vmcraft --ro -a
/// GUEST -i cat /etc/os-release` does: inspect, mount what inspection says,
/// read, shut down; `kernel` turns the in-process reads off.
fn library_scan(guest: &Path, kernel: bool) -> Result<String> {
    let g = vmcraft::VMCraft::with_config(vmcraft::Config {
        inprocess_reads: !kernel,
        ..Default::default()
    });
    g.add_drive_opts(
        guest,
        vmcraft::DriveOpts {
            format: Some("qcow2".parse()?),
            readonly: true,
            ..Default::default()
        },
    )?;
    g.launch()?;
    let roots = g.inspect_os()?;
    let root = roots.first().context("no operating system found")?;
    // Parents first, as inspection lists them and `-i` mounts them.
    for (mp, dev) in &g.inspect_get_mountpoints(root)? {
        g.mount_ro(dev, mp)?;
    }
    let text = g.cat("/etc/os-release")?;
    g.shutdown()?;
    Ok(text)
}

/// The fleet: N copies of the guest, each scanned by its own process.
fn fleet(ctx: &Ctx, cli: &Path, qcow2: &Path) -> GroupResult {
    let n = if ctx.quick { 10 } else { 100 };
    let id = "inprocess/fleet";
    let title = format!("Fleet scan of {n} qcow2 guests");
    let made = (|| -> Result<(Vec<PathBuf>, PathBuf)> {
        let dir = ctx.path("fleet");
        crate::sys::fresh_dir(&dir)?;
        let mut guests = Vec::new();
        for i in 0..n {
            let g = dir.join(format!("guest{i:03}.qcow2"));
            std::fs::copy(qcow2, &g)
                .with_context(|| format!("copying the guest to {}", g.display()))?;
            std::fs::create_dir_all(dir.join(format!("mnt{i:03}")))?;
            std::fs::create_dir_all(dir.join(format!("run{i:03}")))?;
            guests.push(g);
        }
        let script = ctx.path("fleet.sh");
        crate::sys::script(&script, session::QCOW2_SCRIPT)?;
        Ok((guests, script))
    })();
    let (guests, script) = match made {
        Ok(x) => x,
        Err(e) => return GroupResult::failed(id, &title, "", format!("{e:#}")),
    };
    let dir = ctx.path("fleet");
    let cli_s = cli.to_string_lossy().into_owned();
    let vm = |kernel: bool| -> Vec<Proc> {
        guests
            .iter()
            .map(|g| {
                let mut p = harness::cmd(&cli_s, kernel.then_some("--kernel-mounts"));
                p.args(["--ro", "-a"])
                    .arg(g)
                    .args(["-i", "cat", "/etc/os-release"]);
                p
            })
            .collect()
    };
    let sh: Vec<Proc> = guests
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut p = harness::cmd("sh", [&script]);
            p.arg(g)
                .arg(dir.join(format!("mnt{i:03}")))
                .arg(dir.join(format!("run{i:03}")));
            p
        })
        .collect();
    let outs: RefCell<Vec<ProcOutput>> = RefCell::new(Vec::new());
    let gf_outs: RefCell<Vec<ProcOutput>> = RefCell::new(Vec::new());
    let check_vm = |who: &str| -> Result<String> {
        let o = outs.borrow();
        if o.len() != n {
            bail!("{who}: {} outputs for {n} guests", o.len());
        }
        for (i, x) in o.iter().enumerate() {
            if x.stdout.trim_end() != session::OS_RELEASE.trim_end() {
                bail!("{who}: guest {i} printed {:?}", x.stdout);
            }
        }
        Ok(format!("{n} guests, os-release read from each"))
    };
    let check_sh = || -> Result<String> {
        let o = outs.borrow();
        if o.len() != n {
            bail!("{} outputs for {n} guests", o.len());
        }
        for x in o.iter() {
            session::check_script_output(&x.stdout)?;
        }
        Ok(format!("{n} guests, os-release read from each"))
    };
    let jobs = jobs();
    let one = |procs: Vec<Proc>| {
        let outs = &outs;
        move || -> Result<Sample> {
            let (s, o) = harness::processes(&procs)?;
            *outs.borrow_mut() = o;
            Ok(s)
        }
    };
    let par = |procs: Vec<Proc>| {
        let outs = &outs;
        move || -> Result<Sample> {
            let (s, o) = harness::parallel(&procs, jobs)?;
            *outs.borrow_mut() = o;
            Ok(s)
        }
    };
    let lib_texts: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let lib = |kernel: bool| {
        let guests = &guests;
        let lib_texts = &lib_texts;
        move || -> Result<Sample> {
            let (s, texts) = harness::in_process(|| {
                guests
                    .iter()
                    .map(|g| library_scan(g, kernel))
                    .collect::<Result<Vec<_>>>()
            })?;
            *lib_texts.borrow_mut() = texts;
            Ok(s)
        }
    };
    let check_lib = || -> Result<String> {
        let t = lib_texts.borrow();
        if t.len() != n {
            bail!("{} texts for {n} guests", t.len());
        }
        for (i, x) in t.iter().enumerate() {
            if x.trim_end() != session::OS_RELEASE.trim_end() {
                bail!("guest {i}: read {x:?}");
            }
        }
        Ok(format!("{n} guests, os-release read from each"))
    };
    let lib_shown = "one process: for each guest VMCraft::with_config(cfg); add_drive_opts(guest, \
                     { format: qcow2, readonly }); launch(); inspect_os(); mount_ro the \
                     inspected mountpoints; cat(\"/etc/os-release\"); shutdown()";
    let n64 = n as u64;
    let vm_cmd = "vmcraft --ro -a GUEST -i cat /etc/os-release";
    let vmk_cmd = "vmcraft --kernel-mounts --ro -a GUEST -i cat /etc/os-release";
    let mut cases = vec![
        Case::ours(
            "vmcraft in-process, one at a time",
            format!("{vm_cmd}, for each guest in turn"),
            one(vm(false)),
            || check_vm("vmcraft"),
        )
        .per(n64),
        Case::ours(
            format!("vmcraft in-process, {jobs} in parallel"),
            format!("{vm_cmd}, {jobs} processes at a time"),
            par(vm(false)),
            || check_vm("vmcraft"),
        )
        .per(n64),
        Case::ours(
            "vmcraft --kernel-mounts, one at a time",
            format!("{vmk_cmd}, for each guest in turn"),
            one(vm(true)),
            || check_vm("vmcraft --kernel-mounts"),
        )
        .per(n64),
        Case::ours(
            format!("vmcraft --kernel-mounts, {jobs} in parallel"),
            format!("{vmk_cmd}, {jobs} processes at a time"),
            par(vm(true)),
            || check_vm("vmcraft --kernel-mounts"),
        )
        .per(n64),
        Case::ours(
            "vmcraft library in-process, one process",
            format!("{lib_shown} (default config: in-process reads)"),
            lib(false),
            check_lib,
        )
        .per(n64),
        Case::ours(
            "vmcraft library kernel path, one process",
            format!("{lib_shown} (config.inprocess_reads = false)"),
            lib(true),
            check_lib,
        )
        .per(n64),
        Case::peer(
            "shell script, one at a time",
            "the session workload's qcow2 script (qemu-storage-daemon FUSE export, losetup -r -P, \
             blkid, mount -o ro, cat, umount, detach) for each guest in turn",
            one(sh.clone()),
            check_sh,
        )
        .per(n64),
        Case::peer(
            format!("shell script, {jobs} in parallel"),
            format!(
                "the same script, {jobs} processes at a time (a mount point and run directory each)"
            ),
            par(sh),
            check_sh,
        )
        .per(n64),
    ];
    // guestfish starts an appliance per guest: a few guests stand for the fleet.
    let gf_guests = if ctx.quick { 1 } else { 3 }.min(n);
    let gf_label = format!("guestfish -i, one at a time ({gf_guests} of the guests)");
    let gf_shown = "guestfish --ro --format=qcow2 -a GUEST -i cat /etc/os-release".to_string();
    let mut gf_missing = None;
    match ctx.guestfish_for(id) {
        Ok(gf) => {
            let procs: Result<Vec<Proc>> = guests[..gf_guests]
                .iter()
                .map(|g| {
                    let inside = gf.path(g)?;
                    Ok(gf.cmd(&[
                        "--ro",
                        "--format=qcow2",
                        "-a",
                        &inside,
                        "-i",
                        "cat",
                        "/etc/os-release",
                    ]))
                })
                .collect();
            match procs {
                Ok(procs) => {
                    let gf_outs = &gf_outs;
                    cases.push(
                        Case::peer(
                            gf_label.clone(),
                            format!("{gf_shown}, for each guest in turn"),
                            move || {
                                let (s, o) = harness::processes(&procs)?;
                                *gf_outs.borrow_mut() = o;
                                Ok(s)
                            },
                            move || {
                                let o = gf_outs.borrow();
                                for x in o.iter() {
                                    if x.stdout.trim_end() != session::OS_RELEASE.trim_end() {
                                        bail!("guestfish printed {:?}", x.stdout);
                                    }
                                }
                                Ok(format!("{} guests, os-release read from each", o.len()))
                            },
                        )
                        .per(gf_guests as u64)
                        .at_most(if ctx.quick { 1 } else { 2 }, false),
                    );
                }
                Err(e) => gf_missing = Some(format!("{e:#}")),
            }
        }
        Err(why) => gf_missing = Some(why),
    }
    let mut r = harness::run_group(Group {
        id: id.to_string(),
        title,
        what: format!(
            "{n} copies of a 1 GiB qcow2 guest (GPT: vfat ESP, ext4 root; {} each): every guest \
             attached read-only, inspected, its /etc/os-release read, and detached, one process \
             per guest (the library rows: one process for the whole fleet); times are per guest (the wall clock of the whole fleet divided by {n})",
            std::fs::metadata(qcow2)
                .map(|m| crate::sys::fmt_bytes(m.len()))
                .unwrap_or_default()
        ),
        unit: Some("guest"),
        runs: ctx.runs(3, 1),
        cases,
    });
    crate::guestfish::demote_failure(&mut r);
    if let Some(why) = gf_missing {
        r.cases
            .push(guestfish::not_measured(&gf_label, &gf_shown, &why));
    }
    let rates: Vec<String> = r
        .cases
        .iter()
        .filter_map(|c| {
            let m = r.median(c)?;
            Some(format!(
                "{}: {:.1} guests/s",
                c.label,
                1.0 / m.as_secs_f64().max(1e-9)
            ))
        })
        .collect();
    if !rates.is_empty() {
        r.notes
            .push(format!("Throughput (medians): {}.", rates.join("; ")));
    }
    if let (Some(a), Some(b)) = (
        r.case("vmcraft in-process, one at a time")
            .and_then(|c| r.median(c)),
        r.case("vmcraft --kernel-mounts, one at a time")
            .and_then(|c| r.median(c)),
    ) {
        r.notes.push(format!(
            "Issue 18's target: the in-process scan at least 10x faster than the kernel path. \
             Measured, one at a time: {:.1}x.",
            b.as_secs_f64() / a.as_secs_f64().max(1e-9)
        ));
    }
    if let (Some(a), Some(b)) = (
        r.case("vmcraft library in-process, one process")
            .and_then(|c| r.median(c)),
        r.case("vmcraft library kernel path, one process")
            .and_then(|c| r.median(c)),
    ) {
        r.notes.push(format!(
            "A scanner that is one process (a pipeline through the library): in-process \
             {:.1}x faster than the kernel path.",
            b.as_secs_f64() / a.as_secs_f64().max(1e-9)
        ));
    }
    r.notes.push(
        "The shell script finds the root by blkid's type, where `vmcraft -i` and guestfish \
         inspect the guest (its os-release and fstab) and mount what the fstab says."
            .into(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    r
}
