//! Fuzz target: read an image header from arbitrary bytes.
//!
//! The input is an in-memory image, read once with format detection and once
//! pinned to each format. Reading must never panic, never loop or allocate in
//! proportion to a value in the header, and whatever it reports must be
//! self-consistent: a reference that [`ImageInfo::check_references`] accepts when
//! references are refused would be a hole.
//!
//! ```text
//! cd vmcraft-nbd/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run inspect_image corpus/inspect_image seeds/inspect_image
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft_block::MemoryDisk;
use vmcraft_nbd::{Format, inspect_device};

fuzz_target!(|data: &[u8]| {
    let disk = MemoryDisk::from_bytes(data.to_vec());
    let formats = std::iter::once(None).chain(Format::ALL.into_iter().map(Some));
    for format in formats {
        if let Ok(info) = inspect_device(&disk, format) {
            if let Some(f) = format {
                assert_eq!(info.format, f);
            }
            // Anything that names another file is refused by default.
            assert_eq!(
                info.check_references("fuzz", false).is_err(),
                info.has_references()
            );
            assert!(info.extents.len() <= 4096);
        }
    }
});
