//! # vmcraft
//!
//! The facade (work in progress): the `VMCraft` handle composing the crates below
//! it with libguestfs device names and semantics (drives, devices, caching, parallel
//! and fallback mounting, files, inspection), and the `vmcraft` command line.
//!
//! The building blocks are re-exported for callers who want them directly.

#![deny(missing_docs)]

pub use vmcraft_archive as archive;
pub use vmcraft_aug as aug;
pub use vmcraft_block as block;
pub use vmcraft_lvm as lvm;
pub use vmcraft_nbd as nbd;
pub use vmcraft_part as part;
