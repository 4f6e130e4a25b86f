//! The call table is the only place a call is described: every public method of
//! the facade that is a libguestfs-style call has a table entry (and so a command
//! of the command line), and `CALLS.md` is the table's reference as generated now.
//! That every command of the command line is a table entry or one of the command
//! line's own is vmcraft-cli's `call_table` test.
//!
//! The facade's methods are found in its sources: `pub fn` in `impl VMCraft`
//! blocks, and the methods the facade's own macros generate (`part_reader!`,
//! `part_writer!`, `aug_call!` entries).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vmcraft::calls::table;

/// Public facade methods that are not calls: the handle's own API (construction,
/// configuration, escape hatches for Rust callers), and the seed's extensions whose
/// command has another name.
const NOT_CALLS: &[&str] = &[
    // Rust forms of calls with richer arguments or results.
    "aug_init_with",
    "dd_copy",
    "inspect_info",
    "lvcreate_size",
    "lvm_audit_log",
    "mount_entries",
    "mount_with_strategies",
    "mountpoint_host_path",
    "mounts_list",
    // The handle.
    "new",
    "with_config",
    "config",
    "cancel_token",
    "session_dir",
    // Rust-only access to what the calls use.
    "guest_root",
    "resolve_device",
    "host_path",
    "device_on_readonly_drive",
    "kept_attachments",
    "release_kept",
    "state_file",
    // Convenience forms of a call that has its table entry under its
    // libguestfs name.
    "add_drive_opts",
    "add_drive",
    "add_drive_ro",
    "mount_all",
    // libguestfs's `config` (the name `config` is the handle's configuration).
    "config_param",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The names of the facade's public methods.
fn facade_methods() -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut names = BTreeSet::new();
    for f in files {
        if f.components().any(|c| c.as_os_str() == "table") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let mut depth_in_impl: Option<usize> = None;
        let mut depth = 0usize;
        let mut in_macro_block = false;
        for line in text.lines() {
            let t = line.trim();
            if depth_in_impl.is_none()
                && (t.starts_with("impl VMCraft {")
                    || t.starts_with("impl crate::session::VMCraft {"))
            {
                depth_in_impl = Some(depth);
            }
            if let Some(d) = depth_in_impl {
                if depth == d + 1 {
                    if let Some(rest) = t.strip_prefix("pub fn ") {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        names.insert(name);
                    }
                    if t == "part_reader! {" || t == "part_writer! {" || t == "aug_call! {" {
                        in_macro_block = true;
                    }
                } else if in_macro_block
                    && depth == d + 2
                    && !t.starts_with("///")
                    && let Some((name, _)) = t.split_once('(')
                    && !name.is_empty()
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                {
                    names.insert(name.to_string());
                }
            }
            for ch in line.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth = depth.saturating_sub(1);
                        if depth_in_impl.is_some_and(|d| depth == d) {
                            depth_in_impl = None;
                            in_macro_block = false;
                        } else if in_macro_block && depth_in_impl.is_some_and(|d| depth == d + 1) {
                            in_macro_block = false;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    names
}

#[test]
fn every_facade_call_has_a_table_entry() {
    let methods = facade_methods();
    assert!(
        methods.contains("part_add") && methods.contains("aug_get") && methods.contains("cat"),
        "the source scan finds the facade's calls: {methods:?}"
    );
    let entries: BTreeSet<String> = table::all().iter().map(|c| c.call_name()).collect();
    let missing: Vec<&String> = methods
        .iter()
        .filter(|m| !entries.contains(*m) && !NOT_CALLS.contains(&m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "public facade methods without a call table entry (add one in \
         vmcraft/src/calls/table/, or list the method in NOT_CALLS if it is not a \
         call): {missing:?}"
    );
}

#[test]
fn calls_md_is_the_reference_of_the_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../CALLS.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == table::reference(),
        "CALLS.md is not the call table's reference: run `cargo xtask calls`"
    );
}
