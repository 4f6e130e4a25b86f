//! The call table's entries for file information and search: sizes, types, listings, `stat` variants, the `grep` family, `head`/`tail`, counts, `strings`, `hexdump`, `du`, `df`, the `is-*` tests.

use super::prelude::*;
use crate::calls::fileinfo::GrepOptions;

const REGEX: Arg = arg("regex", ArgKind::String);
const PATTERN: Arg = arg("pattern", ArgKind::String);
const NRLINES: Arg = arg("nrlines", ArgKind::Int);
const NAMES: Arg = arg("names", ArgKind::List);
const FOLLOW: &[Arg] = &[arg("followsymlinks", ArgKind::Bool)];

/// guestfish's `statns` struct: every field, spares included, in libguestfs's
/// order.
fn statns_fields(s: &vmcraft_fs::root::StatNs) -> Fields {
    vec![
        ("st_dev", Field::Int(s.st_dev)),
        ("st_ino", Field::Int(s.st_ino)),
        ("st_mode", Field::Int(s.st_mode)),
        ("st_nlink", Field::Int(s.st_nlink)),
        ("st_uid", Field::Int(s.st_uid)),
        ("st_gid", Field::Int(s.st_gid)),
        ("st_rdev", Field::Int(s.st_rdev)),
        ("st_size", Field::Int(s.st_size)),
        ("st_blksize", Field::Int(s.st_blksize)),
        ("st_blocks", Field::Int(s.st_blocks)),
        ("st_atime_sec", Field::Int(s.st_atime_sec)),
        ("st_atime_nsec", Field::Int(s.st_atime_nsec)),
        ("st_mtime_sec", Field::Int(s.st_mtime_sec)),
        ("st_mtime_nsec", Field::Int(s.st_mtime_nsec)),
        ("st_ctime_sec", Field::Int(s.st_ctime_sec)),
        ("st_ctime_nsec", Field::Int(s.st_ctime_nsec)),
        ("st_spare1", Field::Int(s.st_spare1)),
        ("st_spare2", Field::Int(s.st_spare2)),
        ("st_spare3", Field::Int(s.st_spare3)),
        ("st_spare4", Field::Int(s.st_spare4)),
        ("st_spare5", Field::Int(s.st_spare5)),
        ("st_spare6", Field::Int(s.st_spare6)),
    ]
}

/// The `grep` variants: name, flags (extended, fixed, insensitive, compressed).
macro_rules! grep_variant {
    ($name:literal, $method:ident, $arg:expr, $summary:literal, $doc:literal) => {
        call(
            $name,
            &[$arg, PATH],
            Ret::StringList,
            $summary,
            $doc,
            |g, a| Ok(Value::List(g.$method(a.str(0), a.str(1))?)),
        )
    };
}

pub(crate) const CALLS: &[Call] = &[
    call(
        "filesize",
        &[arg("file", ArgKind::Path)],
        Ret::Int64,
        "return the size of the file in bytes",
        "The size of a file in bytes, following symlinks (inside the guest). For a \
         directory or special file it is what stat says.",
        |g, a| Ok(Value::Int(g.filesize(a.str(0))?)),
    ),
    call(
        "file",
        &[arg("path", ArgKind::String)],
        Ret::String,
        "determine file type",
        "What a file is. For anything but a regular file, its type: directory, \
         character device, block device, FIFO, symbolic link or socket (a symlink is \
         not followed). For a regular file, what file -zb says of its content \
         (compressed files are looked into), e.g. \"ELF 64-bit LSB executable, ...\" or \
         \"ASCII text\". A device name (/dev/sda1) describes the device's content.\n\n\
         file(1) reads the exact inode that was found inside the guest, never a host \
         path a guest symlink could redirect.",
        |g, a| Ok(Value::Str(g.file(a.str(0))?)),
    ),
    call(
        "file-architecture",
        &[arg("filename", ArgKind::Path)],
        Ret::String,
        "detect the architecture of a binary file",
        "The architecture of a binary, as libguestfs names it: i386, x86_64, aarch64, \
         arm, ppc, ppc64, ppc64le, riscv64, s390, s390x, sparc, sparc64, ia64, \
         loongarch64, ... For ELF executables, shared libraries and objects, Windows PE \
         executables and DLLs (PE32 is i386, PE32+ x86_64), compressed or not, and Linux \
         initrd images (cpio, compressed or not, whose bin/ls, bin/sh, ... is looked \
         at; nothing is extracted to disk). Anything else is an error.",
        |g, a| Ok(Value::Str(g.file_architecture(a.str(0))?)),
    ),
    call(
        "ll",
        &[DIRECTORY],
        Ret::String,
        "list the files in a directory (long format)",
        "The directory listed as ls -la lists it, in the C locale and UTC. For people \
         to read, not for programs to parse: use lstatnslist or find.",
        |g, a| Ok(Value::Str(g.ll(a.str(0))?)),
    ),
    call(
        "llz",
        &[DIRECTORY],
        Ret::String,
        "list the files in a directory (long format with SELinux contexts)",
        "As ll, with each file's SELinux context (ls -laZ; ? where a file has none).",
        |g, a| Ok(Value::Str(g.llz(a.str(0))?)),
    ),
    call(
        "statns",
        &[PATH],
        Ret::Struct,
        "get file information",
        "A file's status, following symlinks inside the guest, with nanosecond times \
         (the statns struct: st_dev, st_ino, st_mode, ..., st_ctime_nsec, and spare \
         fields).",
        |g, a| Ok(Value::Struct(statns_fields(&g.statns(a.str(0))?))),
    ),
    call(
        "lstatns",
        &[PATH],
        Ret::Struct,
        "get file information for a symbolic link",
        "As statns, but a final symlink is looked at itself, not followed.",
        |g, a| Ok(Value::Struct(statns_fields(&g.lstatns(a.str(0))?))),
    ),
    call(
        "lstatnslist",
        &[PATH, NAMES],
        Ret::StructList,
        "lstat on multiple files",
        "lstatns of each of NAMES in the directory PATH, one struct per name in the \
         same order. A name that cannot be looked at (it does not exist) gets a struct \
         whose st_ino is -1.",
        |g, a| {
            let list = g.lstatnslist(a.str(0), &a.list(1))?;
            Ok(Value::Structs(list.iter().map(statns_fields).collect()))
        },
    ),
    call(
        "lstatlist",
        &[PATH, NAMES],
        Ret::StructList,
        "lstat on multiple files",
        "As lstatnslist, with the older stat struct (whole-second times); ino is -1 \
         for a name that cannot be looked at.",
        |g, a| Ok(structs(&g.lstatlist(a.str(0), &a.list(1))?)),
    ),
    call(
        "realpath",
        &[PATH],
        Ret::String,
        "canonicalized absolute pathname",
        "The canonical absolute path: every symlink, ., .. and repeated / resolved, \
         inside the guest (an absolute symlink is taken from the guest's root, and .. \
         stops there). The path must exist.",
        |g, a| Ok(Value::Str(g.realpath(a.str(0))?)),
    ),
    call(
        "case-sensitive-path",
        &[PATH],
        Ret::String,
        "return true path on case-insensitive filesystem",
        "PATH with each element's case corrected to what the guest has, each element \
         looked up case-insensitively in its directory: useful for Windows guests on a \
         case-sensitive mount (/windows/system32 -> /Windows/System32). The last \
         element may be missing and is then returned as given; an earlier missing \
         element is an error. . and .. elements are refused; symlinks are not \
         resolved.",
        |g, a| Ok(Value::Str(g.case_sensitive_path(a.str(0))?)),
    ),
    call(
        "grep",
        &[REGEX, PATH],
        Ret::StringList,
        "return lines matching a pattern",
        "The lines of a file that match REGEX, as GNU grep matches them (a basic \
         regular expression). extended:true for an extended one (grep -E), fixed:true \
         for a fixed string (grep -F; not with extended), insensitive:true to ignore \
         case (grep -i), compressed:true to look into a compressed file (zgrep). No \
         match is an empty list.",
        |g, a| {
            let opts = GrepOptions {
                extended: a.opt_bool("extended").unwrap_or(false),
                fixed: a.opt_bool("fixed").unwrap_or(false),
                insensitive: a.opt_bool("insensitive").unwrap_or(false),
                compressed: a.opt_bool("compressed").unwrap_or(false),
            };
            Ok(Value::List(g.grep(a.str(0), a.str(1), &opts)?))
        },
    )
    .opts(&[
        arg("extended", ArgKind::Bool),
        arg("fixed", ArgKind::Bool),
        arg("insensitive", ArgKind::Bool),
        arg("compressed", ArgKind::Bool),
    ])
    .alias(&["grep-opts"]),
    grep_variant!(
        "egrep",
        egrep,
        REGEX,
        "return lines matching a pattern",
        "grep with an extended regular expression (grep -E)."
    ),
    grep_variant!(
        "fgrep",
        fgrep,
        PATTERN,
        "return lines matching a pattern",
        "grep for a fixed string (grep -F)."
    ),
    grep_variant!(
        "grepi",
        grepi,
        REGEX,
        "return lines matching a pattern",
        "grep ignoring case (grep -i)."
    ),
    grep_variant!(
        "egrepi",
        egrepi,
        REGEX,
        "return lines matching a pattern",
        "grep with an extended regular expression, ignoring case (grep -E -i)."
    ),
    grep_variant!(
        "fgrepi",
        fgrepi,
        PATTERN,
        "return lines matching a pattern",
        "grep for a fixed string, ignoring case (grep -F -i)."
    ),
    grep_variant!(
        "zgrep",
        zgrep,
        REGEX,
        "return lines matching a pattern",
        "grep in a file that may be compressed (zgrep)."
    ),
    grep_variant!(
        "zegrep",
        zegrep,
        REGEX,
        "return lines matching a pattern",
        "zgrep with an extended regular expression (zgrep -E)."
    ),
    grep_variant!(
        "zfgrep",
        zfgrep,
        PATTERN,
        "return lines matching a pattern",
        "zgrep for a fixed string (zgrep -F)."
    ),
    grep_variant!(
        "zgrepi",
        zgrepi,
        REGEX,
        "return lines matching a pattern",
        "zgrep ignoring case (zgrep -i)."
    ),
    grep_variant!(
        "zegrepi",
        zegrepi,
        REGEX,
        "return lines matching a pattern",
        "zgrep with an extended regular expression, ignoring case (zgrep -E -i)."
    ),
    grep_variant!(
        "zfgrepi",
        zfgrepi,
        PATTERN,
        "return lines matching a pattern",
        "zgrep for a fixed string, ignoring case (zgrep -F -i)."
    ),
    call(
        "head",
        &[PATH],
        Ret::StringList,
        "return first 10 lines of a file",
        "The first 10 lines of a file, without their newlines. The file is read as a \
         stream; a result over 4 MiB is an error (use download).",
        |g, a| Ok(Value::List(g.head(a.str(0))?)),
    ),
    call(
        "head-n",
        &[NRLINES, PATH],
        Ret::StringList,
        "return first N lines of a file",
        "The first NRLINES lines of a file. A negative NRLINES gives every line but the \
         last -NRLINES; zero gives none.",
        |g, a| Ok(Value::List(g.head_n(a.int32(0), a.str(1))?)),
    ),
    call(
        "tail",
        &[PATH],
        Ret::StringList,
        "return last 10 lines of a file",
        "The last 10 lines of a file, without their newlines.",
        |g, a| Ok(Value::List(g.tail(a.str(0))?)),
    ),
    call(
        "tail-n",
        &[NRLINES, PATH],
        Ret::StringList,
        "return last N lines of a file",
        "The last NRLINES lines of a file. A negative NRLINES gives the lines from line \
         number -NRLINES on (tail -n +N); zero gives none.",
        |g, a| Ok(Value::List(g.tail_n(a.int32(0), a.str(1))?)),
    ),
    call(
        "wc-l",
        &[PATH],
        Ret::Int,
        "count lines in a file",
        "The number of lines in a file (its newlines, as wc -l counts them).",
        |g, a| Ok(Value::Int(g.wc_l(a.str(0))?.into())),
    ),
    call(
        "wc-w",
        &[PATH],
        Ret::Int,
        "count words in a file",
        "The number of words in a file, as wc -w counts them in the C locale.",
        |g, a| Ok(Value::Int(g.wc_w(a.str(0))?.into())),
    ),
    call(
        "wc-c",
        &[PATH],
        Ret::Int,
        "count characters in a file",
        "The number of bytes in a file (wc -c).",
        |g, a| Ok(Value::Int(g.wc_c(a.str(0))?.into())),
    ),
    call(
        "strings",
        &[PATH],
        Ret::StringList,
        "print the printable strings in a file",
        "The runs of at least 4 printable characters in a file, one a line, as \
         strings -a finds them.",
        |g, a| Ok(Value::List(g.strings(a.str(0))?)),
    ),
    call(
        "strings-e",
        &[arg("encoding", ArgKind::String), PATH],
        Ret::StringList,
        "print the printable strings in a file",
        "As strings, with the character encoding of strings -e: s 7-bit bytes (the \
         default), S 8-bit bytes, b and l 16-bit big and little endian (l for the \
         UTF-16 strings of Windows binaries), B and L 32-bit big and little endian.",
        |g, a| Ok(Value::List(g.strings_e(a.str(0), a.str(1))?)),
    ),
    call(
        "hexdump",
        &[PATH],
        Ret::String,
        "dump a file in hexadecimal",
        "The content of a file as hexdump -C shows it (identical lines squeezed into \
         a * line).",
        |g, a| Ok(Value::Str(g.hexdump(a.str(0))?)),
    ),
    call(
        "du",
        &[PATH],
        Ret::Int64,
        "estimate file space usage",
        "The disk space a file or directory tree uses, in KiB (du -s).",
        |g, a| Ok(Value::Int(g.du(a.str(0))?)),
    ),
    call(
        "df",
        &[],
        Ret::String,
        "report file system disk space usage",
        "df of the mounted filesystems, with guest device names and mount points under \
         /sysroot as the libguestfs appliance shows them. For people to read: use \
         statvfs in programs.",
        |g, _| Ok(Value::Str(g.df()?)),
    ),
    call(
        "df-h",
        &[],
        Ret::String,
        "report file system disk space usage (human readable)",
        "As df, with sizes in human units (df -h).",
        |g, _| Ok(Value::Str(g.df_h()?)),
    ),
    call(
        "is-blockdev",
        &[PATH],
        Ret::Bool,
        "test if block device",
        "Whether PATH is a block device node; followsymlinks:true follows a final \
         symlink. A path that does not exist is false.",
        |g, a| {
            let f = a.opt_bool("followsymlinks").unwrap_or(false);
            Ok(Value::Bool(g.is_blockdev(a.str(0), f)?))
        },
    )
    .opts(FOLLOW),
    call(
        "is-chardev",
        &[PATH],
        Ret::Bool,
        "test if character device",
        "Whether PATH is a character device node; followsymlinks:true follows a final \
         symlink.",
        |g, a| {
            let f = a.opt_bool("followsymlinks").unwrap_or(false);
            Ok(Value::Bool(g.is_chardev(a.str(0), f)?))
        },
    )
    .opts(FOLLOW),
    call(
        "is-fifo",
        &[PATH],
        Ret::Bool,
        "test if FIFO (named pipe)",
        "Whether PATH is a FIFO; followsymlinks:true follows a final symlink.",
        |g, a| {
            let f = a.opt_bool("followsymlinks").unwrap_or(false);
            Ok(Value::Bool(g.is_fifo(a.str(0), f)?))
        },
    )
    .opts(FOLLOW),
    call(
        "is-socket",
        &[PATH],
        Ret::Bool,
        "test if socket",
        "Whether PATH is a Unix domain socket; followsymlinks:true follows a final \
         symlink.",
        |g, a| {
            let f = a.opt_bool("followsymlinks").unwrap_or(false);
            Ok(Value::Bool(g.is_socket(a.str(0), f)?))
        },
    )
    .opts(FOLLOW),
    call(
        "is-zero",
        &[PATH],
        Ret::Bool,
        "test if a file contains all zero bytes",
        "Whether a regular file holds only zero bytes (an empty file does). Holes of a \
         sparse file are not read.",
        |g, a| Ok(Value::Bool(g.is_zero(a.str(0))?)),
    ),
    call(
        "is-zero-device",
        &[DEVICE],
        Ret::Bool,
        "test if a device contains all zero bytes",
        "Whether a device holds only zero bytes. The whole device is read up to its \
         first non-zero byte.",
        |g, a| Ok(Value::Bool(g.is_zero_device(a.str(0))?)),
    ),
    call(
        "is-whole-device",
        &[DEVICE],
        Ret::Bool,
        "test if a device is a whole device",
        "Whether a device is a whole drive (/dev/sda), not a partition or a logical \
         volume.",
        |g, a| Ok(Value::Bool(g.is_whole_device(a.str(0))?)),
    ),
    call(
        "is-lv",
        &[MOUNTABLE],
        Ret::Bool,
        "test if mountable is a logical volume",
        "Whether a mountable is an LVM logical volume (/dev/VG/LV).",
        |g, a| Ok(Value::Bool(g.is_lv(a.str(0))?)),
    ),
];
