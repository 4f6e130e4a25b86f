//! Fuzz target: lvm2's JSON reports, as arbitrary bytes, through every call that
//! parses them: `lv_segments`, `lv_linear_segment`, `pvs_full`, `vgs_full`,
//! `lvs_full`. lvm2's output carries what a guest's metadata says (names, tags,
//! extent numbers), so it is parsed as untrusted.
//!
//! The input is two reports split at the first NUL byte: the first is what `lvm
//! lvs` and `lvm vgs` print, the second what `lvm pvs` prints (a fake runner
//! answers with them). Nothing may panic; a segment that parses must have its
//! end and every PV area's start inside 64 bits, and a linear one must be
//! exactly one PV area.
//!
//! ```text
//! cd vmcraft-lvm/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run lvm_reports corpus/lvm_reports seeds/lvm_reports
//! ```

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vmcraft_block::testing::{FakeRunner, Response};
use vmcraft_lvm::{Lvm, LvmOptions, Mode, SegmentArea};

fuzz_target!(|data: &[u8]| {
    let (lvs, pvs) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let fake = Arc::new(FakeRunner::new());
    fake.stub(&["lvm", "lvs"], Response::ok(lvs.to_vec()));
    fake.stub(&["lvm", "vgs"], Response::ok(lvs.to_vec()));
    fake.stub(&["lvm", "pvs"], Response::ok(pvs.to_vec()));
    let opts = LvmOptions {
        mode: Some(Mode::MetadataOnly),
        devices_option: Some(true),
        udev: Some(false),
        timeout: None,
        ..Default::default()
    };
    let lvm = Lvm::with_options(fake, ["/dev/vmcraft-fuzz-a", "/dev/vmcraft-fuzz-b"], opts)
        .expect("a session");
    if let Ok(segs) = lvm.lv_segments("/dev/vg/lv") {
        for s in &segs {
            assert!(s.lv_start.checked_add(s.length).is_some(), "{s:?}");
            assert!(s.areas.len() <= 1024);
            if let Some((_, start)) = s.linear_pv() {
                assert_eq!(s.stripes, 1);
                assert!(matches!(s.areas[..], [SegmentArea::Pv { .. }]));
                assert!(start.checked_add(s.length).is_some(), "{s:?}");
            }
        }
    }
    if let Ok(seg) = lvm.lv_linear_segment("/dev/vg/lv") {
        assert!(seg.linear_pv().is_some());
        assert!(seg.pv_start.checked_add(seg.length).is_some(), "{seg:?}");
    }
    let _ = lvm.pvs_full();
    let _ = lvm.vgs_full();
    let _ = lvm.lvs_full();
});
