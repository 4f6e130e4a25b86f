//! Verification of an uncompressed tar file before extraction, by headers
//! alone: each header is read with `pread`, and the data is skipped by offset, so
//! checking a gigabyte archive costs one read per entry rather than a second
//! pass over the data. Names (GNU long names and PAX `path`/`linkpath` records
//! included) and hard-link targets are checked as extraction checks them, and an
//! entry whose data runs past the end of the file is reported as truncated.
//! The bounds of [`crate::limits`] are checked here as the stream reader checks
//! them, with the same messages, and all arithmetic on header fields is checked.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::error::{Error, ErrorKind, Result};
use crate::pax;
use crate::sparse::{MapBuilder, block_is_extended, header_is_extended};
use crate::tar_in::{entry_components, truncated, unsafe_entry};

const CALL: &str = "tar_in";

fn corrupt(what: String) -> Error {
    Error::new(ErrorKind::Corrupt, CALL, "", what)
}

/// A refusal from a shared checker (the sparse map), as the crate's error.
fn refused(e: io::Error) -> Error {
    match crate::limits::refusal(&e) {
        Some(r) => Error::new(r.kind, CALL, "", r.message.clone()),
        None => Error::io(CALL, "", "", e).with_kind(ErrorKind::Corrupt),
    }
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Check every entry of the plain tar file `file`, looking at `cancel` before
/// each header.
pub(crate) fn verify_plain(file: &File, cancel: Option<&vmcraft_block::CancelToken>) -> Result<()> {
    let len = file
        .metadata()
        .map_err(|e| Error::io(CALL, "", "stat", e))?
        .len();
    let read = |buf: &mut [u8], off: u64| -> Result<()> {
        file.read_exact_at(buf, off)
            .map_err(|e| Error::io(CALL, "", "read", e).with_kind(ErrorKind::Corrupt))
    };
    // `off + n`, rounded up to whole blocks, when it stays inside the file.
    let within = |off: u64, n: u64| {
        n.checked_next_multiple_of(512)
            .and_then(|p| off.checked_add(p))
            .filter(|&end| end <= len)
    };
    let mut off = 0u64;
    let mut pending_bytes = 0u64;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut records: Vec<pax::Record> = Vec::new();
    let mut hdr = [0u8; 512];
    loop {
        let pending = long_name.is_some() || long_link.is_some() || !records.is_empty();
        if off == len {
            if pending {
                return Err(corrupt(format!(
                    "archive ends after an extended header at offset {off}, with no member for it"
                )));
            }
            // No end-of-archive blocks: accepted, as the reader accepts it.
            break;
        }
        if off + 512 > len {
            return Err(corrupt(format!(
                "archive is truncated inside the header at offset {off}"
            )));
        }
        crate::tar_in::check_cancel(cancel, "", "cancelled")?;
        read(&mut hdr, off)?;
        if hdr.iter().all(|&b| b == 0) {
            if pending {
                return Err(corrupt(format!(
                    "archive ends after an extended header at offset {off}, with no member for it"
                )));
            }
            break;
        }
        if !pax::checksum_ok(&hdr) {
            return Err(corrupt(format!("bad header checksum at offset {off}")));
        }
        let size = pax::numeric(&hdr[124..136])
            .ok_or_else(|| corrupt(format!("bad size field at offset {off}")))?;
        let recognized = &hdr[257..262] == b"ustar";
        let kind = hdr[156];
        let mut data_off = off + 512;
        let extended =
            crate::limits::check_extended_header(kind, recognized, size, &mut pending_bytes)
                .map_err(refused)?;
        if extended {
            let Some(next) = within(data_off, size) else {
                return Err(corrupt(format!("bad extended header at offset {off}")));
            };
            let mut data = vec![0u8; size as usize];
            read(&mut data, data_off)?;
            match kind {
                b'L' => long_name = Some(cstr(&data).to_vec()),
                b'K' => long_link = Some(cstr(&data).to_vec()),
                _ => records.extend(
                    pax::parse_records(&data)
                        .ok_or_else(|| corrupt(format!("malformed pax header at offset {off}")))?,
                ),
            }
            off = next;
            continue;
        }
        pending_bytes = 0;
        let find = |key: &[u8]| {
            records
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let mut size = size;
        if let Some(s) = find(b"size").and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok()) {
            size = s;
        }
        if kind == b'S' {
            // The map is checked as extraction checks it; the blocks are read
            // from the file, so their number is bounded by its length too.
            if &hdr[257..265] != b"ustar  \0" {
                return Err(corrupt("sparse entry (type S) without a GNU header".into()));
            }
            let mut map = MapBuilder::new(&hdr, size).map_err(refused)?;
            let mut more = header_is_extended(&hdr);
            let mut ext = [0u8; 512];
            while more {
                if within(data_off, 512).is_none() {
                    return Err(corrupt("archive is truncated inside a sparse map".into()));
                }
                read(&mut ext, data_off)?;
                data_off += 512;
                map.add_block(&ext).map_err(refused)?;
                more = block_is_extended(&ext);
            }
            map.finish().map_err(refused)?;
        }
        let name = find(b"path")
            .or_else(|| long_name.take())
            .unwrap_or_else(|| {
                let name = cstr(&hdr[..100]);
                let prefix = cstr(&hdr[345..500]);
                if &hdr[257..263] == b"ustar\0" && !prefix.is_empty() {
                    [prefix, b"/", name].concat()
                } else {
                    name.to_vec()
                }
            });
        if kind != b'g' {
            let comps = entry_components(&name).map_err(|why| unsafe_entry("", &name, why))?;
            let dir = kind == b'5' || (matches!(kind, b'0' | 0) && name.ends_with(b"/"));
            if comps.is_empty()
                && !dir
                && matches!(
                    kind,
                    b'0' | 0 | b'1' | b'2' | b'3' | b'4' | b'6' | b'7' | b'S'
                )
            {
                return Err(unsafe_entry(
                    "",
                    &name,
                    "only a directory can stand for the target directory",
                ));
            }
            if kind == b'1' {
                let target = find(b"linkpath")
                    .or_else(|| long_link.take())
                    .unwrap_or_else(|| cstr(&hdr[157..257]).to_vec());
                let t = entry_components(&target).map_err(|why| {
                    unsafe_entry(
                        "",
                        &name,
                        &format!(
                            "hard link target {:?}: {why}",
                            String::from_utf8_lossy(&target)
                        ),
                    )
                })?;
                if t.is_empty() {
                    return Err(unsafe_entry("", &name, "hard link to the target directory"));
                }
            }
        }
        let Some(next) = within(data_off, size) else {
            return Err(truncated("", &name));
        };
        off = next;
        long_name = None;
        long_link = None;
        records.clear();
    }
    Ok(())
}
