//! Workload: the Python binding (issue 19), through `vmcraft-python/bench/bench.py
//! --serve`, one Python process holding a read-only session on a small ext4
//! guest and answering the driver's requests (each timed inside Python, so the
//! pipe to the driver is not counted):
//!
//! - `python/per-call`: a cached call (`vfs_type`) from Python
//!   (`g.vfs_type(dev)`) beside the same table call looped in Rust inside the
//!   module (`_bench_invoke`: arguments converted once, no Python in the loop);
//!   the difference of the medians is what Python adds to a call (target: under
//!   2 µs).
//! - `python/session`: a whole session (attach read-only, inspect, mount, read
//!   `/etc/hostname`, shut down) from Python beside the same session through the
//!   `vmcraft` command line (a process start each time).
//!
//! The interpreter is the one `cargo xtask bench` gives with `--python` (the
//! project's virtual environment with the wheel installed: the release wheel
//! for a full run, whatever `cargo xtask test` installed for `--quick`).

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::Ctx;
use crate::harness::{self, Case, Group, GroupResult, Sample};

/// What the guest's `/etc/hostname` holds (bench.py makes it).
const HOSTNAME: &str = "benchguest";

/// Issue 19's target.
const TARGET: &str = "Issue 19's target: under 2 µs added per call from Python.";

/// The serving `bench.py`: a request per line in, `SECONDS RESULT` per line out.
struct Server {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Server {
    fn start(python: &Path, dir: &Path) -> Result<(Server, String)> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("vmcraft-python")
            .join("bench")
            .join("bench.py");
        let mut child = Command::new(python)
            .arg(&script)
            .arg("--serve")
            .arg(dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
        let to = child.stdin.take().context("bench.py's stdin")?;
        let from = BufReader::new(child.stdout.take().context("bench.py's stdout")?);
        let mut s = Server { child, to, from };
        let line = s.line()?;
        let img = line
            .strip_prefix("ready ")
            .with_context(|| format!("bench.py said {line:?} instead of `ready IMAGE`"))?
            .to_string();
        Ok((s, img))
    }

    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.from.read_line(&mut line)? == 0 {
            bail!("bench.py exited (its error is above)");
        }
        Ok(line.trim_end().to_string())
    }

    /// Send `req`; the time bench.py measured and what the call returned.
    fn ask(&mut self, req: &str) -> Result<(Duration, String)> {
        writeln!(self.to, "{req}").context("writing to bench.py")?;
        self.to.flush()?;
        let line = self.line()?;
        let (secs, out) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let secs: f64 = secs
            .parse()
            .with_context(|| format!("bench.py answered {line:?}"))?;
        Ok((Duration::from_secs_f64(secs), out.to_string()))
    }

    fn stop(mut self) -> Result<()> {
        writeln!(self.to, "quit")?;
        self.to.flush()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("bench.py ended with {status}");
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only reached without `stop` on an error path: do not leave it running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let Some(python) = &ctx.python else {
        eprintln!("sidebyside: python: not measured: {}", ctx.python_why);
        return Ok(Vec::new());
    };
    let dir = ctx.path("python");
    std::fs::create_dir_all(&dir)?;
    let (server, img) = Server::start(python, &dir)?;
    let server = RefCell::new(server);
    let calls: u64 = if ctx.quick { 2_000 } else { 20_000 };

    let answered = RefCell::new(String::new());
    let ask = |req: &str| -> Result<Sample> {
        let (wall, out) = server.borrow_mut().ask(req)?;
        *answered.borrow_mut() = out;
        Ok(Sample {
            wall,
            rss_kib: None,
            rss_added: false,
        })
    };
    let expect = &|want: &str| -> Result<String> {
        let got = answered.borrow();
        if got.as_str() != want {
            bail!("answered {got:?}, expected {want:?}");
        }
        Ok(format!("returned {want:?}"))
    };
    let rust_req = format!("rust {calls}");
    let py_req = format!("py {calls}");
    let mut per_call = harness::run_group(Group {
        id: "python/per-call".into(),
        title: "Per-call overhead from Python".into(),
        what: format!(
            "{calls} calls of `vfs_type(\"/dev/sda\")` (cached after the first) on a read-only \
             session of a 32 MiB ext4 image, in one Python process; times are per call"
        ),
        unit: Some("call"),
        runs: ctx.runs(10, 3),
        cases: vec![
            Case::ours(
                "Rust: the table call, no Python in the loop",
                "g._bench_invoke(\"vfs_type\", (dev,), None, N)",
                || ask(&rust_req),
                || expect("ext4"),
            )
            .per(calls),
            Case::ours(
                "Python: g.vfs_type(dev)",
                "for _ in range(N): g.vfs_type(dev)",
                || ask(&py_req),
                || expect("ext4"),
            )
            .per(calls),
        ],
    });
    let medians: Vec<Option<Duration>> =
        per_call.cases.iter().map(|c| per_call.median(c)).collect();
    if let [Some(rust), Some(py)] = medians[..] {
        let added = py.saturating_sub(rust);
        per_call.notes.push(format!(
            "{TARGET} Added per call (medians): {} ({}).",
            harness::fmt_duration(added),
            if added < Duration::from_micros(2) {
                "met"
            } else {
                "not met"
            }
        ));
    }

    let cli_case = ctx.cli.as_ref().map(|cli| {
        let mut p = harness::cmd(&cli.to_string_lossy(), ["--ro", "--format=raw", "-a"]);
        p.args([img.as_str(), "-i", "cat", "/etc/hostname"]);
        let answered = &answered;
        Case::ours(
            "vmcraft command line",
            "vmcraft --ro --format=raw -a IMG -i cat /etc/hostname",
            move || {
                let (s, o) = harness::process(&p)?;
                *answered.borrow_mut() = o.stdout.trim_end().to_string();
                Ok(s)
            },
            move || expect(HOSTNAME),
        )
    });
    let mut cases = vec![Case::ours(
        "Python: a VMCraft() session",
        "with VMCraft() as g: add_drive_opts(IMG, readonly=True); launch(); inspect_os(); \
         mount_all_parallel(...); read_file(\"/etc/hostname\")",
        || ask("session"),
        || expect(HOSTNAME),
    )];
    cases.extend(cli_case);
    let session = harness::run_group(Group {
        id: "python/session".into(),
        title: "A session from Python and from the command line".into(),
        what: "attach the 32 MiB ext4 image read-only, inspect it, mount what inspection says, \
               read /etc/hostname, shut down: in the Python process (the module already \
               imported) and as one `vmcraft` process"
            .into(),
        unit: None,
        runs: ctx.runs(20, 3),
        cases,
    });
    server.into_inner().stop()?;
    Ok(vec![per_call, session])
}
