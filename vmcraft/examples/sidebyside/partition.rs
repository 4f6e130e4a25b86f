//! Workload 2, partition edits: on a fresh 10 GiB sparse image, a new GPT and 8
//! partitions, each added, named and typed. VMCraft's `part_*` calls (libguestfs
//! semantics: every call reads, edits and writes the table) and its typed
//! `PartitionTable` (one write), against `sgdisk` one process per edit, `sgdisk`
//! in one process, `sfdisk` with a script and `parted -s`; and the same 25 calls
//! through the `vmcraft` command line and through guestfish, word for word.
//! Every result is read back with `sfdisk --json` and verified with `sgdisk -v`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use vmcraft::block::{BlockDevice, ImageFile};
use vmcraft::part::{PartKind, PartType, PartitionTable};

use crate::harness::{self, Case, Group, GroupResult};
use crate::{Ctx, sys};

const SIZE: u64 = 10 << 30;
/// Each partition: 128 MiB.
const LEN: u64 = 262_144;
const FIRST: u64 = 2048;

/// (name, type GUID, the parted flag that sets that type).
const PARTS: [(&str, &str, &str); 8] = [
    ("efi", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "esp"),
    ("bios", "21686148-6449-6E6F-744E-656564454649", "bios_grub"),
    ("boot", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", ""),
    ("home", "933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "linux-home"),
    ("lvm", "E6D6D379-F507-44C2-A23C-238F2A3DF928", "lvm"),
    ("swap", "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "swap"),
    ("raid", "A19D880F-05FC-4D3B-A006-743F0F84911E", "raid"),
    ("data", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "msftdata"),
];

fn span(i: usize) -> (u64, u64) {
    let start = FIRST + i as u64 * LEN;
    (start, start + LEN - 1)
}

/// The 25 libguestfs calls.
fn part_calls(img: &Path) -> Result<()> {
    let dev = ImageFile::open(img, false)?;
    vmcraft::part::part_init(&dev, "gpt")?;
    for (i, (name, guid, _)) in PARTS.iter().enumerate() {
        let (s, e) = span(i);
        let n = i as i32 + 1;
        vmcraft::part::part_add(&dev, "p", s as i64, e as i64)?;
        vmcraft::part::part_set_name(&dev, n, name)?;
        vmcraft::part::part_set_gpt_type(&dev, n, guid)?;
    }
    Ok(())
}

/// The typed table: every edit in memory, one write.
fn typed_table(img: &Path) -> Result<()> {
    let dev = ImageFile::open(img, false)?;
    let mut t = PartitionTable::new(&dev, PartType::Gpt)?;
    for (i, (name, guid, _)) in PARTS.iter().enumerate() {
        let (s, e) = span(i);
        let n = t.add(PartKind::Primary, s as i64, e as i64)?;
        t.set_name(n, name)?;
        t.set_gpt_type(
            n,
            vmcraft::part::parse_guid(guid).map_err(|e| anyhow::anyhow!("{e}"))?,
        )?;
    }
    t.write(&dev)?;
    dev.flush()?;
    Ok(())
}

fn sgdisk_per_edit(img: &str) -> Vec<harness::Proc> {
    let mut v = vec![harness::cmd("sgdisk", ["-o", img])];
    for (i, (name, guid, _)) in PARTS.iter().enumerate() {
        let (s, e) = span(i);
        let n = i + 1;
        v.push(harness::cmd(
            "sgdisk",
            [format!("-n{n}:{s}:{e}"), img.into()],
        ));
        v.push(harness::cmd(
            "sgdisk",
            [format!("-c{n}:{name}"), img.into()],
        ));
        v.push(harness::cmd(
            "sgdisk",
            [format!("-t{n}:{guid}"), img.into()],
        ));
    }
    v
}

fn sgdisk_one(img: &str) -> harness::Proc {
    let mut args = vec!["-o".to_string()];
    for (i, (name, guid, _)) in PARTS.iter().enumerate() {
        let (s, e) = span(i);
        let n = i + 1;
        args.push(format!("-n{n}:{s}:{e}"));
        args.push(format!("-c{n}:{name}"));
        args.push(format!("-t{n}:{guid}"));
    }
    args.push(img.into());
    harness::cmd("sgdisk", args)
}

fn sfdisk_script() -> String {
    let mut s = String::from("label: gpt\n");
    for (i, (name, guid, _)) in PARTS.iter().enumerate() {
        let (start, _) = span(i);
        s.push_str(&format!(
            "start={start}, size={LEN}, type={guid}, name=\"{name}\"\n"
        ));
    }
    s
}

fn parted_args(img: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-s", img, "unit", "s", "mklabel", "gpt"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (i, (name, _, flag)) in PARTS.iter().enumerate() {
        let (s, e) = span(i);
        let n = i + 1;
        a.extend([
            "mkpart".into(),
            name.to_string(),
            "ext4".into(),
            s.to_string(),
            e.to_string(),
        ]);
        if !flag.is_empty() {
            a.extend(["set".into(), n.to_string(), flag.to_string(), "on".into()]);
        }
    }
    a
}

/// Read the table back with sfdisk and compare it with what was asked for; the
/// backup header and CRCs with `sgdisk -v`.
fn check_table(img: &Path) -> Result<String> {
    let img_s = img.to_string_lossy();
    let json = sys::run("sfdisk", &["--json", &img_s])?;
    let v: serde_json::Value = serde_json::from_str(&json).context("sfdisk --json output")?;
    let t = &v["partitiontable"];
    if t["label"] != "gpt" {
        bail!("label is {}, not gpt", t["label"]);
    }
    let parts = t["partitions"].as_array().context("no partitions")?;
    if parts.len() != PARTS.len() {
        bail!("{} partitions, expected {}", parts.len(), PARTS.len());
    }
    for (i, (p, (name, guid, _))) in parts.iter().zip(PARTS.iter()).enumerate() {
        let (s, _) = span(i);
        let got = (
            p["start"].as_u64(),
            p["size"].as_u64(),
            p["type"].as_str().map(|t| t.to_ascii_uppercase()),
            p["name"].as_str(),
        );
        let want = (Some(s), Some(LEN), Some(guid.to_string()), Some(*name));
        if got != want {
            bail!("partition {}: got {got:?}, expected {want:?}", i + 1);
        }
    }
    let (code, out, err) = sys::run_status("sgdisk", &["-v", &img_s])?;
    if code != 0 || !out.contains("No problems found") {
        bail!("sgdisk -v: {}{}", out.trim(), err.trim());
    }
    Ok("8 partitions as asked; sgdisk -v: no problems".into())
}

pub fn run(ctx: &Ctx) -> Result<Vec<GroupResult>> {
    let img = ctx.path("partition.img");
    let img_s = img.to_string_lossy().to_string();
    let script = ctx.path("partition.sfdisk");
    std::fs::write(&script, sfdisk_script())?;
    let fresh = || sys::sparse_file(&img, SIZE);
    let check = || check_table(&img);
    let cli_args = cli_args(&img_s);
    let shown_args = cli_args.join(" ").replace(&img_s, "IMG");

    let mut cases = vec![
        Case::ours(
            "vmcraft part_* calls (library)",
            "part_init(gpt); 8 x (part_add; part_set_name; part_set_gpt_type) on ImageFile",
            || Ok(harness::in_process(|| part_calls(&img))?.0),
            check,
        )
        .setup(fresh),
        Case::ours(
            "vmcraft PartitionTable (library)",
            "PartitionTable::new(gpt); 8 x (add; set_name; set_gpt_type); write",
            || Ok(harness::in_process(|| typed_table(&img))?.0),
            check,
        )
        .setup(fresh),
    ];
    if let Some(cli) = &ctx.cli {
        let cli = cli.to_string_lossy().to_string();
        let shown = cli_args.join(" ").replace(&img_s, "IMG");
        cases.push(
            Case::ours(
                "vmcraft (command line)",
                format!("vmcraft {shown}"),
                move || Ok(harness::process(&harness::cmd(&cli, &cli_args))?.0),
                check,
            )
            .setup(fresh),
        );
    }
    cases.extend([
        Case::peer(
            "sgdisk, one process",
            "sgdisk -o -n1:START:END -c1:NAME -t1:GUID ... -n8:... IMG",
            || Ok(harness::process(&sgdisk_one(&img_s))?.0),
            check,
        )
        .setup(fresh),
        Case::peer(
            "sfdisk, script",
            "sfdisk --quiet --no-reread --no-tell-kernel IMG < script (label: gpt; 8 x start=, size=, type=, name=)",
            || {
                let mut c = harness::cmd(
                    "sfdisk",
                    ["--quiet", "--no-reread", "--no-tell-kernel", img_s.as_str()],
                );
                c.stdin_file(&script);
                Ok(harness::process(&c)?.0)
            },
            check,
        )
        .setup(fresh),
        Case::peer(
            "parted -s",
            "parted -s IMG unit s mklabel gpt mkpart NAME ext4 START END set N FLAG on ... (flags set the type GUIDs)",
            || {
                Ok(harness::process(&harness::cmd("parted", parted_args(&img_s)))?.0)
            },
            check,
        )
        .setup(fresh),
    ]);
    // About a second a process (sgdisk sleeps after syncing), 25 processes a run:
    // a few runs in the full bench, none in --quick.
    if !ctx.quick {
        cases.push(
            Case::peer(
                "sgdisk, one process per edit",
                "sgdisk -o IMG; then for each partition: sgdisk -nN:START:END IMG; sgdisk -cN:NAME IMG; \
                 sgdisk -tN:GUID IMG (25 processes)",
                || Ok(harness::processes(&sgdisk_per_edit(&img_s))?.0),
                check,
            )
            .setup(fresh)
            .at_most(3, true),
        );
    }
    // guestfish: the command line's very arguments.
    let gf_missing = match crate::guestfish::peer_case(
        ctx,
        "partition/gpt",
        &format!("guestfish {shown_args}"),
        &[&img],
        |inside| self::cli_args(&inside[0]),
        check,
    ) {
        Ok(c) => {
            cases.push(c.setup(fresh));
            None
        }
        Err(row) => Some(*row),
    };
    let mut r = harness::run_group(Group {
        id: "partition/gpt".into(),
        title: "Partition edits".into(),
        what:
            "on a fresh 10 GiB sparse image: a new GPT, then 8 partitions of 128 MiB, each added, \
               named and given a type GUID (25 edits)"
                .into(),
        unit: None,
        runs: ctx.runs(20, 3),
        cases,
    });
    r.notes.push(
        "Like with like: sfdisk runs with `--no-reread --no-tell-kernel`, so it neither asks the \
         kernel to re-read the table nor tells it of the new partitions (the target is an image \
         file, which no kernel device shows), and flushes once when it closes the image; \
         VMCraft's rows do no kernel re-read either (an image file) and flush the table after \
         every call."
            .into(),
    );
    crate::guestfish::finish(&mut r, gf_missing);
    if ctx.quick {
        r.notes.push(
            "sgdisk with one process per edit (about 26 s a run: each process sleeps a second \
             after syncing) runs only in the full bench."
                .into(),
        );
    }
    sys::remove_file(&img)?;
    Ok(vec![r])
}

/// The same edits through the command line, chained in one invocation.
fn cli_args(img: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-a", img, "run", ":", "part-init", "/dev/sda", "gpt"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (i, (name, guid, _)) in PARTS.iter().enumerate() {
        let (s, e) = span(i);
        let n = (i + 1).to_string();
        a.extend([
            ":".into(),
            "part-add".into(),
            "/dev/sda".into(),
            "p".into(),
            s.to_string(),
            e.to_string(),
        ]);
        a.extend([
            ":".into(),
            "part-set-name".into(),
            "/dev/sda".into(),
            n.clone(),
            name.to_string(),
        ]);
        a.extend([
            ":".into(),
            "part-set-gpt-type".into(),
            "/dev/sda".into(),
            n,
            guid.to_string(),
        ]);
    }
    a
}
