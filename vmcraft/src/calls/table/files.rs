//! Guest files, confined to the guest tree: reading and writing (`cat`, `write`,
//! `upload`, `download`, ...), directories, links, modes and owners, `stat`,
//! `statvfs`, `checksum`.

use serde_json::json;

use super::prelude::*;

const SRC: Arg = arg("src", ArgKind::Path);
const DEST: Arg = arg("dest", ArgKind::Path);
const MODE: Arg = arg("mode", ArgKind::Int);

pub(crate) const CALLS: &[Call] = &[
    call(
        "cat",
        &[PATH],
        Ret::String,
        "list the contents of a file",
        "The content of a file, printed as it is (bytes that are not UTF-8 included), up to its \
         first NUL byte, as guestfish prints it. For binary files use read-file or download.",
        |g, a| {
            // guestfish's cat returns a C string: its bytes up to the first NUL.
            let mut bytes = g.read_file(a.str(0))?;
            if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                bytes.truncate(nul);
            }
            Ok(match String::from_utf8(bytes) {
                Ok(text) => Value::Str(text),
                Err(e) => Value::Text(e.into_bytes()),
            })
        },
    ),
    call(
        "read-file",
        &[PATH],
        Ret::Buffer,
        "read a file",
        "The content of a file, written out byte for byte.",
        |g, a| Ok(Value::Bytes(g.read_file(a.str(0))?)),
    ),
    call(
        "read-lines",
        &[PATH],
        Ret::StringList,
        "read file as lines",
        "The lines of a text file, without their line endings.",
        |g, a| Ok(Value::List(g.read_lines(a.str(0))?)),
    ),
    call(
        "write",
        &[PATH, arg("content", ArgKind::Buffer)],
        Ret::Unit,
        "create a new file",
        "Create or overwrite a file with CONTENT. Use a double-quoted argument for escapes \
         such as \\n.",
        |g, a| void!(g.write(a.str(0), a.str(1).as_bytes())),
    )
    .flags(Flags::WRITES),
    call(
        "write-append",
        &[PATH, arg("content", ArgKind::Buffer)],
        Ret::Unit,
        "append content to end of file",
        "Append CONTENT to a file, creating it if needed.",
        |g, a| void!(g.write_append(a.str(0), a.str(1).as_bytes())),
    )
    .flags(Flags::WRITES),
    call(
        "upload",
        &[
            arg("filename", ArgKind::FileIn),
            arg("remotefilename", ArgKind::Path),
        ],
        Ret::Unit,
        "upload a file from the local machine",
        "Copy a host file into the guest.",
        |g, a| {
            let n = g.upload(a.str(0), a.str(1))?;
            Ok(Value::Quiet(json!({ "bytes": n })))
        },
    )
    .flags(Flags::WRITES.union(Flags::HOST_FILES)),
    call(
        "download",
        &[
            arg("remotefilename", ArgKind::Path),
            arg("filename", ArgKind::FileOut),
        ],
        Ret::Unit,
        "download a file to the local machine",
        "Copy a guest file out to the host.",
        |g, a| {
            let n = g.download(a.str(0), a.str(1))?;
            Ok(Value::Quiet(json!({ "bytes": n })))
        },
    )
    .flags(Flags::HOST_FILES),
    call(
        "ls",
        &[DIRECTORY],
        Ret::StringList,
        "list the files in a directory",
        "The names in a directory, sorted, without . and ..",
        |g, a| Ok(Value::List(g.ls(a.str(0))?)),
    ),
    call(
        "find",
        &[DIRECTORY],
        Ret::StringList,
        "find all files and directories",
        "Every path below a directory, relative to it, sorted.",
        |g, a| Ok(Value::List(g.find(a.str(0))?)),
    ),
    call(
        "exists",
        &[PATH],
        Ret::Bool,
        "test if file or directory exists",
        "Whether anything exists at the path.",
        |g, a| Ok(Value::Bool(g.exists(a.str(0))?)),
    ),
    call(
        "is-file",
        &[PATH],
        Ret::Bool,
        "test if a regular file",
        "Whether the path is a regular file (following symbolic links).",
        |g, a| Ok(Value::Bool(g.is_file(a.str(0))?)),
    ),
    call(
        "is-dir",
        &[PATH],
        Ret::Bool,
        "test if a directory",
        "Whether the path is a directory (following symbolic links).",
        |g, a| Ok(Value::Bool(g.is_dir(a.str(0))?)),
    ),
    call(
        "is-symlink",
        &[PATH],
        Ret::Bool,
        "test if symbolic link",
        "Whether the path is a symbolic link.",
        |g, a| Ok(Value::Bool(g.is_symlink(a.str(0))?)),
    )
    // The seed's name (hyper2kvm calls it).
    .alias(&["is-link"]),
    call(
        "mkdir",
        &[PATH],
        Ret::Unit,
        "create a directory",
        "Create a directory (its parent must exist).",
        |g, a| void!(g.mkdir(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "mkdir-p",
        &[PATH],
        Ret::Unit,
        "create a directory and parents",
        "Create a directory and any missing parents; an existing directory is fine.",
        |g, a| void!(g.mkdir_p(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "mkdir-mode",
        &[PATH, MODE],
        Ret::Unit,
        "create a directory with a particular mode",
        "Create a directory with MODE (write it in octal with a leading 0: 0755).",
        |g, a| void!(g.mkdir_mode(a.str(0), a.int32(1) as u32)),
    )
    .flags(Flags::WRITES),
    call(
        "rm",
        &[PATH],
        Ret::Unit,
        "remove a file",
        "Remove a file.",
        |g, a| void!(g.rm(a.str(0))),
    ),
    call(
        "rm-f",
        &[PATH],
        Ret::Unit,
        "remove a file ignoring errors",
        "Remove a file if it exists.",
        |g, a| void!(g.rm_f(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "rm-rf",
        &[PATH],
        Ret::Unit,
        "remove a file or directory recursively",
        "Remove a tree; nothing there is not an error.",
        |g, a| void!(g.rm_rf(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "rmdir",
        &[PATH],
        Ret::Unit,
        "remove a directory",
        "Remove an empty directory.",
        |g, a| void!(g.rmdir(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "cp",
        &[SRC, DEST],
        Ret::Unit,
        "copy a file",
        "Copy a file.",
        |g, a| void!(g.cp(a.str(0), a.str(1))),
    ),
    call(
        "cp-a",
        &[SRC, DEST],
        Ret::Unit,
        "copy a file or directory recursively",
        "Copy a tree, keeping modes, owners, times and links.",
        |g, a| void!(g.cp_a(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "mv",
        &[SRC, DEST],
        Ret::Unit,
        "move a file",
        "Move or rename a file or directory.",
        |g, a| void!(g.mv(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "chmod",
        &[MODE, PATH],
        Ret::Unit,
        "change file mode",
        "Change the mode of a path (write it in octal with a leading 0: 0644).",
        |g, a| void!(g.chmod(a.int32(0) as u32, a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "chown",
        &[arg("owner", ArgKind::Int), arg("group", ArgKind::Int), PATH],
        Ret::Unit,
        "change file owner and group",
        "Change the owner and group (numeric ids) of a path.",
        |g, a| void!(g.chown(a.int32(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "ln-s",
        &[
            arg("target", ArgKind::String),
            arg("linkname", ArgKind::Path),
        ],
        Ret::Unit,
        "create a symbolic link",
        "Create a symbolic link LINKNAME pointing to TARGET.",
        |g, a| void!(g.ln_s(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "readlink",
        &[PATH],
        Ret::String,
        "read the target of a symbolic link",
        "The target of a symbolic link.",
        |g, a| Ok(Value::Str(g.readlink(a.str(0))?)),
    ),
    call(
        "touch",
        &[PATH],
        Ret::Unit,
        "update file timestamps or create a new file",
        "Create an empty file, or update the times of an existing one.",
        |g, a| void!(g.touch(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "stat",
        &[PATH],
        Ret::Struct,
        "get file information",
        "The status of a path, following symbolic links.",
        |g, a| Ok(Value::Struct(g.stat(a.str(0))?.to_fields())),
    ),
    call(
        "lstat",
        &[PATH],
        Ret::Struct,
        "get file information for a symbolic link",
        "The status of a path, not following a final symbolic link.",
        |g, a| Ok(Value::Struct(g.lstat(a.str(0))?.to_fields())),
    ),
    call(
        "statvfs",
        &[PATH],
        Ret::Struct,
        "get file system statistics",
        "The status of the filesystem holding a path.",
        |g, a| Ok(Value::Struct(g.statvfs(a.str(0))?.to_fields())),
    ),
    call(
        "checksum",
        &[arg("csumtype", ArgKind::String), PATH],
        Ret::String,
        "compute MD5, SHAx or CRC checksum of file",
        "The checksum of a file: crc (as cksum prints it), md5, sha1, sha224, sha256, sha384 \
         or sha512.",
        |g, a| Ok(Value::Str(g.checksum(a.str(0), a.str(1))?)),
    ),
];
