//! The verification pass of `tar_in`: the whole archive is read through the
//! same [`Framer`] as extraction reads it, and every entry is judged by the
//! same [`check_entry`], so an archive refused by extraction is refused here,
//! before anything is written. Compressed or plain, from a file or a stream,
//! there is one pass; only the way data is skipped differs: a plain tar file
//! is read with `pread` ([`crate::framer::At`]) and its data skipped by offset,
//! so checking a gigabyte archive costs one read per entry, while a
//! decompressed stream is read through. An entry whose data runs past the end
//! of the input is reported as truncated, and a compressed stream's trailer is
//! read and checked.

use crate::check::check_entry;
use crate::framer::{Framer, Next, Source};
use crate::tar_in::{check_cancel, stream_err, truncated};
use vmcraft_fs::root::Result;

/// Check every entry of the decompressed archive `src`, looking at `cancel`
/// before each header.
pub(crate) fn verify<S: Source>(src: S, cancel: Option<&vmcraft_block::CancelToken>) -> Result<()> {
    let mut framer = Framer::new(src);
    loop {
        check_cancel(cancel, "", "cancelled")?;
        match framer.next().map_err(|e| stream_err("", e))? {
            Next::End => break,
            Next::Member(m) => {
                check_entry("", &m.header, &m.side.name, &m.side.link)?;
                if !framer.skip_data().map_err(|e| stream_err("", e))? {
                    return Err(truncated("", &m.side.name));
                }
            }
        }
    }
    framer.into_source().drain().map_err(|e| stream_err("", e))
}
