//! `mount_all_parallel`: mount many filesystems at once, parents before children
//! (grouped by mount point depth, each level in parallel), a result for every
//! mount point.
//!
//! Each level runs on a rayon pool of its own with [`MOUNT_THREADS`] threads, not
//! on rayon's global pool (one thread per core): a mount mostly waits (on the
//! kernel reading superblocks and journals, on a FUSE driver starting), so more
//! mounts in flight than cores is what lets them overlap.

use std::collections::HashSet;

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::Serialize;

use super::normalize_mountpoint;
use super::strategy::FallbackOutcome;
use crate::error::{Error, Result};
use crate::session::VMCraft;

/// The most mounts of one level in flight at once (the mount pool's threads).
pub const MOUNT_THREADS: usize = 16;

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
            let mount_one = |i: usize| -> Result<FallbackOutcome> {
                let (mp, dev) = &items[i];
                if let Some(parent) = failed
                    .iter()
                    .find(|f| f.as_str() == "/" || mp.starts_with(&format!("{f}/")))
                {
                    return Err(Error::call(
                        crate::ErrorKind::Mount,
                        "mount_all_parallel",
                        mp,
                        format!("not attempted: the parent mount point {parent} was not mounted"),
                    ));
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
                self.mount_with_strategies("mount_all_parallel", dev, mp, "", &strategies)
            };
            let outcomes = run_level(&idx, mount_one);
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

/// The pool the levels are mounted on, made on first use.
fn mount_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(MOUNT_THREADS)
            .thread_name(|i| format!("vmcraft-mount-{i}"))
            .build()
            .map_err(|e| tracing::warn!("no mount pool ({e}); mounting on the global pool"))
            .ok()
    })
    .as_ref()
}

/// Run `f` on every index of one level, in parallel on the mount pool (one item
/// runs on the calling thread).
fn run_level<T: Send>(idx: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<(usize, T)> {
    if idx.len() <= 1 {
        return idx.iter().map(|&i| (i, f(i))).collect();
    }
    let all = || idx.par_iter().map(|&i| (i, f(i))).collect();
    match mount_pool() {
        Some(pool) => pool.install(all),
        None => all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_level_visits_every_index_once() {
        for n in [0, 1, 2, 5, MOUNT_THREADS, MOUNT_THREADS * 3 + 1] {
            let idx: Vec<usize> = (0..n).map(|i| i * 2).collect();
            let mut got = run_level(&idx, |i| i + 1);
            got.sort_unstable();
            let want: Vec<(usize, usize)> = idx.iter().map(|&i| (i, i + 1)).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }

    #[test]
    fn run_level_overlaps_waiting_items() {
        // Items that wait on each other finish only if they run at once (so the
        // pool must exist: the global pool may have fewer threads than items).
        assert!(mount_pool().is_some(), "the mount pool could not be built");
        let idx: Vec<usize> = (0..4).collect();
        let barrier = std::sync::Barrier::new(4);
        let got = run_level(&idx, |i| {
            barrier.wait();
            i
        });
        assert_eq!(got.len(), 4);
    }
}
