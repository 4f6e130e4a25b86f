//! Loud skips and strict mode.
//!
//! A test that needs root, a tool, or a kernel feature asks first. When the need is
//! not met it prints `skipping: <reason>` on stderr and returns `false`, and the
//! test returns early. Under `VMCRAFT_TEST_STRICT=1` (set by `cargo xtask test` and
//! CI) a missing tool or missing root is a failure instead: setup must have provided
//! them. A missing kernel feature (the nbd module, device-mapper, a filesystem
//! driver) stays a skip even in strict mode, except in the kernel test tier
//! (`VMCRAFT_KERNEL_TIER=1`, set by `cargo xtask test-kernel` inside its virtual
//! machine, whose stock kernel has them all), where it is a failure; every skip is
//! appended to the file named by `VMCRAFT_SKIP_LOG`, which `cargo xtask test`
//! prints at the end of the run.

use std::io::Write;

/// Whether strict mode is on (`VMCRAFT_TEST_STRICT=1`).
pub fn strict() -> bool {
    std::env::var("VMCRAFT_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Whether the tests run in the kernel test tier (`VMCRAFT_KERNEL_TIER=1`): a
/// stock kernel with every feature the tests ask for.
pub fn kernel_tier() -> bool {
    std::env::var("VMCRAFT_KERNEL_TIER").is_ok_and(|v| v == "1")
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

fn record(reason: &str) {
    eprintln!("skipping: {reason}");
    if let Some(path) = std::env::var_os("VMCRAFT_SKIP_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{}: {reason}", test_name());
    }
}

/// Skip (or, in strict mode, fail) for a reason that setup or CI should have
/// prevented.
pub fn skip(reason: &str) -> bool {
    if strict() {
        panic!("strict mode (VMCRAFT_TEST_STRICT=1): this test would skip: {reason}");
    }
    record(reason);
    false
}

/// `true` when running as root; otherwise a loud skip (a failure in strict mode).
pub fn require_root(what: &str) -> bool {
    is_root() || skip(&format!("{what} needs root"))
}

/// `true` when `tool` is installed; otherwise a loud skip (a failure in strict mode).
pub fn require_tool(tool: &str) -> bool {
    match crate::command::find_tool(tool) {
        Ok(_) => true,
        Err(e) => skip(&e.to_string()),
    }
}

/// `true` when the host kernel has `feature`; otherwise a loud skip that stays a skip
/// in strict mode (it is listed at the end of `cargo xtask test`), and a failure in
/// the kernel test tier ([`kernel_tier`]), whose kernel must have it.
pub fn require_kernel_feature(feature: &str, available: bool) -> bool {
    if !available {
        if kernel_tier() {
            panic!("kernel tier (VMCRAFT_KERNEL_TIER=1): the kernel lacks {feature}");
        }
        record(&format!("the host kernel lacks {feature}"));
    }
    available
}
