//! libguestfs, measured: guestfish run inside its own Debian 12 root (made once by
//! `cargo xtask bench` under `target/bench/cache`, with `libguestfs-tools`,
//! `linux-image-amd64` and `libguestfs-xfs`), because it cannot be installed beside
//! this machine's qemu-utils.
//!
//! [`Guestfish::enter`] mounts `/proc` and binds `/dev`, `/sys` and the scratch
//! directory into the root (the last one private, so that the workloads' own
//! mounts under it do not propagate there); [`Drop`] undoes every mount it made,
//! deepest first, on every path. Each guestfish run is
//! `chroot ROOT timeout 120 env LIBGUESTFS_BACKEND=direct [LIBGUESTFS_BACKEND_SETTINGS=force_tcg]
//! guestfish ...`, with `force_tcg` when `/dev/kvm` cannot be used.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::harness::{self, CaseResult, GroupResult, Proc};

/// Where the scratch directory appears inside the root.
const WORK_IN_ROOT: &str = "/sidebyside-work";

/// A guestfish root with its mounts in place.
pub struct Guestfish {
    root: PathBuf,
    work: PathBuf,
    /// Mount points made, in the order they were made.
    mounted: Vec<PathBuf>,
    /// KVM usable (else TCG is forced).
    pub kvm: bool,
    /// `guestfish --version` inside the root.
    pub version: String,
    /// Why TCG is forced, when it is.
    tcg_why: String,
}

/// Whether `/dev/kvm` can be opened and answers `KVM_GET_API_VERSION`.
fn kvm_usable() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    else {
        return false;
    };
    // KVM_GET_API_VERSION = _IO(0xAE, 0x00)
    // SAFETY: an argument-less ioctl on a file we own.
    let v = unsafe { libc::ioctl(f.as_raw_fd(), 0xAE00 as _, 0) };
    v == 12
}

impl Guestfish {
    /// Mount what guestfish needs into `root` and check that it runs.
    pub fn enter(root: &Path, work: &Path) -> Result<Self> {
        if !root.join("usr/bin/guestfish").exists() {
            bail!("{} has no usr/bin/guestfish", root.display());
        }
        let mut g = Guestfish {
            root: root.to_path_buf(),
            work: work.to_path_buf(),
            mounted: Vec::new(),
            kvm: kvm_usable(),
            version: String::new(),
            tcg_why: String::new(),
        };
        if !g.kvm {
            g.tcg_why = "/dev/kvm is missing or does not answer KVM_GET_API_VERSION".into();
        }
        g.mount_all()?;
        let (_, out) = harness::process(&g.cmd(&["--version"]))
            .context("guestfish --version inside its root")?;
        g.version = out.stdout.trim().to_string();
        // One launch before anything is timed: it builds (first time) or checks
        // the cached appliance, and shows that the appliance starts at all. A
        // /dev/kvm that opens can still fail qemu (nested KVM refusing an MSR):
        // then TCG is forced, and the report says why.
        let t = std::time::Instant::now();
        let launch = |g: &Guestfish| harness::process(&g.cmd(&["-a", "/dev/null", "run"]));
        if g.kvm
            && let Err(e) = launch(&g)
        {
            let first = format!("{e:#}");
            let first = first.lines().last().unwrap_or_default().to_string();
            g.kvm = false;
            g.tcg_why = format!(
                "/dev/kvm opens but the appliance did not start under KVM ({})",
                first.chars().take(200).collect::<String>()
            );
        }
        if !g.kvm {
            launch(&g).context("guestfish -a /dev/null run inside its root")?;
        }
        eprintln!(
            "sidebyside: {} ready (first launch {}, {})",
            g.version,
            harness::fmt_duration(t.elapsed()),
            if g.kvm { "KVM" } else { "TCG" }
        );
        Ok(g)
    }

    fn mount_all(&mut self) -> Result<()> {
        let proc_ = self.root.join("proc");
        mount(
            Some("proc"),
            &proc_,
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .with_context(|| format!("mounting proc on {}", proc_.display()))?;
        self.mounted.push(proc_);
        for (src, dst) in [
            (PathBuf::from("/dev"), self.root.join("dev")),
            (PathBuf::from("/sys"), self.root.join("sys")),
            (
                self.work.clone(),
                self.root.join(WORK_IN_ROOT.trim_start_matches('/')),
            ),
        ] {
            std::fs::create_dir_all(&dst)?;
            mount(
                Some(&src),
                &dst,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .with_context(|| format!("binding {} on {}", src.display(), dst.display()))?;
            self.mounted.push(dst.clone());
            mount(
                None::<&str>,
                &dst,
                None::<&str>,
                MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .with_context(|| format!("making {} private", dst.display()))?;
        }
        Ok(())
    }

    /// A guestfish process with these arguments.
    pub fn cmd(&self, args: &[&str]) -> Proc {
        let mut p = harness::cmd("chroot", [self.root.as_os_str()]);
        // A run that has not ended after two minutes (a hung TCG appliance, seen
        // here under load) is stopped, so that the bench goes on.
        p.args(["timeout", "--kill-after=10", "120"]);
        p.args([
            "env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "TMPDIR=/tmp",
            "LIBGUESTFS_BACKEND=direct",
        ]);
        if !self.kvm {
            p.arg("LIBGUESTFS_BACKEND_SETTINGS=force_tcg");
        }
        p.arg("guestfish");
        p.args(args);
        p
    }

    /// A file of the scratch directory as guestfish sees it.
    pub fn path(&self, host: &Path) -> Result<String> {
        let rel = host
            .strip_prefix(&self.work)
            .with_context(|| format!("{} is not in the scratch directory", host.display()))?;
        Ok(Path::new(WORK_IN_ROOT)
            .join(rel)
            .to_string_lossy()
            .into_owned())
    }

    /// How guestfish is run, for the report.
    pub fn method(&self) -> String {
        format!(
            "{} in a debootstrapped Debian 12 root (libguestfs-tools, linux-image-amd64, \
             libguestfs-xfs), run as `chroot ROOT timeout 120 env LIBGUESTFS_BACKEND=direct{} guestfish ...` \
             with /proc mounted and /dev, /sys and the scratch directory bound into the root; \
             the appliance is built by supermin on the first run and cached in the root, so \
             measured runs start the cached appliance ({}).",
            if self.version.is_empty() {
                "guestfish"
            } else {
                &self.version
            },
            if self.kvm {
                ""
            } else {
                " LIBGUESTFS_BACKEND_SETTINGS=force_tcg"
            },
            if self.kvm {
                "the appliance runs under KVM".to_string()
            } else {
                format!(
                    "the appliance runs under TCG, qemu's emulator, which is slower than KVM: {}",
                    self.tcg_why
                )
            }
        )
    }
}

impl Drop for Guestfish {
    fn drop(&mut self) {
        for mp in self.mounted.drain(..).rev() {
            if let Err(e) = umount2(&mp, MntFlags::empty()) {
                eprintln!(
                    "sidebyside: unmounting {}: {e}; detaching it lazily",
                    mp.display()
                );
                let _ = umount2(&mp, MntFlags::MNT_DETACH);
            }
        }
    }
}

/// guestfish is a peer run from a chroot, not a result of VMCraft's: when its
/// run fails (a hung or crashed appliance), its row says "not measured" with the
/// error, takes no ratio, and does not fail the bench.
pub fn demote_failure(r: &mut GroupResult) {
    for c in r.cases.iter_mut() {
        if c.label.starts_with("guestfish")
            && let Some(e) = c.error.take()
        {
            eprintln!("sidebyside: {} / {}: not measured: {e}", r.id, c.label);
            c.samples.clear();
            c.detail = format!("not measured: guestfish failed: {e}");
        }
    }
}

/// The row of a group where guestfish was not run: its column says so, and no
/// ratio is printed against it.
pub fn not_measured(label: &str, command: &str, why: &str) -> CaseResult {
    CaseResult {
        label: label.to_string(),
        command: command.to_string(),
        ours: false,
        per: 1,
        samples: Vec::new(),
        detail: format!("not measured: {why}"),
        error: None,
        against: None,
    }
}

/// guestfish as a peer of group `id`, run as `guestfish ARGS`, where `args`
/// makes the arguments from the paths of `files` as guestfish sees them (in
/// its root). `Err` is the row to add to the group's result in its place when
/// guestfish is not run for this group (see [`not_measured`]). Measured at most
/// three times, as every guestfish row: a run costs seconds.
pub fn peer_case<'a>(
    ctx: &'a crate::Ctx,
    id: &str,
    shown: &str,
    files: &[&Path],
    args: impl Fn(&[String]) -> Vec<String>,
    check: impl FnMut() -> Result<String> + 'a,
) -> Result<harness::Case<'a>, Box<CaseResult>> {
    const LABEL: &str = "guestfish";
    let gf = ctx
        .guestfish_for(id)
        .map_err(|why| Box::new(not_measured(LABEL, shown, &why)))?;
    let inside = files
        .iter()
        .map(|f| gf.path(f))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| Box::new(not_measured(LABEL, shown, &format!("{e:#}"))))?;
    let args = args(&inside);
    let p = gf.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(harness::Case::peer(
        LABEL,
        shown.to_string(),
        move || Ok(harness::process(&p)?.0),
        check,
    )
    .at_most(3, true))
}

/// After the group ran: a failed guestfish run is "not measured"
/// ([`demote_failure`]), and the row of a guestfish that was not run is added.
pub fn finish(r: &mut GroupResult, missing: Option<CaseResult>) {
    demote_failure(r);
    r.cases.extend(missing);
}
