//! The driver of `cargo xtask bench`: VMCraft beside the tools a user would pick
//! instead, on the same data, in one run, written to a Markdown report.
//!
//! Run it through `cargo xtask bench [--quick]`, which builds it in release mode,
//! prepares the archive tree and cleans up after it. By hand (as root):
//!
//! ```text
//! cargo run --release -p vmcraft --example sidebyside -- \
//!     --work /var/tmp/w --tree /path/to/tree --out BENCHMARKS.md [--quick] [--cli target/release/vmcraft]
//! ```
//!
//! Every workload makes its own data, runs each contender once to warm up and then
//! N times in rotated order, checks every result (same bytes, same tree, same
//! table) before its time counts, and cleans up. The process exits 1 when a check
//! fails or a workload cannot run; never because of a time.

#![deny(missing_docs)]

mod archive;
mod augeas;
mod command;
mod copy;
mod guestfish;
mod harness;
mod imagecalls;
mod inprocess;
mod mount;
mod partition;
mod probe;
mod python;
mod report;
mod session;
mod sys;
mod windows;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::harness::GroupResult;

/// Everything a workload needs to know about the run.
pub struct Ctx {
    /// Small sizes and few runs.
    pub quick: bool,
    /// Measured runs per contender, overriding each workload's default.
    pub runs: Option<usize>,
    /// Scratch directory for images and outputs (removed by xtask afterwards).
    pub work: PathBuf,
    /// The tree of the archive workloads.
    pub tree: PathBuf,
    /// How that tree was made, for the report.
    pub tree_label: String,
    /// The `vmcraft` command line, when built.
    pub cli: Option<PathBuf>,
    /// guestfish in its own root, when that root was given and works.
    pub guestfish: Option<guestfish::Guestfish>,
    /// Why guestfish is not measured, when it is not.
    pub guestfish_why: String,
    /// A Python interpreter with the `vmcraft` module installed, when given.
    pub python: Option<PathBuf>,
    /// Why the Python rows are not measured, when they are not.
    pub python_why: String,
}

impl Ctx {
    /// Measured runs: the override, or the workload's default for the mode.
    pub fn runs(&self, full: usize, quick: usize) -> usize {
        self.runs.unwrap_or(if self.quick { quick } else { full })
    }

    /// guestfish for the group `id`, or why its row is not measured. `--quick`
    /// runs one small guestfish check only, in `session/qcow2`.
    pub fn guestfish_for(&self, id: &str) -> Result<&guestfish::Guestfish, String> {
        match &self.guestfish {
            None => Err(self.guestfish_why.clone()),
            Some(_) if self.quick && id != "session/qcow2" => {
                Err("--quick runs one guestfish check only, in the qcow2 session row".to_string())
            }
            Some(g) => Ok(g),
        }
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }
}

/// A workload: its name for `--only`, and the function that runs its groups.
type Workload = (&'static str, fn(&Ctx) -> Result<Vec<GroupResult>>);

const WORKLOADS: &[Workload] = &[
    ("session", session::run),
    ("partition", partition::run),
    ("probe", probe::run),
    ("copy", copy::run),
    ("archive", archive::run),
    ("mount", mount::run),
    ("augeas", augeas::run),
    ("command", command::run),
    ("inprocess", inprocess::run),
    ("windows", windows::run),
    ("python", python::run),
];

struct Args {
    ctx: Ctx,
    out: PathBuf,
    only: Option<Vec<String>>,
}

fn parse() -> Result<Args> {
    let mut quick = false;
    let mut runs = None;
    let mut work = None;
    let mut tree = None;
    let mut tree_label = None;
    let mut cli = None;
    let mut guestfish_root = None;
    let mut python = None;
    let mut out = None;
    let mut only = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => quick = true,
            "--runs" => runs = Some(value()?.parse::<usize>().context("--runs")?),
            "--work" => work = Some(PathBuf::from(value()?)),
            "--tree" => tree = Some(PathBuf::from(value()?)),
            "--tree-label" => tree_label = Some(value()?),
            "--cli" => cli = Some(PathBuf::from(value()?)),
            "--guestfish-root" => guestfish_root = Some(PathBuf::from(value()?)),
            "--python" => python = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--only" => {
                only = Some(
                    value()?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>(),
                )
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    let work = work.context("--work DIR is required")?;
    let tree = tree.context("--tree DIR is required")?;
    if let Some(only) = &only {
        for w in only {
            if !WORKLOADS.iter().any(|(n, _)| n == w) {
                bail!(
                    "unknown workload `{w}` (known: {})",
                    WORKLOADS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    std::fs::create_dir_all(&work)?;
    let work = std::fs::canonicalize(&work)?;
    let tree = std::fs::canonicalize(&tree)
        .with_context(|| format!("the tree {} does not exist", tree.display()))?;
    let (guestfish, guestfish_why) = match guestfish_root {
        None => (
            None,
            "no guestfish root (`cargo xtask bench` builds it for full runs; --quick uses it \
             only when it is already cached)"
                .to_string(),
        ),
        Some(root) => match guestfish::Guestfish::enter(&root, &work) {
            Ok(g) => (Some(g), String::new()),
            Err(e) => {
                eprintln!("sidebyside: guestfish not measured: {e:#}");
                (None, format!("guestfish did not run in its root: {e:#}"))
            }
        },
    };
    Ok(Args {
        ctx: Ctx {
            quick,
            runs,
            tree_label: tree_label.unwrap_or_else(|| tree.display().to_string()),
            work,
            tree,
            cli: cli.filter(|c| c.is_file()),
            guestfish,
            guestfish_why,
            python_why: if python.is_some() {
                String::new()
            } else {
                "no Python with the vmcraft module was given (`cargo xtask bench` gives the \
                 project's virtual environment, with the wheel installed)"
                    .to_string()
            },
            python,
        },
        out: out.unwrap_or_else(|| PathBuf::from("BENCHMARKS.md")),
        only,
    })
}

fn main() {
    match real_main() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("sidebyside: error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> Result<bool> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(harness::HELPER_FLAG) {
        harness::helper_main(&argv[1..]);
    }
    let args = parse()?;
    if !nix::unistd::geteuid().is_root() {
        bail!("needs root (loop devices, mounts, storage daemons)");
    }
    let ctx = &args.ctx;
    let tmp = std::env::temp_dir();
    let janitor = sys::Janitor::new(&[&ctx.work, &tmp]);
    let started = std::time::SystemTime::now();
    let (commit, dirty) = report::Meta::tree_state();
    let load_before = sys::loadavg();
    let mut results: Vec<GroupResult> = Vec::new();
    let mut all_ok = true;
    for (name, f) in WORKLOADS {
        if let Some(only) = &args.only
            && !only.iter().any(|o| o == name)
        {
            continue;
        }
        eprintln!("sidebyside: {name} (load average {})", sys::loadavg());
        let t0 = std::time::Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(ctx)));
        eprintln!(
            "sidebyside: {name} took {}",
            harness::fmt_duration(t0.elapsed())
        );
        let mut groups = match r {
            Ok(Ok(g)) => g,
            Ok(Err(e)) => vec![GroupResult::failed(
                name,
                name,
                "",
                format!("could not run: {e:#}"),
            )],
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                vec![GroupResult::failed(
                    name,
                    name,
                    "",
                    format!("panicked: {msg}"),
                )]
            }
        };
        let left = janitor.sweep();
        if !left.is_empty() {
            eprintln!("sidebyside: {name} left behind: {}", left.join("; "));
            groups.push(GroupResult::failed(
                name,
                &format!("{name}: cleanup"),
                "",
                format!("left behind (now cleaned up): {}", left.join("; ")),
            ));
        }
        for g in &groups {
            if g.failed_any() {
                all_ok = false;
            }
        }
        results.extend(groups);
    }
    let meta = report::Meta {
        quick: ctx.quick,
        started,
        finished: std::time::SystemTime::now(),
        load_before,
        load_after: sys::loadavg(),
        tree_label: ctx.tree_label.clone(),
        work_fs: sys::fs_of(&ctx.work),
        cli: ctx.cli.is_some(),
        only: args.only.clone(),
        commit,
        dirty,
        guestfish: ctx
            .guestfish
            .as_ref()
            .map(|g| g.method())
            .ok_or_else(|| ctx.guestfish_why.clone()),
    };
    let md = report::render(&meta, &results);
    std::fs::write(&args.out, md).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("sidebyside: wrote {}", args.out.display());
    let failed: Vec<String> = results
        .iter()
        .filter(|g| g.failed_any())
        .flat_map(|g| {
            g.cases
                .iter()
                .filter_map(|c| {
                    c.error
                        .as_ref()
                        .map(|e| format!("{} / {}: {e}", g.id, c.label))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if !failed.is_empty() {
        eprintln!("sidebyside: FAILED:\n  {}", failed.join("\n  "));
    }
    drop(janitor);
    Ok(all_ok)
}
