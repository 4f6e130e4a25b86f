//! Workload 6, parallel mounting: an ext4 root and N = 2, 4, 8, 16 filesystems
//! below it (ext4, xfs, vfat through FUSE, btrfs, in turn), all read-only.
//! `mount_all_parallel` against the same mounts one after another through VMCraft,
//! and through `mount(8)` (and `fusefat` for vfat, which this kernel lacks) in
//! sequence, probing the type or told it (`-t`). VMCraft's probe cache is emptied
//! before every run, so that both sides probe; a second `mount_all_parallel` row
//! has the types probed before the run, and `mount -t` is set against it. Each
//! run is checked by reading a marker file from every filesystem and by the mount
//! table; unmounting is not timed.

use std::path::Path;

use anyhow::{Context, Result, bail};
use vmcraft::{MkfsOptions, MountAllOptions, VMCraft};

use crate::harness::{self, Case, Group, GroupResult};
use crate::{Ctx, sys};

/// The children's types in turn, with their sizes in MiB.
const CYCLE: [(&str, u64); 4] = [("ext4", 32), ("xfs", 300), ("vfat", 32), ("btrfs", 128)];
const MAX: usize = 16;

/// The contender of ours that `mount(8) -t TYPE` is set against.
const TYPES_KNOWN: &str = "vmcraft mount_all_parallel, types known";

fn child_type(k: usize) -> (&'static str, u64) {
    CYCLE[(k - 1) % CYCLE.len()]
}

fn make_image(img: &Path) -> Result<()> {
    let total: u64 = 64 + (1..=MAX).map(|k| child_type(k).1).sum::<u64>() + 4;
    sys::sparse_file(img, total << 20)?;
    let g = VMCraft::new();
    g.add_drive_opts(
        img,
        vmcraft::DriveOpts {
            format: Some("raw".parse()?),
            ..Default::default()
        },
    )?;
    g.launch()?;
    g.part_init("/dev/sda", "gpt")?;
    let mut start = 2048i64;
    let sizes = std::iter::once(64).chain((1..=MAX).map(|k| child_type(k).1));
    for mib in sizes {
        let len = (mib as i64) << 11;
        g.part_add("/dev/sda", "p", start, start + len - 1)?;
        start += len;
    }
    g.mkfs("ext4", "/dev/sda1", &MkfsOptions::default())?;
    for k in 1..=MAX {
        let dev = format!("/dev/sda{}", k + 1);
        g.mkfs(child_type(k).0, &dev, &MkfsOptions::default())
            .with_context(|| format!("mkfs {} {dev}", child_type(k).0))?;
    }
    g.mount("/dev/sda1", "/")?;
    for k in 1..=MAX {
        let mp = format!("/m{k}");
        g.mkdir(&mp)?;
        g.mount(&format!("/dev/sda{}", k + 1), &mp)?;
        g.write(&format!("{mp}/marker"), format!("m{k}\n").as_bytes())?;
        g.umount(&mp)?;
    }
    g.shutdown()?;
    Ok(())
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let img = ctx.path("mount.img");
    make_image(&img).context("making the image")?;
    let g = VMCraft::new();
    g.add_drive_ro(&img)?;
    g.launch()?;
    let shell_root = ctx.path("mount-shell");
    std::fs::create_dir_all(&shell_root)?;
    let mut out = Vec::new();
    for n in [2usize, 4, 8, 16] {
        out.push(group(ctx, &g, n, &shell_root)?);
    }
    g.shutdown()?;
    drop(g);
    sys::remove_file(&img)?;
    Ok(out)
}

fn group(ctx: &Ctx, g: &VMCraft, n: usize, shell_root: &Path) -> Result<GroupResult> {
    let mps: Vec<(String, String)> = std::iter::once(("/".to_string(), "/dev/sda1".to_string()))
        .chain((1..=n).map(|k| (format!("/m{k}"), format!("/dev/sda{}", k + 1))))
        .collect();
    let hosts: Vec<String> = mps
        .iter()
        .map(|(_, d)| Ok(g.host_path(d)?.to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;

    let check_ours = || {
        for k in 1..=n {
            let text = g.cat(&format!("/m{k}/marker"))?;
            if text != format!("m{k}\n") {
                bail!("/m{k}/marker reads {text:?}");
            }
            let host = g.mountpoint_host_path(&format!("/m{k}"))?;
            check_type(&host, k)?;
        }
        Ok(format!("{} mounted, markers read", n + 1))
    };
    let umount_ours = || Ok(g.umount_all()?);
    // Fair to mount(8), which probes every time: VMCraft's probe cache is emptied
    // before every run, so its mounts probe too.
    let empty_cache = || {
        g.invalidate_probe_cache();
        Ok(())
    };
    // Fair to mount(8) -t TYPE, which is told the type: VMCraft knows it too, from
    // a probe before the run (as a session does after inspection).
    let probe_first = || {
        g.invalidate_probe_cache();
        for (_, dev) in &mps {
            g.vfs_type(dev)?;
        }
        Ok(())
    };
    let mount_all = |g: &VMCraft| -> Result<harness::Sample> {
        let (s, results) = harness::in_process(|| {
            Ok(g.mount_all_parallel(
                &mps,
                MountAllOptions {
                    readonly: true,
                    ..Default::default()
                },
            )?)
        })?;
        for r in results {
            if let Err(e) = r.result {
                bail!("{} on {}: {}", r.device, r.mountpoint, e.chain());
            }
        }
        Ok(s)
    };
    let shell_dirs: Vec<std::path::PathBuf> = std::iter::once(shell_root.to_path_buf())
        .chain((1..=n).map(|k| shell_root.join(format!("m{k}"))))
        .collect();
    let shell_cmds = |typed: bool| -> Vec<harness::Proc> {
        (0..=n)
            .map(|i| {
                let t = if i == 0 { "ext4" } else { child_type(i).0 };
                let mut c = if t == "vfat" {
                    harness::cmd("fusefat", ["-o", "ro"])
                } else if typed {
                    harness::cmd("mount", ["-t", t, "-o", "ro,nosuid,nodev"])
                } else {
                    harness::cmd("mount", ["-o", "ro,nosuid,nodev"])
                };
                c.arg(&hosts[i]).arg(&shell_dirs[i]);
                c
            })
            .collect()
    };
    let check_shell = || {
        for (k, dir) in shell_dirs.iter().enumerate().skip(1) {
            let text = std::fs::read_to_string(dir.join("marker"))?;
            if text != format!("m{k}\n") {
                bail!("m{k}/marker reads {text:?}");
            }
            check_type(dir, k)?;
        }
        Ok(format!("{} mounted, markers read", n + 1))
    };
    let umount_shell = || {
        for d in shell_dirs.iter().rev() {
            if sys::mount_at(d).is_some() {
                sys::run("umount", &[&d.to_string_lossy()])?;
            }
        }
        Ok(())
    };

    let cases = vec![
        Case::ours(
            "vmcraft mount_all_parallel",
            "mount_all_parallel([(\"/\", root), (\"/m1\", dev1), ...], { readonly: true })",
            || mount_all(g),
            check_ours,
        )
        .setup(empty_cache)
        .teardown(umount_ours),
        Case::ours(
            TYPES_KNOWN,
            "mount_all_parallel(...) as above, each device's type probed before (untimed), as \
             after inspect_os",
            || mount_all(g),
            check_ours,
        )
        .setup(probe_first)
        .teardown(umount_ours),
        Case::ours(
            "vmcraft mount_ro, one after another",
            "mount_ro(root, \"/\"); mount_ro(dev1, \"/m1\"); ...",
            || {
                let (s, _) = harness::in_process(|| {
                    for (mp, dev) in &mps {
                        g.mount_ro(dev, mp)?;
                    }
                    Ok(())
                })?;
                Ok(s)
            },
            check_ours,
        )
        .setup(empty_cache)
        .teardown(umount_ours),
        Case::peer(
            "mount(8), one after another",
            "mount -o ro,nosuid,nodev DEV DIR for each, probing the type (fusefat -o ro DEV DIR for vfat)",
            || Ok(harness::processes(&shell_cmds(false))?.0),
            check_shell,
        )
        .teardown(umount_shell),
        Case::peer(
            "mount(8) -t TYPE, one after another",
            "mount -t TYPE -o ro,nosuid,nodev DEV DIR for each, told the type (fusefat -o ro DEV DIR for vfat)",
            || Ok(harness::processes(&shell_cmds(true))?.0),
            check_shell,
        )
        .against(TYPES_KNOWN)
        .teardown(umount_shell),
    ];
    let kinds: Vec<&str> = (1..=n).map(|k| child_type(k).0).collect();
    let mut r = harness::run_group(Group {
        id: format!("mount/{n}"),
        title: format!("Mount {n} filesystems"),
        what: format!(
            "mount read-only an ext4 root and {n} filesystems below it ({}) from one attached image",
            kinds.join(", ")
        ),
        unit: None,
        runs: ctx.runs(10, 3),
        cases,
    });
    r.notes.push(format!(
        "mount_all_parallel mounts the root first, then the {n} below it at once, on up to {} \
         threads of its own ({} cores on this machine).",
        vmcraft::MOUNT_THREADS,
        std::thread::available_parallelism().map_or(1, |p| p.get())
    ));
    Ok(r)
}

/// The mount at `host` has the kernel type child `k` was made with (vfat through
/// FUSE here).
fn check_type(host: &Path, k: usize) -> Result<()> {
    let (_, fstype) =
        sys::mount_at(host).with_context(|| format!("{} is not a mount point", host.display()))?;
    let want = child_type(k).0;
    let ok = if want == "vfat" {
        fstype == "vfat" || fstype.starts_with("fuse")
    } else {
        fstype == want
    };
    if !ok {
        bail!("{} is {fstype}, expected {want}", host.display());
    }
    Ok(())
}
