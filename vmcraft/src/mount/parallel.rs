//! `mount_all_parallel`: mount many filesystems at once with rayon, parents before
//! children (grouped by mount point depth, each level in parallel), a result for
//! every mount point.

use std::collections::HashSet;

use rayon::prelude::*;
use serde::Serialize;

use super::normalize_mountpoint;
use super::strategy::FallbackOutcome;
use crate::error::{Error, Result};
use crate::session::VMCraft;

/// What happened at one mount point.
#[derive(Debug, Serialize)]
pub struct MountResult {
    /// The mount point.
    pub mountpoint: String,
    /// The device.
    pub device: String,
    /// How it was mounted, or why not.
    #[serde(serialize_with = "ser_result")]
    pub result: Result<FallbackOutcome>,
}

fn ser_result<S: serde::Serializer>(
    r: &Result<FallbackOutcome>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(1))?;
    match r {
        Ok(o) => m.serialize_entry("ok", o)?,
        Err(e) => m.serialize_entry("error", &e.chain())?,
    }
    m.end()
}

/// How `mount_all_parallel` mounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAllOptions {
    /// Mount everything read-only.
    pub readonly: bool,
    /// Use the fallback strategies (`mount_with_fallback`) rather than a plain mount.
    pub fallback: bool,
}

impl VMCraft {
    /// Mount every (mount point, device) pair, parents before children: mount
    /// points are grouped by depth (`/`, then `/boot`, then `/boot/efi`) and each
    /// group is mounted in parallel. A child whose parent failed is not attempted.
    /// Duplicate mount points are refused before anything is mounted. Returns a
    /// result per mount point, in the order given.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let root = &g.inspect_os()?[0];
    /// let mps = g.inspect_get_mountpoints(root)?;
    /// for r in g.mount_all_parallel(&mps, Default::default())? {
    ///     println!("{} {}: {}", r.mountpoint, r.device, if r.result.is_ok() { "ok" } else { "failed" });
    /// }
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mount_all_parallel(
        &self,
        mounts: &[(String, String)],
        opts: MountAllOptions,
    ) -> Result<Vec<MountResult>> {
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        for (mp, dev) in mounts {
            let mp = normalize_mountpoint("mount_all_parallel", mp)?;
            if !seen.insert(mp.clone()) {
                return Err(Error::invalid(
                    "mount_all_parallel",
                    &mp,
                    "mount point given twice",
                ));
            }
            items.push((mp, dev.clone()));
        }
        let depth = |mp: &str| {
            if mp == "/" {
                0
            } else {
                mp.matches('/').count()
            }
        };
        let mut levels: Vec<usize> = items.iter().map(|(mp, _)| depth(mp)).collect();
        levels.sort_unstable();
        levels.dedup();

        let mut results: Vec<Option<Result<FallbackOutcome>>> =
            (0..items.len()).map(|_| None).collect();
        let mut failed: Vec<String> = Vec::new();
        for level in levels {
            let idx: Vec<usize> = (0..items.len())
                .filter(|&i| depth(&items[i].0) == level)
                .collect();
            let outcomes: Vec<(usize, Result<FallbackOutcome>)> = idx
                .par_iter()
                .map(|&i| {
                    let (mp, dev) = &items[i];
                    if let Some(parent) = failed
                        .iter()
                        .find(|f| f.as_str() == "/" || mp.starts_with(&format!("{f}/")))
                    {
                        let e = Error::call(
                            crate::ErrorKind::Mount,
                            "mount_all_parallel",
                            mp,
                            format!(
                                "not attempted: the parent mount point {parent} was not mounted"
                            ),
                        );
                        return (i, Err(e));
                    }
                    let o = [
                        self.config.default_mount_options.as_str(),
                        if opts.readonly { "ro" } else { "" },
                    ]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(",");
                    let strategies = if opts.fallback {
                        super::strategy::fallback_strategies(&o)
                    } else {
                        super::strategy::normal_strategies(&o)
                    };
                    let r =
                        self.mount_with_strategies("mount_all_parallel", dev, mp, "", &strategies);
                    (i, r)
                })
                .collect();
            for (i, r) in outcomes {
                if r.is_err() {
                    failed.push(items[i].0.clone());
                }
                results[i] = Some(r);
            }
        }
        Ok(items
            .into_iter()
            .zip(results)
            .map(|((mountpoint, device), r)| MountResult {
                mountpoint,
                device,
                result: r.expect("every level visited"),
            })
            .collect())
    }
}
