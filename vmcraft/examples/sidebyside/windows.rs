//! Workload: Windows inspection through the command line (issue 21), beside
//! the same command line on the kernel path and guestfish (where its root is
//! cached), on the phony Windows 10 guest of the test suite (an NTFS
//! partition of a GPT disk holding SOFTWARE and SYSTEM hives built from `.reg`
//! text and a `cmd.exe` PE header), converted to qcow2.
//!
//! - `windows/inspect qcow2`: `vmcraft --ro -a IMG -i inspect-get-product-name
//!   /dev/sda1 : inspect-get-osinfo /dev/sda1 : ...` (product name, osinfo,
//!   hostname, versions, variant, architecture, drive mappings): one process
//!   from start to exit (open, inspect from the registry, mount, answer), with
//!   its peak RSS; every contender must print the values the guest was made
//!   with, so guestfish's answers check VMCraft's.

#[path = "../../tests/windows_support/mod.rs"]
mod windows_support;

use anyhow::{Context, Result};

use crate::Ctx;
use crate::harness::GroupResult;
use crate::inprocess::{read_group, target_note};

/// Issue 21's target.
const TARGET: &str = "Issue 21's target for Windows inspection through the command line: \
                      under 100 ms.";

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let cli = ctx
        .cli
        .clone()
        .context("the vmcraft command line was not built")?;
    let v = &windows_support::VERSIONS[1];
    let env = vmcraft_block::testing::TestEnv::new("bench-windows");
    let raw = windows_support::make_guest(&env, v);
    let qcow2 = ctx.path("windows.qcow2");
    crate::sys::run(
        "qemu-img",
        &[
            "convert",
            "-q",
            "-f",
            "raw",
            "-O",
            "qcow2",
            &raw.to_string_lossy(),
            &qcow2.to_string_lossy(),
        ],
    )
    .context("converting the Windows guest to qcow2")?;
    drop(env);
    let calls = [
        "inspect-get-product-name",
        "inspect-get-osinfo",
        "inspect-get-hostname",
        "inspect-get-major-version",
        "inspect-get-minor-version",
        "inspect-get-product-variant",
        "inspect-get-arch",
        "inspect-get-drive-mappings",
    ];
    let mut call = Vec::new();
    for c in calls {
        if !call.is_empty() {
            call.push(":");
        }
        call.extend([c, "/dev/sda1"]);
    }
    let want = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}\nC: /dev/sda1",
        v.product_name, v.osinfo, v.hostname, v.major, v.minor, v.variant, v.arch
    );
    let r = read_group(
        ctx,
        &cli,
        "windows/inspect qcow2",
        "Windows: `-i` and eight `inspect-get-*` calls on a qcow2 image",
        (
            &qcow2,
            &format!(
                "a 50 MiB qcow2 image of a phony {} guest ({}, one NTFS partition with the \
                 SOFTWARE and SYSTEM hives and cmd.exe)",
                v.product_name,
                if v.gpt { "GPT" } else { "MBR" }
            ),
        ),
        &call,
        &want,
    );
    crate::sys::remove_file(&qcow2)?;
    Ok(vec![target_note(r, TARGET)])
}
