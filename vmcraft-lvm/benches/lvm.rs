//! Benchmarks of vmcraft-lvm.
//!
//! - `report_parse`: `lvs_full` over a canned 100-LV JSON report through the fake
//!   runner: what the crate itself costs (command building, JSON parsing, audit).
//! - `lvs_full_real` (root and lvm2 only): `lvs_full` on a loop device with 10 LVs
//!   through an isolated session, side by side with the same lvm2 command run
//!   bare (no parsing, no audit) and with a session that uses the device filter
//!   alone (no `--devices`).

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use vmcraft_block::testing::{FakeRunner, LoopFixture, Response, is_root};
use vmcraft_block::{CommandRunner, SystemRunner, has_command};
use vmcraft_lvm::{LvSize, Lvm, LvmOptions, Mode};

fn canned_report(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"lv_name":"lv{i}", "lv_uuid":"nDNKGh-mVUf-j3NU-fdAy-NLg3-5H57-vYSM{i:02}", "lv_attr":"-wi-a-----", "lv_major":"-1", "lv_minor":"-1", "lv_kernel_major":"254", "lv_kernel_minor":"{i}", "lv_size":"8388608", "seg_count":"1", "origin":"", "snap_percent":"", "copy_percent":"", "move_pv":"", "lv_tags":"", "mirror_log":"", "lv_modules":""}}"#
            )
        })
        .collect();
    format!(
        r#"  {{ "report": [ {{ "lv": [ {} ] }} ] }}"#,
        rows.join(",\n")
    )
}

fn report_parse(c: &mut Criterion) {
    let fake = Arc::new(FakeRunner::new());
    fake.stub(&["lvm", "lvs"], Response::ok(canned_report(100)));
    let opts = LvmOptions {
        mode: Some(Mode::MetadataOnly),
        devices_option: Some(true),
        udev: Some(false),
        ..Default::default()
    };
    let lvm = Lvm::with_options(fake, ["/dev/vmcraft-bench-a"], opts).unwrap();
    c.bench_function("report_parse/lvs_full_100_lvs_fake_runner", |b| {
        b.iter(|| {
            let lvs = lvm.lvs_full().unwrap();
            assert_eq!(lvs.len(), 100);
            lvm.take_audit_log();
        })
    });
}

fn lvs_full_real(c: &mut Criterion) {
    if !is_root() || !has_command("lvm") {
        eprintln!("skipping: the real lvm2 benchmarks need root and lvm2");
        return;
    }
    let fx = LoopFixture::new("lvm-bench", 64 << 20).expect("loop device");
    let runner = Arc::new(SystemRunner::new());
    let lvm = Lvm::new(runner.clone(), [fx.path()]).unwrap();
    lvm.pvcreate(&[fx.path()]).unwrap();
    lvm.vgcreate("vmcbench", &[fx.path()]).unwrap();
    for i in 0..10 {
        lvm.lvcreate(&format!("lv{i}"), "vmcbench", LvSize::Extents(1))
            .unwrap();
    }
    let filter_only = Lvm::with_options(
        runner.clone(),
        [fx.path()],
        LvmOptions {
            devices_option: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let bare = lvm.lvm_command("lvs").unwrap().args([
        "--reportformat",
        "json",
        "--units",
        "b",
        "--nosuffix",
        "-o",
        "lv_name,lv_uuid,lv_attr,lv_major,lv_minor,lv_kernel_major,lv_kernel_minor,lv_size,seg_count,\
         origin,snap_percent,copy_percent,move_pv,lv_tags,mirror_log,modules",
    ]);

    let mut g = c.benchmark_group("lvs_full_real_10_lvs");
    g.sample_size(20);
    g.bench_function("vmcraft_session", |b| {
        b.iter(|| {
            assert_eq!(lvm.lvs_full().unwrap().len(), 10);
            lvm.take_audit_log();
        })
    });
    g.bench_function("lvm_lvs_bare_same_command", |b| {
        b.iter(|| runner.run(&bare).unwrap())
    });
    g.bench_function("vmcraft_session_filter_only", |b| {
        b.iter(|| {
            assert_eq!(filter_only.lvs_full().unwrap().len(), 10);
            filter_only.take_audit_log();
        })
    });
    g.finish();
    drop(filter_only);
    lvm.lvm_remove_all().unwrap();
}

criterion_group!(benches, report_parse, lvs_full_real);
criterion_main!(benches);
