//! The measuring harness: a [`Case`] is one contender (VMCraft or a peer) with an
//! untimed setup, a timed step and an untimed check; a [`Group`] runs its cases on
//! the same data, round by round, each round in a rotated order so that every
//! contender goes first as often as the others; the first round is a warm-up. A
//! sample counts only after its check passed.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One timed run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall-clock time of the timed step.
    pub wall: Duration,
    /// Peak resident set size in KiB, when known.
    pub rss_kib: Option<u64>,
    /// `rss_kib` is what an in-process call added to the driver's memory, not a
    /// process's whole peak.
    pub rss_added: bool,
}

/// What a timed process printed.
#[derive(Debug, Default, Clone)]
pub struct ProcOutput {
    pub stdout: String,
}

type Setup<'a> = Box<dyn FnMut() -> Result<()> + 'a>;
type Timed<'a> = Box<dyn FnMut() -> Result<Sample> + 'a>;
type Check<'a> = Box<dyn FnMut() -> Result<String> + 'a>;

/// One contender of a group.
pub struct Case<'a> {
    label: String,
    command: String,
    ours: bool,
    setup: Option<Setup<'a>>,
    timed: Timed<'a>,
    check: Check<'a>,
    teardown: Option<Setup<'a>>,
    per: u64,
    max_runs: Option<usize>,
    warm_up: bool,
    against: Option<String>,
}

impl<'a> Case<'a> {
    /// A VMCraft contender.
    pub fn ours(
        label: impl Into<String>,
        command: impl Into<String>,
        timed: impl FnMut() -> Result<Sample> + 'a,
        check: impl FnMut() -> Result<String> + 'a,
    ) -> Self {
        Self::new(label, command, true, timed, check)
    }

    /// A peer.
    pub fn peer(
        label: impl Into<String>,
        command: impl Into<String>,
        timed: impl FnMut() -> Result<Sample> + 'a,
        check: impl FnMut() -> Result<String> + 'a,
    ) -> Self {
        Self::new(label, command, false, timed, check)
    }

    fn new(
        label: impl Into<String>,
        command: impl Into<String>,
        ours: bool,
        timed: impl FnMut() -> Result<Sample> + 'a,
        check: impl FnMut() -> Result<String> + 'a,
    ) -> Self {
        Case {
            label: label.into(),
            command: command.into(),
            ours,
            setup: None,
            timed: Box::new(timed),
            check: Box::new(check),
            teardown: None,
            per: 1,
            max_runs: None,
            warm_up: true,
            against: None,
        }
    }

    /// Set this peer against the VMCraft contender labelled `ours` rather than the
    /// group's reference: for a peer that skips work the reference does (a mount
    /// told the type, against the reference that probes it), the contender of
    /// ours that skips it too.
    pub fn against(mut self, ours: impl Into<String>) -> Self {
        self.against = Some(ours.into());
        self
    }

    /// Measure this contender at most `n` times (for peers that take many seconds
    /// a run), and with `warm_up` false, skip its warm-up round.
    pub fn at_most(mut self, n: usize, warm_up: bool) -> Self {
        self.max_runs = Some(n.max(1));
        self.warm_up = warm_up;
        self
    }

    /// Each timed run does `n` operations; figures are reported per operation.
    pub fn per(mut self, n: u64) -> Self {
        self.per = n.max(1);
        self
    }

    /// Untimed work before every timed run (fresh output file, empty cache, ...).
    pub fn setup(mut self, f: impl FnMut() -> Result<()> + 'a) -> Self {
        self.setup = Some(Box::new(f));
        self
    }

    /// Untimed work after every check (unmount, remove output).
    pub fn teardown(mut self, f: impl FnMut() -> Result<()> + 'a) -> Self {
        self.teardown = Some(Box::new(f));
        self
    }
}

/// Contenders measured side by side on the same data.
pub struct Group<'a> {
    pub id: String,
    pub title: String,
    /// What one timed run does, for the report.
    pub what: String,
    /// What one operation is, when cases report per operation (`lookup`).
    pub unit: Option<&'static str>,
    pub runs: usize,
    pub cases: Vec<Case<'a>>,
}

/// A contender's figures.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub label: String,
    pub command: String,
    pub ours: bool,
    /// Operations per timed run.
    pub per: u64,
    pub samples: Vec<Sample>,
    /// What the last check reported about the result (sizes, counts).
    pub detail: String,
    pub error: Option<String>,
    /// For a peer: the label of the VMCraft contender it is set against, when not
    /// the reference ([`Case::against`]).
    pub against: Option<String>,
}

/// A group's figures.
#[derive(Debug, Clone)]
pub struct GroupResult {
    pub id: String,
    pub title: String,
    pub what: String,
    pub unit: Option<&'static str>,
    pub cases: Vec<CaseResult>,
    pub notes: Vec<String>,
}

impl GroupResult {
    /// A group that could not be set up at all.
    pub fn failed(id: &str, title: &str, what: &str, error: String) -> Self {
        GroupResult {
            id: id.to_string(),
            title: title.to_string(),
            what: what.to_string(),
            unit: None,
            cases: vec![CaseResult {
                label: "(setup)".into(),
                command: String::new(),
                ours: true,
                per: 1,
                samples: Vec::new(),
                detail: String::new(),
                error: Some(error),
                against: None,
            }],
            notes: Vec::new(),
        }
    }

    /// Whether any contender failed.
    pub fn failed_any(&self) -> bool {
        self.cases.iter().any(|c| c.error.is_some())
    }

    /// The VMCraft contender the ratios are taken against (the first of ours).
    pub fn reference(&self) -> Option<&CaseResult> {
        self.cases
            .iter()
            .find(|c| c.ours && c.error.is_none() && !c.samples.is_empty())
    }

    /// Median time per operation of a case.
    pub fn median(&self, c: &CaseResult) -> Option<Duration> {
        median(&c.samples).map(|d| per_op(d, c.per))
    }

    /// The fastest and slowest run of a case, per operation (zero without runs).
    pub fn range(&self, c: &CaseResult) -> (Duration, Duration) {
        let walls = || c.samples.iter().map(|x| per_op(x.wall, c.per));
        (
            walls().min().unwrap_or_default(),
            walls().max().unwrap_or_default(),
        )
    }

    /// The VMCraft contender a peer is set against: the one it names
    /// ([`Case::against`]), else the reference.
    pub fn counterpart(&self, peer: &CaseResult) -> Option<&CaseResult> {
        match &peer.against {
            Some(label) => self.case(label),
            None => self.reference(),
        }
    }

    /// A peer's median over its counterpart's: above 1, VMCraft is faster.
    pub fn pair_ratio(&self, peer: &CaseResult) -> Option<f64> {
        let (a, b) = (self.median(peer)?, self.median(self.counterpart(peer)?)?);
        Some(a.as_secs_f64() / b.as_secs_f64().max(1e-12))
    }

    /// The peer closest to VMCraft, each against its counterpart: the lowest
    /// [`pair_ratio`](Self::pair_ratio), with that counterpart. Without pairings
    /// this is the fastest peer against the reference.
    pub fn closest_peer(&self) -> Option<(&CaseResult, &CaseResult)> {
        self.cases
            .iter()
            .filter(|c| !c.ours && c.error.is_none() && !c.samples.is_empty())
            .filter_map(|p| Some((p, self.counterpart(p)?, self.pair_ratio(p)?)))
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(p, o, _)| (p, o))
    }

    /// A case by label.
    pub fn case(&self, label: &str) -> Option<&CaseResult> {
        self.cases
            .iter()
            .find(|c| c.label == label && c.error.is_none() && !c.samples.is_empty())
    }
}

/// The median of the samples' wall times.
pub fn median(samples: &[Sample]) -> Option<Duration> {
    let mut v: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    if v.is_empty() {
        return None;
    }
    v.sort();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// Run a group: one warm-up round, then `runs` measured rounds, rotating the order
/// of the contenders every round. A failing contender is reported and left out of
/// the later rounds; the others go on.
pub fn run_group(mut g: Group<'_>) -> GroupResult {
    let n = g.cases.len();
    let mut results: Vec<CaseResult> = g
        .cases
        .iter()
        .map(|c| CaseResult {
            label: c.label.clone(),
            command: c.command.clone(),
            ours: c.ours,
            per: c.per,
            samples: Vec::new(),
            detail: String::new(),
            error: None,
            against: c.against.clone(),
        })
        .collect();
    let rounds = g.runs + 1;
    for round in 0..rounds {
        let warm = round == 0;
        for k in 0..n {
            let i = (k + round) % n;
            if results[i].error.is_some() {
                continue;
            }
            let case = &mut g.cases[i];
            if (warm && !case.warm_up)
                || (!warm && case.max_runs.is_some_and(|m| results[i].samples.len() >= m))
            {
                continue;
            }
            let outcome = (|| -> Result<(Sample, String)> {
                if let Some(s) = case.setup.as_mut() {
                    s().context("setup")?;
                }
                let sample = (case.timed)()?;
                let detail = (case.check)().context("correctness check")?;
                if let Some(t) = case.teardown.as_mut() {
                    t().context("teardown")?;
                }
                Ok((sample, detail))
            })();
            match outcome {
                Ok((sample, detail)) => {
                    eprintln!(
                        "  {:<24} round {}/{} {:<44} {:>12}{}",
                        g.id,
                        round,
                        g.runs,
                        case.label,
                        fmt_duration(per_op(sample.wall, case.per)),
                        if warm { "  (warm-up)" } else { "" }
                    );
                    if !warm {
                        results[i].samples.push(sample);
                    }
                    results[i].detail = detail;
                }
                Err(e) => {
                    // Leave nothing behind for the next contender.
                    if let Some(t) = case.teardown.as_mut() {
                        let _ = t();
                    }
                    let msg = format!("round {round}: {e:#}");
                    eprintln!("  {} {}: FAILED: {msg}", g.id, case.label);
                    results[i].error = Some(msg);
                }
            }
        }
    }
    GroupResult {
        id: g.id,
        title: g.title,
        what: g.what,
        unit: g.unit,
        cases: results,
        notes: Vec::new(),
    }
}

/// A time divided by a number of operations.
pub fn per_op(d: Duration, per: u64) -> Duration {
    Duration::from_nanos((d.as_nanos() / u128::from(per.max(1))) as u64)
}

/// A duration with a unit that suits it.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Run `f` in this process, timed, with its memory: free heap memory is returned
/// to the kernel (`malloc_trim`), the peak RSS is reset (`/proc/self/clear_refs`
/// 5) and read after (`VmHWM`), and the figure is what the call added to the
/// driver's resident memory at its start.
pub fn in_process<T>(f: impl FnOnce() -> Result<T>) -> Result<(Sample, T)> {
    // Hand memory freed by earlier runs back to the kernel first, or the call
    // would reuse it unseen.
    // SAFETY: malloc_trim only releases free heap memory; no pointer is touched.
    unsafe { libc::malloc_trim(0) };
    let _ = std::fs::write("/proc/self/clear_refs", b"5");
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let v = f()?;
    let wall = start.elapsed();
    let peak = status_kib("VmHWM:");
    Ok((
        Sample {
            wall,
            rss_kib: peak.zip(before).map(|(p, b)| p.saturating_sub(b)),
            rss_added: true,
        },
        v,
    ))
}

fn status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// A process to time: program, arguments, and what its standard input reads
/// (nothing, unless a file is given).
#[derive(Debug, Clone)]
pub struct Proc {
    program: String,
    args: Vec<OsString>,
    stdin: Option<PathBuf>,
}

impl Proc {
    /// Add an argument.
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Feed this file to its standard input.
    pub fn stdin_file(&mut self, path: &Path) -> &mut Self {
        self.stdin = Some(path.to_path_buf());
        self
    }

    fn show(&self) -> String {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A process to time.
pub fn cmd<I, S>(program: &str, args: I) -> Proc
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut p = Proc {
        program: program.to_string(),
        args: Vec::new(),
        stdin: None,
    };
    p.args(args);
    p
}

/// The driver's first argument when it runs as the timing helper.
pub const HELPER_FLAG: &str = "--exec-helper";

/// Run processes one after the other, each required to exit 0. Each is started
/// by a small helper (this binary re-executed) that times it and reads its
/// `wait4` resource usage: a process's peak RSS counts the memory of whatever
/// forked it until its `exec`, so forking the peers from the driver would charge
/// them the driver's memory. The time is the sum of the processes' lifetimes
/// (fork to exit); the peak RSS the largest of any of them, each including the
/// children it waited for, with the helper's own few MiB as a floor.
pub fn processes(procs: &[Proc]) -> Result<(Sample, Vec<ProcOutput>)> {
    let mut wall = Duration::ZERO;
    let mut rss = 0u64;
    let mut outs = Vec::with_capacity(procs.len());
    for p in procs {
        let (w, r, out) = wait_one(p)?;
        wall += w;
        rss = rss.max(r);
        outs.push(out);
    }
    Ok((
        Sample {
            wall,
            rss_kib: Some(rss),
            rss_added: false,
        },
        outs,
    ))
}

/// One process, timed; see [`processes`].
pub fn process(p: &Proc) -> Result<(Sample, ProcOutput)> {
    let (s, mut outs) = processes(std::slice::from_ref(p))?;
    Ok((s, outs.pop().unwrap_or_default()))
}

fn report_path() -> PathBuf {
    std::env::temp_dir().join(format!("sidebyside-helper-{}", std::process::id()))
}

fn wait_one(p: &Proc) -> Result<(Duration, u64, ProcOutput)> {
    let shown = p.show();
    let report = report_path();
    let _ = std::fs::remove_file(&report);
    // /proc/self/exe runs this very binary even if a rebuild has replaced the file.
    let mut c = Command::new("/proc/self/exe");
    c.arg(HELPER_FLAG)
        .arg(&report)
        .arg("--")
        .arg(&p.program)
        .args(&p.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &p.stdin {
        Some(f) => {
            let file =
                std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
            c.stdin(Stdio::from(file));
        }
        None => {
            c.stdin(Stdio::null());
        }
    }
    let out = c
        .output()
        .with_context(|| format!("cannot start {shown}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("`{shown}` failed ({}): {}", out.status, stderr.trim());
    }
    let rep = std::fs::read_to_string(&report).context("reading the helper's report")?;
    let _ = std::fs::remove_file(&report);
    let mut it = rep.split_whitespace().map(|x| x.parse::<u64>());
    let (Some(Ok(ns)), Some(Ok(rss))) = (it.next(), it.next()) else {
        bail!("the helper's report `{rep}` is malformed");
    };
    Ok((Duration::from_nanos(ns), rss, ProcOutput { stdout }))
}

/// The timing helper: `HELPER_FLAG REPORT -- PROGRAM ARGS...`. Runs the program
/// with this process's standard streams, waits for it with `wait4`, writes
/// "<nanoseconds> <peak RSS KiB>" to REPORT, and exits as the program did.
pub fn helper_main(args: &[String]) -> ! {
    let code = (|| -> Result<i32> {
        let (report, rest) = args.split_first().context("no report path")?;
        let rest = rest.strip_prefix(&["--".to_string()]).context("no --")?;
        let (program, pargs) = rest.split_first().context("no program")?;
        let start = Instant::now();
        let child = Command::new(program)
            .args(pargs)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for the kernel to fill in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `pid` is our own child, not yet reaped (the `Child` is never
            // waited on); `status` and `ru` are valid for writes.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            if r == pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err).context("wait4");
            }
        }
        let wall = start.elapsed();
        std::fs::write(report, format!("{} {}\n", wall.as_nanos(), ru.ru_maxrss))?;
        let st = std::process::ExitStatus::from_raw(status);
        Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
    })();
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("sidebyside helper: {e:#}");
            std::process::exit(127)
        }
    }
}

impl Proc {
    /// The program and its arguments, ready to spawn.
    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c
    }
}

/// Run processes `jobs` at a time, each required to exit 0; the time is the wall
/// clock from the first start to the last exit. No peak RSS: the processes are
/// forked from the driver, whose memory would be charged to them.
pub fn parallel(procs: &[Proc], jobs: usize) -> Result<(Sample, Vec<ProcOutput>)> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let outs: Mutex<Vec<Option<Result<ProcOutput>>>> =
        Mutex::new((0..procs.len()).map(|_| None).collect());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(procs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = procs.get(i) else { break };
                    let r = p
                        .command()
                        .stdin(Stdio::null())
                        .output()
                        .with_context(|| format!("cannot start {}", p.show()))
                        .and_then(|o| {
                            if o.status.success() {
                                Ok(ProcOutput {
                                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                                })
                            } else {
                                bail!(
                                    "`{}` failed ({}): {}",
                                    p.show(),
                                    o.status,
                                    String::from_utf8_lossy(&o.stderr).trim()
                                )
                            }
                        });
                    if let Ok(mut v) = outs.lock() {
                        v[i] = Some(r);
                    }
                }
            });
        }
    });
    let wall = start.elapsed();
    let outs = outs
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(anyhow::anyhow!("not run"))))
        .collect::<Result<Vec<_>>>()?;
    Ok((
        Sample {
            wall,
            rss_kib: None,
            rss_added: false,
        },
        outs,
    ))
}
