//! # vmcraft-fs
//!
//! Guest filesystems for VMCraft, behind one read-only trait, [`GuestTree`],
//! with two kinds of implementation:
//!
//! - **In-process readers**, memory-safe and rootless: an image file is opened
//!   as an ordinary file and parsed in this process, with no loop device, no
//!   qemu process, no kernel mount and no privilege. Block access: raw images
//!   ([`RawFile`]), qcow2 ([`Qcow2Image`], through `imago`, with no backing file
//!   and no external data file ever opened), partitions ([`Window`], the table
//!   read by vmcraft-part: [`partitions`]); the format detected from magic
//!   bytes ([`open_image`]; vmdk, vhdx, vdi and vpc are refused with an
//!   [`ErrorKind::Unsupported`] error naming the kernel path). Filesystems,
//!   detected from superblock magic ([`probe`], [`open_fs`]): ext2/3/4
//!   ([`Ext4Tree`], `ext4-view`), FAT12/16/32 ([`FatTree`], `fatfs`, long names
//!   and the NT lower-case bits of short names as Linux shows them) and NTFS
//!   ([`NtfsTree`], `ntfs`). Each maps its metadata to [`Stat`] as the Linux
//!   driver (ext4, vfat, ntfs-3g) shows it through a default mount; what
//!   `ext4-view` and `fatfs` keep private (ext4 inode numbers, link counts,
//!   blocks, change times, device numbers and extended attributes; FAT
//!   directory sizes and short-name case beyond ASCII) is read from the raw
//!   structures by small bounded parsers of this crate.
//! - **The kernel-mounted, confined root**: [`GuestRoot`] (module [`root`]),
//!   a guest filesystem mounted by the kernel whose every path is resolved by
//!   the kernel with `openat2(RESOLVE_IN_ROOT)`. Besides the read trait it
//!   has the libguestfs file calls that write (`write`, `mkdir_p`, `cp_a`,
//!   `rm_rf`, ...), which the facade and vmcraft-archive's tar extraction
//!   use. Both kinds answer the trait's calls alike, so callers (the facade's
//!   read-only calls, inspection) need not care which they have.
//!
//! Paths are guest paths resolved inside the tree with chroot semantics, once,
//! in the trait's default methods: `..` at the root stays at the root, a
//! symlink (absolute or relative) resolves inside the tree, at most
//! [`MAX_SYMLINKS`] (40) symlinks are followed (then [`ErrorKind::Loop`]). A
//! reader only answers for resolved paths, so none can be led out of its
//! image.
//!
//! ```
//! # fn main() -> vmcraft_fs::Result<()> {
//! use vmcraft_fs::{GuestTree, MemoryTree, ErrorKind};
//! // Any implementation: an image read in-process, a kernel mount, or memory.
//! fn hostname(tree: &dyn GuestTree) -> vmcraft_fs::Result<String> {
//!     let bytes = tree.read_file("/etc/hostname", 64 * 1024)?;
//!     Ok(String::from_utf8_lossy(&bytes).trim().to_string())
//! }
//! let mut tree = MemoryTree::new();
//! tree.add_dir("/etc", 0o755)?;
//! tree.add_file("/etc/hostname.real", 0o644, b"guest\n")?;
//! tree.add_symlink("/etc/hostname", "../../../etc/hostname.real")?;
//! assert_eq!(hostname(&tree)?, "guest");
//! assert_eq!(tree.read_file("/etc/hostname.real", 3).unwrap_err().kind(), ErrorKind::TooLarge);
//! # Ok(()) }
//! ```
//!
//! Reading a real image (`guest.qcow2` with a GPT and an ext4 root):
//!
//! ```no_run
//! # fn main() -> vmcraft_fs::Result<()> {
//! use vmcraft_fs::{open_image, list_filesystems, open_fs, GuestTree, Window};
//! let disk = open_image("guest.qcow2")?; // raw or qcow2, by magic
//! for found in list_filesystems(&*disk)? {
//!     let part = std::sync::Arc::new(Window::new(disk.clone(), found.offset, found.len)?);
//!     if let Ok(fs) = open_fs(part) {
//!         if fs.is_file("/etc/os-release")? {
//!             let text = fs.read_file("/etc/os-release", 1 << 20)?;
//!             println!("{}", String::from_utf8_lossy(&text));
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Hostile images
//!
//! An image is untrusted input. A corrupt superblock, a directory loop, a huge
//! extent tree, an absurd file size or a symlink chain is an error, never a
//! hang, a panic or unbounded memory:
//!
//! - every call into a third-party reader runs under `catch_unwind`: a panic
//!   in `ext4-view`, `fatfs` or `ntfs` becomes an [`ErrorKind::Corrupt`] error
//!   and the reader answers every later call with one (the process's panic
//!   hook still prints the panic; this crate does not replace it);
//! - content is read into buffers the caller sizes: [`GuestTree::read_file`]
//!   refuses a file larger than the caller's limit before allocating, and
//!   [`GuestTree::read_range`] allocates at most the count asked for;
//! - the FAT and NTFS readers run each call on a read budget (a cluster chain
//!   or index that loops runs out of it), and directory listings are capped;
//!   an ext4 block count past the end of the disk is refused before
//!   `ext4-view` sees it; qcow2 headers are checked by `imago` (cluster size,
//!   L1 size, header extensions inside the first cluster);
//! - [`walk`] bounds depth and entry count, for callers that visit a whole
//!   tree (a directory that contains its parent is then an error).
//!
//! Errors are one [`Error`] with a matchable [`ErrorKind`]; messages read
//! `call: path: what`, lower-case, in libguestfs style.

#![deny(missing_docs)]

mod block;
mod error;
mod ext4;
mod ext4raw;
mod fat;
mod fatraw;
mod guard;
mod guest_root;
mod memory;
mod ntfs;
mod probe;
pub mod root;
mod stat;
mod tree;

pub use block::{
    ImageFormat, Partition, Qcow2Image, RawFile, ReadAt, Window, detect_format, open_image,
    partitions,
};
pub use error::{Error, ErrorKind, Result};
pub use ext4::Ext4Tree;
pub use fat::FatTree;
pub use memory::MemoryTree;
pub use ntfs::NtfsTree;
pub use probe::{BoxedTree, FoundFs, FsType, list_filesystems, open_fs, probe};
pub use root::GuestRoot;
pub use stat::{DirEntry, FileType, Stat, Timespec, Xattr};
pub use tree::{GuestTree, MAX_SYMLINKS, PATH_MAX, WalkLimits, walk};

/// The most entries one FAT directory may hold.
pub use fat::MAX_DIR_ENTRIES as FAT_MAX_DIR_ENTRIES;
/// The most entries listed from one NTFS directory.
pub use ntfs::MAX_DIR_ENTRIES as NTFS_MAX_DIR_ENTRIES;
