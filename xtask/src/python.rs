//! The Python binding (`vmcraft-python`): its virtual environment, wheel and tests.
//!
//! - A virtual environment under `target/python-venv` (the machine's `python3 -m
//!   venv`), with maturin and pytest from PyPI, made once and reused.
//! - `cargo xtask wheel`: the abi3 wheel (CPython 3.9 and newer, Linux x86_64),
//!   release build, into `target/wheels`; `cargo xtask wheel --stubs` builds and
//!   installs the module in the environment and writes its type stubs
//!   (`vmcraft-python/python/vmcraft/__init__.pyi`) from the call table.
//! - [`test`], a step of `cargo xtask test`: the module built (debug) and installed
//!   into the environment, then its pytest suite (`vmcraft-python/tests`) in strict
//!   mode, on real images. Nothing is written into the work tree (no bytecode, no
//!   pytest cache, the wheel installed rather than developed in place).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util;

/// What the environment gets from PyPI.
const PIP_PACKAGES: &[&str] = &["maturin>=1.5,<2", "pytest>=7"];

fn venv_dir() -> PathBuf {
    util::root().join("target").join("python-venv")
}

fn venv_bin(name: &str) -> PathBuf {
    venv_dir().join("bin").join(name)
}

/// The environment, made (and maturin and pytest installed) when missing.
fn ensure_venv() -> Result<()> {
    let python = venv_bin("python");
    if !python.is_file() {
        std::fs::create_dir_all(util::root().join("target"))?;
        util::run(
            Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(venv_dir()),
        )
        .context("making the virtual environment (Debian: apt-get install python3-venv)")?;
    }
    let ready = venv_bin("maturin").is_file()
        && Command::new(&python)
            .args(["-c", "import pytest"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !ready {
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]);
        pip.args(PIP_PACKAGES);
        util::run(&mut pip)?;
    }
    Ok(())
}

/// Build the wheel (release or debug) into `out` (emptied of older wheels first)
/// and return its path.
fn build_wheel(release: bool, out: &Path) -> Result<PathBuf> {
    ensure_venv()?;
    if out.is_dir() {
        for e in std::fs::read_dir(out)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "whl") {
                std::fs::remove_file(&p)?;
            }
        }
    }
    let root = util::root();
    let mut m = Command::new(venv_bin("maturin"));
    m.current_dir(&root).arg("build");
    if release {
        m.arg("--release");
    }
    m.arg("-m")
        .arg(root.join("vmcraft-python").join("Cargo.toml"))
        .arg("-o")
        .arg(out)
        .arg("--interpreter")
        .arg(venv_bin("python"))
        // The module links the system's libhivex (and opens its libaugeas): a
        // plain linux wheel for this machine's kind, not a manylinux one with
        // the libraries grafted in.
        .args(["--compatibility", "linux", "--auditwheel", "skip"]);
    util::run(&mut m)?;
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match wheels.len() {
        1 => Ok(wheels.remove(0)),
        n => bail!("expected one wheel in {}, found {n}", out.display()),
    }
}

/// Install `wheel` into the environment, replacing the module there.
fn install(wheel: &Path) -> Result<()> {
    util::run(
        Command::new(venv_bin("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(wheel),
    )
}

/// Build the module (debug) and install it into the environment.
fn build_and_install() -> Result<()> {
    let wheel = build_wheel(
        false,
        &util::root().join("target").join("wheels").join("test"),
    )?;
    install(&wheel)
}

/// For `cargo xtask bench`: the environment's interpreter with the module
/// installed. A full run (`release`) builds and installs the release wheel
/// (the figures of a debug build mean nothing); `--quick` uses what `cargo
/// xtask test` installed, and `None` when nothing is. `Err` says why not.
pub fn for_bench(release: bool) -> Result<PathBuf> {
    if release {
        let wheel = build_wheel(
            true,
            &util::root().join("target").join("wheels").join("bench"),
        )?;
        install(&wheel)?;
    }
    let python = venv_bin("python");
    let ok = Command::new(&python)
        .args(["-c", "import vmcraft"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(util::root().join("target"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        bail!(
            "{} cannot import vmcraft (`cargo xtask test` or `cargo xtask wheel --stubs` \
             installs it)",
            python.display()
        );
    }
    Ok(python)
}

/// `cargo xtask test`'s step: build and install the module, then run its pytest
/// suite with `env` (strict mode, the skip log) applied.
pub fn test(env: &dyn Fn(&mut Command)) -> Result<()> {
    build_and_install()?;
    let root = util::root();
    let mut pytest = Command::new(venv_bin("python"));
    pytest
        .current_dir(root.join("vmcraft-python").join("tests"))
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q"])
        .env("PYTHONDONTWRITEBYTECODE", "1");
    env(&mut pytest);
    pytest.current_dir(root.join("vmcraft-python").join("tests"));
    util::run(&mut pytest)
}

/// The stubs' path in the work tree.
fn stubs_path() -> PathBuf {
    util::root()
        .join("vmcraft-python")
        .join("python")
        .join("vmcraft")
        .join("__init__.pyi")
}

/// `cargo xtask wheel [--stubs]`.
pub fn wheel(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None => {
            let wheel = build_wheel(true, &util::root().join("target").join("wheels"))?;
            eprintln!(
                "xtask: wheel: {}\n  install it with: pip install {}",
                wheel.display(),
                wheel.display()
            );
            Ok(())
        }
        Some("--stubs") => {
            build_and_install()?;
            let out = Command::new(venv_bin("python"))
                .current_dir(util::root().join("target"))
                .args(["-m", "vmcraft._stubgen"])
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .output()
                .context("running vmcraft._stubgen")?;
            if !out.status.success() {
                bail!(
                    "vmcraft._stubgen failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::fs::write(stubs_path(), &out.stdout)?;
            eprintln!("xtask: wheel: wrote {}", stubs_path().display());
            Ok(())
        }
        Some(other) => bail!("wheel takes no argument but --stubs (got `{other}`)"),
    }
}
