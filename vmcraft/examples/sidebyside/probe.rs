//! Workload 3, probe lookups: what is on 8 filesystems (ext2, ext3, ext4, xfs,
//! btrfs, vfat, ntfs, swap), through VMCraft's in-process prober with its cache
//! empty and full, against `blkid` processes. Every answer is compared with
//! `blkid -p`'s TYPE, UUID and LABEL, and with the type and label the filesystem
//! was made with.

use std::cell::RefCell;
use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use vmcraft::{MkfsOptions, VMCraft};

use crate::harness::{self, Case, Group, GroupResult};
use crate::{Ctx, sys};

/// (type, size in MiB, label).
const FILESYSTEMS: [(&str, u64, &str); 8] = [
    ("ext2", 32, "lbl-ext2"),
    ("ext3", 32, "lbl-ext3"),
    ("ext4", 32, "lbl-ext4"),
    ("xfs", 320, "lbl-xfs"),
    ("btrfs", 160, "lbl-btrfs"),
    ("vfat", 32, "LBL-VFAT"),
    ("ntfs", 32, "lbl-ntfs"),
    ("swap", 32, "lbl-swap"),
];

/// The keys compared between VMCraft and blkid.
const KEYS: [&str; 3] = ["TYPE", "UUID", "LABEL"];

type Map = BTreeMap<String, String>;

fn make_image(img: &std::path::Path) -> Result<()> {
    let total: u64 = FILESYSTEMS.iter().map(|f| f.1).sum::<u64>() + 4;
    sys::sparse_file(img, total << 20)?;
    let g = VMCraft::new();
    g.add_drive_opts(
        img,
        vmcraft::DriveOpts {
            format: Some("raw".parse()?),
            ..Default::default()
        },
    )?;
    g.launch()?;
    g.part_init("/dev/sda", "gpt")?;
    let mut start = 2048i64;
    for (fs, mib, _) in FILESYSTEMS {
        let len = (mib as i64) << 11;
        g.part_add("/dev/sda", "p", start, start + len - 1)?;
        start += len;
        let _ = fs;
    }
    for (i, (fs, _, label)) in FILESYSTEMS.iter().enumerate() {
        let dev = format!("/dev/sda{}", i + 1);
        g.mkfs(
            fs,
            &dev,
            &MkfsOptions {
                label: Some(label.to_string()),
                ..Default::default()
            },
        )
        .with_context(|| format!("mkfs {fs} {dev}"))?;
    }
    g.shutdown()?;
    Ok(())
}

/// `blkid -o export` output: one map per device, in order.
fn parse_export(out: &str) -> Vec<Map> {
    let mut v = Vec::new();
    let mut cur = Map::new();
    for line in out.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                v.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some((k, val)) = line.split_once('=') {
            cur.insert(k.to_string(), val.to_string());
        }
    }
    if !cur.is_empty() {
        v.push(cur);
    }
    v
}

fn pick(m: &Map) -> Map {
    m.iter()
        .filter(|(k, _)| KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn compare(got: &[Map], reference: &[Map]) -> Result<String> {
    if got.len() != reference.len() {
        bail!("{} answers for {} devices", got.len(), reference.len());
    }
    for (i, (g, r)) in got.iter().zip(reference).enumerate() {
        let (g, r) = (pick(g), pick(r));
        if g != r {
            bail!("device {}: got {g:?}, blkid -p says {r:?}", i + 1);
        }
    }
    Ok(format!(
        "{} devices: TYPE, UUID, LABEL as blkid -p",
        got.len()
    ))
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let img = ctx.path("probe.img");
    make_image(&img).context("making the image")?;
    let g = VMCraft::new();
    g.add_drive_ro(&img)?;
    g.launch()?;
    let names: Vec<String> = (1..=FILESYSTEMS.len())
        .map(|i| format!("/dev/sda{i}"))
        .collect();
    let hosts: Vec<String> = names
        .iter()
        .map(|n| Ok(g.host_path(n)?.to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;

    // The reference: blkid -p, checked against what each filesystem was made with.
    let reference = parse_export(&sys::run(
        "blkid",
        &[
            &["-p", "-o", "export"],
            hosts
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
        ]
        .concat(),
    )?);
    if reference.len() != FILESYSTEMS.len() {
        bail!(
            "blkid -p described {} of {} devices",
            reference.len(),
            FILESYSTEMS.len()
        );
    }
    for (m, (fs, _, label)) in reference.iter().zip(FILESYSTEMS) {
        if m.get("TYPE").map(String::as_str) != Some(fs)
            || m.get("LABEL").map(String::as_str) != Some(label)
        {
            bail!("blkid -p sees {m:?} where {fs} labelled {label} was made");
        }
    }

    // Cached lookups are timed in batches of k passes over the 8 devices, k chosen
    // so that a batch takes about 0.2 s.
    for d in &names {
        g.blkid(d)?;
    }
    let t0 = std::time::Instant::now();
    for _ in 0..10 {
        for d in &names {
            g.blkid(d)?;
        }
    }
    let pass = t0.elapsed() / 10;
    let k: u64 = (0.2 / pass.as_secs_f64().max(1e-9)).clamp(10.0, 200_000.0) as u64;
    let n = names.len() as u64;
    let got: RefCell<Vec<Map>> = RefCell::new(Vec::new());
    let types: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let outs: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let check_maps = || compare(&got.borrow(), &reference);
    let check_types = || {
        let t = types.borrow();
        let want: Vec<&str> = FILESYSTEMS.iter().map(|f| f.0).collect();
        if *t != want {
            bail!("vfs_type returned {t:?}");
        }
        Ok(format!("{} types as made", t.len()))
    };
    let check_outs = || {
        let maps: Vec<Map> = outs.borrow().iter().flat_map(|o| parse_export(o)).collect();
        compare(&maps, &reference)
    };
    let blkid_each = |probe: bool| {
        hosts
            .iter()
            .map(|h| {
                let mut c = harness::cmd("blkid", if probe { vec!["-p"] } else { vec![] });
                c.args(["-o", "export", h]);
                c
            })
            .collect::<Vec<_>>()
    };

    let cases = vec![
        Case::ours(
            "vmcraft blkid, cache empty",
            "invalidate_probe_cache(); then blkid(dev) for each of the 8 (in-process probe)",
            || {
                let (s, v) = harness::in_process(|| {
                    names
                        .iter()
                        .map(|d| Ok(g.blkid(d)?))
                        .collect::<Result<Vec<_>>>()
                })?;
                *got.borrow_mut() = v;
                Ok(s)
            },
            check_maps,
        )
        .setup(|| {
            g.invalidate_probe_cache();
            Ok(())
        })
        .per(n),
        Case::ours(
            "vmcraft blkid, cached",
            format!("blkid(dev) for each of the 8, {k} times over (answers from the probe cache)"),
            || {
                let (s, v) = harness::in_process(|| {
                    let mut last = Vec::new();
                    for _ in 0..k {
                        last = names
                            .iter()
                            .map(|d| Ok(g.blkid(d)?))
                            .collect::<Result<Vec<_>>>()?;
                    }
                    Ok(last)
                })?;
                *got.borrow_mut() = v;
                Ok(s)
            },
            check_maps,
        )
        .per(n * k),
        Case::ours(
            "vmcraft vfs_type, cached",
            format!(
                "vfs_type(dev) for each of the 8, {k} times over (answers from the probe cache)"
            ),
            || {
                let (s, v) = harness::in_process(|| {
                    let mut last = Vec::new();
                    for _ in 0..k {
                        last = names
                            .iter()
                            .map(|d| Ok(g.vfs_type(d)?))
                            .collect::<Result<Vec<_>>>()?;
                    }
                    Ok(last)
                })?;
                *types.borrow_mut() = v;
                Ok(s)
            },
            check_types,
        )
        .per(n * k),
        Case::peer(
            "blkid -p, one process per device",
            "blkid -p -o export DEV, 8 processes",
            || {
                let (s, o) = harness::processes(&blkid_each(true))?;
                *outs.borrow_mut() = o.into_iter().map(|o| o.stdout).collect();
                Ok(s)
            },
            check_outs,
        )
        .per(n),
        Case::peer(
            "blkid -p, one process for all 8",
            "blkid -p -o export DEV1 ... DEV8",
            || {
                let mut c = harness::cmd("blkid", ["-p", "-o", "export"]);
                c.args(&hosts);
                let (s, o) = harness::process(&c)?;
                *outs.borrow_mut() = vec![o.stdout];
                Ok(s)
            },
            check_outs,
        )
        .per(n),
        Case::peer(
            "blkid (its cache file), one process per device",
            "blkid -o export DEV, 8 processes (answers checked against /run/blkid/blkid.tab)",
            || {
                let (s, o) = harness::processes(&blkid_each(false))?;
                *outs.borrow_mut() = o.into_iter().map(|o| o.stdout).collect();
                Ok(s)
            },
            check_outs,
        )
        .per(n),
    ];
    let r = harness::run_group(Group {
        id: "probe/8 filesystems".into(),
        title: "Filesystem probe".into(),
        what: "what is on each of 8 partitions (ext2, ext3, ext4, xfs, btrfs, vfat, ntfs, swap) of an \
               attached image; figures per lookup"
            .into(),
        unit: Some("lookup"),
        runs: ctx.runs(15, 3),
        cases,
    });
    g.shutdown()?;
    drop(g);
    sys::remove_file(&img)?;
    Ok(vec![r])
}
