//! Guest file manipulation with libguestfs names: hard and symbolic links
//! (`ln`, `ln_f`, `ln_sf`), `rename`, `cp_r`, FIFOs and device nodes (`mkfifo`,
//! `mknod`, `mknod_b`, `mknod_c`), `truncate`, `truncate_size`, `utimens`,
//! `fill`, `fill_pattern`, `fill_dir`, `pread`/`pwrite` and their device forms,
//! `download_offset`/`upload_offset`, `base64_in`/`base64_out`,
//! `checksums_out`, `checksum_device`, `find0`, `readdir`, `mkdtemp`, `mktemp`,
//! `glob_expand`, `cpio_out` and the extended-attribute calls.
//!
//! Every guest path goes through `vmcraft_fs::root::GuestRoot` (chroot
//! semantics, `openat2(RESOLVE_IN_ROOT)`): a guest symlink or `..`, in any
//! component, resolves inside the guest, never to a host file. Calls that act on
//! a final name without following it (`mknod`, `ln`, `rename`, `l*xattr`, ...)
//! resolve the *parent* inside the root and then use an `*at` call on the single
//! name; calls that follow it resolve the whole path to an `O_PATH` descriptor
//! and act on that inode through `/proc/self/fd/N`. Content is read and written
//! only in regular files (a guest FIFO or device node is refused unopened), and
//! what a guest can make these calls allocate is bounded: `pread` by
//! libguestfs's message limit, copies in 1 MiB pieces, xattr values by the
//! kernel's 64 KiB limit.

use std::ffi::{CStr, CString};
use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use vmcraft_fs::root::{Dirent, FileTime, GuestRoot, WriteMode, Xattr};

use crate::error::{Error, Result};
use crate::session::VMCraft;

/// libguestfs's `GUESTFS_MESSAGE_MAX` (4 MiB): the daemon refuses a `pread`
/// whose `count` reaches it ("count is too large for the protocol"), which also
/// bounds what a `pread` allocates here. `pwrite` content is bounded the same way.
pub const MESSAGE_MAX: usize = 4 * 1024 * 1024;

/// The largest extended-attribute value Linux stores (`XATTR_SIZE_MAX`).
const XATTR_SIZE_MAX: usize = 64 * 1024;

/// Copy buffer size for the streaming calls.
const CHUNK: usize = 1 << 20;

/// How deep a guest tree the walking calls (`checksums_out`, `find0`,
/// `cpio_out`, `cp_r`) descend: each level costs stack and a descriptor, and a
/// guest can nest directories without end.
const MAX_DEPTH: usize = 512;

/// The stack of the thread `cp_r` copies on (64 MiB of address space, used as
/// deep as the tree goes).
const COPY_STACK: usize = 64 << 20;

fn too_deep(call: &'static str, subject: impl Display) -> Error {
    ArchiveError::new(
        vmcraft_fs::root::ErrorKind::LimitExceeded,
        call,
        subject,
        format!("directory tree deeper than {MAX_DEPTH} levels"),
    )
    .into()
}

/// How much of the input `compress_out` and `compress_device_out` hand the
/// compression program at a time (each piece becomes one stream of the output).
pub const COMPRESS_PIECE: usize = 16 << 20;

/// How many names `glob_expand`'s brace expansion may produce before the
/// pattern is refused (a short pattern like `{a,b}{a,b}...` grows exponentially).
const MAX_BRACE_EXPANSIONS: usize = 4096;

/// How many names `glob_expand` returns at most (each one costs a path string).
const MAX_GLOB_RESULTS: usize = 1 << 20;

type ArchiveError = vmcraft_fs::root::Error;

/// An OS error from a call, as the crates below report one (kind from errno).
fn os_err(call: &'static str, subject: impl Display, what: &str, err: io::Error) -> Error {
    ArchiveError::io(call, subject, what.to_string(), err).into()
}

fn errno(call: &'static str, subject: impl Display, what: &str, e: i32) -> Error {
    os_err(call, subject, what, io::Error::from_raw_os_error(e))
}

fn last_err(call: &'static str, subject: impl Display, what: &str) -> Error {
    os_err(call, subject, what, io::Error::last_os_error())
}

fn invalid(call: &str, subject: impl Display, msg: impl Into<String>) -> Error {
    Error::invalid(call, subject, msg)
}

/// libguestfs's `Pathname` check: an absolute guest path without NUL bytes.
fn pathname(call: &str, path: &str) -> Result<()> {
    if !path.starts_with('/') {
        return Err(invalid(call, path, "path must start with a / character"));
    }
    if path.contains('\0') {
        return Err(invalid(
            call,
            path.escape_debug(),
            "path contains a NUL byte",
        ));
    }
    Ok(())
}

fn cstring(call: &str, subject: &str, bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| invalid(call, subject.escape_debug(), "contains a NUL byte"))
}

/// Split a guest path into its parent (a guest path) and final name; `None` when
/// it names a directory itself (`/`, `/a/.`, `/a/..`).
fn split_guest(path: &str) -> Option<(String, &str)> {
    let trimmed = path.trim_end_matches('/');
    let (parent, name) = match trimmed.rfind('/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    let parent = if parent.trim_start_matches('/').is_empty() {
        "/".to_string()
    } else {
        parent.to_string()
    };
    Some((parent, name))
}

/// The directory holding `path`'s final name, resolved inside the root, and the
/// name: what `*at` calls that must not follow the name work on.
fn parent_of(root: &GuestRoot, call: &'static str, path: &str) -> Result<(OwnedFd, CString)> {
    let (parent, name) = split_guest(path).ok_or_else(|| {
        invalid(
            call,
            path,
            "path names a directory itself, not an entry in it",
        )
    })?;
    let dir = root.resolve(&parent, true).map_err(|e| e.with_call(call))?;
    let st = fstat(dir.as_fd()).map_err(|e| os_err(call, path, "", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(errno(call, path, "", libc::ENOTDIR));
    }
    Ok((dir, cstring(call, path, name.as_bytes())?))
}

fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into the buffer when it returns 0.
    let r = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if r == 0 {
        // SAFETY: initialised by the successful call above.
        Ok(unsafe { st.assume_init() })
    } else {
        Err(io::Error::last_os_error())
    }
}

fn fstatat_nofollow(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid descriptor and NUL-terminated name; fstatat fills `st` on 0.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        // SAFETY: initialised by the successful call above.
        Ok(unsafe { st.assume_init() })
    } else {
        Err(io::Error::last_os_error())
    }
}

fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: valid descriptor and NUL-terminated name; a non-negative return is
    // a new descriptor we own.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC | libc::O_NOCTTY,
            mode as libc::c_uint,
        )
    };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: just opened, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn proc_fd(fd: BorrowedFd<'_>) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

fn proc_at(dir: BorrowedFd<'_>, name: &CStr) -> CString {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.to_bytes());
    CString::new(p).expect("name has no NUL")
}

/// How a file type is named in messages.
fn type_name(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFREG => "regular file",
        libc::S_IFDIR => "directory",
        libc::S_IFLNK => "symbolic link",
        libc::S_IFCHR => "character device",
        libc::S_IFBLK => "block device",
        libc::S_IFIFO => "fifo",
        libc::S_IFSOCK => "socket",
        _ => "file of unknown type",
    }
}

fn not_regular(call: &'static str, path: impl Display, mode: u32) -> Error {
    ArchiveError::new(
        vmcraft_fs::root::ErrorKind::WrongType,
        call,
        path,
        format!("not a regular file (it is a {})", type_name(mode)),
    )
    .into()
}

/// Reopen the regular file behind the `O_PATH` descriptor `fd` with `flags`
/// (through `/proc/self/fd`, so exactly the inode checked); anything else is
/// refused unopened.
fn reopen_regular(
    call: &'static str,
    subject: impl Display,
    fd: BorrowedFd<'_>,
    flags: i32,
) -> Result<File> {
    let st = fstat(fd).map_err(|e| os_err(call, &subject, "", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(not_regular(call, subject, st.st_mode));
    }
    let p = proc_fd(fd);
    // SAFETY: NUL-terminated path; a non-negative return is ours.
    let raw = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOCTTY) };
    if raw < 0 {
        return Err(last_err(call, subject, ""));
    }
    // SAFETY: just opened.
    Ok(unsafe { File::from_raw_fd(raw) })
}

/// Open an existing regular guest file, following symlinks inside the root.
fn open_existing(root: &GuestRoot, call: &'static str, path: &str, flags: i32) -> Result<File> {
    let fd = root.resolve(path, true).map_err(|e| e.with_call(call))?;
    reopen_regular(call, path, fd.as_fd(), flags)
}

/// Open a guest file for writing without truncating it, creating it (mode 0666
/// before the umask) when missing, as libguestfs's `O_WRONLY|O_CREAT`.
fn open_or_create(root: &GuestRoot, call: &'static str, path: &str) -> Result<File> {
    match root.resolve(path, true) {
        Ok(fd) => reopen_regular(call, path, fd.as_fd(), libc::O_WRONLY),
        Err(e) if e.kind() == vmcraft_fs::root::ErrorKind::NotFound => Ok(root
            .open_write(path, WriteMode::Truncate, 0o666)
            .map_err(|e| e.with_call(call))?),
        Err(e) => Err(e.with_call(call).into()),
    }
}

/// Names in the directory open at `dir` (read access), without `.` and `..`, in
/// the order the filesystem gives them.
fn dir_entries(dir: BorrowedFd<'_>) -> io::Result<Vec<(CString, u8)>> {
    // fdopendir takes ownership: hand it a duplicate.
    let dup = dir.try_clone_to_owned()?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(dup);
    // SAFETY: `raw` is a descriptor we own, opened for reading on a directory.
    let d = unsafe { libc::fdopendir(raw) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `raw` is still ours.
        unsafe { libc::close(raw) };
        return Err(e);
    }
    // SAFETY: `d` is a valid DIR*; rewind so a reused descriptor starts over.
    unsafe { libc::rewinddir(d) };
    let mut out = Vec::new();
    loop {
        // SAFETY: clearing errno to tell the end from an error, as readdir asks.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `d` is valid until closedir below.
        let ent = unsafe { libc::readdir64(d) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: closing the DIR* we opened (which closes `raw`).
            unsafe { libc::closedir(d) };
            if e.raw_os_error().unwrap_or(0) != 0 {
                return Err(e);
            }
            return Ok(out);
        }
        // SAFETY: readdir returned a valid entry with a NUL-terminated name.
        let (name, ty) = unsafe { (CStr::from_ptr((*ent).d_name.as_ptr()), (*ent).d_type) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            out.push((name.to_owned(), ty));
        }
    }
}

/// Copy `r` to `w` in 1 MiB pieces, at most `limit` bytes when given, checking
/// the handle's cancellation and reporting progress against `total`.
fn copy_stream(
    g: &VMCraft,
    call: &'static str,
    subject: &str,
    r: &mut dyn Read,
    w: &mut dyn Write,
    limit: Option<u64>,
    total: u64,
) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        g.config
            .cancel
            .check(call, subject, format!("cancelled after {done} bytes"))?;
        let want = match limit {
            Some(l) if l - done < CHUNK as u64 => (l - done) as usize,
            _ => CHUNK,
        };
        if want == 0 {
            return Ok(done);
        }
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(os_err(call, subject, "read", e)),
        };
        w.write_all(&buf[..n])
            .map_err(|e| os_err(call, subject, "write", e))?;
        done += n as u64;
        g.progress(call, done, total);
    }
}

/// A host output file made by a call, removed again when the call fails
/// (unless it existed before: a caller's `/dev/stdout` or an existing file is
/// never removed).
struct HostOut<'a> {
    path: &'a Path,
    remove: bool,
}

impl<'a> HostOut<'a> {
    fn create(call: &'static str, path: &'a Path) -> Result<(File, HostOut<'a>)> {
        let existed = path.symlink_metadata().is_ok();
        let f = File::create(path).map_err(|e| os_err(call, path.display(), "create", e))?;
        Ok((
            f,
            HostOut {
                path,
                remove: !existed,
            },
        ))
    }

    /// The call succeeded: the file stays.
    fn keep(mut self) {
        self.remove = false;
    }
}

impl Drop for HostOut<'_> {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// What `upload_offset`/`download_offset` name: a device or a guest path.
fn is_device_name(name: &str) -> bool {
    name.starts_with("/dev/")
}

impl VMCraft {
    // ---- links and renames ------------------------------------------------

    /// Create a hard link `linkname` to the existing `target` (`ln`); the
    /// target's final symlink is not followed (`link(2)`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ln(&self, target: &str, linkname: &str) -> Result<()> {
        pathname("ln", linkname)?;
        Ok(self.guest_root_for("ln")?.ln(target, linkname)?)
    }

    /// Create a hard link, first removing whatever non-directory is at
    /// `linkname` (`ln_f`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ln_f(&self, target: &str, linkname: &str) -> Result<()> {
        pathname("ln_f", linkname)?;
        let root = self.guest_root_for("ln_f")?;
        // The target must be there before anything is removed.
        root.resolve(target, false)
            .map_err(|e| e.with_call("ln_f"))?;
        let (dir, name) = parent_of(&root, "ln_f", linkname)?;
        // SAFETY: valid descriptor and NUL-terminated name.
        let r = unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(os_err("ln_f", linkname, "", e));
            }
        }
        Ok(root.ln(target, linkname).map_err(|e| e.with_call("ln_f"))?)
    }

    /// Create a symbolic link `linkname -> target`, replacing whatever
    /// non-directory is at `linkname`, as `ln -sf` (`ln_sf`): when `linkname` is
    /// a directory (or a symlink to one), the link is made in it, named after
    /// `target`'s last component. The target is stored as given and resolved
    /// inside the guest whenever it is followed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ln_sf(&self, target: &str, linkname: &str) -> Result<()> {
        pathname("ln_sf", linkname)?;
        let root = self.guest_root_for("ln_sf")?;
        let linkname = if root
            .is_dir(linkname, true)
            .map_err(|e| e.with_call("ln_sf"))?
        {
            let base = target
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            if base.is_empty() || base == "." || base == ".." {
                return Err(invalid(
                    "ln_sf",
                    linkname,
                    format!(
                        "is a directory, and the target {target:?} gives no name to link in it"
                    ),
                ));
            }
            format!("{}/{base}", linkname.trim_end_matches('/'))
        } else {
            linkname.to_string()
        };
        Ok(root.ln_sf(target, &linkname)?)
    }

    /// Rename on the same filesystem, as `rename(2)` (`rename`); neither final
    /// name is followed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn rename(&self, oldpath: &str, newpath: &str) -> Result<()> {
        pathname("rename", oldpath)?;
        pathname("rename", newpath)?;
        Ok(self.guest_root_for("rename")?.rename(oldpath, newpath)?)
    }

    /// Copy a file or directory recursively like `cp -rP` (`cp_r`): symlinks
    /// are copied as symlinks, FIFOs and device nodes are recreated (never
    /// opened), modes are kept under the umask, owners and times are not. Into
    /// `dest` when it is an existing directory.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cp_r(&self, src: &str, dest: &str) -> Result<()> {
        const CALL: &str = "cp_r";
        pathname(CALL, src)?;
        pathname(CALL, dest)?;
        let root = self.guest_root_for(CALL)?;
        let (sdir, sname) = parent_of(&root, CALL, src)?;
        let st = fstatat_nofollow(sdir.as_fd(), &sname).map_err(|e| os_err(CALL, src, "", e))?;
        let dest = if root.is_dir(dest, true).map_err(|e| e.with_call(CALL))? {
            let base = split_guest(src)
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            format!("{}/{}", dest.trim_end_matches('/'), base)
        } else {
            dest.to_string()
        };
        let mut copier = TreeCopy {
            g: self,
            root: &root,
            top: None,
            depth: 0,
        };
        // The copy recurses once per directory level: on a thread of its own
        // with a stack that MAX_DEPTH levels cannot exhaust.
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("cp_r".into())
                .stack_size(COPY_STACK)
                .spawn_scoped(scope, || copier.copy(sdir.as_fd(), &sname, &st, src, &dest))
                .map_err(|e| os_err(CALL, src, "spawn", e))?
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    // ---- special files -------------------------------------------------------

    /// Create a block or character device node, FIFO or socket (`mknod`): `mode`
    /// holds the type (`S_IFBLK`, `S_IFCHR`, `S_IFIFO`, `S_IFSOCK`; none makes a
    /// regular file, as `mknod(2)`) and the permissions, which the umask
    /// reduces. The final name is not followed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mknod(&self, mode: i32, devmajor: i32, devminor: i32, path: &str) -> Result<()> {
        self.mknod_impl("mknod", mode, devmajor, devminor, path)
    }

    fn mknod_impl(
        &self,
        call: &'static str,
        mode: i32,
        devmajor: i32,
        devminor: i32,
        path: &str,
    ) -> Result<()> {
        pathname(call, path)?;
        if mode < 0 {
            return Err(invalid(call, path, "mode is negative"));
        }
        let kind = mode as u32 & libc::S_IFMT;
        if !matches!(
            kind,
            0 | libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK
        ) || mode as u32 & !(libc::S_IFMT | 0o7777) != 0
        {
            return Err(invalid(
                call,
                path,
                format!(
                    "{mode:o}: mode must be a file type (S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK) and permission bits"
                ),
            ));
        }
        if devmajor < 0 || devminor < 0 {
            return Err(invalid(
                call,
                path,
                format!("device numbers must not be negative ({devmajor}:{devminor})"),
            ));
        }
        let root = self.guest_root_for(call)?;
        let (dir, name) = parent_of(&root, call, path)?;
        let dev = libc::makedev(devmajor as u32, devminor as u32);
        // SAFETY: valid descriptor and NUL-terminated name.
        let r = unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, dev) };
        if r != 0 {
            return Err(last_err(call, path, ""));
        }
        Ok(())
    }

    fn mknod_typed(
        &self,
        call: &'static str,
        kind: u32,
        mode: i32,
        major: i32,
        minor: i32,
        path: &str,
    ) -> Result<()> {
        if mode < 0 || mode as u32 & !0o7777 != 0 {
            return Err(invalid(
                call,
                path,
                format!(
                    "{:o}: mode must specify only file permission bits",
                    mode as u32
                ),
            ));
        }
        self.mknod_impl(call, mode | kind as i32, major, minor, path)
    }

    /// Create a FIFO with these permission bits, reduced by the umask (`mkfifo`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkfifo(&self, mode: i32, path: &str) -> Result<()> {
        self.mknod_typed("mkfifo", libc::S_IFIFO, mode, 0, 0, path)
    }

    /// Create a block device node (`mknod_b`); `mode` holds permission bits only.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mknod_b(&self, mode: i32, devmajor: i32, devminor: i32, path: &str) -> Result<()> {
        self.mknod_typed("mknod_b", libc::S_IFBLK, mode, devmajor, devminor, path)
    }

    /// Create a character device node (`mknod_c`); `mode` holds permission bits
    /// only.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mknod_c(&self, mode: i32, devmajor: i32, devminor: i32, path: &str) -> Result<()> {
        self.mknod_typed("mknod_c", libc::S_IFCHR, mode, devmajor, devminor, path)
    }

    // ---- sizes, times, content -------------------------------------------------

    /// Truncate an existing regular file to zero bytes (`truncate`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn truncate(&self, path: &str) -> Result<()> {
        self.truncate_impl("truncate", path, 0)
    }

    /// Truncate or extend (sparsely, with zeros) an existing regular file to
    /// `size` bytes (`truncate_size`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn truncate_size(&self, path: &str, size: i64) -> Result<()> {
        self.truncate_impl("truncate_size", path, size)
    }

    fn truncate_impl(&self, call: &'static str, path: &str, size: i64) -> Result<()> {
        pathname(call, path)?;
        if size < 0 {
            return Err(invalid(call, path, format!("size is negative ({size})")));
        }
        let root = self.guest_root_for(call)?;
        let f = open_existing(&root, call, path, libc::O_WRONLY)?;
        f.set_len(size as u64)
            .map_err(|e| os_err(call, path, "truncate", e))
    }

    /// Set the access and modification times with nanosecond precision, not
    /// following a final symlink (`utimens`). A `*nsecs` of `-1` means now, `-2`
    /// leaves that time unchanged (its `*secs` is then ignored).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn utimens(
        &self,
        path: &str,
        atsecs: i64,
        atnsecs: i64,
        mtsecs: i64,
        mtnsecs: i64,
    ) -> Result<()> {
        pathname("utimens", path)?;
        let t = |secs: i64, nsecs: i64, which: &str| match nsecs {
            -1 => Ok(FileTime::Now),
            -2 => Ok(FileTime::Omit),
            0..=999_999_999 => Ok(FileTime::At(secs, nsecs)),
            _ => Err(invalid(
                "utimens",
                path,
                format!(
                    "{which}nsecs {nsecs} is out of range (0..999999999, -1 for now, -2 to omit)"
                ),
            )),
        };
        let (a, m) = (t(atsecs, atnsecs, "at")?, t(mtsecs, mtnsecs, "mt")?);
        Ok(self.guest_root_for("utimens")?.utimens(path, a, m)?)
    }

    /// Write `len` bytes of the octet `c` (0..255) into `path`, creating it
    /// (`fill`). Like libguestfs, an existing file is written over from its start
    /// and not truncated.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn fill(&self, c: i32, len: i32, path: &str) -> Result<()> {
        pathname("fill", path)?;
        let byte = u8::try_from(c).map_err(|_| {
            invalid(
                "fill",
                path,
                format!("{c}: byte number must be in range 0..255"),
            )
        })?;
        self.fill_impl("fill", &[byte], len, path)
    }

    /// Like [`VMCraft::fill`], with a repeating pattern of bytes, cut so the
    /// file holds exactly `len` bytes (`fill_pattern`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn fill_pattern(&self, pattern: &str, len: i32, path: &str) -> Result<()> {
        pathname("fill_pattern", path)?;
        if pattern.is_empty() {
            return Err(invalid(
                "fill_pattern",
                path,
                "pattern string must be non-empty",
            ));
        }
        self.fill_impl("fill_pattern", pattern.as_bytes(), len, path)
    }

    fn fill_impl(&self, call: &'static str, pattern: &[u8], len: i32, path: &str) -> Result<()> {
        if len < 0 {
            return Err(invalid(call, path, format!("{len}: length is < 0")));
        }
        let len = len as usize;
        let root = self.guest_root_for(call)?;
        let mut f = open_or_create(&root, call, path)?;
        let unit = pattern.len();
        let block: Vec<u8> = pattern
            .iter()
            .copied()
            .cycle()
            .take(CHUNK.max(unit) / unit * unit)
            .collect();
        let mut done = 0usize;
        while done < len {
            self.config
                .cancel
                .check(call, path, format!("cancelled after {done} bytes"))?;
            // Each piece starts at a multiple of the pattern's length.
            let n = (len - done).min(block.len());
            f.write_all(&block[..n])
                .map_err(|e| os_err(call, path, "write", e))?;
            done += n;
            self.progress(call, done as u64, len as u64);
        }
        f.sync_all().map_err(|e| os_err(call, path, "fsync", e))
    }

    /// Create `nr` empty files `00000000`, `00000001`, ... in `dir` (`fill_dir`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn fill_dir(&self, dir: &str, nr: i32) -> Result<()> {
        pathname("fill_dir", dir)?;
        if nr < 0 {
            return Err(invalid(
                "fill_dir",
                dir,
                format!("{nr}: number of files is < 0"),
            ));
        }
        let root = self.guest_root_for("fill_dir")?;
        let d = root
            .resolve(dir, true)
            .map_err(|e| e.with_call("fill_dir"))?;
        for i in 0..nr {
            let name = CString::new(format!("{i:08}")).expect("digits");
            let shown = format!("{}/{i:08}", dir.trim_end_matches('/'));
            // O_NOFOLLOW: a symlink of that name is not written through.
            let fd = openat(
                d.as_fd(),
                &name,
                libc::O_WRONLY
                    | libc::O_CREAT
                    | libc::O_TRUNC
                    | libc::O_NOFOLLOW
                    | libc::O_NONBLOCK,
                0o666,
            )
            .map_err(|e| os_err("fill_dir", &shown, "", e))?;
            let st = fstat(fd.as_fd()).map_err(|e| os_err("fill_dir", &shown, "", e))?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Err(not_regular("fill_dir", shown, st.st_mode));
            }
        }
        Ok(())
    }

    /// Read up to `count` bytes of a regular file at `offset` (`pread`); like
    /// `pread(2)` it may read fewer (none at or past the end). `count` must be
    /// below libguestfs's message limit ([`MESSAGE_MAX`]).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pread(&self, path: &str, count: i32, offset: i64) -> Result<Vec<u8>> {
        pathname("pread", path)?;
        check_count("pread", path, count, offset)?;
        let root = self.guest_root_for("pread")?;
        let f = open_existing(&root, "pread", path, libc::O_RDONLY)?;
        read_once("pread", path, &f, count as usize, offset as u64)
    }

    /// Write `content` into an existing regular file at `offset` (`pwrite`);
    /// returns the number of bytes written, as `pwrite(2)`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pwrite(&self, path: &str, content: &[u8], offset: i64) -> Result<i32> {
        pathname("pwrite", path)?;
        check_content("pwrite", path, content, offset)?;
        let root = self.guest_root_for("pwrite")?;
        let f = open_existing(&root, "pwrite", path, libc::O_WRONLY)?;
        write_once("pwrite", path, &f, content, offset as u64)
    }

    /// Read up to `count` bytes of a device at `offset` (`pread_device`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pread_device(&self, device: &str, count: i32, offset: i64) -> Result<Vec<u8>> {
        check_count("pread_device", device, count, offset)?;
        let r = self.resolve("pread_device", device)?;
        let f = File::open(&r.host).map_err(|e| os_err("pread_device", &r.name, "open", e))?;
        read_once("pread_device", &r.name, &f, count as usize, offset as u64)
    }

    /// Write `content` to a device at `offset` (`pwrite_device`); returns the
    /// number of bytes written. Refused on a drive added read-only; what is
    /// cached about the device is forgotten.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn pwrite_device(&self, device: &str, content: &[u8], offset: i64) -> Result<i32> {
        check_content("pwrite_device", device, content, offset)?;
        let r = self.resolve("pwrite_device", device)?;
        if r.readonly {
            return Err(invalid(
                "pwrite_device",
                &r.name,
                "the drive was added read-only",
            ));
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&r.host)
            .map_err(|e| os_err("pwrite_device", &r.name, "open", e))?;
        let n = write_once("pwrite_device", &r.name, &f, content, offset as u64);
        let synced = f.sync_all();
        self.invalidate_device(&r.name);
        let n = n?;
        synced.map_err(|e| os_err("pwrite_device", &r.name, "fsync", e))?;
        Ok(n)
    }

    /// Copy `size` bytes at `offset` of a guest file or device to a host file
    /// (`download_offset`); the range must lie within the file or device.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn download_offset(
        &self,
        remotefilename: &str,
        filename: impl AsRef<Path>,
        offset: i64,
        size: i64,
    ) -> Result<()> {
        const CALL: &str = "download_offset";
        if offset < 0 {
            return Err(invalid(CALL, remotefilename, "offset in file is negative"));
        }
        if size < 0 {
            return Err(invalid(CALL, remotefilename, "size is negative"));
        }
        let (src, len, name) = self.open_dev_or_path(CALL, remotefilename, false)?;
        let end = (offset as u64).checked_add(size as u64);
        if end.is_none_or(|e| e > len) {
            return Err(invalid(
                CALL,
                &name,
                format!("offset {offset} + size {size} is past the end ({len} bytes)"),
            ));
        }
        let host = filename.as_ref();
        let (out, made) = HostOut::create(CALL, host)?;
        let mut w = BufWriter::with_capacity(CHUNK, out);
        let mut r = OffsetReader {
            f: &src,
            pos: offset as u64,
        };
        let n = copy_stream(
            self,
            CALL,
            &name,
            &mut r,
            &mut w,
            Some(size as u64),
            size as u64,
        )?;
        if n != size as u64 {
            return Err(errno(
                CALL,
                &name,
                "file shrank while it was read",
                libc::EIO,
            ));
        }
        let f = w
            .into_inner()
            .map_err(|e| os_err(CALL, host.display(), "write", e.into_error()))?;
        f.sync_all()
            .map_err(|e| os_err(CALL, host.display(), "fsync", e))?;
        made.keep();
        Ok(())
    }

    /// Write a host file into a guest file or device starting at `offset`
    /// (`upload_offset`): an existing file is overwritten in place (not
    /// truncated), a missing one is created with a hole before `offset`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn upload_offset(
        &self,
        filename: impl AsRef<Path>,
        remotefilename: &str,
        offset: i64,
    ) -> Result<()> {
        const CALL: &str = "upload_offset";
        if offset < 0 {
            return Err(invalid(CALL, remotefilename, "offset in file is negative"));
        }
        let host = filename.as_ref();
        let mut src = File::open(host).map_err(|e| os_err(CALL, host.display(), "open", e))?;
        let total = src.metadata().map(|m| m.len()).unwrap_or(0);
        let (dst, _, name) = self.open_dev_or_path(CALL, remotefilename, true)?;
        let mut w = OffsetWriter {
            f: &dst,
            pos: offset as u64,
        };
        let r = copy_stream(self, CALL, &name, &mut src, &mut w, None, total);
        let synced = dst.sync_all();
        if is_device_name(remotefilename) {
            self.invalidate_device(&name);
        }
        r?;
        synced.map_err(|e| os_err(CALL, &name, "fsync", e))
    }

    /// Open a device (by its libguestfs name) or a guest regular file; returns
    /// it, its size and its name for messages.
    fn open_dev_or_path(
        &self,
        call: &'static str,
        name: &str,
        write: bool,
    ) -> Result<(File, u64, String)> {
        if is_device_name(name) {
            let r = self.resolve(call, name)?;
            if write && r.readonly {
                return Err(invalid(call, &r.name, "the drive was added read-only"));
            }
            let f = std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .open(&r.host)
                .map_err(|e| os_err(call, &r.name, "open", e))?;
            let size = vmcraft_block::blockdev_getsize64(&r.host)?;
            return Ok((f, size, r.name));
        }
        pathname(call, name)?;
        let root = self.guest_root_for(call)?;
        let f = if write {
            open_or_create(&root, call, name)?
        } else {
            open_existing(&root, call, name, libc::O_RDONLY)?
        };
        let size = f
            .metadata()
            .map_err(|e| os_err(call, name, "stat", e))?
            .len();
        Ok((f, size, name.to_string()))
    }

    // ---- base64, checksums, listings -------------------------------------------

    /// Decode a host file of base64 text into a guest file, created or truncated
    /// (`base64_in`). Characters outside the alphabet are ignored, as `base64 -d
    /// -i` does. When the host file is a regular file, input that does not decode
    /// is refused before the guest file is touched (a first pass reads it all); a
    /// pipe is decoded in one pass.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn base64_in(&self, base64file: impl AsRef<Path>, filename: &str) -> Result<()> {
        use std::io::Seek;
        const CALL: &str = "base64_in";
        pathname(CALL, filename)?;
        let host = base64file.as_ref();
        let shown = host.display().to_string();
        let mut input = File::open(host).map_err(|e| os_err(CALL, &shown, "open", e))?;
        let regular = input.metadata().map(|m| m.is_file()).unwrap_or(false);
        if regular {
            base64_decode(self, CALL, &shown, &mut input, &mut io::sink())?;
            input
                .seek(io::SeekFrom::Start(0))
                .map_err(|e| os_err(CALL, &shown, "seek", e))?;
        }
        let root = self.guest_root_for(CALL)?;
        let f = root
            .open_write(filename, WriteMode::Truncate, 0o666)
            .map_err(|e| e.with_call(CALL))?;
        let mut w = BufWriter::with_capacity(CHUNK, f);
        base64_decode(self, CALL, filename, &mut input, &mut w)?;
        let f = w
            .into_inner()
            .map_err(|e| os_err(CALL, filename, "write", e.into_error()))?;
        f.sync_all().map_err(|e| os_err(CALL, filename, "fsync", e))
    }

    /// Encode a guest file as base64 into a host file, 76 characters a line, as
    /// `base64` (`base64_out`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn base64_out(&self, filename: &str, base64file: impl AsRef<Path>) -> Result<()> {
        const CALL: &str = "base64_out";
        pathname(CALL, filename)?;
        let root = self.guest_root_for(CALL)?;
        let mut src = open_existing(&root, CALL, filename, libc::O_RDONLY)?;
        let host = base64file.as_ref();
        let (out, made) = HostOut::create(CALL, host)?;
        let mut w = BufWriter::with_capacity(CHUNK, out);
        base64_encode(self, CALL, filename, &mut src, &mut w)?;
        w.flush()
            .map_err(|e| os_err(CALL, host.display(), "write", e))?;
        made.keep();
        Ok(())
    }

    /// Checksum every regular file below `directory` (symlinks not followed)
    /// into a host file, a line each as the coreutils tool prints it
    /// (`checksums_out`): `HASH  ./path` (`md5sum`, `sha*sum`; a name holding a
    /// backslash or newline escaped, the line starting with `\`) or `CRC SIZE
    /// ./path` (`cksum`), in the order the filesystem lists them.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn checksums_out(
        &self,
        csumtype: &str,
        directory: &str,
        sumsfile: impl AsRef<Path>,
    ) -> Result<()> {
        const CALL: &str = "checksums_out";
        pathname(CALL, directory)?;
        let csumtype = csumtype.to_ascii_lowercase();
        crate::files::checksum_reader(&csumtype, CALL, &mut io::empty()).map_err(|_| {
            invalid(
                CALL,
                &csumtype,
                "unknown checksum type, expecting crc|md5|sha1|sha224|sha256|sha384|sha512",
            )
        })?;
        let root = self.guest_root_for(CALL)?;
        let dir = open_dir_read(&root, CALL, directory)?;
        let host = sumsfile.as_ref();
        let (out, made) = HostOut::create(CALL, host)?;
        let mut w = BufWriter::new(out);
        let mut prefix = b".".to_vec();
        walk_tree(dir.as_fd(), &mut prefix, &mut |rel, parent, name, st| {
            self.config.cancel.check(CALL, directory, "cancelled")?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Ok(());
            }
            let shown = String::from_utf8_lossy(rel).into_owned();
            let pfd = openat(parent, name, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .map_err(|e| os_err(CALL, &shown, "", e))?;
            let mut f = reopen_regular(CALL, &shown, pfd.as_fd(), libc::O_RDONLY)?;
            let sum = crate::files::checksum_reader(&csumtype, &shown, &mut f)?;
            let line = checksum_line(
                &csumtype,
                &sum,
                f.metadata().map(|m| m.len()).unwrap_or(0),
                rel,
            );
            w.write_all(&line)
                .map_err(|e| os_err(CALL, host.display(), "write", e))
        })?;
        w.flush()
            .map_err(|e| os_err(CALL, host.display(), "write", e))?;
        made.keep();
        Ok(())
    }

    /// The checksum of a whole device (`checksum_device`), types as
    /// [`VMCraft::checksum`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn checksum_device(&self, csumtype: &str, device: &str) -> Result<String> {
        let r = self.resolve("checksum_device", device)?;
        let mut f =
            File::open(&r.host).map_err(|e| os_err("checksum_device", &r.name, "open", e))?;
        crate::files::checksum_reader(&csumtype.to_ascii_lowercase(), &r.name, &mut f)
    }

    /// Every path below `directory`, NUL-terminated, into a host file (`find0`):
    /// as [`VMCraft::find`] names them, unsorted (in the filesystem's order).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn find0(&self, directory: &str, files: impl AsRef<Path>) -> Result<()> {
        const CALL: &str = "find0";
        pathname(CALL, directory)?;
        let root = self.guest_root_for(CALL)?;
        let dir = open_dir_read(&root, CALL, directory)?;
        let host = files.as_ref();
        let (out, made) = HostOut::create(CALL, host)?;
        let mut w = BufWriter::new(out);
        let lead: &[u8] = if directory.ends_with('/') { b"" } else { b"/" };
        let mut prefix = Vec::new();
        walk_tree(dir.as_fd(), &mut prefix, &mut |rel, _, _, _| {
            self.config.cancel.check(CALL, directory, "cancelled")?;
            w.write_all(lead)
                .and_then(|()| w.write_all(rel))
                .and_then(|()| w.write_all(b"\0"))
                .map_err(|e| os_err(CALL, host.display(), "write", e))
        })?;
        w.flush()
            .map_err(|e| os_err(CALL, host.display(), "write", e))?;
        made.keep();
        Ok(())
    }

    /// Every entry of a directory, `.` and `..` included, unsorted, with its
    /// inode number and type letter (`readdir`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn readdir(&self, dir: &str) -> Result<Vec<Dirent>> {
        pathname("readdir", dir)?;
        Ok(self.guest_root_for("readdir")?.readdir(dir)?)
    }

    /// Create a directory (mode 0700) named by `tmpl` with its final `XXXXXX`
    /// replaced by random characters; returns its name (`mkdtemp`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mkdtemp(&self, tmpl: &str) -> Result<String> {
        pathname("mkdtemp", tmpl)?;
        self.make_temp("mkdtemp", tmpl, "", true)
    }

    /// Create an empty file (mode 0600) named by `tmpl` with its final `XXXXXX`
    /// replaced by random characters and `suffix` appended; returns its name
    /// (`mktemp`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn mktemp(&self, tmpl: &str, suffix: Option<&str>) -> Result<String> {
        pathname("mktemp", tmpl)?;
        let suffix = suffix.unwrap_or("");
        if suffix.contains('/') {
            return Err(invalid("mktemp", suffix, "suffix must not contain a /"));
        }
        self.make_temp("mktemp", tmpl, suffix, false)
    }

    fn make_temp(&self, call: &'static str, tmpl: &str, suffix: &str, dir: bool) -> Result<String> {
        let Some(stem) = tmpl.strip_suffix("XXXXXX") else {
            return Err(errno(
                call,
                format!("{tmpl}{suffix}"),
                "template must end in XXXXXX",
                libc::EINVAL,
            ));
        };
        let root = self.guest_root_for(call)?;
        for _ in 0..1000 {
            let mut rnd = [0u8; 6];
            getrandom(&mut rnd).map_err(|e| os_err(call, tmpl, "getrandom", e))?;
            const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            let tail: String = rnd
                .iter()
                .map(|b| CHARS[*b as usize % CHARS.len()] as char)
                .collect();
            let path = format!("{stem}{tail}{suffix}");
            let (pdir, name) = parent_of(&root, call, &path)?;
            if name.to_bytes().len() < 6 + suffix.len() {
                return Err(errno(
                    call,
                    tmpl,
                    "template must end in XXXXXX",
                    libc::EINVAL,
                ));
            }
            let r = if dir {
                // SAFETY: valid descriptor and NUL-terminated name.
                match unsafe { libc::mkdirat(pdir.as_raw_fd(), name.as_ptr(), 0o700) } {
                    0 => Ok(()),
                    _ => Err(io::Error::last_os_error()),
                }
            } else {
                openat(
                    pdir.as_fd(),
                    &name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    0o600,
                )
                .map(drop)
            };
            match r {
                Ok(()) => return Ok(path),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(e) => return Err(os_err(call, &path, "", e)),
            }
        }
        Err(errno(call, tmpl, "no unused name found", libc::EEXIST))
    }

    /// The paths matching a shell wildcard pattern, as `glob(3)` with
    /// `GLOB_BRACE` and, unless `directoryslash` is `Some(false)`, `GLOB_MARK`
    /// (directories get a trailing `/`) (`glob_expand`). No match is an empty
    /// list. Directories are listed inside the guest; hidden names match only a
    /// pattern that starts with `.`; each brace alternative's matches are sorted
    /// by bytes and follow the previous alternative's.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn glob_expand(&self, pattern: &str, directoryslash: Option<bool>) -> Result<Vec<String>> {
        const CALL: &str = "glob_expand";
        pathname(CALL, pattern)?;
        let mark = directoryslash.unwrap_or(true);
        let root = self.guest_root_for(CALL)?;
        let mut out = Vec::new();
        for alt in brace_expand(pattern).map_err(|m| invalid(CALL, pattern, m))? {
            let mut found = glob_one(&root, &alt, &mut out.len())?;
            found.sort_unstable();
            for p in found {
                let mut s = String::from_utf8_lossy(&p).into_owned();
                if mark && s != "/" && root.is_dir(&s, true).unwrap_or(false) {
                    s.push('/');
                }
                out.push(s);
            }
            if out.len() > MAX_GLOB_RESULTS {
                return Err(invalid(
                    CALL,
                    pattern,
                    format!("more than {MAX_GLOB_RESULTS} matches"),
                ));
            }
        }
        Ok(out)
    }

    // ---- compression -------------------------------------------------------------

    /// Compress a guest regular file into a host file (`compress_out`) with the
    /// external program libguestfs uses for `ctype`: `gzip` (level 1..9),
    /// `bzip2` (1..9), `xz` (0..9), `lzop` (1..9) or `compress` (no level); a
    /// program that is not installed gives an error containing "not supported".
    /// The data goes through the program in pieces of [`COMPRESS_PIECE`] bytes,
    /// each compressed on its own and the streams concatenated, which `gzip -d`,
    /// `bzip2 -d`, `xz -d` and `lzop -d` read as one (so what a guest file can
    /// make this call hold in memory is bounded); `compress` output cannot be
    /// concatenated, so a larger file is refused for it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn compress_out(
        &self,
        ctype: &str,
        file: &str,
        zfile: impl AsRef<Path>,
        level: Option<i32>,
    ) -> Result<()> {
        const CALL: &str = "compress_out";
        let filter = compress_filter(CALL, ctype, level)?;
        pathname(CALL, file)?;
        let root = self.guest_root_for(CALL)?;
        let mut src = open_existing(&root, CALL, file, libc::O_RDONLY)?;
        let size = src.metadata().map(|m| m.len()).unwrap_or(0);
        self.compress_stream(CALL, file, &filter, &mut src, size, zfile.as_ref())
    }

    /// Compress a whole device into a host file (`compress_device_out`); `ctype`
    /// and `level` as [`VMCraft::compress_out`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn compress_device_out(
        &self,
        ctype: &str,
        device: &str,
        zdevice: impl AsRef<Path>,
        level: Option<i32>,
    ) -> Result<()> {
        const CALL: &str = "compress_device_out";
        let filter = compress_filter(CALL, ctype, level)?;
        let r = self.resolve(CALL, device)?;
        let mut src = File::open(&r.host).map_err(|e| os_err(CALL, &r.name, "open", e))?;
        let size = vmcraft_block::blockdev_getsize64(&r.host)?;
        self.compress_stream(CALL, &r.name, &filter, &mut src, size, zdevice.as_ref())
    }

    fn compress_stream(
        &self,
        call: &'static str,
        subject: &str,
        filter: &[String],
        src: &mut File,
        size: u64,
        host: &Path,
    ) -> Result<()> {
        if filter[0] == "compress" && size > COMPRESS_PIECE as u64 {
            return Err(invalid(
                call,
                subject,
                format!(
                    "compress: inputs larger than {COMPRESS_PIECE} bytes are not supported (its streams cannot be concatenated); use gzip, bzip2 or xz"
                ),
            ));
        }
        let (out, made) = HostOut::create(call, host)?;
        let r = (|| -> Result<()> {
            let mut w = BufWriter::new(out);
            let mut buf = vec![0u8; COMPRESS_PIECE];
            let mut done = 0u64;
            loop {
                let mut n = 0;
                while n < buf.len() {
                    match src.read(&mut buf[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(os_err(call, subject, "read", e)),
                    }
                }
                if n == 0 && done > 0 {
                    break;
                }
                let cmd = vmcraft_block::Command::new(&filter[0])
                    .args(&filter[1..])
                    .stdin(buf[..n].to_vec())
                    .cancel_on(&self.config.cancel);
                let o = self.runner().run(&cmd)?;
                w.write_all(&o.stdout)
                    .map_err(|e| os_err(call, host.display(), "write", e))?;
                done += n as u64;
                self.progress(call, done, size);
                if n < buf.len() {
                    break;
                }
            }
            let f = w
                .into_inner()
                .map_err(|e| os_err(call, host.display(), "write", e.into_error()))?;
            f.sync_all()
                .map_err(|e| os_err(call, host.display(), "fsync", e))
        })();
        r?;
        made.keep();
        Ok(())
    }

    // ---- cpio ---------------------------------------------------------------------

    /// Pack the tree below `directory` into a host file as a cpio archive
    /// (`cpio_out`), in `newc` (the default; the initramfs format) or `crc`
    /// format, entries named `.`, `./etc`, `./etc/fstab`, ... as `find | cpio -o`
    /// names them. Symlinks are stored as links, FIFOs and device nodes as
    /// headers (never opened), hard links share an inode number.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn cpio_out(
        &self,
        directory: &str,
        cpiofile: impl AsRef<Path>,
        format: Option<&str>,
    ) -> Result<()> {
        const CALL: &str = "cpio_out";
        let crc = match format {
            None | Some("newc") => false,
            Some("crc") => true,
            Some(f) => return Err(invalid(CALL, f, "format must be 'newc' or 'crc'")),
        };
        pathname(CALL, directory)?;
        let root = self.guest_root_for(CALL)?;
        let dir = open_dir_read(&root, CALL, directory)?;
        let host = cpiofile.as_ref();
        let (out, made) = HostOut::create(CALL, host)?;
        let mut w = CpioWriter {
            w: BufWriter::with_capacity(CHUNK, out),
            crc,
            written: 0,
            ino: std::collections::HashMap::new(),
        };
        let wr = |e| os_err(CALL, host.display(), "write", e);
        let top = fstat(dir.as_fd()).map_err(|e| os_err(CALL, directory, "", e))?;
        w.entry(b".", &top, &mut io::empty(), b"").map_err(wr)?;
        let mut prefix = b".".to_vec();
        walk_tree(dir.as_fd(), &mut prefix, &mut |rel, parent, name, st| {
            self.config.cancel.check(CALL, directory, "cancelled")?;
            let shown = String::from_utf8_lossy(rel).into_owned();
            match st.st_mode & libc::S_IFMT {
                libc::S_IFREG => {
                    let pfd = openat(parent, name, libc::O_PATH | libc::O_NOFOLLOW, 0)
                        .map_err(|e| os_err(CALL, &shown, "", e))?;
                    let f = reopen_regular(CALL, &shown, pfd.as_fd(), libc::O_RDONLY)?;
                    // The size is what the descriptor says now.
                    let now = fstat(f.as_fd()).map_err(|e| os_err(CALL, &shown, "", e))?;
                    let mut data = (&f).take(now.st_size as u64);
                    w.entry(rel, &now, &mut data, b"").map_err(|e| {
                        if e.kind() == io::ErrorKind::UnexpectedEof {
                            os_err(CALL, &shown, "file shrank while it was read", e)
                        } else {
                            wr(e)
                        }
                    })
                }
                libc::S_IFLNK => {
                    let mut buf = vec![0u8; libc::PATH_MAX as usize];
                    // SAFETY: valid descriptor, NUL-terminated name, buffer of that length.
                    let n = unsafe {
                        libc::readlinkat(
                            parent.as_raw_fd(),
                            name.as_ptr(),
                            buf.as_mut_ptr().cast(),
                            buf.len(),
                        )
                    };
                    if n < 0 {
                        return Err(last_err(CALL, &shown, "readlink"));
                    }
                    buf.truncate(n as usize);
                    w.entry(rel, st, &mut io::empty(), &buf).map_err(wr)
                }
                _ => w.entry(rel, st, &mut io::empty(), b"").map_err(wr),
            }
        })?;
        w.finish().map_err(wr)?;
        made.keep();
        Ok(())
    }

    // ---- extended attributes --------------------------------------------------------

    /// One extended attribute of `path`, following symlinks inside the guest
    /// (`getxattr`); a missing attribute is an error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn getxattr(&self, path: &str, name: &str) -> Result<Vec<u8>> {
        let t = self.xattr_target("getxattr", path, true)?;
        let n = cstring("getxattr", name, name.as_bytes())?;
        t.get(&n).map_err(|e| os_err("getxattr", path, name, e))
    }

    /// One extended attribute of `path` itself, a symlink not followed
    /// (`lgetxattr`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lgetxattr(&self, path: &str, name: &str) -> Result<Vec<u8>> {
        let t = self.xattr_target("lgetxattr", path, false)?;
        let n = cstring("lgetxattr", name, name.as_bytes())?;
        t.get(&n).map_err(|e| os_err("lgetxattr", path, name, e))
    }

    /// Every extended attribute of `path`, following symlinks, sorted by name
    /// (`getxattrs`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn getxattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        let t = self.xattr_target("getxattrs", path, true)?;
        t.all().map_err(|e| os_err("getxattrs", path, "", e))
    }

    /// Every extended attribute of `path` itself, a symlink not followed
    /// (`lgetxattrs`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lgetxattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        let t = self.xattr_target("lgetxattrs", path, false)?;
        t.all().map_err(|e| os_err("lgetxattrs", path, "", e))
    }

    /// Set an extended attribute to the first `vallen` bytes of `val`,
    /// following symlinks (`setxattr`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn setxattr(&self, xattr: &str, val: &[u8], vallen: i32, path: &str) -> Result<()> {
        self.set_impl("setxattr", xattr, val, vallen, path, true)
    }

    /// Set an extended attribute of `path` itself, a symlink not followed
    /// (`lsetxattr`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lsetxattr(&self, xattr: &str, val: &[u8], vallen: i32, path: &str) -> Result<()> {
        self.set_impl("lsetxattr", xattr, val, vallen, path, false)
    }

    fn set_impl(
        &self,
        call: &'static str,
        xattr: &str,
        val: &[u8],
        vallen: i32,
        path: &str,
        follow: bool,
    ) -> Result<()> {
        let len = usize::try_from(vallen)
            .ok()
            .filter(|l| *l <= val.len())
            .ok_or_else(|| {
                invalid(
                    call,
                    path,
                    format!(
                        "vallen {vallen} is not within the value's {} bytes",
                        val.len()
                    ),
                )
            })?;
        if len > XATTR_SIZE_MAX {
            return Err(invalid(
                call,
                path,
                format!("value is larger than {XATTR_SIZE_MAX} bytes"),
            ));
        }
        let name = cstring(call, xattr, xattr.as_bytes())?;
        let t = self.xattr_target(call, path, follow)?;
        t.set(&name, &val[..len])
            .map_err(|e| os_err(call, path, xattr, e))
    }

    /// Remove an extended attribute, following symlinks (`removexattr`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn removexattr(&self, xattr: &str, path: &str) -> Result<()> {
        let name = cstring("removexattr", xattr, xattr.as_bytes())?;
        let t = self.xattr_target("removexattr", path, true)?;
        t.remove(&name)
            .map_err(|e| os_err("removexattr", path, xattr, e))
    }

    /// Remove an extended attribute of `path` itself (`lremovexattr`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lremovexattr(&self, xattr: &str, path: &str) -> Result<()> {
        let name = cstring("lremovexattr", xattr, xattr.as_bytes())?;
        let t = self.xattr_target("lremovexattr", path, false)?;
        t.remove(&name)
            .map_err(|e| os_err("lremovexattr", path, xattr, e))
    }

    /// `lgetxattrs` of each of `names` in the directory `path`, flattened as
    /// libguestfs gives them (`lxattrlist`): for each file, first an entry with
    /// an empty name whose value is the number of attributes that follow, in
    /// decimal (an empty value when the file could not be read), then its
    /// attributes.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lxattrlist(&self, path: &str, names: &[&str]) -> Result<Vec<Xattr>> {
        pathname("lxattrlist", path)?;
        for n in names {
            if n.is_empty() || n.contains('/') || *n == "." || *n == ".." {
                return Err(invalid(
                    "lxattrlist",
                    n,
                    "expected a file name in the directory",
                ));
            }
        }
        let root = self.guest_root_for("lxattrlist")?;
        let dir = root
            .resolve(path, true)
            .map_err(|e| e.with_call("lxattrlist"))?;
        let mut out = Vec::new();
        for n in names {
            let name = cstring("lxattrlist", n, n.as_bytes())?;
            let t = XattrTarget {
                path: proc_at(dir.as_fd(), &name),
                follow: false,
                _hold: None,
            };
            match t.all() {
                Ok(list) => {
                    out.push(Xattr {
                        attrname: String::new(),
                        attrval: list.len().to_string().into_bytes(),
                    });
                    out.extend(list);
                }
                Err(_) => out.push(Xattr {
                    attrname: String::new(),
                    attrval: Vec::new(),
                }),
            }
        }
        Ok(out)
    }

    fn xattr_target(&self, call: &'static str, path: &str, follow: bool) -> Result<XattrTarget> {
        pathname(call, path)?;
        let root = self.guest_root_for(call)?;
        if follow || split_guest(path).is_none() {
            let fd = root.resolve(path, true).map_err(|e| e.with_call(call))?;
            return Ok(XattrTarget {
                path: proc_fd(fd.as_fd()),
                follow: true,
                _hold: Some(fd),
            });
        }
        let (dir, name) = parent_of(&root, call, path)?;
        Ok(XattrTarget {
            path: proc_at(dir.as_fd(), &name),
            follow: false,
            _hold: Some(dir),
        })
    }
}

fn check_count(call: &'static str, subject: &str, count: i32, offset: i64) -> Result<()> {
    if count < 0 {
        return Err(invalid(call, subject, "count is negative"));
    }
    if offset < 0 {
        return Err(invalid(call, subject, "offset is negative"));
    }
    if count as usize >= MESSAGE_MAX {
        return Err(invalid(
            call,
            subject,
            format!(
                "count is too large for the protocol, use smaller reads (at most {} bytes)",
                MESSAGE_MAX - 1
            ),
        ));
    }
    Ok(())
}

fn check_content(call: &'static str, subject: &str, content: &[u8], offset: i64) -> Result<()> {
    if offset < 0 {
        return Err(invalid(call, subject, "offset is negative"));
    }
    if content.len() >= MESSAGE_MAX {
        return Err(invalid(
            call,
            subject,
            format!(
                "content is too large for the protocol, use smaller writes (at most {} bytes)",
                MESSAGE_MAX - 1
            ),
        ));
    }
    Ok(())
}

/// One `pread(2)`, retried only on `EINTR`.
fn read_once(
    call: &'static str,
    subject: &str,
    f: &File,
    count: usize,
    offset: u64,
) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; count];
    loop {
        match f.read_at(&mut buf, offset) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(os_err(call, subject, "pread", e)),
        }
    }
}

/// One `pwrite(2)`, retried only on `EINTR`.
fn write_once(
    call: &'static str,
    subject: &str,
    f: &File,
    content: &[u8],
    offset: u64,
) -> Result<i32> {
    loop {
        match f.write_at(content, offset) {
            Ok(n) => return Ok(n as i32),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(os_err(call, subject, "pwrite", e)),
        }
    }
}

struct OffsetReader<'a> {
    f: &'a File,
    pos: u64,
}

impl Read for OffsetReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.f.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

struct OffsetWriter<'a> {
    f: &'a File,
    pos: u64,
}

impl Write for OffsetWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.f.write_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most `len - done` bytes into our buffer.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// Open a guest directory for listing (read access), following symlinks inside
/// the root; anything else is "not a directory", as libguestfs says.
fn open_dir_read(root: &GuestRoot, call: &'static str, dir: &str) -> Result<OwnedFd> {
    let fd = root.resolve(dir, true).map_err(|e| e.with_call(call))?;
    let st = fstat(fd.as_fd()).map_err(|e| os_err(call, dir, "", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(invalid(call, dir, "not a directory"));
    }
    let p = proc_fd(fd.as_fd());
    // SAFETY: NUL-terminated path; a non-negative return is ours.
    let raw = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(last_err(call, dir, ""));
    }
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The callback of [`walk_tree`]: relative path, parent, name, `lstat`.
type Visit<'v> = dyn FnMut(&[u8], BorrowedFd<'_>, &CStr, &libc::stat) -> Result<()> + 'v;

/// Walk below the directory open at `dir`, depth first in the filesystem's
/// order, calling `visit(relative path, parent, name, lstat)` for each entry
/// (the relative path is `prefix/...`). Subdirectories are entered with
/// `O_NOFOLLOW | O_DIRECTORY` from their parent's descriptor, so the walk never
/// leaves the tree.
fn walk_tree(dir: BorrowedFd<'_>, prefix: &mut Vec<u8>, visit: &mut Visit<'_>) -> Result<()> {
    /// One directory being listed: its descriptor, what is left of its
    /// entries, and the length of its own path in `prefix`.
    struct Level {
        fd: OwnedFd,
        entries: std::vec::IntoIter<(CString, u8)>,
        len: usize,
    }
    let err = |prefix: &[u8], what: &str, e: io::Error| {
        os_err("walk", String::from_utf8_lossy(prefix), what, e)
    };
    // Iterative, so a deep guest tree costs heap, not stack.
    let first = dir.try_clone_to_owned().map_err(|e| err(prefix, "", e))?;
    let entries = dir_entries(dir).map_err(|e| err(prefix, "readdir", e))?;
    let mut stack = vec![Level {
        fd: first,
        entries: entries.into_iter(),
        len: prefix.len(),
    }];
    loop {
        let depth = stack.len();
        let Some(top) = stack.last_mut() else { break };
        let Some((name, _)) = top.entries.next() else {
            stack.pop();
            continue;
        };
        let base = top.len;
        prefix.truncate(base);
        if base > 0 {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(name.to_bytes());
        let st = match fstatat_nofollow(top.fd.as_fd(), &name) {
            Ok(st) => st,
            // Removed since it was listed.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(err(prefix, "", e)),
        };
        visit(prefix, top.fd.as_fd(), &name, &st)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            if depth > MAX_DEPTH {
                return Err(too_deep("walk", String::from_utf8_lossy(prefix)));
            }
            let sub = openat(
                top.fd.as_fd(),
                &name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )
            .map_err(|e| err(prefix, "", e))?;
            let entries = dir_entries(sub.as_fd()).map_err(|e| err(prefix, "readdir", e))?;
            stack.push(Level {
                fd: sub,
                entries: entries.into_iter(),
                len: prefix.len(),
            });
        }
    }
    Ok(())
}

/// A `checksums_out` line as coreutils prints it.
fn checksum_line(csumtype: &str, sum: &str, size: u64, rel: &[u8]) -> Vec<u8> {
    if csumtype == "crc" {
        let mut l = format!("{sum} {size} ").into_bytes();
        l.extend_from_slice(rel);
        l.push(b'\n');
        return l;
    }
    let escape = rel.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r'));
    let mut l = Vec::with_capacity(sum.len() + rel.len() + 4);
    if escape {
        l.push(b'\\');
    }
    l.extend_from_slice(sum.as_bytes());
    l.extend_from_slice(b"  ");
    for &b in rel {
        match b {
            b'\\' if escape => l.extend_from_slice(b"\\\\"),
            b'\n' => l.extend_from_slice(b"\\n"),
            b'\r' => l.extend_from_slice(b"\\r"),
            _ => l.push(b),
        }
    }
    l.push(b'\n');
    l
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// base64 with lines of 76 characters, as GNU `base64` writes it (nothing at all
/// for empty input).
fn base64_encode(
    g: &VMCraft,
    call: &'static str,
    subject: &str,
    r: &mut dyn Read,
    w: &mut dyn Write,
) -> Result<()> {
    let mut buf = vec![0u8; 57 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut col = 0usize;
    let mut out = Vec::with_capacity(80 * 1024);
    let mut eof = false;
    while !eof {
        g.config.cancel.check(call, subject, "cancelled")?;
        let n = match r.read(&mut buf) {
            Ok(0) => {
                eof = true;
                0
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(os_err(call, subject, "read", e)),
        };
        pending.extend_from_slice(&buf[..n]);
        let whole = if eof {
            pending.len()
        } else {
            pending.len() / 3 * 3
        };
        for chunk in pending[..whole].chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = [
                B64[(v >> 18) as usize & 63],
                B64[(v >> 12) as usize & 63],
                if chunk.len() > 1 {
                    B64[(v >> 6) as usize & 63]
                } else {
                    b'='
                },
                if chunk.len() > 2 {
                    B64[v as usize & 63]
                } else {
                    b'='
                },
            ];
            for c in chars {
                out.push(c);
                col += 1;
                if col == 76 {
                    out.push(b'\n');
                    col = 0;
                }
            }
        }
        pending.drain(..whole);
        if eof && col > 0 {
            out.push(b'\n');
        }
        w.write_all(&out)
            .map_err(|e| os_err(call, subject, "write", e))?;
        out.clear();
    }
    Ok(())
}

/// Decode base64, ignoring characters outside the alphabet (`base64 -d -i`);
/// padding ends a group. A dangling single character is an error.
fn base64_decode(
    g: &VMCraft,
    call: &'static str,
    subject: &str,
    r: &mut dyn Read,
    w: &mut dyn Write,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut group = [0u8; 4];
    let mut n_in_group = 0usize;
    let mut out = Vec::with_capacity(CHUNK);
    let flush_group = |group: &[u8; 4], n: usize, out: &mut Vec<u8>| -> bool {
        let v = (u32::from(group[0]) << 18)
            | (u32::from(group[1]) << 12)
            | (u32::from(group[2]) << 6)
            | u32::from(group[3]);
        match n {
            0 => {}
            1 => return false,
            2 => out.push((v >> 16) as u8),
            3 => out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8]),
            _ => out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]),
        }
        true
    };
    loop {
        g.config.cancel.check(call, subject, "cancelled")?;
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(os_err(call, subject, "read", e)),
        };
        for &c in &buf[..n] {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    if n_in_group > 0 {
                        for slot in group.iter_mut().skip(n_in_group) {
                            *slot = 0;
                        }
                        if !flush_group(&group, n_in_group, &mut out) {
                            return Err(invalid(
                                call,
                                subject,
                                "invalid input (a base64 group of one character)",
                            ));
                        }
                        n_in_group = 0;
                    }
                    continue;
                }
                _ => continue,
            };
            group[n_in_group] = v;
            n_in_group += 1;
            if n_in_group == 4 {
                flush_group(&group, 4, &mut out);
                n_in_group = 0;
            }
        }
        w.write_all(&out)
            .map_err(|e| os_err(call, subject, "write", e))?;
        out.clear();
    }
    for slot in group.iter_mut().skip(n_in_group) {
        *slot = 0;
    }
    if !flush_group(&group, n_in_group, &mut out) {
        return Err(invalid(
            call,
            subject,
            "invalid input (a base64 group of one character)",
        ));
    }
    w.write_all(&out)
        .map_err(|e| os_err(call, subject, "write", e))
}

/// Where an extended attribute call acts: `/proc/self/fd/N` for the inode
/// behind a resolved descriptor (followed), or `/proc/self/fd/DIR/NAME` for a
/// name not followed. `_hold` keeps the descriptor open while the path is used.
struct XattrTarget {
    path: CString,
    follow: bool,
    _hold: Option<OwnedFd>,
}

impl XattrTarget {
    fn get(&self, name: &CStr) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; XATTR_SIZE_MAX];
        // SAFETY: NUL-terminated strings and a buffer of the given length.
        let n = unsafe {
            if self.follow {
                libc::getxattr(
                    self.path.as_ptr(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            } else {
                libc::lgetxattr(
                    self.path.as_ptr(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(buf)
    }

    fn list(&self) -> io::Result<Vec<u8>> {
        // The kernel's list is at most XATTR_LIST_MAX (64 KiB).
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: NUL-terminated path and a buffer of the given length.
        let n = unsafe {
            if self.follow {
                libc::listxattr(self.path.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            } else {
                libc::llistxattr(self.path.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            }
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
                return Ok(Vec::new());
            }
            return Err(e);
        }
        buf.truncate(n as usize);
        Ok(buf)
    }

    fn all(&self) -> io::Result<Vec<Xattr>> {
        let list = self.list()?;
        let mut out = Vec::new();
        for name in list.split(|&b| b == 0).filter(|n| !n.is_empty()) {
            let c = CString::new(name).expect("split at NUL");
            match self.get(&c) {
                Ok(v) => out.push(Xattr {
                    attrname: String::from_utf8_lossy(name).into_owned(),
                    attrval: v,
                }),
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.attrname.cmp(&b.attrname));
        Ok(out)
    }

    fn set(&self, name: &CStr, value: &[u8]) -> io::Result<()> {
        // SAFETY: NUL-terminated strings and a value of the given length.
        let r = unsafe {
            if self.follow {
                libc::setxattr(
                    self.path.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                )
            } else {
                libc::lsetxattr(
                    self.path.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                )
            }
        };
        if r != 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn remove(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: NUL-terminated strings.
        let r = unsafe {
            if self.follow {
                libc::removexattr(self.path.as_ptr(), name.as_ptr())
            } else {
                libc::lremovexattr(self.path.as_ptr(), name.as_ptr())
            }
        };
        if r != 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// `cp -rP`, confined: sources are read through descriptors from their parent
/// (never followed), destinations made with `*at` calls in a parent resolved
/// inside the root; an existing destination file is reached through the root.
struct TreeCopy<'a> {
    g: &'a VMCraft,
    root: &'a GuestRoot,
    /// The first directory this copy made (device, inode): met again in the
    /// source, the copy would never end (`cp`: "cannot copy a directory into
    /// itself").
    top: Option<(u64, u64)>,
    /// How deep the copy is below its source.
    depth: usize,
}

impl TreeCopy<'_> {
    fn copy(
        &mut self,
        sdir: BorrowedFd<'_>,
        sname: &CStr,
        st: &libc::stat,
        src: &str,
        dest: &str,
    ) -> Result<()> {
        const CALL: &str = "cp_r";
        self.g.config.cancel.check(CALL, src, "cancelled")?;
        if self.top == Some((st.st_dev, st.st_ino)) {
            return Err(invalid(
                CALL,
                src,
                format!("cannot copy a directory into itself ({dest})"),
            ));
        }
        let (ddir, dname) = parent_of(self.root, CALL, dest)?;
        let perm = st.st_mode & 0o7777;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                // SAFETY: valid descriptor and NUL-terminated name.
                let r = unsafe {
                    libc::mkdirat(ddir.as_raw_fd(), dname.as_ptr(), perm & 0o777 | 0o700)
                };
                if r != 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EEXIST)
                        || !self.root.is_dir(dest, true).unwrap_or(false)
                    {
                        return Err(os_err(CALL, dest, "", e));
                    }
                }
                let made = self
                    .root
                    .resolve(dest, true)
                    .map_err(|e| e.with_call(CALL))?;
                let mst = fstat(made.as_fd()).map_err(|e| os_err(CALL, dest, "", e))?;
                if self.top.is_none() {
                    self.top = Some((mst.st_dev, mst.st_ino));
                }
                let sub = openat(
                    sdir,
                    sname,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )
                .map_err(|e| os_err(CALL, src, "", e))?;
                for (name, _) in
                    dir_entries(sub.as_fd()).map_err(|e| os_err(CALL, src, "readdir", e))?
                {
                    let cst = match fstatat_nofollow(sub.as_fd(), &name) {
                        Ok(s) => s,
                        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                        Err(e) => return Err(os_err(CALL, src, "", e)),
                    };
                    let n = String::from_utf8_lossy(name.to_bytes()).into_owned();
                    let (cs, cd) = (
                        format!("{}/{n}", src.trim_end_matches('/')),
                        format!("{}/{n}", dest.trim_end_matches('/')),
                    );
                    if n.contains('\u{fffd}') {
                        return Err(invalid(CALL, cs, "name is not UTF-8"));
                    }
                    if self.depth >= MAX_DEPTH {
                        return Err(too_deep(CALL, cs));
                    }
                    self.depth += 1;
                    let r = self.copy(sub.as_fd(), &name, &cst, &cs, &cd);
                    self.depth -= 1;
                    r?;
                }
                // The mode as cp -r leaves it: the source's, under the umask.
                let mask = umask();
                let p = proc_fd(made.as_fd());
                // SAFETY: NUL-terminated path.
                if unsafe { libc::chmod(p.as_ptr(), perm & 0o777 & !mask) } != 0 {
                    return Err(last_err(CALL, dest, "chmod"));
                }
                Ok(())
            }
            libc::S_IFREG => {
                let pfd = openat(sdir, sname, libc::O_PATH | libc::O_NOFOLLOW, 0)
                    .map_err(|e| os_err(CALL, src, "", e))?;
                let mut from = reopen_regular(CALL, src, pfd.as_fd(), libc::O_RDONLY)?;
                let to = match openat(
                    ddir.as_fd(),
                    &dname,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    perm & 0o777,
                ) {
                    Ok(fd) => File::from(fd),
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                        // Written through, as cp does; a symlink is followed
                        // inside the guest.
                        open_existing(self.root, CALL, dest, libc::O_WRONLY | libc::O_TRUNC)?
                    }
                    Err(e) => return Err(os_err(CALL, dest, "", e)),
                };
                let total = from.metadata().map(|m| m.len()).unwrap_or(0);
                let mut w = BufWriter::with_capacity(CHUNK, &to);
                copy_stream(self.g, CALL, src, &mut from, &mut w, None, total)?;
                w.flush().map_err(|e| os_err(CALL, dest, "write", e))
            }
            libc::S_IFLNK => {
                let mut buf = vec![0u8; libc::PATH_MAX as usize];
                // SAFETY: valid descriptor, NUL-terminated name, buffer of that length.
                let n = unsafe {
                    libc::readlinkat(
                        sdir.as_raw_fd(),
                        sname.as_ptr(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                };
                if n < 0 {
                    return Err(last_err(CALL, src, "readlink"));
                }
                buf.truncate(n as usize);
                let target = CString::new(buf).expect("readlink gives no NUL");
                // SAFETY: NUL-terminated strings and a valid descriptor.
                if unsafe { libc::symlinkat(target.as_ptr(), ddir.as_raw_fd(), dname.as_ptr()) }
                    != 0
                {
                    return Err(last_err(CALL, dest, ""));
                }
                Ok(())
            }
            kind => {
                // FIFOs, sockets and device nodes are recreated, never opened.
                // SAFETY: valid descriptor and NUL-terminated name.
                if unsafe {
                    libc::mknodat(ddir.as_raw_fd(), dname.as_ptr(), kind | perm, st.st_rdev)
                } != 0
                {
                    return Err(last_err(CALL, dest, ""));
                }
                Ok(())
            }
        }
    }
}

fn umask() -> u32 {
    // There is no way to read the umask without setting it (short of
    // /proc/self/status): read it there.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// The program and arguments for a `compress_out` type and level, as libguestfs
/// runs them; refused before anything is read or created.
fn compress_filter(call: &'static str, ctype: &str, level: Option<i32>) -> Result<Vec<String>> {
    let (prog, range): (&str, Option<std::ops::RangeInclusive<i32>>) = match ctype {
        "compress" => ("compress", None),
        "gzip" => ("gzip", Some(1..=9)),
        "bzip2" => ("bzip2", Some(1..=9)),
        "xz" => ("xz", Some(0..=9)),
        "lzop" => ("lzop", Some(1..=9)),
        _ => {
            return Err(invalid(
                call,
                ctype,
                "unknown compression type (compress, gzip, bzip2, xz or lzop)",
            ));
        }
    };
    let mut argv = vec![prog.to_string(), "-c".to_string()];
    if prog == "gzip" {
        // No name or time in the header: the same input gives the same output.
        argv.push("-n".into());
    }
    match (level, range) {
        (None, _) => {}
        (Some(_), None) => {
            return Err(invalid(
                call,
                ctype,
                "compress: cannot use optional level parameter with this compression type",
            ));
        }
        (Some(l), Some(r)) if r.contains(&l) => argv.push(format!("-{l}")),
        (Some(l), Some(_)) => {
            return Err(invalid(
                call,
                ctype,
                format!("{prog}: incorrect value for level parameter ({l})"),
            ));
        }
    }
    if !vmcraft_block::has_command(prog) {
        return Err(Error::call(
            crate::error::ErrorKind::Unsupported,
            call,
            ctype,
            format!(
                "compression type {prog} is not supported, because external program '{prog}' is not available"
            ),
        ));
    }
    Ok(argv)
}

// ---- glob -----------------------------------------------------------------------------

/// Expand `{a,b}` alternatives (`GLOB_BRACE`), left to right, nested braces
/// included; an unbalanced brace is kept literally, as glibc does.
fn brace_expand(pattern: &str) -> std::result::Result<Vec<String>, String> {
    let b = pattern.as_bytes();
    // Find the first top-level `{` with a matching `}`.
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'{' => {
                let mut depth = 0;
                let mut commas = Vec::new();
                let mut j = i;
                let mut close = None;
                while j < b.len() {
                    match b[j] {
                        b'\\' => j += 1,
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        b',' if depth == 1 => commas.push(j),
                        _ => {}
                    }
                    j += 1;
                }
                let Some(close) = close else {
                    return Ok(vec![pattern.to_string()]);
                };
                let (pre, post) = (&pattern[..i], &pattern[close + 1..]);
                let mut bounds = vec![i];
                bounds.extend(commas);
                bounds.push(close);
                let mut out = Vec::new();
                for w in bounds.windows(2) {
                    let alt = &pattern[w[0] + 1..w[1]];
                    for e in brace_expand(&format!("{pre}{alt}{post}"))? {
                        out.push(e);
                        if out.len() > MAX_BRACE_EXPANSIONS {
                            return Err(format!(
                                "brace expansion gives more than {MAX_BRACE_EXPANSIONS} patterns"
                            ));
                        }
                    }
                }
                return Ok(out);
            }
            _ => i += 1,
        }
    }
    Ok(vec![pattern.to_string()])
}

fn has_magic(c: &[u8]) -> bool {
    c.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Remove backslash escapes from a non-magic component.
fn unescape(c: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == b'\\' && i + 1 < c.len() {
            i += 1;
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// The matches of one brace-free pattern: directories listed inside the root,
/// each component matched against their names.
fn glob_one(root: &GuestRoot, pattern: &str, count: &mut usize) -> Result<Vec<Vec<u8>>> {
    let comps: Vec<&[u8]> = pattern
        .as_bytes()
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let trailing = pattern.ends_with('/') && !comps.is_empty();
    let mut cur: Vec<Vec<u8>> = vec![b"/".to_vec()];
    for (k, comp) in comps.iter().enumerate() {
        let last = k + 1 == comps.len();
        let mut next = Vec::new();
        for base in &cur {
            let join = |name: &[u8]| {
                let mut p = base.clone();
                if !p.ends_with(b"/") {
                    p.push(b'/');
                }
                p.extend_from_slice(name);
                p
            };
            if !has_magic(comp) {
                next.push(join(&unescape(comp)));
                continue;
            }
            let base_s = String::from_utf8_lossy(base).into_owned();
            let Ok(fd) = root.resolve(&base_s, true) else {
                continue;
            };
            let Ok(dir) = reopen_dir(fd.as_fd()) else {
                continue;
            };
            let Ok(entries) = dir_entries(dir.as_fd()) else {
                continue;
            };
            for (name, _) in entries {
                let n = name.to_bytes();
                if n.first() == Some(&b'.') && comp.first() != Some(&b'.') {
                    continue;
                }
                if fnmatch(comp, n) {
                    next.push(join(n));
                    *count += 1;
                    if *count > MAX_GLOB_RESULTS {
                        return Err(invalid(
                            "glob_expand",
                            pattern,
                            format!("more than {MAX_GLOB_RESULTS} matches"),
                        ));
                    }
                }
            }
        }
        // Non-final components must be directories to go on; the final ones
        // must exist (a symlink counts, dangling or not).
        cur = next
            .into_iter()
            .filter(|p| {
                let s = String::from_utf8_lossy(p).into_owned();
                if last && !trailing {
                    root.resolve(&s, false).is_ok()
                } else {
                    root.is_dir(&s, true).unwrap_or(false)
                }
            })
            .collect();
    }
    Ok(cur)
}

fn reopen_dir(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let p = proc_fd(fd);
    // SAFETY: NUL-terminated path; a non-negative return is ours.
    let raw = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `fnmatch(3)` without flags on one name: `*`, `?`, `[...]` (with `!`/`^`,
/// ranges and `[:class:]`), backslash escapes. `glob-expand` and the command
/// line's device globbing match with it, one path component at a time.
///
/// ```
/// use vmcraft::calls::filemod::fnmatch;
/// assert!(fnmatch(b"*.conf", b"resolv.conf"));
/// assert!(fnmatch(b"sd[a-c]?", b"sdb1"));
/// assert!(!fnmatch(b"[!a]*", b"abc"));
/// ```
pub fn fnmatch(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let (mut star_p, mut star_s) = (usize::MAX, 0usize);
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star_p = pi;
                    star_s = si;
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = bracket(p, pi, s[si]) {
                        if matched {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == s[si] {
                        pi += 2;
                        si += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[si] {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
            }
        }
        if star_p != usize::MAX {
            pi = star_p + 1;
            star_s += 1;
            si = star_s;
            continue;
        }
        return false;
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Match `c` against the bracket expression at `p[start]`; `None` when the
/// bracket is not closed (then `[` is literal).
fn bracket(p: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &ch = p.get(i)?;
        if ch == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if ch == b'[' && p.get(i + 1) == Some(&b':') {
            let rest = &p[i + 2..];
            if let Some(end) = rest.windows(2).position(|w| w == b":]") {
                let class = &rest[..end];
                let ok = match class {
                    b"alpha" => c.is_ascii_alphabetic(),
                    b"digit" => c.is_ascii_digit(),
                    b"alnum" => c.is_ascii_alphanumeric(),
                    b"upper" => c.is_ascii_uppercase(),
                    b"lower" => c.is_ascii_lowercase(),
                    b"space" => c.is_ascii_whitespace(),
                    b"punct" => c.is_ascii_punctuation(),
                    b"xdigit" => c.is_ascii_hexdigit(),
                    b"print" => (0x20..0x7f).contains(&c),
                    b"graph" => (0x21..0x7f).contains(&c),
                    b"cntrl" => c.is_ascii_control(),
                    b"blank" => c == b' ' || c == b'\t',
                    _ => false,
                };
                matched |= ok;
                i += 2 + end + 2;
                continue;
            }
        }
        let lo = if ch == b'\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|&h| h != b']') {
            let mut hi = p[i + 2];
            let mut step = 3;
            if hi == b'\\' {
                hi = *p.get(i + 3)?;
                step = 4;
            }
            matched |= lo <= c && c <= hi;
            i += step;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

// ---- cpio ------------------------------------------------------------------------------

/// A cpio archive in the SVR4 "new" format (`newc`, magic `070701`) or its
/// checksummed form (`crc`, `070702`), as GNU cpio writes them: a 110-byte
/// ASCII header, the name with its NUL padded to 4 bytes, the data padded to 4,
/// and a `TRAILER!!!` entry; hard links share their inode number (the data is
/// stored with each, which GNU cpio extracts as links).
struct CpioWriter<W: Write> {
    w: W,
    crc: bool,
    written: u64,
    /// (device, inode) -> the inode number given in the archive.
    ino: std::collections::HashMap<(u64, u64), u32>,
}

impl<W: Write> CpioWriter<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }

    fn header(
        &mut self,
        name: &[u8],
        st: &libc::stat,
        ino: u32,
        size: u64,
        sum: u32,
    ) -> io::Result<()> {
        if size > u64::from(u32::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "file is larger than 4 GiB, which the cpio newc format cannot hold",
            ));
        }
        let major = |d: u64| libc::major(d);
        let minor = |d: u64| libc::minor(d);
        let h = format!(
            "{}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            if self.crc { "070702" } else { "070701" },
            ino,
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_nlink as u32,
            st.st_mtime as u32,
            size as u32,
            major(st.st_dev),
            minor(st.st_dev),
            major(st.st_rdev),
            minor(st.st_rdev),
            name.len() + 1,
            sum,
        );
        self.put(h.as_bytes())?;
        self.put(name)?;
        self.put(b"\0")?;
        self.pad()
    }

    /// One entry; `data` is read to its end for a regular file (its size is
    /// `st.st_size`; a short read is `UnexpectedEof`), `link` is a symlink's target.
    fn entry(
        &mut self,
        name: &[u8],
        st: &libc::stat,
        data: &mut dyn Read,
        link: &[u8],
    ) -> io::Result<()> {
        let next = self.ino.len() as u32 + 1;
        let ino = *self.ino.entry((st.st_dev, st.st_ino)).or_insert(next);
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {
                let size = st.st_size as u64;
                let sum = if self.crc {
                    // The crc format's checksum is the sum of the data bytes, so
                    // the data is read twice: once to sum, once to copy.
                    let mut tmp = tempfile_sum(data, size)?;
                    let s = tmp.1;
                    self.header(name, st, ino, size, s)?;
                    io::copy(&mut tmp.0, &mut self.w)?;
                    self.written += size;
                    return self.pad();
                } else {
                    0
                };
                self.header(name, st, ino, size, sum)?;
                let n = io::copy(data, &mut self.w)?;
                self.written += n;
                if n != size {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
                }
                self.pad()
            }
            libc::S_IFLNK => {
                let sum = if self.crc {
                    link.iter()
                        .map(|&b| u32::from(b))
                        .fold(0u32, u32::wrapping_add)
                } else {
                    0
                };
                self.header(name, st, ino, link.len() as u64, sum)?;
                self.put(link)?;
                self.pad()
            }
            _ => self.header(name, st, ino, 0, 0),
        }
    }

    fn finish(mut self) -> io::Result<()> {
        // SAFETY: an all-zero `stat` is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        st.st_nlink = 1;
        self.header(b"TRAILER!!!", &st, 0, 0, 0)?;
        // GNU cpio pads the archive to a multiple of 512 bytes.
        let rest = (512 - (self.written % 512) as usize) % 512;
        self.put(&vec![0u8; rest])?;
        self.w.flush()
    }
}

/// For the crc format: spool `size` bytes of `data` to an anonymous temporary
/// file while summing them; returns it rewound and the sum.
fn tempfile_sum(data: &mut dyn Read, size: u64) -> io::Result<(File, u32)> {
    let dir = CString::new("/tmp").expect("no NUL");
    // SAFETY: NUL-terminated path; a non-negative return is ours.
    let raw = unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just opened.
    let mut f = unsafe { File::from_raw_fd(raw) };
    let mut buf = vec![0u8; CHUNK];
    let mut sum = 0u32;
    let mut done = 0u64;
    while done < size {
        let want = ((size - done) as usize).min(CHUNK);
        let n = data.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
        }
        sum = buf[..n]
            .iter()
            .fold(sum, |s, &b| s.wrapping_add(u32::from(b)));
        f.write_all(&buf[..n])?;
        done += n as u64;
    }
    use std::io::Seek;
    f.seek(io::SeekFrom::Start(0))?;
    Ok((f, sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_guest_paths() {
        assert_eq!(split_guest("/a/b"), Some(("/a".to_string(), "b")));
        assert_eq!(split_guest("/b/"), Some(("/".to_string(), "b")));
        assert_eq!(split_guest("/"), None);
        assert_eq!(split_guest("/a/.."), None);
        assert_eq!(split_guest("/a/."), None);
    }

    #[test]
    fn fnmatch_like_glibc() {
        assert!(fnmatch(b"*", b"abc"));
        assert!(fnmatch(b"a*c", b"abbbc"));
        assert!(!fnmatch(b"a*c", b"abbb"));
        assert!(fnmatch(b"?b", b"ab"));
        assert!(fnmatch(b"[a-c]x", b"bx"));
        assert!(!fnmatch(b"[!a-c]x", b"bx"));
        assert!(fnmatch(b"[[:digit:]]*", b"1abc"));
        assert!(fnmatch(b"\\*", b"*"));
        assert!(!fnmatch(b"\\*", b"a"));
        assert!(fnmatch(b"[]]", b"]"));
        assert!(fnmatch(b"[", b"["));
    }

    #[test]
    fn braces_expand_in_order() {
        assert_eq!(
            brace_expand("/a/{x,y{1,2}}/z").unwrap(),
            ["/a/x/z", "/a/y1/z", "/a/y2/z"]
        );
        assert_eq!(brace_expand("/a{").unwrap(), ["/a{"]);
        assert!(brace_expand(&"{a,b}".repeat(13)).is_err());
    }

    #[test]
    fn checksum_lines_escape_as_coreutils() {
        assert_eq!(checksum_line("md5", "ab", 0, b"./x"), b"ab  ./x\n");
        assert_eq!(
            checksum_line("md5", "ab", 0, b"./a\\b\nc"),
            b"\\ab  ./a\\\\b\\nc\n"
        );
        assert_eq!(checksum_line("crc", "123", 5, b"./x"), b"123 5 ./x\n");
    }
}
