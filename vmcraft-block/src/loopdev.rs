//! Loop devices through direct ioctls (no `losetup`): find a free device with
//! `LOOP_CTL_GET_FREE`, bind a file with `LOOP_CONFIGURE` (on kernels before 5.8,
//! `LOOP_SET_FD`, then `LOOP_SET_BLOCK_SIZE`, `LOOP_SET_STATUS64` and
//! `LOOP_SET_DIRECT_IO`), detach with `LOOP_CLR_FD`.
//!
//! An attach does what [`LoopOptions`] asks or nothing: the block size and direct
//! I/O are read back from the kernel (which quietly keeps buffered I/O where it
//! cannot do direct I/O), and a device that is not as asked is unbound before the
//! error is returned. [`try_list_loop_devices`] reports a listing it cannot make
//! as an error, never as an empty list.
//!
//! Every device is bound with `LO_FLAGS_AUTOCLEAR` and [`LoopDevice`] keeps a file
//! descriptor open on it, so the kernel releases the device when the last user goes
//! away even if this process dies; dropping a [`LoopDevice`] detaches it at once.
//! That descriptor holds a shared BSD lock on the device
//! ([`crate::DeviceNode::hold_shared_lock`]), so udev leaves its partition table
//! to the holder instead of re-reading it whenever a writer closes the device.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::device::DeviceNode;
use crate::error::{Error, ErrorKind, Result};
use crate::ioctl;

/// How to bind a file to a loop device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopOptions {
    /// Bind read-only: writes through the device fail.
    pub readonly: bool,
    /// Ask the kernel to scan the partition table (harmless where the kernel has no
    /// table parsers; partitions are then added with BLKPG by `vmcraft-part`).
    pub partscan: bool,
    /// Use direct I/O to the backing file. Where the kernel cannot (a filesystem
    /// without `O_DIRECT`, an offset not aligned for it) the attach fails with
    /// [`ErrorKind::Unsupported`] rather than binding with buffered I/O.
    pub direct_io: bool,
    /// Byte offset into the file where the device starts.
    pub offset: u64,
    /// Size limit in bytes (0: up to the end of the file).
    pub size_limit: u64,
    /// Logical block size: 0 for the kernel's default (512 on a file), else a
    /// power of two from 512 to the page size (anything else is refused before a
    /// device is bound).
    pub block_size: u32,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            readonly: false,
            partscan: true,
            direct_io: false,
            offset: 0,
            size_limit: 0,
            block_size: 0,
        }
    }
}

/// A file bound to a loop device; detached on drop.
///
/// ```no_run
/// use vmcraft_block::{BlockDevice, LoopDevice, LoopOptions};
/// let lo = LoopDevice::attach("disk.img", LoopOptions::default())?;
/// println!("{} is {} bytes", lo.path().display(), lo.node().size()?);
/// drop(lo); // detached
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
#[derive(Debug)]
pub struct LoopDevice {
    // `None` once detached: the descriptor is closed so the kernel can finish.
    node: Option<DeviceNode>,
    path: PathBuf,
    backing: PathBuf,
    detached: bool,
}

impl LoopDevice {
    /// Bind `file` to a free loop device.
    pub fn attach(file: impl AsRef<Path>, opts: LoopOptions) -> Result<Self> {
        Self::attach_via(file.as_ref(), opts, Binding::Configure)
    }

    /// [`LoopDevice::attach`], choosing how the device is bound.
    pub(crate) fn attach_via(file: &Path, opts: LoopOptions, binding: Binding) -> Result<Self> {
        check_block_size(file, opts.block_size)?;
        let meta = std::fs::metadata(file)
            .map_err(|e| Error::io("loop_attach", file.display(), "stat", e))?;
        if !meta.is_file() && !std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type()) {
            return Err(crate::device::not_a_device("loop_attach", file, &meta));
        }
        let backing = std::fs::OpenOptions::new()
            .read(true)
            .write(!opts.readonly)
            .open(file)
            .map_err(|e| Error::io("loop_attach", file.display(), "open", e))?;
        let control = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .map_err(|e| Error::io("loop_attach", "/dev/loop-control", "open", e))?;

        // Another process can take the device between GET_FREE and CONFIGURE; the
        // configure then fails with EBUSY and we ask again.
        let mut last_err = None;
        for _ in 0..64 {
            // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
            let n = unsafe { ioctl::loop_ctl_get_free(control.as_raw_fd()) }.map_err(|e| {
                Error::errno("loop_attach", "/dev/loop-control", "LOOP_CTL_GET_FREE", e)
            })?;
            let path = PathBuf::from(format!("/dev/loop{n}"));
            crate::wait::wait_for_path(&path, Duration::from_secs(5))
                .map_err(|e| e.with_call("loop_attach"))?;
            let dev = match std::fs::OpenOptions::new()
                .read(true)
                .write(!opts.readonly)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) => return Err(Error::io("loop_attach", path.display(), "open", e)),
            };
            let bound = configure(&dev, &backing, file, &opts, binding)
                .and_then(|()| check_applied(&dev, &path, file, &opts).map_err(Bind::Failed));
            match bound {
                Ok(()) => {
                    let node = match DeviceNode::open(&path, opts.readonly) {
                        Ok(node) => node,
                        Err(e) => {
                            unbind(dev, &path);
                            return Err(e.with_call("loop_attach"));
                        }
                    };
                    // Lock before the binding descriptor closes: closing a
                    // writable descriptor makes udev re-read the table, which
                    // the lock tells it to leave to us.
                    if let Err(e) = node.hold_shared_lock() {
                        tracing::warn!(device = %path.display(), error = %e,
                            "no shared lock on the new loop device; udev may re-read its partition table under us");
                    }
                    drop(dev);
                    tracing::debug!(device = %path.display(), file = %file.display(), readonly = opts.readonly, "loop device attached");
                    return Ok(LoopDevice {
                        node: Some(node),
                        path: path.clone(),
                        backing: file.to_path_buf(),
                        detached: false,
                    });
                }
                // Taken by someone else since GET_FREE: nothing of ours to undo.
                Err(Bind::Taken(ioctl)) => {
                    last_err = Some(Error::errno(
                        "loop_attach",
                        path.display(),
                        ioctl,
                        nix::errno::Errno::EBUSY,
                    ));
                    continue;
                }
                Err(Bind::Failed(e)) => {
                    unbind(dev, &path);
                    return Err(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Busy,
                "loop_attach",
                file.display(),
                "no free loop device",
            )
        }))
    }

    /// The device node path, e.g. `/dev/loop3`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open device.
    pub fn node(&self) -> &DeviceNode {
        self.node
            .as_ref()
            .expect("a LoopDevice has its node until it is detached")
    }

    /// The file behind the device.
    pub fn backing_file(&self) -> &Path {
        &self.backing
    }

    /// Detach now, reporting failure (drop detaches too, but cannot report).
    pub fn detach(mut self) -> Result<()> {
        self.detach_inner()
    }

    fn detach_inner(&mut self) -> Result<()> {
        if self.detached {
            return Ok(());
        }
        self.detached = true;
        // The device may be briefly busy (a udev probe, a just-closed mount);
        // autoclear finishes the job in any case once the last user closes it.
        let Some(node) = self.node.as_ref() else {
            return Ok(());
        };
        let fd = node.file().as_raw_fd();
        let mut delay = Duration::from_millis(1);
        for _ in 0..12 {
            // SAFETY: LOOP_CLR_FD takes no argument.
            match unsafe { ioctl::loop_clr_fd(fd) } {
                Ok(_) | Err(nix::errno::Errno::ENXIO) => {
                    // The kernel finishes when the last descriptor closes (ours,
                    // now); wait for it so that "dropped" means "gone".
                    let sysfs = node.sysfs_dir().join("loop/backing_file");
                    self.node = None;
                    if crate::wait::wait_until(
                        &self.path.display().to_string(),
                        Duration::from_secs(2),
                        || !sysfs.exists(),
                    )
                    .is_err()
                    {
                        tracing::debug!(device = %self.path.display(), "still in use; the kernel detaches it when its last user closes it");
                    }
                    tracing::debug!(device = %self.path.display(), "loop device detached");
                    return Ok(());
                }
                Err(nix::errno::Errno::EBUSY) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(Error::errno(
                        "loop_detach",
                        self.path.display(),
                        "LOOP_CLR_FD",
                        e,
                    ));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Busy,
            "loop_detach",
            self.path.display(),
            "device still busy; it will be released when its last user closes it",
        ))
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Err(e) = self.detach_inner() {
            tracing::warn!(error = %e, "loop device detach on drop failed");
        }
    }
}

/// How a device is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// `LOOP_CONFIGURE`, falling back to the ioctls one at a time on kernels
    /// before 5.8.
    Configure,
    /// The ioctls one at a time (`LOOP_SET_FD`, ...) whatever the kernel: the
    /// pre-5.8 path, reachable by tests on newer kernels.
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    Legacy,
}

/// Why a device could not be bound.
enum Bind {
    /// The device was bound by someone else first (EBUSY from the ioctl named):
    /// try another.
    Taken(&'static str),
    /// Anything else; the device may be half-configured and must be unbound.
    Failed(Error),
}

/// The logical block size must be one the loop driver takes: a power of two from
/// 512 to the page size (or 0, the default). Checked before anything is bound.
fn check_block_size(file: &Path, block_size: u32) -> Result<()> {
    // SAFETY: sysconf only reads a constant.
    let page = u32::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    if block_size == 0 || (block_size.is_power_of_two() && (512..=page).contains(&block_size)) {
        return Ok(());
    }
    Err(Error::invalid(
        "loop_attach",
        file.display(),
        format!("block size {block_size} is not a power of two from 512 to {page}"),
    ))
}

/// Bind `backing` to `dev` with every setting in `opts`, in one `LOOP_CONFIGURE`
/// or, on kernels before 5.8 (or when `binding` says so), `LOOP_SET_FD` followed
/// by one ioctl per setting. An error after the device was bound is
/// [`Bind::Failed`]: the caller unbinds it.
fn configure(
    dev: &File,
    backing: &File,
    name: &Path,
    opts: &LoopOptions,
    binding: Binding,
) -> Result<(), Bind> {
    let failed = |ioctl: String, e: nix::errno::Errno| {
        Bind::Failed(Error::errno("loop_attach", name.display(), ioctl, e))
    };
    let mut info = ioctl::LoopInfo64 {
        lo_offset: opts.offset,
        lo_sizelimit: opts.size_limit,
        lo_flags: ioctl::LO_FLAGS_AUTOCLEAR,
        ..Default::default()
    };
    if opts.readonly {
        info.lo_flags |= ioctl::LO_FLAGS_READ_ONLY;
    }
    if opts.partscan {
        info.lo_flags |= ioctl::LO_FLAGS_PARTSCAN;
    }
    let name_bytes = name.as_os_str().as_encoded_bytes();
    let n = name_bytes.len().min(63);
    info.lo_file_name[..n].copy_from_slice(&name_bytes[..n]);
    let mut config = ioctl::LoopConfig {
        fd: backing.as_raw_fd() as u32,
        block_size: opts.block_size,
        info,
        reserved: [0; 8],
    };
    if opts.direct_io {
        config.info.lo_flags |= ioctl::LO_FLAGS_DIRECT_IO;
    }
    let configured = match binding {
        // SAFETY: `config` is a live loop_config for the whole call.
        Binding::Configure => unsafe { ioctl::loop_configure(dev.as_raw_fd(), &config) },
        Binding::Legacy => Err(nix::errno::Errno::ENOTTY),
    };
    match configured {
        Ok(_) => return Ok(()),
        Err(nix::errno::Errno::EBUSY) => return Err(Bind::Taken("LOOP_CONFIGURE")),
        // Kernels before 5.8 have no LOOP_CONFIGURE: bind, then apply each
        // setting with its own ioctl (LOOP_SET_STATUS64 ignores the block size
        // and the direct I/O flag).
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOTTY) => {}
        Err(e) => return Err(failed("LOOP_CONFIGURE".into(), e)),
    }
    let fd = dev.as_raw_fd();
    // SAFETY: LOOP_SET_FD takes the backing fd as its argument value.
    match unsafe { ioctl::loop_set_fd(fd, backing.as_raw_fd()) } {
        Ok(_) => {}
        Err(nix::errno::Errno::EBUSY) => return Err(Bind::Taken("LOOP_SET_FD")),
        // Not bound: nothing to undo, but report it as a failure all the same.
        Err(e) => return Err(failed("LOOP_SET_FD".into(), e)),
    }
    // The block size before the status: the partition scan that
    // LOOP_SET_STATUS64 starts then sees the device as it will be.
    if opts.block_size != 0 {
        // SAFETY: LOOP_SET_BLOCK_SIZE takes the size as its argument value.
        unsafe { ioctl::loop_set_block_size(fd, opts.block_size as libc::c_int) }
            .map_err(|e| failed(format!("LOOP_SET_BLOCK_SIZE {}", opts.block_size), e))?;
    }
    // SAFETY: `info` is a live loop_info64 for the whole call.
    unsafe { ioctl::loop_set_status64(fd, &info) }
        .map_err(|e| failed("LOOP_SET_STATUS64".into(), e))?;
    // Direct I/O last: whether the kernel can do it depends on the offset.
    if opts.direct_io {
        // SAFETY: LOOP_SET_DIRECT_IO takes 0 or 1 as its argument value.
        match unsafe { ioctl::loop_set_direct_io(fd, 1) } {
            Ok(_) => {}
            Err(nix::errno::Errno::EINVAL) => {
                return Err(Bind::Failed(no_direct_io(name, opts)));
            }
            Err(e) => return Err(failed("LOOP_SET_DIRECT_IO".into(), e)),
        }
    }
    Ok(())
}

fn no_direct_io(name: &Path, opts: &LoopOptions) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "loop_attach",
        name.display(),
        format!(
            "the kernel cannot use direct I/O on this file at offset {} \
             (its filesystem or the alignment does not allow it)",
            opts.offset
        ),
    )
}

/// Check that the kernel applied what was asked: `LOOP_CONFIGURE` quietly keeps
/// buffered I/O when direct I/O is impossible, and older kernels may ignore a
/// setting. A device that is not what the caller asked for is not returned.
fn check_applied(dev: &File, path: &Path, name: &Path, opts: &LoopOptions) -> Result<()> {
    let fd = dev.as_raw_fd();
    if opts.block_size != 0 {
        let mut got: libc::c_int = 0;
        // SAFETY: BLKSSZGET writes one int through the pointer.
        unsafe { ioctl::blksszget(fd, &mut got) }
            .map_err(|e| Error::errno("loop_attach", path.display(), "BLKSSZGET", e))?;
        if got as u32 != opts.block_size {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "loop_attach",
                name.display(),
                format!(
                    "{} has logical block size {got}, not the {} asked for",
                    path.display(),
                    opts.block_size
                ),
            ));
        }
    }
    if opts.direct_io {
        let mut info = ioctl::LoopInfo64::default();
        // SAFETY: LOOP_GET_STATUS64 fills the loop_info64 it points at.
        unsafe { ioctl::loop_get_status64(fd, &mut info) }
            .map_err(|e| Error::errno("loop_attach", path.display(), "LOOP_GET_STATUS64", e))?;
        if info.lo_flags & ioctl::LO_FLAGS_DIRECT_IO == 0 {
            return Err(no_direct_io(name, opts));
        }
    }
    Ok(())
}

/// Undo a binding that failed half-way: clear it, close the device and wait
/// (briefly) for the kernel to release it, so that a failed attach leaves
/// nothing bound. A device someone else holds open is released by autoclear (or
/// the kernel's own deferred clear) when they close it.
fn unbind(dev: File, path: &Path) {
    // SAFETY: LOOP_CLR_FD takes no argument.
    // ENXIO: it was never bound (LOOP_SET_FD itself failed).
    if let Err(e) = unsafe { ioctl::loop_clr_fd(dev.as_raw_fd()) }
        && e != nix::errno::Errno::ENXIO
    {
        tracing::warn!(device = %path.display(), error = %e, "could not clear a half-configured loop device");
    }
    drop(dev);
    let sysfs = Path::new("/sys/block")
        .join(path.file_name().unwrap_or_default())
        .join("loop/backing_file");
    if crate::wait::wait_until(&path.display().to_string(), Duration::from_secs(2), || {
        !sysfs.exists()
    })
    .is_err()
    {
        tracing::debug!(device = %path.display(), "still in use; the kernel releases it when its last user closes it");
    }
}

/// The loop devices currently bound, with their backing files (from sysfs),
/// sorted by device.
///
/// A listing that cannot be made is an error, never an empty list: a caller
/// asking "is anything still bound?" must not hear "no" because sysfs could not
/// be read. Devices that are unbound, or that vanish while they are listed, are
/// left out.
///
/// ```no_run
/// for (dev, file) in vmcraft_block::loopdev::try_list_loop_devices()? {
///     println!("{} -> {}", dev.display(), file.display());
/// }
/// # Ok::<(), vmcraft_block::Error>(())
/// ```
pub fn try_list_loop_devices() -> Result<Vec<(PathBuf, PathBuf)>> {
    bound_in(Path::new("/sys/block"))
}

/// [`try_list_loop_devices`] for tests and tools that cannot go on without the
/// answer.
///
/// # Panics
///
/// When the listing fails (the error is the panic message): an empty list would
/// let a leak check pass without looking.
pub fn list_loop_devices() -> Vec<(PathBuf, PathBuf)> {
    try_list_loop_devices().unwrap_or_else(|e| panic!("{e}"))
}

const LIST: &str = "list_loop_devices";

/// Whether reading a loop device's attribute failed because the device is no
/// longer bound (removed, unbound, or being torn down).
fn gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::ENXIO) | Some(libc::ENODEV))
}

/// The bound loop devices under `sys_block` (`/sys/block`, or a copy of its layout
/// in tests).
pub(crate) fn bound_in(sys_block: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    use std::os::unix::ffi::OsStrExt;
    let entries = std::fs::read_dir(sys_block)
        .map_err(|e| Error::io(LIST, sys_block.display(), "read directory", e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(LIST, sys_block.display(), "read directory", e))?;
        let name = entry.file_name();
        if !name.as_bytes().starts_with(b"loop") {
            continue;
        }
        let dev = Path::new("/dev").join(&name);
        let attr = entry.path().join("loop/backing_file");
        // A device being torn down while it is looked at answers with a
        // transient error: look once more before calling it one.
        let read = std::fs::read(&attr).or_else(|e| {
            if gone(&e) {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::read(&attr)
        });
        match read {
            Ok(mut backing) => {
                if backing.last() == Some(&b'\n') {
                    backing.pop();
                }
                let backing = std::ffi::OsStr::from_bytes(&backing);
                out.push((dev, PathBuf::from(backing)));
            }
            // No `loop/` attributes: the device is unbound (or was removed or
            // unbound since the directory was read).
            Err(e) if gone(&e) => {}
            Err(e) => {
                return Err(Error::io(
                    LIST,
                    dev.display(),
                    format!("read {} ({e})", attr.display()),
                    e,
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_sysfs_listing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("block");
        let e = bound_in(&missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            format!("list_loop_devices: {}: read directory", missing.display())
        );
    }

    #[test]
    fn an_unreadable_backing_file_is_an_error() {
        // A sysfs tree as the kernel lays it out, with one attribute that cannot be
        // read (a directory where the file should be: EISDIR).
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("loop0/loop")).unwrap();
        std::fs::write(dir.path().join("loop0/loop/backing_file"), "/a.img\n").unwrap();
        std::fs::create_dir_all(dir.path().join("loop1/loop/backing_file")).unwrap();
        let e = bound_in(dir.path()).unwrap_err();
        let attr = dir.path().join("loop1/loop/backing_file");
        assert_eq!(
            e.to_string(),
            format!(
                "list_loop_devices: /dev/loop1: read {} (Is a directory (os error 21))",
                attr.display()
            )
        );
    }

    #[test]
    fn unbound_devices_are_left_out_and_others_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("loop7/loop")).unwrap();
        std::fs::write(dir.path().join("loop7/loop/backing_file"), "/x y.img\n").unwrap();
        std::fs::create_dir_all(dir.path().join("loop2")).unwrap(); // unbound
        std::fs::create_dir_all(dir.path().join("vda")).unwrap();
        assert_eq!(
            bound_in(dir.path()).unwrap(),
            [(PathBuf::from("/dev/loop7"), PathBuf::from("/x y.img"))]
        );
    }
}
