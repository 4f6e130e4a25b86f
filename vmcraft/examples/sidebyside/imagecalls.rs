//! Groups that run the same guestfish commands, word for word, through the
//! `vmcraft` command line and through guestfish, on the same image files: the
//! rows that compare VMCraft with libguestfs call for call. (The other groups
//! of a workload compare VMCraft's library with the host tools a user would
//! script instead.) Each run starts from fresh image files, made untimed, and
//! its result is checked with a tool of its own (sfdisk, debugfs, tar,
//! a byte comparison) before its time counts.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::Ctx;
use crate::harness::{self, Case, Group, GroupResult};

/// One such group.
pub struct ImageCall<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// What one timed run does, for the report.
    pub what: String,
    /// The files the arguments name, with the placeholder each is shown as
    /// (`IMG`, `ARCHIVE`).
    pub files: Vec<(PathBuf, &'static str)>,
    /// The arguments (the same for both tools), from the files' paths as the
    /// tool sees them.
    pub args: &'a dyn Fn(&[String]) -> Vec<String>,
    /// Untimed, before every run: fresh images.
    pub fresh: &'a dyn Fn() -> Result<()>,
    /// The result's check.
    pub check: &'a dyn Fn() -> Result<String>,
    pub runs: usize,
}

/// Run the group: `vmcraft ARGS` beside `guestfish ARGS`.
pub fn group(ctx: &Ctx, c: ImageCall<'_>) -> GroupResult {
    let shown = (c.args)(
        &c.files
            .iter()
            .map(|(_, name)| name.to_string())
            .collect::<Vec<_>>(),
    )
    .join(" ");
    let Some(cli) = &ctx.cli else {
        return GroupResult::failed(
            c.id,
            c.title,
            &c.what,
            "the vmcraft command line was not built".into(),
        );
    };
    let host: Vec<String> = c
        .files
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    let p = harness::cmd(&cli.to_string_lossy(), (c.args)(&host));
    let (check, fresh) = (c.check, c.fresh);
    let mut cases = vec![
        Case::ours(
            "vmcraft (command line)",
            format!("vmcraft {shown}"),
            move || Ok(harness::process(&p)?.0),
            check,
        )
        .setup(fresh),
    ];
    let paths: Vec<&Path> = c.files.iter().map(|(p, _)| p.as_path()).collect();
    let missing = match crate::guestfish::peer_case(
        ctx,
        c.id,
        &format!("guestfish {shown}"),
        &paths,
        c.args,
        check,
    ) {
        Ok(case) => {
            cases.push(case.setup(fresh));
            None
        }
        Err(row) => Some(*row),
    };
    let mut r = harness::run_group(Group {
        id: c.id.to_string(),
        title: c.title.to_string(),
        what: c.what,
        unit: None,
        runs: c.runs,
        cases,
    });
    crate::guestfish::finish(&mut r, missing);
    r
}

/// `debugfs -R "cat PATH" IMG`: a file of an ext4 image, read without mounting.
pub fn debugfs_cat(img: &Path, path: &str) -> Result<String> {
    crate::sys::run(
        "debugfs",
        &["-R", &format!("cat {path}"), &img.to_string_lossy()],
    )
}

/// `e2fsck -fn IMG` must find nothing to fix.
pub fn e2fsck_clean(img: &Path) -> Result<()> {
    let (code, out, err) = crate::sys::run_status("e2fsck", &["-fn", &img.to_string_lossy()])?;
    if code != 0 {
        anyhow::bail!("e2fsck -fn: exit {code}: {}{}", out.trim(), err.trim());
    }
    Ok(())
}

/// An ext4 image of `size` bytes at `img`, holding `tree` (`mkfs.ext4 -d`).
pub fn ext4_image(img: &Path, size: u64, tree: Option<&Path>) -> Result<()> {
    crate::sys::remove_file(img)?;
    crate::sys::sparse_file(img, size)?;
    let img_s = img.to_string_lossy();
    let mut args = vec!["-q", "-F", "-L", "guest"];
    let tree_s = tree.map(|t| t.to_string_lossy().into_owned());
    if let Some(t) = &tree_s {
        args.extend(["-d", t.as_str()]);
    }
    args.push(&img_s);
    crate::sys::run("mkfs.ext4", &args)?;
    Ok(())
}

/// Copy `template` to `img` (sparse), replacing it.
pub fn copy_image(template: &Path, img: &Path) -> Result<()> {
    crate::sys::remove_file(img)?;
    crate::sys::run(
        "cp",
        &[
            "--sparse=always",
            &template.to_string_lossy(),
            &img.to_string_lossy(),
        ],
    )?;
    Ok(())
}
