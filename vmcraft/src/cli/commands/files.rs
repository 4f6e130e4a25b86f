//! Guest files, confined to the guest tree: reading and writing (`cat`, `write`,
//! `upload`, `download`, ...), directories, links, modes and owners, `stat`,
//! `statvfs`, `checksum`.

use serde_json::json;

use super::host::TempFile;
use super::{CommandSpec, DIRECTORY, PATH, arg, c, cmd};
use crate::cli::args::{Arg, ArgKind};
use crate::cli::value::{ToFields, Value};

const SRC: Arg = arg("src", ArgKind::Path);
const DEST: Arg = arg("dest", ArgKind::Path);
const MODE: Arg = arg("mode", ArgKind::Int);

/// A void command: run the call, print nothing.
macro_rules! void {
    ($call:literal, $e:expr) => {{
        c($call, $e)?;
        Ok(Value::Unit)
    }};
}

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "cat",
        &[PATH],
        "list the contents of a file",
        "The content of a file, printed as it is (bytes that are not UTF-8 included), up to its \
         first NUL byte, as guestfish prints it. For binary files use read-file or download.",
        |s, a| {
            // guestfish's cat returns a C string: its bytes up to the first NUL.
            let mut bytes = c("cat", s.g.read_file(a.str(0)))?;
            if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                bytes.truncate(nul);
            }
            Ok(match String::from_utf8(bytes) {
                Ok(text) => Value::Str(text),
                Err(e) => Value::Text(e.into_bytes()),
            })
        },
    ),
    cmd(
        "read-file",
        &[PATH],
        "read a file",
        "The content of a file, written out byte for byte.",
        |s, a| Ok(Value::Bytes(c("read_file", s.g.read_file(a.str(0)))?)),
    ),
    cmd(
        "read-lines",
        &[PATH],
        "read file as lines",
        "The lines of a text file, without their line endings.",
        |s, a| Ok(Value::List(c("read_lines", s.g.read_lines(a.str(0)))?)),
    ),
    cmd(
        "write",
        &[PATH, arg("content", ArgKind::Buffer)],
        "create a new file",
        "Create or overwrite a file with CONTENT. Use a double-quoted argument for escapes \
         such as \\n.",
        |s, a| void!("write", s.g.write(a.str(0), a.str(1).as_bytes())),
    ),
    cmd(
        "write-append",
        &[PATH, arg("content", ArgKind::Buffer)],
        "append content to end of file",
        "Append CONTENT to a file, creating it if needed.",
        |s, a| {
            void!(
                "write_append",
                s.g.write_append(a.str(0), a.str(1).as_bytes())
            )
        },
    ),
    cmd(
        "upload",
        &[
            arg("filename", ArgKind::FileIn),
            arg("remotefilename", ArgKind::Path),
        ],
        "upload a file from the local machine",
        "Copy a host file into the guest.",
        |s, a| {
            let n = if a.str(0) == "-" {
                let t = TempFile::from_stdin("upload")?;
                c("upload", s.g.upload(t.path(), a.str(1)))?
            } else {
                c("upload", s.g.upload(a.str(0), a.str(1)))?
            };
            Ok(Value::Quiet(json!({ "bytes": n })))
        },
    ),
    cmd(
        "download",
        &[
            arg("remotefilename", ArgKind::Path),
            arg("filename", ArgKind::FileOut),
        ],
        "download a file to the local machine",
        "Copy a guest file out to the host.",
        |s, a| {
            if a.str(1) == "-" {
                return Ok(Value::Bytes(c("download", s.g.read_file(a.str(0)))?));
            }
            let n = c("download", s.g.download(a.str(0), a.str(1)))?;
            Ok(Value::Quiet(json!({ "bytes": n })))
        },
    ),
    cmd(
        "ls",
        &[DIRECTORY],
        "list the files in a directory",
        "The names in a directory, sorted, without . and ..",
        |s, a| Ok(Value::List(c("ls", s.g.ls(a.str(0)))?)),
    ),
    cmd(
        "find",
        &[DIRECTORY],
        "find all files and directories",
        "Every path below a directory, relative to it, sorted.",
        |s, a| Ok(Value::List(c("find", s.g.find(a.str(0)))?)),
    ),
    cmd(
        "exists",
        &[PATH],
        "test if file or directory exists",
        "Whether anything exists at the path.",
        |s, a| Ok(Value::Bool(c("exists", s.g.exists(a.str(0)))?)),
    ),
    cmd(
        "is-file",
        &[PATH],
        "test if a regular file",
        "Whether the path is a regular file (following symbolic links).",
        |s, a| Ok(Value::Bool(c("is_file", s.g.is_file(a.str(0)))?)),
    ),
    cmd(
        "is-dir",
        &[PATH],
        "test if a directory",
        "Whether the path is a directory (following symbolic links).",
        |s, a| Ok(Value::Bool(c("is_dir", s.g.is_dir(a.str(0)))?)),
    ),
    cmd(
        "is-symlink",
        &[PATH],
        "test if symbolic link",
        "Whether the path is a symbolic link.",
        |s, a| Ok(Value::Bool(c("is_symlink", s.g.is_symlink(a.str(0)))?)),
    ),
    cmd(
        "mkdir",
        &[PATH],
        "create a directory",
        "Create a directory (its parent must exist).",
        |s, a| void!("mkdir", s.g.mkdir(a.str(0))),
    ),
    cmd(
        "mkdir-p",
        &[PATH],
        "create a directory and parents",
        "Create a directory and any missing parents; an existing directory is fine.",
        |s, a| void!("mkdir_p", s.g.mkdir_p(a.str(0))),
    ),
    cmd(
        "mkdir-mode",
        &[PATH, MODE],
        "create a directory with a particular mode",
        "Create a directory with MODE (write it in octal with a leading 0: 0755).",
        |s, a| void!("mkdir_mode", s.g.mkdir_mode(a.str(0), a.int32(1) as u32)),
    ),
    cmd("rm", &[PATH], "remove a file", "Remove a file.", |s, a| {
        void!("rm", s.g.rm(a.str(0)))
    }),
    cmd(
        "rm-f",
        &[PATH],
        "remove a file ignoring errors",
        "Remove a file if it exists.",
        |s, a| void!("rm_f", s.g.rm_f(a.str(0))),
    ),
    cmd(
        "rm-rf",
        &[PATH],
        "remove a file or directory recursively",
        "Remove a tree; nothing there is not an error.",
        |s, a| void!("rm_rf", s.g.rm_rf(a.str(0))),
    ),
    cmd(
        "rmdir",
        &[PATH],
        "remove a directory",
        "Remove an empty directory.",
        |s, a| void!("rmdir", s.g.rmdir(a.str(0))),
    ),
    cmd("cp", &[SRC, DEST], "copy a file", "Copy a file.", |s, a| {
        void!("cp", s.g.cp(a.str(0), a.str(1)))
    }),
    cmd(
        "cp-a",
        &[SRC, DEST],
        "copy a file or directory recursively",
        "Copy a tree, keeping modes, owners, times and links.",
        |s, a| void!("cp_a", s.g.cp_a(a.str(0), a.str(1))),
    ),
    cmd(
        "mv",
        &[SRC, DEST],
        "move a file",
        "Move or rename a file or directory.",
        |s, a| void!("mv", s.g.mv(a.str(0), a.str(1))),
    ),
    cmd(
        "chmod",
        &[MODE, PATH],
        "change file mode",
        "Change the mode of a path (write it in octal with a leading 0: 0644).",
        |s, a| void!("chmod", s.g.chmod(a.int32(0) as u32, a.str(1))),
    ),
    cmd(
        "chown",
        &[arg("owner", ArgKind::Int), arg("group", ArgKind::Int), PATH],
        "change file owner and group",
        "Change the owner and group (numeric ids) of a path.",
        |s, a| void!("chown", s.g.chown(a.int32(0), a.int32(1), a.str(2))),
    ),
    cmd(
        "ln-s",
        &[
            arg("target", ArgKind::String),
            arg("linkname", ArgKind::Path),
        ],
        "create a symbolic link",
        "Create a symbolic link LINKNAME pointing to TARGET.",
        |s, a| void!("ln_s", s.g.ln_s(a.str(0), a.str(1))),
    ),
    cmd(
        "readlink",
        &[PATH],
        "read the target of a symbolic link",
        "The target of a symbolic link.",
        |s, a| Ok(Value::Str(c("readlink", s.g.readlink(a.str(0)))?)),
    ),
    cmd(
        "touch",
        &[PATH],
        "update file timestamps or create a new file",
        "Create an empty file, or update the times of an existing one.",
        |s, a| void!("touch", s.g.touch(a.str(0))),
    ),
    cmd(
        "stat",
        &[PATH],
        "get file information",
        "The status of a path, following symbolic links.",
        |s, a| Ok(Value::Struct(c("stat", s.g.stat(a.str(0)))?.to_fields())),
    ),
    cmd(
        "lstat",
        &[PATH],
        "get file information for a symbolic link",
        "The status of a path, not following a final symbolic link.",
        |s, a| Ok(Value::Struct(c("lstat", s.g.lstat(a.str(0)))?.to_fields())),
    ),
    cmd(
        "statvfs",
        &[PATH],
        "get file system statistics",
        "The status of the filesystem holding a path.",
        |s, a| {
            Ok(Value::Struct(
                c("statvfs", s.g.statvfs(a.str(0)))?.to_fields(),
            ))
        },
    ),
    cmd(
        "checksum",
        &[arg("csumtype", ArgKind::String), PATH],
        "compute MD5, SHAx or CRC checksum of file",
        "The checksum of a file: crc (as cksum prints it), md5, sha1, sha224, sha256, sha384 \
         or sha512.",
        |s, a| Ok(Value::Str(c("checksum", s.g.checksum(a.str(0), a.str(1)))?)),
    ),
];
