//! # vmcraft-part
//!
//! Partition tables in-process (work in progress): GPT and MBR (with extended and
//! logical partitions) through `gptman` and `mbrman` over any
//! `vmcraft_block::BlockDevice`, with the libguestfs `part_*` calls and semantics,
//! and `sync_kernel_partitions` to bring a block device's kernel partitions in
//! line with its table through BLKPG ioctls.

#![deny(missing_docs)]
