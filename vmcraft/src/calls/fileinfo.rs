//! File information and search (`filesize`, `file`, `ll`, `statns`, the `grep` family, `head`/`tail`, `wc-*`, `strings`, `hexdump`, `du`, `df`, the `is-*` tests), confined to the guest tree.
//!
//! Every guest path goes through [`vmcraft_fs::root::GuestRoot`] (chroot semantics:
//! a guest symlink or `..` never leaves the guest tree). Content is only read from
//! regular files: a guest FIFO or device node is refused unopened. Where an
//! external tool does the work (`grep`, `zgrep`, `file`, `ls`, `du`), it is handed
//! `/proc/PID/fd/N`, the descriptor this process holds on the exact inode that was
//! resolved and checked, never a host path built from guest data.
//!
//! Guest-controlled sizes are bounded: `head`, `tail`, `wc-*`, `strings`,
//! `hexdump` and `is-zero` stream the file in 1 MiB pieces (holes of sparse files
//! are skipped with `SEEK_DATA`/`SEEK_HOLE`, not read), and a result larger than
//! [`MAX_RESULT`] (libguestfs's 4 MiB message limit) is an error instead of an
//! allocation.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use vmcraft_block::Command;
use vmcraft_fs::root::{GuestRoot, Stat, StatNs};

use crate::error::{Error, ErrorKind, Result};
use crate::inproc::reads::ContentFile;
use crate::names::DeviceName;
use crate::session::VMCraft;

/// The largest result (string, or all the strings of a list together) a call
/// returns: libguestfs's protocol limit of 4 MiB. A larger one is an error telling
/// the caller to use `download` instead.
pub const MAX_RESULT: usize = 4 << 20;

/// Size of the pieces files are read in.
const CHUNK: usize = 1 << 20;

/// Optional arguments of [`VMCraft::grep`] (libguestfs `grep`'s optargs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrepOptions {
    /// `grep -E`: the regex is an extended regular expression.
    pub extended: bool,
    /// `grep -F`: the regex is a fixed string (not with `extended`).
    pub fixed: bool,
    /// `grep -i`: match case-insensitively.
    pub insensitive: bool,
    /// Use `zgrep`: the file may be compressed (gzip, bzip2, xz, ...).
    pub compressed: bool,
}

/// A piece of a file as [`scan`] hands it over: bytes read, or a hole (zeros
/// that were not read).
enum Chunk<'a> {
    Data(&'a [u8]),
    Zeros(u64),
}

/// Whether [`scan`] goes on.
enum Flow {
    More,
    Stop,
}

/// Libguestfs `Pathname` arguments are absolute.
fn absolute(call: &str, path: &str) -> Result<()> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(Error::invalid(
            call,
            path,
            "path must start with a / character",
        ))
    }
}

/// `/proc/PID/fd/N`: the inode behind `fd`, as a path a child process can open.
fn proc_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        fd.as_raw_fd()
    ))
}

/// The `std::io::Error` at the bottom of an archive error, if any.
fn io_errno(e: &vmcraft_fs::root::Error) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        cur = s.source();
    }
    None
}

fn too_large(call: &str, path: &str) -> Error {
    Error::call(
        ErrorKind::InvalidArgument,
        call,
        path,
        format!(
            "the result is larger than {} MiB (use download to copy the file out)",
            MAX_RESULT >> 20
        ),
    )
}

fn read_error(call: &str, path: &str, e: std::io::Error) -> Error {
    Error::call_with_source(ErrorKind::Io, call, path, "read", e)
}

/// Stream `file` (a regular file) from its start to its size, handing each piece
/// to `f`; holes are handed over as [`Chunk::Zeros`] without being read.
fn scan(
    g: &VMCraft,
    call: &str,
    path: &str,
    file: &dyn ContentFile,
    mut f: impl FnMut(Chunk<'_>) -> Result<Flow>,
) -> Result<()> {
    let size = file
        .size()
        .map_err(|e| Error::call_with_source(ErrorKind::Io, call, path, "fstat", e))?;
    let token = g.cancel_token();
    let mut buf = vec![0u8; CHUNK.min(size as usize).max(1)];
    let mut pos = 0u64;
    while pos < size {
        // Where the next data starts and ends; a filesystem without SEEK_DATA has
        // all of it as data.
        let (data, hole) = file.data_range(pos, size).unwrap_or((pos, size));
        if data > pos {
            if let Flow::Stop = f(Chunk::Zeros(data - pos))? {
                return Ok(());
            }
            pos = data;
        }
        while pos < hole {
            if token.is_cancelled() {
                return Err(Error::call(ErrorKind::Io, call, path, "cancelled"));
            }
            let want = ((hole - pos) as usize).min(buf.len());
            let n = file
                .read_at(&mut buf[..want], pos)
                .map_err(|e| read_error(call, path, e))?;
            if n == 0 {
                // The file shrank meanwhile.
                return Ok(());
            }
            if let Flow::Stop = f(Chunk::Data(&buf[..n]))? {
                return Ok(());
            }
            pos += n as u64;
        }
    }
    Ok(())
}

/// The number of lines as `head`/`tail` see them: newlines, plus one for a last
/// line without one.
fn count_lines(g: &VMCraft, call: &str, path: &str, file: &dyn ContentFile) -> Result<u64> {
    let mut lines = 0u64;
    let mut last = b'\n';
    scan(g, call, path, file, |c| {
        match c {
            Chunk::Data(d) => {
                lines += d.iter().filter(|&&b| b == b'\n').count() as u64;
                last = *d.last().unwrap_or(&last);
            }
            Chunk::Zeros(n) if n > 0 => last = 0,
            Chunk::Zeros(_) => {}
        }
        Ok(Flow::More)
    })?;
    Ok(lines + u64::from(last != b'\n'))
}

/// Lines `from..to` (0-based) of a file, without their newlines, bounded by
/// [`MAX_RESULT`].
fn lines_between(
    g: &VMCraft,
    call: &str,
    path: &str,
    file: &dyn ContentFile,
    from: u64,
    to: u64,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if from >= to {
        return Ok(out);
    }
    let mut line = 0u64;
    let mut cur: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let finish = |cur: &mut Vec<u8>, out: &mut Vec<String>| {
        out.push(String::from_utf8_lossy(cur).into_owned());
        cur.clear();
    };
    scan(g, call, path, file, |c| {
        match c {
            Chunk::Zeros(n) => {
                if line >= from {
                    if total + cur.len() + n as usize > MAX_RESULT || n as usize > MAX_RESULT {
                        return Err(too_large(call, path));
                    }
                    cur.resize(cur.len() + n as usize, 0);
                }
            }
            Chunk::Data(mut d) => {
                while !d.is_empty() {
                    let nl = d.iter().position(|&b| b == b'\n');
                    let piece = &d[..nl.unwrap_or(d.len())];
                    if line >= from {
                        if total + cur.len() + piece.len() > MAX_RESULT {
                            return Err(too_large(call, path));
                        }
                        cur.extend_from_slice(piece);
                    }
                    match nl {
                        Some(i) => {
                            if line >= from {
                                total += cur.len() + 1;
                                finish(&mut cur, &mut out);
                            }
                            line += 1;
                            if line >= to {
                                return Ok(Flow::Stop);
                            }
                            d = &d[i + 1..];
                        }
                        None => break,
                    }
                }
            }
        }
        Ok(Flow::More)
    })?;
    if line >= from && line < to && !cur.is_empty() {
        finish(&mut cur, &mut out);
    }
    Ok(out)
}

/// The last `n` lines of a file, read backwards from its end: at most
/// [`MAX_RESULT`] + 1 bytes are read whatever the file's size (more would be a
/// result over the bound), so `tail` of a huge log costs what it returns.
fn last_lines(
    g: &VMCraft,
    call: &str,
    path: &str,
    file: &dyn ContentFile,
    n: u64,
) -> Result<Vec<String>> {
    let size = file
        .size()
        .map_err(|e| Error::call_with_source(ErrorKind::Io, call, path, "fstat", e))?;
    let token = g.cancel_token();
    // The blocks from `pos` to the end, last first (they are the result).
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut kept = 0usize;
    let mut pos = size;
    let mut seen = 0u64;
    // Where the result starts, once `n` newlines (not counting a final one)
    // were seen; the file's start otherwise.
    let mut start = None;
    while pos > 0 && start.is_none() {
        if token.is_cancelled() {
            return Err(Error::call(ErrorKind::Io, call, path, "cancelled"));
        }
        let want = (pos.min(64 << 10)) as usize;
        let mut block = vec![0u8; want];
        let from = pos - want as u64;
        let mut got = 0;
        while got < want {
            let r = file
                .read_at(&mut block[got..], from + got as u64)
                .map_err(|e| read_error(call, path, e))?;
            if r == 0 {
                break;
            }
            got += r;
        }
        if got < want {
            return Err(Error::call(
                ErrorKind::Io,
                call,
                path,
                "the file shrank while it was read",
            ));
        }
        for i in (0..want).rev() {
            let at = from + i as u64;
            if block[i] == b'\n' && at + 1 != size {
                seen += 1;
                if seen == n {
                    start = Some(at + 1);
                    break;
                }
            }
        }
        let keep = match start {
            Some(s) => &block[(s - from) as usize..],
            None => &block[..],
        };
        kept += keep.len();
        if kept > MAX_RESULT {
            return Err(too_large(call, path));
        }
        blocks.push(keep.to_vec());
        pos = from;
    }
    let tail: Vec<u8> = blocks.into_iter().rev().flatten().collect();
    if tail.is_empty() {
        return Ok(Vec::new());
    }
    let text = tail.strip_suffix(b"\n").unwrap_or(&tail);
    Ok(text
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect())
}

/// Whether `c` is a character of a string for `strings -e encoding`
/// (binutils' rule: a tab or printable ASCII; with `S` any byte above 127 too).
fn string_char(c: u32, encoding: u8) -> bool {
    c == u32::from(b'\t')
        || (0x20..0x7f).contains(&c)
        || (encoding == b'S' && (128..256).contains(&c))
}

impl VMCraft {
    /// Open a guest regular file for its content (a FIFO, device node, socket or
    /// directory is refused unopened).
    /// A guest file opened on the host, for calls that hand it to a tool.
    fn open_content(&self, call: &'static str, path: &str) -> Result<(GuestRoot, File)> {
        absolute(call, path)?;
        let root = self.guest_root_for(call)?;
        let f = root.open_read(path).map_err(|e| e.with_call(call))?;
        Ok((root, f))
    }

    /// A guest file opened for the calls that read it themselves, in-process
    /// or on the kernel-mounted tree.
    fn open_scan(&self, call: &'static str, path: &str) -> Result<Box<dyn ContentFile + Send>> {
        absolute(call, path)?;
        Ok(self
            .read_tree(call)?
            .open_content(path)
            .map_err(|e| e.with_call(call))?)
    }

    /// Run a tool, its failure an error of `call`.
    fn tool(&self, call: &str, cmd: Command) -> Result<vmcraft_block::Output> {
        let cmd = cmd
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .cancel_on(&self.cancel_token());
        self.runner().execute(&cmd).map_err(|e| {
            Error::call_with_source(
                ErrorKind::Io,
                call,
                cmd.program().to_string_lossy(),
                "could not run",
                e,
            )
        })
    }

    /// Run `prog args` with its standard output cut at [`MAX_RESULT`] + 1 bytes
    /// (`sh -c '{ prog "$@"; echo rc >&2; } | head -c N'`: the arguments are
    /// never parsed by the shell), so that what a tool prints about guest data
    /// cannot make this process allocate more than that. Returns the tool's exit
    /// status, its output, and its trimmed standard error; output over the bound
    /// is an error.
    fn bounded_tool(
        &self,
        call: &str,
        subject: &str,
        prog: &'static str,
        args: Vec<std::ffi::OsString>,
    ) -> Result<(i32, Vec<u8>, String)> {
        const MARK: &str = "vmcraft-exit-status=";
        let script = format!(
            "{{ {prog} \"$@\"; echo \"{MARK}$?\" >&2; }} | head -c {}",
            MAX_RESULT + 1
        );
        let out = self.tool(
            call,
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg(prog)
                .args(args),
        )?;
        if out.stdout.len() > MAX_RESULT {
            return Err(too_large(call, subject));
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut status = None;
        let mut rest = Vec::new();
        for line in stderr.lines() {
            match line.strip_prefix(MARK) {
                Some(n) => status = n.trim().parse::<i32>().ok(),
                None => rest.push(line),
            }
        }
        let rest = rest.join("\n").trim().to_string();
        match status {
            Some(st) => Ok((st, out.stdout, rest)),
            None => Err(Error::call(
                ErrorKind::Io,
                call,
                subject,
                format!("{prog} did not finish: {rest}"),
            )),
        }
    }

    /// The size of a file in bytes, following symlinks (`filesize`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let n = g.filesize("/etc/passwd")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn filesize(&self, file: &str) -> Result<i64> {
        absolute("filesize", file)?;
        let st = self
            .read_tree("filesize")?
            .statns("filesize", file, true)
            .map_err(|e| e.with_call("filesize"))?;
        Ok(st.st_size)
    }

    /// What a file is (`file`): for anything but a regular file its type
    /// (`directory`, `character device`, `block device`, `FIFO`, `symbolic link`,
    /// `socket`; a symlink is not followed); for a regular file what `file -zb`
    /// says of its content. A device name (`/dev/sda1`) describes the device's
    /// content (`file -zbsL`).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// assert_eq!(g.file("/etc")?, "directory");
    /// println!("{}", g.file("/bin/ls")?); // ELF 64-bit LSB pie executable, ...
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn file(&self, path: &str) -> Result<String> {
        self.file_impl("file", path)
    }

    fn file_impl(&self, call: &'static str, path: &str) -> Result<String> {
        if path.starts_with("/dev/") {
            let dev = self.resolve(call, path)?;
            let out = self.tool(
                call,
                Command::new("file").arg("-zbsL").arg("--").arg(&dev.host),
            )?;
            return file_output(call, path, out);
        }
        absolute(call, path)?;
        let root = self.guest_root_for(call)?;
        let st = root.lstatns(path).map_err(|e| e.with_call(call))?;
        let kind = match st.st_mode as u32 & libc::S_IFMT {
            libc::S_IFDIR => "directory",
            libc::S_IFCHR => "character device",
            libc::S_IFBLK => "block device",
            libc::S_IFIFO => "FIFO",
            libc::S_IFLNK => "symbolic link",
            libc::S_IFSOCK => "socket",
            libc::S_IFREG => "",
            _ => "unknown file type",
        };
        if !kind.is_empty() {
            return Ok(kind.to_string());
        }
        let f = root.open_read(path).map_err(|e| e.with_call(call))?;
        let out = self.tool(
            call,
            Command::new("file")
                .arg("-zbL")
                .arg("--")
                .arg(proc_path(f.as_fd())),
        )?;
        file_output(call, path, out)
    }

    /// The architecture of a binary, as libguestfs names it (`file_architecture`):
    /// `i386`, `x86_64`, `aarch64`, `arm`, `ppc`, `ppc64`, `ppc64le`, `riscv64`,
    /// `s390`, `s390x`, `sparc`, `sparc64`, `ia64`, `loongarch64`, ... It works on
    /// ELF executables, shared libraries and objects, Windows PE executables and
    /// DLLs (`i386` for PE32, `x86_64` for PE32+), any of them compressed, and
    /// Linux initrd images (a cpio archive, compressed or not, whose `bin/ls`,
    /// `bin/sh`, ... is looked at). Anything else is an error.
    ///
    /// What `file -zb` says of the content is what is read, so the answer is
    /// libguestfs's. An initrd's member is read as a stream (`cpio -i
    /// --to-stdout`, its first 64 KiB), never written to the host.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// assert_eq!(g.file_architecture("/bin/ls")?, "x86_64");
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn file_architecture(&self, filename: &str) -> Result<String> {
        const CALL: &str = "file_architecture";
        let magic = self.file_impl(CALL, filename)?;
        if let Some(arch) = arch_of_magic(&magic) {
            return Ok(arch);
        }
        if !magic.contains("cpio archive") {
            return Err(unknown_arch(filename, &magic));
        }
        // An initrd: look at the binaries it holds.
        let (_root, f) = self.open_content(CALL, filename)?;
        let decompress = if magic.contains("gzip") {
            "gzip -dc"
        } else if magic.contains("bzip2") {
            "bzip2 -dc"
        } else if magic.contains("XZ compressed") {
            "xz -dc"
        } else if magic.contains("Zstandard compressed") {
            "zstd -dcq"
        } else {
            "cat"
        };
        for bin in INITRD_BINARIES {
            // The archive by the descriptor this process holds, the member to
            // standard output, cut at 64 KiB: nothing is extracted to disk.
            let script = format!(
                "{decompress} < \"$1\" | cpio --quiet -i --to-stdout -- \"$2\" 2>/dev/null | head -c 65536"
            );
            let out = self.tool(
                CALL,
                Command::new("sh")
                    .arg("-c")
                    .arg(script)
                    .arg("sh")
                    .arg(proc_path(f.as_fd()))
                    .arg(bin),
            )?;
            if out.stdout.is_empty() {
                continue;
            }
            let member = self.tool(
                CALL,
                Command::new("file").arg("-zb").arg("-").stdin(out.stdout),
            )?;
            let member_magic = file_output(CALL, filename, member)?;
            return arch_of_magic(&member_magic)
                .ok_or_else(|| unknown_arch(&format!("{filename}:{bin}"), &member_magic));
        }
        Err(Error::call(
            ErrorKind::InvalidArgument,
            CALL,
            filename,
            "could not determine architecture of cpio archive (it holds none of bin/ls, bin/rm, bin/modprobe, sbin/modprobe, bin/sh, bin/bash, bin/dash, bin/nash)",
        ))
    }

    /// Status of a file, following symlinks, with nanosecond times (`statns`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn statns(&self, path: &str) -> Result<StatNs> {
        absolute("statns", path)?;
        Ok(self.read_tree("statns")?.statns("statns", path, true)?)
    }

    /// Status of a path itself, a symlink not followed (`lstatns`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lstatns(&self, path: &str) -> Result<StatNs> {
        absolute("lstatns", path)?;
        Ok(self.read_tree("lstatns")?.statns("lstatns", path, false)?)
    }

    /// [`VMCraft::lstatns`] of each of `names` in the directory `path`, one
    /// struct per name in order (`lstatnslist`). A name that cannot be looked at
    /// (missing, or a path running through something that is not a directory)
    /// gets a struct whose `st_ino` is -1 (the other fields 0), as libguestfs does.
    /// Names are taken inside the guest tree whatever they hold (`..` stops at
    /// the guest's root).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lstatnslist(&self, path: &str, names: &[&str]) -> Result<Vec<StatNs>> {
        self.lstatnslist_impl("lstatnslist", path, names)
    }

    fn lstatnslist_impl(
        &self,
        call: &'static str,
        path: &str,
        names: &[&str],
    ) -> Result<Vec<StatNs>> {
        const MISSING: StatNs = StatNs {
            st_dev: 0,
            st_ino: -1,
            st_mode: 0,
            st_nlink: 0,
            st_uid: 0,
            st_gid: 0,
            st_rdev: 0,
            st_size: 0,
            st_blksize: 0,
            st_blocks: 0,
            st_atime_sec: 0,
            st_atime_nsec: 0,
            st_mtime_sec: 0,
            st_mtime_nsec: 0,
            st_ctime_sec: 0,
            st_ctime_nsec: 0,
            st_spare1: 0,
            st_spare2: 0,
            st_spare3: 0,
            st_spare4: 0,
            st_spare5: 0,
            st_spare6: 0,
        };
        absolute(call, path)?;
        let root = self.guest_root_for(call)?;
        let dir = root.statns(path).map_err(|e| e.with_call(call))?;
        if dir.st_mode as u32 & libc::S_IFMT != libc::S_IFDIR {
            return Err(Error::invalid(call, path, "not a directory"));
        }
        let base = path.trim_end_matches('/');
        Ok(names
            .iter()
            .map(|name| root.lstatns(format!("{base}/{name}")).unwrap_or(MISSING))
            .collect())
    }

    /// [`VMCraft::lstatnslist`] with the older struct (`lstatlist`; `ino` -1 for
    /// a name that cannot be looked at).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn lstatlist(&self, path: &str, names: &[&str]) -> Result<Vec<Stat>> {
        Ok(self
            .lstatnslist_impl("lstatlist", path, names)?
            .into_iter()
            .map(Stat::from)
            .collect())
    }

    /// The canonical absolute path, every symlink, `.`, `..` and repeated `/`
    /// resolved inside the guest tree (`realpath`). The path must exist.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// // /etc/alternatives/editor -> /usr/bin/vim.basic
    /// assert_eq!(g.realpath("/etc/alternatives/editor")?, "/usr/bin/vim.basic");
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn realpath(&self, path: &str) -> Result<String> {
        const CALL: &str = "realpath";
        absolute(CALL, path)?;
        let root = self.guest_root_for(CALL)?;
        let fd = root.resolve(path, true).map_err(|e| e.with_call(CALL))?;
        let link = |fd: BorrowedFd<'_>| {
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|e| {
                Error::call_with_source(
                    ErrorKind::Io,
                    CALL,
                    path,
                    "cannot read the resolved path",
                    e,
                )
            })
        };
        let top = link(root.as_fd())?;
        let found = link(fd.as_fd())?;
        match found.strip_prefix(&top) {
            Ok(rest) if rest.as_os_str().is_empty() => Ok("/".into()),
            Ok(rest) => Ok(format!("/{}", rest.display())),
            Err(_) => Err(Error::call(
                ErrorKind::Io,
                CALL,
                path,
                "the path resolved outside the guest tree's mount (it may have been moved meanwhile)",
            )),
        }
    }

    /// A path with each element's case corrected to match what the guest has
    /// (`case_sensitive_path`): each element is looked up case-insensitively
    /// (ASCII) in its directory, an exact match preferred, then the first match
    /// in sorted order; the final element may be missing, and is then
    /// returned as given. `.` and `..` elements are refused; repeated `/` are
    /// ignored. Symlinks are not resolved, but every lookup stays in the guest.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let p = g.case_sensitive_path("/windows/system32/config/software")?;
    /// assert_eq!(p, "/Windows/System32/config/SOFTWARE");
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn case_sensitive_path(&self, path: &str) -> Result<String> {
        const CALL: &str = "case_sensitive_path";
        absolute(CALL, path)?;
        let elems: Vec<&str> = path.split('/').filter(|e| !e.is_empty()).collect();
        if elems.iter().any(|e| *e == "." || *e == "..") {
            return Err(Error::invalid(
                CALL,
                path,
                "path contains \".\" or \"..\" elements",
            ));
        }
        let root = self.read_tree(CALL)?;
        let mut out = String::new();
        for (i, elem) in elems.iter().enumerate() {
            let dir = if out.is_empty() {
                "/".to_string()
            } else {
                out.clone()
            };
            let names = root.ls(&dir).map_err(|e| e.with_call(CALL))?;
            let lower = elem.to_ascii_lowercase();
            // An exact match first (a guest may hold both `a` and `A`), then the
            // first that matches without case, in sorted order.
            let found = if names.iter().any(|n| n == elem) {
                Some(elem.to_string())
            } else {
                names.into_iter().find(|n| n.to_ascii_lowercase() == lower)
            };
            let last = i + 1 == elems.len();
            let name = match found {
                Some(n) => n,
                None if last => elem.to_string(),
                None => {
                    return Err(Error::call(
                        ErrorKind::Io,
                        CALL,
                        path,
                        format!("{elem}: not found"),
                    ));
                }
            };
            out.push('/');
            out.push_str(&name);
        }
        if out.is_empty() {
            out.push('/');
        }
        Ok(out)
    }

    /// `ls -la` of a guest directory, as text (`ll`; for people, not parsing).
    /// Names and times in the C locale and UTC. The directory is listed through
    /// the descriptor it was resolved to, so nothing outside the guest is listed;
    /// the guest root's `..` is the root itself, as in the guest (its line is the
    /// root's `.` line renamed).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn ll(&self, directory: &str) -> Result<String> {
        self.ls_long("ll", "-la", directory)
    }

    /// `ls -laZ` of a guest directory (`llz`): [`VMCraft::ll`] with each file's
    /// SELinux context (`?` where it has none).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn llz(&self, directory: &str) -> Result<String> {
        self.ls_long("llz", "-laZ", directory)
    }

    fn ls_long(&self, call: &'static str, flags: &str, directory: &str) -> Result<String> {
        absolute(call, directory)?;
        let root = self.guest_root_for(call)?;
        let fd = root
            .resolve(directory, true)
            .map_err(|e| e.with_call(call))?;
        let st = nix::sys::stat::fstat(fd.as_fd())
            .map_err(|e| Error::call_with_source(ErrorKind::Io, call, directory, "fstat", e))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Error::invalid(call, directory, "not a directory"));
        }
        // The trailing slash makes ls list the directory behind the magic link.
        let mut dir = proc_path(fd.as_fd()).into_os_string();
        dir.push("/");
        let args = vec![flags.into(), "--".into(), dir];
        let (status, stdout, stderr) = self.bounded_tool(call, directory, "ls", args)?;
        if status != 0 {
            return Err(Error::call(ErrorKind::Io, call, directory, stderr));
        }
        let text = bounded_text(call, directory, stdout)?;
        // In the guest, the root's `..` is the root itself; ls looked at the host
        // directory above the mount. Show the root's own line under that name.
        let top = nix::sys::stat::fstat(root.as_fd())
            .map_err(|e| Error::call_with_source(ErrorKind::Io, call, directory, "fstat", e))?;
        if (st.st_dev, st.st_ino) == (top.st_dev, top.st_ino) {
            return Ok(root_dotdot(&text));
        }
        Ok(text)
    }

    /// Lines of a file matching a regular expression (`grep`), as GNU grep
    /// matches them: basic regex by default, `-E`, `-F`, `-i`, or `zgrep` for a
    /// compressed file (see [`GrepOptions`]; `GrepOptions::default()` is plain
    /// `grep`, libguestfs's `grep` without optional arguments). No match is an
    /// empty list; a binary file that matches gives no lines (grep only says so
    /// on stderr).
    ///
    /// ```no_run
    /// # use vmcraft::calls::fileinfo::GrepOptions;
    /// # let g = vmcraft::VMCraft::new();
    /// let users = g.grep("^[^:]*:[^:]*:1[0-9]{3}:", "/etc/passwd",
    ///     &GrepOptions { extended: true, ..Default::default() })?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn grep(&self, regex: &str, path: &str, opts: &GrepOptions) -> Result<Vec<String>> {
        self.grep_impl("grep", regex, path, opts)
    }

    fn grep_impl(
        &self,
        call: &'static str,
        regex: &str,
        path: &str,
        opts: &GrepOptions,
    ) -> Result<Vec<String>> {
        if opts.extended && opts.fixed {
            return Err(Error::invalid(
                call,
                regex,
                "can't use 'extended' and 'fixed' flags at the same time",
            ));
        }
        let (_root, f) = self.open_content(call, path)?;
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if opts.extended {
            args.push("-E".into());
        }
        if opts.fixed {
            args.push("-F".into());
        }
        if opts.insensitive {
            args.push("-i".into());
        }
        args.extend(["-e".into(), regex.into(), "--".into()]);
        let fd_path = proc_path(f.as_fd());
        args.push(fd_path.clone().into());
        let prog = if opts.compressed { "zgrep" } else { "grep" };
        let (status, stdout, stderr) = self.bounded_tool(call, path, prog, args)?;
        match status {
            0 => split_lines(call, path, stdout),
            1 => Ok(Vec::new()),
            // grep names the file by the descriptor's path: say the guest's.
            _ => Err(Error::call(
                ErrorKind::Io,
                call,
                regex,
                stderr.replace(&*fd_path.to_string_lossy(), path),
            )),
        }
    }

    /// `grep -E` (`egrep`).
    pub fn egrep(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("egrep", regex, path, &grep_flags(true, false, false, false))
    }

    /// `grep -F` (`fgrep`).
    pub fn fgrep(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl(
            "fgrep",
            pattern,
            path,
            &grep_flags(false, true, false, false),
        )
    }

    /// `grep -i` (`grepi`).
    pub fn grepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("grepi", regex, path, &grep_flags(false, false, true, false))
    }

    /// `grep -E -i` (`egrepi`).
    pub fn egrepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("egrepi", regex, path, &grep_flags(true, false, true, false))
    }

    /// `grep -F -i` (`fgrepi`).
    pub fn fgrepi(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl(
            "fgrepi",
            pattern,
            path,
            &grep_flags(false, true, true, false),
        )
    }

    /// `zgrep` (`zgrep`).
    pub fn zgrep(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("zgrep", regex, path, &grep_flags(false, false, false, true))
    }

    /// `zgrep -E` (`zegrep`).
    pub fn zegrep(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("zegrep", regex, path, &grep_flags(true, false, false, true))
    }

    /// `zgrep -F` (`zfgrep`).
    pub fn zfgrep(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl(
            "zfgrep",
            pattern,
            path,
            &grep_flags(false, true, false, true),
        )
    }

    /// `zgrep -i` (`zgrepi`).
    pub fn zgrepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("zgrepi", regex, path, &grep_flags(false, false, true, true))
    }

    /// `zgrep -E -i` (`zegrepi`).
    pub fn zegrepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl("zegrepi", regex, path, &grep_flags(true, false, true, true))
    }

    /// `zgrep -F -i` (`zfgrepi`).
    pub fn zfgrepi(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_impl(
            "zfgrepi",
            pattern,
            path,
            &grep_flags(false, true, true, true),
        )
    }

    /// The first 10 lines of a file (`head`).
    pub fn head(&self, path: &str) -> Result<Vec<String>> {
        self.head_impl("head", 10, path)
    }

    /// The first `nrlines` lines of a file (`head_n`); a negative `nrlines` gives
    /// every line but the last `-nrlines`; zero gives none. Lines are returned
    /// without their newlines (bytes that are not UTF-8 replaced by U+FFFD).
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let all_but_last = g.head_n(-1, "/etc/fstab")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn head_n(&self, nrlines: i32, path: &str) -> Result<Vec<String>> {
        self.head_impl("head_n", nrlines, path)
    }

    fn head_impl(&self, call: &'static str, n: i32, path: &str) -> Result<Vec<String>> {
        let f = self.open_scan(call, path)?;
        let to = if n >= 0 {
            n as u64
        } else {
            count_lines(self, call, path, &f)?.saturating_sub(n.unsigned_abs() as u64)
        };
        lines_between(self, call, path, &f, 0, to)
    }

    /// The last 10 lines of a file (`tail`).
    pub fn tail(&self, path: &str) -> Result<Vec<String>> {
        self.tail_impl("tail", 10, path)
    }

    /// The last `nrlines` lines of a file (`tail_n`); a negative `nrlines` gives
    /// the lines from line number `-nrlines` (1-based) on, like `tail -n +N`; zero
    /// gives none.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// let without_header = g.tail_n(-2, "/etc/fstab")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn tail_n(&self, nrlines: i32, path: &str) -> Result<Vec<String>> {
        self.tail_impl("tail_n", nrlines, path)
    }

    fn tail_impl(&self, call: &'static str, n: i32, path: &str) -> Result<Vec<String>> {
        let f = self.open_scan(call, path)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        if n > 0 {
            return last_lines(self, call, path, &f, n as u64);
        }
        lines_between(self, call, path, &f, n.unsigned_abs() as u64 - 1, u64::MAX)
    }

    /// The number of lines of a file (`wc_l`: its newlines, as `wc -l` counts).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn wc_l(&self, path: &str) -> Result<i32> {
        const CALL: &str = "wc_l";
        let f = self.open_scan(CALL, path)?;
        let mut n = 0u64;
        scan(self, CALL, path, &f, |c| {
            if let Chunk::Data(d) = c {
                n += d.iter().filter(|&&b| b == b'\n').count() as u64;
            }
            Ok(Flow::More)
        })?;
        to_int(CALL, path, n)
    }

    /// The number of words of a file (`wc_w`), as GNU `wc -w` counts them in the
    /// C locale: runs of printable characters between white space (characters
    /// that are neither printable nor white space neither start nor end a word).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn wc_w(&self, path: &str) -> Result<i32> {
        const CALL: &str = "wc_w";
        let f = self.open_scan(CALL, path)?;
        let mut words = 0u64;
        let mut in_word = false;
        scan(self, CALL, path, &f, |c| {
            if let Chunk::Data(d) = c {
                for &b in d {
                    match b {
                        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                            words += u64::from(in_word);
                            in_word = false;
                        }
                        0x21..=0x7e => in_word = true,
                        _ => {}
                    }
                }
            }
            Ok(Flow::More)
        })?;
        to_int(CALL, path, words + u64::from(in_word))
    }

    /// The size of a file in bytes (`wc_c`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn wc_c(&self, path: &str) -> Result<i32> {
        const CALL: &str = "wc_c";
        let f = self.open_scan(CALL, path)?;
        let len = f
            .size()
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, path, "fstat", e))?;
        to_int(CALL, path, len)
    }

    /// The printable strings of at least 4 characters in a file, as
    /// `strings -a` finds them (`strings`).
    pub fn strings(&self, path: &str) -> Result<Vec<String>> {
        self.strings_impl("strings", "s", path)
    }

    /// [`VMCraft::strings`] with binutils' character encoding (`strings_e`):
    /// `s` 7-bit bytes, `S` 8-bit bytes, `b`/`l` 16-bit big/little endian,
    /// `B`/`L` 32-bit big/little endian.
    ///
    /// ```no_run
    /// # let g = vmcraft::VMCraft::new();
    /// // UTF-16LE strings in a Windows binary.
    /// let s = g.strings_e("l", "/Windows/System32/notepad.exe")?;
    /// # Ok::<(), vmcraft::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn strings_e(&self, encoding: &str, path: &str) -> Result<Vec<String>> {
        self.strings_impl("strings_e", encoding, path)
    }

    fn strings_impl(&self, call: &'static str, encoding: &str, path: &str) -> Result<Vec<String>> {
        let (enc, width, big) = match encoding {
            "s" => (b's', 1, false),
            "S" => (b'S', 1, false),
            "b" => (b'b', 2, true),
            "l" => (b'l', 2, false),
            "B" => (b'B', 4, true),
            "L" => (b'L', 4, false),
            _ => {
                return Err(Error::invalid(
                    call,
                    encoding,
                    "invalid encoding (expected one of s, S, b, l, B, L)",
                ));
            }
        };
        let f = self.open_scan(call, path)?;
        let mut finder = StringsFinder::new(enc, width, big);
        scan(self, call, path, &f, |c| {
            match c {
                Chunk::Data(d) => finder.feed(d),
                Chunk::Zeros(n) => finder.zeros(n),
            }
            if finder.over() {
                return Err(too_large(call, path));
            }
            Ok(Flow::More)
        })?;
        if finder.total > MAX_RESULT {
            return Err(too_large(call, path));
        }
        Ok(finder.finish())
    }

    /// A hex dump of a file in `hexdump -C` format (`hexdump`); identical lines
    /// are squeezed into a `*` line, so a sparse file dumps quickly.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hexdump(&self, path: &str) -> Result<String> {
        const CALL: &str = "hexdump";
        let f = self.open_scan(CALL, path)?;
        let mut dump = HexDump::default();
        scan(self, CALL, path, &f, |c| {
            match c {
                Chunk::Data(d) => dump.feed(d),
                Chunk::Zeros(n) => dump.zeros(n),
            }
            if dump.out.len() > MAX_RESULT {
                return Err(too_large(CALL, path));
            }
            Ok(Flow::More)
        })?;
        Ok(dump.finish())
    }

    /// Disk usage of a file or directory tree in KiB, as `du -s` reports it
    /// (`du`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn du(&self, path: &str) -> Result<i64> {
        const CALL: &str = "du";
        absolute(CALL, path)?;
        let root = self.guest_root_for(CALL)?;
        let fd = root.resolve(path, true).map_err(|e| e.with_call(CALL))?;
        // -D: follow the command-line argument (the /proc magic link) only.
        let out = self.tool(
            CALL,
            Command::new("du")
                .arg("-s")
                .arg("-D")
                .arg("--")
                .arg(proc_path(fd.as_fd())),
        )?;
        if !out.status.success() {
            return Err(Error::call(ErrorKind::Io, CALL, path, out.stderr_trimmed()));
        }
        let text = out.stdout_str();
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                Error::call(
                    ErrorKind::Io,
                    CALL,
                    path,
                    format!("could not read output: {text}"),
                )
            })
    }

    /// `df` of the session's mounted filesystems (`df`; for people, not
    /// parsing): guest device names and guest mount points (under `/sysroot`,
    /// as the libguestfs appliance shows them).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn df(&self) -> Result<String> {
        self.df_impl("df", false)
    }

    /// [`VMCraft::df`] with sizes in human units (`df_h`, `df -h`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn df_h(&self) -> Result<String> {
        self.df_impl("df_h", true)
    }

    fn df_impl(&self, call: &'static str, human: bool) -> Result<String> {
        // df asks the kernel: what is mounted in-process moves there first.
        self.promote_inproc(call)?;
        let mounts: Vec<(String, String, PathBuf)> = self
            .mounts()
            .iter()
            .filter(|m| !m.private)
            .map(|m| (m.device.clone(), m.mountpoint.clone(), m.host_path.clone()))
            .collect();
        let mut cmd = Command::new("df").arg("--output=source,size,used,avail,pcent,target");
        if human {
            cmd = cmd.arg("-h");
        }
        let mut cmd = cmd.arg("--");
        for (_, _, host) in &mounts {
            cmd = cmd.arg(host);
        }
        if mounts.is_empty() {
            return Err(Error::call(
                ErrorKind::Mount,
                call,
                "/",
                "no filesystem is mounted",
            ));
        }
        let out = self.tool(call, cmd)?;
        if !out.status.success() {
            return Err(Error::call(ErrorKind::Io, call, "/", out.stderr_trimmed()));
        }
        let text = out.stdout_str();
        let mut rows: Vec<Vec<String>> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let mut cols: Vec<String> = line.split_whitespace().map(String::from).collect();
            if i == 0 {
                // "Mounted on" is two words.
                cols = vec![
                    "Filesystem".into(),
                    cols.get(1).cloned().unwrap_or_default(),
                    "Used".into(),
                    "Available".into(),
                    "Use%".into(),
                    "Mounted on".into(),
                ];
            } else if let Some((dev, mp, _)) = mounts.get(i - 1) {
                if cols.len() < 6 {
                    return Err(Error::call(
                        ErrorKind::Io,
                        call,
                        "/",
                        format!("could not read df output: {line}"),
                    ));
                }
                cols[0] = dev.clone();
                cols[5] = if mp == "/" {
                    "/sysroot".into()
                } else {
                    format!("/sysroot{mp}")
                };
                cols.truncate(6);
            }
            rows.push(cols);
        }
        Ok(format_table(&rows))
    }

    /// Whether `path` is a block device node (`is_blockdev`); a symlink is
    /// followed when `followsymlinks` is set. A missing path is `false`.
    pub fn is_blockdev(&self, path: &str, followsymlinks: bool) -> Result<bool> {
        self.is_kind("is_blockdev", path, followsymlinks, libc::S_IFBLK)
    }

    /// Whether `path` is a character device node (`is_chardev`).
    pub fn is_chardev(&self, path: &str, followsymlinks: bool) -> Result<bool> {
        self.is_kind("is_chardev", path, followsymlinks, libc::S_IFCHR)
    }

    /// Whether `path` is a FIFO (`is_fifo`).
    pub fn is_fifo(&self, path: &str, followsymlinks: bool) -> Result<bool> {
        self.is_kind("is_fifo", path, followsymlinks, libc::S_IFIFO)
    }

    /// Whether `path` is a Unix socket (`is_socket`).
    pub fn is_socket(&self, path: &str, followsymlinks: bool) -> Result<bool> {
        self.is_kind("is_socket", path, followsymlinks, libc::S_IFSOCK)
    }

    fn is_kind(&self, call: &'static str, path: &str, follow: bool, kind: u32) -> Result<bool> {
        absolute(call, path)?;
        let st = self.read_tree(call)?.statns(call, path, follow);
        match st {
            Ok(st) => Ok(st.st_mode as u32 & libc::S_IFMT == kind),
            Err(e) if matches!(io_errno(&e), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(false),
            Err(e) => Err(e.with_call(call).into()),
        }
    }

    /// Whether a file holds only zero bytes (`is_zero`; an empty file does).
    /// Holes are not read.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_zero(&self, path: &str) -> Result<bool> {
        const CALL: &str = "is_zero";
        let f = self.open_scan(CALL, path)?;
        let mut zero = true;
        scan(self, CALL, path, &f, |c| {
            if let Chunk::Data(d) = c
                && d.iter().any(|&b| b != 0)
            {
                zero = false;
                return Ok(Flow::Stop);
            }
            Ok(Flow::More)
        })?;
        Ok(zero)
    }

    /// Whether a device holds only zero bytes (`is_zero_device`); reads it all.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_zero_device(&self, device: &str) -> Result<bool> {
        const CALL: &str = "is_zero_device";
        let dev = self.resolve(CALL, device)?;
        let f = File::open(&dev.host)
            .map_err(|e| Error::call_with_source(ErrorKind::Io, CALL, device, "open", e))?;
        let token = self.cancel_token();
        let mut buf = vec![0u8; CHUNK];
        let mut pos = 0u64;
        loop {
            if token.is_cancelled() {
                return Err(Error::call(ErrorKind::Io, CALL, device, "cancelled"));
            }
            let n = FileExt::read_at(&f, &mut buf, pos).map_err(|e| read_error(CALL, device, e))?;
            if n == 0 {
                return Ok(true);
            }
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos += n as u64;
        }
    }

    /// Whether a device is a whole drive (`/dev/sda`), not a partition or an
    /// LV (`is_whole_device`). The device must exist.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_whole_device(&self, device: &str) -> Result<bool> {
        let dev = self.resolve("is_whole_device", device)?;
        Ok(matches!(dev.what, DeviceName::Drive(_)))
    }

    /// Whether a mountable is an LVM logical volume (`is_lv`). The device must
    /// exist.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn is_lv(&self, mountable: &str) -> Result<bool> {
        let dev = self.resolve("is_lv", mountable)?;
        Ok(matches!(dev.what, DeviceName::LogicalVolume(..)))
    }
}

/// The binaries of an initrd that `file_architecture` looks at, in order.
const INITRD_BINARIES: &[&str] = &[
    "bin/ls",
    "bin/rm",
    "bin/modprobe",
    "sbin/modprobe",
    "bin/sh",
    "bin/bash",
    "bin/dash",
    "bin/nash",
];

fn unknown_arch(path: &str, magic: &str) -> Error {
    Error::call(
        ErrorKind::InvalidArgument,
        "file_architecture",
        path,
        format!("unknown architecture ({magic})"),
    )
}

/// The architecture `file`'s description names, libguestfs's way: ELF
/// (`ELF <bits>-bit <MSB|LSB> ... executable|shared object|relocatable, <arch>,`)
/// and PE (`PE32` is i386, `PE32+` x86_64); `None` for anything else.
fn arch_of_magic(magic: &str) -> Option<String> {
    if let Some((bits, msb, elf)) = elf_magic(magic) {
        return Some(canonical_elf_arch(&bits, msb, &elf));
    }
    if magic.contains("PE32 executable") {
        Some("i386".into())
    } else if magic.contains("PE32+ executable") {
        Some("x86_64".into())
    } else {
        None
    }
}

/// `ELF (\d+)-bit (MSB|LSB).*(?:executable|shared object|relocatable),? ([^,]+?),`
/// matched by hand: the bits, whether MSB, and the architecture field.
fn elf_magic(magic: &str) -> Option<(String, bool, String)> {
    for (start, _) in magic.match_indices("ELF ") {
        let rest = &magic[start + 4..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            continue;
        }
        let Some(rest) = rest[digits.len()..].strip_prefix("-bit ") else {
            continue;
        };
        let msb = if rest.starts_with("MSB") {
            true
        } else if rest.starts_with("LSB") {
            false
        } else {
            continue;
        };
        let rest = &rest[3..];
        // The greedy `.*`: the last keyword after which the rest matches.
        let mut ends: Vec<usize> = ["executable", "shared object", "relocatable"]
            .iter()
            .flat_map(|k| rest.match_indices(k).map(move |(i, _)| i + k.len()))
            .collect();
        ends.sort_unstable_by(|a, b| b.cmp(a));
        for end in ends {
            let tail = &rest[end..];
            let tail = tail.strip_prefix(',').unwrap_or(tail);
            let Some(tail) = tail.strip_prefix(' ') else {
                continue;
            };
            if let Some(comma) = tail.find(',')
                && comma > 0
            {
                return Some((digits, msb, tail[..comma].to_string()));
            }
        }
    }
    None
}

/// libguestfs's canonical name for `file`'s ELF architecture field.
fn canonical_elf_arch(bits: &str, msb: bool, elf: &str) -> String {
    let has = |s: &str| elf.contains(s);
    if has("Intel 80386") || has("Intel i386") || has("Intel 80486") {
        "i386".into()
    } else if has("x86-64") {
        "x86_64".into()
    } else if has("SPARC32") {
        "sparc".into()
    } else if has("SPARC V9") {
        "sparc64".into()
    } else if has("IA-64") {
        "ia64".into()
    } else if elf.find("64").is_some_and(|i| elf[i..].contains("PowerPC")) {
        if msb {
            "ppc64".into()
        } else {
            "ppc64le".into()
        }
    } else if has("PowerPC") {
        "ppc".into()
    } else if has("ARM aarch64") {
        "aarch64".into()
    } else if has("ARM") {
        "arm".into()
    } else if has("UCB RISC-V") {
        format!("riscv{bits}")
    } else if has("IBM S/390") {
        if bits == "32" {
            "s390".into()
        } else {
            "s390x".into()
        }
    } else if has("LoongArch") || has("*unknown arch 0x102*") {
        format!("loongarch{bits}")
    } else {
        elf.to_string()
    }
}

/// An `ls -la` listing of the guest root with its `..` line replaced by its `.`
/// line renamed (the lines after `total` are `.` then `..` in the C locale).
fn root_dotdot(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.len() >= 3
        && let Some(dot) = lines[1].strip_suffix(" .")
        && lines[2].ends_with(" ..")
    {
        lines[2] = format!("{dot} ..");
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn grep_flags(extended: bool, fixed: bool, insensitive: bool, compressed: bool) -> GrepOptions {
    GrepOptions {
        extended,
        fixed,
        insensitive,
        compressed,
    }
}

fn to_int(call: &str, path: &str, n: u64) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        Error::call(
            ErrorKind::InvalidArgument,
            call,
            path,
            format!("the count {n} does not fit the call's 32-bit result"),
        )
    })
}

/// `file`'s answer without its trailing white space.
fn file_output(call: &str, path: &str, out: vmcraft_block::Output) -> Result<String> {
    if !out.status.success() {
        return Err(Error::call(ErrorKind::Io, call, path, out.stderr_trimmed()));
    }
    let text = bounded_text(call, path, out.stdout)?;
    Ok(text.trim_end().to_string())
}

fn bounded_text(call: &str, path: &str, bytes: Vec<u8>) -> Result<String> {
    if bytes.len() > MAX_RESULT {
        return Err(too_large(call, path));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A tool's output split into lines as libguestfs splits it: no output is no
/// line, and a final newline ends the last line (`"\n"` is one empty line).
fn split_lines(call: &str, path: &str, bytes: Vec<u8>) -> Result<Vec<String>> {
    let text = bounded_text(call, path, bytes)?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.split('\n').map(String::from).collect())
}

/// Columns left-aligned for the first, right-aligned for the numbers, as df
/// prints them.
fn format_table(rows: &[Vec<String>]) -> String {
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..ncols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push(' ');
            }
            if c == 0 || c + 1 == r.len() {
                if c + 1 == r.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}", w = width[c]));
                }
            } else {
                line.push_str(&format!("{cell:>w$}", w = width[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// binutils `strings` over a stream: strings of at least 4 characters of the
/// encoding, one a line. After a character that does not belong, the search
/// goes on at the next byte (binutils' `unget_part_char`).
struct StringsFinder {
    enc: u8,
    width: usize,
    big: bool,
    /// Bytes not yet consumed (at most one character's worth carried over).
    pending: Vec<u8>,
    /// The string being collected.
    cur: Vec<u8>,
    out: Vec<String>,
    total: usize,
}

impl StringsFinder {
    fn new(enc: u8, width: usize, big: bool) -> Self {
        StringsFinder {
            enc,
            width,
            big,
            pending: Vec::new(),
            cur: Vec::new(),
            out: Vec::new(),
            total: 0,
        }
    }

    fn char_at(&self, b: &[u8]) -> u32 {
        let mut c = 0u32;
        for i in 0..self.width {
            let byte = if self.big {
                b[i]
            } else {
                b[self.width - 1 - i]
            };
            c = (c << 8) | u32::from(byte);
        }
        c
    }

    fn end_string(&mut self) {
        if self.cur.len() >= 4 {
            self.total += self.cur.len() + 1;
            if self.total <= MAX_RESULT + 1 {
                self.out
                    .push(String::from_utf8_lossy(&self.cur).into_owned());
            }
        }
        self.cur.clear();
    }

    fn feed(&mut self, data: &[u8]) {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(data);
        let mut i = 0;
        while i + self.width <= buf.len() {
            let c = self.char_at(&buf[i..i + self.width]);
            if string_char(c, self.enc) {
                self.cur.push(c as u8);
                i += self.width;
            } else {
                // The string (or the attempt at one) ends here, and the search
                // goes on at the next byte, whatever the width.
                self.end_string();
                i += 1;
            }
            if self.over() {
                return;
            }
        }
        self.pending = buf[i..].to_vec();
    }

    /// Whether what was found is already more than a result may hold.
    fn over(&self) -> bool {
        self.total + self.cur.len() > MAX_RESULT
    }

    /// `n` zero bytes: a zero character ends any string, and past the first
    /// few, more zeros change nothing but the position.
    fn zeros(&mut self, n: u64) {
        let few = (n as usize).min(2 * self.width);
        self.feed(&vec![0u8; few]);
    }

    /// The end of the file: a string in progress is complete.
    fn finish(mut self) -> Vec<String> {
        self.end_string();
        self.out
    }
}

/// `hexdump -C` over a stream.
#[derive(Default)]
struct HexDump {
    out: String,
    offset: u64,
    line: Vec<u8>,
    prev: Option<Vec<u8>>,
    squeezing: bool,
}

impl HexDump {
    fn emit(&mut self) {
        let line = std::mem::take(&mut self.line);
        if line.len() == 16 && self.prev.as_deref() == Some(&line[..]) {
            if !self.squeezing {
                self.out.push_str("*\n");
                self.squeezing = true;
            }
        } else {
            self.squeezing = false;
            self.out.push_str(&format!("{:08x} ", self.offset));
            for (i, b) in line.iter().enumerate() {
                if i % 8 == 0 {
                    self.out.push(' ');
                }
                self.out.push_str(&format!("{b:02x} "));
            }
            for i in line.len()..16 {
                if i % 8 == 0 {
                    self.out.push(' ');
                }
                self.out.push_str("   ");
            }
            self.out.push_str(" |");
            for &b in &line {
                self.out.push(if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                });
            }
            self.out.push_str("|\n");
        }
        self.offset += line.len() as u64;
        self.prev = Some(line);
    }

    fn feed(&mut self, mut d: &[u8]) {
        while !d.is_empty() {
            let take = (16 - self.line.len()).min(d.len());
            self.line.extend_from_slice(&d[..take]);
            d = &d[take..];
            if self.line.len() == 16 {
                self.emit();
            }
        }
    }

    fn zeros(&mut self, mut n: u64) {
        // Fill the current line, emit a couple of whole zero lines (so the
        // squeeze starts), then skip whole lines without formatting them.
        while n > 0 && !self.line.is_empty() {
            self.feed(&[0]);
            n -= 1;
        }
        let mut emitted = 0;
        while n >= 16 && emitted < 2 {
            self.feed(&[0u8; 16]);
            n -= 16;
            emitted += 1;
        }
        if n >= 16 {
            let whole = n / 16 * 16;
            self.offset += whole;
            n -= whole;
        }
        for _ in 0..n {
            self.feed(&[0]);
        }
    }

    fn finish(mut self) -> String {
        if !self.line.is_empty() {
            self.emit();
        }
        if self.offset > 0 {
            self.out.push_str(&format!("{:08x}\n", self.offset));
        }
        self.out
    }
}
