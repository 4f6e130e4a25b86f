//! Fuzz target: VMCraft's reading of a VMDK text descriptor against qemu's, run
//! with the C library's own `sscanf`.
//!
//! qemu's vmdk driver hands every line of a descriptor (lines split on `\n`, the
//! text ending at the first NUL) to `sscanf(p, "%10s %ld %10s \"%511[^\n\r\"]\"
//! %ld", ...)` and opens the file of every line with four or more conversions
//! whose access word is `RW`. This target does exactly that with libc, on the
//! input turned into a descriptor, and requires that every such file is among the
//! extents [`vmcraft_nbd::inspect_device`] reports, in the same order.
//!
//! ```text
//! cd vmcraft-nbd/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run vmdk_descriptor
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcraft_block::MemoryDisk;
use vmcraft_nbd::{Format, inspect_device};

/// The files qemu's loop opens, as glibc's sscanf reads the lines.
fn qemu_extents(text: &[u8]) -> Vec<Vec<u8>> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut c = text[..end].to_vec();
    c.push(0);
    let mut out = Vec::new();
    let mut at = 0;
    while at < end {
        let mut access = [0u8; 11];
        let mut kind = [0u8; 11];
        let mut file = [0u8; 512];
        let mut sectors: i64 = 0;
        let mut offset: i64 = 0;
        // SAFETY: NUL-terminated input and format; each buffer holds its field
        // width plus the NUL.
        let n = unsafe {
            libc::sscanf(
                c[at..].as_ptr().cast(),
                c"%10s %ld %10s \"%511[^\n\r\"]\" %ld".as_ptr(),
                access.as_mut_ptr(),
                &mut sectors,
                kind.as_mut_ptr(),
                file.as_mut_ptr(),
                &mut offset,
            )
        };
        let cstr = |b: &[u8]| b[..b.iter().position(|&x| x == 0).unwrap_or(b.len())].to_vec();
        if n >= 4 && cstr(&access) == b"RW" {
            out.push(cstr(&file));
        }
        at = match c[at..end].iter().position(|&b| b == b'\n') {
            Some(i) => at + i + 1,
            None => end,
        };
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut text = b"# Disk DescriptorFile\ncreateType=\"vmfs\"\n".to_vec();
    text.extend_from_slice(data);
    let want = qemu_extents(&text);
    let disk = MemoryDisk::from_bytes(text);
    match inspect_device(&disk, Some(Format::Vmdk)) {
        Ok(info) => {
            let got: Vec<Vec<u8>> = info
                .extents
                .iter()
                .filter(|e| e.access == "RW")
                .map(|e| e.file.clone().into_bytes())
                .collect();
            // Names that are not UTF-8 are reported lossily (and refused); compare
            // the valid ones byte for byte.
            let lossy: Vec<Vec<u8>> = want
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned().into_bytes())
                .collect();
            assert_eq!(got, lossy);
        }
        // Refused outright (no extents, too many, a broken parent hint): nothing
        // is attached, which is safe.
        Err(_) => {}
    }
});
