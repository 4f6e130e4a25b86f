//! The call table's entries for file manipulation: links, renames, recursive
//! copies, FIFOs and device nodes, truncation, times, fills, positional reads and
//! writes, offsets, base64, checksums, cpio, listings, temporary names, globs and
//! extended attributes (the facade methods are in `calls/filemod.rs`).

use vmcraft_fs::root::{Dirent, Xattr};

use super::prelude::*;

const TARGET: Arg = arg("target", ArgKind::String);
const LINKNAME: Arg = arg("linkname", ArgKind::Path);
const MODE: Arg = arg("mode", ArgKind::Int);
const DEVMAJOR: Arg = arg("devmajor", ArgKind::Int);
const DEVMINOR: Arg = arg("devminor", ArgKind::Int);
const COUNT: Arg = arg("count", ArgKind::Int);
const OFFSET: Arg = arg("offset", ArgKind::Int64);
const CONTENT: Arg = arg("content", ArgKind::Buffer);
const XATTR: Arg = arg("xattr", ArgKind::String);
const NAME: Arg = arg("name", ArgKind::String);
const TMPL: Arg = arg("tmpl", ArgKind::Path);

impl ToFields for Dirent {
    fn to_fields(&self) -> Fields {
        vec![
            ("ino", Field::Int(self.ino)),
            ("ftyp", Field::Str(self.ftyp.to_string())),
            ("name", Field::Str(self.name.clone())),
        ]
    }
}

impl ToFields for Xattr {
    fn to_fields(&self) -> Fields {
        // guestfish prints a buffer field's printable bytes as they are and
        // the others as \xNN.
        let mut val = String::new();
        for &b in &self.attrval {
            if (0x20..0x7f).contains(&b) {
                val.push(b as char);
            } else {
                val.push_str(&format!("\\x{b:02x}"));
            }
        }
        vec![
            ("attrname", Field::Str(self.attrname.clone())),
            ("attrval", Field::Str(val)),
        ]
    }
}

fn xattrs(v: Vec<Xattr>) -> Value {
    structs(&v)
}

pub(crate) const CALLS: &[Call] = &[
    call(
        "ln",
        &[TARGET, LINKNAME],
        Ret::Unit,
        "create a hard link",
        "Create a hard link LINKNAME to the existing file TARGET (a final symbolic link \
         of TARGET is linked, not followed).",
        |g, a| void!(g.ln(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "ln-f",
        &[TARGET, LINKNAME],
        Ret::Unit,
        "create a hard link",
        "Create a hard link, removing whatever non-directory is at LINKNAME first. TARGET \
         must exist, or nothing is removed.",
        |g, a| void!(g.ln_f(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "ln-sf",
        &[TARGET, LINKNAME],
        Ret::Unit,
        "create a symbolic link",
        "Create a symbolic link LINKNAME pointing to TARGET, as ln -sf: whatever \
         non-directory is at LINKNAME is removed first, and when LINKNAME is a directory \
         the link is made in it, named after TARGET's last component. TARGET is stored \
         as given and, when followed, resolves inside the guest.",
        |g, a| void!(g.ln_sf(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "rename",
        &[arg("oldpath", ArgKind::Path), arg("newpath", ArgKind::Path)],
        Ret::Unit,
        "rename a file on the same filesystem",
        "Rename a file to a new place on the same filesystem, as rename(2) (neither final \
         name followed). mv also moves across filesystems.",
        |g, a| void!(g.rename(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "cp-r",
        &[arg("src", ArgKind::Path), arg("dest", ArgKind::Path)],
        Ret::Unit,
        "copy a file or directory recursively",
        "Copy a file or directory recursively as cp -rP: symbolic links are copied as \
         links, FIFOs and device nodes recreated (never opened), modes kept under the \
         umask, owners and times not (use cp-a for those). Into DEST when it is an \
         existing directory.",
        |g, a| void!(g.cp_r(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "mkfifo",
        &[MODE, PATH],
        Ret::Unit,
        "make FIFO (named pipe)",
        "Create a FIFO with MODE, which holds only permission bits (write it in octal with \
         a leading 0); the umask reduces it.",
        |g, a| void!(g.mkfifo(a.int32(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "mknod",
        &[MODE, DEVMAJOR, DEVMINOR, PATH],
        Ret::Unit,
        "make block, character or FIFO devices",
        "Create a block or character device node, FIFO or socket. MODE holds the type \
         (S_IFBLK 060000, S_IFCHR 020000, S_IFIFO 010000, S_IFSOCK 0140000; none makes a \
         regular file, as mknod(2)) and the permission bits, which the umask reduces; \
         DEVMAJOR and DEVMINOR are used for device nodes. mknod-b, mknod-c and mkfifo add \
         the type for you.",
        |g, a| void!(g.mknod(a.int32(0), a.int32(1), a.int32(2), a.str(3))),
    )
    .flags(Flags::WRITES),
    call(
        "mknod-b",
        &[MODE, DEVMAJOR, DEVMINOR, PATH],
        Ret::Unit,
        "make block device node",
        "Create a block device node with MODE (permission bits only) and the device \
         numbers DEVMAJOR:DEVMINOR. Guest filesystems are mounted nodev: the node is \
         never a way to the host's device.",
        |g, a| void!(g.mknod_b(a.int32(0), a.int32(1), a.int32(2), a.str(3))),
    )
    .flags(Flags::WRITES),
    call(
        "mknod-c",
        &[MODE, DEVMAJOR, DEVMINOR, PATH],
        Ret::Unit,
        "make char device node",
        "Create a character device node with MODE (permission bits only) and the device \
         numbers DEVMAJOR:DEVMINOR.",
        |g, a| void!(g.mknod_c(a.int32(0), a.int32(1), a.int32(2), a.str(3))),
    )
    .flags(Flags::WRITES),
    call(
        "truncate",
        &[PATH],
        Ret::Unit,
        "truncate a file to zero size",
        "Truncate an existing regular file to zero bytes.",
        |g, a| void!(g.truncate(a.str(0))),
    )
    .flags(Flags::WRITES),
    call(
        "truncate-size",
        &[PATH, arg("size", ArgKind::Int64)],
        Ret::Unit,
        "truncate a file to a particular size",
        "Truncate an existing regular file to SIZE bytes; a larger size extends it \
         sparsely with zero bytes.",
        |g, a| void!(g.truncate_size(a.str(0), a.int(1))),
    )
    .flags(Flags::WRITES),
    call(
        "utimens",
        &[
            PATH,
            arg("atsecs", ArgKind::Int64),
            arg("atnsecs", ArgKind::Int64),
            arg("mtsecs", ArgKind::Int64),
            arg("mtnsecs", ArgKind::Int64),
        ],
        Ret::Unit,
        "set timestamp of a file with nanosecond precision",
        "Set the access and modification times (seconds and nanoseconds since the epoch) \
         of PATH, a final symbolic link not followed. A nanoseconds value of -1 sets that \
         time to now, -2 leaves it unchanged (the seconds are then ignored).",
        |g, a| void!(g.utimens(a.str(0), a.int(1), a.int(2), a.int(3), a.int(4))),
    )
    .flags(Flags::WRITES),
    call(
        "fill",
        &[arg("c", ArgKind::Int), arg("len", ArgKind::Int), PATH],
        Ret::Unit,
        "fill a file with octets",
        "Write LEN octets of C (0..255) into PATH, creating it. As in libguestfs, an \
         existing longer file is written over from its start, not truncated.",
        |g, a| void!(g.fill(a.int32(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "fill-pattern",
        &[
            arg("pattern", ArgKind::String),
            arg("len", ArgKind::Int),
            PATH,
        ],
        Ret::Unit,
        "fill a file with a repeating pattern of bytes",
        "Like fill, with the repeating PATTERN, cut so that exactly LEN bytes are written.",
        |g, a| void!(g.fill_pattern(a.str(0), a.int32(1), a.str(2))),
    )
    .flags(Flags::WRITES),
    call(
        "fill-dir",
        &[arg("dir", ArgKind::Path), arg("nr", ArgKind::Int)],
        Ret::Unit,
        "fill a directory with empty files",
        "Create NR empty files in DIR named 00000000 to NR-1, eight digits each.",
        |g, a| void!(g.fill_dir(a.str(0), a.int32(1))),
    )
    .flags(Flags::WRITES),
    call(
        "pread",
        &[PATH, COUNT, OFFSET],
        Ret::Buffer,
        "read part of a file",
        "Read up to COUNT bytes of a regular file from OFFSET, written out as they are; \
         like pread(2) it may read fewer (none at the end). COUNT must be below 4 MiB, \
         libguestfs's message limit: use download-offset for more.",
        |g, a| Ok(Value::Bytes(g.pread(a.str(0), a.int32(1), a.int(2))?)),
    ),
    call(
        "pwrite",
        &[PATH, CONTENT, OFFSET],
        Ret::Int,
        "write to part of a file",
        "Write CONTENT into an existing regular file at OFFSET; prints the number of bytes \
         written, as pwrite(2).",
        |g, a| {
            Ok(Value::Int(
                g.pwrite(a.str(0), a.str(1).as_bytes(), a.int(2))?.into(),
            ))
        },
    )
    .flags(Flags::WRITES),
    call(
        "pread-device",
        &[DEVICE, COUNT, OFFSET],
        Ret::Buffer,
        "read part of a device",
        "Read up to COUNT bytes of a device from OFFSET (COUNT below 4 MiB).",
        |g, a| {
            Ok(Value::Bytes(g.pread_device(
                a.str(0),
                a.int32(1),
                a.int(2),
            )?))
        },
    ),
    call(
        "pwrite-device",
        &[DEVICE, CONTENT, OFFSET],
        Ret::Int,
        "write to part of a device",
        "Write CONTENT to a device at OFFSET; prints the number of bytes written. Refused \
         on a read-only drive.",
        |g, a| {
            Ok(Value::Int(
                g.pwrite_device(a.str(0), a.str(1).as_bytes(), a.int(2))?
                    .into(),
            ))
        },
    )
    .flags(Flags::WRITES),
    call(
        "download-offset",
        &[
            arg("remotefilename", ArgKind::String),
            arg("filename", ArgKind::FileOut),
            arg("offset", ArgKind::Int64),
            arg("size", ArgKind::Int64),
        ],
        Ret::Unit,
        "download a file to the local machine with offset and size",
        "Copy SIZE bytes from OFFSET of a guest file or device (/dev/...) to a host file; \
         the range must lie within the file or device. Unlike pread there is no size \
         limit.",
        |g, a| void!(g.download_offset(a.str(0), a.str(1), a.int(2), a.int(3))),
    )
    .flags(Flags::HOST_FILES),
    call(
        "upload-offset",
        &[
            arg("filename", ArgKind::FileIn),
            arg("remotefilename", ArgKind::String),
            arg("offset", ArgKind::Int64),
        ],
        Ret::Unit,
        "upload a file from the local machine with offset",
        "Write a host file into a guest file or device (/dev/...) from OFFSET on: an \
         existing file is overwritten in place, not truncated; a missing one is created \
         with a hole before OFFSET. A device of a read-only drive is refused.",
        |g, a| void!(g.upload_offset(a.str(0), a.str(1), a.int(2))),
    )
    .flags(Flags::WRITES.union(Flags::HOST_FILES)),
    call(
        "base64-in",
        &[
            arg("base64file", ArgKind::FileIn),
            arg("filename", ArgKind::Path),
        ],
        Ret::Unit,
        "upload base64-encoded data to file",
        "Decode a host file of base64 text into a guest file (created or truncated). \
         Characters outside the alphabet are ignored, as base64 -d -i; input that does not \
         decode is refused before the guest file is touched.",
        |g, a| void!(g.base64_in(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES.union(Flags::HOST_FILES)),
    call(
        "base64-out",
        &[
            arg("filename", ArgKind::Path),
            arg("base64file", ArgKind::FileOut),
        ],
        Ret::Unit,
        "download file and encode as base64",
        "Encode a guest file as base64 into a host file, 76 characters a line, as base64.",
        |g, a| void!(g.base64_out(a.str(0), a.str(1))),
    )
    .flags(Flags::HOST_FILES),
    call(
        "checksums-out",
        &[
            arg("csumtype", ArgKind::String),
            DIRECTORY,
            arg("sumsfile", ArgKind::FileOut),
        ],
        Ret::Unit,
        "compute MD5, SHAx or CRC checksum of files in a directory",
        "Checksum every regular file below DIRECTORY (symbolic links not followed) into a \
         host file, one line each as coreutils prints them: HASH  ./path for md5, sha1, \
         sha224, sha256, sha384 and sha512 (a name with a backslash or newline escaped, \
         the line starting with a backslash), CRC SIZE ./path for crc (cksum).",
        |g, a| void!(g.checksums_out(a.str(0), a.str(1), a.str(2))),
    )
    .flags(Flags::HOST_FILES),
    call(
        "checksum-device",
        &[arg("csumtype", ArgKind::String), DEVICE],
        Ret::String,
        "compute MD5, SHAx or CRC checksum of the contents of a device",
        "The checksum of a whole device; the types are checksum's.",
        |g, a| Ok(Value::Str(g.checksum_device(a.str(0), a.str(1))?)),
    ),
    call(
        "find0",
        &[DIRECTORY, arg("files", ArgKind::FileOut)],
        Ret::Unit,
        "find all files and directories, returning NUL-separated list",
        "Every path below DIRECTORY, each ended by a NUL byte, into a host file: named as \
         find names them, but unsorted (in the filesystem's order).",
        |g, a| void!(g.find0(a.str(0), a.str(1))),
    )
    .flags(Flags::HOST_FILES),
    call(
        "readdir",
        &[arg("dir", ArgKind::Path)],
        Ret::StructList,
        "read directories entries",
        "Every entry of a directory, . and .. included, unsorted, with its inode number and \
         type: b block device, c char device, d directory, f FIFO, l symbolic link, r \
         regular file, s socket, u unknown.",
        |g, a| Ok(structs(&g.readdir(a.str(0))?)),
    ),
    call(
        "mkdtemp",
        &[TMPL],
        Ret::String,
        "create a temporary directory",
        "Create a directory (mode 0700) named by TMPL with its final XXXXXX replaced by \
         random characters, and print its name.",
        |g, a| Ok(Value::Str(g.mkdtemp(a.str(0))?)),
    )
    .flags(Flags::WRITES),
    call(
        "mktemp",
        &[TMPL],
        Ret::String,
        "create a temporary file",
        "Create an empty file (mode 0600) named by TMPL with its final XXXXXX replaced by \
         random characters and suffix:.. appended, and print its name.",
        |g, a| Ok(Value::Str(g.mktemp(a.str(0), a.opt_string("suffix"))?)),
    )
    .flags(Flags::WRITES)
    .opts(&[arg("suffix", ArgKind::String)]),
    call(
        "glob-expand",
        &[arg("pattern", ArgKind::Path)],
        Ret::StringList,
        "expand a wildcard path",
        "The paths matching a shell wildcard pattern, as glob(3) with GLOB_BRACE and \
         GLOB_MARK: directories get a trailing slash unless directoryslash:false. No match \
         is an empty list, not an error.",
        |g, a| {
            Ok(Value::List(
                g.glob_expand(a.str(0), a.opt_bool("directoryslash"))?,
            ))
        },
    )
    .alias(&["glob-expand-opts"])
    .opts(&[arg("directoryslash", ArgKind::Bool)]),
    call(
        "compress-out",
        &[
            arg("ctype", ArgKind::String),
            arg("file", ArgKind::Path),
            arg("zfile", ArgKind::FileOut),
        ],
        Ret::Unit,
        "output compressed file",
        "Compress a guest file into a host file with CTYPE: compress, gzip, bzip2, xz or \
         lzop, each the external program of that name (a program that is not installed \
         gives an error saying the type is not supported); level:N as the program takes it \
         (gzip, bzip2, lzop 1..9, xz 0..9, none for compress). The input goes through the \
         program in 16 MiB pieces whose streams are concatenated, which the programs' \
         decompressors read as one; compress cannot be concatenated and takes at most one \
         piece.",
        |g, a| {
            void!(g.compress_out(
                a.str(0),
                a.str(1),
                a.str(2),
                a.opt_int("level").map(|l| l as i32)
            ))
        },
    )
    .flags(Flags::HOST_FILES)
    .opts(&[arg("level", ArgKind::Int)]),
    call(
        "compress-device-out",
        &[
            arg("ctype", ArgKind::String),
            DEVICE,
            arg("zdevice", ArgKind::FileOut),
        ],
        Ret::Unit,
        "output compressed device",
        "Compress a whole device into a host file; CTYPE and level:N as compress-out.",
        |g, a| {
            void!(g.compress_device_out(
                a.str(0),
                a.str(1),
                a.str(2),
                a.opt_int("level").map(|l| l as i32)
            ))
        },
    )
    .flags(Flags::HOST_FILES)
    .opts(&[arg("level", ArgKind::Int)]),
    call(
        "cpio-out",
        &[
            arg("directory", ArgKind::Path),
            arg("cpiofile", ArgKind::FileOut),
        ],
        Ret::Unit,
        "pack directory into cpio file",
        "Pack DIRECTORY into a host cpio archive, format:newc (the default, the initramfs \
         format) or format:crc, entries named ., ./etc, ... as find | cpio -o names them. \
         Symbolic links are stored as links, FIFOs and device nodes as headers (never \
         opened); files of 4 GiB or more do not fit the format and are refused.",
        |g, a| void!(g.cpio_out(a.str(0), a.str(1), a.opt_string("format"))),
    )
    .flags(Flags::HOST_FILES)
    .opts(&[arg("format", ArgKind::String)]),
    call(
        "getxattr",
        &[PATH, NAME],
        Ret::Buffer,
        "get a single extended attribute",
        "The value of the extended attribute NAME of PATH, following symbolic links; a \
         missing attribute is an error.",
        |g, a| Ok(Value::Bytes(g.getxattr(a.str(0), a.str(1))?)),
    ),
    call(
        "lgetxattr",
        &[PATH, NAME],
        Ret::Buffer,
        "get a single extended attribute",
        "Like getxattr, of a symbolic link itself.",
        |g, a| Ok(Value::Bytes(g.lgetxattr(a.str(0), a.str(1))?)),
    ),
    call(
        "getxattrs",
        &[PATH],
        Ret::StructList,
        "list extended attributes of a file or directory",
        "Every extended attribute of PATH, following symbolic links, sorted by name.",
        |g, a| Ok(xattrs(g.getxattrs(a.str(0))?)),
    ),
    call(
        "lgetxattrs",
        &[PATH],
        Ret::StructList,
        "list extended attributes of a file or directory",
        "Like getxattrs, of a symbolic link itself.",
        |g, a| Ok(xattrs(g.lgetxattrs(a.str(0))?)),
    ),
    call(
        "setxattr",
        &[
            XATTR,
            arg("val", ArgKind::String),
            arg("vallen", ArgKind::Int),
            PATH,
        ],
        Ret::Unit,
        "set extended attribute of a file or directory",
        "Set the extended attribute XATTR of PATH (following symbolic links) to the first \
         VALLEN bytes of VAL.",
        |g, a| void!(g.setxattr(a.str(0), a.str(1).as_bytes(), a.int32(2), a.str(3))),
    )
    .flags(Flags::WRITES),
    call(
        "lsetxattr",
        &[
            XATTR,
            arg("val", ArgKind::String),
            arg("vallen", ArgKind::Int),
            PATH,
        ],
        Ret::Unit,
        "set extended attribute of a file or directory",
        "Like setxattr, on a symbolic link itself.",
        |g, a| void!(g.lsetxattr(a.str(0), a.str(1).as_bytes(), a.int32(2), a.str(3))),
    )
    .flags(Flags::WRITES),
    call(
        "removexattr",
        &[XATTR, PATH],
        Ret::Unit,
        "remove extended attribute of a file or directory",
        "Remove the extended attribute XATTR of PATH, following symbolic links.",
        |g, a| void!(g.removexattr(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "lremovexattr",
        &[XATTR, PATH],
        Ret::Unit,
        "remove extended attribute of a file or directory",
        "Like removexattr, on a symbolic link itself.",
        |g, a| void!(g.lremovexattr(a.str(0), a.str(1))),
    )
    .flags(Flags::WRITES),
    call(
        "lxattrlist",
        &[PATH, arg("names", ArgKind::List)],
        Ret::StructList,
        "lgetxattr on multiple files",
        "lgetxattrs of each of NAMES (file names in the directory PATH), flattened: for \
         each file an entry with an empty attrname whose attrval is the number of \
         attributes that follow (empty when the file could not be read), then those \
         attributes.",
        |g, a| Ok(xattrs(g.lxattrlist(a.str(0), &a.list(1))?)),
    ),
];
