//! The Markdown report: a summary with the headline ratios and the design
//! targets, where VMCraft is behind and why, the machine and tool versions, the
//! method, and every workload's table with its commands.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::harness::{CaseResult, GroupResult, fmt_duration, median, per_op};
use crate::sys;

/// What the report says about the run itself.
pub struct Meta {
    pub quick: bool,
    pub started: SystemTime,
    pub finished: SystemTime,
    pub load_before: String,
    pub load_after: String,
    pub tree_label: String,
    pub work_fs: String,
    pub cli: bool,
    pub only: Option<Vec<String>>,
    /// How guestfish was run, or why it was not.
    pub guestfish: Result<String, String>,
    /// The commit the measured binaries were built from, and whether the tree
    /// had uncommitted changes, as they were when the run started (a commit
    /// made during a long run is not what was measured).
    pub commit: String,
    pub dirty: bool,
}

impl Meta {
    /// The work tree's commit and whether it has uncommitted changes, now.
    pub fn tree_state() -> (String, bool) {
        let commit = sys::run("git", &["rev-parse", "--short", "HEAD"])
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let dirty = sys::run("git", &["status", "--porcelain", "--untracked-files=no"])
            .map(|o| !o.trim().is_empty())
            .unwrap_or(false);
        (commit, dirty)
    }
}

fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn ratio(g: &GroupResult, c: &CaseResult) -> Option<f64> {
    let r = g.reference()?;
    let (a, b) = (g.median(c)?, g.median(r)?);
    Some(a.as_secs_f64() / b.as_secs_f64().max(1e-12))
}

fn fmt_ratio(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}x")
    } else if x >= 10.0 {
        format!("{x:.1}x")
    } else {
        format!("{x:.2}x")
    }
}

fn fmt_rss(kib: Option<u64>) -> String {
    match kib {
        Some(k) if k > 0 => sys::fmt_bytes(k * 1024),
        _ => "-".into(),
    }
}

/// A target from DESIGN.md and whether this run met it.
struct Target {
    workload: String,
    target: String,
    measured: String,
    met: Option<bool>,
    note: String,
}

/// A case's median with the range of its runs.
fn with_range(g: &GroupResult, c: Option<&CaseResult>) -> String {
    let Some(c) = c else {
        return "-".into();
    };
    let (lo, hi) = g.range(c);
    format!(
        "{} ({} - {})",
        g.median(c).map(fmt_duration).unwrap_or_default(),
        fmt_duration(lo),
        fmt_duration(hi)
    )
}

fn find<'a>(groups: &'a [GroupResult], id: &str) -> Option<&'a GroupResult> {
    groups.iter().find(|g| g.id == id)
}

fn targets(groups: &[GroupResult], meta: &Meta) -> Vec<Target> {
    let mut t = Vec::new();
    for fmt in ["raw", "qcow2"] {
        if let Some(g) = find(groups, &format!("session/{fmt}")) {
            let (c, how) = match g.case("vmcraft -i (command line inspection)") {
                Some(c) => (Some(c), "through the command line (`vmcraft -i`)"),
                None => (
                    g.reference(),
                    "through the library (the command line was not built)",
                ),
            };
            if let Some(m) = c.and_then(|c| g.median(c)) {
                t.push(Target {
                    workload: format!("session, {fmt}"),
                    target: "attach + inspect + teardown under 300 ms through the CLI".into(),
                    measured: format!("{} {how}", fmt_duration(m)),
                    met: Some(m < Duration::from_millis(300)),
                    note: if meta.cli {
                        String::new()
                    } else {
                        "measured without the command line".into()
                    },
                });
            }
        }
    }
    if let Some(g) = find(groups, "partition/gpt") {
        let (c, how) = match g.case("vmcraft (command line)") {
            Some(c) => (Some(c), "through the command line"),
            None => (
                g.reference(),
                "through the library (the command line was not built)",
            ),
        };
        if let Some(m) = c.and_then(|c| g.median(c)) {
            let sf = g.case("sfdisk, script").and_then(|s| g.median(s));
            t.push(Target {
                workload: "partition edits".into(),
                target: "under 10 ms through the CLI, process start included (sfdisk measured beside it, both without a kernel re-read)".into(),
                measured: format!(
                    "{} {how}{}",
                    fmt_duration(m),
                    sf.map(|s| format!("; sfdisk {} here ({} ours)", fmt_duration(s), fmt_ratio(s.as_secs_f64() / m.as_secs_f64())))
                        .unwrap_or_default()
                ),
                met: Some(m < Duration::from_millis(10)),
                note: String::new(),
            });
        }
    }
    if let Some(g) = find(groups, "probe/8 filesystems") {
        for label in ["vmcraft vfs_type, cached", "vmcraft blkid, cached"] {
            if let Some(m) = g.case(label).and_then(|c| g.median(c)) {
                t.push(Target {
                    workload: format!("probe ({label})"),
                    target: "cached lookup under 1 µs".into(),
                    measured: fmt_duration(m),
                    met: Some(m < Duration::from_micros(1)),
                    note: String::new(),
                });
            }
        }
    }
    if let Some(g) = find(groups, "command/true")
        && let Some(m) = g.reference().and_then(|c| g.median(c))
    {
        t.push(Target {
            workload: "guest command".into(),
            target: "`command /bin/true` under 20 ms per call, sandbox included (issue 20)".into(),
            measured: format!("{} through the library, one isolated call", fmt_duration(m)),
            met: Some(m < Duration::from_millis(20)),
            note: String::new(),
        });
    }
    for name in ["5% data", "dense"] {
        if let Some(g) = find(groups, &format!("copy/{name}"))
            && let (Some(r), Some(q)) = (
                g.reference().and_then(|c| g.median(c)),
                g.case("qemu-img convert -O raw").and_then(|c| g.median(c)),
            )
        {
            t.push(Target {
                workload: format!("copy, {name}"),
                target: "at or under qemu-img convert".into(),
                measured: format!(
                    "{} vs qemu-img {}",
                    with_range(g, g.reference()),
                    with_range(g, g.case("qemu-img convert -O raw"))
                ),
                met: Some(r <= q),
                note: String::new(),
            });
        }
    }
    for dir in ["out", "in"] {
        if let Some(g) = find(groups, &format!("archive/{dir} none"))
            && let (Some(r), Some(q)) = (
                g.reference().and_then(|c| g.median(c)),
                g.case("GNU tar").and_then(|c| g.median(c)),
            )
        {
            t.push(Target {
                workload: format!("tar {dir}, uncompressed"),
                target: "no slower than GNU tar".into(),
                measured: format!(
                    "{} vs GNU tar {}",
                    with_range(g, g.reference()),
                    with_range(g, g.case("GNU tar"))
                ),
                met: Some(r <= q),
                note: String::new(),
            });
        }
    }
    if let Some(g) = find(groups, "archive/out gzip")
        && let (Some(r), Some(q)) = (
            g.reference().and_then(|c| g.median(c)),
            g.case("GNU tar").and_then(|c| g.median(c)),
        )
    {
        let x = q.as_secs_f64() / r.as_secs_f64();
        t.push(Target {
            workload: "tar out, gzip".into(),
            target: "2.5x faster than tar czf".into(),
            measured: format!(
                "{} vs tar czf {} ({})",
                fmt_duration(r),
                fmt_duration(q),
                fmt_ratio(x)
            ),
            met: Some(x >= 2.5),
            note: String::new(),
        });
    }
    let speedups: Vec<(usize, f64)> = [2usize, 4, 8, 16]
        .iter()
        .filter_map(|n| {
            let g = find(groups, &format!("mount/{n}"))?;
            let par = g
                .case("vmcraft mount_all_parallel")
                .and_then(|c| g.median(c))?;
            let seq = g
                .case("vmcraft mount_ro, one after another")
                .and_then(|c| g.median(c))?;
            Some((*n, seq.as_secs_f64() / par.as_secs_f64()))
        })
        .collect();
    if !speedups.is_empty() {
        let grows = speedups.windows(2).all(|w| w[1].1 >= w[0].1 * 0.95);
        let last = speedups.last().map(|s| s.1).unwrap_or(0.0);
        t.push(Target {
            workload: "parallel mount".into(),
            target: "a speedup over sequential mounts that grows with N until the disk or the cores are the limit".into(),
            measured: speedups
                .iter()
                .map(|(n, s)| format!("N={n}: {}", fmt_ratio(*s)))
                .collect::<Vec<_>>()
                .join(", "),
            met: Some(grows && last > 1.0),
            note: if speedups.iter().any(|s| s.1 < 1.0) {
                "below 1x, handing a couple of mounts of a millisecond or two to the thread pool \
                 costs more than overlapping them saves"
                    .into()
            } else {
                String::new()
            },
        });
    }
    t
}

/// Why VMCraft is behind a peer, for the workloads where it can be, with what
/// would close the gap. Shown only when a run finds it behind.
fn behind_reason(id: &str, peer: &str) -> &'static str {
    match (id, peer) {
        ("archive/out xz", _) => {
            "both compress with the system liblzma at preset 6 on one thread, beside a thread (or \
             process) that reads the tree; the time is the compressor's. (xz -T0 cuts its input \
             into blocks of 3 x the dictionary, 24 MiB at level 6, one block a thread, so it gains \
             only on large trees, and its output differs.) liblzma's multithreaded encoder \
             (`lzma_stream_encoder_mt`) would be the way past GNU tar with plain xz."
        }
        ("archive/out zstd", _) => {
            "both compress with libzstd at level 3 (VMCraft with zstdmt on every core, fed by a \
             thread of its own); at this speed reading the tree is most of the time."
        }
        ("archive/out gzip", _) => {
            "pigz and VMCraft both deflate on every core; pigz also reads, checksums and writes on \
             threads of their own."
        }
        ("archive/out none", _) => {
            "GNU tar is one tight loop of read/write; tar_out opens every entry through the \
             confined resolver (openat2 RESOLVE_IN_ROOT), reads the guest's own user and group \
             names, and checks every entry."
        }
        ("archive/in none", _) => {
            "both write every file and set its owner, mode and times; tar_in also opens every \
             path through the confined resolver (openat2 RESOLVE_IN_ROOT) and checks every entry \
             before anything of the archive is in the target (`verify_first`: a bad archive \
             changes nothing): into the empty directory as it extracts, into a staging directory \
             renamed into place at the end; into a directory with something in it by reading \
             the headers once more beforehand."
        }
        (id, _) if id.starts_with("archive/in") => {
            "both decompress on one core (tar_in on a thread of its own, GNU tar in a process of \
             its own) while extracting on the other. tar_in checks every entry before anything \
             of the archive is in the target (`verify_first`: a bad archive changes nothing): \
             into the empty directory in the same pass, extracting into a staging directory \
             renamed into place once the archive is known good, so decompression and \
             extraction overlap; into a directory with something in it, in a pass of its own \
             first, from whose decompressed stream (kept up to 256 MiB) it then extracts, so the \
             two cannot overlap. Extraction itself is mostly the kernel creating files, so \
             compare the ranges before reading a gap into the medians."
        }
        (id, _) if id.starts_with("copy/") => {
            "every tool's time here is mostly the kernel writing the data out (the fsync is \
             timed); the default copy hands the data extents to copy_file_range and skips the \
             holes, so what is left to it is the kernel's."
        }
        (id, _) if id.starts_with("mount/") => {
            "mount_all_parallel mounts the root first and only then the rest, on a pool of \
             16 threads; mounts wait on the kernel and on FUSE drivers, not on the CPU, and with \
             few filesystems handing them to threads costs about what overlapping them saves."
        }
        ("augeas/fstab lens", _) => {
            "both compile only Fstab and the modules it uses; VMCraft adds a worker process \
             (forked, confined: chroot into the guest, reduced capabilities, seccomp) and \
             compiles the lens before the chroot (so that no lens can come from the guest)."
        }
        ("augeas/all lenses", _) => {
            "both compile every lens and parse the same files with the same libaugeas, and \
             compiling is mostly malloc and free; VMCraft's confined worker is forked from a \
             thread of a process with threads, so glibc's malloc serves it from that thread's \
             arena, with a lock on most calls and calloc clearing what a fresh process's heap \
             gets cleared by the kernel (the worker grows that heap once, up front, which \
             took back part of the gap: some 5,600 mprotect calls a compile before, a few \
             hundred now)."
        }
        ("partition/gpt", _) => {
            "the part_* calls are libguestfs's one-edit-per-call API: each of the 25 opens the \
             image, reads the table, checks the edit against it, rewrites both GPT copies and \
             flushes them to disk (fdatasync): 25 flushes where sfdisk makes one, so this row \
             follows the disk's flush latency. The same edits through the typed PartitionTable \
             (in memory, one write, one flush) are faster than every peer; batching is what \
             closes it."
        }
        ("command/true", _) => {
            "bare bubblewrap is the floor: VMCraft's sandbox adds what bare bwrap does not do \
             (a capability drop, two seccomp filters, read-only binds over /proc/sys and \
             friends, the session's disks in /dev) and, for memory and process limits, joins a \
             cgroup, which an isolated call pays most for under cgroup v1 (a few ms; nearly \
             nothing back to back); `command` also checks the guest's /bin/sh machine."
        }
        (id, _) if id.starts_with("session/") => {
            "both sides do the same kernel work (loop device, partition nodes, mount); VMCraft also \
             probes the first sector after attaching, reads the table in-process and creates its \
             private 0700 session directories."
        }
        _ => "",
    }
}

pub fn render(meta: &Meta, groups: &[GroupResult]) -> String {
    let mut s = String::new();
    let (commit, dirty) = (&meta.commit, meta.dirty);
    let _ = writeln!(s, "# VMCraft beside its peers\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask bench{}` on {} (commit {commit}{}), {} to {}. Every figure below \
         was measured in that one run, VMCraft and its peers alternating on the same data. \
         Rerun the command to reproduce it; `cargo xtask bench --quick` is the small version CI \
         runs (it checks every result and fails only if one is wrong, never on a time).\n",
        if meta.quick { " --quick" } else { "" },
        utc(meta.started),
        if dirty {
            ", with uncommitted changes in the tree"
        } else {
            ""
        },
        utc(meta.started),
        utc(meta.finished),
    );
    if let Some(only) = &meta.only {
        let _ = writeln!(s, "Only these workloads were run: {}.\n", only.join(", "));
    }
    if meta.quick {
        let _ = writeln!(
            s,
            "**Quick mode**: small sizes and few runs; the figures show that everything works, \
             not how fast it is.\n"
        );
    }

    // Summary.
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "Median per run (per lookup for the probe). *Ratio* is the peer's median divided by \
         VMCraft's: above 1, VMCraft is faster. The row pairs VMCraft with the peer closest to \
         it; a peer told what VMCraft's first contender works out for itself (a mount told the \
         filesystem type) is set against the contender of ours told it too.\n"
    );
    let _ = writeln!(
        s,
        "| workload | VMCraft | fastest peer | its median | ratio | guestfish | ratio |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for g in groups {
        let gf = guestfish_cells(g);
        match (g.reference(), g.closest_peer()) {
            (Some(_), Some((p, r))) => {
                let _ = writeln!(
                    s,
                    "| {} | {} ({}) | {} | {} | {} | {gf} |",
                    g.title,
                    g.median(r).map(fmt_duration).unwrap_or_default(),
                    r.label,
                    p.label,
                    g.median(p).map(fmt_duration).unwrap_or_default(),
                    g.pair_ratio(p).map(fmt_ratio).unwrap_or_default()
                );
            }
            (Some(r), None) => {
                let _ = writeln!(
                    s,
                    "| {} | {} ({}) | - | - | - | {gf} |",
                    g.title,
                    g.median(r).map(fmt_duration).unwrap_or_default(),
                    r.label
                );
            }
            _ => {
                let _ = writeln!(s, "| {} | FAILED | | | | | |", g.title);
            }
        }
    }
    let _ = writeln!(s);

    let failed: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.cases.iter().filter_map(move |c| {
                c.error
                    .as_ref()
                    .map(|e| format!("- {} / {}: {e}", g.id, c.label))
            })
        })
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "## Failures\n\n{}\n", failed.join("\n"));
    }

    // Targets.
    let ts = targets(groups, meta);
    if !ts.is_empty() {
        let _ = writeln!(s, "## Targets from DESIGN.md\n");
        let _ = writeln!(s, "| workload | target | this run | met |");
        let _ = writeln!(s, "|---|---|---|---|");
        for t in &ts {
            let _ = writeln!(
                s,
                "| {} | {} | {}{} | {} |",
                t.workload,
                t.target,
                t.measured,
                if t.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.note)
                },
                match t.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "-",
                }
            );
        }
        let _ = writeln!(s);
    }

    // Behind.
    let _ = writeln!(s, "## Where VMCraft is behind\n");
    let mut any = false;
    for g in groups {
        // Each peer against its counterpart (the reference unless it names
        // another contender of ours that does the same work).
        let ahead: Vec<(&CaseResult, &CaseResult, Duration)> = g
            .cases
            .iter()
            .filter(|c| !c.ours && c.error.is_none())
            .filter_map(|p| {
                let r = g.counterpart(p)?;
                let rm = g.median(r)?;
                g.median(p).filter(|m| *m < rm).map(|_| (p, r, rm))
            })
            .collect();
        for (p, r, rm) in ahead {
            any = true;
            let (rmin, _) = g.range(r);
            let pm = g.median(p).unwrap_or_default();
            // The peer's slowest run, for ranges that overlap without the
            // peer's median being inside VMCraft's.
            let (_, pmax) = g.range(p);
            let spread = if pm >= rmin {
                format!(
                    " That is within the spread of VMCraft's own runs (fastest {}).",
                    fmt_duration(rmin)
                )
            } else if pmax >= rmin {
                format!(
                    " The ranges overlap: VMCraft's fastest run ({}) is faster than the peer's \
                     slowest ({}).",
                    fmt_duration(rmin),
                    fmt_duration(pmax)
                )
            } else {
                String::new()
            };
            let reason = behind_reason(&g.id, &p.label);
            let _ = writeln!(
                s,
                "- **{}**: {} ({}) is faster than {} ({}), {:.0} % of VMCraft's time.{spread}{}",
                g.title,
                p.label,
                fmt_duration(pm),
                r.label,
                fmt_duration(rm),
                100.0 * pm.as_secs_f64() / rm.as_secs_f64(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" {}", capitalise(reason))
                }
            );
        }
    }
    for t in ts.iter().filter(|t| t.met == Some(false)) {
        any = true;
        let _ = writeln!(
            s,
            "- **Target missed, {}**: {} (measured: {}). {}",
            t.workload,
            t.target,
            t.measured,
            target_note(&t.workload)
        );
    }
    if !any {
        let _ = writeln!(s, "Nowhere in this run.");
    }
    let _ = writeln!(s);

    // Machine and tools.
    let _ = writeln!(s, "## Machine\n");
    for (k, v) in sys::machine() {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "- Scratch filesystem: {}", meta.work_fs);
    let _ = writeln!(
        s,
        "- Load average at the start and end of the run: {} / {} (other work on the machine \
         widens the spreads)",
        meta.load_before, meta.load_after
    );
    let _ = writeln!(s, "\n## Tool versions (Debian packages)\n");
    for (k, v) in sys::tool_versions() {
        let _ = writeln!(s, "- {k}: {v}");
    }
    match &meta.guestfish {
        Ok(how) => {
            let _ = writeln!(s, "\nlibguestfs / guestfish, measured in this run: {how}\n");
        }
        Err(why) => {
            let _ = writeln!(
                s,
                "\nlibguestfs / guestfish: not measured in this run ({why}); its rows say \
                 \"not measured\" and no ratio is taken against it.\n"
            );
        }
    }

    // Method.
    let _ = writeln!(s, "## Method\n");
    let _ = writeln!(
        s,
        "- Each workload makes its own data, then runs rounds: a warm-up round, then N measured \
         rounds. In each round every contender runs once, in an order rotated by one from the \
         previous round, so each goes first as often as the others.\n\
         - A run's result is checked after its timed step (same bytes, same tree, same table, \
         the expected file) and its time counts only if the check passed; a failed check fails \
         the whole run.\n\
         - Times are wall-clock; the figures are the median and the range (min - max) of the N \
         measured runs. For peers the timed step is the process(es), each from its start to its \
         exit (several processes: the sum); VMCraft's library calls are timed in the driver \
         process, its command line as a process. Some peers that take seconds a run are measured \
         fewer times (the runs column says).\n\
         - Untimed, before every run: the previous run's output is removed, caches the workload \
         says are empty are emptied, and for the copy and archive workloads the system's dirty \
         pages are written out (`sync`), so one run's writeback does not land in the next.\n\
         - Peak RSS: for processes, `wait4`'s `ru_maxrss` of each process (the largest of the \
         processes of a run, each including the children it waited for; a daemonized \
         qemu-storage-daemon is not included). Each process is started by a small helper \
         (the driver re-executed) so that it is not charged the driver's memory; the helper's \
         own few MiB are a floor under every figure. For VMCraft calls made in the driver, \
         `+X` is what the call added to the driver's resident memory (peak `VmHWM` after \
         resetting it, minus `VmRSS` before); processes VMCraft starts (FUSE drivers, \
         mkfs, qemu-storage-daemon) are not included.\n\
         - The archive tree: {}.\n",
        meta.tree_label
    );

    // Workloads.
    let _ = writeln!(s, "## Workloads\n");
    for g in groups {
        let _ = writeln!(s, "### {} (`{}`)\n", g.title, g.id);
        if !g.what.is_empty() {
            let _ = writeln!(s, "{}.\n", capitalise(&g.what));
        }
        let unit = g.unit.map(|u| format!(" per {u}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "| contender | median{unit} | min - max | runs | ratio | peak RSS | check |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for c in &g.cases {
            if let Some(e) = &c.error {
                let _ = writeln!(
                    s,
                    "| {} | FAILED | | | | | {} |",
                    c.label,
                    e.replace('|', "/").replace('\n', " ")
                );
                continue;
            }
            if c.samples.is_empty() {
                let _ = writeln!(
                    s,
                    "| {} | not measured | | 0 | | | {} |",
                    c.label,
                    c.detail.replace('|', "/").replace('\n', " ")
                );
                continue;
            }
            let (lo, hi) = g.range(c);
            let rss = c.samples.iter().filter_map(|x| x.rss_kib).max();
            let added = c.samples.iter().any(|x| x.rss_added);
            let is_ref = g.reference().is_some_and(|r| std::ptr::eq(r, c));
            let _ = writeln!(
                s,
                "| {}{} | {} | {} - {} | {} | {} | {} | {} |",
                if c.ours { "**" } else { "" },
                if c.ours {
                    format!("{}**", c.label)
                } else {
                    c.label.clone()
                },
                median(&c.samples)
                    .map(|m| fmt_duration(per_op(m, c.per)))
                    .unwrap_or_default(),
                fmt_duration(lo),
                fmt_duration(hi),
                c.samples.len(),
                if is_ref {
                    "1 (reference)".to_string()
                } else {
                    ratio(g, c).map(fmt_ratio).unwrap_or_default()
                },
                match (added, rss) {
                    (true, Some(k)) => format!("+{}", sys::fmt_bytes(k * 1024)),
                    _ => fmt_rss(rss),
                },
                c.detail.replace('|', "/"),
            );
        }
        let _ = writeln!(s, "\nCommands:\n");
        for c in &g.cases {
            if !c.command.is_empty() {
                let _ = writeln!(s, "- {}: `{}`", c.label, c.command);
            }
        }
        for p in g.cases.iter().filter(|c| !c.ours && c.against.is_some()) {
            if let (Some(o), Some(x)) = (g.counterpart(p), g.pair_ratio(p)) {
                let _ = writeln!(
                    s,
                    "\n{} is set against {}, which does the same work: {} (the summary and \
                     the list of where VMCraft is behind use this ratio).",
                    p.label,
                    o.label,
                    fmt_ratio(x)
                );
            }
        }
        for n in &g.notes {
            let _ = writeln!(s, "\n{n}");
        }
        let _ = writeln!(s);
    }
    s
}

/// The summary's guestfish cells (median, ratio) of a group: "-" where the
/// workload has no guestfish row, "not measured" where guestfish did not run.
fn guestfish_cells(g: &GroupResult) -> String {
    let Some(c) = g.cases.iter().find(|c| c.label.starts_with("guestfish")) else {
        return "- | -".into();
    };
    if c.error.is_some() {
        return "FAILED | -".into();
    }
    match g.median(c) {
        Some(m) => format!(
            "{} | {}",
            fmt_duration(m),
            g.pair_ratio(c).map(fmt_ratio).unwrap_or_default()
        ),
        None => "not measured | -".into(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// What would close a missed design target.
fn target_note(workload: &str) -> &'static str {
    match workload {
        w if w.starts_with("session") => {
            "The session is bounded by the kernel work both sides do (loop device, partition \
             nodes, mount, unmount) and, for qcow2, by starting and stopping qemu-storage-daemon."
        }
        "partition edits" => {
            "Each of the 25 calls of the command line is a complete read, check and rewrite of \
             the table (both GPT copies), with one flush at the end; with process start that \
             comes to about 10 ms on an idle disk. Batching the edits of one command line into \
             one PartitionTable write (the typed-table row, under a millisecond on an idle disk) \
             would close it."
        }
        w if w.starts_with("probe") => {
            "A cached lookup should be the name parsed, the cache's lock taken and the answer \
             cloned out; anything more on that path (resolving the device to its host node, a \
             sysfs read, an allocation) shows at once at this scale. The cache answers before \
             resolving and hands out a shared probe with the blkid map built once; what is left \
             is cloning the answer out (five strings for blkid's map)."
        }
        w if w.starts_with("copy") => {
            "Every tool's time here is mostly the kernel writing the data out (the fsync is \
             timed); compare the ranges of the runs before reading a gap into the medians."
        }
        "tar out, gzip" => {
            "Parallel deflate scales with the cores: on 2 cores, 2.5x over gzip needs each core \
             to deflate faster than gzip does at the same level, besides both cores deflating \
             (and the tree being read while they do)."
        }
        w if w.starts_with("tar") => {
            "Extraction is mostly the kernel creating the files and writing their data; tar_in \
             also opens every path through the confined resolver (openat2 RESOLVE_IN_ROOT) and by \
             default checks the archive before anything of it is in the target (`verify_first`, \
             so that a bad archive changes nothing): in one pass through a staging directory \
             when the target is empty, in a pass of its own when it is not (the rows of both, \
             and the unchecked single pass, show what each costs). Compare the ranges: \
             extraction times on a shared disk vary from run to run more than the tools differ."
        }
        "parallel mount" => {
            "Mounts run on a pool of 16 threads, so every mount of a level is in flight at once; \
             a level then takes as long as its slowest mount (fusefat starting a process, btrfs \
             scanning for devices) plus the kernel work of the others on 2 cores. With a mix of \
             types the speedup is bounded by the sum of the mounts over the slowest, which need \
             not grow from one N to the next; on 2 cores it levels off near 2x."
        }
        _ => "",
    }
}
