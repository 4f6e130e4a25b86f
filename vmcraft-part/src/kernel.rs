//! Bringing the kernel's partitions of a block device in line with its table:
//! [`sync_kernel_partitions`], the BLKPG way (`partx -u`), one partition at a time.
//!
//! BLKRRPART re-reads the whole table and fails with EBUSY while any partition
//! of the disk is in use; it also needs the kernel's own table parsers, which some
//! kernels (this project's machines among them) do not have. BLKPG changes one
//! partition at a time, so partitions that did not change are left alone — a
//! mounted `p1` stays mounted while `p2` is added, resized or deleted. The plan is
//! ordered so that no step overlaps a partition the kernel still has: deletions
//! first, then shrinks, then growths, then additions. Afterwards the call waits
//! (polling, no udev) until `/dev` has a node for every partition, carrying the
//! right device number, and none for the deleted ones.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use vmcraft_block::{BlockDevice, DeviceNode, KernelPartition};

use crate::error::{Ctx, ErrorKind, Result};
use crate::table::PartitionTable;

/// How long [`sync_kernel_partitions`] waits for `/dev` nodes to appear or vanish.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(10);

/// A partition as the kernel should have it: number, start and length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub number: u32,
    pub start: u64,
    pub size: u64,
}

/// One BLKPG step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Delete(KernelPartition),
    Resize(Wanted),
    Add(Wanted),
}

/// The steps that turn `current` into `wanted`, in a safe order.
pub(crate) fn plan(current: &[KernelPartition], wanted: &[Wanted]) -> Vec<Step> {
    let mut deletes = Vec::new();
    let mut shrinks = Vec::new();
    let mut grows = Vec::new();
    let mut adds = Vec::new();
    for k in current {
        match wanted.iter().find(|w| w.number == k.number) {
            Some(w) if w.start == k.start => {
                if w.size < k.size {
                    shrinks.push(Step::Resize(*w));
                } else if w.size > k.size {
                    grows.push(Step::Resize(*w));
                }
            }
            _ => deletes.push(Step::Delete(k.clone())),
        }
    }
    for w in wanted {
        match current.iter().find(|k| k.number == w.number) {
            Some(k) if k.start == w.start => {}
            _ => adds.push(Step::Add(*w)),
        }
    }
    deletes
        .into_iter()
        .chain(shrinks)
        .chain(grows)
        .chain(adds)
        .collect()
}

/// Refuse (before anything is written) a plan that would delete a partition that
/// is in use: the kernel refuses to drop a partition anything has open, mounted
/// or claimed, or merely opened by a process or a loop device (see
/// [`crate::busy`]).
pub(crate) fn check_busy(steps: &[Step], ctx: &Ctx) -> Result<()> {
    for step in steps {
        if let Step::Delete(k) = step
            && let Some(why) = crate::busy::holder(&k.node)
        {
            return Err(ctx.err(
                ErrorKind::Busy,
                format!(
                    "partition {} ({}) is in use ({why}) and would have to be removed from the kernel",
                    k.number,
                    k.node.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The kernel's partitions as they are, as a layout to go back to.
pub(crate) fn as_wanted(current: &[KernelPartition]) -> Vec<Wanted> {
    current
        .iter()
        .map(|k| Wanted {
            number: k.number,
            start: k.start,
            size: k.size,
        })
        .collect()
}

/// Carry out `steps` on `node`, then wait for the nodes to match `wanted`.
pub(crate) fn apply(
    node: &DeviceNode,
    steps: &[Step],
    wanted: &[Wanted],
    ctx: &Ctx,
) -> Result<Vec<KernelPartition>> {
    let hint = |e: vmcraft_block::Error, what: String| {
        let what = if e.raw_os_error() == Some(libc::EINVAL) {
            format!(
                "{what} (does the device allow partitions? a loop device needs partition scanning)"
            )
        } else {
            what
        };
        ctx.block(what, e)
    };
    let mut gone = Vec::new();
    for step in steps {
        match step {
            Step::Delete(k) => {
                tracing::debug!(device = %node.path().display(), number = k.number, "BLKPG delete");
                node.delete_partition(k.number).map_err(|e| {
                    hint(
                        e,
                        format!("removing partition {} from the kernel", k.number),
                    )
                })?;
                if !wanted.iter().any(|w| w.number == k.number) {
                    gone.push(k.node.clone());
                }
            }
            Step::Resize(w) => {
                tracing::debug!(device = %node.path().display(), number = w.number, size = w.size, "BLKPG resize");
                node.resize_partition(w.number, w.start, w.size)
                    .map_err(|e| {
                        hint(e, format!("resizing partition {} in the kernel", w.number))
                    })?;
            }
            Step::Add(w) => {
                tracing::debug!(device = %node.path().display(), number = w.number, start = w.start, size = w.size, "BLKPG add");
                node.add_partition(w.number, w.start, w.size)
                    .map_err(|e| hint(e, format!("adding partition {} to the kernel", w.number)))?;
            }
        }
    }
    let sysfs = node.sysfs_dir();
    let mut last = Vec::new();
    let waited = vmcraft_block::wait_until(
        &format!("partition nodes of {}", node.path().display()),
        NODE_TIMEOUT,
        || {
            let Ok(parts) = node.kernel_partitions() else {
                return false;
            };
            let ok = parts.len() == wanted.len()
                && parts.iter().zip(wanted).all(|(k, w)| {
                    k.number == w.number
                        && k.start == w.start
                        && k.size == w.size
                        && node_ready(&sysfs, k)
                })
                && gone
                    .iter()
                    .all(|g| !parts.iter().any(|k| &k.node == g) && !g.exists());
            last = parts;
            ok
        },
    );
    waited.map_err(|e| ctx.block("waiting for the kernel's partition nodes", e))?;
    Ok(last)
}

/// Whether the `/dev` node of `k` exists and is the block device sysfs names.
fn node_ready(sysfs: &Path, k: &KernelPartition) -> bool {
    let Some(name) = k.node.file_name() else {
        return false;
    };
    let Ok(want) = std::fs::read_to_string(sysfs.join(name).join("dev")) else {
        return false;
    };
    let Ok(meta) = std::fs::metadata(&k.node) else {
        return false;
    };
    let rdev = meta.rdev();
    meta.file_type().is_block_device()
        && want.trim() == format!("{}:{}", libc::major(rdev), libc::minor(rdev))
}

/// Make the kernel's partitions of `node` equal the partition table on it.
///
/// The table is read in-process (GPT, or MBR with logical partitions from 5);
/// a device with no table loses all its kernel partitions. Partitions the
/// kernel already has with the right start and size are left alone, so this works
/// while another partition of the disk is mounted; one whose start changed is
/// removed and added again, which fails with [`ErrorKind::Busy`] (before any
/// change) if anything holds it open; should the kernel refuse a step all the
/// same, the partitions there were are put back and the error says so. Returns the kernel's partitions afterwards, once
/// their `/dev` nodes exist (waiting up to [`NODE_TIMEOUT`]).
///
/// ```no_run
/// use vmcraft_block::{LoopDevice, LoopOptions};
/// let lo = LoopDevice::attach("disk.img", LoopOptions::default())?;
/// for p in vmcraft_part::sync_kernel_partitions(lo.node())? {
///     println!("{} {} bytes at {}", p.node.display(), p.size, p.start);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sync_kernel_partitions(node: &DeviceNode) -> Result<Vec<KernelPartition>> {
    let ctx = Ctx::new("sync_kernel_partitions", node.name());
    let wanted = match PartitionTable::probe_as(node, &ctx)? {
        Some(table) => table.kernel_layout(),
        None => Vec::new(),
    };
    sync_to(node, &wanted, &ctx)
}

/// How long [`sync_to`] keeps planning and applying again (pausing 40 ms,
/// then longer, up to 640 ms) before it gives up on a kernel whose partitions
/// keep changing or staying busy under it: udev probes every new partition, and
/// on a slow machine that takes a while.
const CONTENDED_WAIT: Duration = Duration::from_secs(5);

/// Whether a BLKPG step failed because the partition was busy (EBUSY: opened
/// for a moment, or added by someone else meanwhile) or gone (ENXIO: removed by
/// someone else meanwhile).
fn contended(e: &crate::Error) -> bool {
    e.block_error()
        .and_then(vmcraft_block::Error::raw_os_error)
        .is_some_and(|code| code == libc::EBUSY || code == libc::ENXIO)
}

/// [`apply`], planned again from the kernel's partitions as they are then
/// while a step fails because someone else changed them meanwhile (udev
/// rereading the table after a writer closed the disk, the driver's own scan of
/// a new NBD connection) or holds one open for a moment (udev's prober), for up
/// to [`CONTENDED_WAIT`]. Returns the last failure after that.
pub(crate) fn apply_contended(
    node: &DeviceNode,
    steps: &[Step],
    wanted: &[Wanted],
    ctx: &Ctx,
) -> Result<Vec<KernelPartition>> {
    let mut result = apply(node, steps, wanted, ctx);
    let started = std::time::Instant::now();
    let mut round: u32 = 1;
    while started.elapsed() < CONTENDED_WAIT
        && let Err(e) = &result
        && contended(e)
    {
        std::thread::sleep(Duration::from_millis(20 << round.min(5)));
        tracing::debug!(device = %node.path().display(), round, error = %e,
            "the kernel's partitions changed under the sync; planning again");
        let now = node
            .kernel_partitions()
            .map_err(|e| ctx.block("listing the kernel's partitions", e))?;
        result = apply(node, &plan(&now, wanted), wanted, ctx);
        round += 1;
    }
    result
}

/// Make the kernel's partitions of `node` equal `wanted`. A step the kernel
/// refuses as busy, or for a partition that has gone, is planned again from the
/// kernel's partitions as they are then, for up to [`CONTENDED_WAIT`] (others,
/// udev above all, change them too or hold one open for a moment); only then
/// are the old ones put back.
pub(crate) fn sync_to(
    node: &DeviceNode,
    wanted: &[Wanted],
    ctx: &Ctx,
) -> Result<Vec<KernelPartition>> {
    let current = node
        .kernel_partitions()
        .map_err(|e| ctx.block("listing the kernel's partitions", e))?;
    let steps = plan(&current, wanted);
    check_busy(&steps, ctx)?;
    apply_contended(node, &steps, wanted, ctx).map_err(|e| {
        // A step refused after the check: put back the partitions there were.
        let old = as_wanted(&current);
        let back = node
            .kernel_partitions()
            .map_err(|e| ctx.block("listing the kernel's partitions", e))
            .and_then(|now| apply(node, &plan(&now, &old), &old, ctx));
        match back {
            Ok(_) => e.with_note("the kernel's partitions were restored"),
            Err(b) => e.with_note(format!(
                "the kernel's partitions could not be restored either ({})",
                vmcraft_block::error_chain(&b)
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn kp(number: u32, start: u64, size: u64) -> KernelPartition {
        KernelPartition {
            number,
            start,
            size,
            node: PathBuf::from(format!("/dev/fake{number}")),
        }
    }

    fn w(number: u32, start: u64, size: u64) -> Wanted {
        Wanted {
            number,
            start,
            size,
        }
    }

    #[test]
    fn unchanged_partitions_are_left_alone() {
        let cur = [kp(1, 1 << 20, 1 << 20), kp(2, 2 << 20, 1 << 20)];
        let want = [w(1, 1 << 20, 1 << 20), w(2, 2 << 20, 1 << 20)];
        assert!(plan(&cur, &want).is_empty());
    }

    #[test]
    fn steps_are_ordered_deletes_shrinks_grows_adds() {
        let cur = [
            kp(1, 100, 50),
            kp(2, 200, 50),
            kp(3, 300, 50),
            kp(4, 400, 50),
        ];
        let want = [
            w(1, 100, 100), // grows
            w(2, 200, 20),  // shrinks
            w(3, 310, 40),  // moved: delete and add
            w(5, 500, 10),  // new
        ];
        let steps = plan(&cur, &want);
        assert_eq!(
            steps,
            vec![
                Step::Delete(kp(3, 300, 50)),
                Step::Delete(kp(4, 400, 50)),
                Step::Resize(w(2, 200, 20)),
                Step::Resize(w(1, 100, 100)),
                Step::Add(w(3, 310, 40)),
                Step::Add(w(5, 500, 10)),
            ]
        );
    }

    #[test]
    fn no_table_removes_everything() {
        let cur = [kp(1, 100, 50), kp(5, 300, 50)];
        assert_eq!(
            plan(&cur, &[]),
            vec![Step::Delete(kp(1, 100, 50)), Step::Delete(kp(5, 300, 50))]
        );
    }

    #[test]
    fn missing_nodes_are_not_busy() {
        let ctx = Ctx::new("part_del", "memory");
        check_busy(&[Step::Delete(kp(1, 100, 50))], &ctx).unwrap();
    }
}
