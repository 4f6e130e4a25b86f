//! Fuzz target: arbitrary bytes as a registry hive, through vmcraft-hivex and
//! the libhivex it binds.
//!
//! The input is the hive file (in a memfd, which libhivex opens by its
//! `/proc/self/fd` name, as it opens a file). The last byte picks how: bit 0
//! recomputes the base block's checksum first (so mutations of the header get
//! past it), bit 1 opens for writing, bit 2 with libhivex's unsafe heuristics.
//! What opens is walked with small limits (every key's name, children, values,
//! each value's key, type, data and conversions, a case-insensitive path);
//! opened for writing, a child is added, values set, a child deleted, and the
//! hive committed to another memfd and opened again. Nothing may crash, hang
//! or grow without bound: the Rust checks before libhivex (vmcraft-hivex's
//! `layout`) are what keep libhivex from reading past the file, and libhivex
//! runs in vmcraft-hivex's confined worker process, so what it does there
//! (an abort, a fault) must come back as an error. (libFuzzer's coverage does
//! not see into the worker: this target steers by the checks and the messages
//! on this side.)
//!
//! Seeds (`seeds/open_hive`): the fixture's blank hive and a SYSTEM hive made
//! from it with `hivexregedit --merge` (keys, and values of each common type).
//!
//! ```text
//! cd vmcraft-hivex/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run open_hive corpus/open_hive seeds/open_hive
//! ```

#![no_main]

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};

use libfuzzer_sys::fuzz_target;
use vmcraft_hivex::{Hive, OpenOptions, SetValue, WalkLimits};

fn memfd(data: &[u8]) -> Option<std::fs::File> {
    // SAFETY: a NUL-terminated name and no flags; the descriptor is owned by
    // the File from here on.
    let fd = unsafe { libc::memfd_create(c"fuzz-hive".as_ptr(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(data).ok()?;
    Some(f)
}

fn name(f: &std::fs::File) -> String {
    format!("/proc/self/fd/{}", f.as_raw_fd())
}

fn read_all(hive: &Hive) {
    let Ok(root) = hive.root() else { return };
    let limits = WalkLimits {
        max_depth: 16,
        max_nodes: 512,
    };
    let _ = hive.walk(root, limits, |_, n| {
        let _ = hive.node_name(n);
        let _ = hive.node_parent(n);
        let _ = hive.node_get_child(n, "Select");
        let _ = hive.node_get_value(n, "");
        for v in hive.node_values(n)?.into_iter().take(64) {
            let _ = hive.value_key(v);
            let _ = hive.value_type(v);
            let _ = hive.value_value(v);
            let _ = hive.value_string(v);
            let _ = hive.value_multiple_strings(v);
            let _ = hive.value_dword(v);
            let _ = hive.value_qword(v);
        }
        Ok(())
    });
    let _ = hive.get_path(&["ControlSet001", "Services", "Über"]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, body)) = data.split_last() else {
        return;
    };
    let mut bytes = body.to_vec();
    if how & 1 != 0 && bytes.len() >= 512 && bytes.starts_with(b"regf") {
        vmcraft_hivex::testing::fix_checksum(&mut bytes);
    }
    let Some(file) = memfd(&bytes) else { return };
    let opts = OpenOptions {
        write: how & 2 != 0,
        unsafe_heuristics: how & 4 != 0,
        ..Default::default()
    };
    let Ok(mut hive) = Hive::open_with(name(&file), opts) else {
        return;
    };
    read_all(&hive);
    if !opts.write {
        return;
    }
    let Ok(root) = hive.root() else { return };
    if let Ok(n) = hive.node_add_child(root, "vioscsi") {
        let _ = hive.node_set_value(n, &SetValue::dword("Start", 0));
        let _ = hive.node_set_value(n, &SetValue::string("Group", "SCSI miniport"));
        let _ = hive.node_set_values(n, &[SetValue::multi_string("Owners", &["a", "b"])]);
    }
    if let Ok(children) = hive.node_children(root)
        && let Some(&first) = children.first()
    {
        let _ = hive.node_delete_child(first);
    }
    let Some(out) = memfd(&[]) else { return };
    if hive.commit(Some(std::path::Path::new(&name(&out)))).is_ok() {
        drop(hive);
        if let Ok(again) = Hive::open(name(&out), false) {
            read_all(&again);
        }
    }
});
