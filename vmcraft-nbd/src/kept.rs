//! Attachments kept alive because something on them was still mounted when
//! they were detached or dropped ([`crate::Attachment::detach`], the drop).
//!
//! Tearing such an attachment down would pull the disk out from under the
//! mount: the storage daemon or the NBD server would go, the mount would see
//! I/O errors, and what it had not written yet would be lost. So it is kept
//! here, whole (device, loop device, serving process, runtime files), for as
//! long as this process lives; [`release_kept`] detaches the ones nothing uses
//! any more. When the process exits, its serving processes die with it (they
//! are supervised) and the kernel keeps only the mounts and the devices they
//! hold, for the session reaper.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use crate::attach::Attachment;
use crate::error::{Error, Result};
use crate::options::Backend;

static KEPT: Mutex<Vec<Attachment>> = Mutex::new(Vec::new());

/// One attachment that is kept while in use (see [`kept_attachments`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAttachment {
    /// The image (canonical path).
    pub image: PathBuf,
    /// Its whole-disk device, e.g. `/dev/loop3`.
    pub device: PathBuf,
    /// The backend that made the device.
    pub backend: Backend,
    /// The process serving it (qemu-storage-daemon or qemu-nbd), if any.
    pub daemon_pid: Option<u32>,
    /// The file the loop device is bound to (the image, or the storage
    /// daemon's FUSE export), if any.
    pub loop_backing_file: Option<PathBuf>,
    /// What uses it now; `None` when nothing does any more (the next
    /// [`release_kept`] detaches it).
    pub in_use: Option<String>,
}

pub(crate) fn keep(att: Attachment) {
    KEPT.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(att);
}

/// The attachments this process keeps alive because something on them was
/// mounted when they were detached or dropped.
///
/// ```
/// for k in vmcraft_nbd::kept_attachments() {
///     println!("{} on {} is kept: {:?}", k.image.display(), k.device.display(), k.in_use);
/// }
/// ```
pub fn kept_attachments() -> Vec<KeptAttachment> {
    KEPT.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|a| KeptAttachment {
            image: a.image().to_path_buf(),
            device: a.device().to_path_buf(),
            backend: a.backend(),
            daemon_pid: a.daemon_pid(),
            loop_backing_file: a.loop_backing_file().map(PathBuf::from),
            in_use: a.in_use(),
        })
        .collect()
}

/// Detach every kept attachment that nothing uses any more (after its
/// filesystems were unmounted) and say how many were detached; the ones still
/// in use stay kept. Every detach is attempted; the first error is returned
/// (the rest are logged), and an attachment whose detach failed is not kept.
///
/// ```
/// // After unmounting what was left mounted:
/// let released = vmcraft_nbd::release_kept()?;
/// println!("{released} kept attachments detached");
/// # Ok::<(), vmcraft_nbd::Error>(())
/// ```
pub fn release_kept() -> Result<usize> {
    let free: Vec<Attachment> = {
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        let (busy, free) = std::mem::take(&mut *kept)
            .into_iter()
            .partition(|a| a.in_use().is_some());
        *kept = busy;
        free
    };
    let n = free.len();
    let mut first: Option<Error> = None;
    for mut a in free {
        if let Err(e) = a.try_detach() {
            tracing::warn!(error = %vmcraft_block::error_chain(&e), "releasing a kept attachment");
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(n),
    }
}
